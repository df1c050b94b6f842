//! Per-user API tokens (`Authorization: Bearer ...` on `/api`).
//!
//! Only a digest of each token is stored (computed by the web crate); the
//! token itself is shown once, when created. Revoking deletes the row.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, Store, StoreError};

/// One API token (without its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Generated id.
    pub id: i64,
    /// The user the token acts as.
    pub user_id: i64,
    /// What the token is for, chosen by its owner.
    pub name: String,
    /// Creation time (unix ms).
    pub created_at: i64,
    /// Last use (unix ms), `None` if never used.
    pub last_used_at: Option<i64>,
}

impl Store {
    /// Stores a token digest for user `user_id` and returns the token's id.
    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
    ) -> Result<i64, StoreError> {
        dispatch!(self, db => db.create_api_token(user_id, name, token_hash))
    }

    /// The token whose digest is `token_hash`, if any.
    pub async fn find_api_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        dispatch!(self, db => db.find_api_token(token_hash))
    }

    /// Records a use of token `id` at `now` (unix ms).
    pub async fn touch_api_token(&self, id: i64, now: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.touch_api_token(id, now))
    }

    /// The tokens of user `user_id`, newest first.
    pub async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>, StoreError> {
        dispatch!(self, db => db.list_api_tokens(user_id))
    }

    /// Revokes (deletes) token `id` of user `user_id`; `false` if the user
    /// has no such token.
    pub async fn revoke_api_token(&self, user_id: i64, id: i64) -> Result<bool, StoreError> {
        dispatch!(self, db => db.revoke_api_token(user_id, id))
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
    pub(crate) async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
    ) -> Result<i64, StoreError> {
        if name.is_empty() {
            return Err(StoreError::EmptyKey("token name"));
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating an API token"))?;
        Self::check_user_exists(&mut tx, user_id).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(Ts(db::now_ms()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("creating an API token"))?;
        tx.commit().await.map_err(db_err("creating an API token"))?;
        Ok(id)
    }

    pub(crate) async fn find_api_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading an API token"))?;
        row.as_ref()
            .map(Self::token_from_row)
            .transpose()
            .map_err(db_err("reading an API token"))
    }

    pub(crate) async fn touch_api_token(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(Ts(now))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("updating an API token"))?;
        Ok(())
    }

    pub(crate) async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens \
             WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing API tokens"))?;
        rows.iter()
            .map(Self::token_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing API tokens"))
    }

    pub(crate) async fn revoke_api_token(&self, user_id: i64, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(db_err("revoking an API token"))?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) fn token_from_row(row: &DB::Row) -> Result<ApiToken, sqlx::Error> {
        Ok(ApiToken {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            name: row.try_get("name")?,
            created_at: row.try_get::<Ts, _>("created_at")?.0,
            last_used_at: row.try_get::<Option<Ts>, _>("last_used_at")?.map(|t| t.0),
        })
    }
}
