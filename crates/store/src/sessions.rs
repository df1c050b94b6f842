//! Browser sessions of the web module, kept in the database so they survive
//! a restart.
//!
//! The row's id is a digest of the cookie's secret (computed by the web
//! crate), never the secret itself. Expiry policy (idle and absolute
//! lifetimes) is the web crate's: the store records the times and deletes
//! what it is told to.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Tx, Value};
use crate::{dispatch, Store, StoreError};

/// One session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Digest of the cookie token (hex).
    pub id: String,
    /// The signed-in user.
    pub user_id: i64,
    /// The synchronizer token forms must send back.
    pub csrf_token: String,
    /// Sign-in time (unix ms).
    pub created_at: i64,
    /// Last request seen (unix ms), updated coarsely.
    pub last_seen_at: i64,
    /// Absolute expiry (unix ms).
    pub expires_at: i64,
    /// Address the session was created from.
    pub ip: String,
    /// Browser that created it.
    pub user_agent: String,
}

impl Store {
    /// Stores a new session; the user must exist.
    pub async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        dispatch!(self, db => db.create_session(session))
    }

    /// The session `id`, if it exists (expired or not: the caller decides).
    pub async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        dispatch!(self, db => db.get_session(id))
    }

    /// Records activity on session `id` at `now` (unix ms).
    pub async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.touch_session(id, now))
    }

    /// Deletes session `id` (sign-out); unknown ids are ignored.
    pub async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_session(id))
    }

    /// Deletes the sessions idle since before `idle_before` or past their
    /// absolute expiry at `now` (both unix ms); returns how many.
    pub async fn purge_sessions(&self, idle_before: i64, now: i64) -> Result<u64, StoreError> {
        dispatch!(self, db => db.purge_sessions(idle_before, now))
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
    pub(crate) async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating a session"))?;
        Self::check_user_exists(&mut tx, session.user_id).await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at, \
             expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&session.id)
        .bind(session.user_id)
        .bind(&session.csrf_token)
        .bind(Ts(session.created_at))
        .bind(Ts(session.last_seen_at))
        .bind(Ts(session.expires_at))
        .bind(&session.ip)
        .bind(&session.user_agent)
        .execute(&mut *tx)
        .await
        .map_err(db_err("creating a session"))?;
        tx.commit().await.map_err(db_err("creating a session"))?;
        Ok(())
    }

    pub(crate) async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, \
             user_agent FROM sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a session"))?;
        row.as_ref()
            .map(Self::session_from_row)
            .transpose()
            .map_err(db_err("reading a session"))
    }

    pub(crate) async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(Ts(now))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("updating a session"))?;
        Ok(())
    }

    pub(crate) async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("deleting a session"))?;
        Ok(())
    }

    pub(crate) async fn purge_sessions(
        &self,
        idle_before: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR expires_at <= $2")
            .bind(Ts(idle_before))
            .bind(Ts(now))
            .execute(&self.pool)
            .await
            .map_err(db_err("deleting expired sessions"))?;
        Ok(done.rows_affected())
    }

    pub(crate) fn session_from_row(row: &DB::Row) -> Result<Session, sqlx::Error> {
        Ok(Session {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            csrf_token: row.try_get("csrf_token")?,
            created_at: row.try_get::<Ts, _>("created_at")?.0,
            last_seen_at: row.try_get::<Ts, _>("last_seen_at")?.0,
            expires_at: row.try_get::<Ts, _>("expires_at")?.0,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
        })
    }

    /// Deletes the sessions of `user_id` except `keep` (inside a transaction).
    pub(crate) async fn delete_sessions_of(
        tx: &mut Tx<DB>,
        user_id: i64,
        keep: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(&mut **tx)
            .await
            .map_err(db_err("ending a user's sessions"))?;
        Ok(())
    }
}
