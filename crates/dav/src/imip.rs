//! Scheduling messages (iTIP, RFC 5546) as mail carries them (iMIP, RFC
//! 6047), sans I/O: the REQUEST and CANCEL an organizer's change calls
//! for, the REPLY of one attendee, a received message read for display,
//! and the updates a received message makes to a stored object.
//!
//! Parsing and writing are calcard's; the rules are ours. Objects are
//! bytes in and iCalendar text (CRLF lines, folded at 75 octets) out; the
//! time (for DTSTAMP) is given by the caller. Addresses are compared
//! without regard to ASCII case, as mail delivery does for our accounts.
//!
//! Only `mailto:` calendar addresses are used (RFC 6047 §2.1: the iMIP
//! recipient is the ATTENDEE's or ORGANIZER's mail address).

use std::fmt;

use calcard::common::timezone::Tz;
use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarMethod,
    ICalendarParameter, ICalendarParameterName, ICalendarParameterValue,
    ICalendarParticipationStatus, ICalendarProperty, ICalendarStatus, ICalendarValue,
};
use calcard::{Entry, Parser};

use crate::ical::MAX_UID;

/// A calendar part larger than this is not read: real invitations are a
/// few kilobytes, and a mail part is shown on a web page.
pub const MAX_SIZE: usize = 256 * 1024;

/// The iTIP methods this server acts on (RFC 5546 §1.4). PUBLISH, ADD,
/// REFRESH, COUNTER and DECLINECOUNTER are read as unsupported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// An invitation or an update (RFC 5546 §3.2.2).
    Request,
    /// An attendee's answer (RFC 5546 §3.2.3).
    Reply,
    /// A cancellation (RFC 5546 §3.2.5).
    Cancel,
}

impl Method {
    /// As written in METHOD and in the Content-Type `method` parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Reply => "REPLY",
            Self::Cancel => "CANCEL",
        }
    }

    const fn to_calcard(self) -> ICalendarMethod {
        match self {
            Self::Request => ICalendarMethod::Request,
            Self::Reply => ICalendarMethod::Reply,
            Self::Cancel => ICalendarMethod::Cancel,
        }
    }
}

/// An attendee's participation status (RFC 5545 §3.2.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartStat {
    /// No answer yet (the default).
    NeedsAction,
    Accepted,
    Tentative,
    Declined,
    Delegated,
    /// A to-do's statuses and extensions, shown as no answer.
    Other,
}

impl PartStat {
    /// The answers an attendee gives from the invitation (RFC 5546
    /// §3.2.3): `accept`, `tentative`, `decline`.
    pub fn answer(s: &str) -> Option<Self> {
        match s {
            "accept" => Some(Self::Accepted),
            "tentative" => Some(Self::Tentative),
            "decline" => Some(Self::Declined),
            _ => None,
        }
    }

    /// As written in the PARTSTAT parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NeedsAction | Self::Other => "NEEDS-ACTION",
            Self::Accepted => "ACCEPTED",
            Self::Tentative => "TENTATIVE",
            Self::Declined => "DECLINED",
            Self::Delegated => "DELEGATED",
        }
    }

    /// In words, for a page.
    pub const fn label(self) -> &'static str {
        match self {
            Self::NeedsAction | Self::Other => "has not answered",
            Self::Accepted => "accepted",
            Self::Tentative => "tentatively accepted",
            Self::Declined => "declined",
            Self::Delegated => "delegated",
        }
    }

    fn from_param(v: &ICalendarParameterValue) -> Self {
        match v {
            ICalendarParameterValue::Partstat(p) => match p {
                ICalendarParticipationStatus::NeedsAction => Self::NeedsAction,
                ICalendarParticipationStatus::Accepted => Self::Accepted,
                ICalendarParticipationStatus::Tentative => Self::Tentative,
                ICalendarParticipationStatus::Declined => Self::Declined,
                ICalendarParticipationStatus::Delegated => Self::Delegated,
                _ => Self::Other,
            },
            _ => Self::Other,
        }
    }

    const fn to_calcard(self) -> ICalendarParticipationStatus {
        match self {
            Self::NeedsAction | Self::Other => ICalendarParticipationStatus::NeedsAction,
            Self::Accepted => ICalendarParticipationStatus::Accepted,
            Self::Tentative => ICalendarParticipationStatus::Tentative,
            Self::Declined => ICalendarParticipationStatus::Declined,
            Self::Delegated => ICalendarParticipationStatus::Delegated,
        }
    }
}

/// An organizer or attendee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The mail address, without `mailto:`.
    pub address: String,
    /// Its CN parameter, if any.
    pub name: Option<String>,
    /// PARTSTAT (an organizer's is `NeedsAction`).
    pub partstat: PartStat,
}

impl Person {
    /// `Name <address>` or the address.
    pub fn display(&self) -> String {
        match &self.name {
            Some(n) if !n.trim().is_empty() => format!("{} <{}>", n.trim(), self.address),
            _ => self.address.clone(),
        }
    }
}

/// A received scheduling message, read for display and for its checks.
/// The times are those of its master component (or its first one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduling {
    pub method: Method,
    pub uid: String,
    /// SEQUENCE (RFC 5545 §3.8.7.4), 0 when absent.
    pub sequence: i64,
    /// Whether it names one occurrence (RECURRENCE-ID).
    pub one_occurrence: bool,
    pub organizer: Person,
    /// The attendees of every component, each address once.
    pub attendees: Vec<Person>,
    pub summary: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
    /// Unix seconds; for an all-day event, midnight UTC of the day.
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// DTSTART is a DATE.
    pub all_day: bool,
    /// It recurs (RRULE or RDATE).
    pub recurring: bool,
}

impl Scheduling {
    /// The attendee with this address, if any.
    pub fn attendee(&self, address: &str) -> Option<&Person> {
        self.attendees.iter().find(|a| same(&a.address, address))
    }
}

/// Why a scheduling message was not read, built or applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImipError {
    /// Over [`MAX_SIZE`].
    TooLarge,
    /// Not UTF-8.
    NotUtf8,
    /// Not one whole VCALENDAR object (calcard's words, or ours).
    NotCalendar(String),
    /// A scheduling message without METHOD (RFC 5546 §3.1).
    NoMethod,
    /// A METHOD this server does not act on.
    UnsupportedMethod(String),
    /// The METHOD is not the one the operation needs (`None`: none, as
    /// a stored object must have, RFC 4791 §4.1).
    WrongMethod {
        expected: Option<Method>,
        found: Option<String>,
    },
    /// No VEVENT or VTODO.
    NoComponent,
    /// Both VEVENT and VTODO, or VJOURNAL / VFREEBUSY.
    UnsupportedComponents,
    /// A component without UID, or one over [`MAX_UID`] octets.
    BadUid,
    /// Components with different UIDs (RFC 5546 §3.1: one UID a message).
    SeveralUids,
    /// No ORGANIZER with a `mailto:` address (RFC 5546 §3.2: required by
    /// REQUEST, REPLY and CANCEL).
    NoOrganizer,
    /// Components naming different organizers.
    SeveralOrganizers,
    /// The address is not an ATTENDEE of the object.
    NotAttendee(String),
    /// The message is about another event (its UID differs).
    OtherEvent,
    /// The message's ORGANIZER is not the stored event's.
    OtherOrganizer,
    /// The message is older than the stored event (RFC 5546 §2.1.5:
    /// SEQUENCE orders the revisions).
    Outdated { stored: i64, received: i64 },
    /// The calendar holds a later answer of this attendee (RFC 5546
    /// §2.1.5: DTSTAMP orders the replies to one revision).
    LaterAnswer(String),
}

impl fmt::Display for ImipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(f, "the calendar part is larger than {MAX_SIZE} octets"),
            Self::NotUtf8 => f.write_str("the calendar part is not valid UTF-8"),
            Self::NotCalendar(why) => write!(f, "not an iCalendar object: {why}"),
            Self::NoMethod => f.write_str("the calendar part has no METHOD, so it is no invitation or answer (RFC 5546 §3.1)"),
            Self::UnsupportedMethod(m) => write!(f, "METHOD:{m} is not acted on here (only REQUEST, REPLY and CANCEL)"),
            Self::WrongMethod { expected, found } => write!(
                f,
                "METHOD is {} where {} was expected",
                found.as_deref().unwrap_or("absent"),
                expected.map_or("none", Method::as_str)
            ),
            Self::NoComponent => f.write_str("the object has no VEVENT or VTODO"),
            Self::UnsupportedComponents => f.write_str("the object must hold VEVENTs or VTODOs, not both, and nothing else to schedule"),
            Self::BadUid => write!(f, "a component has no UID, or one over {MAX_UID} octets"),
            Self::SeveralUids => f.write_str("the components have different UIDs; one message schedules one event (RFC 5546 §3.1)"),
            Self::NoOrganizer => f.write_str("a component has no ORGANIZER with a mailto: address (RFC 5546 §3.2)"),
            Self::SeveralOrganizers => f.write_str("the components name different organizers"),
            Self::NotAttendee(a) => write!(f, "{a} is not an attendee of the event"),
            Self::OtherEvent => f.write_str("the message is about another event (another UID)"),
            Self::OtherOrganizer => f.write_str("the message's organizer is not the organizer of the event in the calendar"),
            Self::Outdated { stored, received } => write!(
                f,
                "the message is for revision {received} of the event; the calendar has revision {stored} (RFC 5546 §2.1.5)"
            ),
            Self::LaterAnswer(a) => write!(f, "the calendar already holds a later answer from {a}"),
        }
    }
}

impl std::error::Error for ImipError {}

/// A message an organizer's change calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub method: Method,
    /// The attendees' addresses, each once, the organizer's never.
    pub recipients: Vec<String>,
    /// The iTIP object.
    pub ical: String,
}

/// A parsed object: its calendar, the indexes of its VEVENTs or VTODOs,
/// their UID, and its METHOD as written.
struct Parsed {
    cal: ICalendar,
    items: Vec<usize>,
    uid: String,
    method: Option<String>,
}

impl Parsed {
    fn item(&self, i: usize) -> &ICalendarComponent {
        &self.cal.components[self.items[i]]
    }

    fn items(&self) -> impl Iterator<Item = &ICalendarComponent> {
        self.items.iter().map(|&i| &self.cal.components[i])
    }

    /// The component without RECURRENCE-ID, else the first.
    fn master(&self) -> &ICalendarComponent {
        self.items()
            .find(|c| !c.has_property(&ICalendarProperty::RecurrenceId))
            .unwrap_or_else(|| self.item(0))
    }

    /// The highest SEQUENCE of its components.
    fn sequence(&self) -> i64 {
        self.items().map(sequence).max().unwrap_or(0)
    }

    /// The one organizer; `Ok(None)` when no component names one.
    fn organizer(&self) -> Result<Option<Person>, ImipError> {
        let mut found: Option<Person> = None;
        for c in self.items() {
            let Some(entry) = c.property(&ICalendarProperty::Organizer) else {
                continue;
            };
            let p = person(entry).ok_or(ImipError::NoOrganizer)?;
            match &found {
                Some(f) if !same(&f.address, &p.address) => {
                    return Err(ImipError::SeveralOrganizers)
                }
                Some(_) => {}
                None => found = Some(p),
            }
        }
        Ok(found)
    }

    /// The attendees of every component, each address once.
    fn attendees(&self) -> Vec<Person> {
        let mut out: Vec<Person> = Vec::new();
        for entry in self
            .items()
            .flat_map(|c| c.properties(&ICalendarProperty::Attendee))
        {
            if let Some(p) = person(entry) {
                if !out.iter().any(|o| same(&o.address, &p.address)) {
                    out.push(p);
                }
            }
        }
        out
    }

    fn method_is(&self, want: Option<Method>) -> Result<(), ImipError> {
        let ok = match (&self.method, want) {
            (None, None) => true,
            (Some(m), Some(w)) => m.eq_ignore_ascii_case(w.as_str()),
            _ => false,
        };
        match ok {
            true => Ok(()),
            false => Err(ImipError::WrongMethod {
                expected: want,
                found: self.method.clone(),
            }),
        }
    }
}

fn parse(data: &[u8]) -> Result<Parsed, ImipError> {
    if data.len() > MAX_SIZE {
        return Err(ImipError::TooLarge);
    }
    let text = std::str::from_utf8(data).map_err(|_| ImipError::NotUtf8)?;
    // calcard takes an object cut short as whole; RFC 5545 §3.4 ends one
    // with END:VCALENDAR.
    let last = text.trim_end().rsplit('\n').next().unwrap_or_default();
    if !last.trim_end().eq_ignore_ascii_case("END:VCALENDAR") {
        return Err(ImipError::NotCalendar(
            "the last line is not END:VCALENDAR".into(),
        ));
    }
    let mut parser = Parser::new(text);
    let Entry::ICalendar(cal) = parser.entry() else {
        return Err(ImipError::NotCalendar("no whole VCALENDAR object".into()));
    };
    if !matches!(parser.entry(), Entry::Eof) {
        return Err(ImipError::NotCalendar(
            "there is data after END:VCALENDAR".into(),
        ));
    }
    check(cal)
}

fn check(cal: ICalendar) -> Result<Parsed, ImipError> {
    let root = cal
        .components
        .first()
        .filter(|c| c.component_type == ICalendarComponentType::VCalendar)
        .ok_or_else(|| ImipError::NotCalendar("no BEGIN:VCALENDAR".into()))?;
    let method = root
        .property(&ICalendarProperty::Method)
        .and_then(|m| m.values.first())
        .and_then(|v| v.clone().into_text())
        .map(|m| m.into_owned());
    let mut items = Vec::new();
    let mut kind = None;
    for &id in &root.component_ids {
        let comp = cal
            .components
            .get(id as usize)
            .ok_or_else(|| ImipError::NotCalendar("a component is missing".into()))?;
        match &comp.component_type {
            t @ (ICalendarComponentType::VEvent | ICalendarComponentType::VTodo) => {
                if kind.is_some_and(|k| k != t) {
                    return Err(ImipError::UnsupportedComponents);
                }
                kind = Some(t);
                items.push(id as usize);
            }
            ICalendarComponentType::VJournal | ICalendarComponentType::VFreebusy => {
                return Err(ImipError::UnsupportedComponents)
            }
            _ => {}
        }
    }
    let uid = one_uid(&cal, &items)?;
    Ok(Parsed {
        cal,
        items,
        uid,
        method,
    })
}

fn one_uid(cal: &ICalendar, items: &[usize]) -> Result<String, ImipError> {
    let mut uid: Option<&str> = None;
    for &i in items {
        let this = cal.components[i].uid().ok_or(ImipError::BadUid)?;
        if this.is_empty() || this.len() > MAX_UID {
            return Err(ImipError::BadUid);
        }
        if uid.is_some_and(|u| u != this) {
            return Err(ImipError::SeveralUids);
        }
        uid = Some(this);
    }
    uid.map(str::to_owned).ok_or(ImipError::NoComponent)
}

/// Reads a received scheduling message: one of the methods acted on, one
/// UID, one organizer.
pub fn read(data: &[u8]) -> Result<Scheduling, ImipError> {
    let p = parse(data)?;
    let method = match p.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None => return Err(ImipError::NoMethod),
        Some("REQUEST") => Method::Request,
        Some("REPLY") => Method::Reply,
        Some("CANCEL") => Method::Cancel,
        Some(other) => return Err(ImipError::UnsupportedMethod(other.to_owned())),
    };
    let organizer = p.organizer()?.ok_or(ImipError::NoOrganizer)?;
    // RFC 5546 §3.2: every component of these methods has an ORGANIZER.
    if p.items()
        .any(|c| !c.has_property(&ICalendarProperty::Organizer))
    {
        return Err(ImipError::NoOrganizer);
    }
    let master = p.master();
    let tz = p.cal.build_tz_resolver().with_default(chrono_tz::UTC);
    let start = master
        .property(&ICalendarProperty::Dtstart)
        .or_else(|| master.property(&ICalendarProperty::Due));
    let all_day = start
        .and_then(|e| e.values.first())
        .and_then(ICalendarValue::as_partial_date_time)
        .is_some_and(|d| !d.has_time());
    let start_at = start.and_then(|e| timestamp(e, &tz));
    let end_at = match master.property(&ICalendarProperty::Dtend) {
        Some(e) => timestamp(e, &tz),
        None => duration_end(master, start_at),
    };
    Ok(Scheduling {
        method,
        uid: p.uid.clone(),
        sequence: p.sequence(),
        one_occurrence: master.has_property(&ICalendarProperty::RecurrenceId),
        organizer,
        attendees: p.attendees(),
        summary: text(master, ICalendarProperty::Summary),
        location: text(master, ICalendarProperty::Location),
        description: text(master, ICalendarProperty::Description),
        start: start_at,
        end: end_at,
        all_day,
        recurring: master.has_property(&ICalendarProperty::Rrule)
            || master.has_property(&ICalendarProperty::Rdate),
    })
}

fn duration_end(comp: &ICalendarComponent, start: Option<i64>) -> Option<i64> {
    let d = comp
        .property(&ICalendarProperty::Duration)?
        .values
        .first()?;
    match d {
        ICalendarValue::Duration(d) => Some(start? + d.as_seconds()),
        _ => None,
    }
}

// --- the organizer's side ---

/// The messages an organizer's change calls for (RFC 5546 §3.2): a
/// REQUEST to every attendee of a new event or of one whose time, place,
/// text, recurrence or status changed, else to the attendees added only;
/// a CANCEL to the attendees removed, or to all when the event is
/// deleted. `before` and `after` are the stored objects (`None`: created
/// or deleted); `own` the user's addresses. Nothing is sent for an event
/// without attendees or organized by someone else.
pub fn plan(
    before: Option<&[u8]>,
    after: Option<&[u8]>,
    own: &[String],
    now: i64,
) -> Result<Vec<Outgoing>, ImipError> {
    let before = before.map(stored).transpose()?;
    let after = after.map(stored).transpose()?;
    let ours = |p: &Option<Parsed>| -> Result<Vec<Person>, ImipError> {
        match p {
            Some(p) if organized_by(p, own)? => Ok(guests(p, own)),
            _ => Ok(Vec::new()),
        }
    };
    let (was, is) = (ours(&before)?, ours(&after)?);
    let mut out = Vec::new();
    if let Some(after) = after.as_ref().filter(|_| !is.is_empty()) {
        let changed = match before.as_ref().filter(|_| !was.is_empty()) {
            None => true,
            Some(b) => b.uid != after.uid || signature(b) != signature(after),
        };
        let recipients: Vec<String> = is
            .iter()
            .filter(|a| changed || !was.iter().any(|w| same(&w.address, &a.address)))
            .map(|a| a.address.clone())
            .collect();
        if !recipients.is_empty() {
            out.push(Outgoing {
                method: Method::Request,
                recipients,
                ical: request_of(after, now)?,
            });
        }
    }
    if let Some(before) = before.as_ref().filter(|_| !was.is_empty()) {
        let still = |a: &Person| {
            after.as_ref().is_some_and(|x| {
                x.uid == before.uid && is.iter().any(|i| same(&i.address, &a.address))
            })
        };
        let removed: Vec<String> = was
            .iter()
            .filter(|a| !still(a))
            .map(|a| a.address.clone())
            .collect();
        if !removed.is_empty() {
            // RFC 5546 §2.1.4: a cancellation is a new revision; it must
            // also supersede the revision now stored, if that is higher.
            let seq = (before.sequence() + 1).max(after.as_ref().map_or(0, Parsed::sequence));
            out.push(Outgoing {
                method: Method::Cancel,
                ical: cancel_of(before, &removed, seq, now)?,
                recipients: removed,
            });
        }
    }
    Ok(out)
}

/// What the pages need of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub uid: String,
    pub sequence: i64,
    pub organizer: Option<Person>,
    pub attendees: Vec<Person>,
}

/// Reads a stored object (no METHOD) for its organizer and attendees.
pub fn read_stored(data: &[u8]) -> Result<Stored, ImipError> {
    let p = stored(data)?;
    Ok(Stored {
        organizer: p.organizer()?,
        attendees: p.attendees(),
        sequence: p.sequence(),
        uid: p.uid,
    })
}

/// A stored object: no METHOD (RFC 4791 §4.1).
fn stored(data: &[u8]) -> Result<Parsed, ImipError> {
    let p = parse(data)?;
    p.method_is(None)?;
    Ok(p)
}

/// Whether the object is a group-scheduled one organized by one of `own`.
/// Attendees without an organizer are refused (RFC 5545 §3.8.4.3: the
/// ORGANIZER of a group-scheduled component is required).
fn organized_by(p: &Parsed, own: &[String]) -> Result<bool, ImipError> {
    match p.organizer()? {
        Some(o) => Ok(own.iter().any(|a| same(a, &o.address))),
        None if p.attendees().is_empty() => Ok(false),
        None => Err(ImipError::NoOrganizer),
    }
}

/// The attendees other than the user.
fn guests(p: &Parsed, own: &[String]) -> Vec<Person> {
    let mut all = p.attendees();
    all.retain(|a| !own.iter().any(|o| same(o, &a.address)));
    all
}

/// What an attendee must be told about again when it changes: the
/// properties that make the event another one for them (RFC 5546
/// §2.1.4 lists these as the changes that bump SEQUENCE), of every
/// component. Answers (PARTSTAT) and DTSTAMP are left out.
fn signature(p: &Parsed) -> Vec<String> {
    use ICalendarProperty as P;
    let keep = [
        P::Dtstart,
        P::Dtend,
        P::Duration,
        P::Due,
        P::Rrule,
        P::Rdate,
        P::Exdate,
        P::RecurrenceId,
        P::Summary,
        P::Location,
        P::Description,
        P::Status,
        P::Sequence,
    ];
    let mut out: Vec<String> = p
        .items()
        .flat_map(|c| c.entries.iter())
        .filter(|e| keep.contains(&e.name))
        .map(|e| {
            let mut s = String::new();
            let _ = e.write_to(&mut s);
            s
        })
        .collect();
    out.sort();
    out
}

/// METHOD:REQUEST of an organizer's stored object (RFC 5546 §3.2.2):
/// every component with its attendees, alarms left out (they are the
/// organizer's own reminders), DTSTAMP now.
pub fn request(stored_object: &[u8], now: i64) -> Result<String, ImipError> {
    let p = stored(stored_object)?;
    p.organizer()?.ok_or(ImipError::NoOrganizer)?;
    request_of(&p, now)
}

fn request_of(p: &Parsed, now: i64) -> Result<String, ImipError> {
    let items: Vec<ICalendarComponent> = p.items().cloned().collect();
    build(p, Method::Request, items, now)
}

/// METHOD:CANCEL (RFC 5546 §3.2.5) of the master (so the whole event,
/// every occurrence) for `attendees`, at revision `seq`.
fn cancel_of(p: &Parsed, attendees: &[String], seq: i64, now: i64) -> Result<String, ImipError> {
    let mut comp = p.master().clone();
    comp.entries.retain(|e| {
        e.name != ICalendarProperty::Attendee
            || person(e).is_some_and(|a| attendees.iter().any(|x| same(x, &a.address)))
    });
    set(
        &mut comp,
        ICalendarProperty::Sequence,
        ICalendarValue::Integer(seq),
    );
    set(
        &mut comp,
        ICalendarProperty::Status,
        ICalendarValue::Status(ICalendarStatus::Cancelled),
    );
    build(p, Method::Cancel, vec![comp], now)
}

/// METHOD:CANCEL of a stored object for all its attendees, as when it is
/// deleted.
pub fn cancel(stored_object: &[u8], now: i64) -> Result<String, ImipError> {
    let p = stored(stored_object)?;
    p.organizer()?.ok_or(ImipError::NoOrganizer)?;
    let all: Vec<String> = p.attendees().into_iter().map(|a| a.address).collect();
    cancel_of(&p, &all, p.sequence() + 1, now)
}

// --- the attendee's side ---

/// METHOD:REPLY of `attendee` to a received REQUEST (RFC 5546 §3.2.3):
/// each component with its UID, SEQUENCE and RECURRENCE-ID as received,
/// the organizer, this attendee only with `partstat`, DTSTAMP now.
pub fn reply(
    request_object: &[u8],
    attendee: &str,
    partstat: PartStat,
    now: i64,
) -> Result<String, ImipError> {
    let p = received(request_object, Method::Request)?;
    let mut items = Vec::new();
    for c in p.items() {
        let mut comp = ICalendarComponent::new(c.component_type.clone());
        let mut invited = false;
        for e in &c.entries {
            if e.name == ICalendarProperty::Attendee {
                if person(e).is_some_and(|a| same(&a.address, attendee)) {
                    let mut e = e.clone();
                    answer(&mut e, partstat);
                    comp.entries.push(e);
                    invited = true;
                }
            } else if REPLY_KEEPS.contains(&e.name) {
                comp.entries.push(e.clone());
            }
        }
        if !invited {
            return Err(ImipError::NotAttendee(attendee.to_owned()));
        }
        items.push(comp);
    }
    build(&p, Method::Reply, items, now)
}

/// What a REPLY repeats of the request besides the attendee: what RFC
/// 5546 §3.2.3 requires (ORGANIZER, UID, SEQUENCE, RECURRENCE-ID) and
/// what lets a reader see which event it answers.
const REPLY_KEEPS: [ICalendarProperty; 10] = [
    ICalendarProperty::Organizer,
    ICalendarProperty::Uid,
    ICalendarProperty::Sequence,
    ICalendarProperty::RecurrenceId,
    ICalendarProperty::Dtstart,
    ICalendarProperty::Dtend,
    ICalendarProperty::Duration,
    ICalendarProperty::Due,
    ICalendarProperty::Summary,
    ICalendarProperty::Location,
];

/// The object an attendee stores from a received REQUEST: as received,
/// without METHOD (RFC 4791 §4.1), with the attendee's answer.
pub fn attendee_copy(
    request_object: &[u8],
    attendee: &str,
    partstat: PartStat,
) -> Result<String, ImipError> {
    let mut p = received(request_object, Method::Request)?;
    p.cal.components[0]
        .entries
        .retain(|e| e.name != ICalendarProperty::Method);
    let mut invited = false;
    for &i in &p.items {
        for e in p.cal.components[i].properties_mut(&ICalendarProperty::Attendee) {
            if person(e).is_some_and(|a| same(&a.address, attendee)) {
                answer(e, partstat);
                invited = true;
            }
        }
    }
    if !invited {
        return Err(ImipError::NotAttendee(attendee.to_owned()));
    }
    bounded(p.cal.to_string())
}

/// The stored object with the occurrences of `copy` (an attendee copy of
/// a REQUEST for single occurrences, RFC 5546 §3.2.2.4) put in: each
/// replaces the component with its RECURRENCE-ID, or joins the others.
/// The rest of the stored object (the series) stays as it is.
pub fn merge_occurrences(stored_object: &[u8], copy: &str) -> Result<String, ImipError> {
    let mut p = stored(stored_object)?;
    let c = stored(copy.as_bytes())?;
    if p.uid != c.uid {
        return Err(ImipError::OtherEvent);
    }
    let rids = |x: &Parsed| -> Vec<(usize, Option<i64>)> {
        let tz = x.cal.build_tz_resolver().with_default(chrono_tz::UTC);
        x.items
            .iter()
            .map(|&i| (i, recurrence_id(&x.cal.components[i], &tz)))
            .collect()
    };
    let incoming = rids(&c);
    let replaced: Vec<u32> = rids(&p)
        .into_iter()
        .filter(|(_, r)| r.is_some() && incoming.iter().any(|(_, x)| x == r))
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .collect();
    p.cal.remove_component_ids(&replaced);
    for (i, rid) in incoming {
        if rid.is_some() {
            copy_tree(&mut p.cal, &c.cal, i);
        }
    }
    bounded(p.cal.to_string())
}

/// Whether a received REQUEST or CANCEL may change (or remove) the
/// stored object: the same event, the same organizer, not an older
/// revision (RFC 5546 §2.1.5).
pub fn may_replace(stored_object: &[u8], received_msg: &Scheduling) -> Result<(), ImipError> {
    let p = stored(stored_object)?;
    if p.uid != received_msg.uid {
        return Err(ImipError::OtherEvent);
    }
    match p.organizer()? {
        Some(o) if same(&o.address, &received_msg.organizer.address) => {}
        _ => return Err(ImipError::OtherOrganizer),
    }
    // A message about the whole event is weighed against the master's
    // revision; one about single occurrences against every component's,
    // as it may touch any.
    let have = match received_msg.one_occurrence {
        true => p.sequence(),
        false => sequence(p.master()),
    };
    if received_msg.sequence < have {
        return Err(ImipError::Outdated {
            stored: have,
            received: received_msg.sequence,
        });
    }
    Ok(())
}

/// What a REPLY did to the organizer's stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The object to store; `None` when it already says so.
    pub data: Option<String>,
    /// The answer applied.
    pub partstat: PartStat,
}

/// Applies a received REPLY to the organizer's stored object: the
/// PARTSTAT of the attendee `sender` (the message's From: address) and
/// nobody else's, in the components the reply names (its RECURRENCE-ID,
/// or every one when it has none). Refused for another event, another
/// organizer, an older revision, or a sender the reply or the stored
/// event does not list as an attendee: a reply cannot speak for others.
pub fn apply_reply(
    stored_object: &[u8],
    reply_object: &[u8],
    sender: &str,
) -> Result<Applied, ImipError> {
    let mut p = stored(stored_object)?;
    let r = received(reply_object, Method::Reply)?;
    may_replace(stored_object, &read(reply_object)?)?;
    let answers = answers_of(&r, sender);
    let Some(&(_, partstat, _)) = answers.first() else {
        return Err(ImipError::NotAttendee(sender.to_owned()));
    };
    let rids: Vec<Option<i64>> = {
        let tz = p.cal.build_tz_resolver().with_default(chrono_tz::UTC);
        p.items().map(|c| recurrence_id(c, &tz)).collect()
    };
    let (mut found, mut changed) = (false, false);
    for (rid, ps, stamp) in answers {
        for (n, &i) in p.items.iter().enumerate() {
            if rid.is_some() && rid != rids[n] {
                continue;
            }
            for e in p.cal.components[i].properties_mut(&ICalendarProperty::Attendee) {
                if !person(e).is_some_and(|a| same(&a.address, sender)) {
                    continue;
                }
                found = true;
                changed |=
                    record(e, ps, stamp).map_err(|()| ImipError::LaterAnswer(sender.to_owned()))?;
            }
        }
    }
    if !found {
        return Err(ImipError::NotAttendee(sender.to_owned()));
    }
    let data = match changed {
        true => Some(bounded(p.cal.to_string())?),
        false => None,
    };
    Ok(Applied { data, partstat })
}

/// The ATTENDEE parameter in which an organizer's object keeps the
/// DTSTAMP of the answer it holds, so that an older reply opened later
/// does not undo a newer one (RFC 5546 §2.1.5). Unix seconds.
const ANSWERED: &str = "X-POSTERN-DTSTAMP";

/// The answers of `sender` in a reply: (RECURRENCE-ID, PARTSTAT,
/// DTSTAMP) of each component naming them.
fn answers_of(r: &Parsed, sender: &str) -> Vec<(Option<i64>, PartStat, Option<i64>)> {
    let tz = r.cal.build_tz_resolver().with_default(chrono_tz::UTC);
    r.items()
        .filter_map(|c| {
            let a = c
                .properties(&ICalendarProperty::Attendee)
                .filter_map(person)
                .find(|a| same(&a.address, sender))?;
            let stamp = c
                .property(&ICalendarProperty::Dtstamp)
                .and_then(|e| timestamp(e, &tz));
            Some((recurrence_id(c, &tz), a.partstat, stamp))
        })
        .collect()
}

fn recurrence_id(
    c: &ICalendarComponent,
    tz: &calcard::icalendar::timezone::TzResolver<&str>,
) -> Option<i64> {
    c.property(&ICalendarProperty::RecurrenceId)
        .and_then(|e| timestamp(e, tz))
}

/// Records an answer on an ATTENDEE: whether PARTSTAT changed; `Err`
/// when the one held is from a later reply.
fn record(e: &mut ICalendarEntry, partstat: PartStat, stamp: Option<i64>) -> Result<bool, ()> {
    let name = ICalendarParameterName::Other(ANSWERED.into());
    let held = e
        .parameter(&name)
        .and_then(ICalendarParameterValue::as_text)
        .and_then(|t| t.parse::<i64>().ok());
    if held.zip(stamp).is_some_and(|(h, s)| h > s) {
        return Err(());
    }
    if person(e).is_some_and(|a| a.partstat == partstat) {
        return Ok(false);
    }
    set_partstat(e, partstat);
    e.params.retain(|p| p.name != name);
    if let Some(s) = stamp {
        e.params.push(ICalendarParameter {
            name,
            value: ICalendarParameterValue::Text(s.to_string()),
        });
    }
    Ok(true)
}

/// A received message with this METHOD, with an organizer.
fn received(data: &[u8], method: Method) -> Result<Parsed, ImipError> {
    let p = parse(data)?;
    p.method_is(Some(method))?;
    p.organizer()?.ok_or(ImipError::NoOrganizer)?;
    Ok(p)
}

// --- helpers ---

/// A new VCALENDAR with METHOD, the source's time zones and `items`
/// (their sub-components, such as alarms, left out), each stamped now.
fn build(
    src: &Parsed,
    method: Method,
    items: Vec<ICalendarComponent>,
    now: i64,
) -> Result<String, ImipError> {
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(
        ICalendarProperty::Prodid,
        ICalendarValue::Text("-//Postern//iMIP//EN".into()),
    );
    root.add_property(
        ICalendarProperty::Version,
        ICalendarValue::Text("2.0".into()),
    );
    root.add_property(
        ICalendarProperty::Method,
        ICalendarValue::Method(method.to_calcard()),
    );
    let mut cal = ICalendar {
        components: vec![root],
    };
    for (i, tz) in src.cal.components.iter().enumerate() {
        if tz.component_type == ICalendarComponentType::VTimezone {
            copy_tree(&mut cal, &src.cal, i);
        }
    }
    let stamp = ICalendarValue::PartialDateTime(Box::new(PartialDateTime::from_utc_timestamp(now)));
    for mut item in items {
        item.component_ids.clear();
        set(&mut item, ICalendarProperty::Dtstamp, stamp.clone());
        push_child(&mut cal, 0, item);
    }
    bounded(cal.to_string())
}

/// What we build is never more than we would read: written out, an
/// object can outgrow its source (time zones copied, text escaped).
/// Nor is it anything we would not read back: input calcard took but
/// writes differently (a stray parameter, say) is refused here rather
/// than sent or stored.
fn bounded(text: String) -> Result<String, ImipError> {
    if text.len() > MAX_SIZE {
        return Err(ImipError::TooLarge);
    }
    let again = parse(text.as_bytes())?;
    if again.method.is_some() {
        again.organizer()?.ok_or(ImipError::NoOrganizer)?;
    }
    Ok(text)
}

/// Copies component `id` of `src` with its descendants under the root.
fn copy_tree(cal: &mut ICalendar, src: &ICalendar, id: usize) {
    fn copy(cal: &mut ICalendar, src: &ICalendar, id: usize, parent: usize) {
        let Some(c) = src.components.get(id) else {
            return;
        };
        let mut node = c.clone();
        node.component_ids.clear();
        let at = push_child(cal, parent, node);
        for &child in &c.component_ids {
            copy(cal, src, child as usize, at);
        }
    }
    copy(cal, src, id, 0);
}

fn push_child(cal: &mut ICalendar, parent: usize, comp: ICalendarComponent) -> usize {
    let at = cal.components.len();
    cal.components.push(comp);
    // Indexes are u32 in calcard; an object under MAX_SIZE has far fewer.
    cal.components[parent]
        .component_ids
        .push(u32::try_from(at).unwrap_or(u32::MAX));
    at
}

/// Replaces every `name` property of `comp` with one of this value.
fn set(comp: &mut ICalendarComponent, name: ICalendarProperty, value: ICalendarValue) {
    comp.entries.retain(|e| e.name != name);
    comp.entries.push(ICalendarEntry {
        name,
        params: Vec::new(),
        values: vec![value],
    });
}

/// The attendee's answer: PARTSTAT set, RSVP (a request for an answer,
/// RFC 5545 §3.2.17) dropped now that it is given.
fn answer(e: &mut ICalendarEntry, partstat: PartStat) {
    e.params.retain(|p| p.name != ICalendarParameterName::Rsvp);
    set_partstat(e, partstat);
}

fn set_partstat(e: &mut ICalendarEntry, partstat: PartStat) {
    e.params
        .retain(|p| p.name != ICalendarParameterName::Partstat);
    e.params.push(ICalendarParameter {
        name: ICalendarParameterName::Partstat,
        value: ICalendarParameterValue::Partstat(partstat.to_calcard()),
    });
}

/// An ORGANIZER or ATTENDEE with a `mailto:` address.
fn person(e: &ICalendarEntry) -> Option<Person> {
    let value = e.values.first()?.as_text()?.trim();
    let (scheme, address) = value.split_once(':')?;
    let address = address.trim();
    if !scheme.eq_ignore_ascii_case("mailto") || !is_address(address) {
        return None;
    }
    let name = e
        .parameter(&ICalendarParameterName::Cn)
        .and_then(ICalendarParameterValue::as_text)
        .map(|s| s.chars().filter(|c| !c.is_control()).collect());
    Some(Person {
        address: address.to_owned(),
        name,
        partstat: e
            .parameter(&ICalendarParameterName::Partstat)
            .map_or(PartStat::NeedsAction, PartStat::from_param),
    })
}

/// `local@domain`, both parts present, nothing that could end a mail
/// header or an SMTP path (the address becomes both), at most 254 octets
/// (RFC 5321 §4.5.3.1.3).
fn is_address(s: &str) -> bool {
    let bad = |c: char| c.is_control() || c.is_whitespace() || "<>()[],;:\"\\".contains(c);
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && s.len() <= 254 && !s.chars().any(bad)
        }
        None => false,
    }
}

fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn sequence(c: &ICalendarComponent) -> i64 {
    c.property(&ICalendarProperty::Sequence)
        .and_then(|e| e.values.first())
        .and_then(ICalendarValue::as_integer)
        .unwrap_or(0)
}

fn text(c: &ICalendarComponent, name: ICalendarProperty) -> Option<String> {
    c.property(&name)
        .and_then(|e| e.values.first())
        .and_then(ICalendarValue::as_text)
        .map(str::to_owned)
}

/// A date or date-time property's first value as Unix seconds (a TZID
/// resolved by the object's VTIMEZONEs or as an IANA name; floating
/// times and dates read as UTC).
fn timestamp(
    entry: &ICalendarEntry,
    tz: &calcard::icalendar::timezone::TzResolver<&str>,
) -> Option<i64> {
    let ICalendarValue::PartialDateTime(dt) = entry.values.first()? else {
        return None;
    };
    let zone: Tz = tz.resolve_or_default(entry.tz_id());
    Some(dt.to_date_time()?.to_date_time_with_tz(zone)?.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "alice@example.test";
    const NOW: i64 = 1_795_000_000;

    /// An organizer's stored event with `attendees` (lines without CRLF).
    fn event(seq: u32, extra: &str, attendees: &[&str]) -> String {
        let mut s = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:meet-1@example.test\r\n\
DTSTAMP:20260101T000000Z\r\nSEQUENCE:{seq}\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n\
SUMMARY:Planning\r\nLOCATION:Room 4\r\nORGANIZER;CN=Alice:mailto:{ALICE}\r\n{extra}"
        );
        for a in attendees {
            s.push_str(&format!(
                "ATTENDEE;CN=Guest;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{a}\r\n"
            ));
        }
        s.push_str(
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n",
        );
        s.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
        s
    }

    fn own() -> Vec<String> {
        vec![ALICE.to_owned(), "al@example.test".to_owned()]
    }

    fn with_method(stored: &str, method: &str) -> String {
        stored.replacen(
            "VERSION:2.0\r\n",
            &format!("VERSION:2.0\r\nMETHOD:{method}\r\n"),
            1,
        )
    }

    #[test]
    fn a_new_event_invites_every_attendee_but_the_organizer() {
        let e = event(0, "", &["bob@example.test", ALICE, "carol@else.test"]);
        let out = plan(None, Some(e.as_bytes()), &own(), NOW).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].method, Method::Request);
        assert_eq!(out[0].recipients, ["bob@example.test", "carol@else.test"]);
        let ical = &out[0].ical;
        assert!(ical.contains("METHOD:REQUEST\r\n"), "{ical}");
        assert!(
            !ical.contains("VALARM"),
            "the organizer's alarms stay home: {ical}"
        );
        assert!(ical.contains("DTSTAMP:20261118T"), "{ical}");
        let read = read(ical.as_bytes()).unwrap();
        assert_eq!(read.method, Method::Request);
        assert_eq!(read.uid, "meet-1@example.test");
        assert_eq!(read.organizer.address, ALICE);
        assert_eq!(read.summary.as_deref(), Some("Planning"));
        assert_eq!(read.location.as_deref(), Some("Room 4"));
        assert_eq!(read.start, Some(1_796_119_200));
        assert_eq!(read.end, Some(1_796_122_800));
        assert_eq!(read.attendees.len(), 3);
    }

    #[test]
    fn nothing_is_sent_without_attendees_or_for_someone_elses_event() {
        let alone = event(0, "", &[]);
        assert!(plan(None, Some(alone.as_bytes()), &own(), NOW)
            .unwrap()
            .is_empty());
        let theirs = event(0, "", &["bob@example.test"]).replace(
            &format!("mailto:{ALICE}\r\nATT"),
            "mailto:zed@other.test\r\nATT",
        );
        assert!(theirs.contains("zed@other.test"));
        assert!(plan(None, Some(theirs.as_bytes()), &own(), NOW)
            .unwrap()
            .is_empty());
        assert!(plan(Some(theirs.as_bytes()), None, &own(), NOW)
            .unwrap()
            .is_empty());
        // An alias of the user is the user.
        let alias = event(0, "", &["bob@example.test"]).replace(
            &format!("mailto:{ALICE}\r\nATT"),
            "mailto:AL@example.test\r\nATT",
        );
        assert_eq!(
            plan(None, Some(alias.as_bytes()), &own(), NOW)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn attendees_without_an_organizer_are_refused() {
        let e = event(0, "", &["bob@example.test"])
            .replace(&format!("ORGANIZER;CN=Alice:mailto:{ALICE}\r\n"), "");
        assert_eq!(
            plan(None, Some(e.as_bytes()), &own(), NOW),
            Err(ImipError::NoOrganizer)
        );
    }

    #[test]
    fn a_change_of_time_goes_to_all_a_new_attendee_alone_gets_the_request() {
        let before = event(0, "", &["bob@example.test"]);
        let moved = event(1, "", &["bob@example.test"]).replace("T100000Z", "T140000Z");
        let out = plan(Some(before.as_bytes()), Some(moved.as_bytes()), &own(), NOW).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].recipients, ["bob@example.test"]);

        let added = event(0, "", &["bob@example.test", "carol@else.test"]);
        let out = plan(Some(before.as_bytes()), Some(added.as_bytes()), &own(), NOW).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].recipients, ["carol@else.test"]);

        // An answer recorded (PARTSTAT) sends nothing.
        let answered = before.replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED");
        assert!(plan(
            Some(before.as_bytes()),
            Some(answered.as_bytes()),
            &own(),
            NOW
        )
        .unwrap()
        .is_empty());
    }

    #[test]
    fn removed_attendees_and_deletion_get_a_cancel() {
        let before = event(2, "", &["bob@example.test", "carol@else.test"]);
        let after = event(2, "", &["bob@example.test"]);
        let out = plan(Some(before.as_bytes()), Some(after.as_bytes()), &own(), NOW).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].method, Method::Cancel);
        assert_eq!(out[0].recipients, ["carol@else.test"]);
        let c = read(out[0].ical.as_bytes()).unwrap();
        assert_eq!(c.method, Method::Cancel);
        assert_eq!(c.sequence, 3, "a cancellation is a new revision");
        assert_eq!(c.attendees.len(), 1, "only the removed attendee is named");
        assert!(out[0].ical.contains("STATUS:CANCELLED"), "{}", out[0].ical);

        let out = plan(Some(before.as_bytes()), None, &own(), NOW).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].method, Method::Cancel);
        assert_eq!(out[0].recipients, ["bob@example.test", "carol@else.test"]);
        assert_eq!(
            cancel(before.as_bytes(), NOW).unwrap(),
            out[0].ical,
            "a deletion cancels for everyone"
        );
    }

    #[test]
    fn a_stored_object_with_method_is_refused() {
        let e = with_method(&event(0, "", &["bob@example.test"]), "REQUEST");
        assert!(matches!(
            plan(None, Some(e.as_bytes()), &own(), NOW),
            Err(ImipError::WrongMethod { expected: None, .. })
        ));
    }

    #[test]
    fn read_refuses_nonsense() {
        let e = event(0, "", &["bob@example.test"]);
        assert_eq!(read(e.as_bytes()), Err(ImipError::NoMethod));
        let publish = with_method(&e, "PUBLISH");
        assert_eq!(
            read(publish.as_bytes()),
            Err(ImipError::UnsupportedMethod("PUBLISH".into()))
        );
        let no_org = with_method(&e, "REQUEST")
            .replace(&format!("ORGANIZER;CN=Alice:mailto:{ALICE}\r\n"), "");
        assert_eq!(read(no_org.as_bytes()), Err(ImipError::NoOrganizer));
        let http_org =
            with_method(&e, "REQUEST").replace(&format!("mailto:{ALICE}"), "https://x.test/");
        assert_eq!(read(http_org.as_bytes()), Err(ImipError::NoOrganizer));
        let two = with_method(&e, "REQUEST").replace(
            "END:VEVENT\r\n",
            "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:other\r\nDTSTAMP:20260101T000000Z\r\nEND:VEVENT\r\n",
        );
        assert_eq!(read(two.as_bytes()), Err(ImipError::SeveralUids));
        for bad in [
            &b"garbage"[..],
            b"",
            b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\n",
            b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n",
            b"\xff\xfe",
            b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        ] {
            assert!(read(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let big = vec![b'x'; MAX_SIZE + 1];
        assert_eq!(read(&big), Err(ImipError::TooLarge));
    }

    #[test]
    fn a_reply_names_one_attendee_with_the_request_revision() {
        let req = with_method(
            &event(
                4,
                "RECURRENCE-ID:20261201T100000Z\r\n",
                &["bob@example.test", "carol@else.test"],
            ),
            "REQUEST",
        );
        let r = reply(req.as_bytes(), "BOB@example.test", PartStat::Accepted, NOW).unwrap();
        assert!(r.contains("METHOD:REPLY\r\n"), "{r}");
        assert!(!r.contains("carol"), "{r}");
        assert!(!r.contains("RSVP"), "{r}");
        assert!(r.contains("RECURRENCE-ID:20261201T100000Z"), "{r}");
        let got = read(r.as_bytes()).unwrap();
        assert_eq!(got.method, Method::Reply);
        assert_eq!(got.sequence, 4);
        assert_eq!(got.uid, "meet-1@example.test");
        assert_eq!(got.attendees.len(), 1);
        assert_eq!(got.attendees[0].partstat, PartStat::Accepted);
        assert_eq!(got.organizer.address, ALICE);
        assert_eq!(
            reply(req.as_bytes(), "mallory@x.test", PartStat::Accepted, NOW),
            Err(ImipError::NotAttendee("mallory@x.test".into()))
        );
        // Only a REQUEST is answered.
        let cancel = with_method(&event(4, "", &["bob@example.test"]), "CANCEL");
        assert!(matches!(
            reply(
                cancel.as_bytes(),
                "bob@example.test",
                PartStat::Accepted,
                NOW
            ),
            Err(ImipError::WrongMethod { .. })
        ));
    }

    #[test]
    fn the_attendee_copy_has_no_method_and_the_answer() {
        let req = with_method(
            &event(1, "", &["bob@example.test", "carol@else.test"]),
            "REQUEST",
        );
        let copy = attendee_copy(req.as_bytes(), "bob@example.test", PartStat::Tentative).unwrap();
        assert!(!copy.contains("METHOD"), "{copy}");
        assert!(copy.contains("PARTSTAT=TENTATIVE"), "{copy}");
        assert!(copy.contains("carol@else.test"), "{copy}");
        // Storable as CalDAV stores objects.
        crate::ical::analyze(copy.as_bytes()).unwrap();
    }

    #[test]
    fn an_occurrence_joins_the_stored_series() {
        let series = event(0, "RRULE:FREQ=DAILY;COUNT=5\r\n", &["bob@example.test"]);
        let one = with_method(
            &event(
                1,
                "RECURRENCE-ID:20261202T100000Z\r\n",
                &["bob@example.test"],
            )
            .replace("SUMMARY:Planning", "SUMMARY:Planning (moved)"),
            "REQUEST",
        );
        let copy = attendee_copy(one.as_bytes(), "bob@example.test", PartStat::Accepted).unwrap();
        let merged = merge_occurrences(series.as_bytes(), &copy).unwrap();
        assert!(merged.contains("RRULE:FREQ=DAILY;COUNT=5"), "{merged}");
        assert!(merged.contains("SUMMARY:Planning (moved)"), "{merged}");
        assert_eq!(merged.matches("BEGIN:VEVENT").count(), 2, "{merged}");
        crate::ical::analyze(merged.as_bytes()).unwrap();
        // The same occurrence again replaces the override.
        let again = merge_occurrences(merged.as_bytes(), &copy).unwrap();
        assert_eq!(again.matches("BEGIN:VEVENT").count(), 2, "{again}");
    }

    #[test]
    fn replace_checks_organizer_and_revision() {
        let stored = event(3, "", &["bob@example.test"]);
        let newer =
            read(with_method(&event(3, "", &["bob@example.test"]), "REQUEST").as_bytes()).unwrap();
        assert_eq!(may_replace(stored.as_bytes(), &newer), Ok(()));
        let older =
            read(with_method(&event(2, "", &["bob@example.test"]), "REQUEST").as_bytes()).unwrap();
        assert_eq!(
            may_replace(stored.as_bytes(), &older),
            Err(ImipError::Outdated {
                stored: 3,
                received: 2
            })
        );
        let mut hijack = newer.clone();
        hijack.organizer.address = "mallory@x.test".into();
        assert_eq!(
            may_replace(stored.as_bytes(), &hijack),
            Err(ImipError::OtherOrganizer)
        );
        let mut other = newer;
        other.uid = "x".into();
        assert_eq!(
            may_replace(stored.as_bytes(), &other),
            Err(ImipError::OtherEvent)
        );
    }

    #[test]
    fn a_reply_changes_only_its_senders_answer() {
        let stored = event(1, "", &["bob@example.test", "carol@else.test"]);
        let req = with_method(&stored, "REQUEST");
        let r = reply(req.as_bytes(), "bob@example.test", PartStat::Declined, NOW).unwrap();
        let applied = apply_reply(stored.as_bytes(), r.as_bytes(), "bob@example.test").unwrap();
        assert_eq!(applied.partstat, PartStat::Declined);
        let data = applied.data.unwrap();
        let after = read(with_method(&data, "REQUEST").as_bytes()).unwrap();
        assert_eq!(
            after.attendee("bob@example.test").unwrap().partstat,
            PartStat::Declined
        );
        assert_eq!(
            after.attendee("carol@else.test").unwrap().partstat,
            PartStat::NeedsAction
        );
        // Applied again: nothing to store.
        let again = apply_reply(data.as_bytes(), r.as_bytes(), "bob@example.test").unwrap();
        assert_eq!(again.data, None);

        // Carol cannot answer for Bob: the reply names Bob, the mail is hers.
        assert_eq!(
            apply_reply(stored.as_bytes(), r.as_bytes(), "carol@else.test"),
            Err(ImipError::NotAttendee("carol@else.test".into()))
        );
        // A reply naming both, from Carol, changes Carol's only.
        let both = r.replace(
            "END:VEVENT",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:carol@else.test\r\nEND:VEVENT",
        );
        let forged = apply_reply(stored.as_bytes(), both.as_bytes(), "carol@else.test").unwrap();
        let data = forged.data.unwrap();
        let after = read(with_method(&data, "REQUEST").as_bytes()).unwrap();
        assert_eq!(
            after.attendee("bob@example.test").unwrap().partstat,
            PartStat::NeedsAction
        );
        assert_eq!(
            after.attendee("carol@else.test").unwrap().partstat,
            PartStat::Accepted
        );
        // A stranger listed in the reply but not invited changes nothing.
        let stranger = r.replace("bob@example.test", "mallory@x.test");
        assert_eq!(
            apply_reply(stored.as_bytes(), stranger.as_bytes(), "mallory@x.test"),
            Err(ImipError::NotAttendee("mallory@x.test".into()))
        );
        // An older reply opened after a newer one does not undo it.
        let later = reply(
            req.as_bytes(),
            "bob@example.test",
            PartStat::Accepted,
            NOW + 60,
        )
        .unwrap();
        let now_accepted = apply_reply(stored.as_bytes(), later.as_bytes(), "bob@example.test")
            .unwrap()
            .data
            .unwrap();
        assert!(now_accepted.contains("X-POSTERN-DTSTAMP"), "{now_accepted}");
        assert_eq!(
            apply_reply(now_accepted.as_bytes(), r.as_bytes(), "bob@example.test"),
            Err(ImipError::LaterAnswer("bob@example.test".into()))
        );
        // An answer to an older revision is refused.
        let newer = event(5, "", &["bob@example.test", "carol@else.test"]);
        assert_eq!(
            apply_reply(newer.as_bytes(), r.as_bytes(), "bob@example.test"),
            Err(ImipError::Outdated {
                stored: 5,
                received: 1
            })
        );
    }

    #[test]
    fn times_in_a_zone_and_all_day_events_are_read() {
        let zoned = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:z\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20260701T100000\r\nDURATION:PT90M\r\nORGANIZER:mailto:a@x.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let r = read(zoned.as_bytes()).unwrap();
        assert_eq!(r.start, Some(1_782_892_800));
        assert_eq!(r.end, Some(1_782_892_800 + 5400));
        assert!(!r.all_day);
        let day = zoned
            .replace(
                "DTSTART;TZID=Europe/Berlin:20260701T100000",
                "DTSTART;VALUE=DATE:20260701",
            )
            .replace("DURATION:PT90M", "DTEND;VALUE=DATE:20260702");
        let r = read(day.as_bytes()).unwrap();
        assert!(r.all_day);
        assert_eq!(r.start, Some(1_782_864_000));
    }
}
