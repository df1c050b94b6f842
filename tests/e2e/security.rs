//! Attacks on the SIP side, as a stranger on the internet would make them,
//! against the real server: in-dialog requests forged into live calls, digest
//! credentials replayed, the auth ban turned against a victim, floods from a
//! banned source, and unauthenticated INVITEs used as an amplifier. Each test
//! is named after the attack it checks. The attacker is another loopback
//! address (127.0.0.N), which the server sees as another host.

use std::time::{Duration, Instant};

use crate::harness::Server;
use crate::ua::{branch, sdp, token, Dialog, Msg, Ua, STEP};

/// Extension password of the test servers.
const PW: &str = "secret";

/// A registered callee, a caller and an answered call between them.
struct LiveCall {
    caller: Ua,
    callee: Ua,
    /// The caller's leg, as the caller sees it.
    a: Dialog,
    /// The callee's leg, as the callee sees it.
    b: Dialog,
}

async fn live_call(server: &Server) -> LiveCall {
    let mut callee = Ua::new("1001", PW, server.sip_addr()).await;
    assert_eq!(callee.register(300).await.status, Some(200));
    let mut caller = Ua::new("1000", PW, server.sip_addr()).await;
    let offer = sdp(server.ports.media_port(0), "sendrecv");
    let answer = sdp(server.ports.media_port(1), "sendrecv");
    let call = tokio::spawn(async move {
        let (resp, dialog) = caller.invite("1001", &offer).await;
        (caller, resp, dialog)
    });
    let inc = callee
        .wait_invite(STEP)
        .await
        .expect("the callee got no INVITE");
    let b = callee.answer(&inc, &answer).await;
    let (caller, resp, a) = call.await.expect("caller task");
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    LiveCall {
        caller,
        callee,
        a: a.expect("caller dialog"),
        b,
    }
}

/// Replace the `tag=` of a From/To value.
fn with_tag(value: &str, tag: &str) -> String {
    match value.find(";tag=") {
        Some(i) => {
            let rest = &value[i + 5..];
            let end = rest.find(';').map(|j| i + 5 + j).unwrap_or(value.len());
            format!("{};tag={tag}{}", &value[..i], &value[end..])
        }
        None => format!("{value};tag={tag}"),
    }
}

/// `method` in dialog `d`, sent by `attacker` to the server (From/To as in `d`).
async fn forge(attacker: &mut Ua, d: &Dialog, method: &str, cseq: u32, body: &str) -> Msg {
    let req = attacker.request(
        method,
        &d.target,
        &branch(),
        &d.local,
        &d.remote,
        &d.call_id,
        cseq,
        "",
        body,
    );
    attacker.send_raw(req.as_bytes()).await;
    let call_id = d.call_id.clone();
    attacker
        .recv_where(STEP, |m| {
            m.status.is_some() && m.call_id() == call_id && m.cseq().0 == cseq
        })
        .await
        .unwrap_or_else(|| panic!("no answer to the forged {method}"))
}

fn call_state(server: &Server) -> String {
    server.api_calls()
}

#[tokio::test]
async fn attacker_in_dialog_requests_cannot_end_hijack_or_touch_a_live_call() {
    let server = Server::start("sec_dialog");
    let mut call = live_call(&server).await;
    let before = server.metric("switchboard_sip_dialog_rejects_total", "");
    let mut attacker = Ua::new_at("1009", PW, server.sip_addr(), "127.0.0.9").await;

    // A BYE with the right Call-ID and made-up tags.
    let mut forged = call.a.clone();
    forged.local = with_tag(&forged.local, &token());
    forged.remote = with_tag(&forged.remote, &token());
    let r = forge(&mut attacker, &forged, "BYE", 50, "").await;
    assert_eq!(r.status, Some(481), "{}", r.raw);

    // The real tags, sniffed, but from the attacker's address: every method.
    let hijack = sdp(server.ports.media_port(5), "sendrecv");
    for (i, (method, body)) in [
        ("BYE", ""),
        ("INVITE", hijack.as_str()),
        ("UPDATE", ""),
        ("INFO", ""),
    ]
    .into_iter()
    .enumerate()
    {
        let cseq = 60 + i as u32;
        let r = forge(&mut attacker, &call.a, method, cseq, body).await;
        assert_eq!(
            r.status,
            Some(481),
            "{method} on the caller's leg: {}",
            r.raw
        );
        let r = forge(&mut attacker, &call.b, method, cseq + 10, body).await;
        assert_eq!(
            r.status,
            Some(481),
            "{method} on the callee's leg: {}",
            r.raw
        );
    }
    // A forged ACK is dropped without an answer; the call does not care.
    let ack = attacker.dialog_request(&call.a, "ACK", 1, "");
    attacker.send_raw(ack.as_bytes()).await;

    // The call is intact: still answered, and its own parties can end it.
    let calls = call_state(&server);
    assert!(calls.contains("\"answered\""), "{calls}");
    assert!(
        call.callee
            .recv_where(Duration::from_millis(500), |m| m.method.is_some())
            .await
            .is_none(),
        "nothing of the attack reached the callee"
    );
    let bye = call.caller.bye(&mut call.a).await;
    assert_eq!(bye.status, Some(200), "{}", bye.raw);
    let b_call_id = call.b.call_id.clone();
    call.callee.expect_request("BYE", &b_call_id, "").await;
    let after = server.metric("switchboard_sip_dialog_rejects_total", "");
    assert!(after >= before + 9.0, "dialog rejects {before} -> {after}");
}

#[tokio::test]
async fn attacker_cancel_with_the_callers_branch_cannot_end_a_ringing_call() {
    let server = Server::start("sec_cancel");
    let mut callee = Ua::new("1001", PW, server.sip_addr()).await;
    assert_eq!(callee.register(300).await.status, Some(200));
    let mut caller = Ua::new("1000", PW, server.sip_addr()).await;
    let uri = format!("sip:1001@{}", server.sip_addr());
    let call_id = token();
    let from = format!("<sip:1000@127.0.0.1>;tag={}", token());
    let to = "<sip:1001@127.0.0.1>".to_string();
    let offer = sdp(server.ports.media_port(0), "sendrecv");
    let b1 = branch();
    let invite = caller.request("INVITE", &uri, &b1, &from, &to, &call_id, 1, "", &offer);
    caller.send_raw(invite.as_bytes()).await;
    let challenge = caller
        .recv_where(STEP, |m| m.status == Some(407))
        .await
        .expect("407");
    let auth = caller.authorization(&challenge, "INVITE", &uri);
    let b2 = branch();
    let invite = caller.request("INVITE", &uri, &b2, &from, &to, &call_id, 2, &auth, &offer);
    caller.send_raw(invite.as_bytes()).await;
    let inc = callee.wait_invite(STEP).await.expect("the callee rings");

    // The attacker copies the INVITE's Via (branch and sent-by) into a CANCEL.
    let mut attacker = Ua::new_at("1009", PW, server.sip_addr(), "127.0.0.9").await;
    let cancel = format!(
        "CANCEL {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={b2};rport\r\nMax-Forwards: 70\r\n\
         From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 2 CANCEL\r\nContent-Length: 0\r\n\r\n",
        caller.addr
    );
    attacker.send_raw(cancel.as_bytes()).await;
    let r = attacker
        .recv_where(STEP, |m| m.status.is_some())
        .await
        .expect("an answer to the forged CANCEL");
    assert_eq!(r.status, Some(481), "{}", r.raw);

    // Still ringing: the callee answers and the caller gets the 200.
    let answer = sdp(server.ports.media_port(1), "sendrecv");
    let _b = callee.answer(&inc, &answer).await;
    let ok = caller
        .recv_where(STEP, |m| m.status == Some(200) && m.call_id() == call_id)
        .await
        .expect("the caller's 200");
    assert!(ok.to_tag().is_some());
    // The caller's own CANCEL would have worked: checked by calls::cancel tests.
}

#[tokio::test]
async fn attacker_requests_to_the_trunk_port_from_outside_the_acl_are_refused() {
    let server = Server::builder("sec_trunk_acl")
        .extensions("1000-1009", PW)
        .config("[trunk]\nacl = [\"127.0.0.2/32\"]")
        .start();
    let mut stranger = Ua::new("0215550123", "", server.trunk_addr()).await;
    let before = server.metric("switchboard_acl_rejects_total", "");
    for method in ["BYE", "INFO", "OPTIONS", "INVITE", "UPDATE"] {
        let d = Dialog {
            call_id: token(),
            local: format!("<sip:0215550123@127.0.0.1>;tag={}", token()),
            remote: format!("<sip:1001@127.0.0.1>;tag={}", token()),
            target: format!("sip:1001@{}", server.trunk_addr()),
            route: Vec::new(),
            cseq: 1,
            remote_sdp: String::new(),
        };
        let r = forge(&mut stranger, &d, method, 1, "").await;
        assert_eq!(r.status, Some(403), "{method}: {}", r.raw);
    }
    let after = server.metric("switchboard_acl_rejects_total", "");
    assert!(after >= before + 5.0, "{before} -> {after}");
}

/// A REGISTER for `ua`'s user with `auth` (an Authorization header line).
fn register_text(ua: &Ua, call_id: &str, cseq: u32, auth: &str) -> String {
    register_for(ua, &ua.user, call_id, cseq, auth)
}

/// A REGISTER for `user`, sent from `ua`'s socket.
fn register_for(ua: &Ua, user: &str, call_id: &str, cseq: u32, auth: &str) -> String {
    let uri = format!("sip:{}", ua.server);
    let from = format!("<sip:{user}@{}>;tag={}", ua.server.ip(), token());
    let to = format!("<sip:{user}@{}>", ua.server.ip());
    let extra = format!("Expires: 300\r\n{auth}");
    ua.request(
        "REGISTER",
        &uri,
        &branch(),
        &from,
        &to,
        call_id,
        cseq,
        &extra,
        "",
    )
}

async fn answer_of(ua: &mut Ua, call_id: &str, cseq: u32) -> Msg {
    let cid = call_id.to_string();
    ua.recv_where(STEP, |m| {
        m.status.is_some() && m.call_id() == cid && m.cseq().0 == cseq
    })
    .await
    .unwrap_or_else(|| panic!("no answer to CSeq {cseq}"))
}

/// Registers `ua` by hand; returns the Authorization line it used and the
/// authenticated REGISTER as sent.
async fn register_by_hand(ua: &mut Ua, call_id: &str) -> (String, String) {
    ua.send_raw(register_text(ua, call_id, 1, "").as_bytes())
        .await;
    let challenge = answer_of(ua, call_id, 1).await;
    assert_eq!(challenge.status, Some(401), "{}", challenge.raw);
    let uri = format!("sip:{}", ua.server);
    let auth = ua.authorization(&challenge, "REGISTER", &uri);
    let text = register_text(ua, call_id, 2, &auth);
    ua.send_raw(text.as_bytes()).await;
    let ok = answer_of(ua, call_id, 2).await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
    (auth, text)
}

#[tokio::test]
async fn attacker_replaying_digest_credentials_is_refused() {
    let server = Server::start("sec_replay");
    let mut phone = Ua::new("1001", PW, server.sip_addr()).await;
    let call_id = token();
    let (auth, sent) = register_by_hand(&mut phone, &call_id).await;
    let replays = server.metric("switchboard_auth_replays_total", "");

    // A UDP retransmission of that very REGISTER (our 200 was lost, say) is
    // the same request, not a replay: it gets its 200 again.
    phone.send_raw(sent.as_bytes()).await;
    let again = answer_of(&mut phone, &call_id, 2).await;
    assert_eq!(again.status, Some(200), "{}", again.raw);

    // Captured on the way and replayed from another address: the nonce was
    // issued to the phone's address.
    let mut attacker = Ua::new_at("1001", "", server.sip_addr(), "127.0.0.7").await;
    attacker
        .send_raw(register_text(&attacker, &call_id, 3, &auth).as_bytes())
        .await;
    let r = answer_of(&mut attacker, &call_id, 3).await;
    assert_eq!(r.status, Some(403), "{}", r.raw);
    let regs = server
        .http_get("/api/registrations")
        .expect("registrations");
    assert!(
        !regs.1.contains("127.0.0.7"),
        "the attacker got a binding: {}",
        regs.1
    );

    // Replayed from the phone's own address (same nonce count): re-challenged.
    phone
        .send_raw(register_text(&phone, &call_id, 4, &auth).as_bytes())
        .await;
    let r = answer_of(&mut phone, &call_id, 4).await;
    assert_eq!(r.status, Some(401), "{}", r.raw);
    assert!(
        r.header("WWW-Authenticate")
            .is_some_and(|v| v.to_ascii_lowercase().contains("stale=true")),
        "{}",
        r.raw
    );
    let after = server.metric("switchboard_auth_replays_total", "");
    assert!(after > replays, "replays {replays} -> {after}");
}

#[tokio::test]
async fn attacker_using_credentials_computed_for_another_uri_is_refused() {
    let server = Server::start("sec_digest_uri");
    let mut phone = Ua::new("1000", PW, server.sip_addr()).await;
    let call_id = token();
    let from = format!("<sip:1000@127.0.0.1>;tag={}", token());
    let uri_1001 = format!("sip:1001@{}", server.sip_addr());
    let uri_echo = format!("sip:9196@{}", server.sip_addr());
    let to = "<sip:9196@127.0.0.1>".to_string();
    let offer = sdp(server.ports.media_port(0), "sendrecv");
    let invite = phone.request(
        "INVITE",
        &uri_echo,
        &branch(),
        &from,
        &to,
        &call_id,
        1,
        "",
        &offer,
    );
    phone.send_raw(invite.as_bytes()).await;
    let challenge = answer_of(&mut phone, &call_id, 1).await;
    assert_eq!(challenge.status, Some(407), "{}", challenge.raw);
    // Proxy-Authorization computed for sip:1001, used on an INVITE to 9196.
    let auth = phone.authorization(&challenge, "INVITE", &uri_1001);
    let invite = phone.request(
        "INVITE",
        &uri_echo,
        &branch(),
        &from,
        &to,
        &call_id,
        2,
        &auth,
        &offer,
    );
    phone.send_raw(invite.as_bytes()).await;
    let r = answer_of(&mut phone, &call_id, 2).await;
    assert_eq!(r.status, Some(403), "{}", r.raw);
    assert!(r.raw.contains("Digest URI Mismatch"), "{}", r.raw);
}

/// A server with extensions 1000-1009 that bans an address after `limit`
/// failures for `secs` seconds.
fn banning_server(name: &str, limit: u32, secs: u64) -> Server {
    Server::builder(name)
        .extensions("1000-1009", PW)
        .config(&format!(
            "[sip]\nauth_fail_limit = {limit}\nauth_ban_secs = {secs}"
        ))
        .start()
}

/// A REGISTER for 1001 whose Authorization carries a nonce the server never
/// issued to this address: what a forger of source addresses can send.
fn forged_register(ua: &Ua, realm: &str) -> String {
    let nonce: String = (0..64)
        .map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)]))
        .collect();
    let auth = format!(
        "Authorization: Digest username=\"1001\", realm=\"{realm}\", nonce=\"{nonce}\", \
         uri=\"sip:{}\", response=\"{}\", algorithm=MD5\r\n",
        ua.server,
        "0".repeat(32)
    );
    register_text(ua, &token(), 1, &auth)
}

fn realm_of(challenge: &Msg) -> String {
    let v = challenge.header("WWW-Authenticate").unwrap_or("");
    sip::auth::Challenge::parse(v)
        .map(|c| c.realm)
        .unwrap_or_default()
}

#[tokio::test]
async fn attacker_spoofing_a_victims_address_cannot_get_it_banned() {
    let server = banning_server("sec_spoof_ban", 3, 300);
    // The "victim" registers from 127.0.0.3; the attacker sends from the same
    // address (another port) but, like a spoofer, never saw a challenge.
    let mut victim = Ua::new_at("1001", PW, server.sip_addr(), "127.0.0.3").await;
    let probe = victim.transact("OPTIONS", "1001", "").await;
    assert_eq!(probe.status, Some(200));
    let first = victim.register(300).await;
    assert_eq!(first.status, Some(200), "{}", first.raw);
    let mut spoofer = Ua::new_at("1001", "", server.sip_addr(), "127.0.0.3").await;
    let challenge = {
        let call_id = token();
        spoofer
            .send_raw(register_text(&spoofer, &call_id, 1, "").as_bytes())
            .await;
        answer_of(&mut spoofer, &call_id, 1).await
    };
    let realm = realm_of(&challenge);
    for _ in 0..30 {
        spoofer
            .send_raw(forged_register(&spoofer, &realm).as_bytes())
            .await;
    }
    server.wait_metric(
        "switchboard_auth_failures_total",
        "",
        |v| v >= 30.0,
        Duration::from_secs(20),
    );
    assert_eq!(server.metric("switchboard_auth_banned_sources", ""), 0.0);
    let again = victim.register(300).await;
    assert_eq!(
        again.status,
        Some(200),
        "the victim was banned: {}",
        again.raw
    );
}

/// A wrong-password REGISTER for `user` from `ua`'s socket, answering a
/// real challenge (so the source is proven to receive): a password guess.
async fn wrong_password(ua: &mut Ua, user: &str) -> Msg {
    let call_id = token();
    ua.send_raw(register_for(ua, user, &call_id, 1, "").as_bytes())
        .await;
    let ch = answer_of(ua, &call_id, 1).await;
    assert_eq!(ch.status, Some(401), "{}", ch.raw);
    let uri = format!("sip:{}", ua.server);
    let guess = Ua::new(user, "wrong-password", ua.server).await;
    let auth = guess.authorization(&ch, "REGISTER", &uri);
    ua.send_raw(register_for(ua, user, &call_id, 2, &auth).as_bytes())
        .await;
    answer_of(ua, &call_id, 2).await
}

#[tokio::test]
async fn attacker_cannot_reset_its_ban_count_by_signing_in_to_another_account() {
    let server = banning_server("sec_ban_reset", 3, 300);
    // The attacker owns 1002 and guesses at 1001.
    let mut attacker = Ua::new_at("1002", PW, server.sip_addr(), "127.0.0.4").await;
    for _ in 0..2 {
        let r = wrong_password(&mut attacker, "1001").await;
        assert_eq!(r.status, Some(403), "{}", r.raw);
        assert_eq!(attacker.register(300).await.status, Some(200));
    }
    let r = wrong_password(&mut attacker, "1001").await;
    assert_eq!(r.status, Some(403), "{}", r.raw);
    // Third failure for 1001: banned, whatever 1002's successes in between.
    attacker
        .send_raw(register_text(&attacker, &token(), 1, "").as_bytes())
        .await;
    assert!(
        attacker
            .recv_where(Duration::from_secs(2), |m| m.status.is_some())
            .await
            .is_none(),
        "a banned source was answered"
    );
    assert_eq!(server.metric("switchboard_auth_banned_sources", ""), 1.0);
    // Someone else, elsewhere, is not affected.
    let mut other = Ua::new("1001", PW, server.sip_addr()).await;
    assert_eq!(other.register(300).await.status, Some(200));
}

/// Resident memory of the server, KiB.
fn rss_kib(server: &Server) -> u64 {
    let pid = server.pid().expect("server running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn attacker_flooding_while_banned_gets_nothing_and_leaves_no_state() {
    let server = banning_server("sec_banned_flood", 2, 5);
    let mut attacker = Ua::new_at("1002", PW, server.sip_addr(), "127.0.0.5").await;
    for _ in 0..2 {
        wrong_password(&mut attacker, "1001").await;
    }
    assert_eq!(server.metric("switchboard_auth_banned_sources", ""), 1.0);
    let rss_before = rss_kib(&server);
    let banned_at = Instant::now();

    // A flood of OPTIONS and INVITEs while banned.
    let during = token();
    let mut sent = 0;
    for i in 0..20_000u32 {
        let method = if i % 2 == 0 { "OPTIONS" } else { "INVITE" };
        let call_id = if i == 0 { during.clone() } else { token() };
        let req = attacker.request(
            method,
            &format!("sip:1001@{}", server.sip_addr()),
            &branch(),
            &format!("<sip:1002@127.0.0.1>;tag={}", token()),
            "<sip:1001@127.0.0.1>",
            &call_id,
            1,
            "",
            "",
        );
        attacker.send_raw(req.as_bytes()).await;
        sent += 1;
        if i % 500 == 0 {
            tokio::task::yield_now().await;
        }
    }
    server.wait_metric(
        "switchboard_auth_banned_drops_total",
        "",
        |v| v >= 1000.0,
        Duration::from_secs(20),
    );
    assert!(
        attacker
            .recv_where(Duration::from_secs(1), |m| m.status.is_some())
            .await
            .is_none(),
        "a banned source got an answer (a 100 Trying?)"
    );
    let live = server.metric("switchboard_sip_transactions", "");
    assert!(
        live < 10.0,
        "{live} transactions left by {sent} dropped requests"
    );
    let rss_after = rss_kib(&server);
    assert!(
        rss_after < rss_before + 30 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );

    // After the ban: a new request is answered, and nothing sent during the
    // ban is answered late.
    let wait = Duration::from_secs(6).saturating_sub(banned_at.elapsed());
    tokio::time::sleep(wait).await;
    let r = attacker.transact("OPTIONS", "1001", "").await;
    assert_eq!(r.status, Some(200), "{}", r.raw);
    assert!(
        attacker
            .recv_where(Duration::from_secs(2), |m| m.call_id() == during)
            .await
            .is_none(),
        "a request sent during the ban was answered after it"
    );
}

#[tokio::test]
async fn attacker_unauthenticated_invite_draws_exactly_one_407() {
    let server = Server::start("sec_amplify");
    let mut stranger = Ua::new_at("1000", "", server.sip_addr(), "127.0.0.6").await;
    let call_id = token();
    let invite = stranger.request(
        "INVITE",
        &format!("sip:1001@{}", server.sip_addr()),
        &branch(),
        &format!("<sip:1000@127.0.0.1>;tag={}", token()),
        "<sip:1001@127.0.0.1>",
        &call_id,
        1,
        "",
        &sdp(server.ports.media_port(0), "sendrecv"),
    );
    stranger.send_raw(invite.as_bytes()).await;
    // Never ACKed: a transaction would retransmit its 407 eleven times in 32 s
    // (at 0.5, 1.5, 3.5, 7.5 s, ...); wait past the first four.
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut answers = Vec::new();
    while let Some(m) = stranger
        .recv(deadline.saturating_duration_since(Instant::now()))
        .await
    {
        answers.push(m);
    }
    let codes: Vec<_> = answers.iter().map(|m| m.status).collect();
    assert_eq!(codes, vec![Some(407)], "{answers:#?}");
    assert_eq!(server.metric("switchboard_sip_transactions", ""), 0.0);
}
