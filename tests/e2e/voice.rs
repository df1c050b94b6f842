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

/// A mono 8 kHz 16-bit WAV of `hz` for `ms`, in memory.
fn wav_tone(hz: f32, ms: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for i in 0..(8 * ms) {
            let t = i as f32 / 8000.0;
            let v = (t * hz * std::f32::consts::TAU).sin() * 8000.0;
            w.write_sample(v as i16).unwrap();
        }
        w.finalize().unwrap();
    }
    cursor.into_inner()
}

#[tokio::test]
async fn an_uploaded_file_is_checked_played_as_queue_music_and_kept_while_in_use() {
    let server = Server::builder("media_library")
        .extensions("1000", "secret")
        .config(
            "[apps]\nqueues = { \"9400\" = \"support\" }\n\n\
             [media]\nmax_upload_bytes = 200000\n\n\
             [[callcenter.queues]]\nname = \"support\"\n",
        )
        .start();
    // Bad uploads: not audio, too large, a bad name; nothing is kept.
    let (code, body) = server
        .http_post_bytes("/api/media?name=junk", b"<html>not audio</html>")
        .unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("neither WAV"), "{body}");
    let mut broken = wav_tone(700.0, 500);
    broken.truncate(30);
    let (code, body) = server
        .http_post_bytes("/api/media?name=cut", &broken)
        .unwrap();
    assert_eq!(code, 400, "{body}");
    let (code, body) = server
        .http_post_bytes("/api/media?name=big", &wav_tone(700.0, 20_000))
        .unwrap();
    assert_eq!(code, 413, "{body}");
    assert!(body.contains("200000"), "{body}");
    let (code, body) = server
        .http_post_bytes("/api/media?name=a%2Fb", &wav_tone(700.0, 500))
        .unwrap();
    assert_eq!(
        (code, body.contains("\"field\":\"name\"")),
        (400, true),
        "{body}"
    );
    assert_eq!(server.http_get("/api/media").unwrap().1, "[]");

    // A good one: recorded with its length, served back as audio.
    let (code, body) = server
        .http_post_bytes("/api/media?name=hold%20music", &wav_tone(700.0, 3000))
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let m: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(m["duration_ms"], 3000, "{m}");
    let (code, _) = server.http_get("/api/media/hold%20music").unwrap();
    assert_eq!(code, 200);
    let (code, body) = server
        .http_post_bytes("/api/media?name=hold%20music", &wav_tone(500.0, 500))
        .unwrap();
    assert_eq!(code, 409, "{body}");

    // The queue plays it as music on hold: a waiting caller hears 700 Hz.
    let (code, body) = server
        .http_put_json("/api/queues/support", r#"{"moh-sound": "hold music"}"#)
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let (_, body) = server.http_get("/api/queues/support").unwrap();
    assert!(body.contains("\"moh-sound\":\"hold music\""), "{body}");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let rtp = crate::ua::Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    // (After the queue's welcome prompt.)
    let heard = crate::ua::g711_decode(0, &rtp.wait_payload(0, 48_000, crate::ua::STEP).await);
    let hz = crate::ua::dominant_hz(&heard[heard.len() - 8000..], 8000.0);
    assert!(
        (hz - 700.0).abs() < 25.0,
        "the caller hears the upload: {hz} Hz"
    );
    let mut dialog = dialog.unwrap();
    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));

    // In use: neither removed nor renamed, and the answer says by what.
    let (code, body) = server.http_delete("/api/media/hold%20music").unwrap();
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("queue 'support' music on hold"), "{body}");
    let (code, _) = server
        .http_put_json("/api/media/hold%20music?to=other", "")
        .unwrap();
    assert_eq!(code, 409);
    // Once unused it goes.
    let (code, body) = server
        .http_put_json("/api/queues/support", r#"{"moh-sound": null}"#)
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, body) = server
        .http_put_json("/api/media/hold%20music?to=old%20music", "")
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, body) = server.http_delete("/api/media/old%20music").unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(server.http_get("/api/media").unwrap().1, "[]");
}
