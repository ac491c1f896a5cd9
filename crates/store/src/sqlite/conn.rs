//! Opening SQLite connections, and the pool of reader connections.
//!
//! One writer connection (in `SqliteStore`, behind a mutex) and any number
//! of readers. In WAL mode readers see the last committed state and neither
//! block the writer nor wait for it
//! (<https://www.sqlite.org/wal.html#concurrency>), so a long `messages()`
//! never holds up a delivery.
//!
//! # Layout
//! - [`open_writer`] / [`open_reader`]: a connection with our pragmas.
//! - [`ReaderPool`] and its guard [`Reader`].

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::blobs::io_error;
use crate::error::{StoreError, StoreResult};

/// How long a connection waits for another process's write lock (the CLI
/// delivering while the server runs) before failing with "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the read-write connection, creating the file (mode 0600) if it is
/// missing, and switches the database to WAL.
pub(super) fn open_writer(path: &Path) -> StoreResult<Connection> {
    create_private_file(path)?;
    let conn = Connection::open_with_flags(path, flags())?;
    // WAL: readers do not block the writer nor the writer the readers, and
    // a commit appends to one file instead of rewriting pages in place
    // (https://www.sqlite.org/wal.html). The mode is persistent in the file.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(format!(
            "{}: could not switch to WAL mode (got {mode})",
            path.display()
        )));
    }
    configure(&conn)?;
    Ok(conn)
}

/// Opens a connection that may only read.
pub(super) fn open_reader(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(path, flags())?;
    configure(&conn)?;
    // A reader never writes; `query_only` turns a bug into an error
    // instead of a second writer racing the real one.
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// No `SQLITE_OPEN_CREATE` (the writer made the file) and no URI
/// interpretation, so the data directory's path is taken literally.
fn flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

/// The per-connection settings (none of these persist in the file).
fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Off by default in SQLite for compatibility; our cascades and the
    // domain check rely on it (https://www.sqlite.org/foreignkeys.html).
    conn.pragma_update(None, "foreign_keys", true)?;
    // FULL: the WAL is fsynced at every commit, so a commit that returned
    // survives a power loss. With NORMAL, WAL commits are only synced at
    // checkpoints and "might roll back following a power loss or system
    // crash" (https://www.sqlite.org/pragma.html#pragma_synchronous) -- and
    // we acknowledge mail (SMTP 250, IMAP APPEND OK) on commit.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // On macOS fsync() does not flush the drive's cache; F_FULLFSYNC does.
    // A no-op elsewhere (https://www.sqlite.org/pragma.html#pragma_fullfsync).
    conn.pragma_update(None, "fullfsync", true)?;
    Ok(())
}

/// Creates the database file with mode 0600 if it does not exist. SQLite
/// gives the `-wal` and `-shm` files the database file's mode, so they are
/// private too.
fn create_private_file(path: &Path) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(|e| io_error(path, e))
}

/// Idle reader connections, reused; more are opened when all are busy.
#[derive(Debug)]
pub(super) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// How many idle connections are kept; the rest are closed.
    keep: usize,
}

impl ReaderPool {
    pub(super) fn new(path: &Path, keep: usize) -> Self {
        Self {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            keep,
        }
    }

    /// A reader connection, idle or new.
    pub(super) fn get(&self) -> StoreResult<Reader<'_>> {
        let conn = match self.lock().pop() {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        Ok(Reader {
            conn: Some(conn),
            pool: self,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic elsewhere cannot leave a Vec of idle connections in a
        // broken state, so a poisoned lock is still good.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A borrowed reader; goes back to the pool when dropped.
pub(super) struct Reader<'a> {
    /// `Some` until `drop`.
    conn: Option<Connection>,
    pool: &'a ReaderPool,
}

impl Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Invariant: `conn` is taken only in `drop`.
        self.conn.as_ref().expect("reader used after drop")
    }
}

impl DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("reader used after drop")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // A connection still inside a transaction (a panic mid-read) is
        // closed rather than handed to the next caller.
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.pool.lock();
        if idle.len() < self.pool.keep {
            idle.push(conn);
        }
    }
}
