//! `postern gateway` as a child process: Python's imaplib logs in over
//! TLS (implicit, and after STARTTLS) through the gateway to a plain-text
//! fake IMAP server in this test, which records what reaches it.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{dev_dir, free_ports, postern_cmd, DataDir, POLL_DEADLINE};

/// A plain-text IMAP server that accepts the password "secret" and
/// records every line it receives.
struct FakeImap {
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl FakeImap {
    fn start() -> Self {
        let socket = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = socket.local_addr().unwrap().port();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = lines.clone();
        std::thread::spawn(move || {
            for tcp in socket.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let _ = converse(tcp, &seen);
                });
            }
        });
        Self { port, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

fn converse(tcp: TcpStream, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut out = tcp.try_clone()?;
    out.write_all(b"* OK fake IMAP ready\r\n")?;
    for line in BufReader::new(tcp).lines() {
        let line = line?;
        seen.lock().unwrap().push(line.clone());
        let (tag, cmd) = line.split_once(' ').unwrap_or((&line, ""));
        let verb = cmd
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let answer = match verb.as_str() {
            "LOGIN" if cmd.ends_with("\"secret\"") => {
                format!("{tag} OK [CAPABILITY IMAP4rev1 FAKE] Logged in\r\n")
            }
            "LOGIN" => format!("{tag} NO [AUTHENTICATIONFAILED] no\r\n"),
            "CAPABILITY" => format!("* CAPABILITY IMAP4rev1 FAKE\r\n{tag} OK done\r\n"),
            "LOGOUT" => format!("* BYE fake\r\n{tag} OK bye\r\n"),
            _ => format!("{tag} OK fake did {verb}\r\n"),
        };
        out.write_all(answer.as_bytes())?;
        if verb == "LOGOUT" {
            return Ok(());
        }
    }
    Ok(())
}

/// `postern gateway` running as a child, killed by its own handle on drop.
struct Gateway {
    child: Child,
    log: PathBuf,
}

impl Gateway {
    fn start(d: &DataDir, args: &[&str]) -> Self {
        let log = d.scratch().join("gateway.stderr");
        let child = postern_cmd()
            .arg("--data-dir")
            .arg(&d.path)
            .arg("gateway")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting postern gateway");
        Self { child, log }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    #[track_caller]
    fn wait_for_port(&mut self, port: u16) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + POLL_DEADLINE;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("postern gateway exited with {status}:\n{}", self.logs());
            }
            assert!(Instant::now() < deadline, "not listening:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM to this child's PID only; the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + POLL_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "did not stop:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Logs in with imaplib, verifying the gateway's certificate; prints
/// what each step answered.
const IMAPLIB: &str = r#"
import imaplib, ssl, sys
mode, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
if mode == "implicit":
    m = imaplib.IMAP4_SSL("localhost", port, ssl_context=ctx)
else:
    m = imaplib.IMAP4("localhost", port)
    print("CAPS", " ".join(m.capabilities))
    try:
        m.login("alice@example.test", "secret")
        print("PLAIN LOGIN ACCEPTED")
    except imaplib.IMAP4.error as e:
        print("PLAIN LOGIN REFUSED", e)
    m.starttls(ssl_context=ctx)
typ, data = m.login("alice@example.test", "secret")
print("LOGIN", typ, data)
typ, data = m.noop()
print("NOOP", typ, data)
m.logout()
"#;

fn python() -> bool {
    let found = Command::new("python3").arg("--version").output().is_ok();
    if !found {
        eprintln!("python3 not found: skipping the imaplib client");
    }
    found
}

fn imaplib(mode: &str, port: u16, ca: &Path) -> String {
    let out = Command::new("python3")
        .args(["-c", IMAPLIB, mode, &port.to_string()])
        .arg(ca)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn gateway_relays_imaplib_over_implicit_tls_and_stops_on_sigterm() {
    if !python() {
        return;
    }
    let (d, _) = dev_dir();
    let fake = FakeImap::start();
    let port = free_ports(1)[0];
    let (listen, upstream) = (
        format!("127.0.0.1:{port}"),
        format!("127.0.0.1:{}", fake.port),
    );
    let args = [
        "--protocol",
        "imap",
        "--listen",
        &listen,
        "--tls",
        "implicit",
        "--upstream",
        &upstream,
    ];
    let mut gw = Gateway::start(&d, &args);
    gw.wait_for_port(port);
    let out = imaplib("implicit", port, &d.cert());
    assert!(
        out.contains("LOGIN OK [b'[CAPABILITY IMAP4rev1 FAKE] Logged in']"),
        "{out}"
    );
    assert!(out.contains("NOOP OK [b'fake did NOOP']"), "{out}");
    let lines = fake.lines();
    assert!(
        lines
            .iter()
            .any(|l| l == "P3 LOGIN \"alice@example.test\" \"secret\""),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.ends_with(" NOOP")), "{lines:?}");
    assert!(gw.stop().success(), "{}", gw.logs());
    let logs = gw.logs();
    assert!(
        logs.contains("alice@example.test") && !logs.contains("secret"),
        "{logs}"
    );
}

#[test]
fn gateway_refuses_login_before_starttls_and_relays_after_it() {
    if !python() {
        return;
    }
    let (d, _) = dev_dir();
    let fake = FakeImap::start();
    let port = free_ports(1)[0];
    let (listen, upstream) = (
        format!("127.0.0.1:{port}"),
        format!("127.0.0.1:{}", fake.port),
    );
    let args = [
        "--protocol",
        "imap",
        "--listen",
        &listen,
        "--tls",
        "starttls",
        "--upstream",
        &upstream,
    ];
    let mut gw = Gateway::start(&d, &args);
    gw.wait_for_port(port);
    let out = imaplib("starttls", port, &d.cert());
    assert!(
        out.contains("LOGINDISABLED") && out.contains("STARTTLS"),
        "{out}"
    );
    assert!(out.contains("PLAIN LOGIN REFUSED"), "{out}");
    assert!(out.contains("LOGIN OK"), "{out}");
    let logins = fake.lines().iter().filter(|l| l.contains("LOGIN")).count();
    assert_eq!(logins, 1, "{:?}", fake.lines());
}

#[test]
fn gateway_without_configuration_says_what_to_run() {
    let d = DataDir::empty();
    let out = d.run(&[
        "gateway",
        "--protocol",
        "imap",
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "implicit",
        "--upstream",
        "127.0.0.1:143",
    ]);
    out.failed().stderr_has("postern init");
    let (d, _) = dev_dir();
    let bad = d.run(&[
        "gateway",
        "--protocol",
        "pop3",
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "implicit",
        "--upstream",
        "127.0.0.1:110",
        "--client-address",
        "xclient",
    ]);
    bad.failed().stderr_has("xclient is an SMTP command");
    let missing = d.scratch().join("no-such-ca.pem");
    let missing = missing.to_str().unwrap();
    let port = free_ports(1)[0].to_string();
    let no_ca = d.run(&[
        "gateway",
        "--protocol",
        "imap",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--tls",
        "implicit",
        "--upstream",
        "127.0.0.1:993",
        "--upstream-tls",
        "implicit",
        "--upstream-ca",
        missing,
    ]);
    no_ca
        .failed()
        .stderr_has("upstream_ca")
        .stderr_has("no-such-ca.pem");
}
