//! RFC 6851 (MOVE): atomic moves and the order of their responses.

use crate::helpers::{any, cmd, has, login, with_mail, ALICE, FIRST, SECOND};

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
