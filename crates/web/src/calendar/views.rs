//! The month, week, day and agenda views. Each reads only the events that
//! may touch its days (`Store::calendar_objects_in_range`, the store's
//! time index), expands their recurrences for those days with
//! `postern_dav::ical::instances`, and shows every occurrence in the
//! reader's zone. All-day events and floating times have no zone (RFC
//! 5545 §3.3.4, §3.3.5 form 1): they keep their dates and wall times.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use chrono_tz::Tz;
use postern_store::{AccountId, ComponentKind, Store, StoreResult};
use serde::Deserialize;

use super::grid::{self, View};
use super::zone::Zone;
use super::{calendars, event_href, view_href, Frame};
use crate::mail::blocking;
use crate::pages::render;
use crate::session::{Authed, SessionView};
use crate::AppState;

/// `?date=YYYY-MM-DD`; anything else means today.
#[derive(Debug, Default, Deserialize)]
pub struct DateQuery {
    #[serde(default)]
    date: String,
}

/// One occurrence, in the reader's wall time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub title: String,
    pub location: String,
    pub start: NaiveDateTime,
    /// Exclusive; equal to `start` for an instant.
    pub end: NaiveDateTime,
    pub all_day: bool,
    /// The event's page, naming this occurrence.
    pub href: String,
}

impl Occurrence {
    /// Whether it touches `day`.
    pub fn on(&self, day: NaiveDate) -> bool {
        let from = day.and_time(NaiveTime::MIN);
        let to = from + Duration::days(1);
        if self.start == self.end {
            return self.start >= from && self.start < to;
        }
        self.start < to && self.end > from
    }

    fn starts_on(&self, day: NaiveDate) -> bool {
        self.start.date() == day
    }
}

/// An occurrence as a view lists it.
pub struct Item {
    pub href: String,
    /// `09:30`, `all day`, or `…` for one that began on an earlier day.
    pub time: String,
    pub title: String,
    pub location: String,
}

fn item(o: &Occurrence, day: NaiveDate) -> Item {
    let time = if o.all_day {
        "all day".to_owned()
    } else if o.starts_on(day) {
        format!("{}–{}", grid::hhmm(o.start), end_label(o))
    } else {
        format!("…–{}", end_label(o))
    };
    Item {
        href: o.href.clone(),
        time,
        title: o.title.clone(),
        location: o.location.clone(),
    }
}

fn end_label(o: &Occurrence) -> String {
    if o.end.date() == o.start.date() {
        grid::hhmm(o.end)
    } else {
        format!("{} {}", o.end.format("%-d %b"), grid::hhmm(o.end))
    }
}

/// The occurrences of every calendar of the account that touch the days
/// `[first, last]` in `tz`, by start.
pub fn occurrences(
    store: &dyn Store,
    account: AccountId,
    tz: Tz,
    first: NaiveDate,
    last: NaiveDate,
) -> StoreResult<Vec<Occurrence>> {
    // A day of margin each side: all-day and floating events are placed by
    // their UTC reading, up to 14 hours from the zone's.
    let start = grid::timestamp(tz, first.and_time(NaiveTime::MIN)) - 86_400;
    let end = grid::timestamp(tz, (last + Duration::days(1)).and_time(NaiveTime::MIN)) + 86_400;
    let mut out = Vec::new();
    for cal in calendars(store, account)? {
        for obj in store.calendar_objects_in_range(cal.id, start, end)? {
            if obj.meta.component != ComponentKind::Event {
                continue;
            }
            let href = event_href(&cal.name, &obj.meta.name);
            expand(&obj.data, &href, tz, start, end, &mut out);
        }
    }
    out.retain(|o| {
        let mut day = first;
        while day <= last {
            if o.on(day) {
                return true;
            }
            day += Duration::days(1);
        }
        false
    });
    out.sort_by(|a, b| (a.start, &a.title).cmp(&(b.start, &b.title)));
    Ok(out)
}

/// One object's occurrences in `[start, end)`. An object that cannot be
/// read is left out of the view (CalDAV checked it when it was stored).
fn expand(data: &[u8], href: &str, tz: Tz, start: i64, end: i64, out: &mut Vec<Occurrence>) {
    let Ok(instances) = postern_dav::ical::instances(data, start, end) else {
        return;
    };
    let Ok(stored) = super::ics::read(data, "UTC") else {
        return;
    };
    let ev = &stored.event;
    // Floating and all-day: the UTC reading is the wall time.
    let zoned = !ev.when.all_day && stored.zoned();
    for i in instances {
        let (s, e) = match zoned {
            true => (grid::local(tz, i.start), grid::local(tz, i.end)),
            false => (grid::utc_naive(i.start), grid::utc_naive(i.end)),
        };
        let href = match i.recurrence_id {
            Some(at) => format!("{href}?at={at}"),
            None => href.to_owned(),
        };
        out.push(Occurrence {
            title: i
                .summary
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| match ev.title.trim() {
                    "" => "(no title)".to_owned(),
                    t => t.to_owned(),
                }),
            location: ev.location.clone(),
            start: s,
            end: e,
            all_day: ev.when.all_day,
            href,
        });
    }
}

/// The date asked for, or today in the reader's zone.
fn date_or_today(q: Result<Query<DateQuery>, QueryRejection>, zone: &Zone) -> NaiveDate {
    q.ok()
        .and_then(|q| grid::parse_date(&q.0.date))
        .unwrap_or_else(|| today(zone))
}

pub(crate) fn today(zone: &Zone) -> NaiveDate {
    grid::local(zone.tz, super::now()).date()
}

/// What every view shows above its days.
pub struct Nav {
    pub title: String,
    pub prev: String,
    pub next: String,
    pub today: String,
    pub month: String,
    pub week: String,
    pub day: String,
    pub agenda: String,
    pub new_event: String,
    pub current: &'static str,
}

fn nav(view: View, date: NaiveDate, zone: &Zone, title: String) -> Nav {
    let (prev, next) = view.step(date);
    Nav {
        title,
        prev: view_href(view, prev),
        next: view_href(view, next),
        today: view_href(view, today(zone)),
        month: view_href(View::Month, date),
        week: view_href(View::Week, date),
        day: view_href(View::Day, date),
        agenda: view_href(View::Agenda, date),
        new_event: format!("/calendar/new?date={}", date.format("%Y-%m-%d")),
        current: view.segment(),
    }
}

/// A column of the week or day view.
pub struct Column {
    pub label: String,
    pub href: String,
    pub today: bool,
    /// All-day events and those that began on an earlier day.
    pub all_day: Vec<Item>,
}

/// An hour row: the events starting in that hour, per column.
pub struct HourRow {
    pub label: String,
    pub cells: Vec<Cell>,
}

pub struct Cell {
    pub new_href: String,
    pub new_label: String,
    pub items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "calendar_week.html")]
struct WeekPage<'a> {
    hostname: &'a str,
    frame: Frame,
    nav: Nav,
    columns: Vec<Column>,
    rows: Vec<HourRow>,
}

/// The hours a week or day grid shows: 07:00 to 20:00, widened to every
/// event's start.
fn hours(occ: &[Occurrence], days: &[NaiveDate]) -> (u32, u32) {
    let mut first = 7;
    let mut last = 20;
    for o in occ.iter().filter(|o| !o.all_day) {
        if days.iter().any(|d| o.starts_on(*d)) {
            first = first.min(o.start.hour());
            last = last.max(o.start.hour());
        }
    }
    (first, last)
}

/// The week or day grid.
pub fn week_grid(
    occ: &[Occurrence],
    days: &[NaiveDate],
    today: NaiveDate,
) -> (Vec<Column>, Vec<HourRow>) {
    let columns = days
        .iter()
        .map(|d| Column {
            label: d.format("%a %-d %b").to_string(),
            href: view_href(View::Day, *d),
            today: *d == today,
            all_day: occ
                .iter()
                .filter(|o| o.on(*d) && (o.all_day || !o.starts_on(*d)))
                .map(|o| item(o, *d))
                .collect(),
        })
        .collect();
    let (first, last) = hours(occ, days);
    let rows = (first..=last)
        .map(|h| HourRow {
            label: format!("{h:02}:00"),
            cells: days
                .iter()
                .map(|d| Cell {
                    new_href: format!("/calendar/new?date={}&time={h:02}:00", d.format("%Y-%m-%d")),
                    new_label: format!("New event on {} at {h:02}:00", grid::long_date(*d)),
                    items: occ
                        .iter()
                        .filter(|o| !o.all_day && o.starts_on(*d) && o.start.hour() == h)
                        .map(|o| item(o, *d))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    (columns, rows)
}

async fn read_view(
    state: &AppState,
    session: &SessionView,
    zone: &Zone,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<Occurrence>, Response> {
    let (account, tz) = (session.account, zone.tz);
    blocking(state, &session.address, move |store| {
        occurrences(store, account, tz, first, last)
    })
    .await
}

/// `GET /calendar`.
pub async fn week_of_today(state: State<AppState>, authed: Authed, headers: HeaderMap) -> Response {
    week(state, authed, headers, Ok(Query(DateQuery::default()))).await
}

/// `GET /calendar/week`.
pub async fn week(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    q: Result<Query<DateQuery>, QueryRejection>,
) -> Response {
    let zone = Zone::from_headers(&headers);
    let date = date_or_today(q, &zone);
    let (first, last) = View::Week.span(date);
    grid_page(&state, &session, &zone, View::Week, date, first, last).await
}

/// `GET /calendar/day`.
pub async fn day(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    q: Result<Query<DateQuery>, QueryRejection>,
) -> Response {
    let zone = Zone::from_headers(&headers);
    let date = date_or_today(q, &zone);
    grid_page(&state, &session, &zone, View::Day, date, date, date).await
}

async fn grid_page(
    state: &AppState,
    session: &SessionView,
    zone: &Zone,
    view: View,
    date: NaiveDate,
    first: NaiveDate,
    last: NaiveDate,
) -> Response {
    let occ = match read_view(state, session, zone, first, last).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    let (columns, rows) = week_grid(&occ, &days, today(zone));
    let title = match view {
        View::Day => grid::long_date(date),
        _ => format!(
            "Week of {} (week {})",
            first.format("%-d %B %Y"),
            first.iso_week().week()
        ),
    };
    render(&WeekPage {
        hostname: &state.settings.hostname,
        frame: Frame::new(session, zone, view_href(view, date)),
        nav: nav(view, date, zone, title),
        columns,
        rows,
    })
}

/// A day of the month grid.
pub struct MonthDay {
    pub number: u32,
    pub href: String,
    pub label: String,
    pub in_month: bool,
    pub today: bool,
    pub items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "calendar_month.html")]
struct MonthPage<'a> {
    hostname: &'a str,
    frame: Frame,
    nav: Nav,
    weekdays: [&'static str; 7],
    weeks: Vec<Vec<MonthDay>>,
}

/// The month grid's cells.
pub fn month_grid(occ: &[Occurrence], date: NaiveDate, today: NaiveDate) -> Vec<Vec<MonthDay>> {
    grid::month_weeks(date)
        .iter()
        .map(|week| {
            week.iter()
                .map(|d| MonthDay {
                    number: d.day(),
                    href: view_href(View::Day, *d),
                    label: grid::long_date(*d),
                    in_month: d.month() == date.month(),
                    today: *d == today,
                    items: occ
                        .iter()
                        .filter(|o| o.on(*d))
                        .map(|o| item(o, *d))
                        .collect(),
                })
                .collect()
        })
        .collect()
}

/// `GET /calendar/month`.
pub async fn month(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    q: Result<Query<DateQuery>, QueryRejection>,
) -> Response {
    let zone = Zone::from_headers(&headers);
    let date = date_or_today(q, &zone);
    let (first, last) = View::Month.span(date);
    let occ = match read_view(&state, &session, &zone, first, last).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    render(&MonthPage {
        hostname: &state.settings.hostname,
        frame: Frame::new(&session, &zone, view_href(View::Month, date)),
        nav: nav(View::Month, date, &zone, date.format("%B %Y").to_string()),
        weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        weeks: month_grid(&occ, date, today(&zone)),
    })
}

/// A day of the agenda that has events.
pub struct AgendaDay {
    pub label: String,
    pub href: String,
    pub items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "calendar_agenda.html")]
struct AgendaPage<'a> {
    hostname: &'a str,
    frame: Frame,
    nav: Nav,
    days: Vec<AgendaDay>,
}

/// `GET /calendar/agenda`: the occurrences of 30 days, by day.
pub async fn agenda(
    State(state): State<AppState>,
    Authed(session): Authed,
    headers: HeaderMap,
    q: Result<Query<DateQuery>, QueryRejection>,
) -> Response {
    let zone = Zone::from_headers(&headers);
    let date = date_or_today(q, &zone);
    let (first, last) = View::Agenda.span(date);
    let occ = match read_view(&state, &session, &zone, first, last).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let days = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| AgendaDay {
            label: grid::long_date(d),
            href: view_href(View::Day, d),
            items: occ.iter().filter(|o| o.on(d)).map(|o| item(o, d)).collect(),
        })
        .filter(|d| !d.items.is_empty())
        .collect();
    let title = format!(
        "{} to {}",
        first.format("%-d %B %Y"),
        last.format("%-d %B %Y")
    );
    render(&AgendaPage {
        hostname: &state.settings.hostname,
        frame: Frame::new(&session, &zone, view_href(View::Agenda, date)),
        nav: nav(View::Agenda, date, &zone, title),
        days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        grid::parse_date(s).unwrap()
    }

    fn occ(title: &str, start: &str, end: &str, all_day: bool) -> Occurrence {
        Occurrence {
            title: title.into(),
            location: String::new(),
            start: t(start),
            end: t(end),
            all_day,
            href: format!("/calendar/event/default/{title}.ics"),
        }
    }

    #[test]
    fn occurrences_fall_on_the_days_they_touch() {
        let night = occ("night", "2026-11-24 22:00", "2026-11-25 02:00", false);
        assert!(night.on(d("2026-11-24")) && night.on(d("2026-11-25")));
        assert!(!night.on(d("2026-11-26")));
        // An all-day event's end is exclusive.
        let day = occ("day", "2026-11-24 00:00", "2026-11-25 00:00", true);
        assert!(day.on(d("2026-11-24")) && !day.on(d("2026-11-25")));
        let instant = occ("instant", "2026-11-24 00:00", "2026-11-24 00:00", false);
        assert!(instant.on(d("2026-11-24")) && !instant.on(d("2026-11-23")));
    }

    #[test]
    fn the_week_grid_puts_events_in_their_hour_and_day() {
        let days: Vec<NaiveDate> = d("2026-11-23").iter_days().take(7).collect();
        let all = [
            occ("early", "2026-11-24 06:30", "2026-11-24 07:00", false),
            occ("night", "2026-11-24 22:00", "2026-11-25 02:00", false),
            occ("holiday", "2026-11-27 00:00", "2026-11-28 00:00", true),
        ];
        let (columns, rows) = week_grid(&all, &days, d("2026-11-25"));
        assert_eq!(columns.len(), 7);
        assert!(columns[2].today);
        assert_eq!(columns[0].label, "Mon 23 Nov");
        // Rows widen to 06:00 and 22:00.
        assert_eq!(rows.first().unwrap().label, "06:00");
        assert_eq!(rows.last().unwrap().label, "22:00");
        let early = &rows[0].cells[1].items;
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].time, "06:30–07:00");
        assert_eq!(
            rows.last().unwrap().cells[1].items[0].time,
            "22:00–25 Nov 02:00"
        );
        // The night goes on on Wednesday, at the top.
        assert_eq!(columns[2].all_day[0].title, "night");
        assert_eq!(columns[2].all_day[0].time, "…–25 Nov 02:00");
        assert_eq!(columns[4].all_day[0].time, "all day");
        assert_eq!(
            rows[3].cells[0].new_href,
            "/calendar/new?date=2026-11-23&time=09:00"
        );
    }

    #[test]
    fn the_month_grid_marks_the_month_and_today() {
        let all = [occ("x", "2026-11-01 10:00", "2026-11-01 11:00", false)];
        let weeks = month_grid(&all, d("2026-11-15"), d("2026-11-23"));
        assert_eq!(weeks.len(), 6);
        assert!(!weeks[0][0].in_month);
        assert_eq!(weeks[0][6].number, 1);
        assert_eq!(weeks[0][6].items.len(), 1);
        assert!(weeks[4][0].today);
        assert_eq!(weeks[4][0].href, "/calendar/day?date=2026-11-23");
    }

    #[test]
    fn a_view_reads_only_the_events_near_its_days() {
        let dir = tempfile::tempdir().unwrap();
        let store = postern_store::SqliteStore::open(dir.path()).unwrap();
        store.add_domain("example.test").unwrap();
        let a = store.add_account("a@example.test", "x").unwrap();
        let cal = calendars(&store, a.id).unwrap().remove(0);
        let put = |uid: &str, start: &str, rule: &str| {
            let ics = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:{start}\r\nDURATION:PT1H\r\nSUMMARY:{uid}\r\n{rule}END:VEVENT\r\nEND:VCALENDAR\r\n");
            let an = postern_dav::ical::analyze(ics.as_bytes()).unwrap();
            let new = postern_store::NewCalendarObject {
                name: &format!("{uid}.ics"),
                uid,
                component: ComponentKind::Event,
                data: ics.as_bytes(),
                first_start: an.first_start,
                last_end: an.last_end,
            };
            store
                .put_calendar_object(cal.id, &new, postern_store::Precondition::Any)
                .unwrap();
        };
        put(
            "weekly",
            "20261102T090000",
            "RRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\n",
        );
        put("once", "20261124T233000", "");
        put("long-ago", "20200101T090000", "");
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let week = occurrences(&store, a.id, berlin, d("2026-11-23"), d("2026-11-29")).unwrap();
        let got: Vec<(String, String)> = week
            .iter()
            .map(|o| (o.title.clone(), o.start.format("%a %H:%M").to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("weekly".to_owned(), "Mon 09:00".to_owned()),
                ("once".to_owned(), "Tue 23:30".to_owned()),
                ("weekly".to_owned(), "Wed 09:00".to_owned()),
            ]
        );
        assert!(week[0]
            .href
            .starts_with("/calendar/event/default/weekly.ics?at="));
        // In New York the Tuesday event is on Tuesday afternoon.
        let ny: Tz = "America/New_York".parse().unwrap();
        let week = occurrences(&store, a.id, ny, d("2026-11-23"), d("2026-11-29")).unwrap();
        assert_eq!(week[1].start, t("2026-11-24 17:30"));
    }
}
