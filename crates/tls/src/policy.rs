//! The rustls server configuration of a listener, from the TLS policy.
//!
//! Secure defaults live here: TLS 1.2 and 1.3 only (RFC 8996 deprecates
//! older), forward-secret suites only (every suite rustls implements is ECDHE
//! or TLS 1.3), the provider's key-exchange groups with X25519MLKEM768 first,
//! server cipher order, and strict ALPN.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use postern_config::{ClientAuth, Listener, TlsPolicy, TlsVersion};
use rustls::crypto::aws_lc_rs;
use rustls::crypto::CryptoProvider;
use rustls::server::{NoClientAuth, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::certstore::CertStore;
use crate::resolver::{AcmeChallenges, ListenerResolver, ACME_TLS_ALPN};

/// Why a listener's TLS configuration cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("tls.cipher_suites: unknown cipher suite \"{name}\"; available: {available}")]
    UnknownSuite { name: String, available: String },
    #[error("tls.cipher_suites: no suite left for TLS {version} (min_version allows it); add one of: {available}")]
    NoSuiteForVersion {
        version: &'static str,
        available: String,
    },
    #[error("listener \"{listener}\": client_ca {path}: {message}")]
    ClientCa {
        listener: String,
        path: String,
        message: String,
    },
    #[error("listener \"{listener}\": {message}")]
    Rustls { listener: String, message: String },
}

/// What a listener offers, for the start-up log and the admin pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub versions: Vec<&'static str>,
    pub suites: Vec<String>,
    pub groups: Vec<String>,
    pub alpn: Vec<String>,
    pub client_certificates: &'static str,
}

impl fmt::Display for Offered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "versions [{}] suites [{}] groups [{}] alpn [{}] client certificates {}",
            self.versions.join(", "),
            self.suites.join(", "),
            self.groups.join(", "),
            self.alpn.join(", "),
            self.client_certificates
        )
    }
}

/// The crypto provider narrowed to the configured suites.
pub fn provider(policy: &TlsPolicy) -> Result<CryptoProvider, PolicyError> {
    let mut provider = aws_lc_rs::default_provider();
    if !policy.cipher_suites.is_empty() {
        provider.cipher_suites = policy
            .cipher_suites
            .iter()
            .map(|name| suite_by_name(name))
            .collect::<Result<_, _>>()?;
    }
    for v in versions(policy) {
        if !provider.cipher_suites.iter().any(|s| s.version() == *v) {
            return Err(PolicyError::NoSuiteForVersion {
                version: version_name(v),
                available: available_suites(),
            });
        }
    }
    Ok(provider)
}

fn suite_by_name(name: &str) -> Result<SupportedCipherSuite, PolicyError> {
    aws_lc_rs::ALL_CIPHER_SUITES
        .iter()
        .find(|s| suite_name(s).eq_ignore_ascii_case(name))
        .copied()
        .ok_or_else(|| PolicyError::UnknownSuite {
            name: name.to_owned(),
            available: available_suites(),
        })
}

/// The IANA name of a suite, as rustls spells it.
pub fn suite_name(s: &SupportedCipherSuite) -> String {
    format!("{:?}", s.suite())
}

fn available_suites() -> String {
    aws_lc_rs::ALL_CIPHER_SUITES
        .iter()
        .map(suite_name)
        .collect::<Vec<_>>()
        .join(", ")
}

static TLS13_AND_12: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn versions(policy: &TlsPolicy) -> &'static [&'static SupportedProtocolVersion] {
    match policy.min_version {
        TlsVersion::Tls12 => TLS13_AND_12,
        TlsVersion::Tls13 => TLS13_ONLY,
    }
}

fn version_name(v: &SupportedProtocolVersion) -> &'static str {
    match v.version {
        rustls::ProtocolVersion::TLSv1_3 => "1.3",
        _ => "1.2",
    }
}

/// Builds the server configuration of one listener.
pub fn server_config(
    policy: &TlsPolicy,
    listener: &Listener,
    store: Arc<ArcSwap<CertStore>>,
) -> Result<(Arc<ServerConfig>, Offered), PolicyError> {
    let provider = Arc::new(provider(policy)?);
    let rustls_err = |e: rustls::Error| PolicyError::Rustls {
        listener: listener.name.clone(),
        message: e.to_string(),
    };
    let verifier = client_verifier(listener, provider.clone())?;
    let own: Vec<Vec<u8>> = listener
        .service
        .alpn_ids()
        .iter()
        .map(|id| id.to_vec())
        .collect();
    let mut resolver = ListenerResolver::new(store.clone(), listener.certificates.clone());
    let acme = answers_tls_alpn01(listener);
    if acme {
        resolver = resolver.with_acme(AcmeChallenges::of(&store), own.clone());
    }
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(policy))
        .map_err(rustls_err)?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(resolver));
    // ALPACA defence (and RFC 7301 §3.2): a client that offers ALPN ids and
    // none of this service's is talking to the wrong service; rustls answers
    // it with the no_application_protocol alert. Clients offering no ALPN at
    // all (most mail clients) are served.
    config.alpn_protocols = own;
    if acme {
        // Last, so a client offering it beside ours gets ours. The resolver
        // gives no certificate to a ClientHello that would agree on it
        // without a pending challenge, so it is never agreed otherwise.
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    // Our suite order (strongest first) wins over the client's.
    config.ignore_client_order = true;
    let offered = offered(policy, listener, &provider, &config);
    Ok((Arc::new(config), offered))
}

/// The listeners that answer tls-alpn-01 (RFC 8737 §3: port 443): the
/// HTTPS ones, whose connection loop closes a validation connection right
/// after its handshake. Not a proxy: its back end would get the connection.
pub fn answers_tls_alpn01(listener: &Listener) -> bool {
    listener.service == postern_types::Service::Https && listener.proxy.is_none()
}

fn offered(
    policy: &TlsPolicy,
    listener: &Listener,
    provider: &CryptoProvider,
    config: &ServerConfig,
) -> Offered {
    let versions = versions(policy);
    Offered {
        versions: versions.iter().map(|v| version_name(v)).collect(),
        suites: provider
            .cipher_suites
            .iter()
            .filter(|s| versions.iter().any(|v| s.version() == *v))
            .map(suite_name)
            .collect(),
        groups: provider
            .kx_groups
            .iter()
            .map(|g| format!("{:?}", g.name()))
            .collect(),
        alpn: config
            .alpn_protocols
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
        client_certificates: match listener.client_auth {
            ClientAuth::None => "none",
            ClientAuth::Optional { .. } => "optional",
            ClientAuth::Required { .. } => "required",
        },
    }
}

fn client_verifier(
    listener: &Listener,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, PolicyError> {
    let (ca, optional) = match &listener.client_auth {
        ClientAuth::None => return Ok(Arc::new(NoClientAuth)),
        ClientAuth::Optional { ca } => (ca, true),
        ClientAuth::Required { ca } => (ca, false),
    };
    let ca_err = |message: String| PolicyError::ClientCa {
        listener: listener.name.clone(),
        path: ca.display().to_string(),
        message,
    };
    let roots = client_roots(ca).map_err(ca_err)?;
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = if optional {
        builder.allow_unauthenticated()
    } else {
        builder
    };
    builder.build().map_err(|e| ca_err(e.to_string()))
}

/// Reads the CA bundle that signs client certificates.
pub fn client_roots(path: &Path) -> Result<RootCertStore, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read it: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
    if certs.is_empty() {
        return Err("holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)".to_owned());
    }
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| format!("a certificate in it is unusable as a CA: {e}"))?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min: TlsVersion, suites: &[&str]) -> TlsPolicy {
        TlsPolicy {
            min_version: min,
            cipher_suites: suites.iter().map(|s| s.to_string()).collect(),
            expiry_warning_days: 30,
            expiry_error_days: 7,
        }
    }

    #[test]
    fn unknown_suite_names_are_refused_with_the_choices() {
        let e = provider(&policy(TlsVersion::Tls12, &["TLS_RSA_WITH_RC4_128_SHA"]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("tls.cipher_suites: unknown cipher suite \"TLS_RSA_WITH_RC4_128_SHA\"; available: TLS13_AES_256_GCM_SHA384,"), "{e}");
    }

    #[test]
    fn every_version_allowed_needs_a_suite() {
        let e = provider(&policy(TlsVersion::Tls12, &["TLS13_AES_256_GCM_SHA384"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("tls.cipher_suites: no suite left for TLS 1.2"),
            "{e}"
        );
        let p = provider(&policy(TlsVersion::Tls13, &["tls13_aes_256_gcm_sha384"])).unwrap();
        assert_eq!(p.cipher_suites.len(), 1);
    }

    #[test]
    fn defaults_are_forward_secret_with_post_quantum_first() {
        let p = provider(&policy(TlsVersion::Tls12, &[])).unwrap();
        for s in &p.cipher_suites {
            let name = suite_name(s);
            assert!(
                name.starts_with("TLS13_") || name.starts_with("TLS_ECDHE_"),
                "{name}"
            );
        }
        assert_eq!(format!("{:?}", p.kx_groups[0].name()), "X25519MLKEM768");
    }
}
