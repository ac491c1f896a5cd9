//! The webmail scenarios: each client logs in once through the login form
//! (the pre-login CSRF cookie and field, then the session cookie), then
//! asks for pages of one folder's message list (`web-list`) or opens its
//! messages one after another (`web-open`), HTTP/1.1 kept alive on one TLS
//! connection. Every answer must be a 200 with the page's own marker, so a
//! lost session (a redirect to the login page) counts as an error, not as
//! a fast request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use tokio::time::sleep;

use crate::http::{self, Jar, Response};
use crate::pop3::TlsSummary;
use crate::scenario::{bounded, run_held, Gates, Outcome, Plan, Tally};

/// The pre-login cookie that carries the login form's CSRF token.
const LOGIN_COOKIE: &str = "__Host-postern-login";

/// The session cookie set by a successful login.
const SESSION_COOKIE: &str = "__Host-postern";

/// What a logged-in client repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebLoop {
    /// `GET /mail/{folder}?page=K`, K spread over every page.
    List,
    /// `GET /mail/{folder}/{uid}`, the UIDs spread over the folder.
    Open,
}

/// What every web client shares besides the plan.
#[derive(Debug, Clone)]
pub struct Settings {
    pub kind: WebLoop,
    /// The folder's name, as the webmail names it (`INBOX`).
    pub folder: String,
    /// The `Host` header: the certificate's name and the port.
    pub host: String,
}

/// Runs the scenario: logins first (not measured), then the loop.
pub async fn web(plan: Arc<Plan>, settings: Settings) -> anyhow::Result<Outcome> {
    let settings = Arc::new(settings);
    run_held(&plan, move |plan, n, gates| {
        client(plan, n, Arc::clone(&settings), gates)
    })
    .await
}

/// A browser of one: its connection (opened when needed, dropped when the
/// server closes it) and its cookies.
struct Browser {
    conn: Option<http::Conn>,
    jar: Jar,
}

impl Browser {
    async fn get(&mut self, plan: &Plan, s: &Settings, path: &str) -> anyhow::Result<Response> {
        self.send(plan, s, path, None).await
    }

    async fn send(
        &mut self,
        plan: &Plan,
        s: &Settings,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> anyhow::Result<Response> {
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => self
                .conn
                .insert(http::Conn::connect(&plan.target, &s.host).await?),
        };
        let answer = match form {
            Some(f) => conn.post_form(path, &self.jar, f).await,
            None => conn.get(path, &self.jar).await,
        };
        let r = match answer {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(e);
            }
        };
        self.jar.update(&r);
        if r.close {
            self.conn = None;
        }
        Ok(r)
    }

    fn tls(&self) -> Option<TlsSummary> {
        self.conn.as_ref().map(http::Conn::tls)
    }
}

/// A logged-in browser and what it learned of the folder.
struct Session {
    browser: Browser,
    /// The folder's path, `/mail/` and the name percent-encoded.
    path: String,
    /// Pages of the list.
    pages: u64,
    /// The highest UID (the newest message, first in the list).
    top_uid: u64,
}

/// GET /login, POST /login, GET /mail, then the folder's first page.
async fn log_in(plan: &Plan, s: &Settings, user: &str) -> anyhow::Result<Session> {
    let mut b = Browser {
        conn: None,
        jar: Jar::default(),
    };
    let r = b.get(plan, s, "/login").await?;
    expect_page(&r, "GET /login", "name=\"csrf\"")?;
    let csrf = hidden_field(&r.text(), "csrf").context("GET /login: no csrf field")?;
    if b.jar.get(LOGIN_COOKIE).is_none() {
        bail!("GET /login set no {LOGIN_COOKIE} cookie");
    }
    let form = [
        ("user", user),
        ("password", plan.password.as_str()),
        ("csrf", csrf.as_str()),
    ];
    let r = b.send(plan, s, "/login", Some(&form)).await?;
    if r.status != 303 || r.header("location") != Some("/mail") {
        bail!(
            "POST /login for {user}: status {}, not the redirect to /mail of a successful login (check the account and its password; the server's log says more)",
            r.status
        );
    }
    if b.jar.get(SESSION_COOKIE).is_none() {
        bail!("POST /login for {user}: no {SESSION_COOKIE} cookie");
    }
    let r = b.get(plan, s, "/mail").await?;
    expect_page(&r, "GET /mail", user)?;
    let path = folder_path(&s.folder);
    let r = b.get(plan, s, &format!("{path}?page=1")).await?;
    expect_page(&r, &format!("GET {path}"), "Page 1 of ")?;
    let text = r.text();
    let pages = number_after(&text, "Page 1 of ").context("the folder page shows no page count")?;
    let top_uid = number_after(&text, &format!("href=\"{path}/"))
        .with_context(|| format!("{}: the folder is empty", s.folder))?;
    Ok(Session {
        browser: b,
        path,
        pages,
        top_uid,
    })
}

/// One client: log in, meet the others, then the loop until the time or
/// the operations run out; after a failure, a pause and a new login.
async fn client(plan: Arc<Plan>, n: usize, s: Arc<Settings>, gates: Arc<Gates>) -> Tally {
    let user = plan.user(n);
    let mut tally = Tally::default();
    let mut session = match bounded(plan.op_timeout * 2, "login", log_in(&plan, &s, &user)).await {
        Ok(d) => Some(d),
        Err(e) => {
            tally.error(&e);
            None
        }
    };
    gates.logged_in.wait().await;
    let start = Instant::now();
    let mut next = 0u64;
    while start.elapsed() < plan.duration {
        let Some(sess) = session.as_mut() else {
            sleep(Duration::from_millis(100)).await;
            match bounded(plan.op_timeout * 2, "login", log_in(&plan, &s, &user)).await {
                Ok(d) => session = Some(d),
                Err(e) => tally.error(&e),
            }
            continue;
        };
        if !plan.take_op() {
            break;
        }
        // Client n takes items n, n + clients, n + 2 clients...: together
        // the clients go through every page or message in turn.
        let item = n as u64 + next * plan.clients as u64;
        next += 1;
        let (path, marker) = request(sess, s.kind, item);
        let t0 = Instant::now();
        let answer = bounded(
            plan.op_timeout,
            "request",
            sess.browser.get(&plan, &s, &path),
        )
        .await;
        match answer.and_then(|r| expect_page(&r, &format!("GET {path}"), &marker).map(|()| r)) {
            Ok(r) => tally.ok(t0.elapsed(), r.body.len() as u64),
            Err(e) => {
                tally.error(&e);
                session = None;
            }
        }
        if tally.tls.is_none() {
            tally.tls = session.as_ref().and_then(|s| s.browser.tls());
        }
    }
    gates.finished.wait().await;
    gates.measured.wait().await;
    tally
}

/// The path of item `item` and the text its page must contain.
fn request(sess: &Session, kind: WebLoop, item: u64) -> (String, String) {
    match kind {
        WebLoop::List => {
            let page = item % sess.pages + 1;
            (
                format!("{}?page={page}", sess.path),
                // The closing tag, so page 1 of 20 is not page 1 of 200.
                format!("Page {page} of {}</span>", sess.pages),
            )
        }
        WebLoop::Open => {
            let uid = item % sess.top_uid + 1;
            (
                format!("{}/{uid}", sess.path),
                "<dl class=\"headers\">".to_owned(),
            )
        }
    }
}

/// A 200 whose body holds `marker`; anything else is an error naming what
/// came instead.
fn expect_page(r: &Response, what: &str, marker: &str) -> anyhow::Result<()> {
    if r.status != 200 {
        let whither = r
            .header("location")
            .map(|l| format!(" to {l}"))
            .unwrap_or_default();
        return Err(anyhow!("{what}: status {}{whither}", r.status));
    }
    if !r.contains(marker) {
        return Err(anyhow!("{what}: the page lacks {marker:?}"));
    }
    Ok(())
}

/// The value of a hidden form field: `name="NAME" value="VALUE"`.
fn hidden_field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let value = &rest[rest.find("value=\"")? + 7..];
    Some(value[..value.find('"')?].to_owned())
}

/// The decimal number right after the first `prefix`.
fn number_after(text: &str, prefix: &str) -> Option<u64> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// `/mail/` and the folder's name as one path segment: unreserved octets
/// as they are, the rest `%XX` (RFC 3986 §2.3), as the webmail writes it.
fn folder_path(name: &str) -> String {
    let mut out = String::from("/mail/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_form_and_the_list_are_read() {
        let form = r#"<form method="post" action="/login">
<input type="hidden" name="csrf" value="00ff">"#;
        assert_eq!(hidden_field(form, "csrf").as_deref(), Some("00ff"));
        assert_eq!(hidden_field(form, "other"), None);
        let list =
            r#"<a href="/mail/INBOX/10000">Report</a> <span class="muted">Page 1 of 200</span>"#;
        assert_eq!(number_after(list, "Page 1 of "), Some(200));
        assert_eq!(number_after(list, "href=\"/mail/INBOX/"), Some(10_000));
        assert_eq!(number_after(list, "href=\"/mail/Sent/"), None);
        assert_eq!(folder_path("Archive/2026"), "/mail/Archive%2F2026");
    }

    #[test]
    fn clients_spread_over_pages_and_messages() {
        let sess = Session {
            browser: Browser {
                conn: None,
                jar: Jar::default(),
            },
            path: "/mail/INBOX".into(),
            pages: 200,
            top_uid: 10_000,
        };
        let (path, marker) = request(&sess, WebLoop::List, 200);
        assert_eq!(path, "/mail/INBOX?page=1");
        assert_eq!(marker, "Page 1 of 200</span>");
        assert_eq!(request(&sess, WebLoop::List, 199).0, "/mail/INBOX?page=200");
        assert_eq!(request(&sess, WebLoop::Open, 0).0, "/mail/INBOX/1");
        assert_eq!(request(&sess, WebLoop::Open, 10_000).0, "/mail/INBOX/1");
    }

    #[test]
    fn only_a_200_with_the_marker_counts() {
        let page = |status, body: &str, location: Option<&str>| Response {
            status,
            headers: location
                .map(|l| ("location".to_owned(), l.to_owned()))
                .into_iter()
                .collect(),
            body: body.as_bytes().to_vec(),
            close: false,
        };
        assert!(expect_page(
            &page(200, "x Page 2 of 9</span>", None),
            "GET",
            "Page 2 of 9</span>"
        )
        .is_ok());
        let e = expect_page(&page(303, "", Some("/login")), "GET /mail/INBOX", "Page")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "GET /mail/INBOX: status 303 to /login");
        assert!(expect_page(&page(200, "<h1>Log in</h1>", None), "GET", "Page").is_err());
    }
}
