//! Call-center records: queue events, voicemails, surveys, missed calls.

use crate::{
    MissedCall, QueueEvent, Store, Survey, Voicemail, VoicemailCounts, CALLCENTER_VERSION,
};

const T0: i64 = 1_700_000_000_000;

/// Event `i`: calls `call-{i / 4}` each get four events, spread over three
/// queues, one second apart.
fn event(i: i64) -> QueueEvent {
    let with_agent = i % 4 >= 2;
    QueueEvent {
        id: None,
        at: T0 + i * 1000,
        queue: ["sales", "support", "billing"][(i % 3) as usize].to_string(),
        call_id: format!("call-{}@switchboard", i / 4),
        caller: format!("{}", 5000 + i % 10),
        agent: with_agent.then(|| format!("{}", 1000 + i % 5)),
        kind: ["joined", "offered", "answered", "hangup"][(i % 4) as usize].to_string(),
        reason: (i % 4 == 3).then(|| "caller_hangup".to_string()),
        wait_secs: (i % 4 >= 2).then_some(i % 60),
        talk_secs: (i % 4 == 3).then_some(i % 300),
    }
}

/// `list` without the ids the database assigned (all must be set).
fn without_ids(list: &[QueueEvent]) -> Vec<QueueEvent> {
    list.iter()
        .map(|e| {
            assert!(e.id.is_some());
            QueueEvent {
                id: None,
                ..e.clone()
            }
        })
        .collect()
}

fn voicemail(extension: &str, at: i64, path: &str) -> Voicemail {
    Voicemail {
        id: None,
        extension: extension.to_string(),
        caller: "5551234".to_string(),
        at,
        path: path.to_string(),
        seconds: 12,
        heard: false,
    }
}

fn survey(call_id: &str, agent: Option<&str>, score: i32, at: i64) -> Survey {
    Survey {
        id: None,
        call_id: call_id.to_string(),
        agent: agent.map(str::to_string),
        queue: agent.map(|_| "support".to_string()),
        score,
        at,
    }
}

fn missed(extension: &str, caller: &str, at: i64) -> MissedCall {
    MissedCall {
        id: None,
        extension: extension.to_string(),
        caller: caller.to_string(),
        at,
    }
}

async fn queue_events_batch_of_1000_and_queries(store: &Store) {
    let batch: Vec<QueueEvent> = (0..1000).map(event).collect();
    store.insert_queue_events(&batch).await.unwrap();
    store.insert_queue_events(&[]).await.unwrap();

    // Everything is there and round-trips, oldest first.
    let all = store
        .queue_events_between(None, i64::MIN, i64::MAX)
        .await
        .unwrap();
    assert_eq!(without_ids(&all), batch);
    // Ids are assigned in insertion order.
    let ids: Vec<i64> = all.iter().filter_map(|e| e.id).collect();
    assert_eq!(ids.len(), 1000);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // By call: the call's four events, in order, optional fields included.
    let call = store
        .queue_events_for_call("call-10@switchboard")
        .await
        .unwrap();
    assert_eq!(without_ids(&call), (40..44).map(event).collect::<Vec<_>>());
    assert_eq!(call[0].agent, None);
    assert_eq!(call[3].reason.as_deref(), Some("caller_hangup"));
    assert_eq!(call[3].talk_secs, Some(43));
    assert!(store
        .queue_events_for_call("unknown")
        .await
        .unwrap()
        .is_empty());

    // By queue and half-open time range [from, to).
    let from = T0 + 30 * 1000;
    let to = T0 + 60 * 1000;
    let support = store
        .queue_events_between(Some("support"), from, to)
        .await
        .unwrap();
    let expected: Vec<QueueEvent> = (30..60)
        .map(event)
        .filter(|e| e.queue == "support")
        .collect();
    assert_eq!(expected.len(), 10);
    assert_eq!(without_ids(&support), expected);
    let any = store.queue_events_between(None, from, to).await.unwrap();
    assert_eq!(without_ids(&any), (30..60).map(event).collect::<Vec<_>>());
    // `from` is included, `to` is not.
    let edge = store
        .queue_events_between(Some("sales"), T0, T0 + 3000)
        .await
        .unwrap();
    assert_eq!(without_ids(&edge), vec![event(0)]);
    assert!(store
        .queue_events_between(Some("nobody"), i64::MIN, i64::MAX)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .queue_events_between(None, to, from)
        .await
        .unwrap()
        .is_empty());
}

async fn queue_events_with_equal_times_keep_insertion_order(store: &Store) {
    let batch: Vec<QueueEvent> = ["joined", "offered", "answered"]
        .iter()
        .map(|kind| QueueEvent {
            at: T0,
            queue: "q".to_string(),
            call_id: "c".to_string(),
            kind: kind.to_string(),
            ..QueueEvent::default()
        })
        .collect();
    store.insert_queue_events(&batch).await.unwrap();
    let kinds: Vec<String> = store
        .queue_events_for_call("c")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["joined", "offered", "answered"]);
}

async fn voicemail_list_counts_heard_delete(store: &Store) {
    assert_eq!(
        store.voicemail_counts("1001").await.unwrap(),
        VoicemailCounts { new: 0, old: 0 }
    );
    let a = store
        .insert_voicemail(&voicemail("1001", T0, "vm/a.wav"))
        .await
        .unwrap();
    let b = store
        .insert_voicemail(&voicemail("1001", T0 + 5000, "vm/b.wav"))
        .await
        .unwrap();
    // Same time as `b`: the later insert is listed first.
    let c = store
        .insert_voicemail(&voicemail("1001", T0 + 5000, "vm/c.wav"))
        .await
        .unwrap();
    let other = store
        .insert_voicemail(&Voicemail {
            heard: true,
            ..voicemail("1002", T0, "vm/o.wav")
        })
        .await
        .unwrap();
    assert_eq!(
        [a, b, c, other]
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        4
    );

    let list = store.list_voicemails("1001").await.unwrap();
    let ids: Vec<Option<i64>> = list.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![Some(c), Some(b), Some(a)]);
    assert_eq!(
        list[2],
        Voicemail {
            id: Some(a),
            ..voicemail("1001", T0, "vm/a.wav")
        }
    );
    assert_eq!(
        store.voicemail_counts("1001").await.unwrap(),
        VoicemailCounts { new: 3, old: 0 }
    );
    assert_eq!(
        store.voicemail_counts("1002").await.unwrap(),
        VoicemailCounts { new: 0, old: 1 }
    );
    assert!(store.list_voicemails("1003").await.unwrap().is_empty());

    // Heard, then back to new, then heard again.
    assert!(store.mark_voicemail_heard(b, true).await.unwrap());
    assert!(store.mark_voicemail_heard(a, true).await.unwrap());
    assert!(store.mark_voicemail_heard(a, false).await.unwrap());
    assert!(store.mark_voicemail_heard(a, true).await.unwrap());
    assert!(!store.mark_voicemail_heard(-5, true).await.unwrap());
    assert_eq!(
        store.voicemail_counts("1001").await.unwrap(),
        VoicemailCounts { new: 1, old: 2 }
    );
    let heard: Vec<bool> = store
        .list_voicemails("1001")
        .await
        .unwrap()
        .iter()
        .map(|m| m.heard)
        .collect();
    assert_eq!(heard, vec![false, true, true]);

    // Deleting returns the message, so its file can be removed.
    let gone = store.delete_voicemail(b).await.unwrap().unwrap();
    assert_eq!(gone.id, Some(b));
    assert_eq!(gone.path, "vm/b.wav");
    assert!(gone.heard);
    assert!(store.delete_voicemail(b).await.unwrap().is_none());
    assert_eq!(
        store.voicemail_counts("1001").await.unwrap(),
        VoicemailCounts { new: 1, old: 1 }
    );
    assert_eq!(store.list_voicemails("1001").await.unwrap().len(), 2);
    assert_eq!(store.list_voicemails("1002").await.unwrap().len(), 1);
}

async fn surveys_by_agent_and_call(store: &Store) {
    let mut ids = Vec::new();
    for (i, s) in [
        survey("c1", Some("1001"), 5, T0),
        survey("c2", Some("1001"), 3, T0 + 2000),
        survey("c3", Some("1002"), 4, T0 + 1000),
        survey("c4", None, 1, T0 + 3000),
        survey("c2", Some("1001"), 4, T0 + 2500),
    ]
    .iter()
    .enumerate()
    {
        let id = store.insert_survey(s).await.unwrap();
        assert_eq!(
            store.surveys_for_call(&s.call_id).await.unwrap().last(),
            Some(&Survey {
                id: Some(id),
                ..s.clone()
            }),
            "survey {i}"
        );
        ids.push(id);
    }

    // By agent: newest first, limited.
    let scores: Vec<i32> = store
        .surveys_for_agent("1001", 10)
        .await
        .unwrap()
        .iter()
        .map(|s| s.score)
        .collect();
    assert_eq!(scores, vec![4, 3, 5]);
    let latest = store.surveys_for_agent("1001", 1).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].id, Some(ids[4]));
    assert_eq!(latest[0].queue.as_deref(), Some("support"));
    assert!(store.surveys_for_agent("1001", 0).await.unwrap().is_empty());
    assert!(store
        .surveys_for_agent("1001", -1)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .surveys_for_agent("9999", 10)
        .await
        .unwrap()
        .is_empty());

    // By call: oldest first; an answer without agent is kept.
    let call: Vec<Option<i64>> = store
        .surveys_for_call("c2")
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(call, vec![Some(ids[1]), Some(ids[4])]);
    let anonymous = store.surveys_for_call("c4").await.unwrap();
    assert_eq!(anonymous[0].agent, None);
    assert_eq!(anonymous[0].queue, None);
    assert!(store.surveys_for_call("none").await.unwrap().is_empty());
}

async fn missed_calls_per_extension_newest_first(store: &Store) {
    let first = store
        .insert_missed_call(&missed("1001", "5550001", T0))
        .await
        .unwrap();
    let second = store
        .insert_missed_call(&missed("1001", "5550002", T0 + 60_000))
        .await
        .unwrap();
    store
        .insert_missed_call(&missed("1002", "5550003", T0 + 30_000))
        .await
        .unwrap();
    assert_ne!(first, second);

    let list = store.list_missed_calls("1001", 10).await.unwrap();
    assert_eq!(
        list,
        vec![
            MissedCall {
                id: Some(second),
                ..missed("1001", "5550002", T0 + 60_000)
            },
            MissedCall {
                id: Some(first),
                ..missed("1001", "5550001", T0)
            },
        ]
    );
    assert_eq!(store.list_missed_calls("1001", 1).await.unwrap(), list[..1]);
    assert!(store
        .list_missed_calls("1001", -3)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.list_missed_calls("1002", 10).await.unwrap().len(), 1);
    assert!(store
        .list_missed_calls("1003", 10)
        .await
        .unwrap()
        .is_empty());
}

async fn records_do_not_bump_the_callcenter_version(store: &Store) {
    let before = store.config_version(CALLCENTER_VERSION).await.unwrap();
    store.insert_queue_events(&[event(1)]).await.unwrap();
    let id = store
        .insert_voicemail(&voicemail("1001", T0, "vm.wav"))
        .await
        .unwrap();
    store.mark_voicemail_heard(id, true).await.unwrap();
    store.delete_voicemail(id).await.unwrap();
    store
        .insert_survey(&survey("c", Some("1001"), 5, T0))
        .await
        .unwrap();
    store
        .insert_missed_call(&missed("1001", "5", T0))
        .await
        .unwrap();
    assert_eq!(
        store.config_version(CALLCENTER_VERSION).await.unwrap(),
        before
    );
}

/// The service-level counts per queue and per day, from events of two
/// queues on two days (computed by hand below).
async fn queue_counts_per_queue_and_day(store: &Store) {
    const DAY: i64 = 86_400_000;
    let d0 = 20_000 * DAY; // a UTC midnight
    let ev =
        |at: i64, queue: &str, call: &str, kind: &str, wait: Option<i64>, talk: Option<i64>| {
            QueueEvent {
                id: None,
                at,
                queue: queue.into(),
                call_id: call.into(),
                caller: "13800000000".into(),
                agent: (kind == "answered" || kind == "ended").then(|| "1001".to_string()),
                kind: kind.into(),
                reason: None,
                wait_secs: wait,
                talk_secs: talk,
            }
        };
    store
        .insert_queue_events(&[
            // sales, day 0: answered in 10 s (60 s talk), in 30 s (120 s
            // talk), abandoned after 3 s (short) and after 40 s.
            ev(d0 + 1000, "sales", "a", "joined", None, None),
            ev(d0 + 11_000, "sales", "a", "answered", Some(10), None),
            ev(d0 + 71_000, "sales", "a", "ended", None, Some(60)),
            ev(d0 + 2000, "sales", "b", "joined", None, None),
            ev(d0 + 32_000, "sales", "b", "answered", Some(30), None),
            ev(d0 + 152_000, "sales", "b", "ended", None, Some(120)),
            ev(d0 + 3000, "sales", "c", "joined", None, None),
            ev(d0 + 6000, "sales", "c", "abandoned", Some(3), None),
            ev(d0 + 4000, "sales", "d", "joined", None, None),
            ev(d0 + 44_000, "sales", "d", "abandoned", Some(40), None),
            // sales, day 1: answered in 5 s, not yet ended.
            ev(d0 + DAY + 1000, "sales", "e", "joined", None, None),
            ev(d0 + DAY + 6000, "sales", "e", "answered", Some(5), None),
            // support, day 1: one abandon after 8 s.
            ev(d0 + DAY + 2000, "support", "f", "joined", None, None),
            ev(
                d0 + DAY + 10_000,
                "support",
                "f",
                "abandoned",
                Some(8),
                None,
            ),
            // Outside the window.
            ev(d0 + 3 * DAY, "sales", "g", "joined", None, None),
        ])
        .await
        .unwrap();
    let all = store
        .queue_counts(d0, d0 + 2 * DAY, 20, 5, None)
        .await
        .unwrap();
    let sales = crate::QueueCounts {
        queue: "sales".into(),
        day: None,
        offered: 5,
        answered: 3,
        answered_in_target: 2,
        answer_wait_secs: 45,
        longest_wait_secs: 40,
        abandoned: 2,
        short_abandoned: 1,
        ended: 2,
        talk_secs: 180,
    };
    let support = crate::QueueCounts {
        queue: "support".into(),
        day: None,
        offered: 1,
        answered: 0,
        answered_in_target: 0,
        answer_wait_secs: 0,
        longest_wait_secs: 8,
        abandoned: 1,
        short_abandoned: 0,
        ended: 0,
        talk_secs: 0,
    };
    assert_eq!(all, vec![sales.clone(), support.clone()]);
    // Per day (UTC here): sales on days 20000 and 20001, support on 20001.
    let days = store
        .queue_counts(d0, d0 + 2 * DAY, 20, 5, Some(0))
        .await
        .unwrap();
    let keys: Vec<(String, Option<i64>, i64)> = days
        .iter()
        .map(|c| (c.queue.clone(), c.day, c.offered))
        .collect();
    assert_eq!(
        keys,
        [
            ("sales".to_string(), Some(20_000), 4),
            ("sales".to_string(), Some(20_001), 1),
            ("support".to_string(), Some(20_001), 1),
        ]
    );
    // The target and the short-abandon threshold are the caller's.
    let strict = store.queue_counts(d0, d0 + DAY, 5, 1, None).await.unwrap();
    assert_eq!(
        (strict[0].answered_in_target, strict[0].short_abandoned),
        (0, 0)
    );
    assert!(store
        .queue_counts(d0 + 10 * DAY, d0 + 11 * DAY, 20, 5, None)
        .await
        .unwrap()
        .is_empty());
}

on_every_backend!(
    queue_counts_per_queue_and_day,
    queue_events_batch_of_1000_and_queries,
    queue_events_with_equal_times_keep_insertion_order,
    voicemail_list_counts_heard_delete,
    surveys_by_agent_and_call,
    missed_calls_per_extension_newest_first,
    records_do_not_bump_the_callcenter_version,
);
