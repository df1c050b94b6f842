//! WebRTC load generator (benches/webrtc.sh): CALLS concurrent calls, each
//! from a plain UDP SIP phone (PCMU) to a WebRTC extension registered over
//! SIP on WebSocket by a Rust "browser" (str0m with full ICE, DTLS-SRTP,
//! answering the server's WebRTC offer with Opus only), so that the server
//! terminates DTLS-SRTP and transcodes Opus <-> PCMU on every call.
//!
//! Per call: one WebSocket to `/ws` (REGISTER with digest), one UDP socket
//! for the caller's SIP (INVITE, 407, INVITE with credentials, 200, ACK),
//! one for the caller's RTP (PCMU, 160 bytes every 20 ms, counting what comes
//! back) and one for the browser's str0m peer (an Opus frame every 20 ms once
//! DTLS is up, counting the decrypted packets that come back). The Opus frames
//! are real (libopus through `media::codec`), encoded once from a tone before
//! the calls start and sent in turn, so that the generator spends its CPU on
//! DTLS-SRTP and sockets, not on encoding.
//!
//! After every call is up (or has failed) and a warm-up, packets are counted
//! each way over a window of SECONDS while everything keeps sending: loss is
//! 1 - received / sent in the same window (the pipeline's delay shifts both
//! ends of the window alike). Also the sequence gaps of the received streams
//! (what the receiver itself would call lost), the server's CPU over the
//! window (`/proc/PID/stat`) and RSS, and the generator's own CPU. The last
//! line is `key=value` pairs.

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::change::SdpOffer;
use str0m::media::{Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::{TcpStream, UdpSocket};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const STEP: Duration = Duration::from_secs(20);

struct Args {
    calls: usize,
    seconds: u64,
    sip: SocketAddr,
    http: SocketAddr,
    first: u32,
    callers: u32,
    password: String,
    server_pid: Option<u32>,
    setup_rate: u32,
    warmup_ms: u64,
    threads: usize,
}

fn args() -> Args {
    let mut a = Args {
        calls: 300,
        seconds: 30,
        sip: "127.0.0.1:7060".parse().unwrap(),
        http: "127.0.0.1:7088".parse().unwrap(),
        first: 2000,
        callers: 5000,
        password: "bench".into(),
        server_pid: None,
        setup_rate: 50,
        warmup_ms: 2000,
        threads: 2,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = |i: usize| v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--calls" => a.calls = val(i).parse().expect("--calls N"),
            "--seconds" => a.seconds = val(i).parse().expect("--seconds S"),
            "--sip" => a.sip = val(i).parse().expect("--sip ADDR"),
            "--http" => a.http = val(i).parse().expect("--http ADDR"),
            "--first" => a.first = val(i).parse().expect("--first EXT"),
            "--callers" => a.callers = val(i).parse().expect("--callers EXT"),
            "--password" => a.password = val(i),
            "--server-pid" => a.server_pid = Some(val(i).parse().expect("--server-pid PID")),
            "--setup-rate" => a.setup_rate = val(i).parse().expect("--setup-rate N"),
            "--warmup-ms" => a.warmup_ms = val(i).parse().expect("--warmup-ms MS"),
            "--threads" => a.threads = val(i).parse().expect("--threads N"),
            // `cargo bench` passes --bench.
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// 0: warm-up, 1: counting, 2: stop.
static PHASE: AtomicU8 = AtomicU8::new(0);

#[derive(Default)]
struct Stats {
    /// Browser -> caller (Opus in, PCMU out of the server).
    peer_sent: AtomicU64,
    caller_recv: AtomicU64,
    caller_gap_expected: AtomicU64,
    caller_gap_recv: AtomicU64,
    /// Caller -> browser (PCMU in, Opus out).
    caller_sent: AtomicU64,
    peer_recv: AtomicU64,
    peer_gap_expected: AtomicU64,
    peer_gap_recv: AtomicU64,
    up: AtomicU64,
    connected: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    setup_ms_sum: AtomicU64,
    setup_ms_max: AtomicU64,
}

/// Sequence numbers of one received stream in the window.
#[derive(Default)]
struct SeqCount {
    first: Option<u64>,
    last: u64,
    n: u64,
}

impl SeqCount {
    fn add(&mut self, seq: u64) {
        if self.first.is_none() {
            self.first = Some(seq);
        }
        self.first = self.first.map(|f| f.min(seq));
        self.last = self.last.max(seq);
        self.n += 1;
    }
    fn expected(&self) -> u64 {
        self.first.map_or(0, |f| self.last - f + 1)
    }
}

/// A parsed SIP message (enough for this generator).
struct Msg {
    start: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Msg {
    fn parse(raw: &str) -> Option<Msg> {
        let (head, body) = raw.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let start = lines.next()?.to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| {
                let n = n.trim();
                let n = match n.to_ascii_lowercase().as_str() {
                    "v" => "Via",
                    "f" => "From",
                    "t" => "To",
                    "i" => "Call-ID",
                    "m" => "Contact",
                    "l" => "Content-Length",
                    "c" => "Content-Type",
                    _ => n,
                };
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        Some(Msg {
            start,
            headers,
            body: body.to_string(),
        })
    }
    fn status(&self) -> Option<u16> {
        self.start
            .strip_prefix("SIP/2.0 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
    }
    fn method(&self) -> Option<&str> {
        if self.start.starts_with("SIP/2.0") {
            None
        } else {
            self.start.split(' ').next()
        }
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn cseq_method(&self) -> &str {
        self.header("CSeq")
            .and_then(|c| c.split_whitespace().nth(1))
            .unwrap_or("")
    }
    fn contact_uri(&self) -> Option<String> {
        let c = self.header("Contact")?;
        let s = c.find('<')? + 1;
        let e = c[s..].find('>')? + s;
        Some(c[s..e].to_string())
    }
}

fn token() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// The (address, port) of the first audio stream of an SDP body.
fn sdp_media(body: &str) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for l in body.lines() {
        if let Some(c) = l.strip_prefix("c=IN IP4 ") {
            ip.get_or_insert(c.trim().to_string());
        }
        if let Some(m) = l.strip_prefix("m=audio ") {
            port = m.split(' ').next().and_then(|p| p.parse::<u16>().ok());
        }
    }
    format!("{}:{}", ip?, port?).parse().ok()
}

/// The payload type of opus/48000 in an SDP body.
fn opus_pt(sdp: &str) -> Option<u8> {
    sdp.lines().find_map(|l| {
        let rest = l.strip_prefix("a=rtpmap:")?;
        let (pt, name) = rest.split_once(' ')?;
        name.to_ascii_lowercase()
            .starts_with("opus/48000")
            .then(|| pt.parse().ok())?
    })
}

type Ws = WebSocketStream<TcpStream>;

async fn ws_send(ws: &mut Ws, msg: &str) -> Result<(), String> {
    ws.send(Message::text(msg.to_string()))
        .await
        .map_err(|e| format!("ws send: {e}"))
}

async fn ws_recv(ws: &mut Ws) -> Result<Msg, String> {
    loop {
        let frame = tokio::time::timeout(STEP, ws.next())
            .await
            .map_err(|_| "ws: nothing in time".to_string())?;
        match frame {
            Some(Ok(Message::Text(t))) => {
                return Msg::parse(t.as_str()).ok_or_else(|| "ws: not SIP".to_string())
            }
            Some(Ok(Message::Binary(b))) => {
                return Msg::parse(&String::from_utf8_lossy(&b))
                    .ok_or_else(|| "ws: not SIP".to_string())
            }
            Some(Ok(_)) => continue,
            other => return Err(format!("ws closed: {other:?}")),
        }
    }
}

/// The browser's SIP side on its WebSocket.
struct Browser {
    ws: Ws,
    me: SocketAddr,
    host: String,
    user: String,
}

impl Browser {
    async fn connect(http: SocketAddr, user: String) -> Result<Browser, String> {
        let tcp = TcpStream::connect(http)
            .await
            .map_err(|e| format!("connect {http}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let me = tcp.local_addr().map_err(|e| e.to_string())?;
        let mut req = format!("ws://{http}/ws")
            .into_client_request()
            .map_err(|e| e.to_string())?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
        // tungstenite zeroes its whole read buffer (128 KiB by default) on
        // every read attempt: a small one keeps the browsers' idle
        // WebSockets from costing the generator a third of its CPU.
        let cfg = WebSocketConfig::default().read_buffer_size(4096);
        let (ws, _) = tokio::time::timeout(
            STEP,
            tokio_tungstenite::client_async_with_config(req, tcp, Some(cfg)),
        )
        .await
        .map_err(|_| "ws handshake: timeout".to_string())?
        .map_err(|e| format!("ws handshake: {e}"))?;
        Ok(Browser {
            ws,
            me,
            host: format!("{}.invalid", token()),
            user,
        })
    }

    fn contact(&self) -> String {
        format!(
            "<sip:{}-{}@{};transport=ws>;+sip.ice;reg-id=1;\
             +sip.instance=\"<urn:uuid:9e0d4f0c-1f5e-4c4b-8f51-{:012}>\"",
            self.user,
            self.me.port(),
            self.host,
            self.me.port()
        )
    }

    fn register_msg(&self, call_id: &str, cseq: u32, auth: &str) -> String {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS {};branch=z9hG4bK{}\r\n\
             Max-Forwards: 69\r\nTo: <sip:{u}@127.0.0.1>\r\n\
             From: <sip:{u}@127.0.0.1>;tag={}\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\nContact: {}\r\nExpires: 3600\r\n\
             Allow: INVITE,ACK,CANCEL,BYE,OPTIONS\r\n\
             Supported: path,gruu,outbound\r\nUser-Agent: switchboard webrtc_load\r\n{auth}\
             Content-Length: 0\r\n\r\n",
            self.host,
            token(),
            token(),
            self.contact(),
            u = self.user,
        )
    }

    async fn register(&mut self, password: &str) -> Result<(), String> {
        let call_id = format!("wsreg-{}", token());
        let m = self.register_msg(&call_id, 1, "");
        ws_send(&mut self.ws, &m).await?;
        let ch = loop {
            let r = ws_recv(&mut self.ws).await?;
            match r.status() {
                Some(401) => break r,
                Some(s) if s >= 200 => return Err(format!("REGISTER: {}", r.start)),
                _ => continue,
            }
        };
        let header = ch
            .header("WWW-Authenticate")
            .ok_or("401 without a challenge")?;
        let ch = sip::auth::Challenge::parse(header).map_err(|e| format!("challenge: {e:?}"))?;
        let answer = sip::auth::answer(
            &ch,
            &self.user,
            password,
            "REGISTER",
            "sip:127.0.0.1",
            &token(),
            1,
        );
        let m = self.register_msg(&call_id, 2, &format!("Authorization: {answer}\r\n"));
        ws_send(&mut self.ws, &m).await?;
        loop {
            let r = ws_recv(&mut self.ws).await?;
            match r.status() {
                Some(200) => return Ok(()),
                Some(s) if s >= 200 => return Err(format!("REGISTER: {}", r.start)),
                _ => continue,
            }
        }
    }

    /// A response to `req` with our tag, Contact and `body`.
    async fn respond(&mut self, req: &Msg, status: &str, body: &str) -> Result<(), String> {
        let mut r = format!("SIP/2.0 {status}\r\n");
        for name in ["Via", "Record-Route", "From", "Call-ID", "CSeq"] {
            for v in req.headers_all(name) {
                r.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        let to = req.header("To").unwrap_or_default();
        let to = if to.contains(";tag=") {
            to.to_string()
        } else {
            format!("{to};tag=wsb{}", self.me.port())
        };
        r.push_str(&format!("To: {to}\r\nContact: {}\r\n", self.contact()));
        if body.is_empty() {
            r.push_str("Content-Length: 0\r\n\r\n");
        } else {
            r.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        }
        ws_send(&mut self.ws, &r).await
    }
}

/// The browser's WebRTC side: a str0m peer with full ICE on one UDP socket.
struct Peer {
    rtc: Rtc,
    sock: UdpSocket,
    addr: SocketAddr,
    mid: Option<Mid>,
    pt: Pt,
    connected: bool,
    failed: bool,
    seq: u64,
    recv: SeqCount,
}

impl Peer {
    async fn new() -> Result<Peer, String> {
        let sock = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind peer: {e}"))?;
        let addr = sock.local_addr().map_err(|e| e.to_string())?;
        // Opus only: the server must transcode to the caller's PCMU.
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(addr, "udp").map_err(|e| e.to_string())?);
        Ok(Peer {
            rtc,
            sock,
            addr,
            mid: None,
            pt: 111.into(),
            connected: false,
            failed: false,
            seq: fastrand::u64(1..30000),
            recv: SeqCount::default(),
        })
    }

    fn answer(&mut self, offer: &str) -> Result<String, String> {
        let pt = opus_pt(offer).ok_or("no Opus in the server's offer")?;
        self.pt = pt.into();
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| format!("offer: {e}"))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| format!("accept offer: {e}"))?;
        Ok(answer.to_sdp_string())
    }

    /// Sends what str0m has to send, handles its events; the next timeout.
    fn drain(&mut self, stats: &Stats) -> Instant {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return t,
                Ok(Output::Transmit(t)) => {
                    let _ = self.sock.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(ev)) => match ev {
                    Event::Connected => {
                        self.connected = true;
                        stats.connected.fetch_add(1, Relaxed);
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        self.failed = true
                    }
                    Event::MediaAdded(m) => {
                        self.mid.get_or_insert(m.mid);
                    }
                    Event::RtpPacket(p) if PHASE.load(Relaxed) == 1 => {
                        stats.peer_recv.fetch_add(1, Relaxed);
                        self.recv.add(*p.seq_no);
                    }
                    _ => {}
                },
                Err(_) => {
                    self.failed = true;
                    return Instant::now() + Duration::from_secs(1);
                }
            }
        }
    }

    fn send_frame(&mut self, frame: &Arc<[u8]>, stats: &Stats) {
        let Some(mid) = self.mid else { return };
        if !self.connected {
            return;
        }
        let now = Instant::now();
        let mut api = self.rtc.direct_api();
        if let Some(tx) = api.stream_tx_by_mid(mid, None) {
            self.seq += 1;
            tx.write_rtp(RtpWrite::new(
                self.pt,
                SeqNo::from(self.seq),
                (self.seq as u32).wrapping_mul(960),
                now,
                frame.clone(),
            ));
            if PHASE.load(Relaxed) == 1 {
                stats.peer_sent.fetch_add(1, Relaxed);
            }
        }
    }
}

/// The caller's INVITE (CSeq `cseq`, with `auth`).
#[allow(clippy::too_many_arguments)]
fn invite_msg(
    a: &Args,
    me: SocketAddr,
    caller: u32,
    callee: u32,
    call_id: &str,
    tag: &str,
    cseq: u32,
    auth: &str,
    sdp: &str,
) -> String {
    format!(
        "INVITE sip:{callee}@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{}-{cseq};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{caller}@127.0.0.1>;tag={tag}\r\nTo: <sip:{callee}@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:{caller}@{me}>\r\n{auth}\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        token(),
        sdp.len(),
        sip = a.sip,
    )
}

/// ACK for a response to the INVITE of `cseq`.
fn ack_msg(me: SocketAddr, uri: &str, resp: &Msg, cseq: u32, branch: Option<&str>) -> String {
    let mut routes: Vec<&str> = resp.headers_all("Record-Route").collect();
    routes.reverse();
    let route: String = routes.iter().map(|r| format!("Route: {r}\r\n")).collect();
    let via = match branch {
        // The ACK of a failure response is part of the INVITE transaction.
        Some(_) => resp.header("Via").unwrap_or_default().to_string(),
        None => format!("SIP/2.0/UDP {me};branch=z9hG4bK{};rport", token()),
    };
    format!(
        "ACK {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n{route}From: {}\r\nTo: {}\r\n\
         Call-ID: {}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
        resp.header("From").unwrap_or_default(),
        resp.header("To").unwrap_or_default(),
        resp.header("Call-ID").unwrap_or_default(),
    )
}

async fn udp_recv(sock: &UdpSocket) -> Result<Msg, String> {
    let mut buf = vec![0u8; 8192];
    loop {
        let (n, _) = tokio::time::timeout(STEP, sock.recv_from(&mut buf))
            .await
            .map_err(|_| "caller: no response in time".to_string())?
            .map_err(|e| e.to_string())?;
        if let Some(m) = Msg::parse(&String::from_utf8_lossy(&buf[..n])) {
            return Ok(m);
        }
    }
}

/// Caller side of the set-up: the 200's message (for the ACK and BYE) and
/// where to send RTP.
async fn caller_invite(
    a: &Args,
    sock: &UdpSocket,
    caller: u32,
    callee: u32,
    rtp_port: u16,
) -> Result<(Msg, SocketAddr), String> {
    let me = sock.local_addr().map_err(|e| e.to_string())?;
    let sdp = format!(
        "v=0\r\no=- {id} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
        id = fastrand::u32(..)
    );
    let call_id = format!("wrtc-{}@bench", token());
    let tag = token();
    let uri = format!("sip:{callee}@{}", a.sip);
    let mut auth = String::new();
    for cseq in 1..=2u32 {
        let m = invite_msg(a, me, caller, callee, &call_id, &tag, cseq, &auth, &sdp);
        sock.send_to(m.as_bytes(), a.sip)
            .await
            .map_err(|e| e.to_string())?;
        let resp = loop {
            let r = udp_recv(sock).await?;
            if r.cseq_method() == "INVITE" && r.status().is_some_and(|s| s >= 200) {
                break r;
            }
        };
        let status = resp.status().unwrap_or(0);
        if status == 200 {
            let to = resp.contact_uri().ok_or("200 without a Contact")?;
            let ack = ack_msg(me, &to, &resp, cseq, None);
            sock.send_to(ack.as_bytes(), a.sip)
                .await
                .map_err(|e| e.to_string())?;
            let media = sdp_media(&resp.body).ok_or("200 without SDP")?;
            return Ok((resp, media));
        }
        let ack = ack_msg(me, &uri, &resp, cseq, Some(""));
        sock.send_to(ack.as_bytes(), a.sip)
            .await
            .map_err(|e| e.to_string())?;
        if (status == 407 || status == 401) && auth.is_empty() {
            let (hname, aname) = if status == 407 {
                ("Proxy-Authenticate", "Proxy-Authorization")
            } else {
                ("WWW-Authenticate", "Authorization")
            };
            let ch = resp.header(hname).ok_or("challenge without header")?;
            let ch = sip::auth::Challenge::parse(ch).map_err(|e| format!("challenge: {e:?}"))?;
            let ans = sip::auth::answer(
                &ch,
                &caller.to_string(),
                &a.password,
                "INVITE",
                &uri,
                &token(),
                1,
            );
            auth = format!("{aname}: {ans}\r\n");
            continue;
        }
        return Err(format!("INVITE: {}", resp.start));
    }
    Err("challenged twice".into())
}

/// Callee side of the set-up: the INVITE on the WebSocket answered with
/// the peer's WebRTC answer.
async fn callee_answer(b: &mut Browser, peer: &mut Peer) -> Result<(), String> {
    let invite = loop {
        let m = ws_recv(&mut b.ws).await?;
        if m.method() == Some("INVITE") {
            break m;
        }
    };
    let answer = peer.answer(&invite.body)?;
    b.respond(&invite, "180 Ringing", "").await?;
    b.respond(&invite, "200 OK", &answer).await?;
    Ok(())
}

fn rtp_seq(pkt: &[u8]) -> Option<u16> {
    (pkt.len() > 12 && pkt[0] & 0xc0 == 0x80).then(|| u16::from_be_bytes([pkt[2], pkt[3]]))
}

/// One call: set-up, then media until the stop.
async fn call(
    a: Arc<Args>,
    i: u32,
    stats: Arc<Stats>,
    opus: Arc<Vec<Arc<[u8]>>>,
    pcmu: Arc<Vec<Vec<u8>>>,
) -> Result<(), String> {
    let t0 = Instant::now();
    let callee = a.first + i;
    let caller = a.callers + i;
    let mut b = Browser::connect(a.http, callee.to_string()).await?;
    b.register(&a.password).await?;
    let mut peer = Peer::new().await?;
    let sip = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let rtp = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let rtp_port = rtp.local_addr().map_err(|e| e.to_string())?.port();
    let (c, d) = tokio::join!(
        caller_invite(&a, &sip, caller, callee, rtp_port),
        callee_answer(&mut b, &mut peer)
    );
    d?;
    let (_ok, media_to) = c?;
    let ms = t0.elapsed().as_millis() as u64;
    stats.setup_ms_sum.fetch_add(ms, Relaxed);
    stats.setup_ms_max.fetch_max(ms, Relaxed);
    stats.up.fetch_add(1, Relaxed);

    // Media until the stop.
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_millis(fastrand::u64(0..20)),
        Duration::from_millis(20),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let ssrc = fastrand::u32(..);
    let (mut cseq, mut cts) = (fastrand::u16(..), fastrand::u32(..));
    let mut caller_recv = SeqCount::default();
    let mut ext_hi: Option<u64> = None;
    let mut frame = 0usize;
    let mut pbuf = vec![0u8; 2048];
    let mut rbuf = vec![0u8; 2048];
    let mut sbuf = vec![0u8; 8192];
    let mut pkt = Vec::with_capacity(200);
    let mut next = peer.drain(&stats);
    let timer = tokio::time::sleep_until(next.into());
    tokio::pin!(timer);
    let mut ended = false;
    // The browser's signalling in its own task: the media loop below wakes
    // on every packet and must not poll the WebSocket each time.
    let bye = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bye2 = bye.clone();
    let signalling = tokio::spawn(async move {
        while let Some(m) = b.ws.next().await {
            let Ok(Message::Text(t)) = m else {
                if m.is_err() {
                    break;
                }
                continue;
            };
            let Some(m) = Msg::parse(t.as_str()) else {
                continue;
            };
            match m.method() {
                Some("BYE") => {
                    let _ = b.respond(&m, "200 OK", "").await;
                    bye2.store(true, Relaxed);
                }
                Some("OPTIONS") => {
                    let _ = b.respond(&m, "200 OK", "").await;
                }
                _ => {}
            }
            if PHASE.load(Relaxed) == 2 {
                break;
            }
        }
        bye2.store(true, Relaxed);
        // Kept until the stop, so that the registration stays.
        while PHASE.load(Relaxed) < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    loop {
        if PHASE.load(Relaxed) == 2 {
            break;
        }
        tokio::select! {
            r = peer.sock.recv_from(&mut pbuf) => {
                if let Ok((n, src)) = r {
                    if let Ok(contents) = pbuf[..n].try_into() {
                        let _ = peer.rtc.handle_input(Input::Receive(
                            Instant::now(),
                            Receive { proto: Protocol::Udp, source: src, destination: peer.addr, contents },
                        ));
                    }
                }
            }
            r = rtp.recv_from(&mut rbuf) => {
                if let Ok((n, _)) = r {
                    if let Some(s) = rtp_seq(&rbuf[..n]) {
                        if PHASE.load(Relaxed) == 1 {
                            stats.caller_recv.fetch_add(1, Relaxed);
                            // Extend the 16-bit sequence around the highest seen.
                            let ext = match ext_hi {
                                None => u64::from(s) + 65536,
                                Some(hi) => {
                                    let base = hi & !0xffff;
                                    let cands = [base.wrapping_sub(65536) | u64::from(s), base | u64::from(s), (base + 65536) | u64::from(s)];
                                    *cands.iter().min_by_key(|c| c.abs_diff(hi)).unwrap()
                                }
                            };
                            ext_hi = Some(ext_hi.map_or(ext, |h| h.max(ext)));
                            caller_recv.add(ext);
                        }
                    }
                }
            }
            r = sip.recv_from(&mut sbuf) => {
                if let Ok((n, _)) = r {
                    if let Some(m) = Msg::parse(&String::from_utf8_lossy(&sbuf[..n])) {
                        if m.method() == Some("BYE") {
                            ended = true;
                        }
                    }
                }
            }
            _ = tick.tick() => {
                peer.send_frame(&opus[frame % opus.len()], &stats);
                pkt.clear();
                pkt.extend_from_slice(&[0x80, 0]);
                pkt.extend_from_slice(&cseq.to_be_bytes());
                pkt.extend_from_slice(&cts.to_be_bytes());
                pkt.extend_from_slice(&ssrc.to_be_bytes());
                pkt.extend_from_slice(&pcmu[frame % pcmu.len()]);
                if rtp.try_send_to(&pkt, media_to).is_ok() && PHASE.load(Relaxed) == 1 {
                    stats.caller_sent.fetch_add(1, Relaxed);
                }
                cseq = cseq.wrapping_add(1);
                cts = cts.wrapping_add(160);
                frame += 1;
            }
            _ = &mut timer => {
                let _ = peer.rtc.handle_input(Input::Timeout(Instant::now()));
            }
        }
        let due = peer.drain(&stats);
        // The timer is re-armed only when str0m's deadline moves (a new
        // Sleep per wakeup would cost a timer-wheel insert every packet).
        if due != next {
            next = due;
            timer.as_mut().reset(next.into());
        }
        if ended || bye.load(Relaxed) || peer.failed {
            stats.dropped.fetch_add(1, Relaxed);
            break;
        }
    }
    stats
        .caller_gap_expected
        .fetch_add(caller_recv.expected(), Relaxed);
    stats.caller_gap_recv.fetch_add(caller_recv.n, Relaxed);
    stats
        .peer_gap_expected
        .fetch_add(peer.recv.expected(), Relaxed);
    stats.peer_gap_recv.fetch_add(peer.recv.n, Relaxed);
    if !ended {
        // Wait for the stop so that the WebSocket (the registration) stays.
        while PHASE.load(Relaxed) < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    signalling.abort();
    Ok(())
}

/// user+system CPU seconds of a process from /proc/PID/stat.
fn cpu_secs(pid: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rsplit_once(") ").map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat; 12 and 13 after "pid (comm) ".
    (t(11) + t(12)) / 100.0
}

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn pct(lost: i64, sent: u64) -> f64 {
    if sent == 0 {
        0.0
    } else {
        lost as f64 * 100.0 / sent as f64
    }
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(Arc::new(a)));
}

async fn run(a: Arc<Args>) {
    // Real Opus from a 440 Hz tone (16 kHz PCM, 20 ms), and its PCMU at 8 kHz.
    let mut enc = media::codec::Codec::Opus.encoder();
    let mut g711 = media::codec::Codec::Pcmu.encoder();
    let mut opus = Vec::new();
    let mut pcmu = Vec::new();
    for f in 0..50usize {
        let pcm16: Vec<i16> = (0..320)
            .map(|n| {
                let t = (f * 320 + n) as f64 / 16000.0;
                ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
            })
            .collect();
        let mut out = Vec::new();
        enc.encode(&pcm16, &mut out);
        assert!(!out.is_empty(), "no Opus encoder (libopus0 missing?)");
        opus.push(Arc::<[u8]>::from(out));
        let pcm8: Vec<i16> = pcm16.iter().step_by(2).copied().collect();
        let mut out = Vec::new();
        g711.encode(&pcm8, &mut out);
        pcmu.push(out);
    }
    let opus = Arc::new(opus);
    let pcmu = Arc::new(pcmu);
    let avg_opus = opus.iter().map(|f| f.len()).sum::<usize>() / opus.len();
    let stats = Arc::new(Stats::default());
    let spid = a.server_pid.map(|p| p.to_string());
    let rss0 = spid.as_deref().map_or(0, rss_kib);

    eprintln!(
        "webrtc_load: {} calls (browsers {}.., callers {}..) at {}/s, Opus frames {} bytes",
        a.calls, a.first, a.callers, a.setup_rate, avg_opus
    );
    let t_setup = Instant::now();
    let mut tasks = Vec::new();
    let gap = Duration::from_secs_f64(1.0 / f64::from(a.setup_rate.max(1)));
    for i in 0..a.calls as u32 {
        let (a2, s2, o2, p2) = (a.clone(), stats.clone(), opus.clone(), pcmu.clone());
        tasks.push(tokio::spawn(async move {
            let r = call(a2, i, s2.clone(), o2, p2).await;
            if let Err(e) = &r {
                s2.failed.fetch_add(1, Relaxed);
                if s2.failed.load(Relaxed) <= 10 {
                    eprintln!("webrtc_load: call {i}: {e}");
                }
            }
        }));
        tokio::time::sleep_until(tokio::time::Instant::from_std(t_setup + gap * (i + 1))).await;
    }
    // Bounded wait for every call to be up (DTLS connected) or failed.
    let deadline = Instant::now() + Duration::from_secs(60 + a.calls as u64 / 10);
    loop {
        let up = stats.connected.load(Relaxed);
        let failed = stats.failed.load(Relaxed);
        if up + failed >= a.calls as u64 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let setup_s = t_setup.elapsed().as_secs_f64();
    eprintln!(
        "webrtc_load: {} answered, {} DTLS connected, {} failed after {:.1} s; warm-up {} ms",
        stats.up.load(Relaxed),
        stats.connected.load(Relaxed),
        stats.failed.load(Relaxed),
        setup_s,
        a.warmup_ms
    );
    tokio::time::sleep(Duration::from_millis(a.warmup_ms)).await;

    let rss_calls = spid.as_deref().map_or(0, rss_kib);
    let s_cpu0 = spid.as_deref().map_or(0.0, cpu_secs);
    let g_cpu0 = cpu_secs("self");
    let w0 = Instant::now();
    PHASE.store(1, Relaxed);
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    PHASE.store(2, Relaxed);
    let window = w0.elapsed().as_secs_f64();
    let s_cpu1 = spid.as_deref().map_or(0.0, cpu_secs);
    let g_cpu1 = cpu_secs("self");
    let rss_load = spid.as_deref().map_or(0, rss_kib);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }

    let g = |x: &AtomicU64| x.load(Relaxed);
    let calls_up = g(&stats.up);
    let connected = g(&stats.connected);
    let (ps, cr) = (g(&stats.peer_sent), g(&stats.caller_recv));
    let (cs, pr) = (g(&stats.caller_sent), g(&stats.peer_recv));
    let loss_b2c = pct(ps as i64 - cr as i64, ps);
    let loss_c2b = pct(cs as i64 - pr as i64, cs);
    let gap_b2c = pct(
        g(&stats.caller_gap_expected) as i64 - g(&stats.caller_gap_recv) as i64,
        g(&stats.caller_gap_expected),
    );
    let gap_c2b = pct(
        g(&stats.peer_gap_expected) as i64 - g(&stats.peer_gap_recv) as i64,
        g(&stats.peer_gap_expected),
    );
    let server_cpu = s_cpu1 - s_cpu0;
    let gen_cpu = g_cpu1 - g_cpu0;
    let n = connected.max(1) as f64;
    let rss_per_call = (rss_load as f64 - rss0 as f64) / n;
    let setup_avg = g(&stats.setup_ms_sum) as f64 / calls_up.max(1) as f64;
    println!(
        "webrtc_load: {calls_up} of {} calls answered, {connected} DTLS-SRTP connected, {} failed to set up, {} ended early; set-up {:.1} s (per call avg {:.0} ms, max {} ms)",
        a.calls,
        g(&stats.failed),
        g(&stats.dropped),
        setup_s,
        setup_avg,
        g(&stats.setup_ms_max)
    );
    println!(
        "webrtc_load: window {window:.1} s: browser->caller (Opus in, PCMU out) sent {ps} received {cr} loss {loss_b2c:.3} % (sequence gaps {gap_b2c:.3} %); caller->browser (PCMU in, Opus out) sent {cs} received {pr} loss {loss_c2b:.3} % (sequence gaps {gap_c2b:.3} %); target {} pps each way",
        connected * 50
    );
    println!(
        "webrtc_load: server CPU {server_cpu:.2} s over {window:.1} s = {:.1} % of one core, {:.3} ms CPU per call per second; RSS before calls {rss0} KiB, with calls {rss_calls} KiB, end {rss_load} KiB: {rss_per_call:.1} KiB per call",
        server_cpu * 100.0 / window,
        server_cpu * 1000.0 / window / n
    );
    println!(
        "webrtc_load: generator CPU {gen_cpu:.2} s = {:.1} % of one core (shares the cores with the server)",
        gen_cpu * 100.0 / window
    );
    println!(
        "calls={} up={calls_up} connected={connected} failed={} ended_early={} seconds={window:.1} b2c_sent={ps} b2c_recv={cr} b2c_loss_pct={loss_b2c:.3} c2b_sent={cs} c2b_recv={pr} c2b_loss_pct={loss_c2b:.3} server_cpu_s={server_cpu:.2} server_cpu_pct={:.1} rss_idle_kib={rss0} rss_load_kib={rss_load} rss_per_call_kib={rss_per_call:.1} gen_cpu_s={gen_cpu:.2}",
        a.calls,
        g(&stats.failed),
        g(&stats.dropped),
        server_cpu * 100.0 / window
    );
}
