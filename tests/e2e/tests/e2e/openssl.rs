//! `openssl s_client` as an independent TLS client.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use postern_testkit::TestServer;

/// Whether the openssl binary can be used. Under CI it must be.
pub fn available() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "openssl is required under CI=true"
        );
        eprintln!("note: openssl not found; skipping an interop test");
    }
    found
}

/// Runs `openssl s_client` against `addr`, sending `input`, and returns
/// (success, stdout + stderr).
pub fn s_client(addr: SocketAddr, ca: &Path, args: &[&str], input: &str) -> (bool, String) {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(addr.to_string())
        .arg("-CAfile")
        .arg(ca)
        .arg("-verify_return_error")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_owned();
    // Feed the input slowly enough for the handshake to finish first.
    let writer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = stdin.write_all(input.as_bytes());
        std::thread::sleep(std::time::Duration::from_millis(500));
    });
    let out = child.wait_with_output().expect("openssl finishes");
    let _ = writer.join();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The test CA's root as a file, for `-CAfile`.
pub fn ca_file(srv: &TestServer) -> std::path::PathBuf {
    srv.dir().join("ca.pem")
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_1_0_and_1_1_are_refused_1_2_and_1_3_accepted() {
    if !available() {
        return;
    }
    let srv = TestServer::start().await;
    let addr = srv.addr("pop3s");
    let ca = ca_file(&srv);
    let run = move |args: Vec<&'static str>| {
        let ca = ca.clone();
        tokio::task::spawn_blocking(move || s_client(addr, &ca, &args, "QUIT\r\n"))
    };
    for old in ["-tls1", "-tls1_1"] {
        // SECLEVEL=0 lets the client offer the old version at all, so the
        // refusal is the server's.
        let (ok, out) = run(vec![
            old,
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-servername",
            "localhost",
        ])
        .await
        .unwrap();
        assert!(!ok, "{old} must be refused:\n{out}");
    }
    for (flag, version) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let (ok, out) = run(vec![flag, "-servername", "localhost"]).await.unwrap();
        assert!(ok, "{flag} must be accepted:\n{out}");
        assert!(out.contains(version), "{out}");
        assert!(out.contains("+OK Postern ready"), "{out}");
    }
    let metrics = crate::tls::metrics(&srv).await;
    assert!(
        metrics.contains("postern_tls_handshake_failures_total{listener=\"pop3s\",reason=\"peer_incompatible\"} 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openssl_starttls_for_smtp_imap_and_pop3() {
    if !available() {
        return;
    }
    let srv = TestServer::start().await;
    let ca = ca_file(&srv);
    for (listener, proto, input, expect) in [
        (
            "smtp",
            "smtp",
            "EHLO client.example\r\nQUIT\r\n",
            "250-mail.example.test",
        ),
        ("imap", "imap", "a CAPABILITY\r\na LOGOUT\r\n", "AUTH=PLAIN"),
        ("pop3", "pop3", "CAPA\r\nQUIT\r\n", "SASL PLAIN"),
    ] {
        let addr = srv.addr(listener);
        let ca = ca.clone();
        let (ok, out) = tokio::task::spawn_blocking(move || {
            s_client(
                addr,
                &ca,
                &["-starttls", proto, "-servername", "mail.example.test"],
                input,
            )
        })
        .await
        .unwrap();
        assert!(ok, "{listener}: {out}");
        assert!(
            out.contains("Verify return code: 0 (ok)"),
            "{listener}: {out}"
        );
        assert!(
            out.contains(expect),
            "{listener}: expected {expect:?} after the upgrade:\n{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clients_signature_algorithms_choose_ecdsa_or_rsa() {
    if !available() {
        return;
    }
    let b = postern_testkit::TestServerBuilder::new();
    let rsa = b
        .ca()
        .server_cert_rsa(&[postern_testkit::server::HOST, "localhost", "127.0.0.1"]);
    let srv = b.certificate("main-rsa", rsa).start().await;
    let addr = srv.addr("imaps");
    let ca = ca_file(&srv);
    for (sigalgs, key) in [
        ("ECDSA+SHA256", "Server public key is 256 bit"),
        (
            "rsa_pss_rsae_sha256:RSA+SHA256",
            "Server public key is 2048 bit",
        ),
    ] {
        let ca = ca.clone();
        let (ok, out) = tokio::task::spawn_blocking(move || {
            s_client(
                addr,
                &ca,
                &["-sigalgs", sigalgs, "-servername", "mail.example.test"],
                "a LOGOUT\r\n",
            )
        })
        .await
        .unwrap();
        assert!(ok, "{sigalgs}: {out}");
        assert!(out.contains(key), "{sigalgs}: expected {key:?}:\n{out}");
    }
}
