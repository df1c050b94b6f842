//! Blind transfer of an application call's caller (a queue call, a bridged
//! IVR call): the party the caller talks to sends REFER (RFC 3515) from its
//! phone, or the agent desk asks through the API. The transferring leg is
//! released (after a 202 and a NOTIFY with the outcome), and the caller is
//! bridged to the target with ringback; the application's operation (the
//! queue, the bridge) ends when the transferred call does.

use super::*;
use crate::calls::actor::eavesdrop::member_of;
use crate::calls::control::{Command, QueueOutcome};
use crate::calls::CallMsg;
use crate::queues::QueueMsg;
use media::mixer::MemberOptions;
use rsip::headers::Header;

/// What the application waits for across a transfer.
enum Waiting {
    Queue(oneshot::Sender<Result<QueueOutcome, CallError>>, String),
    Bridge(oneshot::Sender<Result<(), CallError>>),
}

impl Call {
    /// The target of a REFER: the user part of Refer-To.
    fn refer_target(req: &Request) -> Option<String> {
        let value =
            message::header_value(req, "Refer-To").or_else(|| message::header_value(req, "r"))?;
        let uri = value
            .trim()
            .trim_start_matches('<')
            .split(['>', ';', '?'])
            .next()?
            .trim();
        let uri = rsip::Uri::try_from(uri).ok()?;
        message::uri_user(&uri).filter(|u| !u.is_empty())
    }

    /// REFER from the bridged party: accept, report, release it, transfer.
    pub(in crate::calls::actor) fn on_refer(&mut self, tx: TxId, req: Request) {
        let ep = self.b_ep.clone();
        let Some(target) = Self::refer_target(&req) else {
            let r = message::response(
                &req,
                sip::message::status_with_reason(400, "Bad Refer-To"),
                None,
            );
            ep.respond(tx, r);
            return;
        };
        let replaces = Self::refer_replaces(&req);
        if let Some(call_id) = &replaces {
            if !self.ctx.dialogs.contains(call_id) {
                let r = message::response(
                    &req,
                    sip::message::status_with_reason(481, "Replaced Call Does Not Exist"),
                    None,
                );
                ep.respond(tx, r);
                return;
            }
        }
        ep.respond(tx, message::response(&req, status(202), None));
        // The implicit subscription (RFC 3515): one NOTIFY with the outcome of
        // our side of the transfer, terminated at once (a blind transfer).
        let via = self.ctx.sent_by(&ep);
        let contact = self.contact_for(Side::B);
        let peer = self.dialog(Side::B).peer;
        let mut notify = self
            .dialog_mut(Side::B)
            .request(Method::Notify, &via, &contact);
        notify
            .headers
            .push(Header::Other("Event".into(), "refer".into()));
        notify.headers.push(Header::Other(
            "Subscription-State".into(),
            "terminated;reason=noresource".into(),
        ));
        notify.set_body(
            b"SIP/2.0 200 OK\r\n".to_vec(),
            "message/sipfrag;version=2.0",
        );
        ep.send_request(notify, peer, Arc::new(|_| {}));
        match replaces {
            Some(call_id) => self.attended_transfer(&call_id),
            None => {
                tracing::info!("call {}: blind transfer to {target} (REFER)", self.id);
                self.transfer_to(target);
            }
        }
    }

    /// The Call-ID in a Refer-To's `Replaces` (RFC 3891), URL-decoded.
    fn refer_replaces(req: &Request) -> Option<String> {
        let value =
            message::header_value(req, "Refer-To").or_else(|| message::header_value(req, "r"))?;
        let start = value.find("Replaces=")? + "Replaces=".len();
        let raw = value[start..].split(['&', '>']).next()?;
        let decoded = raw
            .replace("%3B", ";")
            .replace("%3b", ";")
            .replace("%40", "@")
            .replace("%3D", "=")
            .replace("%3d", "=");
        let call_id = decoded.split(';').next()?.trim();
        (!call_id.is_empty()).then(|| call_id.to_string())
    }

    /// Attended transfer: the caller meets the party of the transferring
    /// phone's other call (the one `call_id` names); both of the
    /// transferring party's legs are released.
    fn attended_transfer(&mut self, call_id: &str) {
        let Some((other, side)) = self.ctx.dialogs.owner(call_id) else {
            return;
        };
        let room = media::conference::Conference::start(&self.ctx.media_rt, media::audio::RATE_8K);
        let partner = self
            .ctx
            .calls
            .iter()
            .find(|e| e.value().0.same_channel(&other))
            .map(|e| *e.key())
            .unwrap_or_default();
        let (reply, rx) = oneshot::channel();
        let _ = other.send(CallMsg::Control(Command::Attend {
            room: room.clone(),
            keep: side.other(),
            partner: self.id,
            reply,
        }));
        // The transferring party leaves this call; the agent is free again.
        self.bye(Side::B);
        self.released = Some(Side::B);
        let _ = self.take_waiting_for_transfer();
        let member = member_of(self.id, Side::A);
        let _ = room.join(member, MemberOptions::default());
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Conference { room, member });
        }
        self.winner = None;
        self.pickup_partner = Some(partner);
        self.update_info(|i| i.note = format!("transferred, with call {partner}"));
        tracing::info!("call {}: attended transfer to call {partner}", self.id);
        // Should the other call refuse, this one must not stay alone.
        let me = self.me.clone();
        tokio::spawn(async move {
            if !matches!(rx.await, Ok(Ok(()))) {
                let _ = me.send(CallMsg::Control(Command::Hangup(
                    crate::calls::HangupCause::NormalTemporaryFailure,
                )));
            }
        });
    }

    /// Ends the queue side of a transferred call (the agent is free) and
    /// keeps the application waiting until the call ends.
    fn take_waiting_for_transfer(&mut self) -> Option<()> {
        let app = self.app.as_mut()?;
        let q = app.queue.take()?;
        let (agent, since) = q.connected?;
        self.ctx.queues.send(QueueMsg::CallEnded {
            member: self.id,
            agent,
            talk_time: since.elapsed(),
            ended_at: Instant::now().into_std(),
        });
        Some(())
    }

    /// Releases the party the caller talks to and bridges the caller to
    /// `target` instead.
    pub(in crate::calls::actor) fn transfer_to(&mut self, target: String) {
        // The transferring party is done: hang its leg up and, for a queue
        // call, give the agent back to the queue.
        self.bye(Side::B);
        let waiting = self.take_waiting();
        if let Some(Waiting::Queue(_, ref agent)) = waiting {
            let talk = self
                .app
                .as_ref()
                .and_then(|a| a.queue.as_ref())
                .and_then(|q| q.connected.as_ref())
                .map(|(_, since)| since.elapsed())
                .unwrap_or_default();
            self.ctx.queues.send(QueueMsg::CallEnded {
                member: self.id,
                agent: agent.clone(),
                talk_time: talk,
                ended_at: Instant::now().into_std(),
            });
        }
        if let Some(app) = self.app.as_mut() {
            app.queue = None;
        }
        self.winner = None;
        let (tx, rx) = oneshot::channel();
        self.start_bridge(target, Duration::from_secs(30), tx);
        // The application's own operation ends when the transferred call does.
        tokio::spawn(async move {
            let result = rx.await.unwrap_or(Err(CallError::HungUp));
            match waiting {
                Some(Waiting::Queue(reply, agent)) => {
                    let _ = reply.send(result.map(|()| QueueOutcome::Served {
                        agent,
                        survey: false,
                    }));
                }
                Some(Waiting::Bridge(reply)) => {
                    let _ = reply.send(result);
                }
                None => {}
            }
        });
    }

    fn take_waiting(&mut self) -> Option<Waiting> {
        let app = self.app.as_mut()?;
        let agent = app
            .queue
            .as_ref()
            .and_then(|q| q.connected.as_ref())
            .map(|(a, _)| a.clone())
            .unwrap_or_default();
        match app.op.take() {
            Some(Op::Queue { reply }) => Some(Waiting::Queue(reply, agent)),
            Some(Op::Bridge { reply, .. }) => Some(Waiting::Bridge(reply)),
            other => {
                app.op = other;
                None
            }
        }
    }
}
