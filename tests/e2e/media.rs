//! Anchored media and call control with the test UA: RTP relayed both ways, SDP
//! rewritten, forking, garbage on RTP ports, /api/calls, graceful shutdown.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use crate::harness::Server;
use crate::sipp::Sipp;
use crate::ua::{dominant_hz, g711_decode, sdp, sdp_media, tone_power, Dialog, Rtp, Ua, STEP};

/// An answered call 1000 -> 1001 between two test UAs with RTP endpoints.
pub(crate) struct Call {
    pub(crate) caller: Ua,
    pub(crate) callee: Ua,
    pub(crate) a_rtp: Rtp,
    pub(crate) b_rtp: Rtp,
    pub(crate) a_dialog: Dialog,
    pub(crate) b_dialog: Dialog,
    /// Where the caller must send RTP: the server's port in the SDP answer.
    pub(crate) a_relay: SocketAddr,
    /// Where the callee must send RTP: the server's port in the SDP offer it got.
    pub(crate) b_relay: SocketAddr,
}

/// Sets up that call (also used by the RTP attack tests of `security_media`).
pub(crate) async fn answered_call(server: &Server) -> Call {
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
    let a_dialog = a_dialog.unwrap();
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

fn assert_relay_port(server: &Server, addr: SocketAddr) {
    let (lo, hi) = server.ports.rtp_range();
    assert_eq!(addr.ip().to_string(), "127.0.0.1", "SDP not rewritten");
    assert!(
        (lo..=hi).contains(&addr.port()),
        "{addr} outside the server's RTP range {lo}-{hi}"
    );
}

#[tokio::test]
async fn rtp_is_relayed_both_ways_and_arrives_at_the_far_end() {
    let server = Server::start("rtp_relay");
    let mut call = answered_call(&server).await;
    // Both SDPs point at the server's relay, not at the other party.
    assert_relay_port(&server, call.a_relay);
    assert_relay_port(&server, call.b_relay);
    assert_ne!(call.a_relay.port(), call.b_rtp.port);
    assert_ne!(call.b_relay.port(), call.a_rtp.port);

    tokio::join!(
        call.a_rtp.send(call.a_relay, 50, 0xA),
        call.b_rtp.send(call.b_relay, 50, 0xB)
    );
    let at_b = call.b_rtp.wait_received(1, STEP).await;
    let at_a = call.a_rtp.wait_received(1, STEP).await;
    assert!(at_b > 0, "callee received no RTP");
    assert!(at_a > 0, "caller received no RTP");
    // Symmetric RTP: each side hears the server from the port it was told to send to.
    assert_eq!(call.b_rtp.last_source(), Some(call.b_relay));
    assert_eq!(call.a_rtp.last_source(), Some(call.a_relay));
    let relayed = server.wait_metric(
        "switchboard_rtp_packets_relayed_total",
        "",
        |v| v > 0.0,
        Duration::from_secs(10),
    );
    assert!(
        relayed > 0.0,
        "switchboard_rtp_packets_relayed_total = {relayed}"
    );

    let resp = call.caller.bye(&mut call.a_dialog).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    call.callee
        .expect_request("BYE", &call.b_dialog.call_id, "")
        .await;
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.hangup_by, "caller", "{cdr:?}");
}

#[tokio::test]
async fn each_leg_has_its_own_call_id_and_caller_id_is_the_extension() {
    let server = Server::start("legs");
    let call = answered_call(&server).await;
    assert_ne!(call.a_dialog.call_id, call.b_dialog.call_id);
    // The callee sees the caller's extension in From.
    assert!(
        call.b_dialog.remote.contains("sip:1000@"),
        "From at the callee: {}",
        call.b_dialog.remote
    );
}

#[tokio::test]
async fn sipp_pcap_rtp_and_dtmf_reach_the_callee_through_the_relay() {
    let server = Server::start("rtp_sipp_pcap");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let b_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let uac = Sipp::new("uac-pcap", "uac_call_pcap")
        .remote(server.sip_addr())
        .users(&[("1000", "secret")])
        .service("1001")
        .media("127.0.0.1", server.ports.media_port(1))
        .pause_ms(3000)
        .spawn();
    let inc = callee.wait_invite(STEP).await.expect("no INVITE at callee");
    let dialog = callee.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await;
    let got = b_rtp.wait_received(1, STEP).await;
    assert!(got > 0, "no RTP from SIPp's pcap arrived at the callee");
    assert_eq!(b_rtp.last_source(), sdp_media(&dialog.remote_sdp));
    // SIPp hangs up after the audio and one RFC 4733 digit.
    callee.expect_request("BYE", &dialog.call_id, "").await;
    uac.wait().await.assert_success(1);
    assert!(b_rtp.received_pt(8) > 0, "no PCMA packets");
    assert!(
        b_rtp.received_pt(101) > 0,
        "the telephone-event (DTMF) packets did not pass the relay"
    );
}

#[tokio::test]
async fn call_forks_to_two_contacts_and_the_loser_gets_cancel() {
    let server = Server::start("fork");
    let mut phone1 = Ua::new("1001", "secret", server.sip_addr()).await;
    let mut phone2 = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(phone1.register(3600).await.status, Some(200));
    assert_eq!(phone2.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let offer = sdp(a_rtp.port, "sendrecv");
    let answer = sdp(b_rtp.port, "sendrecv");

    let ((resp, dialog), (b_dialog, cancel)) = tokio::join!(caller.invite("1001", &offer), async {
        // Both phones ring...
        let (inc1, inc2) = tokio::join!(phone1.wait_invite(STEP), phone2.wait_invite(STEP));
        let (inc1, inc2) = (
            inc1.expect("phone 1 not rung"),
            inc2.expect("phone 2 not rung"),
        );
        // ...phone 1 answers, phone 2 is cancelled.
        let (d, c) = tokio::join!(phone1.answer(&inc1, &answer), phone2.expect_cancel(&inc2));
        (d, c)
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    assert_eq!(cancel.method.as_deref(), Some("CANCEL"));
    let mut dialog = dialog.unwrap();
    // The answering phone is the one in the call.
    let bye = caller.bye(&mut dialog).await;
    assert_eq!(bye.status, Some(200), "{}", bye.raw);
    phone1.expect_request("BYE", &b_dialog.call_id, "").await;
}

#[tokio::test]
async fn garbage_on_rtp_ports_does_not_disturb_the_call() {
    let server = Server::start("rtp_garbage");
    let mut call = answered_call(&server).await;
    let dropped_before = server.metric("switchboard_rtp_packets_dropped_total", "");
    // Non-RTP datagrams from a stranger, BEFORE any real RTP: they must neither be
    // relayed nor steal the latch of either leg.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    for relay in [call.a_relay, call.b_relay] {
        for junk in [&b"hello"[..], &[0u8; 3][..], &[0xFFu8; 400][..], b"\x80"] {
            stranger.send_to(junk, relay).unwrap();
        }
    }
    tokio::join!(
        call.a_rtp.send(call.a_relay, 25, 0xA),
        call.b_rtp.send(call.b_relay, 25, 0xB)
    );
    assert!(call.b_rtp.wait_received(1, STEP).await > 0);
    assert!(call.a_rtp.wait_received(1, STEP).await > 0);
    // Nothing went to the stranger.
    stranger.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    assert!(
        stranger.recv_from(&mut buf).is_err(),
        "relay sent media to the garbage source"
    );
    let dropped = server.wait_metric(
        "switchboard_rtp_packets_dropped_total",
        "",
        |v| v > dropped_before,
        Duration::from_secs(10),
    );
    assert!(dropped > dropped_before, "garbage not counted as dropped");
    // The call is still up and ends normally.
    let resp = call.caller.bye(&mut call.a_dialog).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    call.callee
        .expect_request("BYE", &call.b_dialog.call_id, "")
        .await;
}

/// The value of `"key": number` in a JSON text (first occurrence).
fn json_number(text: &str, key: &str) -> Option<u16> {
    let i = text.find(&format!("\"{key}\""))?;
    let rest = text[i + key.len() + 2..].trim_start().strip_prefix(':')?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[tokio::test]
async fn api_calls_lists_the_live_call_with_its_relay_ports() {
    let server = Server::start("api_calls");
    let mut call = answered_call(&server).await;
    let body = server.api_calls();
    assert!(body.trim_start().starts_with('['), "{body}");
    assert!(
        body.contains("\"1000\"") && body.contains("\"1001\""),
        "{body}"
    );
    assert!(body.contains("answered"), "{body}");
    assert_eq!(
        json_number(&body, "a_rtp_port"),
        Some(call.a_relay.port()),
        "{body}"
    );
    assert_eq!(
        json_number(&body, "b_rtp_port"),
        Some(call.b_relay.port()),
        "{body}"
    );
    let active = server.metric("switchboard_active_calls", "");
    assert_eq!(active, 1.0);
    call.caller.bye(&mut call.a_dialog).await;
    call.callee
        .expect_request("BYE", &call.b_dialog.call_id, "")
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.api_calls().contains("\"1001\"") {
        assert!(std::time::Instant::now() < deadline, "call still listed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn ua_hold_reinvite_is_relayed_with_server_address() {
    let server = Server::start("ua_hold");
    let mut call = answered_call(&server).await;
    let hold = sdp(call.a_rtp.port, "sendonly");
    let callee_answer = sdp(call.b_rtp.port, "recvonly");
    let (resp, reinvite) = tokio::join!(
        call.caller.reinvite(&mut call.a_dialog, &hold),
        call.callee
            .expect_request("INVITE", &call.b_dialog.call_id, &callee_answer)
    );
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    assert!(reinvite.body.contains("a=sendonly"), "{}", reinvite.raw);
    let offered = sdp_media(&reinvite.body).expect("SDP in re-INVITE");
    assert_relay_port(&server, offered);
    assert!(resp.body.contains("a=recvonly"), "{}", resp.raw);
    assert_relay_port(&server, sdp_media(&resp.body).expect("SDP in 200"));
    let resp = call.caller.bye(&mut call.a_dialog).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
}

#[tokio::test]
async fn graceful_shutdown_hangs_up_active_call_and_writes_its_cdr() {
    let mut server = Server::start("shutdown");
    let mut call = answered_call(&server).await;
    server.sigterm();
    // The server sends BYE to both legs.
    let a_id = call.a_dialog.call_id.clone();
    let b_id = call.b_dialog.call_id.clone();
    tokio::join!(
        call.caller.expect_request("BYE", &a_id, ""),
        call.callee.expect_request("BYE", &b_id, "")
    );
    let status = server.stop().expect("server was running");
    assert!(status.success(), "exit status {status}");
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.call_id, a_id, "{cdr:?}");
    assert_eq!(cdr.hangup_by, "system", "{cdr:?}");
    assert!(cdr.answer_at.is_some(), "{cdr:?}");
}

#[tokio::test]
async fn caller_id_is_the_extension_and_its_display_name() {
    let server = Server::builder("caller_id")
        .extension_named("1000", "secret", "Alice Agent")
        .extensions("1001-1009", "secret")
        .start();
    let mut call = answered_call(&server).await;
    let from = &call.b_dialog.remote;
    assert!(from.contains("Alice Agent"), "From at the callee: {from}");
    assert!(from.contains("sip:1000@"), "From at the callee: {from}");
    call.caller.bye(&mut call.a_dialog).await;
    call.callee
        .expect_request("BYE", &call.b_dialog.call_id, "")
        .await;
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.caller, "1000", "{cdr:?}");
    assert_eq!(cdr.caller_name, "Alice Agent", "{cdr:?}");
}

#[tokio::test]
async fn early_media_183_is_relayed_with_sdp_rewritten() {
    let server = Server::start("early_media");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let offer = sdp(a_rtp.port, "sendrecv");
    let answer = sdp(b_rtp.port, "sendrecv");
    let ((resp, dialog), b_dialog) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee.wait_invite(STEP).await.expect("no INVITE at callee");
        callee
            .respond(
                &inc.invite,
                183,
                "Session Progress",
                Some(&inc.local_tag),
                &answer,
            )
            .await;
        // Early media: the callee plays a tone before answering.
        let relay = sdp_media(&inc.invite.body).expect("SDP offer");
        b_rtp.send(relay, 10, 0xB).await;
        callee.answer(&inc, &answer).await
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let early = caller
        .provisional
        .iter()
        .find(|m| m.status == Some(183))
        .unwrap_or_else(|| panic!("no 183 relayed: {:?}", caller.provisional));
    let early_addr = sdp_media(&early.body).expect("183 without SDP");
    assert_relay_port(&server, early_addr);
    assert_ne!(early_addr.port(), b_rtp.port);
    // The caller sends its own packets (latching) and hears the early media.
    a_rtp.send(early_addr, 5, 0xA).await;
    assert!(
        a_rtp.wait_received(1, STEP).await > 0,
        "no early media at caller"
    );
    let mut dialog = dialog.unwrap();
    caller.bye(&mut dialog).await;
    callee.expect_request("BYE", &b_dialog.call_id, "").await;
}

#[tokio::test]
async fn call_without_rtp_is_hung_up_by_the_media_timeout() {
    let server = Server::builder("rtp_timeout")
        .extensions("1000-1009", "secret")
        .config("[media]\nrtp_timeout_secs = 2")
        .start();
    let mut call = answered_call(&server).await;
    let (a_id, b_id) = (call.a_dialog.call_id.clone(), call.b_dialog.call_id.clone());
    // No RTP at all: both legs get a BYE from the server.
    tokio::join!(
        call.caller.expect_request("BYE", &a_id, ""),
        call.callee.expect_request("BYE", &b_id, "")
    );
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.hangup_by, "system", "{cdr:?}");
    let cause = cdr.hangup_cause.to_ascii_lowercase();
    assert!(
        cause.contains("rtp") || cause.contains("media"),
        "cause {cause:?} does not name the media timeout"
    );
}

#[tokio::test]
async fn call_on_hold_is_not_hung_up_by_the_media_timeout() {
    let server = Server::builder("rtp_timeout_hold")
        .extensions("1000-1009", "secret")
        .config("[media]\nrtp_timeout_secs = 2")
        .start();
    let mut call = answered_call(&server).await;
    let hold = sdp(call.a_rtp.port, "sendonly");
    let callee_answer = sdp(call.b_rtp.port, "recvonly");
    let (resp, _) = tokio::join!(
        call.caller.reinvite(&mut call.a_dialog, &hold),
        call.callee
            .expect_request("INVITE", &call.b_dialog.call_id, &callee_answer)
    );
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    // Silence for three times the timeout: no BYE may come (a slow machine only
    // makes this wait longer, never makes a BYE appear).
    let a_id = call.a_dialog.call_id.clone();
    let bye = call
        .caller
        .recv_where(Duration::from_secs(6), |m| {
            m.method.as_deref() == Some("BYE") && m.call_id() == a_id
        })
        .await;
    assert!(bye.is_none(), "call on hold was hung up: {bye:?}");
    let resp = call.caller.bye(&mut call.a_dialog).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
}

#[tokio::test]
async fn rtcp_is_relayed_on_the_next_port() {
    let server = Server::start("rtcp_relay");
    let mut call = answered_call(&server).await;
    // RTCP goes to RTP port + 1 on both sides (RFC 3550 without a=rtcp).
    let a_rtcp = Rtp::bind(call.a_rtp.port + 1).await;
    let b_rtcp = Rtp::bind(call.b_rtp.port + 1).await;
    let next = |a: SocketAddr| SocketAddr::new(a.ip(), a.port() + 1);
    // A minimal sender report: V=2, PT=200, length 6 words.
    let sr = |ssrc: u8| {
        let mut p = vec![0x80, 200, 0, 6, 0, 0, 0, ssrc];
        p.extend_from_slice(&[0u8; 20]);
        p
    };
    for _ in 0..5 {
        a_rtcp.send_raw(next(call.a_relay), &sr(0xA)).await;
        b_rtcp.send_raw(next(call.b_relay), &sr(0xB)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(b_rtcp.wait_received(1, STEP).await > 0, "no RTCP at callee");
    assert!(a_rtcp.wait_received(1, STEP).await > 0, "no RTCP at caller");
    let resp = call.caller.bye(&mut call.a_dialog).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
}

#[tokio::test]
async fn answered_call_never_acked_by_the_caller_is_hung_up_after_64_t1() {
    // T1 = 50 ms makes the RFC 3261 64*T1 wait 3.2 s.
    let server = Server::builder("no_ack")
        .extensions("1000-1009", "secret")
        .config("[sip]\nt1_ms = 50")
        .start();
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    caller.skip_ack = true;
    let offer = sdp(server.ports.media_port(0), "sendrecv");
    let answer = sdp(server.ports.media_port(1), "sendrecv");
    let ((resp, a_dialog), b_dialog) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee
            .wait_invite(STEP)
            .await
            .expect("callee got no INVITE");
        callee.answer(&inc, &answer).await
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let a_dialog = a_dialog.expect("caller dialog");
    // Without the ACK the server ends both legs itself.
    callee.expect_request("BYE", &b_dialog.call_id, "").await;
    caller.expect_request("BYE", &a_dialog.call_id, "").await;
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.hangup_cause, "RECOVERY_ON_TIMER_EXPIRE", "{cdr:?}");
    assert_eq!(cdr.hangup_by, "system", "{cdr:?}");
    assert!(cdr.answer_at.is_some(), "{cdr:?}");
}

#[tokio::test]
async fn delayed_offer_invite_without_sdp_gets_the_callee_offer_and_relays_the_ack_answer() {
    let server = Server::start("delayed_offer");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    // The caller offers nothing in the INVITE and answers in its ACK.
    caller.ack_sdp = Some(sdp(a_rtp.port, "sendrecv"));
    let offer = sdp(b_rtp.port, "sendrecv");
    let ((resp, a_dialog), b_dialog) = tokio::join!(caller.invite("1001", ""), async {
        let inc = callee
            .wait_invite(STEP)
            .await
            .expect("callee got no INVITE");
        assert!(
            inc.invite.body.is_empty(),
            "INVITE to the callee carries no offer either"
        );
        callee.answer(&inc, &offer).await
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let a_dialog = a_dialog.expect("caller dialog");
    // The caller got the callee's offer, anchored at the server...
    let a_relay = sdp_media(&a_dialog.remote_sdp).expect("offer in the 200 to the caller");
    assert_relay_port(&server, a_relay);
    // ...and the callee got the caller's answer in the ACK, anchored too.
    let b_relay = sdp_media(&b_dialog.remote_sdp).expect("answer in the ACK to the callee");
    assert_relay_port(&server, b_relay);
    tokio::join!(a_rtp.send(a_relay, 20, 0xA), b_rtp.send(b_relay, 20, 0xB));
    assert!(
        b_rtp.wait_received(1, STEP).await > 0,
        "callee received no RTP"
    );
    assert!(
        a_rtp.wait_received(1, STEP).await > 0,
        "caller received no RTP"
    );
}

/// An answered call 1000 -> 1001 where the caller offers `offer_pts` and the
/// callee answers with `answer_pts` (G.711 payload types).
async fn call_with_codecs(server: &Server, offer_pts: &str, answer_pts: &str) -> Call {
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let body = |port: u16, pts: &str| {
        format!(
            "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {pts} 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
        )
    };
    let offer = body(a_rtp.port, offer_pts);
    let answer = body(b_rtp.port, answer_pts);
    let ((resp, a_dialog), b_dialog) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee
            .wait_invite(STEP)
            .await
            .expect("callee got no INVITE");
        callee.answer(&inc, &answer).await
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let a_dialog = a_dialog.unwrap();
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

#[tokio::test]
async fn a_pcmu_caller_and_a_pcma_callee_talk_through_transcoding() {
    let server = Server::start("transcode");
    let mut call = call_with_codecs(&server, "0", "8").await;
    // The callee was offered A-law although the caller has only µ-law, and
    // the caller got an answer in its own codec.
    assert!(
        call.b_dialog.remote_sdp.contains("PCMA"),
        "{}",
        call.b_dialog.remote_sdp
    );
    assert!(
        call.a_dialog.remote_sdp.contains("RTP/AVP 0"),
        "{}",
        call.a_dialog.remote_sdp
    );
    tokio::join!(
        call.a_rtp.send_tone(call.a_relay, 0, 440.0, 1000, 0xA),
        call.b_rtp.send_tone(call.b_relay, 8, 1200.0, 1000, 0xB)
    );
    // Each side receives its own codec, carrying the other side's tone.
    let at_b = g711_decode(8, &call.b_rtp.wait_payload(8, 4000, STEP).await);
    let at_a = g711_decode(0, &call.a_rtp.wait_payload(0, 4000, STEP).await);
    assert!(
        at_b.len() >= 4000,
        "callee got {} A-law samples",
        at_b.len()
    );
    assert!(
        at_a.len() >= 4000,
        "caller got {} µ-law samples",
        at_a.len()
    );
    assert_eq!(
        call.b_rtp.received_pt(0),
        0,
        "µ-law leaked to the A-law callee"
    );
    let (hb, ha) = (dominant_hz(&at_b, 8000.0), dominant_hz(&at_a, 8000.0));
    assert!((hb - 440.0).abs() <= 6.0, "callee hears {hb} Hz");
    assert!((ha - 1200.0).abs() <= 6.0, "caller hears {ha} Hz");
    let resp = call.caller.bye(&mut call.a_dialog).await;
    assert_eq!(resp.status, Some(200));
    call.callee
        .expect_request("BYE", &call.b_dialog.call_id, "")
        .await;
}

#[tokio::test]
async fn a_bridged_call_recorded_in_stereo_holds_each_party_on_its_own_channel() {
    let dir = crate::harness::artifacts()
        .join("recordings")
        .join(format!("stereo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::builder("record_stereo")
        .extensions("1000-1001", "secret")
        .config(&format!(
            "[recording]\nenabled = true\nlayout = \"stereo\"\nrate = 8000\ndir = \"{}\"\n",
            dir.display()
        ))
        .start();
    let mut call = call_with_codecs(&server, "0", "0").await;
    tokio::join!(
        call.a_rtp.send_tone(call.a_relay, 0, 500.0, 1500, 0xA),
        call.b_rtp.send_tone(call.b_relay, 0, 1500.0, 1500, 0xB)
    );
    let resp = call.caller.bye(&mut call.a_dialog).await;
    assert_eq!(resp.status, Some(200));
    let cdr = server.wait_cdrs(1).await.remove(0);
    let path = cdr
        .recording_path
        .clone()
        .expect("the CDR names the recording");
    assert!(path.starts_with(&dir.display().to_string()), "{path}");
    assert!((1..=3).contains(&cdr.recorded_secs), "{cdr:?}");
    let mut wav = hound::WavReader::open(&path).expect("a readable WAV");
    let spec = wav.spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert!(left.len() >= 8000, "{} frames recorded", left.len());
    let (hl, hr) = (dominant_hz(&left, 8000.0), dominant_hz(&right, 8000.0));
    assert!((hl - 500.0).abs() <= 6.0, "left (caller) channel: {hl} Hz");
    assert!(
        (hr - 1500.0).abs() <= 6.0,
        "right (callee) channel: {hr} Hz"
    );
    // The other party is not on a channel: more than 30 dB below (what is
    // left is the Goertzel leakage of the tone starting and stopping).
    let (l5, l15) = (
        tone_power(&left, 8000.0, 500.0),
        tone_power(&left, 8000.0, 1500.0),
    );
    let (r5, r15) = (
        tone_power(&right, 8000.0, 500.0),
        tone_power(&right, 8000.0, 1500.0),
    );
    assert!(l15 * 1e3 < l5, "left: 500 Hz {l5:.1}, 1500 Hz {l15:.1}");
    assert!(r5 * 1e3 < r15, "right: 500 Hz {r5:.1}, 1500 Hz {r15:.1}");

    // The call history (GET /api/cdrs) lists the call with the URL of its
    // recording, which is served by range, as the page's player seeks.
    let (status, body) = server
        .http_get("/api/cdrs?recorded=yes")
        .expect("GET /api/cdrs");
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(list["total"], 1, "{list}");
    let call = &list["calls"][0];
    assert_eq!(
        (call["caller"].as_str(), call["callee"].as_str()),
        (Some("1000"), Some("1001"))
    );
    assert_eq!(call["recorded_secs"].as_i64(), Some(cdr.recorded_secs));
    let url = call["recording_url"].as_str().expect("a recording URL");
    let size = std::fs::metadata(&path).expect("the file").len();
    let (status, resp) = crate::web_client::raw(
        &server,
        &format!(
            "GET {url} HTTP/1.0\r\nAuthorization: Bearer {}\r\nRange: bytes=0-11\r\n\r\n",
            server.api_token
        ),
    );
    assert_eq!(status, 206, "{resp}");
    assert_eq!(
        crate::web_client::header(&resp, "Content-Range"),
        Some(format!("bytes 0-11/{size}").as_str())
    );
    let payload = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    assert!(
        payload.starts_with("RIFF") && payload.ends_with("WAVE"),
        "{payload:?}"
    );
}

#[tokio::test]
async fn local_ringback_is_played_when_the_callee_rings_without_early_media() {
    let server = Server::builder("local_ringback")
        .extensions("1000-1001", "secret")
        .config("[media]\nlocal_ringback = true\ntone_plan = \"cn\"\n")
        .start();
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let offer = sdp(a_rtp.port, "sendrecv");
    let answer = sdp(b_rtp.port, "sendrecv");
    let ((resp, a_dialog), (b_dialog, ringback)) =
        tokio::join!(caller.invite("1001", &offer), async {
            // wait_invite answers 180 without SDP; ring for 1.5 s.
            let inc = callee
                .wait_invite(STEP)
                .await
                .expect("callee got no INVITE");
            let ringback = g711_decode(0, &a_rtp.wait_payload(0, 8000, STEP).await);
            (callee.answer(&inc, &answer).await, ringback)
        });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    // China's ringback: 450 Hz for the first second (then 4 s off).
    assert!(
        ringback.len() >= 8000,
        "{} samples of ringback",
        ringback.len()
    );
    let hz = dominant_hz(&ringback[..8000], 8000.0);
    assert!((hz - 450.0).abs() <= 6.0, "ringback at {hz} Hz");
    // Answered: the bridge replaces the ringback.
    let mut a_dialog = a_dialog.unwrap();
    let a_relay = sdp_media(&a_dialog.remote_sdp).unwrap();
    let b_relay = sdp_media(&b_dialog.remote_sdp).unwrap();
    a_rtp.clear_payloads();
    tokio::join!(
        a_rtp.send_tone(a_relay, 0, 700.0, 600, 1),
        b_rtp.send_tone(b_relay, 0, 1300.0, 600, 2)
    );
    let heard = g711_decode(0, &a_rtp.wait_payload(0, 2400, STEP).await);
    assert!(heard.len() >= 2400, "{} samples after answer", heard.len());
    let hz = dominant_hz(&heard, 8000.0);
    assert!(
        (hz - 1300.0).abs() <= 6.0,
        "the caller hears {hz} Hz, not the callee"
    );
    assert_eq!(caller.bye(&mut a_dialog).await.status, Some(200));
}

#[tokio::test]
async fn an_unanswered_call_leaves_a_voicemail_and_the_subscribed_phone_is_told() {
    let dir = crate::harness::artifacts()
        .join("voicemail")
        .join(format!("vm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::builder("voicemail")
        .extensions("1000-1001", "secret")
        .config(&format!(
            "[calls]\nno_answer_secs = 2\n[voicemail]\nenabled = true\ndir = \"{}\"\n",
            dir.display()
        ))
        .start();
    let mut phone = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(3600).await.status, Some(200));
    let sub = phone
        .transact(
            "SUBSCRIBE",
            "1001",
            "Event: message-summary\r\nExpires: 600\r\nAccept: application/simple-message-summary\r\n",
        )
        .await;
    assert_eq!(sub.status, Some(200), "{}", sub.raw);
    let first = phone
        .recv_where(STEP, |m| m.method.as_deref() == Some("NOTIFY"))
        .await
        .expect("a NOTIFY with the current counts");
    phone.respond(&first, 200, "OK", None, "").await;
    assert!(first.body.contains("Messages-Waiting: no"), "{}", first.raw);

    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let (mut dialog, a_rtp, media) =
        ring_out_to_voicemail(&mut caller, &mut phone, server.ports.media_port(0)).await;
    // Greeting and beep, then the message: a 700 Hz tone, then #.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    a_rtp.send_tone(media, 0, 700.0, 1500, 3).await;
    let r = caller
        .info(
            &mut dialog,
            "application/dtmf-relay",
            "Signal=#\r\nDuration=100\r\n",
        )
        .await;
    assert_eq!(r.status, Some(200));
    caller.expect_request("BYE", &dialog.call_id, "").await;

    let notify = phone
        .recv_where(STEP, |m| {
            m.method.as_deref() == Some("NOTIFY") && m.body.contains("Messages-Waiting: yes")
        })
        .await
        .expect("a NOTIFY saying a message waits");
    phone.respond(&notify, 200, "OK", None, "").await;
    assert!(notify.body.contains("Voice-Message: 1/0"), "{}", notify.raw);

    let (code, body) = server.http_get("/api/voicemail/1001").unwrap();
    assert_eq!(code, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let msg = &list[0];
    assert_eq!(msg["caller"], "1000", "{body}");
    assert!(msg["seconds"].as_i64().unwrap_or(0) >= 1, "{body}");
    let path = msg["path"].as_str().unwrap().to_string();
    let mut wav = hound::WavReader::open(&path).expect("the message is a WAV");
    assert_eq!((wav.spec().channels, wav.spec().sample_rate), (1, 8000));
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    let hz = dominant_hz(&samples, 8000.0);
    assert!(
        (hz - 700.0).abs() <= 6.0,
        "the message holds the caller's tone: {hz} Hz"
    );
    let store = server.store().await;
    assert_eq!(store.list_missed_calls("1001", 10).await.unwrap().len(), 1);

    // The voicemail page: marked heard, then deleted; each time the phone's
    // lamp follows (a NOTIFY with the new counts).
    let id = msg["id"].as_i64().expect("the message's id");
    let web = crate::web_client::Browser::admin(&server);
    let (status, page) = web.get("/records/voicemail?ext=1001");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("/records/voicemail/{id}/audio?ext=1001")),
        "{page}"
    );
    let (status, resp) = web.post(
        &format!("/records/voicemail/{id}/heard"),
        "ext=1001&heard=1",
    );
    assert_eq!(status, 303, "{resp}");
    let notify = phone
        .recv_where(STEP, |m| {
            m.method.as_deref() == Some("NOTIFY") && m.body.contains("Messages-Waiting: no")
        })
        .await
        .expect("a NOTIFY saying no new message waits");
    phone.respond(&notify, 200, "OK", None, "").await;
    assert!(notify.body.contains("Voice-Message: 0/1"), "{}", notify.raw);
    let (status, resp) = web.post(&format!("/records/voicemail/{id}/delete"), "ext=1001");
    assert_eq!(status, 303, "{resp}");
    let notify = phone
        .recv_where(STEP, |m| {
            m.method.as_deref() == Some("NOTIFY") && m.body.contains("Voice-Message: 0/0")
        })
        .await
        .expect("a NOTIFY with the message gone");
    phone.respond(&notify, 200, "OK", None, "").await;
    assert!(
        !std::path::Path::new(&path).exists(),
        "the audio is deleted too"
    );
}

/// Waits (bounded by `timeout`) until `rtp` has received at least 300 ms of
/// a steady `hz` tone in PCMU (a beep, not a passing formant of a prompt).
async fn wait_tone(rtp: &Rtp, hz: f32, timeout: Duration) {
    const WINDOW: usize = 400;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let pcm = g711_decode(0, &rtp.payload_bytes(0));
        let mut run = 0;
        for w in pcm.chunks_exact(WINDOW) {
            let steady =
                (dominant_hz(w, 8000.0) - hz).abs() <= 10.0 && media::audio::level_dbov(w) > -30.0;
            run = if steady { run + 1 } else { 0 };
            if run * WINDOW >= 2400 {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {hz} Hz tone in {} samples",
            pcm.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_voicemail_ended_by_hanging_up_keeps_the_callers_number() {
    let dir = crate::harness::artifacts()
        .join("voicemail")
        .join(format!("vm-bye-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::builder("voicemail_bye")
        .extensions("1000-1001", "secret")
        .config(&format!(
            "[calls]\nno_answer_secs = 2\n[voicemail]\nenabled = true\ndir = \"{}\"\n",
            dir.display()
        ))
        .start();
    let mut phone = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let (mut dialog, a_rtp, media) =
        ring_out_to_voicemail(&mut caller, &mut phone, server.ports.media_port(0)).await;
    // After the greeting, the beep (1 kHz); then the message, ended by BYE.
    wait_tone(&a_rtp, 1000.0, STEP).await;
    a_rtp.send_tone(media, 0, 700.0, 1500, 3).await;
    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));

    let deadline = std::time::Instant::now() + STEP;
    let list = loop {
        let (code, body) = server.http_get("/api/voicemail/1001").unwrap();
        assert_eq!(code, 200, "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        if list.as_array().is_some_and(|l| !l.is_empty()) {
            break list;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no message kept: {}",
            server.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let msg = &list[0];
    assert_eq!(msg["caller"], "1000", "{list}");
    assert!(msg["seconds"].as_i64().unwrap_or(0) >= 1, "{list}");
    let path = msg["path"].as_str().unwrap().to_string();
    let mut wav = hound::WavReader::open(&path).expect("the message is a WAV");
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    let hz = dominant_hz(&samples, 8000.0);
    assert!(
        (hz - 700.0).abs() <= 6.0,
        "the message holds the caller's tone: {hz} Hz"
    );
}

/// A mail server that accepts every message and keeps it: enough SMTP
/// for the server's mailer (greeting, EHLO, MAIL, RCPT, DATA, QUIT).
struct SmtpSink {
    port: u16,
    mails: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = mails.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(smtp_session(sock, keep.clone()));
            }
        });
        SmtpSink { port, mails }
    }

    /// The messages received so far, raw (headers and encoded body).
    fn mails(&self) -> Vec<String> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits (bounded by `timeout`) until `n` messages whose text holds
    /// `what` arrived; returns them.
    async fn wait(&self, what: &str, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let got: Vec<String> = self
                .mails()
                .into_iter()
                .filter(|m| m.contains(what))
                .collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {n} mails with {what:?}: {:?}",
                self.mails()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn smtp_session(
    sock: tokio::net::TcpStream,
    keep: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 sink ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd == "DATA" {
            w.write_all(b"354 go on\r\n").await?;
            let mut mail = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line.trim_end() == "." {
                    break;
                }
                mail.push_str(&line);
            }
            keep.lock().unwrap().push(mail);
            w.write_all(b"250 kept\r\n").await?;
        } else if cmd.starts_with("QUIT") {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            // EHLO, MAIL FROM, RCPT TO, RSET, NOOP: all fine.
            w.write_all(b"250 sink\r\n").await?;
        }
    }
}

#[tokio::test]
async fn missed_calls_and_a_left_voicemail_are_mailed_to_the_extensions_user() {
    let smtp = SmtpSink::start().await;
    let dir = crate::harness::artifacts()
        .join("voicemail")
        .join(format!("vm-mail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::builder("voicemail_mail")
        .extensions("1000-1001", "secret")
        .config(&format!(
            "[calls]\nno_answer_secs = 2\n[voicemail]\nenabled = true\ndir = \"{}\"\n",
            dir.display()
        ))
        .start();
    // Alice's extension is 1001; the mail server is the sink.
    let store = server.store().await;
    store
        .put_settings(&[
            ("smtp.host".into(), "127.0.0.1".into()),
            ("smtp.port".into(), smtp.port.to_string()),
            ("smtp.security".into(), "none".into()),
            ("smtp.from".into(), "pbx@example.com".into()),
        ])
        .await
        .unwrap();
    store
        .create_user(
            &store::UserFields {
                username: "alice".into(),
                name: "Alice".into(),
                email: "alice@example.com".into(),
                extension: "1001".into(),
                enabled: true,
                ..Default::default()
            },
            "not-used",
            false,
        )
        .await
        .unwrap();
    store.close().await;
    let mut phone = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(3600).await.status, Some(200));

    // 1. A SIPp caller gives up while the phone rings: a missed call.
    let sipp = crate::calls::caller(&server, "uac_cancel", "1001", server.ports.media_port(2));
    let (result, ()) = tokio::join!(sipp.run(), async {
        let inc = phone.wait_invite(STEP).await.expect("the phone rings");
        phone.expect_cancel(&inc).await;
    });
    result.assert_success(1);
    let missed = smtp.wait("Missed call from 1000", 1, STEP).await;
    assert!(missed[0].contains("alice@example.com"), "{missed:?}");

    // 2. Nobody answers; the caller leaves a message: the voicemail notice
    // (and no missed-call notice for that call).
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let (mut dialog, a_rtp, media) =
        ring_out_to_voicemail(&mut caller, &mut phone, server.ports.media_port(0)).await;
    wait_tone(&a_rtp, 1000.0, STEP).await;
    a_rtp.send_tone(media, 0, 700.0, 1500, 3).await;
    press_key(&mut caller, &mut dialog, '#').await;
    caller.expect_request("BYE", &dialog.call_id, "").await;
    let vm = smtp.wait("New voicemail from 1000", 1, STEP).await;
    assert!(vm[0].contains("alice@example.com"), "{vm:?}");

    // 3. The voicemail answers, the caller hangs up at the greeting: a
    // missed call (once the voicemail's grace for a late message is over).
    let (mut dialog, _a_rtp, _) =
        ring_out_to_voicemail(&mut caller, &mut phone, server.ports.media_port(4)).await;
    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));
    smtp.wait("Missed call from 1000", 2, Duration::from_secs(30))
        .await;
    // One notice per call: three in all.
    assert_eq!(smtp.mails().len(), 3, "{:?}", smtp.mails());
    let store = server.store().await;
    assert_eq!(store.list_voicemails("1001").await.unwrap().len(), 1);
}

/// `caller` calls 1001 from a media socket on `port`; `phone` (1001) rings
/// and nobody answers, so the voicemail does: its dialog, the caller's
/// media socket and where the voicemail's media goes.
async fn ring_out_to_voicemail(
    caller: &mut Ua,
    phone: &mut Ua,
    port: u16,
) -> (Dialog, Rtp, SocketAddr) {
    let a_rtp = Rtp::bind(port).await;
    let offer = sdp(a_rtp.port, "sendrecv");
    let ((resp, dialog), ()) = tokio::join!(caller.invite("1001", &offer), async {
        // The phone rings and nobody answers: cancelled when the ring time is over.
        let inc = phone.wait_invite(STEP).await.expect("the phone rings");
        phone.expect_cancel(&inc).await;
    });
    assert_eq!(resp.status, Some(200), "voicemail answers: {}", resp.raw);
    let dialog = dialog.unwrap();
    let media = sdp_media(&dialog.remote_sdp).unwrap();
    (dialog, a_rtp, media)
}

/// Sends `key` as SIP INFO in `d`.
async fn press_key(ua: &mut Ua, d: &mut Dialog, key: char) {
    let body = format!("Signal={key}\r\nDuration=100\r\n");
    let r = ua.info(d, "application/dtmf-relay", &body).await;
    assert_eq!(r.status, Some(200), "{}", r.raw);
}

/// 1 s of tones from all three at once (round `n`: each round is a new RTP
/// stream, as a phone starting to talk again would send); the PCM each
/// one received.
async fn three_tones(
    call: &Call,
    sup: &Rtp,
    sup_media: SocketAddr,
    n: u32,
) -> (Vec<i16>, Vec<i16>, Vec<i16>) {
    for r in [&call.a_rtp, &call.b_rtp, sup] {
        r.clear_payloads();
    }
    tokio::join!(
        call.a_rtp
            .send_tone(call.a_relay, 0, 500.0, 1000, 10 * n + 1),
        call.b_rtp
            .send_tone(call.b_relay, 0, 1500.0, 1000, 10 * n + 2),
        sup.send_tone(sup_media, 0, 900.0, 1000, 10 * n + 3)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    (
        g711_decode(0, &call.a_rtp.payload_bytes(0)),
        g711_decode(0, &call.b_rtp.payload_bytes(0)),
        g711_decode(0, &sup.payload_bytes(0)),
    )
}

/// True if `hz` is clearly present in `pcm` (within 20 dB of its strongest tone).
fn hears(pcm: &[i16], hz: f32) -> bool {
    let p = tone_power(pcm, 8000.0, hz);
    let best = [500.0, 900.0, 1500.0]
        .iter()
        .map(|&f| tone_power(pcm, 8000.0, f))
        .fold(0.0, f64::max);
    best > 0.0 && p * 100.0 > best
}

#[tokio::test]
async fn a_supervisor_listens_whispers_and_barges_and_leaving_restores_the_call() {
    let server = Server::builder("supervisor")
        .extensions("1000-1001", "secret")
        .extensions("1009", "secret")
        .config("[apps]\nsupervisors = [\"1009\"]\n")
        .start();
    let call = call_with_codecs(&server, "0", "0").await;
    let mut sup = Ua::new("1009", "secret", server.sip_addr()).await;
    let sup_rtp = Rtp::bind(server.ports.media_port(2)).await;
    let (resp, d) = sup.invite("881001", &sdp(sup_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut sup_dialog = d.unwrap();
    let sup_media = sdp_media(&sup_dialog.remote_sdp).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Listen: the supervisor hears both, nobody hears the supervisor.
    let (at_a, at_b, at_s) = three_tones(&call, &sup_rtp, sup_media, 1).await;
    assert!(
        hears(&at_s, 500.0) && hears(&at_s, 1500.0),
        "supervisor hears both"
    );
    assert!(
        hears(&at_a, 1500.0) && !hears(&at_a, 900.0),
        "caller: callee only"
    );
    assert!(
        hears(&at_b, 500.0) && !hears(&at_b, 900.0),
        "callee: caller only"
    );

    // Whisper: the agent (leg B) hears the supervisor, the caller does not.
    press_key(&mut sup, &mut sup_dialog, '2').await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (at_a, at_b, _) = three_tones(&call, &sup_rtp, sup_media, 2).await;
    let powers = |pcm: &[i16]| {
        [500.0f32, 900.0, 1500.0]
            .iter()
            .map(|&f| tone_power(pcm, 8000.0, f) as u64)
            .collect::<Vec<_>>()
    };
    assert!(
        hears(&at_b, 900.0),
        "whisper reaches the agent: {:?} ({} samples); caller {:?}",
        powers(&at_b),
        at_b.len(),
        powers(&at_a)
    );
    assert!(!hears(&at_a, 900.0), "the caller does not hear the whisper");

    // Barge: both hear the supervisor.
    press_key(&mut sup, &mut sup_dialog, '3').await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (at_a, at_b, _) = three_tones(&call, &sup_rtp, sup_media, 3).await;
    assert!(
        hears(&at_a, 900.0) && hears(&at_b, 900.0),
        "barge is heard by both"
    );

    // The supervisor leaves: the two parties talk directly again.
    assert_eq!(sup.bye(&mut sup_dialog).await.status, Some(200));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (at_a, at_b, _) = three_tones(&call, &sup_rtp, sup_media, 4).await;
    assert!((dominant_hz(&at_a, 8000.0) - 1500.0).abs() <= 6.0);
    assert!((dominant_hz(&at_b, 8000.0) - 500.0).abs() <= 6.0);

    // Somebody who is not a supervisor is refused.
    let mut other = Ua::new("1000", "secret", server.sip_addr()).await;
    let (resp, _) = other
        .invite("881001", &sdp(server.ports.media_port(3), "sendrecv"))
        .await;
    assert_ne!(resp.status, Some(200), "{}", resp.raw);
}
