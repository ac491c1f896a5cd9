//! RFC 3501 (IMAP4rev1): what rev1 has that rev2 dropped (\Recent).

use crate::helpers::{cmd, has, login, with_mail, ALICE};

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
