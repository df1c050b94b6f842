//! Persisted registrar bindings.
//!
//! The engine keeps the live binding table in memory; this is its backing
//! copy, written behind in batches and read once at startup so phones stay
//! reachable across a restart without re-registering.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Tx, Value};
use crate::{dispatch, Store, StoreError};

/// One registered contact of an address-of-record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingRow {
    /// Address-of-record, e.g. `sip:1001@example.com` (or just `1001`; the
    /// store does not interpret it).
    pub aor: String,
    /// Contact URI the phone registered.
    pub contact: String,
    /// Transport and address the REGISTER came from, e.g. `udp:1.2.3.4:5060`.
    pub source: String,
    /// Expiry as unix milliseconds.
    pub expires_at: i64,
    /// The phone's User-Agent header; may be empty.
    pub user_agent: String,
    /// Call-ID of the REGISTER that created or refreshed the binding.
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: i64,
    /// The contact's `q` parameter as written (e.g. `"0.5"`), if any.
    pub q_value: Option<String>,
    /// The Contact's header parameters as sent, `expires` left out
    /// (`;+sip.instance="<urn:uuid:...>";reg-id=1`); empty when none.
    pub params: String,
}

impl Store {
    /// Replaces every stored binding of `aor` with `rows` in one transaction
    /// (an empty slice deletes them all). Every row must belong to `aor`.
    pub async fn save_bindings(&self, aor: &str, rows: &[BindingRow]) -> Result<(), StoreError> {
        check_aor(aor, rows)?;
        dispatch!(self, db => db.save_bindings(aor, rows))
    }

    /// Like [`Store::save_bindings`] for many AORs in one transaction: the
    /// engine writes changes behind in batches.
    pub async fn save_bindings_batch(
        &self,
        batch: &[(String, Vec<BindingRow>)],
    ) -> Result<(), StoreError> {
        for (aor, rows) in batch {
            check_aor(aor, rows)?;
        }
        if batch.is_empty() {
            return Ok(());
        }
        match &self.db {
            // Whole arrays in two statements (see `save_bindings_batch_pg`).
            crate::Backends::Postgres(db) => {
                db::retry(move || db.save_bindings_batch_pg(batch)).await
            }
            crate::Backends::Sqlite(_) => dispatch!(self, db => db.save_bindings_batch(batch)),
        }
    }

    /// All bindings still valid at `now_ms` (unix milliseconds), ordered by
    /// AOR then contact. Expired rows are deleted in the same transaction.
    pub async fn load_bindings(&self, now_ms: i64) -> Result<Vec<BindingRow>, StoreError> {
        dispatch!(self, db => db.load_bindings(now_ms))
    }
}

/// Refuses rows that belong to another AOR, which would otherwise be
/// written under the wrong key or survive a replace they should not.
fn check_aor(aor: &str, rows: &[BindingRow]) -> Result<(), StoreError> {
    match rows.iter().find(|r| r.aor != aor) {
        Some(row) => Err(StoreError::BindingAorMismatch {
            expected: aor.to_string(),
            found: row.aor.clone(),
        }),
        None => Ok(()),
    }
}

/// Extensions per DELETE/INSERT statement; keeps bind parameters (9 per row,
/// up to 10 contacts each) well under SQLite's and PostgreSQL's limits.
const AORS_PER_STATEMENT: usize = 200;

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
    pub(crate) async fn save_bindings(
        &self,
        aor: &str,
        rows: &[BindingRow],
    ) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("saving bindings"))?;
        Self::replace_aor(&mut tx, aor, rows).await?;
        tx.commit().await.map_err(db_err("saving bindings"))?;
        Ok(())
    }

    pub(crate) async fn save_bindings_batch(
        &self,
        batch: &[(String, Vec<BindingRow>)],
    ) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("saving bindings"))?;
        // A few multi-row statements per chunk instead of two per extension:
        // under a registration storm thousands of extensions change every second,
        // and each statement is a round trip to the database.
        for chunk in batch.chunks(AORS_PER_STATEMENT) {
            Self::replace_aors(&mut tx, chunk).await?;
        }
        tx.commit().await.map_err(db_err("saving bindings"))?;
        Ok(())
    }

    pub(crate) async fn load_bindings(&self, now_ms: i64) -> Result<Vec<BindingRow>, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("loading bindings"))?;
        let expired = sqlx::query("DELETE FROM registrations WHERE expires_at <= $1")
            .bind(Ts(now_ms))
            .execute(&mut *tx)
            .await
            .map_err(db_err("loading bindings"))?
            .rows_affected();
        let rows = sqlx::query(
            "SELECT aor, contact, source, expires_at, user_agent, call_id, cseq, q_value, \
             params FROM registrations ORDER BY aor, contact",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err("loading bindings"))?;
        tx.commit().await.map_err(db_err("loading bindings"))?;
        if expired > 0 {
            tracing::debug!(expired, "dropped expired registrations");
        }
        rows.iter()
            .map(Self::binding_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("loading bindings"))
    }

    /// Replace the bindings of several extensions with two statements.
    pub(crate) async fn replace_aors(
        tx: &mut Tx<DB>,
        chunk: &[(String, Vec<BindingRow>)],
    ) -> Result<(), StoreError> {
        let mut del = sqlx::QueryBuilder::<DB>::new("DELETE FROM registrations WHERE aor IN (");
        let mut list = del.separated(", ");
        for (aor, _) in chunk {
            list.push_bind(aor.as_str());
        }
        del.push(")");
        del.build()
            .execute(&mut **tx)
            .await
            .map_err(db_err("saving bindings"))?;
        // A contact listed twice keeps its last entry: PostgreSQL refuses one
        // statement touching the same row twice, so duplicates go before the INSERT.
        let mut rows: Vec<&BindingRow> = Vec::new();
        for (_, list) in chunk {
            for (i, row) in list.iter().enumerate() {
                if !list[i + 1..].iter().any(|r| r.contact == row.contact) {
                    rows.push(row);
                }
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let mut ins = sqlx::QueryBuilder::<DB>::new(
            "INSERT INTO registrations \
             (aor, contact, source, expires_at, user_agent, call_id, cseq, q_value, params) ",
        );
        ins.push_values(rows, |mut b, row| {
            b.push_bind(row.aor.as_str())
                .push_bind(row.contact.as_str())
                .push_bind(row.source.as_str())
                .push_bind(Ts(row.expires_at))
                .push_bind(row.user_agent.as_str())
                .push_bind(row.call_id.as_str())
                .push_bind(row.cseq)
                .push_bind(Self::opt(row.q_value.clone()))
                .push_bind(row.params.as_str());
        });
        ins.build()
            .execute(&mut **tx)
            .await
            .map_err(db_err("saving bindings"))?;
        Ok(())
    }

    /// Deletes the stored bindings of `aor` and writes `rows` instead.
    pub(crate) async fn replace_aor(
        tx: &mut Tx<DB>,
        aor: &str,
        rows: &[BindingRow],
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM registrations WHERE aor = $1")
            .bind(aor)
            .execute(&mut **tx)
            .await
            .map_err(db_err("saving bindings"))?;
        for row in rows {
            // A contact listed twice keeps its last entry instead of failing the
            // whole batch on the primary key.
            sqlx::query(
                "INSERT INTO registrations \
                 (aor, contact, source, expires_at, user_agent, call_id, cseq, q_value, params) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (aor, contact) DO UPDATE SET source = excluded.source, \
                 expires_at = excluded.expires_at, user_agent = excluded.user_agent, \
                 call_id = excluded.call_id, cseq = excluded.cseq, q_value = excluded.q_value, \
                 params = excluded.params",
            )
            .bind(aor)
            .bind(&row.contact)
            .bind(&row.source)
            .bind(Ts(row.expires_at))
            .bind(&row.user_agent)
            .bind(&row.call_id)
            .bind(row.cseq)
            .bind(Self::opt(row.q_value.clone()))
            .bind(&row.params)
            .execute(&mut **tx)
            .await
            .map_err(db_err("saving bindings"))?;
        }
        Ok(())
    }

    /// Decodes a full `registrations` row.
    pub(crate) fn binding_from_row(row: &DB::Row) -> Result<BindingRow, sqlx::Error> {
        Ok(BindingRow {
            aor: row.try_get("aor")?,
            contact: row.try_get("contact")?,
            source: row.try_get("source")?,
            expires_at: row.try_get::<Ts, _>("expires_at")?.0,
            user_agent: row.try_get("user_agent")?,
            call_id: row.try_get("call_id")?,
            cseq: row.try_get("cseq")?,
            q_value: row.try_get("q_value")?,
            params: row.try_get("params")?,
        })
    }
}

impl Db<sqlx::Postgres> {
    /// [`Store::save_bindings_batch`] on PostgreSQL: the whole batch in two
    /// statements binding one array per column (`= ANY`, `UNNEST`) instead
    /// of thousands of parameters in chunks. Under a registration storm the
    /// batch holds every extension that re-registered in the last second,
    /// and the server parsing and planning a new 1,800-parameter statement
    /// per chunk cost more CPU than the rows themselves (on a machine whose
    /// cores the SIP server shares). READ COMMITTED: the transaction reads
    /// nothing and decides nothing (a blind replace by the one writer of
    /// bindings), so SERIALIZABLE's predicate locks would buy nothing.
    pub(crate) async fn save_bindings_batch_pg(
        &self,
        batch: &[(String, Vec<BindingRow>)],
    ) -> Result<(), StoreError> {
        let aors: Vec<&str> = batch.iter().map(|(aor, _)| aor.as_str()).collect();
        // A contact listed twice keeps its last entry (one statement may not
        // touch a row twice).
        let mut rows: Vec<&BindingRow> = Vec::new();
        for (_, list) in batch {
            for (i, row) in list.iter().enumerate() {
                if !list[i + 1..].iter().any(|r| r.contact == row.contact) {
                    rows.push(row);
                }
            }
        }
        let col = |f: fn(&BindingRow) -> &str| -> Vec<&str> { rows.iter().map(|r| f(r)).collect() };
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(db_err("saving bindings"))?;
        sqlx::query("DELETE FROM registrations WHERE aor = ANY($1)")
            .bind(&aors)
            .execute(&mut *tx)
            .await
            .map_err(db_err("saving bindings"))?;
        if !rows.is_empty() {
            sqlx::query(
                "INSERT INTO registrations \
                 (aor, contact, source, expires_at, user_agent, call_id, cseq, q_value, params) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], \
                 $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[])",
            )
            .bind(col(|r| &r.aor))
            .bind(col(|r| &r.contact))
            .bind(col(|r| &r.source))
            .bind(rows.iter().map(|r| Ts(r.expires_at)).collect::<Vec<Ts>>())
            .bind(col(|r| &r.user_agent))
            .bind(col(|r| &r.call_id))
            .bind(rows.iter().map(|r| r.cseq).collect::<Vec<i64>>())
            .bind(
                rows.iter()
                    .map(|r| r.q_value.as_deref())
                    .collect::<Vec<Option<&str>>>(),
            )
            .bind(col(|r| &r.params))
            .execute(&mut *tx)
            .await
            .map_err(db_err("saving bindings"))?;
        }
        tx.commit().await.map_err(db_err("saving bindings"))?;
        Ok(())
    }
}
