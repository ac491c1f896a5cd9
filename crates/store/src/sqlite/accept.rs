//! New messages (`accept`, `deliver`, `append`): the blob, then the rows,
//! group-committed.
//!
//! A message of up to [`INLINE_MAX`] bytes (most mail) goes into the
//! database with its rows: the round's one WAL fsync covers its bytes too.
//! A bigger one is written durably by its caller first
//! ([`crate::blobs::BlobStore::put`]: file fsync, rename, directory
//! fsync), in parallel with the others and with the commit running at the
//! time. Then the caller hands a [`Job`] (owned: the rows' description,
//! and the bytes if inline) to the [`Group`]; the round's leader runs
//! every waiting job in one `BEGIN IMMEDIATE` transaction, each inside its
//! own savepoint so that one failing job (a quota) leaves the others
//! alone, and commits once. Changes are broadcast after the commit, in
//! job order, under the writer lock, so subscribers still see them in
//! commit order.
//!
//! Between a caller's `put` and the round, the blob collector may have
//! deleted a blob file (an identical message was expunged meanwhile); the
//! round checks every blob under the write lock and sends such a job back
//! ([`JobError::BlobGone`]) to write its blob again and retry.
//!
//! # Layout
//! - [`Job`], [`Target`]; `SqliteStore::store_new` (the caller's side);
//!   `SqliteStore::commit_round` (the leader's side); [`place`].

use rusqlite::Transaction;

use super::group::Group;
use super::{len_u64, mailboxes, messages, queue, Effects, SqliteStore, INLINE_MAX};
use crate::blobs::BlobStore;
use crate::error::{StoreError, StoreResult};
use crate::model::{
    Accepted, AccountId, BlobId, Change, Envelope, Flag, Incoming, LocalFolder, MailboxId,
    RemoteRecipient,
};

/// Where a new message's local copies go.
#[derive(Debug)]
pub(super) enum Target {
    /// The INBOX of each account, in order (SMTP, `deliver`).
    Inboxes(Vec<AccountId>),
    /// The Junk folder of each account, in order (SMTP, quarantined).
    Junk(Vec<AccountId>),
    /// One mailbox, with flags already canonical (IMAP APPEND).
    Mailbox(MailboxId, Vec<Flag>),
}

/// The rows of one new message.
#[derive(Debug)]
pub(super) struct Job {
    blob: BlobId,
    size: u64,
    internal_date: i64,
    target: Target,
    envelope: Envelope,
    remote: Vec<RemoteRecipient>,
    /// The bytes, for a blob stored in the database; `None`: a file.
    inline: Option<Vec<u8>>,
}

impl Job {
    /// The job for an accepted message.
    pub(super) fn incoming(msg: &Incoming<'_>, folder: LocalFolder, blob: BlobId) -> Self {
        let accounts = msg.local.to_vec();
        Self {
            blob,
            size: len_u64(msg.raw),
            internal_date: msg.internal_date,
            target: match folder {
                LocalFolder::Inbox => Target::Inboxes(accounts),
                LocalFolder::Junk => Target::Junk(accounts),
            },
            envelope: msg.envelope.clone(),
            remote: msg.remote.to_vec(),
            inline: None,
        }
    }

    /// Local copies only.
    pub(super) fn local(raw: &[u8], blob: BlobId, internal_date: i64, target: Target) -> Self {
        Self {
            blob,
            size: len_u64(raw),
            internal_date,
            target,
            envelope: Envelope::default(),
            remote: Vec::new(),
            inline: None,
        }
    }
}

/// Why a job of a round failed.
#[derive(Debug)]
pub(super) enum JobError {
    Store(StoreError),
    /// Its blob file was collected after the caller wrote it: write again.
    BlobGone,
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<rusqlite::Error> for JobError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

pub(super) type JobResult = Result<Accepted, JobError>;
pub(super) type Rounds = Group<Job, JobResult>;

impl SqliteStore {
    /// Stores a new message durably: a small one with its rows, a big
    /// one's blob file by this thread and then its rows, in a shared round.
    /// `job` builds the rows' description from the blob's id.
    pub(super) fn store_new(
        &self,
        raw: &[u8],
        job: impl Fn(BlobId) -> Job,
    ) -> StoreResult<Accepted> {
        if raw.len() <= INLINE_MAX {
            let mut job = job(BlobStore::id_of(raw));
            job.inline = Some(raw.to_vec());
            return self.submit(job).map_err(|e| match e {
                JobError::Store(e) => e,
                // Invariant: only file blobs can be collected under a job.
                JobError::BlobGone => unreachable!("an inline blob cannot vanish"),
            });
        }
        loop {
            let blob = self.blobs.put(raw)?;
            match self.submit(job(blob.clone())) {
                Ok(accepted) => return Ok(accepted),
                Err(JobError::BlobGone) => continue,
                Err(JobError::Store(e)) => {
                    self.forget_blob(blob);
                    return Err(e);
                }
            }
        }
    }

    /// Runs `job` in a round, led by this caller or another.
    fn submit(&self, job: Job) -> JobResult {
        self.rounds.submit(
            job,
            |jobs| self.commit_round(jobs),
            || {
                Err(JobError::Store(StoreError::Database(
                    "the commit round failed (a bug: see the log)".into(),
                )))
            },
        )
    }

    /// The leader's side: every job in one transaction, one commit.
    fn commit_round(&self, jobs: Vec<Job>) -> Vec<JobResult> {
        let mut conn = self.lock_writer();
        let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => return all_failed(jobs.len(), &e.into()),
        };
        let mut fx = Effects::default();
        let mut results = Vec::with_capacity(jobs.len());
        for job in &jobs {
            results.push(self.run_job(&tx, job, &mut fx));
            if tx.is_autocommit() {
                // Some errors (I/O, a full disk) make SQLite roll back the
                // whole transaction by itself: every job of the round is
                // undone, and later statements must not run outside it.
                let e = StoreError::Database("the round's transaction was rolled back".into());
                return all_failed(jobs.len(), &e);
            }
        }
        if let Err(e) = tx.commit() {
            let e = StoreError::from(e);
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(JobError::Store(StoreError::Database(e.to_string())));
            }
            return results;
        }
        for change in fx.changes {
            // An error only means that nobody is listening.
            let _ = self.changes.send(change);
        }
        results
    }

    /// One job inside its savepoint, its effects added to `fx` only if it
    /// succeeded.
    fn run_job(&self, tx: &Transaction<'_>, job: &Job, fx: &mut Effects) -> JobResult {
        if job.inline.is_none() && !self.blobs.contains(&job.blob)? {
            return Err(JobError::BlobGone);
        }
        tx.prepare_cached("SAVEPOINT job")?.execute([])?;
        let mut own = Effects::default();
        let result = store_inline(tx, job).and_then(|()| place(tx, job, &mut own));
        if result.is_ok() {
            tx.prepare_cached("RELEASE job")?.execute([])?;
            fx.changes.append(&mut own.changes);
            fx.freed.append(&mut own.freed);
        } else {
            tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
            tx.prepare_cached("RELEASE job")?.execute([])?;
        }
        Ok(result?)
    }
}

/// The bytes of an inline blob, unless a row has them already (the same
/// message stored before: blobs are shared).
fn store_inline(tx: &Transaction<'_>, job: &Job) -> StoreResult<()> {
    if let Some(bytes) = &job.inline {
        tx.prepare_cached(
            "INSERT INTO inline_blobs (id, bytes) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
        )?
        .execute(rusqlite::params![job.blob.0, bytes])?;
    }
    Ok(())
}

fn all_failed(n: usize, e: &StoreError) -> Vec<JobResult> {
    (0..n)
        .map(|_| Err(JobError::Store(StoreError::Database(e.to_string()))))
        .collect()
}

/// Inside a write transaction: the rows of a new message (local copies,
/// then the queue item), with their changes.
pub(super) fn place(tx: &Transaction<'_>, job: &Job, fx: &mut Effects) -> StoreResult<Accepted> {
    let mut new = messages::NewMessage {
        blob: &job.blob,
        size: job.size,
        internal_date: job.internal_date,
        flags: &[],
    };
    let mut local = Vec::new();
    match &job.target {
        Target::Inboxes(accounts) => {
            for &account in accounts {
                let inbox = mailboxes::inbox(tx, account)?;
                local.push((inbox, messages::insert(tx, inbox, &new, fx)?));
            }
        }
        Target::Junk(accounts) => {
            for &account in accounts {
                let junk = mailboxes::junk(tx, account, fx)?;
                local.push((junk, messages::insert(tx, junk, &new, fx)?));
            }
        }
        Target::Mailbox(mailbox, flags) => {
            new.flags = flags;
            local.push((*mailbox, messages::insert(tx, *mailbox, &new, fx)?));
        }
    }
    let mut queued = None;
    if !job.remote.is_empty() {
        let id = queue::insert(
            tx,
            &job.blob,
            job.size,
            job.internal_date,
            &job.envelope,
            &job.remote,
        )?;
        fx.changes.push(Change::Queued { id });
        queued = Some(id);
    }
    Ok(Accepted { local, queued })
}
