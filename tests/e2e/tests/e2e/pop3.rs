//! POP3 with accounts and a maildrop, over real TLS (RFC 1939, 2449, 2595).

use std::time::{Duration, Instant};

use postern_testkit::{LineClient, TestServer};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const HOST: &str = "mail.example.test";
const ALICE: &str = "alice@example.test";
const PASSWORD: &str = "correct horse battery";

type Client = LineClient<TlsStream<TcpStream>>;

async fn pop3s(srv: &TestServer) -> Client {
    let mut c = LineClient::tls(srv.addr("pop3s"), HOST, srv.client_config(&[b"pop3"]))
        .await
        .unwrap();
    c.expect("+OK").await;
    c
}

async fn login(srv: &TestServer) -> Client {
    let mut c = pop3s(srv).await;
    c.send(&format!("USER {ALICE}")).await;
    c.expect("+OK").await;
    c.send(&format!("PASS {PASSWORD}")).await;
    c.expect("+OK").await;
    c
}

/// A multi-line answer: the status line, then lines up to ".".
async fn multi(c: &mut Client, cmd: &str) -> Vec<String> {
    c.send(cmd).await;
    c.expect("+OK").await;
    let mut lines = Vec::new();
    loop {
        match c.read_line().await.as_deref() {
            Some(".") => return lines,
            Some(line) => lines.push(line.to_owned()),
            None => panic!("EOF inside a multi-line answer:\n{}", c.transcript()),
        }
    }
}

fn server_with_mail(srv: &TestServer) {
    srv.add_user(ALICE, PASSWORD);
    srv.deliver(ALICE, b"Subject: one\r\n\r\nfirst body\r\n");
    srv.deliver(
        ALICE,
        b"Subject: two\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n",
    );
}

#[tokio::test]
async fn stat_list_uidl_retr_top() {
    let srv = TestServer::start().await;
    server_with_mail(&srv);
    let mut c = login(&srv).await;
    c.send("STAT").await;
    c.expect("+OK 2 ").await;
    assert_eq!(multi(&mut c, "LIST").await.len(), 2);
    let uidl = multi(&mut c, "UIDL").await;
    assert_eq!(uidl.len(), 2);
    assert!(
        uidl[0].starts_with("1 ") && uidl[1].starts_with("2 "),
        "{uidl:?}"
    );
    // Dot-stuffing (RFC 1939 §3): lines starting with "." gain one more.
    let body = multi(&mut c, "RETR 2").await;
    assert_eq!(
        body,
        [
            "Subject: two",
            "",
            "..leading dot",
            "...two dots",
            "..",
            "end"
        ]
    );
    let top = multi(&mut c, "TOP 1 0").await;
    assert_eq!(top, ["Subject: one", ""]);
    c.send("RETR 3").await;
    c.expect("-ERR").await;
    c.send("QUIT").await;
    c.expect("+OK").await;

    // UIDL is stable across sessions (RFC 1939 §7).
    let mut again = login(&srv).await;
    assert_eq!(multi(&mut again, "UIDL").await, uidl);
}

#[tokio::test]
async fn dele_then_quit_removes_rset_restores_and_a_drop_keeps() {
    let srv = TestServer::start().await;
    server_with_mail(&srv);
    // DELE + RSET restores.
    let mut c = login(&srv).await;
    c.send("DELE 1").await;
    c.expect("+OK").await;
    c.send("RETR 1").await;
    c.expect("-ERR").await;
    c.send("RSET").await;
    c.expect("+OK").await;
    c.send("QUIT").await;
    c.expect("+OK").await;
    // DELE + dropped connection keeps.
    let mut c = login(&srv).await;
    c.send("DELE 1").await;
    c.expect("+OK").await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut c = login(&srv).await;
    c.send("STAT").await;
    c.expect("+OK 2 ").await;
    // DELE + QUIT removes.
    c.send("DELE 1").await;
    c.expect("+OK").await;
    c.send("QUIT").await;
    c.expect("+OK Logging out, 1 messages deleted").await;
    let mut c = login(&srv).await;
    c.send("STAT").await;
    c.expect("+OK 1 ").await;
}

#[tokio::test]
async fn a_second_session_finds_the_maildrop_in_use() {
    let srv = TestServer::start().await;
    server_with_mail(&srv);
    let _first = login(&srv).await;
    let mut second = pop3s(&srv).await;
    second.send(&format!("USER {ALICE}")).await;
    second.expect("+OK").await;
    second.send(&format!("PASS {PASSWORD}")).await;
    second.expect("-ERR [IN-USE]").await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_answered_alike_and_slowly() {
    let srv = TestServer::start().await;
    srv.add_user(ALICE, PASSWORD);
    let mut answers = Vec::new();
    for user in [ALICE, "nobody@example.test"] {
        let mut c = pop3s(&srv).await;
        c.send(&format!("USER {user}")).await;
        c.expect("+OK").await;
        let started = Instant::now();
        c.send("PASS not the password").await;
        answers.push(c.expect("-ERR").await);
        // A failure costs the client time (the throttle's first delay).
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], "-ERR [AUTH] Authentication failed");
}

#[tokio::test]
async fn auth_plain_with_an_initial_response_after_stls() {
    let srv = TestServer::start().await;
    server_with_mail(&srv);
    let mut c = LineClient::plain(srv.addr("pop3")).await;
    c.expect("+OK").await;
    c.send("STLS").await;
    c.expect("+OK").await;
    let mut c = c.upgrade(HOST, srv.client_config(&[])).await.unwrap();
    let plain = postern_auth::sasl::encode(format!("\0{ALICE}\0{PASSWORD}").as_bytes());
    c.send(&format!("AUTH PLAIN {plain}")).await;
    c.expect("+OK alice@example.test has 2 messages").await;
    c.send("USER again").await;
    c.expect("-ERR").await;
}

#[tokio::test]
async fn auth_login_step_by_step() {
    let srv = TestServer::start().await;
    server_with_mail(&srv);
    let mut c = pop3s(&srv).await;
    c.send("AUTH LOGIN").await;
    c.expect("+ VXNlcm5hbWU6").await;
    c.send(&postern_auth::sasl::encode(ALICE.as_bytes())).await;
    c.expect("+ UGFzc3dvcmQ6").await;
    c.send(&postern_auth::sasl::encode(PASSWORD.as_bytes()))
        .await;
    c.expect("+OK alice@example.test has 2 messages").await;
    // A cancelled exchange leaves the session usable.
    let mut d = pop3s(&srv).await;
    d.send("AUTH PLAIN").await;
    d.expect("+ ").await;
    d.send("*").await;
    d.expect("-ERR").await;
    d.send("CAPA").await;
    d.expect("+OK").await;
}
