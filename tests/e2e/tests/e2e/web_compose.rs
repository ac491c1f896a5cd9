//! Writing mail in the webmail, over real TLS: a new message with an
//! attachment, a reply (threaded, the original marked answered), a
//! forward carrying the original's attachment, drafts saved and sent,
//! and the submission rules a browser cannot get around: the sender must
//! be the user's own address, unknown local recipients are refused, Bcc
//! never reaches the recipients, the CSRF token is required, the size
//! limit holds.

use postern_message::Message;
use postern_store::{Flag, Store};
use postern_testkit::{Browser, TestServer};

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
const CAROL: &str = "carol@example.test";
const PASSWORD: &str = "correct horse battery";

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    for user in [ALICE, BOB, CAROL] {
        srv.add_user(user, PASSWORD);
    }
    srv
}

fn store(srv: &TestServer) -> std::sync::Arc<dyn Store> {
    srv.server().store().clone()
}

/// The messages (flags, raw) of a user's folder, oldest first; empty if
/// the folder does not exist.
fn folder(srv: &TestServer, user: &str, name: &str) -> Vec<(Vec<Flag>, Vec<u8>)> {
    let store = store(srv);
    let account = store.account(user).unwrap().unwrap();
    let Some(mailbox) = store.mailbox(account.id, name).unwrap() else {
        return Vec::new();
    };
    store
        .messages(mailbox.id)
        .unwrap()
        .into_iter()
        .map(|m| {
            let raw = store.read_message(mailbox.id, m.uid).unwrap();
            (m.flags, raw)
        })
        .collect()
}

fn field(raw: &[u8], name: &str) -> String {
    Message::parse(raw)
        .raw_field(name)
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_new_message_with_an_attachment_reaches_the_recipient_and_sent() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let form = b.get("/compose").await;
    assert_eq!(form.status, 200, "{form}");
    let text = form.text();
    assert!(text.contains("enctype=\"multipart/form-data\""), "{text}");
    assert!(
        text.contains(&format!("<option value=\"{ALICE}\"")),
        "{text}"
    );
    let pdf: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let r = b
        .submit_multipart(
            "/compose",
            "/compose",
            &[
                ("from", ALICE),
                ("to", &format!("Bob <{BOB}>")),
                ("bcc", CAROL),
                ("subject", "Menu für Freitag"),
                ("body", "Hello Bob,\r\nthe menu is attached.\r\n"),
                ("action", "send"),
            ],
            &[("attachment", "menü.pdf", "application/pdf", &pdf)],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some("/mail/INBOX?notice=sent"));
    assert!(b
        .get("/mail/INBOX?notice=sent")
        .await
        .text()
        .contains("Message sent."));

    for user in [BOB, CAROL] {
        let inbox = srv.inbox(user);
        assert_eq!(inbox.len(), 1, "{user}");
        let raw = &inbox[0];
        let msg = Message::parse(raw);
        assert_eq!(msg.header_text("Subject"), ["Menu für Freitag"]);
        assert_eq!(msg.binary(&[2]).unwrap(), pdf, "{user}: the attachment");
        assert!(msg.main_text().unwrap().contains("the menu is attached"));
        // Bcc never reaches a recipient (RFC 5322 §3.6.3).
        assert_eq!(field(raw, "Bcc"), "", "{user}");
        let received = field(raw, "Received");
        assert!(received.contains("with HTTPS"), "{received}");
        assert_eq!(field(raw, "From"), ALICE);
    }
    let sent = folder(&srv, ALICE, "Sent");
    assert_eq!(sent.len(), 1);
    assert!(sent[0].0.contains(&Flag::Seen));
    // The author's copy shows whom they sent a blind copy to.
    assert_eq!(field(&sent[0].1, "Bcc"), CAROL);
    assert_eq!(
        field(&sent[0].1, "Message-ID"),
        field(&srv.inbox(BOB)[0], "Message-ID")
    );
}

#[tokio::test]
async fn a_reply_is_threaded_and_marks_the_original_answered() {
    let srv = server().await;
    srv.deliver(
        ALICE,
        format!(
            "From: Bob <{BOB}>\r\nTo: {ALICE}\r\nCc: {CAROL}\r\nSubject: Lunch\r\n\
Message-ID: <lunch-1@example.test>\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\n\r\nNoon?\r\n"
        )
        .as_bytes(),
    );
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let read = b.get("/mail/INBOX/1").await.text();
    assert!(
        read.contains("href=\"/compose?folder=INBOX&#38;uid=1&amp;mode=all\""),
        "{read}"
    );
    let form = b.get("/compose?folder=INBOX&uid=1&mode=all").await.text();
    assert!(
        form.contains(&format!("value=\"Bob &#60;{BOB}&#62;\"")),
        "{form}"
    );
    assert!(
        form.contains(&format!("value=\"{CAROL}\"")),
        "reply all copies Cc: {form}"
    );
    assert!(form.contains("value=\"Re: Lunch\""), "{form}");
    assert!(form.contains("&#62; Noon?"), "{form}");
    let r = b
        .submit_multipart(
            "/compose?folder=INBOX&uid=1&mode=reply",
            "/compose",
            &[
                ("from", ALICE),
                ("to", BOB),
                ("subject", "Re: Lunch"),
                ("body", "Yes.\r\n> Noon?\r\n"),
                ("mode", "reply"),
                ("source_folder", "INBOX"),
                ("source_uid", "1"),
                ("in_reply_to", "<lunch-1@example.test>"),
                ("references", "<lunch-1@example.test>"),
                ("action", "send"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    let got = srv.inbox(BOB);
    assert_eq!(got.len(), 1);
    assert_eq!(field(&got[0], "In-Reply-To"), "<lunch-1@example.test>");
    assert_eq!(field(&got[0], "References"), "<lunch-1@example.test>");
    let inbox = folder(&srv, ALICE, "INBOX");
    assert!(inbox[0].0.contains(&Flag::Answered), "{:?}", inbox[0].0);
}

#[tokio::test]
async fn a_forward_carries_the_original_attachment() {
    let srv = server().await;
    srv.deliver(
        ALICE,
        b"From: carol@example.test\r\nTo: alice@example.test\r\nSubject: Report\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nHere it is.\r\n\
--b\r\nContent-Type: application/pdf; name=report.pdf\r\n\
Content-Disposition: attachment; filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjQK\r\n--b--\r\n",
    );
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let form = b
        .get("/compose?folder=INBOX&uid=1&mode=forward")
        .await
        .text();
    assert!(form.contains("value=\"Fwd: Report\""), "{form}");
    assert!(form.contains("name=\"keep\" value=\"2\" checked"), "{form}");
    let r = b
        .submit_multipart(
            "/compose?folder=INBOX&uid=1&mode=forward",
            "/compose",
            &[
                ("from", ALICE),
                ("to", BOB),
                ("subject", "Fwd: Report"),
                ("body", "FYI"),
                ("mode", "forward"),
                ("source_folder", "INBOX"),
                ("source_uid", "1"),
                ("keep", "2"),
                ("action", "send"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    let got = srv.inbox(BOB);
    let msg = Message::parse(&got[0]);
    assert_eq!(msg.binary(&[2]).unwrap(), b"%PDF-1.4\n");
    assert!(String::from_utf8_lossy(&got[0]).contains("filename=\"report.pdf\""));
    let inbox = folder(&srv, ALICE, "INBOX");
    assert!(inbox[0].0.contains(&Flag::Keyword("$Forwarded".into())));

    // A part the source does not have is not found, and nothing is sent.
    let r = b
        .submit_multipart(
            "/compose",
            "/compose",
            &[
                ("from", ALICE),
                ("to", BOB),
                ("mode", "forward"),
                ("source_folder", "INBOX"),
                ("source_uid", "1"),
                ("keep", "9"),
                ("action", "send"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, 404, "{r}");
    assert_eq!(srv.inbox(BOB).len(), 1);
}

#[tokio::test]
async fn drafts_are_saved_taken_up_again_and_sent() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let r = b
        .submit_multipart(
            "/compose",
            "/compose",
            &[
                ("from", ALICE),
                ("to", BOB),
                ("subject", "Plans"),
                ("body", "First thoughts"),
                ("action", "draft"),
            ],
            &[("attachment", "notes.txt", "text/plain", b"n1")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    let location = r.header("location").unwrap().to_owned();
    assert_eq!(
        location,
        "/compose?mode=draft&folder=Drafts&uid=1&notice=saved"
    );
    let drafts = folder(&srv, ALICE, "Drafts");
    assert_eq!(drafts.len(), 1);
    assert!(drafts[0].0.contains(&Flag::Draft));
    assert!(srv.inbox(BOB).is_empty(), "a draft is not sent");

    let form = b.get(&location).await.text();
    assert!(form.contains("Draft saved."), "{form}");
    assert!(form.contains("value=\"Plans\""), "{form}");
    assert!(form.contains("First thoughts"), "{form}");
    assert!(form.contains("notes.txt"), "{form}");
    let r = b
        .submit_multipart(
            &location,
            "/compose",
            &[
                ("from", ALICE),
                ("to", BOB),
                ("subject", "Plans"),
                ("body", "Final"),
                ("mode", "draft"),
                ("source_folder", "Drafts"),
                ("source_uid", "1"),
                ("keep", "2"),
                ("action", "send"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert!(
        folder(&srv, ALICE, "Drafts").is_empty(),
        "the sent draft is gone"
    );
    let got = srv.inbox(BOB);
    assert_eq!(got.len(), 1);
    assert_eq!(Message::parse(&got[0]).binary(&[2]).unwrap(), b"n1");
    assert_eq!(folder(&srv, ALICE, "Sent").len(), 1);
}

#[tokio::test]
async fn the_browser_cannot_get_around_the_submission_rules() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    // Another user's address as sender: refused by the server's own check.
    let r = b
        .submit_multipart(
            "/compose",
            "/compose",
            &[
                ("from", BOB),
                ("to", CAROL),
                ("subject", "x"),
                ("action", "send"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("You cannot send as"), "{r}");
    // An unknown local recipient: refused as RCPT would be, nothing sent.
    let r = b
        .submit_multipart(
            "/compose",
            "/compose",
            &[
                ("from", ALICE),
                ("to", &format!("{BOB}, nobody@example.test")),
                ("subject", "x"),
                ("body", "kept when the form comes back"),
                ("action", "send"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "{r}");
    let text = r.text();
    assert!(text.contains("no such recipient"), "{text}");
    assert!(text.contains("kept when the form comes back"), "{text}");
    // Not an address at all: named on the form.
    let r = b
        .submit_multipart(
            "/compose",
            "/compose",
            &[("from", ALICE), ("to", "bob"), ("action", "send")],
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("is not an e-mail address"), "{r}");
    // No CSRF token: refused before anything else.
    let r = b
        .post_multipart(
            "/compose",
            &[("from", ALICE), ("to", BOB), ("action", "send")],
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{r}");
    // A URL-encoded body is not the compose form.
    let r = b.post("/compose", &[("from", ALICE)]).await;
    assert_eq!(r.status, 400, "{r}");
    assert!(srv.inbox(BOB).is_empty());
    assert!(srv.inbox(CAROL).is_empty());
    assert!(folder(&srv, ALICE, "Sent").is_empty());
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    // The default limit is 10,240,000 octets; base64 makes 8 MB of file
    // about 10.7 MB of message: the upload fits the body limit, the
    // message does not.
    let big = vec![b'x'; 8_000_000];
    let r = b
        .submit_multipart(
            "/compose",
            "/compose",
            &[("from", ALICE), ("to", BOB), ("action", "send")],
            &[("attachment", "big.bin", "application/octet-stream", &big)],
        )
        .await;
    assert_eq!(r.status, 413, "{r}");
    assert!(r.text().contains("too large"), "{r}");
    assert!(srv.inbox(BOB).is_empty());
}
