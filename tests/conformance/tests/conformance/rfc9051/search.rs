//! RFC 9051 §6.4.4 (RFC 3501 §6.4.4) SEARCH: every search key, on a
//! mailbox built for it, and the result forms: `* SEARCH`, ESEARCH with
//! RETURN options (RFC 4731) and IMAP4rev2's ESEARCH.

use crate::helpers::{cmd, login, with_mail, Client};
use crate::wire::{esearch, expand, search};

/// Four messages, appended with their flags and internal dates so that
/// each key picks a known subset.
const MESSAGES: [(&str, &str, &str); 4] = [
    (
        "\\Seen",
        "01-Feb-2024 12:00:00 +0000",
        "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n\
Cc: Carol <carol@example.test>\r\nBcc: dave@example.test\r\nSubject: Lunch plans\r\n\
Date: Thu, 1 Feb 2024 11:00:00 +0000\r\nMessage-ID: <m1@example.test>\r\n\r\n\
Let's meet at noon.\r\n",
    ),
    (
        "\\Answered \\Flagged",
        "15-Feb-2024 08:00:00 +0000",
        "From: bob@example.test\r\nTo: Alice <alice@example.test>\r\n\
Subject: Re: Lunch plans\r\nDate: Thu, 15 Feb 2024 07:59:00 +0000\r\nX-Priority: 1\r\n\
In-Reply-To: <m1@example.test>\r\n\r\nNoon works.\r\n",
    ),
    (
        "\\Draft $Important",
        "01-Mar-2024 12:00:00 +0000",
        "From: Erin <erin@example.test>\r\nTo: frank@example.test\r\n\
Subject: Quarterly report\r\nDate: Fri, 1 Mar 2024 12:00:00 +0000\r\n\r\n\
Draft of the report; the numbers follow.\r\n",
    ),
    (
        "\\Deleted",
        "10-Mar-2024 12:00:00 +0000",
        "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.test>\r\nTo: alice@example.test\r\n\
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\nDate: Sun, 10 Mar 2024 12:00:00 +0000\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
Viele Grüße aus Köln!\r\n",
    ),
];

/// The third message is made large by this many octets of padding.
const PADDING: usize = 3000;

fn raw(i: usize) -> String {
    let (_, _, text) = MESSAGES[i];
    if i == 2 {
        format!("{text}{}\r\n", "1234567890".repeat(PADDING / 10))
    } else {
        text.to_owned()
    }
}

/// A session with the four messages in the selected mailbox `S`.
async fn searchable() -> (postern_testkit::TestServer, Client) {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a CREATE S").await;
    for (i, (flags, date, _)) in MESSAGES.iter().enumerate() {
        let raw = raw(i);
        let line = format!(
            "b{i} APPEND S ({flags}) \"{date}\" {{{}+}}\r\n{raw}",
            raw.len()
        );
        cmd(&mut c, &line).await;
    }
    cmd(&mut c, "c SELECT S").await;
    (srv, c)
}

async fn check(c: &mut Client, cases: &[(&str, &[u32])]) {
    for (query, want) in cases {
        let s = cmd(c, &format!("s SEARCH {query}")).await;
        assert_eq!(search(&s), *want, "SEARCH {query}: {s:?}");
    }
}

/// RFC 9051 §6.4.4: the flag keys and their negations, KEYWORD and
/// UNKEYWORD, ALL.
#[tokio::test]
async fn rfc9051_6_4_4_search_flag_keys() {
    let (_srv, mut c) = searchable().await;
    check(
        &mut c,
        &[
            ("ALL", &[1, 2, 3, 4]),
            ("ANSWERED", &[2]),
            ("UNANSWERED", &[1, 3, 4]),
            ("DELETED", &[4]),
            ("UNDELETED", &[1, 2, 3]),
            ("DRAFT", &[3]),
            ("UNDRAFT", &[1, 2, 4]),
            ("FLAGGED", &[2]),
            ("UNFLAGGED", &[1, 3, 4]),
            ("SEEN", &[1]),
            ("UNSEEN", &[2, 3, 4]),
            ("KEYWORD $Important", &[3]),
            ("UNKEYWORD $Important", &[1, 2, 4]),
            ("KEYWORD $Nothing", &[]),
        ],
    )
    .await;
}

/// RFC 9051 §2.3.2 and §9 ("all alphabetic characters are
/// case-insensitive" unless the grammar says otherwise; a keyword is an
/// atom): a keyword is the same flag whatever its case, for SEARCH and for
/// STORE alike.
#[tokio::test]
async fn rfc9051_2_3_2_keywords_ignore_case() {
    let (_srv, mut c) = searchable().await;
    check(
        &mut c,
        &[
            ("KEYWORD $important", &[3]),
            ("UNKEYWORD $IMPORTANT", &[1, 2, 4]),
        ],
    )
    .await;
    let st = cmd(&mut c, "k STORE 3 +FLAGS ($IMPORTANT)").await;
    let f = crate::wire::fetch_of(&st, 3);
    let important = f
        .item("FLAGS")
        .list()
        .unwrap()
        .iter()
        .filter(
            |v| matches!(v, crate::wire::Value::Atom(a) if a.eq_ignore_ascii_case("$important")),
        )
        .count();
    assert_eq!(important, 1, "one $Important, not two spellings: {f:?}");
}

/// RFC 9051 §6.4.4: the header keys (BCC, CC, FROM, TO, SUBJECT, HEADER)
/// and BODY and TEXT match a substring without regard to case; BODY
/// looks at the body only, TEXT at header and body; HEADER with an empty
/// string matches every message having the field.
#[tokio::test]
async fn rfc9051_6_4_4_search_text_keys() {
    let (_srv, mut c) = searchable().await;
    check(
        &mut c,
        &[
            ("BCC dave", &[1]),
            ("CC carol", &[1]),
            ("CC CAROL@EXAMPLE", &[1]),
            ("FROM alice", &[1]),
            ("FROM ALICE", &[1]),
            ("FROM \"Erin\"", &[3]),
            ("TO alice", &[2, 4]),
            ("TO frank@example.test", &[3]),
            ("SUBJECT lunch", &[1, 2]),
            ("SUBJECT \"LUNCH PLANS\"", &[1, 2]),
            ("SUBJECT \"re: lunch\"", &[2]),
            ("HEADER X-Priority 1", &[2]),
            ("HEADER x-priority \"\"", &[2]),
            ("HEADER In-Reply-To m1@example", &[2]),
            ("HEADER Message-ID \"\"", &[1]),
            ("BODY noon", &[1, 2]),
            ("BODY lunch", &[]),
            ("BODY \"the NUMBERS\"", &[3]),
            ("TEXT lunch", &[1, 2]),
            ("TEXT erin", &[3]),
            ("TEXT noon", &[1, 2]),
        ],
    )
    .await;
}

/// RFC 9051 §6.4.4: BEFORE, ON and SINCE compare the internal date,
/// SENTBEFORE, SENTON and SENTSINCE the Date header, each by date alone;
/// LARGER and SMALLER compare RFC822.SIZE strictly.
#[tokio::test]
async fn rfc9051_6_4_4_search_date_and_size_keys() {
    let (_srv, mut c) = searchable().await;
    let big = raw(2).len();
    let (larger, smaller) = (format!("LARGER {}", big - 1), format!("SMALLER {big}"));
    let (not_larger, not_smaller) = (format!("LARGER {big}"), format!("SMALLER {}", big + 1));
    check(
        &mut c,
        &[
            ("BEFORE 15-Feb-2024", &[1]),
            ("ON 15-Feb-2024", &[2]),
            ("ON 14-Feb-2024", &[]),
            ("SINCE 15-Feb-2024", &[2, 3, 4]),
            ("SINCE 16-Feb-2024", &[3, 4]),
            ("SENTBEFORE 15-Feb-2024", &[1]),
            ("SENTON 15-Feb-2024", &[2]),
            ("SENTON 1-Mar-2024", &[3]),
            ("SENTSINCE 1-Mar-2024", &[3, 4]),
            ("LARGER 1000", &[3]),
            ("SMALLER 1000", &[1, 2, 4]),
            (&larger, &[3]),
            (&not_larger, &[]),
            (&smaller, &[1, 2, 4]),
            (&not_smaller, &[1, 2, 3, 4]),
        ],
    )
    .await;
}

/// RFC 9051 §6.4.4: keys are ANDed; NOT, OR and parenthesised lists
/// combine them; a sequence set (ranges either way round, `*`) and UID
/// are keys too.
#[tokio::test]
async fn rfc9051_6_4_4_search_combinations_and_sets() {
    let (_srv, mut c) = searchable().await;
    check(
        &mut c,
        &[
            ("NOT SEEN", &[2, 3, 4]),
            ("OR SEEN FLAGGED", &[1, 2]),
            ("OR SEEN OR DRAFT DELETED", &[1, 3, 4]),
            ("(OR SEEN DRAFT) UNDELETED", &[1, 3]),
            ("NOT (SEEN FROM alice)", &[2, 3, 4]),
            ("((SUBJECT lunch) (NOT ANSWERED))", &[1]),
            ("SUBJECT lunch FLAGGED", &[2]),
            ("2:3", &[2, 3]),
            ("2,4", &[2, 4]),
            ("*", &[4]),
            ("3:*", &[3, 4]),
            ("4:2", &[2, 3, 4]),
            ("1,3:4 UNDELETED", &[1, 3]),
            ("UID 2:3", &[2, 3]),
            ("UID 3:*", &[3, 4]),
            ("NOT UID 1:2", &[3, 4]),
        ],
    )
    .await;
    // UIDs and numbers part ways once the first message is gone: SEARCH
    // answers numbers, UID SEARCH answers UIDs (RFC 9051 §6.4.9).
    cmd(&mut c, "d STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut c, "e UID EXPUNGE 1").await;
    let s = cmd(&mut c, "f SEARCH UID 3:*").await;
    assert_eq!(search(&s), [2, 3], "{s:?}");
    let s = cmd(&mut c, "g UID SEARCH 1:2").await;
    assert_eq!(search(&s), [2, 3], "{s:?}");
    let s = cmd(&mut c, "h UID SEARCH UID 3:*").await;
    assert_eq!(search(&s), [3, 4], "{s:?}");
}

/// RFC 9051 §6.4.4 CHARSET: UTF-8 strings, sent as a synchronizing
/// literal (the IMAP4rev1 way to send 8-bit text), match the decoded
/// encoded-word header and the 8-bit body; US-ASCII is accepted too.
#[tokio::test]
async fn rfc9051_6_4_4_search_charset_utf8_literals() {
    let (_srv, mut c) = searchable().await;
    for (key, text, want) in [
        ("SUBJECT", "Grüße", [4]),
        ("FROM", "Jörg", [4]),
        ("BODY", "Grüße aus", [4]),
        ("TEXT", "Köln", [4]),
    ] {
        c.send(&format!("u SEARCH CHARSET UTF-8 {key} {{{}}}", text.len()))
            .await;
        c.expect("+ ").await;
        c.send(text).await;
        let s = c.read_until("u ").await;
        assert!(s.last().unwrap().starts_with("u OK"), "{s:?}");
        assert_eq!(search(&s), want, "{key} {text}: {s:?}");
    }
    let s = cmd(&mut c, "v SEARCH CHARSET US-ASCII SUBJECT report").await;
    assert_eq!(search(&s), [3], "{s:?}");
}

/// RFC 9051 §6.4.4 (RFC 3501 §6.4.4): "the matching is case-insensitive"
/// for the characters of the CHARSET given, not ASCII letters only: Ö
/// matches ö (simple case mapping, as RFC 5051's i;unicode-casemap does).
#[tokio::test]
async fn rfc9051_6_4_4_search_ignores_case_beyond_ascii() {
    let (_srv, mut c) = searchable().await;
    for (key, text) in [("SUBJECT", "KÖLN"), ("BODY", "VIELE GRÜ"), ("FROM", "jÖRG")] {
        let line = format!("w SEARCH CHARSET UTF-8 {key} {{{}+}}\r\n{text}", text.len());
        let s = cmd(&mut c, &line).await;
        assert_eq!(search(&s), [4], "{key} {text}: {s:?}");
    }
}

/// RFC 4731 §3.1 (ESEARCH): RETURN (MIN MAX COUNT ALL) answers with one
/// ESEARCH response tagged with the command's tag; UID SEARCH marks it
/// UID and gives UIDs; no match leaves only COUNT 0; RETURN () means ALL.
#[tokio::test]
async fn rfc4731_3_1_esearch_return_options() {
    let (_srv, mut c) = searchable().await;
    let s = cmd(&mut c, "t1 SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN").await;
    let e = esearch(&s);
    assert_eq!(e.tag.as_deref(), Some("t1"), "{s:?}");
    assert!(!e.uid, "{s:?}");
    assert_eq!(e.get("MIN"), Some("2"), "{s:?}");
    assert_eq!(e.get("MAX"), Some("4"), "{s:?}");
    assert_eq!(e.get("COUNT"), Some("3"), "{s:?}");
    assert_eq!(e.get("ALL").map(expand), Some(vec![2, 3, 4]), "{s:?}");
    assert!(!s.iter().any(|l| l.starts_with("* SEARCH")), "{s:?}");

    let s = cmd(
        &mut c,
        "t2 SEARCH RETURN (COUNT MIN MAX ALL) KEYWORD $Nothing",
    )
    .await;
    let e = esearch(&s);
    assert_eq!(e.items, [("COUNT".to_owned(), "0".to_owned())], "{s:?}");

    let s = cmd(&mut c, "t3 SEARCH RETURN () OR SEEN DRAFT").await;
    assert_eq!(
        esearch(&s).get("ALL").map(expand),
        Some(vec![1, 3]),
        "{s:?}"
    );

    cmd(&mut c, "d STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut c, "e UID EXPUNGE 1").await;
    let s = cmd(&mut c, "t4 UID SEARCH RETURN (MIN MAX ALL) ALL").await;
    let e = esearch(&s);
    assert_eq!(e.tag.as_deref(), Some("t4"), "{s:?}");
    assert!(e.uid, "{s:?}");
    assert_eq!(
        (e.get("MIN"), e.get("MAX")),
        (Some("2"), Some("4")),
        "{s:?}"
    );
    assert_eq!(e.get("ALL").map(expand), Some(vec![2, 3, 4]), "{s:?}");
}

/// RFC 9051 §6.4.4 and §7.3.4: once IMAP4rev2 is enabled, SEARCH without
/// RETURN answers ESEARCH with ALL (and no result item for no match), and
/// UID SEARCH says UID.
#[tokio::test]
async fn rfc9051_7_3_4_rev2_search_answers_esearch() {
    let (_srv, mut c) = searchable().await;
    cmd(&mut c, "e ENABLE IMAP4rev2").await;
    let s = cmd(&mut c, "r1 SEARCH UNSEEN").await;
    let e = esearch(&s);
    assert_eq!(e.tag.as_deref(), Some("r1"), "{s:?}");
    assert_eq!(e.get("ALL").map(expand), Some(vec![2, 3, 4]), "{s:?}");
    assert!(!s.iter().any(|l| l.starts_with("* SEARCH")), "{s:?}");
    let s = cmd(&mut c, "r2 SEARCH KEYWORD $Nothing").await;
    let e = esearch(&s);
    assert!(e.items.is_empty() && !e.uid, "{s:?}");
    let s = cmd(&mut c, "r3 UID SEARCH SEEN").await;
    let e = esearch(&s);
    assert!(e.uid, "{s:?}");
    assert_eq!(e.get("ALL"), Some("1"), "{s:?}");
}
