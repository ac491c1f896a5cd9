//! Postern's shared vocabulary.
//!
//! Everything here is plain data or a trait with no I/O, so that every other
//! crate (the sans-I/O protocol cores included) can depend on it.
//!
//! # Layout
//! - [`protocol`]: the contract between a sans-I/O protocol core and the one
//!   connection driver (`postern-server`): bytes in, events and bytes out.
//! - [`service`]: what a listener serves ([`Service`]) and how it uses TLS
//!   ([`TlsMode`]).
//! - [`tls_info`]: what the driver learnt from a finished TLS handshake, handed
//!   to the protocol after the upgrade.
//! - [`date`]: UTC calendar arithmetic and the RFC 5322 date format.
//! - [`secret`]: [`Secret`], a wrapper that never prints its content.

pub mod date;
pub mod protocol;
pub mod secret;
pub mod service;
pub mod tls_info;

pub use protocol::{Goodbye, Interrupt, Io, PlaintextAfterStartTls, Protocol, TimeoutClass};
pub use secret::Secret;
pub use service::{Service, TlsMode};
pub use tls_info::{ClientIdentity, TlsInfo};
