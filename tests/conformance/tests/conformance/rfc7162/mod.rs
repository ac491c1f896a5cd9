//! RFC 7162 (CONDSTORE, QRESYNC): MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE;
//! QRESYNC in `qresync`.

mod qresync;

use crate::helpers::{any, cmd, code, has, login, with_five, with_mail, Client, ALICE};
use crate::wire::{esearch, expand, fetch_of, fetches, status, Fetch};

/// A message's `MODSEQ (n)` (RFC 7162 §3.1.4).
pub(crate) fn modseq(f: &Fetch) -> u64 {
    let v = f
        .item("MODSEQ")
        .list()
        .unwrap_or_else(|e| panic!("{e}: {f:?}"));
    assert_eq!(v.len(), 1, "{f:?}");
    v[0].number().unwrap_or_else(|e| panic!("{e}: {f:?}"))
}

/// HIGHESTMODSEQ as another session's STATUS reports it.
async fn highest(c: &mut Client) -> u64 {
    let st = cmd(c, "h STATUS INBOX (HIGHESTMODSEQ)").await;
    status(&st, "INBOX")[0].1
}

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

/// RFC 7162 §3.1.1 and §3.1.2.1: HIGHESTMODSEQ (in SELECT/EXAMINE with
/// CONDSTORE and in STATUS) grows with every change: a delivery, a flag
/// change, an APPEND; a changed message's MODSEQ is the new highest.
#[tokio::test]
async fn rfc7162_3_1_1_highestmodseq_grows_with_every_change() {
    let srv = with_mail().await;
    let mut a = login(&srv).await;
    let mut b = login(&srv).await;
    let s = cmd(&mut a, "a1 SELECT INBOX (CONDSTORE)").await;
    let h0: u64 = code(&s, "HIGHESTMODSEQ").unwrap().parse().unwrap();
    assert_eq!(highest(&mut b).await, h0);
    srv.deliver(ALICE, b"Subject: new\r\n\r\nx\r\n");
    let h1 = highest(&mut b).await;
    assert!(h1 > h0, "delivery: {h0} -> {h1}");
    let st = cmd(&mut a, "a2 STORE 1 +FLAGS (\\Seen)").await;
    let m = modseq(&fetch_of(&st, 1));
    assert!(m > h1, "STORE gave {m} after {h1}: {st:?}");
    assert_eq!(highest(&mut b).await, m);
    cmd(&mut b, "b1 APPEND Trash {12+}\r\nSubject: t\r\n").await;
    cmd(&mut b, "b2 APPEND INBOX {12+}\r\nSubject: i\r\n").await;
    let h2 = highest(&mut b).await;
    assert!(h2 > m, "APPEND: {m} -> {h2}");
    let f = cmd(&mut a, "a3 FETCH 1:* (MODSEQ)").await;
    let max = fetches(&f).iter().map(modseq).max().unwrap();
    assert_eq!(max, h2, "the highest is some message's MODSEQ: {f:?}");
    let e = cmd(&mut b, "b3 EXAMINE INBOX (CONDSTORE)").await;
    assert_eq!(code(&e, "HIGHESTMODSEQ"), Some(h2.to_string()), "{e:?}");
}

/// RFC 7162 §3.1.3: UNCHANGEDSINCE 0 always fails for a system flag,
/// which always exists: MODIFIED names the message and the flag is not
/// set.
#[tokio::test]
async fn rfc7162_3_1_3_unchangedsince_zero_always_fails() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX (CONDSTORE)").await;
    let st = cmd(&mut c, "b STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)").await;
    assert!(
        st.last().unwrap().starts_with("b OK [MODIFIED 1]"),
        "{st:?}"
    );
    let f = cmd(&mut c, "c FETCH 1 FLAGS").await;
    assert!(!has(&f, "\\Seen"), "{f:?}");
}

/// RFC 7162 §3.1.4: UID FETCH with CHANGEDSINCE returns only the messages
/// changed after that MODSEQ, each with its UID and MODSEQ even though
/// MODSEQ was not asked for.
#[tokio::test]
async fn rfc7162_3_1_4_uid_fetch_changedsince() {
    let srv = with_five().await;
    let mut c = login(&srv).await;
    let s = cmd(&mut c, "a SELECT INBOX (CONDSTORE)").await;
    let h: u64 = code(&s, "HIGHESTMODSEQ").unwrap().parse().unwrap();
    cmd(&mut c, "b STORE 2,4 +FLAGS.SILENT (\\Answered)").await;
    let f = cmd(
        &mut c,
        &format!("c UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h})"),
    )
    .await;
    let got = fetches(&f);
    let uids: Vec<u64> = got.iter().map(|f| f.number("UID")).collect();
    assert_eq!(uids, [2, 4], "{f:?}");
    assert!(got.iter().all(|f| modseq(f) > h), "{f:?}");
}

/// RFC 7162 §3.1.5: SEARCH MODSEQ matches messages changed at or after
/// the value and adds `(MODSEQ n)`, n the highest MODSEQ among them; no
/// match means no MODSEQ; the entry-name form is accepted; with RETURN,
/// ESEARCH carries MODSEQ as a result item.
#[tokio::test]
async fn rfc7162_3_1_5_search_modseq() {
    let srv = with_five().await;
    let mut c = login(&srv).await;
    let s = cmd(&mut c, "a SELECT INBOX (CONDSTORE)").await;
    let h: u64 = code(&s, "HIGHESTMODSEQ").unwrap().parse().unwrap();
    cmd(&mut c, "b STORE 3 +FLAGS.SILENT (\\Flagged)").await;
    let st = cmd(&mut c, "c STORE 5 +FLAGS (\\Seen)").await;
    let top = modseq(&fetch_of(&st, 5));
    let s = cmd(&mut c, &format!("d SEARCH MODSEQ {}", h + 1)).await;
    assert_eq!(s[0], format!("* SEARCH 3 5 (MODSEQ {top})"), "{s:?}");
    let s = cmd(&mut c, &format!("e SEARCH MODSEQ {}", top + 1)).await;
    assert_eq!(s[0], "* SEARCH", "{s:?}");
    let s = cmd(
        &mut c,
        &format!("f SEARCH MODSEQ \"/flags/\\\\Flagged\" all {}", h + 1),
    )
    .await;
    // A server without per-flag MODSEQs uses the message's (§3.1.5), so
    // message 5 (only \\Seen changed) may match too.
    let flagged =
        s[0].starts_with("* SEARCH 3 (MODSEQ ") || s[0].starts_with("* SEARCH 3 5 (MODSEQ ");
    assert!(flagged, "{s:?}");
    let s = cmd(
        &mut c,
        &format!("g SEARCH RETURN (ALL COUNT) MODSEQ {}", h + 1),
    )
    .await;
    let e = esearch(&s);
    assert_eq!(e.get("ALL").map(expand), Some(vec![3, 5]), "{s:?}");
    assert_eq!(e.get("COUNT"), Some("2"), "{s:?}");
    assert_eq!(e.get("MODSEQ"), Some(top.to_string().as_str()), "{s:?}");
}

/// RFC 7162 §3.1: FETCH of MODSEQ is a CONDSTORE-enabling command, after
/// which every FETCH response, asked for or not, carries MODSEQ.
#[tokio::test]
async fn rfc7162_3_1_fetch_modseq_enables_condstore() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let st = cmd(&mut c, "b STORE 1 +FLAGS (\\Flagged)").await;
    assert!(!has(&st, "MODSEQ"), "not enabled yet: {st:?}");
    let f = cmd(&mut c, "c FETCH 2 (MODSEQ)").await;
    modseq(&fetch_of(&f, 2));
    let st = cmd(&mut c, "d STORE 1 -FLAGS (\\Flagged)").await;
    modseq(&fetch_of(&st, 1));
    let no = any(&mut c, "e FETCH 1 (MODSEQ) (CHANGEDSINCE x)").await;
    assert!(no.last().unwrap().starts_with("e BAD"), "{no:?}");
}
