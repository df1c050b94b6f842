//! Timer bookkeeping for the transaction layer.
//!
//! Every timer runs for a duration fixed by the configuration and the transport
//! (J, K, I, D, H, B, F, L, M, C, the CANCEL guard and the 100 Trying delay), or,
//! for the doubling retransmission timers (A, E, G, 2xx), for one of a handful of
//! intervals (T1·2^k, capped at T2 except for A). Since `now` only moves forward,
//! timers armed with the same duration expire in the order they were armed. So
//! the queue keeps one FIFO per distinct duration: arming is a `push_back`,
//! expiring a `pop_front`, both O(1), and the next deadline is the earliest of a
//! dozen fronts. No heap sift, and expiring timers of one duration walks the
//! transactions in creation order, which is kind to the caches.
//!
//! Correctness never rests on that ordering: an entry that would go behind a
//! later one in its FIFO (a caller passing an earlier `now` than before, a
//! postponed timer re-queued at its new deadline, or more distinct durations
//! than [`MAX_FIFOS`]) goes to a binary heap instead, which is merged in.
//!
//! Cancelling a timer never touches the queues: each transaction keeps, per
//! timer slot, the generation of the timer currently armed there, and an entry
//! whose generation no longer matches is discarded when it surfaces. Postponing
//! a timer (Timer C is reset on every provisional) only moves the deadline
//! stored in the slot; the old entry is re-queued at the new deadline when it
//! surfaces, so a chatty call does not grow the queues.
//!
//! Every entry, stale or not, leaves its queue when it is due, so entries of
//! destroyed transactions are gone at most one timer duration later. Stale
//! entries are also counted so the queues can be compacted once they outnumber
//! the live ones, which bounds memory at roughly twice the number of armed
//! timers even with very long timers; and the FIFOs give memory back after a
//! burst.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

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

    /// Timers whose only effect is to destroy their transaction (whatever its
    /// state), so the layer can do that straight from the expiry loop.
    pub(crate) fn just_terminates(self) -> bool {
        use TimerKind::*;
        matches!(self, D | I | J | K | M)
    }
}

/// Per-transaction timer slots: the generation of the timer armed in each
/// (matching the queue entry that may fire it), 0 for none. Only the timer in
/// [`SLOT_AUX`] (Timer C) is ever postponed, so only it keeps a deadline of its
/// own, which may be later than its queue entry.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Slots {
    generations: [u64; SLOT_COUNT],
    aux_deadline: Option<Instant>,
}

/// What a queue entry that surfaced means for its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Its timer was cancelled or re-armed (or its transaction is gone).
    Stale,
    /// Its timer was moved later.
    Postponed(Instant),
    /// Fire it.
    Due,
}

impl Slots {
    /// Whether a timer is armed in `slot`.
    #[cfg(test)]
    pub(crate) fn is_armed(&self, slot: usize) -> bool {
        self.generations[slot] != 0
    }

    /// What `entry` means here.
    pub(crate) fn check(&self, entry: &Entry) -> Status {
        let slot = entry.kind.slot();
        if self.generations[slot] != entry.generation {
            return Status::Stale;
        }
        match self.aux_deadline {
            Some(deadline) if slot == SLOT_AUX && deadline > entry.at => {
                Status::Postponed(deadline)
            }
            _ => Status::Due,
        }
    }

    /// Empties the slot of a timer that fired.
    pub(crate) fn fired(&mut self, kind: TimerKind) {
        self.take(kind.slot());
    }

    /// Empties a slot; whether something was armed there.
    fn take(&mut self, slot: usize) -> bool {
        if slot == SLOT_AUX {
            self.aux_deadline = None;
        }
        std::mem::take(&mut self.generations[slot]) != 0
    }
}

/// Marks an entry that has no FIFO (it lives in the heap for good).
const NO_FIFO: u8 = u8::MAX;

/// Distinct durations that get a FIFO. The defaults use about ten (200 ms,
/// T1·2^k for k = 0..=6, T4, Timer C); anything beyond goes to the heap.
const MAX_FIFOS: usize = 32;

/// A queue entry. Field order gives the ordering: earliest first, then arming
/// order (generations are unique).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) at: Instant,
    pub(crate) generation: u64,
    pub(crate) tx: TxId,
    pub(crate) kind: TimerKind,
    /// The FIFO of the duration it was armed with, or [`NO_FIFO`].
    fifo: u8,
}

/// Timers armed with one duration, in deadline order.
#[derive(Debug)]
struct Fifo {
    duration: Duration,
    entries: VecDeque<Entry>,
}

/// Where the earliest entry is.
#[derive(Clone, Copy)]
enum Source {
    Fifo(usize),
    Heap,
}

/// Compaction is not worth it below this many stale entries.
const COMPACT_MIN_STALE: usize = 4096;

/// A FIFO or the heap keeping more than this many slots of spare capacity, and
/// four times its length, is shrunk.
const SHRINK_MIN_CAPACITY: usize = 4096;

/// The armed timers of all transactions.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    fifos: Vec<Fifo>,
    /// Entries out of order for their FIFO (see the module docs).
    heap: BinaryHeap<Reverse<Entry>>,
    next_generation: u64,
    /// Entries, live or stale, in the FIFOs and the heap.
    len: usize,
    stale: usize,
}

impl TimerQueue {
    /// Arms `kind` for `tx` at `now + duration`, replacing whatever was armed
    /// in its slot.
    pub(crate) fn arm(
        &mut self,
        slots: &mut Slots,
        tx: TxId,
        kind: TimerKind,
        now: Instant,
        duration: Duration,
    ) {
        let at = now + duration;
        let slot = kind.slot();
        if slots.take(slot) {
            self.stale += 1;
        }
        self.next_generation += 1;
        let generation = self.next_generation;
        slots.generations[slot] = generation;
        if slot == SLOT_AUX {
            slots.aux_deadline = Some(at);
        }
        let fifo = self.fifo_for(duration);
        self.push(Entry {
            at,
            generation,
            tx,
            kind,
            fifo,
        });
    }

    /// Moves an armed timer to `now + duration` if that is later, without
    /// queueing anything; arms it if nothing is armed in its slot, the new
    /// deadline is earlier, or the timer is not in [`SLOT_AUX`].
    pub(crate) fn postpone(
        &mut self,
        slots: &mut Slots,
        tx: TxId,
        kind: TimerKind,
        now: Instant,
        duration: Duration,
    ) {
        let at = now + duration;
        match &mut slots.aux_deadline {
            Some(deadline) if kind.slot() == SLOT_AUX && *deadline <= at => *deadline = at,
            _ => self.arm(slots, tx, kind, now, duration),
        }
    }

    /// Cancels whatever is armed in `slot`.
    pub(crate) fn disarm(&mut self, slots: &mut Slots, slot: usize) {
        if slots.take(slot) {
            self.stale += 1;
        }
    }

    /// Cancels every timer of a transaction that is going away.
    pub(crate) fn disarm_all(&mut self, slots: &mut Slots) {
        for slot in 0..SLOT_COUNT {
            self.disarm(slots, slot);
        }
    }

    /// The FIFO for timers of `duration`, created on first use.
    fn fifo_for(&mut self, duration: Duration) -> u8 {
        if let Some(i) = self.fifos.iter().position(|f| f.duration == duration) {
            return i as u8;
        }
        if self.fifos.len() < MAX_FIFOS {
            self.fifos.push(Fifo {
                duration,
                entries: VecDeque::new(),
            });
            return (self.fifos.len() - 1) as u8;
        }
        NO_FIFO
    }

    /// Queues an entry: at the back of its FIFO if that keeps the FIFO sorted,
    /// in the heap otherwise.
    fn push(&mut self, entry: Entry) {
        self.len += 1;
        if let Some(fifo) = self.fifos.get_mut(usize::from(entry.fifo)) {
            if fifo.entries.back().is_none_or(|last| *last <= entry) {
                fifo.entries.push_back(entry);
                return;
            }
        }
        self.heap.push(Reverse(entry));
    }

    /// The queue holding the earliest entry, and that entry.
    fn earliest(&self) -> Option<(Source, Entry)> {
        let mut best = self.heap.peek().map(|Reverse(e)| (Source::Heap, *e));
        for (i, fifo) in self.fifos.iter().enumerate() {
            if let Some(e) = fifo.entries.front() {
                if best.is_none_or(|(_, b)| *e < b) {
                    best = Some((Source::Fifo(i), *e));
                }
            }
        }
        best
    }

    fn take(&mut self, source: Source) -> Option<Entry> {
        let entry = match source {
            Source::Heap => self.heap.pop().map(|Reverse(e)| e),
            Source::Fifo(i) => self.fifos[i].entries.pop_front(),
        };
        if entry.is_some() {
            self.len -= 1;
        }
        entry
    }

    /// The earliest entry; may be stale or postponed, so callers can only wake
    /// up early, never late.
    pub(crate) fn peek(&self) -> Option<Entry> {
        self.earliest().map(|(_, e)| e)
    }

    /// Removes the earliest entry if it is due.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Entry> {
        match self.earliest() {
            Some((source, entry)) if entry.at <= now => self.take(source),
            _ => None,
        }
    }

    /// Removes the earliest entry unconditionally.
    pub(crate) fn pop(&mut self) -> Option<Entry> {
        let (source, _) = self.earliest()?;
        self.take(source)
    }

    /// Puts a postponed entry back at its real deadline.
    pub(crate) fn requeue(&mut self, entry: Entry, at: Instant) {
        self.push(Entry { at, ..entry });
    }

    /// Notes that a popped entry turned out to be stale.
    pub(crate) fn popped_stale(&mut self) {
        self.stale = self.stale.saturating_sub(1);
    }

    /// Drops every stale entry once they dominate the queues. `live` tells
    /// whether an entry's generation is still the one armed in its
    /// transaction's slot. Retaining keeps each FIFO in order.
    pub(crate) fn maybe_compact(&mut self, live: impl Fn(&Entry) -> bool) {
        if self.stale < COMPACT_MIN_STALE || self.stale * 2 < self.len {
            return;
        }
        self.heap.retain(|Reverse(entry)| live(entry));
        let mut len = self.heap.len();
        for fifo in &mut self.fifos {
            fifo.entries.retain(|entry| live(entry));
            len += fifo.entries.len();
        }
        self.len = len;
        self.stale = 0;
        self.shrink();
    }

    /// Gives back memory a burst left behind.
    pub(crate) fn shrink(&mut self) {
        for fifo in &mut self.fifos {
            let (len, cap) = (fifo.entries.len(), fifo.entries.capacity());
            if cap > SHRINK_MIN_CAPACITY && cap > 4 * len {
                fifo.entries.shrink_to(2 * len);
            }
        }
        let (len, cap) = (self.heap.len(), self.heap.capacity());
        if cap > SHRINK_MIN_CAPACITY && cap > 4 * len {
            self.heap.shrink_to(2 * len);
        }
    }

    /// Number of entries, live or stale (for tests).
    #[cfg(test)]
    pub(crate) fn heap_len(&self) -> usize {
        debug_assert_eq!(
            self.len,
            self.heap.len() + self.fifos.iter().map(|f| f.entries.len()).sum::<usize>()
        );
        self.len
    }

    /// Number of entries in the heap rather than a FIFO (for tests).
    #[cfg(test)]
    pub(crate) fn heap_only_len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_timers_fifos_and_heap_pop_in_deadline_order() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut q = TimerQueue::default();
        let start = Instant::now();
        let mut now = start;
        let durations: Vec<Duration> = (0..40).map(|i| Duration::from_millis(100 * i)).collect();
        let mut slots: Vec<Slots> = vec![Slots::default(); 5000];
        let mut armed = 0;
        let mut popped = 0;
        let mut last: Option<Entry> = None;
        for round in 0..50_000u64 {
            let tx = rng.usize(..slots.len());
            let duration = if rng.u8(..10) == 0 {
                durations[rng.usize(..durations.len())]
            } else {
                durations[rng.usize(..4)]
            };
            // Mostly forward, sometimes backward (a caller's stale `now`).
            let at_now = if rng.u8(..20) == 0 {
                now.checked_sub(Duration::from_millis(rng.u64(..50)))
                    .unwrap_or(now)
                    .max(start)
            } else {
                now += Duration::from_millis(rng.u64(..3));
                now
            };
            q.arm(
                &mut slots[tx],
                TxId(tx as u64),
                TimerKind::J,
                at_now,
                duration,
            );
            armed += 1;
            if round % 7 == 0 {
                let until = now.checked_sub(Duration::from_millis(500)).unwrap_or(start);
                while let Some(e) = q.pop_due(until) {
                    assert!(e.at <= until);
                    assert!(last.is_none_or(|l| l <= e), "{last:?} then {e:?}");
                    last = Some(e);
                    popped += 1;
                }
            }
        }
        assert!(q.heap_only_len() > 0, "some entries were out of order");
        assert!(q.heap_only_len() < armed / 10);
        while let Some(e) = q.pop() {
            assert!(last.is_none_or(|l| l <= e));
            last = Some(e);
            popped += 1;
        }
        assert_eq!(popped, armed);
        assert_eq!(q.heap_len(), 0);
    }

    #[test]
    fn transaction_timers_postponed_entry_requeues_and_queues_shrink() {
        let mut q = TimerQueue::default();
        let t0 = Instant::now();
        let mut slots = Slots::default();
        q.arm(
            &mut slots,
            TxId(1),
            TimerKind::C,
            t0,
            Duration::from_secs(180),
        );
        q.postpone(
            &mut slots,
            TxId(1),
            TimerKind::C,
            t0 + Duration::from_secs(5),
            Duration::from_secs(180),
        );
        assert_eq!(q.heap_len(), 1);
        let e = q.pop_due(t0 + Duration::from_secs(180)).unwrap();
        let later = t0 + Duration::from_secs(185);
        assert_eq!(slots.check(&e), Status::Postponed(later));
        q.requeue(e, later);
        assert!(slots.is_armed(SLOT_AUX));
        assert!(q.pop_due(t0 + Duration::from_secs(184)).is_none());
        assert_eq!(q.peek().unwrap().at, t0 + Duration::from_secs(185));

        // A burst leaves capacity behind; once drained, it is given back.
        let mut many: Vec<Slots> = vec![Slots::default(); 100_000];
        for (i, s) in many.iter_mut().enumerate() {
            q.arm(s, TxId(i as u64), TimerKind::J, t0, Duration::from_secs(32));
        }
        while q.pop_due(t0 + Duration::from_secs(40)).is_some() {}
        q.shrink();
        assert!(q
            .fifos
            .iter()
            .all(|f| f.entries.capacity() <= SHRINK_MIN_CAPACITY));
    }
}
