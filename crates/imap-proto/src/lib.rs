//! Sans-I/O IMAP server core (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1),
//! with STARTTLS (RFC 9051 §6.2.1), SASL-IR (RFC 4959), LITERAL- before
//! login and LITERAL+ after it (RFC 7888), and the syntax of the
//! extensions the session implements (ENABLE, ID, NAMESPACE, IDLE,
//! UIDPLUS, MOVE, UNSELECT, LIST-EXTENDED, LIST-STATUS, SPECIAL-USE,
//! CREATE-SPECIAL-USE, ESEARCH, CONDSTORE, QRESYNC, UTF8=ACCEPT, STATUS=SIZE,
//! BINARY, QUOTA, SORT, THREAD).
//!
//! Bytes go in ([`Protocol::enqueue_input`](postern_types::Protocol)),
//! events and bytes come out ([`Protocol::next`](postern_types::Protocol));
//! no socket, no clock, no dependency but `postern-types`. The connection
//! driver in `postern-server` runs it; the session layer answers each
//! [`Event`] through the intent methods of [`Server`].
//!
//! What the core does on its own: the greeting, CAPABILITY, NOOP before
//! login, LOGOUT, ID, NAMESPACE, ENABLE, the STARTTLS checks, `NO
//! [PRIVACYREQUIRED]` for LOGIN and AUTHENTICATE before TLS, `BAD` for a
//! mail command before login, literals and their limits, the IDLE and SASL
//! continuations, the bad-command limit and the `* BYE` goodbyes. Every
//! mail command reaches the session parsed ([`Event::Request`]); the
//! session answers with [`Data`] lines it builds, and the tagged status.
//! A long answer may be given in pieces: `hold()` keeps the next command
//! unparsed until `release()`, while the driver writes what is queued.
//!
//! Limits: before login a command is at most `max_line` octets, literals
//! included, and a literal at most 4096; after `logged_in()` a line may
//! take `max_line_authenticated` and a literal `max_append` (APPENDLIMIT).
//! Each command is framed under the limits in force when the one before
//! it was answered.
//!
//! # Why our own parser rather than imap-codec
//!
//! DESIGN names imap-codec `=2.0.0-alpha.10`. We keep our own parser:
//! - the framing, the literal verdicts (LITERAL-, credentials before TLS)
//!   and the STARTTLS rules were already ours and tested at every byte
//!   split; imap-codec would have meant a second framer beside them, or
//!   rewriting the tested one around its fragmentizer;
//! - a pinned alpha brings nom, abnf-core, base64, chrono and its own
//!   types into every protocol build on a two-core machine, for a grammar
//!   of which a server needs only the client half;
//! - the core must stay free of tokio and rustls: imap-codec is, but
//!   imap-next (its session layer) is not, so only the syntax half would
//!   have been usable anyway;
//! - what is parsed here is small and RFC-shaped (one file per command
//!   family, known-answer tests, a fuzz target), and bounded where it
//!   recurses (SEARCH nesting).
//!
//! # Layout
//! - `server`: [`Server`], the state machine and its [`Protocol`](postern_types::Protocol) impl.
//! - `options`: [`Options`], what the listener tells the core, with defaults.
//! - `event`: [`Event`], what the session must answer.
//! - `error`: [`Error`], why the core ends a session.
//! - `tag`: [`Tag`], the validated command tag.
//! - `syntax`: [`Part`] and the reader for atoms, strings and literals.
//! - [`cmd`]: the command parsers, one file per command family
//!   (`any_state`, `starttls`, `login`, `authenticate`, `mailbox`,
//!   `selected`, `fetch`, `search`).
//! - `data`: [`Data`], untagged response lines with strings, literals and
//!   mailbox names encoded safely.
//! - `sequence`: [`SequenceSet`]. [`date`]: IMAP dates without a clock.
//!   [`mutf7`]: modified UTF-7 mailbox names.
//! - `framing` (private): bytes to lines and literals, with the limits and
//!   the literal verdicts.
//! - `response` (private): status lines, response codes, continuations.
//! - `capability` (private): what CAPABILITY lists.

#![forbid(unsafe_code)]

mod capability;
pub mod cmd;
mod data;
pub mod date;
mod error;
mod event;
mod framing;
pub mod mutf7;
mod options;
mod response;
mod sequence;
mod server;
mod syntax;
mod tag;

pub use data::Data;
pub use error::Error;
pub use event::Event;
pub use options::Options;
pub use sequence::{Bound, SequenceSet};
pub use server::{Enabled, Server};
pub use syntax::Part;
pub use tag::Tag;
