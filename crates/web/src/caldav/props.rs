//! PROPFIND (RFC 4918 §9.1), PROPPATCH (§9.2) and DELETE of a calendar
//! collection.

use axum::http::StatusCode;
use axum::response::Response;
use postern_dav::{
    parse_propfind, parse_proppatch, Condition, Multistatus, Patch, PropName, PropValue, Propfind,
    Response as DavResponse, Value, APPLE_ICAL, CALDAV, CALENDARSERVER,
};
use postern_store::{Calendar, CalendarObjectMeta, CalendarProps, StoreError};

use super::privileges::{self, Kind};
use super::{
    calendar_path, call, failure, home_path, object_path, own_calendar, principal_path, status,
    text, xml, Dav, Target,
};

/// A resource's properties with their values: what `allprop` returns and
/// what a named property is looked up in.
pub(super) type Props = Vec<(PropName, Value)>;

/// The sync-token URI (RFC 6578 §3.2 asks for a URI) for a number.
pub(super) fn sync_token(n: u64) -> String {
    format!("{SYNC_PREFIX}{n}")
}

/// The number in one of our sync tokens.
pub(super) fn parse_sync_token(token: &str) -> Option<u64> {
    token.strip_prefix(SYNC_PREFIX)?.parse().ok()
}

const SYNC_PREFIX: &str = "https://postern/sync/";

/// The response for one resource: the properties asked for, found (200)
/// or not (404).
pub(super) fn answer(href: &str, props: &Props, wanted: &Propfind) -> DavResponse {
    let mut r = DavResponse::new(href);
    match wanted {
        Propfind::PropName => {
            for (name, _) in props {
                r.found(name.clone(), Value::Empty);
            }
        }
        Propfind::AllProp { include } => {
            // RFC 3744 §5: allprop need not carry the access control
            // properties; the privilege set comes when named.
            let privileges = privileges::name();
            for (name, value) in props {
                if *name != privileges || include.contains(name) {
                    r.found(name.clone(), value.clone());
                }
            }
        }
        Propfind::Prop(names) => {
            for name in names {
                match props.iter().find(|(n, _)| n == name) {
                    Some((_, v)) => r.found(name.clone(), v.clone()),
                    None => r.not_found(name.clone()),
                };
            }
        }
    }
    r
}

fn dav(local: &str) -> PropName {
    PropName::dav(local)
}

/// Properties every resource of a user has (RFC 5397, RFC 3744 §5.1).
fn common(user: &str) -> Props {
    vec![
        (
            dav("current-user-principal"),
            Value::Href(principal_path(user)),
        ),
        (dav("owner"), Value::Href(principal_path(user))),
    ]
}

fn collection(calendar: bool) -> Value {
    Value::ResourceType {
        collection: true,
        calendar,
        principal: false,
    }
}

fn root_props(user: &str) -> Props {
    let mut p = vec![
        (dav("resourcetype"), collection(false)),
        privileges::property(Kind::ReadOnly),
    ];
    p.extend(common(user));
    p
}

/// The principal (RFC 4791 §6.2.1 calendar-home-set, RFC 6638 §2.4.1
/// calendar-user-address-set), a collection and a principal (RFC 3744
/// §4).
fn principal_props(user: &str) -> Props {
    let mut p = vec![
        (
            dav("resourcetype"),
            Value::ResourceType {
                collection: true,
                calendar: false,
                principal: true,
            },
        ),
        (dav("displayname"), Value::Text(user.to_owned())),
        (dav("principal-URL"), Value::Href(principal_path(user))),
        (
            PropName::caldav("calendar-home-set"),
            Value::Href(home_path(user)),
        ),
        (
            PropName::caldav("calendar-user-address-set"),
            Value::Hrefs(vec![format!("mailto:{user}")]),
        ),
        privileges::property(Kind::ReadOnly),
    ];
    p.extend(common(user));
    p
}

fn home_props(user: &str) -> Props {
    let mut p = vec![
        (dav("resourcetype"), collection(false)),
        (dav("displayname"), Value::Text(user.to_owned())),
        privileges::property(Kind::Home),
    ];
    p.extend(common(user));
    p
}

/// A calendar collection's properties (RFC 4791 §5.2, RFC 6578 §4).
pub(super) fn calendar_props(user: &str, cal: &Calendar) -> Props {
    let mut p = vec![
        (dav("resourcetype"), collection(true)),
        (dav("displayname"), Value::Text(cal.display_name.clone())),
        (
            PropName::caldav("supported-calendar-component-set"),
            Value::ComponentSet(cal.components.iter().map(|c| c.as_str().into()).collect()),
        ),
        (
            dav("supported-report-set"),
            Value::ReportSet(vec![
                PropName::caldav("calendar-query"),
                PropName::caldav("calendar-multiget"),
                dav("sync-collection"),
            ]),
        ),
        (
            PropName::new(CALENDARSERVER, "getctag"),
            Value::Text(sync_token(cal.sync_token)),
        ),
        (dav("sync-token"), Value::Text(sync_token(cal.sync_token))),
        privileges::property(Kind::Calendar),
    ];
    let optional = [
        (PropName::caldav("calendar-description"), &cal.description),
        (PropName::new(APPLE_ICAL, "calendar-color"), &cal.color),
        (PropName::caldav("calendar-timezone"), &cal.timezone),
    ];
    for (name, value) in optional {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            p.push((name, Value::Text(v.clone())));
        }
    }
    p.extend(common(user));
    p
}

/// A calendar object's properties; `calendar-data` only when the data is
/// at hand (REPORTs), so a PROPFIND never reads every object.
pub(super) fn object_props(meta: &CalendarObjectMeta, data: Option<&[u8]>) -> Props {
    let mut p = vec![
        (
            dav("resourcetype"),
            Value::ResourceType {
                collection: false,
                calendar: false,
                principal: false,
            },
        ),
        (dav("getetag"), Value::Text(meta.etag.clone())),
        (
            dav("getcontenttype"),
            Value::Text("text/calendar; charset=utf-8".into()),
        ),
        (dav("getcontentlength"), Value::Text(meta.size.to_string())),
        privileges::property(Kind::Object),
    ];
    if let Some(d) = data {
        p.push((
            PropName::caldav("calendar-data"),
            Value::CalendarData(String::from_utf8_lossy(d).into_owned()),
        ));
    }
    p
}

/// The Depth header (RFC 4918 §10.2): 0 or 1; `None` for infinity, which
/// is also what a missing header means (§9.1).
fn depth(req: &Dav) -> Option<u8> {
    match req.headers.get("depth").and_then(|v| v.to_str().ok()) {
        Some("0") => Some(0),
        Some("1") => Some(1),
        _ => None,
    }
}

/// RFC 4918 §9.1: a Depth: infinity PROPFIND may be refused so.
fn finite_depth() -> Response {
    xml(
        StatusCode::FORBIDDEN,
        Condition::PropfindFiniteDepth.to_bytes(),
    )
}

/// An XML body we could not read.
pub(super) fn bad_xml(e: &postern_dav::DavError) -> Response {
    text(StatusCode::BAD_REQUEST, format!("{e}\n"))
}

pub(super) async fn propfind(req: Dav) -> Response {
    let Some(depth) = depth(&req) else {
        return finite_depth();
    };
    let wanted = match parse_propfind(&req.body) {
        Ok(w) => w,
        Err(e) => return bad_xml(&e),
    };
    let user = req.account.address.clone();
    let mut ms = Multistatus::new();
    let result = match req.target.clone() {
        Target::Root => {
            ms.push(answer(super::ROOT, &root_props(&user), &wanted));
            Ok(())
        }
        Target::Principal(_) => {
            ms.push(answer(
                &principal_path(&user),
                &principal_props(&user),
                &wanted,
            ));
            Ok(())
        }
        Target::Home(_) => home(&req, &mut ms, &wanted, depth).await,
        Target::Calendar(_, name) => calendar(&req, &name, &mut ms, &wanted, depth).await,
        Target::Object(_, cal, name) => object(&req, &cal, &name, &mut ms, &wanted).await,
    };
    match result {
        Ok(()) => xml(StatusCode::MULTI_STATUS, ms.to_bytes()),
        Err(r) => r,
    }
}

async fn home(
    req: &Dav,
    ms: &mut Multistatus,
    wanted: &Propfind,
    depth: u8,
) -> Result<(), Response> {
    let user = &req.account.address;
    ms.push(answer(&home_path(user), &home_props(user), wanted));
    let cals = calendars_or_default(req).await?;
    if depth == 1 {
        for cal in &cals {
            ms.push(answer(
                &calendar_path(user, &cal.name),
                &calendar_props(user, cal),
                wanted,
            ));
        }
    }
    Ok(())
}

/// The account's calendars; a home without any gets the default one
/// first, so that a new account's client has somewhere to write.
async fn calendars_or_default(req: &Dav) -> Result<Vec<Calendar>, Response> {
    let id = req.account.id;
    // The web calendar's rule, so both make the same first calendar.
    call(&req.state, move |s| crate::calendar::calendars(s, id))
        .await
        .map_err(|e| failure(&req.account, e))
}

async fn calendar(
    req: &Dav,
    name: &str,
    ms: &mut Multistatus,
    wanted: &Propfind,
    depth: u8,
) -> Result<(), Response> {
    let user = &req.account.address;
    let cal = own_calendar(req, name).await?;
    ms.push(answer(
        &calendar_path(user, &cal.name),
        &calendar_props(user, &cal),
        wanted,
    ));
    if depth == 1 {
        let id = cal.id;
        let objects = call(&req.state, move |s| s.calendar_objects(id))
            .await
            .map_err(|e| failure(&req.account, e))?;
        for meta in &objects {
            let href = object_path(user, &cal.name, &meta.name);
            ms.push(answer(&href, &object_props(meta, None), wanted));
        }
    }
    Ok(())
}

async fn object(
    req: &Dav,
    cal: &str,
    name: &str,
    ms: &mut Multistatus,
    wanted: &Propfind,
) -> Result<(), Response> {
    let cal = own_calendar(req, cal).await?;
    let (id, n) = (cal.id, name.to_owned());
    let obj = call(&req.state, move |s| s.calendar_object(id, &n))
        .await
        .map_err(|e| failure(&req.account, e))?
        .ok_or_else(|| status(StatusCode::NOT_FOUND))?;
    let href = object_path(&req.account.address, &cal.name, name);
    ms.push(answer(&href, &object_props(&obj.meta, None), wanted));
    Ok(())
}

/// Sets in `props` what a property we let clients change stands for;
/// `false` for one they cannot change.
pub(super) fn settable(props: &mut CalendarProps, name: &PropName, value: String) -> bool {
    let slot = if name.is(postern_dav::DAV, "displayname") {
        &mut props.display_name
    } else if name.is(CALDAV, "calendar-description") {
        &mut props.description
    } else if name.is(APPLE_ICAL, "calendar-color") {
        &mut props.color
    } else if name.is(CALDAV, "calendar-timezone") {
        &mut props.timezone
    } else {
        return false;
    };
    *slot = Some(value);
    true
}

/// RFC 4918 §9.2: all or nothing; a property we cannot set is 403 and
/// the others 424 (Failed Dependency).
pub(super) async fn proppatch(req: Dav) -> Response {
    let Target::Calendar(_, name) = req.target.clone() else {
        return status(StatusCode::FORBIDDEN);
    };
    let patches = match parse_proppatch(&req.body) {
        Ok(p) => p,
        Err(e) => return bad_xml(&e),
    };
    let cal = match own_calendar(&req, &name).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut props = CalendarProps::default();
    let mut refused = Vec::new();
    let names: Vec<PropName> = patches
        .iter()
        .map(|p| match p {
            Patch::Set(n, _) | Patch::Remove(n) => n.clone(),
        })
        .collect();
    for patch in patches {
        let (name, value) = match patch {
            Patch::Set(n, PropValue::Text(t)) => (n, t),
            // Element content: the component set and resource type are
            // fixed at creation (RFC 4791 §5.2.3), the rest not ours.
            Patch::Set(n, _) => {
                refused.push(n);
                continue;
            }
            // A removed property is stored as empty (CalendarProps).
            Patch::Remove(n) => (n, String::new()),
        };
        if !settable(&mut props, &name, value) {
            refused.push(name);
        }
    }
    let href = calendar_path(&req.account.address, &cal.name);
    let mut r = DavResponse::new(&href);
    if refused.is_empty() {
        let id = cal.id;
        let code = match call(&req.state, move |s| s.update_calendar(id, &props)).await {
            Ok(_) => 200,
            Err(StoreError::Invalid { .. }) => 409,
            Err(e) => return failure(&req.account, e),
        };
        for n in names {
            r.prop_status(n, Value::Empty, code);
        }
    } else {
        for n in names {
            let code = if refused.contains(&n) { 403 } else { 424 };
            r.prop_status(n, Value::Empty, code);
        }
    }
    let mut ms = Multistatus::new();
    ms.push(r);
    xml(StatusCode::MULTI_STATUS, ms.to_bytes())
}

/// DELETE of a calendar collection: it and all its members.
pub(super) async fn delete_calendar(req: Dav) -> Response {
    let Target::Calendar(_, name) = req.target.clone() else {
        return status(StatusCode::NOT_FOUND);
    };
    let cal = match own_calendar(&req, &name).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let id = cal.id;
    match call(&req.state, move |s| s.delete_calendar(id)).await {
        Ok(()) => status(StatusCode::NO_CONTENT),
        Err(e) => failure(&req.account, e),
    }
}
