//! Sans-I/O POP3 server core (RFC 1939), with CAPA (RFC 2449), STLS
//! (RFC 2595) and response codes (RFC 3206).
//!
//! Bytes go in ([`Protocol::enqueue_input`](postern_types::Protocol)),
//! events and bytes come out ([`Protocol::next`](postern_types::Protocol));
//! no socket, no clock, no dependency but `postern-types`. The connection
//! driver in `postern-server` runs it; the session layer answers each
//! [`Event`] through the intent methods of [`Server`].
//!
//! What the core does on its own: the greeting, CAPA, NOOP, QUIT, the STLS
//! checks, refusing every credential (USER, PASS, APOP, AUTH) before TLS,
//! line limits, the bad-command limit and the goodbyes. Credentials under
//! TLS and the mailbox commands are handed over as events.
//!
//! # Layout
//! - `server`: [`Server`], the state machine and its [`Protocol`](postern_types::Protocol) impl.
//! - `options`: [`Options`], what the listener tells the core, with defaults.
//! - `event`: [`Event`], what the session must answer.
//! - `error`: [`Error`], why the core ends a session.
//! - [`cmd`]: the command parsers, one file per command family (`capa`,
//!   `basic`, `stls`, `user`, `auth`, `mailbox`).
//! - `framing` (private): bytes to lines, with the limits.
//! - `response` (private): `+OK`/`-ERR` lines, codes, dot-stuffing.
//! - `capability` (private): what CAPA lists.

#![forbid(unsafe_code)]

mod capability;
pub mod cmd;
mod error;
mod event;
mod framing;
mod options;
mod response;
mod server;

pub use error::Error;
pub use event::Event;
pub use options::Options;
pub use server::Server;
