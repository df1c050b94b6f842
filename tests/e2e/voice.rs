//! The voice platform's lists over the API, applied to calls at once: the
//! blacklist refuses a caller, the trunk access list admits or refuses a
//! peer, the number pool keeps numbers; bad values are refused by name.

use crate::harness::Server;
use crate::ua::{sdp, Ua};

#[tokio::test]
async fn blacklist_and_access_list_changes_apply_to_the_next_call() {
    let server = Server::builder("voice_lists")
        .extensions("1000-1001", "secret")
        .config("[trunk]\nacl = [\"127.0.0.0/8\"]\n")
        .start();
    // The access list was seeded from the config file.
    let (code, body) = server.http_get("/api/lists/acl").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("127.0.0.0/8"), "{body}");

    // A blacklisted caller is refused with 603 and counted.
    let (code, body) = server
        .http_post_json(
            "/api/lists/blacklist",
            r#"{"values": ["1000"], "note": "test"}"#,
        )
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let offer = sdp(server.ports.media_port(0), "sendrecv");
    let (resp, _) = caller.invite("1001", &offer).await;
    assert_eq!(resp.status, Some(603), "{}", resp.raw);
    assert!(resp.raw.contains("Blacklisted"), "{}", resp.raw);
    assert_eq!(
        server.metric("switchboard_blacklist_rejects_total", ""),
        1.0
    );
    let (code, _) = server.http_delete("/api/lists/blacklist/1000").unwrap();
    assert_eq!(code, 200);
    let (resp, _) = caller.invite("1001", &offer).await;
    assert_eq!(
        resp.status,
        Some(480),
        "1001 is not registered: {}",
        resp.raw
    );

    // The trunk profile: a peer outside the access list gets 403.
    let mut peer = Ua::new("carrier", "", server.trunk_addr()).await;
    let (resp, _) = peer.invite("1001", &offer).await;
    assert_eq!(resp.status, Some(480), "admitted: {}", resp.raw);
    let (code, _) = server.http_delete("/api/lists/acl/127.0.0.0%2F8").unwrap();
    assert_eq!(code, 200);
    let (resp, _) = peer.invite("1001", &offer).await;
    assert_eq!(resp.status, Some(403), "{}", resp.raw);

    // Bad values change nothing and say which value is wrong.
    let (code, body) = server
        .http_post_json(
            "/api/lists/acl",
            r#"{"values": ["10.0.0.0/8", "10.0.0.0/33"]}"#,
        )
        .unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("10.0.0.0/33"), "{body}");
    let (_, body) = server.http_get("/api/lists/acl").unwrap();
    assert_eq!(body, "[]");
    let (code, body) = server
        .http_post_json("/api/lists/number_pool", r#"{"values": ["6262-0668"]}"#)
        .unwrap();
    assert_eq!(code, 400, "{body}");
    let (code, body) = server
        .http_post_json(
            "/api/lists/number_pool",
            r#"{"values": ["62620668", "62620669"]}"#,
        )
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, _) = server.http_get("/api/lists/nosuch").unwrap();
    assert_eq!(code, 404);
    let (code, _) = server.http_delete("/api/lists/blacklist/42").unwrap();
    assert_eq!(code, 404);
    let (code, body) = server
        .http_post_json("/api/lists/blacklist", "not json")
        .unwrap();
    assert_eq!(code, 400, "{body}");
}

/// Polls `/api/registrations` until `pred` holds for extension `user`'s
/// entry; that entry.
async fn wait_registration(
    server: &Server,
    user: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + crate::ua::STEP;
    loop {
        let (_, body) = server.http_get("/api/registrations").unwrap();
        let list: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let entry = list
            .as_array()
            .and_then(|l| l.iter().find(|e| e["user"] == user))
            .cloned();
        if let Some(e) = entry.filter(|e| pred(e)) {
            return e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "registration of {user} never matched: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn registered_phones_are_pinged_and_shown_with_reachability() {
    let server = Server::builder("keepalive")
        .extensions("1000", "secret")
        .config("[sip]\nping_secs = 1\nt1_ms = 50\n")
        .start();
    let mut phone = Ua::new("1000", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(3600).await.status, Some(200));
    let e = wait_registration(&server, "1000", |_| true).await;
    assert_eq!(e["agent"], "switchboard-e2e", "{e}");
    assert_eq!(e["network_ip"], phone.addr.to_string(), "{e}");
    // The phone answers the keep-alive: reachable, with a ping time.
    let options = phone
        .recv_where(crate::ua::STEP, |m| m.method.as_deref() == Some("OPTIONS"))
        .await
        .expect("a keep-alive OPTIONS");
    phone.respond(&options, 200, "OK", None, "").await;
    let e = wait_registration(&server, "1000", |e| e["status"] == "Reachable").await;
    assert!(e["ping_ms"].as_u64().is_some(), "{e}");
    assert!(e["expires_in"].as_u64().unwrap_or(0) > 3000, "{e}");
    // It stops answering: unreachable once a ping times out (64 x T1).
    let e = wait_registration(&server, "1000", |e| e["status"] == "Unreachable").await;
    assert_eq!(e["user"], "1000");
}
