//! The web application's parsers and writer: the compose form's
//! `multipart/form-data` bodies (`postern_web::multipart`) and the message
//! the webmail writes from whatever a user typed (`mail::write`).
//!
//! Invariants of `web_multipart` (the input's first line is the
//! Content-Type's boundary, the rest the body):
//! - a boundary accepted by `multipart::boundary` is 1 to 70 printable
//!   characters;
//! - a parsed form has at most `MAX_PARTS` fields, each with a name, and
//!   its values together are never longer than the body (they are slices
//!   of it, nothing is invented).
//!
//! Invariants of `web_write` (the input, cut at NULs, is the fields of a
//! compose form: subject, body, To, a display name, a file name, a
//! content type, the attachment):
//! - every line of the message ends in CRLF, with no bare CR or LF (the
//!   submission path refuses those) and at most 998 octets (RFC 5322
//!   §2.1.1);
//! - the header has exactly one Date, From, Message-ID, Subject and
//!   MIME-Version, and no Bcc unless asked: typed text never makes a
//!   header field;
//! - the attachment reads back byte for byte as part 2.

use postern_message::Message;
use postern_web::mail::write::{parse_addresses, Address, Attachment, Composed};
use postern_web::multipart::{self, MAX_PARTS};

use super::session::excerpt;
use super::Target;

pub(super) const MULTIPART: Target = Target {
    name: "web_multipart",
    about: "multipart/form-data bodies of the compose form (boundary, then parts)",
    run: fuzz_multipart,
    seeds: multipart_seeds,
};

pub(super) const WRITE: Target = Target {
    name: "web_write",
    about: "the webmail's message writer, from typed fields to MIME octets",
    run: fuzz_write,
    seeds: write_seeds,
};

fn fuzz_multipart(input: &[u8]) {
    let (first, body) = match input.iter().position(|&b| b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &b""[..]),
    };
    let content_type = format!(
        "multipart/form-data; boundary={}",
        String::from_utf8_lossy(first)
    );
    let Ok(boundary) = multipart::boundary(&content_type) else {
        return;
    };
    assert!(
        !boundary.is_empty()
            && boundary.len() <= 70
            && boundary.bytes().all(|b| (0x20..=0x7e).contains(&b)),
        "boundary {boundary:?}"
    );
    if let Ok(fields) = multipart::parse(body, &boundary) {
        assert!(fields.len() <= MAX_PARTS, "{} fields", fields.len());
        let total: usize = fields.iter().map(|f| f.value.len()).sum();
        assert!(
            total <= body.len(),
            "values longer than the body: {}",
            excerpt(body)
        );
    }
}

fn multipart_seeds() -> Vec<Vec<u8>> {
    vec![
        b"XyZ\n--XyZ\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nbob@example.test\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"a \\\"b\\\".pdf\"\r\n\
Content-Type: application/pdf\r\n\r\n%PDF\r\n--XyZx\r\n\x00\r\n--XyZ--\r\n"
            .to_vec(),
        b"\"a b\"\n--a b\r\n\r\nno disposition\r\n--a b--".to_vec(),
    ]
}

fn fuzz_write(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let mut parts = text.split('\0');
    let mut next = || parts.next().unwrap_or("").to_owned();
    let (subject, body, to, name, filename, ctype) =
        (next(), next(), next(), next(), next(), next());
    let content = next().into_bytes();
    let mut to = parse_addresses(&to).unwrap_or_default();
    to.push(Address {
        name,
        address: "bob@example.test".into(),
    });
    let composed = Composed {
        from: "alice@example.test".into(),
        to,
        bcc: vec![Address {
            name: String::new(),
            address: "carol@example.test".into(),
        }],
        subject,
        body,
        attachments: vec![Attachment {
            filename,
            content_type: ctype,
            content: content.clone(),
        }],
        ..Composed::default()
    };
    let raw = composed.write(1_795_392_000, "<id@example.test>", "=_b0undary", false);
    for (i, &b) in raw.iter().enumerate() {
        let ok = match b {
            b'\r' => raw.get(i + 1) == Some(&b'\n'),
            b'\n' => i > 0 && raw[i - 1] == b'\r',
            _ => true,
        };
        assert!(ok, "bare line end at {i}: {}", excerpt(&raw));
    }
    for line in raw.split(|&b| b == b'\n') {
        assert!(line.len() <= 999, "a line of {} octets", line.len());
    }
    let msg = Message::parse(&raw);
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header section");
    let head = String::from_utf8_lossy(&raw[..head_end + 2]);
    let names: Vec<String> = head
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with([' ', '\t']))
        .map(|l| l.split(':').next().unwrap_or("").to_ascii_lowercase())
        .collect();
    for once in ["date", "from", "message-id", "subject", "mime-version"] {
        let n = names.iter().filter(|n| *n == once).count();
        assert_eq!(n, 1, "{once} {n} times in {head}");
    }
    assert!(!names.iter().any(|n| n == "bcc"), "Bcc in {head}");
    assert_eq!(
        msg.binary(&[2]).unwrap_or_default(),
        content,
        "the attachment changed"
    );
}

fn write_seeds() -> Vec<Vec<u8>> {
    vec![
        "Café\0Hello,\r\nline two é\0Doe <doe@x.test>, a@y.test\0René\0menu été.pdf\0application/pdf\0%PDF\x00"
            .as_bytes()
            .to_vec(),
        b"x\r\nBcc: evil@x.test\0=?utf-8?q?a?= .\r\n.\r\n\0\0\"q\\\"\0..\\/a\0text/html\0<b>".to_vec(),
    ]
}
