//! An Opus leg in a media session, over real UDP sockets on 127.0.0.1 (like
//! the session tests in `tests/media/session.rs`): the "phones" are plain
//! sockets driven by the test, the session runs on the test's runtime.
//! libopus must be installed (CI installs libopus0): without it the test
//! fails saying so.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::*;
use crate::dtmf::goertzel::tone_level_dbov;
use crate::ports::PortAllocator;
use crate::recorder::{RecordLayout, RecorderOptions};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const OPUS_PT: u8 = 111;
/// Packets each phone sends (2 s).
const PACKETS: usize = 100;
/// Every 20th packet of the Opus phone is "lost" (never sent).
const LOSS_EVERY: usize = 20;

/// One received RTP packet.
#[derive(Debug)]
struct Pkt {
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

fn parse(p: &[u8]) -> Pkt {
    assert!(
        p.len() >= 12 && p[0] == 0x80,
        "not a plain RTP packet: {p:?}"
    );
    Pkt {
        pt: p[1] & 0x7f,
        seq: u16::from_be_bytes([p[2], p[3]]),
        ts: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        payload: p[12..].to_vec(),
    }
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// `n` samples of a sine at `freq`, from sample `start` on.
fn sine(freq: f64, rate: u32, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (8000.0 * (std::f64::consts::TAU * freq * t).sin()).round() as i16
        })
        .collect()
}

/// Asserts `pcm` is a tone at `freq` (not at `other`): the strongest of the
/// two by 20 dB, and its zero crossings at the right rate.
fn assert_tone(pcm: &[i16], rate: u32, freq: f32, other: f32, what: &str) {
    assert!(
        pcm.len() >= rate as usize / 2,
        "{what}: {} samples",
        pcm.len()
    );
    let at = tone_level_dbov(pcm, freq, rate);
    let off = tone_level_dbov(pcm, other, rate);
    assert!(
        at > -30.0 && at > off + 20.0,
        "{what}: {freq} Hz at {at:.1} dBov, {other} Hz at {off:.1} dBov"
    );
    let ups = pcm.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
    let hz = ups as f64 * f64::from(rate) / pcm.len() as f64;
    assert!(
        (hz - f64::from(freq)).abs() < f64::from(freq) * 0.02,
        "{what}: {hz:.1} crossings per second, expected {freq}"
    );
}

/// One SSRC, sequence numbers +1, timestamps +`step`, one payload type.
fn assert_stream(pkts: &[Pkt], pt: u8, step: u32, what: &str) {
    for w in pkts.windows(2) {
        assert_eq!(
            (w[1].pt, w[1].ssrc, w[1].seq),
            (pt, w[0].ssrc, w[0].seq.wrapping_add(1)),
            "{what}: after seq {}",
            w[0].seq
        );
        assert_eq!(
            w[1].ts.wrapping_sub(w[0].ts),
            step,
            "{what}: timestamp step at seq {}",
            w[1].seq
        );
    }
}

fn drain(sock: &UdpSocket, into: &mut Vec<Pkt>) {
    let mut buf = [0u8; 2048];
    while let Ok((n, _)) = sock.try_recv_from(&mut buf) {
        into.push(parse(&buf[..n]));
    }
}

fn temp_wav(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "switchboard-media-opus-{}-{name}.wav",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// An Opus phone (leg A, 1 kHz, a packet in twenty lost on the way) bridged
/// to a PCMU phone (leg B, 600 Hz) through a session that records both at
/// 16 kHz: each phone hears the other's tone in its own codec, the Opus
/// stream steps 960 per 20 ms, the losses are concealed, and the recording
/// has each tone on its side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opus_leg_bridged_to_a_pcmu_leg_carries_tones_both_ways_and_records() {
    if let Err(e) = crate::codec::opus::available() {
        panic!("this test needs libopus: {e}");
    }
    let pool = PortAllocator::new(LOCAL, 31960, 31999).unwrap();
    let stats = Arc::new(SessionStats::default());
    let sink: EventSink = Arc::new(|_| {});
    let mut session = MediaSession::start(
        &Handle::current(),
        pool.allocate().unwrap(),
        Some(pool.allocate().unwrap()),
        Arc::clone(&stats),
        Arc::new(RelayStats::new()),
        sink,
    );
    let a = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    let b = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    session.set_remote(Side::A, a.local_addr().unwrap());
    session.set_remote(Side::B, b.local_addr().unwrap());
    session.set_format(Side::A, LegFormat::new(Codec::Opus, OPUS_PT, None));
    assert_eq!(
        session.rate(Side::A),
        16_000,
        "wideband until the other leg is known"
    );
    session.set_format(Side::B, LegFormat::new(Codec::Pcmu, 0, None));
    // Beside G.711 the Opus leg runs narrowband: no resampling either way.
    assert_eq!(session.rate(Side::A), 8_000);
    assert_eq!(
        LegFormat::new(Codec::Opus, OPUS_PT, None).pcm_rate_beside(Some(LegFormat::new(
            Codec::G722,
            9,
            None
        ))),
        16_000,
        "beside G.722 it stays wideband"
    );
    session.hear(Side::A, Hears::Other);
    session.hear(Side::B, Hears::Other);
    let path = temp_wav("bridge");
    let opts = RecorderOptions {
        layout: RecordLayout::Stereo,
        rate: 16_000,
    };
    session.record(Recorder::create(&path, opts).unwrap(), 16_000);
    let to_a = SocketAddr::new(LOCAL, session.local_port(Side::A).unwrap());
    let to_b = SocketAddr::new(LOCAL, session.local_port(Side::B).unwrap());

    let mut opus = Codec::Opus.encoder();
    let mut pcmu = Codec::Pcmu.encoder();
    let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut payload = Vec::new();
    for k in 0..PACKETS {
        tick.tick().await;
        payload.clear();
        opus.encode(&sine(1000.0, 16_000, k * 320, 320), &mut payload);
        // The browser's clock: 960 per 20 ms whatever the audio's rate.
        let pkt = rtp(
            OPUS_PT,
            7000 + k as u16,
            96_000 + 960 * k as u32,
            0xA,
            &payload,
        );
        if k % LOSS_EVERY != LOSS_EVERY / 2 {
            a.send_to(&pkt, to_a).await.unwrap();
        }
        payload.clear();
        pcmu.encode(&sine(600.0, 8000, k * 160, 160), &mut payload);
        let pkt = rtp(0, 300 + k as u16, 8000 + 160 * k as u32, 0xB, &payload);
        b.send_to(&pkt, to_b).await.unwrap();
        drain(&a, &mut at_a);
        drain(&b, &mut at_b);
    }
    // Before the streams stop (the jitter buffers then conceal a few
    // frames before they call it silence).
    let concealed = stats.frames_concealed.load(Relaxed);
    // What the jitter buffers still hold plays out.
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
        drain(&a, &mut at_a);
        drain(&b, &mut at_b);
    }
    let summary = session
        .stop_recording()
        .await
        .expect("was recording")
        .expect("written");
    session.close();

    // B hears A's 1 kHz as PCMU, 20 ms per packet.
    assert!(at_b.len() >= 80, "{} packets at B", at_b.len());
    assert_stream(&at_b, 0, 160, "Opus -> PCMU");
    assert!(at_b.iter().all(|p| p.payload.len() == 160 && p.ssrc != 0xA));
    let mut pcm = Vec::new();
    let mut dec = Codec::Pcmu.decoder();
    for p in &at_b[10..at_b.len() - 5] {
        dec.decode(&p.payload, &mut pcm);
    }
    assert_tone(&pcm, 8000, 1000.0, 600.0, "Opus -> PCMU");

    // A hears B's 600 Hz as Opus at its payload type, stepping 960.
    assert!(at_a.len() >= 80, "{} packets at A", at_a.len());
    assert_stream(&at_a, OPUS_PT, 960, "PCMU -> Opus");
    let mut pcm = Vec::new();
    let mut dec = Codec::Opus.decoder();
    for p in &at_a {
        let before = pcm.len();
        dec.decode(&p.payload, &mut pcm);
        assert_eq!(pcm.len() - before, 320, "20 ms per packet");
    }
    assert_eq!(dec.bad_payloads(), 0, "the session's Opus packets decode");
    assert_tone(
        &pcm[320 * 10..pcm.len() - 320 * 5],
        16_000,
        600.0,
        1000.0,
        "PCMU -> Opus",
    );

    // The lost packets were concealed (libopus's PLC), not skipped: B got
    // a packet for them too. (A loaded machine may add a late packet or
    // two to the count.)
    let lost = (PACKETS / LOSS_EVERY) as u64;
    assert!(
        (lost..=lost + 10).contains(&concealed),
        "{concealed} frames concealed for {lost} lost"
    );
    assert!(at_b.len() >= PACKETS - 10, "{} packets at B", at_b.len());

    // The recording: 16 kHz stereo, caller (the Opus leg) left.
    let mut reader = hound::WavReader::open(&path).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 16_000));
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let _ = std::fs::remove_file(&path);
    assert!(summary.seconds > 1.5, "{} s recorded", summary.seconds);
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let voiced = |pcm: &[i16]| -> Vec<i16> {
        pcm.chunks_exact(320)
            .filter(|f| crate::audio::level_dbov(f) > -30.0)
            .flatten()
            .copied()
            .collect()
    };
    let (left, right) = (voiced(&left), voiced(&right));
    assert_tone(&left, 16_000, 1000.0, 600.0, "recorded caller (Opus)");
    assert_tone(&right, 16_000, 600.0, 1000.0, "recorded callee (PCMU)");
}

/// A digit sent as RFC 4733 by a PCMU phone (telephone-event/8000) reaches
/// the Opus phone as telephone-event/48000 at its own payload type, with
/// durations in 48 kHz units: the events are sent afresh, not forwarded
/// (their 8 kHz durations would be a sixth as long at 48 kHz).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4733_from_an_8k_leg_reaches_an_opus_leg_at_48k() {
    use crate::dtmf::rfc4733::{Rfc4733Sender, TelephoneEvent};
    if let Err(e) = crate::codec::opus::available() {
        panic!("this test needs libopus: {e}");
    }
    let pool = PortAllocator::new(LOCAL, 31960, 31999).unwrap();
    let digits = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&digits);
    let sink: EventSink = Arc::new(move |e| {
        if let MediaEvent::Digit { side, event } = e {
            seen.lock()
                .unwrap()
                .push((side, event.digit, event.duration_ms));
        }
    });
    let mut session = MediaSession::start(
        &Handle::current(),
        pool.allocate().unwrap(),
        Some(pool.allocate().unwrap()),
        Arc::new(SessionStats::default()),
        Arc::new(RelayStats::new()),
        sink,
    );
    let a = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    let b = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    session.set_remote(Side::A, a.local_addr().unwrap());
    session.set_remote(Side::B, b.local_addr().unwrap());
    session.set_format(Side::A, LegFormat::new(Codec::Opus, OPUS_PT, Some(110)));
    session.set_format(Side::B, LegFormat::new(Codec::Pcmu, 0, Some(101)));
    session.hear(Side::A, Hears::Other);
    session.hear(Side::B, Hears::Other);
    let to_b = SocketAddr::new(LOCAL, session.local_port(Side::B).unwrap());

    // B: 200 ms of silence, digit 5 for 100 ms (8 kHz units), silence.
    let mut pcmu = Codec::Pcmu.encoder();
    let mut events = Rfc4733Sender::new(8000);
    let mut at_a = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut seq, mut ts) = (1000u16, 5000u32);
    let mut event_ts = None;
    for k in 0..60 {
        tick.tick().await;
        if k == 10 {
            events.start('5', 100, 10).unwrap();
        }
        let pkt = match events.next() {
            Some(e) => {
                let start = *event_ts.get_or_insert(ts);
                rtp(
                    101 | if e.marker { 0x80 } else { 0 },
                    seq,
                    start,
                    0xB,
                    &e.payload,
                )
            }
            None => {
                event_ts = None;
                let mut payload = Vec::new();
                pcmu.encode(&[0; 160], &mut payload);
                rtp(0, seq, ts, 0xB, &payload)
            }
        };
        b.send_to(&pkt, to_b).await.unwrap();
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
        drain(&a, &mut at_a);
    }
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
        drain(&a, &mut at_a);
    }
    session.close();

    assert_eq!(*digits.lock().unwrap(), [(Side::B, '5', 100)]);
    let te: Vec<TelephoneEvent> = at_a
        .iter()
        .filter(|p| p.pt == 110)
        .filter_map(|p| TelephoneEvent::parse(&p.payload))
        .collect();
    assert!(
        at_a.iter().all(|p| p.pt == 110 || p.pt == OPUS_PT),
        "A got a payload type it did not negotiate: {:?}",
        at_a.iter().map(|p| p.pt).collect::<Vec<_>>()
    );
    assert!(te.iter().all(|e| e.event == 5), "{te:?}");
    let end = te.iter().find(|e| e.end).expect("an end packet");
    assert_eq!(end.duration, 4800, "100 ms at 48 kHz: {te:?}");
    // One event: all its packets carry the same timestamp.
    let stamps: Vec<u32> = at_a.iter().filter(|p| p.pt == 110).map(|p| p.ts).collect();
    assert!(stamps.windows(2).all(|w| w[0] == w[1]), "{stamps:?}");
}
