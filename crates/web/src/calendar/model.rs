//! An event as the form shows it: what the page can change. Everything
//! else an iCalendar object holds stays in the object (see
//! [`super::ics::edit`]).

use chrono::{NaiveDate, NaiveDateTime, Weekday};

/// The form's values, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub title: String,
    pub location: String,
    pub description: String,
    pub when: When,
    pub repeat: Repeat,
    pub reminder: Option<Reminder>,
    /// Attendee addresses, without `mailto:`, in the order given.
    pub attendees: Vec<String>,
}

/// When it takes place, as wall time of `zone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    pub all_day: bool,
    pub start: NaiveDateTime,
    /// For an all-day event, midnight of its LAST day (the form's end
    /// date, inclusive); DTEND is the day after (RFC 5545 §3.6.1).
    pub end: NaiveDateTime,
    /// An IANA zone name (`UTC` for UTC).
    pub zone: String,
}

impl When {
    pub fn start_date(&self) -> NaiveDate {
        self.start.date()
    }
}

/// How often it repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repeat {
    Never,
    Rule(Rule),
    /// A rule the form cannot show (BYMONTHDAY, several RRULEs, RDATE...):
    /// kept as it is unless the user picks another.
    Custom,
}

/// The rules the form builds (RFC 5545 §3.3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub freq: Freq,
    /// Every `interval` days, weeks... (at least 1).
    pub interval: u16,
    /// The weekdays of a weekly rule, Monday first; never empty for one.
    pub days: Vec<Weekday>,
    pub end: RepeatEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Freq {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "DAILY",
            Self::Weekly => "WEEKLY",
            Self::Monthly => "MONTHLY",
            Self::Yearly => "YEARLY",
        }
    }

    /// The form's value.
    pub const fn field(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
            Self::Yearly => "yearly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatEnd {
    Never,
    /// The last day an occurrence may start on, inclusive.
    Until(NaiveDate),
    Count(u32),
}

/// A reminder before the start (VALARM with ACTION:DISPLAY and a
/// relative TRIGGER, RFC 5545 §3.6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reminder {
    pub amount: u32,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minutes,
    Hours,
    Days,
}

impl Unit {
    pub const fn field(self) -> &'static str {
        match self {
            Self::Minutes => "minutes",
            Self::Hours => "hours",
            Self::Days => "days",
        }
    }

    pub const fn seconds(self) -> i64 {
        match self {
            Self::Minutes => 60,
            Self::Hours => 3600,
            Self::Days => 86_400,
        }
    }
}

impl Reminder {
    /// The TRIGGER value: a negative duration (RFC 5545 §3.3.6).
    pub fn trigger(self) -> String {
        match self.unit {
            Unit::Minutes => format!("-PT{}M", self.amount),
            Unit::Hours => format!("-PT{}H", self.amount),
            Unit::Days => format!("-P{}D", self.amount),
        }
    }

    /// The largest whole unit for a number of seconds before the start.
    pub fn from_seconds(secs: i64) -> Option<Self> {
        if secs < 0 {
            return None;
        }
        let (amount, unit) = if secs % 86_400 == 0 && secs > 0 {
            (secs / 86_400, Unit::Days)
        } else if secs % 3600 == 0 && secs > 0 {
            (secs / 3600, Unit::Hours)
        } else {
            (secs / 60, Unit::Minutes)
        };
        Some(Self {
            amount: u32::try_from(amount).ok()?,
            unit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_become_negative_triggers_and_back() {
        let r = |amount, unit| Reminder { amount, unit };
        assert_eq!(r(15, Unit::Minutes).trigger(), "-PT15M");
        assert_eq!(r(2, Unit::Hours).trigger(), "-PT2H");
        assert_eq!(r(1, Unit::Days).trigger(), "-P1D");
        assert_eq!(Reminder::from_seconds(900), Some(r(15, Unit::Minutes)));
        assert_eq!(Reminder::from_seconds(7200), Some(r(2, Unit::Hours)));
        assert_eq!(Reminder::from_seconds(172_800), Some(r(2, Unit::Days)));
        assert_eq!(Reminder::from_seconds(0), Some(r(0, Unit::Minutes)));
        assert_eq!(Reminder::from_seconds(-60), None);
    }
}
