//! Transfer by REFER on ordinary extension-to-extension calls (RFC 3515,
//! RFC 5589), from either party, blind and attended (Replaces), with the
//! NOTIFY sipfrag progress, audio between the remaining parties measured,
//! the records of every part of the call, and REFERs we cannot honour
//! refused while the call goes on. And the agent desk's attended transfer
//! (consult, then complete) of a queue call and of a call the agent placed
//! (click-to-dial), with a colleague or a party outside (through a
//! gateway), and the 3-way with a party outside, with who hears whom at
//! each step measured.

use std::net::SocketAddr;
use std::time::Instant;

use crate::harness::Server;
use crate::media::answered_call;
use crate::ua::{dominant_hz, g711_decode, sdp, sdp_media, Dialog, Msg, Rtp, Ua, STEP};

/// A registered transfer target 1002 with its RTP endpoint.
async fn target(server: &Server) -> (Ua, Rtp) {
    let mut ua = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(ua.register(3600).await.status, Some(200));
    (ua, Rtp::bind(server.ports.media_port(2)).await)
}

/// The transferor's NOTIFYs up to the final one (answered 200 each);
/// returns the final one's sipfrag status line.
pub(crate) async fn notifies_until_final(ua: &mut Ua, d: &Dialog) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let n: Msg = ua.expect_request("NOTIFY", &d.call_id, "").await;
        assert_eq!(n.header("Event"), Some("refer"), "{}", n.raw);
        lines.push(n.body.lines().next().unwrap_or("").to_string());
        if n.header("Subscription-State")
            .is_some_and(|v| v.starts_with("terminated"))
        {
            return lines;
        }
    }
}

/// Sends tones both ways until each side hears the other's (the session
/// may need a moment to connect the new leg).
async fn talk(x: &Rtp, x_to: SocketAddr, y: &Rtp, y_to: SocketAddr) {
    let deadline = Instant::now() + STEP;
    let mut round = 0u32;
    loop {
        round += 1;
        x.clear_payloads();
        y.clear_payloads();
        tokio::join!(
            x.send_tone(x_to, 0, 650.0, 600, 100 + round),
            y.send_tone(y_to, 0, 1350.0, 600, 200 + round)
        );
        let at_x = g711_decode(0, &x.wait_payload(0, 2400, STEP).await);
        let at_y = g711_decode(0, &y.wait_payload(0, 2400, STEP).await);
        if (dominant_hz(&at_x, 8000.0) - 1350.0).abs() <= 6.0
            && (dominant_hz(&at_y, 8000.0) - 650.0).abs() <= 6.0
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the parties never heard each other"
        );
    }
}

fn find<'a>(cdrs: &'a [store::Cdr], caller: &str, callee: &str) -> &'a store::Cdr {
    cdrs.iter()
        .find(|c| c.caller == caller && c.callee == callee && !c.in_progress)
        .unwrap_or_else(|| panic!("no record {caller} -> {callee} in {cdrs:#?}"))
}

#[tokio::test]
async fn the_callee_blind_transfers_the_caller_of_a_direct_call() {
    let server = Server::start("xfer_blind_callee");
    let (mut tgt, t_rtp) = target(&server).await;
    let mut call = answered_call(&server).await;
    let host = server.sip_addr().ip();
    let r = call
        .callee
        .refer(&mut call.b_dialog, &format!("sip:1002@{host}"))
        .await;
    assert_eq!(r.status, Some(202), "{}", r.raw);
    let inc = tgt.wait_invite(STEP).await.expect("the target rings");
    // The target sees who is being transferred to it.
    assert!(
        inc.invite
            .header("From")
            .is_some_and(|f| f.contains("sip:1000@")),
        "{}",
        inc.invite.raw
    );
    let mut t_dialog = tgt.answer(&inc, &sdp(t_rtp.port, "sendrecv")).await;
    let lines = notifies_until_final(&mut call.callee, &call.b_dialog).await;
    assert_eq!(
        lines.first().map(String::as_str),
        Some("SIP/2.0 100 Trying")
    );
    assert_eq!(lines.last().map(String::as_str), Some("SIP/2.0 200 OK"));
    call.callee
        .expect_request("BYE", &call.b_dialog.call_id, "")
        .await;
    let t_media = sdp_media(&t_dialog.remote_sdp).expect("SDP to the target");
    talk(&call.a_rtp, call.a_relay, &t_rtp, t_media).await;
    assert_eq!(tgt.bye(&mut t_dialog).await.status, Some(200));
    call.caller
        .expect_request("BYE", &call.a_dialog.call_id, "")
        .await;
    let cdrs = server.wait_cdrs(2).await;
    let first = find(&cdrs, "1000", "1001");
    assert_eq!(
        (first.hangup_cause.as_str(), first.hangup_by.as_str()),
        ("BLIND_TRANSFER", "callee")
    );
    assert!(first.answer_at.is_some());
    let second = find(&cdrs, "1000", "1002");
    assert!(second.answer_at.is_some(), "{second:?}");
    assert_eq!(second.hangup_cause, "NORMAL_CLEARING");
    assert_ne!(first.call_uid, second.call_uid);
    assert_eq!(
        server.wait_metric("switchboard_transfers_total", "", |v| v >= 1.0, STEP),
        1.0
    );
}

#[tokio::test]
async fn the_caller_blind_transfers_the_callee_of_a_direct_call() {
    let server = Server::start("xfer_blind_caller");
    let (mut tgt, t_rtp) = target(&server).await;
    let mut call = answered_call(&server).await;
    let host = server.sip_addr().ip();
    let r = call
        .caller
        .refer(&mut call.a_dialog, &format!("sip:1002@{host}"))
        .await;
    assert_eq!(r.status, Some(202), "{}", r.raw);
    let inc = tgt.wait_invite(STEP).await.expect("the target rings");
    assert!(
        inc.invite
            .header("From")
            .is_some_and(|f| f.contains("sip:1001@")),
        "{}",
        inc.invite.raw
    );
    let t_dialog = tgt.answer(&inc, &sdp(t_rtp.port, "sendrecv")).await;
    let lines = notifies_until_final(&mut call.caller, &call.a_dialog).await;
    assert_eq!(lines.last().map(String::as_str), Some("SIP/2.0 200 OK"));
    call.caller
        .expect_request("BYE", &call.a_dialog.call_id, "")
        .await;
    // The callee keeps its own dialog and relay port.
    let t_media = sdp_media(&t_dialog.remote_sdp).expect("SDP to the target");
    talk(&call.b_rtp, call.b_relay, &t_rtp, t_media).await;
    assert_eq!(call.callee.bye(&mut call.b_dialog).await.status, Some(200));
    tgt.expect_request("BYE", &t_dialog.call_id, "").await;
    let cdrs = server.wait_cdrs(2).await;
    let first = find(&cdrs, "1000", "1001");
    assert_eq!(
        (first.hangup_cause.as_str(), first.hangup_by.as_str()),
        ("BLIND_TRANSFER", "caller")
    );
    let second = find(&cdrs, "1001", "1002");
    assert!(second.answer_at.is_some(), "{second:?}");
}

#[tokio::test]
async fn a_refer_that_cannot_be_honoured_is_refused_and_the_call_goes_on() {
    let server = Server::start("xfer_refused");
    let mut call = answered_call(&server).await;
    let host = server.sip_addr().ip();
    let r = call
        .callee
        .refer(&mut call.b_dialog, &format!("sip:7777@{host}"))
        .await;
    assert_eq!(r.status, Some(404), "{}", r.raw);
    // 1003 exists but is not registered.
    let r = call
        .caller
        .refer(&mut call.a_dialog, &format!("sip:1003@{host}"))
        .await;
    assert_eq!(r.status, Some(480), "{}", r.raw);
    let r = call
        .callee
        .refer(
            &mut call.b_dialog,
            &format!("sip:1002@{host}?Replaces=nosuchcall%3Bto-tag%3Da%3Bfrom-tag%3Db"),
        )
        .await;
    assert_eq!(r.status, Some(481), "{}", r.raw);
    // Media still flows both ways and the call ends normally.
    talk(&call.a_rtp, call.a_relay, &call.b_rtp, call.b_relay).await;
    assert_eq!(call.caller.bye(&mut call.a_dialog).await.status, Some(200));
    call.callee
        .expect_request("BYE", &call.b_dialog.call_id, "")
        .await;
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.hangup_cause, "NORMAL_CLEARING");
    assert_eq!(
        server.wait_metric("switchboard_refer_rejects_total", "", |v| v >= 3.0, STEP),
        3.0
    );
}

#[tokio::test]
async fn the_callee_holds_consults_and_attended_transfers_the_caller() {
    let server = Server::start("xfer_attended");
    let (mut tgt, t_rtp) = target(&server).await;
    let mut call = answered_call(&server).await;
    // 1001 puts the caller on hold (the caller's phone gets the offer) ...
    let a_port = call.a_rtp.port;
    let hold = sdp(server.ports.media_port(1), "sendonly");
    let held_answer = sdp(a_port, "recvonly");
    let (held, _) = tokio::join!(
        call.callee.reinvite(&mut call.b_dialog, &hold),
        call.caller
            .expect_request("INVITE", &call.a_dialog.call_id, &held_answer)
    );
    assert_eq!(held.status, Some(200), "{}", held.raw);
    // ... calls 1002 ...
    let consult = sdp(server.ports.media_port(3), "sendrecv");
    let ((r2, leg2), t_dialog) = tokio::join!(call.callee.invite("1002", &consult), async {
        let inc = tgt.wait_invite(STEP).await.expect("1002 rings");
        tgt.answer(&inc, &sdp(t_rtp.port, "sendrecv")).await
    });
    assert_eq!(r2.status, Some(200), "{}", r2.raw);
    let leg2 = leg2.expect("consultation dialog");
    // ... and transfers the caller to it (REFER with Replaces of leg 2).
    let host = server.sip_addr().ip();
    let refer_to = format!(
        "sip:1002@{host}?Replaces={}%3Bto-tag%3D{}%3Bfrom-tag%3D{}",
        leg2.call_id,
        crate::ua::tag_of(&leg2.remote).unwrap_or_default(),
        crate::ua::tag_of(&leg2.local).unwrap_or_default()
    );
    let r = call.callee.refer(&mut call.b_dialog, &refer_to).await;
    assert_eq!(r.status, Some(202), "{}", r.raw);
    let lines = notifies_until_final(&mut call.callee, &call.b_dialog).await;
    assert_eq!(lines.last().map(String::as_str), Some("SIP/2.0 200 OK"));
    call.callee
        .expect_request("BYE", &call.b_dialog.call_id, "")
        .await;
    call.callee.expect_request("BYE", &leg2.call_id, "").await;
    // The caller is taken off hold, then talks to 1002.
    let unhold = call
        .caller
        .expect_request("INVITE", &call.a_dialog.call_id, &sdp(a_port, "sendrecv"))
        .await;
    assert!(unhold.body.contains("a=sendrecv"), "{}", unhold.raw);
    let t_media = sdp_media(&t_dialog.remote_sdp).expect("SDP to 1002");
    talk(&call.a_rtp, call.a_relay, &t_rtp, t_media).await;
    assert_eq!(call.caller.bye(&mut call.a_dialog).await.status, Some(200));
    tgt.expect_request("BYE", &t_dialog.call_id, "").await;
    let cdrs = server.wait_cdrs(3).await;
    for (caller, callee) in [("1000", "1001"), ("1001", "1002")] {
        let part = find(&cdrs, caller, callee);
        assert_eq!(part.hangup_cause, "ATTENDED_TRANSFER", "{part:?}");
    }
    let rest = find(&cdrs, "1000", "1002");
    assert!(rest.answer_at.is_some(), "{rest:?}");
    assert_eq!(rest.hangup_cause, "NORMAL_CLEARING");
}

#[tokio::test]
async fn attacker_replaces_naming_a_strangers_call_is_refused_and_that_call_goes_on() {
    let server = Server::start("xfer_replaces_stranger");
    let mut call = answered_call(&server).await;
    // 1002 has a call of its own with 1003 ...
    let mut victim_peer = Ua::new("1003", "secret", server.sip_addr()).await;
    assert_eq!(victim_peer.register(3600).await.status, Some(200));
    let mut attacker = Ua::new("1002", "secret", server.sip_addr()).await;
    let offer = sdp(server.ports.media_port(2), "sendrecv");
    let answer = sdp(server.ports.media_port(3), "sendrecv");
    let ((resp, own), _) = tokio::join!(attacker.invite("1003", &offer), async {
        let inc = victim_peer.wait_invite(STEP).await.expect("1003 rings");
        victim_peer.answer(&inc, &answer).await
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut own = own.expect("dialog");
    // ... and tries to take over the caller of 1000 -> 1001, whose Call-ID it learnt.
    let host = server.sip_addr().ip();
    let refer_to = format!(
        "sip:1003@{host}?Replaces={}%3Bto-tag%3Dx%3Bfrom-tag%3Dy",
        call.a_dialog.call_id
    );
    let r = attacker.refer(&mut own, &refer_to).await;
    assert_eq!(r.status, Some(403), "{}", r.raw);
    talk(&call.a_rtp, call.a_relay, &call.b_rtp, call.b_relay).await;
    assert_eq!(call.caller.bye(&mut call.a_dialog).await.status, Some(200));
    call.callee
        .expect_request("BYE", &call.b_dialog.call_id, "")
        .await;
}

/// The queue 9400 ("support") with agent 1003.
const QUEUE_1003: &str = "[apps]\nqueues = { \"9400\" = \"support\" }\n\n\
    [[callcenter.queues]]\nname = \"support\"\nstrategy = \"longest-idle-agent\"\n\n\
    [[callcenter.agents]]\nid = \"1003\"\ncontact = \"1003\"\n\n\
    [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1003\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_consults_a_colleague_privately_then_hands_the_queue_caller_over() {
    use crate::webrtc::{plain_talk_with, QUIET, SPEAK};
    use std::net::UdpSocket;
    use std::time::Duration;
    let server = Server::builder("desk_consult")
        .extensions("1000-1009", "secret")
        .config(QUEUE_1003)
        .start();
    let (code, body) = server
        .http_post("/api/agents/1003/status?status=available")
        .expect("agent status");
    assert_eq!(code, 200, "{body}");
    let media = |i| UdpSocket::bind(("127.0.0.1", server.ports.media_port(i))).expect("media");
    let (caller_m, agent_m, mate_m) = (media(0), media(1), media(2));
    let port = |s: &UdpSocket| s.local_addr().expect("addr").port();
    let mut agent = Ua::new("1003", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(300).await.status, Some(200));
    let mut mate = Ua::new("1004", "secret", server.sip_addr()).await;
    assert_eq!(mate.register(300).await.status, Some(200));
    let mut caller = Ua::new("1002", "secret", server.sip_addr()).await;
    let offer = sdp(port(&caller_m), "sendrecv");
    let calling = tokio::spawn(async move {
        let (resp, dialog) = caller.invite("9400", &offer).await;
        (caller, resp, dialog)
    });
    let inc = agent.wait_invite(STEP).await.expect("the agent rings");
    let agent_to = sdp_media(&inc.invite.body).expect("our address");
    let agent_dialog = agent.answer(&inc, &sdp(port(&agent_m), "sendrecv")).await;
    let (mut caller, resp, caller_dialog) = calling.await.expect("the caller");
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut caller_dialog = caller_dialog.expect("a dialog");
    let caller_to = sdp_media(&resp.body).expect("our address");
    let id = server.live_call_id("b_party", "1003");

    // Consult: 1004 is rung (asked to answer by itself) and talks with
    // the agent alone.
    let join = server.http_post_later(&format!("/api/calls/{id}/join?extension=1004&mode=consult"));
    let inc = mate.wait_invite(STEP).await.expect("the colleague rings");
    assert!(
        inc.invite
            .header("Call-Info")
            .is_some_and(|v| v.contains("answer-after=0")),
        "{}",
        inc.invite.raw
    );
    let mate_to = sdp_media(&inc.invite.body).expect("our address");
    let mut mate_dialog = mate.answer(&inc, &sdp(port(&mate_m), "sendrecv")).await;
    let (status, body) = join.await.expect("the join request");
    assert_eq!(status, 200, "{body}");
    let joined: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let consult = joined["joined"]
        .as_u64()
        .expect("the consultation's call id");

    let d = Duration::from_millis(2500);
    let clone = |s: &UdpSocket| s.try_clone().expect("clone");
    // The caller speaks: no one hears it (it waits in silence).
    let (c, a, m) = tokio::join!(
        plain_talk_with(clone(&caller_m), caller_to, d, SPEAK),
        plain_talk_with(clone(&agent_m), agent_to, d, QUIET),
        plain_talk_with(clone(&mate_m), mate_to, d, QUIET)
    );
    assert!(
        a.1 <= 5 && m.1 <= 5,
        "consult: caller unheard: agent {a:?}, colleague {m:?}"
    );
    assert!(c.0 >= 40, "the caller still gets packets: {c:?}");
    // The agent and the colleague talk: each hears the other, the caller
    // hears neither.
    let (c, a, m) = tokio::join!(
        plain_talk_with(clone(&caller_m), caller_to, d, QUIET),
        plain_talk_with(clone(&agent_m), agent_to, d, SPEAK),
        plain_talk_with(clone(&mate_m), mate_to, d, SPEAK)
    );
    assert!(a.1 >= 40, "consult: the agent hears the colleague: {a:?}");
    assert!(m.1 >= 40, "consult: the colleague hears the agent: {m:?}");
    assert!(c.1 <= 5, "consult: the caller hears neither: {c:?}");

    // Complete: the agent leaves, the caller and the colleague talk.
    let (status, body) = server
        .http_post(&format!("/api/calls/{id}/hand_over?with={consult}"))
        .expect("hand over");
    assert_eq!(status, 200, "{body}");
    agent.expect_request("BYE", &agent_dialog.call_id, "").await;
    let (c, m) = tokio::join!(
        plain_talk_with(clone(&caller_m), caller_to, d, SPEAK),
        plain_talk_with(clone(&mate_m), mate_to, d, SPEAK)
    );
    assert!(
        c.1 >= 40 && m.1 >= 40,
        "after: caller {c:?}, colleague {m:?}"
    );
    // The agent is free for the next caller at once.
    let queues = server.http_get("/api/queues").expect("queues").1;
    assert!(!queues.contains("In a queue call"), "{queues}");

    // The caller hangs up: the colleague's call ends with it.
    caller.bye(&mut caller_dialog).await;
    mate.expect_request("BYE", &mate_dialog.call_id, "").await;
    let _ = &mut mate_dialog;
}

/// The agent consults a party outside (an outbound rule's number, through
/// its gateway: here a plain SIP peer), then hands the queue caller over:
/// the same privacy as with a colleague, the carrier's leg on record as
/// the agent's call out, and the gateway's call count held while it lasts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_consults_an_outside_number_through_the_gateway_then_hands_the_caller_over() {
    use crate::gateways::{wait_gateway, ROUTES};
    use crate::webrtc::{plain_talk_with, QUIET, SPEAK};
    use std::net::UdpSocket;
    use std::time::Duration;
    let server = Server::builder("desk_consult_out")
        .extensions("1000-1009", "secret")
        .config(QUEUE_1003)
        .config(ROUTES)
        .start();
    let mut carrier = outside_carrier(&server).await;
    let (code, body) = server
        .http_post("/api/agents/1003/status?status=available")
        .expect("agent status");
    assert_eq!(code, 200, "{body}");
    let media = |i| UdpSocket::bind(("127.0.0.1", server.ports.media_port(i))).expect("media");
    let (caller_m, agent_m, out_m) = (media(0), media(1), media(2));
    let port = |s: &UdpSocket| s.local_addr().expect("addr").port();
    let mut agent = Ua::new("1003", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(300).await.status, Some(200));
    let mut caller = Ua::new("1002", "secret", server.sip_addr()).await;
    let offer = sdp(port(&caller_m), "sendrecv");
    let calling = tokio::spawn(async move {
        let (resp, dialog) = caller.invite("9400", &offer).await;
        (caller, resp, dialog)
    });
    let inc = agent.wait_invite(STEP).await.expect("the agent rings");
    let agent_to = sdp_media(&inc.invite.body).expect("our address");
    let agent_dialog = agent.answer(&inc, &sdp(port(&agent_m), "sendrecv")).await;
    let (mut caller, resp, caller_dialog) = calling.await.expect("the caller");
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut caller_dialog = caller_dialog.expect("a dialog");
    let caller_to = sdp_media(&resp.body).expect("our address");
    let id = server.live_call_id("b_party", "1003");

    // Consult 0555: rule "out" sends 555 to the gateway, from the trunk port.
    let join = server.http_post_later(&format!("/api/calls/{id}/join?extension=0555&mode=consult"));
    let inc = carrier
        .wait_invite(STEP)
        .await
        .expect("the carrier gets the call");
    assert!(
        inc.invite.raw.starts_with("INVITE sip:555@"),
        "{}",
        inc.invite.raw
    );
    assert_eq!(inc.invite.src, server.trunk_addr(), "from the trunk port");
    let out_to = sdp_media(&inc.invite.body).expect("our address");
    let mut out_dialog = carrier.answer(&inc, &sdp(port(&out_m), "sendrecv")).await;
    let (status, body) = join.await.expect("the join request");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        server.metric("switchboard_gateway_calls", "gateway=\"primary\""),
        1.0
    );

    let d = Duration::from_millis(2500);
    let clone = |s: &UdpSocket| s.try_clone().expect("clone");
    // The agent and the outside party talk; the caller hears neither.
    let (c, a, o) = tokio::join!(
        plain_talk_with(clone(&caller_m), caller_to, d, QUIET),
        plain_talk_with(clone(&agent_m), agent_to, d, SPEAK),
        plain_talk_with(clone(&out_m), out_to, d, SPEAK)
    );
    assert!(
        a.1 >= 40,
        "consult: the agent hears the outside party: {a:?}"
    );
    assert!(
        o.1 >= 40,
        "consult: the outside party hears the agent: {o:?}"
    );
    assert!(c.1 <= 5, "consult: the caller hears neither: {c:?}");

    // Complete: the agent leaves; the caller and the outside party talk.
    let (status, body) = server
        .http_post(&format!("/api/calls/{id}/hand_over?with={}", {
            let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            v["joined"].as_u64().expect("the consultation's id")
        }))
        .expect("hand over");
    assert_eq!(status, 200, "{body}");
    agent.expect_request("BYE", &agent_dialog.call_id, "").await;
    let (c, o) = tokio::join!(
        plain_talk_with(clone(&caller_m), caller_to, d, SPEAK),
        plain_talk_with(clone(&out_m), out_to, d, SPEAK)
    );
    assert!(
        c.1 >= 40 && o.1 >= 40,
        "after: caller {c:?}, outside party {o:?}"
    );
    // The caller hangs up: the carrier's leg ends with it, and the gateway
    // has its place back.
    caller.bye(&mut caller_dialog).await;
    carrier.expect_request("BYE", &out_dialog.call_id, "").await;
    let _ = &mut out_dialog;
    wait_gateway(&server, "switchboard_gateway_calls", "primary", |v| {
        v == 0.0
    });
    let cdrs = server.wait_cdrs(2).await;
    let out = cdrs
        .iter()
        .find(|c| c.callee == "0555")
        .unwrap_or_else(|| panic!("the outside leg's record: {cdrs:?}"));
    assert_eq!(out.direction, "outbound", "{out:?}");
    assert_eq!(out.caller, "1003", "{out:?}");
    assert!(out.answer_at.is_some(), "{out:?}");
}

/// The carrier behind gateway "primary": a SIP peer of its own on the
/// gateway's address (rule "out" of [`crate::gateways::ROUTES`] sends 0N to
/// it as N, from the trunk port); returns once the gateway is up.
async fn outside_carrier(server: &Server) -> Ua {
    use crate::gateways::{add_gateway, gateway, wait_gateway};
    use callcenter::gateway::config::Mode;
    let carrier = Ua::new("carrier", "-", server.trunk_addr()).await;
    let carrier_port: u16 = carrier
        .contact()
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('>').parse().ok())
        .expect("the carrier's port");
    add_gateway(server, &gateway("primary", Mode::Nni, carrier_port)).await;
    wait_gateway(server, "switchboard_gateway_up", "primary", |v| v == 1.0);
    carrier
}

/// A phone of the test: its SIP user agent, its media socket, the dialog
/// of its call and where it sends its media (our address in the INVITE).
struct Phone {
    ua: Ua,
    media: std::net::UdpSocket,
    dialog: Dialog,
    to: SocketAddr,
}

impl Phone {
    /// The phone's media socket, for a [`crate::webrtc::plain_talk_with`].
    fn sock(&self) -> std::net::UdpSocket {
        self.media.try_clone().expect("clone the media socket")
    }
}

/// Media port `i` of the test, bound.
fn media_socket(server: &Server, i: u16) -> std::net::UdpSocket {
    std::net::UdpSocket::bind(("127.0.0.1", server.ports.media_port(i))).expect("media")
}

/// `ua` (media port `i`) answers the INVITE it gets next.
async fn answer_next(server: &Server, mut ua: Ua, i: u16, who: &str) -> Phone {
    let media = media_socket(server, i);
    let port = media.local_addr().expect("addr").port();
    let inc = ua
        .wait_invite(STEP)
        .await
        .unwrap_or_else(|| panic!("{who} rings"));
    let to = sdp_media(&inc.invite.body).expect("our address");
    let dialog = ua.answer(&inc, &sdp(port, "sendrecv")).await;
    Phone {
        ua,
        media,
        dialog,
        to,
    }
}

/// A registered phone of extension `ext`.
async fn registered(server: &Server, ext: &str) -> Ua {
    let mut ua = Ua::new(ext, "secret", server.sip_addr()).await;
    assert_eq!(ua.register(300).await.status, Some(200));
    ua
}

/// Agent 1003 places a call (click-to-dial, `POST /api/agents/1003/dial`)
/// to extension 1002: the agent's phone (media port 1) is rung first and
/// answers, then 1002 (media port 0). The call's id (the agent's phone is
/// its leg A), the agent's phone and 1002's.
async fn agent_places_a_call(server: &Server) -> (u64, Phone, Phone) {
    use crate::webrtc::{plain_talk_with, SPEAK};
    use std::time::Duration;
    let agent = registered(server, "1003").await;
    let far = registered(server, "1002").await;
    let dial = server.http_post_later("/api/agents/1003/dial?number=1002");
    let agent = answer_next(server, agent, 1, "the agent's phone").await;
    let (status, body) = dial.await.expect("the dial request");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let id = v["call"].as_u64().expect("the call's id");
    let far = answer_next(server, far, 0, "1002").await;
    // The agent and 1002 talk.
    let d = Duration::from_millis(2000);
    let (a, f) = tokio::join!(
        plain_talk_with(agent.sock(), agent.to, d, SPEAK),
        plain_talk_with(far.sock(), far.to, d, SPEAK)
    );
    assert!(
        a.1 >= 30 && f.1 >= 30,
        "placed call: agent {a:?}, 1002 {f:?}"
    );
    (id, agent, far)
}

/// Waits until a live call is joined to call `id` in `mode` (the joined
/// party answered and took its place); that call's id.
fn wait_joined(server: &Server, id: u64, mode: &str) -> u64 {
    let deadline = Instant::now() + STEP;
    loop {
        let body = server.api_calls();
        let calls: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let joined =
            calls.as_array().into_iter().flatten().find(|c| {
                c["joined"][0].as_u64() == Some(id) && c["joined"][1].as_str() == Some(mode)
            });
        if let Some(c) = joined.and_then(|c| c["id"].as_u64()) {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "nothing joined call {id} in {mode}: {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Whether `ext` is still a party of a live call of its own (one not
/// joined to another: those are the joined parties').
fn on_a_call(server: &Server, ext: &str) -> bool {
    let body = server.api_calls();
    let calls: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    calls.as_array().into_iter().flatten().any(|c| {
        c["joined"].is_null() && (c["caller"] == ext || c["callee"] == ext || c["b_party"] == ext)
    })
}

/// The consult of a call the agent placed: the agent and `mate` hear
/// each other, `far` (who waits) hears neither and is heard by neither.
async fn assert_consulting(agent: &Phone, far: &Phone, mate: &Phone) {
    use crate::webrtc::{plain_talk_with, QUIET, SPEAK};
    let d = std::time::Duration::from_millis(2500);
    let (f, a, m) = tokio::join!(
        plain_talk_with(far.sock(), far.to, d, SPEAK),
        plain_talk_with(agent.sock(), agent.to, d, QUIET),
        plain_talk_with(mate.sock(), mate.to, d, QUIET)
    );
    assert!(
        a.1 <= 5 && m.1 <= 5,
        "consult: the waiting party unheard: agent {a:?}, consulted {m:?}"
    );
    assert!(f.0 >= 40, "the waiting party still gets packets: {f:?}");
    let (f, a, m) = tokio::join!(
        plain_talk_with(far.sock(), far.to, d, QUIET),
        plain_talk_with(agent.sock(), agent.to, d, SPEAK),
        plain_talk_with(mate.sock(), mate.to, d, SPEAK)
    );
    assert!(a.1 >= 40, "consult: the agent hears the consulted: {a:?}");
    assert!(m.1 >= 40, "consult: the consulted hears the agent: {m:?}");
    assert!(f.1 <= 5, "consult: the waiting party hears neither: {f:?}");
}

/// After the hand-over: `x` and `y` hear each other.
async fn assert_talking(x: &Phone, y: &Phone, what: &str) {
    use crate::webrtc::{plain_talk_with, SPEAK};
    let d = std::time::Duration::from_millis(2500);
    let (a, b) = tokio::join!(
        plain_talk_with(x.sock(), x.to, d, SPEAK),
        plain_talk_with(y.sock(), y.to, d, SPEAK)
    );
    assert!(a.1 >= 40 && b.1 >= 40, "{what}: {a:?}, {b:?}");
}

/// The agent places a call from the desk's number (click-to-dial) to
/// 1002, consults colleague 1004 from the desk (Consult), then completes
/// the transfer (Complete transfer): the agent's phone, leg A of its own
/// call, gets BYE and the agent is on no call; 1002 and 1004 talk, each
/// on the dialog it had; 1002's hang-up ends 1004's call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_consults_a_colleague_on_a_call_it_placed_then_hands_it_over() {
    let server = Server::builder("desk_placed_consult")
        .extensions("1000-1009", "secret")
        .start();
    let desk = crate::web_client::Browser::admin(&server);
    let (code, body) = desk.post("/desk/login", "extension=1003&password=secret&phone=desk");
    assert_eq!(code, 200, "{body}");
    let mate = registered(&server, "1004").await;
    let (id, mut agent, mut far) = agent_places_a_call(&server).await;

    // Consult: 1004 is rung and answers; 1002 waits in silence.
    let (code, body) = desk.post("/desk/call/consult", "to=1004");
    assert_eq!(code, 202, "{body}");
    let mut mate = answer_next(&server, mate, 2, "the colleague").await;
    let consult = wait_joined(&server, id, "consult");
    assert_consulting(&agent, &far, &mate).await;

    // Complete: the agent's phone is released, 1002 and 1004 talk.
    let (code, body) = desk.post("/desk/call/complete", "");
    assert_eq!(code, 200, "{body}");
    agent
        .ua
        .expect_request("BYE", &agent.dialog.call_id, "")
        .await;
    assert_talking(&far, &mate, "after: 1002 and 1004").await;
    // The agent is free: the desk finds no call of theirs.
    assert!(!on_a_call(&server, "1003"), "{}", server.api_calls());
    let (code, body) = desk.post("/desk/call/hangup", "");
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("not on a call"), "{body}");
    assert_eq!(wait_joined(&server, id, "conference"), consult);

    // 1002 hangs up on the dialog it had from the start: 1004's call ends.
    assert_eq!(far.ua.bye(&mut far.dialog).await.status, Some(200));
    mate.ua
        .expect_request("BYE", &mate.dialog.call_id, "")
        .await;
    let _ = (&mut agent, &mut mate);
}

/// The agent places a call to 1002 and brings in an outside number as a
/// 3-way party (`join?extension=0555&mode=conference`): it is rung through
/// the gateway as the agent's call out, and all three hear each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_way_with_an_outside_number_through_the_gateway_all_three_hear_each_other() {
    use crate::gateways::{wait_gateway, ROUTES};
    use crate::webrtc::{plain_talk_with, QUIET, SPEAK};
    let server = Server::builder("desk_three_way_out")
        .extensions("1000-1009", "secret")
        .config(ROUTES)
        .start();
    let carrier = outside_carrier(&server).await;
    let (id, mut agent, far) = agent_places_a_call(&server).await;
    // A listen is no way for a number outside to take part.
    let (status, body) = server
        .http_post(&format!("/api/calls/{id}/join?extension=0555&mode=listen"))
        .expect("join");
    assert_eq!(status, 400, "{body}");

    let join = server.http_post_later(&format!(
        "/api/calls/{id}/join?extension=0555&mode=conference"
    ));
    let out = answer_next(&server, carrier, 2, "the carrier").await;
    let (status, body) = join.await.expect("the join request");
    assert_eq!(status, 200, "{body}");
    wait_joined(&server, id, "conference");
    assert_eq!(
        server.metric("switchboard_gateway_calls", "gateway=\"primary\""),
        1.0
    );
    // Each speaks in turn: the other two hear it. The room's queues may
    // hold the first moments back, so a speaker gets a second turn before
    // the verdict (as the queue's 3-way test retries its tones).
    let d = std::time::Duration::from_millis(2500);
    let phones = [
        (&agent, "the agent"),
        (&far, "1002"),
        (&out, "the outside party"),
    ];
    for (i, (_, name)) in phones.iter().enumerate() {
        let byte = |j: usize| if j == i { SPEAK } else { QUIET };
        let mut turns = Vec::new();
        loop {
            let (r0, r1, r2) = tokio::join!(
                plain_talk_with(phones[0].0.sock(), phones[0].0.to, d, byte(0)),
                plain_talk_with(phones[1].0.sock(), phones[1].0.to, d, byte(1)),
                plain_talk_with(phones[2].0.sock(), phones[2].0.to, d, byte(2))
            );
            let heard = [r0, r1, r2];
            let all = (0..3).filter(|&j| j != i).all(|j| heard[j].1 >= 40);
            turns.push(heard);
            if all {
                break;
            }
            assert!(
                turns.len() < 3,
                "3-way: the others never heard {name}: {turns:?} ({:?})",
                phones.map(|p| p.1)
            );
        }
    }
    // The agent hangs up; the gateway's place is given back once the
    // outside party's call is over too.
    assert_eq!(agent.ua.bye(&mut agent.dialog).await.status, Some(200));
    let mut out = out;
    let _ = out.ua.bye(&mut out.dialog).await;
    wait_gateway(&server, "switchboard_gateway_calls", "primary", |v| {
        v == 0.0
    });
}

/// The agent places a call to 1002, consults an outside number through
/// the gateway (`join?extension=0555&mode=consult`, the agent found as the
/// call's placer), then hands 1002 over (`hand_over`): the agent's phone
/// gets BYE, 1002 and the outside party talk, and 1002's hang-up ends the
/// carrier's leg and gives the gateway its place back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_consults_an_outside_number_on_a_call_it_placed_then_hands_it_over() {
    use crate::gateways::{wait_gateway, ROUTES};
    let server = Server::builder("desk_placed_consult_out")
        .extensions("1000-1009", "secret")
        .config(ROUTES)
        .start();
    let carrier = outside_carrier(&server).await;
    let (id, mut agent, mut far) = agent_places_a_call(&server).await;

    let join = server.http_post_later(&format!("/api/calls/{id}/join?extension=0555&mode=consult"));
    let mut out = answer_next(&server, carrier, 2, "the carrier").await;
    let (status, body) = join.await.expect("the join request");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let consult = v["joined"].as_u64().expect("the consultation's id");
    assert_eq!(wait_joined(&server, id, "consult"), consult);
    assert_consulting(&agent, &far, &out).await;

    let (status, body) = server
        .http_post(&format!("/api/calls/{id}/hand_over?with={consult}"))
        .expect("hand over");
    assert_eq!(status, 200, "{body}");
    agent
        .ua
        .expect_request("BYE", &agent.dialog.call_id, "")
        .await;
    assert_talking(&far, &out, "after: 1002 and the outside party").await;
    assert!(!on_a_call(&server, "1003"), "{}", server.api_calls());
    // The agent is no party of the call any more: nothing to hand over.
    let (status, body) = server
        .http_post(&format!(
            "/api/calls/{id}/hand_over?with={consult}&agent=1003"
        ))
        .expect("hand over again");
    assert_eq!(status, 409, "{body}");

    assert_eq!(far.ua.bye(&mut far.dialog).await.status, Some(200));
    out.ua.expect_request("BYE", &out.dialog.call_id, "").await;
    wait_gateway(&server, "switchboard_gateway_calls", "primary", |v| {
        v == 0.0
    });
    let _ = &mut agent;
}
