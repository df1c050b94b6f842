//! Call pickup. Directed (intercept): dialling `apps.pickup` + an extension
//! (e.g. **1001) answers the call ringing at that extension from this phone.
//! Group: dialling `apps.group_pickup` (*8) answers a call ringing at an
//! extension of the caller's pickup group.

use crate::base::context::Ctx;
use crate::calls::control::{CallControl, CallError, Command, PlayItem};
use crate::calls::CallMsg;
use media::conference::Conference;
use tokio::sync::oneshot;

pub(super) async fn run(call: &CallControl, ctx: &Ctx, ext: &str) -> Result<(), CallError> {
    call.answer().await?;
    // "" = group pickup: any extension of the picker's group.
    let group = if ext.is_empty() {
        let me = ctx.calls.get(&call.id).map(|c| c.value().1.caller.clone());
        match me
            .and_then(|m| ctx.directory.get(&m))
            .map(|e| e.pickup_group.clone())
        {
            Some(g) if !g.is_empty() => Some(g),
            _ => {
                tracing::info!("call {}: the caller is in no pickup group", call.id);
                call.play(vec![PlayItem::Prompt("invalid".into())], false)
                    .await?;
                return Ok(());
            }
        }
    } else {
        None
    };
    let wanted = |callee: &str| match &group {
        Some(g) => ctx
            .directory
            .get(callee)
            .is_some_and(|e| &e.pickup_group == g),
        None => callee == ext,
    };
    let target = ctx
        .calls
        .iter()
        .filter(|e| *e.key() != call.id)
        .find(|e| {
            let info = &e.value().1;
            info.state == "ringing" && info.app.is_none() && wanted(&info.callee)
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
