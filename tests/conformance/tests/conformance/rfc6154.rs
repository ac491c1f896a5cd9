//! RFC 6154 (SPECIAL-USE and CREATE-SPECIAL-USE).

use crate::helpers::{any, cmd, login, with_mail};
use crate::wire::lists;

/// RFC 6154 §2 and §4: RETURN (SPECIAL-USE) gives each special mailbox
/// its attribute and no other mailbox one; the (SPECIAL-USE) selection
/// lists only the special mailboxes.
#[tokio::test]
async fn rfc6154_2_special_use_attributes() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let uses = [
        "\\All",
        "\\Archive",
        "\\Drafts",
        "\\Flagged",
        "\\Junk",
        "\\Sent",
        "\\Trash",
    ];
    let l = cmd(&mut c, "a LIST \"\" * RETURN (SPECIAL-USE)").await;
    let all = lists(&l, "LIST");
    for (name, attribute) in [
        ("Archive", "\\Archive"),
        ("Drafts", "\\Drafts"),
        ("Junk", "\\Junk"),
        ("Sent", "\\Sent"),
        ("Trash", "\\Trash"),
        ("INBOX", ""),
    ] {
        let entry = all.iter().find(|e| e.name == name).unwrap();
        for u in uses {
            assert_eq!(entry.has(u), u == attribute, "{u} on {entry:?}");
        }
    }
    let l = cmd(&mut c, "b LIST (SPECIAL-USE) \"\" *").await;
    let special = lists(&l, "LIST");
    assert_eq!(special.len(), 5, "{l:?}");
    assert!(
        special.iter().all(|e| uses.iter().any(|u| e.has(u))),
        "{l:?}"
    );
}

/// RFC 6154 §3 (CREATE-SPECIAL-USE): CREATE with USE gives the new
/// mailbox that attribute; a use the server cannot give is refused with
/// `NO [USEATTR]`, and then the mailbox is not created at all.
#[tokio::test]
async fn rfc6154_3_create_with_use() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a CREATE Outbox (USE (\\Sent))").await;
    let l = cmd(&mut c, "b LIST \"\" Outbox RETURN (SPECIAL-USE)").await;
    let l = lists(&l, "LIST");
    assert!(l.len() == 1 && l[0].has("\\Sent"), "{l:?}");
    let no = any(&mut c, "c CREATE Stars (USE (\\Important))").await;
    let last = no.last().unwrap();
    if last.starts_with("c NO") {
        assert!(last.starts_with("c NO [USEATTR]"), "{no:?}");
        let l = cmd(&mut c, "d LIST \"\" Stars").await;
        assert!(lists(&l, "LIST").is_empty(), "created anyway: {l:?}");
    } else {
        assert!(last.starts_with("c OK"), "{no:?}");
    }
}
