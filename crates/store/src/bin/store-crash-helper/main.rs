//! Test helper for `tests/crash.rs`, not a tool: delivers numbered messages
//! into `alice@example.com`'s INBOX in a loop and prints `ACK n` (flushed)
//! after each `deliver` returned, until it is killed.
//!
//! Usage: `store-crash-helper DATA_DIR FIRST_NUMBER`
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
use postern_store::{SqliteStore, Store, StoreError, StoreResult};

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
