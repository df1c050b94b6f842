//! UDP, TCP, TLS and WebSocket transports (tokio). They frame and parse messages, answer what
//! cannot be parsed, and hand parsed messages to the endpoint driver.
//!
//! Parsing happens here, in the receive tasks, so it runs in parallel with the
//! driver task that owns the transaction layer.
//!
//! SIP over TCP is open to anyone who can reach the port, so every connection
//! is bounded ([`TcpLimits`]): a cap in total and per source address, a
//! deadline for the first complete message, for each message once it has
//! started and for silence, and a cap on what waits to be written to a peer
//! that does not read. Refusals and failures are counted in [`SipStats`] and
//! logged at most once per [`LOG_EVERY`].
//!
//! TLS (RFC 3261 §26) is TCP with a rustls session in between: the same
//! framing, caps and deadlines; the handshake must finish within the
//! first-message deadline. Connections we open verify the server's
//! certificate against the name given with [`Transports::set_tls_name`] (the
//! gateway's host), or its IP address when none was given.
//!
//! WebSocket (RFC 7118, [`ws`]): browsers connect to the WSS listener or to
//! the HTTP port's `/ws` (handed over through a [`WsAcceptor`]); one SIP
//! message per frame, under the same caps and deadlines as TCP.

mod ws;
pub use ws::{
    offers_sip_protocol, ws_accept_key, WsAcceptor, WsIo, WsRefused, WsTicket, WS_PROTOCOL,
};

use crate::parse::{find_head_end, parse_message, MAX_MESSAGE_SIZE};
use crate::peer::{Peer, Transmit, TransportKind};
use bytes::{Buf, Bytes, BytesMut};
use dashmap::DashMap;
use rustls::pki_types::ServerName;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Settings of SIP over TLS for one set of transports.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// Where to accept TLS connections, and with which certificate; None:
    /// TLS only for connections we open.
    pub listen: Option<TlsListen>,
    /// How servers we connect to are verified.
    pub client: Arc<rustls::ClientConfig>,
    /// Where to accept SIP over secure WebSocket (RFC 7118), if anywhere:
    /// browsers, with the same certificate as the TLS listener.
    pub wss: Option<TlsListen>,
}

/// A TLS listener: its address and the server side of the handshake.
#[derive(Clone, Debug)]
pub struct TlsListen {
    /// Address to accept on (port 0: any free port).
    pub bind: SocketAddr,
    /// Certificate chain and key offered to clients.
    pub server: Arc<rustls::ServerConfig>,
}

impl TlsSettings {
    /// Client side only, verifying servers against the Mozilla roots
    /// (webpki-roots): what gateways on the public Internet present.
    pub fn client_only() -> Result<TlsSettings, rustls::Error> {
        let roots = public_roots();
        Ok(TlsSettings {
            listen: None,
            client: Arc::new(client_config(roots)?),
            wss: None,
        })
    }
}

/// The Mozilla root certificates (webpki-roots), compiled in, so
/// verification does not depend on the host's certificate store.
pub fn public_roots() -> rustls::RootCertStore {
    rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
}

/// The ring provider, named explicitly so no other crate's choice of a
/// process-wide default can change what SIP uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts `roots`.
pub fn client_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, rustls::Error> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A server configuration from PEM text: the certificate chain (leaf first)
/// and its private key. Errors say what is wrong with which part.
pub fn server_config_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if certs.is_empty() {
        return Err("certificate: no CERTIFICATE block in the PEM text".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("private key: {e}"))?;
    rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key: {e}"))
}
/// Counters every transport updates; exported as metrics by the engine.
#[derive(Default, Debug)]
pub struct SipStats {
    /// Messages received and parsed.
    pub messages_in: AtomicU64,
    /// Messages written to the network.
    pub messages_out: AtomicU64,
    /// Messages that failed to parse (answered with 400/501 when possible).
    pub parse_errors: AtomicU64,
    /// Datagrams or TCP messages dropped for size.
    pub oversized: AtomicU64,
    /// TCP connections closed because a message had no Content-Length.
    pub tcp_framing_errors: AtomicU64,
    /// Sends that failed (socket error, no TCP connection).
    pub send_errors: AtomicU64,
    /// TCP connections open now (accepted and opened by us).
    pub tcp_open: AtomicI64,
    /// Accepted TCP connections closed at once: the total cap was reached.
    pub tcp_refused_total: AtomicU64,
    /// Accepted TCP connections closed at once: their source address had
    /// its share already.
    pub tcp_refused_per_ip: AtomicU64,
    /// TCP connections closed because no complete message came in time
    /// after they were opened.
    pub tcp_timeout_first_message: AtomicU64,
    /// TCP connections closed because a message that had started did not
    /// complete in time (slow-loris).
    pub tcp_timeout_message: AtomicU64,
    /// TCP connections closed after a silence longer than the idle timeout.
    pub tcp_timeout_idle: AtomicU64,
    /// TCP connections dropped because the peer did not read what we sent
    /// and the send queue reached its cap.
    pub tcp_send_overflows: AtomicU64,
    /// `accept` failures (typically "Too many open files").
    pub tcp_accept_errors: AtomicU64,
    /// TLS handshakes that failed or timed out, accepted and opened (plain
    /// text on the TLS port, an unknown certificate).
    pub tls_handshake_errors: AtomicU64,
    /// WebSocket connections open now through the HTTP port's `/ws`.
    pub ws_open: AtomicI64,
    /// WebSocket connections open now on the WSS listener.
    pub wss_open: AtomicI64,
    /// WebSocket connections refused at once: the total cap (shared with
    /// TCP and TLS) was reached.
    pub ws_refused_total: AtomicU64,
    /// WebSocket connections refused at once: their source address had
    /// its share already.
    pub ws_refused_per_ip: AtomicU64,
    /// WebSocket opening handshakes refused or failed: no `sip`
    /// subprotocol, not a WebSocket request, too slow.
    pub ws_handshake_errors: AtomicU64,
    /// WebSocket connections closed for what they sent: frames that break
    /// the WebSocket protocol or carry no SIP at all.
    pub ws_protocol_errors: AtomicU64,
    /// WebSocket connections closed for a frame larger than a SIP message
    /// may be.
    pub ws_oversized: AtomicU64,
    /// WebSocket connections closed because no SIP message came in time
    /// after they were opened.
    pub ws_timeout_first_message: AtomicU64,
    /// WebSocket connections closed after a silence longer than the idle
    /// timeout (WebSocket pings count as traffic).
    pub ws_timeout_idle: AtomicU64,
}

/// Limits of SIP over TCP, per transport (one SIP profile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Accepted connections open at once; more are closed as they come.
    pub max_connections: usize,
    /// Accepted connections open at once from one source (an IPv4 address,
    /// or an IPv6 /64, which one machine typically owns whole).
    pub max_per_ip: usize,
    /// A new accepted connection must deliver a complete message within
    /// this, or it is closed (keep-alive CRLFs do not count).
    pub first_message_timeout: Duration,
    /// Once a message has started, its last byte must come within this
    /// (a peer trickling bytes to hold the connection is closed).
    pub message_timeout: Duration,
    /// A connection that delivered no message and no keep-alive ping
    /// (CRLFCRLF, RFC 5626) for this long is closed.
    pub idle_timeout: Duration,
    /// Bytes waiting to be written to one peer; a peer that does not read
    /// and lets more pile up is disconnected.
    pub send_queue_bytes: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 2048,
            max_per_ip: 128,
            first_message_timeout: Duration::from_secs(20),
            message_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            send_queue_bytes: 256 * 1024,
        }
    }
}

/// At most one warning of each kind (accept failures, refusals, send
/// overflows) per this interval; the next one says how many were not logged.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// A parsed message and where it came from.
pub struct Received {
    /// The message.
    pub msg: rsip::SipMessage,
    /// Its real source.
    pub from: Peer,
}

/// What the transports report to the driver.
// Nearly every value is a message: boxing it to shrink the rare close
// would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
pub enum Inbound {
    /// A parsed message.
    Message(Received),
    /// A WebSocket connection that had carried a SIP message ended: nothing
    /// can be sent to that peer any more (no one can open a connection to
    /// a browser), so what is bound to it should go.
    Closed(Peer),
}

/// How received messages are reported to the driver.
pub type InboundTx = mpsc::UnboundedSender<Inbound>;

/// The sending side of one TCP connection, as kept in the connection table.
struct Conn {
    tx: mpsc::UnboundedSender<Bytes>,
    /// Bytes handed to the writer and not yet written.
    queued: Arc<AtomicUsize>,
    /// Set to true to end both tasks of the connection.
    close: Arc<watch::Sender<bool>>,
}

/// Why a payload could not be queued on a connection.
enum QueueError {
    /// The writer has ended (connection gone).
    Closed,
    /// The peer is not reading: the queue reached its cap. The connection
    /// has been told to close.
    Full,
}

impl Conn {
    fn enqueue(&self, payload: Bytes, cap: usize) -> Result<(), QueueError> {
        let n = payload.len();
        let before = self.queued.fetch_add(n, Relaxed);
        if before.saturating_add(n) > cap {
            self.queued.fetch_sub(n, Relaxed);
            self.close.send_replace(true);
            return Err(QueueError::Full);
        }
        self.tx.send(payload).map_err(|_| {
            self.queued.fetch_sub(n, Relaxed);
            QueueError::Closed
        })
    }
}

/// Log limiters, one per kind of event that an attacker can make frequent.
#[derive(Default)]
struct Logs {
    accept: Mutex<LogLimit>,
    refused: Mutex<LogLimit>,
    overflow: Mutex<LogLimit>,
    handshake: Mutex<LogLimit>,
}

/// The TLS side of [`Transports`].
struct Tls {
    connector: TlsConnector,
    /// Names to verify servers' certificates against, by address.
    names: DashMap<SocketAddr, ServerName<'static>>,
    /// Where the TLS listener is bound, if there is one.
    local: Option<SocketAddr>,
    /// Where the WSS listener is bound, if there is one.
    wss_local: Option<SocketAddr>,
}

/// Everything needed to send: the UDP socket and the table of stream
/// (TCP and TLS) connections.
#[derive(Clone)]
pub struct Transports {
    udp: Arc<UdpSocket>,
    tcp: Arc<DashMap<Peer, Conn>>,
    /// Peers a connection is being opened to, and what waits for it.
    connecting: Arc<DashMap<Peer, Vec<Bytes>>>,
    tls: Arc<Tls>,
    stats: Arc<SipStats>,
    log_messages: bool,
    inbound: InboundTx,
    local: SocketAddr,
    limits: Arc<TcpLimits>,
    admission: Arc<ConnLimiter>,
    logs: Arc<Logs>,
    /// Hands WebSocket connections accepted elsewhere (the HTTP port) to
    /// this set of transports.
    ws: WsAcceptor,
}

impl Transports {
    /// Bind UDP and TCP on `addr` (and TLS where `tls` says) and start
    /// receiving. Parsed messages go to `inbound`.
    pub async fn bind(
        addr: SocketAddr,
        inbound: InboundTx,
        stats: Arc<SipStats>,
        log_messages: bool,
        limits: TcpLimits,
        tls: TlsSettings,
    ) -> std::io::Result<Transports> {
        let udp = bind_udp(addr)?;
        let local = udp.local_addr()?;
        let listener = TcpListener::bind(local).await?;
        let tls_listener = match &tls.listen {
            Some(l) => {
                let listener = TcpListener::bind(l.bind).await?;
                Some((listener, TlsAcceptor::from(l.server.clone())))
            }
            None => None,
        };
        let tls_local = match &tls_listener {
            Some((l, _)) => Some(l.local_addr()?),
            None => None,
        };
        let wss_listener = match &tls.wss {
            Some(l) => {
                let listener = TcpListener::bind(l.bind).await?;
                Some((listener, TlsAcceptor::from(l.server.clone())))
            }
            None => None,
        };
        let wss_local = match &wss_listener {
            Some((l, _)) => Some(l.local_addr()?),
            None => None,
        };
        let admission = Arc::new(ConnLimiter::new(limits.max_connections, limits.max_per_ip));
        let logs: Arc<Logs> = Arc::default();
        let (handoff_tx, handoff_rx) = mpsc::unbounded_channel();
        let ws = WsAcceptor::new(handoff_tx, admission.clone(), stats.clone(), logs.clone());
        let t = Transports {
            udp: Arc::new(udp),
            tcp: Arc::new(DashMap::new()),
            connecting: Arc::new(DashMap::new()),
            tls: Arc::new(Tls {
                connector: TlsConnector::from(tls.client),
                names: DashMap::new(),
                local: tls_local,
                wss_local,
            }),
            stats,
            log_messages,
            inbound,
            local,
            admission,
            limits: Arc::new(limits),
            logs,
            ws,
        };
        tokio::spawn(t.clone().accept_loop(listener, None));
        if let Some((listener, acceptor)) = tls_listener {
            tokio::spawn(t.clone().accept_loop(listener, Some(acceptor)));
        }
        if let Some((listener, acceptor)) = wss_listener {
            tokio::spawn(t.clone().wss_accept_loop(listener, acceptor));
        }
        tokio::spawn(t.clone().handoff_loop(handoff_rx));
        Ok(t)
    }

    /// The bound address (useful when the port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The address the TLS listener is bound to, if there is one.
    pub fn tls_local_addr(&self) -> Option<SocketAddr> {
        self.tls.local
    }

    /// The name to verify the certificate of the TLS server at `addr`
    /// against (the host a gateway was configured with). Without one, the
    /// certificate must name the IP address. An unusable name is refused.
    pub fn set_tls_name(&self, addr: SocketAddr, host: &str) -> Result<(), String> {
        self.tls_handle().set_name(addr, host)
    }

    /// The TLS side alone, for holders that must not keep the sockets open.
    pub fn tls_handle(&self) -> TlsHandle {
        TlsHandle(self.tls.clone())
    }

    /// The address the WSS listener is bound to, if there is one.
    pub fn wss_local_addr(&self) -> Option<SocketAddr> {
        self.tls.wss_local
    }

    /// Where WebSocket connections accepted elsewhere (the HTTP port's
    /// `/ws`) are handed to these transports. Holding it keeps no socket
    /// open.
    pub fn ws_acceptor(&self) -> WsAcceptor {
        self.ws.clone()
    }
}

/// The TLS side of a [`Transports`]: its listener's address and the server
/// names of peers. Holding it keeps no socket open.
#[derive(Clone)]
pub struct TlsHandle(Arc<Tls>);

impl TlsHandle {
    /// The address the TLS listener is bound to, if there is one.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.0.local
    }

    /// The address the WSS listener is bound to, if there is one.
    pub fn wss_local_addr(&self) -> Option<SocketAddr> {
        self.0.wss_local
    }

    /// See [`Transports::set_tls_name`].
    pub fn set_name(&self, addr: SocketAddr, host: &str) -> Result<(), String> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host:?} is no TLS server name: {e}"))?;
        self.0.names.insert(addr, name);
        Ok(())
    }
}

impl Transports {
    /// Put a message on the wire. Never blocks the caller for long: UDP uses a
    /// non-blocking send first; TCP queues to the connection's writer task.
    pub fn send(&self, t: Transmit) {
        if self.log_messages {
            tracing::info!(target: "sip", "send to {}:\n{}", t.peer, String::from_utf8_lossy(&t.payload));
        }
        match t.peer.transport {
            TransportKind::Udp => match self.udp.try_send_to(&t.payload, t.peer.addr) {
                Ok(_) => {
                    self.stats.messages_out.fetch_add(1, Relaxed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // Socket buffer full: finish the send off the driver's path.
                    let udp = self.udp.clone();
                    let stats = self.stats.clone();
                    tokio::spawn(async move {
                        match udp.send_to(&t.payload, t.peer.addr).await {
                            Ok(_) => stats.messages_out.fetch_add(1, Relaxed),
                            Err(_) => stats.send_errors.fetch_add(1, Relaxed),
                        };
                    });
                }
                Err(e) => {
                    self.stats.send_errors.fetch_add(1, Relaxed);
                    tracing::debug!("udp send to {} failed: {e}", t.peer.addr);
                }
            },
            TransportKind::Tcp | TransportKind::Tls => {
                match self.queue_tcp(t.peer, t.payload.clone()) {
                    Some(Ok(())) => {
                        self.stats.messages_out.fetch_add(1, Relaxed);
                    }
                    // The peer stopped reading: it was disconnected, and opening
                    // a new connection to it would only start over.
                    Some(Err(QueueError::Full)) => {
                        self.stats.send_errors.fetch_add(1, Relaxed);
                    }
                    Some(Err(QueueError::Closed)) | None => self.connect_then_send(t),
                }
            }
            // Only the browser can open a WebSocket connection: without
            // the one it opened, there is no way to reach it.
            TransportKind::Ws | TransportKind::Wss => match self.queue_tcp(t.peer, t.payload) {
                Some(Ok(())) => {
                    self.stats.messages_out.fetch_add(1, Relaxed);
                }
                Some(Err(_)) | None => {
                    self.stats.send_errors.fetch_add(1, Relaxed);
                    tracing::debug!("no websocket connection from {} to send on", t.peer);
                }
            },
        }
    }

    /// Queue `payload` on the stream connection to `peer`, if there is one.
    /// A full queue drops the connection (counted and logged).
    fn queue_tcp(&self, peer: Peer, payload: Bytes) -> Option<Result<(), QueueError>> {
        let addr = peer.addr;
        let r = self
            .tcp
            .get(&peer)
            .map(|c| c.enqueue(payload, self.limits.send_queue_bytes))?;
        if let Err(QueueError::Full) = r {
            // The guard of `get` is released: removing now cannot deadlock.
            self.tcp.remove(&peer);
            self.stats.tcp_send_overflows.fetch_add(1, Relaxed);
            if let Some(skipped) = lock(&self.logs.overflow).allow(Instant::now()) {
                tracing::warn!(
                    "tcp connection from {addr} dropped: it does not read and more than {} bytes \
                     waited to be sent{}",
                    self.limits.send_queue_bytes,
                    suppressed(skipped)
                );
            }
        }
        Some(r)
    }

    /// No connection to that peer yet: open one (we are the client). What
    /// is sent to it meanwhile waits for that connection instead of opening
    /// more (a TLS handshake costs round trips), up to the send queue's cap.
    fn connect_then_send(&self, t: Transmit) {
        use dashmap::mapref::entry::Entry;
        match self.connecting.entry(t.peer) {
            Entry::Occupied(mut waiting) => {
                let queued: usize = waiting.get().iter().map(Bytes::len).sum();
                if queued.saturating_add(t.payload.len()) > self.limits.send_queue_bytes {
                    self.stats.send_errors.fetch_add(1, Relaxed);
                } else {
                    waiting.get_mut().push(t.payload);
                }
            }
            Entry::Vacant(v) => {
                v.insert(vec![t.payload]);
                let me = self.clone();
                tokio::spawn(async move { me.connect_and_send(t.peer).await });
            }
        }
    }

    async fn connect_and_send(self, peer: Peer) {
        let opened = self.open(peer).await;
        let waiting = self
            .connecting
            .remove(&peer)
            .map(|(_, w)| w)
            .unwrap_or_default();
        if !opened {
            self.stats
                .send_errors
                .fetch_add(waiting.len() as u64, Relaxed);
            return;
        }
        for payload in waiting {
            if let Some(Ok(())) = self.queue_tcp(peer, payload) {
                self.stats.messages_out.fetch_add(1, Relaxed);
            }
        }
    }

    /// Connect to `peer` (and for TLS, complete the handshake) and start the
    /// connection's tasks. False if that failed (counted and logged).
    async fn open(&self, peer: Peer) -> bool {
        let stream = match TcpStream::connect(peer.addr).await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!("tcp connect to {} failed: {e}", peer.addr);
                return false;
            }
        };
        let _ = stream.set_nodelay(true);
        if peer.transport == TransportKind::Tls {
            let name = match self.tls.names.get(&peer.addr) {
                Some(n) => n.clone(),
                None => ServerName::IpAddress(peer.addr.ip().into()),
            };
            let handshake = self.tls.connector.connect(name, stream);
            match tokio::time::timeout(self.limits.first_message_timeout, handshake).await {
                Ok(Ok(tls)) => self.clone().start_connection(tls, peer, None),
                Ok(Err(e)) => {
                    self.tls_failed(peer.addr, &e.to_string());
                    return false;
                }
                Err(_) => {
                    self.tls_failed(peer.addr, "handshake timed out");
                    return false;
                }
            }
        } else {
            self.clone().start_connection(stream, peer, None);
        }
        true
    }

    /// A TLS handshake with `addr` failed: counted, and logged at most once
    /// per [`LOG_EVERY`] (anyone can make them fail).
    fn tls_failed(&self, addr: SocketAddr, why: &str) {
        self.stats.tls_handshake_errors.fetch_add(1, Relaxed);
        if let Some(skipped) = lock(&self.logs.handshake).allow(Instant::now()) {
            tracing::info!(
                "tls handshake with {addr} failed: {why}{}",
                suppressed(skipped)
            );
        }
    }

    /// The UDP socket; the endpoint driver receives on it directly so a
    /// datagram is parsed and handled without a hop between tasks.
    pub fn udp_socket(&self) -> Arc<UdpSocket> {
        self.udp.clone()
    }

    /// Parse one datagram; answer what cannot be parsed. Returns the message to handle.
    pub fn accept_datagram(&self, data: &[u8], from: Peer) -> Option<rsip::SipMessage> {
        if data.len() > MAX_MESSAGE_SIZE {
            self.stats.oversized.fetch_add(1, Relaxed);
            return None;
        }
        self.parse_or_answer(data, from)
    }

    /// Handle one framed TCP message; tells the connection's clock what it was.
    fn handle_bytes(&self, data: &[u8], from: Peer) -> Arrived {
        // Keep-alives (RFC 5626 CRLF pings and stray whitespace) are not messages.
        if data.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            if from.transport.is_reliable() && data.starts_with(b"\r\n\r\n") {
                let _ = self.queue_tcp(from, Bytes::from_static(b"\r\n"));
            }
            return Arrived::KeepAlive;
        }
        match self.parse_or_answer(data, from) {
            Some(msg) => {
                let _ = self.inbound.send(Inbound::Message(Received { msg, from }));
                Arrived::Message
            }
            None => Arrived::Garbage,
        }
    }

    fn parse_or_answer(&self, data: &[u8], from: Peer) -> Option<rsip::SipMessage> {
        // Keep-alives (RFC 5626 CRLF pings, stray whitespace) are not messages.
        if data.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            return None;
        }
        if self.log_messages {
            tracing::info!(target: "sip", "recv from {from}:\n{}", String::from_utf8_lossy(data));
        }
        match parse_message(data) {
            Ok(msg) => {
                self.stats.messages_in.fetch_add(1, Relaxed);
                Some(msg)
            }
            Err(failure) => {
                self.stats.parse_errors.fetch_add(1, Relaxed);
                tracing::debug!("unparseable message from {from}: {}", failure.reason);
                if let Some(reply) = failure.reply {
                    self.send(Transmit {
                        peer: from,
                        payload: reply,
                    });
                }
                None
            }
        }
    }

    /// Accept TCP connections, or TLS ones with `tls`. TLS and TCP share
    /// the caps.
    async fn accept_loop(self, listener: TcpListener, tls: Option<TlsAcceptor>) {
        let kind = if tls.is_some() { "tls" } else { "tcp" };
        loop {
            match listener.accept().await {
                Ok((stream, addr)) => match self.admission.admit(addr.ip()) {
                    Ok(admitted) => {
                        let _ = stream.set_nodelay(true);
                        match &tls {
                            None => self.clone().start_connection(
                                stream,
                                Peer::tcp(addr),
                                Some(admitted),
                            ),
                            Some(acceptor) => {
                                let me = self.clone();
                                let handshake = acceptor.accept(stream);
                                tokio::spawn(async move {
                                    let limit = me.limits.first_message_timeout;
                                    match tokio::time::timeout(limit, handshake).await {
                                        Ok(Ok(tls)) => me.start_connection(
                                            tls,
                                            Peer::tls(addr),
                                            Some(admitted),
                                        ),
                                        Ok(Err(e)) => me.tls_failed(addr, &e.to_string()),
                                        Err(_) => me.tls_failed(addr, "handshake timed out"),
                                    }
                                });
                            }
                        }
                    }
                    Err(refusal) => {
                        // Dropping the stream closes it before anything is read.
                        drop(stream);
                        self.ws.refused(kind, addr, refusal);
                    }
                },
                // Out of descriptors, typically: the pending connection
                // stays in the backlog, so retry after a pause.
                Err(e) => self.accept_failed(kind, e).await,
            }
        }
    }

    /// Accept failed (typically out of descriptors): counted, logged at
    /// most once per [`LOG_EVERY`], and a pause so the loop does not spin.
    async fn accept_failed(&self, kind: &str, e: std::io::Error) {
        self.stats.tcp_accept_errors.fetch_add(1, Relaxed);
        if let Some(skipped) = lock(&self.logs.accept).allow(Instant::now()) {
            tracing::warn!(
                "{kind} accept on {} failed: {e}{}",
                self.local,
                suppressed(skipped)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Register a connection and run its reader and writer tasks. `admitted`
    /// is the accepted connection's place under the caps (None for the
    /// connections we open); it is given back when the connection ends.
    fn start_connection<S>(self, stream: S, peer: Peer, admitted: Option<Admission>)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let addr = peer.addr;
        let (mut rd, mut wr) = tokio::io::split(stream);
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        let queued = Arc::new(AtomicUsize::new(0));
        let (close, mut closed_w) = watch::channel(false);
        let close = Arc::new(close);
        let mut closed_r = close.subscribe();
        let writer = tx.clone();
        self.tcp.insert(
            peer,
            Conn {
                tx,
                queued: queued.clone(),
                close: close.clone(),
            },
        );
        self.stats.tcp_open.fetch_add(1, Relaxed);
        let close_w = close.clone();
        tokio::spawn(async move {
            loop {
                let b = tokio::select! {
                    b = rx.recv() => match b {
                        Some(b) => b,
                        None => break,
                    },
                    _ = closed_w.wait_for(|c| *c) => break,
                };
                tokio::select! {
                    // Flushing matters for TLS: the session may hold
                    // records back otherwise (a no-op for plain TCP).
                    r = async { wr.write_all(&b).await?; wr.flush().await } => if r.is_err() {
                        break;
                    },
                    _ = closed_w.wait_for(|c| *c) => break,
                }
                queued.fetch_sub(b.len(), Relaxed);
            }
            // A failed write ends the reader too.
            close_w.send_replace(true);
        });
        let limits = self.limits.clone();
        let inbound = admitted.is_some();
        tokio::spawn(async move {
            // Held until the connection ends, then given back.
            let _admitted = admitted;
            let mut clock = ConnClock::new(Instant::now(), inbound);
            let mut buf = BytesMut::with_capacity(8192);
            'conn: loop {
                let (deadline, expiry) = clock.deadline(&limits);
                tokio::select! {
                    r = rd.read_buf(&mut buf) => match r {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    },
                    _ = tokio::time::sleep_until(deadline.into()) => {
                        let counter = match expiry {
                            Expiry::FirstMessage => &self.stats.tcp_timeout_first_message,
                            Expiry::Message => &self.stats.tcp_timeout_message,
                            Expiry::Idle => &self.stats.tcp_timeout_idle,
                        };
                        counter.fetch_add(1, Relaxed);
                        tracing::debug!("closing {} connection from {addr}: {}", peer.transport, expiry.describe());
                        break;
                    }
                    _ = closed_r.wait_for(|c| *c) => break,
                }
                let now = Instant::now();
                loop {
                    match frame(&mut buf) {
                        Framed::Message(m) => match self.handle_bytes(&m, peer) {
                            Arrived::Message => clock.message(now),
                            Arrived::KeepAlive => clock.keepalive(now),
                            Arrived::Garbage => {}
                        },
                        Framed::NeedMore => break,
                        Framed::Invalid(why) => {
                            self.stats.tcp_framing_errors.fetch_add(1, Relaxed);
                            tracing::info!(
                                "closing {} connection from {addr}: {why}",
                                peer.transport
                            );
                            break 'conn;
                        }
                    }
                }
                clock.buffered(now, !buf.is_empty());
            }
            close.send_replace(true);
            self.stats.tcp_open.fetch_sub(1, Relaxed);
            // Only remove our own entry: a reconnect may already have replaced it.
            self.tcp.remove_if(&peer, |_, c| c.tx.same_channel(&writer));
        });
    }
}

/// A poisoned lock only means another thread panicked while logging; the
/// limiter's state is still usable.
fn lock(m: &Mutex<LogLimit>) -> std::sync::MutexGuard<'_, LogLimit> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The tail of a rate-limited warning: how many like it were not logged.
fn suppressed(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(
            " ({n} more like this not logged in the last {} s)",
            LOG_EVERY.as_secs()
        )
    }
}

/// Rate limit for a log line: at most one per [`LOG_EVERY`], counting the
/// ones left out.
#[derive(Default, Debug)]
struct LogLimit {
    last: Option<Instant>,
    skipped: u64,
}

impl LogLimit {
    /// Whether to log now; if so, how many were left out since the last one.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < LOG_EVERY => {
                self.skipped += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.skipped))
            }
        }
    }
}

/// Why an accepted connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Total,
    PerIp,
}

/// Counts accepted connections in total and per source.
struct ConnLimiter {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// An accepted connection's place under the caps, given back on drop.
struct Admission {
    limiter: Arc<ConnLimiter>,
    key: IpAddr,
}

impl ConnLimiter {
    fn new(max_total: usize, max_per_ip: usize) -> ConnLimiter {
        ConnLimiter {
            max_total,
            max_per_ip,
            open: Mutex::new((0, HashMap::new())),
        }
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admission, Refusal> {
        let key = source_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_ip) = &mut *open;
        if *total >= self.max_total {
            return Err(Refusal::Total);
        }
        let n = per_ip.entry(key).or_insert(0);
        if *n >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *n += 1;
        *total += 1;
        Ok(Admission {
            limiter: self.clone(),
            key,
        })
    }

    fn release(&self, key: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_ip) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(n) = per_ip.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&key);
            }
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.limiter.release(self.key);
    }
}

/// The unit the per-source cap counts: an IPv4 address (also when it comes
/// IPv4-mapped on a dual-stack socket) or an IPv6 /64.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            seg[4..].fill(0);
            IpAddr::from(seg)
        }
        v4 => v4,
    }
}

/// What a framed piece of a TCP stream turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arrived {
    /// A SIP message that parsed.
    Message,
    /// A CRLF keep-alive ping.
    KeepAlive,
    /// Framed but unparseable (answered with 400 where possible): it keeps
    /// no connection alive.
    Garbage,
}

/// Which deadline closes a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    FirstMessage,
    Message,
    Idle,
}

impl Expiry {
    fn describe(self) -> &'static str {
        match self {
            Expiry::FirstMessage => "no complete message since it was opened",
            Expiry::Message => "a message started but did not complete in time",
            Expiry::Idle => "idle",
        }
    }
}

/// The deadlines of one TCP connection (sans-IO: the reader feeds it what
/// happened and sleeps until [`ConnClock::deadline`]).
#[derive(Debug)]
struct ConnClock {
    opened: Instant,
    /// Last complete message or keep-alive ping; None until the first
    /// message of an accepted connection.
    last_message: Option<Instant>,
    /// When the message now partly received started.
    partial_since: Option<Instant>,
}

impl ConnClock {
    /// `inbound`: accepted by us (it must speak first). A connection we
    /// opened starts as if it had just delivered a message.
    fn new(now: Instant, inbound: bool) -> ConnClock {
        ConnClock {
            opened: now,
            last_message: (!inbound).then_some(now),
            partial_since: None,
        }
    }

    /// A complete SIP message arrived.
    fn message(&mut self, now: Instant) {
        self.last_message = Some(now);
    }

    /// A keep-alive ping arrived: it keeps a connection that has carried a
    /// message alive, but is not a first message (pings alone would
    /// otherwise hold a connection for nothing).
    fn keepalive(&mut self, now: Instant) {
        if self.last_message.is_some() {
            self.last_message = Some(now);
        }
    }

    /// After framing what was read: whether part of a message is left over.
    fn buffered(&mut self, now: Instant, partial: bool) {
        if !partial {
            self.partial_since = None;
        } else if self.partial_since.is_none() {
            self.partial_since = Some(now);
        }
    }

    /// The earliest deadline and what it is for.
    fn deadline(&self, l: &TcpLimits) -> (Instant, Expiry) {
        let base = match self.last_message {
            None => (self.opened + l.first_message_timeout, Expiry::FirstMessage),
            Some(t) => (t + l.idle_timeout, Expiry::Idle),
        };
        match self.partial_since {
            Some(p) if p + l.message_timeout < base.0 => (p + l.message_timeout, Expiry::Message),
            _ => base,
        }
    }
}

/// Socket buffer wanted for SIP over UDP. Bursts of thousands of requests
/// (a PBX restart, a load test) overflow the default ~200 KB and the kernel
/// drops datagrams, which then cost a retransmission each. The kernel caps this
/// at net.core.rmem_max / wmem_max.
const UDP_BUFFER: usize = 8 * 1024 * 1024;

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        let _ = sock.set_only_v6(false);
    }
    if let Err(e) = sock.set_recv_buffer_size(UDP_BUFFER) {
        tracing::debug!("SO_RCVBUF: {e}");
    }
    if let Err(e) = sock.set_send_buffer_size(UDP_BUFFER) {
        tracing::debug!("SO_SNDBUF: {e}");
    }
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock.into())
}

/// Result of trying to cut one message off a TCP byte stream.
enum Framed {
    Message(Bytes),
    NeedMore,
    Invalid(&'static str),
}

/// The Content-Length of a message head (compact `l` too): None when it
/// has none, an error when it is no number.
fn content_length(head: &[u8]) -> Option<Result<usize, std::num::ParseIntError>> {
    let head = String::from_utf8_lossy(head);
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        let n = n.trim();
        (n.eq_ignore_ascii_case("Content-Length") || n == "l").then(|| v.trim().parse::<usize>())
    })
}

/// The length of the separator after a head ending at `head_end`.
fn separator_len(buf: &[u8], head_end: usize) -> usize {
    if buf[head_end..].starts_with(b"\r\n\r\n") {
        4
    } else {
        2
    }
}

/// RFC 3261 §18.3: on streams, Content-Length is mandatory and delimits the body.
fn frame(buf: &mut BytesMut) -> Framed {
    // Leading CRLFs are keep-alives between messages.
    let lead = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if lead > 0 {
        if lead >= 4 && buf.len() == lead {
            let ping = buf.split_to(lead).freeze();
            return Framed::Message(ping);
        }
        buf.advance(lead);
    }
    let Some(head_end) = find_head_end(buf) else {
        if buf.len() > MAX_MESSAGE_SIZE {
            return Framed::Invalid("header block too large");
        }
        return Framed::NeedMore;
    };
    let sep = separator_len(buf, head_end);
    let len = match content_length(&buf[..head_end]) {
        Some(Ok(n)) => n,
        Some(Err(_)) => return Framed::Invalid("bad Content-Length"),
        None => return Framed::Invalid("message without Content-Length"),
    };
    let total = head_end + sep + len;
    if total > MAX_MESSAGE_SIZE {
        return Framed::Invalid("message too large");
    }
    if buf.len() < total {
        return Framed::NeedMore;
    }
    Framed::Message(buf.split_to(total).freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_messages_by_content_length() {
        let mut b = BytesMut::from(
            &b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabcOPTIONS sip:b SIP/2.0\r\nContent-Length: 0\r\n\r\n"[..],
        );
        match frame(&mut b) {
            Framed::Message(m) => assert!(m.ends_with(b"abc")),
            _ => panic!("expected a message"),
        }
        match frame(&mut b) {
            Framed::Message(m) => assert!(m.starts_with(b"OPTIONS sip:b")),
            _ => panic!("expected a second message"),
        }
        assert!(matches!(frame(&mut b), Framed::NeedMore));
    }

    #[test]
    fn waits_for_the_whole_body() {
        let mut b = BytesMut::from(&b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 10\r\n\r\nabc"[..]);
        assert!(matches!(frame(&mut b), Framed::NeedMore));
    }

    fn limits() -> TcpLimits {
        TcpLimits {
            first_message_timeout: Duration::from_secs(20),
            message_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            ..TcpLimits::default()
        }
    }

    #[test]
    fn silent_new_connection_expires_after_the_first_message_timeout() {
        let t0 = Instant::now();
        let c = ConnClock::new(t0, true);
        assert_eq!(
            c.deadline(&limits()),
            (t0 + Duration::from_secs(20), Expiry::FirstMessage)
        );
    }

    #[test]
    fn keepalive_crlf_before_any_message_does_not_extend_a_new_connection() {
        // A lone CRLF is consumed by the framer without a message: the clock
        // sees no partial message and no message.
        let t0 = Instant::now();
        let mut c = ConnClock::new(t0, true);
        let mut b = BytesMut::from(&b"\r\n"[..]);
        assert!(matches!(frame(&mut b), Framed::NeedMore));
        c.buffered(t0 + Duration::from_secs(15), !b.is_empty());
        assert_eq!(c.deadline(&limits()).1, Expiry::FirstMessage);
        assert_eq!(c.deadline(&limits()).0, t0 + Duration::from_secs(20));
    }

    #[test]
    fn pings_extend_an_established_connection_but_are_no_first_message() {
        let t0 = Instant::now();
        let mut c = ConnClock::new(t0, true);
        c.keepalive(t0 + Duration::from_secs(5));
        assert_eq!(
            c.deadline(&limits()),
            (t0 + Duration::from_secs(20), Expiry::FirstMessage)
        );
        c.message(t0 + Duration::from_secs(6));
        let ping = t0 + Duration::from_secs(100);
        c.keepalive(ping);
        assert_eq!(
            c.deadline(&limits()),
            (ping + Duration::from_secs(300), Expiry::Idle)
        );
    }

    #[test]
    fn trickled_message_expires_after_the_message_timeout() {
        let t0 = Instant::now();
        let mut c = ConnClock::new(t0, true);
        c.message(t0);
        let start = t0 + Duration::from_secs(30);
        c.buffered(start, true);
        // More bytes of the same message do not move the deadline.
        c.buffered(start + Duration::from_secs(5), true);
        assert_eq!(
            c.deadline(&limits()),
            (start + Duration::from_secs(10), Expiry::Message)
        );
        // Once complete, only the idle deadline is left.
        let done = start + Duration::from_secs(6);
        c.message(done);
        c.buffered(done, false);
        assert_eq!(
            c.deadline(&limits()),
            (done + Duration::from_secs(300), Expiry::Idle)
        );
    }

    #[test]
    fn first_message_deadline_wins_over_a_later_message_deadline() {
        let t0 = Instant::now();
        let mut c = ConnClock::new(t0, true);
        c.buffered(t0 + Duration::from_secs(15), true);
        assert_eq!(
            c.deadline(&limits()),
            (t0 + Duration::from_secs(20), Expiry::FirstMessage)
        );
    }

    #[test]
    fn connection_we_opened_is_only_subject_to_idle() {
        let t0 = Instant::now();
        let c = ConnClock::new(t0, false);
        assert_eq!(
            c.deadline(&limits()),
            (t0 + Duration::from_secs(300), Expiry::Idle)
        );
    }

    #[test]
    fn caps_count_per_source_and_in_total_and_free_on_drop() {
        let l = Arc::new(ConnLimiter::new(3, 2));
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let c: IpAddr = "192.0.2.3".parse().expect("ip");
        let a1 = l.admit(a).expect("first from a");
        let _a2 = l.admit(a).expect("second from a");
        assert_eq!(l.admit(a).err(), Some(Refusal::PerIp));
        let _b1 = l.admit(b).expect("first from b");
        assert_eq!(l.admit(c).err(), Some(Refusal::Total));
        drop(a1);
        assert!(l.admit(c).is_ok(), "a closed connection frees its place");
    }

    #[test]
    fn ipv6_sources_are_counted_per_64_and_mapped_v4_as_v4() {
        let l = Arc::new(ConnLimiter::new(10, 1));
        let _x = l.admit("2001:db8::1".parse().expect("ip")).expect("first");
        assert_eq!(
            l.admit("2001:db8::ffff:2".parse().expect("ip")).err(),
            Some(Refusal::PerIp)
        );
        assert!(l.admit("2001:db8:0:1::1".parse().expect("ip")).is_ok());
        let _v4 = l.admit("192.0.2.9".parse().expect("ip")).expect("v4");
        assert_eq!(
            l.admit("::ffff:192.0.2.9".parse().expect("ip")).err(),
            Some(Refusal::PerIp)
        );
    }

    #[test]
    fn warnings_are_rate_limited_with_a_count_of_the_skipped() {
        let mut l = LogLimit::default();
        let t0 = Instant::now();
        assert_eq!(l.allow(t0), Some(0));
        for i in 1..=20 {
            assert_eq!(l.allow(t0 + Duration::from_millis(50 * i)), None);
        }
        assert_eq!(l.allow(t0 + LOG_EVERY), Some(20));
        assert_eq!(l.allow(t0 + LOG_EVERY + Duration::from_secs(1)), None);
    }

    #[test]
    fn send_queue_refuses_past_its_cap_and_closes_the_connection() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let (close, closed) = watch::channel(false);
        let conn = Conn {
            tx,
            queued: Arc::new(AtomicUsize::new(0)),
            close: Arc::new(close),
        };
        let msg = Bytes::from(vec![b'x'; 400]);
        assert!(conn.enqueue(msg.clone(), 1000).is_ok());
        assert!(conn.enqueue(msg.clone(), 1000).is_ok());
        assert!(!*closed.borrow());
        assert!(matches!(conn.enqueue(msg, 1000), Err(QueueError::Full)));
        assert!(*closed.borrow(), "the reader and writer are told to stop");
        assert_eq!(conn.queued.load(Relaxed), 800);
    }

    #[test]
    fn refuses_stream_without_content_length() {
        let mut b = BytesMut::from(&b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n"[..]);
        assert!(matches!(frame(&mut b), Framed::Invalid(_)));
    }
}

/// SIP over TLS with real rustls sessions on loopback, certificates made
/// by rcgen for each test.
#[cfg(test)]
mod tls_tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use tokio::time::timeout;

    const WAIT: Duration = Duration::from_secs(10);

    /// A self-signed certificate for 127.0.0.1 and "localhost", and a
    /// server configuration offering it.
    fn server_cert() -> (CertificateDer<'static>, Arc<rustls::ServerConfig>) {
        let ck = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .expect("certificate");
        let server = server_config_from_pem(
            ck.cert.pem().as_bytes(),
            ck.key_pair.serialize_pem().as_bytes(),
        )
        .expect("server config");
        (ck.cert.der().clone(), Arc::new(server))
    }

    fn trusting(cert: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.clone()).expect("root");
        Arc::new(client_config(roots).expect("client config"))
    }

    async fn bind(
        listen: Option<Arc<rustls::ServerConfig>>,
        client: Arc<rustls::ClientConfig>,
    ) -> (Transports, mpsc::UnboundedReceiver<Inbound>, Arc<SipStats>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(SipStats::default());
        let tls = TlsSettings {
            listen: listen.map(|server| TlsListen {
                bind: "127.0.0.1:0".parse().expect("addr"),
                server,
            }),
            client,
            wss: None,
        };
        let t = Transports::bind(
            "127.0.0.1:0".parse().expect("addr"),
            tx,
            stats.clone(),
            false,
            TcpLimits {
                first_message_timeout: Duration::from_secs(2),
                ..TcpLimits::default()
            },
            tls,
        )
        .await
        .expect("bind");
        (t, rx, stats)
    }

    fn options(n: u32) -> Bytes {
        Bytes::from(format!(
            "OPTIONS sip:srv@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKt{n}\r\n\
             From: <sip:c@127.0.0.1>;tag=1\r\nTo: <sip:srv@127.0.0.1>\r\nCall-ID: tls{n}\r\n\
             CSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ))
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<Inbound>) -> Received {
        loop {
            let got = timeout(WAIT, rx.recv())
                .await
                .expect("a message in time")
                .expect("channel open");
            if let Inbound::Message(r) = got {
                return r;
            }
        }
    }

    #[tokio::test]
    async fn requests_and_answers_share_one_verified_connection() {
        let (cert, server_cfg) = server_cert();
        let (server, mut server_rx, server_stats) = bind(Some(server_cfg), trusting(&cert)).await;
        let (client, mut client_rx, client_stats) = bind(None, trusting(&cert)).await;
        let tls_addr = server.tls_local_addr().expect("tls listener");
        assert_ne!(tls_addr, server.local_addr());

        let to = Peer::tls(tls_addr);
        client.send(Transmit {
            peer: to,
            payload: options(1),
        });
        let first = next(&mut server_rx).await;
        assert_eq!(first.from.transport, TransportKind::Tls);
        client.send(Transmit {
            peer: to,
            payload: options(2),
        });
        let second = next(&mut server_rx).await;
        assert_eq!(
            second.from, first.from,
            "the second request reused the connection"
        );
        assert_eq!(client_stats.tcp_open.load(Relaxed), 1);
        assert_eq!(server_stats.tcp_open.load(Relaxed), 1);

        // The server answers over the connection the request came on.
        let answer = Bytes::from_static(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKt1\r\n\
              From: <sip:c@127.0.0.1>;tag=1\r\nTo: <sip:srv@127.0.0.1>;tag=2\r\n\
              Call-ID: tls1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        );
        server.send(Transmit {
            peer: first.from,
            payload: answer,
        });
        let got = next(&mut client_rx).await;
        assert_eq!(got.from, to);
        assert!(matches!(got.msg, rsip::SipMessage::Response(_)));
        assert_eq!(server_stats.tls_handshake_errors.load(Relaxed), 0);
    }

    #[tokio::test]
    async fn a_burst_to_a_new_peer_opens_one_connection() {
        let (cert, server_cfg) = server_cert();
        let (server, mut server_rx, server_stats) = bind(Some(server_cfg), trusting(&cert)).await;
        let (client, _client_rx, client_stats) = bind(None, trusting(&cert)).await;
        let to = Peer::tls(server.tls_local_addr().expect("tls listener"));
        for n in 1..=5 {
            client.send(Transmit {
                peer: to,
                payload: options(n),
            });
        }
        let first = next(&mut server_rx).await;
        for _ in 2..=5 {
            assert_eq!(
                next(&mut server_rx).await.from,
                first.from,
                "one connection"
            );
        }
        assert_eq!(client_stats.tcp_open.load(Relaxed), 1);
        assert_eq!(server_stats.tcp_open.load(Relaxed), 1);
        assert_eq!(client_stats.messages_out.load(Relaxed), 5);
    }

    #[tokio::test]
    async fn messages_are_framed_across_and_within_tls_records() {
        let (cert, server_cfg) = server_cert();
        let (server, mut server_rx, _) = bind(Some(server_cfg), trusting(&cert)).await;
        let tls_addr = server.tls_local_addr().expect("tls listener");
        let tcp = TcpStream::connect(tls_addr).await.expect("connect");
        let connector = TlsConnector::from(trusting(&cert));
        let name = ServerName::try_from("localhost").expect("name");
        let mut s = connector.connect(name, tcp).await.expect("handshake");
        // Two messages in one write, then one cut in three writes.
        let mut two = options(1).to_vec();
        two.extend_from_slice(&options(2));
        s.write_all(&two).await.expect("write");
        s.flush().await.expect("flush");
        let third = options(3);
        for part in [&third[..10], &third[10..60], &third[60..]] {
            s.write_all(part).await.expect("write");
            s.flush().await.expect("flush");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for n in 1..=3 {
            let r = next(&mut server_rx).await;
            let rsip::SipMessage::Request(req) = r.msg else {
                panic!("expected a request");
            };
            assert!(req.to_string().contains(&format!("Call-ID: tls{n}\r\n")));
        }
    }

    #[tokio::test]
    async fn plain_text_and_untrusted_peers_fail_the_handshake_harmlessly() {
        let (cert, server_cfg) = server_cert();
        let (server, mut server_rx, server_stats) = bind(Some(server_cfg), trusting(&cert)).await;
        let tls_addr = server.tls_local_addr().expect("tls listener");

        // Plain SIP on the TLS port: no handshake, the connection is closed.
        let mut plain = TcpStream::connect(tls_addr).await.expect("connect");
        plain.write_all(&options(1)).await.expect("write");
        let mut buf = [0u8; 64];
        let n = timeout(WAIT, plain.read(&mut buf))
            .await
            .expect("closed in time");
        assert!(
            matches!(n, Ok(0) | Err(_)) || buf.starts_with(&[0x15]),
            "alert or close"
        );

        // A client that trusts another certificate refuses ours; nothing is
        // delivered and the client counts the failure.
        let (other, _) = server_cert();
        let (client, _client_rx, client_stats) = bind(None, trusting(&other)).await;
        client.send(Transmit {
            peer: Peer::tls(tls_addr),
            payload: options(2),
        });
        let until = Instant::now() + WAIT;
        while client_stats.tls_handshake_errors.load(Relaxed) == 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(client_stats.tls_handshake_errors.load(Relaxed), 1);
        assert_eq!(client_stats.tcp_open.load(Relaxed), 0);

        // Silence after connecting: dropped at the first-message deadline.
        let silent = TcpStream::connect(tls_addr).await.expect("connect");
        let until = Instant::now() + WAIT;
        while server_stats.tls_handshake_errors.load(Relaxed) < 3 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(server_stats.tls_handshake_errors.load(Relaxed) >= 3);
        drop(silent);

        // Trusted, but the certificate does not name the host the client
        // was told to expect.
        let (named, _named_rx, named_stats) = bind(None, trusting(&cert)).await;
        named
            .set_tls_name(tls_addr, "sip.example.com")
            .expect("a name");
        named.send(Transmit {
            peer: Peer::tls(tls_addr),
            payload: options(4),
        });
        let until = Instant::now() + WAIT;
        while named_stats.tls_handshake_errors.load(Relaxed) == 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(named_stats.tls_handshake_errors.load(Relaxed), 1);
        assert!(named.set_tls_name(tls_addr, "not a name!").is_err());

        // The listener still serves a good client, verifying by name.
        let (good, _good_rx, _) = bind(None, trusting(&cert)).await;
        good.set_tls_name(tls_addr, "localhost").expect("a name");
        good.send(Transmit {
            peer: Peer::tls(tls_addr),
            payload: options(3),
        });
        let r = next(&mut server_rx).await;
        assert_eq!(r.from.transport, TransportKind::Tls);
        assert_eq!(server_stats.tcp_open.load(Relaxed), 1);
    }
}
