//! The crate's error type.

/// Everything that can go wrong in the store. Messages are written for the
/// operator reading CLI output or logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL names a backend this build does not support.
    #[error(
        "unsupported database URL '{0}': expected sqlite://PATH, sqlite:PATH, sqlite::memory: \
         or postgres://USER@HOST[:PORT]/DATABASE"
    )]
    UnsupportedUrl(String),

    /// A parameter of the URL is wrong.
    #[error("invalid database URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL (password redacted).
        url: String,
        /// What is wrong.
        reason: String,
    },

    /// Opening without creating (`db check`) found no SQLite file.
    #[error("no database at {0}")]
    NoDatabaseFile(String),

    /// The database was migrated by a newer build: its schema has changes
    /// this build does not know.
    #[error(
        "the database is at migration {version}, newer than this build knows (its latest is \
         {latest}): run a newer switchboard, or restore a backup made for this version"
    )]
    UnknownMigration {
        /// The newest applied migration.
        version: i64,
        /// The newest migration of this build.
        latest: i64,
    },

    /// The directory for the database file could not be created.
    #[error("cannot create database directory {path}: {source}")]
    CreateDir {
        /// The directory that could not be created.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The database could not be opened (a wrong URL, a server that is
    /// down or refuses the credentials, a file that cannot be created).
    #[error("cannot open database {url}: {}", connect_hint(source))]
    Connect {
        /// The URL given to [`crate::Store::open`] (password redacted).
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// Applying the schema migrations failed (or an applied migration was
    /// modified after the fact).
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A query failed; `context` says what the store was doing.
    #[error("database error while {context}: {}", describe(source))]
    Database {
        /// What the store was doing, e.g. "adding extensions".
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// Adding an extension whose number is already taken.
    #[error("extension {0} already exists")]
    ExtensionExists(String),

    /// The extension does not exist.
    #[error("extension {0} not found")]
    ExtensionNotFound(String),

    /// An extension with an empty number or password was given.
    #[error("invalid extension '{number}': {reason}")]
    InvalidExtension {
        /// The offending number (may be empty).
        number: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A registrar binding passed to `save_bindings` belongs to another AOR.
    #[error("binding for '{found}' passed when saving bindings of '{expected}'")]
    BindingAorMismatch {
        /// The AOR being saved.
        expected: String,
        /// The AOR found in a row.
        found: String,
    },

    /// A call-center key (queue name, agent id, IVR menu id, ...) is empty.
    #[error("{0} is empty")]
    EmptyKey(&'static str),

    /// A media file of that name exists.
    #[error("a media file named '{0}' already exists")]
    MediaExists(String),

    /// No media file of that name.
    #[error("no media file named '{0}'")]
    MediaNotFound(String),

    /// The queue does not exist (e.g. when adding a tier to it).
    #[error("queue {0} not found")]
    QueueNotFound(String),

    /// The agent does not exist (e.g. when adding it to a queue's tiers).
    #[error("agent {0} not found")]
    AgentNotFound(String),

    /// A number list given to [`crate::parse_numbers`] is malformed.
    #[error("invalid number list '{spec}': {reason}")]
    InvalidNumberList {
        /// The whole specification.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },

    /// One number of a number list is malformed.
    #[error("invalid number '{part}': {reason}")]
    InvalidNumber {
        /// The offending entry.
        part: String,
        /// What is wrong with it.
        reason: String,
    },

    /// One range of a number list is malformed.
    #[error("invalid range '{part}': {reason}")]
    InvalidRange {
        /// The offending entry, e.g. `10-5`.
        part: String,
        /// What is wrong with it, e.g. `end before start`.
        reason: String,
    },

    /// Creating or renaming a user to a username that is taken.
    #[error("username {0} is already taken")]
    UsernameTaken(String),

    /// The user does not exist.
    #[error("user {0} not found")]
    UserNotFound(i64),

    /// Creating or renaming a role to a name that is taken.
    #[error("role name {0} is already taken")]
    RoleNameTaken(String),

    /// The role does not exist.
    #[error("role {0} not found")]
    RoleNotFound(i64),

    /// The department does not exist.
    #[error("department {0} not found")]
    DepartmentNotFound(i64),

    /// Putting a department under `parent` would make it its own ancestor.
    #[error("department {department} cannot be moved under {parent}: that would make a cycle")]
    DepartmentCycle {
        /// The department met while walking up from `parent`.
        department: i64,
        /// The parent asked for.
        parent: i64,
    },

    /// `db copy` could not copy (the message says why; nothing was written).
    #[error("copy failed: {0}")]
    Copy(String),

    /// Adding a gateway whose name is taken.
    #[error("gateway {0} already exists")]
    GatewayExists(String),

    /// The gateway does not exist.
    #[error("gateway {0} not found")]
    GatewayNotFound(String),

    /// A gateway with settings that cannot work: every field at fault.
    #[error("{0}")]
    InvalidGateway(callcenter::gateway::config::GatewayErrors),

    /// Deleting a department that still has departments below it.
    #[error("department {0} has departments below it")]
    DepartmentHasChildren(i64),

    /// A CRM record with a field that cannot be saved (which, and why).
    #[error("{0}")]
    InvalidField(callcenter::crm::FieldError),

    /// A CRM record (contact, customer, category, project) that does not
    /// exist: what it is and its id.
    #[error("{0} {1} not found")]
    CrmNotFound(&'static str, i64),

    /// Rows of a batch that cannot be saved: each row's index (from 0) and
    /// its first field at fault. Nothing of the batch was saved.
    #[error("{} rows cannot be saved, the first: row {}: {}", .0.len(), .0.first().map_or(0, |r| r.0), .0.first().map_or(String::new(), |r| r.1.to_string()))]
    InvalidRows(Vec<(usize, callcenter::crm::FieldError)>),

    /// A contact category or project whose name is taken.
    #[error("{0} '{1}' already exists")]
    CrmNameTaken(&'static str, String),
}

/// A one-line reason for a failed connection, with the usual cause named.
fn connect_hint(source: &sqlx::Error) -> String {
    match source {
        sqlx::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("{e} (is the database server running and listening there?)")
        }
        sqlx::Error::PoolTimedOut => {
            "no connection within the timeout (is the database server reachable?)".to_string()
        }
        other => describe(other),
    }
}

/// A driver error in one line: a database's own error as its message and
/// SQLSTATE (sqlx adds the server's source line to PostgreSQL's).
fn describe(source: &sqlx::Error) -> String {
    match source {
        sqlx::Error::Database(e) => match e.code() {
            Some(code) => format!("{} ({code})", e.message()),
            None => e.message().to_string(),
        },
        other => other.to_string(),
    }
    .replace('\n', " ")
}

impl StoreError {
    /// The driver's error inside, if this is one.
    fn sqlx(&self) -> Option<&sqlx::Error> {
        match self {
            StoreError::Connect { source, .. } | StoreError::Database { source, .. } => {
                Some(source)
            }
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(source)) => Some(source),
            _ => None,
        }
    }

    /// The SQLSTATE (PostgreSQL) or result code (SQLite) of a database error.
    fn code(&self) -> Option<String> {
        match self.sqlx()? {
            sqlx::Error::Database(e) => e.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// The transaction met a concurrent one (PostgreSQL serialization
    /// failure 40001 or deadlock 40P01): running it again will do. The
    /// store already retries these a few times before returning one.
    pub fn is_conflict(&self) -> bool {
        matches!(self.code().as_deref(), Some("40001" | "40P01"))
    }

    /// The database could not be reached or the connection was lost (the
    /// server is down or restarting, the network failed, no connection
    /// came free in time): the same operation may succeed later, unchanged.
    /// `false` for errors in the request or the data (a constraint, a
    /// missing row, a bad value), which will fail again.
    pub fn is_connection_error(&self) -> bool {
        let Some(source) = self.sqlx() else {
            return false;
        };
        match source {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(e) => e.code().is_some_and(|code| {
                // Class 08: connection exception; 57P01-57P03: the server is
                // shutting down, crashed or starting; 53300: too many
                // connections.
                code.starts_with("08")
                    || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
            }),
            _ => false,
        }
    }

    /// Worth trying again later, unchanged: a connection error, a conflict
    /// that outlasted the store's own retries, or SQLite still busy after
    /// its busy timeout (another process holding the write lock).
    pub fn is_retryable(&self) -> bool {
        self.is_connection_error()
            || self.is_conflict()
            || self
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6))
    }
}
