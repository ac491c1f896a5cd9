//! A throw-away CA for the outbound tests, shared by the unit tests too.
//!
//! The project's test kit has one, but it comes with the whole server;
//! these tests need certificates only, so they make their own with rcgen
//! and do not rebuild when the server changes.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// A certificate and its key.
pub struct Issued {
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

impl Issued {
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }
}

/// A root that lives as long as a test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new("Outbound Test Root")
    }
}

impl TestCa {
    pub fn new(cn: &str) -> Self {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut p);
        let key = KeyPair::generate().expect("key generation");
        Self {
            issuer: CertifiedIssuer::self_signed(p, key).expect("self-signing the test root"),
        }
    }

    pub fn root_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server certificate for these DNS names or IP addresses.
    pub fn server_cert(&self, names: &[&str]) -> Issued {
        let mut p =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("valid names");
        p.distinguished_name.push(DnType::CommonName, names[0]);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut p);
        let key = KeyPair::generate().expect("key generation");
        let cert = p.signed_by(&key, &self.issuer).expect("signing");
        Issued {
            cert: cert.der().clone(),
            key: key.serialize_der(),
        }
    }
}

fn validity(p: &mut CertificateParams) {
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(30);
}
