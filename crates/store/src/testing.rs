//! For the test suites (the store's, the web module's, the end-to-end
//! tests): a throw-away PostgreSQL database in the cluster named by
//! [`POSTGRES_ENV`]. `tests/run` starts a private cluster and sets it; see
//! `tests/postgres-cluster.sh`.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor};

/// The environment variable holding the test cluster's base URL, e.g.
/// `postgres://postgres@127.0.0.1:5433` (no database: each test creates
/// its own).
pub const POSTGRES_ENV: &str = "SWITCHBOARD_TEST_POSTGRES_URL";

/// The environment variable that makes the web module's tests run on
/// PostgreSQL instead of `sqlite::memory:` (`postgres`).
pub const WEB_BACKEND_ENV: &str = "SWITCHBOARD_TEST_WEB_BACKEND";

/// A name no other test of any process uses at the same time.
pub fn unique(prefix: &str) -> String {
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

/// The test cluster's base URL; `Ok(None)` (after a notice on stderr) when
/// [`POSTGRES_ENV`] is unset, or an error when it is unset under `CI=true`:
/// CI must run the PostgreSQL half of the tests.
pub fn postgres_base_url() -> Result<Option<String>, String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => Ok(Some(url.trim().trim_end_matches('/').to_string())),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => Err(format!(
            "{POSTGRES_ENV} is not set: under CI the PostgreSQL tests must run \
             (tests/run starts a private cluster and sets it)"
        )),
        _ => {
            eprintln!(
                "notice: {POSTGRES_ENV} is not set, PostgreSQL test skipped \
                 (tests/run starts a cluster; or tests/postgres-cluster.sh start DIR)"
            );
            Ok(None)
        }
    }
}

/// A fresh, empty database in the test cluster, dropped (with any
/// connection left to it) when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    base: String,
    name: String,
}

impl TestDatabase {
    /// Creates a database; `Ok(None)` when no cluster is configured (see
    /// [`postgres_base_url`]).
    pub async fn create() -> Result<Option<TestDatabase>, String> {
        let Some(base) = postgres_base_url()? else {
            return Ok(None);
        };
        let name = unique("sbtest_");
        let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
            .await
            .map_err(|e| format!("cannot reach the test cluster at {base}: {e}"))?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .map_err(|e| format!("cannot create test database {name}: {e}"))?;
        admin.close().await.ok();
        Ok(Some(TestDatabase { base, name }))
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // The test's runtime may be going away: drop the database from a
        // runtime of our own, on a thread of our own. FORCE ends the
        // connections the test's pools (or a killed server) left open.
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
