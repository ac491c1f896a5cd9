//! Implicit TLS: versions, SNI, ALPN (ALPACA), client certificates, metrics.

use postern_testkit::client::tls_connect;
use postern_testkit::{LineClient, TestServer, TestServerBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The metrics page.
pub async fn metrics(srv: &TestServer) -> String {
    let mut tcp = tokio::net::TcpStream::connect(srv.addr("metrics"))
        .await
        .unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    tcp.read_to_string(&mut body).await.unwrap();
    assert!(body.starts_with("HTTP/1.1 200 OK\r\n"), "{body}");
    body
}

/// The serial-independent identity of the certificate a server presented.
fn presented(c: &LineClient<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>) -> Vec<u8> {
    let (_, conn) = c.get_ref().get_ref();
    conn.peer_certificates().expect("a server certificate")[0].to_vec()
}

#[tokio::test]
async fn implicit_tls_greets_over_tls_1_3_with_post_quantum_key_exchange() {
    let srv = TestServer::start().await;
    for (listener, alpn, greeting) in [
        ("imaps", &b"imap"[..], "* OK"),
        ("pop3s", b"pop3", "+OK"),
        ("submissions", b"smtp", "220 mail.example.test"),
    ] {
        let cfg = srv.client_config(&[alpn]);
        let mut c = LineClient::tls(srv.addr(listener), "mail.example.test", cfg)
            .await
            .unwrap();
        c.expect(greeting).await;
        let (_, conn) = c.get_ref().get_ref();
        assert_eq!(
            conn.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        assert_eq!(conn.alpn_protocol(), Some(alpn));
    }
    let m = metrics(&srv).await;
    assert!(m.contains("listener=\"imaps\",version=\"TLSv1.3\",cipher_suite=\"TLS13_AES_256_GCM_SHA384\",group=\"X25519MLKEM768\"} 1"), "{m}");
    assert!(
        m.contains("postern_certificate_days_left{certificate=\"main\"} 29")
            || m.contains("postern_certificate_days_left{certificate=\"main\"} 30"),
        "{m}"
    );
}

#[tokio::test]
async fn wrong_alpn_is_refused() {
    let srv = TestServer::start().await;
    // ALPACA: an HTTPS client pointed at the IMAP port must not get an answer.
    let cfg = srv.client_config(&[b"http/1.1"]);
    let err = tls_connect(srv.addr("imaps"), "mail.example.test", cfg)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NoApplicationProtocol"), "{err}");
    // An SMTP client at the POP3 port likewise.
    let cfg = srv.client_config(&[b"smtp"]);
    assert!(tls_connect(srv.addr("pop3s"), "mail.example.test", cfg)
        .await
        .is_err());
    // No ALPN at all (most mail clients) is fine.
    let mut c = LineClient::tls(
        srv.addr("imaps"),
        "mail.example.test",
        srv.client_config(&[]),
    )
    .await
    .unwrap();
    c.expect("* OK").await;
    let m = metrics(&srv).await;
    assert!(m.contains("postern_tls_handshake_failures_total{listener=\"imaps\",reason=\"no_application_protocol\"} 1"), "{m}");
}

#[tokio::test]
async fn sni_selects_the_certificate() {
    let b = TestServerBuilder::new();
    let other = b
        .ca()
        .server_cert(&["other.example.test", "*.wild.example.test"]);
    let srv = b.certificate("other", other.clone()).start().await;
    let cfg = srv.client_config(&[]);
    // The client verifies the name, so a wrong choice fails the handshake;
    // the bytes prove which certificate came.
    let c = LineClient::tls(srv.addr("imaps"), "other.example.test", cfg.clone())
        .await
        .unwrap();
    assert_eq!(presented(&c), other.cert_der().to_vec());
    let c = LineClient::tls(srv.addr("imaps"), "imap.wild.example.test", cfg.clone())
        .await
        .unwrap();
    assert_eq!(presented(&c), other.cert_der().to_vec());
    let c = LineClient::tls(srv.addr("imaps"), "mail.example.test", cfg.clone())
        .await
        .unwrap();
    assert_ne!(presented(&c), other.cert_der().to_vec());
    // A name no certificate covers gets the default, which the client
    // rightly refuses: never some other certificate that happens to fit.
    assert!(tls_connect(srv.addr("imaps"), "unknown.example.test", cfg)
        .await
        .is_err());
}

#[tokio::test]
async fn a_required_client_certificate_is_enforced() {
    let srv = TestServerBuilder::new()
        .listener_line("pop3s", "client_certificates = \"required\"")
        .listener_line("pop3s", "client_ca = \"ca.pem\"")
        .start()
        .await;
    // Without a certificate: TLS 1.3 reports the refusal on the first read.
    let cfg = srv.client_config(&[]);
    let refused = match LineClient::tls(srv.addr("pop3s"), "mail.example.test", cfg).await {
        Err(_) => true,
        Ok(mut c) => c.read_line().await.is_none(),
    };
    assert!(refused, "a client without a certificate must not be served");
    // With one signed by the CA: served.
    let client = srv.ca.client_cert("alice@example.test");
    let cfg = srv.ca.client_config_with(&[], Some(&client));
    let mut c = LineClient::tls(srv.addr("pop3s"), "mail.example.test", cfg)
        .await
        .unwrap();
    c.expect("+OK").await;
    // With one from another CA: refused.
    let stranger = postern_testkit::TestCa::new("Stranger CA").client_cert("mallory@example.test");
    let cfg = srv.ca.client_config_with(&[], Some(&stranger));
    let refused = match LineClient::tls(srv.addr("pop3s"), "mail.example.test", cfg).await {
        Err(_) => true,
        Ok(mut c) => c.read_line().await.is_none(),
    };
    assert!(
        refused,
        "a certificate from an unknown CA must not be served"
    );
    let m = metrics(&srv).await;
    assert!(
        m.contains("reason=\"client_certificate_missing\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn plain_http_only_redirects_and_https_sends_hsts() {
    let srv = TestServer::start().await;
    let mut tcp = tokio::net::TcpStream::connect(srv.addr("http"))
        .await
        .unwrap();
    tcp.write_all(b"POST /login HTTP/1.1\r\nHost: mail.example.test:8080\r\nContent-Length: 20\r\n\r\nuser=a&password=b").await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 301 "), "{answer}");
    assert!(
        answer.contains("Location: https://mail.example.test:8443/login\r\n"),
        "{answer}"
    );

    let cfg = srv.client_config(&[b"http/1.1"]);
    let mut tls = tls_connect(srv.addr("https"), "mail.example.test", cfg)
        .await
        .unwrap();
    tls.write_all(b"GET /login HTTP/1.1\r\nHost: mail.example.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut page = String::new();
    let _ = tls.read_to_string(&mut page).await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(
        page.contains("Strict-Transport-Security: max-age=63072000"),
        "{page}"
    );
    assert!(
        page.contains("Content-Security-Policy: default-src 'self'"),
        "{page}"
    );
}
