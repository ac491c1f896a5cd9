//! Changes between nodes: PostgreSQL LISTEN/NOTIFY.
//!
//! Every write transaction sends its changes with `pg_notify` on the
//! [`CHANNEL`] before it commits; PostgreSQL delivers them to every
//! listening session when, and only when, the transaction commits, in
//! commit order (<https://www.postgresql.org/docs/current/sql-notify.html>).
//! Each node's [`Listener`] thread keeps one connection listening and
//! re-broadcasts the changes of the *other* nodes to its own subscribers
//! (IMAP IDLE, the outbound workers); its own changes are broadcast by the
//! writer right after the commit, without the round trip.
//!
//! A payload is lines of `NODE KIND A B` (at most [`PAYLOAD_MAX`] bytes,
//! under PostgreSQL's 8000-byte limit); a line this code does not know is
//! skipped, so a newer node's changes do not confuse an older one.
//!
//! If the listening connection breaks, the thread reconnects; changes sent
//! meanwhile are missed, so it then broadcasts nothing it could not know
//! and logs the gap: sessions pick the state up on their next command, as
//! IMAP's NOOP and the queue's periodic poll do anyway.
//!
//! # Layout
//! - [`encode`] / [`decode`]: the payload lines.
//! - [`Listener`]: the thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use tokio::sync::broadcast;

use super::pool::Pool;
use crate::model::{CalendarId, Change, MailboxId, QueueId, Uid};

/// The notification channel.
pub(super) const CHANNEL: &str = "postern_changes";
/// Bytes per notification payload (PostgreSQL refuses 8000 and more).
pub(super) const PAYLOAD_MAX: usize = 7000;

/// The payloads that carry `changes`, each at most [`PAYLOAD_MAX`] bytes.
pub(super) fn encode(node: &str, changes: &[Change]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::new();
    for change in changes {
        let line = match *change {
            Change::Appended { mailbox, uid } => format!("{node} A {} {}", mailbox.0, uid.0),
            Change::FlagsChanged { mailbox, uid } => format!("{node} F {} {}", mailbox.0, uid.0),
            Change::Expunged { mailbox, uid } => format!("{node} X {} {}", mailbox.0, uid.0),
            Change::MailboxCreated { mailbox } => format!("{node} C {} 0", mailbox.0),
            Change::MailboxDeleted { mailbox } => format!("{node} D {} 0", mailbox.0),
            Change::Queued { id } => format!("{node} Q {} 0", id.0),
            Change::Calendar {
                calendar,
                sync_token,
            } => format!("{node} K {} {sync_token}", calendar.0),
        };
        if !current.is_empty() && current.len() + 1 + line.len() > PAYLOAD_MAX {
            payloads.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        payloads.push(current);
    }
    payloads
}

/// The changes of a payload sent by a node other than `own`.
pub(super) fn decode(own: &str, payload: &str) -> Vec<Change> {
    payload
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            let (node, kind, a, b) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            if node == own || parts.next().is_some() {
                return None;
            }
            let a: i64 = a.parse().ok()?;
            let b: u64 = b.parse().ok()?;
            let uid = || u32::try_from(b).ok().map(Uid);
            Some(match kind {
                "A" => Change::Appended {
                    mailbox: MailboxId(a),
                    uid: uid()?,
                },
                "F" => Change::FlagsChanged {
                    mailbox: MailboxId(a),
                    uid: uid()?,
                },
                "X" => Change::Expunged {
                    mailbox: MailboxId(a),
                    uid: uid()?,
                },
                "C" => Change::MailboxCreated {
                    mailbox: MailboxId(a),
                },
                "D" => Change::MailboxDeleted {
                    mailbox: MailboxId(a),
                },
                "Q" => Change::Queued { id: QueueId(a) },
                "K" => Change::Calendar {
                    calendar: CalendarId(a),
                    sync_token: b,
                },
                _ => return None,
            })
        })
        .collect()
}

/// The listening thread; stopped and joined on drop.
pub(super) struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the thread looks at its stop flag while nothing arrives.
const POLL: Duration = Duration::from_millis(200);

impl Listener {
    pub(super) fn start(
        pool: Arc<Pool>,
        node: String,
        changes: broadcast::Sender<Change>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("postern-pg-listen".into())
            .spawn(move || listen(&pool, &node, &changes, &flag))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn listen(pool: &Pool, node: &str, changes: &broadcast::Sender<Change>, stop: &AtomicBool) {
    let mut backoff = Duration::from_millis(100);
    while !stop.load(Ordering::Relaxed) {
        let mut client = match pool.connect() {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for other nodes' changes; retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if let Err(error) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            tracing::warn!(%error, "LISTEN failed; retrying");
            std::thread::sleep(backoff);
            continue;
        }
        backoff = Duration::from_millis(100);
        while !stop.load(Ordering::Relaxed) {
            let next = client.notifications().timeout_iter(POLL).next();
            match next {
                Ok(Some(note)) => {
                    for change in decode(node, note.payload()) {
                        // An error only means that nobody is listening.
                        let _ = changes.send(change);
                    }
                }
                Ok(None) => {
                    if client.is_closed() {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "the connection listening for other nodes' changes broke; changes sent meanwhile are missed");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_and_own_ones_are_skipped() {
        let changes = vec![
            Change::Appended {
                mailbox: MailboxId(7),
                uid: Uid(42),
            },
            Change::Expunged {
                mailbox: MailboxId(7),
                uid: Uid(1),
            },
            Change::Queued { id: QueueId(9) },
            Change::Calendar {
                calendar: CalendarId(3),
                sync_token: 12,
            },
            Change::MailboxDeleted {
                mailbox: MailboxId(5),
            },
        ];
        let payloads = encode("n1", &changes);
        assert_eq!(payloads.len(), 1);
        assert_eq!(decode("n2", &payloads[0]), changes);
        assert!(decode("n1", &payloads[0]).is_empty());
    }

    #[test]
    fn many_changes_split_under_the_payload_limit() {
        let changes: Vec<Change> = (0..2000)
            .map(|i| Change::FlagsChanged {
                mailbox: MailboxId(123_456),
                uid: Uid(i),
            })
            .collect();
        let payloads = encode("node-with-a-long-name", &changes);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= PAYLOAD_MAX));
        let back: Vec<Change> = payloads.iter().flat_map(|p| decode("x", p)).collect();
        assert_eq!(back, changes);
    }

    #[test]
    fn unknown_or_malformed_lines_are_skipped() {
        let got = decode("me", "other Z 1 2\nother A x 1\nother A 1\nother A 4 5\n");
        assert_eq!(
            got,
            vec![Change::Appended {
                mailbox: MailboxId(4),
                uid: Uid(5)
            }]
        );
    }
}
