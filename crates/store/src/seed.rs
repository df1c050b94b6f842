//! First-run seeding of extensions (e.g. from the sample configuration).

use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::db::{self, db_err, Backend, Db, Ts, Value};
use crate::extensions::{validate, EXTENSIONS_VERSION};
use crate::{dispatch, Extension, Store, StoreError};

/// `store_meta` key recording that seeding has been decided once.
const SEEDED_KEY: &str = "seeded";

impl Store {
    /// Inserts `extensions` on the first run only, returning how many were
    /// inserted.
    ///
    /// Seeding happens when the extensions table is empty and the database
    /// has never been seeded; either way the `seeded` marker is then set, so
    /// an operator who later removes every extension does not get the
    /// defaults back, and a database already populated by the CLI is left
    /// alone.
    pub async fn seed_extensions_if_empty(
        &self,
        extensions: &[Extension],
    ) -> Result<usize, StoreError> {
        extensions.iter().try_for_each(validate)?;
        let inserted = dispatch!(self, db => db.seed_extensions_if_empty(extensions))?;
        if inserted > 0 {
            tracing::info!(inserted, "seeded extensions on first run");
        }
        Ok(inserted)
    }
}

impl<DB: Backend> Db<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    bool: Value<DB>,
    i32: Value<DB>,
    i64: Value<DB>,
    String: Value<DB>,
    Ts: Value<DB>,
{
    pub(crate) async fn seed_extensions_if_empty(
        &self,
        extensions: &[Extension],
    ) -> Result<usize, StoreError> {
        // One write transaction so two processes starting together cannot
        // both seed.
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("seeding extensions"))?;
        let marked: Option<String> =
            sqlx::query_scalar("SELECT value FROM store_meta WHERE key = $1")
                .bind(SEEDED_KEY)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err("seeding extensions"))?;
        if marked.is_some() {
            return Ok(0);
        }
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM extensions")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err("seeding extensions"))?;

        let mut inserted = 0;
        if existing == 0 {
            let now = db::now_ms();
            for ext in extensions {
                if Self::insert_new_extension(&mut tx, ext, now).await? {
                    inserted += 1;
                }
            }
            if inserted > 0 {
                Self::bump_version(&mut tx, EXTENSIONS_VERSION).await?;
            }
        }
        sqlx::query("INSERT INTO store_meta (key, value) VALUES ($1, $2)")
            .bind(SEEDED_KEY)
            .bind(db::now_ms().to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("seeding extensions"))?;
        tx.commit().await.map_err(db_err("seeding extensions"))?;
        Ok(inserted)
    }
}
