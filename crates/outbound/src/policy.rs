//! What transport security one host demands, strongest rule first:
//! REQUIRETLS on the message (RFC 8689) > DANE (RFC 7672) > MTA-STS
//! `enforce` (RFC 8461) > the domain's configured override > opportunistic
//! STARTTLS (RFC 7435).

use crate::deliver::{Ctx, HostFailure, Job};
use crate::dns::{LookupError, Tlsa};
use crate::metrics::FailureKind;
use crate::routing::{Target, Via};
use crate::settings::TlsRequirement;
use crate::tls::Verification;

/// What one host demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Need {
    Opportunistic,
    Tls,
    Pkix,
    Dane(Vec<Tlsa>),
}

/// What this host demands, strongest rule first.
pub(crate) async fn need_for(
    ctx: &Ctx,
    job: &Job<'_>,
    target: &Target,
    addrs_secure: bool,
    enforce_sts: bool,
) -> Result<Need, HostFailure> {
    if target.via == Via::Relay {
        return Ok(Need::Pkix);
    }
    let mut need = match ctx.settings.policy_for(job.domain) {
        Some(TlsRequirement::RequireVerified) => Need::Pkix,
        Some(TlsRequirement::RequireTls) => Need::Tls,
        Some(TlsRequirement::Opportunistic) | None => Need::Opportunistic,
    };
    if enforce_sts {
        need = Need::Pkix;
    }
    if let Some(records) = dane_records(ctx, target, addrs_secure).await? {
        // RFC 7672 §2.2: a secure TLSA RRset makes TLS mandatory; with no
        // usable record, TLS is still required but not authenticated.
        need = if records.iter().any(crate::dane::usable) {
            Need::Dane(records)
        } else if need == Need::Opportunistic {
            Need::Tls
        } else {
            need
        };
    }
    if job.mail.requiretls && matches!(need, Need::Opportunistic | Need::Tls) {
        // RFC 8689 §4.2.1: verified TLS (DANE or PKIX) or nothing.
        need = Need::Pkix;
    }
    Ok(need)
}

/// The TLSA records of an MX host, when DANE applies: the MX RRset (or,
/// for an implicit MX, nothing) and the host's addresses are
/// DNSSEC-secure (RFC 7672 §2.2.1-2.2.2), and so is the TLSA answer.
async fn dane_records(
    ctx: &Ctx,
    target: &Target,
    addrs_secure: bool,
) -> Result<Option<Vec<Tlsa>>, HostFailure> {
    let chain_secure = match target.via {
        Via::Mx => target.mx_secure && addrs_secure,
        Via::Implicit => addrs_secure,
        Via::Relay | Via::Static => false,
    };
    if !(ctx.settings.dane && chain_secure) {
        return Ok(None);
    }
    match ctx.dns.tlsa(&target.host, target.port).await {
        Ok(a) if a.secure && !a.records.is_empty() => Ok(Some(a.records)),
        Ok(_) | Err(LookupError::NoSuchDomain(_)) => Ok(None),
        // §2.2.3: a secure host whose TLSA lookup fails must not be
        // used at all (it could be an attack hiding the records).
        Err(e) => Err(HostFailure::temp("4.7.5", format!("TLSA lookup: {e}"))
            .kind(FailureKind::DnssecInvalid)),
    }
}

/// The RFC 8460 result type of a failed check.
pub(crate) fn classify(v: &Verification) -> FailureKind {
    let Verification::Failed(text) = v else {
        return FailureKind::ValidationFailure;
    };
    if text.starts_with("DANE") {
        FailureKind::TlsaInvalid
    } else if text.contains("NotValidForName") || text.contains("not valid for name") {
        FailureKind::CertificateHostMismatch
    } else if text.contains("Expired") || text.contains("expired") {
        FailureKind::CertificateExpired
    } else if text.contains("UnknownIssuer") || text.contains("unknown issuer") {
        FailureKind::CertificateNotTrusted
    } else {
        FailureKind::ValidationFailure
    }
}
