//! Store errors: what went wrong and, for the administrator, what to do.

use std::path::PathBuf;

/// Why a store operation failed. Nothing was changed when an error is
/// returned (every write is one transaction).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{what} does not exist")]
    NotFound { what: String },
    #[error("{what} exists already")]
    AlreadyExists { what: String },
    #[error("the domain {domain} is not served here; add it first (postern domain add {domain})")]
    UnknownDomain { domain: String },
    #[error("{what}: {why}")]
    Invalid { what: String, why: String },
    #[error("{what} is still in use: {why}")]
    InUse { what: String, why: String },
    #[error("the account {address} is over its quota ({used} of {quota} bytes)")]
    QuotaExceeded {
        address: String,
        used: u64,
        quota: u64,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A conditional write's condition (HTTP `If-Match` /
    /// `If-None-Match`, RFC 9110 §13.1) does not hold: someone changed,
    /// created or deleted the resource since the client last read it.
    #[error("{what}: the precondition does not hold (it was changed, created or deleted meanwhile); read it again and retry")]
    PreconditionFailed { what: String },
    /// Another resource of the calendar has this UID (RFC 4791 §5.3.2.1,
    /// CALDAV:no-uid-conflict); `existing` is that resource's name.
    #[error("the UID is already used by {existing} in this calendar; change that resource instead of adding another")]
    UidConflict { existing: String },
    #[error("database: {0}")]
    Database(String),
    /// A write conflicted with a concurrent one on another connection
    /// (PostgreSQL's serialization failure or deadlock, SQLSTATE 40001 or
    /// 40P01). The store runs such a write again itself; this is seen
    /// only when every attempt conflicted.
    #[error("database: the write kept conflicting with concurrent ones ({0}); retry it")]
    Conflict(String),
    #[error("the store's schema is version {found}, newer than this Postern knows ({known}); run a newer Postern")]
    SchemaTooNew { found: u32, known: u32 },
}

/// Results of store operations.
pub type StoreResult<T> = Result<T, StoreError>;
