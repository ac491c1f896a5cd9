//! RFC 7162 §3.2 (QRESYNC): quick resynchronisation, and VANISHED in
//! place of EXPUNGE once it is enabled.

use super::modseq;
use crate::helpers::{any, cmd, code, has, login, with_five, Client};
use crate::wire::{expand, fetches, status};

/// A logged-in session with QRESYNC enabled (§3.2.3: ENABLED names it).
async fn qresync(srv: &postern_testkit::TestServer) -> Client {
    let mut c = login(srv).await;
    let e = cmd(&mut c, "q ENABLE QRESYNC").await;
    let enabled = e.iter().find(|l| l.starts_with("* ENABLED")).unwrap();
    assert!(enabled.split(' ').any(|w| w == "QRESYNC"), "{e:?}");
    c
}

/// The VANISHED responses among `lines` (§3.2.10, §7): whether each is
/// `(EARLIER)`, and its UIDs.
fn vanished(lines: &[String]) -> Vec<(bool, Vec<u32>)> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("* VANISHED "))
        .map(|rest| match rest.strip_prefix("(EARLIER) ") {
            Some(set) => (true, expand(set)),
            None => (false, expand(rest)),
        })
        .collect()
}

fn untagged_expunge(lines: &[String]) -> bool {
    lines
        .iter()
        .any(|l| l.starts_with("* ") && l.ends_with(" EXPUNGE"))
}

/// The number in `[HIGHESTMODSEQ n]`.
fn highest(lines: &[String]) -> u64 {
    code(lines, "HIGHESTMODSEQ")
        .unwrap_or_else(|| panic!("no HIGHESTMODSEQ: {lines:?}"))
        .parse()
        .unwrap()
}

/// RFC 7162 §3.2.3: ENABLE QRESYNC turns CONDSTORE on as well (MODSEQ in
/// every FETCH); §3.2.5: the QRESYNC SELECT parameter is BAD unless
/// QRESYNC was enabled first.
#[tokio::test]
async fn rfc7162_3_2_3_enable_qresync_implies_condstore() {
    let srv = with_five().await;
    let mut plain = login(&srv).await;
    let bad = any(&mut plain, "a SELECT INBOX (QRESYNC (1 1))").await;
    assert!(bad.last().unwrap().starts_with("a BAD"), "{bad:?}");
    let mut c = qresync(&srv).await;
    cmd(&mut c, "b SELECT INBOX").await;
    let f = cmd(&mut c, "c FETCH 1 FLAGS").await;
    modseq(&fetches(&f)[0]);
}

/// RFC 7162 §3.2.5.1: a client back with the UIDVALIDITY and
/// HIGHESTMODSEQ it cached is told, before the tagged OK, which UIDs
/// vanished since (`VANISHED (EARLIER)`, never EXPUNGE) and which
/// messages changed or arrived since (FETCH with UID, FLAGS and MODSEQ);
/// numbers and EXISTS describe the mailbox as it is now.
#[tokio::test]
async fn rfc7162_3_2_5_select_qresync_reports_what_changed() {
    let srv = with_five().await;
    let mut first = qresync(&srv).await;
    let s = cmd(&mut first, "a SELECT INBOX").await;
    let validity = code(&s, "UIDVALIDITY").unwrap();
    let cached = highest(&s);
    cmd(&mut first, "b LOGOUT").await;

    let mut other = login(&srv).await;
    cmd(&mut other, "o1 SELECT INBOX").await;
    cmd(&mut other, "o2 STORE 3 +FLAGS.SILENT (\\Flagged)").await;
    cmd(&mut other, "o3 STORE 2,4 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut other, "o4 EXPUNGE").await;
    cmd(&mut other, "o5 APPEND INBOX {12+}\r\nSubject: n\r\n").await;

    let mut back = qresync(&srv).await;
    let s = cmd(
        &mut back,
        &format!("c SELECT INBOX (QRESYNC ({validity} {cached}))"),
    )
    .await;
    assert!(!untagged_expunge(&s), "{s:?}");
    let v = vanished(&s);
    assert_eq!(v.len(), 1, "{s:?}");
    assert!(v[0].0, "VANISHED (EARLIER) on SELECT: {s:?}");
    assert_eq!(v[0].1, [2, 4], "{s:?}");
    assert!(s.contains(&"* 4 EXISTS".to_owned()), "{s:?}");
    let changed = fetches(&s);
    let mut uids: Vec<(u32, u64)> = changed.iter().map(|f| (f.seq, f.number("UID"))).collect();
    uids.sort_unstable();
    assert_eq!(uids, [(2, 3), (4, 6)], "numbers now, UIDs changed: {s:?}");
    for f in &changed {
        assert!(modseq(f) > cached, "{f:?}");
        f.item("FLAGS");
    }
    let flagged = changed.iter().find(|f| f.number("UID") == 3).unwrap();
    assert!(
        format!("{:?}", flagged.item("FLAGS")).contains("\\Flagged"),
        "{flagged:?}"
    );
    assert!(highest(&s) > cached, "{s:?}");
}

/// RFC 7162 §3.2.5: with a UIDVALIDITY that no longer matches, the
/// QRESYNC parameter changes nothing: no VANISHED, no FETCH, a plain
/// SELECT.
#[tokio::test]
async fn rfc7162_3_2_5_stale_uidvalidity_is_a_plain_select() {
    let srv = with_five().await;
    let mut c = qresync(&srv).await;
    let s = cmd(&mut c, "a EXAMINE INBOX").await;
    let validity: u64 = code(&s, "UIDVALIDITY").unwrap().parse().unwrap();
    cmd(&mut c, "b UNSELECT").await;
    let s = cmd(
        &mut c,
        &format!("c SELECT INBOX (QRESYNC ({} 1))", validity + 1),
    )
    .await;
    assert!(vanished(&s).is_empty() && fetches(&s).is_empty(), "{s:?}");
    assert!(s.contains(&"* 5 EXISTS".to_owned()), "{s:?}");
}

/// RFC 7162 §3.2.6: UID FETCH with (CHANGEDSINCE n VANISHED) reports the
/// UIDs removed since n as `VANISHED (EARLIER)`, then the FETCH responses
/// of the messages changed since n (an unsolicited update may come
/// earlier too); VANISHED needs CHANGEDSINCE and is for UID FETCH only.
#[tokio::test]
async fn rfc7162_3_2_6_uid_fetch_vanished() {
    let srv = with_five().await;
    let mut c = qresync(&srv).await;
    let s = cmd(&mut c, "a SELECT INBOX").await;
    let since = highest(&s);
    let mut other = login(&srv).await;
    cmd(&mut other, "o1 SELECT INBOX").await;
    cmd(&mut other, "o2 STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut other, "o3 EXPUNGE").await;
    cmd(&mut other, "o4 UID STORE 4 +FLAGS.SILENT (\\Answered)").await;
    let f = cmd(
        &mut c,
        &format!("b UID FETCH 1:* (FLAGS) (CHANGEDSINCE {since} VANISHED)"),
    )
    .await;
    assert!(!untagged_expunge(&f), "{f:?}");
    let earlier = f
        .iter()
        .position(|l| l.starts_with("* VANISHED (EARLIER) "))
        .unwrap_or_else(|| panic!("no VANISHED (EARLIER): {f:?}"));
    assert!(
        vanished(&f).iter().any(|(e, uids)| *e && uids.contains(&2)),
        "{f:?}"
    );
    let answer = fetches(&f[earlier..]);
    let mut uids: Vec<u64> = answer.iter().map(|f| f.number("UID")).collect();
    uids.dedup();
    assert_eq!(uids, [4], "the changed message, after VANISHED: {f:?}");
    assert!(modseq(&answer[0]) > since, "{f:?}");
    let all: Vec<u64> = fetches(&f).iter().map(|f| f.number("UID")).collect();
    assert!(all.iter().all(|u| *u == 4), "only what changed: {f:?}");
    for (tag, line) in [
        (
            "c",
            format!("FETCH 1:* FLAGS (CHANGEDSINCE {since} VANISHED)"),
        ),
        ("d", "UID FETCH 1:* FLAGS (VANISHED)".to_owned()),
    ] {
        let bad = any(&mut c, &format!("{tag} {line}")).await;
        assert!(
            bad.last().unwrap().starts_with(&format!("{tag} BAD")),
            "{bad:?}"
        );
    }
}

/// RFC 7162 §3.2.10: once QRESYNC is enabled, removals are reported as
/// VANISHED with UIDs, never EXPUNGE: the session's own EXPUNGE and UID
/// EXPUNGE, another session's at the next command, and MOVE (RFC 6851
/// §4.4, after its COPYUID); the tagged OK of EXPUNGE and MOVE carries the
/// new HIGHESTMODSEQ, the one STATUS then reports.
#[tokio::test]
async fn rfc7162_3_2_10_vanished_replaces_expunge() {
    let srv = with_five().await;
    let mut c = qresync(&srv).await;
    let mut other = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    cmd(&mut c, "b STORE 2,4 +FLAGS.SILENT (\\Deleted)").await;
    let ex = cmd(&mut c, "c EXPUNGE").await;
    assert!(!untagged_expunge(&ex), "{ex:?}");
    let mut gone: Vec<u32> = vanished(&ex)
        .into_iter()
        .flat_map(|(earlier, uids)| {
            assert!(!earlier, "{ex:?}");
            uids
        })
        .collect();
    gone.sort_unstable();
    assert_eq!(gone, [2, 4], "{ex:?}");
    let h = highest(&ex[ex.len() - 1..]);
    let st = cmd(&mut other, "o1 STATUS INBOX (HIGHESTMODSEQ)").await;
    assert_eq!(status(&st, "INBOX")[0].1, h, "{ex:?} {st:?}");

    cmd(&mut other, "o2 SELECT INBOX").await;
    cmd(&mut other, "o3 STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut other, "o4 EXPUNGE").await;
    let n = cmd(&mut c, "d NOOP").await;
    assert!(!untagged_expunge(&n), "{n:?}");
    assert_eq!(vanished(&n), [(false, vec![1])], "{n:?}");

    let mv = cmd(&mut c, "e UID MOVE 5 Trash").await;
    assert!(mv[0].starts_with("* OK [COPYUID "), "{mv:?}");
    assert!(!untagged_expunge(&mv), "{mv:?}");
    assert_eq!(vanished(&mv), [(false, vec![5])], "{mv:?}");
    highest(&mv[mv.len() - 1..]);
    let f = cmd(&mut c, "f FETCH 1:* UID").await;
    let uids: Vec<u64> = fetches(&f).iter().map(|f| f.number("UID")).collect();
    assert_eq!(uids, [3], "{f:?}");
}

/// RFC 7162 §3.2.4: with QRESYNC on, every FETCH response carries the
/// UID, the ones STORE causes and another session's flag changes too;
/// §3.2.11: SELECT over a selected mailbox starts with `OK [CLOSED]`.
#[tokio::test]
async fn rfc7162_3_2_4_fetch_responses_carry_uid() {
    let srv = with_five().await;
    let mut c = qresync(&srv).await;
    let mut other = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let st = cmd(&mut c, "b STORE 3 +FLAGS (\\Flagged)").await;
    let f = fetches(&st);
    assert_eq!(f.len(), 1, "{st:?}");
    assert_eq!(f[0].number("UID"), 3, "{st:?}");
    modseq(&f[0]);
    cmd(&mut other, "o1 SELECT INBOX").await;
    cmd(&mut other, "o2 STORE 4 +FLAGS.SILENT (\\Seen)").await;
    let n = cmd(&mut c, "c NOOP").await;
    let f = fetches(&n);
    assert!(f.len() == 1 && f[0].number("UID") == 4, "{n:?}");
    let s = cmd(&mut c, "d SELECT Trash").await;
    assert!(s[0].starts_with("* OK [CLOSED]"), "{s:?}");
    assert!(!has(&s[1..], "[CLOSED]"), "{s:?}");
}
