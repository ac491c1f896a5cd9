//! Changes from the administration pages, over real TLS: each form's
//! change is checked in the store or through a protocol (a user added on
//! the web logs in over IMAP, an alias added receives mail by SMTP...).
//! An ordinary user's POST is 403, a POST without the form token is 403,
//! and neither changes anything; an administrator cannot lock themselves
//! out.

use std::time::Duration;

use postern_testkit::server::HOST;
use postern_testkit::{Browser, HttpResponse, LineClient, TestServer};

use crate::smtp::{eventually, logged_in as smtp_logged_in, send_mail};
use crate::web_admin::{queue_for_remote, REMOTE};

const ADMIN: &str = "alice@example.test";
const USER: &str = "bob@example.test";
const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "staple battery horse";

/// alice (administrator) and bob.
async fn server() -> TestServer {
    let srv = TestServer::start().await;
    let alice = srv.add_user(ADMIN, PASSWORD);
    srv.add_user(USER, PASSWORD);
    srv.server().store().set_admin(alice.id, true).unwrap();
    srv
}

async fn admin(srv: &TestServer) -> Browser {
    Browser::logged_in(srv, ADMIN, PASSWORD).await
}

/// A form posted from `page` with its token: must be a 303 back to
/// `back` with a notice; returns the page it leads to.
async fn done(
    b: &mut Browser,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
    back: &str,
) -> String {
    let r = b.submit(page, action, fields).await;
    assert_eq!(r.status, 303, "{action}: {r}");
    let location = r.header("location").unwrap_or_default().to_owned();
    assert!(location.starts_with(back), "{action} -> {location}");
    assert!(location.contains("done="), "{location}");
    let page = b.get(&location).await;
    assert_eq!(page.status, 200, "{location}: {page}");
    let text = page.text();
    assert!(text.contains("class=\"notice\""), "no notice: {text}");
    text
}

/// A form posted with its token that must be refused with `status`.
async fn refused(
    b: &mut Browser,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
    status: u16,
) -> HttpResponse {
    let r = b.submit(page, action, fields).await;
    assert_eq!(r.status, status, "{action}: {r}");
    assert!(r.text().contains("class=\"error\""), "no reason shown: {r}");
    r
}

/// Whether `user` logs in over IMAPS with `password`.
async fn imap_login(srv: &TestServer, user: &str, password: &str) -> bool {
    let mut c = LineClient::tls(srv.addr("imaps"), HOST, srv.client_config(&[b"imap"]))
        .await
        .unwrap();
    c.expect("* OK").await;
    c.send(&format!("l LOGIN \"{user}\" \"{password}\"")).await;
    let lines = c.read_until("l ").await;
    lines.last().is_some_and(|l| l.starts_with("l OK"))
}

fn account(srv: &TestServer, address: &str) -> Option<postern_store::Account> {
    srv.server().store().account(address).unwrap()
}

#[tokio::test]
async fn domains_are_added_and_removed_but_not_while_in_use() {
    let srv = server().await;
    let store = srv.server().store().clone();
    let mut b = admin(&srv).await;

    let page = done(
        &mut b,
        "/admin/domains",
        "/admin/domains",
        &[("domain", "New.Example")],
        "/admin/domains",
    )
    .await;
    assert!(page.contains("<td>new.example</td>"), "{page}");
    assert!(store.domains().unwrap().contains(&"new.example".to_owned()));

    let bad = refused(
        &mut b,
        "/admin/domains",
        "/admin/domains",
        &[("domain", "not a domain")],
        400,
    )
    .await;
    assert!(bad.text().contains("not a domain"), "{bad}");
    refused(
        &mut b,
        "/admin/domains",
        "/admin/domains",
        &[("domain", "new.example")],
        409,
    )
    .await;

    let confirm = b.get("/admin/domains/remove?domain=new.example").await;
    assert_eq!(confirm.status, 200, "{confirm}");
    assert!(
        confirm.text().contains("Remove the domain new.example?"),
        "{confirm}"
    );
    done(
        &mut b,
        "/admin/domains",
        "/admin/domains/remove",
        &[("domain", "new.example")],
        "/admin/domains",
    )
    .await;
    assert!(!store.domains().unwrap().contains(&"new.example".to_owned()));

    // The store refuses while accounts use it, and says why.
    let r = refused(
        &mut b,
        "/admin/domains",
        "/admin/domains/remove",
        &[("domain", "example.test")],
        409,
    )
    .await;
    assert!(r.text().contains("still in use"), "{r}");
    assert!(store
        .domains()
        .unwrap()
        .contains(&"example.test".to_owned()));
}

#[tokio::test]
async fn a_user_added_on_the_web_logs_in_over_imap() {
    let srv = server().await;
    let mut b = admin(&srv).await;
    const DAVE: &str = "dave@example.test";

    let mismatch = [
        ("address", DAVE),
        ("password", PASSWORD),
        ("password2", NEW_PASSWORD),
    ];
    let r = refused(&mut b, "/admin/users", "/admin/users", &mismatch, 400).await;
    assert!(r.text().contains("differ"), "{r}");
    let weak = [
        ("address", DAVE),
        ("password", "short"),
        ("password2", "short"),
    ];
    let r = refused(&mut b, "/admin/users", "/admin/users", &weak, 400).await;
    assert!(r.text().contains("too short"), "{r}");
    let bad_quota = [
        ("address", DAVE),
        ("password", PASSWORD),
        ("password2", PASSWORD),
        ("quota", "lots"),
    ];
    refused(&mut b, "/admin/users", "/admin/users", &bad_quota, 400).await;
    assert!(account(&srv, DAVE).is_none(), "refused forms added nobody");

    let fields = [
        ("address", DAVE),
        ("password", PASSWORD),
        ("password2", PASSWORD),
        ("quota", "10 MB"),
    ];
    let page = done(
        &mut b,
        "/admin/users",
        "/admin/users",
        &fields,
        "/admin/users",
    )
    .await;
    assert!(page.contains(DAVE), "{page}");
    let dave = account(&srv, DAVE).expect("dave was added");
    assert_eq!(dave.quota_bytes, 10 << 20);
    assert!(!dave.admin);
    assert!(imap_login(&srv, DAVE, PASSWORD).await, "dave logs in");
    refused(&mut b, "/admin/users", "/admin/users", &fields, 409).await;

    // The admin checkbox.
    let carol = [
        ("address", "carol@example.test"),
        ("password", PASSWORD),
        ("password2", PASSWORD),
        ("admin", "on"),
    ];
    done(
        &mut b,
        "/admin/users",
        "/admin/users",
        &carol,
        "/admin/users",
    )
    .await;
    assert!(account(&srv, "carol@example.test").unwrap().admin);
}

#[tokio::test]
async fn password_state_admin_and_quota_change_on_a_users_page() {
    let srv = server().await;
    let mut b = admin(&srv).await;
    let page = "/admin/users/edit?address=bob%40example.test";
    let back = "/admin/users/edit?address=bob%40example.test";

    let r = refused(
        &mut b,
        page,
        "/admin/users/password",
        &[
            ("address", USER),
            ("password", "tiny"),
            ("password2", "tiny"),
        ],
        400,
    )
    .await;
    assert!(r.text().contains("too short"), "{r}");
    done(
        &mut b,
        page,
        "/admin/users/password",
        &[
            ("address", USER),
            ("password", NEW_PASSWORD),
            ("password2", NEW_PASSWORD),
        ],
        back,
    )
    .await;
    assert!(
        imap_login(&srv, USER, NEW_PASSWORD).await,
        "the new password works"
    );
    assert!(
        !imap_login(&srv, USER, PASSWORD).await,
        "the old one does not"
    );

    let text = done(
        &mut b,
        page,
        "/admin/users/disable",
        &[("address", USER)],
        back,
    )
    .await;
    assert!(text.contains("Disabled"), "{text}");
    assert!(account(&srv, USER).unwrap().disabled);
    assert!(
        !imap_login(&srv, USER, NEW_PASSWORD).await,
        "a disabled user cannot log in"
    );
    done(
        &mut b,
        page,
        "/admin/users/enable",
        &[("address", USER)],
        back,
    )
    .await;
    assert!(imap_login(&srv, USER, NEW_PASSWORD).await, "enabled again");

    done(
        &mut b,
        page,
        "/admin/users/admin",
        &[("address", USER), ("admin", "on")],
        back,
    )
    .await;
    let mut bob = Browser::logged_in(&srv, USER, NEW_PASSWORD).await;
    assert_eq!(
        bob.get("/admin/users").await.status,
        200,
        "bob is an administrator"
    );
    done(
        &mut b,
        page,
        "/admin/users/admin",
        &[("address", USER), ("admin", "off")],
        back,
    )
    .await;
    assert_eq!(bob.get("/admin/users").await.status, 403, "and no longer");

    let text = done(
        &mut b,
        page,
        "/admin/users/quota",
        &[("address", USER), ("quota", "2 GB")],
        back,
    )
    .await;
    assert!(text.contains("value=\"2 GB\""), "{text}");
    assert_eq!(account(&srv, USER).unwrap().quota_bytes, 2 << 30);
    done(
        &mut b,
        page,
        "/admin/users/quota",
        &[("address", USER), ("quota", "")],
        back,
    )
    .await;
    assert_eq!(account(&srv, USER).unwrap().quota_bytes, 0);

    let missing = b
        .get("/admin/users/edit?address=nobody%40example.test")
        .await;
    assert_eq!(missing.status, 404, "{missing}");
}

#[tokio::test]
async fn a_user_is_removed_after_a_confirmation_with_their_mail() {
    let srv = server().await;
    srv.deliver(USER, b"Subject: keep?\r\n\r\nbody\r\n");
    let mut b = admin(&srv).await;
    let confirm = b
        .get("/admin/users/remove?address=bob%40example.test")
        .await;
    assert_eq!(confirm.status, 200, "{confirm}");
    let text = confirm.text();
    assert!(text.contains("every message in them are deleted"), "{text}");
    assert!(account(&srv, USER).is_some(), "asking changes nothing");

    let page = done(
        &mut b,
        "/admin/users",
        "/admin/users/remove",
        &[("address", USER)],
        "/admin/users",
    )
    .await;
    assert!(!page.contains(USER), "{page}");
    assert!(account(&srv, USER).is_none());
    assert!(!imap_login(&srv, USER, PASSWORD).await);
}

#[tokio::test]
async fn an_administrator_cannot_lock_themselves_out() {
    let srv = server().await;
    let mut b = admin(&srv).await;
    let own = "/admin/users/edit?address=alice%40example.test";
    let page = b.get(own).await.text();
    assert!(page.contains("This is your own account"), "{page}");
    assert!(!page.contains("action=\"/admin/users/disable\""), "{page}");

    for (action, extra) in [
        ("/admin/users/admin", ("admin", "off")),
        ("/admin/users/disable", ("admin", "")),
        ("/admin/users/remove", ("admin", "")),
    ] {
        let r = refused(&mut b, own, action, &[("address", ADMIN), extra], 409).await;
        assert!(r.text().contains("your own"), "{action}: {r}");
    }
    let alice = account(&srv, ADMIN).expect("alice is still there");
    assert!(alice.admin && !alice.disabled);
    // Her own password she may change.
    done(
        &mut b,
        own,
        "/admin/users/password",
        &[
            ("address", ADMIN),
            ("password", NEW_PASSWORD),
            ("password2", NEW_PASSWORD),
        ],
        own,
    )
    .await;
}

#[tokio::test]
async fn an_alias_added_on_the_web_receives_mail() {
    let srv = server().await;
    let store = srv.server().store().clone();
    let mut b = admin(&srv).await;
    let fields = [
        ("address", "team@example.test"),
        ("targets", "alice@example.test, bob@example.test"),
    ];
    let page = done(
        &mut b,
        "/admin/aliases",
        "/admin/aliases",
        &fields,
        "/admin/aliases",
    )
    .await;
    assert!(page.contains("team@example.test"), "{page}");
    let r = refused(
        &mut b,
        "/admin/aliases",
        "/admin/aliases",
        &[
            ("address", "x@example.test"),
            ("targets", "nobody@example.test"),
        ],
        404,
    )
    .await;
    assert!(r.text().contains("nobody@example.test"), "{r}");
    refused(
        &mut b,
        "/admin/aliases",
        "/admin/aliases",
        &[("address", "y@example.test"), ("targets", " , ")],
        400,
    )
    .await;

    let mut c = smtp_logged_in(&srv, ADMIN).await;
    let body = b"From: <alice@example.test>\r\nTo: <team@example.test>\r\nSubject: team\r\n\r\nhello team\r\n";
    let reply = send_mail(&mut c, ADMIN, &["team@example.test"], body).await;
    assert!(reply.starts_with("250"), "{}", c.transcript());
    let arrived = eventually(Duration::from_secs(5), || {
        let has = |who: &str| {
            srv.inbox(who)
                .iter()
                .any(|m| m.windows(10).any(|w| w == b"hello team"))
        };
        has(USER) && has(ADMIN)
    })
    .await;
    assert!(arrived, "both targets receive the alias's mail");

    done(
        &mut b,
        "/admin/aliases",
        "/admin/aliases/remove",
        &[("address", "team@example.test")],
        "/admin/aliases",
    )
    .await;
    assert!(store
        .aliases()
        .unwrap()
        .iter()
        .all(|a| a.address != "team@example.test"));
}

#[tokio::test]
async fn a_queued_message_is_retried_and_deleted() {
    let srv = server().await;
    let store = srv.server().store().clone();
    queue_for_remote(&srv).await;
    let id = store.queue_list().unwrap()[0].id.0.to_string();

    let mut b = admin(&srv).await;
    done(
        &mut b,
        "/admin/queue",
        "/admin/queue/retry",
        &[("id", &id)],
        "/admin/queue",
    )
    .await;
    refused(
        &mut b,
        "/admin/queue",
        "/admin/queue/retry",
        &[("id", "12x")],
        400,
    )
    .await;

    let confirm = b.get(&format!("/admin/queue/delete?id={id}")).await;
    assert_eq!(confirm.status, 200, "{confirm}");
    assert!(confirm.text().contains(REMOTE), "{confirm}");
    assert_eq!(
        store.queue_list().unwrap().len(),
        1,
        "asking changes nothing"
    );

    let page = done(
        &mut b,
        "/admin/queue",
        "/admin/queue/delete",
        &[("id", &id)],
        "/admin/queue",
    )
    .await;
    assert!(page.contains("The queue is empty"), "{page}");
    assert!(!page.contains(REMOTE), "{page}");
    assert!(store.queue_list().unwrap().is_empty());
    refused(
        &mut b,
        "/admin/queue",
        "/admin/queue/delete",
        &[("id", &id)],
        404,
    )
    .await;
}

/// Every change, with fields that would make it succeed.
const CHANGES: &[(&str, &[(&str, &str)])] = &[
    ("/admin/domains", &[("domain", "other.example")]),
    ("/admin/domains/remove", &[("domain", "example.test")]),
    (
        "/admin/users",
        &[
            ("address", "eve@example.test"),
            ("password", PASSWORD),
            ("password2", PASSWORD),
        ],
    ),
    (
        "/admin/users/password",
        &[
            ("address", ADMIN),
            ("password", NEW_PASSWORD),
            ("password2", NEW_PASSWORD),
        ],
    ),
    ("/admin/users/disable", &[("address", ADMIN)]),
    ("/admin/users/admin", &[("address", USER), ("admin", "on")]),
    (
        "/admin/users/quota",
        &[("address", ADMIN), ("quota", "1 KB")],
    ),
    ("/admin/users/remove", &[("address", ADMIN)]),
    (
        "/admin/aliases",
        &[("address", "sales@example.test"), ("targets", USER)],
    ),
    ("/admin/queue/retry", &[("id", "1")]),
    ("/admin/queue/delete", &[("id", "1")]),
];

/// Nothing of the server's accounts changed.
fn unchanged(srv: &TestServer, before: &[postern_store::Account]) {
    let store = srv.server().store();
    let now = store.accounts().unwrap();
    assert_eq!(now.len(), before.len());
    for (a, b) in now.iter().zip(before) {
        assert_eq!(
            (
                &a.address,
                &a.password_hash,
                a.admin,
                a.disabled,
                a.quota_bytes
            ),
            (
                &b.address,
                &b.password_hash,
                b.admin,
                b.disabled,
                b.quota_bytes
            )
        );
    }
    assert_eq!(store.domains().unwrap(), ["example.test"]);
    assert!(store
        .aliases()
        .unwrap()
        .iter()
        .all(|a| !a.address.starts_with("sales@")));
}

#[tokio::test]
async fn ordinary_users_get_403_on_every_change_and_nothing_changes() {
    let srv = server().await;
    let before = srv.server().store().accounts().unwrap();
    let mut bob = Browser::logged_in(&srv, USER, PASSWORD).await;
    // His own session's token: valid, but he is no administrator.
    let csrf = bob.form_token("/mail").await;
    for (action, fields) in CHANGES {
        let r = bob.post_with_csrf(action, &csrf, fields).await;
        assert_eq!(r.status, 403, "{action}: {r}");
        assert!(r.text().contains("Administrators only"), "{action}: {r}");
    }
    unchanged(&srv, &before);
}

#[tokio::test]
async fn a_change_without_the_form_token_is_refused() {
    let srv = server().await;
    let before = srv.server().store().accounts().unwrap();
    let mut b = admin(&srv).await;
    let wrong = "0".repeat(64);
    for (action, fields) in CHANGES {
        let r = b.post(action, fields).await;
        assert_eq!(r.status, 403, "{action} without a token: {r}");
        let r = b.post_with_csrf(action, &wrong, fields).await;
        assert_eq!(r.status, 403, "{action} with a wrong token: {r}");
    }
    unchanged(&srv, &before);

    // Signed out, a change leads to the login page.
    let mut out = Browser::open(&srv).await;
    let r = out
        .post("/admin/domains", &[("domain", "other.example")])
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some("/login"));
    unchanged(&srv, &before);
}

#[tokio::test]
async fn disabling_or_a_new_password_ends_the_users_web_sessions() {
    let srv = server().await;
    let mut a = admin(&srv).await;
    let mut bob = Browser::logged_in(&srv, USER, PASSWORD).await;
    assert_eq!(bob.get("/mail").await.status, 200);
    let page = format!("/admin/users/edit?address={USER}");
    done(
        &mut a,
        &page,
        "/admin/users/password",
        &[
            ("address", USER),
            ("password", NEW_PASSWORD),
            ("password2", NEW_PASSWORD),
        ],
        "/admin/users",
    )
    .await;
    let r = bob.get("/mail").await;
    assert_eq!(r.status, 303, "the old password's session is over: {r}");
    assert_eq!(r.header("location"), Some("/login"));

    // A change made outside the web (the `postern` command writes the
    // store from another process) ends the session too.
    let mut bob = Browser::logged_in(&srv, USER, NEW_PASSWORD).await;
    assert_eq!(bob.get("/mail").await.status, 200);
    let id = account(&srv, USER).unwrap().id;
    srv.server().store().set_disabled(id, true).unwrap();
    let r = bob.get("/mail").await;
    assert_eq!(r.status, 303, "a disabled account has no session: {r}");
    srv.server().store().set_disabled(id, false).unwrap();
    let r = bob.get("/mail").await;
    assert_eq!(r.status, 303, "and it does not come back: {r}");
}
