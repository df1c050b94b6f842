//! Directed call pickup (intercept, `apps.pickup` prefix + extension): a
//! call ringing at an extension is answered from another phone. The ringing
//! call stops ringing its callee, answers its caller itself and meets the
//! picker's call in a two-member room; when either call ends, so does the
//! other.

use super::eavesdrop::member_of;
use super::{Call, HangupCause, Side, State, SDP};
use crate::base::context::now_ms;
use crate::base::events::Event;
use crate::calls::control::{CallError, Command};
use crate::calls::CallMsg;
use media::conference::Conference;
use media::mixer::MemberOptions;
use media::negotiate;
use media::session::Hears;
use rsip::headers::{Header, UntypedHeader};
use sip::message::{self, SetBody};
use tokio::sync::oneshot;

impl Call {
    /// This ringing call is picked up by call `by`.
    pub(super) fn picked_up(
        &mut self,
        room: Conference,
        by: u64,
        reply: oneshot::Sender<Result<(), CallError>>,
    ) {
        if self.state != State::Ringing || self.app.is_some() {
            let _ = reply.send(Err(CallError::NotAnswered));
            return;
        }
        let prefs = self.prefs();
        let format = self.a_offer.as_ref().and_then(|o| {
            negotiate::audio_section(o).and_then(|(_, m)| negotiate::choose(m, &prefs, None))
        });
        let (Some(format), Some(offer)) = (format, self.a_offer.clone()) else {
            let _ = reply.send(Err(CallError::Media(
                "no common codec with the caller".into(),
            )));
            return;
        };
        self.cancel_forks(None);
        self.formats = [Some(format), None];
        self.ensure_session();
        let Some(port) = self.media.local_port(Side::A) else {
            let _ = reply.send(Err(CallError::Media("the call has no media".into())));
            return;
        };
        let Ok(answer) = negotiate::answer(&offer, format, self.ctx.advertise, port, self.id)
        else {
            let _ = reply.send(Err(CallError::Media(
                "cannot answer the caller's offer".into(),
            )));
            return;
        };
        let member = member_of(self.id, Side::A);
        if let Err(e) = room.join(member, MemberOptions::default()) {
            let _ = reply.send(Err(CallError::Media(e.to_string())));
            return;
        }
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Conference { room, member });
        }
        let mut ok = self.a_response(200, true);
        ok.headers
            .push(Header::Allow(rsip::headers::Allow::new(message::ALLOW)));
        ok.set_body(self.secured(answer, Side::A), SDP);
        self.a_ep.respond(self.a_tx, ok);
        self.state = State::Answered;
        let now = now_ms();
        self.answer_ms = Some(now);
        self.pickup_partner = Some(by);
        self.ctx
            .events
            .publish(|| Event::CallAnswered { id: self.id });
        self.update_info(|i| {
            i.state = State::Answered.label();
            i.answer_at = Some(now);
            i.note = format!("picked up by call {by}");
        });
        tracing::info!("call {}: picked up by call {by}", self.id);
        let _ = reply.send(Ok(()));
    }

    /// The call ends: so does its pickup partner.
    pub(super) fn end_pickup_partner(&mut self) {
        let Some(partner) = self.pickup_partner.take() else {
            return;
        };
        if let Some(call) = self.ctx.calls.get(&partner).map(|c| c.value().0.clone()) {
            let _ = call.send(CallMsg::Control(Command::Hangup(
                HangupCause::NormalClearing,
            )));
        }
    }
}

impl Call {
    /// Attended transfer, the transferee's call: release the transferring
    /// party's leg and put leg `keep` into `room`.
    pub(super) fn attend(
        &mut self,
        room: Conference,
        keep: Side,
        partner: u64,
        reply: oneshot::Sender<Result<(), CallError>>,
    ) {
        if self.state != State::Answered {
            let _ = reply.send(Err(CallError::NotAnswered));
            return;
        }
        self.ensure_session();
        let member = member_of(self.id, keep);
        if let Err(e) = room.join(member, MemberOptions::default()) {
            let _ = reply.send(Err(CallError::Media(e.to_string())));
            return;
        }
        let gone = keep.other();
        self.bye(gone);
        self.released = Some(gone);
        self.close_record_at_attended_transfer(gone);
        self.unhold(keep);
        if let Some(s) = self.media.session() {
            s.hear(keep, Hears::Conference { room, member });
            s.hear(gone, Hears::Silence);
        }
        self.pickup_partner = Some(partner);
        self.update_info(|i| i.note = format!("transferred, with call {partner}"));
        tracing::info!(
            "call {}: attended transfer, joined with call {partner}",
            self.id
        );
        let _ = reply.send(Ok(()));
    }
}
