//! The anchored media relay of one call: RTP and RTCP between side A and
//! side B, each side latched to the source signalling allows (see
//! [`latch`](crate::latch)).
//!
//! Performance shape (the target is 2,000 calls x 50 packets/s each way on
//! two shared cores): one task per call owns all four sockets and is woken
//! by socket readiness; it drains every ready socket with `try_recv_from`
//! into one reusable buffer and sends straight out of the other side's
//! socket. Nothing allocates per packet, the per-packet bookkeeping is plain
//! fields owned by the task, and shared atomics are written once per wakeup
//! rather than once per packet. The control handle only talks to the task
//! through a Mutex plus a wakeup, touched on control calls.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::runtime::Handle;
use tokio::sync::Notify;

use crate::activity::Activity;
use crate::latch::{Refusal, Remote, SideState};
use crate::ports::RtpPortPair;

/// Packets read from one socket before moving to the next, so that a flood
/// on one socket cannot starve the others of this call.
const BURST: usize = 16;
/// Receive buffer size. A datagram filling it entirely may have been
/// truncated, so such datagrams are dropped rather than forwarded damaged.
const BUF_SIZE: usize = 2048;

/// Process-wide counters shared by every relay, exported as metrics.
#[derive(Debug, Default)]
pub struct RelayStats {
    /// RTP packets forwarded.
    pub rtp_relayed: AtomicU64,
    /// RTCP packets forwarded.
    pub rtcp_relayed: AtomicU64,
    /// Datagrams dropped: invalid, from a source that is not the latched
    /// peer, no destination known yet, or the send failed.
    pub dropped: AtomicU64,
    /// Of `dropped`: from a source that is not the latched peer and may not
    /// become it (a stranger, or a second stream after learning).
    pub dropped_source: AtomicU64,
    /// Of `dropped`: malformed, truncated, or (first packet) a payload type
    /// the side did not negotiate.
    pub dropped_invalid: AtomicU64,
    /// Of `dropped`: SRTP or SRTCP that failed authentication or the
    /// replay check (forged, damaged, replayed, or the wrong key).
    pub dropped_srtp: AtomicU64,
}

impl RelayStats {
    /// All counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one datagram refused by the latch (media sessions count one
    /// at a time; the relay adds its counts up per wakeup).
    pub(crate) fn refused(&self, why: Refusal) {
        self.dropped.fetch_add(1, Relaxed);
        match why {
            Refusal::Source => &self.dropped_source,
            Refusal::Invalid => &self.dropped_invalid,
            Refusal::Srtp => &self.dropped_srtp,
        }
        .fetch_add(1, Relaxed);
    }
}

/// One of the two legs of a relayed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The first leg (by convention the caller).
    A,
    /// The second leg.
    B,
}

impl Side {
    /// The opposite side: where this side's packets are sent.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    fn idx(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// State shared between the [`Relay`] handle and its task.
struct Shared {
    activity: Activity,
    closed: AtomicBool,
    received: [AtomicU64; 2],
    sent: [AtomicU64; 2],
    /// Control plane -> task: what signalling said about each side.
    signalled: Mutex<[Option<Remote>; 2]>,
    /// Task -> control plane: latched RTP sources (written on latch only).
    latched: Mutex<[Option<SocketAddr>; 2]>,
    wake: Notify,
    /// Set by [`Relay::hand_over`]: who takes the sockets over.
    handoff: Mutex<Option<Handoff>>,
}

/// Continues a relay's work with its sockets and latches (see
/// [`Relay::hand_over`]); returns the future to run in the relay's place.
pub(crate) type Handoff = Box<
    dyn FnOnce([RtpPortPair; 2], [SideState; 2]) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send,
>;

/// Poisoning cannot break the plain copies kept in these mutexes.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Handle to a running relay; the relay stops when it is closed or dropped.
pub struct Relay {
    shared: Arc<Shared>,
    ports: [u16; 2],
}

impl Relay {
    /// Spawns the relay task on `rt` (the dedicated media runtime). The
    /// sockets stay registered with the reactor they were created on, so
    /// allocate them with [`PortAllocator::with_runtime`](crate::PortAllocator::with_runtime)
    /// on the same runtime.
    pub fn start(rt: &Handle, a: RtpPortPair, b: RtpPortPair, stats: Arc<RelayStats>) -> Relay {
        let ports = [a.port, b.port];
        let shared = Arc::new(Shared {
            activity: Activity::new(),
            closed: AtomicBool::new(false),
            received: Default::default(),
            sent: Default::default(),
            signalled: Mutex::new([None; 2]),
            latched: Mutex::new([None; 2]),
            wake: Notify::new(),
            handoff: Mutex::new(None),
        });
        let task = Task {
            pairs: [a, b],
            sides: Default::default(),
            buf: vec![0; BUF_SIZE],
            counts: Counts::default(),
            shared: Arc::clone(&shared),
            stats,
        };
        rt.spawn(task.run());
        Relay { shared, ports }
    }

    /// The local RTP port of `side` (RTCP is this + 1).
    pub fn local_port(&self, side: Side) -> u16 {
        self.ports[side.idx()]
    }

    /// What signalling says about `side` (its SDP address, signalling IP,
    /// payload types; a bare `SocketAddr` is the SDP address alone): RTP goes
    /// to the SDP address until a packet allowed to latch arrives. A
    /// different SDP address than before (e.g. a re-INVITE moving the call
    /// to another device) forgets the latches and learning starts again.
    pub fn set_remote(&self, side: Side, remote: impl Into<Remote>) {
        lock(&self.shared.signalled)[side.idx()] = Some(remote.into());
        self.shared.wake.notify_one();
    }

    /// Where RTP for `side` currently goes: the latched source if any, else
    /// the signalled address.
    pub fn remote(&self, side: Side) -> Option<SocketAddr> {
        let latched = lock(&self.shared.latched)[side.idx()];
        latched.or(lock(&self.shared.signalled)[side.idx()].map(|r| r.rtp))
    }

    /// Marks the call held or resumed. While held the inactivity clock does
    /// not run, and it restarts from zero on resume (a held phone may
    /// legitimately send nothing for a long time).
    pub fn set_hold(&self, on_hold: bool) {
        self.shared.activity.set_hold(on_hold);
    }

    /// Time since the last RTP packet from either side (or since start or the
    /// last hold change); `None` while on hold.
    pub fn idle_for(&self, now: Instant) -> Option<Duration> {
        self.shared.activity.idle_for(now)
    }

    /// (valid RTP packets accepted from `side`, RTP packets sent to `side`).
    pub fn packets(&self, side: Side) -> (u64, u64) {
        let i = side.idx();
        (
            self.shared.received[i].load(Relaxed),
            self.shared.sent[i].load(Relaxed),
        )
    }

    /// Stops relaying and gives the sockets and latches to `next`, which
    /// runs in the relay's task from then on.
    pub(crate) fn hand_over(self, next: Handoff) {
        *lock(&self.shared.handoff) = Some(next);
        self.shared.wake.notify_one();
    }

    /// Stops the relay; its sockets close and the ports go back to the pool
    /// shortly after (when the task has seen the request). Idempotent.
    pub fn close(&self) {
        self.shared.closed.store(true, Relaxed);
        self.shared.wake.notify_one();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").field("ports", &self.ports).finish()
    }
}

/// Counters accumulated during one wakeup and published at its end.
#[derive(Default)]
struct Counts {
    /// Running totals per side (this relay only).
    received: [u64; 2],
    sent: [u64; 2],
    /// Deltas for the process-wide stats.
    rtp: u64,
    rtcp: u64,
    dropped: u64,
    dropped_source: u64,
    dropped_invalid: u64,
    dropped_srtp: u64,
    got_rtp: bool,
    latch_changed: bool,
}

/// The relay task: owns both port pairs and all per-packet state.
struct Task {
    pairs: [RtpPortPair; 2],
    sides: [SideState; 2],
    buf: Vec<u8>,
    counts: Counts,
    shared: Arc<Shared>,
    stats: Arc<RelayStats>,
}

impl Task {
    async fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        loop {
            // Created before reading the control state, and notify_one stores
            // a permit, so a control call made from here on is never missed.
            let mut woken = pin!(shared.wake.notified());
            let handoff = lock(&shared.handoff).take();
            if let Some(next) = handoff {
                // Addresses signalled since the last wakeup go with the
                // sockets (the session would not know where to send).
                self.reload();
                let Task { pairs, sides, .. } = self;
                return next(pairs, sides).await;
            }
            if shared.closed.load(Relaxed) {
                break;
            }
            self.reload();
            poll_fn(|cx| {
                if woken.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                self.pump(cx);
                Poll::Pending
            })
            .await;
        }
        tracing::debug!(ports = ?[self.pairs[0].port, self.pairs[1].port], "relay closed");
    }

    /// Picks up what was signalled from the control handle.
    fn reload(&mut self) {
        let signalled = *lock(&self.shared.signalled);
        for (side, remote) in self.sides.iter_mut().zip(signalled) {
            if let Some(r) = remote.filter(|r| side.remote() != Some(*r)) {
                side.set_remote(r);
            }
        }
        self.publish_latches();
    }

    fn publish_latches(&self) {
        let mut latched = lock(&self.shared.latched);
        for (l, s) in latched.iter_mut().zip(&self.sides) {
            *l = s.latched_rtp();
        }
    }

    /// Drains every ready socket, round-robin in bursts, until all of them
    /// would block (which registers the wakers) or the coop budget runs out
    /// (then Tokio reschedules the task itself).
    fn pump(&mut self, cx: &mut Context<'_>) {
        let now_ms = self.shared.activity.now_ms(Instant::now());
        loop {
            let mut progressed = false;
            for s in 0..4 {
                let (side, rtcp) = (s / 2, s % 2 == 1);
                for _ in 0..BURST {
                    let pair = &self.pairs[side];
                    let sock = if rtcp { &pair.rtcp } else { &pair.rtp };
                    if !matches!(sock.poll_recv_ready(cx), Poll::Ready(Ok(()))) {
                        break;
                    }
                    match sock.try_recv_from(&mut self.buf) {
                        Ok((n, src)) => {
                            progressed = true;
                            self.forward(side, rtcp, n, src, now_ms);
                        }
                        // Readiness is now cleared: the next poll registers.
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        // E.g. a reported ICMP error: one-shot, just go on.
                        Err(_) => self.counts.dropped += 1,
                    }
                }
            }
            if !progressed {
                break;
            }
        }
        self.publish(now_ms);
    }

    /// Validates, latches and forwards one datagram held in `self.buf[..n]`
    /// (decrypted first when it comes from an SRTP side, encrypted when it
    /// goes to one).
    fn forward(&mut self, side: usize, rtcp: bool, n: usize, src: SocketAddr, now_ms: u64) {
        let c = &mut self.counts;
        let me = &mut self.sides[side];
        let wire = &self.buf[..n];
        let header_ok = n < BUF_SIZE
            && if rtcp {
                valid_rtcp(wire)
            } else {
                valid_rtp(wire)
            };
        let plain = if header_ok {
            me.unprotect(rtcp, src, wire)
        } else {
            Err(Refusal::Invalid)
        };
        let verdict = plain.as_ref().map_err(|why| *why).and_then(|plain| {
            let pkt = plain.as_deref().unwrap_or(wire);
            if rtcp {
                me.accept_rtcp(src, pkt)
            } else if plain.is_none() || valid_rtp(pkt) {
                me.accept_rtp(src, pkt, now_ms)
            } else {
                Err(Refusal::Invalid)
            }
        });
        match verdict {
            Ok(latched) => {
                c.latch_changed |= latched;
                if !rtcp {
                    c.received[side] += 1;
                    c.got_rtp = true;
                }
            }
            Err(why) => {
                c.dropped += 1;
                match why {
                    Refusal::Source => c.dropped_source += 1,
                    Refusal::Invalid => c.dropped_invalid += 1,
                    Refusal::Srtp => c.dropped_srtp += 1,
                }
                return;
            }
        }
        let plain = plain.ok().flatten();
        let pkt = plain.as_deref().unwrap_or(wire);
        let other = 1 - side;
        let peer = &mut self.sides[other];
        let (target, sock) = if rtcp {
            (peer.rtcp_target(), &self.pairs[other].rtcp)
        } else {
            (peer.rtp_target(), &self.pairs[other].rtp)
        };
        // No destination yet (no SDP, nothing latched): nowhere to send.
        let Some(target) = target else {
            c.dropped += 1;
            return;
        };
        let sealed = match peer.protect(rtcp, pkt) {
            Ok(sealed) => sealed,
            Err(()) => {
                c.dropped += 1;
                return;
            }
        };
        match send(sock, sealed.as_deref().unwrap_or(pkt), target) {
            true if rtcp => c.rtcp += 1,
            true => {
                c.rtp += 1;
                c.sent[other] += 1;
            }
            false => c.dropped += 1,
        }
    }

    /// Publishes this wakeup's counters: one atomic op per counter per
    /// wakeup rather than per packet.
    fn publish(&mut self, now_ms: u64) {
        let c = &mut self.counts;
        for i in 0..2 {
            self.shared.received[i].store(c.received[i], Relaxed);
            self.shared.sent[i].store(c.sent[i], Relaxed);
        }
        if c.got_rtp {
            self.shared.activity.touch(now_ms);
        }
        for (delta, total) in [
            (&mut c.rtp, &self.stats.rtp_relayed),
            (&mut c.rtcp, &self.stats.rtcp_relayed),
            (&mut c.dropped, &self.stats.dropped),
            (&mut c.dropped_source, &self.stats.dropped_source),
            (&mut c.dropped_invalid, &self.stats.dropped_invalid),
            (&mut c.dropped_srtp, &self.stats.dropped_srtp),
        ] {
            if *delta > 0 {
                total.fetch_add(*delta, Relaxed);
                *delta = 0;
            }
        }
        c.got_rtp = false;
        if std::mem::take(&mut c.latch_changed) {
            tracing::debug!(
                ports = ?[self.pairs[0].port, self.pairs[1].port],
                a = ?self.sides[0].latched_rtp(),
                b = ?self.sides[1].latched_rtp(),
                "RTP source latched"
            );
            self.publish_latches();
        }
    }
}

/// Sends without waiting: a full socket buffer means the packet is late
/// anyway, and real-time media is better dropped than queued.
fn send(sock: &UdpSocket, pkt: &[u8], target: SocketAddr) -> bool {
    matches!(sock.try_send_to(pkt, target), Ok(n) if n == pkt.len())
}

/// RTP sanity check (RFC 3550 appendix A.1, minus what needs state): version
/// 2, room for the fixed header, CSRCs and any header extension, and not a
/// payload type in 72-76, which is RTCP multiplexed onto the RTP port.
pub(crate) fn valid_rtp(p: &[u8]) -> bool {
    if p.len() < 12 || p[0] >> 6 != 2 {
        return false;
    }
    let pt = p[1] & 0x7f;
    if (72..=76).contains(&pt) {
        return false;
    }
    let mut header = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let Some(ext) = p.get(header + 2..header + 4) else {
            return false;
        };
        header += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    header <= p.len()
}

/// RTCP sanity check on the first packet of a compound: version 2, an RTCP
/// payload type (SR, RR, SDES, BYE, APP, feedback, XR: 200-207), and a length
/// field that fits in the datagram, with at least a header plus SSRC.
pub(crate) fn valid_rtcp(p: &[u8]) -> bool {
    if p.len() < 8 || p[0] >> 6 != 2 || !(200..=207).contains(&p[1]) {
        return false;
    }
    let words = usize::from(u16::from_be_bytes([p[2], p[3]]));
    (words + 1) * 4 <= p.len()
}
