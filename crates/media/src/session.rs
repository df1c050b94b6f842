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
use crate::latch::SideState;
use crate::mixer::MemberId;
use crate::ports::RtpPortPair;
use crate::recorder::{Recorder, RecorderError, RecordingSummary};
use crate::relay::{valid_rtcp, valid_rtp, Relay, RelayStats, Side};
use crate::resample::Resampler;
use crate::rtp_stream::RtpSender;

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
    Format(Side, LegFormat),
    Remote(Side, SocketAddr),
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

    /// The audio rate of `side`'s codec: sources given to [`Hears::Source`]
    /// must produce this rate (8000 until the leg is negotiated).
    pub fn rate(&self, side: Side) -> u32 {
        self.formats[side as usize].map_or(crate::audio::RATE_8K, |f| f.codec.sample_rate())
    }

    /// The address signalled in SDP for `side`; used until its first packet
    /// latches (symmetric RTP).
    pub fn set_remote(&self, side: Side, rtp: SocketAddr) {
        self.send(Cmd::Remote(side, rtp));
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

/// One leg's sockets and media state, owned by the task.
struct Leg {
    pair: RtpPortPair,
    latch: SideState,
    format: Option<LegFormat>,
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

impl Leg {
    fn new(pair: RtpPortPair, latch: SideState) -> Leg {
        Leg {
            pair,
            latch,
            format: None,
            rx: None,
            tx: None,
            hears: Hears::Silence,
            inband: None,
            fifo: Vec::new(),
            input: Vec::new(),
            has_input: false,
            digits_queue: Vec::new(),
            digit_ms: 100,
            te_tx: None,
            inband_tx: None,
            event_ts: 0,
        }
    }

    fn rate(&self) -> u32 {
        self.format
            .map_or(crate::audio::RATE_8K, |f| f.codec.sample_rate())
    }

    fn set_format(&mut self, f: LegFormat) {
        let changed_codec = self.format.map(|o| o.codec) != Some(f.codec);
        self.format = Some(f);
        let frame_ts = f.codec.rtp_clock() / 1000 * f.ptime_ms.clamp(10, 120);
        if changed_codec || self.rx.is_none() {
            self.rx = Some(Inbound {
                jitter: JitterBuffer::new(frame_ts),
                decoder: f.codec.decoder(),
                concealer: Concealer::new(),
                te_rx: Rfc4733Receiver::new(f.codec.rtp_clock()),
            });
            self.fifo.clear();
            if let Some(d) = &mut self.inband {
                *d = InbandDetector::new(f.codec.sample_rate());
            }
        }
        match &mut self.tx {
            Some(out) if !changed_codec => out.sender.set_payload_type(f.pt),
            Some(out) => {
                out.encoder = f.codec.encoder();
                out.sender.set_payload_type(f.pt);
                out.sender.mark_talkspurt();
            }
            None => {
                self.tx = Some(Outbound {
                    sender: RtpSender::new(fastrand::u32(..), f.pt),
                    encoder: f.codec.encoder(),
                    payload: Vec::with_capacity(BUF_SIZE),
                })
            }
        }
    }

    /// True while DTMF we send occupies the leg's outgoing stream.
    fn sending_digits(&self) -> bool {
        self.te_tx.as_ref().is_some_and(Rfc4733Sender::is_busy)
            || self.inband_tx.is_some()
            || !self.digits_queue.is_empty()
    }
}

/// May packets of `from` be forwarded to `to` as they arrive (header
/// rewritten, G.711 transcoded by table), rather than decoded on the tick?
fn forwardable(from: LegFormat, to: LegFormat) -> bool {
    let g711 = |c| matches!(c, Codec::Pcmu | Codec::Pcma);
    from.codec == to.codec || (g711(from.codec) && g711(to.codec))
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

/// Parses what [`valid_rtp`] accepted: header, CSRCs, extension, padding.
fn view(p: &[u8]) -> Option<RtpView> {
    let mut start = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let ext = p.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let mut end = p.len();
    if p[0] & 0x20 != 0 {
        let pad = usize::from(*p.last()?);
        end = end.checked_sub(pad)?;
    }
    (start <= end).then(|| RtpView {
        pt: p[1] & 0x7f,
        marker: p[1] & 0x80 != 0,
        seq: u16::from_be_bytes([p[2], p[3]]),
        ts: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        payload: start..end,
    })
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

impl Task {
    fn new(
        legs: [Option<Leg>; 2],
        activity: Arc<Activity>,
        stats: Arc<SessionStats>,
        relay_stats: Arc<RelayStats>,
        events: EventSink,
    ) -> Task {
        Task {
            legs,
            buf: vec![0; BUF_SIZE],
            out: Vec::with_capacity(BUF_SIZE),
            pcm: Vec::with_capacity(640),
            resamplers: HashMap::new(),
            recorder: None,
            activity,
            stats,
            relay_stats,
            events,
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut tick = tokio::time::interval(Duration::from_millis(u64::from(FRAME_MS)));
        // Late ticks are caught up so the timestamps we send keep pace with
        // the wall clock the phones play at.
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        // One poll function for commands, ticks and sockets (not a select!
        // loop): a wakeup costs one pass, whatever woke it.
        poll_fn(|cx| {
            loop {
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(Cmd::Close) | None) => return Poll::Ready(()),
                    Poll::Ready(Some(cmd)) => self.command(cmd),
                    Poll::Pending => break,
                }
            }
            while tick.poll_tick(cx).is_ready() {
                self.on_tick(Instant::now());
            }
            self.pump(cx);
            Poll::Pending
        })
        .await;
        if let Some((rec, _)) = self.recorder.take() {
            if let Err(e) = rec.finish() {
                tracing::warn!(error = %e, "recording could not be finished");
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Attach(side, pair) => {
                self.legs[side as usize] = Some(Leg::new(pair, SideState::default()))
            }
            Cmd::Format(side, f) => {
                if let Some(leg) = &mut self.legs[side as usize] {
                    leg.set_format(f);
                }
                // Resamplers of this leg may now convert from another rate.
                let i = side as usize;
                self.resamplers.retain(|(k, _), _| *k != i && *k != i + 2);
            }
            Cmd::Remote(side, addr) => {
                if let Some(leg) = &mut self.legs[side as usize] {
                    if leg.latch.signalled.is_some() && leg.latch.signalled != Some(addr) {
                        leg.latch = SideState::default();
                    }
                    leg.latch.signalled = Some(addr);
                }
            }
            Cmd::Hear(side, hears) => {
                if let Some(leg) = &mut self.legs[side as usize] {
                    leg.hears = hears;
                    if let Some(out) = &mut leg.tx {
                        out.sender.mark_talkspurt();
                    }
                }
            }
            Cmd::Inband(side, on) => {
                if let Some(leg) = &mut self.legs[side as usize] {
                    leg.inband = on.then(|| InbandDetector::new(leg.rate()));
                }
            }
            Cmd::SendDigits(side, digits, ms) => {
                if let Some(leg) = &mut self.legs[side as usize] {
                    leg.digits_queue
                        .extend(digits.chars().filter(|c| crate::dtmf::is_dtmf_digit(*c)));
                    leg.digit_ms = ms.clamp(40, 2000);
                }
            }
            Cmd::Record(rec, rate) => {
                if let Some((old, _)) = self.recorder.replace((rec, rate)) {
                    if let Err(e) = old.finish() {
                        tracing::warn!(error = %e, "replaced recording could not be finished");
                    }
                }
            }
            Cmd::PauseRecording(paused) => {
                if let Some((rec, _)) = &mut self.recorder {
                    if paused {
                        rec.pause();
                    } else {
                        rec.resume();
                    }
                }
            }
            Cmd::StopRecording(reply) => {
                let summary = self.recorder.take().map(|(rec, _)| rec.finish());
                let _ = reply.send(summary);
            }
            Cmd::Close => {}
        }
    }

    /// Drains every ready socket, round-robin in bursts, until all of them
    /// would block (which registers the wakers) or the coop budget runs out
    /// (then Tokio reschedules the task itself).
    fn pump(&mut self, cx: &mut Context<'_>) {
        let now = Instant::now();
        loop {
            let mut progressed = false;
            for i in 0..2 {
                for rtcp in [false, true] {
                    for _ in 0..BURST {
                        let Some(leg) = &self.legs[i] else { break };
                        let sock = if rtcp { &leg.pair.rtcp } else { &leg.pair.rtp };
                        if !matches!(sock.poll_recv_ready(cx), Poll::Ready(Ok(()))) {
                            break;
                        }
                        match sock.try_recv_from(&mut self.buf) {
                            Ok((n, src)) => {
                                progressed = true;
                                if rtcp {
                                    self.on_rtcp(i, n, src);
                                } else {
                                    self.on_rtp(i, n, src, now);
                                }
                            }
                            // Readiness is now cleared: the next poll registers.
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            // E.g. a reported ICMP error: one-shot, go on.
                            Err(_) => {
                                self.relay_stats.dropped.fetch_add(1, Relaxed);
                            }
                        }
                    }
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// RTCP is terminated here: the streams it would describe are ours now
    /// (rewritten SSRCs), so the far ends' reports are consumed, not relayed.
    fn on_rtcp(&mut self, i: usize, n: usize, src: SocketAddr) {
        let Some(leg) = &mut self.legs[i] else { return };
        if n >= BUF_SIZE || !valid_rtcp(&self.buf[..n]) || !leg.latch.accept_rtcp(src) {
            self.relay_stats.dropped.fetch_add(1, Relaxed);
        }
    }

    fn on_rtp(&mut self, i: usize, n: usize, src: SocketAddr, now: Instant) {
        let now_ms = self.activity.now_ms(now);
        let pkt = &self.buf[..n];
        let Some(leg) = &mut self.legs[i] else { return };
        let mut changed = false;
        let parsed = (n < BUF_SIZE && valid_rtp(pkt))
            .then(|| view(pkt))
            .flatten();
        let Some(v) = parsed.filter(|_| leg.latch.accept_rtp(src, now_ms, &mut changed)) else {
            self.relay_stats.dropped.fetch_add(1, Relaxed);
            return;
        };
        if changed {
            tracing::debug!(port = leg.pair.port, %src, "RTP source latched");
        }
        self.activity.touch(now_ms);
        self.stats.rtp_in.fetch_add(1, Relaxed);
        let (Some(format), Some(inbound)) = (leg.format, &mut leg.rx) else {
            // Not negotiated yet: nothing to decode with.
            self.relay_stats.dropped.fetch_add(1, Relaxed);
            return;
        };
        let payload = &pkt[v.payload.clone()];
        if Some(v.pt) == format.te_pt {
            if let Some(event) = inbound.te_rx.on_packet(v.ts, v.marker, payload, now) {
                self.digit(i, event);
            }
            self.forward_event(i, n);
            return;
        }
        if v.pt != format.pt {
            // Comfort noise (13) is legal and simply not played.
            if v.pt != 13 {
                self.stats.unknown_payload_type.fetch_add(1, Relaxed);
            }
            return;
        }
        inbound.jitter.push(v.seq, v.ts, v.ssrc, payload, now);
        self.forward_audio(i, n, format);
    }

    /// Forwards the audio packet in `self.buf[..n]` from leg `i` to every leg
    /// hearing it whose format allows forwarding without decoding.
    fn forward_audio(&mut self, i: usize, n: usize, from: LegFormat) {
        for j in 0..2 {
            let Some(to) = &self.legs[j] else { continue };
            let hears_i = match to.hears {
                Hears::Other => j != i,
                Hears::Itself => j == i,
                _ => false,
            };
            let Some(to_format) = to.format else { continue };
            if !hears_i || !forwardable(from, to_format) || to.sending_digits() {
                continue;
            }
            self.out.clear();
            self.out.extend_from_slice(&self.buf[..n]);
            let Some(v) = view(&self.out) else { continue };
            if from.codec != to_format.codec {
                codec::transcode_g711(from.codec, to_format.codec, &mut self.out[v.payload]);
            }
            self.out[1] = (self.out[1] & 0x80) | (to_format.pt & 0x7f);
            self.send_out(j);
        }
    }

    /// Forwards a telephone-event packet from leg `i` to the other leg if it
    /// is bridged and negotiated RFC 4733 too (otherwise the digit event is
    /// all the application gets; see [`MediaSession::send_digits`]).
    fn forward_event(&mut self, i: usize, n: usize) {
        let j = 1 - i;
        let Some(to) = &self.legs[j] else { return };
        let (Hears::Other, Some(te)) = (&to.hears, to.format.and_then(|f| f.te_pt)) else {
            return;
        };
        if to.sending_digits() {
            return;
        }
        self.out.clear();
        self.out.extend_from_slice(&self.buf[..n]);
        self.out[1] = (self.out[1] & 0x80) | (te & 0x7f);
        self.send_out(j);
    }

    /// Rewrites `self.out` onto leg `j`'s outgoing stream and sends it.
    fn send_out(&mut self, j: usize) {
        let Some(leg) = &mut self.legs[j] else { return };
        let Some(out) = &mut leg.tx else { return };
        if !out.sender.rewrite(&mut self.out) {
            return;
        }
        Self::transmit(
            &leg.pair.rtp,
            &leg.latch,
            &self.out,
            &self.stats,
            &self.relay_stats,
        );
    }

    fn transmit(
        sock: &UdpSocket,
        latch: &SideState,
        pkt: &[u8],
        stats: &SessionStats,
        relay_stats: &RelayStats,
    ) {
        let Some(target) = latch.rtp_target() else {
            return;
        };
        match sock.try_send_to(pkt, target) {
            Ok(n) if n == pkt.len() => {
                stats.rtp_out.fetch_add(1, Relaxed);
            }
            _ => {
                relay_stats.dropped.fetch_add(1, Relaxed);
            }
        }
    }

    fn digit(&mut self, i: usize, event: DigitEvent) {
        self.stats.digits.fetch_add(1, Relaxed);
        self.convert_digit(i, &event);
        let side = if i == 0 { Side::A } else { Side::B };
        (self.events)(MediaEvent::Digit { side, event });
    }

    /// Carries a digit of leg `i` over to the bridged leg when the two legs
    /// signal DTMF differently: RFC 4733 to a leg without telephone-event
    /// becomes in-band tones, in-band tones to a leg with it become RFC 4733
    /// events. Same-mode digits already crossed (event packets forwarded, or
    /// tones inside the forwarded audio).
    fn convert_digit(&mut self, i: usize, event: &DigitEvent) {
        let Some(to) = &mut self.legs[1 - i] else {
            return;
        };
        if !matches!(to.hears, Hears::Other) {
            return;
        }
        let Some(format) = to.format else { return };
        let crossed = match event.source {
            crate::dtmf::DtmfSource::InBand => format.te_pt.is_none(),
            _ => format.te_pt.is_some(),
        };
        if !crossed {
            to.digits_queue.push(event.digit);
            to.digit_ms = event.duration_ms.clamp(40, 2000);
        }
    }

    fn on_tick(&mut self, now: Instant) {
        for i in 0..2 {
            self.pull_input(i, now);
        }
        self.record();
        for j in 0..2 {
            self.produce_output(j);
        }
    }

    /// Decodes this tick's frame of leg `i` into `leg.input`, runs its
    /// detectors, and reports a digit whose end packets were all lost.
    fn pull_input(&mut self, i: usize, now: Instant) {
        let Some(leg) = &mut self.legs[i] else { return };
        let want = frame_len(leg.rate());
        let Some(inbound) = &mut leg.rx else { return };
        let mut got = false;
        for _ in 0..MAX_POPS_PER_TICK {
            if leg.fifo.len() >= want {
                break;
            }
            match inbound.jitter.pop(now) {
                Playout::Frame(payload) => {
                    let at = leg.fifo.len();
                    inbound.decoder.decode(&payload, &mut leg.fifo);
                    inbound.concealer.remember(&leg.fifo[at..]);
                    self.stats.frames_decoded.fetch_add(1, Relaxed);
                    got = true;
                }
                Playout::Lost => {
                    let at = leg.fifo.len();
                    leg.fifo.resize(at + want, 0);
                    inbound.concealer.conceal(&mut leg.fifo[at..]);
                    self.stats.frames_concealed.fetch_add(1, Relaxed);
                    got = true;
                }
                Playout::Empty => break,
            }
        }
        leg.input.clear();
        let take = want.min(leg.fifo.len());
        leg.input.extend(leg.fifo.drain(..take));
        leg.input.resize(want, 0);
        leg.has_input = got;
        let late_digit = inbound.te_rx.poll(now);
        let inband_digit = match (&mut leg.inband, got) {
            (Some(det), true) => det.process(&leg.input),
            _ => None,
        };
        for event in [late_digit, inband_digit].into_iter().flatten() {
            self.digit(i, event);
        }
    }

    /// Converts leg `i`'s input frame to `rate` into `self.pcm`.
    fn input_at(&mut self, i: usize, rate: u32) {
        self.pcm.clear();
        let Some(leg) = &self.legs[i] else {
            self.pcm.resize(frame_len(rate), 0);
            return;
        };
        let from = leg.rate();
        if from == rate {
            self.pcm.extend_from_slice(&leg.input);
            return;
        }
        let r = match self.resamplers.entry((i, rate)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => match Resampler::new(from, rate) {
                Ok(r) => e.insert(r),
                Err(err) => {
                    tracing::warn!(error = %err, "no resampler");
                    self.pcm.resize(frame_len(rate), 0);
                    return;
                }
            },
        };
        r.process(&leg.input, &mut self.pcm);
        self.pcm.resize(frame_len(rate), 0);
    }

    fn record(&mut self) {
        let Some((_, rate)) = &self.recorder else {
            return;
        };
        let rate = *rate;
        self.input_at(0, rate);
        let caller = std::mem::take(&mut self.pcm);
        self.input_at(1, rate);
        let result = match &mut self.recorder {
            Some((rec, _)) => rec.write(&caller, &self.pcm),
            None => Ok(()),
        };
        self.pcm = caller;
        if let Err(e) = result {
            tracing::warn!(error = %e, "recording stopped");
            (self.events)(MediaEvent::RecordingFailed {
                error: e.to_string(),
            });
            if let Some((rec, _)) = self.recorder.take() {
                let _ = rec.finish();
            }
        }
    }

    /// Sends leg `j` what it hears this tick, unless its packets are
    /// forwarded as they arrive.
    fn produce_output(&mut self, j: usize) {
        if self.send_digit_tick(j) {
            return;
        }
        let Some(leg) = &self.legs[j] else { return };
        let Some(format) = leg.format else { return };
        let rate = leg.rate();
        if let Hears::Conference { room, member } = &leg.hears {
            let (room, member) = (room.clone(), *member);
            return self.conference_tick(j, &room, member);
        }
        let source_leg = match leg.hears {
            Hears::Other => Some(1 - j),
            Hears::Itself => Some(j),
            _ => None,
        };
        if let Some(i) = source_leg {
            let from = self.legs[i].as_ref().and_then(|l| l.format);
            match from {
                Some(from) if forwardable(from, format) => return,
                // Nothing heard from that leg this tick: send nothing either,
                // like a relay would (the phone keeps its own silence).
                _ if !self.legs[i].as_ref().is_some_and(|l| l.has_input) => return,
                _ => self.input_at(i, rate),
            }
        } else {
            self.pcm.clear();
            self.pcm.resize(frame_len(rate), 0);
        }
        let Some(leg) = &mut self.legs[j] else { return };
        if let Hears::Source { source, token } = &mut leg.hears {
            if source.fill(&mut self.pcm) == Fill::Done {
                let token = *token;
                leg.hears = Hears::Silence;
                let side = if j == 0 { Side::A } else { Side::B };
                (self.events)(MediaEvent::SourceDone { side, token });
            }
        }
        self.encode_and_send(j);
    }

    /// Leg `j`'s tick in a conference: its input into the room, the room's
    /// mix for it out to the phone (resampled when rates differ).
    fn conference_tick(&mut self, j: usize, room: &Conference, member: MemberId) {
        let leg_rate = self.legs[j]
            .as_ref()
            .map_or(crate::audio::RATE_8K, Leg::rate);
        self.input_at(j, room.rate());
        let mut heard = Vec::with_capacity(frame_len(room.rate()));
        room.exchange(member, &self.pcm, &mut heard);
        self.pcm.clear();
        if room.rate() == leg_rate {
            self.pcm.extend_from_slice(&heard);
        } else {
            // Keyed apart from the leg's own input resamplers (0 and 1).
            let key = (2 + j, leg_rate);
            if let std::collections::hash_map::Entry::Vacant(e) = self.resamplers.entry(key) {
                match Resampler::new(room.rate(), leg_rate) {
                    Ok(r) => {
                        e.insert(r);
                    }
                    Err(err) => tracing::warn!(error = %err, "no resampler for the conference"),
                }
            }
            if let Some(r) = self.resamplers.get_mut(&key) {
                r.process(&heard, &mut self.pcm);
            }
        }
        self.pcm.resize(frame_len(leg_rate), 0);
        self.encode_and_send(j);
    }

    /// Encodes `self.pcm` for leg `j` and sends it as one frame.
    fn encode_and_send(&mut self, j: usize) {
        let Some(leg) = &mut self.legs[j] else { return };
        let (Some(out), Some(format)) = (&mut leg.tx, leg.format) else {
            return;
        };
        out.payload.clear();
        out.encoder.encode(&self.pcm, &mut out.payload);
        let ts_units = format.codec.rtp_clock() / 1000 * FRAME_MS;
        out.sender.build(&out.payload, ts_units, &mut self.out);
        Self::transmit(
            &leg.pair.rtp,
            &leg.latch,
            &self.out,
            &self.stats,
            &self.relay_stats,
        );
    }

    /// Advances the DTMF being sent to leg `j`; true if it used this tick.
    fn send_digit_tick(&mut self, j: usize) -> bool {
        let Some(leg) = &mut self.legs[j] else {
            return false;
        };
        let Some(format) = leg.format else {
            return false;
        };
        let rate = leg.rate();
        // In-band tones in progress.
        if let Some(tone) = &mut leg.inband_tx {
            self.pcm.clear();
            self.pcm.resize(frame_len(rate), 0);
            if tone.fill(&mut self.pcm) == Fill::Done {
                leg.inband_tx = None;
            }
            self.encode_and_send(j);
            return true;
        }
        let ts_units = format.codec.rtp_clock() / 1000 * FRAME_MS;
        // An RFC 4733 event in progress.
        if let (Some(te), Some(tx), Some(out)) = (format.te_pt, &mut leg.te_tx, &mut leg.tx) {
            if let Some(pkt) = tx.next() {
                if pkt.marker {
                    leg.event_ts = out.sender.next_timestamp();
                }
                let ts = leg.event_ts.wrapping_add(pkt.event_ts_offset);
                out.sender
                    .build_event(te, &pkt.payload, ts, pkt.marker, &mut self.out);
                // The event replaces this tick's audio; the audio clock runs on.
                out.sender.skip(ts_units);
                Self::transmit(
                    &leg.pair.rtp,
                    &leg.latch,
                    &self.out,
                    &self.stats,
                    &self.relay_stats,
                );
                return true;
            }
        }
        if leg.digits_queue.is_empty() {
            return false;
        }
        let digit = leg.digits_queue.remove(0);
        if format.te_pt.is_some() {
            let tx = leg
                .te_tx
                .get_or_insert_with(|| Rfc4733Sender::new(format.codec.rtp_clock()));
            if tx.start(digit, leg.digit_ms, EVENT_VOLUME).is_err() {
                return false;
            }
        } else {
            let s = digit.to_string();
            leg.inband_tx = DtmfTone::new(&s, rate, leg.digit_ms, 60, -10.0).ok();
        }
        if let Some(out) = &mut leg.tx {
            out.sender.mark_talkspurt();
        }
        self.send_digit_tick(j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_parses_header_csrc_extension_and_padding() {
        let mut p = vec![
            0x80 | 0x20 | 0x10 | 0x01,
            0x80 | 8,
            0,
            7,
            0,
            0,
            1,
            0,
            0,
            0,
            0,
            9,
        ];
        p.extend_from_slice(&[1, 2, 3, 4]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 9, 9, 9, 9]); // extension, 1 word
        p.extend_from_slice(&[5, 6, 7]); // payload
        p.extend_from_slice(&[0, 2]); // padding: 2 bytes
        let v = view(&p).unwrap();
        assert_eq!((v.pt, v.marker, v.seq, v.ts, v.ssrc), (8, true, 7, 256, 9));
        assert_eq!(&p[v.payload], &[5, 6, 7]);
    }

    #[test]
    fn padding_longer_than_the_packet_is_refused() {
        let p = [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 200];
        assert!(view(&p).is_none());
    }

    #[test]
    fn g711_pairs_forward_others_decode() {
        let f = |c| LegFormat::new(c, 0, None);
        assert!(forwardable(f(Codec::Pcmu), f(Codec::Pcma)));
        assert!(forwardable(f(Codec::G722), f(Codec::G722)));
        assert!(!forwardable(f(Codec::G722), f(Codec::Pcmu)));
    }
}
