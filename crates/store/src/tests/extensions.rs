//! Extensions, change counters and first-run seeding.

use super::TestDb;
use crate::{AddReport, Extension, Store, StoreError};

fn ext(number: &str, name: &str) -> Extension {
    Extension {
        number: number.to_string(),
        password: format!("secret-{number}"),
        display_name: name.to_string(),
        enabled: true,
        ..Default::default()
    }
}

fn numbers(list: &[Extension]) -> Vec<&str> {
    list.iter().map(|e| e.number.as_str()).collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn add_list_remove(store: &Store) {
    let report = store
        .add_extensions(&[ext("101", "Alice"), ext("100", "Bob"), ext("99", "")])
        .await
        .unwrap();
    assert_eq!(
        report,
        AddReport {
            added: strings(&["101", "100", "99"]),
            skipped: vec![],
        }
    );

    // Existing numbers are skipped and keep their old data; a number
    // repeated inside the batch is skipped too.
    let mut changed = ext("100", "Mallory");
    changed.password = "overwritten?".to_string();
    let report = store
        .add_extensions(&[changed, ext("1000", "Carol"), ext("1000", "Dup")])
        .await
        .unwrap();
    assert_eq!(report.added, strings(&["1000"]));
    assert_eq!(report.skipped, strings(&["100", "1000"]));
    let bob = store.get_extension("100").await.unwrap().unwrap();
    assert_eq!(bob, ext("100", "Bob"));
    assert_eq!(
        store
            .get_extension("1000")
            .await
            .unwrap()
            .unwrap()
            .display_name,
        "Carol"
    );

    let list = store.list_extensions().await.unwrap();
    assert_eq!(numbers(&list), vec!["99", "100", "101", "1000"]);

    let removed = store
        .remove_extensions(&strings(&["100", "4242", "99"]))
        .await
        .unwrap();
    assert_eq!(removed, 2);
    assert!(store.get_extension("100").await.unwrap().is_none());
    let list = store.list_extensions().await.unwrap();
    assert_eq!(numbers(&list), vec!["101", "1000"]);
}

async fn list_is_numeric_aware(store: &Store) {
    let batch: Vec<_> = crate::parse_numbers("1000,99-101,9,0100")
        .unwrap()
        .iter()
        .map(|n| ext(n, ""))
        .collect();
    store.add_extensions(&batch).await.unwrap();
    let list = store.list_extensions().await.unwrap();
    assert_eq!(
        numbers(&list),
        vec!["9", "99", "100", "0100", "101", "1000"]
    );
}

async fn disabled_flag_round_trips(store: &Store) {
    let mut off = ext("300", "Off");
    off.enabled = false;
    store
        .add_extensions(&[off.clone(), ext("301", "On")])
        .await
        .unwrap();
    assert_eq!(store.get_extension("300").await.unwrap(), Some(off));
    assert!(store.get_extension("301").await.unwrap().unwrap().enabled);
}

async fn versions_bump(store: &Store) {
    let v0 = store.config_version("extensions").await.unwrap();
    assert_eq!(v0, 0);
    assert_eq!(store.config_version("no-such-area").await.unwrap(), 0);

    store.add_extensions(&[ext("1", "")]).await.unwrap();
    let v1 = store.config_version("extensions").await.unwrap();
    assert!(v1 > v0);

    store.set_password("1", "new").await.unwrap();
    let v2 = store.config_version("extensions").await.unwrap();
    assert!(v2 > v1);

    store.add_extensions(&[ext("2", "")]).await.unwrap();
    let v3 = store.config_version("extensions").await.unwrap();
    assert!(v3 > v2);

    store.remove_extensions(&strings(&["1"])).await.unwrap();
    let v4 = store.config_version("extensions").await.unwrap();
    assert!(v4 > v3);

    // Calls that change nothing leave the counter alone, so the server does
    // not reload for nothing.
    store.add_extensions(&[ext("2", "")]).await.unwrap();
    store.remove_extensions(&strings(&["1"])).await.unwrap();
    assert!(store.set_password("404", "x").await.is_err());
    assert_eq!(store.config_version("extensions").await.unwrap(), v4);
}

async fn set_password_updates_and_reports_missing(store: &Store) {
    store.add_extensions(&[ext("1001", "")]).await.unwrap();
    store.set_password("1001", "hunter2").await.unwrap();
    assert_eq!(
        store.get_extension("1001").await.unwrap().unwrap().password,
        "hunter2"
    );
    let err = store.set_password("1002", "x").await.unwrap_err();
    assert!(matches!(err, StoreError::ExtensionNotFound(_)));
    assert_eq!(err.to_string(), "extension 1002 not found");
    let err = store.set_password("1001", "").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid extension '1001': password is empty"
    );
}

async fn add_extension_refuses_existing_number(store: &Store) {
    store.add_extension(&ext("1001", "A")).await.unwrap();
    let err = store.add_extension(&ext("1001", "B")).await.unwrap_err();
    assert_eq!(err.to_string(), "extension 1001 already exists");
}

async fn invalid_entries_refuse_the_whole_batch(store: &Store) {
    let mut bad = ext("1002", "");
    bad.password.clear();
    let err = store
        .add_extensions(&[ext("1001", ""), bad])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid extension '1002': password is empty"
    );
    let err = store.add_extensions(&[ext("", "")]).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid extension '': number is empty");
    assert!(store.list_extensions().await.unwrap().is_empty());
}

async fn seed_runs_once_only(db: &TestDb) {
    let store = db.open().await;
    let defaults = [ext("1001", "Demo 1"), ext("1002", "Demo 2")];

    assert_eq!(store.seed_extensions_if_empty(&defaults).await.unwrap(), 2);
    assert_eq!(store.list_extensions().await.unwrap().len(), 2);
    // Second start: already seeded.
    assert_eq!(store.seed_extensions_if_empty(&defaults).await.unwrap(), 0);

    // The operator removes everything; a restart (new handle) must not
    // bring the defaults back.
    store
        .remove_extensions(&strings(&["1001", "1002"]))
        .await
        .unwrap();
    store.close().await;
    let restarted = db.open().await;
    assert_eq!(
        restarted.seed_extensions_if_empty(&defaults).await.unwrap(),
        0
    );
    assert!(restarted.list_extensions().await.unwrap().is_empty());
}

async fn seed_leaves_a_populated_database_alone(store: &Store) {
    store.add_extensions(&[ext("500", "Mine")]).await.unwrap();
    assert_eq!(
        store
            .seed_extensions_if_empty(&[ext("1001", "Demo")])
            .await
            .unwrap(),
        0
    );
    // Still marked: emptying the table later does not seed either.
    store.remove_extensions(&strings(&["500"])).await.unwrap();
    assert_eq!(
        store
            .seed_extensions_if_empty(&[ext("1001", "Demo")])
            .await
            .unwrap(),
        0
    );
    assert!(store.list_extensions().await.unwrap().is_empty());
}

async fn seed_bumps_config_version(store: &Store) {
    store
        .seed_extensions_if_empty(&[ext("1001", "Demo")])
        .await
        .unwrap();
    assert!(store.config_version("extensions").await.unwrap() > 0);
}

async fn types_and_flags_round_trip_and_bad_ones_are_refused(store: &Store) {
    let queue_ext = Extension {
        number: "300".into(),
        password: "pw".into(),
        kind: "queue".into(),
        target: "support".into(),
        record: true,
        auto_answer: "queue".into(),
        allow_outbound: false,
        announce_agent_id: true,
        after_call_work: true,
        auth_algorithms: "SHA-256".into(),
        ..Default::default()
    };
    store.add_extension(&queue_ext).await.unwrap();
    let got = store.get_extension("300").await.unwrap().unwrap();
    assert_eq!(got, queue_ext);
    // Defaults: a direct extension, outbound allowed, no auto-answer.
    store
        .add_extension(&Extension {
            number: "301".into(),
            password: "pw".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let plain = store.get_extension("301").await.unwrap().unwrap();
    assert_eq!(
        (
            plain.kind.as_str(),
            plain.allow_outbound,
            plain.auto_answer.as_str(),
            plain.auth_algorithms.as_str()
        ),
        ("direct", true, "off", "")
    );
    // The digest choice is kept by an update too.
    let both = Extension {
        auth_algorithms: "SHA-256,MD5".into(),
        ..plain.clone()
    };
    store.update_extension(&both).await.unwrap();
    assert_eq!(store.get_extension("301").await.unwrap().unwrap(), both);
    for (bad, why) in [
        (
            Extension {
                kind: "fax".into(),
                ..queue_ext.clone()
            },
            "type",
        ),
        (
            Extension {
                target: String::new(),
                ..queue_ext.clone()
            },
            "target",
        ),
        (
            Extension {
                auto_answer: "sometimes".into(),
                ..queue_ext.clone()
            },
            "auto-answer",
        ),
        (
            Extension {
                auth_algorithms: "SHA-1".into(),
                ..queue_ext.clone()
            },
            "digest algorithms",
        ),
    ] {
        let bad = Extension {
            number: "302".into(),
            ..bad
        };
        let e = store.add_extension(&bad).await.unwrap_err().to_string();
        assert!(e.contains(why), "{e}");
    }
    assert!(store.get_extension("302").await.unwrap().is_none());
}

on_every_backend!(
    list_is_numeric_aware,
    disabled_flag_round_trips,
    set_password_updates_and_reports_missing,
    add_extension_refuses_existing_number,
    invalid_entries_refuse_the_whole_batch,
    seed_leaves_a_populated_database_alone,
    seed_bumps_config_version,
    types_and_flags_round_trip_and_bad_ones_are_refused,
    add_list_remove,
    versions_bump,
);

on_persistent_backends!(seed_runs_once_only,);
