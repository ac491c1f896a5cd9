//! RFC 3516 (BINARY): parts decoded from their content transfer encoding
//! by the server, their decoded sizes, and literal8 for octets that a
//! plain literal may not carry.

use crate::helpers::{any, cmd, login, with_mail, ALICE, NESTED};
use crate::wire::fetch_of;

/// RFC 3516 §4.2 (BINARY[section-binary] and BINARY.SIZE): a
/// quoted-printable and a base64 part come back decoded, with their
/// decoded sizes; a partial fetch counts decoded octets.
#[tokio::test]
async fn rfc3516_4_2_binary_decodes_base64_and_quoted_printable() {
    let srv = with_mail().await;
    srv.deliver(ALICE, NESTED.as_bytes());
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let f = cmd(
        &mut c,
        "b FETCH 3 (BINARY.PEEK[1.1] BINARY.SIZE[1.1] BINARY.PEEK[1.2] BINARY.SIZE[1.2] \
         BINARY.PEEK[2.2] BINARY.SIZE[2.2] BINARY.PEEK[1.1]<0.5> BINARY.PEEK[2.1])",
    )
    .await;
    let f = fetch_of(&f, 3);
    let want: [(&str, &[u8]); 5] = [
        ("BINARY[1.1]", "café au lait\r\nsecond line".as_bytes()),
        ("BINARY[1.2]", "<p>café</p>".as_bytes()),
        ("BINARY[2.2]", b"%PDF-1.4\n"),
        ("BINARY[1.1]<0>", "café".as_bytes()),
        ("BINARY[2.1]", b"inner text"),
    ];
    for (name, body) in want {
        assert_eq!(f.bytes(name), body, "{name}: {f:?}");
    }
    for (name, size) in [
        ("BINARY.SIZE[1.1]", 26),
        ("BINARY.SIZE[1.2]", 12),
        ("BINARY.SIZE[2.2]", 9),
    ] {
        assert_eq!(f.number(name), size, "{name}: {f:?}");
    }
    assert!(f.get("FLAGS").is_none(), "PEEK sets no flag: {f:?}");
}

/// RFC 3516 §4.2: decoded content holding NUL is sent as a literal8
/// (`~{n}`), never as a plain literal or quoted string.
#[tokio::test]
async fn rfc3516_4_2_nul_octets_come_as_literal8() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let f = cmd(&mut c, "b FETCH 2 BINARY.PEEK[2]").await;
    assert!(f[0].contains("BINARY[2] ~{3}\r\n\u{0}\u{1}\u{2})"), "{f:?}");
}

/// RFC 3516 §4.2: BINARY without .PEEK sets \Seen, and the FETCH says so
/// (RFC 9051 §6.4.5).
#[tokio::test]
async fn rfc3516_4_2_binary_sets_seen() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let f = cmd(&mut c, "b FETCH 2 BINARY[1]").await;
    let f = fetch_of(&f, 2);
    assert_eq!(f.bytes("BINARY[1]"), b"hello part", "{f:?}");
    assert_eq!(
        f.item("FLAGS"),
        &crate::wire::parse_one("(\\Seen)"),
        "{f:?}"
    );
}

/// RFC 3516 §4.2 and RFC 9051 §7.1 (UNKNOWN-CTE): a part whose encoding
/// the server cannot decode is refused with `NO [UNKNOWN-CTE]`, while
/// BODY[] of the same part still works.
#[tokio::test]
async fn rfc3516_4_2_unknown_encoding_is_unknown_cte() {
    let srv = with_mail().await;
    srv.deliver(
        ALICE,
        b"Subject: odd\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-rot13\r\n\r\n\
uryyb\r\n--x--\r\n",
    );
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let no = any(&mut c, "b FETCH 3 BINARY.PEEK[1]").await;
    assert!(
        no.last().unwrap().starts_with("b NO [UNKNOWN-CTE]"),
        "{no:?}"
    );
    let f = cmd(&mut c, "c FETCH 3 BODY.PEEK[1]").await;
    assert_eq!(fetch_of(&f, 3).bytes("BODY[1]"), b"uryyb");
}
