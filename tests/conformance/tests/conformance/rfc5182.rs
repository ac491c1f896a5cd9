//! RFC 5182 (SEARCHRES): the saved search result `$`.

use crate::helpers::{cmd, login, with_mail};

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
