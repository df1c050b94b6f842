//! Registrar: digest-authenticated REGISTER (SIPp and the test UA), refusals,
//! unregister, OPTIONS, provisioning picked up live.

use std::time::Duration;

use crate::harness::Server;
use crate::sipp::Sipp;
use crate::ua::Ua;

/// Registers `user` with SIPp from local port `port` (so a SIPp uas started later on
/// that port receives the calls for `user`).
pub async fn sipp_register(server: &Server, user: &str, port: u16) {
    Sipp::new(&format!("register-{user}"), "register")
        .remote(server.sip_addr())
        .port(port)
        .users(&[(user, "secret")])
        .key("expires", "3600")
        .run()
        .await
        .assert_success(1);
}

#[tokio::test]
async fn register_with_right_password_is_accepted_and_counted() {
    let server = Server::start("register_ok");
    Sipp::new("register_ok", "register")
        .remote(server.sip_addr())
        .users(&[("1000", "secret")])
        .key("expires", "3600")
        .run()
        .await
        .assert_success(1);
    let regs = server.wait_metric(
        "switchboard_registrations",
        "",
        |v| v >= 1.0,
        Duration::from_secs(10),
    );
    assert!(regs >= 1.0, "switchboard_registrations = {regs}");
}

#[tokio::test]
async fn register_over_tcp_is_accepted() {
    let server = Server::start("register_tcp");
    Sipp::new("register_tcp", "register")
        .remote(server.sip_addr())
        .users(&[("1001", "secret")])
        .key("expires", "3600")
        .arg("-t")
        .arg("t1")
        .run()
        .await
        .assert_success(1);
}

#[tokio::test]
async fn register_with_wrong_password_gets_403_and_counts_an_auth_failure() {
    let server = Server::start("register_wrong");
    let before = server.metric("switchboard_auth_failures_total", "");
    Sipp::new("register_wrong", "register_wrong")
        .remote(server.sip_addr())
        .users(&[("1000", "not-the-password")])
        .key("expires", "3600")
        .run()
        .await
        .assert_success(1);
    let after = server.wait_metric(
        "switchboard_auth_failures_total",
        "",
        |v| v > before,
        Duration::from_secs(10),
    );
    assert!(after > before, "auth failures {before} -> {after}");
    assert_eq!(server.metric("switchboard_registrations", ""), 0.0);
}

#[tokio::test]
async fn register_with_too_brief_expires_gets_423_with_min_expires() {
    let server = Server::start("register_423");
    let mut ua = Ua::new("1000", "secret", server.sip_addr()).await;
    let resp = ua.register(10).await;
    assert_eq!(resp.status, Some(423), "{}", resp.raw);
    let min: u32 = resp
        .header("Min-Expires")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("423 without Min-Expires:\n{}", resp.raw));
    assert_eq!(min, 60);
    // The minimum itself is accepted.
    let resp = ua.register(60).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
}

#[tokio::test]
async fn register_for_unknown_user_is_refused() {
    let server = Server::start("register_unknown");
    let mut ua = Ua::new("1099", "secret", server.sip_addr()).await;
    let resp = ua.register(3600).await;
    let code = resp.status.unwrap();
    assert!(matches!(code, 403 | 404), "{}", resp.raw);
    assert_eq!(server.metric("switchboard_registrations", ""), 0.0);
}

#[tokio::test]
async fn options_is_answered_200() {
    let server = Server::start("options");
    let mut ua = Ua::new("1000", "secret", server.sip_addr()).await;
    let resp = ua.transact("OPTIONS", "1000", "").await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
}

#[tokio::test]
async fn unregister_with_expires_zero_removes_the_binding() {
    let server = Server::start("unregister");
    let port = crate::harness::free_udp_port();
    sipp_register(&server, "1000", port).await;
    let regs = server.wait_metric(
        "switchboard_registrations",
        "",
        |v| v >= 1.0,
        Duration::from_secs(10),
    );
    assert_eq!(regs, 1.0);
    Sipp::new("unregister", "register")
        .remote(server.sip_addr())
        .port(port)
        .users(&[("1000", "secret")])
        .key("expires", "0")
        .run()
        .await
        .assert_success(1);
    let regs = server.wait_metric(
        "switchboard_registrations",
        "",
        |v| v == 0.0,
        Duration::from_secs(10),
    );
    assert_eq!(regs, 0.0);
    // And a call to it now finds nobody.
    let mut caller = Ua::new("1001", "secret", server.sip_addr()).await;
    let (resp, _) = caller.invite("1000", &crate::ua::sdp(9, "sendrecv")).await;
    assert_eq!(resp.status, Some(480), "{}", resp.raw);
}

#[tokio::test]
async fn unregister_one_contact_then_all_with_star() {
    let server = Server::start("unregister_star");
    let mut a = Ua::new("1000", "secret", server.sip_addr()).await;
    let mut b = Ua::new("1000", "secret", server.sip_addr()).await;
    let mut c = Ua::new("1000", "secret", server.sip_addr()).await;
    for ua in [&mut a, &mut b, &mut c] {
        let resp = ua.register(3600).await;
        assert_eq!(resp.status, Some(200), "{}", resp.raw);
    }
    // The 200 to a REGISTER lists the current bindings (RFC 3261 10.3 step 8).
    let resp = c.register(3600).await;
    let contacts = resp.headers_all("Contact").join(",");
    for ua in [&a, &b, &c] {
        assert!(contacts.contains(&ua.addr.to_string()), "{}", resp.raw);
    }
    // One contact unregisters itself; the other two stay.
    let resp = a.register(0).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let contacts = resp.headers_all("Contact").join(",");
    assert!(!contacts.contains(&a.addr.to_string()), "{}", resp.raw);
    assert!(contacts.contains(&b.addr.to_string()), "{}", resp.raw);
    // `Contact: *` removes the rest.
    let resp = b.register_star().await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    assert!(!resp.raw.contains(&c.addr.to_string()), "{}", resp.raw);
    let regs = server.wait_metric(
        "switchboard_registrations",
        "",
        |v| v == 0.0,
        Duration::from_secs(10),
    );
    assert_eq!(regs, 0.0);
}

#[tokio::test]
async fn extension_added_while_running_can_register() {
    let server = Server::start("provision_live");
    let out = server.cli(&["extension", "add", "2000", "--password", "fresh"]);
    assert!(out.status.success(), "{out:?}");
    let list = server.cli(&["extension", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("2000"), "{text}");
    assert!(
        !text.contains("fresh"),
        "passwords are masked by default: {text}"
    );
    let shown = server.cli(&["extension", "list", "--show-passwords"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("fresh"));
    // Picked up within about a second; poll with a generous bound.
    let mut ua = Ua::new("2000", "fresh", server.sip_addr()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let resp = ua.register(3600).await;
        if resp.status == Some(200) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "2000 never registered: {}",
            resp.raw
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Removed: registering again is refused.
    let out = server.cli(&["extension", "remove", "2000"]);
    assert!(out.status.success(), "{out:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let resp = ua.register(3600).await;
        if resp.status != Some(200) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "2000 still registers after removal"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn register_on_trunk_port_is_refused() {
    let server = Server::start("trunk_register");
    let mut ua = Ua::new("1000", "secret", server.trunk_addr()).await;
    let resp = ua.register(3600).await;
    assert!(matches!(resp.status, Some(403 | 405)), "{}", resp.raw);
}

#[tokio::test]
async fn register_answering_the_sha256_challenge_is_accepted() {
    let server = Server::builder("register_sha256")
        .extensions("1000-1009", "secret")
        .config("[sip]\nauth_algorithms = [\"SHA-256\", \"MD5\"]\n")
        .start();
    let mut ua = Ua::new("1000", "secret", server.sip_addr()).await;
    // Configured, SHA-256 is offered first, next to MD5 (RFC 8760).
    ua.algorithm = "SHA-256";
    let resp = ua.register(3600).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    // The server's SIP log shows that our answer really was SHA-256 (the UA falls
    // back to the first challenge when SHA-256 is not offered).
    let answered_sha256 = server
        .log()
        .lines()
        .any(|l| l.starts_with("Authorization: Digest") && l.contains("algorithm=SHA-256"));
    assert!(
        answered_sha256,
        "no SHA-256 answer:\n{}",
        server.log_tail(30)
    );
}

/// The algorithms of the digest challenges `ua` gets for a `method`
/// (REGISTER or INVITE) from its user to `to_user`, without answering them.
async fn challenge_algorithms(ua: &mut Ua, method: &str, to_user: &str) -> Vec<String> {
    let (server, me) = (ua.server, ua.user.clone());
    let uri = format!("sip:{to_user}@{server}");
    let from = format!("<sip:{me}@{}>;tag={}", server.ip(), crate::ua::token());
    let to = format!("<sip:{to_user}@{}>", server.ip());
    let (call_id, branch) = (crate::ua::token(), crate::ua::branch());
    let req = ua.request(method, &uri, &branch, &from, &to, &call_id, 1, "", "");
    ua.send_raw(req.as_bytes()).await;
    let resp = ua
        .recv_where(crate::ua::STEP, |m| {
            m.call_id() == call_id && m.status.is_some_and(|s| s >= 400)
        })
        .await
        .unwrap_or_else(|| panic!("no challenge to {method}"));
    let header = if method == "INVITE" {
        // A final response to an INVITE is acknowledged.
        let to = resp.header("To").unwrap_or_default().to_string();
        let ack = ua.request("ACK", &uri, &branch, &from, &to, &call_id, 1, "", "");
        ua.send_raw(ack.as_bytes()).await;
        "Proxy-Authenticate"
    } else {
        "WWW-Authenticate"
    };
    resp.headers_all(header)
        .into_iter()
        .map(|c| {
            sip::auth::Challenge::parse(c)
                .unwrap_or_else(|e| panic!("{e}: {}", resp.raw))
                .algorithm
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn the_default_challenge_is_one_md5_digest() {
    // baresip 1.0 gives up on a 401 with two challenges ("Function not
    // implemented"): the default offers MD5 alone, to REGISTER and INVITE.
    let server = Server::start("register_md5_default");
    let mut ua = Ua::new("1000", "secret", server.sip_addr()).await;
    assert_eq!(
        challenge_algorithms(&mut ua, "REGISTER", "1000").await,
        ["MD5"]
    );
    assert_eq!(
        challenge_algorithms(&mut ua, "INVITE", "1001").await,
        ["MD5"]
    );
}

#[tokio::test]
async fn an_extension_of_its_own_is_challenged_with_sha256_alone() {
    let server = Server::start("register_sha256_ext");
    let out = server.cli(&[
        "extension",
        "add",
        "2005",
        "--password",
        "strong-pw",
        "--auth-algorithms",
        "SHA-256",
    ]);
    assert!(out.status.success(), "{out:?}");
    let mut phone = Ua::new("2005", "strong-pw", server.sip_addr()).await;
    // The running server picks the new extension up within about a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = challenge_algorithms(&mut phone, "REGISTER", "2005").await;
        if got == ["SHA-256"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "2005 still challenged with {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        challenge_algorithms(&mut phone, "INVITE", "1000").await,
        ["SHA-256"],
        "its calls too"
    );
    phone.algorithm = "SHA-256";
    let resp = phone.register(3600).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    // The other extensions keep the server's MD5.
    let mut other = Ua::new("1000", "secret", server.sip_addr()).await;
    assert_eq!(
        challenge_algorithms(&mut other, "REGISTER", "1000").await,
        ["MD5"]
    );
    assert_eq!(other.register(3600).await.status, Some(200));
}

#[tokio::test]
async fn calls_reach_the_address_register_came_from_not_the_contact_it_claims() {
    let server = Server::start("register_nat");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    // A phone behind NAT advertises its private address; the registrar must use
    // the address the REGISTER really came from.
    let resp = callee
        .transact(
            "REGISTER",
            "1001",
            "Contact: <sip:1001@10.99.99.99:5060>\r\nExpires: 3600\r\n",
        )
        .await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let offer = crate::ua::sdp(server.ports.media_port(0), "sendrecv");
    let answer = crate::ua::sdp(server.ports.media_port(1), "sendrecv");
    let ((resp, dialog), _) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee
            .wait_invite(crate::ua::STEP)
            .await
            .expect("the INVITE did not reach the real source address");
        callee.answer(&inc, &answer).await
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    caller.bye(&mut dialog.unwrap()).await;
}

#[tokio::test]
async fn stale_nonce_is_challenged_again_with_stale_true() {
    let server = Server::builder("stale_nonce")
        .extensions("1000-1009", "secret")
        .config("[sip]\nnonce_ttl_secs = 1")
        .start();
    let mut ua = Ua::new("1000", "secret", server.sip_addr()).await;
    // Answer the challenge only after its nonce has expired.
    let resp = ua
        .transact_delayed(
            "REGISTER",
            "1000",
            "Expires: 3600\r\n",
            Duration::from_secs(3),
        )
        .await;
    assert_eq!(resp.status, Some(401), "{}", resp.raw);
    let stale = resp.headers_all("WWW-Authenticate").iter().any(|c| {
        c.to_ascii_lowercase()
            .replace(' ', "")
            .contains("stale=true")
    });
    assert!(stale, "expired nonce not flagged stale:\n{}", resp.raw);
    // A fresh nonce works.
    assert_eq!(ua.register(3600).await.status, Some(200));
}

#[tokio::test]
async fn expired_binding_is_swept() {
    let server = Server::builder("expiry_sweep")
        .extensions("1000-1009", "secret")
        .config("[sip]\nmin_expires = 1")
        .start();
    let mut ua = Ua::new("1001", "secret", server.sip_addr()).await;
    let resp = ua.register(2).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let regs = server.wait_metric(
        "switchboard_registrations",
        "",
        |v| v == 0.0,
        Duration::from_secs(60),
    );
    assert_eq!(regs, 0.0, "binding not swept after it expired");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let (resp, _) = caller.invite("1001", &crate::ua::sdp(9, "sendrecv")).await;
    assert_eq!(resp.status, Some(480), "{}", resp.raw);
}

#[tokio::test]
async fn registrations_survive_a_restart() {
    let mut server = Server::start("restart_bindings");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let status = server.stop().expect("running");
    assert!(status.success(), "exit status {status}");
    server.restart();
    // Without registering again, the callee is reachable.
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let offer = crate::ua::sdp(server.ports.media_port(0), "sendrecv");
    let answer = crate::ua::sdp(server.ports.media_port(1), "sendrecv");
    let ((resp, dialog), _) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee
            .wait_invite(crate::ua::STEP)
            .await
            .expect("binding lost in the restart");
        callee.answer(&inc, &answer).await
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    caller.bye(&mut dialog.unwrap()).await;
}

/// The Contact a Linphone 5 desktop puts in its REGISTER (RFC 5627 instance,
/// capabilities in a quoted list with commas), for a phone at `addr`.
fn linphone_contact(user: &str, addr: std::net::SocketAddr) -> String {
    format!(
        "<sip:{user}@{addr};transport=udp>;+org.linphone.specs=\"conference/1.0,ephemeral/1.1,groupchat/1.1,lime\";+sip.instance=\"<urn:uuid:2c4c41b8-e8c5-00e4-8e5e-8b6ecff6b3e4>\""
    )
}

/// The Contact pjsua 2 sends with SIP outbound on (its default): `ob` in the
/// URI, `reg-id` and the instance.
fn pjsua_contact(user: &str, addr: std::net::SocketAddr) -> String {
    format!(
        "<sip:{user}@{addr};ob>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-00005a1e0b0f>\""
    )
}

/// The registrations API's `params` of `user`'s binding, polled until present.
async fn api_params(server: &Server, user: &str) -> String {
    let deadline = std::time::Instant::now() + crate::ua::STEP;
    loop {
        let (_, body) = server.http_get("/api/registrations").unwrap();
        let list: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let found = list
            .as_array()
            .and_then(|l| l.iter().find(|e| e["user"] == user))
            .and_then(|e| e["params"].as_str().map(str::to_string));
        if let Some(p) = found {
            return p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no registration of {user}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn softphone_contact_parameters_come_back_byte_exact_and_survive_a_restart() {
    let mut server = Server::start("register_contact_params");
    let mut linphone = Ua::new("1004", "secret", server.sip_addr()).await;
    let contact = linphone_contact("1004", linphone.addr);
    let extra = format!("Contact: {contact}\r\nExpires: 3600\r\n");
    let resp = linphone.transact("REGISTER", "1004", &extra).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    assert_eq!(
        resp.headers_all("Contact"),
        [format!("{contact};expires=3600")],
        "{}",
        resp.raw
    );
    // pjsua with an expires parameter: it wins over the Expires header, and
    // the 200 carries one expires, ours, after the other parameters.
    let mut pjsua = Ua::new("1005", "secret", server.sip_addr()).await;
    let contact5 = pjsua_contact("1005", pjsua.addr);
    let extra = format!("Contact: {contact5};expires=600\r\nExpires: 300\r\n");
    let resp = pjsua.transact("REGISTER", "1005", &extra).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    assert_eq!(
        resp.headers_all("Contact"),
        [format!("{contact5};expires=600")],
        "{}",
        resp.raw
    );
    let params4 = contact
        .split_once('>')
        .map(|(_, p)| p.to_string())
        .unwrap_or_default();
    assert_eq!(api_params(&server, "1004").await, params4);

    // A quoted value left open is refused with a reason, and changes nothing.
    let bad = format!(
        "Contact: <sip:1004@{}>;+sip.instance=\"<urn:uuid:1>\r\nExpires: 3600\r\n",
        linphone.addr
    );
    let resp = linphone.transact("REGISTER", "1004", &bad).await;
    assert_eq!(resp.status, Some(400), "{}", resp.raw);
    assert!(
        resp.raw.contains("unterminated quoted string"),
        "{}",
        resp.raw
    );

    // Stored with its parameters: after a restart, the next REGISTER of
    // another phone of 1004 lists the restored binding exactly.
    let status = server.stop().expect("running");
    assert!(status.success(), "exit status {status}");
    server.restart();
    assert_eq!(api_params(&server, "1004").await, params4);
    let mut desk = Ua::new("1004", "secret", server.sip_addr()).await;
    let resp = desk.register(3600).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let restored = resp
        .headers_all("Contact")
        .into_iter()
        .find_map(|c| c.strip_prefix(&format!("{contact};expires=")))
        .unwrap_or_else(|| panic!("restored binding not listed exactly:\n{}", resp.raw));
    let left: u32 = restored.parse().expect("seconds");
    assert!((3000..=3600).contains(&left), "{left} s left");
}
