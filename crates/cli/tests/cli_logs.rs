//! Structured logs: `[log] format = "json"` gives one JSON object a line,
//! with the connection span's fields, for log collectors.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use common::{read_string, ServerProcess};

#[test]
fn json_logs_are_one_object_a_line_with_connection_fields() {
    let (d, ports) = common::dev_dir();
    let text = read_string(&d.config()).replace("format = \"text\"", "format = \"json\"");
    std::fs::write(d.config(), text).unwrap();
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    let pop3 = ports.get("pop3");
    server.wait_for_port(pop3);

    let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, pop3)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(b"QUIT\r\n").unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("+OK"), "{answer}");

    // The connection's "closed" line arrives once the session has ended.
    let deadline = Instant::now() + Duration::from_secs(10);
    let logs = loop {
        let logs = read_string(&d.scratch().join("serve.stderr"));
        if logs.contains("\"closed\"") || Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 5, "{logs}");
    for line in &lines {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "not a JSON object: {line}\n{}",
            server.logs()
        );
        assert!(line.contains("\"level\":\""), "{line}");
        assert!(
            !line.contains('\u{1b}'),
            "no terminal colours in JSON: {line}"
        );
    }
    let closed = lines
        .iter()
        .find(|l| l.contains("\"message\":\"closed\""))
        .unwrap_or_else(|| panic!("no connection line:\n{logs}"));
    assert!(closed.contains("\"listener\":\"pop3\""), "{closed}");
    assert!(closed.contains("\"peer\":\"127.0.0.1:"), "{closed}");
}
