//! The agent desk's screen pop (`/desk/pop`, `/desk/history`) and figures
//! of the day (`/desk/today`), over records written straight into the
//! database (no engine: the toolbar's login is put in place as
//! `/desk/login` would).

use axum::http::{header, StatusCode};
use chrono::Local;

use super::{App, Browser, PW};
use crate::auth::password;
use crate::desk::pop::start_of_day;
use crate::desk::{DeskLogin, Phone};

const NUMBER: &str = "13800000000";
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// An agent (user flag) bound to extension `ext`, signed in.
async fn agent(app: &App, username: &str, ext: &str) -> (i64, Browser) {
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
    (id, app.browser(username, PW).await)
}

/// The toolbar of user `id` logged in at `ext` (what `/desk/login` leaves).
fn log_toolbar_in(app: &App, id: i64, ext: &str) {
    app.state.desk_logins().insert(
        id,
        DeskLogin {
            extension: ext.into(),
            phone: Phone::Desk,
            queue_agent: true,
        },
    );
}

/// A complete call, answered after 2 s when `talk` is Some.
fn call(uid: &str, caller: &str, callee: &str, start: i64, talk: Option<i64>) -> store::Cdr {
    let answer = talk.map(|_| start + 2000);
    let end = answer.map_or(start + 15_000, |a| a + talk.unwrap_or(0) * 1000);
    store::Cdr {
        call_uid: Some(uid.into()),
        call_id: format!("{uid}@test"),
        caller: caller.into(),
        callee: callee.into(),
        direction: "inbound".into(),
        start_at: start,
        answer_at: answer,
        end_at: end,
        last_seen_at: Some(end),
        ring_secs: if talk.is_some() { 2 } else { 15 },
        talk_secs: talk.unwrap_or(0),
        hangup_cause: if talk.is_some() {
            "NORMAL_CLEARING"
        } else {
            "NO_ANSWER"
        }
        .into(),
        hangup_by: "caller".into(),
        sip_code: if talk.is_some() { 200 } else { 480 },
        ..Default::default()
    }
}

fn queue_event(uid: &str, at: i64, kind: &str, agent: &str) -> store::QueueEvent {
    store::QueueEvent {
        at,
        queue: "support".into(),
        call_id: format!("{uid}@test"),
        caller: NUMBER.into(),
        agent: Some(agent.into()),
        kind: kind.into(),
        ..Default::default()
    }
}

fn is_json(r: &super::Resp) -> bool {
    r.headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

#[tokio::test]
async fn desk_pop_refuses_a_bad_number_with_a_400_json_and_lists_a_good_ones_calls() {
    let app = App::new().await;
    let (_, b) = agent(&app, "amy", "1001").await;
    let now = Local::now().timestamp_millis();
    // A queue call an hour ago (agent 1001 answered it after 1002 let it
    // ring, recorded), a call to the number yesterday, and one 100 days
    // ago: outside the pop's 90 days, still in its history.
    let recorded = store::Cdr {
        recording_path: Some("media/recordings/q1.wav".into()),
        ..call("q1", NUMBER, "9400", now - HOUR, Some(75))
    };
    app.store
        .upsert_cdrs(&[
            recorded,
            call("o1", "1003", NUMBER, now - DAY, None),
            call("old", NUMBER, "1001", now - 100 * DAY, Some(20)),
            call("other", "13900000000", "1001", now - HOUR, Some(5)),
        ])
        .await
        .unwrap();
    app.store
        .insert_queue_events(&[
            store::QueueEvent {
                agent: None,
                ..queue_event("q1", now - HOUR, "joined", "")
            },
            queue_event("q1", now - HOUR, "offered", "1002"),
            store::QueueEvent {
                reason: Some("no-answer".into()),
                ..queue_event("q1", now - HOUR, "offer_failed", "1002")
            },
            queue_event("q1", now - HOUR, "answered", "1001"),
        ])
        .await
        .unwrap();

    for bad in [
        "/desk/pop",
        "/desk/pop?number=",
        "/desk/pop?number=abc",
        "/desk/pop?number=1000%3Bx",
        "/desk/pop?number=sip%3A1000%40example.com",
        "/desk/pop?number=%3Cscript%3E",
        &format!("/desk/pop?number={}", "9".repeat(33)),
    ] {
        let r = app.get(bad, Some(&b.cookie)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert!(is_json(&r), "{bad}: JSON, not a page");
        let error = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains("number"), "{bad}: {error}");
    }

    let r = app
        .get(&format!("/desk/pop?number={NUMBER}"), Some(&b.cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(is_json(&r));
    let p = r.json();
    assert_eq!(p["number"], NUMBER);
    assert_eq!(p["days"], 90);
    assert_eq!(p["contact"], serde_json::Value::Null);
    let s = &p["summary"];
    assert_eq!(
        (&s["calls"], &s["inbound"], &s["outbound"]),
        (&2.into(), &1.into(), &1.into()),
        "{s}"
    );
    assert_eq!((&s["talk_secs"], &s["ring_secs"]), (&75.into(), &17.into()));
    assert_eq!(s["avg_talk_secs"], 38, "75 s over 2 calls, rounded");
    assert_eq!(s["last_answered_at"], now - HOUR + 2000);
    assert!(s["last_answered"].as_str().is_some_and(|t| !t.is_empty()));
    let calls = p["calls"].as_array().cloned().unwrap_or_default();
    assert_eq!(calls.len(), 3, "{calls:?}");
    let q1 = &calls[0];
    assert_eq!(q1["number_called"], true);
    assert_eq!(q1["other"], "9400");
    assert_eq!(q1["queue"], "support");
    assert_eq!(q1["agent"], "1001");
    assert_eq!(q1["handled_by"], "1001", "the agent who answered");
    assert_eq!(q1["answered"], true);
    assert_eq!(q1["recorded"], true);
    assert_eq!(q1["talk_secs"], 75);
    assert_eq!(q1["hangup_cause"], "NORMAL_CLEARING");
    assert_eq!(q1["direction"], "inbound");
    assert!(q1["start"].as_str().is_some_and(|t| !t.is_empty()));
    let o1 = &calls[1];
    assert_eq!(
        (&o1["number_called"], &o1["other"], &o1["handled_by"]),
        (&false.into(), &"1003".into(), &"1003".into())
    );
    assert_eq!(
        (&o1["answered"], &o1["recorded"]),
        (&false.into(), &false.into())
    );
    assert_eq!(calls[2]["start_at"], now - 100 * DAY);
    assert_eq!(p["more"], format!("/desk/history?number={NUMBER}"));

    // A number with + (percent-encoded in the query): looked up as such.
    let r = app
        .get("/desk/pop?number=%2B8613800000000", Some(&b.cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = r.json();
    assert_eq!(p["number"], "+8613800000000");
    assert_eq!(p["summary"]["calls"], 0);
    assert_eq!(p["summary"]["last_answered_at"], serde_json::Value::Null);
    assert_eq!(p["more"], "/desk/history?number=%2B8613800000000");

    // The "more" link: every call of the number, a page.
    let r = app
        .get(&format!("/desk/history?number={NUMBER}"), Some(&b.cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body.matches("data-test=\"history-row\"").count(), 3);
    assert!(r.body.contains("id=\"history-title\""));
    assert!(r.body.contains(NUMBER));
    assert!(!r.body.contains("13900000000"), "another number's call");
    let r = app
        .get("/desk/history?number=%3Cscript%3E", Some(&b.cookie))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!r.body.contains("<script>"), "never echoed");
    let r = app
        .get(
            "/desk/history?number=13700000000",
            Some(&format!("{}; lang=zh-CN", b.cookie)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("data-test=\"history-empty\""));
    assert!(r.body.contains("13700000000 的通话记录"), "in Chinese");
}

#[tokio::test]
async fn desk_pop_and_figures_are_for_agents_and_the_figures_are_my_own() {
    let app = App::new().await;
    app.user("nora", false).await;
    let nora = app.browser("nora", PW).await;
    for path in [
        "/desk/pop?number=1000",
        "/desk/history?number=1000",
        "/desk/today",
    ] {
        let r = app.get(path, Some(&nora.cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "not an agent: {path}");
        let r = app.get(path, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "not signed in: {path}");
        assert!(
            r.location().starts_with("/login"),
            "{path}: {}",
            r.location()
        );
    }

    let (amy_id, amy) = agent(&app, "amy", "1001").await;
    let (bob_id, bob) = agent(&app, "bob", "1002").await;
    // An agent whose toolbar is not logged in has no extension to count.
    let r = app.get("/desk/today", Some(&amy.cookie)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(is_json(&r));
    assert!(r.json()["error"].as_str().is_some());
    log_toolbar_in(&app, amy_id, "1001");
    log_toolbar_in(&app, bob_id, "1002");

    let r = app.get("/desk/today", Some(&amy.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let f = r.json();
    assert_eq!(f["extension"], "1001");
    assert_eq!(
        (&f["answered"], &f["made"], &f["talk_secs"], &f["missed"]),
        (&0.into(), &0.into(), &0.into(), &0.into()),
        "a day without calls: {f}"
    );
    assert_eq!(f["aht_basis"], "talk");
    assert_eq!(f["since_ms"], start_of_day(Local::now()));

    // Today: 1001 answered two queue calls (40 s and 80 s) and let one
    // ring out, answered a call to its extension (30 s) and made one
    // (10 s), and missed a call to it; 1002 answered one queue call.
    // Yesterday's calls of 1001 do not count.
    let today = start_of_day(Local::now()) + 1000;
    let yesterday = today - DAY;
    let ended = |uid: &str, at: i64, agent: &str, talk: i64| store::QueueEvent {
        talk_secs: Some(talk),
        ..queue_event(uid, at, "ended", agent)
    };
    app.store
        .insert_queue_events(&[
            queue_event("a", today, "answered", "1001"),
            ended("a", today, "1001", 40),
            queue_event("b", today, "answered", "1001"),
            ended("b", today, "1001", 80),
            store::QueueEvent {
                reason: Some("no-answer".into()),
                ..queue_event("c", today, "offer_failed", "1001")
            },
            queue_event("d", today, "answered", "1002"),
            ended("d", today, "1002", 300),
            queue_event("y", yesterday, "answered", "1001"),
            ended("y", yesterday, "1001", 999),
        ])
        .await
        .unwrap();
    app.store
        .upsert_cdrs(&[
            call("d1", "2000", "1001", today, Some(30)),
            call("m1", "1001", "5551234", today, Some(10)),
            call("d0", "2000", "1001", yesterday, Some(30)),
        ])
        .await
        .unwrap();
    app.store
        .insert_missed_call(&store::MissedCall {
            id: None,
            extension: "1001".into(),
            caller: "2001".into(),
            at: today,
        })
        .await
        .unwrap();

    // Asking for another's extension changes nothing: always your own.
    for path in ["/desk/today", "/desk/today?extension=1002"] {
        let f = app.get(path, Some(&amy.cookie)).await.json();
        assert_eq!(f["extension"], "1001", "{path}");
        assert_eq!(
            (&f["answered"], &f["queue_answered"], &f["direct_answered"]),
            (&3.into(), &2.into(), &1.into()),
            "{path}: {f}"
        );
        assert_eq!(f["made"], 1);
        assert_eq!(f["talk_secs"], 40 + 80 + 30 + 10);
        assert_eq!(f["aht_secs"], 40, "160 s over 4 calls");
        assert_eq!(
            (&f["missed"], &f["missed_offers"], &f["missed_direct"]),
            (&2.into(), &1.into(), &1.into())
        );
    }
    let f = app.get("/desk/today", Some(&bob.cookie)).await.json();
    assert_eq!(f["extension"], "1002");
    assert_eq!((&f["answered"], &f["talk_secs"]), (&1.into(), &300.into()));
    assert_eq!(f["missed"], 0);
}

#[tokio::test]
async fn the_desk_page_has_the_pop_and_the_figures_in_both_languages() {
    let app = App::new().await;
    let (id, b) = agent(&app, "amy", "1001").await;
    log_toolbar_in(&app, id, "1001");
    let r = app.get("/desk", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    for id in [
        "id=\"desk-pop\"",
        "id=\"btn-pop\"",
        "id=\"pop-rows\"",
        "id=\"desk-today\"",
        "id=\"today-aht\"",
    ] {
        assert!(r.body.contains(id), "{id}");
    }
    assert!(r.body.contains("Reopen screen pop"));
    let r = app
        .get("/desk", Some(&format!("{}; lang=zh-CN", b.cookie)))
        .await;
    assert!(r.body.contains("重新弹屏"));
    assert!(r.body.contains("今日我的数据"));
    assert!(r.body.contains("电话弹屏"));
}

#[tokio::test]
async fn only_supervisors_see_the_floor_and_act_on_other_agents() {
    let app = App::new().await;
    let (amy_id, amy) = agent(&app, "amy", "1001").await;
    log_toolbar_in(&app, amy_id, "1001");
    let r = app.get("/desk/floor", Some(&amy.cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(is_json(&r));
    for action in ["listen", "whisper", "barge", "takeover", "status"] {
        let r = app
            .submit(
                &amy,
                &format!("/desk/supervise/{action}"),
                "agent=1002&status=logout",
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{action}: {}", r.body);
        assert_eq!(r.json()["error"], "supervisors only");
    }
    // An administrator is a supervisor: the floor answers (no engine, no
    // agents here).
    let admin = app.admin().await;
    let r = app.get("/desk/floor", Some(&admin.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["agents"], serde_json::json!([]));
}
