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
    /// bridge (None).
    pub(super) fn monitor(
        &mut self,
        room: Option<Conference>,
        reply: oneshot::Sender<Result<(), CallError>>,
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
                self.monitored = Some(room);
            }
            None => {
                if let Some(room) = self.monitored.take() {
                    for side in [Side::A, Side::B] {
                        room.leave(member_of(self.id, side));
                        session.hear(side, Hears::Other);
                    }
                    tracing::info!("call {}: no longer monitored", self.id);
                }
            }
        }
        let _ = reply.send(Ok(()));
    }
}
