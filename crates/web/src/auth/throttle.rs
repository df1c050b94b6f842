//! Sign-in throttling: a sans-IO limiter of failed attempts per key (a
//! username or a client address). It takes `now` as an argument and owns no
//! clock, so tests drive it with made-up instants.
//!
//! A key that collects [`Policy::max_failures`] failures within
//! [`Policy::window`] is locked for [`Policy::lockout`]; a success clears
//! its failures. [`LoginThrottle`] combines three limiters so that
//! nobody can lock another person out (see there).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
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

    /// Failures of `key` inside the window at `now` (0 once a lock has
    /// ended: the count starts again).
    pub fn recent_failures(&self, key: &str, now: Instant) -> usize {
        let Some(e) = self.entries.get(key) else {
            return 0;
        };
        if e.locked_until.is_some_and(|u| u <= now) {
            return 0;
        }
        e.failures
            .iter()
            .filter(|&&t| now.saturating_duration_since(t) < self.policy.window)
            .count()
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

/// The key of a client address: the address itself, or for IPv6 its /64
/// (one subscriber usually holds a whole /64, so counting single IPv6
/// addresses would give an attacker 2^64 fresh starts). Unparseable text
/// (`unknown` in router tests) is its own key.
pub fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_string(),
    }
}

/// The limiters of the sign-in form.
///
/// Failures count per (address, username) and per address; a lock of one
/// never stops the same user signing in from an address with no recent
/// failures, so a stranger cannot lock the admin out by guessing wrong.
/// Failures also count per username across all addresses (a guess spread
/// over many addresses); when that count is reached, only addresses that
/// themselves failed recently are held off.
#[derive(Debug)]
pub struct LoginThrottle {
    /// Failures per (address key, lower-cased username).
    pub pairs: Limiter,
    /// Failures per address key, whatever the username.
    pub ips: Limiter,
    /// Failures per lower-cased username, from every address.
    pub users: Limiter,
}

impl LoginThrottle {
    /// 5 failures in 15 minutes lock an (address, username) pair for 15
    /// minutes; an address (which many users may share behind NAT) is
    /// locked after 20; a username that failed 100 times from anywhere is
    /// held off from addresses that failed in the last 15 minutes.
    pub fn new() -> LoginThrottle {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        let policy = |max_failures| Policy {
            max_failures,
            window: minutes(15),
            lockout: minutes(15),
        };
        LoginThrottle {
            pairs: Limiter::new(policy(5)),
            ips: Limiter::new(policy(20)),
            users: Limiter::new(policy(100)),
        }
    }

    fn pair_key(user: &str, ip: &str) -> String {
        format!("{}\n{}", address_key(ip), user.to_lowercase())
    }

    /// `Err(wait)` if the (address, username) pair or the address is
    /// locked, or the username is under a spread attack and this address
    /// failed recently.
    pub fn check(&self, user: &str, ip: &str, now: Instant) -> Result<(), Duration> {
        let addr = address_key(ip);
        let mut wait = Duration::ZERO;
        for r in [
            self.pairs.check(&Self::pair_key(user, ip), now),
            self.ips.check(&addr, now),
        ] {
            if let Err(w) = r {
                wait = wait.max(w);
            }
        }
        if let Err(w) = self.users.check(&user.to_lowercase(), now) {
            if self.ips.recent_failures(&addr, now) > 0 {
                wait = wait.max(w);
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    /// Records a failed sign-in; `Err(wait)` if that locked this address
    /// out (for this username or for all).
    pub fn failure(&mut self, user: &str, ip: &str, now: Instant) -> Result<(), Duration> {
        let a = self.pairs.failure(&Self::pair_key(user, ip), now);
        let b = self.ips.failure(&address_key(ip), now);
        let c = self.users.failure(&user.to_lowercase(), now);
        let mut wait = Duration::ZERO;
        for w in [a, b, c].into_iter().filter_map(Result::err) {
            wait = wait.max(w);
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    /// Records a successful sign-in: the pair's failures are forgotten.
    /// The address keeps its count (one good account does not reset
    /// guessing at others), and so does the username (a success from one
    /// address does not end a spread attack from others).
    pub fn success(&mut self, user: &str, ip: &str) {
        self.pairs.success(&Self::pair_key(user, ip));
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
    fn wrong_passwords_from_one_address_do_not_lock_the_user_elsewhere() {
        let mut t = LoginThrottle::new();
        let t0 = Instant::now();
        for _ in 0..4 {
            t.failure("Admin", "10.0.0.9", t0).unwrap();
        }
        // Usernames are compared without case.
        assert_eq!(t.failure("admin", "10.0.0.9", t0), Err(15 * MIN));
        assert_eq!(t.check("ADMIN", "10.0.0.9", t0), Err(15 * MIN));
        // The admin from another address is not blocked...
        assert_eq!(t.check("admin", "10.0.0.1", t0), Ok(()));
        // ...and the attacker's address may still try other usernames
        // until its own limit.
        assert_eq!(t.check("erin", "10.0.0.9", t0), Ok(()));
        // The pair's lock ends after 15 minutes.
        assert_eq!(t.check("admin", "10.0.0.9", t0 + 15 * MIN), Ok(()));
    }

    #[test]
    fn an_address_guessing_many_usernames_is_locked_for_all() {
        let mut t = LoginThrottle::new();
        let t0 = Instant::now();
        for i in 0..19 {
            assert_eq!(t.failure(&format!("u{i}"), "10.0.0.9", t0), Ok(()));
        }
        assert_eq!(t.failure("u19", "10.0.0.9", t0), Err(15 * MIN));
        assert!(t.check("someone-else", "10.0.0.9", t0).is_err());
        assert!(t.check("someone-else", "10.0.0.8", t0).is_ok());
    }

    #[test]
    fn a_success_clears_only_its_own_pair() {
        let mut t = LoginThrottle::new();
        let t0 = Instant::now();
        for _ in 0..4 {
            t.failure("carol", "10.0.0.1", t0).unwrap();
        }
        t.success("carol", "10.0.0.1");
        for _ in 0..4 {
            assert_eq!(t.failure("carol", "10.0.0.1", t0), Ok(()));
        }
        // The address still remembers all eight failures.
        assert_eq!(t.ips.recent_failures("10.0.0.1", t0), 8);
    }

    #[test]
    fn a_spread_guess_holds_off_failing_addresses_only() {
        let mut t = LoginThrottle::new();
        let t0 = Instant::now();
        // 100 addresses, one wrong password each.
        for i in 0..100 {
            let _ = t.failure("admin", &format!("10.1.0.{i}"), t0);
        }
        assert!(t.check("admin", "10.1.0.7", t0).is_err());
        // An address with no failures signs in as usual.
        assert_eq!(t.check("admin", "192.0.2.1", t0), Ok(()));
        // Other usernames from the failing addresses are not affected.
        assert_eq!(t.check("bob", "10.1.0.7", t0), Ok(()));
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(address_key("192.0.2.7"), "192.0.2.7");
        assert_eq!(address_key("unknown"), "unknown");
        let mut t = LoginThrottle::new();
        let t0 = Instant::now();
        for i in 0..5 {
            let _ = t.failure("admin", &format!("2001:db8:1:2::{i}"), t0);
        }
        assert!(t.check("admin", "2001:db8:1:2::ffff", t0).is_err());
        assert!(t.check("admin", "2001:db8:1:3::1", t0).is_ok());
    }
}
