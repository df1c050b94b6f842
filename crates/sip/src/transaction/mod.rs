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
mod hash;
mod index;
mod server;
mod timers;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::peer::{Peer, Transmit};
use hash::{Digest, KeyHasher};
use index::Index;
use timers::{Entry, Slots, Status, TimerKind, TimerQueue};

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
    Client = 0,
    Server = 1,
}

/// Where the method sits in a matching key.
const KEY_METHOD: usize = 1;

/// Branch tags of a matching key.
const BRANCH_RFC3261: u8 = 1;
/// RFC 2543 request: Call-ID, CSeq number and top Via element stand in for the branch.
const BRANCH_RFC2543: u8 = 2;
/// A client request sent without a branch: the transaction id keeps it unique.
const BRANCH_NONE: u8 = 3;

/// A key a transaction is indexed under: the bytes, kept to confirm index
/// hits, and their digest, which is what the index maps (see [`hash`]).
#[derive(Debug)]
struct TxKey {
    digest: Digest,
    bytes: Box<[u8]>,
}

/// Builds and digests keys in a reusable buffer, so lookups allocate nothing
/// and a new transaction allocates its key once.
///
/// A matching key (§17.1.3 / §17.2.3) is: side, method (ACK is looked up under
/// INVITE; CANCEL is its own method), the length of the sent-by (u32 LE), the
/// sent-by in lowercase (empty on the client side: our own branches are
/// unique), then a tag and the branch. Lengths and tags keep the encoding
/// unambiguous whatever bytes a peer puts in its Via. The key of a server
/// INVITE in the `accepted` index is the CSeq number and the Call-ID.
#[derive(Debug, Default)]
struct Keys {
    buf: Vec<u8>,
    hasher: KeyHasher,
}

impl Keys {
    /// Starts a matching key: side, method, sent-by.
    fn start(&mut self, side: Side, method: MethodKey, sent_by: &str) -> &mut Vec<u8> {
        let buf = &mut self.buf;
        buf.clear();
        buf.push(side as u8);
        buf.push(method.0);
        buf.extend_from_slice(&(sent_by.len() as u32).to_le_bytes());
        buf.extend(sent_by.bytes().map(|b| b.to_ascii_lowercase()));
        buf
    }

    /// The digest of the key just built.
    fn digest(&self) -> Digest {
        self.hasher.digest(&self.buf)
    }

    /// The key just built, for a new transaction.
    fn stored(&self, digest: Digest) -> TxKey {
        TxKey {
            digest,
            bytes: self.buf.as_slice().into(),
        }
    }

    /// Whether `key` is the key just built.
    fn is(&self, key: &TxKey) -> bool {
        *key.bytes == *self.buf
    }

    /// The key of a client transaction (or of the response to one).
    fn client(&mut self, method: MethodKey, branch: &str) -> Digest {
        let buf = self.start(Side::Client, method, "");
        buf.push(BRANCH_RFC3261);
        buf.extend_from_slice(branch.as_bytes());
        self.digest()
    }

    /// The key of a client transaction whose request has no branch.
    fn client_without_branch(&mut self, method: MethodKey, id: TxId) -> Digest {
        let buf = self.start(Side::Client, method, "");
        buf.push(BRANCH_NONE);
        buf.extend_from_slice(&id.0.to_le_bytes());
        self.digest()
    }

    /// The key of a server transaction for a request with `ids`.
    fn server(&mut self, method: MethodKey, ids: &wire::RequestIds<'_>) -> Digest {
        let buf = self.start(Side::Server, method, ids.via.sent_by);
        match ids.via.branch {
            Some(b) if b.starts_with(wire::MAGIC_COOKIE) => {
                buf.push(BRANCH_RFC3261);
                buf.extend_from_slice(b.as_bytes());
            }
            // RFC 2543 peer: its retransmissions, CANCEL and non-2xx ACK repeat the
            // same Via, Call-ID and CSeq number, which is all the matching we need.
            _ => {
                buf.push(BRANCH_RFC2543);
                buf.extend_from_slice(&(ids.call_id.len() as u32).to_le_bytes());
                buf.extend_from_slice(ids.call_id.as_bytes());
                buf.extend_from_slice(&ids.cseq.to_le_bytes());
                buf.extend_from_slice(ids.element.as_bytes());
            }
        }
        self.digest()
    }

    /// `key` with another method (the CANCEL of a client INVITE).
    fn with_method_of(&mut self, key: &TxKey, method: MethodKey) -> Digest {
        self.buf.clear();
        self.buf.extend_from_slice(&key.bytes);
        self.with_method(method)
    }

    /// The key just built with another method (CANCEL matching its INVITE).
    fn with_method(&mut self, method: MethodKey) -> Digest {
        if let Some(m) = self.buf.get_mut(KEY_METHOD) {
            *m = method.0;
        }
        self.digest()
    }

    /// The `accepted` index key of a server INVITE.
    fn ack(&mut self, call_id: &str, cseq: u32) -> Digest {
        self.buf.clear();
        self.buf.extend_from_slice(&cseq.to_le_bytes());
        self.buf.extend_from_slice(call_id.as_bytes());
        self.digest()
    }
}

/// The live transactions, in a slab addressed by the [`TxId`] itself: its low
/// 32 bits are the slot, its high 32 bits the slot's generation, bumped each
/// time the slot is freed. A lookup is an index and a compare, with no hashing.
/// The slot freed last is reused first, while it is still in the cache. Ids are
/// never reused: generations start at 1 and only grow, and a slot whose
/// generation is exhausted is retired (a few hundred bytes per 4 billion
/// transactions through that one slot).
#[derive(Debug, Default)]
struct Slab {
    slots: Vec<SlabSlot>,
    free: Vec<u32>,
    live: usize,
}

#[derive(Debug)]
struct SlabSlot {
    generation: u32,
    tx: Option<Transaction>,
}

impl Slab {
    fn split(id: TxId) -> (usize, u32) {
        ((id.0 & 0xffff_ffff) as usize, (id.0 >> 32) as u32)
    }

    fn slot(&self, id: TxId) -> Option<&SlabSlot> {
        let (index, generation) = Self::split(id);
        self.slots
            .get(index)
            .filter(|slot| slot.generation == generation)
    }

    fn get(&self, id: TxId) -> Option<&Transaction> {
        self.slot(id)?.tx.as_ref()
    }

    fn get_mut(&mut self, id: TxId) -> Option<&mut Transaction> {
        let (index, generation) = Self::split(id);
        self.slots
            .get_mut(index)
            .filter(|slot| slot.generation == generation)?
            .tx
            .as_mut()
    }

    /// A fresh id, its slot empty until [`Self::fill`]ed or [`Self::release`]d.
    fn reserve(&mut self) -> TxId {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 transactions");
                self.slots.push(SlabSlot {
                    generation: 1,
                    tx: None,
                });
                index
            }
        };
        let generation = self.slots[index as usize].generation;
        TxId(u64::from(generation) << 32 | u64::from(index))
    }

    /// Puts the transaction of a reserved id in its slot.
    fn fill(&mut self, id: TxId, tx: Transaction) {
        let (index, generation) = Self::split(id);
        let slot = &mut self.slots[index];
        debug_assert!(slot.generation == generation && slot.tx.is_none());
        slot.tx = Some(tx);
        self.live += 1;
    }

    fn remove(&mut self, id: TxId) -> Option<Transaction> {
        let (index, generation) = Self::split(id);
        let slot = self
            .slots
            .get_mut(index)
            .filter(|slot| slot.generation == generation)?;
        let tx = slot.tx.take()?;
        self.live -= 1;
        self.free_slot(index);
        Some(tx)
    }

    /// Gives back a reserved id that got no transaction.
    fn release(&mut self, id: TxId) {
        let (index, generation) = Self::split(id);
        if self
            .slots
            .get(index)
            .is_some_and(|slot| slot.generation == generation && slot.tx.is_none())
        {
            self.free_slot(index);
        }
    }

    fn free_slot(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        if slot.generation < u32::MAX {
            slot.generation += 1;
            self.free.push(index as u32);
        }
    }

    fn len(&self) -> usize {
        self.live
    }
}

/// One transaction's state.
#[derive(Debug)]
struct Transaction {
    kind: TxKind,
    state: State,
    /// No TU events but Terminated (and StrayResponse for a late 2xx).
    silent: bool,
    key: TxKey,
    /// Where requests go (client) or where the request came from (server).
    peer: Peer,
    /// Client: the request. Server: the latest response sent.
    last: Option<Bytes>,
    /// Current retransmission interval of the retransmission slot.
    interval: Duration,
    slots: Slots,
    /// INVITE transactions only.
    invite: Option<Box<InviteState>>,
}

/// What only INVITE transactions need, boxed so that the others (all of a
/// registrar's) stay small.
#[derive(Debug, Default)]
struct InviteState {
    /// Client: the INVITE's headers for the ACK and CANCEL.
    headers: Option<wire::InviteHeaders>,
    /// Client: the ACK for a non-2xx final. Server: the prebuilt 100 Trying.
    aux: Option<Bytes>,
    /// Server: the `accepted` key an ACK for a 2xx is matched with.
    ack_key: Option<TxKey>,
    /// Client: the TU asked to cancel (CANCEL sent, or pending a provisional).
    cancel_requested: bool,
    /// Server in Accepted: the ACK for the 2xx arrived.
    acked: bool,
}

impl Transaction {
    fn new(kind: TxKind, state: State, key: TxKey, peer: Peer) -> Self {
        let invite = matches!(kind, TxKind::ClientInvite | TxKind::ServerInvite)
            .then(Box::<InviteState>::default);
        Transaction {
            kind,
            state,
            silent: false,
            key,
            peer,
            last: None,
            interval: Duration::ZERO,
            slots: Slots::default(),
            invite,
        }
    }

    fn reliable(&self) -> bool {
        self.peer.transport.is_reliable()
    }

    /// The INVITE part (created on demand, though INVITEs always have one).
    fn inv(&mut self) -> &mut InviteState {
        self.invite.get_or_insert_with(Box::default)
    }

    fn ack_key(&self) -> Option<&TxKey> {
        self.invite.as_ref()?.ack_key.as_ref()
    }

    fn cancel_requested(&self) -> bool {
        self.invite.as_ref().is_some_and(|i| i.cancel_requested)
    }

    fn acked(&self) -> bool {
        self.invite.as_ref().is_some_and(|i| i.acked)
    }

    fn aux(&self) -> Option<&Bytes> {
        self.invite.as_ref()?.aux.as_ref()
    }
}

/// The transaction layer: every live client and server transaction, their timers,
/// and the queues of messages to send and events for the TU.
#[derive(Debug)]
pub struct TransactionLayer {
    config: TxConfig,
    txs: Slab,
    /// Matching keys of live transactions.
    index: Index,
    /// Server INVITEs in Accepted state, for ACKs of 2xx (different branch).
    accepted: Index,
    timers: TimerQueue,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TuEvent>,
    stats: TxStats,
    /// Where lookup keys are built.
    keys: Keys,
    /// Where outgoing messages are serialised.
    encode_buf: String,
}

impl TransactionLayer {
    /// An empty layer with the given timer values.
    pub fn new(config: TxConfig) -> Self {
        TransactionLayer {
            config,
            txs: Slab::default(),
            index: Index::default(),
            accepted: Index::default(),
            timers: TimerQueue::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: TxStats::default(),
            keys: Keys::default(),
            encode_buf: String::new(),
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
            self.expire(entry, now);
        }
        // Clear stale or postponed entries off the top so next_deadline is exact.
        while let Some(entry) = self.timers.peek() {
            match self.check_entry(&entry) {
                Status::Due => break,
                Status::Stale => {
                    self.timers.pop();
                    self.timers.popped_stale();
                }
                Status::Postponed(at) => {
                    self.timers.pop();
                    self.timers.requeue(entry, at);
                }
            }
        }
        self.timers.shrink();
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
        self.txs.len() == 0
    }

    /// Cumulative counters.
    pub fn stats(&self) -> TxStats {
        self.stats
    }

    /// The driver could not deliver a message of `tx` (e.g. TCP connect failed):
    /// the TU gets [`TuEvent::Timeout`] and the transaction is destroyed. Unknown
    /// ids are ignored (the transaction may have ended meanwhile).
    pub fn transport_error(&mut self, tx: TxId, _now: Instant) {
        let Some(t) = self.txs.get(tx) else {
            return;
        };
        self.stats.transport_errors += 1;
        if !t.silent {
            self.events.push_back(TuEvent::Timeout { tx });
        }
        self.terminate(tx);
    }

    fn alloc_id(&mut self) -> TxId {
        self.txs.reserve()
    }

    fn transmit(&mut self, peer: Peer, payload: Bytes) {
        self.transmits.push_back(Transmit { peer, payload });
    }

    /// Registers a new transaction under its key. A key collision means the TU
    /// reused a branch (client) or two peers collided; the newest wins the index.
    fn insert(&mut self, id: TxId, tx: Transaction) {
        let txs = &self.txs;
        let same = |old: TxId| txs.get(old).is_some_and(|o| o.key.bytes == tx.key.bytes);
        if let Some(old) = self.index.insert(tx.key.digest, id, same) {
            tracing::debug!(?old, new = ?id, "transaction key reused");
        }
        self.txs.fill(id, tx);
    }

    /// The transaction indexed under the key just built in `self.keys`.
    fn find(&self, digest: Digest) -> Option<TxId> {
        // The key comparison keeps a digest collision from matching.
        self.index.find(digest, |id| {
            self.txs.get(id).is_some_and(|tx| self.keys.is(&tx.key))
        })
    }

    /// The server INVITE in Accepted state with the `accepted` key just built.
    fn find_accepted(&self, digest: Digest) -> Option<TxId> {
        self.accepted.find(digest, |id| {
            self.txs
                .get(id)
                .and_then(Transaction::ack_key)
                .is_some_and(|key| self.keys.is(key))
        })
    }

    /// Indexes a server INVITE that sent a 2xx, for the ACK (the newest
    /// transaction wins a Call-ID and CSeq, as with any key).
    fn index_accepted(&mut self, id: TxId) {
        let txs = &self.txs;
        let Some(key) = txs.get(id).and_then(Transaction::ack_key) else {
            return;
        };
        let same = |old: TxId| {
            txs.get(old)
                .and_then(Transaction::ack_key)
                .is_some_and(|o| o.bytes == key.bytes)
        };
        self.accepted.insert(key.digest, id, same);
    }

    fn arm(&mut self, id: TxId, kind: TimerKind, now: Instant, duration: Duration) {
        if let Some(tx) = self.txs.get_mut(id) {
            self.timers.arm(&mut tx.slots, id, kind, now, duration);
        }
    }

    /// Destroys a transaction and tells the TU.
    fn terminate(&mut self, id: TxId) {
        if let Some(tx) = self.txs.remove(id) {
            self.destroy(id, tx);
        }
    }

    /// Unindexes a transaction already removed from `txs` and tells the TU.
    fn destroy(&mut self, id: TxId, mut tx: Transaction) {
        self.timers.disarm_all(&mut tx.slots);
        self.index.remove(tx.key.digest, id);
        if let Some(key) = tx.ack_key() {
            self.accepted.remove(key.digest, id);
        }
        self.events.push_back(TuEvent::Terminated { tx: id });
    }

    /// Handles a timer entry that came due: drops it if stale, re-queues it if
    /// postponed, fires it otherwise.
    fn expire(&mut self, entry: Entry, now: Instant) {
        let Some(tx) = self.txs.get_mut(entry.tx) else {
            self.timers.popped_stale();
            return;
        };
        match tx.slots.check(&entry) {
            Status::Stale => self.timers.popped_stale(),
            Status::Postponed(at) => self.timers.requeue(entry, at),
            Status::Due => {
                tx.slots.fired(entry.kind);
                if entry.kind.just_terminates() {
                    self.terminate(entry.tx);
                } else {
                    self.fire(entry.tx, entry.kind, now);
                }
            }
        }
    }

    fn check_entry(&self, entry: &Entry) -> Status {
        self.txs
            .get(entry.tx)
            .map_or(Status::Stale, |tx| tx.slots.check(entry))
    }

    fn maybe_compact(&mut self) {
        let txs = &self.txs;
        self.timers.maybe_compact(|e| {
            txs.get(e.tx)
                .is_some_and(|tx| tx.slots.check(e) != Status::Stale)
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
