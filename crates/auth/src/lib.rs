//! Postern's authentication service, shared by every protocol: argon2id
//! password hashes, throttling of failed logins per client address and per
//! account name, and SASL PLAIN / LOGIN / EXTERNAL.
//!
//! Two rules hold everywhere: a failed login costs the client time (growing
//! with each failure, then a temporary block), and no answer says whether
//! an account exists — unknown names cost the same work and get the same
//! reply as wrong passwords.
//!
//! # Layout
//! - [`password`]: hashing, verifying and the strength rule.
//! - [`cache`]: passwords verified in the last minutes, as keyed tags, so
//!   frequent reconnections skip argon2 (wrong passwords never do).
//! - [`throttle`]: failure counting, delays and blocks (no clock inside:
//!   callers pass the time).
//! - [`sasl`]: decoding the SASL mechanisms' client messages.
//! - [`service`]: [`Authenticator`], which ties them to the store.

pub mod cache;
pub mod password;
pub mod sasl;
pub mod service;
pub mod throttle;

pub use password::{hash_password, PasswordError};
pub use service::{Authenticator, LoginOutcome};
