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
