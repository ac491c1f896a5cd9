//! Helpers for driving the `postern` binary from the outside, the way an
//! administrator does: a fresh data directory per test, the `openssl`
//! command-line tool as the independent CA and TLS client, and a server
//! child process that is always killed, even when a test panics.

#![allow(dead_code)] // Each test file uses its own subset.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long an ordinary command may take before the test gives up on it.
/// Generous: debug builds generate RSA keys slowly and CI machines are busy.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long to poll for something that should happen "at once".
pub const POLL_DEADLINE: Duration = Duration::from_secs(10);

/// The listeners `postern init --dev-ports` writes, with their dev ports.
pub const DEV_PORTS: [(&str, u16); 10] = [
    ("smtp", 2525),
    ("submission", 2587),
    ("submissions", 2465),
    ("imap", 2143),
    ("imaps", 2993),
    ("pop3", 2110),
    ("pop3s", 2995),
    ("http", 8080),
    ("https", 8443),
    ("metrics", 9187),
];

/// Every listener `postern init` writes, in the order of the file.
pub const LISTENERS: [&str; 10] = [
    "smtp",
    "submission",
    "submissions",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
    "http",
    "https",
    "metrics",
];

// ---------------------------------------------------------------------------
// Running commands

/// What a finished command left behind.
#[derive(Debug)]
pub struct Run {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Everything about the run, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "`{}` exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.status, self.stdout, self.stderr
        )
    }

    /// Panics unless the command exited 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(
            self.status.success(),
            "expected success: {}",
            self.describe()
        );
        self
    }

    /// Panics unless the command exited with a non-zero code (not a signal).
    #[track_caller]
    pub fn failed(self) -> Self {
        assert!(
            matches!(self.code(), Some(c) if c != 0),
            "expected a non-zero exit: {}",
            self.describe()
        );
        self
    }

    /// Panics unless stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {}",
            self.describe()
        );
        self
    }

    /// Panics unless stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}: {}",
            self.describe()
        );
        self
    }
}

/// Reads a pipe to its end on a thread, so a chatty child never blocks.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for a child until `deadline`; kills it (by its own handle) when it
/// overstays. Returns `None` on timeout.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for a child process: {e}"),
        }
    }
}

fn describe_command(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command to completion, feeding it `stdin` (then end of file).
#[track_caller]
pub fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Run {
    let what = describe_command(cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The child may exit without reading (a refused command): ignore EPIPE.
        let _ = pipe.write_all(input);
    }
    let status = wait_until(&mut child, Instant::now() + COMMAND_TIMEOUT);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let Some(status) = status else {
        panic!("`{what}` did not finish within {COMMAND_TIMEOUT:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    };
    Run {
        what,
        status,
        stdout,
        stderr,
    }
}

/// The `postern` binary under test, isolated from the caller's environment.
pub fn postern_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_postern"));
    cmd.env_remove("POSTERN_DATA_DIR").env_remove("RUST_LOG");
    cmd
}

/// `postern --data-dir DIR ARGS...`
#[track_caller]
pub fn postern(dir: &Path, args: &[&str]) -> Run {
    run(postern_cmd().arg("--data-dir").arg(dir).args(args), None)
}

/// `postern --data-dir DIR ARGS...` with `input` on standard input.
#[track_caller]
pub fn postern_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Run {
    run(
        postern_cmd().arg("--data-dir").arg(dir).args(args),
        Some(input),
    )
}

// ---------------------------------------------------------------------------
// Data directories

/// A data directory inside a temporary directory that is removed at the end.
/// The data directory itself is created by `postern init`, so its mode is
/// the one `init` chose.
pub struct DataDir {
    pub tmp: TempDir,
    pub path: PathBuf,
}

impl DataDir {
    /// A temporary directory with no data directory in it yet.
    pub fn empty() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("postern-cli-test-")
            .tempdir()
            .expect("temporary directory");
        let path = tmp.path().join("data");
        Self { tmp, path }
    }

    /// `postern init ARGS` in a fresh directory; panics if it fails.
    #[track_caller]
    pub fn init(args: &[&str]) -> Self {
        let d = Self::empty();
        let mut full = vec!["init"];
        full.extend_from_slice(args);
        postern(&d.path, &full).ok();
        d
    }

    /// Where scratch files (CSRs, CA files) go: beside, not inside, the
    /// data directory, so they never count as a change to it.
    pub fn scratch(&self) -> PathBuf {
        let p = self.tmp.path().join("scratch");
        std::fs::create_dir_all(&p).expect("scratch directory");
        p
    }

    pub fn config(&self) -> PathBuf {
        self.path.join("postern.toml")
    }

    pub fn cert(&self) -> PathBuf {
        self.path.join("certs/main.crt.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.path.join("certs/main.key.pem")
    }

    pub fn pending(&self) -> PathBuf {
        self.path.join("certs/pending")
    }

    /// `postern --data-dir THIS ARGS...`
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> Run {
        postern(&self.path, args)
    }

    /// Every file under the data directory with its bytes, to prove a
    /// refused command changed nothing.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        snapshot_into(&self.path, &self.path, &mut out);
        out
    }

    /// The file names in certs/pending (empty when it does not exist).
    pub fn pending_files(&self) -> Vec<String> {
        let mut names: Vec<String> = match std::fs::read_dir(self.pending()) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// Rewrites every `127.0.0.1:<dev port>` of postern.toml to a free port
    /// and returns the new port of each listener.
    pub fn use_free_ports(&self) -> Ports {
        let text = read_string(&self.config());
        let fresh = free_ports(DEV_PORTS.len());
        let mut out = text.clone();
        let mut ports = BTreeMap::new();
        for ((name, dev), new) in DEV_PORTS.iter().zip(fresh) {
            let old = format!("\"127.0.0.1:{dev}\"");
            assert!(
                out.contains(&old),
                "postern.toml has no {old} for listener {name}:\n{text}"
            );
            out = out.replace(&old, &format!("\"127.0.0.1:{new}\""));
            ports.insert((*name).to_owned(), new);
        }
        out = out.replace(
            "redirect_https_port = 8443",
            &format!("redirect_https_port = {}", ports["https"]),
        );
        std::fs::write(self.config(), out).expect("rewriting postern.toml");
        Ports(ports)
    }
}

fn snapshot_into(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            snapshot_into(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap_or(&p).to_owned();
            out.insert(rel, std::fs::read(&p).unwrap_or_default());
        }
    }
}

/// Asserts two snapshots are equal, naming the files that differ.
#[track_caller]
pub fn assert_unchanged(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
    context: &str,
) {
    let changed: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| k.display().to_string())
        .collect();
    assert!(
        changed.is_empty(),
        "{context}: the data directory changed: {changed:?}"
    );
}

/// A dev-ports data directory for `localhost` and `example.test`, its
/// listeners moved to free ports.
pub fn dev_dir() -> (DataDir, Ports) {
    let d = DataDir::init(&[
        "--dev-ports",
        "--hostname",
        "localhost",
        "--domain",
        "example.test",
    ]);
    let ports = d.use_free_ports();
    (d, ports)
}

/// The listeners' ports after [`DataDir::use_free_ports`].
#[derive(Debug, Clone)]
pub struct Ports(pub BTreeMap<String, u16>);

impl Ports {
    pub fn get(&self, listener: &str) -> u16 {
        self.0[listener]
    }
}

/// `n` distinct ports that were free a moment ago on 127.0.0.1.
///
/// Taken below Linux's ephemeral range (32768-60999), not with port 0:
/// a port 0 gives out is also the next source port of some other test's
/// outgoing connection (openssl, curl, the server's own clients), which
/// can take it in the moment between this check and `postern serve`'s
/// bind. Candidates come from the clock and the process id, so parallel
/// tests and processes start at different places.
pub fn free_ports(n: usize) -> Vec<u16> {
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id().wrapping_mul(2_654_435_761);
    let mut x = seed | 1;
    let mut held: Vec<TcpListener> = Vec::with_capacity(n);
    for _ in 0..SPAN {
        if held.len() == n {
            break;
        }
        // xorshift: cheap, and enough to spread the candidates.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let port = (LOW + x % SPAN) as u16;
        if let Ok(l) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            held.push(l);
        }
    }
    assert_eq!(
        held.len(),
        n,
        "no {n} free ports between {LOW} and {}",
        LOW + SPAN
    );
    held.iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

#[track_caller]
pub fn read_string(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[track_caller]
pub fn read_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The permission bits of a file or directory.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The 1-based number of the first line at or after line `from` (1-based)
/// that equals `line` once trimmed.
pub fn line_number(text: &str, from: usize, line: &str) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.trim() == line)
        .map(|(i, _)| i + 1)
}

/// Replaces line `n` (1-based) of `text`.
pub fn replace_line(text: &str, n: usize, new: &str) -> String {
    let mut out: Vec<&str> = text.lines().collect();
    out[n - 1] = new;
    let mut s = out.join("\n");
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------
// Certificates, read independently of Postern

/// What a test needs to know about a PEM certificate (the first in a file).
#[derive(Debug)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub is_rsa: bool,
    pub is_ec: bool,
    pub key_bits: usize,
    pub not_after: i64,
}

/// The DER of every certificate in a PEM file, in order.
#[track_caller]
pub fn cert_ders(pem: &[u8]) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem)
        .map(|p| p.expect("valid PEM"))
        .filter(|p| p.label == "CERTIFICATE")
        .map(|p| p.contents)
        .collect()
}

#[track_caller]
pub fn cert_facts(pem: &[u8]) -> CertFacts {
    use x509_parser::extensions::GeneralName;
    use x509_parser::pem::Pem;
    use x509_parser::public_key::PublicKey;

    let pems: Vec<Pem> = Pem::iter_from_buffer(pem)
        .collect::<Result<_, _>>()
        .expect("valid PEM");
    let first = pems
        .iter()
        .find(|p| p.label == "CERTIFICATE")
        .expect("a CERTIFICATE block");
    let cert = first.parse_x509().expect("a valid X.509 certificate");
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                GeneralName::IPAddress(b) => ip_addresses.push(format!("{b:?}")),
                _ => {}
            }
        }
    }
    let key = cert.public_key().parsed().expect("a parsable public key");
    CertFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        dns_names,
        ip_addresses,
        is_rsa: matches!(key, PublicKey::RSA(_)),
        is_ec: matches!(key, PublicKey::EC(_)),
        key_bits: key.key_size(),
        not_after: cert.validity().not_after.timestamp(),
    }
}

// ---------------------------------------------------------------------------
// openssl

/// True when the `openssl` binary is available. When it is not: under
/// `CI=true` the test fails (CI must run everything); elsewhere it prints a
/// note and the caller returns early.
#[track_caller]
pub fn require_openssl() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the openssl command-line tool is required under CI=true but is not on PATH");
    }
    eprintln!("note: skipping this test: the openssl command-line tool is not on PATH");
    false
}

/// `openssl ARGS...` run in `cwd`.
#[track_caller]
pub fn openssl(cwd: &Path, args: &[&str]) -> Run {
    run(Command::new("openssl").current_dir(cwd).args(args), None)
}

/// A throw-away certificate authority made with openssl alone, so Postern's
/// interoperability is judged by an independent implementation.
pub struct OpensslCa {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    serial: std::cell::Cell<u32>,
}

impl OpensslCa {
    /// A P-256 root "CN=<cn>" valid for 30 days, with basicConstraints
    /// CA:TRUE and keyUsage keyCertSign (OpenSSL 3.0 would otherwise take
    /// the extensions from the system openssl.cnf, whatever it says).
    #[track_caller]
    pub fn new(dir: &Path, cn: &str) -> Self {
        std::fs::create_dir_all(dir).expect("CA directory");
        let conf = dir.join("ca-req.cnf");
        std::fs::write(
            &conf,
            format!(
                "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n\
                 [dn]\nCN = {cn}\n\
                 [v3_ca]\nbasicConstraints = critical,CA:TRUE\n\
                 keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
            ),
        )
        .expect("writing the CA request configuration");
        let subj = format!("/CN={cn}");
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-config",
                "ca-req.cnf",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                &subj,
                "-days",
                "30",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        )
        .ok();
        Self {
            dir: dir.to_owned(),
            cert: dir.join("ca.pem"),
            key: dir.join("ca.key"),
            serial: std::cell::Cell::new(1),
        }
    }

    /// The extension file for a server certificate naming `dns_names`.
    fn leaf_extensions(&self, dns_names: &[&str]) -> PathBuf {
        let n = self.serial.get();
        self.serial.set(n + 1);
        let san: Vec<String> = dns_names.iter().map(|d| format!("DNS:{d}")).collect();
        let path = self.dir.join(format!("leaf-{n}.ext"));
        std::fs::write(
            &path,
            format!(
                "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n\
                 extendedKeyUsage = serverAuth\nsubjectAltName = {}\n",
                san.join(",")
            ),
        )
        .expect("writing the extension file");
        path
    }

    /// Signs a CSR with `openssl x509 -req` for `days` days; returns the
    /// certificate's path (`out`, relative to the CA directory).
    #[track_caller]
    pub fn sign(&self, csr: &Path, dns_names: &[&str], days: u32, out: &str) -> PathBuf {
        let ext = self.leaf_extensions(dns_names);
        let days = days.to_string();
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr.display().to_string(),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                &days,
                "-sha256",
                "-extfile",
                &ext.display().to_string(),
                "-out",
                out,
            ],
        )
        .ok();
        self.dir.join(out)
    }

    /// Signs a CSR with a validity wholly in the past (January 2020), using
    /// `openssl ca -startdate/-enddate`: OpenSSL 3.0's `x509 -req` has only
    /// `-days`, but `ca` takes explicit dates.
    #[track_caller]
    pub fn sign_expired(&self, csr: &Path, dns_names: &[&str], out: &str) -> PathBuf {
        let ext = self.leaf_extensions(dns_names);
        let db = self.dir.join("db");
        std::fs::create_dir_all(&db).expect("CA database directory");
        std::fs::write(db.join("index.txt"), "").expect("CA index");
        std::fs::write(db.join("serial"), "1000\n").expect("CA serial");
        std::fs::write(
            self.dir.join("ca-sign.cnf"),
            "[ca]\ndefault_ca = test_ca\n\
             [test_ca]\ndatabase = db/index.txt\nnew_certs_dir = db\nserial = db/serial\n\
             certificate = ca.pem\nprivate_key = ca.key\ndefault_md = sha256\n\
             policy = any_name\nunique_subject = no\ncopy_extensions = none\n\
             [any_name]\ncommonName = supplied\n",
        )
        .expect("writing the CA configuration");
        openssl(
            &self.dir,
            &[
                "ca",
                "-batch",
                "-config",
                "ca-sign.cnf",
                "-notext",
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200201000000Z",
                "-extfile",
                &ext.display().to_string(),
                "-in",
                &csr.display().to_string(),
                "-out",
                out,
            ],
        )
        .ok();
        self.dir.join(out)
    }

    /// A key and CSR made by openssl itself (Postern never saw this key).
    /// Returns (key, csr).
    #[track_caller]
    pub fn foreign_request(&self, cn: &str, stem: &str) -> (PathBuf, PathBuf) {
        let key = format!("{stem}.key");
        let csr = format!("{stem}.csr");
        let subj = format!("/CN={cn}");
        openssl(
            &self.dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                &subj,
                "-keyout",
                &key,
                "-out",
                &csr,
            ],
        )
        .ok();
        (self.dir.join(key), self.dir.join(csr))
    }
}

/// What an `openssl s_client` session showed.
#[derive(Debug)]
pub struct SClient {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl SClient {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn describe(&self) -> String {
        format!(
            "openssl s_client exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `openssl s_client -connect 127.0.0.1:PORT ARGS...`, writes `input`
/// and keeps standard input open, so s_client stays until the server ends
/// the session (an IMAP LOGOUT) rather than hanging up as soon as its input
/// ends. After `timeout` the input is closed; a moment later it is killed.
pub fn s_client(port: u16, args: &[&str], input: &[u8], timeout: Duration) -> SClient {
    let connect = format!("127.0.0.1:{port}");
    let mut child = Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(&connect)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting openssl s_client");
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let mut stdin = child.stdin.take();
    if let Some(pipe) = stdin.as_mut() {
        let _ = pipe.write_all(input);
        let _ = pipe.flush();
    }
    let mut status = wait_until_alive(&mut child, Instant::now() + timeout);
    if status.is_none() {
        drop(stdin.take());
        status = wait_until(&mut child, Instant::now() + Duration::from_secs(2));
    }
    drop(stdin);
    SClient {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Like [`wait_until`] but leaves the child running on timeout.
fn wait_until_alive(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for openssl s_client: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------
// A server child process

/// `postern serve` running as a child. Dropping it kills the child (by its
/// own handle, never by name), so a failing test leaves nothing behind.
pub struct ServerProcess {
    child: Child,
    stderr_path: PathBuf,
    stdout_path: PathBuf,
}

impl ServerProcess {
    /// Starts `postern serve --data-dir DIR`, logging to files in `logs`.
    pub fn start(data_dir: &Path, logs: &Path) -> Self {
        let stderr_path = logs.join("serve.stderr");
        let stdout_path = logs.join("serve.stdout");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr log file");
        let stdout = std::fs::File::create(&stdout_path).expect("stdout log file");
        let child = postern_cmd()
            .arg("--data-dir")
            .arg(data_dir)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("starting postern serve");
        Self {
            child,
            stderr_path,
            stdout_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote so far.
    pub fn logs(&self) -> String {
        format!(
            "--- postern serve stdout ---\n{}\n--- postern serve stderr ---\n{}",
            std::fs::read_to_string(&self.stdout_path).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
        )
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("polling postern serve")
    }

    /// Polls until `port` on 127.0.0.1 accepts a connection; panics with the
    /// server's logs if the server exits or the deadline passes.
    #[track_caller]
    pub fn wait_for_port(&mut self, port: u16) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + POLL_DEADLINE;
        loop {
            if let Some(status) = self.exited() {
                panic!(
                    "postern serve exited with {status} before listening on {port}\n{}",
                    self.logs()
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postern serve did not listen on {port} within {POLL_DEADLINE:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_until_alive(&mut self.child, Instant::now() + timeout)
    }

    /// SIGKILL (the process dies wherever it stands) and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM with the `kill` command, to this child's PID only.
    #[track_caller]
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
