//! The certificates a running server serves, loaded and checked.
//!
//! A [`CertStore`] is immutable; hot reload builds a new one and swaps it in
//! (see [`crate::reload`]). Nothing here ever falls back silently: a
//! configured certificate that cannot be used is an error naming it.

use std::sync::Arc;

use postern_config::{CertSource, CertificateConfig};
use rustls::crypto::aws_lc_rs::sign::any_supported_type;
use rustls::sign::CertifiedKey;
use time::OffsetDateTime;

use crate::inspect::CertSummary;
use crate::load::{self, CertKey};

/// One usable certificate with its key.
#[derive(Debug, Clone)]
pub struct LoadedCert {
    /// The `[[certificate]]` name.
    pub name: String,
    pub summary: CertSummary,
    pub chain_len: usize,
    pub key: Arc<CertifiedKey>,
    pub default: bool,
    /// What it was loaded from (to tell on reload whether it changed).
    pub source: CertSource,
}

/// Why a configured certificate cannot be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("certificate \"{name}\": {source}")]
    Load {
        name: String,
        #[source]
        source: load::LoadError,
    },
    #[error("certificate \"{name}\": cannot read {what}: {message}")]
    Unreadable {
        name: String,
        what: String,
        message: String,
    },
    #[error("certificate \"{name}\" expired on {not_after} ({days} days ago); renew it (postern cert request, then postern cert import) or remove it from the configuration")]
    Expired {
        name: String,
        not_after: String,
        days: i64,
    },
    #[error("certificate \"{name}\" is not valid before {not_before}; check the system clock or the certificate")]
    NotYetValid { name: String, not_before: String },
    #[error("certificate \"{name}\": the private key does not belong to the certificate; install the key that was used for the request")]
    KeyMismatch { name: String },
    #[error("certificate \"{name}\": the key type is not supported for TLS: {message}")]
    UnsupportedKey { name: String, message: String },
}

impl LoadedCert {
    /// Loads and checks one configured certificate.
    pub fn load(config: &CertificateConfig, now: OffsetDateTime) -> Result<Self, CertError> {
        let ck = read_cert_key(config)?;
        Self::from_cert_key(config, ck, now)
    }

    /// Checks an already read certificate and key.
    pub fn from_cert_key(
        config: &CertificateConfig,
        ck: CertKey,
        now: OffsetDateTime,
    ) -> Result<Self, CertError> {
        let name = config.name.clone();
        let summary = check(&name, &ck, now)?;
        let signer = any_supported_type(&ck.key).map_err(|e| CertError::UnsupportedKey {
            name: name.clone(),
            message: e.to_string(),
        })?;
        Ok(Self {
            chain_len: ck.chain.len(),
            key: Arc::new(CertifiedKey::new(ck.chain, signer)),
            summary,
            default: config.default,
            source: config.source.clone(),
            name,
        })
    }

    /// Whole days until it expires (negative once expired).
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        self.summary.days_left(now)
    }
}

/// Reads a configured certificate and its key, without checking them.
pub fn read_cert_key(config: &CertificateConfig) -> Result<CertKey, CertError> {
    let name = &config.name;
    read_source(&config.source).map_err(|e| match e {
        ReadError::Load(source) => CertError::Load {
            name: name.clone(),
            source,
        },
        ReadError::Password(what, message) => CertError::Unreadable {
            name: name.clone(),
            what,
            message,
        },
    })
}

enum ReadError {
    Load(load::LoadError),
    Password(String, String),
}

fn read_source(source: &CertSource) -> Result<CertKey, ReadError> {
    match source {
        CertSource::Pem { cert, key } => load::load_pem_files(cert, key).map_err(ReadError::Load),
        CertSource::Pkcs12 {
            path,
            password_file,
        } => {
            let password = std::fs::read_to_string(password_file).map_err(|e| {
                ReadError::Password(
                    format!("the PKCS#12 password file {}", password_file.display()),
                    e.to_string(),
                )
            })?;
            // One trailing newline is how `echo pw > file` writes it.
            let password = password.strip_suffix('\n').unwrap_or(&password);
            let password = password.strip_suffix('\r').unwrap_or(password);
            load::load_pkcs12_file(path, password).map_err(ReadError::Load)
        }
    }
}

/// The checks a certificate must pass before it is served: dates and key.
fn check(name: &str, ck: &CertKey, now: OffsetDateTime) -> Result<CertSummary, CertError> {
    let leaf = &ck.chain[0];
    let summary = CertSummary::from_der(leaf).map_err(|e| CertError::Unreadable {
        name: name.to_owned(),
        what: "the certificate".to_owned(),
        message: e.to_string(),
    })?;
    if summary.not_after < now {
        return Err(CertError::Expired {
            name: name.to_owned(),
            not_after: summary.not_after.to_string(),
            days: -summary.days_left(now),
        });
    }
    if summary.not_before > now {
        return Err(CertError::NotYetValid {
            name: name.to_owned(),
            not_before: summary.not_before.to_string(),
        });
    }
    if !load::key_matches_certificate(&ck.key, leaf).unwrap_or(false) {
        return Err(CertError::KeyMismatch {
            name: name.to_owned(),
        });
    }
    Ok(summary)
}

/// All certificates of a configuration, each checked.
#[derive(Debug, Clone, Default)]
pub struct CertStore {
    certs: Vec<LoadedCert>,
}

impl CertStore {
    /// Loads every configured certificate; any failure is an error (at
    /// start, a certificate that cannot be served stops the server).
    pub fn load(
        configs: &[CertificateConfig],
        now: OffsetDateTime,
    ) -> Result<Self, Vec<CertError>> {
        let (certs, errors): (Vec<_>, Vec<_>) = configs
            .iter()
            .map(|c| LoadedCert::load(c, now))
            .partition(Result::is_ok);
        if errors.is_empty() {
            Ok(Self::from_loaded(certs.into_iter().flatten().collect()))
        } else {
            Err(errors.into_iter().filter_map(Result::err).collect())
        }
    }

    /// A store of already loaded certificates.
    pub fn from_loaded(certs: Vec<LoadedCert>) -> Self {
        Self { certs }
    }

    /// Every certificate.
    pub fn certs(&self) -> &[LoadedCert] {
        &self.certs
    }

    /// The certificate with this configured name.
    pub fn get(&self, name: &str) -> Option<&LoadedCert> {
        self.certs.iter().find(|c| c.name == name)
    }
}
