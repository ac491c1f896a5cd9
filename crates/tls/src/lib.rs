//! TLS for Postern: certificates, SNI with hot reload, the TLS policy, and
//! the certificate tooling behind `postern cert`.
//!
//! This crate never sees the mail store: private keys go from their files to
//! rustls and nowhere else.
//!
//! # Layout
//! - [`load`]: PEM and PKCS#12 files to a certificate chain and key.
//! - [`inspect`]: what a certificate says (names, dates, key strength).
//! - [`certstore`]: the checked certificates a server serves.
//! - [`resolver`]: SNI and key-type selection at each handshake.
//! - [`reload`]: the hot-swapped store; the last good certificate keeps
//!   serving when a reload fails.
//! - [`policy`]: a listener's rustls configuration (versions, suites, ALPN,
//!   client certificates).
//! - [`session`]: facts about a finished handshake for the session.
//! - [`expiry`]: the daily expiry check.
//! - [`tooling`]: self-signed certificates, CSRs, import with checks, reports.

pub mod certstore;
pub mod expiry;
pub mod inspect;
pub mod load;
pub mod policy;
pub mod reload;
pub mod resolver;
pub mod session;
pub mod tooling;

pub use certstore::{CertError, CertStore, LoadedCert};
pub use policy::{server_config, Offered, PolicyError};
pub use reload::{Certificates, ReloadReport};
pub use resolver::ListenerResolver;

pub use rustls;
pub use tokio_rustls;
