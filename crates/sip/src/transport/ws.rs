//! SIP over WebSocket (RFC 7118): browsers' SIP.
//!
//! A browser opens the connection (to the WSS listener, or to the HTTP
//! port's `/ws`, which hands the upgraded stream over through a
//! [`WsAcceptor`]) offering the `sip` subprotocol; every text or binary
//! frame then carries one whole SIP message. Content-Length is not needed
//! for framing, but when present it is honoured: bytes after the body it
//! announces are dropped, a body shorter than announced is refused (400).
//!
//! The connection counts under the same caps as TCP and TLS (the same
//! [`ConnLimiter`], so the descriptor budget holds), has the same
//! first-message and idle deadlines (WebSocket pings and pongs count as
//! traffic on an established connection, and we ping a browser at a third
//! of the idle timeout, which it answers by itself) and the same send-queue
//! cap; a frame larger
//! than [`MAX_MESSAGE_SIZE`] closes it. Frames that are no SIP at all,
//! and frames that break the WebSocket protocol, close it too: nothing
//! but a SIP stack talks on it. Requests and responses to the browser go
//! over the connection it opened (the table of stream connections, keyed
//! by [`Peer`] with [`TransportKind::Ws`] or [`TransportKind::Wss`]); when
//! it ends, the driver is told ([`Inbound::Closed`]) so the registrar can
//! drop what was bound to it.

use super::*;
use crate::parse::bad_request;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// The WebSocket subprotocol of SIP (RFC 7118 §4.1).
pub const WS_PROTOCOL: &str = "sip";

/// Whether a `Sec-WebSocket-Protocol` header value offers `sip` (a
/// comma-separated list; the token is case-sensitive, RFC 6455 §4.1).
pub fn offers_sip_protocol(value: &str) -> bool {
    value.split(',').any(|p| p.trim() == WS_PROTOCOL)
}

/// The `Sec-WebSocket-Accept` answering a `Sec-WebSocket-Key` (RFC 6455
/// §4.2.2), for a listener that answers the opening handshake itself.
pub fn ws_accept_key(key: &str) -> String {
    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.trim().as_bytes())
}

/// A stream a WebSocket runs over (a TCP stream, TLS, an upgraded HTTP
/// connection).
pub trait WsIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> WsIo for T {}

/// Why a WebSocket connection was refused before its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsRefused {
    /// The cap on open connections (TCP, TLS and WebSocket together).
    Total,
    /// The cap on connections from one address.
    PerIp,
    /// The SIP transports have stopped.
    Stopped,
}

/// An upgraded connection on its way to the transports' runtime.
pub(super) struct Handoff {
    io: Box<dyn WsIo>,
    read_ahead: Vec<u8>,
    addr: SocketAddr,
    admitted: Admission,
    opened: Instant,
}

/// Where WebSocket connections accepted by another listener (the HTTP
/// port) are handed to a set of SIP transports. Cheap to clone; holds no
/// socket.
#[derive(Clone)]
pub struct WsAcceptor {
    tx: mpsc::UnboundedSender<Handoff>,
    admission: Arc<ConnLimiter>,
    stats: Arc<SipStats>,
    logs: Arc<Logs>,
}

/// A WebSocket connection's place under the caps, taken before the
/// handshake is answered (a refused one gets 503 instead of 101).
pub struct WsTicket {
    acceptor: WsAcceptor,
    addr: SocketAddr,
    admitted: Admission,
    opened: Instant,
}

impl WsAcceptor {
    pub(super) fn new(
        tx: mpsc::UnboundedSender<Handoff>,
        admission: Arc<ConnLimiter>,
        stats: Arc<SipStats>,
        logs: Arc<Logs>,
    ) -> WsAcceptor {
        WsAcceptor {
            tx,
            admission,
            stats,
            logs,
        }
    }

    /// A place for a connection from `addr` under the caps, or why not
    /// (counted and logged, rate-limited).
    pub fn admit(&self, addr: SocketAddr) -> Result<WsTicket, WsRefused> {
        if self.tx.is_closed() {
            return Err(WsRefused::Stopped);
        }
        match self.admission.admit(addr.ip()) {
            Ok(admitted) => Ok(WsTicket {
                acceptor: self.clone(),
                addr,
                admitted,
                opened: Instant::now(),
            }),
            Err(r) => {
                self.refused("ws", addr, r);
                Err(match r {
                    Refusal::Total => WsRefused::Total,
                    Refusal::PerIp => WsRefused::PerIp,
                })
            }
        }
    }

    /// A WebSocket opening handshake from `addr` was refused or failed
    /// (no `sip` subprotocol, not a WebSocket request): counted, and
    /// logged at most once per [`LOG_EVERY`].
    pub fn handshake_failed(&self, addr: SocketAddr, why: &str) {
        self.stats.ws_handshake_errors.fetch_add(1, Relaxed);
        if let Some(skipped) = lock(&self.logs.handshake).allow(Instant::now()) {
            tracing::info!(
                "websocket handshake from {addr} refused: {why}{}",
                suppressed(skipped)
            );
        }
    }

    /// Count and log a connection refused at accept. `kind` is the
    /// listener's transport (`tcp`, `tls`, `ws`, `wss`).
    pub(super) fn refused(&self, kind: &str, addr: SocketAddr, refusal: Refusal) {
        let ws = kind.starts_with("ws");
        let (counter, why) = match (refusal, ws) {
            (Refusal::Total, false) => (&self.stats.tcp_refused_total, "the total cap"),
            (Refusal::PerIp, false) => (&self.stats.tcp_refused_per_ip, "its address's cap"),
            (Refusal::Total, true) => (&self.stats.ws_refused_total, "the total cap"),
            (Refusal::PerIp, true) => (&self.stats.ws_refused_per_ip, "its address's cap"),
        };
        counter.fetch_add(1, Relaxed);
        if let Some(skipped) = lock(&self.logs.refused).allow(Instant::now()) {
            tracing::warn!(
                "{kind} connection from {addr} refused: {why} of open SIP connections \
                 (sip.tcp.max_connections{}) is reached{}",
                if refusal == Refusal::PerIp {
                    "_per_ip"
                } else {
                    ""
                },
                suppressed(skipped)
            );
        }
    }
}

impl WsTicket {
    /// Run SIP over the WebSocket on `io`, whose opening handshake has been
    /// answered with 101 (`read_ahead`: bytes already read past it). False
    /// if the transports have stopped (the connection is then dropped).
    pub fn start<S: WsIo>(self, io: S, read_ahead: Vec<u8>) -> bool {
        let handoff = Handoff {
            io: Box::new(io),
            read_ahead,
            addr: self.addr,
            admitted: self.admitted,
            opened: self.opened,
        };
        self.acceptor.tx.send(handoff).is_ok()
    }
}

/// Frame and message limits of every WebSocket connection: one SIP
/// message at most per frame and per message.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .max_frame_size(Some(MAX_MESSAGE_SIZE))
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
}

/// What woke a WebSocket connection's task.
enum Step {
    /// Told to close (the peer does not read what we send).
    Stop,
    /// Something to send, or None: the connection was dropped from the table.
    Send(Option<Bytes>),
    /// A frame, an error, or the end.
    Frame(Option<Result<Message, WsError>>),
    /// The deadline of the connection's clock.
    Deadline,
    /// Time to ping the browser.
    Ping,
}

/// What one frame turned out to be.
#[derive(Debug, PartialEq, Eq)]
enum WsArrived {
    /// A SIP message, handed to the driver.
    Message,
    /// Whitespace (a CRLF keep-alive some stacks send anyway).
    KeepAlive,
    /// A malformed SIP request, answered with 400; the connection stays.
    Answered,
    /// No SIP at all: the connection is closed.
    Garbage(&'static str),
}

/// The message a frame carries, Content-Length honoured: bytes after the
/// body it announces are dropped; a body shorter than announced is an
/// error.
fn ws_message(data: &[u8]) -> Result<&[u8], &'static str> {
    let Some(head_end) = find_head_end(data) else {
        return Ok(data);
    };
    let start = head_end + separator_len(data, head_end);
    match content_length(&data[..head_end]) {
        None => Ok(data),
        Some(Err(_)) => Err("Bad Content-Length"),
        Some(Ok(n)) => match start.checked_add(n) {
            Some(end) if end <= data.len() => Ok(&data[..end]),
            _ => Err("Content-Length larger than the WebSocket frame"),
        },
    }
}

impl Transports {
    /// Hand what [`WsAcceptor`]s send to [`Transports::run_ws`], on this
    /// runtime.
    pub(super) async fn handoff_loop(self, mut rx: mpsc::UnboundedReceiver<Handoff>) {
        while let Some(h) = rx.recv().await {
            let me = self.clone();
            tokio::spawn(async move {
                let ws = WebSocketStream::from_partially_read(
                    h.io,
                    h.read_ahead,
                    Role::Server,
                    Some(ws_config()),
                )
                .await;
                me.run_ws(ws, Peer::ws(h.addr), h.admitted, h.opened).await;
            });
        }
    }

    /// Accept secure WebSocket connections: TLS, then the WebSocket
    /// handshake offering `sip`, both within the first-message deadline.
    pub(super) async fn wss_accept_loop(self, listener: TcpListener, tls: TlsAcceptor) {
        loop {
            let (stream, addr) = match listener.accept().await {
                Ok(a) => a,
                Err(e) => {
                    self.accept_failed("wss", e).await;
                    continue;
                }
            };
            let admitted = match self.admission.admit(addr.ip()) {
                Ok(a) => a,
                Err(refusal) => {
                    drop(stream);
                    self.ws.refused("wss", addr, refusal);
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let me = self.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let opened = Instant::now();
                let limit = me.limits.first_message_timeout;
                let handshake = async {
                    let tls = match tls.accept(stream).await {
                        Ok(t) => t,
                        Err(e) => return Err((true, e.to_string())),
                    };
                    tokio_tungstenite::accept_hdr_async_with_config(
                        tls,
                        sip_subprotocol,
                        Some(ws_config()),
                    )
                    .await
                    .map_err(|e| (false, e.to_string()))
                };
                match tokio::time::timeout(limit, handshake).await {
                    Ok(Ok(ws)) => me.run_ws(ws, Peer::wss(addr), admitted, opened).await,
                    Ok(Err((true, why))) => me.tls_failed(addr, &why),
                    Ok(Err((false, why))) => me.ws.handshake_failed(addr, &why),
                    Err(_) => me.ws.handshake_failed(addr, "handshake timed out"),
                }
            });
        }
    }

    /// Run one WebSocket connection until it ends: frames in, queued
    /// messages out, deadlines. Registered in the connection table under
    /// `peer` meanwhile.
    async fn run_ws<S>(
        self,
        mut ws: WebSocketStream<S>,
        peer: Peer,
        admitted: Admission,
        opened: Instant,
    ) where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // Held until the connection ends, then given back.
        let _admitted = admitted;
        let addr = peer.addr;
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        let queued = Arc::new(AtomicUsize::new(0));
        let (close, mut closed) = watch::channel(false);
        let close = Arc::new(close);
        let writer = tx.clone();
        self.tcp.insert(
            peer,
            Conn {
                tx,
                queued: queued.clone(),
                close: close.clone(),
            },
        );
        let gauge = match peer.transport {
            TransportKind::Wss => &self.stats.wss_open,
            _ => &self.stats.ws_open,
        };
        gauge.fetch_add(1, Relaxed);
        let mut clock = ConnClock::new(opened, true);
        let mut carried_sip = false;
        // Browsers send no keep-alive of their own, and re-register only
        // every few minutes: our pings, which they answer without a line
        // of script, keep a live one from reaching the idle deadline.
        let ping_every = (self.limits.idle_timeout / 3).max(Duration::from_secs(1));
        let mut next_ping = Instant::now() + ping_every;
        let goodbye: Option<(CloseCode, &'static str)> = loop {
            let (deadline, expiry) = clock.deadline(&self.limits);
            let step = tokio::select! {
                _ = closed.wait_for(|c| *c) => Step::Stop,
                out = rx.recv() => Step::Send(out),
                frame = ws.next() => Step::Frame(frame),
                _ = tokio::time::sleep_until(deadline.into()) => Step::Deadline,
                _ = tokio::time::sleep_until(next_ping.into()) => Step::Ping,
            };
            let frame = match step {
                Step::Stop => break Some((CloseCode::Policy, "not reading")),
                Step::Send(None) => break None,
                Step::Send(Some(b)) => {
                    let n = b.len();
                    let msg = if std::str::from_utf8(&b).is_ok() {
                        match Utf8Bytes::try_from(b) {
                            Ok(t) => Message::Text(t),
                            Err(_) => break None,
                        }
                    } else {
                        Message::Binary(b)
                    };
                    let sent = tokio::select! {
                        r = ws.send(msg) => r.is_ok(),
                        _ = closed.wait_for(|c| *c) => false,
                    };
                    queued.fetch_sub(n, Relaxed);
                    if !sent {
                        break None;
                    }
                    continue;
                }
                Step::Deadline => {
                    let counter = match expiry {
                        Expiry::FirstMessage => &self.stats.ws_timeout_first_message,
                        Expiry::Message | Expiry::Idle => &self.stats.ws_timeout_idle,
                    };
                    counter.fetch_add(1, Relaxed);
                    tracing::debug!("closing websocket from {addr}: {}", expiry.describe());
                    break Some((CloseCode::Policy, expiry.describe()));
                }
                Step::Ping => {
                    next_ping = Instant::now() + ping_every;
                    if !carried_sip {
                        // A connection must earn its keep-alive first.
                        continue;
                    }
                    let sent = tokio::select! {
                        r = ws.send(Message::Ping(Bytes::new())) => r.is_ok(),
                        _ = closed.wait_for(|c| *c) => false,
                    };
                    if !sent {
                        break None;
                    }
                    continue;
                }
                Step::Frame(frame) => frame,
            };
            let now = Instant::now();
            let data = match frame {
                None => break None,
                Some(Ok(Message::Text(t))) => Bytes::from(t),
                Some(Ok(Message::Binary(b))) => b,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                    clock.keepalive(now);
                    continue;
                }
                Some(Ok(Message::Close(_))) => break None,
                Some(Ok(Message::Frame(_))) => continue,
                Some(Err(e)) => break self.ws_failed(addr, e),
            };
            match self.ws_frame(&data, peer) {
                WsArrived::Message => {
                    clock.message(now);
                    carried_sip = true;
                }
                WsArrived::KeepAlive => clock.keepalive(now),
                WsArrived::Answered => {}
                WsArrived::Garbage(why) => {
                    self.stats.ws_protocol_errors.fetch_add(1, Relaxed);
                    tracing::debug!("closing websocket from {addr}: {why}");
                    break Some((CloseCode::Protocol, why));
                }
            }
        };
        close.send_replace(true);
        gauge.fetch_sub(1, Relaxed);
        // Only remove our own entry: a reconnect may already have replaced it.
        self.tcp.remove_if(&peer, |_, c| c.tx.same_channel(&writer));
        if carried_sip {
            let _ = self.inbound.send(Inbound::Closed(peer));
        }
        // A polite close, bounded: a peer that does not read gets no more
        // than a second of it.
        let frame = goodbye.map(|(code, reason)| CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        });
        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(frame)).await;
    }

    /// A frame's error: counted by kind; what to close with.
    fn ws_failed(&self, addr: SocketAddr, e: WsError) -> Option<(CloseCode, &'static str)> {
        match e {
            WsError::Capacity(_) => {
                self.stats.ws_oversized.fetch_add(1, Relaxed);
                tracing::debug!("closing websocket from {addr}: {e}");
                Some((CloseCode::Size, "frame larger than a SIP message may be"))
            }
            WsError::Protocol(_) | WsError::Utf8(_) | WsError::AttackAttempt => {
                self.stats.ws_protocol_errors.fetch_add(1, Relaxed);
                tracing::debug!("closing websocket from {addr}: {e}");
                Some((CloseCode::Protocol, "websocket protocol error"))
            }
            // The connection ended under us: nothing to say.
            _ => None,
        }
    }

    /// Handle one frame's payload.
    fn ws_frame(&self, data: &[u8], from: Peer) -> WsArrived {
        if data.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            return WsArrived::KeepAlive;
        }
        if self.log_messages {
            tracing::info!(target: "sip", "recv from {from}:\n{}", String::from_utf8_lossy(data));
        }
        let data = match ws_message(data) {
            Ok(d) => d,
            Err(why) => {
                self.stats.parse_errors.fetch_add(1, Relaxed);
                return match bad_request(data, why) {
                    Some(reply) => {
                        self.send(Transmit {
                            peer: from,
                            payload: reply,
                        });
                        WsArrived::Answered
                    }
                    None => WsArrived::Garbage("a message shorter than its Content-Length"),
                };
            }
        };
        match parse_message(data) {
            Ok(msg) => {
                self.stats.messages_in.fetch_add(1, Relaxed);
                let _ = self.inbound.send(Inbound::Message(Received { msg, from }));
                WsArrived::Message
            }
            Err(failure) => {
                self.stats.parse_errors.fetch_add(1, Relaxed);
                tracing::debug!("unparseable message from {from}: {}", failure.reason);
                match failure.reply {
                    Some(reply) => {
                        self.send(Transmit {
                            peer: from,
                            payload: reply,
                        });
                        WsArrived::Answered
                    }
                    None => WsArrived::Garbage("a frame that is no SIP message"),
                }
            }
        }
    }
}

/// The WSS listener's handshake callback: `sip` must be offered, and is
/// chosen (RFC 7118 §4.1); anything else is answered 400.
#[allow(clippy::result_large_err)]
fn sip_subprotocol(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offered = req
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(offers_sip_protocol);
    if !offered {
        let mut refusal = ErrorResponse::new(Some(
            "SIP over WebSocket needs Sec-WebSocket-Protocol: sip".to_string(),
        ));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    resp.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(WS_PROTOCOL),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_honoured_but_not_needed() {
        let plain = b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n";
        assert_eq!(
            ws_message(plain),
            Ok(&plain[..]),
            "no Content-Length: the frame"
        );
        let extra = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(
            ws_message(extra).map(<[u8]>::len),
            Ok(extra.len() - 3),
            "bytes after the body are dropped"
        );
        let compact = b"OPTIONS sip:a SIP/2.0\r\nl: 0\r\n\r\njunk";
        assert!(ws_message(compact).is_ok_and(|m| m.ends_with(b"\r\n\r\n")));
        let short = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 10\r\n\r\nabc";
        assert!(ws_message(short).is_err());
        let bad = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: x\r\n\r\n";
        assert!(ws_message(bad).is_err());
        let huge = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 18446744073709551615\r\n\r\n";
        assert!(ws_message(huge).is_err(), "no overflow");
    }

    #[test]
    fn the_sip_subprotocol_is_found_in_a_list() {
        assert!(offers_sip_protocol("sip"));
        assert!(offers_sip_protocol("chat, sip"));
        assert!(!offers_sip_protocol("chat"));
        assert!(!offers_sip_protocol("sips"));
        assert!(!offers_sip_protocol(""));
    }
}

/// SIP over WebSocket with real connections on loopback: the WSS listener
/// (rustls, a certificate made by rcgen) and the hand-over of an upgraded
/// stream, with tokio-tungstenite as the browser.
#[cfg(test)]
mod socket_tests {
    use super::*;
    use tokio::time::timeout;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    const WAIT: Duration = Duration::from_secs(10);

    struct Server {
        t: Transports,
        rx: mpsc::UnboundedReceiver<Inbound>,
        stats: Arc<SipStats>,
        wss: SocketAddr,
        client: Arc<rustls::ClientConfig>,
    }

    async fn server(limits: TcpLimits) -> Server {
        let ck =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
        let cfg = server_config_from_pem(
            ck.cert.pem().as_bytes(),
            ck.key_pair.serialize_pem().as_bytes(),
        )
        .expect("server config");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ck.cert.der().clone()).expect("root");
        let client = Arc::new(client_config(roots).expect("client config"));
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(SipStats::default());
        let tls = TlsSettings {
            listen: None,
            client: client.clone(),
            wss: Some(TlsListen {
                bind: "127.0.0.1:0".parse().expect("addr"),
                server: Arc::new(cfg),
            }),
        };
        let t = Transports::bind(
            "127.0.0.1:0".parse().expect("addr"),
            tx,
            stats.clone(),
            false,
            limits,
            tls,
        )
        .await
        .expect("bind");
        let wss = t.wss_local_addr().expect("a WSS listener");
        Server {
            t,
            rx,
            stats,
            wss,
            client,
        }
    }

    type Wss = WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

    async fn tls(s: &Server) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(s.wss).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("name");
        TlsConnector::from(s.client.clone())
            .connect(name, tcp)
            .await
            .expect("TLS handshake")
    }

    async fn connect(s: &Server, protocol: &str) -> Result<Wss, WsError> {
        let stream = tls(s).await;
        let mut req = format!("wss://localhost:{}/ws", s.wss.port())
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().expect("value"));
        timeout(WAIT, tokio_tungstenite::client_async(req, stream))
            .await
            .expect("handshake in time")
            .map(|(ws, _)| ws)
    }

    fn options(n: u32) -> String {
        format!(
            "OPTIONS sip:srv@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WSS x.invalid;branch=z9hG4bKw{n}\r\n\
             From: <sip:c@127.0.0.1>;tag=1\r\nTo: <sip:srv@127.0.0.1>\r\nCall-ID: ws{n}\r\n\
             CSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\n\r\n"
        )
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<Inbound>) -> Inbound {
        timeout(WAIT, rx.recv())
            .await
            .expect("news in time")
            .expect("channel open")
    }

    /// Waits for the server to close `ws`; its close code.
    async fn closed<S: AsyncRead + AsyncWrite + Unpin>(
        ws: &mut WebSocketStream<S>,
    ) -> Option<CloseCode> {
        loop {
            match timeout(WAIT, ws.next()).await.expect("closed in time") {
                Some(Ok(Message::Close(f))) => return f.map(|f| f.code),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    }

    async fn until(what: &str, check: impl Fn() -> bool) {
        let end = Instant::now() + WAIT;
        while !check() {
            assert!(Instant::now() < end, "{what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_message_per_frame_in_and_answers_over_the_same_connection() {
        let mut s = server(TcpLimits::default()).await;
        let mut ws = connect(&s, "sip").await.expect("upgraded");
        // No Content-Length: the frame is the message.
        ws.send(Message::text(options(1))).await.expect("send");
        ws.send(Message::binary(options(2).into_bytes()))
            .await
            .expect("send");
        let mut from = None;
        for n in 1..=2 {
            let Inbound::Message(r) = next(&mut s.rx).await else {
                panic!("a message");
            };
            assert_eq!(r.from.transport, TransportKind::Wss);
            assert!(r.msg.to_string().contains(&format!("Call-ID: ws{n}\r\n")));
            from = Some(r.from);
        }
        let from = from.expect("a peer");
        assert_eq!(s.stats.wss_open.load(Relaxed), 1);
        s.t.send(Transmit {
            peer: from,
            payload: Bytes::from_static(
                b"SIP/2.0 200 OK\r\nVia: SIP/2.0/WSS x.invalid;branch=z9hG4bKw1\r\n\
                  From: <sip:c@127.0.0.1>;tag=1\r\nTo: <sip:srv@127.0.0.1>;tag=2\r\n\
                  Call-ID: ws1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            ),
        });
        let got = timeout(WAIT, ws.next()).await.expect("an answer in time");
        let Some(Ok(Message::Text(t))) = got else {
            panic!("a text frame, not {got:?}");
        };
        assert!(t.as_str().starts_with("SIP/2.0 200 OK\r\n"));
        // The browser leaves: the driver is told, and nothing can be sent
        // to it any more (counted).
        drop(ws);
        match next(&mut s.rx).await {
            Inbound::Closed(p) => assert_eq!(p, from),
            Inbound::Message(_) => panic!("the close, not a message"),
        }
        assert_eq!(s.stats.wss_open.load(Relaxed), 0);
        let errors = s.stats.send_errors.load(Relaxed);
        s.t.send(Transmit {
            peer: from,
            payload: Bytes::from(options(3)),
        });
        assert_eq!(s.stats.send_errors.load(Relaxed), errors + 1);
    }

    #[tokio::test]
    async fn handshakes_without_sip_and_floods_are_refused_and_counted() {
        let s = server(TcpLimits {
            max_per_ip: 2,
            ..TcpLimits::default()
        })
        .await;
        match connect(&s, "chat").await {
            Err(WsError::Http(r)) => assert_eq!(r.status(), StatusCode::BAD_REQUEST),
            other => panic!("refused with 400, not {:?}", other.map(|_| ())),
        }
        until("the refusal is counted", || {
            s.stats.ws_handshake_errors.load(Relaxed) == 1
        })
        .await;
        let _a = connect(&s, "sip").await.expect("first");
        let _b = connect(&s, "sip").await.expect("second");
        let mut third = TcpStream::connect(s.wss).await.expect("connect");
        let mut buf = [0u8; 8];
        let n = timeout(WAIT, third.read(&mut buf))
            .await
            .expect("closed in time")
            .unwrap_or(0);
        assert_eq!(n, 0, "closed before the handshake");
        assert_eq!(s.stats.ws_refused_per_ip.load(Relaxed), 1);
        assert_eq!(s.stats.tcp_refused_per_ip.load(Relaxed), 0);
    }

    #[tokio::test]
    async fn garbage_oversized_frames_and_silence_close_the_connection() {
        let s = server(TcpLimits {
            first_message_timeout: Duration::from_secs(1),
            ..TcpLimits::default()
        })
        .await;
        let mut junk = connect(&s, "sip").await.expect("upgraded");
        junk.send(Message::text("not SIP at all"))
            .await
            .expect("send");
        assert_eq!(closed(&mut junk).await, Some(CloseCode::Protocol));
        assert_eq!(s.stats.ws_protocol_errors.load(Relaxed), 1);

        let mut big = connect(&s, "sip").await.expect("upgraded");
        let huge = "x".repeat(MAX_MESSAGE_SIZE + 1);
        let _ = big.send(Message::text(huge)).await;
        let code = closed(&mut big).await;
        assert!(matches!(code, Some(CloseCode::Size) | None), "{code:?}");
        until("the oversized frame is counted", || {
            s.stats.ws_oversized.load(Relaxed) == 1
        })
        .await;

        let mut silent = connect(&s, "sip").await.expect("upgraded");
        // Pings are no first message.
        silent
            .send(Message::Ping(Bytes::from_static(b"hi")))
            .await
            .expect("ping");
        assert_eq!(closed(&mut silent).await, Some(CloseCode::Policy));
        assert_eq!(s.stats.ws_timeout_first_message.load(Relaxed), 1);
        until("nothing stays open", || s.stats.wss_open.load(Relaxed) == 0).await;
    }

    #[tokio::test]
    async fn a_browser_that_answers_our_pings_stays_and_one_that_does_not_is_closed_when_idle() {
        let mut s = server(TcpLimits {
            idle_timeout: Duration::from_secs(3),
            ..TcpLimits::default()
        })
        .await;
        let mut alive = connect(&s, "sip").await.expect("upgraded");
        let mut deaf = connect(&s, "sip").await.expect("upgraded");
        for ws in [&mut alive, &mut deaf] {
            ws.send(Message::text(options(1))).await.expect("send");
            assert!(matches!(next(&mut s.rx).await, Inbound::Message(_)));
        }
        // Longer than the idle timeout, `alive` reads (and so answers
        // pings); `deaf` reads nothing and answers nothing.
        let end = Instant::now() + Duration::from_secs(5);
        let mut pings = 0;
        while let Ok(frame) =
            timeout(end.saturating_duration_since(Instant::now()), alive.next()).await
        {
            match frame {
                Some(Ok(Message::Ping(_))) => pings += 1,
                other => panic!("only pings, not {other:?}"),
            }
        }
        assert!(
            pings >= 3,
            "pinged every third of the idle timeout: {pings}"
        );
        assert!(
            matches!(next(&mut s.rx).await, Inbound::Closed(_)),
            "deaf is gone"
        );
        alive
            .send(Message::text(options(2)))
            .await
            .expect("still open");
        assert!(matches!(next(&mut s.rx).await, Inbound::Message(_)));
        assert_eq!(s.stats.ws_timeout_idle.load(Relaxed), 1);
        let code = closed(&mut deaf).await;
        assert!(matches!(code, Some(CloseCode::Policy) | None), "{code:?}");
    }

    #[tokio::test]
    async fn an_upgraded_stream_is_handed_over_under_the_caps() {
        let mut s = server(TcpLimits {
            max_per_ip: 1,
            ..TcpLimits::default()
        })
        .await;
        let acceptor = s.t.ws_acceptor();
        let addr: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
        let ticket = acceptor.admit(addr).expect("room");
        assert!(matches!(acceptor.admit(addr), Err(WsRefused::PerIp)));
        assert_eq!(s.stats.ws_refused_per_ip.load(Relaxed), 1);
        // The HTTP side: the client's handshake answered by hand, as the
        // web module does, then the stream handed over.
        let (client_io, mut server_io) = tokio::io::duplex(64 * 1024);
        let client = tokio::spawn(async move {
            let mut req = "ws://127.0.0.1/ws".into_client_request().expect("request");
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", "sip".parse().expect("value"));
            tokio_tungstenite::client_async(req, client_io)
                .await
                .map(|(ws, _)| ws)
        });
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            server_io.read_exact(&mut b).await.expect("request");
            head.push(b[0]);
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .expect("a key");
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: sip\r\n\r\n",
            ws_accept_key(key)
        );
        server_io.write_all(answer.as_bytes()).await.expect("101");
        assert!(ticket.start(server_io, Vec::new()));
        let mut ws = timeout(WAIT, client)
            .await
            .expect("upgraded in time")
            .expect("client task")
            .expect("upgraded");
        ws.send(Message::text(options(7))).await.expect("send");
        let Inbound::Message(r) = next(&mut s.rx).await else {
            panic!("a message");
        };
        assert_eq!(r.from, Peer::ws(addr));
        assert_eq!(s.stats.ws_open.load(Relaxed), 1);
        drop(ws);
        assert!(matches!(next(&mut s.rx).await, Inbound::Closed(p) if p == Peer::ws(addr)));
        // Its place is free again.
        until("the place is given back", || acceptor.admit(addr).is_ok()).await;
    }
}
