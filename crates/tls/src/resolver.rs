//! Choosing the certificate for a handshake: SNI (exact, then wildcard),
//! then the key type the client can verify, else the listener's default.
//! Never an arbitrary certificate.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use crate::certstore::{CertStore, LoadedCert};

/// The certificates one listener may serve, read from the shared, hot-swapped
/// store at every handshake.
#[derive(Debug)]
pub struct ListenerResolver {
    store: Arc<ArcSwap<CertStore>>,
    /// The `[[certificate]]` names this listener may serve.
    allowed: Vec<String>,
}

impl ListenerResolver {
    pub fn new(store: Arc<ArcSwap<CertStore>>, allowed: Vec<String>) -> Self {
        Self { store, allowed }
    }

    /// The choice, separated from rustls' `ClientHello` for testing.
    pub fn choose(
        &self,
        sni: Option<&str>,
        schemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let store = self.store.load();
        let candidates: Vec<&LoadedCert> = store
            .certs()
            .iter()
            .filter(|c| self.allowed.contains(&c.name))
            .collect();
        let by_name = sni.map(|s| s.to_ascii_lowercase()).and_then(|sni| {
            matching(&candidates, |c| c.summary.dns_names.contains(&sni))
                .or_else(|| matching(&candidates, |c| c.summary.covers_name(&sni)))
        });
        let group = by_name.unwrap_or_else(|| default_group(&candidates));
        pick_by_key_type(&group, schemes)
    }
}

impl ResolvesServerCert for ListenerResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = self.choose(hello.server_name(), hello.signature_schemes());
        if chosen.is_none() {
            tracing::warn!(
                sni = hello.server_name().unwrap_or("-"),
                "no certificate this listener may serve fits the client's signature algorithms"
            );
        }
        chosen
    }
}

fn matching<'a>(
    candidates: &[&'a LoadedCert],
    pred: impl Fn(&LoadedCert) -> bool,
) -> Option<Vec<&'a LoadedCert>> {
    let found: Vec<&LoadedCert> = candidates.iter().copied().filter(|c| pred(c)).collect();
    (!found.is_empty()).then_some(found)
}

/// The listener's default: the configured default certificate if this
/// listener may serve it, else the first certificate the listener names;
/// plus the certificates for the same names (an ECDSA/RSA pair).
fn default_group<'a>(candidates: &[&'a LoadedCert]) -> Vec<&'a LoadedCert> {
    let Some(first) = candidates
        .iter()
        .find(|c| c.default)
        .or_else(|| candidates.first())
    else {
        return Vec::new();
    };
    candidates
        .iter()
        .copied()
        .filter(|c| c.summary.dns_names == first.summary.dns_names)
        .collect()
}

/// One name may have an ECDSA and an RSA certificate: serve the first the
/// client can verify, ECDSA first (smaller, faster).
fn pick_by_key_type(
    group: &[&LoadedCert],
    schemes: &[SignatureScheme],
) -> Option<Arc<CertifiedKey>> {
    let mut group = group.to_vec();
    group.sort_by_key(|c| !is_ecdsa(c));
    group
        .into_iter()
        .find(|c| c.key.key.choose_scheme(schemes).is_some())
        .map(|c| c.key.clone())
}

fn is_ecdsa(c: &LoadedCert) -> bool {
    matches!(c.key.key.algorithm(), rustls::SignatureAlgorithm::ECDSA)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_pem;
    use postern_config::{CertSource, CertificateConfig};
    use rcgen::{CertificateParams, KeyPair};
    use time::OffsetDateTime;

    fn cert(name: &str, names: &[&str], rsa: bool, default: bool) -> LoadedCert {
        let key = if rsa {
            KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap()
        } else {
            KeyPair::generate().unwrap()
        };
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let c = params.self_signed(&key).unwrap();
        let ck = parse_pem(c.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
        let config = CertificateConfig {
            name: name.to_owned(),
            source: CertSource::Pem {
                cert: "c".into(),
                key: "k".into(),
            },
            default,
        };
        LoadedCert::from_cert_key(&config, ck, OffsetDateTime::now_utc()).unwrap()
    }

    fn resolver(certs: Vec<LoadedCert>, allowed: &[&str]) -> ListenerResolver {
        let store = Arc::new(ArcSwap::from_pointee(CertStore::from_loaded(certs)));
        ListenerResolver::new(store, allowed.iter().map(|s| s.to_string()).collect())
    }

    const ECDSA_AND_RSA: &[SignatureScheme] = &[
        SignatureScheme::ECDSA_NISTP256_SHA256,
        SignatureScheme::RSA_PSS_SHA256,
    ];

    fn served(
        r: &ListenerResolver,
        sni: Option<&str>,
        schemes: &[SignatureScheme],
    ) -> Option<String> {
        let chosen = r.choose(sni, schemes)?;
        let store = r.store.load();
        store
            .certs()
            .iter()
            .find(|c| Arc::ptr_eq(&c.key, &chosen))
            .map(|c| c.name.clone())
    }

    #[test]
    fn sni_exact_then_wildcard_then_default() {
        let r = resolver(
            vec![
                cert("main", &["mail.example.com"], false, true),
                cert("wild", &["*.example.org"], false, false),
                cert("exact", &["imap.example.org"], false, false),
            ],
            &["main", "wild", "exact"],
        );
        assert_eq!(
            served(&r, Some("imap.example.org"), ECDSA_AND_RSA).as_deref(),
            Some("exact")
        );
        assert_eq!(
            served(&r, Some("POP.example.org"), ECDSA_AND_RSA).as_deref(),
            Some("wild")
        );
        assert_eq!(
            served(&r, Some("a.b.example.org"), ECDSA_AND_RSA).as_deref(),
            Some("main")
        );
        assert_eq!(served(&r, None, ECDSA_AND_RSA).as_deref(), Some("main"));
    }

    #[test]
    fn a_listener_serves_only_its_certificates() {
        let r = resolver(
            vec![
                cert("main", &["mail.example.com"], false, true),
                cert("other", &["other.example.com"], false, false),
            ],
            &["other"],
        );
        // The global default is not this listener's: its own first one is.
        assert_eq!(served(&r, None, ECDSA_AND_RSA).as_deref(), Some("other"));
        assert_eq!(
            served(&r, Some("mail.example.com"), ECDSA_AND_RSA).as_deref(),
            Some("other")
        );
    }

    #[test]
    fn the_clients_signature_algorithms_pick_ecdsa_or_rsa() {
        let r = resolver(
            vec![
                cert("rsa", &["mail.example.com"], true, true),
                cert("ecdsa", &["mail.example.com"], false, false),
            ],
            &["rsa", "ecdsa"],
        );
        assert_eq!(
            served(&r, Some("mail.example.com"), ECDSA_AND_RSA).as_deref(),
            Some("ecdsa")
        );
        let rsa_only = &[
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PKCS1_SHA256,
        ];
        assert_eq!(
            served(&r, Some("mail.example.com"), rsa_only).as_deref(),
            Some("rsa")
        );
        assert_eq!(served(&r, None, rsa_only).as_deref(), Some("rsa"));
        let ed25519_only = &[SignatureScheme::ED25519];
        assert_eq!(served(&r, None, ed25519_only), None);
    }
}
