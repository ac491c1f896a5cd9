//! PostgreSQL: message bytes, as rows of `blobs` or as files in a
//! directory every node shares ([`BlobPlace`]).
//!
//! Blobs are content-addressed (SHA-256, [`BlobStore::id_of`]) and
//! shared: one delivery to many accounts, a copy, a queue item and its
//! local copies all name one blob. A new message's bytes are durable
//! before its rows commit: a row of `blobs` is written in the message's
//! own transaction (its commit makes both durable at once); a file is
//! written, fsynced and renamed into place before that transaction
//! begins ([`Blobs::stage`]), as the SQLite back end does for big blobs.
//!
//! A blob nothing references any more is deleted after the commit that
//! dropped its last reference ([`Blobs::collect`]). Several nodes write
//! at once, so "nothing references it" and the deletion must not
//! interleave with another node's transaction that is about to reference
//! the same blob (an identical message arriving just then). Both sides
//! take a transaction-level advisory lock on the blob's id
//! ([`Blobs::lock`]): the collector checks for references and deletes
//! under it; a writer holds it from the start of its transaction to its
//! commit and, under it, makes sure the blob still exists (re-writing a
//! file a collector removed since [`Blobs::stage`]). Whoever comes second
//! sees the first one's commit: at READ COMMITTED each statement takes a
//! fresh snapshot, and the statements after the lock run after the other
//! side committed.
//!
//! A copy or move of an existing message takes no blob lock: it holds
//! its source mailbox's row lock, which every deletion of that message
//! waits for, so the source row keeps the blob referenced until the copy
//! has committed.
//!
//! # Layout
//! - [`Blobs`]: `open`; `stage` (before the transaction), `lock` and
//!   `keep` (inside it), `abandon` (after it failed); `read`,
//!   `read_head`; `collect`.

use super::Tx;

use super::{BlobPlace, PgStore};
use crate::blobs::BlobStore;
use crate::error::{StoreError, StoreResult};
use crate::model::BlobId;

/// The first key of the advisory locks on blobs ("BLOB"): the two-key
/// form keeps them apart from the schema migration's one-key lock.
const LOCK_SPACE: i32 = 0x424C_4F42;

/// Where this store keeps message bytes.
enum Place {
    Database,
    Directory(BlobStore),
}

pub(super) struct Blobs {
    place: Place,
}

impl Blobs {
    pub(super) fn open(place: &BlobPlace) -> StoreResult<Self> {
        let place = match place {
            BlobPlace::Database => Place::Database,
            BlobPlace::Directory(dir) => Place::Directory(BlobStore::open(dir)?),
        };
        Ok(Self { place })
    }

    /// Before the transaction of a new message: writes its file durably
    /// (directory), and returns its id either way.
    pub(super) fn stage(&self, raw: &[u8]) -> StoreResult<BlobId> {
        match &self.place {
            Place::Database => Ok(BlobStore::id_of(raw)),
            Place::Directory(files) => files.put(raw),
        }
    }

    /// Inside a write transaction, before its other locks: holds off any
    /// collection of `id` until the transaction ends.
    pub(super) fn lock(tx: &mut Tx<'_>, id: &BlobId) -> StoreResult<()> {
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&LOCK_SPACE, &id.0],
        )?;
        Ok(())
    }

    /// Inside the write transaction that references `id` (after
    /// [`Self::lock`]): stores the bytes, or makes sure the file staged
    /// before is still there (a collection may have removed it between
    /// [`Self::stage`] and the lock).
    pub(super) fn keep(&self, tx: &mut Tx<'_>, id: &BlobId, raw: &[u8]) -> StoreResult<()> {
        match &self.place {
            Place::Database => {
                tx.execute(
                    "INSERT INTO blobs (id, bytes) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                    &[&id.0, &raw],
                )?;
            }
            Place::Directory(files) => {
                if !files.contains(id)? {
                    files.put(raw)?;
                }
            }
        }
        Ok(())
    }

    /// After a write that staged `id` failed: deletes the file again if
    /// nothing references it. (A row of `blobs` went with the rollback.)
    pub(super) fn abandon(&self, store: &PgStore, id: BlobId) {
        if matches!(self.place, Place::Directory(_)) {
            self.collect(store, &[id]);
        }
    }

    /// A blob's bytes; `NotFound` if it is gone.
    pub(super) fn read(&self, store: &PgStore, id: &BlobId) -> StoreResult<Vec<u8>> {
        match &self.place {
            Place::Database => store.read(|tx| {
                let row = tx.query_opt("SELECT bytes FROM blobs WHERE id = $1", &[&id.0])?;
                row.map(|r| r.get(0)).ok_or_else(|| gone(id))
            }),
            Place::Directory(files) => files.get(id),
        }
    }

    /// At most the first `max` octets of a blob, without reading the rest.
    pub(super) fn read_head(
        &self,
        store: &PgStore,
        id: &BlobId,
        max: usize,
    ) -> StoreResult<Vec<u8>> {
        match &self.place {
            Place::Database => {
                // substring() on bytea reads only the slice it needs of an
                // uncompressed out-of-line value.
                let max = i32::try_from(max).unwrap_or(i32::MAX);
                store.read(|tx| {
                    let row = tx.query_opt(
                        "SELECT substring(bytes FROM 1 FOR $2) FROM blobs WHERE id = $1",
                        &[&id.0, &max],
                    )?;
                    row.map(|r| r.get(0)).ok_or_else(|| gone(id))
                })
            }
            Place::Directory(files) => files.get_head(id, max),
        }
    }

    /// After a commit: deletes those of the `freed` blobs that nothing
    /// references now. Failures are logged, not returned: the change that
    /// freed them is committed, and an unreferenced blob only takes room.
    pub(super) fn collect(&self, store: &PgStore, freed: &[BlobId]) {
        let mut ids: Vec<String> = freed.iter().map(|b| b.0.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return;
        }
        if let Err(error) = store.write(|tx, _| self.collect_in(tx, &ids)) {
            tracing::warn!(%error, blobs = ids.len(), "deleting unreferenced message blobs failed; they stay until removed by hand");
        }
    }

    /// One transaction: lock (in id order, as sorted by the caller),
    /// check, delete. Run again whole on a conflict; removing a file
    /// twice is harmless.
    fn collect_in(&self, tx: &mut Tx<'_>, ids: &[String]) -> StoreResult<()> {
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(t.id))
             FROM unnest($2::text[]) WITH ORDINALITY AS t(id, n) ORDER BY t.n",
            &[&LOCK_SPACE, &ids],
        )?;
        let unreferenced: Vec<String> = tx
            .query(
                "SELECT t.id FROM unnest($1::text[]) AS t(id)
                 WHERE NOT EXISTS (SELECT 1 FROM messages WHERE blob = t.id)
                   AND NOT EXISTS (SELECT 1 FROM queue WHERE blob = t.id)",
                &[&ids],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        match &self.place {
            Place::Database => {
                tx.execute("DELETE FROM blobs WHERE id = ANY($1)", &[&unreferenced])?;
            }
            Place::Directory(files) => {
                for id in unreferenced {
                    files.remove(&BlobId(id))?;
                }
            }
        }
        Ok(())
    }
}

fn gone(id: &BlobId) -> StoreError {
    StoreError::NotFound {
        what: format!("blob {id}"),
    }
}
