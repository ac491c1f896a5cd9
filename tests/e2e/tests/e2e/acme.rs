//! The port-80 listener's ACME http-01 answers (RFC 8555 §8.3), as a CA
//! fetches them: files `postern cert acme` publishes, everything else
//! redirected. The full issuance against Pebble is in crates/cli/tests.

use postern_server::acme_http::challenge_dir;
use postern_testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(srv: &TestServer, target: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(srv.addr("http"))
        .await
        .unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: mail.example.test\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn http01_answers_come_from_the_challenge_directory_only() {
    let srv = TestServer::start().await;
    let dir = challenge_dir(srv.dir());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Tok-en_1"), "Tok-en_1.thumbprint").unwrap();

    let ok = get(&srv, "/.well-known/acme-challenge/Tok-en_1").await;
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.ends_with("\r\n\r\nTok-en_1.thumbprint"), "{ok}");

    let missing = get(&srv, "/.well-known/acme-challenge/other").await;
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");

    // Not a base64url token: never looked up, only redirected.
    for target in [
        "/.well-known/acme-challenge/../../postern.toml",
        "/.well-known/acme-challenge/Tok-en_1.x",
        "/login",
    ] {
        let r = get(&srv, target).await;
        assert!(r.starts_with("HTTP/1.1 301 "), "{target}: {r}");
        assert!(!r.contains("hostname"), "{target}: {r}");
    }
}
