//! RFC 9051 §6.4.5 and §7.5.2 (RFC 3501 §6.4.5 and §7.4.2): FETCH of
//! the structure, the envelope, sizes, dates and body sections.

use crate::body::Body;
use crate::helpers::{cmd, login, with_mail, Client, ALICE, NESTED};
use crate::wire::{date_time, fetch_of, parse_one, Fetch};

/// The octets between `from` (included) and `to` (excluded) in NESTED:
/// a part's body as RFC 2046 §5.1.1 delimits it (the CRLF before a
/// boundary belongs to the boundary).
fn between(from: &str, to: &str) -> &'static str {
    let start = NESTED.find(from).expect("start marker");
    let end = start + NESTED[start..].find(to).expect("end marker");
    &NESTED[start..end]
}

/// `body-fld-lines`: the text lines of a body, a last line without CRLF
/// included.
fn lines(body: &str) -> usize {
    body.matches("\r\n").count() + usize::from(!body.is_empty() && !body.ends_with("\r\n"))
}

/// A session with NESTED as message 3 of the selected INBOX.
async fn nested() -> (postern_testkit::TestServer, Client) {
    let srv = with_mail().await;
    srv.deliver(ALICE, NESTED.as_bytes());
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    (srv, c)
}

async fn fetch3(c: &mut Client, items: &str) -> Fetch {
    let f = cmd(c, &format!("f FETCH 3 ({items})")).await;
    fetch_of(&f, 3)
}

/// RFC 9051 §7.5.2 (RFC 3501 §7.4.2): BODYSTRUCTURE of a multipart/mixed
/// holding a multipart/alternative and a message/rfc822 with its own
/// multipart: each part's type, parameters, id, description, encoding and
/// size; lines for text; the envelope, body and lines of the message; and
/// the extension data: MD5, disposition, language and location, on single
/// parts and multiparts alike.
#[tokio::test]
async fn rfc9051_7_5_2_bodystructure_nested_multipart() {
    let (_srv, mut c) = nested().await;
    let qp = between("caf=C3=A9", "\r\n--alt\r\n");
    let html = between("PHA+", "\r\n--alt--");
    let inner = between("From: Erin", "\r\n--outer--");
    let expected = format!(
        "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" {} {} NIL NIL NIL NIL)\
(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"base64\" {} {} NIL NIL NIL NIL) \
\"alternative\" (\"boundary\" \"alt\") NIL NIL NIL)\
(\"message\" \"rfc822\" NIL NIL \"forwarded\" \"7bit\" {} \
(\"Mon, 1 Jan 2024 09:00:00 +0100\" \"inner\" ((\"Erin\" NIL \"erin\" \"example.test\")) \
((\"Erin\" NIL \"erin\" \"example.test\")) ((\"Erin\" NIL \"erin\" \"example.test\")) NIL NIL NIL NIL NIL) \
((\"text\" \"plain\" NIL NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL)\
(\"application\" \"pdf\" (\"name\" \"a.pdf\") \"<pdf@example.test>\" NIL \"base64\" 12 \
\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"inline\" (\"filename\" \"a.pdf\")) NIL NIL) \
\"mixed\" (\"boundary\" \"in\") NIL NIL NIL) {} \
NIL (\"attachment\" (\"filename\" \"fwd.eml\")) (\"en\" \"de\") \"http://example.test/fwd\") \
\"mixed\" (\"boundary\" \"outer\") NIL \"en\" NIL)",
        qp.len(),
        lines(qp),
        html.len(),
        lines(html),
        inner.len(),
        lines(inner),
    );
    let f = fetch3(&mut c, "BODYSTRUCTURE").await;
    let got = Body::read(f.item("BODYSTRUCTURE")).unwrap_or_else(|e| panic!("{e}"));
    let want = Body::read(&parse_one(&expected)).unwrap();
    assert_eq!(got, want, "{f:?}");
}

/// RFC 9051 §7.5.2: BODY is BODYSTRUCTURE without extension data, at
/// every level (`body-ext-*` "MUST NOT" be sent with BODY).
#[tokio::test]
async fn rfc9051_7_5_2_body_has_no_extension_data() {
    let (_srv, mut c) = nested().await;
    let f = fetch3(&mut c, "BODY").await;
    let expected = "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 30 2)\
(\"TEXT\" \"HTML\" (\"CHARSET\" \"UTF-8\") NIL NIL \"BASE64\" 16 1) \"ALTERNATIVE\")\
(\"MESSAGE\" \"RFC822\" NIL NIL \"forwarded\" \"7BIT\" 408 \
(\"Mon, 1 Jan 2024 09:00:00 +0100\" \"inner\" ((\"Erin\" NIL \"erin\" \"example.test\")) \
((\"Erin\" NIL \"erin\" \"example.test\")) ((\"Erin\" NIL \"erin\" \"example.test\")) NIL NIL NIL NIL NIL) \
((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1)(\"APPLICATION\" \"PDF\" (\"NAME\" \"a.pdf\") \
\"<pdf@example.test>\" NIL \"BASE64\" 12) \"MIXED\") 18) \"MIXED\")";
    let got = Body::read(f.item("BODY")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, Body::read(&parse_one(expected)).unwrap(), "{f:?}");
}

/// RFC 9051 §7.5.2 ENVELOPE: date, subject, from, sender and reply-to
/// (both defaulting to From, RFC 9051 §7.5.2 "If the Sender or Reply-To
/// lines are absent ... the server sets them to the value of From"), to
/// with a display name and without, cc, bcc NIL, in-reply-to NIL,
/// message-id.
#[tokio::test]
async fn rfc9051_7_5_2_envelope_fields_and_defaults() {
    let (_srv, mut c) = nested().await;
    let f = fetch3(&mut c, "ENVELOPE").await;
    let alice = "((\"Alice\" NIL \"alice\" \"example.test\"))";
    let expected = format!(
        "(\"Tue, 2 Jan 2024 10:00:00 +0000\" \"nested\" {alice} {alice} {alice} \
((\"Bob\" NIL \"bob\" \"example.test\")(NIL NIL \"carol\" \"example.test\")) \
((NIL NIL \"dave\" \"example.test\")) NIL NIL \"<nested@example.test>\")"
    );
    assert_eq!(f.item("ENVELOPE"), &parse_one(&expected), "{f:?}");
}

/// RFC 9051 §6.4.5 section parts: BODY[1.2] is a nested part's body as
/// sent (still base64); BODY[2] the whole encapsulated message;
/// BODY[2.1] a part inside it; BODY[2.HEADER] and BODY[2.TEXT] its header
/// and body; BODY[2.MIME] the MIME header of part 2 itself, each header
/// with its blank line.
#[tokio::test]
async fn rfc9051_6_4_5_sections_of_nested_parts() {
    let (_srv, mut c) = nested().await;
    let f = fetch3(
        &mut c,
        "BODY.PEEK[1.2] BODY.PEEK[1.1] BODY.PEEK[2] BODY.PEEK[2.1] BODY.PEEK[2.2] \
         BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.MIME] BODY.PEEK[1.1.MIME]",
    )
    .await;
    let want = [
        ("BODY[1.2]", between("PHA+", "\r\n--alt--")),
        ("BODY[1.1]", between("caf=C3=A9", "\r\n--alt\r\n")),
        ("BODY[2]", between("From: Erin", "\r\n--outer--")),
        ("BODY[2.1]", "inner text"),
        ("BODY[2.2]", "JVBERi0xLjQK"),
        ("BODY[2.HEADER]", between("From: Erin", "--in\r\n")),
        ("BODY[2.TEXT]", between("--in\r\n", "\r\n--outer--")),
        (
            "BODY[2.MIME]",
            between("Content-Type: message/rfc822", "From: Erin"),
        ),
        (
            "BODY[1.1.MIME]",
            between("Content-Type: text/plain; charset=utf-8", "caf=C3=A9"),
        ),
    ];
    for (name, body) in want {
        assert_eq!(
            String::from_utf8_lossy(f.bytes(name)),
            body,
            "{name}: {f:?}"
        );
    }
}

/// RFC 9051 §6.4.5 partial fetch: `<origin.count>` returns those octets
/// and the response names the origin only (`BODY[TEXT]<0>`); an origin
/// past the end gives an empty string.
#[tokio::test]
async fn rfc9051_6_4_5_partial_text() {
    let (_srv, mut c) = nested().await;
    let f = fetch3(
        &mut c,
        "BODY.PEEK[TEXT]<0.30> BODY.PEEK[TEXT]<8.7> BODY.PEEK[1.1]<0.4> BODY.PEEK[]<100000.5>",
    )
    .await;
    let text = &NESTED[NESTED.find("This is the preamble").unwrap()..];
    assert_eq!(f.bytes("BODY[TEXT]<0>"), &text.as_bytes()[..30], "{f:?}");
    assert_eq!(f.bytes("BODY[TEXT]<8>"), b"the pre", "{f:?}");
    assert_eq!(f.bytes("BODY[1.1]<0>"), b"caf=", "{f:?}");
    assert_eq!(f.bytes("BODY[]<100000>"), b"", "{f:?}");
    assert_eq!(f.names().len(), 4, "{f:?}");
}

/// RFC 9051 §6.4.5 HEADER.FIELDS and HEADER.FIELDS.NOT: the named
/// fields (matched without regard to case) or all the others, in the
/// message's order, followed by the blank line; a field the message lacks
/// leaves only the blank line.
#[tokio::test]
async fn rfc9051_6_4_5_header_fields_and_not() {
    let (_srv, mut c) = nested().await;
    let f = fetch3(
        &mut c,
        "BODY.PEEK[HEADER.FIELDS (subject CC)] BODY.PEEK[HEADER.FIELDS.NOT (Subject Cc)] \
         BODY.PEEK[HEADER.FIELDS (X-Absent)] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)]",
    )
    .await;
    let header = between("From: Alice", "This is the preamble");
    let fields: Vec<&str> = header.split_inclusive("\r\n").collect();
    let pick = |keep: bool| -> String {
        let mut out: String = fields
            .iter()
            .filter(|l| {
                let named = l.starts_with("Subject:") || l.starts_with("Cc:");
                named == keep && *l != &"\r\n"
            })
            .copied()
            .collect();
        out.push_str("\r\n");
        out
    };
    let item = |name: &str| String::from_utf8_lossy(f.bytes(name)).into_owned();
    assert_eq!(
        item("BODY[HEADER.FIELDS (SUBJECT CC)]"),
        pick(true),
        "{f:?}"
    );
    assert_eq!(
        item("BODY[HEADER.FIELDS.NOT (SUBJECT CC)]"),
        pick(false),
        "{f:?}"
    );
    assert_eq!(item("BODY[HEADER.FIELDS (X-ABSENT)]"), "\r\n", "{f:?}");
    assert_eq!(
        item("BODY[2.HEADER.FIELDS (SUBJECT)]"),
        "Subject: inner\r\n\r\n",
        "{f:?}"
    );
}

/// RFC 9051 §7.5.2 RFC822.SIZE is the exact octet count of the message,
/// and BODY[] returns exactly those octets; §6.3.12: the date-time given
/// to APPEND becomes the INTERNALDATE.
#[tokio::test]
async fn rfc9051_7_5_2_size_and_internaldate_from_append() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let date = "05-Jan-2024 10:00:00 +0100";
    let append = format!(
        "a APPEND INBOX (\\Seen) \"{date}\" {{{}+}}\r\n{NESTED}",
        NESTED.len()
    );
    cmd(&mut c, &append).await;
    cmd(&mut c, "b SELECT INBOX").await;
    let f = cmd(&mut c, "c FETCH 3 (RFC822.SIZE INTERNALDATE BODY.PEEK[])").await;
    let f = fetch_of(&f, 3);
    assert_eq!(f.number("RFC822.SIZE"), NESTED.len() as u64, "{f:?}");
    assert_eq!(f.bytes("BODY[]"), NESTED.as_bytes());
    let got = f.item("INTERNALDATE").text().unwrap_or_default();
    assert_eq!(date_time(&got), date_time(date), "{got} is not {date}");
}
