//! Two `postern serve` processes on one PostgreSQL database, both taking
//! SMTP load; one is killed with SIGKILL in the middle. Every message that
//! either node acknowledged with `250` is in the mailbox afterwards, byte
//! for byte, and none is there twice: PostgreSQL's commit is the promise
//! behind each `250`, whichever node gave it and whatever became of it.
//!
//! Needs a PostgreSQL server: `POSTERN_TEST_POSTGRES` is the URL of a
//! role that may create databases (`.ci/run` starts one on loopback).
//! The test makes a database of its own with `psql` and drops it at the
//! end. Without the variable it returns early, except under `CI=true`,
//! where it fails.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{DataDir, Ports, ServerProcess};
use postern_store::postgres::testing::TestDatabase;
use postern_store::{PgOptions, PgStore, Store as _};

const CLIENTS_PER_NODE: usize = 3;
const RECIPIENT: &str = "alice@example.test";

/// One node's data directory: `postern init --store URL` on the dev
/// ports, moved to free ports so that two nodes can run side by side, and
/// kept off the network (see [`offline`]).
fn node(url: &str) -> (DataDir, Ports) {
    let d = DataDir::init(&[
        "--dev-ports",
        "--hostname",
        "localhost",
        "--domain",
        "example.test",
        "--store",
        url,
    ]);
    let ports = d.use_free_ports();
    offline(&d);
    (d, ports)
}

/// Tests stay on loopback: no SPF/DKIM lookups for incoming mail (each
/// would wait on DNS and slow the load to a trickle), DNS sent to the
/// discard port, no DANE or MTA-STS.
fn offline(d: &DataDir) {
    let text = common::read_string(&d.config());
    let mut out = text.clone();
    for (from, to) in [
        ("verify = true", "verify = false"),
        (
            "# resolver = \"127.0.0.1:53\"",
            "resolver = \"127.0.0.1:9\"",
        ),
        ("dane = true", "dane = false"),
        ("mta_sts = true", "mta_sts = false"),
    ] {
        assert!(out.contains(from), "postern.toml lacks {from:?}:\n{text}");
        out = out.replacen(from, to, 1);
    }
    std::fs::write(d.config(), out).expect("rewriting postern.toml");
}

/// Reads one whole SMTP reply; its last line.
fn reply(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Some(line);
        }
    }
}

fn is(r: Option<String>, code: &str) -> bool {
    r.is_some_and(|l| l.starts_with(code))
}

/// One MX client: sends messages until told to stop or its node dies;
/// returns the messages the node acknowledged.
fn client(port: u16, name: &str, stop: &AtomicBool) -> Vec<Vec<u8>> {
    let mut acked = Vec::new();
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return acked;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    if !is(reply(&mut reader), "220") {
        return acked;
    }
    if writer.write_all(b"EHLO load.example\r\n").is_err() || !is(reply(&mut reader), "250") {
        return acked;
    }
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let body = format!(
            "From: load@far.example\r\nSubject: {name} message {n}\r\n\r\n{}\r\n",
            "x".repeat(800 + n % 400)
        );
        let cmds = format!("MAIL FROM:<load@far.example>\r\nRCPT TO:<{RECIPIENT}>\r\nDATA\r\n");
        if writer.write_all(cmds.as_bytes()).is_err()
            || !is(reply(&mut reader), "250")
            || !is(reply(&mut reader), "250")
            || !is(reply(&mut reader), "354")
        {
            break;
        }
        let data = format!("{body}.\r\n");
        if writer.write_all(data.as_bytes()).is_err() || !is(reply(&mut reader), "250") {
            break;
        }
        acked.push(body.into_bytes());
    }
    let _ = writer.write_all(b"QUIT\r\n");
    acked
}

/// Starts `CLIENTS_PER_NODE` clients against `port`.
fn load(
    port: u16,
    node: &'static str,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<Vec<u8>>>> {
    (0..CLIENTS_PER_NODE)
        .map(|id| {
            let stop = stop.clone();
            std::thread::spawn(move || client(port, &format!("{node}{id}"), &stop))
        })
        .collect()
}

fn joined(clients: Vec<std::thread::JoinHandle<Vec<Vec<u8>>>>) -> Vec<Vec<u8>> {
    clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect()
}

/// The INBOX's messages as the store holds them, each from our own
/// `From:` on (the trace header each node prepends left out).
fn stored_bodies(url: &str) -> Vec<Vec<u8>> {
    let mut options = PgOptions::new(url);
    options.listen = false;
    options.pool_size = 2;
    let store = PgStore::open(&options).expect("the store opens after a node's SIGKILL");
    let account = store.account(RECIPIENT).unwrap().expect("account");
    let inbox = store.mailbox(account.id, "INBOX").unwrap().expect("INBOX");
    store
        .messages(inbox.id)
        .unwrap()
        .iter()
        .map(|m| {
            let raw = store
                .read_message(inbox.id, m.uid)
                .expect("readable message");
            let start = find(&raw, b"From: load@far.example").expect("our message, whole");
            raw[start..].to_vec()
        })
        .collect()
}

#[test]
fn sigkill_of_one_node_loses_no_message_either_node_acknowledged() {
    let Some(db) = TestDatabase::fresh("cli_nodes") else {
        return;
    };
    let (dir_a, ports_a) = node(&db.url);
    let (dir_b, ports_b) = node(&db.url);
    common::postern_stdin(
        &dir_a.path,
        &["user", "add", RECIPIENT, "--password-stdin"],
        b"a long passphrase\n",
    )
    .ok();
    let mut a = ServerProcess::start(&dir_a.path, &dir_a.scratch());
    let mut b = ServerProcess::start(&dir_b.path, &dir_b.scratch());
    a.wait_for_port(ports_a.get("smtp"));
    b.wait_for_port(ports_b.get("smtp"));

    let stop_a = Arc::new(AtomicBool::new(false));
    let stop_b = Arc::new(AtomicBool::new(false));
    let on_a = load(ports_a.get("smtp"), "a", &stop_a);
    let on_b = load(ports_b.get("smtp"), "b", &stop_b);
    // Let the load build up on both, kill A where it stands, and keep B
    // under load a while longer: B must not notice A's end.
    std::thread::sleep(Duration::from_millis(2000));
    a.kill();
    stop_a.store(true, Ordering::Relaxed);
    let acked_a = joined(on_a);
    std::thread::sleep(Duration::from_millis(1000));
    stop_b.store(true, Ordering::Relaxed);
    let acked_b = joined(on_b);
    assert!(
        b.exited().is_none(),
        "node B stopped when A was killed\n{}",
        b.logs()
    );
    assert!(
        acked_a.len() >= 10 && acked_b.len() >= 10,
        "too little load to prove anything: {} and {} messages acknowledged\n{}\n{}",
        acked_a.len(),
        acked_b.len(),
        a.logs(),
        b.logs()
    );

    let stored = stored_bodies(&db.url);
    for body in acked_a.iter().chain(&acked_b) {
        let copies = stored.iter().filter(|s| *s == body).count();
        assert_eq!(
            copies,
            1,
            "an acknowledged message is stored {copies} times: {}",
            String::from_utf8_lossy(&body[..60])
        );
    }
    let mut unique = stored.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), stored.len(), "a message is stored twice");
    // At most one message per client of A was stored without its 250
    // reaching the client (A died between the commit and the reply); B's
    // clients stopped between messages.
    let acked = acked_a.len() + acked_b.len();
    assert!(
        stored.len() <= acked + CLIENTS_PER_NODE,
        "{} stored, {acked} acknowledged",
        stored.len()
    );
    eprintln!(
        "{} acknowledged by A, {} by B, {} stored",
        acked_a.len(),
        acked_b.len(),
        stored.len()
    );
    drop(b);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
