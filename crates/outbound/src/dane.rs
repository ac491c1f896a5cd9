//! DANE for SMTP (RFC 7672): TLSA records matched against the certificates
//! an MX host presents.
//!
//! Only DANE-EE (3) and DANE-TA (2) are usable for SMTP (RFC 7672 §3.1.3:
//! PKIX-TA and PKIX-EE records are ignored). DANE-EE checks the server's
//! own certificate or key and nothing else: no name, no expiry (§3.1.1).
//! DANE-TA finds the trust anchor in the chain the server sent, then
//! validates the chain up to it with the MX host name as reference
//! identifier (§3.1.2, §3.2.3).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use sha2::{Digest as _, Sha256, Sha512};

use crate::dns::Tlsa;

/// DANE-TA (RFC 7218 names).
pub const DANE_TA: u8 = 2;
/// DANE-EE.
pub const DANE_EE: u8 = 3;

/// Whether a record can be used for SMTP at all (RFC 7672 §3.1.3, and
/// known selector / matching types, RFC 6698 §2.1.2-2.1.3).
pub fn usable(t: &Tlsa) -> bool {
    matches!(t.usage, DANE_TA | DANE_EE) && t.selector <= 1 && t.matching <= 2
}

/// Whether `cert` matches the record's selector and matching type.
pub fn matches(t: &Tlsa, cert: &CertificateDer<'_>) -> bool {
    let selected = match t.selector {
        0 => cert.as_ref().to_vec(),
        1 => match webpki::EndEntityCert::try_from(cert) {
            Ok(c) => c.subject_public_key_info().as_ref().to_vec(),
            Err(_) => return false,
        },
        _ => return false,
    };
    match t.matching {
        0 => selected == t.data,
        1 => Sha256::digest(&selected).as_slice() == t.data,
        2 => Sha512::digest(&selected).as_slice() == t.data,
        _ => false,
    }
}

/// What matched, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaneMatch {
    /// `3 s m`: the server's own certificate or key.
    EndEntity,
    /// `2 s m` at this depth of the chain, and the chain validated.
    TrustAnchor { depth: usize },
}

/// Checks a presented chain against the usable records. `Err` carries
/// the reason for the log and the TLS-RPT counters.
pub fn check(
    records: &[Tlsa],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    name: &ServerName<'_>,
    now: UnixTime,
    provider: &Arc<CryptoProvider>,
) -> Result<DaneMatch, String> {
    let usable: Vec<&Tlsa> = records.iter().filter(|t| usable(t)).collect();
    if usable
        .iter()
        .any(|t| t.usage == DANE_EE && matches(t, end_entity))
    {
        return Ok(DaneMatch::EndEntity);
    }
    let mut last_err = "no TLSA record matches the certificate chain".to_owned();
    for (i, ca) in intermediates.iter().enumerate() {
        if !usable.iter().any(|t| t.usage == DANE_TA && matches(t, ca)) {
            continue;
        }
        match validate_to_anchor(ca, end_entity, &intermediates[..i], name, now, provider) {
            Ok(()) => return Ok(DaneMatch::TrustAnchor { depth: i + 1 }),
            Err(e) => {
                last_err = format!("DANE-TA anchor matched but the chain does not validate: {e}")
            }
        }
    }
    Err(last_err)
}

fn validate_to_anchor(
    anchor: &CertificateDer<'_>,
    end_entity: &CertificateDer<'_>,
    below: &[CertificateDer<'_>],
    name: &ServerName<'_>,
    now: UnixTime,
    provider: &Arc<CryptoProvider>,
) -> Result<(), Error> {
    let mut roots = RootCertStore::empty();
    roots.add(anchor.clone().into_owned())?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::General(e.to_string()))?;
    verifier
        .verify_server_cert(end_entity, below, name, &[], now)
        .map(|_| ())
}

/// A rustls verifier that accepts exactly what the TLSA records allow.
#[derive(Debug)]
pub struct DaneVerifier {
    records: Vec<Tlsa>,
    provider: Arc<CryptoProvider>,
    outcome: crate::tls::Outcome,
}

impl DaneVerifier {
    pub fn new(
        records: Vec<Tlsa>,
        provider: Arc<CryptoProvider>,
        outcome: crate::tls::Outcome,
    ) -> Self {
        Self {
            records,
            provider,
            outcome,
        }
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let result = check(
            &self.records,
            end_entity,
            intermediates,
            name,
            now,
            &self.provider,
        );
        let verified = match &result {
            Ok(m) => crate::tls::Verification::Dane(m.clone()),
            Err(e) => crate::tls::Verification::Failed(format!("DANE: {e}")),
        };
        self.outcome.set(verified);
        match result {
            Ok(_) => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(crate::tls::Mismatch(e))),
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
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
        verify_tls13_signature(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_ca::TestCa;

    fn spki_sha256(cert: &CertificateDer<'_>) -> Vec<u8> {
        let c = webpki::EndEntityCert::try_from(cert).unwrap();
        Sha256::digest(c.subject_public_key_info().as_ref()).to_vec()
    }

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::aws_lc_rs::default_provider())
    }

    fn name(n: &str) -> ServerName<'static> {
        ServerName::try_from(n.to_owned()).unwrap()
    }

    #[test]
    fn dane_ee_spki_matches_only_its_key() {
        let ca = TestCa::default();
        let cert = ca.server_cert(&["mx.example.net"]).cert_der();
        let other = ca.server_cert(&["mx.example.net"]).cert_der();
        let rec = Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: spki_sha256(&cert),
        };
        assert!(matches(&rec, &cert));
        assert!(!matches(&rec, &other));
        // The name does not matter for DANE-EE (RFC 7672 §3.1.1).
        let got = check(
            &[rec],
            &cert,
            &[],
            &name("other.example"),
            UnixTime::now(),
            &provider(),
        );
        assert_eq!(got, Ok(DaneMatch::EndEntity));
    }

    #[test]
    fn full_certificate_and_sha512_selectors() {
        let ca = TestCa::default();
        let cert = ca.server_cert(&["mx.example.net"]).cert_der();
        let exact = Tlsa {
            usage: 3,
            selector: 0,
            matching: 0,
            data: cert.as_ref().to_vec(),
        };
        let sha512 = Tlsa {
            usage: 3,
            selector: 0,
            matching: 2,
            data: Sha512::digest(cert.as_ref()).to_vec(),
        };
        assert!(matches(&exact, &cert) && matches(&sha512, &cert));
        let unknown = Tlsa {
            usage: 3,
            selector: 0,
            matching: 9,
            data: vec![],
        };
        assert!(!usable(&unknown) && !matches(&unknown, &cert));
    }

    #[test]
    fn pkix_usages_are_ignored_for_smtp() {
        let ca = TestCa::default();
        let cert = ca.server_cert(&["mx.example.net"]).cert_der();
        let pkix_ee = Tlsa {
            usage: 1,
            selector: 1,
            matching: 1,
            data: spki_sha256(&cert),
        };
        assert!(!usable(&pkix_ee));
        assert!(check(
            &[pkix_ee],
            &cert,
            &[],
            &name("mx.example.net"),
            UnixTime::now(),
            &provider()
        )
        .is_err());
    }

    #[test]
    fn dane_ta_needs_the_anchor_in_the_chain_and_the_right_name() {
        let ca = TestCa::default();
        let root = ca.root_der();
        let cert = ca.server_cert(&["mx.example.net"]).cert_der();
        let rec = Tlsa {
            usage: 2,
            selector: 1,
            matching: 1,
            data: spki_sha256(&root),
        };
        let chain = [root.clone()];
        let p = provider();
        assert_eq!(
            check(
                std::slice::from_ref(&rec),
                &cert,
                &chain,
                &name("mx.example.net"),
                UnixTime::now(),
                &p
            ),
            Ok(DaneMatch::TrustAnchor { depth: 1 })
        );
        // Wrong reference identifier (RFC 7672 §3.2.3).
        let e = check(
            std::slice::from_ref(&rec),
            &cert,
            &chain,
            &name("evil.example"),
            UnixTime::now(),
            &p,
        )
        .unwrap_err();
        assert!(e.contains("does not validate"), "{e}");
        // The anchor must be presented by the server (RFC 7671 §5.2.2).
        assert!(check(
            &[rec],
            &cert,
            &[],
            &name("mx.example.net"),
            UnixTime::now(),
            &p
        )
        .is_err());
        // A record for another CA matches nothing.
        let other = TestCa::new("Other");
        let rec2 = Tlsa {
            usage: 2,
            selector: 1,
            matching: 1,
            data: spki_sha256(&other.root_der()),
        };
        assert!(check(
            &[rec2],
            &cert,
            &chain,
            &name("mx.example.net"),
            UnixTime::now(),
            &p
        )
        .is_err());
    }
}
