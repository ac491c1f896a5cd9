//! `postern.toml` exactly as written. Values that need checking (enums,
//! addresses, durations) stay strings here so that [`crate::resolve`] can say
//! precisely what is wrong with them.

use std::path::Path;

use serde::Deserialize;

use crate::{ConfigError, ConfigErrors};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub server: Option<ServerSection>,
    pub log: Option<LogSection>,
    pub tls: Option<TlsSection>,
    #[serde(default, rename = "certificate")]
    pub certificates: Vec<CertificateSection>,
    #[serde(default, rename = "listener")]
    pub listeners: Vec<ListenerSection>,
    pub smtp: Option<SmtpSection>,
    pub outbound: Option<OutboundSection>,
    pub mail_auth: Option<MailAuthSection>,
    pub caldav: Option<CaldavSection>,
    pub store: Option<crate::store::StoreSection>,
    #[serde(default, rename = "acme")]
    pub acme: Vec<crate::acme::AcmeSection>,
}

/// `[mail_auth]`: SPF, DKIM, DMARC and ARC checks of mail received on the
/// MX listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailAuthSection {
    pub verify: Option<bool>,
    pub dmarc_reject: Option<String>,
    pub dmarc_quarantine: Option<String>,
    pub spf_fail: Option<String>,
}

/// `[caldav]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaldavSection {
    pub max_request_size: Option<u64>,
}

/// `[smtp]`: what every SMTP listener accepts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    pub max_message_size: Option<u64>,
    pub max_recipients: Option<usize>,
    pub greeting_delay: Option<String>,
}

/// `[outbound]`: how queued mail leaves.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSection {
    pub relay: Option<String>,
    pub relay_tls: Option<String>,
    pub relay_username: Option<String>,
    pub relay_password_file: Option<String>,
    pub resolver: Option<String>,
    pub retry_for: Option<String>,
    pub dane: Option<bool>,
    pub mta_sts: Option<bool>,
    pub tls_reports: Option<bool>,
    pub ca_file: Option<String>,
    pub concurrency_per_domain: Option<usize>,
    /// `"domain" = "host:port"`: a static route (transport map).
    pub routes: Option<std::collections::BTreeMap<String, String>>,
    /// `"domain" = "require-verified" | "require-tls" | "opportunistic"`.
    pub tls: Option<std::collections::BTreeMap<String, String>>,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub hostname: Option<String>,
    pub domains: Option<Vec<String>>,
    pub data_dir: Option<String>,
    pub shutdown_grace: Option<String>,
}

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub format: Option<String>,
    pub level: Option<String>,
}

/// `[tls]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub min_version: Option<String>,
    pub cipher_suites: Option<Vec<String>>,
    pub expiry_warning_days: Option<u32>,
    pub expiry_error_days: Option<u32>,
}

/// `[[certificate]]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSection {
    pub name: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub pkcs12: Option<String>,
    pub password_file: Option<String>,
    pub default: Option<bool>,
}

/// `[[listener]]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSection {
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub bind: Option<Bind>,
    pub tls: Option<String>,
    pub certificates: Option<Vec<String>>,
    pub client_certificates: Option<String>,
    pub client_ca: Option<String>,
    pub enabled: Option<bool>,
    pub redirect_https_port: Option<u16>,
    pub limits: Option<LimitsSection>,
    /// `"serve"` (default) or `"proxy"`; the rest is read by
    /// [`crate::proxy`].
    pub mode: Option<String>,
    pub upstream: Option<String>,
    pub upstream_tls: Option<String>,
    pub upstream_ca: Option<String>,
    pub upstream_name: Option<String>,
    pub upstream_pin: Option<String>,
    pub client_address: Option<String>,
    pub routes: Option<std::collections::BTreeMap<String, String>>,
}

/// `bind = "addr"` or `bind = ["addr", ...]`
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Bind {
    One(String),
    Many(Vec<String>),
}

impl Bind {
    pub fn addresses(&self) -> Vec<&str> {
        match self {
            Self::One(a) => vec![a.as_str()],
            Self::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// `[listener.limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub handshake_timeout: Option<String>,
    pub pre_auth_timeout: Option<String>,
    pub authenticated_timeout: Option<String>,
    pub data_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub write_timeout: Option<String>,
    pub session_timeout: Option<String>,
}

impl File {
    /// Parses the TOML; syntax errors and unknown keys carry the line.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigErrors> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let message = e.message().trim_end().to_owned();
            ConfigErrors::one(ConfigError::file(path, message).at_line(line))
        })
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
