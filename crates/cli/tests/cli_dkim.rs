//! `postern dkim generate|list` and `postern dns records`, driven as an
//! administrator would; the keys are checked with openssl, an independent
//! reader of PKCS #8.

mod common;

use std::path::{Path, PathBuf};

use common::{mode, openssl, read_bytes, read_string, require_openssl, DataDir};

fn init() -> DataDir {
    DataDir::init(&[
        "--hostname",
        "mail.example.test",
        "--domain",
        "example.test",
        "--dev-ports",
    ])
}

/// A published record: its owner name and the strings of its TXT data.
#[derive(Debug)]
struct Record {
    name: String,
    strings: Vec<String>,
}

/// The `NAME IN TXT "..." "..."` lines of DKIM records in `stdout`.
fn dkim_records(stdout: &str) -> Vec<Record> {
    stdout
        .lines()
        .filter(|l| l.contains("._domainkey.") && !l.starts_with(';'))
        .map(|l| {
            let (name, rest) = l.split_once(" IN TXT ").expect("NAME IN TXT ...");
            let strings = rest.split('"').skip(1).step_by(2).map(str::to_owned);
            Record {
                name: name.to_owned(),
                strings: strings.collect(),
            }
        })
        .collect()
}

fn p_tag(text: &str) -> &str {
    text.split("p=").nth(1).expect("a p= tag")
}

/// The public key openssl derives from a key file: the SubjectPublicKeyInfo
/// (RSA) or its last 32 octets, the bare key (Ed25519), in base64.
fn openssl_public(scratch: &Path, key: &Path, bare_ed25519: bool) -> String {
    let spki = scratch.join("spki.der");
    let (k, s) = (key.to_str().unwrap(), spki.to_str().unwrap());
    openssl(
        scratch,
        &["pkey", "-in", k, "-pubout", "-outform", "DER", "-out", s],
    )
    .ok();
    let der = read_bytes(&spki);
    let part = scratch.join("part.der");
    let bytes = if bare_ed25519 {
        &der[der.len() - 32..]
    } else {
        &der[..]
    };
    std::fs::write(&part, bytes).unwrap();
    openssl(scratch, &["base64", "-A", "-in", part.to_str().unwrap()])
        .ok()
        .stdout
        .trim()
        .to_owned()
}

fn key_file(d: &DataDir, name: &str) -> PathBuf {
    d.path.join("dkim/example.test").join(name)
}

#[test]
fn generate_writes_private_keys_and_prints_records_that_match_them() {
    if !require_openssl() {
        return;
    }
    let d = init();
    let out = d
        .run(&[
            "dkim",
            "generate",
            "--domain",
            "Example.TEST",
            "--selector",
            "s1",
        ])
        .ok();
    let ed = key_file(&d, "s1-ed.ed25519.pem");
    let rsa = key_file(&d, "s1-rsa.rsa.pem");
    assert_eq!(mode(&ed), 0o600);
    assert_eq!(mode(&rsa), 0o600);
    assert_eq!(mode(&d.path.join("dkim")), 0o700);
    assert_eq!(mode(&d.path.join("dkim/example.test")), 0o700);
    assert!(read_string(&rsa).starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(
        !out.stdout.contains("PRIVATE"),
        "the private key is never printed"
    );

    let records = dkim_records(&out.stdout);
    assert_eq!(records.len(), 2, "{}", out.describe());
    assert_eq!(records[0].name, "s1-ed._domainkey.example.test.");
    assert_eq!(records[1].name, "s1-rsa._domainkey.example.test.");
    for r in &records {
        assert!(r.strings.iter().all(|s| !s.is_empty() && s.len() <= 255));
    }
    let ed_text = records[0].strings.concat();
    let rsa_text = records[1].strings.concat();
    assert!(ed_text.starts_with("v=DKIM1; k=ed25519; p="), "{ed_text}");
    assert!(rsa_text.starts_with("v=DKIM1; k=rsa; p="), "{rsa_text}");
    assert!(records[1].strings.len() > 1, "RSA needs two strings");

    let scratch = d.scratch();
    assert_eq!(p_tag(&ed_text), openssl_public(&scratch, &ed, true));
    assert_eq!(p_tag(&rsa_text), openssl_public(&scratch, &rsa, false));
    let bits = openssl(
        &scratch,
        &["pkey", "-in", rsa.to_str().unwrap(), "-text", "-noout"],
    )
    .ok();
    assert!(bits.stdout.contains("2048 bit"), "{}", bits.describe());

    // `list` shows the same records.
    let listed = d.run(&["dkim", "list"]).ok();
    let again = dkim_records(&listed.stdout);
    assert_eq!(again.len(), 2, "{}", listed.describe());
    assert_eq!(again[1].strings.concat(), rsa_text);
}

#[test]
fn an_existing_key_is_never_replaced_without_force() {
    let d = init();
    d.run(&[
        "dkim",
        "generate",
        "--domain",
        "example.test",
        "--selector",
        "s",
        "--algorithm",
        "rsa",
    ])
    .ok();
    let path = key_file(&d, "s.rsa.pem");
    let before = d.snapshot();
    d.run(&[
        "dkim",
        "generate",
        "--domain",
        "example.test",
        "--selector",
        "s",
        "--algorithm",
        "rsa",
    ])
    .failed()
    .stderr_has("--force");
    assert_eq!(d.snapshot(), before, "a refusal changes nothing");
    let old = read_bytes(&path);
    d.run(&[
        "dkim",
        "generate",
        "--domain",
        "example.test",
        "--selector",
        "s",
        "--algorithm",
        "rsa",
        "--force",
    ])
    .ok();
    assert_ne!(read_bytes(&path), old, "--force replaced the key");
    assert_eq!(mode(&path), 0o600);
    // Only the one key asked for was made.
    let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["s.rsa.pem"]);
}

#[test]
fn keys_are_refused_for_a_domain_this_server_does_not_have() {
    let d = init();
    let before = d.snapshot();
    d.run(&["dkim", "generate", "--domain", "other.test"])
        .failed()
        .stderr_has("postern domain add other.test");
    d.run(&["dkim", "generate", "--domain", "../x.test"])
        .failed();
    assert_eq!(d.snapshot(), before);
}

#[test]
fn dns_records_lists_every_record_a_domain_needs() {
    let d = init();
    let without = d.run(&["dns", "records", "--domain", "example.test"]).ok();
    without.stdout_has("postern dkim generate --domain example.test");
    d.run(&[
        "dkim",
        "generate",
        "--domain",
        "example.test",
        "--selector",
        "k",
    ])
    .ok();
    let out = d.run(&["dns", "records", "--domain", "example.test"]).ok();
    for needle in [
        "example.test. IN MX 10 mail.example.test.",
        "example.test. IN TXT \"v=spf1 mx -all\"",
        "k-ed._domainkey.example.test. IN TXT \"v=DKIM1; k=ed25519; p=",
        "k-rsa._domainkey.example.test. IN TXT \"v=DKIM1; k=rsa; p=",
        "_dmarc.example.test. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test\"",
        "_mta-sts.example.test. IN TXT \"v=STSv1; id=",
        "mta-sts.example.test. IN CNAME mail.example.test.",
        "_smtp._tls.example.test. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.test\"",
        "_25._tcp.mail.example.test. IN TLSA 3 1 1 ",
        "_submissions._tcp.example.test. IN SRV 0 1 2465 mail.example.test.",
        "_submission._tcp.example.test. IN SRV 10 1 2587 mail.example.test.",
        "_imaps._tcp.example.test. IN SRV 0 1 2993 mail.example.test.",
        "_pop3s._tcp.example.test. IN SRV 0 1 2995 mail.example.test.",
    ] {
        out.stdout_has(needle);
    }
    // Every record has a comment saying why.
    let records = out
        .stdout
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .count();
    assert!(records >= 13, "{}", out.describe());
    // The TLSA digest is the certificate key's SHA-256, in 64 hex digits.
    let tlsa = out.stdout.lines().find(|l| l.contains(" TLSA ")).unwrap();
    let digest = tlsa.split_whitespace().nth(6).unwrap();
    assert_eq!(digest.len(), 64, "{tlsa}");
    assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
    if require_openssl() {
        let scratch = d.scratch();
        let cert = d.cert();
        let spki = scratch.join("cert-spki.der");
        let c = cert.to_str().unwrap();
        let pubkey = openssl(&scratch, &["x509", "-in", c, "-noout", "-pubkey"]).ok();
        let pem = scratch.join("pub.pem");
        std::fs::write(&pem, pubkey.stdout).unwrap();
        let (p, s) = (pem.to_str().unwrap(), spki.to_str().unwrap());
        openssl(
            &scratch,
            &["pkey", "-pubin", "-in", p, "-outform", "DER", "-out", s],
        )
        .ok();
        let sha = openssl(&scratch, &["dgst", "-sha256", "-r", s]).ok();
        assert!(sha.stdout.starts_with(digest), "{} vs {tlsa}", sha.stdout);
    }
}

#[test]
fn check_names_a_domain_without_keys_and_refuses_a_broken_key() {
    let d = init();
    d.run(&["check"])
        .ok()
        .stdout_has("domain example.test: no DKIM key")
        .stdout_has("postern dkim generate --domain example.test");
    d.run(&[
        "dkim",
        "generate",
        "--domain",
        "example.test",
        "--selector",
        "s",
    ])
    .ok();
    d.run(&["check"])
        .ok()
        .stdout_has("domain example.test: DKIM keys s-ed (ed25519), s-rsa (rsa)");
    // A key the server could not use fails the check, naming its file.
    let path = key_file(&d, "s-rsa.rsa.pem");
    std::fs::write(
        &path,
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    d.run(&["check"]).failed().stdout_has("s-rsa.rsa.pem");
}
