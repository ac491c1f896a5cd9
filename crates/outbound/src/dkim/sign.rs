//! Signing a message with every key of its author's domain.
//!
//! The domain is that of the RFC 5322 `From:` address, so the signature
//! aligns with it for DMARC (RFC 7489 §3.1.1). Each key of the domain
//! signs (an Ed25519 and an RSA key: the double signature of RFC 8463
//! §6, for verifiers that know only RSA), relaxed/relaxed (RFC 6376
//! §3.4.2, §3.4.4: survives the header re-folding and trailing-space
//! changes relays commonly make).
//!
//! Keys are read at start and looked at again before each signature: a
//! key that `postern dkim generate` adds or replaces is used from the
//! next message on, without a restart. The check is a directory listing
//! of the one domain (a few `stat`s), and a key is parsed again only when
//! its file changed.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::keys::{self, Algorithm, KeyError, KeyFile};

/// The header fields signed, RFC 6376 §5.4.1's list. A field named here
/// that the message lacks is signed as absent, so nobody can add it on
/// the way; `From` is named twice (oversigned), so not even a second
/// `From` can be added without breaking the signature (RFC 6376 §8.15).
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "From",
];

/// A message's author domains beyond this many are not signed for (RFC
/// 5322 allows several From addresses; DMARC receivers reject most such
/// messages anyway, RFC 7489 §6.6.1).
const MAX_FROM_DOMAINS: usize = 4;

/// Signs outgoing messages with the keys under a directory.
pub struct Signer {
    dir: PathBuf,
    domains: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("dir", &self.dir).finish()
    }
}

/// A domain's keys as last read, with what the directory looked like.
struct Cached {
    stamp: Stamp,
    keys: Arc<Vec<Loaded>>,
}

/// File names with their modification times and sizes.
type Stamp = Vec<(OsString, Option<SystemTime>, u64)>;

struct Loaded {
    selector: String,
    signer: DkimSigner<DkimKey, Done>,
}

impl Signer {
    /// Reads every key under `dir` (`dir/DOMAIN/SELECTOR.ALG.pem`); a key
    /// that cannot be used is an error naming its file, so the server
    /// does not start sending unsigned mail for a domain that publishes
    /// a DMARC policy. An absent directory is no key at all.
    pub fn open(dir: &Path) -> Result<Self, Vec<KeyError>> {
        let signer = Self {
            dir: dir.to_owned(),
            domains: Mutex::new(HashMap::new()),
        };
        let mut errors = Vec::new();
        for domain in keys::domains(dir).map_err(|e| vec![e])? {
            if let Err(mut e) = signer.keys(&domain) {
                errors.append(&mut e);
            }
        }
        if errors.is_empty() {
            Ok(signer)
        } else {
            Err(errors)
        }
    }

    /// How many keys there are now, by domain (for the start-up log).
    pub fn summary(&self) -> Vec<(String, usize)> {
        let map = self.domains.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, usize)> = map
            .iter()
            .filter(|(_, c)| !c.keys.is_empty())
            .map(|(d, c)| (d.clone(), c.keys.len()))
            .collect();
        out.sort();
        out
    }

    /// The `DKIM-Signature:` fields to put in front of `message`, one per
    /// key of each author domain; empty when no author domain has a key.
    /// A key that fails is logged and skipped: the message still goes,
    /// unsigned by it.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for domain in author_domains(message) {
            let keys = match self.keys(&domain) {
                Ok(k) => k,
                Err(errors) => {
                    for e in errors {
                        tracing::error!(domain, error = %e, "DKIM key unusable; mail from this domain goes out unsigned until it is fixed");
                    }
                    continue;
                }
            };
            for k in keys.iter() {
                match sign_one(k, message) {
                    Ok(header) => out.extend_from_slice(header.as_bytes()),
                    Err(e) => {
                        tracing::error!(domain, selector = k.selector, error = %e, "DKIM signing failed")
                    }
                }
            }
        }
        out
    }

    /// The keys of a domain, read again if its directory changed.
    fn keys(&self, domain: &str) -> Result<Arc<Vec<Loaded>>, Vec<KeyError>> {
        let stamp = stamp(&self.dir.join(domain));
        {
            let map = self.domains.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = map.get(domain).filter(|c| c.stamp == stamp) {
                return Ok(c.keys.clone());
            }
        }
        let files = keys::domain_keys(&self.dir, domain)?;
        let loaded = files
            .into_iter()
            .map(|f| load(domain, f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| vec![e])?;
        let keys = Arc::new(loaded);
        let mut map = self.domains.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(
            domain.to_owned(),
            Cached {
                stamp,
                keys: keys.clone(),
            },
        );
        Ok(keys)
    }
}

fn stamp(dir: &Path) -> Stamp {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Stamp = entries
        .flatten()
        .map(|e| {
            let meta = e.metadata().ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            (e.file_name(), modified, meta.map_or(0, |m| m.len()))
        })
        .collect();
    out.sort();
    out
}

fn load(domain: &str, file: KeyFile) -> Result<Loaded, KeyError> {
    let der = file.pkcs8.expose();
    let bad = |e: mail_auth::Error| KeyError::BadKey {
        path: file.path.clone(),
        algorithm: file.public.algorithm,
        message: e.to_string(),
    };
    let key = match file.public.algorithm {
        Algorithm::Ed25519 => DkimKey::Ed25519(Ed25519Key::from_pkcs8_der(der).map_err(bad)?),
        Algorithm::Rsa => DkimKey::Rsa(
            RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                der.as_slice(),
            )))
            .map_err(bad)?,
        ),
    };
    let signer = DkimSigner::from_key(key)
        .domain(domain)
        .selector(file.selector.as_str())
        .headers(SIGNED_HEADERS.iter().copied())
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed);
    Ok(Loaded {
        selector: file.selector,
        signer,
    })
}

fn sign_one(k: &Loaded, message: &[u8]) -> Result<String, mail_auth::Error> {
    Ok(k.signer.sign(message)?.to_header())
}

/// The distinct domains of the `From:` addresses, lowercase.
pub fn author_domains(message: &[u8]) -> Vec<String> {
    let parsed = mail_parser::MessageParser::new().parse_headers(message);
    let mut out: Vec<String> = Vec::new();
    let addresses = parsed.as_ref().and_then(|m| m.from());
    for addr in addresses.into_iter().flat_map(|a| a.iter()) {
        let Some((_, domain)) = addr.address().and_then(|a| a.rsplit_once('@')) else {
            continue;
        };
        let Ok(domain) = keys::normalize_domain(domain) else {
            continue;
        };
        if !out.contains(&domain) && out.len() < MAX_FROM_DOMAINS {
            out.push(domain);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_author_domain_comes_from_the_from_field() {
        let msg = b"Sender: x@other.example\r\nFrom: \"A @ B\" <Alice@Example.ORG>, bob@example.org, c@third.example\r\n\r\nhi\r\n";
        assert_eq!(author_domains(msg), ["example.org", "third.example"]);
        assert!(author_domains(b"Subject: none\r\n\r\n").is_empty());
    }

    #[test]
    fn a_message_is_signed_once_per_key_and_a_new_key_is_seen_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let msg = b"From: alice@example.org\r\nSubject: x\r\n\r\nbody\r\n";
        let signer = Signer::open(dir.path()).unwrap();
        assert!(signer.sign(msg).is_empty(), "no key, no signature");
        let key = keys::generate(Algorithm::Ed25519).unwrap();
        keys::write_key(dir.path(), "example.org", "a", &key, false).unwrap();
        let signed = String::from_utf8(signer.sign(msg)).unwrap();
        assert_eq!(signed.matches("DKIM-Signature:").count(), 1, "{signed}");
        assert!(signed.contains("d=example.org"), "{signed}");
        assert!(signed.contains("s=a;"), "{signed}");
        assert!(signed.contains("c=relaxed/relaxed"), "{signed}");
        let key = keys::generate(Algorithm::Rsa).unwrap();
        keys::write_key(dir.path(), "example.org", "b", &key, false).unwrap();
        let signed = String::from_utf8(signer.sign(msg)).unwrap();
        assert_eq!(signed.matches("DKIM-Signature:").count(), 2, "{signed}");
        assert!(signed.contains("a=rsa-sha256"), "{signed}");
    }

    #[test]
    fn a_broken_key_stops_the_start_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("example.org")).unwrap();
        std::fs::write(dir.path().join("example.org/s.rsa.pem"), "not a key").unwrap();
        let errors = Signer::open(dir.path()).unwrap_err();
        assert!(errors[0].to_string().contains("s.rsa.pem"), "{}", errors[0]);
    }
}
