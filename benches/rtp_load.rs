//! RTP load generator for the "2,000 concurrent relayed G.711 calls" benchmark.
//!
//! ```text
//! cargo bench --bench rtp_load -- --pairs FILE [--seconds 30] [--pps 50]
//! cargo bench --bench rtp_load -- --self-test 2000 [--seconds 10] [--relay-threads 2]
//! ```
//!
//! `--pairs FILE` lists one call per line, `a_ip:port b_ip:port`: the relay's
//! A-side and B-side RTP ports of a call set up on the server. Every call
//! side gets one RTP stream (160-byte PCMU every 20 ms at `--pps 50`, with
//! its own SSRC, sequence numbers and timestamps) sent to that port, and
//! the generator counts what the relay forwards out of the other side.
//!
//! `--self-test N` builds N relays in-process with media's own
//! `PortAllocator`/`Relay` on 127.0.0.1 (on a separate "media" runtime of
//! `--relay-threads` threads, one per core by default like the server) and
//! drives them, to measure the relay alone.
//!
//! The generator must cost much less than the relay it measures, or both
//! compete for the same cores and the figure says little about the relay.
//! So it does not use a socket per call side: each of the `--threads`
//! generator threads (plain OS threads, 1 by default) owns one UDP socket
//! and a share of the calls, and sends every stream of its calls from that
//! socket. The relay latches each side to the real source of its first valid
//! RTP packet (symmetric RTP), so it sends both directions of the call back
//! to that same socket, and the receiver tells streams apart by SSRC (stream
//! i of the run has SSRC base + i). Packets go out with one `sendmmsg(2)`
//! per tick and come in with `recvmmsg(2)` in batches, so the per-packet
//! syscall and wakeup overhead is amortised. What remains is the kernel's
//! per-datagram UDP work, and on loopback the sender also pays for delivery
//! into the receiving socket.
//!
//! Pacing: time is cut in ticks of `--tick-ms` (5 ms by default, a quarter
//! of the 20 ms packet interval); each tick sends the next slice of the
//! streams (a quarter of them), so the load is smooth rather than a burst
//! every 20 ms. Tick times come from the monotonic clock. A tick that starts
//! a whole tick late counts in `late_ticks` and is still sent in full
//! (catching up); when `--seconds` are over, the ticks never reached are
//! reported as `behind_pkts` instead of stretching the run.
//!
//! Loss is counted per stream over the measurement window: packets sent
//! after the first `--warmup-ms` (1 s by default, while the relay latches),
//! `lost = sent - received`, after receiving until the relay has been quiet
//! for a moment. The send time and the stream's number travel in an RTP
//! header extension (RFC 3550 5.3.1), which a relay passes untouched and a
//! media session that transcodes (`--pt-a 0 --pt-b 8`: PCMU to the caller's
//! side, PCMA to the callee's) or rewrites SSRCs forwards too: the stamp both
//! classifies each packet (warm-up or window) and gives the one-way latency
//! through the server. Sequence numbers give `gaps` (jumps in a stream) and
//! `gap_pkts` (packets they skipped), and `reordered` packets.
//!
//! The last line of output is `key=value` pairs, parsed by benches/media.sh:
//! `sent`, `received`, `lost`, `loss_pct`, `achieved_pps` are for the window
//! (`window_s`), `warmup` is what was sent before it, `seconds` is the whole
//! sending time. `gen_cpu_s` is this process's CPU minus the relay threads',
//! `gen_us_per_pkt` that per packet sent (each is also received), and
//! `udp_rcvbuf_errors` the machine-wide count of datagrams dropped on a full
//! socket buffer during the run.

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::{PortAllocator, Relay, RelayStats, Side};

const USAGE: &str = "usage: rtp_load (--pairs FILE | --self-test N) [--seconds S] [--pps P] \
[--threads T] [--relay-threads T] [--tick-ms MS] [--warmup-ms MS] [--bind IP] [--base-port PORT] \
[--pt-a PT] [--pt-b PT]";
const PAYLOAD: usize = 160;
/// Fixed RTP header plus a header extension of 3 words (profile "SB").
const HEADER: usize = 12 + 4 + 12;
/// Size of every generated packet: RTP header plus 20 ms of G.711.
const PKT: usize = HEADER + PAYLOAD;
/// Where the send time (microseconds since the start, big endian) sits in
/// the header extension; the global stream number follows it.
const STAMP: std::ops::Range<usize> = 16..24;
const STREAM: std::ops::Range<usize> = 24..28;
/// Most messages per `sendmmsg` call: the kernel silently caps `vlen` at
/// UIO_MAXIOV (1024), so a larger slice takes several calls.
const SEND_BATCH: usize = 1024;
/// Messages per `recvmmsg` call.
const RECV_BATCH: usize = 64;
/// `recvmmsg` calls per drain before going back to check the clock, so a
/// flood cannot delay the next tick indefinitely.
const RECV_ROUNDS: usize = 64;
/// Receive buffer per message: generated packets are 172 bytes, anything
/// bigger (truncated) is not ours.
const RECV_BUF: usize = 512;
/// Socket buffer size asked for. The relay's replies keep arriving while a
/// tick's `sendmmsg` runs (about 1,000 packets at 2,000 calls), and each
/// small loopback datagram is charged about 1 KiB of buffer.
const SOCK_BUF: usize = 8 << 20;
/// How long a send may wait for socket buffer space (EAGAIN) before the
/// rest of its batch counts as send errors.
const SEND_STALL: Duration = Duration::from_millis(100);
/// After the last send, receiving goes on until nothing has arrived for
/// DRAIN_QUIET, so packets still queued in an overloaded relay count as
/// late rather than lost; but for DRAIN_MAX at most.
const DRAIN_QUIET: Duration = Duration::from_millis(300);
const DRAIN_MAX: Duration = Duration::from_secs(5);
/// Log-scale latency histogram: 4 buckets per power of two of microseconds.
const BUCKETS: usize = 256;
/// Linux reports process CPU in USER_HZ ticks, which is 100 on every
/// mainstream architecture.
const CLK_TCK: f64 = 100.0;

struct Args {
    pairs: Option<String>,
    self_test: Option<usize>,
    seconds: u64,
    pps: u64,
    threads: usize,
    relay_threads: usize,
    tick_ms: u64,
    warmup_ms: u64,
    bind: IpAddr,
    base_port: u16,
    /// Payload types sent to the caller's and the callee's side.
    pt: [u8; 2],
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        pairs: None,
        self_test: None,
        seconds: 30,
        pps: 50,
        threads: 1,
        // Like the server, whose media runtime defaults to one thread per core.
        relay_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        tick_ms: 5,
        warmup_ms: 1000,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: 20000,
        pt: [0, 0],
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
            "--warmup-ms" => a.warmup_ms = value.parse().map_err(|e| bad(&e))?,
            "--bind" => a.bind = value.parse().map_err(|e| bad(&e))?,
            "--base-port" => a.base_port = value.parse().map_err(|e| bad(&e))?,
            "--pt-a" => a.pt[0] = value.parse().map_err(|e| bad(&e))?,
            "--pt-b" => a.pt[1] = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if a.pairs.is_some() == a.self_test.is_some() {
        return Err("give exactly one of --pairs and --self-test".into());
    }
    if a.pps == 0 || a.pps > 1_000_000 || a.tick_ms == 0 || a.seconds == 0 || a.threads == 0 {
        return Err(
            "--pps (at most 1000000), --tick-ms, --seconds and --threads must be positive".into(),
        );
    }
    if a.warmup_ms >= a.seconds * 1000 {
        return Err("--warmup-ms must be shorter than --seconds".into());
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

// ---------------------------------------------------------------------------
// Thin wrappers around the libc calls. Each owns every pointer it hands to
// the kernel, so the unsafe blocks stay small and their invariants local.
// ---------------------------------------------------------------------------

/// A destination address in the C layout `sendmmsg` wants, built once per
/// stream at start-up so the send path only copies it.
#[derive(Clone, Copy)]
#[repr(C)]
union RawAddr {
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

/// A socket address plus the length of its C form.
#[derive(Clone, Copy)]
struct Dest {
    addr: RawAddr,
    len: libc::socklen_t,
}

impl Dest {
    fn new(a: SocketAddr) -> Dest {
        match a {
            SocketAddr::V4(a) => Dest {
                addr: RawAddr {
                    v4: libc::sockaddr_in {
                        sin_family: libc::AF_INET as libc::sa_family_t,
                        sin_port: a.port().to_be(),
                        // s_addr is in network byte order: the octets as they are.
                        sin_addr: libc::in_addr {
                            s_addr: u32::from_ne_bytes(a.ip().octets()),
                        },
                        sin_zero: [0; 8],
                    },
                },
                len: size_of::<libc::sockaddr_in>() as libc::socklen_t,
            },
            SocketAddr::V6(a) => Dest {
                addr: RawAddr {
                    v6: libc::sockaddr_in6 {
                        sin6_family: libc::AF_INET6 as libc::sa_family_t,
                        sin6_port: a.port().to_be(),
                        sin6_flowinfo: a.flowinfo().to_be(),
                        sin6_addr: libc::in6_addr {
                            s6_addr: a.ip().octets(),
                        },
                        sin6_scope_id: a.scope_id(),
                    },
                },
                len: size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            },
        }
    }
}

fn empty_mmsghdr() -> libc::mmsghdr {
    // SAFETY: mmsghdr is a plain C struct (pointers, integers, and on some
    // libcs private padding fields); all-zero is a valid value of it: null
    // pointers with zero lengths.
    unsafe { std::mem::zeroed() }
}

/// Outgoing packets of one `sendmmsg` batch, with their destinations.
struct TxBatch {
    bufs: Vec<u8>,
    /// Destination of each packet, kept apart from its length so that
    /// msg_name can point straight at the C address.
    addrs: Vec<RawAddr>,
    addr_lens: Vec<libc::socklen_t>,
    iov: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    len: usize,
}

impl TxBatch {
    fn new() -> TxBatch {
        TxBatch {
            // 0xff is silence in PCMU; only header and stamp change per packet.
            bufs: vec![0xff; SEND_BATCH * PKT],
            addrs: vec![Dest::new(SocketAddr::from(([0, 0, 0, 0], 0))).addr; SEND_BATCH],
            addr_lens: vec![0; SEND_BATCH],
            iov: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                };
                SEND_BATCH
            ],
            msgs: (0..SEND_BATCH).map(|_| empty_mmsghdr()).collect(),
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == SEND_BATCH
    }

    /// Appends a packet for `dest`; returns its bytes for the caller to fill.
    fn push(&mut self, dest: Dest) -> &mut [u8] {
        let k = self.len;
        self.len += 1;
        self.addrs[k] = dest.addr;
        self.addr_lens[k] = dest.len;
        &mut self.bufs[k * PKT..(k + 1) * PKT]
    }

    /// Sends packets `from..len` with one `sendmmsg`; returns how many went
    /// out (from `from` on, in order), which may be fewer than asked.
    fn send(&mut self, fd: RawFd, from: usize) -> io::Result<usize> {
        let n = self.len.saturating_sub(from);
        if n == 0 {
            return Ok(0);
        }
        // Pointers for the kernel are derived once per buffer (as_mut_ptr
        // does not create a reference), so filling one entry cannot
        // invalidate a pointer handed out for another.
        let bufs = self.bufs.as_mut_ptr();
        for k in from..self.len {
            self.iov[k] = libc::iovec {
                iov_base: bufs.wrapping_add(k * PKT).cast(),
                iov_len: PKT,
            };
        }
        let (iov, addrs) = (self.iov.as_mut_ptr(), self.addrs.as_mut_ptr());
        for k in from..self.len {
            let h = &mut self.msgs[k].msg_hdr;
            h.msg_name = addrs.wrapping_add(k).cast();
            h.msg_namelen = self.addr_lens[k];
            h.msg_iov = iov.wrapping_add(k);
            h.msg_iovlen = 1;
        }
        // SAFETY: headers from..from + n (= len <= msgs.len()) were just
        // filled with pointers to entry k of iov and addrs and to packet k
        // of bufs (PKT bytes inside it); those Vecs are owned by self, are
        // not resized or touched during the call, and the kernel only reads
        // them, writing msg_len of the headers it sent.
        let r = unsafe {
            libc::sendmmsg(
                fd,
                self.msgs.as_mut_ptr().wrapping_add(from),
                n as libc::c_uint,
                0,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
}

/// Receive buffers for one `recvmmsg` batch.
struct RxBatch {
    bufs: Vec<u8>,
    iov: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

impl RxBatch {
    fn new() -> RxBatch {
        RxBatch {
            bufs: vec![0; RECV_BATCH * RECV_BUF],
            iov: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                };
                RECV_BATCH
            ],
            msgs: (0..RECV_BATCH).map(|_| empty_mmsghdr()).collect(),
        }
    }

    /// Reads up to RECV_BATCH datagrams without blocking; Ok(0) or
    /// WouldBlock when none is queued.
    fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        // As in TxBatch::send: one base pointer per buffer.
        let bufs = self.bufs.as_mut_ptr();
        for k in 0..RECV_BATCH {
            self.iov[k] = libc::iovec {
                iov_base: bufs.wrapping_add(k * RECV_BUF).cast(),
                iov_len: RECV_BUF,
            };
        }
        let iov = self.iov.as_mut_ptr();
        for k in 0..RECV_BATCH {
            let h = &mut self.msgs[k].msg_hdr;
            // The source is not needed: streams are told apart by SSRC.
            h.msg_name = std::ptr::null_mut();
            h.msg_namelen = 0;
            h.msg_iov = iov.wrapping_add(k);
            h.msg_iovlen = 1;
        }
        // SAFETY: the RECV_BATCH (= msgs.len()) headers were just filled
        // with pointers to entry k of iov, each describing RECV_BUF bytes of
        // packet k inside bufs; those Vecs are owned by self and not resized
        // or touched during the call. The kernel writes only into those
        // bytes and the headers' msg_len/msg_flags. A null timeout is allowed.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                RECV_BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }

    /// Datagram `k` of the last `recv`, or None if it was truncated.
    fn packet(&self, k: usize) -> Option<&[u8]> {
        let m = &self.msgs[k];
        if m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return None;
        }
        let len = (m.msg_len as usize).min(RECV_BUF);
        Some(&self.bufs[k * RECV_BUF..k * RECV_BUF + len])
    }
}

/// Waits until `fd` has one of `events` or `timeout` passes (ppoll(2) for
/// sub-millisecond precision); EINTR counts as a timeout.
fn wait_fd(fd: RawFd, events: libc::c_short, timeout: Duration) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(1 << 30) as libc::time_t,
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // SAFETY: one pollfd and one timespec, both locals that outlive the
    // call; a null sigmask means "leave the signal mask alone".
    let r = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// Asks for a bigger socket buffer. SO_*BUFFORCE (root only) lifts the
/// net.core.[rw]mem_max cap; otherwise the capped size is better than none.
fn set_sock_buf(fd: RawFd, force: libc::c_int, plain: libc::c_int, bytes: usize) {
    let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for opt in [force, plain] {
        // SAFETY: passes a pointer to a local c_int with its exact size.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                std::ptr::addr_of!(v).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            return;
        }
    }
    eprintln!(
        "rtp_load: could not set socket buffer to {bytes} bytes: {}",
        io::Error::last_os_error()
    );
}

// ---------------------------------------------------------------------------
// Streams and generator threads.
// ---------------------------------------------------------------------------

/// One RTP stream (one call side): what is sent to the relay, and what of
/// it comes back out of the call's other side.
struct Stream {
    dest: Dest,
    ssrc: u32,
    /// Index of the stream in the whole run (2 * call + side).
    global: u32,
    seq: u16,
    ts: u32,
    /// Packets sent in the warm-up / in the measurement window.
    sent_warmup: u64,
    sent: u64,
    send_errors: u64,
    received_warmup: u64,
    received: u64,
    /// Highest sequence number received so far.
    highest: Option<u16>,
    /// Jumps in the sequence (gaps) and the packets they skipped.
    gaps: u64,
    gap_pkts: u64,
    /// Packets at or below the highest sequence number already seen.
    reordered: u64,
}

impl Stream {
    fn new(dest: SocketAddr, ssrc: u32, global: u32) -> Stream {
        Stream {
            dest: Dest::new(dest),
            ssrc,
            global,
            seq: fastrand::u16(..),
            ts: fastrand::u32(..),
            sent_warmup: 0,
            sent: 0,
            send_errors: 0,
            received_warmup: 0,
            received: 0,
            highest: None,
            gaps: 0,
            gap_pkts: 0,
            reordered: 0,
        }
    }

    /// Books a received packet; `counted` if it was sent in the window.
    fn on_receive(&mut self, seq: u16, counted: bool) {
        if counted {
            self.received += 1;
        } else {
            self.received_warmup += 1;
        }
        let Some(highest) = self.highest else {
            self.highest = Some(seq);
            return;
        };
        // Wrapping distance, so the 16-bit sequence may roll over.
        let delta = seq.wrapping_sub(highest) as i16;
        if delta > 0 {
            if delta > 1 && counted {
                self.gaps += 1;
                self.gap_pkts += (delta - 1) as u64;
            }
            self.highest = Some(seq);
        } else if counted {
            self.reordered += 1;
        }
    }
}

/// What one generator thread needs: its socket, its streams and the shared
/// schedule. Stream j of a thread belongs to its call j / 2, side j % 2.
struct Plan {
    id: usize,
    threads: usize,
    sock: UdpSocket,
    streams: Vec<Stream>,
    /// Payload type per side.
    pt: [u8; 2],
    total_streams: usize,
    /// Time zero of the run and of every stamp; the first tick is due then.
    start: Instant,
    /// No tick is sent after this (only if the schedule slipped that far).
    end: Instant,
    tick: Duration,
    slices: usize,
    ticks: u64,
    warmup_us: u64,
}

/// Totals of one generator thread.
#[derive(Default)]
struct Totals {
    sent_warmup: u64,
    sent: u64,
    send_errors: u64,
    received_warmup: u64,
    received: u64,
    lost: u64,
    dead: u64,
    gaps: u64,
    gap_pkts: u64,
    reordered: u64,
    /// Datagrams that are not a stream of this thread (or are truncated).
    stray: u64,
    recv_errors: u64,
    poll_errors: u64,
    /// Times a send found the socket buffer full and had to wait.
    send_stalls: u64,
    late_ticks: u64,
    max_lag_us: u64,
    /// Packets of the ticks still unsent when the run's time was over.
    behind_pkts: u64,
    tx_calls: u64,
    rx_calls: u64,
    /// Datagrams received, ours or not.
    rx_packets: u64,
    hist: Vec<u64>,
    max_us: u64,
    /// When the last tick was sent, in microseconds since the start.
    send_end_us: u64,
}

impl Totals {
    fn add(&mut self, o: &Totals) {
        self.sent_warmup += o.sent_warmup;
        self.sent += o.sent;
        self.send_errors += o.send_errors;
        self.received_warmup += o.received_warmup;
        self.received += o.received;
        self.lost += o.lost;
        self.dead += o.dead;
        self.gaps += o.gaps;
        self.gap_pkts += o.gap_pkts;
        self.reordered += o.reordered;
        self.stray += o.stray;
        self.recv_errors += o.recv_errors;
        self.poll_errors += o.poll_errors;
        self.send_stalls += o.send_stalls;
        self.late_ticks += o.late_ticks;
        self.max_lag_us = self.max_lag_us.max(o.max_lag_us);
        self.behind_pkts += o.behind_pkts;
        self.tx_calls += o.tx_calls;
        self.rx_calls += o.rx_calls;
        self.rx_packets += o.rx_packets;
        if self.hist.is_empty() {
            self.hist = vec![0; BUCKETS];
        }
        for (h, g) in self.hist.iter_mut().zip(&o.hist) {
            *h += g;
        }
        self.max_us = self.max_us.max(o.max_us);
        self.send_end_us = self.send_end_us.max(o.send_end_us);
    }
}

/// One generator thread: sends its streams on schedule and receives what
/// the relay sends back, on one socket.
struct Worker {
    plan: Plan,
    fd: RawFd,
    tx: TxBatch,
    rx: RxBatch,
    t: Totals,
}

impl Worker {
    fn run(plan: Plan) -> Totals {
        let fd = plan.sock.as_raw_fd();
        let mut w = Worker {
            plan,
            fd,
            tx: TxBatch::new(),
            rx: RxBatch::new(),
            t: Totals {
                hist: vec![0; BUCKETS],
                ..Totals::default()
            },
        };
        w.main_loop();
        w.finish()
    }

    /// Microseconds since the start: the clock of stamps and warm-up.
    fn now_us(&self) -> u64 {
        let since = Instant::now().saturating_duration_since(self.plan.start);
        u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
    }

    /// The tick schedule, then receiving until the relay has gone quiet.
    fn main_loop(&mut self) {
        let p = &self.plan;
        // Threads tick at staggered offsets so their sends do not coincide.
        let offset = p.tick * p.id as u32 / p.threads as u32;
        let (start, end, tick, ticks) = (p.start, p.end, p.tick, p.ticks);
        let tick_ns = tick.as_nanos() as u64;
        for k in 0..ticks {
            let due = start + offset + Duration::from_nanos(tick_ns * k);
            self.receive_until(due);
            let now = Instant::now();
            if now >= end {
                // So far behind that the run is over: what was never sent
                // is reported, rather than the run stretching on.
                self.t.behind_pkts = (k..ticks).map(|k| self.slice_len(k)).sum();
                break;
            }
            let lag = now.saturating_duration_since(due);
            // Behind by a whole tick: the schedule slipped. The slice is
            // still sent in full, catching up.
            if lag >= tick {
                self.t.late_ticks += 1;
            }
            self.t.max_lag_us = self.t.max_lag_us.max(lag.as_micros() as u64);
            self.send_slice((k % self.plan.slices as u64) as usize);
        }
        self.t.send_end_us = self.now_us();
        let give_up = Instant::now() + DRAIN_MAX;
        loop {
            let before = self.t.rx_packets;
            let now = Instant::now();
            if now >= give_up {
                break;
            }
            self.receive_until((now + DRAIN_QUIET).min(give_up));
            if self.t.rx_packets == before {
                break;
            }
        }
    }

    /// Packets tick `k` sends: the streams j with j % slices == k % slices.
    fn slice_len(&self, k: u64) -> u64 {
        let (n, slices) = (self.plan.streams.len() as u64, self.plan.slices as u64);
        let slice = k % slices;
        (n.saturating_sub(slice)).div_ceil(slices)
    }

    /// Sends the packet due this tick of every stream in `slice`.
    fn send_slice(&mut self, slice: usize) {
        let slices = self.plan.slices;
        let mut first = slice;
        let mut j = slice;
        while j < self.plan.streams.len() {
            let s = &self.plan.streams[j];
            let pkt = self.tx.push(s.dest);
            pkt[0] = 0x90; // version 2, header extension, no padding or CSRC
            pkt[1] = self.plan.pt[j % 2]; // no marker
            pkt[2..4].copy_from_slice(&s.seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&s.ts.to_be_bytes());
            pkt[8..12].copy_from_slice(&s.ssrc.to_be_bytes());
            pkt[12..16].copy_from_slice(&[b'S', b'B', 0, 3]);
            pkt[STREAM].copy_from_slice(&s.global.to_be_bytes());
            j += slices;
            if self.tx.is_full() || j >= self.plan.streams.len() {
                self.flush(first);
                first = j;
            }
        }
    }

    /// Stamps and sends the batch, whose packets belong to streams
    /// `first`, `first + slices`, ... in order; then books each outcome.
    fn flush(&mut self, first: usize) {
        let n = self.tx.len;
        let now = self.now_us();
        let counted = now >= self.plan.warmup_us;
        for k in 0..n {
            self.tx.bufs[k * PKT + STAMP.start..k * PKT + STAMP.end]
                .copy_from_slice(&now.to_be_bytes());
        }
        // Messages 0..booked have been booked as sent or failed.
        let mut booked = 0;
        let mut stalled_since = None;
        while booked < n {
            self.t.tx_calls += 1;
            // Nothing sent without an error cannot happen (booked < n), but
            // would be a full buffer if it did.
            let r = self.tx.send(self.fd, booked).and_then(|sent| match sent {
                0 => Err(io::ErrorKind::WouldBlock.into()),
                _ => Ok(sent),
            });
            match r {
                // Partial sends are normal: go on with the rest.
                Ok(sent) => {
                    stalled_since = None;
                    self.book(first, booked..booked + sent, true, counted);
                    booked += sent;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Socket buffer full: wait for room, but not forever.
                    self.t.send_stalls += 1;
                    let since = *stalled_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= SEND_STALL {
                        self.book(first, booked..n, false, counted);
                        booked = n;
                    } else if wait_fd(self.fd, libc::POLLOUT, Duration::from_millis(1)).is_err() {
                        self.t.poll_errors += 1;
                    }
                }
                // Any other error is about the first unsent message (e.g. a
                // bad destination): count it and go on with the next one.
                Err(_) => {
                    self.book(first, booked..booked + 1, false, counted);
                    booked += 1;
                }
            }
        }
        self.tx.len = 0;
    }

    /// Books the outcome of batch messages `msgs` (message k is stream
    /// `first + k * slices`): sent, or failed (then the stream sends the same
    /// sequence number next time, so a failure is not seen as a gap).
    fn book(&mut self, first: usize, msgs: std::ops::Range<usize>, ok: bool, counted: bool) {
        for k in msgs {
            let s = &mut self.plan.streams[first + k * self.plan.slices];
            if !ok {
                s.send_errors += 1;
            } else {
                if counted {
                    s.sent += 1;
                } else {
                    s.sent_warmup += 1;
                }
                s.seq = s.seq.wrapping_add(1);
                s.ts = s.ts.wrapping_add(PAYLOAD as u32);
            }
        }
    }

    /// Receives until `due`, sleeping in ppoll while nothing is queued.
    fn receive_until(&mut self, due: Instant) {
        loop {
            self.drain();
            let now = Instant::now();
            if now >= due {
                return;
            }
            if wait_fd(self.fd, libc::POLLIN, due - now).is_err() {
                self.t.poll_errors += 1;
                // Do not spin on a persistent error: sleep out the wait.
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        }
    }

    /// Reads what is queued, in batches, up to RECV_ROUNDS batches.
    fn drain(&mut self) {
        for _ in 0..RECV_ROUNDS {
            self.t.rx_calls += 1;
            let n = match self.rx.recv(self.fd) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // E.g. a pending ICMP error: one-shot, counted.
                Err(_) => {
                    self.t.recv_errors += 1;
                    return;
                }
            };
            self.t.rx_packets += n as u64;
            let now = self.now_us();
            for k in 0..n {
                self.on_packet(k, now);
            }
            if n < RECV_BATCH {
                return;
            }
        }
    }

    /// Books datagram `k` of the last receive batch, received at `now`.
    fn on_packet(&mut self, k: usize, now: u64) {
        let Some(pkt) = self.rx.packet(k) else {
            self.t.stray += 1;
            return;
        };
        if pkt.len() < STREAM.end || pkt[0] >> 6 != 2 || pkt[0] & 0x10 == 0 {
            self.t.stray += 1;
            return;
        }
        let g = u32::from_be_bytes([pkt[24], pkt[25], pkt[26], pkt[27]]) as usize;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&pkt[STAMP]);
        let stamp = u64::from_be_bytes(stamp);
        // The global stream index is 2 * call + side, and call c belongs
        // to thread c % threads as its local call c / threads.
        let p = &self.plan;
        let call = g / 2;
        if g >= p.total_streams || call % p.threads != p.id {
            self.t.stray += 1;
            return;
        }
        let local = call / p.threads * 2 + g % 2;
        let counted = stamp >= p.warmup_us;
        self.plan.streams[local].on_receive(seq, counted);
        if counted {
            let lat = now.saturating_sub(stamp);
            self.t.hist[bucket(lat)] += 1;
            self.t.max_us = self.t.max_us.max(lat);
        }
    }

    /// Adds up the per-stream counters into the thread's totals.
    fn finish(mut self) -> Totals {
        for s in &self.plan.streams {
            let t = &mut self.t;
            t.sent_warmup += s.sent_warmup;
            t.sent += s.sent;
            t.send_errors += s.send_errors;
            t.received_warmup += s.received_warmup;
            t.received += s.received;
            // Per stream, so a duplicate on one cannot hide a loss on another.
            t.lost += s.sent.saturating_sub(s.received);
            t.dead += u64::from(s.sent > 0 && s.received == 0);
            t.gaps += s.gaps;
            t.gap_pkts += s.gap_pkts;
            t.reordered += s.reordered;
        }
        self.t
    }
}

/// Histogram bucket of a latency in microseconds.
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

// ---------------------------------------------------------------------------
// Measurement helpers and the driver.
// ---------------------------------------------------------------------------

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

/// The machine-wide UDP RcvbufErrors counter (datagrams dropped because a
/// receive buffer was full), to tell where lost packets went.
fn udp_rcvbuf_errors() -> u64 {
    let Ok(snmp) = std::fs::read_to_string("/proc/net/snmp") else {
        return 0;
    };
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// The soft RLIMIT_NOFILE, from /proc.
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

/// One generator socket, bound on the `--bind` address with big buffers.
fn generator_socket(bind: IpAddr) -> Result<UdpSocket, String> {
    let sock = UdpSocket::bind((bind, 0)).map_err(|e| format!("bind {bind}: {e}"))?;
    sock.set_nonblocking(true).map_err(|e| e.to_string())?;
    let fd = sock.as_raw_fd();
    set_sock_buf(fd, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, SOCK_BUF);
    set_sock_buf(fd, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, SOCK_BUF);
    Ok(sock)
}

fn run(args: Args) -> Result<(), String> {
    let targets = match &args.pairs {
        Some(path) => read_pairs(path)?,
        None => Vec::new(),
    };
    let n = args.self_test.unwrap_or(targets.len());
    if n == 0 {
        return Err("no calls to load".into());
    }
    let threads = args.threads.min(n);
    // Self-test: the relays' 4 sockets per call live in this process too.
    let fds_needed = if args.self_test.is_some() { 4 * n } else { 0 } as u64 + 64;
    if let Some(limit) = open_file_limit().filter(|&l| l < fds_needed) {
        return Err(format!(
            "need about {fds_needed} file descriptors, limit is {limit}: raise `ulimit -n`"
        ));
    }
    let socks = (0..threads)
        .map(|_| generator_socket(args.bind))
        .collect::<Result<Vec<_>, _>>()?;
    let sock_addrs = socks
        .iter()
        .map(|s| s.local_addr().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;

    // In self-test mode, the relays on their own runtime, each side
    // signalled (as SDP would) at the socket of the thread owning the call.
    let media_rt = match args.self_test {
        Some(_) => Some(media::media_runtime(args.relay_threads).map_err(|e| e.to_string())?),
        None => None,
    };
    let stats = Arc::new(RelayStats::new());
    let mut relays = Vec::new();
    let targets = match &media_rt {
        Some(rt) => {
            let high = args
                .base_port
                .saturating_add((n as u16).saturating_mul(4).saturating_add(400));
            let alloc =
                PortAllocator::with_runtime(args.bind, args.base_port, high, rt.handle().clone())
                    .map_err(|e| e.to_string())?;
            let mut t = Vec::with_capacity(n);
            for c in 0..n {
                let a = alloc.allocate().map_err(|e| e.to_string())?;
                let b = alloc.allocate().map_err(|e| e.to_string())?;
                let relay = Relay::start(rt.handle(), a, b, Arc::clone(&stats));
                relay.set_remote(Side::A, sock_addrs[c % threads]);
                relay.set_remote(Side::B, sock_addrs[c % threads]);
                t.push([Side::A, Side::B].map(|s| SocketAddr::new(args.bind, relay.local_port(s))));
                relays.push(relay);
            }
            t
        }
        None => targets,
    };
    if let Some(bad) = targets
        .iter()
        .flatten()
        .find(|a| a.is_ipv4() != args.bind.is_ipv4())
    {
        return Err(format!(
            "{bad} is not in the address family of --bind {}",
            args.bind
        ));
    }

    // Schedule: `slices` ticks per packet interval, one slice of streams each.
    let period_us = 1_000_000 / args.pps;
    let slices = (period_us / (args.tick_ms * 1000)).max(1);
    let tick = Duration::from_micros(period_us / slices);
    let ticks = (args.seconds * 1_000_000).div_ceil(period_us / slices);
    let ssrc_base = fastrand::u32(..);
    let start = Instant::now() + Duration::from_millis(50);
    let mut plans: Vec<Plan> = socks
        .into_iter()
        .enumerate()
        .map(|(id, sock)| Plan {
            id,
            threads,
            sock,
            streams: Vec::with_capacity(2 * n / threads + 2),
            pt: args.pt,
            total_streams: 2 * n,
            start,
            end: start + Duration::from_secs(args.seconds),
            tick,
            slices: slices as usize,
            ticks,
            warmup_us: args.warmup_ms * 1000,
        })
        .collect();
    for (c, pair) in targets.iter().enumerate() {
        for (side, &dest) in pair.iter().enumerate() {
            let g = 2 * c + side;
            let ssrc = ssrc_base.wrapping_add(g as u32);
            plans[c % threads]
                .streams
                .push(Stream::new(dest, ssrc, g as u32));
        }
    }
    eprintln!(
        "rtp_load: {n} calls ready, sending {} s at {} pps per stream from {threads} socket(s), \
         {slices} slices of {} us",
        args.seconds,
        args.pps,
        tick.as_micros()
    );

    let rcvbuf0 = udp_rcvbuf_errors();
    let (cpu0, media0) = cpu_seconds();
    let workers = plans
        .into_iter()
        .map(|plan| {
            std::thread::Builder::new()
                .name(format!("rtp-gen-{}", plan.id))
                .spawn(move || Worker::run(plan))
                .map_err(|e| format!("spawn: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut t = Totals::default();
    for w in workers {
        t.add(&w.join().map_err(|_| "a generator thread panicked")?);
    }
    let (cpu1, media1) = cpu_seconds();
    let rcvbuf_errors = udp_rcvbuf_errors().saturating_sub(rcvbuf0);

    let elapsed = t.send_end_us as f64 / 1e6;
    let window = (elapsed - args.warmup_ms as f64 / 1e3).max(1e-3);
    let percentile = |p: f64| {
        let want = ((t.received as f64 * p).ceil() as u64).max(1);
        let mut acc = 0;
        for (b, &c) in t.hist.iter().enumerate() {
            acc += c;
            if acc >= want {
                return bucket_floor(b);
            }
        }
        0
    };
    let loss_pct = if t.sent == 0 {
        100.0
    } else {
        t.lost as f64 * 100.0 / t.sent as f64
    };
    let (total_cpu, relay_cpu) = (cpu1 - cpu0, media1 - media0);
    let gen_cpu = total_cpu - relay_cpu;
    let sent_all = t.sent + t.sent_warmup;
    let mut line = format!(
        "calls={n} seconds={elapsed:.2} window_s={window:.2} pps={} threads={threads} sent={} received={} \
         lost={} loss_pct={loss_pct:.3} warmup={} dead_streams={} send_errors={} reordered={} gaps={} \
         gap_pkts={} stray={} late_ticks={} max_lag_us={} behind_pkts={} achieved_pps={:.0} latency_p50_us={} \
         latency_p99_us={} latency_max_us={} gen_cpu_s={gen_cpu:.2} gen_us_per_pkt={:.2} \
         tx_batch_avg={:.1} rx_batch_avg={:.1} udp_rcvbuf_errors={rcvbuf_errors}",
        args.pps,
        t.sent,
        t.received,
        t.lost,
        t.sent_warmup,
        t.dead,
        t.send_errors,
        t.reordered,
        t.gaps,
        t.gap_pkts,
        t.stray,
        t.late_ticks,
        t.max_lag_us,
        t.behind_pkts,
        t.sent as f64 / window,
        percentile(0.5),
        percentile(0.99),
        t.max_us,
        // Each packet costs the generator one send and one receive.
        gen_cpu * 1e6 / sent_all.max(1) as f64,
        sent_all as f64 / t.tx_calls.max(1) as f64,
        t.rx_packets as f64 / t.rx_calls.max(1) as f64,
    );
    if args.self_test.is_some() {
        let relayed = stats.rtp_relayed.load(Relaxed);
        line += &format!(
            " relay_threads={} relay_cpu_s={relay_cpu:.2} relay_rtp_relayed={relayed} relay_dropped={} \
             relay_us_per_pkt={:.2}",
            args.relay_threads,
            stats.dropped.load(Relaxed),
            relay_cpu * 1e6 / relayed.max(1) as f64
        );
    }
    if t.recv_errors + t.poll_errors + t.send_stalls > 0 {
        eprintln!(
            "rtp_load: {} receive errors, {} poll errors, {} send stalls (socket buffer full)",
            t.recv_errors, t.poll_errors, t.send_stalls
        );
    }
    eprintln!(
        "rtp_load: {n} calls for {elapsed:.1} s ({window:.1} s measured after warm-up): sent {}, \
         received {}, lost {} ({loss_pct:.3} %), generator CPU {gen_cpu:.2} s{}",
        t.sent,
        t.received,
        t.lost,
        if args.self_test.is_some() {
            format!(", relay CPU {relay_cpu:.2} s")
        } else {
            String::new()
        }
    );
    println!("{line}");
    drop(relays);
    Ok(())
}
