//! Blind transfer of an application call's caller (a queue call, a bridged
//! IVR call): the party the caller talks to sends REFER (RFC 3515) from its
//! phone, or the agent desk asks through the API. The transferring leg is
//! released (after a 202 and a NOTIFY with the outcome), and the caller is
//! bridged to the target with ringback; the application's operation (the
//! queue, the bridge) ends when the transferred call does.

use super::*;
use crate::calls::actor::eavesdrop::member_of;
use crate::calls::control::{Command, QueueOutcome};
use crate::calls::ports::QueueReport;
use crate::calls::CallMsg;
use media::mixer::MemberOptions;

/// What the application waits for across a transfer.
enum Waiting {
    Queue(oneshot::Sender<Result<QueueOutcome, CallError>>, String),
    Bridge(oneshot::Sender<Result<(), CallError>>),
}

impl Call {
    /// REFER from the bridged party of an application call: checked, then
    /// accepted with progress NOTIFYs (see `refer`), the caller transferred.
    pub(in crate::calls::actor) fn on_refer(&mut self, tx: TxId, req: Request) {
        match self.check_refer(&req) {
            Ok(kind) => {
                // The bridged party transfers the application's caller.
                let kept = self.caller.clone();
                self.accept_refer(tx, req, kind, kept, "callee")
            }
            Err(why) => {
                let ep = self.b_ep.clone();
                self.refuse_refer(&ep, tx, &req, why);
            }
        }
    }

    /// Attended transfer: the caller meets the party of the transferring
    /// phone's other call (the one `call_id` names); both of the
    /// transferring party's legs are released.
    /// Returns the number of the party the caller now talks to.
    pub(in crate::calls::actor) fn attended_transfer(&mut self, call_id: &str) -> Option<String> {
        let Some((other, side)) = self.ctx.dialogs.owner(call_id) else {
            self.notify_transferor(481, "Call Does Not Exist", true);
            return None;
        };
        let room = media::conference::Conference::start(&self.ctx.media_rt, media::audio::RATE_8K);
        let (partner, number) = self
            .ctx
            .calls
            .iter()
            .find(|e| e.value().0.same_channel(&other))
            .map(|e| {
                let info = &e.value().1;
                // The party of the other call that stays.
                let number = match side.other() {
                    Side::A => info.caller.clone(),
                    Side::B => info.b_party.clone().unwrap_or_else(|| info.callee.clone()),
                };
                (*e.key(), number)
            })
            .unwrap_or_default();
        let (reply, rx) = oneshot::channel();
        let _ = other.send(CallMsg::Control(Command::Attend {
            room: room.clone(),
            keep: side.other(),
            partner: self.id,
            reply,
        }));
        // The transferring party leaves this call; the agent is free again.
        if self.transferor.is_some() {
            self.notify_transferor(200, "OK", true);
        } else {
            self.bye(Side::B);
        }
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
        Some(number)
    }

    /// The agent's leg of an application call leaves after an attended
    /// transfer completed from the desk (see `hand_over`): hung up, and a
    /// queue's agent is free again.
    pub(in crate::calls::actor) fn release_agent_for_hand_over(&mut self) {
        self.bye(Side::B);
        self.released = Some(Side::B);
        let _ = self.take_waiting_for_transfer();
        self.winner = None;
    }

    /// Ends the queue side of a transferred call (the agent is free) and
    /// keeps the application waiting until the call ends.
    fn take_waiting_for_transfer(&mut self) -> Option<()> {
        let app = self.app.as_mut()?;
        let q = app.queue.take()?;
        let (agent, since) = q.connected?;
        self.handled.agent_end = Some(crate::base::context::now_ms());
        self.ctx.queue_reports.report(QueueReport::CallEnded {
            member: self.id,
            agent,
            talk_time: since.elapsed(),
            ended_at: Instant::now().into_std(),
        });
        Some(())
    }

    /// Releases the party the caller talks to and bridges the caller to
    /// `target` instead (an extension, a number out through a gateway, or
    /// a queue's number: then the caller waits in that queue).
    pub(in crate::calls::actor) fn transfer_to(&mut self, target: String) {
        // The transferring party is done: hang its leg up (a REFER's
        // transferor once it has heard the outcome) and, for a queue call,
        // give the agent back to the queue.
        if self.transferor.is_none() {
            self.bye(Side::B);
        }
        let waiting = self.take_waiting();
        // A plain call transferred by REFER has no application to go back
        // to: it ends with the transferred call.
        let hang_up_after = waiting.is_none() && self.plain_transfer;
        let me = self.me.clone();
        if let Some(Waiting::Queue(_, ref agent)) = waiting {
            let talk = self
                .app
                .as_ref()
                .and_then(|a| a.queue.as_ref())
                .and_then(|q| q.connected.as_ref())
                .map(|(_, since)| since.elapsed())
                .unwrap_or_default();
            self.handled.agent_end = Some(crate::base::context::now_ms());
            self.ctx.queue_reports.report(QueueReport::CallEnded {
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
        // A queue's number: the caller waits in that queue for its agents.
        let settings = self.ctx.callcenter.get();
        let route = crate::calls::router::route_call(
            &target,
            &self.ctx.directory,
            &self.ctx.cfg,
            &settings,
        );
        if let crate::calls::router::Route::App(crate::calls::ports::App::Queue(queue)) = route {
            tracing::info!("call {}: transferred to queue {queue}", self.id);
            let (tx, rx) = oneshot::channel();
            self.enter_queue(queue, tx);
            tokio::spawn(async move {
                let result = rx.await.unwrap_or(Err(CallError::HungUp));
                match waiting {
                    Some(Waiting::Queue(reply, _)) => {
                        let _ = reply.send(result);
                    }
                    Some(Waiting::Bridge(reply)) => {
                        let _ = reply.send(result.map(|_| ()));
                    }
                    None if hang_up_after => {
                        let _ = me.send(CallMsg::Control(Command::Hangup(
                            crate::calls::HangupCause::NormalClearing,
                        )));
                    }
                    None => {}
                }
            });
            return;
        }
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
                None if hang_up_after => {
                    let cause = match result {
                        Ok(()) => crate::calls::HangupCause::NormalClearing,
                        Err(CallError::NotReached(code, _)) => {
                            crate::calls::HangupCause::from_sip(code)
                        }
                        Err(_) => crate::calls::HangupCause::NormalTemporaryFailure,
                    };
                    let _ = me.send(CallMsg::Control(Command::Hangup(cause)));
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
