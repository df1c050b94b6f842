//! Persisted registrar bindings.

use super::TestDb;
use crate::{BindingRow, Store, StoreError};

const NOW: i64 = 1_700_000_000_000;

fn binding(aor: &str, contact: &str, expires_at: i64) -> BindingRow {
    BindingRow {
        aor: aor.to_string(),
        contact: contact.to_string(),
        source: "udp:192.0.2.10:5060".to_string(),
        expires_at,
        user_agent: "TestPhone/1.0".to_string(),
        call_id: format!("reg-{contact}"),
        cseq: 7,
        q_value: None,
        params: String::new(),
    }
}

async fn save_replace_load(store: &Store) {
    let mut q = binding("1001", "sip:1001@192.0.2.10:5060", NOW + 60_000);
    q.q_value = Some("0.5".to_string());
    q.params = ";q=0.5;+sip.instance=\"<urn:uuid:1>\";reg-id=1".to_string();
    store
        .save_bindings(
            "1001",
            &[
                q.clone(),
                binding("1001", "sip:1001@192.0.2.11:5060", NOW + 60_000),
            ],
        )
        .await
        .unwrap();
    store
        .save_bindings(
            "1002",
            &[binding("1002", "sip:1002@192.0.2.12:5060", NOW - 1)],
        )
        .await
        .unwrap();
    let loaded = store.load_bindings(NOW - 10).await.unwrap();
    assert_eq!(loaded.len(), 3);
    assert!(loaded.contains(&q), "q and parameters kept: {loaded:?}");

    // Replacing drops contacts that are no longer listed.
    let refreshed = binding("1001", "sip:1001@192.0.2.10:5060", NOW + 120_000);
    store
        .save_bindings("1001", std::slice::from_ref(&refreshed))
        .await
        .unwrap();

    // 1002's binding has expired: not returned, and deleted for good.
    let loaded = store.load_bindings(NOW).await.unwrap();
    assert_eq!(loaded, vec![refreshed]);
    assert_eq!(store.load_bindings(NOW - 10).await.unwrap().len(), 1);

    // An empty list unregisters the AOR.
    store.save_bindings("1001", &[]).await.unwrap();
    assert!(store.load_bindings(NOW).await.unwrap().is_empty());
}

async fn bindings_survive_a_restart(db: &TestDb) {
    let store = db.open().await;
    let row = binding("1001", "sip:1001@192.0.2.10:5060", NOW + 60_000);
    store
        .save_bindings("1001", std::slice::from_ref(&row))
        .await
        .unwrap();
    store.close().await;
    let restarted = db.open().await;
    assert_eq!(restarted.load_bindings(NOW).await.unwrap(), vec![row]);
}

async fn bindings_batch_saves_many_aors(store: &Store) {
    store
        .save_bindings("3000", &[binding("3000", "sip:old@x", NOW + 1000)])
        .await
        .unwrap();
    let batch: Vec<(String, Vec<BindingRow>)> = (0..100)
        .map(|i| {
            let aor = format!("{}", 3000 + i);
            let rows = vec![
                binding(&aor, &format!("sip:{aor}@a"), NOW + 1000),
                binding(&aor, &format!("sip:{aor}@b"), NOW + 1000),
            ];
            (aor, rows)
        })
        .collect();
    store.save_bindings_batch(&batch).await.unwrap();
    let loaded = store.load_bindings(NOW).await.unwrap();
    assert_eq!(loaded.len(), 200);
    assert!(loaded.iter().all(|b| b.contact != "sip:old@x"));
}

async fn duplicate_contact_keeps_last_entry(store: &Store) {
    let first = binding("1001", "sip:1001@x", NOW + 1000);
    let second = binding("1001", "sip:1001@x", NOW + 2000);
    store
        .save_bindings("1001", &[first, second.clone()])
        .await
        .unwrap();
    assert_eq!(store.load_bindings(NOW).await.unwrap(), vec![second]);
}

async fn bindings_of_another_aor_are_refused(store: &Store) {
    let err = store
        .save_bindings("1001", &[binding("1002", "sip:1002@x", NOW + 1000)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BindingAorMismatch { .. }));
    assert_eq!(
        err.to_string(),
        "binding for '1002' passed when saving bindings of '1001'"
    );
    let batch = vec![(
        "1001".to_string(),
        vec![binding("1002", "sip:1002@x", NOW + 1000)],
    )];
    assert!(store.save_bindings_batch(&batch).await.is_err());
    assert!(store.load_bindings(NOW).await.unwrap().is_empty());
}

on_every_backend!(
    bindings_batch_saves_many_aors,
    duplicate_contact_keeps_last_entry,
    bindings_of_another_aor_are_refused,
    save_replace_load,
);

on_persistent_backends!(bindings_survive_a_restart,);
