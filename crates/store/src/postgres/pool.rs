//! A small pool of PostgreSQL connections, and running their calls off
//! any async runtime.
//!
//! The `postgres` crate's blocking client drives its connection on a
//! runtime of its own, which tokio forbids inside a thread that is
//! already running async tasks. Store methods are meant to be called from
//! `spawn_blocking` (where that is allowed), but a call from an async task
//! must not bring the server down: [`off_runtime`] steps out of the
//! runtime first.
//!
//! # Layout
//! - [`Pool`]: connections up to a bound, opened on demand, broken ones
//!   dropped; [`Pooled`] gives one back on drop.
//! - [`off_runtime`].

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use std::collections::HashMap;

use postgres::{Client, Config, NoTls, Statement};

use crate::error::{StoreError, StoreResult};

/// How long a caller waits for a free connection before failing: long
/// enough to ride out a burst, short enough that a stuck database shows
/// up as errors rather than as a server that silently hangs.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct Pool {
    config: Config,
    connector: Option<super::Connector>,
    size: usize,
    state: Mutex<State>,
    freed: Condvar,
}

/// A connection and the statements prepared on it.
pub(super) struct Conn {
    pub(super) client: Client,
    pub(super) statements: Statements,
}

/// Statements prepared once per connection, by their SQL text: a
/// statement sent as text is parsed and described by the server before
/// it runs (one more round trip each time); a prepared one only runs.
#[derive(Default)]
pub(super) struct Statements(HashMap<String, Statement>);

/// More distinct statements than the store has means SQL built from data
/// (it is not, today); the cache then starts afresh rather than grow.
const STATEMENTS_MAX: usize = 512;

impl Statements {
    /// The prepared statement for `sql`, preparing it on `client`'s
    /// connection (through `prepare`) the first time.
    pub(super) fn get(
        &mut self,
        sql: &str,
        prepare: impl FnOnce(&str) -> Result<Statement, postgres::Error>,
    ) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = prepare(sql)?;
        if self.0.len() >= STATEMENTS_MAX {
            self.0.clear();
        }
        self.0.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

struct State {
    idle: Vec<Conn>,
    /// Connections handed out or idle.
    open: usize,
}

impl Pool {
    pub(super) fn new(config: Config, connector: Option<super::Connector>, size: usize) -> Self {
        Self {
            config,
            connector,
            size: size.max(1),
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Opens a connection outside the pool (the change listener's).
    pub(super) fn connect(&self) -> StoreResult<Client> {
        connect(&self.config, self.connector.as_ref())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection: an idle one, a new one if the pool is below its
    /// size, or the next one given back.
    pub(super) fn get(&self) -> StoreResult<Pooled<'_>> {
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                if conn.client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(Pooled {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.open < self.size {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(client) => Ok(Pooled {
                        pool: self,
                        conn: Some(Conn {
                            client,
                            statements: Statements::default(),
                        }),
                    }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let (next, timeout) = self
                .freed
                .wait_timeout(state, CHECKOUT_TIMEOUT)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            if timeout.timed_out() && state.idle.is_empty() && state.open >= self.size {
                return Err(StoreError::Database(format!(
                    "all {} PostgreSQL connections stayed busy for {}s; raise [store] pool_size or look for slow queries (pg_stat_activity)",
                    self.size,
                    CHECKOUT_TIMEOUT.as_secs()
                )));
            }
        }
    }

    fn put_back(&self, conn: Conn) {
        let mut state = self.lock();
        if conn.client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(conn);
        }
        drop(state);
        self.freed.notify_one();
    }
}

/// A connection, through the caller's TLS connector if there is one.
fn connect(config: &Config, connector: Option<&super::Connector>) -> StoreResult<Client> {
    let connected = match connector {
        Some(connector) => (connector.0)(config),
        None => config.connect(NoTls),
    };
    connected.map_err(|e| {
        StoreError::Database(format!(
            "cannot connect to PostgreSQL ({e}); check [store] url, that the server runs and accepts this user"
        ))
    })
}

/// A pooled connection, given back when dropped.
pub(super) struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
}

impl Pooled<'_> {
    /// The connection and its statements, apart.
    pub(super) fn parts(&mut self) -> (&mut Client, &mut Statements) {
        let conn = self.conn.as_mut().expect("a pooled connection until drop");
        (&mut conn.client, &mut conn.statements)
    }
}

impl Deref for Pooled<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self
            .conn
            .as_ref()
            .expect("a pooled connection until drop")
            .client
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self
            .conn
            .as_mut()
            .expect("a pooled connection until drop")
            .client
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(conn);
        }
    }
}

/// Runs `f` where the blocking PostgreSQL client may run: here when no
/// runtime is around; through `block_in_place` on a multi-threaded
/// runtime (which leaves the runtime's context, and on one of its
/// blocking-pool threads, where store calls are meant to run, costs
/// nothing); on a scoped thread of its own under a current-thread
/// runtime, which cannot give its thread up. A panic in `f` is the
/// caller's panic.
pub(super) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => f(),
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|scope| match scope.spawn(f).join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}
