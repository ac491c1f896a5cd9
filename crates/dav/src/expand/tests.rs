use super::expand;
use crate::ical::{self, IcalError, MAX_INSTANCES};

/// Unix seconds of a UTC time given as `YYYYMMDDTHHMMSS`.
fn utc(s: &str) -> i64 {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(4, 6), n(6, 8));
    // Days from civil (proleptic Gregorian), March-based year.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(9, 11) * 3600 + n(11, 13) * 60 + n(13, 15)
}

const BERLIN: &str = "BEGIN:VTIMEZONE\r\n\
TZID:Europe/Berlin\r\n\
BEGIN:DAYLIGHT\r\n\
TZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\n\
TZNAME:CEST\r\n\
DTSTART:19700329T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
END:DAYLIGHT\r\n\
BEGIN:STANDARD\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
TZNAME:CET\r\n\
DTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n";

fn cal(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n")
}

fn run(body: &str, start: &str, end: &str) -> String {
    let data = cal(body);
    let out = expand(data.as_bytes(), utc(start), utc(end)).expect("expands");
    check_shape(&out);
    out
}

/// CRLF lines of at most 75 octets, no recurrence property, no
/// VTIMEZONE, no TZID (RFC 4791 §9.6.5, RFC 5545 §3.1).
fn check_shape(out: &str) {
    assert!(out.ends_with("END:VCALENDAR\r\n"), "{out}");
    for line in out.split("\r\n") {
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "bare newline in {out:?}"
        );
        assert!(line.len() <= 75, "line over 75 octets: {line:?}");
        for banned in ["RRULE", "RDATE", "EXDATE", "EXRULE", "TZID", "VTIMEZONE"] {
            assert!(
                !line.starts_with(banned)
                    && !line.contains(&format!(";{banned}"))
                    && !line.contains(&format!(":{banned}")),
                "{banned} left in {out}"
            );
        }
    }
}

/// The values of `name` lines (parameters dropped), in order.
fn values(out: &str, name: &str) -> Vec<String> {
    unfold(out)
        .into_iter()
        .filter(|l| l.split([':', ';']).next() == Some(name))
        .map(|l| {
            l.split_once(':')
                .map(|x| x.1.to_owned())
                .unwrap_or_default()
        })
        .collect()
}

fn unfold(out: &str) -> Vec<String> {
    out.replace("\r\n ", "")
        .split("\r\n")
        .map(str::to_owned)
        .collect()
}

fn count(out: &str, line: &str) -> usize {
    unfold(out).iter().filter(|l| *l == line).count()
}

const WEEKLY_BERLIN: &str = "BEGIN:VEVENT\r\n\
UID:weekly@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20260312T100000\r\n\
DTEND;TZID=Europe/Berlin:20260312T110000\r\n\
RRULE:FREQ=WEEKLY;COUNT=6\r\n\
SUMMARY:Weekly\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
DESCRIPTION:soon\r\n\
TRIGGER:-PT15M\r\n\
END:VALARM\r\n\
END:VEVENT\r\n";

#[test]
fn weekly_across_dst_shifts_utc_by_an_hour() {
    let body = format!("{BERLIN}{WEEKLY_BERLIN}");
    let out = run(&body, "20260301T000000", "20260501T000000");
    // Berlin moves to CEST on 29 March 2026: 10:00 is 09:00Z before and
    // 08:00Z after.
    assert_eq!(
        values(&out, "DTSTART"),
        [
            "20260312T090000Z",
            "20260319T090000Z",
            "20260326T090000Z",
            "20260402T080000Z",
            "20260409T080000Z",
            "20260416T080000Z"
        ]
    );
    assert_eq!(values(&out, "DTEND")[3], "20260402T090000Z");
    assert_eq!(values(&out, "RECURRENCE-ID"), values(&out, "DTSTART"));
    assert_eq!(count(&out, "BEGIN:VALARM"), 6, "{out}");
    assert_eq!(count(&out, "SUMMARY:Weekly"), 6);
    let analyzed = ical::analyze(out.as_bytes()).expect("the answer is a valid object");
    assert_eq!(analyzed.uid, "weekly@example.com");
    assert_eq!(analyzed.first_start, Some(utc("20260312T090000")));
}

#[test]
fn range_keeps_only_overlapping_instances() {
    let body = format!("{BERLIN}{WEEKLY_BERLIN}");
    let out = run(&body, "20260319T093000", "20260402T080000");
    // 19 March 09:00-10:00Z overlaps; 2 April starts at the range's end.
    assert_eq!(
        values(&out, "DTSTART"),
        ["20260319T090000Z", "20260326T090000Z"]
    );
}

#[test]
fn exdate_removes_and_rdate_adds() {
    let body = "BEGIN:VEVENT\r\n\
UID:ex@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
DTSTART:20260601T120000Z\r\n\
DURATION:PT1H\r\n\
RRULE:FREQ=DAILY;COUNT=4\r\n\
EXDATE:20260602T120000Z\r\n\
RDATE:20260610T150000Z\r\n\
END:VEVENT\r\n";
    let out = run(body, "20260601T000000", "20260701T000000");
    let mut starts = values(&out, "DTSTART");
    starts.sort();
    assert_eq!(
        starts,
        [
            "20260601T120000Z",
            "20260603T120000Z",
            "20260604T120000Z",
            "20260610T150000Z"
        ]
    );
    assert_eq!(count(&out, "DURATION:PT1H"), 4);
    assert!(values(&out, "RECURRENCE-ID").contains(&"20260610T150000Z".to_owned()));
}

fn with_override(rid: &str, start: &str, end: &str) -> String {
    format!(
        "{BERLIN}{WEEKLY_BERLIN}BEGIN:VEVENT\r\n\
UID:weekly@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:{rid}\r\n\
DTSTART;TZID=Europe/Berlin:{start}\r\n\
DTEND;TZID=Europe/Berlin:{end}\r\n\
SUMMARY:Moved\r\n\
END:VEVENT\r\n"
    )
}

#[test]
fn override_replaces_the_generated_instance() {
    let body = with_override("20260319T100000", "20260319T140000", "20260319T150000");
    let out = run(&body, "20260301T000000", "20260501T000000");
    assert_eq!(count(&out, "BEGIN:VEVENT"), 6);
    assert_eq!(count(&out, "SUMMARY:Moved"), 1);
    assert_eq!(count(&out, "SUMMARY:Weekly"), 5);
    assert!(values(&out, "DTSTART").contains(&"20260319T130000Z".to_owned()));
    assert!(!values(&out, "DTSTART").contains(&"20260319T090000Z".to_owned()));
    // Named by the original start, in UTC.
    assert_eq!(count(&out, "RECURRENCE-ID:20260319T090000Z"), 1);
    ical::analyze(out.as_bytes()).expect("valid");
}

#[test]
fn override_moved_into_the_range_appears() {
    // The 16 April instance is moved to 30 April.
    let body = with_override("20260416T100000", "20260430T100000", "20260430T110000");
    let out = run(&body, "20260420T000000", "20260501T000000");
    assert_eq!(values(&out, "DTSTART"), ["20260430T080000Z"]);
    assert_eq!(values(&out, "RECURRENCE-ID"), ["20260416T080000Z"]);
    assert_eq!(count(&out, "SUMMARY:Moved"), 1);
}

#[test]
fn override_moved_out_of_the_range_is_gone() {
    // The 19 March instance moves to May; March 15-22 then has nothing.
    let body = with_override("20260319T100000", "20260520T100000", "20260520T110000");
    let out = run(&body, "20260315T000000", "20260322T000000");
    assert_eq!(count(&out, "BEGIN:VEVENT"), 0, "{out}");
    assert!(out.starts_with("BEGIN:VCALENDAR\r\n"));
}

#[test]
fn all_day_yearly_stays_date() {
    let body = "BEGIN:VEVENT\r\n\
UID:bday@example.com\r\n\
DTSTAMP:20200101T000000Z\r\n\
DTSTART;VALUE=DATE:20200615\r\n\
DTEND;VALUE=DATE:20200616\r\n\
RRULE:FREQ=YEARLY\r\n\
SUMMARY:Birthday\r\n\
END:VEVENT\r\n";
    let out = run(body, "20250101T000000", "20280101T000000");
    assert_eq!(count(&out, "DTSTART;VALUE=DATE:20250615"), 1, "{out}");
    assert_eq!(count(&out, "DTEND;VALUE=DATE:20260616"), 1, "{out}");
    assert_eq!(count(&out, "RECURRENCE-ID;VALUE=DATE:20270615"), 1, "{out}");
    assert_eq!(count(&out, "BEGIN:VEVENT"), 3);
    ical::analyze(out.as_bytes()).expect("valid");
}

#[test]
fn count_and_until_end_the_rule() {
    let counted = "BEGIN:VEVENT\r\n\
UID:c@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
DTSTART:20260601T080000Z\r\n\
RRULE:FREQ=DAILY;COUNT=3\r\n\
END:VEVENT\r\n";
    let out = run(counted, "20260101T000000", "20270101T000000");
    assert_eq!(
        values(&out, "DTSTART"),
        ["20260601T080000Z", "20260602T080000Z", "20260603T080000Z"]
    );
    let until = "BEGIN:VEVENT\r\n\
UID:u@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
DTSTART:20260601T080000Z\r\n\
RRULE:FREQ=WEEKLY;UNTIL=20260615T080000Z\r\n\
END:VEVENT\r\n";
    let out = run(until, "20260101T000000", "20270101T000000");
    assert_eq!(
        values(&out, "DTSTART"),
        ["20260601T080000Z", "20260608T080000Z", "20260615T080000Z"]
    );
}

const SINGLE: &str = "BEGIN:VEVENT\r\n\
UID:one@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20260610T100000\r\n\
DTEND;TZID=Europe/Berlin:20260610T113000\r\n\
SUMMARY:Once\r\n\
END:VEVENT\r\n";

#[test]
fn single_event_inside_is_kept_in_utc() {
    let body = format!("{BERLIN}{SINGLE}");
    let out = run(&body, "20260601T000000", "20260701T000000");
    assert_eq!(values(&out, "DTSTART"), ["20260610T080000Z"]);
    assert_eq!(values(&out, "DTEND"), ["20260610T093000Z"]);
    // Not recurring: nothing to name.
    assert!(values(&out, "RECURRENCE-ID").is_empty());
    assert_eq!(count(&out, "SUMMARY:Once"), 1);
}

#[test]
fn single_event_outside_is_dropped() {
    let body = format!("{BERLIN}{SINGLE}");
    let out = run(&body, "20260701T000000", "20260801T000000");
    assert_eq!(count(&out, "BEGIN:VEVENT"), 0, "{out}");
    assert_eq!(
        ical::analyze(out.as_bytes()),
        Err(IcalError::NoComponent),
        "an empty answer is said so, not passed off as an object"
    );
}

#[test]
fn floating_time_is_read_as_utc() {
    let body = "BEGIN:VEVENT\r\n\
UID:float@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
DTSTART:20260601T090000\r\n\
DTEND:20260601T100000\r\n\
RRULE:FREQ=DAILY;COUNT=2\r\n\
END:VEVENT\r\n";
    let out = run(body, "20260601T000000", "20260701T000000");
    assert_eq!(
        values(&out, "DTSTART"),
        ["20260601T090000Z", "20260602T090000Z"]
    );
    assert_eq!(values(&out, "DTEND")[1], "20260602T100000Z");
}

#[test]
fn recurring_todo_is_expanded_and_dateless_todo_kept() {
    let body = "BEGIN:VTODO\r\n\
UID:todo@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
DTSTART:20260601T080000Z\r\n\
DUE:20260601T100000Z\r\n\
RRULE:FREQ=WEEKLY;COUNT=3\r\n\
SUMMARY:Bins\r\n\
END:VTODO\r\n";
    let out = run(body, "20260605T000000", "20260701T000000");
    assert_eq!(
        values(&out, "DUE"),
        ["20260608T100000Z", "20260615T100000Z"]
    );
    assert_eq!(values(&out, "RECURRENCE-ID"), values(&out, "DTSTART"));
    let dateless = "BEGIN:VTODO\r\n\
UID:any@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
SUMMARY:Someday\r\n\
END:VTODO\r\n";
    let out = run(dateless, "20260601T000000", "20260701T000000");
    assert_eq!(count(&out, "SUMMARY:Someday"), 1, "{out}");
    ical::analyze(out.as_bytes()).expect("valid");
}

#[test]
fn long_lines_are_folded() {
    let long = "x".repeat(300);
    let body = format!(
        "BEGIN:VEVENT\r\nUID:fold@example.com\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20260601T080000Z\r\nRRULE:FREQ=DAILY;COUNT=2\r\nDESCRIPTION:{long}\r\nEND:VEVENT\r\n"
    );
    let out = run(&body, "20260601T000000", "20260701T000000");
    assert_eq!(values(&out, "DESCRIPTION"), [long.clone(), long]);
}

#[test]
fn instance_count_is_bounded() {
    let body = "BEGIN:VEVENT\r\n\
UID:minutely@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
DTSTART:20260101T000000Z\r\n\
RRULE:FREQ=MINUTELY\r\n\
END:VEVENT\r\n";
    let out = run(body, "20260101T000000", "20270101T000000");
    assert_eq!(count(&out, "BEGIN:VEVENT"), MAX_INSTANCES);
    assert_eq!(values(&out, "DTSTART")[0], "20260101T000000Z");
}

#[test]
fn invalid_data_is_refused() {
    assert_eq!(
        expand(b"BEGIN:VCALENDAR\r\n", 0, 1),
        Err(IcalError::NotCalendar(
            "the last line is not END:VCALENDAR".into()
        ))
    );
}

#[test]
fn this_and_future_override_names_later_instances_by_their_rule_start() {
    // From 2 April on, the series moves two hours later (RFC 5545
    // §3.2.13 RANGE=THISANDFUTURE).
    let body = format!(
        "{BERLIN}{WEEKLY_BERLIN}BEGIN:VEVENT\r\n\
UID:weekly@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260402T100000\r\n\
DTSTART;TZID=Europe/Berlin:20260402T120000\r\n\
DTEND;TZID=Europe/Berlin:20260402T130000\r\n\
SUMMARY:Later\r\n\
END:VEVENT\r\n"
    );
    let out = run(&body, "20260401T000000", "20260501T000000");
    assert_eq!(
        values(&out, "DTSTART"),
        ["20260402T100000Z", "20260409T100000Z", "20260416T100000Z"]
    );
    assert_eq!(
        values(&out, "RECURRENCE-ID"),
        ["20260402T080000Z", "20260409T080000Z", "20260416T080000Z"]
    );
    assert_eq!(count(&out, "SUMMARY:Later"), 3);
}

#[test]
fn sample_output_is_readable() {
    let body = format!("{BERLIN}{WEEKLY_BERLIN}");
    let out = run(&body, "20260326T000000", "20260403T000000");
    assert_eq!(
        out,
        "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\n\
UID:weekly@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
DTSTART:20260326T090000Z\r\n\
RECURRENCE-ID:20260326T090000Z\r\n\
DTEND:20260326T100000Z\r\n\
SUMMARY:Weekly\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
DESCRIPTION:soon\r\n\
TRIGGER:-PT15M\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:weekly@example.com\r\n\
DTSTAMP:20260101T000000Z\r\n\
DTSTART:20260402T080000Z\r\n\
RECURRENCE-ID:20260402T080000Z\r\n\
DTEND:20260402T090000Z\r\n\
SUMMARY:Weekly\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
DESCRIPTION:soon\r\n\
TRIGGER:-PT15M\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n"
    );
}
