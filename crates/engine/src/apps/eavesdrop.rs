//! Supervisor monitoring by feature code (`apps.eavesdrop` prefix + the
//! extension, e.g. 881001): a supervisor listed in `apps.supervisors` joins
//! the live call of that extension, unheard at first; keys switch between
//! listen (0), whisper to the agent (2) and barge in (3). The agent desk
//! joins calls the same way (`App::Join`): a supervisor's click, a 3-way
//! party, a consulted party; the desk checked who may.

use crate::base::context::Ctx;
use crate::calls::control::{CallControl, CallError, Command, MonitorMode, PlayItem};
use crate::calls::CallMsg;
use media::conference::Conference;
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
        .map(|e| *e.key());
    let Some(id) = target else {
        tracing::info!("call {}: no live call of {ext} to monitor", call.id);
        call.play(vec![PlayItem::Prompt("invalid".into())], false)
            .await?;
        return Ok(());
    };
    watch(call, ctx, id, ext, MonitorMode::Listen).await
}

/// A call the engine placed (from the agent desk) joins call `target` of
/// agent `agent` in `mode`: the caller of [`originate`](crate::calls::originate)
/// checked who may.
pub(super) async fn join(
    call: &CallControl,
    ctx: &Ctx,
    target: u64,
    agent: &str,
    mode: MonitorMode,
) -> Result<(), CallError> {
    call.answer().await?;
    watch(call, ctx, target, agent, mode).await
}

/// Joins call `target` (where `agent` is one party) in `mode` until this
/// call ends; a target that has ended or cannot be joined gets the
/// "invalid" prompt.
async fn watch(
    call: &CallControl,
    ctx: &Ctx,
    target: u64,
    agent: &str,
    mode: MonitorMode,
) -> Result<(), CallError> {
    let found = ctx
        .calls
        .get(&target)
        .map(|e| (e.value().0.clone(), e.value().1.side_of(agent)));
    let room = match &found {
        Some((tx, _)) => {
            let room = Conference::start(&ctx.media_rt, media::audio::RATE_8K);
            let (reply, rx) = oneshot::channel();
            let sent = tx.send(CallMsg::Control(Command::Monitor {
                room: Some(room),
                reply,
            }));
            match rx.await {
                Ok(Ok(room)) if sent.is_ok() => Some(room),
                _ => None,
            }
        }
        None => None,
    };
    let (Some(room), Some((_, agent_side))) = (room, found) else {
        tracing::info!("call {}: call {target} cannot be joined", call.id);
        call.play(vec![PlayItem::Prompt("invalid".into())], false)
            .await?;
        return Ok(());
    };
    tracing::info!(
        "call {}: {} call {target} ({agent})",
        call.id,
        mode.as_str()
    );
    call.supervise(target, room, agent_side, mode).await
}
