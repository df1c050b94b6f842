//! The ACD's timers: at most one per key, exact deadlines (a cleared timer
//! is gone, so `next_deadline` never wakes the driver for nothing).

use super::io::MemberId;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

/// What a timer is for. Agents and queues are referred to by their slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum TimerKey {
    /// The agent's wrap-up or penalty delay ends.
    AgentReady(usize),
    /// The agent's offer has had no result for longer than it may ring.
    OfferGuard(usize),
    /// The caller reaches max-wait-time.
    MaxWait(MemberId),
    /// Time to play the announce sound to the caller.
    Announce(MemberId),
    /// The next tier level opens for the caller.
    TierRule(MemberId),
    /// ring-progressively: the caller may ring one more agent.
    Progress(MemberId),
    /// max-wait-time-with-no-agent check for the queue.
    NoAgent(usize),
}

/// Timers keyed by [`TimerKey`].
#[derive(Debug, Default)]
pub(super) struct Timers {
    due: BTreeSet<(Instant, TimerKey)>,
    by_key: HashMap<TimerKey, Instant>,
}

impl Timers {
    /// Arms (or re-arms) `key` for `at`.
    pub fn set(&mut self, key: TimerKey, at: Instant) {
        if let Some(old) = self.by_key.insert(key, at) {
            self.due.remove(&(old, key));
        }
        self.due.insert((at, key));
    }

    /// Disarms `key` if armed.
    pub fn clear(&mut self, key: TimerKey) {
        if let Some(old) = self.by_key.remove(&key) {
            self.due.remove(&(old, key));
        }
    }

    /// When `key` fires, if armed.
    pub fn get(&self, key: TimerKey) -> Option<Instant> {
        self.by_key.get(&key).copied()
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.due.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest timer due by `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<TimerKey> {
        let &(at, key) = self.due.first()?;
        if at > now {
            return None;
        }
        self.due.remove(&(at, key));
        self.by_key.remove(&key);
        Some(key)
    }

    /// How many are armed.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rearming_replaces_and_clearing_removes_the_deadline() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set(TimerKey::AgentReady(1), t0 + Duration::from_secs(5));
        t.set(TimerKey::AgentReady(1), t0 + Duration::from_secs(9));
        t.set(TimerKey::NoAgent(0), t0 + Duration::from_secs(7));
        assert_eq!(t.len(), 2);
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(7)));
        t.clear(TimerKey::NoAgent(0));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(9)));
        assert_eq!(t.pop_due(t0 + Duration::from_secs(8)), None);
        assert_eq!(
            t.pop_due(t0 + Duration::from_secs(9)),
            Some(TimerKey::AgentReady(1))
        );
        assert_eq!(t.next(), None);
    }
}
