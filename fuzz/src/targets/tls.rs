//! Certificate and key input: PEM pairs (`load::parse_pem`), PKCS#12
//! keystores (`load::parse_pkcs12`) and certificate inspection
//! (`inspect::CertSummary::from_der` and the chain helpers).
//!
//! Invariants of `tls_pem` (input: a 2-octet little-endian length, the
//! certificate PEM of that length, then the key PEM):
//! - an error names its input (`certificate PEM:` / `key PEM:`);
//! - an accepted chain is non-empty, and the chain and key survive a round
//!   trip through `chain_to_pem` / `key_to_pem` and back unchanged;
//! - `key_matches_certificate` on the pair returns (it never panics).
//!
//! Invariants of `tls_pkcs12` (password `pw`): an error names the keystore
//! or the key; an accepted keystore has a chain whose first certificate is
//! the one the key belongs to.
//!
//! Invariants of `tls_cert`: for an accepted certificate, each IP address
//! is covered (bare and in brackets), each plain DNS name covers itself,
//! `all_names` lists them all, the key has a description, `days_left` at
//! `not_after` is 0, and `subject_of` agrees with the summary. Issuer links
//! and chain ordering with a real CA return without panicking.

use std::net::IpAddr;
use std::sync::OnceLock;

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey,
    PrivateKeyChain,
};
use postern_tls::inspect::{self, CertSummary};
use postern_tls::load::{self, CertKey};
use postern_tls::rustls::pki_types::CertificateDer;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::Target;

pub(super) const PEM: Target = Target {
    name: "tls_pem",
    about: "a PEM certificate chain and key through load::parse_pem",
    run: fuzz_pem,
    seeds: pem_seeds,
};

pub(super) const PKCS12: Target = Target {
    name: "tls_pkcs12",
    about: "a PKCS#12 keystore through load::parse_pkcs12 (password \"pw\")",
    run: fuzz_pkcs12,
    seeds: pkcs12_seeds,
};

pub(super) const CERT: Target = Target {
    name: "tls_cert",
    about: "a DER certificate through inspect::CertSummary::from_der and the chain helpers",
    run: fuzz_cert,
    seeds: cert_seeds,
};

const PASSWORD: &str = "pw";

fn fuzz_pem(input: &[u8]) {
    let len = u16::from_le_bytes([
        input.first().copied().unwrap_or(0),
        input.get(1).copied().unwrap_or(0),
    ]);
    let rest = input.get(2..).unwrap_or_default();
    let (cert, key) = rest.split_at(usize::from(len).min(rest.len()));
    match load::parse_pem(cert, key) {
        Ok(pair) => check_pem_pair(&pair),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.starts_with("certificate PEM: ") || text.starts_with("key PEM: "),
                "an error that does not name its input: {text}"
            );
        }
    }
}

fn check_pem_pair(pair: &CertKey) {
    assert!(!pair.chain.is_empty(), "an empty chain was accepted");
    let pem = load::chain_to_pem(&pair.chain);
    let again = load::parse_certificates_pem("round trip", pem.as_bytes())
        .unwrap_or_else(|e| panic!("a loaded chain does not load again: {e}"));
    assert_eq!(again, pair.chain, "the chain changed in a PEM round trip");
    let key = load::parse_key_pem("round trip", load::key_to_pem(&pair.key).as_bytes())
        .unwrap_or_else(|e| panic!("a loaded key does not load again: {e}"));
    assert_eq!(
        key.secret_der(),
        pair.key.secret_der(),
        "the key changed in a round trip"
    );
    // Must return, whatever it says: `cert import` relies on it.
    let _ = load::key_matches_certificate(&pair.key, &pair.chain[0]);
}

fn fuzz_pkcs12(input: &[u8]) {
    match load::parse_pkcs12(input, PASSWORD) {
        Ok(pair) => {
            assert!(!pair.chain.is_empty(), "an empty chain was accepted");
            let matches = load::key_matches_certificate(&pair.key, &pair.chain[0]);
            assert!(
                matches!(matches, Ok(true)),
                "the first certificate is not the key's: {matches:?}"
            );
        }
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.starts_with("PKCS#12 keystore: ")
                    || text.starts_with("private key is not usable"),
                "an error that does not name its input: {text}"
            );
        }
    }
}

fn fuzz_cert(input: &[u8]) {
    let der = CertificateDer::from(input.to_vec());
    if let Ok(summary) = CertSummary::from_der(&der) {
        check_summary(&summary);
        assert_eq!(inspect::subject_of(&der), summary.subject);
    }
    let ca = CertificateDer::from(material().ca_der.clone());
    let _ = inspect::verify_link(&der, &ca);
    let _ = inspect::verify_link(&der, &der);
    let pair = vec![der, ca];
    if let Ok(leaf) = inspect::find_leaf(&pair) {
        assert!(leaf < pair.len());
        let _ = inspect::order_chain(pair, leaf);
    }
}

fn check_summary(s: &CertSummary) {
    for ip in &s.ip_addresses {
        assert!(s.covers_name(&ip.to_string()), "{ip} is not covered");
        assert!(s.covers_name(&format!("[{ip}]")), "[{ip}] is not covered");
    }
    let plain = |name: &&String| {
        name.parse::<IpAddr>().is_err() && !name.starts_with('[') && !name.ends_with(']')
    };
    for name in s.dns_names.iter().filter(plain) {
        assert!(s.covers_name(name), "{name:?} does not cover itself");
    }
    assert_eq!(
        s.all_names().len(),
        s.dns_names.len() + s.ip_addresses.len()
    );
    assert!(!s.key.describe().is_empty());
    let _ = s.key.is_strong();
    assert_eq!(s.days_left(s.not_after), 0);
    assert_eq!(s.is_valid_at(s.not_before), s.not_before <= s.not_after);
    assert!(inspect::format_time(s.not_before).ends_with(" UTC"));
}

/// Certificates and keys made once per process.
struct Material {
    ca_der: Vec<u8>,
    ca_pem: String,
    /// ECDSA P-256 leaf signed by the CA, with DNS, IP and e-mail names.
    leaf_der: Vec<u8>,
    leaf_pem: String,
    leaf_key: KeyPair,
    /// Self-signed: Ed25519, RSA 2048, and P-384 with a CN and no SAN.
    others: Vec<(Vec<u8>, String, String)>,
}

fn material() -> &'static Material {
    static MATERIAL: OnceLock<Material> = OnceLock::new();
    MATERIAL.get_or_init(make_material)
}

fn make_material() -> Material {
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "Fuzz Root");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut ca);
    let ca_key = KeyPair::generate().expect("CA key");
    let ca = CertifiedIssuer::self_signed(ca, ca_key).expect("CA certificate");

    let mut leaf = CertificateParams::new(vec!["mail.example.com".into(), "*.example.org".into()])
        .expect("leaf names");
    leaf.distinguished_name
        .push(DnType::CommonName, "mail.example.com");
    leaf.subject_alt_names.extend([
        SanType::IpAddress(IpAddr::from([192, 0, 2, 1])),
        SanType::IpAddress("2001:db8::1".parse().expect("IPv6")),
        SanType::Rfc822Name("postmaster@example.com".try_into().expect("e-mail")),
    ]);
    validity(&mut leaf);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = leaf.signed_by(&leaf_key, &ca).expect("leaf certificate");

    let others = [
        (&rcgen::PKCS_ED25519, Some("ed25519.example.com")),
        (&rcgen::PKCS_RSA_SHA256, Some("rsa.example.com")),
        (&rcgen::PKCS_ECDSA_P384_SHA384, None),
    ]
    .into_iter()
    .map(|(alg, name)| self_signed(alg, name))
    .collect();
    Material {
        ca_der: ca.der().to_vec(),
        ca_pem: ca.pem(),
        leaf_der: leaf.der().to_vec(),
        leaf_pem: leaf.pem(),
        leaf_key,
        others,
    }
}

fn validity(p: &mut CertificateParams) {
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2035, 1, 1);
}

/// (DER, PEM, key PEM) of a self-signed certificate; without a SAN name,
/// the host name is in the CN only.
fn self_signed(
    alg: &'static rcgen::SignatureAlgorithm,
    san: Option<&str>,
) -> (Vec<u8>, String, String) {
    let key = KeyPair::generate_for(alg).expect("key generation");
    let mut p = CertificateParams::new(san.map(str::to_owned).into_iter().collect::<Vec<_>>())
        .expect("names");
    p.distinguished_name
        .push(DnType::CommonName, san.unwrap_or("cn-only.example.com"));
    validity(&mut p);
    let cert = p.self_signed(&key).expect("self-signed certificate");
    (cert.der().to_vec(), cert.pem(), key.serialize_pem())
}

/// The `tls_pem` input layout.
fn pem_input(cert: &[u8], key: &[u8]) -> Vec<u8> {
    let len = u16::try_from(cert.len()).expect("a seed certificate under 64 KiB");
    [&len.to_le_bytes()[..], cert, key].concat()
}

fn pem_seeds() -> Vec<Vec<u8>> {
    let m = material();
    let chain = format!("{}{}", m.leaf_pem, m.ca_pem);
    let key = m.leaf_key.serialize_pem();
    let encrypted = key.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY");
    let sec1 = key.replace("PRIVATE KEY", "EC PRIVATE KEY");
    let mut seeds = vec![
        pem_input(chain.as_bytes(), key.as_bytes()),
        pem_input(m.leaf_pem.as_bytes(), format!("{key}{key}").as_bytes()),
        pem_input(m.leaf_pem.as_bytes(), encrypted.as_bytes()),
        pem_input(m.leaf_pem.as_bytes(), sec1.as_bytes()),
        pem_input(&m.leaf_der, key.as_bytes()),
        pem_input(b"", b""),
    ];
    for (_, pem, key) in &m.others {
        seeds.push(pem_input(pem.as_bytes(), key.as_bytes()));
    }
    seeds
}

fn pkcs12_seeds() -> Vec<Vec<u8>> {
    let m = material();
    let chain = [&m.leaf_der, &m.ca_der];
    let modern = (
        EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
        MacAlgorithm::HmacSha256,
    );
    let legacy = (
        EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
        MacAlgorithm::HmacSha1,
    );
    vec![
        pkcs12(&chain, &m.leaf_key, PASSWORD, modern),
        pkcs12(&chain, &m.leaf_key, PASSWORD, legacy),
        // The key with the CA only: no certificate for the key.
        pkcs12(&[&m.ca_der], &m.leaf_key, PASSWORD, modern),
        pkcs12(&chain, &m.leaf_key, "another password", modern),
    ]
}

/// A keystore with one iteration of key derivation, so that each input is
/// cheap to run (the parser allows up to a million).
fn pkcs12(
    chain: &[&Vec<u8>],
    key: &KeyPair,
    password: &str,
    (encryption, mac): (EncryptionAlgorithm, MacAlgorithm),
) -> Vec<u8> {
    let certs = chain
        .iter()
        .map(|der| Certificate::from_der(der).expect("a certificate we made"));
    let key = PrivateKey::from_der(&key.serialize_der()).expect("a key we made");
    let mut store = KeyStore::new();
    let entry = PrivateKeyChain::new(vec![7u8; 20], key, certs);
    store.add_entry("mail", KeyStoreEntry::PrivateKeyChain(entry));
    store
        .writer(password)
        .encryption_algorithm(encryption)
        .encryption_iterations(1)
        .mac_algorithm(mac)
        .mac_iterations(1)
        .write()
        .expect("writing a keystore")
}

fn cert_seeds() -> Vec<Vec<u8>> {
    let m = material();
    let mut seeds = vec![m.leaf_der.clone(), m.ca_der.clone()];
    seeds.extend(m.others.iter().map(|(der, _, _)| der.clone()));
    seeds
}
