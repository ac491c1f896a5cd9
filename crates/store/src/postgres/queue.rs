//! PostgreSQL: the outbound queue: items (a message and its envelope),
//! their recipients with per-recipient state, and leases.
//!
//! The same model as the SQLite back end's `queue` (the `Store` docs are
//! the contract): `queue.next_attempt` caches the smallest `next_attempt`
//! of the item's pending recipients (NULL once none is pending), and
//! every statement that changes a recipient calls [`refresh`], so "what
//! is due" is a range of the `queue_due` index.
//!
//! What differs is the claim. SQLite keeps claims in one process's
//! memory; here several nodes run workers on one queue, so a claim is a
//! lease in the item's row (`lease_until`, `lease_owner` = the node's
//! name). [`queue_claim`] picks due, unleased items with
//! `FOR UPDATE SKIP LOCKED`: two nodes claiming at once lock disjoint
//! rows and neither waits for the other, and a row another node leased
//! and committed meanwhile is checked again under the lock, so no item is
//! claimed twice. A node that dies holding a lease loses it when
//! `lease_until` passes, and another node's worker takes the item.
//!
//! # Layout
//! - [`insert`] (message acceptance calls it).
//! - reads: [`queue_due`], [`queue_next_due`], [`queue_finished`],
//!   [`queue_list`], [`queue_item`], [`queue_read`]; row mapping.
//! - writes: [`queue_claim`], [`queue_update`], [`queue_finish`],
//!   [`queue_retry_now`], [`queue_delete`].

use postgres::types::ToSql;
use postgres::Row;

use super::Tx;

use super::accounts::missing;
use super::{Effects, PgStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{
    Accepted, BlobId, Change, DsnRet, Envelope, Incoming, LocalFolder, Notify, QueueId, QueueItem,
    QueuedRecipient, RecipientOutcome, RecipientState, RemoteRecipient,
};

const PENDING: i32 = 0;
const DELIVERED: i32 = 1;
const FAILED: i32 = 2;

/// Inside a write transaction: queues a message for `remote`, every
/// recipient pending and due at `created` (as `sqlite::queue::insert`).
/// Called by `messages` when it accepts a message with remote recipients.
pub(super) fn insert(
    tx: &mut Tx<'_>,
    blob: &BlobId,
    size: u64,
    created: i64,
    envelope: &Envelope,
    remote: &[RemoteRecipient],
) -> StoreResult<QueueId> {
    if remote.iter().any(|r| r.address.is_empty()) {
        return Err(StoreError::Invalid {
            what: "a remote recipient".into(),
            why: "the address is empty".into(),
        });
    }
    let row = tx.query_one(
        "INSERT INTO queue (blob, size, created, mail_from, envid, ret, requiretls,
                            smtputf8, eight_bit, next_attempt)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $3)
         RETURNING id",
        &[
            &blob.0,
            &i64::try_from(size).unwrap_or(i64::MAX),
            &created,
            &envelope.mail_from,
            &envelope.envid,
            &envelope.ret.map(ret_code),
            &envelope.requiretls,
            &envelope.smtputf8,
            &envelope.eight_bit,
        ],
    )?;
    let id: i64 = row.get(0);
    for (position, r) in remote.iter().enumerate() {
        let position = i32::try_from(position).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO queue_recipients (queue, position, address, notify, orcpt, state,
                                           attempts, next_attempt)
             VALUES ($1, $2, $3, $4, $5, 0, 0, $6)",
            &[
                &id,
                &position,
                &r.address,
                &i32::from(r.notify.bits()),
                &r.orcpt,
                &created,
            ],
        )?;
    }
    Ok(QueueId(id))
}

fn ret_code(ret: DsnRet) -> i32 {
    match ret {
        DsnRet::Full => 1,
        DsnRet::Headers => 2,
    }
}

fn ret_of(code: Option<i32>) -> Option<DsnRet> {
    match code? {
        1 => Some(DsnRet::Full),
        2 => Some(DsnRet::Headers),
        _ => None,
    }
}

// --- reads ---

/// Items due at `now` and not leased by any node (a lease ending at or
/// before `now` has run out), earliest due first, then oldest.
pub(super) fn queue_due(store: &PgStore, now: i64, limit: usize) -> StoreResult<Vec<QueueItem>> {
    let limit = sql_limit(limit);
    store.read(|tx| {
        load_all(
            tx,
            "SELECT id FROM queue
             WHERE next_attempt <= $1 AND (lease_until IS NULL OR lease_until <= $1)
             ORDER BY next_attempt, id LIMIT $2",
            &[&now, &limit],
        )
    })
}

/// When an item will next be due and unleased: for a leased one the later
/// of its due time and the lease's end.
pub(super) fn queue_next_due(store: &PgStore) -> StoreResult<Option<i64>> {
    store.read(|tx| {
        let row = tx.query_one(
            "SELECT min(GREATEST(next_attempt, coalesce(lease_until, next_attempt)))
             FROM queue WHERE next_attempt IS NOT NULL",
            &[],
        )?;
        Ok(row.get(0))
    })
}

/// Finished items (no pending recipient), oldest first.
pub(super) fn queue_finished(store: &PgStore, limit: usize) -> StoreResult<Vec<QueueItem>> {
    let limit = sql_limit(limit);
    store.read(|tx| {
        load_all(
            tx,
            "SELECT id FROM queue WHERE next_attempt IS NULL ORDER BY id LIMIT $1",
            &[&limit],
        )
    })
}

/// Every item, oldest first.
pub(super) fn queue_list(store: &PgStore) -> StoreResult<Vec<QueueItem>> {
    store.read(|tx| load_all(tx, "SELECT id FROM queue ORDER BY id", &[]))
}

pub(super) fn queue_item(store: &PgStore, id: QueueId) -> StoreResult<Option<QueueItem>> {
    store.read(|tx| load(tx, id))
}

/// A queued message's bytes, exactly as accepted.
pub(super) fn queue_read(store: &PgStore, id: QueueId) -> StoreResult<Vec<u8>> {
    let (blob, size) = store.read(|tx| {
        let row = tx
            .query_opt("SELECT blob, size FROM queue WHERE id = $1", &[&id.0])?
            .ok_or_else(|| not_found(id))?;
        Ok((BlobId(row.get(0)), u64::try_from(row.get::<_, i64>(1))))
    })?;
    let size = size.map_err(|_| damaged(id, "size"))?;
    crate::Store::read_blob(store, &blob, size)
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn not_found(id: QueueId) -> StoreError {
    missing(format!("queue item {id}"))
}

fn damaged(id: QueueId, what: &str) -> StoreError {
    StoreError::Database(format!(
        "queue item {id}: its {what} is out of range; the queue tables were changed by hand \
         or are damaged"
    ))
}

const ITEM_COLUMNS: &str =
    "id, created, size, mail_from, envid, ret, requiretls, smtputf8, eight_bit";

fn item_from_row(r: &Row) -> StoreResult<QueueItem> {
    let id = QueueId(r.get(0));
    Ok(QueueItem {
        id,
        created: r.get(1),
        size: u64::try_from(r.get::<_, i64>(2)).map_err(|_| damaged(id, "size"))?,
        envelope: Envelope {
            mail_from: r.get(3),
            envid: r.get(4),
            ret: ret_of(r.get(5)),
            requiretls: r.get(6),
            smtputf8: r.get(7),
            eight_bit: r.get(8),
        },
        recipients: Vec::new(),
    })
}

fn recipient_from_row(id: QueueId, r: &Row) -> StoreResult<QueuedRecipient> {
    let state = match r.get::<_, i32>(3) {
        DELIVERED => RecipientState::Delivered,
        FAILED => RecipientState::Failed,
        _ => RecipientState::Pending,
    };
    Ok(QueuedRecipient {
        address: r.get(0),
        notify: Notify::from_bits(
            u8::try_from(r.get::<_, i32>(1)).map_err(|_| damaged(id, "NOTIFY"))?,
        ),
        orcpt: r.get(2),
        state,
        attempts: u32::try_from(r.get::<_, i32>(4)).map_err(|_| damaged(id, "attempts"))?,
        next_attempt: r.get(5),
        last_error: r.get(6),
        detail: r.get(7),
    })
}

fn recipients(tx: &mut Tx<'_>, id: QueueId) -> StoreResult<Vec<QueuedRecipient>> {
    tx.query(
        "SELECT address, notify, orcpt, state, attempts, next_attempt, last_error, detail
         FROM queue_recipients WHERE queue = $1 ORDER BY position",
        &[&id.0],
    )?
    .iter()
    .map(|r| recipient_from_row(id, r))
    .collect()
}

/// One item with its recipients.
fn load(tx: &mut Tx<'_>, id: QueueId) -> StoreResult<Option<QueueItem>> {
    let sql = format!("SELECT {ITEM_COLUMNS} FROM queue WHERE id = $1");
    let Some(row) = tx.query_opt(&sql, &[&id.0])? else {
        return Ok(None);
    };
    let mut item = item_from_row(&row)?;
    item.recipients = recipients(tx, id)?;
    Ok(Some(item))
}

fn load_existing(tx: &mut Tx<'_>, id: QueueId) -> StoreResult<QueueItem> {
    load(tx, id)?.ok_or_else(|| not_found(id))
}

/// The items whose ids `sql` selects (first column), in its order.
fn load_all(
    tx: &mut Tx<'_>,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<QueueItem>> {
    let ids: Vec<i64> = tx.query(sql, args)?.iter().map(|r| r.get(0)).collect();
    load_ids(tx, &ids)
}

fn load_ids(tx: &mut Tx<'_>, ids: &[i64]) -> StoreResult<Vec<QueueItem>> {
    ids.iter()
        .filter_map(|&id| load(tx, QueueId(id)).transpose())
        .collect()
}

// --- writes ---

/// Leases the items due at `now` that no live lease holds to this node
/// until `lease_until`, earliest due first, at most `limit`.
pub(super) fn queue_claim(
    store: &PgStore,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> StoreResult<Vec<QueueItem>> {
    let limit = sql_limit(limit);
    let node = store.node();
    store.write(|tx, _| {
        // SKIP LOCKED: rows another node is claiming right now are left to
        // it, not waited for; the WHERE is checked again on the row as
        // last committed, so a lease committed meanwhile excludes it.
        let ids: Vec<i64> = tx
            .query(
                "SELECT id FROM queue
                 WHERE next_attempt <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                 ORDER BY next_attempt, id LIMIT $2
                 FOR UPDATE SKIP LOCKED",
                &[&now, &limit],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        tx.execute(
            "UPDATE queue SET lease_until = $2, lease_owner = $3 WHERE id = ANY($1)",
            &[&ids, &lease_until, &node],
        )?;
        load_ids(tx, &ids)
    })
}

/// Recomputes the item's cached `next_attempt`.
fn refresh(tx: &mut Tx<'_>, id: QueueId) -> StoreResult<()> {
    tx.execute(
        "UPDATE queue SET next_attempt = (SELECT min(next_attempt) FROM queue_recipients
                                          WHERE queue = $1 AND state = 0)
         WHERE id = $1",
        &[&id.0],
    )?;
    Ok(())
}

/// Locks the item's row (the order every queue write takes: item, then
/// recipients), or `NotFound`.
fn lock(tx: &mut Tx<'_>, id: QueueId) -> StoreResult<()> {
    tx.query_opt("SELECT 1 FROM queue WHERE id = $1 FOR UPDATE", &[&id.0])?
        .ok_or_else(|| not_found(id))?;
    Ok(())
}

/// Records outcomes (see `Store::queue_update`), ends the item's lease,
/// and returns the item after.
pub(super) fn queue_update(
    store: &PgStore,
    id: QueueId,
    results: &[(String, RecipientOutcome)],
) -> StoreResult<QueueItem> {
    store.write(|tx, _| {
        lock(tx, id)?;
        for (address, outcome) in results {
            record(tx, id, address, outcome)?;
        }
        refresh(tx, id)?;
        tx.execute(
            "UPDATE queue SET lease_until = NULL, lease_owner = NULL WHERE id = $1",
            &[&id.0],
        )?;
        load_existing(tx, id)
    })
}

/// One recipient's outcome; `Invalid` unless it is a pending recipient.
fn record(
    tx: &mut Tx<'_>,
    id: QueueId,
    address: &str,
    outcome: &RecipientOutcome,
) -> StoreResult<()> {
    let (state, next, error, detail) = match outcome {
        RecipientOutcome::Delivered { detail } => (DELIVERED, None, None, Some(detail)),
        RecipientOutcome::Deferred {
            next_attempt,
            error,
        } => (PENDING, Some(*next_attempt), Some(error), None),
        RecipientOutcome::Failed { error } => (FAILED, None, Some(error), None),
    };
    let changed = tx.execute(
        "UPDATE queue_recipients
         SET state = $3, attempts = attempts + 1, next_attempt = coalesce($4, next_attempt),
             last_error = coalesce($5, last_error), detail = coalesce($6, detail)
         WHERE queue = $1 AND address = $2 AND state = 0",
        &[&id.0, &address, &state, &next, &error, &detail],
    )?;
    if changed == 0 {
        return Err(StoreError::Invalid {
            what: format!("recipient {address:?} of queue item {id}"),
            why: "not a pending recipient of the item (named twice?)".into(),
        });
    }
    Ok(())
}

/// Removes a finished item and, with a DSN, stores it in the same
/// transaction (see `Store::queue_finish`).
pub(super) fn queue_finish(
    store: &PgStore,
    id: QueueId,
    dsn: Option<&Incoming<'_>>,
) -> StoreResult<Option<Accepted>> {
    let remove = |tx: &mut Tx<'_>, fx: &mut Effects| {
        lock(tx, id)?;
        if has_pending(tx, id)? {
            return Err(StoreError::InUse {
                what: format!("queue item {id}"),
                why: "a recipient is still pending".into(),
            });
        }
        delete(tx, id, fx)
    };
    match dsn {
        None => store.write(remove).map(|()| None),
        Some(msg) => {
            if msg.local.is_empty() && msg.remote.is_empty() {
                return Err(StoreError::Invalid {
                    what: "the delivery status notification".into(),
                    why: "it has no recipient".into(),
                });
            }
            super::messages::accept_with(store, msg, LocalFolder::Inbox, remove).map(Some)
        }
    }
}

/// Whether the item has a pending recipient.
fn has_pending(tx: &mut Tx<'_>, id: QueueId) -> StoreResult<bool> {
    let row = tx.query_opt(
        "SELECT 1 FROM queue_recipients WHERE queue = $1 AND state = 0 LIMIT 1",
        &[&id.0],
    )?;
    Ok(row.is_some())
}

/// Makes every pending recipient due at `now`; a lease stays.
pub(super) fn queue_retry_now(store: &PgStore, id: QueueId, now: i64) -> StoreResult<()> {
    store.write(|tx, fx| {
        lock(tx, id)?;
        tx.execute(
            "UPDATE queue_recipients SET next_attempt = $2 WHERE queue = $1 AND state = 0",
            &[&id.0, &now],
        )?;
        refresh(tx, id)?;
        fx.changes.push(Change::Queued { id });
        Ok(())
    })
}

pub(super) fn queue_delete(store: &PgStore, id: QueueId) -> StoreResult<()> {
    store.write(|tx, fx| delete(tx, id, fx))
}

/// Removes an item and its recipients; its blob becomes a candidate for
/// collection after the commit.
fn delete(tx: &mut Tx<'_>, id: QueueId, fx: &mut Effects) -> StoreResult<()> {
    let row = tx
        .query_opt("DELETE FROM queue WHERE id = $1 RETURNING blob", &[&id.0])?
        .ok_or_else(|| not_found(id))?;
    fx.freed.push(BlobId(row.get(0)));
    Ok(())
}
