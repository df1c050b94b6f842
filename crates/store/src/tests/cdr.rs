//! Call detail records.

use super::{memory, TempDb};
use crate::{Cdr, Store};

fn cdr(i: i64) -> Cdr {
    let answered = i % 3 != 0;
    Cdr {
        id: None,
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
    store.insert_cdrs(&batch).await.unwrap();
    store.insert_cdrs(&[]).await.unwrap();
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

#[tokio::test]
async fn cdr_batch_of_1000_then_list_and_count_file() {
    let db = TempDb::new();
    batch_insert_then_list(&db.open().await).await;
}

#[tokio::test]
async fn cdr_batch_of_1000_then_list_and_count_memory() {
    batch_insert_then_list(&memory().await).await;
}
