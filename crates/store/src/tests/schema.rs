//! The two migration sets make the same schema, and `check_schema` sees a
//! database that drifted from it.

use super::{PgTestDb, TempDb};
use crate::db::Backend;
use crate::schema::{compare, postgres_conventions, reference, Family};
use crate::Store;

#[test]
fn migration_sets_have_the_same_versions_and_names() {
    let sqlite: Vec<(i64, &str)> = sqlx::Sqlite::MIGRATIONS
        .iter()
        .map(|m| (m.0, m.1))
        .collect();
    let postgres: Vec<(i64, &str)> = sqlx::Postgres::MIGRATIONS
        .iter()
        .map(|m| (m.0, m.1))
        .collect();
    assert_eq!(sqlite, postgres);
}

#[tokio::test]
async fn the_reference_schema_is_the_full_one() {
    // Guards the comparison below against comparing two empty schemas.
    let s = reference().await.unwrap();
    assert!(s.tables.len() >= 27, "{:?}", s.tables.keys());
    let cdrs = &s.tables["cdrs"];
    let id = cdrs.column("id").unwrap();
    assert_eq!((id.family.clone(), id.generated), (Family::Int64, true));
    assert!(cdrs.indexes["cdrs_in_progress"].partial);
    assert!(cdrs.indexes["cdrs_call_uid"].unique);
    assert!(s.tables["users"]
        .unique
        .contains(&vec!["username".to_string()]));
    assert_eq!(
        s.tables["registrations"].primary_key,
        vec!["aor".to_string(), "contact".to_string()]
    );
    assert!(s.tables["cdrs"].column("answer_at").unwrap().nullable);
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_make_the_same_schema() {
    let sqlite = reference().await.unwrap();
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let store = db.open().await;
    let pg = store.schema().await.unwrap();
    let diff = compare(&sqlite, &pg);
    assert!(diff.is_empty(), "schemas differ:\n{}", diff.join("\n"));
    let conventions = postgres_conventions(&pg);
    assert!(conventions.is_empty(), "{}", conventions.join("\n"));
    // PostgreSQL's own types where SQLite has integers.
    let cdrs = &pg.tables["cdrs"];
    assert_eq!(cdrs.column("in_progress").unwrap().family, Family::Bool);
    assert_eq!(cdrs.column("start_at").unwrap().family, Family::Timestamp);
    let id = cdrs.column("id").unwrap();
    assert_eq!((id.family.clone(), id.generated), (Family::Int64, true));
    assert!(store.check_schema().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_fresh_sqlite_file_matches_and_drift_is_reported() {
    let db = TempDb::new();
    let store = db.open().await;
    assert!(store.check_schema().await.unwrap().is_empty());
    for sql in [
        "DROP INDEX cdrs_caller",
        "ALTER TABLE cdrs ADD COLUMN extra TEXT",
        "CREATE INDEX surveys_score ON surveys (score)",
    ] {
        sqlx::query(sql).execute(store.sqlite_pool()).await.unwrap();
    }
    let diff = store.check_schema().await.unwrap();
    assert_eq!(
        diff,
        vec![
            "column cdrs.extra is not expected",
            "index cdrs_caller on cdrs is missing",
            "index surveys_score on surveys is not expected",
        ],
        "{diff:?}"
    );
}

#[tokio::test]
async fn postgres_drift_is_reported() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let store: Store = db.open().await;
    for sql in [
        "ALTER TABLE users ALTER COLUMN email DROP NOT NULL",
        "ALTER TABLE audit_log ALTER COLUMN ok TYPE text",
        "ALTER TABLE users DROP CONSTRAINT users_username_key",
    ] {
        sqlx::query(sql).execute(store.pg_pool()).await.unwrap();
    }
    let diff = store.check_schema().await.unwrap();
    assert_eq!(
        diff,
        vec![
            "column audit_log.ok is text (PostgreSQL), expected int32 (SQLite)",
            "column users.email is NULL, expected NOT NULL",
            "table users has unique constraints {}, expected {[\"username\"]}",
            "column audit_log.ok has collation (default), expected \"C\"",
        ],
        "{diff:?}"
    );
}
