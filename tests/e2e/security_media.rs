//! Attacks on the RTP relay (issue 10, item 2), against the real server: a
//! stranger on another loopback address (127.0.0.5; the phones and their SIP
//! are on 127.0.0.1) sprays RTP and RTCP at the relay ports of a live call.
//! What each attack achieved is printed (run with `--nocapture` to see it).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::harness::Server;
use crate::ua::{sdp, sdp_media, Dialog, Rtp, Ua, STEP};

/// Where the attacker sends from: not the phones' (signalling) address.
const ATTACKER_IP: &str = "127.0.0.5";
/// Payload byte of the attacker's RTP, so it can be recognised anywhere.
const EVIL: u8 = 0x5A;
/// Payload byte of the phones' RTP (`Rtp::send`: µ-law silence).
const GOOD: u8 = 0xFF;

/// An answered call 1000 -> 1001 between two test UAs with RTP endpoints.
struct Call {
    caller: Ua,
    callee: Ua,
    a_rtp: Rtp,
    b_rtp: Rtp,
    a_dialog: Dialog,
    b_dialog: Dialog,
    /// The server's port the caller sends to (from the SDP answer).
    a_relay: SocketAddr,
    /// The server's port the callee sends to (from the SDP offer it got).
    b_relay: SocketAddr,
}

async fn answered_call(server: &Server) -> Call {
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    let resp = callee.register(3600).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let offer = sdp(a_rtp.port, "sendrecv");
    let answer = sdp(b_rtp.port, "sendrecv");
    let ((resp, a_dialog), b_dialog) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee
            .wait_invite(STEP)
            .await
            .expect("callee got no INVITE");
        callee.answer(&inc, &answer).await
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let a_dialog = a_dialog.expect("caller's dialog");
    let a_relay = sdp_media(&a_dialog.remote_sdp).expect("SDP answer to caller");
    let b_relay = sdp_media(&b_dialog.remote_sdp).expect("SDP offer to callee");
    Call {
        caller,
        callee,
        a_rtp,
        b_rtp,
        a_dialog,
        b_dialog,
        a_relay,
        b_relay,
    }
}

impl Call {
    async fn hang_up(mut self) {
        let resp = self.caller.bye(&mut self.a_dialog).await;
        assert_eq!(resp.status, Some(200), "{}", resp.raw);
        self.callee
            .expect_request("BYE", &self.b_dialog.call_id, "")
            .await;
    }
}

/// A valid RTP packet (version 2, PCMU, 160 payload bytes of `fill`).
fn rtp_packet(seq: u16, ssrc: u32, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[fill; 160]);
    p
}

/// A receiver report without report blocks (valid RTCP).
fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

/// The attacker: one socket on 127.0.0.5 that counts what reaches it.
struct Attacker {
    sock: Arc<UdpSocket>,
    received: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Attacker {
    async fn new() -> Attacker {
        let sock = Arc::new(
            UdpSocket::bind((ATTACKER_IP, 0))
                .await
                .expect("bind the attacker on 127.0.0.5 (loopback is 127.0.0.0/8)"),
        );
        let received = Arc::new(AtomicU64::new(0));
        let (s, r) = (sock.clone(), received.clone());
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while s.recv_from(&mut buf).await.is_ok() {
                r.fetch_add(1, Ordering::Relaxed);
            }
        });
        Attacker {
            sock,
            received,
            task,
        }
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Sends `rounds` valid RTP packets to each of `targets`, 2 ms per
    /// round; the number of datagrams sent.
    async fn spray_rtp(&self, targets: &[SocketAddr], rounds: u16) -> u64 {
        let mut sent = 0;
        for seq in 0..rounds {
            for (i, t) in targets.iter().enumerate() {
                let pkt = rtp_packet(seq, 0xBAD0_0000 + i as u32, EVIL);
                if self.sock.send_to(&pkt, t).await.is_ok() {
                    sent += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sent
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `rtp` has received at least `n` more packets than `from`.
async fn received_more(rtp: &Rtp, from: u64, n: u64) -> u64 {
    rtp.wait_received(from + n, STEP).await - from
}

fn dropped_for_source(server: &Server) -> f64 {
    server.metric("switchboard_rtp_dropped_total", "reason=\"source\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacker_rtp_injected_mid_call_does_not_take_the_stream() {
    let server = Server::start("sec_rtp_inject");
    let call = answered_call(&server).await;
    // Both phones talk for 6 s; the relay latches each to its source.
    let talk = async {
        tokio::join!(
            call.a_rtp.send(call.a_relay, 300, 0xA),
            call.b_rtp.send(call.b_relay, 300, 0xB)
        )
    };
    let attack = async {
        assert!(received_more(&call.a_rtp, 0, 5).await >= 5, "caller hears nothing");
        assert!(received_more(&call.b_rtp, 0, 5).await >= 5, "callee hears nothing");
        let dropped_before = dropped_for_source(&server);
        let attacker = Attacker::new().await;
        let (a0, b0) = (call.a_rtp.received(), call.b_rtp.received());
        // 1.5 s of valid RTP at both relay ports: ~750 packets each.
        let sent = attacker.spray_rtp(&[call.a_relay, call.b_relay], 750).await;
        let (a_during, b_during) = (call.a_rtp.received() - a0, call.b_rtp.received() - b0);
        // The phones keep talking after the attack: their audio still flows.
        let a_after = received_more(&call.a_rtp, a0 + a_during, 10).await;
        let b_after = received_more(&call.b_rtp, b0 + b_during, 10).await;
        let dropped = server.wait_metric(
            "switchboard_rtp_dropped_total",
            "reason=\"source\"",
            |v| v - dropped_before >= sent as f64,
            Duration::from_secs(10),
        ) - dropped_before;
        eprintln!(
            "mid-call injection: attacker sent {sent} RTP packets at both relay ports, \
             received {} back; during the attack the caller received {a_during} and the callee \
             {b_during} packets of each other's audio, and {a_after}/{b_after} in the moment \
             after; dropped as foreign source: {dropped}",
            attacker.received()
        );
        assert_eq!(attacker.received(), 0, "the attacker got the call's audio");
        assert!(a_during > 0, "the caller heard nothing during the attack");
        assert!(b_during > 0, "the callee heard nothing during the attack");
        assert!(a_after >= 10 && b_after >= 10);
        assert!(dropped >= sent as f64, "dropped {dropped} of {sent}");
    };
    tokio::join!(talk, attack);
    for (who, rtp) in [("caller", &call.a_rtp), ("callee", &call.b_rtp)] {
        let heard = rtp.payload_bytes(0);
        assert!(!heard.contains(&EVIL), "the {who} heard the attacker");
        assert!(heard.contains(&GOOD));
    }
    call.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacker_spraying_the_port_range_at_call_start_latches_nothing() {
    let server = Server::start("sec_rtp_spray");
    let call = answered_call(&server).await;
    // Before either phone sends: every port of the server's RTP range, 20
    // rounds (the relay ports are in there, whatever their number).
    let attacker = Attacker::new().await;
    let (lo, hi) = server.ports.rtp_range();
    let range: Vec<SocketAddr> = (lo..=hi)
        .map(|p| SocketAddr::new([127, 0, 0, 1].into(), p))
        .collect();
    let sent = attacker.spray_rtp(&range, 20).await;
    // Now the phones talk.
    tokio::join!(
        call.a_rtp.send(call.a_relay, 50, 0xA),
        call.b_rtp.send(call.b_relay, 50, 0xB)
    );
    let at_a = received_more(&call.a_rtp, 0, 25).await;
    let at_b = received_more(&call.b_rtp, 0, 25).await;
    // Late packets would have been forwarded by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    eprintln!(
        "spray at call start: attacker sent {sent} RTP packets over ports {lo}-{hi}, \
         received {} back; then of 50 packets each way the caller received {at_a}, the \
         callee {at_b}",
        attacker.received()
    );
    assert_eq!(attacker.received(), 0, "a leg latched to the attacker");
    assert!(at_a >= 25, "the caller received {at_a} of 50");
    assert!(at_b >= 25, "the callee received {at_b} of 50");
    assert_eq!(call.a_rtp.last_source(), Some(call.a_relay));
    assert_eq!(call.b_rtp.last_source(), Some(call.b_relay));
    for rtp in [&call.a_rtp, &call.b_rtp] {
        assert!(!rtp.payload_bytes(0).contains(&EVIL), "attacker relayed");
    }
    call.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_rtcp_port_does_not_take_the_rtcp_latch() {
    let server = Server::start("sec_rtcp_garbage");
    let call = answered_call(&server).await;
    // The phones' RTCP sockets: RTP port + 1, as their SDP implies.
    let a_rtcp = UdpSocket::bind(("127.0.0.1", call.a_rtp.port + 1))
        .await
        .expect("caller's RTCP port");
    let b_rtcp = UdpSocket::bind(("127.0.0.1", call.b_rtp.port + 1))
        .await
        .expect("callee's RTCP port");
    let relay_rtcp = |rtp: SocketAddr| SocketAddr::new(rtp.ip(), rtp.port() + 1);
    let (a_relay_rtcp, b_relay_rtcp) = (relay_rtcp(call.a_relay), relay_rtcp(call.b_relay));

    // First on both RTCP ports: garbage that starts like RTCP (version 2,
    // 8+ bytes, but not a report: payload type 0) from the attacker and from
    // a stray port on the phones' own address, then valid reports from the
    // attacker.
    let attacker = Attacker::new().await;
    let stray = UdpSocket::bind("127.0.0.1:0").await.expect("stray socket");
    let mut garbage: Vec<Vec<u8>> = vec![
        vec![0x80, 0x00, 0, 1, 1, 2, 3, 4],
        vec![0x80; 64],
        b"hello hello".to_vec(),
        vec![0xFF; 200],
    ];
    garbage.push(rtp_packet(1, 7, EVIL));
    let mut sent = 0;
    for target in [a_relay_rtcp, b_relay_rtcp] {
        for g in &garbage {
            attacker.sock.send_to(g, target).await.expect("send");
            stray.send_to(g, target).await.expect("send");
            sent += 2;
        }
        for k in 0..5 {
            attacker
                .sock
                .send_to(&rtcp_rr(0xBAD0_0000 + k), target)
                .await
                .expect("send");
            sent += 1;
        }
    }

    // The phones' own reports still cross, and nothing reaches the attacker.
    let mut buf = [0u8; 2048];
    a_rtcp
        .send_to(&rtcp_rr(0xA), a_relay_rtcp)
        .await
        .expect("send");
    let (n, from) = tokio::time::timeout(STEP, b_rtcp.recv_from(&mut buf))
        .await
        .expect("the callee got no RTCP")
        .expect("recv");
    assert_eq!(&buf[..n], &rtcp_rr(0xA)[..]);
    assert_eq!(from, b_relay_rtcp);
    b_rtcp
        .send_to(&rtcp_rr(0xB), b_relay_rtcp)
        .await
        .expect("send");
    let (n, _) = tokio::time::timeout(STEP, a_rtcp.recv_from(&mut buf))
        .await
        .expect("the caller got no RTCP")
        .expect("recv");
    assert_eq!(&buf[..n], &rtcp_rr(0xB)[..]);
    // More reports both ways go through the latches taken by the phones.
    for k in 0..3 {
        a_rtcp
            .send_to(&rtcp_rr(0xA0 + k), a_relay_rtcp)
            .await
            .expect("send");
        let (n, _) = tokio::time::timeout(STEP, b_rtcp.recv_from(&mut buf))
            .await
            .expect("the callee got no further RTCP")
            .expect("recv");
        assert_eq!(&buf[..n], &rtcp_rr(0xA0 + k)[..]);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    eprintln!(
        "RTCP garbage: {sent} datagrams from the attacker and a stray port sent to both \
         relay RTCP ports first; the attacker received {}; the phones' reports crossed both ways",
        attacker.received()
    );
    assert_eq!(attacker.received(), 0, "RTCP latched to the attacker");
    stray.try_recv_from(&mut buf).expect_err("RTCP latched to a stray port");
    call.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_port_is_refused_after_learning_until_a_reinvite_names_it() {
    // A short learning window, so that it is surely over when the caller moves.
    let server = Server::builder("sec_rtp_reinvite")
        .config("[media]\nrtp_learning_ms = 200\n")
        .start();
    let mut call = answered_call(&server).await;
    tokio::join!(
        call.a_rtp.send(call.a_relay, 10, 0xA),
        call.b_rtp.send(call.b_relay, 10, 0xB)
    );
    assert!(received_more(&call.a_rtp, 0, 5).await >= 5);
    assert!(received_more(&call.b_rtp, 0, 5).await >= 5);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The caller's stream (same SSRC) from another port of the same host,
    // which its SDP does not name: not relayed, and the callee's audio
    // still goes to the old port.
    let moved = Rtp::bind(server.ports.media_port(2)).await;
    let (a0, b0) = (call.a_rtp.received(), call.b_rtp.received());
    tokio::join!(
        moved.send(call.a_relay, 10, 0xA),
        call.b_rtp.send(call.b_relay, 10, 0xB)
    );
    assert!(received_more(&call.a_rtp, a0, 5).await >= 5);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(call.b_rtp.received(), b0, "an unsignalled port took the stream");
    assert_eq!(moved.received(), 0, "an unsignalled port got the audio");

    // A re-INVITE naming the new port: learning starts again there.
    let b_sdp = sdp(call.b_rtp.port, "sendrecv");
    let (reinvite, _) = tokio::join!(
        call.caller
            .reinvite(&mut call.a_dialog, &sdp(moved.port, "sendrecv")),
        call.callee
            .expect_request("INVITE", &call.b_dialog.call_id, &b_sdp)
    );
    assert_eq!(reinvite.status, Some(200), "{}", reinvite.raw);
    tokio::join!(
        moved.send(call.a_relay, 25, 0xA),
        call.b_rtp.send(call.b_relay, 25, 0xB)
    );
    assert!(received_more(&moved, 0, 10).await >= 10, "the callee's audio did not follow");
    assert!(received_more(&call.b_rtp, b0, 10).await >= 10, "the moved caller is not heard");
    call.hang_up().await;
}
