//! Loading a certificate chain and its private key.
//!
//! Two input forms are accepted: PEM files (RFC 7468) holding the chain and
//! an unencrypted key, and PKCS#12 keystores (RFC 7292) as exported by
//! Windows, Java and most CA portals. Every error names the file and says
//! what the administrator can do about it: these messages end up on a
//! terminal, not in a log only developers read.
//!
//! Loading judges structure only (is there a certificate, is there one
//! usable key); whether the pair is any good (dates, names, strength) is
//! for [`crate::tooling::check`] and [`crate::tooling::import`].

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use p12_keystore::Pkcs12Archive;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate chain with the private key of its first certificate.
pub struct CertKey {
    /// `chain[0]` is the leaf (end-entity) certificate; the rest are its
    /// issuers, in the order they are sent (RFC 8446 §4.4.2).
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for CertKey {
    // pki-types leaves `Clone` off private keys on purpose so that copies
    // are explicit; this is the one place we make one.
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for CertKey {
    // Never print key material, not even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertKey")
            .field("chain_len", &self.chain.len())
            .field("key", &key_format(&self.key))
            .finish()
    }
}

/// The name of a key's container format, for messages.
pub fn key_format(key: &PrivateKeyDer<'_>) -> &'static str {
    match key {
        PrivateKeyDer::Pkcs1(_) => "PKCS#1",
        PrivateKeyDer::Sec1(_) => "SEC1",
        PrivateKeyDer::Pkcs8(_) => "PKCS#8",
        _ => "unknown",
    }
}

/// Why a certificate or key could not be loaded.
///
/// `name` is the file path, or a label such as `certificate PEM` when the
/// bytes did not come from a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("{name}: cannot read file: {source}")]
    Read {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("{name}: malformed PEM ({detail}); expected \"-----BEGIN ...-----\" blocks as written by openssl")]
    Pem { name: String, detail: String },
    #[error("{name}: this is binary DER, not PEM; convert it first (openssl x509 -inform der -in FILE -out FILE.pem for a certificate, openssl pkey -inform der -in FILE -out FILE.pem for a key)")]
    DerNotPem { name: String },
    #[error("{name}: no certificate found (expected a PEM \"BEGIN CERTIFICATE\" block)")]
    NoCertificate { name: String },
    #[error("{name}: certificate {index} is not a valid X.509 certificate (its PEM block decodes, but not to a certificate); re-download it from the CA")]
    BadCertificate {
        name: String,
        /// 1-based position in the file.
        index: usize,
        /// The parser's diagnosis, for debugging (not in the message).
        detail: String,
    },
    #[error("{name}: no private key found (expected a PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)")]
    NoKey { name: String },
    #[error("{name}: private key is encrypted; Postern needs an unencrypted PKCS#8, PKCS#1 or SEC1 key (openssl pkey -in KEY -out KEY.new)")]
    EncryptedKey { name: String },
    #[error("{name}: holds {count} private keys; keep exactly one, the one that belongs to the certificate")]
    SeveralKeys { name: String, count: usize },
    #[error("{name}: wrong PKCS#12 password (the keystore's integrity check failed); give the password it was exported with")]
    Pkcs12Password { name: String },
    #[error("{name}: not a readable PKCS#12 keystore ({detail})")]
    Pkcs12 { name: String, detail: String },
    #[error("{name}: the PKCS#12 keystore holds no private key; export it together with its key (openssl pkcs12 -export -in CERT -inkey KEY -out FILE.p12)")]
    Pkcs12NoKey { name: String },
    #[error("{name}: the PKCS#12 keystore holds no certificate for its private key; export the certificate together with its key")]
    Pkcs12NoCertificate { name: String },
    #[error("private key is not usable ({detail}); Postern supports RSA (2048 to 8192 bits), ECDSA P-256, P-384, P-521 and Ed25519 keys")]
    UnsupportedKey { detail: String },
}

/// Reads a PEM certificate chain (leaf first) and a PEM private key.
pub fn load_pem_files(cert_path: &Path, key_path: &Path) -> Result<CertKey, LoadError> {
    let cert_name = cert_path.display().to_string();
    let key_name = key_path.display().to_string();
    let cert_pem = read_file(cert_path)?;
    let key_pem = read_file(key_path)?;
    Ok(CertKey {
        chain: parse_certificates_pem(&cert_name, &cert_pem)?,
        key: parse_key_pem(&key_name, &key_pem)?,
    })
}

/// Parses a PEM certificate chain (leaf first) and a PEM private key.
///
/// The key may be PKCS#8 (RFC 5958), PKCS#1 (RSA, RFC 8017) or SEC1 (EC,
/// RFC 5915).
pub fn parse_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertKey, LoadError> {
    Ok(CertKey {
        chain: parse_certificates_pem("certificate PEM", cert_pem)?,
        key: parse_key_pem("key PEM", key_pem)?,
    })
}

/// Reads a PKCS#12 keystore file.
pub fn load_pkcs12_file(path: &Path, password: &str) -> Result<CertKey, LoadError> {
    let der = read_file(path)?;
    parse_pkcs12_named(&path.display().to_string(), &der, password)
}

/// Parses a PKCS#12 keystore: the key, the certificate it belongs to, and
/// any other certificates as the chain.
pub fn parse_pkcs12(der: &[u8], password: &str) -> Result<CertKey, LoadError> {
    parse_pkcs12_named("PKCS#12 keystore", der, password)
}

/// True when `key` is the private half of `cert`'s public key.
///
/// Compares the subjectPublicKey bits of the certificate (RFC 5280
/// §4.1.2.7) with the public key derived from the private key.
pub fn key_matches_certificate(
    key: &PrivateKeyDer<'_>,
    cert: &CertificateDer<'_>,
) -> Result<bool, LoadError> {
    let pair = rcgen::KeyPair::try_from(key).map_err(|e| LoadError::UnsupportedKey {
        detail: e.to_string(),
    })?;
    let (_, x509) =
        x509_parser::parse_x509_certificate(cert).map_err(|e| LoadError::BadCertificate {
            name: "certificate".into(),
            index: 1,
            detail: e.to_string(),
        })?;
    Ok(pair.public_key_raw() == x509.public_key().subject_public_key.data.as_ref())
}

/// Every certificate in a PEM text, in file order, each checked to be X.509.
pub fn parse_certificates_pem(
    name: &str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(name, e))?;
    if certs.is_empty() {
        return Err(no_pem_items(name, pem, |name| LoadError::NoCertificate {
            name,
        }));
    }
    for (i, cert) in certs.iter().enumerate() {
        check_x509(name, i + 1, cert)?;
    }
    Ok(certs)
}

/// The single unencrypted private key in a PEM text.
pub fn parse_key_pem(name: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>, LoadError> {
    if looks_encrypted(pem) {
        return Err(LoadError::EncryptedKey { name: name.into() });
    }
    let mut keys = PrivateKeyDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(name, e))?;
    match keys.len() {
        0 => Err(no_pem_items(name, pem, |name| LoadError::NoKey { name })),
        1 => Ok(keys.remove(0)),
        count => Err(LoadError::SeveralKeys {
            name: name.into(),
            count,
        }),
    }
}

/// Encodes DER as a PEM block (RFC 7468 §2: base64 in 64-column lines).
pub fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so any split of it is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A private key as PEM, with the label that matches its format.
pub fn key_to_pem(key: &PrivateKeyDer<'_>) -> String {
    let label = match key {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    to_pem(label, key.secret_der())
}

/// A certificate chain as PEM, in the order given.
pub fn chain_to_pem(chain: &[CertificateDer<'_>]) -> String {
    chain.iter().map(|c| to_pem("CERTIFICATE", c)).collect()
}

fn read_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    fs::read(path).map_err(|source| LoadError::Read {
        name: path.display().to_string(),
        source,
    })
}

fn pem_error(name: &str, e: pem::Error) -> LoadError {
    LoadError::Pem {
        name: name.into(),
        detail: e.to_string(),
    }
}

/// Chooses between "this is DER" and the caller's "nothing found" error:
/// a DER file starts with a SEQUENCE tag (0x30) and has no PEM armour.
fn no_pem_items(name: &str, bytes: &[u8], not_found: fn(String) -> LoadError) -> LoadError {
    if bytes.first() == Some(&0x30) && !contains(bytes, b"-----BEGIN") {
        return LoadError::DerNotPem { name: name.into() };
    }
    not_found(name.into())
}

/// PKCS#8 encrypted keys (RFC 5958 §3) and OpenSSL's legacy encrypted PEM
/// (RFC 1421 headers) are both skipped by the PEM reader, so look for them.
fn looks_encrypted(pem: &[u8]) -> bool {
    contains(pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || contains(pem, b"Proc-Type: 4,ENCRYPTED")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn check_x509(name: &str, index: usize, cert: &CertificateDer<'_>) -> Result<(), LoadError> {
    match x509_parser::parse_x509_certificate(cert) {
        Ok(_) => Ok(()),
        Err(e) => Err(LoadError::BadCertificate {
            name: name.into(),
            index,
            detail: e.to_string(),
        }),
    }
}

fn parse_pkcs12_named(name: &str, der: &[u8], password: &str) -> Result<CertKey, LoadError> {
    let archive = Pkcs12Archive::from_pkcs12(der, password).map_err(|e| pkcs12_error(name, e))?;
    if archive.keys.is_empty() {
        return Err(LoadError::Pkcs12NoKey { name: name.into() });
    }
    let certs: Vec<CertificateDer<'static>> = archive
        .certs
        .iter()
        .map(|bag| CertificateDer::from(bag.cert.as_der().to_vec()))
        .collect();
    for (i, cert) in certs.iter().enumerate() {
        check_x509(name, i + 1, cert)?;
    }
    pair_pkcs12_key(name, &archive, certs)
}

/// Picks the first key that has its certificate in the archive and puts
/// that certificate first. Bag order is not trusted to mean anything.
fn pair_pkcs12_key(
    name: &str,
    archive: &Pkcs12Archive,
    mut certs: Vec<CertificateDer<'static>>,
) -> Result<CertKey, LoadError> {
    let mut unusable = None;
    for bag in &archive.keys {
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(bag.key.as_der().to_vec()));
        match find_cert_of(&key, &certs) {
            Ok(Some(leaf)) => {
                let leaf_cert = certs.remove(leaf);
                certs.insert(0, leaf_cert);
                return Ok(CertKey {
                    chain: best_effort_order(certs),
                    key,
                });
            }
            Ok(None) => {}
            Err(e) => unusable = unusable.or(Some(e)),
        }
    }
    // A key we cannot use explains more than "no certificate for it".
    Err(unusable.unwrap_or_else(|| LoadError::Pkcs12NoCertificate { name: name.into() }))
}

fn find_cert_of(
    key: &PrivateKeyDer<'_>,
    certs: &[CertificateDer<'static>],
) -> Result<Option<usize>, LoadError> {
    for (i, cert) in certs.iter().enumerate() {
        if key_matches_certificate(key, cert)? {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Leaf first, then issuers. A keystore with a broken chain still loads:
/// check and import report the chain problem with better context.
fn best_effort_order(certs: Vec<CertificateDer<'static>>) -> Vec<CertificateDer<'static>> {
    match crate::inspect::order_chain(certs.clone(), 0) {
        Ok(ordered) => ordered.chain,
        Err(_) => certs,
    }
}

fn pkcs12_error(name: &str, e: p12_keystore::error::Error) -> LoadError {
    use p12_keystore::error::Error as E;
    match e {
        // A MAC mismatch (RFC 7292 §5) is what a wrong password looks like;
        // a keystore without a MAC fails later, at unpadding the decryption.
        E::MacError(_) | E::UnpadError => LoadError::Pkcs12Password { name: name.into() },
        other => LoadError::Pkcs12 {
            name: name.into(),
            detail: other.to_string(),
        },
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4).
fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn self_signed_pair(alg: &'static rcgen::SignatureAlgorithm) -> (String, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["mail.example.org".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key)
    }

    fn openssl_available() -> bool {
        let found = Command::new("openssl").arg("version").output().is_ok();
        if !found {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "openssl binary missing in CI"
            );
            eprintln!("note: openssl not installed; skipping");
        }
        found
    }

    /// Runs `openssl ARGS` with `input` on stdin and returns stdout.
    fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "openssl {args:?} failed: {stderr}");
        out.stdout
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        // RFC 4648 §10 test vectors.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64_encode(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    #[test]
    fn pkcs8_key_loads_and_matches() {
        let (cert_pem, key) = self_signed_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let ck = parse_pem(cert_pem.as_bytes(), key.serialize_pem().as_bytes()).unwrap();
        assert_eq!(ck.chain.len(), 1);
        assert!(matches!(ck.key, PrivateKeyDer::Pkcs8(_)));
        assert!(key_matches_certificate(&ck.key, &ck.chain[0]).unwrap());
    }

    #[test]
    fn other_key_does_not_match() {
        let (cert_pem, _) = self_signed_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, other) = self_signed_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let ck = parse_pem(cert_pem.as_bytes(), other.serialize_pem().as_bytes()).unwrap();
        assert!(!key_matches_certificate(&ck.key, &ck.chain[0]).unwrap());
    }

    #[test]
    fn pkcs1_rsa_key_loads_and_matches() {
        if !openssl_available() {
            return;
        }
        let (cert_pem, key) = self_signed_pair(&rcgen::PKCS_RSA_SHA256);
        let pkcs1 = openssl(&["pkey", "-traditional"], key.serialize_pem().as_bytes());
        assert!(contains(&pkcs1, b"BEGIN RSA PRIVATE KEY"));
        let ck = parse_pem(cert_pem.as_bytes(), &pkcs1).unwrap();
        assert!(matches!(ck.key, PrivateKeyDer::Pkcs1(_)));
        assert!(key_matches_certificate(&ck.key, &ck.chain[0]).unwrap());
    }

    #[test]
    fn sec1_ec_key_loads_and_matches() {
        if !openssl_available() {
            return;
        }
        let (cert_pem, key) = self_signed_pair(&rcgen::PKCS_ECDSA_P384_SHA384);
        let sec1 = openssl(&["ec"], key.serialize_pem().as_bytes());
        assert!(contains(&sec1, b"BEGIN EC PRIVATE KEY"));
        let ck = parse_pem(cert_pem.as_bytes(), &sec1).unwrap();
        assert!(matches!(ck.key, PrivateKeyDer::Sec1(_)));
        assert!(key_matches_certificate(&ck.key, &ck.chain[0]).unwrap());
    }

    #[test]
    fn key_pem_round_trips_with_its_label() {
        let (_, key) = self_signed_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let der = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let pem = key_to_pem(&der);
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let back = parse_key_pem("k", pem.as_bytes()).unwrap();
        assert_eq!(back.secret_der(), der.secret_der());
    }

    #[test]
    fn pem_files_load_with_chain() {
        let dir = tempdir();
        let (cert_pem, key) = self_signed_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (other_pem, _) = self_signed_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let cert_path = dir.join("mail.crt.pem");
        let key_path = dir.join("mail.key.pem");
        fs::write(&cert_path, format!("{cert_pem}{other_pem}")).unwrap();
        fs::write(&key_path, key.serialize_pem()).unwrap();
        let ck = load_pem_files(&cert_path, &key_path).unwrap();
        assert_eq!(ck.chain.len(), 2);
        assert!(key_matches_certificate(&ck.key, &ck.chain[0]).unwrap());
    }

    fn tempdir() -> std::path::PathBuf {
        let n: u64 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let dir = std::env::temp_dir().join(format!("postern-load-{}-{n}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn messages_are_exact() {
        let cases: Vec<(LoadError, &str)> = vec![
            (
                parse_certificates_pem("certs/mail.crt.pem", b"hello").unwrap_err(),
                "certs/mail.crt.pem: no certificate found (expected a PEM \"BEGIN CERTIFICATE\" block)",
            ),
            (
                parse_key_pem(
                    "certs/mail.key.pem",
                    b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                )
                .unwrap_err(),
                "certs/mail.key.pem: private key is encrypted; Postern needs an unencrypted PKCS#8, PKCS#1 or SEC1 key (openssl pkey -in KEY -out KEY.new)",
            ),
            (
                parse_key_pem("k.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                    .unwrap_err(),
                "k.pem: no private key found (expected a PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)",
            ),
            (
                parse_certificates_pem("c.der", &[0x30, 0x82, 0x01, 0x00]).unwrap_err(),
                "c.der: this is binary DER, not PEM; convert it first (openssl x509 -inform der -in FILE -out FILE.pem for a certificate, openssl pkey -inform der -in FILE -out FILE.pem for a key)",
            ),
            (
                parse_certificates_pem(
                    "c.pem",
                    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                )
                .unwrap_err(),
                "c.pem: certificate 1 is not a valid X.509 certificate (its PEM block decodes, but not to a certificate); re-download it from the CA",
            ),
            (
                LoadError::Pkcs12Password { name: "mail.p12".into() },
                "mail.p12: wrong PKCS#12 password (the keystore's integrity check failed); give the password it was exported with",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn legacy_encrypted_pem_is_reported() {
        let pem = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(
            parse_key_pem("k", pem),
            Err(LoadError::EncryptedKey { .. })
        ));
    }

    #[test]
    fn two_keys_are_refused() {
        let (_, a) = self_signed_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, b) = self_signed_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let both = format!("{}{}", a.serialize_pem(), b.serialize_pem());
        let err = parse_key_pem("k.pem", both.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "k.pem: holds 2 private keys; keep exactly one, the one that belongs to the certificate"
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = load_pem_files(
            Path::new("/nonexistent/c.pem"),
            Path::new("/nonexistent/k.pem"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/c.pem: cannot read file: "),
            "{err}"
        );
    }

    fn pkcs12_for(cert_pem: &str, key: &rcgen::KeyPair, extra: &[&str], password: &str) -> Vec<u8> {
        use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
        let mut certs = vec![cert_pem];
        certs.extend_from_slice(extra);
        let certs = certs.iter().map(|pem| {
            let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            Certificate::from_der(&der).unwrap()
        });
        let key = PrivateKey::from_der(&key.serialize_der()).unwrap();
        let mut store = KeyStore::new();
        let chain = PrivateKeyChain::new(vec![1u8, 2, 3], key, certs);
        store.add_entry("mail", KeyStoreEntry::PrivateKeyChain(chain));
        store.writer(password).write().unwrap()
    }

    #[test]
    fn pkcs12_loads_with_right_password() {
        let (cert_pem, key) = self_signed_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let p12 = pkcs12_for(&cert_pem, &key, &[], "s3cret");
        let ck = parse_pkcs12(&p12, "s3cret").unwrap();
        assert_eq!(ck.chain.len(), 1);
        assert!(key_matches_certificate(&ck.key, &ck.chain[0]).unwrap());
    }

    #[test]
    fn pkcs12_wrong_password_has_its_own_variant() {
        let (cert_pem, key) = self_signed_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let p12 = pkcs12_for(&cert_pem, &key, &[], "s3cret");
        let err = parse_pkcs12(&p12, "wrong").unwrap_err();
        assert!(matches!(err, LoadError::Pkcs12Password { .. }), "{err}");
        let dir = tempdir();
        let path = dir.join("mail.p12");
        fs::write(&path, &p12).unwrap();
        let err = load_pkcs12_file(&path, "nope").unwrap_err();
        assert!(err
            .to_string()
            .starts_with(&format!("{}: wrong PKCS#12 password", path.display())));
    }

    #[test]
    fn pkcs12_chain_comes_out_leaf_first() {
        let mut ca = rcgen::CertificateParams::default();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let root =
            rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["mail.example.org".into()])
            .unwrap()
            .signed_by(&key, &root)
            .unwrap();
        // The keystore lists the root before the leaf.
        let p12 = pkcs12_for(&root.pem(), &key, &[&leaf.pem()], "pw");
        let ck = parse_pkcs12(&p12, "pw").unwrap();
        assert_eq!(ck.chain, vec![leaf.der().clone(), root.der().clone()]);
        assert!(key_matches_certificate(&ck.key, &ck.chain[0]).unwrap());
    }

    #[test]
    fn pkcs12_garbage_is_not_a_password_error() {
        let err = parse_pkcs12(b"not a keystore", "x").unwrap_err();
        assert!(matches!(err, LoadError::Pkcs12 { .. }), "{err}");
    }
}
