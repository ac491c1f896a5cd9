//! rustls client configurations for delivery, one per connection, each
//! recording what its certificate check found so that every delivery can
//! log it (and TLS-RPT can count it).

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

use crate::dane::{DaneMatch, DaneVerifier};
use crate::dns::Tlsa;

/// The result of the certificate check of one handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Valid for the host name under the WebPKI (and extra) roots.
    Pkix,
    /// Matched the TLSA records.
    Dane(DaneMatch),
    /// Checked and failed; the reason.
    Failed(String),
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pkix => f.write_str("verified (PKIX)"),
            Self::Dane(DaneMatch::EndEntity) => f.write_str("verified (DANE-EE)"),
            Self::Dane(DaneMatch::TrustAnchor { .. }) => f.write_str("verified (DANE-TA)"),
            Self::Failed(e) => write!(f, "not verified: {e}"),
        }
    }
}

/// Where a verifier leaves its finding for the connection that used it.
#[derive(Debug, Clone, Default)]
pub struct Outcome(Arc<Mutex<Option<Verification>>>);

impl Outcome {
    pub fn set(&self, v: Verification) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
    }

    pub fn get(&self) -> Option<Verification> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A TLSA mismatch, as a rustls "other" certificate error.
#[derive(Debug)]
pub struct Mismatch(pub String);

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Mismatch {}

/// How one connection checks the server's certificate.
#[derive(Debug, Clone)]
pub enum Check {
    /// PKIX for the host name; `enforce: false` only records the result
    /// (opportunistic TLS: RFC 7435 says an unauthenticated session beats
    /// plain text).
    Pkix { enforce: bool },
    /// The TLSA records (RFC 7672 §3).
    Dane(Vec<Tlsa>),
}

/// The trust anchors and crypto provider, shared by every connection.
#[derive(Debug, Clone)]
pub struct Trust {
    provider: Arc<CryptoProvider>,
    /// `None` without any anchor: PKIX then fails closed.
    pkix: Option<Arc<WebPkiServerVerifier>>,
    /// How many anchors we have.
    pub anchors: usize,
}

/// Where Linux distributions keep the CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

impl Trust {
    /// The system's bundle (if asked for) and the extra roots.
    pub fn new(system: bool, extra: &[CertificateDer<'static>]) -> Result<Self, String> {
        // The provider's defaults are the server's too: TLS 1.3 and 1.2,
        // forward-secret suites, X25519MLKEM768 first.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        if system && load_system_roots(&mut roots) == 0 {
            tracing::warn!(
                "no system CA bundle found: only configured trust anchors verify outbound TLS"
            );
        }
        for c in extra {
            roots
                .add(c.clone())
                .map_err(|e| format!("extra trust anchor: {e}"))?;
        }
        let anchors = roots.len();
        let pkix = if anchors == 0 {
            None
        } else {
            let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| e.to_string())?;
            Some(v)
        };
        Ok(Self {
            provider,
            pkix,
            anchors,
        })
    }

    /// A client configuration for one connection, and where its check
    /// result will be.
    pub fn client_config(&self, check: Check, alpn: &[&[u8]]) -> (Arc<ClientConfig>, Outcome) {
        let outcome = Outcome::default();
        let verifier: Arc<dyn ServerCertVerifier> = match check {
            Check::Pkix { enforce } => Arc::new(Recording {
                inner: self.pkix.clone(),
                enforce,
                outcome: outcome.clone(),
                provider: self.provider.clone(),
            }),
            Check::Dane(records) => Arc::new(DaneVerifier::new(
                records,
                self.provider.clone(),
                outcome.clone(),
            )),
        };
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the default provider supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        (Arc::new(config), outcome)
    }
}

/// Adds the system's CA bundle (`SSL_CERT_FILE`, else the first of the
/// distributions' usual places that holds certificates) to `roots`;
/// returns how many were added (none: no bundle found).
pub fn load_system_roots(roots: &mut RootCertStore) -> usize {
    let from_env = std::env::var("SSL_CERT_FILE").ok();
    let paths = from_env
        .iter()
        .map(String::as_str)
        .chain(SYSTEM_BUNDLES.iter().copied());
    for path in paths {
        let Ok(iter) = CertificateDer::pem_file_iter(path) else {
            continue;
        };
        let (added, _) = roots.add_parsable_certificates(iter.flatten());
        if added > 0 {
            tracing::debug!(path, added, "system trust anchors loaded");
            return added;
        }
    }
    0
}

/// PKIX verification that records its result, and fails the handshake
/// only when enforced.
#[derive(Debug)]
struct Recording {
    inner: Option<Arc<WebPkiServerVerifier>>,
    enforce: bool,
    outcome: Outcome,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let r = match &self.inner {
            Some(v) => v.verify_server_cert(end_entity, intermediates, name, ocsp, now),
            None => Err(Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        };
        self.outcome.set(match &r {
            Ok(_) => Verification::Pkix,
            Err(e) => Verification::Failed(e.to_string()),
        });
        if self.enforce {
            r
        } else {
            Ok(ServerCertVerified::assertion())
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
