//! Webmail folder management over real TLS: create, rename (the INBOX
//! too) and delete folders, each seen by IMAP LIST at once; the refusals
//! (the INBOX, a name in use, a malformed name, a missing form token,
//! another account's folder) and what they answer.

use postern_testkit::server::HOST;
use postern_testkit::{HttpResponse, LineClient, TestServer};

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
const PASSWORD: &str = "correct horse battery";

/// The testkit's browser, with the page helpers of these tests.
struct Browser(postern_testkit::Browser);

impl std::ops::Deref for Browser {
    type Target = postern_testkit::Browser;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Browser {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Browser {
    /// A browser logged in as `user`.
    async fn logged_in(srv: &TestServer, user: &str) -> Self {
        Self(postern_testkit::Browser::logged_in(srv, user, PASSWORD).await)
    }

    /// Posts a form of the folders page, with that page's token.
    async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let page = self.get("/folders").await;
        assert_eq!(page.status, 200, "{page}");
        let token = page.csrf_field();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }
}

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    srv.add_user(BOB, PASSWORD);
    srv
}

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
    let mut imap = LineClient::tls(srv.addr("imaps"), HOST, srv.client_config(&[b"imap"]))
        .await
        .unwrap();
    imap.expect("* OK").await;
    imap.send(&format!("a LOGIN {ALICE} \"{PASSWORD}\"")).await;
    imap.read_until("a OK").await;
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
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE).await;
    let page = b.get("/mail").await.text();
    assert!(
        page.contains("href=\"/folders\""),
        "a link to manage:\n{page}"
    );
    let r = b.submit("/folders", &[("name", "Projects/2026/")]).await;
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
    let srv = server().await;
    for i in 0..3 {
        srv.deliver(ALICE, &plain(&format!("m{i}")));
    }
    let mut b = Browser::logged_in(&srv, ALICE).await;
    // The INBOX: its messages move to the new folder, it stays, empty.
    let r = b
        .submit("/folders/rename", &[("name", "INBOX"), ("to", "Old mail")])
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(count(&srv, "Old mail"), Some(3));
    assert_eq!(count(&srv, "INBOX"), Some(0));
    // Any other folder: renamed, messages and children kept.
    srv.deliver(ALICE, &plain("again"));
    let r = b.submit("/folders", &[("name", "Old mail/sub")]).await;
    assert_eq!(r.status, 303, "{r}");
    let r = b
        .submit("/folders/rename", &[("name", "Old mail"), ("to", "Kept")])
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
    let srv = server().await;
    let store = srv.server().store().clone();
    let account = store.account(ALICE).unwrap().unwrap();
    let doomed = store.create_mailbox(account.id, "Old", None).unwrap();
    store.create_mailbox(account.id, "Old/child", None).unwrap();
    store.append(doomed.id, &plain("bye"), &[], 0).unwrap();
    store.append(doomed.id, &plain("bye 2"), &[], 0).unwrap();
    let mut b = Browser::logged_in(&srv, ALICE).await;
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
    let token = ask.csrf_field();
    let r = b
        .post("/folders/delete", &[("csrf", &token), ("name", "Old")])
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
    let srv = server().await;
    srv.deliver(ALICE, &plain("keep"));
    let mut b = Browser::logged_in(&srv, ALICE).await;
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
        let r = b.submit("/folders/delete", &[("name", name)]).await;
        assert_eq!(r.status, 400, "{r}");
        assert!(r.text().contains("INBOX cannot be deleted"), "{r}");
    }
    assert_eq!(count(&srv, "INBOX"), Some(1));
}

#[tokio::test]
async fn a_name_in_use_is_409_and_a_malformed_one_400() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE).await;
    assert_eq!(b.submit("/folders", &[("name", "Work")]).await.status, 303);
    let r = b.submit("/folders", &[("name", "Work")]).await;
    assert_eq!(r.status, 409, "{r}");
    assert!(r.text().contains("exists already"), "{r}");
    let r = b.submit("/folders", &[("name", "inbox")]).await;
    assert_eq!(r.status, 409, "{r}");
    let r = b
        .submit("/folders/rename", &[("name", "Work"), ("to", "Trash")])
        .await;
    assert_eq!(r.status, 409, "{r}");
    for bad in ["a//b", "x*", ""] {
        let r = b.submit("/folders", &[("name", bad)]).await;
        assert_eq!(r.status, 400, "{bad:?}: {r}");
        assert!(r.text().contains("class=\"error\""), "{r}");
    }
    let r = b.submit("/folders", &[("name", "50%")]).await;
    assert!(
        r.text().contains("are not allowed"),
        "the store's reason: {r}"
    );
    let r = b
        .submit("/folders/rename", &[("name", "Work"), ("to", "Work/inner")])
        .await;
    assert_eq!(r.status, 400, "{r}");
    assert_eq!(count(&srv, "Work"), Some(0));
}

#[tokio::test]
async fn forms_without_the_token_are_refused() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE).await;
    let r = b.post("/folders", &[("name", "Forged")]).await;
    assert_eq!(r.status, 403, "{r}");
    let r = b
        .post("/folders/rename", &[("name", "Trash"), ("to", "X")])
        .await;
    assert_eq!(r.status, 403, "{r}");
    let r = b
        .post("/folders/delete", &[("csrf", "00"), ("name", "Trash")])
        .await;
    assert_eq!(r.status, 403, "{r}");
    assert_eq!(count(&srv, "Forged"), None);
    assert!(count(&srv, "Trash").is_some());
}

#[tokio::test]
async fn another_accounts_folder_is_404() {
    let srv = server().await;
    let store = srv.server().store().clone();
    let account = store.account(ALICE).unwrap().unwrap();
    store.create_mailbox(account.id, "Secret", None).unwrap();
    let mut bob = Browser::logged_in(&srv, BOB).await;
    assert_eq!(bob.get("/folders/delete?name=Secret").await.status, 404);
    let r = bob.submit("/folders/delete", &[("name", "Secret")]).await;
    assert_eq!(r.status, 404, "{r}");
    let r = bob
        .submit("/folders/rename", &[("name", "Secret"), ("to", "Mine")])
        .await;
    assert_eq!(r.status, 404, "{r}");
    assert_eq!(count(&srv, "Secret"), Some(0));
}
