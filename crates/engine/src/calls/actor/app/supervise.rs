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
        let sup = Supervising {
            target,
            room,
            agent,
            mode,
        };
        sup.consulting(me, mode == MonitorMode::Consult);
        self.update_info(|i| {
            i.note = format!("{} call {target}", mode.as_str());
            i.joined = Some((target, mode.as_str()));
        });
        let app = self.app_state();
        app.supervising = Some(sup);
        app.op = Some(Op::Supervise { _reply: reply });
    }

    /// Changes how the supervisor takes part.
    pub(in crate::calls::actor) fn set_monitor_mode(&mut self, mode: MonitorMode) {
        let me = member_of(self.id, Side::A);
        let Some(sup) = self.app.as_mut().and_then(|a| a.supervising.as_mut()) else {
            return;
        };
        let opts = MemberOptions {
            audience: audience_of(mode, sup.target, sup.agent),
            ..MemberOptions::default()
        };
        if let Err(e) = sup.room.set_options(me, opts) {
            tracing::warn!("call {}: monitoring mode not changed: {e}", self.id);
            return;
        }
        let was = sup.mode == MonitorMode::Consult;
        if was != (mode == MonitorMode::Consult) {
            sup.consulting(me, !was);
        }
        sup.mode = mode;
        let target = sup.target;
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
        self.set_monitor_mode(MonitorMode::Conference);
    }

    /// The supervisor's call ends: leave the room and give the monitored
    /// call its bridge back.
    pub(in crate::calls::actor) fn stop_supervising(&mut self) {
        let Some(sup) = self.app.as_mut().and_then(|a| a.supervising.take()) else {
            return;
        };
        let me = member_of(self.id, Side::A);
        sup.room.leave(me);
        if sup.mode == MonitorMode::Consult {
            // The consultation ends: the caller and the agent hear each
            // other again.
            sup.consulting(me, false);
        }
        // Someone else (another supervisor, a 3-way party) is still there.
        if sup.room.len() > 2 {
            return;
        }
        if let Some(call) = self.ctx.calls.get(&sup.target).map(|c| c.value().0.clone()) {
            let (reply, _) = oneshot::channel();
            let _ = call.send(CallMsg::Control(Command::Monitor { room: None, reply }));
        }
    }
}

/// A call monitoring another: which call, its room, the side of it the
/// agent is on, and how this call takes part.
pub(in crate::calls::actor) struct Supervising {
    pub(in crate::calls::actor) target: u64,
    pub(in crate::calls::actor) room: Conference,
    pub(in crate::calls::actor) agent: Side,
    pub(in crate::calls::actor) mode: MonitorMode,
}

impl Supervising {
    /// The monitored call's own parties while member `me` consults the
    /// agent (`on`): the agent is heard by `me` only and the caller by no
    /// one (waiting in silence, as on hold without music); when the
    /// consultation ends (`!on`) both are heard by everyone again. Other
    /// members (a supervisor listening in) never touch them.
    fn consulting(&self, me: u64, on: bool) {
        let agent = member_of(self.target, self.agent);
        let caller = member_of(self.target, self.agent.other());
        let (agent_heard_by, caller_heard_by) = match on {
            true => (Audience::Only(vec![me]), Audience::Nobody),
            false => (Audience::Everyone, Audience::Everyone),
        };
        for (m, audience) in [(caller, caller_heard_by), (agent, agent_heard_by)] {
            let _ = self.room.set_options(
                m,
                MemberOptions {
                    audience,
                    ..MemberOptions::default()
                },
            );
        }
    }
}

/// Who hears a member joined in `mode` to call `target` whose agent is on
/// side `agent`.
fn audience_of(mode: MonitorMode, target: u64, agent: Side) -> Audience {
    match mode {
        MonitorMode::Listen => Audience::Nobody,
        MonitorMode::Whisper | MonitorMode::Consult => {
            Audience::Only(vec![member_of(target, agent)])
        }
        MonitorMode::Barge | MonitorMode::Conference => Audience::Everyone,
    }
}
