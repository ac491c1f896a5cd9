//! RFC 6851 (MOVE): atomic moves and the order of their responses.

use crate::helpers::{
    any, cmd, code, expunge, has, login, with_five, with_mail, ALICE, FIRST, SECOND,
};
use crate::wire::{expand, fetch_of, parse_one};

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

/// RFC 6851 §4.3 with UIDPLUS: UID MOVE sends COPYUID in an untagged OK
/// before any EXPUNGE, then an EXPUNGE for each message moved (numbers
/// right as each is read), then the tagged OK; another session on the
/// source hears the EXPUNGEs, and one on the target the EXISTS.
#[tokio::test]
async fn rfc6851_4_3_uid_move_copyuid_first_then_expunges() {
    let srv = with_five().await;
    let mut c = login(&srv).await;
    let mut source = login(&srv).await;
    let mut target = login(&srv).await;
    cmd(&mut source, "s1 SELECT INBOX").await;
    cmd(&mut target, "t1 SELECT Trash").await;
    cmd(&mut c, "a SELECT INBOX").await;
    let mv = cmd(&mut c, "b UID MOVE 4,2 Trash").await;
    assert!(mv[0].starts_with("* OK [COPYUID "), "{mv:?}");
    let copyuid = code(&mv[..1], "COPYUID").unwrap();
    let source_set = copyuid.split(' ').nth(1).map(expand).unwrap();
    let mut sorted = source_set.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [2, 4], "{copyuid}");
    let expunges: Vec<&String> = mv.iter().filter(|l| l.ends_with(" EXPUNGE")).collect();
    assert_eq!(expunges.len(), 2, "{mv:?}");
    assert!(mv[1..3].iter().all(|l| l.ends_with(" EXPUNGE")), "{mv:?}");
    assert!(mv.last().unwrap().starts_with("b OK"), "{mv:?}");
    assert!(code(&mv[3..], "COPYUID").is_none(), "COPYUID once: {mv:?}");
    let mut uids = vec![1, 2, 3, 4, 5];
    expunge(&mut uids, &mv);
    assert_eq!(uids, [1, 3, 5], "{mv:?}");

    let n = cmd(&mut source, "s2 NOOP").await;
    let mut seen = vec![1, 2, 3, 4, 5];
    expunge(&mut seen, &n);
    assert_eq!(seen, [1, 3, 5], "{n:?}");
    let n = cmd(&mut target, "t2 NOOP").await;
    assert!(has(&n, "* 2 EXISTS"), "{n:?}");
}

/// RFC 6851 §3.3: MOVE to a mailbox that does not exist fails with
/// TRYCREATE and leaves the source alone: no EXPUNGE, no COPYUID.
#[tokio::test]
async fn rfc6851_3_3_move_to_a_missing_mailbox_moves_nothing() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let no = any(&mut c, "b MOVE 1:2 Nowhere").await;
    assert!(no.last().unwrap().starts_with("b NO [TRYCREATE]"), "{no:?}");
    assert_eq!(no.len(), 1, "{no:?}");
    let st = cmd(&mut c, "c STATUS INBOX (MESSAGES)").await;
    assert_eq!(st[0], "* STATUS \"INBOX\" (MESSAGES 2)");
}

/// RFC 6851 §3.1 (as COPY, RFC 9051 §6.4.7): the moved message keeps its
/// flags and internal date.
#[tokio::test]
async fn rfc6851_3_1_move_keeps_flags_and_internal_date() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let msg = "Subject: dated\r\n\r\nx\r\n";
    let date = "\"24-Dec-2023 18:30:00 +0000\"";
    let line = format!(
        "a APPEND Archive (\\Flagged $Later) {date} {{{}+}}\r\n{msg}",
        msg.len()
    );
    cmd(&mut c, &line).await;
    cmd(&mut c, "b SELECT Archive").await;
    cmd(&mut c, "c MOVE 1 Trash").await;
    cmd(&mut c, "d SELECT Trash").await;
    let f = cmd(&mut c, "e FETCH 1 (FLAGS INTERNALDATE)").await;
    let f = fetch_of(&f, 1);
    let mut flags: Vec<String> = f
        .item("FLAGS")
        .list()
        .unwrap()
        .iter()
        .filter_map(|v| v.text())
        .filter(|v| v != "\\Recent")
        .collect();
    flags.sort();
    assert_eq!(flags, ["$Later", "\\Flagged"], "{f:?}");
    assert_eq!(f.item("INTERNALDATE"), &parse_one(date), "{f:?}");
}
