//! PostgreSQL: messages: acceptance (deliver, append, accept), listing,
//! flags, expunge and QRESYNC's memory of it, copy and move, \Recent.
//!
//! The semantics are the SQLite back end's (`crate::sqlite::messages`,
//! `flags`, `expunged`, `accept`); what differs is how they hold between
//! nodes. UIDs and MODSEQs come from the mailbox's row, moved on by
//! `UPDATE mailboxes ... RETURNING` or read under `FOR NO KEY UPDATE`:
//! the row lock serialises every node's writes to one mailbox until
//! commit, so a UID is handed out once (RFC 9051 §2.3.1.1) and MODSEQs
//! only grow (RFC 7162 §3.1.1). The quota is checked against the
//! account's row, locked too, so concurrent deliveries cannot both
//! squeeze under it (`accounts.used_bytes` is kept by a trigger).
//!
//! Locks are taken in one order to keep deadlocks rare (one still only
//! costs a retry): the new message's blob (advisory, see `blobs`), then
//! accounts, then mailboxes, each by ascending id; message rows last.
//! The "NO KEY" lock strength leaves inserts of rows that merely refer to
//! the account or mailbox (foreign key checks) free to proceed.
//!
//! Each call is one transaction: PostgreSQL's WAL writer already shares
//! one flush among the commits of concurrent sessions, so the SQLite back
//! end's commit rounds have no counterpart here.
//!
//! # Layout
//! - acceptance: [`deliver`], [`append`], [`accept_into`], [`accept_with`];
//!   `store_new`, `place`, `insert`, `check_quota`.
//! - reads: [`messages`], [`message_meta`], [`messages_page`],
//!   [`mailbox_counts`], [`read_message`], [`read_blob`],
//!   [`read_blob_head`].
//! - flags: [`set_flags`], [`store_flags`]; `split`, `join`, keywords.
//! - removal: [`expunge`], [`vanished_since`]; copies: [`copy`],
//!   [`move_messages`]; [`claim_recent`], [`recent_mark`].

use std::collections::HashMap;
use std::ops::Range;

use postgres::Row;

use super::Tx;

use super::blobs::Blobs;
use super::{mailboxes, queue, Effects, PgStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{
    Accepted, AccountId, BlobId, Change, Envelope, Flag, FlagOp, Incoming, LocalFolder,
    MailboxCounts, MailboxId, MessageMeta, ModSeq, RemoteRecipient, StoreFlagsResult, Uid,
};
use crate::names;

// ---------------------------------------------------------------------
// Acceptance

/// Where a new message's local copies go.
enum Target<'a> {
    /// The INBOX of each account, in order.
    Inboxes(&'a [AccountId]),
    /// The Junk folder of each account, in order (created if missing).
    Junk(&'a [AccountId]),
    /// One mailbox, with flags already canonical (IMAP APPEND).
    Mailbox(MailboxId, &'a [Flag]),
}

/// The rows a new message makes.
struct Job<'a> {
    size: u64,
    internal_date: i64,
    target: Target<'a>,
    envelope: Option<&'a Envelope>,
    remote: &'a [RemoteRecipient],
}

/// A message about to get a row in a mailbox.
struct NewMessage<'a> {
    blob: &'a BlobId,
    size: u64,
    internal_date: i64,
    /// Canonical (see [`names::flags`]).
    flags: &'a [Flag],
}

pub(super) fn deliver(
    store: &PgStore,
    accounts: &[AccountId],
    raw: &[u8],
    internal_date: i64,
) -> StoreResult<Vec<(MailboxId, Uid)>> {
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    let job = Job::local(raw, internal_date, Target::Inboxes(accounts));
    Ok(store_new(store, raw, &job, |_, _| Ok(()))?.local)
}

pub(super) fn append(
    store: &PgStore,
    mailbox: MailboxId,
    raw: &[u8],
    flags: &[Flag],
    internal_date: i64,
) -> StoreResult<Uid> {
    let flags = names::flags(flags)?;
    let job = Job::local(raw, internal_date, Target::Mailbox(mailbox, &flags));
    let placed = store_new(store, raw, &job, |_, _| Ok(()))?;
    Ok(placed.local[0].1)
}

pub(super) fn accept_into(
    store: &PgStore,
    msg: &Incoming<'_>,
    folder: LocalFolder,
) -> StoreResult<Accepted> {
    accept_with(store, msg, folder, |_, _| Ok(()))
}

/// Stores a new message's bytes, then in one write transaction runs
/// `before` and places the message as `accept_into` does (local copies
/// in `folder`, queue item). `queue_finish` uses it to remove a finished
/// item and store its delivery status notification atomically.
pub(super) fn accept_with(
    store: &PgStore,
    msg: &Incoming<'_>,
    folder: LocalFolder,
    before: impl FnMut(&mut Tx<'_>, &mut Effects) -> StoreResult<()> + Send,
) -> StoreResult<Accepted> {
    if msg.local.is_empty() && msg.remote.is_empty() {
        return Err(StoreError::Invalid {
            what: "the message".into(),
            why: "it has no recipient".into(),
        });
    }
    let job = Job {
        size: len_u64(msg.raw),
        internal_date: msg.internal_date,
        target: match folder {
            LocalFolder::Inbox => Target::Inboxes(msg.local),
            LocalFolder::Junk => Target::Junk(msg.local),
        },
        envelope: Some(msg.envelope),
        remote: msg.remote,
    };
    store_new(store, msg.raw, &job, before)
}

impl<'a> Job<'a> {
    fn local(raw: &[u8], internal_date: i64, target: Target<'a>) -> Self {
        Self {
            size: len_u64(raw),
            internal_date,
            target,
            envelope: None,
            remote: &[],
        }
    }
}

/// Stores a new message: its file first (durable, in a shared
/// directory), then in one transaction `before`, its rows and (in the
/// database) its bytes. On failure, a file nothing uses is removed again.
fn store_new(
    store: &PgStore,
    raw: &[u8],
    job: &Job<'_>,
    mut before: impl FnMut(&mut Tx<'_>, &mut Effects) -> StoreResult<()> + Send,
) -> StoreResult<Accepted> {
    let blob = store.blobs.stage(raw)?;
    let result = store.write(|tx, fx| {
        Blobs::lock(tx, &blob)?;
        before(tx, fx)?;
        let placed = place(tx, &blob, job, fx)?;
        store.blobs.keep(tx, &blob, raw)?;
        Ok(placed)
    });
    if result.is_err() {
        store.blobs.abandon(store, blob);
    }
    result
}

/// Inside a write transaction: the rows of a new message (local copies,
/// then the queue item), with their changes, in that order.
fn place(tx: &mut Tx<'_>, blob: &BlobId, job: &Job<'_>, fx: &mut Effects) -> StoreResult<Accepted> {
    let mut new = NewMessage {
        blob,
        size: job.size,
        internal_date: job.internal_date,
        flags: &[],
    };
    let mut local = Vec::new();
    match job.target {
        Target::Inboxes(accounts) => {
            lock_accounts(tx, accounts)?;
            for &account in accounts {
                let inbox = mailboxes::inbox(tx, account)?;
                local.push((inbox, insert(tx, inbox, &new, fx)?));
            }
        }
        Target::Junk(accounts) => {
            lock_accounts(tx, accounts)?;
            for &account in accounts {
                let junk = mailboxes::junk(tx, account, fx)?;
                local.push((junk, insert(tx, junk, &new, fx)?));
            }
        }
        Target::Mailbox(mailbox, flags) => {
            new.flags = flags;
            local.push((mailbox, insert(tx, mailbox, &new, fx)?));
        }
    }
    let mut queued = None;
    if let Some(envelope) = job.envelope.filter(|_| !job.remote.is_empty()) {
        let id = queue::insert(tx, blob, job.size, job.internal_date, envelope, job.remote)?;
        fx.changes.push(Change::Queued { id });
        queued = Some(id);
    }
    Ok(Accepted { local, queued })
}

/// Locks the accounts' rows in id order, so that deliveries to several
/// accounts at once wait for each other instead of deadlocking. Unknown
/// accounts are left for the mailbox lookup to report.
fn lock_accounts(tx: &mut Tx<'_>, accounts: &[AccountId]) -> StoreResult<()> {
    let ids: Vec<i64> = accounts.iter().map(|a| a.0).collect();
    tx.execute(
        "SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        &[&ids],
    )?;
    Ok(())
}

/// Locks the accounts of `boxes`, then the mailboxes themselves, each in
/// id order; `NotFound` for the first of `boxes` that does not exist.
fn lock_mailboxes(tx: &mut Tx<'_>, boxes: &[MailboxId]) -> StoreResult<()> {
    let mut ids: Vec<i64> = boxes.iter().map(|b| b.0).collect();
    ids.sort_unstable();
    ids.dedup();
    tx.execute(
        "SELECT id FROM accounts
         WHERE id IN (SELECT account FROM mailboxes WHERE id = ANY($1))
         ORDER BY id FOR NO KEY UPDATE",
        &[&ids],
    )?;
    let found: Vec<i64> = tx
        .query(
            "SELECT id FROM mailboxes WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
            &[&ids],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    match boxes.iter().find(|b| !found.contains(&b.0)) {
        Some(&missing) => Err(no_mailbox(missing)),
        None => Ok(()),
    }
}

/// Stores one message in `mailbox` under the next UID, with the next
/// MODSEQ, after checking the account's quota.
fn insert(
    tx: &mut Tx<'_>,
    mailbox: MailboxId,
    msg: &NewMessage<'_>,
    fx: &mut Effects,
) -> StoreResult<Uid> {
    check_quota(tx, mailbox, msg.size)?;
    let row = tx
        .query_opt(
            "UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1
             WHERE id = $1 RETURNING uid_next - 1, highest_modseq",
            &[&mailbox.0],
        )?
        .ok_or_else(|| no_mailbox(mailbox))?;
    // The last UID (2^32 - 1) is never handed out, so that UIDNEXT still
    // fits in 32 bits (RFC 9051 §2.3.1.1: nz-number).
    let uid = u32::try_from(row.get::<_, i64>(0))
        .ok()
        .filter(|&u| u < u32::MAX)
        .ok_or_else(|| StoreError::Invalid {
            what: format!("mailbox {}", mailbox.0),
            why: "its UIDs are used up; the mailbox must be re-created".into(),
        })?;
    let modseq: i64 = row.get(1);
    let (bits, keywords) = split(msg.flags);
    let id: i64 = tx
        .query_one(
            "INSERT INTO messages (mailbox, uid, modseq, internal_date, size, blob, flags)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &mailbox.0,
                &i64::from(uid),
                &modseq,
                &msg.internal_date,
                &to_i64(msg.size),
                &msg.blob.0,
                &bits,
            ],
        )?
        .get(0);
    add_keywords(tx, id, &keywords)?;
    fx.changes.push(Change::Appended {
        mailbox,
        uid: Uid(uid),
    });
    Ok(Uid(uid))
}

/// Refuses a message that would take the mailbox's account over its
/// quota (0 is none). Locks the account's row first, so that concurrent
/// deliveries on any node are counted one after the other.
fn check_quota(tx: &mut Tx<'_>, mailbox: MailboxId, size: u64) -> StoreResult<()> {
    let row = tx
        .query_opt(
            "SELECT a.address, a.quota_bytes, a.used_bytes
             FROM accounts a JOIN mailboxes b ON b.account = a.id
             WHERE b.id = $1 FOR NO KEY UPDATE OF a",
            &[&mailbox.0],
        )?
        .ok_or_else(|| no_mailbox(mailbox))?;
    let quota = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
    let used = u64::try_from(row.get::<_, i64>(2)).unwrap_or(0);
    if quota != 0 && used.saturating_add(size) > quota {
        return Err(StoreError::QuotaExceeded {
            address: row.get(0),
            used,
            quota,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Reads

const COLUMNS: &str = "id, mailbox, uid, flags, internal_date, size, modseq, blob";

/// A message's row id and metadata; keywords are not loaded.
fn from_row(r: &Row) -> StoreResult<(i64, MessageMeta)> {
    let uid = u32::try_from(r.get::<_, i64>(2)).map_err(|_| {
        StoreError::Database(format!(
            "message {} has UID {}, beyond 32 bits: the database is damaged",
            r.get::<_, i64>(0),
            r.get::<_, i64>(2)
        ))
    })?;
    let meta = MessageMeta {
        mailbox: MailboxId(r.get(1)),
        uid: Uid(uid),
        flags: join(r.get(3), Vec::new()),
        internal_date: r.get(4),
        size: u64::try_from(r.get::<_, i64>(5)).unwrap_or(0),
        modseq: ModSeq(u64::try_from(r.get::<_, i64>(6)).unwrap_or(0)),
        blob: BlobId(r.get(7)),
    };
    Ok((r.get(0), meta))
}

/// Rows as metadata, each with its keywords from `keywords`.
fn with_keywords(
    rows: &[Row],
    mut keywords: HashMap<i64, Vec<String>>,
) -> StoreResult<Vec<(i64, MessageMeta)>> {
    rows.iter()
        .map(|row| {
            let (id, mut meta) = from_row(row)?;
            if let Some(k) = keywords.remove(&id) {
                meta.flags.extend(k.into_iter().map(Flag::Keyword));
            }
            Ok((id, meta))
        })
        .collect()
}

/// The messages of `mailbox` among `uids`, ascending, flags complete.
fn some(tx: &mut Tx<'_>, mailbox: MailboxId, uids: &[Uid]) -> StoreResult<Vec<(i64, MessageMeta)>> {
    let uids: Vec<i64> = uids.iter().map(|u| i64::from(u.0)).collect();
    let sql =
        format!("SELECT {COLUMNS} FROM messages WHERE mailbox = $1 AND uid = ANY($2) ORDER BY uid");
    let rows = tx.query(&sql, &[&mailbox.0, &uids])?;
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let keywords = keywords_of(tx, &ids)?;
    with_keywords(&rows, keywords)
}

/// One message, flags complete.
fn one(tx: &mut Tx<'_>, mailbox: MailboxId, uid: Uid) -> StoreResult<Option<(i64, MessageMeta)>> {
    Ok(some(tx, mailbox, &[uid])?.pop())
}

/// `NotFound` unless the mailbox exists.
fn require(tx: &mut Tx<'_>, mailbox: MailboxId) -> StoreResult<()> {
    match tx.query_opt("SELECT 1 FROM mailboxes WHERE id = $1", &[&mailbox.0])? {
        Some(_) => Ok(()),
        None => Err(no_mailbox(mailbox)),
    }
}

pub(super) fn messages(store: &PgStore, mailbox: MailboxId) -> StoreResult<Vec<MessageMeta>> {
    store.read(|tx| {
        require(tx, mailbox)?;
        let rows = tx.query(
            "SELECT k.message, k.keyword FROM keywords k JOIN messages m ON m.id = k.message
             WHERE m.mailbox = $1",
            &[&mailbox.0],
        )?;
        let keywords = keyword_map(&rows);
        let sql = format!("SELECT {COLUMNS} FROM messages WHERE mailbox = $1 ORDER BY uid");
        let rows = tx.query(&sql, &[&mailbox.0])?;
        Ok(with_keywords(&rows, keywords)?
            .into_iter()
            .map(|(_, meta)| meta)
            .collect())
    })
}

pub(super) fn message_meta(
    store: &PgStore,
    mailbox: MailboxId,
    uid: Uid,
) -> StoreResult<Option<MessageMeta>> {
    store.read(|tx| Ok(one(tx, mailbox, uid)?.map(|(_, meta)| meta)))
}

pub(super) fn messages_page(
    store: &PgStore,
    mailbox: MailboxId,
    newest_first: bool,
    offset: usize,
    limit: usize,
) -> StoreResult<(Vec<MessageMeta>, usize)> {
    let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let order = if newest_first { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {COLUMNS} FROM messages WHERE mailbox = $1 ORDER BY uid {order} LIMIT $2 OFFSET $3"
    );
    store.read(|tx| {
        require(tx, mailbox)?;
        let total: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM messages WHERE mailbox = $1",
                &[&mailbox.0],
            )?
            .get(0);
        let rows = tx.query(&sql, &[&mailbox.0, &as_i64(limit), &as_i64(offset)])?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let keywords = keywords_of(tx, &ids)?;
        let page = with_keywords(&rows, keywords)?;
        let total = usize::try_from(total).unwrap_or(0);
        Ok((page.into_iter().map(|(_, meta)| meta).collect(), total))
    })
}

/// Every mailbox of the account with its message and unseen counts, in
/// one query (`\Seen` is bit 1 of `messages.flags`), sorted by name
/// bytewise as the mailbox list is.
pub(super) fn mailbox_counts(
    store: &PgStore,
    account: AccountId,
) -> StoreResult<Vec<MailboxCounts>> {
    let rows = store.read(|tx| {
        Ok(tx.query(
            "SELECT b.id, b.name, COUNT(m.id),
                    COALESCE(SUM(CASE WHEN m.flags & 1 = 0 THEN 1 ELSE 0 END), 0)
             FROM mailboxes b LEFT JOIN messages m ON m.mailbox = b.id
             WHERE b.account = $1 GROUP BY b.id, b.name",
            &[&account.0],
        )?)
    })?;
    let mut named: Vec<(String, MailboxCounts)> = rows
        .iter()
        .map(|r| {
            let count = |i| usize::try_from(r.get::<_, i64>(i)).unwrap_or(0);
            let counts = MailboxCounts {
                mailbox: MailboxId(r.get(0)),
                total: count(2),
                unseen: count(3),
            };
            (r.get(1), counts)
        })
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(named.into_iter().map(|(_, c)| c).collect())
}

pub(super) fn read_message(store: &PgStore, mailbox: MailboxId, uid: Uid) -> StoreResult<Vec<u8>> {
    let (blob, size) = store.read(|tx| {
        let row = tx
            .query_opt(
                "SELECT blob, size FROM messages WHERE mailbox = $1 AND uid = $2",
                &[&mailbox.0, &i64::from(uid.0)],
            )?
            .ok_or_else(|| no_message(mailbox, uid))?;
        Ok((
            BlobId(row.get(0)),
            u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
        ))
    })?;
    read_blob(store, &blob, size)
}

pub(super) fn read_blob(store: &PgStore, blob: &BlobId, size: u64) -> StoreResult<Vec<u8>> {
    let bytes = store.blobs.read(store, blob)?;
    if len_u64(&bytes) != size {
        return Err(StoreError::Database(format!(
            "blob {blob} has {} bytes, its message says {size}: the blob store is damaged",
            bytes.len()
        )));
    }
    Ok(bytes)
}

pub(super) fn read_blob_head(
    store: &PgStore,
    blob: &BlobId,
    size: u64,
    max: usize,
) -> StoreResult<Vec<u8>> {
    if usize::try_from(size).is_ok_and(|n| n <= max) {
        return read_blob(store, blob, size);
    }
    store.blobs.read_head(store, blob, max)
}

// ---------------------------------------------------------------------
// Flags: the five system flags as bits of `messages.flags`, keywords as
// rows of `keywords`, byte for byte. The bit values are the SQLite
// back end's (`postern migrate` copies the column): never renumber.

const BITS: [(Flag, i64); 5] = [
    (Flag::Seen, 1),
    (Flag::Answered, 2),
    (Flag::Flagged, 4),
    (Flag::Deleted, 8),
    (Flag::Draft, 16),
];

/// Splits a canonical flag list into the system-flag bits and keywords.
fn split(flags: &[Flag]) -> (i64, Vec<String>) {
    let mut bits = 0;
    let mut keywords = Vec::new();
    for flag in flags {
        match flag {
            Flag::Keyword(k) => keywords.push(k.clone()),
            system => bits |= BITS.iter().find(|(f, _)| f == system).map_or(0, |b| b.1),
        }
    }
    (bits, keywords)
}

/// The flag list for `bits` and (sorted) `keywords`: canonical.
fn join(bits: i64, keywords: Vec<String>) -> Vec<Flag> {
    let system = BITS
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(f, _)| f.clone());
    system
        .chain(keywords.into_iter().map(Flag::Keyword))
        .collect()
}

/// (message, keyword) rows by message, each list sorted bytewise (as
/// canonical flags are; sorted here, whatever the database's collation).
fn keyword_map(rows: &[Row]) -> HashMap<i64, Vec<String>> {
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    for row in rows {
        map.entry(row.get(0)).or_default().push(row.get(1));
    }
    for list in map.values_mut() {
        list.sort_unstable();
    }
    map
}

/// The keywords of the messages `ids`.
fn keywords_of(tx: &mut Tx<'_>, ids: &[i64]) -> StoreResult<HashMap<i64, Vec<String>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tx.query(
        "SELECT message, keyword FROM keywords WHERE message = ANY($1)",
        &[&ids],
    )?;
    Ok(keyword_map(&rows))
}

fn add_keywords(tx: &mut Tx<'_>, message: i64, keywords: &[String]) -> StoreResult<()> {
    if !keywords.is_empty() {
        tx.execute(
            "INSERT INTO keywords (message, keyword) SELECT $1, unnest($2::text[])",
            &[&message, &keywords],
        )?;
    }
    Ok(())
}

/// Sets a message's flags and MODSEQ.
fn write_flags(tx: &mut Tx<'_>, message: i64, flags: &[Flag], modseq: i64) -> StoreResult<()> {
    let (bits, keywords) = split(flags);
    tx.execute(
        "UPDATE messages SET flags = $2, modseq = $3 WHERE id = $1",
        &[&message, &bits, &modseq],
    )?;
    tx.execute("DELETE FROM keywords WHERE message = $1", &[&message])?;
    add_keywords(tx, message, &keywords)
}

/// The mailbox's row, locked until commit: (UIDNEXT, HIGHESTMODSEQ,
/// recent mark).
fn lock_counters(tx: &mut Tx<'_>, mailbox: MailboxId) -> StoreResult<(i64, i64, i64)> {
    let row = tx
        .query_opt(
            "SELECT uid_next, highest_modseq, recent_mark FROM mailboxes
             WHERE id = $1 FOR NO KEY UPDATE",
            &[&mailbox.0],
        )?
        .ok_or_else(|| no_mailbox(mailbox))?;
    Ok((row.get(0), row.get(1), row.get(2)))
}

fn store_modseq(tx: &mut Tx<'_>, mailbox: MailboxId, modseq: i64) -> StoreResult<()> {
    tx.execute(
        "UPDATE mailboxes SET highest_modseq = $2 WHERE id = $1",
        &[&mailbox.0, &modseq],
    )?;
    Ok(())
}

/// Replaces a message's flags. An unchanged set keeps its MODSEQ and
/// announces nothing (RFC 7162 §3.1.3: only real changes move MODSEQ).
pub(super) fn set_flags(
    store: &PgStore,
    mailbox: MailboxId,
    uid: Uid,
    flags: &[Flag],
) -> StoreResult<ModSeq> {
    let new = names::flags(flags)?;
    store.write(|tx, fx| {
        let (_, highest, _) = lock_counters(tx, mailbox)?;
        let (row, meta) = one(tx, mailbox, uid)?.ok_or_else(|| no_message(mailbox, uid))?;
        if meta.flags == new {
            return Ok(meta.modseq);
        }
        let modseq = highest + 1;
        write_flags(tx, row, &new, modseq)?;
        store_modseq(tx, mailbox, modseq)?;
        fx.changes.push(Change::FlagsChanged { mailbox, uid });
        Ok(ModSeq(u64::try_from(modseq).unwrap_or(0)))
    })
}

/// Combines the flags of several messages with `flags` by `op`, checking
/// UNCHANGEDSINCE against the stored MODSEQ (RFC 7162 §3.1.3); the flags
/// are read and written under the mailbox's row lock, so concurrent
/// calls on any node never lose each other's changes.
pub(super) fn store_flags(
    store: &PgStore,
    mailbox: MailboxId,
    uids: &[Uid],
    op: FlagOp,
    flags: &[Flag],
    unchanged_since: Option<ModSeq>,
) -> StoreResult<StoreFlagsResult> {
    let given = names::flags(flags)?;
    store.write(|tx, fx| {
        let (_, highest, _) = lock_counters(tx, mailbox)?;
        let mut modseq = highest;
        let mut out = StoreFlagsResult::default();
        for (row, meta) in some(tx, mailbox, uids)? {
            if unchanged_since.is_some_and(|n| meta.modseq > n) {
                out.modified.push(meta.uid);
                continue;
            }
            let new = op.apply(&meta.flags, &given);
            if new == meta.flags {
                out.kept.push((meta.uid, meta.flags, meta.modseq));
                continue;
            }
            modseq += 1;
            write_flags(tx, row, &new, modseq)?;
            fx.changes.push(Change::FlagsChanged {
                mailbox,
                uid: meta.uid,
            });
            let stored = ModSeq(u64::try_from(modseq).unwrap_or(0));
            out.changed.push((meta.uid, new, stored));
        }
        if modseq != highest {
            store_modseq(tx, mailbox, modseq)?;
        }
        Ok(out)
    })
}

// ---------------------------------------------------------------------
// Removal, and QRESYNC's memory of it (RFC 7162 §3.2): growth is bounded
// as in the SQLite back end (`crate::sqlite::expunged`): beyond `kept`
// rows per mailbox the oldest go and raise `expunged_floor`, below which
// every absent UID is reported (RFC 7162 §3.2.6 allows the superset).

pub(super) fn expunge(store: &PgStore, mailbox: MailboxId, uids: &[Uid]) -> StoreResult<()> {
    let kept = store.expunged_kept;
    store.write(|tx, fx| {
        lock_mailboxes(tx, &[mailbox])?;
        for (_, blob) in remove(tx, mailbox, uids, kept, fx)? {
            fx.freed.push(blob);
        }
        Ok(())
    })
}

/// Under the mailbox's lock: deletes the messages of `uids` present,
/// announces each, moves the MODSEQ on once if any went and records
/// their UIDs with it (RFC 7162 §3.2.10). Returns (UID, blob) ascending.
fn remove(
    tx: &mut Tx<'_>,
    mailbox: MailboxId,
    uids: &[Uid],
    kept: usize,
    fx: &mut Effects,
) -> StoreResult<Vec<(Uid, BlobId)>> {
    let wanted: Vec<i64> = uids.iter().map(|u| i64::from(u.0)).collect();
    let rows = tx.query(
        "DELETE FROM messages WHERE mailbox = $1 AND uid = ANY($2) RETURNING uid, blob",
        &[&mailbox.0, &wanted],
    )?;
    let mut removed: Vec<(Uid, BlobId)> = rows
        .iter()
        .filter_map(|r| {
            let uid = u32::try_from(r.get::<_, i64>(0)).ok()?;
            Some((Uid(uid), BlobId(r.get(1))))
        })
        .collect();
    removed.sort_unstable();
    if removed.is_empty() {
        return Ok(removed);
    }
    let modseq: i64 = tx
        .query_one(
            "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1
             RETURNING highest_modseq",
            &[&mailbox.0],
        )?
        .get(0);
    let gone: Vec<i64> = removed.iter().map(|(u, _)| i64::from(u.0)).collect();
    tx.execute(
        "INSERT INTO expunged (mailbox, uid, modseq) SELECT $1, unnest($2::bigint[]), $3
         ON CONFLICT (mailbox, uid) DO UPDATE SET modseq = EXCLUDED.modseq",
        &[&mailbox.0, &gone, &modseq],
    )?;
    prune(tx, mailbox, kept)?;
    for (uid, _) in &removed {
        fx.changes.push(Change::Expunged { mailbox, uid: *uid });
    }
    Ok(removed)
}

/// Drops the expunged rows older than the `kept` newest and raises the
/// floor to the highest MODSEQ dropped; rows sharing that MODSEQ go
/// together, so that what is kept above the floor stays complete.
fn prune(tx: &mut Tx<'_>, mailbox: MailboxId, kept: usize) -> StoreResult<()> {
    let offset = i64::try_from(kept).unwrap_or(i64::MAX);
    let oldest_dropped = tx.query_opt(
        "SELECT modseq FROM expunged WHERE mailbox = $1 ORDER BY modseq DESC LIMIT 1 OFFSET $2",
        &[&mailbox.0, &offset],
    )?;
    let Some(floor) = oldest_dropped.map(|r| r.get::<_, i64>(0)) else {
        return Ok(());
    };
    tx.execute(
        "DELETE FROM expunged WHERE mailbox = $1 AND modseq <= $2",
        &[&mailbox.0, &floor],
    )?;
    tx.execute(
        "UPDATE mailboxes SET expunged_floor = GREATEST(expunged_floor, $2) WHERE id = $1",
        &[&mailbox.0, &floor],
    )?;
    Ok(())
}

pub(super) fn vanished_since(
    store: &PgStore,
    mailbox: MailboxId,
    modseq: ModSeq,
) -> StoreResult<Vec<Uid>> {
    let since = i64::try_from(modseq.0).unwrap_or(i64::MAX);
    store.read(|tx| {
        let row = tx
            .query_opt(
                "SELECT expunged_floor, uid_next FROM mailboxes WHERE id = $1",
                &[&mailbox.0],
            )?
            .ok_or_else(|| no_mailbox(mailbox))?;
        let (floor, uid_next): (i64, i64) = (row.get(0), row.get(1));
        if since < floor {
            return absent(tx, mailbox, uid_next);
        }
        let rows = tx.query(
            "SELECT uid FROM expunged WHERE mailbox = $1 AND modseq > $2 ORDER BY uid",
            &[&mailbox.0, &since],
        )?;
        Ok(rows.iter().filter_map(|r| uid_of(r.get(0))).collect())
    })
}

/// Every UID from 1 to `uid_next - 1` that no message of the mailbox has.
fn absent(tx: &mut Tx<'_>, mailbox: MailboxId, uid_next: i64) -> StoreResult<Vec<Uid>> {
    let rows = tx.query(
        "SELECT uid FROM messages WHERE mailbox = $1 ORDER BY uid",
        &[&mailbox.0],
    )?;
    let end = u32::try_from(uid_next).unwrap_or(u32::MAX);
    let mut out = Vec::new();
    let mut next = 1;
    for uid in rows.iter().filter_map(|r| uid_of(r.get(0))) {
        out.extend((next..uid.0).map(Uid));
        next = uid.0.saturating_add(1);
    }
    out.extend((next..end).map(Uid));
    Ok(out)
}

// ---------------------------------------------------------------------
// Copies

/// Copies messages into `to`, in ascending UID order, with their flags
/// and INTERNALDATE (RFC 9051 §6.4.7), sharing their blobs.
pub(super) fn copy(
    store: &PgStore,
    from: MailboxId,
    uids: &[Uid],
    to: MailboxId,
) -> StoreResult<Vec<(Uid, Uid)>> {
    store.write(|tx, fx| {
        lock_mailboxes(tx, &[from, to])?;
        copy_locked(tx, from, uids, to, fx)
    })
}

/// Moves messages into `to`: copies them and removes them from `from` in
/// one transaction, so that either both mailboxes change or neither does
/// (RFC 6851 §3.3). The blobs stay referenced by the copies: nothing is
/// freed.
pub(super) fn move_messages(
    store: &PgStore,
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
    let kept = store.expunged_kept;
    store.write(|tx, fx| {
        lock_mailboxes(tx, &[from, to])?;
        let pairs = copy_locked(tx, from, uids, to, fx)?;
        let moved: Vec<Uid> = pairs.iter().map(|p| p.0).collect();
        remove(tx, from, &moved, kept, fx)?;
        Ok(pairs)
    })
}

/// [`copy`] once both mailboxes are locked. The source mailbox's lock
/// keeps the originals (and so their blobs) from being removed before
/// the copies commit.
fn copy_locked(
    tx: &mut Tx<'_>,
    from: MailboxId,
    uids: &[Uid],
    to: MailboxId,
    fx: &mut Effects,
) -> StoreResult<Vec<(Uid, Uid)>> {
    let mut pairs = Vec::new();
    for (_, meta) in some(tx, from, uids)? {
        let msg = NewMessage {
            blob: &meta.blob,
            size: meta.size,
            internal_date: meta.internal_date,
            flags: &meta.flags,
        };
        pairs.push((meta.uid, insert(tx, to, &msg, fx)?));
    }
    Ok(pairs)
}

// ---------------------------------------------------------------------
// \Recent (RFC 3501 §2.3.2)

/// Hands out the UIDs from the mailbox's recent mark up to its UIDNEXT
/// and moves the mark there, under the mailbox's row lock: every node's
/// sessions claim one after the other, so each UID goes to one session.
pub(super) fn claim_recent(store: &PgStore, mailbox: MailboxId) -> StoreResult<Range<Uid>> {
    store.write(|tx, _| {
        let (uid_next, _, mark) = lock_counters(tx, mailbox)?;
        let next = uid_or_end(uid_next);
        if mark >= uid_next {
            return Ok(next..next);
        }
        tx.execute(
            "UPDATE mailboxes SET recent_mark = $2 WHERE id = $1",
            &[&mailbox.0, &uid_next],
        )?;
        Ok(uid_or_end(mark)..next)
    })
}

/// The mailbox's recent mark (see [`claim_recent`]); read only.
pub(super) fn recent_mark(store: &PgStore, mailbox: MailboxId) -> StoreResult<Uid> {
    store.read(|tx| {
        let row = tx
            .query_opt(
                "SELECT recent_mark FROM mailboxes WHERE id = $1",
                &[&mailbox.0],
            )?
            .ok_or_else(|| no_mailbox(mailbox))?;
        Ok(uid_or_end(row.get(0)))
    })
}

// ---------------------------------------------------------------------
// Helpers

fn no_mailbox(mailbox: MailboxId) -> StoreError {
    StoreError::NotFound {
        what: format!("mailbox {}", mailbox.0),
    }
}

fn no_message(mailbox: MailboxId, uid: Uid) -> StoreError {
    StoreError::NotFound {
        what: format!("message UID {} in mailbox {}", uid.0, mailbox.0),
    }
}

/// A stored UID, if it fits in 32 bits (the schema's BIGINT is wider).
fn uid_of(v: i64) -> Option<Uid> {
    u32::try_from(v).ok().map(Uid)
}

/// A stored UIDNEXT or mark as a UID; at most 2^32 - 1 (see `insert`).
fn uid_or_end(v: i64) -> Uid {
    Uid(u32::try_from(v).unwrap_or(u32::MAX))
}

fn len_u64(raw: &[u8]) -> u64 {
    u64::try_from(raw.len()).unwrap_or(u64::MAX)
}

/// Sizes are BIGINT; beyond i64 they do not occur.
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
