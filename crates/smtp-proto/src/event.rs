//! What the core hands to the session.

use crate::cmd::Command;

/// A client request the session must answer through the intent methods of
/// [`Server`](crate::Server).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// STARTTLS on a listener that offers it. Answer `accept_starttls()`
    /// (then the driver flushes and upgrades), or refuse with
    /// `reply(454, Some("4.7.0"), ..)` (RFC 3207 §4) if TLS cannot start.
    StartTls,
    /// A command whose answer the session decides. Reply to each before
    /// calling `next()` again, so that replies stay in order (RFC 2920 §3).
    Command(Command),
    /// Octets of the chunk announced by the last `Command::Bdat`, in
    /// order. Answer the BDAT only after the piece with `end_of_chunk`
    /// (RFC 3030 §2: one reply per chunk, once it is read).
    ChunkData {
        /// The octets, possibly empty (`BDAT 0`).
        bytes: Vec<u8>,
        /// This piece completes the chunk.
        end_of_chunk: bool,
    },
}
