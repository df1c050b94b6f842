//! Extensions: the SIP accounts phones register with.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Tx, Value};
use crate::{dispatch, Store, StoreError};

/// The columns `Db::extension_from_row` reads (a macro so queries stay string literals).
macro_rules! columns {
    () => {
        "number, password, display_name, enabled, kind, target, announce_agent_id, \
         allow_outbound, record, after_call_work, auto_answer, pickup_group, gateway, webrtc, \
         caller_ids, auth_algorithms"
    };
}

/// Name of the change counter bumped by every extension change.
pub const EXTENSIONS_VERSION: &str = "extensions";

/// One extension (SIP account) and its settings (FEATURES T4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Extension {
    /// Extension number, also the SIP user name (e.g. `"1001"`).
    pub number: String,
    /// SIP digest password.
    pub password: String,
    /// Name shown to callees; may be empty.
    pub display_name: String,
    /// Disabled extensions keep their settings but cannot register or call.
    pub enabled: bool,
    /// What the number does: `direct` (rings its phones), `ivr`, `queue` or
    /// `robot` (the menu, queue or robot named in `target` answers).
    pub kind: String,
    /// The IVR menu, queue or robot of a non-direct extension.
    pub target: String,
    /// Callers hear this agent's number before being connected.
    pub announce_agent_id: bool,
    /// May call outside numbers (through gateways).
    pub allow_outbound: bool,
    /// Every call of this extension is recorded.
    pub record: bool,
    /// After a queue call, the agent is in after-call work until ending it.
    pub after_call_work: bool,
    /// `off`, `all` (every call to it is auto-answered, for phones that
    /// can) or `queue` (queue offers only).
    pub auto_answer: String,
    /// Call pickup group: phones of the same group pick up each other's
    /// ringing calls with *8. Empty: in no group.
    pub pickup_group: String,
    /// The SIP gateway its outside calls leave through (empty: the routing
    /// rule's).
    pub gateway: String,
    /// May use the browser phone (WebRTC).
    pub webrtc: bool,
    /// Outside caller-ID numbers from the number pool, comma-separated; one
    /// is picked per outside call. Empty: the gateway's own.
    pub caller_ids: String,
    /// The digest algorithms its phones are challenged with, most preferred
    /// first, one of [`AUTH_ALGORITHM_CHOICES`] (`SHA-256` for phones that
    /// all support it). Empty: the server's `sip.auth_algorithms`.
    pub auth_algorithms: String,
}

impl Default for Extension {
    fn default() -> Self {
        Extension {
            number: String::new(),
            password: String::new(),
            display_name: String::new(),
            enabled: true,
            kind: "direct".into(),
            target: String::new(),
            announce_agent_id: false,
            allow_outbound: true,
            record: false,
            after_call_work: false,
            auto_answer: "off".into(),
            pickup_group: String::new(),
            gateway: String::new(),
            webrtc: false,
            caller_ids: String::new(),
            auth_algorithms: String::new(),
        }
    }
}

/// The extension types of the manual.
pub const EXTENSION_KINDS: [&str; 4] = ["direct", "ivr", "queue", "robot"];

/// The auto-answer modes of the manual.
pub const AUTO_ANSWER_MODES: [&str; 3] = ["off", "all", "queue"];

/// The digest algorithm choices of an extension: the server's (empty), MD5,
/// SHA-256 alone, or both with SHA-256 preferred (one challenge each, which
/// some phones, e.g. baresip 1.0, cannot handle).
pub const AUTH_ALGORITHM_CHOICES: [&str; 4] = ["", "MD5", "SHA-256", "SHA-256,MD5"];

/// Outcome of [`Store::add_extensions`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddReport {
    /// Numbers that were created, in input order.
    pub added: Vec<String>,
    /// Numbers that already existed (or repeated an earlier input entry) and
    /// were left untouched, in input order.
    pub skipped: Vec<String>,
}

impl Store {
    /// Adds extensions in one transaction. Numbers that already exist are
    /// skipped and reported, never overwritten, so re-running a batch is
    /// safe. Refuses the whole batch if any entry has an empty number or
    /// password.
    pub async fn add_extensions(&self, extensions: &[Extension]) -> Result<AddReport, StoreError> {
        extensions.iter().try_for_each(validate)?;
        if extensions.is_empty() {
            return Ok(AddReport::default());
        }
        dispatch!(self, db => db.add_extensions(extensions))
    }

    /// Adds one extension; fails with [`StoreError::ExtensionExists`] if the
    /// number is taken.
    pub async fn add_extension(&self, extension: &Extension) -> Result<(), StoreError> {
        let report = self.add_extensions(std::slice::from_ref(extension)).await?;
        if report.added.is_empty() {
            return Err(StoreError::ExtensionExists(extension.number.clone()));
        }
        Ok(())
    }

    /// All extensions, ordered by number with numeric awareness (`99`
    /// before `100`).
    pub async fn list_extensions(&self) -> Result<Vec<Extension>, StoreError> {
        let mut list = dispatch!(self, db => db.list_extensions())?;
        // Sorted here rather than in SQL: a natural order needs casts whose
        // spelling differs between SQLite and PostgreSQL, and the list is small.
        list.sort_by(|a, b| compare_numbers(&a.number, &b.number));
        Ok(list)
    }

    /// The extension `number`, if it exists.
    pub async fn get_extension(&self, number: &str) -> Result<Option<Extension>, StoreError> {
        dispatch!(self, db => db.get_extension(number))
    }

    /// Removes the given extensions in one transaction and returns how many
    /// existed. Unknown numbers are ignored.
    pub async fn remove_extensions(&self, numbers: &[String]) -> Result<usize, StoreError> {
        if numbers.is_empty() {
            return Ok(0);
        }
        dispatch!(self, db => db.remove_extensions(numbers))
    }

    /// Changes the SIP password of `number`; fails with
    /// [`StoreError::ExtensionNotFound`] if it does not exist.
    pub async fn set_password(&self, number: &str, password: &str) -> Result<(), StoreError> {
        if password.is_empty() {
            return Err(StoreError::InvalidExtension {
                number: number.to_string(),
                reason: "password is empty",
            });
        }
        dispatch!(self, db => db.set_password(number, password))
    }

    /// Replaces every setting of extension `ext.number` (the admin's edit
    /// form); an empty password keeps the current one. Fails with
    /// [`StoreError::ExtensionNotFound`] if it does not exist, and with
    /// [`StoreError::InvalidExtension`] for settings that cannot work.
    pub async fn update_extension(&self, ext: &Extension) -> Result<(), StoreError> {
        let mut checked = ext.clone();
        if checked.password.is_empty() {
            // Only for the check: the statement keeps the stored one.
            checked.password = "unchanged".into();
        }
        validate(&checked)?;
        dispatch!(self, db => db.update_extension(ext))
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
    pub(crate) async fn add_extensions(
        &self,
        extensions: &[Extension],
    ) -> Result<AddReport, StoreError> {
        let mut report = AddReport::default();
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("adding extensions"))?;
        let now = db::now_ms();
        for ext in extensions {
            if Self::insert_new_extension(&mut tx, ext, now).await? {
                report.added.push(ext.number.clone());
            } else {
                report.skipped.push(ext.number.clone());
            }
        }
        if !report.added.is_empty() {
            Self::bump_version(&mut tx, EXTENSIONS_VERSION).await?;
        }
        tx.commit().await.map_err(db_err("adding extensions"))?;
        Ok(report)
    }

    pub(crate) async fn list_extensions(&self) -> Result<Vec<Extension>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM extensions"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing extensions"))?;
        rows.iter()
            .map(Self::extension_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing extensions"))
    }

    pub(crate) async fn get_extension(
        &self,
        number: &str,
    ) -> Result<Option<Extension>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM extensions WHERE number = $1"
        ))
        .bind(number)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading an extension"))?;
        row.as_ref()
            .map(Self::extension_from_row)
            .transpose()
            .map_err(db_err("reading an extension"))
    }

    pub(crate) async fn remove_extensions(&self, numbers: &[String]) -> Result<usize, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("removing extensions"))?;
        let mut removed: u64 = 0;
        for number in numbers {
            removed += sqlx::query("DELETE FROM extensions WHERE number = $1")
                .bind(number)
                .execute(&mut *tx)
                .await
                .map_err(db_err("removing extensions"))?
                .rows_affected();
        }
        if removed > 0 {
            Self::bump_version(&mut tx, EXTENSIONS_VERSION).await?;
        }
        tx.commit().await.map_err(db_err("removing extensions"))?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    pub(crate) async fn set_password(
        &self,
        number: &str,
        password: &str,
    ) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("setting a password"))?;
        let changed =
            sqlx::query("UPDATE extensions SET password = $1, updated_at = $2 WHERE number = $3")
                .bind(password)
                .bind(Ts(db::now_ms()))
                .bind(number)
                .execute(&mut *tx)
                .await
                .map_err(db_err("setting a password"))?
                .rows_affected();
        if changed == 0 {
            // Dropping `tx` rolls back; nothing was written anyway.
            return Err(StoreError::ExtensionNotFound(number.to_string()));
        }
        Self::bump_version(&mut tx, EXTENSIONS_VERSION).await?;
        tx.commit().await.map_err(db_err("setting a password"))?;
        Ok(())
    }

    pub(crate) async fn update_extension(&self, ext: &Extension) -> Result<(), StoreError> {
        const CONTEXT: &str = "updating an extension";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let changed = sqlx::query(
            "UPDATE extensions SET \
             password = CASE WHEN $2 = '' THEN password ELSE $2 END, \
             display_name = $3, enabled = $4, updated_at = $5, kind = $6, target = $7, \
             announce_agent_id = $8, allow_outbound = $9, record = $10, after_call_work = $11, \
             auto_answer = $12, pickup_group = $13, gateway = $14, webrtc = $15, caller_ids = $16, \
             auth_algorithms = $17 \
             WHERE number = $1",
        )
        .bind(&ext.number)
        .bind(&ext.password)
        .bind(&ext.display_name)
        .bind(ext.enabled)
        .bind(Ts(db::now_ms()))
        .bind(&ext.kind)
        .bind(&ext.target)
        .bind(ext.announce_agent_id)
        .bind(ext.allow_outbound)
        .bind(ext.record)
        .bind(ext.after_call_work)
        .bind(&ext.auto_answer)
        .bind(&ext.pickup_group)
        .bind(&ext.gateway)
        .bind(ext.webrtc)
        .bind(&ext.caller_ids)
        .bind(&ext.auth_algorithms)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::ExtensionNotFound(ext.number.clone()));
        }
        Self::bump_version(&mut tx, EXTENSIONS_VERSION).await?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(())
    }

    /// Inserts `ext` unless its number exists; returns whether it was inserted.
    pub(crate) async fn insert_new_extension(
        tx: &mut Tx<DB>,
        ext: &Extension,
        now: i64,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO extensions (number, password, display_name, enabled, created_at, \
             updated_at, kind, target, announce_agent_id, allow_outbound, record, \
             after_call_work, auto_answer, pickup_group, gateway, webrtc, caller_ids, \
             auth_algorithms) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17) ON CONFLICT (number) DO NOTHING",
        )
        .bind(&ext.number)
        .bind(&ext.password)
        .bind(&ext.display_name)
        .bind(ext.enabled)
        .bind(Ts(now))
        .bind(&ext.kind)
        .bind(&ext.target)
        .bind(ext.announce_agent_id)
        .bind(ext.allow_outbound)
        .bind(ext.record)
        .bind(ext.after_call_work)
        .bind(&ext.auto_answer)
        .bind(&ext.pickup_group)
        .bind(&ext.gateway)
        .bind(ext.webrtc)
        .bind(&ext.caller_ids)
        .bind(&ext.auth_algorithms)
        .execute(&mut **tx)
        .await
        .map_err(db_err("adding extensions"))?
        .rows_affected();
        Ok(inserted > 0)
    }

    /// Decodes a row of the `columns!()` list.
    pub(crate) fn extension_from_row(row: &DB::Row) -> Result<Extension, sqlx::Error> {
        Ok(Extension {
            number: row.try_get("number")?,
            password: row.try_get("password")?,
            display_name: row.try_get("display_name")?,
            enabled: row.try_get("enabled")?,
            kind: row.try_get("kind")?,
            target: row.try_get("target")?,
            announce_agent_id: row.try_get("announce_agent_id")?,
            allow_outbound: row.try_get("allow_outbound")?,
            record: row.try_get("record")?,
            after_call_work: row.try_get("after_call_work")?,
            auto_answer: row.try_get("auto_answer")?,
            pickup_group: row.try_get("pickup_group")?,
            gateway: row.try_get("gateway")?,
            webrtc: row.try_get("webrtc")?,
            caller_ids: row.try_get("caller_ids")?,
            auth_algorithms: row.try_get("auth_algorithms")?,
        })
    }
}

/// Rejects entries that could never authenticate.
pub(crate) fn validate(ext: &Extension) -> Result<(), StoreError> {
    let reason = if ext.number.trim().is_empty() {
        "number is empty"
    } else if ext.password.is_empty() {
        "password is empty"
    } else if !EXTENSION_KINDS.contains(&ext.kind.as_str()) {
        "type must be direct, ivr, queue or robot"
    } else if ext.kind != "direct" && ext.target.trim().is_empty() {
        "an ivr, queue or robot extension needs a target"
    } else if !AUTO_ANSWER_MODES.contains(&ext.auto_answer.as_str()) {
        "auto-answer must be off, all or queue"
    } else if !AUTH_ALGORITHM_CHOICES.contains(&ext.auth_algorithms.as_str()) {
        "digest algorithms must be empty, MD5, SHA-256 or SHA-256,MD5"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidExtension {
        number: ext.number.clone(),
        reason,
    })
}

/// Orders all-digit numbers by value (then by width, so `0100` follows
/// `100`), and puts anything else after them in plain string order.
fn compare_numbers(a: &str, b: &str) -> Ordering {
    key(a)
        .cmp(&key(b))
        .then_with(|| a.len().cmp(&b.len()))
        .then_with(|| a.cmp(b))
}

/// Sort key for [`compare_numbers`]: all-digit numbers first, compared by
/// (length, text) of their zero-stripped digits, which is numeric comparison
/// without overflow for any length.
fn key(s: &str) -> (bool, usize, &str) {
    let digits = !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if digits {
        let trimmed = s.trim_start_matches('0');
        (false, trimmed.len(), trimmed)
    } else {
        (true, 0, s)
    }
}

#[cfg(test)]
mod tests {
    use super::compare_numbers;

    #[test]
    fn numeric_aware_order() {
        let mut v = vec!["100", "99", "1000", "0100", "abc", "101", "9"];
        v.sort_by(|a, b| compare_numbers(a, b));
        assert_eq!(v, vec!["9", "99", "100", "0100", "101", "1000", "abc"]);
    }
}
