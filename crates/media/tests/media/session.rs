//! Media session behaviour with real UDP sockets on 127.0.0.1: the "phones"
//! are plain sockets owned by the test, the session runs on the test's
//! runtime, nothing is mocked.
//!
//! Waits are bounded polls (PATIENCE) that never fire on a healthy run;
//! nothing asserts on how long anything took. Audio is judged by its
//! spectrum, with generous tolerances.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use media::audio::{frame_len, AudioSource, Fill};
use media::audio_file::Pcm;
use media::codec::{g711, Codec};
use media::dtmf::goertzel::InbandDetector;
use media::dtmf::rfc4733::{Rfc4733Receiver, Rfc4733Sender, TelephoneEvent};
use media::dtmf::tone::DtmfTone;
use media::dtmf::{DigitEvent, DtmfSource};
use media::player::Player;
use media::recorder::{RecordLayout, Recorder, RecorderOptions};
use media::session::{EventSink, Hears, LegFormat, MediaEvent, MediaSession, SessionStats};
use media::tones::{ToneGenerator, ToneSpec};
use media::{PortAllocator, Relay, RelayStats, Side};
use tokio::net::UdpSocket;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio::time::{interval, sleep, timeout};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PATIENCE: Duration = Duration::from_secs(5);
const FRAME: Duration = Duration::from_millis(20);
/// RTP timestamp units per 20 ms packet (8000 Hz clock for all codecs).
const STEP: u32 = 160;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(LOCAL, port)
}

fn pcmu() -> LegFormat {
    LegFormat::new(Codec::Pcmu, 0, None)
}

fn pcma() -> LegFormat {
    LegFormat::new(Codec::Pcma, 8, None)
}

// ---------------------------------------------------------------- RTP ----

/// One RTP packet as the phones see it (plain header: no CSRC, extension
/// or padding, which is all the session and the phones here produce).
#[derive(Debug, Clone, PartialEq)]
struct Rtp {
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

impl Rtp {
    fn parse(p: &[u8]) -> Rtp {
        assert!(p.len() >= 12, "runt packet from the session: {p:?}");
        assert_eq!(p[0], 0x80, "version 2, no padding/extension/CSRC");
        Rtp {
            pt: p[1] & 0x7f,
            marker: p[1] & 0x80 != 0,
            seq: u16::from_be_bytes([p[2], p[3]]),
            ts: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
            payload: p[12..].to_vec(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut p = vec![0x80, (u8::from(self.marker) << 7) | self.pt];
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(&self.payload);
        p
    }
}

/// A phone's outgoing stream: numbering of one SSRC.
#[derive(Debug, Clone)]
struct Stream {
    pt: u8,
    ssrc: u32,
    seq: u16,
    ts: u32,
    first: bool,
}

impl Stream {
    fn new(pt: u8, ssrc: u32, seq: u16, ts: u32) -> Stream {
        Stream {
            pt,
            ssrc,
            seq,
            ts,
            first: true,
        }
    }

    /// The next 20 ms audio packet.
    fn audio(&mut self, payload: Vec<u8>) -> Rtp {
        let p = Rtp {
            pt: self.pt,
            marker: std::mem::take(&mut self.first),
            seq: self.seq,
            ts: self.ts,
            ssrc: self.ssrc,
            payload,
        };
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(STEP);
        p
    }
}

/// Asserts one SSRC, sequence numbers +1 and timestamps +160 throughout.
fn assert_continuous(pkts: &[Rtp]) {
    for w in pkts.windows(2) {
        assert_eq!(
            w[1].ssrc, w[0].ssrc,
            "SSRC changed: {:?} -> {:?}",
            w[0], w[1]
        );
        assert_eq!(
            w[1].seq,
            w[0].seq.wrapping_add(1),
            "sequence gap after {}",
            w[0].seq
        );
        assert_eq!(
            w[1].ts.wrapping_sub(w[0].ts),
            STEP,
            "timestamp step at seq {}",
            w[1].seq
        );
    }
}

// ------------------------------------------------------------- audio ----

/// A sine at a fixed amplitude, phase-continuous across frames.
struct Sine {
    phase: f64,
    step: f64,
    amp: f64,
}

impl Sine {
    fn new(freq: f64, rate: u32, amp: f64) -> Sine {
        Sine {
            phase: 0.0,
            step: std::f64::consts::TAU * freq / f64::from(rate),
            amp,
        }
    }
}

impl AudioSource for Sine {
    fn fill(&mut self, out: &mut [i16]) -> Fill {
        for s in out.iter_mut() {
            *s = (self.amp * self.phase.sin()).round() as i16;
            self.phase = (self.phase + self.step) % std::f64::consts::TAU;
        }
        Fill::More
    }
}

/// Produces the payload of each 20 ms packet a phone sends; `None` ends it.
type Payloads = Box<dyn FnMut() -> Option<Vec<u8>> + Send>;

/// `frames` packets of `src` encoded with `codec` (silence once it is done),
/// then `silence` packets of encoded silence.
fn encoded(codec: Codec, mut src: Box<dyn AudioSource>, frames: usize, silence: usize) -> Payloads {
    let mut enc = codec.encoder();
    let mut pcm = vec![0i16; frame_len(codec.sample_rate())];
    let mut k = 0usize;
    let mut done = false;
    Box::new(move || {
        if k >= frames.saturating_add(silence) {
            return None;
        }
        pcm.fill(0);
        if k < frames && !done {
            done = src.fill(&mut pcm) == Fill::Done;
        }
        k += 1;
        let mut out = Vec::new();
        enc.encode(&pcm, &mut out);
        Some(out)
    })
}

/// An endless sine encoded with `codec`.
fn sine(codec: Codec, freq: f64) -> Payloads {
    let src = Sine::new(freq, codec.sample_rate(), 8000.0);
    encoded(codec, Box::new(src), usize::MAX, 0)
}

fn decode(codec: Codec, pkts: &[Rtp]) -> Vec<i16> {
    let mut dec = codec.decoder();
    let mut pcm = Vec::new();
    for p in pkts {
        dec.decode(&p.payload, &mut pcm);
    }
    pcm
}

/// Squared amplitude of the `f` component of `pcm` (Goertzel).
fn amplitude2(pcm: &[i16], rate: u32, f: f64) -> f64 {
    let coeff = 2.0 * (std::f64::consts::TAU * f / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = pcm.len().max(1) as f64;
    4.0 * power / (n * n)
}

/// The share of `pcm`'s power that is a sine at `f` (about 1 for a pure
/// tone at `f`, about 0 for a tone elsewhere or silence).
fn tone_fraction(pcm: &[i16], rate: u32, f: f64) -> f64 {
    let mean_square = pcm
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / pcm.len().max(1) as f64;
    if mean_square < 1.0 {
        return 0.0;
    }
    (amplitude2(pcm, rate, f) / 2.0 / mean_square).min(1.5)
}

/// The frequency with the most power between 100 Hz and the band's top,
/// to about 0.1 Hz.
fn peak_frequency(pcm: &[i16], rate: u32) -> f64 {
    let top = f64::from(rate) * 0.45;
    let best = |lo: f64, hi: f64, step: f64| {
        let mut f = lo;
        let (mut best_f, mut best_p) = (lo, -1.0);
        while f <= hi {
            let p = amplitude2(pcm, rate, f);
            if p > best_p {
                (best_f, best_p) = (f, p);
            }
            f += step;
        }
        best_f
    };
    let coarse = best(100.0, top, 2.0);
    best(coarse - 3.0, coarse + 3.0, 0.1)
}

/// Asserts that `pcm` is essentially a tone at `freq` Hz.
fn assert_tone(pcm: &[i16], rate: u32, freq: f64, what: &str) {
    assert!(
        pcm.len() >= rate as usize / 4,
        "{what}: only {} samples",
        pcm.len()
    );
    let peak = peak_frequency(pcm, rate);
    let share = tone_fraction(pcm, rate, freq);
    assert!(
        (peak - freq).abs() < 3.0 && share > 0.6,
        "{what}: expected {freq} Hz, spectrum peaks at {peak:.1} Hz, {:.0}% of the power at {freq} Hz",
        share * 100.0
    );
}

// ------------------------------------------------------------- phones ----

/// A phone streaming packets every 20 ms from a background task.
struct Talker {
    stop: Arc<AtomicBool>,
    sent: Arc<Mutex<Vec<Rtp>>>,
    task: JoinHandle<()>,
}

impl Talker {
    fn spawn(
        sock: &Arc<UdpSocket>,
        to: SocketAddr,
        mut stream: Stream,
        mut next: Payloads,
    ) -> Talker {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let (sock, stop2, sent2) = (Arc::clone(sock), Arc::clone(&stop), Arc::clone(&sent));
        let task = tokio::spawn(async move {
            let mut tick = interval(FRAME);
            while !stop2.load(Relaxed) {
                tick.tick().await;
                let Some(payload) = next() else { break };
                let pkt = stream.audio(payload);
                sock.send_to(&pkt.bytes(), to).await.unwrap();
                sent2.lock().unwrap().push(pkt);
            }
        });
        Talker { stop, sent, task }
    }

    /// Waits for the stream to end by itself; returns what was sent.
    async fn finish(self) -> Vec<Rtp> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.task.is_finished() {
            assert!(Instant::now() < deadline, "talker never finished");
            sleep(Duration::from_millis(10)).await;
        }
        self.task.await.unwrap();
        Arc::try_unwrap(self.sent).unwrap().into_inner().unwrap()
    }

    /// Stops the stream; returns what was sent.
    async fn stop(self) -> Vec<Rtp> {
        self.stop.store(true, Relaxed);
        self.finish().await
    }
}

/// Receives packets on `sock` into `got` until `done(got)`; panics after
/// PATIENCE.
async fn recv_until(
    sock: &UdpSocket,
    got: &mut Vec<Rtp>,
    what: &str,
    mut done: impl FnMut(&[Rtp]) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    let mut buf = vec![0u8; 4096];
    while !done(got) {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, sock.recv_from(&mut buf)).await {
            Ok(r) => got.push(Rtp::parse(&buf[..r.unwrap().0])),
            Err(_) => panic!(
                "timed out waiting for {what} ({} packets so far)",
                got.len()
            ),
        }
    }
}

async fn recv_n(sock: &UdpSocket, n: usize, what: &str) -> Vec<Rtp> {
    let mut got = Vec::new();
    recv_until(sock, &mut got, what, |g| g.len() >= n).await;
    got
}

/// Whatever is queued on `sock` right now.
fn drain(sock: &UdpSocket) -> Vec<Rtp> {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while let Ok((n, _)) = sock.try_recv_from(&mut buf) {
        got.push(Rtp::parse(&buf[..n]));
    }
    got
}

/// Waits until `cond` holds; panics after PATIENCE.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `counter` reaches `target`, or (packets lost on the way)
/// stops moving for a second; panics if neither happens in 10 s.
async fn settle(counter: &AtomicU64, target: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut last, mut since) = (counter.load(Relaxed), Instant::now());
    loop {
        let now = counter.load(Relaxed);
        if now >= target || since.elapsed() > Duration::from_secs(1) {
            return;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        }
        assert!(Instant::now() < deadline, "counter stuck below {target}");
        sleep(Duration::from_millis(10)).await;
    }
}

// --------------------------------------------------------------- call ----

/// A session with a phone socket per leg. The session's legs are signalled
/// at the phones' addresses, so it can send before the phones do.
struct Call {
    session: MediaSession,
    stats: Arc<SessionStats>,
    relay_stats: Arc<RelayStats>,
    events: Arc<Mutex<Vec<MediaEvent>>>,
    a: Arc<UdpSocket>,
    b: Arc<UdpSocket>,
    _pool: PortAllocator,
}

fn sink() -> (EventSink, Arc<Mutex<Vec<MediaEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let events2 = Arc::clone(&events);
    let sink: EventSink = Arc::new(move |e| events2.lock().unwrap().push(e));
    (sink, events)
}

impl Call {
    /// Ports `base..base+19`; leg B only if `two_legs`.
    async fn new(base: u16, two_legs: bool) -> Call {
        let pool = PortAllocator::new(LOCAL, base, base + 19).unwrap();
        let stats = Arc::new(SessionStats::default());
        let relay_stats = Arc::new(RelayStats::new());
        let (sink, events) = sink();
        let b = two_legs.then(|| pool.allocate().unwrap());
        let session = MediaSession::start(
            &Handle::current(),
            pool.allocate().unwrap(),
            b,
            Arc::clone(&stats),
            Arc::clone(&relay_stats),
            sink,
        );
        let a = Arc::new(UdpSocket::bind((LOCAL, 0)).await.unwrap());
        let b = Arc::new(UdpSocket::bind((LOCAL, 0)).await.unwrap());
        session.set_remote(Side::A, a.local_addr().unwrap());
        if two_legs {
            session.set_remote(Side::B, b.local_addr().unwrap());
        }
        Call {
            session,
            stats,
            relay_stats,
            events,
            a,
            b,
            _pool: pool,
        }
    }

    /// Formats both legs and bridges them.
    fn bridge(&mut self, a: LegFormat, b: LegFormat) {
        self.session.set_format(Side::A, a);
        self.session.set_format(Side::B, b);
        self.session.hear(Side::A, Hears::Other);
        self.session.hear(Side::B, Hears::Other);
    }

    /// Where the phone of `side` sends its RTP.
    fn port(&self, side: Side) -> SocketAddr {
        addr(self.session.local_port(side).unwrap())
    }

    fn phone(&self, side: Side) -> &Arc<UdpSocket> {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// Streams `payloads` from the phone of `side` into the session.
    fn talk(&self, side: Side, stream: Stream, payloads: Payloads) -> Talker {
        Talker::spawn(self.phone(side), self.port(side), stream, payloads)
    }

    async fn send(&self, side: Side, pkt: &[u8]) {
        self.phone(side)
            .send_to(pkt, self.port(side))
            .await
            .unwrap();
    }

    fn digits(&self) -> Vec<(Side, DigitEvent)> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter_map(|e| match e {
                MediaEvent::Digit { side, event } => Some((*side, *event)),
                _ => None,
            })
            .collect()
    }
}

fn temp_wav(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "switchboard-media-test-{}-{name}.wav",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// (left, right) channels of a stereo WAV, after checking its format.
fn read_stereo(path: &PathBuf) -> (Vec<i16>, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (left, right)
}

/// Frames of `pcm` (20 ms at 8 kHz) that carry sound.
fn voiced_frames(pcm: &[i16]) -> Vec<&[i16]> {
    pcm.chunks_exact(160)
        .filter(|f| media::audio::level_dbov(f) > -45.0)
        .collect()
}

// -------------------------------------------------------------- tests ----

/// 1. PCMU <-> PCMA bridge: forwarded as they arrive, transcoded by table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_transcodes_pcmu_to_pcma_and_back() {
    let mut call = Call::new(31400, true).await;
    call.bridge(pcmu(), pcma());
    let ta = call.talk(
        Side::A,
        Stream::new(0, 0xA1, 100, 1000),
        sine(Codec::Pcmu, 440.0),
    );
    let tb = call.talk(
        Side::B,
        Stream::new(8, 0xB1, 200, 2000),
        sine(Codec::Pcma, 1000.0),
    );
    let at_b = recv_n(&call.b, 50, "A's audio at B").await;
    let at_a = recv_n(&call.a, 50, "B's audio at A").await;
    let sent_a = ta.stop().await;
    tb.stop().await;

    assert!(
        at_b.iter().all(|p| p.pt == 8),
        "B must only get PCMA: {:?}",
        at_b.iter().map(|p| p.pt).collect::<Vec<_>>()
    );
    assert!(at_a.iter().all(|p| p.pt == 0), "A must only get PCMU");
    assert_tone(&decode(Codec::Pcma, &at_b), 8000, 440.0, "A->B");
    assert_tone(&decode(Codec::Pcmu, &at_a), 8000, 1000.0, "B->A");
    // Transcoded by table, sample for sample: B got A's packets, in order.
    let first = sent_a
        .iter()
        .position(|p| {
            p.payload
                .iter()
                .map(|&c| g711::ulaw_to_alaw(c))
                .eq(at_b[0].payload.iter().copied())
        })
        .expect("B's first packet is one of A's, transcoded");
    for (got, sent) in at_b.iter().zip(&sent_a[first..]) {
        let want: Vec<u8> = sent
            .payload
            .iter()
            .map(|&c| g711::ulaw_to_alaw(c))
            .collect();
        assert_eq!(got.payload, want, "payload of A's seq {}", sent.seq);
    }
    assert_eq!(call.stats.unknown_payload_type.load(Relaxed), 0);
}

/// 2. One valid stream towards a phone across source changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_stays_continuous_across_source_changes() {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum What {
        Tone,
        Voice,
        Music,
    }
    // Tone 425 Hz, the A phone 1000 Hz, the player 600 Hz.
    let classify = |p: &Rtp| {
        let pcm = decode(Codec::Pcmu, std::slice::from_ref(p));
        let f = |hz| tone_fraction(&pcm, 8000, hz);
        let (t, v, m) = (f(425.0), f(1000.0), f(600.0));
        let best = t.max(v).max(m);
        assert!(best > 0.5, "packet seq {} is none of the sources", p.seq);
        if best == t {
            What::Tone
        } else if best == v {
            What::Voice
        } else {
            What::Music
        }
    };
    let count = |g: &[Rtp], w: What| g.iter().filter(|p| classify(p) == w).count();

    let mut call = Call::new(31440, true).await;
    call.session.set_format(Side::A, pcmu());
    let tone = ToneSpec {
        freqs: vec![425.0],
        cadence: vec![],
        level_dbov: -12.0,
    };
    // Hearing set before the format: the very first packet is the tone.
    call.session.hear(
        Side::B,
        Hears::Source {
            source: Box::new(ToneGenerator::new(&tone, 8000)),
            token: 1,
        },
    );
    call.session.set_format(Side::B, pcmu());
    let mut got = Vec::new();
    recv_until(&call.b, &mut got, "tone", |g| g.len() >= 15).await;

    let talker = call.talk(
        Side::A,
        Stream::new(0, 0xAAAA_0001, 40_000, 7_000_000),
        sine(Codec::Pcmu, 1000.0),
    );
    eventually("A's audio", || call.stats.rtp_in.load(Relaxed) >= 3).await;
    call.session.hear(Side::B, Hears::Other);
    recv_until(&call.b, &mut got, "bridged audio", |g| {
        count(g, What::Voice) >= 15
    })
    .await;

    let music = Pcm {
        rate: 8000,
        samples: {
            let mut s = vec![0i16; 8000];
            Sine::new(600.0, 8000, 6000.0).fill(&mut s);
            s
        },
    };
    let player = Player::new(vec![Arc::new(music)], 8000, true).unwrap();
    call.session.hear(
        Side::B,
        Hears::Source {
            source: Box::new(player),
            token: 2,
        },
    );
    recv_until(&call.b, &mut got, "music", |g| count(g, What::Music) >= 15).await;
    talker.stop().await;

    let kinds: Vec<What> = got.iter().map(classify).collect();
    let starts: Vec<usize> = (0..kinds.len())
        .filter(|&i| i == 0 || kinds[i] != kinds[i - 1])
        .collect();
    let runs: Vec<What> = starts.iter().map(|&i| kinds[i]).collect();
    assert_eq!(runs, [What::Tone, What::Voice, What::Music], "{kinds:?}");
    assert_continuous(&got);
    assert_ne!(got[0].ssrc, 0xAAAA_0001, "our SSRC, not the A phone's");
    assert!(got.iter().all(|p| p.pt == 0));
    let markers: Vec<usize> = (0..got.len()).filter(|&i| got[i].marker).collect();
    assert_eq!(
        markers, starts,
        "marker exactly on the first packet after each switch"
    );
    assert!(
        call.events.lock().unwrap().is_empty(),
        "endless sources never end"
    );
}

/// 3. Garbage of every kind is dropped, counted, and harms nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_breaks_a_call() {
    let mut call = Call::new(31480, true).await;
    call.bridge(pcmu(), pcma());
    let good = |pt: u8, seq: u16, ssrc: u32| Rtp {
        pt,
        marker: false,
        seq,
        ts: u32::from(seq) * STEP,
        ssrc,
        payload: vec![0x55; 160],
    };
    let mut rng = fastrand::Rng::with_seed(4733);
    let mut invalid: Vec<Vec<u8>> = Vec::new();
    for len in [0usize, 1, 5, 11, 12, 40, 172, 600] {
        let mut p: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        if let Some(b) = p.first_mut() {
            *b &= 0x3f; // version 0: random, but never valid RTP
        }
        invalid.push(p);
    }
    let g = good(0, 1, 0xA).bytes();
    invalid.push(g[..11].to_vec()); // truncated header
    let mut v1 = g.clone();
    v1[0] = 0x40; // RTP version 1
    invalid.push(v1);
    for pt in 72..=76 {
        // RTCP multiplexed onto the RTP port (SR = 200, ... shows as 72..76)
        let mut p = g.clone();
        p[1] = 0x80 | pt;
        invalid.push(p);
    }
    let mut csrcs = g[..12].to_vec();
    csrcs[0] |= 0x0f; // 15 CSRCs claimed, none present
    invalid.push(csrcs);
    let mut ext = g[..12].to_vec();
    ext[0] |= 0x10; // an extension without room for its header
    invalid.push(ext);
    let mut pad = g.clone();
    pad[0] |= 0x20; // padding longer than the packet
    *pad.last_mut().unwrap() = 250;
    invalid.push(pad);
    let mut huge = g.clone();
    huge.resize(3000, 0x7f); // over the receive buffer: would be truncated
    invalid.push(huge);
    // Valid RTP, but not audio the legs negotiated.
    let unknown = [good(18, 2, 0xA).bytes(), good(96, 3, 0xA).bytes()];
    let comfort_noise = Rtp {
        payload: vec![40],
        ..good(13, 4, 0xA)
    }
    .bytes();

    for side in [Side::A, Side::B] {
        for p in &invalid {
            call.send(side, p).await;
        }
        for p in &unknown {
            call.send(side, p).await;
        }
        call.send(side, &comfort_noise).await;
        // RTCP port: garbage too.
        let rtcp = addr(call.session.local_port(side).unwrap() + 1);
        for p in [
            &[0x80u8, 200, 0, 0][..],
            &[0u8; 12][..],
            &[0x40, 201, 0, 1, 0, 0, 0, 1][..],
        ] {
            call.phone(side).send_to(p, rtcp).await.unwrap();
        }
    }
    // An intruder's valid RTP on a latched leg is dropped too.
    let intruder = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    intruder
        .send_to(&good(0, 9, 0xBAD).bytes(), call.port(Side::A))
        .await
        .unwrap();

    // Good packets still flow both ways, and only they arrive.
    for seq in 10..15 {
        call.send(Side::A, &good(0, seq, 0xA).bytes()).await;
        call.send(Side::B, &good(8, seq, 0xB).bytes()).await;
    }
    let at_b = recv_n(&call.b, 5, "A's good packets at B").await;
    let at_a = recv_n(&call.a, 5, "B's good packets at A").await;
    assert!(
        at_b.iter()
            .all(|p| p.pt == 8 && p.payload == vec![g711::ulaw_to_alaw(0x55); 160]),
        "{at_b:?}"
    );
    assert!(
        at_a.iter()
            .all(|p| p.pt == 0 && p.payload == vec![g711::alaw_to_ulaw(0x55); 160]),
        "{at_a:?}"
    );
    assert_continuous(&at_b);
    assert_continuous(&at_a);

    // Per leg: every invalid datagram and 3 invalid RTCP; plus the intruder.
    let dropped = 2 * (invalid.len() as u64 + 3) + 1;
    eventually("drop counter", || {
        call.relay_stats.dropped.load(Relaxed) >= dropped
    })
    .await;
    assert_eq!(call.relay_stats.dropped.load(Relaxed), dropped);
    assert_eq!(
        call.stats.unknown_payload_type.load(Relaxed),
        4,
        "CN (13) is not unknown"
    );
    // Accepted: per leg 2 unknown + CN + 5 good.
    assert_eq!(call.stats.rtp_in.load(Relaxed), 16);
    sleep(Duration::from_millis(100)).await;
    let late: Vec<Rtp> = drain(&call.b).into_iter().chain(drain(&call.a)).collect();
    assert!(late.is_empty(), "garbage was forwarded: {late:?}");
}

/// 4. SSRC change, a burst, reordering and duplicates on the decode path:
/// every frame that plays is one the phone sent, in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_path_survives_ssrc_change_burst_reorder_and_duplicates() {
    let mut call = Call::new(31520, true).await;
    call.bridge(pcmu(), pcmu());
    let path = temp_wav("decode-path");
    let opts = RecorderOptions {
        layout: RecordLayout::Stereo,
        rate: 8000,
    };
    call.session
        .record(Recorder::create(&path, opts).unwrap(), 8000);

    // 120 packets of a 440 Hz tone whose amplitude grows packet by packet,
    // so every decoded frame is unique and tells which packet it was.
    const N: usize = 120;
    let mut sine = Sine::new(440.0, 8000, 1.0);
    let mut payloads = Vec::new();
    let mut frame_of = HashMap::new();
    for k in 0..N {
        let mut pcm = [0i16; 160];
        sine.amp = 3000.0 + 60.0 * k as f64;
        sine.fill(&mut pcm);
        let mut enc = Vec::new();
        g711::encode_ulaw(&pcm, &mut enc);
        let mut dec = Vec::new();
        g711::decode_ulaw(&enc, &mut dec);
        assert!(
            frame_of.insert(dec, k).is_none(),
            "test signal frames must be unique"
        );
        payloads.push(enc);
    }
    // Packets 0..30 on one SSRC (sequence and timestamp wrapping), the rest
    // on another.
    let mut s1 = Stream::new(0, 0x1111, 65_500, u32::MAX - 800);
    let mut s2 = Stream::new(0, 0x2222, 1_000, 5_000_000);
    let pkts: Vec<Vec<u8>> = (0..N)
        .map(|k| {
            let s = if k < 30 { &mut s1 } else { &mut s2 };
            s.audio(payloads[k].clone()).bytes()
        })
        .collect();

    let mut tick = interval(FRAME);
    let mut sent = 0u64;
    let a_port = call.port(Side::A);
    let send = |k: usize| {
        let (sock, p) = (Arc::clone(&call.a), pkts[k].clone());
        async move { sock.send_to(&p, a_port).await.unwrap() }
    };
    for k in 0..50 {
        tick.tick().await;
        send(k).await;
        sent += 1;
    }
    // A burst: 20 packets at once, then nothing for their duration.
    for k in 50..70 {
        send(k).await;
        sent += 1;
    }
    for _ in 0..20 {
        tick.tick().await;
    }
    // Pairs swapped (each packet a frame late or early), every packet twice,
    // and a stale duplicate of an already played one now and then.
    for k in (70..100).step_by(2) {
        for (j, stale) in [(k + 1, false), (k, true)] {
            tick.tick().await;
            send(j).await;
            send(j).await;
            if stale {
                send(j - 6).await;
            }
            sent += 2 + u64::from(stale);
        }
    }
    for k in 100..N {
        tick.tick().await;
        send(k).await;
        sent += 1;
    }
    settle(&call.stats.frames_decoded, N as u64).await;
    let summary = call
        .session
        .stop_recording()
        .await
        .expect("was recording")
        .expect("recording written");
    assert_eq!(summary.path, path);

    // Forwarding went on all along (duplicates included), on our SSRC.
    let mut at_b = drain(&call.b);
    recv_until(&call.b, &mut at_b, "forwarded packets", |g| {
        g.len() as u64 >= sent
    })
    .await;
    assert!(at_b
        .iter()
        .all(|p| p.ssrc == at_b[0].ssrc && p.ssrc != 0x1111 && p.ssrc != 0x2222));
    eventually("all packets in", || call.stats.rtp_in.load(Relaxed) == sent).await;

    let (left, right) = read_stereo(&path);
    let _ = std::fs::remove_file(&path);
    assert!(right.iter().all(|&s| s == 0), "B said nothing");
    let played: Vec<usize> = left
        .chunks_exact(160)
        .filter_map(|f| frame_of.get(f).copied())
        .collect();
    assert!(
        played.windows(2).all(|w| w[0] < w[1]),
        "frames played out of order or twice: {played:?}"
    );
    assert!(
        played.len() >= N * 9 / 10,
        "only {} of {N} frames played: {played:?}",
        played.len()
    );
    for k in [0, 29, 30, 50, 69, 70, 71, 99, N - 1] {
        // Segment edges: the SSRC change, the burst, the reordering.
        let near = played.iter().any(|&p| p.abs_diff(k) <= 1);
        assert!(near, "nothing played around packet {k}: {played:?}");
    }
    assert_tone(&left, 8000, 440.0, "recorded caller");
}

/// 5a. RFC 4733 from a phone: one digit event per key press, however its
/// packets arrive; forwarded to a bridged leg that negotiated events too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4733_digits_are_reported_once_and_forwarded() {
    let mut call = Call::new(31560, true).await;
    call.bridge(
        LegFormat::new(Codec::Pcmu, 0, Some(101)),
        LegFormat::new(Codec::Pcma, 8, Some(96)),
    );
    let mut stream = Stream::new(0, 0x7777, 3_000, 80_000);
    let mut tick = interval(FRAME);
    let mut sent_events = 0usize;
    let mut sent = 0u64;
    for (digit, dup, lose_ends) in [('1', false, false), ('5', true, false), ('#', false, true)] {
        let mut tx = Rfc4733Sender::new(8000);
        tx.start(digit, 100, 10).unwrap();
        let event_ts = stream.ts;
        while let Some(ev) = tx.next() {
            if ev.end && lose_ends {
                continue;
            }
            let pkt = Rtp {
                pt: 101,
                marker: ev.marker,
                seq: stream.seq,
                ts: event_ts.wrapping_add(ev.event_ts_offset),
                ssrc: stream.ssrc,
                payload: ev.payload.to_vec(),
            };
            stream.seq = stream.seq.wrapping_add(1);
            stream.ts = stream.ts.wrapping_add(STEP);
            tick.tick().await;
            for _ in 0..if dup { 2 } else { 1 } {
                call.send(Side::A, &pkt.bytes()).await;
                sent_events += 1;
                sent += 1;
            }
        }
        // Some audio between (and after) the digits.
        for _ in 0..15 {
            tick.tick().await;
            call.send(Side::A, &stream.audio(vec![0xff; 160]).bytes())
                .await;
            sent += 1;
        }
    }
    // '#' lost its end packets: it is reported when its packets stop.
    eventually("three digits", || call.digits().len() >= 3).await;
    eventually("all packets in", || call.stats.rtp_in.load(Relaxed) >= sent).await;
    sleep(Duration::from_millis(300)).await; // long past the end timeout
    let digits = call.digits();
    let got: Vec<(Side, char, DtmfSource)> = digits
        .iter()
        .map(|(s, e)| (*s, e.digit, e.source))
        .collect();
    assert_eq!(
        got,
        [
            (Side::A, '1', DtmfSource::Rfc4733),
            (Side::A, '5', DtmfSource::Rfc4733),
            (Side::A, '#', DtmfSource::Rfc4733)
        ]
    );
    assert_eq!(digits[0].1.duration_ms, 100);
    assert_eq!(call.stats.digits.load(Relaxed), 3);
    assert_eq!(call.stats.unknown_payload_type.load(Relaxed), 0);

    // B got every event packet, on its own telephone-event payload type.
    let mut at_b = Vec::new();
    recv_until(&call.b, &mut at_b, "events at B", |g| {
        g.iter().filter(|p| p.pt == 96).count() >= sent_events
    })
    .await;
    assert!(
        at_b.iter().all(|p| p.pt == 96 || p.pt == 8),
        "{:?}",
        at_b.iter().map(|p| p.pt).collect::<Vec<_>>()
    );
    let mut rx = Rfc4733Receiver::new(8000);
    let now = Instant::now();
    let mut decoded: Vec<char> = at_b
        .iter()
        .filter(|p| p.pt == 96)
        .filter_map(|p| rx.on_packet(p.ts, p.marker, &p.payload, now))
        .map(|d| d.digit)
        .collect();
    decoded.extend(rx.poll(now + Duration::from_secs(1)).map(|d| d.digit));
    assert_eq!(decoded, ['1', '5', '#']);
}

/// The telephone-event packets of `digit` starting at the stream's
/// current timestamp (the stream moves on past them).
fn event_packets(stream: &mut Stream, digit: char) -> Vec<(bool, Rtp)> {
    let mut tx = Rfc4733Sender::new(8000);
    tx.start(digit, 100, 10).unwrap();
    let event_ts = stream.ts;
    let mut out = Vec::new();
    while let Some(ev) = tx.next() {
        out.push((
            ev.end,
            Rtp {
                pt: 101,
                marker: ev.marker,
                seq: stream.seq,
                ts: event_ts.wrapping_add(ev.event_ts_offset),
                ssrc: stream.ssrc,
                payload: ev.payload.to_vec(),
            },
        ));
        stream.seq = stream.seq.wrapping_add(1);
        stream.ts = stream.ts.wrapping_add(STEP);
    }
    out
}

/// 5a'. The key that ends what an application collects (dial-through's #)
/// is reported at its first end packet; the repeats of that end packet may
/// arrive after the application bridged the call. The other phone must get
/// none of that event (it never saw it begin), and the next key whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_begun_before_the_bridge_is_not_forwarded_after_it() {
    let mut call = Call::new(31920, true).await;
    let format = LegFormat::new(Codec::Pcmu, 0, Some(101));
    call.session.set_format(Side::A, format);
    call.session.set_format(Side::B, format);
    // Not bridged: the application is collecting A's digits.
    let mut stream = Stream::new(0, 0x4242, 5_000, 60_000);
    let mut tick = interval(FRAME);
    let hash = event_packets(&mut stream, '#');
    let (body, ends): (Vec<_>, Vec<_>) = hash.into_iter().partition(|(end, _)| !end);
    assert_eq!(ends.len(), 3, "the end packet is sent three times");
    for (_, pkt) in body.iter().chain(&ends[..1]) {
        tick.tick().await;
        call.send(Side::A, &pkt.bytes()).await;
    }
    eventually("the # reported", || call.digits().len() == 1).await;
    // The application bridges; A's audio reaching B shows it is in force.
    call.session.hear(Side::A, Hears::Other);
    call.session.hear(Side::B, Hears::Other);
    let deadline = Instant::now() + PATIENCE;
    let mut at_b = Vec::new();
    while !at_b.iter().any(|p: &Rtp| p.pt == 0) {
        assert!(Instant::now() < deadline, "the bridge never carried audio");
        tick.tick().await;
        call.send(Side::A, &stream.audio(vec![0xff; 160]).bytes())
            .await;
        at_b.extend(drain(&call.b));
    }
    // The late repeats of #'s end, then a whole '5'.
    for (_, pkt) in &ends[1..] {
        tick.tick().await;
        call.send(Side::A, &pkt.bytes()).await;
    }
    let five = event_packets(&mut stream, '5');
    for (_, pkt) in &five {
        tick.tick().await;
        call.send(Side::A, &pkt.bytes()).await;
    }
    // B's stream has its own timestamps: events are told apart by code.
    let code = |p: &Rtp| (p.pt == 101).then(|| p.payload.first().copied()).flatten();
    recv_until(&call.b, &mut at_b, "the 5 at B", |g| {
        g.iter().filter(|p| code(p) == Some(5)).count() >= five.len()
    })
    .await;
    // Anything still on its way.
    sleep(Duration::from_millis(200)).await;
    at_b.extend(drain(&call.b));
    let stray = at_b.iter().filter(|p| code(p) == Some(11)).count();
    assert_eq!(stray, 0, "packets of the collected # reached B");
    let mut rx = Rfc4733Receiver::new(8000);
    let now = Instant::now();
    let decoded: Vec<char> = at_b
        .iter()
        .filter(|p| p.pt == 101)
        .filter_map(|p| rx.on_packet(p.ts, p.marker, &p.payload, now))
        .map(|d| d.digit)
        .collect();
    assert_eq!(decoded, ['5']);
    let digits: Vec<char> = call.digits().iter().map(|(_, e)| e.digit).collect();
    assert_eq!(digits, ['#', '5'], "the application still got both keys");
}

/// 5b. send_digits to a leg with telephone-event: RFC 4733 packets, and
/// the audio clock runs on underneath.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_digits_as_rfc4733() {
    let mut call = Call::new(31600, false).await;
    call.session
        .set_format(Side::A, LegFormat::new(Codec::Pcmu, 0, Some(101)));
    // Leg A hears silence: an audio packet every tick.
    let mut got = recv_n(&call.a, 3, "silence").await;
    call.session.send_digits(Side::A, "2#9", 100);
    recv_until(&call.a, &mut got, "digits and audio after", |g| {
        let last_event = g.iter().rposition(|p| p.pt == 101);
        last_event.is_some_and(|i| g.len() - i > 3)
    })
    .await;
    assert_continuous_seq(&got);
    assert!(got
        .iter()
        .all(|p| p.ssrc == got[0].ssrc && (p.pt == 0 || p.pt == 101)));

    let first = got.iter().position(|p| p.pt == 101).unwrap();
    let last = got.iter().rposition(|p| p.pt == 101).unwrap();
    let events = &got[first..=last];
    assert!(events.iter().all(|p| p.pt == 101), "events are contiguous");
    // The audio clock runs on under the events.
    let (before, after) = (&got[first - 1], &got[last + 1]);
    assert_eq!(
        events[0].ts,
        before.ts.wrapping_add(STEP),
        "event starts on the next tick"
    );
    assert_eq!(
        after.ts.wrapping_sub(before.ts),
        STEP * (1 + events.len() as u32)
    );

    // Per digit: one timestamp, marker on the first, end bit on the last 3.
    let mut digits = Vec::new();
    for group in events.chunk_by(|x, y| x.ts == y.ts) {
        let evs: Vec<TelephoneEvent> = group
            .iter()
            .map(|p| TelephoneEvent::parse(&p.payload).unwrap())
            .collect();
        let n = group.len();
        assert!(n >= 4, "{evs:?}");
        assert!(group[0].marker && group[1..].iter().all(|p| !p.marker));
        assert!(
            evs[..n - 3].iter().all(|e| !e.end) && evs[n - 3..].iter().all(|e| e.end),
            "{evs:?}"
        );
        assert!(evs.iter().all(|e| e.event == evs[0].event));
        assert_eq!(evs[n - 1].duration, 800, "100 ms at 8 kHz");
        digits.push(evs[0].event);
    }
    assert_eq!(digits, [2, 11, 9]);
    let mut rx = Rfc4733Receiver::new(8000);
    let now = Instant::now();
    let decoded: Vec<char> = events
        .iter()
        .filter_map(|p| rx.on_packet(p.ts, p.marker, &p.payload, now))
        .map(|d| d.digit)
        .collect();
    assert_eq!(decoded, ['2', '#', '9']);
}

fn assert_continuous_seq(pkts: &[Rtp]) {
    for w in pkts.windows(2) {
        assert_eq!(
            w[1].seq,
            w[0].seq.wrapping_add(1),
            "sequence gap after {}",
            w[0].seq
        );
    }
}

/// 5c. send_digits to a leg without telephone-event: in-band tones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_digits_inband_without_telephone_event() {
    let mut call = Call::new(31640, false).await;
    call.session.set_format(Side::A, pcmu());
    let mut got = recv_n(&call.a, 3, "silence").await;
    call.session.send_digits(Side::A, "47*", 100);
    // 3 x (100 ms tone + 60 ms gap) = 24 packets; then some silence.
    recv_until(&call.a, &mut got, "tones", |g| g.len() >= 3 + 24 + 15).await;
    assert_continuous(&got);
    assert!(
        got.iter().all(|p| p.pt == 0),
        "no telephone-event was negotiated"
    );
    let pcm = decode(Codec::Pcmu, &got);
    let mut det = InbandDetector::new(8000);
    let mut digits = Vec::new();
    for frame in pcm.chunks(160) {
        digits.extend(det.process(frame).map(|d| d.digit));
    }
    while let Some(d) = det.flush() {
        digits.push(d.digit);
    }
    assert_eq!(digits, ['4', '7', '*']);
}

/// 5d. In-band detection on a leg reports the digits the phone plays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inband_detection_reports_digits() {
    let mut call = Call::new(31680, false).await;
    call.session.set_format(Side::A, pcmu());
    call.session.detect_inband(Side::A, true);
    let tones = DtmfTone::new("9#0D", 8000, 100, 100, -10.0).unwrap();
    // 5 frames of silence, 4 x 200 ms of tones and gaps, then silence.
    let mut lead = 5;
    let mut inner = encoded(Codec::Pcmu, Box::new(tones), 40, 15);
    let payloads: Payloads = Box::new(move || {
        if lead > 0 {
            lead -= 1;
            return Some(vec![0xff; 160]);
        }
        inner()
    });
    let talker = call.talk(Side::A, Stream::new(0, 0x9999, 1, 1), payloads);
    let sent = talker.finish().await.len() as u64;
    settle(&call.stats.frames_decoded, sent).await;
    eventually("four digits", || call.digits().len() >= 4).await;
    let got: Vec<(Side, char, DtmfSource)> = call
        .digits()
        .iter()
        .map(|(s, e)| (*s, e.digit, e.source))
        .collect();
    let want: Vec<(Side, char, DtmfSource)> = "9#0D"
        .chars()
        .map(|c| (Side::A, c, DtmfSource::InBand))
        .collect();
    assert_eq!(got, want);
    assert_eq!(call.stats.digits.load(Relaxed), 4);
}

/// 6. Stereo recording: caller left, callee right, paused audio left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_caller_left_callee_right_and_pauses() {
    let mut call = Call::new(31720, true).await;
    call.bridge(pcmu(), pcma());
    let path = temp_wav("stereo");
    let opts = RecorderOptions {
        layout: RecordLayout::Stereo,
        rate: 8000,
    };
    // Each phase: both phones talk for 1 s, then send 0.4 s of silence so
    // the jitter buffers have played the tones out before the next phase.
    let mut ssrc = 0x100;
    let mut phase = |call: &Call, fa: f64, fb: f64| {
        ssrc += 2;
        let a = encoded(Codec::Pcmu, Box::new(Sine::new(fa, 8000, 8000.0)), 50, 20);
        let b = encoded(Codec::Pcma, Box::new(Sine::new(fb, 8000, 8000.0)), 50, 20);
        let ta = call.talk(Side::A, Stream::new(0, ssrc, 0, 0), a);
        let tb = call.talk(Side::B, Stream::new(8, ssrc + 1, 0, 0), b);
        async move {
            let n = ta.finish().await.len() + tb.finish().await.len();
            n as u64
        }
    };
    let start = Instant::now();
    call.session
        .record(Recorder::create(&path, opts).unwrap(), 8000);
    let mut sent = phase(&call, 440.0, 1000.0).await;
    settle(&call.stats.frames_decoded, sent - 4).await;
    let paused = Instant::now();
    call.session.pause_recording(true);
    sent += phase(&call, 700.0, 1500.0).await;
    settle(&call.stats.frames_decoded, sent - 4).await;
    let resumed = Instant::now();
    call.session.pause_recording(false);
    sent += phase(&call, 440.0, 1000.0).await;
    settle(&call.stats.frames_decoded, sent - 4).await;
    let summary = call
        .session
        .stop_recording()
        .await
        .expect("was recording")
        .expect("written");
    let stopped = Instant::now();
    assert!(
        call.session.stop_recording().await.is_none(),
        "nothing recording any more"
    );

    let expected = (paused - start + (stopped - resumed)).as_secs_f64();
    assert!(
        (summary.seconds - expected).abs() < 0.3,
        "recorded {:.2} s, but {expected:.2} s passed unpaused",
        summary.seconds
    );
    let (left, right) = read_stereo(&path);
    let _ = std::fs::remove_file(&path);
    assert!((left.len() as f64 / 8000.0 - summary.seconds).abs() < 1e-9);

    for (pcm, want, other, paused_f, name) in [
        (&left, 440.0, 1000.0, 700.0, "caller (left)"),
        (&right, 1000.0, 440.0, 1500.0, "callee (right)"),
    ] {
        let voiced = voiced_frames(pcm);
        // Two phases of 50 frames recorded, plus a concealed frame or so
        // after each; the paused phase's 50 frames left out.
        assert!(
            (95..=112).contains(&voiced.len()),
            "{name}: {} frames with sound",
            voiced.len()
        );
        let sound: Vec<i16> = voiced.concat();
        assert_tone(&sound, 8000, want, name);
        assert!(
            tone_fraction(&sound, 8000, other) < 0.01,
            "{name}: the other party leaks in"
        );
        for f in voiced {
            assert!(
                tone_fraction(f, 8000, paused_f) < 0.2,
                "{name}: paused audio was recorded"
            );
        }
    }
}

/// 7. A running relay becomes a media session: same sockets, same latches,
/// traffic goes on, now terminated (our SSRC).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_upgrade_keeps_traffic_and_latches() {
    let pool = PortAllocator::new(LOCAL, 31760, 31779).unwrap();
    let relay_stats = Arc::new(RelayStats::new());
    let relay = Relay::start(
        &Handle::current(),
        pool.allocate().unwrap(),
        pool.allocate().unwrap(),
        Arc::clone(&relay_stats),
    );
    let port = |side| addr(relay.local_port(side));
    let (pa, pb) = (port(Side::A), port(Side::B));
    // SDP named other addresses: media only reaches the phones by latching.
    let decoy_a = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    let decoy_b = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    relay.set_remote(Side::A, decoy_a.local_addr().unwrap());
    relay.set_remote(Side::B, decoy_b.local_addr().unwrap());
    let a = Arc::new(UdpSocket::bind((LOCAL, 0)).await.unwrap());
    let b = Arc::new(UdpSocket::bind((LOCAL, 0)).await.unwrap());

    let ta = Talker::spawn(
        &a,
        pa,
        Stream::new(0, 0xA, 10, 10),
        sine(Codec::Pcmu, 440.0),
    );
    let tb = Talker::spawn(
        &b,
        pb,
        Stream::new(0, 0xB, 20, 20),
        sine(Codec::Pcmu, 1000.0),
    );
    let mut at_b = recv_n(&b, 10, "relayed A->B").await;
    let at_a = recv_n(&a, 10, "relayed B->A").await;
    assert!(
        at_b.iter().all(|p| p.ssrc == 0xA) && at_a.iter().all(|p| p.ssrc == 0xB),
        "relayed untouched"
    );
    tb.stop().await;
    let _ = drain(&a);
    // (What either phone sent before the other had latched went to a decoy.)
    let _ = (drain(&decoy_a), drain(&decoy_b));

    // B is silent from here on: A's audio only reaches it through the latch
    // the relay learnt.
    let stats = Arc::new(SessionStats::default());
    let (sink, _events) = sink();
    let mut session =
        MediaSession::upgrade(relay, Arc::clone(&stats), Arc::clone(&relay_stats), sink);
    session.set_format(Side::A, pcmu());
    session.set_format(Side::B, pcmu());
    session.hear(Side::A, Hears::Other);
    session.hear(Side::B, Hears::Other);
    assert_eq!(session.local_port(Side::A), Some(pa.port()));
    recv_until(&b, &mut at_b, "A->B through the session", |g| {
        g.iter().filter(|p| p.ssrc != 0xA).count() >= 25
    })
    .await;
    let sent_a = ta.stop().await;
    recv_until(&b, &mut at_b, "A's last packets", |g| {
        g.len() + 3 >= sent_a.len()
    })
    .await;
    // Before: A's own stream; after: ours, continuous, one marker at the switch.
    let split = at_b.iter().position(|p| p.ssrc != 0xA).unwrap();
    assert!(at_b[..split].iter().all(|p| p.ssrc == 0xA));
    let ours = &at_b[split..];
    assert_continuous(ours);
    assert!(ours[0].marker && ours[1..].iter().all(|p| !p.marker));
    assert_tone(
        &decode(Codec::Pcmu, ours),
        8000,
        440.0,
        "A->B after the upgrade",
    );

    // And the other way.
    let tb = Talker::spawn(
        &b,
        pb,
        Stream::new(0, 0xB, 500, 500),
        sine(Codec::Pcmu, 1000.0),
    );
    let at_a = recv_n(&a, 25, "B->A through the session").await;
    tb.stop().await;
    assert!(
        at_a.iter().all(|p| p.ssrc != 0xB && p.ssrc != 0xA),
        "rewritten"
    );
    assert_continuous(&at_a);
    assert_tone(
        &decode(Codec::Pcmu, &at_a),
        8000,
        1000.0,
        "B->A after the upgrade",
    );
    assert!(
        drain(&decoy_a).is_empty() && drain(&decoy_b).is_empty(),
        "latches were lost"
    );
    assert!(stats.rtp_in.load(Relaxed) >= 50 && stats.rtp_out.load(Relaxed) >= 50);
    session.close();
    eventually("ports back in the pool", || pool.in_use() == 0).await;
}

/// 8. Echo: a phone hearing itself gets its own audio back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_returns_the_phones_own_audio() {
    let mut call = Call::new(31800, false).await;
    call.session.set_format(Side::A, pcmu());
    call.session.hear(Side::A, Hears::Itself);
    let talker = call.talk(
        Side::A,
        Stream::new(0, 0xEC40, 9, 9),
        sine(Codec::Pcmu, 440.0),
    );
    let back = recv_n(&call.a, 30, "echo").await;
    let sent = talker.stop().await;
    assert!(back.iter().all(|p| p.pt == 0 && p.ssrc != 0xEC40));
    assert_continuous(&back);
    // Payloads come back unchanged, in order.
    let first = sent
        .iter()
        .position(|p| p.payload == back[0].payload)
        .expect("own audio");
    for (got, sent) in back.iter().zip(&sent[first..]) {
        assert_eq!(got.payload, sent.payload);
    }
    assert_tone(&decode(Codec::Pcmu, &back), 8000, 440.0, "echo");
}

/// 9. G.722 (16 kHz) bridged to PCMU: decoded, resampled, encoded on the tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g722_bridged_to_pcmu_both_ways() {
    let mut call = Call::new(31840, true).await;
    call.bridge(LegFormat::new(Codec::G722, 9, None), pcmu());

    // Only A talks: B hears 1 kHz as PCMU.
    let ta = call.talk(
        Side::A,
        Stream::new(9, 0x722, 1, 1),
        sine(Codec::G722, 1000.0),
    );
    let at_b = recv_n(&call.b, 60, "G.722 -> PCMU").await;
    ta.stop().await;
    assert!(at_b
        .iter()
        .all(|p| p.pt == 0 && p.payload.len() == 160 && p.ssrc != 0x722));
    assert_continuous_seq(&at_b);
    let pcm = decode(Codec::Pcmu, &at_b[10..]);
    assert_tone(&pcm, 8000, 1000.0, "G.722 -> PCMU");

    // Then only B: A hears 1 kHz as G.722.
    let _ = drain(&call.a);
    let tb = call.talk(
        Side::B,
        Stream::new(0, 0x711, 1, 1),
        sine(Codec::Pcmu, 1000.0),
    );
    let at_a = recv_n(&call.a, 60, "PCMU -> G.722").await;
    tb.stop().await;
    assert!(at_a.iter().all(|p| p.pt == 9 && p.payload.len() == 160));
    assert_continuous_seq(&at_a);
    let pcm = decode(Codec::G722, &at_a);
    assert_tone(&pcm[320 * 10..], 16000, 1000.0, "PCMU -> G.722");
}

/// 5e. Digits cross between legs that signal DTMF differently: RFC 4733
/// from A becomes in-band tones for B (no telephone-event); in-band tones
/// from B become RFC 4733 events for A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digits_are_converted_between_rfc4733_and_inband_legs() {
    let mut call = Call::new(31860, true).await;
    call.bridge(LegFormat::new(Codec::Pcmu, 0, Some(101)), pcmu());
    call.session.detect_inband(Side::B, true);
    // A: events for '3' and '8' with µ-law silence around them.
    let mut stream = Stream::new(0, 0x3838, 7_000, 90_000);
    let mut tick = interval(FRAME);
    for digit in ['3', '8'] {
        for _ in 0..5 {
            tick.tick().await;
            call.send(Side::A, &stream.audio(vec![0xff; 160]).bytes())
                .await;
        }
        let mut tx = Rfc4733Sender::new(8000);
        tx.start(digit, 120, 10).unwrap();
        let event_ts = stream.ts;
        while let Some(ev) = tx.next() {
            let pkt = Rtp {
                pt: 101,
                marker: ev.marker,
                seq: stream.seq,
                ts: event_ts.wrapping_add(ev.event_ts_offset),
                ssrc: stream.ssrc,
                payload: ev.payload.to_vec(),
            };
            stream.seq = stream.seq.wrapping_add(1);
            stream.ts = stream.ts.wrapping_add(STEP);
            tick.tick().await;
            call.send(Side::A, &pkt.bytes()).await;
        }
    }
    for _ in 0..20 {
        tick.tick().await;
        call.send(Side::A, &stream.audio(vec![0xff; 160]).bytes())
            .await;
    }
    // B heard the digits as tones in its µ-law stream, no event packets.
    let mut at_b = Vec::new();
    let mut det = InbandDetector::new(8000);
    let mut heard = Vec::new();
    recv_until(&call.b, &mut at_b, "tones at B", |g| {
        heard = decode(Codec::Pcmu, g)
            .chunks(160)
            .filter_map(|f| InbandDetector::process(&mut det, f).map(|d| d.digit))
            .collect();
        det = InbandDetector::new(8000);
        heard.len() >= 2
    })
    .await;
    assert!(
        at_b.iter().all(|p| p.pt == 0),
        "B negotiated no telephone-event"
    );
    assert_eq!(heard, ['3', '8']);

    // B plays '6' in-band: A receives it as telephone-event packets.
    let tones = DtmfTone::new("6", 8000, 120, 100, -10.0).unwrap();
    let talker = call.talk(
        Side::B,
        Stream::new(0, 0x6666, 1, 1),
        encoded(Codec::Pcmu, Box::new(tones), 20, 10),
    );
    talker.finish().await;
    let mut at_a = Vec::new();
    recv_until(&call.a, &mut at_a, "events at A", |g| {
        g.iter().filter(|p| p.pt == 101).count() >= 3
    })
    .await;
    let mut rx = Rfc4733Receiver::new(8000);
    let now = Instant::now();
    let mut decoded: Vec<char> = at_a
        .iter()
        .filter(|p| p.pt == 101)
        .filter_map(|p| rx.on_packet(p.ts, p.marker, &p.payload, now))
        .map(|d| d.digit)
        .collect();
    decoded.extend(rx.poll(now + Duration::from_secs(1)).map(|d| d.digit));
    assert_eq!(decoded, ['6']);
}

/// An address signalled to a relay just before it is upgraded (before its
/// task ran again) still reaches the session: a silent phone hears what the
/// session plays (local ringback right after the SDP exchange).
#[tokio::test]
async fn an_address_signalled_just_before_the_upgrade_is_kept() {
    let pool = PortAllocator::new(LOCAL, 31880, 31899).unwrap();
    let relay = Relay::start(
        &Handle::current(),
        pool.allocate().unwrap(),
        pool.allocate().unwrap(),
        Arc::new(RelayStats::new()),
    );
    let phone = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    // No await between these: on this single-threaded runtime the relay task
    // cannot run before the hand-over.
    relay.set_remote(Side::A, phone.local_addr().unwrap());
    let (sink, _events) = sink();
    let mut session = MediaSession::upgrade(
        relay,
        Arc::new(SessionStats::default()),
        Arc::new(RelayStats::new()),
        sink,
    );
    session.set_format(Side::A, pcmu());
    let tone = ToneGenerator::new(
        &ToneSpec {
            freqs: vec![450.0],
            cadence: Vec::new(),
            level_dbov: -10.0,
        },
        8000,
    );
    session.hear(
        Side::A,
        Hears::Source {
            source: Box::new(tone),
            token: 1,
        },
    );
    // The phone never sends anything, yet it hears the tone.
    let got = recv_n(&phone, 40, "the tone at a silent phone").await;
    assert_tone(
        &decode(Codec::Pcmu, &got),
        8000,
        450.0,
        "played to the signalled address",
    );
}
