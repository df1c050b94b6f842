//! Replay protection for digest nonces: remembers, for every nonce issued in
//! the recent past, whether credentials with it were already accepted and with
//! which nonce count (`nc`), so a captured `Authorization` cannot be sent again.
//!
//! Every nonce carries a sequence number given out by [`NonceLog::issue`].
//! Sequence numbers index a ring of bits ("used at least once"); only nonces
//! used with an `nc` above 1 (phones that reuse one nonce for many requests)
//! take an entry in a small map. That keeps the cost at one bit per challenge
//! (1 MiB for 8 million challenges), whatever the registration rate: a million
//! registrations a minute would otherwise leave a million map entries.
//!
//! A nonce older than the ring's reach is reported [`Use::Forgotten`]: the
//! caller re-challenges, which a real client answers with a fresh nonce.

use std::collections::HashMap;

/// Bits in the ring: the number of most recent challenges whose use is tracked.
/// At 20,000 challenges/s this covers 419 s, more than the nonce lifetime.
pub const RING_BITS: u64 = 1 << 23;
/// Most nonces tracked with a count above 1 at once (entries of a few bytes).
pub const MAX_COUNTED: usize = 1 << 18;

/// What a use of a nonce amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// First use, or a count above every earlier one: accepted and recorded.
    Fresh,
    /// Used before with this count or a higher one (or used at all, where a
    /// nonce may serve once): a replay.
    Replayed,
    /// Too old to be tracked any more, or the table is full: re-challenge.
    Forgotten,
}

/// The sans-IO record of nonce uses.
#[derive(Debug)]
pub struct NonceLog {
    /// Sequence number the next challenge gets.
    next: u64,
    /// One bit per sequence number modulo [`RING_BITS`].
    used: Vec<u64>,
    /// Highest `nc` seen, for nonces used with an `nc` above 1.
    counts: HashMap<u64, u32>,
}

impl Default for NonceLog {
    fn default() -> Self {
        NonceLog {
            next: 1,
            used: vec![0; (RING_BITS / 64) as usize],
            counts: HashMap::new(),
        }
    }
}

impl NonceLog {
    /// Hands out the sequence number of a new challenge's nonce, forgetting
    /// whatever the ring slot it reuses held.
    pub fn issue(&mut self) -> u64 {
        let seq = self.next;
        self.next += 1;
        self.set_bit(seq, false);
        if seq.is_multiple_of(4096) {
            // Now and then, drop the counts of nonces the ring no longer covers.
            let oldest = self.oldest();
            self.counts.retain(|&s, _| s >= oldest);
        }
        seq
    }

    /// Records a use of nonce `seq` with nonce count `nc` (None: the RFC 2069
    /// form without qop). `single_use` refuses a second use of a nonce sent
    /// without `nc` (INVITE: a replayed INVITE would place a call); without it,
    /// such uses are accepted as they are indistinguishable from a client that
    /// legitimately reuses its nonce.
    pub fn record(&mut self, seq: u64, nc: Option<u32>, single_use: bool) -> Use {
        if seq == 0 || seq >= self.next || seq < self.oldest() {
            return Use::Forgotten;
        }
        let seen = self.bit(seq);
        match nc {
            None => {
                if seen && single_use {
                    return Use::Replayed;
                }
                self.set_bit(seq, true);
                Use::Fresh
            }
            Some(nc) => {
                if seen {
                    let last = self.counts.get(&seq).copied().unwrap_or(1);
                    if nc <= last {
                        return Use::Replayed;
                    }
                } else if nc == 1 {
                    self.set_bit(seq, true);
                    return Use::Fresh;
                }
                if !self.counts.contains_key(&seq) && self.counts.len() >= MAX_COUNTED {
                    return Use::Forgotten;
                }
                self.set_bit(seq, true);
                self.counts.insert(seq, nc);
                Use::Fresh
            }
        }
    }

    /// Oldest sequence number the ring still covers.
    fn oldest(&self) -> u64 {
        self.next.saturating_sub(RING_BITS).max(1)
    }

    fn bit(&self, seq: u64) -> bool {
        let i = seq % RING_BITS;
        self.used
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set_bit(&mut self, seq: u64, on: bool) {
        let i = seq % RING_BITS;
        if let Some(w) = self.used.get_mut((i / 64) as usize) {
            if on {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_count_must_increase() {
        let mut log = NonceLog::default();
        let n = log.issue();
        assert_eq!(log.record(n, Some(1), false), Use::Fresh);
        assert_eq!(log.record(n, Some(1), false), Use::Replayed);
        assert_eq!(log.record(n, Some(2), false), Use::Fresh);
        assert_eq!(log.record(n, Some(2), false), Use::Replayed);
        assert_eq!(log.record(n, Some(1), false), Use::Replayed);
        assert_eq!(log.record(n, Some(7), false), Use::Fresh);
        assert_eq!(log.record(n, Some(5), false), Use::Replayed);
    }

    #[test]
    fn first_use_may_start_above_one() {
        let mut log = NonceLog::default();
        let n = log.issue();
        assert_eq!(log.record(n, Some(3), false), Use::Fresh);
        assert_eq!(log.record(n, Some(3), false), Use::Replayed);
        assert_eq!(log.record(n, Some(2), false), Use::Replayed);
    }

    #[test]
    fn nonces_are_independent() {
        let mut log = NonceLog::default();
        let a = log.issue();
        let b = log.issue();
        assert_eq!(log.record(a, Some(1), false), Use::Fresh);
        assert_eq!(log.record(b, Some(1), false), Use::Fresh);
        assert_eq!(log.record(a, None, true), Use::Replayed);
    }

    #[test]
    fn without_nc_single_use_refuses_the_second_use() {
        let mut log = NonceLog::default();
        let n = log.issue();
        assert_eq!(log.record(n, None, true), Use::Fresh);
        assert_eq!(log.record(n, None, true), Use::Replayed);
        // Where a nonce may serve several requests (REGISTER without qop).
        let m = log.issue();
        assert_eq!(log.record(m, None, false), Use::Fresh);
        assert_eq!(log.record(m, None, false), Use::Fresh);
    }

    #[test]
    fn unknown_and_too_old_sequence_numbers_are_forgotten() {
        let mut log = NonceLog::default();
        assert_eq!(log.record(0, Some(1), false), Use::Forgotten);
        assert_eq!(
            log.record(5, Some(1), false),
            Use::Forgotten,
            "never issued"
        );
        let first = log.issue();
        // Issue a full ring's worth more: the first falls out of reach, and
        // its slot is reused by a nonce that must start unused.
        log.next += RING_BITS - 1;
        let reused = log.issue();
        assert_eq!(reused % RING_BITS, (first + RING_BITS) % RING_BITS);
        assert_eq!(log.record(first, Some(1), false), Use::Forgotten);
        assert_eq!(log.record(reused, Some(1), false), Use::Fresh);
    }

    #[test]
    fn a_slot_is_cleared_when_reissued() {
        let mut log = NonceLog::default();
        let a = log.issue();
        assert_eq!(log.record(a, Some(1), false), Use::Fresh);
        log.next = a + RING_BITS;
        let b = log.issue();
        assert_eq!(b % RING_BITS, a % RING_BITS);
        assert_eq!(log.record(b, Some(1), false), Use::Fresh);
    }
}
