//! The call-control API that applications (echo, readback, and later IVR,
//! queue and robot scripts) drive a call with, like FreeSWITCH dialplan
//! applications: answer, play, play-and-collect, record, echo, send DTMF,
//! hang up. Each call returns when the operation is done, or says why it
//! failed (the caller hung up, a timeout, a file that cannot be played).
//!
//! Every method is a message to the call's actor, which owns the SIP legs
//! and the media session; the application never touches SIP.

use super::CallMsg;
use crate::base::context::CallTx;
use media::tones::ToneKind;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;

/// Something to play to the caller.
#[derive(Clone, Debug, PartialEq)]
pub enum PlayItem {
    /// An audio file (wav or mp3), decoded once and cached.
    File(PathBuf),
    /// A built-in prompt by name, e.g. "ivr/welcome": the file
    /// `<sounds_dir>/<language>/<name>.wav`.
    Prompt(String),
    /// A call-progress tone of the configured tone plan, for `ms` milliseconds.
    Tone(ToneKind, u32),
    /// A pure tone of `hz` for `ms` milliseconds (test extensions).
    Sine(f32, u32),
    /// Digits read out one by one with the built-in digit prompts.
    SayDigits(String),
    /// Silence.
    Silence(u32),
}

pub use callcenter::collect::CollectSpec;

/// What play-and-collect got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collected {
    /// The digits (terminator excluded).
    pub digits: String,
    /// The terminator pressed, if input ended with one.
    pub terminator: Option<char>,
}

/// How a caller's time in a queue ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueOutcome {
    /// An agent answered; the call with them is over (the agent hung up),
    /// the caller is still there.
    Served {
        /// Agent id.
        agent: String,
        /// The agent sent the caller to the satisfaction survey.
        survey: bool,
    },
    /// The queue sent the caller on unserved (timeout, no agent, exit key).
    Cancelled {
        /// Why.
        reason: String,
    },
}

/// How a party the engine joins to a live call takes part: a supervisor
/// listens unheard, whispers to the agent alone, or barges in (heard by
/// both); the agent's own third party joins a 3-way call or is consulted
/// (the agent and it talk alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorMode {
    /// Hears both parties, heard by no one.
    Listen,
    /// Hears both parties, heard by the agent only.
    Whisper,
    /// Hears and is heard by both.
    Barge,
    /// An agent's consultation: talks with the agent alone; the caller
    /// hears neither of them meanwhile (an attended transfer's first step).
    Consult,
    /// A party the agent brought in (3-way), or the consulted party once
    /// the transfer completed: heard by everyone, like a barge, but the
    /// agent's to drop, not a supervisor's.
    Conference,
}

impl MonitorMode {
    /// From its name in forms and the API: listen, whisper, barge.
    pub fn parse(s: &str) -> Option<MonitorMode> {
        match s {
            "listen" => Some(MonitorMode::Listen),
            "whisper" => Some(MonitorMode::Whisper),
            "barge" => Some(MonitorMode::Barge),
            "consult" => Some(MonitorMode::Consult),
            "conference" => Some(MonitorMode::Conference),
            _ => None,
        }
    }

    /// Its name in forms and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
            MonitorMode::Consult => "consult",
            MonitorMode::Conference => "conference",
        }
    }
}

/// How a play ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlayOutcome {
    /// Everything was played.
    Completed,
    /// A key interrupted it (the digit stays in the input buffer).
    Interrupted(char),
}

/// Why an operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The caller hung up (or the call ended for another reason).
    #[error("the call has ended")]
    HungUp,
    /// No (or not enough) input in time.
    #[error("timed out waiting for digits")]
    Timeout,
    /// A prompt or file could not be played; names the file.
    #[error("cannot play: {0}")]
    Media(String),
    /// The operation needs an answered call.
    #[error("the call is not answered")]
    NotAnswered,
    /// Recording could not start or failed; names the file.
    #[error("recording: {0}")]
    Recording(String),
    /// The other party of a bridge could not be reached (busy, no answer,
    /// unknown number...): the final SIP code and reason.
    #[error("not reached: {0} {1}")]
    NotReached(u16, String),
}

/// A command from an application to its call.
#[derive(Debug)]
pub enum Command {
    /// Answer (200 OK with our SDP).
    Answer(oneshot::Sender<Result<(), CallError>>),
    /// Play a list of items; `interruptible`: a key stops it.
    Play {
        /// What to play.
        items: Vec<PlayItem>,
        /// Stop on the first key.
        interruptible: bool,
        /// Loop until stopped (music on hold).
        looped: bool,
        /// The result.
        reply: oneshot::Sender<Result<PlayOutcome, CallError>>,
    },
    /// Play prompts (interrupted by the first key), then collect digits.
    Collect {
        /// Prompts.
        items: Vec<PlayItem>,
        /// Collection rules.
        spec: CollectSpec,
        /// The result.
        reply: oneshot::Sender<Result<Collected, CallError>>,
    },
    /// Join a conference room (created on first use) until the call ends.
    Conference(String, oneshot::Sender<Result<(), CallError>>),
    /// Echo the caller's audio back until the call ends.
    Echo(oneshot::Sender<Result<(), CallError>>),
    /// Call `number` and connect the caller to it; answered when the other
    /// party hangs up (the caller stays), or failed if it is not reached in
    /// `timeout`. The caller hears ringback meanwhile.
    Bridge {
        /// Extension to call.
        number: String,
        /// Ring time.
        timeout: Duration,
        /// The result.
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// A supervisor wants to monitor this call: move both parties into
    /// `room` (or back to a plain bridge with None); answers whether it could.
    Monitor {
        /// The room, or None to leave it.
        room: Option<media::conference::Conference>,
        /// The room the parties are in (an earlier monitor's, if the call
        /// already had one: everyone joining shares it), or why not (no two
        /// connected parties).
        reply: oneshot::Sender<Result<media::conference::Conference, CallError>>,
    },
    /// Join the supervisor's own call to another call's room as a
    /// monitoring member in `mode`; returns when the supervisor's call ends.
    Supervise {
        /// The monitored call's engine id.
        target: u64,
        /// The monitored call's room.
        room: media::conference::Conference,
        /// The monitored call's side the agent is on (whom a whisper reaches).
        agent: super::Side,
        /// Listen, whisper or barge.
        mode: MonitorMode,
        /// Ok when done.
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// Change how the supervisor takes part (keys 0, 2, 3 during
    /// monitoring, or the desk's buttons).
    SetMonitorMode(MonitorMode),
    /// To a call someone joined (see `Supervise`): the party on `agent`'s
    /// side leaves, and the other stays with the joined call `partner`
    /// (an attended transfer completed from the agent desk).
    HandOver {
        /// The joined call.
        partner: u64,
        /// The side that leaves.
        agent: super::Side,
        /// Ok, or why not.
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// To a joined call: it now carries the conversation of call `partner`
    /// (after `HandOver`): heard by everyone, and ending with it.
    Partner(u64),
    /// To a ringing call: another phone picks it up. The call stops ringing
    /// its callee, answers its caller and puts it into `room`; `by` (the
    /// picker's call) is hung up when this call ends.
    PickUp {
        /// The room the two calls meet in.
        room: media::conference::Conference,
        /// The picker's call id.
        by: u64,
        /// Ok, or why not (no longer ringing).
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// Attended transfer (REFER with Replaces): this call's leg `keep` goes
    /// into `room` to meet the transferee of call `partner`; the other leg
    /// (the transferring party) is released.
    Attend {
        /// The room the two parties meet in.
        room: media::conference::Conference,
        /// Which leg of this call stays.
        keep: crate::calls::Side,
        /// The other call (hung up when this one ends).
        partner: u64,
        /// Ok, or why not.
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// To the picker's own call: join `room` with the picked-up call
    /// `partner` until either ends.
    JoinPickup {
        /// The room.
        room: media::conference::Conference,
        /// The picked-up call's id.
        partner: u64,
        /// Ok when the picker's call ends.
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// Hold (true: the caller hears music on hold, the other party silence)
    /// or retrieve (false: both hear each other again).
    Hold(bool),
    /// Blind transfer: release the party the caller talks to and connect
    /// the caller to this extension instead.
    Transfer(String),
    /// The agent sends the caller to the satisfaction survey: the agent's
    /// leg is released and the queue application asks the caller to rate.
    SendToSurvey,
    /// Wait in queue `queue` with music on hold until an agent has talked
    /// with the caller (or the queue sends the caller on).
    EnterQueue {
        /// Queue name.
        queue: String,
        /// The result.
        reply: oneshot::Sender<Result<QueueOutcome, CallError>>,
    },
    /// From the queue service: ring `agent` at `contact` for this caller.
    Offer {
        /// Agent id.
        agent: String,
        /// The agent's extension.
        contact: String,
        /// Ring time before the offer counts as unanswered.
        ring_timeout: Duration,
        /// Ask the agent's phone to answer by itself.
        auto_answer: bool,
    },
    /// From the queue service: stop ringing `agent` (or hang it up).
    CancelOffer {
        /// Agent id.
        agent: String,
    },
    /// From the queue service: the caller leaves the queue unserved.
    LeaveQueue {
        /// Why (TIMEOUT, NO_AGENT_TIMEOUT, EXIT_WITH_KEY).
        reason: String,
    },
    /// From the queue service: play `sound` to the waiting caller, then
    /// music on hold again.
    Announce {
        /// Prompt name or file.
        sound: String,
    },
    /// Send DTMF to the caller (RFC 4733 or in-band, as negotiated).
    SendDtmf(String, oneshot::Sender<Result<(), CallError>>),
    /// Start recording the call into the configured recordings directory.
    Record(oneshot::Sender<Result<PathBuf, CallError>>),
    /// Pause (true) or resume (false) the recording.
    PauseRecording(bool),
    /// Record the caller alone (mono, 8 kHz) into `path` (voicemail).
    RecordTo(PathBuf, oneshot::Sender<Result<PathBuf, CallError>>),
    /// Stop recording: the seconds recorded.
    StopRecording(oneshot::Sender<Result<f64, CallError>>),
    /// Hang up with a cause.
    Hangup(super::HangupCause),
    /// Report a value in the call's live info and events (e.g. digits read back).
    Report(String),
}

/// The handle an application holds on its call.
#[derive(Clone, Debug)]
pub struct CallControl {
    /// Engine call id.
    pub id: u64,
    tx: CallTx,
}

impl CallControl {
    /// A handle on the call whose mailbox is `tx`.
    pub fn new(id: u64, tx: CallTx) -> Self {
        CallControl { id, tx }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, CallError>>) -> Command,
    ) -> Result<T, CallError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(CallMsg::Control(make(tx)))
            .map_err(|_| CallError::HungUp)?;
        rx.await.unwrap_or(Err(CallError::HungUp))
    }

    /// Answers the call.
    pub async fn answer(&self) -> Result<(), CallError> {
        self.ask(Command::Answer).await
    }

    /// Plays `items` to the end, or until a key if `interruptible`.
    pub async fn play(
        &self,
        items: Vec<PlayItem>,
        interruptible: bool,
    ) -> Result<PlayOutcome, CallError> {
        self.ask(|reply| Command::Play {
            items,
            interruptible,
            looped: false,
            reply,
        })
        .await
    }

    /// Plays `items` in a loop (music on hold) until another operation
    /// replaces it or a key is pressed.
    pub async fn play_looped(&self, items: Vec<PlayItem>) -> Result<PlayOutcome, CallError> {
        self.ask(|reply| Command::Play {
            items,
            interruptible: true,
            looped: true,
            reply,
        })
        .await
    }

    /// Plays prompts (a key interrupts them), then collects digits.
    pub async fn play_and_collect(
        &self,
        items: Vec<PlayItem>,
        spec: CollectSpec,
    ) -> Result<Collected, CallError> {
        self.ask(|reply| Command::Collect { items, spec, reply })
            .await
    }

    /// Calls `number` and connects the caller to it. Returns Ok when the
    /// other party hangs up (the caller is still there: the application goes
    /// on, e.g. with a survey), `NotReached` if it is busy, unknown or does
    /// not answer within `timeout`, `HungUp` if the caller leaves.
    pub async fn bridge(&self, number: &str, timeout: Duration) -> Result<(), CallError> {
        let number = number.to_string();
        self.ask(|reply| Command::Bridge {
            number,
            timeout,
            reply,
        })
        .await
    }

    /// Puts the caller in queue `queue` (music on hold, agents offered by the
    /// queue's strategy); returns when an agent has talked with the caller
    /// and hung up, or the queue gives up on them.
    pub async fn enter_queue(&self, queue: &str) -> Result<QueueOutcome, CallError> {
        let queue = queue.to_string();
        self.ask(|reply| Command::EnterQueue { queue, reply }).await
    }

    /// Monitors call `target` (whose parties are in `room`, the agent on
    /// side `agent`) in `mode`; returns when the supervisor's call ends.
    pub async fn supervise(
        &self,
        target: u64,
        room: media::conference::Conference,
        agent: super::Side,
        mode: MonitorMode,
    ) -> Result<(), CallError> {
        self.ask(|reply| Command::Supervise {
            target,
            room,
            agent,
            mode,
            reply,
        })
        .await
    }

    /// Changes how this monitoring call takes part (listen, whisper, barge).
    pub fn set_monitor_mode(&self, mode: MonitorMode) {
        let _ = self
            .tx
            .send(CallMsg::Control(Command::SetMonitorMode(mode)));
    }

    /// On a call another call joined: the party on side `agent` leaves
    /// and the other one stays with the joined call `partner`.
    pub async fn hand_over(&self, partner: u64, agent: super::Side) -> Result<(), CallError> {
        self.ask(|reply| Command::HandOver {
            partner,
            agent,
            reply,
        })
        .await
    }

    /// Joins the picked-up call `partner` in `room` until either side ends.
    pub async fn join_pickup(
        &self,
        room: media::conference::Conference,
        partner: u64,
    ) -> Result<(), CallError> {
        self.ask(|reply| Command::JoinPickup {
            room,
            partner,
            reply,
        })
        .await
    }

    /// Sends a queue caller to the satisfaction survey (the agent is released).
    pub fn send_to_survey(&self) {
        let _ = self.tx.send(CallMsg::Control(Command::SendToSurvey));
    }

    /// Blind-transfers the caller to `target` (the connected party is released).
    pub fn transfer(&self, target: &str) {
        let _ = self
            .tx
            .send(CallMsg::Control(Command::Transfer(target.to_string())));
    }

    /// Puts the caller on hold with music (the other party hears silence),
    /// or retrieves it.
    pub fn hold(&self, on: bool) {
        let _ = self.tx.send(CallMsg::Control(Command::Hold(on)));
    }

    /// Echoes the caller's audio until the call ends (returns `HungUp`).
    pub async fn echo(&self) -> Result<(), CallError> {
        self.ask(Command::Echo).await
    }

    /// Puts the caller into conference room `name` (opened on first use,
    /// closed when the last member leaves); returns when the call ends.
    pub async fn conference(&self, name: &str) -> Result<(), CallError> {
        let name = name.to_string();
        self.ask(|reply| Command::Conference(name, reply)).await
    }

    /// Sends DTMF digits to the caller.
    pub async fn send_dtmf(&self, digits: &str) -> Result<(), CallError> {
        let digits = digits.to_string();
        self.ask(|reply| Command::SendDtmf(digits, reply)).await
    }

    /// Starts recording; returns the file path.
    pub async fn record(&self) -> Result<PathBuf, CallError> {
        self.ask(Command::Record).await
    }

    /// Records the caller alone into `path` (mono, 8 kHz).
    pub async fn record_to(&self, path: PathBuf) -> Result<PathBuf, CallError> {
        self.ask(|reply| Command::RecordTo(path, reply)).await
    }

    /// Stops the recording; how many seconds it holds.
    pub async fn stop_recording(&self) -> Result<f64, CallError> {
        self.ask(Command::StopRecording).await
    }

    /// Pauses or resumes the recording.
    pub fn pause_recording(&self, paused: bool) {
        let _ = self
            .tx
            .send(CallMsg::Control(Command::PauseRecording(paused)));
    }

    /// Publishes a note about the call (shown in the live call list).
    pub fn report(&self, note: &str) {
        let _ = self
            .tx
            .send(CallMsg::Control(Command::Report(note.to_string())));
    }

    /// Hangs up.
    pub fn hangup(&self, cause: super::HangupCause) {
        let _ = self.tx.send(CallMsg::Control(Command::Hangup(cause)));
    }
}
