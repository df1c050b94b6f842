//! The reports' roll-ups: filled in the transaction that writes the raw
//! records, each complete call counted once, and rebuilt from the raw
//! records to the same sums.

use crate::rollup::{day_start, hour_start, next_day_start, CallSums, HOUR_MS};
use crate::{AgentCallRow, AgentStatePeriod, Cdr, QueueEvent, RollupQuery, Store, Survey};

/// A local midnight well inside the test's window.
fn d0() -> i64 {
    day_start(1_780_000_000_000)
}

/// Call `uid` starting `at`, answered after `ring` seconds (or not), with
/// `talk` seconds of conversation, taken by `agent` through `queue`.
#[allow(clippy::too_many_arguments)]
fn call(
    uid: &str,
    at: i64,
    direction: &str,
    caller: &str,
    callee: &str,
    answered: bool,
    ring: i64,
    talk: i64,
    agent: Option<&str>,
    queue: Option<&str>,
    wait: i64,
) -> Cdr {
    let answer = at + ring * 1000;
    Cdr {
        call_uid: Some(uid.into()),
        call_id: format!("{uid}@test"),
        caller: caller.into(),
        callee: callee.into(),
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
        gateway: (direction != "internal").then(|| "carrier".to_string()),
        wait_secs: wait,
        agent_secs: if agent.is_some() && queue.is_some() {
            talk - wait
        } else {
            0
        },
        ..Cdr::default()
    }
}

fn sums(calls: i64, talk: i64, ring: i64, max_talk: i64, min_talk: i64, max_ring: i64) -> CallSums {
    CallSums {
        calls,
        talk_secs: talk,
        ring_secs: ring,
        max_talk_secs: max_talk,
        min_talk_secs: min_talk,
        max_ring_secs: max_ring,
    }
}

fn row(agent: &str, kind: &str, queue: &str, lost: bool, s: CallSums) -> AgentCallRow {
    AgentCallRow {
        day: None,
        agent: agent.into(),
        kind: kind.into(),
        queue: queue.into(),
        lost,
        sums: s,
    }
}

/// A day's calls, as the engine writes them: a queue call comes in
/// progress first, then complete.
async fn a_day_of_calls(store: &Store) {
    let t = d0() + 9 * HOUR_MS;
    let mut queued = call(
        "q1",
        t,
        "inbound",
        "13800000001",
        "9400",
        true,
        0,
        100,
        Some("1001"),
        Some("support"),
        20,
    );
    queued.in_progress = true;
    store.upsert_cdrs(&[queued.clone()]).await.unwrap();
    queued.in_progress = false;
    store
        .upsert_cdrs(&[
            queued.clone(),
            // Inbound through the queue: 1001 again (wait 10 s, 50 s with
            // the agent); an abandon after 30 s (no agent).
            call(
                "q2",
                t + 60_000,
                "inbound",
                "13800000002",
                "9400",
                true,
                0,
                60,
                Some("1001"),
                Some("support"),
                10,
            ),
            call(
                "q3",
                t + 120_000,
                "inbound",
                "13800000003",
                "9400",
                true,
                0,
                30,
                None,
                Some("support"),
                30,
            ),
            // Internal, straight to 1002: answered after 4 s, 40 s; and
            // one it missed (rang 7 s).
            call(
                "i1",
                t + 180_000,
                "internal",
                "1001",
                "1002",
                true,
                4,
                40,
                Some("1002"),
                None,
                0,
            ),
            call(
                "i2",
                t + 240_000,
                "internal",
                "1003",
                "1002",
                false,
                7,
                0,
                None,
                None,
                0,
            ),
            // Outbound by 1001: answered 12 s (rang 9 s), not answered (rang 30 s).
            call(
                "o1",
                t + HOUR_MS,
                "outbound",
                "1001",
                "013900000000",
                true,
                9,
                12,
                Some("1001"),
                None,
                0,
            ),
            call(
                "o2",
                t + HOUR_MS + 60_000,
                "outbound",
                "1001",
                "013900000001",
                false,
                30,
                0,
                Some("1001"),
                None,
                0,
            ),
        ])
        .await
        .unwrap();
    // The complete row again (a retry): a complete row is never counted twice.
    store.upsert_cdrs(&[queued]).await.unwrap();
}

fn window() -> RollupQuery {
    RollupQuery {
        from: d0(),
        to: next_day_start(d0()),
        ..RollupQuery::default()
    }
}

/// Each complete call counted once, for the person who took or placed
/// it, a queue call's wait as its ringing and the rest as its talk.
pub(super) async fn calls_roll_up_per_agent_kind_and_outcome(store: &Store) {
    a_day_of_calls(store).await;
    let got = store.agent_call_totals(&window()).await.unwrap();
    assert_eq!(
        got,
        vec![
            row(
                "",
                "inbound_queue",
                "support",
                true,
                sums(1, 0, 30, 0, 0, 30)
            ),
            row(
                "1001",
                "inbound_queue",
                "support",
                false,
                sums(2, 80 + 50, 30, 80, 50, 20)
            ),
            row("1001", "outbound", "", false, sums(1, 12, 9, 12, 12, 9)),
            row("1001", "outbound", "", true, sums(1, 0, 30, 0, 0, 30)),
            row("1002", "internal", "", false, sums(1, 40, 4, 40, 40, 4)),
            row("1002", "internal", "", true, sums(1, 0, 7, 0, 0, 7)),
        ]
    );
    // Filters: one agent's outbound calls; the lost ones; by day.
    let only = RollupQuery {
        agent: Some("1001".into()),
        kinds: vec!["outbound".into()],
        ..window()
    };
    let got = store.agent_call_totals(&only).await.unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let lost = RollupQuery {
        lost: Some(true),
        by_day: true,
        ..window()
    };
    let got = store.agent_call_totals(&lost).await.unwrap();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|r| r.lost && r.day == Some(d0())), "{got:?}");
    // Collapsed for a report grouped by period: per day, kind and outcome,
    // "*" for calls someone owns (took, placed, or was called and missed
    // them), "" for the others.
    let collapsed = RollupQuery {
        by_day: true,
        collapse: true,
        ..window()
    };
    let got: Vec<(String, String, bool, i64)> = store
        .agent_call_totals(&collapsed)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.agent, r.kind, r.lost, r.sums.calls))
        .collect();
    let want: Vec<(String, String, bool, i64)> = [
        ("", "inbound_queue", true, 1),
        ("*", "inbound_queue", false, 2),
        ("*", "internal", false, 1),
        ("*", "internal", true, 1),
        ("*", "outbound", false, 1),
        ("*", "outbound", true, 1),
    ]
    .into_iter()
    .map(|(a, k, l, n)| (a.to_string(), k.to_string(), l, n))
    .collect();
    assert_eq!(got, want);
    // The next day holds nothing.
    let next = RollupQuery {
        from: next_day_start(d0()),
        to: next_day_start(next_day_start(d0())),
        ..window()
    };
    assert!(store.agent_call_totals(&next).await.unwrap().is_empty());
    // Per hour: five calls at 9:00, two at 10:00.
    let hours = store
        .hourly_call_totals(d0(), next_day_start(d0()))
        .await
        .unwrap();
    let at = |h: i64| -> i64 {
        hours
            .iter()
            .filter(|r| r.hour == hour_start(d0() + h * HOUR_MS))
            .map(|r| r.calls)
            .sum()
    };
    assert_eq!((at(9), at(10), at(11)), (5, 2, 0), "{hours:?}");
}

/// A call left in progress by a crash counts once it is closed at the
/// next start.
pub(super) async fn calls_closed_at_restart_are_rolled_up(store: &Store) {
    let mut c = call(
        "c1",
        d0() + HOUR_MS,
        "internal",
        "1001",
        "1002",
        true,
        2,
        0,
        Some("1002"),
        None,
        0,
    );
    c.in_progress = true;
    c.last_seen_at = Some(d0() + HOUR_MS + 2000 + 33_000);
    store.upsert_cdrs(&[c]).await.unwrap();
    assert!(store.agent_call_totals(&window()).await.unwrap().is_empty());
    assert_eq!(
        store
            .close_in_progress_cdrs("SERVER_RESTART")
            .await
            .unwrap(),
        1
    );
    let got = store.agent_call_totals(&window()).await.unwrap();
    assert_eq!(
        got,
        vec![row(
            "1002",
            "internal",
            "",
            false,
            sums(1, 33, 2, 33, 33, 2)
        )]
    );
}

/// The queue roll-up gives the raw events' service-level counts for the
/// targets it keeps; other targets are counted from the events.
pub(super) async fn queue_counts_from_the_roll_up_match_the_events(store: &Store) {
    let t = d0() + 8 * HOUR_MS;
    let ev = |at: i64, call: &str, kind: &str, wait: Option<i64>, talk: Option<i64>| QueueEvent {
        at,
        queue: "support".into(),
        call_id: call.into(),
        kind: kind.into(),
        wait_secs: wait,
        talk_secs: talk,
        ..QueueEvent::default()
    };
    let events: Vec<QueueEvent> = vec![
        ev(t, "a", "joined", None, None),
        ev(t + 15_000, "a", "answered", Some(15), None),
        ev(t + 75_000, "a", "ended", None, Some(60)),
        ev(t + 1000, "b", "joined", None, None),
        ev(t + 26_000, "b", "answered", Some(25), None),
        ev(t + 2000, "c", "joined", None, None),
        ev(t + 6000, "c", "abandoned", Some(4), None),
        ev(t + 3000, "d", "joined", None, None),
        ev(t + 33_000, "d", "abandoned", Some(30), None),
        ev(t + 4000, "e", "joined", None, None),
        ev(t + 5000, "e", "offer_failed", None, None),
    ];
    store.insert_queue_events(&events[..5]).await.unwrap();
    store.insert_queue_events(&events[5..]).await.unwrap();
    let (from, to) = (d0(), next_day_start(d0()));
    // 20 s and 5 s: from the roll-up; 21 s and 4 s: from the events.
    let rolled = store.queue_counts(from, to, 20, 5, None).await.unwrap();
    let raw = store.queue_counts(from, to, 21, 4, None).await.unwrap();
    assert_eq!(rolled.len(), 1);
    let r = &rolled[0];
    assert_eq!(
        (
            r.offered,
            r.answered,
            r.answered_in_target,
            r.answer_wait_secs
        ),
        (5, 2, 1, 40)
    );
    assert_eq!(
        (r.abandoned, r.short_abandoned, r.longest_wait_secs),
        (2, 1, 30)
    );
    assert_eq!((r.ended, r.talk_secs), (1, 60));
    assert_eq!((raw[0].answered_in_target, raw[0].short_abandoned), (1, 0));
    let same = crate::QueueCounts {
        answered_in_target: r.answered_in_target,
        short_abandoned: r.short_abandoned,
        ..raw[0].clone()
    };
    assert_eq!(&same, r);
    // Per day (the offset east of UTC, as the page passes it).
    let per_day = store.queue_counts(from, to, 20, 5, Some(0)).await.unwrap();
    assert_eq!(per_day.len(), 1);
    assert_eq!(per_day[0].offered, 5);
}

/// Agent-state periods are summed per day, split at local midnight, with
/// the break reason kept apart; survey answers per agent and score.
pub(super) async fn agent_states_and_surveys_roll_up_per_day(store: &Store) {
    let d1 = next_day_start(d0());
    let p = |state: &str, reason: &str, from: i64, to: i64| AgentStatePeriod {
        agent: "1001".into(),
        state: state.into(),
        reason: reason.into(),
        start_at: from,
        end_at: to,
    };
    store
        .insert_agent_states(&[
            p("ready", "", d0() + 9 * HOUR_MS, d0() + 10 * HOUR_MS),
            p(
                "not_ready",
                "meal",
                d0() + 10 * HOUR_MS,
                d0() + 11 * HOUR_MS,
            ),
            p(
                "not_ready",
                "rest",
                d0() + 11 * HOUR_MS,
                d0() + 11 * HOUR_MS + 600_000,
            ),
            // Across midnight: 30 min on each day.
            p("talking", "", d1 - 1_800_000, d1 + 1_800_000),
        ])
        .await
        .unwrap();
    let day0 = store
        .agent_state_totals(d0(), d1, false, None)
        .await
        .unwrap();
    let secs = |rows: &[crate::StateRow], state: &str, reason: &str| {
        rows.iter()
            .find(|r| r.state == state && r.reason == reason)
            .map_or(0, |r| r.secs)
    };
    assert_eq!(secs(&day0, "ready", ""), 3600);
    assert_eq!(secs(&day0, "not_ready", "meal"), 3600);
    assert_eq!(secs(&day0, "not_ready", "rest"), 600);
    assert_eq!(secs(&day0, "talking", ""), 1800);
    let day1 = store
        .agent_state_totals(d1, next_day_start(d1), true, Some("1001"))
        .await
        .unwrap();
    assert_eq!(day1.len(), 1);
    assert_eq!((day1[0].day, day1[0].secs), (Some(d1), 1800));
    assert!(store
        .agent_state_totals(d0(), d1, false, Some("1002"))
        .await
        .unwrap()
        .is_empty());
    // The raw log keeps the whole period.
    let raw = store
        .agent_states_between(Some("1001"), d1, d1 + 1)
        .await
        .unwrap();
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].end_at - raw[0].start_at, 3_600_000);

    for (i, score) in [1, 1, 3].into_iter().enumerate() {
        store
            .insert_survey(&Survey {
                call_id: format!("s{i}"),
                agent: Some("1001".into()),
                queue: Some("support".into()),
                score,
                at: d0() + 12 * HOUR_MS,
                ..Survey::default()
            })
            .await
            .unwrap();
    }
    let answers = store.survey_totals(d0(), d1, false, None).await.unwrap();
    let got: Vec<(i32, i64)> = answers.iter().map(|a| (a.score, a.answers)).collect();
    assert_eq!(got, vec![(1, 2), (3, 1)]);
}

/// A rebuild sums the same totals from the raw records.
pub(super) async fn a_rebuild_gives_the_same_sums(store: &Store) {
    a_day_of_calls(store).await;
    store
        .insert_queue_events(&[QueueEvent {
            at: d0() + HOUR_MS,
            queue: "support".into(),
            call_id: "q1@test".into(),
            kind: "joined".into(),
            ..QueueEvent::default()
        }])
        .await
        .unwrap();
    store
        .insert_agent_states(&[AgentStatePeriod {
            agent: "1001".into(),
            state: "ready".into(),
            reason: String::new(),
            start_at: d0(),
            end_at: d0() + 1000,
        }])
        .await
        .unwrap();
    let (from, to) = (d0(), next_day_start(d0()));
    let calls = store.agent_call_totals(&window()).await.unwrap();
    let hours = store.hourly_call_totals(from, to).await.unwrap();
    let queues = store.queue_counts(from, to, 20, 5, None).await.unwrap();
    let states = store
        .agent_state_totals(from, to, true, None)
        .await
        .unwrap();
    let summary = store.rebuild_rollups().await.unwrap();
    assert_eq!(
        (
            summary.cdrs,
            summary.queue_events,
            summary.surveys,
            summary.agent_states
        ),
        (7, 1, 0, 1)
    );
    assert_eq!(store.agent_call_totals(&window()).await.unwrap(), calls);
    assert_eq!(store.hourly_call_totals(from, to).await.unwrap(), hours);
    assert_eq!(
        store.queue_counts(from, to, 20, 5, None).await.unwrap(),
        queues
    );
    assert_eq!(
        store
            .agent_state_totals(from, to, true, None)
            .await
            .unwrap(),
        states
    );
    // Twice: the same again (the tables are emptied first).
    store.rebuild_rollups().await.unwrap();
    assert_eq!(store.agent_call_totals(&window()).await.unwrap(), calls);
}

on_every_backend!(
    calls_roll_up_per_agent_kind_and_outcome,
    calls_closed_at_restart_are_rolled_up,
    queue_counts_from_the_roll_up_match_the_events,
    agent_states_and_surveys_roll_up_per_day,
    a_rebuild_gives_the_same_sums,
);
