//! The audit log (FEATURES C2): one row per change or sign-in, written by
//! the web module with secrets already redacted; searched by every column
//! and summarised per day and per user.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, Store, StoreError};

/// One audited request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Row id (0 before it is written).
    pub id: i64,
    /// Unix milliseconds when the request arrived.
    pub at: i64,
    /// `sign_in`, `sign_out` or `change`.
    pub action: String,
    /// Who (the attempted name for a failed sign-in; empty if unknown).
    pub username: String,
    /// The client address.
    pub ip: String,
    /// HTTP method.
    pub method: String,
    /// Path and query (secrets redacted).
    pub url: String,
    /// The parameters sent (secrets redacted).
    pub params: String,
    /// HTTP status of the answer.
    pub status: i32,
    /// Whether it succeeded.
    pub ok: bool,
    /// How long it took.
    pub duration_ms: i64,
}

/// What to search for; empty strings and `None` match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Substring of the URL or the parameters.
    pub keyword: String,
    /// Exactly this user.
    pub username: String,
    /// Exactly this address.
    pub ip: String,
    /// Exactly this method.
    pub method: String,
    /// Substring of the URL.
    pub url: String,
    /// Substring of the parameters.
    pub params: String,
    /// Exactly this action.
    pub action: String,
    /// Only successes (`Some(true)`) or failures (`Some(false)`).
    pub ok: Option<bool>,
    /// At or after (unix ms).
    pub from: Option<i64>,
    /// Before (unix ms).
    pub to: Option<i64>,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

/// A page of the log, newest first, and how many rows match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuditPage {
    /// The rows.
    pub entries: Vec<AuditEntry>,
    /// How many match.
    pub total: i64,
}

/// Requests of one day (or one user): how many, how many failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuditCount {
    /// The day (days since the epoch, in the offset asked for) or the user.
    pub key: String,
    /// Requests.
    pub total: i64,
    /// Failed requests.
    pub failed: i64,
}

/// The columns `Db::entry_from_row` reads.
macro_rules! columns {
    () => {
        "id, at, action, username, ip, method, url, params, status, ok, duration_ms"
    };
}

/// The WHERE clause of a search; `$1`..`$10` are the [`AuditQuery`]
/// fields (text filters as LIKE patterns or '' for "any", `$8` the wanted
/// outcome or NULL). `$like` is the substring operator: `LIKE` on SQLite,
/// which ignores ASCII case; `ILIKE` on PostgreSQL, whose `LIKE` does not.
macro_rules! filter {
    ($like:literal) => {
        concat!(
            " FROM audit_log WHERE \
             ($1 = '' OR url ",
            $like,
            " $1 ESCAPE '\\' OR params ",
            $like,
            " $1 ESCAPE '\\') \
             AND ($2 = '' OR username = $2) \
             AND ($3 = '' OR ip = $3) \
             AND ($4 = '' OR method = $4) \
             AND ($5 = '' OR url ",
            $like,
            " $5 ESCAPE '\\') \
             AND ($6 = '' OR params ",
            $like,
            " $6 ESCAPE '\\') \
             AND ($7 = '' OR action = $7) \
             AND ($8 IS NULL OR ok = $8) \
             AND at >= $9 AND at < $10"
        )
    };
}

/// `%text%` for a `LIKE ... ESCAPE '\'`, with `%`, `_` and `\` in `text`
/// escaped: a search for `50%` finds `50%`, not every row with `50` in it,
/// and `_` is no single-character wildcard. '' for an empty filter.
pub(crate) fn like(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        return String::new();
    }
    let mut p = String::with_capacity(t.len() + 2);
    p.push('%');
    for c in t.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Store {
    /// Writes one entry.
    pub async fn add_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self, db => db.add_audit(e))
    }

    /// The entries matching `q`, newest first.
    pub async fn search_audit(&self, q: &AuditQuery) -> Result<AuditPage, StoreError> {
        dispatch!(self, db => db.search_audit(q))
    }

    /// Requests per day since `from` (unix ms); days counted in a time
    /// zone `offset_ms` east of UTC, keyed by days since the epoch there.
    pub async fn audit_per_day(
        &self,
        from: i64,
        offset_ms: i64,
    ) -> Result<Vec<AuditCount>, StoreError> {
        dispatch!(self, db => db.audit_per_day(from, offset_ms))
    }

    /// Requests per user since `from`, the busiest first, at most `limit`.
    pub async fn audit_per_user(
        &self,
        from: i64,
        limit: i64,
    ) -> Result<Vec<AuditCount>, StoreError> {
        dispatch!(self, db => db.audit_per_user(from, limit))
    }

    /// The users and addresses seen in the log (for the search form).
    pub async fn audit_usernames(&self) -> Result<Vec<String>, StoreError> {
        dispatch!(self, db => db.audit_usernames())
    }

    /// Deletes entries older than `before` (unix ms); how many.
    pub async fn prune_audit(&self, before: i64) -> Result<u64, StoreError> {
        dispatch!(self, db => db.prune_audit(before))
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
    pub(crate) async fn add_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, action, username, ip, method, url, params, status, ok, \
             duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(Ts(e.at))
        .bind(&e.action)
        .bind(&e.username)
        .bind(&e.ip)
        .bind(&e.method)
        .bind(&e.url)
        .bind(&e.params)
        .bind(e.status)
        .bind(e.ok)
        .bind(e.duration_ms)
        .execute(&self.pool)
        .await
        .map_err(db_err("writing the audit log"))?;
        Ok(())
    }

    pub(crate) async fn search_audit(&self, q: &AuditQuery) -> Result<AuditPage, StoreError> {
        const CONTEXT: &str = "searching the audit log";
        let (from, to) = (q.from.unwrap_or(i64::MIN), q.to.unwrap_or(i64::MAX));
        let total: i64 = sqlx::query_scalar(DB::sql(
            concat!("SELECT COUNT(*)", filter!("LIKE")),
            concat!("SELECT COUNT(*)", filter!("ILIKE")),
        ))
        .bind(like(&q.keyword))
        .bind(q.username.trim())
        .bind(q.ip.trim())
        .bind(q.method.trim())
        .bind(like(&q.url))
        .bind(like(&q.params))
        .bind(q.action.trim())
        .bind(Self::opt(q.ok))
        .bind(Ts(from))
        .bind(Ts(to))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let rows = sqlx::query(DB::sql(
            concat!(
                "SELECT ",
                columns!(),
                filter!("LIKE"),
                " ORDER BY at DESC, id DESC LIMIT $11 OFFSET $12"
            ),
            concat!(
                "SELECT ",
                columns!(),
                filter!("ILIKE"),
                " ORDER BY at DESC, id DESC LIMIT $11 OFFSET $12"
            ),
        ))
        .bind(like(&q.keyword))
        .bind(q.username.trim())
        .bind(q.ip.trim())
        .bind(q.method.trim())
        .bind(like(&q.url))
        .bind(like(&q.params))
        .bind(q.action.trim())
        .bind(Self::opt(q.ok))
        .bind(Ts(from))
        .bind(Ts(to))
        .bind(q.limit.max(0))
        .bind(q.offset.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let entries = rows
            .iter()
            .map(Self::entry_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err(CONTEXT))?;
        Ok(AuditPage { entries, total })
    }

    pub(crate) async fn audit_per_day(
        &self,
        from: i64,
        offset_ms: i64,
    ) -> Result<Vec<AuditCount>, StoreError> {
        // Date arithmetic: SQLite's `at` is unix ms already; PostgreSQL's is
        // a timestamptz, turned into unix ms (EXTRACT gives seconds).
        let rows = sqlx::query(DB::sql(
            "SELECT (at + $2) / 86400000 AS day, COUNT(*) AS total, \
             SUM(CASE WHEN ok THEN 0 ELSE 1 END) AS failed \
             FROM audit_log WHERE at >= $1 GROUP BY day ORDER BY day",
            "SELECT FLOOR((EXTRACT(EPOCH FROM at) * 1000 + $2) / 86400000)::BIGINT AS day, \
             COUNT(*) AS total, SUM(CASE WHEN ok THEN 0 ELSE 1 END) AS failed \
             FROM audit_log WHERE at >= $1 GROUP BY day ORDER BY day",
        ))
        .bind(Ts(from))
        .bind(offset_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("counting audit entries per day"))?;
        rows.iter()
            .map(|r| {
                Ok(AuditCount {
                    key: r.try_get::<i64, _>("day")?.to_string(),
                    total: r.try_get("total")?,
                    failed: r.try_get::<Option<i64>, _>("failed")?.unwrap_or(0),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("counting audit entries per day"))
    }

    pub(crate) async fn audit_per_user(
        &self,
        from: i64,
        limit: i64,
    ) -> Result<Vec<AuditCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT username, COUNT(*) AS total, SUM(CASE WHEN ok THEN 0 ELSE 1 END) AS failed \
             FROM audit_log WHERE at >= $1 GROUP BY username \
             ORDER BY total DESC, username LIMIT $2",
        )
        .bind(Ts(from))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("counting audit entries per user"))?;
        rows.iter()
            .map(|r| {
                Ok(AuditCount {
                    key: r.try_get("username")?,
                    total: r.try_get("total")?,
                    failed: r.try_get::<Option<i64>, _>("failed")?.unwrap_or(0),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("counting audit entries per user"))
    }

    pub(crate) async fn audit_usernames(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT DISTINCT username FROM audit_log WHERE username <> '' ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing audit users"))
    }

    pub(crate) async fn prune_audit(&self, before: i64) -> Result<u64, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("pruning the audit log"))?;
        let n = sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(Ts(before))
            .execute(&mut *tx)
            .await
            .map_err(db_err("pruning the audit log"))?
            .rows_affected();
        tx.commit().await.map_err(db_err("pruning the audit log"))?;
        Ok(n)
    }

    pub(crate) fn entry_from_row(r: &DB::Row) -> Result<AuditEntry, sqlx::Error> {
        Ok(AuditEntry {
            id: r.try_get("id")?,
            at: r.try_get::<Ts, _>("at")?.0,
            action: r.try_get("action")?,
            username: r.try_get("username")?,
            ip: r.try_get("ip")?,
            method: r.try_get("method")?,
            url: r.try_get("url")?,
            params: r.try_get("params")?,
            status: r.try_get("status")?,
            ok: r.try_get("ok")?,
            duration_ms: r.try_get("duration_ms")?,
        })
    }
}

#[cfg(test)]
mod like_tests {
    use super::like;

    /// Shared by the audit search and the call history's number filters.
    #[test]
    fn a_filter_is_a_substring_with_its_wildcards_escaped() {
        assert_eq!(like(""), "");
        assert_eq!(like("  "), "");
        assert_eq!(like(" 1001 "), "%1001%");
        assert_eq!(like("10_1%"), "%10\\_1\\%%");
    }
}
