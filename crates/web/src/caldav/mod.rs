//! CalDAV over HTTPS (RFC 4791 on WebDAV, RFC 4918; sync-collection, RFC
//! 6578; discovery, RFC 6764): the HTTP half. Bodies are parsed and
//! written by `postern-dav`, calendars kept by the store; this module
//! maps URLs to them, checks who asks, and chooses the status codes.
//!
//! # URLs
//! - `/.well-known/caldav`: 301 to `/dav/` whatever the method (RFC 6764
//!   §5; some clients PROPFIND it and follow the redirect).
//! - `/dav/`: the root; its `current-user-principal` (RFC 5397) names
//!   the principal of whoever logged in.
//! - `/dav/principals/{user}/`: the principal; `calendar-home-set` points
//!   to the home.
//! - `/dav/calendars/{user}/`: the calendar home; Depth 1 lists the
//!   calendars. A home without any calendar gets `default` ("Calendar")
//!   the first time it is listed, so a new account works at once.
//! - `/dav/calendars/{user}/{calendar}/`: a calendar collection.
//! - `/dav/calendars/{user}/{calendar}/{object}`: a calendar object
//!   resource (one iCalendar object).
//!
//! `{user}` is the account's address. Every request but the well-known
//! redirect logs in with HTTP Basic (RFC 7617; the listener is TLS only,
//! so the password never crosses in clear), through the same throttle as
//! IMAP and SMTP. A path naming another account answers 404 like one that
//! does not exist: nothing tells a user what others have.
//!
//! # Layout
//! - this file: routing, login, path parsing, shared answers.
//! - `props`: PROPFIND, PROPPATCH, DELETE of a calendar.
//! - `mkcalendar`: MKCALENDAR and extended MKCOL (RFC 5689), with the
//!   components the calendar takes.
//! - `privileges`: what the user may do (`current-user-privilege-set`).
//! - `object`: GET, HEAD, PUT, DELETE of a calendar object.
//! - `report`: calendar-query, calendar-multiget, sync-collection.

mod mkcalendar;
mod object;
mod privileges;
mod props;
mod report;

use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine as _;
use postern_dav::Condition;
use postern_store::{Account, Calendar, Store, StoreError, StoreResult};

use crate::{AppState, Client};

/// The prefix of every CalDAV URL.
const ROOT: &str = "/dav/";

/// What `DAV:` compliance classes and methods we offer (RFC 4918 §10.1,
/// RFC 4791 §5.1): class 1 and 3 (no locks, so not 2), calendar-access.
const DAV_CLASSES: &str = "1, 3, calendar-access";
const ALLOW: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCALENDAR, MKCOL, REPORT";

const XML: &str = "application/xml; charset=utf-8";

/// The CalDAV routes. Bodies are bounded by `[caldav] max_request_size`
/// (`Settings::caldav_max_request`), which [`dav`] applies itself: axum's
/// default limit only binds extractors this module does not use.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/caldav", any(well_known))
        .route("/.well-known/caldav/", any(well_known))
        .route("/dav", any(dav))
        .route("/dav/", any(dav))
        .route("/dav/{*rest}", any(dav))
}

/// RFC 6764 §5: the well-known URI redirects to the context path (and so
/// does a DAV request to `/`, where clients given the bare server URL
/// start).
pub async fn well_known(req: Request) -> Response {
    let redirect = (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, ROOT)]).into_response();
    early(redirect, req.into_body()).await
}

/// How much of an unwanted body is read and dropped before an early
/// answer (a PROPFIND is a few hundred octets).
const EARLY_DRAIN: usize = 64 * 1024;

/// An answer given without using the request's body (401, a redirect, a
/// 404): the body is read and dropped first, so that the connection stays
/// usable and the client, still sending, is not reset by a close with
/// unread data, which can destroy the answer in flight. A body larger
/// than [`EARLY_DRAIN`] is not read further; the connection is then closed
/// after the answer.
async fn early(mut response: Response, body: Body) -> Response {
    if axum::body::to_bytes(body, EARLY_DRAIN).await.is_err() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A resource a CalDAV path names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Root,
    Principal(String),
    Home(String),
    Calendar(String, String),
    Object(String, String, String),
}

impl Target {
    /// The user the path belongs to (none for the root).
    fn user(&self) -> Option<&str> {
        match self {
            Self::Root => None,
            Self::Principal(u) | Self::Home(u) | Self::Calendar(u, _) | Self::Object(u, _, _) => {
                Some(u)
            }
        }
    }
}

/// Parses a request path; `None` for anything that is not one of ours.
/// Segments are percent-decoded (RFC 3986 §2.1); a trailing slash on a
/// collection is optional.
fn parse_target(path: &str) -> Option<Target> {
    let rest = path.strip_prefix("/dav")?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let trimmed = rest.strip_suffix('/').unwrap_or(rest);
    if trimmed.is_empty() {
        return Some(Target::Root);
    }
    let segs: Option<Vec<String>> = trimmed.split('/').map(decode_segment).collect();
    let segs = segs?;
    if segs.iter().any(String::is_empty) {
        return None;
    }
    let object_slash = rest.ends_with('/');
    match segs.as_slice() {
        [kind, user] if kind == "principals" => Some(Target::Principal(user.clone())),
        [kind, user] if kind == "calendars" => Some(Target::Home(user.clone())),
        [kind, user, cal] if kind == "calendars" => {
            Some(Target::Calendar(user.clone(), cal.clone()))
        }
        [kind, user, cal, obj] if kind == "calendars" && !object_slash => {
            Some(Target::Object(user.clone(), cal.clone(), obj.clone()))
        }
        _ => None,
    }
}

/// Percent-decodes one path segment; `None` for a bad escape or bytes
/// that are not UTF-8.
fn decode_segment(seg: &str) -> Option<String> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The paths of a user's resources (decoded; the XML writer encodes).
fn principal_path(user: &str) -> String {
    format!("{ROOT}principals/{user}/")
}

fn home_path(user: &str) -> String {
    format!("{ROOT}calendars/{user}/")
}

fn calendar_path(user: &str, cal: &str) -> String {
    format!("{ROOT}calendars/{user}/{cal}/")
}

fn object_path(user: &str, cal: &str, obj: &str) -> String {
    format!("{ROOT}calendars/{user}/{cal}/{obj}")
}

/// One authenticated request, ready for a method's handler.
struct Dav {
    state: AppState,
    account: Account,
    target: Target,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Every request under `/dav`.
async fn dav(
    State(state): State<AppState>,
    Extension(client): Extension<Client>,
    req: Request,
) -> Response {
    let Some(account) = login(&state, &client, req.headers()).await else {
        return early(unauthorized(), req.into_body()).await;
    };
    let method = req.method().as_str().to_owned();
    let Some(target) = parse_target(req.uri().path()) else {
        return early(status(StatusCode::NOT_FOUND), req.into_body()).await;
    };
    // The path's user must be the one logged in; 404, not 403, so that a
    // user learns nothing about other accounts.
    if target
        .user()
        .is_some_and(|u| !u.eq_ignore_ascii_case(&account.address))
    {
        return early(status(StatusCode::NOT_FOUND), req.into_body()).await;
    }
    let limit = state.settings.caldav_max_request;
    // A declared length over the limit is refused before reading any of
    // it (RFC 9110 §15.5.14), and the connection closed after.
    if content_length(req.headers()).is_some_and(|n| n > limit) {
        return too_large(limit);
    }
    let (parts, body) = req.into_parts();
    // The body is read only after the login: a stranger cannot make us
    // buffer megabytes. A chunked body is cut off at the limit: the rest
    // is never read, so the connection closes after the answer.
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let body = match axum::body::to_bytes(body, cap).await {
        Ok(b) => b.to_vec(),
        Err(_) => return too_large(limit),
    };
    let req = Dav {
        state,
        account,
        target,
        headers: parts.headers,
        body,
    };
    dispatch(&method, req).await
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// 413, saying what the limit is and where the administrator sets it;
/// the connection closes after it, the body being left unread.
fn too_large(limit: u64) -> Response {
    let msg = format!(
        "the request body is over {limit} octets, the server's [caldav] max_request_size\n"
    );
    let mut r = text(StatusCode::PAYLOAD_TOO_LARGE, msg);
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

async fn dispatch(method: &str, req: Dav) -> Response {
    match method {
        "OPTIONS" => options(),
        "PROPFIND" => props::propfind(req).await,
        "PROPPATCH" => props::proppatch(req).await,
        "MKCALENDAR" => mkcalendar::mkcalendar(req).await,
        "MKCOL" => mkcalendar::mkcol(req).await,
        "REPORT" => report::report(req).await,
        "GET" | "HEAD" => object::get(req).await,
        "PUT" => object::put(req).await,
        "DELETE" => match req.target {
            Target::Calendar(..) => props::delete_calendar(req).await,
            _ => object::delete(req).await,
        },
        _ => {
            let mut r = status(StatusCode::METHOD_NOT_ALLOWED);
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
            r
        }
    }
}

/// RFC 4918 §10.1 and RFC 4791 §5.1: the DAV header says what we speak.
fn options() -> Response {
    (
        StatusCode::OK,
        [("dav", DAV_CLASSES), ("allow", ALLOW)],
        Body::empty(),
    )
        .into_response()
}

/// HTTP Basic (RFC 7617): `user:password`, base64, UTF-8.
async fn login(state: &AppState, client: &Client, headers: &HeaderMap) -> Option<Account> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    // RFC 7617 §2: the user-id cannot contain a colon; the password can.
    let (user, password) = decoded.split_once(':')?;
    state
        .accounts
        .password_login(client.peer.ip(), user.to_owned(), password.to_owned())
        .await
}

/// RFC 7617 §2.1: the realm, and that credentials are UTF-8.
fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"Postern\", charset=\"UTF-8\"",
        )],
        "log in with your mail address and password\n",
    )
        .into_response()
}

/// A status with no body.
fn status(code: StatusCode) -> Response {
    (code, Body::empty()).into_response()
}

/// A plain-text answer, for people reading a client's log.
fn text(code: StatusCode, msg: String) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

/// An XML answer (207 bodies, precondition `error` bodies).
fn xml(code: StatusCode, body: Vec<u8>) -> Response {
    (code, [(header::CONTENT_TYPE, XML)], body).into_response()
}

/// A failed precondition (RFC 4918 §16, RFC 4791 §1.3): 403 unless said.
fn condition(code: StatusCode, c: &Condition) -> Response {
    xml(code, c.to_bytes())
}

/// Runs a store call on a blocking thread.
async fn call<T, F>(state: &AppState, f: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
{
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
        Ok(r) => r,
        Err(e) => Err(StoreError::Database(format!("store task failed: {e}"))),
    }
}

/// The answer to a store error no handler treats specially.
fn failure(account: &Account, e: StoreError) -> Response {
    match e {
        StoreError::NotFound { .. } => status(StatusCode::NOT_FOUND),
        StoreError::Invalid { .. } => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
        StoreError::PreconditionFailed { .. } => status(StatusCode::PRECONDITION_FAILED),
        // RFC 4918 §11.5: the account is over its quota.
        StoreError::QuotaExceeded { .. } => {
            text(StatusCode::INSUFFICIENT_STORAGE, format!("{e}\n"))
        }
        e => {
            tracing::error!(error = %e, user = %account.address, "CalDAV store call failed; check the store");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server could not complete the request; try again later\n".to_owned(),
            )
        }
    }
}

/// The account's calendar of this name (only its own: the id comes from
/// the login), or the answer to give.
async fn own_calendar(req: &Dav, name: &str) -> Result<Calendar, Response> {
    let id = req.account.id;
    let name = name.to_owned();
    match call(&req.state, move |s| s.calendar(id, &name)).await {
        Ok(Some(cal)) if cal.account == id => Ok(cal),
        Ok(_) => Err(status(StatusCode::NOT_FOUND)),
        Err(e) => Err(failure(&req.account, e)),
    }
}

#[cfg(test)]
mod tests;
