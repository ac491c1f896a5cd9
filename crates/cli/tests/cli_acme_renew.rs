//! Renewal of the `[[acme]]` certificates against Pebble: the running
//! server replaces a self-signed certificate by itself and serves the new
//! one without a restart; `postern cert renew` leaves a fresh certificate
//! alone, `--force` replaces it under the running server; a renewal whose
//! challenge the CA cannot reach changes no byte.

mod common;
mod pebble;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use pebble::*;

/// The server's first renewal: an order with a few HTTP round trips and
/// Pebble's validation; generous for a busy debug build.
const RENEWAL_DEADLINE: Duration = Duration::from_secs(30);

/// Adds an `[[acme]]` section keeping the default certificate.
fn add_acme_section(d: &DataDir, pebble: &Pebble) {
    let mut text = read_string(&d.config());
    text.push_str(&format!(
        "\n[[acme]]\ncertificate = \"main\"\ndirectory = \"{}\"\nnames = [\"{NAME}\"]\ncontact = [\"mailto:postmaster@acme.test\"]\nca_bundle = \"{}\"\n",
        pebble.directory, pebble.ca_bundle
    ));
    std::fs::write(d.config(), text).unwrap();
}

/// The serial number of the first certificate in a PEM file or DER.
fn serial_of_der(der: &[u8]) -> Vec<u8> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("a certificate");
    cert.raw_serial().to_vec()
}

fn installed_leaf(d: &DataDir) -> Vec<u8> {
    cert_ders(&read_bytes(&d.cert())).remove(0)
}

/// Waits until the server presents `leaf` for NAME.
#[track_caller]
fn wait_served(https: u16, leaf: &[u8], server: &ServerProcess, deadline: Duration) {
    let until = Instant::now() + deadline;
    loop {
        let served = served_leaf(https);
        if served.as_deref() == Some(leaf) {
            return;
        }
        assert!(
            Instant::now() < until,
            "the installed certificate was not served within {deadline:?}\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn the_server_renews_a_self_signed_certificate_and_renew_keeps_or_forces() {
    if !require_pebble() || !require_openssl() {
        return;
    }
    let (d, ports) = acme_dir();
    let pebble = start_pebble(&d.scratch(), ports.get("http"), ports.get("https"));
    add_acme_section(&d, &pebble);
    let self_signed = installed_leaf(&d);
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    server.wait_for_port(ports.get("https"));

    // At start the renewal task sees a self-signed certificate, orders
    // one through the server's own port-80 listener, installs and serves it.
    let until = Instant::now() + RENEWAL_DEADLINE;
    let issued = loop {
        let served = served_cert(ports.get("https"));
        if let Some(f) = &served {
            if f.issuer.contains("Pebble Intermediate CA") && f.dns_names == [NAME] {
                break installed_leaf(&d);
            }
        }
        assert!(
            Instant::now() < until,
            "no Pebble certificate served within {RENEWAL_DEADLINE:?}: {served:?}\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_ne!(issued, self_signed);
    wait_served(ports.get("https"), &issued, &server, POLL_DEADLINE);
    assert_eq!(mode(&d.key()) & 0o777, 0o600);

    // A fresh certificate from this CA is not due: nothing changes.
    let before = d.snapshot();
    let run = d.run(&["cert", "renew"]).ok();
    run.stdout_has("\"main\": not due until");
    assert_eq!(
        before.get(Path::new("certs/main.crt.pem")),
        d.snapshot().get(Path::new("certs/main.crt.pem"))
    );

    // --force replaces it, through the running server's listener, and the
    // server serves the new one without a restart.
    let run = d.run(&["cert", "renew", "--force"]).ok();
    run.stdout_has("\"main\": renewed (renewal was forced)");
    run.stdout_has("Installed \"main\"");
    let forced = installed_leaf(&d);
    assert_ne!(serial_of_der(&forced), serial_of_der(&issued));
    wait_served(ports.get("https"), &forced, &server, POLL_DEADLINE);
    assert!(server.exited().is_none(), "{}", server.logs());
    let left = std::fs::read_dir(d.path.join("acme/http-01"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "challenge answers left behind");

    // The renewal task, waiting for its next check, does not hold up a
    // shutdown: no task outlives the grace period.
    server.sigterm();
    let status = server.wait_exit(Duration::from_secs(15));
    let logs = server.logs();
    assert!(status.is_some(), "the server did not stop\n{logs}");
    assert!(!logs.contains("after the grace period"), "{logs}");
}

#[test]
fn a_renewal_the_ca_cannot_validate_changes_nothing() {
    if !require_pebble() {
        return;
    }
    let (d, ports) = acme_dir();
    // Pebble validates http-01 on a port nobody answers, as when port 80
    // is forwarded elsewhere; the command's own self-check still passes.
    let nowhere = free_ports(1)[0];
    let pebble = start_pebble(&d.scratch(), nowhere, ports.get("https"));
    add_acme_section(&d, &pebble);
    let before = d.snapshot();
    let run = d.run(&["cert", "renew"]).failed();
    run.stderr_has("\"main\"");
    run.stderr_has("could not validate");
    run.stderr_has("the installed one is unchanged");
    let after = d.snapshot();
    for f in ["certs/main.crt.pem", "certs/main.key.pem"] {
        let f = Path::new(f);
        assert!(before.contains_key(f), "{f:?}");
        assert_eq!(before.get(f), after.get(f), "{f:?} changed");
    }
    // The same with --force on the certificate named explicitly.
    d.run(&["cert", "renew", "--certificate", "main", "--force"])
        .failed();
    assert_eq!(
        read_bytes(&d.cert()),
        before[Path::new("certs/main.crt.pem")]
    );
}

#[test]
fn renew_without_a_section_says_what_to_add() {
    let (d, _ports) = acme_dir();
    let run = d.run(&["cert", "renew"]).failed();
    run.stderr_has("has no [[acme]] section");
    let run = d.run(&["cert", "renew", "--certificate", "other"]).failed();
    run.stderr_has("no [[acme]] section");
    run.stderr_has("\"other\"");
}
