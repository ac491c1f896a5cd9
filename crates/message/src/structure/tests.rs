use super::*;
use crate::{Message, Want};

const NESTED: &[u8] = b"From: Alice <alice@example.org>\r\n\
To: Bob <bob@example.org>, team: c@example.org, d@example.org;\r\n\
Subject: =?utf-8?q?caf=C3=A9?=\r\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
Message-ID: <1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
preamble\r\n\
--outer\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello\r\n\
world\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: Carol <carol@example.org>\r\n\
Subject: inner\r\n\
Content-Type: multipart/alternative; boundary=\"inner\"\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain\r\n\
\r\n\
plain\r\n\
--inner\r\n\
Content-Type: text/html\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
<b>x=3D1</b>\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: application/octet-stream; name=\"a.bin\"\r\n\
Content-Disposition: attachment; filename=\"a.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAEC\r\n\
--outer--\r\n";

#[test]
fn nested_structure() {
    let m = Message::parse(NESTED);
    let Body::Multi {
        parts,
        subtype,
        params,
        ..
    } = m.body()
    else {
        panic!("not multipart")
    };
    assert_eq!(subtype, "MIXED");
    assert_eq!(params, vec![("BOUNDARY".to_owned(), "outer".to_owned())]);
    assert_eq!(parts.len(), 3);
    let Body::Single(text) = &parts[0] else {
        panic!()
    };
    assert_eq!(
        (text.ctype.as_str(), text.subtype.as_str()),
        ("TEXT", "PLAIN")
    );
    assert_eq!((text.size, text.lines), (12, Some(2)));
    let Body::Single(msg) = &parts[1] else {
        panic!()
    };
    assert_eq!(
        (msg.ctype.as_str(), msg.subtype.as_str()),
        ("MESSAGE", "RFC822")
    );
    let (env, inner) = msg.message.as_ref().unwrap();
    assert_eq!(env.subject.as_deref(), Some(&b"inner"[..]));
    assert_eq!(env.from[0].mailbox.as_deref(), Some(&b"carol"[..]));
    let Body::Multi {
        parts: alt,
        subtype,
        ..
    } = inner
    else {
        panic!()
    };
    assert_eq!((subtype.as_str(), alt.len()), ("ALTERNATIVE", 2));
    let Body::Single(bin) = &parts[2] else {
        panic!()
    };
    assert_eq!(bin.encoding, "BASE64");
    assert_eq!(bin.ext.disposition.as_ref().unwrap().0, "ATTACHMENT");
}

#[test]
fn envelope() {
    let env = Message::parse(NESTED).envelope();
    assert_eq!(env.subject.as_deref(), Some(&b"=?utf-8?q?caf=C3=A9?="[..]));
    assert_eq!(env.message_id.as_deref(), Some(&b"<1@example.org>"[..]));
    assert_eq!(env.from.len(), 1);
    assert_eq!(env.from[0].name.as_deref(), Some(&b"Alice"[..]));
    assert_eq!(env.sender, env.from);
    // Bob, then the group: start, two members, end.
    assert_eq!(env.to.len(), 5, "{:?}", env.to);
    assert_eq!(env.to[1].mailbox.as_deref(), Some(&b"team"[..]));
    assert_eq!(env.to[1].host, None);
    assert_eq!(env.to[4], crate::Address::default());
}

#[test]
fn sections() {
    let m = Message::parse(NESTED);
    assert_eq!(m.section(&[1], Want::All).unwrap(), b"Hello\r\nworld");
    assert_eq!(
        m.section(&[1], Want::Mime).unwrap(),
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    );
    assert_eq!(
        m.section(&[2], Want::Header).unwrap(),
        b"From: Carol <carol@example.org>\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
    );
    assert_eq!(m.section(&[2, 1], Want::All).unwrap(), b"plain");
    assert_eq!(m.section(&[2, 2], Want::All).unwrap(), b"<b>x=3D1</b>");
    assert_eq!(m.binary(&[2, 2]).unwrap(), b"<b>x=1</b>");
    assert_eq!(m.binary(&[3]).unwrap(), [0, 1, 2]);
    assert!(!m.has_unknown_encoding(&[3]));
    assert!(
        !m.has_unknown_encoding(&[9]),
        "a missing part is not UNKNOWN-CTE"
    );
    assert_eq!(m.section(&[4], Want::All), None);
    assert_eq!(m.section(&[1], Want::Header), None);
    let names = ["subject".to_owned()];
    assert_eq!(
        m.section(
            &[],
            Want::Fields {
                names: &names,
                not: false
            }
        )
        .unwrap(),
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n"
    );
    let simple = Message::parse(b"Subject: x\r\n\r\nbody\r\n");
    assert_eq!(simple.section(&[1], Want::All).unwrap(), b"body\r\n");
    assert_eq!(simple.section(&[], Want::Text).unwrap(), b"body\r\n");
    assert!(matches!(simple.body(), Body::Single(s) if s.lines == Some(1) && s.size == 6));
}

#[test]
fn deep_nesting_is_bounded() {
    let mut raw = String::new();
    for i in 0..5000 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
        ));
    }
    raw.push_str("\r\nleaf\r\n");
    let m = Message::parse(raw.as_bytes());
    let mut depth = 0;
    let mut at = m.body();
    while let Body::Multi { mut parts, .. } = at {
        depth += 1;
        at = parts.remove(0);
    }
    assert!(depth <= 33, "{depth}");
}

#[test]
fn an_unknown_transfer_encoding_is_reported() {
    let raw = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: x-rot13\r\n\r\nuryyb\r\n--b\r\nContent-Transfer-Encoding: 8BIT\r\n\r\nok\r\n--b--\r\n";
    let m = Message::parse(raw);
    assert!(m.has_unknown_encoding(&[1]));
    assert!(!m.has_unknown_encoding(&[2]));
    assert!(
        !m.has_unknown_encoding(&[]),
        "the multipart itself has no encoding"
    );
}
