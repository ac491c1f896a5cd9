//! What the core hands to the session.

use postern_types::Secret;

/// A client request the session must answer through the intent methods of
/// [`Server`](crate::Server). Credentials only ever arrive under TLS: before
/// it, USER, PASS, APOP and AUTH are refused by the core (RFC 2595 §4).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// STLS on a listener that offers it. Answer `accept_stls()` (the
    /// driver then flushes and upgrades), or refuse with `err(..)`.
    StartTls,
    /// The client's line after a `sasl_challenge` (base64; RFC 5034 §4).
    /// Answer with `ok` + `logged_in`, `err`, or another challenge.
    SaslResponse { response: Secret<String> },
    /// `QUIT` once logged in (RFC 1939 §6): the session enters the UPDATE
    /// state, removes the messages marked deleted, then answers with `ok`
    /// (or `err` if it could not remove them); the session then ends.
    Quit,
    /// `USER name` (RFC 1939 §7).
    User {
        /// The name as sent.
        name: String,
    },
    /// `PASS string` (RFC 1939 §7): the whole rest of the line, spaces
    /// included, as §7 allows.
    Pass {
        /// The password.
        password: Secret<String>,
    },
    /// `AUTH mechanism [initial-response]` (RFC 5034 §4).
    Auth {
        /// The SASL mechanism, upper-cased.
        mechanism: String,
        /// The base64 initial response; `Some("")` for `=`.
        initial_response: Option<Secret<String>>,
    },
    /// A mailbox command (STAT, LIST, RETR, DELE, RSET, TOP, UIDL; RFC 1939
    /// §5 and §7) for the session to answer.
    Command {
        /// The command keyword, upper-cased.
        name: String,
        /// Its space-separated arguments.
        args: Vec<String>,
    },
}
