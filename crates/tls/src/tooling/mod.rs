//! The operations behind `postern cert ...`: make a self-signed certificate,
//! make a key and CSR for a CA, import what the CA sends back, and check
//! what is installed.
//!
//! # Layout
//!
//! - `self_signed`: a certificate for development or internal use.
//! - `request`: key + CSR (RFC 2986), kept as a *pending* key until import.
//! - `import`: validate a CA's answer (PEM or PKCS#12) and install it atomically.
//! - `check`: a report on an installed certificate and key.
//!
//! Nothing here prints or reads the clock: the CLI passes `now` and shows
//! the results.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub mod check;
pub mod import;
pub mod request;
pub mod self_signed;

pub use check::{check_cert_key, CheckReport, Finding, Severity};
pub use import::{
    install, install_pem, prepare_import, ImportError, ImportRequest, ImportSource, ImportedCert,
};
pub use request::{
    certificate_request, find_pending_key, write_pending, GeneratedRequest, PendingPaths,
    RequestParams,
};
pub use self_signed::{self_signed, GeneratedCert, SelfSignedParams};

/// Key algorithms offered for new keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyType {
    /// The default: small, fast, and accepted by every current client
    /// (RFC 8446 §9.1 makes ecdsa_secp256r1_sha256 mandatory to implement).
    #[default]
    EcdsaP256,
    EcdsaP384,
    /// For old clients that cannot do ECDSA.
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyType {
    /// All key types, in the order the CLI lists them.
    pub const ALL: [Self; 5] = [
        Self::EcdsaP256,
        Self::EcdsaP384,
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
    ];

    /// The spelling used on the command line and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
            Self::Rsa4096 => "rsa4096",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown key type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key type {0:?}; choose one of ecdsa-p256 (default), ecdsa-p384, rsa2048, rsa3072, rsa4096")]
pub struct UnknownKeyType(pub String);

impl FromStr for KeyType {
    type Err = UnknownKeyType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownKeyType(s.to_owned()))
    }
}

/// Errors of the certificate tooling (other than import validation, which
/// has its own [`ImportError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    #[error("cannot generate a {key} key: {detail}")]
    KeyGeneration { key: KeyType, detail: String },
    #[error("at least one DNS name or IP address is needed")]
    NoNames,
    #[error("{name:?} is not a valid DNS name or IP address ({reason})")]
    InvalidName { name: String, reason: String },
    #[error("country {0:?} must be a two-letter ISO 3166 code such as DE or US")]
    InvalidCountry(String),
    #[error("validity of {0} days is out of range; choose 1 to 3650 days")]
    InvalidDays(u32),
    #[error("cannot build the {what}: {detail}")]
    Build { what: &'static str, detail: String },
    #[error("{}: {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{}: a key is already pending for this name; import the certificate issued for it first, or delete this file (and its .csr.pem) to start over", path.display())]
    PendingKeyExists { path: PathBuf },
    #[error("the system random number generator failed")]
    Random,
    #[error(transparent)]
    Load(#[from] crate::load::LoadError),
}

impl ToolError {
    fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            action,
            source,
        }
    }
}

/// Generates a fresh key pair with the system's secure random generator.
pub fn generate_key(kind: KeyType) -> Result<rcgen::KeyPair, ToolError> {
    use rcgen::{KeyPair, RsaKeySize};
    let generated = match kind {
        KeyType::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyType::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyType::Rsa3072 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072),
        KeyType::Rsa4096 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096),
    };
    generated.map_err(|e| ToolError::KeyGeneration {
        key: kind,
        detail: e.to_string(),
    })
}

/// Turns the names given on the command line into subjectAltName entries:
/// IP literals become iPAddress, everything else must be a DNS name
/// (RFC 5280 §4.2.1.6). The first name is also the CN.
pub(crate) fn names_to_params(names: &[String]) -> Result<rcgen::CertificateParams, ToolError> {
    let first = names.first().ok_or(ToolError::NoNames)?;
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = names.iter().map(|n| san_for(n)).collect::<Result<_, _>>()?;
    // Replace rcgen's placeholder subject ("rcgen self signed cert").
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, first.to_ascii_lowercase());
    Ok(params)
}

fn san_for(name: &str) -> Result<rcgen::SanType, ToolError> {
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        return Ok(rcgen::SanType::IpAddress(ip));
    }
    check_dns_name(name)?;
    let ia5 = name
        .to_ascii_lowercase()
        .try_into()
        .map_err(|e: rcgen::Error| invalid(name, &e.to_string()))?;
    Ok(rcgen::SanType::DnsName(ia5))
}

/// Preferred name syntax (RFC 1035 §2.3.1, letters-digits-hyphen labels of
/// at most 63 octets, 253 in all), allowing `*` as the whole first label
/// (RFC 6125 §6.4.3) and `_` for internal names that resolvers accept.
fn check_dns_name(name: &str) -> Result<(), ToolError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(invalid(name, "must be 1 to 253 characters"));
    }
    for (i, label) in name.split('.').enumerate() {
        check_label(name, label, i == 0)?;
    }
    Ok(())
}

fn check_label(name: &str, label: &str, first: bool) -> Result<(), ToolError> {
    if first && label == "*" {
        return Ok(());
    }
    if label.is_empty() || label.len() > 63 {
        return Err(invalid(name, "every label must be 1 to 63 characters"));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(invalid(name, "a label may not start or end with '-'"));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    match label.chars().all(ok) {
        true => Ok(()),
        false => Err(invalid(name, "only letters, digits, '-' and a leading '*.' are allowed; write IDNs in punycode (xn--)")),
    }
}

fn invalid(name: &str, reason: &str) -> ToolError {
    ToolError::InvalidName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
}

/// "1 day", "12 days": counts in messages.
pub(crate) fn days_phrase(days: i64) -> String {
    match days.abs() {
        1 => format!("{days} day"),
        _ => format!("{days} days"),
    }
}

/// A random positive serial of 16 octets: RFC 5280 §4.1.2.2 allows up to
/// 20, and the CA/Browser Forum BR §7.1 asks for at least 64 random bits.
pub(crate) fn random_serial() -> Result<rcgen::SerialNumber, ToolError> {
    let mut bytes = [0u8; 16];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| ToolError::Random)?;
    // Clear the top bit so the INTEGER is positive without a padding octet,
    // and set the next one so the length is always 16.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(rcgen::SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_type_names_round_trip() {
        for k in KeyType::ALL {
            assert_eq!(k.to_string().parse::<KeyType>().unwrap(), k);
        }
        assert_eq!("RSA2048".parse::<KeyType>().unwrap(), KeyType::Rsa2048);
        assert_eq!(KeyType::default(), KeyType::EcdsaP256);
        let err = "dsa".parse::<KeyType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown key type \"dsa\"; choose one of ecdsa-p256 (default), ecdsa-p384, rsa2048, rsa3072, rsa4096"
        );
    }

    #[test]
    fn every_key_type_generates() {
        use crate::inspect::KeyKind;
        let expect = [
            (KeyType::EcdsaP256, KeyKind::EcdsaP256, 256),
            (KeyType::EcdsaP384, KeyKind::EcdsaP384, 384),
            (KeyType::Rsa2048, KeyKind::Rsa, 2048),
            (KeyType::Rsa3072, KeyKind::Rsa, 3072),
        ];
        for (kt, kind, bits) in expect {
            let key = generate_key(kt).unwrap();
            let cert = names_to_params(&["a.example".into()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            let info = crate::inspect::CertSummary::from_der(cert.der())
                .unwrap()
                .key;
            assert_eq!((info.kind, info.bits), (kind, bits), "{kt}");
        }
    }

    #[test]
    fn names_are_validated() {
        let table = [
            ("mail.example.org", true),
            ("*.example.org", true),
            ("Mail.Example.org.", true),
            ("_dmarc.example.org", true),
            ("a..example", false),
            ("-a.example", false),
            ("a b.example", false),
            ("a.*.example", false),
            ("bücher.example", false),
            ("", false),
        ];
        for (name, ok) in table {
            assert_eq!(check_dns_name(name).is_ok(), ok, "{name}");
        }
        let err = names_to_params(&["a b".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"a b\" is not a valid DNS name or IP address (only letters, digits, '-' and a leading '*.' are allowed; write IDNs in punycode (xn--))"
        );
        assert!(matches!(names_to_params(&[]), Err(ToolError::NoNames)));
    }

    #[test]
    fn day_counts_read_well() {
        assert_eq!(days_phrase(1), "1 day");
        assert_eq!(days_phrase(0), "0 days");
        assert_eq!(days_phrase(-1), "-1 day");
        assert_eq!(days_phrase(30), "30 days");
    }

    #[test]
    fn serials_are_random_and_positive() {
        let a = random_serial().unwrap().to_bytes();
        let b = random_serial().unwrap().to_bytes();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a[0] & 0x80 == 0);
    }
}
