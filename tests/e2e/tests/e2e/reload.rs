//! Certificate hot reload: new handshakes get the new certificate, open
//! connections keep going, and a broken file keeps the old one serving.

use std::time::Duration;

use postern_testkit::server::{write_cert, HOST};
use postern_testkit::{LineClient, TestServer};

async fn served_cert(srv: &TestServer) -> Vec<u8> {
    let c = LineClient::tls(srv.addr("pop3s"), HOST, srv.client_config(&[]))
        .await
        .unwrap();
    let (_, conn) = c.get_ref().get_ref();
    conn.peer_certificates().unwrap()[0].to_vec()
}

/// Polls until the served certificate is `want` (10 s at most).
async fn wait_for_cert(srv: &TestServer, want: &[u8]) -> bool {
    for _ in 0..100 {
        if served_cert(srv).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn changed_files_are_served_without_a_restart_and_open_sessions_stay() {
    let srv = TestServer::start().await;
    let before = served_cert(&srv).await;
    let mut old = LineClient::tls(srv.addr("pop3s"), HOST, srv.client_config(&[]))
        .await
        .unwrap();
    old.expect("+OK").await;

    let renewed = srv.ca.server_cert(&[HOST, "localhost"]);
    write_cert(srv.dir(), "main", &renewed);
    assert!(
        wait_for_cert(&srv, &renewed.cert_der()).await,
        "the new certificate was not picked up"
    );
    assert_ne!(before, renewed.cert_der().to_vec());

    // The connection opened before the reload is untouched.
    old.send("NOOP").await;
    old.expect("+OK").await;
}

#[tokio::test]
async fn a_broken_certificate_file_keeps_the_last_good_one_serving() {
    let srv = TestServer::start().await;
    let before = served_cert(&srv).await;
    std::fs::write(srv.cert_path("main"), "not a certificate").unwrap();
    let report = srv.server().reload_certificates();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(
        report.failed[0]
            .to_string()
            .contains("certificate \"main\""),
        "{report:?}"
    );
    assert_eq!(served_cert(&srv).await, before);

    // An expired replacement is refused the same way.
    let expired = srv.ca.server_cert_valid(&[HOST], -1);
    write_cert(srv.dir(), "main", &expired);
    let report = srv.server().reload_certificates();
    assert!(
        report.failed[0].to_string().contains("expired"),
        "{report:?}"
    );
    assert_eq!(served_cert(&srv).await, before);
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_at_once() {
    let srv = TestServer::start().await;
    let renewed = srv.ca.server_cert(&[HOST, "localhost"]);
    write_cert(srv.dir(), "main", &renewed);
    let pid = std::process::id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    // The file poller needs a change to hold still for a full second before
    // it reloads; a swap well within that second is SIGHUP's doing.
    let deadline = std::time::Instant::now() + Duration::from_millis(800);
    let mut swapped = false;
    while std::time::Instant::now() < deadline && !swapped {
        swapped = served_cert(&srv).await == renewed.cert_der().to_vec();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(swapped, "SIGHUP did not reload the certificate at once");
}
