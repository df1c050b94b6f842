//! The call history (`GET /api/cdrs`, `/records/calls`) and recordings
//! served with range requests, over records written straight into the
//! database and recording files on disk.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use super::{App, PW};
use crate::auth::password;
use tower::ServiceExt;

/// A user with extension `ext` holding `grants` through a role; its API
/// token and a signed-in browser.
async fn user_with(
    app: &App,
    username: &str,
    ext: &str,
    grants: &[&str],
) -> (String, super::Browser) {
    let fields = store::UserFields {
        username: username.into(),
        name: format!("{username} name"),
        is_agent: true,
        extension: ext.into(),
        enabled: true,
        ..Default::default()
    };
    let hash = password::hash(PW).unwrap();
    let id = app.store.create_user(&fields, &hash, false).await.unwrap();
    let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
    let role = app
        .store
        .create_role(&format!("{username}-role"), "", &grants)
        .await
        .unwrap();
    app.store.set_user_roles(id, &[role]).await.unwrap();
    let token = crate::create_api_token(&app.store, username, "records")
        .await
        .unwrap();
    (token, app.browser(username, PW).await)
}

const T0: i64 = 1_780_000_000_000;

fn cdr(i: i64, caller: &str, callee: &str, recording: Option<String>) -> store::Cdr {
    store::Cdr {
        id: None,
        call_uid: Some(format!("uid-{i}")),
        in_progress: false,
        last_seen_at: Some(T0 + i * 60_000 + 40_000),
        call_id: format!("call-{i}@test"),
        caller: caller.into(),
        caller_name: String::new(),
        callee: callee.into(),
        direction: "internal".into(),
        start_at: T0 + i * 60_000,
        answer_at: Some(T0 + i * 60_000 + 5_000),
        end_at: T0 + i * 60_000 + 40_000,
        ring_secs: 5,
        talk_secs: 35,
        hangup_cause: "normal_clearing".into(),
        hangup_by: "caller".into(),
        sip_code: 200,
        recorded_secs: recording.as_ref().map_or(0, |_| 35),
        recording_path: recording,
        ..store::Cdr::default()
    }
}

/// A small but real WAV file (8 kHz mono 16-bit, a ramp) of `samples`.
fn wav(samples: usize) -> Vec<u8> {
    let data = (samples * 2) as u32;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&16000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data.to_le_bytes());
    for s in 0..samples {
        v.extend_from_slice(&((s % 2000) as i16).to_le_bytes());
    }
    v
}

async fn get_with(app: &App, path: &str, bearer: &str, range: Option<&str>) -> super::Resp {
    let mut req = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {bearer}"));
    if let Some(r) = range {
        req = req.header(header::RANGE, r);
    }
    app.send(req.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn the_call_history_filters_scopes_pages_and_serves_recordings_by_range() {
    let app = App::new().await;
    let root = std::env::temp_dir().join(format!("sb-records-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let rec_dir = root.join("recordings");
    std::fs::create_dir_all(rec_dir.join("2026/06/01")).unwrap();
    app.state.set_recordings_dir(rec_dir.clone());
    let good = rec_dir.join("2026/06/01/call-1.wav");
    let bytes = wav(8000);
    std::fs::write(&good, &bytes).unwrap();
    let gone = rec_dir.join("2026/06/01/call-2.wav");
    let outside = root.join("secret.wav");
    std::fs::write(&outside, wav(10)).unwrap();
    let path = |p: &std::path::Path| Some(p.display().to_string());
    app.store
        .upsert_cdrs(&[
            cdr(1, "1001", "2000", path(&good)),
            cdr(2, "3000", "2000", path(&gone)),
            cdr(3, "3001", "2001", path(&outside)),
            cdr(4, "3002", "1001", None),
        ])
        .await
        .unwrap();
    let (sup, sup_b) = user_with(&app, "sup", "", &["records:all"]).await;
    let (agent, agent_b) = user_with(&app, "agent", "1001", &["records:view"]).await;
    let (nobody, _) = user_with(&app, "nobody", "1002", &["kb:view"]).await;
    let (noext, _) = user_with(&app, "noext", "", &["records:view"]).await;

    // Every call for the supervisor, newest first, with the URL of the
    // recording and never the path on disk.
    let r = app.api("GET", "/api/cdrs", Some(&sup)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    assert_eq!(j["total"], 4);
    let calls = j["calls"].as_array().unwrap();
    assert_eq!(calls[0]["call_id"], "call-4@test");
    assert_eq!(calls[0]["recording_url"], serde_json::Value::Null);
    let first = calls
        .iter()
        .find(|c| c["call_id"] == "call-1@test")
        .unwrap();
    let id1 = first["id"].as_i64().unwrap();
    assert_eq!(first["recording_url"], format!("/api/cdrs/{id1}/recording"));
    assert_eq!(
        (first["talk_secs"].as_i64(), first["missed"].as_bool()),
        (Some(35), Some(false))
    );
    assert!(first.get("recording_path").is_none() && !r.body.contains("secret.wav"));
    let id_of = |call: &str| {
        calls.iter().find(|c| c["call_id"] == call).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (id2, id3) = (id_of("call-2@test"), id_of("call-3@test"));

    // An agent sees the calls of its own extension only (made or received).
    let r = app.api("GET", "/api/cdrs", Some(&agent)).await;
    let j = r.json();
    assert_eq!(j["total"], 2, "{}", r.body);
    // Filters and paging.
    let r = app
        .api("GET", "/api/cdrs?number=200&per_page=1&page=2", Some(&sup))
        .await;
    let j = r.json();
    assert_eq!(
        (
            j["total"].as_i64(),
            j["page"].as_i64(),
            j["per_page"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(j["calls"][0]["call_id"], "call-2@test");
    let r = app.api("GET", "/api/cdrs?recorded=no", Some(&sup)).await;
    assert_eq!(r.json()["total"], 1);
    let r = app
        .api("GET", "/api/cdrs?from=2026-01-01&to=2026-01-02", Some(&sup))
        .await;
    assert_eq!(r.json()["total"], 0);
    // Bad filters: 400 with the field, nothing searched.
    for (q, field) in [
        ("direction=sideways", "direction"),
        ("status=maybe", "status"),
        ("from=yesterday", "from"),
        ("from=2026-02-01&to=2026-01-01", "to"),
        ("per_page=0", "per_page"),
        ("per_page=501", "per_page"),
        ("page=0", "page"),
        ("min_talk=-3", "min_talk"),
        ("recorded=perhaps", "recorded"),
    ] {
        let r = app.api("GET", &format!("/api/cdrs?{q}"), Some(&sup)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.body);
        assert_eq!(r.json()["field"], field, "{q}");
    }
    // Without the permission: 403; without an extension: nothing is yours.
    let r = app.api("GET", "/api/cdrs", Some(&nobody)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.api("GET", "/api/cdrs", Some(&noext)).await;
    assert_eq!(r.json()["total"], 0);

    // The recording: whole, then a range (a player seeking), then as a
    // download.
    let url = format!("/api/cdrs/{id1}/recording");
    let r = get_with(&app, &url, &agent, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(r.headers[header::ACCEPT_RANGES], "bytes");
    assert_eq!(r.body.len(), String::from_utf8_lossy(&bytes).len());
    let r = get_with(&app, &url, &agent, Some("bytes=1000-1099")).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers[header::CONTENT_RANGE],
        format!("bytes 1000-1099/{}", bytes.len()).as_str()
    );
    assert_eq!(r.headers[header::CONTENT_LENGTH], "100");
    let r = get_with(
        &app,
        &url,
        &agent,
        Some(&format!("bytes={}-", bytes.len() + 10)),
    )
    .await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let r = get_with(&app, &format!("{url}?download=1"), &sup, None).await;
    assert!(r.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"call-1.wav\""));
    // A call out of the agent's scope is not found, like one that does not exist.
    for id in [id2, 999_999] {
        let r = get_with(&app, &format!("/api/cdrs/{id}/recording"), &agent, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}");
    }
    // A file gone from disk, or a path outside the recordings directory:
    // 404 with the reason, counted.
    let before = app.state.metrics().render();
    for id in [id2, id3] {
        let r = get_with(&app, &format!("/api/cdrs/{id}/recording"), &sup, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}");
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .contains("no longer on disk"),
            "{}",
            r.body
        );
    }
    let count = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("switchboard_web_recordings_missing_total "))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap()
    };
    assert_eq!(count(&app.state.metrics().render()), count(&before) + 2);
    // A call without a recording.
    let id4 = id_of("call-4@test");
    let r = get_with(&app, &format!("/api/cdrs/{id4}/recording"), &sup, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get_with(&app, &format!("/api/cdrs/{id4}"), &agent, None).await;
    assert_eq!(
        (r.status, r.json()["callee"].as_str()),
        (StatusCode::OK, Some("1001"))
    );

    // The page: every call for the supervisor, with players; the agent's
    // own only, saying so; a bad date is a form error.
    let r = app.get("/records/calls", Some(&sup_b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.matches("data-test=\"call-row\"").count(), 4);
    assert!(r
        .body
        .contains(&format!("src=\"/api/cdrs/{id1}/recording\"")));
    let r = app.get("/records/calls", Some(&agent_b.cookie)).await;
    assert_eq!(r.body.matches("data-test=\"call-row\"").count(), 2);
    assert!(r.body.contains("data-test=\"records-scope\""));
    let r = app
        .get("/records/calls?from=2026-02-30", Some(&sup_b.cookie))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("has-error"));
    let r = app
        .get("/records/calls?status=missed", Some(&sup_b.cookie))
        .await;
    assert!(r.body.contains("data-test=\"records-empty\""));
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn the_staffing_calculator_answers_the_textbook_example_and_refuses_bad_input() {
    let app = App::new().await;
    let (token, browser) = user_with(&app, "planner", "", &["reports:view"]).await;
    let (other, _) = user_with(&app, "other", "", &["records:all"]).await;
    // 100 calls per half hour, 3-minute AHT, 80 % within 20 s: 14 agents.
    let url = "/api/reports/erlang-c?calls_per_interval=100&interval_s=1800&aht_s=180&target_sl=0.8&target_s=20";
    let r = app.api("GET", url, Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    assert_eq!(j["agents"], 14);
    assert!(
        (j["service_level"].as_f64().unwrap() - 0.8884).abs() < 0.0001,
        "{j}"
    );
    assert!((j["asa_s"].as_f64().unwrap() - 7.8).abs() < 0.05, "{j}");
    assert!((j["traffic_erlangs"].as_f64().unwrap() - 10.0).abs() < 1e-9);
    assert_eq!(j["logged_in"], 0);
    let alts: Vec<i64> = j["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agents"].as_i64().unwrap())
        .collect();
    assert_eq!(alts, [12, 13, 14, 15, 16, 17]);
    // A percentage is a share; the defaults are 80/20 over half an hour.
    let r = app
        .api(
            "GET",
            "/api/reports/erlang-c?calls_per_interval=100&aht_s=180&target_sl=95",
            Some(&token),
        )
        .await;
    assert_eq!(
        (r.json()["agents"].as_i64(), r.json()["target_sl"].as_f64()),
        (Some(16), Some(0.95))
    );
    for (q, field) in [
        ("aht_s=180", "calls_per_interval"),
        ("calls_per_interval=100", "aht_s"),
        ("calls_per_interval=abc&aht_s=180", "calls_per_interval"),
        ("calls_per_interval=100&aht_s=0", "aht_s"),
        (
            "calls_per_interval=100&aht_s=180&interval_s=-5",
            "interval_s",
        ),
        (
            "calls_per_interval=100&aht_s=180&target_sl=100",
            "target_sl",
        ),
        ("calls_per_interval=1e15&aht_s=180", "calls_per_interval"),
        ("calls_per_interval=inf&aht_s=180", "calls_per_interval"),
    ] {
        let r = app
            .api("GET", &format!("/api/reports/erlang-c?{q}"), Some(&token))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.body);
        assert_eq!(r.json()["field"], field, "{q}");
    }
    let r = app.api("GET", url, Some(&other)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The page: the form alone, then the answer and its table.
    let r = app.get("/reports/erlang-c", Some(&browser.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("data-test=\"erlang-form\"") && !r.body.contains("erlang-answer"));
    let r = app
        .get("/reports/erlang-c?calls_per_interval=100&interval_s=1800&aht_s=180&target_sl=80&target_s=20", Some(&browser.cookie))
        .await;
    assert!(r.body.contains("data-test=\"erlang-answer\""), "{}", r.body);
    assert!(r.body.contains("88.8 %") && r.body.contains(">14<"));
    assert_eq!(r.body.matches("data-test=\"erlang-row\"").count(), 6);
    let r = app
        .get(
            "/reports/erlang-c?calls_per_interval=-1&aht_s=180",
            Some(&browser.cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("has-error"));
}

#[tokio::test]
async fn the_service_level_report_computes_by_hand_exports_and_refuses_bad_windows() {
    let app = App::new().await;
    let (token, browser) = user_with(&app, "lead", "", &["reports:view"]).await;
    // Today, local time: two answered callers (in 10 s and 30 s, 60 and 120
    // s of talk), a short abandon (3 s) and one after 40 s.
    let now = chrono::Local::now().timestamp_millis();
    let ev = |call: &str, kind: &str, wait: Option<i64>, talk: Option<i64>| store::QueueEvent {
        id: None,
        at: now - 60_000,
        queue: "sales".into(),
        call_id: call.into(),
        caller: "13800000000".into(),
        agent: None,
        kind: kind.into(),
        reason: None,
        wait_secs: wait,
        talk_secs: talk,
    };
    app.store
        .insert_queue_events(&[
            ev("a", "joined", None, None),
            ev("a", "answered", Some(10), None),
            ev("a", "ended", None, Some(60)),
            ev("b", "joined", None, None),
            ev("b", "answered", Some(30), None),
            ev("b", "ended", None, Some(120)),
            ev("c", "joined", None, None),
            ev("c", "abandoned", Some(3), None),
            ev("d", "joined", None, None),
            ev("d", "abandoned", Some(40), None),
        ])
        .await
        .unwrap();
    let r = app
        .api("GET", "/api/reports/service-level", Some(&token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let row = &r.json()["rows"][0];
    // By hand: 1 of (2 answered + 1 abandoned after 5 s) within 20 s; ASA
    // (10 + 30) / 2; talk (60 + 120) / 2; abandon rate 1 / 3.
    assert_eq!(row["queue"], "sales");
    assert_eq!(
        (row["offered"].as_i64(), row["answered"].as_i64()),
        (Some(4), Some(2))
    );
    assert_eq!(
        (row["abandoned"].as_i64(), row["short_abandoned"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(
        (row["service_level"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9,
        "{row}"
    );
    assert_eq!(row["asa_s"].as_f64(), Some(20.0));
    assert_eq!(row["aht_s"].as_f64(), Some(90.0));
    assert!((row["abandon_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(row["longest_wait_s"], 40);
    // A 30-second target counts caller b too.
    let r = app
        .api(
            "GET",
            "/api/reports/service-level?target_s=30",
            Some(&token),
        )
        .await;
    assert!((r.json()["rows"][0]["service_level"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    // Exports: CSV and Excel read back, each written to the audit log.
    let r = app
        .api("GET", "/api/reports/service-level?format=csv", Some(&token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let csv = sheets::read(r.body.as_bytes(), &sheets::Limits::default()).unwrap();
    assert_eq!(csv.headers[0], "queue");
    assert_eq!(csv.rows[0].cells[0], "sales");
    assert_eq!(csv.rows[0].cells[7], "33.3");
    let req = Request::get("/api/reports/service-level?format=xlsx&group=day")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let book = sheets::read(&bytes, &sheets::Limits::default()).unwrap();
    assert_eq!(
        book.rows[0].cells[1],
        chrono::Local::now().format("%Y-%m-%d").to_string()
    );
    let audit = app
        .store
        .search_audit(&store::AuditQuery {
            action: "export".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.total, 2, "{:?}", audit.entries);
    assert!(audit.entries.iter().any(|e| e.params.contains("as xlsx")));
    // Bad windows and values: 400 naming the field.
    for (q, field) in [
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("from=2000-01-01&to=2026-01-01", "to"),
        ("from=soon", "from"),
        ("target_s=-1", "target_s"),
        ("group=agent", "group"),
        ("format=pdf", "format"),
    ] {
        let r = app
            .api(
                "GET",
                &format!("/api/reports/service-level?{q}"),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.body);
        assert_eq!(r.json()["field"], field, "{q}");
    }
    let r = app
        .api(
            "GET",
            "/api/reports/service-level?from=2000-01-01&to=2026-01-01",
            Some(&token),
        )
        .await;
    assert!(r.json()["error"].as_str().unwrap().contains("ten years"));
    // The page: the table, the chart, the export links; a bad window is a
    // form error.
    let r = app
        .get("/reports/service-level", Some(&browser.cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("data-test=\"sl-chart\"") && r.body.contains("<svg"));
    assert!(r.body.contains("33.3 %"), "{}", r.body);
    assert!(r.body.contains("format=xlsx") && r.body.contains("format=csv"));
    let r = app
        .get(
            "/reports/service-level?from=2026-03-02&to=2026-03-01",
            Some(&browser.cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("has-error"));
}

#[tokio::test]
async fn a_mailbox_plays_marks_and_deletes_its_messages_within_its_owners_rights() {
    let app = App::new().await;
    let root = std::env::temp_dir().join(format!("sb-voicemail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    app.state.set_recordings_dir(root.join("recordings"));
    let vm_dir = root.join("voicemail").join("1001");
    std::fs::create_dir_all(&vm_dir).unwrap();
    let file = vm_dir.join("msg-1.wav");
    let bytes = wav(4000);
    std::fs::write(&file, &bytes).unwrap();
    let id = app
        .store
        .insert_voicemail(&store::Voicemail {
            id: None,
            extension: "1001".into(),
            caller: "13900000000".into(),
            at: T0,
            path: file.display().to_string(),
            seconds: 1,
            heard: false,
        })
        .await
        .unwrap();
    let (_, owner) = user_with(&app, "owner", "1001", &["voicemail:view"]).await;
    let (_, peer) = user_with(&app, "peer", "1002", &["voicemail:view"]).await;
    let (_, keeper) = user_with(&app, "keeper", "", &["voicemail:manage"]).await;
    let (_, outsider) = user_with(&app, "outsider", "1003", &["records:view"]).await;

    // The owner's own mailbox by default: one new message, with a player.
    let r = app.get("/records/voicemail", Some(&owner.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.matches("data-test=\"vm-row\"").count(), 1);
    assert!(r
        .body
        .contains(&format!("/records/voicemail/{id}/audio?ext=1001")));
    assert!(r.body.contains("data-test=\"vm-mark\""));
    let audio = format!("/records/voicemail/{id}/audio?ext=1001");
    let req = Request::get(&audio)
        .header(header::COOKIE, &owner.cookie)
        .header(header::RANGE, "bytes=0-3")
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body, "RIFF");
    // Another agent may listen (voicemail:view) but not change it.
    let r = app
        .get("/records/voicemail?ext=1001", Some(&peer.cookie))
        .await;
    assert!(!r.body.contains("data-test=\"vm-mark\""));
    let r = app
        .submit(
            &peer,
            &format!("/records/voicemail/{id}/heard"),
            "ext=1001&heard=1",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("/records/voicemail", Some(&outsider.cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The owner marks it heard, then new again.
    let r = app
        .submit(
            &owner,
            &format!("/records/voicemail/{id}/heard"),
            "ext=1001&heard=1",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let counts = app.store.voicemail_counts("1001").await.unwrap();
    assert_eq!((counts.new, counts.old), (0, 1));
    let r = app
        .submit(
            &owner,
            &format!("/records/voicemail/{id}/heard"),
            "ext=1001&heard=0",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.store.voicemail_counts("1001").await.unwrap().new, 1);
    // A message of another mailbox is not found there.
    let r = app
        .submit(
            &keeper,
            &format!("/records/voicemail/{id}/delete"),
            "ext=1002",
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // voicemail:manage deletes it, with its audio.
    let r = app
        .submit(
            &keeper,
            &format!("/records/voicemail/{id}/delete"),
            "ext=1001",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(app.store.list_voicemails("1001").await.unwrap().is_empty());
    assert!(!file.exists(), "the audio is removed with the message");
    let r = app.get(&audio, Some(&owner.cookie)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn each_queue_counts_its_own_target_and_the_occupancy_of_its_agents() {
    let app = App::new().await;
    let (token, _) = user_with(&app, "lead", "", &["reports:view"]).await;
    // support answers within 10 s, sales keeps the default 20 s; agent 1001
    // works support.
    let support = engine::acd::QueueConfig {
        service_level_s: std::time::Duration::from_secs(10),
        ..engine::acd::QueueConfig::named("support")
    };
    app.store
        .upsert_queue("support", &serde_json::to_string(&support).unwrap())
        .await
        .unwrap();
    app.store
        .upsert_queue(
            "sales",
            &serde_json::to_string(&engine::acd::QueueConfig::named("sales")).unwrap(),
        )
        .await
        .unwrap();
    app.store
        .upsert_agent(
            "1001",
            &serde_json::to_string(&engine::acd::AgentConfig::callback("1001", "1001")).unwrap(),
        )
        .await
        .unwrap();
    app.store
        .set_tier(&store::Tier {
            queue: "support".into(),
            agent: "1001".into(),
            level: 1,
            position: 1,
        })
        .await
        .unwrap();
    // One caller in each queue, both answered after 15 s.
    let now = chrono::Local::now().timestamp_millis();
    let ev = |queue: &str, kind: &str, wait: Option<i64>| store::QueueEvent {
        at: now - 60_000,
        queue: queue.into(),
        call_id: format!("{queue}-1"),
        kind: kind.into(),
        wait_secs: wait,
        ..store::QueueEvent::default()
    };
    app.store
        .insert_queue_events(&[
            ev("support", "joined", None),
            ev("support", "answered", Some(15)),
            ev("sales", "joined", None),
            ev("sales", "answered", Some(15)),
        ])
        .await
        .unwrap();
    // 1001 today: 30 min ready, 20 min talking, 10 min after-call work and
    // an hour's break (not staffed): occupancy (20 + 10) / 60.
    let day = store::rollup::day_start(now);
    let period = |state: &str, from_min: i64, to_min: i64| store::AgentStatePeriod {
        agent: "1001".into(),
        state: state.into(),
        reason: String::new(),
        start_at: day + from_min * 60_000,
        end_at: day + to_min * 60_000,
    };
    app.store
        .insert_agent_states(&[
            period("ready", 0, 30),
            period("talking", 30, 50),
            period("acw", 50, 60),
            period("not_ready", 60, 120),
        ])
        .await
        .unwrap();
    let rows = |path: &str| {
        let app = &app;
        let token = token.clone();
        let path = path.to_string();
        async move {
            let r = app.api("GET", &path, Some(&token)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            r.json()["rows"].as_array().cloned().unwrap_or_default()
        }
    };
    let of = |rows: &[serde_json::Value], q: &str| {
        rows.iter()
            .find(|r| r["queue"] == q)
            .cloned()
            .unwrap_or_else(|| panic!("no row of {q}: {rows:?}"))
    };
    // Each queue's own target: 15 s is late for support, in time for sales.
    let own = rows("/api/reports/service-level").await;
    let (s, m) = (of(&own, "support"), of(&own, "sales"));
    assert_eq!(
        (s["target_s"].as_i64(), s["answered_in_target"].as_i64()),
        (Some(10), Some(0))
    );
    assert_eq!(
        (m["target_s"].as_i64(), m["answered_in_target"].as_i64()),
        (Some(20), Some(1))
    );
    assert!((s["occupancy"].as_f64().unwrap() - 0.5).abs() < 1e-9, "{s}");
    // sales has no agents: no staffed time, no occupancy.
    assert!(m["occupancy"].is_null(), "{m}");
    // One target for all when asked.
    let asked = rows("/api/reports/service-level?target_s=15").await;
    assert_eq!(
        of(&asked, "support")["answered_in_target"].as_i64(),
        Some(1)
    );
    assert_eq!(of(&asked, "support")["target_s"].as_i64(), Some(15));
    // The spreadsheet carries both.
    let r = app
        .api("GET", "/api/reports/service-level?format=csv", Some(&token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let header = r.body.lines().next().unwrap_or_default().to_string();
    assert!(header.ends_with("target_s,occupancy_pct"), "{header}");
    assert!(
        r.body
            .lines()
            .any(|l| l.starts_with("support,") && l.ends_with(",10,50.0")),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_year_of_service_level_takes_only_the_targets_the_roll_up_keeps() {
    let app = App::new().await;
    let (token, _) = user_with(&app, "lead", "", &["reports:view"]).await;
    let year = "from=2025-01-01&to=2025-12-31";
    let get = |q: String| {
        let app = &app;
        let token = token.clone();
        async move {
            app.api(
                "GET",
                &format!("/api/reports/service-level?{q}"),
                Some(&token),
            )
            .await
        }
    };
    // A kept target over a year: from the roll-up.
    let r = get(format!("{year}&target_s=30&short_s=10")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Another one would read every raw event of the year: refused, named.
    let r = get(format!("{year}&target_s=25")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "target_s", "{}", r.body);
    let r = get(format!("{year}&short_s=4")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "short_s", "{}", r.body);
    // Over a month any target is counted from the events.
    let r = get("from=2025-03-01&to=2025-03-31&target_s=25&short_s=4".into()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
