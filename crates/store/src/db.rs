//! Everything that depends on the database driver lives here.
//!
//! The repositories (`extensions.rs`, `cdr.rs`, ...) only use the aliases and
//! helpers below plus portable SQL, so adding PostgreSQL later means changing
//! this file (and adding a `migrations/postgres/` set), not every query.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqlSafeStr};

use crate::StoreError;

/// The database the crate talks to.
pub(crate) type Db = sqlx::Sqlite;
/// Connection pool for [`Db`].
pub(crate) type Pool = sqlx::Pool<Db>;
/// A transaction borrowed from the pool.
pub(crate) type Tx = sqlx::Transaction<'static, Db>;
/// A row returned by [`Db`].
pub(crate) type DbRow = <Db as sqlx::Database>::Row;

/// How long a connection waits for another writer (possibly another
/// process: the CLI and the server share the file) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections for a file database. SQLite has a single writer anyway; a few
/// connections let readers (web UI, CLI listing) run beside the engine's
/// write-behind batches thanks to WAL.
const FILE_POOL_SIZE: u32 = 4;

/// How often opening is tried when the file is busy (see [`connect`]).
const OPEN_ATTEMPTS: u32 = 10;

/// Base delay between those attempts; grows linearly (50 ms, 100 ms, ...).
const OPEN_RETRY_DELAY: Duration = Duration::from_millis(50);

/// Schema migrations, embedded so the binary carries its own schema.
/// Versions and descriptions mirror the file names `NNNN_name.sql`.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "extensions",
        include_str!("../migrations/0001_extensions.sql"),
    ),
    (2, "cdrs", include_str!("../migrations/0002_cdrs.sql")),
    (
        3,
        "registrations",
        include_str!("../migrations/0003_registrations.sql"),
    ),
    (
        4,
        "cdr_recording",
        include_str!("../migrations/0004_cdr_recording.sql"),
    ),
    (
        5,
        "callcenter",
        include_str!("../migrations/0005_callcenter.sql"),
    ),
    (
        6,
        "extension_settings",
        include_str!("../migrations/0006_extension_settings.sql"),
    ),
    (
        7,
        "pickup_group",
        include_str!("../migrations/0007_pickup_group.sql"),
    ),
    (
        8,
        "web_auth",
        include_str!("../migrations/0008_web_auth.sql"),
    ),
    (
        10,
        "voice_platform",
        include_str!("../migrations/0010_voice_platform.sql"),
    ),
    (
        11,
        "audit_settings",
        include_str!("../migrations/0011_audit_settings.sql"),
    ),
    (
        12,
        "cdr_in_progress",
        include_str!("../migrations/0012_cdr_in_progress.sql"),
    ),
    (
        13,
        "registration_params",
        include_str!("../migrations/0013_registration_params.sql"),
    ),
    (
        14,
        "extension_auth_algorithms",
        include_str!("../migrations/0014_extension_auth_algorithms.sql"),
    ),
];

/// Opens a pool for `url` and applies pending migrations.
pub(crate) async fn connect(url: &str) -> Result<Pool, StoreError> {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    };
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    if database.is_empty() && !params.contains("mode=memory") {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    }
    let in_memory = database == ":memory:" || params.contains("mode=memory");

    let options = SqliteConnectOptions::from_str(url)
        .map_err(|source| StoreError::Connect {
            url: url.to_string(),
            source,
        })?
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);

    let pool_options = if in_memory {
        // An in-memory database lives only as long as one of its connections:
        // keep exactly one open forever. One connection also avoids
        // shared-cache table locks, which ignore busy_timeout.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(FILE_POOL_SIZE)
    };
    let options = if in_memory {
        options
    } else {
        create_parent_dir(options.get_filename())?;
        // WAL lets the server keep reading while the CLI (another process)
        // writes; NORMAL sync is safe under WAL and much cheaper than FULL.
        options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
    };

    // Switching a fresh file to WAL needs an exclusive lock that SQLite does
    // not wait for (busy_timeout does not apply), so a process starting at
    // the same moment as another one on a new file can get SQLITE_BUSY here.
    // Once the file is in WAL mode the pragma is a no-op; retrying is enough.
    let mut attempt = 1;
    let pool = loop {
        match pool_options.clone().connect_with(options.clone()).await {
            Ok(pool) => break pool,
            Err(source) if is_busy(&source) && attempt < OPEN_ATTEMPTS => {
                tracing::debug!(url, attempt, "database busy while opening, retrying");
                tokio::time::sleep(OPEN_RETRY_DELAY * attempt).await;
                attempt += 1;
            }
            Err(source) => {
                return Err(StoreError::Connect {
                    url: url.to_string(),
                    source,
                })
            }
        }
    };
    migrate(&pool).await?;
    Ok(pool)
}

/// `true` for SQLITE_BUSY (primary code 5, including its extended codes).
fn is_busy(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == 5)
}

/// Creates the directory that will hold the database file.
fn create_parent_dir(file: &Path) -> Result<(), StoreError> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            // Blocking, but it runs once at startup and the workspace's tokio
            // build has no `fs` feature.
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Builds the migrator from the embedded files. Using sqlx's own machinery
/// keeps its `_sqlx_migrations` table and checksums, so `sqlx migrate info`
/// and a future file-based migrator agree with us.
fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Applies pending migrations.
///
/// sqlx's migration lock is a no-op on SQLite, so two processes starting on
/// a fresh file could both try to apply migration 1. Running the migrator
/// inside a `BEGIN IMMEDIATE` transaction takes SQLite's write lock first:
/// the second process waits (busy_timeout), then sees the migrations as
/// applied. sqlx turns each migration's own transaction into a savepoint.
pub(crate) async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(db_err("acquiring a connection for migrations"))?;
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(db_err("locking the database for migrations"))?;
    migrator().run_direct(None, &mut *tx, false).await?;
    tx.commit().await.map_err(db_err("committing migrations"))?;
    Ok(())
}

/// Starts a transaction that will write.
///
/// On SQLite a plain (deferred) `BEGIN` that reads first and writes later
/// can fail with SQLITE_BUSY without waiting when another connection wrote
/// in between; `BEGIN IMMEDIATE` takes the write lock up front so the
/// busy timeout applies. PostgreSQL will use a plain `BEGIN`.
pub(crate) async fn begin_write(pool: &Pool) -> Result<Tx, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// The journal mode SQLite reports (`wal` for file databases).
#[cfg(test)]
pub(crate) async fn journal_mode(pool: &Pool) -> Result<String, StoreError> {
    sqlx::query_scalar::<Db, String>("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .map_err(db_err("reading the journal mode"))
}

/// Wraps a driver error with what the store was doing.
pub(crate) fn db_err(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

/// Current wall-clock time as unix milliseconds, the schema's timestamp unit.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        // A clock before 1970 is a broken host; 0 keeps rows writable.
        .unwrap_or(0)
}
