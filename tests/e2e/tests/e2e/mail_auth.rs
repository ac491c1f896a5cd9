//! Authentication of incoming mail on the MX (SPF, DKIM, DMARC, ARC; RFC
//! 8601 Authentication-Results), against a DNS responder on loopback that
//! serves the sending domains' records:
//!
//! - a.test: A's DKIM key, SPF `ip4:127.0.0.1 -all`, DMARC `p=reject`;
//! - q.test: no SPF, DMARC `p=quarantine`.
//!
//! A (a.test) relays through its queue to B (b.test) over a static route,
//! signed on the way out; forgeries come straight to B's MX, from
//! 127.0.0.2 when they must fall outside a.test's SPF record.

use std::net::SocketAddr;
use std::time::Duration;

use postern_testkit::dns::{write_dkim_key, DnsStub, Zone};
use postern_testkit::server::unused_port;
use postern_testkit::{LineClient, TestServer, TestServerBuilder};
use tokio::net::{TcpSocket, TcpStream};

use crate::smtp::{ehlo, eventually, logged_in, send_mail, HOST, PASSWORD};

const ALICE: &str = "alice@a.test";
const BOB: &str = "bob@b.test";
const SELECTOR: &str = "e2e";
/// How long a delivery over loopback may take.
const DELIVERY: Duration = Duration::from_secs(15);

/// a.test's and q.test's records; `dkim` is a.test's key record.
fn zone(dkim: Option<&str>) -> Zone {
    let zone = Zone::default()
        .txt("a.test", "v=spf1 ip4:127.0.0.1 -all")
        .txt("_dmarc.a.test", "v=DMARC1; p=reject")
        .txt("_dmarc.q.test", "v=DMARC1; p=quarantine");
    match dkim {
        Some(record) => zone.txt(&format!("{SELECTOR}._domainkey.a.test"), record),
        None => zone,
    }
}

/// B: b.test with bob, asking `dns`; `toml` adds settings.
async fn receiver(dns: &DnsStub, builder: TestServerBuilder, toml: &str) -> TestServer {
    let b = builder
        .outbound(&dns.outbound_section(""))
        .toml(toml)
        .start()
        .await;
    b.add_user(BOB, PASSWORD);
    b
}

/// Connected to B's MX from `source` (127.0.0.1 or another loopback
/// address), greeted, EHLO said.
async fn mx_from(b: &TestServer, source: &str) -> LineClient<TcpStream> {
    let socket = TcpSocket::new_v4().expect("socket");
    let source: SocketAddr = format!("{source}:0").parse().expect("source address");
    socket.bind(source).expect("bind the source address");
    let stream = socket.connect(b.addr("smtp")).await.expect("connect to MX");
    let mut c = LineClient::new(stream);
    c.expect("220 ").await;
    ehlo(&mut c).await;
    c
}

fn message(from: &str, subject: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "{extra_headers}From: <{from}>\r\nTo: <{BOB}>\r\nSubject: {subject}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@e2e.test>\r\n\r\nHello Bob.\r\n"
    )
    .into_bytes()
}

/// The messages of an account's folder, oldest first.
fn folder(srv: &TestServer, address: &str, name: &str) -> Vec<Vec<u8>> {
    let store = srv.server().store();
    let account = store.account(address).unwrap().expect("account");
    let Some(mailbox) = store.mailbox(account.id, name).unwrap() else {
        return Vec::new();
    };
    let messages = store.messages(mailbox.id).unwrap();
    messages
        .iter()
        .map(|m| store.read_message(mailbox.id, m.uid).unwrap())
        .collect()
}

/// Our Authentication-Results field at the very top, unfolded, and the
/// number of fields claiming our host name.
fn our_results(raw: &[u8]) -> (String, usize) {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n\t", " ").replace("\r\n ", " ");
    let fields: Vec<&str> = unfolded.split("\r\n").collect();
    let ours = format!("Authentication-Results: {HOST};");
    let count = fields.iter().filter(|f| f.starts_with(&ours)).count();
    assert!(fields[0].starts_with(&ours), "ours is not on top:\n{text}");
    assert!(
        fields[1].starts_with("Received: "),
        "then our Received:\n{text}"
    );
    (fields[0].to_owned(), count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_relayed_from_a_signed_domain_passes_spf_dkim_and_dmarc() {
    let b_port = unused_port();
    let routes = format!(
        "[outbound]\nresolver = \"127.0.0.1:9\"\nmta_sts = false\ndane = false\n[outbound.routes]\n\"b.test\" = \"127.0.0.1:{b_port}\"\n"
    );
    let a = TestServerBuilder::new().outbound(&routes).start().await;
    a.add_user(ALICE, PASSWORD);
    // As `postern dkim generate` leaves it; picked up without a restart.
    let key = write_dkim_key(a.dir(), "a.test", SELECTOR);
    let dns = DnsStub::start(zone(Some(&key))).await;
    let builder = TestServerBuilder::new().bind("smtp", &format!("127.0.0.1:{b_port}"));
    let b = receiver(&dns, builder, "").await;

    let mut c = logged_in(&a, ALICE).await;
    let body = message(ALICE, "relayed", "");
    let reply = send_mail(&mut c, ALICE, &[BOB], &body).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    let arrived = eventually(DELIVERY, || b.inbox(BOB).len() == 1).await;
    assert!(
        arrived,
        "not delivered; A's queue: {:#?}",
        a.server().store().queue_list()
    );

    let stored = &b.inbox(BOB)[0];
    let (results, count) = our_results(stored);
    assert_eq!(count, 1);
    for want in [
        "spf=pass smtp.mailfrom=alice@a.test;",
        &format!("dkim=pass header.d=a.test header.s={SELECTOR} header.b="),
        "dmarc=pass (p=reject) header.from=a.test;",
        "arc=none",
    ] {
        assert!(results.contains(want), "want {want} in\n{results}");
    }
    assert!(String::from_utf8_lossy(stored).contains("\r\nDKIM-Signature: "));
    assert!(folder(&b, BOB, "Junk").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgery_of_a_reject_domain_is_refused_and_nothing_is_stored() {
    let dns = DnsStub::start(zone(None)).await;
    let b = receiver(&dns, TestServerBuilder::new(), "").await;
    // Not in a.test's SPF record, and not signed: DMARC fails.
    let mut c = mx_from(&b, "127.0.0.2").await;
    c.send(&format!("MAIL FROM:<{ALICE}>")).await;
    c.expect("250 2.1.0").await;
    c.send(&format!("RCPT TO:<{BOB}>")).await;
    c.expect("250 2.1.5").await;
    let reply = crate::smtp::data(&mut c, &message(ALICE, "forged", "")).await;
    assert!(
        reply.starts_with("550 5.7.1 ") && reply.contains("DMARC policy of a.test"),
        "{}",
        c.transcript()
    );
    // The session goes on: the refusal was of the message only.
    c.send("NOOP").await;
    c.expect("250").await;
    assert!(b.inbox(BOB).is_empty());
    assert!(folder(&b, BOB, "Junk").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmarc_reject_set_to_accept_delivers_with_the_failure_recorded() {
    let dns = DnsStub::start(zone(None)).await;
    let toml = "[mail_auth]\ndmarc_reject = \"accept\"";
    let b = receiver(&dns, TestServerBuilder::new(), toml).await;
    let mut c = mx_from(&b, "127.0.0.2").await;
    let reply = send_mail(&mut c, ALICE, &[BOB], &message(ALICE, "accepted", "")).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    let inbox = b.inbox(BOB);
    assert_eq!(inbox.len(), 1);
    let (results, _) = our_results(&inbox[0]);
    assert!(
        results.contains("spf=fail smtp.mailfrom=alice@a.test;"),
        "{results}"
    );
    assert!(results.contains("dkim=none;"), "{results}");
    assert!(
        results.contains("dmarc=fail (p=reject) header.from=a.test;"),
        "{results}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantine_domain_failing_dmarc_lands_in_junk() {
    let dns = DnsStub::start(zone(None)).await;
    let b = receiver(&dns, TestServerBuilder::new(), "").await;
    let mut c = mx_from(&b, "127.0.0.1").await;
    let from = "news@q.test";
    let reply = send_mail(&mut c, from, &[BOB], &message(from, "quarantined", "")).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    assert!(b.inbox(BOB).is_empty(), "not in the INBOX");
    let junk = folder(&b, BOB, "Junk");
    assert_eq!(junk.len(), 1);
    let (results, _) = our_results(&junk[0]);
    assert!(
        results.contains("spf=none smtp.mailfrom=news@q.test;"),
        "{results}"
    );
    assert!(
        results.contains("dmarc=fail (p=quarantine) header.from=q.test;"),
        "{results}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_results_claiming_our_name_are_removed() {
    let dns = DnsStub::start(zone(None)).await;
    let b = receiver(&dns, TestServerBuilder::new(), "").await;
    let mut c = mx_from(&b, "127.0.0.1").await;
    let forged = format!(
        "Authentication-Results: {HOST}; dkim=pass header.d=bank.test; dmarc=pass\r\n\
         Authentication-Results: other.example; spf=pass smtp.mailfrom=x@other.example\r\n\
         Authentication-Results: (sneaky)\r\n\t{}; dmarc=pass\r\n",
        HOST.to_uppercase()
    );
    let from = "x@other.example";
    let body = message(from, "claims", &forged);
    let reply = send_mail(&mut c, from, &[BOB], &body).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    let stored = &b.inbox(BOB)[0];
    let (results, count) = our_results(stored);
    assert_eq!(count, 1, "only ours is left");
    assert!(!results.contains("bank.test"), "{results}");
    let text = String::from_utf8_lossy(stored);
    assert!(
        text.contains("\r\nAuthentication-Results: other.example; spf=pass"),
        "{text}"
    );
    assert!(!text.contains("sneaky"), "{text}");
    // No DNS record for other.example: nothing to pass or fail.
    assert!(results.contains("spf=none"), "{results}");
    assert!(results.contains("dmarc=none"), "{results}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_false_checks_nothing_and_adds_no_header() {
    let dns = DnsStub::start(zone(None)).await;
    let b = receiver(
        &dns,
        TestServerBuilder::new(),
        "[mail_auth]\nverify = false",
    )
    .await;
    // The forgery that is refused when checks run.
    let mut c = mx_from(&b, "127.0.0.2").await;
    let body = message(ALICE, "unchecked", "");
    let reply = send_mail(&mut c, ALICE, &[BOB], &body).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    let stored = &b.inbox(BOB)[0];
    let text = String::from_utf8_lossy(stored);
    assert!(text.starts_with("Received: "), "{text}");
    assert!(!text.contains("Authentication-Results"), "{text}");
    assert!(stored.ends_with(&body), "{text}");
}
