//! Sans-I/O IMAP server core (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1),
//! with STARTTLS (RFC 9051 §6.2.1), SASL-IR (RFC 4959) and LITERAL-
//! (RFC 7888).
//!
//! Bytes go in ([`Protocol::enqueue_input`](postern_types::Protocol)),
//! events and bytes come out ([`Protocol::next`](postern_types::Protocol));
//! no socket, no clock, no dependency but `postern-types`. The connection
//! driver in `postern-server` runs it; the session layer answers each
//! [`Event`] through the intent methods of [`Server`].
//!
//! What the core does on its own: the greeting, CAPABILITY, NOOP, LOGOUT,
//! the STARTTLS checks, `NO [PRIVACYREQUIRED]` for LOGIN and AUTHENTICATE
//! before TLS, literals and their limits, the bad-command limit and the
//! `* BYE` goodbyes. Credentials under TLS and every other command are
//! handed over as events.
//!
//! # Layout
//! - `server`: [`Server`], the state machine and its [`Protocol`](postern_types::Protocol) impl.
//! - `options`: [`Options`], what the listener tells the core, with defaults.
//! - `event`: [`Event`], what the session must answer.
//! - `error`: [`Error`], why the core ends a session.
//! - `tag`: [`Tag`], the validated command tag.
//! - `syntax`: [`Part`] and the reader for atoms, strings and literals.
//! - [`cmd`]: the command parsers, one file per command family
//!   (`any_state`, `starttls`, `login`, `authenticate`).
//! - `framing` (private): bytes to lines and literals, with the limits and
//!   the literal verdicts.
//! - `response` (private): status lines, response codes, continuations.
//! - `capability` (private): what CAPABILITY lists.

#![forbid(unsafe_code)]

mod capability;
pub mod cmd;
mod error;
mod event;
mod framing;
mod options;
mod response;
mod server;
mod syntax;
mod tag;

pub use error::Error;
pub use event::Event;
pub use options::Options;
pub use server::Server;
pub use syntax::Part;
pub use tag::Tag;
