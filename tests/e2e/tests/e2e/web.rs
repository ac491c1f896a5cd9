//! The HTTPS web interface over real TLS: security headers, login and
//! sessions, CSRF, isolation between accounts, autoconfig, MTA-STS, and
//! hostile requests.

use std::time::{Duration, Instant};

use postern_testkit::http::form;
use postern_testkit::server::HOST;
use postern_testkit::{
    Browser, HttpResponse, HttpsClient, LineClient, TestServer, TestServerBuilder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) const ALICE: &str = "alice@example.test";
pub(crate) const BOB: &str = "bob@example.test";
pub(crate) const PASSWORD: &str = "correct horse battery";

/// A server with two accounts, alice and bob, both with [`PASSWORD`]:
/// where the webmail's tests start.
pub(crate) async fn alice_and_bob() -> TestServer {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    srv.add_user(BOB, PASSWORD);
    srv
}

/// An IMAPS connection logged in as `user` (tag `a`): the other door,
/// through which the tests see what the web interface changed.
pub(crate) async fn imap_logged_in(srv: &TestServer, user: &str) -> crate::smtp::Tls {
    let mut imap = LineClient::tls(srv.addr("imaps"), HOST, srv.client_config(&[b"imap"]))
        .await
        .expect("TLS connection to the imaps listener");
    imap.expect("* OK").await;
    imap.send(&format!("a LOGIN {user} \"{PASSWORD}\"")).await;
    imap.read_until("a OK").await;
    imap
}

async fn https(srv: &TestServer) -> HttpsClient {
    HttpsClient::connect(srv.addr("https"), HOST, srv.client_config(&[b"http/1.1"]))
        .await
        .expect("TLS connection to the https listener")
}

fn assert_security_headers(r: &HttpResponse, what: &str) {
    let hsts = r
        .header("strict-transport-security")
        .unwrap_or_else(|| panic!("{what}: no HSTS\n{r}"));
    let max_age: u64 = hsts
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: HSTS without max-age: {hsts}"));
    assert!(max_age >= 31_536_000, "{what}: HSTS max-age {max_age}");
    let csp = r
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP\n{r}"));
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "form-action 'self'",
    ] {
        assert!(
            csp.contains(directive),
            "{what}: CSP lacks {directive}: {csp}"
        );
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("referrer-policy"), Some("same-origin"), "{what}");
}

#[tokio::test]
async fn every_https_answer_carries_the_security_headers() {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    let mut b = Browser::open(&srv).await;
    let root = b.get("/").await;
    assert_eq!(root.status, 303, "{root}");
    assert_eq!(root.header("location"), Some("/login"));
    assert_security_headers(&root, "GET /");
    let login = b.get("/login").await;
    assert_security_headers(&login, "GET /login");
    assert_eq!(login.header("cache-control"), Some("no-store"));
    assert!(login
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(!login.text().contains("<script"), "no JavaScript yet");
    for path in [
        "/static/style.css",
        "/nowhere",
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        "/.well-known/mta-sts.txt",
    ] {
        let r = b.get(path).await;
        assert_security_headers(&r, path);
    }
    let refused = b.post("/login", &[("csrf", "x")]).await;
    assert_eq!(refused.status, 403, "{refused}");
    assert_security_headers(&refused, "refused POST");
    let r = b.login(ALICE, PASSWORD).await;
    assert_eq!(r.status, 303, "{r}");
    let mail = b.get("/mail").await;
    assert_eq!(mail.status, 200, "{mail}");
    assert_security_headers(&mail, "GET /mail");
    assert_eq!(mail.header("cache-control"), Some("no-store"));
    // One connection carried all of it: keep-alive works.
}

#[tokio::test]
async fn plain_http_never_serves_the_application() {
    let srv = TestServer::start().await;
    for target in [
        "/login",
        "/mail",
        "/static/style.css",
        "/.well-known/mta-sts.txt",
    ] {
        let mut tcp = tokio::net::TcpStream::connect(srv.addr("http"))
            .await
            .unwrap();
        let req = format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n");
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 301 "), "{answer}");
        assert!(!answer.contains("<form"), "{answer}");
        assert!(!answer.contains("version: STSv1"), "{answer}");
    }
}

#[tokio::test]
async fn absolute_form_targets_are_answered_for_their_own_host() {
    let srv = TestServer::start().await;
    let port = srv.addr("https").port();
    let mut c = https(&srv).await;
    // RFC 9112 §3.2.2: the target's authority wins over Host.
    let req = format!("GET https://{HOST}:{port}/login HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n");
    c.send_raw(req.as_bytes()).await.unwrap();
    let r = c.read_response(false).await.unwrap();
    assert_eq!(r.status, 200, "{r}");
    assert_security_headers(&r, "absolute-form GET");
    let req = "GET https://mta-sts.example.test/.well-known/mta-sts.txt HTTP/1.1\r\nHost: elsewhere.invalid\r\n\r\n";
    c.send_raw(req.as_bytes()).await.unwrap();
    let r = c.read_response(false).await.unwrap();
    assert_eq!(r.status, 200, "{r}");
    assert!(r.text().starts_with("version: STSv1\r\n"), "{r}");
}

#[tokio::test]
async fn login_sets_a_locked_down_cookie_and_logout_ends_the_session() {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    let mut b = Browser::open(&srv).await;
    let page = b.get("/login").await;
    let login_cookie = page
        .set_cookie("__Host-postern-login")
        .unwrap_or_else(|| panic!("no pre-login cookie\n{page}"));
    assert_locked_down(login_cookie);
    let r = b.login(ALICE, PASSWORD).await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some("/mail"));
    let cookie = r
        .set_cookie("__Host-postern")
        .unwrap_or_else(|| panic!("no session cookie\n{r}"));
    assert_locked_down(cookie);
    let token = r.cookie_value("__Host-postern").unwrap();
    assert_eq!(token.len(), 64, "256 bits in hex: {token}");

    let mail = b.get("/mail").await;
    assert_eq!(mail.status, 200, "{mail}");
    assert!(mail.text().contains(ALICE), "{mail}");
    assert!(mail.text().contains("INBOX"), "{mail}");
    // A logged-in browser is sent on from / and /login.
    assert_eq!(b.get("/").await.header("location"), Some("/mail"));
    assert_eq!(b.get("/login").await.header("location"), Some("/mail"));

    let out = b.post_with_csrf("/logout", &mail.csrf_field(), &[]).await;
    assert_eq!(out.status, 303, "{out}");
    assert_eq!(out.header("location"), Some("/login"));
    assert!(
        out.set_cookie("__Host-postern")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "{out}"
    );
    // The old token is dead on the server, not only in the browser.
    let mut replay = https(&srv).await;
    let cookie = format!("__Host-postern={token}");
    let r = replay
        .request("GET", "/mail", HOST, &[("Cookie", &cookie)], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some("/login"));
}

fn assert_locked_down(set_cookie: &str) {
    let flags: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(flags.contains(&flag), "{flag} missing: {set_cookie}");
    }
    assert!(
        !set_cookie.to_ascii_lowercase().contains("domain="),
        "{set_cookie}"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_page_after_the_delay() {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    let mut b = Browser::open(&srv).await;
    let token = b.form_token("/login").await;
    let mut pages = Vec::new();
    for (user, password) in [
        (ALICE, "not the password"),
        ("nobody@example.test", PASSWORD),
    ] {
        let started = Instant::now();
        let fields = [("user", user), ("password", password)];
        let r = b.post_with_csrf("/login", &token, &fields).await;
        let took = started.elapsed();
        assert!(
            took >= postern_auth::throttle::BASE_DELAY,
            "a failed login answered in {took:?}"
        );
        assert!(r.set_cookie("__Host-postern").is_none(), "{r}");
        pages.push((r.status, r.text()));
    }
    assert_eq!(pages[0], pages[1], "the two failures must look alike");
    assert!(pages[0].1.contains("Wrong e-mail address or password."));
}

#[tokio::test]
async fn forged_and_cross_site_posts_are_refused() {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    let mut b = Browser::open(&srv).await;
    let token = b.form_token("/login").await;
    let creds = [("user", ALICE), ("password", PASSWORD)];
    let with = |csrf: &'static str| {
        let mut f = creds.to_vec();
        f.push(("csrf", csrf));
        f
    };
    // No token, a wrong token.
    assert_eq!(b.post("/login", &creds).await.status, 403);
    assert_eq!(b.post("/login", &with("00")).await.status, 403);
    // The right token from another site's page.
    let mut fields = creds.to_vec();
    fields.push(("csrf", &token));
    let foreign = b
        .post_with("/login", &fields, &[("Origin", "https://evil.example")])
        .await;
    assert_eq!(foreign.status, 403, "{foreign}");
    let cross = b
        .post_with("/login", &fields, &[("Sec-Fetch-Site", "cross-site")])
        .await;
    assert_eq!(cross.status, 403, "{cross}");
    // The right token without the cookie it pairs with.
    let mut bare = https(&srv).await;
    let body = form(&fields);
    let r = bare
        .request(
            "POST",
            "/login",
            HOST,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{r}");
    // Same origin, all there: in.
    let origin = format!("https://{HOST}");
    let ok = b.post_with("/login", &fields, &[("Origin", &origin)]).await;
    assert_eq!(ok.status, 303, "{ok}");

    // Logged in: logout needs the session's own token.
    assert_eq!(b.post("/logout", &[]).await.status, 403);
    let r = b.post_with_csrf("/logout", &token, &[]).await;
    assert_eq!(r.status, 403, "the login page's token: {r}");
    let mail = b.get("/mail").await;
    assert_eq!(mail.status, 200, "refused logouts must not end the session");
    let csrf = mail.csrf_field();
    let foreign = b
        .post_with("/logout", &[("csrf", &csrf)], &[("Origin", "null")])
        .await;
    assert_eq!(foreign.status, 403, "{foreign}");
    assert_eq!(b.get("/mail").await.status, 200);
}

#[tokio::test]
async fn one_account_never_sees_another_accounts_folders() {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    let bob = srv.add_user(BOB, PASSWORD);
    srv.server()
        .store()
        .create_mailbox(bob.id, "Bobs-Secret-Plans", None)
        .unwrap();
    srv.deliver(BOB, b"From: x@example.test\r\nSubject: hi\r\n\r\nhello\r\n");
    srv.deliver(
        BOB,
        b"From: x@example.test\r\nSubject: again\r\n\r\nhello\r\n",
    );

    let mut alice = Browser::open(&srv).await;
    assert_eq!(alice.login(ALICE, PASSWORD).await.status, 303);
    let page = alice.get("/mail").await.text();
    assert!(page.contains("INBOX"), "{page}");
    assert!(!page.contains("Bobs-Secret-Plans"), "{page}");
    assert!(!page.contains(BOB), "{page}");

    let mut bob = Browser::open(&srv).await;
    assert_eq!(bob.login(BOB, PASSWORD).await.status, 303);
    let page = bob.get("/mail").await.text();
    assert!(page.contains("Bobs-Secret-Plans"), "{page}");
    assert!(
        page.contains("<td>INBOX</td><td class=\"num\">2</td><td class=\"num\">2</td>"),
        "two unread messages in bob's INBOX:\n{page}"
    );
    // Alice's cookie on Bob's connection is still Alice.
    let mut swapped = https(&srv).await;
    let cookie = alice.cookie_header();
    let r = swapped
        .request("GET", "/mail", HOST, &[("Cookie", &cookie)], b"")
        .await
        .unwrap();
    assert!(r.text().contains(ALICE) && !r.text().contains("Bobs-Secret-Plans"));
}

#[tokio::test]
async fn a_client_certificate_logs_in_its_own_account_only() {
    let srv = TestServerBuilder::new()
        .listener_line("https", "client_certificates = \"optional\"")
        .listener_line("https", "client_ca = \"ca.pem\"")
        .start()
        .await;
    srv.add_user(ALICE, PASSWORD);
    let connect = |issued: Option<postern_testkit::Issued>| {
        let cfg = srv.ca.client_config_with(&[b"http/1.1"], issued.as_ref());
        HttpsClient::connect(srv.addr("https"), HOST, cfg)
    };
    let mut b = Browser::over(connect(Some(srv.ca.client_cert(ALICE))).await.unwrap());
    let page = b.get("/login").await;
    assert!(page.text().contains("/login/certificate"), "{page}");
    let r = b
        .post_with_csrf("/login/certificate", &page.csrf_field(), &[])
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert!(b.get("/mail").await.text().contains(ALICE));

    // A certificate for an address without an account: the one failure page.
    let mut m = Browser::over(
        connect(Some(srv.ca.client_cert("mallory@example.test")))
            .await
            .unwrap(),
    );
    let r = m.submit("/login", "/login/certificate", &[]).await;
    assert_eq!(r.status, 200, "{r}");
    assert!(
        r.text().contains("Wrong e-mail address or password."),
        "{r}"
    );
    assert!(r.set_cookie("__Host-postern").is_none());

    // No certificate: no such button, and the form alone does nothing.
    let mut n = Browser::over(connect(None).await.unwrap());
    let page = n.get("/login").await;
    assert!(!page.text().contains("/login/certificate"), "{page}");
    let r = n
        .post_with_csrf("/login/certificate", &page.csrf_field(), &[])
        .await;
    assert!(r.set_cookie("__Host-postern").is_none(), "{r}");
}

/// The ports a TLS client may be sent to.
fn tls_ports(srv: &TestServer) -> Vec<u16> {
    ["imaps", "pop3s", "submissions", "submission"]
        .iter()
        .map(|l| srv.addr(l).port())
        .collect()
}

/// Every element's text, by name, checking that the document is well
/// formed on the way (tags nest and close, one root).
fn parse_xml(doc: &str) -> Vec<(String, String)> {
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut rest = doc.trim();
    if let Some(r) = rest.strip_prefix("<?xml") {
        rest = &r[r.find("?>").expect("XML declaration closed") + 2..];
    }
    let mut roots = 0;
    let mut text_start = 0;
    let mut i = 0;
    let bytes = rest.as_bytes();
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let end = i + rest[i..].find('>').expect("tag closed");
        let tag = &rest[i + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().unwrap_or_else(|| panic!("stray </{name}>"));
            assert_eq!(open, name, "mismatched tags in\n{doc}");
            out.push((open, rest[text_start..i].trim().to_owned()));
        } else {
            let name = tag.split_whitespace().next().unwrap().trim_end_matches('/');
            if stack.is_empty() {
                roots += 1;
            }
            if !tag.ends_with('/') {
                stack.push(name.to_owned());
            }
        }
        i = end + 1;
        text_start = i;
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert_eq!(roots, 1, "one root element");
    out
}

#[tokio::test]
async fn autoconfig_points_only_at_tls_ports_and_the_host_name() {
    let srv = TestServer::start().await;
    let tls = tls_ports(&srv);
    let starttls_submission = srv.addr("submission").port();
    let mut c = https(&srv).await;
    for path in [
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.test",
        "/mail/config-v1.1.xml",
        "/mail/config-v1.1.xml?emailaddress=someone%40elsewhere.example",
    ] {
        let r = c.request("GET", path, HOST, &[], b"").await.unwrap();
        assert_eq!(r.status, 200, "{path}: {r}");
        assert!(r.header("content-type").unwrap().contains("xml"), "{r}");
        let elements = parse_xml(&r.text());
        let ports: Vec<u16> = elements
            .iter()
            .filter(|(n, _)| n == "port")
            .map(|(_, v)| v.parse().unwrap())
            .collect();
        assert_eq!(ports.len(), 4, "{r}");
        assert!(
            ports.iter().all(|p| tls.contains(p)),
            "{ports:?} vs {tls:?}"
        );
        for (name, value) in &elements {
            if name == "hostname" {
                assert_eq!(value, HOST);
            }
        }
        let starttls = elements
            .iter()
            .filter(|(n, v)| n == "socketType" && v == "STARTTLS");
        assert_eq!(starttls.count(), 1, "only submission uses STARTTLS: {r}");
        assert!(
            r.text().contains(&format!(
                "<port>{starttls_submission}</port>\n      <socketType>STARTTLS"
            )),
            "{r}"
        );
        let domain = elements.iter().find(|(n, _)| n == "domain").unwrap();
        assert_eq!(domain.1, "example.test", "never a foreign domain");
    }
}

#[tokio::test]
async fn autodiscover_answers_both_spellings_and_echoes_only_local_addresses() {
    let srv = TestServer::start().await;
    let tls = tls_ports(&srv);
    let request = |address: &str| {
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request><EMailAddress>{address}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>")
    };
    let mut c = https(&srv).await;
    let xml = [("Content-Type", "text/xml")];
    for path in [
        "/autodiscover/autodiscover.xml",
        "/Autodiscover/Autodiscover.xml",
    ] {
        let body = request(ALICE);
        let r = c
            .request("POST", path, HOST, &xml, body.as_bytes())
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{path}: {r}");
        let elements = parse_xml(&r.text());
        let logins: Vec<&str> = elements
            .iter()
            .filter(|(n, _)| n == "LoginName")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(logins, vec![ALICE; 4], "{r}");
        let ports: Vec<u16> = elements
            .iter()
            .filter(|(n, _)| n == "Port")
            .map(|(_, v)| v.parse().unwrap())
            .collect();
        assert_eq!(ports.len(), 4, "{r}");
        assert!(ports.iter().all(|p| tls.contains(p)), "{ports:?}");
        assert!(elements
            .iter()
            .filter(|(n, _)| n == "Server")
            .all(|(_, v)| v == HOST));
    }
    let body = request("mallory@evil.example");
    let r = c
        .request(
            "POST",
            "/autodiscover/autodiscover.xml",
            HOST,
            &xml,
            body.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("evil.example"), "{r}");
    let body = request("<script>@example.test");
    let r = c
        .request(
            "POST",
            "/autodiscover/autodiscover.xml",
            HOST,
            &xml,
            body.as_bytes(),
        )
        .await
        .unwrap();
    assert!(!r.text().contains("script"), "{r}");
    // Garbage is answered, not crashed on.
    let r = c
        .request(
            "POST",
            "/autodiscover/autodiscover.xml",
            HOST,
            &xml,
            b"\xff\x00<<<",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    // Bounded.
    let big = request(&"a".repeat(20_000));
    let r = c
        .request(
            "POST",
            "/autodiscover/autodiscover.xml",
            HOST,
            &xml,
            big.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 413, "{r}");
}

#[tokio::test]
async fn the_mta_sts_policy_is_served_only_on_mta_sts_hosts() {
    let srv = TestServer::start().await;
    let mut c = https(&srv).await;
    let path = "/.well-known/mta-sts.txt";
    let r = c
        .request("GET", path, "mta-sts.example.test", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(
        r.text(),
        format!("version: STSv1\r\nmode: enforce\r\nmx: {HOST}\r\nmax_age: 604800\r\n")
    );
    // With a port and in capitals: the same host.
    let r = c
        .request("GET", path, "MTA-STS.Example.Test:443", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r}");
    for host in [HOST, "mta-sts.evil.example", "example.test", "mta-sts."] {
        let r = c.request("GET", path, host, &[], b"").await.unwrap();
        assert_eq!(r.status, 404, "{host}: {r}");
        assert!(!r.text().contains("STSv1"));
    }
    // A domain added after the start counts.
    srv.server().store().add_domain("later.test").unwrap();
    let r = c
        .request("GET", path, "mta-sts.later.test", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r}");
}

#[tokio::test]
async fn static_files_are_served_and_nothing_else_is_reachable() {
    let srv = TestServer::start().await;
    let mut c = https(&srv).await;
    let css = c
        .request("GET", "/static/style.css", HOST, &[], b"")
        .await
        .unwrap();
    assert_eq!(css.status, 200, "{css}");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css
        .header("cache-control")
        .unwrap()
        .contains("max-age=31536000"));
    let login = c.request("GET", "/login", HOST, &[], b"").await.unwrap();
    assert!(login.text().contains("/static/style.css?v="), "{login}");
    for path in [
        "/static/../../etc/passwd",
        "/static/..%2F..%2Fetc%2Fpasswd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/static/..\\..\\etc\\passwd",
        "/static//etc/passwd",
        "/static/style.css/../../../../etc/passwd",
        "/static/",
        "/static/Cargo.toml",
    ] {
        let mut c = https(&srv).await;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n");
        c.send_raw(req.as_bytes()).await.unwrap();
        match c.read_response(false).await {
            Ok(r) => {
                assert!(r.status == 404 || r.status == 400, "{path}: {r}");
                assert!(!r.text().contains("root:"), "{path}: {r}");
            }
            // hyper may refuse a target it cannot parse by closing.
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{path}: {e}"),
        }
    }
}

#[tokio::test]
async fn a_huge_login_body_is_refused_with_413() {
    let srv = TestServer::start().await;
    let mut b = Browser::open(&srv).await;
    let token = b.form_token("/login").await;
    let cookies = b.cookie_header();
    let size = 2_000_000;
    let head = format!("POST /login HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookies}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {size}\r\n\r\ncsrf={token}&user=");
    let (mut reader, mut writer) = tokio::io::split(b.into_connection().into_stream());
    // The body goes out while the answer is read: the server answers
    // without reading it all, and a client that only wrote would stall.
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'a'; 64 * 1024];
        let mut left = size - 6;
        while left > 0 {
            let n = left.min(chunk.len());
            writer.write_all(&chunk[..n]).await?;
            left -= n;
        }
        writer.flush().await
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer to the oversized POST");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    sender.abort();
}

#[tokio::test]
async fn oversized_heads_and_idle_connections_are_cut_off() {
    let srv = TestServerBuilder::new()
        .limit("https", "pre_auth_timeout = \"1s\"")
        .start()
        .await;
    // A head over 16 KiB: refused by the HTTP layer, never handled.
    let mut c = https(&srv).await;
    let big = "a".repeat(20 * 1024);
    let req = format!("GET /login HTTP/1.1\r\nHost: {HOST}\r\nX-Filler: {big}\r\n\r\n");
    c.send_raw(req.as_bytes()).await.unwrap();
    let r = c.read_response(false).await.unwrap();
    assert_eq!(r.status, 431, "{r}");
    // A kept-alive connection that sends nothing more is closed after
    // the head timeout, and so is one that dribbles a head.
    let mut idle = https(&srv).await;
    let r = idle.request("GET", "/login", HOST, &[], b"").await.unwrap();
    assert_eq!(r.status, 200);
    let started = Instant::now();
    assert!(
        idle.is_closed(Duration::from_secs(5)).await,
        "idle connection kept"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let mut slow = https(&srv).await;
    slow.send_raw(b"GET /login HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let _ = slow.send_raw(b"X-Slow: 1\r\n").await;
    }
    assert!(
        slow.is_closed(Duration::from_secs(5)).await,
        "dribbling head kept"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_closes_kept_alive_connections_at_once() {
    let srv = TestServer::start().await;
    let mut c = https(&srv).await;
    let r = c.request("GET", "/login", HOST, &[], b"").await.unwrap();
    assert_eq!(r.status, 200);
    let started = Instant::now();
    srv.stop().await;
    // The test server's grace period is 2 s: an idle HTTP connection must
    // not hold the shutdown that long.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(c.is_closed(Duration::from_secs(2)).await);
}
