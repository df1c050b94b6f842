//! What a call needs from the layers above it, as ports: this layer says
//! what it asks, the layer above answers, and the server plugs the answer
//! into [`Ctx`] at start. So calls start applications, report queue callers
//! and play uploaded sounds without naming the applications, the queue
//! service or the media library.
//!
//! - applications: the kinds a number can route to ([`App`], which the
//!   router returns) and the [`AppLauncher`] that runs one on a call;
//! - the queue service: what a call tells it about its caller
//!   ([`QueueReport`], through [`QueueReports`]);
//! - the media library: where an uploaded sound is ([`SoundLibrary`]), and
//!   so what a configured sound plays ([`sound_item`]).
//!
//! Each is used once per call or per call event, never per packet.

use crate::base::context::{CallTx, Ctx};
use crate::calls::control::{CallControl, PlayItem};
use callcenter::acd::{MemberJoin, OfferOutcome};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// The engine placed this call to a phone, which answered: join it to
    /// the live call `call` of agent `agent` in `mode` (a supervisor's
    /// listen, whisper or barge from the desk; a 3-way or consulted party).
    Join {
        /// The engine id of the call joined.
        call: u64,
        /// The extension of the agent on that call (whom a whisper reaches).
        agent: String,
        /// How the phone takes part.
        mode: crate::calls::control::MonitorMode,
    },
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
            App::Join { .. } => "join",
        }
    }
}

/// Applications an IVR entry may run (the IVR application runs them when
/// the caller chooses one); the settings check IVR menus against this.
pub fn app_exists(name: &str) -> bool {
    matches!(name, "queue" | "echo" | "readback" | "conference")
}

/// Starts applications on calls: the applications layer implements it.
pub trait AppLauncher: Send + Sync {
    /// Runs `app` on the call `call` controls, in a task of its own, until
    /// it is done (then hangs up if the caller has not); returns at once.
    fn launch(&self, app: App, call: CallControl, ctx: Arc<Ctx>);
}

/// What a call tells the queue service about its caller.
#[derive(Debug)]
pub enum QueueReport {
    /// A caller enters a queue; `call` is its actor's mailbox.
    Join {
        /// Who and where.
        join: MemberJoin,
        /// The caller's call actor.
        call: CallTx,
        /// The caller leg's SIP Call-ID (links queue records to the CDR).
        call_id: String,
    },
    /// A waiting caller hung up.
    Hangup {
        /// Engine call id.
        member: u64,
    },
    /// A waiting caller pressed a key.
    Digit {
        /// Engine call id.
        member: u64,
        /// The key.
        digit: char,
    },
    /// How an offer ended.
    OfferResult {
        /// Engine call id.
        member: u64,
        /// Agent id.
        agent: String,
        /// What happened.
        outcome: OfferOutcome,
    },
    /// A caller's call with an agent ended.
    CallEnded {
        /// Engine call id.
        member: u64,
        /// Agent id.
        agent: String,
        /// How long they talked.
        talk_time: Duration,
        /// When the call ended (the agent is free from then, after wrap-up).
        ended_at: Instant,
    },
}

/// Where calls send their [`QueueReport`]s: the queue service implements it.
pub trait QueueReports: Send + Sync {
    /// Delivers a report (in order with the calls' other reports).
    fn report(&self, report: QueueReport);
}

/// Uploaded sounds by name: the media library implements it.
pub trait SoundLibrary: Send + Sync {
    /// Where the uploaded file `name` is, if there is one.
    fn path(&self, name: &str) -> Option<PathBuf>;
}

/// What a configured sound (prompt or music) plays: an uploaded media file
/// of that name, a file path (with '/'), or a built-in prompt.
pub fn sound_item(ctx: &Ctx, sound: &str) -> PlayItem {
    if let Some(path) = ctx.sounds.path(sound) {
        PlayItem::File(path)
    } else if sound.contains('/') {
        PlayItem::File(PathBuf::from(sound))
    } else {
        PlayItem::Prompt(sound.to_string())
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
