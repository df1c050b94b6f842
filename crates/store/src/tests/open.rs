//! Opening, pragmas, migrations and multi-handle visibility.

use super::{memory, TempDb, TestDb};
use crate::{BackendKind, Extension, Store, StoreError};

async fn pragma_i64(store: &Store, pragma: &'static str) -> i64 {
    sqlx::query_scalar(pragma)
        .fetch_one(store.sqlite_pool())
        .await
        .unwrap()
}

async fn journal_mode(store: &Store) -> String {
    sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.sqlite_pool())
        .await
        .unwrap()
}

async fn applied_migrations(store: &Store) -> Vec<i64> {
    store.migration_status().await.unwrap().applied
}

fn ext(number: &str) -> Extension {
    Extension {
        number: number.to_string(),
        password: format!("pw{number}"),
        display_name: String::new(),
        enabled: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn open_creates_file_and_parent_dirs() {
    let db = TempDb::new();
    assert!(!db.path().exists());
    let store = db.open().await;
    assert!(db.path().exists());
    store.close().await;
}

#[tokio::test]
async fn accepts_sqlite_colon_path_form() {
    let db = TempDb::new();
    let store = Store::open(&format!("sqlite:{}", db.path().display()))
        .await
        .unwrap();
    assert!(db.path().exists());
    assert_eq!(store.count_cdrs().await.unwrap(), 0);
}

#[tokio::test]
async fn file_db_uses_wal_and_configured_pragmas() {
    let db = TempDb::new();
    let store = db.open().await;
    assert_eq!(journal_mode(&store).await, "wal");
    // 1 = NORMAL
    assert_eq!(pragma_i64(&store, "PRAGMA synchronous").await, 1);
    assert_eq!(pragma_i64(&store, "PRAGMA busy_timeout").await, 5000);
    assert_eq!(pragma_i64(&store, "PRAGMA foreign_keys").await, 1);
}

async fn migrations_applied_twice_are_idempotent(db: &TestDb) {
    let first = db.open().await;
    first.add_extensions(&[ext("1001")]).await.unwrap();
    let expected = all_migrations();
    assert_eq!(applied_migrations(&first).await, expected);
    first.close().await;

    // Re-opening validates the stored checksums and applies nothing.
    let second = db.open().await;
    assert_eq!(applied_migrations(&second).await, expected);
    assert_eq!(second.list_extensions().await.unwrap(), vec![ext("1001")]);

    // Running the migrator again on an open pool is a no-op as well.
    assert!(second.migrate().await.unwrap().is_empty());
    assert_eq!(applied_migrations(&second).await, expected);
}

#[tokio::test]
async fn memory_db_is_migrated_and_usable() {
    let store = memory().await;
    assert_eq!(applied_migrations(&store).await, all_migrations());
    store.add_extensions(&[ext("1")]).await.unwrap();
    // The single pooled connection must keep the database alive across
    // calls and clones.
    let clone = store.clone();
    assert_eq!(clone.list_extensions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn separate_memory_dbs_are_independent() {
    let a = memory().await;
    let b = memory().await;
    a.add_extensions(&[ext("1")]).await.unwrap();
    assert!(b.list_extensions().await.unwrap().is_empty());
}

#[tokio::test]
async fn rejects_unsupported_urls() {
    for url in ["mysql://x", "sqlite://", "/tmp/x.db", "postgres:/x"] {
        let err = Store::open(url).await.unwrap_err();
        assert!(
            matches!(err, StoreError::UnsupportedUrl(_)),
            "{url}: {err:?}"
        );
    }
    assert_eq!(
        Store::open("mysql://u:secret@db/sb")
            .await
            .unwrap_err()
            .to_string(),
        "unsupported database URL 'mysql://u:***@db/sb': expected sqlite://PATH, \
         sqlite:PATH, sqlite::memory: or postgres://USER@HOST[:PORT]/DATABASE"
    );
    assert_eq!(
        Store::open("sqlite::memory:").await.unwrap().backend(),
        BackendKind::Sqlite
    );
}

async fn two_handles_on_one_database_see_each_others_writes(db: &TestDb) {
    // Stands in for the CLI and the server: two independent pools.
    let server = db.open().await;
    let cli = db.open().await;

    let before = server.config_version("extensions").await.unwrap();
    cli.add_extensions(&[ext("2001"), ext("2002")])
        .await
        .unwrap();
    assert!(server.config_version("extensions").await.unwrap() > before);
    assert_eq!(server.list_extensions().await.unwrap().len(), 2);

    server.set_password("2001", "changed").await.unwrap();
    let seen = cli.get_extension("2001").await.unwrap().unwrap();
    assert_eq!(seen.password, "changed");

    server
        .remove_extensions(&["2002".to_string()])
        .await
        .unwrap();
    assert!(cli.get_extension("2002").await.unwrap().is_none());
}

#[tokio::test]
async fn concurrent_first_open_of_a_fresh_file() {
    // Processes starting at once on a new file must not trip over the WAL
    // switch or both apply the migrations ("table already exists").
    let db = TempDb::new();
    let url = db.url();
    let (a, b, c) = tokio::join!(Store::open(&url), Store::open(&url), Store::open(&url));
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(applied_migrations(&a).await, all_migrations());
    assert_eq!(journal_mode(&c).await, "wal");
    a.add_extensions(&[ext("1")]).await.unwrap();
    assert_eq!(b.list_extensions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn callcenter_migration_creates_tables_and_version_row() {
    let store = memory().await;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, version FROM config_versions ORDER BY name")
            .fetch_all(store.sqlite_pool())
            .await
            .unwrap();
    assert!(rows.contains(&("callcenter".to_string(), 0)), "{rows:?}");
    for table in [
        "queues",
        "agents",
        "tiers",
        "ivr_menus",
        "routing_rules",
        "queue_events",
        "voicemails",
        "surveys",
        "missed_calls",
    ] {
        let count: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(store.sqlite_pool())
                .await
                .unwrap();
        assert_eq!(count, 0, "{table}");
    }
    let mut indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
         AND tbl_name IN ('tiers', 'queue_events', 'voicemails', 'surveys', 'missed_calls')",
    )
    .fetch_all(store.sqlite_pool())
    .await
    .unwrap();
    indexes.sort();
    assert_eq!(
        indexes,
        vec![
            "missed_calls_extension_at",
            "queue_events_agent_at",
            "queue_events_at",
            "queue_events_call_id",
            "queue_events_queue_at",
            "surveys_agent_at",
            "surveys_call_id",
            "tiers_agent",
            "voicemails_extension_at",
        ]
    );
}

/// Every migration the binary carries for SQLite (PostgreSQL has the same
/// versions: see the schema test).
fn all_migrations() -> Vec<i64> {
    use crate::db::Backend;
    sqlx::Sqlite::MIGRATIONS.iter().map(|m| m.0).collect()
}

on_persistent_backends!(
    migrations_applied_twice_are_idempotent,
    two_handles_on_one_database_see_each_others_writes,
);
