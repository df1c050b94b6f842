//! The tone test extension: a reference tone played from a prompt file
//! (`<sounds_dir>/test/milliwatt.wav`, 1004 Hz, the digital milliwatt), then
//! the configured tone plan's ringback, busy and congestion tones; useful to
//! check a phone's audio path and the tone plan.

use crate::base::context::Ctx;
use crate::calls::control::{CallControl, CallError, PlayItem};
use media::tones::ToneKind;

pub(super) async fn run(call: &CallControl, ctx: &Ctx) -> Result<(), CallError> {
    call.answer().await?;
    let milliwatt = ctx.cfg.media.sounds_dir.join("test").join("milliwatt.wav");
    call.play(
        vec![
            PlayItem::File(milliwatt),
            PlayItem::Silence(500),
            PlayItem::Tone(ToneKind::Ringback, 6000),
            PlayItem::Tone(ToneKind::Busy, 3000),
            PlayItem::Tone(ToneKind::Congestion, 3000),
        ],
        false,
    )
    .await?;
    Ok(())
}
