//! Sign-in throttling: a sans-IO limiter of failed attempts per key (a
//! username or a client address). It takes `now` as an argument and owns no
//! clock, so tests drive it with made-up instants.
//!
//! A key that collects [`Policy::max_failures`] failures within
//! [`Policy::window`] is locked for [`Policy::lockout`]; a success clears
//! its failures.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Keys remembered at most; beyond this, entries with nothing recent are
/// dropped (so a flood of made-up usernames cannot grow memory forever).
const MAX_KEYS: usize = 10_000;

/// The limits of one limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Failures allowed within `window` before the key is locked.
    pub max_failures: usize,
    /// How far back failures count.
    pub window: Duration,
    /// How long a lock lasts.
    pub lockout: Duration,
}

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

/// Failed attempts per key.
#[derive(Debug)]
pub struct Limiter {
    policy: Policy,
    entries: HashMap<String, Entry>,
}

impl Limiter {
    /// An empty limiter.
    pub fn new(policy: Policy) -> Limiter {
        Limiter {
            policy,
            entries: HashMap::new(),
        }
    }

    /// `Err(wait)` while `key` is locked at `now`: how long until it may try again.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        match self.entries.get(key).and_then(|e| e.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failure of `key` at `now`; returns `Err(wait)` if the key
    /// is locked as a result.
    pub fn failure(&mut self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.entries.len() >= MAX_KEYS && !self.entries.contains_key(key) {
            self.prune(now);
        }
        let policy = self.policy;
        let entry = self.entries.entry(key.to_string()).or_default();
        if entry.locked_until.is_some_and(|u| u <= now) {
            entry.locked_until = None;
            entry.failures.clear();
        }
        entry.failures.push_back(now);
        while entry
            .failures
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= policy.window)
        {
            entry.failures.pop_front();
        }
        if entry.failures.len() >= policy.max_failures {
            let until = now + policy.lockout;
            entry.locked_until = Some(until);
            return Err(policy.lockout);
        }
        Ok(())
    }

    /// Forgets the failures of `key` (after a successful sign-in).
    pub fn success(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Drops entries with no lock and no failure inside the window.
    fn prune(&mut self, now: Instant) {
        let policy = self.policy;
        self.entries.retain(|_, e| {
            e.locked_until.is_some_and(|u| u > now)
                || e.failures
                    .back()
                    .is_some_and(|&t| now.saturating_duration_since(t) < policy.window)
        });
    }

    /// Keys currently remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The two limiters of the sign-in form: per username and per client address.
#[derive(Debug)]
pub struct LoginThrottle {
    /// Failures per (lower-cased) username.
    pub users: Limiter,
    /// Failures per client IP address.
    pub ips: Limiter,
}

impl LoginThrottle {
    /// 5 failures in 15 minutes lock a username for 15 minutes; an address
    /// (which many users may share behind NAT) gets 20.
    pub fn new() -> LoginThrottle {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        LoginThrottle {
            users: Limiter::new(Policy {
                max_failures: 5,
                window: minutes(15),
                lockout: minutes(15),
            }),
            ips: Limiter::new(Policy {
                max_failures: 20,
                window: minutes(15),
                lockout: minutes(15),
            }),
        }
    }

    /// `Err(wait)` if either the username or the address is locked.
    pub fn check(&self, user: &str, ip: &str, now: Instant) -> Result<(), Duration> {
        let a = self.users.check(&user.to_lowercase(), now);
        let b = self.ips.check(ip, now);
        match (a, b) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(x), Err(y)) => Err(x.max(y)),
            (Err(x), _) | (_, Err(x)) => Err(x),
        }
    }

    /// Records a failed sign-in; `Err(wait)` if that locked the username or address.
    pub fn failure(&mut self, user: &str, ip: &str, now: Instant) -> Result<(), Duration> {
        let a = self.users.failure(&user.to_lowercase(), now);
        let b = self.ips.failure(ip, now);
        a.and(b)
    }

    /// Records a successful sign-in: the username's failures are forgotten
    /// (the address keeps its count, so one good account does not reset
    /// guessing at others).
    pub fn success(&mut self, user: &str) {
        self.users.success(&user.to_lowercase());
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn limiter() -> Limiter {
        Limiter::new(Policy {
            max_failures: 5,
            window: 15 * MIN,
            lockout: 15 * MIN,
        })
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        let mut l = limiter();
        let t0 = Instant::now();
        for i in 0..4 {
            assert_eq!(l.failure("bob", t0 + i * MIN), Ok(()));
            assert_eq!(l.check("bob", t0 + i * MIN), Ok(()));
        }
        assert_eq!(l.failure("bob", t0 + 4 * MIN), Err(15 * MIN));
        assert_eq!(l.check("bob", t0 + 4 * MIN), Err(15 * MIN));
        assert_eq!(l.check("bob", t0 + 10 * MIN), Err(9 * MIN));
        // Other keys are unaffected.
        assert_eq!(l.check("alice", t0 + 10 * MIN), Ok(()));
        // The lock ends; the count starts again from zero.
        assert_eq!(l.check("bob", t0 + 19 * MIN), Ok(()));
        assert_eq!(l.failure("bob", t0 + 19 * MIN), Ok(()));
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let mut l = limiter();
        let t0 = Instant::now();
        for i in 0..10 {
            // One failure every 4 minutes: never 5 within 15 minutes.
            assert_eq!(l.failure("slow", t0 + i * 4 * MIN), Ok(()), "failure {i}");
        }
    }

    #[test]
    fn success_clears_failures() {
        let mut l = limiter();
        let t0 = Instant::now();
        for i in 0..4 {
            l.failure("carol", t0 + i * MIN).unwrap();
        }
        l.success("carol");
        assert_eq!(l.failure("carol", t0 + 5 * MIN), Ok(()));
        assert!(l.failure("carol", t0 + 5 * MIN).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let mut l = limiter();
        let t0 = Instant::now();
        for i in 0..(MAX_KEYS + 10) {
            let _ = l.failure(&format!("user{i}"), t0);
        }
        // An hour later, a new key prunes everything stale.
        let _ = l.failure("late", t0 + 60 * MIN);
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn login_throttle_checks_user_and_address() {
        let mut t = LoginThrottle::new();
        let t0 = Instant::now();
        for _ in 0..4 {
            t.failure("Dave", "10.0.0.1", t0).unwrap();
        }
        // Usernames are compared without case.
        assert_eq!(t.failure("dave", "10.0.0.2", t0), Err(15 * MIN));
        assert!(t.check("DAVE", "10.0.0.3", t0).is_err());
        assert!(t.check("erin", "10.0.0.1", t0).is_ok());
        // 20 failures from one address lock it for every username.
        for i in 0..20 {
            let _ = t.failure(&format!("u{i}"), "10.0.0.9", t0);
        }
        assert!(t.check("someone-else", "10.0.0.9", t0).is_err());
        assert!(t.check("someone-else", "10.0.0.8", t0).is_ok());
    }
}
