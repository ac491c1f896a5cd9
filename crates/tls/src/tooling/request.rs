//! A new key and a certificate signing request (PKCS#10, RFC 2986) for a CA.
//!
//! The key stays on this machine as a *pending* key
//! (`DIR/<name>.key.pem`, mode 0600) until the CA's certificate comes back
//! and `import` pairs them by public key. The CSR beside it is what the
//! administrator sends to the CA.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rcgen::DnType;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{generate_key, names_to_params, KeyType, ToolError};
use crate::load::{key_matches_certificate, parse_key_pem};

/// What goes into the CSR. Optional subject attributes are those CAs for
/// organisation-validated certificates ask for (RFC 4519 §2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestParams {
    /// DNS names or IP literals; the first is also the CN.
    pub names: Vec<String>,
    pub key: KeyType,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub locality: Option<String>,
    pub state: Option<String>,
    /// Two letters (ISO 3166-1 alpha-2, RFC 5280 Appendix A `X520countryName`).
    pub country: Option<String>,
}

/// A CSR and its new private key, both PEM.
#[derive(Clone)]
pub struct GeneratedRequest {
    pub csr_pem: String,
    /// PKCS#8 ("BEGIN PRIVATE KEY").
    pub key_pem: String,
}

impl fmt::Debug for GeneratedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedRequest")
            .field("csr_pem", &self.csr_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Where `write_pending` put the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPaths {
    pub key: PathBuf,
    pub csr: PathBuf,
}

const KEY_SUFFIX: &str = ".key.pem";
const CSR_SUFFIX: &str = ".csr.pem";

/// Generates a key and a CSR for `params.names`.
pub fn certificate_request(params: &RequestParams) -> Result<GeneratedRequest, ToolError> {
    let mut cp = names_to_params(&params.names)?;
    let country = params.country.as_deref().map(check_country).transpose()?;
    let attributes = [
        (DnType::CountryName, country),
        (DnType::StateOrProvinceName, params.state.clone()),
        (DnType::LocalityName, params.locality.clone()),
        (DnType::OrganizationName, params.organization.clone()),
        (
            DnType::OrganizationalUnitName,
            params.organizational_unit.clone(),
        ),
    ];
    for (ty, value) in attributes {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            cp.distinguished_name.push(ty, value.trim());
        }
    }
    let key = generate_key(params.key)?;
    let csr = cp.serialize_request(&key).and_then(|csr| csr.pem());
    let csr_pem = csr.map_err(|e| ToolError::Build {
        what: "certificate signing request",
        detail: e.to_string(),
    })?;
    Ok(GeneratedRequest {
        csr_pem,
        key_pem: key.serialize_pem(),
    })
}

/// Upper-cases and validates a country code.
fn check_country(country: &str) -> Result<String, ToolError> {
    let c = country.trim();
    match c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
        true => Ok(c.to_ascii_uppercase()),
        false => Err(ToolError::InvalidCountry(country.to_owned())),
    }
}

/// Writes the pending key (created 0600, never readable by others, not even
/// for a moment) and the CSR into `dir`, named after `primary_name`.
///
/// An existing pending key is never overwritten: it may be the only copy
/// of the key a CA is issuing a certificate for right now.
pub fn write_pending(
    dir: &Path,
    req: &GeneratedRequest,
    primary_name: &str,
) -> Result<PendingPaths, ToolError> {
    create_private_dir(dir)?;
    let stem = file_stem(primary_name);
    let paths = PendingPaths {
        key: dir.join(format!("{stem}{KEY_SUFFIX}")),
        csr: dir.join(format!("{stem}{CSR_SUFFIX}")),
    };
    let mut key_file = create_private_file(&paths.key).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => ToolError::PendingKeyExists {
            path: paths.key.clone(),
        },
        _ => ToolError::io(&paths.key, "cannot create the pending key", e),
    })?;
    let written = write_synced(&mut key_file, req.key_pem.as_bytes())
        .map_err(|e| ToolError::io(&paths.key, "cannot write the pending key", e))
        .and_then(|()| write_csr(&paths.csr, &req.csr_pem))
        .and_then(|()| sync_dir(dir));
    if written.is_err() {
        // Leave no half-made request behind: it would block the next try.
        let _ = fs::remove_file(&paths.key);
    }
    written.map(|()| paths)
}

fn write_csr(path: &Path, csr_pem: &str) -> Result<(), ToolError> {
    File::create(path)
        .and_then(|mut f| write_synced(&mut f, csr_pem.as_bytes()))
        .map_err(|e| ToolError::io(path, "cannot write the CSR", e))
}

/// The pending key in `dir` whose public key is `cert`'s, with its path.
/// Unreadable or foreign files are skipped: the directory may hold other
/// requests' keys, and one broken file must not hide the right one.
pub fn find_pending_key(
    dir: &Path,
    cert: &CertificateDer<'_>,
) -> Result<Option<(PathBuf, PrivateKeyDer<'static>)>, ToolError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ToolError::io(dir, "cannot list the pending keys", e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(KEY_SUFFIX))
        .collect();
    paths.sort();
    Ok(paths.into_iter().find_map(|path| matching_key(path, cert)))
}

fn matching_key(
    path: PathBuf,
    cert: &CertificateDer<'_>,
) -> Option<(PathBuf, PrivateKeyDer<'static>)> {
    let pem = fs::read(&path).ok()?;
    let key = parse_key_pem(&path.display().to_string(), &pem).ok()?;
    match key_matches_certificate(&key, cert) {
        Ok(true) => Some((path, key)),
        _ => None,
    }
}

/// The CSR that was written next to a pending key.
pub fn csr_path_for(key_path: &Path) -> Option<PathBuf> {
    let name = key_path.file_name()?.to_str()?;
    let stem = name.strip_suffix(KEY_SUFFIX)?;
    Some(key_path.with_file_name(format!("{stem}{CSR_SUFFIX}")))
}

/// A file name from a host name: lowercase, `*` spelled out, and nothing
/// that could leave the directory or confuse a shell.
fn file_stem(name: &str) -> String {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let name = name.replace('*', "wildcard");
    let safe = |c: char| {
        if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
            c
        } else {
            '_'
        }
    };
    let stem: String = name.chars().map(safe).collect();
    match stem.trim_start_matches('.') {
        "" => "request".into(),
        s => s.to_owned(),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), ToolError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| ToolError::io(dir, "cannot create the directory", e))
}

/// Creates a new file with mode 0600. Fails if the file exists.
fn create_private_file(path: &Path) -> io::Result<File> {
    create_file_with_mode(path, 0o600)
}

/// Creates a new file with `mode` from the first moment: the mode is passed
/// to open(2) (less the umask), so there is no window with wider
/// permissions. Fails if the file exists (O_EXCL), which also refuses to
/// follow a planted symlink.
pub(crate) fn create_file_with_mode(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

pub(crate) fn write_synced(file: &mut File, bytes: &[u8]) -> io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the new directory entries durable (a rename or create is only on
/// disk once its directory is synced, see fsync(2)).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), ToolError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ToolError::io(dir, "cannot sync the directory", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::CertificateSigningRequestParams;

    fn tempdir(tag: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("postern-req-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn params(names: &[&str]) -> RequestParams {
        RequestParams {
            names: names.iter().map(|s| s.to_string()).collect(),
            ..RequestParams::default()
        }
    }

    #[test]
    fn csr_carries_names_and_subject() {
        let mut p = params(&["mail.example.org", "smtp.example.org"]);
        p.organization = Some("Example Ltd".into());
        p.organizational_unit = Some("Mail".into());
        p.locality = Some("Berlin".into());
        p.state = Some("Berlin".into());
        p.country = Some("de".into());
        let req = certificate_request(&p).unwrap();
        let csr = CertificateSigningRequestParams::from_pem(&req.csr_pem).unwrap();
        let dn = &csr.params.distinguished_name;
        // DnValue has no Display; its Debug form holds the text.
        let text = |ty| dn.get(&ty).map(|v| format!("{v:?}")).unwrap_or_default();
        assert!(text(DnType::CommonName).contains("mail.example.org"));
        assert!(text(DnType::CountryName).contains("DE"));
        assert!(text(DnType::OrganizationName).contains("Example Ltd"));
        assert!(text(DnType::OrganizationalUnitName).contains("Mail"));
        assert!(text(DnType::LocalityName).contains("Berlin"));
        assert!(text(DnType::StateOrProvinceName).contains("Berlin"));
        assert_eq!(csr.params.subject_alt_names.len(), 2);
        assert!(req.key_pem.contains("BEGIN PRIVATE KEY"));
    }

    #[test]
    fn country_must_be_two_letters() {
        for bad in ["DEU", "D", "1A", ""] {
            let mut p = params(&["a.example"]);
            p.country = Some(bad.into());
            let err = certificate_request(&p).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("country {bad:?} must be a two-letter ISO 3166 code such as DE or US")
            );
        }
    }

    #[test]
    fn pending_files_are_private_and_never_overwritten() {
        let dir = tempdir("pending");
        let req = certificate_request(&params(&["*.Example.org"])).unwrap();
        let paths = write_pending(&dir, &req, "*.Example.org").unwrap();
        assert_eq!(paths.key, dir.join("wildcard.example.org.key.pem"));
        assert_eq!(paths.csr, dir.join("wildcard.example.org.csr.pem"));
        assert_eq!(fs::read_to_string(&paths.key).unwrap(), req.key_pem);
        assert_eq!(csr_path_for(&paths.key).unwrap(), paths.csr);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&paths.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = certificate_request(&params(&["*.example.org"])).unwrap();
        let err = write_pending(&dir, &again, "*.example.org").unwrap_err();
        assert!(matches!(err, ToolError::PendingKeyExists { .. }));
        assert_eq!(
            err.to_string(),
            format!(
                "{}: a key is already pending for this name; import the certificate issued for it first, or delete this file (and its .csr.pem) to start over",
                paths.key.display()
            )
        );
        assert_eq!(
            fs::read_to_string(&paths.key).unwrap(),
            req.key_pem,
            "old key kept"
        );
    }

    #[test]
    fn file_stems_are_safe() {
        let table = [
            ("mail.example.org", "mail.example.org"),
            ("*.example.org", "wildcard.example.org"),
            ("../../etc/passwd", "_.._etc_passwd"),
            ("2001:db8::1", "2001_db8__1"),
            ("", "request"),
        ];
        for (name, stem) in table {
            assert_eq!(file_stem(name), stem, "{name}");
        }
    }

    #[test]
    fn pending_key_is_found_by_public_key() {
        let dir = tempdir("find");
        let wanted = certificate_request(&params(&["a.example"])).unwrap();
        let other = certificate_request(&params(&["b.example"])).unwrap();
        write_pending(&dir, &other, "b.example").unwrap();
        let paths = write_pending(&dir, &wanted, "a.example").unwrap();
        fs::write(dir.join("junk.key.pem"), "not a key").unwrap();
        // Sign the CSR with a throw-away CA to get the matching certificate.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::default();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
        let csr = CertificateSigningRequestParams::from_pem(&wanted.csr_pem).unwrap();
        let cert = csr.signed_by(&ca).unwrap();
        let (path, _key) = find_pending_key(&dir, cert.der()).unwrap().unwrap();
        assert_eq!(path, paths.key);
        assert!(find_pending_key(&dir, ca.der()).unwrap().is_none());
        assert!(find_pending_key(&dir.join("absent"), cert.der())
            .unwrap()
            .is_none());
    }
}
