//! Request bodies: PROPFIND (RFC 4918 §9.1), PROPPATCH (§9.2), MKCALENDAR
//! (RFC 4791 §5.3.1), extended MKCOL (RFC 5689 §3) and REPORT (calendar-query and calendar-multiget,
//! RFC 4791 §7.8-7.9; sync-collection, RFC 6578 §3.2).

use crate::error::{excerpt, DavError};
use crate::filter::{parse_filter, utc_seconds, Filter};
use crate::xml::{self, Element};
use crate::{PropName, CALDAV, DAV};

/// What a PROPFIND asks for (RFC 4918 §14.20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Propfind {
    /// Every live property the server likes, plus `include`d ones; also
    /// what an empty body means (§9.1).
    AllProp {
        /// Properties named in `DAV:include`.
        include: Vec<PropName>,
    },
    /// The names of the properties, without values.
    PropName,
    /// These properties.
    Prop(Vec<PropName>),
}

/// A property value to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropValue {
    /// Text content (e.g. `displayname`, `calendar-color`, and
    /// `calendar-timezone`, whose text is a VCALENDAR).
    Text(String),
    /// Element content kept as an XML fragment with its namespaces
    /// declared (a property we do not know the shape of).
    Xml(String),
    /// `CALDAV:supported-calendar-component-set` (RFC 4791 §5.2.3): the
    /// `name` of each `CALDAV:comp`, as sent; empty for an empty set.
    Components(Vec<String>),
    /// `DAV:resourcetype` (RFC 4918 §15.9), as an extended MKCOL sets it
    /// (RFC 5689 §3): the names of its child elements.
    ResourceType(Vec<PropName>),
}

/// One PROPPATCH instruction; the list keeps document order, which is the
/// order they apply in (RFC 4918 §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch {
    /// `DAV:set`.
    Set(PropName, PropValue),
    /// `DAV:remove`.
    Remove(PropName),
}

/// A REPORT body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// `CALDAV:calendar-query`.
    CalendarQuery(CalendarQuery),
    /// `CALDAV:calendar-multiget`.
    CalendarMultiget(Multiget),
    /// `DAV:sync-collection`.
    SyncCollection(SyncCollection),
}

/// RFC 4791 §9.5: which properties, and the filter every answer matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarQuery {
    /// The properties wanted (all of them when the body names none).
    pub props: Propfind,
    /// The filter.
    pub filter: Filter,
    /// `CALDAV:expand` in the requested `calendar-data`.
    pub expand: Option<Expand>,
}

/// RFC 4791 §9.6.5: the answers' calendar data with every recurrence
/// expanded over this range (Unix seconds; both bounds are required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expand {
    pub start: i64,
    pub end: i64,
}

/// RFC 4791 §9.10: properties of the resources named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multiget {
    /// The properties wanted.
    pub props: Propfind,
    /// The hrefs, as sent (percent-encoded).
    pub hrefs: Vec<String>,
    /// `CALDAV:expand` in the requested `calendar-data`.
    pub expand: Option<Expand>,
}

/// RFC 6578 §6.1: the changes since a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCollection {
    /// The client's token; empty for the initial sync.
    pub sync_token: String,
    /// Members only, or the whole tree.
    pub sync_level: SyncLevel,
    /// The properties wanted for changed members.
    pub props: Vec<PropName>,
    /// `DAV:limit/DAV:nresults`, when the client asks for one.
    pub limit: Option<u32>,
}

/// RFC 6578 §6.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncLevel {
    /// `1`: the collection's members.
    One,
    /// `infinite`: every descendant.
    Infinite,
}

/// Parses a PROPFIND body; an empty body is `allprop` (RFC 4918 §9.1).
pub fn parse_propfind(body: &[u8]) -> Result<Propfind, DavError> {
    let Some(root) = xml::parse(body)? else {
        return Ok(Propfind::AllProp {
            include: Vec::new(),
        });
    };
    expect_root(&root, DAV, "propfind", "DAV:propfind")?;
    props_of(&root)?.ok_or(DavError::Missing("DAV:prop, DAV:allprop or DAV:propname"))
}

/// Parses a PROPPATCH body (RFC 4918 §14.19 `propertyupdate`).
pub fn parse_proppatch(body: &[u8]) -> Result<Vec<Patch>, DavError> {
    let root = xml::parse(body)?.ok_or(DavError::Missing("DAV:propertyupdate"))?;
    expect_root(&root, DAV, "propertyupdate", "DAV:propertyupdate")?;
    let mut out = Vec::new();
    for op in &root.children {
        let set = op.is(DAV, "set");
        if !set && !op.is(DAV, "remove") {
            continue;
        }
        for prop in op.all(DAV, "prop") {
            for p in &prop.children {
                out.push(if set {
                    Patch::Set(p.name.clone(), value_of(p)?)
                } else {
                    Patch::Remove(p.name.clone())
                });
            }
        }
    }
    Ok(out)
}

/// Parses a MKCALENDAR body (RFC 4791 §5.3.1): the properties to set on
/// the new calendar. The body is optional.
pub fn parse_mkcalendar(body: &[u8]) -> Result<Vec<(PropName, PropValue)>, DavError> {
    let Some(root) = xml::parse(body)? else {
        return Ok(Vec::new());
    };
    expect_root(&root, CALDAV, "mkcalendar", "CALDAV:mkcalendar")?;
    set_props(&root)
}

/// Parses an extended MKCOL body (RFC 5689 §5.1 `DAV:mkcol`): the
/// properties to set on the new collection, `DAV:resourcetype` among
/// them. An empty body is a plain MKCOL (RFC 4918 §9.3): no property.
pub fn parse_mkcol(body: &[u8]) -> Result<Vec<(PropName, PropValue)>, DavError> {
    let Some(root) = xml::parse(body)? else {
        return Ok(Vec::new());
    };
    expect_root(&root, DAV, "mkcol", "DAV:mkcol")?;
    set_props(&root)
}

/// The properties of every `DAV:set/DAV:prop` under `root`.
fn set_props(root: &Element) -> Result<Vec<(PropName, PropValue)>, DavError> {
    root.all(DAV, "set")
        .flat_map(|s| s.all(DAV, "prop"))
        .flat_map(|p| p.children.iter())
        .map(|p| Ok((p.name.clone(), value_of(p)?)))
        .collect()
}

/// Parses a REPORT body. A report we do not know is
/// [`DavError::UnsupportedReport`].
pub fn parse_report(body: &[u8]) -> Result<Report, DavError> {
    let root = xml::parse(body)?.ok_or(DavError::Missing("a REPORT body"))?;
    if root.is(CALDAV, "calendar-query") {
        let filter = root
            .child(CALDAV, "filter")
            .ok_or(DavError::Missing("CALDAV:filter"))?;
        return Ok(Report::CalendarQuery(CalendarQuery {
            props: props_or_all(&root)?,
            filter: parse_filter(filter)?,
            expand: expand_of(&root)?,
        }));
    }
    if root.is(CALDAV, "calendar-multiget") {
        let hrefs: Vec<String> = root
            .all(DAV, "href")
            .map(|h| h.text.trim().to_owned())
            .collect();
        if hrefs.is_empty() {
            return Err(DavError::Missing("DAV:href"));
        }
        return Ok(Report::CalendarMultiget(Multiget {
            props: props_or_all(&root)?,
            hrefs,
            expand: expand_of(&root)?,
        }));
    }
    if root.is(DAV, "sync-collection") {
        return parse_sync(&root).map(Report::SyncCollection);
    }
    Err(DavError::UnsupportedReport(root.name))
}

/// `<C:calendar-data><C:expand start=".." end=".."/></C:calendar-data>`
/// among a REPORT's requested properties (RFC 4791 §9.6.5).
fn expand_of(root: &Element) -> Result<Option<Expand>, DavError> {
    let Some(el) = root
        .child(DAV, "prop")
        .and_then(|p| p.child(CALDAV, "calendar-data"))
        .and_then(|d| d.child(CALDAV, "expand"))
    else {
        return Ok(None);
    };
    let bound = |name: &'static str| {
        let v = el
            .attr(name)
            .ok_or(DavError::Missing("the start and end of CALDAV:expand"))?;
        utc_seconds(v).ok_or_else(|| DavError::Invalid {
            what: "CALDAV:expand",
            value: excerpt(v),
        })
    };
    let (start, end) = (bound("start")?, bound("end")?);
    if end <= start {
        return Err(DavError::Invalid {
            what: "CALDAV:expand (end not after start)",
            value: format!("{start}..{end}"),
        });
    }
    Ok(Some(Expand { start, end }))
}

fn parse_sync(root: &Element) -> Result<SyncCollection, DavError> {
    let token = root
        .child(DAV, "sync-token")
        .ok_or(DavError::Missing("DAV:sync-token"))?;
    let level = root
        .child(DAV, "sync-level")
        .ok_or(DavError::Missing("DAV:sync-level"))?;
    let sync_level = match level.text.trim() {
        "1" => SyncLevel::One,
        "infinite" | "infinity" => SyncLevel::Infinite,
        other => {
            return Err(DavError::Invalid {
                what: "DAV:sync-level",
                value: excerpt(other),
            })
        }
    };
    let props = match root.child(DAV, "prop") {
        Some(p) => p.children.iter().map(|c| c.name.clone()).collect(),
        None => return Err(DavError::Missing("DAV:prop")),
    };
    let limit = match root.child(DAV, "limit") {
        None => None,
        Some(l) => {
            let n = l
                .child(DAV, "nresults")
                .ok_or(DavError::Missing("DAV:nresults"))?;
            Some(n.text.trim().parse().map_err(|_| DavError::Invalid {
                what: "DAV:nresults",
                value: excerpt(&n.text),
            })?)
        }
    };
    Ok(SyncCollection {
        sync_token: token.text.trim().to_owned(),
        sync_level,
        props,
        limit,
    })
}

fn expect_root(
    root: &Element,
    namespace: &str,
    local: &str,
    expected: &'static str,
) -> Result<(), DavError> {
    if root.is(namespace, local) {
        Ok(())
    } else {
        Err(DavError::UnexpectedRoot {
            expected,
            found: root.name.clone(),
        })
    }
}

/// `DAV:allprop` (with `DAV:include`), `DAV:propname` or `DAV:prop`
/// among `parent`'s children; `None` when there is none of them.
fn props_of(parent: &Element) -> Result<Option<Propfind>, DavError> {
    for c in &parent.children {
        if c.is(DAV, "prop") {
            return Ok(Some(Propfind::Prop(
                c.children.iter().map(|p| p.name.clone()).collect(),
            )));
        }
        if c.is(DAV, "propname") {
            return Ok(Some(Propfind::PropName));
        }
        if c.is(DAV, "allprop") {
            let include = parent
                .all(DAV, "include")
                .flat_map(|i| i.children.iter().map(|p| p.name.clone()))
                .collect();
            return Ok(Some(Propfind::AllProp { include }));
        }
    }
    Ok(None)
}

fn props_or_all(parent: &Element) -> Result<Propfind, DavError> {
    Ok(props_of(parent)?.unwrap_or(Propfind::AllProp {
        include: Vec::new(),
    }))
}

/// A property's value: typed for the properties whose content is
/// elements we know, else element content as an XML fragment, else text.
fn value_of(p: &Element) -> Result<PropValue, DavError> {
    if p.is(CALDAV, "supported-calendar-component-set") {
        return components(p).map(PropValue::Components);
    }
    if p.is(DAV, "resourcetype") {
        let kinds = p.children.iter().map(|c| c.name.clone()).collect();
        return Ok(PropValue::ResourceType(kinds));
    }
    Ok(if p.children.is_empty() {
        PropValue::Text(p.text.clone())
    } else {
        PropValue::Xml(p.inner_xml())
    })
}

/// RFC 4791 §9.6.1 `<!ELEMENT comp ...> <!ATTLIST comp name CDATA
/// #REQUIRED>`: each `CALDAV:comp`'s name; elements of other namespaces
/// are not ours to read and are passed over.
fn components(set: &Element) -> Result<Vec<String>, DavError> {
    set.all(CALDAV, "comp")
        .map(|c| {
            c.attr("name")
                .map(str::to_owned)
                .ok_or(DavError::Missing("the name attribute of CALDAV:comp"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propfind_forms() {
        assert_eq!(
            parse_propfind(b""),
            Ok(Propfind::AllProp { include: vec![] })
        );
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:resourcetype/><CS:getctag/><C:calendar-home-set/></D:prop>
</D:propfind>"#;
        assert_eq!(
            parse_propfind(body),
            Ok(Propfind::Prop(vec![
                PropName::dav("resourcetype"),
                PropName::new(crate::CALENDARSERVER, "getctag"),
                PropName::caldav("calendar-home-set"),
            ]))
        );
        assert_eq!(
            parse_propfind(b"<propfind xmlns=\"DAV:\"><propname/></propfind>"),
            Ok(Propfind::PropName)
        );
        assert_eq!(
            parse_propfind(b"<propfind xmlns=\"DAV:\"><allprop/><include><x xmlns=\"urn:x\"/></include></propfind>"),
            Ok(Propfind::AllProp { include: vec![PropName::new("urn:x", "x")] })
        );
        assert!(matches!(
            parse_propfind(b"<propfind/>"),
            Err(DavError::UnexpectedRoot { .. })
        ));
        assert_eq!(
            parse_propfind(b"<propfind xmlns=\"DAV:\"/>"),
            Err(DavError::Missing("DAV:prop, DAV:allprop or DAV:propname"))
        );
    }

    #[test]
    fn proppatch_keeps_order_text_and_fragments() {
        let body = br#"<d:propertyupdate xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:i="http://apple.com/ns/ical/">
<d:set><d:prop><d:displayname>Work &amp; play</d:displayname><i:calendar-color>#FF0000FF</i:calendar-color></d:prop></d:set>
<d:remove><d:prop><c:calendar-description/></d:prop></d:remove>
<d:set><d:prop><c:supported-calendar-component-set><c:comp name="VEVENT"/></c:supported-calendar-component-set></d:prop></d:set>
</d:propertyupdate>"#;
        let patches = parse_proppatch(body).unwrap();
        assert_eq!(
            patches,
            vec![
                Patch::Set(
                    PropName::dav("displayname"),
                    PropValue::Text("Work & play".into())
                ),
                Patch::Set(
                    PropName::new(crate::APPLE_ICAL, "calendar-color"),
                    PropValue::Text("#FF0000FF".into())
                ),
                Patch::Remove(PropName::caldav("calendar-description")),
                Patch::Set(
                    PropName::caldav("supported-calendar-component-set"),
                    PropValue::Components(vec!["VEVENT".into()])
                ),
            ]
        );
    }

    #[test]
    fn mkcalendar_body_is_optional() {
        assert_eq!(parse_mkcalendar(b""), Ok(vec![]));
        let body = b"<C:mkcalendar xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop>\
<D:displayname>Lisa's Events</D:displayname><C:calendar-timezone><![CDATA[BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n]]></C:calendar-timezone>\
</D:prop></D:set></C:mkcalendar>";
        assert_eq!(
            parse_mkcalendar(body),
            Ok(vec![
                (
                    PropName::dav("displayname"),
                    PropValue::Text("Lisa's Events".into())
                ),
                (
                    PropName::caldav("calendar-timezone"),
                    // XML §2.11: line ends arrive as LF.
                    PropValue::Text("BEGIN:VCALENDAR\nEND:VCALENDAR\n".into())
                ),
            ])
        );
    }

    fn components_of(body: &str) -> Result<Vec<(PropName, PropValue)>, DavError> {
        parse_mkcalendar(body.as_bytes())
    }

    #[test]
    fn mkcalendar_component_set_is_typed() {
        let set = |names: Vec<&str>| {
            Ok(vec![(
                PropName::caldav("supported-calendar-component-set"),
                PropValue::Components(names.into_iter().map(String::from).collect()),
            )])
        };
        // Prefixes of any spelling, a default namespace, attributes in
        // any order, an element of another namespace passed over.
        let body = r#"<cal:mkcalendar xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:x="DAV:"><x:set><x:prop>
<cal:supported-calendar-component-set><cal:comp other="1" name="VEVENT"/><cal:comp name="vtodo" other='2'></cal:comp>
<y:comp xmlns:y="urn:y" name="VJOURNAL"/></cal:supported-calendar-component-set></x:prop></x:set></cal:mkcalendar>"#;
        assert_eq!(components_of(body), set(vec!["VEVENT", "vtodo"]));
        let body = r#"<mkcalendar xmlns="urn:ietf:params:xml:ns:caldav"><set xmlns="DAV:"><prop>
<supported-calendar-component-set xmlns="urn:ietf:params:xml:ns:caldav"><comp name="VTODO"/></supported-calendar-component-set>
</prop></set></mkcalendar>"#;
        assert_eq!(components_of(body), set(vec!["VTODO"]));
        let empty = r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<C:supported-calendar-component-set/></D:prop></D:set></C:mkcalendar>"#;
        assert_eq!(components_of(empty), set(vec![]));
        let nameless = r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<C:supported-calendar-component-set><C:comp/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#;
        assert_eq!(
            components_of(nameless),
            Err(DavError::Missing("the name attribute of CALDAV:comp"))
        );
    }

    #[test]
    fn extended_mkcol_gives_the_resource_type() {
        assert_eq!(parse_mkcol(b"  "), Ok(vec![]));
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:resourcetype><D:collection/><C:calendar/></D:resourcetype><D:displayname>Work</D:displayname>
<C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
</D:prop></D:set></D:mkcol>"#;
        assert_eq!(
            parse_mkcol(body),
            Ok(vec![
                (
                    PropName::dav("resourcetype"),
                    PropValue::ResourceType(vec![
                        PropName::dav("collection"),
                        PropName::caldav("calendar")
                    ])
                ),
                (PropName::dav("displayname"), PropValue::Text("Work".into())),
                (
                    PropName::caldav("supported-calendar-component-set"),
                    PropValue::Components(vec!["VEVENT".into()])
                ),
            ])
        );
        assert!(matches!(
            parse_mkcol(b"<C:mkcalendar xmlns:C=\"urn:ietf:params:xml:ns:caldav\"/>"),
            Err(DavError::UnexpectedRoot { .. })
        ));
        // The reader's limits hold here too.
        assert_eq!(
            parse_mkcol(b"<!DOCTYPE mkcol [<!ENTITY x \"y\">]><mkcol xmlns=\"DAV:\"/>"),
            Err(DavError::Doctype)
        );
        let deep = format!(
            "<mkcol xmlns=\"DAV:\">{}{}</mkcol>",
            "<set>".repeat(crate::MAX_DEPTH),
            "</set>".repeat(crate::MAX_DEPTH)
        );
        assert_eq!(parse_mkcol(deep.as_bytes()), Err(DavError::TooDeep));
    }

    #[test]
    fn multiget_and_sync_collection() {
        let body = br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data/></D:prop>
<D:href>/bernard/work/abcd1.ics</D:href><D:href> /bernard/work/mtg1.ics </D:href></C:calendar-multiget>"#;
        let Ok(Report::CalendarMultiget(m)) = parse_report(body) else {
            panic!("not a multiget");
        };
        assert_eq!(
            m.hrefs,
            ["/bernard/work/abcd1.ics", "/bernard/work/mtg1.ics"]
        );
        assert_eq!(
            m.props,
            Propfind::Prop(vec![
                PropName::dav("getetag"),
                PropName::caldav("calendar-data")
            ])
        );
        let body = br#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>http://example.com/ns/sync/1234</D:sync-token>
<D:sync-level>1</D:sync-level><D:limit><D:nresults>100</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
        assert_eq!(
            parse_report(body),
            Ok(Report::SyncCollection(SyncCollection {
                sync_token: "http://example.com/ns/sync/1234".into(),
                sync_level: SyncLevel::One,
                props: vec![PropName::dav("getetag")],
                limit: Some(100),
            }))
        );
        let initial = b"<sync-collection xmlns=\"DAV:\"><sync-token/><sync-level>infinite</sync-level><prop/></sync-collection>";
        let Ok(Report::SyncCollection(s)) = parse_report(initial) else {
            panic!("not a sync-collection");
        };
        assert_eq!(
            (s.sync_token.as_str(), s.sync_level, s.limit),
            ("", SyncLevel::Infinite, None)
        );
        let bad = b"<sync-collection xmlns=\"DAV:\"><sync-token/><sync-level>2</sync-level><prop/></sync-collection>";
        assert!(matches!(parse_report(bad), Err(DavError::Invalid { .. })));
    }

    #[test]
    fn expand_is_read_from_the_requested_calendar_data() {
        // RFC 4791 §7.8.3's example: June 2006, recurrences expanded.
        let body = br#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-data><C:expand start="20060103T000000Z" end="20060105T000000Z"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="20060103T000000Z" end="20060105T000000Z"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#;
        let Ok(Report::CalendarQuery(q)) = parse_report(body) else {
            panic!("not a calendar-query");
        };
        assert_eq!(
            q.expand,
            Some(Expand {
                start: 1_136_246_400,
                end: 1_136_419_200
            })
        );
        let multiget = br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data><C:expand start="20060103T000000Z" end="20060104T000000Z"/></C:calendar-data></D:prop>
<D:href>/a.ics</D:href></C:calendar-multiget>"#;
        let Ok(Report::CalendarMultiget(m)) = parse_report(multiget) else {
            panic!("not a multiget");
        };
        assert_eq!(m.expand.map(|e| e.end - e.start), Some(86_400));

        let plain =
            br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-data/></D:prop><D:href>/a.ics</D:href></C:calendar-multiget>"#;
        let Ok(Report::CalendarMultiget(m)) = parse_report(plain) else {
            panic!("not a multiget");
        };
        assert_eq!(m.expand, None);

        for bad in [
            r#"<C:expand start="20060103T000000Z"/>"#,
            r#"<C:expand start="20060103" end="20060104T000000Z"/>"#,
            r#"<C:expand start="20060104T000000Z" end="20060103T000000Z"/>"#,
        ] {
            let body = format!(
                r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-data>{bad}</C:calendar-data></D:prop><D:href>/a.ics</D:href></C:calendar-multiget>"#
            );
            assert!(
                matches!(
                    parse_report(body.as_bytes()),
                    Err(DavError::Missing(_) | DavError::Invalid { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_report_is_typed() {
        let body = b"<C:free-busy-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\"/>";
        assert_eq!(
            parse_report(body),
            Err(DavError::UnsupportedReport(PropName::caldav(
                "free-busy-query"
            )))
        );
    }
}
