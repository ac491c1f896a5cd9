//! MKCALENDAR (RFC 4791 §5.3.1) and extended MKCOL (RFC 5689 §3): a new
//! calendar collection, with the properties the body sets, among them
//! the component kinds it takes (`supported-calendar-component-set`,
//! RFC 4791 §5.2.3). A MKCOL must ask for a calendar in its
//! `DAV:resourcetype`: calendars are the only collections we hold.

use axum::http::StatusCode;
use axum::response::Response;
use postern_dav::{
    parse_mkcalendar, parse_mkcol, Condition, MkcolResponse, PropName, PropValue, CALDAV, DAV,
};
use postern_store::{CalendarProps, ComponentKind, StoreError};

use super::props::{bad_xml, settable};
use super::{call, condition, failure, status, text, xml, Dav, Target};

/// What the body asks for, as the store takes it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Asked {
    props: CalendarProps,
    /// Empty: every kind we store.
    components: Vec<ComponentKind>,
}

pub(super) async fn mkcalendar(req: Dav) -> Response {
    let Target::Calendar(_, name) = req.target.clone() else {
        return location();
    };
    let set = match parse_mkcalendar(&req.body) {
        Ok(s) => s,
        Err(e) => return bad_xml(&e),
    };
    let Some(asked) = asked(set) else {
        return unsupported();
    };
    create(req, name, asked).await
}

/// Extended MKCOL (RFC 5689 §3). A property we refuse fails the whole
/// request with 403 and a `mkcol-response` naming it (§3.3); a plain
/// MKCOL (no body) would make a collection that is not a calendar.
pub(super) async fn mkcol(req: Dav) -> Response {
    let Target::Calendar(_, name) = req.target.clone() else {
        return location();
    };
    let set = match parse_mkcol(&req.body) {
        Ok(s) => s,
        Err(e) => return bad_xml(&e),
    };
    if set.is_empty() {
        return text(StatusCode::FORBIDDEN, format!("{ONLY_CALENDARS}\n"));
    }
    let resourcetype = PropName::dav("resourcetype");
    if !asks_for_calendar(&set) {
        return refused(&set, &resourcetype, ONLY_CALENDARS);
    }
    let Some(asked) = asked(set.clone()) else {
        let components = PropName::caldav("supported-calendar-component-set");
        return refused(&set, &components, UNSUPPORTED_KINDS);
    };
    create(req, name, asked).await
}

const ONLY_CALENDARS: &str = "this server holds calendar collections only: \
MKCOL must set DAV:resourcetype to <DAV:collection/><CALDAV:calendar/> (RFC 5689), or use MKCALENDAR";

const UNSUPPORTED_KINDS: &str =
    "a calendar here takes VEVENT and VTODO components; name one or both of them";

/// Whether the body's `DAV:resourcetype` is a calendar collection and
/// nothing else we would have to be (an address book, say).
fn asks_for_calendar(set: &[(PropName, PropValue)]) -> bool {
    set.iter().any(|(n, v)| match v {
        PropValue::ResourceType(kinds) if n.is(DAV, "resourcetype") => {
            kinds.iter().any(|k| k.is(CALDAV, "calendar"))
                && kinds
                    .iter()
                    .all(|k| k.is(CALDAV, "calendar") || k.is(DAV, "collection"))
        }
        _ => false,
    })
}

/// RFC 5689 §3: 403 for the property at fault, 424 for the others.
fn refused(set: &[(PropName, PropValue)], at_fault: &PropName, why: &str) -> Response {
    xml(StatusCode::FORBIDDEN, refusal(set, at_fault, why))
}

/// The `mkcol-response` body of [`refused`].
fn refusal(set: &[(PropName, PropValue)], at_fault: &PropName, why: &str) -> Vec<u8> {
    let mut body = MkcolResponse::new();
    for (n, _) in set {
        body.prop_status(n.clone(), if n == at_fault { 403 } else { 424 });
    }
    if !set.iter().any(|(n, _)| n == at_fault) {
        body.prop_status(at_fault.clone(), 403);
    }
    body.description(why);
    body.to_bytes()
}

/// RFC 4791 §5.3.1.1: a calendar is made only right in the home.
fn location() -> Response {
    condition(
        StatusCode::FORBIDDEN,
        &Condition::CalendarCollectionLocationOk,
    )
}

/// Makes the calendar with its properties in one store transaction, so
/// that a refused property leaves nothing behind and no other client
/// sees the calendar without them (RFC 4791 §5.3.1: all or nothing).
async fn create(req: Dav, name: String, mut asked: Asked) -> Response {
    let id = req.account.id;
    asked.props.display_name.get_or_insert_with(|| name.clone());
    let result = call(&req.state, move |s| {
        s.create_calendar_with(id, &name, &asked.components, &asked.props)
    })
    .await;
    match result {
        Ok(_) => status(StatusCode::CREATED),
        // RFC 4791 §5.3.1, RFC 4918 §9.3.1: on an existing resource.
        Err(StoreError::AlreadyExists { .. }) => status(StatusCode::METHOD_NOT_ALLOWED),
        Err(e @ StoreError::Invalid { .. }) => text(StatusCode::FORBIDDEN, format!("{e}\n")),
        Err(e) => failure(&req.account, e),
    }
}

/// The properties and component kinds the body sets; `None` when it asks
/// for component kinds we cannot store. Properties we do
/// not keep (Apple's `calendar-order`, say) are left out rather than
/// failing the request: clients send them routinely, and refusing would
/// leave them unable to make a calendar at all.
fn asked(set: Vec<(PropName, PropValue)>) -> Option<Asked> {
    let mut asked = Asked::default();
    for (n, v) in set {
        match v {
            PropValue::Components(names) => asked.components = components(&names)?,
            PropValue::Text(t) => {
                settable(&mut asked.props, &n, t);
            }
            PropValue::Xml(_) | PropValue::ResourceType(_) => {}
        }
    }
    Some(asked)
}

/// RFC 4791 §5.3.2.1 names this condition for PUT; a MKCALENDAR asking
/// for a kind we cannot store is refused the same way.
fn unsupported() -> Response {
    condition(
        StatusCode::FORBIDDEN,
        &Condition::SupportedCalendarComponent,
    )
}

/// The kinds a `supported-calendar-component-set` names (RFC 4791
/// §5.2.3, case-insensitively as iCalendar names are, RFC 5545 §2);
/// `None` when it names none, or one we do not store (VJOURNAL, say).
fn components(names: &[String]) -> Option<Vec<ComponentKind>> {
    let mut kinds = Vec::new();
    for name in names {
        let kind = ComponentKind::ALL
            .into_iter()
            .find(|k| name.eq_ignore_ascii_case(k.as_str()))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    (!kinds.is_empty()).then_some(kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &str) -> Option<Asked> {
        let set = parse_mkcalendar(body.as_bytes()).expect("well-formed");
        asked(set)
    }

    fn body(props: &str) -> String {
        format!(
            r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop>{props}</D:prop></D:set></C:mkcalendar>"#
        )
    }

    #[test]
    fn the_component_set_is_what_the_client_asked() {
        let todo = parsed(&body(
            r#"<D:displayname>Tasks</D:displayname><C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>"#,
        ))
        .unwrap();
        assert_eq!(todo.components, vec![ComponentKind::Todo]);
        assert_eq!(todo.props.display_name.as_deref(), Some("Tasks"));
        let both = parsed(&body(
            r#"<C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="vtodo"></C:comp></C:supported-calendar-component-set>"#,
        ))
        .unwrap();
        assert_eq!(
            both.components,
            vec![ComponentKind::Event, ComponentKind::Todo]
        );
        // Without the property: every kind (the store's empty list).
        assert_eq!(parsed(&body("")).unwrap().components, vec![]);
    }

    #[test]
    fn kinds_we_do_not_store_or_none_at_all_are_refused() {
        for set in [
            r#"<C:supported-calendar-component-set><C:comp name="VJOURNAL"/></C:supported-calendar-component-set>"#,
            r#"<C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VJOURNAL"/></C:supported-calendar-component-set>"#,
            "<C:supported-calendar-component-set/>",
            // A `comp` in another namespace is not CalDAV's.
            r#"<C:supported-calendar-component-set><X:comp xmlns:X="urn:x" name="VEVENT"/></C:supported-calendar-component-set>"#,
        ] {
            assert_eq!(parsed(&body(set)), None, "{set}");
        }
    }

    fn mkcol(props: &str) -> Vec<(PropName, PropValue)> {
        let body = format!(
            r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>{props}</D:prop></D:set></D:mkcol>"#
        );
        parse_mkcol(body.as_bytes()).expect("well-formed")
    }

    #[test]
    fn mkcol_must_ask_for_a_calendar_and_nothing_else() {
        let calendar = "<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>";
        assert!(asks_for_calendar(&mkcol(calendar)));
        assert!(asks_for_calendar(&mkcol(
            "<D:resourcetype><C:calendar/></D:resourcetype>"
        )));
        for other in [
            "<D:resourcetype><D:collection/></D:resourcetype>",
            "<D:resourcetype/>",
            r#"<D:resourcetype><D:collection/><C:calendar/><A:addressbook xmlns:A="urn:ietf:params:xml:ns:carddav"/></D:resourcetype>"#,
            "<D:displayname>no type</D:displayname>",
            // The CalDAV name in the DAV: namespace is not a calendar.
            "<D:resourcetype><D:collection/><D:calendar/></D:resourcetype>",
        ] {
            assert!(!asks_for_calendar(&mkcol(other)), "{other}");
        }
    }

    #[test]
    fn a_refused_mkcol_names_the_property_at_fault() {
        let set = mkcol(
            "<D:resourcetype><D:collection/></D:resourcetype><D:displayname>x</D:displayname>",
        );
        let body = |at_fault: &PropName| {
            String::from_utf8(refusal(&set, at_fault, ONLY_CALENDARS)).unwrap()
        };
        let text = body(&PropName::dav("resourcetype"));
        assert!(
            text.contains(
                "<d:prop><d:resourcetype/></d:prop><d:status>HTTP/1.1 403 Forbidden</d:status>"
            ),
            "{text}"
        );
        assert!(text.contains("<d:prop><d:displayname/></d:prop><d:status>HTTP/1.1 424 Failed Dependency</d:status>"), "{text}");
        assert!(text.contains("calendar collections only"), "{text}");
        // A property the body did not set is named all the same.
        let text = body(&PropName::caldav("supported-calendar-component-set"));
        assert!(text.contains("<d:prop><c:supported-calendar-component-set/></d:prop><d:status>HTTP/1.1 403 Forbidden"), "{text}");
        assert!(
            text.contains(
                "<d:prop><d:resourcetype/><d:displayname/></d:prop><d:status>HTTP/1.1 424"
            ),
            "{text}"
        );
    }

    #[test]
    fn properties_we_do_not_keep_are_left_out() {
        let a = parsed(&body(
            r#"<A:calendar-order>3</A:calendar-order><A:calendar-color>#FF0000FF</A:calendar-color>"#,
        ))
        .unwrap();
        assert_eq!(a.props.color.as_deref(), Some("#FF0000FF"));
        assert_eq!(a.components, vec![]);
    }
}
