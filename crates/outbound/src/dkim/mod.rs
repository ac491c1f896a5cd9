//! DKIM (RFC 6376): the keys each domain signs with, and the signatures
//! put on mail leaving for other servers.
//!
//! # Layout
//! - [`keys`]: key generation, the files under `DATA/dkim/`, the DNS
//!   records to publish.
//! - [`sign`]: the [`Signer`] the queue workers use.

pub mod keys;
pub mod sign;

pub use keys::{Algorithm, KeyError, KeyFile, PublicKey};
pub use sign::Signer;
