//! The CalDAV core (`postern-dav`): request bodies and iCalendar objects.
//!
//! Invariants of `dav_xml` (the first octet picks the method: PROPFIND,
//! PROPPATCH, MKCALENDAR, REPORT, MKCOL; the rest is the body):
//! - a DOCTYPE is always refused: the body behind one (with an internal
//!   subset declaring entities) is `Doctype` or `NotUtf8`, never parsed;
//! - the limits hold: the body nested inside `MAX_DEPTH` more elements,
//!   or after `MAX_ELEMENTS` more (now and then: it is slow), is refused;
//! - for an accepted PROPFIND naming properties, a multistatus listing
//!   them (with text from the input) is well-formed XML that our reader
//!   takes back.
//!
//! Invariants of `dav_ical` (the input is an iCalendar object):
//! - an accepted object has a UID of 1 to 255 octets, and its first
//!   start is not after its last end;
//! - its instances over the whole range it spans are at most
//!   `MAX_INSTANCES`, each ending no earlier than it starts, in order;
//! - its `<C:expand>` over that span does not panic, and an expanded
//!   answer holding a component is an accepted object of the same UID;
//! - a calendar-query filter with a time range and a text match runs
//!   on it without panicking.

use postern_dav::ical::{self, MAX_INSTANCES, MAX_UID};
use postern_dav::{
    parse_mkcalendar, parse_mkcol, parse_propfind, parse_proppatch, parse_report, DavError,
    Multistatus, PropName, Propfind, Report, Response, Value, MAX_DEPTH, MAX_ELEMENTS,
};

use super::session::excerpt;
use super::Target;

pub(super) const XML: Target = Target {
    name: "dav_xml",
    about: "WebDAV/CalDAV request bodies (PROPFIND, PROPPATCH, MKCALENDAR, REPORT, MKCOL)",
    run: fuzz_xml,
    seeds: xml_seeds,
};

pub(super) const ICAL: Target = Target {
    name: "dav_ical",
    about: "iCalendar objects: the RFC 4791 checks, instances and filters",
    run: fuzz_ical,
    seeds: ical_seeds,
};

/// How many methods the first octet chooses among.
const METHODS: u8 = 5;

/// Parses `body` as method `m`, only for success or the error.
fn parse(m: u8, body: &[u8]) -> Result<(), DavError> {
    match m % METHODS {
        0 => parse_propfind(body).map(drop),
        1 => parse_proppatch(body).map(drop),
        2 => parse_mkcalendar(body).map(drop),
        3 => parse_report(body).map(drop),
        _ => parse_mkcol(body).map(drop),
    }
}

fn fuzz_xml(input: &[u8]) {
    let Some((&m, body)) = input.split_first() else {
        return;
    };
    let result = parse(m, body);

    let mut doctyped =
        b"<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x \"&#60;a/&#62;\">]>".to_vec();
    doctyped.extend_from_slice(body);
    let refused = parse(m, &doctyped);
    assert!(
        matches!(refused, Err(DavError::Doctype | DavError::NotUtf8)),
        "a DOCTYPE got {refused:?}: {}",
        excerpt(body)
    );

    let deep = [
        "<a>".repeat(MAX_DEPTH).as_bytes(),
        body,
        "</a>".repeat(MAX_DEPTH).as_bytes(),
    ]
    .concat();
    assert!(parse(m, &deep).is_err(), "depth limit: {}", excerpt(body));
    if m >= 0xf0 {
        let many = [
            "<a>".as_bytes(),
            "<b/>".repeat(MAX_ELEMENTS).as_bytes(),
            body,
            b"</a>",
        ]
        .concat();
        assert!(parse(m, &many).is_err(), "element limit: {}", excerpt(body));
    }

    if let (0, Ok(Propfind::Prop(names))) = (m % METHODS, parse_propfind(body)) {
        assert!(result.is_ok());
        // Short text and few names: the check is about escaping, and a
        // body's worth of text per property would be quadratic.
        let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
        let mut r = Response::new(&text);
        for n in names.into_iter().take(100) {
            r.found(n, Value::Text(text.clone()));
        }
        r.found(PropName::dav("x"), Value::CalendarData(text.clone()));
        let mut ms = Multistatus::new();
        ms.push(r).sync_token(&text);
        let out = ms.to_bytes();
        // The root is not a propfind, so the only acceptable error says
        // exactly that: anything else means we wrote malformed XML.
        let back = parse_propfind(&out);
        assert!(
            matches!(back, Err(DavError::UnexpectedRoot { .. })),
            "unreadable multistatus ({back:?}): {}",
            excerpt(&out)
        );
    }
}

fn xml_seeds() -> Vec<Vec<u8>> {
    let with = |m: u8, body: &str| [&[m][..], body.as_bytes()].concat();
    vec![
        with(0, "<?xml version=\"1.0\" encoding=\"utf-8\"?><D:propfind xmlns:D=\"DAV:\" xmlns:CS=\"http://calendarserver.org/ns/\"><D:prop><D:resourcetype/><CS:getctag/><x:y xmlns:x=\"urn:x\"/></D:prop></D:propfind>"),
        with(0, ""),
        with(1, "<d:propertyupdate xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:set><d:prop><d:displayname>A &amp; B</d:displayname><c:supported-calendar-component-set><c:comp name=\"VEVENT\"/></c:supported-calendar-component-set></d:prop></d:set><d:remove><d:prop><c:calendar-description/></d:prop></d:remove></d:propertyupdate>"),
        with(2, "<C:mkcalendar xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop><C:calendar-timezone><![CDATA[BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n]]></C:calendar-timezone></D:prop></D:set></C:mkcalendar>"),
        with(3, "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\"><C:comp-filter name=\"VEVENT\"><C:time-range start=\"20060104T000000Z\" end=\"20060105T000000Z\"/><C:prop-filter name=\"ATTENDEE\"><C:text-match collation=\"i;octet\" negate-condition=\"yes\">x</C:text-match><C:param-filter name=\"PARTSTAT\"><C:is-not-defined/></C:param-filter></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"),
        with(8, "<C:calendar-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:prop><C:calendar-data/></D:prop><D:href>/a%20b.ics</D:href></C:calendar-multiget>"),
        with(4, "<D:mkcol xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype><D:displayname>W</D:displayname><C:supported-calendar-component-set><C:comp name=\"VEVENT\"/><C:comp/></C:supported-calendar-component-set></D:prop></D:set></D:mkcol>"),
        with(0xf3, "<sync-collection xmlns=\"DAV:\"><sync-token>t&#x31;</sync-token><sync-level>1</sync-level><limit><nresults>10</nresults></limit><prop><getetag/></prop></sync-collection>"),
    ]
}

fn fuzz_ical(input: &[u8]) {
    let Ok(a) = ical::analyze(input) else {
        return;
    };
    assert!(
        (1..=MAX_UID).contains(&a.uid.len()),
        "UID of {} octets: {}",
        a.uid.len(),
        excerpt(input)
    );
    if let (Some(s), Some(e)) = (a.first_start, a.last_end) {
        assert!(
            s <= e,
            "first start {s} after last end {e}: {}",
            excerpt(input)
        );
    }
    let from = a.first_start.unwrap_or(0);
    let to = a.last_end.unwrap_or(from).saturating_add(86_400 * 366);
    let all = ical::instances(input, from, to).expect("accepted once, accepted again");
    assert!(all.len() <= MAX_INSTANCES);
    for pair in all.windows(2) {
        assert!(pair[0].start <= pair[1].start, "out of order");
    }
    for i in &all {
        assert!(i.start <= i.end, "{i:?}: {}", excerpt(input));
    }
    // `<C:expand>` over the same span: no panic, and an answer holding a
    // component is itself an accepted object of the same UID.
    let expanded =
        postern_dav::expand::expand(input, from, to).expect("accepted once, expanded too");
    if expanded.contains("BEGIN:VEVENT") || expanded.contains("BEGIN:VTODO") {
        let back = ical::analyze(expanded.as_bytes())
            .unwrap_or_else(|e| panic!("expanded output refused ({e}):\n{expanded}"));
        assert_eq!(back.uid, a.uid, "{expanded}");
    }
    let query = b"<C:calendar-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><C:filter><C:comp-filter name=\"VCALENDAR\">\
<C:comp-filter name=\"VEVENT\"><C:time-range start=\"20260101T000000Z\"/><C:prop-filter name=\"SUMMARY\"><C:text-match>a</C:text-match></C:prop-filter></C:comp-filter>\
<C:comp-filter name=\"VTODO\"><C:is-not-defined/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>";
    if let Ok(Report::CalendarQuery(q)) = parse_report(query) {
        ical::matches(input, &q.filter);
    }
}

fn ical_seeds() -> Vec<Vec<u8>> {
    vec![
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:w@x\r\nDTSTART;TZID=Europe/Paris:20260302T100000\r\nDTEND;TZID=Europe/Paris:20260302T110000\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\nEXDATE;TZID=Europe/Paris:20260316T100000\r\nSUMMARY:a\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:w@x\r\nRECURRENCE-ID;TZID=Europe/Paris:20260323T100000\r\nDTSTART;TZID=Europe/Paris:20260323T140000\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".to_vec(),
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20261224\r\nRRULE:FREQ=YEARLY\r\nRDATE;VALUE=DATE:20270101\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".to_vec(),
        b"BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nDUE:20261201T170000Z\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VTODO\r\nEND:VCALENDAR\r\n".to_vec(),
    ]
}
