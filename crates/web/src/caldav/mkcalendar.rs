//! MKCALENDAR (RFC 4791 §5.3.1): a new calendar collection, with the
//! properties the body sets, among them the component kinds it takes
//! (`supported-calendar-component-set`, §5.2.3).

use axum::http::StatusCode;
use axum::response::Response;
use postern_dav::{parse_mkcalendar, Condition, PropName, PropValue, CALDAV};
use postern_store::{CalendarProps, ComponentKind, StoreError};

use super::props::{bad_xml, settable};
use super::{call, condition, failure, status, text, Dav, Target};

/// What the body asks for, as the store takes it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Asked {
    props: CalendarProps,
    /// Empty: every kind we store.
    components: Vec<ComponentKind>,
}

pub(super) async fn mkcalendar(req: Dav) -> Response {
    let Target::Calendar(_, name) = req.target.clone() else {
        return condition(
            StatusCode::FORBIDDEN,
            &Condition::CalendarCollectionLocationOk,
        );
    };
    let set = match parse_mkcalendar(&req.body) {
        Ok(s) => s,
        Err(e) => return bad_xml(&e),
    };
    let Some(mut asked) = asked(set) else {
        return unsupported();
    };
    let id = req.account.id;
    let display = asked
        .props
        .display_name
        .take()
        .unwrap_or_else(|| name.clone());
    let result = call(&req.state, move |s| {
        let cal = s.create_calendar(id, &name, &display, &asked.components)?;
        if asked.props == CalendarProps::default() {
            return Ok(());
        }
        // The store sets the other properties in a second call: if they
        // are refused, the calendar goes again, so that a failed
        // MKCALENDAR leaves nothing behind (RFC 4791 §5.3.1: all or
        // nothing).
        match s.update_calendar(cal.id, &asked.props) {
            Ok(_) => Ok(()),
            Err(e) => {
                if let Err(undo) = s.delete_calendar(cal.id) {
                    tracing::error!(error = %undo, calendar = %cal.name,
                        "a calendar whose properties were refused could not be removed again; delete it with the client");
                }
                Err(e)
            }
        }
    })
    .await;
    match result {
        Ok(()) => status(StatusCode::CREATED),
        // RFC 4791 §5.3.1: MKCALENDAR on an existing resource.
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
        if n.is(CALDAV, "supported-calendar-component-set") {
            let fragment = match v {
                PropValue::Xml(x) => x,
                // An empty element: no component at all.
                PropValue::Text(t) => t,
            };
            asked.components = components(&fragment)?;
        } else if let PropValue::Text(t) = v {
            settable(&mut asked.props, &n, t);
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
/// §5.2.3: `<C:comp name="VTODO"/>`...); `None` when it names none, or
/// one we do not store (VJOURNAL, say).
///
/// The fragment is the dav crate's re-serialisation of the element's
/// children, so its form is fixed: each top-level element declares its
/// namespace (`<comp xmlns="urn:ietf:params:xml:ns:caldav" name="VTODO"/>`)
/// and attribute values are double-quoted with `<`, `>`, `"` escaped.
/// Splitting at `<` and `>` therefore finds exactly the tags.
fn components(fragment: &str) -> Option<Vec<ComponentKind>> {
    let mut kinds = Vec::new();
    for tag in fragment.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        let local = tag.split([' ', '/']).next().unwrap_or_default();
        if local != "comp" || attr(tag, "xmlns").is_some_and(|ns| ns != CALDAV) {
            continue;
        }
        let kind = ComponentKind::ALL
            .into_iter()
            .find(|k| attr(tag, "name").is_some_and(|n| n.eq_ignore_ascii_case(k.as_str())))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    (!kinds.is_empty()).then_some(kinds)
}

/// The value of attribute `name` in a start tag written as above.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = &tag[start..];
    Some(&rest[..rest.find('"')?])
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
