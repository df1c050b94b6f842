//! Gateways end to end (issue 14) with SIPp playing the carrier: a UNI
//! gateway registering with digest and refreshing before expiry, a wrong
//! password failing without a retry storm, a call out through an outbound
//! rule whose INVITE the carrier challenges and whose P-Asserted-Identity
//! carries a number-pool number, failover from a gateway answering 503 to
//! the next, a call from an NNI peer reaching an extension by DID, an
//! INVITE from an address that is no gateway's refused with 403, an
//! extension without "allow outbound" refused, an IVR's external number and
//! a forwarded DID leaving through the gateway, an IMS core's Service-Route
//! followed, a carrier that never answers shown FAILED with calls refused
//! at once, the toll-fraud guard, random demo passwords, and Kamailio as a
//! real carrier both ways.

use std::time::Duration;

use callcenter::gateway::config::{Gateway, IdentityHeader, Mode};

use crate::harness::{free_udp_port, Server};
use crate::sipp::Sipp;
use crate::ua::{sdp, Rtp, Ua, STEP};

/// No trunk ACL: only gateways' addresses may use the trunk port.
/// "out": `0` then a number leaves through gateway "primary" (then
/// "backup"), the 0 stripped; "did": 62620668 from a trunk reaches 1001.
pub(crate) const ROUTES: &str = r#"
[trunk]
acl = []

[[callcenter.routes]]
name = "out"
pattern = '^0(\d+)$'
[callcenter.routes.kind]
type = "outbound"
gateways = ["primary", "backup"]
strip_digits = 1
timeout_secs = 30
record = true

[[callcenter.routes]]
name = "did"
pattern = "62620668"
kind = { type = "inbound", target = "1001" }
"#;

fn start(name: &str) -> Server {
    Server::builder(name)
        .extensions("1000-1002", "secret")
        .config(ROUTES)
        .start()
}

/// A gateway named `name` of `mode` at 127.0.0.1:`port`.
pub(crate) fn gateway(name: &str, mode: Mode, port: u16) -> Gateway {
    let mut g = Gateway::new(name, mode, "127.0.0.1");
    g.port = port;
    g.realm = "carrier.test".into();
    g
}

pub(crate) async fn add_gateway(server: &Server, g: &Gateway) {
    server
        .store()
        .await
        .add_gateway(g)
        .await
        .unwrap_or_else(|e| panic!("adding gateway {}: {e}", g.name));
}

/// Registers extension 1001, runs `caller` (a SIPp carrier calling in)
/// and has 1001 answer its call; the carrier's run must succeed.
async fn answered_by_1001(server: &Server, caller: Sipp) {
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let answering = async {
        let inc = callee.wait_invite(STEP).await.expect("1001 rings");
        callee.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await
    };
    let (result, _) = tokio::join!(caller.run(), answering);
    result.assert_success(1);
}

/// Waits until `/metrics` says `metric{gateway="name"}` satisfies `pred`.
pub(crate) fn wait_gateway(
    server: &Server,
    metric: &str,
    name: &str,
    pred: impl Fn(f64) -> bool,
) -> f64 {
    let labels = format!("gateway=\"{name}\"");
    server.wait_metric(metric, &labels, pred, Duration::from_secs(20))
}

#[tokio::test]
async fn a_uni_gateway_registers_with_digest_and_refreshes_before_expiry() {
    let server = start("gw_register");
    let port = free_udp_port();
    // Grants 20 s: the refresh comes half-way, within the run.
    let carrier = Sipp::new("gw_register", "carrier_register")
        .port(port)
        .key("user", "02150001")
        .key("password", "carrier-pw")
        .key("expires", "20")
        .spawn();
    let mut g = gateway("carrier", Mode::Uni, port);
    g.username = "02150001".into();
    g.password = "carrier-pw".into();
    g.expire_secs = 120;
    add_gateway(&server, &g).await;
    let reged = wait_gateway(&server, "switchboard_gateway_registered", "carrier", |v| {
        v == 1.0
    });
    assert_eq!(reged, 1.0, "{}", server.log_tail(40));
    // Both rounds (challenge, credentials) passed the carrier's checks.
    carrier.wait().await.assert_success(1);
    assert!(
        server.metric(
            "switchboard_gateway_registers_sent_total",
            "gateway=\"carrier\""
        ) >= 4.0,
        "{}",
        server.metrics_text()
    );
    assert_eq!(
        server.metric("switchboard_gateway_registered", "gateway=\"carrier\""),
        1.0
    );
    // The status API and page say so (3.2.8).
    let (code, body) = server
        .http_get("/api/gateways/status")
        .expect("GET /api/gateways/status");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let gw = &v["gateways"][0];
    assert_eq!(
        (
            gw["name"].as_str(),
            gw["state"].as_str(),
            gw["usable"].as_bool()
        ),
        (Some("carrier"), Some("REGED"), Some(true)),
        "{body}"
    );
    assert_eq!(gw["granted_expires"].as_u64(), Some(20), "{body}");
    assert_eq!(gw["last_response"].as_str(), Some("200 OK"), "{body}");
}

#[tokio::test]
async fn a_wrong_password_fails_with_the_reason_and_waits_before_retrying() {
    let server = start("gw_wrong_password");
    let port = free_udp_port();
    // The carrier expects another password: our answer gets 403.
    let carrier = Sipp::new("gw_wrong_password", "carrier_register")
        .port(port)
        .key("user", "02150001")
        .key("password", "the-right-one")
        .key("expires", "60")
        .spawn();
    let mut g = gateway("carrier", Mode::Uni, port);
    g.username = "02150001".into();
    g.password = "wrong".into();
    g.retry_secs = 30;
    add_gateway(&server, &g).await;
    let result = carrier.wait().await;
    assert_eq!(result.failed, 1, "the carrier saw our wrong answer");
    // FAILED, said in the log with the carrier's answer, and no retry storm:
    // two REGISTERs (the challenge, our answer), the next only after 30 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server.log().contains("gateway carrier: FAILED") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            server.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server.log().contains("403"), "{}", server.log_tail(30));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        server.metric(
            "switchboard_gateway_registers_sent_total",
            "gateway=\"carrier\""
        ),
        2.0
    );
    assert_eq!(
        server.metric("switchboard_gateway_up", "gateway=\"carrier\""),
        0.0
    );
}

/// Gives extension `number` these outside caller-ID numbers.
async fn set_caller_ids(server: &Server, number: &str, ids: &str) {
    let store = server.store().await;
    let mut ext = store
        .get_extension(number)
        .await
        .expect("read extension")
        .expect("extension exists");
    ext.caller_ids = ids.into();
    store
        .update_extension(&ext)
        .await
        .expect("update extension");
}

#[tokio::test]
async fn a_call_out_is_challenged_by_the_carrier_and_carries_a_pool_number() {
    let server = start("gw_call_out");
    let port = free_udp_port();
    let carrier = Sipp::new("gw_call_out", "carrier_call")
        .port(port)
        .media("127.0.0.1", server.ports.media_port(5))
        .key("user", "trunkuser")
        .key("password", "trunk-pw")
        .spawn();
    let mut g = gateway("primary", Mode::Nni, port);
    g.username = "trunkuser".into();
    g.password = "trunk-pw".into();
    g.add_prefix = "+86".into();
    g.identity = IdentityHeader::Pai;
    // Settings changes apply in order: the extension's pool numbers are in
    // force once the gateway added after them is up.
    set_caller_ids(&server, "1000", "8862000001,8862000002").await;
    add_gateway(&server, &g).await;
    wait_gateway(&server, "switchboard_gateway_up", "primary", |v| v == 1.0);

    let mut phone = Ua::new("1000", "secret", server.sip_addr()).await;
    let rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = phone.invite("099123456", &sdp(rtp.port, "sendrecv")).await;
    assert_eq!(
        resp.status,
        Some(200),
        "{}\n{}",
        resp.raw,
        server.log_tail(30)
    );
    let mut dialog = dialog.expect("dialog");
    assert_eq!(
        server.metric("switchboard_gateway_calls", "gateway=\"primary\""),
        1.0
    );
    assert_eq!(phone.bye(&mut dialog).await.status, Some(200));
    carrier.wait().await.assert_success(1);
    let cdrs = server.wait_cdrs(1).await;
    assert_eq!(cdrs[0].direction, "outbound", "{cdrs:?}");
    assert_eq!(cdrs[0].callee, "099123456");
    // The rule says record (是否录音): the recording is on the record.
    let recording = cdrs[0].recording_path.clone().expect("recorded");
    assert!(
        std::path::Path::new(&recording).exists() || server.data_dir.join(&recording).exists(),
        "{recording}"
    );
    wait_gateway(&server, "switchboard_gateway_calls", "primary", |v| {
        v == 0.0
    });
}

#[tokio::test]
async fn a_gateway_answering_503_fails_over_to_the_next() {
    let server = start("gw_failover");
    let (bad_port, good_port) = (free_udp_port(), free_udp_port());
    let bad = Sipp::new("gw_failover_bad", "carrier_503")
        .port(bad_port)
        .spawn();
    let good = Sipp::new("gw_failover_good", "uas_answer")
        .port(good_port)
        .media("127.0.0.1", server.ports.media_port(6))
        .spawn();
    add_gateway(&server, &gateway("primary", Mode::Nni, bad_port)).await;
    add_gateway(&server, &gateway("backup", Mode::Nni, good_port)).await;
    wait_gateway(&server, "switchboard_gateway_up", "backup", |v| v == 1.0);

    let mut phone = Ua::new("1000", "secret", server.sip_addr()).await;
    let rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = phone.invite("0555", &sdp(rtp.port, "sendrecv")).await;
    assert_eq!(
        resp.status,
        Some(200),
        "{}\n{}",
        resp.raw,
        server.log_tail(30)
    );
    assert_eq!(
        phone.bye(&mut dialog.expect("dialog")).await.status,
        Some(200)
    );
    bad.wait().await.assert_success(1);
    good.wait().await.assert_success(1);
    assert_eq!(
        server.metric(
            "switchboard_gateway_calls_failed_total",
            "gateway=\"primary\""
        ),
        1.0
    );
    assert_eq!(
        server.metric("switchboard_gateway_calls_total", "gateway=\"backup\""),
        1.0
    );
}

#[tokio::test]
async fn a_peer_trunks_did_reaches_an_extension_and_strangers_get_403() {
    let server = start("gw_inbound");
    add_gateway(&server, &gateway("peer", Mode::Nni, 5060)).await;
    wait_gateway(&server, "switchboard_gateway_up", "peer", |v| v == 1.0);
    // The peer's calls come from 127.0.0.1 (its proxy address).
    let peer = Sipp::new("gw_inbound", "uac_trunk")
        .remote(server.trunk_addr())
        .users(&[("13800138000", "")])
        .service("62620668")
        .pause_ms(500)
        .media("127.0.0.1", server.ports.media_port(7));
    answered_by_1001(&server, peer).await;
    let cdrs = server.wait_cdrs(1).await;
    assert_eq!(
        (cdrs[0].direction.as_str(), cdrs[0].caller.as_str()),
        ("inbound", "13800138000")
    );
    // The record names the gateway the call came by and who took it.
    assert_eq!(
        (cdrs[0].gateway.as_deref(), cdrs[0].agent.as_deref()),
        (Some("peer"), Some("1001")),
        "{cdrs:?}"
    );

    // 127.0.0.3 is no gateway's address and the ACL is empty: 403.
    let before = server.metric("switchboard_acl_rejects_total", "");
    Sipp::new("gw_inbound_stranger", "uac_trunk_403")
        .remote(server.trunk_addr())
        .local_ip("127.0.0.3")
        .users(&[("666", "")])
        .service("62620668")
        .run()
        .await
        .assert_success(1);
    assert_eq!(
        server.metric("switchboard_acl_rejects_total", ""),
        before + 1.0
    );
}

#[tokio::test]
async fn an_extension_without_allow_outbound_gets_403() {
    let server = start("gw_not_allowed");
    let store = server.store().await;
    let mut ext = store.get_extension("1002").await.unwrap().unwrap();
    ext.allow_outbound = false;
    store.update_extension(&ext).await.unwrap();
    // Settings changes are applied in order: once the gateway added after
    // it is up, the extension's change is in force too.
    add_gateway(&server, &gateway("primary", Mode::Nni, free_udp_port())).await;
    wait_gateway(&server, "switchboard_gateway_up", "primary", |v| v == 1.0);
    let mut phone = Ua::new("1002", "secret", server.sip_addr()).await;
    let (resp, _) = phone.invite("0123", &sdp(4000, "sendrecv")).await;
    assert_eq!(resp.status, Some(403), "{}", resp.raw);
    assert!(
        resp.raw.contains("Outbound Calls Not Allowed"),
        "{}",
        resp.raw
    );
    assert_eq!(
        server.metric("switchboard_gateway_calls_total", "gateway=\"primary\""),
        0.0
    );
}

#[tokio::test]
async fn an_ivr_entry_to_an_external_number_goes_out_through_the_gateway() {
    let config = format!(
        "{ROUTES}\n[apps]\nivr = {{ \"9500\" = \"main\" }}\n\n\
         [[callcenter.ivr]]\nid = \"main\"\ngreet_long = \"welcome\"\ninvalid_sound = \"invalid\"\n\n\
         [[callcenter.ivr.entries]]\ndigits = \"1\"\ntype = \"external\"\nnumber = \"0555\"\n"
    );
    let server = Server::builder("gw_ivr_external")
        .extensions("1000-1002", "secret")
        .config(&config)
        .start();
    let port = free_udp_port();
    let carrier = Sipp::new("gw_ivr_external_carrier", "uas_answer")
        .port(port)
        .media("127.0.0.1", server.ports.media_port(6))
        .spawn();
    add_gateway(&server, &gateway("primary", Mode::Nni, port)).await;
    wait_gateway(&server, "switchboard_gateway_up", "primary", |v| v == 1.0);
    // SIPp presses 1 (RFC 4733) over the greeting, stays 5 s, hangs up.
    let caller = Sipp::new("gw_ivr_external_caller", "uac_dtmf_pcap")
        .remote(server.sip_addr())
        .users(&[("1000", "secret")])
        .service("9500")
        .media("127.0.0.1", server.ports.media_port(1))
        .pause_ms(5000)
        .run()
        .await;
    caller.assert_success(1);
    // The carrier got the number without the rule's 0, and the caller's BYE.
    carrier.wait().await.assert_success(1);
    assert_eq!(
        server.metric("switchboard_gateway_calls_total", "gateway=\"primary\""),
        1.0
    );
}

#[tokio::test]
async fn a_did_forwarded_outside_by_an_inbound_rule_leaves_through_the_gateway() {
    // 62620669 is forwarded to the outside number 0777 (through "out").
    let config = format!(
        "{ROUTES}\n[[callcenter.routes]]\nname = \"forward\"\npattern = \"62620669\"\n\
         kind = {{ type = \"inbound\", target = \"0777\" }}\n"
    );
    let server = Server::builder("gw_forward")
        .extensions("1000-1002", "secret")
        .config(&config)
        .start();
    let port = free_udp_port();
    let carrier = Sipp::new("gw_forward_carrier", "uas_answer")
        .port(port)
        .media("127.0.0.1", server.ports.media_port(6))
        .spawn();
    let mut g = gateway("primary", Mode::Nni, port);
    // Calls come in from 127.0.0.1 too (the same carrier both ways).
    g.addresses = vec!["127.0.0.1".into()];
    add_gateway(&server, &g).await;
    wait_gateway(&server, "switchboard_gateway_up", "primary", |v| v == 1.0);
    Sipp::new("gw_forward_caller", "uac_trunk")
        .remote(server.trunk_addr())
        .users(&[("13800138000", "")])
        .service("62620669")
        .pause_ms(500)
        .media("127.0.0.1", server.ports.media_port(7))
        .run()
        .await
        .assert_success(1);
    carrier.wait().await.assert_success(1);
    // Dialled directly from the trunk, an outside number is refused.
    Sipp::new("gw_forward_direct", "uac_trunk_403")
        .remote(server.trunk_addr())
        .users(&[("13800138000", "")])
        .service("0777")
        .run()
        .await
        .assert_success(1);
}

#[tokio::test]
async fn an_ims_gateway_keeps_the_service_route_and_calls_out_along_it() {
    let server = start("gw_ims");
    let port = free_udp_port();
    let pcscf = Sipp::new("gw_ims", "carrier_ims")
        .port(port)
        .calls(2)
        .media("127.0.0.1", server.ports.media_port(6))
        .spawn();
    // Named "primary": the "out" rule dials through it.
    let mut g = Gateway::new("primary", Mode::Ims, "ims.test");
    g.pcscf = format!("127.0.0.1:{port}");
    g.impu = "sip:+8651200000000@ims.test".into();
    g.impi = "+8651200000000@ims.test".into();
    g.home_domain = "ims.test".into();
    g.username = "+8651200000000".into();
    g.password = "ims-pw".into();
    g.identity = IdentityHeader::Pai;
    add_gateway(&server, &g).await;
    let reged = wait_gateway(&server, "switchboard_gateway_registered", "primary", |v| {
        v == 1.0
    });
    assert_eq!(reged, 1.0, "{}", server.log_tail(30));
    let mut phone = Ua::new("1000", "secret", server.sip_addr()).await;
    let rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = phone.invite("0555", &sdp(rtp.port, "sendrecv")).await;
    assert_eq!(
        resp.status,
        Some(200),
        "{}\n{}",
        resp.raw,
        server.log_tail(30)
    );
    assert_eq!(
        phone.bye(&mut dialog.expect("dialog")).await.status,
        Some(200)
    );
    pcscf.wait().await.assert_success(2);
    // The status page (3.2.8) shows it registered, with its Service-Route.
    let browser = crate::web_client::Browser::admin(&server);
    let (code, page) = browser.get("/voice/gateways/status");
    assert_eq!(code, 200, "{page:.500}");
    assert!(page.contains("data-state=\"REGED\""), "{page}");
    let route = crate::web_client::element_text(&page, "gw-service-route").unwrap_or_default();
    assert!(route.contains("sip:orig@127.0.0.1"), "{page}");
    assert!(page.contains(">1 / 0<"), "one call, none failed: {page}");
}

#[tokio::test]
async fn a_call_to_our_registered_contact_is_routed_by_the_number_in_to() {
    let server = start("gw_uni_inbound");
    let port = free_udp_port();
    let registrar = Sipp::new("gw_uni_inbound_registrar", "carrier_register")
        .port(port)
        .key("user", "02150001")
        .key("password", "carrier-pw")
        .key("expires", "20")
        .spawn();
    let mut g = gateway("carrier", Mode::Uni, port);
    g.username = "02150001".into();
    g.password = "carrier-pw".into();
    add_gateway(&server, &g).await;
    let reged = wait_gateway(&server, "switchboard_gateway_registered", "carrier", |v| {
        v == 1.0
    });
    assert_eq!(reged, 1.0, "{}", server.log_tail(30));
    // Sent to sip:02150001@us (our Contact there), To the DID, the caller
    // in P-Asserted-Identity, from the carrier's address.
    let carrier = Sipp::new("gw_uni_inbound_call", "carrier_inbound")
        .remote(server.trunk_addr())
        .users(&[("13800138000", "02150001")])
        .service("62620668")
        .pause_ms(500)
        .media("127.0.0.1", server.ports.media_port(7));
    answered_by_1001(&server, carrier).await;
    let cdrs = server.wait_cdrs(1).await;
    assert_eq!(
        (cdrs[0].caller.as_str(), cdrs[0].callee.as_str()),
        ("13800138000", "62620668"),
        "{cdrs:?}"
    );
    registrar.wait().await.assert_success(1);
}

#[tokio::test]
async fn the_toll_fraud_guard_refuses_denied_numbers_and_holds_the_per_extension_limit() {
    let config = ROUTES.replace(
        "[trunk]\nacl = []\n",
        "[trunk]\nacl = []\nmax_outbound_per_extension = 2\n",
    );
    let server = Server::builder("gw_toll_fraud")
        .extensions("1000-1002", "secret")
        .config(&config)
        .start();
    let port = free_udp_port();
    let carrier = Sipp::new("gw_toll_fraud", "uas_answer")
        .port(port)
        .calls(2)
        .media("127.0.0.1", server.ports.media_port(6))
        .spawn();
    add_gateway(&server, &gateway("primary", Mode::Nni, port)).await;
    wait_gateway(&server, "switchboard_gateway_up", "primary", |v| v == 1.0);

    // International (00...) is off-limits by default.
    let mut phone = Ua::new("1000", "secret", server.sip_addr()).await;
    let (resp, _) = phone.invite("000861234", &sdp(4000, "sendrecv")).await;
    assert_eq!(resp.status, Some(403), "{}", resp.raw);
    assert!(resp.raw.contains("Destination Not Allowed"), "{}", resp.raw);

    // Three calls at once from one extension: two go out, the third is refused.
    let mut phones = Vec::new();
    for _ in 0..3 {
        phones.push(Ua::new("1000", "secret", server.sip_addr()).await);
    }
    let [p1, p2, p3] = &mut phones[..] else {
        unreachable!()
    };
    let (o1, o2) = (sdp(4002, "sendrecv"), sdp(4004, "sendrecv"));
    let (r1, r2) = tokio::join!(p1.invite("0555", &o1), p2.invite("0556", &o2));
    assert_eq!((r1.0.status, r2.0.status), (Some(200), Some(200)));
    let (r3, _) = p3.invite("0557", &sdp(4006, "sendrecv")).await;
    assert_eq!(r3.status, Some(403), "{}", r3.raw);
    assert!(
        r3.raw
            .contains("Too Many Outbound Calls From This Extension"),
        "{}",
        r3.raw
    );
    assert_eq!(server.metric("switchboard_outbound_calls", ""), 2.0);
    assert_eq!(
        server.metric("switchboard_toll_fraud_refused_total", ""),
        2.0
    );
    let (mut d1, mut d2) = (r1.1.expect("dialog"), r2.1.expect("dialog"));
    assert_eq!(p1.bye(&mut d1).await.status, Some(200));
    assert_eq!(p2.bye(&mut d2).await.status, Some(200));
    carrier.wait().await.assert_success(2);
    let out = server.wait_metric(
        "switchboard_outbound_calls",
        "",
        |v| v == 0.0,
        Duration::from_secs(10),
    );
    assert_eq!(out, 0.0);
}

#[tokio::test]
async fn demo_extensions_get_random_passwords_written_for_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::builder("gw_seed")
        .config("[seed]\nextensions = \"1000-1001\"\n")
        .start();
    let path = server.data_dir.join("demo-extensions.txt");
    let text = std::fs::read_to_string(&path).expect("demo-extensions.txt");
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let passwords: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .collect();
    assert_eq!(passwords.len(), 2, "{text}");
    assert_ne!(passwords[0].1, passwords[1].1);
    assert!(passwords.iter().all(|(_, p)| p.len() == 12), "{text}");
    // The password works, and the one the old default published does not.
    let mut phone = Ua::new("1000", passwords[0].1, server.sip_addr()).await;
    assert_eq!(phone.register(60).await.status, Some(200));
    let mut guess = Ua::new("1001", "sb-demo-1234", server.sip_addr()).await;
    assert_ne!(guess.register(60).await.status, Some(200));
}

/// A real SIP server as the carrier: Debian's Kamailio with
/// tests/kamailio/carrier.cfg (a registrar challenging REGISTER, a proxy
/// challenging the account's INVITEs and relaying them to `far_port`, and
/// routing calls for the account to the Contact it registered). Stopped
/// (SIGTERM, which ends its children too) when dropped.
struct Kamailio {
    child: std::process::Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Kamailio {
    fn start(name: &str, user: &str, password: &str, far_port: u16) -> Kamailio {
        let port = free_udp_port();
        let dir = crate::harness::artifacts().join("kamailio").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("kamailio dir");
        let cfg =
            std::fs::read_to_string(crate::harness::root().join("tests/kamailio/carrier.cfg"))
                .expect("tests/kamailio/carrier.cfg")
                .replace("@LISTEN_PORT@", &port.to_string())
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
            .expect("start kamailio (Debian package kamailio)");
        // Listening once the port is taken.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "kamailio did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Kamailio { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn kamailio_as_the_carrier_registers_us_and_carries_calls_both_ways() {
    let server = start("gw_kamailio");
    let far_port = free_udp_port();
    let kamailio = Kamailio::start("gw_kamailio", "02150001", "kam-pw", far_port);
    let mut g = gateway("primary", Mode::Uni, kamailio.port);
    g.username = "02150001".into();
    g.password = "kam-pw".into();
    g.expire_secs = 300;
    add_gateway(&server, &g).await;
    let reged = wait_gateway(&server, "switchboard_gateway_registered", "primary", |v| {
        v == 1.0
    });
    assert_eq!(reged, 1.0, "{}\n{}", server.log_tail(30), kamailio.log());

    // Out: Kamailio challenges our INVITE (407) and relays it to the far end.
    let far = Sipp::new("gw_kamailio_far", "uas_answer")
        .port(far_port)
        .media("127.0.0.1", server.ports.media_port(6))
        .spawn();
    let mut phone = Ua::new("1000", "secret", server.sip_addr()).await;
    let rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = phone.invite("0555", &sdp(rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}\n{}", resp.raw, kamailio.log());
    assert_eq!(
        phone.bye(&mut dialog.expect("dialog")).await.status,
        Some(200)
    );
    far.wait().await.assert_success(1);

    // In: a call for our account reaches Kamailio, which sends it to the
    // Contact we registered; the DID in To picks the extension.
    let caller = Sipp::new("gw_kamailio_in", "carrier_inbound")
        .remote(std::net::SocketAddr::from(([127, 0, 0, 1], kamailio.port)))
        .users(&[("13800138000", "02150001")])
        .service("62620668")
        .pause_ms(500)
        .media("127.0.0.1", server.ports.media_port(7));
    answered_by_1001(&server, caller).await;
    let cdrs = server.wait_cdrs(2).await;
    assert!(
        cdrs.iter()
            .any(|c| c.direction == "outbound" && c.callee == "0555"),
        "{cdrs:?}"
    );
    assert!(
        cdrs.iter().any(|c| c.direction == "inbound"
            && c.callee == "62620668"
            && c.caller == "13800138000"),
        "{cdrs:?}"
    );
}

#[tokio::test]
async fn a_carrier_that_never_answers_fails_with_the_reason_and_calls_do_not_hang() {
    // T1 50 ms: a REGISTER without answer times out after 3.2 s.
    let config = format!("[sip]\nt1_ms = 50\n{ROUTES}");
    let server = Server::builder("gw_silent")
        .extensions("1000-1002", "secret")
        .config(&config)
        .start();
    // Nothing listens there.
    let mut g = gateway("primary", Mode::Uni, free_udp_port());
    g.username = "02150001".into();
    g.password = "pw".into();
    add_gateway(&server, &g).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        let (_, body) = server.http_get("/api/gateways/status").expect("status");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let gw = v["gateways"][0].clone();
        if matches!(gw["state"].as_str(), Some("FAILED" | "FAIL_WAIT")) {
            break gw;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status["usable"].as_bool(), Some(false), "{status}");
    assert!(
        status["status"].as_str().unwrap_or("").contains("908")
            || status["status"]
                .as_str()
                .unwrap_or("")
                .to_lowercase()
                .contains("timeout"),
        "{status}"
    );
    assert!(status["next_attempt_secs"].as_u64().is_some(), "{status}");
    // A call out is refused with 503 rather than sent to a carrier that is
    // down (the rule's backup does not exist).
    let mut phone = Ua::new("1000", "secret", server.sip_addr()).await;
    let (resp, _) = phone.invite("0555", &sdp(4000, "sendrecv")).await;
    assert_eq!(resp.status, Some(503), "{}", resp.raw);
    assert!(resp.raw.contains("No Gateway Available"), "{}", resp.raw);
    assert_eq!(
        server.metric("switchboard_gateway_calls_total", "gateway=\"primary\""),
        0.0
    );
}

#[tokio::test]
async fn a_did_from_the_carrier_reaches_a_queue_agent() {
    // 62620670 is the queue "support", served by agent 1001.
    let config = format!(
        "{ROUTES}\n[[callcenter.queues]]\nname = \"support\"\n\n\
         [[callcenter.agents]]\nid = \"1001\"\ncontact = \"1001\"\n\n\
         [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1001\"\n\n\
         [[callcenter.routes]]\nname = \"support line\"\npattern = \"62620670\"\n\
         kind = {{ type = \"queue\", queue = \"support\" }}\n"
    );
    let server = Server::builder("gw_did_queue")
        .extensions("1000-1002", "secret")
        .config(&config)
        .start();
    add_gateway(&server, &gateway("peer", Mode::Nni, 5060)).await;
    wait_gateway(&server, "switchboard_gateway_up", "peer", |v| v == 1.0);
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    let (code, body) = server
        .http_post("/api/agents/1001/status?status=available")
        .expect("agent status");
    assert_eq!(code, 200, "{body}");
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let answering = async {
        let inc = agent
            .wait_invite(STEP)
            .await
            .expect("the queue's agent rings");
        agent.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await
    };
    let carrier = Sipp::new("gw_did_queue", "uac_trunk")
        .remote(server.trunk_addr())
        .users(&[("13800138000", "")])
        .service("62620670")
        .pause_ms(1000)
        .media("127.0.0.1", server.ports.media_port(7));
    let (result, _) = tokio::join!(carrier.run(), answering);
    result.assert_success(1);
    let cdrs = server.wait_cdrs(1).await;
    assert_eq!(
        (cdrs[0].direction.as_str(), cdrs[0].callee.as_str()),
        ("inbound", "62620670"),
        "{cdrs:?}"
    );
    assert_eq!(server.metric("switchboard_queue_answered_total", ""), 1.0);
}

#[tokio::test]
async fn a_stopping_server_unregisters_its_gateways() {
    let mut server = start("gw_unregister");
    let port = free_udp_port();
    let carrier = Sipp::new("gw_unregister", "carrier_unregister")
        .port(port)
        .spawn();
    let mut g = gateway("carrier", Mode::Uni, port);
    g.username = "02150001".into();
    g.password = "pw".into();
    add_gateway(&server, &g).await;
    let reged = wait_gateway(&server, "switchboard_gateway_registered", "carrier", |v| {
        v == 1.0
    });
    assert_eq!(reged, 1.0, "{}", server.log_tail(30));
    // SIGTERM: a graceful stop sends REGISTER with Expires 0 before it ends.
    server.sigterm();
    carrier.wait().await.assert_success(1);
    assert!(server.stop().is_some_and(|s| s.success()));
}

#[tokio::test]
async fn a_call_is_blind_transferred_to_an_outside_number_through_the_gateway() {
    let server = start("gw_refer_out");
    let port = free_udp_port();
    let carrier = Sipp::new("gw_refer_out", "uas_answer")
        .port(port)
        .media("127.0.0.1", server.ports.media_port(6))
        .spawn();
    add_gateway(&server, &gateway("primary", Mode::Nni, port)).await;
    wait_gateway(&server, "switchboard_gateway_up", "primary", |v| v == 1.0);
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let offer = sdp(a_rtp.port, "sendrecv");
    let (call, answered) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee.wait_invite(STEP).await.expect("1001 rings");
        callee.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await
    });
    let (resp, a_dialog) = call;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut a_dialog = a_dialog.expect("dialog");
    let mut b_dialog = answered;
    // 1001 sends its caller to the outside number 0555 (rule "out").
    let host = server.sip_addr().ip();
    let r = callee
        .refer(&mut b_dialog, &format!("sip:0555@{host}"))
        .await;
    assert_eq!(r.status, Some(202), "{}", r.raw);
    let lines = crate::transfer::notifies_until_final(&mut callee, &b_dialog).await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("SIP/2.0 200 OK"),
        "{lines:?}"
    );
    assert_eq!(
        server.metric("switchboard_gateway_calls_total", "gateway=\"primary\""),
        1.0
    );
    // The caller now talks to the outside number; hanging up ends it there.
    assert_eq!(caller.bye(&mut a_dialog).await.status, Some(200));
    carrier.wait().await.assert_success(1);
}

#[tokio::test]
async fn a_gateways_codec_list_is_all_it_is_offered_and_the_caller_is_transcoded() {
    let server = start("gw_codecs");
    let port = free_udp_port();
    let carrier = Sipp::new("gw_codecs", "uas_answer_pcma")
        .port(port)
        .media("127.0.0.1", server.ports.media_port(6))
        .spawn();
    let mut g = gateway("primary", Mode::Nni, port);
    g.codecs = vec!["PCMA".into(), "telephone-event".into()];
    add_gateway(&server, &g).await;
    wait_gateway(&server, "switchboard_gateway_up", "primary", |v| v == 1.0);
    let mut phone = Ua::new("1000", "secret", server.sip_addr()).await;
    let rtp = Rtp::bind(server.ports.media_port(0)).await;
    // The phone offers PCMU only (the default test offer).
    let (resp, dialog) = phone.invite("0555", &sdp(rtp.port, "sendrecv")).await;
    assert_eq!(
        resp.status,
        Some(200),
        "{}\n{}",
        resp.raw,
        server.log_tail(30)
    );
    assert!(
        resp.raw.contains("RTP/AVP 0"),
        "the caller keeps PCMU: {}",
        resp.raw
    );
    assert_eq!(
        phone.bye(&mut dialog.expect("dialog")).await.status,
        Some(200)
    );
    let result = carrier.wait().await;
    result.assert_success(1);
    let trace = std::fs::read_to_string(&result.messages).unwrap_or_default();
    let offer_line = trace
        .lines()
        .find(|l| l.starts_with("m=audio"))
        .unwrap_or_default()
        .to_string();
    assert!(
        offer_line.ends_with("RTP/AVP 8 101") || offer_line.ends_with("RTP/AVP 8"),
        "the gateway is offered PCMA only: {offer_line}"
    );
}

#[tokio::test]
async fn the_desks_click_to_dial_reaches_an_outside_number_through_the_gateway() {
    let server = std::sync::Arc::new(start("gw_click_to_dial"));
    let port = free_udp_port();
    let carrier = Sipp::new("gw_click_to_dial", "uas_answer")
        .port(port)
        .media("127.0.0.1", server.ports.media_port(6))
        .spawn();
    // 1002 may not dial out: its click-to-dial to an outside number is
    // refused before any phone rings.
    let store = server.store().await;
    let mut ext = store.get_extension("1002").await.unwrap().unwrap();
    ext.allow_outbound = false;
    store.update_extension(&ext).await.unwrap();
    set_caller_ids(&server, "1000", "8862000009").await;
    add_gateway(&server, &gateway("primary", Mode::Nni, port)).await;
    wait_gateway(&server, "switchboard_gateway_up", "primary", |v| v == 1.0);
    let post = |path: &'static str| {
        let s = server.clone();
        tokio::task::spawn_blocking(move || s.http_post(path).unwrap())
    };
    let (code, body) = post("/api/agents/1002/dial?number=0555").await.unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("allow outbound"), "{body}");

    // 1000's phone rings first and answers; then the number leaves through
    // the gateway (rule "out": the 0 stripped) and the carrier answers.
    let mut phone = Ua::new("1000", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(3600).await.status, Some(200));
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let request = post("/api/agents/1000/dial?number=0555");
    let inc = phone
        .wait_invite(STEP)
        .await
        .expect("the agent's phone rings");
    let mut dialog = phone.answer(&inc, &sdp(a_rtp.port, "sendrecv")).await;
    let (code, body) = request.await.unwrap();
    assert_eq!(code, 200, "{body}");
    wait_gateway(&server, "switchboard_gateway_calls", "primary", |v| {
        v == 1.0
    });
    assert_eq!(
        server.metric("switchboard_gateway_calls_total", "gateway=\"primary\""),
        1.0
    );
    // The INVITE left; wait for the carrier's answer, or the hang-up below
    // would race it and rightly become a CANCEL.
    let deadline = std::time::Instant::now() + STEP;
    while !server.api_calls().contains("\"note\":\"bridged to ") {
        assert!(
            std::time::Instant::now() < deadline,
            "the carrier never answered: {}",
            server.api_calls()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The agent hangs up: the carrier's leg ends too, and the call is on
    // record as the agent's outbound call to the number dialled.
    assert_eq!(phone.bye(&mut dialog).await.status, Some(200));
    carrier.wait().await.assert_success(1);
    let cdrs = server.wait_cdrs(1).await;
    let cdr = cdrs
        .iter()
        .find(|c| c.answer_at.is_some())
        .unwrap_or_else(|| panic!("an answered call: {cdrs:?}"));
    assert_eq!(cdr.direction, "outbound", "{cdr:?}");
    assert_eq!(cdr.caller, "1000", "{cdr:?}");
    assert_eq!(cdr.callee, "0555", "{cdr:?}");
    // It went out through "primary", placed by the agent; the history
    // finds it by its gateway.
    assert_eq!(cdr.gateway.as_deref(), Some("primary"), "{cdr:?}");
    assert_eq!(cdr.agent.as_deref(), Some("1000"), "{cdr:?}");
    let (code, body) = server.http_get("/api/cdrs?gateway=primary").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"total\":1"), "{body}");
    wait_gateway(&server, "switchboard_gateway_calls", "primary", |v| {
        v == 0.0
    });
}

#[tokio::test]
async fn attacker_an_agent_without_allow_outbound_cannot_send_a_caller_outside_from_the_desk() {
    // Queue "support" (9400) with agent 1002, beside rule "out".
    let queue = "[apps]\nqueues = { \"9400\" = \"support\" }\n\n\
        [[callcenter.queues]]\nname = \"support\"\nstrategy = \"longest-idle-agent\"\n\n\
        [[callcenter.agents]]\nid = \"1002\"\ncontact = \"1002\"\n\n\
        [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1002\"\n";
    let server = Server::builder("gw_desk_transfer")
        .extensions("1000-1002", "secret")
        .config(ROUTES)
        .config(queue)
        .start();
    let store = server.store().await;
    let mut ext = store.get_extension("1002").await.unwrap().unwrap();
    ext.allow_outbound = false;
    store.update_extension(&ext).await.unwrap();
    add_gateway(&server, &gateway("primary", Mode::Nni, free_udp_port())).await;
    wait_gateway(&server, "switchboard_gateway_up", "primary", |v| v == 1.0);
    let mut agent = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    let desk = crate::web_client::Browser::admin(&server);
    let (code, body) = desk.post("/desk/login", "extension=1002&password=secret&phone=desk");
    assert_eq!(code, 200, "{body}");
    let (code, body) = server
        .http_post("/api/agents/1002/status?status=available")
        .expect("agent status");
    assert_eq!(code, 200, "{body}");
    // A caller in the queue reaches the agent.
    let mut caller = Ua::new("1001", "secret", server.sip_addr()).await;
    let offer = sdp(4000, "sendrecv");
    let (call, _answered) = tokio::join!(caller.invite("9400", &offer), async {
        let inc = agent.wait_invite(STEP).await.expect("1002 rings");
        agent.answer(&inc, &sdp(4002, "sendrecv")).await
    });
    let (resp, dialog) = call;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut dialog = dialog.expect("dialog");
    // The agent, at the desk with extension 1002, tries to send the caller
    // to an outside number (rule "out"): refused, and nothing leaves.
    for action in ["transfer", "consult", "conference"] {
        let (code, body) = desk.post(&format!("/desk/call/{action}"), "to=0555");
        assert_eq!(code, 403, "{action}: {body}");
        assert!(body.contains("allow outbound"), "{action}: {body}");
    }
    assert_eq!(
        server.metric("switchboard_gateway_calls_total", "gateway=\"primary\""),
        0.0
    );
    // The call goes on as it was: the caller hangs up, one answered record.
    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));
    let cdrs = server.wait_cdrs(1).await;
    assert_eq!(cdrs[0].callee, "9400", "{cdrs:?}");
    assert!(cdrs[0].answer_at.is_some(), "{cdrs:?}");
}
