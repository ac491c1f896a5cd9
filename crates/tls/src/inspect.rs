//! Reading what a certificate says: names, dates, key, issuer links.
//!
//! Everything here is pure: DER in, facts out, no clock reads (callers pass
//! `now`) and no I/O. The certificate tooling and the server's startup
//! checks both build on it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustls_pki_types::CertificateDer;
use time::{OffsetDateTime, UtcOffset};
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS, OID_SIG_ED25519,
};
use x509_parser::x509::SubjectPublicKeyInfo;

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    #[error("not a valid X.509 certificate ({0})")]
    Parse(String),
    #[error("certificate \"{subject}\" has a malformed {what} ({detail})")]
    Malformed {
        subject: String,
        what: &'static str,
        detail: String,
    },
}

/// The facts about one certificate that an administrator asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// Hex, colon-separated, as `openssl x509 -serial` would show it.
    pub serial: String,
    /// subjectAltName dNSName entries, lowercase; the CN when there is no
    /// subjectAltName at all (see `names_from_cn`).
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// rfc822Name SANs, then subject emailAddress attributes.
    pub emails: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub key: KeyInfo,
    /// basicConstraints cA (RFC 5280 §4.2.1.9).
    pub is_ca: bool,
    /// Issued by itself and signed with its own key.
    pub self_signed: bool,
    /// True when `dns_names` came from the CN because the certificate has no
    /// subjectAltName. RFC 6125 §6.4.4 deprecates this and rustls/webpki
    /// and browsers ignore the CN, so clients will likely refuse it.
    pub names_from_cn: bool,
}

/// Public key algorithm of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    Ed25519,
    /// Anything else, described by its algorithm (and curve) OID.
    Other(String),
}

/// A public key's algorithm and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kind: KeyKind,
    pub bits: u32,
}

impl KeyInfo {
    /// Strong enough to serve today: RSA of 2048 bits or more (NIST SP
    /// 800-57 Part 1, 112-bit security), ECDSA on P-256 or larger, Ed25519.
    /// Unknown algorithms are not strong because clients cannot use them.
    pub fn is_strong(&self) -> bool {
        match self.kind {
            KeyKind::Rsa => self.bits >= 2048,
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::EcdsaP521 => self.bits >= 256,
            KeyKind::Ed25519 => true,
            KeyKind::Other(_) => false,
        }
    }

    /// "ECDSA P-256", "RSA 2048", "Ed25519".
    pub fn describe(&self) -> String {
        match &self.kind {
            KeyKind::Rsa => format!("RSA {}", self.bits),
            KeyKind::EcdsaP256 => "ECDSA P-256".into(),
            KeyKind::EcdsaP384 => "ECDSA P-384".into(),
            KeyKind::EcdsaP521 => "ECDSA P-521".into(),
            KeyKind::Ed25519 => "Ed25519".into(),
            KeyKind::Other(what) if self.bits > 0 => format!("{what} ({} bits)", self.bits),
            KeyKind::Other(what) => what.clone(),
        }
    }
}

impl fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl CertSummary {
    /// Reads a DER certificate.
    pub fn from_der(der: &CertificateDer<'_>) -> Result<Self, InspectError> {
        let x509 = parse(der)?;
        let subject = x509.subject().to_string();
        let sans = Sans::read(&x509, &subject)?;
        let is_ca = x509
            .basic_constraints()
            .map_err(|e| malformed(&subject, "basicConstraints extension", e))?
            .is_some_and(|bc| bc.value.ca);
        let (dns_names, names_from_cn) = match sans.present {
            true => (sans.dns, false),
            false => cn_as_name(&x509),
        };
        Ok(Self {
            issuer: x509.issuer().to_string(),
            serial: x509.raw_serial_as_string(),
            dns_names,
            ip_addresses: sans.ips,
            emails: sans.emails,
            not_before: x509.validity().not_before.to_datetime(),
            not_after: x509.validity().not_after.to_datetime(),
            key: key_info(x509.public_key()),
            is_ca,
            self_signed: is_self_signed(&x509),
            names_from_cn,
            subject,
        })
    }

    /// Whole days until `not_after`, rounded down: negative once expired,
    /// 0 on the last day.
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_seconds().div_euclid(86_400)
    }

    /// Within `not_before..=not_after` (RFC 5280 §4.1.2.5: both inclusive).
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// Whether a client connecting to `host` would accept this certificate's
    /// names (RFC 6125 §6.4). IP literals (optionally in brackets) match IP
    /// SANs only (§6.2.1 / RFC 5280 §4.2.1.6).
    pub fn covers_name(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.ip_addresses.contains(&ip);
        }
        let host = normalize_dns(host);
        self.dns_names
            .iter()
            .any(|pattern| dns_matches(&normalize_dns(pattern), &host))
    }

    /// Every name the certificate is for, DNS names then IP addresses.
    pub fn all_names(&self) -> Vec<String> {
        let ips = self.ip_addresses.iter().map(IpAddr::to_string);
        self.dns_names.iter().cloned().chain(ips).collect()
    }
}

/// Lowercase and without the root dot: "Mail.Example.ORG." is "mail.example.org"
/// (DNS names compare case-insensitively, RFC 4343).
fn normalize_dns(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// RFC 6125 §6.4.3, as browsers and rustls/webpki apply it: a `*` may only
/// be the whole left-most label and stands for exactly one non-empty label.
/// Partial-label wildcards (`f*.example.com`) are not honoured (CA/Browser
/// Forum BR §7.1.2.7.3 forbids them), nor `*.tld` (RFC 6125 §7.2).
fn dns_matches(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return false;
    };
    if !suffix.contains('.') || suffix.contains('*') {
        return false;
    }
    match host.split_once('.') {
        Some((label, rest)) => !label.is_empty() && label != "*" && rest == suffix,
        None => false,
    }
}

/// The subjectAltName entries we care about.
struct Sans {
    present: bool,
    dns: Vec<String>,
    ips: Vec<IpAddr>,
    emails: Vec<String>,
}

impl Sans {
    fn read(x509: &X509Certificate<'_>, subject: &str) -> Result<Self, InspectError> {
        let ext = x509
            .subject_alternative_name()
            .map_err(|e| malformed(subject, "subjectAltName extension", e))?;
        let mut sans = Self {
            present: ext.is_some(),
            dns: Vec::new(),
            ips: Vec::new(),
            emails: Vec::new(),
        };
        for name in ext.iter().flat_map(|e| e.value.general_names.iter()) {
            sans.add(name);
        }
        sans.emails.extend(subject_emails(x509));
        Ok(sans)
    }

    fn add(&mut self, name: &GeneralName<'_>) {
        match name {
            GeneralName::DNSName(dns) => self.dns.push(dns.to_ascii_lowercase()),
            GeneralName::RFC822Name(mail) => self.emails.push((*mail).to_owned()),
            GeneralName::IPAddress(bytes) => self.ips.extend(ip_from_bytes(bytes)),
            _ => {}
        }
    }
}

fn subject_emails(x509: &X509Certificate<'_>) -> Vec<String> {
    let attrs = x509.subject().iter_email();
    attrs
        .filter_map(|a| a.as_str().ok().map(str::to_owned))
        .collect()
}

/// An iPAddress SAN is 4 or 16 octets in network order (RFC 5280 §4.2.1.6).
fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    <[u8; 16]>::try_from(bytes)
        .ok()
        .map(|v6| IpAddr::V6(Ipv6Addr::from(v6)))
}

/// Without a subjectAltName, the CN is the legacy place for the host name
/// (RFC 6125 §6.4.4). Only a CN that looks like a host name counts.
fn cn_as_name(x509: &X509Certificate<'_>) -> (Vec<String>, bool) {
    let cn = x509
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok());
    match cn {
        Some(cn) if looks_like_hostname(cn) => (vec![cn.to_ascii_lowercase()], true),
        _ => (Vec::new(), false),
    }
}

/// Letters, digits, '-', '_', '*' and at least one dot: "mail.example.org"
/// but not "My Company CA" or "Root".
fn looks_like_hostname(s: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '_');
    s.contains('.') && s.chars().all(allowed)
}

fn key_info(spki: &SubjectPublicKeyInfo<'_>) -> KeyInfo {
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_PKCS1_RSAENCRYPTION || *alg == OID_PKCS1_RSASSAPSS {
        return KeyInfo {
            kind: KeyKind::Rsa,
            bits: rsa_bits(spki),
        };
    }
    if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        return ec_key_info(spki);
    }
    if *alg == OID_SIG_ED25519 {
        return KeyInfo {
            kind: KeyKind::Ed25519,
            bits: 256,
        };
    }
    let bits = spki.parsed().map(|k| k.key_size()).unwrap_or(0);
    KeyInfo {
        kind: KeyKind::Other(format!("key algorithm {}", alg.to_id_string())),
        bits: u32::try_from(bits).unwrap_or(0),
    }
}

/// The modulus length in bits, not counting leading zero bits (the DER
/// INTEGER carries a 0x00 octet when the top bit is set).
fn rsa_bits(spki: &SubjectPublicKeyInfo<'_>) -> u32 {
    let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = spki.parsed() else {
        return 0;
    };
    let modulus = match rsa.modulus.iter().position(|&b| b != 0) {
        Some(first) => &rsa.modulus[first..],
        None => return 0,
    };
    let bits = modulus.len() * 8 - modulus[0].leading_zeros() as usize;
    u32::try_from(bits).unwrap_or(0)
}

/// The curve is named in the algorithm parameters (RFC 5480 §2.1.1).
fn ec_key_info(spki: &SubjectPublicKeyInfo<'_>) -> KeyInfo {
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok());
    let (kind, bits) = match curve {
        Some(c) if c == OID_EC_P256 => (KeyKind::EcdsaP256, 256),
        Some(c) if c == OID_NIST_EC_P384 => (KeyKind::EcdsaP384, 384),
        Some(c) if c == OID_NIST_EC_P521 => (KeyKind::EcdsaP521, 521),
        Some(c) => (
            KeyKind::Other(format!("ECDSA curve {}", c.to_id_string())),
            0,
        ),
        None => (
            KeyKind::Other("ECDSA with explicit curve parameters".into()),
            0,
        ),
    };
    let bits = match bits {
        0 => spki.parsed().map(|k| k.key_size()).unwrap_or(0) as u32,
        known => known,
    };
    KeyInfo { kind, bits }
}

fn parse<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, InspectError> {
    match x509_parser::parse_x509_certificate(der.as_ref()) {
        Ok((_, x509)) => Ok(x509),
        Err(e) => Err(InspectError::Parse(e.to_string())),
    }
}

fn malformed(subject: &str, what: &'static str, e: X509Error) -> InspectError {
    InspectError::Malformed {
        subject: subject.into(),
        what,
        detail: e.to_string(),
    }
}

/// Issuer and subject are the same name (RFC 5280 §6.1 "self-issued").
/// Names are compared as encoded, which is what rustls/webpki does too.
fn is_self_issued(x509: &X509Certificate<'_>) -> bool {
    x509.subject().as_raw() == x509.issuer().as_raw()
}

/// Self-issued and signed by its own key. When the signature algorithm
/// cannot be checked here, the names decide.
fn is_self_signed(x509: &X509Certificate<'_>) -> bool {
    is_self_issued(x509)
        && match x509.verify_signature(None) {
            Ok(()) => true,
            Err(e) => e == X509Error::SignatureUnsupportedAlgorithm,
        }
}

/// Formats a time as "2026-03-01 12:00:00 UTC" for messages.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The subject of a certificate for messages, or a placeholder if it does
/// not parse.
pub fn subject_of(der: &CertificateDer<'_>) -> String {
    parse(der).map_or_else(
        |_| "<unparsable certificate>".into(),
        |x| x.subject().to_string(),
    )
}

/// The outcome of checking that `child` was signed by `parent`'s key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkStatus {
    /// `parent` is named as issuer and its key verifies the signature.
    Verified,
    /// `child` names a different issuer.
    NameMismatch,
    /// The names fit, but the signature does not verify.
    BadSignature,
    /// The signature algorithm is not supported here; not checked.
    Unsupported,
}

/// Checks one link of a chain: issuer name and signature (RFC 5280 §6.1.3).
pub fn verify_link(
    child: &CertificateDer<'_>,
    parent: &CertificateDer<'_>,
) -> Result<LinkStatus, InspectError> {
    let (child, parent) = (parse(child)?, parse(parent)?);
    if child.issuer().as_raw() != parent.subject().as_raw() {
        return Ok(LinkStatus::NameMismatch);
    }
    Ok(match child.verify_signature(Some(parent.public_key())) {
        Ok(()) => LinkStatus::Verified,
        Err(X509Error::SignatureUnsupportedAlgorithm) => LinkStatus::Unsupported,
        Err(_) => LinkStatus::BadSignature,
    })
}

/// Why a set of certificates does not form one chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    #[error("no certificate given")]
    Empty,
    #[error("certificate \"{subject}\" does not belong to this chain (it neither issued nor was issued by the others); remove it")]
    Unrelated { subject: String },
    #[error("the chain is incomplete: \"{subject}\" was issued by \"{issuer}\", whose certificate is missing")]
    Missing { subject: String, issuer: String },
    #[error(transparent)]
    Inspect(#[from] InspectError),
}

/// Certificates arranged leaf first, each followed by its issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedChain {
    pub chain: Vec<CertificateDer<'static>>,
    /// The input was in a different order.
    pub reordered: bool,
    /// The last certificate is self-issued (a root).
    pub ends_at_root: bool,
}

/// The index of the certificate that most likely is the leaf: one that
/// issued none of the others, preferring a non-CA, then input order.
pub fn find_leaf(certs: &[CertificateDer<'_>]) -> Result<usize, ChainError> {
    let parsed = parse_all(certs)?;
    let issues_another =
        |i: usize| (0..parsed.len()).any(|j| j != i && names_issuer(&parsed[j], &parsed[i]));
    let candidates: Vec<usize> = (0..parsed.len()).filter(|&i| !issues_another(i)).collect();
    let non_ca = candidates.iter().copied().find(|&i| !parsed[i].is_ca());
    non_ca
        .or_else(|| candidates.first().copied())
        .ok_or(ChainError::Empty)
}

/// Orders `certs` so that `certs[leaf]` comes first and each certificate
/// is followed by its issuer (RFC 8446 §4.4.2 wants this order, and TLS 1.2
/// clients, RFC 5246 §7.4.2, require it). Fails when a certificate has no
/// place in the chain or a link in the middle is missing; a chain that
/// simply stops below its root is fine and left to the caller to judge.
pub fn order_chain(
    certs: Vec<CertificateDer<'static>>,
    leaf: usize,
) -> Result<OrderedChain, ChainError> {
    let parsed = parse_all(&certs)?;
    if leaf >= parsed.len() {
        return Err(ChainError::Empty);
    }
    let order = link_order(&parsed, leaf);
    let top = &parsed[order[order.len() - 1]];
    let ends_at_root = is_self_issued(top);
    if let Some(stray) = (0..parsed.len()).find(|i| !order.contains(i)) {
        return Err(match ends_at_root {
            true => ChainError::Unrelated {
                subject: parsed[stray].subject().to_string(),
            },
            false => ChainError::Missing {
                subject: top.subject().to_string(),
                issuer: top.issuer().to_string(),
            },
        });
    }
    let reordered = order.iter().enumerate().any(|(pos, &i)| pos != i);
    let chain = order.iter().map(|&i| certs[i].clone()).collect();
    Ok(OrderedChain {
        chain,
        reordered,
        ends_at_root,
    })
}

/// Walks up from `leaf` by issuer name until a root or a gap.
fn link_order(parsed: &[X509Certificate<'_>], leaf: usize) -> Vec<usize> {
    let mut order = vec![leaf];
    let mut current = leaf;
    while !is_self_issued(&parsed[current]) {
        let next = (0..parsed.len())
            .find(|&i| !order.contains(&i) && names_issuer(&parsed[current], &parsed[i]));
        let Some(next) = next else { break };
        order.push(next);
        current = next;
    }
    order
}

fn names_issuer(child: &X509Certificate<'_>, parent: &X509Certificate<'_>) -> bool {
    child.issuer().as_raw() == parent.subject().as_raw()
}

fn parse_all<'a>(
    certs: &'a [CertificateDer<'_>],
) -> Result<Vec<X509Certificate<'a>>, InspectError> {
    certs.iter().map(parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

    fn at(y: i32, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> OffsetDateTime {
        let month = time::Month::try_from(mo).unwrap();
        let date = time::Date::from_calendar_date(y, month, d).unwrap();
        date.with_hms(h, mi, s).unwrap().assume_utc()
    }

    fn leaf_with(sans: Vec<SanType>, cn: &str) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.subject_alt_names = sans;
        params.not_before = at(2025, 1, 1, 0, 0, 0);
        params.not_after = at(2025, 4, 1, 0, 0, 0);
        params.self_signed(&key).unwrap().der().clone()
    }

    fn dns(name: &str) -> SanType {
        SanType::DnsName(name.try_into().unwrap())
    }

    #[test]
    fn summary_reads_names_dates_and_key() {
        let der = leaf_with(
            vec![
                dns("Mail.Example.ORG"),
                SanType::IpAddress("192.0.2.7".parse().unwrap()),
                SanType::Rfc822Name("postmaster@example.org".try_into().unwrap()),
            ],
            "mail.example.org",
        );
        let s = CertSummary::from_der(&der).unwrap();
        assert_eq!(s.subject, "CN=mail.example.org");
        assert_eq!(s.dns_names, ["mail.example.org"]);
        assert_eq!(s.ip_addresses, ["192.0.2.7".parse::<IpAddr>().unwrap()]);
        assert_eq!(s.emails, ["postmaster@example.org"]);
        assert_eq!(s.not_before, at(2025, 1, 1, 0, 0, 0));
        assert_eq!(s.not_after, at(2025, 4, 1, 0, 0, 0));
        assert_eq!(s.key.kind, KeyKind::EcdsaP256);
        assert_eq!(s.key.describe(), "ECDSA P-256");
        assert!(s.key.is_strong());
        assert!(!s.is_ca);
        assert!(s.self_signed);
        assert!(!s.names_from_cn);
        assert!(s.serial.contains(':'));
    }

    #[test]
    fn cn_is_used_only_without_san() {
        let s = CertSummary::from_der(&leaf_with(vec![], "Legacy.Example.org")).unwrap();
        assert_eq!(s.dns_names, ["legacy.example.org"]);
        assert!(s.names_from_cn);
        for not_a_host in ["My Company CA", "Root"] {
            let s = CertSummary::from_der(&leaf_with(vec![], not_a_host)).unwrap();
            assert!(s.dns_names.is_empty() && !s.names_from_cn, "{not_a_host}");
        }
        let s = CertSummary::from_der(&leaf_with(vec![dns("a.example")], "b.example")).unwrap();
        assert_eq!(s.dns_names, ["a.example"]);
    }

    #[test]
    fn wildcard_rules_follow_rfc6125() {
        let s = CertSummary::from_der(&leaf_with(
            vec![
                dns("*.example.com"),
                dns("mail.example.org"),
                dns("*.com"),
                dns("f*.example.net"),
                SanType::IpAddress("2001:db8::1".parse().unwrap()),
                SanType::IpAddress("192.0.2.1".parse().unwrap()),
            ],
            "x",
        ))
        .unwrap();
        let table = [
            ("a.example.com", true),
            ("A.EXAMPLE.COM", true),
            ("a.example.com.", true),
            ("a.b.example.com", false),
            ("example.com", false),
            (".example.com", false),
            ("mail.example.org", true),
            ("MAIL.example.org", true),
            ("other.example.org", false),
            ("example.org", false),
            ("anything.com", false),
            ("foo.example.net", false),
            ("2001:db8::1", true),
            ("[2001:db8::1]", true),
            ("2001:db8::2", false),
            ("192.0.2.1", true),
            ("192.0.2.2", false),
            ("", false),
        ];
        for (host, want) in table {
            assert_eq!(s.covers_name(host), want, "{host}");
        }
    }

    #[test]
    fn ip_literal_does_not_match_dns_name() {
        let s = CertSummary::from_der(&leaf_with(vec![dns("192.0.2.1")], "x")).unwrap();
        assert!(!s.covers_name("192.0.2.1"));
    }

    #[test]
    fn days_left_rounds_down_and_goes_negative() {
        let s = CertSummary::from_der(&leaf_with(vec![dns("a.example")], "a")).unwrap();
        assert_eq!(s.days_left(at(2025, 3, 1, 0, 0, 0)), 31);
        assert_eq!(s.days_left(at(2025, 3, 31, 12, 0, 0)), 0);
        assert_eq!(s.days_left(at(2025, 4, 1, 0, 0, 0)), 0);
        assert_eq!(s.days_left(at(2025, 4, 1, 0, 0, 1)), -1);
        assert_eq!(s.days_left(at(2025, 4, 11, 0, 0, 0)), -10);
        assert!(s.is_valid_at(at(2025, 4, 1, 0, 0, 0)));
        assert!(!s.is_valid_at(at(2024, 12, 31, 23, 59, 0)));
    }

    #[test]
    fn key_strength_table() {
        let table = [
            (KeyKind::Rsa, 1024, false, "RSA 1024"),
            (KeyKind::Rsa, 2047, false, "RSA 2047"),
            (KeyKind::Rsa, 2048, true, "RSA 2048"),
            (KeyKind::Rsa, 4096, true, "RSA 4096"),
            (KeyKind::EcdsaP256, 256, true, "ECDSA P-256"),
            (KeyKind::EcdsaP384, 384, true, "ECDSA P-384"),
            (KeyKind::EcdsaP521, 521, true, "ECDSA P-521"),
            (KeyKind::Ed25519, 256, true, "Ed25519"),
            (
                KeyKind::Other("ECDSA curve 1.2.840.10045.3.1.1".into()),
                192,
                false,
                "ECDSA curve 1.2.840.10045.3.1.1 (192 bits)",
            ),
        ];
        for (kind, bits, strong, text) in table {
            let k = KeyInfo { kind, bits };
            assert_eq!(k.is_strong(), strong, "{text}");
            assert_eq!(k.describe(), text);
        }
    }

    #[test]
    fn rsa_and_p384_keys_are_recognised() {
        for (alg, want) in [
            (&rcgen::PKCS_RSA_SHA256, "RSA 2048"),
            (&rcgen::PKCS_ECDSA_P384_SHA384, "ECDSA P-384"),
            (&rcgen::PKCS_ED25519, "Ed25519"),
        ] {
            let key = KeyPair::generate_for(alg).unwrap();
            let der = CertificateParams::new(vec!["a.example".into()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            assert_eq!(
                CertSummary::from_der(der.der()).unwrap().key.describe(),
                want
            );
        }
    }

    #[test]
    fn format_time_is_utc() {
        let t = at(2026, 3, 1, 13, 5, 9).replace_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(format_time(t), "2026-03-01 11:05:09 UTC");
    }

    #[test]
    fn garbage_is_a_parse_error() {
        let err = CertSummary::from_der(&CertificateDer::from(vec![1, 2, 3])).unwrap_err();
        assert!(matches!(err, InspectError::Parse(_)), "{err}");
    }

    struct Pki {
        root: CertificateDer<'static>,
        inter: CertificateDer<'static>,
        leaf: CertificateDer<'static>,
    }

    fn ca_params(cn: &str) -> CertificateParams {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    }

    fn pki() -> Pki {
        let root =
            rcgen::CertifiedIssuer::self_signed(ca_params("Root"), KeyPair::generate().unwrap())
                .unwrap();
        let inter = rcgen::CertifiedIssuer::signed_by(
            ca_params("Inter"),
            KeyPair::generate().unwrap(),
            &root,
        )
        .unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["a.example".into()])
            .unwrap()
            .signed_by(&leaf_key, &inter)
            .unwrap();
        Pki {
            root: root.der().clone(),
            inter: inter.der().clone(),
            leaf: leaf.der().clone(),
        }
    }

    #[test]
    fn links_verify_and_detect_mismatch() {
        let p = pki();
        let other = pki();
        assert_eq!(
            verify_link(&p.leaf, &p.inter).unwrap(),
            LinkStatus::Verified
        );
        assert_eq!(
            verify_link(&p.inter, &p.root).unwrap(),
            LinkStatus::Verified
        );
        assert_eq!(
            verify_link(&p.leaf, &p.root).unwrap(),
            LinkStatus::NameMismatch
        );
        // Same names, different keys: only the signature tells them apart.
        assert_eq!(
            verify_link(&p.leaf, &other.inter).unwrap(),
            LinkStatus::BadSignature
        );
    }

    #[test]
    fn misordered_chain_is_put_in_order() {
        let p = pki();
        let certs = vec![p.root.clone(), p.leaf.clone(), p.inter.clone()];
        let leaf = find_leaf(&certs).unwrap();
        assert_eq!(leaf, 1);
        let ordered = order_chain(certs, leaf).unwrap();
        assert_eq!(ordered.chain, vec![p.leaf, p.inter, p.root]);
        assert!(ordered.reordered);
        assert!(ordered.ends_at_root);
    }

    #[test]
    fn ordered_chain_is_left_alone() {
        let p = pki();
        let ordered = order_chain(vec![p.leaf.clone(), p.inter.clone()], 0).unwrap();
        assert!(!ordered.reordered);
        assert!(!ordered.ends_at_root);
    }

    #[test]
    fn gap_and_stranger_are_reported() {
        let p = pki();
        let other = pki();
        let err = order_chain(vec![p.leaf.clone(), p.root.clone()], 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the chain is incomplete: \"CN=rcgen self signed cert\" was issued by \"CN=Inter\", whose certificate is missing"
        );
        let certs = vec![p.leaf, p.inter, p.root, other.leaf];
        let err = order_chain(certs, 0).unwrap_err();
        assert!(matches!(err, ChainError::Unrelated { .. }), "{err}");
    }
}
