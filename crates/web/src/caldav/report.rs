//! REPORTs on a calendar collection: calendar-query (RFC 4791 §7.8),
//! calendar-multiget (§7.9) and sync-collection (RFC 6578 §3).

use axum::http::StatusCode;
use axum::response::Response;
use postern_dav::{
    ical, parse_report, CalendarQuery, Condition, DavError, Expand, Multiget, Multistatus,
    Propfind, Report, Response as DavResponse, SyncCollection, TimeRange,
};
use postern_store::{Calendar, CalendarObject, StoreError};

use super::props::{answer, bad_xml, object_props, parse_sync_token, sync_token};
use super::{
    calendar_path, call, condition, decode_segment, failure, object_path, own_calendar, xml, Dav,
    Target,
};

pub(super) async fn report(req: Dav) -> Response {
    let Target::Calendar(_, name) = req.target.clone() else {
        return condition(StatusCode::FORBIDDEN, &Condition::SupportedReport);
    };
    let report = match parse_report(&req.body) {
        Ok(r) => r,
        Err(DavError::UnsupportedReport(_)) => {
            return condition(StatusCode::FORBIDDEN, &Condition::SupportedReport)
        }
        Err(DavError::UnsupportedCollation(_)) => {
            return condition(StatusCode::FORBIDDEN, &Condition::SupportedCollation)
        }
        Err(e) => return bad_xml(&e),
    };
    let cal = match own_calendar(&req, &name).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = match report {
        Report::CalendarQuery(q) => query(&req, &cal, q).await,
        Report::CalendarMultiget(m) => multiget(&req, &cal, m).await,
        Report::SyncCollection(s) => sync(&req, &cal, s).await,
    };
    match result {
        Ok(ms) => xml(StatusCode::MULTI_STATUS, ms.to_bytes()),
        Err(r) => r,
    }
}

/// The answer for one object with its data: as stored, or with its
/// recurrences expanded over the range the client asked for (RFC 4791
/// §9.6.5; the ETag stays the stored object's).
fn object_answer(
    req: &Dav,
    cal: &Calendar,
    obj: &CalendarObject,
    wanted: &Propfind,
    expand: Option<Expand>,
) -> DavResponse {
    let href = object_path(&req.account.address, &cal.name, &obj.meta.name);
    let expanded = expand.map(|e| postern_dav::expand::expand(&obj.data, e.start, e.end));
    let data = match &expanded {
        None => obj.data.as_slice(),
        Some(Ok(text)) => text.as_bytes(),
        Some(Err(e)) => {
            // Stored objects passed the same checks when they were put;
            // one that cannot be expanded now is a server fault, not the
            // client's, and its stored form is still the truth.
            tracing::warn!(object = %href, error = %e, "cannot expand a stored calendar object");
            obj.data.as_slice()
        }
    };
    answer(&href, &object_props(&obj.meta, Some(data)), wanted)
}

/// The time range of the query's component filter, if it has one: the
/// store narrows the candidates to it (RFC 4791 §9.9); `ical::matches`
/// then decides exactly, recurrences expanded.
fn time_range(q: &CalendarQuery) -> Option<TimeRange> {
    q.filter.comp_filters.iter().find_map(|c| c.time_range)
}

async fn query(req: &Dav, cal: &Calendar, q: CalendarQuery) -> Result<Multistatus, Response> {
    let id = cal.id;
    let range = time_range(&q);
    let candidates = call(&req.state, move |s| match range {
        Some(r) => {
            s.calendar_objects_in_range(id, r.start.unwrap_or(i64::MIN), r.end.unwrap_or(i64::MAX))
        }
        None => {
            let names: Vec<String> = s
                .calendar_objects(id)?
                .into_iter()
                .map(|m| m.name)
                .collect();
            s.calendar_objects_by_name(id, &names)
        }
    })
    .await
    .map_err(|e| failure(&req.account, e))?;
    let mut ms = Multistatus::new();
    for obj in candidates
        .iter()
        .filter(|o| ical::matches(&o.data, &q.filter))
    {
        ms.push(object_answer(req, cal, obj, &q.props, q.expand));
    }
    Ok(ms)
}

/// The member name an href names in this calendar; `None` for anything
/// else (another calendar, another user, not a member).
fn member_name(req: &Dav, cal: &Calendar, href: &str) -> Option<String> {
    // A client may send an absolute URI (RFC 4918 §8.3): keep the path.
    let path = match href.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => href,
    };
    let prefix = postern_dav::encode_path(&calendar_path(&req.account.address, &cal.name));
    let rest = path
        .strip_prefix(&prefix)
        .or_else(|| path.strip_prefix(&calendar_path(&req.account.address, &cal.name)))?;
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    decode_segment(rest)
}

async fn multiget(req: &Dav, cal: &Calendar, m: Multiget) -> Result<Multistatus, Response> {
    let names: Vec<Option<String>> = m.hrefs.iter().map(|h| member_name(req, cal, h)).collect();
    let wanted: Vec<String> = names.iter().flatten().cloned().collect();
    let id = cal.id;
    let found = call(&req.state, move |s| s.calendar_objects_by_name(id, &wanted))
        .await
        .map_err(|e| failure(&req.account, e))?;
    let mut ms = Multistatus::new();
    for (href, name) in m.hrefs.iter().zip(names) {
        match name.and_then(|n| found.iter().find(|o| o.meta.name == n)) {
            Some(obj) => ms.push(object_answer(req, cal, obj, &m.props, m.expand)),
            // RFC 4791 §7.9: an href that names nothing is a 404 response.
            None => ms.push(DavResponse::with_status(&decoded(href), 404)),
        };
    }
    Ok(ms)
}

/// An href as the client sent it, decoded for the writer (which encodes).
fn decoded(href: &str) -> String {
    href.split('/')
        .map(|s| decode_segment(s).unwrap_or_else(|| s.to_owned()))
        .collect::<Vec<_>>()
        .join("/")
}

/// RFC 6578 §3.2: an unknown or future token is `valid-sync-token`.
fn invalid_token() -> Response {
    condition(StatusCode::FORBIDDEN, &Condition::ValidSyncToken)
}

async fn sync(req: &Dav, cal: &Calendar, s: SyncCollection) -> Result<Multistatus, Response> {
    let token = if s.sync_token.is_empty() {
        0
    } else {
        parse_sync_token(&s.sync_token).ok_or_else(invalid_token)?
    };
    let id = cal.id;
    let result = call(&req.state, move |st| {
        let changes = st.calendar_changes_since(id, token)?;
        let objects = st.calendar_objects_by_name(id, &changes.changed)?;
        Ok((changes, objects))
    })
    .await;
    let (changes, objects) = match result {
        Ok(r) => r,
        Err(StoreError::Invalid { .. }) => return Err(invalid_token()),
        Err(e) => return Err(failure(&req.account, e)),
    };
    let wanted = Propfind::Prop(s.props);
    let mut ms = Multistatus::new();
    for obj in &objects {
        ms.push(object_answer(req, cal, obj, &wanted, None));
    }
    for name in &changes.deleted {
        let href = object_path(&req.account.address, &cal.name, name);
        ms.push(DavResponse::with_status(&href, 404));
    }
    ms.sync_token(&sync_token(changes.sync_token));
    Ok(ms)
}
