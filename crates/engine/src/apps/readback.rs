//! The DTMF readback extension: every key the caller presses (RFC 4733,
//! SIP INFO or in-band) is reported in the live call info and events, and
//! spoken back. Hangs up after 30 s without a key.

use crate::calls::control::{CallControl, CallError, CollectSpec, PlayItem};
use std::time::Duration;

/// Quiet time after which the test ends.
const IDLE: Duration = Duration::from_secs(30);

pub(super) async fn run(call: &CallControl) -> Result<(), CallError> {
    call.answer().await?;
    call.play(vec![PlayItem::Prompt("readback_intro".into())], true)
        .await?;
    let spec = CollectSpec {
        min: 1,
        max: 1,
        timeout: IDLE,
        inter_digit: IDLE,
        terminators: String::new(),
    };
    loop {
        let key = match call.play_and_collect(Vec::new(), spec.clone()).await {
            Ok(c) => c.digits,
            Err(CallError::Timeout) => break,
            Err(e) => return Err(e),
        };
        tracing::info!("call {}: readback got '{key}'", call.id);
        call.play(vec![PlayItem::SayDigits(key)], true).await?;
    }
    call.play(vec![PlayItem::Prompt("goodbye".into())], false)
        .await?;
    Ok(())
}
