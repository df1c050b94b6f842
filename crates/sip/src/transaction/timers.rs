//! Timer bookkeeping for the transaction layer.
//!
//! One binary heap holds every armed timer of every transaction. Cancelling a
//! timer never touches the heap (that would be O(n)): each transaction keeps, per
//! timer slot, the generation of the timer currently armed there, and a heap entry
//! whose generation no longer matches is discarded when it surfaces. Postponing a
//! timer (Timer C is reset on every provisional) only moves the deadline stored in
//! the slot; the old heap entry is re-queued at the new deadline when it surfaces,
//! so a chatty call does not grow the heap.
//!
//! Stale entries are counted so the heap can be compacted once they outnumber the
//! live ones, which bounds memory at roughly twice the number of armed timers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::TxId;

/// The RFC 3261 / RFC 6026 timers, plus the few this layer adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerKind {
    /// Client INVITE retransmission (Calling, unreliable only).
    A,
    /// Client INVITE timeout in Calling.
    B,
    /// Client INVITE: no final response long after the last provisional.
    C,
    /// Client INVITE: absorb retransmitted finals in Completed.
    D,
    /// Client non-INVITE retransmission (unreliable only).
    E,
    /// Client non-INVITE timeout.
    F,
    /// Server INVITE final (3xx-6xx) retransmission (unreliable only).
    G,
    /// Server INVITE: ACK for a 3xx-6xx never came.
    H,
    /// Server INVITE: absorb ACK retransmissions in Confirmed.
    I,
    /// Server non-INVITE: absorb request retransmissions in Completed.
    J,
    /// Client non-INVITE: absorb response retransmissions in Completed.
    K,
    /// Server INVITE: lifetime of the Accepted state (RFC 6026).
    L,
    /// Client INVITE: lifetime of the Accepted state (RFC 6026).
    M,
    /// Server INVITE: the TU was silent for `trying_delay`, send 100 Trying.
    Trying,
    /// Server INVITE: 2xx retransmission in Accepted until the ACK arrives.
    Retransmit2xx,
    /// Client INVITE: no final response within 64*T1 after CANCEL (RFC 3261 §9.1).
    CancelGuard,
}

/// Slots a transaction can have timers in; timers sharing a slot never run at the
/// same time (they belong to different states or transaction kinds).
pub(crate) const SLOT_COUNT: usize = 4;
/// Retransmission timers: A, E, G, 2xx.
pub(crate) const SLOT_RETRANSMIT: usize = 0;
/// Failure timers: B, F, H, L, cancel guard.
pub(crate) const SLOT_TIMEOUT: usize = 1;
/// Timer C (client INVITE) or the 100 Trying delay (server INVITE).
pub(crate) const SLOT_AUX: usize = 2;
/// Timers that end a transaction: D, I, J, K, M.
pub(crate) const SLOT_TERMINATE: usize = 3;

impl TimerKind {
    /// The slot this timer lives in.
    pub(crate) fn slot(self) -> usize {
        use TimerKind::*;
        match self {
            A | E | G | Retransmit2xx => SLOT_RETRANSMIT,
            B | F | H | L | CancelGuard => SLOT_TIMEOUT,
            C | Trying => SLOT_AUX,
            D | I | J | K | M => SLOT_TERMINATE,
        }
    }
}

/// The timer currently armed in a slot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Armed {
    /// Matches the heap entry that may fire it.
    pub(crate) generation: u64,
    /// When it fires; may be later than its heap entry (postponed).
    pub(crate) deadline: Instant,
}

/// Per-transaction timer slots.
pub(crate) type Slots = [Option<Armed>; SLOT_COUNT];

/// A heap entry. Field order gives the ordering: earliest first, then arming order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) at: Instant,
    pub(crate) generation: u64,
    pub(crate) tx: TxId,
    pub(crate) kind: TimerKind,
}

/// Compaction is not worth it below this many stale entries.
const COMPACT_MIN_STALE: usize = 4096;

/// The heap of armed timers of all transactions.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    next_generation: u64,
    stale: usize,
}

impl TimerQueue {
    /// Arms `kind` for `tx` at `at`, replacing whatever was armed in its slot.
    pub(crate) fn arm(&mut self, slots: &mut Slots, tx: TxId, kind: TimerKind, at: Instant) {
        let slot = &mut slots[kind.slot()];
        if slot.is_some() {
            self.stale += 1;
        }
        self.next_generation += 1;
        let generation = self.next_generation;
        *slot = Some(Armed {
            generation,
            deadline: at,
        });
        self.heap.push(Reverse(Entry {
            at,
            generation,
            tx,
            kind,
        }));
    }

    /// Moves an armed timer to a later deadline without a heap push; arms it if
    /// nothing is armed in its slot or the new deadline is earlier.
    pub(crate) fn postpone(&mut self, slots: &mut Slots, tx: TxId, kind: TimerKind, at: Instant) {
        match &mut slots[kind.slot()] {
            Some(armed) if armed.deadline <= at => armed.deadline = at,
            _ => self.arm(slots, tx, kind, at),
        }
    }

    /// Cancels whatever is armed in `slot`.
    pub(crate) fn disarm(&mut self, slots: &mut Slots, slot: usize) {
        if slots[slot].take().is_some() {
            self.stale += 1;
        }
    }

    /// Cancels every timer of a transaction that is going away.
    pub(crate) fn disarm_all(&mut self, slots: &mut Slots) {
        for slot in slots.iter_mut() {
            if slot.take().is_some() {
                self.stale += 1;
            }
        }
    }

    /// The earliest heap entry; may be stale or postponed, so callers can only
    /// wake up early, never late.
    pub(crate) fn peek(&self) -> Option<Entry> {
        self.heap.peek().map(|Reverse(entry)| *entry)
    }

    /// Removes the earliest entry if it is due.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Entry> {
        match self.heap.peek() {
            Some(Reverse(entry)) if entry.at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Removes the earliest entry unconditionally.
    pub(crate) fn pop(&mut self) -> Option<Entry> {
        self.heap.pop().map(|Reverse(e)| e)
    }

    /// Puts a postponed entry back at its real deadline.
    pub(crate) fn requeue(&mut self, entry: Entry, at: Instant) {
        self.heap.push(Reverse(Entry { at, ..entry }));
    }

    /// Notes that a popped entry turned out to be stale.
    pub(crate) fn popped_stale(&mut self) {
        self.stale = self.stale.saturating_sub(1);
    }

    /// Drops every stale entry once they dominate the heap. `live` tells whether
    /// an entry's generation is still the one armed in its transaction's slot.
    pub(crate) fn maybe_compact(&mut self, live: impl Fn(&Entry) -> bool) {
        if self.stale < COMPACT_MIN_STALE || self.stale * 2 < self.heap.len() {
            return;
        }
        self.heap.retain(|Reverse(entry)| live(entry));
        self.stale = 0;
    }

    /// Number of heap entries, live or stale (for tests).
    #[cfg(test)]
    pub(crate) fn heap_len(&self) -> usize {
        self.heap.len()
    }
}
