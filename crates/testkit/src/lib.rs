//! Test helpers, for tests only: a throw-away CA, a Postern server on
//! loopback with every listener, and TLS line clients that keep a transcript.
//!
//! # Layout
//! - [`ca`]: an ephemeral CA issuing server and client certificates.
//! - [`server`]: [`TestServer`], the real server on `127.0.0.1:0`.
//! - [`client`]: [`LineClient`], a line-oriented client over TCP or TLS.

pub mod ca;
pub mod client;
pub mod dns;
pub mod http;
pub mod server;

pub use ca::{Issued, TestCa};
pub use client::LineClient;
pub use http::{Browser, HttpResponse, HttpsClient};
pub use server::{TestServer, TestServerBuilder};
