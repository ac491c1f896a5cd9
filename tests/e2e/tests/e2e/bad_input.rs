//! Bad input gets a clear error and a closed connection; the server keeps
//! serving the next client.

use postern_testkit::{LineClient, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn an_overlong_line_is_refused_and_the_connection_closed() {
    let srv = TestServer::start().await;
    for (listener, greeting, refusal) in [
        ("smtp", "220", &["500 5.5.2", "421 4.7.0"][..]),
        ("imap", "* OK", &["* BYE"]),
        ("pop3", "+OK", &["-ERR"]),
    ] {
        let mut c = LineClient::plain(srv.addr(listener)).await;
        c.expect(greeting).await;
        let line = vec![b'A'; 1024 * 1024];
        c.send_raw(&line).await;
        for line in refusal {
            c.expect(line).await;
        }
        c.expect_closed().await;
        // The next client is served.
        let mut next = LineClient::plain(srv.addr(listener)).await;
        next.expect(greeting).await;
    }
}

#[tokio::test]
async fn garbage_instead_of_tls_is_refused_and_the_next_client_served() {
    let srv = TestServer::start().await;
    let mut tcp = tokio::net::TcpStream::connect(srv.addr("imaps"))
        .await
        .unwrap();
    tcp.write_all(b"a LOGIN alice secret\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tcp.read_to_end(&mut buf).await;
    // Whatever came back (a TLS alert at most), it was not IMAP.
    assert!(!String::from_utf8_lossy(&buf).contains("OK"), "{buf:?}");
    let mut c = LineClient::tls(
        srv.addr("imaps"),
        "mail.example.test",
        srv.client_config(&[]),
    )
    .await
    .unwrap();
    c.expect("* OK").await;
}

#[tokio::test]
async fn nul_bytes_and_random_bytes_never_crash_the_server() {
    let srv = TestServer::start().await;
    let mut c = LineClient::plain(srv.addr("pop3")).await;
    c.expect("+OK").await;
    c.send_raw(b"CA\0PA\r\n").await;
    c.expect("-ERR").await;
    // A deterministic stream of random bytes to every plain port.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for listener in ["smtp", "submission", "imap", "pop3", "http", "metrics"] {
        let mut tcp = tokio::net::TcpStream::connect(srv.addr(listener))
            .await
            .unwrap();
        let bytes: Vec<u8> = (0..64 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = tcp.write_all(&bytes).await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tcp.read_to_end(&mut sink),
        )
        .await;
    }
    for (listener, greeting) in [("smtp", "220"), ("imap", "* OK"), ("pop3", "+OK")] {
        let mut c = LineClient::plain(srv.addr(listener)).await;
        c.expect(greeting).await;
    }
}
