//! iCalendar objects as clients send them: the RFC 4791 §4.1 checks,
//! instances across a DST change, all-day events, to-dos, endless rules,
//! and calendar-query filters over them.

use postern_dav::ical::{analyze, instances, matches, Analyzed, Component, IcalError, Instance};
use postern_dav::{parse_report, Condition, Report};

/// Unix seconds of a UTC date-time, to keep the expectations readable.
fn utc(s: &str) -> i64 {
    postern_dav::filter::utc_seconds(s).unwrap()
}

fn crlf(s: &str) -> Vec<u8> {
    s.trim_start().replace('\n', "\r\n").into_bytes()
}

const PARIS_TZ: &str = "BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
";

/// Weekly on Mondays at 10:00 Paris time, six times from 2 March 2026
/// (CET) past the change to CEST on 29 March; 16 March cancelled, 23
/// March moved to 14:00.
fn weekly() -> Vec<u8> {
    crlf(&format!(
        "
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example Corp.//CalDAV Client//EN
{PARIS_TZ}BEGIN:VEVENT
UID:weekly-standup@example.test
DTSTAMP:20260201T120000Z
DTSTART;TZID=Europe/Paris:20260302T100000
DTEND;TZID=Europe/Paris:20260302T110000
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/Paris:20260316T100000
SUMMARY:Standup
END:VEVENT
BEGIN:VEVENT
UID:weekly-standup@example.test
DTSTAMP:20260201T120000Z
RECURRENCE-ID;TZID=Europe/Paris:20260323T100000
DTSTART;TZID=Europe/Paris:20260323T140000
DTEND;TZID=Europe/Paris:20260323T150000
SUMMARY:Standup (moved)
ATTENDEE;PARTSTAT=NEEDS-ACTION;CN=Bob:mailto:bob@example.test
END:VEVENT
END:VCALENDAR
"
    ))
}

fn instance(start: &str, end: &str, rid: &str, summary: &str) -> Instance {
    Instance {
        start: utc(start),
        end: utc(end),
        recurrence_id: Some(utc(rid)),
        summary: Some(summary.into()),
    }
}

#[test]
fn weekly_rule_with_exdate_override_and_dst() {
    let data = weekly();
    assert_eq!(
        analyze(&data),
        Ok(Analyzed {
            uid: "weekly-standup@example.test".into(),
            component: Component::Event,
            first_start: Some(utc("20260302T090000Z")),
            last_end: Some(utc("20260406T090000Z")),
        })
    );
    let all = instances(&data, utc("20260101T000000Z"), utc("20270101T000000Z")).unwrap();
    assert_eq!(
        all,
        vec![
            instance(
                "20260302T090000Z",
                "20260302T100000Z",
                "20260302T090000Z",
                "Standup"
            ),
            instance(
                "20260309T090000Z",
                "20260309T100000Z",
                "20260309T090000Z",
                "Standup"
            ),
            // 16 March is excluded; 23 March moved to 14:00 CET.
            instance(
                "20260323T130000Z",
                "20260323T140000Z",
                "20260323T090000Z",
                "Standup (moved)"
            ),
            // After 29 March, 10:00 in Paris is 08:00 UTC.
            instance(
                "20260330T080000Z",
                "20260330T090000Z",
                "20260330T080000Z",
                "Standup"
            ),
            instance(
                "20260406T080000Z",
                "20260406T090000Z",
                "20260406T080000Z",
                "Standup"
            ),
        ]
    );
    // The window is half-open: an instance ending at its start is out.
    let window = instances(&data, utc("20260309T100000Z"), utc("20260330T080000Z")).unwrap();
    assert_eq!(window.len(), 1);
    assert_eq!(window[0].summary.as_deref(), Some("Standup (moved)"));
}

#[test]
fn all_day_event() {
    let data = crlf(
        "
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example//EN
BEGIN:VEVENT
UID:xmas
DTSTAMP:20261101T000000Z
DTSTART;VALUE=DATE:20261224
DTEND;VALUE=DATE:20261226
SUMMARY:Christmas
END:VEVENT
END:VCALENDAR
",
    );
    let a = analyze(&data).unwrap();
    assert_eq!(
        (a.first_start, a.last_end),
        (Some(utc("20261224T000000Z")), Some(utc("20261226T000000Z")))
    );
    let one = instances(&data, 0, i64::from(i32::MAX)).unwrap();
    assert_eq!(one[0].recurrence_id, None, "not a recurring event");
}

#[test]
fn todo_with_due_is_an_instant() {
    let data = crlf(
        "
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example//EN
BEGIN:VTODO
UID:todo-1
DTSTAMP:20261101T000000Z
DUE:20261201T170000Z
SUMMARY:Send the report
END:VTODO
END:VCALENDAR
",
    );
    let due = utc("20261201T170000Z");
    assert_eq!(
        analyze(&data),
        Ok(Analyzed {
            uid: "todo-1".into(),
            component: Component::Todo,
            first_start: Some(due),
            last_end: Some(due),
        })
    );
}

#[test]
fn endless_rule_has_no_last_end() {
    let data = crlf(
        "
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example//EN
BEGIN:VEVENT
UID:daily
DTSTAMP:20260101T000000Z
DTSTART:20260101T073000Z
DURATION:PT30M
RRULE:FREQ=DAILY
SUMMARY:Run
END:VEVENT
END:VCALENDAR
",
    );
    let a = analyze(&data).unwrap();
    assert_eq!(
        (a.first_start, a.last_end),
        (Some(utc("20260101T073000Z")), None)
    );
    let week = instances(&data, utc("20270601T000000Z"), utc("20270608T000000Z")).unwrap();
    assert_eq!(week.len(), 7);
    assert_eq!(week[0].start, utc("20270601T073000Z"));
    assert_eq!(week[0].end - week[0].start, 1800);
    // 74 years on: the walk goes that far (about 27,000 occurrences).
    let far = instances(&data, utc("21000101T000000Z"), utc("21000103T000000Z")).unwrap();
    assert_eq!(far.len(), 2);
    assert_eq!(far[1].start, utc("21000102T073000Z"));
    let far = query(
        "<C:comp-filter name=\"VEVENT\"><C:time-range start=\"21000101T000000Z\" end=\"21000101T080000Z\"/></C:comp-filter>",
    );
    assert!(matches(&data, &far));
}

fn refused(body: &str) -> IcalError {
    analyze(&crlf(body)).unwrap_err()
}

#[test]
fn malformed_objects_are_refused() {
    let no_end = "
BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
UID:a
DTSTART:20260101T000000Z
END:VEVENT
";
    assert!(matches!(refused(no_end), IcalError::NotCalendar(_)));
    let two_uids = "
BEGIN:VCALENDAR
BEGIN:VEVENT
UID:a
DTSTART:20260101T000000Z
END:VEVENT
BEGIN:VEVENT
UID:b
DTSTART:20260102T000000Z
END:VEVENT
END:VCALENDAR
";
    assert_eq!(refused(two_uids), IcalError::DifferentUids);
    let method = "
BEGIN:VCALENDAR
METHOD:REQUEST
BEGIN:VEVENT
UID:a
DTSTART:20260101T000000Z
END:VEVENT
END:VCALENDAR
";
    assert_eq!(refused(method), IcalError::Method);
    let journal = "
BEGIN:VCALENDAR
BEGIN:VJOURNAL
UID:j
DTSTART;VALUE=DATE:20260101
END:VJOURNAL
END:VCALENDAR
";
    let e = refused(journal);
    assert_eq!(e, IcalError::Unsupported("VJOURNAL".into()));
    assert_eq!(e.condition(), Condition::SupportedCalendarComponent);
    let mixed = "
BEGIN:VCALENDAR
BEGIN:VEVENT
UID:a
DTSTART:20260101T000000Z
END:VEVENT
BEGIN:VTODO
UID:a
END:VTODO
END:VCALENDAR
";
    assert_eq!(refused(mixed), IcalError::MixedComponents);
    let no_uid = "
BEGIN:VCALENDAR
BEGIN:VEVENT
DTSTART:20260101T000000Z
END:VEVENT
END:VCALENDAR
";
    assert_eq!(refused(no_uid), IcalError::MissingUid);
    let long_uid = format!(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:{}\nDTSTART:20260101T000000Z\nEND:VEVENT\nEND:VCALENDAR\n",
        "u".repeat(256)
    );
    assert_eq!(refused(&long_uid), IcalError::UidTooLong);
    let two_masters = "
BEGIN:VCALENDAR
BEGIN:VEVENT
UID:a
DTSTART:20260101T000000Z
END:VEVENT
BEGIN:VEVENT
UID:a
DTSTART:20260102T000000Z
END:VEVENT
END:VCALENDAR
";
    assert_eq!(refused(two_masters), IcalError::TwoMasters);
    let no_dtstart = "
BEGIN:VCALENDAR
BEGIN:VEVENT
UID:a
SUMMARY:when?
END:VEVENT
END:VCALENDAR
";
    assert!(matches!(refused(no_dtstart), IcalError::Dates(_)));
    let two_objects = "
BEGIN:VCALENDAR
BEGIN:VEVENT
UID:a
DTSTART:20260101T000000Z
END:VEVENT
END:VCALENDAR
BEGIN:VCALENDAR
END:VCALENDAR
";
    assert_eq!(refused(two_objects), IcalError::TrailingData);
    assert!(matches!(refused("hello"), IcalError::NotCalendar(_)));
    assert_eq!(analyze(b"BEGIN:VCALENDAR\xff"), Err(IcalError::NotUtf8));
    assert_eq!(
        refused("BEGIN:VCALENDAR\nEND:VCALENDAR\n"),
        IcalError::NoComponent
    );
}

fn query(filter: &str) -> postern_dav::Filter {
    let body = format!(
        "<C:calendar-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\" xmlns:D=\"DAV:\"><D:prop><D:getetag/></D:prop>\
<C:filter><C:comp-filter name=\"VCALENDAR\">{filter}</C:comp-filter></C:filter></C:calendar-query>"
    );
    match parse_report(body.as_bytes()) {
        Ok(Report::CalendarQuery(q)) => q.filter,
        other => panic!("{other:?}"),
    }
}

#[test]
fn time_range_filters_follow_the_recurrence_set() {
    let data = weekly();
    let range = |s: &str, e: &str| {
        query(&format!(
            "<C:comp-filter name=\"VEVENT\"><C:time-range start=\"{s}\" end=\"{e}\"/></C:comp-filter>"
        ))
    };
    // 9 March: an ordinary instance.
    assert!(matches(
        &data,
        &range("20260309T000000Z", "20260310T000000Z")
    ));
    // 16 March: excluded.
    assert!(!matches(
        &data,
        &range("20260316T000000Z", "20260317T000000Z")
    ));
    // 23 March 09:00 UTC is where the moved instance was: now empty.
    assert!(!matches(
        &data,
        &range("20260323T090000Z", "20260323T100000Z")
    ));
    assert!(matches(
        &data,
        &range("20260323T133000Z", "20260323T134500Z")
    ));
    // After the last one.
    assert!(!matches(
        &data,
        &range("20260407T000000Z", "20270101T000000Z")
    ));
    // No VTODO in it.
    assert!(!matches(&data, &query("<C:comp-filter name=\"VTODO\"/>")));
    assert!(matches(
        &data,
        &query("<C:comp-filter name=\"VTODO\"><C:is-not-defined/></C:comp-filter>")
    ));
}

#[test]
fn property_and_parameter_filters() {
    let data = weekly();
    let summary = |text: &str, extra: &str| {
        query(&format!(
            "<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"SUMMARY\"><C:text-match {extra}>{text}</C:text-match></C:prop-filter></C:comp-filter>"
        ))
    };
    assert!(matches(&data, &summary("MOVED", "")));
    assert!(!matches(&data, &summary("MOVED", "collation=\"i;octet\"")));
    assert!(matches(&data, &summary("moved", "collation=\"i;octet\"")));
    assert!(!matches(&data, &summary("lunch", "")));
    assert!(matches(
        &data,
        &summary("lunch", "negate-condition=\"yes\"")
    ));
    let partstat = |value: &str| {
        query(&format!(
            "<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"ATTENDEE\"><C:text-match>bob@</C:text-match>\
<C:param-filter name=\"PARTSTAT\"><C:text-match>{value}</C:text-match></C:param-filter></C:prop-filter></C:comp-filter>"
        ))
    };
    assert!(matches(&data, &partstat("NEEDS-ACTION")));
    assert!(!matches(&data, &partstat("ACCEPTED")));
    let no_location = query(
        "<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"LOCATION\"><C:is-not-defined/></C:prop-filter></C:comp-filter>",
    );
    assert!(matches(&data, &no_location));
    assert!(!matches(b"not ical", &no_location));
}

#[test]
fn vtimezone_named_by_its_location() {
    // Thunderbird's old form: a private TZID, the zone in X-LIC-LOCATION.
    let tz = PARIS_TZ.replace(
        "TZID:Europe/Paris\n",
        "TZID:/mozilla.org/20050126_1/Europe/Paris\nX-LIC-LOCATION:Europe/Paris\n",
    );
    let data = String::from_utf8(weekly())
        .unwrap()
        .replace(&PARIS_TZ.replace('\n', "\r\n"), &tz.replace('\n', "\r\n"))
        .replace(
            "TZID=Europe/Paris",
            "TZID=/mozilla.org/20050126_1/Europe/Paris",
        );
    assert!(data.contains("X-LIC-LOCATION"));
    let a = analyze(data.as_bytes()).unwrap();
    assert_eq!(
        (a.first_start, a.last_end),
        (Some(utc("20260302T090000Z")), Some(utc("20260406T090000Z")))
    );
}

#[test]
fn floating_times_are_utc() {
    let data = crlf(
        "
BEGIN:VCALENDAR
BEGIN:VEVENT
UID:f
DTSTART:20260101T073000
DTEND:20260101T080000
END:VEVENT
END:VCALENDAR
",
    );
    let a = analyze(&data).unwrap();
    assert_eq!(
        (a.first_start, a.last_end),
        (Some(utc("20260101T073000Z")), Some(utc("20260101T080000Z")))
    );
}
