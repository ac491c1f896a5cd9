//! Why a session ends on the core's initiative.

use std::fmt;

/// A fatal protocol error. The core has already queued its last response
/// (`* BYE ...`); the driver flushes it and closes the connection.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The peer sent a command longer than `Options::max_line` octets; the
    /// rest was never buffered.
    LineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The peer sent a non-synchronizing literal over the limit. Its octets
    /// are already on the way and reading them is what the limit forbids,
    /// so the session ends (RFC 7888 §5).
    LiteralTooLarge {
        /// The limit that was exceeded.
        limit: u32,
    },
    /// The peer reached `Options::max_bad_commands` refused or malformed
    /// commands.
    TooManyBadCommands {
        /// The limit that was reached.
        limit: u32,
    },
    /// Driver misuse: `next()` was called after `accept_starttls()`. The
    /// driver must flush with `take_output()` and call `start_tls()`.
    UpgradePending,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong { limit } => {
                write!(f, "peer sent a command longer than {limit} octets")
            }
            Self::LiteralTooLarge { limit } => {
                write!(
                    f,
                    "peer sent a non-synchronizing literal over {limit} octets"
                )
            }
            Self::TooManyBadCommands { limit } => {
                write!(f, "peer sent {limit} bad commands")
            }
            Self::UpgradePending => {
                f.write_str("API misuse: next() called while a STARTTLS upgrade is pending")
            }
        }
    }
}

impl std::error::Error for Error {}
