//! `postern serve` killed with SIGKILL in the middle of an SMTP load: every
//! message it acknowledged with `250` is in the store afterwards, byte for
//! byte, and nothing it did not acknowledge is half there. This is the
//! store's durability promise checked through the whole server: the MX
//! session, group commit and the process dying at an arbitrary point.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::ServerProcess;
use postern_store::sqlite::SqliteStore;
use postern_store::Store as _;

const CLIENTS: usize = 6;
const RECIPIENT: &str = "alice@example.test";

/// One MX client: sends messages until told to stop or the server dies;
/// returns the messages the server acknowledged.
fn client(port: u16, id: usize, stop: &AtomicBool) -> Vec<Vec<u8>> {
    let mut acked = Vec::new();
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return acked;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let reply = |reader: &mut BufReader<TcpStream>| -> Option<String> {
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
    };
    let ok = |r: Option<String>, code: &str| r.is_some_and(|l| l.starts_with(code));
    if !ok(reply(&mut reader), "220") {
        return acked;
    }
    let _ = writer.write_all(b"EHLO load.example\r\n");
    if !ok(reply(&mut reader), "250") {
        return acked;
    }
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let body = format!(
            "From: load@far.example\r\nSubject: client {id} message {n}\r\n\r\n{}\r\n",
            "x".repeat(1000 + n % 500)
        );
        let cmds = format!("MAIL FROM:<load@far.example>\r\nRCPT TO:<{RECIPIENT}>\r\nDATA\r\n");
        if writer.write_all(cmds.as_bytes()).is_err()
            || !ok(reply(&mut reader), "250")
            || !ok(reply(&mut reader), "250")
            || !ok(reply(&mut reader), "354")
        {
            break;
        }
        let data = format!("{body}.\r\n");
        if writer.write_all(data.as_bytes()).is_err() || !ok(reply(&mut reader), "250") {
            break;
        }
        acked.push(body.into_bytes());
    }
    acked
}

#[test]
fn sigkill_under_smtp_load_loses_no_acknowledged_message() {
    let (d, ports) = common::dev_dir();
    common::postern_stdin(
        &d.path,
        &["user", "add", RECIPIENT, "--password-stdin"],
        b"a long passphrase\n",
    )
    .ok();
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    let port = ports.get("smtp");
    server.wait_for_port(port);

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let stop = stop.clone();
            std::thread::spawn(move || client(port, id, &stop))
        })
        .collect();
    // Let the load build up, then kill the server where it stands.
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<Vec<u8>> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect();
    assert!(
        acked.len() >= 10,
        "too little load to prove anything: {} messages acknowledged\n{}",
        acked.len(),
        server.logs()
    );

    // Reopen the store as the restarted server would.
    let store = SqliteStore::open(&d.path).expect("the store opens after SIGKILL");
    let account = store.account(RECIPIENT).unwrap().expect("account");
    let inbox = store.mailbox(account.id, "INBOX").unwrap().expect("INBOX");
    let stored: Vec<Vec<u8>> = store
        .messages(inbox.id)
        .unwrap()
        .iter()
        .map(|m| {
            store
                .read_message(inbox.id, m.uid)
                .expect("readable message")
        })
        .collect();
    // Each stored message is ours after the trace header we prepend.
    let bodies: Vec<&[u8]> = stored
        .iter()
        .map(|raw| {
            let start = find(raw, b"From: load@far.example").expect("our message, whole");
            &raw[start..]
        })
        .collect();
    for body in &acked {
        assert!(
            bodies.contains(&body.as_slice()),
            "an acknowledged message is missing or damaged: {}",
            String::from_utf8_lossy(&body[..60])
        );
    }
    // At most one message per client was stored without its 250 reaching
    // the client (the process died between the commit and the reply).
    assert!(
        stored.len() <= acked.len() + CLIENTS,
        "{} stored, {} acknowledged",
        stored.len(),
        acked.len()
    );
    eprintln!("{} acknowledged, {} stored", acked.len(), stored.len());
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
