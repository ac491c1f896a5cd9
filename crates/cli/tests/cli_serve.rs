//! `postern serve` as a child process: real TLS clients (openssl s_client),
//! a certificate hot-swapped under a running server, SIGTERM, and the
//! refusals to start.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{
    dev_dir, require_openssl, s_client, DataDir, OpensslCa, SClient, ServerProcess, POLL_DEADLINE,
};

const SESSION: Duration = Duration::from_secs(10);
const LOGOUT: &[u8] = b"a LOGOUT\r\n";

#[track_caller]
fn assert_session(s: &SClient, server: &ServerProcess, what: &str) {
    assert!(s.success(), "{what}: {}\n{}", s.describe(), server.logs());
}

/// The "done when" flow: serve, connect with a verifying TLS client, replace
/// the certificate with one from an OpenSSL CA while the server runs, see the
/// new one served without a restart, check the TLS versions, then SIGTERM.
#[test]
fn serve_hot_swaps_a_ca_certificate_and_stops_on_sigterm() {
    if !require_openssl() {
        return;
    }
    let (d, ports) = dev_dir();
    let imaps = ports.get("imaps");
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    let pid = server.pid();
    server.wait_for_port(imaps);

    // 1. The self-signed certificate of `init`, verified by openssl. A copy:
    // the import below replaces the file.
    let self_signed_copy = d.scratch().join("self-signed.pem");
    std::fs::copy(d.cert(), &self_signed_copy).unwrap();
    let self_signed = self_signed_copy.display().to_string();
    let s = s_client(
        imaps,
        &[
            "-CAfile",
            &self_signed,
            "-verify_return_error",
            "-alpn",
            "imap",
            "-brief",
        ],
        LOGOUT,
        SESSION,
    );
    assert_session(
        &s,
        &server,
        "first handshake with the self-signed certificate",
    );
    assert!(s.stderr.contains("Verification: OK"), "{}", s.describe());
    assert!(
        s.stdout.lines().any(|l| l.starts_with("* OK")),
        "no IMAP greeting: {}",
        s.describe()
    );
    assert!(
        s.stdout.contains("* BYE") && s.stdout.contains("a OK"),
        "LOGOUT not answered: {}",
        s.describe()
    );

    // 2. A certificate from a real OpenSSL CA, imported while serving.
    let ca = OpensslCa::new(&d.scratch().join("ca"), "Test CA");
    let csr_run = d
        .run(&[
            "cert",
            "request",
            "--name",
            "localhost",
            "--org",
            "Example",
            "--country",
            "GB",
        ])
        .ok();
    let csr = d.scratch().join("localhost.csr");
    std::fs::write(&csr, &csr_run.stdout).unwrap();
    let signed = ca.sign(&csr, &["localhost"], 30, "localhost.pem");
    d.run(&[
        "cert",
        "import",
        &signed.display().to_string(),
        "--chain",
        &ca.cert.display().to_string(),
    ])
    .ok();

    // 3. Within 10 s the server presents it: openssl verifies it against the
    // CA (the self-signed one never would).
    let ca_file = ca.cert.display().to_string();
    let verify_ca = [
        "-CAfile",
        ca_file.as_str(),
        "-verify_return_error",
        "-verify_hostname",
        "localhost",
        "-alpn",
        "imap",
        "-brief",
    ];
    let deadline = Instant::now() + POLL_DEADLINE;
    let swapped = loop {
        let s = s_client(imaps, &verify_ca, LOGOUT, SESSION);
        if s.success() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served within {POLL_DEADLINE:?}; last attempt: {}\n{}",
            s.describe(),
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        swapped.stderr.contains("Verification: OK"),
        "{}",
        swapped.describe()
    );
    assert!(
        swapped.stdout.lines().any(|l| l.starts_with("* OK")),
        "{}",
        swapped.describe()
    );
    assert!(
        server.exited().is_none(),
        "the server stopped during the swap\n{}",
        server.logs()
    );
    assert_eq!(server.pid(), pid, "not the same process");
    // The old trust anchor no longer verifies what is served.
    let old = s_client(
        imaps,
        &[
            "-CAfile",
            &self_signed,
            "-verify_return_error",
            "-alpn",
            "imap",
            "-brief",
        ],
        LOGOUT,
        SESSION,
    );
    assert!(
        !old.success(),
        "the old certificate is still served: {}",
        old.describe()
    );

    // 4. TLS 1.2 and 1.3 accepted, TLS 1.1 refused.
    for (flag, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let mut args = vec![flag];
        args.extend_from_slice(&verify_ca);
        let s = s_client(imaps, &args, LOGOUT, SESSION);
        assert_session(&s, &server, flag);
        assert!(
            s.stderr.contains(&format!("Protocol version: {name}")),
            "{flag}: {}",
            s.describe()
        );
    }
    let old_tls = s_client(
        imaps,
        &[
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-CAfile",
            &ca_file,
            "-brief",
        ],
        LOGOUT,
        SESSION,
    );
    assert!(
        !old_tls.success() && !old_tls.stdout.contains("* OK"),
        "TLS 1.1 was accepted: {}",
        old_tls.describe()
    );
    // Refused by the server (an alert received from it; rustls sends
    // handshake_failure, 40), not by the client failing to build a TLS 1.1
    // ClientHello. An openssl built without TLS 1.1 cannot make this check.
    if old_tls.stderr.contains("no protocols available") {
        eprintln!(
            "note: this openssl cannot offer TLS 1.1; the refusal was not checked: {}",
            old_tls.describe()
        );
    } else {
        assert!(
            old_tls.stderr.contains("SSL alert number"),
            "TLS 1.1 should be refused by the server with an alert: {}",
            old_tls.describe()
        );
    }
    assert!(server.exited().is_none(), "{}", server.logs());

    // 5. SIGTERM: a clean stop, exit 0, within 15 s.
    server.sigterm();
    let status = server.wait_exit(Duration::from_secs(15));
    let Some(status) = status else {
        panic!(
            "postern serve did not stop within 15 s of SIGTERM\n{}",
            server.logs()
        );
    };
    assert!(
        status.success(),
        "exit after SIGTERM: {status}\n{}",
        server.logs()
    );
}

/// The plain IMAP port upgrades with STARTTLS to the same certificate.
#[test]
fn serve_upgrades_imap_with_starttls() {
    if !require_openssl() {
        return;
    }
    let (d, ports) = dev_dir();
    let imap = ports.get("imap");
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    server.wait_for_port(imap);
    let cert = d.cert().display().to_string();
    let s = s_client(
        imap,
        &[
            "-starttls",
            "imap",
            "-CAfile",
            &cert,
            "-verify_return_error",
            "-brief",
        ],
        LOGOUT,
        SESSION,
    );
    assert_session(&s, &server, "STARTTLS on the imap port");
    assert!(s.stderr.contains("Verification: OK"), "{}", s.describe());
    assert!(s.stdout.contains("* BYE"), "{}", s.describe());
}

/// A taken port stops the start with a message naming the listener.
#[test]
fn serve_refuses_to_start_when_a_port_is_taken() {
    let (d, ports) = dev_dir();
    let imaps = ports.get("imaps");
    let _taken = TcpListener::bind((Ipv4Addr::LOCALHOST, imaps)).expect("taking the imaps port");
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    let Some(status) = server.wait_exit(POLL_DEADLINE) else {
        panic!(
            "postern serve started although port {imaps} is taken\n{}",
            server.logs()
        );
    };
    assert!(
        matches!(status.code(), Some(c) if c != 0),
        "exit {status}\n{}",
        server.logs()
    );
    let logs = server.logs();
    assert!(logs.contains("listener \"imaps\""), "{logs}");
    assert!(logs.contains(&format!("127.0.0.1:{imaps}")), "{logs}");
    assert!(logs.contains("port is taken"), "{logs}");
}

/// Starts `serve` on a broken installation and returns its logs after it
/// exits non-zero (panics if it keeps running).
#[track_caller]
fn serve_must_fail(d: &DataDir) -> String {
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    let Some(status) = server.wait_exit(POLL_DEADLINE) else {
        panic!(
            "postern serve started on a broken installation\n{}",
            server.logs()
        );
    };
    let logs = server.logs();
    assert!(
        matches!(status.code(), Some(c) if c != 0),
        "exit {status}\n{logs}"
    );
    logs
}

/// A missing certificate file stops the start, naming the certificate.
#[test]
fn serve_refuses_to_start_without_its_certificate_file() {
    let (d, _ports) = dev_dir();
    std::fs::remove_file(d.cert()).unwrap();
    let logs = serve_must_fail(&d);
    assert!(logs.contains("certificate \"main\""), "{logs}");
    assert!(logs.contains("main.crt.pem"), "{logs}");
    // `check` finds the same problem.
    let check = d.run(&["check"]).failed();
    check.stdout_has("main.crt.pem");
}

/// A key that does not belong to the certificate stops the start.
#[test]
fn serve_refuses_to_start_when_the_key_does_not_match() {
    let (d, _ports) = dev_dir();
    let other = rcgen::KeyPair::generate().expect("a new key");
    std::fs::write(d.key(), other.serialize_pem()).unwrap();
    let logs = serve_must_fail(&d);
    assert!(logs.contains("certificate \"main\""), "{logs}");
    assert!(logs.contains("does not belong"), "{logs}");
    let check = d.run(&["check"]).failed();
    check.stdout_has("private key does not belong to the certificate");
}

/// A plain HTTP/1.1 request on 127.0.0.1:`port`; the whole answer.
fn http_get(port: u16, path: &str) -> String {
    let mut conn = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connecting");
    conn.set_read_timeout(Some(SESSION)).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// ALPN on implicit TLS (ALPACA): a client asking for another protocol is
/// refused; HTTPS answers HTTP/1.1; plain HTTP only redirects to the
/// configured HTTPS port; metrics answer on loopback.
#[test]
fn serve_checks_alpn_and_serves_the_web_listeners() {
    if !require_openssl() {
        return;
    }
    let (d, ports) = dev_dir();
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    for l in ["imaps", "https", "http", "metrics"] {
        server.wait_for_port(ports.get(l));
    }
    let cert = d.cert().display().to_string();

    let foreign = s_client(
        ports.get("imaps"),
        &["-alpn", "smtp", "-CAfile", &cert, "-brief"],
        LOGOUT,
        SESSION,
    );
    assert!(
        !foreign.success() && !foreign.stdout.contains("* OK"),
        "imaps accepted ALPN smtp: {}",
        foreign.describe()
    );
    assert!(
        foreign.stderr.contains("no application protocol"),
        "{}",
        foreign.describe()
    );

    let https = s_client(
        ports.get("https"),
        &[
            "-alpn",
            "http/1.1",
            "-CAfile",
            &cert,
            "-verify_return_error",
        ],
        b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        SESSION,
    );
    assert_session(&https, &server, "HTTPS with ALPN http/1.1");
    assert!(
        https.stdout.contains("ALPN protocol: http/1.1"),
        "{}",
        https.describe()
    );
    assert!(
        https.stdout.contains("HTTP/1.1 200"),
        "{}",
        https.describe()
    );
    assert!(
        https.stdout.contains("Strict-Transport-Security:"),
        "{}",
        https.describe()
    );

    let redirect = http_get(ports.get("http"), "/some/path?x=1");
    assert!(
        redirect.starts_with("HTTP/1.1 301") || redirect.starts_with("HTTP/1.1 308"),
        "{redirect}"
    );
    let location = format!(
        "Location: https://127.0.0.1:{}/some/path?x=1",
        ports.get("https")
    );
    assert!(
        redirect.contains(&location),
        "expected {location:?} in\n{redirect}"
    );

    let metrics = http_get(ports.get("metrics"), "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains("postern_certificate_days_left{certificate=\"main\"}"),
        "{metrics}"
    );
    assert!(server.exited().is_none(), "{}", server.logs());
}

/// A client offering h2 first (curl, browsers) must get the protocol the
/// server speaks. Today the https listener accepts h2 in ALPN and then
/// answers in HTTP/1.1, so `curl https://...` fails with "Send failure:
/// Broken pipe".
#[test]
fn serve_https_speaks_the_negotiated_alpn_protocol() {
    if !require_openssl() {
        return;
    }
    let (d, ports) = dev_dir();
    let mut server = ServerProcess::start(&d.path, &d.scratch());
    server.wait_for_port(ports.get("https"));
    let cert = d.cert().display().to_string();
    let s = s_client(
        ports.get("https"),
        &[
            "-alpn",
            "h2,http/1.1",
            "-CAfile",
            &cert,
            "-verify_return_error",
        ],
        b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        SESSION,
    );
    let negotiated_h2 = s.stdout.contains("ALPN protocol: h2");
    let spoke_http1 = s.stdout.contains("HTTP/1.1 200");
    assert!(
        !(negotiated_h2 && spoke_http1),
        "ALPN h2 negotiated, but the server answered in HTTP/1.1: {}",
        s.describe()
    );
    assert!(
        s.stdout.contains("ALPN protocol: http/1.1") && spoke_http1,
        "{}",
        s.describe()
    );
}
