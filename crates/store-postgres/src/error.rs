//! The crate's error type and its mapping onto `memory_core::Error`.

use tokio_postgres::error::SqlState;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// The connection URL or options could not be used.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The schema was written by a newer version of this crate.
    #[error(
        "the database has schema version {found}, newer than the {supported} this build understands; upgrade brain to use it"
    )]
    SchemaTooNew {
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// No connection could be taken from the pool (server down, pool exhausted past
    /// its wait timeout, ...).
    #[error("no database connection: {0}")]
    Pool(#[source] deadpool_postgres::PoolError),
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
    /// Any error from the server or the connection.
    #[error("postgres: {0}")]
    Postgres(#[source] tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for PostgresError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            let detail = e
                .as_db_error()
                .map(|d| d.detail().unwrap_or(d.message()).to_owned())
                .unwrap_or_else(|| e.to_string());
            return PostgresError::Conflict(detail);
        }
        PostgresError::Postgres(e)
    }
}

impl From<deadpool_postgres::PoolError> for PostgresError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => PostgresError::from(e),
            other => PostgresError::Pool(other),
        }
    }
}

impl PostgresError {
    /// Whether the transaction that failed with this error may succeed if run again
    /// (a deadlock or serialisation failure, which PostgreSQL resolves by aborting one
    /// of the transactions involved).
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, PostgresError::Postgres(e)
            if matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE))
    }

    /// Whether the error means the server or the connection is unavailable (retrying
    /// later may help), rather than a bug or bad data.
    fn is_unavailable(&self) -> bool {
        match self {
            PostgresError::Pool(_) => true,
            PostgresError::Postgres(e) => {
                if e.is_closed() {
                    return true;
                }
                match e.code() {
                    // No SQLSTATE: an I/O or protocol error on the connection.
                    None => e.as_db_error().is_none(),
                    Some(c) => {
                        let code = c.code();
                        // 08: connection exception; 53: insufficient resources;
                        // 57P: operator intervention (shutdown, crash); 40: transaction
                        // rollback (deadlock or serialisation failure past our retries);
                        // 55P03: lock not available; 57014: statement timeout.
                        code.starts_with("08")
                            || code.starts_with("53")
                            || code.starts_with("57P")
                            || code.starts_with("40")
                            || code == "55P03"
                            || code == "57014"
                            || code == "25006"
                    }
                }
            }
            _ => false,
        }
    }
}

impl From<PostgresError> for memory_core::Error {
    fn from(e: PostgresError) -> Self {
        use memory_core::Error;
        if e.is_unavailable() {
            return Error::unavailable(e.to_string(), e);
        }
        match e {
            PostgresError::Invalid(v) => Error::InvalidInput(v),
            PostgresError::NotFound(what) => Error::NotFound { what },
            PostgresError::Conflict(m) => Error::Conflict(m),
            other => Error::backend(other.to_string(), other),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = PostgresError> = std::result::Result<T, E>;
