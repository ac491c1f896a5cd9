//! CalDAV under hostile input and under load, over real TLS: XML bombs
//! and external entities (RFC 4918 §20.6), malformed XML and iCalendar,
//! bodies over the configured `[caldav] max_request_size`, many clients
//! writing one calendar at once, and many writers racing on one object
//! with If-Match (RFC 9110 §13.1.1). Whatever is refused leaves nothing
//! stored.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use postern_testkit::server::HOST;
use postern_testkit::{HttpResponse, TestServer, TestServerBuilder};

use super::caldav::{event, sync_body, Client, ALICE, CAL, PASSWORD};

/// Clients writing at once, and objects each writes.
const CLIENTS: usize = 20;
const PER_CLIENT: usize = 20;

/// The configured limit of the small-limit server: the least the
/// configuration takes.
const SMALL_LIMIT: usize = 65_536;

/// A server with alice's calendar made, allowing every client at once
/// (the test default is 8 connections per address).
async fn server_with(builder: TestServerBuilder) -> TestServer {
    let srv = builder
        .limit("https", "max_connections_per_ip = 64")
        .start()
        .await;
    srv.add_user(ALICE, PASSWORD);
    let mut c = alice(&srv).await;
    assert_eq!(c.send("MKCALENDAR", CAL, &[], "").await.status, 201);
    srv
}

async fn alice(srv: &TestServer) -> Client {
    Client::new(srv, Some((ALICE, PASSWORD))).await
}

/// The members a Depth 1 PROPFIND lists, by name, with their ETags.
async fn members(c: &mut Client) -> BTreeMap<String, String> {
    let r = c.propfind(CAL, "1", "<d:getetag/>").await;
    assert_eq!(r.status, 207, "{r}");
    hrefs_and_etags(&r)
}

/// (object name, ETag) of every response with a `getetag`.
fn hrefs_and_etags(r: &HttpResponse) -> BTreeMap<String, String> {
    let text = r.text();
    let mut out = BTreeMap::new();
    for response in text.split("<d:response>").skip(1) {
        let (Some(href), Some(etag)) = (
            between(response, "<d:href>", "</d:href>"),
            between(response, "<d:getetag>", "</d:getetag>"),
        ) else {
            continue;
        };
        let name = href.rsplit('/').next().unwrap_or_default().to_owned();
        let previous = out.insert(name, etag.replace("&quot;", "\""));
        assert!(previous.is_none(), "a member listed twice: {r}");
    }
    out
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

/// An event the PUTs below write; each has its own UID.
fn numbered(client: usize, n: usize) -> String {
    event(
        &format!("load-{client}-{n}@test"),
        &format!("Load {client}/{n}"),
        "DTSTART:20260401T090000Z\r\nDTEND:20260401T100000Z\r\n",
    )
}

/// Neither the password file nor an expansion came back: no line of
/// `/etc/passwd` (`root:x:0:0:...:/bin/...`), and no answer larger than
/// a short error (a billion laughs expands to gigabytes).
fn assert_no_leak(r: &HttpResponse) {
    let t = r.text();
    assert!(
        !t.contains("root:") && !t.contains(":/bin/") && t.len() < 4096,
        "file or entity content in an answer: {r}"
    );
}

/// RFC 4918 §20.6: a DOCTYPE is refused outright, so nested entities are
/// never expanded (the "billion laughs") and an external entity is never
/// fetched, whichever method carries the body.
#[tokio::test]
async fn xml_bombs_and_external_entities_are_refused_at_once() {
    let srv = server_with(TestServerBuilder::new()).await;
    let mut c = alice(&srv).await;
    let mut laughs = String::from("<!ENTITY lol \"lol\">");
    let mut previous = "lol".to_owned();
    for level in 1..10 {
        let name = format!("lol{level}");
        let refs = format!("&{previous};").repeat(10);
        laughs.push_str(&format!("<!ENTITY {name} \"{refs}\">"));
        previous = name;
    }
    let bomb = format!(
        r#"<?xml version="1.0"?><!DOCTYPE d:propfind [{laughs}]><d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&{previous};</d:displayname></d:prop></d:propfind>"#
    );
    let external = r#"<?xml version="1.0"?><!DOCTYPE d:propfind [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&xxe;</d:displayname></d:prop></d:propfind>"#;
    let set_name = r#"<?xml version="1.0"?><!DOCTYPE d:propertyupdate [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>&xxe;</d:displayname></d:prop></d:set></d:propertyupdate>"#;
    let report = r#"<?xml version="1.0"?><!DOCTYPE c:calendar-multiget [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><d:href>&xxe;</d:href></c:calendar-multiget>"#;
    let mkcal = r#"<?xml version="1.0"?><!DOCTYPE c:mkcalendar [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>&xxe;</d:displayname></d:prop></d:set></c:mkcalendar>"#;
    let other = "/dav/calendars/alice@example.test/other/";
    for (method, path, body) in [
        ("PROPFIND", CAL, bomb.as_str()),
        ("PROPFIND", CAL, external),
        ("PROPPATCH", CAL, set_name),
        ("REPORT", CAL, report),
        ("MKCALENDAR", other, mkcal),
    ] {
        let started = Instant::now();
        let r = c.send(method, path, &[("Depth", "0")], body).await;
        let took = started.elapsed();
        assert_eq!(r.status, 400, "{method}: {r}");
        assert!(took < Duration::from_secs(1), "{method} took {took:?}");
        assert_no_leak(&r);
    }
    // Nothing was set or made from them.
    let r = c.propfind(CAL, "0", "<d:displayname/>").await;
    assert_eq!(r.status, 207, "{r}");
    assert_no_leak(&r);
    assert_eq!(c.propfind(other, "0", "<d:displayname/>").await.status, 404);
}

#[tokio::test]
async fn malformed_xml_is_a_bad_request() {
    let srv = server_with(TestServerBuilder::new()).await;
    let mut c = alice(&srv).await;
    for body in [
        "<d:propfind xmlns:d=\"DAV:\"><d:prop>",
        "<d:propfind xmlns:d=\"DAV:\"><d:prop></d:propfind></d:prop>",
        "<d:propfind xmlns:d=\"DAV:\"></d:propfind><d:propfind xmlns:d=\"DAV:\"/>",
        "<x:propfind xmlns:d=\"DAV:\"/>",
        "not xml at all",
        "<d:propfind xmlns:d=\"DAV:\"><d:prop><d:getetag attr=unquoted/></d:prop></d:propfind>",
    ] {
        let r = c.send("PROPFIND", CAL, &[("Depth", "0")], body).await;
        assert_eq!(r.status, 400, "{body}: {r}");
    }
    // Bytes that are not UTF-8.
    let r = c
        .conn
        .request(
            "PROPFIND",
            CAL,
            HOST,
            &[
                ("Depth", "0"),
                ("Authorization", c.auth.as_deref().unwrap()),
            ],
            b"<d:propfind xmlns:d=\"DAV:\"><d:prop><d:\xff/></d:prop></d:propfind>",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{r}");
    for (method, body) in [
        (
            "REPORT",
            "<c:calendar-query xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><c:filter>",
        ),
        ("PROPPATCH", "<d:propertyupdate xmlns:d=\"DAV:\"><d:set>"),
    ] {
        let r = c.send(method, CAL, &[("Depth", "1")], body).await;
        assert_eq!(r.status, 400, "{method}: {r}");
    }
}

/// RFC 4791 §5.3.2.1: a body that is not one valid calendar object is
/// refused before anything is written.
#[tokio::test]
async fn invalid_icalendar_stores_nothing() {
    let srv = server_with(TestServerBuilder::new()).await;
    let mut c = alice(&srv).await;
    let ok = numbered(0, 0);
    assert_eq!(c.put(&format!("{CAL}ok.ics"), &[], &ok).await.status, 201);
    let before = members(&mut c).await;
    let two_uids = ok.replace(
        "END:VEVENT\r\n",
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:other@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260402T090000Z\r\nEND:VEVENT\r\n",
    );
    let bad = [
        String::new(),
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".to_owned(),
        ok.replace("END:VCALENDAR\r\n", ""),
        ok.replace("UID:load-0-0@test\r\n", ""),
        ok.replace("BEGIN:VEVENT", "BEGIN:VJOURNAL")
            .replace("END:VEVENT", "END:VJOURNAL"),
        two_uids,
        "\u{0}\u{1}binary".to_owned(),
    ];
    for (i, body) in bad.iter().enumerate() {
        let r = c.put(&format!("{CAL}bad{i}.ics"), &[], body).await;
        assert!((400..500).contains(&r.status), "case {i}: {r}");
    }
    // Replacing a good object with a bad one keeps the good one.
    let r = c
        .put(&format!("{CAL}ok.ics"), &[], "BEGIN:VCALENDAR\r\n")
        .await;
    assert!((400..500).contains(&r.status), "{r}");
    assert_eq!(members(&mut c).await, before);
}

/// Starts a PUT of `len` octets declared up front, and reads the answer
/// without sending the body: the limit is checked before any is read.
async fn declared_put(c: &mut Client, name: &str, len: usize) -> HttpResponse {
    let head = format!(
        "PUT {CAL}{name} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\nContent-Type: text/calendar\r\nContent-Length: {len}\r\n\r\n",
        c.auth.clone().unwrap()
    );
    c.conn.send_raw(head.as_bytes()).await.unwrap();
    c.conn.read_response(false).await.unwrap()
}

/// Sends `body` chunked (RFC 9112 §7.1) without the last chunk, as a
/// client streaming an upload does, and reads the answer. The server
/// must stop at the limit rather than wait for, or buffer, the rest.
async fn chunked_put(c: &mut Client, name: &str, body: &[u8]) -> HttpResponse {
    let mut bytes = format!(
        "PUT {CAL}{name} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\nContent-Type: text/calendar\r\nTransfer-Encoding: chunked\r\n\r\n",
        c.auth.clone().unwrap()
    )
    .into_bytes();
    for chunk in body.chunks(16 * 1024) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    c.conn.send_raw(&bytes).await.unwrap();
    c.conn.read_response(false).await.unwrap()
}

/// A valid event of at least `size` octets (padded with an X- property
/// per line, RFC 5545 §3.8.8.2).
fn padded_event(uid: &str, size: usize) -> String {
    let pad = format!("X-PAD:{}\r\n", "x".repeat(64));
    let lines = pad.repeat(size / pad.len() + 1);
    event(
        uid,
        "Padded",
        &format!("DTSTART:20260401T090000Z\r\nDTEND:20260401T100000Z\r\n{lines}"),
    )
}

/// `[caldav] max_request_size` is what the server enforces: a body just
/// over it is refused with 413, declared or chunked, and nothing is
/// stored; one under it goes in. (The default, 10 MiB, would take them
/// all.)
#[tokio::test]
async fn bodies_over_the_configured_limit_are_refused_and_store_nothing() {
    let builder =
        TestServerBuilder::new().toml(&format!("[caldav]\nmax_request_size = {SMALL_LIMIT}"));
    let srv = server_with(builder).await;
    let big = padded_event("big@test", SMALL_LIMIT + 1000);
    assert!(big.len() > SMALL_LIMIT && big.len() < 2 * SMALL_LIMIT);

    let mut c = alice(&srv).await;
    let r = declared_put(&mut c, "big.ics", big.len()).await;
    assert_eq!(r.status, 413, "{r}");
    assert!(r.text().contains("max_request_size"), "{r}");
    assert_eq!(r.header("connection"), Some("close"), "{r}");

    let mut c = alice(&srv).await;
    let r = chunked_put(&mut c, "big.ics", big.as_bytes()).await;
    assert_eq!(r.status, 413, "{r}");

    let mut c = alice(&srv).await;
    assert!(members(&mut c).await.is_empty());
    assert_eq!(
        c.send("GET", &format!("{CAL}big.ics"), &[], "")
            .await
            .status,
        404
    );

    let fits = padded_event("fits@test", SMALL_LIMIT - 2000);
    assert!(fits.len() <= SMALL_LIMIT);
    let r = c.put(&format!("{CAL}fits.ics"), &[], &fits).await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(members(&mut c).await.len(), 1);
}

/// Many clients, each on its own TLS connection, write distinct events
/// into one calendar at the same time: every one is there afterwards,
/// once, by PROPFIND, multiget and an initial sync, and each listed ETag
/// is the one GET gives.
#[tokio::test]
async fn concurrent_writers_lose_nothing() {
    let srv = server_with(TestServerBuilder::new()).await;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let mut c = alice(&srv).await;
        tasks.push(tokio::spawn(async move {
            let mut etags = Vec::new();
            for n in 0..PER_CLIENT {
                let name = format!("c{client}-{n}.ics");
                let r = c
                    .put(
                        &format!("{CAL}{name}"),
                        &[("If-None-Match", "*")],
                        &numbered(client, n),
                    )
                    .await;
                assert_eq!(r.status, 201, "{name}: {r}");
                etags.push((name, r.header("etag").expect("an ETag").to_owned()));
            }
            etags
        }));
    }
    let mut written = BTreeMap::new();
    for t in tasks {
        written.extend(t.await.expect("a writer"));
    }
    assert_eq!(written.len(), CLIENTS * PER_CLIENT);

    let mut c = alice(&srv).await;
    let listed = members(&mut c).await;
    assert_eq!(listed, written, "PROPFIND lists what was written");

    for (name, etag) in &listed {
        let r = c.send("GET", &format!("{CAL}{name}"), &[], "").await;
        assert_eq!(r.status, 200, "{name}: {r}");
        assert_eq!(r.header("etag"), Some(etag.as_str()), "{name}");
    }

    let hrefs: String = listed
        .keys()
        .map(|n| format!("<d:href>{CAL}{n}</d:href>"))
        .collect();
    let multiget = format!(
        r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>{hrefs}</c:calendar-multiget>"#
    );
    let r = c.report(CAL, &multiget).await;
    assert_eq!(r.status, 207, "{r}");
    assert_eq!(hrefs_and_etags(&r), written, "multiget");
    let text = r.text();
    for client in 0..CLIENTS {
        for n in 0..PER_CLIENT {
            let uid = format!("UID:load-{client}-{n}@test");
            assert_eq!(text.matches(&uid).count(), 1, "{uid}");
        }
    }

    let r = c.report(CAL, &sync_body("")).await;
    assert_eq!(r.status, 207, "{r}");
    assert_eq!(hrefs_and_etags(&r), written, "initial sync");
}

/// One attempt of a writer: the ETag it was based on, and the answer.
type Attempt = (String, u16, Option<String>);

/// Adds this writer's line to the object: read, change, write back with
/// If-Match, again on 412 until it lands. Returns every attempt.
async fn append_line(mut c: Client, path: String, writer: usize) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    loop {
        let r = c.send("GET", &path, &[], "").await;
        assert_eq!(r.status, 200, "{r}");
        let etag = r.header("etag").expect("an ETag").to_owned();
        let line = format!("X-WRITER-{writer}:done\r\n");
        let changed = r.text().replacen("SUMMARY:", &format!("{line}SUMMARY:"), 1);
        let w = c.put(&path, &[("If-Match", &etag)], &changed).await;
        attempts.push((etag, w.status, w.header("etag").map(str::to_owned)));
        match w.status {
            204 => return attempts,
            412 => continue,
            _ => panic!("writer {writer}: {w}"),
        }
    }
}

/// RFC 9110 §13.1.1: writers racing on one object with If-Match: for
/// each ETag exactly one write wins and the others get 412, so each
/// writer's change lands exactly once: nothing is lost, nothing doubled.
#[tokio::test]
async fn if_match_lets_exactly_one_writer_win_per_etag() {
    let srv = server_with(TestServerBuilder::new()).await;
    let path = format!("{CAL}shared.ics");
    let mut c = alice(&srv).await;
    let r = c.put(&path, &[], &numbered(99, 0)).await;
    assert_eq!(r.status, 201, "{r}");
    let first = r.header("etag").expect("an ETag").to_owned();

    let mut tasks = Vec::new();
    for writer in 0..CLIENTS {
        let c = alice(&srv).await;
        tasks.push(tokio::spawn(append_line(c, path.clone(), writer)));
    }
    let mut attempts = Vec::new();
    for t in tasks {
        attempts.extend(t.await.expect("a writer"));
    }

    let mut wins: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (based_on, status, new) in &attempts {
        if *status == 204 {
            let new = new.clone().expect("a winning PUT gives its ETag");
            wins.entry(based_on.clone()).or_default().push(new);
        }
    }
    assert_eq!(wins.len(), CLIENTS, "one win per writer: {wins:?}");
    assert!(
        wins.values().all(|w| w.len() == 1),
        "two wins on one ETag: {wins:?}"
    );
    // The wins form one chain from the first ETag: each was based on
    // the one before.
    let mut current = first;
    let mut seen = BTreeSet::new();
    while let Some(next) = wins.get(&current) {
        assert!(seen.insert(current.clone()), "a loop in the chain");
        current = next[0].clone();
    }
    assert_eq!(seen.len(), CLIENTS, "a broken chain: {wins:?}");

    let r = c.send("GET", &path, &[], "").await;
    assert_eq!(r.header("etag"), Some(current.as_str()));
    let text = r.text();
    for writer in 0..CLIENTS {
        let line = format!("X-WRITER-{writer}:done\r\n");
        assert_eq!(text.matches(&line).count(), 1, "writer {writer}:\n{text}");
    }
    assert_eq!(members(&mut c).await.len(), 1);
}
