//! A small SIP user agent for what SIPp cannot express (several contacts for one
//! extension, RTP counted at the far end, requests after SIGTERM...). UDP only,
//! no retransmissions (loopback does not lose datagrams; generous timeouts guard
//! against hangs), digest answers from `sip::auth`. Messages are parsed with rsip;
//! headers are read from the text so that every header form is reachable.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

/// Generous per-step timeout: a hang guard, not a performance expectation.
pub const STEP: Duration = Duration::from_secs(20);

/// A received SIP message.
#[derive(Clone, Debug)]
pub struct Msg {
    /// The whole message as text.
    pub raw: String,
    /// Where it came from.
    pub src: SocketAddr,
    /// Status code of a response.
    pub status: Option<u16>,
    /// Method of a request.
    pub method: Option<String>,
    /// Headers in order (names as written).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

/// Compact header forms (RFC 3261 7.3.3).
fn long_name(name: &str) -> &str {
    match name.to_ascii_lowercase().as_str() {
        "i" => "call-id",
        "f" => "from",
        "t" => "to",
        "v" => "via",
        "m" => "contact",
        "l" => "content-length",
        "c" => "content-type",
        _ => name,
    }
}

impl Msg {
    /// Parses a datagram; the start line through rsip (so the test also checks
    /// that what the server sends is parseable by another SIP implementation).
    pub fn parse(data: &[u8], src: SocketAddr) -> Result<Msg, String> {
        let raw = String::from_utf8_lossy(data).into_owned();
        let parsed = rsip::SipMessage::try_from(data).map_err(|e| format!("{e}: {raw}"))?;
        let (status, method) = match &parsed {
            rsip::SipMessage::Response(r) => (Some(r.status_code.code()), None),
            rsip::SipMessage::Request(r) => (None, Some(r.method.to_string())),
        };
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Ok(Msg {
            status,
            method,
            headers,
            body: body.to_owned(),
            src,
            raw,
        })
    }

    /// First value of header `name` (case-insensitive, compact forms too).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_all(name).into_iter().next()
    }

    /// Every value of header `name`, in order.
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        let want = long_name(name).to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| long_name(n).eq_ignore_ascii_case(&want))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        self.header("Call-ID").unwrap_or("")
    }

    /// CSeq number and method.
    pub fn cseq(&self) -> (u32, String) {
        let c = self.header("CSeq").unwrap_or("");
        let mut it = c.split_whitespace();
        let n = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        (n, it.next().unwrap_or("").to_owned())
    }

    /// The `tag` parameter of the To header.
    pub fn to_tag(&self) -> Option<String> {
        tag_of(self.header("To")?)
    }

    /// The URI inside the first Contact header.
    pub fn contact_uri(&self) -> Option<String> {
        let c = self.header("Contact")?;
        Some(match (c.find('<'), c.find('>')) {
            (Some(a), Some(b)) if a < b => c[a + 1..b].to_owned(),
            _ => c.split(';').next().unwrap_or(c).trim().to_owned(),
        })
    }
}

/// The `tag` parameter of a From/To value.
pub fn tag_of(value: &str) -> Option<String> {
    let params = value.rsplit_once('>').map(|(_, p)| p).unwrap_or(value);
    params
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("tag"))
        .map(|(_, v)| v.to_owned())
}

pub fn token() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// A SIP dialog, from one side.
#[derive(Clone, Debug)]
pub struct Dialog {
    /// Call-ID of this leg.
    pub call_id: String,
    /// Our From/To value (with our tag).
    pub local: String,
    /// The peer's From/To value (with its tag).
    pub remote: String,
    /// Where in-dialog requests go (the peer's Contact).
    pub target: String,
    /// Route headers for in-dialog requests.
    pub route: Vec<String>,
    /// Our last CSeq number.
    pub cseq: u32,
    /// The peer's SDP (offer or answer).
    pub remote_sdp: String,
}

/// An INVITE received by a callee, not yet answered.
#[derive(Clone, Debug)]
pub struct Incoming {
    /// The INVITE.
    pub invite: Msg,
    /// The tag we put in our responses.
    pub local_tag: String,
}

/// One SIP user agent on its own UDP socket.
pub struct Ua {
    sock: UdpSocket,
    /// Extension number.
    pub user: String,
    password: String,
    /// Where requests go.
    pub server: SocketAddr,
    /// Our own address.
    pub addr: SocketAddr,
    backlog: VecDeque<Msg>,
    /// Digest algorithm to answer with when the server offers several.
    pub algorithm: &'static str,
    /// Provisional responses (1xx) received by the last `invite`.
    pub provisional: Vec<Msg>,
    /// Misbehave: do not ACK a 2xx to `invite` (to test the server's ACK timeout).
    pub skip_ack: bool,
    /// SDP to put in the ACK of the next `invite` (delayed offer: INVITE without SDP).
    pub ack_sdp: Option<String>,
}

impl Ua {
    /// A UA for `user` talking to `server`, on a fresh 127.0.0.1 port.
    pub async fn new(user: &str, password: &str, server: SocketAddr) -> Ua {
        Self::new_at(user, password, server, "127.0.0.1").await
    }

    /// A UA on a fresh port of another loopback address (`127.0.0.N`): a
    /// second host, as far as the server can tell.
    pub async fn new_at(user: &str, password: &str, server: SocketAddr, ip: &str) -> Ua {
        let sock = UdpSocket::bind((ip, 0)).await.expect("bind UA socket");
        let addr = sock.local_addr().unwrap();
        Ua {
            sock,
            user: user.into(),
            password: password.into(),
            server,
            addr,
            backlog: VecDeque::new(),
            algorithm: "MD5",
            provisional: Vec::new(),
            skip_ack: false,
            ack_sdp: None,
        }
    }

    /// Our Contact URI.
    pub fn contact(&self) -> String {
        format!("<sip:{}@{}>", self.user, self.addr)
    }

    fn via(&self, branch: &str) -> String {
        format!("SIP/2.0/UDP {};branch={branch};rport", self.addr)
    }

    /// Sends raw bytes to the server.
    pub async fn send_raw(&self, data: &[u8]) {
        self.sock.send_to(data, self.server).await.expect("UA send");
    }

    /// Next message (backlog first), or None after `timeout`. Unparseable datagrams
    /// are reported on stderr and skipped.
    pub async fn recv(&mut self, timeout: Duration) -> Option<Msg> {
        if let Some(m) = self.backlog.pop_front() {
            return Some(m);
        }
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let (n, src) = tokio::time::timeout(left, self.sock.recv_from(&mut buf))
                .await
                .ok()?
                .expect("UA recv");
            match Msg::parse(&buf[..n], src) {
                Ok(m) => return Some(m),
                Err(e) => eprintln!("UA {}: unparseable message from {src}: {e}", self.user),
            }
        }
    }

    /// The first message matching `pred`; others are kept for later calls.
    pub async fn recv_where(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Msg) -> bool,
    ) -> Option<Msg> {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i);
        }
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        let found = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(m) = self.recv_socket(left).await else {
                break None;
            };
            if pred(&m) {
                break Some(m);
            }
            skipped.push(m);
        };
        self.backlog.extend(skipped);
        found
    }

    async fn recv_socket(&mut self, timeout: Duration) -> Option<Msg> {
        let saved = std::mem::take(&mut self.backlog);
        let m = self.recv(timeout).await;
        self.backlog = saved;
        m
    }

    /// Builds a request. `to` is the To value (with tag in a dialog).
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &self,
        method: &str,
        uri: &str,
        branch: &str,
        from: &str,
        to: &str,
        call_id: &str,
        cseq: u32,
        extra: &str,
        body: &str,
    ) -> String {
        let ctype = if body.is_empty() || extra.contains("Content-Type:") {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        // `extra` may bring its own Contact (e.g. `*` to unregister everything).
        let contact = if extra.contains("Contact:") {
            String::new()
        } else {
            format!("Contact: {}\r\n", self.contact())
        };
        format!(
            "{method} {uri} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{contact}User-Agent: switchboard-e2e\r\n\
             {extra}{ctype}Content-Length: {}\r\n\r\n{body}",
            self.via(branch),
            body.len()
        )
    }

    /// The final response to (call_id, cseq); provisional ones are kept in
    /// `self.provisional`.
    async fn final_response(&mut self, call_id: &str, cseq: u32) -> Option<Msg> {
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .recv_where(left, |m| {
                    m.status.is_some() && m.call_id() == call_id && m.cseq().0 == cseq
                })
                .await?;
            if m.status.unwrap() >= 200 {
                return Some(m);
            }
            self.provisional.push(m);
        }
    }

    /// The digest answer header for a 401/407, for the challenge with our
    /// preferred algorithm (MD5 unless changed), else the first one.
    pub fn authorization(&self, resp: &Msg, method: &str, uri: &str) -> String {
        let (hdr, answer) = if resp.status == Some(407) {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let challenges: Vec<sip::auth::Challenge> = resp
            .headers_all(hdr)
            .into_iter()
            .filter_map(|v| sip::auth::Challenge::parse(v).ok())
            .collect();
        let ch = challenges
            .iter()
            .find(|c| c.algorithm.to_string().eq_ignore_ascii_case(self.algorithm))
            .or(challenges.first())
            .unwrap_or_else(|| panic!("no usable {hdr} in:\n{}", resp.raw));
        let value = sip::auth::answer(ch, &self.user, &self.password, method, uri, &token(), 1);
        format!("{answer}: {value}\r\n")
    }

    /// A non-INVITE request outside a dialog, answering one digest challenge.
    /// Returns the final response.
    pub async fn transact(&mut self, method: &str, to_user: &str, extra: &str) -> Msg {
        self.transact_delayed(method, to_user, extra, Duration::ZERO)
            .await
    }

    /// Like [`Ua::transact`], waiting `delay` between the challenge and the answer
    /// (to let a nonce expire).
    pub async fn transact_delayed(
        &mut self,
        method: &str,
        to_user: &str,
        extra: &str,
        delay: Duration,
    ) -> Msg {
        let uri = format!("sip:{}", self.server);
        let call_id = token();
        let from = format!("<sip:{}@{}>;tag={}", self.user, self.server.ip(), token());
        let to = format!("<sip:{to_user}@{}>", self.server.ip());
        let req = self.request(method, &uri, &branch(), &from, &to, &call_id, 1, extra, "");
        self.send_raw(req.as_bytes()).await;
        let resp = self.final_response(&call_id, 1).await;
        let resp = resp.unwrap_or_else(|| panic!("no response to {method}"));
        if !matches!(resp.status, Some(401 | 407)) {
            return resp;
        }
        tokio::time::sleep(delay).await;
        let auth = self.authorization(&resp, method, &uri);
        let extra = format!("{extra}{auth}");
        let req = self.request(method, &uri, &branch(), &from, &to, &call_id, 2, &extra, "");
        self.send_raw(req.as_bytes()).await;
        self.final_response(&call_id, 2)
            .await
            .unwrap_or_else(|| panic!("no response to authenticated {method}"))
    }

    /// REGISTER our contact for `expires` seconds; the final response.
    pub async fn register(&mut self, expires: u32) -> Msg {
        let extra = format!("Expires: {expires}\r\n");
        let user = self.user.clone();
        self.transact("REGISTER", &user, &extra).await
    }

    /// REGISTER with `Contact: *` and `Expires: 0`: removes every binding of our user.
    pub async fn register_star(&mut self) -> Msg {
        let user = self.user.clone();
        self.transact("REGISTER", &user, "Contact: *\r\nExpires: 0\r\n")
            .await
    }

    /// Places a call to `number` with `sdp`; answers the 407. Returns the final
    /// response and, when it is 2xx (then ACKed), the dialog.
    pub async fn invite(&mut self, number: &str, sdp: &str) -> (Msg, Option<Dialog>) {
        let uri = format!("sip:{number}@{}", self.server);
        let call_id = token();
        let from = format!(
            "\"Test {}\" <sip:{}@{}>;tag={}",
            self.user,
            self.user,
            self.server.ip(),
            token()
        );
        let to = format!("<sip:{number}@{}>", self.server.ip());
        let mut cseq = 1;
        let mut auth = String::new();
        self.provisional.clear();
        loop {
            let b = branch();
            let req = self.request("INVITE", &uri, &b, &from, &to, &call_id, cseq, &auth, sdp);
            self.send_raw(req.as_bytes()).await;
            let resp = self
                .final_response(&call_id, cseq)
                .await
                .expect("no final response to INVITE");
            let code = resp.status.unwrap();
            if code >= 300 {
                // ACK for a non-2xx: same branch, the response's To.
                let ack = self.request(
                    "ACK",
                    &uri,
                    &b,
                    &from,
                    resp.header("To").unwrap_or(&to),
                    &call_id,
                    cseq,
                    "",
                    "",
                );
                self.send_raw(ack.as_bytes()).await;
                if code == 407 && auth.is_empty() {
                    auth = self.authorization(&resp, "INVITE", &uri);
                    cseq += 1;
                    continue;
                }
                return (resp, None);
            }
            let mut route: Vec<String> = resp
                .headers_all("Record-Route")
                .iter()
                .flat_map(|v| v.split(','))
                .map(|s| s.trim().to_owned())
                .collect();
            route.reverse();
            let dialog = Dialog {
                call_id: call_id.clone(),
                local: from.clone(),
                remote: resp.header("To").unwrap_or(&to).to_owned(),
                target: resp.contact_uri().unwrap_or(uri.clone()),
                route,
                cseq,
                remote_sdp: resp.body.clone(),
            };
            if !self.skip_ack {
                let body = self.ack_sdp.take().unwrap_or_default();
                let ack = self.dialog_request(&dialog, "ACK", cseq, &body);
                self.send_to_target(ack.as_bytes()).await;
            }
            return (resp, Some(dialog));
        }
    }

    pub fn dialog_request(&self, d: &Dialog, method: &str, cseq: u32, body: &str) -> String {
        let route: String = d.route.iter().map(|r| format!("Route: {r}\r\n")).collect();
        self.request(
            method,
            &d.target,
            &branch(),
            &d.local,
            &d.remote,
            &d.call_id,
            cseq,
            &route,
            body,
        )
    }

    async fn ack(&self, d: &Dialog, cseq: u32) {
        let ack = self.dialog_request(d, "ACK", cseq, "");
        self.send_to_target(ack.as_bytes()).await;
    }

    /// In-dialog requests go to the server: every leg of a B2BUA ends there.
    async fn send_to_target(&self, data: &[u8]) {
        self.send_raw(data).await;
    }

    /// Sends BYE in `d`; the final response.
    pub async fn bye(&mut self, d: &mut Dialog) -> Msg {
        d.cseq += 1;
        let req = self.dialog_request(d, "BYE", d.cseq, "");
        self.send_to_target(req.as_bytes()).await;
        self.final_response(&d.call_id.clone(), d.cseq)
            .await
            .expect("no response to BYE")
    }

    /// Sends INFO with `body` of `content_type` in `d`; the final response.
    pub async fn info(&mut self, d: &mut Dialog, content_type: &str, body: &str) -> Msg {
        d.cseq += 1;
        let route: String = d.route.iter().map(|r| format!("Route: {r}\r\n")).collect();
        let extra = format!("{route}Content-Type: {content_type}\r\n");
        let req = self.request(
            "INFO",
            &d.target,
            &branch(),
            &d.local,
            &d.remote,
            &d.call_id,
            d.cseq,
            &extra,
            body,
        );
        self.send_to_target(req.as_bytes()).await;
        self.final_response(&d.call_id.clone(), d.cseq)
            .await
            .expect("no response to INFO")
    }

    /// Sends REFER (blind transfer to `target`, a SIP URI) in `d`; the final response.
    pub async fn refer(&mut self, d: &mut Dialog, target: &str) -> Msg {
        d.cseq += 1;
        let route: String = d.route.iter().map(|r| format!("Route: {r}\r\n")).collect();
        let extra = format!("{route}Refer-To: <{target}>\r\n");
        let req = self.request(
            "REFER",
            &d.target,
            &branch(),
            &d.local,
            &d.remote,
            &d.call_id,
            d.cseq,
            &extra,
            "",
        );
        self.send_to_target(req.as_bytes()).await;
        self.final_response(&d.call_id.clone(), d.cseq)
            .await
            .expect("no response to REFER")
    }

    /// Sends a re-INVITE with `sdp` in `d` (ACKed if 2xx); the final response.
    pub async fn reinvite(&mut self, d: &mut Dialog, sdp: &str) -> Msg {
        d.cseq += 1;
        let req = self.dialog_request(d, "INVITE", d.cseq, sdp);
        self.send_to_target(req.as_bytes()).await;
        let resp = self
            .final_response(&d.call_id.clone(), d.cseq)
            .await
            .expect("no response to re-INVITE");
        if resp.status.unwrap() < 300 {
            d.remote_sdp = resp.body.clone();
            self.ack(d, d.cseq).await;
        }
        resp
    }

    /// Waits for a new INVITE and answers 180 Ringing.
    pub async fn wait_invite(&mut self, timeout: Duration) -> Option<Incoming> {
        let invite = self
            .recv_where(timeout, |m| {
                m.method.as_deref() == Some("INVITE") && m.to_tag().is_none()
            })
            .await?;
        let inc = Incoming {
            invite,
            local_tag: token(),
        };
        self.respond(&inc.invite, 180, "Ringing", Some(&inc.local_tag), "")
            .await;
        Some(inc)
    }

    /// Sends a response to `req`, adding `tag` to To when given.
    pub async fn respond(&self, req: &Msg, code: u16, reason: &str, tag: Option<&str>, body: &str) {
        self.respond_with(req, code, reason, tag, "", body).await
    }

    /// Like `respond`, with `extra` header lines (each ending in CRLF).
    pub async fn respond_with(
        &self,
        req: &Msg,
        code: u16,
        reason: &str,
        tag: Option<&str>,
        extra: &str,
        body: &str,
    ) {
        let mut out = format!("SIP/2.0 {code} {reason}\r\n");
        for v in req.headers_all("Via") {
            out.push_str(&format!("Via: {v}\r\n"));
        }
        let to = req.header("To").unwrap_or("");
        let to = match tag {
            Some(t) if tag_of(to).is_none() => format!("{to};tag={t}"),
            _ => to.to_owned(),
        };
        out.push_str(&format!(
            "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: {}\r\n",
            req.header("From").unwrap_or(""),
            req.call_id(),
            req.header("CSeq").unwrap_or(""),
            self.contact()
        ));
        for rr in req.headers_all("Record-Route") {
            out.push_str(&format!("Record-Route: {rr}\r\n"));
        }
        out.push_str(extra);
        if !body.is_empty() {
            out.push_str("Content-Type: application/sdp\r\n");
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.sock
            .send_to(out.as_bytes(), req.src)
            .await
            .expect("UA send response");
    }

    /// Answers `inc` with 200 and `sdp`, repeating the 200 until the ACK arrives.
    pub async fn answer(&mut self, inc: &Incoming, sdp: &str) -> Dialog {
        let call_id = inc.invite.call_id().to_owned();
        let deadline = Instant::now() + STEP;
        let ack = loop {
            self.respond(&inc.invite, 200, "OK", Some(&inc.local_tag), sdp)
                .await;
            let ack = self
                .recv_where(Duration::from_millis(500), |m| {
                    m.method.as_deref() == Some("ACK") && m.call_id() == call_id
                })
                .await;
            if let Some(ack) = ack {
                break ack;
            }
            assert!(Instant::now() < deadline, "no ACK for our 200");
        };
        let from_to = inc.invite.header("To").unwrap_or("");
        let mut route: Vec<String> = inc
            .invite
            .headers_all("Record-Route")
            .iter()
            .map(|s| s.to_string())
            .collect();
        route.retain(|r| !r.is_empty());
        Dialog {
            call_id,
            local: format!("{from_to};tag={}", inc.local_tag),
            remote: inc.invite.header("From").unwrap_or("").to_owned(),
            target: inc
                .invite
                .contact_uri()
                .unwrap_or_else(|| format!("sip:{}", self.server)),
            route,
            cseq: 100,
            // Delayed offer: with no SDP in the INVITE, the answer comes in the ACK.
            remote_sdp: if inc.invite.body.is_empty() {
                ack.body.clone()
            } else {
                inc.invite.body.clone()
            },
        }
    }

    /// Waits for a request `method` in the call `call_id` and answers it 200
    /// (with `body`, e.g. an SDP answer to a re-INVITE).
    pub async fn expect_request(&mut self, method: &str, call_id: &str, body: &str) -> Msg {
        let req = self
            .recv_where(STEP, |m| {
                m.method.as_deref() == Some(method) && m.call_id() == call_id
            })
            .await
            .unwrap_or_else(|| panic!("UA {}: no {method} in call {call_id}", self.user));
        self.respond(&req, 200, "OK", None, body).await;
        req
    }

    /// For an INVITE we did not answer: waits for the CANCEL, answers 200 to it
    /// and 487 to the INVITE, then waits for the ACK.
    pub async fn expect_cancel(&mut self, inc: &Incoming) -> Msg {
        let cancel = self
            .expect_request("CANCEL", inc.invite.call_id(), "")
            .await;
        self.respond(
            &inc.invite,
            487,
            "Request Terminated",
            Some(&inc.local_tag),
            "",
        )
        .await;
        let call_id = inc.invite.call_id().to_owned();
        self.recv_where(STEP, |m| {
            m.method.as_deref() == Some("ACK") && m.call_id() == call_id
        })
        .await
        .expect("no ACK for 487");
        cancel
    }
}

pub fn branch() -> String {
    format!("z9hG4bK{}", token())
}

/// An SDP offer/answer for PCMU at 127.0.0.1:`port`.
pub fn sdp(port: u16, direction: &str) -> String {
    format!(
        "v=0\r\no=- {id} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-15\r\na={direction}\r\n",
        id = fastrand::u32(..)
    )
}

/// The (address, port) of the first audio stream of an SDP body.
pub fn sdp_media(body: &str) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for line in body.lines().map(str::trim) {
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            ip.get_or_insert(c.trim().parse().ok()?);
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            port.get_or_insert(m.split_whitespace().next()?.parse().ok()?);
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

/// One RTP endpoint: counts the RTP packets it receives, sends PCMU packets.
pub struct Rtp {
    sock: Arc<UdpSocket>,
    /// Local port.
    pub port: u16,
    received: Arc<AtomicU64>,
    /// Packets received per RTP payload type (marker bit stripped).
    by_pt: Arc<[AtomicU64; 128]>,
    last_source: Arc<Mutex<Option<SocketAddr>>>,
    /// Payloads received, by payload type, in arrival order (bounded).
    payloads: Arc<Mutex<Vec<Payload>>>,
    task: tokio::task::JoinHandle<()>,
}

/// A received RTP payload and its payload type.
type Payload = (u8, Vec<u8>);

/// Payloads kept per endpoint: 30 s of 20 ms packets.
const KEEP_PAYLOADS: usize = 1500;

impl Rtp {
    /// Binds 127.0.0.1:`port` and starts counting.
    pub async fn bind(port: u16) -> Rtp {
        let sock = Arc::new(
            UdpSocket::bind(("127.0.0.1", port))
                .await
                .unwrap_or_else(|e| panic!("bind RTP port {port}: {e}")),
        );
        let received = Arc::new(AtomicU64::new(0));
        let by_pt: Arc<[AtomicU64; 128]> = Arc::new(std::array::from_fn(|_| AtomicU64::new(0)));
        let last_source = Arc::new(Mutex::new(None));
        let payloads = Arc::new(Mutex::new(Vec::new()));
        let (s, r, p, l, kept) = (
            sock.clone(),
            received.clone(),
            by_pt.clone(),
            last_source.clone(),
            payloads.clone(),
        );
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, src)) = s.recv_from(&mut buf).await {
                // RTP version 2 with at least a fixed header.
                if n >= 12 && buf[0] & 0xC0 == 0x80 {
                    r.fetch_add(1, Ordering::Relaxed);
                    p[usize::from(buf[1] & 0x7F)].fetch_add(1, Ordering::Relaxed);
                    *l.lock().unwrap() = Some(src);
                    let header = 12 + 4 * usize::from(buf[0] & 0x0F);
                    let mut kept = kept.lock().unwrap();
                    if n >= header && kept.len() < KEEP_PAYLOADS {
                        kept.push((buf[1] & 0x7F, buf[header..n].to_vec()));
                    }
                }
            }
        });
        Rtp {
            sock,
            port,
            received,
            by_pt,
            last_source,
            payloads,
            task,
        }
    }

    /// The payloads received so far with payload type `pt`, concatenated.
    pub fn payload_bytes(&self, pt: u8) -> Vec<u8> {
        let kept = self.payloads.lock().unwrap();
        kept.iter()
            .filter(|(p, _)| *p == pt)
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }

    /// Waits (bounded by `timeout`) until at least `n` payload bytes of
    /// type `pt` arrived; the bytes so far. Tests assert on what they need
    /// rather than on how much arrives in a fixed time, so a slow machine
    /// only makes them slower.
    pub async fn wait_payload(&self, pt: u8, n: usize, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.payload_bytes(pt);
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Forgets the payloads received so far.
    pub fn clear_payloads(&self) {
        self.payloads.lock().unwrap().clear();
    }

    /// Sends `ms` of a `hz` sine, G.711-encoded (payload type 0 = µ-law,
    /// 8 = A-law) in real-time 20 ms packets.
    pub async fn send_tone(&self, dest: SocketAddr, pt: u8, hz: f32, ms: u32, ssrc: u32) {
        let frames = ms / 20;
        let mut phase = 0f32;
        let step = 2.0 * std::f32::consts::PI * hz / 8000.0;
        for seq in 0..frames {
            let mut pkt = vec![0x80, pt];
            pkt.extend_from_slice(&(seq as u16).to_be_bytes());
            pkt.extend_from_slice(&(seq * 160).to_be_bytes());
            pkt.extend_from_slice(&ssrc.to_be_bytes());
            for _ in 0..160 {
                let s = (phase.sin() * 10_000.0) as i16;
                phase = (phase + step) % (2.0 * std::f32::consts::PI);
                pkt.push(if pt == 8 {
                    media::codec::g711::alaw_encode(s)
                } else {
                    media::codec::g711::ulaw_encode(s)
                });
            }
            self.sock.send_to(&pkt, dest).await.expect("send RTP");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// RTP packets received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// RTP packets received with payload type `pt`.
    pub fn received_pt(&self, pt: u8) -> u64 {
        self.by_pt[usize::from(pt & 0x7F)].load(Ordering::Relaxed)
    }

    /// Where the last RTP packet came from.
    pub fn last_source(&self) -> Option<SocketAddr> {
        *self.last_source.lock().unwrap()
    }

    /// Sends one datagram from this endpoint's socket.
    pub async fn send_raw(&self, dest: SocketAddr, data: &[u8]) {
        self.sock.send_to(data, dest).await.expect("send datagram");
    }

    /// Sends `count` PCMU packets (160 bytes of silence, 20 ms apart) to `dest`.
    pub async fn send(&self, dest: SocketAddr, count: u16, ssrc: u32) {
        for seq in 0..count {
            let mut pkt = vec![0x80, 0x00];
            pkt.extend_from_slice(&seq.to_be_bytes());
            pkt.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            pkt.extend_from_slice(&ssrc.to_be_bytes());
            pkt.extend_from_slice(&[0xFF; 160]);
            self.sock.send_to(&pkt, dest).await.expect("send RTP");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until at least `n` packets arrived (or `timeout`); the count.
    pub async fn wait_received(&self, n: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        while self.received() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.received()
    }
}

impl Drop for Rtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Decodes G.711 bytes (payload type 0 = µ-law, 8 = A-law) to PCM.
pub fn g711_decode(pt: u8, bytes: &[u8]) -> Vec<i16> {
    bytes
        .iter()
        .map(|&b| {
            if pt == 8 {
                media::codec::g711::alaw_decode(b)
            } else {
                media::codec::g711::ulaw_decode(b)
            }
        })
        .collect()
}

/// Power of `hz` in `pcm` (Goertzel over the whole signal), normalised by length.
pub fn tone_power(pcm: &[i16], rate: f32, hz: f32) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f64::from(hz) / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0f64, 0f64);
    for &x in pcm {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    p / (pcm.len().max(1) as f64).powi(2)
}

/// The strongest frequency of `pcm` among 100..3500 Hz in 2 Hz steps.
pub fn dominant_hz(pcm: &[i16], rate: f32) -> f32 {
    let mut best = (0f32, 0f64);
    let mut hz = 100f32;
    while hz < 3500.0 {
        let p = tone_power(pcm, rate, hz);
        if p > best.1 {
            best = (hz, p);
        }
        hz += 2.0;
    }
    best.0
}
