//! A self-signed server certificate, for development and for servers whose
//! clients are told to trust it explicitly.

use std::fmt;

use rcgen::{ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};

use super::{generate_key, names_to_params, random_serial, KeyType, ToolError};

/// What to put in a self-signed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfSignedParams {
    /// DNS names or IP literals; the first is also the CN.
    pub names: Vec<String>,
    pub key: KeyType,
    /// Validity in days (default 365).
    pub days: u32,
}

impl SelfSignedParams {
    /// One year, ECDSA P-256.
    pub fn new(names: Vec<String>) -> Self {
        Self {
            names,
            key: KeyType::default(),
            days: 365,
        }
    }
}

/// A new certificate and its private key, both PEM.
#[derive(Clone)]
pub struct GeneratedCert {
    pub cert_pem: String,
    /// PKCS#8 ("BEGIN PRIVATE KEY").
    pub key_pem: String,
}

impl fmt::Debug for GeneratedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Longest validity accepted: ten years is already generous for a key that
/// can never be revoked.
const MAX_DAYS: u32 = 3650;

/// Makes a self-signed end-entity certificate for `params.names`.
///
/// It is an end-entity certificate (basicConstraints cA FALSE): rustls and
/// browsers refuse a CA certificate as a server certificate
/// (RFC 5280 §4.2.1.9), and trusting it explicitly works without CA rights.
pub fn self_signed(
    params: &SelfSignedParams,
    now: OffsetDateTime,
) -> Result<GeneratedCert, ToolError> {
    if params.days == 0 || params.days > MAX_DAYS {
        return Err(ToolError::InvalidDays(params.days));
    }
    let mut cp = names_to_params(&params.names)?;
    // An hour of slack for clients whose clock runs a little behind.
    cp.not_before = now - Duration::hours(1);
    cp.not_after = now + Duration::days(i64::from(params.days));
    cp.serial_number = Some(random_serial()?);
    cp.is_ca = IsCa::ExplicitNoCa;
    // TLS 1.2 ECDHE and TLS 1.3 only sign with the key (RFC 8446 §4.4.3);
    // keyEncipherment would only serve RSA key transport, which we never offer.
    cp.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = generate_key(params.key)?;
    let cert = cp.self_signed(&key).map_err(|e| ToolError::Build {
        what: "self-signed certificate",
        detail: e.to_string(),
    })?;
    Ok(GeneratedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::CertSummary;
    use crate::load::{key_matches_certificate, parse_pem};
    use std::process::Command;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn make(names: &[&str], key: KeyType) -> GeneratedCert {
        let mut p = SelfSignedParams::new(names.iter().map(|s| s.to_string()).collect());
        p.key = key;
        self_signed(&p, now()).unwrap()
    }

    #[test]
    fn summary_shows_our_names_dates_and_key() {
        let t = now();
        let p = SelfSignedParams::new(vec!["Mail.Example.org".into(), "192.0.2.25".into()]);
        let g = self_signed(&p, t).unwrap();
        let ck = parse_pem(g.cert_pem.as_bytes(), g.key_pem.as_bytes()).unwrap();
        assert!(key_matches_certificate(&ck.key, &ck.chain[0]).unwrap());
        let s = CertSummary::from_der(&ck.chain[0]).unwrap();
        assert_eq!(s.subject, "CN=mail.example.org");
        assert_eq!(s.dns_names, ["mail.example.org"]);
        assert!(s.covers_name("192.0.2.25"));
        assert!(!s.is_ca);
        assert!(s.self_signed);
        assert_eq!(s.days_left(t), 364, "365 days, counted from just now");
        assert!(s.not_before <= t - Duration::minutes(59));
        assert_eq!(s.key.describe(), "ECDSA P-256");
    }

    #[test]
    fn serials_differ() {
        let a = make(&["a.example"], KeyType::EcdsaP256);
        let b = make(&["a.example"], KeyType::EcdsaP256);
        let serial = |g: &GeneratedCert| {
            let ck = parse_pem(g.cert_pem.as_bytes(), g.key_pem.as_bytes()).unwrap();
            CertSummary::from_der(&ck.chain[0]).unwrap().serial
        };
        assert_ne!(serial(&a), serial(&b));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let mut p = SelfSignedParams::new(vec!["a.example".into()]);
        p.days = 0;
        assert_eq!(
            self_signed(&p, now()).unwrap_err().to_string(),
            "validity of 0 days is out of range; choose 1 to 3650 days"
        );
        p.days = 30;
        p.names.clear();
        assert!(matches!(self_signed(&p, now()), Err(ToolError::NoNames)));
    }

    fn openssl_present() -> bool {
        if Command::new("openssl").arg("version").output().is_ok() {
            return true;
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "openssl missing in CI"
        );
        eprintln!("note: openssl not installed; skipping the openssl cross-check");
        false
    }

    fn write_temp(name: &str, contents: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("postern-ss-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn openssl_verifies_and_shows_sans() {
        if !openssl_present() {
            return;
        }
        for (kt, file) in [
            (KeyType::EcdsaP256, "ec.pem"),
            (KeyType::Rsa2048, "rsa.pem"),
        ] {
            let g = make(&["mail.example.org", "imap.example.org", "192.0.2.1"], kt);
            let path = write_temp(file, &g.cert_pem);
            let verify = Command::new("openssl")
                .args(["verify", "-CAfile"])
                .arg(&path)
                .arg(&path)
                .output()
                .unwrap();
            let out = String::from_utf8_lossy(&verify.stdout).into_owned()
                + &String::from_utf8_lossy(&verify.stderr);
            assert!(verify.status.success(), "openssl verify ({kt}): {out}");
            assert!(out.contains(": OK"), "{out}");
            let text = Command::new("openssl")
                .args(["x509", "-noout", "-text", "-in"])
                .arg(&path)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&text.stdout);
            assert!(
                text.contains("DNS:mail.example.org, DNS:imap.example.org, IP Address:192.0.2.1"),
                "{text}"
            );
            assert!(text.contains("Subject: CN = mail.example.org"), "{text}");
            assert!(!text.contains("rcgen"), "{text}");
            assert!(text.contains("CA:FALSE"), "{text}");
        }
    }
}
