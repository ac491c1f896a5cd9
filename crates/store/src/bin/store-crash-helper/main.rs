//! Test helper for `tests/crash.rs`, not a tool: delivers numbered messages
//! into `alice@example.com`'s INBOX in a loop and prints `ACK n` (flushed)
//! after each `deliver` returned, until it is killed.
//!
//! With `accept THREADS`, THREADS threads call `accept` at once (sharing
//! commit rounds): message n goes to alice's INBOX and is queued for
//! [`message::remote_of`]`(n)`; thread t takes the numbers
//! `FIRST + t + k * THREADS`.
//!
//! Usage: `store-crash-helper DATA_DIR FIRST_NUMBER [accept THREADS]`
//!
//! # Layout
//! - `main.rs`: set-up and the loop.
//! - `message.rs`: the deterministic messages (shared with the test).

// `seq_of` is for the checker in tests/crash.rs, which shares the file.
#[allow(dead_code)]
mod message;

use std::io::Write;
use std::path::PathBuf;

use postern_store::sqlite::OpenOptions;
use postern_store::{
    AccountId, Envelope, Incoming, Notify, RemoteRecipient, SqliteStore, Store, StoreError,
    StoreResult,
};

fn ignore_exists(result: StoreResult<impl Sized>) -> StoreResult<()> {
    match result {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(first)) = (args.next(), args.next()) else {
        return Err("usage: store-crash-helper DATA_DIR FIRST_NUMBER".into());
    };
    let first: u64 = first.parse()?;
    // No orphan sweep: it would delete a half-written blob left by the
    // previous kill before the retry of that message could trip over it.
    // The checker's own open sweeps, and checks that it did.
    let mut options = OpenOptions::default();
    options.sweep_orphans = false;
    let store = SqliteStore::open_with(&PathBuf::from(dir), &options)?;
    ignore_exists(store.add_domain("example.com"))?;
    ignore_exists(store.add_account("alice@example.com", "x"))?;
    let alice = store.account("alice@example.com")?.ok_or("no alice")?;
    if args.next().as_deref() == Some("accept") {
        let threads: u64 = args.next().ok_or("accept THREADS")?.parse()?;
        return accept_loop(&store, alice.id, first, threads);
    }
    let trash = store.mailbox(alice.id, "Trash")?.ok_or("no Trash")?.id;
    let mut out = std::io::stdout().lock();
    for n in first.. {
        store.deliver(&[alice.id], &message::message(n), 0)?;
        writeln!(out, "ACK {n}")?;
        out.flush()?;
        // Churn: a message whose blob is deleted right after, so that kills
        // also land between an expunge's commit and its blob deletion.
        let uid = store.append(trash, &message::message(message::SCRATCH + n), &[], 0)?;
        store.expunge(trash, &[uid])?;
    }
    Ok(())
}

/// `threads` threads accepting numbered messages until the kill.
fn accept_loop(
    store: &SqliteStore,
    alice: AccountId,
    first: u64,
    threads: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let envelope = Envelope {
        mail_from: "alice@example.com".into(),
        ..Envelope::default()
    };
    std::thread::scope(|scope| {
        for t in 0..threads {
            let envelope = &envelope;
            scope.spawn(move || {
                for n in (first + t..).step_by(threads as usize) {
                    accept_one(store, alice, envelope, n).expect("accept");
                }
            });
        }
    });
    Ok(())
}

/// Accepts message `n`, acknowledges it, then queues and deletes a scratch
/// message, so that kills also land between a queue deletion's commit and
/// its blob's collection.
fn accept_one(
    store: &SqliteStore,
    alice: AccountId,
    envelope: &Envelope,
    n: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let raw = message::message(n);
    let remote = [RemoteRecipient {
        address: message::remote_of(n),
        notify: Notify::default(),
        orcpt: None,
    }];
    let msg = Incoming {
        raw: &raw,
        internal_date: 0,
        local: &[alice],
        envelope,
        remote: &remote,
    };
    store.accept(&msg)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ACK {n}")?;
        out.flush()?;
    }
    let scratch = message::message(message::SCRATCH + n);
    let queued = store.accept(&Incoming {
        raw: &scratch,
        local: &[],
        ..msg
    })?;
    store.queue_delete(queued.queued.ok_or("not queued")?)?;
    Ok(())
}
