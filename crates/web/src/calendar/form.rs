//! The event form's fields: checked into an [`Event`], or filled from
//! one. The fields are kept as typed, so a form with a mistake comes
//! back with the user's values and the reason.

use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::Deserialize;

use super::grid::{self, WEEKDAYS};
use super::model::{Event, Freq, Reminder, Repeat, RepeatEnd, Rule, Unit, When};

/// Longest title or location; a description may be longer.
const MAX_LINE: usize = 500;
const MAX_DESCRIPTION: usize = 20_000;
/// Attendees of one event: a meeting invitation, not a mailing list.
const MAX_ATTENDEES: usize = 100;
/// A count or interval beyond this is surely a typing mistake.
const MAX_COUNT: u32 = 5_000;
const MAX_INTERVAL: u16 = 999;
/// Four weeks of minutes, a year of days.
const MAX_REMINDER: u32 = 40_320;

/// The form as posted. Missing fields are empty; checkboxes are present
/// only when ticked (HTML §4.10.21.4). Repeated names are not used: the
/// weekday boxes have one name each (`day_mo`...).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventForm {
    #[serde(default)]
    pub csrf: String,
    /// The ETag of the version the form was filled from (edits only).
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub calendar: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub all_day: Option<String>,
    #[serde(default)]
    pub start_date: String,
    #[serde(default)]
    pub start_time: String,
    #[serde(default)]
    pub end_date: String,
    #[serde(default)]
    pub end_time: String,
    #[serde(default)]
    pub zone: String,
    /// `none`, `daily`, `weekly`, `monthly`, `yearly` or `custom`.
    #[serde(default)]
    pub repeat: String,
    #[serde(default)]
    pub interval: String,
    #[serde(default)]
    pub day_mo: Option<String>,
    #[serde(default)]
    pub day_tu: Option<String>,
    #[serde(default)]
    pub day_we: Option<String>,
    #[serde(default)]
    pub day_th: Option<String>,
    #[serde(default)]
    pub day_fr: Option<String>,
    #[serde(default)]
    pub day_sa: Option<String>,
    #[serde(default)]
    pub day_su: Option<String>,
    /// `never`, `until` or `count`.
    #[serde(default)]
    pub ends: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub count: String,
    /// A number, or empty for no reminder.
    #[serde(default)]
    pub reminder: String,
    #[serde(default)]
    pub reminder_unit: String,
    /// One address a line, or separated by commas.
    #[serde(default)]
    pub attendees: String,
}

/// Every zone the form offers: UTC first, then the IANA names.
pub fn zones() -> &'static [&'static str] {
    static ZONES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let mut all: Vec<&'static str> = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|z| z.name())
            .filter(|n| *n != "UTC")
            .collect();
        all.sort_unstable();
        all.insert(0, "UTC");
        all
    });
    &ZONES
}

/// Whether `name` is a zone the form offers.
pub fn known_zone(name: &str) -> bool {
    name == "UTC" || name.parse::<chrono_tz::Tz>().is_ok()
}

impl EventForm {
    fn days(&self) -> [(Weekday, bool); 7] {
        let ticked = [
            &self.day_mo,
            &self.day_tu,
            &self.day_we,
            &self.day_th,
            &self.day_fr,
            &self.day_sa,
            &self.day_su,
        ];
        let mut out = [(Weekday::Mon, false); 7];
        for (i, d) in WEEKDAYS.iter().enumerate() {
            out[i] = (*d, ticked[i].is_some());
        }
        out
    }

    /// Whether the weekday box `code` (`MO`...) is ticked, for the page.
    pub fn day_checked(&self, code: &str) -> bool {
        self.days()
            .iter()
            .any(|(d, on)| *on && grid::day_code(*d) == code)
    }

    pub fn is_all_day(&self) -> bool {
        self.all_day.is_some()
    }

    /// The checked event, or the sentence saying what to correct.
    pub fn check(&self) -> Result<Event, String> {
        self.check_keeping(None)
    }

    /// [`EventForm::check`] for an edit: `shown_zone`, the zone the
    /// stored event was shown in, is accepted even if it is no zone of the
    /// list (a TZID another program made up), so that such an event can
    /// still be edited without touching its times.
    pub fn check_keeping(&self, shown_zone: Option<&str>) -> Result<Event, String> {
        let title = one_line(&self.title);
        if title.is_empty() {
            return Err("Give the event a title.".into());
        }
        if title.chars().count() > MAX_LINE {
            return Err(format!("The title is longer than {MAX_LINE} characters."));
        }
        let location = one_line(&self.location);
        if location.chars().count() > MAX_LINE {
            return Err(format!(
                "The location is longer than {MAX_LINE} characters."
            ));
        }
        let description = self.description.replace("\r\n", "\n").trim_end().to_owned();
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(format!(
                "The description is longer than {MAX_DESCRIPTION} characters."
            ));
        }
        let when = self.when(shown_zone)?;
        Ok(Event {
            title,
            location,
            description,
            repeat: self.repeat(&when)?,
            reminder: self.reminder()?,
            attendees: attendees(&self.attendees)?,
            when,
        })
    }

    fn when(&self, shown_zone: Option<&str>) -> Result<When, String> {
        let zone = self.zone.trim();
        if !known_zone(zone) && shown_zone != Some(zone) {
            return Err("Choose a time zone from the list.".into());
        }
        let start_date = grid::parse_date(&self.start_date)
            .ok_or("The start date is not a date (YYYY-MM-DD).")?;
        let end_date = match self.end_date.trim() {
            "" => start_date,
            s => grid::parse_date(s).ok_or("The end date is not a date (YYYY-MM-DD).")?,
        };
        if self.is_all_day() {
            if end_date < start_date {
                return Err("The event ends before it starts.".into());
            }
            return Ok(When {
                all_day: true,
                start: start_date.and_time(NaiveTime::MIN),
                end: end_date.and_time(NaiveTime::MIN),
                zone: zone.to_owned(),
            });
        }
        let (h, m) =
            grid::parse_time(&self.start_time).ok_or("The start time is not a time (HH:MM).")?;
        let start = at(start_date, h, m);
        let end = match self.end_time.trim() {
            "" => start + Duration::hours(1),
            s => {
                let (h, m) = grid::parse_time(s).ok_or("The end time is not a time (HH:MM).")?;
                at(end_date, h, m)
            }
        };
        if end < start {
            return Err("The event ends before it starts.".into());
        }
        Ok(When {
            all_day: false,
            start,
            end,
            zone: zone.to_owned(),
        })
    }

    fn repeat(&self, when: &When) -> Result<Repeat, String> {
        let freq = match self.repeat.as_str() {
            "" | "none" => return Ok(Repeat::Never),
            "custom" => return Ok(Repeat::Custom),
            "daily" => Freq::Daily,
            "weekly" => Freq::Weekly,
            "monthly" => Freq::Monthly,
            "yearly" => Freq::Yearly,
            _ => return Err("Choose how often the event repeats from the list.".into()),
        };
        let interval = match self.interval.trim() {
            "" => 1,
            s => s
                .parse::<u16>()
                .ok()
                .filter(|n| (1..=MAX_INTERVAL).contains(n))
                .ok_or_else(|| format!("\"Every\" must be a number from 1 to {MAX_INTERVAL}."))?,
        };
        let mut days: Vec<Weekday> = match freq {
            Freq::Weekly => self
                .days()
                .iter()
                .filter(|(_, on)| *on)
                .map(|(d, _)| *d)
                .collect(),
            _ => Vec::new(),
        };
        if freq == Freq::Weekly && days.is_empty() {
            days.push(when.start.weekday());
        }
        let end = match self.ends.as_str() {
            "" | "never" => RepeatEnd::Never,
            "until" => {
                let day = grid::parse_date(&self.until)
                    .ok_or("The last day of the repetition is not a date (YYYY-MM-DD).")?;
                if day < when.start_date() {
                    return Err("The repetition ends before the event starts.".into());
                }
                RepeatEnd::Until(day)
            }
            "count" => RepeatEnd::Count(
                self.count
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_COUNT).contains(n))
                    .ok_or_else(|| format!("The number of times must be from 1 to {MAX_COUNT}."))?,
            ),
            _ => return Err("Choose when the repetition ends.".into()),
        };
        Ok(Repeat::Rule(Rule {
            freq,
            interval,
            days,
            end,
        }))
    }

    fn reminder(&self) -> Result<Option<Reminder>, String> {
        let amount = match self.reminder.trim() {
            "" => return Ok(None),
            s => s
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= MAX_REMINDER)
                .ok_or_else(|| {
                    format!(
                    "The reminder must be a number from 0 to {MAX_REMINDER}, or empty for none."
                )
                })?,
        };
        let unit = match self.reminder_unit.as_str() {
            "" | "minutes" => Unit::Minutes,
            "hours" => Unit::Hours,
            "days" => Unit::Days,
            _ => return Err("Choose minutes, hours or days for the reminder.".into()),
        };
        Ok(Some(Reminder { amount, unit }))
    }

    /// The form filled from an event.
    pub fn from_event(ev: &Event, calendar: &str, etag: &str) -> Self {
        let w = &ev.when;
        let mut f = Self {
            etag: etag.to_owned(),
            calendar: calendar.to_owned(),
            title: ev.title.clone(),
            location: ev.location.clone(),
            description: ev.description.clone(),
            all_day: w.all_day.then(|| "on".to_owned()),
            start_date: w.start.format("%Y-%m-%d").to_string(),
            start_time: grid::hhmm(w.start),
            end_date: w.end.format("%Y-%m-%d").to_string(),
            end_time: grid::hhmm(w.end),
            zone: w.zone.clone(),
            repeat: "none".into(),
            interval: "1".into(),
            ends: "never".into(),
            attendees: ev.attendees.join("\n"),
            ..Self::default()
        };
        match &ev.repeat {
            Repeat::Never => {}
            Repeat::Custom => f.repeat = "custom".into(),
            Repeat::Rule(r) => f.fill_rule(r),
        }
        if let Some(r) = ev.reminder {
            f.reminder = r.amount.to_string();
            f.reminder_unit = r.unit.field().to_owned();
        }
        f
    }

    fn fill_rule(&mut self, r: &Rule) {
        self.repeat = r.freq.field().to_owned();
        self.interval = r.interval.to_string();
        let on = Some("on".to_owned());
        for d in &r.days {
            let slot = match d {
                Weekday::Mon => &mut self.day_mo,
                Weekday::Tue => &mut self.day_tu,
                Weekday::Wed => &mut self.day_we,
                Weekday::Thu => &mut self.day_th,
                Weekday::Fri => &mut self.day_fr,
                Weekday::Sat => &mut self.day_sa,
                Weekday::Sun => &mut self.day_su,
            };
            *slot = on.clone();
        }
        match r.end {
            RepeatEnd::Never => {}
            RepeatEnd::Until(d) => {
                self.ends = "until".into();
                self.until = d.format("%Y-%m-%d").to_string();
            }
            RepeatEnd::Count(n) => {
                self.ends = "count".into();
                self.count = n.to_string();
            }
        }
    }

    /// A new event's form: an hour from `start` in `zone`.
    pub fn new_event(start: NaiveDateTime, zone: &str, calendar: &str) -> Self {
        let end = start + Duration::hours(1);
        Self {
            calendar: calendar.to_owned(),
            start_date: start.format("%Y-%m-%d").to_string(),
            start_time: grid::hhmm(start),
            end_date: end.format("%Y-%m-%d").to_string(),
            end_time: grid::hhmm(end),
            zone: zone.to_owned(),
            repeat: "none".into(),
            interval: "1".into(),
            ends: "never".into(),
            reminder_unit: "minutes".into(),
            ..Self::default()
        }
    }
}

fn at(date: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN))
}

/// Blanks and line breaks folded into single spaces, control characters
/// dropped: a title is one line.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Addresses one a line or comma-separated; `Name <a@b>` is taken as
/// `a@b`; duplicates dropped.
pub fn attendees(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for item in text.split([',', '\n', ';']) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let addr = match (item.rfind('<'), item.rfind('>')) {
            (Some(a), Some(b)) if a < b => &item[a + 1..b],
            _ => item,
        };
        let addr = addr.trim().trim_start_matches("mailto:");
        if !plausible_address(addr) {
            return Err(format!(
                "\"{item}\" is not an e-mail address; write one address a line."
            ));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(addr)) {
            out.push(addr.to_owned());
        }
    }
    if out.len() > MAX_ATTENDEES {
        return Err(format!("Invite at most {MAX_ATTENDEES} attendees."));
    }
    Ok(out)
}

/// `local@domain` with no blank, control character or characters that
/// would break an iCalendar or mail header line.
fn plausible_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && a.len() <= 254
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"(),;:\\[]".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> EventForm {
        EventForm {
            title: " Lunch\r\nwith  Bob ".into(),
            start_date: "2026-11-24".into(),
            start_time: "12:30".into(),
            end_date: "2026-11-24".into(),
            end_time: "13:15".into(),
            zone: "Europe/Paris".into(),
            repeat: "weekly".into(),
            interval: "1".into(),
            day_mo: Some("on".into()),
            day_fr: Some("on".into()),
            ends: "count".into(),
            count: "4".into(),
            reminder: "10".into(),
            reminder_unit: "minutes".into(),
            attendees: "Bob <bob@example.test>, carol@example.test\nbob@example.test".into(),
            ..EventForm::default()
        }
    }

    #[test]
    fn a_filled_form_becomes_an_event() {
        let ev = form().check().unwrap();
        assert_eq!(ev.title, "Lunch with Bob");
        assert_eq!(ev.when.start.to_string(), "2026-11-24 12:30:00");
        assert_eq!(ev.when.end.to_string(), "2026-11-24 13:15:00");
        assert_eq!(
            ev.repeat,
            Repeat::Rule(Rule {
                freq: Freq::Weekly,
                interval: 1,
                days: vec![Weekday::Mon, Weekday::Fri],
                end: RepeatEnd::Count(4),
            })
        );
        assert_eq!(ev.reminder.unwrap().trigger(), "-PT10M");
        assert_eq!(ev.attendees, ["bob@example.test", "carol@example.test"]);
        // And back: the same values fill the form again.
        let again = EventForm::from_event(&ev, "default", "\"e\"");
        assert_eq!(again.check().unwrap(), ev);
        assert!(again.day_checked("MO") && again.day_checked("FR") && !again.day_checked("TU"));
    }

    #[test]
    fn mistakes_are_named() {
        let bad = |f: fn(&mut EventForm)| {
            let mut x = form();
            f(&mut x);
            x.check().unwrap_err()
        };
        assert!(bad(|f| f.title = "  ".into()).contains("title"));
        assert!(bad(|f| f.start_date = "24.11.2026".into()).contains("start date"));
        assert!(bad(|f| f.end_time = "11:00".into()).contains("ends before"));
        assert!(bad(|f| f.zone = "Mars/Olympus".into()).contains("time zone"));
        // Unless it is the zone the stored event was shown in.
        let mut f = form();
        f.zone = "Custom Zone".into();
        assert_eq!(
            f.check_keeping(Some("Custom Zone")).unwrap().when.zone,
            "Custom Zone"
        );
        assert!(bad(|f| f.interval = "0".into()).contains("Every"));
        assert!(bad(|f| f.count = "x".into()).contains("times"));
        assert!(bad(|f| f.reminder = "-5".into()).contains("reminder"));
        assert!(bad(|f| f.attendees = "bob at example".into()).contains("bob at example"));
        assert!(bad(|f| f.attendees = "a@b.test\r\nX-INJECT:1".into()).contains("X-INJECT"));
        assert!(bad(|f| f.repeat = "hourly".into()).contains("repeats"));
        assert!(bad(|f| {
            f.ends = "until".into();
            f.until = "2026-11-01".into();
        })
        .contains("before the event starts"));
    }

    #[test]
    fn all_day_events_and_defaults() {
        let mut f = form();
        f.all_day = Some("on".into());
        f.end_date = "2026-11-26".into();
        f.repeat = "weekly".into();
        f.day_mo = None;
        f.day_fr = None;
        f.attendees.clear();
        f.reminder.clear();
        let ev = f.check().unwrap();
        assert!(ev.when.all_day);
        assert_eq!(ev.when.end.date().day(), 26);
        assert_eq!(ev.reminder, None);
        // A weekly rule without a ticked day repeats on the start's day.
        let Repeat::Rule(r) = ev.repeat else {
            unreachable!()
        };
        assert_eq!(r.days, [Weekday::Tue]);
        assert_eq!(zones()[0], "UTC");
        assert!(zones().contains(&"Europe/Berlin"));
        assert!(known_zone("America/New_York") && !known_zone("Nowhere"));
    }
}
