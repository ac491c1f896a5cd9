//! Dates and the shape of each view: which days a week or a month shows,
//! the links to the previous and next one, and local times in the
//! reader's zone. Pure: no clock, no store.
//!
//! Weeks start on Monday (ISO 8601 §4.1.4; RFC 5545 §3.3.10 WKST's
//! default too).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;

/// The views, by their URL segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Month,
    Week,
    Day,
    Agenda,
}

/// Days the agenda lists from its first day.
pub const AGENDA_DAYS: i64 = 30;

impl View {
    pub const fn segment(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Week => "week",
            Self::Day => "day",
            Self::Agenda => "agenda",
        }
    }

    /// The days shown for `date`: `[first, last]`.
    pub fn span(self, date: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Self::Day => (date, date),
            Self::Week => {
                let first = week_start(date);
                (first, first + Duration::days(6))
            }
            Self::Month => {
                let weeks = month_weeks(date);
                let first = weeks[0][0];
                let last = weeks[weeks.len() - 1][6];
                (first, last)
            }
            Self::Agenda => (date, date + Duration::days(AGENDA_DAYS - 1)),
        }
    }

    /// The dates the previous and next links open.
    pub fn step(self, date: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Self::Day => (date - Duration::days(1), date + Duration::days(1)),
            Self::Week => (date - Duration::days(7), date + Duration::days(7)),
            Self::Agenda => (
                date - Duration::days(AGENDA_DAYS),
                date + Duration::days(AGENDA_DAYS),
            ),
            Self::Month => (add_months(date, -1), add_months(date, 1)),
        }
    }
}

/// `YYYY-MM-DD` (the value of `<input type="date">`, HTML §2.3.5.2).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| (1900..=2200).contains(&d.year()))
}

/// `HH:MM` (`<input type="time">`; seconds, if a browser sends them,
/// are dropped).
pub fn parse_time(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    let mut parts = s.split(':');
    let h: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    if let Some(sec) = parts.next() {
        sec.split('.').next()?.parse::<u32>().ok()?;
    }
    (h < 24 && m < 60).then_some((h, m))
}

/// The Monday of `date`'s week.
pub fn week_start(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// The weeks (Monday to Sunday) that hold any day of `date`'s month: 4
/// to 6 rows.
pub fn month_weeks(date: NaiveDate) -> Vec<[NaiveDate; 7]> {
    let first = date.with_day(1).unwrap_or(date);
    let next = add_months(first, 1);
    let mut start = week_start(first);
    let mut weeks = Vec::with_capacity(6);
    while start < next {
        let mut week = [start; 7];
        for (i, d) in week.iter_mut().enumerate() {
            *d = start + Duration::days(i as i64);
        }
        weeks.push(week);
        start += Duration::days(7);
    }
    weeks
}

/// `date` moved by `months`, the day clamped to the month's length
/// (31 January + 1 month = 28 or 29 February).
pub fn add_months(date: NaiveDate, months: i32) -> NaiveDate {
    let total = date.year() * 12 + date.month0() as i32 + months;
    let (y, m) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    let mut day = date.day();
    loop {
        if let Some(d) = NaiveDate::from_ymd_opt(y, m, day) {
            return d;
        }
        if day <= 28 {
            return date;
        }
        day -= 1;
    }
}

/// Unix seconds as the wall time of `tz`.
pub fn local(tz: Tz, ts: i64) -> NaiveDateTime {
    match tz.timestamp_opt(ts, 0).single() {
        Some(t) => t.naive_local(),
        None => utc_naive(ts),
    }
}

/// Unix seconds as UTC wall time (how `postern-dav` reads floating times
/// and dates).
pub fn utc_naive(ts: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .naive_utc()
}

/// A wall time of `tz` as Unix seconds. A time skipped by a change to
/// summer time (RFC 5545 §3.3.5: "interpreted using the UTC offset
/// before the gap") is read so; a repeated one takes its first instance.
pub fn timestamp(tz: Tz, t: NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&t) {
        chrono::LocalResult::Single(x) => x.timestamp(),
        chrono::LocalResult::Ambiguous(a, _) => a.timestamp(),
        chrono::LocalResult::None => {
            let before = t - Duration::hours(3);
            let offset = tz
                .from_local_datetime(&before)
                .earliest()
                .map(|x| x.timestamp() - before.and_utc().timestamp())
                .unwrap_or(0);
            t.and_utc().timestamp() + offset
        }
    }
}

/// `14:05`.
pub fn hhmm(t: NaiveDateTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// `Monday 23 November 2026`.
pub fn long_date(d: NaiveDate) -> String {
    d.format("%A %-d %B %Y").to_string()
}

/// The short weekday names, Monday first.
pub const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// RFC 5545 §3.3.10 weekday codes.
pub const fn day_code(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn dates_and_times_from_the_form() {
        assert_eq!(d("2026-11-23").weekday(), Weekday::Mon);
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("23.11.2026").is_none());
        assert!(parse_date("0001-01-01").is_none());
        assert_eq!(parse_time("09:30"), Some((9, 30)));
        assert_eq!(parse_time("09:30:15"), Some((9, 30)));
        assert_eq!(parse_time("24:00"), None);
        assert_eq!(parse_time("9"), None);
    }

    #[test]
    fn a_week_runs_monday_to_sunday() {
        assert_eq!(
            View::Week.span(d("2026-11-26")),
            (d("2026-11-23"), d("2026-11-29"))
        );
        assert_eq!(View::Week.span(d("2026-11-23")).0, d("2026-11-23"));
        assert_eq!(View::Week.span(d("2026-11-29")).0, d("2026-11-23"));
        assert_eq!(
            View::Week.step(d("2026-12-30")),
            (d("2026-12-23"), d("2027-01-06"))
        );
    }

    #[test]
    fn a_month_grid_holds_whole_weeks_around_the_month() {
        // November 2026 starts on a Sunday and ends on a Monday: 6 rows.
        let weeks = month_weeks(d("2026-11-15"));
        assert_eq!(weeks.len(), 6);
        assert_eq!(weeks[0][0], d("2026-10-26"));
        assert_eq!(weeks[0][6], d("2026-11-01"));
        assert_eq!(weeks[5][0], d("2026-11-30"));
        // February 2027 starts on a Monday and has 28 days: 4 rows.
        let feb = month_weeks(d("2027-02-10"));
        assert_eq!(feb.len(), 4);
        assert_eq!(feb[0][0], d("2027-02-01"));
        assert_eq!(feb[3][6], d("2027-02-28"));
        assert_eq!(
            View::Month.span(d("2027-02-10")),
            (d("2027-02-01"), d("2027-02-28"))
        );
    }

    #[test]
    fn months_step_with_the_day_clamped() {
        assert_eq!(add_months(d("2027-01-31"), 1), d("2027-02-28"));
        assert_eq!(add_months(d("2028-01-31"), 1), d("2028-02-29"));
        assert_eq!(add_months(d("2026-01-15"), -1), d("2025-12-15"));
        assert_eq!(add_months(d("2026-12-01"), 1), d("2027-01-01"));
    }

    #[test]
    fn wall_times_in_a_zone_across_summer_time() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        // 10:00 in winter is 09:00 UTC; in summer 08:00 UTC.
        assert_eq!(timestamp(berlin, t("2026-01-10 10:00")), 1_768_035_600);
        assert_eq!(timestamp(berlin, t("2026-07-10 10:00")), 1_783_670_400);
        assert_eq!(local(berlin, 1_783_670_400), t("2026-07-10 10:00"));
        // 02:30 on 29 March 2026 does not exist in Berlin: read with the
        // offset before the gap (+01:00), it is 01:30 UTC.
        assert_eq!(
            timestamp(berlin, t("2026-03-29 02:30")),
            t("2026-03-29 01:30").and_utc().timestamp()
        );
        assert_eq!(hhmm(t("2026-03-29 07:05")), "07:05");
        assert_eq!(long_date(d("2026-11-23")), "Monday 23 November 2026");
    }
}
