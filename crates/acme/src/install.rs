//! Installing an issued certificate the way `postern cert import` does:
//! every check first (key match, chain order and signatures, dates, key
//! strength, the names the listeners need), then the atomic replacement of
//! the configured files. A refused certificate changes nothing.
//!
//! Each install also leaves a small record of what was installed from
//! which CA (`DATA/acme/issued-<certificate>.json`), so a later renewal
//! can tell a certificate this CA issued from a self-signed or imported
//! one that it should replace.

use std::path::{Path, PathBuf};

use postern_config::{CertSource, CertificateConfig};
use postern_tls::inspect::CertSummary;
use postern_tls::tooling::{self, prepare_import, ImportRequest, ImportSource, ImportedCert};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{account, AcmeError, Issued};

/// What was last installed through ACME for one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The directory URL of the CA that issued it.
    pub directory: String,
    /// The leaf's issuer and serial: unique per CA (RFC 5280 §4.1.2.2).
    pub issuer: String,
    pub serial: String,
}

impl Record {
    /// Whether `summary` is the certificate this record describes, issued
    /// through `directory`.
    pub fn describes(&self, summary: &CertSummary, directory: &str) -> bool {
        self.directory == directory
            && self.issuer == summary.issuer
            && self.serial == summary.serial
    }
}

/// Where the record of `certificate` lives.
pub fn record_path(state_dir: &Path, certificate: &str) -> PathBuf {
    let stem: String = certificate
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    state_dir.join(format!("issued-{stem}.json"))
}

/// The record of `certificate`, if one is readable (a damaged one counts
/// as none: the next renewal rewrites it).
pub fn read_record(state_dir: &Path, certificate: &str) -> Option<Record> {
    let bytes = std::fs::read(record_path(state_dir, certificate)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The PEM files of a configured certificate (ACME writes nothing else).
pub fn pem_paths(target: &CertificateConfig) -> Result<(&Path, &Path), AcmeError> {
    match &target.source {
        CertSource::Pem { cert, key } => Ok((cert, key)),
        CertSource::Pkcs12 { path, .. } => Err(AcmeError::Install(format!(
            "certificate \"{}\" is a PKCS#12 keystore ({}); replace that file, or point the entry at PEM files (cert = ..., key = ...) to install a new certificate there",
            target.name,
            path.display()
        ))),
    }
}

/// Checks `issued` like `postern cert import`, without writing anything.
pub fn check(
    issued: &Issued,
    required_names: Vec<String>,
    now: OffsetDateTime,
) -> Result<ImportedCert, AcmeError> {
    let key = postern_tls::load::parse_key_pem("the new ACME key", issued.key_pem.as_bytes())
        .map_err(|e| AcmeError::Refused(e.to_string()))?;
    prepare_import(ImportRequest {
        source: ImportSource::Pem {
            cert_pem: issued.chain_pem.clone().into_bytes(),
            chain_pem: None,
        },
        key: Some(key),
        pending_dir: None,
        required_names,
        trust_anchors: Vec::new(),
        now,
    })
    .map_err(|e| AcmeError::Refused(e.to_string()))
}

/// Checks `issued`, replaces the target's files atomically and records
/// where it came from. On any error the installed files are unchanged.
pub fn install(
    issued: &Issued,
    target: &CertificateConfig,
    required_names: Vec<String>,
    state_dir: &Path,
    directory: &str,
    now: OffsetDateTime,
) -> Result<ImportedCert, AcmeError> {
    let (cert_path, key_path) = pem_paths(target)?;
    let prepared = check(issued, required_names, now)?;
    tooling::install(&prepared, cert_path, key_path).map_err(|e| {
        AcmeError::Install(format!(
            "installing {}: {e}; check that the server's user may write there",
            cert_path.display()
        ))
    })?;
    let record = Record {
        directory: directory.to_owned(),
        issuer: prepared.summary.issuer.clone(),
        serial: prepared.summary.serial.clone(),
    };
    let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
    // The certificate is installed; a missing record only makes the next
    // check renew once more, so it is reported, not treated as a failure.
    if let Err(e) = account::write_private(&record_path(state_dir, &target.name), &json) {
        tracing::warn!(error = %e, "cannot record the installed ACME certificate");
    }
    Ok(prepared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_per_certificate_and_match_only_their_own_certificate() {
        let d = Path::new("/data/acme");
        assert_eq!(record_path(d, "main"), d.join("issued-main.json"));
        assert_eq!(record_path(d, "../x"), d.join("issued-___x.json"));
        let cert = tooling::self_signed(
            &tooling::SelfSignedParams::new(vec!["a.example".into()]),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        let der = postern_tls::load::parse_certificates_pem("c", cert.cert_pem.as_bytes()).unwrap();
        let s = CertSummary::from_der(&der[0]).unwrap();
        let r = Record {
            directory: "https://ca/dir".into(),
            issuer: s.issuer.clone(),
            serial: s.serial.clone(),
        };
        assert!(r.describes(&s, "https://ca/dir"));
        assert!(!r.describes(&s, "https://other/dir"));
        let other = Record {
            serial: "00".into(),
            ..r
        };
        assert!(!other.describes(&s, "https://ca/dir"));
    }
}
