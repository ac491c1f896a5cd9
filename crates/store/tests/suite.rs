//! The generic store suite (`suite/mod.rs`) against [`SqliteStore`] in a
//! temporary directory.
//!
//! # Layout
//! - `SqliteFixture`: a temp data directory; blobs counted as files and
//!   inline rows.
//! - `store_suite!`: one `#[test]` per case of the suite.

#[path = "suite/mod.rs"]
mod suite;

use std::path::Path;

use postern_store::SqliteStore;

/// A fresh data directory; `open` opens the store in it.
struct SqliteFixture {
    dir: tempfile::TempDir,
}

impl suite::Fixture for SqliteFixture {
    type Store = SqliteStore;

    fn open(&self) -> SqliteStore {
        SqliteStore::open(self.dir.path()).expect("open the store")
    }

    /// Files under `blobs/ab/` (leaving out `blobs/tmp/`), and rows of
    /// `inline_blobs`.
    fn blob_count(&self) -> usize {
        let blobs = self.dir.path().join("blobs");
        let files: usize = std::fs::read_dir(&blobs)
            .expect("blobs/")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.file_name().is_some_and(|n| n != "tmp"))
            .map(|p| count_files(&p))
            .sum();
        let db = rusqlite::Connection::open(self.dir.path().join("mail.db")).expect("mail.db");
        let rows: i64 = db
            .query_row("SELECT count(*) FROM inline_blobs", [], |r| r.get(0))
            .expect("count inline blobs");
        files + usize::try_from(rows).expect("a count")
    }
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).expect("prefix dir").count()
}

fn fresh() -> SqliteFixture {
    SqliteFixture {
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

store_suite!(fresh());
