//! Crash safety of CDRs (issue 10): a server killed with SIGKILL while calls
//! are up must not lose their records. Each answered call's row is written at
//! answer (in progress), its "last seen" time refreshed by a heartbeat, and
//! the next start closes what a crash left open with cause SERVER_RESTART at
//! that last known time. A graceful stop still completes the rows itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::calls::{caller, wait_bound};
use crate::harness::{free_udp_port, Server};
use crate::registrar::sipp_register;
use crate::sipp::{Sipp, SippProcess};

/// Calls up when the server dies (the report: six).
const CALLS: usize = 6;

/// A hang guard for slow machines, not a performance expectation.
const DEADLINE: Duration = Duration::from_secs(60);

/// A server whose in-progress CDRs are refreshed every second, and whose
/// calls are not hung up for lack of RTP while the test runs (the callers
/// send none).
fn server(name: &str) -> Server {
    Server::builder(name)
        .extensions("1000-1009", "secret")
        .config("[calls]\ncdr_heartbeat_secs = 1\n[media]\nrtp_timeout_secs = 3600")
        .start()
}

/// `CALLS` calls from 1000 to 1001 that stay up (neither side hangs up);
/// returns the two SIPp processes (killed when dropped).
async fn calls_up(server: &Server) -> (SippProcess, SippProcess) {
    let uas_port = free_udp_port();
    sipp_register(server, "1001", uas_port).await;
    let uas = Sipp::new("uas-cdr", "uas_answer")
        .port(uas_port)
        .media("127.0.0.1", server.ports.media_port(0))
        .rtp_echo()
        .calls(CALLS as u32)
        .spawn();
    wait_bound(uas_port);
    let uac = caller(server, "uac_wait_bye", "1001", server.ports.media_port(1))
        .calls(CALLS as u32)
        .rate(10.0)
        .spawn();
    (uac, uas)
}

/// Polls the server's database until `done` holds for the rows in progress;
/// returns them.
async fn wait_in_progress(
    server: &Server,
    what: &str,
    done: impl Fn(&[store::Cdr]) -> bool,
) -> Vec<store::Cdr> {
    let store = server.store().await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let rows = store
            .list_in_progress_cdrs()
            .await
            .expect("list CDRs in progress");
        if done(&rows) {
            store.close().await;
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: rows in progress {rows:?}\n{}",
            server.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// All `CALLS` calls answered and their rows in progress in the database.
async fn wait_all_answered(server: &Server) -> Vec<store::Cdr> {
    let rows = wait_in_progress(server, "every call answered", |rows| rows.len() == CALLS).await;
    for row in &rows {
        assert!(row.in_progress, "{row:?}");
        assert!(row.answer_at.is_some(), "{row:?}");
        assert!(row.call_uid.is_some(), "{row:?}");
        assert_eq!((row.caller.as_str(), row.callee.as_str()), ("1000", "1001"));
        assert_eq!(row.sip_code, 200, "{row:?}");
    }
    rows
}

#[tokio::test]
async fn kill_9_with_calls_up_keeps_their_cdrs_closed_at_restart() {
    let mut server = server("cdr_kill9");
    let (_uac, _uas) = calls_up(&server).await;
    wait_all_answered(&server).await;

    // Let the heartbeat run after the last answer, so the rows carry a last
    // known time later than their answer; remember what it was at least.
    let rows = wait_in_progress(&server, "a heartbeat", |rows| {
        let last_answer = rows.iter().filter_map(|r| r.answer_at).max();
        let first_seen = rows.iter().filter_map(|r| r.last_seen_at).min();
        rows.len() == CALLS
            && matches!((last_answer, first_seen), (Some(a), Some(s)) if s >= a + 1500)
    })
    .await;
    let seen: HashMap<String, i64> = rows
        .iter()
        .map(|r| (r.call_uid.clone().unwrap(), r.last_seen_at.unwrap()))
        .collect();
    {
        let store = server.store().await;
        assert_eq!(store.count_cdrs().await.unwrap(), 0, "no call has ended");
        store.close().await;
    }

    server.kill9();
    server.restart();

    // Closed at start, before the server took calls: no waiting needed.
    let store = server.store().await;
    assert!(store.list_in_progress_cdrs().await.unwrap().is_empty());
    let cdrs = store.list_cdrs(100).await.unwrap();
    store.close().await;
    assert_eq!(cdrs.len(), CALLS, "{cdrs:?}");
    for cdr in &cdrs {
        let uid = cdr.call_uid.clone().expect("call_uid");
        let answer = cdr.answer_at.expect("answer time kept");
        assert_eq!(cdr.hangup_cause, "SERVER_RESTART", "{cdr:?}");
        assert_eq!(cdr.hangup_by, "system", "{cdr:?}");
        assert_eq!(cdr.sip_code, 200, "{cdr:?}");
        assert!(!cdr.in_progress, "{cdr:?}");
        assert!(cdr.start_at <= answer, "{cdr:?}");
        // The end is the last time the server knew the call was up: not
        // before what the heartbeat had written when we looked.
        let last_seen = seen[&uid];
        assert!(cdr.end_at >= last_seen && last_seen > answer, "{cdr:?}");
        assert_eq!(cdr.talk_secs, (cdr.end_at - answer + 500) / 1000, "{cdr:?}");
        assert!(cdr.talk_secs >= 1, "{cdr:?}");
    }
    let mut call_ids: Vec<&str> = cdrs.iter().map(|c| c.call_id.as_str()).collect();
    call_ids.sort();
    call_ids.dedup();
    assert_eq!(call_ids.len(), CALLS, "one record per call: {cdrs:?}");
    let log = server.log();
    assert!(
        log.contains(&format!("closed {CALLS} CDRs")),
        "{}",
        server.log_tail(30)
    );
}

/// The rows of a graceful stop are completed by the server itself: the same
/// rows (no duplicates), SYSTEM_SHUTDOWN, nothing left for the next start.
#[tokio::test]
async fn sigterm_with_calls_up_completes_their_cdrs_itself() {
    let mut server = server("cdr_sigterm");
    let (uac, uas) = calls_up(&server).await;
    let opened = wait_all_answered(&server).await;

    server.stop().expect("server was running");
    // Both SIPp sides got their BYE and answered it.
    uac.wait().await.assert_success(CALLS as u64);
    uas.wait().await.assert_success(CALLS as u64);

    let store = server.store().await;
    assert!(store.list_in_progress_cdrs().await.unwrap().is_empty());
    let cdrs = store.list_cdrs(100).await.unwrap();
    store.close().await;
    assert_eq!(cdrs.len(), CALLS, "completed in place: {cdrs:?}");
    for cdr in &cdrs {
        let row = opened
            .iter()
            .find(|o| o.call_uid == cdr.call_uid)
            .unwrap_or_else(|| panic!("not the row written at answer: {cdr:?}"));
        assert_eq!(cdr.id, row.id, "{cdr:?}");
        assert_eq!(cdr.hangup_cause, "SYSTEM_SHUTDOWN", "{cdr:?}");
        assert_eq!(cdr.answer_at, row.answer_at, "{cdr:?}");
        assert!(cdr.end_at >= row.answer_at.unwrap(), "{cdr:?}");
    }

    server.restart();
    assert!(!server.log().contains("CDRs of calls that were up"));
}
