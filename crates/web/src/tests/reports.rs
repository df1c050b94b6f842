//! The manual's eight reports (`/api/reports/NAME`, `/reports/NAME`) over
//! records written into a real database: each report's figures worked out
//! by hand, in the JSON and in the CSV; the groupings; every bad input a
//! 400 naming its field (a form error on the page), never a 500.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use super::{App, PW};
use crate::api::report_views::{self as views, day_label, Report};
use crate::auth::password;
use store::rollup::{day_start, HOUR_MS};

/// A user `username` with extension `ext`, in `department` if one is
/// named, holding `reports:view`; its API token and signed-in browser.
async fn user_with(
    app: &App,
    username: &str,
    ext: &str,
    department: Option<i64>,
) -> (String, super::Browser) {
    // A supervisor: every agent's figures.
    user_with_rights(
        app,
        username,
        ext,
        department,
        &["reports:view", "records:all"],
    )
    .await
}

async fn user_with_rights(
    app: &App,
    username: &str,
    ext: &str,
    department: Option<i64>,
    perms: &[&str],
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
    let role = app
        .store
        .create_role(
            &format!("{username}-role"),
            "",
            &perms.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    app.store.set_user_roles(id, &[role]).await.unwrap();
    if let Some(d) = department {
        app.store.set_user_departments(id, &[d]).await.unwrap();
    }
    let token = crate::create_api_token(&app.store, username, "reports")
        .await
        .unwrap();
    (token, app.browser(username, PW).await)
}

/// The local midnight of the test's day (a Thursday, 2026-05-28 in most
/// zones).
fn d0() -> i64 {
    day_start(1_780_000_000_000)
}

/// A complete call starting `at`: answered after `ring` seconds with
/// `talk` seconds of conversation (queue calls: `wait` seconds waiting,
/// included in `talk` as the engine writes it, the rest the agent's), or
/// not answered.
#[allow(clippy::too_many_arguments)]
fn call(
    uid: &str,
    at: i64,
    direction: &str,
    answered: bool,
    ring: i64,
    talk: i64,
    agent: Option<&str>,
    queue: Option<&str>,
    wait: i64,
) -> store::Cdr {
    let answer = at + ring * 1000;
    store::Cdr {
        call_uid: Some(uid.into()),
        call_id: format!("{uid}@test"),
        caller: "13800000000".into(),
        callee: agent.unwrap_or("400").into(),
        direction: direction.into(),
        start_at: at,
        answer_at: answered.then_some(answer),
        end_at: if answered {
            answer + talk * 1000
        } else {
            answer
        },
        ring_secs: ring,
        talk_secs: if answered { talk } else { 0 },
        hangup_cause: "normal_clearing".into(),
        hangup_by: "caller".into(),
        sip_code: if answered { 200 } else { 480 },
        agent: agent.map(str::to_string),
        queue: queue.map(str::to_string),
        wait_secs: wait,
        agent_secs: if answered && queue.is_some() {
            talk - wait
        } else {
            0
        },
        ..store::Cdr::default()
    }
}

/// The test's records: alice (1001, Sales) takes three queue calls of
/// `sales` (60, 120 and 30 s of talk after waits of 10, 20 and 5 s) and
/// one caller gives up after 30 s; she places two outbound calls (one
/// answered after 5 s, 30 s; one not, 15 s ringing). Bob (1002, Support)
/// takes an internal call (3 s ring, 40 s) and a direct inbound one (4 s,
/// 50 s); the next day one more internal call (2 s, 20 s). Surveys: alice
/// 1 (satisfied) and 3 (unsatisfied) in sales, bob 2 (neutral) in
/// support. Alice's work states on the day.
async fn seed(app: &App) -> (String, super::Browser) {
    let sales = app
        .store
        .create_department(&store::DepartmentFields {
            name: "Sales".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let support = app
        .store
        .create_department(&store::DepartmentFields {
            name: "Support".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (token, browser) = user_with(app, "alice", "1001", Some(sales)).await;
    user_with(app, "bob", "1002", Some(support)).await;
    let d = d0();
    let h = |hour: i64, min: i64| d + hour * HOUR_MS + min * 60_000;
    let q = Some("sales");
    let a = Some("1001");
    let b = Some("1002");
    app.store
        .upsert_cdrs(&[
            call("q1", h(10, 0), "inbound", true, 10, 70, a, q, 10),
            call("q2", h(10, 5), "inbound", true, 20, 140, a, q, 20),
            call("q3", h(10, 10), "inbound", false, 30, 0, None, q, 30),
            call("q4", h(10, 20), "inbound", true, 5, 35, a, q, 5),
            call("o1", h(14, 0), "outbound", true, 5, 30, a, None, 0),
            call("o2", h(14, 10), "outbound", false, 15, 0, a, None, 0),
            call("i1", h(9, 0), "internal", true, 3, 40, b, None, 0),
            call("x1", h(9, 30), "inbound", true, 4, 50, b, None, 0),
            call("i2", h(24 + 9, 0), "internal", true, 2, 20, b, None, 0),
        ])
        .await
        .unwrap();
    for (call_id, agent, queue, score) in [
        ("q1@test", "1001", "sales", 1),
        ("q2@test", "1001", "sales", 3),
        ("z@test", "1002", "support", 2),
    ] {
        app.store
            .insert_survey(&store::Survey {
                id: None,
                call_id: call_id.into(),
                agent: Some(agent.into()),
                queue: Some(queue.into()),
                score,
                at: h(11, 0),
            })
            .await
            .unwrap();
    }
    let period =
        |agent: &str, state: &str, reason: &str, from: i64, to: i64| store::AgentStatePeriod {
            agent: agent.into(),
            state: state.into(),
            reason: reason.into(),
            start_at: from,
            end_at: to,
        };
    app.store
        .insert_agent_states(&[
            period("1001", "ready", "", h(9, 0), h(10, 0)),
            period("1001", "not_ready", "rest", h(10, 0), h(10, 15)),
            period("1001", "not_ready", "meal", h(10, 15), h(10, 45)),
            period("1001", "not_ready", "", h(10, 45), h(10, 50)),
            period("1001", "talking", "", h(10, 50), h(11, 0)),
            period("1001", "acw", "", h(11, 0), h(11, 5)),
            period("1001", "ringing", "", h(11, 5), h(11, 6)),
            period("1001", "idle", "", h(11, 6), h(11, 16)),
            period("1001", "logged_out", "", h(11, 16), h(12, 0)),
            period("1002", "ready", "", h(24 + 8, 0), h(24 + 9, 0)),
        ])
        .await
        .unwrap();
    (token, browser)
}

/// `GET /api/reports/NAME?QUERY` as JSON, checked to be a 200.
async fn report_json(app: &App, token: &str, name: &str, query: &str) -> serde_json::Value {
    let r = app
        .api("GET", &format!("/api/reports/{name}?{query}"), Some(token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{name}?{query}: {}", r.body);
    r.json()
}

/// The rows of a JSON report as lists of their values.
fn values(j: &serde_json::Value) -> Vec<Vec<serde_json::Value>> {
    let columns: Vec<String> = j["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| columns.iter().map(|c| r[c].clone()).collect())
        .collect()
}

/// The CSV of a report: its header line and rows, as text.
async fn report_csv(app: &App, token: &str, name: &str, query: &str) -> Vec<String> {
    let r = app
        .api(
            "GET",
            &format!("/api/reports/{name}?{query}&format=csv"),
            Some(token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let book = sheets::read(r.body.as_bytes(), &sheets::Limits::default()).unwrap();
    std::iter::once(book.headers.join(","))
        .chain(book.rows.iter().map(|r| r.cells.join(",")))
        .collect()
}

fn day_query() -> String {
    let d = day_label(d0());
    format!("from={d}&to={d}")
}

#[tokio::test]
async fn the_traffic_report_counts_each_agent_kind_and_outcome() {
    let app = App::new().await;
    let (token, _) = seed(&app).await;
    let j = report_json(&app, &token, "traffic", &day_query()).await;
    assert_eq!(j["report"], "traffic");
    assert_eq!(j["from"], d0());
    assert_eq!(
        j["columns"],
        serde_json::json!([
            "agent",
            "username",
            "kind",
            "lost",
            "calls",
            "talk_s",
            "avg_talk_s",
            "avg_ring_s"
        ])
    );
    use serde_json::json;
    assert_eq!(
        values(&j),
        vec![
            vec![
                json!(""),
                json!(""),
                json!("inbound_queue"),
                json!(1),
                json!(1),
                json!(0),
                json!(0.0),
                json!(30.0)
            ],
            vec![
                json!("1001"),
                json!("alice"),
                json!("inbound_queue"),
                json!(0),
                json!(3),
                json!(210),
                json!(70.0),
                json!(11.67)
            ],
            vec![
                json!("1001"),
                json!("alice"),
                json!("outbound"),
                json!(0),
                json!(1),
                json!(30),
                json!(30.0),
                json!(5.0)
            ],
            vec![
                json!("1001"),
                json!("alice"),
                json!("outbound"),
                json!(1),
                json!(1),
                json!(0),
                json!(0.0),
                json!(15.0)
            ],
            vec![
                json!("1002"),
                json!("bob"),
                json!("inbound"),
                json!(0),
                json!(1),
                json!(50),
                json!(50.0),
                json!(4.0)
            ],
            vec![
                json!("1002"),
                json!("bob"),
                json!("internal"),
                json!(0),
                json!(1),
                json!(40),
                json!(40.0),
                json!(3.0)
            ],
        ]
    );
    assert_eq!(
        report_csv(&app, &token, "traffic", &day_query()).await,
        vec![
            "agent,username,kind,lost,calls,talk_s,avg_talk_s,avg_ring_s",
            ",,inbound_queue,1,1,0,0.00,30.00",
            "1001,alice,inbound_queue,0,3,210,70.00,11.67",
            "1001,alice,outbound,0,1,30,30.00,5.00",
            "1001,alice,outbound,1,1,0,0.00,15.00",
            "1002,bob,inbound,0,1,50,50.00,4.00",
            "1002,bob,internal,0,1,40,40.00,3.00",
        ]
    );
    // Lost calls only; one agent; by department.
    let j = report_json(
        &app,
        &token,
        "traffic",
        &format!("{}&status=lost", day_query()),
    )
    .await;
    let keys: Vec<_> = values(&j)
        .iter()
        .map(|r| (r[0].clone(), r[2].clone()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (json!(""), json!("inbound_queue")),
            (json!("1001"), json!("outbound"))
        ]
    );
    let j = report_json(
        &app,
        &token,
        "traffic",
        &format!("{}&agent=1002", day_query()),
    )
    .await;
    assert_eq!(j["rows"].as_array().unwrap().len(), 2);
    let j = report_json(
        &app,
        &token,
        "traffic",
        &format!("{}&group=department", day_query()),
    )
    .await;
    assert_eq!(j["columns"][0], "department");
    assert_eq!(j["columns"][1], "kind");
    let firsts: Vec<_> = values(&j).iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        firsts,
        vec![
            json!(""),
            json!("Sales"),
            json!("Sales"),
            json!("Sales"),
            json!("Support"),
            json!("Support")
        ]
    );
}

#[tokio::test]
async fn the_agent_traffic_report_leaves_out_calls_nobody_took_and_groups_by_period() {
    use serde_json::json;
    let app = App::new().await;
    let (token, _) = seed(&app).await;
    let j = report_json(&app, &token, "agent-traffic", &day_query()).await;
    assert_eq!(
        values(&j),
        vec![
            vec![
                json!("1001"),
                json!("alice"),
                json!(0),
                json!(4),
                json!(240),
                json!(60.0),
                json!(10.0)
            ],
            vec![
                json!("1001"),
                json!("alice"),
                json!(1),
                json!(1),
                json!(0),
                json!(0.0),
                json!(15.0)
            ],
            vec![
                json!("1002"),
                json!("bob"),
                json!(0),
                json!(2),
                json!(90),
                json!(45.0),
                json!(3.5)
            ],
        ]
    );
    assert_eq!(
        report_csv(&app, &token, "agent-traffic", &day_query()).await,
        vec![
            "agent,username,lost,calls,talk_s,avg_talk_s,avg_ring_s",
            "1001,alice,0,4,240,60.00,10.00",
            "1001,alice,1,1,0,0.00,15.00",
            "1002,bob,0,2,90,45.00,3.50",
        ]
    );
    // Two days: per day, then the week and month that hold both.
    let (d1, d2) = (day_label(d0()), day_label(d0() + 30 * HOUR_MS));
    let two = format!("from={d1}&to={d2}");
    let j = report_json(&app, &token, "agent-traffic", &format!("{two}&group=day")).await;
    assert_eq!(
        values(&j),
        vec![
            vec![
                json!(d1),
                json!(0),
                json!(6),
                json!(330),
                json!(55.0),
                json!(7.83)
            ],
            vec![
                json!(d1),
                json!(1),
                json!(1),
                json!(0),
                json!(0.0),
                json!(15.0)
            ],
            vec![
                json!(d2),
                json!(0),
                json!(1),
                json!(20),
                json!(20.0),
                json!(2.0)
            ],
        ]
    );
    let j = report_json(&app, &token, "agent-traffic", &format!("{two}&group=week")).await;
    let week = views::week_label(d0());
    assert_eq!(
        values(&j),
        vec![
            vec![
                json!(week),
                json!(0),
                json!(7),
                json!(350),
                json!(50.0),
                json!(7.0)
            ],
            vec![
                json!(week),
                json!(1),
                json!(1),
                json!(0),
                json!(0.0),
                json!(15.0)
            ],
        ]
    );
    let j = report_json(&app, &token, "agent-traffic", &format!("{two}&group=month")).await;
    assert_eq!(j["rows"][0]["month"], views::month_label(d0()));
    assert_eq!(j["rows"][0]["calls"], 7);
}

#[tokio::test]
async fn the_work_time_report_sums_each_state_and_break_reason() {
    let app = App::new().await;
    let (token, _) = seed(&app).await;
    let j = report_json(&app, &token, "work-time", &day_query()).await;
    let row = &j["rows"][0];
    assert_eq!(j["rows"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(
        (row["agent"].as_str(), row["username"].as_str()),
        (Some("1001"), Some("alice"))
    );
    for (col, secs) in [
        ("ready_s", 3600),
        ("not_ready_s", 3000),
        ("not_ready_rest_s", 900),
        ("not_ready_meal_s", 1800),
        ("not_ready_meeting_s", 0),
        ("not_ready_training_s", 0),
        ("not_ready_other_s", 300),
        ("idle_s", 600),
        ("ringing_s", 60),
        ("talking_s", 600),
        ("acw_s", 300),
        ("total_s", 8160),
    ] {
        assert_eq!(row[col], secs, "{col}");
    }
    assert_eq!(
        report_csv(&app, &token, "work-time", &day_query()).await,
        vec![
            "agent,username,ready_s,not_ready_s,not_ready_rest_s,not_ready_meal_s,not_ready_meeting_s,not_ready_training_s,not_ready_other_s,idle_s,ringing_s,talking_s,acw_s,total_s",
            "1001,alice,3600,3000,900,1800,0,0,300,600,60,600,300,8160",
        ]
    );
    // Two days, by day; one agent.
    let (d1, d2) = (day_label(d0()), day_label(d0() + 30 * HOUR_MS));
    let j = report_json(
        &app,
        &token,
        "work-time",
        &format!("from={d1}&to={d2}&group=day"),
    )
    .await;
    let days: Vec<_> = values(&j)
        .iter()
        .map(|r| (r[0].clone(), r[12].clone()))
        .collect();
    assert_eq!(
        days,
        vec![
            (serde_json::json!(d1), serde_json::json!(8160)),
            (serde_json::json!(d2), serde_json::json!(3600))
        ]
    );
    let j = report_json(
        &app,
        &token,
        "work-time",
        &format!("from={d1}&to={d2}&agent=1002"),
    )
    .await;
    assert_eq!(values(&j).len(), 1);
    assert_eq!(j["rows"][0]["username"], "bob");
    assert_eq!(j["rows"][0]["total_s"], 3600);
}

#[tokio::test]
async fn the_inbound_and_outbound_reports_give_counts_sums_and_extremes() {
    use serde_json::json;
    let app = App::new().await;
    let (token, _) = seed(&app).await;
    let j = report_json(&app, &token, "inbound", &day_query()).await;
    assert_eq!(
        values(&j),
        vec![
            vec![
                json!(""),
                json!(""),
                json!(1),
                json!(0),
                json!(0),
                json!(0.0),
                json!(0),
                json!(0),
                json!(30),
                json!(30.0)
            ],
            vec![
                json!("1001"),
                json!("alice"),
                json!(3),
                json!(3),
                json!(210),
                json!(70.0),
                json!(120),
                json!(30),
                json!(20),
                json!(11.67)
            ],
            vec![
                json!("1002"),
                json!("bob"),
                json!(1),
                json!(1),
                json!(50),
                json!(50.0),
                json!(50),
                json!(50),
                json!(4),
                json!(4.0)
            ],
        ]
    );
    assert_eq!(
        report_csv(&app, &token, "inbound", &day_query()).await,
        vec![
            "agent,username,calls,answered,talk_s,avg_talk_s,max_talk_s,min_talk_s,max_ring_s,avg_ring_s",
            ",,1,0,0,0.00,0,0,30,30.00",
            "1001,alice,3,3,210,70.00,120,30,20,11.67",
            "1002,bob,1,1,50,50.00,50,50,4,4.00",
        ]
    );
    // By queue: the lost caller brings the shortest talk to 0.
    let j = report_json(
        &app,
        &token,
        "inbound",
        &format!("{}&group=queue", day_query()),
    )
    .await;
    assert_eq!(
        values(&j),
        vec![
            vec![
                json!(""),
                json!(1),
                json!(1),
                json!(50),
                json!(50.0),
                json!(50),
                json!(50),
                json!(4),
                json!(4.0)
            ],
            vec![
                json!("sales"),
                json!(4),
                json!(3),
                json!(210),
                json!(52.5),
                json!(120),
                json!(0),
                json!(30),
                json!(16.25)
            ],
        ]
    );
    let j = report_json(
        &app,
        &token,
        "inbound",
        &format!("{}&status=answered&queue=sales", day_query()),
    )
    .await;
    assert_eq!(values(&j).len(), 1);
    assert_eq!(j["rows"][0]["calls"], 3);
    let j = report_json(&app, &token, "outbound", &day_query()).await;
    assert_eq!(
        values(&j),
        vec![vec![
            json!("1001"),
            json!("alice"),
            json!(2),
            json!(1),
            json!(30),
            json!(15.0),
            json!(30),
            json!(0),
            json!(15),
            json!(10.0)
        ]]
    );
    assert_eq!(
        report_csv(&app, &token, "outbound", &day_query()).await,
        vec![
            "agent,username,calls,answered,talk_s,avg_talk_s,max_talk_s,min_talk_s,max_ring_s,avg_ring_s",
            "1001,alice,2,1,30,15.00,30,0,15,10.00",
        ]
    );
}

#[tokio::test]
async fn the_satisfaction_report_maps_the_survey_keys_and_counts_the_unrated() {
    use serde_json::json;
    let app = App::new().await;
    let (token, _) = seed(&app).await;
    let j = report_json(&app, &token, "satisfaction", &day_query()).await;
    // Alice: 1 satisfied, 1 unsatisfied, 1 of her 3 queue calls unrated.
    // Bob: 1 neutral, no queue call of his.
    assert_eq!(
        values(&j),
        vec![
            vec![
                json!("1001"),
                json!("alice"),
                json!(1),
                json!(0),
                json!(1),
                json!(1),
                json!(3),
                json!(33.33),
                json!(0.0),
                json!(33.33)
            ],
            vec![
                json!("1002"),
                json!("bob"),
                json!(0),
                json!(1),
                json!(0),
                json!(0),
                json!(1),
                json!(0.0),
                json!(100.0),
                json!(0.0)
            ],
        ]
    );
    assert_eq!(
        report_csv(&app, &token, "satisfaction", &day_query()).await,
        vec![
            "agent,username,satisfied,neutral,unsatisfied,unrated,total,satisfied_pct,neutral_pct,unsatisfied_pct",
            "1001,alice,1,0,1,1,3,33.33,0.00,33.33",
            "1002,bob,0,1,0,0,1,0.00,100.00,0.00",
        ]
    );
    let j = report_json(
        &app,
        &token,
        "satisfaction",
        &format!("{}&queue=sales", day_query()),
    )
    .await;
    assert_eq!(values(&j).len(), 1);
    let j = report_json(
        &app,
        &token,
        "satisfaction",
        &format!("{}&group=queue", day_query()),
    )
    .await;
    let firsts: Vec<_> = values(&j)
        .iter()
        .map(|r| (r[0].clone(), r[5].clone()))
        .collect();
    assert_eq!(
        firsts,
        vec![(json!("sales"), json!(3)), (json!("support"), json!(1))]
    );
}

#[tokio::test]
async fn the_hourly_report_gives_every_hour_of_the_day() {
    use serde_json::json;
    let app = App::new().await;
    let (token, _) = seed(&app).await;
    let j = report_json(&app, &token, "hourly", &day_query()).await;
    let rows = values(&j);
    assert_eq!(rows.len(), 24);
    assert_eq!(
        j["columns"],
        json!([
            "hour",
            "calls",
            "internal",
            "inbound",
            "outbound",
            "internal_queue",
            "inbound_queue",
            "answered",
            "lost",
            "talk_s"
        ])
    );
    let hour = |h: usize| {
        rows[h]
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(hour(9), vec![9, 2, 1, 1, 0, 0, 0, 2, 0, 90]);
    assert_eq!(hour(10), vec![10, 4, 0, 0, 0, 0, 4, 3, 1, 210]);
    assert_eq!(hour(14), vec![14, 2, 0, 0, 2, 0, 0, 1, 1, 30]);
    assert_eq!(hour(0), vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let csv = report_csv(&app, &token, "hourly", &day_query()).await;
    assert_eq!(csv.len(), 25);
    assert_eq!(csv[11], "10,4,0,0,0,0,4,3,1,210");
    // One queue; per day and hour over two days.
    let j = report_json(
        &app,
        &token,
        "hourly",
        &format!("{}&queue=sales", day_query()),
    )
    .await;
    let total: i64 = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["calls"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 4);
    let (d1, d2) = (day_label(d0()), day_label(d0() + 30 * HOUR_MS));
    let j = report_json(
        &app,
        &token,
        "hourly",
        &format!("from={d1}&to={d2}&group=day"),
    )
    .await;
    let keys: Vec<_> = values(&j)
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (json!(d1), json!(9), json!(2)),
            (json!(d1), json!(10), json!(4)),
            (json!(d1), json!(14), json!(2)),
            (json!(d2), json!(9), json!(1)),
        ]
    );
}

#[tokio::test]
async fn the_ticket_report_counts_per_period_department_type_and_status() {
    use serde_json::json;
    let app = App::new().await;
    let (token, _) = seed(&app).await;
    let requester = app.user("requester", false).await;
    let departments = app.store.list_departments().await.unwrap();
    let sales = departments.iter().find(|d| d.name == "Sales").unwrap().id;
    let fault = app.store.create_ticket_category("Fault").await.unwrap();
    let mut ids = Vec::new();
    for (department, category) in [
        (Some(sales), Some(fault)),
        (Some(sales), None),
        (None, Some(fault)),
    ] {
        let f = store::TicketFields {
            title: "t".into(),
            requester_id: Some(requester),
            department_id: department,
            category_id: category,
            ..Default::default()
        };
        ids.push(app.store.create_ticket(f, Some(requester)).await.unwrap());
    }
    let mut closed = app.store.get_ticket(ids[0]).await.unwrap().unwrap().fields;
    closed.status = "closed".into();
    app.store
        .update_ticket(ids[0], closed, Some(requester))
        .await
        .unwrap();
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let j = report_json(&app, &token, "tickets", "").await;
    assert_eq!(
        j["columns"],
        json!(["day", "tickets", "new", "replied", "closed", "reopened"])
    );
    assert_eq!(
        values(&j),
        vec![vec![
            json!(today),
            json!(3),
            json!(2),
            json!(0),
            json!(1),
            json!(0)
        ]]
    );
    assert_eq!(
        report_csv(&app, &token, "tickets", "").await,
        vec![
            "day,tickets,new,replied,closed,reopened".to_string(),
            format!("{today},3,2,0,1,0"),
        ]
    );
    let j = report_json(&app, &token, "tickets", "group=department").await;
    assert_eq!(
        values(&j),
        vec![
            vec![json!(""), json!(1), json!(1), json!(0), json!(0), json!(0)],
            vec![
                json!("Sales"),
                json!(2),
                json!(1),
                json!(0),
                json!(1),
                json!(0)
            ],
        ]
    );
    let j = report_json(&app, &token, "tickets", "group=type").await;
    let by_type: Vec<_> = values(&j)
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_eq!(
        by_type,
        vec![(json!(""), json!(1)), (json!("Fault"), json!(2))]
    );
    let j = report_json(
        &app,
        &token,
        "tickets",
        &format!("department={sales}&type={fault}&status=closed"),
    )
    .await;
    assert_eq!(
        values(&j),
        vec![vec![
            json!(today),
            json!(1),
            json!(0),
            json!(0),
            json!(1),
            json!(0)
        ]]
    );
    let j = report_json(&app, &token, "tickets", "group=month").await;
    assert_eq!(
        j["rows"][0]["month"],
        chrono::Local::now().format("%Y-%m").to_string()
    );
    // Yesterday had none.
    let yesterday = (chrono::Local::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let j = report_json(
        &app,
        &token,
        "tickets",
        &format!("from={yesterday}&to={yesterday}"),
    )
    .await;
    assert!(j["rows"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_pages_show_the_chart_the_table_and_the_export_links_and_exports_are_audited() {
    let app = App::new().await;
    let (token, browser) = seed(&app).await;
    for report in Report::ALL {
        let path = format!("/reports/{}?{}", report.name(), day_query());
        let r = app.get(&path, Some(&browser.cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert!(r.body.contains("data-test=\"report-table\""), "{path}");
        assert!(
            r.body.contains(&format!("/api/reports/{}?", report.name())),
            "{path}"
        );
        assert!(
            r.body.contains("format=xlsx") && r.body.contains("format=csv"),
            "{path}"
        );
        if report != Report::Tickets {
            assert!(
                r.body.contains("data-test=\"report-chart\"") && r.body.contains("<svg"),
                "{path}"
            );
        }
    }
    // The traffic page: alice's queue calls, the kind translated, talk as
    // minutes and seconds.
    let r = app
        .get(
            &format!("/reports/traffic?{}", day_query()),
            Some(&browser.cookie),
        )
        .await;
    assert!(r.body.contains("Inbound to queue"), "{}", r.body);
    assert!(
        r.body
            .contains("<td data-col=\"talk_s\" class=\"num\" data-value=\"210\">3:30</td>"),
        "{}",
        r.body
    );
    // An unknown report is a 404.
    let r = app.get("/reports/nothing", Some(&browser.cookie)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Excel: read back, and written to the audit log.
    let req = Request::get(format!("/api/reports/inbound?{}&format=xlsx", day_query()))
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
    assert_eq!(book.headers[0], "agent");
    assert_eq!(book.rows[1].cells[..4], ["1001", "alice", "3", "3"]);
    let audit = app
        .store
        .search_audit(&store::AuditQuery {
            action: "export".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.total, 1, "{:?}", audit.entries);
    assert!(audit.entries[0]
        .params
        .contains("3 rows of inbound as xlsx"));
    // Without reports:view: refused.
    app.user("plain", false).await;
    let tok = crate::create_api_token(&app.store, "plain", "t")
        .await
        .unwrap();
    let r = app.api("GET", "/api/reports/traffic", Some(&tok)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Every report refuses `query` with a 400 naming `field` (a form error
/// on the page).
async fn refused_everywhere(query: &str, field: &str) {
    let app = App::new().await;
    let (token, browser) = user_with(&app, "lead", "", None).await;
    for report in Report::ALL {
        let name = report.name();
        let r = app
            .api("GET", &format!("/api/reports/{name}?{query}"), Some(&token))
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{name}?{query}: {}",
            r.body
        );
        assert_eq!(r.json()["field"], field, "{name}?{query}");
        assert!(r.json()["error"].is_string(), "{name}?{query}");
        if field != "format" {
            let r = app
                .get(&format!("/reports/{name}?{query}"), Some(&browser.cookie))
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "page {name}?{query}");
            assert!(
                r.body.contains(&format!("data-test=\"error-{field}\"")),
                "page {name}?{query}: {}",
                r.body
            );
        }
    }
}

#[tokio::test]
async fn an_inverted_range_is_refused() {
    refused_everywhere("from=2026-03-02&to=2026-03-01", "to").await;
}

#[tokio::test]
async fn an_empty_range_is_refused() {
    refused_everywhere("from=2026-03-02T10:00&to=2026-03-02T10:00", "to").await;
}

#[tokio::test]
async fn a_range_over_ten_years_is_refused() {
    refused_everywhere("from=2000-01-01&to=2026-01-01", "to").await;
}

#[tokio::test]
async fn a_bad_date_is_refused() {
    refused_everywhere("from=soon", "from").await;
}

#[tokio::test]
async fn an_unknown_grouping_is_refused() {
    refused_everywhere("group=year", "group").await;
    // A grouping another report has.
    let app = App::new().await;
    let (token, _) = user_with(&app, "lead", "", None).await;
    for (name, group) in [
        ("hourly", "agent"),
        ("tickets", "agent"),
        ("outbound", "queue"),
        ("work-time", "type"),
    ] {
        let r = app
            .api(
                "GET",
                &format!("/api/reports/{name}?group={group}"),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name} {group}");
        assert_eq!(r.json()["field"], "group");
    }
}

#[tokio::test]
async fn an_unknown_format_is_refused() {
    refused_everywhere("format=pdf", "format").await;
}

#[tokio::test]
async fn a_bad_status_is_refused() {
    let app = App::new().await;
    let (token, browser) = user_with(&app, "lead", "", None).await;
    // A call status where a ticket status is due and the other way round.
    for (name, status) in [
        ("traffic", "closed"),
        ("agent-traffic", "maybe"),
        ("inbound", "new"),
        ("outbound", "x"),
        ("tickets", "lost"),
    ] {
        let r = app
            .api(
                "GET",
                &format!("/api/reports/{name}?status={status}"),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name} {status}");
        assert_eq!(r.json()["field"], "status");
        let r = app
            .get(
                &format!("/reports/{name}?status={status}"),
                Some(&browser.cookie),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("data-test=\"error-status\""));
    }
    // Bad ticket filters: not ids.
    for q in ["department=sales", "type=-1"] {
        let r = app
            .api("GET", &format!("/api/reports/tickets?{q}"), Some(&token))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.json()["field"], q.split('=').next().unwrap());
    }
}

#[test]
fn weeks_start_on_monday_and_take_the_iso_year() {
    let day = |d: &str| day_start(crate::api::records::local_time(d, false).unwrap());
    assert_eq!(views::week_label(day("2021-01-03")), "2020-W53");
    assert_eq!(views::week_label(day("2021-01-04")), "2021-W01");
    assert_eq!(views::week_label(day("2026-05-31")), "2026-W22");
    assert_eq!(views::week_label(day("2026-05-25")), "2026-W22");
    assert_eq!(views::week_label(day("2026-06-01")), "2026-W23");
    assert_eq!(views::month_label(day("2026-05-31")), "2026-05");
    assert_eq!(views::day_label(day("2026-05-31")), "2026-05-31");
    assert_eq!(views::hms(3725), "1:02:05");
    assert_eq!(views::hms(210), "3:30");
}

#[test]
fn the_folds_add_sums_and_keep_extremes() {
    let row = |day: i64, agent: &str, lost: bool, calls: i64, talk: i64, max: i64, min: i64| {
        store::AgentCallRow {
            day: Some(day),
            agent: agent.into(),
            kind: "inbound".into(),
            queue: String::new(),
            lost,
            sums: store::rollup::CallSums {
                calls,
                talk_secs: talk,
                ring_secs: calls,
                max_talk_secs: max,
                min_talk_secs: min,
                max_ring_secs: 1,
            },
        }
    };
    let d = d0();
    let rows = [
        row(d, "1001", false, 2, 100, 80, 20),
        row(store::rollup::next_day_start(d), "1001", false, 1, 5, 5, 5),
        row(d, "1001", true, 1, 0, 0, 0),
    ];
    let dir = views::Directory::default();
    let t = views::direction(views::Group::Month, &dir, &rows);
    assert_eq!(t.rows.len(), 1);
    use views::Cell::*;
    assert_eq!(
        t.rows[0][1..],
        [
            Int(4),
            Int(3),
            Secs(105),
            Avg(Some(26.25)),
            Secs(80),
            Secs(0),
            Secs(1),
            Avg(Some(1.0))
        ]
    );
    assert_eq!(t.chart[0].value, 4);
    assert_eq!(t.chart[0].failed, 1);
}

#[tokio::test]
async fn without_records_all_an_agent_sees_only_its_own_figures() {
    let app = App::new().await;
    let (_, _) = seed(&app).await;
    // bob (1002) may read reports but not every call: his own rows only,
    // whatever agent he asks for; the hourly totals stay the floor's.
    let (token, _) = user_with_rights(&app, "bob2", "1002", None, &["reports:view"]).await;
    for name in [
        "agent-traffic",
        "traffic",
        "inbound",
        "work-time",
        "satisfaction",
    ] {
        let j = report_json(&app, &token, name, &day_query()).await;
        let rows = j["rows"].as_array().cloned().unwrap_or_default();
        assert!(
            rows.iter().all(|r| r["agent"] == "1002"),
            "{name}: {rows:?}"
        );
        let asked = report_json(&app, &token, name, &format!("{}&agent=1001", day_query())).await;
        assert!(
            asked["rows"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|r| r["agent"] != "1001"),
            "{name}: {asked}"
        );
    }
    let j = report_json(&app, &token, "agent-traffic", &day_query()).await;
    assert!(
        !j["rows"].as_array().cloned().unwrap_or_default().is_empty(),
        "{j}"
    );
    // A user with no extension sees no agent's rows.
    let (token, _) = user_with_rights(&app, "nobody", "", None, &["reports:view"]).await;
    let j = report_json(&app, &token, "agent-traffic", &day_query()).await;
    assert_eq!(j["rows"], serde_json::json!([]), "{j}");
}
