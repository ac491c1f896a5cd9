//! The SMTP client: a pure reply parser and command builder, and a small
//! tokio driver around them.
//!
//! # Layout
//! - [`reply`]: replies from bytes (sans-I/O).
//! - [`command`]: EHLO capabilities, commands with their parameters,
//!   dot-stuffing (sans-I/O).
//! - [`conn`]: one connection with deadlines; STARTTLS.
//! - [`transaction`]: MAIL, RCPT, DATA/BDAT with per-recipient replies.

pub mod command;
pub mod conn;
pub mod reply;
pub mod transaction;

pub use command::{Extensions, MailParams, Notify, RcptParams, Ret};
pub use conn::{Conn, ConnError, TlsSummary};
pub use reply::{Class, Reply, ReplyError, ReplyParser};
