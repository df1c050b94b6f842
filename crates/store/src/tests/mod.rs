//! Database tests. Every scenario runs on each backend: a temporary SQLite
//! file (the default production setup), `sqlite::memory:`, and a fresh
//! database of the PostgreSQL cluster named by `SWITCHBOARD_TEST_POSTGRES_URL`
//! (a base URL such as `postgres://postgres@127.0.0.1:5433`; `tests/run`
//! starts a private cluster and sets it). Without that variable the
//! PostgreSQL half is skipped with a notice, or fails when `CI=true`.

/// Runs each named `async fn(&Store)` scenario of the enclosing module on a
/// temporary file (`file::<name>`), on `sqlite::memory:` (`memory::<name>`)
/// and on PostgreSQL (`postgres::<name>`).
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod file {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = $crate::tests::TempDb::new();
                    super::$name(&db.open().await).await;
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&$crate::tests::memory().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = $crate::tests::PgTestDb::create().await else { return };
                    super::$name(&db.open().await).await;
                }
            )*
        }
    };
}

/// Runs each named `async fn(&TestDb)` scenario, which opens (and reopens:
/// a restart, another process) its own handles, on a temporary SQLite file
/// (`reopen::file::<name>`) and on PostgreSQL (`reopen::postgres::<name>`).
macro_rules! on_persistent_backends {
    ($($name:ident),* $(,)?) => {
        mod reopen {
            mod file {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let db = $crate::tests::TestDb::File($crate::tests::TempDb::new());
                        super::super::$name(&db).await;
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let Some(db) = $crate::tests::PgTestDb::create().await else { return };
                        super::super::$name(&$crate::tests::TestDb::Postgres(db)).await;
                    }
                )*
            }
        }
    };
}

mod audit;
mod backends;
mod callcenter;
mod cdr;
mod copy;
mod extensions;
mod open;
mod records;
mod registrations;
mod schema;
mod sessions;
mod users;
mod voice;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor};

use crate::Store;

/// A database file under the system temp dir, removed (with its WAL files
/// and directory) when dropped.
pub(crate) struct TempDb {
    dir: PathBuf,
    path: PathBuf,
}

/// A name no other test of any process uses at the same time.
fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl TempDb {
    /// A fresh, not yet existing path `<tmp>/switchboard-store-<unique>/<sub>/test.db`,
    /// so opening it also exercises parent-directory creation.
    pub(crate) fn new() -> TempDb {
        let dir = std::env::temp_dir().join(unique("switchboard-store-"));
        let path = dir.join("nested").join("test.db");
        TempDb { dir, path }
    }

    /// `sqlite://` URL of the file.
    pub(crate) fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Opens a store on the file.
    pub(crate) async fn open(&self) -> Store {
        Store::open(&self.url()).await.unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh in-memory store.
pub(crate) async fn memory() -> Store {
    Store::open("sqlite::memory:").await.unwrap()
}

/// The environment variable naming the test cluster.
pub(crate) const POSTGRES_ENV: &str = "SWITCHBOARD_TEST_POSTGRES_URL";

/// The base URL of the PostgreSQL test cluster, or `None` (after a notice)
/// when it is not set outside CI. Under `CI=true` a missing cluster fails
/// the test: CI must run both halves.
pub(crate) fn postgres_base_url() -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().trim_end_matches('/').to_string()),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "{POSTGRES_ENV} is not set: under CI the PostgreSQL half of the store tests \
                     must run (tests/run starts a private cluster and sets it)"
                );
            }
            eprintln!(
                "notice: {POSTGRES_ENV} is not set, PostgreSQL test skipped \
                 (tests/run starts a cluster; or tests/postgres-cluster.sh start DIR)"
            );
            None
        }
    }
}

/// A fresh database in the PostgreSQL test cluster, dropped (with its
/// connections) when this is dropped, even after a failed assertion.
pub(crate) struct PgTestDb {
    base: String,
    name: String,
}

impl PgTestDb {
    /// Creates an empty database, or `None` when the cluster is not
    /// configured (see [`postgres_base_url`]).
    pub(crate) async fn create() -> Option<PgTestDb> {
        let base = postgres_base_url()?;
        let name = unique("sbtest_");
        let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test cluster at {base}: {e}"));
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        admin.close().await.ok();
        Some(PgTestDb { base, name })
    }

    /// The database's URL.
    pub(crate) fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }

    /// Opens (and migrates) a store on it.
    pub(crate) async fn open(&self) -> Store {
        Store::open(&self.url()).await.unwrap()
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // The test's runtime is going away: drop the database from a runtime
        // of our own, on a thread of our own. FORCE ends the connections the
        // test's pools left open.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres")).await?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await?;
                admin.close().await
            })
            .map_err(std::io::Error::other)
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {done:?}", self.name);
        }
    }
}

/// A database that outlives its handles: a SQLite file or a PostgreSQL
/// database (for restarts and several processes).
pub(crate) enum TestDb {
    File(TempDb),
    Postgres(PgTestDb),
}

impl TestDb {
    /// Its URL.
    pub(crate) fn url(&self) -> String {
        match self {
            TestDb::File(db) => db.url(),
            TestDb::Postgres(db) => db.url(),
        }
    }

    /// Opens a new handle (as another process or a restarted one would).
    pub(crate) async fn open(&self) -> Store {
        Store::open(&self.url()).await.unwrap()
    }
}
