//! The certificate work of the admin pages: a key and CSR for a CA, and
//! the import of what the CA sent, with the library calls and the checks
//! of `postern cert request` and `postern cert import`. Keys are made,
//! kept and matched here; the web application only ever gets the CSR,
//! paths and sentences.

use std::path::{Path, PathBuf};

use postern_config::{CertSource, CertificateConfig, Config};
use postern_tls::tooling::{
    self, certificate_request, prepare_import, ImportRequest, ImportSource, KeyType, RequestParams,
};
use postern_tls::Certificates;
use postern_web::admin::{CertImported, CertRequest, CertRequested, CertUpload};
use time::OffsetDateTime;

/// Where pending keys wait for their certificate, under the data
/// directory: the directory `postern cert request` and `postern cert
/// import` use, so a request made on one side is imported on the other.
const PENDING_DIR: &str = "certs/pending";

pub(super) fn key_types() -> Vec<String> {
    KeyType::ALL.iter().map(|k| k.as_str().to_owned()).collect()
}

/// A new pending key (mode 0600, never overwriting one) and its CSR.
pub(super) fn request(config: &Config, req: CertRequest) -> Result<CertRequested, String> {
    pem_paths(target(config, &req.certificate)?)?;
    let key = req.key_type.parse::<KeyType>().map_err(|e| e.to_string())?;
    let params = RequestParams {
        names: req.names,
        key,
        ..RequestParams::default()
    };
    let primary = params.names.first().cloned().unwrap_or_default();
    let generated = certificate_request(&params).map_err(|e| e.to_string())?;
    let paths = tooling::write_pending(&pending_dir(config), &generated, &primary)
        .map_err(|e| e.to_string())?;
    Ok(CertRequested {
        csr_pem: generated.csr_pem,
        key_path: paths.key.display().to_string(),
    })
}

/// Checks the upload as `postern cert import` does, installs it in place
/// of `name`'s files, reloads, and says whether the live store serves it.
pub(super) fn import(
    config: &Config,
    certificates: &Certificates,
    name: &str,
    upload: CertUpload,
) -> Result<CertImported, String> {
    let target = target(config, name)?;
    let (cert_path, key_path) = pem_paths(target)?;
    let pending = pending_dir(config);
    let now = OffsetDateTime::now_utc();
    let prepared = prepare_import(ImportRequest {
        source: source(upload),
        key: None,
        pending_dir: Some(&pending),
        required_names: config.required_names(name),
        trust_anchors: Vec::new(),
        now,
    })
    .map_err(|e| e.to_string())?;
    tooling::install(&prepared, cert_path, key_path).map_err(|e| e.to_string())?;
    let s = &prepared.summary;
    Ok(CertImported {
        certificate: name.to_owned(),
        names: s.all_names(),
        issuer: s.issuer.clone(),
        not_after_unix: s.not_after.unix_timestamp(),
        days_left: s.days_left(now),
        warnings: prepared.warnings.clone(),
        serving: reload(
            config,
            certificates,
            name,
            prepared.cert_key.chain[0].as_ref(),
        ),
    })
}

fn source(upload: CertUpload) -> ImportSource {
    match upload {
        CertUpload::Pem {
            cert_pem,
            chain_pem,
        } => ImportSource::Pem {
            cert_pem,
            chain_pem,
        },
        CertUpload::Pkcs12 { der, password } => ImportSource::Pkcs12 { der, password },
    }
}

/// Loads the new files at once rather than at the watcher's next poll
/// (which would load them too, a second or two later), and reads back
/// what the live store serves for `name`.
fn reload(
    config: &Config,
    certificates: &Certificates,
    name: &str,
    leaf: &[u8],
) -> Result<(), String> {
    let report = certificates.reload(&config.certificates, OffsetDateTime::now_utc());
    tracing::info!(certificates = ?report.loaded, failed = report.failed.len(), "certificates reloaded after an import from the admin pages");
    let store = certificates.snapshot();
    let served = store.get(name).and_then(|c| c.key.cert.first());
    if served.is_some_and(|der| der.as_ref() == leaf) {
        return Ok(());
    }
    let why = report
        .failed
        .iter()
        .map(ToString::to_string)
        .find(|e| e.contains(&format!("\"{name}\"")));
    Err(why.unwrap_or_else(|| {
        "the server still serves the previous certificate; check the server log".into()
    }))
}

/// The configured certificate an operation is for.
fn target<'c>(config: &'c Config, name: &str) -> Result<&'c CertificateConfig, String> {
    config
        .certificates
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("there is no [[certificate]] named \"{name}\" in the configuration"))
}

/// Only PEM files can be replaced in place (as on the command line).
fn pem_paths(target: &CertificateConfig) -> Result<(&Path, &Path), String> {
    match &target.source {
        CertSource::Pem { cert, key } => Ok((cert, key)),
        CertSource::Pkcs12 { path, .. } => Err(format!(
            "certificate \"{}\" is read from a PKCS#12 keystore ({}); point its [[certificate]] entry at PEM files (cert = ..., key = ...) to install certificates from here",
            target.name,
            path.display()
        )),
    }
}

fn pending_dir(config: &Config) -> PathBuf {
    config.data_dir.join(PENDING_DIR)
}
