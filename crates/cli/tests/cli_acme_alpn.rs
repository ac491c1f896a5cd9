//! tls-alpn-01 (RFC 8737) answered by the running server's own HTTPS
//! listener, against Pebble: the renewal task obtains a certificate of the
//! configured key type while port 80 is unreachable for the CA, and an
//! ordinary client offering `acme-tls/1` without a pending challenge is
//! refused, while ordinary HTTPS keeps working. Two sections keep an
//! ECDSA and an RSA certificate for the same name, and each client gets
//! the one its signature algorithms accept.

mod common;
mod pebble;

use std::time::{Duration, Instant};

use common::*;
use pebble::*;

/// The server's first order: a few HTTP round trips, Pebble's validation,
/// and for RSA a key generation; generous for a busy debug build.
const RENEWAL_DEADLINE: Duration = Duration::from_secs(45);

/// Adds an `[[acme]]` section answering tls-alpn-01 with a `key` type.
fn add_acme_section(d: &DataDir, pebble: &Pebble, key: &str) {
    let mut text = read_string(&d.config());
    text.push_str(&format!(
        "\n[[acme]]\ncertificate = \"main\"\ndirectory = \"{}\"\nnames = [\"{NAME}\"]\nchallenge = \"tls-alpn-01\"\nkey = \"{key}\"\nca_bundle = \"{}\"\n",
        pebble.directory, pebble.ca_bundle
    ));
    std::fs::write(d.config(), text).unwrap();
}

/// Starts a server whose renewal task must obtain a Pebble certificate by
/// tls-alpn-01 alone (Pebble's http-01 port leads nowhere); returns what
/// it serves once it does.
fn issued_through_the_server(key: &str) -> (DataDir, Ports, ServerProcess, Pebble, CertFacts) {
    let (d, ports) = acme_dir();
    let nowhere = free_ports(1)[0];
    let pebble = start_pebble(&d.scratch(), nowhere, ports.get("https"));
    add_acme_section(&d, &pebble, key);
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    server.wait_for_port(ports.get("https"));
    let until = Instant::now() + RENEWAL_DEADLINE;
    let facts = loop {
        let served = served_cert(ports.get("https"));
        match served {
            Some(f) if f.issuer.contains("Pebble Intermediate CA") && f.dns_names == [NAME] => {
                break f
            }
            _ => {}
        }
        assert!(
            Instant::now() < until,
            "no Pebble certificate served within {RENEWAL_DEADLINE:?}: {served:?}\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        server.logs().contains("answered a tls-alpn-01 validation"),
        "{}",
        server.logs()
    );
    (d, ports, server, pebble, facts)
}

#[test]
fn the_server_answers_tls_alpn01_itself_with_a_p384_key() {
    if !require_pebble() || !require_openssl() {
        return;
    }
    let (d, ports, mut server, _pebble, facts) = issued_through_the_server("ecdsa-p384");
    assert!(facts.is_ec && facts.key_bits == 384, "{facts:?}");
    let installed = cert_facts(&read_bytes(&d.cert()));
    assert_eq!(installed.key_bits, 384, "{installed:?}");
    assert_eq!(mode(&d.key()) & 0o777, 0o600);

    // No challenge pending now: a client offering only acme-tls/1 gets no
    // handshake (the protocol is never agreed outside a validation) ...
    let https = ports.get("https");
    let s = s_client(
        https,
        &["-servername", NAME, "-alpn", "acme-tls/1"],
        b"",
        Duration::from_secs(5),
    );
    // (rustls picks the certificate before the protocol: access_denied.)
    assert!(
        !s.stdout.contains("ALPN protocol: acme-tls/1") && s.stderr.contains("alert access denied"),
        "{}",
        s.describe()
    );
    // ... nor one offering it beside a protocol HTTPS does not speak.
    let s = s_client(
        https,
        &["-servername", NAME, "-alpn", "acme-tls/1,imap"],
        b"",
        Duration::from_secs(5),
    );
    // (rustls picks the certificate before the protocol: access_denied.)
    assert!(
        !s.stdout.contains("ALPN protocol: acme-tls/1") && s.stderr.contains("alert access denied"),
        "{}",
        s.describe()
    );
    // With http/1.1 beside it, http/1.1 is agreed and the page served.
    let s = s_client(
        https,
        &[
            "-servername",
            NAME,
            "-alpn",
            "acme-tls/1,http/1.1",
            "-ign_eof",
        ],
        b"GET / HTTP/1.1\r\nHost: mail.acme.test\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        s.stdout.contains("ALPN protocol: http/1.1") && s.stdout.contains("HTTP/1.1 "),
        "{}",
        s.describe()
    );
    // Strict ALPN is unchanged on the mail listeners: acme-tls/1 to IMAPS
    // is the wrong service.
    let s = s_client(
        ports.get("imaps"),
        &["-servername", NAME, "-alpn", "acme-tls/1"],
        b"",
        Duration::from_secs(5),
    );
    assert!(
        s.stderr.contains("no application protocol"),
        "{}",
        s.describe()
    );
    assert!(server.exited().is_none(), "{}", server.logs());
}

#[test]
fn the_server_obtains_an_rsa_certificate_by_tls_alpn01() {
    if !require_pebble() || !require_openssl() {
        return;
    }
    let (_d, _ports, mut server, _pebble, facts) = issued_through_the_server("rsa2048");
    assert!(facts.is_rsa && facts.key_bits == 2048, "{facts:?}");
    assert!(server.exited().is_none(), "{}", server.logs());
}

/// What `openssl s_client` is shown for NAME when it accepts only the
/// signature algorithms `sigalgs`.
fn served_to(https: u16, sigalgs: &str) -> Option<CertFacts> {
    let s = s_client(
        https,
        &["-servername", NAME, "-sigalgs", sigalgs, "-showcerts"],
        b"",
        Duration::from_secs(5),
    );
    let start = s.stdout.find("-----BEGIN CERTIFICATE-----")?;
    Some(cert_facts(&s.stdout.as_bytes()[start..]))
}

fn from_pebble(f: Option<&CertFacts>) -> bool {
    f.is_some_and(|f| f.issuer.contains("Pebble Intermediate CA") && f.dns_names == [NAME])
}

#[test]
fn an_ecdsa_and_an_rsa_certificate_for_one_name_each_go_to_their_clients() {
    if !require_pebble() || !require_openssl() {
        return;
    }
    let (d, ports) = acme_dir();
    let nowhere = free_ports(1)[0];
    let pebble = start_pebble(&d.scratch(), nowhere, ports.get("https"));
    // A second [[certificate]] for the RSA twin, first self-signed.
    let mut text = read_string(&d.config());
    text.push_str(
        "\n[[certificate]]\nname = \"rsa\"\ncert = \"certs/rsa.crt.pem\"\nkey = \"certs/rsa.key.pem\"\n",
    );
    std::fs::write(d.config(), text).unwrap();
    d.run(&[
        "cert",
        "self-signed",
        "--name",
        NAME,
        "--key",
        "rsa2048",
        "--cert-name",
        "rsa",
    ])
    .ok();
    add_acme_section(&d, &pebble, "ecdsa-p256");
    let mut text = read_string(&d.config());
    text.push_str(&format!(
        "\n[[acme]]\ncertificate = \"rsa\"\ndirectory = \"{}\"\nnames = [\"{NAME}\"]\nchallenge = \"tls-alpn-01\"\nkey = \"rsa2048\"\nca_bundle = \"{}\"\n",
        pebble.directory, pebble.ca_bundle
    ));
    std::fs::write(d.config(), text).unwrap();
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    let https = ports.get("https");
    server.wait_for_port(https);

    // Both orders run at once; they take turns at the listener.
    let ecdsa_only = "ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384";
    let rsa_only = "rsa_pss_rsae_sha256:rsa_pkcs1_sha256";
    let until = Instant::now() + RENEWAL_DEADLINE * 2;
    loop {
        let (ec, rsa) = (served_to(https, ecdsa_only), served_to(https, rsa_only));
        if from_pebble(ec.as_ref()) && from_pebble(rsa.as_ref()) {
            let (ec, rsa) = (ec.unwrap(), rsa.unwrap());
            assert!(ec.is_ec && !ec.is_rsa, "{ec:?}");
            assert!(rsa.is_rsa && rsa.key_bits == 2048, "{rsa:?}");
            break;
        }
        assert!(
            Instant::now() < until,
            "not both Pebble certificates served: {ec:?} {rsa:?}\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // A client that accepts both gets the ECDSA one (smaller, faster).
    let both = served_cert(https).expect("a certificate");
    assert!(both.is_ec, "{both:?}");
    assert!(server.exited().is_none(), "{}", server.logs());
}
