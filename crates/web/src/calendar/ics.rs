//! The form's event as iCalendar (RFC 5545), and back.
//!
//! A new event is written whole. An edit parses the stored object with
//! calcard, changes in its master VEVENT only the properties whose value
//! in the form differs from what the page showed, and writes the object
//! back: properties other clients set (X- properties, CATEGORIES,
//! parameters such as LANGUAGE), the overridden instances (VEVENTs with
//! RECURRENCE-ID), other alarms and the VTIMEZONEs stay as they were.
//!
//! New property values are written as iCalendar text and parsed by
//! calcard, so escaping and value types are checked by the same parser
//! that reads what CalDAV clients send.

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType as Kind, ICalendarEntry,
    ICalendarFrequency, ICalendarProperty as Prop, ICalendarRecurrenceRule, ICalendarValue,
    ICalendarWeekday,
};
use calcard::{Entry, Parser};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use chrono_tz::Tz;

use super::grid::{self, day_code};
use super::model::{Event, Freq, Reminder, Repeat, RepeatEnd, Rule, When};

/// PRODID of the objects written here (RFC 5545 §3.7.3).
const PRODID: &str = "-//Postern//Web calendar//EN";

/// Why an object could not be changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IcsError {
    /// The stored object does not parse or has no VEVENT.
    Unreadable,
    /// A value the form produced did not parse (a bug, not the user's).
    Internal(String),
}

impl std::fmt::Display for IcsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable => f.write_str(
                "this event's iCalendar data cannot be read here; change it with a CalDAV client",
            ),
            Self::Internal(why) => write!(f, "the event could not be written: {why}"),
        }
    }
}

/// RFC 5545 §3.3.11: backslash, semicolon, comma and line breaks escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.replace("\r\n", "\n").chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' | '\r' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `20261123T220500Z`.
fn utc_stamp(ts: i64) -> String {
    grid::utc_naive(ts).format("%Y%m%dT%H%M%SZ").to_string()
}

fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::UTC)
}

fn is_utc(name: &str) -> bool {
    matches!(name, "UTC" | "Etc/UTC" | "Etc/GMT" | "GMT")
}

/// A DATE-TIME property in the event's zone: `NAME:...Z` for UTC,
/// `NAME;TZID=zone:...` otherwise (RFC 5545 §3.3.5 forms 2 and 3).
fn date_time_line(name: &str, t: NaiveDateTime, zone: &str) -> String {
    if is_utc(zone) {
        format!("{name}:{}", t.format("%Y%m%dT%H%M%SZ"))
    } else {
        format!("{name};TZID={zone}:{}", t.format("%Y%m%dT%H%M%S"))
    }
}

/// DTSTART and DTEND. An all-day event's DTEND is the day after its last
/// day (RFC 5545 §3.6.1: DTEND is exclusive).
fn date_lines(when: &When) -> Vec<String> {
    if when.all_day {
        let end = when
            .end
            .date()
            .succ_opt()
            .unwrap_or_else(|| when.end.date());
        return vec![
            format!("DTSTART;VALUE=DATE:{}", when.start.format("%Y%m%d")),
            format!("DTEND;VALUE=DATE:{}", end.format("%Y%m%d")),
        ];
    }
    vec![
        date_time_line("DTSTART", when.start, &when.zone),
        date_time_line("DTEND", when.end, &when.zone),
    ]
}

/// The RRULE value (RFC 5545 §3.3.10). UNTIL is a DATE for an all-day
/// event and otherwise the end of the last day in UTC, as §3.3.10 asks
/// when DTSTART has a TZID.
pub fn rrule(rule: &Rule, when: &When) -> String {
    rule_text(rule, when, false)
}

/// [`rrule`] for a DTSTART in floating time, whose UNTIL must be
/// floating too (RFC 5545 §3.3.10).
fn rule_text(rule: &Rule, when: &When, floating: bool) -> String {
    let mut out = format!("FREQ={}", rule.freq.as_str());
    if rule.interval > 1 {
        out.push_str(&format!(";INTERVAL={}", rule.interval));
    }
    match rule.end {
        RepeatEnd::Never => {}
        RepeatEnd::Count(n) => out.push_str(&format!(";COUNT={n}")),
        RepeatEnd::Until(day) if when.all_day => {
            out.push_str(&format!(";UNTIL={}", day.format("%Y%m%d")));
        }
        RepeatEnd::Until(day) if floating => {
            out.push_str(&format!(";UNTIL={}T235959", day.format("%Y%m%d")));
        }
        RepeatEnd::Until(day) => {
            let last = day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
            let ts = grid::timestamp(zone(&when.zone), last);
            out.push_str(&format!(";UNTIL={}", utc_stamp(ts)));
        }
    }
    if rule.freq == Freq::Weekly && !rule.days.is_empty() {
        let days: Vec<&str> = rule.days.iter().map(|d| day_code(*d)).collect();
        out.push_str(&format!(";BYDAY={}", days.join(",")));
    }
    out
}

fn mailto(address: &str) -> String {
    format!("mailto:{address}")
}

fn attendee_line(address: &str) -> String {
    format!(
        "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:{}",
        mailto(address)
    )
}

fn alarm_lines(reminder: Reminder, title: &str) -> Vec<String> {
    vec![
        "BEGIN:VALARM".into(),
        "ACTION:DISPLAY".into(),
        format!("DESCRIPTION:{}", escape(title)),
        format!("TRIGGER:{}", reminder.trigger()),
        "END:VALARM".into(),
    ]
}

fn text_line(name: &str, value: &str) -> Option<String> {
    (!value.is_empty()).then(|| format!("{name}:{}", escape(value)))
}

/// A new event's iCalendar object.
pub fn create(ev: &Event, uid: &str, organizer: &str, now: i64) -> Result<String, IcsError> {
    let stamp = utc_stamp(now);
    let mut lines = vec![
        format!("UID:{uid}"),
        format!("DTSTAMP:{stamp}"),
        format!("CREATED:{stamp}"),
        format!("LAST-MODIFIED:{stamp}"),
        "SEQUENCE:0".into(),
    ];
    lines.extend(text_line("SUMMARY", &ev.title));
    lines.extend(text_line("LOCATION", &ev.location));
    lines.extend(text_line("DESCRIPTION", &ev.description));
    lines.extend(date_lines(&ev.when));
    if let Repeat::Rule(rule) = &ev.repeat {
        lines.push(format!("RRULE:{}", rrule(rule, &ev.when)));
    }
    if !ev.attendees.is_empty() {
        lines.push(format!("ORGANIZER:{}", mailto(organizer)));
        lines.extend(ev.attendees.iter().map(|a| attendee_line(a)));
    }
    if let Some(r) = ev.reminder {
        lines.extend(alarm_lines(r, &ev.title));
    }
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{PRODID}\r\nCALSCALE:GREGORIAN\r\nBEGIN:VEVENT\r\n{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        lines.join("\r\n")
    );
    let mut cal = parse(&text).ok_or_else(|| IcsError::Internal("unparsable new event".into()))?;
    cal.add_missing_timezones();
    Ok(cal.to_string())
}

fn parse(text: &str) -> Option<ICalendar> {
    match Parser::new(text).entry() {
        Entry::ICalendar(cal) => Some(cal),
        _ => None,
    }
}

/// The VEVENT without RECURRENCE-ID (the master), else the first VEVENT.
fn master(cal: &ICalendar) -> Option<usize> {
    let root = cal.components.first()?;
    let events: Vec<usize> = root
        .component_ids
        .iter()
        .map(|id| *id as usize)
        .filter(|id| {
            cal.components
                .get(*id)
                .is_some_and(|c| c.component_type == Kind::VEvent)
        })
        .collect();
    events
        .iter()
        .copied()
        .find(|id| !cal.components[*id].has_property(&Prop::RecurrenceId))
        .or_else(|| events.first().copied())
}

/// A stored object, parsed, with what the form shows of it.
pub struct Stored {
    cal: ICalendar,
    master: usize,
    pub event: Event,
    pub uid: String,
    /// The alarm the form shows as the reminder (an index in `cal`).
    alarm: Option<usize>,
    /// The zone its dates are written in, for EXDATE: `None` for floating
    /// times, `Some("")` for dates, `Some("UTC")`, or a TZID.
    date_zone: Option<String>,
}

/// Reads a stored object as the form shows it. Floating times and dates
/// are shown in `default_zone` (the reader's).
pub fn read(data: &[u8], default_zone: &str) -> Result<Stored, IcsError> {
    let text = std::str::from_utf8(data).map_err(|_| IcsError::Unreadable)?;
    let cal = parse(text).ok_or(IcsError::Unreadable)?;
    let master = master(&cal).ok_or(IcsError::Unreadable)?;
    let comp = &cal.components[master];
    let (when, date_zone) = read_when(&cal, comp, default_zone).ok_or(IcsError::Unreadable)?;
    // EXDATE is written with DTSTART's own TZID, whatever zone it names.
    let date_zone = match comp
        .property(&Prop::Dtstart)
        .and_then(ICalendarEntry::tz_id)
    {
        Some(id)
            if date_zone
                .as_deref()
                .is_some_and(|z| !z.is_empty() && !is_utc(z)) =>
        {
            Some(id.to_owned())
        }
        _ => date_zone,
    };
    let (reminder, alarm) = read_reminder(&cal, comp);
    let event = Event {
        title: read_text(comp, &Prop::Summary),
        location: read_text(comp, &Prop::Location),
        description: read_text(comp, &Prop::Description),
        repeat: read_repeat(comp, &when),
        reminder,
        attendees: read_attendees(comp),
        when,
    };
    Ok(Stored {
        uid: comp.uid().unwrap_or_default().to_owned(),
        cal,
        master,
        event,
        alarm,
        date_zone,
    })
}

fn read_text(comp: &ICalendarComponent, prop: &Prop) -> String {
    comp.property(prop)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .unwrap_or_default()
        .to_owned()
}

fn naive(dt: &calcard::common::PartialDateTime) -> Option<NaiveDateTime> {
    let date = NaiveDate::from_ymd_opt(
        i32::from(dt.year?),
        u32::from(dt.month?),
        u32::from(dt.day?),
    )?;
    let time = NaiveTime::from_hms_opt(
        u32::from(dt.hour.unwrap_or(0)),
        u32::from(dt.minute.unwrap_or(0)),
        u32::from(dt.second.unwrap_or(0)).min(59),
    )?;
    Some(date.and_time(time))
}

/// A date or date-time entry as (wall time, zone name, all day), the
/// zone name as [`Stored::date_zone`] has it.
fn read_point(
    cal: &ICalendar,
    entry: &ICalendarEntry,
) -> Option<(NaiveDateTime, Option<String>, bool)> {
    let ICalendarValue::PartialDateTime(dt) = entry.values.first()? else {
        return None;
    };
    let t = naive(dt)?;
    if !dt.has_time() {
        return Some((t, Some(String::new()), true));
    }
    if dt.has_zone() {
        // UTC, or a fixed offset (RFC 5545 allows only Z; read any).
        let offset =
            i64::from(dt.tz_hour.unwrap_or(0)) * 3600 + i64::from(dt.tz_minute.unwrap_or(0)) * 60;
        let offset = if dt.tz_minus { -offset } else { offset };
        let utc = t.checked_sub_signed(Duration::seconds(offset))?;
        return Some((utc, Some("UTC".into()), false));
    }
    match entry.tz_id() {
        Some(id) => {
            let resolved = cal.build_tz_resolver().resolve(id);
            let name = match resolved.and_then(|z| z.name()) {
                Some(n) if n == "Etc/UTC" => "UTC".to_owned(),
                Some(n) => n.into_owned(),
                None => id.to_owned(),
            };
            Some((t, Some(name), false))
        }
        None => Some((t, None, false)),
    }
}

fn read_when(
    cal: &ICalendar,
    comp: &ICalendarComponent,
    default_zone: &str,
) -> Option<(When, Option<String>)> {
    let (start, start_zone, all_day) = read_point(cal, comp.property(&Prop::Dtstart)?)?;
    let zone = match &start_zone {
        Some(z) if !z.is_empty() => z.clone(),
        _ => default_zone.to_owned(),
    };
    let end = match comp.property(&Prop::Dtend).and_then(|e| read_point(cal, e)) {
        Some((end, end_zone, _)) if end_zone == start_zone => end,
        Some((end, Some(end_zone), false)) => {
            // Another zone than the start's: the same instant in the
            // start's zone.
            let ts = grid::timestamp(self::zone(&end_zone), end);
            grid::local(self::zone(&zone), ts)
        }
        _ => match comp
            .property(&Prop::Duration)
            .and_then(|e| e.values.first())
        {
            // Checked: a duration of years from a date near the end of
            // the calendar must not overflow.
            Some(ICalendarValue::Duration(d)) => start
                .checked_add_signed(Duration::seconds(d.as_seconds()))
                .unwrap_or(start),
            _ if all_day => start.checked_add_signed(Duration::days(1)).unwrap_or(start),
            _ => start,
        },
    };
    let end = if all_day {
        // The form shows the last day, not the exclusive end.
        end.checked_sub_signed(Duration::days(1))
            .unwrap_or(start)
            .max(start)
    } else {
        end.max(start)
    };
    let when = When {
        all_day,
        start,
        end,
        zone,
    };
    Some((when, start_zone))
}

fn read_repeat(comp: &ICalendarComponent, when: &When) -> Repeat {
    let rules: Vec<&ICalendarRecurrenceRule> = comp
        .properties(&Prop::Rrule)
        .filter_map(|e| match e.values.first() {
            Some(ICalendarValue::RecurrenceRule(r)) => Some(&**r),
            _ => None,
        })
        .collect();
    if comp.has_property(&Prop::Rdate) || rules.len() > 1 {
        return Repeat::Custom;
    }
    match rules.first() {
        None => Repeat::Never,
        Some(r) => simple_rule(r, when).map_or(Repeat::Custom, Repeat::Rule),
    }
}

/// The rule as the form can show it, or `None` for anything else.
fn simple_rule(r: &ICalendarRecurrenceRule, when: &When) -> Option<Rule> {
    let freq = match r.freq {
        ICalendarFrequency::Daily => Freq::Daily,
        ICalendarFrequency::Weekly => Freq::Weekly,
        ICalendarFrequency::Monthly => Freq::Monthly,
        ICalendarFrequency::Yearly => Freq::Yearly,
        _ => return None,
    };
    let plain = r.bysecond.is_empty()
        && r.byminute.is_empty()
        && r.byhour.is_empty()
        && r.bymonthday.is_empty()
        && r.byyearday.is_empty()
        && r.byweekno.is_empty()
        && r.bymonth.is_empty()
        && r.bysetpos.is_empty()
        && r.rscale.is_none()
        && r.wkst.is_none_or(|w| w == ICalendarWeekday::Monday)
        && r.byday.iter().all(|d| d.ordwk.is_none())
        && (freq == Freq::Weekly || r.byday.is_empty());
    if !plain {
        return None;
    }
    let mut days: Vec<Weekday> = r.byday.iter().map(|d| weekday(d.weekday)).collect();
    if freq == Freq::Weekly && days.is_empty() {
        days.push(when.start.weekday());
    }
    days.sort_by_key(Weekday::num_days_from_monday);
    days.dedup();
    let end = match (&r.until, r.count) {
        (_, Some(n)) => RepeatEnd::Count(n),
        (Some(u), None) => {
            let t = naive(u)?;
            let day = match u.has_zone() {
                true => grid::local(zone(&when.zone), t.and_utc().timestamp()).date(),
                false => t.date(),
            };
            RepeatEnd::Until(day)
        }
        (None, None) => RepeatEnd::Never,
    };
    Some(Rule {
        freq,
        interval: r.interval.unwrap_or(1).max(1),
        days,
        end,
    })
}

fn weekday(d: ICalendarWeekday) -> Weekday {
    match d {
        ICalendarWeekday::Monday => Weekday::Mon,
        ICalendarWeekday::Tuesday => Weekday::Tue,
        ICalendarWeekday::Wednesday => Weekday::Wed,
        ICalendarWeekday::Thursday => Weekday::Thu,
        ICalendarWeekday::Friday => Weekday::Fri,
        ICalendarWeekday::Saturday => Weekday::Sat,
        ICalendarWeekday::Sunday => Weekday::Sun,
    }
}

/// The first DISPLAY or AUDIO alarm of the master whose TRIGGER is a
/// duration before the start: the one the form shows.
fn read_reminder(cal: &ICalendar, comp: &ICalendarComponent) -> (Option<Reminder>, Option<usize>) {
    for &id in &comp.component_ids {
        let Some(alarm) = cal.components.get(id as usize) else {
            continue;
        };
        if alarm.component_type != Kind::VAlarm {
            continue;
        }
        let Some(trigger) = alarm.property(&Prop::Trigger) else {
            continue;
        };
        let related_end = trigger.params.iter().any(|p| {
            p.value
                .as_text()
                .is_some_and(|v| v.eq_ignore_ascii_case("END"))
        });
        let Some(ICalendarValue::Duration(d)) = trigger.values.first() else {
            continue;
        };
        if related_end {
            continue;
        }
        if let Some(r) = Reminder::from_seconds(-d.as_seconds()) {
            return (Some(r), Some(id as usize));
        }
    }
    (None, None)
}

fn read_attendees(comp: &ICalendarComponent) -> Vec<String> {
    comp.properties(&Prop::Attendee)
        .filter_map(address_of)
        .collect()
}

/// The address of an ATTENDEE or ORGANIZER (`mailto:` dropped).
fn address_of(entry: &ICalendarEntry) -> Option<String> {
    let v = entry.values.first()?;
    let text = match v {
        ICalendarValue::Uri(calcard::icalendar::Uri::Location(s)) => s.clone(),
        other => other.clone().into_text()?.into_owned(),
    };
    let text = text.trim();
    let addr = match text.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => &text[7..],
        _ => text,
    };
    Some(addr.to_owned())
}

/// The entries and sub-components of a VEVENT written as `lines`.
fn fragment(lines: &[String]) -> Result<(Vec<ICalendarEntry>, Vec<ICalendarComponent>), IcsError> {
    let text = format!(
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        lines.join("\r\n")
    );
    let cal = parse(&text).ok_or_else(|| IcsError::Internal(format!("cannot parse {lines:?}")))?;
    let id = cal
        .components
        .first()
        .and_then(|r| r.component_ids.first())
        .ok_or_else(|| IcsError::Internal("no VEVENT".into()))?;
    let event = cal
        .components
        .get(*id as usize)
        .ok_or_else(|| IcsError::Internal("no VEVENT".into()))?;
    let children = event
        .component_ids
        .iter()
        .filter_map(|c| cal.components.get(*c as usize).cloned())
        .collect();
    Ok((event.entries.clone(), children))
}

impl Stored {
    /// Whether its times name a zone (UTC or a TZID): floating times and
    /// dates have none.
    pub fn zoned(&self) -> bool {
        self.date_zone.as_deref().is_some_and(|z| !z.is_empty())
    }

    /// Whether it recurs.
    pub fn recurs(&self) -> bool {
        let c = &self.cal.components[self.master];
        c.has_property(&Prop::Rrule) || c.has_property(&Prop::Rdate)
    }

    fn comp(&mut self) -> &mut ICalendarComponent {
        &mut self.cal.components[self.master]
    }

    fn remove(&mut self, props: &[Prop]) {
        self.comp().entries.retain(|e| !props.contains(&e.name));
    }

    fn add(&mut self, lines: &[String]) -> Result<(), IcsError> {
        if lines.is_empty() {
            return Ok(());
        }
        let (entries, children) = fragment(lines)?;
        self.comp().entries.extend(entries);
        for child in children {
            let id = self.cal.components.len() as u32;
            self.cal.components.push(child);
            self.comp().component_ids.push(id);
        }
        Ok(())
    }

    fn replace_text(&mut self, prop: Prop, name: &str, value: &str) -> Result<(), IcsError> {
        self.remove(std::slice::from_ref(&prop));
        self.add(&text_line(name, value).into_iter().collect::<Vec<_>>())
    }

    /// The master's SEQUENCE (0 when absent, RFC 5545 §3.8.7.4).
    fn sequence(&self) -> i64 {
        self.cal.components[self.master]
            .property(&Prop::Sequence)
            .and_then(|e| e.values.first())
            .and_then(ICalendarValue::as_integer)
            .unwrap_or(0)
    }

    fn write(mut self) -> String {
        self.cal.add_missing_timezones();
        self.cal.to_string()
    }
}

/// Applies the form's `new` values to the stored object: only what
/// differs from what the page showed (`self.event`) is rewritten.
/// SEQUENCE goes up when the time or the recurrence changes (RFC 5546
/// §2.1.4 counts those as significant); DTSTAMP and LAST-MODIFIED are
/// now.
pub fn edit(
    mut stored: Stored,
    new: &Event,
    organizer: &str,
    now: i64,
) -> Result<String, IcsError> {
    let old = stored.event.clone();
    if new.title != old.title {
        stored.replace_text(Prop::Summary, "SUMMARY", &new.title)?;
    }
    if new.location != old.location {
        stored.replace_text(Prop::Location, "LOCATION", &new.location)?;
    }
    if new.description != old.description {
        stored.replace_text(Prop::Description, "DESCRIPTION", &new.description)?;
    }
    let when_changed = new.when != old.when;
    if when_changed {
        stored.remove(&[Prop::Dtstart, Prop::Dtend, Prop::Duration]);
        stored.add(&date_lines(&new.when))?;
    }
    // A rule of the form is written again when the dates change too, so
    // that its UNTIL keeps DTSTART's value type (RFC 5545 §3.3.10).
    let repeat_changed = new.repeat != old.repeat && new.repeat != Repeat::Custom;
    if repeat_changed || (when_changed && matches!(new.repeat, Repeat::Rule(_))) {
        if repeat_changed && old.repeat == Repeat::Custom {
            stored.remove(&[Prop::Rdate]);
        }
        stored.remove(&[Prop::Rrule]);
        if let Repeat::Rule(rule) = &new.repeat {
            // DTSTART kept in floating time keeps a floating UNTIL.
            let floating = !when_changed && stored.date_zone.is_none();
            let text = rule_text(rule, &new.when, floating);
            stored.add(&[format!("RRULE:{text}")])?;
        }
    }
    if new.reminder != old.reminder {
        if let Some(id) = stored.alarm.take() {
            stored.cal.remove_component_ids(&[id as u32]);
            // Indexes after the removed ones moved down.
            stored.master = master(&stored.cal).ok_or(IcsError::Unreadable)?;
        }
        if let Some(r) = new.reminder {
            stored.add(&alarm_lines(r, &new.title))?;
        }
    }
    if !same_addresses(&new.attendees, &old.attendees) {
        set_attendees(&mut stored, &new.attendees, organizer)?;
    }
    let sequence = stored.sequence() + i64::from(when_changed || repeat_changed);
    let stamp = utc_stamp(now);
    stored.remove(&[Prop::Dtstamp, Prop::LastModified, Prop::Sequence]);
    stored.add(&[
        format!("DTSTAMP:{stamp}"),
        format!("LAST-MODIFIED:{stamp}"),
        format!("SEQUENCE:{sequence}"),
    ])?;
    Ok(stored.write())
}

fn same_addresses(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// Attendees still invited keep their entry (their PARTSTAT, CN...);
/// new ones are asked to answer (RFC 5545 §3.2.12, §3.2.17); the
/// organizer is the user when the event had none.
fn set_attendees(stored: &mut Stored, wanted: &[String], organizer: &str) -> Result<(), IcsError> {
    let keep = |e: &ICalendarEntry| {
        e.name != Prop::Attendee
            || address_of(e).is_some_and(|a| wanted.iter().any(|w| w.eq_ignore_ascii_case(&a)))
    };
    let comp = stored.comp();
    let present: Vec<String> = comp
        .properties(&Prop::Attendee)
        .filter_map(address_of)
        .collect();
    comp.entries.retain(keep);
    let has_organizer = comp.has_property(&Prop::Organizer);
    let mut lines: Vec<String> = wanted
        .iter()
        .filter(|w| !present.iter().any(|p| p.eq_ignore_ascii_case(w)))
        .map(|w| attendee_line(w))
        .collect();
    if wanted.is_empty() {
        // No longer a meeting: an organizer that is the user goes too.
        comp.entries.retain(|e| {
            e.name != Prop::Organizer
                || !address_of(e).is_some_and(|a| a.eq_ignore_ascii_case(organizer))
        });
    } else if !has_organizer {
        lines.insert(0, format!("ORGANIZER:{}", mailto(organizer)));
    }
    stored.add(&lines)
}

/// Removes one occurrence of a recurring event (RFC 5545 §3.8.5.1):
/// an EXDATE in the form of DTSTART, and the occurrence's override if
/// there is one. `at` is the occurrence's RECURRENCE-ID in Unix seconds.
pub fn exclude(mut stored: Stored, at: i64, now: i64) -> Result<String, IcsError> {
    let line = match stored.date_zone.as_deref() {
        Some("") => format!("EXDATE;VALUE=DATE:{}", grid::utc_naive(at).format("%Y%m%d")),
        None => format!("EXDATE:{}", grid::utc_naive(at).format("%Y%m%dT%H%M%S")),
        Some(z) if is_utc(z) => format!("EXDATE:{}", utc_stamp(at)),
        Some(z) => {
            let tz = stored
                .cal
                .build_tz_resolver()
                .resolve(z)
                .and_then(|t| t.name())
                .map(|n| zone(&n))
                .unwrap_or_else(|| zone(z));
            format!(
                "EXDATE;TZID={z}:{}",
                grid::local(tz, at).format("%Y%m%dT%H%M%S")
            )
        }
    };
    let overrides: Vec<u32> = overrides_at(&stored, at);
    stored.add(&[line])?;
    if !overrides.is_empty() {
        // Their alarms go with them; the indexes after them move down.
        stored.cal.remove_component_ids(&overrides);
        stored.master = master(&stored.cal).ok_or(IcsError::Unreadable)?;
    }
    let stamp = utc_stamp(now);
    stored.remove(&[Prop::Dtstamp, Prop::LastModified]);
    stored.add(&[format!("DTSTAMP:{stamp}"), format!("LAST-MODIFIED:{stamp}")])?;
    Ok(stored.write())
}

/// The VEVENTs overriding the occurrence at `at`.
fn overrides_at(stored: &Stored, at: i64) -> Vec<u32> {
    let resolver = stored.cal.build_tz_resolver().with_default(chrono_tz::UTC);
    let root = &stored.cal.components[0];
    root.component_ids
        .iter()
        .copied()
        .filter(|id| {
            let Some(c) = stored.cal.components.get(*id as usize) else {
                return false;
            };
            let Some(rid) = c.property(&Prop::RecurrenceId) else {
                return false;
            };
            let Some(ICalendarValue::PartialDateTime(dt)) = rid.values.first() else {
                return false;
            };
            let zone: calcard::common::timezone::Tz = resolver.resolve_or_default(rid.tz_id());
            dt.to_date_time_with_tz(zone)
                .is_some_and(|t| t.timestamp() == at)
        })
        .collect()
}

#[cfg(test)]
mod tests;
