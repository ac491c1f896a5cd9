//! QRESYNC (RFC 7162 §3.2) over real TLS: ENABLE, SELECT with the
//! client's cached state, UID FETCH VANISHED, VANISHED in place of
//! EXPUNGE (own removals, another session's on NOOP and in IDLE), the
//! CLOSED response code, and STATUS RECENT.

use super::{any, cmd, has, login, with_mail, Client, ALICE};

/// The number in `[CODE n]` of the lines, which must be there.
fn code(lines: &[String], name: &str) -> u64 {
    let start = format!("[{name} ");
    let line = lines
        .iter()
        .find(|l| l.contains(&start))
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"));
    let rest = &line[line.find(&start).unwrap() + start.len()..];
    rest[..rest.find(']').unwrap()].parse().unwrap()
}

/// Whether any line is an untagged `n EXPUNGE`.
fn untagged_expunge(lines: &[String]) -> bool {
    lines
        .iter()
        .any(|l| l.starts_with("* ") && l.ends_with(" EXPUNGE"))
}

/// The index of the first line containing `text`.
fn at(lines: &[String], text: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no {text:?} in {lines:?}"))
}

/// A logged-in session with QRESYNC enabled.
async fn qresync_client(srv: &postern_testkit::TestServer) -> Client {
    let mut c = login(srv).await;
    let e = cmd(&mut c, "e ENABLE QRESYNC").await;
    assert_eq!(e[0], "* ENABLED QRESYNC", "{e:?}");
    c
}

/// RFC 7162 §3.2.3: QRESYNC is advertised; ENABLE QRESYNC turns
/// CONDSTORE on too (MODSEQ in FETCH); §3.2.5 and §3.2.6: the SELECT
/// parameter and the VANISHED modifier are BAD before it, and VANISHED is
/// BAD on FETCH by number and without CHANGEDSINCE.
#[tokio::test]
async fn rfc7162_3_2_3_enable_first() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let caps = cmd(&mut c, "a CAPABILITY").await;
    assert!(has(&caps, " CONDSTORE QRESYNC "), "{caps:?}");
    let bad = any(&mut c, "b SELECT INBOX (QRESYNC (1 1))").await;
    assert!(bad[0].starts_with("b BAD"), "{bad:?}");
    let bad = any(&mut c, "c UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)").await;
    assert!(bad[0].starts_with("c BAD"), "{bad:?}");
    // The refused SELECT selected nothing.
    let bad = any(&mut c, "d FETCH 1 FLAGS").await;
    assert!(bad[0].starts_with("d BAD"), "{bad:?}");

    let e = cmd(&mut c, "e ENABLE QRESYNC").await;
    assert_eq!(e[0], "* ENABLED QRESYNC");
    cmd(&mut c, "f SELECT INBOX").await;
    let f = cmd(&mut c, "g FETCH 1 FLAGS").await;
    assert!(has(&f, "MODSEQ ("), "CONDSTORE is on: {f:?}");
    let bad = any(&mut c, "h FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)").await;
    assert!(bad[0].starts_with("h BAD"), "{bad:?}");
    let bad = any(&mut c, "i UID FETCH 1:* FLAGS (VANISHED)").await;
    assert!(bad[0].starts_with("i BAD"), "{bad:?}");
    let bad = any(&mut c, "j SELECT INBOX (QRESYNC (1))").await;
    assert!(bad.last().unwrap().starts_with("j BAD"), "{bad:?}");
}

/// RFC 7162 §3.2.5.1: a client back with the UIDVALIDITY and MODSEQ it
/// cached hears, before the tagged OK, which of its UIDs vanished and
/// which messages changed since (UID, FLAGS, MODSEQ), VANISHED first;
/// known UIDs narrow both; a changed UIDVALIDITY makes a plain SELECT.
/// RFC 7162 §3.2.11: each SELECT over a selected mailbox starts with
/// CLOSED.
#[tokio::test]
async fn rfc7162_3_2_5_select_resynchronises() {
    let srv = with_mail().await;
    srv.deliver(ALICE, b"Subject: third\r\n\r\nthird\r\n");
    let mut a = qresync_client(&srv).await;
    let sel = cmd(&mut a, "a1 SELECT INBOX").await;
    assert!(!has(&sel, "VANISHED") && !has(&sel, "[CLOSED]"), "{sel:?}");
    let validity = code(&sel, "UIDVALIDITY");
    let cached = code(&sel, "HIGHESTMODSEQ");

    // Meanwhile another client flags UID 1 and removes UID 2.
    let mut b = login(&srv).await;
    cmd(&mut b, "b1 SELECT INBOX").await;
    cmd(&mut b, "b2 UID STORE 1 +FLAGS (\\Flagged)").await;
    cmd(&mut b, "b3 UID STORE 2 +FLAGS (\\Deleted)").await;
    cmd(&mut b, "b4 EXPUNGE").await;

    let mut c = qresync_client(&srv).await;
    let sel = cmd(
        &mut c,
        &format!("c1 SELECT INBOX (QRESYNC ({validity} {cached}))"),
    )
    .await;
    assert!(has(&sel, "* 2 EXISTS"), "{sel:?}");
    let now = code(&sel, "HIGHESTMODSEQ");
    assert!(now > cached, "the expunge moved HIGHESTMODSEQ: {sel:?}");
    let vanished = at(&sel, "* VANISHED (EARLIER) 2");
    let fetch = at(&sel, "* 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (");
    assert!(vanished < fetch, "VANISHED comes first: {sel:?}");
    assert!(!has(&sel, "UID 3 "), "UID 3 did not change: {sel:?}");
    assert!(sel.last().unwrap().starts_with("c1 OK [READ-WRITE]"));

    // Only about UID 3: nothing to say; CLOSED first, as a reselect.
    let sel = cmd(
        &mut c,
        &format!("c2 EXAMINE INBOX (QRESYNC ({validity} {cached} 3:5))"),
    )
    .await;
    assert_eq!(sel[0], "* OK [CLOSED] Previous mailbox closed");
    assert!(!has(&sel, "VANISHED") && !has(&sel, "FETCH"), "{sel:?}");
    // Known UIDs 1:2: both reported.
    let sel = cmd(
        &mut c,
        &format!("c3 EXAMINE INBOX (QRESYNC ({validity} {cached} 1:2))"),
    )
    .await;
    assert!(has(&sel, "* VANISHED (EARLIER) 2") && has(&sel, "UID 1 FLAGS"));
    // Up to date: nothing.
    let sel = cmd(
        &mut c,
        &format!("c4 SELECT INBOX (QRESYNC ({validity} {now}))"),
    )
    .await;
    assert!(!has(&sel, "VANISHED") && !has(&sel, "FETCH"), "{sel:?}");
    // The sequence match data says the client knows UIDs up to 3
    // (message 2 is UID 3): no VANISHED, even from MODSEQ 1.
    let sel = cmd(
        &mut c,
        &format!("c5 SELECT INBOX (QRESYNC ({validity} 1 1:3 (2 3)))"),
    )
    .await;
    assert!(!has(&sel, "VANISHED"), "{sel:?}");
    assert!(has(&sel, "UID 3 FLAGS"), "every change since 1: {sel:?}");
    let sel = cmd(&mut c, &format!("c6 SELECT INBOX (QRESYNC ({validity} 1))")).await;
    assert!(has(&sel, "* VANISHED (EARLIER) 2"), "{sel:?}");

    // Another UIDVALIDITY: a plain SELECT.
    let other = u64::from(u32::try_from(validity).unwrap() - 1);
    let sel = cmd(
        &mut c,
        &format!("c7 SELECT INBOX (QRESYNC ({other} {cached}))"),
    )
    .await;
    assert!(!has(&sel, "VANISHED") && !has(&sel, "FETCH"), "{sel:?}");
    assert!(has(&sel, &format!("[UIDVALIDITY {validity}]")), "{sel:?}");
}

/// RFC 7162 §3.2.6: UID FETCH (CHANGEDSINCE n VANISHED) reports the
/// UIDs of the set removed since n as VANISHED (EARLIER), before the
/// FETCH responses of what changed; UIDs outside the set are not named.
#[tokio::test]
async fn rfc7162_3_2_6_uid_fetch_vanished() {
    let srv = with_mail().await;
    for i in 3..=5 {
        srv.deliver(ALICE, format!("Subject: {i}\r\n\r\nx\r\n").as_bytes());
    }
    let mut c = qresync_client(&srv).await;
    let sel = cmd(&mut c, "a SELECT INBOX").await;
    let cached = code(&sel, "HIGHESTMODSEQ");
    cmd(&mut c, "b UID STORE 1,4 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut c, "c UID EXPUNGE 1,4").await;
    cmd(&mut c, "d UID STORE 3 +FLAGS.SILENT (\\Seen)").await;
    let f = cmd(
        &mut c,
        &format!("e UID FETCH 1:* (FLAGS) (CHANGEDSINCE {cached} VANISHED)"),
    )
    .await;
    let vanished = at(&f, "* VANISHED (EARLIER) 1,4");
    let fetch = at(&f, "FETCH (UID 3 FLAGS (\\Seen");
    assert!(vanished < fetch, "{f:?}");
    assert!(!has(&f, "UID 2 ") && !has(&f, "UID 5 "), "{f:?}");
    let f = cmd(
        &mut c,
        &format!("f UID FETCH 2:3 (FLAGS) (CHANGEDSINCE {cached} VANISHED)"),
    )
    .await;
    assert!(!has(&f, "VANISHED"), "1 and 4 are outside 2:3: {f:?}");
    // Without VANISHED, removals are not reported.
    let f = cmd(
        &mut c,
        &format!("g UID FETCH 1:* (FLAGS) (CHANGEDSINCE {cached})"),
    )
    .await;
    assert!(!has(&f, "VANISHED"), "{f:?}");
}

/// RFC 7162 §3.2.7, §3.2.9, RFC 6851 §4.4: once QRESYNC is on, EXPUNGE,
/// UID EXPUNGE and MOVE report `VANISHED uids`, never `n EXPUNGE`, and
/// their tagged OK carries the new HIGHESTMODSEQ; CLOSE does not.
#[tokio::test]
async fn rfc7162_3_2_7_own_removals_vanish() {
    let srv = with_mail().await;
    for i in 3..=6 {
        srv.deliver(ALICE, format!("Subject: {i}\r\n\r\nx\r\n").as_bytes());
    }
    let mut c = qresync_client(&srv).await;
    let sel = cmd(&mut c, "a SELECT INBOX").await;
    let mut highest = code(&sel, "HIGHESTMODSEQ");
    cmd(&mut c, "b STORE 1,3 +FLAGS.SILENT (\\Deleted)").await;
    let ex = cmd(&mut c, "c EXPUNGE").await;
    assert_eq!(ex[0], "* VANISHED 1,3", "{ex:?}");
    assert!(!untagged_expunge(&ex), "{ex:?}");
    let after = code(&ex, "HIGHESTMODSEQ");
    assert!(after > highest, "{ex:?}");
    highest = after;

    cmd(&mut c, "d UID STORE 4,5 +FLAGS.SILENT (\\Deleted)").await;
    let ex = cmd(&mut c, "e UID EXPUNGE 5").await;
    assert_eq!(ex[0], "* VANISHED 5", "{ex:?}");
    assert!(code(&ex, "HIGHESTMODSEQ") > highest);

    let mv = cmd(&mut c, "f UID MOVE 2,6 Archive").await;
    assert!(has(&mv, "[COPYUID "), "{mv:?}");
    assert!(
        has(&mv, "* VANISHED 2,6") && !untagged_expunge(&mv),
        "{mv:?}"
    );
    assert!(
        mv.last().unwrap().starts_with("f OK [HIGHESTMODSEQ "),
        "{mv:?}"
    );
    let f = cmd(&mut c, "g FETCH 1:* UID").await;
    assert!(f[0].starts_with("* 1 FETCH (UID 4 "), "{f:?}");
    assert_eq!(f.len(), 2, "only UID 4 is left: {f:?}");
    let close = cmd(&mut c, "h CLOSE").await;
    assert_eq!(close, ["h OK CLOSE completed"]);
}

/// RFC 7162 §3.2.10: another session's removals reach a QRESYNC client
/// as `VANISHED uids`: on NOOP, and during IDLE.
#[tokio::test]
async fn rfc7162_3_2_10_others_removals_vanish() {
    let srv = with_mail().await;
    srv.deliver(ALICE, b"Subject: third\r\n\r\nx\r\n");
    let mut c = qresync_client(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let mut other = login(&srv).await;
    cmd(&mut other, "o1 SELECT INBOX").await;
    cmd(&mut other, "o2 UID STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut other, "o3 UID EXPUNGE 2").await;
    let n = cmd(&mut c, "b NOOP").await;
    assert!(has(&n, "* VANISHED 2") && !untagged_expunge(&n), "{n:?}");
    // The numbers shifted: message 2 is UID 3 now.
    let f = cmd(&mut c, "c FETCH 2 UID").await;
    assert!(has(&f, "* 2 FETCH (UID 3"), "{f:?}");

    c.send("d IDLE").await;
    c.expect("+ idling").await;
    cmd(&mut other, "o4 UID STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut other, "o5 UID EXPUNGE 1").await;
    // The \Deleted flag may come first, as its own change.
    let heard = c.read_until("* VANISHED").await;
    assert_eq!(heard.last().unwrap(), "* VANISHED 1", "{heard:?}");
    assert!(!untagged_expunge(&heard), "{heard:?}");
    c.send("DONE").await;
    let done = c.read_until("d ").await;
    assert!(done.last().unwrap().starts_with("d OK"), "{done:?}");
    assert!(!untagged_expunge(&done), "{done:?}");

    // A CONDSTORE-only client still hears EXPUNGE.
    let mut plain = login(&srv).await;
    cmd(&mut plain, "p1 SELECT INBOX (CONDSTORE)").await;
    cmd(&mut other, "o6 NOOP").await;
    cmd(&mut other, "o7 UID STORE 3 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut other, "o8 UID EXPUNGE 3").await;
    let n = cmd(&mut plain, "p2 NOOP").await;
    assert!(has(&n, "* 1 EXPUNGE") && !has(&n, "VANISHED"), "{n:?}");
}

/// RFC 3501 §6.3.10: STATUS RECENT counts the messages a session
/// selecting the mailbox now would see \Recent, and claims none of them.
#[tokio::test]
async fn rfc3501_6_3_10_status_recent() {
    let srv = with_mail().await;
    let mut a = login(&srv).await;
    let st = cmd(&mut a, "a STATUS INBOX (MESSAGES RECENT)").await;
    assert_eq!(st[0], "* STATUS \"INBOX\" (MESSAGES 2 RECENT 0)");
    srv.deliver(ALICE, b"Subject: new\r\n\r\nx\r\n");
    srv.deliver(ALICE, b"Subject: newer\r\n\r\nx\r\n");
    let st = cmd(&mut a, "b STATUS INBOX (RECENT)").await;
    assert_eq!(st[0], "* STATUS \"INBOX\" (RECENT 2)");
    let st = cmd(&mut a, "c STATUS INBOX (RECENT)").await;
    assert_eq!(
        st[0], "* STATUS \"INBOX\" (RECENT 2)",
        "STATUS claims nothing"
    );
    let l = cmd(&mut a, "d LIST \"\" INBOX RETURN (STATUS (RECENT))").await;
    assert!(has(&l, "* STATUS \"INBOX\" (RECENT 2)"), "{l:?}");

    let mut b = login(&srv).await;
    let sel = cmd(&mut b, "e SELECT INBOX").await;
    assert!(has(&sel, "* 2 RECENT"), "{sel:?}");
    let st = cmd(&mut a, "f STATUS INBOX (RECENT)").await;
    assert_eq!(
        st[0], "* STATUS \"INBOX\" (RECENT 0)",
        "claimed by the SELECT"
    );
}
