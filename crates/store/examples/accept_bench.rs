//! How many messages per second `Store::accept` takes with 1, 8 and 32
//! concurrent submitters, each acknowledged durably, and the latency of
//! one call (what an SMTP client waits between the end of DATA and 250).
//!
//! ```text
//! cargo run --release -p postern-store --example accept_bench -- [SECONDS] [DIR]
//! ```
//!
//! Each call stores a distinct 4 KiB message into one local INBOX and
//! queues it for one remote recipient, as a mixed MX/submission load
//! would. DIR (default: a temporary directory) should be on the disk
//! being measured; a fresh store is made under it for each thread count.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use postern_store::{Envelope, Incoming, Notify, RemoteRecipient, SqliteStore, Store};

const SIZE: usize = 4096;

/// A distinct message of [`SIZE`] bytes.
fn message(thread: usize, n: u64) -> Vec<u8> {
    let mut raw = format!(
        "From: bench@example.com\r\nTo: alice@example.com\r\n\
         Message-ID: <{thread}.{n}@bench.example>\r\nSubject: {n}\r\n\r\n"
    )
    .into_bytes();
    while raw.len() < SIZE {
        raw.extend_from_slice(b"The quick brown fox jumps over the lazy dog, again.\r\n");
    }
    raw.truncate(SIZE - 2);
    raw.extend_from_slice(b"\r\n");
    raw
}

struct Run {
    accepts: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn run(dir: &std::path::Path, threads: usize, seconds: f64) -> Run {
    let store = Arc::new(SqliteStore::open(dir).expect("open the store"));
    store.add_domain("example.com").expect("domain");
    let alice = store
        .add_account("alice@example.com", "x")
        .expect("account");
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (store, stop, total, start) = (
                Arc::clone(&store),
                Arc::clone(&stop),
                Arc::clone(&total),
                Arc::clone(&start),
            );
            std::thread::spawn(move || {
                let envelope = Envelope {
                    mail_from: "bench@example.com".into(),
                    ..Envelope::default()
                };
                let remote = [RemoteRecipient {
                    address: "bob@elsewhere.example".into(),
                    notify: Notify::default(),
                    orcpt: None,
                }];
                let mut latencies = Vec::new();
                start.wait();
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let raw = message(t, n);
                    let msg = Incoming {
                        raw: &raw,
                        internal_date: 0,
                        local: &[alice.id],
                        envelope: &envelope,
                        remote: &remote,
                    };
                    let began = Instant::now();
                    store.accept(&msg).expect("accept");
                    latencies.push(began.elapsed());
                    total.fetch_add(1, Ordering::Relaxed);
                }
                latencies
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    let elapsed = began.elapsed();
    latencies.sort();
    Run {
        accepts: total.load(Ordering::Relaxed),
        elapsed,
        latencies,
    }
}

/// The mean time of `read_blob` for a 4 KiB message (inline) and for a
/// 128 KiB one (a file), read many times: the page-cache read path.
fn read_costs(dir: &std::path::Path) -> (Duration, Duration) {
    let store = SqliteStore::open(dir).expect("open the store");
    store.add_domain("example.com").expect("domain");
    let alice = store
        .add_account("alice@example.com", "x")
        .expect("account");
    let mean = |raw: Vec<u8>| {
        let (mailbox, uid) = store.deliver(&[alice.id], &raw, 0).expect("deliver")[0];
        let meta = store.messages(mailbox).expect("messages");
        let meta = meta.iter().find(|m| m.uid == uid).expect("the message");
        let began = Instant::now();
        for _ in 0..10_000 {
            store.read_blob(&meta.blob, meta.size).expect("read");
        }
        began.elapsed() / 10_000
    };
    (mean(message(0, 0)), mean(vec![b'x'; 128 * 1024]))
}

/// The same for a 4 KiB blob file, read by the blob store directly.
fn file_read_cost(dir: &std::path::Path) -> Duration {
    let blobs = postern_store::blobs::BlobStore::open(dir).expect("blobs");
    let id = blobs.put(&message(1, 1)).expect("put");
    let began = Instant::now();
    for _ in 0..10_000 {
        blobs.get(&id).expect("get");
    }
    began.elapsed() / 10_000
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().map_or(5.0, |s| s.parse().expect("SECONDS"));
    let base = args.next().map(std::path::PathBuf::from);
    let tmp = match &base {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    println!("{SIZE}-byte messages, 1 local + 1 queued recipient each, {seconds} s per run");
    println!("threads  accepts/s   p50 ms   p99 ms   max ms");
    for threads in [1, 8, 32] {
        let dir = tmp.path().join(format!("t{threads}"));
        let r = run(&dir, threads, seconds);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{threads:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2}",
            r.accepts as f64 / r.elapsed.as_secs_f64(),
            ms(percentile(&r.latencies, 0.50)),
            ms(percentile(&r.latencies, 0.99)),
            ms(percentile(&r.latencies, 1.0)),
        );
    }
    let (small, big) = read_costs(&tmp.path().join("read"));
    let file = file_read_cost(&tmp.path().join("files"));
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "read_blob: {:.1} us for 4 KiB (in the database), {:.1} us for 128 KiB (a file); \
         a 4 KiB file: {:.1} us",
        us(small),
        us(big),
        us(file)
    );
}
