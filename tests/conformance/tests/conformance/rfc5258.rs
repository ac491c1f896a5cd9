//! RFC 5258 (LIST-EXTENDED), RFC 5819 (LIST-STATUS), RFC 6154
//! (SPECIAL-USE) and the other listing extensions.

use crate::helpers::{any, cmd, has, login, with_mail};

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
