//! Storage for Switchboard: extensions, SIP gateways, call detail records,
//! persisted registrar bindings, call-center settings (queues, agents, tiers, IVR
//! menus, routing rules) and call-center records (queue events, voicemails,
//! surveys, missed calls), the web module's users, roles, departments,
//! sessions and API tokens, behind one [`Store`] handle. The agent desk's
//! reads of those records (a number's calls, an agent's figures of the day)
//! are here too.
//!
//! Call-center settings are JSON documents whose shape the engine owns: the
//! store takes and returns them as `String`s holding JSON and keeps them
//! verbatim (see [`QueueRow::config`]).
//!
//! Two backends, chosen by the URL: SQLite (`sqlite:`, the default, embedded)
//! and PostgreSQL 15+ (`postgres://`). Every query is written once, in the
//! repositories' methods generic over the backend (`db::Db<DB>`); where the
//! SQL must differ the two spellings sit side by side in that one place
//! (`Backend::sql`), and everything else that differs (opening, migrations,
//! timestamps, transactions, retries) is in `db.rs`. Each backend has its own
//! migrations (`migrations/sqlite/`, `migrations/postgres/`), kept in step
//! by a test that compares the schemas ([`schema`]).

#![warn(missing_docs)]

mod api_tokens;
mod audit;
mod callcenter;
mod campaign_activities;
mod campaigns;
mod cdr;
mod cdr_search;
pub mod copy;
mod crm;
mod db;
mod departments;
mod error;
mod extensions;
mod figures;
mod gateways;
mod kb;
mod media_files;
mod range;
mod records;
mod registrations;
mod report_queries;
mod reports;
mod roles;
pub mod rollup;
pub mod schema;
mod seed;
mod sessions;
mod settings;
#[doc(hidden)]
pub mod testing;
mod ticket_report;
mod tickets;
mod users;
mod voice_lists;
mod watch;

#[cfg(test)]
mod tests;

pub use api_tokens::ApiToken;
pub use audit::{AuditCount, AuditEntry, AuditPage, AuditQuery};
pub use callcenter::{
    AgentRow, CallcenterSet, IvrMenuRow, QueueRow, RoutingRuleRow, Tier, CALLCENTER_VERSION,
};
pub use campaign_activities::{Activity, ActivityFields, Allocation, ACTIVITY_STATES};
pub use campaigns::{
    looks_like_phone, Batch, BatchFields, BatchScope, CampaignField, CampaignFilter, CampaignRow,
    FilterFields, FilterRun, ImportCounts, ImportRecord, NewRow, RowQuery, SkipReason, BATCH_KINDS,
    FIELD_POSITIONS, FIELD_STYLES, FILTER_KINDS, MAX_FIELDS,
};
pub use cdr::{Cdr, NumberCall, NumberSummary};
pub use cdr_search::{CdrPage, CdrQuery, CdrRecord};
pub use crm::{
    Contact, ContactFields, ContactQuery, ContactView, CrmGroup, CrmPage, CrmScope, Customer,
    CustomerFields, CustomerQuery, GroupKind, NumberMatch, COUNT_CAP, LOOKUP_LIMIT,
};
pub use db::{
    backend_of, redact_url, BackendKind, StoreOptions, DEFAULT_POOL_SIZE, DEFAULT_STATEMENT_TIMEOUT,
};
pub use departments::{Department, DepartmentFields};
pub use error::StoreError;
pub use extensions::{
    AddReport, Extension, AUTH_ALGORITHM_CHOICES, AUTO_ANSWER_MODES, EXTENSIONS_VERSION,
    EXTENSION_KINDS,
};
pub use figures::AgentFigures;
pub use gateways::GATEWAYS_VERSION;
pub use kb::{
    KbArticle, KbArticleFields, KbCategory, KbSearch, MAX_KB_BODY, MAX_KB_TITLE, MAX_QUESTIONS,
};
pub use media_files::MediaFile;
pub use range::{parse_numbers, MAX_NUMBER_DIGITS, MAX_RANGE_SIZE};
pub use records::{MissedCall, QueueEvent, Survey, Voicemail, VoicemailCounts};
pub use registrations::BindingRow;
pub use report_queries::{AgentCallRow, HourRow, RollupQuery, StateRow, SurveyRow};
pub use reports::QueueCounts;
pub use roles::Role;
pub use rollup::{AgentStatePeriod, RebuildSummary};
pub use sessions::Session;
pub use settings::DictionaryItem;
pub use ticket_report::{TicketDayCount, TicketReportQuery};
pub use tickets::{
    Ticket, TicketAttachment, TicketCategory, TicketChange, TicketFields, TicketOverview,
    TicketQuery, TicketReply, TicketView,
};
pub use users::{User, UserCredentials, UserFields, UserPage, UserQuery};
pub use voice_lists::{ListEntry, VoiceList, VOICE_VERSION};
pub use watch::{SettingsChange, SettingsWatch, SETTINGS_CHANNEL, SETTINGS_POLL_INTERVAL};

use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use db::{db_err, Backend, Db, Ts, Tx, Value};

/// Handle to the database. Cheap to clone: clones share one connection pool.
///
/// Several processes (the server and the CLI) may open the same database at
/// once; changes made by one become visible to the others, and
/// [`Store::config_version`] (or [`Store::watch_settings`]) tells them when
/// to reload.
#[derive(Clone, Debug)]
pub struct Store {
    db: Backends,
}

/// The backend-specific repositories a [`Store`] dispatches to.
#[derive(Clone, Debug)]
enum Backends {
    Sqlite(Db<Sqlite>),
    Postgres(Db<Postgres>),
}

/// Runs `$call` (an expression using `$db`, the backend's `Db<DB>`) on the
/// store's backend, retrying conflicts ([`db::retry`]).
macro_rules! dispatch {
    ($store:expr, $db:ident => $call:expr) => {
        match &$store.db {
            $crate::Backends::Sqlite($db) => $crate::db::retry(move || $call).await,
            $crate::Backends::Postgres($db) => $crate::db::retry(move || $call).await,
        }
    };
}
pub(crate) use dispatch;

/// Where the applied migrations of a database stand against this build's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The migrations this build carries for the backend, oldest first.
    pub known: Vec<i64>,
    /// The migrations recorded as applied in the database, oldest first.
    pub applied: Vec<i64>,
    /// Known but not applied (a `db migrate` or a server start applies them).
    pub pending: Vec<i64>,
    /// Applied but unknown to this build: a newer build migrated the database.
    pub unknown: Vec<i64>,
}

impl Store {
    /// Refreshes the query planner's statistics where they are stale
    /// (SQLite: `PRAGMA optimize`; PostgreSQL's autovacuum keeps its own).
    /// Run after a large import and now and then by the server; cheap when
    /// nothing changed much.
    pub async fn optimize(&self) -> Result<(), StoreError> {
        match &self.db {
            Backends::Sqlite(db) => sqlx::query("PRAGMA optimize")
                .execute(&db.pool)
                .await
                .map(|_| ())
                .map_err(db_err("refreshing the planner's statistics")),
            Backends::Postgres(_) => Ok(()),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending
    /// migrations.
    ///
    /// Accepted URLs: `sqlite://PATH`, `sqlite:PATH` (the file and its parent
    /// directory are created when missing), `sqlite::memory:` (a private
    /// in-memory database, for tests) and `postgres://USER[:PASSWORD]@HOST
    /// [:PORT]/DATABASE` (the database must exist). File databases use WAL
    /// journaling, `synchronous=NORMAL`, a 5 s busy timeout and foreign keys.
    /// PostgreSQL URLs may add `pool_size=N` and `statement_timeout=30s` (see
    /// [`StoreOptions`]) besides the driver's own parameters (`sslmode` is
    /// not supported: this build has no TLS).
    ///
    /// Fails with [`StoreError::UnknownMigration`] on a database that a newer
    /// build migrated.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(url, &StoreOptions::default()).await
    }

    /// [`Store::open`] with options: whether to migrate or create, the
    /// PostgreSQL pool size and statement timeout.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let db = match db::backend_of(url)? {
            BackendKind::Sqlite => Backends::Sqlite(db::connect_sqlite(url, options).await?),
            BackendKind::Postgres => Backends::Postgres(db::connect_postgres(url, options).await?),
        };
        tracing::debug!(url = %redact_url(url), "store opened");
        Ok(Store { db })
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> BackendKind {
        match self.db {
            Backends::Sqlite(_) => BackendKind::Sqlite,
            Backends::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Current change counter of the configuration area `name` (e.g.
    /// `"extensions"`); 0 when the area has never changed.
    ///
    /// Every write to an area bumps its counter in the same transaction, so a
    /// process that polls this value and sees it move knows it must reload.
    pub async fn config_version(&self, name: &str) -> Result<i64, StoreError> {
        dispatch!(self, db => db.config_version(name))
    }

    /// Every configuration area's change counter, by name.
    pub async fn config_versions(
        &self,
    ) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        dispatch!(self, db => db.config_versions())
    }

    /// The migrations applied to this database against those this build
    /// knows.
    pub async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        let (known, applied) = match &self.db {
            Backends::Sqlite(db) => (known::<Sqlite>(), db::applied_versions(db).await?),
            Backends::Postgres(db) => (known::<Postgres>(), db::applied_versions(db).await?),
        };
        let pending = known
            .iter()
            .copied()
            .filter(|v| !applied.contains(v))
            .collect();
        let unknown = applied
            .iter()
            .copied()
            .filter(|v| !known.contains(v))
            .collect();
        Ok(MigrationStatus {
            known,
            applied,
            pending,
            unknown,
        })
    }

    /// Applies pending migrations (what [`Store::open`] does unless told
    /// not to) and returns the versions applied now.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let before = self.migration_status().await?;
        if let Some(&version) = before.unknown.iter().max() {
            return Err(StoreError::UnknownMigration {
                version,
                latest: before.known.last().copied().unwrap_or(0),
            });
        }
        match &self.db {
            Backends::Sqlite(db) => db::migrate_sqlite(&db.pool).await?,
            Backends::Postgres(db) => db::migrator::<Postgres>().run(&db.pool).await?,
        }
        Ok(before.pending)
    }

    /// The server's version string (`sqlite_version()` or PostgreSQL's
    /// `server_version`), for `db check`.
    pub async fn server_version(&self) -> Result<String, StoreError> {
        let (sql, db_name) = match self.backend() {
            BackendKind::Sqlite => ("SELECT sqlite_version()", "SQLite"),
            BackendKind::Postgres => ("SHOW server_version", "PostgreSQL"),
        };
        let version: String = match &self.db {
            Backends::Sqlite(db) => sqlx::query_scalar(sql).fetch_one(&db.pool).await,
            Backends::Postgres(db) => sqlx::query_scalar(sql).fetch_one(&db.pool).await,
        }
        .map_err(db_err("reading the server version"))?;
        Ok(format!("{db_name} {version}"))
    }

    /// Closes every connection of this handle (and its clones). Optional:
    /// dropping the last clone closes them too, but awaiting this makes sure
    /// the SQLite WAL is checkpointed before the process exits.
    pub async fn close(&self) {
        match &self.db {
            Backends::Sqlite(db) => db.pool.close().await,
            Backends::Postgres(db) => db.pool.close().await,
        }
    }
}

/// The versions of the migrations this build carries for `DB`.
fn known<DB: Backend>() -> Vec<i64> {
    DB::MIGRATIONS.iter().map(|m| m.0).collect()
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
    pub(crate) async fn config_version(&self, name: &str) -> Result<i64, StoreError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM config_versions WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err("reading the configuration version"))?;
        Ok(version.unwrap_or(0))
    }

    pub(crate) async fn config_versions(
        &self,
    ) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT name, version FROM config_versions")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("reading the configuration versions"))?;
        Ok(rows.into_iter().collect())
    }

    /// Bumps the change counter of `name` inside `tx`, creating it if
    /// missing. On PostgreSQL it also sends `NOTIFY switchboard_settings,
    /// 'NAME'`, which PostgreSQL delivers to the listeners
    /// ([`Store::watch_settings`]) when `tx` commits, and never if it rolls
    /// back.
    pub(crate) async fn bump_version(tx: &mut Tx<DB>, name: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO config_versions (name, version) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET version = config_versions.version + 1",
        )
        .bind(name)
        .execute(&mut **tx)
        .await
        .map_err(db_err("bumping the configuration version"))?;
        if DB::KIND == BackendKind::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(SETTINGS_CHANNEL)
                .bind(name)
                .execute(&mut **tx)
                .await
                .map_err(db_err("notifying a settings change"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
impl Store {
    /// The SQLite pool, for tests of SQLite's own settings.
    pub(crate) fn sqlite_pool(&self) -> &sqlx::SqlitePool {
        match &self.db {
            Backends::Sqlite(db) => &db.pool,
            Backends::Postgres(_) => panic!("not a SQLite store"),
        }
    }

    /// The PostgreSQL pool, for tests of PostgreSQL's own settings.
    pub(crate) fn pg_pool(&self) -> &sqlx::PgPool {
        match &self.db {
            Backends::Postgres(db) => &db.pool,
            Backends::Sqlite(_) => panic!("not a PostgreSQL store"),
        }
    }
}
