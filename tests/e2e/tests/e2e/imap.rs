//! IMAP with accounts and mailboxes, over real TLS (RFC 9051, RFC 3501 and
//! the extensions): login, SELECT, FETCH, STORE, SEARCH, APPEND, COPY,
//! MOVE, EXPUNGE, updates between sessions, and IDLE.

#[path = "imap_compress.rs"]
mod compress;
#[path = "imap_rfc.rs"]
mod load;
#[path = "imap_qresync.rs"]
mod qresync;
#[path = "imap_security.rs"]
mod security;

use std::time::{Duration, Instant};

use postern_testkit::{LineClient, TestServer};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const HOST: &str = "mail.example.test";
const ALICE: &str = "alice@example.test";
const PASSWORD: &str = "correct horse battery";

type Client = LineClient<TlsStream<TcpStream>>;

const FIRST: &[u8] = b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n\
Subject: first\r\nMessage-ID: <1@example.test>\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
\r\nfirst body\r\n";

const SECOND: &[u8] = b"From: carol@example.test\r\nSubject: second\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
hello part\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
\r\nAAEC\r\n--b--\r\n";

async fn imaps(srv: &TestServer) -> Client {
    let mut c = LineClient::tls(srv.addr("imaps"), HOST, srv.client_config(&[b"imap"]))
        .await
        .unwrap();
    c.expect("* OK").await;
    c
}

async fn login(srv: &TestServer) -> Client {
    let mut c = imaps(srv).await;
    let ok = cmd(&mut c, &format!("l LOGIN {ALICE} \"{PASSWORD}\"")).await;
    assert!(ok.last().unwrap().starts_with("l OK [CAPABILITY"), "{ok:?}");
    c
}

/// Sends `line` (which starts with its tag) and reads up to the tagged
/// response, which must be OK.
async fn cmd(c: &mut Client, line: &str) -> Vec<String> {
    let lines = any(c, line).await;
    let tag = line.split(' ').next().unwrap();
    assert!(
        lines.last().unwrap().starts_with(&format!("{tag} OK")),
        "{line}: {lines:?}\n{}",
        c.transcript()
    );
    lines
}

/// Sends `line` and reads up to its tagged response, whatever it is.
async fn any(c: &mut Client, line: &str) -> Vec<String> {
    c.send(line).await;
    let tag = line.split(' ').next().unwrap();
    c.read_until(&format!("{tag} ")).await
}

fn has(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

async fn with_mail() -> TestServer {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    srv.deliver(ALICE, FIRST);
    srv.deliver(ALICE, SECOND);
    forget_recent(&srv);
    srv
}

/// Makes the INBOX's messages old, as if an earlier session had selected
/// it: none is \Recent in the sessions of the test (RFC 3501 §2.3.2).
fn forget_recent(srv: &TestServer) {
    let store = srv.server().store();
    let account = store.account(ALICE).unwrap().unwrap();
    let inbox = store.mailbox(account.id, "INBOX").unwrap().unwrap();
    store.claim_recent(inbox.id).unwrap();
}

#[tokio::test]
async fn select_fetch_store_search() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let sel = cmd(&mut c, "a SELECT INBOX").await;
    assert!(
        has(&sel, "* 2 EXISTS") && has(&sel, "[UIDVALIDITY "),
        "{sel:?}"
    );
    assert!(sel.last().unwrap().starts_with("a OK [READ-WRITE]"));

    let f = cmd(&mut c, "b FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)").await;
    let size = FIRST.len();
    assert!(has(&f, &format!("* 1 FETCH (UID 1 FLAGS () RFC822.SIZE {size} ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"first\" ((\"Bob\" NIL \"bob\" \"example.test\"))")), "{f:?}");
    let f = cmd(&mut c, "c FETCH 2 BODYSTRUCTURE").await;
    assert!(has(&f, "BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL)(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 4 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL)"), "{f:?}");

    // BODY.PEEK leaves \Seen alone; BODY[] sets it and says so.
    let f = cmd(&mut c, "d FETCH 1 BODY.PEEK[TEXT]").await;
    assert!(
        has(&f, "* 1 FETCH (BODY[TEXT] {12}") && has(&f, "first body"),
        "{f:?}"
    );
    assert!(!has(&f, "\\Seen"));
    let f = cmd(&mut c, "e FETCH 1 FLAGS").await;
    assert!(has(&f, "FLAGS ()"), "{f:?}");
    let f = cmd(&mut c, "f FETCH 1 BODY[HEADER.FIELDS (SUBJECT)]").await;
    assert!(
        has(&f, "BODY[HEADER.FIELDS (SUBJECT)] {18}") && has(&f, "FLAGS (\\Seen)"),
        "{f:?}"
    );
    let f = cmd(&mut c, "g FETCH 2 (BODY.PEEK[1]<0.5> BINARY.PEEK[2])").await;
    assert!(has(&f, "BODY[1]<0> {5}") && has(&f, "hello"), "{f:?}");
    assert!(has(&f, "BINARY[2] ~{3}"), "{f:?}");

    let s = cmd(&mut c, "h SEARCH UNSEEN").await;
    assert!(has(&s, "* SEARCH 2"), "{s:?}");
    let s = cmd(&mut c, "i UID SEARCH SUBJECT second").await;
    assert!(has(&s, "* SEARCH 2"), "{s:?}");
    let s = cmd(&mut c, "j SEARCH OR FROM bob BODY \"hello part\"").await;
    assert!(has(&s, "* SEARCH 1 2"), "{s:?}");
    let s = cmd(&mut c, "k SEARCH RETURN (MIN COUNT) ALL").await;
    assert!(has(&s, "* ESEARCH (TAG \"k\") MIN 1 COUNT 2"), "{s:?}");

    let st = cmd(&mut c, "m STORE 2 +FLAGS (\\Flagged $Work)").await;
    assert!(has(&st, "* 2 FETCH (FLAGS (\\Flagged $Work))"), "{st:?}");
    let st = cmd(&mut c, "n UID STORE 2 -FLAGS.SILENT ($Work)").await;
    assert_eq!(st.len(), 1, "{st:?}");
    let s = cmd(&mut c, "o SEARCH FLAGGED UNKEYWORD $Work").await;
    assert!(has(&s, "* SEARCH 2"), "{s:?}");
    let bad = any(&mut c, "p FETCH 3 FLAGS").await;
    assert!(bad[0].starts_with("p BAD"), "{bad:?}");
    cmd(&mut c, "q LOGOUT").await;
}

#[tokio::test]
async fn append_copy_move_expunge() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let msg = "Subject: appended\r\n\r\nhi\r\n";
    c.send(&format!(
        "a APPEND Archive (\\Seen) \"05-Jan-2024 10:00:00 +0100\" {{{}}}",
        msg.len()
    ))
    .await;
    c.expect("+ ").await;
    c.send_raw(msg.as_bytes()).await;
    c.send("").await;
    let ok = c.read_until("a ").await;
    assert!(ok[0].starts_with("a OK [APPENDUID "), "{ok:?}");
    let no = any(&mut c, "b APPEND Nowhere {2+}\r\nhi").await;
    assert!(no[0].starts_with("b NO [TRYCREATE]"), "{no:?}");

    let st = cmd(&mut c, "c STATUS Archive (MESSAGES UNSEEN UIDNEXT)").await;
    assert!(
        has(&st, "* STATUS \"Archive\" (MESSAGES 1 UNSEEN 0 UIDNEXT 2)"),
        "{st:?}"
    );

    cmd(&mut c, "d SELECT INBOX").await;
    let cp = cmd(&mut c, "e COPY 1 Trash").await;
    assert!(cp[0].starts_with("e OK [COPYUID "), "{cp:?}");
    let mv = cmd(&mut c, "f UID MOVE 2 Archive").await;
    assert!(
        mv[0].starts_with("* OK [COPYUID ") && mv[0].ends_with(" 2 2] Moved"),
        "{mv:?}"
    );
    assert_eq!(mv[1], "* 2 EXPUNGE");
    cmd(&mut c, "g STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    let ex = cmd(&mut c, "h EXPUNGE").await;
    assert_eq!(ex[0], "* 1 EXPUNGE", "{ex:?}");
    let st = cmd(&mut c, "i STATUS INBOX (MESSAGES)").await;
    assert!(has(&st, "(MESSAGES 0)"), "{st:?}");
    let list = cmd(&mut c, "j LIST \"\" *").await;
    for (name, attr) in [
        ("INBOX", ""),
        ("Archive", "\\Archive"),
        ("Trash", "\\Trash"),
        ("Sent", "\\Sent"),
    ] {
        assert!(
            list.iter().any(|l| l.starts_with("* LIST (")
                && l.contains(attr)
                && l.ends_with(&format!("\"/\" \"{name}\""))),
            "{name}: {list:?}"
        );
    }
    cmd(&mut c, "k CREATE Projects/2026").await;
    let list = cmd(&mut c, "l LIST \"\" %").await;
    assert!(
        has(
            &list,
            "* LIST (\\NonExistent \\Noselect \\HasChildren) \"/\" \"Projects\""
        ),
        "{list:?}"
    );
    cmd(&mut c, "m RENAME Projects/2026 Done").await;
    cmd(&mut c, "n DELETE Done").await;
    let no = any(&mut c, "o SELECT Done").await;
    assert!(
        no.last().unwrap().starts_with("o NO [NONEXISTENT]"),
        "{no:?}"
    );
}

#[tokio::test]
async fn another_session_sees_flags_and_expunges() {
    let srv = with_mail().await;
    let mut a = login(&srv).await;
    let mut b = login(&srv).await;
    cmd(&mut a, "a1 SELECT INBOX").await;
    cmd(&mut b, "b1 SELECT INBOX").await;
    cmd(&mut a, "a2 STORE 1 +FLAGS (\\Deleted)").await;
    let n = cmd(&mut b, "b2 NOOP").await;
    assert!(has(&n, "* 1 FETCH (UID 1 FLAGS (\\Deleted))"), "{n:?}");
    cmd(&mut a, "a3 EXPUNGE").await;
    // No EXPUNGE during FETCH: message 2 keeps its number.
    let f = cmd(&mut b, "b3 FETCH 2 UID").await;
    assert!(has(&f, "* 2 FETCH (UID 2)") && !has(&f, "EXPUNGE"), "{f:?}");
    let n = cmd(&mut b, "b4 NOOP").await;
    assert!(has(&n, "* 1 EXPUNGE"), "{n:?}");
    let f = cmd(&mut b, "b5 FETCH 1 UID").await;
    assert!(has(&f, "* 1 FETCH (UID 2)"), "{f:?}");
}

#[tokio::test]
async fn idle_sees_a_delivery_within_a_second() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    c.send("b IDLE").await;
    c.expect("+ idling").await;
    srv.deliver(ALICE, b"Subject: news\r\n\r\nnew\r\n");
    // Delivered (durable) now: the client must hear of it within 1 s.
    let start = Instant::now();
    c.expect("* 3 EXISTS").await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // RFC 3501 §7.3.2: the first session to hear of it has it \Recent.
    c.expect("* 1 RECENT").await;
    c.send("DONE").await;
    c.expect("b OK").await;
}

#[tokio::test]
async fn starttls_then_login_and_list() {
    let srv = with_mail().await;
    let mut c = LineClient::plain(srv.addr("imap")).await;
    c.expect("* OK").await;
    c.send("a STARTTLS").await;
    c.expect("a OK").await;
    let mut c = c.upgrade(HOST, srv.client_config(&[])).await.unwrap();
    c.send(&format!("b LOGIN {ALICE} \"{PASSWORD}\"")).await;
    c.expect("b OK [CAPABILITY").await;
    c.send("c LIST \"\" INBOX").await;
    c.expect("* LIST (\\HasNoChildren) \"/\" \"INBOX\"").await;
    c.expect("c OK").await;
}

#[tokio::test]
async fn wrong_password_and_sasl_plain() {
    let srv = with_mail().await;
    let mut c = imaps(&srv).await;
    let no = any(&mut c, &format!("a LOGIN {ALICE} wrong")).await;
    assert!(no[0].starts_with("a NO [AUTHENTICATIONFAILED]"), "{no:?}");
    let bad = any(&mut c, "b SELECT INBOX").await;
    assert!(bad[0].starts_with("b BAD"), "{bad:?}");
    c.send("c AUTHENTICATE PLAIN").await;
    c.expect("+").await;
    let plain = postern_auth::sasl::encode(format!("\0{ALICE}\0{PASSWORD}").as_bytes());
    c.send(&plain).await;
    c.expect("c OK [CAPABILITY").await;
    let e = cmd(&mut c, "d ENABLE CONDSTORE").await;
    assert_eq!(e[0], "* ENABLED CONDSTORE");
    let s = cmd(&mut c, "e SELECT INBOX").await;
    assert!(has(&s, "[HIGHESTMODSEQ "), "{s:?}");
    let f = cmd(&mut c, "f FETCH 1 (FLAGS)").await;
    assert!(has(&f, "MODSEQ ("), "{f:?}");
}

/// A FETCH larger than one piece (1 MiB) goes out in pieces, and a command
/// pipelined behind it is answered only after its last response.
#[tokio::test]
async fn a_large_fetch_is_sent_in_pieces_in_order() {
    let srv = with_mail().await;
    let line = format!("{}\r\n", "x".repeat(998));
    let big = format!("Subject: big\r\n\r\n{}", line.repeat(100));
    for _ in 0..30 {
        srv.deliver(ALICE, big.as_bytes());
    }
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    c.send("b FETCH 1:* (UID BODY.PEEK[])\r\nc NOOP").await;
    let lines = c.read_until("b ").await;
    let fetches = lines.iter().filter(|l| l.contains(" FETCH (UID ")).count();
    assert_eq!(fetches, 32);
    assert!(
        lines.last().unwrap().starts_with("b OK"),
        "{:?}",
        lines.last()
    );
    assert!(lines.iter().filter(|l| l.starts_with("x")).count() >= 3000);
    c.expect("c OK").await;
}

/// AUTHENTICATE EXTERNAL with a client certificate (RFC 4422 Appendix A):
/// offered only when one was presented; the certificate's address names
/// the account; another authorization identity is refused.
#[tokio::test]
async fn sasl_external_with_a_client_certificate() {
    let srv = postern_testkit::TestServerBuilder::new()
        .listener_line("imaps", "client_certificates = \"optional\"")
        .listener_line("imaps", "client_ca = \"ca.pem\"")
        .start()
        .await;
    srv.add_user(ALICE, PASSWORD);
    let mut plain = imaps(&srv).await;
    let caps = cmd(&mut plain, "a CAPABILITY").await;
    assert!(!has(&caps, "AUTH=EXTERNAL"), "{caps:?}");
    let cert = srv.ca.client_cert(ALICE);
    let cfg = srv.ca.client_config_with(&[b"imap"], Some(&cert));
    let mut c = LineClient::tls(srv.addr("imaps"), HOST, cfg).await.unwrap();
    c.expect("* OK").await;
    let caps = cmd(&mut c, "a CAPABILITY").await;
    assert!(has(&caps, "AUTH=EXTERNAL"), "{caps:?}");
    let other = postern_auth::sasl::encode(b"bob@example.test");
    let no = any(&mut c, &format!("b AUTHENTICATE EXTERNAL {other}")).await;
    assert!(no[0].starts_with("b NO [AUTHENTICATIONFAILED]"), "{no:?}");
    c.send("c AUTHENTICATE EXTERNAL").await;
    c.expect("+ ").await;
    c.send("=").await;
    c.expect("c OK [CAPABILITY").await;
    cmd(&mut c, "d SELECT INBOX").await;
}
