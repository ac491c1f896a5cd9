//! Postern's outbound mail.
#![forbid(unsafe_code)]

pub mod client;
pub mod dane;
pub mod deliver;
pub mod dns;
pub mod dsn;
pub mod metrics;
pub mod mta_sts;
pub mod retry;
pub mod routing;
pub mod settings;
pub mod tls;
