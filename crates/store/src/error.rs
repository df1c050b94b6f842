//! The crate's error type.

/// Everything that can go wrong in the store. Messages are written for the
/// operator reading CLI output or logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL names a backend this build does not support.
    #[error(
        "unsupported database URL '{0}': expected sqlite://PATH, sqlite:PATH or sqlite::memory:"
    )]
    UnsupportedUrl(String),

    /// The directory for the database file could not be created.
    #[error("cannot create database directory {path}: {source}")]
    CreateDir {
        /// The directory that could not be created.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The database could not be opened.
    #[error("cannot open database {url}: {source}")]
    Connect {
        /// The URL given to [`crate::Store::open`].
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
    #[error("database error while {context}: {source}")]
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

    /// Deleting a department that still has departments below it.
    #[error("department {0} has departments below it")]
    DepartmentHasChildren(i64),
}
