//! Call detail records.

use crate::{Cdr, Store};

fn cdr(i: i64) -> Cdr {
    let answered = i % 3 != 0;
    Cdr {
        id: None,
        call_uid: Some(format!("uid-{i}")),
        in_progress: false,
        last_seen_at: Some(1_700_000_000_000 + i * 1000 + 60_000),
        call_id: format!("call-{i}@switchboard"),
        caller: format!("{}", 1000 + i % 50),
        caller_name: format!("Agent {i}"),
        callee: format!("{}", 2000 + i % 7),
        direction: ["internal", "inbound", "outbound"][(i % 3) as usize].to_string(),
        start_at: 1_700_000_000_000 + i * 1000,
        answer_at: answered.then_some(1_700_000_000_000 + i * 1000 + 3000),
        end_at: 1_700_000_000_000 + i * 1000 + 60_000,
        ring_secs: 3,
        talk_secs: if answered { 57 } else { 0 },
        hangup_cause: if answered {
            "normal_clearing"
        } else {
            "no_answer"
        }
        .to_string(),
        hangup_by: "caller".to_string(),
        sip_code: if answered { 200 } else { 480 },
        recording_path: answered.then(|| format!("media/recordings/2026/11/24/call-{i}.wav")),
        recorded_secs: if answered { 56 } else { 0 },
        ..Cdr::default()
    }
}

async fn batch_insert_then_list(store: &Store) {
    let batch: Vec<Cdr> = (0..1000).map(cdr).collect();
    store.upsert_cdrs(&batch).await.unwrap();
    store.upsert_cdrs(&[]).await.unwrap();
    assert_eq!(store.count_cdrs().await.unwrap(), 1000);

    let newest = store.list_cdrs(10).await.unwrap();
    assert_eq!(newest.len(), 10);
    // Newest first, every field round-trips, ids are assigned.
    for (got, i) in newest.iter().zip((990..1000).rev()) {
        assert!(got.id.is_some());
        assert_eq!(
            Cdr {
                id: None,
                ..got.clone()
            },
            cdr(i)
        );
    }
    // Calls whose index is a multiple of 3 were never answered.
    assert_eq!(newest[0].answer_at, None);
    assert_eq!(
        newest[1].answer_at,
        Some(1_700_000_000_000 + 998 * 1000 + 3000)
    );

    assert_eq!(store.list_cdrs(5000).await.unwrap().len(), 1000);
    assert!(store.list_cdrs(0).await.unwrap().is_empty());
    assert!(store.list_cdrs(-1).await.unwrap().is_empty());
}

/// Call `i` as the engine writes it at answer: in progress, end provisional.
fn answered(i: i64) -> Cdr {
    let start = 1_700_000_000_000 + i * 1000;
    Cdr {
        call_uid: Some(format!("live-{i}")),
        in_progress: true,
        last_seen_at: Some(start + 2000),
        call_id: format!("live-{i}@switchboard"),
        caller: "1001".into(),
        callee: "1002".into(),
        direction: "internal".into(),
        start_at: start,
        answer_at: Some(start + 2000),
        end_at: start + 2000,
        ring_secs: 2,
        sip_code: 200,
        ..Cdr::default()
    }
}

/// The same call, ended normally `talk` seconds after answer.
fn ended(i: i64, talk: i64) -> Cdr {
    let open = answered(i);
    let end = open.end_at + talk * 1000;
    Cdr {
        in_progress: false,
        last_seen_at: Some(end),
        end_at: end,
        talk_secs: talk,
        hangup_cause: "NORMAL_CLEARING".into(),
        hangup_by: "caller".into(),
        ..open
    }
}

fn without_id(c: &Cdr) -> Cdr {
    Cdr {
        id: None,
        ..c.clone()
    }
}

/// The row written at answer is in progress (not a CDR yet for the lists),
/// the heartbeat moves its last known time, the completion replaces it in
/// place, and a late in-progress write never reopens a complete row.
async fn row_written_at_answer_is_completed_in_place(store: &Store) {
    store.upsert_cdrs(&[answered(1)]).await.unwrap();
    assert_eq!(store.count_cdrs().await.unwrap(), 0);
    assert!(store.list_cdrs(10).await.unwrap().is_empty());
    let open = store.list_in_progress_cdrs().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(without_id(&open[0]), answered(1));

    let later = answered(1).end_at + 15_000;
    assert_eq!(store.touch_in_progress_cdrs(later).await.unwrap(), 1);
    let open = store.list_in_progress_cdrs().await.unwrap();
    assert_eq!(open[0].last_seen_at, Some(later));

    store.upsert_cdrs(&[ended(1, 42)]).await.unwrap();
    assert!(store.list_in_progress_cdrs().await.unwrap().is_empty());
    let done = store.list_cdrs(10).await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(
        done[0].id, open[0].id,
        "completed in place, not a second row"
    );
    assert_eq!(without_id(&done[0]), ended(1, 42));

    // Neither a stray in-progress write nor a second completion changes it.
    store
        .upsert_cdrs(&[answered(1), ended(1, 7)])
        .await
        .unwrap();
    assert_eq!(
        without_id(&store.list_cdrs(10).await.unwrap()[0]),
        ended(1, 42)
    );
    assert_eq!(store.count_cdrs().await.unwrap(), 1);
    assert_eq!(store.touch_in_progress_cdrs(later).await.unwrap(), 0);
}

/// Answer and end in the same batch (a short call), and records without a
/// call_uid (stored before it existed) never collide with each other.
async fn open_and_end_in_one_batch_and_rows_without_uid(store: &Store) {
    store
        .upsert_cdrs(&[answered(2), answered(3), ended(2, 1)])
        .await
        .unwrap();
    assert_eq!(store.count_cdrs().await.unwrap(), 1);
    assert_eq!(store.list_in_progress_cdrs().await.unwrap().len(), 1);

    let legacy = Cdr {
        call_uid: None,
        ..cdr(9)
    };
    store
        .upsert_cdrs(&[legacy.clone(), legacy.clone()])
        .await
        .unwrap();
    assert_eq!(store.count_cdrs().await.unwrap(), 3);
}

/// At start, the rows a crash left in progress are ended at their last
/// known time with the given cause; complete rows are left alone.
async fn recovery_closes_rows_left_in_progress_only(store: &Store) {
    // Call 1 was seen by a heartbeat 61.4 s after answer; call 2 crashed
    // before any heartbeat; call 3 had ended normally.
    store
        .upsert_cdrs(&[answered(1), answered(2), answered(3), ended(3, 30)])
        .await
        .unwrap();
    let seen = answered(1).answer_at.unwrap() + 61_400;
    // The engine refreshes a row in progress by writing it again.
    store
        .upsert_cdrs(&[Cdr {
            last_seen_at: Some(seen),
            ..answered(1)
        }])
        .await
        .unwrap();

    assert_eq!(
        store
            .close_in_progress_cdrs("SERVER_RESTART")
            .await
            .unwrap(),
        2
    );
    assert!(store.list_in_progress_cdrs().await.unwrap().is_empty());
    let all = store.list_cdrs(10).await.unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    let by_uid = |u: &str| {
        all.iter()
            .find(|c| c.call_uid.as_deref() == Some(u))
            .map(without_id)
            .unwrap()
    };
    let closed = |i: i64, end: i64, talk: i64| Cdr {
        in_progress: false,
        last_seen_at: Some(end),
        end_at: end,
        talk_secs: talk,
        hangup_cause: "SERVER_RESTART".into(),
        hangup_by: "system".into(),
        ..answered(i)
    };
    assert_eq!(by_uid("live-1"), closed(1, seen, 61));
    let answer2 = answered(2).answer_at.unwrap();
    assert_eq!(by_uid("live-2"), closed(2, answer2, 0));
    assert_eq!(by_uid("live-3"), ended(3, 30));

    // Nothing left to close; a late completion cannot reopen or change it.
    assert_eq!(
        store
            .close_in_progress_cdrs("SERVER_RESTART")
            .await
            .unwrap(),
        0
    );
    store.upsert_cdrs(&[ended(1, 99)]).await.unwrap();
    let again = store.list_cdrs(10).await.unwrap();
    let one = again
        .iter()
        .find(|c| c.call_uid.as_deref() == Some("live-1"))
        .unwrap();
    assert_eq!(without_id(one), closed(1, seen, 61));
}

on_every_backend!(
    row_written_at_answer_is_completed_in_place,
    open_and_end_in_one_batch_and_rows_without_uid,
    recovery_closes_rows_left_in_progress_only,
    batch_insert_then_list,
    call_history_search_filters_scopes_and_pages,
    history_reads_the_records_own_agent_queue_and_gateway,
);

/// Rows written since migration 21 name their agent, queue and gateway
/// themselves: the history shows and filters by them without queue events.
async fn history_reads_the_records_own_agent_queue_and_gateway(store: &Store) {
    use crate::CdrQuery;
    let with = |i: i64, agent: Option<&str>, queue: Option<&str>, gateway: Option<&str>| Cdr {
        direction: if gateway.is_some() {
            "outbound"
        } else {
            "internal"
        }
        .into(),
        agent: agent.map(str::to_string),
        queue: queue.map(str::to_string),
        gateway: gateway.map(str::to_string),
        wait_secs: 4,
        agent_secs: 30,
        ..cdr(i)
    };
    store
        .upsert_cdrs(&[
            with(0, Some("1001"), Some("sales"), None),
            with(2, Some("1002"), None, Some("carrier-a")),
            with(4, None, Some("sales"), None),
        ])
        .await
        .unwrap();
    let find = |q: CdrQuery| async move {
        let page = store
            .search_cdrs(&CdrQuery { limit: 10, ..q })
            .await
            .unwrap();
        let mut uids: Vec<String> = page
            .rows
            .iter()
            .filter_map(|r| r.cdr.call_uid.clone())
            .collect();
        uids.sort();
        (page, uids)
    };
    let (all, _) = find(CdrQuery::default()).await;
    let r0 = all
        .rows
        .iter()
        .find(|r| r.cdr.call_uid.as_deref() == Some("uid-0"))
        .unwrap();
    assert_eq!(
        (r0.agent.as_deref(), r0.queue.as_deref()),
        (Some("1001"), Some("sales"))
    );
    assert_eq!((r0.cdr.wait_secs, r0.cdr.agent_secs), (4, 30));
    let (_, uids) = find(CdrQuery {
        gateway: "carrier-a".into(),
        ..CdrQuery::default()
    })
    .await;
    assert_eq!(uids, vec!["uid-2"]);
    let (_, uids) = find(CdrQuery {
        agent: "1002".into(),
        ..CdrQuery::default()
    })
    .await;
    assert_eq!(uids, vec!["uid-2"]);
    let (_, uids) = find(CdrQuery {
        direction: "queue".into(),
        ..CdrQuery::default()
    })
    .await;
    assert_eq!(uids, vec!["uid-0", "uid-4"]);
    let (_, uids) = find(CdrQuery {
        queue: "sales".into(),
        outcome: "missed".into(),
        ..CdrQuery::default()
    })
    .await;
    // uid-0 was never answered; the queue answered uid-4 (to play music)
    // but no agent took it.
    assert_eq!(uids, vec!["uid-0", "uid-4"]);
    let (_, uids) = find(CdrQuery {
        outcome: "answered".into(),
        ..CdrQuery::default()
    })
    .await;
    assert_eq!(uids, vec!["uid-2"]);
}

/// The call history's search: every filter, the data scope, paging and
/// the queue, agent and score read from the call's queue events and survey.
async fn call_history_search_filters_scopes_and_pages(store: &Store) {
    use crate::{CdrQuery, QueueEvent, Survey};
    let batch: Vec<Cdr> = (0..60).map(cdr).collect();
    store.upsert_cdrs(&batch).await.unwrap();
    // Calls 10 and 11 came through queue "sales": 10 answered there by
    // agent 1010 and scored 5; 11 abandoned in the queue, although the
    // queue itself answered it (to play music).
    let ev = |i: i64, kind: &str, agent: Option<&str>| QueueEvent {
        id: None,
        at: 1_700_000_000_000 + i * 1000 + 1000,
        queue: "sales".into(),
        call_id: format!("call-{i}@switchboard"),
        caller: format!("{}", 1000 + i % 50),
        agent: agent.map(String::from),
        kind: kind.into(),
        reason: None,
        wait_secs: Some(2),
        talk_secs: None,
    };
    store
        .insert_queue_events(&[
            ev(10, "joined", None),
            ev(10, "answered", Some("1010")),
            ev(11, "joined", None),
            ev(11, "abandoned", None),
        ])
        .await
        .unwrap();
    store
        .insert_survey(&Survey {
            id: None,
            call_id: "call-10@switchboard".into(),
            agent: Some("1010".into()),
            queue: Some("sales".into()),
            score: 5,
            at: 1_700_000_000_000 + 10 * 1000 + 50_000,
        })
        .await
        .unwrap();
    let all = |q: CdrQuery| CdrQuery { limit: 100, ..q };
    let page = store.search_cdrs(&all(CdrQuery::default())).await.unwrap();
    assert_eq!(page.total, 60);
    assert_eq!(page.rows.len(), 60);
    // Newest first.
    assert_eq!(page.rows[0].cdr.call_uid.as_deref(), Some("uid-59"));
    let row = |i: i64| {
        page.rows
            .iter()
            .find(|r| r.cdr.call_uid.as_deref() == Some(&format!("uid-{i}")))
            .unwrap()
            .clone()
    };
    let r10 = row(10);
    assert_eq!(r10.queue.as_deref(), Some("sales"));
    assert_eq!(r10.agent.as_deref(), Some("1010"));
    assert_eq!(r10.satisfaction, Some(5));
    assert!(!r10.missed && r10.recorded);
    let r11 = row(11);
    assert_eq!(
        (r11.queue.as_deref(), r11.agent.as_deref()),
        (Some("sales"), None)
    );
    assert!(r11.missed, "answered by the queue only: missed");
    let r12 = row(12);
    assert!(r12.missed && !r12.recorded && r12.queue.is_none());
    assert!(!row(13).missed);

    let count = |q: CdrQuery| async move { store.search_cdrs(&all(q)).await.unwrap().total };
    // Calls i with i % 3 == 0 were not answered: 20 of 60, plus call 11.
    let q = |outcome: &str| CdrQuery {
        outcome: outcome.into(),
        ..Default::default()
    };
    assert_eq!(count(q("missed")).await, 21);
    assert_eq!(count(q("answered")).await, 39);
    assert_eq!(
        count(CdrQuery {
            direction: "queue".into(),
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(CdrQuery {
            direction: "inbound".into(),
            ..Default::default()
        })
        .await,
        20
    );
    assert_eq!(
        count(CdrQuery {
            recorded: Some(false),
            ..Default::default()
        })
        .await,
        20
    );
    assert_eq!(
        count(CdrQuery {
            agent: "1010".into(),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(CdrQuery {
            queue: "sales".into(),
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(CdrQuery {
            cause: "no_answer".into(),
            ..Default::default()
        })
        .await,
        20
    );
    assert_eq!(
        count(CdrQuery {
            min_talk_secs: 50,
            ..Default::default()
        })
        .await,
        40
    );
    // Callers are 1000 + i % 50: "1005" is calls 5 and 55; callees 2000 + i % 7.
    assert_eq!(
        count(CdrQuery {
            caller: "1005".into(),
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(CdrQuery {
            number: "2003".into(),
            ..Default::default()
        })
        .await,
        9
    );
    // A wildcard in a filter is a plain character.
    assert_eq!(
        count(CdrQuery {
            number: "%".into(),
            ..Default::default()
        })
        .await,
        0
    );
    // Time window: calls start one second apart.
    assert_eq!(
        count(CdrQuery {
            from: Some(1_700_000_000_000 + 20_000),
            to: Some(1_700_000_000_000 + 30_000),
            ..Default::default()
        })
        .await,
        10
    );
    // Scope: extension 1010 made calls 10 and (as agent) answered 10;
    // calls 10 and 60.. do not exist: one call. An empty scope sees none.
    assert_eq!(
        count(CdrQuery {
            extension: Some("1010".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(CdrQuery {
            extension: Some(" ".into()),
            ..Default::default()
        })
        .await,
        0
    );
    // Paging: the second page of 25 starts at the 26th newest.
    let p2 = store
        .search_cdrs(&CdrQuery {
            offset: 25,
            limit: 25,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((p2.total, p2.rows.len()), (60, 25));
    assert_eq!(p2.rows[0].cdr.call_uid.as_deref(), Some("uid-34"));
    // One record by id, with the same reading.
    let one = store.cdr_record(r10.cdr.id.unwrap()).await.unwrap();
    assert_eq!(one, Some(r10));
    assert_eq!(store.cdr_record(-5).await.unwrap(), None);
}
