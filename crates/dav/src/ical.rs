//! iCalendar objects as CalDAV stores them (RFC 4791 §4.1): the checks a
//! PUT must pass, the instances of a recurring object, and the
//! calendar-query filter test (RFC 4791 §9.7). Parsing and RRULE
//! expansion are calcard's; the rules of a calendar object resource are
//! ours.
//!
//! Times are Unix seconds. A TZID is resolved by the VTIMEZONE of the
//! object (its TZID, or `X-LIC-LOCATION`, naming an IANA zone) or as an
//! IANA name; floating times and dates are read as UTC.

use std::fmt;

use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarProperty,
    ICalendarValue,
};
use calcard::{Entry, Parser};

use crate::filter::{CompFilter, ParamFilter, PropFilter, TimeRange};
use crate::multistatus::Condition;

/// At most this many instances are returned by [`instances`].
pub const MAX_INSTANCES: usize = 10_000;
/// A recurrence is followed for at most this many occurrences from its
/// DTSTART (a daily event for 270 years, an hourly one for 11): past
/// that, an instance is neither returned nor matched.
pub const MAX_EXPANSION: usize = 100_000;
/// A UID longer than this is refused: it becomes a database key and an
/// error message (RFC 5545 sets no limit; real ones are under 100).
pub const MAX_UID: usize = 255;

/// The kind of component a calendar object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// VEVENT.
    Event,
    /// VTODO.
    Todo,
}

/// What the store keeps about an object besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analyzed {
    /// The UID all its components share.
    pub uid: String,
    /// Events or to-dos.
    pub component: Component,
    /// The start of its first instance; `None` when it has no date at all
    /// (a VTODO without any), which every time range matches.
    pub first_start: Option<i64>,
    /// The end of its last instance; `None` when the recurrence has no
    /// end (or more than [`MAX_EXPANSION`] occurrences), or no date.
    pub last_end: Option<i64>,
}

/// One occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Start, Unix seconds.
    pub start: i64,
    /// End, Unix seconds (equal to `start` for an instant).
    pub end: i64,
    /// The RECURRENCE-ID naming this occurrence, for a recurring object.
    pub recurrence_id: Option<i64>,
    /// Its SUMMARY.
    pub summary: Option<String>,
}

/// Why an iCalendar object was refused; [`IcalError::condition`] is the
/// precondition a PUT answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IcalError {
    /// Not UTF-8.
    NotUtf8,
    /// Not a VCALENDAR object (or not a whole one).
    NotCalendar(String),
    /// Something after END:VCALENDAR.
    TrailingData,
    /// RFC 4791 §4.1: METHOD is for scheduling messages, not stored objects.
    Method,
    /// No VEVENT or VTODO.
    NoComponent,
    /// Both VEVENT and VTODO.
    MixedComponents,
    /// A component kind we do not store (VJOURNAL, VFREEBUSY).
    Unsupported(String),
    /// A VEVENT or VTODO without UID.
    MissingUid,
    /// A UID over [`MAX_UID`] octets.
    UidTooLong,
    /// Components with different UIDs (RFC 4791 §4.1).
    DifferentUids,
    /// Two components without RECURRENCE-ID.
    TwoMasters,
    /// A date or recurrence rule that cannot be used (calcard's words).
    Dates(String),
}

impl IcalError {
    /// The precondition to answer a PUT with (RFC 4791 §5.3.2.1).
    pub fn condition(&self) -> Condition {
        match self {
            Self::NotUtf8 | Self::NotCalendar(_) | Self::TrailingData | Self::Dates(_) => {
                Condition::ValidCalendarData
            }
            Self::Unsupported(_) => Condition::SupportedCalendarComponent,
            _ => Condition::ValidCalendarObjectResource,
        }
    }
}

impl fmt::Display for IcalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => f.write_str("the iCalendar object is not valid UTF-8"),
            Self::NotCalendar(why) => write!(f, "not an iCalendar object: {why}"),
            Self::TrailingData => f.write_str("there is data after END:VCALENDAR; send one object"),
            Self::Method => f.write_str(
                "the object has a METHOD property, which a stored calendar object must not have (RFC 4791 §4.1)",
            ),
            Self::NoComponent => f.write_str("the object has no VEVENT or VTODO"),
            Self::MixedComponents => f.write_str(
                "the object mixes VEVENT and VTODO; store each kind as its own object (RFC 4791 §4.1)",
            ),
            Self::Unsupported(kind) => write!(f, "{kind} components are not stored here; use VEVENT or VTODO"),
            Self::MissingUid => f.write_str("a component has no UID"),
            Self::UidTooLong => write!(f, "the UID is longer than {MAX_UID} octets"),
            Self::DifferentUids => f.write_str(
                "the components have different UIDs; store each UID as its own object (RFC 4791 §4.1)",
            ),
            Self::TwoMasters => f.write_str(
                "two components have no RECURRENCE-ID; only one may be the master of the recurrence",
            ),
            Self::Dates(why) => write!(f, "unusable dates: {why}"),
        }
    }
}

impl std::error::Error for IcalError {}

/// A checked object.
pub(crate) struct Object {
    pub(crate) cal: ICalendar,
    uid: String,
    component: Component,
    /// The index of the component without RECURRENCE-ID, if any.
    pub(crate) master: Option<usize>,
}

/// Checks an object for PUT (RFC 4791 §4.1) and gives what the store
/// indexes.
pub fn analyze(data: &[u8]) -> Result<Analyzed, IcalError> {
    let obj = parse(data)?;
    // An endless rule needs no walk to know its end; its first
    // occurrences give its first start.
    let (all, truncated) = match is_endless(&obj) {
        true => expand(&obj, 64).map(|(all, t, _)| (all, t))?,
        false => expand_until(&obj, None)?,
    };
    let first_start = all.iter().map(|(_, i)| i.start).min();
    let last_end = match truncated {
        true => None,
        false => all.iter().map(|(_, i)| i.end).max(),
    };
    Ok(Analyzed {
        uid: obj.uid,
        component: obj.component,
        first_start,
        last_end,
    })
}

/// The instances of an object that overlap `[start, end)`, by start, at
/// most [`MAX_INSTANCES`] of them.
pub fn instances(data: &[u8], start: i64, end: i64) -> Result<Vec<Instance>, IcalError> {
    let obj = parse(data)?;
    let range = TimeRange {
        start: Some(start),
        end: Some(end),
    };
    let (all, _) = expand_until(&obj, Some(end))?;
    let mut all: Vec<Instance> = all.into_iter().map(|(_, i)| i).collect();
    all.retain(|i| range.overlaps(i.start, i.end));
    all.sort_by_key(|i| (i.start, i.end));
    all.truncate(MAX_INSTANCES);
    Ok(all)
}

/// Whether an object matches a calendar-query filter (RFC 4791 §9.7). An
/// object that does not parse matches nothing.
pub fn matches(data: &[u8], filter: &CompFilter) -> bool {
    let Ok(obj) = parse(data) else {
        return false;
    };
    let root = &obj.cal.components[0];
    if filter.name != "VCALENDAR" || filter.is_not_defined {
        return false;
    }
    component_matches(&obj, root, filter)
}

pub(crate) fn parse(data: &[u8]) -> Result<Object, IcalError> {
    let text = std::str::from_utf8(data).map_err(|_| IcalError::NotUtf8)?;
    // calcard takes an object cut short as whole; RFC 5545 §3.4 ends one
    // with END:VCALENDAR, and a PUT cut in transit must not be stored.
    let last = text.trim_end().rsplit('\n').next().unwrap_or_default();
    if !last.trim_end().eq_ignore_ascii_case("END:VCALENDAR") {
        return Err(IcalError::NotCalendar(
            "the last line is not END:VCALENDAR".into(),
        ));
    }
    let mut parser = Parser::new(text);
    let cal = match parser.entry() {
        Entry::ICalendar(cal) => cal,
        Entry::UnterminatedComponent(c) => {
            return Err(IcalError::NotCalendar(format!("{c} has no END line")))
        }
        Entry::UnexpectedComponentEnd { expected, found } => {
            return Err(IcalError::NotCalendar(format!(
                "END:{} where END:{} was expected",
                found.as_str(),
                expected.as_str()
            )))
        }
        Entry::TooManyComponents => {
            return Err(IcalError::NotCalendar("too many components".into()))
        }
        _ => return Err(IcalError::NotCalendar("no BEGIN:VCALENDAR".into())),
    };
    if !matches!(parser.entry(), Entry::Eof) {
        return Err(IcalError::TrailingData);
    }
    check(cal)
}

fn check(cal: ICalendar) -> Result<Object, IcalError> {
    let root = cal
        .components
        .first()
        .filter(|c| c.component_type == ICalendarComponentType::VCalendar)
        .ok_or_else(|| IcalError::NotCalendar("no BEGIN:VCALENDAR".into()))?;
    if root.has_property(&ICalendarProperty::Method) {
        return Err(IcalError::Method);
    }
    let mut kind = None;
    let mut uid: Option<&str> = None;
    let mut master = None;
    for &id in &root.component_ids {
        let comp = &cal.components[id as usize];
        let this = match &comp.component_type {
            ICalendarComponentType::VEvent => Component::Event,
            ICalendarComponentType::VTodo => Component::Todo,
            ICalendarComponentType::VJournal | ICalendarComponentType::VFreebusy => {
                return Err(IcalError::Unsupported(
                    comp.component_type.as_str().to_owned(),
                ))
            }
            // VTIMEZONE, and X- or IANA components we keep as they are.
            _ => continue,
        };
        if kind.is_some_and(|k| k != this) {
            return Err(IcalError::MixedComponents);
        }
        kind = Some(this);
        let this_uid = comp.uid().ok_or(IcalError::MissingUid)?;
        if uid.is_some_and(|u| u != this_uid) {
            return Err(IcalError::DifferentUids);
        }
        uid = Some(this_uid);
        if !comp.has_property(&ICalendarProperty::RecurrenceId) {
            if master.is_some() {
                return Err(IcalError::TwoMasters);
            }
            master = Some(id as usize);
        }
    }
    let component = kind.ok_or(IcalError::NoComponent)?;
    let uid = uid.unwrap_or_default().to_owned();
    if uid.is_empty() {
        return Err(IcalError::MissingUid);
    }
    if uid.len() > MAX_UID {
        return Err(IcalError::UidTooLong);
    }
    Ok(Object {
        cal,
        uid,
        component,
        master,
    })
}

/// Whether the master has an RRULE without COUNT or UNTIL.
fn is_endless(obj: &Object) -> bool {
    rrule(obj).is_some_and(|r| r.count.is_none() && r.until.is_none())
}

fn rrule(obj: &Object) -> Option<&calcard::icalendar::ICalendarRecurrenceRule> {
    let master = &obj.cal.components[obj.master?];
    master
        .entries
        .iter()
        .find_map(|e| match (&e.name, e.values.first()) {
            (ICalendarProperty::Rrule, Some(ICalendarValue::RecurrenceRule(r))) => Some(&**r),
            _ => None,
        })
}

/// Every instance starting before `end` with the index of the component
/// it comes from, unsorted, and whether the walk of the rule stopped
/// early (so later ones may exist). The walk is
/// short first and longer only while it stops before `end`, so an
/// endless rule costs what the window needs, not [`MAX_EXPANSION`].
pub(crate) fn expand_until(
    obj: &Object,
    end: Option<i64>,
) -> Result<(Vec<(usize, Instance)>, bool), IcalError> {
    let mut limit = 64;
    loop {
        let (all, truncated, latest) = expand(obj, limit)?;
        let past_end = end.is_some_and(|e| latest.is_some_and(|l| l >= e));
        if !truncated || past_end || limit >= MAX_EXPANSION {
            return Ok((all, truncated));
        }
        limit = (limit * 8).min(MAX_EXPANSION);
    }
}

/// Every instance with the index of its component (the expansion
/// writes each instance from the component it comes from), unsorted;
/// whether the walk of the rule stopped at `limit` (so later ones may
/// exist); the latest start of an instance of the master.
#[allow(clippy::type_complexity)]
fn expand(
    obj: &Object,
    limit: usize,
) -> Result<(Vec<(usize, Instance)>, bool, Option<i64>), IcalError> {
    let expanded = obj.cal.expand_dates(chrono_tz::UTC, limit);
    if let Some(e) = expanded.errors.first() {
        return Err(IcalError::Dates(e.error.to_string()));
    }
    let tz = obj.cal.build_tz_resolver().with_default(chrono_tz::UTC);
    let master_recurs = obj.master.is_some_and(|m| {
        let c = &obj.cal.components[m];
        c.has_property(&ICalendarProperty::Rrule) || c.has_property(&ICalendarProperty::Rdate)
    });
    let mut out = Vec::with_capacity(expanded.events.len());
    let mut latest = None;
    for ev in &expanded.events {
        let (start, end) = ev.timestamps();
        if obj.master == Some(ev.comp_id as usize) {
            latest = latest.max(Some(start));
        }
        let comp = &obj.cal.components[ev.comp_id as usize];
        let end = if is_instant(comp) {
            start
        } else {
            end.max(start)
        };
        let recurrence_id = match comp.property(&ICalendarProperty::RecurrenceId) {
            Some(rid) => timestamp(rid, &tz),
            None => master_recurs.then_some(start),
        };
        out.push((
            ev.comp_id as usize,
            Instance {
                start,
                end,
                recurrence_id,
                summary: comp
                    .property(&ICalendarProperty::Summary)
                    .and_then(|s| s.values.first())
                    .and_then(|v| v.as_text())
                    .map(str::to_owned),
            },
        ));
    }
    // Each step of the rule gives an instance or skips an EXDATE, so a
    // walk that reached `limit` has at least that many of both together.
    let exdates: usize = obj
        .cal
        .components
        .iter()
        .flat_map(|c| c.properties(&ICalendarProperty::Exdate))
        .map(|e| e.values.len())
        .sum();
    let truncated = rrule(obj).is_some() && (is_endless(obj) || out.len() + exdates >= limit);
    Ok((out, truncated, latest))
}

/// A VEVENT with a DATE-TIME DTSTART and neither DTEND nor DURATION
/// takes no time (RFC 5545 §3.6.1), and so does a VTODO with only a DUE
/// (RFC 4791 §9.9's table compares DUE alone); calcard would stretch
/// both to the end of the day.
pub(crate) fn is_instant(comp: &ICalendarComponent) -> bool {
    let has = |p: ICalendarProperty| comp.has_property(&p);
    match comp.component_type {
        ICalendarComponentType::VEvent => {
            !has(ICalendarProperty::Dtend)
                && !has(ICalendarProperty::Duration)
                && comp
                    .property(&ICalendarProperty::Dtstart)
                    .and_then(|d| d.values.first())
                    .is_some_and(
                        |v| matches!(v, ICalendarValue::PartialDateTime(dt) if dt.has_time()),
                    )
        }
        ICalendarComponentType::VTodo => {
            has(ICalendarProperty::Due)
                && !has(ICalendarProperty::Dtstart)
                && !has(ICalendarProperty::Duration)
        }
        _ => false,
    }
}

/// A date or date-time property's first value as Unix seconds.
pub(crate) fn timestamp(
    entry: &ICalendarEntry,
    tz: &calcard::icalendar::timezone::TzResolver<&str>,
) -> Option<i64> {
    let ICalendarValue::PartialDateTime(dt) = entry.values.first()? else {
        return None;
    };
    let zone: Tz = tz.resolve_or_default(entry.tz_id());
    Some(dt.to_date_time()?.to_date_time_with_tz(zone)?.timestamp())
}

/// RFC 4791 §9.7.1 for one component that exists.
fn component_matches(obj: &Object, comp: &ICalendarComponent, filter: &CompFilter) -> bool {
    if let Some(range) = filter.time_range {
        if !time_range_matches(obj, comp, range) {
            return false;
        }
    }
    filter
        .prop_filters
        .iter()
        .all(|p| prop_matches(obj, comp, p))
        && filter.comp_filters.iter().all(|f| {
            let mut children = comp
                .component_ids
                .iter()
                .filter_map(|&id| obj.cal.components.get(id as usize))
                .filter(|c| c.component_type.as_str().eq_ignore_ascii_case(&f.name));
            if f.is_not_defined {
                children.next().is_none()
            } else {
                children.any(|c| component_matches(obj, c, f))
            }
        })
}

/// RFC 4791 §9.9: a VEVENT or VTODO matches when one instance of the
/// object overlaps the range (all its components share one UID, so the
/// instances are the recurrence set's); a VTODO with no date matches any
/// range. Other components (VALARM) are not tested: they match, which
/// can only give the client more to filter, never less.
fn time_range_matches(obj: &Object, comp: &ICalendarComponent, range: TimeRange) -> bool {
    if !matches!(
        comp.component_type,
        ICalendarComponentType::VEvent | ICalendarComponentType::VTodo
    ) {
        return true;
    }
    let Ok((all, _)) = expand_until(obj, range.end) else {
        return false;
    };
    if all.is_empty() && obj.component == Component::Todo {
        return true;
    }
    all.iter().any(|(_, i)| range.overlaps(i.start, i.end))
}

/// RFC 4791 §9.7.2.
fn prop_matches(obj: &Object, comp: &ICalendarComponent, filter: &PropFilter) -> bool {
    let mut props = comp
        .entries
        .iter()
        .filter(|e| e.name.as_str().eq_ignore_ascii_case(&filter.name));
    if filter.is_not_defined {
        return props.next().is_none();
    }
    let tz = obj.cal.build_tz_resolver().with_default(chrono_tz::UTC);
    props.any(|p| {
        let in_range = filter
            .time_range
            .is_none_or(|r| timestamp(p, &tz).is_some_and(|t| r.overlaps(t, t)));
        let text = filter
            .text_match
            .as_ref()
            .is_none_or(|m| m.matches(&value_text(p)));
        in_range && text && filter.param_filters.iter().all(|f| param_matches(p, f))
    })
}

/// RFC 4791 §9.7.3.
fn param_matches(prop: &ICalendarEntry, filter: &ParamFilter) -> bool {
    let mut params = prop
        .params
        .iter()
        .filter(|p| p.name.as_str().eq_ignore_ascii_case(&filter.name));
    if filter.is_not_defined {
        return params.next().is_none();
    }
    params.any(|p| {
        filter.text_match.as_ref().is_none_or(|m| {
            let value = p.value.clone().into_text().unwrap_or_default();
            m.matches(&value)
        })
    })
}

/// A property's values as text, comma-separated as RFC 5545 writes them.
fn value_text(prop: &ICalendarEntry) -> String {
    prop.values
        .iter()
        .filter_map(|v| v.clone().into_text())
        .collect::<Vec<_>>()
        .join(",")
}
