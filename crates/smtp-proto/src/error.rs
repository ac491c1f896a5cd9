//! Why a session ends on the core's initiative.

use std::fmt;

/// A fatal protocol error. The core has already queued its last reply (the
/// error and a `421`); the driver flushes it and closes the connection.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The peer sent a line longer than `Options::max_line` octets; the rest
    /// of the line was never buffered.
    LineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The peer reached `Options::max_bad_commands` refused or malformed
    /// commands.
    TooManyBadCommands {
        /// The limit that was reached.
        limit: u32,
    },
    /// The peer sent `BDAT` with an unreadable chunk size: the octets that
    /// follow cannot be told apart from commands (RFC 3030 §2), so reading on
    /// would let message content run as commands.
    BadChunkSize,
    /// Driver misuse: `next()` was called after `accept_starttls()`. The
    /// driver must flush with `take_output()` and call `start_tls()`.
    UpgradePending,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong { limit } => {
                write!(f, "peer sent a line longer than {limit} octets")
            }
            Self::TooManyBadCommands { limit } => {
                write!(f, "peer sent {limit} bad commands")
            }
            Self::BadChunkSize => f.write_str("peer sent BDAT with an invalid chunk size"),
            Self::UpgradePending => {
                f.write_str("API misuse: next() called while a STARTTLS upgrade is pending")
            }
        }
    }
}

impl std::error::Error for Error {}
