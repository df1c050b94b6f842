//! Ignores addresses that keep failing digest auth (password guessing), sans-IO:
//! time is an argument.

use dashmap::DashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    banned_until: Option<Instant>,
}

/// Counts consecutive auth failures per source address and bans after a limit.
#[derive(Debug)]
pub struct AuthGuard {
    limit: u32,
    ban: Duration,
    entries: DashMap<IpAddr, Entry>,
}

impl AuthGuard {
    /// `limit` consecutive failures ban the address for `ban`.
    pub fn new(limit: u32, ban: Duration) -> Self {
        AuthGuard {
            limit: limit.max(1),
            ban,
            entries: DashMap::new(),
        }
    }

    /// Should requests from `ip` be ignored right now?
    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        match self.entries.get(&ip).and_then(|e| e.banned_until) {
            Some(until) if until > now => true,
            Some(_) => {
                self.entries.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Record a failure; returns true if this failure started a ban.
    pub fn failure(&self, ip: IpAddr, now: Instant) -> bool {
        let mut e = self.entries.entry(ip).or_insert(Entry {
            failures: 0,
            banned_until: None,
        });
        e.failures += 1;
        if e.failures >= self.limit && e.banned_until.is_none() {
            e.banned_until = Some(now + self.ban);
            return true;
        }
        false
    }

    /// A success clears the count.
    pub fn success(&self, ip: IpAddr) {
        // Only touch the map when there is something to clear: the hot path stays read-only.
        if self.entries.contains_key(&ip) {
            self.entries.remove(&ip);
        }
    }

    /// Addresses currently banned.
    pub fn banned_count(&self, now: Instant) -> usize {
        self.entries
            .iter()
            .filter(|e| e.banned_until.is_some_and(|u| u > now))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_after_limit_and_expires() {
        let g = AuthGuard::new(3, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let t0 = Instant::now();
        assert!(!g.failure(ip, t0));
        assert!(!g.failure(ip, t0));
        assert!(!g.is_banned(ip, t0));
        assert!(g.failure(ip, t0));
        assert!(g.is_banned(ip, t0 + Duration::from_secs(59)));
        assert!(!g.is_banned(ip, t0 + Duration::from_secs(61)));
        assert!(!g.failure(ip, t0 + Duration::from_secs(62)));
    }

    #[test]
    fn success_resets() {
        let g = AuthGuard::new(2, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.2".parse().expect("ip");
        let t0 = Instant::now();
        g.failure(ip, t0);
        g.success(ip);
        assert!(!g.failure(ip, t0));
        assert!(!g.is_banned(ip, t0));
    }
}
