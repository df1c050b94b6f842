//! Client transactions: RFC 3261 §17.1.1 (INVITE, with the RFC 6026 Accepted
//! state and Timer C) and §17.1.2 (non-INVITE), plus CANCEL (§9.1).

use std::time::Instant;

use bytes::Bytes;

use super::timers::{TimerKind, SLOT_RETRANSMIT, SLOT_TIMEOUT};
use super::wire::{self, InviteHeaders};
use super::{
    MethodKey, State, Transaction, TransactionLayer, TuEvent, TxError, TxId, TxKind, TIMER_D,
};
use crate::peer::Peer;

impl TransactionLayer {
    /// Sends a request from the TU (anything but ACK) in a new client transaction.
    ///
    /// The request must carry a top Via with a `z9hG4bK` branch; responses are
    /// matched on it. A request without a branch still goes out, but no response
    /// can match it, so it ends in [`TuEvent::Timeout`]. It is serialised once,
    /// sent, and Timers A/B (INVITE, plus C) or E/F armed; A and E only on
    /// unreliable transports.
    ///
    /// An ACK passed here is sent statelessly (as [`Self::send_stateless`] would);
    /// the returned id belongs to no transaction and is reported
    /// [`TuEvent::Terminated`] at once.
    pub fn send_request(&mut self, request: rsip::Request, to: Peer, now: Instant) -> TxId {
        let id = self.alloc_id();
        let method = request.method;
        let payload = wire::encode_request(&request, &mut self.encode_buf);
        if method == rsip::Method::Ack {
            self.transmit(to, payload);
            self.txs.release(id);
            // Lets a driver that keys bookkeeping on the returned id drop it again.
            self.events.push_back(TuEvent::Terminated { tx: id });
            return id;
        }
        let digest = match wire::top_via(&request.headers).and_then(wire::via_branch) {
            Some(branch) => self.keys.client(MethodKey::of(method), branch),
            None => {
                tracing::warn!(?id, %method, "request sent without a Via branch: no response can match it");
                // Unique, so it cannot collide with a real branch.
                self.keys.client_without_branch(MethodKey::of(method), id)
            }
        };
        let key = self.keys.stored(digest);
        let invite = method == rsip::Method::Invite;
        let mut tx = if invite {
            let mut tx = Transaction::new(TxKind::ClientInvite, State::Calling, key, to);
            tx.inv().headers = Some(InviteHeaders::new(&request, payload.clone()));
            tx
        } else {
            Transaction::new(TxKind::ClientNonInvite, State::Trying, key, to)
        };
        tx.last = Some(payload.clone());
        tx.interval = self.config.t1;
        self.start_client(id, tx, payload, now);
        id
    }

    /// Asks to cancel a pending client INVITE (RFC 3261 §9.1).
    ///
    /// After a provisional response, the CANCEL (same Request-URI, Call-ID, From,
    /// To, CSeq number, top Via and Route as the INVITE) is sent in its own
    /// client transaction, whose id is returned. Before any provisional the
    /// CANCEL is remembered and sent when the first one arrives (`Ok(None)`); a
    /// repeated call also returns `Ok(None)`. Fails if `invite_tx` is not a
    /// client INVITE or already got a final response.
    pub fn cancel(&mut self, invite_tx: TxId, now: Instant) -> Result<Option<TxId>, TxError> {
        let tx = self
            .txs
            .get_mut(invite_tx)
            .ok_or(TxError::UnknownTransaction(invite_tx))?;
        if tx.kind != TxKind::ClientInvite {
            return Err(TxError::WrongKind {
                tx: invite_tx,
                expected: "client INVITE",
            });
        }
        match tx.state {
            State::Calling | State::Proceeding if tx.cancel_requested() => Ok(None),
            State::Calling => {
                tx.inv().cancel_requested = true;
                Ok(None)
            }
            State::Proceeding => {
                tx.inv().cancel_requested = true;
                Ok(self.send_cancel(invite_tx, false, now))
            }
            state => Err(TxError::InvalidState {
                tx: invite_tx,
                state: state.name(),
                action: "cancel",
            }),
        }
    }

    /// Registers a client transaction, sends its request and arms its timers.
    fn start_client(&mut self, id: TxId, tx: Transaction, payload: Bytes, now: Instant) {
        let reliable = tx.reliable();
        let peer = tx.peer;
        let invite = tx.kind == TxKind::ClientInvite;
        self.insert(id, tx);
        let t1 = self.config.t1;
        let t1x64 = self.config.t1x64();
        if invite {
            if !reliable {
                self.arm(id, TimerKind::A, now, t1);
            }
            self.arm(id, TimerKind::B, now, t1x64);
            self.arm(id, TimerKind::C, now, self.config.timer_c);
        } else {
            if !reliable {
                self.arm(id, TimerKind::E, now, t1);
            }
            self.arm(id, TimerKind::F, now, t1x64);
        }
        self.transmit(peer, payload);
    }

    /// Sends the CANCEL for a client INVITE in Proceeding and arms the guard that
    /// gives up on the INVITE 64*T1 later. `silent`: the TU never sees this CANCEL.
    fn send_cancel(&mut self, invite_id: TxId, silent: bool, now: Instant) -> Option<TxId> {
        let invite = self.txs.get(invite_id)?;
        let payload = invite.invite.as_ref()?.headers.as_ref()?.cancel();
        let digest = self
            .keys
            .with_method_of(&invite.key, MethodKey::of(rsip::Method::Cancel));
        let key = self.keys.stored(digest);
        let peer = invite.peer;
        self.arm(invite_id, TimerKind::CancelGuard, now, self.config.t1x64());

        let id = self.alloc_id();
        let mut tx = Transaction::new(TxKind::ClientNonInvite, State::Trying, key, peer);
        tx.last = Some(payload.clone());
        tx.interval = self.config.t1;
        tx.silent = silent;
        self.start_client(id, tx, payload, now);
        Some(id)
    }

    /// A response off the wire: match it to a client transaction (§17.1.3).
    pub(super) fn handle_response(&mut self, response: rsip::Response, from: Peer, now: Instant) {
        let code = response.status_code.code();
        let scan = wire::scan(&response.headers);
        let Some((_, cseq_method)) = scan.cseq.and_then(wire::parse_cseq) else {
            self.stats.malformed_dropped += 1;
            return;
        };
        let id = scan.via.and_then(wire::via_branch).and_then(|branch| {
            let digest = self.keys.client(MethodKey::of(cseq_method), branch);
            self.find(digest)
        });
        let Some(id) = id else {
            if cseq_method == rsip::Method::Invite && (200..300).contains(&code) {
                self.events
                    .push_back(TuEvent::StrayResponse { response, from });
            } else {
                self.stats.unmatched_responses += 1;
                tracing::trace!(code, %cseq_method, "unmatched response dropped");
            }
            return;
        };
        if !(100..=699).contains(&code) {
            self.stats.malformed_dropped += 1;
            return;
        }
        match self.txs.get(id).map(|t| t.kind) {
            Some(TxKind::ClientInvite) => {
                self.client_invite_response(id, response, code, from, now)
            }
            Some(TxKind::ClientNonInvite) => {
                self.client_non_invite_response(id, response, code, now)
            }
            _ => self.stats.unmatched_responses += 1,
        }
    }

    fn client_invite_response(
        &mut self,
        id: TxId,
        response: rsip::Response,
        code: u16,
        from: Peer,
        now: Instant,
    ) {
        let Some(tx) = self.txs.get_mut(id) else {
            return;
        };
        let silent = tx.silent;
        match (tx.state, code) {
            (State::Calling | State::Proceeding, 100..=199) => {
                let first = tx.state == State::Calling;
                tx.state = State::Proceeding;
                self.timers.disarm(&mut tx.slots, SLOT_RETRANSMIT);
                if first {
                    // Timer B only guards Calling.
                    self.timers.disarm(&mut tx.slots, SLOT_TIMEOUT);
                }
                if !silent {
                    let timer_c = self.config.timer_c;
                    self.timers
                        .postpone(&mut tx.slots, id, TimerKind::C, now, timer_c);
                }
                let cancel_now = first && tx.cancel_requested();
                if !silent {
                    self.events
                        .push_back(TuEvent::Response { tx: id, response });
                }
                if cancel_now {
                    // The TU already holds `Ok(None)` from cancel(): it never learns this id.
                    self.send_cancel(id, true, now);
                }
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                tx.state = State::Accepted;
                self.timers.disarm_all(&mut tx.slots);
                let t1x64 = self.config.t1x64();
                self.timers.arm(&mut tx.slots, id, TimerKind::M, now, t1x64);
                self.deliver_2xx(id, silent, response, from);
            }
            (State::Calling | State::Proceeding, _) => {
                tx.state = State::Completed;
                self.timers.disarm_all(&mut tx.slots);
                let ack = tx
                    .invite
                    .as_ref()
                    .and_then(|i| i.headers.as_ref())
                    .map(|h| h.ack(&response));
                tx.inv().aux = ack.clone();
                let peer = tx.peer;
                let reliable = tx.reliable();
                if !reliable {
                    self.timers
                        .arm(&mut tx.slots, id, TimerKind::D, now, TIMER_D);
                }
                if let Some(ack) = ack {
                    self.transmit(peer, ack);
                }
                if !silent {
                    self.events
                        .push_back(TuEvent::Response { tx: id, response });
                }
                if reliable {
                    self.terminate(id);
                }
            }
            (State::Accepted, 200..=299) => self.deliver_2xx(id, silent, response, from),
            (State::Completed, 300..=699) => {
                self.stats.retransmissions_absorbed += 1;
                if let Some(ack) = tx.aux().cloned() {
                    let peer = tx.peer;
                    self.stats.retransmissions_sent += 1;
                    self.transmit(peer, ack);
                }
            }
            (State::Completed, 200..=299) => {
                // A fork answered after another branch failed: not ours to ACK.
                self.events
                    .push_back(TuEvent::StrayResponse { response, from });
            }
            _ => self.stats.retransmissions_absorbed += 1,
        }
    }

    /// Passes a 2xx up; once the TU was told the call timed out, it is a stray.
    fn deliver_2xx(&mut self, id: TxId, silent: bool, response: rsip::Response, from: Peer) {
        if silent {
            self.events
                .push_back(TuEvent::StrayResponse { response, from });
        } else {
            self.events
                .push_back(TuEvent::Response { tx: id, response });
        }
    }

    fn client_non_invite_response(
        &mut self,
        id: TxId,
        response: rsip::Response,
        code: u16,
        now: Instant,
    ) {
        let Some(tx) = self.txs.get_mut(id) else {
            return;
        };
        let silent = tx.silent;
        match tx.state {
            State::Trying | State::Proceeding if code < 200 => {
                tx.state = State::Proceeding;
                if !silent {
                    self.events
                        .push_back(TuEvent::Response { tx: id, response });
                }
            }
            State::Trying | State::Proceeding => {
                tx.state = State::Completed;
                self.timers.disarm_all(&mut tx.slots);
                let reliable = tx.reliable();
                if !reliable {
                    let t4 = self.config.t4;
                    self.timers.arm(&mut tx.slots, id, TimerKind::K, now, t4);
                }
                if !silent {
                    self.events
                        .push_back(TuEvent::Response { tx: id, response });
                }
                if reliable {
                    self.terminate(id);
                }
            }
            _ => self.stats.retransmissions_absorbed += 1,
        }
    }

    pub(super) fn client_invite_timer(&mut self, id: TxId, kind: TimerKind, now: Instant) {
        let Some(tx) = self.txs.get_mut(id) else {
            return;
        };
        match (kind, tx.state) {
            (TimerKind::A, State::Calling) => {
                // No T2 cap for INVITE requests (§17.1.1.2).
                tx.interval *= 2;
                let interval = tx.interval;
                self.timers
                    .arm(&mut tx.slots, id, TimerKind::A, now, interval);
                if let Some(request) = tx.last.clone() {
                    let peer = tx.peer;
                    self.stats.retransmissions_sent += 1;
                    self.transmit(peer, request);
                }
            }
            (TimerKind::B, State::Calling) => self.fail(id),
            (TimerKind::C, State::Calling) => self.fail(id),
            (TimerKind::C, State::Proceeding) => {
                // Tell the TU now (it treats this as 408) but keep the transaction
                // to CANCEL the INVITE and ACK the final response that follows.
                let was_silent = tx.silent;
                tx.silent = true;
                let cancel = !tx.cancel_requested();
                tx.inv().cancel_requested = true;
                if !was_silent {
                    self.stats.timeouts += 1;
                    self.events.push_back(TuEvent::Timeout { tx: id });
                }
                if cancel {
                    self.send_cancel(id, true, now);
                }
            }
            (TimerKind::CancelGuard, State::Calling | State::Proceeding) => self.fail(id),
            (TimerKind::D | TimerKind::M, _) => self.terminate(id),
            _ => {}
        }
    }

    pub(super) fn client_non_invite_timer(&mut self, id: TxId, kind: TimerKind, now: Instant) {
        let Some(tx) = self.txs.get_mut(id) else {
            return;
        };
        match (kind, tx.state) {
            (TimerKind::E, State::Trying | State::Proceeding) => {
                tx.interval = if tx.state == State::Proceeding {
                    self.config.t2
                } else {
                    (tx.interval * 2).min(self.config.t2)
                };
                let interval = tx.interval;
                self.timers
                    .arm(&mut tx.slots, id, TimerKind::E, now, interval);
                if let Some(request) = tx.last.clone() {
                    let peer = tx.peer;
                    self.stats.retransmissions_sent += 1;
                    self.transmit(peer, request);
                }
            }
            (TimerKind::F, State::Trying | State::Proceeding) => self.fail(id),
            (TimerKind::K, _) => self.terminate(id),
            _ => {}
        }
    }

    /// Reports a timeout to the TU (unless it already gave up on it) and destroys it.
    fn fail(&mut self, id: TxId) {
        if let Some(tx) = self.txs.get(id) {
            if !tx.silent {
                self.stats.timeouts += 1;
                self.events.push_back(TuEvent::Timeout { tx: id });
            }
        }
        self.terminate(id);
    }
}
