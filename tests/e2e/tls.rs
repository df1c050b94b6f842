//! SIP over TLS (RFC 3261 §26) against the real binary: a phone registers
//! with digest over TLS, trusting the self-signed certificate the server
//! made in its data dir on first run, and a call to it comes back over its
//! TLS connection; plain text and junk on the TLS port fail the handshake
//! and are dropped without harm to the listener.

use crate::harness::{self, Server};
use crate::ua::{self, Msg, Ua, STEP};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A server with TLS on a free port for phones, extensions 1000-1001.
fn tls_server(name: &str) -> (Server, SocketAddr) {
    let port = harness::free_tcp_port();
    let server = Server::builder(name)
        .extensions("1000-1001", "secret")
        .config(&format!("[sip]\ntls_port = {port}"))
        .start();
    (server, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// A TLS client that trusts only the certificate the server made.
fn connector(server: &Server) -> TlsConnector {
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
    TlsConnector::from(Arc::new(config))
}

async fn connect(server: &Server, tls: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(tls)
        .await
        .expect("connect to the TLS port");
    let name = ServerName::try_from("localhost").expect("server name");
    tokio::time::timeout(STEP, connector(server).connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("handshake with the server's own certificate")
}

/// A phone on one TLS connection: it reads whole messages off the stream.
struct TlsPhone {
    stream: TlsStream<TcpStream>,
    buf: Vec<u8>,
    server: SocketAddr,
}

impl TlsPhone {
    fn me(&self) -> SocketAddr {
        self.stream.get_ref().0.local_addr().expect("local addr")
    }

    async fn send(&mut self, msg: &str) {
        self.stream.write_all(msg.as_bytes()).await.expect("send");
        self.stream.flush().await.expect("flush");
    }

    /// The next message, framed by Content-Length.
    async fn recv(&mut self) -> Msg {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        n.trim()
                            .eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0usize);
                if self.buf.len() >= end + 4 + len {
                    let data: Vec<u8> = self.buf.drain(..end + 4 + len).collect();
                    return Msg::parse(&data, self.server).expect("a SIP message");
                }
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(STEP, self.stream.read(&mut chunk))
                .await
                .expect("a message in time")
                .expect("read");
            assert!(n > 0, "the server closed the TLS connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn register(&self, user: &str, cseq: u32, auth: &str) -> String {
        let me = self.me();
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS {me};branch={};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag=tls{user}\r\n\
             To: <sip:{user}@127.0.0.1>\r\nCall-ID: tls-reg-{user}@{me}\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{user}@{me};transport=tls>\r\nExpires: 300\r\n{auth}Content-Length: 0\r\n\r\n",
            ua::branch()
        )
    }

    /// REGISTER, answer the digest challenge, return the final response.
    async fn register_with_digest(&mut self, user: &str, password: &str) -> Msg {
        self.send(&self.register(user, 1, "")).await;
        let challenge = self.recv().await;
        assert_eq!(challenge.status, Some(401), "{}", challenge.raw);
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
        self.send(&self.register(user, 2, &format!("Authorization: {answer}\r\n")))
            .await;
        self.recv().await
    }
}

#[tokio::test]
async fn phone_registers_over_tls_and_is_called_back_over_it() {
    let (server, tls) = tls_server("tls_register");
    let stream = connect(&server, tls).await;
    let mut phone = TlsPhone {
        stream,
        buf: Vec::new(),
        server: tls,
    };
    let ok = phone.register_with_digest("1000", "secret").await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
    assert!(
        ok.raw.contains("transport=tls"),
        "the binding keeps the transport:\n{}",
        ok.raw
    );

    // Another phone, on UDP, calls 1000: the INVITE comes over the TLS
    // connection 1000 registered on.
    let sip_addr = SocketAddr::from(([127, 0, 0, 1], server.sip_port));
    let mut caller = Ua::new("1001", "secret", sip_addr).await;
    assert_eq!(caller.register(300).await.status, Some(200));
    let offer = ua::sdp(server.ports.media_port(0), "sendrecv");
    let call = tokio::spawn(async move { caller.invite("1000", &offer).await.0 });
    let invite = loop {
        let m = phone.recv().await;
        if m.method.as_deref() == Some("INVITE") {
            break m;
        }
    };
    let via = invite.header("Via").expect("Via");
    assert!(
        via.starts_with("SIP/2.0/TLS "),
        "INVITE over TLS says so: {via}"
    );
    // Busy: the caller hears it, and the server's ACK comes over TLS too.
    let mut busy = String::from("SIP/2.0 486 Busy Here\r\n");
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        for v in invite.headers_all(name) {
            busy.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    busy.push_str(&format!(
        "To: {};tag=busy\r\nContent-Length: 0\r\n\r\n",
        invite.header("To").expect("To")
    ));
    phone.send(&busy).await;
    let ack = phone.recv().await;
    assert_eq!(ack.method.as_deref(), Some("ACK"), "{}", ack.raw);
    let answer = tokio::time::timeout(STEP, call)
        .await
        .expect("caller done")
        .expect("caller task");
    assert_eq!(answer.status, Some(486), "{}", answer.raw);
}

#[tokio::test]
async fn plain_text_and_junk_on_the_tls_port_are_dropped_harmlessly() {
    let (server, tls) = tls_server("tls_junk");
    // Plain SIP where TLS is expected, then bytes that are no handshake.
    for junk in [
        &b"OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x02, 0x03][..],
    ] {
        let mut s = TcpStream::connect(tls).await.expect("connect");
        s.write_all(junk).await.expect("write");
        let mut buf = [0u8; 1024];
        let mut total = 0;
        // The server answers with at most a TLS alert, then closes.
        loop {
            let n = tokio::time::timeout(STEP, s.read(&mut buf))
                .await
                .expect("closed in time")
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            assert_eq!(buf[0], 0x15, "nothing but a TLS alert is sent back");
            total += n;
            assert!(total < 64, "a short alert, not SIP");
        }
    }
    let until = std::time::Instant::now() + STEP;
    while server.metric("switchboard_sip_tls_handshake_errors_total", "") < 2.0 {
        assert!(
            std::time::Instant::now() < until,
            "handshake failures are counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The listener still serves a phone.
    let stream = connect(&server, tls).await;
    let mut phone = TlsPhone {
        stream,
        buf: Vec::new(),
        server: tls,
    };
    let ok = phone.register_with_digest("1001", "secret").await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
}
