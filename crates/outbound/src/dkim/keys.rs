//! DKIM keys on disk and the DNS records that publish them.
//!
//! Layout: `DIR/DOMAIN/SELECTOR.ed25519.pem` and `DIR/DOMAIN/SELECTOR.rsa.pem`,
//! each a PKCS #8 private key in PEM, mode 0600, in directories of mode
//! 0700. The algorithm is in the file name, so a key is never guessed from
//! its contents; the selector is the rest of the name.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use postern_types::Secret;

/// A DKIM signing algorithm (RFC 6376 §3.3, RFC 8463).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// `ed25519-sha256` (RFC 8463): short keys and signatures, but not
    /// every verifier knows it yet, hence the RSA companion.
    Ed25519,
    /// `rsa-sha256` with a 2048-bit key: what every verifier accepts (RFC
    /// 8301 §3.2 asks for at least 1024 bits; 2048 is today's floor).
    Rsa,
}

impl Algorithm {
    /// Both, in the order keys are listed and signatures added.
    pub const ALL: [Self; 2] = [Self::Ed25519, Self::Rsa];

    /// The `k=` tag value, which is also the key file's suffix.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Rsa => "rsa",
        }
    }

    fn from_file_name(name: &str) -> Option<(&str, Self)> {
        let stem = name.strip_suffix(".pem")?;
        Self::ALL.into_iter().find_map(|a| {
            let selector = stem.strip_suffix(a.name())?.strip_suffix('.')?;
            Some((selector, a))
        })
    }
}

/// Why a key cannot be made, written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("{0:?} is not a domain name")]
    BadDomain(String),
    #[error("{0:?} is not a DKIM selector (letters, digits and '-', dot-separated labels of at most 63)")]
    BadSelector(String),
    #[error("{} exists already; pass --force to replace it (publish the new record first, or mail signed with the old key in transit fails)", .0.display())]
    Exists(PathBuf),
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}: not a usable {} private key in PKCS #8 PEM ({message}); generate a new one with `postern dkim generate --force`", path.display(), algorithm.name())]
    BadKey {
        path: PathBuf,
        algorithm: Algorithm,
        message: String,
    },
    #[error("the system could not generate a key: {0}")]
    Generate(String),
}

fn io_error(path: &Path, e: &std::io::Error) -> KeyError {
    KeyError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// The public half as DNS publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: Algorithm,
    /// The `p=` bytes: the raw 32-byte key for Ed25519 (RFC 8463 §4.2),
    /// the SubjectPublicKeyInfo for RSA (RFC 6376 §3.6.1; what opendkim
    /// publishes and every verifier reads).
    pub bytes: Vec<u8>,
}

impl PublicKey {
    /// The TXT record's text (RFC 6376 §3.6.1), one string before the
    /// 255-octet split.
    pub fn txt(&self) -> String {
        let p = base64::engine::general_purpose::STANDARD.encode(&self.bytes);
        format!("v=DKIM1; k={}; p={p}", self.algorithm.name())
    }

    /// The zone-file line, `SELECTOR._domainkey.DOMAIN. IN TXT "..." ...`:
    /// a TXT record is made of strings of at most 255 octets each (RFC
    /// 1035 §3.3.14), which the verifier joins (RFC 6376 §3.6.2.2).
    pub fn zone_line(&self, selector: &str, domain: &str) -> String {
        let text = self.txt();
        // Base64 and the tag names are ASCII, so any split is on a
        // character boundary.
        let strings: Vec<String> = text
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        format!(
            "{}. IN TXT {}",
            record_name(selector, domain),
            strings.join(" ")
        )
    }
}

/// The owner name of a selector's record (RFC 6376 §3.6.2.1).
pub fn record_name(selector: &str, domain: &str) -> String {
    format!("{selector}._domainkey.{domain}")
}

/// A key fresh from the generator, not yet on disk.
pub struct NewKey {
    pub public: PublicKey,
    pkcs8: Secret<Vec<u8>>,
}

/// Makes a key: Ed25519, or RSA of 2048 bits.
pub fn generate(algorithm: Algorithm) -> Result<NewKey, KeyError> {
    let fail = |e: aws_lc_rs::error::Unspecified| KeyError::Generate(e.to_string());
    let pkcs8 = match algorithm {
        Algorithm::Ed25519 => {
            // PKCS #8 v1: what the OpenSSL command line (and opendkim)
            // read; v2 adds only the public key, which is derived anyway.
            let rng = aws_lc_rs::rand::SystemRandom::new();
            Ed25519KeyPair::generate_pkcs8v1(&rng)
                .map_err(fail)?
                .as_ref()
                .to_vec()
        }
        Algorithm::Rsa => RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(fail)?
            .as_der()
            .map_err(fail)?
            .as_ref()
            .to_vec(),
    };
    let public = public_key(algorithm, &pkcs8).map_err(KeyError::Generate)?;
    Ok(NewKey {
        public,
        pkcs8: Secret::new(pkcs8),
    })
}

/// The public half of a PKCS #8 key of this algorithm.
fn public_key(algorithm: Algorithm, pkcs8: &[u8]) -> Result<PublicKey, String> {
    let bytes = match algorithm {
        Algorithm::Ed25519 => Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| e.to_string())?
            .public_key()
            .as_ref()
            .to_vec(),
        Algorithm::Rsa => {
            let key = RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| e.to_string())?;
            // RFC 8301 §3.2: verifiers may refuse keys under 1024 bits;
            // we make only 2048-bit keys, so a smaller one was put here
            // by hand.
            if key.public_modulus_len() < 256 {
                return Err(format!(
                    "an RSA key of {} bits is too short; DKIM keys need 2048",
                    key.public_modulus_len() * 8
                ));
            }
            key.public_key()
                .as_der()
                .map_err(|e| e.to_string())?
                .as_ref()
                .to_vec()
        }
    };
    Ok(PublicKey { algorithm, bytes })
}

/// A key read from disk.
pub struct KeyFile {
    pub domain: String,
    pub selector: String,
    pub path: PathBuf,
    pub public: PublicKey,
    pub(crate) pkcs8: Secret<Vec<u8>>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.public.algorithm)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Lowercase, without the root dot, checked to be a host name (RFC 1123
/// §2.1 labels): it names a directory, so nothing like `..` or `/` passes.
pub fn normalize_domain(domain: &str) -> Result<String, KeyError> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    if d.len() > 253 || !d.contains('.') || !d.split('.').all(is_label) {
        return Err(KeyError::BadDomain(domain.to_owned()));
    }
    Ok(d)
}

/// A selector is a dot-separated list of labels (RFC 6376 §3.1).
pub fn check_selector(selector: &str) -> Result<(), KeyError> {
    if selector.is_empty() || !selector.split('.').all(is_label) {
        return Err(KeyError::BadSelector(selector.to_owned()));
    }
    Ok(())
}

fn is_label(l: &str) -> bool {
    (1..=63).contains(&l.len())
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// Where a key lives.
pub fn key_path(dir: &Path, domain: &str, selector: &str, algorithm: Algorithm) -> PathBuf {
    dir.join(domain)
        .join(format!("{selector}.{}.pem", algorithm.name()))
}

/// Writes a new key, mode 0600 in 0700 directories. An existing key is
/// kept unless `force`; the file appears complete or not at all (written
/// aside, then linked or renamed into place), so a running server never
/// reads half a key.
pub fn write_key(
    dir: &Path,
    domain: &str,
    selector: &str,
    key: &NewKey,
    force: bool,
) -> Result<PathBuf, KeyError> {
    check_selector(selector)?;
    let domain_dir = dir.join(domain);
    private_dir(dir)?;
    private_dir(&domain_dir)?;
    let path = key_path(dir, domain, selector, key.public.algorithm);
    if !force && path.exists() {
        return Err(KeyError::Exists(path));
    }
    let tmp = domain_dir.join(format!(".{selector}.{}.tmp", key.public.algorithm.name()));
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, pem(key.pkcs8.expose()).as_bytes())?;
    let placed = if force {
        std::fs::rename(&tmp, &path)
    } else {
        // A hard link fails if the name exists: no race with another run.
        std::fs::hard_link(&tmp, &path).and_then(|()| std::fs::remove_file(&tmp))
    };
    placed.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.clone())
        } else {
            io_error(&path, &e)
        }
    })?;
    Ok(path)
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

fn private_dir(dir: &Path) -> Result<(), KeyError> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error(dir, &e))?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io_error(path, &e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(path, &e))
}

/// Reads one key file.
pub fn read_key(path: &Path) -> Result<KeyFile, KeyError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let domain = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let Some((selector, algorithm)) = Algorithm::from_file_name(name) else {
        return Err(KeyError::BadSelector(name.to_owned()));
    };
    let bad = |message: String| KeyError::BadKey {
        path: path.to_owned(),
        algorithm,
        message,
    };
    let text = std::fs::read(path).map_err(|e| io_error(path, &e))?;
    let pkcs8 = pkcs8_from_pem(&text).ok_or_else(|| bad("no PRIVATE KEY block".into()))?;
    let public = public_key(algorithm, &pkcs8).map_err(bad)?;
    Ok(KeyFile {
        domain: domain.to_owned(),
        selector: selector.to_owned(),
        path: path.to_owned(),
        public,
        pkcs8: Secret::new(pkcs8),
    })
}

fn pkcs8_from_pem(text: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let body = text
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)?
        .split("-----END PRIVATE KEY-----")
        .next()?;
    let b64: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// The keys of one domain, in selector then algorithm order; an absent
/// directory is no key. Files that are not keys (another suffix, a
/// leftover `.tmp`) are skipped.
pub fn domain_keys(dir: &Path, domain: &str) -> Result<Vec<KeyFile>, Vec<KeyError>> {
    let domain_dir = dir.join(domain);
    let entries = match std::fs::read_dir(&domain_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(vec![io_error(&domain_dir, &e)]),
    };
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_key = name
            .to_str()
            .and_then(Algorithm::from_file_name)
            .is_some_and(|(s, _)| check_selector(s).is_ok());
        if is_key {
            match read_key(&entry.path()) {
                Ok(k) => keys.push(k),
                Err(e) => errors.push(e),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    keys.sort_by(|a, b| (&a.selector, a.public.algorithm).cmp(&(&b.selector, b.public.algorithm)));
    Ok(keys)
}

/// Every domain that has a key directory, sorted.
pub fn domains(dir: &Path) -> Result<Vec<String>, KeyError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir, &e)),
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|d| normalize_domain(d).is_ok_and(|n| n == *d))
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_reads_back_with_the_same_public_half() {
        let dir = tempfile::tempdir().unwrap();
        for a in Algorithm::ALL {
            let key = generate(a).unwrap();
            let path = write_key(dir.path(), "example.org", "s1", &key, false).unwrap();
            let read = read_key(&path).unwrap();
            assert_eq!(read.public, key.public);
            assert_eq!(
                (read.domain.as_str(), read.selector.as_str()),
                ("example.org", "s1")
            );
        }
        let keys = domain_keys(dir.path(), "example.org").unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].public.algorithm, Algorithm::Ed25519);
        assert_eq!(keys[0].public.bytes.len(), 32, "RFC 8463: the bare key");
    }

    #[test]
    fn an_existing_key_is_kept_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate(Algorithm::Ed25519).unwrap();
        let path = write_key(dir.path(), "example.org", "s", &first, false).unwrap();
        let second = generate(Algorithm::Ed25519).unwrap();
        let err = write_key(dir.path(), "example.org", "s", &second, false).unwrap_err();
        assert!(matches!(err, KeyError::Exists(_)), "{err}");
        assert_eq!(read_key(&path).unwrap().public, first.public);
        write_key(dir.path(), "example.org", "s", &second, true).unwrap();
        assert_eq!(read_key(&path).unwrap().public, second.public);
    }

    #[test]
    fn long_records_are_split_into_strings_of_255_octets() {
        let rsa = generate(Algorithm::Rsa).unwrap();
        let line = rsa.public.zone_line("s", "example.org");
        assert!(line.starts_with("s._domainkey.example.org. IN TXT \"v=DKIM1; k=rsa; p=MII"));
        let strings: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        assert!(strings.len() >= 2, "{line}");
        assert!(strings.iter().all(|s| s.len() <= 255));
        assert_eq!(strings.concat(), rsa.public.txt());
    }

    #[test]
    fn names_that_could_leave_the_directory_are_refused() {
        for bad in ["..", "a/b.org", "example", "-x.org", ""] {
            assert!(normalize_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_domain("Example.ORG.").unwrap(), "example.org");
        for bad in ["", "a/b", "..", "a..b", "-a"] {
            assert!(check_selector(bad).is_err(), "{bad}");
        }
        check_selector("202611-ed").unwrap();
    }
}
