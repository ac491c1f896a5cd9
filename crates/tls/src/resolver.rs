//! Choosing the certificate for a handshake: SNI (exact, then wildcard),
//! then the key type the client can verify, else the listener's default.
//! Never an arbitrary certificate.
//!
//! A listener that answers tls-alpn-01 (RFC 8737) also holds the shared
//! [`AcmeChallenges`]: a ClientHello offering only `acme-tls/1` for a name
//! with a pending challenge gets the challenge certificate, and any other
//! ClientHello offering `acme-tls/1` without this listener's own protocol
//! gets no certificate at all, so `acme-tls/1` is never negotiated outside
//! a validation (the ALPACA defence stays strict).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use crate::certstore::{CertStore, LoadedCert};

/// The ALPN protocol of tls-alpn-01, RFC 8737 §6.2.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// tls-alpn-01 challenge certificates by lower-case name, shared by the
/// listeners' resolvers and whoever answers an ACME order. Empty except
/// while an order runs.
#[derive(Debug, Clone, Default)]
pub struct AcmeChallenges(Arc<RwLock<HashMap<String, Arc<CertifiedKey>>>>);

/// The challenge maps of the certificate stores alive in this process,
/// found by the store's identity: the listeners and the renewal job share
/// the store handle, so they find the same map.
type Registry = Mutex<Vec<(Weak<ArcSwap<CertStore>>, AcmeChallenges)>>;
static REGISTRY: Registry = Mutex::new(Vec::new());

impl AcmeChallenges {
    /// The map that resolvers reading `store` consult.
    pub fn of(store: &Arc<ArcSwap<CertStore>>) -> Self {
        let mut reg = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
        reg.retain(|(w, _)| w.strong_count() > 0);
        if let Some((_, c)) = reg
            .iter()
            .find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(store)))
        {
            return c.clone();
        }
        let c = Self::default();
        reg.push((Arc::downgrade(store), c.clone()));
        c
    }

    /// Serves `key` to `acme-tls/1` ClientHellos for `name`.
    pub fn publish(&self, name: &str, key: Arc<CertifiedKey>) {
        let mut m = self.0.write().unwrap_or_else(|p| p.into_inner());
        m.insert(name.to_ascii_lowercase(), key);
    }

    /// Stops serving the challenge for `name`.
    pub fn withdraw(&self, name: &str) {
        let mut m = self.0.write().unwrap_or_else(|p| p.into_inner());
        m.remove(&name.to_ascii_lowercase());
    }

    /// The challenge certificate for `name`, if one is pending.
    pub fn get(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let m = self.0.read().unwrap_or_else(|p| p.into_inner());
        m.get(&name.to_ascii_lowercase()).cloned()
    }
}

/// The certificates one listener may serve, read from the shared, hot-swapped
/// store at every handshake.
#[derive(Debug)]
pub struct ListenerResolver {
    store: Arc<ArcSwap<CertStore>>,
    /// The `[[certificate]]` names this listener may serve.
    allowed: Vec<String>,
    /// tls-alpn-01 answers, on listeners that give them.
    acme: Option<Acme>,
}

#[derive(Debug)]
struct Acme {
    challenges: AcmeChallenges,
    /// The listener's own ALPN ids: a ClientHello offering one of them is
    /// an ordinary client, served as usual.
    own: Vec<Vec<u8>>,
}

/// What a ClientHello's ALPN offer asks of a tls-alpn-01 listener.
#[derive(Debug, PartialEq, Eq)]
enum AlpnAsk {
    Ordinary,
    /// Only `acme-tls/1` (RFC 8737 §3: the CA offers nothing else).
    Validation,
    /// `acme-tls/1` among protocols this listener does not speak.
    Refuse,
}

impl ListenerResolver {
    pub fn new(store: Arc<ArcSwap<CertStore>>, allowed: Vec<String>) -> Self {
        Self {
            store,
            allowed,
            acme: None,
        }
    }

    /// Also answers tls-alpn-01 from `challenges`; `own` are the listener's
    /// ALPN ids. The listener must offer `acme-tls/1` after its own ids and
    /// close a connection that negotiated it right after the handshake.
    pub fn with_acme(mut self, challenges: AcmeChallenges, own: Vec<Vec<u8>>) -> Self {
        self.acme = Some(Acme { challenges, own });
        self
    }

    /// The choice including tls-alpn-01, separated from rustls'
    /// `ClientHello` for testing; `alpn` is the client's offer.
    pub fn choose_for(
        &self,
        sni: Option<&str>,
        schemes: &[SignatureScheme],
        alpn: Option<&[&[u8]]>,
    ) -> Option<Arc<CertifiedKey>> {
        let Some(acme) = &self.acme else {
            return self.choose(sni, schemes);
        };
        match ask(alpn, &acme.own) {
            AlpnAsk::Ordinary => self.choose(sni, schemes),
            AlpnAsk::Refuse => None,
            AlpnAsk::Validation => {
                let key = acme.challenges.get(sni?)?;
                key.key.choose_scheme(schemes).is_some().then_some(key)
            }
        }
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

fn ask(alpn: Option<&[&[u8]]>, own: &[Vec<u8>]) -> AlpnAsk {
    let Some(offer) = alpn else {
        return AlpnAsk::Ordinary;
    };
    if !offer.contains(&ACME_TLS_ALPN) || offer.iter().any(|p| own.iter().any(|o| o == p)) {
        AlpnAsk::Ordinary
    } else if offer.iter().all(|p| *p == ACME_TLS_ALPN) {
        AlpnAsk::Validation
    } else {
        AlpnAsk::Refuse
    }
}

impl ResolvesServerCert for ListenerResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let alpn: Option<Vec<&[u8]>> = hello.alpn().map(Iterator::collect);
        let chosen = self.choose_for(
            hello.server_name(),
            hello.signature_schemes(),
            alpn.as_deref(),
        );
        if chosen.is_none() && alpn.as_deref().is_some_and(|a| a.contains(&ACME_TLS_ALPN)) {
            tracing::warn!(
                sni = hello.server_name().unwrap_or("-"),
                "refused an acme-tls/1 handshake: no tls-alpn-01 challenge is pending for that name"
            );
        } else if chosen.is_none() {
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

    fn acme_resolver(challenges: &AcmeChallenges) -> ListenerResolver {
        resolver(
            vec![cert("main", &["mail.example.com"], false, true)],
            &["main"],
        )
        .with_acme(challenges.clone(), vec![b"http/1.1".to_vec()])
    }

    #[test]
    fn acme_tls_alone_for_a_pending_name_gets_the_challenge_certificate() {
        let challenges = AcmeChallenges::default();
        let r = acme_resolver(&challenges);
        let acme: &[&[u8]] = &[ACME_TLS_ALPN];
        // Nothing pending: no certificate, so acme-tls/1 is never agreed.
        assert!(r
            .choose_for(Some("mail.example.com"), ECDSA_AND_RSA, Some(acme))
            .is_none());
        let challenge = cert("c", &["mail.example.com"], false, false).key;
        challenges.publish("Mail.Example.com", challenge.clone());
        let got = r
            .choose_for(Some("mail.example.com"), ECDSA_AND_RSA, Some(acme))
            .unwrap();
        assert!(Arc::ptr_eq(&got, &challenge));
        // Another name, or no name: refused.
        assert!(r
            .choose_for(Some("other.example.com"), ECDSA_AND_RSA, Some(acme))
            .is_none());
        assert!(r.choose_for(None, ECDSA_AND_RSA, Some(acme)).is_none());
        challenges.withdraw("mail.example.com");
        assert!(r
            .choose_for(Some("mail.example.com"), ECDSA_AND_RSA, Some(acme))
            .is_none());
    }

    #[test]
    fn ordinary_clients_never_see_the_challenge_certificate() {
        let challenges = AcmeChallenges::default();
        let r = acme_resolver(&challenges);
        let challenge = cert("c", &["mail.example.com"], false, false).key;
        challenges.publish("mail.example.com", challenge.clone());
        let name = Some("mail.example.com");
        let ordinary = |alpn: Option<&[&[u8]]>| {
            let got = r.choose_for(name, ECDSA_AND_RSA, alpn).unwrap();
            assert!(!Arc::ptr_eq(&got, &challenge), "{alpn:?}");
        };
        ordinary(None);
        ordinary(Some(&[b"http/1.1"]));
        // With the listener's own protocol, that one is agreed (ours first).
        ordinary(Some(&[ACME_TLS_ALPN, b"http/1.1"]));
        // acme-tls/1 beside a protocol we do not speak: it would be the
        // one agreed, so no certificate at all.
        assert!(r
            .choose_for(name, ECDSA_AND_RSA, Some(&[ACME_TLS_ALPN, b"imap"]))
            .is_none());
        // A listener without tls-alpn-01 ignores the map entirely.
        let plain = resolver(
            vec![cert("main", &["mail.example.com"], false, true)],
            &["main"],
        );
        let got = plain
            .choose_for(name, ECDSA_AND_RSA, Some(&[ACME_TLS_ALPN]))
            .unwrap();
        assert!(!Arc::ptr_eq(&got, &challenge));
    }

    #[test]
    fn one_store_has_one_challenge_map() {
        let store = Arc::new(ArcSwap::from_pointee(CertStore::default()));
        let other = Arc::new(ArcSwap::from_pointee(CertStore::default()));
        let key = cert("c", &["mail.example.com"], false, false).key;
        AcmeChallenges::of(&store).publish("mail.example.com", key);
        assert!(AcmeChallenges::of(&store).get("mail.example.com").is_some());
        assert!(AcmeChallenges::of(&other).get("mail.example.com").is_none());
    }
}
