//! Postern's configuration, in two layers (as ripgrep does with its
//! `LowArgs`/`HiArgs`):
//!
//! 1. [`file::File`] mirrors `postern.toml` exactly: serde with
//!    `deny_unknown_fields`, strings where the value needs checking, no I/O.
//! 2. [`Config`] is validated and resolved: typed listeners, absolute paths,
//!    durations, limits. Every validation problem is reported at once, each
//!    naming the file, the key and what to do. (A TOML syntax error or an
//!    unknown key stops the reading first, with its line: the file must parse
//!    before it can be checked.)
//!
//! Certificates are only *named* here; loading and checking them is the `tls`
//! crate's job (keys never pass through this crate).
//!
//! # Layout
//! - [`file`]: the file as written.
//! - [`resolve`]: file -> [`Config`], with every validation rule.
//! - [`error`]: [`ConfigError`] and its `path:line: key: message` form.
//! - [`duration`]: `"30s"`, `"10m"`, `"1h"` durations.
//! - [`template`]: the commented `postern.toml` that `postern init` writes.

pub mod acme;
pub mod defaults;
pub mod duration;
pub mod error;
pub mod file;
pub mod proxy;
pub mod resolve;
pub mod store;
pub mod template;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use acme::AcmeConfig;
pub use error::{ConfigError, ConfigErrors};
use postern_types::{Service, TlsMode};
pub use proxy::ProxyConfig;
pub use store::{PostgresConfig, StoreConfig};

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from (for messages).
    pub path: PathBuf,
    /// Where Postern keeps its state; relative paths in the file resolve
    /// against the file's own directory.
    pub data_dir: PathBuf,
    /// This server's host name: greetings, EHLO, the default certificate.
    pub hostname: String,
    /// The mail domains this server is the final destination for.
    pub domains: Vec<String>,
    /// How long running sessions get to finish on shutdown.
    pub shutdown_grace: Duration,
    pub log: LogConfig,
    pub tls: TlsPolicy,
    pub certificates: Vec<CertificateConfig>,
    pub listeners: Vec<Listener>,
    pub smtp: SmtpConfig,
    pub outbound: OutboundConfig,
    pub mail_auth: MailAuthConfig,
    pub caldav: CaldavConfig,
    /// `[store]`: SQLite in the data directory, or PostgreSQL.
    pub store: StoreConfig,
    /// `[[acme]]`: certificates obtained and renewed automatically.
    pub acme: Vec<AcmeConfig>,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::one(ConfigError::file(
                path,
                format!("cannot read the configuration file: {e}"),
            ))
        })?;
        Self::parse(path, &text)
    }

    /// Validates configuration text; `path` is used for messages and to
    /// resolve relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigErrors> {
        let file = file::File::parse(path, text)?;
        resolve::resolve(path, text, file)
    }

    /// The certificate marked (or implied) as default.
    pub fn default_certificate(&self) -> Option<&CertificateConfig> {
        self.certificates.iter().find(|c| c.default)
    }

    /// The host names the certificate `name` must carry for the
    /// listeners that serve it (see [`acme::required_names`]).
    pub fn required_names(&self, name: &str) -> Vec<String> {
        acme::required_names(name, &self.certificates, &self.listeners, &self.hostname)
    }

    /// The enabled listeners.
    pub fn enabled_listeners(&self) -> impl Iterator<Item = &Listener> {
        self.listeners.iter().filter(|l| l.enabled)
    }
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter directive, e.g. `info` or `postern_server=debug,info`.
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// TLS versions Postern can speak. Nothing older than 1.2 exists here: TLS 1.0
/// and 1.1 are deprecated by RFC 8996.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// The TLS policy shared by every listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPolicy {
    pub min_version: TlsVersion,
    /// Cipher-suite names as IANA spells them (`TLS13_AES_256_GCM_SHA384`,
    /// `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`); empty means the provider's
    /// forward-secret defaults. Names are checked by the `tls` crate, which
    /// knows what the provider offers.
    pub cipher_suites: Vec<String>,
    /// Warn this many days before a certificate in use expires.
    pub expiry_warning_days: u32,
    /// Log an error this many days before.
    pub expiry_error_days: u32,
}

/// A certificate (with its key) that listeners can serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateConfig {
    /// How listeners and `postern cert` refer to it.
    pub name: String,
    pub source: CertSource,
    /// Served to clients that send no SNI or a name no certificate covers.
    pub default: bool,
}

/// Where a certificate and its key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// A PEM chain (leaf first) and a PEM key.
    Pem { cert: PathBuf, key: PathBuf },
    /// A PKCS#12 keystore; the password is read from a file (never from the
    /// configuration itself, which is often world-readable).
    Pkcs12 {
        path: PathBuf,
        password_file: PathBuf,
    },
}

impl CertSource {
    /// The files whose change triggers a reload.
    pub fn files(&self) -> Vec<&Path> {
        match self {
            Self::Pem { cert, key } => vec![cert, key],
            Self::Pkcs12 {
                path,
                password_file,
            } => vec![path, password_file],
        }
    }
}

/// Whether a listener asks for a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    /// Asked for; a client without one may still log in with a password.
    Optional {
        ca: PathBuf,
    },
    /// The handshake fails without a certificate signed by `ca`.
    Required {
        ca: PathBuf,
    },
}

/// One listening service.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub name: String,
    pub service: Service,
    pub bind: Vec<SocketAddr>,
    pub tls: TlsMode,
    /// Names of the certificates this listener may serve; SNI chooses.
    pub certificates: Vec<String>,
    pub client_auth: ClientAuth,
    pub limits: Limits,
    pub enabled: bool,
    /// For `http` listeners: the HTTPS port redirects point to.
    pub redirect_https_port: Option<u16>,
    /// `mode = "proxy"`: relay the protocol to an upstream server
    /// instead of serving it from the store.
    pub proxy: Option<ProxyConfig>,
}

/// Resource limits of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at once; the next waits before accept.
    pub max_connections: usize,
    /// Open connections from one IP address.
    pub max_connections_per_ip: usize,
    pub handshake_timeout: Duration,
    /// Read timeout before authentication.
    pub pre_auth_timeout: Duration,
    /// Read timeout of an authenticated client between commands.
    pub authenticated_timeout: Duration,
    /// Read timeout inside a message transfer.
    pub data_timeout: Duration,
    /// Read timeout while the client waits for news (IMAP IDLE).
    pub idle_timeout: Duration,
    /// Write timeout: a peer that stops reading is dropped.
    pub write_timeout: Duration,
    /// The longest a session may last, whatever it does.
    pub session_timeout: Duration,
}

/// What every SMTP listener accepts (`[smtp]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The largest message, in octets, advertised with SIZE (RFC 1870) and
    /// enforced during DATA/BDAT.
    pub max_message_size: u64,
    /// Accepted recipients per message (RFC 5321 §4.5.3.1.8 asks for at
    /// least 100).
    pub max_recipients: usize,
    /// How long the MX port waits before its greeting; a client that talks
    /// first is refused (RFC 5321 §4.3.1 says clients wait for it). Zero
    /// turns it off.
    pub greeting_delay: Duration,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            // Postfix's message_size_limit default, and what big providers accept.
            max_message_size: 10_240_000,
            // RFC 5321 §4.5.3.1.8: a server must accept at least 100.
            max_recipients: 100,
            greeting_delay: Duration::ZERO,
        }
    }
}

/// What to do with a message whose authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthAction {
    /// Refused during the SMTP transaction (550 5.7.x), so the sender
    /// learns of it and nothing is stored.
    Reject,
    /// Accepted into the recipient's Junk folder.
    Quarantine,
    /// Accepted as usual; the Authentication-Results header tells the
    /// outcome to the reader's client.
    Accept,
}

impl AuthAction {
    /// The word used in `postern.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reject => "reject",
            Self::Quarantine => "quarantine",
            Self::Accept => "accept",
        }
    }
}

/// Checks of mail received on the MX listener (`[mail_auth]`): SPF
/// (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) and ARC (RFC 8617), with
/// the outcome in an Authentication-Results header (RFC 8601).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAuthConfig {
    /// Whether the checks run at all (the header is added only when they do).
    pub verify: bool,
    /// DMARC failed and the author's domain publishes `p=reject`.
    pub dmarc_reject: AuthAction,
    /// DMARC failed and the author's domain publishes `p=quarantine`.
    pub dmarc_quarantine: AuthAction,
    /// SPF gave `fail` (`-all`) and DMARC did not decide (no policy, or
    /// `p=none`).
    pub spf_fail: AuthAction,
}

impl Default for MailAuthConfig {
    fn default() -> Self {
        Self {
            verify: true,
            // RFC 7489 §6.3: the domain owner asks for these; honour them.
            dmarc_reject: AuthAction::Reject,
            dmarc_quarantine: AuthAction::Quarantine,
            // DMARC is the policy layer; a bare SPF fail (forwarding breaks
            // SPF) is only reported (RFC 7489 §10.1).
            spf_fail: AuthAction::Accept,
        }
    }
}

/// CalDAV (`[caldav]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaldavConfig {
    /// The largest request body, in octets (an iCalendar object or a
    /// REPORT); larger ones are refused with 413 before they are read.
    pub max_request_size: u64,
}

impl Default for CaldavConfig {
    fn default() -> Self {
        Self {
            max_request_size: 10 * 1024 * 1024,
        }
    }
}

/// How queued mail leaves (`[outbound]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundConfig {
    /// Every message goes to this smarthost instead of the recipients' MX.
    pub relay: Option<RelayConfig>,
    /// Static routes (a transport map): mail for `domain` goes to
    /// `host:port`, before any MX lookup.
    pub routes: Vec<Route>,
    /// The DNS resolver to ask; `None` reads /etc/resolv.conf.
    pub resolver: Option<SocketAddr>,
    /// How long a message is retried before it bounces.
    pub retry_for: Duration,
    /// DANE (RFC 7672): TLSA records from a validating resolver pin the
    /// peer's certificate.
    pub dane: bool,
    /// MTA-STS (RFC 8461): the recipient domain's published policy is
    /// fetched and enforced.
    pub mta_sts: bool,
    /// Extra trust anchors for verifying peers (a private CA).
    pub ca_file: Option<PathBuf>,
    /// Connections at once to one destination domain.
    pub concurrency_per_domain: usize,
    /// Per-domain transport security overrides.
    pub tls: Vec<(String, OutboundTls)>,
    /// TLS reporting (RFC 8460): record each delivery session's TLS
    /// result and send daily reports to domains that ask for them.
    pub tls_reports: bool,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            relay: None,
            routes: Vec::new(),
            resolver: None,
            // RFC 5321 §4.5.4.1: give up after at least 4-5 days.
            retry_for: Duration::from_secs(5 * 86_400),
            dane: true,
            mta_sts: true,
            ca_file: None,
            concurrency_per_domain: 4,
            tls: Vec::new(),
            tls_reports: true,
        }
    }
}

/// A smarthost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    pub host: String,
    pub port: u16,
    pub tls: RelayTls,
    /// AUTH PLAIN after TLS, with the password read from a file.
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
}

/// How to reach a smarthost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayTls {
    /// Plain connection, STARTTLS required (port 587).
    StartTls,
    /// TLS from the first byte (port 465, RFC 8314).
    Implicit,
}

/// A static route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub domain: String,
    pub host: String,
    pub port: u16,
}

/// A per-domain transport security requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundTls {
    /// TLS with a certificate that verifies for the host (WebPKI or DANE).
    RequireVerified,
    /// TLS, unverified certificates accepted.
    RequireTls,
    /// STARTTLS when offered, plain text otherwise.
    Opportunistic,
}
