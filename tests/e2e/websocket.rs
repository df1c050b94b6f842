//! SIP over WebSocket (RFC 7118) against the real binary, with a Rust
//! WebSocket client (tokio-tungstenite, the server's own stack) playing the
//! browser: it registers a WebRTC-enabled extension over `ws` (the HTTP
//! port's `/ws`) and over `wss` (the WSS port, trusting the self-signed
//! certificate the server made in its data dir) with digest
//! authentication, the way JsSIP does (`.invalid` hosts in Via and
//! Contact); an extension without WebRTC is refused 403; a call from a UDP
//! phone rings on the WebSocket, is answered, and is hung up from either
//! side; the registration goes when the connection closes. Attackers: a
//! connection flood meets the caps, a handshake without the `sip`
//! subprotocol, frames that are no SIP and an oversized frame are refused
//! and counted, a silent connection is closed at the first-message
//! deadline.

use crate::harness::{self, Server};
use crate::ua::{self, Msg, Ua, STEP};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// A server with extensions 1000-1003 ("secret"), WebRTC enabled on 1000
/// and 1001, a WSS listener, and `extra` TOML after its `[sip]` table.
pub(crate) async fn ws_server(name: &str, extra: &str) -> (Server, SocketAddr) {
    let port = harness::free_tcp_port();
    let server = Server::builder(name)
        .extensions("1000-1003", "secret")
        .config(&format!("[sip]\nwss_port = {port}\n{extra}"))
        .start();
    let store = server.store().await;
    for n in ["1000", "1001"] {
        let mut e = store
            .get_extension(n)
            .await
            .expect("read the extension")
            .expect("provisioned");
        e.webrtc = true;
        store.update_extension(&e).await.expect("enable WebRTC");
    }
    (server, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Polls `metric(name, labels)` until `pred` holds (a hang guard of
/// [`STEP`]); returns the last value.
async fn metric_until(
    server: &Server,
    name: &str,
    labels: &str,
    pred: impl Fn(f64) -> bool,
) -> f64 {
    let until = Instant::now() + STEP;
    loop {
        let v = server.metric(name, labels);
        if pred(v) || Instant::now() > until {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The WebSocket handshake offering `protocol` (None: no
/// Sec-WebSocket-Protocol at all).
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    url: &str,
    stream: S,
    protocol: Option<&str>,
) -> Result<WebSocketStream<S>, WsError> {
    let mut req = url.into_client_request().expect("a request");
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().expect("header"));
    }
    let (ws, resp) = tokio::time::timeout(STEP, tokio_tungstenite::client_async(req, stream))
        .await
        .expect("handshake in time")?;
    assert_eq!(
        resp.headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok()),
        Some("sip"),
        "the server chose sip"
    );
    Ok(ws)
}

/// `ws://` to the HTTP port's `/ws`.
pub(crate) async fn connect_ws(
    server: &Server,
    protocol: Option<&str>,
) -> Result<WsPhone<TcpStream>, WsError> {
    let http = SocketAddr::from(([127, 0, 0, 1], server.http_port));
    let tcp = TcpStream::connect(http)
        .await
        .expect("connect to the HTTP port");
    let me = tcp.local_addr().expect("local addr");
    let url = format!("ws://127.0.0.1:{}/ws", server.http_port);
    let ws = handshake(&url, tcp, protocol).await?;
    Ok(WsPhone::new(ws, me, http, "WS"))
}

/// A TLS client that trusts only the certificate the server made.
fn connector(server: &Server) -> tokio_rustls::TlsConnector {
    let pem =
        std::fs::read(server.data_dir.join("tls/cert.pem")).expect("the server made tls/cert.pem");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.expect("a PEM certificate"))
            .expect("a usable root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// `wss://` to the WSS port, verifying the server's certificate.
async fn connect_wss(server: &Server, wss: SocketAddr) -> WsPhone<Tls> {
    let tcp = TcpStream::connect(wss)
        .await
        .expect("connect to the WSS port");
    let me = tcp.local_addr().expect("local addr");
    let name = ServerName::try_from("localhost").expect("server name");
    let tls = tokio::time::timeout(STEP, connector(server).connect(name, tcp))
        .await
        .expect("TLS handshake in time")
        .expect("TLS with the server's own certificate");
    let url = format!("wss://localhost:{}/", wss.port());
    let ws = handshake(&url, tls, Some("sip"))
        .await
        .expect("WebSocket handshake");
    WsPhone::new(ws, me, wss, "WSS")
}

/// A browser's SIP stack as JsSIP behaves: random `.invalid` host in Via
/// and Contact, one message per text frame.
pub(crate) struct WsPhone<S> {
    ws: WebSocketStream<S>,
    /// The connection's local address (what the server sees).
    me: SocketAddr,
    server: SocketAddr,
    /// "WS" or "WSS" (the Via transport).
    via: &'static str,
    /// The made-up host of Via and Contact.
    pub(crate) host: String,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsPhone<S> {
    fn new(ws: WebSocketStream<S>, me: SocketAddr, server: SocketAddr, via: &'static str) -> Self {
        WsPhone {
            ws,
            me,
            server,
            via,
            host: format!("{}.invalid", ua::token()),
        }
    }

    fn transport(&self) -> String {
        self.via.to_ascii_lowercase()
    }

    pub(crate) async fn send(&mut self, msg: &str) {
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .expect("send a frame");
    }

    /// The next SIP message.
    pub(crate) async fn recv(&mut self) -> Msg {
        loop {
            let frame = tokio::time::timeout(STEP, self.ws.next())
                .await
                .expect("a message in time");
            match frame {
                Some(Ok(Message::Text(t))) => {
                    return Msg::parse(t.as_bytes(), self.server).expect("a SIP message")
                }
                Some(Ok(Message::Binary(b))) => {
                    return Msg::parse(&b, self.server).expect("a SIP message")
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("the server closed the WebSocket: {other:?}"),
            }
        }
    }

    /// The next request of `method`, answering nothing in between.
    pub(crate) async fn recv_request(&mut self, method: &str) -> Msg {
        loop {
            let m = self.recv().await;
            if m.method.as_deref() == Some(method) {
                return m;
            }
        }
    }

    /// Waits until the server closes the connection; returns its close code.
    async fn closed(&mut self) -> Option<CloseCode> {
        let until = Instant::now() + STEP;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Err(_) => panic!("the server did not close the connection"),
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) => return None,
            }
        }
    }

    pub(crate) fn contact(&self, user: &str) -> String {
        format!(
            "<sip:{user}-{}@{};transport={}>;+sip.ice;reg-id=1;\
             +sip.instance=\"<urn:uuid:9e0d4f0c-1f5e-4c4b-8f51-{:012}>\"",
            self.me.port(),
            self.host,
            self.transport(),
            self.me.port()
        )
    }

    fn register_msg(&self, user: &str, cseq: u32, auth: &str) -> String {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{} {};branch={}\r\n\
             Max-Forwards: 69\r\nTo: <sip:{user}@127.0.0.1>\r\n\
             From: <sip:{user}@127.0.0.1>;tag=ws{user}\r\nCall-ID: ws-reg-{user}-{}\r\n\
             CSeq: {cseq} REGISTER\r\nContact: {}\r\nExpires: 600\r\n\
             Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY\r\n\
             Supported: path,gruu,outbound\r\nUser-Agent: JsSIP-like test\r\n{auth}\
             Content-Length: 0\r\n\r\n",
            self.via,
            self.host,
            ua::branch(),
            self.me.port(),
            self.contact(user)
        )
    }

    /// REGISTER, answer the digest challenge, return the final response.
    async fn register(&mut self, user: &str, password: &str) -> Msg {
        self.send(&self.register_msg(user, 1, "")).await;
        let challenge = self.recv().await;
        if challenge.status != Some(401) {
            return challenge;
        }
        let header = challenge.header("WWW-Authenticate").expect("a challenge");
        let ch = sip::auth::Challenge::parse(header).expect("a digest challenge");
        let answer = sip::auth::answer(
            &ch,
            user,
            password,
            "REGISTER",
            "sip:127.0.0.1",
            &ua::token(),
            1,
        );
        let msg = self.register_msg(user, 2, &format!("Authorization: {answer}\r\n"));
        self.send(&msg).await;
        self.recv().await
    }

    /// Registers, retrying while the server has not yet read that WebRTC
    /// was enabled (the directory is re-read within a second).
    pub(crate) async fn register_until_ok(&mut self, user: &str, password: &str) -> Msg {
        let until = Instant::now() + STEP;
        loop {
            let r = self.register(user, password).await;
            if r.status == Some(200) || Instant::now() > until {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A response to `req`, with our To tag, Contact and `body` (SDP).
    pub(crate) async fn respond(&mut self, req: &Msg, status: &str, user: &str, body: &str) {
        let mut r = format!("SIP/2.0 {status}\r\n");
        for name in ["Via", "From", "Call-ID", "CSeq"] {
            for v in req.headers_all(name) {
                r.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        let to = req.header("To").expect("To");
        let to = if to.contains(";tag=") {
            to.to_string()
        } else {
            format!("{to};tag=wsphone")
        };
        r.push_str(&format!("To: {to}\r\nContact: {}\r\n", self.contact(user)));
        if body.is_empty() {
            r.push_str("Content-Length: 0\r\n\r\n");
        } else {
            r.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        }
        self.send(&r).await;
    }
}

/// A call from UDP phone 1002 to the browser at 1000: it rings on the
/// WebSocket and is answered (plain RTP SDP; WebRTC media is not the
/// subject here). Returns the caller with its dialog, the INVITE the
/// browser got and the browser's To (with its tag).
async fn call_the_browser<S: AsyncRead + AsyncWrite + Unpin>(
    server: &Server,
    browser: &mut WsPhone<S>,
) -> (Ua, ua::Dialog, Msg) {
    let sip_addr = SocketAddr::from(([127, 0, 0, 1], server.sip_port));
    let mut caller = Ua::new("1002", "secret", sip_addr).await;
    assert_eq!(caller.register(300).await.status, Some(200));
    let offer = ua::sdp(server.ports.media_port(0), "sendrecv");
    let call = tokio::spawn(async move {
        let (answer, dialog) = caller.invite("1000", &offer).await;
        (caller, answer, dialog)
    });
    let invite = browser.recv_request("INVITE").await;
    let via = invite.header("Via").expect("Via");
    let token = format!("SIP/2.0/{} ", browser.via);
    assert!(
        via.starts_with(&token),
        "the INVITE's Via says {token}: {via}"
    );
    let ruri = invite.raw.lines().next().unwrap_or_default().to_string();
    assert!(
        ruri.contains(&browser.host),
        "sent to the browser's Contact, its .invalid host unresolved: {ruri}"
    );
    let contact = invite.contact_uri().expect("our Contact");
    let transport = format!(";transport={}", browser.transport());
    assert!(
        contact.ends_with(&transport),
        "Contact says {transport}: {contact}"
    );
    browser.respond(&invite, "180 Ringing", "1000", "").await;
    let answer_sdp = ua::sdp(server.ports.media_port(1), "sendrecv");
    browser
        .respond(&invite, "200 OK", "1000", &answer_sdp)
        .await;
    let ack = browser.recv_request("ACK").await;
    assert_eq!(ack.call_id(), invite.call_id());
    let (caller, answer, dialog) = tokio::time::timeout(STEP, call)
        .await
        .expect("the caller is answered in time")
        .expect("caller task");
    assert_eq!(answer.status, Some(200), "{}", answer.raw);
    (caller, dialog.expect("a dialog"), invite)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_registers_over_ws_takes_a_call_and_its_binding_goes_with_the_connection() {
    let (server, _) = ws_server("ws_call", "").await;
    let mut browser = connect_ws(&server, Some("sip")).await.expect("upgraded");
    let ok = browser.register_until_ok("1000", "secret").await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
    let bound = ok.header("Contact").expect("the binding");
    assert!(
        bound.contains(&browser.host) && bound.contains("transport=ws"),
        "the binding keeps the browser's Contact: {bound}"
    );
    assert_eq!(
        metric_until(
            &server,
            "switchboard_sip_ws_connections",
            "kind=\"ws\"",
            |v| v == 1.0
        )
        .await,
        1.0
    );

    // A call hung up by the browser: its BYE goes to our Contact over the
    // same connection.
    let (mut caller, dialog, invite) = call_the_browser(&server, &mut browser).await;
    let bye = format!(
        "BYE {} SIP/2.0\r\nVia: SIP/2.0/WS {};branch={}\r\nMax-Forwards: 69\r\n\
         From: {};tag=wsphone\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        invite.contact_uri().expect("Contact"),
        browser.host,
        ua::branch(),
        invite.header("To").expect("To"),
        invite.header("From").expect("From"),
        invite.call_id()
    );
    browser.send(&bye).await;
    let done = loop {
        let m = browser.recv().await;
        if m.status.is_some() && m.cseq().1 == "BYE" {
            break m;
        }
    };
    assert_eq!(done.status, Some(200), "{}", done.raw);
    let their_bye = caller.expect_request("BYE", &dialog.call_id, "").await;
    assert_eq!(their_bye.method.as_deref(), Some("BYE"));

    // A call hung up by the UDP phone: the BYE reaches the browser.
    let (mut caller, mut dialog, invite) = call_the_browser(&server, &mut browser).await;
    let ok = caller.bye(&mut dialog).await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
    let bye = browser.recv_request("BYE").await;
    assert_eq!(
        bye.call_id(),
        invite.call_id(),
        "the BYE of the call it answered"
    );
    browser.respond(&bye, "200 OK", "1000", "").await;

    // The connection closes: the registration goes at once, and a call to
    // 1000 no longer rings anywhere.
    drop(browser);
    assert_eq!(
        metric_until(
            &server,
            "switchboard_sip_ws_bindings_dropped_total",
            "",
            |v| v >= 1.0
        )
        .await,
        1.0
    );
    assert_eq!(
        metric_until(
            &server,
            "switchboard_sip_ws_connections",
            "kind=\"ws\"",
            |v| v == 0.0
        )
        .await,
        0.0
    );
    let offer = ua::sdp(server.ports.media_port(2), "sendrecv");
    let (answer, _) = caller.invite("1000", &offer).await;
    let status = answer.status.unwrap_or(0);
    assert!(
        (400..500).contains(&status),
        "nobody is registered at 1000: {}",
        answer.raw
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_registers_over_wss_trusting_the_servers_certificate() {
    let (server, wss) = ws_server("wss_register", "").await;
    let mut browser = connect_wss(&server, wss).await;
    let ok = browser.register_until_ok("1001", "secret").await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
    assert!(ok.raw.contains("transport=wss"), "{}", ok.raw);
    assert_eq!(
        metric_until(
            &server,
            "switchboard_sip_ws_connections",
            "kind=\"wss\"",
            |v| v == 1.0
        )
        .await,
        1.0
    );
    // An OPTIONS ping comes back over the same connection.
    let options = format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WSS {};branch={}\r\nMax-Forwards: 69\r\n\
         From: <sip:1001@127.0.0.1>;tag=o1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: wss-options\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        browser.host,
        ua::branch()
    );
    browser.send(&options).await;
    assert_eq!(browser.recv().await.status, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_without_webrtc_is_refused_over_websocket_but_not_on_udp() {
    let (server, _) = ws_server("ws_no_webrtc", "").await;
    let mut browser = connect_ws(&server, Some("sip")).await.expect("upgraded");
    let refused = browser.register("1002", "secret").await;
    assert_eq!(refused.status, Some(403), "{}", refused.raw);
    assert!(
        refused
            .raw
            .starts_with("SIP/2.0 403 WebRTC not enabled for this extension\r\n"),
        "{}",
        refused.raw
    );
    assert!(server.metric("switchboard_webrtc_rejects_total", "") >= 1.0);
    // A wrong password is still a wrong password (no hint either way).
    let wrong = browser.register("1003", "nope").await;
    assert_eq!(wrong.status, Some(403), "{}", wrong.raw);
    assert!(!wrong.raw.contains("WebRTC"), "{}", wrong.raw);
    // The same extension on UDP is a desk phone: welcome. So is a WebRTC
    // one.
    let sip_addr = SocketAddr::from(([127, 0, 0, 1], server.sip_port));
    for user in ["1002", "1000"] {
        let mut phone = Ua::new(user, "secret", sip_addr).await;
        assert_eq!(phone.register(300).await.status, Some(200), "{user} on UDP");
    }
    // The connection stays usable for an extension that may.
    let ok = browser.register_until_ok("1000", "secret").await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_flood_is_capped_per_address() {
    let (server, wss) = ws_server("ws_flood", "[sip.tcp]\nmax_connections_per_ip = 4").await;
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(
            connect_ws(&server, Some("sip"))
                .await
                .expect("within the cap"),
        );
    }
    // The fifth is refused before the upgrade, on /ws and on the WSS port.
    match connect_ws(&server, Some("sip")).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 503),
        Err(e) => panic!("refused with 503, not {e}"),
        Ok(_) => panic!("a fifth connection from one address was accepted"),
    }
    let mut tcp = TcpStream::connect(wss).await.expect("connect");
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(STEP, tokio::io::AsyncReadExt::read(&mut tcp, &mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "the WSS port closes it at once");
    assert!(
        metric_until(
            &server,
            "switchboard_sip_ws_refused_total",
            "reason=\"per_ip\"",
            |v| v >= 2.0
        )
        .await
            >= 2.0
    );
    // One closes: there is room again.
    drop(open.pop());
    let until = Instant::now() + STEP;
    let mut again = loop {
        match connect_ws(&server, Some("sip")).await {
            Ok(ws) => break ws,
            Err(e) if Instant::now() < until => {
                eprintln!("not yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no room after a close: {e}"),
        }
    };
    let ok = again.register_until_ok("1000", "secret").await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sip_subprotocol_garbage_and_oversized_frames_are_refused_and_counted() {
    let (server, _) = ws_server("ws_junk", "[sip.tcp]\nfirst_message_timeout_secs = 3").await;
    // Without `sip` offered: 400 before any upgrade.
    for protocol in [Some("chat"), None] {
        match connect_ws(&server, protocol).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), 400, "{protocol:?}"),
            Err(e) => panic!("refused with 400, not {e}"),
            Ok(_) => panic!("upgraded without the sip subprotocol ({protocol:?})"),
        }
    }
    assert!(
        metric_until(
            &server,
            "switchboard_sip_ws_handshake_errors_total",
            "",
            |v| v >= 2.0
        )
        .await
            >= 2.0
    );

    // A malformed SIP request is answered 400 and the connection stays.
    let mut browser = connect_ws(&server, Some("sip")).await.expect("upgraded");
    let ok = browser.register_until_ok("1000", "secret").await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
    browser
        .send(
            "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKbad\r\n\
             From: <sip:1000@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: bad\r\n\
             Content-Length: 0\r\n\r\n",
        )
        .await;
    let bad = browser.recv().await;
    assert_eq!(bad.status, Some(400), "{}", bad.raw);
    // A body shorter than its Content-Length: 400 as well.
    browser
        .send(
            "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKcl\r\n\
             From: <sip:1000@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: cl\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 50\r\n\r\nshort",
        )
        .await;
    let short = browser.recv().await;
    assert_eq!(short.status, Some(400), "{}", short.raw);
    let again = browser.register("1000", "secret").await;
    assert_eq!(again.status, Some(200), "still usable: {}", again.raw);

    // Text that is no SIP at all: closed with a protocol error.
    browser.send("hello, I am not SIP").await;
    assert_eq!(browser.closed().await, Some(CloseCode::Protocol));
    // Binary junk: the same.
    let mut junk = connect_ws(&server, Some("sip")).await.expect("upgraded");
    junk.ws
        .send(Message::binary(vec![0xff, 0x00, 0x13, 0x37]))
        .await
        .expect("send");
    assert_eq!(junk.closed().await, Some(CloseCode::Protocol));
    assert!(
        metric_until(
            &server,
            "switchboard_sip_ws_closed_total",
            "reason=\"protocol\"",
            |v| v >= 2.0
        )
        .await
            >= 2.0
    );

    // A frame larger than a SIP message may be: closed, counted.
    let mut big = connect_ws(&server, Some("sip")).await.expect("upgraded");
    let huge = format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    // The server may close while the frame is still being written.
    let _ = big.ws.send(Message::text(huge)).await;
    assert_eq!(
        big.closed().await.unwrap_or(CloseCode::Size),
        CloseCode::Size
    );
    assert!(
        metric_until(
            &server,
            "switchboard_sip_ws_closed_total",
            "reason=\"oversized\"",
            |v| v >= 1.0
        )
        .await
            >= 1.0
    );

    // Silence after the upgrade: closed at the first-message deadline.
    let mut silent = connect_ws(&server, Some("sip")).await.expect("upgraded");
    assert_eq!(silent.closed().await, Some(CloseCode::Policy));
    assert!(
        metric_until(
            &server,
            "switchboard_sip_ws_closed_total",
            "reason=\"first_message\"",
            |v| v >= 1.0
        )
        .await
            >= 1.0
    );
    // None of it left a connection open.
    assert_eq!(
        metric_until(&server, "switchboard_sip_ws_connections", "", |v| v == 0.0).await,
        0.0
    );
}
