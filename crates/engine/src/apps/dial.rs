//! The dial-through test extension: answers, asks for an extension number
//! (digits then #), rings it with ringback to the caller, connects the two,
//! and says goodbye to the caller when the other party hangs up. It drives
//! play-and-collect and bridge, the two operations an IVR is made of.

use crate::calls::control::{CallControl, CallError, CollectSpec, PlayItem};
use std::time::Duration;

/// How long the dialled extension may ring.
const RING: Duration = Duration::from_secs(30);

pub(super) async fn run(call: &CallControl) -> Result<(), CallError> {
    call.answer().await?;
    let spec = CollectSpec {
        min: 2,
        max: 10,
        timeout: Duration::from_secs(10),
        inter_digit: Duration::from_secs(5),
        terminators: "#".into(),
    };
    let mut number = None;
    for _ in 0..3 {
        match call
            .play_and_collect(vec![PlayItem::Prompt("enter_digits".into())], spec.clone())
            .await
        {
            Ok(c) => {
                number = Some(c.digits);
                break;
            }
            Err(CallError::Timeout) => {
                call.play(vec![PlayItem::Prompt("timeout".into())], true)
                    .await?;
            }
            Err(e) => return Err(e),
        }
    }
    let Some(number) = number else {
        call.play(vec![PlayItem::Prompt("goodbye".into())], false)
            .await?;
        return Ok(());
    };
    call.report(&format!("dialling {number}"));
    match call.bridge(&number, RING).await {
        Ok(()) => {}
        Err(CallError::NotReached(code, reason)) => {
            tracing::info!("call {}: {number} not reached: {code} {reason}", call.id);
            call.play(vec![PlayItem::Prompt("invalid".into())], false)
                .await?;
        }
        Err(e) => return Err(e),
    }
    call.play(vec![PlayItem::Prompt("goodbye".into())], false)
        .await?;
    Ok(())
}
