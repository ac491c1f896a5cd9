//! Pebble, the ACME test CA (Debian package `pebble`), and
//! pebble-challtestsrv as its DNS server resolving every name to 127.0.0.1,
//! run as children of a test; shared by the ACME test files.

#![allow(dead_code)] // Each test file uses its own subset.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

pub const NAME: &str = "mail.acme.test";

/// Pebble and its DNS server as children, killed (by handle) on drop.
pub struct Pebble {
    children: Vec<Child>,
    pub directory: String,
    pub ca_bundle: String,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// True when Pebble is installed; under CI=true its absence fails the test.
pub fn require_pebble() -> bool {
    let found = ["/usr/bin/pebble", "/usr/bin/pebble-challtestsrv"]
        .iter()
        .all(|p| Path::new(p).exists());
    if !found && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "pebble and pebble-challtestsrv are required under CI=true (Debian package `pebble`)"
        );
    }
    if !found {
        eprintln!("note: skipping this test: Debian's `pebble` package is not installed");
    }
    found
}

/// Pebble's HTTPS certificate, from a throw-away CA whose root the test
/// gives to `postern cert acme --ca-bundle`.
fn pebble_tls(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

fn spawn(cmd: &mut Command, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"))
}

fn wait_for(port: u16, what: &str, log: &Path) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + POLL_DEADLINE;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts Pebble validating http-01 on 127.0.0.1:`http_port` and
/// tls-alpn-01 on 127.0.0.1:`tls_port`.
pub fn start_pebble(dir: &Path, http_port: u16, tls_port: u16) -> Pebble {
    start_pebble_with_dns(dir, http_port, tls_port, None)
}

/// Starts Pebble as [`start_pebble`] does, resolving through `dns` (a
/// test's own authoritative server, for dns-01) instead of
/// pebble-challtestsrv when it is given.
pub fn start_pebble_with_dns(
    dir: &Path,
    http_port: u16,
    tls_port: u16,
    dns: Option<SocketAddr>,
) -> Pebble {
    pebble_tls(dir);
    let [acme, mgmt, dns_port, cts_mgmt] = free_ports(4)[..] else {
        unreachable!()
    };
    let config = format!(
        r#"{{"pebble": {{"listenAddress": "127.0.0.1:{acme}", "managementListenAddress": "127.0.0.1:{mgmt}",
        "certificate": "{d}/cert.pem", "privateKey": "{d}/key.pem", "httpPort": {http_port}, "tlsPort": {tls_port},
        "ocspResponderURL": "", "externalAccountBindingRequired": false}}}}"#,
        d = dir.display()
    );
    std::fs::write(dir.join("pebble.json"), config).unwrap();
    let mut children = Vec::new();
    let dns = match dns {
        Some(d) => d,
        None => {
            children.push(start_challtestsrv(dir, dns_port, cts_mgmt));
            SocketAddr::from((Ipv4Addr::LOCALHOST, dns_port))
        }
    };
    let log = dir.join("pebble.log");
    children.push(spawn(
        Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &dns.to_string()])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0"),
        &log,
    ));
    let pebble = Pebble {
        children,
        directory: format!("https://127.0.0.1:{acme}/dir"),
        ca_bundle: dir.join("ca.pem").display().to_string(),
    };
    wait_for(acme, "pebble", &log);
    pebble
}

/// pebble-challtestsrv as a DNS server on `dns` resolving every name to
/// 127.0.0.1, ready when its management port listens.
fn start_challtestsrv(dir: &Path, dns: u16, cts_mgmt: u16) -> Child {
    let dns_log = dir.join("challtestsrv.log");
    let child = spawn(
        Command::new("/usr/bin/pebble-challtestsrv").args([
            "-dns01",
            &format!("127.0.0.1:{dns}"),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            &format!("127.0.0.1:{cts_mgmt}"),
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ]),
        &dns_log,
    );
    wait_for(cts_mgmt, "pebble-challtestsrv", &dns_log);
    child
}

pub fn acme_dir() -> (DataDir, Ports) {
    let d = DataDir::init(&["--dev-ports", "--hostname", NAME, "--domain", "acme.test"]);
    let ports = d.use_free_ports();
    (d, ports)
}

/// The first certificate `openssl s_client` was shown for NAME.
pub fn served_cert(https: u16) -> Option<CertFacts> {
    let s = s_client(
        https,
        &["-servername", NAME, "-showcerts"],
        b"",
        Duration::from_secs(5),
    );
    let start = s.stdout.find("-----BEGIN CERTIFICATE-----")?;
    Some(cert_facts(&s.stdout.as_bytes()[start..]))
}

/// The DER of the leaf certificate served for NAME, if a handshake works.
pub fn served_leaf(https: u16) -> Option<Vec<u8>> {
    let s = s_client(
        https,
        &["-servername", NAME, "-showcerts"],
        b"",
        Duration::from_secs(5),
    );
    let start = s.stdout.find("-----BEGIN CERTIFICATE-----")?;
    cert_ders(&s.stdout.as_bytes()[start..]).into_iter().next()
}
