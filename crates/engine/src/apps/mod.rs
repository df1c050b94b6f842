//! Applications that answer calls themselves, driving them through the
//! call-control API ([`crate::calls::control`]): the built-in test
//! extensions, queues and IVRs; the robot applications later.

mod announce;
mod conference;
mod dial;
mod eavesdrop;
mod echo;
pub mod ivr;
mod ivr_call;
mod originate;
mod pickup;

pub(crate) use ivr_call::app_exists;
mod queue;
mod readback;
mod tone;
mod voicemail;

use crate::base::context::Ctx;
use crate::calls::control::CallControl;
use crate::calls::HangupCause;
use std::sync::Arc;

/// An application a number can route to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum App {
    /// Echo test: the caller hears itself.
    Echo,
    /// DTMF readback: each key is read back and reported.
    Readback,
    /// Tone test: a reference tone (a prompt file), then ringback.
    Tone,
    /// Conference room: every caller of the number is mixed together.
    Conference,
    /// Dial-through: collects an extension number and connects to it.
    Dial,
    /// A queue (by name): the caller waits for an agent.
    Queue(String),
    /// An IVR (by its top menu's id).
    Ivr(String),
    /// Leaving a message in an extension's voicemail.
    Voicemail(String),
    /// A supervisor monitoring an extension's live call.
    Eavesdrop(String),
    /// Picking up the call ringing at an extension.
    Pickup(String),
    /// Plays this prompt (a built-in prompt name, or a file path when it
    /// contains '/') and hangs up: an inbound rule's after-hours prompt.
    Announce(String),
    /// The engine placed this call to a phone, which answered: connect it
    /// to the number (click-to-dial).
    Originate(String),
}

impl App {
    /// Short name, shown in the live call list.
    pub fn name(&self) -> &'static str {
        match self {
            App::Echo => "echo",
            App::Readback => "readback",
            App::Tone => "tone",
            App::Conference => "conference",
            App::Dial => "dial",
            App::Queue(_) => "queue",
            App::Ivr(_) => "ivr",
            App::Voicemail(_) => "voicemail",
            App::Eavesdrop(_) => "eavesdrop",
            App::Pickup(_) => "pickup",
            App::Announce(_) => "announce",
            App::Originate(_) => "originate",
        }
    }
}

/// Runs `app` on its call until it is done; then hangs up if the caller has not.
pub async fn run(app: App, call: CallControl, ctx: Arc<Ctx>) {
    let result = match &app {
        App::Echo => echo::run(&call).await,
        App::Readback => readback::run(&call).await,
        App::Tone => tone::run(&call, &ctx).await,
        App::Conference => conference::run(&call, &ctx).await,
        App::Dial => dial::run(&call).await,
        App::Queue(q) => queue::run(&call, &ctx, q).await,
        App::Ivr(root) => ivr_call::run(&call, &ctx, root).await,
        App::Voicemail(ext) => voicemail::run(&call, &ctx, ext).await,
        App::Eavesdrop(ext) => eavesdrop::run(&call, &ctx, ext).await,
        App::Pickup(ext) => pickup::run(&call, &ctx, ext).await,
        App::Announce(prompt) => announce::run(&call, &ctx, prompt).await,
        App::Originate(number) => originate::run(&call, number).await,
    };
    match result {
        Ok(()) => call.hangup(HangupCause::NormalClearing),
        Err(crate::calls::control::CallError::HungUp) => {}
        Err(e) => {
            tracing::warn!("call {}: {} application failed: {e}", call.id, app.name());
            call.hangup(HangupCause::NormalTemporaryFailure);
        }
    }
}

/// The built-in prompt that speaks `digit` ("digits/5", "digits/star").
pub fn digit_prompt(digit: char) -> Option<String> {
    let name = match digit {
        '0'..='9' | 'A'..='D' => digit.to_string(),
        'a'..='d' => digit.to_ascii_uppercase().to_string(),
        '*' => "star".into(),
        '#' => "pound".into(),
        _ => return None,
    };
    Some(format!("digits/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dtmf_key_has_a_shipped_prompt() {
        let sounds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sounds");
        for lang in ["en", "zh"] {
            for d in "0123456789*#ABCD".chars() {
                let name = digit_prompt(d).unwrap();
                let file = sounds.join(lang).join(format!("{name}.wav"));
                assert!(file.is_file(), "missing {}", file.display());
            }
        }
        assert_eq!(digit_prompt('x'), None);
    }
}
