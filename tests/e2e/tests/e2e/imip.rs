//! Invitations by mail (iMIP, RFC 6047) over real TLS, two local
//! accounts: alice's calendar client stores an event (CalDAV) and sends
//! its REQUEST (submission); bob opens it in the webmail and accepts: the
//! event is in his calendar and alice gets a REPLY, which updates her
//! event when she opens it. A forged reply cannot answer for another
//! attendee, an answer without the form token is refused, a CANCEL
//! removes the event, and a calendar part that is garbage shows no box.

use std::time::Duration;

use postern_message::Message;
use postern_testkit::server::HOST;
use postern_testkit::{Browser, HttpResponse, HttpsClient, TestServer};

use crate::smtp::{b64, eventually, logged_in, send_mail, ALICE, PASSWORD};

const BOB: &str = "bob@example.test";
const CAROL: &str = "carol@example.test";
const UID: &str = "planning-1@example.test";
const ALICE_EVENT: &str = "/dav/calendars/alice@example.test/default/planning.ics";
const BOB_EVENT: &str = "/dav/calendars/bob@example.test/default/planning-1@example.test.ics";

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    for user in [ALICE, BOB, CAROL] {
        srv.add_user(user, PASSWORD);
    }
    srv
}

/// The event alice organizes, bob and carol invited.
fn event(seq: u32, method: &str) -> String {
    let method = match method {
        "" => String::new(),
        m => format!("METHOD:{m}\r\n"),
    };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{method}BEGIN:VEVENT\r\nUID:{UID}\r\n\
DTSTAMP:20261101T000000Z\r\nSEQUENCE:{seq}\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n\
SUMMARY:Planning\r\nLOCATION:Room 4\r\nORGANIZER;CN=Alice:mailto:{ALICE}\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{BOB}\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{CAROL}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// An iMIP message (RFC 6047 §2.4) carrying `ical`.
fn imip_mail(from: &str, to: &str, subject: &str, method: &str, ical: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nSee the calendar part.\r\n--b\r\n\
Content-Type: text/calendar; charset=UTF-8; method={method}\r\n\r\n{ical}\r\n--b--\r\n"
    )
    .into_bytes()
}

/// `user` sends `raw` through submission, as their mail client does.
async fn submit(srv: &TestServer, user: &str, to: &str, raw: &[u8]) {
    let mut c = logged_in(srv, user).await;
    let reply = send_mail(&mut c, user, &[to], raw).await;
    assert!(reply.starts_with("250 "), "{}", c.transcript());
}

/// A CalDAV request with Basic credentials.
async fn dav(srv: &TestServer, user: &str, method: &str, path: &str, body: &str) -> HttpResponse {
    let mut conn = HttpsClient::connect(srv.addr("https"), HOST, srv.client_config(&[b"http/1.1"]))
        .await
        .unwrap();
    let auth = format!("Basic {}", b64(format!("{user}:{PASSWORD}").as_bytes()));
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "text/calendar; charset=utf-8"),
    ];
    conn.request(method, path, HOST, &headers, body.as_bytes())
        .await
        .unwrap()
}

/// Alice's calendar client: the event stored, then its REQUEST sent to
/// bob. Returns the UID of the message in bob's INBOX.
async fn alice_invites_bob(srv: &TestServer) -> u32 {
    let store = srv.server().store().clone();
    let alice = store.account(ALICE).unwrap().unwrap();
    store
        .create_calendar(alice.id, "default", "Calendar", &[])
        .unwrap();
    let r = dav(srv, ALICE, "PUT", ALICE_EVENT, &event(0, "")).await;
    assert_eq!(r.status, 201, "{r}");
    let raw = imip_mail(
        ALICE,
        BOB,
        "Invitation: Planning",
        "REQUEST",
        &event(0, "REQUEST"),
    );
    submit(srv, ALICE, BOB, &raw).await;
    let arrived = eventually(Duration::from_secs(5), || srv.inbox(BOB).len() == 1).await;
    assert!(arrived, "the invitation reaches bob");
    1
}

/// The PARTSTAT of `who` in an iCalendar text (unfolded).
fn partstat(ical: &str, who: &str) -> String {
    let unfolded = ical.replace("\r\n ", "");
    let line = unfolded
        .lines()
        .find(|l| {
            l.starts_with("ATTENDEE") && l.to_ascii_lowercase().contains(&format!("mailto:{who}"))
        })
        .unwrap_or_else(|| panic!("no ATTENDEE {who} in\n{ical}"));
    let at = line.find("PARTSTAT=").map_or("", |i| &line[i + 9..]);
    at.split([';', ':']).next().unwrap_or_default().to_owned()
}

/// The text/calendar part of a message, decoded.
fn calendar_of(raw: &[u8]) -> (String, String) {
    let msg = Message::parse(raw);
    let postern_message::Body::Multi { parts, .. } = msg.body() else {
        panic!("not multipart: {}", String::from_utf8_lossy(raw));
    };
    let n = parts
        .iter()
        .position(|p| matches!(p, postern_message::Body::Single(s) if s.subtype.eq_ignore_ascii_case("calendar")))
        .expect("a text/calendar part");
    let postern_message::Body::Single(s) = &parts[n] else {
        unreachable!("found as single above")
    };
    let method = s
        .params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("method"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let n = u32::try_from(n + 1).unwrap();
    let data = msg.binary(&[n]).unwrap();
    (method, String::from_utf8(data).unwrap())
}

#[tokio::test]
async fn bob_accepts_and_alices_event_learns_it_when_she_opens_the_reply() {
    let srv = server().await;
    let uid = alice_invites_bob(&srv).await;
    let page = format!("/mail/INBOX/{uid}");

    let mut bob = Browser::logged_in(&srv, BOB, PASSWORD).await;
    let read = bob.get(&page).await;
    assert_eq!(read.status, 200, "{read}");
    let text = read.text();
    assert!(text.contains("Invitation: Planning"), "{text}");
    assert!(text.contains("Room 4"), "{text}");
    assert!(text.contains("2026-12-01 10:00 – 11:00 UTC"), "{text}");
    assert!(
        text.contains(&format!("action=\"{page}/invitation\"")),
        "{text}"
    );
    assert!(text.contains("value=\"accept\""), "{text}");
    // Nothing is applied before bob answers.
    assert_eq!(dav(&srv, BOB, "GET", BOB_EVENT, "").await.status, 404);

    let r = bob
        .submit(
            &page,
            &format!("{page}/invitation"),
            &[("answer", "accept")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(r.header("location"), Some(page.as_str()));
    let got = dav(&srv, BOB, "GET", BOB_EVENT, "").await;
    assert_eq!(got.status, 200, "bob's calendar has the event: {got}");
    let ics = got.text();
    assert_eq!(partstat(&ics, BOB), "ACCEPTED", "{ics}");
    assert!(
        !ics.contains("METHOD"),
        "a stored object has no METHOD: {ics}"
    );
    let after = bob.get(&page).await.text();
    assert!(after.contains("In your calendar: you accepted."), "{after}");
    // Bob's line shows his answer, not the invitation's NEEDS-ACTION.
    assert!(
        after.contains(&format!("{BOB} <span class=\"muted\">accepted</span>")),
        "{after}"
    );

    // The REPLY reaches alice (RFC 6047 §2.4).
    let arrived = eventually(Duration::from_secs(5), || srv.inbox(ALICE).len() == 1).await;
    assert!(arrived, "the answer reaches alice");
    let raw = srv.inbox(ALICE).remove(0);
    let msg = Message::parse(&raw);
    assert_eq!(msg.header_text("Subject"), ["Accepted: Planning"]);
    assert_eq!(msg.raw_field("From").as_deref(), Some(BOB.as_bytes()));
    let (method, reply) = calendar_of(&raw);
    assert_eq!(method, "REPLY");
    assert!(reply.contains("METHOD:REPLY"), "{reply}");
    assert_eq!(partstat(&reply, BOB), "ACCEPTED");
    assert!(
        !reply.contains(CAROL),
        "a reply names its sender only: {reply}"
    );

    // Alice's event is unchanged until she opens the answer.
    let before = dav(&srv, ALICE, "GET", ALICE_EVENT, "").await.text();
    assert_eq!(partstat(&before, BOB), "NEEDS-ACTION");
    let mut alice = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let shown = alice.get("/mail/INBOX/1").await.text();
    assert!(
        shown.contains("Your calendar was updated: bob@example.test accepted."),
        "{shown}"
    );
    let after = dav(&srv, ALICE, "GET", ALICE_EVENT, "").await.text();
    assert_eq!(partstat(&after, BOB), "ACCEPTED", "{after}");
    assert_eq!(partstat(&after, CAROL), "NEEDS-ACTION", "{after}");
    let again = alice.get("/mail/INBOX/1").await.text();
    assert!(again.contains("Your calendar shows this answer"), "{again}");
}

#[tokio::test]
async fn a_reply_from_carol_cannot_answer_for_bob() {
    let srv = server().await;
    let store = srv.server().store().clone();
    let alice = store.account(ALICE).unwrap().unwrap();
    store
        .create_calendar(alice.id, "default", "Calendar", &[])
        .unwrap();
    assert_eq!(
        dav(&srv, ALICE, "PUT", ALICE_EVENT, &event(0, ""))
            .await
            .status,
        201
    );
    // Carol's mail says bob accepted.
    let forged = event(0, "REPLY")
        .replace(
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob",
            "PARTSTAT=ACCEPTED:mailto:bob",
        )
        .replace(
            &format!("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{CAROL}\r\n"),
            "",
        );
    submit(
        &srv,
        CAROL,
        ALICE,
        &imip_mail(CAROL, ALICE, "Accepted: Planning", "REPLY", &forged),
    )
    .await;
    assert!(eventually(Duration::from_secs(5), || srv.inbox(ALICE).len() == 1).await);
    let mut b = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let page = b.get("/mail/INBOX/1").await;
    assert_eq!(page.status, 200, "{page}");
    assert!(
        page.text().contains("Not applied to your calendar"),
        "{page}"
    );
    let stored = dav(&srv, ALICE, "GET", ALICE_EVENT, "").await.text();
    assert_eq!(partstat(&stored, BOB), "NEEDS-ACTION", "{stored}");
    assert_eq!(partstat(&stored, CAROL), "NEEDS-ACTION", "{stored}");
}

#[tokio::test]
async fn an_answer_without_the_form_token_is_refused() {
    let srv = server().await;
    let uid = alice_invites_bob(&srv).await;
    let mut bob = Browser::logged_in(&srv, BOB, PASSWORD).await;
    let action = format!("/mail/INBOX/{uid}/invitation");
    let r = bob.post(&action, &[("answer", "accept")]).await;
    assert_eq!(r.status, 403, "{r}");
    let r = bob
        .post_with_csrf(&action, "00ff", &[("answer", "accept")])
        .await;
    assert_eq!(r.status, 403, "{r}");
    assert_eq!(dav(&srv, BOB, "GET", BOB_EVENT, "").await.status, 404);
    assert!(srv.inbox(ALICE).is_empty(), "no reply was sent");
}

#[tokio::test]
async fn a_cancel_removes_the_event_when_bob_asks() {
    let srv = server().await;
    let uid = alice_invites_bob(&srv).await;
    let mut bob = Browser::logged_in(&srv, BOB, PASSWORD).await;
    let page = format!("/mail/INBOX/{uid}");
    let r = bob
        .submit(
            &page,
            &format!("{page}/invitation"),
            &[("answer", "tentative")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(dav(&srv, BOB, "GET", BOB_EVENT, "").await.status, 200);
    let cancel =
        event(1, "CANCEL").replace("SUMMARY:Planning", "SUMMARY:Planning\r\nSTATUS:CANCELLED");
    submit(
        &srv,
        ALICE,
        BOB,
        &imip_mail(ALICE, BOB, "Cancelled: Planning", "CANCEL", &cancel),
    )
    .await;
    assert!(eventually(Duration::from_secs(5), || srv.inbox(BOB).len() == 2).await);
    let shown = bob.get("/mail/INBOX/2").await.text();
    assert!(shown.contains("Cancellation: Planning"), "{shown}");
    assert!(shown.contains("value=\"remove\""), "{shown}");
    // Still there until bob chooses.
    assert_eq!(dav(&srv, BOB, "GET", BOB_EVENT, "").await.status, 200);
    let r = bob
        .submit(
            "/mail/INBOX/2",
            "/mail/INBOX/2/invitation",
            &[("answer", "remove")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert_eq!(dav(&srv, BOB, "GET", BOB_EVENT, "").await.status, 404);
}

#[tokio::test]
async fn a_garbage_calendar_part_shows_no_box() {
    let srv = server().await;
    for ical in [
        "this is not iCalendar".to_owned(),
        "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR"
            .to_owned(),
        // METHOD in the part differs from the Content-Type's.
        event(0, "CANCEL"),
    ] {
        let raw = imip_mail("someone@else.example", BOB, "Odd", "REQUEST", &ical);
        srv.deliver(BOB, &raw);
    }
    let mut bob = Browser::logged_in(&srv, BOB, PASSWORD).await;
    for n in 1..=3 {
        let page = bob.get(&format!("/mail/INBOX/{n}")).await;
        assert_eq!(page.status, 200, "{page}");
        let text = page.text();
        assert!(text.contains("See the calendar part."), "{text}");
        assert!(!text.contains("value=\"accept\""), "{text}");
        assert!(!text.contains("Invitation:"), "{text}");
    }
    let r = bob
        .submit(
            "/mail/INBOX/1",
            "/mail/INBOX/1/invitation",
            &[("answer", "accept")],
        )
        .await;
    assert_eq!(r.status, 400, "{r}");
}

/// The web calendar's event form for a one-hour UTC event, `attendees`
/// invited.
fn calendar_form<'a>(title: &'a str, attendees: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("title", title),
        ("location", "Room 4"),
        ("start_date", "2026-12-01"),
        ("start_time", "10:00"),
        ("end_date", "2026-12-01"),
        ("end_time", "11:00"),
        ("zone", "UTC"),
        ("repeat", "none"),
        ("interval", "1"),
        ("ends", "never"),
        ("reminder", "15"),
        ("reminder_unit", "minutes"),
        ("calendar", "default"),
        ("attendees", attendees),
        ("description", ""),
    ]
}

/// A hidden field's value on a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = page[start..].find('"').unwrap() + start;
    page[start..end]
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
}

#[tokio::test]
async fn the_organizers_calendar_sends_the_request_and_the_cancel() {
    let srv = server().await;
    let mut alice = Browser::logged_in(&srv, ALICE, PASSWORD).await;
    let r = alice
        .submit(
            "/calendar/new",
            "/calendar/new",
            &calendar_form("Budget", BOB),
        )
        .await;
    assert_eq!(
        r.status, 303,
        "the event is saved and the invitation sent: {r}"
    );
    assert!(eventually(Duration::from_secs(5), || srv.inbox(BOB).len() == 1).await);
    let raw = srv.inbox(BOB).remove(0);
    let msg = Message::parse(&raw);
    assert_eq!(msg.header_text("Subject"), ["Invitation: Budget"]);
    assert_eq!(msg.raw_field("From").as_deref(), Some(ALICE.as_bytes()));
    assert!(msg
        .main_text()
        .unwrap()
        .contains("When:  2026-12-01 10:00 – 11:00 UTC"));
    let (method, request) = calendar_of(&raw);
    assert_eq!(method, "REQUEST");
    assert!(request.contains("METHOD:REQUEST"), "{request}");
    assert!(
        !request.contains("VALARM"),
        "alice's reminder stays hers: {request}"
    );

    // Bob answers from the webmail; alice's event learns it.
    let mut bob = Browser::logged_in(&srv, BOB, PASSWORD).await;
    let r = bob
        .submit(
            "/mail/INBOX/1",
            "/mail/INBOX/1/invitation",
            &[("answer", "decline")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert!(eventually(Duration::from_secs(5), || srv.inbox(ALICE).len() == 1).await);
    let shown = alice.get("/mail/INBOX/1").await.text();
    assert!(
        shown.contains("Your calendar was updated: bob@example.test declined."),
        "{shown}"
    );

    // Deleting the event cancels it for bob, who removes it.
    let store = srv.server().store().clone();
    let account = store.account(ALICE).unwrap().unwrap();
    let cal = store.calendar(account.id, "default").unwrap().unwrap();
    let names: Vec<String> = store
        .calendar_objects(cal.id)
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names.len(), 1);
    let ics = store
        .calendar_object(cal.id, &names[0])
        .unwrap()
        .unwrap()
        .data;
    assert_eq!(partstat(&String::from_utf8(ics).unwrap(), BOB), "DECLINED");
    let delete = format!("/calendar/event/default/{}/delete", names[0]);
    let page = alice.get(&delete).await;
    assert_eq!(page.status, 200, "{page}");
    let etag = hidden(&page.text(), "etag");
    let r = alice
        .post_with_csrf(
            &delete,
            &page.csrf_field(),
            &[("etag", &etag), ("scope", "series")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    assert!(eventually(Duration::from_secs(5), || srv.inbox(BOB).len() == 2).await);
    let (method, cancel) = calendar_of(&srv.inbox(BOB)[1]);
    assert_eq!(method, "CANCEL");
    assert!(cancel.contains("STATUS:CANCELLED"), "{cancel}");
    let shown = bob.get("/mail/INBOX/2").await.text();
    assert!(shown.contains("Cancellation: Budget"), "{shown}");
    let r = bob
        .submit(
            "/mail/INBOX/2",
            "/mail/INBOX/2/invitation",
            &[("answer", "remove")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    let bob_id = store.account(BOB).unwrap().unwrap();
    let bob_cal = store.calendar(bob_id.id, "default").unwrap().unwrap();
    assert!(
        store.calendar_objects(bob_cal.id).unwrap().is_empty(),
        "removed from bob's calendar"
    );
}

#[tokio::test]
async fn an_update_replaces_the_accepted_event_and_an_old_one_cannot() {
    let srv = server().await;
    let uid = alice_invites_bob(&srv).await;
    let mut bob = Browser::logged_in(&srv, BOB, PASSWORD).await;
    let page = format!("/mail/INBOX/{uid}");
    let r = bob
        .submit(
            &page,
            &format!("{page}/invitation"),
            &[("answer", "accept")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    // Alice moves the meeting: SEQUENCE 1 (RFC 5546 §2.1.4).
    let moved = event(1, "REQUEST")
        .replace("T100000Z", "T150000Z")
        .replace("T110000Z", "T160000Z");
    submit(
        &srv,
        ALICE,
        BOB,
        &imip_mail(ALICE, BOB, "Invitation: Planning", "REQUEST", &moved),
    )
    .await;
    assert!(eventually(Duration::from_secs(5), || srv.inbox(BOB).len() == 2).await);
    let shown = bob.get("/mail/INBOX/2").await.text();
    assert!(
        shown
            .contains("This updates the event in your calendar (you accepted the earlier version)"),
        "{shown}"
    );
    let r = bob
        .submit(
            "/mail/INBOX/2",
            "/mail/INBOX/2/invitation",
            &[("answer", "accept")],
        )
        .await;
    assert_eq!(r.status, 303, "{r}");
    let ics = dav(&srv, BOB, "GET", BOB_EVENT, "").await.text();
    assert!(ics.contains("DTSTART:20261201T150000Z"), "{ics}");
    assert!(ics.contains("SEQUENCE:1"), "{ics}");
    // The first invitation is now out of date: no buttons, and a forced
    // answer changes nothing.
    let old = bob.get(&page).await.text();
    assert!(old.contains("newer version of this event"), "{old}");
    assert!(!old.contains("value=\"accept\""), "{old}");
    let token = bob.form_token("/mail/INBOX/2").await;
    let r = bob
        .post_with_csrf(
            &format!("{page}/invitation"),
            &token,
            &[("answer", "decline")],
        )
        .await;
    assert_eq!(r.status, 409, "{r}");
    let ics = dav(&srv, BOB, "GET", BOB_EVENT, "").await.text();
    assert!(ics.contains("DTSTART:20261201T150000Z"), "{ics}");
    assert_eq!(partstat(&ics, BOB), "ACCEPTED");
}
