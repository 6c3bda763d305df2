//! The crate's error type and its mapping onto `memory_core::Error`.

use std::path::PathBuf;

use rusqlite::ErrorCode;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The file exists but is not an SQLite database (or is encrypted or damaged).
    #[error("{} is not an SQLite database (or is damaged); point the brain at another file", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is an SQLite database of another application (not a brain, and not
    /// empty); opening it would add a brain's tables to it, so it is refused untouched.
    #[error("{} is an SQLite database of another application ({reason}); refusing to turn it into a brain", path.display())]
    NotABrain {
        /// The file.
        path: PathBuf,
        /// What it holds, e.g. `application_id 0, 1 table`.
        reason: String,
    },
    /// The file exists but holds 0 bytes: likely a truncated brain, so it is not reused.
    #[error("{} is empty (0 bytes): it may have been truncated; move it away to start a new brain", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The database was written by a newer version of this crate.
    #[error(
        "{} has schema version {found}, newer than the {supported} this build understands; upgrade brain to open it",
        path.display()
    )]
    SchemaTooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The database belongs to another application.
    #[error("{} belongs to another application (application_id {found:#x}); use a separate file", path.display())]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
        /// Its application id.
        found: i64,
    },
    /// The database stayed locked by another writer for longer than the busy timeout.
    #[error(
        "the database stayed busy for longer than the busy timeout; another process holds a long write"
    )]
    Busy(#[source] rusqlite::Error),
    /// A value read back could not be decoded.
    #[error("stored {what} is corrupt: {message}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it could not be decoded.
        message: String,
    },
    /// A record id was not found.
    #[error("{0} not found")]
    NotFound(String),
    /// A write conflicted with stored data.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Input was rejected.
    #[error(transparent)]
    Invalid(#[from] memory_core::ValidationError),
    /// Any other SQLite error.
    #[error("sqlite: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The commit shared by a group of concurrent writes failed, so this write was not
    /// stored.
    #[error("commit failed: {message}")]
    GroupCommit {
        /// Why the group failed.
        message: String,
        /// Whether retrying may help (the database was busy, full or read-only).
        unavailable: bool,
    },
    /// The blocking task running the query died.
    #[error("database task failed: {0}")]
    Task(String),
}

impl From<rusqlite::Error> for SqliteError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => SqliteError::Busy(e),
            _ => SqliteError::Sqlite(e),
        }
    }
}

impl From<SqliteError> for memory_core::Error {
    fn from(e: SqliteError) -> Self {
        use memory_core::Error;
        match e {
            SqliteError::Invalid(v) => Error::InvalidInput(v),
            // The caller pointed at the wrong file: their input, not a backend fault.
            SqliteError::NotABrain { .. } | SqliteError::EmptyFile { .. } => {
                Error::InvalidInput(memory_core::ValidationError::Other(e.to_string()))
            }
            SqliteError::NotFound(what) => Error::NotFound { what },
            SqliteError::Conflict(m) => Error::Conflict(m),
            SqliteError::Busy(_) => Error::unavailable("database busy", e),
            SqliteError::GroupCommit {
                unavailable: true, ..
            } => Error::unavailable(e.to_string(), e),
            SqliteError::Sqlite(ref s)
                if matches!(
                    s.sqlite_error_code(),
                    Some(ErrorCode::DiskFull | ErrorCode::ReadOnly | ErrorCode::CannotOpen)
                ) =>
            {
                Error::unavailable(s.to_string(), e)
            }
            // An I/O error (writing, syncing, or growing the shared-memory file) is the
            // disk's fault, not the data's: on a full disk SQLite often reports this
            // (SQLITE_IOERR_SHMSIZE, _WRITE, _FSYNC) instead of SQLITE_FULL.
            SqliteError::Sqlite(ref s)
                if s.sqlite_error_code() == Some(ErrorCode::SystemIoFailure) =>
            {
                Error::unavailable(format!("{s} (is the disk full, read-only or failing?)"), e)
            }
            other => Error::backend(other.to_string(), other),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = SqliteError> = std::result::Result<T, E>;
