//! Database tests: every scenario runs on a temporary SQLite file (the
//! production setup) and, where meaningful, on `sqlite::memory:`.

/// Runs each named `async fn(&Store)` scenario of the enclosing module on a
/// temporary file (`file::<name>`) and on `sqlite::memory:`
/// (`memory::<name>`).
macro_rules! on_file_and_memory {
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
    };
}

mod audit;
mod callcenter;
mod cdr;
mod extensions;
mod open;
mod records;
mod registrations;
mod sessions;
mod users;
mod voice;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

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
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "switchboard-store-{}-{}-{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
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
