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
use std::sync::atomic::{AtomicUsize, Ordering};

use postern_store::postgres::BlobPlace;
use postern_store::{PgOptions, PgStore};

/// The environment variable naming the test server.
const URL_VAR: &str = "POSTERN_TEST_POSTGRES";

/// A database of its own on the test server; dropped with the fixture.
struct PgFixture {
    admin_url: String,
    url: String,
    database: String,
    blob_dir: Option<tempfile::TempDir>,
}

impl suite::Fixture for PgFixture {
    type Store = PgStore;

    fn open(&self) -> PgStore {
        let mut options = PgOptions::new(self.url.clone());
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
        let mut client = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
        let rows: i64 = client
            .query_one("SELECT count(*) FROM blobs", &[])
            .expect("count blobs")
            .get(0);
        usize::try_from(rows).expect("a count")
    }
}

impl Drop for PgFixture {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ));
        }
    }
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).expect("prefix dir").count()
}

/// A fresh database on the test server, or `None` when there is none
/// (outside CI).
fn fresh(blobs_in_directory: bool) -> Option<PgFixture> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let Ok(admin_url) = std::env::var(URL_VAR) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{URL_VAR} is not set: CI must run the PostgreSQL store suite (see .ci/run)"
        );
        eprintln!("{URL_VAR} is not set: the PostgreSQL store suite does not run here");
        return None;
    };
    let database = format!(
        "postern_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("{URL_VAR}={admin_url}: cannot connect: {e}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .expect("create the test database");
    let mut config: postgres::Config = admin_url.parse().expect("a PostgreSQL URL");
    config.dbname(&database);
    let url = config_url(&config);
    Some(PgFixture {
        admin_url,
        url,
        database,
        blob_dir: blobs_in_directory.then(|| tempfile::tempdir().expect("temp dir")),
    })
}

/// `config` as a key=value connection string.
fn config_url(config: &postgres::Config) -> String {
    let mut parts = Vec::new();
    for host in config.get_hosts() {
        if let postgres::config::Host::Tcp(h) = host {
            parts.push(format!("host={h}"));
        }
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={user}"));
    }
    if let Some(password) = config.get_password() {
        parts.push(format!(
            "password={}",
            String::from_utf8_lossy(password)
                .replace('\\', "\\\\")
                .replace('\'', "\\'")
        ));
    }
    if let Some(db) = config.get_dbname() {
        parts.push(format!("dbname={db}"));
    }
    parts.join(" ")
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
