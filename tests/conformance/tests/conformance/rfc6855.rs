//! RFC 6855 (UTF8=ACCEPT): UTF-8 in quoted strings and mailbox names.

use crate::helpers::{any, cmd, login, with_mail, ALICE};
use crate::wire::{lists, search};

/// RFC 6855 §3: ENABLE UTF8=ACCEPT is answered with ENABLED; from then on
/// quoted strings may hold UTF-8 (mailbox names, SEARCH strings without
/// CHARSET), and names come back in UTF-8, never modified UTF-7.
#[tokio::test]
async fn rfc6855_3_utf8_accept() {
    let srv = with_mail().await;
    srv.deliver(
        ALICE,
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nx\r\n".as_bytes(),
    );
    let mut c = login(&srv).await;
    let e = cmd(&mut c, "a ENABLE UTF8=ACCEPT").await;
    assert_eq!(e[0], "* ENABLED UTF8=ACCEPT", "{e:?}");
    cmd(&mut c, "b CREATE \"Ünïcode/Straße\"").await;
    let l = cmd(&mut c, "c LIST \"\" \"Ü*\"").await;
    let mut names: Vec<String> = lists(&l, "LIST").into_iter().map(|e| e.name).collect();
    names.sort();
    assert_eq!(names, ["Ünïcode", "Ünïcode/Straße"], "{l:?}");
    cmd(&mut c, "d SELECT \"Ünïcode/Straße\"").await;
    cmd(&mut c, "e SELECT INBOX").await;
    let s = cmd(&mut c, "f SEARCH SUBJECT \"grüße\"").await;
    assert_eq!(search(&s), [3], "{s:?}");
    let st = any(&mut c, "g STATUS \"Ünïcode/Straße\" (MESSAGES)").await;
    assert!(st.last().unwrap().starts_with("g OK"), "{st:?}");
}
