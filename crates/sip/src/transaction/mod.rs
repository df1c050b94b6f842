//! The RFC 3261 §17 transaction layer, with the RFC 6026 "Accepted" states, as a
//! sans-IO core in the style of quinn-proto.
//!
//! Inputs carry `now` ([`TransactionLayer::handle_inbound`],
//! [`TransactionLayer::send_request`], [`TransactionLayer::handle_timeout`], …);
//! outputs are polled ([`TransactionLayer::poll_transmit`],
//! [`TransactionLayer::poll_event`], [`TransactionLayer::next_deadline`]). The
//! driver owns one layer in one task, so there are no locks; every outgoing
//! message is serialised once into [`Bytes`] and retransmissions reuse them.
//!
//! Choices this layer makes where the RFCs leave room (or where it deliberately
//! departs from them to keep the TU simple):
//!
//! * **Via stamping** (RFC 3261 §18.2.1, RFC 3581): every request passed up gets
//!   `received=<source ip>` on its top Via when the sent-by host is not that IP
//!   (hostnames never are), and always when the Via carries an empty `rport`,
//!   which is then filled with the source port. Absorbed retransmissions are not
//!   stamped (nobody sees them).
//! * **2xx retransmission by the layer**: in the server Accepted state the layer
//!   itself retransmits the 2xx (T1 doubling, capped at T2, unreliable transports
//!   only) until an ACK with the same Call-ID and CSeq number arrives. RFC 3261
//!   gives this job to the TU; doing it here keeps the TU free of timers. If Timer
//!   L fires with no ACK, [`TuEvent::AckTimeout`] is emitted.
//! * **RFC 2543 requests** (branch missing or without the magic cookie) are
//!   matched by a synthetic key made of Call-ID, CSeq number and the whole top Via
//!   element. That is cheap and absorbs their retransmissions, matches a CANCEL to
//!   its INVITE and an ACK for a non-2xx to its INVITE, but ignores the To tag and
//!   Request-URI of the full §17.2.3 fallback.
//! * **Timer C** (default 180 s, reset on each provisional): when it fires the TU
//!   gets [`TuEvent::Timeout`]. If a provisional had arrived the layer also sends a
//!   CANCEL itself and keeps the INVITE transaction alive to ACK the expected 487;
//!   from then on that transaction is silent towards the TU except that a late 2xx
//!   is reported as [`TuEvent::StrayResponse`] (so the TU ACKs and BYEs it).
//! * **CANCEL before any provisional** ([`TransactionLayer::cancel`] returns
//!   `Ok(None)`): the CANCEL goes out when the first provisional arrives, as a
//!   transaction the TU never hears of (only its [`TuEvent::Terminated`]).
//!   64*T1 after any CANCEL, an INVITE that still has no final response is
//!   reported as [`TuEvent::Timeout`] and destroyed (§9.1).
//! * Timer D is a fixed 32 s on unreliable transports (not derived from T1).

mod client;
mod server;
mod timers;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::peer::{Peer, Transmit};
use timers::{Entry, Slots, TimerKind, TimerQueue, SLOT_COUNT};

/// Timer values of RFC 3261 §17 (Table 4) and the server's 100 Trying delay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxConfig {
    /// RTT estimate; retransmission intervals start here (500 ms).
    pub t1: Duration,
    /// Maximum retransmission interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Maximum time a message stays in the network (5 s).
    pub t4: Duration,
    /// How long a client INVITE may go without a final response after its last provisional (180 s).
    pub timer_c: Duration,
    /// How long a server INVITE waits for the TU before sending 100 Trying itself (200 ms).
    pub trying_delay: Duration,
}

impl Default for TxConfig {
    fn default() -> Self {
        TxConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_c: Duration::from_secs(180),
            trying_delay: Duration::from_millis(200),
        }
    }
}

impl TxConfig {
    /// Timers B, F, H, J, L and M, and the CANCEL guard.
    fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}

/// Timer D on unreliable transports (RFC 3261 §17.1.1.2: "at least 32 seconds").
const TIMER_D: Duration = Duration::from_secs(32);

/// Identifies a transaction for the lifetime of a [`TransactionLayer`]; never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

/// What the layer tells the transaction user (the registrar / B2BUA engine).
#[derive(Debug, Clone)]
pub enum TuEvent {
    /// A new request for the TU (a new server transaction), its top Via stamped.
    /// For CANCEL, `cancels` is the server INVITE transaction it matches (RFC 3261
    /// §9.2: same branch and sent-by, method INVITE) if that still exists, in any
    /// state; the layer has answered neither. The TU answers the CANCEL 200 (481
    /// if `cancels` is `None`) and sends 487 on the INVITE if it has not answered
    /// it yet ([`TransactionLayer::send_response`] refuses a second final).
    Request {
        /// The new server transaction; answer with [`TransactionLayer::send_response`].
        tx: TxId,
        /// The request.
        request: rsip::Request,
        /// Where it came from (responses go back there).
        from: Peer,
        /// For CANCEL: the INVITE server transaction being cancelled.
        cancels: Option<TxId>,
    },
    /// An ACK that matched no INVITE server transaction in Completed state, i.e.
    /// the ACK for a 2xx, which belongs to the dialog. If it matched a server
    /// INVITE in Accepted state (same Call-ID and CSeq number), that transaction's
    /// 2xx retransmissions have been stopped. Retransmitted ACKs are delivered too.
    Ack {
        /// The ACK, its top Via stamped.
        request: rsip::Request,
        /// Where it came from.
        from: Peer,
    },
    /// A response on a client transaction: provisionals, the final, and for
    /// INVITE every further 2xx while in Accepted (retransmissions and forks), so
    /// the TU can (re-)send its ACK.
    Response {
        /// The client transaction.
        tx: TxId,
        /// The response.
        response: rsip::Response,
    },
    /// A 2xx to INVITE that matched no transaction (forked or late), or arrived
    /// after the transaction was given up (Timer C): the TU must ACK it and, if
    /// unwanted, BYE it.
    StrayResponse {
        /// The 2xx.
        response: rsip::Response,
        /// Who sent it.
        from: Peer,
    },
    /// Timer B, F or C fired, no final response came within 64*T1 of a CANCEL,
    /// or [`TransactionLayer::transport_error`] was called: treat it as a 408.
    Timeout {
        /// The transaction that failed.
        tx: TxId,
    },
    /// A server INVITE that sent a 2xx never got its ACK within 64*T1 (Timer L):
    /// the TU should BYE the dialog.
    AckTimeout {
        /// The server INVITE transaction.
        tx: TxId,
    },
    /// A transaction was destroyed; its id will never appear again.
    Terminated {
        /// The destroyed transaction.
        tx: TxId,
    },
}

/// Why the layer refused a TU call.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// The transaction does not exist (never did, or already terminated).
    #[error("no such transaction {0:?}")]
    UnknownTransaction(TxId),
    /// The call needs another kind of transaction (e.g. a response on a client one).
    #[error("transaction {tx:?} is not a {expected} transaction")]
    WrongKind {
        /// The transaction named by the TU.
        tx: TxId,
        /// What the call needed.
        expected: &'static str,
    },
    /// The transaction's state does not allow this (e.g. a second final response,
    /// or CANCEL after a final response).
    #[error("transaction {tx:?} is in state {state}, cannot {action}")]
    InvalidState {
        /// The transaction named by the TU.
        tx: TxId,
        /// Its current state.
        state: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// A response status outside 100..=699.
    #[error("invalid response status {0}")]
    InvalidStatus(u16),
}

/// Counters for metrics. All are cumulative since the layer was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Messages re-sent: timer retransmissions (A, E, G, 2xx) and responses or
    /// ACKs re-sent because a retransmission came in.
    pub retransmissions_sent: u64,
    /// Inbound retransmissions (requests, responses, ACKs) absorbed by a transaction.
    pub retransmissions_absorbed: u64,
    /// Timeouts reported to the TU as [`TuEvent::Timeout`] (B, F, C, CANCEL guard;
    /// not transport errors).
    pub timeouts: u64,
    /// Server INVITEs whose final response was never ACKed (Timer H, and Timer L
    /// without ACK, which is also reported as [`TuEvent::AckTimeout`]).
    pub ack_timeouts: u64,
    /// Responses matching no client transaction and dropped (stray 2xx to INVITE
    /// are passed up instead and not counted here).
    pub unmatched_responses: u64,
    /// Inbound messages without a usable Via, CSeq or Call-ID, dropped.
    pub malformed_dropped: u64,
    /// Calls to [`TransactionLayer::transport_error`] that hit a live transaction.
    pub transport_errors: u64,
}

/// Which of the four §17 state machines a transaction runs (the RFC's names).
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxKind {
    ClientInvite,
    ClientNonInvite,
    ServerInvite,
    ServerNonInvite,
}

impl TxKind {
    fn is_client(self) -> bool {
        matches!(self, TxKind::ClientInvite | TxKind::ClientNonInvite)
    }
}

/// Union of the states of the four machines (RFC 3261 figures 5–8, RFC 6026).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Calling,
    Trying,
    Proceeding,
    Completed,
    Accepted,
    Confirmed,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Calling => "Calling",
            State::Trying => "Trying",
            State::Proceeding => "Proceeding",
            State::Completed => "Completed",
            State::Accepted => "Accepted",
            State::Confirmed => "Confirmed",
        }
    }
}

/// rsip's `Method` is not `Hash`; this is its discriminant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct MethodKey(u8);

impl MethodKey {
    fn of(method: rsip::Method) -> Self {
        use rsip::Method::*;
        MethodKey(match method {
            Ack => 0,
            Bye => 1,
            Cancel => 2,
            Info => 3,
            Invite => 4,
            Message => 5,
            Notify => 6,
            Options => 7,
            PRack => 8,
            Publish => 9,
            Refer => 10,
            Register => 11,
            Subscribe => 12,
            Update => 13,
        })
    }
}

/// Client or server side: a request we sent and one we received may share a branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Side {
    Client,
    Server,
}

/// The §17.1.3 / §17.2.3 matching key. ACK is looked up under INVITE; CANCEL is
/// its own method. `sent_by` is empty on the client side (our own branches are
/// unique).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TxKey {
    branch: Box<str>,
    sent_by: Box<str>,
    method: MethodKey,
    side: Side,
}

/// Finds the server INVITE in Accepted state an ACK for its 2xx belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct AckKey {
    call_id: Box<str>,
    cseq: u32,
}

/// Hasher for [`TxId`]s: they are sequential and not attacker-controlled, so a
/// multiply is enough (SipHash stays on the keys built from network strings).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<V> = HashMap<TxId, V, BuildHasherDefault<IdHasher>>;

/// One transaction's state.
#[derive(Debug)]
struct Transaction {
    kind: TxKind,
    state: State,
    key: TxKey,
    /// Where requests go (client) or where the request came from (server).
    peer: Peer,
    /// Client: the request. Server: the latest response sent.
    last: Option<Bytes>,
    /// Client INVITE: the ACK for a non-2xx final. Server INVITE: the prebuilt
    /// 100 Trying.
    aux: Option<Bytes>,
    /// Current retransmission interval of the retransmission slot.
    interval: Duration,
    slots: Slots,
    /// Client INVITE: headers for the ACK and CANCEL.
    invite: Option<Box<wire::InviteHeaders>>,
    /// Server INVITE: the index key an ACK for a 2xx is matched with.
    ack_key: Option<AckKey>,
    /// Client INVITE: the TU asked to cancel (CANCEL sent, or pending a provisional).
    cancel_requested: bool,
    /// No TU events but Terminated (and StrayResponse for a late 2xx).
    silent: bool,
    /// Server INVITE in Accepted: the ACK for the 2xx arrived.
    acked: bool,
}

impl Transaction {
    fn new(kind: TxKind, state: State, key: TxKey, peer: Peer) -> Self {
        Transaction {
            kind,
            state,
            key,
            peer,
            last: None,
            aux: None,
            interval: Duration::ZERO,
            slots: [None; SLOT_COUNT],
            invite: None,
            ack_key: None,
            cancel_requested: false,
            silent: false,
            acked: false,
        }
    }

    fn reliable(&self) -> bool {
        self.peer.transport.is_reliable()
    }
}

/// The transaction layer: every live client and server transaction, their timers,
/// and the queues of messages to send and events for the TU.
#[derive(Debug)]
pub struct TransactionLayer {
    config: TxConfig,
    next_id: u64,
    txs: IdMap<Transaction>,
    index: HashMap<TxKey, TxId>,
    /// Server INVITEs in Accepted state, for ACKs of 2xx (different branch).
    accepted: HashMap<AckKey, TxId>,
    timers: TimerQueue,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TuEvent>,
    stats: TxStats,
}

impl TransactionLayer {
    /// An empty layer with the given timer values.
    pub fn new(config: TxConfig) -> Self {
        TransactionLayer {
            config,
            next_id: 1,
            txs: IdMap::default(),
            index: HashMap::new(),
            accepted: HashMap::new(),
            timers: TimerQueue::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: TxStats::default(),
        }
    }

    /// The timer values this layer runs with.
    pub fn config(&self) -> &TxConfig {
        &self.config
    }

    /// Feeds a message parsed off the wire, received from `from`.
    ///
    /// Requests get their top Via stamped (see the module docs), then either match
    /// a server transaction (a retransmission: absorbed, and the latest response
    /// re-sent where the RFC says so) or create one ([`TuEvent::Request`]). ACKs
    /// complete a server INVITE or are passed up as [`TuEvent::Ack`]. Responses
    /// are matched to a client transaction by top-Via branch and CSeq method;
    /// unmatched ones are counted and dropped, except a 2xx to INVITE, which is
    /// passed up as [`TuEvent::StrayResponse`]. Messages lacking a usable Via,
    /// CSeq or Call-ID are counted and dropped.
    pub fn handle_inbound(&mut self, msg: rsip::SipMessage, from: Peer, now: Instant) {
        match msg {
            rsip::SipMessage::Request(request) => self.handle_request(request, from, now),
            rsip::SipMessage::Response(response) => self.handle_response(response, from, now),
        }
        self.maybe_compact();
    }

    /// Sends a message outside any transaction: the ACK for a 2xx, a stateless
    /// reply (e.g. 400 to a request whose Via could still be read).
    pub fn send_stateless(&mut self, payload: Bytes, to: Peer) {
        self.transmits.push_back(Transmit { peer: to, payload });
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.timers.pop_due(now) {
            match self.check_entry(&entry) {
                EntryStatus::Stale => self.timers.popped_stale(),
                EntryStatus::Postponed(at) => self.timers.requeue(entry, at),
                EntryStatus::Due => {
                    if let Some(tx) = self.txs.get_mut(&entry.tx) {
                        tx.slots[entry.kind.slot()] = None;
                    }
                    self.fire(entry.tx, entry.kind, now);
                }
            }
        }
        // Clear stale or postponed entries off the top so next_deadline is exact.
        while let Some(entry) = self.timers.peek() {
            match self.check_entry(&entry) {
                EntryStatus::Due => break,
                EntryStatus::Stale => {
                    self.timers.pop();
                    self.timers.popped_stale();
                }
                EntryStatus::Postponed(at) => {
                    self.timers.pop();
                    self.timers.requeue(entry, at);
                }
            }
        }
        self.maybe_compact();
    }

    /// When [`Self::handle_timeout`] should next be called. Cancelled timers are
    /// removed lazily, so this may be earlier than necessary (a harmless early
    /// wake-up), never later.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|e| e.at)
    }

    /// The next message to put on the wire.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TuEvent> {
        self.events.pop_front()
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Cumulative counters.
    pub fn stats(&self) -> TxStats {
        self.stats
    }

    /// The driver could not deliver a message of `tx` (e.g. TCP connect failed):
    /// the TU gets [`TuEvent::Timeout`] and the transaction is destroyed. Unknown
    /// ids are ignored (the transaction may have ended meanwhile).
    pub fn transport_error(&mut self, tx: TxId, _now: Instant) {
        let Some(t) = self.txs.get(&tx) else {
            return;
        };
        self.stats.transport_errors += 1;
        if !t.silent {
            self.events.push_back(TuEvent::Timeout { tx });
        }
        self.terminate(tx);
    }

    fn alloc_id(&mut self) -> TxId {
        let id = TxId(self.next_id);
        self.next_id += 1;
        id
    }

    fn transmit(&mut self, peer: Peer, payload: Bytes) {
        self.transmits.push_back(Transmit { peer, payload });
    }

    /// Registers a new transaction under its key. A key collision means the TU
    /// reused a branch (client) or two peers collided; the newest wins the index.
    fn insert(&mut self, id: TxId, tx: Transaction) {
        if let Some(old) = self.index.insert(tx.key.clone(), id) {
            tracing::debug!(?old, new = ?id, "transaction key reused");
        }
        self.txs.insert(id, tx);
    }

    fn arm(&mut self, id: TxId, kind: TimerKind, at: Instant) {
        if let Some(tx) = self.txs.get_mut(&id) {
            self.timers.arm(&mut tx.slots, id, kind, at);
        }
    }

    /// Destroys a transaction and tells the TU.
    fn terminate(&mut self, id: TxId) {
        let Some(mut tx) = self.txs.remove(&id) else {
            return;
        };
        self.timers.disarm_all(&mut tx.slots);
        if self.index.get(&tx.key) == Some(&id) {
            self.index.remove(&tx.key);
        }
        if let Some(key) = &tx.ack_key {
            if self.accepted.get(key) == Some(&id) {
                self.accepted.remove(key);
            }
        }
        self.events.push_back(TuEvent::Terminated { tx: id });
    }

    fn check_entry(&self, entry: &Entry) -> EntryStatus {
        let armed = self
            .txs
            .get(&entry.tx)
            .and_then(|tx| tx.slots[entry.kind.slot()]);
        match armed {
            Some(a) if a.generation == entry.generation => {
                if a.deadline > entry.at {
                    EntryStatus::Postponed(a.deadline)
                } else {
                    EntryStatus::Due
                }
            }
            _ => EntryStatus::Stale,
        }
    }

    fn maybe_compact(&mut self) {
        let txs = &self.txs;
        self.timers.maybe_compact(|e| {
            txs.get(&e.tx)
                .and_then(|tx| tx.slots[e.kind.slot()])
                .is_some_and(|a| a.generation == e.generation)
        });
    }

    fn fire(&mut self, id: TxId, kind: TimerKind, now: Instant) {
        use TimerKind::*;
        match kind {
            A | B | C | D | M | CancelGuard => self.client_invite_timer(id, kind, now),
            E | F | K => self.client_non_invite_timer(id, kind, now),
            G | H | I | L | Trying | Retransmit2xx => self.server_invite_timer(id, kind, now),
            J => self.terminate(id),
        }
    }
}

/// What to do with a heap entry that surfaced.
enum EntryStatus {
    /// Its timer was cancelled or re-armed, or its transaction is gone.
    Stale,
    /// Its timer was moved later.
    Postponed(Instant),
    /// Fire it.
    Due,
}
