//! The embedded back end: SQLite in WAL mode for everything but message
//! bytes, and content-addressed blob files for those.
//!
//! ```text
//! DATA/            0700
//!   mail.db        0600  (and mail.db-wal, mail.db-shm: same mode);
//!                        small messages' bytes too (`inline_blobs`)
//!   blobs/         0700
//!     ab/cdef...   one file per distinct big message, named by SHA-256
//!     tmp/         blobs being written
//! ```
//!
//! Writes go through one connection behind a mutex, each in one
//! `BEGIN IMMEDIATE` transaction (taking SQLite's write lock at once
//! rather than upgrading later, which could fail with "busy" mid-way:
//! <https://www.sqlite.org/lang_transaction.html>). Other processes on the
//! same store (the CLI next to the server) queue on that lock for up to the
//! busy timeout. Reads take a connection from a pool and see the last
//! commit, without waiting for the writer (WAL).
//!
//! Durability of a new message: a small one (up to [`INLINE_MAX`]) is
//! written into `inline_blobs` in the transaction of its rows; a bigger
//! one's blob file is written, fsynced and renamed into place, and its
//! directory fsynced ([`crate::blobs`]) before that transaction begins.
//! The rows are committed with `synchronous = FULL`, which fsyncs the WAL
//! before the commit returns. Only then is `Ok` returned and the change
//! broadcast. New messages are group-committed (`accept`, `group`):
//! concurrent writers share one transaction and its one fsync.
//!
//! # Layout
//! - this file: [`SqliteStore`], [`OpenOptions`], the write/read helpers,
//!   and `impl Store`.
//! - `schema`: the tables and migrations; `conn`: connections and the
//!   reader pool; `gc`: blob deletion and the orphan sweep.
//! - `accept`: new messages (blob, rows) in commit rounds; `group`: the
//!   rounds themselves.
//! - `accounts` (domains too), `aliases`, `mailboxes`, `messages`,
//!   `expunged`, `flags`, `queue`, `subscriptions`, `calendars`,
//!   `calendar_objects`: the statements, one concern per file.

mod accept;
mod accounts;
mod aliases;
mod calendar_objects;
mod calendars;
mod conn;
mod expunged;
mod flags;
mod gc;
mod group;
mod mailboxes;
mod messages;
mod queue;
mod schema;
mod subscriptions;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::broadcast;

use crate::blobs::{self, BlobStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{
    Accepted, Account, AccountId, Alias, BlobId, Calendar, CalendarChanges, CalendarId,
    CalendarObject, CalendarObjectMeta, CalendarProps, Change, ComponentKind, Flag, FlagOp,
    Incoming, LocalFolder, Mailbox, MailboxCounts, MailboxId, MessageMeta, ModSeq,
    NewCalendarObject, Precondition, QueueId, QueueItem, RecipientOutcome, SpecialUse,
    StoreFlagsResult, Uid,
};
use crate::{names, Store};

/// The schema version this code reads and writes.
pub const SCHEMA_VERSION: u32 = schema::VERSION;

/// The database file's name in the data directory.
pub const DB_FILE: &str = "mail.db";
/// The blob directory's name in the data directory.
pub const BLOB_DIR: &str = "blobs";
/// Messages up to this size keep their bytes in the database
/// (`inline_blobs`), bigger ones in a blob file. 64 KiB holds most mail
/// (text and small attachments) while keeping the WAL and its checkpoints
/// from carrying the big attachments twice.
pub const INLINE_MAX: usize = 64 * 1024;
/// How many committed changes a subscriber may fall behind before it is
/// told it lagged (and must re-read its mailbox).
const CHANGE_CAPACITY: usize = 1024;

/// How to open a store.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Delete orphaned blob files and stale temp files at open (left by a
    /// crash). Reads every blob directory: a one-off CLI command on a big
    /// store may want to skip it and leave it to the server.
    pub sweep_orphans: bool,
    /// Idle reader connections kept for reuse.
    pub idle_readers: usize,
    /// Expunged UIDs remembered per mailbox for IMAP QRESYNC (RFC 7162
    /// §5.3 advises a bound): beyond it the oldest are forgotten, and a
    /// client that last synchronised before them is sent every missing
    /// UID instead, which costs bandwidth, never correctness.
    pub expunged_kept: usize,
}

/// The default of [`OpenOptions::expunged_kept`]: a few hundred
/// kilobytes per mailbox at most, and weeks of a busy INBOX's deletions.
pub const EXPUNGED_KEPT: usize = 10_000;

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            sweep_orphans: true,
            idle_readers: 4,
            expunged_kept: EXPUNGED_KEPT,
        }
    }
}

/// The SQLite store. Cheap to share behind an `Arc`; every method blocks
/// (call it from `spawn_blocking` in async code).
pub struct SqliteStore {
    dir: PathBuf,
    /// The one connection that writes. Holding its lock also orders the
    /// broadcast of changes, so subscribers see them in commit order.
    writer: Mutex<Connection>,
    readers: conn::ReaderPool,
    blobs: BlobStore,
    changes: broadcast::Sender<Change>,
    /// Queue items claimed by a worker, and until when (`queue_claim`).
    /// In memory on purpose: a restart must forget them.
    claims: Mutex<HashMap<QueueId, i64>>,
    /// New messages waiting for, or in, a group commit round.
    rounds: accept::Rounds,
    /// [`OpenOptions::expunged_kept`].
    expunged_kept: usize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What a write transaction leaves to do once it has committed.
#[derive(Debug, Default)]
struct Effects {
    /// To broadcast, in order.
    changes: Vec<Change>,
    /// Blobs that lost a reference; deleted if they have none left.
    freed: Vec<BlobId>,
}

impl SqliteStore {
    /// Opens the store in `data_dir` (created, 0700, if missing) with the
    /// default options: runs pending migrations and sweeps orphans.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        Self::open_with(data_dir, &OpenOptions::default())
    }

    /// Opens the store with explicit options.
    pub fn open_with(data_dir: &Path, options: &OpenOptions) -> StoreResult<Self> {
        blobs::create_dir(data_dir)?;
        let db = data_dir.join(DB_FILE);
        let mut writer = conn::open_writer(&db)?;
        schema::migrate(&mut writer)?;
        let blobs = BlobStore::open(&data_dir.join(BLOB_DIR))?;
        // The file and blob directory entries are new on first open; make
        // them durable before anything relies on them. (SQLite syncs the
        // directory itself when it creates the WAL file.)
        blobs::sync_dir(data_dir)?;
        if options.sweep_orphans {
            gc::sweep(&mut writer, &blobs)?;
        }
        Ok(Self {
            dir: data_dir.to_path_buf(),
            writer: Mutex::new(writer),
            readers: conn::ReaderPool::new(&db, options.idle_readers),
            blobs,
            changes: broadcast::channel(CHANGE_CAPACITY).0,
            claims: Mutex::new(HashMap::new()),
            rounds: accept::Rounds::new(),
            expunged_kept: options.expunged_kept,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// Deletes orphaned blob files and stale temp files now; returns how
    /// many files were removed.
    pub fn sweep_orphans(&self) -> StoreResult<usize> {
        gc::sweep(&mut self.lock_writer(), &self.blobs)
    }

    fn lock_writer(&self) -> MutexGuard<'_, Connection> {
        // A panic inside a write unwinds through `Transaction`'s drop,
        // which rolls back: the connection is clean, so poisoning is moot.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in one write transaction; after the commit, broadcasts its
    /// changes and deletes the blobs it freed.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &mut Effects) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.lock_writer();
        let mut fx = Effects::default();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx, &mut fx)?;
        tx.commit()?;
        for change in fx.changes {
            // An error only means that nobody is listening.
            let _ = self.changes.send(change);
        }
        gc::collect(&mut conn, &self.blobs, &fx.freed);
        Ok(value)
    }

    /// Runs `f` in one read transaction: a consistent snapshot.
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.readers.get()?;
        let tx = conn.transaction()?;
        f(&tx)
    }

    /// Inside a write transaction: makes sure `blob` is on disk. Between
    /// our `put` and this transaction, a collection may have deleted the
    /// file because it was unreferenced; under the write lock nothing can
    /// delete it again before we commit.
    fn ensure_blob(&self, blob: &BlobId, raw: &[u8]) -> StoreResult<()> {
        if !self.blobs.contains(blob)? {
            self.blobs.put(raw)?;
        }
        Ok(())
    }

    /// The bytes of an inline blob, if there is one. One statement in
    /// autocommit mode: no transaction to open and close around it.
    fn read_inline(&self, blob: &BlobId) -> StoreResult<Option<Vec<u8>>> {
        let conn = self.readers.get()?;
        let mut stmt = conn.prepare_cached("SELECT bytes FROM inline_blobs WHERE id = ?1")?;
        Ok(stmt.query_row([&blob.0], |r| r.get(0)).optional()?)
    }

    /// After a failed write: deletes `blob` again if nothing uses it.
    fn forget_blob(&self, blob: BlobId) {
        gc::collect(&mut self.lock_writer(), &self.blobs, &[blob]);
    }

    /// Stores a message: blob first (durable), then the rows.
    fn store_message<T>(
        &self,
        raw: &[u8],
        f: impl FnOnce(&Transaction<'_>, &BlobId, &mut Effects) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let blob = self.blobs.put(raw)?;
        let result = self.write(|tx, fx| {
            self.ensure_blob(&blob, raw)?;
            f(tx, &blob, fx)
        });
        if result.is_err() {
            self.forget_blob(blob);
        }
        result
    }
}

/// The claims map; a poisoned lock still holds a valid map.
fn lock_claims(claims: &Mutex<HashMap<QueueId, i64>>) -> MutexGuard<'_, HashMap<QueueId, i64>> {
    claims.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `Invalid` for a message with nowhere to go.
fn check_recipients(msg: &Incoming<'_>) -> StoreResult<()> {
    if msg.local.is_empty() && msg.remote.is_empty() {
        return Err(StoreError::Invalid {
            what: "the message".into(),
            why: "it has no recipient".into(),
        });
    }
    Ok(())
}

fn missing(what: String) -> StoreError {
    StoreError::NotFound { what }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

/// Whether a live claim (ending after `now`) holds the item.
fn claimed(claims: &HashMap<QueueId, i64>, id: QueueId, now: i64) -> bool {
    claims.get(&id).is_some_and(|&until| until > now)
}

fn len_u64(raw: &[u8]) -> u64 {
    raw.len() as u64
}

impl Store for SqliteStore {
    fn add_domain(&self, domain: &str) -> StoreResult<()> {
        self.write(|tx, _| accounts::add_domain(tx, domain))
    }

    fn domains(&self) -> StoreResult<Vec<String>> {
        self.read(|tx| accounts::domains(tx))
    }

    fn remove_domain(&self, domain: &str) -> StoreResult<()> {
        self.write(|tx, _| accounts::remove_domain(tx, domain))
    }

    fn add_account(&self, address: &str, password_hash: &str) -> StoreResult<Account> {
        self.write(|tx, fx| accounts::add_account(tx, address, password_hash, fx))
    }

    fn account(&self, address: &str) -> StoreResult<Option<Account>> {
        let Ok(addr) = names::address(address) else {
            return Ok(None);
        };
        self.read(|tx| accounts::by_address(tx, &addr.full))
    }

    fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.read(|tx| accounts::by_id(tx, id))
    }

    fn accounts(&self) -> StoreResult<Vec<Account>> {
        self.read(|tx| accounts::list(tx))
    }

    fn set_password_hash(&self, id: AccountId, password_hash: &str) -> StoreResult<()> {
        self.write(|tx, _| accounts::update(tx, id, accounts::Column::PasswordHash, &password_hash))
    }

    fn set_disabled(&self, id: AccountId, disabled: bool) -> StoreResult<()> {
        self.write(|tx, _| accounts::update(tx, id, accounts::Column::Disabled, &disabled))
    }

    fn set_admin(&self, id: AccountId, admin: bool) -> StoreResult<()> {
        self.write(|tx, _| accounts::update(tx, id, accounts::Column::Admin, &admin))
    }

    fn set_quota(&self, id: AccountId, quota_bytes: u64) -> StoreResult<()> {
        let quota = i64::try_from(quota_bytes).unwrap_or(i64::MAX);
        self.write(|tx, _| accounts::update(tx, id, accounts::Column::Quota, &quota))
    }

    fn remove_account(&self, id: AccountId) -> StoreResult<()> {
        self.write(|tx, fx| accounts::remove_account(tx, id, fx))
    }

    fn add_alias(&self, address: &str, targets: &[String]) -> StoreResult<()> {
        self.write(|tx, _| aliases::add(tx, address, targets))
    }

    fn aliases(&self) -> StoreResult<Vec<Alias>> {
        self.read(|tx| aliases::list(tx))
    }

    fn remove_alias(&self, address: &str) -> StoreResult<()> {
        self.write(|tx, _| aliases::remove(tx, address))
    }

    fn resolve_recipient(&self, address: &str) -> StoreResult<Vec<AccountId>> {
        self.read(|tx| aliases::resolve(tx, address))
    }

    fn mailboxes(&self, account: AccountId) -> StoreResult<Vec<Mailbox>> {
        self.read(|tx| {
            let list = mailboxes::list(tx, account)?;
            if list.is_empty() && accounts::by_id(tx, account)?.is_none() {
                return Err(missing(format!("account {}", account.0)));
            }
            Ok(list)
        })
    }

    fn mailbox(&self, account: AccountId, name: &str) -> StoreResult<Option<Mailbox>> {
        let Ok(name) = names::mailbox_name(name) else {
            return Ok(None);
        };
        self.read(|tx| mailboxes::by_name(tx, account, &name))
    }

    fn mailbox_by_id(&self, id: MailboxId) -> StoreResult<Option<Mailbox>> {
        self.read(|tx| mailboxes::by_id(tx, id))
    }

    fn create_mailbox(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> StoreResult<Mailbox> {
        if special_use == Some(SpecialUse::Inbox) {
            return Err(StoreError::Invalid {
                what: format!("mailbox {name:?}"),
                why: "an account has one INBOX, made with the account".into(),
            });
        }
        self.write(|tx, fx| {
            if accounts::by_id(tx, account)?.is_none() {
                return Err(missing(format!("account {}", account.0)));
            }
            mailboxes::create(tx, account, name, special_use, fx)
        })
    }

    fn delete_mailbox(&self, id: MailboxId) -> StoreResult<()> {
        self.write(|tx, fx| mailboxes::delete(tx, id, fx))
    }

    fn rename_mailbox(&self, id: MailboxId, new_name: &str) -> StoreResult<()> {
        self.write(|tx, _| mailboxes::rename(tx, id, new_name))
    }

    fn subscribe_mailbox(&self, account: AccountId, name: &str) -> StoreResult<()> {
        let name = names::mailbox_name(name)?;
        self.write(|tx, _| subscriptions::subscribe(tx, account, &name))
    }

    fn unsubscribe_mailbox(&self, account: AccountId, name: &str) -> StoreResult<()> {
        let name = names::mailbox_name(name)?;
        self.write(|tx, _| subscriptions::unsubscribe(tx, account, &name))
    }

    fn subscriptions(&self, account: AccountId) -> StoreResult<Vec<String>> {
        self.read(|tx| subscriptions::list(tx, account))
    }

    fn deliver(
        &self,
        accounts: &[AccountId],
        raw: &[u8],
        internal_date: i64,
    ) -> StoreResult<Vec<(MailboxId, Uid)>> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let target = || accept::Target::Inboxes(accounts.to_vec());
        let placed = self.store_new(raw, |blob| {
            accept::Job::local(raw, blob, internal_date, target())
        })?;
        Ok(placed.local)
    }

    fn append(
        &self,
        mailbox: MailboxId,
        raw: &[u8],
        flags: &[Flag],
        internal_date: i64,
    ) -> StoreResult<Uid> {
        let flags = names::flags(flags)?;
        let target = || accept::Target::Mailbox(mailbox, flags.clone());
        let placed = self.store_new(raw, |blob| {
            accept::Job::local(raw, blob, internal_date, target())
        })?;
        Ok(placed.local[0].1)
    }

    fn messages(&self, mailbox: MailboxId) -> StoreResult<Vec<MessageMeta>> {
        self.read(|tx| messages::list(tx, mailbox))
    }

    fn message_meta(&self, mailbox: MailboxId, uid: Uid) -> StoreResult<Option<MessageMeta>> {
        self.read(|tx| messages::meta(tx, mailbox, uid))
    }

    fn messages_page(
        &self,
        mailbox: MailboxId,
        newest_first: bool,
        offset: usize,
        limit: usize,
    ) -> StoreResult<(Vec<MessageMeta>, usize)> {
        self.read(|tx| messages::page(tx, mailbox, newest_first, offset, limit))
    }

    fn mailbox_counts(&self, account: AccountId) -> StoreResult<Vec<MailboxCounts>> {
        self.read(|tx| messages::counts(tx, account))
    }

    fn read_message(&self, mailbox: MailboxId, uid: Uid) -> StoreResult<Vec<u8>> {
        let (blob, size) = self.read(|tx| messages::blob_of(tx, mailbox, uid))?;
        self.read_blob(&blob, size)
    }

    fn read_blob(&self, blob: &BlobId, size: u64) -> StoreResult<Vec<u8>> {
        // A small message stored before the inline table existed is a
        // file: look there when the row is absent.
        let inline = match usize::try_from(size) {
            Ok(n) if n <= INLINE_MAX => self.read_inline(blob)?,
            _ => None,
        };
        let bytes = match inline {
            Some(bytes) => bytes,
            None => self.blobs.get(blob)?,
        };
        if len_u64(&bytes) != size {
            return Err(StoreError::Database(format!(
                "blob {blob} has {} bytes, its message says {size}: the blob store is damaged",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    fn read_blob_head(&self, blob: &BlobId, size: u64, max: usize) -> StoreResult<Vec<u8>> {
        // Small messages are one row: read whole. A large one is a file,
        // of which only the start is read.
        if usize::try_from(size).is_ok_and(|n| n <= INLINE_MAX || n <= max) {
            let mut bytes = self.read_blob(blob, size)?;
            bytes.truncate(max);
            return Ok(bytes);
        }
        self.blobs.get_head(blob, max)
    }

    fn set_flags(&self, mailbox: MailboxId, uid: Uid, flags: &[Flag]) -> StoreResult<ModSeq> {
        let flags = names::flags(flags)?;
        self.write(|tx, fx| messages::set_flags(tx, mailbox, uid, &flags, fx))
    }

    fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: &[Flag],
        unchanged_since: Option<ModSeq>,
    ) -> StoreResult<StoreFlagsResult> {
        let flags = names::flags(flags)?;
        self.write(|tx, fx| {
            messages::store_flags(tx, mailbox, uids, op, &flags, unchanged_since, fx)
        })
    }

    fn expunge(&self, mailbox: MailboxId, uids: &[Uid]) -> StoreResult<()> {
        let kept = self.expunged_kept;
        self.write(|tx, fx| messages::expunge(tx, mailbox, uids, kept, fx))
    }

    fn vanished_since(&self, mailbox: MailboxId, modseq: ModSeq) -> StoreResult<Vec<Uid>> {
        self.read(|tx| expunged::vanished_since(tx, mailbox, modseq))
    }

    fn copy(&self, from: MailboxId, uids: &[Uid], to: MailboxId) -> StoreResult<Vec<(Uid, Uid)>> {
        self.write(|tx, fx| messages::copy(tx, from, uids, to, fx))
    }

    fn move_messages(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> StoreResult<Vec<(Uid, Uid)>> {
        if from == to {
            return Err(StoreError::Invalid {
                what: format!("mailbox {}", from.0),
                why: "messages cannot be moved into their own mailbox".into(),
            });
        }
        let kept = self.expunged_kept;
        self.write(|tx, fx| messages::move_messages(tx, from, uids, to, kept, fx))
    }

    fn claim_recent(&self, mailbox: MailboxId) -> StoreResult<std::ops::Range<Uid>> {
        self.write(|tx, _| messages::claim_recent(tx, mailbox))
    }

    fn recent_mark(&self, mailbox: MailboxId) -> StoreResult<Uid> {
        self.read(|tx| messages::recent_mark(tx, mailbox))
    }

    fn accept_into(&self, msg: &Incoming<'_>, folder: LocalFolder) -> StoreResult<Accepted> {
        check_recipients(msg)?;
        self.store_new(msg.raw, |blob| accept::Job::incoming(msg, folder, blob))
    }

    fn queue_due(&self, now: i64, limit: usize) -> StoreResult<Vec<QueueItem>> {
        let claims = lock_claims(&self.claims);
        self.read(|tx| queue::due(tx, now, limit, |id| claimed(&claims, id, now)))
    }

    fn queue_claim(&self, now: i64, lease_until: i64, limit: usize) -> StoreResult<Vec<QueueItem>> {
        // The claims lock is held from the read to the marking, so two
        // workers cannot both see an item unclaimed.
        let mut claims = lock_claims(&self.claims);
        claims.retain(|_, until| *until > now);
        let items = self.read(|tx| queue::due(tx, now, limit, |id| claims.contains_key(&id)))?;
        for item in &items {
            claims.insert(item.id, lease_until);
        }
        Ok(items)
    }

    fn queue_next_due(&self) -> StoreResult<Option<i64>> {
        let claims = lock_claims(&self.claims);
        let mut earliest: Option<i64> = None;
        self.read(|tx| {
            queue::due_times(tx, |id, due| {
                // Rows come in `due` order: once one is later than the best
                // so far, none after it can be earlier.
                if earliest.is_some_and(|e| due >= e) {
                    return false;
                }
                let at = claims.get(&id).map_or(due, |&until| due.max(until));
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
                true
            })
        })?;
        Ok(earliest)
    }

    fn queue_update(
        &self,
        id: QueueId,
        results: &[(String, RecipientOutcome)],
    ) -> StoreResult<QueueItem> {
        let item = self.write(|tx, _| queue::update(tx, id, results))?;
        lock_claims(&self.claims).remove(&id);
        Ok(item)
    }

    fn queue_finished(&self, limit: usize) -> StoreResult<Vec<QueueItem>> {
        self.read(|tx| queue::finished(tx, limit))
    }

    fn queue_finish(
        &self,
        id: QueueId,
        dsn: Option<&Incoming<'_>>,
    ) -> StoreResult<Option<Accepted>> {
        let remove = |tx: &Transaction<'_>, fx: &mut Effects| {
            if queue::has_pending(tx, id)? {
                return Err(StoreError::InUse {
                    what: format!("queue item {id}"),
                    why: "a recipient is still pending".into(),
                });
            }
            queue::delete(tx, id, fx)
        };
        let placed = match dsn {
            None => self.write(|tx, fx| remove(tx, fx)).map(|()| None),
            Some(msg) => {
                check_recipients(msg)?;
                self.store_message(msg.raw, |tx, blob, fx| {
                    remove(tx, fx)?;
                    let job = accept::Job::incoming(msg, LocalFolder::Inbox, blob.clone());
                    accept::place(tx, &job, fx).map(Some)
                })
            }
        }?;
        lock_claims(&self.claims).remove(&id);
        Ok(placed)
    }

    fn queue_list(&self) -> StoreResult<Vec<QueueItem>> {
        self.read(|tx| queue::list(tx))
    }

    fn queue_item(&self, id: QueueId) -> StoreResult<Option<QueueItem>> {
        self.read(|tx| queue::load(tx, id))
    }

    fn queue_read(&self, id: QueueId) -> StoreResult<Vec<u8>> {
        let (blob, size) = self.read(|tx| queue::blob_of(tx, id))?;
        self.read_blob(&blob, size)
    }

    fn queue_retry_now(&self, id: QueueId, now: i64) -> StoreResult<()> {
        self.write(|tx, fx| {
            queue::retry_now(tx, id, now)?;
            fx.changes.push(Change::Queued { id });
            Ok(())
        })
    }

    fn queue_delete(&self, id: QueueId) -> StoreResult<()> {
        self.write(|tx, fx| queue::delete(tx, id, fx))?;
        lock_claims(&self.claims).remove(&id);
        Ok(())
    }

    fn create_calendar_with(
        &self,
        account: AccountId,
        name: &str,
        components: &[ComponentKind],
        props: &CalendarProps,
    ) -> StoreResult<Calendar> {
        // An error in `update` rolls the whole transaction back.
        self.write(|tx, _| {
            let cal = calendars::create(tx, account, name, "", components)?;
            calendars::update(tx, cal.id, props)
        })
    }

    fn calendars(&self, account: AccountId) -> StoreResult<Vec<Calendar>> {
        self.read(|tx| {
            let list = calendars::list(tx, account)?;
            if list.is_empty() && accounts::by_id(tx, account)?.is_none() {
                return Err(missing(format!("account {}", account.0)));
            }
            Ok(list)
        })
    }

    fn calendar(&self, account: AccountId, name: &str) -> StoreResult<Option<Calendar>> {
        let Ok(name) = names::calendar_name(name) else {
            return Ok(None);
        };
        self.read(|tx| calendars::by_name(tx, account, &name))
    }

    fn update_calendar(&self, id: CalendarId, props: &CalendarProps) -> StoreResult<Calendar> {
        self.write(|tx, _| calendars::update(tx, id, props))
    }

    fn delete_calendar(&self, id: CalendarId) -> StoreResult<()> {
        self.write(|tx, _| calendars::delete(tx, id))
    }

    fn calendar_objects(&self, calendar: CalendarId) -> StoreResult<Vec<CalendarObjectMeta>> {
        self.read(|tx| calendar_objects::list(tx, calendar))
    }

    fn calendar_object(
        &self,
        calendar: CalendarId,
        name: &str,
    ) -> StoreResult<Option<CalendarObject>> {
        self.read(|tx| match names::calendar_object_name(name) {
            Ok(name) => calendar_objects::get(tx, calendar, &name),
            Err(_) => calendars::require(tx, calendar).map(|_| None),
        })
    }

    fn calendar_objects_by_name(
        &self,
        calendar: CalendarId,
        names: &[String],
    ) -> StoreResult<Vec<CalendarObject>> {
        self.read(|tx| calendar_objects::get_many(tx, calendar, names))
    }

    fn calendar_objects_in_range(
        &self,
        calendar: CalendarId,
        start: i64,
        end: i64,
    ) -> StoreResult<Vec<CalendarObject>> {
        self.read(|tx| calendar_objects::in_range(tx, calendar, start, end))
    }

    fn put_calendar_object(
        &self,
        calendar: CalendarId,
        obj: &NewCalendarObject<'_>,
        pre: Precondition,
    ) -> StoreResult<(CalendarObjectMeta, bool)> {
        crate::calendar_checks::object(obj)?;
        self.write(|tx, fx| calendar_objects::put(tx, calendar, obj, &pre, fx))
    }

    fn delete_calendar_object(
        &self,
        calendar: CalendarId,
        name: &str,
        pre: Precondition,
    ) -> StoreResult<()> {
        let name = names::calendar_object_name(name)?;
        self.write(|tx, fx| calendar_objects::delete(tx, calendar, &name, &pre, fx))
    }

    fn calendar_changes_since(
        &self,
        calendar: CalendarId,
        token: u64,
    ) -> StoreResult<CalendarChanges> {
        self.read(|tx| calendar_objects::changes_since(tx, calendar, token))
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
