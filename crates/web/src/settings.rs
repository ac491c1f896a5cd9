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
    /// The largest message the user may send (the SMTP listeners' SIZE),
    /// attachments and their base64 included.
    pub max_message_size: u64,
    /// Recipients in one message (To, Cc and Bcc together), as SMTP's
    /// limit per transaction.
    pub max_recipients: usize,
    /// The largest CalDAV request body, in octets (`[caldav]
    /// max_request_size`): a declared larger one is refused with 413
    /// before any of it is read, and a chunked one is cut off there.
    pub caldav_max_request: u64,
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

/// A message the web hands to the submission path: the raw message as
/// composed (no trace header yet), and its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The envelope sender: the address the user chose to send as.
    pub mail_from: String,
    /// Every recipient: To, Cc and Bcc together (Bcc is not in `raw`).
    pub recipients: Vec<String>,
    /// The message, lines ending in CRLF.
    pub raw: Vec<u8>,
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// Something the user can correct (an unknown local recipient, a
    /// sender that is not theirs, a message too large, a full mailbox);
    /// the text says what, in words fit for the compose page.
    Refused(String),
    /// The store did not answer; nothing was queued. Try again later.
    Unavailable,
}

/// A submission in progress: `Ok` once the message is durably queued and
/// delivered to the local recipients' mailboxes.
pub type SubmitFuture = Pin<Box<dyn Future<Output = Result<String, SubmitError>> + Send>>;

/// The submission path, as SMTP clients on 587/465 use it: the server
/// implements this with the same recipient resolution, sender check
/// (envelope and From: header must be the user's own address or alias),
/// trace header and durable queue, so a message written in the browser is
/// treated exactly as one sent by a mail client. `Ok` carries the queue
/// identifier, for the log.
pub trait Submission: Send + Sync + 'static {
    fn submit(&self, account: Account, client: Client, message: Outgoing) -> SubmitFuture;

    /// The addresses `account` may send as: its own first, then its
    /// aliases (the compose page's From choices).
    fn senders(&self, account: Account) -> Pin<Box<dyn Future<Output = Vec<String>> + Send>>;
}
