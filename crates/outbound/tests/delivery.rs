//! The outbound queue against fake peers on 127.0.0.1 and a real SQLite
//! store in a temporary directory.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use postern_outbound::{FailureKind, OutboundHandle, PolicyKind, Settings, TlsRequirement};
use postern_store::{RecipientState, SqliteStore, Store};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct Running {
    handle: OutboundHandle,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Running {
    async fn stop(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

fn run(store: &Arc<SqliteStore>, s: Settings) -> Running {
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let handle = postern_outbound::start(store.clone(), s, cancel.clone(), &tracker);
    Running {
        handle,
        cancel,
        tracker,
    }
}

fn route(s: &mut Settings, domain: &str, peer: &Peer) {
    s.routes.insert(
        domain.to_owned(),
        ("127.0.0.1".to_owned(), peer.addr.port()),
    );
}

fn queue_empty(store: &SqliteStore) -> bool {
    store.queue_list().unwrap().is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_over_verified_starttls() {
    let ca = TestCa::default();
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&ca.server_cert(&["127.0.0.1"]))),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut s = settings(Some(&ca));
    route(&mut s, "example.net", &peer);
    s.policies
        .insert("example.net".into(), TlsRequirement::RequireVerified);
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let out = run(&store, s);
    assert!(
        wait_for(20, || peer.messages().len() == 1 && queue_empty(&store)).await,
        "{:?}",
        peer.seen()
    );
    assert_eq!(
        peer.messages()[0],
        BODY,
        "dot-stuffing undone gives the message back"
    );
    assert!(peer.seen()[0].mail_under_tls);
    assert!(
        peer.seen()[0].pipelined,
        "MAIL and RCPT in one write (RFC 2920)"
    );
    let m = out.handle.metrics();
    assert_eq!(m.delivered, 1);
    assert_eq!(m.plaintext, 0);
    assert_eq!(
        m.domains["example.net"].successes[&PolicyKind::NoPolicyFound],
        1
    );
    assert!(inbox(&*store).is_empty(), "no DSN for a delivered message");
    out.stop().await;
}

/// A writer that keeps what the log says, for the tests that check it.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn opportunistic_without_starttls_delivers_in_plain_and_says_so() {
    let logs = LogBuf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let peer = Peer::start(PeerOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut s = settings(None);
    route(&mut s, "example.net", &peer);
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let out = run(&store, s);
    assert!(wait_for(20, || peer.messages().len() == 1 && queue_empty(&store)).await);
    assert!(!peer.seen()[0].mail_under_tls);
    assert_eq!(out.handle.metrics().plaintext, 1);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("STARTTLS not offered or refused: sending in plain text"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains(" delivery "))
        .unwrap_or_else(|| panic!("no delivery line in {text}"));
    assert!(
        line.contains("verification=plaintext") && line.contains("reply=250 2.0.0 queued as 1"),
        "{line}"
    );
    out.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_failure_is_retried_then_delivered() {
    let peer = Peer::start(PeerOptions {
        rcpt: Arc::new(|_, conn| {
            if conn == 0 {
                "451 4.7.1 greylisted, come back later".into()
            } else {
                "250 2.1.5 ok".into()
            }
        }),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut s = settings(None);
    route(&mut s, "example.net", &peer);
    let id = queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let out = run(&store, s);
    // First attempt: deferred, with the peer's reply kept.
    assert!(
        wait_for(20, || store
            .queue_item(id)
            .unwrap()
            .is_some_and(|i| i.recipients[0].attempts == 1))
        .await
    );
    if let Some(item) = store.queue_item(id).unwrap() {
        let r = &item.recipients[0];
        if r.state == RecipientState::Pending {
            assert!(
                r.last_error
                    .as_deref()
                    .unwrap()
                    .contains("451 4.7.1 greylisted"),
                "{r:?}"
            );
        }
    }
    assert!(
        wait_for(20, || peer.messages().len() == 1 && queue_empty(&store)).await,
        "{:?}",
        peer.seen()
    );
    let seen = peer.seen();
    assert!(seen.len() >= 2);
    assert!(
        !seen[0].commands.iter().any(|c| c == "DATA"),
        "no DATA without an accepted recipient"
    );
    let m = out.handle.metrics();
    assert_eq!((m.deferred, m.delivered, m.failed), (1, 1, 0));
    out.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_bounces_with_a_dsn() {
    let peer = Peer::start(PeerOptions {
        rcpt: Arc::new(|rcpt, _| {
            if rcpt.starts_with("bob") {
                "550 5.1.1 no such user here".into()
            } else {
                "250 2.1.5 ok".into()
            }
        }),
        // One command at a time here; the other tests pipeline.
        pipelining: false,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut s = settings(None);
    route(&mut s, "example.net", &peer);
    let mut env = envelope("alice@example.org");
    env.envid = Some("QQ314159".into());
    env.ret = Some(postern_store::DsnRet::Headers);
    queue(
        &*store,
        &env,
        &["bob@example.net", "carol@example.net"],
        BODY,
    );
    let out = run(&store, s);
    assert!(
        wait_for(20, || queue_empty(&store) && inbox(&*store).len() == 1).await,
        "{:?}",
        store.queue_list()
    );
    assert_eq!(peer.messages().len(), 1, "carol's copy went out once");
    assert!(
        !peer.seen()[0].pipelined,
        "no PIPELINING offered, none used"
    );
    let dsn = String::from_utf8(inbox(&*store).remove(0)).unwrap();
    for want in [
        "From: Mail Delivery System <MAILER-DAEMON@mx.postern.test>",
        "To: <alice@example.org>",
        "Content-Type: multipart/report; report-type=delivery-status;",
        "Reporting-MTA: dns; mx.postern.test",
        "Original-Envelope-Id: QQ314159",
        "Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        "Diagnostic-Code: smtp; 550 5.1.1 no such user here",
        "Content-Type: text/rfc822-headers\r\n\r\nFrom: alice@example.org\r\n",
    ] {
        assert!(dsn.contains(want), "missing {want:?} in\n{dsn}");
    }
    assert!(
        !dsn.contains("Final-Recipient: rfc822; carol"),
        "carol was delivered"
    );
    assert!(!dsn.contains("Hi Bob"), "RET=HDRS: no body");
    let m = out.handle.metrics();
    assert_eq!((m.delivered, m.failed, m.dsn_sent), (1, 1, 1));
    out.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_verified_never_sends_to_an_untrusted_certificate() {
    let trusted = TestCa::default();
    let rogue = TestCa::new("Rogue Root");
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&rogue.server_cert(&["127.0.0.1"]))),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut s = settings(Some(&trusted));
    route(&mut s, "example.net", &peer);
    s.policies
        .insert("example.net".into(), TlsRequirement::RequireVerified);
    let id = queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let out = run(&store, s);
    assert!(
        wait_for(20, || store
            .queue_item(id)
            .unwrap()
            .is_some_and(|i| i.recipients[0].attempts >= 1))
        .await
    );
    let item = store.queue_item(id).unwrap().unwrap();
    let r = &item.recipients[0];
    assert_eq!(
        r.state,
        RecipientState::Pending,
        "deferred, not bounced: the certificate may be fixed"
    );
    assert!(r.last_error.as_deref().unwrap().contains("TLS"), "{r:?}");
    assert!(!peer.saw_mail(), "nothing was sent: {:?}", peer.seen());
    assert!(peer.seen().iter().all(|s| s.messages.is_empty()));
    let m = out.handle.metrics();
    assert!(
        m.domains["example.net"].failures[&(
            PolicyKind::NoPolicyFound,
            FailureKind::CertificateNotTrusted
        )] >= 1
    );
    out.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requiretls_goes_only_to_peers_that_offer_it() {
    let ca = TestCa::default();
    let tls = server_tls(&ca.server_cert(&["127.0.0.1"]));
    let without = Peer::start(PeerOptions {
        tls: Some(tls.clone()),
        ..Default::default()
    })
    .await;
    let with = Peer::start(PeerOptions {
        tls: Some(tls),
        requiretls: true,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut s = settings(Some(&ca));
    route(&mut s, "example.net", &without);
    route(&mut s, "example.com", &with);
    let mut env = envelope("alice@example.org");
    env.requiretls = true;
    queue(&*store, &env, &["bob@example.net"], BODY);
    queue(&*store, &env, &["dave@example.com"], BODY);
    let out = run(&store, s);
    assert!(
        wait_for(20, || queue_empty(&store) && inbox(&*store).len() == 1).await,
        "{:?}",
        store.queue_list()
    );
    assert!(!without.saw_mail(), "{:?}", without.seen());
    let dsn = String::from_utf8(inbox(&*store).remove(0)).unwrap();
    assert!(
        dsn.contains(
            "Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.7.30\r\n"
        ),
        "{dsn}"
    );
    assert!(
        !dsn.contains("Hi Bob"),
        "a REQUIRETLS message's report returns headers only"
    );
    let seen = with.seen();
    let mail = seen
        .iter()
        .flat_map(|s| &s.commands)
        .find(|c| c.starts_with("MAIL"))
        .unwrap();
    assert!(mail.ends_with(" REQUIRETLS"), "{mail}");
    assert!(seen.iter().any(|s| s.mail_under_tls));
    assert_eq!(with.messages().len(), 1);
    out.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_queue_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The peer's port, first closed: every attempt fails to connect.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut s = settings(None);
    s.routes
        .insert("example.net".into(), ("127.0.0.1".into(), port));
    {
        let store = store(dir.path());
        for n in 0..3 {
            queue(
                &*store,
                &envelope("alice@example.org"),
                &[&format!("user{n}@example.net")],
                BODY,
            );
        }
        let out = run(&store, s.clone());
        assert!(
            wait_for(20, || store
                .queue_list()
                .unwrap()
                .iter()
                .all(|i| i.recipients[0].attempts >= 1))
            .await,
            "{:?}",
            store.queue_list()
        );
        out.stop().await;
    }
    // A new store handle on the same directory, the peer now up.
    let store = store(dir.path());
    assert_eq!(store.queue_list().unwrap().len(), 3);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let peer = Peer::start_on(listener, PeerOptions::default());
    let out = run(&store, s);
    assert!(
        wait_for(20, || peer.messages().len() == 3 && queue_empty(&store)).await,
        "{:?}",
        store.queue_list()
    );
    let mut rcpts: Vec<String> = peer
        .seen()
        .iter()
        .flat_map(|s| s.commands.clone())
        .filter(|c| c.starts_with("RCPT"))
        .collect();
    rcpts.sort();
    // Each exactly once: nothing lost, nothing doubled.
    assert_eq!(
        rcpts,
        [
            "RCPT TO:<user0@example.net>",
            "RCPT TO:<user1@example.net>",
            "RCPT TO:<user2@example.net>"
        ]
    );
    assert!(inbox(&*store).is_empty());
    out.stop().await;
}

fn relay_settings(
    ca: &TestCa,
    peer: &Peer,
    tls: postern_outbound::RelayTls,
    password: &str,
) -> Settings {
    let mut s = settings(Some(ca));
    s.relay = Some(postern_outbound::Relay {
        host: "127.0.0.1".into(),
        port: peer.addr.port(),
        tls,
        auth: Some(("user".into(), postern_types::Secret::new(password.into()))),
    });
    s
}

/// `\0user\0pw` in base64 (RFC 4616).
const USER_PW: &str = "AHVzZXIAcHc=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smarthost_gets_everything_over_implicit_tls_with_auth() {
    let ca = TestCa::default();
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&ca.server_cert(&["127.0.0.1"]))),
        implicit_tls: true,
        auth: Some(USER_PW.into()),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let s = relay_settings(&ca, &peer, postern_outbound::RelayTls::Implicit, "pw");
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@far.example", "carol@elsewhere.example"],
        BODY,
    );
    let out = run(&store, s);
    assert!(
        wait_for(20, || peer.messages().len() == 2 && queue_empty(&store)).await,
        "{:?}",
        peer.seen()
    );
    let seen = peer.seen();
    assert!(seen.iter().all(|s| s.mail_under_tls));
    assert!(
        seen.iter()
            .all(|s| s.commands.contains(&format!("AUTH PLAIN {USER_PW}"))),
        "{seen:?}"
    );
    out.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smarthost_credentials_never_go_in_clear_and_a_refusal_defers() {
    let ca = TestCa::default();
    // A relay without STARTTLS: nothing is sent, not even AUTH.
    let plain = Peer::start(PeerOptions {
        auth: Some(USER_PW.into()),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let id = queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@far.example"],
        BODY,
    );
    let out = run(
        &store,
        relay_settings(&ca, &plain, postern_outbound::RelayTls::StartTls, "pw"),
    );
    assert!(
        wait_for(20, || store
            .queue_item(id)
            .unwrap()
            .is_some_and(|i| i.recipients[0].attempts >= 1))
        .await
    );
    out.stop().await;
    assert!(
        plain.seen().iter().all(|s| !s
            .commands
            .iter()
            .any(|c| c.starts_with("AUTH") || c.starts_with("MAIL"))),
        "{:?}",
        plain.seen()
    );
    // A relay with STARTTLS that refuses the password: deferred, not bounced.
    let tls = Peer::start(PeerOptions {
        tls: Some(server_tls(&ca.server_cert(&["127.0.0.1"]))),
        auth: Some(USER_PW.into()),
        ..Default::default()
    })
    .await;
    let out = run(
        &store,
        relay_settings(&ca, &tls, postern_outbound::RelayTls::StartTls, "wrong"),
    );
    assert!(
        wait_for(20, || tls
            .seen()
            .iter()
            .any(|s| s.commands.iter().any(|c| c.starts_with("AUTH"))))
        .await
    );
    assert!(
        wait_for(20, || store
            .queue_item(id)
            .unwrap()
            .is_some_and(|i| i.recipients[0].attempts >= 2))
        .await
    );
    let r = store.queue_item(id).unwrap().unwrap().recipients[0].clone();
    assert_eq!(r.state, RecipientState::Pending);
    assert!(
        r.last_error.as_deref().unwrap().contains("535 5.7.8"),
        "{r:?}"
    );
    assert!(!tls.saw_mail());
    out.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_in_the_middle_of_a_transaction_loses_nothing() {
    let peer = Peer::start(PeerOptions {
        stall_first_message: true,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(None);
    route(&mut s, "example.net", &peer);
    {
        let store = store(dir.path());
        queue(
            &*store,
            &envelope("alice@example.org"),
            &["bob@example.net"],
            BODY,
        );
        let out = run(&store, s.clone());
        // The peer has the message but has not said 250: we stop now.
        assert!(wait_for(20, || peer.messages().len() == 1).await);
        out.stop().await;
        assert_eq!(
            store.queue_list().unwrap().len(),
            1,
            "unacknowledged: still queued"
        );
    }
    let store = store(dir.path());
    let out = run(&store, s);
    assert!(
        wait_for(20, || queue_empty(&store)).await,
        "{:?}",
        store.queue_list()
    );
    // Sent again after the restart: a duplicate is possible, a loss is
    // not (RFC 5321 §6.1).
    assert_eq!(peer.messages().len(), 2);
    assert_eq!(peer.seen().len(), 2);
    assert_eq!(out.handle.metrics().delivered, 1);
    out.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_wait_warns_the_sender_once() {
    let peer = Peer::start(PeerOptions {
        rcpt: Arc::new(|_, _| "451 4.3.0 try again later".into()),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut s = settings(None);
    route(&mut s, "example.net", &peer);
    s.delay_warning = Some(std::time::Duration::from_secs(1));
    let id = queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let out = run(&store, s);
    assert!(
        wait_for(20, || store
            .queue_item(id)
            .unwrap()
            .is_some_and(|i| i.recipients[0].attempts >= 3))
        .await
    );
    let mail = inbox(&*store);
    assert_eq!(mail.len(), 1, "one warning, not one per attempt");
    let warning = String::from_utf8(mail[0].clone()).unwrap();
    for want in [
        "Subject: Delayed Mail (still being retried)",
        "Final-Recipient: rfc822; bob@example.net\r\nAction: delayed\r\nStatus: 4.3.0\r\n",
        "Diagnostic-Code: smtp; 451 4.3.0 try again later",
        "Will-Retry-Until: ",
    ] {
        assert!(warning.contains(want), "missing {want:?} in\n{warning}");
    }
    assert_eq!(
        store.queue_item(id).unwrap().unwrap().recipients[0].state,
        RecipientState::Pending
    );
    out.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opportunistic_tls_takes_any_certificate_and_counts_it_as_such() {
    let rogue = TestCa::new("Nobody Trusts Me");
    let peer = Peer::start(PeerOptions {
        tls: Some(server_tls(&rogue.server_cert(&["mx.elsewhere.test"]))),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut s = settings(Some(&TestCa::default()));
    route(&mut s, "example.net", &peer);
    queue(
        &*store,
        &envelope("alice@example.org"),
        &["bob@example.net"],
        BODY,
    );
    let out = run(&store, s);
    // RFC 7435: an unauthenticated encrypted session beats plain text.
    assert!(wait_for(20, || peer.messages().len() == 1 && queue_empty(&store)).await);
    assert!(peer.seen()[0].mail_under_tls);
    let m = out.handle.metrics();
    assert_eq!(m.plaintext, 0);
    assert_eq!(
        m.domains["example.net"].successes[&PolicyKind::NoPolicyFound],
        1
    );
    out.stop().await;
}
