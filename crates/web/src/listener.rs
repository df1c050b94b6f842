//! The HTTP listener: our own accept loop around hyper, so that idle,
//! slow and numerous connections cannot starve the web admin (axum's
//! `serve` has no timeouts and no connection limits).
//!
//! - A connection must send a complete request head within
//!   `header_read_timeout` of opening, and again within that time of each
//!   response (hyper's header read timeout): slow-loris clients and idle
//!   keep-alive connections are closed.
//! - A connection on which no byte moves either way for `idle_timeout` is
//!   closed (a stalled upload or download). Live pages (server-sent
//!   events) send a keep-alive every 15 s, so they stay.
//! - At most `max_connections` are open, and at most
//!   `max_connections_per_ip` from one address (IPv6: one /64); beyond
//!   that a connection is answered 503 and closed at once.
//!
//! Refusals and accept errors are counted ([`WebMetrics`]) and logged at
//! most once per [`LOG_EVERY`] with the number left unlogged, so a flood
//! cannot flood the log too.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::auth::throttle::address_key;
use crate::metrics::WebMetrics;

/// At most one log line per kind of refusal in this time.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// What a connection refused at accept is told.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// The listener's limits (`[web]` in the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time to send a complete request head, from the connection's start
    /// or the end of the previous response.
    pub header_read_timeout: Duration,
    /// No byte in either direction for this long closes the connection.
    pub idle_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Open connections per client address (IPv6: per /64) at most.
    pub max_connections_per_ip: usize,
}

impl Limits {
    /// The limits of the `[web]` configuration section.
    pub fn from_config(w: &engine::config::WebConfig) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(w.header_read_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(w.idle_timeout_secs.max(1)),
            max_connections: w.max_connections.max(1),
            max_connections_per_ip: w.max_connections_per_ip.max(1),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_config(&engine::config::WebConfig::default())
    }
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` were open.
    Total,
    /// `max_connections_per_ip` were open from that address.
    PerIp,
}

/// Open connections, in total and per address key (sans-IO: the accept
/// loop asks, the connection's end releases).
#[derive(Debug)]
pub struct ConnTable {
    max_total: usize,
    max_per_ip: usize,
    total: usize,
    per_ip: HashMap<String, usize>,
}

impl ConnTable {
    /// An empty table with these caps.
    pub fn new(max_total: usize, max_per_ip: usize) -> ConnTable {
        ConnTable {
            max_total,
            max_per_ip,
            total: 0,
            per_ip: HashMap::new(),
        }
    }

    /// Counts a new connection from `key`, or says why it must be refused.
    pub fn admit(&mut self, key: &str) -> Result<(), Refusal> {
        if self.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let n = self.per_ip.entry(key.to_string()).or_insert(0);
        if *n >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *n += 1;
        self.total += 1;
        Ok(())
    }

    /// Forgets a connection from `key` that ended.
    pub fn release(&mut self, key: &str) {
        if let Some(n) = self.per_ip.get_mut(key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(key);
            }
            self.total = self.total.saturating_sub(1);
        }
    }

    /// Connections open.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Connections open from `key`.
    pub fn from(&self, key: &str) -> usize {
        self.per_ip.get(key).copied().unwrap_or(0)
    }
}

/// Lets one line through per period and counts the ones held back.
#[derive(Debug)]
pub struct LogGate {
    every: Duration,
    last: Option<Instant>,
    held: u64,
}

impl LogGate {
    /// A gate letting one line through per `every`.
    pub fn new(every: Duration) -> LogGate {
        LogGate {
            every,
            last: None,
            held: 0,
        }
    }

    /// `Some(lines held back since the last one)` if a line may be
    /// written at `now`, else None (and the line is counted as held).
    pub fn pass(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.every => {
                self.held += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held))
            }
        }
    }
}

/// [`LogGate::pass`] now, through its lock (a poisoned lock is recovered:
/// the gate is consistent between calls).
fn pass(gate: &Mutex<LogGate>) -> Option<u64> {
    let mut g = gate.lock().unwrap_or_else(|p| p.into_inner());
    g.pass(Instant::now())
}

/// The accept loop's shared state.
struct Shared {
    limits: Limits,
    metrics: Arc<WebMetrics>,
    table: Mutex<ConnTable>,
    refused_log: Mutex<LogGate>,
    accept_log: Mutex<LogGate>,
}

impl Shared {
    fn table(&self) -> std::sync::MutexGuard<'_, ConnTable> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Releases a connection's place in the table when its task ends.
struct Admitted {
    shared: Arc<Shared>,
    key: String,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.shared.table().release(&self.key);
        self.shared.metrics.http_connections.fetch_sub(1, Relaxed);
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves;
/// then stops accepting and asks open connections to finish their
/// current request and close.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Arc<WebMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let shared = Arc::new(Shared {
        limits,
        metrics,
        table: Mutex::new(ConnTable::new(
            limits.max_connections,
            limits.max_connections_per_ip,
        )),
        refused_log: Mutex::new(LogGate::new(LOG_EVERY)),
        accept_log: Mutex::new(LogGate::new(LOG_EVERY)),
    });
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => admit(&shared, &app, &closing_rx, stream, peer),
            Err(e) => {
                WebMetrics::inc(&shared.metrics.accept_errors);
                if let Some(held) = pass(&shared.accept_log) {
                    tracing::warn!(
                        "web: accepting a connection failed: {e} ({held} more not logged)"
                    );
                }
                // Out of descriptors: give connections time to end rather
                // than spinning on accept.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let _ = closing_tx.send(true);
}

/// Checks the caps for a new connection and serves it, or answers 503 and
/// closes it.
fn admit(
    shared: &Arc<Shared>,
    app: &Router,
    closing: &tokio::sync::watch::Receiver<bool>,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let key = address_key(&peer.ip().to_string());
    let verdict = shared.table().admit(&key);
    if let Err(why) = verdict {
        refuse(shared, stream, peer, why);
        return;
    }
    WebMetrics::inc(&shared.metrics.http_accepted);
    shared.metrics.http_connections.fetch_add(1, Relaxed);
    let admitted = Admitted {
        shared: shared.clone(),
        key,
    };
    let _ = stream.set_nodelay(true);
    let app = app.clone();
    let closing = closing.clone();
    tokio::spawn(async move {
        run_connection(admitted, app, closing, stream, peer).await;
    });
}

/// Answers 503 without waiting and closes; counts and (rate-limited) logs.
fn refuse(shared: &Shared, stream: TcpStream, peer: SocketAddr, why: Refusal) {
    let m = &shared.metrics;
    let (counter, limit, setting) = match why {
        Refusal::Total => (
            &m.refused_total_limit,
            shared.limits.max_connections,
            "web.max_connections",
        ),
        Refusal::PerIp => (
            &m.refused_per_ip_limit,
            shared.limits.max_connections_per_ip,
            "web.max_connections_per_ip",
        ),
    };
    WebMetrics::inc(counter);
    // Best effort: a full socket buffer just gets the close.
    let _ = stream.try_write(BUSY);
    drop(stream);
    if let Some(held) = pass(&shared.refused_log) {
        tracing::warn!(
            "web: refused a connection from {peer}: {limit} open ({setting}); \
             {held} more refused since the last such line"
        );
    }
}

/// How a connection's HTTP part ended.
enum Ended {
    /// hyper finished (the client closed, or the last response was sent
    /// on a connection that is not kept alive).
    Done,
    /// An error, a header read timeout or the idle timeout.
    Dropped,
}

/// Serves one connection until it ends, times out or the server stops.
async fn run_connection(
    admitted: Admitted,
    app: Router,
    mut closing: tokio::sync::watch::Receiver<bool>,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let limits = admitted.shared.limits;
    let metrics = admitted.shared.metrics.clone();
    let started = Instant::now();
    let activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Tracked {
        inner: stream,
        started,
        activity: activity.clone(),
    });
    let upgrade = crate::sipws::Upgrade::default();
    let slot = upgrade.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(slot.clone());
        // Boxed so that the connection is Unpin (poll_without_shutdown).
        Box::pin(app.clone().oneshot(req))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let mut conn = builder.serve_connection(io, service);
    let mut stopping = false;
    let ended = loop {
        let last = Duration::from_millis(activity.load(Relaxed));
        let idle_deadline = started + last + limits.idle_timeout;
        tokio::select! {
            r = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => match r {
                Ok(()) => break Ended::Done,
                Err(e) => {
                    if e.is_timeout() {
                        WebMetrics::inc(&metrics.header_timeouts);
                        tracing::debug!("web: {peer}: no complete request head in time");
                    } else {
                        tracing::debug!("web: {peer}: connection ended: {e}");
                    }
                    break Ended::Dropped;
                }
            },
            _ = closing.changed(), if !stopping => {
                stopping = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
            _ = tokio::time::sleep_until(idle_deadline.into()) => {
                let last = Duration::from_millis(activity.load(Relaxed));
                if Instant::now() >= started + last + limits.idle_timeout {
                    WebMetrics::inc(&metrics.idle_timeouts);
                    tracing::debug!(
                        "web: {peer}: closed after {:?} without traffic",
                        limits.idle_timeout
                    );
                    break Ended::Dropped;
                }
            }
        }
    };
    if let Ended::Done = ended {
        let parts = conn.into_parts();
        if let Some(hand_over) = upgrade.take() {
            // SIP over WebSocket (/ws): the stream goes to the SIP
            // transports, and stays counted under our caps until it closes.
            let io = Holding {
                io: parts.io.into_inner().inner,
                _admitted: admitted,
            };
            hand_over(Box::new(io), parts.read_buf.to_vec());
            return;
        }
        linger(parts.io.into_inner().inner).await;
    }
    drop(admitted);
}

/// A connection handed over after an upgrade, with its place under the
/// caps: given back when the new owner drops it.
struct Holding {
    io: TcpStream,
    _admitted: Admitted,
}

impl AsyncRead for Holding {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Holding {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Longest a closing connection is read from after our last response.
const LINGER_TIME: Duration = Duration::from_secs(5);
/// Most bytes read (and thrown away) from a closing connection.
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// Closes our side, then reads and discards what the client still sends
/// for a short while before closing ("lingering close", RFC 9112 9.6):
/// a response sent before the request body was read (413 for an
/// oversized upload) would otherwise be lost to the reset that closing
/// a socket with unread data causes. Bounded in time and bytes; a client
/// that closes ends it at once.
async fn linger(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tokio::time::timeout(LINGER_TIME, async {
        let _ = stream.shutdown().await;
        let mut buf = vec![0u8; 16 * 1024];
        let mut read = 0usize;
        while read < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

/// A TCP stream that notes when a byte last moved (milliseconds since
/// `started`), for the idle timeout.
struct Tracked {
    inner: TcpStream,
    started: Instant,
    activity: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.store(ms, Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_in_total_and_per_address() {
        let mut t = ConnTable::new(3, 2);
        assert_eq!(t.admit("10.0.0.1"), Ok(()));
        assert_eq!(t.admit("10.0.0.1"), Ok(()));
        assert_eq!(t.admit("10.0.0.1"), Err(Refusal::PerIp));
        assert_eq!(t.admit("10.0.0.2"), Ok(()));
        assert_eq!(t.admit("10.0.0.3"), Err(Refusal::Total));
        assert_eq!((t.total(), t.from("10.0.0.1")), (3, 2));
        t.release("10.0.0.1");
        assert_eq!(t.admit("10.0.0.3"), Ok(()));
        // Releasing an address with nothing open changes nothing.
        t.release("192.0.2.1");
        assert_eq!(t.total(), 3);
        for k in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            t.release(k);
        }
        assert_eq!((t.total(), t.from("10.0.0.1")), (0, 0));
        assert!(t.per_ip.is_empty(), "no entry left behind");
    }

    #[test]
    fn refusal_lines_are_rate_limited_and_count_what_was_held() {
        let mut g = LogGate::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(g.pass(t0), Some(0));
        for i in 1..=5 {
            assert_eq!(g.pass(t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(g.pass(t0 + Duration::from_secs(10)), Some(5));
        assert_eq!(g.pass(t0 + Duration::from_secs(11)), None);
        assert_eq!(g.pass(t0 + Duration::from_secs(25)), Some(1));
    }
}
