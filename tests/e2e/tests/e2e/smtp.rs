//! SMTP over real sockets: submission on 465 (implicit TLS, RFC 8314) and
//! 587 (STARTTLS, RFC 3207 and RFC 6409), the MX port, and the defences
//! around them (no AUTH in clear, no open relay, no spoofed sender, no
//! smuggling, size limits, the greeting delay).

use std::time::{Duration, Instant};

use postern_testkit::{LineClient, TestServer, TestServerBuilder};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub const HOST: &str = "mail.example.test";
pub const ALICE: &str = "alice@example.test";
pub const PASSWORD: &str = "correct horse battery";
const BOB: &str = "bob@example.test";

pub type Tls = LineClient<TlsStream<TcpStream>>;

/// RFC 4648 §4 base64, for SASL.
pub fn b64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The PLAIN message (RFC 4616): no authorization identity.
pub fn plain(user: &str, password: &str) -> String {
    b64(format!("\0{user}\0{password}").as_bytes())
}

/// EHLO and its capability lines.
pub async fn ehlo<S: AsyncRead + AsyncWrite + Unpin>(c: &mut LineClient<S>) -> String {
    c.send("EHLO client.example").await;
    c.read_until("250 ").await.join("\n")
}

/// Connected to `submissions`, greeted, EHLO said.
pub async fn submissions(srv: &TestServer) -> Tls {
    let mut c = LineClient::tls(srv.addr("submissions"), HOST, srv.client_config(&[]))
        .await
        .expect("TLS to submissions");
    c.expect("220 ").await;
    ehlo(&mut c).await;
    c
}

/// Connected to `submission`, STARTTLS done, EHLO said again.
pub async fn submission_starttls(srv: &TestServer) -> Tls {
    let mut c = LineClient::plain(srv.addr("submission")).await;
    c.expect("220 ").await;
    ehlo(&mut c).await;
    c.send("STARTTLS").await;
    c.expect("220 2.0.0").await;
    let mut c = c
        .upgrade(HOST, srv.client_config(&[]))
        .await
        .expect("STARTTLS handshake");
    let caps = ehlo(&mut c).await;
    assert!(caps.contains("AUTH PLAIN LOGIN"), "{caps}");
    c
}

/// `submissions` with `user` logged in by AUTH PLAIN with an initial
/// response.
pub async fn logged_in(srv: &TestServer, user: &str) -> Tls {
    let mut c = submissions(srv).await;
    c.send(&format!("AUTH PLAIN {}", plain(user, PASSWORD)))
        .await;
    c.expect("235 2.7.0").await;
    c
}

/// RFC 5321 §4.5.2: a line starting with "." gets one more.
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    let mut line_start = true;
    for &b in body {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    out
}

/// DATA with `body` (CRLF-terminated lines), dot-stuffed; the reply to
/// the end of data.
pub async fn data<S: AsyncRead + AsyncWrite + Unpin>(c: &mut LineClient<S>, body: &[u8]) -> String {
    c.send("DATA").await;
    c.expect("354").await;
    let mut wire = dot_stuff(body);
    wire.extend_from_slice(b".\r\n");
    c.send_raw(&wire).await;
    c.read_line().await.expect("a reply to the end of data")
}

/// One whole transaction; the reply to the end of data.
pub async fn send_mail<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut LineClient<S>,
    from: &str,
    to: &[&str],
    body: &[u8],
) -> String {
    c.send(&format!("MAIL FROM:<{from}>")).await;
    c.expect("250 2.1.0").await;
    for rcpt in to {
        c.send(&format!("RCPT TO:<{rcpt}>")).await;
        c.expect("250 2.1.5").await;
    }
    data(c, body).await
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Splits a stored message into our Received header field (checked to be
/// exactly one field, every line break a fold) and the rest.
pub fn split_received(raw: &[u8]) -> (String, &[u8]) {
    let text = String::from_utf8_lossy(raw);
    assert!(text.starts_with("Received: "), "no Received first:\n{text}");
    let mut end = 0;
    while let Some(p) = text[end..].find("\r\n") {
        end += p + 2;
        if !text[end..].starts_with('\t') {
            break;
        }
    }
    (text[..end].to_owned(), &raw[end..])
}

/// The message's bytes as POP3 RETR gives them back over `pop3s`, the
/// dot-stuffing undone and the lines joined with CRLF again.
async fn pop3_retr(srv: &TestServer, user: &str, n: usize) -> Vec<u8> {
    let mut c = LineClient::tls(srv.addr("pop3s"), HOST, srv.client_config(&[b"pop3"]))
        .await
        .expect("TLS to pop3s");
    c.expect("+OK").await;
    c.send(&format!("USER {user}")).await;
    c.expect("+OK").await;
    c.send(&format!("PASS {PASSWORD}")).await;
    c.expect("+OK").await;
    c.send(&format!("RETR {n}")).await;
    c.expect("+OK").await;
    let mut raw = Vec::new();
    loop {
        match c.read_line().await.as_deref() {
            Some(".") => break,
            Some(line) => {
                raw.extend_from_slice(line.strip_prefix('.').unwrap_or(line).as_bytes());
                raw.extend_from_slice(b"\r\n");
            }
            None => panic!("EOF inside RETR:\n{}", c.transcript()),
        }
    }
    c.send("QUIT").await;
    c.expect("+OK").await;
    raw
}

/// The TLS version and cipher suite our client negotiated, named as the
/// server names them in its Received header.
fn negotiated(c: &Tls) -> (String, String) {
    let conn = c.get_ref().get_ref().1;
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
        other => panic!("unexpected TLS version {other:?}"),
    };
    let suite = conn.negotiated_cipher_suite().expect("a cipher suite");
    // RFC 8314 §7.4: the IANA name (TLS 1.3 suites are `TLS_...`, which
    // rustls spells `TLS13_...`).
    let name = postern_tls::policy::suite_name(&suite).replacen("TLS13_", "TLS_", 1);
    (version, name)
}

fn server_with_alice(srv: &TestServer) {
    srv.add_user(ALICE, PASSWORD);
    srv.add_user(BOB, PASSWORD);
}

/// A message whose lines exercise dot-stuffing, 8-bit text and a long
/// line, so that "byte for byte" means something.
fn sample_message(from: &str, to: &str, subject: &str) -> Vec<u8> {
    let long = "x".repeat(900);
    format!(
        "From: Alice <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello,\r\n.a line starting with a dot\r\n..and two\r\n.\r\n caf\u{e9} \u{2603}\r\n{long}\r\n\r\n-- \r\nAlice\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn submission_on_465_is_read_back_byte_for_byte_through_pop3() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    let mut c = logged_in(&srv, ALICE).await;
    let (version, suite) = negotiated(&c);
    let body = sample_message(ALICE, BOB, "implicit-tls");
    let reply = send_mail(&mut c, ALICE, &[BOB], &body).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    c.send("QUIT").await;
    c.expect("221").await;

    let raw = pop3_retr(&srv, BOB, 1).await;
    let (received, rest) = split_received(&raw);
    assert_eq!(
        String::from_utf8_lossy(rest),
        String::from_utf8_lossy(&body)
    );
    assert_eq!(rest, &body[..]);
    // RFC 3848: ESMTPSA, TLS and authenticated; RFC 8314 §4.3 style: the
    // version and cipher of this very connection.
    assert!(received.contains("with ESMTPSA id "), "{received}");
    assert!(
        received.contains(&format!("tls {suite} ({version})")),
        "want {suite} ({version}):\n{received}"
    );
    assert!(received.contains(&format!("for <{BOB}>")), "{received}");
    assert!(received.contains("by mail.example.test"), "{received}");
    // The store holds exactly what POP3 served.
    assert_eq!(srv.inbox(BOB), vec![raw]);
}

#[tokio::test]
async fn submission_on_587_after_starttls_with_plain_after_334_and_login() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);

    // AUTH PLAIN without an initial response: an empty 334, then the
    // response (RFC 4954 §4).
    let mut c = submission_starttls(&srv).await;
    let (version, suite) = negotiated(&c);
    c.send("AUTH PLAIN").await;
    let challenge = c.expect("334").await;
    assert_eq!(challenge.trim_end(), "334", "{}", c.transcript());
    c.send(&plain(ALICE, PASSWORD)).await;
    c.expect("235 2.7.0").await;
    let body = sample_message(ALICE, BOB, "starttls-plain");
    let reply = send_mail(&mut c, ALICE, &[BOB], &body).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    c.send("QUIT").await;
    c.expect("221").await;

    // AUTH LOGIN: "Username:" and "Password:" challenges, base64.
    let mut c = submission_starttls(&srv).await;
    c.send("AUTH LOGIN").await;
    c.expect(&format!("334 {}", b64(b"Username:"))).await;
    c.send(&b64(ALICE.as_bytes())).await;
    c.expect(&format!("334 {}", b64(b"Password:"))).await;
    c.send(&b64(PASSWORD.as_bytes())).await;
    c.expect("235 2.7.0").await;
    let body2 = sample_message(ALICE, BOB, "starttls-login");
    let reply = send_mail(&mut c, ALICE, &[BOB], &body2).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    c.send("QUIT").await;
    c.expect("221").await;

    let inbox = srv.inbox(BOB);
    assert_eq!(inbox.len(), 2);
    for (raw, sent) in inbox.iter().zip([&body, &body2]) {
        let (received, rest) = split_received(raw);
        assert_eq!(rest, &sent[..]);
        assert!(received.contains("with ESMTPSA id "), "{received}");
        assert!(
            received.contains(&format!("tls {suite} ({version})")),
            "{received}"
        );
    }
    assert_eq!(pop3_retr(&srv, BOB, 2).await, inbox[1]);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_535() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    let mut answers = Vec::new();
    for (user, password) in [(ALICE, "wrong password"), ("nobody@example.test", PASSWORD)] {
        let mut c = submissions(&srv).await;
        c.send(&format!("AUTH PLAIN {}", plain(user, password)))
            .await;
        answers.push(c.expect("535 5.7.8").await);
        // Still not logged in.
        c.send(&format!("MAIL FROM:<{ALICE}>")).await;
        c.expect("530 5.7.0").await;
    }
    assert_eq!(answers[0], answers[1]);
    // AUTH LOGIN fails the same way.
    let mut c = submissions(&srv).await;
    c.send(&format!("AUTH LOGIN {}", b64(ALICE.as_bytes())))
        .await;
    c.expect("334 ").await;
    c.send(&b64(b"wrong password")).await;
    assert_eq!(c.expect("535 5.7.8").await, answers[0]);
}

#[tokio::test]
async fn bdat_chunks_with_last_make_one_message() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    let mut c = logged_in(&srv, ALICE).await;
    let body = sample_message(ALICE, BOB, "chunking");
    let (first, second) = body.split_at(100);
    c.send(&format!("MAIL FROM:<{ALICE}> BODY=8BITMIME")).await;
    c.expect("250 2.1.0").await;
    c.send(&format!("RCPT TO:<{BOB}>")).await;
    c.expect("250 2.1.5").await;
    // RFC 3030 §2: the chunk follows its command directly, no dot-stuffing.
    let mut wire = format!("BDAT {}\r\n", first.len()).into_bytes();
    wire.extend_from_slice(first);
    c.send_raw(&wire).await;
    c.expect(&format!("250 2.0.0 {} octets", first.len())).await;
    let mut wire = format!("BDAT {} LAST\r\n", second.len()).into_bytes();
    wire.extend_from_slice(second);
    c.send_raw(&wire).await;
    c.expect("250 2.0.0").await;
    // An empty last chunk after a new transaction works too (RFC 3030 §3).
    c.send(&format!("MAIL FROM:<{ALICE}>")).await;
    c.expect("250 2.1.0").await;
    c.send(&format!("RCPT TO:<{BOB}>")).await;
    c.expect("250 2.1.5").await;
    let mut wire = format!("BDAT {}\r\n", body.len()).into_bytes();
    wire.extend_from_slice(&body);
    wire.extend_from_slice(b"BDAT 0 LAST\r\n");
    c.send_raw(&wire).await;
    c.expect("250 2.0.0").await;
    c.expect("250 2.0.0").await;
    c.send("QUIT").await;
    c.expect("221").await;

    let inbox = srv.inbox(BOB);
    assert_eq!(inbox.len(), 2, "{}", c.transcript());
    for raw in &inbox {
        let (received, rest) = split_received(raw);
        assert_eq!(rest, &body[..]);
        assert!(received.contains("with ESMTPSA"), "{received}");
    }
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    let mut c = logged_in(&srv, ALICE).await;
    // RFC 2920 §3.1: the whole envelope and DATA in one write.
    c.send_raw(
        format!(
            "MAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n"
        )
        .as_bytes(),
    )
    .await;
    c.expect("250 2.1.0").await;
    c.expect("250 2.1.5").await;
    c.expect("550 5.1.1").await;
    c.expect("250 2.1.5").await;
    c.expect("354").await;
    let body = sample_message(ALICE, BOB, "pipelined");
    let mut wire = dot_stuff(&body);
    // The end of data and the next transaction in the same write.
    wire.extend_from_slice(
        format!(
            ".\r\nMAIL FROM:<{ALICE}>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\nRSET\r\nNOOP\r\n"
        )
        .as_bytes(),
    );
    c.send_raw(&wire).await;
    c.expect("250 2.0.0").await;
    c.expect("250 2.1.0").await;
    c.expect("550 5.1.1").await;
    // RFC 2920 §3.1: DATA with no accepted recipient fails.
    c.expect("554 5.5.1").await;
    c.expect("250").await;
    c.expect("250").await;
    c.send("QUIT").await;
    c.expect("221").await;
    assert_eq!(srv.inbox(BOB).len(), 1);
    assert_eq!(srv.inbox(ALICE).len(), 1);
}

#[tokio::test]
async fn auth_is_neither_advertised_nor_accepted_before_starttls() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    let mut c = LineClient::plain(srv.addr("submission")).await;
    c.expect("220 ").await;
    let caps = ehlo(&mut c).await;
    assert!(!caps.contains("AUTH"), "{caps}");
    // Right credentials, in clear: refused, and nothing is logged in.
    c.send(&format!("AUTH PLAIN {}", plain(ALICE, PASSWORD)))
        .await;
    c.expect("530 5.7.0").await;
    c.send("AUTH LOGIN").await;
    c.expect("530 5.7.0").await;
    c.send(&format!("MAIL FROM:<{ALICE}>")).await;
    c.expect("530 5.7.0").await;
    c.send("QUIT").await;
    c.expect("221").await;
    // The MX port never offers AUTH, not even under TLS.
    let mut c = LineClient::plain(srv.addr("smtp")).await;
    c.expect("220 ").await;
    ehlo(&mut c).await;
    c.send("STARTTLS").await;
    c.expect("220 2.0.0").await;
    let mut c = c.upgrade(HOST, srv.client_config(&[])).await.unwrap();
    let caps = ehlo(&mut c).await;
    assert!(!caps.contains("AUTH"), "{caps}");
    c.send(&format!("AUTH PLAIN {}", plain(ALICE, PASSWORD)))
        .await;
    c.expect("5").await;
}

/// CVE-2011-0411: the injected RSET never gets an answer, before or after
/// the handshake; the connection closes.
#[tokio::test]
async fn starttls_with_an_injected_command_closes_the_connection() {
    let srv = TestServer::start().await;
    for listener in ["submission", "smtp"] {
        let mut c = LineClient::plain(srv.addr(listener)).await;
        c.expect("220 ").await;
        ehlo(&mut c).await;
        c.send_raw(b"STARTTLS\r\nRSET\r\n").await;
        c.expect("220 2.0.0").await;
        // No "250" for RSET: the next thing is the end of the connection.
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn mail_before_auth_on_submission_is_refused() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    let mut c = submissions(&srv).await;
    c.send(&format!("MAIL FROM:<{ALICE}>")).await;
    c.expect("530 5.7.0").await;
    c.send(&format!("RCPT TO:<{BOB}>")).await;
    c.expect("503").await;
    c.send("DATA").await;
    c.expect("503").await;
    let mut c = submission_starttls(&srv).await;
    c.send(&format!("MAIL FROM:<{ALICE}>")).await;
    c.expect("530 5.7.0").await;
    assert!(srv.inbox(BOB).is_empty());
}

#[tokio::test]
async fn no_open_relay_on_the_mx_port_or_unauthenticated_submission() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    let mut c = LineClient::plain(srv.addr("smtp")).await;
    c.expect("220 ").await;
    ehlo(&mut c).await;
    // Even with one of our own users as the sender.
    for sender in ["someone@elsewhere.example", ALICE] {
        c.send(&format!("MAIL FROM:<{sender}>")).await;
        c.expect("250 2.1.0").await;
        c.send("RCPT TO:<victim@elsewhere.example>").await;
        c.expect("550 5.7.1").await;
        // RFC 5321 §3.6.1 and Appendix C: a source route names the last
        // hop; it is not a way around the rule.
        c.send("RCPT TO:<@example.test:victim@elsewhere.example>")
            .await;
        c.expect("5").await;
        c.send("DATA").await;
        c.expect("554").await;
        c.send("RSET").await;
        c.expect("250").await;
    }
    // The old percent hack is a local part of ours, and unknown.
    c.send("MAIL FROM:<someone@elsewhere.example>").await;
    c.expect("250 2.1.0").await;
    c.send("RCPT TO:<victim%elsewhere.example@example.test>")
        .await;
    c.expect("550 5.1.1").await;
    c.send("QUIT").await;
    c.expect("221").await;

    // Submission after STARTTLS, without AUTH: not even a sender.
    let mut c = submission_starttls(&srv).await;
    c.send("MAIL FROM:<someone@elsewhere.example>").await;
    c.expect("530 5.7.0").await;
    c.send("RCPT TO:<victim@elsewhere.example>").await;
    c.expect("503").await;
    assert!(
        srv.server().store().queue_list().unwrap().is_empty(),
        "something was queued"
    );
}

#[tokio::test]
async fn an_authenticated_user_cannot_send_as_someone_else() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    let alias = "a.smith@example.test";
    srv.server()
        .store()
        .add_alias(alias, &[ALICE.to_owned()])
        .unwrap();
    let mut c = logged_in(&srv, ALICE).await;
    // The envelope sender of another account, or of another domain.
    for other in [BOB, "ceo@bank.example"] {
        c.send(&format!("MAIL FROM:<{other}>")).await;
        c.expect("553").await;
        c.send(&format!("RCPT TO:<{BOB}>")).await;
        c.expect("503").await;
    }
    c.send("MAIL FROM:<>").await;
    c.expect("553").await;
    // A From header of someone else, behind our own envelope sender.
    let forged = format!("From: Bob <{BOB}>\r\nTo: {BOB}\r\nSubject: forged\r\n\r\nhi\r\n");
    let reply = send_mail(&mut c, ALICE, &[BOB], forged.as_bytes()).await;
    assert!(reply.starts_with("553"), "{}", c.transcript());
    let two = format!("From: {ALICE}, {BOB}\r\nSubject: two\r\n\r\nhi\r\n");
    let reply = send_mail(&mut c, ALICE, &[BOB], two.as_bytes()).await;
    assert!(reply.starts_with("553"), "{}", c.transcript());
    assert!(srv.inbox(BOB).is_empty());
    // An alias of hers is hers, in the envelope and in the header, in
    // any case.
    let own = format!(
        "From: \"A. Smith\" <A.Smith@Example.TEST>\r\nTo: {BOB}\r\nSubject: alias\r\n\r\nhi\r\n"
    );
    let reply = send_mail(&mut c, alias, &[BOB], own.as_bytes()).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    let reply = send_mail(&mut c, ALICE, &[BOB], own.as_bytes()).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    assert_eq!(srv.inbox(BOB).len(), 2);
}

#[tokio::test]
async fn the_mx_port_takes_mail_for_known_local_recipients_only() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    let mut c = LineClient::plain(srv.addr("smtp")).await;
    c.expect("220 ").await;
    ehlo(&mut c).await;
    c.send("MAIL FROM:<someone@elsewhere.example>").await;
    c.expect("250 2.1.0").await;
    c.send("RCPT TO:<nobody@example.test>").await;
    c.expect("550 5.1.1").await;
    c.send(&format!("RCPT TO:<{ALICE}>")).await;
    c.expect("250 2.1.5").await;
    let body = b"From: someone@elsewhere.example\r\nSubject: in clear\r\n\r\nhello\r\n";
    let reply = data(&mut c, body).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    // The same after STARTTLS: the trace header says ESMTPS.
    c.send("STARTTLS").await;
    c.expect("220 2.0.0").await;
    let mut c = c.upgrade(HOST, srv.client_config(&[])).await.unwrap();
    ehlo(&mut c).await;
    let (version, suite) = negotiated(&c);
    let reply = send_mail(&mut c, "someone@elsewhere.example", &[ALICE], body).await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());

    let inbox = srv.inbox(ALICE);
    assert_eq!(inbox.len(), 2);
    let (plain_trace, rest) = split_received(&inbox[0]);
    assert_eq!(rest, &body[..]);
    assert!(plain_trace.contains("with ESMTP id "), "{plain_trace}");
    assert!(!plain_trace.contains("\ttls "), "{plain_trace}");
    let (tls_trace, rest) = split_received(&inbox[1]);
    assert_eq!(rest, &body[..]);
    assert!(tls_trace.contains("with ESMTPS id "), "{tls_trace}");
    assert!(
        tls_trace.contains(&format!("tls {suite} ({version})")),
        "{tls_trace}"
    );
}

/// SMTP smuggling (2023): an end of data that some other server would
/// accept, then a second transaction inside the first message. Only
/// CRLF "." CRLF ends DATA (RFC 5321 §4.1.1.4); a bare CR or LF is refused
/// (§2.3.8).
#[tokio::test]
async fn smtp_smuggling_variants_never_split_a_message() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    let variants: [&[u8]; 6] = [
        b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r\n.\r", b"\r.\r\n",
    ];
    for (i, ending) in variants.into_iter().enumerate() {
        let mut c = LineClient::plain(srv.addr("smtp")).await;
        c.expect("220 ").await;
        ehlo(&mut c).await;
        c.send("MAIL FROM:<attacker@elsewhere.example>").await;
        c.expect("250 2.1.0").await;
        c.send(&format!("RCPT TO:<{ALICE}>")).await;
        c.expect("250 2.1.5").await;
        c.send("DATA").await;
        c.expect("354").await;
        let mut wire = b"From: attacker@elsewhere.example\r\nSubject: outer\r\n\r\nouter".to_vec();
        wire.extend_from_slice(ending);
        wire.extend_from_slice(
            format!("MAIL FROM:<{BOB}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\nFrom: {BOB}\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n").as_bytes(),
        );
        c.send_raw(&wire).await;
        // One answer for the whole thing: the message with a bare line
        // ending is refused (a content error, RFC 3463 §3.7: 5.6.x); no
        // 250 for a smuggled MAIL or RCPT.
        let refusal = c.expect("550 5.6.").await;
        assert!(refusal.contains("Bare CR or LF"), "{refusal}");
        c.send("NOOP").await;
        c.expect("250").await;
        let inbox = srv.inbox(ALICE);
        assert!(
            inbox.is_empty(),
            "variant {i} {ending:?} stored {} message(s):\n{}",
            inbox.len(),
            c.transcript()
        );
    }
}

#[tokio::test]
async fn an_oversize_message_is_refused_and_not_stored() {
    let srv = TestServerBuilder::new()
        .toml("[smtp]\nmax_message_size = 65536")
        .start()
        .await;
    server_with_alice(&srv);
    let mut c = logged_in(&srv, ALICE).await;
    let caps = {
        c.send("EHLO client.example").await;
        c.read_until("250 ").await.join("\n")
    };
    assert!(caps.contains("SIZE 65536"), "{caps}");
    // Declared (RFC 1870 §6.1).
    c.send(&format!("MAIL FROM:<{ALICE}> SIZE=65537")).await;
    c.expect("552 5.3.4").await;
    // Not declared: refused at the end of data (§6.3), and the
    // transaction is over.
    let big = format!(
        "From: {ALICE}\r\nSubject: big\r\n\r\n{}",
        format!("{}\r\n", "y".repeat(998)).repeat(70)
    );
    c.send(&format!("MAIL FROM:<{ALICE}> SIZE=1000")).await;
    c.expect("250 2.1.0").await;
    c.send(&format!("RCPT TO:<{BOB}>")).await;
    c.expect("250 2.1.5").await;
    let reply = data(&mut c, big.as_bytes()).await;
    assert!(reply.starts_with("552 5.3.4"), "{}", c.transcript());
    c.send(&format!("RCPT TO:<{BOB}>")).await;
    c.expect("503").await;
    // With BDAT too.
    c.send(&format!("MAIL FROM:<{ALICE}>")).await;
    c.expect("250 2.1.0").await;
    c.send(&format!("RCPT TO:<{BOB}>")).await;
    c.expect("250 2.1.5").await;
    let mut wire = format!("BDAT {} LAST\r\n", big.len()).into_bytes();
    wire.extend_from_slice(big.as_bytes());
    c.send_raw(&wire).await;
    c.expect("552 5.3.4").await;
    // The session goes on: a small one passes.
    let reply = send_mail(&mut c, ALICE, &[BOB], b"Subject: small\r\n\r\nok\r\n").await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    let inbox = srv.inbox(BOB);
    assert_eq!(inbox.len(), 1, "{}", c.transcript());
    assert!(split_received(&inbox[0]).1.ends_with(b"ok\r\n"));
}

#[tokio::test]
async fn a_connection_dropped_mid_data_delivers_nothing() {
    let srv = TestServer::start().await;
    server_with_alice(&srv);
    for listener in ["smtp", "submissions"] {
        let body = format!("From: {ALICE}\r\nSubject: cut\r\n\r\nsome text\r\n");
        if listener == "smtp" {
            let mut c = LineClient::plain(srv.addr("smtp")).await;
            c.expect("220 ").await;
            ehlo(&mut c).await;
            c.send(&format!("MAIL FROM:<{BOB}>")).await;
            c.expect("250").await;
            c.send(&format!("RCPT TO:<{ALICE}>")).await;
            c.expect("250").await;
            c.send("DATA").await;
            c.expect("354").await;
            // Everything but the final "." line.
            c.send_raw(body.as_bytes()).await;
            drop(c);
        } else {
            let mut c = logged_in(&srv, ALICE).await;
            c.send(&format!("MAIL FROM:<{ALICE}>")).await;
            c.expect("250").await;
            c.send(&format!("RCPT TO:<{ALICE}>")).await;
            c.expect("250").await;
            let mut wire = format!("BDAT {} LAST\r\n", body.len() + 10).into_bytes();
            wire.extend_from_slice(body.as_bytes());
            c.send_raw(&wire).await;
            drop(c);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(srv.inbox(ALICE).is_empty());
    // The server is fine.
    let mut c = logged_in(&srv, ALICE).await;
    let reply = send_mail(&mut c, ALICE, &[ALICE], b"Subject: whole\r\n\r\nok\r\n").await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    assert_eq!(srv.inbox(ALICE).len(), 1);
}

#[tokio::test]
async fn the_greeting_delay_refuses_early_talkers_and_greets_the_patient() {
    let srv = TestServerBuilder::new()
        .toml("[smtp]\ngreeting_delay = \"1s\"")
        .start()
        .await;
    server_with_alice(&srv);
    // A pipelining spammer: talks at once.
    let mut c = LineClient::plain(srv.addr("smtp")).await;
    c.send_raw(b"EHLO spam.example\r\nMAIL FROM:<spam@spam.example>\r\n")
        .await;
    c.expect("554 5.5.0").await;
    c.expect_closed().await;
    assert!(!c.transcript().contains("S: 220"), "{}", c.transcript());
    // A patient client is greeted after the delay.
    let start = Instant::now();
    let mut c = LineClient::plain(srv.addr("smtp")).await;
    c.expect("220 ").await;
    assert!(start.elapsed() >= Duration::from_millis(900));
    ehlo(&mut c).await;
    let reply = send_mail(
        &mut c,
        "someone@elsewhere.example",
        &[ALICE],
        b"Subject: patient\r\n\r\nhi\r\n",
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{}", c.transcript());
    // Submission does not wait (people's mail programs).
    let start = Instant::now();
    let _c = submissions(&srv).await;
    assert!(start.elapsed() < Duration::from_millis(900));
}
