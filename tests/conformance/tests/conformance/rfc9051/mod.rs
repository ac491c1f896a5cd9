//! RFC 9051 (IMAP4rev2): the base protocol's commands and responses.

mod connection;
mod fetch;
mod mailboxes;
mod search;
mod updates;

use crate::helpers::{any, cmd, has, login, with_mail, ALICE};

/// RFC 9051 §6.3.3: EXAMINE is read-only; STORE and EXPUNGE are refused
/// and fetching a body does not set \Seen.
#[tokio::test]
async fn rfc9051_6_3_3_examine_is_read_only() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let e = cmd(&mut c, "a EXAMINE INBOX").await;
    assert!(e.last().unwrap().starts_with("a OK [READ-ONLY]"), "{e:?}");
    assert!(has(&e, "[PERMANENTFLAGS ()]"), "{e:?}");
    let f = cmd(&mut c, "b FETCH 1 (BODY[TEXT] FLAGS)").await;
    assert!(has(&f, "FLAGS ()") && !has(&f, "\\Seen"), "{f:?}");
    let no = any(&mut c, "c STORE 1 +FLAGS (\\Seen)").await;
    assert!(no[0].starts_with("c NO [READ-ONLY]"), "{no:?}");
    let no = any(&mut c, "d EXPUNGE").await;
    assert!(no[0].starts_with("d NO"), "{no:?}");
}

/// RFC 9051 §7.5.1: each EXPUNGE renumbers what follows, so several are
/// sent highest first (each number right when it is read).
#[tokio::test]
async fn rfc9051_7_5_1_expunge_numbers() {
    let srv = with_mail().await;
    for i in 0..3 {
        srv.deliver(ALICE, format!("Subject: {i}\r\n\r\nx\r\n").as_bytes());
    }
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    cmd(&mut c, "b STORE 2,3,5 +FLAGS.SILENT (\\Deleted)").await;
    let ex = cmd(&mut c, "c EXPUNGE").await;
    assert_eq!(
        ex[..3],
        ["* 5 EXPUNGE", "* 3 EXPUNGE", "* 2 EXPUNGE"],
        "{ex:?}"
    );
    let f = cmd(&mut c, "d FETCH 1:* UID").await;
    assert!(
        has(&f, "* 1 FETCH (UID 1)") && has(&f, "* 2 FETCH (UID 4)"),
        "{f:?}"
    );
    assert_eq!(f.len(), 3, "{f:?}");
}

/// RFC 9051 §6.4.6: +FLAGS adds to the message's flags as they are, so
/// two sessions adding different flags to one message at the same time
/// both keep theirs.
#[tokio::test]
async fn rfc9051_6_4_6_concurrent_add_flags_keep_both() {
    const ROUNDS: usize = 15;
    let srv = with_mail().await;
    let mut a = login(&srv).await;
    let mut b = login(&srv).await;
    cmd(&mut a, "a SELECT INBOX").await;
    cmd(&mut b, "b SELECT INBOX").await;
    for i in 0..ROUNDS {
        let (la, lb) = (
            format!("a{i} STORE 1 +FLAGS.SILENT (ka{i})"),
            format!("b{i} STORE 1 +FLAGS.SILENT (kb{i})"),
        );
        tokio::join!(cmd(&mut a, &la), cmd(&mut b, &lb));
    }
    let f = cmd(&mut a, "z FETCH 1 FLAGS").await;
    let line = f.iter().find(|l| l.starts_with("* 1 FETCH")).unwrap();
    for i in 0..ROUNDS {
        for who in ["ka", "kb"] {
            let flag = format!("{who}{i}");
            assert!(
                line.split([' ', '(', ')']).any(|w| w == flag),
                "{flag} lost: {line}"
            );
        }
    }
}

/// RFC 9051 §6.3.7 (SUBSCRIBE, UNSUBSCRIBE) and RFC 3501 §6.3.9 (LSUB):
/// subscriptions are the server's, so they survive a restart; a name with
/// no mailbox may be subscribed; LSUB and LIST (SUBSCRIBED) agree.
#[tokio::test]
async fn rfc9051_6_3_7_subscriptions_survive_a_restart() {
    let mut srv = with_mail().await;
    let mut c = login(&srv).await;
    let l = cmd(&mut c, "a LSUB \"\" *").await;
    assert!(
        l.iter()
            .any(|l| l.starts_with("* LSUB") && l.ends_with(" \"Junk\"")),
        "{l:?}"
    );
    cmd(&mut c, "b CREATE Lists").await;
    cmd(&mut c, "c SUBSCRIBE Lists").await;
    cmd(&mut c, "d SUBSCRIBE Later/Box").await;
    cmd(&mut c, "e UNSUBSCRIBE Junk").await;
    cmd(&mut c, "f LOGOUT").await;
    drop(c);
    srv.halt().await;
    srv.resume().await;

    let mut c = login(&srv).await;
    let l = cmd(&mut c, "g LSUB \"\" *").await;
    let listed = |lines: &[String], verb: &str, name: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(verb) && l.ends_with(&format!(" \"{name}\"")))
    };
    for name in ["INBOX", "Lists", "Later/Box", "Trash"] {
        assert!(listed(&l, "* LSUB", name), "{name}: {l:?}");
    }
    assert!(!listed(&l, "* LSUB", "Junk"), "{l:?}");
    let l = cmd(&mut c, "h LIST (SUBSCRIBED) \"\" *").await;
    for name in ["INBOX", "Lists", "Later/Box"] {
        assert!(listed(&l, "* LIST", name), "{name}: {l:?}");
    }
    assert!(!listed(&l, "* LIST", "Junk"), "{l:?}");
    assert!(
        l.iter().any(|l| l.contains("\\NonExistent")
            && l.contains("\\Subscribed")
            && l.ends_with(" \"Later/Box\"")),
        "{l:?}"
    );
    let l = cmd(&mut c, "i LIST \"\" * RETURN (SUBSCRIBED)").await;
    assert!(
        l.iter()
            .any(|l| l.contains("\\Subscribed") && l.ends_with(" \"Lists\"")),
        "{l:?}"
    );
    assert!(
        l.iter()
            .any(|l| !l.contains("\\Subscribed") && l.ends_with(" \"Junk\"")),
        "{l:?}"
    );
}

/// RFC 9051 §6.4.5: FETCH BODY[] sets \\Seen on the message as stored: a
/// flag another session sets at the same moment is kept.
#[tokio::test]
async fn rfc9051_6_4_5_implicit_seen_keeps_other_flags() {
    const MORE: usize = 10;
    let srv = with_mail().await;
    for n in 0..MORE {
        srv.deliver(
            ALICE,
            format!("Subject: {n}\r\n\r\nbody {n}\r\n").as_bytes(),
        );
    }
    let mut a = login(&srv).await;
    let mut b = login(&srv).await;
    cmd(&mut a, "a SELECT INBOX").await;
    cmd(&mut b, "b SELECT INBOX").await;
    for n in 1..=MORE + 2 {
        let (la, lb) = (
            format!("a{n} FETCH {n} BODY[]"),
            format!("b{n} STORE {n} +FLAGS.SILENT (\\Flagged)"),
        );
        tokio::join!(cmd(&mut a, &la), cmd(&mut b, &lb));
    }
    let mut c = login(&srv).await;
    cmd(&mut c, "c1 EXAMINE INBOX").await;
    let f = cmd(&mut c, "c2 FETCH 1:* FLAGS").await;
    let both = f
        .iter()
        .filter(|l| l.contains("FLAGS (\\Seen \\Flagged)"))
        .count();
    assert_eq!(both, MORE + 2, "{f:?}");
}

/// RFC 9051 §6.4.4: SEARCH keys, combined.
#[tokio::test]
async fn rfc9051_6_4_4_search_keys() {
    let srv = with_mail().await;
    // Encoded words and a quoted-printable body: searched decoded.
    srv.deliver(
        ALICE,
        b"From: =?utf-8?q?J=C3=B6ran?= <j@example.test>\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
gr=C3=BC=C3=9Fe\r\n",
    );
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    for (query, hits) in [
        ("ALL", "1 2 3"),
        ("1", "1"),
        ("2:*", "2 3"),
        ("UID 2", "2"),
        ("NOT UID 2", "1 3"),
        ("HEADER Message-ID <1@example.test>", "1"),
        ("HEADER X-Missing \"\"", ""),
        ("FROM BOB", "1"),
        ("TO alice", "1"),
        ("SUBJECT SECOND", "2"),
        ("BODY \"first body\"", "1"),
        ("TEXT carol", "2"),
        ("LARGER 200", "2"),
        ("SMALLER 200", "1 3"),
        ("SENTBEFORE 1-Jan-2000", "1"),
        ("SENTON 7-Feb-1994", "1"),
        ("SINCE 1-Jan-2000", "1 2 3"),
        ("BEFORE 1-Jan-2000", ""),
        ("OR SUBJECT first SUBJECT second", "1 2"),
        ("(UNSEEN UNFLAGGED) UNDELETED", "1 2 3"),
        // Message 3 arrived after the last SELECT: \Recent here.
        ("NEW", "3"),
        ("RECENT", "3"),
        ("OLD", "1 2"),
        ("CHARSET UTF-8 SUBJECT first", "1"),
        ("CHARSET UTF-8 SUBJECT \"café\"", "3"),
        ("FROM \"Jöran\"", "3"),
        ("BODY \"grüße\"", "3"),
        ("TEXT \"grüße\"", "3"),
    ] {
        let s = cmd(&mut c, &format!("s SEARCH {query}")).await;
        let want = if hits.is_empty() {
            "* SEARCH".to_owned()
        } else {
            format!("* SEARCH {hits}")
        };
        assert_eq!(s[0], want, "SEARCH {query}");
    }
    let bad = any(&mut c, "t SEARCH CHARSET KOI8-R ALL").await;
    assert!(bad[0].contains("[BADCHARSET"), "{bad:?}");
}

/// RFC 9051 §7.5.2: BODYSTRUCTURE of a message/rfc822 inside a multipart,
/// with the encapsulated envelope, body and line count; BODY[2.1] and
/// BODY[2.HEADER] reach into it.
#[tokio::test]
async fn rfc9051_7_5_2_nested_bodystructure() {
    let srv = with_mail().await;
    srv.deliver(
        ALICE,
        b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: inner\r\nFrom: d@example.test\r\n\r\ninner body\r\n--o--\r\n",
    );
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let f = cmd(&mut c, "b FETCH 3 BODYSTRUCTURE").await;
    assert!(has(&f, "BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 2 1 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 50 (NIL \"inner\" ((NIL NIL \"d\" \"example.test\")) ((NIL NIL \"d\" \"example.test\")) ((NIL NIL \"d\" \"example.test\")) NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"o\") NIL NIL NIL)"), "{f:?}");
    let f = cmd(
        &mut c,
        "c FETCH 3 (BODY.PEEK[2.1] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)] BODY)",
    )
    .await;
    assert!(has(&f, "BODY[2.1] {10}") && has(&f, "inner body"), "{f:?}");
    assert!(has(&f, "BODY[2.HEADER.FIELDS (SUBJECT)] {18}"), "{f:?}");
    assert!(
        has(
            &f,
            "BODY ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 2 1)("
        ),
        "{f:?}"
    );
}

/// RFC 9051 §6.3.12: APPEND to the selected mailbox reports EXISTS at
/// once; §6.3.2: after ENABLE IMAP4rev2, SELECT sends the LIST response.
#[tokio::test]
async fn rfc9051_append_to_selected_and_rev2_select() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a ENABLE IMAP4rev2").await;
    let s = cmd(&mut c, "b SELECT INBOX").await;
    assert!(s.contains(&"* LIST () \"/\" \"INBOX\"".to_owned()), "{s:?}");
    assert!(!s.iter().any(|l| l.contains("RECENT")), "{s:?}");
    let ap = cmd(&mut c, "c APPEND INBOX {12+}\r\nSubject: x\r\n").await;
    assert_eq!(ap[0], "* 3 EXISTS");
    assert!(ap[1].starts_with("c OK [APPENDUID "), "{ap:?}");
    let s = cmd(&mut c, "d SEARCH ALL").await;
    assert_eq!(s[0], "* ESEARCH (TAG \"d\") ALL 1:3");
}
