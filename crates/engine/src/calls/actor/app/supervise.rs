//! The supervisor's side of monitoring: their call joins the monitored
//! call's room as a member whose audience the supervisor changes with keys
//! (0 listen, 2 whisper to the agent, 3 barge in) or the desk's buttons;
//! leaving restores the monitored call's direct bridge once no one else is
//! in its room.

use super::*;
use crate::calls::actor::eavesdrop::member_of;
use crate::calls::control::{Command, MonitorMode};
use crate::calls::CallMsg;
use media::conference::Conference;
use media::mixer::{Audience, MemberOptions};

impl Call {
    pub(in crate::calls::actor) fn supervise(
        &mut self,
        target: u64,
        room: Conference,
        agent: Side,
        mode: MonitorMode,
        reply: oneshot::Sender<Result<(), CallError>>,
    ) {
        let me = member_of(self.id, Side::A);
        let opts = MemberOptions {
            audience: audience_of(mode, target, agent),
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
        private_consult(&room, target, agent, me, mode);
        self.update_info(|i| {
            i.note = format!("{} call {target}", mode.as_str());
            i.joined = Some((target, mode.as_str()));
        });
        let app = self.app_state();
        app.supervising = Some(Supervising {
            target,
            room,
            agent,
        });
        app.op = Some(Op::Supervise { _reply: reply });
    }

    /// Changes how the supervisor takes part.
    pub(in crate::calls::actor) fn set_monitor_mode(&mut self, mode: MonitorMode) {
        let me = member_of(self.id, Side::A);
        let Some(sup) = self.app.as_ref().and_then(|a| a.supervising.as_ref()) else {
            return;
        };
        let opts = MemberOptions {
            audience: audience_of(mode, sup.target, sup.agent),
            ..MemberOptions::default()
        };
        let target = sup.target;
        if let Err(e) = sup.room.set_options(me, opts) {
            tracing::warn!("call {}: monitoring mode not changed: {e}", self.id);
            return;
        }
        private_consult(&sup.room, target, sup.agent, me, mode);
        tracing::info!("call {}: {} call {target}", self.id, mode.as_str());
        self.update_info(|i| {
            i.note = format!("{} call {target}", mode.as_str());
            i.joined = Some((target, mode.as_str()));
        });
    }

    /// Keys while monitoring: 0 listen, 2 whisper (to the agent), 3 barge.
    pub(in crate::calls::actor) fn supervisor_key(&mut self, digit: char) -> bool {
        if self
            .app
            .as_ref()
            .and_then(|a| a.supervising.as_ref())
            .is_none()
        {
            return false;
        }
        let mode = match digit {
            '0' => MonitorMode::Listen,
            '2' => MonitorMode::Whisper,
            '3' => MonitorMode::Barge,
            _ => return true,
        };
        self.set_monitor_mode(mode);
        true
    }

    /// The call this one joined handed its conversation over (an attended
    /// transfer completed): now a full party, ending with that call.
    pub(in crate::calls::actor) fn partner_with(&mut self, partner: u64) {
        if self
            .app
            .as_ref()
            .and_then(|a| a.supervising.as_ref())
            .is_none()
        {
            return;
        }
        self.pickup_partner = Some(partner);
        self.set_monitor_mode(MonitorMode::Barge);
    }

    /// The supervisor's call ends: leave the room and give the monitored
    /// call its bridge back.
    pub(in crate::calls::actor) fn stop_supervising(&mut self) {
        let Some(Supervising {
            target,
            room,
            agent,
        }) = self.app.as_mut().and_then(|a| a.supervising.take())
        else {
            return;
        };
        room.leave(member_of(self.id, Side::A));
        // A consultation ends: the caller and the agent hear each other again.
        private_consult(&room, target, agent, 0, MonitorMode::Barge);
        // Someone else (another supervisor, a 3-way party) is still there.
        if room.len() > 2 {
            return;
        }
        if let Some(call) = self.ctx.calls.get(&target).map(|c| c.value().0.clone()) {
            let (reply, _) = oneshot::channel();
            let _ = call.send(CallMsg::Control(Command::Monitor { room: None, reply }));
        }
    }
}

/// A call monitoring another: which call, its room, and the side of it the
/// agent is on.
pub(in crate::calls::actor) struct Supervising {
    pub(in crate::calls::actor) target: u64,
    pub(in crate::calls::actor) room: Conference,
    pub(in crate::calls::actor) agent: Side,
}

/// Who hears a member joined in `mode` to call `target` whose agent is on
/// side `agent`.
fn audience_of(mode: MonitorMode, target: u64, agent: Side) -> Audience {
    match mode {
        MonitorMode::Listen => Audience::Nobody,
        MonitorMode::Whisper | MonitorMode::Consult => {
            Audience::Only(vec![member_of(target, agent)])
        }
        MonitorMode::Barge => Audience::Everyone,
    }
}

/// The target call's own parties in a consultation with member `joined`:
/// the agent is heard by the consulted party only and the caller by no one
/// (the caller waits in silence, as on hold without music); in any other
/// mode both are heard by everyone again.
fn private_consult(room: &Conference, target: u64, agent: Side, joined: u64, mode: MonitorMode) {
    let (agent_m, caller_m) = (member_of(target, agent), member_of(target, agent.other()));
    let (agent_heard_by, caller_heard_by) = match mode {
        MonitorMode::Consult => (Audience::Only(vec![joined]), Audience::Nobody),
        _ => (Audience::Everyone, Audience::Everyone),
    };
    let set = |m, audience| {
        let _ = room.set_options(
            m,
            MemberOptions {
                audience,
                ..MemberOptions::default()
            },
        );
    };
    set(caller_m, caller_heard_by);
    set(agent_m, agent_heard_by);
}
