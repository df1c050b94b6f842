//! Browser sessions of the web module, kept in the database so they survive
//! a restart.
//!
//! The row's id is a digest of the cookie's secret (computed by the web
//! crate), never the secret itself. Expiry policy (idle and absolute
//! lifetimes) is the web crate's: the store records the times and deletes
//! what it is told to.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{self, db_err, DbRow, Tx};
use crate::{Store, StoreError};

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

fn from_row(row: &DbRow) -> Result<Session, sqlx::Error> {
    Ok(Session {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        csrf_token: row.try_get("csrf_token")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        expires_at: row.try_get("expires_at")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
    })
}

/// Deletes the sessions of `user_id` except `keep` (inside a transaction).
pub(crate) async fn delete_sessions_of(
    tx: &mut Tx,
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

impl Store {
    /// Stores a new session; the user must exist.
    pub async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating a session"))?;
        crate::users::check_user_exists(&mut tx, session.user_id).await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at, \
             expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&session.id)
        .bind(session.user_id)
        .bind(&session.csrf_token)
        .bind(session.created_at)
        .bind(session.last_seen_at)
        .bind(session.expires_at)
        .bind(&session.ip)
        .bind(&session.user_agent)
        .execute(&mut *tx)
        .await
        .map_err(db_err("creating a session"))?;
        tx.commit().await.map_err(db_err("creating a session"))?;
        Ok(())
    }

    /// The session `id`, if it exists (expired or not: the caller decides).
    pub async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, \
             user_agent FROM sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a session"))?;
        row.as_ref()
            .map(from_row)
            .transpose()
            .map_err(db_err("reading a session"))
    }

    /// Records activity on session `id` at `now` (unix ms).
    pub async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("updating a session"))?;
        Ok(())
    }

    /// Deletes session `id` (sign-out); unknown ids are ignored.
    pub async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("deleting a session"))?;
        Ok(())
    }

    /// Deletes the sessions idle since before `idle_before` or past their
    /// absolute expiry at `now` (both unix ms); returns how many.
    pub async fn purge_sessions(&self, idle_before: i64, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR expires_at <= $2")
            .bind(idle_before)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_err("deleting expired sessions"))?;
        Ok(done.rows_affected())
    }
}
