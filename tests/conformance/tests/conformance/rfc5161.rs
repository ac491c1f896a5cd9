//! RFC 5161 (ENABLE).

use crate::helpers::{any, cmd, imaps, login, with_mail};

/// RFC 5161 §3.1 and §3.2: ENABLE answers ENABLED with the extensions it
/// turned on, nothing for one it does not know; it is valid only after
/// login.
#[tokio::test]
async fn rfc5161_3_enable() {
    let srv = with_mail().await;
    let mut pre = imaps(&srv).await;
    let bad = any(&mut pre, "a ENABLE CONDSTORE").await;
    let last = bad.last().unwrap();
    assert!(
        last.starts_with("a BAD") || last.starts_with("a NO"),
        "{bad:?}"
    );
    let mut c = login(&srv).await;
    let e = cmd(&mut c, "b ENABLE X-UNKNOWN").await;
    assert_eq!(e[0], "* ENABLED", "{e:?}");
    let e = cmd(&mut c, "c ENABLE CONDSTORE X-UNKNOWN").await;
    assert_eq!(e[0], "* ENABLED CONDSTORE", "{e:?}");
    cmd(&mut c, "d SELECT INBOX").await;
    let f = cmd(&mut c, "e FETCH 1 FLAGS").await;
    assert!(f[0].contains("MODSEQ ("), "CONDSTORE is on: {f:?}");
}
