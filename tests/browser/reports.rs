//! The manual's reports in a real browser (issue 17, 11.3): calls stored in
//! the server's database show on the inbound report's page (its table and
//! chart), and its Excel export, fetched with the page's session from the
//! page's own link, reads back (crates/sheets, calamine) to the same
//! figures, and is written to the audit log.

use crate::driver::{run_on, server_name, BrowserKind, BrowserOptions};
use crate::flows;
use crate::harness::Server;
use std::sync::Arc;

/// The export link's file, fetched by the page: its status and bytes.
const FETCH_XLSX: &str = "var done = arguments[arguments.length - 1];\
     fetch(document.querySelector('[data-test=btn-xlsx]').href, {credentials: 'same-origin'})\
     .then(function (r) { return r.arrayBuffer().then(function (b) {\
       done({status: r.status, type: r.headers.get('content-type'),\
             bytes: Array.from(new Uint8Array(b))}); }); })\
     .catch(function (e) { done({error: String(e)}); });";

/// Two calls of queue `sales` answered by 1001 (60 and 120 s of talk after
/// waits of 10 and 20 s) and one its caller gave up on after 30 s, all
/// starting at `at`.
fn queue_call(uid: &str, at: i64, wait: i64, agent_secs: Option<i64>) -> store::Cdr {
    let answered = agent_secs.is_some();
    let talk = wait + agent_secs.unwrap_or(0);
    store::Cdr {
        call_uid: Some(uid.into()),
        call_id: format!("{uid}@test"),
        caller: "13800000000".into(),
        callee: "400".into(),
        direction: "inbound".into(),
        start_at: at,
        answer_at: Some(at),
        end_at: at + talk * 1000,
        ring_secs: 0,
        talk_secs: talk,
        hangup_cause: "normal_clearing".into(),
        hangup_by: "caller".into(),
        sip_code: 200,
        agent: answered.then(|| "1001".to_string()),
        queue: Some("sales".into()),
        wait_secs: wait,
        agent_secs: agent_secs.unwrap_or(0),
        ..store::Cdr::default()
    }
}

browser_tests!(the_inbound_report_shows_the_calls_and_exports_them_to_excel);
async fn the_inbound_report_shows_the_calls_and_exports_them_to_excel(browser: BrowserKind) {
    let name = "reports_inbound";
    let server = Arc::new(Server::builder(&server_name(browser, name)).start());
    let db = server.store().await;
    // Alice is the user bound to extension 1001.
    db.create_user(
        &store::UserFields {
            username: "alice".into(),
            name: "Alice".into(),
            is_agent: true,
            extension: "1001".into(),
            enabled: true,
            ..Default::default()
        },
        "not-a-hash",
        false,
    )
    .await
    .unwrap();
    // Ten in the morning of the day before today: a fixed day, whatever
    // the time the test runs.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let yesterday = store::rollup::day_start(store::rollup::day_start(now) - 1);
    let at = yesterday + 10 * store::rollup::HOUR_MS;
    db.upsert_cdrs(&[
        queue_call("r1", at, 10, Some(60)),
        queue_call("r2", at + 60_000, 20, Some(120)),
        queue_call("r3", at + 120_000, 30, None),
    ])
    .await
    .unwrap();
    let day = web::api::report_views::day_label(yesterday);
    let server2 = server.clone();
    run_on(
        browser,
        server,
        name,
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            b.click_nav("menu-reports-inbound").await;
            b.wait_path("/reports/inbound").await;
            b.wait_visible("[data-test=report-form]").await;
            b.goto(&format!("/reports/inbound?from={day}&to={day}"))
                .await;
            b.wait_visible("[data-test=report-table]").await;
            let cell = |key: &str, col: &str| {
                format!("[data-test=report-row][data-key='{key}'] td[data-col={col}]")
            };
            // Alice's two calls: 180 s of talk, 90 on average, the longest
            // 120 s; and the caller nobody took.
            assert_eq!(b.text(&cell("1001", "username")).await, "alice");
            assert_eq!(b.text(&cell("1001", "calls")).await, "2");
            assert_eq!(b.text(&cell("1001", "answered")).await, "2");
            assert_eq!(b.text(&cell("1001", "talk_s")).await, "3:00");
            assert_eq!(b.text(&cell("1001", "avg_talk_s")).await, "90.0");
            assert_eq!(b.text(&cell("1001", "max_talk_s")).await, "2:00");
            assert_eq!(b.text(&cell("", "calls")).await, "1");
            assert_eq!(b.text(&cell("", "answered")).await, "0");
            assert!(b.exists("[data-test=report-chart] svg").await);

            // The Excel export of the same window, with the page's session.
            let got = b.eval_async(FETCH_XLSX).await;
            assert_eq!(got["status"], 200, "{got}");
            assert!(
                got["type"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("spreadsheetml"),
                "{}",
                got["type"]
            );
            let bytes: Vec<u8> = got["bytes"]
                .as_array()
                .expect("the file's bytes")
                .iter()
                .map(|v| v.as_u64().unwrap() as u8)
                .collect();
            let book =
                sheets::read(&bytes, &sheets::Limits::default()).expect("the workbook reads");
            assert_eq!(
                book.headers,
                [
                    "agent",
                    "username",
                    "calls",
                    "answered",
                    "talk_s",
                    "avg_talk_s",
                    "max_talk_s",
                    "min_talk_s",
                    "max_ring_s",
                    "avg_ring_s"
                ]
            );
            let rows: Vec<Vec<String>> = book.rows.iter().map(|r| r.cells.clone()).collect();
            assert_eq!(
                rows,
                [
                    ["", "", "1", "0", "0", "0.00", "0", "0", "30", "30.00"],
                    ["1001", "alice", "2", "2", "180", "90.00", "120", "60", "20", "15.00"],
                ]
            );
            // The download is in the audit log.
            let audit = server2
                .store()
                .await
                .search_audit(&store::AuditQuery {
                    action: "export".into(),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(audit.total, 1, "{:?}", audit.entries);
            assert_eq!(audit.entries[0].username, "admin");
            assert!(audit.entries[0]
                .params
                .contains("2 rows of inbound as xlsx"));
        },
    )
    .await;
}
