//! An announcement: answers, plays one prompt (a built-in prompt name, or a
//! file path when it contains '/') and hangs up. Inbound routing rules use it
//! for their after-hours prompt.

use crate::calls::control::{CallControl, CallError};

pub(super) async fn run(
    call: &CallControl,
    ctx: &crate::base::context::Ctx,
    prompt: &str,
) -> Result<(), CallError> {
    call.answer().await?;
    call.play(vec![crate::calls::ports::sound_item(ctx, prompt)], false)
        .await?;
    Ok(())
}
