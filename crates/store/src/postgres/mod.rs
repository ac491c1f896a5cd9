//! The PostgreSQL back end: several Postern nodes on one database.
//!
//! Everything the SQLite back end keeps in its file is rows here (same
//! model, `schema`); message bytes are rows of `blobs` or files in a
//! directory every node shares ([`BlobPlace`]). What one node changes the
//! others hear of through LISTEN/NOTIFY (`notify`), so an IMAP IDLE on
//! one node sees a delivery made on another within milliseconds.
//!
//! Correctness between nodes rests on PostgreSQL's row locks, not on a
//! process's mutex: a write that allocates UIDs, MODSEQs or a calendar's
//! sync token updates the mailbox's or calendar's row first
//! (`UPDATE ... RETURNING`), which serialises it against every other
//! node's; outbound queue items are leased in their rows
//! (`lease_until`, `lease_owner`) with `FOR UPDATE SKIP LOCKED`, so two
//! nodes never deliver one item at once and a dead node's lease expires.
//! Write transactions run at READ COMMITTED and are retried, whole, when
//! PostgreSQL reports a serialization failure or deadlock (SQLSTATE 40001,
//! 40P01); reads run in one REPEATABLE READ, READ ONLY snapshot.
//!
//! Durability: `Ok` is returned after COMMIT, which PostgreSQL makes
//! durable (with its default `synchronous_commit = on`); message bytes in
//! a shared directory are fsynced and renamed into place before the rows
//! that name them are committed, as in the SQLite back end.
//!
//! # Layout
//! - this file: [`PgStore`], [`PgOptions`], the transaction helpers and
//!   `impl Store` (each method one call into its module).
//! - `pool`: connections; `schema`: tables and migrations; `notify`:
//!   changes between nodes; `blobs`: message bytes in either place.
//! - `accounts` (domains, aliases, subscriptions too), `mailboxes`,
//!   `queue`, `messages` (acceptance, flags, expunge, copy/move too),
//!   `calendars`: the statements, one concern per file.

mod accounts;
mod blobs;
mod calendars;
mod mailboxes;
mod messages;
mod notify;
mod pool;
mod queue;
mod schema;
pub mod testing;

use std::path::PathBuf;
use std::sync::Arc;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Row, Statement, Transaction};
use tokio::sync::broadcast;

use crate::error::{StoreError, StoreResult};
use crate::model::{
    Accepted, Account, AccountId, Alias, BlobId, Calendar, CalendarChanges, CalendarId,
    CalendarObject, CalendarObjectMeta, CalendarProps, Change, ComponentKind, Flag, FlagOp,
    Incoming, LocalFolder, Mailbox, MailboxCounts, MailboxId, MessageMeta, ModSeq,
    NewCalendarObject, Precondition, QueueId, QueueItem, RecipientOutcome, SpecialUse,
    StoreFlagsResult, Uid,
};
use crate::Store;

/// The schema version this code reads and writes.
pub const SCHEMA_VERSION: u32 = schema::VERSION;

/// The default of [`PgOptions::pool_size`]: enough for the blocking
/// threads of a busy node without crowding PostgreSQL's default 100
/// connections when a few nodes share it.
pub const POOL_SIZE: usize = 16;

/// How many times a write transaction is run again after a
/// serialization failure or deadlock before the error is returned.
const WRITE_ATTEMPTS: usize = 8;

/// How many committed changes a subscriber may fall behind before it is
/// told it lagged.
const CHANGE_CAPACITY: usize = 1024;

/// Where message bytes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobPlace {
    /// Rows of the `blobs` table (`bytea`): one thing to back up, nothing
    /// to share between nodes but the database.
    Database,
    /// Content-addressed files in a directory every node mounts (as the
    /// SQLite back end's `blobs/`): keeps big attachments out of the
    /// database and its WAL.
    Directory(PathBuf),
}

/// Opens a connection with TLS: given by the caller, so that the store
/// never links a TLS library nor sees a certificate (the server crate
/// makes one with rustls; see `postern_server::pg_tls`).
#[derive(Clone)]
pub struct Connector(pub Arc<ConnectFn>);

/// Opens one connection to the database the configuration names.
pub type ConnectFn =
    dyn Fn(&postgres::Config) -> Result<postgres::Client, postgres::Error> + Send + Sync;

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector")
    }
}

/// How to open a PostgreSQL store.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgOptions {
    /// A libpq-style URL or key=value string
    /// (`postgres://user:password@host:port/db`).
    pub url: String,
    /// The password, when it is not in the URL (read from a file).
    pub password: Option<String>,
    /// Connects with TLS; `None`: plain TCP or a Unix socket.
    pub connector: Option<Connector>,
    /// Connections this node keeps at most.
    pub pool_size: usize,
    pub blobs: BlobPlace,
    /// Hear other nodes' changes (LISTEN). Off for one-shot CLI commands,
    /// which subscribe to nothing.
    pub listen: bool,
    /// As `sqlite::OpenOptions::expunged_kept`.
    pub expunged_kept: usize,
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            password: None,
            connector: None,
            pool_size: POOL_SIZE,
            blobs: BlobPlace::Database,
            listen: true,
            expunged_kept: crate::sqlite::EXPUNGED_KEPT,
        }
    }
}

/// The PostgreSQL store. Cheap to share behind an `Arc`; every method
/// blocks (call it from `spawn_blocking` in async code).
pub struct PgStore {
    pool: Arc<pool::Pool>,
    blobs: blobs::Blobs,
    changes: broadcast::Sender<Change>,
    /// This node's name in notifications and queue leases: random per
    /// open, so a restarted node never mistakes an old lease for its own.
    node: String,
    /// Stops with the store.
    _listener: Option<notify::Listener>,
    expunged_kept: usize,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// What a write transaction leaves to do after its commit.
#[derive(Debug, Default)]
pub(super) struct Effects {
    pub(super) changes: Vec<Change>,
    /// Blobs that lost a reference: deleted after the commit if nothing
    /// references them any more (`blobs::Blobs::collect`).
    pub(super) freed: Vec<BlobId>,
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if is_retryable(&e) {
            return Self::Conflict(e.to_string());
        }
        Self::Database(e.to_string())
    }
}

fn is_retryable(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// Whether `e` is PostgreSQL's unique violation (SQLSTATE 23505): the
/// statements map it to `AlreadyExists` or `UidConflict`.
pub(super) fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Whether `e` is a foreign key violation (SQLSTATE 23503).
pub(super) fn is_foreign_key_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

impl PgStore {
    /// Connects, migrates the schema and starts listening for other
    /// nodes' changes.
    pub fn open(options: &PgOptions) -> StoreResult<Self> {
        let mut config: postgres::Config =
            options.url.parse().map_err(|e| StoreError::Invalid {
                what: "[store] url".into(),
                why: format!("{e}; write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE"),
            })?;
        if let Some(password) = &options.password {
            config.password(password);
        }
        if config.get_application_name().is_none() {
            config.application_name("postern");
        }
        let pool = Arc::new(pool::Pool::new(
            config,
            options.connector.clone(),
            options.pool_size,
        ));
        pool::off_runtime(|| schema::migrate(&mut *pool.get()?))?;
        let blobs = blobs::Blobs::open(&options.blobs)?;
        let node = node_name();
        let changes = broadcast::channel(CHANGE_CAPACITY).0;
        let listener = if options.listen {
            Some(
                notify::Listener::start(Arc::clone(&pool), node.clone(), changes.clone()).map_err(
                    |e| StoreError::Database(format!("cannot start the change listener: {e}")),
                )?,
            )
        } else {
            None
        };
        Ok(Self {
            pool,
            blobs,
            changes,
            node,
            _listener: listener,
            expunged_kept: options.expunged_kept,
        })
    }

    /// This node's name (in notifications and queue leases).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Runs `f` in a write transaction (READ COMMITTED), again from the
    /// start on a serialization failure or deadlock; after the commit,
    /// broadcasts its changes here and collects the blobs it freed. The
    /// changes reach other nodes by `pg_notify` inside the transaction.
    pub(super) fn write<T: Send>(
        &self,
        mut f: impl FnMut(&mut Tx<'_>, &mut Effects) -> StoreResult<T> + Send,
    ) -> StoreResult<T> {
        let (value, fx) = pool::off_runtime(|| {
            let mut pooled = self.pool.get()?;
            let (client, statements) = pooled.parts();
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mut fx = Effects::default();
                let result = (|| {
                    let mut tx = Tx {
                        tx: client.transaction()?,
                        statements: &mut *statements,
                    };
                    let value = f(&mut tx, &mut fx)?;
                    for payload in notify::encode(&self.node, &fx.changes) {
                        tx.execute("SELECT pg_notify($1, $2)", &[&notify::CHANNEL, &payload])?;
                    }
                    tx.tx.commit()?;
                    Ok(value)
                })();
                match result {
                    Ok(value) => return Ok((value, fx)),
                    Err(StoreError::Conflict(_)) if attempt < WRITE_ATTEMPTS => {
                        std::thread::sleep(std::time::Duration::from_millis(2 << attempt));
                    }
                    Err(e) => return Err(e),
                }
            }
        })?;
        for change in fx.changes {
            // An error only means that nobody is listening.
            let _ = self.changes.send(change);
        }
        if !fx.freed.is_empty() {
            self.blobs.collect(self, &fx.freed);
        }
        Ok(value)
    }

    /// Runs `f` in one consistent read-only snapshot.
    pub(super) fn read<T: Send>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> StoreResult<T> + Send,
    ) -> StoreResult<T> {
        pool::off_runtime(|| {
            let mut pooled = self.pool.get()?;
            let (client, statements) = pooled.parts();
            let mut tx = Tx {
                tx: client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?,
                statements,
            };
            let value = f(&mut tx)?;
            tx.tx.commit()?;
            Ok(value)
        })
    }
}

impl Drop for PgStore {
    /// A node that stops cleanly hands its queue leases back at once (as a
    /// restarted SQLite store forgets its claims); one that dies loses
    /// them when they run out.
    fn drop(&mut self) {
        let node = self.node.clone();
        let released = self.write(|tx, _| {
            tx.execute(
                "UPDATE queue SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = $1",
                &[&node],
            )?;
            Ok(())
        });
        if let Err(error) = released {
            tracing::warn!(%error, "cannot hand this node's queue leases back; they run out by themselves");
        }
    }
}

/// A transaction whose statements are prepared once per connection: the
/// store's modules call `execute`/`query*` with SQL text as they would on
/// a `postgres::Transaction` (which this derefs to for everything else).
pub(super) struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut pool::Statements,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl<'a> Tx<'a> {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        let tx = &mut self.tx;
        self.statements.get(sql, |sql| tx.prepare(sql))
    }

    pub(super) fn execute(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<u64, postgres::Error> {
        let statement = self.statement(sql)?;
        self.tx.execute(&statement, params)
    }

    pub(super) fn query(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.tx.query(&statement, params)
    }

    pub(super) fn query_one(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Row, postgres::Error> {
        let statement = self.statement(sql)?;
        self.tx.query_one(&statement, params)
    }

    pub(super) fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.tx.query_opt(&statement, params)
    }
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = Transaction<'a>;
    fn deref(&self) -> &Transaction<'a> {
        &self.tx
    }
}

impl<'a> std::ops::DerefMut for Tx<'a> {
    fn deref_mut(&mut self) -> &mut Transaction<'a> {
        &mut self.tx
    }
}

/// A name unlikely to repeat across nodes and restarts: host, process,
/// start time.
fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .take(40)
        .collect();
    format!("{host}-{}-{nanos:x}", std::process::id())
}

impl Store for PgStore {
    fn add_domain(&self, domain: &str) -> StoreResult<()> {
        accounts::add_domain(self, domain)
    }

    fn domains(&self) -> StoreResult<Vec<String>> {
        accounts::domains(self)
    }

    fn remove_domain(&self, domain: &str) -> StoreResult<()> {
        accounts::remove_domain(self, domain)
    }

    fn add_account(&self, address: &str, password_hash: &str) -> StoreResult<Account> {
        accounts::add_account(self, address, password_hash)
    }

    fn account(&self, address: &str) -> StoreResult<Option<Account>> {
        accounts::account(self, address)
    }

    fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        accounts::account_by_id(self, id)
    }

    fn accounts(&self) -> StoreResult<Vec<Account>> {
        accounts::accounts(self)
    }

    fn set_password_hash(&self, id: AccountId, password_hash: &str) -> StoreResult<()> {
        accounts::set_password_hash(self, id, password_hash)
    }

    fn set_disabled(&self, id: AccountId, disabled: bool) -> StoreResult<()> {
        accounts::set_disabled(self, id, disabled)
    }

    fn set_admin(&self, id: AccountId, admin: bool) -> StoreResult<()> {
        accounts::set_admin(self, id, admin)
    }

    fn set_quota(&self, id: AccountId, quota_bytes: u64) -> StoreResult<()> {
        accounts::set_quota(self, id, quota_bytes)
    }

    fn remove_account(&self, id: AccountId) -> StoreResult<()> {
        accounts::remove_account(self, id)
    }

    fn add_alias(&self, address: &str, targets: &[String]) -> StoreResult<()> {
        accounts::add_alias(self, address, targets)
    }

    fn aliases(&self) -> StoreResult<Vec<Alias>> {
        accounts::aliases(self)
    }

    fn remove_alias(&self, address: &str) -> StoreResult<()> {
        accounts::remove_alias(self, address)
    }

    fn resolve_recipient(&self, address: &str) -> StoreResult<Vec<AccountId>> {
        accounts::resolve_recipient(self, address)
    }

    fn mailboxes(&self, account: AccountId) -> StoreResult<Vec<Mailbox>> {
        mailboxes::mailboxes(self, account)
    }

    fn mailbox(&self, account: AccountId, name: &str) -> StoreResult<Option<Mailbox>> {
        mailboxes::mailbox(self, account, name)
    }

    fn mailbox_by_id(&self, id: MailboxId) -> StoreResult<Option<Mailbox>> {
        mailboxes::mailbox_by_id(self, id)
    }

    fn create_mailbox(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> StoreResult<Mailbox> {
        mailboxes::create_mailbox(self, account, name, special_use)
    }

    fn delete_mailbox(&self, id: MailboxId) -> StoreResult<()> {
        mailboxes::delete_mailbox(self, id)
    }

    fn rename_mailbox(&self, id: MailboxId, new_name: &str) -> StoreResult<()> {
        mailboxes::rename_mailbox(self, id, new_name)
    }

    fn subscribe_mailbox(&self, account: AccountId, name: &str) -> StoreResult<()> {
        accounts::subscribe_mailbox(self, account, name)
    }

    fn unsubscribe_mailbox(&self, account: AccountId, name: &str) -> StoreResult<()> {
        accounts::unsubscribe_mailbox(self, account, name)
    }

    fn subscriptions(&self, account: AccountId) -> StoreResult<Vec<String>> {
        accounts::subscriptions(self, account)
    }

    fn deliver(
        &self,
        accounts: &[AccountId],
        raw: &[u8],
        internal_date: i64,
    ) -> StoreResult<Vec<(MailboxId, Uid)>> {
        messages::deliver(self, accounts, raw, internal_date)
    }

    fn append(
        &self,
        mailbox: MailboxId,
        raw: &[u8],
        flags: &[Flag],
        internal_date: i64,
    ) -> StoreResult<Uid> {
        messages::append(self, mailbox, raw, flags, internal_date)
    }

    fn messages(&self, mailbox: MailboxId) -> StoreResult<Vec<MessageMeta>> {
        messages::messages(self, mailbox)
    }

    fn message_meta(&self, mailbox: MailboxId, uid: Uid) -> StoreResult<Option<MessageMeta>> {
        messages::message_meta(self, mailbox, uid)
    }

    fn messages_page(
        &self,
        mailbox: MailboxId,
        newest_first: bool,
        offset: usize,
        limit: usize,
    ) -> StoreResult<(Vec<MessageMeta>, usize)> {
        messages::messages_page(self, mailbox, newest_first, offset, limit)
    }

    fn mailbox_counts(&self, account: AccountId) -> StoreResult<Vec<MailboxCounts>> {
        messages::mailbox_counts(self, account)
    }

    fn read_message(&self, mailbox: MailboxId, uid: Uid) -> StoreResult<Vec<u8>> {
        messages::read_message(self, mailbox, uid)
    }

    fn read_blob(&self, blob: &BlobId, size: u64) -> StoreResult<Vec<u8>> {
        messages::read_blob(self, blob, size)
    }

    fn read_blob_head(&self, blob: &BlobId, size: u64, max: usize) -> StoreResult<Vec<u8>> {
        messages::read_blob_head(self, blob, size, max)
    }

    fn set_flags(&self, mailbox: MailboxId, uid: Uid, flags: &[Flag]) -> StoreResult<ModSeq> {
        messages::set_flags(self, mailbox, uid, flags)
    }

    fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: &[Flag],
        unchanged_since: Option<ModSeq>,
    ) -> StoreResult<StoreFlagsResult> {
        messages::store_flags(self, mailbox, uids, op, flags, unchanged_since)
    }

    fn expunge(&self, mailbox: MailboxId, uids: &[Uid]) -> StoreResult<()> {
        messages::expunge(self, mailbox, uids)
    }

    fn vanished_since(&self, mailbox: MailboxId, modseq: ModSeq) -> StoreResult<Vec<Uid>> {
        messages::vanished_since(self, mailbox, modseq)
    }

    fn copy(&self, from: MailboxId, uids: &[Uid], to: MailboxId) -> StoreResult<Vec<(Uid, Uid)>> {
        messages::copy(self, from, uids, to)
    }

    fn move_messages(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> StoreResult<Vec<(Uid, Uid)>> {
        messages::move_messages(self, from, uids, to)
    }

    fn claim_recent(&self, mailbox: MailboxId) -> StoreResult<std::ops::Range<Uid>> {
        messages::claim_recent(self, mailbox)
    }

    fn recent_mark(&self, mailbox: MailboxId) -> StoreResult<Uid> {
        messages::recent_mark(self, mailbox)
    }

    fn accept_into(&self, msg: &Incoming<'_>, folder: LocalFolder) -> StoreResult<Accepted> {
        messages::accept_into(self, msg, folder)
    }

    fn queue_due(&self, now: i64, limit: usize) -> StoreResult<Vec<QueueItem>> {
        queue::queue_due(self, now, limit)
    }

    fn queue_claim(&self, now: i64, lease_until: i64, limit: usize) -> StoreResult<Vec<QueueItem>> {
        queue::queue_claim(self, now, lease_until, limit)
    }

    fn queue_next_due(&self) -> StoreResult<Option<i64>> {
        queue::queue_next_due(self)
    }

    fn queue_update(
        &self,
        id: QueueId,
        results: &[(String, RecipientOutcome)],
    ) -> StoreResult<QueueItem> {
        queue::queue_update(self, id, results)
    }

    fn queue_finished(&self, limit: usize) -> StoreResult<Vec<QueueItem>> {
        queue::queue_finished(self, limit)
    }

    fn queue_finish(
        &self,
        id: QueueId,
        dsn: Option<&Incoming<'_>>,
    ) -> StoreResult<Option<Accepted>> {
        queue::queue_finish(self, id, dsn)
    }

    fn queue_list(&self) -> StoreResult<Vec<QueueItem>> {
        queue::queue_list(self)
    }

    fn queue_item(&self, id: QueueId) -> StoreResult<Option<QueueItem>> {
        queue::queue_item(self, id)
    }

    fn queue_read(&self, id: QueueId) -> StoreResult<Vec<u8>> {
        queue::queue_read(self, id)
    }

    fn queue_retry_now(&self, id: QueueId, now: i64) -> StoreResult<()> {
        queue::queue_retry_now(self, id, now)
    }

    fn queue_delete(&self, id: QueueId) -> StoreResult<()> {
        queue::queue_delete(self, id)
    }

    fn create_calendar_with(
        &self,
        account: AccountId,
        name: &str,
        components: &[ComponentKind],
        props: &CalendarProps,
    ) -> StoreResult<Calendar> {
        calendars::create_calendar_with(self, account, name, components, props)
    }

    fn calendars(&self, account: AccountId) -> StoreResult<Vec<Calendar>> {
        calendars::calendars(self, account)
    }

    fn calendar(&self, account: AccountId, name: &str) -> StoreResult<Option<Calendar>> {
        calendars::calendar(self, account, name)
    }

    fn update_calendar(&self, id: CalendarId, props: &CalendarProps) -> StoreResult<Calendar> {
        calendars::update_calendar(self, id, props)
    }

    fn delete_calendar(&self, id: CalendarId) -> StoreResult<()> {
        calendars::delete_calendar(self, id)
    }

    fn calendar_objects(&self, calendar: CalendarId) -> StoreResult<Vec<CalendarObjectMeta>> {
        calendars::calendar_objects(self, calendar)
    }

    fn calendar_object(
        &self,
        calendar: CalendarId,
        name: &str,
    ) -> StoreResult<Option<CalendarObject>> {
        calendars::calendar_object(self, calendar, name)
    }

    fn calendar_objects_by_name(
        &self,
        calendar: CalendarId,
        names: &[String],
    ) -> StoreResult<Vec<CalendarObject>> {
        calendars::calendar_objects_by_name(self, calendar, names)
    }

    fn calendar_objects_in_range(
        &self,
        calendar: CalendarId,
        start: i64,
        end: i64,
    ) -> StoreResult<Vec<CalendarObject>> {
        calendars::calendar_objects_in_range(self, calendar, start, end)
    }

    fn put_calendar_object(
        &self,
        calendar: CalendarId,
        obj: &NewCalendarObject<'_>,
        pre: Precondition,
    ) -> StoreResult<(CalendarObjectMeta, bool)> {
        calendars::put_calendar_object(self, calendar, obj, pre)
    }

    fn delete_calendar_object(
        &self,
        calendar: CalendarId,
        name: &str,
        pre: Precondition,
    ) -> StoreResult<()> {
        calendars::delete_calendar_object(self, calendar, name, pre)
    }

    fn calendar_changes_since(
        &self,
        calendar: CalendarId,
        token: u64,
    ) -> StoreResult<CalendarChanges> {
        calendars::calendar_changes_since(self, calendar, token)
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
