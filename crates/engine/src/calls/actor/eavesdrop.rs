//! Supervisor monitoring (listen, whisper, barge): the monitored call's two
//! parties are moved from their direct bridge into a conference room, where
//! the supervisor joins with an audience: heard by nobody (listen), by the
//! agent only (whisper) or by both (barge). When the supervisor leaves, the
//! parties go back to their direct bridge.

use super::media_plane::MediaPlane;
use super::{Call, Side, State};
use crate::calls::control::CallError;
use media::conference::Conference;
use media::mixer::MemberOptions;
use media::session::Hears;
use tokio::sync::oneshot;

/// The conference member id of leg `side` of call `id` (unique per leg).
pub(crate) fn member_of(id: u64, side: Side) -> u64 {
    id * 2 + side as u64
}

impl Call {
    /// Moves this call's two parties into `room` (Some) or back to their
    /// bridge (None). A call already in a room keeps it and answers with
    /// it, so that a supervisor and a 3-way party hear the same room.
    pub(super) fn monitor(
        &mut self,
        room: Option<Conference>,
        reply: oneshot::Sender<Result<Conference, CallError>>,
    ) {
        if self.state != State::Answered || self.formats[1].is_none() {
            let _ = reply.send(Err(CallError::NotAnswered));
            return;
        }
        self.ensure_session();
        let MediaPlane::Session(session) = &self.media else {
            let _ = reply.send(Err(CallError::Media("the call has no media".into())));
            return;
        };
        match room {
            Some(_) if self.monitored.is_some() => {
                if let Some(room) = &self.monitored {
                    let _ = reply.send(Ok(room.clone()));
                }
            }
            Some(room) => {
                for side in [Side::A, Side::B] {
                    let member = member_of(self.id, side);
                    if let Err(e) = room.join(member, MemberOptions::default()) {
                        let _ = reply.send(Err(CallError::Media(e.to_string())));
                        return;
                    }
                    session.hear(
                        side,
                        Hears::Conference {
                            room: room.clone(),
                            member,
                        },
                    );
                }
                tracing::info!("call {}: monitored", self.id);
                self.monitored = Some(room.clone());
                let _ = reply.send(Ok(room));
            }
            None => match self.monitored.take() {
                Some(room) => {
                    for side in [Side::A, Side::B] {
                        room.leave(member_of(self.id, side));
                        session.hear(side, Hears::Other);
                    }
                    tracing::info!("call {}: no longer monitored", self.id);
                    let _ = reply.send(Ok(room));
                }
                None => {
                    let _ = reply.send(Err(CallError::NotAnswered));
                }
            },
        }
    }

    /// Completes an attended transfer made by joining: the party on side
    /// `agent` leaves this call, whose other party stays in the room with
    /// the joined call `partner`; each call ends when the other does. The
    /// agent may be either leg: the called party (a queue's agent), or the
    /// caller of a call the agent placed (click-to-dial), whose legs are
    /// then swapped so that the party that stays is leg A, as after any
    /// transfer here (see refer.rs). Each remaining party keeps its own
    /// dialog (Call-ID, tags, CSeq): only the media is re-bridged.
    pub(super) fn hand_over(
        &mut self,
        partner: u64,
        agent: Side,
        reply: oneshot::Sender<Result<(), CallError>>,
    ) {
        if self.state != State::Answered {
            let _ = reply.send(Err(CallError::NotAnswered));
            return;
        }
        let Some(room) = self.monitored.clone() else {
            let _ = reply.send(Err(CallError::Media("no one has joined this call".into())));
            return;
        };
        if agent == Side::A && self.winner.is_none() {
            let _ = reply.send(Err(CallError::Media(
                "the call has no other party to hand over".into(),
            )));
            return;
        }
        let Some(partner_tx) = self.ctx.calls.get(&partner).map(|c| c.value().0.clone()) else {
            let _ = reply.send(Err(CallError::HungUp));
            return;
        };
        room.leave(member_of(self.id, agent));
        if agent == Side::A {
            self.agent_placed_call_to_leg_b(&room);
        }
        if self.app.is_some() {
            self.release_agent_for_hand_over();
        } else {
            self.bye(Side::B);
            self.released = Some(Side::B);
            self.close_record_at_attended_transfer(agent);
        }
        if let Some(s) = self.media.session() {
            s.hear(Side::B, Hears::Silence);
        }
        self.pickup_partner = Some(partner);
        let _ = partner_tx.send(crate::calls::CallMsg::Control(
            crate::calls::control::Command::Partner(self.id),
        ));
        self.update_info(|i| i.note = format!("handed over to call {partner}"));
        tracing::info!("call {}: handed over to call {partner}", self.id);
        let _ = reply.send(Ok(()));
    }

    /// The agent placed this call (its phone is leg A) and is handing it
    /// over: the legs are swapped, making the far party leg A and the
    /// agent leg B, the leg every hand-over releases. A conference member
    /// travels with its leg in the media session, so the far party, now
    /// leg A, joins `room` again under leg A's member id: whoever refers
    /// to this call's members by side (the joined call, a supervisor)
    /// finds it there. The agent's member has left already.
    fn agent_placed_call_to_leg_b(&mut self, room: &Conference) {
        self.swap_sides();
        room.leave(member_of(self.id, Side::B));
        let member = member_of(self.id, Side::A);
        if let Err(e) = room.join(member, MemberOptions::default()) {
            tracing::warn!("call {}: the party that stays left the room: {e}", self.id);
        }
        if let Some(s) = self.media.session() {
            s.hear(
                Side::A,
                Hears::Conference {
                    room: room.clone(),
                    member,
                },
            );
        }
        // The agent is no party of this call any more: the far party is
        // its caller now, and leg B is being released.
        self.update_info(|i| {
            i.caller = i.b_party.take().unwrap_or_else(|| i.callee.clone());
        });
    }
}
