//! The calendar the CalDAV benchmark loads: a fixed, seeded set of events
//! over two years, and what a time-range query over one month must
//! return, worked out here from the generator's own numbers so that each
//! server's answer can be checked against it.
//!
//! The mix: every tenth event recurs (weekly and daily in turn, with a
//! COUNT), about a fifth are in Europe/Berlin and a fifth in
//! America/New_York with their VTIMEZONE, the rest in UTC. Events start
//! between 08:00 and 17:45 local time, so a daylight-saving change (at
//! 02:00 or 03:00) never falls inside one and the offset depends on the
//! date alone. No floating times and no all-day events: their time range
//! depends on the server's own time zone (RFC 4791 §9.9), and the two
//! servers compared need not agree on it.

use std::fmt::Write as _;

/// The first day of the two years: 2026-01-01.
const FIRST_DAY: (i64, u32, u32) = (2026, 1, 1);

/// Days the single events are spread over.
const SPAN_DAYS: u64 = 730;

/// A zone an event's times are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Utc,
    Berlin,
    NewYork,
}

/// How an event repeats (RFC 5545 §3.3.10), always with a COUNT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Once,
    Daily(u32),
    Weekly(u32),
}

/// One generated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub index: usize,
    /// Days since 1970-01-01 of the first occurrence, local date.
    pub day: i64,
    /// Minutes after local midnight.
    pub start_min: u32,
    pub duration_min: u32,
    pub zone: Zone,
    pub repeat: Repeat,
}

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same calendar on every machine, so both servers get the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The `count` events of `seed`.
pub fn generate(count: usize, seed: u64) -> Vec<Event> {
    let mut rng = Rng(seed);
    let first = days_from_civil(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2);
    (0..count)
        .map(|index| {
            let day = first + rng.below(SPAN_DAYS) as i64;
            let start_min = 8 * 60 + 15 * rng.below(40) as u32;
            let duration_min = 30 + 15 * rng.below(7) as u32;
            let zone = match rng.below(10) {
                0 | 1 => Zone::Berlin,
                2 | 3 => Zone::NewYork,
                _ => Zone::Utc,
            };
            let repeat = match index % 20 {
                0 => Repeat::Weekly(2 + rng.below(25) as u32),
                10 => Repeat::Daily(2 + rng.below(13) as u32),
                _ => Repeat::Once,
            };
            Event {
                index,
                day,
                start_min,
                duration_min,
                zone,
                repeat,
            }
        })
        .collect()
}

impl Event {
    /// The resource name, unique within the calendar.
    pub fn name(&self) -> String {
        format!("e{:05}.ics", self.index)
    }

    /// Start and end of every occurrence, seconds since the epoch, UTC.
    pub fn occurrences(&self) -> Vec<(i64, i64)> {
        let (count, step) = match self.repeat {
            Repeat::Once => (1, 0),
            Repeat::Daily(n) => (n, 1),
            Repeat::Weekly(n) => (n, 7),
        };
        (0..i64::from(count))
            .map(|k| {
                let day = self.day + k * step;
                let local = day * 86_400 + i64::from(self.start_min) * 60;
                let start = local - utc_offset(self.zone, day);
                (start, start + i64::from(self.duration_min) * 60)
            })
            .collect()
    }

    /// Occurrences that overlap `[start, end)`, as RFC 4791 §9.9 reads a
    /// time range for an event with a DTEND.
    pub fn instances_in(&self, start: i64, end: i64) -> usize {
        self.occurrences()
            .iter()
            .filter(|&&(s, e)| s < end && e > start)
            .count()
    }

    /// The iCalendar object (RFC 5545), lines short enough to need no
    /// folding.
    pub fn to_ical(&self, uid_prefix: &str) -> String {
        let mut out = String::with_capacity(1536);
        out.push_str("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Postern//bench//EN\r\n");
        out.push_str(vtimezone(self.zone));
        out.push_str("BEGIN:VEVENT\r\n");
        let _ = write!(out, "UID:{uid_prefix}{}@bench.example.test\r\n", self.index);
        out.push_str("DTSTAMP:20260101T000000Z\r\n");
        let end_min = self.start_min + self.duration_min;
        let _ = write!(
            out,
            "DTSTART{}\r\nDTEND{}\r\n",
            self.stamp(self.start_min),
            self.stamp(end_min)
        );
        match self.repeat {
            Repeat::Once => {}
            Repeat::Daily(n) => {
                let _ = write!(out, "RRULE:FREQ=DAILY;COUNT={n}\r\n");
            }
            Repeat::Weekly(n) => {
                let _ = write!(out, "RRULE:FREQ=WEEKLY;COUNT={n}\r\n");
            }
        }
        let _ = write!(
            out,
            "SUMMARY:Bench meeting {i}\r\nLOCATION:Room {r}\r\n\
             DESCRIPTION:Agenda for meeting {i}: status\\, risks and next steps.\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n",
            i = self.index,
            r = self.index % 40
        );
        out
    }

    /// `;TZID=...:local` or `:utcZ` for `minutes` after the first day's
    /// local midnight (an end past midnight rolls to the next day).
    fn stamp(&self, minutes: u32) -> String {
        let day = self.day + i64::from(minutes / 1440);
        let minutes = minutes % 1440;
        match self.zone {
            Zone::Utc => format!(":{}Z", local_text(day, minutes)),
            Zone::Berlin => format!(";TZID=Europe/Berlin:{}", local_text(day, minutes)),
            Zone::NewYork => format!(";TZID=America/New_York:{}", local_text(day, minutes)),
        }
    }
}

/// `YYYYMMDDTHHMMSS` (RFC 5545 §3.3.5).
fn local_text(day: i64, minutes: u32) -> String {
    let (y, m, d) = civil_from_days(day);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}00",
        minutes / 60,
        minutes % 60
    )
}

/// The zone's offset from UTC in seconds on a local date, for times of
/// day after 03:00 (see the module doc): the EU changes on the last
/// Sundays of March and October, the US on the second Sunday of March and
/// the first of November.
fn utc_offset(zone: Zone, day: i64) -> i64 {
    let (y, _, _) = civil_from_days(day);
    match zone {
        Zone::Utc => 0,
        Zone::Berlin => {
            let summer = last_sunday(y, 3) <= day && day < last_sunday(y, 10);
            if summer {
                7200
            } else {
                3600
            }
        }
        Zone::NewYork => {
            let summer = nth_sunday(y, 3, 2) <= day && day < nth_sunday(y, 11, 1);
            if summer {
                -4 * 3600
            } else {
                -5 * 3600
            }
        }
    }
}

/// 0 for Sunday (1970-01-01 was a Thursday).
fn weekday(day: i64) -> i64 {
    (day + 4).rem_euclid(7)
}

fn last_sunday(y: i64, month: u32) -> i64 {
    let last = days_from_civil(y, month + 1, 1) - 1;
    last - weekday(last)
}

fn nth_sunday(y: i64, month: u32, n: i64) -> i64 {
    let first = days_from_civil(y, month, 1);
    first + (7 - weekday(first)) % 7 + 7 * (n - 1)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known
/// era-based conversion); a month of 13 is January of the next year.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (y, m) = if m > 12 { (y + 1, m - 12) } else { (y, m) };
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The VTIMEZONE an object with times in `zone` must carry (RFC 5545
/// §3.6.5): the rules in force since 2007 for both zones.
fn vtimezone(zone: Zone) -> &'static str {
    match zone {
        Zone::Utc => "",
        Zone::Berlin => {
            "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n\
             BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n\
             DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n\
             BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n\
             DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
             END:VTIMEZONE\r\n"
        }
        Zone::NewYork => {
            "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n\
             BEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\n\
             DTSTART:19700308T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\n\
             BEGIN:STANDARD\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\n\
             DTSTART:19701101T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\n\
             END:VTIMEZONE\r\n"
        }
    }
}

/// A month as a query window: `YYYY-MM` to its first and next-first
/// midnight, UTC, in seconds and in iCalendar UTC text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub start_text: String,
    pub end_text: String,
}

impl Window {
    pub fn month(spec: &str) -> Option<Self> {
        let (y, m) = spec.split_once('-')?;
        let (y, m): (i64, u32) = (y.parse().ok()?, m.parse().ok()?);
        if !(1..=12).contains(&m) || !(1970..=9999).contains(&y) {
            return None;
        }
        let (first, next) = (days_from_civil(y, m, 1), days_from_civil(y, m + 1, 1));
        Some(Self {
            start: first * 86_400,
            end: next * 86_400,
            start_text: format!("{}Z", local_text(first, 0)),
            end_text: format!("{}Z", local_text(next, 0)),
        })
    }
}

/// What a correct server returns for the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Names of the objects with an occurrence in the window, sorted.
    pub names: Vec<String>,
    /// Occurrences in the window: the VEVENTs of an expanded answer.
    pub instances: usize,
    /// Of the objects, those with an RRULE.
    pub recurring: usize,
}

pub fn expected(events: &[Event], w: &Window) -> Expected {
    let mut e = Expected {
        names: Vec::new(),
        instances: 0,
        recurring: 0,
    };
    for ev in events {
        let n = ev.instances_in(w.start, w.end);
        if n > 0 {
            e.names.push(ev.name());
            e.instances += n;
            e.recurring += usize::from(ev.repeat != Repeat::Once);
        }
    }
    e.names.sort();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_both_ways() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 1, 1), 20_454);
        assert_eq!(days_from_civil(2026, 13, 1), days_from_civil(2027, 1, 1));
        for z in [-1, 0, 20_454, 20_513, 21_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }

    #[test]
    fn daylight_saving_days_of_2026() {
        // EU: 29 March and 25 October 2026; US: 8 March and 1 November.
        assert_eq!(civil_from_days(last_sunday(2026, 3)), (2026, 3, 29));
        assert_eq!(civil_from_days(last_sunday(2026, 10)), (2026, 10, 25));
        assert_eq!(civil_from_days(nth_sunday(2026, 3, 2)), (2026, 3, 8));
        assert_eq!(civil_from_days(nth_sunday(2026, 11, 1)), (2026, 11, 1));
        let d = days_from_civil(2026, 3, 28);
        assert_eq!(
            (utc_offset(Zone::Berlin, d), utc_offset(Zone::Berlin, d + 1)),
            (3600, 7200)
        );
        let d = days_from_civil(2026, 10, 31);
        assert_eq!(
            (
                utc_offset(Zone::NewYork, d),
                utc_offset(Zone::NewYork, d + 1)
            ),
            (-4 * 3600, -5 * 3600)
        );
    }

    #[test]
    fn a_weekly_event_keeps_its_local_time_across_the_change() {
        let ev = Event {
            index: 7,
            day: days_from_civil(2026, 3, 22),
            start_min: 9 * 60,
            duration_min: 60,
            zone: Zone::Berlin,
            repeat: Repeat::Weekly(2),
        };
        let occ = ev.occurrences();
        // 09:00 CET is 08:00Z; a week later 09:00 CEST is 07:00Z.
        assert_eq!(occ[0].0, days_from_civil(2026, 3, 22) * 86_400 + 8 * 3600);
        assert_eq!(occ[1].0, days_from_civil(2026, 3, 29) * 86_400 + 7 * 3600);
        let ical = ev.to_ical("b-");
        assert!(ical.contains("DTSTART;TZID=Europe/Berlin:20260322T090000\r\n"));
        assert!(ical.contains("DTEND;TZID=Europe/Berlin:20260322T100000\r\n"));
        assert!(ical.contains("RRULE:FREQ=WEEKLY;COUNT=2\r\n"));
        assert!(ical.contains("UID:b-7@bench.example.test\r\n"));
        assert!(ical.lines().all(|l| l.len() <= 75), "{ical}");
    }

    #[test]
    fn the_window_counts_overlaps_only() {
        let w = Window::month("2026-06").unwrap();
        assert_eq!(
            (w.start_text.as_str(), w.end_text.as_str()),
            ("20260601T000000Z", "20260701T000000Z")
        );
        assert_eq!(Window::month("2026-13"), None);
        let ev = |day, zone, repeat| Event {
            index: 0,
            day,
            start_min: 17 * 60 + 45,
            duration_min: 120,
            zone,
            repeat,
        };
        // New York, 30 June 17:45-19:45 EDT: 21:45Z-23:45Z, inside.
        let june30 = days_from_civil(2026, 6, 30);
        assert_eq!(
            ev(june30, Zone::NewYork, Repeat::Once).instances_in(w.start, w.end),
            1
        );
        // Daily from 29 May, 5 times: 29, 30, 31 May outside; 1, 2 June in.
        let may29 = days_from_civil(2026, 5, 29);
        assert_eq!(
            ev(may29, Zone::Utc, Repeat::Daily(5)).instances_in(w.start, w.end),
            2
        );
        assert_eq!(
            ev(may29, Zone::Utc, Repeat::Daily(3)).instances_in(w.start, w.end),
            0
        );
    }

    #[test]
    fn the_calendar_has_the_promised_mix() {
        let all = generate(5000, 1);
        assert_eq!(all, generate(5000, 1), "the same seed, the same calendar");
        let recurring = all.iter().filter(|e| e.repeat != Repeat::Once).count();
        assert_eq!(recurring, 500);
        let zoned = all.iter().filter(|e| e.zone != Zone::Utc).count();
        assert!((1500..2500).contains(&zoned), "{zoned}");
        let e = expected(&all, &Window::month("2026-06").unwrap());
        assert!(e.names.len() > 150 && e.instances > e.names.len(), "{e:?}");
        assert!(e.recurring > 0);
    }
}
