//! PostgreSQL: message bytes in the database or a shared directory (to be written).

use super::{BlobPlace, PgStore};
use crate::error::StoreResult;
use crate::model::BlobId;

pub(super) struct Blobs {
    place: BlobPlace,
}

impl Blobs {
    pub(super) fn open(place: &BlobPlace) -> StoreResult<Self> {
        Ok(Self {
            place: place.clone(),
        })
    }

    /// After a commit: deletes the `freed` blobs nothing references now.
    pub(super) fn collect(&self, store: &PgStore, freed: &[BlobId]) {
        let _ = (&self.place, store, freed);
        todo!("PostgreSQL blob collection")
    }
}
