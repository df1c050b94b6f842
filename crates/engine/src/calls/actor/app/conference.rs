//! Application calls in conference rooms.

use super::*;

impl Call {
    pub(in crate::calls::actor) fn join_conference(
        &mut self,
        name: String,
        reply: oneshot::Sender<Result<(), CallError>>,
    ) {
        self.leave_conference();
        let room = self
            .ctx
            .conferences
            .entry(name.clone())
            .or_insert_with(|| Conference::start(&self.ctx.media_rt, media::audio::RATE_8K))
            .clone();
        if let Err(e) = room.join(self.id, MemberOptions::default()) {
            let _ = reply.send(Err(CallError::Media(format!("conference {name}: {e}"))));
            return;
        }
        tracing::info!(
            "call {}: joined conference {name} ({} members)",
            self.id,
            room.len()
        );
        if let Some(s) = self.media.session() {
            s.hear(
                Side::A,
                Hears::Conference {
                    room,
                    member: self.id,
                },
            );
        }
        self.update_info(|i| i.note = format!("conference {name}"));
        let app = self.app_state();
        app.conference = Some(name);
        app.op = Some(Op::Conference { _reply: reply });
    }

    /// Leaves the conference room, closing it when it is left empty.
    pub(in crate::calls::actor) fn leave_conference(&mut self) {
        let Some(name) = self.app.as_mut().and_then(|a| a.conference.take()) else {
            return;
        };
        let id = self.id;
        if let Some(room) = self.ctx.conferences.get(&name).map(|r| r.clone()) {
            room.leave(id);
        }
        if let Some((_, room)) = self.ctx.conferences.remove_if(&name, |_, r| r.is_empty()) {
            room.close();
        }
    }
}
