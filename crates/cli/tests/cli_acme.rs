//! `postern cert acme` against Pebble, the ACME test CA (RFC 8555): a real
//! account, order, http-01 validation over the port-80 listener, CSR and
//! chain download, then the certificate served by a running server.
//! pebble-challtestsrv is only Pebble's DNS: every name resolves to
//! 127.0.0.1, and Pebble's validation requests go to Postern's listener.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const NAME: &str = "mail.acme.test";

/// Pebble and its DNS server as children, killed (by handle) on drop.
struct Pebble {
    children: Vec<Child>,
    directory: String,
    ca_bundle: String,
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
fn require_pebble() -> bool {
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
fn start_pebble(dir: &Path, http_port: u16, tls_port: u16) -> Pebble {
    pebble_tls(dir);
    let [acme, mgmt, dns, cts_mgmt] = free_ports(4)[..] else {
        unreachable!()
    };
    let config = format!(
        r#"{{"pebble": {{"listenAddress": "127.0.0.1:{acme}", "managementListenAddress": "127.0.0.1:{mgmt}",
        "certificate": "{d}/cert.pem", "privateKey": "{d}/key.pem", "httpPort": {http_port}, "tlsPort": {tls_port},
        "ocspResponderURL": "", "externalAccountBindingRequired": false}}}}"#,
        d = dir.display()
    );
    std::fs::write(dir.join("pebble.json"), config).unwrap();
    let dns_log = dir.join("challtestsrv.log");
    let mut children = vec![spawn(
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
    )];
    wait_for(cts_mgmt, "pebble-challtestsrv", &dns_log);
    let log = dir.join("pebble.log");
    children.push(spawn(
        Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
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

fn acme_dir() -> (DataDir, Ports) {
    let d = DataDir::init(&["--dev-ports", "--hostname", NAME, "--domain", "acme.test"]);
    let ports = d.use_free_ports();
    (d, ports)
}

/// The first certificate `openssl s_client` was shown for NAME.
fn served_cert(https: u16) -> Option<CertFacts> {
    let s = s_client(
        https,
        &["-servername", NAME, "-showcerts"],
        b"",
        Duration::from_secs(5),
    );
    let start = s.stdout.find("-----BEGIN CERTIFICATE-----")?;
    Some(cert_facts(&s.stdout.as_bytes()[start..]))
}

#[test]
fn http01_issues_a_certificate_the_running_server_then_serves() {
    if !require_pebble() || !require_openssl() {
        return;
    }
    let (d, ports) = acme_dir();
    let pebble = start_pebble(&d.scratch(), ports.get("http"), ports.get("https"));
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    server.wait_for_port(ports.get("https"));
    let before = served_cert(ports.get("https")).expect("a certificate before");
    assert!(!before.issuer.contains("Pebble"), "{before:?}");

    let run = d.run(&[
        "cert",
        "acme",
        "--directory",
        &pebble.directory,
        "--ca-bundle",
        &pebble.ca_bundle,
        "--name",
        NAME,
        "--contact",
        "mailto:postmaster@acme.test",
    ]);
    let run = run.ok();
    run.stdout_has("Installed \"main\"");
    let installed = cert_facts(&read_bytes(&d.cert()));
    assert!(
        installed.issuer.contains("Pebble Intermediate CA"),
        "{installed:?}"
    );
    assert_eq!(installed.dns_names, vec![NAME.to_owned()]);
    assert!(
        installed.is_ec,
        "the default key is ECDSA P-256: {installed:?}"
    );
    assert_eq!(mode(&d.key()) & 0o777, 0o600);
    let account = std::fs::read_dir(d.path.join("acme"))
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("account-"))
        .expect("the account file is kept");
    assert_eq!(mode(&account.path()) & 0o777, 0o600);
    // The answers are removed once the order is done.
    let left = std::fs::read_dir(d.path.join("acme/http-01"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "challenge answers left behind");

    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        let served = served_cert(ports.get("https"));
        if let Some(f) = &served {
            if f.issuer.contains("Pebble Intermediate CA") && f.dns_names == [NAME] {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served: {served:?}\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A second order reuses the stored account (no second registration).
    d.run(&[
        "cert",
        "acme",
        "--directory",
        &pebble.directory,
        "--ca-bundle",
        &pebble.ca_bundle,
        "--name",
        NAME,
    ])
    .ok();
    let accounts = std::fs::read_dir(d.path.join("acme"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("account-"))
        .count();
    assert_eq!(accounts, 1);
}

#[test]
fn a_failed_challenge_keeps_the_old_certificate_then_a_temporary_listener_succeeds() {
    if !require_pebble() {
        return;
    }
    let (d, ports) = acme_dir();
    // Pebble validates on the configured http port, but this command
    // answers on another one (as when port 80 is forwarded elsewhere).
    let pebble = start_pebble(&d.scratch(), ports.get("http"), ports.get("https"));
    let elsewhere = format!("127.0.0.1:{}", free_ports(1)[0]);
    let before = d.snapshot();
    let run = d.run(&[
        "cert",
        "acme",
        "--directory",
        &pebble.directory,
        "--ca-bundle",
        &pebble.ca_bundle,
        "--name",
        NAME,
        "--http-listen",
        &elsewhere,
    ]);
    let run = run.failed();
    run.stderr_has("the installed one is unchanged");
    run.stderr_has("could not validate");
    run.stderr_has("port 80");
    let after = d.snapshot();
    let cert = Path::new("certs/main.crt.pem");
    assert!(before.contains_key(cert));
    assert_eq!(before.get(cert), after.get(cert));

    // Without --ca-bundle the CA's HTTPS certificate is not trusted.
    let run = d
        .run(&[
            "cert",
            "acme",
            "--directory",
            &pebble.directory,
            "--name",
            NAME,
        ])
        .failed();
    run.stderr_has("--ca-bundle");

    // With no server running, the command answers on the configured
    // `http` listener's address itself, and the order goes through.
    d.run(&[
        "cert",
        "acme",
        "--directory",
        &pebble.directory,
        "--ca-bundle",
        &pebble.ca_bundle,
        "--name",
        NAME,
    ])
    .ok();
    let installed = cert_facts(&read_bytes(&d.cert()));
    assert!(
        installed.issuer.contains("Pebble Intermediate CA"),
        "{installed:?}"
    );
}

#[test]
fn tls_alpn01_issues_on_a_temporary_listener_and_refuses_a_busy_port() {
    if !require_pebble() {
        return;
    }
    let (d, ports) = acme_dir();
    let tls_port = free_ports(1)[0];
    let pebble = start_pebble(&d.scratch(), ports.get("http"), tls_port);
    let acme = |tls_listen: &str| {
        d.run(&[
            "cert",
            "acme",
            "--directory",
            &pebble.directory,
            "--ca-bundle",
            &pebble.ca_bundle,
            "--name",
            NAME,
            "--challenge",
            "tls-alpn-01",
            "--tls-listen",
            tls_listen,
        ])
    };
    acme(&format!("127.0.0.1:{tls_port}")).ok();
    let installed = read_bytes(&d.cert());
    let facts = cert_facts(&installed);
    assert!(facts.issuer.contains("Pebble Intermediate CA"), "{facts:?}");
    assert_eq!(facts.dns_names, vec![NAME.to_owned()]);

    // A running server holds its HTTPS address: the command says so and
    // the installed certificate stays.
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    server.wait_for_port(ports.get("https"));
    let run = acme(&format!("127.0.0.1:{}", ports.get("https"))).failed();
    run.stderr_has("is in use");
    run.stderr_has("--challenge http-01");
    assert_eq!(read_bytes(&d.cert()), installed);
}
