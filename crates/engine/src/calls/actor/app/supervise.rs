//! The supervisor's side of monitoring: their call joins the monitored
//! call's room as a member whose audience the supervisor changes with keys
//! (0 listen, 2 whisper to the agent, 3 barge in); leaving restores the
//! monitored call's direct bridge.

use super::*;
use crate::calls::actor::eavesdrop::member_of;
use crate::calls::control::Command;
use crate::calls::CallMsg;
use media::conference::Conference;
use media::mixer::{Audience, MemberOptions};

impl Call {
    pub(in crate::calls::actor) fn supervise(
        &mut self,
        target: u64,
        room: Conference,
        audience: Audience,
        reply: oneshot::Sender<Result<(), CallError>>,
    ) {
        let me = member_of(self.id, Side::A);
        let opts = MemberOptions {
            audience,
            ..MemberOptions::default()
        };
        if let Err(e) = room.join(me, opts) {
            let _ = reply.send(Err(CallError::Media(e.to_string())));
            return;
        }
        if let Some(s) = self.media.session() {
            s.hear(
                Side::A,
                Hears::Conference {
                    room: room.clone(),
                    member: me,
                },
            );
        }
        self.update_info(|i| i.note = format!("monitoring call {target}"));
        let app = self.app_state();
        app.supervising = Some((target, room));
        app.op = Some(Op::Supervise { _reply: reply });
    }

    /// Changes who hears the supervisor.
    pub(in crate::calls::actor) fn set_audience(&mut self, audience: Audience) {
        let me = member_of(self.id, Side::A);
        if let Some((_, room)) = self.app.as_ref().and_then(|a| a.supervising.as_ref()) {
            let opts = MemberOptions {
                audience,
                ..MemberOptions::default()
            };
            if let Err(e) = room.set_options(me, opts) {
                tracing::warn!("call {}: monitoring mode not changed: {e}", self.id);
            }
        }
    }

    /// Keys while monitoring: 0 listen, 2 whisper (to the agent), 3 barge.
    pub(in crate::calls::actor) fn supervisor_key(&mut self, digit: char) -> bool {
        let Some(target) = self
            .app
            .as_ref()
            .and_then(|a| a.supervising.as_ref())
            .map(|(t, _)| *t)
        else {
            return false;
        };
        let audience = match digit {
            '0' => Audience::Nobody,
            '2' => Audience::Only(vec![member_of(target, Side::B)]),
            '3' => Audience::Everyone,
            _ => return true,
        };
        tracing::info!("call {}: monitoring call {target}: key {digit}", self.id);
        self.set_audience(audience);
        true
    }

    /// The supervisor's call ends: leave the room and give the monitored
    /// call its bridge back.
    pub(in crate::calls::actor) fn stop_supervising(&mut self) {
        let Some((target, room)) = self.app.as_mut().and_then(|a| a.supervising.take()) else {
            return;
        };
        room.leave(member_of(self.id, Side::A));
        if let Some(call) = self.ctx.calls.get(&target).map(|c| c.value().0.clone()) {
            let (reply, _) = oneshot::channel();
            let _ = call.send(CallMsg::Control(Command::Monitor { room: None, reply }));
        }
    }
}
