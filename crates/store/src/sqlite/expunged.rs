//! Expunged UIDs and the MODSEQ of their removal, for IMAP QRESYNC
//! (RFC 7162 §3.2): a client that comes back with the MODSEQ it cached
//! is told which of its messages are gone (`VANISHED (EARLIER)`).
//!
//! Growth is bounded: a mailbox keeps the rows of its latest removals
//! only (`kept`, [`super::OpenOptions::expunged_kept`]). Pruned rows
//! raise the mailbox's `expunged_floor`; asked about a MODSEQ below it,
//! the store answers with every UID below UIDNEXT that the mailbox does
//! not hold, a superset RFC 7162 §3.2.6 explicitly allows ("MUST behave
//! as if it was requested to report all expunged messages").
//!
//! # Layout
//! - [`record`]: in the expunging transaction.
//! - [`vanished_since`]: the read.

use rusqlite::{params, Connection, OptionalExtension};

use super::missing;
use crate::error::StoreResult;
use crate::model::{MailboxId, ModSeq, Uid};

/// Records `uids` as expunged from `mailbox` at `modseq`, then prunes the
/// mailbox's oldest rows beyond `kept`.
pub(super) fn record(
    conn: &Connection,
    mailbox: MailboxId,
    uids: &[Uid],
    modseq: i64,
    kept: usize,
) -> StoreResult<()> {
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO expunged (mailbox, uid, modseq) VALUES (?1, ?2, ?3)",
    )?;
    for uid in uids {
        insert.execute(params![mailbox.0, uid.0, modseq])?;
    }
    prune(conn, mailbox, kept)
}

/// Drops the rows older than the `kept` newest, and raises the floor to
/// the highest MODSEQ dropped. Rows sharing that MODSEQ go together, so
/// that what is kept above the floor stays complete.
fn prune(conn: &Connection, mailbox: MailboxId, kept: usize) -> StoreResult<()> {
    let offset = i64::try_from(kept).unwrap_or(i64::MAX);
    let oldest_dropped: Option<i64> = conn
        .prepare_cached(
            "SELECT modseq FROM expunged WHERE mailbox = ?1
             ORDER BY modseq DESC LIMIT 1 OFFSET ?2",
        )?
        .query_row(params![mailbox.0, offset], |r| r.get(0))
        .optional()?;
    let Some(floor) = oldest_dropped else {
        return Ok(());
    };
    conn.prepare_cached("DELETE FROM expunged WHERE mailbox = ?1 AND modseq <= ?2")?
        .execute(params![mailbox.0, floor])?;
    conn.prepare_cached(
        "UPDATE mailboxes SET expunged_floor = max(expunged_floor, ?2) WHERE id = ?1",
    )?
    .execute(params![mailbox.0, floor])?;
    Ok(())
}

/// The UIDs expunged from `mailbox` with a MODSEQ above `since`,
/// ascending; below the floor, every UID under UIDNEXT not present.
pub(super) fn vanished_since(
    conn: &Connection,
    mailbox: MailboxId,
    since: ModSeq,
) -> StoreResult<Vec<Uid>> {
    let (floor, uid_next): (i64, u32) = conn
        .prepare_cached("SELECT expunged_floor, uid_next FROM mailboxes WHERE id = ?1")?
        .query_row([mailbox.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| missing(format!("mailbox {}", mailbox.0)))?;
    let since = i64::try_from(since.0).unwrap_or(i64::MAX);
    if since < floor {
        return absent(conn, mailbox, uid_next);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT uid FROM expunged WHERE mailbox = ?1 AND modseq > ?2 ORDER BY uid",
    )?;
    let rows = stmt.query_map(params![mailbox.0, since], |r| r.get(0).map(Uid))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every UID from 1 to `uid_next - 1` that no message of the mailbox has.
fn absent(conn: &Connection, mailbox: MailboxId, uid_next: u32) -> StoreResult<Vec<Uid>> {
    let mut stmt =
        conn.prepare_cached("SELECT uid FROM messages WHERE mailbox = ?1 ORDER BY uid")?;
    let present = stmt.query_map([mailbox.0], |r| r.get::<_, u32>(0))?;
    let mut out = Vec::new();
    let mut next = 1;
    for uid in present {
        let uid = uid?;
        out.extend((next..uid).map(Uid));
        next = uid.saturating_add(1);
    }
    out.extend((next..uid_next).map(Uid));
    Ok(out)
}
