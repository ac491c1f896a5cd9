//! The administration pages over real TLS: an administrator sees the
//! domains, users, aliases, the outbound queue and the certificates with
//! their listeners; an ordinary user gets 403 on every page, a signed-out
//! browser the login page; revoking the flag takes effect at once.

use std::time::Duration;

use postern_testkit::http::form;
use postern_testkit::server::HOST;
use postern_testkit::{HttpResponse, HttpsClient, TestServer};

use crate::smtp::{eventually, logged_in as smtp_logged_in, send_mail};

const ADMIN: &str = "alice@example.test";
const USER: &str = "bob@example.test";
const PASSWORD: &str = "correct horse battery";
/// Mail to this domain has no route: it stays queued (the test
/// resolver at 127.0.0.1:9 answers nothing).
pub(crate) const REMOTE: &str = "carol@remote.test";

const PAGES: &[&str] = &[
    "/admin",
    "/admin/domains",
    "/admin/users",
    "/admin/aliases",
    "/admin/queue",
    "/admin/certificates",
];

/// One browser: a connection and its session cookie.
struct Browser {
    conn: HttpsClient,
    cookie: Option<String>,
}

impl Browser {
    async fn new(srv: &TestServer) -> Self {
        let conn = HttpsClient::connect(srv.addr("https"), HOST, srv.client_config(&[b"http/1.1"]))
            .await
            .expect("TLS connection to the https listener");
        Self { conn, cookie: None }
    }

    async fn logged_in(srv: &TestServer, user: &str) -> Self {
        let mut b = Self::new(srv).await;
        let page = b.get("/login").await;
        let login_cookie = page
            .header_all("set-cookie")
            .into_iter()
            .find_map(|c| c.split(';').next().map(str::to_owned))
            .expect("a pre-login cookie");
        let token = page.csrf_field();
        let body = form(&[("user", user), ("password", PASSWORD), ("csrf", &token)]);
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", login_cookie.as_str()),
        ];
        let r = b
            .conn
            .request("POST", "/login", HOST, &headers, body.as_bytes())
            .await
            .unwrap();
        assert_eq!(r.status, 303, "login of {user}: {r}");
        b.cookie = r
            .header_all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("__Host-postern="))
            .and_then(|c| c.split(';').next())
            .map(str::to_owned);
        assert!(b.cookie.is_some(), "no session cookie: {r}");
        b
    }

    async fn get(&mut self, path: &str) -> HttpResponse {
        let headers: Vec<(&str, &str)> = self
            .cookie
            .as_deref()
            .map(|c| ("Cookie", c))
            .into_iter()
            .collect();
        self.conn
            .request("GET", path, HOST, &headers, b"")
            .await
            .unwrap()
    }

    /// A page that must be there: 200, never cached.
    async fn page(&mut self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {r}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        r.text()
    }
}

/// alice (administrator) and bob, an alias, and one message queued for
/// a remote recipient.
async fn server() -> TestServer {
    let srv = TestServer::start().await;
    let alice = srv.add_user(ADMIN, PASSWORD);
    srv.add_user(USER, PASSWORD);
    let store = srv.server().store().clone();
    store.set_admin(alice.id, true).unwrap();
    store
        .add_alias("sales@example.test", &[USER.to_owned()])
        .unwrap();
    queue_for_remote(&srv).await;
    srv
}

/// Submits one message from the administrator to [`REMOTE`] and waits
/// until it is the one message in the outbound queue, where it stays.
pub(crate) async fn queue_for_remote(srv: &TestServer) {
    let mut c = smtp_logged_in(srv, ADMIN).await;
    let body = format!(
        "From: <{ADMIN}>\r\nTo: <{REMOTE}>\r\nSubject: queued\r\n\r\nwaits for a route\r\n"
    );
    let reply = send_mail(&mut c, ADMIN, &[REMOTE], body.as_bytes()).await;
    assert!(reply.starts_with("250"), "{}", c.transcript());
    let store = srv.server().store();
    let queued = eventually(Duration::from_secs(5), || {
        store.queue_list().is_ok_and(|q| q.len() == 1)
    })
    .await;
    assert!(queued, "the message was not queued");
}

#[tokio::test]
async fn an_administrator_sees_every_page_with_the_data() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ADMIN).await;

    let overview = b.page("/admin").await;
    for link in &PAGES[1..] {
        assert!(overview.contains(&format!("href=\"{link}\"")), "{overview}");
    }
    assert!(overview.contains("Queued messages</a></td><td class=\"num\">1<"));

    let domains = b.page("/admin/domains").await;
    assert!(domains.contains("<td>example.test</td>"), "{domains}");

    let users = b.page("/admin/users").await;
    assert!(
        users.contains(&format!("<td>{ADMIN}</td><td>yes</td>")),
        "{users}"
    );
    assert!(
        users.contains(&format!("<td>{USER}</td><td>no</td>")),
        "{users}"
    );

    let aliases = b.page("/admin/aliases").await;
    assert!(
        aliases.contains(&format!(
            "<td>sales@example.test</td><td>&rarr; {USER}</td>"
        )),
        "{aliases}"
    );

    let queue = b.page("/admin/queue").await;
    assert!(queue.contains(&format!("<td>{REMOTE}</td>")), "{queue}");
    assert!(queue.contains(&format!("<td>{ADMIN}</td>")), "{queue}");
}

#[tokio::test]
async fn the_certificates_page_shows_days_left_listeners_and_policy() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ADMIN).await;
    let page = b.page("/admin/certificates").await;
    // The page and the metric show one figure.
    let metrics = crate::tls::metrics(&srv).await;
    let metric = "postern_certificate_days_left{certificate=\"main\"} ";
    let days: i64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix(metric))
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or_else(|| panic!("no days-left metric: {metrics}"));
    // The test certificate lives 30 days: within the warning range.
    assert!((8..=30).contains(&days), "{days}");
    assert!(
        page.contains(&format!("<td class=\"num days warn\">{days}</td>")),
        "{page}"
    );
    assert!(page.contains("<td>main</td>"), "{page}");
    assert!(page.contains(HOST), "its names: {page}");
    for listener in ["imaps", "https", "submissions"] {
        assert!(page.contains(listener), "listener {listener}: {page}");
    }
    assert!(page.contains("TLS 1.3"), "{page}");
    assert!(page.contains("TLS13_AES_256_GCM_SHA384"), "{page}");
}

#[tokio::test]
async fn an_ordinary_user_gets_403_on_every_page() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, USER).await;
    for path in PAGES {
        let r = b.get(path).await;
        assert_eq!(r.status, 403, "{path}: {r}");
        let text = r.text();
        assert!(text.contains("Administrators only"), "{path}: {text}");
        assert!(!text.contains(REMOTE) && !text.contains("sales@"), "{text}");
    }
    // The mail pages still work for them.
    assert_eq!(b.get("/mail").await.status, 200);
}

#[tokio::test]
async fn a_signed_out_browser_is_sent_to_the_login_page() {
    let srv = server().await;
    let mut b = Browser::new(&srv).await;
    for path in PAGES {
        let r = b.get(path).await;
        assert_eq!(r.status, 303, "{path}: {r}");
        assert_eq!(r.header("location"), Some("/login"), "{path}");
    }
}

#[tokio::test]
async fn revoking_the_flag_takes_effect_at_once() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ADMIN).await;
    assert_eq!(b.get("/admin/users").await.status, 200);
    let store = srv.server().store().clone();
    let alice = store.account(ADMIN).unwrap().unwrap();
    store.set_admin(alice.id, false).unwrap();
    assert_eq!(b.get("/admin/users").await.status, 403);
}
