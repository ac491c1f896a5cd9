//! `postern cert acme` against Pebble, the ACME test CA (RFC 8555): a real
//! account, order, http-01 validation over the port-80 listener, CSR and
//! chain download, then the certificate served by a running server.
//! pebble-challtestsrv is only Pebble's DNS: every name resolves to
//! 127.0.0.1, and Pebble's validation requests go to Postern's listener.

mod common;
mod pebble;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use pebble::*;

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
