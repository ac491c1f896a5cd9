//! Importing the certificate a CA issued: validate everything first, then
//! install atomically.
//!
//! [`prepare_import`] changes nothing on disk. It fails with a specific
//! [`ImportError`] for each thing that would make the server unusable or
//! insecure (wrong key, broken chain, dates, weak key, missing names, a CA
//! certificate in the leaf's place) and only warns about what a careful
//! administrator may accept (self-signed, chain without root, expiring soon).
//! [`install`] then writes the files.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use super::request::{
    create_file_with_mode, csr_path_for, find_pending_key, sync_dir, write_synced,
};
use super::{days_phrase, ToolError};
use crate::inspect::{
    find_leaf, format_time, order_chain, subject_of, verify_link, CertSummary, ChainError,
    InspectError, LinkStatus, OrderedChain,
};
use crate::load::{
    chain_to_pem, key_matches_certificate, key_to_pem, parse_certificates_pem, parse_pkcs12,
    CertKey, LoadError,
};

/// What the CA sent.
pub enum ImportSource {
    /// The certificate (possibly with its chain) and optionally the chain
    /// in a separate file, as most CAs deliver them.
    Pem {
        cert_pem: Vec<u8>,
        chain_pem: Option<Vec<u8>>,
    },
    /// A PKCS#12 keystore (RFC 7292), which usually carries the key too.
    Pkcs12 { der: Vec<u8>, password: String },
}

impl fmt::Debug for ImportSource {
    // The password never appears in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem {
                cert_pem,
                chain_pem,
            } => f
                .debug_struct("Pem")
                .field("cert_pem_len", &cert_pem.len())
                .field("chain_pem_len", &chain_pem.as_ref().map(Vec::len))
                .finish(),
            Self::Pkcs12 { der, .. } => f
                .debug_struct("Pkcs12")
                .field("der_len", &der.len())
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// Everything `prepare_import` needs; it reads no clock and no config.
#[derive(Debug)]
pub struct ImportRequest<'a> {
    pub source: ImportSource,
    /// An explicit key. `None`: it must come from the PKCS#12 keystore or
    /// from a pending key in `pending_dir`.
    pub key: Option<PrivateKeyDer<'static>>,
    pub pending_dir: Option<&'a Path>,
    /// Host names the listeners answer to; each must be covered.
    pub required_names: Vec<String>,
    /// Extra roots to verify the chain against. Empty: the chain must end in
    /// an included self-signed root, or at an intermediate (with a warning).
    pub trust_anchors: Vec<CertificateDer<'static>>,
    pub now: OffsetDateTime,
}

/// A validated certificate, ready for [`install`].
#[derive(Debug, Clone)]
pub struct ImportedCert {
    /// The chain ordered leaf -> root-most, with its key.
    pub cert_key: CertKey,
    pub summary: CertSummary,
    /// Things worth telling the administrator; none of them blocks.
    pub warnings: Vec<String>,
    /// The pending key used, removed by `install` with its CSR.
    pub pending_key_path: Option<PathBuf>,
}

/// Why an import was refused. Nothing was changed on disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("the input holds no certificate (expected a PEM \"BEGIN CERTIFICATE\" block or a PKCS#12 keystore with one)")]
    NoCertificate,
    #[error("the private key does not belong to the certificate \"{subject}\" (their public keys differ); give the key this certificate was requested with")]
    KeyMismatch { subject: String },
    #[error("no pending key in {} matches the certificate \"{subject}\"; if the request was made elsewhere, give its key with --key FILE", dir.display())]
    NoPendingKey { dir: PathBuf, subject: String },
    #[error("no private key for \"{subject}\"; give it with --key FILE, or import a PKCS#12 keystore that contains it")]
    NoKey { subject: String },
    #[error("certificate \"{subject}\" does not belong to this chain (it neither issued nor was issued by the others); remove it from the input")]
    ChainUnrelated { subject: String },
    #[error("the chain is incomplete: \"{subject}\" was issued by \"{issuer}\", whose certificate is missing; add the issuing CA's certificate(s) (--chain FILE)")]
    ChainIncomplete { subject: String, issuer: String },
    #[error("the signature on \"{subject}\" does not verify with the key of \"{issuer}\"; the chain mixes certificates of different CAs or is corrupt")]
    ChainSignature { subject: String, issuer: String },
    #[error("the chain ends at \"{top}\", which is neither one of the given trust anchors nor signed by one")]
    Untrusted { top: String },
    #[error("\"{subject}\" is not valid before {}; check this machine's clock, or wait until then", format_time(*not_before))]
    NotYetValid {
        subject: String,
        not_before: OffsetDateTime,
    },
    #[error("\"{subject}\" expired on {}; ask the CA for a new certificate", format_time(*not_after))]
    Expired {
        subject: String,
        not_after: OffsetDateTime,
    },
    #[error("\"{subject}\" has a weak key ({key}); Postern needs RSA of at least 2048 bits, ECDSA P-256 or stronger, or Ed25519; make a new request (postern cert request)")]
    WeakKey { subject: String, key: String },
    #[error("the certificate does not cover {}; it is for {}; ask the CA for a certificate that includes every name the listeners use", missing.join(", "), names.join(", "))]
    NamesNotCovered {
        missing: Vec<String>,
        names: Vec<String>,
    },
    #[error("\"{subject}\" is a CA certificate (basicConstraints CA:TRUE), not a server certificate; the server's own certificate must be imported")]
    CaAsLeaf { subject: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Inspect(#[from] InspectError),
    #[error(transparent)]
    Tool(#[from] ToolError),
}

/// Warn this many days before expiry (Let's Encrypt renews at 30 days
/// left, and operators need the same lead time for a manual CA).
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Validates an import without touching the disk.
pub fn prepare_import(req: ImportRequest<'_>) -> Result<ImportedCert, ImportError> {
    let (certs, bundled_key) = read_source(&req.source)?;
    let key = req.key.or(bundled_key);
    let leaf = pick_leaf(&certs, key.as_ref())?;
    let summary = CertSummary::from_der(&certs[leaf])?;
    if summary.is_ca {
        return Err(ImportError::CaAsLeaf {
            subject: summary.subject,
        });
    }
    let mut warnings = Vec::new();
    let ordered = arrange(certs, leaf, &mut warnings)?;
    check_dates(&ordered, req.now, &mut warnings)?;
    check_strength(&ordered, &mut warnings)?;
    check_names(&summary, &req.required_names)?;
    verify_chain(&ordered, &req.trust_anchors, &mut warnings)?;
    let (key, pending_key_path) = resolve_key(key, req.pending_dir, &ordered.chain[0], &summary)?;
    warnings.extend(advice(&summary, req.now));
    Ok(ImportedCert {
        cert_key: CertKey {
            chain: ordered.chain,
            key,
        },
        summary,
        warnings,
        pending_key_path,
    })
}

/// All certificates of the input, and the key if the input carried one.
fn read_source(
    source: &ImportSource,
) -> Result<(Vec<CertificateDer<'static>>, Option<PrivateKeyDer<'static>>), ImportError> {
    match source {
        ImportSource::Pem {
            cert_pem,
            chain_pem,
        } => {
            let mut certs = pem_certs("certificate", cert_pem)?;
            if let Some(chain) = chain_pem {
                // An empty chain file is a load error naming that file.
                certs.extend(parse_certificates_pem("chain", chain)?);
            }
            Ok((dedup(certs), None))
        }
        ImportSource::Pkcs12 { der, password } => {
            let ck = parse_pkcs12(der, password)?;
            Ok((ck.chain, Some(ck.key)))
        }
    }
}

/// The certificate input must hold at least one certificate.
fn pem_certs(name: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, ImportError> {
    match parse_certificates_pem(name, pem) {
        Err(LoadError::NoCertificate { .. }) => Err(ImportError::NoCertificate),
        other => Ok(other?),
    }
}

/// CAs often send the intermediate both in the certificate file and in the
/// chain file; a duplicate is not an unrelated certificate.
fn dedup(certs: Vec<CertificateDer<'static>>) -> Vec<CertificateDer<'static>> {
    let mut out: Vec<CertificateDer<'static>> = Vec::with_capacity(certs.len());
    for cert in certs {
        if !out.contains(&cert) {
            out.push(cert);
        }
    }
    out
}

/// The leaf is the certificate of the key when there is a key; otherwise
/// the one certificate that issued none of the others.
fn pick_leaf(
    certs: &[CertificateDer<'static>],
    key: Option<&PrivateKeyDer<'static>>,
) -> Result<usize, ImportError> {
    let by_key = key.and_then(|k| {
        certs
            .iter()
            .position(|c| key_matches_certificate(k, c).unwrap_or(false))
    });
    match by_key {
        Some(i) => Ok(i),
        None => find_leaf(certs).map_err(chain_error),
    }
}

/// Puts the chain in order. Misordering is fixed, not refused.
fn arrange(
    certs: Vec<CertificateDer<'static>>,
    leaf: usize,
    warnings: &mut Vec<String>,
) -> Result<OrderedChain, ImportError> {
    let ordered = order_chain(certs, leaf).map_err(chain_error)?;
    if ordered.reordered {
        warnings.push("the certificates were not in chain order; they are now sorted leaf first, each followed by its issuer".into());
    }
    Ok(ordered)
}

fn chain_error(e: ChainError) -> ImportError {
    match e {
        ChainError::Empty => ImportError::NoCertificate,
        ChainError::Unrelated { subject } => ImportError::ChainUnrelated { subject },
        ChainError::Missing { subject, issuer } => ImportError::ChainIncomplete { subject, issuer },
        ChainError::Inspect(e) => ImportError::Inspect(e),
    }
}

/// The certificates the server actually relies on: all but an included
/// root, which clients take from their own trust store (RFC 8446 §4.4.2).
fn served(ordered: &OrderedChain) -> &[CertificateDer<'static>] {
    match ordered.ends_at_root && ordered.chain.len() > 1 {
        true => &ordered.chain[..ordered.chain.len() - 1],
        false => &ordered.chain,
    }
}

/// A root in the chain is only a warning, since clients use their own copy.
fn root_of(ordered: &OrderedChain) -> Option<&CertificateDer<'static>> {
    match ordered.ends_at_root && ordered.chain.len() > 1 {
        true => ordered.chain.last(),
        false => None,
    }
}

/// RFC 5280 §4.1.2.5 validity of every certificate a client will check.
fn check_dates(
    ordered: &OrderedChain,
    now: OffsetDateTime,
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    for cert in served(ordered) {
        date_error(&CertSummary::from_der(cert)?, now).map_or(Ok(()), Err)?;
    }
    if let Some(root) = root_of(ordered) {
        if let Some(e) = date_error(&CertSummary::from_der(root)?, now) {
            warnings.push(format!("the included root is not valid now: {e}"));
        }
    }
    Ok(())
}

fn date_error(s: &CertSummary, now: OffsetDateTime) -> Option<ImportError> {
    if now < s.not_before {
        return Some(ImportError::NotYetValid {
            subject: s.subject.clone(),
            not_before: s.not_before,
        });
    }
    (now > s.not_after).then(|| ImportError::Expired {
        subject: s.subject.clone(),
        not_after: s.not_after,
    })
}

fn check_strength(ordered: &OrderedChain, warnings: &mut Vec<String>) -> Result<(), ImportError> {
    for cert in served(ordered) {
        let s = CertSummary::from_der(cert)?;
        if !s.key.is_strong() {
            return Err(ImportError::WeakKey {
                subject: s.subject,
                key: s.key.describe(),
            });
        }
    }
    if let Some(root) = root_of(ordered) {
        let s = CertSummary::from_der(root)?;
        if !s.key.is_strong() {
            warnings.push(format!(
                "the included root \"{}\" has a weak key ({})",
                s.subject,
                s.key.describe()
            ));
        }
    }
    Ok(())
}

fn check_names(summary: &CertSummary, required: &[String]) -> Result<(), ImportError> {
    let missing: Vec<String> = required
        .iter()
        .filter(|host| !summary.covers_name(host))
        .cloned()
        .collect();
    match missing.is_empty() {
        true => Ok(()),
        false => Err(ImportError::NamesNotCovered {
            missing,
            names: summary.all_names(),
        }),
    }
}

/// Verifies every signature in the chain (RFC 5280 §6.1.3 (a)(1)) and
/// where it ends.
fn verify_chain(
    ordered: &OrderedChain,
    anchors: &[CertificateDer<'static>],
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    for pair in ordered.chain.windows(2) {
        check_link(&pair[0], &pair[1], warnings)?;
    }
    let top = &ordered.chain[ordered.chain.len() - 1];
    if ordered.ends_at_root {
        check_link(top, top, warnings)?;
    }
    match anchors.is_empty() {
        true => check_unanchored_top(ordered, warnings),
        false => check_anchored_top(top, anchors, warnings),
    }
}

fn check_link(
    child: &CertificateDer<'_>,
    parent: &CertificateDer<'_>,
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    match verify_link(child, parent)? {
        LinkStatus::Verified => Ok(()),
        LinkStatus::Unsupported => {
            warnings.push(format!(
                "the signature on \"{}\" uses an algorithm Postern cannot check; that link was not verified",
                subject_of(child)
            ));
            Ok(())
        }
        LinkStatus::NameMismatch | LinkStatus::BadSignature => Err(ImportError::ChainSignature {
            subject: subject_of(child),
            issuer: subject_of(parent),
        }),
    }
}

/// Without trust anchors a chain may stop below its root, which is the
/// recommended way to send it; but a lone CA-issued leaf lacks the
/// intermediate that every client needs.
fn check_unanchored_top(
    ordered: &OrderedChain,
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    if ordered.ends_at_root {
        return Ok(());
    }
    let top = CertSummary::from_der(&ordered.chain[ordered.chain.len() - 1])?;
    if ordered.chain.len() == 1 {
        return Err(ImportError::ChainIncomplete {
            subject: top.subject,
            issuer: top.issuer,
        });
    }
    warnings.push(format!(
        "the chain ends at the intermediate \"{}\"; clients must already trust its issuer \"{}\" (the CA's root), which could not be checked here",
        top.subject, top.issuer
    ));
    Ok(())
}

fn check_anchored_top(
    top: &CertificateDer<'_>,
    anchors: &[CertificateDer<'static>],
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    if anchors.iter().any(|a| a.as_ref() == top.as_ref()) {
        return Ok(());
    }
    // Several anchors may share a name (a CA's old and new root); any one
    // that verifies will do.
    let mut same_name = None;
    for anchor in anchors {
        match verify_link(top, anchor)? {
            LinkStatus::Verified => return Ok(()),
            LinkStatus::NameMismatch => {}
            LinkStatus::BadSignature | LinkStatus::Unsupported => {
                same_name = same_name.or(Some(anchor))
            }
        }
    }
    match same_name {
        Some(anchor) => check_link(top, anchor, warnings),
        None => Err(ImportError::Untrusted {
            top: subject_of(top),
        }),
    }
}

/// The explicit (or bundled) key must match; else look in the pending dir.
fn resolve_key(
    key: Option<PrivateKeyDer<'static>>,
    pending_dir: Option<&Path>,
    leaf: &CertificateDer<'static>,
    summary: &CertSummary,
) -> Result<(PrivateKeyDer<'static>, Option<PathBuf>), ImportError> {
    if let Some(key) = key {
        return match key_matches_certificate(&key, leaf)? {
            true => Ok((key, None)),
            false => Err(ImportError::KeyMismatch {
                subject: summary.subject.clone(),
            }),
        };
    }
    let Some(dir) = pending_dir else {
        return Err(ImportError::NoKey {
            subject: summary.subject.clone(),
        });
    };
    match find_pending_key(dir, leaf)? {
        Some((path, key)) => Ok((key, Some(path))),
        None => Err(ImportError::NoPendingKey {
            dir: dir.to_owned(),
            subject: summary.subject.clone(),
        }),
    }
}

/// Warnings that do not depend on the chain.
fn advice(s: &CertSummary, now: OffsetDateTime) -> Vec<String> {
    let mut out = Vec::new();
    if s.self_signed {
        out.push(
            "the certificate is self-signed; clients will only accept it if told to trust it"
                .into(),
        );
    }
    if s.names_from_cn {
        out.push("the certificate has no subjectAltName; modern clients ignore the CN (RFC 6125 §6.4.4) and will likely refuse it".into());
    }
    let days = s.days_left(now);
    if days < EXPIRY_WARNING_DAYS {
        out.push(format!(
            "the certificate expires in {} ({})",
            days_phrase(days),
            format_time(s.not_after)
        ));
    }
    out
}

/// Installs a prepared certificate: `cert_path` gets the chain (leaf
/// first), `key_path` the key (mode 0600); then the pending key and CSR it
/// came from are removed.
pub fn install(cert: &ImportedCert, cert_path: &Path, key_path: &Path) -> Result<(), ToolError> {
    let key_pem = key_to_pem(&cert.cert_key.key);
    let cert_pem = chain_to_pem(&cert.cert_key.chain);
    install_pem(&cert_pem, &key_pem, cert_path, key_path)?;
    if let Some(pending) = &cert.pending_key_path {
        remove_pending(pending);
    }
    Ok(())
}

/// Atomically replaces a certificate file and its key file.
///
/// Each file is written to a temporary file in the same directory, synced,
/// renamed over the target and the directory synced, so a crash leaves
/// either the old or the new file, never a torn one (rename(2) is atomic).
/// The key goes first: a reader that sees the new certificate also finds
/// the new key. The key's temporary file is created 0600.
pub fn install_pem(
    cert_pem: &str,
    key_pem: &str,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), ToolError> {
    let key_tmp = write_temp(key_path, key_pem.as_bytes(), 0o600)?;
    let cert_tmp = match write_temp(cert_path, cert_pem.as_bytes(), 0o644) {
        Ok(tmp) => tmp,
        Err(e) => {
            let _ = fs::remove_file(&key_tmp);
            return Err(e);
        }
    };
    if let Err(e) = commit(&key_tmp, key_path) {
        let _ = fs::remove_file(&cert_tmp);
        return Err(e);
    }
    commit(&cert_tmp, cert_path)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Gives `tmp` the owner and group of the file it replaces, so that `sudo
/// postern cert import` does not leave a root-owned 0600 key that a server
/// running as its own user cannot read (its reload would fail and the old
/// certificate keep serving). A first install keeps the caller's owner.
#[cfg(unix)]
fn keep_owner(tmp: &Path, target: &Path) -> Result<(), ToolError> {
    use std::os::unix::fs::MetadataExt;
    let Ok(old) = fs::metadata(target) else {
        return Ok(());
    };
    let (tmp_uid, tmp_gid) = fs::metadata(tmp)
        .map(|m| (m.uid(), m.gid()))
        .map_err(|e| ToolError::io(tmp, "cannot read the new file's owner", e))?;
    if (tmp_uid, tmp_gid) == (old.uid(), old.gid()) {
        return Ok(());
    }
    std::os::unix::fs::chown(tmp, Some(old.uid()), Some(old.gid())).map_err(|e| {
        ToolError::io(
            target,
            "cannot give the new file the owner of the one it replaces (run the command as the user that owns it)",
            e,
        )
    })
}

#[cfg(not(unix))]
fn keep_owner(_tmp: &Path, _target: &Path) -> Result<(), ToolError> {
    Ok(())
}

/// Writes `bytes` to a new temporary file beside `target`, created with
/// `mode` from the start, owned like the file it will replace.
fn write_temp(target: &Path, bytes: &[u8], mode: u32) -> Result<PathBuf, ToolError> {
    let dir = parent_dir(target);
    fs::create_dir_all(&dir).map_err(|e| ToolError::io(&dir, "cannot create the directory", e))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), unique()));
    let mut file = create_file_with_mode(&tmp, mode)
        .map_err(|e| ToolError::io(&tmp, "cannot create a temporary file", e))?;
    if let Err(e) = write_synced(&mut file, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(ToolError::io(&tmp, "cannot write a temporary file", e));
    }
    if let Err(e) = keep_owner(&tmp, target) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Distinguishes temporary files of one process.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn commit(tmp: &Path, target: &Path) -> Result<(), ToolError> {
    if let Err(e) = fs::rename(tmp, target) {
        let _ = fs::remove_file(tmp);
        return Err(ToolError::io(target, "cannot replace the file", e));
    }
    sync_dir(&parent_dir(target))
}

/// Best effort: the import already succeeded, so a leftover pending file is
/// logged rather than reported as a failure.
fn remove_pending(key_path: &Path) {
    let csr = csr_path_for(key_path);
    for path in std::iter::once(key_path.to_owned()).chain(csr) {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove pending file")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_pem_files;
    use crate::tooling::request::{certificate_request, write_pending, RequestParams};
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateSigningRequestParams, CertifiedIssuer,
        DnType, IsCa, KeyPair,
    };
    use time::Duration;

    /// A fixed "now", so tests never depend on the clock.
    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap() // 2026-01-01
    }

    /// A throw-away CA: root -> intermediate.
    struct TestCa {
        root: CertifiedIssuer<'static, KeyPair>,
        inter: CertifiedIssuer<'static, KeyPair>,
    }

    fn ca_params(cn: &str) -> CertificateParams {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.not_before = now() - Duration::days(365);
        p.not_after = now() + Duration::days(3650);
        p
    }

    impl TestCa {
        fn new() -> Self {
            let root =
                CertifiedIssuer::self_signed(ca_params("Test Root"), KeyPair::generate().unwrap())
                    .unwrap();
            let inter = CertifiedIssuer::signed_by(
                ca_params("Test Intermediate"),
                KeyPair::generate().unwrap(),
                &root,
            )
            .unwrap();
            Self { root, inter }
        }

        fn chain_pem(&self) -> String {
            format!("{}{}", self.inter.pem(), self.root.pem())
        }

        /// A leaf for `names`, valid from `from` to `to` days relative to now().
        fn leaf(
            &self,
            names: &[&str],
            key: &impl rcgen::PublicKeyData,
            from: i64,
            to: i64,
        ) -> String {
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            let mut p = CertificateParams::new(names.clone()).unwrap();
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.distinguished_name
                .push(DnType::CommonName, names[0].as_str());
            p.not_before = now() + Duration::days(from);
            p.not_after = now() + Duration::days(to);
            p.signed_by(key, &self.inter).unwrap().pem()
        }

        fn sign_csr(&self, csr_pem: &str) -> String {
            let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).unwrap();
            csr.params.not_before = now() - Duration::days(1);
            csr.params.not_after = now() + Duration::days(90);
            csr.signed_by(&self.inter).unwrap().pem()
        }
    }

    fn key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
        PrivateKeyDer::try_from(key.serialize_der()).unwrap()
    }

    fn request(
        cert_pem: String,
        chain_pem: Option<String>,
        key: Option<&KeyPair>,
    ) -> ImportRequest<'static> {
        ImportRequest {
            source: ImportSource::Pem {
                cert_pem: cert_pem.into_bytes(),
                chain_pem: chain_pem.map(String::into_bytes),
            },
            key: key.map(key_der),
            pending_dir: None,
            required_names: vec!["mail.example.org".into()],
            trust_anchors: Vec::new(),
            now: now(),
        }
    }

    fn tempdir(tag: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "postern-import-{tag}-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn csr_round_trip_installs_and_reloads() {
        let ca = TestCa::new();
        let pending = tempdir("pending");
        let params = RequestParams {
            names: vec!["mail.example.org".into(), "imap.example.org".into()],
            ..RequestParams::default()
        };
        let req = certificate_request(&params).unwrap();
        let paths = write_pending(&pending, &req, "mail.example.org").unwrap();
        let cert_pem = ca.sign_csr(&req.csr_pem);

        let mut import = request(cert_pem, Some(ca.chain_pem()), None);
        import.pending_dir = Some(&pending);
        import.required_names = vec!["mail.example.org".into(), "IMAP.example.org".into()];
        let imported = prepare_import(import).unwrap();
        assert_eq!(
            imported.pending_key_path.as_deref(),
            Some(paths.key.as_path())
        );
        assert_eq!(imported.cert_key.chain.len(), 3);
        assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
        assert!(paths.key.exists(), "prepare_import changes nothing");

        let dest = tempdir("dest");
        let (cert_path, key_path) = (dest.join("mail.crt.pem"), dest.join("mail.key.pem"));
        install(&imported, &cert_path, &key_path).unwrap();
        let ck = load_pem_files(&cert_path, &key_path).unwrap();
        assert_eq!(ck.chain, imported.cert_key.chain);
        assert!(key_matches_certificate(&ck.key, &ck.chain[0]).unwrap());
        assert!(
            !paths.key.exists() && !paths.csr.exists(),
            "pending files removed"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "key not readable by others: {mode:o}");
        }
        let leftovers: Vec<_> = fs::read_dir(&dest)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
    }

    #[test]
    fn install_replaces_existing_files() {
        let ca = TestCa::new();
        let dest = tempdir("replace");
        let (cert_path, key_path) = (dest.join("c.pem"), dest.join("k.pem"));
        for _ in 0..2 {
            let key = KeyPair::generate().unwrap();
            let cert = ca.leaf(&["mail.example.org"], &key, -1, 90);
            let imported = prepare_import(request(cert, Some(ca.chain_pem()), Some(&key))).unwrap();
            install(&imported, &cert_path, &key_path).unwrap();
            let ck = load_pem_files(&cert_path, &key_path).unwrap();
            assert_eq!(ck.key.secret_der(), key.serialized_der());
        }
    }

    #[test]
    fn misordered_chain_is_reordered() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let leaf = ca.leaf(&["mail.example.org"], &key, -1, 90);
        let jumbled = format!("{}{}{}", ca.root.pem(), leaf, ca.inter.pem());
        let imported = prepare_import(request(jumbled, None, Some(&key))).unwrap();
        let want: Vec<CertificateDer<'static>> = [&leaf, &ca.inter.pem(), &ca.root.pem()]
            .iter()
            .map(|p| parse_certificates_pem("t", p.as_bytes()).unwrap().remove(0))
            .collect();
        assert_eq!(imported.cert_key.chain, want);
        assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
        assert!(imported.warnings[0].contains("not in chain order"));
    }

    #[test]
    fn duplicate_intermediate_is_tolerated() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let cert = format!(
            "{}{}",
            ca.leaf(&["mail.example.org"], &key, -1, 90),
            ca.inter.pem()
        );
        let imported = prepare_import(request(cert, Some(ca.chain_pem()), Some(&key))).unwrap();
        assert_eq!(imported.cert_key.chain.len(), 3);
    }

    #[test]
    fn chain_without_root_warns() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let cert = ca.leaf(&["mail.example.org"], &key, -1, 90);
        let imported = prepare_import(request(cert, Some(ca.inter.pem()), Some(&key))).unwrap();
        assert_eq!(imported.warnings, [
            "the chain ends at the intermediate \"CN=Test Intermediate\"; clients must already trust its issuer \"CN=Test Root\" (the CA's root), which could not be checked here"
        ]);
    }

    #[test]
    fn trust_anchors_complete_or_refuse_the_chain() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let cert = ca.leaf(&["mail.example.org"], &key, -1, 90);
        let mut req = request(cert.clone(), Some(ca.inter.pem()), Some(&key));
        req.trust_anchors = vec![ca.root.der().clone()];
        let imported = prepare_import(req).unwrap();
        assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);

        let mut req = request(cert, Some(ca.inter.pem()), Some(&key));
        req.trust_anchors = vec![TestCa::new().inter.der().clone()];
        let err = prepare_import(req).unwrap_err();
        assert!(matches!(err, ImportError::Untrusted { .. }), "{err}");
    }

    fn import_err(req: ImportRequest<'_>) -> ImportError {
        prepare_import(req).unwrap_err()
    }

    #[test]
    fn no_certificate() {
        let err = import_err(request(String::new(), None, None));
        assert!(matches!(err, ImportError::NoCertificate), "{err}");
    }

    #[test]
    fn wrong_key() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let other = KeyPair::generate().unwrap();
        let cert = ca.leaf(&["mail.example.org"], &key, -1, 90);
        let err = import_err(request(cert, Some(ca.chain_pem()), Some(&other)));
        assert!(matches!(err, ImportError::KeyMismatch { .. }), "{err}");
    }

    #[test]
    fn no_pending_key() {
        let ca = TestCa::new();
        let pending = tempdir("nopending");
        let unrelated = certificate_request(&RequestParams {
            names: vec!["mail.example.org".into()],
            ..RequestParams::default()
        })
        .unwrap();
        write_pending(&pending, &unrelated, "mail.example.org").unwrap();
        let key = KeyPair::generate().unwrap();
        let mut req = request(
            ca.leaf(&["mail.example.org"], &key, -1, 90),
            Some(ca.chain_pem()),
            None,
        );
        req.pending_dir = Some(&pending);
        let err = import_err(req);
        assert!(matches!(err, ImportError::NoPendingKey { .. }), "{err}");
        assert!(err.to_string().contains(&pending.display().to_string()));
        assert!(err.to_string().contains("--key FILE"));
    }

    #[test]
    fn no_key_at_all() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let err = import_err(request(
            ca.leaf(&["mail.example.org"], &key, -1, 90),
            Some(ca.chain_pem()),
            None,
        ));
        assert!(matches!(err, ImportError::NoKey { .. }), "{err}");
    }

    #[test]
    fn expired() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let cert = ca.leaf(&["mail.example.org"], &key, -90, -1);
        let err = import_err(request(cert, Some(ca.chain_pem()), Some(&key)));
        assert!(matches!(err, ImportError::Expired { .. }), "{err}");
    }

    #[test]
    fn not_yet_valid() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let cert = ca.leaf(&["mail.example.org"], &key, 2, 90);
        let err = import_err(request(cert, Some(ca.chain_pem()), Some(&key)));
        assert!(matches!(err, ImportError::NotYetValid { .. }), "{err}");
    }

    /// An RSA public key of 1024 bits. aws-lc refuses to generate or sign
    /// with RSA keys below 2048 bits, but a certificate only needs the
    /// public half, so the CA can still issue one for this test.
    struct WeakRsa(Vec<u8>);

    impl WeakRsa {
        fn new() -> Self {
            let mut modulus = vec![0x00, 0xc3];
            modulus.extend(std::iter::repeat_n(0x5a, 126));
            modulus.push(0x01);
            let rsa_public_key = der(
                0x30,
                &[der(0x02, &modulus), der(0x02, &[0x01, 0x00, 0x01])].concat(),
            );
            Self(rsa_public_key)
        }
    }

    /// One DER TLV (X.690 §8.1), long-form length where needed.
    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let len = content.len();
        let mut out = vec![tag];
        match len {
            0..=127 => out.push(len as u8),
            128..=255 => out.extend([0x81, len as u8]),
            _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    impl rcgen::PublicKeyData for WeakRsa {
        fn der_bytes(&self) -> &[u8] {
            &self.0
        }
        fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
            &rcgen::PKCS_RSA_SHA256
        }
    }

    #[test]
    fn weak_rsa_key() {
        let ca = TestCa::new();
        let cert = ca.leaf(&["mail.example.org"], &WeakRsa::new(), -1, 90);
        let der = parse_certificates_pem("t", cert.as_bytes()).unwrap();
        assert_eq!(
            CertSummary::from_der(&der[0]).unwrap().key.describe(),
            "RSA 1024"
        );
        let err = import_err(request(cert, Some(ca.chain_pem()), None));
        assert!(matches!(err, ImportError::WeakKey { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "\"CN=mail.example.org\" has a weak key (RSA 1024); Postern needs RSA of at least 2048 bits, ECDSA P-256 or stronger, or Ed25519; make a new request (postern cert request)"
        );
    }

    #[test]
    fn missing_intermediate() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let cert = ca.leaf(&["mail.example.org"], &key, -1, 90);
        let err = import_err(request(cert.clone(), Some(ca.root.pem()), Some(&key)));
        assert!(matches!(err, ImportError::ChainIncomplete { .. }), "{err}");
        let err = import_err(request(cert, None, Some(&key)));
        assert_eq!(
            err.to_string(),
            "the chain is incomplete: \"CN=mail.example.org\" was issued by \"CN=Test Intermediate\", whose certificate is missing; add the issuing CA's certificate(s) (--chain FILE)"
        );
    }

    #[test]
    fn unrelated_certificate() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let cert = ca.leaf(&["mail.example.org"], &key, -1, 90);
        let other_root =
            CertifiedIssuer::self_signed(ca_params("Other Root"), KeyPair::generate().unwrap())
                .unwrap();
        let chain = format!("{}{}", ca.chain_pem(), other_root.pem());
        let err = import_err(request(cert, Some(chain), Some(&key)));
        assert!(matches!(err, ImportError::ChainUnrelated { .. }), "{err}");
        assert!(err.to_string().contains("CN=Other Root"));
    }

    #[test]
    fn forged_link() {
        // Another CA with the same names: the chain links by name but the
        // intermediate's key did not sign the leaf.
        let ca = TestCa::new();
        let impostor = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let cert = ca.leaf(&["mail.example.org"], &key, -1, 90);
        let err = import_err(request(cert, Some(impostor.chain_pem()), Some(&key)));
        assert!(matches!(err, ImportError::ChainSignature { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "the signature on \"CN=mail.example.org\" does not verify with the key of \"CN=Test Intermediate\"; the chain mixes certificates of different CAs or is corrupt"
        );
    }

    #[test]
    fn names_not_covered() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let cert = ca.leaf(&["mail.example.org", "*.example.net"], &key, -1, 90);
        let mut req = request(cert, Some(ca.chain_pem()), Some(&key));
        req.required_names = vec![
            "mail.example.org".into(),
            "imap.example.org".into(),
            "a.example.net".into(),
            "a.b.example.net".into(),
        ];
        let err = import_err(req);
        let ImportError::NamesNotCovered { missing, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(missing, &["imap.example.org", "a.b.example.net"]);
        assert_eq!(
            err.to_string(),
            "the certificate does not cover imap.example.org, a.b.example.net; it is for mail.example.org, *.example.net; ask the CA for a certificate that includes every name the listeners use"
        );
    }

    #[test]
    fn ca_as_leaf() {
        let ca = TestCa::new();
        let err = import_err(request(ca.inter.pem(), Some(ca.root.pem()), None));
        assert!(matches!(err, ImportError::CaAsLeaf { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "\"CN=Test Intermediate\" is a CA certificate (basicConstraints CA:TRUE), not a server certificate; the server's own certificate must be imported"
        );
    }

    #[test]
    fn other_messages_are_exact() {
        let t = now();
        let cases = [
            (
                ImportError::Expired { subject: "CN=a".into(), not_after: t },
                "\"CN=a\" expired on 2026-01-01 00:00:00 UTC; ask the CA for a new certificate",
            ),
            (
                ImportError::NotYetValid { subject: "CN=a".into(), not_before: t },
                "\"CN=a\" is not valid before 2026-01-01 00:00:00 UTC; check this machine's clock, or wait until then",
            ),
            (
                ImportError::KeyMismatch { subject: "CN=a".into() },
                "the private key does not belong to the certificate \"CN=a\" (their public keys differ); give the key this certificate was requested with",
            ),
            (
                ImportError::NoPendingKey { dir: "/var/lib/postern/pending".into(), subject: "CN=a".into() },
                "no pending key in /var/lib/postern/pending matches the certificate \"CN=a\"; if the request was made elsewhere, give its key with --key FILE",
            ),
            (
                ImportError::NoCertificate,
                "the input holds no certificate (expected a PEM \"BEGIN CERTIFICATE\" block or a PKCS#12 keystore with one)",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }

    fn pkcs12(ca: &TestCa, key: &KeyPair, leaf_pem: &str, password: &str) -> Vec<u8> {
        use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
        let certs = [leaf_pem.to_owned(), ca.inter.pem(), ca.root.pem()].map(|pem| {
            let der = parse_certificates_pem("t", pem.as_bytes())
                .unwrap()
                .remove(0);
            Certificate::from_der(&der).unwrap()
        });
        let key = PrivateKey::from_der(key.serialized_der()).unwrap();
        let mut store = KeyStore::new();
        let chain = PrivateKeyChain::new(vec![7u8; 20], key, certs);
        store.add_entry("mail", KeyStoreEntry::PrivateKeyChain(chain));
        store.writer(password).write().unwrap()
    }

    #[test]
    fn pkcs12_imports_with_right_password_only() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let leaf = ca.leaf(&["mail.example.org"], &key, -1, 90);
        let der = pkcs12(&ca, &key, &leaf, "correct horse");
        let mut req = request(String::new(), None, None);
        req.source = ImportSource::Pkcs12 {
            der: der.clone(),
            password: "correct horse".into(),
        };
        let imported = prepare_import(req).unwrap();
        assert_eq!(imported.cert_key.chain.len(), 3);
        assert_eq!(imported.cert_key.key.secret_der(), key.serialized_der());
        assert!(imported.pending_key_path.is_none());

        let mut req = request(String::new(), None, None);
        req.source = ImportSource::Pkcs12 {
            der,
            password: "battery staple".into(),
        };
        let err = import_err(req);
        assert!(
            matches!(err, ImportError::Load(LoadError::Pkcs12Password { .. })),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "PKCS#12 keystore: wrong PKCS#12 password (the keystore's integrity check failed); give the password it was exported with"
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let source = ImportSource::Pkcs12 {
            der: vec![1, 2],
            password: "hunter2".into(),
        };
        assert!(!format!("{source:?}").contains("hunter2"));
    }

    #[test]
    fn expiring_soon_and_self_signed_warn() {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["mail.example.org".into()]).unwrap();
        p.not_before = now() - Duration::days(1);
        p.not_after = now() + Duration::days(10);
        let cert = p.self_signed(&key).unwrap().pem();
        let imported = prepare_import(request(cert, None, Some(&key))).unwrap();
        assert_eq!(imported.warnings.len(), 2, "{:?}", imported.warnings);
        assert!(imported.warnings[0].contains("self-signed"));
        assert!(imported.warnings[1].starts_with("the certificate expires in 10 days"));
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_key_keeps_its_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile_dir();
        let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
        fs::write(&cert, "old").unwrap();
        fs::write(&key, "old").unwrap();
        // As root (CI, this machine) hand the old files to "nobody"; as
        // anyone else the files are the caller's and the owner is kept anyway.
        let nobody = 65_534;
        let changed = std::os::unix::fs::chown(&key, Some(nobody), Some(nobody)).is_ok()
            && std::os::unix::fs::chown(&cert, Some(nobody), Some(nobody)).is_ok();
        let before = fs::metadata(&key).unwrap();
        install_pem("CERT", "KEY", &cert, &key).unwrap();
        let after = fs::metadata(&key).unwrap();
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        assert_eq!(after.mode() & 0o777, 0o600);
        if changed {
            assert_eq!(after.uid(), nobody);
        }
        assert_eq!(fs::read_to_string(&key).unwrap(), "KEY");
        fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("postern-owner-{}-{}", std::process::id(), unique()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
