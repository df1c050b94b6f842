//! Directed call pickup (intercept): dialling `apps.pickup` + an extension
//! (e.g. **1001) answers the call ringing at that extension from this phone.

use crate::calls::control::{CallControl, CallError, Command, PlayItem};
use crate::calls::CallMsg;
use crate::context::Ctx;
use media::conference::Conference;
use tokio::sync::oneshot;

pub(super) async fn run(call: &CallControl, ctx: &Ctx, ext: &str) -> Result<(), CallError> {
    call.answer().await?;
    let target = ctx
        .calls
        .iter()
        .filter(|e| *e.key() != call.id)
        .find(|e| {
            let info = &e.value().1;
            info.state == "ringing" && info.callee == ext && info.app.is_none()
        })
        .map(|e| (*e.key(), e.value().0.clone()));
    let Some((id, target)) = target else {
        tracing::info!("call {}: nothing ringing at {ext} to pick up", call.id);
        call.play(vec![PlayItem::Prompt("invalid".into())], false)
            .await?;
        return Ok(());
    };
    let room = Conference::start(&ctx.media_rt, media::audio::RATE_8K);
    let (reply, rx) = oneshot::channel();
    let sent = target.send(CallMsg::Control(Command::PickUp {
        room: room.clone(),
        by: call.id,
        reply,
    }));
    if sent.is_err() || !matches!(rx.await, Ok(Ok(()))) {
        call.play(vec![PlayItem::Prompt("invalid".into())], false)
            .await?;
        return Ok(());
    }
    tracing::info!("call {}: picked up call {id} ringing at {ext}", call.id);
    call.join_pickup(room, id).await
}
