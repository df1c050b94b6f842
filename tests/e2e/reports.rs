//! Records and reports end to end (issue 17): SIPp callers through a queue
//! with a SIPp agent — two who give up (after 3 s, a short abandon, and
//! after 30 s), one the agent answers who rates the call, one the agent
//! answers who does not — and then the call history, the waiting list, the
//! agent's work-state log and the reports show exactly those calls, with
//! the service level, ASA, AHT and abandon rate computed here by hand.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{free_udp_port, Server};
use crate::sipp::Sipp;
use crate::web_client::Browser;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Queue "support" (9400) with the survey, agent 1001 (no wrap-up).
const CONFIG: &str = "[apps]\nqueues = { \"9400\" = \"support\" }\n\n\
    [[callcenter.queues]]\nname = \"support\"\nstrategy = \"longest-idle-agent\"\n\
    survey = true\n\n\
    [[callcenter.agents]]\nid = \"1001\"\ncontact = \"1001\"\nwrap-up-time = 0\n\n\
    [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1001\"\n";

/// How long the SIPp agent talks (ms).
const TALK_MS: u64 = 2000;

fn post(server: &Server, path: &str) {
    let (code, body) = server.http_post(path).expect(path);
    assert_eq!(code, 200, "{path}: {body}");
}

fn get_json(server: &Server, path: &str) -> Value {
    let (code, body) = server.http_get(path).expect(path);
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// A SIPp caller from extension `ext` into the queue.
fn caller(server: &Server, name: &str, scenario: &str, ext: &'static str) -> Sipp {
    Sipp::new(name, scenario)
        .remote(server.sip_addr())
        .users(&[(ext, "secret")])
        .service("9400")
        .media("127.0.0.1", server.ports.media_port(2))
}

/// Polls `cond` every 100 ms for up to `secs` seconds.
async fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn queue_calls_answered_abandoned_and_rated_are_in_the_history_and_the_reports() {
    let server = Server::builder("reports_e2e")
        .extensions("1000-1009", "secret")
        .config(CONFIG)
        .start();
    let web = Browser::admin(&server);
    let uas_port = free_udp_port();
    crate::registrar::sipp_register(&server, "1001", uas_port).await;
    // The agent is on a meal break while two callers wait and give up.
    post(
        &server,
        "/api/agents/1001/status?status=on_break&reason=meal",
    );
    let short = caller(&server, "reports-abandon-3s", "uac_call", "1002")
        .pause_ms(3000)
        .spawn();
    let long = caller(&server, "reports-abandon-30s", "uac_call", "1003")
        .pause_ms(30_000)
        .spawn();
    // Both are on the waiting list, then the first gives up.
    wait_until("two callers waiting", 10, || {
        let (_, page) = web.get("/records/waiting?fragment=1");
        page.contains("data-test=\"waiting-caller\">1002<")
            && page.contains("data-test=\"waiting-caller\">1003<")
    })
    .await;
    // The wallboard shows them, and the agent's tile on break.
    wait_until("the wallboard's two callers", 10, || {
        let (_, wall) = web.get("/records/wallboard?fragment=1");
        wall.contains("data-test=\"wall-waiting\">2<")
            && wall.contains("data-agent=\"1001\" data-tile=\"not_ready\"")
    })
    .await;
    short.wait().await.assert_success(1);
    long.wait().await.assert_success(1);

    // The agent comes back; two callers are answered, talk 2 s each; the
    // first rates the call 1 (satisfied) after the agent hung up, the
    // second lets the survey time out.
    post(&server, "/api/agents/1001/status?status=available");
    let agent = Sipp::new("reports-agent", "uas_agent")
        .port(uas_port)
        .media("127.0.0.1", server.ports.media_port(3))
        .pause_ms(TALK_MS)
        .calls(2)
        .spawn();
    crate::calls::wait_bound(uas_port);
    caller(&server, "reports-rated", "uac_queue_survey", "1004")
        .pause_ms(5000)
        .key("score", "1")
        .run()
        .await
        .assert_success(1);
    caller(&server, "reports-unrated", "uac_queue", "1005")
        .run()
        .await
        .assert_success(1);
    agent.wait().await.assert_success(2);
    // Back on break with another reason, so the work-state log closes the
    // ready and talking periods.
    post(
        &server,
        "/api/agents/1001/status?status=on_break&reason=rest",
    );
    server.wait_cdrs(4).await;

    // The wallboard's day so far: 2 answered, 1 abandoned (the short one
    // left out), service level 2 / 3, nobody waiting, the agent on break.
    wait_until("the wallboard's figures", 20, || {
        let (_, wall) = web.get("/records/wallboard?fragment=1");
        wall.contains("data-test=\"wall-answered\">2 / 1<")
            && wall.contains("data-test=\"wall-sl\">67 %<")
            && wall.contains("data-test=\"wall-waiting\">0<")
    })
    .await;

    // The history: four queue calls, two missed (no agent), two answered by
    // 1001; the rated one carries its score.
    let h = get_json(&server, "/api/cdrs?direction=queue&per_page=50");
    assert_eq!(h["total"], 4, "{h}");
    let calls = h["calls"].as_array().cloned().unwrap_or_default();
    let of = |ext: &str| {
        calls
            .iter()
            .find(|c| c["caller"] == ext)
            .cloned()
            .unwrap_or_else(|| panic!("no call of {ext}: {h}"))
    };
    for ext in ["1002", "1003"] {
        let c = of(ext);
        assert_eq!(
            (c["missed"].clone(), c["agent"].clone()),
            (Value::Bool(true), Value::Null),
            "{c}"
        );
        assert_eq!(c["queue"], "support", "{c}");
    }
    for ext in ["1004", "1005"] {
        let c = of(ext);
        assert_eq!(
            (c["missed"].clone(), c["agent"].clone()),
            (Value::Bool(false), Value::from("1001")),
            "{c}"
        );
    }
    assert_eq!(of("1004")["satisfaction"], 1, "{h}");
    assert_eq!(of("1005")["satisfaction"], Value::Null, "{h}");
    let missed = get_json(&server, "/api/cdrs?status=missed&direction=queue");
    assert_eq!(missed["total"], 2, "{missed}");
    let by_agent = get_json(&server, "/api/cdrs?agent=1001");
    assert_eq!(by_agent["total"], 2, "{by_agent}");

    // The service level by hand: answered 2 (both within 20 s: the agent
    // was free and rang 0.2 s), abandoned 2 of which 1 short (3 s < 5 s).
    // SL = 2 / (2 + 1) ; ASA = 0 s ; abandon rate = 1 / 3 ; AHT = 2 s
    // (the agent's talk; the caller's call goes on with the survey).
    let sl = get_json(&server, "/api/reports/service-level");
    let row = sl["rows"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["queue"] == "support"))
        .cloned()
        .unwrap_or_else(|| panic!("no support row: {sl}"));
    assert_eq!(
        (
            row["offered"].clone(),
            row["answered"].clone(),
            row["answered_in_target"].clone()
        ),
        (Value::from(4), Value::from(2), Value::from(2)),
        "{row}"
    );
    assert_eq!(
        (row["abandoned"].clone(), row["short_abandoned"].clone()),
        (Value::from(1), Value::from(1)),
        "{row}"
    );
    let close = |v: &Value, want: f64| (v.as_f64().unwrap_or(f64::NAN) - want).abs() < 1e-9;
    assert!(close(&row["service_level"], 2.0 / 3.0), "{row}");
    assert!(close(&row["abandon_rate"], 1.0 / 3.0), "{row}");
    assert!(close(&row["asa_s"], 0.0), "{row}");
    assert!(close(&row["aht_s"], 2.0), "{row}");
    assert_eq!(row["longest_wait_s"], 30, "{row}");

    // The manual's reports over the API (today, grouped by agent).
    let report = |name: &str| -> Vec<Value> {
        let r = get_json(&server, &format!("/api/reports/{name}"));
        r["rows"].as_array().cloned().unwrap_or_default()
    };
    let agent_row = |rows: &[Value], agent: &str, extra: &dyn Fn(&Value) -> bool| {
        rows.iter()
            .find(|r| r["agent"] == agent && extra(r))
            .cloned()
            .unwrap_or_else(|| panic!("no row of agent '{agent}': {rows:?}"))
    };
    let any = |_: &Value| true;
    let rows = report("agent-traffic");
    let took = agent_row(&rows, "1001", &|r| r["lost"] == 0);
    assert_eq!(
        (took["calls"].clone(), took["talk_s"].clone()),
        (Value::from(2), Value::from(4)),
        "{rows:?}"
    );
    assert!(close(&took["avg_talk_s"], 2.0), "{took}");
    // The callers nobody took are no agent's traffic.
    assert_eq!(rows.len(), 1, "{rows:?}");
    let rows = report("traffic");
    let t = agent_row(&rows, "1001", &any);
    assert_eq!(
        (t["kind"].clone(), t["calls"].clone()),
        (Value::from("internal_queue"), Value::from(2)),
        "{rows:?}"
    );
    let rows = report("inbound");
    let i = agent_row(&rows, "1001", &any);
    assert_eq!(
        (
            i["calls"].clone(),
            i["answered"].clone(),
            i["max_talk_s"].clone(),
            i["min_talk_s"].clone()
        ),
        (
            Value::from(2),
            Value::from(2),
            Value::from(2),
            Value::from(2)
        ),
        "{rows:?}"
    );
    assert!(
        report("outbound").iter().all(|r| r["calls"] == 0),
        "no outbound calls were made"
    );
    let rows = report("satisfaction");
    let s = agent_row(&rows, "1001", &any);
    assert_eq!(
        (
            s["satisfied"].clone(),
            s["unrated"].clone(),
            s["total"].clone()
        ),
        (Value::from(1), Value::from(1), Value::from(2)),
        "{rows:?}"
    );
    assert!(close(&s["satisfied_pct"], 50.0), "{s}");
    let hourly: i64 = report("hourly")
        .iter()
        .map(|r| r["internal_queue"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(hourly, 4);
    let rows = report("work-time");
    let w = agent_row(&rows, "1001", &any);
    let secs = |k: &str| w[k].as_i64().unwrap_or(-1);
    assert!((4..=6).contains(&secs("talking_s")), "{w}");
    assert!(secs("not_ready_meal_s") >= 29, "{w}");
    assert!(secs("ready_s") >= 1, "{w}");
    assert_eq!(secs("not_ready_rest_s"), 0, "the rest has not ended: {w}");

    // The roll-ups the other reports read: the agent's two calls with 2 s
    // of talk each (not the survey's time), the two lost ones for nobody.
    let store = server.store().await;
    let today = store::rollup::day_start(now_ms());
    let rows = store
        .agent_call_totals(&store::RollupQuery {
            from: today,
            to: store::rollup::next_day_start(today),
            ..store::RollupQuery::default()
        })
        .await
        .expect("call totals");
    let got: Vec<(String, String, bool, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.agent.clone(),
                r.kind.clone(),
                r.lost,
                r.sums.calls,
                r.sums.talk_secs,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("".into(), "internal_queue".into(), true, 2, 0),
            ("1001".into(), "internal_queue".into(), false, 2, 4),
        ],
        "{rows:?}"
    );
    let lost = rows
        .iter()
        .find(|r| r.lost)
        .map(|r| r.sums)
        .unwrap_or_default();
    assert_eq!((lost.ring_secs, lost.max_ring_secs), (33, 30), "{rows:?}");
    // The work-state log: on break for a meal, ready, ringing, talking
    // (twice), then on break again for a rest.
    let states = store
        .agent_states_between(Some("1001"), today, store::rollup::next_day_start(today))
        .await
        .expect("agent states");
    let seq: Vec<(&str, &str)> = states
        .iter()
        .map(|p| (p.state.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(seq.first(), Some(&("not_ready", "meal")), "{states:?}");
    assert_eq!(
        seq.iter().filter(|s| **s == ("talking", "")).count(),
        2,
        "{states:?}"
    );
    assert!(seq.contains(&("ready", "")), "{states:?}");
    let talking: i64 = states
        .iter()
        .filter(|p| p.state == "talking")
        .map(|p| p.end_at - p.start_at)
        .sum();
    assert!((4000..6000).contains(&talking), "{states:?}");
    let answers = store
        .survey_totals(
            today,
            store::rollup::next_day_start(today),
            false,
            Some("1001"),
        )
        .await
        .expect("survey totals");
    assert_eq!(
        answers
            .iter()
            .map(|a| (a.score, a.answers))
            .collect::<Vec<_>>(),
        vec![(1, 1)]
    );
    store.close().await;
}
