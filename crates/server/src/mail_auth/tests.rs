//! The whole check on real signatures, with the DNS answers placed in the
//! TXT cache beforehand: the resolver points at a closed port, so a name
//! left out would show up as a temperror.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dmarc::Dmarc as DmarcRecord;
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::spf::Spf;
use mail_auth::{DnsError, Error, ResolverCache, Txt};
use postern_config::{AuthAction, MailAuthConfig};
use postern_outbound::dkim::{keys, Algorithm, Signer};

use super::*;

/// A key directory of its own, removed on drop.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The message with its DKIM-Signature fields in front.
fn signed(signer: &Signer, message: &[u8]) -> Vec<u8> {
    let mut out = signer.sign(message);
    assert!(!out.is_empty(), "a.test has a key");
    out.extend_from_slice(message);
    out
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(600)
}

fn nxdomain() -> Txt {
    Txt::Error(Error::Dns(DnsError::RecordNotFound(ResponseCode::NXDomain)))
}

/// A checker whose cache answers for a.test (signing key `s1`, SPF for
/// 127.0.0.1, DMARC p=reject) and q.test (no SPF, DMARC p=quarantine),
/// and a signer holding a.test's key.
fn setup(name: &str, config: MailAuthConfig) -> (Checker, Signer, Dir) {
    let dir = std::env::temp_dir().join(format!("postern-mail-auth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let key = keys::generate(Algorithm::Ed25519).unwrap();
    keys::write_key(&dir, "a.test", "s1", &key, false).unwrap();
    let signer = Signer::open(&dir).unwrap();
    let checker = Checker::new(
        "mx.b.test".into(),
        config,
        Some("127.0.0.1:9".parse().unwrap()),
    );
    let c = checker.cache();
    let dkim = DomainKey::parse(key.public.txt().as_bytes()).unwrap();
    c.insert("s1._domainkey.a.test.".into(), dkim.into(), later());
    let spf = Spf::parse(b"v=spf1 ip4:127.0.0.1 -all").unwrap();
    c.insert("a.test.".into(), spf.into(), later());
    for (name, record) in [
        ("_dmarc.a.test.", &b"v=DMARC1; p=reject"[..]),
        ("_dmarc.q.test.", b"v=DMARC1; p=quarantine"),
    ] {
        let dmarc = DmarcRecord::parse(record).unwrap();
        c.insert(name.into(), dmarc.into(), later());
    }
    for name in ["_dmarc.test.", "q.test."] {
        c.insert(name.into(), nxdomain(), later());
    }
    (checker, signer, Dir(dir))
}

fn envelope(peer: &str, mail_from: &str) -> Envelope {
    Envelope {
        peer: peer.parse().unwrap(),
        helo: "mx.a.test".into(),
        mail_from: mail_from.into(),
    }
}

const MESSAGE: &[u8] = b"From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: hi\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@a.test>\r\n\r\nHello Bob.\r\n";

#[tokio::test]
async fn a_signed_message_from_an_allowed_address_passes_everything() {
    let (checker, signer, _dir) = setup("pass", MailAuthConfig::default());
    let signed = signed(&signer, MESSAGE);
    let started = Instant::now();
    let v = checker
        .check(envelope("127.0.0.1", "alice@a.test"), Arc::new(signed))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no DNS was needed"
    );
    assert_eq!(v.disposition, Disposition::Inbox);
    let h = checker.header(&v.results);
    assert!(
        h.starts_with("Authentication-Results: mx.b.test;\r\n"),
        "{h}"
    );
    assert!(h.contains("\tspf=pass smtp.mailfrom=alice@a.test;"), "{h}");
    assert!(
        h.contains("\tdkim=pass header.d=a.test header.s=s1 header.b="),
        "{h}"
    );
    assert!(
        h.contains("\tdmarc=pass (p=reject) header.from=a.test;"),
        "{h}"
    );
    assert!(h.ends_with("\tarc=none\r\n"), "{h}");
}

#[tokio::test]
async fn a_forgery_of_a_reject_domain_is_refused() {
    let (checker, _signer, _dir) = setup("forged", MailAuthConfig::default());
    let v = checker
        .check(
            envelope("192.0.2.1", "alice@a.test"),
            Arc::new(MESSAGE.to_vec()),
        )
        .await;
    assert_eq!(v.results.spf, Outcome::Fail);
    assert!(v.results.dkim.is_empty());
    assert_eq!(v.results.dmarc.outcome, Outcome::Fail);
    assert!(
        matches!(&v.disposition, Disposition::Reject { code: 550, enhanced: "5.7.1", text } if text.contains("DMARC policy of a.test")),
        "{:?}",
        v.disposition
    );
}

#[tokio::test]
async fn a_tampered_signature_fails_but_aligned_spf_still_passes_dmarc() {
    let (checker, signer, _dir) = setup("tampered", MailAuthConfig::default());
    // A signed header changed on the way: the signature no longer
    // verifies (a changed body is a body hash mismatch, which mail-auth
    // calls neutral).
    let signed = String::from_utf8(signed(&signer, MESSAGE))
        .unwrap()
        .replace("Subject: hi", "Subject: HI")
        .into_bytes();
    let v = checker
        .check(envelope("127.0.0.1", "alice@a.test"), Arc::new(signed))
        .await;
    assert_eq!(v.results.dkim.len(), 1);
    assert_eq!(v.results.dkim[0].outcome, Outcome::Fail);
    assert!(v.results.dkim[0].reason.is_some());
    assert_eq!(v.results.dmarc.outcome, Outcome::Pass);
    assert_eq!(v.disposition, Disposition::Inbox);
}

#[tokio::test]
async fn quarantine_goes_to_junk_and_settings_can_accept() {
    let raw = from_q_test();
    let (checker, _signer, _dir) = setup("quarantine", MailAuthConfig::default());
    let v = checker
        .check(envelope("192.0.2.1", "eve@q.test"), Arc::new(raw.clone()))
        .await;
    assert_eq!(v.results.spf, Outcome::None);
    assert_eq!(v.disposition, Disposition::Junk);
    let accept = MailAuthConfig {
        dmarc_quarantine: AuthAction::Accept,
        ..MailAuthConfig::default()
    };
    let (checker, _signer, _dir) = setup("quarantine-accept", accept);
    let v = checker
        .check(envelope("192.0.2.1", "eve@q.test"), Arc::new(raw))
        .await;
    assert_eq!(v.disposition, Disposition::Inbox);
    let h = checker.header(&v.results);
    assert!(
        h.contains("dmarc=fail (p=quarantine) header.from=q.test"),
        "{h}"
    );
}

#[tokio::test]
async fn an_unanswering_resolver_costs_temperror_within_the_budget() {
    let (checker, _signer, _dir) = setup("silent", MailAuthConfig::default());
    // Nothing is cached for elsewhere.test: every lookup goes to the
    // closed port.
    let raw = b"From: x@elsewhere.test\r\n\r\nhi\r\n".to_vec();
    let started = Instant::now();
    let v = checker
        .check(envelope("192.0.2.1", "x@elsewhere.test"), Arc::new(raw))
        .await;
    // The resolver is given up on after the first phase: no DMARC wait.
    let elapsed = started.elapsed();
    assert!(elapsed < FIRST_BUDGET + DMARC_BUDGET, "{elapsed:?}");
    assert_eq!(v.results.spf, Outcome::TempError);
    assert_eq!(v.results.dmarc.outcome, Outcome::TempError);
    assert_eq!(v.disposition, Disposition::Inbox);
}

/// The sample message, From: q.test.
fn from_q_test() -> Vec<u8> {
    String::from_utf8_lossy(MESSAGE)
        .replace("alice@a.test", "eve@q.test")
        .into_bytes()
}
