//! Connection limits, timeouts and graceful shutdown.

use std::time::{Duration, Instant};

use postern_testkit::{LineClient, TestServer, TestServerBuilder};

#[tokio::test]
async fn connections_per_ip_are_bounded() {
    let srv = TestServerBuilder::new()
        .limit("smtp", "max_connections_per_ip = 3")
        .start()
        .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = LineClient::plain(srv.addr("smtp")).await;
        c.expect("220 ").await;
        open.push(c);
    }
    let mut fourth = LineClient::plain(srv.addr("smtp")).await;
    fourth.expect("421 4.7.0 Too many connections").await;
    fourth.expect_closed().await;
    // A slot freed is a slot available.
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = LineClient::plain(srv.addr("smtp")).await;
    again.expect("220 ").await;
}

#[tokio::test]
async fn a_silent_client_is_timed_out_with_a_goodbye() {
    let srv = TestServerBuilder::new()
        .limit("imap", "pre_auth_timeout = \"1s\"")
        .limit("smtp", "pre_auth_timeout = \"1s\"")
        .start()
        .await;
    let started = Instant::now();
    let mut c = LineClient::plain(srv.addr("imap")).await;
    c.expect("* OK").await;
    c.expect("* BYE").await;
    c.expect_closed().await;
    let mut s = LineClient::plain(srv.addr("smtp")).await;
    s.expect("220").await;
    s.expect("421 4.4.2").await;
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut() {
    let srv = TestServerBuilder::new()
        .limit("imaps", "handshake_timeout = \"1s\"")
        .start()
        .await;
    let mut tcp = tokio::net::TcpStream::connect(srv.addr("imaps"))
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    use tokio::io::AsyncReadExt;
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("the server must close a silent handshake")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_millis(900));
    let m = crate::tls::metrics(&srv).await;
    assert!(m.contains("reason=\"timeout\"} 1"), "{m}");
}

#[tokio::test]
async fn shutdown_says_goodbye_to_every_session() {
    let srv = TestServer::start().await;
    let mut smtp = LineClient::plain(srv.addr("smtp")).await;
    smtp.expect("220").await;
    let mut imap = LineClient::plain(srv.addr("imap")).await;
    imap.expect("* OK").await;
    let mut pop3 = LineClient::tls(
        srv.addr("pop3s"),
        "mail.example.test",
        srv.client_config(&[]),
    )
    .await
    .unwrap();
    pop3.expect("+OK").await;
    let stopping = tokio::spawn(srv.stop());
    smtp.expect("421 4.3.2").await;
    imap.expect("* BYE").await;
    pop3.expect("-ERR").await;
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("shutdown finishes once sessions are closed")
        .unwrap();
}

/// Slowloris: a client that sends a byte now and then, never a whole
/// command, is cut when the request deadline passes.
#[tokio::test]
async fn a_dribbling_client_is_cut_at_the_request_deadline() {
    let srv = TestServerBuilder::new()
        .limit("pop3", "pre_auth_timeout = \"1s\"")
        .start()
        .await;
    let mut c = LineClient::plain(srv.addr("pop3")).await;
    c.expect("+OK").await;
    let started = Instant::now();
    let mut cut = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut probe = [0u8; 64];
        use tokio::io::AsyncReadExt;
        let got =
            tokio::time::timeout(Duration::from_millis(10), c.get_mut().read(&mut probe)).await;
        if let Ok(Ok(n)) = got {
            // The goodbye (or EOF) arrived.
            assert!(n == 0 || probe.starts_with(b"-ERR"), "{:?}", &probe[..n]);
            cut = true;
            break;
        }
        let _ = tokio::io::AsyncWriteExt::write_all(c.get_mut(), b"N").await;
    }
    assert!(cut, "the dribbling client was never cut");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
