//! The web calendar over real TLS: an event made with the form is in
//! every view and over CalDAV; a weekly event falls on its days; an edit
//! keeps what a CalDAV client put in the event and refuses to overwrite
//! a change made since the form was opened; deletion of the series and
//! of one occurrence; another account's event is 404; forms need their
//! CSRF token; mistakes come back with the typed values.

use postern_testkit::server::HOST;
use postern_testkit::{Browser, HttpResponse, HttpsClient, TestServer};

use crate::smtp::b64;

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
const PASSWORD: &str = "correct horse battery";

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    for user in [ALICE, BOB] {
        srv.add_user(user, PASSWORD);
    }
    srv
}

/// A CalDAV client of `user`.
struct Dav {
    conn: HttpsClient,
    auth: String,
    user: String,
}

impl Dav {
    async fn new(srv: &TestServer, user: &str) -> Self {
        let conn = HttpsClient::connect(srv.addr("https"), HOST, srv.client_config(&[b"http/1.1"]))
            .await
            .unwrap();
        let auth = format!("Basic {}", b64(format!("{user}:{PASSWORD}").as_bytes()));
        Self {
            conn,
            auth,
            user: user.to_owned(),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("/dav/calendars/{}/default/{name}", self.user)
    }

    async fn get(&mut self, name: &str) -> HttpResponse {
        let path = self.path(name);
        let auth = self.auth.clone();
        self.conn
            .request("GET", &path, HOST, &[("Authorization", &auth)], b"")
            .await
            .unwrap()
    }

    async fn put(&mut self, name: &str, ics: &str, extra: &[(&str, &str)]) -> HttpResponse {
        let path = self.path(name);
        let auth = self.auth.clone();
        let mut h = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "text/calendar; charset=utf-8"),
        ];
        h.extend_from_slice(extra);
        self.conn
            .request("PUT", &path, HOST, &h, ics.as_bytes())
            .await
            .unwrap()
    }

    async fn delete(&mut self, name: &str) -> HttpResponse {
        let path = self.path(name);
        let auth = self.auth.clone();
        self.conn
            .request("DELETE", &path, HOST, &[("Authorization", &auth)], b"")
            .await
            .unwrap()
    }

    async fn mkcalendar(&mut self, name: &str) -> HttpResponse {
        let path = format!("/dav/calendars/{}/{name}/", self.user);
        let auth = self.auth.clone();
        self.conn
            .request("MKCALENDAR", &path, HOST, &[("Authorization", &auth)], b"")
            .await
            .unwrap()
    }

    async fn get_in(&mut self, calendar: &str, name: &str) -> HttpResponse {
        let path = format!("/dav/calendars/{}/{calendar}/{name}", self.user);
        let auth = self.auth.clone();
        self.conn
            .request("GET", &path, HOST, &[("Authorization", &auth)], b"")
            .await
            .unwrap()
    }

    /// The home listing, which makes the `default` calendar.
    async fn discover(&mut self) {
        let path = format!("/dav/calendars/{}/", self.user);
        let auth = self.auth.clone();
        let r = self
            .conn
            .request(
                "PROPFIND",
                &path,
                HOST,
                &[("Authorization", &auth), ("Depth", "1")],
                b"",
            )
            .await
            .unwrap();
        assert_eq!(r.status, 207, "{r}");
    }
}

/// The names of the objects in `user`'s default calendar.
fn objects(srv: &TestServer, user: &str) -> Vec<String> {
    let store = srv.server().store().clone();
    let account = store.account(user).unwrap().unwrap();
    let Some(cal) = store.calendar(account.id, "default").unwrap() else {
        return Vec::new();
    };
    store
        .calendar_objects(cal.id)
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect()
}

/// A hidden field's value, HTML entities undone.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end]
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The form's fields for a one-hour event in UTC.
fn event<'a>(title: &'a str, date: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("title", title),
        ("location", "Room 4"),
        ("start_date", date),
        ("start_time", "10:00"),
        ("end_date", date),
        ("end_time", "11:00"),
        ("zone", "UTC"),
        ("repeat", "none"),
        ("interval", "1"),
        ("ends", "never"),
        ("reminder", "15"),
        ("reminder_unit", "minutes"),
        ("calendar", "default"),
        ("attendees", ""),
        ("description", "Numbers, plans; more"),
    ]
}

const CLIENT_EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Client//EN\r\nBEGIN:VEVENT\r\nUID:client-event-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261125T140000Z\r\nDTEND:20261125T150000Z\r\nSUMMARY:Dentist\r\nX-CLIENT-FLAG;X-P=1:keep me\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[tokio::test]
async fn an_event_made_in_the_form_is_in_every_view_and_over_caldav() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let mail = b.get("/mail").await.text();
    assert!(
        mail.contains("href=\"/calendar\""),
        "a Calendar link in the mail pages: {mail}"
    );
    let fields = event("Planning <b>", "2026-11-24");
    let r = b.submit("/calendar/new", "/calendar/new", &fields).await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some("/calendar/week?date=2026-11-24"));
    for view in ["week", "month", "day", "agenda"] {
        let page = b.get(&format!("/calendar/{view}?date=2026-11-24")).await;
        assert_eq!(page.status, 200, "{view}: {page}");
        let text = page.text();
        assert!(text.contains("Planning &#60;b&#62;"), "{view}: {text}");
        assert!(text.contains("10:00–11:00"), "{view}: {text}");
    }
    // Not on the next day, nor in next week's agenda.
    assert!(!b
        .get("/calendar/day?date=2026-11-25")
        .await
        .text()
        .contains("Planning"));
    assert!(!b
        .get("/calendar/agenda?date=2026-11-25")
        .await
        .text()
        .contains("Planning"));

    let names = objects(&srv, ALICE);
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with(".ics"));
    let mut dav = Dav::new(&srv, ALICE).await;
    let got = dav.get(&names[0]).await;
    assert_eq!(got.status, 200, "{got}");
    let ics = got.text().replace("\r\n ", "");
    assert!(ics.contains("SUMMARY:Planning <b>"), "{ics}");
    assert!(ics.contains("DTSTART:20261124T100000Z"), "{ics}");
    assert!(
        ics.contains("DESCRIPTION:Numbers\\, plans\\; more"),
        "{ics}"
    );
    assert!(ics.contains("TRIGGER:-PT15M"), "{ics}");
    assert!(
        ics.contains(&format!("UID:{}", names[0].trim_end_matches(".ics"))),
        "{ics}"
    );
}

#[tokio::test]
async fn times_follow_the_readers_zone() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let mut fields = event("Call", "2026-11-24");
    fields.retain(|(k, _)| *k != "zone");
    fields.push(("zone", "Europe/Berlin"));
    let r = b.submit("/calendar/new", "/calendar/new", &fields).await;
    assert_eq!(r.status, 303, "{r}");
    // 10:00 in Berlin is 09:00 UTC, the zone until one is chosen.
    assert!(b
        .get("/calendar/day?date=2026-11-24")
        .await
        .text()
        .contains("09:00–10:00"));
    let r = b
        .submit(
            "/calendar/zone",
            "/calendar/zone",
            &[
                ("zone", "Asia/Tokyo"),
                ("back", "/calendar/day?date=2026-11-24"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some("/calendar/day?date=2026-11-24"));
    let page = b.get("/calendar/day?date=2026-11-24").await.text();
    assert!(page.contains("18:00–19:00"), "{page}");
    assert!(page.contains("Times in Asia/Tokyo"), "{page}");
    // An unknown zone and a foreign target are refused.
    let token = b.form_token("/calendar/zone").await;
    let r = b
        .post_with_csrf("/calendar/zone", &token, &[("zone", "Mars/Base")])
        .await;
    assert_eq!(r.status, 400, "{r}");
    let r = b
        .post_with_csrf(
            "/calendar/zone",
            &token,
            &[("zone", "UTC"), ("back", "https://evil.test/")],
        )
        .await;
    assert_eq!(r.header("location"), Some("/calendar"));
}

#[tokio::test]
async fn a_weekly_event_falls_on_its_days() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let mut fields = event("Standup", "2026-11-23");
    for (k, v) in fields.iter_mut() {
        match *k {
            "repeat" => *v = "weekly",
            "ends" => *v = "count",
            _ => {}
        }
    }
    fields.extend([("day_mo", "on"), ("day_th", "on"), ("count", "6")]);
    let r = b.submit("/calendar/new", "/calendar/new", &fields).await;
    assert_eq!(r.status, 303, "{r}");
    for (date, expected) in [
        ("2026-11-23", true),
        ("2026-11-24", false),
        ("2026-11-26", true),
        ("2026-11-30", true),
        ("2026-12-01", false),
        ("2026-12-03", true),
        ("2026-12-07", true),
        ("2026-12-10", true),
        // Six times, then no more.
        ("2026-12-14", false),
    ] {
        let page = b.get(&format!("/calendar/day?date={date}")).await.text();
        assert_eq!(page.contains("Standup"), expected, "{date}: {page}");
    }
    let week = b.get("/calendar/week?date=2026-12-02").await.text();
    assert_eq!(week.matches("Standup").count(), 2, "{week}");
    let month = b.get("/calendar/month?date=2026-12-02").await.text();
    // November 30, December 3, 7, 10.
    assert_eq!(month.matches("Standup").count(), 4, "{month}");
    let ics = Dav::new(&srv, ALICE)
        .await
        .get(&objects(&srv, ALICE)[0])
        .await
        .text();
    assert!(
        ics.contains("RRULE:FREQ=WEEKLY;COUNT=6;BYDAY=MO,TH"),
        "{ics}"
    );
}

#[tokio::test]
async fn an_edit_keeps_what_a_caldav_client_put_there() {
    let srv = server().await;
    let mut dav = Dav::new(&srv, ALICE).await;
    dav.discover().await;
    let put = dav
        .put("dentist.ics", CLIENT_EVENT, &[("If-None-Match", "*")])
        .await;
    assert_eq!(put.status, 201, "{put}");
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let week = b.get("/calendar/week?date=2026-11-25").await.text();
    assert!(
        week.contains("/calendar/event/default/dentist.ics"),
        "{week}"
    );
    let form = b.get("/calendar/event/default/dentist.ics").await;
    assert_eq!(form.status, 200, "{form}");
    let page = form.text();
    assert!(page.contains("value=\"Dentist\""), "{page}");
    let etag = field(&page, "etag");
    assert_eq!(Some(etag.as_str()), put.header("etag"));
    let mut fields = event("Dentist (moved)", "2026-11-26");
    fields.push(("etag", &etag));
    let r = b
        .post_with_csrf(
            "/calendar/event/default/dentist.ics",
            &form.csrf_field(),
            &fields,
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    let ics = dav.get("dentist.ics").await.text().replace("\r\n ", "");
    for want in [
        "UID:client-event-1",
        "X-CLIENT-FLAG;X-P=1:keep me",
        "SUMMARY:Dentist (moved)",
        "DTSTART:20261126T100000Z",
        "SEQUENCE:1",
    ] {
        assert!(ics.contains(want), "{want} missing: {ics}");
    }
    assert!(!ics.contains("20261125T140000Z"), "{ics}");
}

#[tokio::test]
async fn a_stale_form_never_overwrites_a_caldav_change() {
    let srv = server().await;
    let mut dav = Dav::new(&srv, ALICE).await;
    dav.discover().await;
    assert_eq!(dav.put("dentist.ics", CLIENT_EVENT, &[]).await.status, 201);
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let form = b.get("/calendar/event/default/dentist.ics").await;
    let etag = field(&form.text(), "etag");
    // Meanwhile a phone changes the event.
    let changed = CLIENT_EVENT.replace("SUMMARY:Dentist", "SUMMARY:Dentist (phone)");
    assert_eq!(dav.put("dentist.ics", &changed, &[]).await.status, 204);
    let mut fields = event("Dentist (web)", "2026-11-25");
    fields.push(("etag", &etag));
    let r = b
        .post_with_csrf(
            "/calendar/event/default/dentist.ics",
            &form.csrf_field(),
            &fields,
        )
        .await;
    assert_eq!(r.status, 409, "{r}");
    let text = r.text();
    assert!(text.contains("changed elsewhere"), "{text}");
    // The typed values are still there, and a way to reload.
    assert!(text.contains("value=\"Dentist (web)\""), "{text}");
    assert!(text.contains("Reload the event"), "{text}");
    let ics = dav.get("dentist.ics").await.text();
    assert!(ics.contains("SUMMARY:Dentist (phone)"), "{ics}");
    // Deleting with the stale form is refused too.
    let r = b
        .post_with_csrf(
            "/calendar/event/default/dentist.ics/delete",
            &form.csrf_field(),
            &[("etag", &etag), ("scope", "series")],
        )
        .await;
    assert_eq!(r.status, 409, "{r}");
    assert_eq!(dav.get("dentist.ics").await.status, 200);
    // Deleted by the phone: the form says so, and stores nothing.
    assert_eq!(dav.delete("dentist.ics").await.status, 204);
    let r = b
        .post_with_csrf(
            "/calendar/event/default/dentist.ics",
            &form.csrf_field(),
            &fields,
        )
        .await;
    assert_eq!(r.status, 404, "{r}");
    assert!(r.text().contains("deleted in another window"), "{r}");
    assert!(objects(&srv, ALICE).is_empty());
}

#[tokio::test]
async fn deleting_the_series_or_one_occurrence() {
    let srv = server().await;
    let mut dav = Dav::new(&srv, ALICE).await;
    dav.discover().await;
    let daily = CLIENT_EVENT.replace(
        "SUMMARY:Dentist",
        "SUMMARY:Walk\r\nRRULE:FREQ=DAILY;COUNT=3",
    );
    assert_eq!(dav.put("walk.ics", &daily, &[]).await.status, 201);
    assert_eq!(
        dav.put(
            "dentist.ics",
            &CLIENT_EVENT.replace("client-event-1", "d-2"),
            &[]
        )
        .await
        .status,
        201
    );
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    // The second walk, 26 November 14:00 UTC.
    let at = "1795701600";
    let page = b
        .get(&format!("/calendar/event/default/walk.ics/delete?at={at}"))
        .await;
    assert_eq!(page.status, 200, "{page}");
    let text = page.text();
    assert!(
        text.contains("Only the occurrence of Thursday 26 November 2026 at 14:00"),
        "{text}"
    );
    let etag = field(&text, "etag");
    let r = b
        .post_with_csrf(
            "/calendar/event/default/walk.ics/delete",
            &page.csrf_field(),
            &[("etag", &etag), ("scope", "occurrence"), ("at", at)],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    let ics = dav.get("walk.ics").await.text();
    assert!(ics.contains("EXDATE:20261126T140000Z"), "{ics}");
    assert!(b
        .get("/calendar/day?date=2026-11-25")
        .await
        .text()
        .contains("Walk"));
    assert!(!b
        .get("/calendar/day?date=2026-11-26")
        .await
        .text()
        .contains("Walk"));
    assert!(b
        .get("/calendar/day?date=2026-11-27")
        .await
        .text()
        .contains("Walk"));

    let page = b.get("/calendar/event/default/dentist.ics/delete").await;
    let etag = field(&page.text(), "etag");
    let r = b
        .post_with_csrf(
            "/calendar/event/default/dentist.ics/delete",
            &page.csrf_field(),
            &[("etag", &etag), ("scope", "series")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(dav.get("dentist.ics").await.status, 404);
    assert!(!b
        .get("/calendar/day?date=2026-11-25")
        .await
        .text()
        .contains("Dentist"));
}

#[tokio::test]
async fn another_accounts_event_is_not_found() {
    let srv = server().await;
    let mut dav = Dav::new(&srv, BOB).await;
    dav.discover().await;
    assert_eq!(dav.put("secret.ics", CLIENT_EVENT, &[]).await.status, 201);
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let token = b.form_token("/calendar/new").await;
    for path in [
        "/calendar/event/default/secret.ics",
        "/calendar/event/default/secret.ics/delete",
        "/calendar/event/nothing/secret.ics",
        "/calendar/event/default/..%2F..%2Fsecret.ics",
    ] {
        assert_eq!(b.get(path).await.status, 404, "GET {path}");
        let r = b
            .post_with_csrf(path, &token, &[("etag", "\"x\""), ("scope", "series")])
            .await;
        assert_eq!(r.status, 404, "POST {path}");
    }
    assert!(!b
        .get("/calendar/week?date=2026-11-25")
        .await
        .text()
        .contains("Dentist"));
    assert_eq!(dav.get("secret.ics").await.status, 200);
}

#[tokio::test]
async fn forms_without_their_token_are_refused() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let r = b
        .post("/calendar/new", &event("Forged", "2026-11-24"))
        .await;
    assert_eq!(r.status, 403, "{r}");
    let r = b
        .post_with_csrf("/calendar/new", "00ff", &event("Forged", "2026-11-24"))
        .await;
    assert_eq!(r.status, 403, "{r}");
    assert!(objects(&srv, ALICE).is_empty());
    let r = b.post("/calendar/zone", &[("zone", "UTC")]).await;
    assert_eq!(r.status, 403, "{r}");
    // Without a session, the login page.
    let mut anon = Browser::open(&srv).await;
    assert_eq!(anon.get("/calendar").await.status, 303);
}

#[tokio::test]
async fn mistakes_come_back_with_the_typed_values() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let mut fields = event("Review", "2026-13-01");
    let r = b.submit("/calendar/new", "/calendar/new", &fields).await;
    assert_eq!(r.status, 400, "{r}");
    let text = r.text();
    assert!(text.contains("The start date is not a date"), "{text}");
    assert!(text.contains("value=\"Review\""), "{text}");
    assert!(text.contains("value=\"2026-13-01\""), "{text}");
    fields = event("Review", "2026-11-24");
    for (k, v) in fields.iter_mut() {
        if *k == "end_time" {
            *v = "09:00";
        }
    }
    let r = b.submit("/calendar/new", "/calendar/new", &fields).await;
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("ends before it starts"));
    fields = event("Review", "2026-11-24");
    fields.retain(|(k, _)| *k != "calendar");
    fields.push(("calendar", "someone-elses"));
    let r = b.submit("/calendar/new", "/calendar/new", &fields).await;
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("Choose a calendar"));
    assert!(objects(&srv, ALICE).is_empty());
}

#[tokio::test]
async fn an_event_moves_to_another_calendar_with_its_uid() {
    let srv = server().await;
    let mut dav = Dav::new(&srv, ALICE).await;
    dav.discover().await;
    let made = dav.mkcalendar("work").await;
    assert_eq!(made.status, 201, "{made}");
    assert_eq!(dav.put("dentist.ics", CLIENT_EVENT, &[]).await.status, 201);
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let form = b.get("/calendar/event/default/dentist.ics").await;
    let page = form.text();
    assert!(page.contains("<option value=\"work\""), "{page}");
    let etag = field(&page, "etag");
    let mut fields = event("Dentist", "2026-11-25");
    fields.retain(|(k, _)| *k != "calendar");
    fields.extend([("calendar", "work"), ("etag", &etag)]);
    let r = b
        .post_with_csrf(
            "/calendar/event/default/dentist.ics",
            &form.csrf_field(),
            &fields,
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(dav.get("dentist.ics").await.status, 404);
    let moved = dav.get_in("work", "dentist.ics").await;
    assert_eq!(moved.status, 200, "{moved}");
    assert!(moved.text().contains("UID:client-event-1"));
    assert!(b
        .get("/calendar/week?date=2026-11-25")
        .await
        .text()
        .contains("/calendar/event/work/dentist.ics"));
}

#[tokio::test]
async fn attendees_make_the_user_the_organizer() {
    let srv = server().await;
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let mut fields = event("Kick-off", "2026-11-24");
    fields.retain(|(k, _)| *k != "attendees");
    fields.push(("attendees", "Bob <bob@example.test>, carol@elsewhere.test"));
    let r = b.submit("/calendar/new", "/calendar/new", &fields).await;
    // The invitations' outcome is shown when they cannot be sent; the
    // event is stored either way.
    assert!(
        r.status == 303 || (r.status == 200 && r.text().contains("Saved, but")),
        "{r}"
    );
    let names = objects(&srv, ALICE);
    assert_eq!(names.len(), 1);
    let ics = Dav::new(&srv, ALICE)
        .await
        .get(&names[0])
        .await
        .text()
        .replace("\r\n ", "");
    for want in [
        "ORGANIZER:mailto:alice@example.test",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.test",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@elsewhere.test",
    ] {
        assert!(ics.contains(want), "{want} missing: {ics}");
    }
}
