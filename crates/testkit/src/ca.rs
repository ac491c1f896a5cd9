//! A throw-away certificate authority for tests.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::crypto::aws_lc_rs;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use time::{Duration, OffsetDateTime};

/// A certificate and key, PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Issued {
    /// The certificate as DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).expect("a certificate we made")
    }

    /// The key as DER.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).expect("a key we made")
    }
}

/// A root CA that lives as long as a test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCa")
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new("Postern Test Root")
    }
}

fn validity(p: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(days);
}

impl TestCa {
    /// A new root.
    pub fn new(cn: &str) -> Self {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut p, 30);
        let key = KeyPair::generate().expect("key generation");
        Self {
            issuer: CertifiedIssuer::self_signed(p, key).expect("self-signing the test root"),
        }
    }

    /// The root certificate, PEM.
    pub fn root_pem(&self) -> String {
        self.issuer.pem()
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server certificate for these DNS names / IP addresses, valid for
    /// `days` (negative: already expired).
    pub fn server_cert_valid(&self, names: &[&str], days: i64) -> Issued {
        let mut p =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("valid names");
        p.distinguished_name.push(DnType::CommonName, names[0]);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = OffsetDateTime::now_utc();
        p.not_before = now - Duration::days(days.abs() + 1);
        p.not_after = now + Duration::days(days);
        self.sign(p, KeyPair::generate().expect("key"))
    }

    /// A server certificate valid for 30 days.
    pub fn server_cert(&self, names: &[&str]) -> Issued {
        self.server_cert_valid(names, 30)
    }

    /// A server certificate with an RSA-2048 key.
    pub fn server_cert_rsa(&self, names: &[&str]) -> Issued {
        let mut p =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("valid names");
        p.distinguished_name.push(DnType::CommonName, names[0]);
        validity(&mut p, 30);
        let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
        self.sign(p, key)
    }

    /// A client certificate carrying an e-mail address.
    pub fn client_cert(&self, email: &str) -> Issued {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, email);
        p.subject_alt_names = vec![SanType::Rfc822Name(email.try_into().expect("ascii email"))];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut p, 30);
        self.sign(p, KeyPair::generate().expect("key"))
    }

    /// What a CA does with a certificate signing request (PKCS#10, RFC
    /// 2986): a server certificate for the CSR's names and public key,
    /// valid for 30 days, PEM. The CA sets the validity and the usage,
    /// as real ones do; the CSR only proposes the names.
    pub fn sign_csr(&self, csr_pem: &str) -> String {
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(csr_pem)
            .expect("a well-formed CSR with a valid signature");
        csr.params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut csr.params, 30);
        csr.signed_by(&self.issuer).expect("signing the CSR").pem()
    }

    fn sign(&self, p: CertificateParams, key: KeyPair) -> Issued {
        let cert = p.signed_by(&key, &self.issuer).expect("signing");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A rustls client trusting only this CA, offering these ALPN ids.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        self.client_config_with(alpn, None)
    }

    /// The same, presenting a client certificate.
    pub fn client_config_with(&self, alpn: &[&[u8]], client: Option<&Issued>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.root_der()).expect("test root");
        let builder = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots);
        let mut config = match client {
            Some(c) => builder
                .with_client_auth_cert(vec![c.cert_der()], c.key_der())
                .expect("client certificate"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        Arc::new(config)
    }
}
