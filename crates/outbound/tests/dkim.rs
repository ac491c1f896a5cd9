//! DKIM on the way out: what a fake remote MX receives carries signatures
//! that an independent verifier (mail-auth's, reading the public keys from
//! a fake DNS server) accepts; mail from a domain without keys goes out
//! unsigned; a retry sends the same signatures.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};
use postern_outbound::dkim::{keys, Algorithm, Signer};
use postern_outbound::Settings;
use postern_store::SqliteStore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// An Ed25519 and an RSA key for example.org, published in `zone`.
fn keys_for_example_org(dir: &Path, zone: &mut Zone) {
    for (selector, algorithm) in [("t-ed", Algorithm::Ed25519), ("t-rsa", Algorithm::Rsa)] {
        let key = keys::generate(algorithm).unwrap();
        keys::write_key(dir, "example.org", selector, &key, false).unwrap();
        let text = key.public.txt();
        // As published: strings of at most 255 octets.
        let strings = text
            .as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        zone.add(
            &keys::record_name(selector, "example.org"),
            RData::TXT(TXT::new(strings)),
        );
    }
}

fn verifier(dns: &FakeDns) -> MessageAuthenticator {
    let mut udp = ConnectionConfig::udp();
    udp.port = dns.addr.port();
    let server = NameServerConfig::new(dns.addr.ip(), true, vec![udp]);
    let config = ResolverConfig::from_name_servers(vec![server]);
    let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .build()
        .unwrap();
    MessageAuthenticator(resolver)
}

/// The verdicts on each DKIM-Signature of `raw`, with the selectors.
async fn verify(auth: &MessageAuthenticator, raw: &[u8]) -> Vec<(String, DkimResult)> {
    let msg = AuthenticatedMessage::parse(raw).expect("a parsable message");
    auth.verify_dkim(&msg)
        .await
        .iter()
        .map(|o| {
            let selector = o.signature().map(|s| s.s.clone()).unwrap_or_default();
            (selector, o.result().clone())
        })
        .collect()
}

fn dkim_fields(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n")
        .fold(Vec::<String>::new(), |mut fields, line| {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = fields.last_mut() {
                    last.push_str(line);
                }
            } else {
                fields.push(line.to_owned());
            }
            fields
        })
        .into_iter()
        .filter(|f| f.to_ascii_lowercase().starts_with("dkim-signature:"))
        .collect()
}

struct Running {
    cancel: CancellationToken,
    tracker: TaskTracker,
}

fn run(store: &Arc<SqliteStore>, s: Settings) -> Running {
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    postern_outbound::start(store.clone(), s, cancel.clone(), &tracker);
    Running { cancel, tracker }
}

impl Running {
    async fn stop(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

const WRITTEN: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: signed\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHi Bob,\r\n.a line with a dot\r\n\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_mail_carries_signatures_that_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut zone = Zone::default();
    keys_for_example_org(&dir.path().join("dkim"), &mut zone);
    let dns = FakeDns::start(zone).await;
    let peer = Peer::start(PeerOptions::default()).await;
    let store = store(&dir.path().join("store"));
    let mut s = settings(None);
    s.routes
        .insert("example.net".into(), ("127.0.0.1".into(), peer.addr.port()));
    s.dkim = Some(Arc::new(Signer::open(&dir.path().join("dkim")).unwrap()));
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        WRITTEN,
    );
    // Another author domain, without keys: sent as written.
    let unsigned = b"From: carol@example.com\r\nSubject: plain\r\n\r\nno key here\r\n";
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        unsigned,
    );
    let out = run(&store, s);
    assert!(wait_for(20, || peer.messages().len() == 2).await);
    out.stop().await;

    let messages = peer.messages();
    let signed = messages
        .iter()
        .find(|m| m.ends_with(WRITTEN))
        .expect("the signed message, its bytes unchanged after the signatures");
    let fields = dkim_fields(signed);
    assert_eq!(fields.len(), 2, "one signature per key: {fields:?}");
    for f in &fields {
        assert!(f.contains("d=example.org"), "{f}");
        assert!(f.contains("c=relaxed/relaxed"), "{f}");
        let h = f.split("h=").nth(1).unwrap().split(';').next().unwrap();
        let from_count = h
            .split(':')
            .filter(|n| n.trim().eq_ignore_ascii_case("from"))
            .count();
        assert_eq!(from_count, 2, "From is oversigned: {h}");
    }
    let mut verdicts = verify(&verifier(&dns), signed).await;
    verdicts.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        verdicts,
        [
            ("t-ed".to_owned(), DkimResult::Pass),
            ("t-rsa".to_owned(), DkimResult::Pass)
        ]
    );

    let plain = messages.iter().find(|m| m.ends_with(unsigned)).unwrap();
    assert_eq!(
        plain.as_slice(),
        unsigned.as_slice(),
        "no key, no signature"
    );

    // The verifier is not a rubber stamp: a changed body does not pass
    // (mail-auth reports a body hash mismatch as "neutral").
    let mut tampered = signed.clone();
    let at = tampered.len() - 8;
    tampered[at] = b'X';
    let verdicts = verify(&verifier(&dns), &tampered).await;
    assert_eq!(verdicts.len(), 2);
    for (selector, verdict) in verdicts {
        assert_ne!(verdict, DkimResult::Pass, "{selector}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_sends_the_signatures_of_the_first_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let mut zone = Zone::default();
    keys_for_example_org(&dir.path().join("dkim"), &mut zone);
    let dns = FakeDns::start(zone).await;
    // example.net takes the message at once; example.com greylists the
    // first connection, so its copy goes out on a retry.
    let quick = Peer::start(PeerOptions::default()).await;
    let greylist = Peer::start(PeerOptions {
        rcpt: Arc::new(|_, conn| match conn {
            0 => "451 4.7.1 greylisted, try again".to_owned(),
            _ => "250 2.1.5 ok".to_owned(),
        }),
        ..Default::default()
    })
    .await;
    let store = store(&dir.path().join("store"));
    let mut s = settings(None);
    s.routes.insert(
        "example.net".into(),
        ("127.0.0.1".into(), quick.addr.port()),
    );
    s.routes.insert(
        "example.com".into(),
        ("127.0.0.1".into(), greylist.addr.port()),
    );
    s.dkim = Some(Arc::new(Signer::open(&dir.path().join("dkim")).unwrap()));
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net", "dave@example.com"],
        WRITTEN,
    );
    let out = run(&store, s);
    assert!(
        wait_for(20, || quick.messages().len() == 1
            && greylist.messages().len() == 1)
        .await
    );
    out.stop().await;
    assert_eq!(greylist.seen().len(), 2, "delivered on the second attempt");
    let first = quick.messages().remove(0);
    let retried = greylist.messages().remove(0);
    assert_eq!(first, retried, "the same bytes, signatures included");
    assert_eq!(dkim_fields(&retried).len(), 2);
    let verdicts = verify(&verifier(&dns), &retried).await;
    assert!(
        verdicts.iter().all(|(_, v)| *v == DkimResult::Pass),
        "{verdicts:?}"
    );
}
