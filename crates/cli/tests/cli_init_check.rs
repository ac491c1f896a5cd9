//! `postern init` and `postern check`, run as an administrator runs them.

mod common;

use common::{cert_facts, line_number, read_bytes, read_string, replace_line, DataDir, LISTENERS};

const TLS_LISTENERS: [&str; 8] = [
    "smtp",
    "submission",
    "submissions",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
    "https",
];

fn init_example() -> DataDir {
    DataDir::init(&[
        "--hostname",
        "mail.example.test",
        "--domain",
        "example.test",
    ])
}

/// `init` writes a commented configuration with every listener and a
/// self-signed certificate for the host name, with private permissions.
#[test]
fn init_writes_a_commented_config_and_a_private_certificate() {
    let d = DataDir::empty();
    let run = d
        .run(&[
            "init",
            "--hostname",
            "mail.example.test",
            "--domain",
            "example.test",
        ])
        .ok();
    run.stdout_has("Created");
    run.stdout_has("postern check");

    let text = read_string(&d.config());
    let comments = text
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .count();
    assert!(
        comments >= 20,
        "postern.toml should explain itself; only {comments} comment lines:\n{text}"
    );
    assert!(text.contains("hostname = \"mail.example.test\""), "{text}");
    assert!(text.contains("domains = [\"example.test\"]"), "{text}");
    for name in LISTENERS {
        assert!(
            text.contains(&format!("name = \"{name}\"")),
            "listener {name} missing from postern.toml:\n{text}"
        );
    }
    assert_eq!(
        text.matches("[[listener]]").count(),
        LISTENERS.len(),
        "{text}"
    );
    // Not --dev-ports: the standard ports on every address.
    assert!(text.contains("\"0.0.0.0:993\""), "{text}");
    assert!(text.contains("\"[::]:993\""), "{text}");
    assert!(text.contains("cert = \"certs/main.crt.pem\""), "{text}");
    assert!(text.contains("key = \"certs/main.key.pem\""), "{text}");

    let facts = cert_facts(&read_bytes(&d.cert()));
    assert_eq!(facts.dns_names, vec!["mail.example.test".to_owned()]);
    assert!(facts.is_ec, "default key should be ECDSA: {facts:?}");
    let key = read_string(&d.key());
    assert!(key.contains("PRIVATE KEY-----"), "not a PEM key: {key}");

    #[cfg(unix)]
    {
        use common::mode;
        assert_eq!(mode(&d.key()), 0o600, "key file mode");
        assert_eq!(mode(&d.path), 0o700, "data directory mode");
        assert_eq!(mode(&d.path.join("certs")), 0o700, "certs directory mode");
    }
}

/// `init --dev-ports` binds loopback only, on the documented dev ports, and
/// its certificate also names localhost and 127.0.0.1.
#[test]
fn init_dev_ports_binds_loopback_dev_ports() {
    let d = DataDir::init(&[
        "--dev-ports",
        "--hostname",
        "mail.example.test",
        "--domain",
        "example.test",
    ]);
    let text = read_string(&d.config());
    for (name, port) in common::DEV_PORTS {
        assert!(
            text.contains(&format!("\"127.0.0.1:{port}\"")),
            "listener {name}: no 127.0.0.1:{port} in\n{text}"
        );
    }
    assert!(!text.contains("0.0.0.0"), "dev ports must be loopback only");
    let facts = cert_facts(&read_bytes(&d.cert()));
    assert!(
        facts.dns_names.iter().any(|n| n == "mail.example.test")
            && facts.dns_names.iter().any(|n| n == "localhost"),
        "{facts:?}"
    );
    assert!(!facts.ip_addresses.is_empty(), "{facts:?}");
}

/// A second `init` refuses to overwrite, says why, and changes nothing.
#[test]
fn second_init_refuses_to_overwrite() {
    let d = init_example();
    let before = d.snapshot();
    let run = d
        .run(&[
            "init",
            "--hostname",
            "other.example.test",
            "--domain",
            "other.test",
        ])
        .failed();
    run.stderr_has(&d.config().display().to_string());
    run.stderr_has("exists already");
    common::assert_unchanged(&before, &d.snapshot(), "second init");
}

/// `check` accepts a fresh directory and prints each TLS listener's offer.
#[test]
fn check_accepts_a_fresh_directory_and_prints_the_tls_offer() {
    let d = init_example();
    let run = d.run(&["check"]).ok();
    run.stdout_has("configuration valid");
    run.stdout_has("certificate \"main\":");
    run.stdout_has("covers mail.example.test");
    run.stdout_has("private key matches the certificate");
    for name in TLS_LISTENERS {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("listener \"{name}\": ")))
            .unwrap_or_else(|| panic!("no TLS offer for {name}: {}", run.describe()));
        let versions = line
            .split_once("versions [")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(v, _)| v)
            .unwrap_or_else(|| panic!("no versions in {line}"));
        assert_eq!(versions, "1.3, 1.2", "TLS 1.2 and 1.3 only: {line}");
        assert!(line.contains("suites [TLS13_"), "{line}");
        assert!(line.contains("X25519MLKEM768"), "{line}");
        assert!(line.contains("client certificates none"), "{line}");
    }
    let imaps = run
        .stdout
        .lines()
        .find(|l| l.starts_with("listener \"imaps\": "))
        .unwrap_or_default();
    assert!(imaps.contains("alpn [imap]"), "imaps ALPN: {imaps}");
    // Plain listeners have no TLS offer to print.
    for name in ["http", "metrics"] {
        assert!(
            !run.stdout.contains(&format!("listener \"{name}\": ")),
            "{}",
            run.describe()
        );
    }
}

/// A misspelled TLS mode is reported with the file, the line, the
/// listener, the bad value and the accepted ones.
#[test]
fn check_reports_a_misspelled_tls_mode_with_its_line() {
    let d = init_example();
    let text = read_string(&d.config());
    let section = line_number(&text, 1, "name = \"imaps\"").expect("imaps section");
    let line = line_number(&text, section, "tls = \"implicit\"").expect("imaps tls line");
    std::fs::write(d.config(), replace_line(&text, line, "tls = \"implict\"")).unwrap();

    let run = d.run(&["check"]).failed();
    let expected = format!(
        "{}:{line}: listener \"imaps\": tls = \"implict\": expected one of none, starttls, implicit",
        d.config().display()
    );
    run.stderr_has(&expected);
}

/// An unknown key is reported with its line.
#[test]
fn check_reports_an_unknown_key_with_its_line() {
    let d = init_example();
    let text = read_string(&d.config());
    let host = line_number(&text, 1, "hostname = \"mail.example.test\"").expect("hostname line");
    let edited = replace_line(
        &text,
        host,
        "hostname = \"mail.example.test\"\ncolour = \"blue\"",
    );
    std::fs::write(d.config(), edited).unwrap();

    let run = d.run(&["check"]).failed();
    let prefix = format!("{}:{}:", d.config().display(), host + 1);
    run.stderr_has(&prefix);
    run.stderr_has("colour");
    assert!(
        run.stderr.contains("unknown"),
        "the message should say the key is unknown: {}",
        run.describe()
    );
}

/// `check` without a configuration says how to make one.
#[test]
fn check_without_a_configuration_says_how_to_create_one() {
    let d = DataDir::empty();
    let run = d.run(&["check"]).failed();
    run.stderr_has("no configuration here");
    run.stderr_has("postern init");
}
