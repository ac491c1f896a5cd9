//! What the server tells the web application, and the login hook it
//! provides.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use postern_store::Account;
use postern_types::{ClientIdentity, TlsInfo};

/// The application's view of the server configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// This server's host name: where mail clients connect, and the `mx`
    /// of the MTA-STS policy.
    pub hostname: String,
    /// The configured mail domains; the store's domains count as local
    /// too (`postern domain add` needs no restart).
    pub domains: Vec<String>,
    /// The mail services clients should use, in order of preference. Only
    /// TLS ones: autoconfig never points a client at a plain-text port.
    pub endpoints: Vec<Endpoint>,
    /// The longest one request may take, body included: a client that
    /// trickles its body is cut off (slowloris on the body).
    pub request_timeout: Duration,
}

/// A mail service a client can be pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub service: MailService,
    pub port: u16,
    /// `true`: TLS from the first byte (RFC 8314); `false`: STARTTLS,
    /// offered for submission only.
    pub implicit_tls: bool,
}

/// The mail protocols autoconfig describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailService {
    Imap,
    Pop3,
    Submission,
}

/// The connection a request came on, attached by the server to every
/// request as an extension.
#[derive(Debug, Clone)]
pub struct Client {
    pub peer: SocketAddr,
    pub tls: TlsInfo,
}

/// A login in progress; `None` is a failure, answered only after the
/// throttle's delay has passed.
pub type LoginFuture = Pin<Box<dyn Future<Output = Option<Account>> + Send>>;

/// Logins, as the mail protocols do them: the server implements this with
/// its authentication service, so the web shares their throttle (per
/// address and per name), the bound on concurrent password checks, and the
/// decoy check that makes unknown names cost the same as wrong passwords.
pub trait Accounts: Send + Sync + 'static {
    /// A password login.
    fn password_login(&self, ip: std::net::IpAddr, user: String, password: String) -> LoginFuture;

    /// A login with the connection's verified client certificate (its
    /// e-mail address names the account, as SASL EXTERNAL does).
    fn certificate_login(&self, ip: std::net::IpAddr, client: ClientIdentity) -> LoginFuture;
}
