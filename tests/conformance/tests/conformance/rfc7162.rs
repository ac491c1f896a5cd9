//! RFC 7162 (CONDSTORE, QRESYNC): MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE.

use crate::helpers::{cmd, has, login, with_mail};

/// RFC 7162 §3.1 (CONDSTORE): MODSEQ grows with each change, CHANGEDSINCE
/// selects what changed, UNCHANGEDSINCE refuses a stale STORE with
/// MODIFIED, and SEARCH MODSEQ reports the highest.
#[tokio::test]
async fn rfc7162_3_1_condstore() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX (CONDSTORE)").await;
    let f = cmd(&mut c, "b FETCH 1:* (MODSEQ)").await;
    let modseq = |line: &str| -> u64 {
        let start = line.find("MODSEQ (").unwrap() + 8;
        line[start..].split(')').next().unwrap().parse().unwrap()
    };
    let before = modseq(&f[0]).max(modseq(&f[1]));
    let st = cmd(&mut c, "c STORE 1 +FLAGS (\\Flagged)").await;
    let after = modseq(&st[0]);
    assert!(after > before, "{st:?}");
    let f = cmd(
        &mut c,
        &format!("d FETCH 1:* (FLAGS) (CHANGEDSINCE {before})"),
    )
    .await;
    assert_eq!(f.len(), 2, "only message 1 changed: {f:?}");
    let st = cmd(
        &mut c,
        &format!("e STORE 1,2 (UNCHANGEDSINCE {before}) +FLAGS (\\Seen)"),
    )
    .await;
    assert!(
        st.last().unwrap().starts_with("e OK [MODIFIED 1]"),
        "{st:?}"
    );
    assert!(has(&st, "* 2 FETCH (FLAGS (\\Seen) MODSEQ ("), "{st:?}");
    let s = cmd(&mut c, &format!("f SEARCH MODSEQ {after}")).await;
    assert!(s[0].starts_with("* SEARCH 1 2 (MODSEQ "), "{s:?}");
    // Another session: STATUS HIGHESTMODSEQ enables CONDSTORE, so FETCH
    // reports MODSEQ from then on.
    let mut d = login(&srv).await;
    cmd(&mut d, "g SELECT INBOX").await;
    let f = cmd(&mut d, "h FETCH 1 FLAGS").await;
    assert!(!has(&f, "MODSEQ"), "{f:?}");
    cmd(&mut d, "i STATUS Trash (HIGHESTMODSEQ)").await;
    let f = cmd(&mut d, "j FETCH 1 FLAGS").await;
    assert!(has(&f, "MODSEQ ("), "{f:?}");
}

/// RFC 7162 §3.1.3: UNCHANGEDSINCE is checked against the message as
/// stored, not as this session last saw it: a change by another session
/// that this one has not heard of yet still refuses the STORE with
/// MODIFIED, and the refused flag is not set.
#[tokio::test]
async fn rfc7162_3_1_3_unchangedsince_sees_other_sessions() {
    let srv = with_mail().await;
    let mut a = login(&srv).await;
    let mut b = login(&srv).await;
    cmd(&mut a, "a1 SELECT INBOX (CONDSTORE)").await;
    cmd(&mut b, "b1 SELECT INBOX").await;
    let f = cmd(&mut a, "a2 FETCH 1:2 (MODSEQ)").await;
    let modseq = |line: &str| -> u64 {
        let start = line.find("MODSEQ (").unwrap() + 8;
        line[start..].split(')').next().unwrap().parse().unwrap()
    };
    let seen = modseq(&f[0]).max(modseq(&f[1]));
    cmd(&mut b, "b2 STORE 1 +FLAGS.SILENT (\\Flagged)").await;
    let st = cmd(
        &mut a,
        &format!("a3 STORE 1:2 (UNCHANGEDSINCE {seen}) +FLAGS.SILENT (\\Seen)"),
    )
    .await;
    assert!(
        st.last().unwrap().starts_with("a3 OK [MODIFIED 1]"),
        "{st:?}"
    );
    assert!(has(&st, "* 2 FETCH (FLAGS (\\Seen) MODSEQ ("), "{st:?}");
    let st = cmd(
        &mut a,
        &format!("a4 UID STORE 1 (UNCHANGEDSINCE {seen}) FLAGS (\\Deleted)"),
    )
    .await;
    assert!(
        st.last().unwrap().starts_with("a4 OK [MODIFIED 1]"),
        "{st:?}"
    );
    let f = cmd(&mut a, "a5 FETCH 1 FLAGS").await;
    assert!(has(&f, "FLAGS (\\Flagged) MODSEQ"), "{f:?}");
}
