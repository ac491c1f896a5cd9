//! What the core hands to the session.

use postern_types::Secret;

use crate::cmd::Request;
use crate::{Part, Tag};

/// A client command the session must answer through the intent methods of
/// [`Server`](crate::Server), ending with a tagged response for `tag`.
/// Credentials only ever arrive under TLS: before it, LOGIN and
/// AUTHENTICATE get `NO [PRIVACYREQUIRED]` from the core.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// STARTTLS on a listener that offers it. Answer
    /// `accept_starttls(&tag)` (the driver then flushes and upgrades), or
    /// refuse with `tagged_no(..)`.
    StartTls {
        /// The command's tag.
        tag: Tag,
    },
    /// `COMPRESS DEFLATE` (RFC 4978) was accepted: its tagged OK is queued
    /// and must go out uncompressed; everything after it, both ways, is
    /// deflated. The session hands the connection over to compression.
    Compress {
        /// The command's tag.
        tag: Tag,
    },
    /// `LOGIN userid password` (RFC 9051 §6.2.3), under TLS.
    Login {
        /// The command's tag.
        tag: Tag,
        /// The user name, unquoted.
        username: String,
        /// The password, unquoted.
        password: Secret<String>,
    },
    /// `AUTHENTICATE mechanism [initial-response]` (RFC 9051 §6.2.2, SASL-IR
    /// RFC 4959), under TLS.
    Authenticate {
        /// The command's tag.
        tag: Tag,
        /// The SASL mechanism, upper-cased.
        mechanism: String,
        /// The base64 initial response; `Some("")` for `=`.
        initial_response: Option<Secret<String>>,
    },
    /// A command of the authenticated or selected state (RFC 9051 §6.3,
    /// §6.4), parsed; only ever after `logged_in()`. Answer with untagged
    /// data and a tagged response.
    Request {
        /// The command's tag.
        tag: Tag,
        /// What it asks.
        request: Request,
    },
    /// The client ended IDLE with `DONE` (RFC 2177): answer `tagged_ok`.
    IdleDone {
        /// The IDLE command's tag.
        tag: Tag,
    },
    /// The client's answer to a `sasl_challenge` (base64, unchecked).
    SaslResponse {
        /// The AUTHENTICATE command's tag.
        tag: Tag,
        /// The line as sent.
        response: Secret<String>,
    },
    /// Any other well-formed command (X-extensions, typos). Answer
    /// `tagged_bad` for one the session does not know (RFC 9051 §7.1.3).
    Command {
        /// The command's tag.
        tag: Tag,
        /// The command name, upper-cased.
        name: String,
        /// The arguments after `name SP`, literals kept apart.
        rest: Vec<Part>,
    },
}
