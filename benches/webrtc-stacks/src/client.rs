//! The load generator: str0m whatever the server's stack, all calls driven by one thread
//! (a current-thread tokio runtime, one task and one UDP socket per call). Full ICE
//! (controlling), DTLS active. Sends 80-byte "Opus" frames, PT 111, every 20 ms; each payload
//! starts with its own sequence number and send time so the echo can be matched.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind, MediaTime, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::procstat::{self, Sample};

/// An echo arriving this long after its frame was sent counts as late (a jitter buffer would
/// have dropped it).
const LATE: Duration = Duration::from_millis(100);
/// Packet interval (20 ms of audio, 960 samples at 48 kHz).
const PTIME: Duration = Duration::from_millis(20);
const PAYLOAD: usize = 80;
/// A call not connected and echoing within this time counts as failed.
const SETUP_TIMEOUT: Duration = Duration::from_secs(20);
/// After sending stops, echoes are still collected this long.
const DRAIN: Duration = Duration::from_secs(2);
/// RTT histogram: 100 µs buckets up to 2 s.
const BUCKET_US: u64 = 100;
const BUCKETS: usize = 20_000;

/// Options of the `client` subcommand.
pub struct Opts {
    pub server: SocketAddr,
    pub calls: usize,
    pub seconds: u64,
    /// New calls per second during the ramp.
    pub rate: f64,
    /// Server process to sample (CPU, RSS, threads) during the steady phase.
    pub watch_pid: Option<u32>,
    /// Label printed in the result line.
    pub label: String,
}

/// State shared by the controller and the calls.
struct Shared {
    /// Calls done with setup (echoing, or failed).
    ready: AtomicUsize,
    /// Start of the steady phase, µs after the epoch (u64::MAX before): frames sent from then
    /// on are also counted apart, free of the ramp's setups.
    steady_from_us: AtomicU64,
}

#[derive(Default)]
struct CallStats {
    error: Option<String>,
    answer: Option<Duration>,
    connected: Option<Duration>,
    first_echo: Option<Duration>,
    sent: u64,
    received: u64,
    duplicate: u64,
    late: u64,
    steady_sent: u64,
    steady_received: u64,
    steady_late: u64,
    max_send_lag: Duration,
    /// RTT histogram of the steady phase, sparse: (bucket, count) pairs.
    rtt: Vec<u32>,
}

/// Runs the load and prints a human summary and one `RESULT key=value ...` line.
pub fn run(opts: Opts) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(run_async(opts))
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn hist_pct(h: &[u64], p: f64) -> f64 {
    let total: u64 = h.iter().sum();
    if total == 0 {
        return f64::NAN;
    }
    let want = ((total as f64) * p).ceil().max(1.0) as u64;
    let mut acc = 0;
    for (i, c) in h.iter().enumerate() {
        acc += c;
        if acc >= want {
            return (i as u64 * BUCKET_US) as f64 / 1000.0;
        }
    }
    f64::NAN
}

async fn run_async(opts: Opts) -> Result<(), String> {
    let pid = opts.watch_pid.map(|p| p.to_string());
    let baseline = pid.as_deref().and_then(procstat::sample);
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        ready: AtomicUsize::new(0),
        steady_from_us: AtomicU64::new(u64::MAX),
    });
    let epoch = Instant::now();
    let mut handles = Vec::with_capacity(opts.calls);
    for i in 0..opts.calls {
        let start = epoch + Duration::from_secs_f64(i as f64 / opts.rate);
        let stop_rx = stop_rx.clone();
        let shared = Arc::clone(&shared);
        let server = opts.server;
        handles.push(tokio::spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            let mut st = CallStats::default();
            if let Err(e) = call(server, epoch, stop_rx, &shared, &mut st).await {
                st.error = Some(e);
            }
            if st.first_echo.is_none() {
                // Done with setup (failed).
                shared.ready.fetch_add(1, Ordering::Relaxed);
            }
            st
        }));
    }

    // Ramp: wait until every call has echoed or failed.
    let ramp_deadline = Instant::now()
        + Duration::from_secs_f64(opts.calls as f64 / opts.rate)
        + SETUP_TIMEOUT
        + Duration::from_secs(5);
    while shared.ready.load(Ordering::Relaxed) < opts.calls && Instant::now() < ramp_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ramp_s = epoch.elapsed().as_secs_f64();
    // Let the last calls settle (RTCP, first reports) before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!(
        "client: {} of {} calls set up in {ramp_s:.1} s; steady phase of {} s",
        shared.ready.load(Ordering::Relaxed),
        opts.calls,
        opts.seconds
    );
    let s0 = pid.as_deref().and_then(procstat::sample);
    let c0 = procstat::sample("self");
    let m0 = procstat::machine_busy_s();
    let t0 = Instant::now();
    shared.steady_from_us.store(
        t0.duration_since(epoch).as_micros() as u64,
        Ordering::Relaxed,
    );
    let mut mid_sample: Option<Sample> = None;
    let steady = Duration::from_secs(opts.seconds);
    while t0.elapsed() < steady {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if mid_sample.is_none() && t0.elapsed() >= steady / 2 {
            mid_sample = pid.as_deref().and_then(procstat::sample);
        }
    }
    let s1 = pid.as_deref().and_then(procstat::sample);
    let c1 = procstat::sample("self");
    let m1 = procstat::machine_busy_s();
    let wall = t0.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);

    let mut stats = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(s) => stats.push(s),
            Err(e) => return Err(format!("call task: {e}")),
        }
    }

    // Aggregate.
    let mut hist = vec![0u64; BUCKETS + 1];
    let (mut ok, mut sent, mut received, mut dup, mut late) = (0usize, 0u64, 0u64, 0u64, 0u64);
    let (mut ssent, mut sreceived, mut slate) = (0u64, 0u64, 0u64);
    let mut setup = Vec::new();
    let mut connect = Vec::new();
    let mut answer = Vec::new();
    let mut max_lag = Duration::ZERO;
    let mut errors: Vec<String> = Vec::new();
    for s in &stats {
        if let Some(e) = &s.error {
            errors.push(e.clone());
        }
        if let Some(f) = s.first_echo {
            ok += 1;
            setup.push(f);
        }
        if let Some(c) = s.connected {
            connect.push(c);
        }
        if let Some(a) = s.answer {
            answer.push(a);
        }
        sent += s.sent;
        received += s.received;
        dup += s.duplicate;
        late += s.late;
        ssent += s.steady_sent;
        sreceived += s.steady_received;
        slate += s.steady_late;
        max_lag = max_lag.max(s.max_send_lag);
        for (i, c) in s.rtt.chunks_exact(2).map(|c| (c[0] as usize, c[1] as u64)) {
            hist[i] += c;
        }
    }
    setup.sort();
    connect.sort();
    answer.sort();
    let lost = sent.saturating_sub(received);
    let loss_pct = if sent > 0 {
        100.0 * lost as f64 / sent as f64
    } else {
        f64::NAN
    };
    let slost = ssent.saturating_sub(sreceived);
    let sloss_pct = if ssent > 0 {
        100.0 * slost as f64 / ssent as f64
    } else {
        f64::NAN
    };
    let (cpu_cores, rss_mib, hwm_mib, threads, rss_per_call_kib) = match (s0, s1) {
        (Some(a), Some(b)) => {
            let cores = (b.cpu_s - a.cpu_s) / wall;
            let base = baseline.map(|x| x.rss_kib).unwrap_or(0);
            let per_call = if ok > 0 {
                (b.rss_kib.saturating_sub(base)) as f64 / ok as f64
            } else {
                f64::NAN
            };
            let threads = mid_sample.map(|m| m.threads).unwrap_or(b.threads);
            (
                cores,
                b.rss_kib as f64 / 1024.0,
                b.hwm_kib as f64 / 1024.0,
                threads,
                per_call,
            )
        }
        _ => (f64::NAN, f64::NAN, f64::NAN, 0, f64::NAN),
    };
    let client_cores = match (c0, c1) {
        (Some(a), Some(b)) => (b.cpu_s - a.cpu_s) / wall,
        _ => f64::NAN,
    };
    // Everything else on the machine (other users' builds and tests): a run where this is
    // large is not a clean measurement.
    let other_cores = match (m0, m1) {
        (Some(a), Some(b)) => (b - a) / wall - client_cores - cpu_cores.max(0.0),
        _ => f64::NAN,
    };
    let cpu_ms_per_call = if ok > 0 {
        cpu_cores * 1000.0 / ok as f64
    } else {
        f64::NAN
    };
    let late_ms = LATE.as_millis();
    errors.sort();
    errors.dedup();
    for e in errors.iter().take(5) {
        eprintln!("client: call error: {e}");
    }
    eprintln!(
        "client: {ok}/{} calls ok; whole run: sent {sent}, echoed {received}, lost {lost} ({loss_pct:.4} %), duplicates {dup}, late(>{late_ms} ms) {late}; \
steady phase: sent {ssent}, lost {slost} ({sloss_pct:.4} %), late {slate}, RTT p50 {:.2} p99 {:.2} ms; max send lag {:.1} ms; client CPU {client_cores:.2} cores, others {other_cores:.2} cores",
        opts.calls,
        hist_pct(&hist, 0.5),
        hist_pct(&hist, 0.99),
        max_lag.as_secs_f64() * 1000.0
    );
    println!(
        "RESULT label={} calls={} ok={ok} sent={sent} received={received} lost={lost} loss_pct={loss_pct:.4} late={late} dup={dup} \
steady_sent={ssent} steady_lost={slost} steady_loss_pct={sloss_pct:.4} steady_late={slate} \
answer_p50_ms={:.1} connect_p50_ms={:.1} connect_p99_ms={:.1} setup_p50_ms={:.1} setup_p99_ms={:.1} rtt_p50_ms={:.2} rtt_p99_ms={:.2} rtt_max_ms={:.1} \
server_cores={cpu_cores:.3} cpu_ms_per_call={cpu_ms_per_call:.3} rss_mib={rss_mib:.1} hwm_mib={hwm_mib:.1} rss_per_call_kib={rss_per_call_kib:.1} \
threads={threads} baseline_rss_mib={:.1} client_cores={client_cores:.2} other_cores={other_cores:.2} max_send_lag_ms={:.1} ramp_s={ramp_s:.1} steady_s={wall:.1}",
        opts.label,
        opts.calls,
        pct(&answer, 0.5),
        pct(&connect, 0.5),
        pct(&connect, 0.99),
        pct(&setup, 0.5),
        pct(&setup, 0.99),
        hist_pct(&hist, 0.5),
        hist_pct(&hist, 0.99),
        hist_pct(&hist, 1.0),
        baseline.map(|b| b.rss_kib as f64 / 1024.0).unwrap_or(f64::NAN),
        max_lag.as_secs_f64() * 1000.0,
    );
    Ok(())
}

/// xorshift64*: the payload only has to look like compressed audio, not be secure.
fn fill_random(state: &mut u64, out: &mut [u8]) {
    for b in out.iter_mut() {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        *b = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
    }
}

async fn call(
    server: SocketAddr,
    epoch: Instant,
    mut stop_rx: watch::Receiver<bool>,
    shared: &Shared,
    st: &mut CallStats,
) -> Result<(), String> {
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let t_offer = Instant::now();
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_pcmu(true, false)
        .build(t_offer);
    rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| e.to_string())?);
    while let Ok(out) = rtc.poll_output() {
        if matches!(out, Output::Timeout(_)) {
            break;
        }
    }
    let mut change = rtc.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = change.apply().ok_or("no offer")?;
    let answer = crate::signal::post_offer(server, &offer.to_sdp_string())
        .await
        .map_err(|e| format!("signalling: {e}"))?;
    st.answer = Some(t_offer.elapsed());
    let answer = SdpAnswer::from_sdp_string(&answer).map_err(|e| format!("bad answer: {e}"))?;
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| format!("answer refused: {e}"))?;

    let pt = Pt::from(111);
    let mut buf = vec![0u8; 2000];
    let mut payload = [0u8; PAYLOAD];
    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (local.port() as u64) << 17;
    let mut seq: u32 = 0;
    let mut send_start: Option<Instant> = None;
    let mut first_send_at: Option<Instant> = None;
    let mut seen: Vec<bool> = Vec::new();
    let mut rtt: Vec<u64> = Vec::new();
    let mut drain_until: Option<Instant> = None;
    let far = Duration::from_secs(3600);
    let result = loop {
        let deadline = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break Ok(t),
                Ok(Output::Transmit(t)) => {
                    let _ = socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(Event::Connected)) => {
                    st.connected = Some(t_offer.elapsed());
                    // Spread the calls' send instants over the 20 ms: calls started one per
                    // 20 ms would otherwise all send at once, in bursts no real set of calls has.
                    let phase =
                        PTIME.mul_f64(((local.port() as u64 * 0x9E37_79B9) % 1000) as f64 / 1000.0);
                    send_start = Some(Instant::now() + phase);
                }
                Ok(Output::Event(Event::MediaData(d))) => {
                    let now = Instant::now();
                    if d.data.len() < 12 {
                        continue;
                    }
                    let s =
                        u32::from_be_bytes([d.data[0], d.data[1], d.data[2], d.data[3]]) as usize;
                    let mut us = [0u8; 8];
                    us.copy_from_slice(&d.data[4..12]);
                    let sent_us = u64::from_be_bytes(us);
                    let sent_at = epoch + Duration::from_micros(sent_us);
                    let r = now.saturating_duration_since(sent_at);
                    if s >= seen.len() {
                        seen.resize(s + 1, false);
                    }
                    if seen[s] {
                        st.duplicate += 1;
                        continue;
                    }
                    seen[s] = true;
                    st.received += 1;
                    if r > LATE {
                        st.late += 1;
                    }
                    if sent_us >= shared.steady_from_us.load(Ordering::Relaxed) {
                        st.steady_received += 1;
                        if r > LATE {
                            st.steady_late += 1;
                        }
                        let b = ((r.as_micros() as u64) / BUCKET_US).min(BUCKETS as u64) as usize;
                        if b >= rtt.len() {
                            rtt.resize(b + 1, 0);
                        }
                        rtt[b] += 1;
                    }
                    if st.first_echo.is_none() {
                        // Setup = offer -> connected, plus the first frame's round trip (the
                        // phase wait before the first frame is not the server's doing).
                        let first_rtt = first_send_at
                            .map_or(Duration::ZERO, |f| now.saturating_duration_since(f));
                        st.first_echo = Some(st.connected.unwrap_or_default() + first_rtt);
                        shared.ready.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(Output::Event(_)) => {}
                Err(e) => break Err(format!("str0m: {e}")),
            }
        };
        let deadline = match deadline {
            Ok(d) => d,
            Err(e) => break Err(e),
        };
        let now = Instant::now();
        if st.first_echo.is_none() && now.duration_since(t_offer) > SETUP_TIMEOUT {
            break Err(format!(
                "no echo within {} s (connected: {})",
                SETUP_TIMEOUT.as_secs(),
                st.connected.is_some()
            ));
        }
        if drain_until.is_none() && *stop_rx.borrow_and_update() {
            drain_until = Some(now + DRAIN);
        }
        if let Some(d) = drain_until {
            if now >= d {
                break Ok(());
            }
        }
        let next_send = match (send_start, drain_until) {
            (Some(s), None) => s + PTIME * seq,
            _ => now + far,
        };
        let setup_limit = match st.first_echo {
            None => t_offer + SETUP_TIMEOUT + Duration::from_millis(10),
            Some(_) => now + far,
        };
        let wake = deadline
            .min(next_send)
            .min(drain_until.unwrap_or(now + far))
            .min(setup_limit);
        if wake > now {
            tokio::select! {
                r = socket.recv_from(&mut buf) => {
                    let (n, source) = r.map_err(|e| format!("recv: {e}"))?;
                    if let Ok(contents) = buf[..n].try_into() {
                        if let Err(e) = rtc.handle_input(Input::Receive(Instant::now(), Receive {
                            proto: Protocol::Udp, source, destination: local, contents,
                        })) {
                            break Err(format!("str0m input: {e}"));
                        }
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
                _ = stop_rx.changed(), if drain_until.is_none() => { continue; }
            }
        }
        let now = Instant::now();
        if now >= next_send {
            st.max_send_lag = st.max_send_lag.max(now - next_send);
            payload[..4].copy_from_slice(&seq.to_be_bytes());
            let us = now.duration_since(epoch).as_micros() as u64;
            if us >= shared.steady_from_us.load(Ordering::Relaxed) {
                st.steady_sent += 1;
            }
            payload[4..12].copy_from_slice(&us.to_be_bytes());
            fill_random(&mut rng, &mut payload[12..]);
            let Some(w) = rtc.writer(mid) else {
                break Err("no writer for the audio m-line".to_owned());
            };
            let t = MediaTime::new(seq as u64 * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ);
            if let Err(e) = w.write(pt, now, t, &payload[..]) {
                break Err(format!("write: {e}"));
            }
            if seq == 0 {
                first_send_at = Some(now);
            }
            seq += 1;
            st.sent += 1;
        } else if now >= deadline {
            if let Err(e) = rtc.handle_input(Input::Timeout(now)) {
                break Err(format!("str0m timeout: {e}"));
            }
        } else {
            // Woken for a limit checked at the top of the loop; never spin without yielding
            // (all calls share this one thread).
            tokio::task::yield_now().await;
        }
    };
    st.rtt = rtt
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .flat_map(|(i, c)| [i as u32, *c as u32])
        .collect();
    result
}
