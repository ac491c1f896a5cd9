//! What the outbound queue is told by the server (which builds it from the
//! configuration file; this crate never reads configuration itself).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use postern_types::Secret;
use rustls::pki_types::CertificateDer;

use crate::dkim::Signer;

/// The outbound queue's settings. [`Settings::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Our name in EHLO and in DSNs' Reporting-MTA.
    pub hostname: String,
    /// A smarthost that takes all outbound mail; wins over everything
    /// else. It is always reached over verified TLS, since we may send it
    /// credentials.
    pub relay: Option<Relay>,
    /// Static routes (a transport map): mail for the domain goes to this
    /// host and port instead of the domain's MX.
    pub routes: BTreeMap<String, (String, u16)>,
    /// The DNS resolver; `None` reads /etc/resolv.conf. DANE needs it to
    /// be a validating resolver on a trusted path (see the crate docs).
    pub resolver: Option<SocketAddr>,
    /// The SMTP port of MX hosts: 25 (RFC 5321 §4.5.4.2); another value only
    /// for tests and labs.
    pub mx_port: u16,
    /// The HTTPS port of MTA-STS policy hosts: 443 (RFC 8461 §3.3); another
    /// value only for tests and labs.
    pub mta_sts_port: u16,
    /// How long a message is retried before it bounces (RFC 5321 §4.5.4.1
    /// suggests 4-5 days).
    pub retry_for: Duration,
    /// Warn the sender once when a recipient has waited this long (RFC
    /// 3464 "delayed", if its NOTIFY allows); `None` never warns.
    pub delay_warning: Option<Duration>,
    /// The delay before the first retry; doubled at each further one.
    pub first_retry: Duration,
    /// The longest delay between two attempts.
    pub max_backoff: Duration,
    /// Connections at once to one destination domain.
    pub per_domain_concurrency: usize,
    /// Deliveries at once, all domains together.
    pub workers: usize,
    /// Per-domain transport security overrides. They only ever add to what
    /// DANE, MTA-STS and REQUIRETLS demand (the strongest rule wins), so a
    /// typo here cannot weaken a published policy.
    pub policies: BTreeMap<String, TlsRequirement>,
    /// Trust anchors for verified TLS besides the system's (private CAs,
    /// tests).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Trust the system's CA bundle (/etc/ssl/certs/ca-certificates.crt or
    /// SSL_CERT_FILE) for verified TLS.
    pub system_roots: bool,
    /// Fetch and apply MTA-STS policies (RFC 8461).
    pub mta_sts: bool,
    /// Look up TLSA records and apply DANE (RFC 7672).
    pub dane: bool,
    pub connect_timeout: Duration,
    pub timeouts: Timeouts,
    /// Signs each message with its author domain's DKIM keys before it
    /// leaves (RFC 6376); `None` sends mail as it was written.
    pub dkim: Option<Arc<Signer>>,
}

impl Settings {
    /// Defaults for a server called `hostname`.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            relay: None,
            routes: BTreeMap::new(),
            resolver: None,
            mx_port: 25,
            mta_sts_port: 443,
            retry_for: Duration::from_secs(5 * 24 * 3600),
            // Sendmail's queuewarn: long enough that greylisting and short
            // outages stay silent, short enough to be useful the same day.
            delay_warning: Some(Duration::from_secs(4 * 3600)),
            // 1 min, 2, 4 ... capped at 1 h: quick for greylisting (most
            // greylists let a retry through after 1-5 minutes), gentle later.
            first_retry: Duration::from_secs(60),
            max_backoff: Duration::from_secs(3600),
            // Postfix's default_destination_concurrency_limit is 20; large
            // receivers rate-limit far below that per sender IP.
            per_domain_concurrency: 5,
            workers: 32,
            policies: BTreeMap::new(),
            extra_roots: Vec::new(),
            system_roots: true,
            mta_sts: true,
            dane: true,
            connect_timeout: Duration::from_secs(30),
            timeouts: Timeouts::default(),
            dkim: None,
        }
    }

    /// The override for a domain, if any.
    pub fn policy_for(&self, domain: &str) -> Option<TlsRequirement> {
        self.policies.get(&domain.to_ascii_lowercase()).copied()
    }
}

/// A smarthost.
#[derive(Debug, Clone)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub tls: RelayTls,
    /// AUTH PLAIN credentials (RFC 4954), sent only under verified TLS.
    pub auth: Option<(String, Secret<String>)>,
}

/// How the smarthost is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayTls {
    /// Port 587 style: STARTTLS, required.
    StartTls,
    /// Port 465 style (RFC 8314 §3.3).
    Implicit,
}

/// A per-domain transport security override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsRequirement {
    /// STARTTLS if offered, any certificate; plain text otherwise.
    Opportunistic,
    /// TLS required, any certificate (protects from passive listeners only).
    RequireTls,
    /// TLS required with a certificate valid for the MX host name under
    /// the WebPKI trust anchors.
    RequireVerified,
}

/// Deadlines of the SMTP client, RFC 5321 §4.5.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The 220 greeting (§4.5.3.2.1: 5 minutes).
    pub greeting: Duration,
    /// EHLO, STARTTLS, AUTH, MAIL, RSET (§4.5.3.2.2: 5 minutes).
    pub mail: Duration,
    /// RCPT (§4.5.3.2.3: 5 minutes).
    pub rcpt: Duration,
    /// DATA up to the 354 (§4.5.3.2.4: 2 minutes).
    pub data_init: Duration,
    /// Each write of the message (§4.5.3.2.5: 3 minutes).
    pub data_block: Duration,
    /// The reply after the end of data (§4.5.3.2.6: 10 minutes).
    pub data_end: Duration,
    /// The TLS handshake (not in RFC 5321; a minute is generous).
    pub tls_handshake: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(60 * m);
        Self {
            greeting: min(5),
            mail: min(5),
            rcpt: min(5),
            data_init: min(2),
            data_block: min(3),
            data_end: min(10),
            tls_handshake: min(1),
        }
    }
}
