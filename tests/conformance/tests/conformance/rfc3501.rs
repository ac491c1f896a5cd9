//! RFC 3501 (IMAP4rev1): what rev1 has that rev2 changed: \Recent, and
//! mailbox names in modified UTF-7.

use crate::helpers::{any, cmd, has, login, with_mail, ALICE};
use crate::wire::lists;

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

/// RFC 3501 §5.1.3: without UTF8=ACCEPT or IMAP4rev2, names go both ways
/// in modified UTF-7: one created as `Entw&APw-rfe` is listed so, one
/// created in UTF-8 by an IMAP4rev2 session is listed encoded, and the
/// encoded name selects it; `&-` stands for `&`.
#[tokio::test]
async fn rfc3501_5_1_3_modified_utf7_names() {
    let srv = with_mail().await;
    let mut rev2 = login(&srv).await;
    cmd(&mut rev2, "a ENABLE IMAP4rev2").await;
    cmd(&mut rev2, "b CREATE \"Café\"").await;
    cmd(&mut rev2, "c CREATE \"R&D\"").await;
    let mut c = login(&srv).await;
    cmd(&mut c, "d CREATE \"Entw&APw-rfe\"").await;
    let l = cmd(&mut c, "e LIST \"\" *").await;
    let mut names: Vec<String> = lists(&l, "LIST").into_iter().map(|e| e.name).collect();
    names.retain(|n| ["Caf", "Entw", "R&"].iter().any(|p| n.starts_with(p)));
    names.sort();
    assert_eq!(names, ["Caf&AOk-", "Entw&APw-rfe", "R&-D"], "{l:?}");
    cmd(&mut c, "f SELECT \"Caf&AOk-\"").await;
    cmd(&mut c, "g SELECT \"R&-D\"").await;
    let l = cmd(&mut rev2, "h LIST \"\" Entw*").await;
    assert_eq!(lists(&l, "LIST")[0].name, "Entwürfe", "{l:?}");
}

/// RFC 3501 §9 (formal syntax): a quoted string is 7-bit (`CHAR`), so a
/// mailbox name with raw 8-bit octets in quotes is a syntax error before
/// UTF8=ACCEPT; so is a modified UTF-7 sequence that does not decode
/// (RFC 3501 §5.1.3).
#[tokio::test]
async fn rfc3501_9_eight_bit_quoted_names_are_bad() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let bad = any(&mut c, "a CREATE \"Café\"").await;
    assert!(bad.last().unwrap().starts_with("a BAD"), "{bad:?}");
    let bad = any(&mut c, "b CREATE \"&Jjo\"").await;
    let last = bad.last().unwrap();
    assert!(
        last.starts_with("b BAD") || last.starts_with("b NO"),
        "{bad:?}"
    );
    let l = cmd(&mut c, "c LIST \"\" *").await;
    assert!(!has(&l, "Caf") && !has(&l, "&Jjo"), "{l:?}");
}
