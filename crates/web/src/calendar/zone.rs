//! The time zone the calendar shows times in: chosen on `/calendar/zone`
//! and kept in a cookie; UTC until chosen. Pages carry a small form that
//! `/calendar/zone.js` (a same-origin script: the security policy allows
//! no inline one) submits once with the browser's own zone, so a reader
//! with JavaScript sees local times from the first page; without it the
//! choice is a select away.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Query, State};
use axum::http::header::{self, HeaderMap};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono_tz::Tz;
use serde::Deserialize;

use super::form::{known_zone, zones};
use super::Frame;
use crate::pages::render;
use crate::security::refuse;
use crate::session::{cookie, set_cookie, Authed};
use crate::AppState;

/// The cookie. `__Host-` as the session's (RFC 6265bis §4.1.3.2): no
/// other host can set it.
pub const COOKIE: &str = "__Host-postern-tz";

/// A year: the choice outlives sessions.
const COOKIE_AGE: u64 = 365 * 24 * 3600;

/// The reader's zone.
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    pub tz: Tz,
    pub chosen: bool,
}

impl Zone {
    /// From the request's cookie; UTC when there is none or it names no
    /// zone we know.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        match cookie(headers, COOKIE).and_then(|v| Some((v, v.parse::<Tz>().ok()?))) {
            Some((name, tz)) => Self {
                name: name.to_owned(),
                tz,
                chosen: true,
            },
            None => Self {
                name: "UTC".into(),
                tz: chrono_tz::UTC,
                chosen: false,
            },
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ZoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    back: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct BackQuery {
    #[serde(default)]
    back: String,
}

#[derive(Template)]
#[template(path = "calendar_zone.html")]
struct ZonePage<'a> {
    hostname: &'a str,
    frame: Frame,
    zones: &'static [&'static str],
}

/// `GET /calendar/zone`.
pub async fn page(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    query: Result<Query<BackQuery>, QueryRejection>,
) -> Response {
    let back = query.map(|q| q.0.back).unwrap_or_default();
    let zone = Zone::from_headers(&headers);
    render(&ZonePage {
        hostname: &state.settings.hostname,
        frame: Frame::new(&session, &zone, safe_back(&back).to_owned()),
        zones: zones(),
    })
}

/// `POST /calendar/zone`: sets the cookie and goes back to the page the
/// form was on.
pub async fn choose(Authed(session): Authed, Form(form): Form<ZoneForm>) -> Response {
    if !session.csrf.matches(&form.csrf) {
        return refuse(
            StatusCode::FORBIDDEN,
            "invalid form token; reload the page\n",
        );
    }
    let zone = form.zone.trim();
    if !known_zone(zone) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unknown time zone; choose one from the list\n",
        );
    }
    let mut r = Redirect::to(safe_back(&form.back)).into_response();
    if let Ok(v) = set_cookie(COOKIE, zone, Some(COOKIE_AGE)).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// Only our own calendar pages: a path, no scheme or host, nothing that
/// a browser could read as another site (`//host`, `/\host`).
fn safe_back(back: &str) -> &str {
    let ok = back.starts_with("/calendar")
        && !back.contains("//")
        && !back.contains('\\')
        && back
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'<' && b != b'>');
    if ok {
        back
    } else {
        "/calendar"
    }
}

/// Submits the page's zone form once with the browser's zone
/// (`Intl.DateTimeFormat`), when the reader has not chosen one. Tried
/// once per browser session, so a browser that refuses the cookie does
/// not reload forever.
const SCRIPT: &str = r#""use strict";
(function () {
  var form = document.getElementById("zone-preset");
  if (!form || form.getAttribute("data-chosen") === "true") { return; }
  try {
    if (window.sessionStorage.getItem("postern-zone-tried")) { return; }
    window.sessionStorage.setItem("postern-zone-tried", "1");
  } catch (e) { return; }
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  if (zone === "" || zone === "UTC" || zone === "Etc/UTC") { return; }
  form.elements.zone.value = zone;
  form.submit();
})();
"#;

/// `GET /calendar/zone.js`.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_calendar_pages_are_gone_back_to() {
        assert_eq!(
            safe_back("/calendar/week?date=2026-11-23"),
            "/calendar/week?date=2026-11-23"
        );
        assert_eq!(safe_back("https://evil.test/"), "/calendar");
        assert_eq!(safe_back("/calendar//evil.test"), "/calendar");
        assert_eq!(safe_back("/calendar/\\evil"), "/calendar");
        assert_eq!(safe_back("/mail"), "/calendar");
        assert_eq!(safe_back("/calendar\r\nX: y"), "/calendar");
    }

    #[test]
    fn the_cookie_names_a_zone_or_utc_is_used() {
        let mut h = HeaderMap::new();
        assert_eq!(Zone::from_headers(&h).name, "UTC");
        assert!(!Zone::from_headers(&h).chosen);
        h.insert(
            header::COOKIE,
            format!("{COOKIE}=Europe/Berlin").parse().unwrap(),
        );
        let z = Zone::from_headers(&h);
        assert!(z.chosen);
        assert_eq!(z.tz, chrono_tz::Europe::Berlin);
        h.insert(
            header::COOKIE,
            format!("{COOKIE}=Mars/Base").parse().unwrap(),
        );
        assert_eq!(Zone::from_headers(&h).name, "UTC");
    }
}
