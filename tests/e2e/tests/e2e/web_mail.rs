//! Webmail over real TLS: message lists and paging, reading plain and
//! hostile HTML mail, attachment downloads, \Seen on reading, the flag,
//! move and delete actions (seen by IMAP at once, IDLE included), CSRF,
//! and isolation between accounts.

use postern_store::{Flag, Store};
use postern_testkit::{Browser, TestServer};

use crate::web::{alice_and_bob, imap_logged_in, ALICE, BOB, PASSWORD};

fn store(srv: &TestServer) -> std::sync::Arc<dyn Store> {
    srv.server().store().clone()
}

/// The flags of a message of alice's, from the store.
fn flags(srv: &TestServer, folder: &str, uid: u32) -> Option<Vec<Flag>> {
    let store = store(srv);
    let account = store.account(ALICE).unwrap().unwrap();
    let mailbox = store.mailbox(account.id, folder).unwrap().unwrap();
    let messages = store.messages(mailbox.id).unwrap();
    messages
        .into_iter()
        .find(|m| m.uid.0 == uid)
        .map(|m| m.flags)
}

/// How many messages alice's folder holds.
fn count(srv: &TestServer, folder: &str) -> usize {
    let store = store(srv);
    let account = store.account(ALICE).unwrap().unwrap();
    let mailbox = store.mailbox(account.id, folder).unwrap().unwrap();
    store.messages(mailbox.id).unwrap().len()
}

fn plain(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Carol <carol@example.test>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn the_list_shows_newest_first_a_page_at_a_time() {
    let srv = alice_and_bob().await;
    for i in 1..=55 {
        srv.deliver(ALICE, &plain(&format!("number {i:02}"), "x"));
    }
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let page = b.get("/mail/INBOX").await;
    assert_eq!(page.status, 200, "{page}");
    let text = page.text();
    let newest = text.find("number 55").expect("the newest message");
    let older = text.find("number 54").expect("the next one");
    assert!(newest < older, "newest first:\n{text}");
    assert!(
        text.contains("number 06") && !text.contains("number 05"),
        "{text}"
    );
    assert!(text.contains("href=\"/mail/INBOX/55\""), "{text}");
    assert!(text.contains("Page 1 of 2"), "{text}");
    let page2 = b.get("/mail/INBOX?page=2").await.text();
    assert!(
        page2.contains("number 05") && page2.contains("number 01"),
        "{page2}"
    );
    assert!(!page2.contains("number 06"), "{page2}");
    // The folder list links every folder, nested names encoded.
    store(&srv)
        .create_mailbox(
            store(&srv).account(ALICE).unwrap().unwrap().id,
            "Archive/2026",
            None,
        )
        .unwrap();
    let folders = b.get("/mail").await.text();
    assert!(
        folders.contains("href=\"/mail/Archive%2F2026\""),
        "{folders}"
    );
    assert_eq!(b.get("/mail/Archive%2F2026").await.status, 200);
    // Search matches the subject, whatever the case.
    let found = b.get("/mail/INBOX?q=NUMBER%2003").await.text();
    assert!(
        found.contains("number 03") && !found.contains("number 04"),
        "{found}"
    );
}

#[tokio::test]
async fn a_plain_message_reads_escaped_and_becomes_seen() {
    let srv = alice_and_bob().await;
    let raw = "From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.test>\r\nTo: alice@example.test\r\n\
Cc: dave@example.test\r\nSubject: =?UTF-8?B?Q2Fmw6k=?= <b>menu</b>\r\n\r\nSee <i>you</i> at noon.\r\n";
    let uid = srv.deliver(ALICE, raw.as_bytes());
    assert_eq!(flags(&srv, "INBOX", uid), Some(vec![]));
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let list = b.get("/mail/INBOX").await.text();
    assert!(
        list.contains("René") && list.contains("class=\"unread\""),
        "{list}"
    );
    let page = b.get(&format!("/mail/INBOX/{uid}")).await;
    assert_eq!(page.status, 200, "{page}");
    let text = page.text();
    assert!(
        text.contains("Café &#60;b&#62;menu") || text.contains("Café &lt;b&gt;menu"),
        "{text}"
    );
    assert!(
        text.contains("René") && text.contains("dave@example.test"),
        "{text}"
    );
    assert!(
        text.contains("<pre class=\"plain\">See &#60;i&#62;you")
            || text.contains("See &lt;i&gt;you"),
        "{text}"
    );
    assert!(!text.contains("<i>you</i>"), "{text}");
    assert_eq!(flags(&srv, "INBOX", uid), Some(vec![Flag::Seen]));
}

#[tokio::test]
async fn hostile_html_is_sanitized() {
    let srv = alice_and_bob().await;
    let raw = "From: mallory@example.test\r\nSubject: offer\r\n\
Content-Type: multipart/alternative; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\n\
plain version\r\n--z\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p>Dear user<script>alert('pwned')</script></p><img src=\"x\" onerror=\"alert(1)\">\
<img src=\"http://remote.example/track.gif\"><a href=\"javascript:alert(2)\">click</a>\
<a href=\"https://example.org/\">safe link</a><div style=\"background:url(http://remote.example/b)\">x</div>\r\n--z--\r\n";
    let uid = srv.deliver(ALICE, raw.as_bytes());
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let page = b.get(&format!("/mail/INBOX/{uid}")).await;
    assert_eq!(page.status, 200, "{page}");
    let text = page.text();
    assert!(
        text.contains("Dear user"),
        "the HTML part is shown:\n{text}"
    );
    assert!(!text.contains("plain version"), "HTML preferred:\n{text}");
    for banned in [
        "<script",
        "pwned",
        "onerror",
        "remote.example",
        "javascript:",
        "style=\"",
    ] {
        assert!(!text.contains(banned), "{banned} in\n{text}");
    }
    assert!(text.contains("rel=\"noopener noreferrer\""), "{text}");
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("img-src 'self' data:"), "{csp}");
}

#[tokio::test]
async fn remote_images_load_only_when_the_reader_asks() {
    let srv = alice_and_bob().await;
    let raw = "From: shop@example.test\r\nSubject: news\r\nContent-Type: text/html\r\n\r\n\
<p>Sale</p><img src=\"https://img.example/banner.png\" alt=\"banner\">\
<img src=\"http://img.example/pixel.gif\">\r\n";
    let uid = srv.deliver(ALICE, raw.as_bytes());
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let page = b.get(&format!("/mail/INBOX/{uid}")).await;
    let text = page.text();
    assert!(!text.contains("img.example"), "{text}");
    let link = format!("href=\"/mail/INBOX/{uid}?images=show\"");
    assert!(text.contains(&link), "{text}");
    let csp = page.header("content-security-policy").unwrap().to_owned();
    assert!(!csp.contains("https:"), "{csp}");

    let page = b.get(&format!("/mail/INBOX/{uid}?images=show")).await;
    assert_eq!(page.status, 200, "{page}");
    let text = page.text();
    assert!(
        text.contains("<img src=\"https://img.example/banner.png\" alt=\"banner\">"),
        "{text}"
    );
    // Never over plain HTTP, even when asked.
    assert!(!text.contains("http://img.example"), "{text}");
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("img-src 'self' data: https:;"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
}

#[tokio::test]
async fn inline_images_come_from_the_message_itself() {
    let srv = alice_and_bob().await;
    let raw = "From: carol@example.test\r\nSubject: logo\r\n\
Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n\
<p>Our logo: <img src=\"cid:logo@example.test\" alt=\"logo\"></p>\r\n--r\r\n\
Content-Type: image/png\r\nContent-ID: <logo@example.test>\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgo=\r\n--r--\r\n";
    let uid = srv.deliver(ALICE, raw.as_bytes());
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let page = b.get(&format!("/mail/INBOX/{uid}")).await.text();
    let src = format!("/mail/INBOX/{uid}/part/2");
    assert!(
        page.contains(&format!("<img src=\"{src}\" alt=\"logo\">")),
        "{page}"
    );
    let r = b.get(&src).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.body, b"\x89PNG\r\n\x1a\n");
}

#[tokio::test]
async fn attachments_download_as_attachments_with_their_bytes() {
    let srv = alice_and_bob().await;
    let raw = "From: carol@example.test\r\nSubject: files\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b\r\nContent-Type: application/pdf; name=\"r\u{e9}sum\u{e9}.pdf\"\r\nContent-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n\
--b\r\nContent-Type: text/html; name=page.html\r\nContent-Disposition: attachment\r\n\r\n<script>alert(1)</script>\r\n--b--\r\n";
    let uid = srv.deliver(ALICE, raw.as_bytes());
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let page = b.get(&format!("/mail/INBOX/{uid}")).await.text();
    let pdf = format!("/mail/INBOX/{uid}/part/2");
    assert!(
        page.contains(&format!("href=\"{pdf}\"")) && page.contains("résumé.pdf"),
        "{page}"
    );
    let r = b.get(&pdf).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.body, [0, 1, 2, 3, 4]);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // An HTML attachment is a download, never a page of this site.
    let r = b.get(&format!("/mail/INBOX/{uid}/part/3")).await;
    assert_eq!(
        r.header("content-type"),
        Some("application/octet-stream"),
        "{r}"
    );
    assert!(r
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment;"));
    for missing in ["4", "0", "1.1", "x", "2.."] {
        let r = b.get(&format!("/mail/INBOX/{uid}/part/{missing}")).await;
        assert_eq!(r.status, 404, "part {missing}: {r}");
    }
}

#[tokio::test]
async fn flag_unflag_read_and_unread() {
    let srv = alice_and_bob().await;
    let uid = srv.deliver(ALICE, &plain("flag me", "x"));
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let message = format!("/mail/INBOX/{uid}");
    let r = b.submit(&message, &message, &[("action", "flag")]).await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some(message.as_str()));
    assert_eq!(
        flags(&srv, "INBOX", uid),
        Some(vec![Flag::Seen, Flag::Flagged])
    );
    let list = b.get("/mail/INBOX").await.text();
    assert!(list.contains("title=\"Flagged\""), "{list}");
    b.submit(&message, &message, &[("action", "unflag")]).await;
    assert_eq!(flags(&srv, "INBOX", uid), Some(vec![Flag::Seen]));
    let r = b.submit(&message, &message, &[("action", "unread")]).await;
    assert_eq!(r.header("location"), Some("/mail/INBOX"), "{r}");
    assert_eq!(flags(&srv, "INBOX", uid), Some(vec![]));
}

#[tokio::test]
async fn move_and_delete_go_through_the_trash() {
    let srv = alice_and_bob().await;
    let uid = srv.deliver(ALICE, &plain("move me", "x"));
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let message = format!("/mail/INBOX/{uid}");
    let fields = [("action", "move"), ("to", "Archive")];
    let r = b.submit(&message, &message, &fields).await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some("/mail/INBOX"));
    assert_eq!((count(&srv, "INBOX"), count(&srv, "Archive")), (0, 1));
    let archived = "/mail/Archive/1";
    let r = b.submit(archived, archived, &[("action", "delete")]).await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!((count(&srv, "Archive"), count(&srv, "Trash")), (0, 1));
    // Deleting in the Trash is final.
    let trashed = "/mail/Trash/1";
    b.submit(trashed, trashed, &[("action", "delete")]).await;
    assert_eq!(count(&srv, "Trash"), 0);
    assert_eq!(b.get(trashed).await.status, 404);
    // Moving to a folder that does not exist changes nothing.
    let uid = srv.deliver(ALICE, &plain("stay", "x"));
    let message = format!("/mail/INBOX/{uid}");
    let fields = [("action", "move"), ("to", "Nowhere")];
    let r = b.submit(&message, &message, &fields).await;
    assert_eq!(r.status, 404, "{r}");
    assert_eq!(count(&srv, "INBOX"), 1);
}

#[tokio::test]
async fn a_full_mailbox_says_so_and_loses_nothing() {
    let srv = alice_and_bob().await;
    let uid = srv.deliver(ALICE, &plain("big", "x"));
    let account = store(&srv).account(ALICE).unwrap().unwrap();
    store(&srv).set_quota(account.id, 1).unwrap();
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let message = format!("/mail/INBOX/{uid}");
    let r = b.submit(&message, &message, &[("action", "delete")]).await;
    assert_eq!(r.status, 507, "{r}");
    assert!(r.text().contains("Empty the Trash"), "{r}");
    assert_eq!((count(&srv, "INBOX"), count(&srv, "Trash")), (1, 0));
}

#[tokio::test]
async fn actions_without_the_form_token_are_refused() {
    let srv = alice_and_bob().await;
    let uid = srv.deliver(ALICE, &plain("keep", "x"));
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let message = format!("/mail/INBOX/{uid}");
    let r = b.post(&message, &[("action", "delete")]).await;
    assert_eq!(r.status, 403, "{r}");
    let r = b
        .post_with_csrf(&message, &"0".repeat(64), &[("action", "flag")])
        .await;
    assert_eq!(r.status, 403, "{r}");
    assert_eq!(count(&srv, "INBOX"), 1);
    assert_eq!(flags(&srv, "INBOX", uid), Some(vec![]));
    // Signed out, nothing at all.
    let mut anon = Browser::open(&srv).await;
    let r = anon.get(&message).await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some("/login"));
}

#[tokio::test]
async fn bob_cannot_reach_alices_mail() {
    let srv = alice_and_bob().await;
    let uid = srv.deliver(ALICE, &plain("for alice only", "secret text"));
    let mut bob = Browser::logged_in(&srv, BOB, PASSWORD).await;
    for path in [
        format!("/mail/INBOX/{uid}"),
        format!("/mail/INBOX/{uid}/part/1"),
    ] {
        let r = bob.get(&path).await;
        assert_eq!(r.status, 404, "{path}: {r}");
        assert!(!r.text().contains("secret text"));
    }
    assert!(!bob
        .get("/mail/INBOX")
        .await
        .text()
        .contains("for alice only"));
    // His own session's token, posted to her message's page.
    let token = bob.form_token("/mail").await;
    let message = format!("/mail/INBOX/{uid}");
    let r = bob
        .post_with_csrf(&message, &token, &[("action", "delete")])
        .await;
    assert_eq!(r.status, 404, "{r}");
    assert_eq!(count(&srv, "INBOX"), 1);
    assert_eq!(
        flags(&srv, "INBOX", uid),
        Some(vec![]),
        "bob's tries left no mark"
    );
}

#[tokio::test]
async fn path_tricks_are_404s() {
    let srv = alice_and_bob().await;
    srv.deliver(ALICE, &plain("x", "x"));
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    for path in [
        "/mail/..",
        "/mail/%2E%2E",
        "/mail/INBOX%2F..%2F..",
        "/mail/%2FINBOX",
        "/mail/..%2Fbob@example.test%2FINBOX/1",
        "/mail/INBOX/..",
        "/mail/INBOX/0",
        "/mail/INBOX/-1",
        "/mail/INBOX/99999999999",
        "/mail/%FF%FE",
        "/mail/INBOX%00",
        "/mail/Nowhere",
        "/mail/INBOX/1/part/..%2F..",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, 404, "{path}: {r}");
    }
    // The connection survived all of them.
    assert_eq!(b.get("/mail/INBOX").await.status, 200);
}

#[tokio::test]
async fn imap_idle_sees_web_changes_at_once() {
    let srv = alice_and_bob().await;
    let uid = srv.deliver(ALICE, &plain("watched", "x"));
    let mut imap = imap_logged_in(&srv, ALICE).await;
    imap.send("b SELECT INBOX").await;
    imap.read_until("b OK").await;
    imap.send("c IDLE").await;
    imap.expect("+ ").await;

    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    // Reading sets \Seen; the flag action adds \Flagged. The session
    // may report them in one FETCH or two; the last must hold both.
    let message = format!("/mail/INBOX/{uid}");
    let r = b.submit(&message, &message, &[("action", "flag")]).await;
    assert_eq!(r.status, 303, "{r}");
    loop {
        let line = imap.expect("* 1 FETCH").await;
        if line.contains("\\Flagged") {
            assert!(line.contains("\\Seen"), "{line}");
            break;
        }
        assert!(line.contains("\\Seen"), "{line}");
    }
    // A move is an expunge here.
    let fields = [("action", "move"), ("to", "Archive")];
    let r = b.submit(&message, &message, &fields).await;
    assert_eq!(r.status, 303, "{r}");
    imap.read_until("* 1 EXPUNGE").await;
    imap.send("DONE").await;
    imap.read_until("c OK").await;
}
