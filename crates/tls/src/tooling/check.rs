//! `postern cert check`: a report on an installed certificate and key.
//!
//! Unlike import, a check never stops at the first problem: it lists every
//! finding, each with a severity, so one run shows everything to fix.

use std::fmt;

use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use super::days_phrase;
use super::import::EXPIRY_WARNING_DAYS;
use crate::inspect::{
    format_time, order_chain, subject_of, verify_link, CertSummary, InspectError, KeyInfo, KeyKind,
    LinkStatus,
};
use crate::load::{key_matches_certificate, CertKey};

/// How bad a finding is. Ordered, so the worst is the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Ok,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    fn ok(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Ok,
            message: message.into(),
        }
    }

    fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    fn error(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.message)
    }
}

/// The result of [`check_cert_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The leaf certificate.
    pub summary: CertSummary,
    pub chain_len: usize,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// The most severe finding (`Ok` for an empty report).
    pub fn worst(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok)
    }
}

/// Checks an installed certificate chain and key for use on `hosts`.
///
/// Never fails: even a leaf that cannot be read (or an empty chain) is
/// reported as an error finding, so `postern check` can go on to the next
/// certificate.
pub fn check_cert_key(ck: &CertKey, hosts: &[String], now: OffsetDateTime) -> CheckReport {
    let leaf = ck
        .chain
        .first()
        .ok_or_else(|| InspectError::Parse("the certificate file holds no certificate".into()));
    match leaf.and_then(|leaf| Ok((leaf, CertSummary::from_der(leaf)?))) {
        Ok((leaf, summary)) => full_report(ck, leaf, summary, hosts, now),
        Err(e) => CheckReport {
            summary: unreadable_summary(),
            chain_len: ck.chain.len(),
            findings: vec![Finding::error(format!("cannot read the certificate: {e}"))],
        },
    }
}

fn full_report(
    ck: &CertKey,
    leaf: &CertificateDer<'_>,
    summary: CertSummary,
    hosts: &[String],
    now: OffsetDateTime,
) -> CheckReport {
    let mut findings = dates(&summary, now);
    findings.extend(names(&summary, hosts));
    findings.push(strength(&summary));
    findings.push(key_match(ck, leaf));
    findings.extend(role(&summary));
    findings.extend(chain(&ck.chain, now));
    CheckReport {
        summary,
        chain_len: ck.chain.len(),
        findings,
    }
}

/// Stands in for the summary of a certificate that could not be read; the
/// report's error finding says why.
fn unreadable_summary() -> CertSummary {
    CertSummary {
        subject: "<unreadable certificate>".into(),
        issuer: "<unreadable certificate>".into(),
        serial: String::new(),
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        emails: Vec::new(),
        not_before: OffsetDateTime::UNIX_EPOCH,
        not_after: OffsetDateTime::UNIX_EPOCH,
        key: KeyInfo {
            kind: KeyKind::Other("unknown".into()),
            bits: 0,
        },
        is_ca: false,
        self_signed: false,
        names_from_cn: false,
    }
}

fn dates(s: &CertSummary, now: OffsetDateTime) -> Vec<Finding> {
    let days = s.days_left(now);
    let until = format_time(s.not_after);
    vec![if now < s.not_before {
        Finding::error(format!(
            "not valid before {}; check this machine's clock",
            format_time(s.not_before)
        ))
    } else if now > s.not_after {
        Finding::error(format!(
            "expired on {until} ({} ago); install a new certificate",
            days_phrase(-days)
        ))
    } else if days < EXPIRY_WARNING_DAYS {
        let left = days_phrase(days);
        Finding::warning(format!("expires in {left} ({until}); renew it now"))
    } else {
        Finding::ok(format!("valid until {until} ({} left)", days_phrase(days)))
    }]
}

fn names(s: &CertSummary, hosts: &[String]) -> Vec<Finding> {
    let mut out: Vec<Finding> = hosts
        .iter()
        .map(|host| match s.covers_name(host) {
            true => Finding::ok(format!("covers {host}")),
            false => Finding::error(format!(
                "does not cover {host}; the certificate is for {}",
                list_or_none(&s.all_names())
            )),
        })
        .collect();
    if s.names_from_cn {
        out.push(Finding::warning(
            "no subjectAltName; modern clients ignore the CN (RFC 6125 §6.4.4) and will likely refuse it",
        ));
    }
    out
}

fn list_or_none(names: &[String]) -> String {
    match names.is_empty() {
        true => "no host name at all".into(),
        false => names.join(", "),
    }
}

fn strength(s: &CertSummary) -> Finding {
    match s.key.is_strong() {
        true => Finding::ok(format!("key {}", s.key.describe())),
        false => Finding::error(format!(
            "weak key {}; use RSA of at least 2048 bits, ECDSA P-256 or stronger, or Ed25519",
            s.key.describe()
        )),
    }
}

fn key_match(ck: &CertKey, leaf: &CertificateDer<'_>) -> Finding {
    match key_matches_certificate(&ck.key, leaf) {
        Ok(true) => Finding::ok("private key matches the certificate"),
        Ok(false) => Finding::error(
            "private key does not belong to the certificate (their public keys differ)",
        ),
        Err(e) => Finding::error(e.to_string()),
    }
}

/// A CA certificate is not a server certificate (RFC 5280 §4.2.1.9;
/// rustls/webpki refuse it), and a self-signed one needs explicit trust.
fn role(s: &CertSummary) -> Vec<Finding> {
    let mut out = Vec::new();
    if s.is_ca {
        out.push(Finding::error("the certificate is a CA certificate (basicConstraints CA:TRUE), not a server certificate"));
    }
    if s.self_signed {
        out.push(Finding::warning(
            "self-signed; clients accept it only if told to trust it",
        ));
    }
    out
}

/// Order, signatures and dates of the certificates after the leaf.
fn chain(chain: &[CertificateDer<'static>], now: OffsetDateTime) -> Vec<Finding> {
    let dates = chain.iter().skip(1).filter_map(|c| issuer_dates(c, now));
    if is_misordered(chain) {
        let mut out = vec![Finding::error(MISORDERED)];
        out.extend(dates);
        return out;
    }
    let mut out: Vec<Finding> = chain
        .windows(2)
        .filter_map(|pair| link_finding(&pair[0], &pair[1]))
        .collect();
    out.extend(dates);
    out.push(chain_end(chain));
    if out.iter().all(|f| f.severity == Severity::Ok) && chain.len() > 1 {
        out.push(Finding::ok(format!(
            "chain of {} certificates in order, signatures verified",
            chain.len()
        )));
    }
    out
}

const MISORDERED: &str = "the chain is out of order (each certificate must be followed by its issuer, RFC 8446 §4.4.2); `postern cert import` sorts it";

/// All the links are there, just not in sending order.
fn is_misordered(chain: &[CertificateDer<'static>]) -> bool {
    matches!(order_chain(chain.to_vec(), 0), Ok(o) if o.reordered)
}

fn link_finding(child: &CertificateDer<'_>, parent: &CertificateDer<'_>) -> Option<Finding> {
    let (c, p) = (subject_of(child), subject_of(parent));
    match verify_link(child, parent) {
        Ok(LinkStatus::Verified) => None,
        Ok(LinkStatus::Unsupported) => Some(Finding::warning(format!(
            "the signature on \"{c}\" uses an algorithm Postern cannot check"
        ))),
        Ok(LinkStatus::BadSignature) => Some(Finding::error(format!(
            "the signature on \"{c}\" does not verify with the key of \"{p}\"; the chain mixes certificates of different CAs"
        ))),
        Ok(LinkStatus::NameMismatch) => Some(Finding::error(format!(
            "the chain is broken: \"{c}\" was not issued by \"{p}\", which follows it"
        ))),
        Err(e) => Some(Finding::error(e.to_string())),
    }
}

/// Intermediates must be valid too; an expired root in the file only
/// deserves a warning, since clients use their own copy of the root.
fn issuer_dates(cert: &CertificateDer<'_>, now: OffsetDateTime) -> Option<Finding> {
    let s = CertSummary::from_der(cert).ok()?;
    if s.is_valid_at(now) {
        return None;
    }
    let msg = format!(
        "\"{}\" in the chain is not valid now (valid {} to {})",
        s.subject,
        format_time(s.not_before),
        format_time(s.not_after)
    );
    Some(match s.self_signed {
        true => Finding::warning(msg),
        false => Finding::error(msg),
    })
}

/// Where the chain stops: a lone CA-issued leaf lacks its intermediate.
fn chain_end(chain: &[CertificateDer<'_>]) -> Finding {
    let Some(top) = chain.last().and_then(|c| CertSummary::from_der(c).ok()) else {
        return Finding::error("the last certificate of the chain cannot be read");
    };
    match (top.self_signed, chain.len()) {
        (true, _) => Finding::ok(format!("chain ends at the root \"{}\"", top.subject)),
        (false, 1) => Finding::error(format!(
            "the chain is incomplete: the intermediate certificate \"{}\" is missing; append it to the certificate file",
            top.issuer
        )),
        (false, _) => Finding::ok(format!(
            "chain ends at \"{}\"; clients need its issuer \"{}\" in their trust store",
            top.subject, top.issuer
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    use rustls_pki_types::PrivateKeyDer;
    use time::Duration;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap() // 2026-01-01
    }

    fn ca(
        cn: &str,
        issuer: Option<&CertifiedIssuer<'static, KeyPair>>,
    ) -> CertifiedIssuer<'static, KeyPair> {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.not_before = now() - Duration::days(10);
        p.not_after = now() + Duration::days(1000);
        let key = KeyPair::generate().unwrap();
        match issuer {
            Some(i) => CertifiedIssuer::signed_by(p, key, i).unwrap(),
            None => CertifiedIssuer::self_signed(p, key).unwrap(),
        }
    }

    struct Setup {
        root: CertifiedIssuer<'static, KeyPair>,
        inter: CertifiedIssuer<'static, KeyPair>,
        key: KeyPair,
    }

    impl Setup {
        fn new() -> Self {
            let root = ca("Root", None);
            let inter = ca("Inter", Some(&root));
            Self {
                root,
                inter,
                key: KeyPair::generate().unwrap(),
            }
        }

        fn leaf(&self, days_left: i64) -> CertificateDer<'static> {
            let mut p = CertificateParams::new(vec!["mail.example.org".into()]).unwrap();
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.distinguished_name
                .push(DnType::CommonName, "mail.example.org");
            p.not_before = now() - Duration::days(10);
            p.not_after = now() + Duration::days(days_left);
            p.signed_by(&self.key, &self.inter).unwrap().der().clone()
        }

        fn cert_key(&self, chain: Vec<CertificateDer<'static>>) -> CertKey {
            CertKey {
                chain,
                key: PrivateKeyDer::try_from(self.key.serialize_der()).unwrap(),
            }
        }
    }

    fn hosts(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn errors(r: &CheckReport) -> Vec<&str> {
        r.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.message.as_str())
            .collect()
    }

    #[test]
    fn good_chain_is_all_ok() {
        let s = Setup::new();
        let ck = s.cert_key(vec![
            s.leaf(90),
            s.inter.der().clone(),
            s.root.der().clone(),
        ]);
        let r = check_cert_key(&ck, &hosts(&["mail.example.org"]), now());
        assert_eq!(r.worst(), Severity::Ok, "{:#?}", r.findings);
        assert_eq!(r.chain_len, 3);
        let lines: Vec<String> = r.findings.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "ok: valid until 2026-04-01 00:00:00 UTC (90 days left)",
                "ok: covers mail.example.org",
                "ok: key ECDSA P-256",
                "ok: private key matches the certificate",
                "ok: chain ends at the root \"CN=Root\"",
                "ok: chain of 3 certificates in order, signatures verified",
            ]
        );
    }

    #[test]
    fn every_problem_is_listed() {
        let s = Setup::new();
        let other = KeyPair::generate().unwrap();
        let mut ck = s.cert_key(vec![
            s.leaf(-1),
            s.root.der().clone(),
            s.inter.der().clone(),
        ]);
        ck.key = PrivateKeyDer::try_from(other.serialize_der()).unwrap();
        let r = check_cert_key(
            &ck,
            &hosts(&["mail.example.org", "imap.example.org"]),
            now(),
        );
        assert_eq!(r.worst(), Severity::Error);
        assert_eq!(
            errors(&r),
            [
                "expired on 2025-12-31 00:00:00 UTC (1 day ago); install a new certificate",
                "does not cover imap.example.org; the certificate is for mail.example.org",
                "private key does not belong to the certificate (their public keys differ)",
                "the chain is out of order (each certificate must be followed by its issuer, RFC 8446 §4.4.2); `postern cert import` sorts it",
            ]
        );
    }

    #[test]
    fn expiring_soon_is_a_warning() {
        let s = Setup::new();
        let ck = s.cert_key(vec![s.leaf(29), s.inter.der().clone()]);
        let r = check_cert_key(&ck, &[], now());
        assert_eq!(r.worst(), Severity::Warning);
        assert_eq!(
            r.findings[0].message,
            "expires in 29 days (2026-01-30 00:00:00 UTC); renew it now"
        );
    }

    #[test]
    fn lone_leaf_and_foreign_intermediate_are_errors() {
        let s = Setup::new();
        let r = check_cert_key(&s.cert_key(vec![s.leaf(90)]), &[], now());
        assert_eq!(
            errors(&r),
            ["the chain is incomplete: the intermediate certificate \"CN=Inter\" is missing; append it to the certificate file"]
        );
        let impostor = ca("Inter", Some(&s.root));
        let r = check_cert_key(
            &s.cert_key(vec![s.leaf(90), impostor.der().clone()]),
            &[],
            now(),
        );
        assert_eq!(
            errors(&r),
            ["the signature on \"CN=mail.example.org\" does not verify with the key of \"CN=Inter\"; the chain mixes certificates of different CAs"]
        );
        let stranger = ca("Stranger", None);
        let r = check_cert_key(
            &s.cert_key(vec![s.leaf(90), stranger.der().clone()]),
            &[],
            now(),
        );
        assert_eq!(
            errors(&r),
            ["the chain is broken: \"CN=mail.example.org\" was not issued by \"CN=Stranger\", which follows it"]
        );
    }

    #[test]
    fn self_signed_and_ca_leaf() {
        let root = ca("Root", None);
        let ck = CertKey {
            chain: vec![root.der().clone()],
            key: PrivateKeyDer::try_from(root.key().serialize_der()).unwrap(),
        };
        let r = check_cert_key(&ck, &hosts(&["mail.example.org"]), now());
        assert!(errors(&r).contains(
            &"the certificate is a CA certificate (basicConstraints CA:TRUE), not a server certificate"
        ));
        assert!(r.findings.contains(&Finding::warning(
            "self-signed; clients accept it only if told to trust it"
        )));
        assert!(errors(&r).contains(
            &"does not cover mail.example.org; the certificate is for no host name at all"
        ));
    }

    #[test]
    fn not_yet_valid_is_an_error() {
        let s = Setup::new();
        let ck = s.cert_key(vec![s.leaf(90), s.inter.der().clone()]);
        let r = check_cert_key(&ck, &[], now() - Duration::days(11));
        assert_eq!(
            errors(&r)[0],
            "not valid before 2025-12-22 00:00:00 UTC; check this machine's clock"
        );
    }

    #[test]
    fn unreadable_input_is_an_error_finding_not_a_panic() {
        let s = Setup::new();
        let r = check_cert_key(&s.cert_key(vec![]), &[], now());
        assert_eq!(r.worst(), Severity::Error);
        assert_eq!(
            r.findings[0].message,
            "cannot read the certificate: not a valid X.509 certificate (the certificate file holds no certificate)"
        );
        let r = check_cert_key(
            &s.cert_key(vec![CertificateDer::from(vec![0x30, 0])]),
            &[],
            now(),
        );
        assert_eq!(
            (r.worst(), r.chain_len, r.findings.len()),
            (Severity::Error, 1, 1)
        );
    }

    #[test]
    fn worst_orders_severities() {
        assert!(Severity::Ok < Severity::Warning && Severity::Warning < Severity::Error);
    }
}
