//! Calls between SIPp instances registered as extensions, through the B2BUA:
//! answered calls with CDRs, CANCEL, BYE from the callee, 404/480/486, no answer,
//! hold re-INVITEs, the external (trunk) profile.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::harness::{free_udp_port, Server};
use crate::registrar::sipp_register;
use crate::sipp::{Sipp, SippProcess};

/// Waits until something (SIPp) has bound UDP `port` on 127.0.0.1, so the
/// server's first INVITE does not hit a closed port.
pub fn wait_bound(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "nothing bound port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Registers `user` with SIPp, then starts SIPp `scenario` as that user's phone on
/// the registered port, with media on `media_ip`:`media_port`.
pub async fn callee(
    server: &Server,
    user: &str,
    scenario: &str,
    media_ip: &str,
    media_port: u16,
    pause_ms: u64,
) -> SippProcess {
    let port = free_udp_port();
    sipp_register(server, user, port).await;
    let uas = Sipp::new(&format!("uas-{scenario}"), scenario)
        .port(port)
        .media(media_ip, media_port)
        .pause_ms(pause_ms)
        .rtp_echo()
        .spawn();
    wait_bound(port);
    uas
}

/// A SIPp caller: extension 1000 dialling `number` with `scenario`.
pub fn caller(server: &Server, scenario: &str, number: &str, media_port: u16) -> Sipp {
    Sipp::new(&format!("uac-{scenario}"), scenario)
        .remote(server.sip_addr())
        .users(&[("1000", "secret")])
        .service(number)
        .media("127.0.0.1", media_port)
}

/// The newest CDR, after waiting for `n` to be stored.
async fn newest_cdr(server: &Server, n: i64) -> store::Cdr {
    server.wait_cdrs(n).await.remove(0)
}

#[tokio::test]
async fn sipp_call_through_server_is_answered_and_writes_cdr() {
    let server = Server::start("call_answered");
    let uas = callee(
        &server,
        "1001",
        "uas_answer",
        "127.0.0.1",
        server.ports.media_port(0),
        0,
    )
    .await;
    caller(&server, "uac_call", "1001", server.ports.media_port(1))
        .pause_ms(1000)
        .run()
        .await
        .assert_success(1);
    uas.wait().await.assert_success(1);

    let cdr = newest_cdr(&server, 1).await;
    assert_eq!(cdr.caller, "1000", "{cdr:?}");
    assert_eq!(cdr.callee, "1001", "{cdr:?}");
    assert_eq!(cdr.direction, "internal", "{cdr:?}");
    assert_eq!(cdr.sip_code, 200, "{cdr:?}");
    assert_eq!(cdr.hangup_by, "caller", "{cdr:?}");
    let answer = cdr.answer_at.expect("answered call without answer_at");
    assert!(cdr.start_at <= answer && answer <= cdr.end_at, "{cdr:?}");
    // talk_secs is the answered span in whole seconds (rounding either way).
    let span = (cdr.end_at - answer) as f64 / 1000.0;
    assert!(
        (cdr.talk_secs as f64 - span).abs() <= 1.0,
        "talk_secs {} for {span} s: {cdr:?}",
        cdr.talk_secs
    );
    assert!(!cdr.call_id.is_empty(), "{cdr:?}");

    let calls = server.metric("switchboard_calls_total", "");
    assert!(calls >= 1.0, "switchboard_calls_total = {calls}");
    let active = server.wait_metric(
        "switchboard_active_calls",
        "",
        |v| v == 0.0,
        Duration::from_secs(10),
    );
    assert_eq!(active, 0.0);
}

#[tokio::test]
async fn sipp_calls_back_to_back_each_get_a_cdr() {
    let server = Server::start("call_many");
    let uas_port = free_udp_port();
    sipp_register(&server, "1001", uas_port).await;
    let uas = Sipp::new("uas-many", "uas_answer")
        .port(uas_port)
        .media("127.0.0.1", server.ports.media_port(0))
        .calls(10)
        .spawn();
    wait_bound(uas_port);
    caller(&server, "uac_call", "1001", server.ports.media_port(1))
        .users(&[("1000", "secret"), ("1002", "secret")])
        .calls(10)
        .rate(20.0)
        .pause_ms(100)
        .run()
        .await
        .assert_success(10);
    uas.wait().await.assert_success(10);
    let cdrs = server.wait_cdrs(10).await;
    assert_eq!(cdrs.len(), 10);
    assert!(cdrs.iter().all(|c| c.sip_code == 200), "{cdrs:?}");
    // Each leg has its own Call-ID: the CDR keeps the caller's, all distinct.
    let mut ids: Vec<&str> = cdrs.iter().map(|c| c.call_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    assert!(cdrs.iter().any(|c| c.caller == "1002"), "{cdrs:?}");
}

#[tokio::test]
async fn cancel_before_answer_gives_487_and_cancelled_cdr() {
    let server = Server::start("call_cancel");
    let uas = callee(
        &server,
        "1001",
        "uas_ring",
        "127.0.0.1",
        server.ports.media_port(0),
        0,
    )
    .await;
    caller(&server, "uac_cancel", "1001", server.ports.media_port(1))
        .run()
        .await
        .assert_success(1);
    // The callee got the CANCEL from the server and answered it with 487.
    uas.wait().await.assert_success(1);
    let cdr = newest_cdr(&server, 1).await;
    assert_eq!(cdr.answer_at, None, "{cdr:?}");
    assert_eq!(cdr.talk_secs, 0, "{cdr:?}");
    assert_eq!(cdr.sip_code, 487, "{cdr:?}");
    assert!(
        cdr.hangup_cause.to_ascii_lowercase().contains("cancel"),
        "{cdr:?}"
    );
    assert_eq!(cdr.hangup_by, "caller", "{cdr:?}");
}

#[tokio::test]
async fn bye_from_callee_ends_call_and_cdr_says_callee() {
    let server = Server::start("call_callee_bye");
    let uas = callee(
        &server,
        "1001",
        "uas_bye",
        "127.0.0.1",
        server.ports.media_port(0),
        500,
    )
    .await;
    caller(&server, "uac_wait_bye", "1001", server.ports.media_port(1))
        .run()
        .await
        .assert_success(1);
    uas.wait().await.assert_success(1);
    let cdr = newest_cdr(&server, 1).await;
    assert_eq!(cdr.hangup_by, "callee", "{cdr:?}");
    assert_eq!(cdr.sip_code, 200, "{cdr:?}");
    assert!(cdr.answer_at.is_some(), "{cdr:?}");
}

#[tokio::test]
async fn unknown_extension_gets_404() {
    let server = Server::start("call_404");
    caller(&server, "uac_404", "1099", server.ports.media_port(1))
        .run()
        .await
        .assert_success(1);
}

#[tokio::test]
async fn unregistered_extension_gets_480() {
    let server = Server::start("call_480");
    caller(&server, "uac_480", "1002", server.ports.media_port(1))
        .run()
        .await
        .assert_success(1);
}

#[tokio::test]
async fn busy_callee_486_is_relayed_to_caller() {
    let server = Server::start("call_486");
    let uas = callee(
        &server,
        "1001",
        "uas_busy",
        "127.0.0.1",
        server.ports.media_port(0),
        0,
    )
    .await;
    caller(&server, "uac_486", "1001", server.ports.media_port(1))
        .run()
        .await
        .assert_success(1);
    uas.wait().await.assert_success(1);
    let cdr = newest_cdr(&server, 1).await;
    assert_eq!(cdr.sip_code, 486, "{cdr:?}");
    assert!(cdr.answer_at.is_none(), "{cdr:?}");
}

#[tokio::test]
async fn no_answer_timeout_cancels_callee_and_fails_caller() {
    let server = Server::builder("call_no_answer")
        .extensions("1000-1009", "secret")
        .config("[calls]\nno_answer_secs = 2")
        .start();
    let uas = callee(
        &server,
        "1001",
        "uas_ring",
        "127.0.0.1",
        server.ports.media_port(0),
        0,
    )
    .await;
    caller(&server, "uac_no_answer", "1001", server.ports.media_port(1))
        .run()
        .await
        .assert_success(1);
    uas.wait().await.assert_success(1);
    let cdr = newest_cdr(&server, 1).await;
    assert!(matches!(cdr.sip_code, 408 | 480), "{cdr:?}");
    assert_eq!(cdr.hangup_by, "system", "{cdr:?}");
}

#[tokio::test]
async fn hold_and_unhold_reinvites_pass_through_with_sdp_rewritten() {
    let server = Server::start("call_hold");
    // Peers advertise media on 127.0.0.3; the scenarios check that what reaches
    // the other side says 127.0.0.1 (the server) instead.
    let uas = callee(
        &server,
        "1001",
        "uas_hold",
        "127.0.0.3",
        server.ports.media_port(0),
        0,
    )
    .await;
    Sipp::new("uac-hold", "uac_hold")
        .remote(server.sip_addr())
        .users(&[("1000", "secret")])
        .service("1001")
        .media("127.0.0.3", server.ports.media_port(1))
        .pause_ms(300)
        .run()
        .await
        .assert_success(1);
    uas.wait().await.assert_success(1);
    let cdr = newest_cdr(&server, 1).await;
    assert_eq!(cdr.sip_code, 200, "{cdr:?}");
}

#[tokio::test]
async fn trunk_call_from_acl_address_reaches_extension() {
    // The peer sends from 127.0.0.2, the only address in the ACL.
    let server = Server::builder("trunk_call")
        .extensions("1000-1009", "secret")
        .config("[trunk]\nacl = [\"127.0.0.2/32\"]")
        .start();
    let uas = callee(
        &server,
        "1001",
        "uas_answer",
        "127.0.0.1",
        server.ports.media_port(0),
        0,
    )
    .await;
    Sipp::new("uac-trunk", "uac_trunk")
        .remote(server.trunk_addr())
        .local_ip("127.0.0.2")
        .users(&[("0215550123", "")])
        .service("1001")
        .media("127.0.0.1", server.ports.media_port(1))
        .pause_ms(300)
        .run()
        .await
        .assert_success(1);
    uas.wait().await.assert_success(1);
    let cdr = newest_cdr(&server, 1).await;
    assert_eq!(cdr.direction, "inbound", "{cdr:?}");
    assert_eq!(cdr.callee, "1001", "{cdr:?}");
    assert_eq!(cdr.sip_code, 200, "{cdr:?}");
}

#[tokio::test]
async fn trunk_invite_from_outside_acl_gets_403() {
    // The peer sends from 127.0.0.1, outside the ACL.
    let server = Server::builder("trunk_acl")
        .extensions("1000-1009", "secret")
        .config("[trunk]\nacl = [\"127.0.0.2/32\"]")
        .start();
    Sipp::new("uac-trunk-403", "uac_trunk_403")
        .remote(server.trunk_addr())
        .users(&[("0215550123", "")])
        .service("1001")
        .media("127.0.0.1", server.ports.media_port(1))
        .run()
        .await
        .assert_success(1);
}

#[tokio::test]
async fn sipp_caller_over_tcp_reaches_udp_callee() {
    let server = Server::start("call_tcp");
    let uas = callee(
        &server,
        "1001",
        "uas_answer",
        "127.0.0.1",
        server.ports.media_port(0),
        0,
    )
    .await;
    caller(&server, "uac_call", "1001", server.ports.media_port(1))
        .arg("-t")
        .arg("t1")
        .pause_ms(300)
        .run()
        .await
        .assert_success(1);
    uas.wait().await.assert_success(1);
    let cdr = newest_cdr(&server, 1).await;
    assert_eq!(cdr.sip_code, 200, "{cdr:?}");
    assert_eq!(cdr.hangup_by, "caller", "{cdr:?}");
}
