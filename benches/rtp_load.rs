//! RTP load generator for the "2,000 concurrent relayed G.711 calls" benchmark.
//!
//! ```text
//! cargo bench --bench rtp_load -- --pairs FILE [--seconds 30] [--pps 50]
//! cargo bench --bench rtp_load -- --self-test 2000 [--seconds 10]
//! ```
//!
//! `--pairs FILE` lists one call per line, `a_ip:port b_ip:port`: the relay's
//! A-side and B-side RTP ports of a call set up on the server. Each call
//! gets two endpoint sockets that send 160-byte PCMU RTP to their target and
//! count what the relay forwards from the other side. The server learns the
//! endpoints by symmetric latching, so the first packets may be dropped
//! before both sides latch; loss is therefore counted from the first packet
//! each endpoint receives ("warmup" reports what was skipped).
//!
//! `--self-test N` builds N relays in-process with media's own
//! `PortAllocator`/`Relay` on 127.0.0.1 (on a separate "media" runtime, as
//! the server does) and drives them, to measure the relay alone.
//!
//! Pacing uses one shared interval timer: every tick sends the next slice of
//! calls, so 2,000 calls need neither 4,000 timers nor one 4,000-packet burst
//! every 20 ms. The send time is stamped into the payload, giving one-way
//! latency through the relay. The last line of output is `key=value` pairs.

use std::future::{poll_fn, Future};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use media::{PortAllocator, Relay, RelayStats, Side};
use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;

const USAGE: &str = "usage: rtp_load (--pairs FILE | --self-test N) [--seconds S] [--pps P] \
[--threads T] [--relay-threads T] [--tick-ms MS] [--bind IP] [--base-port PORT]";
const PAYLOAD: usize = 160;
const HEADER: usize = 12;
/// Log-scale latency histogram: 4 buckets per power of two of microseconds.
const BUCKETS: usize = 256;
/// Linux reports process CPU in USER_HZ ticks, which is 100 on every
/// mainstream architecture (reading sysconf would need libc).
const CLK_TCK: f64 = 100.0;

struct Args {
    pairs: Option<String>,
    self_test: Option<usize>,
    seconds: u64,
    pps: u64,
    threads: usize,
    relay_threads: usize,
    tick_ms: u64,
    bind: IpAddr,
    base_port: u16,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        pairs: None,
        self_test: None,
        seconds: 30,
        pps: 50,
        threads: 1,
        relay_threads: 1,
        tick_ms: 5,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: 20000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--bench" {
            continue; // added by `cargo bench` itself
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("bad value for {flag}: {value}: {e}");
        match flag.as_str() {
            "--pairs" => a.pairs = Some(value.clone()),
            "--self-test" => a.self_test = Some(value.parse().map_err(|e| bad(&e))?),
            "--seconds" => a.seconds = value.parse().map_err(|e| bad(&e))?,
            "--pps" => a.pps = value.parse().map_err(|e| bad(&e))?,
            "--threads" => a.threads = value.parse().map_err(|e| bad(&e))?,
            "--relay-threads" => a.relay_threads = value.parse().map_err(|e| bad(&e))?,
            "--tick-ms" => a.tick_ms = value.parse().map_err(|e| bad(&e))?,
            "--bind" => a.bind = value.parse().map_err(|e| bad(&e))?,
            "--base-port" => a.base_port = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if a.pairs.is_some() == a.self_test.is_some() {
        return Err("give exactly one of --pairs and --self-test".into());
    }
    if a.pps == 0 || a.tick_ms == 0 || a.seconds == 0 {
        return Err("--pps, --tick-ms and --seconds must be positive".into());
    }
    Ok(a)
}

fn read_pairs(path: &str) -> Result<Vec<[SocketAddr; 2]>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("{path}:{}: expected `a_ip:port b_ip:port`", i + 1);
        let mut t = line.split_whitespace();
        let a = t.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let b = t.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        out.push([a, b]);
    }
    Ok(out)
}

/// One generated call: endpoint A's socket is connected to the relay's A
/// side, B's to the B side. Connected sockets skip a route lookup per send
/// and only accept packets from the relay port they talk to.
struct Call {
    socks: Arc<[UdpSocket; 2]>,
}

/// Sender-side state of one RTP stream.
#[derive(Clone, Copy, Default)]
struct TxStream {
    ssrc: u32,
    first_seq: u16,
    seq: u16,
    ts: u32,
    sent: u64,
    errors: u64,
}

/// Receiver-side statistics of one RTP stream.
struct RxStream {
    received: u64,
    first_seq: Option<u16>,
    last_seq: u16,
    reordered: u64,
    hist: [u32; BUCKETS],
    max_us: u64,
}

impl Default for RxStream {
    fn default() -> Self {
        RxStream {
            received: 0,
            first_seq: None,
            last_seq: 0,
            reordered: 0,
            hist: [0; BUCKETS],
            max_us: 0,
        }
    }
}

fn bucket(us: u64) -> usize {
    let v = us + 1;
    let msb = 63 - v.leading_zeros() as usize;
    let sub = if msb >= 2 {
        (v >> (msb - 2)) as usize & 3
    } else {
        0
    };
    (msb * 4 + sub).min(BUCKETS - 1)
}

/// Lower bound of a histogram bucket in microseconds.
fn bucket_floor(b: usize) -> u64 {
    let (msb, sub) = (b / 4, (b % 4) as u64);
    if msb < 2 {
        return (1u64 << msb).saturating_sub(1);
    }
    ((4 + sub) << (msb - 2)).saturating_sub(1)
}

/// Sends one tick's slice of calls. Time is stamped into the first 8 bytes
/// of the payload (the rest is PCMU silence) for latency measurement.
async fn send_slice(
    calls: &[Call],
    tx: &mut [[TxStream; 2]],
    slice: usize,
    slices: usize,
    epoch: Instant,
    pkt: &mut [u8],
) {
    for i in (slice..calls.len()).step_by(slices) {
        for (s, sock) in tx[i].iter_mut().zip(calls[i].socks.iter()) {
            pkt[0] = 0x80;
            pkt[1] = 0; // PT 0 = PCMU
            pkt[2..4].copy_from_slice(&s.seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&s.ts.to_be_bytes());
            pkt[8..12].copy_from_slice(&s.ssrc.to_be_bytes());
            let now = epoch.elapsed().as_micros() as u64;
            pkt[12..20].copy_from_slice(&now.to_be_bytes());
            match sock.send(pkt).await {
                Ok(_) => {
                    s.sent += 1;
                    s.seq = s.seq.wrapping_add(1);
                    s.ts = s.ts.wrapping_add(PAYLOAD as u32);
                }
                Err(_) => s.errors += 1,
            }
        }
    }
}

async fn sender(
    calls: Arc<Vec<Call>>,
    period: Duration,
    tick: Duration,
    end: Instant,
    epoch: Instant,
) -> Vec<[TxStream; 2]> {
    let mut tx: Vec<[TxStream; 2]> = (0..calls.len())
        .map(|_| {
            [(); 2].map(|_| {
                let seq = fastrand::u16(..);
                TxStream {
                    ssrc: fastrand::u32(..),
                    first_seq: seq,
                    seq,
                    ts: fastrand::u32(..),
                    ..Default::default()
                }
            })
        })
        .collect();
    let slices = (period.as_micros() / tick.as_micros()).max(1) as usize;
    let mut interval = tokio::time::interval(period / slices as u32);
    // Falling behind shows up as a lower achieved rate, not as a burst.
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut pkt = [0xffu8; HEADER + PAYLOAD];
    let mut n = 0usize;
    loop {
        interval.tick().await;
        if Instant::now() >= end {
            break;
        }
        send_slice(&calls, &mut tx, n % slices, slices, epoch, &mut pkt).await;
        n += 1;
    }
    tx
}

/// Receives on both endpoint sockets of a call until `stop` fires.
/// rx[i] is the stream arriving at endpoint i (sent by the other endpoint).
async fn receiver(
    calls: Arc<Vec<Call>>,
    i: usize,
    stop: Arc<Notify>,
    epoch: Instant,
) -> [RxStream; 2] {
    let mut rx = [RxStream::default(), RxStream::default()];
    let mut stopped = pin!(stop.notified());
    let mut buf = [0u8; 2048];
    let socks = &calls[i].socks;
    poll_fn(|cx| {
        if stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        for (sock, stream) in socks.iter().zip(rx.iter_mut()) {
            // Bounded, so a socket error that does not clear readiness (or a
            // flood) cannot keep this task from yielding; it is rescheduled.
            let mut budget = 64;
            while let Poll::Ready(Ok(())) = sock.poll_recv_ready(cx) {
                budget -= 1;
                if budget == 0 {
                    cx.waker().wake_by_ref();
                    break;
                }
                match sock.try_recv(&mut buf) {
                    Ok(n) if n >= HEADER + 8 => {
                        let seq = u16::from_be_bytes([buf[2], buf[3]]);
                        let mut stamp = [0u8; 8];
                        stamp.copy_from_slice(&buf[12..20]);
                        let lat = (epoch.elapsed().as_micros() as u64)
                            .saturating_sub(u64::from_be_bytes(stamp));
                        record(stream, seq, lat);
                    }
                    Ok(_) => {}
                    // WouldBlock cleared readiness (the next poll registers
                    // the waker); other errors, e.g. ICMP port unreachable
                    // reported on a connected socket, are one-shot.
                    Err(_) => {}
                }
            }
        }
        Poll::Pending
    })
    .await;
    rx
}

fn record(s: &mut RxStream, seq: u16, lat_us: u64) {
    match s.first_seq {
        None => s.first_seq = Some(seq),
        Some(_) if (seq.wrapping_sub(s.last_seq) as i16) <= 0 => s.reordered += 1,
        Some(_) => {}
    }
    s.last_seq = seq;
    s.received += 1;
    s.hist[bucket(lat_us)] += 1;
    s.max_us = s.max_us.max(lat_us);
}

/// CPU seconds (user + system) of the whole process and of the threads
/// whose name starts with "media" (the relay runtime in self-test mode).
fn cpu_seconds() -> (f64, f64) {
    fn ticks(stat: &str) -> Option<(String, u64)> {
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let comm = stat.get(open + 1..close)?.to_string();
        let f: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
        // Fields 14 and 15 (utime, stime) are at 11 and 12 after the comm.
        Some((
            comm,
            f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
        ))
    }
    let total = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| ticks(&s))
        .map_or(0, |t| t.1);
    let mut media = 0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            if let Some((comm, t)) = std::fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|s| ticks(&s))
            {
                if comm.starts_with("media") {
                    media += t;
                }
            }
        }
    }
    (total as f64 / CLK_TCK, media as f64 / CLK_TCK)
}

fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args) {
        eprintln!("rtp_load: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let targets = match &args.pairs {
        Some(path) => read_pairs(path)?,
        None => Vec::new(),
    };
    let n = args.self_test.unwrap_or(targets.len());
    let fds_needed = n as u64 * if args.self_test.is_some() { 6 } else { 2 } + 64;
    if let Some(limit) = open_file_limit().filter(|&l| l < fds_needed) {
        return Err(format!(
            "need about {fds_needed} file descriptors, limit is {limit}: raise `ulimit -n`"
        ));
    }
    let gen_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .thread_name("rtp-load")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let media_rt = match args.self_test {
        Some(_) => Some(media::media_runtime(args.relay_threads).map_err(|e| e.to_string())?),
        None => None,
    };
    let stats = Arc::new(RelayStats::new());
    let _guard = gen_rt.enter();

    // Set up the endpoints (and, in self-test mode, the relays).
    let mut relays = Vec::new();
    let mut calls = Vec::with_capacity(n);
    let alloc = match &media_rt {
        Some(rt) => {
            let high = args
                .base_port
                .saturating_add((n as u16).saturating_mul(4).saturating_add(400));
            Some(
                PortAllocator::with_runtime(args.bind, args.base_port, high, rt.handle().clone())
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    for i in 0..n {
        let bind = || -> Result<std::net::UdpSocket, String> {
            let s = std::net::UdpSocket::bind((args.bind, 0)).map_err(|e| e.to_string())?;
            s.set_nonblocking(true).map_err(|e| e.to_string())?;
            Ok(s)
        };
        let socks = [bind()?, bind()?];
        let targets = match (&alloc, &media_rt) {
            (Some(alloc), Some(rt)) => {
                let a = alloc.allocate().map_err(|e| e.to_string())?;
                let b = alloc.allocate().map_err(|e| e.to_string())?;
                let relay = Relay::start(rt.handle(), a, b, Arc::clone(&stats));
                for (side, sock) in [(Side::A, &socks[0]), (Side::B, &socks[1])] {
                    relay.set_remote(side, sock.local_addr().map_err(|e| e.to_string())?);
                }
                let t = [Side::A, Side::B].map(|s| SocketAddr::new(args.bind, relay.local_port(s)));
                relays.push(relay);
                t
            }
            _ => targets[i],
        };
        let [a, b] = socks;
        let connect = |s: std::net::UdpSocket, to: SocketAddr| -> Result<UdpSocket, String> {
            s.connect(to).map_err(|e| format!("connect {to}: {e}"))?;
            UdpSocket::from_std(s).map_err(|e| e.to_string())
        };
        calls.push(Call {
            socks: Arc::new([connect(a, targets[0])?, connect(b, targets[1])?]),
        });
    }
    let calls = Arc::new(calls);
    eprintln!(
        "rtp_load: {n} calls ready, sending {} s at {} pps per stream",
        args.seconds, args.pps
    );

    let epoch = Instant::now();
    let stop = Arc::new(Notify::new());
    let receivers: Vec<_> = (0..n)
        .map(|i| gen_rt.spawn(receiver(Arc::clone(&calls), i, Arc::clone(&stop), epoch)))
        .collect();
    let (cpu0, media0) = cpu_seconds();
    let start = Instant::now();
    let end = start + Duration::from_secs(args.seconds);
    let period = Duration::from_micros(1_000_000 / args.pps);
    let tick = Duration::from_millis(args.tick_ms);
    let tx = gen_rt
        .block_on(gen_rt.spawn(sender(Arc::clone(&calls), period, tick, end, epoch)))
        .map_err(|e| e.to_string())?;
    let elapsed = start.elapsed().as_secs_f64();
    // Let packets in flight arrive before counting.
    std::thread::sleep(Duration::from_millis(500));
    let (cpu1, media1) = cpu_seconds();
    stop.notify_waiters();
    let rx: Vec<[RxStream; 2]> = gen_rt
        .block_on(async {
            let mut out = Vec::with_capacity(n);
            for r in receivers {
                out.push(r.await?);
            }
            Ok::<_, tokio::task::JoinError>(out)
        })
        .map_err(|e| e.to_string())?;

    // Stream sent by endpoint `side` of call i arrives at the other endpoint.
    let (mut sent, mut received, mut lost, mut warmup, mut dead, mut errors, mut reordered) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut hist = [0u64; BUCKETS];
    let mut max_us = 0;
    for (t, r) in tx.iter().zip(&rx) {
        for side in 0..2 {
            let (s, got) = (&t[side], &r[1 - side]);
            sent += s.sent;
            errors += s.errors;
            received += got.received;
            reordered += got.reordered;
            max_us = max_us.max(got.max_us);
            for (h, g) in hist.iter_mut().zip(got.hist.iter()) {
                *h += u64::from(*g);
            }
            match got.first_seq {
                Some(first) => {
                    let skipped = u64::from(first.wrapping_sub(s.first_seq)).min(s.sent);
                    warmup += skipped;
                    lost += (s.sent - skipped).saturating_sub(got.received);
                }
                None => {
                    dead += 1;
                    lost += s.sent;
                }
            }
        }
    }
    let percentile = |p: f64| {
        let want = (received as f64 * p).ceil() as u64;
        let mut acc = 0;
        for (b, &c) in hist.iter().enumerate() {
            acc += c;
            if acc >= want.max(1) {
                return bucket_floor(b);
            }
        }
        0
    };
    let counted = received + lost;
    let loss_pct = if counted == 0 {
        100.0
    } else {
        lost as f64 * 100.0 / counted as f64
    };
    let (total_cpu, relay_cpu) = (cpu1 - cpu0, media1 - media0);
    let mut line = format!(
        "calls={n} seconds={elapsed:.2} pps={} sent={sent} received={received} lost={lost} loss_pct={loss_pct:.3} \
         warmup={warmup} dead_streams={dead} send_errors={errors} reordered={reordered} achieved_pps={:.0} \
         latency_p50_us={} latency_p99_us={} latency_max_us={max_us} gen_cpu_s={:.2}",
        args.pps,
        sent as f64 / elapsed,
        percentile(0.5),
        percentile(0.99),
        total_cpu - relay_cpu,
    );
    if args.self_test.is_some() {
        let relayed = stats.rtp_relayed.load(Relaxed);
        line += &format!(
            " relay_cpu_s={relay_cpu:.2} relay_rtp_relayed={relayed} relay_dropped={} relay_us_per_pkt={:.2}",
            stats.dropped.load(Relaxed),
            relay_cpu * 1e6 / relayed.max(1) as f64
        );
    }
    eprintln!(
        "rtp_load: {n} calls for {elapsed:.1} s: sent {sent}, received {received}, lost {lost} ({loss_pct:.3} %), \
         generator CPU {:.2} s{}",
        total_cpu - relay_cpu,
        if args.self_test.is_some() { format!(", relay CPU {relay_cpu:.2} s") } else { String::new() }
    );
    println!("{line}");
    drop(relays);
    Ok(())
}
