//! Calendar object resources: GET and HEAD (RFC 9110 §9.3.1-2), PUT
//! (RFC 4791 §5.3.2) and DELETE, with ETags and their preconditions
//! (RFC 9110 §13.1) checked by the store in the writing transaction.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use postern_dav::{ical, Condition};
use postern_store::{ComponentKind, NewCalendarObject, Precondition, StoreError};

use super::{call, condition, failure, object_path, own_calendar, status, text, Dav, Target};

const CALENDAR_TYPE: &str = "text/calendar; charset=utf-8";

/// The object's calendar and name; `None` for a collection: GET, PUT and
/// DELETE of a member only (a calendar is deleted in `props`), so the
/// caller answers 405.
fn names(req: &Dav) -> Option<(String, String)> {
    match &req.target {
        Target::Object(_, cal, obj) => Some((cal.clone(), obj.clone())),
        Target::Calendar(..) | Target::Home(_) | Target::Principal(_) | Target::Root => None,
    }
}

pub(super) async fn get(req: Dav) -> Response {
    let Some((cal, name)) = names(&req) else {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    };
    let cal = match own_calendar(&req, &cal).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let id = cal.id;
    match call(&req.state, move |s| s.calendar_object(id, &name)).await {
        Ok(Some(obj)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, CALENDAR_TYPE.to_owned()),
                (header::ETAG, obj.meta.etag),
            ],
            obj.data,
        )
            .into_response(),
        Ok(None) => status(StatusCode::NOT_FOUND),
        Err(e) => failure(&req.account, e),
    }
}

/// The write's condition from `If-Match` / `If-None-Match` (RFC 9110
/// §13.1.1-2). Only `If-None-Match: *` is meaningful on a write; an
/// If-Match with several tags matches none of ours unless one is exact,
/// so the first is compared (clients send one).
pub(super) fn precondition(headers: &HeaderMap) -> Precondition {
    let get = |h| headers.get(h).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(m) = get(header::IF_MATCH) {
        if m == "*" {
            return Precondition::MustExist;
        }
        let first = m.split(',').next().unwrap_or(m).trim();
        return Precondition::EtagMatches(first.to_owned());
    }
    if get(header::IF_NONE_MATCH) == Some("*") {
        return Precondition::MustNotExist;
    }
    Precondition::Any
}

fn kind(c: ical::Component) -> ComponentKind {
    match c {
        ical::Component::Event => ComponentKind::Event,
        ical::Component::Todo => ComponentKind::Todo,
    }
}

/// RFC 4791 §5.3.2: the body must be one valid calendar object resource
/// (checked before anything is stored), of a kind the calendar takes,
/// with a UID no other member has.
pub(super) async fn put(req: Dav) -> Response {
    let Some((cal, name)) = names(&req) else {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    };
    // RFC 4918 §9.7.1: no parent collection.
    let Ok(cal) = own_calendar(&req, &cal).await else {
        return status(StatusCode::CONFLICT);
    };
    let analyzed = match ical::analyze(&req.body) {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(user = %req.account.address, error = %e, "CalDAV PUT refused");
            return condition(StatusCode::FORBIDDEN, &e.condition());
        }
    };
    let component = kind(analyzed.component);
    if !cal.components.contains(&component) {
        return condition(
            StatusCode::FORBIDDEN,
            &Condition::SupportedCalendarComponent,
        );
    }
    let pre = precondition(&req.headers);
    let (id, body, obj_name) = (cal.id, req.body.clone(), name.clone());
    let result = call(&req.state, move |s| {
        let new = NewCalendarObject {
            name: &obj_name,
            uid: &analyzed.uid,
            component,
            data: &body,
            first_start: analyzed.first_start,
            last_end: analyzed.last_end,
        };
        s.put_calendar_object(id, &new, pre)
    })
    .await;
    match result {
        Ok((meta, created)) => {
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::NO_CONTENT
            };
            (code, [(header::ETAG, meta.etag)]).into_response()
        }
        Err(StoreError::UidConflict { existing }) => {
            let href = object_path(&req.account.address, &cal.name, &existing);
            condition(StatusCode::FORBIDDEN, &Condition::NoUidConflict(href))
        }
        Err(e @ StoreError::Invalid { .. }) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
        Err(e) => failure(&req.account, e),
    }
}

pub(super) async fn delete(req: Dav) -> Response {
    let Some((cal, name)) = names(&req) else {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    };
    let cal = match own_calendar(&req, &cal).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (id, pre) = (cal.id, precondition(&req.headers));
    match call(&req.state, move |s| {
        s.delete_calendar_object(id, &name, pre)
    })
    .await
    {
        Ok(()) => status(StatusCode::NO_CONTENT),
        Err(e) => failure(&req.account, e),
    }
}
