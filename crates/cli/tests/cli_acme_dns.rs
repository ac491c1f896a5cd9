//! `postern cert acme --challenge dns-01` against BIND and Pebble: the
//! TXT records go to a private `named` by RFC 2136 updates signed with
//! TSIG (RFC 8945), Pebble resolves through that `named` to validate
//! (RFC 8555 §8.4), and a wildcard name is issued beside a host name. The
//! records are gone afterwards; a wrong secret fails with advice and
//! leaves the installed certificate as it was.

mod common;
mod pebble;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use pebble::*;

const NAMED: &str = "/usr/sbin/named";
const DIG: &str = "/usr/bin/dig";
const KEY_NAME: &str = "postern-acme";
/// base64 of 32 bytes: the key the zone grants updates to.
const SECRET: &str = "cG9zdGVybi1hY21lLXRlc3QtdHNpZy1zZWNyZXQtMDE=";
/// Another 32 bytes: the wrong secret.
const WRONG_SECRET: &str = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0=";

/// True when BIND's `named` and `dig` are installed; under CI=true their
/// absence fails the test.
fn require_bind() -> bool {
    let found = [NAMED, DIG].iter().all(|p| Path::new(p).exists());
    if !found && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("named and dig are required under CI=true (Debian packages `bind9` and `bind9-dnsutils`)");
    }
    if !found {
        eprintln!(
            "note: skipping this test: Debian's `bind9` and `bind9-dnsutils` are not installed"
        );
    }
    found
}

/// A private `named`, primary for example.test, which takes TXT updates
/// signed with KEY_NAME; killed (by handle) on drop.
struct Named {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Named {
    fn start(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_ports(1)[0];
        let d = dir.display();
        let conf = format!(
            r#"options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  session-keyfile "{d}/session.key";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
  allow-query {{ any; }};
}};
controls {{ }};
key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
zone "example.test" {{
  type primary;
  file "{d}/example.test.zone";
  update-policy {{ grant {KEY_NAME} zonesub TXT; }};
}};
"#
        );
        std::fs::write(dir.join("named.conf"), conf).unwrap();
        std::fs::write(
            dir.join("example.test.zone"),
            "$TTL 60\n@ IN SOA ns.example.test. hostmaster.example.test. 1 60 60 600 60\n@ IN NS ns.example.test.\nns IN A 127.0.0.1\nwww IN A 127.0.0.1\n",
        )
        .unwrap();
        let log = dir.join("named.log");
        let out = std::fs::File::create(&log).unwrap();
        // -g: in the foreground, logging to stderr (our log file).
        let child = Command::new(NAMED)
            .arg("-g")
            .arg("-c")
            .arg(dir.join("named.conf"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {NAMED}: {e}"));
        let named = Self {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            log,
        };
        named.wait_running();
        named
    }

    fn wait_running(&self) {
        let deadline = Instant::now() + POLL_DEADLINE;
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let listening =
                TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok();
            if listening && log.contains("running") {
                return;
            }
            assert!(Instant::now() < deadline, "named did not start:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The TXT values `named` answers for `name`, asked by `dig`.
    fn txt(&self, name: &str) -> String {
        let port = self.addr.port().to_string();
        let r = run(
            Command::new(DIG).args(["+tcp", "+short", "@127.0.0.1", "-p", &port, name, "TXT"]),
            None,
        );
        assert!(r.status.success(), "{}", r.describe());
        r.stdout.trim().to_owned()
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn dns01_args<'a>(pebble: &'a Pebble, named: &'a str, secret_file: &'a str) -> Vec<&'a str> {
    vec![
        "cert",
        "acme",
        "--directory",
        &pebble.directory,
        "--ca-bundle",
        &pebble.ca_bundle,
        "--challenge",
        "dns-01",
        "--dns-server",
        named,
        "--tsig-key-name",
        KEY_NAME,
        "--tsig-secret-file",
        secret_file,
        "--name",
        "www.example.test",
        "--name",
        "*.example.test",
    ]
}

/// A data directory for www.example.test, a private `named` for
/// example.test, Pebble resolving through it, and the key's secret file.
fn setup() -> (DataDir, Named, Pebble, PathBuf) {
    let d = DataDir::init(&[
        "--dev-ports",
        "--hostname",
        "www.example.test",
        "--domain",
        "example.test",
    ]);
    let ports = d.use_free_ports();
    let named = Named::start(&d.scratch().join("named"));
    let pebble = start_pebble_with_dns(
        &d.scratch(),
        ports.get("http"),
        ports.get("https"),
        Some(named.addr),
    );
    let secret = d.scratch().join("tsig.key");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    (d, named, pebble, secret)
}

/// The installed certificate is Pebble's, for both names.
#[track_caller]
fn assert_installed_for_both(d: &DataDir) {
    let installed = cert_facts(&read_bytes(&d.cert()));
    assert!(
        installed.issuer.contains("Pebble Intermediate CA"),
        "{installed:?}"
    );
    let mut names = installed.dns_names;
    names.sort();
    assert_eq!(names, ["*.example.test", "www.example.test"]);
}

#[test]
fn dns01_through_bind_issues_a_wildcard_and_cleans_up_and_a_wrong_key_changes_nothing() {
    if !require_pebble() || !require_bind() {
        return;
    }
    let (d, named, pebble, secret) = setup();
    let wrong = d.scratch().join("wrong.key");
    std::fs::write(&wrong, format!("{WRONG_SECRET}\n")).unwrap();
    let addr = named.addr.to_string();

    let run = d.run(&dns01_args(&pebble, &addr, &secret.display().to_string()));
    assert!(
        run.code() == Some(0),
        "{}\nnamed:\n{}",
        run.describe(),
        named.logs()
    );
    run.stdout_has("Installed \"main\"");
    assert_installed_for_both(&d);
    // Both records were added (Pebble validated them) and then deleted.
    let log = named.logs();
    assert!(
        log.contains("adding an RR at '_acme-challenge.www.example.test' TXT")
            && log.contains("adding an RR at '_acme-challenge.example.test' TXT"),
        "{log}"
    );
    assert_eq!(named.txt("_acme-challenge.www.example.test"), "");
    assert_eq!(named.txt("_acme-challenge.example.test"), "");

    // A wrong secret: named answers BADSIG, the command says what to fix,
    // and the certificate just installed stays byte for byte.
    let before = (read_bytes(&d.cert()), read_bytes(&d.key()));
    let run = d.run(&dns01_args(&pebble, &addr, &wrong.display().to_string()));
    let run = run.failed();
    run.stderr_has("no certificate was obtained; the installed one is unchanged");
    run.stderr_has("(BADSIG): the secret in tsig_secret_file");
    assert!(
        before == (read_bytes(&d.cert()), read_bytes(&d.key())),
        "the certificate or key changed"
    );
    assert_eq!(named.txt("_acme-challenge.www.example.test"), "");
}

#[test]
fn an_acme_section_with_dns01_renews_through_bind() {
    if !require_pebble() || !require_bind() {
        return;
    }
    let (d, named, pebble, secret) = setup();
    let mut text = read_string(&d.config());
    text.push_str(&format!(
        "\n[[acme]]\ncertificate = \"main\"\ndirectory = \"{}\"\nca_bundle = \"{}\"\nnames = [\"www.example.test\", \"*.example.test\"]\nchallenge = \"dns-01\"\ndns_server = \"{}\"\ndns_zone = \"example.test\"\ntsig_key_name = \"{KEY_NAME}\"\ntsig_secret_file = \"{}\"\n",
        pebble.directory,
        pebble.ca_bundle,
        named.addr,
        secret.display()
    ));
    std::fs::write(d.config(), text).unwrap();
    // The self-signed certificate of `postern init` is replaced.
    let run = d.run(&["cert", "renew"]);
    assert!(
        run.code() == Some(0),
        "{}\nnamed:\n{}",
        run.describe(),
        named.logs()
    );
    run.stdout_has("\"main\": renewed");
    assert_installed_for_both(&d);
    assert_eq!(named.txt("_acme-challenge.www.example.test"), "");
    assert_eq!(named.txt("_acme-challenge.example.test"), "");
}
