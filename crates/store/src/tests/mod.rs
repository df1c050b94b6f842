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
mod campaign_activities;
mod campaigns;
mod cdr;
mod copy;
mod crm;
mod desk;
mod extensions;
mod gateways;
mod kb;
mod open;
mod records;
mod registrations;
mod rollup;
mod schema;
mod sessions;
mod ticket_report;
mod tickets;
mod users;
mod voice;

use std::path::PathBuf;

use crate::testing::{unique, TestDatabase};
use crate::Store;

/// A database file under the system temp dir, removed (with its WAL files
/// and directory) when dropped.
pub(crate) struct TempDb {
    dir: PathBuf,
    path: PathBuf,
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

/// The test cluster's base URL, or `None` when it is not configured
/// outside CI ([`crate::testing::postgres_base_url`]).
pub(crate) fn postgres_base_url() -> Option<String> {
    crate::testing::postgres_base_url().unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh database in the PostgreSQL test cluster, dropped when this is.
pub(crate) struct PgTestDb(TestDatabase);

impl PgTestDb {
    /// Creates an empty database, or `None` when the cluster is not
    /// configured.
    pub(crate) async fn create() -> Option<PgTestDb> {
        TestDatabase::create()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .map(PgTestDb)
    }

    /// The database's URL.
    pub(crate) fn url(&self) -> String {
        self.0.url()
    }

    /// Opens (and migrates) a store on it.
    pub(crate) async fn open(&self) -> Store {
        Store::open(&self.url()).await.unwrap()
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
