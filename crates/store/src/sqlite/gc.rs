//! Deleting blobs that no message and no queue item references any more.
//!
//! A blob (file or inline row) is deleted only after the transaction that dropped its last
//! reference has committed: deleting first and then failing to commit
//! would lose mail. A crash between the commit and the deletion leaves an
//! orphan file, which nothing shows and [`sweep`] removes at the next open.
//! So does a crash between writing a blob and committing its message.
//!
//! The check "nothing references it" and the deletion happen inside a
//! `BEGIN IMMEDIATE` transaction, which holds SQLite's write lock across
//! processes. Writers check that their blob file is present inside their
//! own write transaction (`SqliteStore::ensure_blob`), so a blob cannot be
//! deleted between that check and their commit.
//!
//! # Layout
//! - [`collect`]: after a commit, the blobs it freed.
//! - [`sweep`]: at open, every orphan.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::blobs::BlobStore;
use crate::error::StoreResult;
use crate::model::BlobId;

/// A temp file older than this was left by a crash: a blob write takes
/// milliseconds, not an hour. Younger ones may be another process's.
pub(super) const TMP_AGE: Duration = Duration::from_secs(3600);

/// Deletes those of `candidates` that no message references. Failures are
/// logged, not returned: the change that freed them is already committed,
/// and the next sweep retries.
pub(super) fn collect(conn: &mut Connection, blobs: &BlobStore, candidates: &[BlobId]) {
    if candidates.is_empty() {
        return;
    }
    if let Err(error) = try_collect(conn, blobs, candidates) {
        tracing::warn!(%error, "deleting unreferenced blobs failed; the next open retries");
    }
}

fn try_collect(conn: &mut Connection, blobs: &BlobStore, candidates: &[BlobId]) -> StoreResult<()> {
    let mut ids = candidates.to_vec();
    ids.sort();
    ids.dedup();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for id in &ids {
        if !referenced(&tx, id)? {
            remove_inline(&tx, id)?;
            blobs.remove(id)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Whether a message or a queue item uses the blob.
fn referenced(conn: &Connection, id: &BlobId) -> StoreResult<bool> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM messages WHERE blob = ?1
         UNION ALL SELECT 1 FROM queue WHERE blob = ?1 LIMIT 1",
    )?;
    Ok(stmt.exists([&id.0])?)
}

/// Deletes an inline blob (its row); an absent one is not an error.
fn remove_inline(conn: &Connection, id: &BlobId) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM inline_blobs WHERE id = ?1")?
        .execute([&id.0])?;
    Ok(())
}

/// Deletes inline blobs nothing references (left if a collection failed).
fn sweep_inline(conn: &mut Connection) -> StoreResult<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let removed = tx.execute(
        "DELETE FROM inline_blobs WHERE id NOT IN (SELECT blob FROM messages)
                                    AND id NOT IN (SELECT blob FROM queue)",
        [],
    )?;
    tx.commit()?;
    Ok(removed)
}

/// Deletes every blob file and inline blob that nothing references, and
/// stale temp files.
/// One write transaction per prefix directory, so that other processes'
/// writers wait at most for one directory. Returns how many files went.
pub(super) fn sweep(conn: &mut Connection, blobs: &BlobStore) -> StoreResult<usize> {
    let mut removed = blobs.sweep_tmp(TMP_AGE)? + sweep_inline(conn)?;
    for prefix in blobs.prefixes()? {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in blobs.list_prefix(&prefix)? {
            if !referenced(&tx, &id)? {
                blobs.remove(&id)?;
                removed += 1;
            }
        }
        tx.commit()?;
    }
    if removed > 0 {
        tracing::info!(removed, "removed orphaned blob and temp files");
    }
    Ok(removed)
}
