use super::*;
use crate::calendar::model::Unit;

const NOW: i64 = 1_795_471_200; // 2026-11-23T22:00:00Z

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn meeting() -> Event {
    Event {
        title: "Team, weekly; sync".into(),
        location: "Room 1".into(),
        description: "Agenda:\nnumbers".into(),
        when: When {
            all_day: false,
            start: t("2026-11-24 10:00"),
            end: t("2026-11-24 11:00"),
            zone: "Europe/Berlin".into(),
        },
        repeat: Repeat::Rule(Rule {
            freq: Freq::Weekly,
            interval: 2,
            days: vec![Weekday::Tue, Weekday::Thu],
            end: RepeatEnd::Until(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
        }),
        reminder: Some(Reminder {
            amount: 15,
            unit: Unit::Minutes,
        }),
        attendees: vec!["bob@example.test".into()],
    }
}

/// Unfolded lines (RFC 5545 §3.1).
fn lines(ics: &str) -> Vec<String> {
    ics.replace("\r\n ", "")
        .split("\r\n")
        .map(str::to_owned)
        .collect()
}

#[test]
fn text_is_escaped() {
    assert_eq!(escape("a,b;c\\d\r\ne"), "a\\,b\\;c\\\\d\\ne");
    assert_eq!(escape("bell\u{7}"), "bell");
}

#[test]
fn rules_from_the_form() {
    let ev = meeting();
    let Repeat::Rule(rule) = &ev.repeat else {
        unreachable!()
    };
    // The last day ends at 23:59:59 in Berlin, 22:59:59 UTC in winter.
    assert_eq!(
        rrule(rule, &ev.when),
        "FREQ=WEEKLY;INTERVAL=2;UNTIL=20261231T225959Z;BYDAY=TU,TH"
    );
    let mut all_day = ev.when.clone();
    all_day.all_day = true;
    let daily = Rule {
        freq: Freq::Daily,
        interval: 1,
        days: vec![],
        end: RepeatEnd::Count(5),
    };
    assert_eq!(rrule(&daily, &all_day), "FREQ=DAILY;COUNT=5");
    let until = Rule {
        end: RepeatEnd::Until(NaiveDate::from_ymd_opt(2027, 1, 3).unwrap()),
        freq: Freq::Yearly,
        ..daily
    };
    assert_eq!(rrule(&until, &all_day), "FREQ=YEARLY;UNTIL=20270103");
}

#[test]
fn a_new_event_is_a_whole_calendar_object() {
    let ics = create(&meeting(), "abc-123", "alice@example.test", NOW).unwrap();
    let l = lines(&ics);
    for want in [
        "BEGIN:VCALENDAR",
        "UID:abc-123",
        "DTSTAMP:20261123T220000Z",
        "SEQUENCE:0",
        "SUMMARY:Team\\, weekly\\; sync",
        "DESCRIPTION:Agenda:\\nnumbers",
        "DTSTART;TZID=Europe/Berlin:20261124T100000",
        "DTEND;TZID=Europe/Berlin:20261124T110000",
        // calcard writes the parts in its own order.
        "RRULE:FREQ=WEEKLY;UNTIL=20261231T225959Z;INTERVAL=2;BYDAY=TU,TH",
        "ORGANIZER:mailto:alice@example.test",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.test",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "TRIGGER:-PT15M",
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Berlin",
    ] {
        assert!(l.iter().any(|x| x == want), "{want} missing in\n{ics}");
    }
    // It passes the checks a CalDAV PUT must pass, and recurs as asked:
    // Tuesdays and Thursdays every other week until 31 December.
    let analyzed = postern_dav::ical::analyze(ics.as_bytes()).unwrap();
    assert_eq!(analyzed.uid, "abc-123");
    let all = postern_dav::ical::instances(ics.as_bytes(), 0, i64::MAX / 2).unwrap();
    let days: Vec<String> = all
        .iter()
        .map(|i| grid::utc_naive(i.start).format("%m-%d %H:%M").to_string())
        .collect();
    assert_eq!(
        days,
        [
            "11-24 09:00",
            "11-26 09:00",
            "12-08 09:00",
            "12-10 09:00",
            "12-22 09:00",
            "12-24 09:00"
        ]
    );
    // And reads back as the form had it.
    let back = read(ics.as_bytes(), "UTC").unwrap();
    assert_eq!(back.event, meeting());
    assert_eq!(back.uid, "abc-123");
}

#[test]
fn an_all_day_event_ends_the_day_after_its_last_day() {
    let mut ev = meeting();
    ev.when = When {
        all_day: true,
        start: t("2026-11-24 00:00"),
        end: t("2026-11-25 00:00"),
        zone: "UTC".into(),
    };
    ev.repeat = Repeat::Never;
    ev.reminder = None;
    ev.attendees.clear();
    let ics = create(&ev, "u", "alice@example.test", NOW).unwrap();
    let l = lines(&ics);
    assert!(
        l.contains(&"DTSTART;VALUE=DATE:20261124".to_owned()),
        "{ics}"
    );
    assert!(l.contains(&"DTEND;VALUE=DATE:20261126".to_owned()), "{ics}");
    assert!(!l.iter().any(|x| x.starts_with("ORGANIZER")), "{ics}");
    // Shown in any zone, it keeps its days.
    let back = read(ics.as_bytes(), "America/New_York").unwrap();
    assert_eq!(back.event.when.start, t("2026-11-24 00:00"));
    assert_eq!(back.event.when.end, t("2026-11-25 00:00"));
    assert!(back.event.when.all_day);
}

const FROM_CLIENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//Client//EN\r\nBEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nX-LIC-LOCATION:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:client-1\r\nDTSTAMP:20260101T000000Z\r\nSEQUENCE:3\r\nSUMMARY;LANGUAGE=de:Planung\r\nX-CLIENT-COLOUR:teal\r\nCATEGORIES:Work\r\nDTSTART;TZID=W. Europe Standard Time:20261124T100000\r\nDURATION:PT90M\r\nRRULE:FREQ=DAILY;COUNT=10\r\nATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.test\r\nORGANIZER:mailto:alice@example.test\r\nBEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER;VALUE=DATE-TIME:20261124T080000Z\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:client-1\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=W. Europe Standard Time:20261126T100000\r\nDTSTART;TZID=W. Europe Standard Time:20261126T120000\r\nDURATION:PT90M\r\nSUMMARY:Planung (later)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[test]
fn another_clients_event_reads_as_the_form_shows_it() {
    let s = read(FROM_CLIENT.as_bytes(), "UTC").unwrap();
    let ev = &s.event;
    assert_eq!(ev.title, "Planung");
    assert_eq!(ev.when.zone, "Europe/Berlin");
    assert_eq!(ev.when.start, t("2026-11-24 10:00"));
    assert_eq!(ev.when.end, t("2026-11-24 11:30"));
    assert_eq!(
        ev.repeat,
        Repeat::Rule(Rule {
            freq: Freq::Daily,
            interval: 1,
            days: vec![],
            end: RepeatEnd::Count(10)
        })
    );
    // An absolute trigger is not a reminder "before".
    assert_eq!(ev.reminder, None);
    assert_eq!(ev.attendees, ["bob@example.test"]);
}

#[test]
fn an_edit_changes_what_the_form_changed_and_keeps_the_rest() {
    let stored = read(FROM_CLIENT.as_bytes(), "UTC").unwrap();
    let mut new = stored.event.clone();
    new.location = "Room 2".into();
    new.attendees.push("carol@example.test".into());
    new.reminder = Some(Reminder {
        amount: 1,
        unit: Unit::Hours,
    });
    let ics = edit(stored, &new, "alice@example.test", NOW).unwrap();
    let l = lines(&ics);
    for want in [
        "SUMMARY;LANGUAGE=de:Planung",
        "X-CLIENT-COLOUR:teal",
        "CATEGORIES:Work",
        "DTSTART;TZID=\"W. Europe Standard Time\":20261124T100000",
        "DURATION:PT90M",
        "RRULE:FREQ=DAILY;COUNT=10",
        "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.test",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@example.test",
        "ORGANIZER:mailto:alice@example.test",
        "LOCATION:Room 2",
        "TRIGGER:-PT1H",
        "TRIGGER;VALUE=DATE-TIME:20261124T080000Z",
        "SUMMARY:Planung (later)",
        "RECURRENCE-ID;TZID=\"W. Europe Standard Time\":20261126T100000",
        "DTSTAMP:20261123T220000Z",
        "LAST-MODIFIED:20261123T220000Z",
        // Neither the time nor the rule changed.
        "SEQUENCE:3",
    ] {
        assert!(l.iter().any(|x| x == want), "{want} missing in\n{ics}");
    }
    assert_eq!(l.iter().filter(|x| x.starts_with("UID:")).count(), 2);
    postern_dav::ical::analyze(ics.as_bytes()).unwrap();
}

#[test]
fn moving_an_event_bumps_its_sequence_and_rewrites_the_rule() {
    let stored = read(FROM_CLIENT.as_bytes(), "UTC").unwrap();
    let mut new = stored.event.clone();
    new.when.start = t("2026-11-25 09:00");
    new.when.end = t("2026-11-25 10:00");
    new.when.zone = "UTC".into();
    let ics = edit(stored, &new, "alice@example.test", NOW).unwrap();
    let l = lines(&ics);
    for want in [
        "DTSTART:20261125T090000Z",
        "DTEND:20261125T100000Z",
        "RRULE:FREQ=DAILY;COUNT=10",
        "SEQUENCE:4",
    ] {
        assert!(l.iter().any(|x| x == want), "{want} missing in\n{ics}");
    }
    let master_durations = ics
        .split("BEGIN:VEVENT")
        .nth(1)
        .unwrap()
        .matches("DURATION")
        .count();
    assert_eq!(master_durations, 0, "{ics}");
}

#[test]
fn removing_every_attendee_removes_the_users_organizer() {
    let stored = read(FROM_CLIENT.as_bytes(), "UTC").unwrap();
    let mut new = stored.event.clone();
    new.attendees.clear();
    let ics = edit(stored, &new, "Alice@example.test", NOW).unwrap();
    assert!(!ics.contains("ATTENDEE"), "{ics}");
    assert!(!ics.contains("ORGANIZER"), "{ics}");
}

#[test]
fn one_occurrence_is_excluded_in_dtstarts_form() {
    let stored = read(FROM_CLIENT.as_bytes(), "UTC").unwrap();
    // 26 November 10:00 Berlin, the overridden one: 09:00 UTC.
    let at = t("2026-11-26 09:00").and_utc().timestamp();
    let ics = exclude(stored, at, NOW).unwrap();
    let l = lines(&ics);
    assert!(
        l.contains(&"EXDATE;TZID=\"W. Europe Standard Time\":20261126T100000".to_owned()),
        "{ics}"
    );
    assert!(
        !ics.contains("Planung (later)"),
        "the override goes too: {ics}"
    );
    let all = postern_dav::ical::instances(ics.as_bytes(), 0, i64::MAX / 2).unwrap();
    assert_eq!(all.len(), 9);
    assert!(all.iter().all(|i| i.start != at));
}

#[test]
fn an_all_day_occurrence_is_excluded_by_date() {
    let mut ev = meeting();
    ev.when = When {
        all_day: true,
        start: t("2026-11-24 00:00"),
        end: t("2026-11-24 00:00"),
        zone: "UTC".into(),
    };
    ev.repeat = Repeat::Rule(Rule {
        freq: Freq::Daily,
        interval: 1,
        days: vec![],
        end: RepeatEnd::Count(3),
    });
    let ics = create(&ev, "u", "a@x.test", NOW).unwrap();
    let at = t("2026-11-25 00:00").and_utc().timestamp();
    let ics = exclude(read(ics.as_bytes(), "UTC").unwrap(), at, NOW).unwrap();
    assert!(
        lines(&ics).contains(&"EXDATE;VALUE=DATE:20261125".to_owned()),
        "{ics}"
    );
    assert_eq!(
        postern_dav::ical::instances(ics.as_bytes(), 0, i64::MAX / 2)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_floating_event_keeps_a_floating_until() {
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:f\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261124T080000\r\nDTEND:20261124T083000\r\nSUMMARY:Run\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let stored = read(ics.as_bytes(), "Europe/Berlin").unwrap();
    // Shown in the reader's zone, at its wall time.
    assert_eq!(stored.event.when.start, t("2026-11-24 08:00"));
    assert!(!stored.zoned());
    let mut new = stored.event.clone();
    new.repeat = Repeat::Rule(Rule {
        freq: Freq::Daily,
        interval: 1,
        days: vec![],
        end: RepeatEnd::Until(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
    });
    let out = edit(stored, &new, "a@x.test", NOW).unwrap();
    let l = lines(&out);
    assert!(l.contains(&"DTSTART:20261124T080000".to_owned()), "{out}");
    assert!(
        l.contains(&"RRULE:FREQ=DAILY;UNTIL=20261130T235959".to_owned()),
        "{out}"
    );
    assert!(l.contains(&"SEQUENCE:1".to_owned()), "{out}");
    assert_eq!(
        postern_dav::ical::instances(out.as_bytes(), 0, i64::MAX / 2)
            .unwrap()
            .len(),
        7
    );
}

#[test]
fn an_override_written_before_its_master_goes_with_its_alarm() {
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:o\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20261125T090000Z\r\nDTSTART:20261125T120000Z\r\nDTEND:20261125T130000Z\r\nSUMMARY:Moved\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:o\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261124T090000Z\r\nDTEND:20261124T100000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\nSUMMARY:Master\r\nX-KEEP:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let stored = read(ics.as_bytes(), "UTC").unwrap();
    assert_eq!(stored.event.title, "Master");
    let at = t("2026-11-25 09:00").and_utc().timestamp();
    let out = exclude(stored, at, NOW).unwrap();
    let l = lines(&out);
    assert!(!out.contains("Moved") && !out.contains("TRIGGER"), "{out}");
    assert!(l.contains(&"EXDATE:20261125T090000Z".to_owned()), "{out}");
    assert!(l.contains(&"X-KEEP:1".to_owned()), "{out}");
    let master = out.split("BEGIN:VEVENT").nth(1).unwrap();
    assert!(
        master.contains("EXDATE") && master.contains("LAST-MODIFIED"),
        "{out}"
    );
    assert_eq!(
        postern_dav::ical::instances(out.as_bytes(), 0, i64::MAX / 2)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn dates_at_the_end_of_the_calendar_do_not_overflow() {
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:z\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:99991231T230000Z\r\nDURATION:P4000000000W\r\nSUMMARY:Far\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let s = read(ics.as_bytes(), "UTC").unwrap();
    assert_eq!(s.event.when.start, s.event.when.end);
    let mut ev = s.event;
    ev.when.all_day = true;
    assert!(create(&ev, "z", "a@x.test", NOW).is_ok());
}
