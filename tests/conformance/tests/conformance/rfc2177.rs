//! RFC 2177 (IDLE): changes pushed while the client waits.

use std::time::{Duration, Instant};

use crate::helpers::{cmd, expunge, login, with_five, with_mail, ALICE};

/// RFC 2177 §3: IDLE answers a continuation request, then sends untagged
/// responses as things happen: a delivery is announced with EXISTS (here
/// within a second of being durable), and DONE ends the command with its
/// tagged OK.
#[tokio::test]
async fn rfc2177_3_idle_reports_a_delivery_within_a_second() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    c.send("b IDLE").await;
    c.expect("+ ").await;
    srv.deliver(ALICE, b"Subject: news\r\n\r\nnew\r\n");
    let start = Instant::now();
    c.expect("* 3 EXISTS").await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    c.send("DONE").await;
    let rest = c.read_until("b ").await;
    assert!(rest.last().unwrap().starts_with("b OK"), "{rest:?}");
}

/// RFC 2177 §3 with RFC 9051 §7.5.1: during IDLE another session's flag
/// change comes as FETCH and its expunge as EXPUNGE (IDLE is not one of
/// the commands that hold EXPUNGE back).
#[tokio::test]
async fn rfc2177_3_idle_reports_flags_and_expunges() {
    let srv = with_five().await;
    let mut c = login(&srv).await;
    let mut other = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    cmd(&mut other, "o1 SELECT INBOX").await;
    c.send("b IDLE").await;
    c.expect("+ ").await;
    cmd(&mut other, "o2 STORE 4 +FLAGS.SILENT (\\Flagged)").await;
    let f = c.expect("* 4 FETCH").await;
    assert!(f.contains("\\Flagged"), "{f}");
    cmd(&mut other, "o3 STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut other, "o4 EXPUNGE").await;
    let mut lines = vec![c.expect("* ").await];
    while !lines.last().unwrap().ends_with(" EXPUNGE") {
        lines.push(c.expect("* ").await);
    }
    let mut uids = vec![1, 2, 3, 4, 5];
    expunge(&mut uids, &lines);
    assert_eq!(uids, [1, 3, 4, 5], "{lines:?}");
    c.send("DONE").await;
    let rest = c.read_until("b ").await;
    assert!(rest.last().unwrap().starts_with("b OK"), "{rest:?}");
}

/// RFC 2177 §3: IDLE is valid in the authenticated state too, with no
/// mailbox selected.
#[tokio::test]
async fn rfc2177_3_idle_without_a_selected_mailbox() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    c.send("a IDLE").await;
    c.expect("+ ").await;
    c.send("DONE").await;
    c.expect("a OK").await;
}
