//! What a listener serves and how it uses TLS.

use std::fmt;
use std::str::FromStr;

/// How a listener uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// No TLS at all. Only for SMTP relay between servers without STARTTLS,
    /// the HTTP redirector and the loopback metrics listener.
    None,
    /// Plain text first; the client upgrades with STARTTLS/STLS (RFC 3207,
    /// RFC 2595). No credential is accepted before the upgrade.
    StartTls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
}

impl TlsMode {
    /// Every mode, as spelled in the configuration file.
    pub const NAMES: &'static [&'static str] = &["none", "starttls", "implicit"];

    /// The configuration spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::StartTls => "starttls",
            Self::Implicit => "implicit",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TlsMode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "implicit" => Ok(Self::Implicit),
            _ => Err(()),
        }
    }
}

/// The protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// SMTP between servers (MX), RFC 5321: port 25.
    Smtp,
    /// Message submission, RFC 6409 and RFC 8314: ports 587 and 465.
    Submission,
    /// IMAP, RFC 9051 / RFC 3501: ports 143 and 993.
    Imap,
    /// POP3, RFC 1939: ports 110 and 995.
    Pop3,
    /// Plain HTTP: only redirects to HTTPS.
    Http,
    /// HTTPS: web interface, CalDAV, autoconfig.
    Https,
    /// Prometheus metrics (plain HTTP, loopback by default).
    Metrics,
}

impl Service {
    /// Every service, as spelled in the configuration file.
    pub const NAMES: &'static [&'static str] = &[
        "smtp",
        "submission",
        "imap",
        "pop3",
        "http",
        "https",
        "metrics",
    ];

    /// The configuration spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Smtp => "smtp",
            Self::Submission => "submission",
            Self::Imap => "imap",
            Self::Pop3 => "pop3",
            Self::Http => "http",
            Self::Https => "https",
            Self::Metrics => "metrics",
        }
    }

    /// The ALPN protocol ids this service answers to (IANA registry; "imap",
    /// "pop3" and "smtp" as in the IANA TLS ALPN registry, the ALPACA advice). A client
    /// offering ALPN with none of these is talking to the wrong service.
    pub const fn alpn_ids(self) -> &'static [&'static [u8]] {
        match self {
            Self::Smtp | Self::Submission => &[b"smtp"],
            Self::Imap => &[b"imap"],
            Self::Pop3 => &[b"pop3"],
            // HTTP/1.1 only until the web interface speaks HTTP/2: offering
            // h2 and then answering in HTTP/1.1 breaks every h2 client.
            Self::Http | Self::Https | Self::Metrics => &[b"http/1.1"],
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Service {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "smtp" => Ok(Self::Smtp),
            "submission" => Ok(Self::Submission),
            "imap" => Ok(Self::Imap),
            "pop3" => Ok(Self::Pop3),
            "http" => Ok(Self::Http),
            "https" => Ok(Self::Https),
            "metrics" => Ok(Self::Metrics),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in Service::NAMES {
            assert_eq!(name.parse::<Service>().unwrap().as_str(), *name);
        }
        for name in TlsMode::NAMES {
            assert_eq!(name.parse::<TlsMode>().unwrap().as_str(), *name);
        }
        assert!("implict".parse::<TlsMode>().is_err());
    }
}
