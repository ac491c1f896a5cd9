//! CalDAV over real TLS (RFC 4791, RFC 4918, RFC 6578, RFC 6764): a
//! client discovers its calendars, creates one, writes, reads and deletes
//! events with ETags, queries by time range across a recurrence,
//! multigets and synchronises; bad input is refused and nothing else is
//! reachable for another account or without a login.

use postern_testkit::server::HOST;
use postern_testkit::{HttpResponse, HttpsClient, TestServer};

use crate::smtp::b64;

pub(super) const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
pub(super) const PASSWORD: &str = "correct horse battery";
const BOB_PASSWORD: &str = "battery staple horse";

pub(super) struct Client {
    pub(super) conn: HttpsClient,
    pub(super) auth: Option<String>,
}

impl Client {
    pub(super) async fn new(srv: &TestServer, creds: Option<(&str, &str)>) -> Self {
        let conn = HttpsClient::connect(srv.addr("https"), HOST, srv.client_config(&[b"http/1.1"]))
            .await
            .unwrap();
        let auth = creds.map(|(u, p)| format!("Basic {}", b64(format!("{u}:{p}").as_bytes())));
        Self { conn, auth }
    }

    pub(super) async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> HttpResponse {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(a) = &self.auth {
            all.push(("Authorization", a));
        }
        self.conn
            .request(method, path, HOST, &all, body.as_bytes())
            .await
            .unwrap()
    }

    pub(super) async fn propfind(&mut self, path: &str, depth: &str, props: &str) -> HttpResponse {
        let body = format!(
            r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" xmlns:ic="http://apple.com/ns/ical/"><d:prop>{props}</d:prop></d:propfind>"#
        );
        self.send("PROPFIND", path, &[("Depth", depth)], &body)
            .await
    }

    pub(super) async fn put(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        ics: &str,
    ) -> HttpResponse {
        let mut h = vec![("Content-Type", "text/calendar; charset=utf-8")];
        h.extend_from_slice(headers);
        self.send("PUT", path, &h, ics).await
    }

    pub(super) async fn report(&mut self, path: &str, body: &str) -> HttpResponse {
        self.send("REPORT", path, &[("Depth", "1")], body).await
    }
}

pub(super) const CAL: &str = "/dav/calendars/alice@example.test/work/";

pub(super) fn event(uid: &str, summary: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{extra}SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// Weekly on Mondays from 5 January 2026, ten times, without 19 January.
fn weekly() -> String {
    event(
        "weekly@test",
        "Standup",
        "DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\nEXDATE:20260119T100000Z\r\n",
    )
}

fn single() -> String {
    event(
        "single@test",
        "Dentist",
        "DTSTART:20260301T090000Z\r\nDTEND:20260301T100000Z\r\n",
    )
}

fn query(start: &str, end: &str) -> String {
    format!(
        r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="{start}" end="{end}"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#
    )
}

pub(super) fn sync_body(token: &str) -> String {
    format!(
        r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

/// The text of the first `<d:sync-token>` element.
pub(super) fn token_of(r: &HttpResponse) -> String {
    let t = r.text();
    let start = t.find("<d:sync-token>").expect("a sync-token") + "<d:sync-token>".len();
    let end = t[start..].find('<').unwrap() + start;
    t[start..end].to_owned()
}

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    srv.add_user(BOB, BOB_PASSWORD);
    srv
}

#[tokio::test]
async fn discovery_leads_from_the_well_known_uri_to_the_calendars() {
    let srv = server().await;
    let mut c = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    for method in ["GET", "PROPFIND"] {
        let r = c.send(method, "/.well-known/caldav", &[], "").await;
        assert_eq!(r.status, 301, "{r}");
        assert_eq!(r.header("location"), Some("/dav/"));
    }
    let r = c.send("OPTIONS", "/dav/", &[], "").await;
    assert_eq!(r.status, 200, "{r}");
    assert!(r.header("dav").unwrap().contains("calendar-access"), "{r}");

    let r = c
        .propfind("/dav/", "0", "<d:current-user-principal/>")
        .await;
    assert_eq!(r.status, 207, "{r}");
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/xml"));
    assert!(
        r.text()
            .contains("<d:href>/dav/principals/alice@example.test/</d:href>"),
        "{r}"
    );

    let r = c
        .propfind(
            "/dav/principals/alice@example.test/",
            "0",
            "<c:calendar-home-set/>",
        )
        .await;
    assert_eq!(r.status, 207, "{r}");
    assert!(
        r.text()
            .contains("<d:href>/dav/calendars/alice@example.test/</d:href>"),
        "{r}"
    );

    // A new account gets a default calendar when its home is listed.
    let r = c
        .propfind(
            "/dav/calendars/alice@example.test/",
            "1",
            "<d:resourcetype/><d:displayname/>",
        )
        .await;
    assert_eq!(r.status, 207, "{r}");
    assert!(
        r.text()
            .contains("/dav/calendars/alice@example.test/default/"),
        "{r}"
    );
    assert!(r.text().contains("<c:calendar/>"), "{r}");

    let r = c
        .propfind(
            "/dav/calendars/alice@example.test/",
            "infinity",
            "<d:resourcetype/>",
        )
        .await;
    assert_eq!(r.status, 403, "{r}");
    assert!(r.text().contains("propfind-finite-depth"), "{r}");
}

#[tokio::test]
async fn events_are_written_read_and_deleted_with_etags() {
    let srv = server().await;
    let mut c = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    let mk = r#"<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Work</d:displayname></d:prop></d:set></c:mkcalendar>"#;
    let r = c.send("MKCALENDAR", CAL, &[], mk).await;
    assert_eq!(r.status, 201, "{r}");
    let r = c.send("MKCALENDAR", CAL, &[], mk).await;
    assert_eq!(r.status, 405, "{r}");
    let r = c
        .propfind(CAL, "0", "<d:displayname/><d:sync-token/><cs:getctag/>")
        .await;
    assert_eq!(r.status, 207, "{r}");
    assert!(
        r.text().contains("<d:displayname>Work</d:displayname>"),
        "{r}"
    );

    let patch = r#"<d:propertyupdate xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:ic="http://apple.com/ns/ical/"><d:set><d:prop><d:displayname>Office</d:displayname><ic:calendar-color>#336699</ic:calendar-color></d:prop></d:set></d:propertyupdate>"#;
    let r = c.send("PROPPATCH", CAL, &[], patch).await;
    assert_eq!(r.status, 207, "{r}");
    assert!(r.text().contains("HTTP/1.1 200"), "{r}");
    // All or nothing (RFC 4918 §9.2): a property we cannot set fails the
    // others too.
    let patch = r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Never</d:displayname><d:getetag>x</d:getetag></d:prop></d:set></d:propertyupdate>"#;
    let r = c.send("PROPPATCH", CAL, &[], patch).await;
    assert!(
        r.text().contains("HTTP/1.1 403") && r.text().contains("HTTP/1.1 424"),
        "{r}"
    );
    let r = c
        .propfind(CAL, "0", "<d:displayname/><ic:calendar-color/>")
        .await;
    assert!(
        r.text().contains("<d:displayname>Office</d:displayname>"),
        "{r}"
    );
    assert!(r.text().contains("#336699"), "{r}");

    let path = format!("{CAL}single.ics");
    let r = c.put(&path, &[("If-None-Match", "*")], &single()).await;
    assert_eq!(r.status, 201, "{r}");
    let etag = r.header("etag").expect("an ETag").to_owned();
    assert!(etag.starts_with('"'), "{etag}");
    let r = c.send("HEAD", &path, &[], "").await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = c.propfind(CAL, "1", "<d:getetag/>").await;
    let listed = format!("<d:getetag>{}</d:getetag>", etag.replace('"', "&quot;"));
    assert!(r.text().contains(&listed), "{r}");

    let r = c.send("GET", &path, &[], "").await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/calendar"));
    assert_eq!(r.text(), single());

    // RFC 9110 §13.1: creating over an existing resource, or replacing
    // one that changed since, fails.
    let r = c.put(&path, &[("If-None-Match", "*")], &single()).await;
    assert_eq!(r.status, 412, "{r}");
    let changed = single().replace("Dentist", "Dentist, moved");
    let r = c.put(&path, &[("If-Match", &etag)], &changed).await;
    assert_eq!(r.status, 204, "{r}");
    let new_etag = r.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let r = c.put(&path, &[("If-Match", &etag)], &single()).await;
    assert_eq!(r.status, 412, "{r}");
    let r = c.send("DELETE", &path, &[("If-Match", &etag)], "").await;
    assert_eq!(r.status, 412, "{r}");

    // Another resource with the same UID is a conflict naming the first.
    let r = c.put(&format!("{CAL}other.ics"), &[], &single()).await;
    assert_eq!(r.status, 403, "{r}");
    assert!(
        r.text().contains("no-uid-conflict") && r.text().contains("single.ics"),
        "{r}"
    );

    let r = c
        .send("DELETE", &path, &[("If-Match", &new_etag)], "")
        .await;
    assert_eq!(r.status, 204, "{r}");
    let r = c.send("GET", &path, &[], "").await;
    assert_eq!(r.status, 404, "{r}");
}

#[tokio::test]
async fn invalid_icalendar_is_refused_and_nothing_is_stored() {
    let srv = server().await;
    let mut c = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    assert_eq!(c.send("MKCALENDAR", CAL, &[], "").await.status, 201);
    let path = format!("{CAL}bad.ics");
    for bad in [
        "not a calendar",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
    ] {
        let r = c.put(&path, &[], bad).await;
        assert_eq!(r.status, 403, "{r}");
        assert!(r.text().contains("valid-calendar"), "{r}");
    }
    assert_eq!(c.send("GET", &path, &[], "").await.status, 404);
    let r = c.propfind(CAL, "1", "<d:getetag/>").await;
    assert!(!r.text().contains("bad.ics"), "{r}");

    let doctype = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>"#;
    let r = c.send("PROPFIND", CAL, &[("Depth", "0")], doctype).await;
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("DOCTYPE"), "{r}");
}

#[tokio::test]
async fn reports_query_by_time_multiget_and_sync() {
    let srv = server().await;
    let mut c = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    assert_eq!(c.send("MKCALENDAR", CAL, &[], "").await.status, 201);
    let r = c.report(CAL, &sync_body("")).await;
    assert_eq!(r.status, 207, "{r}");
    let initial = token_of(&r);

    assert_eq!(
        c.put(&format!("{CAL}weekly.ics"), &[], &weekly())
            .await
            .status,
        201
    );
    assert_eq!(
        c.put(&format!("{CAL}single.ics"), &[], &single())
            .await
            .status,
        201
    );

    // 26 January is an instance of the weekly event; 19 January was
    // excluded; 1 March is the single event's day, after the tenth week.
    let r = c
        .report(CAL, &query("20260126T000000Z", "20260127T000000Z"))
        .await;
    assert_eq!(r.status, 207, "{r}");
    assert!(
        r.text().contains("weekly.ics") && !r.text().contains("single.ics"),
        "{r}"
    );
    let r = c
        .report(CAL, &query("20260119T000000Z", "20260120T000000Z"))
        .await;
    assert_eq!(r.status, 207, "{r}");
    assert!(
        !r.text().contains("weekly.ics") && !r.text().contains("single.ics"),
        "{r}"
    );
    let r = c
        .report(CAL, &query("20260301T000000Z", "20260302T000000Z"))
        .await;
    assert!(
        r.text().contains("single.ics") && !r.text().contains("weekly.ics"),
        "{r}"
    );

    let multiget = format!(
        r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop><d:href>{CAL}single.ics</d:href><d:href>{CAL}missing.ics</d:href></c:calendar-multiget>"#
    );
    let r = c.report(CAL, &multiget).await;
    assert_eq!(r.status, 207, "{r}");
    let t = r.text();
    assert!(t.contains("SUMMARY:Dentist"), "{r}");
    assert!(
        t.contains("missing.ics</d:href><d:status>HTTP/1.1 404"),
        "{r}"
    );

    let r = c.report(CAL, &sync_body(&initial)).await;
    assert_eq!(r.status, 207, "{r}");
    assert!(
        r.text().contains("weekly.ics") && r.text().contains("single.ics"),
        "{r}"
    );
    let after_puts = token_of(&r);
    assert_ne!(after_puts, initial);

    assert_eq!(
        c.send("DELETE", &format!("{CAL}weekly.ics"), &[], "")
            .await
            .status,
        204
    );
    let changed = single().replace("Dentist", "Dentist, moved");
    assert_eq!(
        c.put(&format!("{CAL}single.ics"), &[], &changed)
            .await
            .status,
        204
    );
    let r = c.report(CAL, &sync_body(&after_puts)).await;
    assert_eq!(r.status, 207, "{r}");
    let t = r.text();
    assert!(
        t.contains("weekly.ics</d:href><d:status>HTTP/1.1 404"),
        "{r}"
    );
    assert!(t.contains("single.ics</d:href><d:propstat>"), "{r}");

    for bad in ["https://postern/sync/999999", "urn:nonsense"] {
        let r = c.report(CAL, &sync_body(bad)).await;
        assert_eq!(r.status, 403, "{r}");
        assert!(r.text().contains("valid-sync-token"), "{r}");
    }
}

#[tokio::test]
async fn other_accounts_and_strangers_reach_nothing() {
    let srv = server().await;
    let mut alice = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    assert_eq!(alice.send("MKCALENDAR", CAL, &[], "").await.status, 201);
    let obj = format!("{CAL}single.ics");
    assert_eq!(alice.put(&obj, &[], &single()).await.status, 201);

    let mut bob = Client::new(&srv, Some((BOB, BOB_PASSWORD))).await;
    let home = "/dav/calendars/alice@example.test/";
    let principal = "/dav/principals/alice@example.test/";
    for (method, path, body) in [
        ("PROPFIND", principal, String::new()),
        ("PROPFIND", home, String::new()),
        ("PROPFIND", CAL, String::new()),
        ("PROPFIND", obj.as_str(), String::new()),
        ("GET", obj.as_str(), String::new()),
        ("PUT", obj.as_str(), single()),
        ("DELETE", obj.as_str(), String::new()),
        ("DELETE", CAL, String::new()),
        (
            "MKCALENDAR",
            "/dav/calendars/alice@example.test/new/",
            String::new(),
        ),
        ("PROPPATCH", CAL, String::new()),
        ("REPORT", CAL, sync_body("")),
        ("OPTIONS", CAL, String::new()),
    ] {
        let r = bob.send(method, path, &[("Depth", "0")], &body).await;
        assert_eq!(r.status, 404, "{method} {path}: {r}");
    }
    // Alice's things are untouched.
    let r = alice.send("GET", &obj, &[], "").await;
    assert_eq!(r.status, 200, "{r}");

    let mut nobody = Client::new(&srv, None).await;
    let r = nobody
        .propfind("/dav/", "0", "<d:current-user-principal/>")
        .await;
    assert_eq!(r.status, 401, "{r}");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"Postern\", charset=\"UTF-8\"")
    );
    let mut wrong = Client::new(&srv, Some((ALICE, "wrong password"))).await;
    let r = wrong.send("GET", &obj, &[], "").await;
    assert_eq!(r.status, 401, "{r}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_it_is_read() {
    let srv = server().await;
    let mut c = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    let head = format!(
        "PUT {CAL}big.ics HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\nContent-Length: 20000000\r\n\r\n",
        c.auth.clone().unwrap()
    );
    c.conn.send_raw(head.as_bytes()).await.unwrap();
    let r = c.conn.read_response(false).await.unwrap();
    assert_eq!(r.status, 413, "{r}");
}

/// A client given the bare server URL starts with a PROPFIND of `/`; and
/// an answer given before the body is used (401, the redirects, another
/// account's 404) reads the body first, so the kept-alive connection
/// still serves the next request.
#[tokio::test]
async fn early_answers_keep_the_connection_and_the_root_redirects() {
    let srv = server().await;
    let body = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>"#;
    let mut anonymous = Client::new(&srv, None).await;
    for path in ["/", "/.well-known/caldav", "/dav/"] {
        let r = anonymous
            .send("PROPFIND", path, &[("Depth", "0")], body)
            .await;
        let expected = if path == "/dav/" { 401 } else { 301 };
        assert_eq!(r.status, expected, "{path}: {r}");
        if expected == 301 {
            assert_eq!(r.header("location"), Some("/dav/"), "{path}");
        }
        assert_ne!(r.header("connection"), Some("close"), "{path}: {r}");
    }
    let mut bob = Client::new(&srv, Some((BOB, BOB_PASSWORD))).await;
    let r = bob
        .send(
            "PROPFIND",
            "/dav/calendars/alice@example.test/",
            &[("Depth", "0")],
            body,
        )
        .await;
    assert_eq!(r.status, 404, "{r}");
    // The same connection goes on.
    let r = bob
        .send(
            "PROPFIND",
            "/dav/calendars/bob@example.test/",
            &[("Depth", "0")],
            body,
        )
        .await;
    assert_eq!(r.status, 207, "{r}");
}

/// RFC 3744 §5.4: the user's own calendars say they are writable (some
/// clients show a calendar without `write-content` as read-only), the
/// home lets calendars be made in it, and the principal is read-only.
#[tokio::test]
async fn privileges_say_what_the_user_may_do() {
    let srv = server().await;
    let mut c = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    assert_eq!(c.send("MKCALENDAR", CAL, &[], "").await.status, 201);
    assert_eq!(
        c.put(&format!("{CAL}single.ics"), &[], &single())
            .await
            .status,
        201
    );
    let privilege = |p: &str| format!("<d:privilege><d:{p}/></d:privilege>");
    let r = c
        .propfind(CAL, "1", "<d:current-user-privilege-set/>")
        .await;
    assert_eq!(r.status, 207, "{r}");
    let t = r.text();
    let (calendar, object) = t.split_at(t.find("single.ics").expect("the object"));
    for p in ["read", "write", "write-content", "bind", "unbind"] {
        assert!(calendar.contains(&privilege(p)), "calendar lacks {p}: {r}");
    }
    assert!(object.contains(&privilege("write-content")), "{r}");
    assert!(!object.contains(&privilege("bind")), "{r}");
    // RFC 3744 §5: allprop leaves it out unless it is included.
    let allprop = r#"<d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>"#;
    let r = c.send("PROPFIND", CAL, &[("Depth", "0")], allprop).await;
    assert!(r.text().contains("<d:displayname>"), "{r}");
    assert!(!r.text().contains("current-user-privilege-set"), "{r}");
    let include = r#"<d:propfind xmlns:d="DAV:"><d:allprop/><d:include><d:current-user-privilege-set/></d:include></d:propfind>"#;
    let r = c.send("PROPFIND", CAL, &[("Depth", "0")], include).await;
    assert!(r.text().contains(&privilege("write")), "{r}");

    let home = "/dav/calendars/alice@example.test/";
    let r = c
        .propfind(home, "0", "<d:current-user-privilege-set/>")
        .await;
    assert!(r.text().contains(&privilege("bind")), "{r}");
    let r = c
        .propfind(
            "/dav/principals/alice@example.test/",
            "0",
            "<d:current-user-privilege-set/>",
        )
        .await;
    assert!(r.text().contains(&privilege("read")), "{r}");
    assert!(!r.text().contains("write"), "{r}");
}

/// RFC 4791 §5.3.1 and §5.2.3: a calendar made for to-dos only keeps to
/// them, and says so; a PUT of an event there is refused with
/// supported-calendar-component (§5.3.2.1).
#[tokio::test]
async fn a_calendar_takes_only_the_components_it_was_made_for() {
    let srv = server().await;
    let mut c = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    let tasks = "/dav/calendars/alice@example.test/tasks/";
    let mk = r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Tasks</D:displayname><C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#;
    let r = c.send("MKCALENDAR", tasks, &[], mk).await;
    assert_eq!(r.status, 201, "{r}");
    let r = c
        .propfind(tasks, "0", "<c:supported-calendar-component-set/>")
        .await;
    let t = r.text();
    assert!(t.contains("name=\"VTODO\"") && !t.contains("VEVENT"), "{r}");

    let r = c.put(&format!("{tasks}e.ics"), &[], &single()).await;
    assert_eq!(r.status, 403, "{r}");
    assert!(r.text().contains("supported-calendar-component"), "{r}");
    let todo = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:todo@test\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Buy milk\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    let r = c.put(&format!("{tasks}t.ics"), &[], todo).await;
    assert_eq!(r.status, 201, "{r}");
    let r = c.propfind(tasks, "1", "<d:getetag/>").await;
    assert!(
        r.text().contains("t.ics") && !r.text().contains("e.ics"),
        "{r}"
    );

    // A kind we do not store: refused, and no calendar made.
    let journal = "/dav/calendars/alice@example.test/journal/";
    let r = c
        .send("MKCALENDAR", journal, &[], &mk.replace("VTODO", "VJOURNAL"))
        .await;
    assert_eq!(r.status, 403, "{r}");
    assert!(r.text().contains("supported-calendar-component"), "{r}");
    assert_eq!(c.propfind(journal, "0", "<d:getetag/>").await.status, 404);
}

/// RFC 4791 §5.3.1: a MKCALENDAR whose properties cannot all be set
/// leaves no calendar behind, so the client can simply try again.
#[tokio::test]
async fn a_mkcalendar_with_a_refused_property_makes_nothing() {
    let srv = server().await;
    let mut c = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    let color = "#".repeat(5000);
    let mk = format!(
        r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop><D:displayname>Work</D:displayname><A:calendar-color>{color}</A:calendar-color></D:prop></D:set></C:mkcalendar>"#
    );
    let r = c.send("MKCALENDAR", CAL, &[], &mk).await;
    assert_eq!(r.status, 403, "{r}");
    assert_eq!(c.propfind(CAL, "0", "<d:getetag/>").await.status, 404);
    // The same request with a color the store takes succeeds.
    let r = c
        .send("MKCALENDAR", CAL, &[], &mk.replace(&color, "#FF0000FF"))
        .await;
    assert_eq!(r.status, 201, "{r}");
    let r = c.propfind(CAL, "0", "<ic:calendar-color/>").await;
    assert!(r.text().contains("#FF0000FF"), "{r}");
}

/// RFC 5689: an extended MKCOL asking for a calendar makes one, with its
/// properties and component kinds, as vdirsyncer and others do; a MKCOL
/// for any other collection is refused with the reason (we hold
/// calendars only) and makes nothing; OPTIONS lists the method.
#[tokio::test]
async fn extended_mkcol_makes_calendars_and_nothing_else() {
    let srv = server().await;
    let mut c = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    let r = c.send("OPTIONS", CAL, &[], "").await;
    let allow = r.header("allow").unwrap_or_default().to_owned();
    assert!(allow.split(", ").any(|m| m == "MKCOL"), "{r}");

    let mkcol = |resourcetype: &str, more: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:resourcetype>{resourcetype}</D:resourcetype>{more}</D:prop></D:set></D:mkcol>"#
        )
    };
    let calendar = "<D:collection/><C:calendar/>";
    let tasks = "<D:displayname>Tasks</D:displayname><C:supported-calendar-component-set><C:comp name=\"VTODO\"/></C:supported-calendar-component-set>";
    let r = c.send("MKCOL", CAL, &[], &mkcol(calendar, tasks)).await;
    assert_eq!(r.status, 201, "{r}");
    let r = c
        .propfind(
            CAL,
            "0",
            "<d:resourcetype/><d:displayname/><c:supported-calendar-component-set/>",
        )
        .await;
    let t = r.text();
    assert!(t.contains("<c:calendar/>") && t.contains(">Tasks<"), "{r}");
    assert!(t.contains("name=\"VTODO\"") && !t.contains("VEVENT"), "{r}");
    // RFC 4918 §9.3.1: on an existing resource.
    let r = c.send("MKCOL", CAL, &[], &mkcol(calendar, "")).await;
    assert_eq!(r.status, 405, "{r}");

    // A plain collection, with or without a body: refused, nothing made.
    let other = "/dav/calendars/alice@example.test/files/";
    let r = c
        .send("MKCOL", other, &[], &mkcol("<D:collection/>", tasks))
        .await;
    assert_eq!(r.status, 403, "{r}");
    let t = r.text();
    assert!(t.contains("<d:mkcol-response"), "{r}");
    assert!(
        t.contains("<d:resourcetype/></d:prop><d:status>HTTP/1.1 403 Forbidden"),
        "{r}"
    );
    assert!(t.contains("calendar collections only"), "{r}");
    let r = c.send("MKCOL", other, &[], "").await;
    assert_eq!(r.status, 403, "{r}");
    assert!(r.text().contains("calendar collections only"), "{r}");
    // A kind we do not store: the component set is at fault.
    let journal = tasks.replace("VTODO", "VJOURNAL");
    let r = c
        .send("MKCOL", other, &[], &mkcol(calendar, &journal))
        .await;
    assert_eq!(r.status, 403, "{r}");
    assert!(
        r.text()
            .contains("<c:supported-calendar-component-set/></d:prop><d:status>HTTP/1.1 403"),
        "{r}"
    );
    assert_eq!(c.propfind(other, "0", "<d:getetag/>").await.status, 404);
    // Nowhere but right in the home (RFC 4791 §5.3.1.1 likewise).
    let nested = format!("{CAL}inner/");
    let r = c.send("MKCOL", &nested, &[], &mkcol(calendar, "")).await;
    assert_ne!(r.status, 201, "{r}");
}

/// RFC 4791 §9.6.5: with `<c:expand>`, each answer's calendar data is the
/// recurrence spelled out over the range, in UTC, one component per
/// instance with its RECURRENCE-ID; the ETag stays the stored object's.
#[tokio::test]
async fn expand_spells_out_the_instances_in_utc() {
    let srv = server().await;
    let mut c = Client::new(&srv, Some((ALICE, PASSWORD))).await;
    assert_eq!(c.send("MKCALENDAR", CAL, &[], "").await.status, 201);
    // Weekly in Berlin over the spring change of offset (29 March 2026),
    // one week excluded, one moved: 16, 23 March at 09:00Z, 30 March at
    // 08:00Z moved to 31 March 12:00Z, 6 April excluded, 13 April 08:00Z.
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n\
BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:berlin@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260316T100000\r\n\
DTEND;TZID=Europe/Berlin:20260316T110000\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\nEXDATE;TZID=Europe/Berlin:20260406T100000\r\nSUMMARY:Review\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:berlin@test\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260330T100000\r\n\
DTSTART;TZID=Europe/Berlin:20260331T140000\r\nDTEND;TZID=Europe/Berlin:20260331T150000\r\nSUMMARY:Review (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let put = c.put(&format!("{CAL}berlin.ics"), &[], ics).await;
    assert_eq!(put.status, 201, "{put}");
    let etag = put.header("etag").expect("an ETag").to_owned();

    let body = r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data><c:expand start="20260301T000000Z" end="20260501T000000Z"/></c:calendar-data></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20260301T000000Z" end="20260501T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#;
    let r = c.report(CAL, body).await;
    assert_eq!(r.status, 207, "{r}");
    let t = r.text().replace("&#13;", "");
    assert!(
        t.contains(&etag.replace('"', "&quot;")) || t.contains(&etag),
        "{r}"
    );
    let starts: Vec<&str> = t
        .lines()
        .filter_map(|l| l.strip_prefix("DTSTART:"))
        .collect();
    assert_eq!(
        starts,
        [
            "20260316T090000Z",
            "20260323T090000Z",
            "20260331T120000Z",
            "20260413T080000Z"
        ],
        "{t}"
    );
    assert_eq!(t.matches("RECURRENCE-ID").count(), 4, "{t}");
    assert!(t.contains("RECURRENCE-ID:20260330T080000Z"), "{t}");
    assert!(t.contains("SUMMARY:Review (moved)"), "{t}");
    for gone in ["RRULE", "EXDATE", "VTIMEZONE", "TZID"] {
        assert!(!t.contains(gone), "{gone} left in {t}");
    }

    // The same through a multiget, over one month: only the March ones.
    let body = format!(
        r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data><c:expand start="20260301T000000Z" end="20260401T000000Z"/></c:calendar-data></d:prop><d:href>{CAL}berlin.ics</d:href></c:calendar-multiget>"#
    );
    let r = c.report(CAL, &body).await;
    assert_eq!(r.status, 207, "{r}");
    assert_eq!(r.text().matches("BEGIN:VEVENT").count(), 3, "{r}");

    // Without expand the stored object comes back as it is.
    let body = format!(
        r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop><d:href>{CAL}berlin.ics</d:href></c:calendar-multiget>"#
    );
    let r = c.report(CAL, &body).await;
    assert!(r.text().contains("RRULE:FREQ=WEEKLY;COUNT=5"), "{r}");
}
