//! Two Postern nodes on one PostgreSQL store, each a whole server with
//! its own listeners and data directory: mail accepted by both at once is
//! in the mailbox exactly once with UIDs that never repeat, an IMAP IDLE
//! on one node hears of a delivery made through the other, and a CalDAV
//! write on one node is read back on the other with the same ETag.
//!
//! Needs a PostgreSQL server: `POSTERN_TEST_POSTGRES` is the URL of a
//! role that may create databases (`.ci/run` starts one on loopback).
//! Each test makes a database of its own with `psql` and drops it at the
//! end. Without the variable a test returns early, except under
//! `CI=true`, where it fails.
//!
//! # Layout
//! - `pair`: two servers on a fresh test database.
//! - small IMAP helpers (login, tagged commands).
//! - the cases: load split over both nodes, IDLE across nodes, CalDAV.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use postern_store::postgres::testing::TestDatabase;
use postern_testkit::{LineClient, TestServer, TestServerBuilder};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::caldav;
use crate::smtp::{logged_in, send_mail, ALICE, HOST, PASSWORD};

type Imap = LineClient<TlsStream<TcpStream>>;

/// Two servers on `db`, and alice's account added once, through A.
async fn pair(db: &TestDatabase) -> (TestServer, TestServer) {
    let a = TestServerBuilder::new()
        .toml(&db.store_section())
        .start()
        .await;
    let b = TestServerBuilder::new()
        .toml(&db.store_section())
        .start()
        .await;
    a.add_user(ALICE, PASSWORD);
    (a, b)
}

async fn imap_login(srv: &TestServer) -> Imap {
    let mut c = LineClient::tls(srv.addr("imaps"), HOST, srv.client_config(&[b"imap"]))
        .await
        .expect("TLS to imaps");
    c.expect("* OK").await;
    cmd(&mut c, &format!("l LOGIN {ALICE} \"{PASSWORD}\"")).await;
    c
}

/// Sends `line` (which starts with its tag) and reads up to the tagged
/// response, which must be OK.
async fn cmd(c: &mut Imap, line: &str) -> Vec<String> {
    c.send(line).await;
    let tag = line.split(' ').next().unwrap_or_default();
    let lines = c.read_until(&format!("{tag} ")).await;
    let last = lines.last().map_or("", String::as_str);
    assert!(
        last.starts_with(&format!("{tag} OK")),
        "{line}: {lines:?}\n{}",
        c.transcript()
    );
    lines
}

/// One test message, told apart by its Message-ID.
fn message(id: &str) -> Vec<u8> {
    format!(
        "From: alice@example.test\r\nTo: alice@example.test\r\nSubject: load {id}\r\n\
         Message-ID: <{id}@nodes.example.test>\r\n\r\nsent to one node of two\r\n"
    )
    .into_bytes()
}

/// The INBOX as a node's IMAP shows it: (UID, Message-ID) in sequence
/// order, and the EXISTS count of SELECT.
async fn inbox_over_imap(srv: &TestServer) -> (usize, Vec<(u32, String)>) {
    let mut c = imap_login(srv).await;
    let sel = cmd(&mut c, "s SELECT INBOX").await;
    let exists = sel
        .iter()
        .find_map(|l| l.strip_prefix("* ")?.strip_suffix(" EXISTS")?.parse().ok())
        .unwrap_or_else(|| panic!("no EXISTS in {sel:?}"));
    let lines = cmd(
        &mut c,
        "f FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
    )
    .await;
    let mut out: Vec<(u32, String)> = Vec::new();
    for line in &lines {
        if let Some(uid) = line
            .strip_prefix("* ")
            .and_then(|l| l.split_once(" FETCH (UID "))
            .and_then(|(_, rest)| rest.split(' ').next()?.parse().ok())
        {
            out.push((uid, String::new()));
        } else if line.to_ascii_lowercase().starts_with("message-id:") {
            let last = out.last_mut().expect("a Message-ID inside a FETCH");
            line["message-id:".len()..].trim().clone_into(&mut last.1);
        }
    }
    cmd(&mut c, "z LOGOUT").await;
    (exists, out)
}

/// RFC 9051 §2.3.1.1: UIDs strictly ascend in sequence order, so two
/// nodes allocating UIDs in one mailbox must never hand out one twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_split_over_two_nodes_is_stored_once_with_distinct_uids() {
    const CLIENTS: usize = 4;
    const EACH: usize = 25;
    let Some(db) = TestDatabase::fresh("e2e_nodes") else {
        return;
    };
    let (a, b) = pair(&db).await;

    let mut tasks = Vec::new();
    for (node, srv) in [("a", &a), ("b", &b)] {
        for client in 0..CLIENTS {
            let mut c = logged_in(srv, ALICE).await;
            tasks.push(tokio::spawn(async move {
                for n in 0..EACH {
                    let id = format!("{node}-{client}-{n}");
                    let reply = send_mail(&mut c, ALICE, &[ALICE], &message(&id)).await;
                    assert!(
                        reply.starts_with("250"),
                        "{id}: {reply}\n{}",
                        c.transcript()
                    );
                }
                c.send("QUIT").await;
            }));
        }
    }
    for t in tasks {
        t.await.expect("an SMTP client");
    }

    let total = 2 * CLIENTS * EACH;
    let expected: HashSet<String> = ["a", "b"]
        .iter()
        .flat_map(|node| {
            (0..CLIENTS).flat_map(move |c| {
                (0..EACH).map(move |n| format!("<{node}-{c}-{n}@nodes.example.test>"))
            })
        })
        .collect();
    let (exists_a, seen_a) = inbox_over_imap(&a).await;
    let (exists_b, seen_b) = inbox_over_imap(&b).await;
    assert_eq!(exists_a, total, "EXISTS on node A");
    assert_eq!(exists_b, total, "EXISTS on node B");
    assert_eq!(seen_a, seen_b, "the two nodes show different mailboxes");
    assert_eq!(seen_a.len(), total, "{seen_a:?}");
    let ids: HashSet<String> = seen_a.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(ids.len(), total, "a message is stored twice: {seen_a:?}");
    assert_eq!(ids, expected, "messages missing or foreign");
    assert!(
        seen_a.windows(2).all(|w| w[0].0 < w[1].0),
        "UIDs not strictly increasing: {:?}",
        seen_a.iter().map(|(uid, _)| uid).collect::<Vec<_>>()
    );
    a.stop().await;
    b.stop().await;
}

/// RFC 2177: the IDLE client is told of new mail as it arrives; here the
/// mail arrives through the other node, so the news must cross the
/// database (the 30 s re-read would be far too late).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_on_one_node_hears_a_delivery_through_the_other() {
    let Some(db) = TestDatabase::fresh("e2e_nodes") else {
        return;
    };
    let (a, b) = pair(&db).await;
    let mut idle = imap_login(&a).await;
    let sel = cmd(&mut idle, "s SELECT INBOX").await;
    assert!(sel.iter().any(|l| l == "* 0 EXISTS"), "{sel:?}");
    idle.send("i IDLE").await;
    idle.expect("+ ").await;

    let mut smtp = logged_in(&b, ALICE).await;
    let reply = send_mail(&mut smtp, ALICE, &[ALICE], &message("idle")).await;
    assert!(reply.starts_with("250"), "{reply}\n{}", smtp.transcript());
    let acked = Instant::now();
    let heard = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match idle.read_line().await {
                Some(l) if l == "* 1 EXISTS" => return,
                Some(_) => {}
                None => panic!("the IDLE connection closed"),
            }
        }
    })
    .await;
    assert!(
        heard.is_ok(),
        "node A did not announce the delivery made on node B within 2 s:\n{}",
        idle.transcript()
    );
    eprintln!("announced {:?} after the 250", acked.elapsed());
    idle.send("DONE").await;
    let done = idle.read_until("i ").await;
    assert!(
        done.last().is_some_and(|l| l.starts_with("i OK")),
        "{done:?}"
    );
    a.stop().await;
    b.stop().await;
}

/// RFC 4791 §5.3.4 / RFC 4918 §8.6: an ETag names one state of a
/// resource, whichever node answers; an If-Match write on one node with
/// the ETag the other gave must succeed, and a stale one must fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_written_on_one_node_reads_the_same_on_the_other() {
    let Some(db) = TestDatabase::fresh("e2e_nodes") else {
        return;
    };
    let (a, b) = pair(&db).await;
    let creds = Some((ALICE, PASSWORD));
    let mut on_a = caldav::Client::new(&a, creds).await;
    let mut on_b = caldav::Client::new(&b, creds).await;
    let mk = r#"<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Work</d:displayname></d:prop></d:set></c:mkcalendar>"#;
    let r = on_a.send("MKCALENDAR", caldav::CAL, &[], mk).await;
    assert_eq!(r.status, 201, "{r}");
    let path = format!("{}standup.ics", caldav::CAL);
    let ics = caldav::event(
        "standup@nodes",
        "Standup",
        "DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\n",
    );
    let r = on_a.put(&path, &[("If-None-Match", "*")], &ics).await;
    assert_eq!(r.status, 201, "{r}");
    let etag = r.header("etag").expect("an ETag for the PUT").to_owned();

    let r = on_b.send("GET", &path, &[], "").await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.header("etag"), Some(etag.as_str()), "{r}");
    assert!(r.text().contains("UID:standup@nodes"), "{r}");
    let r = on_b.propfind(caldav::CAL, "1", "<d:getetag/>").await;
    assert_eq!(r.status, 207, "{r}");
    let quoted = etag.replace('"', "&quot;");
    assert!(
        r.text().contains(&etag) || r.text().contains(&quoted),
        "node B lists another ETag than {etag}: {r}"
    );

    // Written back on B with A's ETag; A then sees B's new one.
    let moved = caldav::event(
        "standup@nodes",
        "Standup (moved)",
        "DTSTART:20260105T120000Z\r\nDTEND:20260105T130000Z\r\n",
    );
    let r = on_b.put(&path, &[("If-Match", &etag)], &moved).await;
    assert_eq!(r.status, 204, "{r}");
    let etag_b = r.header("etag").expect("an ETag for the PUT").to_owned();
    assert_ne!(etag_b, etag);
    let r = on_a.put(&path, &[("If-Match", &etag)], &ics).await;
    assert_eq!(r.status, 412, "a stale ETag was accepted on node A: {r}");
    let r = on_a.send("GET", &path, &[], "").await;
    assert_eq!(r.header("etag"), Some(etag_b.as_str()), "{r}");
    assert!(r.text().contains("Standup (moved)"), "{r}");
    a.stop().await;
    b.stop().await;
}
