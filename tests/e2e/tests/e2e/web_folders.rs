//! Webmail folder management over real TLS: create, rename (the INBOX
//! too) and delete folders, each seen by IMAP LIST at once; the refusals
//! (the INBOX, a name in use, a malformed name, a missing form token,
//! another account's folder) and what they answer.

use postern_testkit::{Browser, TestServer};

use crate::web::{alice_and_bob, imap_logged_in, ALICE, BOB, PASSWORD};

/// How many messages alice's folder holds; `None` if it does not exist.
fn count(srv: &TestServer, folder: &str) -> Option<usize> {
    let store = srv.server().store().clone();
    let account = store.account(ALICE).unwrap().unwrap();
    let mailbox = store.mailbox(account.id, folder).unwrap()?;
    Some(store.messages(mailbox.id).unwrap().len())
}

/// Alice's selectable folders as IMAP LIST gives them (a name kept
/// only for its children is `\Noselect`, RFC 9051 §6.3.9).
async fn imap_list(srv: &TestServer) -> Vec<String> {
    let mut imap = imap_logged_in(srv, ALICE).await;
    imap.send("b LIST \"\" \"*\"").await;
    let lines = imap.read_until("b ").await;
    assert!(
        lines.last().is_some_and(|l| l.starts_with("b OK")),
        "{lines:?}"
    );
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("* LIST ")?.rsplit_once(" \"/\" "))
        .filter(|(attrs, _)| !attrs.contains("\\Noselect") && !attrs.contains("\\NonExistent"))
        .map(|(_, name)| name.trim().trim_matches('"').to_owned())
        .collect()
}

fn plain(subject: &str) -> Vec<u8> {
    format!("From: carol@example.test\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\nx\r\n")
        .into_bytes()
}

#[tokio::test]
async fn create_nested_then_imap_lists_it() {
    let srv = alice_and_bob().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let page = b.get("/mail").await.text();
    assert!(
        page.contains("href=\"/folders\""),
        "a link to manage:\n{page}"
    );
    let r = b
        .submit("/folders", "/folders", &[("name", "Projects/2026/")])
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some("/folders"));
    assert_eq!(count(&srv, "Projects/2026"), Some(0));
    let listed = imap_list(&srv).await;
    assert!(listed.iter().any(|n| n == "Projects/2026"), "{listed:?}");
    let page = b.get("/folders").await.text();
    assert!(page.contains("Projects/2026"), "{page}");
}

#[tokio::test]
async fn rename_keeps_messages_and_the_inbox_stays() {
    let srv = alice_and_bob().await;
    for i in 0..3 {
        srv.deliver(ALICE, &plain(&format!("m{i}")));
    }
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    // The INBOX: its messages move to the new folder, it stays, empty.
    let r = b
        .submit(
            "/folders",
            "/folders/rename",
            &[("name", "INBOX"), ("to", "Old mail")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(count(&srv, "Old mail"), Some(3));
    assert_eq!(count(&srv, "INBOX"), Some(0));
    // Any other folder: renamed, messages and children kept.
    srv.deliver(ALICE, &plain("again"));
    let r = b
        .submit("/folders", "/folders", &[("name", "Old mail/sub")])
        .await;
    assert_eq!(r.status, 303, "{r}");
    let r = b
        .submit(
            "/folders",
            "/folders/rename",
            &[("name", "Old mail"), ("to", "Kept")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(count(&srv, "Kept"), Some(3));
    assert_eq!(count(&srv, "Old mail"), None);
    let listed = imap_list(&srv).await;
    assert!(
        listed.iter().any(|n| n == "Kept") && listed.iter().any(|n| n == "Kept/sub"),
        "{listed:?}"
    );
    assert!(
        !listed.iter().any(|n| n.starts_with("Old mail")),
        "{listed:?}"
    );
    assert!(listed.iter().any(|n| n == "INBOX"), "{listed:?}");
    assert_eq!(count(&srv, "INBOX"), Some(1));
}

#[tokio::test]
async fn delete_asks_first_then_the_folder_and_its_messages_go() {
    let srv = alice_and_bob().await;
    let store = srv.server().store().clone();
    let account = store.account(ALICE).unwrap().unwrap();
    let doomed = store.create_mailbox(account.id, "Old", None).unwrap();
    store.create_mailbox(account.id, "Old/child", None).unwrap();
    store.append(doomed.id, &plain("bye"), &[], 0).unwrap();
    store.append(doomed.id, &plain("bye 2"), &[], 0).unwrap();
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let manage = b.get("/folders").await.text();
    assert!(
        manage.contains("href=\"/folders/delete?name=Old\""),
        "{manage}"
    );
    let ask = b.get("/folders/delete?name=Old").await;
    assert_eq!(ask.status, 200, "{ask}");
    let text = ask.text();
    assert!(
        text.contains("Delete folder Old and its 2 messages?"),
        "{text}"
    );
    assert!(text.contains("Old/child"), "children are named: {text}");
    // Only the POST deletes.
    assert_eq!(count(&srv, "Old"), Some(2));
    let r = b
        .post_with_csrf("/folders/delete", &ask.csrf_field(), &[("name", "Old")])
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(count(&srv, "Old"), None);
    // Gone, not moved: no folder of alice's holds a message.
    assert!(store.messages(doomed.id).is_err());
    for mailbox in store.mailboxes(account.id).unwrap() {
        assert!(
            store.messages(mailbox.id).unwrap().is_empty(),
            "{mailbox:?}"
        );
    }
    // As IMAP DELETE does here, the folders below stay.
    assert_eq!(count(&srv, "Old/child"), Some(0));
    let listed = imap_list(&srv).await;
    assert!(!listed.iter().any(|n| n == "Old"), "{listed:?}");
}

#[tokio::test]
async fn the_inbox_is_never_deleted() {
    let srv = alice_and_bob().await;
    srv.deliver(ALICE, &plain("keep"));
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let manage = b.get("/folders").await.text();
    assert!(!manage.contains("delete?name=INBOX"), "{manage}");
    for name in ["INBOX", "Inbox"] {
        let ask = b.get(&format!("/folders/delete?name={name}")).await;
        assert_eq!(ask.status, 400, "{ask}");
        assert!(
            !ask.text().contains("/folders/delete\""),
            "no button: {ask}"
        );
    }
    for name in ["INBOX", "inbox"] {
        let r = b
            .submit("/folders", "/folders/delete", &[("name", name)])
            .await;
        assert_eq!(r.status, 400, "{r}");
        assert!(r.text().contains("INBOX cannot be deleted"), "{r}");
    }
    assert_eq!(count(&srv, "INBOX"), Some(1));
}

#[tokio::test]
async fn a_name_in_use_is_409_and_a_malformed_one_400() {
    let srv = alice_and_bob().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    assert_eq!(
        b.submit("/folders", "/folders", &[("name", "Work")])
            .await
            .status,
        303
    );
    let r = b.submit("/folders", "/folders", &[("name", "Work")]).await;
    assert_eq!(r.status, 409, "{r}");
    assert!(r.text().contains("exists already"), "{r}");
    let r = b.submit("/folders", "/folders", &[("name", "inbox")]).await;
    assert_eq!(r.status, 409, "{r}");
    let r = b
        .submit(
            "/folders",
            "/folders/rename",
            &[("name", "Work"), ("to", "Trash")],
        )
        .await;
    assert_eq!(r.status, 409, "{r}");
    for bad in ["a//b", "x*", ""] {
        let r = b.submit("/folders", "/folders", &[("name", bad)]).await;
        assert_eq!(r.status, 400, "{bad:?}: {r}");
        assert!(r.text().contains("class=\"error\""), "{r}");
    }
    let r = b.submit("/folders", "/folders", &[("name", "50%")]).await;
    assert!(
        r.text().contains("are not allowed"),
        "the store's reason: {r}"
    );
    let r = b
        .submit(
            "/folders",
            "/folders/rename",
            &[("name", "Work"), ("to", "Work/inner")],
        )
        .await;
    assert_eq!(r.status, 400, "{r}");
    assert_eq!(count(&srv, "Work"), Some(0));
}

#[tokio::test]
async fn forms_without_the_token_are_refused() {
    let srv = alice_and_bob().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let r = b.post("/folders", &[("name", "Forged")]).await;
    assert_eq!(r.status, 403, "{r}");
    let r = b
        .post("/folders/rename", &[("name", "Trash"), ("to", "X")])
        .await;
    assert_eq!(r.status, 403, "{r}");
    let r = b
        .post_with_csrf("/folders/delete", "00", &[("name", "Trash")])
        .await;
    assert_eq!(r.status, 403, "{r}");
    assert_eq!(count(&srv, "Forged"), None);
    assert!(count(&srv, "Trash").is_some());
}

#[tokio::test]
async fn another_accounts_folder_is_404() {
    let srv = alice_and_bob().await;
    let store = srv.server().store().clone();
    let account = store.account(ALICE).unwrap().unwrap();
    store.create_mailbox(account.id, "Secret", None).unwrap();
    let mut bob = Browser::logged_in(&srv, BOB, PASSWORD).await;
    assert_eq!(bob.get("/folders/delete?name=Secret").await.status, 404);
    let r = bob
        .submit("/folders", "/folders/delete", &[("name", "Secret")])
        .await;
    assert_eq!(r.status, 404, "{r}");
    let r = bob
        .submit(
            "/folders",
            "/folders/rename",
            &[("name", "Secret"), ("to", "Mine")],
        )
        .await;
    assert_eq!(r.status, 404, "{r}");
    assert_eq!(count(&srv, "Secret"), Some(0));
}
