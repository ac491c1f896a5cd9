//! PostgreSQL: queue (to be written).

use super::PgStore;
use crate::error::StoreResult;
#[allow(unused_imports)]
use crate::model::*;

pub(super) fn queue_due(store: &PgStore, now: i64, limit: usize) -> StoreResult<Vec<QueueItem>> {
    let _ = (store, now, limit);
    todo!("PostgreSQL queue_due")
}

pub(super) fn queue_claim(
    store: &PgStore,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> StoreResult<Vec<QueueItem>> {
    let _ = (store, now, lease_until, limit);
    todo!("PostgreSQL queue_claim")
}

pub(super) fn queue_next_due(store: &PgStore) -> StoreResult<Option<i64>> {
    let _ = (store,);
    todo!("PostgreSQL queue_next_due")
}

pub(super) fn queue_update(
    store: &PgStore,
    id: QueueId,
    results: &[(String, RecipientOutcome)],
) -> StoreResult<QueueItem> {
    let _ = (store, id, results);
    todo!("PostgreSQL queue_update")
}

pub(super) fn queue_finished(store: &PgStore, limit: usize) -> StoreResult<Vec<QueueItem>> {
    let _ = (store, limit);
    todo!("PostgreSQL queue_finished")
}

pub(super) fn queue_finish(
    store: &PgStore,
    id: QueueId,
    dsn: Option<&Incoming<'_>>,
) -> StoreResult<Option<Accepted>> {
    let _ = (store, id, dsn);
    todo!("PostgreSQL queue_finish")
}

pub(super) fn queue_list(store: &PgStore) -> StoreResult<Vec<QueueItem>> {
    let _ = (store,);
    todo!("PostgreSQL queue_list")
}

pub(super) fn queue_item(store: &PgStore, id: QueueId) -> StoreResult<Option<QueueItem>> {
    let _ = (store, id);
    todo!("PostgreSQL queue_item")
}

pub(super) fn queue_read(store: &PgStore, id: QueueId) -> StoreResult<Vec<u8>> {
    let _ = (store, id);
    todo!("PostgreSQL queue_read")
}

pub(super) fn queue_retry_now(store: &PgStore, id: QueueId, now: i64) -> StoreResult<()> {
    let _ = (store, id, now);
    todo!("PostgreSQL queue_retry_now")
}

pub(super) fn queue_delete(store: &PgStore, id: QueueId) -> StoreResult<()> {
    let _ = (store, id);
    todo!("PostgreSQL queue_delete")
}

/// Inside a write transaction: queues a message for `remote`, every
/// recipient pending and due at `created` (as `sqlite::queue::insert`).
/// Called by `messages` when it accepts a message with remote recipients.
pub(super) fn insert(
    tx: &mut postgres::Transaction<'_>,
    blob: &BlobId,
    size: u64,
    created: i64,
    envelope: &Envelope,
    remote: &[RemoteRecipient],
) -> StoreResult<QueueId> {
    let _ = (tx, blob, size, created, envelope, remote);
    todo!("PostgreSQL queue insert")
}
