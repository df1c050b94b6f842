//! Leaving a voicemail: the greeting, a beep, then the caller's message is
//! recorded (mono WAV under `voicemail.dir/<extension>/`) until they press
//! # or hang up, or `voicemail.max_secs` pass; the message is listed for the
//! extension (and its phones are told, see MWI), and announced on the event
//! bus ([`Event::VoicemailLeft`]) for the web module's e-mail notice.

use crate::base::context::{now_ms, Ctx};
use crate::base::events::Event;
use crate::calls::control::{CallControl, CallError, CollectSpec, PlayItem};
use crate::sip::Edge;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Messages shorter than this are not kept (a caller who hung up at the beep).
const MIN_SECS: f64 = 0.5;

pub(super) async fn run(
    call: &CallControl,
    ctx: &Ctx,
    edge: &Edge,
    ext: &str,
) -> Result<(), CallError> {
    // Read now: a caller who ends the message by hanging up takes the call
    // (and its entry in the live call list) away before the message is saved.
    let caller = ctx
        .calls
        .get(&call.id)
        .map(|c| c.value().1.caller.clone())
        .unwrap_or_default();
    call.answer().await?;
    call.play(
        vec![
            PlayItem::Prompt("vm_greeting".into()),
            PlayItem::Silence(200),
            PlayItem::Sine(1000.0, 400),
        ],
        false,
    )
    .await?;
    let path = message_path(&ctx.cfg.voicemail.dir, ext, call.id);
    call.record_to(path.clone()).await?;
    let spec = CollectSpec {
        min: 1,
        max: 1,
        timeout: Duration::from_secs(ctx.cfg.voicemail.max_secs.max(1)),
        inter_digit: Duration::from_secs(1),
        terminators: "#".into(),
    };
    let caller_left = match call.play_and_collect(Vec::new(), spec).await {
        Ok(_) | Err(CallError::Timeout) => false,
        Err(CallError::HungUp) => true,
        Err(e) => return Err(e),
    };
    let seconds = if caller_left {
        finished_length(&path).await
    } else {
        call.stop_recording().await?
    };
    save(call, ctx, edge, ext, &caller, &path, seconds).await;
    if caller_left {
        return Err(CallError::HungUp);
    }
    call.play(vec![PlayItem::Prompt("vm_saved".into())], false)
        .await?;
    Ok(())
}

fn message_path(dir: &Path, ext: &str, call: u64) -> PathBuf {
    let safe: String = ext
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    dir.join(safe).join(format!("{stamp}-{call}.wav"))
}

/// The length of a recording the call's end is closing: read back until two
/// reads agree (the media task finishes the file on its own thread), for at
/// most 3 s.
async fn finished_length(path: &Path) -> f64 {
    let mut last = -1.0;
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = wav_seconds(path).unwrap_or(0.0);
        if now == last && now > 0.0 {
            break;
        }
        last = now;
    }
    last.max(0.0)
}

fn wav_seconds(path: &Path) -> Option<f64> {
    let r = hound::WavReader::open(path).ok()?;
    let spec = r.spec();
    Some(f64::from(r.duration()) / f64::from(spec.sample_rate.max(1)))
}

async fn save(
    call: &CallControl,
    ctx: &Ctx,
    edge: &Edge,
    ext: &str,
    caller: &str,
    path: &Path,
    seconds: f64,
) {
    if seconds < MIN_SECS {
        let _ = std::fs::remove_file(path);
        tracing::info!("call {}: voicemail for {ext} too short, not kept", call.id);
        return;
    }
    let vm = store::Voicemail {
        id: None,
        extension: ext.to_string(),
        caller: caller.to_string(),
        at: now_ms() as i64,
        path: path.display().to_string(),
        seconds: seconds.round() as i64,
        heard: false,
    };
    match ctx.store.insert_voicemail(&vm).await {
        Ok(id) => {
            tracing::info!("call {}: voicemail {id} for {ext}, {seconds:.1} s", call.id);
            // Only once it is stored: a listener may read it back at once.
            ctx.events.publish(|| Event::VoicemailLeft {
                call: call.id,
                message: id,
                mailbox: ext.to_string(),
                caller: caller.to_string(),
                duration_ms: (seconds * 1000.0).round() as u64,
                at_ms: vm.at,
            });
            crate::sip::mwi::notify(ctx, &edge.mwi, ext).await;
        }
        Err(e) => tracing::warn!("call {}: voicemail for {ext} not listed: {e}", call.id),
    }
}
