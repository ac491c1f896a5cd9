//! The session logic of each service: it answers the events of a protocol
//! core. Mail sessions grow with the store and authentication; today they
//! cover the connection's life around TLS.

pub mod http;
pub mod imap;
pub mod maildrop;
pub mod pop3;
pub mod sasl;
pub mod smtp;
