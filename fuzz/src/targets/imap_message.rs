//! The message structure behind IMAP FETCH (`postern_message::Message`):
//! arbitrary bytes as a message, then everything FETCH asks of it.
//!
//! Invariants:
//! - nothing panics, whatever the MIME nesting, boundaries or encodings;
//! - every section (whole, HEADER, TEXT, MIME, HEADER.FIELDS) of the
//!   message and of the first parts is at most as long as the message
//!   (HEADER.FIELDS adds one CRLF);
//! - every size in the body structure is within the message.

use postern_message::{Body, Message, Want};

use super::Target;

pub(super) const TARGET: Target = Target {
    name: "imap_message",
    about: "RFC 5322/MIME structure for FETCH: envelope, body structure, sections",
    run: fuzz,
    seeds,
};

fn fuzz(input: &[u8]) {
    let m = Message::parse(input);
    let _ = m.envelope();
    check_body(&m.body(), input.len());
    let _ = (m.sent_date(), m.header_text("Subject"), m.body_texts());
    let names = ["SUBJECT".to_owned(), "FROM".to_owned()];
    let wants = [
        Want::All,
        Want::Header,
        Want::Text,
        Want::Mime,
        Want::Fields {
            names: &names,
            not: false,
        },
        Want::Fields {
            names: &names,
            not: true,
        },
    ];
    for part in [&[][..], &[1], &[2], &[1, 1], &[2, 1], &[1, 2, 1]] {
        for want in wants {
            if let Some(bytes) = m.section(part, want) {
                assert!(
                    bytes.len() <= input.len() + 2,
                    "section {part:?} {want:?} is {} octets of a {}-octet message",
                    bytes.len(),
                    input.len()
                );
            }
        }
        let _ = m.binary(part);
    }
}

fn check_body(body: &Body, len: usize) {
    match body {
        Body::Multi { parts, .. } => parts.iter().for_each(|p| check_body(p, len)),
        Body::Single(s) => {
            assert!(s.size <= len, "a {}-octet part in {len} octets", s.size);
            if let Some((_, inner)) = &s.message {
                check_body(inner, len);
            }
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        b"Subject: x\r\nFrom: a@b\r\n\r\nbody\r\n".to_vec(),
        b"From: \"A\" <a@b>, g: c@d, e@f;\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n\
--o\r\nContent-Type: text/plain\r\n\r\nhi\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: in\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\na\r\n--i\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--i--\r\n--o\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9=\r\n--o--\r\n"
            .to_vec(),
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: multipart/mixed\r\n\r\n--\r\n".to_vec(),
    ]
}
