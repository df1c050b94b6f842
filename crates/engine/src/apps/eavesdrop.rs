//! Supervisor monitoring by feature code (`apps.eavesdrop` prefix + the
//! extension, e.g. 881001): a supervisor listed in `apps.supervisors` joins
//! the live call of that extension, unheard at first; keys switch between
//! listen (0), whisper to the agent (2) and barge in (3).

use crate::base::context::Ctx;
use crate::calls::control::{CallControl, CallError, Command, PlayItem};
use crate::calls::CallMsg;
use media::conference::Conference;
use media::mixer::Audience;
use tokio::sync::oneshot;

pub(super) async fn run(call: &CallControl, ctx: &Ctx, ext: &str) -> Result<(), CallError> {
    let me = ctx.calls.get(&call.id).map(|c| c.value().1.caller.clone());
    if !me.is_some_and(|m| ctx.cfg.apps.supervisors.contains(&m)) {
        tracing::warn!(
            "call {}: not a supervisor, monitoring {ext} refused",
            call.id
        );
        call.hangup(crate::calls::HangupCause::CallRejected);
        return Ok(());
    }
    call.answer().await?;
    let target = ctx
        .calls
        .iter()
        .filter(|e| *e.key() != call.id)
        .find(|e| {
            let info = &e.value().1;
            info.state == "answered" && (info.b_party.as_deref() == Some(ext) || info.caller == ext)
        })
        .map(|e| (*e.key(), e.value().0.clone()));
    let Some((id, target)) = target else {
        tracing::info!("call {}: no live call of {ext} to monitor", call.id);
        call.play(vec![PlayItem::Prompt("invalid".into())], false)
            .await?;
        return Ok(());
    };
    let room = Conference::start(&ctx.media_rt, media::audio::RATE_8K);
    let (reply, rx) = oneshot::channel();
    let sent = target.send(CallMsg::Control(Command::Monitor {
        room: Some(room.clone()),
        reply,
    }));
    if sent.is_err() || !matches!(rx.await, Ok(Ok(()))) {
        call.play(vec![PlayItem::Prompt("invalid".into())], false)
            .await?;
        return Ok(());
    }
    tracing::info!("call {}: monitoring call {id} ({ext})", call.id);
    call.supervise(id, room, Audience::Nobody).await
}
