//! The generic store suite (`suite/mod.rs`) against [`PgStore`], twice:
//! message bytes in the database, and in a shared directory.
//!
//! Needs a PostgreSQL server: `POSTERN_TEST_POSTGRES` is the URL of a
//! role that may create databases (`.ci/run` starts one on loopback and
//! sets it). Each case gets a database of its own, dropped at the end.
//! Without the variable the cases pass without running, except under
//! `CI=true`, where they fail.
//!
//! # Layout
//! - `PgFixture`: a fresh database; blobs counted as rows or files.
//! - `store_suite!` twice: `in_database`, `in_directory`.

#[path = "suite/mod.rs"]
mod suite;

use std::path::Path;

use postern_store::postgres::testing::TestDatabase;
use postern_store::postgres::BlobPlace;
use postern_store::{PgOptions, PgStore};

/// A database of its own on the test server; dropped with the fixture.
struct PgFixture {
    db: TestDatabase,
    blob_dir: Option<tempfile::TempDir>,
}

impl suite::Fixture for PgFixture {
    type Store = PgStore;

    fn open(&self) -> PgStore {
        let mut options = PgOptions::new(self.db.url.clone());
        if let Some(dir) = &self.blob_dir {
            options.blobs = BlobPlace::Directory(dir.path().to_path_buf());
        }
        PgStore::open(&options).expect("open the PostgreSQL store")
    }

    /// Rows of `blobs`, or files under the blob directory (leaving out
    /// `tmp/`).
    fn blob_count(&self) -> usize {
        if let Some(dir) = &self.blob_dir {
            return std::fs::read_dir(dir.path())
                .expect("blob dir")
                .map(|e| e.expect("entry").path())
                .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "tmp"))
                .map(|p| count_files(&p))
                .sum();
        }
        let rows: i64 = self
            .db
            .client()
            .query_one("SELECT count(*) FROM blobs", &[])
            .expect("count blobs")
            .get(0);
        usize::try_from(rows).expect("a count")
    }
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).expect("prefix dir").count()
}

/// A fresh database on the test server, or `None` when there is none
/// (outside CI).
fn fresh(blobs_in_directory: bool) -> Option<PgFixture> {
    Some(PgFixture {
        db: TestDatabase::fresh("suite")?,
        blob_dir: blobs_in_directory.then(|| tempfile::tempdir().expect("temp dir")),
    })
}

mod in_database {
    use super::{fresh, suite};
    use crate::store_suite;
    store_suite!(fresh(false));
}

mod in_directory {
    use super::{fresh, suite};
    use crate::store_suite;
    store_suite!(fresh(true));
}
