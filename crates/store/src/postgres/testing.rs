//! For the workspace's test suites: a database of its own on the test
//! PostgreSQL server, dropped when the value is.
//!
//! The server is named by `POSTERN_TEST_POSTGRES`, the URL of a role that
//! may create databases (`.ci/run` starts one on loopback). Without it
//! [`TestDatabase::fresh`] gives `None`, so a test can return early with
//! a note, except under `CI=true`, where it panics: CI must run them.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable naming the test server.
pub const URL_VAR: &str = "POSTERN_TEST_POSTGRES";

/// A fresh, empty database on the test server.
#[derive(Debug)]
pub struct TestDatabase {
    /// `postgres://USER:PASSWORD@HOST:PORT/NAME`: the database's URL, as
    /// `[store] url` and `PgOptions` take it.
    pub url: String,
    pub name: String,
    admin_url: String,
}

impl TestDatabase {
    /// A new database whose name starts with `postern_<tag>_`, or `None`
    /// when no test server is configured (outside CI).
    pub fn fresh(tag: &str) -> Option<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let Ok(admin_url) = std::env::var(URL_VAR) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{URL_VAR} is not set: CI must run the PostgreSQL tests (see .ci/run)"
            );
            eprintln!("{URL_VAR} is not set: this PostgreSQL test does not run here");
            return None;
        };
        let name = format!(
            "postern_{tag}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // Two statements: CREATE DATABASE cannot share a transaction.
        admin(
            &admin_url,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .and_then(|()| admin(&admin_url, &format!("CREATE DATABASE {name}")))
        .unwrap_or_else(|e| panic!("{URL_VAR}={admin_url}: creating {name}: {e}"));
        Some(Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        })
    }

    /// A plain connection, to look at the rows themselves.
    /// (Not from inside an async test: the blocking client runs its
    /// own runtime.)
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name))
    }

    /// The `[store]` section of a node on this database.
    pub fn store_section(&self) -> String {
        format!(
            "[store]\nbackend = \"postgres\"\nurl = \"{}\"\npool_size = 8\n",
            self.url
        )
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE: a node being stopped (or killed) may still hold
        // connections.
        let _ = admin(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs one statement as the test server's role, on a thread of its own:
/// tests calling this may be inside an async runtime, where the blocking
/// client cannot run.
fn admin(url: &str, sql: &str) -> Result<(), postgres::Error> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut client = postgres::Client::connect(url, postgres::NoTls)?;
                client.batch_execute(sql)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// `url` (postgres://USER:PASSWORD@HOST:PORT/DB?PARAMS) naming another
/// database.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .unwrap_or_else(|| panic!("{URL_VAR} must be a postgres:// URL, not {url}"));
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{authority}/{database}{query}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn another_database_keeps_the_rest_of_the_url() {
        assert_eq!(
            super::with_database(
                "postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable",
                "t1"
            ),
            "postgres://u:p@127.0.0.1:5432/t1?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@db", "t2"),
            "postgres://u@db/t2"
        );
    }
}
