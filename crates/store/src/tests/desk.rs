//! What the agent desk reads: a number's calls (the screen pop) and an
//! agent's figures of the day.

use crate::{AgentFigures, Cdr, MissedCall, NumberSummary, QueueEvent, Store};

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

const NUMBER: &str = "13800000000";

/// A complete call from `caller` to `callee` starting at `start`, answered
/// after 3 s when `talk` is Some (then ending `talk` seconds later).
fn call(uid: &str, caller: &str, callee: &str, start: i64, talk: Option<i64>) -> Cdr {
    let answer = talk.map(|_| start + 3000);
    let end = answer.map_or(start + 20_000, |a| a + talk.unwrap_or(0) * 1000);
    Cdr {
        call_uid: Some(uid.to_string()),
        call_id: format!("{uid}@test"),
        caller: caller.to_string(),
        callee: callee.to_string(),
        direction: "inbound".to_string(),
        start_at: start,
        answer_at: answer,
        end_at: end,
        last_seen_at: Some(end),
        ring_secs: if talk.is_some() { 3 } else { 20 },
        talk_secs: talk.unwrap_or(0),
        hangup_cause: if talk.is_some() {
            "NORMAL_CLEARING"
        } else {
            "NO_ANSWER"
        }
        .to_string(),
        hangup_by: "caller".to_string(),
        sip_code: if talk.is_some() { 200 } else { 480 },
        ..Cdr::default()
    }
}

fn qe(uid: &str, at: i64, kind: &str, agent: Option<&str>) -> QueueEvent {
    QueueEvent {
        at,
        queue: "support".to_string(),
        call_id: format!("{uid}@test"),
        caller: NUMBER.to_string(),
        agent: agent.map(str::to_string),
        kind: kind.to_string(),
        ..QueueEvent::default()
    }
}

fn missed(ext: &str, caller: &str, at: i64) -> MissedCall {
    MissedCall {
        id: None,
        extension: ext.to_string(),
        caller: caller.to_string(),
        at,
    }
}

/// The number's calls newest first, as caller or callee, only complete
/// ones, at most the limit, each with its queue and the agent who
/// answered it there; its summary over a window and its last answer by a
/// person (not the queue's own answer of a caller who gave up).
async fn the_calls_of_a_number_newest_first_with_queue_and_agent(store: &Store) {
    let mut rows = Vec::new();
    // 30 calls of the number, one a minute: even ones it made (to 1001,
    // answered, 10 s more talk each time), odd ones made to it by 1002
    // (not answered).
    for i in 0..30 {
        let start = T0 + i * MIN;
        rows.push(if i % 2 == 0 {
            call(&format!("n{i}"), NUMBER, "1001", start, Some(10 + i))
        } else {
            call(&format!("n{i}"), "1002", NUMBER, start, None)
        });
    }
    // Other numbers' calls in between: never listed.
    for i in 0..40 {
        rows.push(call(
            &format!("o{i}"),
            "13900000000",
            "1001",
            T0 + i * MIN + 30_000,
            Some(5),
        ));
    }
    // A call of the number to itself: listed once.
    rows.push(call("self", NUMBER, NUMBER, T0 + 30 * MIN, Some(1)));
    // Two queue calls (queue 9400 answers callers itself): one an agent
    // took after another let it ring out, one the caller gave up on.
    rows.push(call("q1", NUMBER, "9400", T0 + 31 * MIN, Some(120)));
    rows.push(call("q2", NUMBER, "9400", T0 + 32 * MIN, Some(40)));
    store.upsert_cdrs(&rows).await.unwrap();
    // The number's call now up: not a record yet.
    let live = Cdr {
        in_progress: true,
        ..call("live", NUMBER, "9400", T0 + 33 * MIN, Some(0))
    };
    store.upsert_cdrs(&[live]).await.unwrap();
    let q = |uid: &str, m: i64, kind: &str, agent: Option<&str>| {
        qe(uid, T0 + m * MIN + 1000, kind, agent)
    };
    store
        .insert_queue_events(&[
            q("q1", 31, "joined", None),
            q("q1", 31, "offered", Some("1001")),
            QueueEvent {
                reason: Some("no-answer".into()),
                ..q("q1", 31, "offer_failed", Some("1001"))
            },
            q("q1", 31, "offered", Some("1003")),
            q("q1", 31, "answered", Some("1003")),
            q("q1", 31, "ended", Some("1003")),
            q("q2", 32, "joined", None),
            q("q2", 32, "offered", Some("1001")),
            q("q2", 32, "abandoned", None),
        ])
        .await
        .unwrap();

    let list = store.calls_of_number(NUMBER, 10).await.unwrap();
    let uids: Vec<&str> = list
        .iter()
        .map(|c| c.cdr.call_uid.as_deref().unwrap_or("?"))
        .collect();
    assert_eq!(
        uids,
        ["q2", "q1", "self", "n29", "n28", "n27", "n26", "n25", "n24", "n23"],
        "newest first, complete calls of the number only"
    );
    assert_eq!(
        (list[0].queue.as_deref(), list[0].agent.as_deref()),
        (Some("support"), None),
        "the caller gave up in the queue"
    );
    assert!(!list[0].answered_by_a_person(), "the queue's answer only");
    assert_eq!(
        (list[1].queue.as_deref(), list[1].agent.as_deref()),
        (Some("support"), Some("1003")),
        "the agent who answered, not the one who let it ring"
    );
    assert!(list[1].answered_by_a_person());
    assert_eq!((list[2].queue.clone(), list[2].agent.clone()), (None, None));
    // The record itself comes back whole.
    let n28 = &list[4];
    assert!(n28.cdr.id.is_some());
    assert_eq!(
        Cdr {
            id: None,
            ..n28.cdr.clone()
        },
        call("n28", NUMBER, "1001", T0 + 28 * MIN, Some(38))
    );
    assert!(n28.answered_by_a_person());
    assert!(!list[3].answered_by_a_person(), "n29 rang out");

    let all = store.calls_of_number(NUMBER, 1000).await.unwrap();
    assert_eq!(all.len(), 33, "30 + itself + 2 queue calls");
    assert!(all
        .windows(2)
        .all(|w| w[0].cdr.start_at >= w[1].cdr.start_at));
    assert!(store.calls_of_number(NUMBER, 0).await.unwrap().is_empty());
    assert!(store.calls_of_number(NUMBER, -5).await.unwrap().is_empty());
    assert!(store.calls_of_number("404", 10).await.unwrap().is_empty());

    // The window from minute 20: n20..n29, self, q1, q2.
    let s = store.number_summary(NUMBER, T0 + 20 * MIN).await.unwrap();
    let made: i64 = (20..30).step_by(2).map(|i| 10 + i).sum();
    assert_eq!(
        s,
        NumberSummary {
            calls: 13,
            inbound: 8,
            outbound: 5,
            talk_secs: made + 1 + 120 + 40,
            ring_secs: 5 * 3 + 5 * 20 + 3 * 3,
            // q1's answer (q2 was the queue's answer of a caller who gave
            // up; "self" is older).
            last_answered_at: Some(T0 + 31 * MIN + 3000),
        }
    );
    assert_eq!(
        store.number_summary(NUMBER, T0).await.unwrap().calls,
        33,
        "a window over everything"
    );
    // Last answered is of all time, whatever the window.
    let later = store.number_summary(NUMBER, T0 + 60 * MIN).await.unwrap();
    assert_eq!(
        later,
        NumberSummary {
            last_answered_at: Some(T0 + 31 * MIN + 3000),
            ..NumberSummary::default()
        }
    );
    // The callee side too: 1002 only ever called the number, unanswered.
    let s = store.number_summary("1002", T0).await.unwrap();
    assert_eq!((s.calls, s.inbound, s.outbound), (15, 15, 0));
    assert_eq!(s.last_answered_at, None);
    let s = store.number_summary("1001", T0).await.unwrap();
    assert_eq!((s.calls, s.inbound, s.outbound), (55, 0, 55));
    assert_eq!(
        store.number_summary("404", T0).await.unwrap(),
        NumberSummary::default()
    );
}

/// Agent 1001's day: queue calls answered and talked (from the queue
/// events), offers missed (rang out, declined, busy: not the ones the
/// caller or another agent ended), calls to the extension it answered
/// (not those its voicemail took), calls it made, and its missed calls;
/// nothing before the start of the day, nothing of another agent.
async fn an_agents_figures_of_the_day(store: &Store) {
    let day = T0;
    let before = day - 10 * MIN;
    let failed = |uid: &str, at: i64, reason: &str| QueueEvent {
        reason: Some(reason.to_string()),
        ..qe(uid, at, "offer_failed", Some("1001"))
    };
    let ended = |uid: &str, at: i64, agent: &str, talk: i64| QueueEvent {
        talk_secs: Some(talk),
        ..qe(uid, at, "ended", Some(agent))
    };
    store
        .insert_queue_events(&[
            // Yesterday's: not today's figures.
            qe("y", before, "answered", Some("1001")),
            ended("y", before + 1000, "1001", 500),
            failed("y", before, "no-answer"),
            // Today's.
            qe("a", day + MIN, "offered", Some("1001")),
            qe("a", day + MIN, "answered", Some("1001")),
            ended("a", day + 2 * MIN, "1001", 60),
            qe("b", day + 3 * MIN, "answered", Some("1001")),
            ended("b", day + 5 * MIN, "1001", 90),
            failed("c", day + 6 * MIN, "no-answer"),
            failed("d", day + 7 * MIN, "rejected"),
            failed("e", day + 8 * MIN, "busy"),
            failed("f", day + 9 * MIN, "caller-gone"),
            failed("g", day + 9 * MIN, "lost-race"),
            failed("h", day + 9 * MIN, "not-registered"),
            // Another agent's.
            qe("i", day + MIN, "answered", Some("1002")),
            ended("i", day + 2 * MIN, "1002", 77),
            QueueEvent {
                reason: Some("no-answer".into()),
                ..qe("j", day + MIN, "offer_failed", Some("1002"))
            },
        ])
        .await
        .unwrap();
    store
        .upsert_cdrs(&[
            // Called, answered by 1001: 30 s.
            call("d1", "2000", "1001", day + 10 * MIN, Some(30)),
            // Called, taken by 1001's voicemail (a missed call while up).
            call("d2", "2001", "1001", day + 11 * MIN, Some(15)),
            // Called, rang out (a missed call too).
            call("d3", "2002", "1001", day + 12 * MIN, None),
            // Yesterday's answered call.
            call("d4", "2000", "1001", before, Some(99)),
            // Made by 1001: one answered (45 s), one not.
            call("m1", "1001", "5551234", day + 13 * MIN, Some(45)),
            call("m2", "1001", "5551235", day + 14 * MIN, None),
            // 1002's calls.
            call("x1", "2000", "1002", day + 10 * MIN, Some(33)),
            call("x2", "1002", "2000", day + 10 * MIN, Some(33)),
        ])
        .await
        .unwrap();
    // A call of 1001 still up: counts once it ends.
    store
        .upsert_cdrs(&[Cdr {
            in_progress: true,
            ..call("m3", "1001", "5551236", day + 15 * MIN, Some(0))
        }])
        .await
        .unwrap();
    for m in [
        missed("1001", "2001", day + 11 * MIN + 2000),
        missed("1001", "2002", day + 12 * MIN + 19_000),
        missed("1001", "2000", before - MIN),
        missed("1002", "2000", day + MIN),
    ] {
        store.insert_missed_call(&m).await.unwrap();
    }

    let f = store.agent_figures("1001", day).await.unwrap();
    assert_eq!(
        f,
        AgentFigures {
            queue_answered: 2,
            queue_talk_secs: 150,
            missed_offers: 3,
            direct_answered: 1,
            direct_talk_secs: 30,
            made: 1,
            made_talk_secs: 45,
            missed_direct: 2,
        }
    );
    assert_eq!(f.answered(), 3);
    assert_eq!(f.handled(), 4);
    assert_eq!(f.talk_secs(), 225);
    assert_eq!(f.missed(), 5);
    assert_eq!(f.average_handle_secs(), 56, "225 s over 4 calls");
    // Since yesterday: its calls too.
    let f = store.agent_figures("1001", before).await.unwrap();
    assert_eq!(
        (f.queue_answered, f.queue_talk_secs, f.direct_answered),
        (3, 650, 2)
    );
    assert_eq!(f.missed(), 6, "4 offers and 2 calls");
    // Another agent's own figures; nobody's are all zero.
    let f = store.agent_figures("1002", day).await.unwrap();
    assert_eq!(
        (f.answered(), f.made, f.talk_secs(), f.missed()),
        (2, 1, 77 + 33 + 33, 2)
    );
    let none = store.agent_figures("1009", day).await.unwrap();
    assert_eq!(none, AgentFigures::default());
    assert_eq!(none.average_handle_secs(), 0);
}

on_every_backend!(
    the_calls_of_a_number_newest_first_with_queue_and_agent,
    an_agents_figures_of_the_day,
);
