//! The echo test extension: answers, says what it is, then plays back what
//! the caller says (packets looped back as they arrive) until the caller
//! hangs up.

use crate::calls::control::{CallControl, CallError, PlayItem};

pub(super) async fn run(call: &CallControl) -> Result<(), CallError> {
    call.answer().await?;
    call.play(vec![PlayItem::Prompt("echo_intro".into())], true)
        .await?;
    call.echo().await
}
