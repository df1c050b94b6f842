//! What differs between the backends underneath one API: opening errors,
//! PostgreSQL's pool and timeout settings, migrations from a newer build,
//! settings-change notifications, and conflicting transactions.

use std::time::{Duration, Instant};

use super::{postgres_base_url, PgTestDb, TestDb};
use crate::{
    BackendKind, Extension, SettingsChange, SettingsWatch, Store, StoreError, StoreOptions,
    VoiceList, CALLCENTER_VERSION, EXTENSIONS_VERSION, VOICE_VERSION,
};

fn ext(number: &str) -> Extension {
    Extension {
        number: number.into(),
        password: "pw".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_server_that_is_down_is_a_one_line_connection_error() {
    // Nothing listens on port 1 of the loopback.
    let err = Store::open("postgres://switchboard:secret@127.0.0.1:1/switchboard")
        .await
        .unwrap_err();
    assert!(err.is_connection_error(), "{err:?}");
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(!text.contains("secret"), "password shown: {text}");
    assert!(
        text.starts_with("cannot open database postgres://switchboard:***@127.0.0.1:1/switchboard")
            && text.contains("is the database server running"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_urls_are_refused_with_the_reason() {
    for (url, wanted) in [
        ("postgres://h/db?pool_size=0", "pool_size must be 1 to 1000"),
        (
            "postgres://h/db?statement_timeout=1;x",
            "statement_timeout must look like",
        ),
        ("mysql://h/db", "unsupported database URL"),
    ] {
        let err = Store::open(url).await.unwrap_err().to_string();
        assert!(err.contains(wanted), "{url}: {err}");
    }
}

#[tokio::test]
async fn a_missing_postgres_database_is_named() {
    let Some(base) = postgres_base_url() else {
        return;
    };
    let err = Store::open(&format!("{base}/no_such_database"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("\"no_such_database\" does not exist"),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
    // Not worth retrying: the database will not appear by itself.
    assert!(!err.is_connection_error(), "{err:?}");
}

#[tokio::test]
async fn pool_size_and_statement_timeout_come_from_the_url() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let default = db.open().await;
    assert_eq!(default.backend(), BackendKind::Postgres);
    assert_eq!(
        default.pg_pool().options().get_max_connections(),
        crate::DEFAULT_POOL_SIZE
    );
    let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(default.pg_pool())
        .await
        .unwrap();
    assert_eq!(timeout, crate::DEFAULT_STATEMENT_TIMEOUT);

    let tuned = Store::open(&format!("{}?pool_size=3&statement_timeout=300ms", db.url()))
        .await
        .unwrap();
    assert_eq!(tuned.pg_pool().options().get_max_connections(), 3);
    let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(tuned.pg_pool())
        .await
        .unwrap();
    assert_eq!(timeout, "300ms");
    // A statement over the limit is cancelled (57014), which is no
    // connection error.
    let err = sqlx::query("SELECT pg_sleep(2)")
        .execute(tuned.pg_pool())
        .await
        .unwrap_err();
    let err = StoreError::Database {
        context: "sleeping",
        source: err,
    };
    assert!(err.to_string().contains("statement timeout"), "{err}");
    assert!(!err.is_connection_error());

    // Options given in code win over the URL's.
    let options = StoreOptions {
        pool_size: Some(2),
        statement_timeout: Some("5s".into()),
        ..Default::default()
    };
    let coded = Store::open_with(&format!("{}?pool_size=3", db.url()), &options)
        .await
        .unwrap();
    assert_eq!(coded.pg_pool().options().get_max_connections(), 2);
}

/// Records migration 999 as applied, as a newer build would have.
async fn pretend_a_newer_build_migrated(db: &TestDb) {
    let store = db.open().await;
    match store.backend() {
        BackendKind::Sqlite => sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (999, 'future', TRUE, X'00', 0)",
        )
        .execute(store.sqlite_pool())
        .await
        .map(|_| ()),
        BackendKind::Postgres => sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (999, 'future', TRUE, '\\x00'::bytea, 0)",
        )
        .execute(store.pg_pool())
        .await
        .map(|_| ()),
    }
    .unwrap();
    store.close().await;
}

async fn a_database_of_a_newer_build_is_refused(db: &TestDb) {
    pretend_a_newer_build_migrated(db).await;
    let err = Store::open(&db.url()).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::UnknownMigration {
                version: 999,
                latest: 23
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the database is at migration 999, newer than this build knows (its latest is 23): \
         run a newer switchboard, or restore a backup made for this version"
    );
    // Without migrating (db check) it opens, and says so.
    let options = StoreOptions {
        migrate: false,
        ..Default::default()
    };
    let err = Store::open_with(&db.url(), &options).await.unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownMigration { .. }),
        "{err:?}"
    );
}

/// Waits (generously) for the next change a watch reports.
async fn next(watch: &mut SettingsWatch) -> SettingsChange {
    tokio::time::timeout(Duration::from_secs(30), watch.recv())
        .await
        .expect("no settings change reported within 30 s")
        .expect("the watch ended")
}

async fn settings_changes_are_reported(db: &TestDb) {
    let server = db.open().await;
    let admin = db.open().await;
    let mut watch = server.watch_settings().await.unwrap();

    admin.add_extension(&ext("1001")).await.unwrap();
    assert_eq!(
        next(&mut watch).await,
        SettingsChange::Changed(EXTENSIONS_VERSION.into())
    );
    admin.upsert_queue("support", "{}").await.unwrap();
    assert_eq!(
        next(&mut watch).await,
        SettingsChange::Changed(CALLCENTER_VERSION.into())
    );
    admin
        .add_list_entries(VoiceList::Blacklist, &[("666".into(), String::new())])
        .await
        .unwrap();
    assert_eq!(
        next(&mut watch).await,
        SettingsChange::Changed(VOICE_VERSION.into())
    );
    // A change that fails (and rolls back) and live agent status are not
    // settings changes; the next real one is the next thing reported.
    assert!(admin.set_password("404", "x").await.is_err());
    admin.upsert_agent("1001", "{}").await.unwrap();
    admin
        .set_agent_status("1001", "available", "waiting")
        .await
        .unwrap();
    admin.remove_extensions(&["1001".into()]).await.unwrap();
    // In commit order (SQLite's poll reports the areas that moved within one
    // interval by name, which is the same order here).
    assert_eq!(
        next(&mut watch).await,
        SettingsChange::Changed(CALLCENTER_VERSION.into())
    );
    assert_eq!(
        next(&mut watch).await,
        SettingsChange::Changed(EXTENSIONS_VERSION.into())
    );
    // Closing the store ends the watch.
    server.close().await;
    let end = tokio::time::timeout(Duration::from_secs(30), watch.recv()).await;
    assert_eq!(end, Ok(None));
}

#[tokio::test]
async fn the_listener_listens_again_after_losing_its_connection() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    // One pooled connection: the listener must not hold it.
    let store = Store::open(&format!("{}?pool_size=1", db.url()))
        .await
        .unwrap();
    let mut watch = store.watch_settings().await.unwrap();
    // Kill the listening connection, as a PostgreSQL restart would.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(store.pg_pool())
    .await
    .unwrap();
    assert_eq!(killed, vec![true]);
    assert_eq!(next(&mut watch).await, SettingsChange::Resync);
    // And it hears changes again.
    let deadline = Instant::now() + Duration::from_secs(30);
    store.add_extension(&ext("2001")).await.unwrap();
    assert_eq!(
        next(&mut watch).await,
        SettingsChange::Changed(EXTENSIONS_VERSION.into())
    );
    assert!(Instant::now() < deadline);
    // Closing the store ends the watch.
    store.close().await;
    let end = tokio::time::timeout(Duration::from_secs(30), watch.recv()).await;
    assert_eq!(end, Ok(None));
}

#[tokio::test]
async fn concurrent_writers_conflict_and_are_run_again() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let store = db.open().await;
    // Every one of these serializable transactions updates the same change
    // counter row: run at once, most meet another and fail with 40001 at
    // least once; the store runs them again.
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.add_extension(&ext(&format!("{}", 3000 + i))).await })
        })
        .collect();
    for w in writers {
        w.await.unwrap().unwrap();
    }
    assert_eq!(store.list_extensions().await.unwrap().len(), 16);
    assert_eq!(store.config_version(EXTENSIONS_VERSION).await.unwrap(), 16);
}

#[test]
fn errors_are_told_apart() {
    let wrap = |source| StoreError::Database {
        context: "testing",
        source,
    };
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    assert!(wrap(sqlx::Error::Io(refused)).is_connection_error());
    assert!(wrap(sqlx::Error::PoolTimedOut).is_connection_error());
    assert!(!wrap(sqlx::Error::RowNotFound).is_connection_error());
    assert!(!wrap(sqlx::Error::RowNotFound).is_retryable());
    assert!(!StoreError::ExtensionExists("1".into()).is_retryable());
}

on_persistent_backends!(
    a_database_of_a_newer_build_is_refused,
    settings_changes_are_reported,
);
