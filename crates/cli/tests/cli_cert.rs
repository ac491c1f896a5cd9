//! `postern cert`: self-signed certificates, and the CA workflow (request,
//! sign with a real OpenSSL CA, import PEM or PKCS#12, show, check).

mod common;

use std::path::{Path, PathBuf};

use common::{
    assert_unchanged, cert_ders, cert_facts, openssl, read_bytes, read_string, require_openssl,
    DataDir, OpensslCa,
};

const HOST: &str = "mail.example.test";

fn init_example() -> DataDir {
    DataDir::init(&["--hostname", HOST, "--domain", "example.test"])
}

/// `cert self-signed` replaces the certificate with one for the given name,
/// which openssl accepts as its own trust anchor.
#[test]
fn self_signed_replaces_the_certificate() {
    let d = init_example();
    let old_cert = read_bytes(&d.cert());
    let old_key = read_bytes(&d.key());
    let run = d
        .run(&[
            "cert",
            "self-signed",
            "--name",
            HOST,
            "--name",
            "imap.example.test",
        ])
        .ok();
    run.stdout_has("Installed a self-signed certificate as \"main\"");
    assert_ne!(read_bytes(&d.cert()), old_cert, "certificate not replaced");
    assert_ne!(read_bytes(&d.key()), old_key, "key not replaced");
    let facts = cert_facts(&read_bytes(&d.cert()));
    assert_eq!(
        facts.dns_names,
        vec![HOST.to_owned(), "imap.example.test".to_owned()]
    );
    assert!(facts.is_ec && facts.key_bits == 256, "{facts:?}");
    #[cfg(unix)]
    assert_eq!(common::mode(&d.key()), 0o600, "key file mode");
    // Still a valid installation.
    d.run(&["check"]).ok();

    if !require_openssl() {
        return;
    }
    let certs = d.path.join("certs");
    let verify = openssl(
        &certs,
        &["verify", "-CAfile", "main.crt.pem", "main.crt.pem"],
    )
    .ok();
    verify.stdout_has("main.crt.pem: OK");
    let text = openssl(&certs, &["x509", "-in", "main.crt.pem", "-noout", "-text"]).ok();
    text.stdout_has("DNS:mail.example.test");
    text.stdout_has("DNS:imap.example.test");
    text.stdout_has("prime256v1");
    // The key on disk is the certificate's key.
    let cert_pub = openssl(
        &certs,
        &["x509", "-in", "main.crt.pem", "-noout", "-pubkey"],
    )
    .ok();
    let key_pub = openssl(&certs, &["pkey", "-in", "main.key.pem", "-pubout"]).ok();
    assert_eq!(
        cert_pub.stdout, key_pub.stdout,
        "key does not match certificate"
    );
}

/// `--key rsa2048` gives an RSA key of 2048 bits.
#[test]
fn self_signed_with_an_rsa_key() {
    let d = init_example();
    d.run(&[
        "cert",
        "self-signed",
        "--name",
        HOST,
        "--key",
        "rsa2048",
        "--days",
        "90",
    ])
    .ok();
    let facts = cert_facts(&read_bytes(&d.cert()));
    assert!(facts.is_rsa, "{facts:?}");
    assert_eq!(facts.key_bits, 2048, "{facts:?}");
    let days = (facts.not_after - now_unix()) / 86_400;
    assert!((88..=90).contains(&days), "--days 90 gave {days} days");
    d.run(&["cert", "check"]).exits_with_warnings_only();

    if !require_openssl() {
        return;
    }
    let certs = d.path.join("certs");
    let text = openssl(&certs, &["x509", "-in", "main.crt.pem", "-noout", "-text"]).ok();
    text.stdout_has("rsaEncryption");
    text.stdout_has("(2048 bit)");
    text.stdout_has("DNS:mail.example.test");
    let key = openssl(&certs, &["pkey", "-in", "main.key.pem", "-noout", "-text"]).ok();
    key.stdout_has("Private-Key: (2048 bit");
}

/// An unknown key type is refused by the argument parser with the choices.
#[test]
fn self_signed_refuses_an_unknown_key_type() {
    let d = init_example();
    let before = d.snapshot();
    let run = d
        .run(&["cert", "self-signed", "--name", HOST, "--key", "dsa1024"])
        .failed();
    run.stderr_has("dsa1024");
    assert_unchanged(&before, &d.snapshot(), "self-signed --key dsa1024");
}

trait CheckCode {
    fn exits_with_warnings_only(self) -> Self;
}

impl CheckCode for common::Run {
    /// `cert check` on a self-signed certificate: 3 (warnings only).
    #[track_caller]
    fn exits_with_warnings_only(self) -> Self {
        assert_eq!(
            self.code(),
            Some(3),
            "a self-signed certificate should be a warning (exit 3): {}",
            self.describe()
        );
        self.stdout_has("self-signed");
        self
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `postern cert request` for `name`; returns the CSR path (from stdout).
#[track_caller]
fn request(d: &DataDir, name: &str) -> PathBuf {
    let run = d
        .run(&[
            "cert",
            "request",
            "--name",
            name,
            "--org",
            "Example",
            "--country",
            "GB",
        ])
        .ok();
    assert!(
        run.stdout
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "stdout should be the CSR: {}",
        run.describe()
    );
    assert!(
        run.stdout
            .trim_end()
            .ends_with("-----END CERTIFICATE REQUEST-----"),
        "stdout should be only the CSR: {}",
        run.describe()
    );
    run.stderr_has("mode 0600");
    let csr = d.scratch().join(format!("{name}.csr"));
    std::fs::write(&csr, &run.stdout).unwrap();
    csr
}

/// A data directory for mail.example.test with a pending request, and an
/// openssl CA beside it.
fn ca_setup() -> (DataDir, OpensslCa, PathBuf) {
    let d = init_example();
    let ca = OpensslCa::new(&d.scratch().join("ca"), "Test CA");
    let csr = request(&d, HOST);
    (d, ca, csr)
}

/// The whole CA workflow with a real OpenSSL CA.
#[test]
fn ca_workflow_request_sign_import_show_check() {
    if !require_openssl() {
        return;
    }
    let (d, ca, csr) = ca_setup();

    // The CSR is what openssl expects: a valid signature, our subject.
    let req = openssl(
        &ca.dir,
        &[
            "req",
            "-in",
            &csr.display().to_string(),
            "-noout",
            "-verify",
            "-subject",
        ],
    )
    .ok();
    assert!(
        req.stdout.contains("CN = mail.example.test")
            && req.stdout.contains("O = Example")
            && req.stdout.contains("C = GB"),
        "{}",
        req.describe()
    );
    assert!(
        (req.stdout.clone() + &req.stderr).contains("verify OK")
            || (req.stdout.clone() + &req.stderr).contains("self-signature ok"),
        "{}",
        req.describe()
    );
    // The pending key, private to its owner.
    let pending = d.pending_files();
    let key_name = pending
        .iter()
        .find(|n| n.ends_with(".key.pem"))
        .unwrap_or_else(|| panic!("no pending key in {pending:?}"));
    #[cfg(unix)]
    assert_eq!(common::mode(&d.pending().join(key_name)), 0o600);

    let signed = ca.sign(&csr, &[HOST], 30, "signed.pem");
    let run = d
        .run(&[
            "cert",
            "import",
            &signed.display().to_string(),
            "--chain",
            &ca.cert.display().to_string(),
        ])
        .ok();
    run.stdout_has("Installed \"main\"");
    run.stdout_has("Test CA");
    assert!(
        d.pending_files().is_empty(),
        "pending files left behind: {:?}",
        d.pending_files()
    );

    // What is installed is the CA's certificate, then the CA, with its key.
    assert_eq!(
        cert_ders(&read_bytes(&d.cert())),
        [
            cert_ders(&read_bytes(&signed)),
            cert_ders(&read_bytes(&ca.cert))
        ]
        .concat(),
        "installed chain is not leaf + CA"
    );
    let facts = cert_facts(&read_bytes(&d.cert()));
    assert!(facts.issuer.contains("Test CA"), "{facts:?}");
    assert_eq!(facts.dns_names, vec![HOST.to_owned()]);
    #[cfg(unix)]
    assert_eq!(common::mode(&d.key()), 0o600, "key file mode");
    let certs = d.path.join("certs");
    let verify = openssl(
        &certs,
        &[
            "verify",
            "-CAfile",
            &ca.cert.display().to_string(),
            "main.crt.pem",
        ],
    )
    .ok();
    verify.stdout_has("OK");
    let cert_pub = openssl(
        &certs,
        &["x509", "-in", "main.crt.pem", "-noout", "-pubkey"],
    )
    .ok();
    let key_pub = openssl(&certs, &["pkey", "-in", "main.key.pem", "-pubout"]).ok();
    assert_eq!(
        cert_pub.stdout, key_pub.stdout,
        "installed key does not match"
    );

    let show = d.run(&["cert", "show"]).ok();
    show.stdout_has("certificate \"main\" (default)");
    show.stdout_has(HOST);
    show.stdout_has("Test CA");
    let days: i64 = field(&show.stdout, "days left")
        .parse()
        .unwrap_or_else(|_| panic!("days left is not a number: {}", show.describe()));
    assert!(
        (29..=30).contains(&days),
        "days left {days}: {}",
        show.describe()
    );
    let listeners = field(&show.stdout, "listeners");
    for l in ["imaps", "submissions", "https", "smtp"] {
        assert!(
            listeners.contains(l),
            "listener {l} missing: {}",
            show.describe()
        );
    }
    assert!(!listeners.contains("metrics"), "{}", show.describe());

    // A CA certificate valid for 30 days expires within the 30-day warning
    // window: exit 3 (warnings only), and the warning says so.
    let check = d.run(&["cert", "check"]);
    assert_eq!(check.code(), Some(3), "{}", check.describe());
    check.stdout_has("expires in");
    check.stdout_has("covers mail.example.test");
    check.stdout_has("private key matches the certificate");
    assert!(!check.stdout.contains("error"), "{}", check.describe());

    // With a longer validity, all is well: exit 0.
    let csr = request(&d, HOST);
    let signed = ca.sign(&csr, &[HOST], 90, "signed-90.pem");
    d.run(&[
        "cert",
        "import",
        &signed.display().to_string(),
        "--chain",
        &ca.cert.display().to_string(),
    ])
    .ok();
    let check = d.run(&["cert", "check"]);
    assert_eq!(check.code(), Some(0), "{}", check.describe());
    d.run(&["check"]).ok();
}

/// The value of a `cert show` row, e.g. `  days left    30`.
fn field(show: &str, name: &str) -> String {
    show.lines()
        .find_map(|l| l.trim_start().strip_prefix(name))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name:?} row in:\n{show}"))
}

fn import(d: &DataDir, cert: &Path, chain: &Path) -> common::Run {
    d.run(&[
        "cert",
        "import",
        &cert.display().to_string(),
        "--chain",
        &chain.display().to_string(),
    ])
}

/// A certificate for another name is refused and nothing changes.
#[test]
fn import_refuses_a_certificate_for_the_wrong_name() {
    if !require_openssl() {
        return;
    }
    let (d, ca, _) = ca_setup();
    // A request of our own, so only the name is wrong.
    let csr = request(&d, "mail.other.test");
    let signed = ca.sign(&csr, &["mail.other.test"], 30, "other.pem");
    let before = d.snapshot();
    let run = import(&d, &signed, &ca.cert).failed();
    run.stderr_has("does not cover mail.example.test");
    run.stderr_has("mail.other.test");
    assert_unchanged(&before, &d.snapshot(), "import for the wrong name");
}

/// A certificate for a key Postern never made is refused: no pending key
/// matches it.
#[test]
fn import_refuses_a_certificate_for_a_foreign_key() {
    if !require_openssl() {
        return;
    }
    let (d, ca, _) = ca_setup();
    let (_key, csr) = ca.foreign_request(HOST, "foreign");
    let signed = ca.sign(&csr, &[HOST], 30, "foreign.pem");
    let before = d.snapshot();
    let run = import(&d, &signed, &ca.cert).failed();
    run.stderr_has("no pending key");
    run.stderr_has("--key");
    assert_unchanged(&before, &d.snapshot(), "import for a foreign key");
}

/// With `--key`, the same foreign certificate imports; with the wrong
/// `--key`, it is refused as a mismatch.
#[test]
fn import_with_an_explicit_key() {
    if !require_openssl() {
        return;
    }
    let (d, ca, _) = ca_setup();
    let (key, csr) = ca.foreign_request(HOST, "foreign");
    let (other_key, _) = ca.foreign_request(HOST, "other");
    let signed = ca.sign(&csr, &[HOST], 30, "foreign.pem");
    let cert_arg = signed.display().to_string();
    let chain_arg = ca.cert.display().to_string();

    let before = d.snapshot();
    let run = d
        .run(&[
            "cert",
            "import",
            &cert_arg,
            "--chain",
            &chain_arg,
            "--key",
            &other_key.display().to_string(),
        ])
        .failed();
    run.stderr_has("does not belong to the certificate");
    assert_unchanged(&before, &d.snapshot(), "import with the wrong --key");

    d.run(&[
        "cert",
        "import",
        &cert_arg,
        "--chain",
        &chain_arg,
        "--key",
        &key.display().to_string(),
    ])
    .ok();
    assert!(cert_facts(&read_bytes(&d.cert()))
        .issuer
        .contains("Test CA"));
    // The unrelated pending request is still there, waiting.
    assert!(!d.pending_files().is_empty());
}

/// An expired certificate is refused. OpenSSL 3.0's `x509 -req` cannot
/// set dates in the past, so `openssl ca -startdate/-enddate` makes it.
#[test]
fn import_refuses_an_expired_certificate() {
    if !require_openssl() {
        return;
    }
    let (d, ca, csr) = ca_setup();
    let signed = ca.sign_expired(&csr, &[HOST], "expired.pem");
    let facts = cert_facts(&read_bytes(&signed));
    assert!(facts.not_after < now_unix(), "test certificate not expired");
    let before = d.snapshot();
    let run = import(&d, &signed, &ca.cert).failed();
    run.stderr_has("expired on 2020-02-01");
    assert_unchanged(&before, &d.snapshot(), "import of an expired certificate");
}

/// The CA's own certificate is not a server certificate.
#[test]
fn import_refuses_the_ca_certificate_itself() {
    if !require_openssl() {
        return;
    }
    let (d, ca, _) = ca_setup();
    let before = d.snapshot();
    let run = d
        .run(&["cert", "import", &ca.cert.display().to_string()])
        .failed();
    run.stderr_has("CA certificate");
    assert_unchanged(&before, &d.snapshot(), "import of the CA certificate");
}

/// Without the chain, the issuer is unknown: refused, nothing changes.
#[test]
fn import_refuses_a_certificate_without_its_chain() {
    if !require_openssl() {
        return;
    }
    let (d, ca, csr) = ca_setup();
    let signed = ca.sign(&csr, &[HOST], 30, "signed.pem");
    let before = d.snapshot();
    let run = d
        .run(&["cert", "import", &signed.display().to_string()])
        .failed();
    run.stderr_has("Test CA");
    assert_unchanged(&before, &d.snapshot(), "import without the chain");
}

/// Makes `x.p12` holding a key and certificate for mail.example.test signed
/// by the openssl CA, with `extra` export options.
fn make_pkcs12(ca: &OpensslCa, stem: &str, extra: &[&str]) -> Option<PathBuf> {
    let (key, csr) = ca.foreign_request(HOST, stem);
    let cert = ca.sign(&csr, &[HOST], 60, &format!("{stem}.pem"));
    let out = format!("{stem}.p12");
    let mut args = vec![
        "pkcs12",
        "-export",
        "-inkey",
        key.to_str().unwrap(),
        "-in",
        cert.to_str().unwrap(),
        "-certfile",
        "ca.pem",
        "-passout",
        "pass:secret",
        "-out",
        &out,
    ];
    args.extend_from_slice(extra);
    let run = common::run(
        std::process::Command::new("openssl")
            .current_dir(&ca.dir)
            .args(&args),
        None,
    );
    if !run.status.success() {
        eprintln!(
            "note: openssl cannot export PKCS#12 with {extra:?}: {}",
            run.describe()
        );
        return None;
    }
    Some(ca.dir.join(out))
}

/// PKCS#12 as OpenSSL 3 writes it by default (AES-256-CBC, PBKDF2,
/// HMAC-SHA256): the right password imports, a wrong one changes nothing.
#[test]
fn pkcs12_import_with_the_default_openssl3_encryption() {
    if !require_openssl() {
        return;
    }
    let d = init_example();
    let ca = OpensslCa::new(&d.scratch().join("ca"), "Test CA");
    let p12 = make_pkcs12(&ca, "x", &[]).expect("openssl pkcs12 -export");
    let p12_arg = p12.display().to_string();

    let before = d.snapshot();
    let run = common::postern_stdin(
        &d.path,
        &["cert", "import", "--pkcs12", &p12_arg, "--password-stdin"],
        b"wrong\n",
    )
    .failed();
    run.stderr_has("password");
    assert!(!run.stderr.contains("wrong\n"), "the password was echoed");
    assert_unchanged(&before, &d.snapshot(), "PKCS#12 with a wrong password");

    let run = common::postern_stdin(
        &d.path,
        &["cert", "import", "--pkcs12", &p12_arg, "--password-stdin"],
        b"secret\n",
    )
    .ok();
    run.stdout_has("Installed \"main\"");
    let facts = cert_facts(&read_bytes(&d.cert()));
    assert!(facts.issuer.contains("Test CA"), "{facts:?}");
    assert_eq!(
        cert_ders(&read_bytes(&d.cert())),
        [
            cert_ders(&read_bytes(&ca.dir.join("x.pem"))),
            cert_ders(&read_bytes(&ca.cert))
        ]
        .concat(),
        "installed chain is not the keystore's leaf + CA"
    );
    let check = d.run(&["cert", "check"]);
    assert_eq!(check.code(), Some(0), "{}", check.describe());
    #[cfg(unix)]
    assert_eq!(common::mode(&d.key()), 0o600, "key file mode");
    assert!(read_string(&d.key()).contains("PRIVATE KEY"));
}

/// Older keystore encodings that other tools still write: 3DES with a
/// SHA-1 MAC (what `-legacy` and Java keytool of old produce, minus RC2).
#[test]
fn pkcs12_import_with_legacy_encryption() {
    if !require_openssl() {
        return;
    }
    let d = init_example();
    let ca = OpensslCa::new(&d.scratch().join("ca"), "Test CA");
    let variants: [(&str, &[&str]); 2] = [
        (
            "3des",
            &[
                "-certpbe",
                "PBE-SHA1-3DES",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        ),
        ("legacy", &["-legacy"]),
    ];
    let mut tried = 0;
    for (stem, extra) in variants {
        let Some(p12) = make_pkcs12(&ca, stem, extra) else {
            continue;
        };
        tried += 1;
        let run = common::postern_stdin(
            &d.path,
            &[
                "cert",
                "import",
                "--pkcs12",
                &p12.display().to_string(),
                "--password-stdin",
            ],
            b"secret\n",
        );
        assert!(
            run.status.success(),
            "PKCS#12 variant {stem} ({extra:?}): {}",
            run.describe()
        );
        let leaf = cert_ders(&read_bytes(&ca.dir.join(format!("{stem}.pem"))));
        assert_eq!(
            cert_ders(&read_bytes(&d.cert())).first(),
            leaf.first(),
            "PKCS#12 variant {stem}: its certificate was not installed"
        );
    }
    assert!(tried > 0, "openssl could export no legacy variant");
}

/// `--pkcs12` without `--password-stdin` is refused: passwords never come
/// from the command line.
#[test]
fn pkcs12_import_needs_password_stdin() {
    let d = init_example();
    let p12 = d.scratch().join("x.p12");
    std::fs::write(&p12, b"not a keystore").unwrap();
    let before = d.snapshot();
    let run = d
        .run(&["cert", "import", "--pkcs12", &p12.display().to_string()])
        .failed();
    run.stderr_has("--password-stdin");
    assert_unchanged(&before, &d.snapshot(), "PKCS#12 without a password");
}
