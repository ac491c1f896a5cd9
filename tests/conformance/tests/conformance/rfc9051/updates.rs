//! RFC 9051 §7.4.1 (EXISTS) and §7.5.1 (EXPUNGE): how a selected session
//! hears of other sessions' changes, and when.

use crate::helpers::{cmd, expunge, has, login, with_five, with_mail, ALICE};
use crate::wire::{fetch_of, fetches, search};

/// RFC 9051 §7.4.1: a message delivered while a session has the mailbox
/// selected is announced with EXISTS (the new count) at the next command,
/// and then has the next UID; an APPEND by another session likewise.
#[tokio::test]
async fn rfc9051_7_4_1_exists_for_another_sessions_delivery() {
    let srv = with_mail().await;
    let mut a = login(&srv).await;
    let mut b = login(&srv).await;
    cmd(&mut a, "a1 SELECT INBOX").await;
    let uid = srv.deliver(ALICE, b"Subject: new\r\n\r\nnew\r\n");
    let n = cmd(&mut a, "a2 NOOP").await;
    assert!(n.contains(&"* 3 EXISTS".to_owned()), "{n:?}");
    let f = cmd(&mut a, "a3 FETCH 3 UID").await;
    assert_eq!(fetch_of(&f, 3).number("UID"), u64::from(uid), "{f:?}");

    cmd(&mut b, "b1 APPEND INBOX {12+}\r\nSubject: b\r\n").await;
    let n = cmd(&mut a, "a4 NOOP").await;
    assert!(n.contains(&"* 4 EXISTS".to_owned()), "{n:?}");
    assert!(!has(&n, "EXPUNGE"), "{n:?}");
}

/// RFC 9051 §7.5.1: another session's EXPUNGE is not announced while
/// this one runs FETCH, STORE or SEARCH (which use message numbers), so
/// the numbers the client knows keep meaning the same messages; at NOOP
/// the EXPUNGEs come, each number right when it is read.
#[tokio::test]
async fn rfc9051_7_5_1_expunges_wait_for_a_command_that_allows_them() {
    let srv = with_five().await;
    let mut a = login(&srv).await;
    let mut b = login(&srv).await;
    cmd(&mut a, "a1 SELECT INBOX").await;
    cmd(&mut b, "b1 SELECT INBOX").await;
    cmd(&mut a, "a2 STORE 2,4 +FLAGS.SILENT (\\Deleted)").await;
    let ex = cmd(&mut a, "a3 EXPUNGE").await;
    let mut mine = vec![1, 2, 3, 4, 5];
    expunge(&mut mine, &ex);
    assert_eq!(mine, [1, 3, 5], "{ex:?}");

    let f = cmd(&mut b, "b2 FETCH 5 UID").await;
    assert!(!has(&f, "EXPUNGE"), "{f:?}");
    assert_eq!(fetch_of(&f, 5).number("UID"), 5, "{f:?}");
    let st = cmd(&mut b, "b3 STORE 5 +FLAGS (\\Flagged)").await;
    assert!(!has(&st, "EXPUNGE"), "{st:?}");
    assert!(has(&st, "* 5 FETCH ("), "still number 5: {st:?}");
    let s = cmd(&mut b, "b4 SEARCH FLAGGED").await;
    assert!(!has(&s, "EXPUNGE"), "{s:?}");
    assert_eq!(search(&s), [5], "{s:?}");

    let n = cmd(&mut b, "b5 NOOP").await;
    let mut theirs = vec![1, 2, 3, 4, 5];
    expunge(&mut theirs, &n);
    assert_eq!(theirs, [1, 3, 5], "{n:?}");
    let f = cmd(&mut b, "b6 FETCH 1:* UID").await;
    let uids: Vec<u64> = fetches(&f).iter().map(|f| f.number("UID")).collect();
    assert_eq!(uids, [1, 3, 5], "{f:?}");
}

/// RFC 9051 §7.5.1 and §6.4.3: a session's own EXPUNGE reports every
/// removed message, and a later delivery's EXISTS counts what is left.
#[tokio::test]
async fn rfc9051_7_5_1_exists_after_expunge_counts_what_is_left() {
    let srv = with_five().await;
    let mut a = login(&srv).await;
    cmd(&mut a, "a1 SELECT INBOX").await;
    cmd(&mut a, "a2 STORE 1:3 +FLAGS.SILENT (\\Deleted)").await;
    let ex = cmd(&mut a, "a3 EXPUNGE").await;
    let mut uids = vec![1, 2, 3, 4, 5];
    expunge(&mut uids, &ex);
    assert_eq!(uids, [4, 5], "{ex:?}");
    srv.deliver(ALICE, b"Subject: later\r\n\r\nx\r\n");
    let n = cmd(&mut a, "a4 NOOP").await;
    assert!(n.contains(&"* 3 EXISTS".to_owned()), "{n:?}");
}
