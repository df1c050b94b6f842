//! The conference number: answers and puts every caller into one room
//! (named after the number), where each hears all the others.

use crate::base::context::Ctx;
use crate::calls::control::{CallControl, CallError};

pub(super) async fn run(call: &CallControl, ctx: &Ctx) -> Result<(), CallError> {
    call.answer().await?;
    call.conference(&ctx.cfg.apps.conference).await
}
