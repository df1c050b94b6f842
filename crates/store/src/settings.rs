//! System settings (key/value) and dictionaries (named value lists forms
//! offer), FEATURES C3. The web module owns the keys and their checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, Ts, Value};
use crate::{dispatch, Store, StoreError};

/// One value of a dictionary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DictionaryItem {
    /// The stored value.
    pub value: String,
    /// What forms show.
    pub label: String,
    /// Order in the list.
    pub position: i32,
}

impl Store {
    /// Every stored setting.
    pub async fn settings(&self) -> Result<BTreeMap<String, String>, StoreError> {
        dispatch!(self, db => db.settings())
    }

    /// Stores `values` (key, value) in one transaction.
    pub async fn put_settings(&self, values: &[(String, String)]) -> Result<(), StoreError> {
        dispatch!(self, db => db.put_settings(values))
    }

    /// The names of the dictionaries that have items.
    pub async fn dictionaries(&self) -> Result<Vec<String>, StoreError> {
        dispatch!(self, db => db.dictionaries())
    }

    /// The items of dictionary `name`, in order.
    pub async fn dictionary(&self, name: &str) -> Result<Vec<DictionaryItem>, StoreError> {
        dispatch!(self, db => db.dictionary(name))
    }

    /// Replaces the items of dictionary `name` (empty: removes it).
    pub async fn put_dictionary(
        &self,
        name: &str,
        items: &[DictionaryItem],
    ) -> Result<(), StoreError> {
        dispatch!(self, db => db.put_dictionary(name, items))
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
    pub(crate) async fn settings(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let rows = sqlx::query("SELECT key, value FROM settings")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("reading settings"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("key")?, r.try_get("value")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("reading settings"))
    }

    pub(crate) async fn put_settings(&self, values: &[(String, String)]) -> Result<(), StoreError> {
        const CONTEXT: &str = "saving settings";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let now = Ts(db::now_ms());
        for (k, v) in values {
            if k.trim().is_empty() {
                return Err(StoreError::EmptyKey("setting key"));
            }
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at",
            )
            .bind(k)
            .bind(v)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        }
        tx.commit().await.map_err(db_err(CONTEXT))
    }

    pub(crate) async fn dictionaries(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT DISTINCT dictionary FROM dictionary_items ORDER BY dictionary")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing dictionaries"))
    }

    pub(crate) async fn dictionary(&self, name: &str) -> Result<Vec<DictionaryItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT value, label, position FROM dictionary_items WHERE dictionary = $1 \
             ORDER BY position, value",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading a dictionary"))?;
        rows.iter()
            .map(|r| {
                Ok(DictionaryItem {
                    value: r.try_get("value")?,
                    label: r.try_get("label")?,
                    position: r.try_get("position")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("reading a dictionary"))
    }

    pub(crate) async fn put_dictionary(
        &self,
        name: &str,
        items: &[DictionaryItem],
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "saving a dictionary";
        if name.trim().is_empty() {
            return Err(StoreError::EmptyKey("dictionary name"));
        }
        if items.iter().any(|i| i.value.trim().is_empty()) {
            return Err(StoreError::EmptyKey("dictionary value"));
        }
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        sqlx::query("DELETE FROM dictionary_items WHERE dictionary = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        for item in items {
            sqlx::query(
                "INSERT INTO dictionary_items (dictionary, value, label, position) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (dictionary, value) DO UPDATE SET \
                 label = excluded.label, position = excluded.position",
            )
            .bind(name)
            .bind(&item.value)
            .bind(&item.label)
            .bind(item.position)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        }
        tx.commit().await.map_err(db_err(CONTEXT))
    }
}
