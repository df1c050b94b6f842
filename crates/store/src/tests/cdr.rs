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
);
