//! The web calendar: month, week and day views, an agenda, and the event
//! form, over the same store calendars CalDAV serves, so an event made
//! here is in every CalDAV client at its next sync and the reverse.
//!
//! # URLs
//! - `GET /calendar`: the week of today.
//! - `GET /calendar/{month,week,day,agenda}?date=YYYY-MM-DD`: the views
//!   (the agenda lists 30 days from the date).
//! - `GET|POST /calendar/new`: the form for a new event (`?date=` and
//!   `?time=HH:MM` preset its start).
//! - `GET|POST /calendar/event/{calendar}/{object}`: an event's form and
//!   its save (`?at=` names the occurrence that was clicked).
//! - `GET|POST /calendar/event/{calendar}/{object}/delete`: the
//!   confirmation, then the deletion of the series or one occurrence.
//! - `GET|POST /calendar/zone`: the time zone times are shown in;
//!   `GET /calendar/zone.js` presets it from the browser once.
//!
//! `{calendar}` and `{object}` are the store's names (the CalDAV URL
//! segments), percent-encoded, looked up in the session's own account
//! only: anything else is 404.
//!
//! # Layout
//! - [`views`]: the four views and the occurrences they show.
//! - [`edit`]: the event form, saving, deleting.
//! - [`zone`]: the reader's time zone (a cookie) and its script.
//! - [`form`]: the form's fields, checked.
//! - [`model`]: what the form can say about an event.
//! - [`ics`]: that as iCalendar, and edits of stored objects.
//! - [`grid`]: dates, weeks and months.

pub mod edit;
pub mod form;
pub mod grid;
pub mod ics;
pub mod model;
pub mod views;
pub mod zone;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use postern_store::{AccountId, Calendar, Store, StoreError, StoreResult};

use crate::AppState;

/// The event form is the largest body here: a long description.
const BODY_LIMIT: usize = 64 * 1024;

/// The calendar pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/calendar", get(views::week_of_today))
        .route("/calendar/month", get(views::month))
        .route("/calendar/week", get(views::week))
        .route("/calendar/day", get(views::day))
        .route("/calendar/agenda", get(views::agenda))
        .route("/calendar/new", get(edit::new_form).post(edit::create))
        .route(
            "/calendar/event/{calendar}/{object}",
            get(edit::edit_form).post(edit::save),
        )
        .route(
            "/calendar/event/{calendar}/{object}/delete",
            get(edit::confirm_delete).post(edit::delete),
        )
        .route("/calendar/zone", get(zone::page).post(zone::choose))
        .route("/calendar/zone.js", get(zone::script))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// The account's calendars; an account without any gets `default`
/// ("Calendar") first, as its first CalDAV listing would give it, so the
/// browser and every client share one calendar from the start.
pub(crate) fn calendars(store: &dyn Store, account: AccountId) -> StoreResult<Vec<Calendar>> {
    let cals = store.calendars(account)?;
    if !cals.is_empty() {
        return Ok(cals);
    }
    match store.create_calendar(account, "default", "Calendar", &[]) {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => store.calendars(account),
        Err(e) => Err(e),
    }
}

/// A calendar's name for people.
pub(crate) fn label(cal: &Calendar) -> String {
    match cal.display_name.trim() {
        "" => cal.name.clone(),
        name => name.to_owned(),
    }
}

/// One URL path segment: unreserved characters as they are, everything
/// else percent-encoded (RFC 3986 §2.3), so a name with `/` or `?` stays
/// one segment.
pub(crate) fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An event's page.
pub(crate) fn event_href(calendar: &str, object: &str) -> String {
    format!("/calendar/event/{}/{}", segment(calendar), segment(object))
}

/// A view's page for a date.
pub(crate) fn view_href(view: grid::View, date: chrono::NaiveDate) -> String {
    format!(
        "/calendar/{}?date={}",
        view.segment(),
        date.format("%Y-%m-%d")
    )
}

/// Now, as Unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What every calendar page shows around its content.
pub(crate) struct Frame {
    pub address: String,
    pub csrf: String,
    /// The zone times are shown in.
    pub zone: String,
    /// Whether the reader chose it (else the script may preset it).
    pub zone_chosen: bool,
    /// This page, for the zone form to come back to.
    pub back: String,
    /// The same, percent-encoded for a query.
    pub back_query: String,
}

impl Frame {
    pub fn new(session: &crate::session::SessionView, zone: &zone::Zone, back: String) -> Self {
        Self {
            address: session.address.clone(),
            csrf: session.csrf.to_hex(),
            zone: zone.name.clone(),
            zone_chosen: zone.chosen,
            back_query: segment(&back),
            back,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_one_segment() {
        assert_eq!(
            event_href("default", "a b/c?.ics"),
            "/calendar/event/default/a%20b%2Fc%3F.ics"
        );
        assert_eq!(segment("x@y.test"), "x@y.test");
    }

    #[test]
    fn an_account_gets_its_default_calendar_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = postern_store::SqliteStore::open(dir.path()).unwrap();
        store.add_domain("example.test").unwrap();
        let a = store.add_account("a@example.test", "x").unwrap();
        let first = calendars(&store, a.id).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].name, "default");
        assert_eq!(label(&first[0]), "Calendar");
        assert_eq!(calendars(&store, a.id).unwrap(), first);
    }
}
