//! Attacks on the RTP relay (issue 10, item 2), against the real server: a
//! stranger on another loopback address (127.0.0.5; the phones and their SIP
//! are on 127.0.0.1) sprays RTP and RTCP at the relay ports of a live call.
//! What each attack achieved is printed (run with `--nocapture` to see it).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::harness::Server;
use crate::media::{answered_call, Call};
use crate::ua::{sdp, Rtp, STEP};

/// Where the attacker sends from: not the phones' (signalling) address.
const ATTACKER_IP: &str = "127.0.0.5";
/// Payload byte of the attacker's RTP, so it can be recognised anywhere.
const EVIL: u8 = 0x5A;
/// Payload byte of the phones' RTP (`Rtp::send`: µ-law silence).
const GOOD: u8 = 0xFF;

/// The caller hangs up a call of `media::answered_call`; the callee gets the BYE.
async fn hang_up(mut call: Call) {
    let resp = call.caller.bye(&mut call.a_dialog).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    call.callee
        .expect_request("BYE", &call.b_dialog.call_id, "")
        .await;
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
    /// Datagrams received.
    received: Arc<AtomicU64>,
    /// Of those, RTP carrying the phones' audio (not the attacker's own).
    audio: Arc<AtomicU64>,
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
        let audio = Arc::new(AtomicU64::new(0));
        let (s, r, a) = (sock.clone(), received.clone(), audio.clone());
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, _)) = s.recv_from(&mut buf).await {
                r.fetch_add(1, Ordering::Relaxed);
                if n > 12 && buf[n - 1] == GOOD {
                    a.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Attacker {
            sock,
            received,
            audio,
            task,
        }
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn received_audio(&self) -> u64 {
        self.audio.load(Ordering::Relaxed)
    }

    /// Sends valid RTP packets to each of `targets`, a round every 2 ms,
    /// until `stop` is set (at most 10,000 rounds); the datagrams sent.
    async fn spray_rtp(&self, targets: &[SocketAddr], stop: &AtomicBool) -> u64 {
        let mut sent = 0;
        for seq in 0..10_000u16 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
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
    // The phones talk a little: the relay latches each to its source.
    tokio::join!(
        call.a_rtp.send(call.a_relay, 10, 0xA),
        call.b_rtp.send(call.b_relay, 10, 0xB)
    );
    assert!(
        received_more(&call.a_rtp, 0, 5).await >= 5,
        "caller hears nothing"
    );
    assert!(
        received_more(&call.b_rtp, 0, 5).await >= 5,
        "callee hears nothing"
    );
    let dropped_before = dropped_for_source(&server);

    // A pause in the conversation (a muted phone, silence suppression), and
    // the attacker sends valid RTP to the caller's relay port, as if it were
    // the caller: through the pause and on while the phones talk again.
    let attacker = Attacker::new().await;
    let stop = AtomicBool::new(false);
    let (a0, b0) = (call.a_rtp.received(), call.b_rtp.received());
    let target = [call.a_relay];
    let (sent, ()) = tokio::join!(attacker.spray_rtp(&target, &stop), async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        tokio::join!(
            call.a_rtp.send(call.a_relay, 100, 0xA),
            call.b_rtp.send(call.b_relay, 100, 0xB)
        );
        stop.store(true, Ordering::Relaxed);
    });
    let a_talk = received_more(&call.a_rtp, a0, 50).await;
    let b_talk = received_more(&call.b_rtp, b0, 50).await;
    // Anything forwarded to the attacker would have arrived by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dropped = server.wait_metric(
        "switchboard_rtp_dropped_total",
        "reason=\"source\"",
        |v| v - dropped_before >= sent as f64,
        Duration::from_secs(10),
    ) - dropped_before;
    eprintln!(
        "mid-call injection: the attacker sent {sent} RTP packets to the caller's relay \
         port (3 s of pause, then 2 s of the phones talking) and received {} packets \
         back, {} of them the callee's audio; of 100 packets each way sent while talking, \
         the caller received {a_talk} and the callee {b_talk}; counted as dropped for their \
         source: {dropped}",
        attacker.received(),
        attacker.received_audio()
    );
    assert_eq!(attacker.received(), 0, "the attacker got the call's audio");
    assert!(a_talk >= 50, "the caller heard {a_talk} of 100 packets");
    assert!(b_talk >= 50, "the callee heard {b_talk} of 100 packets");
    assert!(dropped >= sent as f64, "dropped {dropped} of {sent}");
    for (who, rtp) in [("caller", &call.a_rtp), ("callee", &call.b_rtp)] {
        let heard = rtp.payload_bytes(0);
        assert!(!heard.contains(&EVIL), "the {who} heard the attacker");
        assert!(heard.contains(&GOOD));
    }
    hang_up(call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacker_spraying_the_port_range_at_call_start_latches_nothing() {
    let server = Server::start("sec_rtp_spray");
    let call = answered_call(&server).await;
    // Before either phone sends: every port of the server's RTP range for
    // 200 ms (the relay ports are in there, whatever their number).
    let attacker = Attacker::new().await;
    let (lo, hi) = server.ports.rtp_range();
    let range: Vec<SocketAddr> = (lo..=hi)
        .map(|p| SocketAddr::new([127, 0, 0, 1].into(), p))
        .collect();
    let stop = AtomicBool::new(false);
    let (sent, ()) = tokio::join!(attacker.spray_rtp(&range, &stop), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, Ordering::Relaxed);
    });
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
    hang_up(call).await;
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
    stray
        .try_recv_from(&mut buf)
        .expect_err("RTCP latched to a stray port");
    hang_up(call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_port_is_refused_after_learning_until_a_reinvite_names_it() {
    // A short learning window, so that it is surely over when the caller moves.
    let server = Server::builder("sec_rtp_reinvite")
        .extensions("1000-1001", "secret")
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
    assert_eq!(
        call.b_rtp.received(),
        b0,
        "an unsignalled port took the stream"
    );
    assert_eq!(moved.received(), 0, "an unsignalled port got the audio");

    // A re-INVITE naming the new port: learning starts again there.
    let (a_sdp, b_sdp) = (
        sdp(moved.port, "sendrecv"),
        sdp(call.b_rtp.port, "sendrecv"),
    );
    let (reinvite, _) = tokio::join!(
        call.caller.reinvite(&mut call.a_dialog, &a_sdp),
        call.callee
            .expect_request("INVITE", &call.b_dialog.call_id, &b_sdp)
    );
    assert_eq!(reinvite.status, Some(200), "{}", reinvite.raw);
    tokio::join!(
        moved.send(call.a_relay, 25, 0xA),
        call.b_rtp.send(call.b_relay, 25, 0xB)
    );
    assert!(
        received_more(&moved, 0, 10).await >= 10,
        "the callee's audio did not follow"
    );
    assert!(
        received_more(&call.b_rtp, b0, 10).await >= 10,
        "the moved caller is not heard"
    );
    hang_up(call).await;
}
