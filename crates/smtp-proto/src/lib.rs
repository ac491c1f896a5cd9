//! Sans-I/O SMTP server core (RFC 5321), with STARTTLS (RFC 3207), the
//! submission rules of RFC 6409 / RFC 8314, and the framing of CHUNKING
//! (RFC 3030).
//!
//! Bytes go in ([`Protocol::enqueue_input`](postern_types::Protocol)),
//! events and bytes come out ([`Protocol::next`](postern_types::Protocol));
//! no socket, no clock, no dependency but `postern-types`. The connection
//! driver in `postern-server` runs it; the session layer answers each
//! [`Event`] through the intent methods of [`Server`].
//!
//! What the core does on its own: the greeting, EHLO/HELO, NOOP, RSET, HELP,
//! QUIT, the STARTTLS checks, `530` on a submission port before TLS, line
//! limits, the bad-command limit and the `421` goodbyes. Everything else
//! (MAIL, RCPT, DATA, BDAT, AUTH, VRFY, EXPN) is parsed and handed over as
//! [`Event::Command`].
//!
//! # Layout
//! - `server`: [`Server`], the state machine and its [`Protocol`](postern_types::Protocol) impl.
//! - `options`: [`Options`], what the listener tells the core, with defaults.
//! - `event`: [`Event`], what the session must answer.
//! - `error`: [`Error`], why the core ends a session.
//! - [`cmd`]: the command parsers, one file per command family
//!   (`helo`, `mail`, `rcpt`, `data`, `bdat`, `auth`, `vrfy`, `starttls`,
//!   `basic`, plus `path` and `params` for their arguments).
//! - `framing` (private): bytes to lines and BDAT chunks, with the limits.
//! - `reply` (private): reply lines and enhanced status codes.
//! - `extensions` (private): what EHLO advertises.

#![forbid(unsafe_code)]

pub mod cmd;
mod error;
mod event;
mod extensions;
mod framing;
mod options;
mod reply;
mod server;

pub use error::Error;
pub use event::Event;
pub use options::Options;
pub use server::Server;
