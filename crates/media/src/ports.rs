//! RTP/RTCP port pair allocation from a configured range.
//!
//! Each call needs an even RTP port and the following odd RTCP port
//! (RFC 3550 section 11). Pairs are drawn at random from the free ones, so
//! the ports of a call cannot be guessed from those of the previous one (a
//! stranger who knows them can target a call's relay). Allocation happens
//! once per call leg, so a plain Mutex around a small free list is cheap
//! enough; the packet path never touches the allocator.
//!
//! With a STUN server ([`PortAllocator::enable_stun`]) the allocator also
//! keeps a few pairs ready whose server-reflexive address was just learnt
//! from their own RTP socket, and hands those out first (see
//! [`crate::stun`] for why the asking happens before a call wants a pair).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::runtime::Handle;

use crate::stun::{self, Gone, Mappings, StunStats, Warmer};
use crate::MediaError;

/// Hands out RTP/RTCP socket pairs from a port range, at random.
///
/// Cloning is cheap and clones share the same pool.
#[derive(Clone)]
pub struct PortAllocator {
    inner: Arc<Inner>,
}

struct Inner {
    ip: IpAddr,
    /// First RTP port (even).
    low: u16,
    /// Configured upper bound, only kept for error messages.
    high: u16,
    /// Reactor the sockets are registered with; None = the caller's runtime.
    rt: Option<Handle>,
    state: Mutex<State>,
    /// The pairs kept ready with a server-reflexive address, once
    /// [`PortAllocator::enable_stun`] was called.
    stun: OnceLock<Arc<Warmer>>,
}

struct State {
    /// Indices of the pairs not allocated by us, in no particular order.
    free: Vec<u32>,
    /// Pairs freed most recently, oldest first, kept out of `free` for a
    /// while (up to an eighth of the range) so that late packets of a call
    /// that just ended do not arrive at the next call on the same ports.
    cooling: VecDeque<u32>,
    /// Number of pairs in the range.
    pairs: usize,
}

impl PortAllocator {
    /// A pool of the even/odd pairs within `low..=high` on `ip`. Sockets
    /// register with the Tokio runtime current at [`allocate`](Self::allocate)
    /// time; prefer [`with_runtime`](Self::with_runtime) so the media runtime
    /// (not the SIP one) polls them.
    pub fn new(ip: IpAddr, low: u16, high: u16) -> Result<Self, MediaError> {
        Self::build(ip, low, high, None)
    }

    /// Like [`new`](Self::new), but sockets are registered with `rt`'s
    /// reactor whichever runtime calls `allocate`.
    pub fn with_runtime(ip: IpAddr, low: u16, high: u16, rt: Handle) -> Result<Self, MediaError> {
        Self::build(ip, low, high, Some(rt))
    }

    fn build(ip: IpAddr, low: u16, high: u16, rt: Option<Handle>) -> Result<Self, MediaError> {
        let invalid = MediaError::InvalidPortRange { low, high };
        if low == 0 {
            return Err(invalid);
        }
        let first = low
            .checked_add(low % 2)
            .ok_or(MediaError::InvalidPortRange { low, high })?;
        // Pair k uses first + 2k and first + 2k + 1, which must be <= high:
        // k <= (high - first - 1) / 2, i.e. ceil((high - first) / 2) pairs.
        let pairs = usize::from(high.saturating_sub(first)).div_ceil(2);
        if pairs == 0 {
            return Err(invalid);
        }
        Ok(PortAllocator {
            inner: Arc::new(Inner {
                ip,
                low: first,
                high,
                rt,
                state: Mutex::new(State {
                    // At most 32,767 pairs in a u16 port range.
                    free: (0..pairs as u32).collect(),
                    cooling: VecDeque::new(),
                    pairs,
                }),
                stun: OnceLock::new(),
            }),
        })
    }

    /// Learns every pair's server-reflexive address from the STUN server
    /// `server` before handing it out: a task on the allocator's runtime
    /// keeps a few pairs ready (see [`stun::warm_target`]), each asked
    /// about from its own RTP socket, and [`allocate`](Self::allocate)
    /// hands out the freshest of them, its mapping then found in
    /// [`mappings`](Self::mappings) by port. A call to this on an
    /// allocator that already has a server changes nothing.
    pub fn enable_stun(&self, server: SocketAddr) -> Result<(), MediaError> {
        let handle = match &self.inner.rt {
            Some(h) => h.clone(),
            None => Handle::try_current().map_err(|_| MediaError::NoRuntime)?,
        };
        let warmer = Arc::new(Warmer::new(server, stun::warm_target(self.capacity())));
        if self.inner.stun.set(Arc::clone(&warmer)).is_err() {
            return Ok(());
        }
        // The task holds the allocator weakly: it ends when the allocator
        // is dropped (its ready pairs with it).
        let weak = Arc::downgrade(&self.inner);
        handle.spawn(stun::run(warmer, move || {
            let inner = weak.upgrade().ok_or(Gone)?;
            match (PortAllocator { inner }).bind_free() {
                Ok(pair) => Ok(Some(pair)),
                Err(MediaError::PortsExhausted { .. }) => Ok(None),
                Err(e) => {
                    tracing::warn!(error = %e, "no RTP port pair to ask the STUN server about");
                    Ok(None)
                }
            }
        }));
        Ok(())
    }

    /// The server-reflexive addresses of the pairs handed out, by RTP port
    /// (None without a STUN server).
    pub fn mappings(&self) -> Option<Mappings> {
        self.inner.stun.get().map(|w| w.mappings.clone())
    }

    /// The counters of the STUN exchanges (None without a STUN server).
    pub fn stun_stats(&self) -> Option<Arc<StunStats>> {
        self.inner.stun.get().map(|w| Arc::clone(&w.stats))
    }

    /// Binds a free even RTP port, chosen at random, and the next odd RTCP
    /// port. Pairs that another process holds are skipped; fails with
    /// [`MediaError::PortsExhausted`] when no pair can be bound. With a
    /// STUN server, a pair whose mapping is ready comes first.
    pub fn allocate(&self) -> Result<RtpPortPair, MediaError> {
        if let Some(warmer) = self.inner.stun.get() {
            if let Some(pair) = warmer.take(Instant::now()) {
                return Ok(pair);
            }
            warmer.stats.unmapped.fetch_add(1, Relaxed);
        }
        self.bind_free()
    }

    /// Binds a free pair (the allocation proper, without ready pairs).
    fn bind_free(&self) -> Result<RtpPortPair, MediaError> {
        let inner = &self.inner;
        let handle = match &inner.rt {
            Some(h) => h.clone(),
            None => Handle::try_current().map_err(|_| MediaError::NoRuntime)?,
        };
        let mut st = inner.lock();
        // free[tried..untried] are the candidates; one that cannot be bound
        // moves behind them, so every pair is tried at most once. When none
        // of the free pairs can be bound, the cooling ones are better than
        // failing.
        let (mut tried, mut untried) = (0, st.free.len());
        loop {
            if tried == untried {
                if st.cooling.is_empty() {
                    break;
                }
                let State { free, cooling, .. } = &mut *st;
                tried = free.len();
                free.extend(cooling.drain(..));
                untried = free.len();
                continue;
            }
            let k = fastrand::usize(tried..untried);
            let idx = st.free[k];
            // idx < pairs and the range was checked in build(), so this fits.
            let port = inner.low + (idx as u16) * 2;
            let Some((rtp, rtcp)) = bind_pair(inner.ip, port)? else {
                untried -= 1;
                st.free.swap(k, untried);
                continue;
            };
            let _guard = handle.enter();
            let rtp = UdpSocket::from_std(rtp)?;
            let rtcp = UdpSocket::from_std(rtcp)?;
            st.free.swap_remove(k);
            return Ok(RtpPortPair {
                rtp,
                rtcp,
                port,
                _lease: Lease {
                    inner: Arc::downgrade(inner),
                    idx,
                    port,
                },
            });
        }
        Err(MediaError::PortsExhausted {
            low: inner.low,
            high: inner.high,
        })
    }

    /// Number of pairs currently allocated by this pool (not counting
    /// those kept ready with a server-reflexive address).
    pub fn in_use(&self) -> usize {
        let held = self.inner.stun.get().map_or(0, |w| w.held());
        let st = self.inner.lock();
        (st.pairs - st.free.len() - st.cooling.len()).saturating_sub(held)
    }

    /// Total number of pairs in the range.
    pub fn capacity(&self) -> usize {
        self.inner.lock().pairs
    }

    /// The address sockets are bound to.
    pub fn ip(&self) -> IpAddr {
        self.inner.ip
    }
}

impl fmt::Debug for PortAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortAllocator")
            .field("ip", &self.inner.ip)
            .field("low", &self.inner.low)
            .field("high", &self.inner.high)
            .field("in_use", &self.in_use())
            .finish()
    }
}

impl Inner {
    /// Poisoning cannot leave the free list inconsistent (each update is a
    /// single push, swap or removal), so a poisoned lock is simply taken over.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Binds both sockets of a pair; Ok(None) when either port is in use.
fn bind_pair(
    ip: IpAddr,
    port: u16,
) -> Result<Option<(std::net::UdpSocket, std::net::UdpSocket)>, MediaError> {
    let bind = |p: u16| -> io::Result<Option<std::net::UdpSocket>> {
        match std::net::UdpSocket::bind(SocketAddr::new(ip, p)) {
            Ok(s) => {
                s.set_nonblocking(true)?;
                Ok(Some(s))
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => Ok(None),
            Err(e) => Err(e),
        }
    };
    let Some(rtp) = bind(port)? else {
        return Ok(None);
    };
    let Some(rtcp) = bind(port + 1)? else {
        return Ok(None);
    };
    Ok(Some((rtp, rtcp)))
}

/// An RTP socket on an even port and its RTCP socket on the next port.
///
/// The ports return to the pool when the pair is dropped. Socket buffer
/// sizes are left at the OS default (about 208 KiB on Linux), far more than
/// one 50 packet/s stream needs; changing them would need a new dependency.
#[derive(Debug)]
pub struct RtpPortPair {
    /// Socket bound to the even RTP port.
    pub rtp: UdpSocket,
    /// Socket bound to `port + 1`.
    pub rtcp: UdpSocket,
    /// The RTP port number.
    pub port: u16,
    /// Declared last so it drops after both sockets are closed: a pair is
    /// only marked free once its ports really are.
    _lease: Lease,
}

/// Gives a pair back to its allocator on drop (if the allocator is still
/// there: weak, because the allocator's ready pairs hold leases too).
struct Lease {
    inner: Weak<Inner>,
    idx: u32,
    port: u16,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        if let Some(w) = inner.stun.get() {
            w.mappings.remove(self.port);
        }
        let mut st = inner.lock();
        st.cooling.push_back(self.idx);
        if st.cooling.len() > st.pairs / 8 {
            if let Some(idx) = st.cooling.pop_front() {
                st.free.push(idx);
            }
        }
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").field("idx", &self.idx).finish()
    }
}
