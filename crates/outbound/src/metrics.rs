//! Delivery counters, by destination domain and by failure kind, shaped
//! for TLS reporting (RFC 8460 §4.3: policy types and result types).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The policy that applied to a session (RFC 8460 §4.3.1 `policy-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyKind {
    Tlsa,
    Sts,
    NoPolicyFound,
}

/// Why a session's transport security failed (RFC 8460 §4.3.2 result
/// types, plus the local ones a report leaves out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    StartTlsNotSupported,
    CertificateHostMismatch,
    CertificateExpired,
    CertificateNotTrusted,
    ValidationFailure,
    TlsaInvalid,
    DnssecInvalid,
    StsPolicyFetchError,
    StsWebpkiInvalid,
    /// The MX host is not allowed by the MTA-STS policy (§4.3.2 lists it
    /// under `validation-failure`; kept apart for the administrator).
    StsMxMismatch,
    /// The peer lacks REQUIRETLS (RFC 8689), not a TLS-RPT result.
    RequireTlsNotSupported,
}

impl FailureKind {
    /// The RFC 8460 name.
    pub fn name(self) -> &'static str {
        match self {
            Self::StartTlsNotSupported => "starttls-not-supported",
            Self::CertificateHostMismatch => "certificate-host-mismatch",
            Self::CertificateExpired => "certificate-expired",
            Self::CertificateNotTrusted => "certificate-not-trusted",
            Self::ValidationFailure | Self::StsMxMismatch => "validation-failure",
            Self::TlsaInvalid => "tlsa-invalid",
            Self::DnssecInvalid => "dnssec-invalid",
            Self::StsPolicyFetchError => "sts-policy-fetch-error",
            Self::StsWebpkiInvalid => "sts-webpki-invalid",
            Self::RequireTlsNotSupported => "requiretls-not-supported",
        }
    }
}

/// One domain's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainStats {
    /// Sessions that met their policy, by policy kind.
    pub successes: BTreeMap<PolicyKind, u64>,
    /// Sessions that did not, by policy and failure kind.
    pub failures: BTreeMap<(PolicyKind, FailureKind), u64>,
}

/// All counters. Shared by the workers; read through [`Metrics::snapshot`].
#[derive(Debug, Default)]
pub struct Metrics {
    pub delivered: AtomicU64,
    pub deferred: AtomicU64,
    pub failed: AtomicU64,
    pub dsn_sent: AtomicU64,
    /// Sessions that went out in plain text (no STARTTLS offered).
    pub plaintext: AtomicU64,
    domains: Mutex<BTreeMap<String, DomainStats>>,
}

/// A copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub delivered: u64,
    pub deferred: u64,
    pub failed: u64,
    pub dsn_sent: u64,
    pub plaintext: u64,
    pub domains: BTreeMap<String, DomainStats>,
}

impl Metrics {
    pub fn success(&self, domain: &str, policy: PolicyKind) {
        self.with(domain, |d| *d.successes.entry(policy).or_default() += 1);
    }

    pub fn failure(&self, domain: &str, policy: PolicyKind, kind: FailureKind) {
        self.with(domain, |d| {
            *d.failures.entry((policy, kind)).or_default() += 1
        });
    }

    fn with(&self, domain: &str, f: impl FnOnce(&mut DomainStats)) {
        let mut map = self.domains.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(domain.to_ascii_lowercase()).or_default());
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            delivered: get(&self.delivered),
            deferred: get(&self.deferred),
            failed: get(&self.failed),
            dsn_sent: get(&self.dsn_sent),
            plaintext: get(&self.plaintext),
            domains: self
                .domains
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}
