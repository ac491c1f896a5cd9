//! The pages: login (password or client certificate), logout, and the
//! mail landing page (the folders). The mail pages themselves are in
//! [`crate::mail`].

use std::time::Instant;

use askama::Template;
use axum::extract::{Extension, Form, State};
use axum::http::header::{self, HeaderMap};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use postern_store::{Account, AccountId, SpecialUse, Store};
use serde::Deserialize;

use crate::csrf::Token;
use crate::mail::Frame;
use crate::security::refuse;
use crate::session::{cookie, session_cookie, set_cookie, Authed, CreateError, SESSION_COOKIE};
use crate::{AppState, Client};

/// The pre-login CSRF cookie (see [`crate::csrf`]).
pub const LOGIN_COOKIE: &str = "__Host-postern-login";

/// The one answer to every failed login, whatever failed (RFC 4954 §6 and
/// our rule everywhere: no answer tells whether an account exists).
pub const LOGIN_FAILED: &str = "Wrong e-mail address or password.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    hostname: &'a str,
    csrf: String,
    error: Option<&'a str>,
    /// The e-mail address of the connection's verified client certificate.
    certificate: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mail.html")]
struct MailPage<'a> {
    hostname: &'a str,
    frame: Frame,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    hostname: &'a str,
    title: &'a str,
    text: &'a str,
}

/// One row of the folder list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub name: String,
    /// Its page (`/mail/` and the name percent-encoded).
    pub href: String,
    pub unread: usize,
    pub total: usize,
    /// The last level of the name (`2026` of `Archive/2026`).
    pub label: String,
    /// Levels above it, for the indentation of the tree.
    pub depth: usize,
    /// `false` for a level that has folders below it but is no folder
    /// itself (`Projects` when only `Projects/Web` was created): shown in
    /// the tree, not openable (IMAP's `\NonExistent`, RFC 9051 §7.3.1).
    pub exists: bool,
}

/// A form that carries only its CSRF token. A missing field is an empty
/// token, refused like a wrong one.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `GET /`: the mail page for a logged-in browser, else the login page.
pub async fn root(State(state): State<AppState>, headers: HeaderMap) -> Redirect {
    match state.sessions.from_headers(&headers, Instant::now()) {
        Some(_) => Redirect::to("/mail"),
        None => Redirect::to("/login"),
    }
}

/// `GET /login`. The pre-login CSRF token comes from the cookie when the
/// browser has one, so reloading the page keeps it valid.
pub async fn login_form(
    State(state): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
) -> Response {
    if state
        .sessions
        .from_headers(&headers, Instant::now())
        .is_some()
    {
        return Redirect::to("/mail").into_response();
    }
    let (token, fresh) = match login_token(&headers) {
        Some(t) => (t, false),
        None => match Token::random() {
            Some(t) => (t, true),
            None => return unavailable(&state),
        },
    };
    let mut response = login_page(&state, &client, token, None);
    if fresh {
        append_cookie(
            &mut response,
            &set_cookie(LOGIN_COOKIE, &token.to_hex(), None),
        );
    }
    response
}

/// `POST /login`. A wrong token is a forged form (403); a failed login is
/// the login page again, the same bytes whatever failed, sent only after
/// the throttle's delay.
pub async fn login(
    State(state): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(token) = login_token(&headers).filter(|t| t.matches(&form.csrf)) else {
        return refuse(
            StatusCode::FORBIDDEN,
            "invalid form token; reload the login page\n",
        );
    };
    let ip = client.peer.ip();
    match state
        .accounts
        .password_login(ip, form.user, form.password)
        .await
    {
        Some(account) => open_session(&state, &account),
        None => login_page(&state, &client, token, Some(LOGIN_FAILED)),
    }
}

/// `POST /login/certificate`: the connection's verified client
/// certificate names the account (as SASL EXTERNAL does).
pub async fn certificate_login(
    State(state): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(token) = login_token(&headers).filter(|t| t.matches(&form.csrf)) else {
        return refuse(
            StatusCode::FORBIDDEN,
            "invalid form token; reload the login page\n",
        );
    };
    let account = match client.tls.client.clone() {
        Some(identity) => {
            state
                .accounts
                .certificate_login(client.peer.ip(), identity)
                .await
        }
        None => None,
    };
    match account {
        Some(account) => open_session(&state, &account),
        None => login_page(&state, &client, token, Some(LOGIN_FAILED)),
    }
}

/// `POST /logout`: the session ends on the server and the cookie is
/// deleted.
pub async fn logout(
    State(state): State<AppState>,
    Authed(session): Authed,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session.csrf.matches(&form.csrf) {
        return refuse(
            StatusCode::FORBIDDEN,
            "invalid form token; reload the page\n",
        );
    }
    state.sessions.remove(&session.token);
    tracing::info!(user = %session.address, "web logout");
    let mut response = Redirect::to("/login").into_response();
    append_cookie(&mut response, &set_cookie(SESSION_COOKIE, "", Some(0)));
    response
}

/// `GET /mail`: the account's folders with their unread counts.
pub async fn mail(State(state): State<AppState>, Authed(session): Authed) -> Response {
    let store = state.store.clone();
    let account = session.account;
    let folders = tokio::task::spawn_blocking(move || folders(store.as_ref(), account)).await;
    let folders = match folders {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            tracing::error!(error = %e, user = %session.address, "cannot list the folders; check the store");
            return internal_error(&state);
        }
        Err(e) => {
            tracing::error!(error = %e, "folder listing task failed");
            return internal_error(&state);
        }
    };
    render(&MailPage {
        hostname: &state.settings.hostname,
        frame: Frame::new(&session, folders),
    })
}

/// Anything else.
pub async fn not_found() -> Response {
    refuse(StatusCode::NOT_FOUND, "not found\n")
}

/// An account's folders, INBOX first, then by name.
pub fn folders(store: &dyn Store, account: AccountId) -> postern_store::StoreResult<Vec<Folder>> {
    let boxes = store.mailboxes(account)?;
    // Counted by the store: the folder list is on every page, and loading
    // each folder's messages to count them cost more than the page.
    let counts = store.mailbox_counts(account)?;
    let mut out: Vec<Folder> = boxes
        .into_iter()
        .map(|m| {
            let mut f = tree_entry(&m.name, true);
            if let Some(c) = counts.iter().find(|c| c.mailbox == m.id) {
                f.unread = c.unseen;
                f.total = c.total;
            }
            if m.special_use == Some(SpecialUse::Inbox) {
                f.depth = 0;
            }
            f
        })
        .collect();
    // Levels that are no folder themselves, so the tree has no gaps.
    let mut missing: Vec<String> = Vec::new();
    for f in &out {
        let mut parent = f.name.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            if !out.iter().any(|o| o.name == up) && !missing.iter().any(|m| m == up) {
                missing.push(up.to_owned());
            }
            parent = up;
        }
    }
    out.extend(missing.iter().map(|name| tree_entry(name, false)));
    // The INBOX first, then the tree in order of its levels (so
    // `Projects/Web` follows `Projects`, not `Projects-old`).
    out.sort_by(|a, b| {
        let key = |f: &Folder| {
            (
                !f.name.eq_ignore_ascii_case("INBOX"),
                f.name.split('/').map(str::to_owned).collect::<Vec<_>>(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(out)
}

pub(crate) fn tree_entry(name: &str, exists: bool) -> Folder {
    Folder {
        href: if exists {
            crate::mail::folder_href(name)
        } else {
            String::new()
        },
        label: name.rsplit('/').next().unwrap_or(name).to_owned(),
        depth: name.matches('/').count(),
        name: name.to_owned(),
        unread: 0,
        total: 0,
        exists,
    }
}

fn login_token(headers: &HeaderMap) -> Option<Token> {
    Token::from_hex(cookie(headers, LOGIN_COOKIE)?)
}

fn login_page(state: &AppState, client: &Client, csrf: Token, error: Option<&str>) -> Response {
    let certificate = client
        .tls
        .client
        .as_ref()
        .and_then(|c| c.emails.first())
        .map(String::as_str);
    render(&LoginPage {
        hostname: &state.settings.hostname,
        csrf: csrf.to_hex(),
        error,
        certificate,
    })
}

/// A new session: its cookie, the pre-login cookie deleted, on to the
/// mail page. The token is new at every login, so a token planted before
/// login (session fixation) is worth nothing.
fn open_session(state: &AppState, account: &Account) -> Response {
    match state.sessions.create(account, Instant::now()) {
        Ok(session) => {
            let mut response = Redirect::to("/mail").into_response();
            append_cookie(&mut response, &session_cookie(&session));
            append_cookie(&mut response, &set_cookie(LOGIN_COOKIE, "", Some(0)));
            response
        }
        Err(CreateError::Full) => {
            tracing::warn!("web login refused: the session table is full");
            unavailable(state)
        }
        Err(CreateError::NoRandomness) => unavailable(state),
    }
}

fn append_cookie(response: &mut Response, value: &str) {
    match value.parse() {
        Ok(v) => {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        // Our cookies are hex and fixed attributes: always valid.
        Err(e) => tracing::error!(error = %e, "unusable Set-Cookie value"),
    }
}

pub(crate) fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed to render");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

pub(crate) fn message(state: &AppState, status: StatusCode, title: &str, text: &str) -> Response {
    let mut r = render(&MessagePage {
        hostname: &state.settings.hostname,
        title,
        text,
    });
    *r.status_mut() = status;
    r
}

fn unavailable(state: &AppState) -> Response {
    message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
        "The server cannot open a session right now. Please try again in a few minutes.",
    )
}

pub(crate) fn internal_error(state: &AppState) -> Response {
    message(
        state,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not show this page; the administrator will find the reason in its log.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_store::SqliteStore;

    #[test]
    fn the_folder_tree_has_no_gaps_and_keeps_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        store.add_domain("example.test").unwrap();
        let alice = store.add_account("alice@example.test", "x").unwrap();
        for name in ["Projects/Web/2026", "Projects-old"] {
            store.create_mailbox(alice.id, name, None).unwrap();
        }
        let tree = folders(&store, alice.id).unwrap();
        let names: Vec<(&str, usize, bool)> = tree
            .iter()
            .map(|f| (f.name.as_str(), f.depth, f.exists))
            .collect();
        let at = |n: &str| names.iter().position(|x| x.0 == n).unwrap();
        assert_eq!(names[0].0, "INBOX");
        assert!(names.contains(&("Projects", 0, false)), "{names:?}");
        assert!(names.contains(&("Projects/Web", 1, false)), "{names:?}");
        assert!(names.contains(&("Projects/Web/2026", 2, true)), "{names:?}");
        assert!(at("Projects") < at("Projects/Web"));
        assert!(at("Projects/Web") < at("Projects/Web/2026"));
        assert!(at("Projects/Web/2026") < at("Projects-old"), "{names:?}");
        let leaf = &tree[at("Projects/Web/2026")];
        assert_eq!(leaf.label, "2026");
        assert_eq!(leaf.href, "/mail/Projects%2FWeb%2F2026");
        assert!(tree[at("Projects")].href.is_empty());
    }
}
