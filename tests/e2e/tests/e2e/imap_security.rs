//! Hostile input after login: huge literals, a 10 MB line, deep nesting,
//! bad names. Each gets a refusal (and, where reading on would cost us,
//! a closed connection); the next client is served and no stored message
//! is lost.

use postern_testkit::TestServer;
use tokio::io::AsyncWriteExt;

use super::{any, cmd, imaps, login, with_mail};

/// The mailbox still has its two messages, for a new client.
async fn intact(srv: &TestServer) {
    let mut c = login(srv).await;
    let s = cmd(&mut c, "z STATUS INBOX (MESSAGES)").await;
    assert_eq!(s[0], "* STATUS \"INBOX\" (MESSAGES 2)");
}

#[tokio::test]
async fn a_2gb_literal_is_refused_before_it_is_sent() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    // Synchronizing: refused at once, nothing to read; the session goes on.
    let no = any(&mut c, "a APPEND INBOX {2147483648}").await;
    assert!(no[0].starts_with("a BAD [TOOBIG]"), "{no:?}");
    cmd(&mut c, "b NOOP").await;
    // Non-synchronizing: its octets are already coming, so the session
    // ends (RFC 7888 §5), and the client disconnects.
    c.send("c APPEND INBOX {2147483648+}").await;
    c.expect("c BAD [TOOBIG]").await;
    c.expect("* BYE").await;
    c.expect_closed().await;
    intact(&srv).await;
}

#[tokio::test]
async fn a_10mb_line_closes_the_session() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let mut line = b"a SEARCH ".to_vec();
    line.resize(10 * 1024 * 1024, b'A');
    // The server stops reading long before the end: the write may fail.
    let _ = c.get_mut().write_all(&line).await;
    // What comes back, if anything gets through the reset, is the BYE.
    while let Some(l) = c.read_line().await {
        assert!(l.starts_with("* BYE"), "{l}");
    }
    intact(&srv).await;
}

#[tokio::test]
async fn deep_nesting_and_bad_names_are_refused() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    let deep = format!("b SEARCH {}ALL{}", "(".repeat(1000), ")".repeat(1000));
    let bad = any(&mut c, &deep).await;
    assert!(bad[0].starts_with("b BAD"), "{bad:?}");
    let nots = format!("c SEARCH {}ALL", "NOT ".repeat(1000));
    assert!(any(&mut c, &nots).await[0].starts_with("c BAD"));
    for (i, name) in ["\"&Jjo\"", "\"&AGE-\"", "\"a&\"", "\"x%y\""]
        .iter()
        .enumerate()
    {
        let r = any(&mut c, &format!("d{i} CREATE {name}")).await;
        assert!(
            r[0].starts_with(&format!("d{i} BAD")) || r[0].starts_with(&format!("d{i} NO")),
            "{name}: {r:?}"
        );
    }
    let glob = format!("e LIST \"\" \"{}\"", "*%".repeat(2000));
    cmd(&mut c, &glob).await;
    cmd(&mut c, "f NOOP").await;
    intact(&srv).await;
}

#[tokio::test]
async fn too_many_bad_commands_end_the_session() {
    let srv = with_mail().await;
    let mut c = imaps(&srv).await;
    for i in 0..19 {
        c.send(&format!("t{i} FROB")).await;
        c.expect(&format!("t{i} BAD")).await;
    }
    c.send("t19 FROB").await;
    c.expect("t19 BAD").await;
    c.expect("* BYE").await;
    c.expect_closed().await;
    intact(&srv).await;
}
