//! Transaction layer tests, on a virtual clock: time only moves when a test says so.

use super::*;
use crate::peer::TransportKind;
use rsip::prelude::*;
use std::net::SocketAddr;

const ALICE: &str = "192.0.2.10:5060";
const BOB: &str = "192.0.2.20:5060";

fn udp(addr: &str) -> Peer {
    Peer::udp(addr.parse::<SocketAddr>().unwrap())
}

fn tcp(addr: &str) -> Peer {
    Peer::tcp(addr.parse::<SocketAddr>().unwrap())
}

/// A request as Alice (192.0.2.10) would send it.
fn request_text(method: &str, branch: &str, cseq: u32) -> String {
    format!(
        "{method} sip:bob@192.0.2.20 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         Route: <sip:proxy.example.com;lr>\r\n\
         From: Alice <sip:alice@example.com>;tag=a1\r\n\
         To: Bob <sip:bob@example.com>\r\n\
         Call-ID: call-1@example.com\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn request(method: &str, branch: &str, cseq: u32) -> rsip::Request {
    rsip::Request::try_from(request_text(method, branch, cseq).as_str()).unwrap()
}

fn response_text(code: u16, branch: &str, cseq: u32, method: &str, to_tag: Option<&str>) -> String {
    let tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "SIP/2.0 {code} Whatever\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}\r\n\
         From: Alice <sip:alice@example.com>;tag=a1\r\n\
         To: Bob <sip:bob@example.com>{tag}\r\n\
         Call-ID: call-1@example.com\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn response(
    code: u16,
    branch: &str,
    cseq: u32,
    method: &str,
    to_tag: Option<&str>,
) -> rsip::Response {
    rsip::Response::try_from(response_text(code, branch, cseq, method, to_tag).as_str()).unwrap()
}

fn parse(text: &str) -> rsip::SipMessage {
    rsip::SipMessage::try_from(text).unwrap()
}

/// Something the layer produced, stamped with the virtual time (ms since start).
#[derive(Debug)]
enum Out {
    Tx(Transmit),
    Ev(Box<TuEvent>),
}

struct Harness {
    layer: TransactionLayer,
    start: Instant,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        Self::with(TxConfig::default())
    }

    fn with(config: TxConfig) -> Self {
        let start = Instant::now();
        Harness {
            layer: TransactionLayer::new(config),
            start,
            now: start,
        }
    }

    fn ms(&self) -> u64 {
        (self.now - self.start).as_millis() as u64
    }

    fn drain(&mut self) -> Vec<(u64, Out)> {
        let t = self.ms();
        let mut out = Vec::new();
        while let Some(x) = self.layer.poll_transmit() {
            out.push((t, Out::Tx(x)));
        }
        while let Some(e) = self.layer.poll_event() {
            out.push((t, Out::Ev(Box::new(e))));
        }
        out
    }

    /// Runs every timer up to `ms` (exactly at their deadlines), collecting output.
    fn run_to(&mut self, ms: u64) -> Vec<(u64, Out)> {
        let target = self.start + Duration::from_millis(ms);
        let mut out = self.drain();
        let mut guard = 0;
        while let Some(deadline) = self.layer.next_deadline() {
            if deadline > target {
                break;
            }
            self.now = deadline.max(self.now);
            self.layer.handle_timeout(self.now);
            out.extend(self.drain());
            guard += 1;
            assert!(guard < 100_000, "timer loop does not progress");
        }
        self.now = self.now.max(target);
        out
    }

    fn inbound(&mut self, text: &str, from: Peer) -> Vec<(u64, Out)> {
        self.layer.handle_inbound(parse(text), from, self.now);
        self.drain()
    }

    fn send(&mut self, req: rsip::Request, to: Peer) -> TxId {
        self.layer.send_request(req, to, self.now)
    }

    fn respond(&mut self, tx: TxId, code: u16, branch: &str, method: &str) -> Vec<(u64, Out)> {
        let tag = if code > 100 { Some("b1") } else { None };
        self.layer
            .send_response(tx, response(code, branch, 1, method, tag), self.now)
            .unwrap();
        self.drain()
    }
}

fn transmits(out: &[(u64, Out)]) -> Vec<(u64, String)> {
    out.iter()
        .filter_map(|(t, o)| match o {
            Out::Tx(x) => Some((*t, String::from_utf8_lossy(&x.payload).into_owned())),
            Out::Ev(_) => None,
        })
        .collect()
}

fn transmit_times(out: &[(u64, Out)]) -> Vec<u64> {
    transmits(out).into_iter().map(|(t, _)| t).collect()
}

fn events(out: &[(u64, Out)]) -> Vec<(u64, &TuEvent)> {
    out.iter()
        .filter_map(|(t, o)| match o {
            Out::Ev(e) => Some((*t, &**e)),
            Out::Tx(_) => None,
        })
        .collect()
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

fn header<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

fn the_request(out: &[(u64, Out)]) -> (TxId, rsip::Request, Option<TxId>) {
    out.iter()
        .find_map(|(_, o)| match o {
            Out::Ev(e) => match &**e {
                TuEvent::Request {
                    tx,
                    request,
                    cancels,
                    ..
                } => Some((*tx, request.clone(), *cancels)),
                _ => None,
            },
            Out::Tx(_) => None,
        })
        .expect("a TuEvent::Request")
}

// ---------------------------------------------------------------- client INVITE

#[test]
fn client_invite_timer_a_doubles_and_timer_b_times_out() {
    let mut h = Harness::new();
    let tx = h.send(request("INVITE", "z9hG4bKa", 1), udp(BOB));
    let out = h.run_to(40_000);
    // Sent at 0, then Timer A: 0.5, 1, 2, 4, 8, 16 s intervals (no T2 cap).
    assert_eq!(
        transmit_times(&out),
        vec![0, 500, 1500, 3500, 7500, 15500, 31500]
    );
    for (_, msg) in transmits(&out) {
        assert!(msg.starts_with("INVITE sip:bob@192.0.2.20 SIP/2.0"));
    }
    let evs = events(&out);
    assert!(
        matches!(evs[..], [(32000, TuEvent::Timeout { tx: a }), (32000, TuEvent::Terminated { tx: b })] if *a == tx && *b == tx)
    );
    assert_eq!(h.layer.len(), 0);
    assert_eq!(h.layer.stats().retransmissions_sent, 6);
    assert_eq!(h.layer.stats().timeouts, 1);
    assert_eq!(h.layer.next_deadline(), None);
}

#[test]
fn client_invite_over_tcp_is_never_retransmitted() {
    let mut h = Harness::new();
    let tx = h.send(request("INVITE", "z9hG4bKtcp", 1), tcp(BOB));
    let out = h.run_to(40_000);
    assert_eq!(transmit_times(&out), vec![0]);
    assert!(matches!(events(&out)[..], [(32000, TuEvent::Timeout { tx: a }), _] if *a == tx));
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn client_invite_provisional_stops_timer_a_and_timer_c_fires() {
    let mut h = Harness::new();
    let tx = h.send(request("INVITE", "z9hG4bKc", 1), udp(BOB));
    h.run_to(700); // one retransmission at 500
    let out = h.inbound(
        &response_text(180, "z9hG4bKc", 1, "INVITE", Some("b1")),
        udp(BOB),
    );
    assert!(
        matches!(events(&out)[..], [(_, TuEvent::Response { tx: a, response })] if *a == tx && response.status_code.code() == 180)
    );
    // Timer C is reset by each provisional: 180 again at 100 s -> C at 280 s.
    let out = h.run_to(100_000);
    assert!(
        transmits(&out).is_empty(),
        "Timer A and B stopped in Proceeding"
    );
    assert!(events(&out).is_empty());
    h.inbound(
        &response_text(183, "z9hG4bKc", 1, "INVITE", Some("b1")),
        udp(BOB),
    );
    let out = h.run_to(279_999);
    assert!(out.is_empty());
    let out = h.run_to(280_000);
    let evs = events(&out);
    assert!(matches!(evs[..], [(280000, TuEvent::Timeout { tx: a })] if *a == tx));
    // The layer CANCELs the INVITE itself.
    let sent = transmits(&out);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.starts_with("CANCEL sip:bob@192.0.2.20 SIP/2.0"));
    assert_eq!(h.layer.stats().timeouts, 1);
    // The 487 that follows is ACKed but not reported: the TU already gave up.
    let out = h.inbound(
        &response_text(487, "z9hG4bKc", 1, "INVITE", Some("b1")),
        udp(BOB),
    );
    assert!(events(&out).is_empty());
    assert!(transmits(&out)[0].1.starts_with("ACK "));
    let out = h.run_to(400_000);
    let terminated: Vec<_> = events(&out)
        .into_iter()
        .filter(|(_, e)| matches!(e, TuEvent::Terminated { .. }))
        .collect();
    assert_eq!(terminated.len(), 2, "INVITE and its CANCEL");
    assert!(events(&out)
        .iter()
        .all(|(_, e)| matches!(e, TuEvent::Terminated { .. })));
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn client_invite_timer_c_in_calling_times_out() {
    let config = TxConfig {
        timer_c: Duration::from_secs(10),
        ..TxConfig::default()
    };
    let mut h = Harness::with(config);
    let tx = h.send(request("INVITE", "z9hG4bKcc", 1), tcp(BOB));
    let out = h.run_to(20_000);
    assert!(
        matches!(events(&out)[..], [(10000, TuEvent::Timeout { tx: a }), (10000, TuEvent::Terminated { .. })] if *a == tx)
    );
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn client_invite_late_2xx_after_timer_c_is_stray() {
    let config = TxConfig {
        timer_c: Duration::from_secs(10),
        ..TxConfig::default()
    };
    let mut h = Harness::with(config);
    let tx = h.send(request("INVITE", "z9hG4bKlate", 1), udp(BOB));
    h.inbound(
        &response_text(180, "z9hG4bKlate", 1, "INVITE", Some("b1")),
        udp(BOB),
    );
    let out = h.run_to(10_000);
    assert!(matches!(events(&out)[..], [(_, TuEvent::Timeout { tx: a })] if *a == tx));
    let out = h.inbound(
        &response_text(200, "z9hG4bKlate", 1, "INVITE", Some("b1")),
        udp(BOB),
    );
    assert!(matches!(
        events(&out)[..],
        [(_, TuEvent::StrayResponse { .. })]
    ));
}

#[test]
fn client_invite_non_2xx_final_generates_ack() {
    let mut h = Harness::new();
    let tx = h.send(request("INVITE", "z9hG4bKack", 7), udp(BOB));
    h.drain();
    let text = response_text(486, "z9hG4bKack", 7, "INVITE", Some("busy9"));
    let out = h.inbound(&text, udp(BOB));
    assert!(
        matches!(events(&out)[..], [(_, TuEvent::Response { tx: a, response })] if *a == tx && response.status_code.code() == 486)
    );
    let sent = transmits(&out);
    assert_eq!(sent.len(), 1);
    let ack = &sent[0].1;
    assert_eq!(first_line(ack), "ACK sip:bob@192.0.2.20 SIP/2.0");
    assert_eq!(
        header(ack, "Via"),
        vec!["SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKack"]
    );
    assert_eq!(header(ack, "Route"), vec!["<sip:proxy.example.com;lr>"]);
    assert_eq!(header(ack, "Max-Forwards"), vec!["70"]);
    assert_eq!(
        header(ack, "From"),
        vec!["Alice <sip:alice@example.com>;tag=a1"]
    );
    assert_eq!(
        header(ack, "To"),
        vec!["Bob <sip:bob@example.com>;tag=busy9"]
    );
    assert_eq!(header(ack, "Call-ID"), vec!["call-1@example.com"]);
    assert_eq!(header(ack, "CSeq"), vec!["7 ACK"]);
    assert_eq!(header(ack, "Content-Length"), vec!["0"]);
    // It is a valid SIP request.
    let parsed = rsip::Request::try_from(ack.as_str()).unwrap();
    assert_eq!(parsed.method, rsip::Method::Ack);
    assert_eq!(sent[0].0, 0);

    // A retransmitted final gets the same ACK again and no event.
    h.run_to(2_000);
    let out = h.inbound(&text, udp(BOB));
    assert!(events(&out).is_empty());
    assert_eq!(transmits(&out), vec![(2000, ack.clone())]);
    assert_eq!(h.layer.stats().retransmissions_absorbed, 1);

    // Timer D: 32 s.
    let out = h.run_to(31_999);
    assert!(out.is_empty());
    let out = h.run_to(32_000);
    assert!(matches!(events(&out)[..], [(32000, TuEvent::Terminated { tx: a })] if *a == tx));
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn client_invite_non_2xx_over_tcp_terminates_at_once() {
    let mut h = Harness::new();
    let tx = h.send(request("INVITE", "z9hG4bKd0", 1), tcp(BOB));
    h.drain();
    let out = h.inbound(
        &response_text(603, "z9hG4bKd0", 1, "INVITE", Some("x")),
        tcp(BOB),
    );
    assert!(transmits(&out)[0].1.starts_with("ACK "));
    assert!(
        matches!(events(&out)[..], [(_, TuEvent::Response { .. }), (_, TuEvent::Terminated { tx: a })] if *a == tx)
    );
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn client_invite_2xx_enters_accepted_and_timer_m() {
    let mut h = Harness::new();
    let tx = h.send(request("INVITE", "z9hG4bKok", 1), udp(BOB));
    h.drain();
    h.run_to(1_000);
    let ok = response_text(200, "z9hG4bKok", 1, "INVITE", Some("b1"));
    let out = h.inbound(&ok, udp(BOB));
    assert!(matches!(events(&out)[..], [(_, TuEvent::Response { tx: a, .. })] if *a == tx));
    assert!(
        transmits(&out).is_empty(),
        "the TU ACKs a 2xx, not the layer"
    );
    // Retransmitted 2xx and a forked 2xx are passed up too.
    let out = h.inbound(&ok, udp(BOB));
    assert!(matches!(events(&out)[..], [(_, TuEvent::Response { tx: a, .. })] if *a == tx));
    let fork = response_text(200, "z9hG4bKok", 1, "INVITE", Some("b2"));
    let out = h.inbound(&fork, udp(BOB));
    assert!(matches!(events(&out)[..], [(_, TuEvent::Response { tx: a, .. })] if *a == tx));
    // No retransmission of the INVITE after the 2xx; Timer M = 64*T1 from the 2xx.
    let out = h.run_to(32_999);
    assert!(out.is_empty());
    let out = h.run_to(33_000);
    assert!(matches!(events(&out)[..], [(33000, TuEvent::Terminated { tx: a })] if *a == tx));
    assert_eq!(h.layer.len(), 0);
}

// ---------------------------------------------------------------- client non-INVITE

#[test]
fn client_non_invite_timer_e_capped_at_t2_and_timer_f() {
    let mut h = Harness::new();
    let tx = h.send(request("REGISTER", "z9hG4bKreg", 1), udp(BOB));
    let out = h.run_to(40_000);
    assert_eq!(
        transmit_times(&out),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert!(
        matches!(events(&out)[..], [(32000, TuEvent::Timeout { tx: a }), (32000, TuEvent::Terminated { .. })] if *a == tx)
    );
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn client_non_invite_proceeding_retransmits_every_t2() {
    let mut h = Harness::new();
    let tx = h.send(request("OPTIONS", "z9hG4bKopt", 1), udp(BOB));
    h.drain();
    h.run_to(200);
    let out = h.inbound(
        &response_text(100, "z9hG4bKopt", 1, "OPTIONS", None),
        udp(BOB),
    );
    assert!(matches!(events(&out)[..], [(_, TuEvent::Response { tx: a, .. })] if *a == tx));
    let out = h.run_to(13_000);
    // Timer E was armed for 500 ms before the 100; then every T2.
    assert_eq!(transmit_times(&out), vec![500, 4500, 8500, 12500]);
}

#[test]
fn client_non_invite_final_and_timer_k() {
    let mut h = Harness::new();
    let tx = h.send(request("REGISTER", "z9hG4bKk", 1), udp(BOB));
    h.drain();
    let ok = response_text(200, "z9hG4bKk", 1, "REGISTER", Some("r"));
    let out = h.inbound(&ok, udp(BOB));
    assert!(matches!(events(&out)[..], [(_, TuEvent::Response { tx: a, .. })] if *a == tx));
    let out = h.inbound(&ok, udp(BOB));
    assert!(out.is_empty(), "retransmitted final absorbed");
    assert_eq!(h.layer.stats().retransmissions_absorbed, 1);
    let out = h.run_to(4_999);
    assert!(out.is_empty(), "no retransmissions in Completed");
    let out = h.run_to(5_000);
    assert!(matches!(events(&out)[..], [(5000, TuEvent::Terminated { tx: a })] if *a == tx));

    // Over TCP, Timer K is zero.
    let tx = h.send(request("REGISTER", "z9hG4bKk2", 1), tcp(BOB));
    h.drain();
    let out = h.inbound(
        &response_text(200, "z9hG4bKk2", 1, "REGISTER", Some("r")),
        tcp(BOB),
    );
    assert!(
        matches!(events(&out)[..], [(_, TuEvent::Response { .. }), (_, TuEvent::Terminated { tx: a })] if *a == tx)
    );
    assert_eq!(h.layer.len(), 0);
}

// ---------------------------------------------------------------- server INVITE

#[test]
fn server_invite_sends_100_trying_after_delay() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("INVITE", "z9hG4bKsrv", 1), udp(ALICE));
    let (tx, req, cancels) = the_request(&out);
    assert_eq!(req.method, rsip::Method::Invite);
    assert_eq!(cancels, None);
    assert!(transmits(&out).is_empty());
    let out = h.run_to(199);
    assert!(out.is_empty());
    let out = h.run_to(200);
    let sent = transmits(&out);
    assert_eq!(sent.len(), 1);
    let trying = &sent[0].1;
    assert_eq!(first_line(trying), "SIP/2.0 100 Trying");
    assert_eq!(
        header(trying, "Via"),
        vec!["SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsrv"]
    );
    assert_eq!(header(trying, "To"), vec!["Bob <sip:bob@example.com>"]);
    assert_eq!(header(trying, "CSeq"), vec!["1 INVITE"]);
    assert_eq!(header(trying, "Call-ID"), vec!["call-1@example.com"]);
    assert!(header(trying, "Route").is_empty());
    rsip::Response::try_from(trying.as_str()).unwrap();
    assert!(matches!(out[0].1, Out::Tx(Transmit { peer, .. }) if peer == udp(ALICE)));

    // A retransmission re-sends the latest provisional: first the 100, then the TU's 180.
    let out = h.inbound(&request_text("INVITE", "z9hG4bKsrv", 1), udp(ALICE));
    assert_eq!(transmits(&out)[0].1, *trying);
    h.respond(tx, 180, "z9hG4bKsrv", "INVITE");
    let out = h.inbound(&request_text("INVITE", "z9hG4bKsrv", 1), udp(ALICE));
    assert!(events(&out).is_empty());
    assert!(first_line(&transmits(&out)[0].1).starts_with("SIP/2.0 180"));
    assert_eq!(h.layer.stats().retransmissions_absorbed, 2);
}

#[test]
fn server_invite_retransmission_before_any_response_gets_100() {
    let mut h = Harness::new();
    h.inbound(&request_text("INVITE", "z9hG4bKr", 1), udp(ALICE));
    h.run_to(50);
    let out = h.inbound(&request_text("INVITE", "z9hG4bKr", 1), udp(ALICE));
    assert!(events(&out).is_empty(), "retransmission absorbed");
    assert_eq!(first_line(&transmits(&out)[0].1), "SIP/2.0 100 Trying");
    let out = h.run_to(1_000);
    assert!(out.is_empty(), "no second 100 from the delay timer");
}

#[test]
fn server_invite_quick_tu_answer_suppresses_100() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("INVITE", "z9hG4bKq", 1), udp(ALICE));
    let (tx, _, _) = the_request(&out);
    h.run_to(100);
    let out = h.respond(tx, 180, "z9hG4bKq", "INVITE");
    assert!(first_line(&transmits(&out)[0].1).starts_with("SIP/2.0 180"));
    let out = h.run_to(1_000);
    assert!(out.is_empty());
}

#[test]
fn server_invite_zero_trying_delay_answers_at_once() {
    let config = TxConfig {
        trying_delay: Duration::ZERO,
        ..TxConfig::default()
    };
    let mut h = Harness::with(config);
    let out = h.inbound(&request_text("INVITE", "z9hG4bKz", 1), udp(ALICE));
    assert_eq!(first_line(&transmits(&out)[0].1), "SIP/2.0 100 Trying");
}

#[test]
fn server_invite_non_2xx_timer_g_capped_and_timer_h() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("INVITE", "z9hG4bKg", 1), udp(ALICE));
    let (tx, _, _) = the_request(&out);
    let out = h.respond(tx, 486, "z9hG4bKg", "INVITE");
    assert_eq!(transmit_times(&out), vec![0]);
    let out = h.run_to(40_000);
    assert_eq!(
        transmit_times(&out),
        vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    // Timer H: terminated quietly, counted.
    assert!(matches!(events(&out)[..], [(32000, TuEvent::Terminated { tx: a })] if *a == tx));
    assert_eq!(h.layer.stats().ack_timeouts, 1);
    assert_eq!(h.layer.stats().timeouts, 0);
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn server_invite_ack_confirms_and_timer_i() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("INVITE", "z9hG4bKi", 1), udp(ALICE));
    let (tx, _, _) = the_request(&out);
    let out = h.respond(tx, 404, "z9hG4bKi", "INVITE");
    let final_text = transmits(&out)[0].1.clone();
    h.run_to(600); // one Timer G retransmission
                   // A retransmitted INVITE in Completed gets the final again.
    let out = h.inbound(&request_text("INVITE", "z9hG4bKi", 1), udp(ALICE));
    assert_eq!(transmits(&out), vec![(600, final_text)]);
    let out = h.inbound(&request_text("ACK", "z9hG4bKi", 1), udp(ALICE));
    assert!(out.is_empty(), "ACK for a non-2xx stays in the transaction");
    let out = h.inbound(&request_text("ACK", "z9hG4bKi", 1), udp(ALICE));
    assert!(out.is_empty(), "retransmitted ACK absorbed");
    // Timer I = T4 after the ACK; no more Timer G.
    let out = h.run_to(5_599);
    assert!(out.is_empty());
    let out = h.run_to(5_600);
    assert!(matches!(events(&out)[..], [(5600, TuEvent::Terminated { tx: a })] if *a == tx));
    assert_eq!(h.layer.stats().ack_timeouts, 0);
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn server_invite_over_tcp_no_retransmissions_and_timer_i_zero() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("INVITE", "z9hG4bKt", 1), tcp(ALICE));
    let (tx, _, _) = the_request(&out);
    h.respond(tx, 486, "z9hG4bKt", "INVITE");
    let out = h.run_to(10_000);
    assert!(transmits(&out).is_empty(), "no Timer G over TCP");
    let out = h.inbound(&request_text("ACK", "z9hG4bKt", 1), tcp(ALICE));
    assert!(matches!(events(&out)[..], [(_, TuEvent::Terminated { tx: a })] if *a == tx));

    let out = h.inbound(&request_text("INVITE", "z9hG4bKt2", 2), tcp(ALICE));
    let (tx, _, _) = the_request(&out);
    h.respond(tx, 200, "z9hG4bKt2", "INVITE");
    // Answered at 10 s: Timer L (64*T1, also over TCP) ends it at 42 s.
    let out = h.run_to(42_000);
    assert!(transmits(&out).is_empty(), "no 2xx retransmission over TCP");
    assert!(events(&out)
        .iter()
        .any(|(_, e)| matches!(e, TuEvent::AckTimeout { .. })));
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn server_invite_2xx_retransmitted_until_ack() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("INVITE", "z9hG4bK2xx", 1), udp(ALICE));
    let (tx, _, _) = the_request(&out);
    let out = h.respond(tx, 200, "z9hG4bK2xx", "INVITE");
    let ok = transmits(&out)[0].1.clone();
    let out = h.run_to(4_000);
    assert_eq!(
        transmits(&out),
        vec![(500, ok.clone()), (1500, ok.clone()), (3500, ok.clone())]
    );
    // Retransmitted INVITE in Accepted: absorbed, nothing sent.
    let out = h.inbound(&request_text("INVITE", "z9hG4bK2xx", 1), udp(ALICE));
    assert!(out.is_empty());
    // The ACK for a 2xx has its own branch; matched by Call-ID + CSeq number.
    let out = h.inbound(&request_text("ACK", "z9hG4bKack2", 1), udp(ALICE));
    assert!(
        matches!(events(&out)[..], [(_, TuEvent::Ack { request, from })] if request.method == rsip::Method::Ack && *from == udp(ALICE))
    );
    let out = h.run_to(40_000);
    assert!(
        transmits(&out).is_empty(),
        "2xx retransmission stopped by the ACK"
    );
    // Timer L ends it without AckTimeout.
    assert!(matches!(events(&out)[..], [(32000, TuEvent::Terminated { tx: a })] if *a == tx));
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn server_invite_ack_timeout() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("INVITE", "z9hG4bKnoack", 1), udp(ALICE));
    let (tx, _, _) = the_request(&out);
    h.respond(tx, 200, "z9hG4bKnoack", "INVITE");
    let out = h.run_to(40_000);
    // 2xx retransmissions: T1 doubling capped at T2.
    assert_eq!(
        transmit_times(&out),
        vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert!(
        matches!(events(&out)[..], [(32000, TuEvent::AckTimeout { tx: a }), (32000, TuEvent::Terminated { tx: b })] if *a == tx && *b == tx)
    );
    assert_eq!(h.layer.stats().ack_timeouts, 1);
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn server_invite_refuses_second_final() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("INVITE", "z9hG4bKtwice", 1), udp(ALICE));
    let (tx, _, _) = the_request(&out);
    h.respond(tx, 486, "z9hG4bKtwice", "INVITE");
    let err = h.layer.send_response(
        tx,
        response(487, "z9hG4bKtwice", 1, "INVITE", Some("b1")),
        h.now,
    );
    assert!(matches!(err, Err(TxError::InvalidState { .. })));
    let err = h
        .layer
        .send_response(TxId(999), response(200, "x", 1, "INVITE", None), h.now);
    assert!(matches!(err, Err(TxError::UnknownTransaction(TxId(999)))));
    let client = h.send(request("OPTIONS", "z9hG4bKc1", 1), udp(BOB));
    let err = h.layer.send_response(
        client,
        response(200, "z9hG4bKc1", 1, "OPTIONS", None),
        h.now,
    );
    assert!(matches!(err, Err(TxError::WrongKind { .. })));
}

// ---------------------------------------------------------------- server non-INVITE

#[test]
fn server_non_invite_absorbs_and_resends_last_response() {
    let mut h = Harness::new();
    let text = request_text("REGISTER", "z9hG4bKsreg", 1);
    let out = h.inbound(&text, udp(ALICE));
    let (tx, _, _) = the_request(&out);
    let out = h.inbound(&text, udp(ALICE));
    assert!(out.is_empty(), "Trying: retransmission absorbed silently");
    h.respond(tx, 100, "z9hG4bKsreg", "REGISTER");
    let out = h.inbound(&text, udp(ALICE));
    assert_eq!(first_line(&transmits(&out)[0].1), "SIP/2.0 100 Trying");
    h.respond(tx, 200, "z9hG4bKsreg", "REGISTER");
    h.run_to(1_000);
    let out = h.inbound(&text, udp(ALICE));
    assert!(events(&out).is_empty());
    assert!(first_line(&transmits(&out)[0].1).starts_with("SIP/2.0 200"));
    assert_eq!(h.layer.stats().retransmissions_absorbed, 3);
    // Timer J = 64*T1 from the final.
    let out = h.run_to(31_999);
    assert!(out.is_empty());
    let out = h.run_to(32_000);
    assert!(matches!(events(&out)[..], [(32000, TuEvent::Terminated { tx: a })] if *a == tx));
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn server_non_invite_stateless_final_forgets_the_transaction() {
    let mut h = Harness::new();
    let text = request_text("REGISTER", "z9hG4bKsl", 1);
    let out = h.inbound(&text, udp(ALICE));
    let (tx, _, _) = the_request(&out);
    h.layer
        .send_final_stateless(
            tx,
            response(401, "z9hG4bKsl", 1, "REGISTER", Some("b1")),
            h.now,
        )
        .unwrap();
    let out = h.drain();
    assert!(first_line(&transmits(&out)[0].1).starts_with("SIP/2.0 401"));
    assert!(matches!(events(&out)[..], [(_, TuEvent::Terminated { tx: a })] if *a == tx));
    assert_eq!(h.layer.len(), 0, "no Timer J state kept");
    // The retransmission is a new request for the TU, answered again.
    let out = h.inbound(&text, udp(ALICE));
    let (again, _, _) = the_request(&out);
    assert_ne!(again, tx);
    // Provisional answers and 2xx to INVITE are refused: those need the state machine.
    assert!(h
        .layer
        .send_final_stateless(
            again,
            response(100, "z9hG4bKsl", 1, "REGISTER", None),
            h.now
        )
        .is_err());
    let out = h.inbound(&request_text("INVITE", "z9hG4bKsli", 1), udp(ALICE));
    let (invite, _, _) = the_request(&out);
    assert!(h
        .layer
        .send_final_stateless(
            invite,
            response(200, "z9hG4bKsli", 1, "INVITE", Some("b")),
            h.now
        )
        .is_err());
}

#[test]
fn server_invite_stateless_challenge_is_sent_once_and_keeps_no_state() {
    // An unauthenticated INVITE's 407: one answer per request, no Timer G
    // retransmissions towards an address that may be forged, no 100 Trying.
    let mut h = Harness::new();
    let text = request_text("INVITE", "z9hG4bKch", 1);
    let out = h.inbound(&text, udp(ALICE));
    let (tx, _, _) = the_request(&out);
    h.layer
        .send_final_stateless(
            tx,
            response(407, "z9hG4bKch", 1, "INVITE", Some("c1")),
            h.now,
        )
        .unwrap();
    let out = h.drain();
    assert_eq!(transmits(&out).len(), 1);
    assert!(first_line(&transmits(&out)[0].1).starts_with("SIP/2.0 407"));
    assert_eq!(h.layer.len(), 0, "no transaction kept");
    // Nothing more is ever sent for it: not a 100 Trying, not a retransmission.
    let out = h.run_to(40_000);
    assert!(transmits(&out).is_empty(), "{:?}", transmits(&out));
    // The client's ACK for the 407 matches nothing and is handed up (the TU
    // ignores an ACK of no dialog).
    let ack = request_text("ACK", "z9hG4bKch", 1);
    let out = h.inbound(&ack, udp(ALICE));
    assert!(transmits(&out).is_empty());
}

#[test]
fn server_non_invite_over_tcp_timer_j_zero() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("OPTIONS", "z9hG4bKj0", 1), tcp(ALICE));
    let (tx, _, _) = the_request(&out);
    let out = h.respond(tx, 200, "z9hG4bKj0", "OPTIONS");
    assert_eq!(transmits(&out).len(), 1);
    assert!(matches!(events(&out)[..], [(_, TuEvent::Terminated { tx: a })] if *a == tx));
    assert_eq!(h.layer.len(), 0);
}

// ---------------------------------------------------------------- CANCEL

#[test]
fn server_cancel_is_matched_to_its_invite() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("INVITE", "z9hG4bKcx", 1), udp(ALICE));
    let (invite, _, _) = the_request(&out);
    let out = h.inbound(&request_text("CANCEL", "z9hG4bKcx", 1), udp(ALICE));
    let (cancel, req, cancels) = the_request(&out);
    assert_eq!(req.method, rsip::Method::Cancel);
    assert_eq!(cancels, Some(invite));
    assert_ne!(cancel, invite);
    assert!(transmits(&out).is_empty(), "the layer answers neither");
    h.respond(cancel, 200, "z9hG4bKcx", "CANCEL");
    h.respond(invite, 487, "z9hG4bKcx", "INVITE");
    // A CANCEL retransmission gets the 200 again.
    let out = h.inbound(&request_text("CANCEL", "z9hG4bKcx", 1), udp(ALICE));
    assert!(first_line(&transmits(&out)[0].1).starts_with("SIP/2.0 200"));

    // A CANCEL for nothing.
    let out = h.inbound(&request_text("CANCEL", "z9hG4bKnothing", 1), udp(ALICE));
    let (_, _, cancels) = the_request(&out);
    assert_eq!(cancels, None);
    // Same branch, different sent-by: not the same transaction.
    let other =
        request_text("CANCEL", "z9hG4bKcx", 1).replace("192.0.2.10:5060", "192.0.2.99:5060");
    let out = h.inbound(&other, udp("192.0.2.99:5060"));
    let (_, _, cancels) = the_request(&out);
    assert_eq!(cancels, None);
}

#[test]
fn client_cancel_after_provisional() {
    let mut h = Harness::new();
    let invite = h.send(request("INVITE", "z9hG4bKcan", 3), udp(BOB));
    h.drain();
    h.inbound(
        &response_text(180, "z9hG4bKcan", 3, "INVITE", Some("b1")),
        udp(BOB),
    );
    let cancel = h
        .layer
        .cancel(invite, h.now)
        .unwrap()
        .expect("CANCEL sent now");
    let out = h.drain();
    let sent = transmits(&out);
    assert_eq!(sent.len(), 1);
    let c = &sent[0].1;
    assert_eq!(first_line(c), "CANCEL sip:bob@192.0.2.20 SIP/2.0");
    assert_eq!(
        header(c, "Via"),
        vec!["SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKcan"]
    );
    assert_eq!(header(c, "Route"), vec!["<sip:proxy.example.com;lr>"]);
    assert_eq!(
        header(c, "From"),
        vec!["Alice <sip:alice@example.com>;tag=a1"]
    );
    assert_eq!(header(c, "To"), vec!["Bob <sip:bob@example.com>"]);
    assert_eq!(header(c, "Call-ID"), vec!["call-1@example.com"]);
    assert_eq!(header(c, "CSeq"), vec!["3 CANCEL"]);
    rsip::Request::try_from(c.as_str()).unwrap();
    assert!(matches!(out[0].1, Out::Tx(Transmit { peer, .. }) if peer == udp(BOB)));
    // A second cancel is a no-op.
    assert!(matches!(h.layer.cancel(invite, h.now), Ok(None)));

    // The CANCEL is retransmitted by Timer E like any non-INVITE.
    let out = h.run_to(600);
    assert_eq!(transmit_times(&out), vec![500]);
    // 200 to the CANCEL, then 487 to the INVITE, each on its own transaction.
    let out = h.inbound(
        &response_text(200, "z9hG4bKcan", 3, "CANCEL", Some("b1")),
        udp(BOB),
    );
    assert!(matches!(events(&out)[..], [(_, TuEvent::Response { tx: a, .. })] if *a == cancel));
    let out = h.inbound(
        &response_text(487, "z9hG4bKcan", 3, "INVITE", Some("b1")),
        udp(BOB),
    );
    assert!(
        matches!(events(&out)[..], [(_, TuEvent::Response { tx: a, response })] if *a == invite && response.status_code.code() == 487)
    );
    assert!(first_line(&transmits(&out)[0].1).starts_with("ACK "));
    h.run_to(60_000);
    assert_eq!(h.layer.len(), 0);
    assert!(matches!(
        h.layer.cancel(invite, h.now),
        Err(TxError::UnknownTransaction(_))
    ));
}

#[test]
fn client_cancel_before_provisional_waits_for_it() {
    let mut h = Harness::new();
    let invite = h.send(request("INVITE", "z9hG4bKearly", 1), tcp(BOB));
    h.drain();
    assert!(matches!(h.layer.cancel(invite, h.now), Ok(None)));
    assert!(
        h.drain().is_empty(),
        "no CANCEL before a provisional (§9.1)"
    );
    let out = h.inbound(
        &response_text(100, "z9hG4bKearly", 1, "INVITE", None),
        tcp(BOB),
    );
    assert!(matches!(events(&out)[..], [(_, TuEvent::Response { tx: a, .. })] if *a == invite));
    let sent = transmits(&out);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.starts_with("CANCEL "));
    // The deferred CANCEL's 200 is not reported (the TU never got its id).
    let out = h.inbound(
        &response_text(200, "z9hG4bKearly", 1, "CANCEL", Some("b1")),
        tcp(BOB),
    );
    assert!(matches!(
        events(&out)[..],
        [(_, TuEvent::Terminated { .. })]
    ));
    let out = h.inbound(
        &response_text(487, "z9hG4bKearly", 1, "INVITE", Some("b1")),
        tcp(BOB),
    );
    assert!(
        matches!(events(&out)[..], [(_, TuEvent::Response { .. }), (_, TuEvent::Terminated { tx: a })] if *a == invite)
    );
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn client_cancel_guard_times_out_without_final() {
    let mut h = Harness::new();
    let invite = h.send(request("INVITE", "z9hG4bKguard", 1), tcp(BOB));
    h.inbound(
        &response_text(180, "z9hG4bKguard", 1, "INVITE", Some("b1")),
        tcp(BOB),
    );
    h.run_to(1_000);
    h.layer.cancel(invite, h.now).unwrap();
    h.inbound(
        &response_text(200, "z9hG4bKguard", 1, "CANCEL", Some("b1")),
        tcp(BOB),
    );
    let out = h.run_to(32_999);
    assert!(events(&out).is_empty());
    let out = h.run_to(33_000);
    assert!(
        matches!(events(&out)[..], [(33000, TuEvent::Timeout { tx: a }), (33000, TuEvent::Terminated { .. })] if *a == invite)
    );
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn client_cancel_errors() {
    let mut h = Harness::new();
    let options = h.send(request("OPTIONS", "z9hG4bKo", 1), udp(BOB));
    assert!(matches!(
        h.layer.cancel(options, h.now),
        Err(TxError::WrongKind { .. })
    ));
    let invite = h.send(request("INVITE", "z9hG4bKdone", 1), udp(BOB));
    h.inbound(
        &response_text(486, "z9hG4bKdone", 1, "INVITE", Some("b1")),
        udp(BOB),
    );
    assert!(matches!(
        h.layer.cancel(invite, h.now),
        Err(TxError::InvalidState { .. })
    ));
    let invite = h.send(request("INVITE", "z9hG4bKans", 1), udp(BOB));
    h.inbound(
        &response_text(200, "z9hG4bKans", 1, "INVITE", Some("b1")),
        udp(BOB),
    );
    assert!(matches!(
        h.layer.cancel(invite, h.now),
        Err(TxError::InvalidState { .. })
    ));
    assert!(matches!(
        h.layer.cancel(TxId(12345), h.now),
        Err(TxError::UnknownTransaction(_))
    ));
}

// ---------------------------------------------------------------- matching, stamping

#[test]
fn unmatched_responses_are_counted_and_stray_2xx_passed_up() {
    let mut h = Harness::new();
    let out = h.inbound(
        &response_text(200, "z9hG4bKnobody", 1, "INVITE", Some("f")),
        udp(BOB),
    );
    assert!(
        matches!(events(&out)[..], [(_, TuEvent::StrayResponse { response, from })] if response.status_code.code() == 200 && *from == udp(BOB))
    );
    let out = h.inbound(
        &response_text(486, "z9hG4bKnobody", 1, "INVITE", Some("f")),
        udp(BOB),
    );
    assert!(out.is_empty());
    let out = h.inbound(
        &response_text(200, "z9hG4bKnobody", 1, "REGISTER", Some("f")),
        udp(BOB),
    );
    assert!(out.is_empty());
    // Right branch, wrong CSeq method: no match either.
    h.send(request("INVITE", "z9hG4bKm", 1), udp(BOB));
    h.drain();
    let out = h.inbound(
        &response_text(180, "z9hG4bKm", 1, "OPTIONS", Some("f")),
        udp(BOB),
    );
    assert!(out.is_empty());
    assert_eq!(h.layer.stats().unmatched_responses, 3);
}

#[test]
fn ack_for_unknown_2xx_is_still_delivered() {
    let mut h = Harness::new();
    let out = h.inbound(&request_text("ACK", "z9hG4bKlone", 5), udp(ALICE));
    assert!(matches!(events(&out)[..], [(_, TuEvent::Ack { .. })]));
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn via_received_and_rport_are_stamped() {
    let mut h = Harness::new();
    // Behind a NAT: sent-by is private, the packet came from elsewhere, rport asked.
    let text = request_text("REGISTER", "z9hG4bKnat", 1).replace(
        "192.0.2.10:5060;branch=z9hG4bKnat",
        "10.0.0.5:5060;rport;branch=z9hG4bKnat",
    );
    let out = h.inbound(&text, udp("203.0.113.7:40000"));
    let (_, req, _) = the_request(&out);
    assert_eq!(
        req.via_header().unwrap().value(),
        "SIP/2.0/UDP 10.0.0.5:5060;rport=40000;branch=z9hG4bKnat;received=203.0.113.7"
    );
    // rsip still reads it.
    let typed = req.via_header().unwrap().typed().unwrap();
    assert_eq!(
        typed.received().unwrap(),
        Some("203.0.113.7".parse().unwrap())
    );

    // Same IP, no rport: untouched.
    let out = h.inbound(&request_text("REGISTER", "z9hG4bKsame", 1), udp(ALICE));
    let (_, req, _) = the_request(&out);
    assert_eq!(
        req.via_header().unwrap().value(),
        "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsame"
    );

    // Different IP, no rport: received only. Only the top via of a multi-via header.
    let text = request_text("OPTIONS", "z9hG4bKmulti", 1).replace(
        "192.0.2.10:5060;branch=z9hG4bKmulti",
        "proxy.example.com;branch=z9hG4bKmulti, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKinner",
    );
    let out = h.inbound(&text, udp("198.51.100.1:5060"));
    let (_, req, _) = the_request(&out);
    assert_eq!(
        req.via_header().unwrap().value(),
        "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKmulti;received=198.51.100.1, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKinner"
    );
}

#[test]
fn malformed_requests_are_dropped_and_counted() {
    let mut h = Harness::new();
    let full = request_text("OPTIONS", "z9hG4bKbad", 1);
    let without = |name: &str| -> String {
        full.lines()
            .filter(|l| !l.starts_with(name))
            .collect::<Vec<_>>()
            .join("\r\n")
            + "\r\n"
    };
    for text in [without("Via:"), without("CSeq:"), without("Call-ID:")] {
        let out = h.inbound(&text, udp(ALICE));
        assert!(out.is_empty(), "dropped: {text}");
    }
    for bad_via in ["garbage", "SIP/2.0/UDP", ""] {
        let text = full.replace("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKbad", bad_via);
        assert!(h.inbound(&text, udp(ALICE)).is_empty());
    }
    let text = full.replace("CSeq: 1 OPTIONS", "CSeq: x OPTIONS");
    assert!(h.inbound(&text, udp(ALICE)).is_empty());
    assert_eq!(h.layer.stats().malformed_dropped, 7);
    // A response without CSeq.
    let text =
        response_text(200, "z9hG4bKbad", 1, "OPTIONS", None).replace("CSeq: 1 OPTIONS\r\n", "");
    assert!(h.inbound(&text, udp(BOB)).is_empty());
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn rfc2543_requests_without_magic_cookie() {
    let mut h = Harness::new();
    let text = request_text("INVITE", "old1", 1).replace(";branch=old1", "");
    let out = h.inbound(&text, udp(ALICE));
    let (invite, _, _) = the_request(&out);
    let out = h.inbound(&text, udp(ALICE));
    assert!(events(&out).is_empty(), "retransmission absorbed");
    let cancel = request_text("CANCEL", "old1", 1).replace(";branch=old1", "");
    let out = h.inbound(&cancel, udp(ALICE));
    let (_, _, cancels) = the_request(&out);
    assert_eq!(cancels, Some(invite));
    h.respond(invite, 487, "old1", "INVITE");
    let ack = request_text("ACK", "old1", 1).replace(";branch=old1", "");
    let out = h.inbound(&ack, udp(ALICE));
    assert!(
        out.is_empty(),
        "ACK for the non-2xx absorbed by the transaction"
    );
}

#[test]
fn request_loop_back_to_ourselves_keeps_sides_apart() {
    // A request we send that comes back to us (same branch) is a new server transaction.
    let mut h = Harness::new();
    let client = h.send(request("OPTIONS", "z9hG4bKloop", 1), udp(BOB));
    h.drain();
    let out = h.inbound(&request_text("OPTIONS", "z9hG4bKloop", 1), udp(BOB));
    let (server, _, _) = the_request(&out);
    assert_ne!(client, server);
    assert_eq!(h.layer.len(), 2);
}

// ---------------------------------------------------------------- misc

#[test]
fn transport_error_times_out_and_terminates() {
    let mut h = Harness::new();
    let tx = h.send(request("INVITE", "z9hG4bKte", 1), tcp(BOB));
    h.drain();
    h.layer.transport_error(tx, h.now);
    let out = h.drain();
    assert!(
        matches!(events(&out)[..], [(_, TuEvent::Timeout { tx: a }), (_, TuEvent::Terminated { tx: b })] if *a == tx && *b == tx)
    );
    assert_eq!(h.layer.stats().transport_errors, 1);
    h.layer.transport_error(tx, h.now);
    assert!(h.drain().is_empty());
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn ack_and_stateless_sends_create_no_transaction() {
    let mut h = Harness::new();
    let ack = h.send(request("ACK", "z9hG4bKa2", 1), udp(BOB));
    h.layer.send_stateless(
        Bytes::from_static(b"SIP/2.0 400 Bad Request\r\n\r\n"),
        udp(ALICE),
    );
    let out = h.drain();
    assert_eq!(transmits(&out).len(), 2);
    assert!(matches!(events(&out)[..], [(_, TuEvent::Terminated { tx: a })] if *a == ack));
    assert_eq!(h.layer.len(), 0);
    assert_eq!(h.layer.next_deadline(), None);
}

#[test]
fn only_unanswered_server_invites_outlive_their_timers() {
    let mut h = Harness::new();
    for i in 0..200u32 {
        let transport = if i % 2 == 0 { udp(ALICE) } else { tcp(ALICE) };
        let peer = if transport.transport == TransportKind::Udp {
            udp(BOB)
        } else {
            tcp(BOB)
        };
        let b = format!("z9hG4bKs{i}");
        let out = h.inbound(&request_text("INVITE", &b, i), transport);
        let (tx, _, _) = the_request(&out);
        let code = [180, 200, 486, 603][i as usize % 4];
        h.layer
            .send_response(tx, response(code, &b, i, "INVITE", Some("t")), h.now)
            .unwrap();
        let b = format!("z9hG4bKr{i}");
        let out = h.inbound(&request_text("REGISTER", &b, i), transport);
        let (tx, _, _) = the_request(&out);
        h.layer
            .send_response(tx, response(200, &b, i, "REGISTER", Some("t")), h.now)
            .unwrap();
        let b = format!("z9hG4bKc{i}");
        let c = h.send(
            request(if i % 3 == 0 { "INVITE" } else { "OPTIONS" }, &b, i),
            peer,
        );
        if i % 5 == 0 {
            let _ = h.layer.cancel(c, h.now);
        }
        h.run_to(u64::from(i) * 37);
    }
    assert!(!h.layer.is_empty());
    h.run_to(1_000_000);
    // Only the server INVITEs the TU left at 180 remain: RFC 3261 gives a server
    // INVITE in Proceeding no timer, finishing it is the TU's job.
    assert_eq!(h.layer.len(), 50);
    assert!(h.layer.next_deadline().is_none());
}

#[test]
fn transaction_layer_is_leak_free_when_tu_finishes_everything() {
    let mut h = Harness::new();
    let mut server_invites = Vec::new();
    for i in 0..300u32 {
        let transport = if i % 2 == 0 { udp(ALICE) } else { tcp(ALICE) };
        let b = format!("z9hG4bKs{i}");
        let out = h.inbound(&request_text("INVITE", &b, i), transport);
        let (tx, _, _) = the_request(&out);
        server_invites.push((tx, b));
        let c = h.send(
            request(
                if i % 3 == 0 { "INVITE" } else { "REGISTER" },
                &format!("z9hG4bKc{i}"),
                i,
            ),
            transport,
        );
        if i % 4 == 0 {
            let _ = h.layer.cancel(c, h.now);
        }
        h.run_to(u64::from(i) * 11);
    }
    for (i, (tx, b)) in server_invites.iter().enumerate() {
        let code = [200, 486, 404][i % 3];
        h.layer
            .send_response(*tx, response(code, b, i as u32, "INVITE", Some("t")), h.now)
            .unwrap();
    }
    h.run_to(2_000_000);
    assert_eq!(h.layer.len(), 0);
    assert_eq!(h.layer.next_deadline(), None);
    assert_eq!(h.layer.timers.heap_len(), 0);
    assert!(h.layer.index.is_empty());
    assert!(h.layer.accepted.is_empty());
}

#[test]
fn timer_heap_is_compacted_when_mostly_stale() {
    let mut h = Harness::new();
    let n = 10_000u32;
    for i in 0..n {
        let b = format!("z9hG4bKh{i}");
        h.send(request("REGISTER", &b, i), udp(BOB));
        // The 200 cancels Timers E and F and arms K.
        h.layer.handle_inbound(
            parse(&response_text(200, &b, i, "REGISTER", Some("t"))),
            udp(BOB),
            h.now,
        );
    }
    h.drain();
    assert_eq!(h.layer.len(), n as usize);
    // 3 pushes per transaction, 2 of them stale: compaction keeps the heap near the live count.
    assert!(
        h.layer.timers.heap_len() < 2 * n as usize,
        "heap {}",
        h.layer.timers.heap_len()
    );
    let out = h.run_to(5_000);
    let terminated = events(&out)
        .iter()
        .filter(|(_, e)| matches!(e, TuEvent::Terminated { .. }))
        .count();
    assert_eq!(terminated, n as usize);
    assert_eq!(h.layer.len(), 0);
    assert_eq!(h.layer.next_deadline(), None);
}

/// Throughput of the layer alone (messages pre-parsed). Run with
/// `cargo test --release -p sip transaction_throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn transaction_throughput() {
    let n = 100_000u32;
    let requests: Vec<rsip::SipMessage> = (0..n)
        .map(|i| parse(&request_text("REGISTER", &format!("z9hG4bKp{i}"), i)))
        .collect();
    let responses: Vec<rsip::Response> = (0..n)
        .map(|i| response(200, &format!("z9hG4bKp{i}"), i, "REGISTER", Some("t")))
        .collect();
    let mut h = Harness::new();
    let started = std::time::Instant::now();
    let mut ids = Vec::with_capacity(n as usize);
    for msg in requests {
        h.layer.handle_inbound(msg, udp(ALICE), h.now);
        while let Some(e) = h.layer.poll_event() {
            if let TuEvent::Request { tx, .. } = e {
                ids.push(tx);
            }
        }
    }
    for (tx, resp) in ids.iter().zip(responses) {
        h.layer.send_response(*tx, resp, h.now).unwrap();
        while h.layer.poll_transmit().is_some() {}
    }
    let handled = started.elapsed();
    assert_eq!(h.layer.len(), n as usize);
    let t = std::time::Instant::now();
    h.now += Duration::from_secs(40);
    h.layer.handle_timeout(h.now);
    while h.layer.poll_event().is_some() {}
    let expired = t.elapsed();
    assert_eq!(h.layer.len(), 0);
    eprintln!(
        "{n} requests + {n} responses in {handled:?} ({:.0} msg/s); {n} Timer J expiries in {expired:?}",
        f64::from(2 * n) / handled.as_secs_f64()
    );
}

/// A registrar's load on the layer alone: 16,000 server non-INVITE transactions
/// per virtual second (8,000 REGISTER/s, each challenged once) over UDP for 96
/// virtual seconds, so about 512,000 transactions are live in Timer J at steady
/// state and expire continuously; 1 request in 50 is retransmitted after its
/// response. Parsing, building the TU's responses and dropping what the layer
/// hands out are not timed. Run with
/// `cargo test --release -p sip transaction_register_load -- --ignored --nocapture`.
#[test]
#[ignore]
fn transaction_register_load() {
    const RATE: u32 = 16_000;
    const SECONDS: u32 = 96;
    const TICKS: u32 = 100;
    let per_tick = RATE / TICKS;
    let mut h = Harness::new();
    let mut busy = Duration::ZERO;
    let (mut messages, mut expiries, mut peak) = (0u64, 0u64, 0usize);
    let mut graveyard: Vec<TuEvent> = Vec::with_capacity(2 * per_tick as usize);
    let mut ids = Vec::with_capacity(per_tick as usize);
    let mut n = 0u32;
    let mut phase = [Duration::ZERO; 3];
    for _ in 0..SECONDS {
        for _ in 0..TICKS {
            // Untimed: what the parser and the TU would produce.
            let batch: Vec<(rsip::SipMessage, Option<rsip::SipMessage>, rsip::Response)> = (n..n
                + per_tick)
                .map(|i| {
                    let b = format!("z9hG4bKreg{i}x{}", i.wrapping_mul(2_654_435_761));
                    let req = parse(&request_text("REGISTER", &b, i));
                    let again = (i % 50 == 0).then(|| req.clone());
                    let code = if i % 2 == 0 { 401 } else { 200 };
                    (req, again, response(code, &b, i, "REGISTER", Some("t")))
                })
                .collect();
            n += per_tick;
            let mut retransmits = Vec::new();
            let mut responses = Vec::with_capacity(batch.len());
            for (req, again, resp) in batch {
                responses.push((req, resp));
                retransmits.extend(again);
            }
            h.now += Duration::from_millis(1000 / u64::from(TICKS));
            let started = std::time::Instant::now();
            h.layer.handle_timeout(h.now);
            while let Some(e) = h.layer.poll_event() {
                expiries += u64::from(matches!(e, TuEvent::Terminated { .. }));
                graveyard.push(e);
            }
            let t1 = std::time::Instant::now();
            phase[0] += t1 - started;
            let mut tu = Vec::with_capacity(responses.len());
            for (req, resp) in responses {
                h.layer.handle_inbound(req, udp(ALICE), h.now);
                tu.push(resp);
            }
            while let Some(e) = h.layer.poll_event() {
                if let TuEvent::Request { tx, .. } = &e {
                    ids.push(*tx);
                }
                graveyard.push(e);
            }
            let t2 = std::time::Instant::now();
            phase[1] += t2 - t1;
            for (tx, resp) in ids.drain(..).zip(tu) {
                h.layer.send_response(tx, resp, h.now).unwrap();
            }
            phase[2] += t2.elapsed();
            for req in retransmits {
                h.layer.handle_inbound(req, udp(ALICE), h.now);
                messages += 1;
            }
            while h.layer.poll_transmit().is_some() {}
            busy += started.elapsed();
            messages += 2 * u64::from(per_tick);
            peak = peak.max(h.layer.len());
            graveyard.clear();
        }
    }
    assert!(peak > 500_000, "peak {peak}");
    assert_eq!(h.layer.stats().retransmissions_absorbed, u64::from(n / 50));
    eprintln!(
        "{n} REGISTER transactions, {messages} messages and {expiries} Timer J expiries in \
         {busy:?} of layer time ({:.0} msg/s, {:.2} µs per transaction; timers {:?}, \
         requests {:?}, responses {:?}); peak {peak} live",
        messages as f64 / busy.as_secs_f64(),
        busy.as_secs_f64() * 1e6 / f64::from(n),
        phase[0],
        phase[1],
        phase[2],
    );
}

/// A B2BUA's load on the layer alone: 1,500 calls per virtual second over UDP
/// for 64 virtual seconds. Each call is, on the A leg, an INVITE in, 180 and
/// 200 out, the ACK in, a BYE in and its 200 out; on the B leg, an INVITE out,
/// 100, 180 and 200 in, the ACK out, a BYE out and its 200 in: 13 messages
/// and 4 transactions (up to about 150,000 live, in Timers L, M, J and K).
/// Parsing, building the TU's messages and dropping what the layer hands out
/// are not timed. Run with
/// `cargo test --release -p sip transaction_b2bua_load -- --ignored --nocapture`.
#[test]
#[ignore]
fn transaction_b2bua_load() {
    const RATE: u32 = 1_500;
    const SECONDS: u32 = 64;
    const TICKS: u32 = 100;
    const ME: &str = "192.0.2.1:5060";
    let per_tick = RATE / TICKS;
    let msg = |start: &str, via: &str, branch: &str, call: &str, tag: &str, cseq: &str| {
        format!(
            "{start}\r\n\
             Via: SIP/2.0/UDP {via};branch={branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@example.com>;tag=a{call}\r\n\
             To: <sip:bob@example.com>{tag}\r\n\
             Call-ID: {call}@example.com\r\n\
             CSeq: {cseq}\r\n\
             Contact: <sip:{via}>\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    let request = |text: String| rsip::Request::try_from(text.as_str()).unwrap();
    let response = |text: String| rsip::Response::try_from(text.as_str()).unwrap();
    let mut h = Harness::new();
    let mut busy = Duration::ZERO;
    let (mut messages, mut peak, mut calls) = (0u64, 0usize, 0u32);
    let mut graveyard: Vec<TuEvent> = Vec::new();
    let mut sent: Vec<Transmit> = Vec::new();
    for _ in 0..SECONDS * TICKS {
        // Untimed: what the parser and the TU would produce.
        struct Call {
            a_invite: rsip::SipMessage,
            a_180: rsip::Response,
            a_200: rsip::Response,
            a_ack: rsip::SipMessage,
            a_bye: rsip::SipMessage,
            a_bye_200: rsip::Response,
            b_invite: rsip::Request,
            b_100: rsip::SipMessage,
            b_180: rsip::SipMessage,
            b_200: rsip::SipMessage,
            b_ack: rsip::Request,
            b_bye: rsip::Request,
            b_bye_200: rsip::SipMessage,
        }
        let batch: Vec<Call> = (calls..calls + per_tick)
            .map(|i| {
                let (a, b) = (format!("a{i}"), format!("b{i}"));
                let inv = "1 INVITE";
                let bye = "2 BYE";
                let ab = format!("z9hG4bKa{i}");
                let bb = format!("z9hG4bKb{i}");
                Call {
                    a_invite: parse(&msg(
                        "INVITE sip:bob@192.0.2.1 SIP/2.0",
                        ALICE,
                        &ab,
                        &a,
                        "",
                        inv,
                    )),
                    a_180: response(msg("SIP/2.0 180 Ringing", ALICE, &ab, &a, ";tag=x", inv)),
                    a_200: response(msg("SIP/2.0 200 OK", ALICE, &ab, &a, ";tag=x", inv)),
                    a_ack: parse(&msg(
                        "ACK sip:x@192.0.2.1 SIP/2.0",
                        ALICE,
                        &format!("z9hG4bKk{i}"),
                        &a,
                        ";tag=x",
                        "1 ACK",
                    )),
                    a_bye: parse(&msg(
                        "BYE sip:x@192.0.2.1 SIP/2.0",
                        ALICE,
                        &format!("z9hG4bKy{i}"),
                        &a,
                        ";tag=x",
                        bye,
                    )),
                    a_bye_200: response(msg(
                        "SIP/2.0 200 OK",
                        ALICE,
                        &format!("z9hG4bKy{i}"),
                        &a,
                        ";tag=x",
                        bye,
                    )),
                    b_invite: request(msg(
                        "INVITE sip:bob@192.0.2.20 SIP/2.0",
                        ME,
                        &bb,
                        &b,
                        "",
                        inv,
                    )),
                    b_100: parse(&msg("SIP/2.0 100 Trying", ME, &bb, &b, "", inv)),
                    b_180: parse(&msg("SIP/2.0 180 Ringing", ME, &bb, &b, ";tag=y", inv)),
                    b_200: parse(&msg("SIP/2.0 200 OK", ME, &bb, &b, ";tag=y", inv)),
                    b_ack: request(msg(
                        "ACK sip:bob@192.0.2.20 SIP/2.0",
                        ME,
                        &format!("z9hG4bKc{i}"),
                        &b,
                        ";tag=y",
                        "1 ACK",
                    )),
                    b_bye: request(msg(
                        "BYE sip:bob@192.0.2.20 SIP/2.0",
                        ME,
                        &format!("z9hG4bKz{i}"),
                        &b,
                        ";tag=y",
                        bye,
                    )),
                    b_bye_200: parse(&msg(
                        "SIP/2.0 200 OK",
                        ME,
                        &format!("z9hG4bKz{i}"),
                        &b,
                        ";tag=y",
                        bye,
                    )),
                }
            })
            .collect();
        calls += per_tick;
        h.now += Duration::from_millis(1000 / u64::from(TICKS));
        let (alice, bob) = (udp(ALICE), udp(BOB));
        let started = std::time::Instant::now();
        h.layer.handle_timeout(h.now);
        for c in batch {
            let now = h.now;
            let layer = &mut h.layer;
            layer.handle_inbound(c.a_invite, alice, now);
            let mut a_tx = None;
            while let Some(e) = layer.poll_event() {
                if let TuEvent::Request { tx, .. } = &e {
                    a_tx = Some(*tx);
                }
                graveyard.push(e);
            }
            let a_tx = a_tx.unwrap();
            layer.send_response(a_tx, c.a_180, now).unwrap();
            let b_tx = layer.send_request(c.b_invite, bob, now);
            layer.handle_inbound(c.b_100, bob, now);
            layer.handle_inbound(c.b_180, bob, now);
            layer.handle_inbound(c.b_200, bob, now);
            layer.send_request(c.b_ack, bob, now);
            layer.send_response(a_tx, c.a_200, now).unwrap();
            layer.handle_inbound(c.a_ack, alice, now);
            layer.handle_inbound(c.a_bye, alice, now);
            let mut bye_tx = None;
            while let Some(e) = layer.poll_event() {
                if let TuEvent::Request { tx, .. } = &e {
                    bye_tx = Some(*tx);
                }
                graveyard.push(e);
            }
            layer
                .send_response(bye_tx.unwrap(), c.a_bye_200, now)
                .unwrap();
            layer.send_request(c.b_bye, bob, now);
            layer.handle_inbound(c.b_bye_200, bob, now);
            while let Some(e) = layer.poll_event() {
                assert!(!matches!(
                    e,
                    TuEvent::Timeout { .. } | TuEvent::AckTimeout { .. }
                ));
                graveyard.push(e);
            }
            sent.extend(std::iter::from_fn(|| layer.poll_transmit()));
            let _ = b_tx;
        }
        busy += started.elapsed();
        messages += 13 * u64::from(per_tick);
        peak = peak.max(h.layer.len());
        graveyard.clear();
        sent.clear();
    }
    let stats = h.layer.stats();
    assert_eq!(stats.timeouts + stats.ack_timeouts, 0, "{stats:?}");
    assert!(peak > 140_000, "peak {peak}");
    eprintln!(
        "{calls} calls, {messages} messages in {busy:?} of layer time ({:.0} msg/s, \
         {:.2} µs per call); peak {peak} live transactions",
        messages as f64 / busy.as_secs_f64(),
        busy.as_secs_f64() * 1e6 / f64::from(calls)
    );
}
