//! Everything that depends on the database driver lives here: the
//! [`Backend`] trait (what differs between SQLite and PostgreSQL), how each
//! backend is opened and migrated, how a timestamp is stored ([`Ts`]), how a
//! write transaction starts, and which errors are retried.
//!
//! The repositories (`extensions.rs`, `cdr.rs`, ...) are written once, as
//! methods of [`Db<DB>`] generic over the backend; [`crate::Store`] holds a
//! `Db<Sqlite>` or a `Db<Postgres>` and dispatches to it.

use std::borrow::Cow;
use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{
    PgConnectOptions, PgPoolOptions, PgTypeInfo, PgValueFormat, PgValueRef, Postgres,
};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    SqliteTypeInfo, SqliteValueRef,
};
use sqlx::{ConnectOptions, Connection, Database, Decode, Encode, SqlSafeStr, Type};

use crate::StoreError;

/// Which database engine a [`crate::Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// SQLite: one file (or memory), embedded, the default.
    Sqlite,
    /// PostgreSQL 15 or later, over the network.
    Postgres,
}

impl BackendKind {
    /// `"SQLite"` or `"PostgreSQL"`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "SQLite",
            BackendKind::Postgres => "PostgreSQL",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What differs between the backends, besides the driver itself.
///
/// The repositories use these items instead of testing the backend, so each
/// difference is written once. Rust does not carry a trait's `where` clauses
/// over to the code that uses it, so the value types the queries bind and
/// read are listed again on every `impl<DB: Backend> Db<DB>` block (see
/// [`Value`]).
pub(crate) trait Backend: Database<QueryResult: RowsAffected> {
    /// Which backend this is.
    const KIND: BackendKind;

    /// Starts a transaction that will write.
    ///
    /// SQLite: a plain (deferred) `BEGIN` that reads first and writes later
    /// can fail with SQLITE_BUSY without waiting when another connection
    /// wrote in between; `BEGIN IMMEDIATE` takes the write lock up front so
    /// the busy timeout applies, and writers are serialized.
    ///
    /// PostgreSQL: SERIALIZABLE, so the read-check-write transactions (a
    /// tier needs its queue and agent, a department no cycle, a username is
    /// free) keep the guarantees SQLite's single writer gives them. A
    /// transaction that meets a concurrent one fails with 40001 and is run
    /// again by [`retry`].
    const BEGIN_WRITE: &'static str;

    /// The backend's migrations: `(version, description, SQL)`, the same
    /// versions and descriptions on both (a test compares the schemas).
    const MIGRATIONS: &'static [(i64, &'static str, &'static str)];

    /// Picks the spelling of a statement that must differ between the
    /// backends. Each call site says why next to the two texts.
    fn sql(sqlite: &'static str, postgres: &'static str) -> &'static str {
        match Self::KIND {
            BackendKind::Sqlite => sqlite,
            BackendKind::Postgres => postgres,
        }
    }

    /// The index a list query must walk, after the table's name: SQLite's
    /// planner judges a sparse tab (a few thousand rows of a million) from
    /// sampled statistics and can pick an index that makes it read the whole
    /// table, so the lists name the index made for the tab (`INDEXED BY`, an
    /// error rather than a slow plan if it ever cannot be used). PostgreSQL
    /// keeps real statistics and takes no hint.
    fn indexed_by(index: &str) -> String {
        match Self::KIND {
            BackendKind::Sqlite => format!("INDEXED BY {index}"),
            BackendKind::Postgres => String::new(),
        }
    }

    /// After a table's name: read rows by primary key only (SQLite `NOT
    /// INDEXED`), for queries driven by an `id IN (...)` list that the
    /// planner must not trade for an index walk. Nothing on PostgreSQL.
    fn by_id_only() -> &'static str {
        Self::sql("NOT INDEXED", "")
    }
}

impl Backend for Sqlite {
    const KIND: BackendKind = BackendKind::Sqlite;
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const MIGRATIONS: &'static [(i64, &'static str, &'static str)] = SQLITE_MIGRATIONS;
}

impl Backend for Postgres {
    const KIND: BackendKind = BackendKind::Postgres;
    const BEGIN_WRITE: &'static str = "BEGIN ISOLATION LEVEL SERIALIZABLE";
    const MIGRATIONS: &'static [(i64, &'static str, &'static str)] = POSTGRES_MIGRATIONS;
}

/// A type the queries bind and read on backend `DB`: i64, i32, bool,
/// String and [`Ts`] on both. One bound per type in the repositories'
/// `where` clauses instead of four.
pub(crate) trait Value<DB: Database>:
    for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> + Send + Nullable<DB>
{
}

impl<T, DB: Database> Value<DB> for T where
    T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> + Send + Nullable<DB>
{
}

/// How a value of a nullable column is bound: sqlx implements `Encode` for
/// `Option<T>` per driver rather than for every backend, so generic code
/// cannot bind an `Option` directly; it binds `Db::opt(value)`, whose type
/// carries the bounds (and is `Option<T>` on both backends).
pub(crate) trait Nullable<DB: Database>: Sized {
    /// `Option<Self>`, as a type whose bounds generic code can see.
    type Null: for<'q> Encode<'q, DB> + Type<DB> + Send;
    /// Wraps the value.
    fn null(value: Option<Self>) -> Self::Null;
}

impl<T, DB: Database> Nullable<DB> for T
where
    Option<T>: for<'q> Encode<'q, DB> + Type<DB> + Send,
{
    type Null = Option<T>;

    fn null(value: Option<T>) -> Option<T> {
        value
    }
}

impl<DB: Database> Db<DB> {
    /// `value` as a bindable nullable value (see [`Nullable`]).
    pub(crate) fn opt<T: Nullable<DB>>(value: Option<T>) -> T::Null {
        T::null(value)
    }
}

/// Rows changed by a statement (each driver has its own result type).
pub(crate) trait RowsAffected {
    /// How many rows the statement inserted, updated or deleted.
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

/// The repositories of one backend: a connection pool and, as methods in
/// each repository file, every query written once for both backends.
#[derive(Debug)]
pub(crate) struct Db<DB: Database> {
    /// The connections.
    pub(crate) pool: sqlx::Pool<DB>,
}

impl<DB: Database> Clone for Db<DB> {
    fn clone(&self) -> Self {
        Db {
            pool: self.pool.clone(),
        }
    }
}

/// A transaction borrowed from the pool.
pub(crate) type Tx<DB> = sqlx::Transaction<'static, DB>;

/// Starts a transaction that will write ([`Backend::BEGIN_WRITE`]).
pub(crate) async fn begin_write<DB: Backend>(pool: &sqlx::Pool<DB>) -> Result<Tx<DB>, sqlx::Error> {
    pool.begin_with(DB::BEGIN_WRITE).await
}

/// A timestamp column's value: unix milliseconds on the Rust side, as every
/// public type of the store keeps them.
///
/// This is the one place the storage differs: SQLite stores the number as
/// is (BIGINT), PostgreSQL stores a `timestamptz` (microseconds since
/// 2000-01-01 UTC on the wire). Milliseconds far outside PostgreSQL's range
/// (e.g. `i64::MIN` / `i64::MAX` used as open bounds of a search) become
/// `-infinity` / `infinity`, which compare below / above every timestamp,
/// and read back as `i64::MIN` / `i64::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ts(pub(crate) i64);

/// Microseconds between the unix epoch and PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// PostgreSQL's smallest finite timestamp (4714-11-24 BC), in its microseconds.
const PG_MIN_US: i64 = -211_813_488_000_000_000;

/// One past PostgreSQL's largest finite timestamp (294277-01-01), in its
/// microseconds.
const PG_END_US: i64 = 9_223_371_331_200_000_000;

impl Ts {
    /// Unix milliseconds to PostgreSQL microseconds (saturating to the
    /// infinities).
    fn to_pg_us(self) -> i64 {
        let us = i128::from(self.0) * 1000 - i128::from(PG_EPOCH_OFFSET_US);
        if us < i128::from(PG_MIN_US) {
            i64::MIN
        } else if us >= i128::from(PG_END_US) {
            i64::MAX
        } else {
            // In range by the checks above.
            us as i64
        }
    }

    /// PostgreSQL microseconds to unix milliseconds (the infinities to
    /// `i64::MIN` / `i64::MAX`).
    fn from_pg_us(us: i64) -> Ts {
        match us {
            i64::MIN => Ts(i64::MIN),
            i64::MAX => Ts(i64::MAX),
            // Finite timestamps are within ±2^63 µs, so this cannot overflow.
            us => Ts((us + PG_EPOCH_OFFSET_US).div_euclid(1000)),
        }
    }
}

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <i64 as Decode<Sqlite>>::decode(value).map(Ts)
    }
}

/// `timestamptz`'s OID in every PostgreSQL.
const TIMESTAMPTZ_OID: u32 = 1184;

/// `timestamptz[]`, so that a column of timestamps binds as one array
/// (bulk writes with `UNNEST`).
impl sqlx::postgres::PgHasArrayType for Ts {
    fn array_type_info() -> sqlx::postgres::PgTypeInfo {
        sqlx::postgres::PgTypeInfo::with_name("_timestamptz")
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(TIMESTAMPTZ_OID))
    }
}

impl Encode<'_, Postgres> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode_by_ref(&self.to_pg_us(), buf)
    }

    fn size_hint(&self) -> usize {
        8
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            // Prepared statements (every query of the store) return binary.
            PgValueFormat::Binary => <i64 as Decode<Postgres>>::decode(value).map(Ts::from_pg_us),
            PgValueFormat::Text => {
                Err("timestamptz in text format (not a prepared statement)".into())
            }
        }
    }
}

/// How long a SQLite connection waits for another writer (possibly another
/// process: the CLI and the server share the file) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections for a SQLite file. SQLite has a single writer anyway; a few
/// connections let readers (web UI, CLI listing) run beside the engine's
/// write-behind batches thanks to WAL.
const SQLITE_POOL_SIZE: u32 = 4;

/// Connections to PostgreSQL unless the URL says `pool_size=N`: the
/// engine's write-behind tasks, the web module and the settings listener
/// rarely need more at once.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// PostgreSQL's `statement_timeout` unless the URL says
/// `statement_timeout=...`: no statement of the store should take a
/// fraction of this; a stuck one is cancelled instead of holding a pooled
/// connection (and its locks) forever.
pub const DEFAULT_STATEMENT_TIMEOUT: &str = "30s";

/// How long taking a connection from the pool may wait (for a free one, or
/// for PostgreSQL to answer) before the operation fails as a connection
/// error.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often opening is tried when the file is busy (see [`connect_sqlite`]).
const OPEN_ATTEMPTS: u32 = 10;

/// Base delay between those attempts; grows linearly (50 ms, 100 ms, ...).
const OPEN_RETRY_DELAY: Duration = Duration::from_millis(50);

/// The SQLite migrations, embedded so the binary carries its own schema.
/// Versions and descriptions mirror the file names `NNNN_name.sql`.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "extensions",
        include_str!("../migrations/sqlite/0001_extensions.sql"),
    ),
    (
        2,
        "cdrs",
        include_str!("../migrations/sqlite/0002_cdrs.sql"),
    ),
    (
        3,
        "registrations",
        include_str!("../migrations/sqlite/0003_registrations.sql"),
    ),
    (
        4,
        "cdr_recording",
        include_str!("../migrations/sqlite/0004_cdr_recording.sql"),
    ),
    (
        5,
        "callcenter",
        include_str!("../migrations/sqlite/0005_callcenter.sql"),
    ),
    (
        6,
        "extension_settings",
        include_str!("../migrations/sqlite/0006_extension_settings.sql"),
    ),
    (
        7,
        "pickup_group",
        include_str!("../migrations/sqlite/0007_pickup_group.sql"),
    ),
    (
        8,
        "web_auth",
        include_str!("../migrations/sqlite/0008_web_auth.sql"),
    ),
    (
        10,
        "voice_platform",
        include_str!("../migrations/sqlite/0010_voice_platform.sql"),
    ),
    (
        11,
        "audit_settings",
        include_str!("../migrations/sqlite/0011_audit_settings.sql"),
    ),
    (
        12,
        "cdr_in_progress",
        include_str!("../migrations/sqlite/0012_cdr_in_progress.sql"),
    ),
    (
        13,
        "registration_params",
        include_str!("../migrations/sqlite/0013_registration_params.sql"),
    ),
    (
        14,
        "extension_auth_algorithms",
        include_str!("../migrations/sqlite/0014_extension_auth_algorithms.sql"),
    ),
    (
        15,
        "gateways",
        include_str!("../migrations/sqlite/0015_gateways.sql"),
    ),
    (
        16,
        "gateway_srtp",
        include_str!("../migrations/sqlite/0016_gateway_srtp.sql"),
    ),
    (
        17,
        "desk_lookups",
        include_str!("../migrations/sqlite/0017_desk_lookups.sql"),
    ),
    (18, "crm", include_str!("../migrations/sqlite/0018_crm.sql")),
    (
        19,
        "tickets_kb",
        include_str!("../migrations/sqlite/0019_tickets_kb.sql"),
    ),
    (
        20,
        "crm_list_indexes",
        include_str!("../migrations/sqlite/0020_crm_list_indexes.sql"),
    ),
    (
        21,
        "reports",
        include_str!("../migrations/sqlite/0021_reports.sql"),
    ),
    (
        22,
        "campaigns",
        include_str!("../migrations/sqlite/0022_campaigns.sql"),
    ),
    (
        23,
        "campaign activities",
        include_str!("../migrations/sqlite/0023_campaign_activities.sql"),
    ),
];

/// The PostgreSQL migrations: the same versions and descriptions as
/// [`SQLITE_MIGRATIONS`], each file the twin of the SQLite one.
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "extensions",
        include_str!("../migrations/postgres/0001_extensions.sql"),
    ),
    (
        2,
        "cdrs",
        include_str!("../migrations/postgres/0002_cdrs.sql"),
    ),
    (
        3,
        "registrations",
        include_str!("../migrations/postgres/0003_registrations.sql"),
    ),
    (
        4,
        "cdr_recording",
        include_str!("../migrations/postgres/0004_cdr_recording.sql"),
    ),
    (
        5,
        "callcenter",
        include_str!("../migrations/postgres/0005_callcenter.sql"),
    ),
    (
        6,
        "extension_settings",
        include_str!("../migrations/postgres/0006_extension_settings.sql"),
    ),
    (
        7,
        "pickup_group",
        include_str!("../migrations/postgres/0007_pickup_group.sql"),
    ),
    (
        8,
        "web_auth",
        include_str!("../migrations/postgres/0008_web_auth.sql"),
    ),
    (
        10,
        "voice_platform",
        include_str!("../migrations/postgres/0010_voice_platform.sql"),
    ),
    (
        11,
        "audit_settings",
        include_str!("../migrations/postgres/0011_audit_settings.sql"),
    ),
    (
        12,
        "cdr_in_progress",
        include_str!("../migrations/postgres/0012_cdr_in_progress.sql"),
    ),
    (
        13,
        "registration_params",
        include_str!("../migrations/postgres/0013_registration_params.sql"),
    ),
    (
        14,
        "extension_auth_algorithms",
        include_str!("../migrations/postgres/0014_extension_auth_algorithms.sql"),
    ),
    (
        15,
        "gateways",
        include_str!("../migrations/postgres/0015_gateways.sql"),
    ),
    (
        16,
        "gateway_srtp",
        include_str!("../migrations/postgres/0016_gateway_srtp.sql"),
    ),
    (
        17,
        "desk_lookups",
        include_str!("../migrations/postgres/0017_desk_lookups.sql"),
    ),
    (
        18,
        "crm",
        include_str!("../migrations/postgres/0018_crm.sql"),
    ),
    (
        19,
        "tickets_kb",
        include_str!("../migrations/postgres/0019_tickets_kb.sql"),
    ),
    (
        20,
        "crm_list_indexes",
        include_str!("../migrations/postgres/0020_crm_list_indexes.sql"),
    ),
    (
        21,
        "reports",
        include_str!("../migrations/postgres/0021_reports.sql"),
    ),
    (
        22,
        "campaigns",
        include_str!("../migrations/postgres/0022_campaigns.sql"),
    ),
    (
        23,
        "campaign activities",
        include_str!("../migrations/postgres/0023_campaign_activities.sql"),
    ),
];

/// How [`crate::Store::open_with`] opens a database.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Apply pending migrations (the server and the CLI do; `db check`
    /// does not). With `false` the schema is left as found.
    pub migrate: bool,
    /// Create a missing SQLite file (and its directory). PostgreSQL
    /// databases are never created: `createdb` does that.
    pub create: bool,
    /// PostgreSQL connections; `None`: the URL's `pool_size`, else
    /// [`DEFAULT_POOL_SIZE`]. Ignored for SQLite.
    pub pool_size: Option<u32>,
    /// PostgreSQL `statement_timeout` (e.g. `"30s"`, `"500ms"`, `"0"` for
    /// none); `None`: the URL's `statement_timeout`, else
    /// [`DEFAULT_STATEMENT_TIMEOUT`]. Ignored for SQLite.
    pub statement_timeout: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            migrate: true,
            create: true,
            pool_size: None,
            statement_timeout: None,
        }
    }
}

/// A database URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Cow::Borrowed(url);
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return Cow::Borrowed(url);
    };
    let Some((user, _password)) = userinfo.split_once(':') else {
        return Cow::Borrowed(url);
    };
    Cow::Owned(format!(
        "{scheme}://{user}:***@{host}{}",
        &rest[authority_end..]
    ))
}

/// The store's own URL parameters (`pool_size`, `statement_timeout`), taken
/// out of `url`: the driver would warn about (PostgreSQL) or refuse (SQLite)
/// parameters it does not know.
fn take_params(url: &str) -> Result<(String, Option<u32>, Option<String>), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), None, None));
    };
    let mut kept = Vec::new();
    let (mut pool_size, mut timeout) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "pool_size" => {
                let n = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| StoreError::InvalidUrl {
                        url: redact_url(url).into_owned(),
                        reason: format!("pool_size must be 1 to 1000, not '{value}'"),
                    })?;
                pool_size = Some(n);
            }
            "statement_timeout" => {
                let ok = !value.is_empty()
                    && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
                if !ok {
                    return Err(StoreError::InvalidUrl {
                        url: redact_url(url).into_owned(),
                        reason: format!(
                            "statement_timeout must look like 30s, 500ms or 0, not '{value}'"
                        ),
                    });
                }
                timeout = Some(value.to_string());
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, pool_size, timeout))
}

/// The backend a URL names, or [`StoreError::UnsupportedUrl`].
pub fn backend_of(url: &str) -> Result<BackendKind, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(BackendKind::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(BackendKind::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url).into_owned()))
    }
}

/// Opens a SQLite pool for `url` (and migrates it when `options.migrate`).
pub(crate) async fn connect_sqlite(
    url: &str,
    options: &StoreOptions,
) -> Result<Db<Sqlite>, StoreError> {
    let (url, _, _) = take_params(url)?;
    let url = url.as_str();
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    };
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    if database.is_empty() && !params.contains("mode=memory") {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    }
    let in_memory = database == ":memory:" || params.contains("mode=memory");

    let connect_options = SqliteConnectOptions::from_str(url)
        .map_err(|source| StoreError::Connect {
            url: url.to_string(),
            source,
        })?
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);

    let pool_options = if in_memory {
        // An in-memory database lives only as long as one of its connections:
        // keep exactly one open forever. One connection also avoids
        // shared-cache table locks, which ignore busy_timeout.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(SQLITE_POOL_SIZE)
    };
    let connect_options = if in_memory {
        connect_options
    } else {
        let file = connect_options.get_filename();
        if !options.create && !file.exists() {
            return Err(StoreError::NoDatabaseFile(file.display().to_string()));
        }
        create_parent_dir(file)?;
        // WAL lets the server keep reading while the CLI (another process)
        // writes; NORMAL sync is safe under WAL and much cheaper than FULL.
        connect_options
            .create_if_missing(options.create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
    };

    // Switching a fresh file to WAL needs an exclusive lock that SQLite does
    // not wait for (busy_timeout does not apply), so a process starting at
    // the same moment as another one on a new file can get SQLITE_BUSY here.
    // Once the file is in WAL mode the pragma is a no-op; retrying is enough.
    let mut attempt = 1;
    let pool = loop {
        match pool_options
            .clone()
            .connect_with(connect_options.clone())
            .await
        {
            Ok(pool) => break pool,
            Err(source) if is_sqlite_busy(&source) && attempt < OPEN_ATTEMPTS => {
                tracing::debug!(url, attempt, "database busy while opening, retrying");
                tokio::time::sleep(OPEN_RETRY_DELAY * attempt).await;
                attempt += 1;
            }
            Err(source) => {
                return Err(StoreError::Connect {
                    url: url.to_string(),
                    source,
                })
            }
        }
    };
    let db = Db { pool };
    check_known_versions(&db).await?;
    if options.migrate {
        migrate_sqlite(&db.pool).await?;
    }
    // The query planner's statistics (sqlite_stat1): without them it takes
    // a low-selectivity index (voided = 0) over the selective one (an
    // owner, a number prefix) and a first page of a million contacts costs
    // seconds instead of milliseconds. 0x10002: analyse what needs it, with
    // a bounded effort, as SQLite advises at start-up.
    if let Err(e) = sqlx::query("PRAGMA optimize=0x10002")
        .execute(&db.pool)
        .await
    {
        tracing::warn!("PRAGMA optimize at start-up: {e}");
    }
    Ok(db)
}

/// Opens a PostgreSQL pool for `url` (and migrates it when
/// `options.migrate`).
///
/// One connection is made first, outside the pool: a pool retries a refused
/// connection until its acquire timeout and then reports only that it timed
/// out, while the first attempt's error says what is wrong (refused, no
/// such database, authentication failed).
pub(crate) async fn connect_postgres(
    url: &str,
    options: &StoreOptions,
) -> Result<Db<Postgres>, StoreError> {
    let shown = redact_url(url).into_owned();
    let (url, url_pool_size, url_timeout) = take_params(url)?;
    let pool_size = options
        .pool_size
        .or(url_pool_size)
        .unwrap_or(DEFAULT_POOL_SIZE);
    let timeout = options
        .statement_timeout
        .clone()
        .or(url_timeout)
        .unwrap_or_else(|| DEFAULT_STATEMENT_TIMEOUT.to_string());
    let connect_options = PgConnectOptions::from_str(&url)
        .map_err(|source| StoreError::Connect {
            url: shown.clone(),
            source,
        })?
        .application_name("switchboard")
        .options([("statement_timeout", timeout.as_str())]);
    let probe = connect_options
        .connect()
        .await
        .map_err(|source| StoreError::Connect {
            url: shown.clone(),
            source,
        })?;
    probe.close().await.ok();
    let pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(connect_options)
        .await
        .map_err(|source| StoreError::Connect {
            url: shown.clone(),
            source,
        })?;
    let db = Db { pool };
    check_known_versions(&db).await?;
    if options.migrate {
        migrator::<Postgres>().run(&db.pool).await?;
    }
    Ok(db)
}

/// `true` for SQLITE_BUSY (primary code 5, including its extended codes).
fn is_sqlite_busy(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == 5)
}

/// Creates the directory that will hold the database file.
fn create_parent_dir(file: &Path) -> Result<(), StoreError> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            // Blocking, but it runs once at startup and the workspace's tokio
            // build has no `fs` feature.
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Builds the migrator from the embedded files. Using sqlx's own machinery
/// keeps its `_sqlx_migrations` table and checksums, so `sqlx migrate info`
/// and a future file-based migrator agree with us.
pub(crate) fn migrator<DB: Backend>() -> Migrator {
    Migrator::with_migrations(
        DB::MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Applies pending SQLite migrations.
///
/// sqlx's migration lock is a no-op on SQLite, so two processes starting on
/// a fresh file could both try to apply migration 1. Running the migrator
/// inside a `BEGIN IMMEDIATE` transaction takes SQLite's write lock first:
/// the second process waits (busy_timeout), then sees the migrations as
/// applied. sqlx turns each migration's own transaction into a savepoint.
/// (PostgreSQL's migrator takes an advisory lock itself.)
pub(crate) async fn migrate_sqlite(pool: &sqlx::Pool<Sqlite>) -> Result<(), StoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(db_err("acquiring a connection for migrations"))?;
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(db_err("locking the database for migrations"))?;
    migrator::<Sqlite>()
        .run_direct(None, &mut *tx, false)
        .await?;
    tx.commit().await.map_err(db_err("committing migrations"))?;
    Ok(())
}

/// Refuses a database that a newer build migrated: its schema has changes
/// this build does not know, and writing to it could lose data.
async fn check_known_versions<DB: Backend>(db: &Db<DB>) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    i64: Value<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let applied = applied_versions(db).await?;
    let known: Vec<i64> = DB::MIGRATIONS.iter().map(|m| m.0).collect();
    let unknown: Vec<i64> = applied.into_iter().filter(|v| !known.contains(v)).collect();
    if let Some(&newest) = unknown.iter().max() {
        return Err(StoreError::UnknownMigration {
            version: newest,
            latest: known.last().copied().unwrap_or(0),
        });
    }
    Ok(())
}

/// The versions recorded in `_sqlx_migrations` (none when the table does
/// not exist yet: a new database).
pub(crate) async fn applied_versions<DB: Backend>(db: &Db<DB>) -> Result<Vec<i64>, StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    i64: Value<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    // Whether the table exists is asked per backend: the catalogs differ.
    let exists: i64 = sqlx::query_scalar(DB::sql(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
    ))
    .fetch_one(&db.pool)
    .await
    .map_err(db_err("reading the migration table"))?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&db.pool)
        .await
        .map_err(db_err("reading the migration table"))
}

/// How many times a transaction that met a concurrent one (PostgreSQL
/// 40001 serialization failure, 40P01 deadlock) is run in all.
const CONFLICT_ATTEMPTS: u32 = 10;

/// Runs `op` (one whole store operation, i.e. one transaction: retrying it
/// is safe because the failed attempt was rolled back) again while it fails
/// with a serialization failure or a deadlock, waiting a little longer each
/// time. Other errors, and the last attempt's, are returned as they are.
/// SQLite never reports these: its writers queue on the busy timeout.
pub(crate) async fn retry<T, F, Fut>(mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if e.is_conflict() && attempt < CONFLICT_ATTEMPTS => {
                tracing::debug!(attempt, error = %e, "transaction conflict, running it again");
                // 5, 10, 20, ... ms (at most 320), plus up to as much again
                // at random (the clock's microseconds), so that transactions
                // that collided do not collide again.
                let base = 5_000u64 << (attempt - 1).min(6);
                let jitter = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| u64::from(d.subsec_micros()) % base)
                    .unwrap_or(0);
                tokio::time::sleep(Duration::from_micros(base + jitter)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Wraps a driver error with what the store was doing.
pub(crate) fn db_err(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

/// Current wall-clock time as unix milliseconds, the schema's timestamp unit.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        // A clock before 1970 is a broken host; 0 keeps rows writable.
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{redact_url, take_params, Ts};

    #[test]
    fn timestamps_convert_both_ways() {
        for ms in [
            0,
            1,
            -1,
            1_700_000_000_123,
            946_684_800_000,
            -62_135_596_800_000,
        ] {
            assert_eq!(Ts::from_pg_us(Ts(ms).to_pg_us()), Ts(ms), "{ms}");
        }
        assert_eq!(Ts(946_684_800_000).to_pg_us(), 0);
        assert_eq!(Ts(i64::MIN).to_pg_us(), i64::MIN);
        assert_eq!(Ts(i64::MAX).to_pg_us(), i64::MAX);
        assert_eq!(Ts::from_pg_us(i64::MIN), Ts(i64::MIN));
        assert_eq!(Ts::from_pg_us(i64::MAX), Ts(i64::MAX));
        // Sub-millisecond values written by someone else round down.
        assert_eq!(Ts::from_pg_us(-946_684_800_000_001), Ts(-1));
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://sb:secret@db:5432/sb?sslmode=disable"),
            "postgres://sb:***@db:5432/sb?sslmode=disable"
        );
        assert_eq!(redact_url("postgres://sb@db/sb"), "postgres://sb@db/sb");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn store_parameters_are_taken_out_of_the_url() {
        let (url, pool, timeout) =
            take_params("postgres://h/db?pool_size=20&sslmode=disable&statement_timeout=5s")
                .unwrap();
        assert_eq!(url, "postgres://h/db?sslmode=disable");
        assert_eq!(pool, Some(20));
        assert_eq!(timeout.as_deref(), Some("5s"));
        assert!(take_params("postgres://h/db?pool_size=0").is_err());
        assert!(take_params("postgres://h/db?statement_timeout=1;drop").is_err());
        let (url, pool, _) = take_params("sqlite://x.db").unwrap();
        assert_eq!((url.as_str(), pool), ("sqlite://x.db", None));
    }
}
