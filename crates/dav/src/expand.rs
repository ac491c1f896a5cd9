//! `<C:expand>` (RFC 4791 §9.6.5): a calendar object rewritten with its
//! recurrence set spelled out, for clients that cannot expand rules
//! themselves.
//!
//! Every instance overlapping the range becomes its own component with
//! a RECURRENCE-ID; RRULE, RDATE, EXDATE and EXRULE go; date-times are
//! written in UTC and the VTIMEZONEs go, since nothing refers to them
//! any more. An instance an override component replaces is written from
//! that override (RFC 5545 §3.8.4.4). DATE values stay DATE: an all-day
//! event has no time to convert.
//!
//! Floating date-times are read as UTC, as everywhere in [`crate::ical`]:
//! RFC 4791 §9.9 would read them in the calendar's
//! `calendar-timezone`, which this server does not take into account
//! yet, and a floating time written back as UTC keeps the wall-clock
//! value the client stored.
//!
//! Components without any date (a VTODO with no DTSTART or DUE) belong
//! to every range (RFC 4791 §9.9) and are kept as they are.

use std::collections::HashSet;
use std::fmt::Write;

use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameter,
    ICalendarParameterName, ICalendarParameterValue, ICalendarProperty, ICalendarValue,
    ICalendarValueType,
};

use crate::filter::TimeRange;
use crate::ical::{self, IcalError, Instance, MAX_INSTANCES};

/// The object in `data` with its instances overlapping `[start, end)`
/// (Unix seconds) expanded, at most [`MAX_INSTANCES`] of them, as
/// iCalendar text (CRLF lines folded at 75 octets, RFC 5545 §3.1).
///
/// When no instance overlaps the range the answer is a VCALENDAR with
/// no VEVENT or VTODO: the object has nothing in the range, and the
/// caller decides whether to send it.
pub fn expand(data: &[u8], start: i64, end: i64) -> Result<String, IcalError> {
    let obj = ical::parse(data)?;
    let range = TimeRange {
        start: Some(start),
        end: Some(end),
    };
    let (all, _) = ical::expand_until(&obj, Some(end))?;
    let dated: HashSet<usize> = all.iter().map(|(comp, _)| *comp).collect();
    // Only the VCALENDAR's own components give instances: a VEVENT that a
    // lenient parse found nested inside another component is not one of
    // the object's events (the fuzzer found such an input).
    let top: HashSet<usize> = obj.cal.components[0]
        .component_ids
        .iter()
        .map(|&id| id as usize)
        .collect();
    let mut chosen: Vec<&(usize, Instance)> = all
        .iter()
        .filter(|(comp, i)| top.contains(comp) && range.overlaps(i.start, i.end))
        .collect();
    chosen.sort_by_key(|(comp, i)| (i.start, i.end, *comp));
    chosen.truncate(MAX_INSTANCES);

    let cal = &obj.cal;
    let tz = cal.build_tz_resolver().with_default(chrono_tz::UTC);
    let root = &cal.components[0];
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that.
    let _ = out.write_str("BEGIN:VCALENDAR\r\n");
    for entry in &root.entries {
        let _ = entry.write_to(&mut out);
    }
    for &(comp_id, ref instance) in &chosen {
        let comp = &cal.components[*comp_id];
        let recurrence_id = recurrence_id(&obj, comp, instance, &tz);
        let _ = write_instance(&mut out, cal, comp, instance, recurrence_id, &tz);
    }
    for &id in &root.component_ids {
        let comp = &cal.components[id as usize];
        if keeps_as_is(comp, !dated.contains(&(id as usize))) {
            let _ = write_component(&mut out, cal, comp, &tz);
        }
    }
    let _ = out.write_str("END:VCALENDAR\r\n");
    Ok(out)
}

type Resolver<'a> = calcard::icalendar::timezone::TzResolver<&'a str>;

/// The RECURRENCE-ID of an instance, Unix seconds: the one computed by
/// [`ical`], except for an instance a THISANDFUTURE override
/// (RFC 5545 §3.2.13) moved, which is named by the start the rule gave
/// it, before the override's shift.
fn recurrence_id(
    obj: &ical::Object,
    comp: &ICalendarComponent,
    instance: &Instance,
    tz: &Resolver<'_>,
) -> Option<i64> {
    let Some(rid_entry) = comp.property(&ICalendarProperty::RecurrenceId) else {
        return instance.recurrence_id;
    };
    let own_rid = ical::timestamp(rid_entry, tz);
    let this_and_future = rid_entry
        .params
        .iter()
        .any(|p| p.name == ICalendarParameterName::Range);
    let own_start = comp
        .property(&ICalendarProperty::Dtstart)
        .and_then(|d| ical::timestamp(d, tz))
        .or(own_rid);
    match (this_and_future, own_rid, own_start) {
        (true, Some(rid), Some(start)) if start != instance.start && obj.master.is_some() => {
            Some(instance.start - (start - rid))
        }
        _ => instance.recurrence_id,
    }
}

/// Whether a component of the VCALENDAR is written whole rather than
/// as instances: not a VTIMEZONE (nothing refers to one after the
/// conversion to UTC), and not a VEVENT or VTODO with dates. `undated`
/// says the expansion gave it no instance at all.
fn keeps_as_is(comp: &ICalendarComponent, undated: bool) -> bool {
    match comp.component_type {
        ICalendarComponentType::VTimezone => false,
        ICalendarComponentType::VEvent | ICalendarComponentType::VTodo => {
            undated && is_dateless(comp)
        }
        // X- and IANA components are not about time; kept.
        _ => true,
    }
}

/// A component that may only stand at the top of a VCALENDAR (RFC 5545
/// §3.6); found inside another one, it is dropped rather than copied
/// into every instance.
fn is_calendar_component(comp: &ICalendarComponent) -> bool {
    matches!(
        comp.component_type,
        ICalendarComponentType::VEvent
            | ICalendarComponentType::VTodo
            | ICalendarComponentType::VJournal
            | ICalendarComponentType::VFreebusy
            | ICalendarComponentType::VTimezone
    )
}

/// A VEVENT or VTODO with no date to place it in time.
fn is_dateless(comp: &ICalendarComponent) -> bool {
    ![
        ICalendarProperty::Dtstart,
        ICalendarProperty::Due,
        ICalendarProperty::RecurrenceId,
    ]
    .iter()
    .any(|p| comp.has_property(p))
}

/// Whether a date property's first value is a DATE (no time).
fn is_date(entry: Option<&ICalendarEntry>) -> bool {
    entry
        .and_then(|e| e.values.first())
        .is_some_and(|v| matches!(v, ICalendarValue::PartialDateTime(dt) if !dt.has_time()))
}

/// One instance: the component it comes from with the instance's dates
/// and without the recurrence properties.
fn write_instance(
    out: &mut String,
    cal: &calcard::icalendar::ICalendar,
    comp: &ICalendarComponent,
    instance: &Instance,
    recurrence_id: Option<i64>,
    tz: &Resolver<'_>,
) -> std::fmt::Result {
    let all_day = is_date(comp.property(&ICalendarProperty::Dtstart));
    let due = instance_due(comp, instance, tz);
    out.write_str("BEGIN:")?;
    out.write_str(comp.component_type.as_str())?;
    out.write_str("\r\n")?;
    let mut wrote_rid = false;
    for entry in &comp.entries {
        match &entry.name {
            ICalendarProperty::Rrule
            | ICalendarProperty::Rdate
            | ICalendarProperty::Exdate
            | ICalendarProperty::Exrule => {}
            ICalendarProperty::Dtstart => {
                date_entry(entry, instance.start, all_day).write_to(out)?;
                if let (false, Some(rid)) = (wrote_rid, recurrence_id) {
                    rid_entry(rid, all_day).write_to(out)?;
                    wrote_rid = true;
                }
            }
            ICalendarProperty::Dtend => {
                let end_all_day = is_date(Some(entry));
                date_entry(entry, instance.end, end_all_day).write_to(out)?;
            }
            ICalendarProperty::Due => match due {
                Some(due) => date_entry(entry, due, is_date(Some(entry))).write_to(out)?,
                None => to_utc(entry, tz).write_to(out)?,
            },
            ICalendarProperty::RecurrenceId => {
                if let (false, Some(rid)) = (wrote_rid, recurrence_id) {
                    rid_entry(rid, is_date(Some(entry)) || all_day).write_to(out)?;
                    wrote_rid = true;
                }
            }
            _ => to_utc(entry, tz).write_to(out)?,
        }
    }
    if let (false, Some(rid)) = (wrote_rid, recurrence_id) {
        rid_entry(rid, all_day).write_to(out)?;
    }
    for &id in &comp.component_ids {
        match cal.components.get(id as usize) {
            Some(child) if !is_calendar_component(child) => write_component(out, cal, child, tz)?,
            _ => {}
        }
    }
    out.write_str("END:")?;
    out.write_str(comp.component_type.as_str())?;
    out.write_str("\r\n")
}

/// The DUE of a VTODO instance: at the master's distance from DTSTART
/// (RFC 5545 §3.8.2.3), or the instance's start for a VTODO placed by
/// its DUE alone.
fn instance_due(comp: &ICalendarComponent, instance: &Instance, tz: &Resolver<'_>) -> Option<i64> {
    let at = |p: ICalendarProperty| comp.property(&p).and_then(|d| ical::timestamp(d, tz));
    match (at(ICalendarProperty::Dtstart), at(ICalendarProperty::Due)) {
        (Some(s), Some(d)) => Some(instance.start + (d - s)),
        (None, Some(_)) => Some(instance.start),
        _ => None,
    }
}

/// A component (and its children) with its date-times in UTC.
fn write_component(
    out: &mut String,
    cal: &calcard::icalendar::ICalendar,
    comp: &ICalendarComponent,
    tz: &Resolver<'_>,
) -> std::fmt::Result {
    out.write_str("BEGIN:")?;
    out.write_str(comp.component_type.as_str())?;
    out.write_str("\r\n")?;
    for entry in &comp.entries {
        to_utc(entry, tz).write_to(out)?;
    }
    for &id in &comp.component_ids {
        match cal.components.get(id as usize) {
            Some(child) if !is_calendar_component(child) => write_component(out, cal, child, tz)?,
            _ => {}
        }
    }
    out.write_str("END:")?;
    out.write_str(comp.component_type.as_str())?;
    out.write_str("\r\n")
}

/// `entry` with its value replaced by `at`, a DATE when `date`, a UTC
/// date-time otherwise; the TZID goes.
fn date_entry(entry: &ICalendarEntry, at: i64, date: bool) -> ICalendarEntry {
    let mut params: Vec<ICalendarParameter> = entry
        .params
        .iter()
        .filter(|p| {
            !matches!(
                p.name,
                ICalendarParameterName::Tzid | ICalendarParameterName::Value
            )
        })
        .cloned()
        .collect();
    if date {
        params.push(value_date());
    }
    ICalendarEntry {
        name: entry.name.clone(),
        params,
        values: vec![ICalendarValue::PartialDateTime(Box::new(utc_value(
            at, date,
        )))],
    }
}

/// A RECURRENCE-ID naming the instance that starts at `at`; a DATE for
/// an all-day recurrence (RFC 5545 §3.8.4.4: same value type as DTSTART).
fn rid_entry(at: i64, date: bool) -> ICalendarEntry {
    ICalendarEntry {
        name: ICalendarProperty::RecurrenceId,
        params: if date { vec![value_date()] } else { vec![] },
        values: vec![ICalendarValue::PartialDateTime(Box::new(utc_value(
            at, date,
        )))],
    }
}

fn value_date() -> ICalendarParameter {
    ICalendarParameter {
        name: ICalendarParameterName::Value,
        value: ICalendarParameterValue::Value(ICalendarValueType::Date),
    }
}

fn utc_value(at: i64, date: bool) -> PartialDateTime {
    match date {
        true => PartialDateTime::from_date_timestamp(at),
        false => PartialDateTime::from_utc_timestamp(at),
    }
}

/// `entry` with every date-time value in UTC (RFC 4791 §9.6.5: "date and
/// local time with reference to time zone information MUST be converted
/// into date with UTC time"); a floating one is read as UTC. DATE values
/// and values that are not dates are kept.
fn to_utc(entry: &ICalendarEntry, tz: &Resolver<'_>) -> ICalendarEntry {
    let converts = entry.values.iter().any(
        |v| matches!(v, ICalendarValue::PartialDateTime(dt) if dt.has_time() && dt.year.is_some()),
    );
    if !converts {
        return entry.clone();
    }
    let zone = tz.resolve_or_default(entry.tz_id());
    let values = entry
        .values
        .iter()
        .map(|v| match v {
            ICalendarValue::PartialDateTime(dt) if dt.has_time() => dt
                .to_date_time()
                .and_then(|d| d.to_date_time_with_tz(zone))
                .map(|d| {
                    ICalendarValue::PartialDateTime(Box::new(PartialDateTime::from_utc_timestamp(
                        d.timestamp(),
                    )))
                })
                .unwrap_or_else(|| v.clone()),
            _ => v.clone(),
        })
        .collect();
    ICalendarEntry {
        name: entry.name.clone(),
        params: entry
            .params
            .iter()
            .filter(|p| p.name != ICalendarParameterName::Tzid)
            .cloned()
            .collect(),
        values,
    }
}

#[cfg(test)]
mod tests;
