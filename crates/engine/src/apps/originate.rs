//! The second half of a call the engine placed (click-to-dial): the phone
//! that was rung first has answered; ring the number with ringback to it,
//! connect the two, and end the call when the other party hangs up. If the
//! number cannot be reached, the phone hears why (busy tone for busy,
//! congestion otherwise) before the engine hangs up.

use crate::calls::control::{CallControl, CallError, PlayItem};
use media::tones::ToneKind;
use std::time::Duration;

/// How long the number may ring.
const RING: Duration = Duration::from_secs(60);
/// How long the phone hears the failure tone.
const FAILURE_TONE_MS: u32 = 4000;

pub(super) async fn run(call: &CallControl, number: &str) -> Result<(), CallError> {
    call.answer().await?;
    call.report(&format!("calling {number}"));
    match call.bridge(number, RING).await {
        Ok(()) => Ok(()),
        Err(CallError::NotReached(code, reason)) => {
            tracing::info!("call {}: {number} not reached: {code} {reason}", call.id);
            call.report(&format!("{number} not reached: {code} {reason}"));
            let tone = if code == 486 || code == 600 {
                ToneKind::Busy
            } else {
                ToneKind::Congestion
            };
            call.play(vec![PlayItem::Tone(tone, FAILURE_TONE_MS)], false)
                .await?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}
