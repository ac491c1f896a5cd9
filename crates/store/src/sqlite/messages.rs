//! Messages: insert (deliver, append, copy), list, flags, expunge.
//!
//! Every function here runs inside the caller's transaction: reads in a
//! reader's snapshot, writes in the writer's `BEGIN IMMEDIATE`. A write
//! records what it changed in [`Effects`]; the store broadcasts those and
//! deletes freed blobs only after the commit.
//!
//! UIDs come from `mailboxes.uid_next`, which only grows, so a UID is never
//! handed out twice in a mailbox, whatever was expunged (RFC 9051
//! §2.3.1.1). Every change takes the mailbox's `highest_modseq + 1` as the
//! message's MODSEQ and stores it back (RFC 7162 §3.1.1).
//!
//! # Layout
//! - [`insert`] (with the quota check), [`copy`], [`move_messages`].
//! - [`list`], [`blob_of`].
//! - [`set_flags`], [`store_flags`], [`expunge`].
//! - [`claim_recent`], [`recent_mark`].

use std::ops::Range;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{expunged, flags, missing, Effects};
use crate::error::{StoreError, StoreResult};
use crate::model::{
    AccountId, BlobId, Change, Flag, FlagOp, MailboxCounts, MailboxId, MessageMeta, ModSeq,
    StoreFlagsResult, Uid,
};

/// A message about to be stored.
pub(super) struct NewMessage<'a> {
    pub(super) blob: &'a BlobId,
    pub(super) size: u64,
    pub(super) internal_date: i64,
    /// Canonical (see [`crate::names::flags`]).
    pub(super) flags: &'a [Flag],
}

/// The counters of a mailbox that a write moves on.
struct Counters {
    account: i64,
    uid_next: u32,
    highest_modseq: i64,
}

fn counters(conn: &Connection, mailbox: MailboxId) -> StoreResult<Counters> {
    conn.prepare_cached("SELECT account, uid_next, highest_modseq FROM mailboxes WHERE id = ?1")?
        .query_row([mailbox.0], |r| {
            Ok(Counters {
                account: r.get(0)?,
                uid_next: r.get(1)?,
                highest_modseq: r.get(2)?,
            })
        })
        .optional()?
        .ok_or_else(|| missing(format!("mailbox {}", mailbox.0)))
}

fn store_counters(
    conn: &Connection,
    mailbox: MailboxId,
    uid_next: u32,
    modseq: i64,
) -> StoreResult<()> {
    conn.prepare_cached("UPDATE mailboxes SET uid_next = ?2, highest_modseq = ?3 WHERE id = ?1")?
        .execute(params![mailbox.0, uid_next, modseq])?;
    Ok(())
}

/// Stores one message in `mailbox` under the next UID.
pub(super) fn insert(
    conn: &Connection,
    mailbox: MailboxId,
    msg: &NewMessage<'_>,
    fx: &mut Effects,
) -> StoreResult<Uid> {
    let c = counters(conn, mailbox)?;
    check_quota(conn, c.account, msg.size)?;
    let uid = c.uid_next;
    let uid_next = uid.checked_add(1).ok_or_else(|| StoreError::Invalid {
        what: format!("mailbox {}", mailbox.0),
        why: "its UIDs are used up; the mailbox must be re-created".into(),
    })?;
    let modseq = c.highest_modseq + 1;
    let (bits, keywords) = flags::split(msg.flags);
    conn.prepare_cached(
        "INSERT INTO messages (mailbox, uid, modseq, internal_date, size, blob, flags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        mailbox.0,
        uid,
        modseq,
        msg.internal_date,
        to_i64(msg.size),
        msg.blob.0,
        bits
    ])?;
    flags::replace_keywords(conn, conn.last_insert_rowid(), &keywords)?;
    store_counters(conn, mailbox, uid_next, modseq)?;
    fx.changes.push(Change::Appended {
        mailbox,
        uid: Uid(uid),
    });
    Ok(Uid(uid))
}

/// Refuses a message that would take the account over its quota (0 is
/// none). Runs in the inserting transaction, so concurrent deliveries
/// cannot both squeeze under the limit.
pub(super) fn check_quota(conn: &Connection, account: i64, size: u64) -> StoreResult<()> {
    let (address, quota, used): (String, i64, i64) = conn
        .prepare_cached("SELECT address, quota_bytes, used_bytes FROM accounts WHERE id = ?1")?
        .query_row([account], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let (quota, used) = (quota.max(0) as u64, used.max(0) as u64);
    if quota != 0 && used.saturating_add(size) > quota {
        return Err(StoreError::QuotaExceeded {
            address,
            used,
            quota,
        });
    }
    Ok(())
}

/// Copies messages into `to`, in ascending UID order, with their flags and
/// INTERNALDATE (RFC 9051 §6.4.7) and sharing their blobs.
pub(super) fn copy(
    conn: &Connection,
    from: MailboxId,
    uids: &[Uid],
    to: MailboxId,
    fx: &mut Effects,
) -> StoreResult<Vec<(Uid, Uid)>> {
    counters(conn, from)?;
    counters(conn, to)?;
    let mut pairs = Vec::new();
    for uid in sorted(uids) {
        let Some((row, meta)) = one(conn, from, uid)? else {
            continue;
        };
        let mut flags = meta.flags;
        flags.extend(
            flags::keywords_of(conn, row)?
                .into_iter()
                .map(Flag::Keyword),
        );
        let msg = NewMessage {
            blob: &meta.blob,
            size: meta.size,
            internal_date: meta.internal_date,
            flags: &flags,
        };
        pairs.push((uid, insert(conn, to, &msg, fx)?));
    }
    Ok(pairs)
}

/// Moves messages into `to`: copies them (as [`copy`]) and expunges them
/// from `from`, all inside the caller's one transaction, so that either
/// both mailboxes change or neither does (RFC 6851 §3.3).
pub(super) fn move_messages(
    conn: &Connection,
    from: MailboxId,
    uids: &[Uid],
    to: MailboxId,
    kept: usize,
    fx: &mut Effects,
) -> StoreResult<Vec<(Uid, Uid)>> {
    let pairs = copy(conn, from, uids, to, fx)?;
    let moved: Vec<Uid> = pairs.iter().map(|p| p.0).collect();
    expunge(conn, from, &moved, kept, fx)?;
    Ok(pairs)
}

const COLUMNS: &str = "id, mailbox, uid, flags, internal_date, size, modseq, blob";

/// A message's row id and metadata; keywords are not loaded.
fn from_row(r: &Row<'_>) -> rusqlite::Result<(i64, MessageMeta)> {
    let meta = MessageMeta {
        mailbox: MailboxId(r.get(1)?),
        uid: Uid(r.get(2)?),
        flags: flags::join(r.get(3)?, Vec::new()),
        internal_date: r.get(4)?,
        size: r.get::<_, i64>(5)?.max(0) as u64,
        modseq: ModSeq(r.get::<_, i64>(6)?.max(0) as u64),
        blob: BlobId(r.get(7)?),
    };
    Ok((r.get(0)?, meta))
}

fn one(conn: &Connection, mailbox: MailboxId, uid: Uid) -> StoreResult<Option<(i64, MessageMeta)>> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE mailbox = ?1 AND uid = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![mailbox.0, uid.0], from_row)
        .optional()?)
}

/// A mailbox's messages in ascending UID order, flags complete.
pub(super) fn list(conn: &Connection, mailbox: MailboxId) -> StoreResult<Vec<MessageMeta>> {
    counters(conn, mailbox)?;
    let mut keywords = flags::keywords_in(conn, mailbox.0)?;
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE mailbox = ?1 ORDER BY uid");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([mailbox.0], from_row)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, mut meta) = row?;
        if let Some(k) = keywords.remove(&id) {
            meta.flags.extend(k.into_iter().map(Flag::Keyword));
        }
        out.push(meta);
    }
    Ok(out)
}

/// One message's metadata, flags complete.
pub(super) fn meta(
    conn: &Connection,
    mailbox: MailboxId,
    uid: Uid,
) -> StoreResult<Option<MessageMeta>> {
    let Some((id, mut meta)) = one(conn, mailbox, uid)? else {
        return Ok(None);
    };
    meta.flags
        .extend(flags::keywords_of(conn, id)?.into_iter().map(Flag::Keyword));
    Ok(Some(meta))
}

/// A page of a mailbox's messages by UID order, flags complete, and the
/// mailbox's message count.
pub(super) fn page(
    conn: &Connection,
    mailbox: MailboxId,
    newest_first: bool,
    offset: usize,
    limit: usize,
) -> StoreResult<(Vec<MessageMeta>, usize)> {
    counters(conn, mailbox)?;
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM messages WHERE mailbox = ?1")?
        .query_row([mailbox.0], |r| r.get(0))?;
    let order = if newest_first { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {COLUMNS} FROM messages WHERE mailbox = ?1 ORDER BY uid {order} LIMIT ?2 OFFSET ?3"
    );
    let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![mailbox.0, as_i64(limit), as_i64(offset)], from_row)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, mut meta) = row?;
        meta.flags
            .extend(flags::keywords_of(conn, id)?.into_iter().map(Flag::Keyword));
        out.push(meta);
    }
    Ok((out, usize::try_from(total).unwrap_or(0)))
}

/// Every mailbox of the account with its message and unseen counts, in
/// one query (`\Seen` is bit 1 of `messages.flags`, see `flags`).
pub(super) fn counts(conn: &Connection, account: AccountId) -> StoreResult<Vec<MailboxCounts>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.id, COUNT(m.id), COALESCE(SUM(CASE WHEN m.flags & 1 = 0 THEN 1 ELSE 0 END), 0)
         FROM mailboxes b LEFT JOIN messages m ON m.mailbox = b.id
         WHERE b.account = ?1 GROUP BY b.id ORDER BY b.name",
    )?;
    let rows = stmt.query_map([account.0], |r| {
        Ok(MailboxCounts {
            mailbox: MailboxId(r.get(0)?),
            total: usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            unseen: usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The blob and size of one message.
pub(super) fn blob_of(
    conn: &Connection,
    mailbox: MailboxId,
    uid: Uid,
) -> StoreResult<(BlobId, u64)> {
    let (_, meta) = one(conn, mailbox, uid)?.ok_or_else(|| not_found(mailbox, uid))?;
    Ok((meta.blob, meta.size))
}

fn not_found(mailbox: MailboxId, uid: Uid) -> StoreError {
    missing(format!("message UID {} in mailbox {}", uid.0, mailbox.0))
}

/// Replaces a message's flags. An unchanged set keeps its MODSEQ and
/// announces nothing (RFC 7162 §3.1.3: only real changes move MODSEQ).
pub(super) fn set_flags(
    conn: &Connection,
    mailbox: MailboxId,
    uid: Uid,
    new: &[Flag],
    fx: &mut Effects,
) -> StoreResult<ModSeq> {
    let c = counters(conn, mailbox)?;
    let (row, meta) = one(conn, mailbox, uid)?.ok_or_else(|| not_found(mailbox, uid))?;
    let mut old = meta.flags;
    old.extend(
        flags::keywords_of(conn, row)?
            .into_iter()
            .map(Flag::Keyword),
    );
    if old == new {
        return Ok(meta.modseq);
    }
    let modseq = c.highest_modseq + 1;
    let (bits, keywords) = flags::split(new);
    conn.prepare_cached("UPDATE messages SET flags = ?2, modseq = ?3 WHERE id = ?1")?
        .execute(params![row, bits, modseq])?;
    flags::replace_keywords(conn, row, &keywords)?;
    store_counters(conn, mailbox, c.uid_next, modseq)?;
    fx.changes.push(Change::FlagsChanged { mailbox, uid });
    Ok(ModSeq(modseq as u64))
}

/// Combines the flags of several messages with `given` (canonical) by
/// `op`, checking UNCHANGEDSINCE against the stored MODSEQ; everything is
/// read and written in the caller's one transaction.
pub(super) fn store_flags(
    conn: &Connection,
    mailbox: MailboxId,
    uids: &[Uid],
    op: FlagOp,
    given: &[Flag],
    unchanged_since: Option<ModSeq>,
    fx: &mut Effects,
) -> StoreResult<StoreFlagsResult> {
    let c = counters(conn, mailbox)?;
    let mut modseq = c.highest_modseq;
    let mut out = StoreFlagsResult::default();
    let mut update =
        conn.prepare_cached("UPDATE messages SET flags = ?2, modseq = ?3 WHERE id = ?1")?;
    for uid in sorted(uids) {
        let Some((row, meta)) = one(conn, mailbox, uid)? else {
            continue;
        };
        if unchanged_since.is_some_and(|n| meta.modseq > n) {
            out.modified.push(uid);
            continue;
        }
        let mut old = meta.flags;
        old.extend(
            flags::keywords_of(conn, row)?
                .into_iter()
                .map(Flag::Keyword),
        );
        let new = op.apply(&old, given);
        if new == old {
            out.kept.push((uid, old, meta.modseq));
            continue;
        }
        modseq += 1;
        let (bits, keywords) = flags::split(&new);
        update.execute(params![row, bits, modseq])?;
        flags::replace_keywords(conn, row, &keywords)?;
        fx.changes.push(Change::FlagsChanged { mailbox, uid });
        out.changed.push((uid, new, ModSeq(modseq as u64)));
    }
    if modseq != c.highest_modseq {
        store_counters(conn, mailbox, c.uid_next, modseq)?;
    }
    Ok(out)
}

/// Removes messages; absent UIDs are ignored. The mailbox's MODSEQ moves
/// on once if anything was removed, and the removed UIDs are recorded
/// with that MODSEQ (RFC 7162 §3.2.10: an expunge is a change a client
/// must be able to notice, and QRESYNC reports it by UID later), keeping
/// at most `kept` such rows per mailbox.
pub(super) fn expunge(
    conn: &Connection,
    mailbox: MailboxId,
    uids: &[Uid],
    kept: usize,
    fx: &mut Effects,
) -> StoreResult<()> {
    let c = counters(conn, mailbox)?;
    let mut stmt =
        conn.prepare_cached("DELETE FROM messages WHERE mailbox = ?1 AND uid = ?2 RETURNING blob")?;
    let mut removed = Vec::new();
    for uid in sorted(uids) {
        let blob: Option<String> = stmt
            .query_row(params![mailbox.0, uid.0], |r| r.get(0))
            .optional()?;
        if let Some(blob) = blob {
            fx.freed.push(BlobId(blob));
            fx.changes.push(Change::Expunged { mailbox, uid });
            removed.push(uid);
        }
    }
    if !removed.is_empty() {
        let modseq = c.highest_modseq + 1;
        store_counters(conn, mailbox, c.uid_next, modseq)?;
        expunged::record(conn, mailbox, &removed, modseq, kept)?;
    }
    Ok(())
}

/// Hands out the UIDs from the mailbox's recent mark up to its UIDNEXT
/// and moves the mark there, in the caller's write transaction.
pub(super) fn claim_recent(conn: &Connection, mailbox: MailboxId) -> StoreResult<Range<Uid>> {
    let c = counters(conn, mailbox)?;
    let mark: u32 = conn
        .prepare_cached("SELECT recent_mark FROM mailboxes WHERE id = ?1")?
        .query_row([mailbox.0], |r| r.get(0))?;
    if mark >= c.uid_next {
        return Ok(Uid(c.uid_next)..Uid(c.uid_next));
    }
    conn.prepare_cached("UPDATE mailboxes SET recent_mark = ?2 WHERE id = ?1")?
        .execute(params![mailbox.0, c.uid_next])?;
    Ok(Uid(mark)..Uid(c.uid_next))
}

/// The mailbox's recent mark: the lowest UID no session has claimed as
/// \Recent yet (see [`claim_recent`]); read only.
pub(super) fn recent_mark(conn: &Connection, mailbox: MailboxId) -> StoreResult<Uid> {
    conn.prepare_cached("SELECT recent_mark FROM mailboxes WHERE id = ?1")?
        .query_row([mailbox.0], |r| r.get(0).map(Uid))
        .optional()?
        .ok_or_else(|| missing(format!("mailbox {}", mailbox.0)))
}

/// `uids` ascending, each once.
fn sorted(uids: &[Uid]) -> Vec<Uid> {
    let mut v = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// SQLite integers are signed 64-bit; sizes beyond that do not occur.
pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
