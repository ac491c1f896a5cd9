//! The event form: new events, edits, deletion (the series or one
//! occurrence), and moving an event to another calendar.
//!
//! Every write is conditional on the version the form was filled from:
//! the form carries the object's ETag and the store checks it in the
//! writing transaction (`Precondition::EtagMatches`, RFC 9110 §13.1.1),
//! so a change made meanwhile by a CalDAV client is never overwritten;
//! the user is told to reload instead. After each write the organizer's
//! invitations go out (`mail::invite::organizer_changed`); their failure
//! is shown, and the write stands.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveTime, Timelike};
use postern_store::{
    Account, Calendar, CalendarObject, ComponentKind, NewCalendarObject, Precondition, Store,
    StoreError, StoreResult,
};
use serde::Deserialize;

use super::form::{zones, EventForm};
use super::grid::{self, View, WEEKDAYS};
use super::zone::Zone;
use super::{calendars, event_href, ics, label, now, view_href, Frame};
use crate::mail::{blocking, failure};
use crate::pages::{self, render};
use crate::security::refuse;
use crate::session::{Authed, SessionView};
use crate::{AppState, Client};

/// What a user is told when the event changed since the form was filled.
pub const CHANGED_ELSEWHERE: &str = "This event was changed elsewhere (in another window or by a calendar program) after you opened it, so your changes were not saved. Reload the event to see its current version, then make your changes again.";

/// `?date=&time=` of a new event.
#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
}

/// `?at=`: the occurrence that was clicked (its RECURRENCE-ID, Unix
/// seconds).
#[derive(Debug, Default, Deserialize)]
pub struct AtQuery {
    #[serde(default)]
    at: String,
}

/// The deletion form.
#[derive(Debug, Default, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    etag: String,
    /// `series` or `occurrence`.
    #[serde(default)]
    scope: String,
    #[serde(default)]
    at: String,
}

pub struct CalOption {
    pub name: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "calendar_event.html")]
struct EventPage<'a> {
    hostname: &'a str,
    frame: Frame,
    heading: String,
    action: String,
    form: EventForm,
    calendars: Vec<CalOption>,
    zones: &'static [&'static str],
    weekdays: Vec<(&'static str, String)>,
    error: Option<String>,
    delete_href: Option<String>,
    reload_href: Option<String>,
}

#[derive(Template)]
#[template(path = "calendar_delete.html")]
struct DeletePage<'a> {
    hostname: &'a str,
    frame: Frame,
    action: String,
    back: String,
    title: String,
    etag: String,
    /// The occurrence, when one of a recurring event was clicked.
    at: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "calendar_notice.html")]
struct NoticePage<'a> {
    hostname: &'a str,
    frame: Frame,
    heading: &'a str,
    text: String,
    next: String,
}

/// Where a form posts, and what it edits.
enum Mode {
    New,
    Edit {
        calendar: String,
        object: String,
        at: Option<i64>,
    },
}

impl Mode {
    fn action(&self) -> String {
        match self {
            Self::New => "/calendar/new".into(),
            Self::Edit {
                calendar,
                object,
                at,
            } => with_at(event_href(calendar, object), *at),
        }
    }
}

fn with_at(href: String, at: Option<i64>) -> String {
    match at {
        Some(at) => format!("{href}?at={at}"),
        None => href,
    }
}

fn parse_at(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

fn bad_token() -> Response {
    refuse(
        StatusCode::FORBIDDEN,
        "invalid form token; reload the page\n",
    )
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    state: &AppState,
    session: &SessionView,
    zone: &Zone,
    cals: &[Calendar],
    form: EventForm,
    mode: &Mode,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let (heading, delete_href, reload_href) = match mode {
        Mode::New => ("New event".to_owned(), None, None),
        Mode::Edit {
            calendar,
            object,
            at,
        } => {
            let href = event_href(calendar, object);
            (
                format!("Edit {}", form.title),
                Some(with_at(format!("{href}/delete"), *at)),
                Some(with_at(href, *at)),
            )
        }
    };
    let mut r = render(&EventPage {
        hostname: &state.settings.hostname,
        frame: Frame::new(session, zone, mode.action()),
        heading,
        action: mode.action(),
        calendars: cals
            .iter()
            .filter(|c| c.components.contains(&ComponentKind::Event))
            .map(|c| CalOption {
                name: c.name.clone(),
                label: label(c),
            })
            .collect(),
        zones: zones(),
        weekdays: WEEKDAYS
            .iter()
            .map(|d| (grid::day_code(*d), d.to_string()))
            .collect(),
        form,
        error,
        delete_href,
        reload_href,
    });
    if r.status() == StatusCode::OK {
        *r.status_mut() = status;
    }
    r
}

async fn own_calendars(state: &AppState, session: &SessionView) -> Result<Vec<Calendar>, Response> {
    let account = session.account;
    blocking(state, &session.address, move |s| calendars(s, account)).await
}

/// `GET /calendar/new`.
pub async fn new_form(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    q: Result<Query<NewQuery>, QueryRejection>,
) -> Response {
    let zone = Zone::from_headers(&headers);
    let q = q.map(|q| q.0).unwrap_or_default();
    let date = grid::parse_date(&q.date).unwrap_or_else(|| super::views::today(&zone));
    let (h, m) = grid::parse_time(&q.time).unwrap_or((9, 0));
    let start = date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN));
    let cals = match own_calendars(&state, &session).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let first = default_calendar(&cals);
    let form = EventForm::new_event(start, &zone.name, &first);
    form_page(
        &state,
        &session,
        &zone,
        &cals,
        form,
        &Mode::New,
        None,
        StatusCode::OK,
    )
}

/// `default` if the account has it, else its first calendar of events.
fn default_calendar(cals: &[Calendar]) -> String {
    cals.iter()
        .find(|c| c.name == "default")
        .or_else(|| {
            cals.iter()
                .find(|c| c.components.contains(&ComponentKind::Event))
        })
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

/// `POST /calendar/new`.
pub async fn create(
    State(state): State<AppState>,
    Authed(session): Authed,
    Extension(account): Extension<Account>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Form(form): Form<EventForm>,
) -> Response {
    if !session.csrf.matches(&form.csrf) {
        return bad_token();
    }
    let zone = Zone::from_headers(&headers);
    let cals = match own_calendars(&state, &session).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let again = |form: EventForm, error: String, status| {
        form_page(
            &state,
            &session,
            &zone,
            &cals,
            form,
            &Mode::New,
            Some(error),
            status,
        )
    };
    let ev = match form.check() {
        Ok(ev) => ev,
        Err(e) => return again(form, e, StatusCode::BAD_REQUEST),
    };
    let Some(cal) = event_calendar(&cals, &form.calendar) else {
        return again(
            form,
            "Choose a calendar from the list.".into(),
            StatusCode::BAD_REQUEST,
        );
    };
    let Some(uid) = new_uid() else {
        return pages::internal_error(&state);
    };
    let text = match ics::create(&ev, &uid, &account.address, now()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, user = %session.address, "web calendar: a new event did not build");
            return pages::internal_error(&state);
        }
    };
    let name = format!("{uid}.ics");
    let written = put(
        &state,
        &session,
        cal.id,
        name,
        text.clone(),
        Precondition::MustNotExist,
    )
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(msg)) => return again(form, msg, StatusCode::CONFLICT),
        Err(r) => return r,
    }
    let next = view_href(View::Week, ev.when.start.date());
    after_write(
        &state,
        &session,
        &zone,
        &account,
        &client,
        None,
        Some(&text),
        next,
    )
    .await
}

fn event_calendar<'a>(cals: &'a [Calendar], name: &str) -> Option<&'a Calendar> {
    cals.iter()
        .find(|c| c.name == name && c.components.contains(&ComponentKind::Event))
}

/// A random UUID (RFC 9562 §5.4, version 4) from the system's CSPRNG.
fn new_uid() -> Option<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).ok()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Stores an object. `Ok(Err(sentence))` for what the user can act on
/// (a conflict, a full account); `Err(page)` for anything else.
async fn put(
    state: &AppState,
    session: &SessionView,
    calendar: postern_store::CalendarId,
    name: String,
    text: String,
    pre: Precondition,
) -> Result<Result<(), String>, Response> {
    let analyzed = match postern_dav::ical::analyze(text.as_bytes()) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, user = %session.address, "web calendar: an event written here fails the CalDAV checks");
            return Ok(Err(format!("The event cannot be stored: {e}.")));
        }
    };
    let store = state.store.clone();
    let done = tokio::task::spawn_blocking(move || {
        let new = NewCalendarObject {
            name: &name,
            uid: &analyzed.uid,
            component: ComponentKind::Event,
            data: text.as_bytes(),
            first_start: analyzed.first_start,
            last_end: analyzed.last_end,
        };
        store.put_calendar_object(calendar, &new, pre).map(drop)
    })
    .await;
    match done {
        Ok(Ok(())) => Ok(Ok(())),
        Ok(Err(e)) => user_error(state, session, e).await,
        Err(e) => {
            tracing::error!(error = %e, "web calendar store task failed");
            Err(pages::internal_error(state))
        }
    }
}

async fn user_error(
    state: &AppState,
    session: &SessionView,
    e: StoreError,
) -> Result<Result<(), String>, Response> {
    match e {
        StoreError::PreconditionFailed { .. } => Ok(Err(CHANGED_ELSEWHERE.into())),
        StoreError::UidConflict { .. } => Ok(Err(
            "That calendar already holds this event; choose another calendar.".into(),
        )),
        StoreError::QuotaExceeded { .. } => Ok(Err(
            "Your account is over its storage quota: delete some mail or events, or ask the administrator for more space.".into(),
        )),
        e => Err(failure(state, &session.address, e).await),
    }
}

/// Tells the attendees (if any), then goes on to `next`; a failure to
/// tell them is shown, the write stands.
#[allow(clippy::too_many_arguments)]
async fn after_write(
    state: &AppState,
    session: &SessionView,
    zone: &Zone,
    account: &Account,
    client: &Client,
    before: Option<&str>,
    after: Option<&str>,
    next: String,
) -> Response {
    match crate::mail::invite::organizer_changed(state, account, client, before, after).await {
        Ok(_) => Redirect::to(&next).into_response(),
        Err(text) => render(&NoticePage {
            hostname: &state.settings.hostname,
            frame: Frame::new(session, zone, next.clone()),
            heading: "Saved, but the invitations were not sent",
            text,
            next,
        }),
    }
}

/// The account's calendar `cal` and its object `obj`, with every calendar
/// (for the form's list); 404 for anything not the session's own.
async fn load(
    state: &AppState,
    session: &SessionView,
    cal: String,
    obj: String,
) -> Result<(Calendar, CalendarObject, Vec<Calendar>), Response> {
    let account = session.account;
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || load_in(store.as_ref(), account, &cal, &obj)).await {
        Ok(Ok(found)) => Ok(found),
        // The same answer for another account's event and for one that
        // is gone: nothing tells a user what others have.
        Ok(Err(StoreError::NotFound { .. } | StoreError::Invalid { .. })) => Err(pages::message(
            state,
            StatusCode::NOT_FOUND,
            "No such event",
            "There is no such event in your calendars. It may have been deleted in another window or by a calendar program; nothing was changed.",
        )),
        Ok(Err(e)) => Err(failure(state, &session.address, e).await),
        Err(e) => {
            tracing::error!(error = %e, "web calendar store task failed");
            Err(pages::internal_error(state))
        }
    }
}

fn load_in(
    s: &dyn Store,
    account: postern_store::AccountId,
    cal: &str,
    obj: &str,
) -> StoreResult<(Calendar, CalendarObject, Vec<Calendar>)> {
    let all = calendars(s, account)?;
    let not_found = || StoreError::NotFound {
        what: "the event".into(),
    };
    let cal = all
        .iter()
        .find(|c| c.name == cal && c.account == account)
        .cloned()
        .ok_or_else(not_found)?;
    let object = s.calendar_object(cal.id, obj)?.ok_or_else(not_found)?;
    if object.meta.component != ComponentKind::Event {
        return Err(not_found());
    }
    Ok((cal, object, all))
}

/// `GET /calendar/event/{calendar}/{object}`.
pub async fn edit_form(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    Path((cal, obj)): Path<(String, String)>,
    q: Result<Query<AtQuery>, QueryRejection>,
) -> Response {
    let zone = Zone::from_headers(&headers);
    let at = q.ok().and_then(|q| parse_at(&q.0.at));
    let (cal, object, all) = match load(&state, &session, cal, obj).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mode = Mode::Edit {
        calendar: cal.name.clone(),
        object: object.meta.name.clone(),
        at,
    };
    match ics::read(&object.data, &zone.name) {
        Ok(stored) => {
            let form = EventForm::from_event(&stored.event, &cal.name, &object.meta.etag);
            form_page(
                &state,
                &session,
                &zone,
                &all,
                form,
                &mode,
                None,
                StatusCode::OK,
            )
        }
        Err(e) => pages::message(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot edit this event",
            &e.to_string(),
        ),
    }
}

/// `POST /calendar/event/{calendar}/{object}`.
#[allow(clippy::too_many_arguments)]
pub async fn save(
    State(state): State<AppState>,
    Authed(session): Authed,
    Extension(account): Extension<Account>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Path((cal, obj)): Path<(String, String)>,
    q: Result<Query<AtQuery>, QueryRejection>,
    Form(form): Form<EventForm>,
) -> Response {
    if !session.csrf.matches(&form.csrf) {
        return bad_token();
    }
    let zone = Zone::from_headers(&headers);
    let at = q.ok().and_then(|q| parse_at(&q.0.at));
    let (cal, object, all) = match load(&state, &session, cal, obj).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mode = Mode::Edit {
        calendar: cal.name.clone(),
        object: object.meta.name.clone(),
        at,
    };
    let again = |form: EventForm, error: String, status| {
        form_page(
            &state,
            &session,
            &zone,
            &all,
            form,
            &mode,
            Some(error),
            status,
        )
    };
    if object.meta.etag != form.etag {
        return again(form, CHANGED_ELSEWHERE.into(), StatusCode::CONFLICT);
    }
    let stored = match ics::read(&object.data, &zone.name) {
        Ok(s) => s,
        Err(e) => return again(form, e.to_string(), StatusCode::UNPROCESSABLE_ENTITY),
    };
    let ev = match form.check_keeping(Some(&stored.event.when.zone)) {
        Ok(ev) => ev,
        Err(e) => return again(form, e, StatusCode::BAD_REQUEST),
    };
    let Some(target) = event_calendar(&all, &form.calendar).cloned() else {
        return again(
            form,
            "Choose a calendar from the list.".into(),
            StatusCode::BAD_REQUEST,
        );
    };
    let before = String::from_utf8_lossy(&object.data).into_owned();
    let text = match ics::edit(stored, &ev, &account.address, now()) {
        Ok(t) => t,
        Err(e) => return again(form, e.to_string(), StatusCode::UNPROCESSABLE_ENTITY),
    };
    let etag = Precondition::EtagMatches(form.etag.clone());
    let name = object.meta.name.clone();
    let written = if target.id == cal.id {
        put(&state, &session, cal.id, name, text.clone(), etag).await
    } else {
        move_to(&state, &session, &cal, &target, name, text.clone(), etag).await
    };
    match written {
        Ok(Ok(())) => {}
        Ok(Err(msg)) => return again(form, msg, StatusCode::CONFLICT),
        Err(r) => return r,
    }
    let next = view_href(View::Week, ev.when.start.date());
    after_write(
        &state,
        &session,
        &zone,
        &account,
        &client,
        Some(&before),
        Some(&text),
        next,
    )
    .await
}

/// Another calendar: the new copy first, then the old one removed if it
/// is still the version the form showed; if not, the copy goes again.
async fn move_to(
    state: &AppState,
    session: &SessionView,
    from: &Calendar,
    to: &Calendar,
    name: String,
    text: String,
    etag: Precondition,
) -> Result<Result<(), String>, Response> {
    let copied = put(
        state,
        session,
        to.id,
        name.clone(),
        text,
        Precondition::MustNotExist,
    )
    .await?;
    if let Err(msg) = copied {
        let msg = match msg.as_str() {
            CHANGED_ELSEWHERE => "That calendar already has an event stored under this name; choose another calendar.".into(),
            _ => msg,
        };
        return Ok(Err(msg));
    }
    let (from_id, to_id) = (from.id, to.id);
    let store = state.store.clone();
    let removed = tokio::task::spawn_blocking(move || {
        let r = store.delete_calendar_object(from_id, &name, etag);
        if r.is_err() {
            // Undo the copy: the old version stays the only one.
            let _ = store.delete_calendar_object(to_id, &name, Precondition::Any);
        }
        r
    })
    .await;
    match removed {
        Ok(Ok(())) => Ok(Ok(())),
        Ok(Err(e)) => user_error(state, session, e).await,
        Err(e) => {
            tracing::error!(error = %e, "web calendar store task failed");
            Err(pages::internal_error(state))
        }
    }
}

/// `GET /calendar/event/{calendar}/{object}/delete`.
pub async fn confirm_delete(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    Path((cal, obj)): Path<(String, String)>,
    q: Result<Query<AtQuery>, QueryRejection>,
) -> Response {
    let zone = Zone::from_headers(&headers);
    let at = q.ok().and_then(|q| parse_at(&q.0.at));
    let (cal, object, _) = match load(&state, &session, cal, obj).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let stored = ics::read(&object.data, &zone.name);
    let title = stored
        .as_ref()
        .map(|s| s.event.title.clone())
        .unwrap_or_else(|_| object.meta.name.clone());
    let recurs = stored.as_ref().is_ok_and(ics::Stored::recurs);
    let at = at.filter(|_| recurs).map(|at| {
        let zoned = stored.as_ref().is_ok_and(ics::Stored::zoned);
        let t = match zoned {
            true => grid::local(zone.tz, at),
            false => grid::utc_naive(at),
        };
        let label = match stored.as_ref().is_ok_and(|s| s.event.when.all_day) {
            true => grid::long_date(t.date()),
            false => format!(
                "{} at {:02}:{:02}",
                grid::long_date(t.date()),
                t.hour(),
                t.minute()
            ),
        };
        (at.to_string(), label)
    });
    let href = event_href(&cal.name, &object.meta.name);
    render(&DeletePage {
        hostname: &state.settings.hostname,
        frame: Frame::new(&session, &zone, format!("{href}/delete")),
        action: format!("{href}/delete"),
        back: href,
        title,
        etag: object.meta.etag,
        at,
    })
}

/// `POST /calendar/event/{calendar}/{object}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Authed(session): Authed,
    Extension(account): Extension<Account>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Path((cal, obj)): Path<(String, String)>,
    Form(form): Form<DeleteForm>,
) -> Response {
    if !session.csrf.matches(&form.csrf) {
        return bad_token();
    }
    let zone = Zone::from_headers(&headers);
    let (cal, object, _) = match load(&state, &session, cal, obj).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let back = event_href(&cal.name, &object.meta.name);
    let conflict = |text: String| {
        let mut r = render(&NoticePage {
            hostname: &state.settings.hostname,
            frame: Frame::new(&session, &zone, back.clone()),
            heading: "Not deleted",
            text,
            next: back.clone(),
        });
        *r.status_mut() = StatusCode::CONFLICT;
        r
    };
    if object.meta.etag != form.etag {
        return conflict(CHANGED_ELSEWHERE.into());
    }
    let before = String::from_utf8_lossy(&object.data).into_owned();
    let etag = Precondition::EtagMatches(form.etag.clone());
    let (after, written) = match (form.scope.as_str(), parse_at(&form.at)) {
        ("occurrence", Some(at)) => {
            let text = match ics::read(&object.data, &zone.name)
                .and_then(|s| ics::exclude(s, at, now()))
            {
                Ok(t) => t,
                Err(e) => return conflict(e.to_string()),
            };
            let w = put(
                &state,
                &session,
                cal.id,
                object.meta.name.clone(),
                text.clone(),
                etag,
            )
            .await;
            (Some(text), w)
        }
        _ => {
            let (id, name) = (cal.id, object.meta.name.clone());
            let store = state.store.clone();
            let r =
                tokio::task::spawn_blocking(move || store.delete_calendar_object(id, &name, etag))
                    .await;
            let w = match r {
                Ok(Ok(())) => Ok(Ok(())),
                Ok(Err(e)) => user_error(&state, &session, e).await,
                Err(e) => {
                    tracing::error!(error = %e, "web calendar store task failed");
                    Err(pages::internal_error(&state))
                }
            };
            (None, w)
        }
    };
    match written {
        Ok(Ok(())) => {}
        Ok(Err(msg)) => return conflict(msg),
        Err(r) => return r,
    }
    after_write(
        &state,
        &session,
        &zone,
        &account,
        &client,
        Some(&before),
        after.as_deref(),
        "/calendar".into(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_random_version_4_uuids() {
        let a = new_uid().unwrap();
        let b = new_uid().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!("89ab".contains(&a[19..20]), "{a}");
        assert!(a.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
    }
}
