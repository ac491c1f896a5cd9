//! The CalDAV scenarios (RFC 4791 over HTTP/1.1 and TLS, HTTP Basic on
//! every request, RFC 7617), aimed at Postern or at any other CalDAV
//! server through the calendar home's path:
//! - `caldav-load`: MKCALENDAR of the two calendars, then every event of
//!   the generated calendar PUT once, the clients sharing the work.
//! - `caldav-query`: a calendar-query REPORT for one month's VEVENTs with
//!   `<C:expand>` (RFC 4791 §9.6.5), over and over; every answer is
//!   checked against the objects the generator says are in the window.
//! - `caldav-put`: each client PUTs new events (`If-None-Match: *`, as a
//!   client creating one does) into a second calendar, so the queried
//!   one stays the same from run to run.
//!
//! # Layout
//! - this file: settings, the connection with its login, the scenarios.
//! - `events`: the generated calendar and the expected answer.
//! - `answer`: what a multistatus answer holds.

pub mod answer;
pub mod events;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use tokio::time::sleep;

use crate::http::{self, Response};
use crate::json::Obj;
use crate::pop3::TlsSummary;
use crate::scenario::{bounded, run_clients, run_held, Gates, Outcome, Plan, Tally};

use answer::Counts;
use events::{Event, Expected, Window};

/// What a client repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DavLoop {
    Load,
    Query,
    Put,
}

/// What every CalDAV client shares besides the plan.
#[derive(Debug, Clone)]
pub struct Settings {
    pub kind: DavLoop,
    /// The `Host` header: the certificate's name and the port.
    pub host: String,
    /// The calendar home's path, `{user}` replaced by the account.
    pub home: String,
    /// The calendar loaded and queried.
    pub calendar: String,
    /// The calendar `caldav-put` writes to.
    pub put_calendar: String,
    pub events: usize,
    pub seed: u64,
    pub window: Window,
    /// Ask for the recurrences expanded (`<C:expand>` in calendar-data).
    pub expand: bool,
    /// Makes the names and UIDs of `caldav-put` new on every run.
    pub run_id: String,
}

/// The settings with the calendar and its expected answer.
struct Shared {
    s: Settings,
    events: Vec<Event>,
    expected: Expected,
}

/// What the clients saw of the server beyond the tally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// TCP and TLS connections opened: one per request for a server that
    /// does not keep connections alive.
    pub connects: u64,
    /// The counts of the first query answer.
    pub first: Option<Counts>,
    /// Whether every client's first answer had the same counts.
    pub agree: bool,
}

impl Seen {
    pub fn merge(&mut self, other: Self) {
        self.connects += other.connects;
        match (&self.first, other.first) {
            (None, first) => {
                self.agree = other.agree;
                self.first = first;
            }
            (Some(a), Some(b)) => self.agree &= other.agree && *a == b,
            (Some(_), None) => {}
        }
    }
}

/// Runs the scenario of `settings.kind`.
pub async fn caldav(plan: Arc<Plan>, settings: Settings) -> anyhow::Result<Outcome> {
    let events = events::generate(settings.events, settings.seed);
    let expected = events::expected(&events, &settings.window);
    let shared = Arc::new(Shared {
        s: settings,
        events,
        expected,
    });
    match shared.s.kind {
        DavLoop::Load => {
            make_calendars(&plan, &shared).await?;
            let outcome = run_clients(&plan, move |plan, n, start| {
                load_client(plan, n, Arc::clone(&shared), start)
            })
            .await?;
            Ok(outcome)
        }
        DavLoop::Query | DavLoop::Put => {
            run_held(&plan, move |plan, n, gates| {
                held_client(plan, n, Arc::clone(&shared), gates)
            })
            .await
        }
    }
}

/// One connection at a time (a new one after the server closes it) and
/// the account's credentials.
struct Client {
    conn: Option<http::Conn>,
    /// `Basic base64(user:password)`.
    authorization: String,
    seen: Seen,
    /// What the first connection negotiated: kept, because a server that
    /// closes after each answer leaves no connection to ask later.
    tls: Option<TlsSummary>,
}

impl Client {
    fn new(plan: &Plan, user: &str) -> Self {
        let credentials = format!("{user}:{}", plan.password);
        Self {
            conn: None,
            authorization: format!("Basic {}", base64(credentials.as_bytes())),
            seen: Seen {
                agree: true,
                ..Seen::default()
            },
            tls: None,
        }
    }

    async fn send(
        &mut self,
        plan: &Plan,
        host: &str,
        method: &str,
        path: &str,
        fields: &[(&str, String)],
        body: &[u8],
    ) -> anyhow::Result<Response> {
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => {
                self.seen.connects += 1;
                let conn = http::Conn::connect(&plan.target, host).await?;
                self.tls.get_or_insert_with(|| conn.tls());
                self.conn.insert(conn)
            }
        };
        let mut all = vec![("Authorization", self.authorization.clone())];
        all.extend(fields.iter().cloned());
        let r = match conn.send(method, path, &all, Some(body)).await {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(e);
            }
        };
        if r.close {
            self.conn = None;
        }
        if r.status == 401 {
            bail!("{method} {path}: 401, the server refused the account and password (check the server's user file or `postern user add`)");
        }
        Ok(r)
    }

    fn tls(&self) -> Option<TlsSummary> {
        self.tls.clone()
    }
}

/// The paths of the calendar home, a calendar and a member.
fn home(s: &Settings, user: &str) -> String {
    s.home.replace("{user}", user)
}

fn calendar_path(s: &Settings, user: &str, calendar: &str) -> String {
    format!("{}{calendar}/", home(s, user))
}

/// MKCALENDAR of both calendars (RFC 4791 §5.3.1): 201, or 405 when it
/// exists already (RFC 4918 §9.3.1), which a run on the same data meets.
async fn make_calendars(plan: &Plan, shared: &Shared) -> anyhow::Result<()> {
    let s = &shared.s;
    let user = plan.user(0);
    let mut c = Client::new(plan, &user);
    for cal in [&s.calendar, &s.put_calendar] {
        let path = calendar_path(s, &user, cal);
        let r = bounded(
            plan.op_timeout,
            "MKCALENDAR",
            c.send(plan, &s.host, "MKCALENDAR", &path, &[], b""),
        )
        .await?;
        if !matches!(r.status, 201 | 405) {
            bail!(
                "MKCALENDAR {path}: status {}: {} (is --dav-home the account's calendar home?)",
                r.status,
                r.text().trim()
            );
        }
    }
    Ok(())
}

/// PUT of one object; `create`: only if nothing has the name yet.
async fn put(
    c: &mut Client,
    plan: &Plan,
    s: &Settings,
    path: &str,
    ical: &str,
    create: bool,
) -> anyhow::Result<()> {
    let mut fields = vec![("Content-Type", "text/calendar; charset=utf-8".to_owned())];
    if create {
        fields.push(("If-None-Match", "*".to_owned()));
    }
    let r = c
        .send(plan, &s.host, "PUT", path, &fields, ical.as_bytes())
        .await?;
    match r.status {
        201 => Ok(()),
        204 if !create => Ok(()),
        code => Err(anyhow!("PUT {path}: status {code}: {}", short(&r))),
    }
}

/// Client n PUTs events n, n + clients, n + 2 clients...: together the
/// clients load the whole calendar once.
async fn load_client(plan: Arc<Plan>, n: usize, shared: Arc<Shared>, start: Instant) -> Tally {
    let s = &shared.s;
    let user = plan.user(n);
    let mut c = Client::new(&plan, &user);
    let mut tally = Tally::default();
    let base = calendar_path(s, &user, &s.calendar);
    let mut next = n;
    while next < shared.events.len() && start.elapsed() < plan.duration && plan.take_op() {
        let ev = &shared.events[next];
        let ical = ev.to_ical(&format!("{}-", s.seed));
        let path = format!("{base}{}", ev.name());
        let t0 = Instant::now();
        match bounded(
            plan.op_timeout,
            "PUT",
            put(&mut c, &plan, s, &path, &ical, false),
        )
        .await
        {
            Ok(()) => {
                tally.ok(t0.elapsed(), ical.len() as u64);
                next += plan.clients;
            }
            Err(e) => {
                tally.error(&e);
                sleep(Duration::from_millis(100)).await;
            }
        }
        tally.tls = tally.tls.take().or_else(|| c.tls());
    }
    if next < shared.events.len() {
        tally.error(&anyhow!(
            "the load stopped before its end (--seconds or --max-ops): the calendar is incomplete"
        ));
    }
    tally.dav = Some(c.seen);
    tally
}

/// A query or put client: a first request before the measured loop
/// (connection, TLS, the first password check; for a query, the full
/// check of the answer), then the loop.
async fn held_client(plan: Arc<Plan>, n: usize, shared: Arc<Shared>, gates: Arc<Gates>) -> Tally {
    let user = plan.user(n);
    let mut c = Client::new(&plan, &user);
    let mut tally = Tally::default();
    let warm = bounded(
        plan.op_timeout * 3,
        "first request",
        warm_up(&mut c, &plan, &shared, &user),
    )
    .await;
    let baseline = match warm {
        Ok(counts) => counts,
        Err(e) => {
            tally.error(&e);
            None
        }
    };
    c.seen.first = baseline.clone();
    gates.logged_in.wait().await;
    let start = Instant::now();
    let mut k = 0u64;
    while start.elapsed() < plan.duration && plan.take_op() {
        let t0 = Instant::now();
        let step = one_step(&mut c, &plan, &shared, &user, n, k, baseline.as_ref());
        match bounded(plan.op_timeout, "request", step).await {
            Ok(octets) => tally.ok(t0.elapsed(), octets),
            Err(e) => {
                tally.error(&e);
                sleep(Duration::from_millis(100)).await;
            }
        }
        k += 1;
        tally.tls = tally.tls.take().or_else(|| c.tls());
    }
    gates.finished.wait().await;
    gates.measured.wait().await;
    tally.dav = Some(c.seen);
    tally
}

/// The request before the loop: a query checked in full (which members,
/// not only how many), or a PROPFIND of the put calendar.
async fn warm_up(
    c: &mut Client,
    plan: &Plan,
    shared: &Shared,
    user: &str,
) -> anyhow::Result<Option<Counts>> {
    let s = &shared.s;
    if s.kind == DavLoop::Put {
        let path = calendar_path(s, user, &s.put_calendar);
        let fields = [
            ("Depth", "0".to_owned()),
            ("Content-Type", "application/xml; charset=utf-8".to_owned()),
        ];
        let body = br#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"#;
        let r = c
            .send(plan, &s.host, "PROPFIND", &path, &fields, body)
            .await?;
        if r.status != 207 {
            bail!(
                "PROPFIND {path}: status {} (run caldav-load first)",
                r.status
            );
        }
        return Ok(None);
    }
    let r = query(c, plan, shared, user).await?;
    let names = answer::member_names(&r.body);
    if names != shared.expected.names {
        bail!(
            "the query's answer names {} members, {} expected; first differences: {:?}",
            names.len(),
            shared.expected.names.len(),
            first_differences(&names, &shared.expected.names)
        );
    }
    let counts = Counts::of(&r.body);
    check_counts(&counts, &shared.expected)?;
    Ok(Some(counts))
}

/// One measured request; the octets of the answer (query) or of the
/// object sent (put).
async fn one_step(
    c: &mut Client,
    plan: &Plan,
    shared: &Shared,
    user: &str,
    n: usize,
    k: u64,
    baseline: Option<&Counts>,
) -> anyhow::Result<u64> {
    let s = &shared.s;
    match s.kind {
        DavLoop::Put => {
            let template = &shared.events[(k as usize * 7 + n) % shared.events.len()];
            let prefix = format!("p{}-{n}-{k}-", s.run_id);
            let ical = template.to_ical(&prefix);
            let path = format!(
                "{}{prefix}{}",
                calendar_path(s, user, &s.put_calendar),
                template.name()
            );
            put(c, plan, s, &path, &ical, true).await?;
            Ok(ical.len() as u64)
        }
        DavLoop::Query | DavLoop::Load => {
            let r = query(c, plan, shared, user).await?;
            let counts = Counts::of(&r.body);
            check_counts(&counts, &shared.expected)?;
            if let Some(b) = baseline.filter(|b| **b != counts) {
                bail!("an answer differs from the first one: {counts:?}, first {b:?}");
            }
            Ok(r.body.len() as u64)
        }
    }
}

/// The REPORT: VEVENTs overlapping the window (RFC 4791 §7.8, §9.9),
/// with their data, expanded to the window when asked (§9.6.5).
async fn query(
    c: &mut Client,
    plan: &Plan,
    shared: &Shared,
    user: &str,
) -> anyhow::Result<Response> {
    let s = &shared.s;
    let path = calendar_path(s, user, &s.calendar);
    let fields = [
        ("Depth", "1".to_owned()),
        ("Content-Type", "application/xml; charset=utf-8".to_owned()),
    ];
    let body = report_body(&s.window, s.expand);
    let r = c
        .send(plan, &s.host, "REPORT", &path, &fields, body.as_bytes())
        .await?;
    if r.status != 207 {
        bail!("REPORT {path}: status {}: {}", r.status, short(&r));
    }
    Ok(r)
}

fn report_body(w: &Window, expand: bool) -> String {
    let data = if expand {
        format!(
            "<C:calendar-data><C:expand start=\"{}\" end=\"{}\"/></C:calendar-data>",
            w.start_text, w.end_text
        )
    } else {
        "<C:calendar-data/>".to_owned()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
         <D:prop><D:getetag/>{data}</D:prop>\
         <C:filter><C:comp-filter name=\"VCALENDAR\"><C:comp-filter name=\"VEVENT\">\
         <C:time-range start=\"{}\" end=\"{}\"/></C:comp-filter></C:comp-filter></C:filter>\
         </C:calendar-query>",
        w.start_text, w.end_text
    )
}

/// The two answers a server may give to a query asking for `<C:expand>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// One VEVENT per instance in the window, no RRULE left (RFC 4791
    /// §9.6.5).
    Expanded,
    /// One VEVENT per object, recurring ones with their RRULE: the
    /// server ignored `<C:expand>` (or was not asked).
    Masters,
}

/// Every member expected, each with its data, and exactly as many
/// VEVENTs as either the instances (expanded) or the objects (masters)
/// hold; which of the two the answer is.
fn check_counts(c: &Counts, e: &Expected) -> anyhow::Result<Form> {
    let want = e.names.len();
    if c.responses != want || c.objects != want {
        bail!(
            "the query returned {} members ({} with data), {want} expected",
            c.responses,
            c.objects
        );
    }
    // With no recurring instance in the window both forms have the same
    // counts; an RRULE left says which one it is.
    if c.vevents == e.instances && c.rrules == 0 {
        return Ok(Form::Expanded);
    }
    if c.vevents == want {
        return Ok(Form::Masters);
    }
    if c.vevents == e.instances {
        bail!(
            "{} VEVENTs, the {} instances in the window, but {} RRULEs left: an expanded answer keeps none (RFC 4791 §9.6.5)",
            c.vevents,
            e.instances,
            c.rrules
        );
    }
    bail!(
        "{} VEVENTs in the answer: neither the {} instances in the window nor one per object ({want})",
        c.vevents,
        e.instances
    )
}

fn first_differences(got: &[String], want: &[String]) -> Vec<String> {
    let extra = got
        .iter()
        .filter(|g| !want.contains(g))
        .map(|g| format!("+{g}"));
    let missing = want
        .iter()
        .filter(|w| !got.contains(w))
        .map(|w| format!("-{w}"));
    extra.chain(missing).take(6).collect()
}

/// The start of an answer's body, for an error message.
fn short(r: &Response) -> String {
    r.text().trim().chars().take(200).collect()
}

/// The scenario's own figures in the JSON object.
pub fn report(out: &mut Obj, s: &Settings, dav: Option<&Seen>) {
    let events = events::generate(s.events, s.seed);
    let e = events::expected(&events, &s.window);
    out.int("events", s.events as u64).int("seed", s.seed);
    if let Some(seen) = dav {
        out.int("connections_opened", seen.connects);
    }
    if s.kind != DavLoop::Query {
        return;
    }
    out.str("window_start", &s.window.start_text)
        .str("window_end", &s.window.end_text)
        .bool("expand_asked", s.expand)
        .int("expected_objects", e.names.len() as u64)
        .int("expected_recurring_objects", e.recurring as u64)
        .int("expected_instances", e.instances as u64);
    match dav.and_then(|d| d.first.as_ref().map(|f| (f, d.agree))) {
        Some((f, agree)) => {
            out.int("returned_objects", f.objects as u64)
                .int("returned_vevents", f.vevents as u64)
                .int("returned_rrules", f.rrules as u64)
                .int("returned_recurrence_ids", f.recurrence_ids as u64)
                // Expanded: one VEVENT per instance, no RRULE left.
                .bool(
                    "server_expanded",
                    f.vevents == e.instances && f.rrules == 0 && e.instances != f.objects,
                )
                .str(
                    "answer_form",
                    match check_counts(f, &e) {
                        Ok(Form::Expanded) => "expanded",
                        Ok(Form::Masters) => "masters",
                        Err(_) => "wrong",
                    },
                )
                .bool("clients_agree", agree);
        }
        None => {
            out.null("returned_objects").null("returned_vevents");
        }
    }
}

/// Standard base64 with padding (RFC 4648 §4), for the Basic credentials.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(v >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_known_answers() {
        // RFC 4648 §10.
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn the_report_asks_for_the_window() {
        let w = Window::month("2026-06").unwrap();
        let body = report_body(&w, true);
        assert!(body.contains("<C:expand start=\"20260601T000000Z\" end=\"20260701T000000Z\"/>"));
        assert!(
            body.contains("<C:time-range start=\"20260601T000000Z\" end=\"20260701T000000Z\"/>")
        );
        assert!(!report_body(&w, false).contains("expand"));
    }

    #[test]
    fn counts_are_checked_against_the_calendar() {
        let e = Expected {
            names: vec!["a".into(), "b".into()],
            instances: 5,
            recurring: 1,
        };
        let c = |responses, objects, vevents| Counts {
            responses,
            objects,
            vevents,
            ..Counts::default()
        };
        assert_eq!(check_counts(&c(2, 2, 2), &e).unwrap(), Form::Masters);
        assert_eq!(check_counts(&c(2, 2, 5), &e).unwrap(), Form::Expanded);
        assert!(check_counts(&c(2, 2, 3), &e).is_err());
        assert!(check_counts(&c(2, 2, 4), &e).is_err(), "an instance short");
        assert!(check_counts(&c(2, 2, 6), &e).is_err(), "an instance more");
        let rrule_left = Counts {
            rrules: 1,
            ..c(2, 2, 5)
        };
        assert!(
            check_counts(&rrule_left, &e).is_err(),
            "expanded yet an RRULE left"
        );
        let masters = Counts {
            rrules: 1,
            ..c(2, 2, 2)
        };
        assert_eq!(check_counts(&masters, &e).unwrap(), Form::Masters);
        assert!(check_counts(&c(3, 3, 3), &e).is_err());
        assert!(
            check_counts(&c(2, 1, 2), &e).is_err(),
            "a member without data"
        );
    }

    #[test]
    fn seen_merges_and_notices_disagreement() {
        let counts = |v| Counts {
            vevents: v,
            ..Counts::default()
        };
        let seen = |v| Seen {
            connects: 1,
            first: Some(counts(v)),
            agree: true,
        };
        let mut all = Seen::default();
        all.merge(seen(3));
        all.merge(seen(3));
        assert!(all.agree);
        assert_eq!(all.connects, 2);
        all.merge(seen(4));
        assert!(!all.agree);
    }
}
