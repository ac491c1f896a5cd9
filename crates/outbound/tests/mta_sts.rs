//! MTA-STS end to end: the TXT record from a fake resolver, the policy
//! from a fake HTTPS server, both on 127.0.0.1.

mod common;

use std::sync::Arc;

use common::*;
use hickory_resolver::proto::rr::rdata::{A, MX, TXT};
use hickory_resolver::proto::rr::{Name, RData};
use postern_outbound::{FailureKind, OutboundHandle, PolicyKind, Settings};
use postern_store::{RecipientState, SqliteStore, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.net\r\nmax_age: 86400\r\n";

/// Serves the policy over HTTPS; returns the port.
async fn policy_server(ca: &TestCa, policy: &'static str) -> u16 {
    let tls = server_tls(&ca.server_cert(&["mta-sts.example.net"]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                assert!(req.starts_with(
                    b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.net\r\n"
                ));
                let resp = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{policy}", policy.len());
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

async fn setup(mx_host: &str, ca: &TestCa, peer: &Peer) -> (FakeDns, Settings) {
    setup_with(mx_host, ca, peer, POLICY).await
}

async fn setup_with(
    mx_host: &str,
    ca: &TestCa,
    peer: &Peer,
    policy: &'static str,
) -> (FakeDns, Settings) {
    let https = policy_server(ca, policy).await;
    let mut z = Zone::default();
    z.add(
        "example.net",
        RData::MX(MX::new(
            10,
            Name::from_ascii(format!("{mx_host}.")).unwrap(),
        )),
    )
    .add(mx_host, RData::A(A::new(127, 0, 0, 1)))
    .add(
        "_mta-sts.example.net",
        RData::TXT(TXT::new(vec!["v=STSv1; id=20260101T000000;".into()])),
    )
    .add("mta-sts.example.net", RData::A(A::new(127, 0, 0, 1)));
    let dns = FakeDns::start(z).await;
    let mut s = settings(Some(ca));
    s.resolver = Some(dns.addr);
    s.mx_port = peer.addr.port();
    s.mta_sts = true;
    s.mta_sts_port = https;
    (dns, s)
}

fn run(store: &Arc<SqliteStore>, s: Settings) -> (OutboundHandle, CancellationToken, TaskTracker) {
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let handle = postern_outbound::start(store.clone(), s, cancel.clone(), &tracker);
    (handle, cancel, tracker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_mode_delivers_to_a_listed_mx_with_a_valid_certificate() {
    let ca = TestCa::default();
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&ca.server_cert(&["mx.example.net"]))),
        ..Default::default()
    })
    .await;
    let (_dns, s) = setup("mx.example.net", &ca, &peer).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let (h, cancel, _t) = run(&store, s);
    assert!(
        wait_for(20, || peer.messages().len() == 1).await,
        "{:?}",
        store.queue_list()
    );
    assert!(peer.seen().iter().any(|s| s.mail_under_tls));
    assert_eq!(
        h.metrics().domains["example.net"].successes[&PolicyKind::Sts],
        1
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_mode_refuses_an_untrusted_certificate() {
    let ca = TestCa::default();
    let rogue = TestCa::new("Rogue");
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&rogue.server_cert(&["mx.example.net"]))),
        ..Default::default()
    })
    .await;
    let (_dns, s) = setup("mx.example.net", &ca, &peer).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let id = queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let (h, cancel, _t) = run(&store, s);
    assert!(
        wait_for(20, || store
            .queue_item(id)
            .unwrap()
            .is_some_and(|i| i.recipients[0].attempts >= 1))
        .await
    );
    assert_eq!(
        store.queue_item(id).unwrap().unwrap().recipients[0].state,
        RecipientState::Pending
    );
    assert!(!peer.saw_mail());
    assert!(
        h.metrics().domains["example.net"].failures
            [&(PolicyKind::Sts, FailureKind::CertificateNotTrusted)]
            >= 1
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_mode_skips_an_mx_the_policy_does_not_list() {
    let ca = TestCa::default();
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&ca.server_cert(&["evil.example.com"]))),
        ..Default::default()
    })
    .await;
    let (_dns, s) = setup("evil.example.com", &ca, &peer).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let id = queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let (h, cancel, _t) = run(&store, s);
    assert!(
        wait_for(20, || store
            .queue_item(id)
            .unwrap()
            .is_some_and(|i| i.recipients[0].attempts >= 1))
        .await
    );
    let r = store.queue_item(id).unwrap().unwrap().recipients[0].clone();
    assert!(
        r.last_error
            .as_deref()
            .unwrap()
            .contains("not in the MTA-STS policy"),
        "{r:?}"
    );
    assert!(peer.seen().is_empty(), "not even connected to");
    assert!(
        h.metrics().domains["example.net"].failures[&(PolicyKind::Sts, FailureKind::StsMxMismatch)]
            >= 1
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testing_mode_delivers_anyway_and_counts_the_failure() {
    let ca = TestCa::default();
    let rogue = TestCa::new("Rogue");
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&rogue.server_cert(&["mx.example.net"]))),
        ..Default::default()
    })
    .await;
    let testing = "version: STSv1\nmode: testing\nmx: mx.example.net\nmax_age: 600\n";
    let (_dns, s) = setup_with("mx.example.net", &ca, &peer, testing).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let (h, cancel, _t) = run(&store, s);
    assert!(wait_for(20, || peer.messages().len() == 1).await);
    let m = h.metrics();
    assert_eq!(
        m.domains["example.net"].failures[&(PolicyKind::Sts, FailureKind::CertificateNotTrusted)],
        1
    );
    assert!(m.domains["example.net"].successes.is_empty());
    cancel.cancel();
}
