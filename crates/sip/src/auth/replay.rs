//! Replay protection for digest nonces: remembers, for every nonce issued in
//! the recent past, whether credentials with it were already accepted and with
//! which nonce count (`nc`), so a captured `Authorization` cannot be sent again.
//!
//! Every nonce carries a sequence number given out by [`NonceLog::issue`].
//! Sequence numbers index a ring of 32-bit fingerprints: 0 for "never used",
//! else a keyed hash of the request that last used it (Call-ID, CSeq, branch).
//! A UDP retransmission of that very request is the same request, not a replay:
//! REGISTER is answered statelessly, so its retransmissions reach us again and
//! must get the same answer. Only nonces used with an `nc` above 1 (phones that
//! reuse one nonce for many requests) take an entry in a small map. That keeps
//! the cost at 4 bytes per challenge (16 MiB for 4 million challenges),
//! whatever the registration rate: a million registrations a minute would
//! otherwise leave a million map entries.
//!
//! A nonce older than the ring's reach is reported [`Use::Forgotten`]: the
//! caller re-challenges, which a real client answers with a fresh nonce.

use std::collections::HashMap;

/// Slots in the ring: the number of most recent challenges whose use is
/// tracked. At 20,000 challenges/s this covers 210 s; a nonce used after that
/// is re-challenged (stale), which a client answers without a prompt.
pub const RING_BITS: u64 = 1 << 22;
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
    /// Fingerprint of the last request that used each sequence number (modulo
    /// [`RING_BITS`]); 0 when unused.
    used: Vec<u32>,
    /// Highest `nc` seen, for nonces used with an `nc` above 1.
    counts: HashMap<u64, u32>,
}

impl Default for NonceLog {
    fn default() -> Self {
        NonceLog {
            next: 1,
            used: vec![0; RING_BITS as usize],
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
        self.set(seq, 0);
        if seq.is_multiple_of(4096) {
            // Now and then, drop the counts of nonces the ring no longer covers.
            let oldest = self.oldest();
            self.counts.retain(|&s, _| s >= oldest);
        }
        seq
    }

    /// Records a use of nonce `seq` with nonce count `nc` (None: the RFC 2069
    /// form without qop) by the request whose fingerprint is `request` (a keyed
    /// hash of its Call-ID, CSeq and branch; any value, 0 included). The very
    /// request that last used the nonce, with the same count, is a
    /// retransmission and accepted again. `single_use` refuses a second use of
    /// a nonce sent without `nc` by another request (INVITE: a replayed INVITE
    /// would place a call); without it, such uses are accepted as they are
    /// indistinguishable from a client that legitimately reuses its nonce.
    pub fn record(&mut self, seq: u64, nc: Option<u32>, single_use: bool, request: u32) -> Use {
        if seq == 0 || seq >= self.next || seq < self.oldest() {
            return Use::Forgotten;
        }
        // 0 means "unused" in the ring.
        let fp = request.max(1);
        let last_fp = self.get(seq);
        let seen = last_fp != 0;
        match nc {
            None => {
                if seen && single_use && last_fp != fp {
                    return Use::Replayed;
                }
                self.set(seq, fp);
                Use::Fresh
            }
            Some(nc) => {
                if seen {
                    let last = self.counts.get(&seq).copied().unwrap_or(1);
                    if nc == last && last_fp == fp {
                        return Use::Fresh;
                    }
                    if nc <= last {
                        return Use::Replayed;
                    }
                } else if nc == 1 {
                    self.set(seq, fp);
                    return Use::Fresh;
                }
                if !self.counts.contains_key(&seq) && self.counts.len() >= MAX_COUNTED {
                    return Use::Forgotten;
                }
                self.set(seq, fp);
                self.counts.insert(seq, nc);
                Use::Fresh
            }
        }
    }

    /// Oldest sequence number the ring still covers.
    fn oldest(&self) -> u64 {
        self.next.saturating_sub(RING_BITS).max(1)
    }

    fn get(&self, seq: u64) -> u32 {
        self.used
            .get((seq % RING_BITS) as usize)
            .copied()
            .unwrap_or(0)
    }

    fn set(&mut self, seq: u64, fp: u32) {
        if let Some(slot) = self.used.get_mut((seq % RING_BITS) as usize) {
            *slot = fp;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new request's fingerprint each time (never a retransmission).
    fn req() -> u32 {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(100);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn a_retransmission_of_the_same_request_is_not_a_replay() {
        let mut log = NonceLog::default();
        let n = log.issue();
        assert_eq!(log.record(n, Some(1), false, 7), Use::Fresh);
        // The same REGISTER again (UDP retransmission): same answer.
        assert_eq!(log.record(n, Some(1), false, 7), Use::Fresh);
        // Another request with the same nonce count: a replay.
        assert_eq!(log.record(n, Some(1), false, 8), Use::Replayed);
        // An INVITE without nc: its retransmission passes, another does not.
        let m = log.issue();
        assert_eq!(log.record(m, None, true, 9), Use::Fresh);
        assert_eq!(log.record(m, None, true, 9), Use::Fresh);
        assert_eq!(log.record(m, None, true, 10), Use::Replayed);
    }

    #[test]
    fn nonce_count_must_increase() {
        let mut log = NonceLog::default();
        let n = log.issue();
        assert_eq!(log.record(n, Some(1), false, req()), Use::Fresh);
        assert_eq!(log.record(n, Some(1), false, req()), Use::Replayed);
        assert_eq!(log.record(n, Some(2), false, req()), Use::Fresh);
        assert_eq!(log.record(n, Some(2), false, req()), Use::Replayed);
        assert_eq!(log.record(n, Some(1), false, req()), Use::Replayed);
        assert_eq!(log.record(n, Some(7), false, req()), Use::Fresh);
        assert_eq!(log.record(n, Some(5), false, req()), Use::Replayed);
    }

    #[test]
    fn first_use_may_start_above_one() {
        let mut log = NonceLog::default();
        let n = log.issue();
        assert_eq!(log.record(n, Some(3), false, req()), Use::Fresh);
        assert_eq!(log.record(n, Some(3), false, req()), Use::Replayed);
        assert_eq!(log.record(n, Some(2), false, req()), Use::Replayed);
    }

    #[test]
    fn nonces_are_independent() {
        let mut log = NonceLog::default();
        let a = log.issue();
        let b = log.issue();
        assert_eq!(log.record(a, Some(1), false, req()), Use::Fresh);
        assert_eq!(log.record(b, Some(1), false, req()), Use::Fresh);
        assert_eq!(log.record(a, None, true, req()), Use::Replayed);
    }

    #[test]
    fn without_nc_single_use_refuses_the_second_use() {
        let mut log = NonceLog::default();
        let n = log.issue();
        assert_eq!(log.record(n, None, true, req()), Use::Fresh);
        assert_eq!(log.record(n, None, true, req()), Use::Replayed);
        // Where a nonce may serve several requests (REGISTER without qop).
        let m = log.issue();
        assert_eq!(log.record(m, None, false, req()), Use::Fresh);
        assert_eq!(log.record(m, None, false, req()), Use::Fresh);
    }

    #[test]
    fn unknown_and_too_old_sequence_numbers_are_forgotten() {
        let mut log = NonceLog::default();
        assert_eq!(log.record(0, Some(1), false, req()), Use::Forgotten);
        assert_eq!(
            log.record(5, Some(1), false, req()),
            Use::Forgotten,
            "never issued"
        );
        let first = log.issue();
        // Issue a full ring's worth more: the first falls out of reach, and
        // its slot is reused by a nonce that must start unused.
        log.next += RING_BITS - 1;
        let reused = log.issue();
        assert_eq!(reused % RING_BITS, (first + RING_BITS) % RING_BITS);
        assert_eq!(log.record(first, Some(1), false, req()), Use::Forgotten);
        assert_eq!(log.record(reused, Some(1), false, req()), Use::Fresh);
    }

    #[test]
    fn a_slot_is_cleared_when_reissued() {
        let mut log = NonceLog::default();
        let a = log.issue();
        assert_eq!(log.record(a, Some(1), false, req()), Use::Fresh);
        log.next = a + RING_BITS;
        let b = log.issue();
        assert_eq!(b % RING_BITS, a % RING_BITS);
        assert_eq!(log.record(b, Some(1), false, req()), Use::Fresh);
    }
}
