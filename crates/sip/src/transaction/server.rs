//! Server transactions: RFC 3261 §17.2.1 (INVITE, with the RFC 6026 Accepted
//! state and 2xx retransmission done here) and §17.2.2 (non-INVITE), matching
//! per §17.2.3 and CANCEL matching per §9.2.

use std::time::Instant;

use bytes::Bytes;

use super::timers::{TimerKind, SLOT_AUX, SLOT_RETRANSMIT, SLOT_TIMEOUT};
use super::wire::{self, MAGIC_COOKIE};
use super::{
    AckKey, MethodKey, Side, State, Transaction, TransactionLayer, TuEvent, TxError, TxId, TxKey,
    TxKind,
};
use crate::peer::Peer;

/// What identifies a request for matching, read once off its headers.
struct RequestIds {
    branch: Box<str>,
    sent_by: Box<str>,
    call_id: Box<str>,
    cseq: u32,
}

fn request_ids(request: &rsip::Request) -> Option<RequestIds> {
    let via = wire::top_via(&request.headers)?;
    let (start, end) = wire::first_element(via);
    let element = &via[start..end];
    let parts = wire::parse_via(element)?;
    let call_id = wire::call_id(&request.headers)?;
    let (cseq, _) = wire::cseq(&request.headers)?;
    let branch: Box<str> = match parts.branch {
        Some(b) if b.starts_with(MAGIC_COOKIE) => b.into(),
        // RFC 2543 peer: its retransmissions, CANCEL and non-2xx ACK repeat the
        // same Via, Call-ID and CSeq number, which is all the matching we need.
        _ => format!("{call_id}\0{cseq}\0{element}").into(),
    };
    Some(RequestIds {
        branch,
        sent_by: parts.sent_by.to_ascii_lowercase().into(),
        call_id: call_id.into(),
        cseq,
    })
}

impl TransactionLayer {
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
            .get_mut(&tx)
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
        match (t.kind, t.state, code) {
            (TxKind::ServerInvite, State::Proceeding, 100..=199) => {
                self.timers.disarm(&mut t.slots, SLOT_AUX);
            }
            (TxKind::ServerInvite, State::Proceeding, 200..=299) => {
                t.state = State::Accepted;
                self.timers.disarm(&mut t.slots, SLOT_AUX);
                self.timers.arm(&mut t.slots, tx, TimerKind::L, now + t2);
                if !reliable {
                    t.interval = t1;
                    self.timers
                        .arm(&mut t.slots, tx, TimerKind::Retransmit2xx, now + t1);
                }
                if let Some(key) = t.ack_key.clone() {
                    self.accepted.insert(key, tx);
                }
            }
            // The TU repeating or replacing its 2xx; the retransmission timer goes on.
            (TxKind::ServerInvite, State::Accepted, 200..=299) => {}
            (TxKind::ServerInvite, State::Proceeding, _) => {
                t.state = State::Completed;
                self.timers.disarm(&mut t.slots, SLOT_AUX);
                if !reliable {
                    t.interval = t1;
                    self.timers.arm(&mut t.slots, tx, TimerKind::G, now + t1);
                }
                self.timers.arm(&mut t.slots, tx, TimerKind::H, now + t2);
            }
            (TxKind::ServerNonInvite, State::Trying | State::Proceeding, 100..=199) => {
                t.state = State::Proceeding;
            }
            (TxKind::ServerNonInvite, State::Trying | State::Proceeding, _) => {
                t.state = State::Completed;
                if reliable {
                    terminate = true;
                } else {
                    self.timers.arm(&mut t.slots, tx, TimerKind::J, now + t2);
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
        let payload = Bytes::from(response.to_string());
        t.last = Some(payload.clone());
        let peer = t.peer;
        self.transmit(peer, payload);
        if terminate {
            self.terminate(tx);
        }
        Ok(())
    }

    /// A request off the wire (§17.2.3 matching).
    pub(super) fn handle_request(&mut self, mut request: rsip::Request, from: Peer, now: Instant) {
        let Some(ids) = request_ids(&request) else {
            self.stats.malformed_dropped += 1;
            return;
        };
        let method = request.method;
        if method == rsip::Method::Ack {
            self.server_ack(request, from, ids, now);
            return;
        }
        let key = TxKey {
            branch: ids.branch,
            sent_by: ids.sent_by,
            method: MethodKey::of(method),
            side: Side::Server,
        };
        if let Some(&id) = self.index.get(&key) {
            self.server_retransmission(id);
            return;
        }

        wire::stamp_request(&mut request.headers, from.addr);
        let cancels = if method == rsip::Method::Cancel {
            let invite_key = TxKey {
                method: MethodKey::of(rsip::Method::Invite),
                ..key.clone()
            };
            self.index.get(&invite_key).copied()
        } else {
            None
        };
        let id = self.alloc_id();
        if method == rsip::Method::Invite {
            let mut tx = Transaction::new(TxKind::ServerInvite, State::Proceeding, key, from);
            let trying = wire::trying(&request);
            tx.ack_key = Some(AckKey {
                call_id: ids.call_id,
                cseq: ids.cseq,
            });
            if self.config.trying_delay.is_zero() {
                tx.last = Some(trying.clone());
                self.transmit(from, trying);
            } else {
                tx.aux = Some(trying);
            }
            self.insert(id, tx);
            if !self.config.trying_delay.is_zero() {
                self.arm(id, TimerKind::Trying, now + self.config.trying_delay);
            }
        } else {
            self.insert(
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
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        let resend = match (tx.kind, tx.state) {
            (TxKind::ServerInvite, State::Proceeding) => {
                if tx.last.is_none() {
                    // Nothing sent yet: the client is retransmitting, so answer 100 now.
                    tx.last = tx.aux.take();
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
    fn server_ack(
        &mut self,
        mut request: rsip::Request,
        from: Peer,
        ids: RequestIds,
        now: Instant,
    ) {
        let key = TxKey {
            branch: ids.branch,
            sent_by: ids.sent_by,
            method: MethodKey::of(rsip::Method::Invite),
            side: Side::Server,
        };
        let mut accepted = None;
        if let Some(&id) = self.index.get(&key) {
            if let Some(tx) = self.txs.get_mut(&id) {
                match tx.state {
                    State::Completed => {
                        tx.state = State::Confirmed;
                        self.timers.disarm(&mut tx.slots, SLOT_RETRANSMIT);
                        self.timers.disarm(&mut tx.slots, SLOT_TIMEOUT);
                        if tx.reliable() {
                            self.terminate(id);
                        } else {
                            let at = now + self.config.t4;
                            self.timers.arm(&mut tx.slots, id, TimerKind::I, at);
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
        let accepted = accepted.or_else(|| {
            let ack_key = AckKey {
                call_id: ids.call_id,
                cseq: ids.cseq,
            };
            self.accepted.get(&ack_key).copied()
        });
        if let Some(tx) = accepted.and_then(|id| self.txs.get_mut(&id)) {
            tx.acked = true;
            self.timers.disarm(&mut tx.slots, SLOT_RETRANSMIT);
        }
        wire::stamp_request(&mut request.headers, from.addr);
        self.events.push_back(TuEvent::Ack { request, from });
    }

    pub(super) fn server_invite_timer(&mut self, id: TxId, kind: TimerKind, now: Instant) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        match (kind, tx.state) {
            (TimerKind::Trying, State::Proceeding) if tx.last.is_none() => {
                tx.last = tx.aux.take();
                if let Some(trying) = tx.last.clone() {
                    let peer = tx.peer;
                    self.transmit(peer, trying);
                }
            }
            (TimerKind::G, State::Completed) | (TimerKind::Retransmit2xx, State::Accepted) => {
                if tx.acked {
                    return;
                }
                tx.interval = (tx.interval * 2).min(self.config.t2);
                let at = now + tx.interval;
                self.timers.arm(&mut tx.slots, id, kind, at);
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
                if !tx.acked {
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
