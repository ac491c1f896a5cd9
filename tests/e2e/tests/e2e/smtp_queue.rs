//! The outbound queue between two in-process servers: A (example.test)
//! relays for its users to B (remote.test) through a static route on
//! loopback, over STARTTLS, with retries, bounces and a restart.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postern_store::{QueueItem, RecipientState};
use postern_testkit::server::unused_port;
use postern_testkit::{TestCa, TestServer, TestServerBuilder};

use crate::smtp::{eventually, logged_in, send_mail, split_received, ALICE, PASSWORD};

const BOB: &str = "bob@remote.test";
/// How long a delivery over loopback may take.
const DELIVERY: Duration = Duration::from_secs(10);

/// A's `[outbound]`: mail for remote.test goes to `port` on loopback;
/// `extra` adds lines (a CA file, a TLS override).
fn outbound(port: u16, extra: &str) -> String {
    format!(
        "[outbound]\nresolver = \"127.0.0.1:9\"\nmta_sts = false\ndane = false\n{extra}\n[outbound.routes]\n\"remote.test\" = \"127.0.0.1:{port}\"\n"
    )
}

/// B: serves remote.test, with bob.
async fn peer(builder: TestServerBuilder) -> TestServer {
    let b = builder.start().await;
    b.add_user(BOB, PASSWORD);
    b
}

/// A, with alice.
async fn sender(builder: TestServerBuilder) -> TestServer {
    let a = builder.start().await;
    a.add_user(ALICE, PASSWORD);
    a
}

/// Alice submits one message on A; it is accepted (and queued).
async fn submit(a: &TestServer, to: &str, subject: &str) -> Vec<u8> {
    let body = format!(
        "From: Alice <{ALICE}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.test>\r\n\r\nHello from A.\r\n.dot line\r\n"
    )
    .into_bytes();
    let mut c = logged_in(a, ALICE).await;
    let reply = send_mail(&mut c, ALICE, &[to], &body).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    c.send("QUIT").await;
    c.expect("221").await;
    body
}

fn queue(srv: &TestServer) -> Vec<QueueItem> {
    srv.server().store().queue_list().expect("queue list")
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    i64::try_from(secs).expect("a sane clock")
}

/// Waits until the one queued item has had an attempt that left it
/// pending; returns it.
async fn deferred(a: &TestServer) -> QueueItem {
    let tried = eventually(DELIVERY, || {
        queue(a).iter().any(|i| {
            i.recipients
                .iter()
                .any(|r| r.state == RecipientState::Pending && r.attempts >= 1)
        })
    })
    .await;
    let items = queue(a);
    assert!(tried, "no deferred attempt; queue: {items:#?}");
    assert_eq!(items.len(), 1, "{items:#?}");
    items.into_iter().next().expect("one item")
}

/// The message B received from A: our body, under B's trace header over
/// A's own (A's comes first in the bytes B got, so B's is on top).
fn check_relayed(b: &TestServer, body: &[u8]) -> String {
    let inbox = b.inbox(BOB);
    assert_eq!(inbox.len(), 1, "exactly one copy at B");
    let (b_trace, rest) = split_received(&inbox[0]);
    let (a_trace, rest) = split_received(rest);
    assert_eq!(String::from_utf8_lossy(rest), String::from_utf8_lossy(body));
    assert!(a_trace.contains("with ESMTPSA"), "{a_trace}");
    b_trace
}

/// RFC 3207 over a loopback hop: B's trace header says the message came
/// over TLS (ESMTPS, with the cipher), unauthenticated (MX to MX).
fn assert_tls_hop(b_trace: &str) {
    assert!(b_trace.contains("with ESMTPS id "), "{b_trace}");
    assert!(b_trace.contains("\ttls TLS"), "{b_trace}");
    assert!(b_trace.contains("(TLSv1."), "{b_trace}");
    assert!(b_trace.contains(&format!("for <{BOB}>")), "{b_trace}");
}

#[tokio::test]
async fn queued_mail_reaches_the_peer_over_opportunistic_starttls() {
    let b = peer(TestServerBuilder::new()).await;
    let port = b.addr("smtp").port();
    let a = sender(TestServerBuilder::new().outbound(&outbound(port, ""))).await;
    let body = submit(&a, BOB, "opportunistic").await;
    let arrived = eventually(DELIVERY, || b.inbox(BOB).len() == 1).await;
    assert!(arrived, "not delivered; A's queue: {:#?}", queue(&a));
    assert_tls_hop(&check_relayed(&b, &body));
    assert!(
        eventually(DELIVERY, || queue(&a).is_empty()).await,
        "A keeps a delivered item: {:#?}",
        queue(&a)
    );
    // Delivered, so no report goes back to alice.
    assert!(a.inbox(ALICE).is_empty());
}

#[tokio::test]
async fn require_verified_delivers_when_the_peer_is_trusted() {
    let b = peer(TestServerBuilder::new()).await;
    let port = b.addr("smtp").port();
    let extra = "ca_file = \"peer-ca.pem\"\n[outbound.tls]\n\"remote.test\" = \"require-verified\"";
    let a = sender(
        TestServerBuilder::new()
            .file("peer-ca.pem", b.ca.root_pem())
            .outbound(&outbound(port, extra)),
    )
    .await;
    let body = submit(&a, BOB, "verified").await;
    let arrived = eventually(DELIVERY, || b.inbox(BOB).len() == 1).await;
    assert!(arrived, "not delivered; A's queue: {:#?}", queue(&a));
    assert_tls_hop(&check_relayed(&b, &body));
}

#[tokio::test]
async fn require_verified_with_an_untrusted_peer_keeps_the_message_queued() {
    let b = peer(TestServerBuilder::new()).await;
    let port = b.addr("smtp").port();
    let extra = "ca_file = \"peer-ca.pem\"\n[outbound.tls]\n\"remote.test\" = \"require-verified\"";
    let stranger = TestCa::new("Some Other Root");
    let a = sender(
        TestServerBuilder::new()
            .file("peer-ca.pem", stranger.root_pem())
            .outbound(&outbound(port, extra)),
    )
    .await;
    submit(&a, BOB, "unverified").await;
    let item = deferred(&a).await;
    let error = item.recipients[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("TLS"), "{item:#?}");
    // Never in clear instead: B got nothing, then or a little later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(b.inbox(BOB).is_empty(), "delivered despite the policy");
    assert_eq!(queue(&a).len(), 1);
    assert!(a.inbox(ALICE).is_empty(), "a temporary failure bounced");
}

#[tokio::test]
async fn a_permanent_refusal_bounces_with_a_dsn() {
    let b = peer(TestServerBuilder::new()).await;
    let port = b.addr("smtp").port();
    let a = sender(TestServerBuilder::new().outbound(&outbound(port, ""))).await;
    let nobody = "nobody@remote.test";
    submit(&a, nobody, "bounce").await;
    let bounced = eventually(DELIVERY, || a.inbox(ALICE).len() == 1).await;
    assert!(bounced, "no DSN; A's queue: {:#?}", queue(&a));
    let dsn = String::from_utf8_lossy(&a.inbox(ALICE)[0]).into_owned();
    // RFC 3464 / RFC 6522.
    assert!(dsn.contains("multipart/report"), "{dsn}");
    assert!(dsn.contains("report-type=delivery-status"), "{dsn}");
    assert!(dsn.contains("message/delivery-status"), "{dsn}");
    assert!(
        dsn.contains(&format!("Final-Recipient: rfc822;{nobody}"))
            || dsn.contains(&format!("Final-Recipient: rfc822; {nobody}")),
        "{dsn}"
    );
    assert!(dsn.contains("Action: failed"), "{dsn}");
    assert!(dsn.contains("Status: 5.1.1"), "{dsn}");
    assert!(dsn.contains("Subject: bounce"), "original headers: {dsn}");
    assert!(b.inbox(BOB).is_empty());
    assert!(
        eventually(DELIVERY, || queue(&a).is_empty()).await,
        "{:#?}",
        queue(&a)
    );
}

#[tokio::test]
async fn a_temporary_refusal_is_retried() {
    let b = peer(TestServerBuilder::new()).await;
    // A 1-byte quota: B answers 452 4.2.2 after DATA.
    let bob = b.server().store().account(BOB).unwrap().unwrap();
    b.server().store().set_quota(bob.id, 1).unwrap();
    let port = b.addr("smtp").port();
    let a = sender(TestServerBuilder::new().outbound(&outbound(port, ""))).await;
    let body = submit(&a, BOB, "retried").await;
    let item = deferred(&a).await;
    let error = item.recipients[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("452"), "{item:#?}");
    assert!(b.inbox(BOB).is_empty());
    assert!(a.inbox(ALICE).is_empty(), "a temporary failure bounced");
    // Room again; the administrator's `postern queue retry` (which
    // wakes the workers through the store's change feed).
    b.server().store().set_quota(bob.id, 0).unwrap();
    a.server()
        .store()
        .queue_retry_now(item.id, unix_now())
        .unwrap();
    let arrived = eventually(DELIVERY, || b.inbox(BOB).len() == 1).await;
    assert!(arrived, "not delivered; A's queue: {:#?}", queue(&a));
    check_relayed(&b, &body);
    assert!(
        eventually(DELIVERY, || queue(&a).is_empty()).await,
        "{:#?}",
        queue(&a)
    );
}

/// B is down; A accepts, tries and keeps the message; A stops; B comes
/// up; A starts again on the same data directory and delivers it.
#[tokio::test]
async fn a_restart_with_mail_queued_loses_nothing() {
    let port = unused_port();
    let mut a = sender(TestServerBuilder::new().outbound(&outbound(port, ""))).await;
    let body = submit(&a, BOB, "restart").await;
    let before = deferred(&a).await;
    a.halt().await;

    let b = peer(TestServerBuilder::new().bind("smtp", &format!("127.0.0.1:{port}"))).await;
    a.resume().await;
    let after = queue(&a);
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0].id, before.id);
    assert_eq!(after[0].recipients[0].state, RecipientState::Pending);
    // The item waits for its next attempt (a minute after the first);
    // flush it as `postern queue retry` would rather than wait.
    a.server()
        .store()
        .queue_retry_now(before.id, unix_now())
        .unwrap();
    let arrived = eventually(DELIVERY, || b.inbox(BOB).len() == 1).await;
    assert!(arrived, "not delivered; A's queue: {:#?}", queue(&a));
    assert_tls_hop(&check_relayed(&b, &body));
    assert!(
        eventually(DELIVERY, || queue(&a).is_empty()).await,
        "{:#?}",
        queue(&a)
    );
}
