//! Storage for Switchboard: extensions, call detail records, persisted
//! registrar bindings, call-center settings (queues, agents, tiers, IVR
//! menus, routing rules) and call-center records (queue events, voicemails,
//! surveys, missed calls), the web module's users, roles, departments,
//! sessions and API tokens, behind one [`Store`] handle.
//!
//! Call-center settings are JSON documents whose shape the engine owns: the
//! store takes and returns them as `String`s holding JSON and keeps them
//! verbatim (see [`QueueRow::config`]).
//!
//! SQLite is the default backend. The schema and every query are written in
//! SQL that PostgreSQL also accepts (INTEGER/BIGINT/TEXT columns, `$n`
//! placeholders, `ON CONFLICT`, unix-millisecond BIGINT timestamps); the
//! driver-specific parts are confined to `db.rs`.

#![warn(missing_docs)]

mod api_tokens;
mod audit;
mod callcenter;
mod cdr;
mod db;
mod departments;
mod error;
mod extensions;
mod media_files;
mod range;
mod records;
mod registrations;
mod roles;
mod seed;
mod sessions;
mod settings;
mod users;
mod voice_lists;

#[cfg(test)]
mod tests;

pub use api_tokens::ApiToken;
pub use audit::{AuditCount, AuditEntry, AuditPage, AuditQuery};
pub use callcenter::{
    AgentRow, CallcenterSet, IvrMenuRow, QueueRow, RoutingRuleRow, Tier, CALLCENTER_VERSION,
};
pub use cdr::Cdr;
pub use departments::{Department, DepartmentFields};
pub use error::StoreError;
pub use extensions::{
    AddReport, Extension, AUTH_ALGORITHM_CHOICES, AUTO_ANSWER_MODES, EXTENSION_KINDS,
};
pub use media_files::MediaFile;
pub use range::{parse_numbers, MAX_NUMBER_DIGITS, MAX_RANGE_SIZE};
pub use records::{MissedCall, QueueEvent, Survey, Voicemail, VoicemailCounts};
pub use registrations::BindingRow;
pub use roles::Role;
pub use sessions::Session;
pub use settings::DictionaryItem;
pub use users::{User, UserCredentials, UserFields, UserPage, UserQuery};
pub use voice_lists::{ListEntry, VoiceList, VOICE_VERSION};

use db::{db_err, Pool};

/// Handle to the database. Cheap to clone: clones share one connection pool.
///
/// Several processes (the server and the CLI) may open the same file at
/// once; changes made by one become visible to the others, and
/// [`Store::config_version`] tells them when to reload.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending
    /// migrations.
    ///
    /// Accepted URLs: `sqlite://PATH`, `sqlite:PATH` (the file and its parent
    /// directory are created when missing) and `sqlite::memory:` (a private
    /// in-memory database, for tests). File databases use WAL journaling,
    /// `synchronous=NORMAL`, a 5 s busy timeout and foreign keys.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let pool = db::connect(url).await?;
        tracing::debug!(url, "store opened");
        Ok(Store { pool })
    }

    /// Current change counter of the configuration area `name` (e.g.
    /// `"extensions"`); 0 when the area has never changed.
    ///
    /// Every write to an area bumps its counter in the same transaction, so a
    /// process that polls this value and sees it move knows it must reload.
    pub async fn config_version(&self, name: &str) -> Result<i64, StoreError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM config_versions WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err("reading the configuration version"))?;
        Ok(version.unwrap_or(0))
    }

    /// Closes every connection of this handle (and its clones). Optional:
    /// dropping the last clone closes them too, but awaiting this makes sure
    /// the WAL is checkpointed before the process exits.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Bumps the change counter of `name` inside `tx`, creating it if missing.
async fn bump_version(tx: &mut db::Tx, name: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO config_versions (name, version) VALUES ($1, 1) \
         ON CONFLICT (name) DO UPDATE SET version = config_versions.version + 1",
    )
    .bind(name)
    .execute(&mut **tx)
    .await
    .map_err(db_err("bumping the configuration version"))?;
    Ok(())
}
