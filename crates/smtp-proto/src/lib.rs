//! Sans-I/O SMTP server core (RFC 5321): the whole transaction and AUTH
//! state machine, with STARTTLS (RFC 3207), AUTH (RFC 4954), SIZE (RFC
//! 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), CHUNKING (RFC 3030),
//! DSN parameters (RFC 3461), REQUIRETLS (RFC 8689), PIPELINING (RFC 2920)
//! and enhanced status codes (RFC 2034, RFC 3463), for MX and submission
//! listeners (RFC 6409, RFC 8314).
//!
//! Bytes go in ([`Protocol::enqueue_input`](postern_types::Protocol)),
//! events and bytes come out ([`Protocol::next`](postern_types::Protocol));
//! no socket, no clock, no dependency but `postern-types`. The connection
//! driver in `postern-server` runs it; the session layer answers each
//! [`Event`] through the intent methods of [`Server`].
//!
//! The core owns the protocol: greeting, EHLO/HELO, NOOP, RSET, HELP, QUIT,
//! the STARTTLS checks, every sequence rule, `530` before TLS on
//! submission and before AUTH for MAIL there, parameter syntax, the SIZE
//! and recipient limits, the DATA `354`, dot-unstuffing and the end of data
//! (only `CRLF.CRLF`: immune to SMTP smuggling), BDAT chunks and their
//! replies, SASL challenge framing and `*` cancellation, line limits, the
//! bad-command limit and the `421` goodbyes. The session decides policy
//! only:
//!
//! | event | answered with |
//! |---|---|
//! | [`Event::StartTls`] | `accept_starttls()` or `reply(454, ..)` |
//! | [`Event::Auth`], [`Event::SaslResponse`] | `sasl_challenge(&[u8])`, `auth_succeeded()`, `auth_failed()`, `auth_temporary_failure()` |
//! | [`Event::Mail`] | `accept_mail()` or `reply(4xx/5xx, ..)` |
//! | [`Event::Rcpt`] | `accept_rcpt()` or `reply(4xx/5xx, ..)` |
//! | [`Event::Message`] | `accept_message(id)` or `reply(4xx/5xx, ..)` |
//! | [`Event::Command`] (VRFY, EXPN) | `reply(..)` |
//!
//! # Layout
//! - `server`: [`Server`], the state machine and its
//!   [`Protocol`](postern_types::Protocol) impl; `server::command` (what each
//!   command does and what the core refuses), `server::body` (DATA and
//!   BDAT), `server::intent` (the methods the session answers with).
//! - `options`: [`Options`], what the listener tells the core, with defaults.
//! - `event`: [`Event`], what the session must answer.
//! - `error`: [`Error`], why the core ends a session.
//! - [`cmd`]: the command parsers, one file per command family
//!   (`helo`, `mail`, `rcpt`, `data`, `bdat`, `auth`, `vrfy`, `starttls`,
//!   `basic`, plus `path`, `params` and `esmtp` for their arguments).
//! - `framing` (private): the input buffer; command lines with their limit.
//! - `dot` (private): the DATA body reader (dot-unstuffing, end of data,
//!   bare CR/LF detection).
//! - `message` (private): the message buffer, bounded by the size limit.
//! - `base64` (private): SASL encoding (RFC 4648 §4).
//! - `reply` (private): reply lines, enhanced status codes, the core's
//!   canned replies.
//! - `extensions` (private): what EHLO advertises.

#![forbid(unsafe_code)]

mod base64;
pub mod cmd;
mod dot;
mod error;
mod event;
mod extensions;
mod framing;
mod message;
mod options;
mod reply;
mod server;

pub use cmd::AuthMechanism;
pub use error::Error;
pub use event::Event;
pub use options::Options;
pub use server::Server;
