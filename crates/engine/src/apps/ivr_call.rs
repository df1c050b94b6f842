//! An IVR number: runs the configured menus on the call, then carries out
//! what the caller chose that the menus themselves do not (a queue, another
//! built-in application); transfers to extensions happen inside the menus.

use super::ivr::{self, IvrOutcome, IvrTargets};
use crate::base::context::Ctx;
use crate::calls::control::{CallControl, CallError, PlayItem};

/// How long an IVR's external number may ring.
const EXTERNAL_RING: std::time::Duration = std::time::Duration::from_secs(60);

/// Prompts resolved with the media library; ring times as configured
/// (the driver's defaults).
struct Targets<'a>(&'a Ctx);

impl IvrTargets for Targets<'_> {
    fn play_item(&self, prompt: &str) -> PlayItem {
        crate::calls::ports::sound_item(self.0, prompt)
    }
}

pub(super) async fn run(call: &CallControl, ctx: &Ctx, root: &str) -> Result<(), CallError> {
    // The menus as they are when the call arrives: an admin's change
    // applies to the next caller, not in the middle of this one's menu.
    let settings = ctx.callcenter.get();
    let outcome = ivr::run(&settings.ivr, root, call, &Targets(ctx)).await?;
    tracing::info!("call {}: IVR {root} ended: {outcome:?}", call.id);
    match outcome {
        IvrOutcome::RunApp { name, arg } => match name.as_str() {
            "queue" => super::queue::run(call, ctx, &arg).await?,
            "echo" => call.echo().await?,
            "conference" => call.conference(&arg).await?,
            other => tracing::warn!("call {}: IVR chose unknown application {other}", call.id),
        },
        IvrOutcome::External { number } => {
            // Out through the outbound rule the number matches; when none
            // does or no gateway takes it, the caller hears why it failed.
            match call.bridge(&number, EXTERNAL_RING).await {
                Ok(()) => {}
                Err(CallError::NotReached(code, reason)) => {
                    tracing::warn!(
                        "call {}: IVR's external number {number} not reached: {code} {reason}",
                        call.id
                    );
                    call.play(vec![PlayItem::Prompt("invalid".into())], false)
                        .await?;
                }
                Err(e) => return Err(e),
            }
        }
        IvrOutcome::Misconfigured(e) => {
            tracing::error!("call {}: IVR {root} cannot run: {e}", call.id);
        }
        IvrOutcome::Transferred { .. } | IvrOutcome::Hangup | IvrOutcome::Exit(_) => {}
    }
    Ok(())
}
