//! IMAP under load: a flood of commands is slowed down, never dropped.

use super::{login, with_mail};

/// More than 5000 commands in a second: the session slows down, and
/// answers every one.
#[tokio::test]
async fn a_command_flood_is_slowed_not_dropped() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let flood: String = (0..5200).map(|i| format!("n{i} NOOP\r\n")).collect();
    let start = std::time::Instant::now();
    c.send_raw(flood.as_bytes()).await;
    let lines = c.read_until("n5199 ").await;
    assert_eq!(lines.len(), 5200);
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
}
