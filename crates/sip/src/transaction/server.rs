//! Server transactions: RFC 3261 §17.2.1 (INVITE, with the RFC 6026 Accepted
//! state and 2xx retransmission done here) and §17.2.2 (non-INVITE), matching
//! per §17.2.3 and CANCEL matching per §9.2.

use std::time::Instant;

use super::timers::{TimerKind, SLOT_AUX, SLOT_RETRANSMIT, SLOT_TIMEOUT};
use super::wire;
use super::{MethodKey, State, Transaction, TransactionLayer, TuEvent, TxError, TxId, TxKind};
use crate::peer::Peer;

impl TransactionLayer {
    /// Send a final response on a server transaction and forget the
    /// transaction at once, like a stateless server (RFC 3261 §8.2.7): no Timer J
    /// state is kept, so a retransmitted request reaches the TU again and is
    /// answered again. Right for idempotent requests a server sees in bulk
    /// (REGISTER, OPTIONS): at 15,000 REGISTERs/s, Timer J would otherwise hold
    /// about a million transactions and their responses for 32 s.
    ///
    /// On an INVITE only a 3xx–6xx is allowed (a 2xx needs its ACK matched):
    /// the response goes out once, without Timer G's retransmissions. That is
    /// how challenges and refusals of requests nobody authenticated are sent:
    /// a forged source address then draws one answer per request, not eleven
    /// (RFC 3261 §26.3.2.4), and no state is kept for it. The client's ACK
    /// matches nothing and reaches the TU, which ignores it.
    pub fn send_final_stateless(
        &mut self,
        tx: TxId,
        response: rsip::Response,
        now: Instant,
    ) -> Result<(), TxError> {
        let code = response.status_code.code();
        if !(200..=699).contains(&code) {
            return Err(TxError::InvalidStatus(code));
        }
        let t = self.txs.get(tx).ok_or(TxError::UnknownTransaction(tx))?;
        match t.kind {
            TxKind::ServerNonInvite => {}
            TxKind::ServerInvite if code >= 300 => {}
            _ => {
                return Err(TxError::WrongKind {
                    tx,
                    expected: "non-INVITE server (or INVITE with 3xx-6xx)",
                })
            }
        }
        self.send_response(tx, response, now)?;
        self.terminate(tx);
        Ok(())
    }

    /// Sends the TU's response on server transaction `tx`.
    ///
    /// INVITE: 1xx keep it in Proceeding (and stop the automatic 100 Trying); a
    /// 2xx moves it to Accepted, where the layer retransmits the 2xx until the
    /// ACK arrives (see the module docs) and may be given further 2xx; 3xx–6xx
    /// move it to Completed (Timers G and H). Non-INVITE: 1xx to Proceeding,
    /// final to Completed (Timer J). Any other response is refused.
    pub fn send_response(
        &mut self,
        tx: TxId,
        response: rsip::Response,
        now: Instant,
    ) -> Result<(), TxError> {
        let code = response.status_code.code();
        if !(100..=699).contains(&code) {
            return Err(TxError::InvalidStatus(code));
        }
        let t = self
            .txs
            .get_mut(tx)
            .ok_or(TxError::UnknownTransaction(tx))?;
        if t.kind.is_client() {
            return Err(TxError::WrongKind {
                tx,
                expected: "server",
            });
        }
        let reliable = t.reliable();
        let (t1, t2) = (self.config.t1, self.config.t1x64());
        let mut terminate = false;
        let mut index_accepted = false;
        match (t.kind, t.state, code) {
            (TxKind::ServerInvite, State::Proceeding, 100..=199) => {
                self.timers.disarm(&mut t.slots, SLOT_AUX);
            }
            (TxKind::ServerInvite, State::Proceeding, 200..=299) => {
                t.state = State::Accepted;
                self.timers.disarm(&mut t.slots, SLOT_AUX);
                self.timers.arm(&mut t.slots, tx, TimerKind::L, now, t2);
                if !reliable {
                    t.interval = t1;
                    self.timers
                        .arm(&mut t.slots, tx, TimerKind::Retransmit2xx, now, t1);
                }
                index_accepted = true;
            }
            // The TU repeating or replacing its 2xx; the retransmission timer goes on.
            (TxKind::ServerInvite, State::Accepted, 200..=299) => {}
            (TxKind::ServerInvite, State::Proceeding, _) => {
                t.state = State::Completed;
                self.timers.disarm(&mut t.slots, SLOT_AUX);
                if !reliable {
                    t.interval = t1;
                    self.timers.arm(&mut t.slots, tx, TimerKind::G, now, t1);
                }
                self.timers.arm(&mut t.slots, tx, TimerKind::H, now, t2);
            }
            (TxKind::ServerNonInvite, State::Trying | State::Proceeding, 100..=199) => {
                t.state = State::Proceeding;
            }
            (TxKind::ServerNonInvite, State::Trying | State::Proceeding, _) => {
                t.state = State::Completed;
                if reliable {
                    terminate = true;
                } else {
                    self.timers.arm(&mut t.slots, tx, TimerKind::J, now, t2);
                }
            }
            (_, state, _) => {
                return Err(TxError::InvalidState {
                    tx,
                    state: state.name(),
                    action: "send this response",
                });
            }
        }
        let payload = wire::encode_response(&response, &mut self.encode_buf);
        t.last = Some(payload.clone());
        let peer = t.peer;
        self.transmit(peer, payload);
        if index_accepted {
            self.index_accepted(tx);
        }
        if terminate {
            self.terminate(tx);
        }
        Ok(())
    }

    /// A request off the wire (§17.2.3 matching).
    pub(super) fn handle_request(&mut self, mut request: rsip::Request, from: Peer, now: Instant) {
        let Some(ids) = wire::request_ids(&request.headers) else {
            self.stats.malformed_dropped += 1;
            return;
        };
        let method = request.method;
        let stamp = wire::needs_stamp(&ids.via, from.addr);
        if method == rsip::Method::Ack {
            let digest = self.keys.server(MethodKey::of(rsip::Method::Invite), &ids);
            let matched = self.find(digest);
            let digest = self.keys.ack(ids.call_id, ids.cseq);
            let accepted = self.find_accepted(digest);
            self.server_ack(request, from, stamp, matched, accepted, now);
            return;
        }
        let digest = self.keys.server(MethodKey::of(method), &ids);
        if let Some(id) = self.find(digest) {
            self.server_retransmission(id);
            return;
        }
        let id = self.txs.reserve();
        // No live transaction has this key, so nothing to replace; the probe
        // runs over the cache lines the lookup just loaded.
        self.index.insert(digest, id, |_| false);
        let key = self.keys.stored(digest);
        let cancels = if method == rsip::Method::Cancel {
            let digest = self.keys.with_method(MethodKey::of(rsip::Method::Invite));
            self.find(digest)
        } else {
            None
        };
        let ack_key = (method == rsip::Method::Invite).then(|| {
            let digest = self.keys.ack(ids.call_id, ids.cseq);
            self.keys.stored(digest)
        });
        if stamp {
            wire::stamp_request(&mut request.headers, from.addr);
        }
        if method == rsip::Method::Invite {
            let mut tx = Transaction::new(TxKind::ServerInvite, State::Proceeding, key, from);
            let trying = wire::trying(&request);
            tx.inv().ack_key = ack_key;
            let delay = self.config.trying_delay;
            if delay.is_zero() {
                tx.last = Some(trying.clone());
                self.transmit(from, trying);
            } else {
                tx.inv().aux = Some(trying);
                self.timers
                    .arm(&mut tx.slots, id, TimerKind::Trying, now, delay);
            }
            self.txs.fill(id, tx);
        } else {
            self.txs.fill(
                id,
                Transaction::new(TxKind::ServerNonInvite, State::Trying, key, from),
            );
        }
        self.events.push_back(TuEvent::Request {
            tx: id,
            request,
            from,
            cancels,
        });
    }

    /// A request matched a live server transaction: absorb it, re-sending the
    /// latest response where §17.2.1 / §17.2.2 say so.
    fn server_retransmission(&mut self, id: TxId) {
        self.stats.retransmissions_absorbed += 1;
        let Some(tx) = self.txs.get_mut(id) else {
            return;
        };
        let resend = match (tx.kind, tx.state) {
            (TxKind::ServerInvite, State::Proceeding) => {
                if tx.last.is_none() {
                    // Nothing sent yet: the client is retransmitting, so answer 100 now.
                    tx.last = tx.inv().aux.take();
                    self.timers.disarm(&mut tx.slots, SLOT_AUX);
                }
                tx.last.clone()
            }
            (TxKind::ServerInvite, State::Completed)
            | (TxKind::ServerNonInvite, State::Proceeding | State::Completed) => tx.last.clone(),
            // Accepted: the layer's own 2xx timer does the retransmitting.
            _ => None,
        };
        if let Some(payload) = resend {
            let peer = tx.peer;
            self.stats.retransmissions_sent += 1;
            self.transmit(peer, payload);
        }
    }

    /// An ACK: completes a server INVITE that sent 3xx–6xx, or belongs to a 2xx
    /// and goes to the TU (stopping that 2xx's retransmissions if still running).
    /// `matched` is the server INVITE with the ACK's branch, `accepted` the one in
    /// Accepted state with its Call-ID and CSeq number.
    fn server_ack(
        &mut self,
        mut request: rsip::Request,
        from: Peer,
        stamp: bool,
        matched: Option<TxId>,
        accepted: Option<TxId>,
        now: Instant,
    ) {
        let mut accepted = accepted;
        if let Some(id) = matched {
            if let Some(tx) = self.txs.get_mut(id) {
                match tx.state {
                    State::Completed => {
                        tx.state = State::Confirmed;
                        self.timers.disarm(&mut tx.slots, SLOT_RETRANSMIT);
                        self.timers.disarm(&mut tx.slots, SLOT_TIMEOUT);
                        if tx.reliable() {
                            self.terminate(id);
                        } else {
                            let t4 = self.config.t4;
                            self.timers.arm(&mut tx.slots, id, TimerKind::I, now, t4);
                        }
                        return;
                    }
                    // RFC 2543 clients may reuse the INVITE's Via for the 2xx ACK.
                    State::Accepted => accepted = Some(id),
                    _ => {
                        self.stats.retransmissions_absorbed += 1;
                        return;
                    }
                }
            }
        }
        if let Some(tx) = accepted.and_then(|id| self.txs.get_mut(id)) {
            tx.inv().acked = true;
            self.timers.disarm(&mut tx.slots, SLOT_RETRANSMIT);
        }
        if stamp {
            wire::stamp_request(&mut request.headers, from.addr);
        }
        self.events.push_back(TuEvent::Ack { request, from });
    }

    pub(super) fn server_invite_timer(&mut self, id: TxId, kind: TimerKind, now: Instant) {
        let Some(tx) = self.txs.get_mut(id) else {
            return;
        };
        match (kind, tx.state) {
            (TimerKind::Trying, State::Proceeding) if tx.last.is_none() => {
                tx.last = tx.inv().aux.take();
                if let Some(trying) = tx.last.clone() {
                    let peer = tx.peer;
                    self.transmit(peer, trying);
                }
            }
            (TimerKind::G, State::Completed) | (TimerKind::Retransmit2xx, State::Accepted) => {
                if tx.acked() {
                    return;
                }
                tx.interval = (tx.interval * 2).min(self.config.t2);
                let interval = tx.interval;
                self.timers.arm(&mut tx.slots, id, kind, now, interval);
                if let Some(response) = tx.last.clone() {
                    let peer = tx.peer;
                    self.stats.retransmissions_sent += 1;
                    self.transmit(peer, response);
                }
            }
            (TimerKind::H, State::Completed) => {
                tracing::debug!(?id, "no ACK for a final response (Timer H)");
                self.stats.ack_timeouts += 1;
                self.terminate(id);
            }
            (TimerKind::L, State::Accepted) => {
                if !tx.acked() {
                    self.stats.ack_timeouts += 1;
                    self.events.push_back(TuEvent::AckTimeout { tx: id });
                }
                self.terminate(id);
            }
            (TimerKind::I, _) => self.terminate(id),
            _ => {}
        }
    }
}
