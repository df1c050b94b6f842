//! The processing media session of one call: what the plain [`Relay`] cannot
//! do. It terminates RTP on each leg (its own SSRC, sequence and timestamps
//! towards each phone), decodes through a jitter buffer, and decides per leg
//! what that leg hears: the other leg (bridge, transcoded when the codecs
//! differ), itself (echo), a generated source (prompt, tone, music on hold,
//! DTMF tones) or silence. It records both legs, detects DTMF (RFC 4733 and
//! in-band) and sends DTMF (RFC 4733 or in-band, by what the leg negotiated).
//!
//! Cost shape: a bridged packet whose codecs agree (or are both G.711, which
//! transcodes by table lookup) is forwarded as it arrives, with only its header
//! rewritten, exactly like the relay. Decoding happens on the 20 ms tick, for
//! the taps (recorder, in-band detector) and for legs that need real
//! transcoding (G.722 <-> G.711) or generated audio.
//!
//! [`Relay`]: crate::relay::Relay

use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use crate::activity::Activity;
use crate::audio::{frame_len, AudioSource, Fill, FRAME_MS};
use crate::codec::{self, Codec, Decoder, Encoder};
use crate::conference::Conference;
use crate::dtmf::goertzel::InbandDetector;
use crate::dtmf::rfc4733::{Rfc4733Receiver, Rfc4733Sender};
use crate::dtmf::tone::DtmfTone;
use crate::dtmf::DigitEvent;
use crate::jitter::{Concealer, JitterBuffer, Playout};
use crate::latch::{Refusal, Remote, SideState};
use crate::mixer::MemberId;
use crate::ports::RtpPortPair;
use crate::recorder::{Recorder, RecorderError, RecordingSummary};
use crate::relay::{valid_rtcp, valid_rtp, Relay, RelayStats, Side};
use crate::resample::Resampler;
use crate::rtp_stream::RtpSender;
use crate::webrtc::{WebRtcLeg, WebRtcState};

/// Receive buffer size; a datagram filling it may be truncated and is dropped.
const BUF_SIZE: usize = 2048;
/// Datagrams read from one socket before looking at the others.
const BURST: usize = 16;
/// Most packets decoded for one 20 ms tick (a phone sending 10 ms packets
/// needs two; more means a backlog the jitter buffer already bounds).
const MAX_POPS_PER_TICK: usize = 4;
/// RFC 4733 event volume we send (-10 dBm0, as most phones do).
const EVENT_VOLUME: u8 = 10;

/// How one leg's media was negotiated in SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegFormat {
    /// The audio codec both ends agreed on.
    pub codec: Codec,
    /// Its payload type on this leg.
    pub pt: u8,
    /// The telephone-event payload type, if the leg negotiated RFC 4733;
    /// without it DTMF is sent and detected in-band.
    pub te_pt: Option<u8>,
    /// Packetisation time the far end sends with (`a=ptime`, default 20).
    pub ptime_ms: u32,
}

impl LegFormat {
    /// The PCM rate of a leg of this format whose other leg has `other`:
    /// the codec's own rate, except Opus beside a narrowband (G.711) leg,
    /// which runs at 8 kHz (libopus encodes and decodes narrowband itself,
    /// so the call needs no resampling and SILK's narrowband mode costs
    /// less; the far end is narrowband anyway).
    pub fn pcm_rate_beside(self, other: Option<LegFormat>) -> u32 {
        match (self.codec, other) {
            (Codec::Opus, Some(o)) if o.codec.sample_rate() == crate::audio::RATE_8K => {
                crate::codec::opus::NARROW_RATE
            }
            _ => self.codec.sample_rate(),
        }
    }

    /// A format with the default 20 ms packetisation.
    pub fn new(codec: Codec, pt: u8, te_pt: Option<u8>) -> Self {
        LegFormat {
            codec,
            pt,
            te_pt,
            ptime_ms: FRAME_MS,
        }
    }
}

/// What a leg hears.
pub enum Hears {
    /// Silence (sent as encoded silence, so NAT bindings and the phone's
    /// jitter buffer stay alive).
    Silence,
    /// The other leg: the bridge.
    Other,
    /// Itself: the echo test.
    Itself,
    /// Generated audio at the leg's codec rate ([`MediaSession::rate`]); when
    /// it ends a [`MediaEvent::SourceDone`] carries `token` and the leg
    /// hears silence.
    Source {
        /// The generator (player, tone, DTMF tones, ...).
        source: Box<dyn AudioSource>,
        /// Identifies this playback in the done event.
        token: u64,
    },
    /// A conference room: the leg's audio goes into the room as `member`
    /// (who must have joined it) and the leg hears the room's mix for it.
    Conference {
        /// The room.
        room: Conference,
        /// This leg's member id in the room.
        member: MemberId,
    },
}

impl std::fmt::Debug for Hears {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hears::Silence => f.write_str("Silence"),
            Hears::Other => f.write_str("Other"),
            Hears::Itself => f.write_str("Itself"),
            Hears::Source { token, .. } => write!(f, "Source({token})"),
            Hears::Conference { member, .. } => write!(f, "Conference({member})"),
        }
    }
}

/// What a session reports to the call that owns it.
#[derive(Debug)]
pub enum MediaEvent {
    /// A DTMF digit from a leg (RFC 4733 or in-band).
    Digit {
        /// Which leg pressed it.
        side: Side,
        /// The digit.
        event: DigitEvent,
    },
    /// A [`Hears::Source`] ran out.
    SourceDone {
        /// The leg that was hearing it.
        side: Side,
        /// The token given with the source.
        token: u64,
    },
    /// A WebRTC leg failed (ICE never connected, DTLS refused, the browser
    /// went away): the call should end with this reason.
    TransportFailed {
        /// The leg.
        side: Side,
        /// What happened.
        why: String,
    },
    /// Recording stopped because the file could not be written.
    RecordingFailed {
        /// What went wrong, naming the file.
        error: String,
    },
}

/// Where a session delivers its events (the owning call's mailbox).
pub type EventSink = Arc<dyn Fn(MediaEvent) + Send + Sync>;

/// Process-wide counters of every media session, exported as metrics.
#[derive(Debug, Default)]
pub struct SessionStats {
    /// RTP packets received and accepted.
    pub rtp_in: AtomicU64,
    /// RTP packets sent.
    pub rtp_out: AtomicU64,
    /// RTP packets with a payload type the leg did not negotiate.
    pub unknown_payload_type: AtomicU64,
    /// Frames decoded on the tick.
    pub frames_decoded: AtomicU64,
    /// Frames filled by loss concealment.
    pub frames_concealed: AtomicU64,
    /// DTMF digits detected.
    pub digits: AtomicU64,
}

enum Cmd {
    Attach(Side, RtpPortPair),
    SwapLegs,
    Format(Side, LegFormat),
    Remote(Side, Remote),
    WebRtc(Side, Option<WebRtcLeg>),
    Hear(Side, Hears),
    Inband(Side, bool),
    SendDigits(Side, String, u32),
    Record(Recorder, u32),
    PauseRecording(bool),
    StopRecording(oneshot::Sender<Option<Result<RecordingSummary, RecorderError>>>),
    Close,
}

/// Handle to a running media session; the session stops when this is
/// dropped or closed, and its ports go back to the pool.
pub struct MediaSession {
    tx: mpsc::UnboundedSender<Cmd>,
    activity: Arc<Activity>,
    ports: [Option<u16>; 2],
    formats: [Option<LegFormat>; 2],
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("ports", &self.ports)
            .field("formats", &self.formats)
            .finish()
    }
}

impl MediaSession {
    /// Spawns a session on `rt` (the media runtime) with leg A's ports and,
    /// for a bridged call, leg B's. Events go to `events`.
    pub fn start(
        rt: &Handle,
        a: RtpPortPair,
        b: Option<RtpPortPair>,
        stats: Arc<SessionStats>,
        relay_stats: Arc<RelayStats>,
        events: EventSink,
    ) -> MediaSession {
        let ports = [Some(a.port), b.as_ref().map(|p| p.port)];
        let legs = [
            Some(Leg::new(a, SideState::default())),
            b.map(|p| Leg::new(p, SideState::default())),
        ];
        let (session, task, rx) = Self::build(legs, ports, stats, relay_stats, events);
        rt.spawn(task.run(rx));
        session
    }

    /// Takes over a running relay's sockets and latches (the relay stops),
    /// for a call that starts needing more than relaying: transcoding,
    /// recording, DTMF detection, prompts. Commands given to the new session
    /// before the relay task has handed over are queued, not lost.
    pub fn upgrade(
        relay: Relay,
        stats: Arc<SessionStats>,
        relay_stats: Arc<RelayStats>,
        events: EventSink,
    ) -> MediaSession {
        let ports = [
            Some(relay.local_port(Side::A)),
            Some(relay.local_port(Side::B)),
        ];
        let (tx, rx) = mpsc::unbounded_channel();
        let activity = Arc::new(Activity::new());
        let task_activity = Arc::clone(&activity);
        relay.hand_over(Box::new(move |pairs, latches| {
            let [a, b] = pairs;
            let [la, lb] = latches;
            let task = Task::new(
                [Some(Leg::new(a, la)), Some(Leg::new(b, lb))],
                task_activity,
                stats,
                relay_stats,
                events,
            );
            Box::pin(task.run(rx))
        }));
        MediaSession {
            tx,
            activity,
            ports,
            formats: [None; 2],
        }
    }

    fn build(
        legs: [Option<Leg>; 2],
        ports: [Option<u16>; 2],
        stats: Arc<SessionStats>,
        relay_stats: Arc<RelayStats>,
        events: EventSink,
    ) -> (MediaSession, Task, mpsc::UnboundedReceiver<Cmd>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let activity = Arc::new(Activity::new());
        let task = Task::new(legs, Arc::clone(&activity), stats, relay_stats, events);
        let session = MediaSession {
            tx,
            activity,
            ports,
            formats: [None; 2],
        };
        (session, task, rx)
    }

    fn send(&self, cmd: Cmd) {
        // The task only ends after Close or when this handle is dropped.
        let _ = self.tx.send(cmd);
    }

    /// Adds a leg's ports (e.g. leg B when an IVR call is bridged on).
    pub fn attach(&mut self, side: Side, pair: RtpPortPair) {
        self.ports[side as usize] = Some(pair.port);
        self.send(Cmd::Attach(side, pair));
    }

    /// Exchanges legs A and B (sockets, latches, formats, what each hears):
    /// for a call whose caller transferred the callee away, so the party
    /// that stays becomes leg A and leg B can be re-attached to the transfer
    /// target. A recording in progress keeps its channels by leg, so the
    /// parties change channels from here on.
    pub fn swap_legs(&mut self) {
        self.ports.swap(0, 1);
        self.formats.swap(0, 1);
        self.send(Cmd::SwapLegs);
    }

    /// The local RTP port of `side`, if attached.
    pub fn local_port(&self, side: Side) -> Option<u16> {
        self.ports[side as usize]
    }

    /// Sets how `side` was negotiated (after the offer/answer).
    pub fn set_format(&mut self, side: Side, format: LegFormat) {
        self.formats[side as usize] = Some(format);
        self.send(Cmd::Format(side, format));
    }

    /// The negotiated format of `side`.
    pub fn format(&self, side: Side) -> Option<LegFormat> {
        self.formats[side as usize]
    }

    /// The audio rate of `side`'s PCM: sources given to [`Hears::Source`]
    /// must produce this rate (8000 until the leg is negotiated).
    pub fn rate(&self, side: Side) -> u32 {
        let other = self.formats[side.other() as usize];
        self.formats[side as usize].map_or(crate::audio::RATE_8K, |f| f.pcm_rate_beside(other))
    }

    /// What signalling says about `side` (see [`Relay::set_remote`]): RTP
    /// goes to the SDP address until a packet allowed to latch arrives.
    pub fn set_remote(&self, side: Side, remote: impl Into<Remote>) {
        self.send(Cmd::Remote(side, remote.into()));
    }

    /// Makes `side` a WebRTC leg carried by `leg` (None: plain RTP again):
    /// its datagrams go through the leg's ICE, DTLS and SRTP, and it is
    /// sent to where ICE proved the browser is, not to SDP addresses.
    pub fn set_webrtc(&self, side: Side, leg: Option<WebRtcLeg>) {
        self.send(Cmd::WebRtc(side, leg));
    }

    /// Sets what `side` hears from now on.
    pub fn hear(&self, side: Side, hears: Hears) {
        self.send(Cmd::Hear(side, hears));
    }

    /// Turns in-band DTMF detection on `side` on or off (needed when the leg
    /// did not negotiate telephone-event, costs a Goertzel bank per frame).
    pub fn detect_inband(&self, side: Side, on: bool) {
        self.send(Cmd::Inband(side, on));
    }

    /// Sends DTMF digits to `side`: RFC 4733 if it negotiated
    /// telephone-event, otherwise in-band tones. Invalid characters are
    /// skipped (the caller validates).
    pub fn send_digits(&self, side: Side, digits: &str, duration_ms: u32) {
        self.send(Cmd::SendDigits(side, digits.to_string(), duration_ms));
    }

    /// Starts recording into `recorder` (opened at `rate` Hz): leg A is the
    /// caller channel, leg B the callee. Replaces (and finishes) any
    /// recording in progress.
    pub fn record(&self, recorder: Recorder, rate: u32) {
        self.send(Cmd::Record(recorder, rate));
    }

    /// Pauses or resumes the recording.
    pub fn pause_recording(&self, paused: bool) {
        self.send(Cmd::PauseRecording(paused));
    }

    /// Stops recording and returns what was written (`None` if nothing was
    /// being recorded).
    pub async fn stop_recording(&self) -> Option<Result<RecordingSummary, RecorderError>> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::StopRecording(tx));
        rx.await.ok().flatten()
    }

    /// Stops recording; the summary (or None if nothing was recorded) is
    /// sent to `reply` once the file is finished. For callers that cannot
    /// await (an actor handling a message).
    pub fn stop_recording_to(
        &self,
        reply: oneshot::Sender<Option<Result<RecordingSummary, RecorderError>>>,
    ) {
        self.send(Cmd::StopRecording(reply));
    }

    /// Marks the call held or resumed (the inactivity clock stops on hold).
    pub fn set_hold(&self, on_hold: bool) {
        self.activity.set_hold(on_hold);
    }

    /// Time since the last RTP packet from any leg; `None` while on hold.
    pub fn idle_for(&self, now: Instant) -> Option<Duration> {
        self.activity.idle_for(now)
    }

    /// Stops the session (a recording in progress is finished first).
    pub fn close(&self) {
        self.send(Cmd::Close);
    }
}

impl Drop for MediaSession {
    fn drop(&mut self) {
        self.close();
    }
}

mod dtmf_out;
mod inbound;
mod leg;
#[cfg(test)]
mod opus_tests;
mod rtp_view;
mod task;
mod tick;
mod webrtc_io;

use leg::forwardable;
use rtp_view::view;

/// One leg's sockets and media state, owned by the task.
struct Leg {
    pair: RtpPortPair,
    latch: SideState,
    /// The leg's WebRTC transport, if it is a browser's.
    webrtc: Option<WebRtcLeg>,
    /// A WebRTC failure was reported (once).
    webrtc_failed: bool,
    format: Option<LegFormat>,
    /// The rate of the leg's PCM (see [`LegFormat::pcm_rate_beside`]).
    pcm_rate: u32,
    rx: Option<Inbound>,
    tx: Option<Outbound>,
    hears: Hears,
    inband: Option<InbandDetector>,
    /// Decoded audio not yet consumed, at the leg's codec rate.
    fifo: Vec<i16>,
    /// This tick's input frame (what the leg said), at the leg's rate.
    input: Vec<i16>,
    has_input: bool,
    /// Digits waiting to be sent, and the one being sent.
    digits_queue: Vec<char>,
    digit_ms: u32,
    te_tx: Option<Rfc4733Sender>,
    inband_tx: Option<DtmfTone>,
    /// RTP timestamp of the event being sent (all its packets carry it).
    event_ts: u32,
    /// The telephone-event this leg is sending us (SSRC, RTP timestamp) and
    /// whether its packets go to the other leg: decided at its first packet,
    /// so an event that began before a bridge (the digits an application
    /// collected) is not half-forwarded after it (see `forward_event`).
    event_in: Option<(u32, u32, bool)>,
}

/// Receiving side of a negotiated leg.
struct Inbound {
    jitter: JitterBuffer,
    decoder: Decoder,
    concealer: Concealer,
    te_rx: Rfc4733Receiver,
}

/// Sending side of a negotiated leg.
struct Outbound {
    sender: RtpSender,
    encoder: Encoder,
    payload: Vec<u8>,
}

/// The parsed fixed part of an RTP packet.
struct RtpView {
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: std::ops::Range<usize>,
}

struct Task {
    legs: [Option<Leg>; 2],
    buf: Vec<u8>,
    out: Vec<u8>,
    pcm: Vec<i16>,
    /// Resamplers keyed by (leg index, target rate).
    resamplers: HashMap<(usize, u32), Resampler>,
    recorder: Option<(Recorder, u32)>,
    activity: Arc<Activity>,
    stats: Arc<SessionStats>,
    relay_stats: Arc<RelayStats>,
    events: EventSink,
}
