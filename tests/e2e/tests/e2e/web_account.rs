//! A user changes their own password in the webmail, over real TLS: the
//! current password is required (and a wrong one changes nothing), the
//! new one must be typed twice and pass the strength rule; afterwards
//! IMAP takes the new password only, the user's other web sessions are
//! over and the one they used goes on.

use postern_testkit::server::HOST;
use postern_testkit::{Browser, HttpResponse, LineClient, TestServer};

const ALICE: &str = "alice@example.test";
const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "staple battery horse";

async fn imap_login(srv: &TestServer, password: &str) -> bool {
    let mut c = LineClient::tls(srv.addr("imaps"), HOST, srv.client_config(&[b"imap"]))
        .await
        .unwrap();
    c.expect("* OK").await;
    c.send(&format!("l LOGIN \"{ALICE}\" \"{password}\"")).await;
    let lines = c.read_until("l ").await;
    lines.last().is_some_and(|l| l.starts_with("l OK"))
}

async fn change(b: &mut Browser, current: &str, new: &str, again: &str) -> HttpResponse {
    let page = b.get("/account").await;
    assert_eq!(page.status, 200, "{page}");
    let csrf = page.csrf_field();
    b.post(
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current", current),
            ("password", new),
            ("password2", again),
        ],
    )
    .await
}

#[tokio::test]
async fn a_user_changes_their_own_password() {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let mut other = Browser::logged_in(&srv, ALICE, PASSWORD).await;

    for (current, new, again, says) in [
        (
            "wrong password",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "current password is not right",
        ),
        (PASSWORD, NEW_PASSWORD, "something else", "do not match"),
        (PASSWORD, "short", "short", "too short"),
    ] {
        let r = change(&mut b, current, new, again).await;
        assert_eq!(r.status, 400, "{r}");
        assert!(r.text().contains(says), "{says}: {r}");
    }
    assert!(imap_login(&srv, PASSWORD).await, "nothing changed yet");
    assert_eq!(other.get("/mail").await.status, 200);

    let r = change(&mut b, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some("/account?done=password"));
    let page = b.get("/account?done=password").await;
    assert_eq!(page.status, 200, "this session goes on: {page}");
    assert!(page.text().contains("Password changed."));
    let r = other.get("/mail").await;
    assert_eq!(r.status, 303, "the other session is over: {r}");
    assert!(imap_login(&srv, NEW_PASSWORD).await);
    assert!(!imap_login(&srv, PASSWORD).await);

    // Without the form token nothing happens.
    let r = b
        .post(
            "/account/password",
            &[
                ("current", NEW_PASSWORD),
                ("password", PASSWORD),
                ("password2", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{r}");
    assert!(imap_login(&srv, NEW_PASSWORD).await);
}
