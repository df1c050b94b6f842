//! The picker's side of a directed pickup: its call meets the picked-up
//! call in their room until either ends (see `actor/pickup.rs`).

use super::*;
use crate::calls::actor::eavesdrop::member_of;
use media::conference::Conference;
use media::mixer::MemberOptions;

impl Call {
    /// The picker's call joins the room of the picked-up call `partner`.
    pub(in crate::calls::actor) fn join_pickup(
        &mut self,
        room: Conference,
        partner: u64,
        reply: oneshot::Sender<Result<(), CallError>>,
    ) {
        let member = member_of(self.id, Side::A);
        if let Err(e) = room.join(member, MemberOptions::default()) {
            let _ = reply.send(Err(CallError::Media(e.to_string())));
            return;
        }
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Conference { room, member });
        }
        self.pickup_partner = Some(partner);
        self.update_info(|i| i.note = format!("picked up call {partner}"));
        if let Some(app) = self.app.as_mut() {
            app.op = Some(Op::Pickup { _reply: reply });
        }
    }
}
