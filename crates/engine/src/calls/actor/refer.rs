//! Transfer by REFER (RFC 3515, RFC 5589) on every answered two-party call:
//! a plain relayed call between two phones as well as a call an application
//! bridged. Either party may transfer the other, blind (Refer-To a number)
//! or attended (Refer-To with Replaces naming the transferor's other call).
//!
//! A REFER is checked before it is accepted (a target we can reach, a
//! Replaces naming a live dialog): one we cannot honour gets a 4xx/5xx and
//! the call goes on untouched. An accepted one gets 202 and the implicit
//! subscription's NOTIFYs with sipfrag progress (100 Trying, 180 Ringing,
//! then the final answer of the target), after which the transferor's leg is
//! released. The party that stays is always leg A: when the caller transfers
//! the callee away, the legs are swapped first. A plain call becomes an
//! application-driven one for the transfer (its media a processing session:
//! the transferee hears ringback while the target rings), and hangs up when
//! the transferred call ends. Its record is closed as BLIND_TRANSFER or
//! ATTENDED_TRANSFER and the transferred conversation gets a record of its
//! own, so every leg's talk time is counted once.

use super::{Call, Pending, Side};
use crate::base::context::now_ms;
use crate::calls::router::{self, Route};
use crate::calls::HangupCause;
use rsip::headers::Header;
use rsip::{Method, Request};
use sip::dialog::Dialog;
use sip::endpoint::{ClientEvent, Endpoint};
use sip::message::{self, status, status_with_reason, SetBody};
use sip::transaction::TxId;
use std::sync::atomic::Ordering;

/// The phone that asked for a transfer, while the outcome is pending: its
/// leg stays up (without media) to receive the NOTIFYs.
pub(super) struct Transferor {
    ep: Endpoint,
    dialog: Dialog,
    contact: String,
    /// The highest progress code notified so far.
    notified: u16,
}

/// What an accepted REFER asks for.
pub(super) enum ReferKind {
    /// Blind: call this number and connect the transferee to it.
    Blind(String),
    /// Attended: join the transferee with the far party of the dialog this
    /// Call-ID names (the transferor's consultation call).
    Attended(String),
}

impl Call {
    /// What a REFER asks for, or the answer for one we cannot honour.
    pub(super) fn check_refer(&self, req: &Request) -> Result<ReferKind, (u16, &'static str)> {
        let Some(target) = refer_target(req) else {
            return Err((400, "Bad Refer-To"));
        };
        if let Some(call_id) = refer_replaces(req) {
            let known = self.ctx.dialogs.contains(&call_id)
                && !self.forks.iter().any(|f| f.dialog.call_id == call_id)
                && self.a_call_id != call_id;
            if !known {
                return Err((481, "Replaced Call Does Not Exist"));
            }
            // RFC 3891 §6: only the party of the replaced dialog may replace
            // it; a phone may not take over a stranger's call whose Call-ID
            // it learnt.
            let transferor = message::call_id(req).and_then(|c| self.ctx.dialogs.user(c));
            let owner = self.ctx.dialogs.user(&call_id);
            if transferor.is_none() || transferor != owner {
                return Err((403, "Replaced Call Is Not Yours"));
            }
            return Ok(ReferKind::Attended(call_id));
        }
        let settings = self.ctx.callcenter.get();
        match router::route_call(&target, &self.ctx.directory, &self.ctx.cfg, &settings) {
            Route::Extension(n) if self.ctx.registrar.lookup(&n, now_ms()).is_empty() => {
                Err((480, "Transfer Target Unavailable"))
            }
            Route::Extension(n) => Ok(ReferKind::Blind(n)),
            Route::App(_) => Err((501, "Transfer To An Application Not Supported")),
            // Out through the outbound rule's gateways, when the phone asking
            // for it may dial out itself.
            Route::Outbound(_) => {
                let transferor = message::call_id(req).and_then(|c| self.ctx.dialogs.user(c));
                match transferor.and_then(|u| self.ctx.directory.get(&u)) {
                    Some(ext) if ext.allow_outbound => Ok(ReferKind::Blind(target)),
                    _ => Err((403, "Outbound Calls Not Allowed")),
                }
            }
            Route::NotFound => Err((404, "Transfer Target Not Found")),
        }
    }

    /// Answers a REFER we will not carry out; the call goes on.
    pub(super) fn refuse_refer(&self, ep: &Endpoint, tx: TxId, req: &Request, why: (u16, &str)) {
        tracing::info!("call {}: REFER refused: {} {}", self.id, why.0, why.1);
        self.ctx
            .metrics
            .refer_rejects
            .fetch_add(1, Ordering::Relaxed);
        ep.respond(
            tx,
            message::response(req, status_with_reason(why.0, why.1), None),
        );
    }

    /// REFER in a plain relayed call (no application), from either party.
    pub(super) fn on_plain_refer(&mut self, side: Side, tx: TxId, req: Request) {
        let ep = self.ep(side).clone();
        let kind = match self.check_refer(&req) {
            Ok(k) => k,
            Err(why) => return self.refuse_refer(&ep, tx, &req, why),
        };
        if self.winner.is_none() {
            return self.refuse_refer(&ep, tx, &req, (481, "Call Does Not Exist"));
        }
        if self.formats.iter().all(Option::is_none) {
            // Relayed in a codec we cannot decode: no ringback, no bridge.
            return self.refuse_refer(&ep, tx, &req, (488, "Transfer Needs A Codec We Decode"));
        }
        // The transferee stays as leg A of a processing session.
        self.ensure_session();
        let kept = if side == Side::A {
            self.swap_sides();
            self.callee_ext
                .clone()
                .unwrap_or_else(|| self.callee.clone())
        } else {
            self.caller.clone()
        };
        self.plain_transfer = true;
        self.app_state();
        self.update_info(|i| i.app = Some("transfer"));
        let by = if side == Side::A { "caller" } else { "callee" };
        self.accept_refer(tx, req, kind, kept, by);
    }

    /// Accepts a checked REFER from leg B: 202, the first NOTIFY, then the
    /// transfer. `kept` is the transferee's number and `by` who transferred
    /// ("caller" or "callee"): the call's record is split at the transfer.
    pub(super) fn accept_refer(
        &mut self,
        tx: TxId,
        req: Request,
        kind: ReferKind,
        kept: String,
        by: &'static str,
    ) {
        let ep = self.b_ep.clone();
        ep.respond(tx, message::response(&req, status(202), None));
        self.ctx.metrics.transfers.fetch_add(1, Ordering::Relaxed);
        self.transferor = Some(Transferor {
            ep: ep.clone(),
            dialog: self.dialog(Side::B).clone(),
            contact: self.contact_for(Side::B),
            notified: 0,
        });
        // New legs towards phones leave from the internal profile, whatever
        // profile the transferor's leg lives on.
        self.b_ep = self.ctx.internal.clone();
        self.notify_transferor(100, "Trying", false);
        self.unhold(Side::A);
        match kind {
            ReferKind::Blind(target) => {
                tracing::info!("call {}: blind transfer to {target} (REFER)", self.id);
                self.split_record(HangupCause::BlindTransfer, by, kept, target.clone(), false);
                self.transfer_to(target);
            }
            ReferKind::Attended(call_id) => {
                let partner_number = self.attended_transfer(&call_id);
                if let Some(number) = partner_number {
                    self.split_record(HangupCause::AttendedTransfer, by, kept, number, true);
                }
            }
        }
    }

    /// A party the transferor put on hold (we relayed its hold offer) is
    /// sent a re-INVITE with a sendrecv offer in its codec: it must send
    /// media to whoever it is transferred to.
    pub(super) fn unhold(&mut self, side: Side) {
        if !self.told_hold[side as usize] {
            return;
        }
        let (Some(f), Some(port)) = (self.formats[side as usize], self.media.local_port(side))
        else {
            return;
        };
        // The leg's codec at the payload types already agreed (an Opus leg's
        // number is the peer's choice, not our default).
        let Ok(sdp) = media::negotiate::offer_format(self.ctx.advertise, port, f, self.id) else {
            return;
        };
        self.told_hold[side as usize] = false;
        self.media.set_hold(false);
        let via = self.ctx.sent_by(self.ep(side));
        let contact = self.contact_for(side);
        let mut req = self
            .dialog_mut(side)
            .request(Method::Invite, &via, &contact);
        // Through `secured`: a browser's leg gets it as WebRTC.
        req.set_body(self.secured(sdp, side), super::SDP);
        let peer = self.dialog(side).peer;
        let token = self.token(Pending::Reinvite(side));
        self.ep(side).send_request(req, peer, self.sink(token));
    }

    /// The answer to `unhold`'s re-INVITE.
    pub(super) fn on_reinvite_event(&mut self, token: u64, side: Side, ev: ClientEvent) {
        let resp = match ev {
            ClientEvent::Sent(_) => return,
            ClientEvent::Response(_, r) if r.status_code.code() < 200 => return,
            ClientEvent::Response(_, r) => r,
            ClientEvent::Timeout(_) => {
                self.pending.remove(&token);
                return;
            }
        };
        self.pending.remove(&token);
        if !(200..300).contains(&resp.status_code.code()) {
            tracing::info!("call {}: leg {side:?} refused to come off hold", self.id);
            return;
        }
        let cseq = message::cseq(&resp).map(|c| c.0).unwrap_or(1);
        let via = self.ctx.sent_by(self.ep(side));
        let contact = self.contact_for(side);
        let ack = self.dialog(side).request_with_cseq(
            Method::Ack,
            cseq,
            &via,
            &contact,
            &message::new_branch(),
        );
        let peer = self.dialog(side).peer;
        self.ep(side).send_stateless(message::to_bytes(ack), peer);
        if let Some(Ok(sdp)) = self.parse_sdp(&resp) {
            let all = media::codec::Codec::usable();
            if let Some(f) = media::negotiate::audio_section(&sdp)
                .and_then(|(_, m)| media::negotiate::accepted(m, &all))
            {
                self.set_format(side, f);
            }
            self.learn_remote(side, &sdp);
        }
    }

    /// Makes leg B the caller's leg and the other way round, so the party
    /// that stays after the caller's transfer is leg A (also when an agent
    /// hands over a call it placed, see `hand_over`).
    pub(super) fn swap_sides(&mut self) {
        let Some(w) = self.winner else { return };
        std::mem::swap(&mut self.a_dialog, &mut self.forks[w].dialog);
        std::mem::swap(&mut self.a_ep, &mut self.b_ep);
        self.formats.swap(0, 1);
        self.told_hold.swap(0, 1);
        self.media.swap_legs();
        // The session swapped its legs with their WebRTC transports and
        // SRTP keys: so does what we say in SDP.
        self.swap_webrtc();
        let mut srtp = self.srtp.get();
        srtp.swap(0, 1);
        self.srtp.set(srtp);
        self.a_call_id = self.a_dialog.call_id.clone();
        self.ctx.dialogs.set_side(&self.a_call_id, Side::A);
        self.ctx
            .dialogs
            .set_side(&self.forks[w].dialog.call_id, Side::B);
        let call_id = self.a_call_id.clone();
        self.update_info(|i| {
            i.call_id = call_id;
            std::mem::swap(&mut i.a_rtp_port, &mut i.b_rtp_port);
        });
    }

    /// Tells the transferor how its transfer goes (RFC 3515 §2.4.5: a
    /// sipfrag with the target's status line); the final one (`last`) ends
    /// the subscription and releases the transferor's leg.
    pub(super) fn notify_transferor(&mut self, code: u16, reason: &str, last: bool) {
        let Some(t) = self.transferor.as_mut() else {
            return;
        };
        if !last && t.notified >= code {
            return;
        }
        t.notified = code;
        let via = self.ctx.sent_by(&t.ep);
        let mut notify = t.dialog.request(Method::Notify, &via, &t.contact);
        notify
            .headers
            .push(Header::Other("Event".into(), "refer".into()));
        let state = if last {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        notify
            .headers
            .push(Header::Other("Subscription-State".into(), state.into()));
        notify.set_body(
            format!("SIP/2.0 {code} {reason}\r\n").into_bytes(),
            "message/sipfrag;version=2.0",
        );
        let (ep, peer) = (t.ep.clone(), t.dialog.peer);
        let token = self.token(Pending::Fire);
        ep.send_request(notify, peer, self.sink(token));
        if last {
            self.release_transferor();
        }
    }

    /// The transfer is decided: hang up the transferor's leg (phones do it
    /// themselves on the final NOTIFY; whichever BYE comes first wins).
    fn release_transferor(&mut self) {
        let Some(mut t) = self.transferor.take() else {
            return;
        };
        let via = self.ctx.sent_by(&t.ep);
        let bye = t.dialog.request(Method::Bye, &via, &t.contact);
        let token = self.token(Pending::Fire);
        t.ep.send_request(bye, t.dialog.peer, self.sink(token));
        self.released_legs.push((t.dialog.call_id, t.ep));
    }

    /// Whether `call_id` is the transferor's leg (pending or released).
    pub(super) fn is_transferor_leg(&self, call_id: &str) -> bool {
        self.transferor
            .as_ref()
            .is_some_and(|t| t.dialog.call_id == call_id)
            || self.released_legs.iter().any(|(c, _)| c == call_id)
    }

    /// A request on the transferor's leg: a BYE ends its part (no more
    /// NOTIFYs); a re-INVITE while the transfer is pending is 491; anything
    /// on a released leg is 481.
    pub(super) fn on_transferor_request(&mut self, tx: TxId, req: Request) {
        let call_id = message::call_id(&req).unwrap_or_default().to_string();
        let pending = self
            .transferor
            .as_ref()
            .filter(|t| t.dialog.call_id == call_id)
            .map(|t| t.ep.clone());
        let released = self
            .released_legs
            .iter()
            .find(|(c, _)| *c == call_id)
            .map(|(_, ep)| ep.clone());
        let Some(ep) = pending.clone().or(released) else {
            return;
        };
        let code = match req.method {
            Method::Bye => 200,
            _ if pending.is_none() => 481,
            Method::Invite | Method::Update => 491,
            _ => 200,
        };
        ep.respond(tx, message::response(&req, status(code), None));
        if req.method == Method::Bye {
            if let Some(t) = self.transferor.take_if(|t| t.dialog.call_id == call_id) {
                self.released_legs.push((t.dialog.call_id, t.ep));
            }
        }
    }

    /// Closes the call's record at a transfer (with `cause`, by the
    /// transferor) and opens the next one for the conversation that goes on
    /// between `caller` (the transferee) and `callee` (the target),
    /// answered now for an attended transfer, when the target answers for a
    /// blind one.
    fn split_record(
        &mut self,
        cause: HangupCause,
        by: &'static str,
        caller: String,
        callee: String,
        answered: bool,
    ) {
        let now = now_ms();
        self.close_record(cause, by, now);
        self.call_uid = crate::calls::cdr::new_call_uid();
        self.cdr_open = None;
        self.start_ms = now;
        self.answer_ms = answered.then_some(now);
        self.caller_name = self
            .ctx
            .directory
            .get(&caller)
            .map(|e| e.display_name.clone())
            .unwrap_or_default();
        self.caller = caller.clone();
        self.callee = callee.clone();
        self.callee_ext = Some(callee.clone());
        self.update_info(|i| {
            i.caller = caller;
            i.callee = callee;
            i.start_at = now;
            i.answer_at = answered.then_some(now);
        });
    }

    /// The consultation call of an attended transfer, whose leg `gone` (the
    /// transferor) left: its record ends here, as ATTENDED_TRANSFER; the
    /// transferee's call records the conversation that goes on.
    pub(super) fn close_record_at_attended_transfer(&mut self, gone: Side) {
        let by = if gone == Side::A { "caller" } else { "callee" };
        self.close_record(HangupCause::AttendedTransfer, by, now_ms());
        self.record_closed = true;
    }

    /// Writes this part of the answered call's record as complete at `end`,
    /// ended by a transfer (`cause`, by the transferor `by`).
    fn close_record(&self, cause: HangupCause, by: &'static str, end: u64) {
        self.queue_row(store::Cdr {
            hangup_cause: cause.as_str().to_string(),
            hangup_by: by.to_string(),
            sip_code: 200,
            ..self.cdr_row(end)
        });
    }

    /// The transfer target answered: the transferor hears so and leaves,
    /// and the transferred conversation's record starts.
    pub(super) fn transfer_answered(&mut self) {
        self.notify_transferor(200, "OK", true);
        // The transferred conversation's record starts at the answer.
        if self.answer_ms.is_none() {
            let now = now_ms();
            self.answer_ms = Some(now);
            self.update_info(|i| i.answer_at = Some(now));
        }
    }
}

/// The Refer-To value (its compact form is `r`).
fn refer_to(req: &Request) -> Option<&str> {
    message::header_value(req, "Refer-To").or_else(|| message::header_value(req, "r"))
}

/// The target of a REFER: the user part of Refer-To's URI.
pub(super) fn refer_target(req: &Request) -> Option<String> {
    let value = refer_to(req)?;
    let uri = value
        .trim()
        .trim_start_matches('<')
        .split(['>', ';', '?'])
        .next()?
        .trim();
    let uri = rsip::Uri::try_from(uri).ok()?;
    message::uri_user(&uri).filter(|u| !u.is_empty())
}

/// The Call-ID in a Refer-To's `Replaces` header parameter (RFC 3891),
/// percent-decoded.
pub(super) fn refer_replaces(req: &Request) -> Option<String> {
    let value = refer_to(req)?;
    let lower = value.to_ascii_lowercase();
    let start = lower.find("replaces=")? + "replaces=".len();
    let raw = value[start..].split(['&', '>']).next()?;
    let decoded = percent_decode(raw);
    let call_id = decoded.split(';').next()?.trim();
    (!call_id.is_empty()).then(|| call_id.to_string())
}

/// Percent-decoding of a URI header value; a malformed escape is kept as is.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refer(refer_to: &str) -> Request {
        let text = format!(
            "REFER sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx\r\n\
             From: <sip:1000@127.0.0.1>;tag=a\r\nTo: <sip:1001@127.0.0.1>;tag=b\r\nCall-ID: c1\r\n\
             CSeq: 2 REFER\r\nRefer-To: {refer_to}\r\nContent-Length: 0\r\n\r\n"
        );
        Request::try_from(text.as_bytes()).unwrap()
    }

    #[test]
    fn blind_target_is_the_user_part() {
        assert_eq!(
            refer_target(&refer("<sip:1002@127.0.0.1:5060;transport=udp>")).as_deref(),
            Some("1002")
        );
        assert_eq!(refer_target(&refer("sip:1003@h")).as_deref(), Some("1003"));
        assert_eq!(refer_target(&refer("<tel:>")), None);
        assert_eq!(refer_replaces(&refer("<sip:1002@h>")), None);
    }

    #[test]
    fn replaces_call_id_is_percent_decoded() {
        let r = refer("<sip:1002@127.0.0.1?Replaces=abc%40host%3Bto-tag%3Dx%3Bfrom-tag%3Dy>");
        assert_eq!(refer_replaces(&r).as_deref(), Some("abc@host"));
        // pjsua writes the parameter name in lower case; a broken escape stays.
        let r = refer("<sip:1002@h?replaces=a%2%3Bto-tag%3Dx>");
        assert_eq!(refer_replaces(&r).as_deref(), Some("a%2"));
    }
}
