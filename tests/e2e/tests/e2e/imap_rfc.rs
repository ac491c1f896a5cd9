//! IMAP conformance, named by RFC section: wire-only checks of the
//! responses the RFCs prescribe, over implicit TLS.

use super::{any, cmd, has, login, with_mail, ALICE, FIRST, SECOND};

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

/// RFC 4315 §3 (UIDPLUS) and RFC 6851 §4.3 (MOVE): APPENDUID, COPYUID
/// with the source and destination UID sets, and UID EXPUNGE touching
/// only the named UIDs.
#[tokio::test]
async fn rfc4315_rfc6851_uidplus_and_move() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let s = cmd(&mut c, "a SELECT Trash").await;
    let validity = s
        .iter()
        .find_map(|l| l.strip_prefix("* OK [UIDVALIDITY "))
        .and_then(|l| l.split(']').next())
        .unwrap()
        .to_owned();
    cmd(&mut c, "b SELECT INBOX").await;
    let cp = cmd(&mut c, "c COPY 1:2 Trash").await;
    assert!(
        cp[0].starts_with(&format!("c OK [COPYUID {validity} 1:2 1,2]")),
        "{cp:?}"
    );
    let mv = cmd(&mut c, "d MOVE 2 Trash").await;
    assert_eq!(mv[0], format!("* OK [COPYUID {validity} 2 3] Moved"));
    assert_eq!(mv[1], "* 2 EXPUNGE");
    cmd(&mut c, "e SELECT Trash").await;
    cmd(&mut c, "f STORE 1:* +FLAGS.SILENT (\\Deleted)").await;
    let ex = cmd(&mut c, "g UID EXPUNGE 2").await;
    assert_eq!(ex[0], "* 2 EXPUNGE", "{ex:?}");
    assert_eq!(ex.len(), 2, "{ex:?}");
}

/// RFC 6851 §3.3: a MOVE that cannot complete moves nothing (over quota,
/// both messages stay and the target gets no copy); one that completes
/// sends COPYUID in an untagged OK, then the EXPUNGEs, and another session
/// sees the messages arrive in the target.
#[tokio::test]
async fn rfc6851_3_3_move_is_all_or_nothing() {
    let srv = with_mail().await;
    let store = srv.server().store().clone();
    let alice = store.account(ALICE).unwrap().unwrap();
    let used = (FIRST.len() + SECOND.len()) as u64;
    store.set_quota(alice.id, used + 1).unwrap();
    let mut c = login(&srv).await;
    let mut other = login(&srv).await;
    cmd(&mut other, "o1 SELECT Archive").await;
    cmd(&mut c, "a SELECT INBOX").await;
    let no = any(&mut c, "b MOVE 1:2 Archive").await;
    assert!(no.last().unwrap().starts_with("b NO [OVERQUOTA]"), "{no:?}");
    assert!(!has(&no, "EXPUNGE") && !has(&no, "COPYUID"), "{no:?}");
    let st = cmd(&mut c, "c STATUS Archive (MESSAGES)").await;
    assert!(has(&st, "(MESSAGES 0)"), "{st:?}");
    let f = cmd(&mut c, "d FETCH 1:* UID").await;
    assert!(has(&f, "* 2 FETCH (UID 2)"), "{f:?}");

    store.set_quota(alice.id, 0).unwrap();
    let mv = cmd(&mut c, "e MOVE 1:2 Archive").await;
    assert!(
        mv[0].starts_with("* OK [COPYUID ") && mv[0].ends_with(" 1:2 1,2] Moved"),
        "{mv:?}"
    );
    assert_eq!(mv[1..3], ["* 2 EXPUNGE", "* 1 EXPUNGE"], "{mv:?}");
    assert_eq!(mv.len(), 4, "{mv:?}");
    let n = cmd(&mut other, "o2 NOOP").await;
    assert!(has(&n, "* 2 EXISTS"), "{n:?}");
    let st = cmd(&mut c, "f STATUS INBOX (MESSAGES)").await;
    assert!(has(&st, "(MESSAGES 0)"), "{st:?}");
}

/// RFC 7162 §3.1 (CONDSTORE): MODSEQ grows with each change, CHANGEDSINCE
/// selects what changed, UNCHANGEDSINCE refuses a stale STORE with
/// MODIFIED, and SEARCH MODSEQ reports the highest.
#[tokio::test]
async fn rfc7162_3_1_condstore() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX (CONDSTORE)").await;
    let f = cmd(&mut c, "b FETCH 1:* (MODSEQ)").await;
    let modseq = |line: &str| -> u64 {
        let start = line.find("MODSEQ (").unwrap() + 8;
        line[start..].split(')').next().unwrap().parse().unwrap()
    };
    let before = modseq(&f[0]).max(modseq(&f[1]));
    let st = cmd(&mut c, "c STORE 1 +FLAGS (\\Flagged)").await;
    let after = modseq(&st[0]);
    assert!(after > before, "{st:?}");
    let f = cmd(
        &mut c,
        &format!("d FETCH 1:* (FLAGS) (CHANGEDSINCE {before})"),
    )
    .await;
    assert_eq!(f.len(), 2, "only message 1 changed: {f:?}");
    let st = cmd(
        &mut c,
        &format!("e STORE 1,2 (UNCHANGEDSINCE {before}) +FLAGS (\\Seen)"),
    )
    .await;
    assert!(
        st.last().unwrap().starts_with("e OK [MODIFIED 1]"),
        "{st:?}"
    );
    assert!(has(&st, "* 2 FETCH (FLAGS (\\Seen) MODSEQ ("), "{st:?}");
    let s = cmd(&mut c, &format!("f SEARCH MODSEQ {after}")).await;
    assert!(s[0].starts_with("* SEARCH 1 2 (MODSEQ "), "{s:?}");
    // Another session: STATUS HIGHESTMODSEQ enables CONDSTORE, so FETCH
    // reports MODSEQ from then on.
    let mut d = login(&srv).await;
    cmd(&mut d, "g SELECT INBOX").await;
    let f = cmd(&mut d, "h FETCH 1 FLAGS").await;
    assert!(!has(&f, "MODSEQ"), "{f:?}");
    cmd(&mut d, "i STATUS Trash (HIGHESTMODSEQ)").await;
    let f = cmd(&mut d, "j FETCH 1 FLAGS").await;
    assert!(has(&f, "MODSEQ ("), "{f:?}");
}

/// RFC 7162 §3.1.3: UNCHANGEDSINCE is checked against the message as
/// stored, not as this session last saw it: a change by another session
/// that this one has not heard of yet still refuses the STORE with
/// MODIFIED, and the refused flag is not set.
#[tokio::test]
async fn rfc7162_3_1_3_unchangedsince_sees_other_sessions() {
    let srv = with_mail().await;
    let mut a = login(&srv).await;
    let mut b = login(&srv).await;
    cmd(&mut a, "a1 SELECT INBOX (CONDSTORE)").await;
    cmd(&mut b, "b1 SELECT INBOX").await;
    let f = cmd(&mut a, "a2 FETCH 1:2 (MODSEQ)").await;
    let modseq = |line: &str| -> u64 {
        let start = line.find("MODSEQ (").unwrap() + 8;
        line[start..].split(')').next().unwrap().parse().unwrap()
    };
    let seen = modseq(&f[0]).max(modseq(&f[1]));
    cmd(&mut b, "b2 STORE 1 +FLAGS.SILENT (\\Flagged)").await;
    let st = cmd(
        &mut a,
        &format!("a3 STORE 1:2 (UNCHANGEDSINCE {seen}) +FLAGS.SILENT (\\Seen)"),
    )
    .await;
    assert!(
        st.last().unwrap().starts_with("a3 OK [MODIFIED 1]"),
        "{st:?}"
    );
    assert!(has(&st, "* 2 FETCH (FLAGS (\\Seen) MODSEQ ("), "{st:?}");
    let st = cmd(
        &mut a,
        &format!("a4 UID STORE 1 (UNCHANGEDSINCE {seen}) FLAGS (\\Deleted)"),
    )
    .await;
    assert!(
        st.last().unwrap().starts_with("a4 OK [MODIFIED 1]"),
        "{st:?}"
    );
    let f = cmd(&mut a, "a5 FETCH 1 FLAGS").await;
    assert!(has(&f, "FLAGS (\\Flagged) MODSEQ"), "{f:?}");
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

/// RFC 3501 §2.3.2: a message is \\Recent in the first session to SELECT
/// its mailbox after it arrived (or to hear of it while selected), and in
/// no other; EXAMINE claims nothing; SEARCH RECENT, NEW and OLD follow.
#[tokio::test]
async fn rfc3501_2_3_2_recent_in_the_first_select_only() {
    let srv = with_mail().await;
    srv.deliver(ALICE, b"Subject: third\r\n\r\nthird\r\n");
    let mut e = login(&srv).await;
    let ex = cmd(&mut e, "e1 EXAMINE INBOX").await;
    assert!(has(&ex, "* 0 RECENT"), "{ex:?}");
    let mut a = login(&srv).await;
    let sel = cmd(&mut a, "a1 SELECT INBOX").await;
    assert!(
        has(&sel, "* 3 EXISTS") && has(&sel, "* 1 RECENT"),
        "{sel:?}"
    );
    let f = cmd(&mut a, "a2 FETCH 1:* FLAGS").await;
    assert!(has(&f, "* 1 FETCH (FLAGS ())"), "{f:?}");
    assert!(has(&f, "* 3 FETCH (FLAGS (\\Recent))"), "{f:?}");
    let s = cmd(&mut a, "a3 SEARCH RECENT").await;
    assert_eq!(s[0], "* SEARCH 3");
    let s = cmd(&mut a, "a4 SEARCH NEW").await;
    assert_eq!(s[0], "* SEARCH 3");
    let st = cmd(&mut a, "a5 STORE 3 +FLAGS (\\Seen)").await;
    assert!(has(&st, "* 3 FETCH (FLAGS (\\Seen \\Recent))"), "{st:?}");
    let s = cmd(&mut a, "a6 SEARCH NEW").await;
    assert_eq!(s[0], "* SEARCH");
    let s = cmd(&mut a, "a7 SEARCH OLD").await;
    assert_eq!(s[0], "* SEARCH 1 2");

    let mut b = login(&srv).await;
    let sel = cmd(&mut b, "b1 SELECT INBOX").await;
    assert!(has(&sel, "* 0 RECENT"), "{sel:?}");
    let f = cmd(&mut b, "b2 FETCH 3 FLAGS").await;
    assert!(has(&f, "* 3 FETCH (FLAGS (\\Seen))"), "{f:?}");
    let f = cmd(&mut e, "e2 FETCH 3 FLAGS").await;
    assert!(!has(&f, "\\Recent"), "{f:?}");

    // Arriving while selected: \\Recent in the first session to hear.
    srv.deliver(ALICE, b"Subject: fourth\r\n\r\nfourth\r\n");
    let n = cmd(&mut a, "a8 NOOP").await;
    assert!(has(&n, "* 4 EXISTS") && has(&n, "* 2 RECENT"), "{n:?}");
    let n = cmd(&mut b, "b3 NOOP").await;
    assert!(has(&n, "* 4 EXISTS") && !has(&n, "* 1 RECENT"), "{n:?}");
    let s = cmd(&mut b, "b4 SEARCH RECENT").await;
    assert_eq!(s[0], "* SEARCH");
    let f = cmd(&mut a, "a9 FETCH 4 FLAGS").await;
    assert!(has(&f, "* 4 FETCH (FLAGS (\\Recent))"), "{f:?}");
    // Selected again, nothing is new any more.
    let sel = cmd(&mut a, "a10 SELECT INBOX").await;
    assert!(has(&sel, "* 0 RECENT"), "{sel:?}");
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

/// RFC 5258 (LIST-EXTENDED), RFC 5819 (LIST-STATUS), RFC 6154
/// (SPECIAL-USE), RFC 3348 (CHILDREN), RFC 2342 (NAMESPACE), RFC 6855
/// (UTF8=ACCEPT) and modified UTF-7 names (RFC 3501 §5.1.3).
#[tokio::test]
async fn rfc5258_rfc5819_rfc6154_listing() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let l = cmd(&mut c, "a LIST (SPECIAL-USE) \"\" *").await;
    assert_eq!(l.len(), 6, "five special mailboxes: {l:?}");
    assert!(!has(&l, "\"INBOX\""), "{l:?}");
    let l = cmd(
        &mut c,
        "b LIST \"\" INBOX RETURN (STATUS (MESSAGES UNSEEN) SUBSCRIBED)",
    )
    .await;
    assert_eq!(
        l[0],
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\""
    );
    assert_eq!(l[1], "* STATUS \"INBOX\" (MESSAGES 2 UNSEEN 2)");
    cmd(&mut c, "c CREATE \"Entw&APw-rfe/2026\"").await;
    let l = cmd(&mut c, "d LIST \"\" Entw*").await;
    assert!(has(&l, "\\HasChildren) \"/\" \"Entw&APw-rfe\""), "{l:?}");
    assert!(
        has(&l, "(\\HasNoChildren) \"/\" \"Entw&APw-rfe/2026\""),
        "{l:?}"
    );
    let bad = any(&mut c, "d2 SELECT \"&Jjo\"").await;
    assert!(
        bad[0].starts_with("d2 BAD"),
        "invalid modified UTF-7: {bad:?}"
    );
    cmd(&mut c, "e ENABLE UTF8=ACCEPT").await;
    let l = cmd(&mut c, "f LIST \"\" \"Entwürfe/%\"").await;
    assert_eq!(l[0], "* LIST (\\HasNoChildren) \"/\" \"Entwürfe/2026\"");
    cmd(&mut c, "g UNSUBSCRIBE Junk").await;
    let l = cmd(&mut c, "h LSUB \"\" *").await;
    assert!(!has(&l, "\"Junk\"") && has(&l, "\"Sent\""), "{l:?}");
    let l = cmd(&mut c, "i LIST \"\" \"\"").await;
    assert_eq!(l[0], "* LIST (\\Noselect) \"/\" \"\"");
    let n = cmd(&mut c, "j NAMESPACE").await;
    assert_eq!(n[0], "* NAMESPACE ((\"\" \"/\")) NIL NIL");
}

/// RFC 9208 (QUOTA): no quota, then the account's quota in KiB.
#[tokio::test]
async fn rfc9208_quota() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let q = cmd(&mut c, "a GETQUOTAROOT INBOX").await;
    assert_eq!(q[0], "* QUOTAROOT \"INBOX\"", "no quota: no root");
    let no = any(&mut c, "b GETQUOTA \"\"").await;
    assert!(no[0].starts_with("b NO"), "{no:?}");
    let store = srv.server().store();
    let id = store.account(ALICE).unwrap().unwrap().id;
    store.set_quota(id, 10 * 1024 * 1024).unwrap();
    let q = cmd(&mut c, "c GETQUOTAROOT INBOX").await;
    assert_eq!(q[0], "* QUOTAROOT \"INBOX\" \"\"");
    assert_eq!(q[1], "* QUOTA \"\" (STORAGE 1 10240)");
    let no = any(&mut c, "d SETQUOTA \"\" (STORAGE 1)").await;
    assert!(no[0].starts_with("d NO [NOPERM]"), "{no:?}");
}

/// RFC 5256: SORT by criteria with REVERSE and ties by number; THREAD
/// ORDEREDSUBJECT and REFERENCES.
#[tokio::test]
async fn rfc5256_sort_and_thread() {
    let srv = with_mail().await;
    for (id, refs, subject, date) in [
        ("<r1@x>", "", "Re: first", "Tue, 8 Feb 1994 10:00:00 +0000"),
        (
            "<r2@x>",
            "<1@example.test> <r1@x>",
            "Re: Re: first",
            "Wed, 9 Feb 1994 10:00:00 +0000",
        ),
    ] {
        let refs = if refs.is_empty() {
            "In-Reply-To: <1@example.test>\r\n".to_owned()
        } else {
            format!("References: {refs}\r\n")
        };
        let raw = format!("Message-ID: {id}\r\n{refs}Subject: {subject}\r\nDate: {date}\r\nFrom: zed@example.test\r\n\r\nx\r\n");
        srv.deliver(ALICE, raw.as_bytes());
    }
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let s = cmd(&mut c, "b SORT (SUBJECT REVERSE DATE) UTF-8 ALL").await;
    assert_eq!(s[0], "* SORT 4 3 1 2");
    let s = cmd(&mut c, "c SORT (REVERSE SIZE) UTF-8 UNDELETED").await;
    assert_eq!(s[0], "* SORT 2 1 4 3");
    let s = cmd(&mut c, "d UID SORT (FROM) US-ASCII NOT FROM carol").await;
    assert_eq!(s[0], "* SORT 1 3 4");
    let t = cmd(&mut c, "e THREAD ORDEREDSUBJECT UTF-8 ALL").await;
    assert_eq!(t[0], "* THREAD (1 (3)(4))(2)");
    let t = cmd(&mut c, "f THREAD REFERENCES UTF-8 ALL").await;
    assert_eq!(t[0], "* THREAD (1 3 4)(2)");
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

/// More than 1000 commands in a second: the session slows down, and
/// answers every one.
#[tokio::test]
async fn a_command_flood_is_slowed_not_dropped() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let flood: String = (0..1200).map(|i| format!("n{i} NOOP\r\n")).collect();
    let start = std::time::Instant::now();
    c.send_raw(flood.as_bytes()).await;
    let lines = c.read_until("n1199 ").await;
    assert_eq!(lines.len(), 1200);
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
}

/// RFC 5182 (SEARCHRES, part of IMAP4rev2): SEARCH RETURN (SAVE) keeps
/// the result for `$`, which FETCH, STORE, SEARCH and UID EXPUNGE use.
#[tokio::test]
async fn rfc5182_searchres() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let bad = cmd(&mut c, "b FETCH $ UID").await;
    assert_eq!(bad.len(), 1, "nothing saved yet: {bad:?}");
    let s = cmd(&mut c, "c SEARCH RETURN (SAVE) SUBJECT second").await;
    assert_eq!(s.len(), 1, "SAVE alone sends no ESEARCH: {s:?}");
    let f = cmd(&mut c, "d FETCH $ (UID)").await;
    assert_eq!(f[0], "* 2 FETCH (UID 2)");
    let s = cmd(&mut c, "e SEARCH RETURN (SAVE COUNT) OR $ SUBJECT first").await;
    assert_eq!(s[0], "* ESEARCH (TAG \"e\") COUNT 2");
    cmd(&mut c, "f STORE $ +FLAGS.SILENT (\\Deleted)").await;
    let s = cmd(&mut c, "g SEARCH NOT $").await;
    assert_eq!(s[0], "* SEARCH");
    let ex = cmd(&mut c, "h UID EXPUNGE $").await;
    assert_eq!(ex[..2], ["* 2 EXPUNGE", "* 1 EXPUNGE"], "{ex:?}");
}
