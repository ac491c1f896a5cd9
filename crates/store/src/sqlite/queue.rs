//! The outbound queue: items (a message and its envelope) and their
//! recipients, with per-recipient state.
//!
//! Every function runs inside the caller's transaction, like the other
//! statement files. `queue.next_attempt` caches the smallest
//! `next_attempt` of the item's pending recipients (NULL once none is
//! pending); every statement that changes a recipient calls [`refresh`],
//! so "what is due" is a range of the `queue_due` index.
//!
//! # Layout
//! - [`insert`]; [`load`], [`list`], [`due`], [`due_times`], [`finished`],
//!   [`blob_of`].
//! - [`update`], [`retry_now`], [`delete`].

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{missing, Effects};
use crate::error::{StoreError, StoreResult};
use crate::model::{
    BlobId, DsnRet, Envelope, Notify, QueueId, QueueItem, QueuedRecipient, RecipientOutcome,
    RecipientState, RemoteRecipient,
};

const PENDING: i64 = 0;
const DELIVERED: i64 = 1;
const FAILED: i64 = 2;

/// Queues a message for `remote`, every recipient pending and due at
/// `created`.
pub(super) fn insert(
    conn: &Connection,
    blob: &BlobId,
    size: u64,
    created: i64,
    envelope: &Envelope,
    remote: &[RemoteRecipient],
) -> StoreResult<QueueId> {
    conn.prepare_cached(
        "INSERT INTO queue (blob, size, created, mail_from, envid, ret, requiretls,
                            smtputf8, eight_bit, next_attempt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?3)",
    )?
    .execute(params![
        blob.0,
        i64::try_from(size).unwrap_or(i64::MAX),
        created,
        envelope.mail_from,
        envelope.envid,
        envelope.ret.map(ret_code),
        envelope.requiretls,
        envelope.smtputf8,
        envelope.eight_bit,
    ])?;
    let id = conn.last_insert_rowid();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO queue_recipients (queue, position, address, notify, orcpt, state,
                                       attempts, next_attempt)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6)",
    )?;
    for (position, r) in remote.iter().enumerate() {
        if r.address.is_empty() {
            return Err(StoreError::Invalid {
                what: "a remote recipient".into(),
                why: "the address is empty".into(),
            });
        }
        stmt.execute(params![
            id,
            position as i64,
            r.address,
            r.notify.bits(),
            r.orcpt,
            created
        ])?;
    }
    Ok(QueueId(id))
}

fn ret_code(ret: DsnRet) -> i64 {
    match ret {
        DsnRet::Full => 1,
        DsnRet::Headers => 2,
    }
}

fn ret_of(code: Option<i64>) -> Option<DsnRet> {
    match code? {
        1 => Some(DsnRet::Full),
        2 => Some(DsnRet::Headers),
        _ => None,
    }
}

const ITEM_COLUMNS: &str =
    "id, created, size, mail_from, envid, ret, requiretls, smtputf8, eight_bit";

fn item_from_row(r: &Row<'_>) -> rusqlite::Result<QueueItem> {
    Ok(QueueItem {
        id: QueueId(r.get(0)?),
        created: r.get(1)?,
        size: r.get::<_, i64>(2)?.max(0) as u64,
        envelope: Envelope {
            mail_from: r.get(3)?,
            envid: r.get(4)?,
            ret: ret_of(r.get(5)?),
            requiretls: r.get(6)?,
            smtputf8: r.get(7)?,
            eight_bit: r.get(8)?,
        },
        recipients: Vec::new(),
    })
}

fn recipient_from_row(r: &Row<'_>) -> rusqlite::Result<QueuedRecipient> {
    let state = match r.get::<_, i64>(3)? {
        DELIVERED => RecipientState::Delivered,
        FAILED => RecipientState::Failed,
        _ => RecipientState::Pending,
    };
    Ok(QueuedRecipient {
        address: r.get(0)?,
        notify: Notify::from_bits(r.get::<_, u8>(1)?),
        orcpt: r.get(2)?,
        state,
        attempts: r.get::<_, i64>(4)?.clamp(0, i64::from(u32::MAX)) as u32,
        next_attempt: r.get(5)?,
        last_error: r.get(6)?,
        detail: r.get(7)?,
    })
}

fn recipients(conn: &Connection, id: QueueId) -> StoreResult<Vec<QueuedRecipient>> {
    let mut stmt = conn.prepare_cached(
        "SELECT address, notify, orcpt, state, attempts, next_attempt, last_error, detail
         FROM queue_recipients WHERE queue = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map([id.0], recipient_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One item with its recipients.
pub(super) fn load(conn: &Connection, id: QueueId) -> StoreResult<Option<QueueItem>> {
    let sql = format!("SELECT {ITEM_COLUMNS} FROM queue WHERE id = ?1");
    let item = conn
        .prepare_cached(&sql)?
        .query_row([id.0], item_from_row)
        .optional()?;
    let Some(mut item) = item else {
        return Ok(None);
    };
    item.recipients = recipients(conn, id)?;
    Ok(Some(item))
}

fn load_existing(conn: &Connection, id: QueueId) -> StoreResult<QueueItem> {
    load(conn, id)?.ok_or_else(|| not_found(id))
}

fn not_found(id: QueueId) -> StoreError {
    missing(format!("queue item {id}"))
}

/// The items whose ids `sql` selects (first column), in its order.
fn load_all(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> StoreResult<Vec<QueueItem>> {
    let ids: Vec<i64> = conn
        .prepare_cached(sql)?
        .query_map(args, |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.into_iter()
        .filter_map(|id| load(conn, QueueId(id)).transpose())
        .collect()
}

/// Every item, oldest first.
pub(super) fn list(conn: &Connection) -> StoreResult<Vec<QueueItem>> {
    load_all(conn, "SELECT id FROM queue ORDER BY id", [])
}

/// Finished items (no pending recipient), oldest first.
pub(super) fn finished(conn: &Connection, limit: usize) -> StoreResult<Vec<QueueItem>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    load_all(
        conn,
        "SELECT id FROM queue WHERE next_attempt IS NULL ORDER BY id LIMIT ?1",
        [limit],
    )
}

/// Items due at `now` that `skip` does not exclude, earliest first, at
/// most `limit`.
pub(super) fn due(
    conn: &Connection,
    now: i64,
    limit: usize,
    skip: impl Fn(QueueId) -> bool,
) -> StoreResult<Vec<QueueItem>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM queue WHERE next_attempt <= ?1 ORDER BY next_attempt, id",
    )?;
    let mut rows = stmt.query([now])?;
    let mut items = Vec::new();
    while items.len() < limit {
        let Some(row) = rows.next()? else { break };
        let id = QueueId(row.get(0)?);
        if !skip(id) {
            items.push(load_existing(conn, id)?);
        }
    }
    Ok(items)
}

/// The items with a pending recipient and when the first is due, earliest
/// first, passed to `visit` until it returns `false`.
pub(super) fn due_times(
    conn: &Connection,
    mut visit: impl FnMut(QueueId, i64) -> bool,
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, next_attempt FROM queue WHERE next_attempt IS NOT NULL
         ORDER BY next_attempt, id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        if !visit(QueueId(row.get(0)?), row.get(1)?) {
            break;
        }
    }
    Ok(())
}

/// The blob and size of an item's message.
pub(super) fn blob_of(conn: &Connection, id: QueueId) -> StoreResult<(BlobId, u64)> {
    conn.prepare_cached("SELECT blob, size FROM queue WHERE id = ?1")?
        .query_row([id.0], |r| {
            Ok((BlobId(r.get(0)?), r.get::<_, i64>(1)?.max(0) as u64))
        })
        .optional()?
        .ok_or_else(|| not_found(id))
}

/// Recomputes the item's cached `next_attempt`.
fn refresh(conn: &Connection, id: QueueId) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE queue SET next_attempt = (SELECT min(next_attempt) FROM queue_recipients
                                          WHERE queue = ?1 AND state = 0)
         WHERE id = ?1",
    )?
    .execute([id.0])?;
    Ok(())
}

/// Records outcomes (see `Store::queue_update`); returns the item after.
pub(super) fn update(
    conn: &Connection,
    id: QueueId,
    results: &[(String, RecipientOutcome)],
) -> StoreResult<QueueItem> {
    load_existing(conn, id)?;
    let mut stmt = conn.prepare_cached(
        "UPDATE queue_recipients
         SET state = ?3, attempts = attempts + 1, next_attempt = coalesce(?4, next_attempt),
             last_error = coalesce(?5, last_error), detail = coalesce(?6, detail)
         WHERE queue = ?1 AND address = ?2 AND state = 0",
    )?;
    for (address, outcome) in results {
        let (state, next, error, detail) = match outcome {
            RecipientOutcome::Delivered { detail } => (DELIVERED, None, None, Some(detail)),
            RecipientOutcome::Deferred {
                next_attempt,
                error,
            } => (PENDING, Some(*next_attempt), Some(error), None),
            RecipientOutcome::Failed { error } => (FAILED, None, Some(error), None),
        };
        let changed = stmt.execute(params![id.0, address, state, next, error, detail])?;
        if changed == 0 {
            return Err(StoreError::Invalid {
                what: format!("recipient {address:?} of queue item {id}"),
                why: "not a pending recipient of the item (named twice?)".into(),
            });
        }
    }
    refresh(conn, id)?;
    load_existing(conn, id)
}

/// Makes every pending recipient due at `now`.
pub(super) fn retry_now(conn: &Connection, id: QueueId, now: i64) -> StoreResult<()> {
    load_existing(conn, id)?;
    conn.prepare_cached(
        "UPDATE queue_recipients SET next_attempt = ?2 WHERE queue = ?1 AND state = 0",
    )?
    .execute(params![id.0, now])?;
    refresh(conn, id)
}

/// Whether the item has a pending recipient.
pub(super) fn has_pending(conn: &Connection, id: QueueId) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM queue_recipients WHERE queue = ?1 AND state = 0 LIMIT 1")?
        .exists([id.0])?)
}

/// Removes an item and its recipients; its blob becomes a candidate for
/// collection after the commit.
pub(super) fn delete(conn: &Connection, id: QueueId, fx: &mut Effects) -> StoreResult<()> {
    let blob: Option<String> = conn
        .prepare_cached("DELETE FROM queue WHERE id = ?1 RETURNING blob")?
        .query_row([id.0], |r| r.get(0))
        .optional()?;
    let blob = blob.ok_or_else(|| not_found(id))?;
    fx.freed.push(BlobId(blob));
    Ok(())
}
