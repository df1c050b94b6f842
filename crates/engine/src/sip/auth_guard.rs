//! Ignores addresses that keep failing digest auth (password guessing), sans-IO:
//! time is an argument.
//!
//! Failures are counted per (source address, username), per address over all
//! usernames, and per username over all addresses, within a window of the ban
//! length. An address is banned when it fails `limit` times for one username,
//! `3 × limit` times over several (an enumeration), or at all for a username
//! under attack from many addresses (more than `3 × limit` failures at once).
//! A success clears only the count of that (address, username): signing in to
//! one's own account does not buy more guesses at another's.
//!
//! Only failures from a source that proved it receives our answers count
//! towards a ban (a TCP connection, or UDP credentials carrying a nonce we
//! issued to that address): otherwise a forged UDP source address would get
//! its real owner banned.
//!
//! Every map is bounded: past [`MAX_ENTRIES`], expired entries are swept, and
//! if none are, failures of new keys are not recorded (bans stay in force).

use dashmap::DashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most entries kept per map.
pub const MAX_ENTRIES: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Count {
    failures: u32,
    /// When the counting window started; older failures are forgotten.
    since: Instant,
}

/// What a failure led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Counted (or, from an unproven source, only logged).
    Counted,
    /// This failure started a ban of the source address.
    Banned,
}

/// Counts auth failures and bans password-guessing addresses.
#[derive(Debug)]
pub struct AuthGuard {
    limit: u32,
    ban: Duration,
    pairs: DashMap<(IpAddr, String), Count>,
    sources: DashMap<IpAddr, Count>,
    users: DashMap<String, Count>,
    banned: DashMap<IpAddr, Instant>,
}

impl AuthGuard {
    /// `limit` failures for one username ban the address for `ban`.
    pub fn new(limit: u32, ban: Duration) -> Self {
        AuthGuard {
            limit: limit.max(1),
            ban,
            pairs: DashMap::new(),
            sources: DashMap::new(),
            users: DashMap::new(),
            banned: DashMap::new(),
        }
    }

    /// Should requests from `ip` be ignored right now?
    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        // Read-only on the hot path: the map is empty unless someone is banned.
        if self.banned.is_empty() {
            return false;
        }
        match self.banned.get(&ip).map(|u| *u) {
            Some(until) if until > now => true,
            Some(_) => {
                self.banned.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Record a failure of `user` from `ip`. `proven`: the source showed it
    /// receives our answers (see the module docs); unproven failures never ban.
    pub fn failure(&self, ip: IpAddr, user: &str, proven: bool, now: Instant) -> FailureOutcome {
        if !proven {
            return FailureOutcome::Counted;
        }
        let pair = bump(&self.pairs, (ip, user.to_string()), now, self.ban);
        let source = bump(&self.sources, ip, now, self.ban);
        let user_total = bump(&self.users, user.to_string(), now, self.ban);
        let wide = self.limit.saturating_mul(3);
        let ban = pair >= self.limit || source >= wide || user_total > wide;
        if ban && !self.is_banned(ip, now) {
            if self.banned.len() >= MAX_ENTRIES {
                self.banned.retain(|_, until| *until > now);
            }
            self.banned.insert(ip, now + self.ban);
            self.pairs.remove(&(ip, user.to_string()));
            self.sources.remove(&ip);
            return FailureOutcome::Banned;
        }
        FailureOutcome::Counted
    }

    /// `user` authenticated from `ip`: clears that pair's count only.
    pub fn success(&self, ip: IpAddr, user: &str) {
        // Only touch the map when there is something to clear: the hot path stays read-only.
        if !self.pairs.is_empty() {
            self.pairs.remove(&(ip, user.to_string()));
        }
    }

    /// Addresses currently banned.
    pub fn banned_count(&self, now: Instant) -> usize {
        self.banned.iter().filter(|e| *e.value() > now).count()
    }
}

/// Count one failure under `key`, starting a new window when the last one is
/// over; returns the count in the current window.
fn bump<K>(map: &DashMap<K, Count>, key: K, now: Instant, window: Duration) -> u32
where
    K: std::hash::Hash + Eq + Clone,
{
    if !map.contains_key(&key) && map.len() >= MAX_ENTRIES {
        map.retain(|_, c| now.saturating_duration_since(c.since) < window);
        if map.len() >= MAX_ENTRIES {
            return 0;
        }
    }
    let mut c = map.entry(key).or_insert(Count {
        failures: 0,
        since: now,
    });
    if now.saturating_duration_since(c.since) >= window {
        *c = Count {
            failures: 0,
            since: now,
        };
    }
    c.failures += 1;
    c.failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn auth_guard_bans_after_limit_for_one_user_and_expires() {
        let g = AuthGuard::new(3, Duration::from_secs(60));
        let a = ip("10.0.0.1");
        let t0 = Instant::now();
        assert_eq!(g.failure(a, "1001", true, t0), FailureOutcome::Counted);
        assert_eq!(g.failure(a, "1001", true, t0), FailureOutcome::Counted);
        assert!(!g.is_banned(a, t0));
        assert_eq!(g.failure(a, "1001", true, t0), FailureOutcome::Banned);
        assert!(g.is_banned(a, t0 + Duration::from_secs(59)));
        assert!(!g.is_banned(a, t0 + Duration::from_secs(61)));
        assert_eq!(
            g.failure(a, "1001", true, t0 + Duration::from_secs(62)),
            FailureOutcome::Counted
        );
    }

    #[test]
    fn auth_guard_success_for_another_account_does_not_reset_the_count() {
        let g = AuthGuard::new(3, Duration::from_secs(60));
        let a = ip("10.0.0.2");
        let t0 = Instant::now();
        g.failure(a, "1001", true, t0);
        g.failure(a, "1001", true, t0);
        // The attacker signs in with an account of its own...
        g.success(a, "1002");
        // ...and the third guess at 1001 still bans it.
        assert_eq!(g.failure(a, "1001", true, t0), FailureOutcome::Banned);
    }

    #[test]
    fn auth_guard_success_clears_the_own_pair() {
        let g = AuthGuard::new(3, Duration::from_secs(60));
        let a = ip("10.0.0.3");
        let t0 = Instant::now();
        g.failure(a, "1001", true, t0);
        g.failure(a, "1001", true, t0);
        g.success(a, "1001");
        assert_eq!(g.failure(a, "1001", true, t0), FailureOutcome::Counted);
        assert!(!g.is_banned(a, t0));
    }

    #[test]
    fn auth_guard_unproven_failures_never_ban() {
        // Spoofed UDP sources: the victim's address in forged packets.
        let g = AuthGuard::new(3, Duration::from_secs(60));
        let victim = ip("10.0.0.4");
        let t0 = Instant::now();
        for _ in 0..50 {
            assert_eq!(
                g.failure(victim, "1001", false, t0),
                FailureOutcome::Counted
            );
        }
        assert!(!g.is_banned(victim, t0));
    }

    #[test]
    fn auth_guard_enumeration_over_many_users_bans() {
        let g = AuthGuard::new(3, Duration::from_secs(60));
        let a = ip("10.0.0.5");
        let t0 = Instant::now();
        let outcomes: Vec<_> = (0..9)
            .map(|i| g.failure(a, &format!("{}", 2000 + i), true, t0))
            .collect();
        assert_eq!(outcomes.last(), Some(&FailureOutcome::Banned));
        assert!(g.is_banned(a, t0));
    }

    #[test]
    fn auth_guard_distributed_guessing_bans_each_new_source_at_once() {
        let g = AuthGuard::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        // Ten addresses, one guess each at 1001: past 3 × limit the user is
        // under attack, and every further failing source is banned at once.
        for i in 0..9 {
            let a = ip(&format!("10.1.0.{i}"));
            assert_eq!(g.failure(a, "1001", true, t0), FailureOutcome::Counted);
        }
        let late = ip("10.1.0.99");
        assert_eq!(g.failure(late, "1001", true, t0), FailureOutcome::Banned);
        // The owner, who authenticates fine, is not affected.
        assert!(!g.is_banned(ip("10.9.9.9"), t0));
    }

    #[test]
    fn auth_guard_old_failures_are_forgotten() {
        let g = AuthGuard::new(3, Duration::from_secs(60));
        let a = ip("10.0.0.6");
        let t0 = Instant::now();
        g.failure(a, "1001", true, t0);
        g.failure(a, "1001", true, t0);
        let later = t0 + Duration::from_secs(61);
        assert_eq!(g.failure(a, "1001", true, later), FailureOutcome::Counted);
        assert!(!g.is_banned(a, later));
    }
}
