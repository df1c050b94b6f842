//! SIP over TLS (RFC 3261 §26) against the real binary: a phone registers
//! with digest over TLS, trusting the self-signed certificate the server
//! made in its data dir on first run, and a call to it comes back over its
//! TLS connection; plain text and junk on the TLS port fail the handshake
//! and are dropped without harm to the listener. Gateways over TLS: a
//! carrier in the test and Debian's Kamailio (OpenSSL) verified through
//! `sip.tls_ca`, registering and calling out.

use crate::harness::{self, Server};
use crate::sipp::Sipp;
use crate::ua::{self, Msg, Rtp, Ua, STEP};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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

/// One end of a TLS connection (a phone, or a carrier in the gateway
/// test): it reads whole messages off the stream.
struct TlsPhone<S = TlsStream<TcpStream>> {
    stream: S,
    buf: Vec<u8>,
    server: SocketAddr,
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsPhone<S> {
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

    /// A response to `req` with these extra header lines.
    async fn respond(&mut self, req: &Msg, status: &str, extra: &str) {
        let mut r = format!("SIP/2.0 {status}\r\n");
        for name in ["Via", "From", "Call-ID", "CSeq"] {
            for v in req.headers_all(name) {
                r.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        r.push_str(&format!(
            "To: {};tag=tlspeer\r\n{extra}Content-Length: 0\r\n\r\n",
            req.header("To").expect("To")
        ));
        self.send(&r).await;
    }
}

impl TlsPhone {
    fn me(&self) -> SocketAddr {
        self.stream.get_ref().0.local_addr().expect("local addr")
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
    // Our Contact sends the phone's requests in the dialog to the TLS port.
    let target = invite.contact_uri().expect("Contact");
    assert!(
        target.ends_with(&format!(":{};transport=tls", tls.port())),
        "Contact names the TLS port: {target}"
    );
    // Answered: the caller gets the 200, our ACK comes over TLS.
    let answer_sdp = ua::sdp(server.ports.media_port(1), "sendrecv");
    let mut ok = String::from("SIP/2.0 200 OK\r\n");
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        for v in invite.headers_all(name) {
            ok.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    let to = format!("{};tag=tlsphone", invite.header("To").expect("To"));
    ok.push_str(&format!(
        "To: {to}\r\nContact: <sip:1000@{};transport=tls>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{answer_sdp}",
        phone.me(),
        answer_sdp.len()
    ));
    phone.send(&ok).await;
    let ack = phone.recv().await;
    assert_eq!(ack.method.as_deref(), Some("ACK"), "{}", ack.raw);
    let answer = tokio::time::timeout(STEP, call)
        .await
        .expect("caller done")
        .expect("caller task");
    assert_eq!(answer.status, Some(200), "{}", answer.raw);

    // The phone hangs up over TLS, to our Contact: accepted.
    let me = phone.me();
    let bye = format!(
        "BYE {target} SIP/2.0\r\nVia: SIP/2.0/TLS {me};branch={};rport\r\nMax-Forwards: 70\r\n\
         From: {to}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        ua::branch(),
        invite.header("From").expect("From"),
        invite.call_id()
    );
    phone.send(&bye).await;
    let done = loop {
        let m = phone.recv().await;
        if m.status.is_some() && m.cseq().1 == "BYE" {
            break m;
        }
    };
    assert_eq!(done.status, Some(200), "{}", done.raw);
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

/// A carrier's TLS listener with a certificate for 127.0.0.1 made here;
/// returns its PEM too.
async fn carrier(name: &str) -> (tokio::net::TcpListener, tokio_rustls::TlsAcceptor, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .unwrap_or_else(|e| panic!("certificate of {name}: {e}"));
    let cert = ck.cert.pem();
    let certs = vec![ck.cert.der().clone()];
    let key =
        rustls::pki_types::PrivateKeyDer::from_pem_slice(ck.key_pair.serialize_pem().as_bytes())
            .expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    (
        listener,
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        cert,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_registers_over_tls_to_a_carrier_it_verifies() {
    use callcenter::gateway::config::{Gateway, Mode, Transport};
    let (listener, acceptor, cert) = carrier("trusted").await;
    let (untrusted, untrusted_acceptor, _) = carrier("untrusted").await;
    let ca =
        std::env::temp_dir().join(format!("switchboard-e2e-tls-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, cert).expect("write the carrier's CA");
    let server = Server::builder("tls_gateway")
        .config(&format!("[sip]\ntls_ca = {:?}", ca.display().to_string()))
        .start();
    let gateway = |name: &str, port: u16| {
        let mut g = Gateway::new(name, Mode::Uni, "127.0.0.1");
        g.port = port;
        g.transport = Transport::Tls;
        g.realm = "carrier.test".into();
        g.username = "02150001".into();
        g.password = "carrier-pw".into();
        g
    };
    let store = server.store().await;
    let carrier_addr = listener.local_addr().expect("addr");
    store
        .add_gateway(&gateway("tlscarrier", carrier_addr.port()))
        .await
        .expect("add gateway");

    let (tcp, _) = tokio::time::timeout(STEP, listener.accept())
        .await
        .expect("the gateway connects in time")
        .expect("accept");
    let stream = tokio::time::timeout(STEP, acceptor.accept(tcp))
        .await
        .expect("handshake in time")
        .expect("the gateway accepts the carrier's certificate");
    let mut carrier = TlsPhone {
        stream,
        buf: Vec::new(),
        server: carrier_addr,
    };
    let register = carrier.recv().await;
    assert_eq!(
        register.method.as_deref(),
        Some("REGISTER"),
        "{}",
        register.raw
    );
    let via = register.header("Via").expect("Via");
    assert!(
        via.starts_with("SIP/2.0/TLS "),
        "REGISTER over TLS says so: {via}"
    );
    let contact = register.header("Contact").expect("Contact").to_string();
    assert!(contact.contains(";transport=tls"), "{contact}");
    carrier
        .respond(
            &register,
            "200 OK",
            &format!("Contact: {contact}\r\nExpires: 120\r\n"),
        )
        .await;
    let labels = "gateway=\"tlscarrier\"";
    server.wait_metric("switchboard_gateway_registered", labels, |v| v == 1.0, STEP);

    // A carrier whose certificate no trusted authority signed: the
    // handshake fails, nothing is sent to it in clear.
    let bad_port = untrusted.local_addr().expect("addr").port();
    let refused = tokio::spawn(async move {
        let (tcp, _) = untrusted.accept().await.expect("accept");
        untrusted_acceptor.accept(tcp).await.is_err()
    });
    store
        .add_gateway(&gateway("untrusted", bad_port))
        .await
        .expect("add gateway");
    let failed = tokio::time::timeout(STEP, refused)
        .await
        .expect("the gateway tried in time")
        .expect("carrier task");
    assert!(failed, "the handshake with an unknown certificate fails");
    server.wait_metric(
        "switchboard_sip_tls_handshake_errors_total",
        "",
        |v| v >= 1.0,
        STEP,
    );
    assert_eq!(
        server.metric("switchboard_gateway_registered", "gateway=\"untrusted\""),
        0.0
    );
    let _ = std::fs::remove_file(&ca);
}

/// Kamailio (Debian's, with kamailio-tls-modules) as a carrier listening on
/// TLS with a certificate made here: tests/kamailio/carrier.cfg with a TLS
/// listener added. Stopped (SIGTERM) when dropped.
struct KamailioTls {
    child: std::process::Child,
    port: u16,
    log: std::path::PathBuf,
}

impl KamailioTls {
    fn start(
        name: &str,
        user: &str,
        password: &str,
        (cert_pem, key_pem): (&str, &str),
        far_port: u16,
    ) -> KamailioTls {
        let udp_port = harness::free_udp_port();
        let port = harness::free_tcp_port();
        let dir = harness::artifacts().join("kamailio").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("kamailio dir");
        std::fs::write(dir.join("cert.pem"), cert_pem).expect("write cert");
        std::fs::write(dir.join("key.pem"), key_pem).expect("write key");
        let tls_cfg = format!(
            "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n\
             certificate = {}\nprivate_key = {}\n\n[client:default]\nverify_certificate = no\n\
             require_certificate = no\n",
            dir.join("cert.pem").display(),
            dir.join("key.pem").display()
        );
        std::fs::write(dir.join("tls.cfg"), tls_cfg).expect("write tls.cfg");
        let cfg = std::fs::read_to_string(harness::root().join("tests/kamailio/carrier.cfg"))
            .expect("tests/kamailio/carrier.cfg")
            .replace(
                "listen=udp:127.0.0.1:@LISTEN_PORT@",
                &format!("listen=udp:127.0.0.1:{udp_port}\nlisten=tls:127.0.0.1:{port}\nenable_tls=yes"),
            )
            .replace(
                "loadmodule \"tm.so\"",
                &format!(
                    "loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"{}\")\nloadmodule \"tm.so\"",
                    dir.join("tls.cfg").display()
                ),
            )
            .replace("@USER@", user)
            .replace("@PASSWORD@", password)
            .replace("@FAR_PORT@", &far_port.to_string());
        let cfg_path = dir.join("kamailio.cfg");
        std::fs::write(&cfg_path, cfg).expect("write kamailio.cfg");
        let log = dir.join("kamailio.log");
        let out = std::fs::File::create(&log).expect("kamailio log");
        let child = std::process::Command::new("kamailio")
            .arg("-f")
            .arg(&cfg_path)
            .args(["-DD", "-E", "-w"])
            .arg(&dir)
            .arg("-P")
            .arg(dir.join("kamailio.pid"))
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start kamailio (Debian packages kamailio, kamailio-tls-modules)");
        let k = KamailioTls { child, port, log };
        // Listening once the TLS port is taken.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "kamailio did not start:\n{}",
                k.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        k
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for KamailioTls {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn kamailio_over_tls_registers_our_gateway_and_carries_a_call_out() {
    use callcenter::gateway::config::{Gateway, Mode, Transport};
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let cert = ck.cert.pem();
    let far_port = harness::free_udp_port();
    let kamailio = KamailioTls::start(
        "tls_kamailio",
        "02150001",
        "kam-pw",
        (&cert, &ck.key_pair.serialize_pem()),
        far_port,
    );
    let ca =
        std::env::temp_dir().join(format!("switchboard-e2e-kam-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, &cert).expect("write the carrier's CA");
    let server = Server::builder("tls_kamailio")
        .extensions("1000", "secret")
        .config(&format!(
            "[sip]\ntls_ca = {:?}\n\n{OUT_ROUTE}",
            ca.display().to_string()
        ))
        .start();
    let mut g = Gateway::new("kamtls", Mode::Uni, "127.0.0.1");
    g.port = kamailio.port;
    g.transport = Transport::Tls;
    g.realm = "carrier.test".into();
    g.username = "02150001".into();
    g.password = "kam-pw".into();
    server
        .store()
        .await
        .add_gateway(&g)
        .await
        .expect("add gateway");
    let reged = server.wait_metric(
        "switchboard_gateway_registered",
        "gateway=\"kamtls\"",
        |v| v == 1.0,
        std::time::Duration::from_secs(20),
    );
    assert_eq!(reged, 1.0, "{}\n{}", server.log_tail(30), kamailio.log());
    let log = std::fs::read_to_string(&server.log_path).unwrap_or_default();
    assert!(log.contains("SIP/2.0/TLS"), "the REGISTER went over TLS");

    // Out: our INVITE over TLS, challenged by Kamailio (407) and relayed to
    // the far end; the ACK and BYE follow over TLS.
    let far = Sipp::new("tls_kamailio_far", "uas_answer")
        .port(far_port)
        .media("127.0.0.1", server.ports.media_port(6))
        .spawn();
    let mut phone = Ua::new("1000", "secret", server.sip_addr()).await;
    let rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = phone.invite("0555", &ua::sdp(rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}\n{}", resp.raw, kamailio.log());
    assert_eq!(
        phone.bye(&mut dialog.expect("dialog")).await.status,
        Some(200)
    );
    far.wait().await.assert_success(1);
    let log = std::fs::read_to_string(&server.log_path).unwrap_or_default();
    for method in ["INVITE", "ACK", "BYE"] {
        assert!(
            log.contains(&format!(
                "send to TLS:127.0.0.1:{}:\n{method} ",
                kamailio.port
            )),
            "{method} went to Kamailio over TLS"
        );
    }
    let _ = std::fs::remove_file(&ca);
}

/// "0" then a number leaves through gateway "kamtls", the 0 stripped.
const OUT_ROUTE: &str = r#"[trunk]
acl = []

[[callcenter.routes]]
name = "out"
pattern = '^0(\d+)$'
[callcenter.routes.kind]
type = "outbound"
gateways = ["kamtls"]
strip_digits = 1
timeout_secs = 30
"#;
