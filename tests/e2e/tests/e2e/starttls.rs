//! STARTTLS on SMTP, IMAP and POP3: capabilities before and after, no
//! credentials before TLS, and command injection.

use postern_testkit::{LineClient, TestServer};

const HOST: &str = "mail.example.test";

#[tokio::test]
async fn submission_offers_auth_only_after_starttls() {
    let srv = TestServer::start().await;
    let mut c = LineClient::plain(srv.addr("submission")).await;
    c.expect("220 mail.example.test ESMTP").await;
    c.send("EHLO client.example").await;
    let ehlo = c.read_until("250 ").await.join("\n");
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(!ehlo.contains("AUTH"), "no AUTH before TLS:\n{ehlo}");
    c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await;
    c.expect("530 5.7.0").await;
    c.send("MAIL FROM:<alice@example.test>").await;
    c.expect("530 5.7.0").await;
    c.send("STARTTLS").await;
    c.expect("220 2.0.0").await;
    let mut c = c.upgrade(HOST, srv.client_config(&[])).await.unwrap();
    // RFC 3207 §4.2: no greeting after the handshake; the client starts over.
    c.send("EHLO client.example").await;
    let ehlo = c.read_until("250 ").await.join("\n");
    assert!(ehlo.contains("AUTH PLAIN"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    c.send("QUIT").await;
    c.expect("221").await;
}

#[tokio::test]
async fn the_mx_port_offers_no_auth_relays_nothing_and_reveals_no_users() {
    let srv = TestServer::start().await;
    let mut c = LineClient::plain(srv.addr("smtp")).await;
    c.expect("220 ").await;
    c.send("EHLO relay.example").await;
    let ehlo = c.read_until("250 ").await.join("\n");
    assert!(
        ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    c.send("VRFY postmaster").await;
    c.expect("252 ").await;
    c.send("VRFY no-such-user-here").await;
    c.expect("252 ").await;
    c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await;
    c.expect("5").await;
    c.send("MAIL FROM:<someone@elsewhere.example>").await;
    c.expect("250 2.1.0").await;
    // Never an open relay: a foreign recipient is refused at RCPT.
    c.send("RCPT TO:<victim@elsewhere.example>").await;
    c.expect("550 5.7.1").await;
    c.send("QUIT").await;
    c.expect("221").await;
}

#[tokio::test]
async fn imap_refuses_login_before_tls() {
    let srv = TestServer::start().await;
    let mut c = LineClient::plain(srv.addr("imap")).await;
    c.expect("* OK").await;
    c.send("a CAPABILITY").await;
    let caps = c.read_until("a OK").await.join("\n");
    assert!(
        caps.contains("STARTTLS") && caps.contains("LOGINDISABLED"),
        "{caps}"
    );
    assert!(!caps.contains("AUTH="), "{caps}");
    c.send("b LOGIN alice secret").await;
    c.expect("b NO [PRIVACYREQUIRED]").await;
    c.send("c STARTTLS").await;
    c.expect("c OK").await;
    let mut c = c.upgrade(HOST, srv.client_config(&[])).await.unwrap();
    c.send("d CAPABILITY").await;
    let caps = c.read_until("d OK").await.join("\n");
    assert!(caps.contains("AUTH=PLAIN"), "{caps}");
    assert!(
        !caps.contains("STARTTLS") && !caps.contains("LOGINDISABLED"),
        "{caps}"
    );
    c.send("e LOGOUT").await;
    c.expect("* BYE").await;
}

#[tokio::test]
async fn pop3_refuses_user_before_stls() {
    let srv = TestServer::start().await;
    let mut c = LineClient::plain(srv.addr("pop3")).await;
    c.expect("+OK").await;
    c.send("CAPA").await;
    let caps = c.read_until(".").await.join("\n");
    assert!(caps.contains("STLS"), "{caps}");
    assert!(!caps.contains("USER") && !caps.contains("SASL"), "{caps}");
    c.send("USER alice").await;
    c.expect("-ERR [AUTH]").await;
    c.send("STLS").await;
    c.expect("+OK").await;
    let mut c = c.upgrade(HOST, srv.client_config(&[])).await.unwrap();
    c.send("CAPA").await;
    let caps = c.read_until(".").await.join("\n");
    assert!(
        caps.contains("USER") && caps.contains("SASL PLAIN"),
        "{caps}"
    );
    assert!(!caps.contains("STLS"), "{caps}");
    // Without accounts every login fails, and identically for any name.
    let mut answers = Vec::new();
    for user in ["postmaster", "no-such-user"] {
        c.send(&format!("USER {user}")).await;
        c.expect("+OK").await;
        c.send("PASS wrong").await;
        answers.push(c.expect("-ERR").await);
    }
    assert_eq!(answers[0], answers[1]);
}

/// CVE-2011-0411 class: a man in the middle appends a command to the
/// client's STARTTLS; it must never run, before or after the handshake.
#[tokio::test]
async fn pipelined_plaintext_after_starttls_is_never_executed() {
    let srv = TestServer::start().await;
    for (listener, greeting, injection, go_ahead) in [
        ("smtp", "220", "EHLO x\r\nSTARTTLS\r\nRSET\r\n", "220 2.0.0"),
        ("submission", "220", "STARTTLS\r\nNOOP\r\n", "220 2.0.0"),
        ("imap", "* OK", "a STARTTLS\r\nb CAPABILITY\r\n", "a OK"),
        ("pop3", "+OK", "STLS\r\nCAPA\r\n", "+OK"),
    ] {
        let mut c = LineClient::plain(srv.addr(listener)).await;
        c.expect(greeting).await;
        c.send_raw(injection.as_bytes()).await;
        if listener == "smtp" {
            c.read_until("250 ").await;
        }
        c.expect(go_ahead).await;
        // The injected command gets no answer: the connection just closes.
        c.expect_closed().await;
    }
    let m = crate::tls::metrics(&srv).await;
    assert!(m.contains("postern_connections_refused_total{listener=\"pop3\",reason=\"plaintext_after_starttls\"} 1"), "{m}");
}

#[tokio::test]
async fn a_second_starttls_inside_tls_is_refused() {
    let srv = TestServer::start().await;
    let mut c = LineClient::plain(srv.addr("pop3")).await;
    c.expect("+OK").await;
    c.send("STLS").await;
    c.expect("+OK").await;
    let mut c = c.upgrade(HOST, srv.client_config(&[])).await.unwrap();
    c.send("STLS").await;
    c.expect("-ERR").await;
    c.send("QUIT").await;
    c.expect("+OK").await;
}
