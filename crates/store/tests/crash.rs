//! Crash safety: a writer is SIGKILLed mid-delivery, three times over, and
//! the store must still hold every message it acknowledged, whole, and
//! nothing half-written.
//!
//! The writer is `store-crash-helper` (`src/bin/`), a separate process so
//! that the kill is real: no destructor, no flush, no unwinding. It prints
//! `ACK n` only after `deliver` returned, like an SMTP server sending 250.
//! SIGKILL does not lose what the kernel already has, so this proves the
//! ordering (blob renamed before the rows commit, rows committed before
//! the ack) rather than fsync against power loss, which needs a VM.
//!
//! The second test does the same to 8 threads calling `accept` at once,
//! which share commit rounds (group commit): every acknowledged message
//! must be in the INBOX and in the queue, and no message may be in only
//! one of them (one transaction holds both).
//!
//! # Layout
//! - `start`, `run_and_kill`: one writer's life and its acks.
//! - the tests: three kills each, then every check on a reopened store.

#[path = "../src/bin/store-crash-helper/message.rs"]
mod message;

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use postern_store::blobs::BlobStore;
use postern_store::{SqliteStore, Store};

/// How long each writer runs before it is killed.
const RUN: Duration = Duration::from_millis(1000);
/// A writer that has not acknowledged anything by then is broken.
const FIRST_ACK_DEADLINE: Duration = Duration::from_secs(20);
const RUNS: u64 = 3;

/// Starts the helper and a thread collecting its acknowledgements.
fn start(
    dir: &Path,
    first: u64,
    mode: &[&str],
) -> (Child, Arc<Mutex<Vec<u64>>>, thread::JoinHandle<()>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_store-crash-helper"))
        .arg(dir)
        .arg(first.to_string())
        .args(mode)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start store-crash-helper");
    let acks = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().expect("piped stdout");
    let sink = Arc::clone(&acks);
    let reader = thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        // Only complete lines count: a kill may cut the last one short.
        while lines.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
            let n = line.trim_end().strip_prefix("ACK ").expect("ACK line");
            sink.lock().unwrap().push(n.parse().expect("ACK number"));
            line.clear();
        }
    });
    (child, acks, reader)
}

/// Runs one writer for about [`RUN`], kills it, returns what it acked.
fn run_and_kill(dir: &Path, first: u64, mode: &[&str]) -> Vec<u64> {
    let began = Instant::now();
    let (mut child, acks, reader) = start(dir, first, mode);
    while began.elapsed() < RUN || acks.lock().unwrap().is_empty() {
        assert!(
            began.elapsed() < FIRST_ACK_DEADLINE,
            "the helper never acked"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the helper stopped by itself: {status}");
        }
        thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL"); // `kill` is SIGKILL on unix.
    child.wait().unwrap();
    reader.join().unwrap();
    let acks = acks.lock().unwrap().clone();
    acks
}

#[test]
fn acknowledged_messages_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let mut acked: Vec<u64> = Vec::new();
    // Each new run starts with the number the last one was killed on, as a
    // client retries a message whose 250 it never got: a half-written blob
    // of the first attempt must not be taken for the whole message.
    let mut retried = HashSet::new();
    for run in 0..RUNS {
        let first = acked.iter().max().map_or(0, |n| n + 1);
        let got = run_and_kill(tmp.path(), first, &[]);
        eprintln!("run {run}: {} acknowledged from {first}", got.len());
        retried.insert(first);
        acked.extend(got);
    }

    let store = SqliteStore::open(tmp.path()).expect("reopen after the kills");
    let alice = store.account("alice@example.com").unwrap().unwrap();
    let mut present = BTreeSet::new();
    let mut referenced = HashSet::new();
    for mailbox in store.mailboxes(alice.id).unwrap() {
        let metas = store.messages(mailbox.id).unwrap();
        let uids: Vec<u32> = metas.iter().map(|m| m.uid.0).collect();
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "UIDs: {uids:?}");
        assert!(uids.iter().all(|&u| u < mailbox.uid_next.0), "uid_next");
        for meta in metas {
            let raw = store.read_message(mailbox.id, meta.uid).unwrap();
            let seq = message::seq_of(&raw).expect("a message of ours");
            assert!(raw == message::message(seq), "message {seq} is damaged");
            assert_eq!(meta.size, raw.len() as u64);
            if mailbox.name == "INBOX" {
                let first_time = present.insert(seq);
                assert!(first_time || retried.contains(&seq), "{seq} stored twice");
            } else {
                assert!(seq >= message::SCRATCH, "{seq} in {}", mailbox.name);
            }
            referenced.insert(meta.blob.0);
        }
    }
    let lost: Vec<_> = acked.iter().filter(|n| !present.contains(n)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert_eq!(
        blob_files(tmp.path()),
        referenced,
        "orphans left after open"
    );
}

/// The ids of the blobs stored: files on disk (`blobs/ab/cdef...`, not
/// `tmp/`) and rows of `inline_blobs`.
fn blob_files(dir: &Path) -> HashSet<String> {
    let db = rusqlite::Connection::open(dir.join("mail.db")).unwrap();
    let mut stmt = db.prepare("SELECT id FROM inline_blobs").unwrap();
    let mut ids: HashSet<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for prefix in std::fs::read_dir(dir.join("blobs")).unwrap() {
        let prefix = prefix.unwrap();
        let name = prefix.file_name().into_string().unwrap();
        if name == "tmp" {
            continue;
        }
        for file in std::fs::read_dir(prefix.path()).unwrap() {
            let rest = file.unwrap().file_name().into_string().unwrap();
            ids.insert(format!("{name}{rest}"));
        }
    }
    ids
}

/// Where each run of the concurrent test starts numbering: far apart, as
/// several messages are in flight at each kill and none is retried.
const RUN_STRIDE: u64 = 1 << 30;

#[test]
fn acknowledged_accepts_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let mut acked = Vec::new();
    for run in 0..RUNS {
        let got = run_and_kill(tmp.path(), run * RUN_STRIDE, &["accept", "8"]);
        eprintln!("run {run}: {} accepts acknowledged", got.len());
        acked.extend(got);
    }

    let store = SqliteStore::open(tmp.path()).expect("reopen after the kills");
    let alice = store.account("alice@example.com").unwrap().unwrap();
    let inbox = store.mailbox(alice.id, "INBOX").unwrap().unwrap();
    let mut referenced = HashSet::new();
    let mut in_inbox = BTreeSet::new();
    let metas = store.messages(inbox.id).unwrap();
    assert!(metas.windows(2).all(|w| w[0].uid < w[1].uid), "UIDs ascend");
    for meta in metas {
        let raw = store.read_message(inbox.id, meta.uid).unwrap();
        let seq = message::seq_of(&raw).expect("a message of ours");
        assert!(raw == message::message(seq), "message {seq} is damaged");
        assert!(in_inbox.insert(seq), "{seq} stored twice");
        referenced.insert(meta.blob.0);
    }
    let mut in_queue = BTreeSet::new();
    for item in store.queue_list().unwrap() {
        let raw = store.queue_read(item.id).unwrap();
        let seq = message::seq_of(&raw).expect("a message of ours");
        assert!(raw == message::message(seq), "queued {seq} is damaged");
        // A scratch item whose deletion the kill prevented is fine;
        // anything else must be a whole accept.
        if seq < message::SCRATCH {
            assert_eq!(item.recipients.len(), 1);
            assert_eq!(item.recipients[0].address, message::remote_of(seq));
            assert!(in_queue.insert(seq), "{seq} queued twice");
        }
        referenced.insert(BlobStore::id_of(&raw).0);
    }
    let lost: Vec<_> = acked.iter().filter(|n| !in_inbox.contains(n)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert_eq!(in_inbox, in_queue, "an accept was kept in part");
    assert_eq!(
        blob_files(tmp.path()),
        referenced,
        "orphans left after open"
    );
}
