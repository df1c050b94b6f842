//! Voice-platform lists (manual 3.2): the trunk profile's access list, the
//! blacklist, the number pool and the outbound campaigns' do-not-call list,
//! each a set of values with a note. The store keeps values as given; the
//! engine checks them (a network, a number) before writing.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, AddReport, Store, StoreError};

/// Name of the change counter bumped by every change to these lists.
pub const VOICE_VERSION: &str = "voice";

/// Which list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoiceList {
    /// Networks allowed to send calls to the trunk profile (访问列表).
    Acl,
    /// Caller numbers whose calls are refused (黑名单).
    Blacklist,
    /// Outside caller-ID numbers (号码池).
    NumberPool,
    /// The internal do-not-call list (免打扰号码): numbers an outbound
    /// campaign never dials; imports skip them.
    Dnc,
}

impl VoiceList {
    /// Every list.
    pub const ALL: [VoiceList; 4] = [
        VoiceList::Acl,
        VoiceList::Blacklist,
        VoiceList::NumberPool,
        VoiceList::Dnc,
    ];

    /// The list's key in the database (and in URLs).
    pub fn as_str(self) -> &'static str {
        match self {
            VoiceList::Acl => "acl",
            VoiceList::Blacklist => "blacklist",
            VoiceList::NumberPool => "number_pool",
            VoiceList::Dnc => "dnc",
        }
    }
}

impl std::str::FromStr for VoiceList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VoiceList::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not a list (acl, blacklist, number_pool, dnc)"))
    }
}

/// One value of a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntry {
    /// The network or number.
    pub value: String,
    /// What it is for.
    pub note: String,
    /// Unix milliseconds when it was added.
    pub created_at: i64,
}

impl Store {
    /// The values of `list`, in the order they were added.
    pub async fn list_entries(&self, list: VoiceList) -> Result<Vec<ListEntry>, StoreError> {
        dispatch!(self, db => db.list_entries(list))
    }

    /// Adds `(value, note)` pairs to `list` in one transaction; values
    /// already there are skipped (and reported), never overwritten. A blank
    /// value refuses the whole batch.
    pub async fn add_list_entries(
        &self,
        list: VoiceList,
        entries: &[(String, String)],
    ) -> Result<AddReport, StoreError> {
        dispatch!(self, db => db.add_list_entries(list, entries))
    }

    /// Removes `value` from `list`; whether it was there.
    pub async fn remove_list_entry(
        &self,
        list: VoiceList,
        value: &str,
    ) -> Result<bool, StoreError> {
        dispatch!(self, db => db.remove_list_entry(list, value))
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
    pub(crate) async fn list_entries(&self, list: VoiceList) -> Result<Vec<ListEntry>, StoreError> {
        const CONTEXT: &str = "listing a voice list";
        let rows = sqlx::query(
            "SELECT value, note, created_at FROM voice_lists WHERE list = $1 \
             ORDER BY created_at, value",
        )
        .bind(list.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(|r| {
                Ok(ListEntry {
                    value: r.try_get("value")?,
                    note: r.try_get("note")?,
                    created_at: r.try_get::<Ts, _>("created_at")?.0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err(CONTEXT))
    }

    pub(crate) async fn add_list_entries(
        &self,
        list: VoiceList,
        entries: &[(String, String)],
    ) -> Result<AddReport, StoreError> {
        const CONTEXT: &str = "adding to a voice list";
        if entries.iter().any(|(v, _)| v.trim().is_empty()) {
            return Err(StoreError::EmptyKey("list value"));
        }
        let mut report = AddReport::default();
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let now = Ts(db::now_ms());
        for (value, note) in entries {
            let added = sqlx::query(
                "INSERT INTO voice_lists (list, value, note, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (list, value) DO NOTHING",
            )
            .bind(list.as_str())
            .bind(value)
            .bind(note)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?
            .rows_affected();
            if added > 0 {
                report.added.push(value.clone());
            } else {
                report.skipped.push(value.clone());
            }
        }
        if !report.added.is_empty() {
            Self::bump_version(&mut tx, VOICE_VERSION).await?;
        }
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(report)
    }

    pub(crate) async fn remove_list_entry(
        &self,
        list: VoiceList,
        value: &str,
    ) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing from a voice list";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let removed = sqlx::query("DELETE FROM voice_lists WHERE list = $1 AND value = $2")
            .bind(list.as_str())
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?
            .rows_affected();
        if removed > 0 {
            Self::bump_version(&mut tx, VOICE_VERSION).await?;
        }
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(removed > 0)
    }
}
