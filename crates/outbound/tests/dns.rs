//! Routing and DANE through a fake DNS resolver on 127.0.0.1.

mod common;

use std::sync::Arc;

use common::*;
use hickory_resolver::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_resolver::proto::rr::rdata::{A, MX, TLSA, TXT};
use hickory_resolver::proto::rr::{Name, RData};
use postern_outbound::{FailureKind, OutboundHandle, PolicyKind, Settings};
use postern_store::{RecipientState, SqliteStore, Store};
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn run(store: &Arc<SqliteStore>, s: Settings) -> (OutboundHandle, CancellationToken, TaskTracker) {
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let handle = postern_outbound::start(store.clone(), s, cancel.clone(), &tracker);
    (handle, cancel, tracker)
}

fn mx(pref: u16, host: &str) -> RData {
    RData::MX(MX::new(pref, Name::from_ascii(host).unwrap()))
}

fn loopback() -> RData {
    RData::A(A::new(127, 0, 0, 1))
}

fn tlsa_3_1_1(cert: &rustls::pki_types::CertificateDer<'_>) -> RData {
    let c = webpki::EndEntityCert::try_from(cert).unwrap();
    let digest = Sha256::digest(c.subject_public_key_info().as_ref()).to_vec();
    RData::TLSA(TLSA::new(
        CertUsage::from(3),
        Selector::from(1),
        Matching::from(1),
        digest,
    ))
}

/// A zone where example.net's MX is mx.example.net at 127.0.0.1.
fn zone(secure: bool) -> Zone {
    let mut z = Zone::default();
    z.add("example.net", mx(10, "mx.example.net."))
        .add("mx.example.net", loopback());
    if secure {
        z.secure = vec!["example.net".into(), "mx.example.net".into()];
    }
    z
}

fn dns_settings(dns: &FakeDns, peer: &Peer) -> Settings {
    let mut s = settings(None);
    s.resolver = Some(dns.addr);
    s.mx_port = peer.addr.port();
    s.dane = true;
    s
}

fn tlsa_name(peer: &Peer) -> String {
    format!("_{}._tcp.mx.example.net", peer.addr.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dane_ee_authenticates_a_certificate_no_ca_vouches_for() {
    // The certificate's CA is trusted by nobody: only the TLSA record
    // makes it acceptable (RFC 7672 §3.1.1), and DANE makes TLS mandatory.
    let ca = TestCa::new("Private Root");
    let cert = ca.server_cert(&["mx.example.net"]);
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&cert)),
        ..Default::default()
    })
    .await;
    let mut z = zone(true);
    z.add(&tlsa_name(&peer), tlsa_3_1_1(&cert.cert_der()));
    z.secure.push(tlsa_name(&peer));
    let dns = FakeDns::start(z).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let (h, cancel, _t) = run(&store, dns_settings(&dns, &peer));
    assert!(
        wait_for(20, || peer.messages().len() == 1
            && store.queue_list().unwrap().is_empty())
        .await,
        "{:?}",
        store.queue_list()
    );
    assert!(peer
        .seen()
        .iter()
        .all(|s| !s.commands.iter().any(|c| c.starts_with("MAIL")) || s.mail_under_tls));
    assert_eq!(
        h.metrics().domains["example.net"].successes[&PolicyKind::Tlsa],
        1
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tlsa_mismatch_defers_and_sends_nothing() {
    let ca = TestCa::default();
    let cert = ca.server_cert(&["mx.example.net"]);
    let other = ca.server_cert(&["mx.example.net"]);
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&cert)),
        ..Default::default()
    })
    .await;
    let mut z = zone(true);
    z.add(&tlsa_name(&peer), tlsa_3_1_1(&other.cert_der()));
    z.secure.push(tlsa_name(&peer));
    let dns = FakeDns::start(z).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let id = queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let (h, cancel, _t) = run(&store, dns_settings(&dns, &peer));
    assert!(
        wait_for(20, || store
            .queue_item(id)
            .unwrap()
            .is_some_and(|i| i.recipients[0].attempts >= 1))
        .await
    );
    let r = store.queue_item(id).unwrap().unwrap().recipients[0].clone();
    assert_eq!(r.state, RecipientState::Pending);
    assert!(r.last_error.as_deref().unwrap().contains("DANE"), "{r:?}");
    assert!(!peer.saw_mail());
    assert!(
        h.metrics().domains["example.net"].failures[&(PolicyKind::Tlsa, FailureKind::TlsaInvalid)]
            >= 1
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_tlsa_records_are_not_trusted() {
    // The same mismatching record, but without the AD bit: it could be
    // forged, so DANE does not apply and opportunistic TLS delivers.
    let ca = TestCa::default();
    let cert = ca.server_cert(&["mx.example.net"]);
    let other = ca.server_cert(&["mx.example.net"]);
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&cert)),
        ..Default::default()
    })
    .await;
    let mut z = zone(false);
    z.add(&tlsa_name(&peer), tlsa_3_1_1(&other.cert_der()));
    let dns = FakeDns::start(z).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let (h, cancel, _t) = run(&store, dns_settings(&dns, &peer));
    assert!(wait_for(20, || peer.messages().len() == 1).await);
    assert_eq!(
        h.metrics().domains["example.net"].successes[&PolicyKind::NoPolicyFound],
        1
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mx_preference_order_and_fallback_to_the_next_host() {
    // The best MX has no address that answers; the second takes the mail.
    let peer = Peer::start(PeerOptions::default()).await;
    let mut z = Zone::default();
    z.add("example.net", mx(20, "backup.example.net."))
        .add("example.net", mx(10, "primary.example.net."))
        .add("primary.example.net", RData::A(A::new(127, 0, 0, 2)))
        .add("backup.example.net", loopback());
    let dns = FakeDns::start(z).await;
    // Nothing listens on 127.0.0.2 at the peer's port... unless the
    // kernel routes the whole of 127/8 to lo and something is there; our
    // peer binds 127.0.0.1 only.
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let (_h, cancel, _t) = run(&store, dns_settings(&dns, &peer));
    assert!(
        wait_for(20, || peer.messages().len() == 1
            && store.queue_list().unwrap().is_empty())
        .await
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_mx_and_unknown_domains_bounce_at_once() {
    let peer = Peer::start(PeerOptions::default()).await;
    let mut z = Zone::default();
    z.add("nomail.example", RData::MX(MX::new(0, Name::root())));
    // Implicit MX: no MX record, an address record.
    z.add("implicit.example", loopback());
    z.add(
        "implicit.example",
        RData::TXT(TXT::new(vec!["v=spf1 -all".into()])),
    );
    let dns = FakeDns::start(z).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    queue(
        &*store,
        &envelope("alice@example.org"),
        &[
            "x@nomail.example",
            "y@nowhere.example",
            "z@implicit.example",
        ],
        BODY,
    );
    let (_h, cancel, _t) = run(&store, dns_settings(&dns, &peer));
    assert!(
        wait_for(20, || store.queue_list().unwrap().is_empty()
            && inbox(&*store).len() == 1)
        .await,
        "{:?}",
        store.queue_list()
    );
    let dsn = String::from_utf8(inbox(&*store).remove(0)).unwrap();
    assert!(
        dsn.contains(
            "Final-Recipient: rfc822; x@nomail.example\r\nAction: failed\r\nStatus: 5.1.10\r\n"
        ),
        "{dsn}"
    );
    assert!(
        dsn.contains(
            "Final-Recipient: rfc822; y@nowhere.example\r\nAction: failed\r\nStatus: 5.1.2\r\n"
        ),
        "{dsn}"
    );
    assert!(!dsn.contains("z@implicit.example"), "{dsn}");
    assert_eq!(peer.messages().len(), 1, "the implicit MX took z's copy");
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requiretls_follows_only_an_authenticated_mx() {
    let ca = TestCa::default();
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&ca.server_cert(&["mx.example.net"]))),
        requiretls: true,
        ..Default::default()
    })
    .await;
    // example.net's MX is DNSSEC-authenticated; example.com's is not.
    let mut z = zone(true);
    z.add("example.com", mx(10, "mx.example.net."));
    let dns = FakeDns::start(z).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut s = dns_settings(&dns, &peer);
    s.extra_roots = vec![ca.root_der()];
    let mut env = envelope("alice@example.org");
    env.requiretls = true;
    queue(
        &*store,
        &env,
        &["bob@example.net", "carol@example.com"],
        BODY,
    );
    let (_h, cancel, _t) = run(&store, s);
    assert!(
        wait_for(20, || store.queue_list().unwrap().is_empty()
            && inbox(&*store).len() == 1)
        .await,
        "{:?}",
        store.queue_list()
    );
    let rcpts: Vec<String> = peer
        .seen()
        .iter()
        .flat_map(|s| s.commands.clone())
        .filter(|c| c.starts_with("RCPT"))
        .collect();
    assert_eq!(
        rcpts,
        ["RCPT TO:<bob@example.net>"],
        "carol's copy never left"
    );
    let dsn = String::from_utf8(inbox(&*store).remove(0)).unwrap();
    assert!(
        dsn.contains(
            "Final-Recipient: rfc822; carol@example.com\r\nAction: failed\r\nStatus: 5.7.10\r\n"
        ),
        "{dsn}"
    );
    cancel.cancel();
}
