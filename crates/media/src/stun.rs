//! Server-reflexive addresses from a STUN server (RFC 8489 Binding), for
//! WebRTC legs of a server behind a NAT that does not know its public
//! address (as FreeSWITCH's `ext-rtp-ip=stun:` or a browser's
//! `iceServers`).
//!
//! A NAT maps each source port on its own, so the question is asked from
//! the very socket a leg's media will use, and every port gets its own
//! answer. The answer has to be known *before* the leg's SDP is made, yet
//! the call's logic picks a port and writes its SDP in one synchronous
//! step; so the port allocator keeps a few pairs ready whose mapping was
//! just learnt (the [`Warmer`], see `PortAllocator::enable_stun`), and a
//! call takes one of those: call set-up never waits for the STUN server,
//! and a silent one costs no call anything but the srflx candidate.
//!
//! The exchange itself is sans-IO ([`BindingProbe`]: the request, the
//! retransmission schedule and the response check take the time as an
//! argument) with a small async driver ([`discover`]) around it.
//!
//! Why not str0m's STUN (`str0m::ice::StunMessage`, the `is` crate): its
//! parser refuses a Binding success response without MESSAGE-INTEGRITY
//! (it is written for ICE checks, which carry one), and a plain STUN
//! server's response has none; and its transaction ids come from a
//! non-cryptographic generator that cannot be replaced, where RFC 8489
//! §6 wants them unguessable (they are what stops a forged response from
//! planting a wrong address in our SDP). What is needed here is a 20-byte
//! request and one attribute of the response, checked below against
//! str0m's own encoder in the tests.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::Notify;

use crate::ports::RtpPortPair;

/// The STUN port when a `stun_server` names none (RFC 8489 §18.1).
pub const DEFAULT_PORT: u16 = 3478;
/// The first retransmission comes this long after the request, each next
/// one after twice the previous wait (RFC 8489 §6.2.1). Shorter than the
/// RFC's 500 ms so that a lost datagram is retried within [`BUDGET`].
pub const INITIAL_RTO: Duration = Duration::from_millis(100);
/// How long one exchange may take in all before it is given up: requests
/// go at 0, 100 and 300 ms, and the last one gets 200 ms to be answered.
pub const BUDGET: Duration = Duration::from_millis(500);

const MAGIC: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const HEADER: usize = 20;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const MAPPED_ADDRESS: u16 = 0x0001;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;

/// Why a datagram received while waiting for the answer was not it. Every
/// datagram is a stranger's until proven otherwise; all of these are
/// dropped and counted, none ends the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// It did not come from the STUN server we asked.
    OtherSource,
    /// Not a well-formed STUN message (length, magic cookie, attributes).
    Malformed,
    /// A STUN message of another transaction (a stale or forged answer).
    OtherTransaction,
    /// Our transaction, but not a Binding success response (an error
    /// response is waited out too: a forged one must not cut the exchange
    /// short, and the wait is bounded by [`BUDGET`]).
    NotSuccess,
    /// A success response with no usable (XOR-)MAPPED-ADDRESS.
    NoAddress,
}

/// What a [`BindingProbe`] wants done next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send [`BindingProbe::request`] to the server now (first time or a
    /// retransmission: the same bytes, the same transaction).
    Send,
    /// Wait for a datagram until this instant, then ask again.
    Wait(Instant),
    /// No answer within [`BUDGET`]: the exchange failed.
    GiveUp,
}

/// One Binding transaction with one STUN server, without I/O: the request
/// to send, when to send it (again), and whether a datagram answers it.
#[derive(Debug, Clone)]
pub struct BindingProbe {
    server: SocketAddr,
    trans_id: [u8; 12],
    request: [u8; HEADER],
    deadline: Instant,
    /// When the next (re)transmission is due; None once none fits in the
    /// budget.
    next_send: Option<Instant>,
    rto: Duration,
}

impl BindingProbe {
    /// A probe of `server` with an unguessable transaction id, starting at
    /// `now`.
    pub fn new(server: SocketAddr, now: Instant) -> BindingProbe {
        let mut id = [0u8; 12];
        if getrandom::getrandom(&mut id).is_err() {
            // No OS randomness (never seen on Linux): still unique, less
            // unguessable; the answer must also come from the server.
            id.iter_mut().for_each(|b| *b = fastrand::u8(..));
        }
        BindingProbe::with_id(server, id, now)
    }

    /// A probe with the given transaction id (tests).
    pub fn with_id(server: SocketAddr, trans_id: [u8; 12], now: Instant) -> BindingProbe {
        BindingProbe {
            server,
            trans_id,
            request: binding_request(&trans_id),
            deadline: now + BUDGET,
            next_send: Some(now),
            rto: INITIAL_RTO,
        }
    }

    /// The server asked.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The Binding request (the same bytes for every retransmission).
    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// What to do at `now`. After [`Next::Send`] the caller sends the
    /// request and asks again; the schedule moves on by itself.
    pub fn poll(&mut self, now: Instant) -> Next {
        if now >= self.deadline {
            return Next::GiveUp;
        }
        match self.next_send {
            Some(at) if now >= at => {
                let next = now + self.rto;
                self.rto *= 2;
                self.next_send = (next < self.deadline).then_some(next);
                Next::Send
            }
            Some(at) => Next::Wait(at.min(self.deadline)),
            None => Next::Wait(self.deadline),
        }
    }

    /// Checks a datagram `data` from `from`: the mapped address if it is
    /// the server's success response to this transaction.
    pub fn on_datagram(&self, from: SocketAddr, data: &[u8]) -> Result<SocketAddr, Ignored> {
        if from != self.server {
            return Err(Ignored::OtherSource);
        }
        parse_success(data, &self.trans_id)
    }
}

/// A Binding request with transaction id `id` and no attributes (RFC 8489
/// §5: a client without credentials sends nothing else).
fn binding_request(id: &[u8; 12]) -> [u8; HEADER] {
    let mut req = [0u8; HEADER];
    req[0..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    // Length 0: no attributes.
    req[4..8].copy_from_slice(&MAGIC);
    req[8..20].copy_from_slice(id);
    req
}

/// The mapped address in `data` if it is a Binding success response to
/// transaction `id`.
fn parse_success(data: &[u8], id: &[u8; 12]) -> Result<SocketAddr, Ignored> {
    let header = data.get(..HEADER).ok_or(Ignored::Malformed)?;
    let typ = u16::from_be_bytes([header[0], header[1]]);
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    // The two top bits of every STUN message are zero (RFC 8489 §5).
    if typ & 0xC000 != 0 || header[4..8] != MAGIC || len % 4 != 0 || HEADER + len != data.len() {
        return Err(Ignored::Malformed);
    }
    if header[8..20] != id[..] {
        return Err(Ignored::OtherTransaction);
    }
    if typ != BINDING_SUCCESS {
        return Err(Ignored::NotSuccess);
    }
    let mut xor = None;
    let mut plain = None;
    let mut rest = &data[HEADER..];
    while !rest.is_empty() {
        let tl = rest.get(..4).ok_or(Ignored::Malformed)?;
        let atype = u16::from_be_bytes([tl[0], tl[1]]);
        let alen = usize::from(u16::from_be_bytes([tl[2], tl[3]]));
        let value = rest.get(4..4 + alen).ok_or(Ignored::Malformed)?;
        match atype {
            XOR_MAPPED_ADDRESS => xor = Some(address(value, Some(id)).ok_or(Ignored::Malformed)?),
            MAPPED_ADDRESS => plain = Some(address(value, None).ok_or(Ignored::Malformed)?),
            // SOFTWARE, FINGERPRINT and the rest say nothing we use: the
            // fingerprint tells STUN from other protocols on a shared
            // port, which the 96-bit transaction id already does here.
            _ => {}
        }
        // Values are padded to 4 bytes; the last one's padding may be all
        // that is left.
        let padded = (4 + alen).next_multiple_of(4);
        rest = rest.get(padded..).unwrap_or_default();
    }
    // XOR-MAPPED-ADDRESS is what RFC 8489 servers send (a NAT rewriting
    // addresses in payloads cannot spoil it); MAPPED-ADDRESS is what RFC
    // 3489 servers sent.
    xor.or(plain).ok_or(Ignored::NoAddress)
}

/// A (XOR-)MAPPED-ADDRESS value (RFC 8489 §14.1, §14.2); `xor` is the
/// transaction id when the value is XORed.
fn address(v: &[u8], xor: Option<&[u8; 12]>) -> Option<SocketAddr> {
    let family = *v.get(1)?;
    let mut port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]);
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&MAGIC);
    if let Some(id) = xor {
        port ^= 0x2112;
        key[4..].copy_from_slice(id);
    }
    let ip = match (family, v.len()) {
        (0x01, 8) => {
            let mut b = [0u8; 4];
            b.copy_from_slice(&v[4..8]);
            if xor.is_some() {
                b.iter_mut().zip(&key).for_each(|(b, k)| *b ^= k);
            }
            IpAddr::V4(Ipv4Addr::from(b))
        }
        (0x02, 20) => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&v[4..20]);
            if xor.is_some() {
                b.iter_mut().zip(&key).for_each(|(b, k)| *b ^= k);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    // A port or address of zero is no address a peer can send to.
    (port != 0 && !ip.is_unspecified()).then_some(SocketAddr::new(ip, port))
}

/// Process-wide counters of the STUN exchanges, exported as metrics.
#[derive(Debug, Default)]
pub struct StunStats {
    /// Exchanges that got no answer within [`BUDGET`].
    pub failures: AtomicU64,
    /// Exchanges answered with a mapped address.
    pub successes: AtomicU64,
    /// Datagrams ignored while waiting for an answer (see [`Ignored`]).
    pub ignored: AtomicU64,
    /// Port pairs handed out while STUN is on but with no mapping ready
    /// (none warm: a burst of calls, or the server not answering); their
    /// WebRTC legs have the host candidate only.
    pub unmapped: AtomicU64,
}

/// Asks `server` from `sock` for the address the NAT maps `sock` to: the
/// mapped address, or None when no answer came within [`BUDGET`].
/// Datagrams that are not the answer are dropped and counted in `stats`.
pub async fn discover(
    sock: &UdpSocket,
    server: SocketAddr,
    stats: &StunStats,
) -> Option<SocketAddr> {
    let mut probe = BindingProbe::new(server, Instant::now());
    let mut buf = [0u8; 1500];
    loop {
        match probe.poll(Instant::now()) {
            Next::GiveUp => return None,
            Next::Send => {
                // A failed send is a lost datagram: the retransmission
                // schedule covers it.
                let _ = sock.send_to(probe.request(), server).await;
            }
            Next::Wait(until) => {
                let got = tokio::time::timeout_at(until.into(), sock.recv_from(&mut buf)).await;
                // Otherwise an ICMP error reported on the socket (one-shot),
                // or the wait ran out: the schedule decides.
                if let Ok(Ok((n, from))) = got {
                    match probe.on_datagram(from, &buf[..n]) {
                        Ok(mapped) => return Some(mapped),
                        Err(_) => {
                            stats.ignored.fetch_add(1, Relaxed);
                        }
                    }
                }
            }
        }
    }
}

/// The server-reflexive address of every port pair handed out with one,
/// by RTP port: how a WebRTC leg, which knows only its port (from our
/// SDP), finds the mapping learnt on that port's socket. A port's entry
/// goes when its pair is dropped.
#[derive(Debug, Clone, Default)]
pub struct Mappings(Arc<Mutex<HashMap<u16, SocketAddr>>>);

impl Mappings {
    /// The mapped address of the pair on RTP port `port`, if it has one.
    pub fn get(&self, port: u16) -> Option<SocketAddr> {
        self.lock().get(&port).copied()
    }

    pub(crate) fn insert(&self, port: u16, mapped: SocketAddr) {
        self.lock().insert(port, mapped);
    }

    pub(crate) fn remove(&self, port: u16) {
        self.lock().remove(&port);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u16, SocketAddr>> {
        // Each update is one insert or removal: nothing half-done.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Most pairs kept ready with a fresh mapping (fewer in a small port
/// range, see [`warm_target`]): enough for a burst of calls; each costs a
/// port pair and a STUN exchange every [`MAX_AGE`].
pub const WARM_PAIRS: usize = 8;
/// A ready pair's mapping older than this is not handed out (the pair is
/// released and another one asked for): NAT mappings of idle UDP ports
/// may expire after 30 s (RFC 4787 asks for 2 minutes, not all obey).
pub const MAX_AGE: Duration = Duration::from_secs(20);
/// After a failed exchange, the next ones wait this long (a server that
/// is down is not asked a burst of questions every second).
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// How many pairs to keep ready in a range of `capacity` pairs: a quarter
/// of it at most, so that the ready pairs never crowd out calls.
pub fn warm_target(capacity: usize) -> usize {
    WARM_PAIRS.min(capacity / 4).max(1)
}

/// The pairs kept ready with a fresh mapping, shared by the allocator
/// (which hands them out) and its task (which fills and refreshes them).
pub(crate) struct Warmer {
    pub(crate) server: SocketAddr,
    pub(crate) target: usize,
    /// Newest last.
    ready: Mutex<VecDeque<Ready>>,
    /// Pairs being asked about (not in `ready` yet), for the in-use count.
    pub(crate) asking: AtomicUsize,
    pub(crate) wake: Notify,
    pub(crate) stats: Arc<StunStats>,
    pub(crate) mappings: Mappings,
    /// The last exchange failed (the next success is logged).
    failing: AtomicBool,
}

struct Ready {
    pair: RtpPortPair,
    mapped: SocketAddr,
    at: Instant,
}

impl Warmer {
    pub(crate) fn new(server: SocketAddr, target: usize) -> Warmer {
        Warmer {
            server,
            target,
            ready: Mutex::new(VecDeque::new()),
            asking: AtomicUsize::new(0),
            wake: Notify::new(),
            stats: Arc::new(StunStats::default()),
            mappings: Mappings::default(),
            failing: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Ready>> {
        // Each update is one push or pop: nothing half-done.
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The freshest ready pair, its mapping noted in [`Mappings`]; the
    /// task is woken to ask for a replacement.
    pub(crate) fn take(&self, now: Instant) -> Option<RtpPortPair> {
        let (got, stale) = {
            let mut ready = self.lock();
            let stale = drain_stale(&mut ready, now);
            (ready.pop_back(), stale)
        };
        // Stale pairs go back to the allocator, outside our lock (dropping
        // a pair takes the allocator's).
        drop(stale);
        self.wake.notify_one();
        let r = got?;
        self.mappings.insert(r.pair.port, r.mapped);
        Some(r.pair)
    }

    /// Pairs ready or being asked about (held by STUN, not by calls).
    pub(crate) fn held(&self) -> usize {
        self.lock().len() + self.asking.load(Relaxed)
    }

    /// Releases stale pairs; how many more are wanted.
    fn deficit(&self, now: Instant) -> usize {
        let mut ready = self.lock();
        let stale = drain_stale(&mut ready, now);
        let want = self
            .target
            .saturating_sub(ready.len() + self.asking.load(Relaxed));
        drop(ready);
        drop(stale);
        want
    }

    fn add(&self, pair: RtpPortPair, mapped: SocketAddr) {
        self.lock().push_back(Ready {
            pair,
            mapped,
            at: Instant::now(),
        });
    }

    /// One exchange on `port` ended with `mapped`: counted, and logged when
    /// STUN starts or stops answering (not on every exchange: a dead
    /// server would fill the log).
    fn outcome(&self, port: u16, mapped: Option<SocketAddr>) {
        match mapped {
            Some(mapped) => {
                self.stats.successes.fetch_add(1, Relaxed);
                if self.failing.swap(false, Relaxed) {
                    tracing::info!(server = %self.server, "STUN server answers again");
                }
                tracing::debug!(port, %mapped, "server-reflexive address learnt");
            }
            None => {
                self.stats.failures.fetch_add(1, Relaxed);
                if !self.failing.swap(true, Relaxed) {
                    tracing::warn!(
                        server = %self.server,
                        port,
                        "STUN server did not answer within {} ms: WebRTC legs get the host \
                         candidate only until it does",
                        BUDGET.as_millis()
                    );
                }
            }
        }
    }
}

fn drain_stale(ready: &mut VecDeque<Ready>, now: Instant) -> Vec<Ready> {
    let mut stale = Vec::new();
    while ready.front().is_some_and(|r| now >= r.at + MAX_AGE) {
        stale.extend(ready.pop_front());
    }
    stale
}

/// The warmer's task: keeps [`Warmer::target`] pairs ready, asking for
/// the missing ones at once (each from its own socket), at least every
/// second and whenever a pair is taken. `bind` gives a fresh pair from the
/// allocator (`Ok(None)`: no free pair now; `Err`: the allocator is gone,
/// and so the task ends).
pub(crate) async fn run<F>(warmer: Arc<Warmer>, bind: F)
where
    F: Fn() -> Result<Option<RtpPortPair>, Gone>,
{
    let mut retry_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let want = warmer.deficit(now);
        if want > 0 && retry_at.is_none_or(|t| now >= t) {
            let mut asking = tokio::task::JoinSet::new();
            let mut spawned = 0;
            for _ in 0..want {
                let pair = match bind() {
                    Err(Gone) => return,
                    Ok(None) => break,
                    Ok(Some(pair)) => pair,
                };
                warmer.asking.fetch_add(1, Relaxed);
                spawned += 1;
                let w = Arc::clone(&warmer);
                asking.spawn(async move {
                    let mapped = discover(&pair.rtp, w.server, &w.stats).await;
                    (pair, mapped)
                });
            }
            let mut failed = false;
            while let Some(done) = asking.join_next().await {
                warmer.asking.fetch_sub(1, Relaxed);
                // A probe does not panic; a cancelled one (the runtime
                // shutting down) has nothing to give.
                let Ok((pair, mapped)) = done else { continue };
                warmer.outcome(pair.port, mapped);
                match mapped {
                    Some(mapped) => warmer.add(pair, mapped),
                    None => failed = true,
                }
            }
            retry_at = failed.then(|| Instant::now() + RETRY_AFTER);
            // Asked and answered: see whether more are wanted. (Nothing
            // asked, the range being full, waits like a failure.)
            if !failed && spawned > 0 {
                continue;
            }
        }
        let wait = retry_at
            .map_or(Duration::from_secs(1), |t| t.saturating_duration_since(now))
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let _ = tokio::time::timeout(wait, warmer.wake.notified()).await;
    }
}

/// The allocator a [`Warmer`] fills from was dropped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gone;

#[cfg(test)]
mod tests;
