//! RFC 5258 (LIST-EXTENDED): selection and return options, several
//! patterns, and CHILDINFO.

use crate::helpers::{any, cmd, has, login, with_mail};
use crate::wire::{lists, parse_one};

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

/// RFC 5258 §3: several patterns in one LIST, each mailbox listed once.
#[tokio::test]
async fn rfc5258_3_several_patterns() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let l = cmd(&mut c, "a LIST \"\" (\"INBOX\" \"Sent\" \"S*\")").await;
    let mut names: Vec<String> = lists(&l, "LIST").into_iter().map(|l| l.name).collect();
    names.sort();
    assert_eq!(names, ["INBOX", "Sent"], "{l:?}");
}

/// RFC 5258 §3.1 and §4 (example 5): with (SUBSCRIBED RECURSIVEMATCH) and
/// `%`, a level that is not itself subscribed but has a subscribed
/// descendant is listed, without \Subscribed, with the extended data
/// `("CHILDINFO" ("SUBSCRIBED"))`.
#[tokio::test]
async fn rfc5258_3_1_recursivematch_reports_childinfo() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a CREATE Work/Reports").await;
    cmd(&mut c, "b SUBSCRIBE Work/Reports").await;
    let l = cmd(&mut c, "c LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %").await;
    let l = lists(&l, "LIST");
    let work = l
        .iter()
        .find(|e| e.name == "Work")
        .unwrap_or_else(|| panic!("Work not listed: {l:?}"));
    assert!(!work.has("\\Subscribed"), "{work:?}");
    assert_eq!(
        work.extended,
        [parse_one("(\"CHILDINFO\" (\"SUBSCRIBED\"))")],
        "{work:?}"
    );
    assert!(
        !l.iter().any(|e| e.name == "Work/Reports"),
        "% is one level: {l:?}"
    );
}

/// RFC 5258 §3.1: RECURSIVEMATCH alone (without a selection option it
/// modifies) is a syntax error.
#[tokio::test]
async fn rfc5258_3_1_recursivematch_alone_is_bad() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let bad = any(&mut c, "a LIST (RECURSIVEMATCH) \"\" %").await;
    assert!(bad.last().unwrap().starts_with("a BAD"), "{bad:?}");
}

/// RFC 5258 §3.4 (RETURN (CHILDREN)): every mailbox says whether it has
/// children, and says it right.
#[tokio::test]
async fn rfc5258_3_4_return_children() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a CREATE Work/Reports").await;
    cmd(&mut c, "b CREATE Solo").await;
    let l = cmd(&mut c, "c LIST \"\" * RETURN (CHILDREN)").await;
    for entry in lists(&l, "LIST") {
        let children = entry.name == "Work";
        assert_eq!(entry.has("\\HasChildren"), children, "{entry:?}");
        assert_eq!(entry.has("\\HasNoChildren"), !children, "{entry:?}");
    }
    assert!(has(&l, "\"Solo\""), "{l:?}");
}
