//! Proxy listeners: TLS and the login here, the protocol relayed to a back
//! end. The back end is a small fake in this file that records every byte
//! it receives, so each test can check what did (or did not) reach it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use postern_testkit::server::unused_port;
use postern_testkit::{LineClient, TestCa, TestServer, TestServerBuilder};
use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const HOST: &str = "mail.example.test";
const PROXY_V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Imap,
    Pop3,
    Smtp,
}

/// One connection the fake back end received.
#[derive(Default, Clone, Debug)]
struct Seen {
    /// The PROXY v2 header, if the connection began with one.
    header: Vec<u8>,
    /// Everything after it (inside TLS when the back end speaks TLS).
    text: String,
}

/// A fake IMAP/POP3/SMTP back end on loopback. The password "secret" is
/// the right one.
#[derive(Clone)]
struct Fake {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    async fn start(kind: Kind) -> Self {
        Self::start_with(kind, None, false).await
    }

    /// With `tls`, TLS from the first byte after the PROXY header, or
    /// after the STARTTLS command if `starttls`.
    async fn start_with(kind: Kind, tls: Option<Arc<ServerConfig>>, starttls: bool) -> Self {
        let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            addr: socket.local_addr().unwrap(),
            seen: Arc::default(),
        };
        let seen = fake.seen.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = socket.accept().await {
                let (seen, tls) = (seen.clone(), tls.clone());
                tokio::spawn(async move {
                    let index = {
                        let mut s = seen.lock().unwrap();
                        s.push(Seen::default());
                        s.len() - 1
                    };
                    let _ = serve(kind, tcp, tls, starttls, &seen, index).await;
                });
            }
        });
        fake
    }

    fn upstream(&self) -> String {
        self.addr.to_string()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    kind: Kind,
    mut tcp: tokio::net::TcpStream,
    tls: Option<Arc<ServerConfig>>,
    starttls: bool,
    seen: &Mutex<Vec<Seen>>,
    index: usize,
) -> std::io::Result<()> {
    // A client speaks first only with a PROXY header; otherwise the
    // greeting is due (a short wait tells which).
    let mut peek = [0u8; 16];
    let wait = std::time::Duration::from_millis(300);
    let n = match tokio::time::timeout(wait, tcp.peek(&mut peek)).await {
        Ok(Ok(n)) => n,
        _ => 0,
    };
    if n == 16 && peek.starts_with(PROXY_V2_SIGNATURE) {
        let len = u16::from_be_bytes([peek[14], peek[15]]) as usize;
        let mut header = vec![0; 16 + len];
        tcp.read_exact(&mut header).await?;
        seen.lock().unwrap()[index].header = header;
    }
    match tls {
        Some(config) if starttls => {
            let Some(tcp) = dialogue(kind, tcp, true, true, seen, index).await? else {
                return Ok(());
            };
            seen.lock().unwrap()[index].text.push_str("-- TLS --\r\n");
            let stream = TlsAcceptor::from(config).accept(tcp).await?;
            dialogue(kind, stream, false, false, seen, index)
                .await
                .map(drop)
        }
        Some(config) => {
            let stream = TlsAcceptor::from(config).accept(tcp).await?;
            dialogue(kind, stream, true, false, seen, index)
                .await
                .map(drop)
        }
        None => dialogue(kind, tcp, true, false, seen, index)
            .await
            .map(drop),
    }
}

/// Answers until the peer leaves; with `starttls`, hands the stream back
/// after the go-ahead to an IMAP STARTTLS.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    kind: Kind,
    stream: S,
    greet: bool,
    starttls: bool,
    seen: &Mutex<Vec<Seen>>,
    index: usize,
) -> std::io::Result<Option<S>> {
    let mut io = BufReader::new(stream);
    let greeting: &[u8] = match kind {
        Kind::Imap => b"* OK fake ready\r\n",
        Kind::Pop3 => b"+OK fake ready\r\n",
        Kind::Smtp => b"220 fake ESMTP\r\n",
    };
    if greet {
        io.get_mut().write_all(greeting).await?;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if io.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        seen.lock().unwrap()[index].text.push_str(&line);
        if starttls && line.trim_end().ends_with(" STARTTLS") {
            let tag = line.split(' ').next().unwrap_or_default().to_owned();
            io.get_mut()
                .write_all(format!("{tag} OK begin TLS\r\n").as_bytes())
                .await?;
            return Ok(Some(io.into_inner()));
        }
        let answer = match kind {
            Kind::Imap => imap_answer(line.trim_end()),
            Kind::Pop3 => pop3_answer(line.trim_end()),
            Kind::Smtp => smtp_answer(line.trim_end()),
        };
        io.get_mut().write_all(answer.as_bytes()).await?;
    }
}

fn imap_answer(line: &str) -> String {
    if line.ends_with('}') {
        return "+ go on\r\n".into();
    }
    // The rest of a LOGIN after its literal: the password alone.
    if !line.contains(' ') {
        return match line == "secret" {
            true => "P3 OK [CAPABILITY IMAP4rev2 FAKE] Logged in\r\n".into(),
            false => "P3 NO [AUTHENTICATIONFAILED] nope\r\n".into(),
        };
    }
    let (tag, cmd) = line.split_once(' ').unwrap_or((line, ""));
    let verb = cmd
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match verb.as_str() {
        "LOGIN" if line.contains("secret") => {
            format!(
                "* CAPABILITY IMAP4rev2 FAKE\r\n{tag} OK [CAPABILITY IMAP4rev2 FAKE] Logged in\r\n"
            )
        }
        "LOGIN" => format!("{tag} NO [AUTHENTICATIONFAILED] nope\r\n"),
        "ID" => format!("* ID NIL\r\n{tag} OK ID done\r\n"),
        _ => format!("{tag} OK fake did {verb}\r\n"),
    }
}

fn pop3_answer(line: &str) -> String {
    match line.split(' ').next().unwrap_or_default() {
        "PASS" if line == "PASS secret" => "+OK fake logged in\r\n".into(),
        "PASS" => "-ERR [AUTH] nope\r\n".into(),
        "STAT" => "+OK 0 0\r\n".into(),
        _ => "+OK\r\n".into(),
    }
}

fn smtp_answer(line: &str) -> String {
    let verb = line
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match verb.as_str() {
        "EHLO" => "250-fake\r\n250-XCLIENT ADDR NAME HELO PORT\r\n250-STARTTLS\r\n250-SIZE 5000\r\n250 AUTH PLAIN\r\n".into(),
        "XCLIENT" => "220 fake again\r\n".into(),
        "AUTH" => {
            let b64 = line.rsplit(' ').next().unwrap_or_default();
            let plain = postern_auth::sasl::decode(b64).unwrap_or_default();
            if plain.ends_with(b"\0secret") {
                "235 2.7.0 fake ok\r\n".into()
            } else {
                "535 5.7.8 nope\r\n".into()
            }
        }
        "MAIL" => "250 fake mail ok\r\n".into(),
        _ => "250 fake ok\r\n".into(),
    }
}

/// A server whose `listener` proxies to `upstream`, with extra lines.
async fn proxy(listener: &str, upstream: &str, lines: &[&str]) -> TestServer {
    proxy_builder(TestServerBuilder::new(), listener, upstream, lines)
        .start()
        .await
}

fn proxy_builder(
    b: TestServerBuilder,
    listener: &str,
    upstream: &str,
    lines: &[&str],
) -> TestServerBuilder {
    let mut b = b
        .listener_line(listener, "mode = \"proxy\"")
        .listener_line(listener, &format!("upstream = \"{upstream}\""));
    for l in lines {
        b = b.listener_line(listener, l);
    }
    b
}

async fn imaps(
    srv: &TestServer,
) -> LineClient<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut c = LineClient::tls(srv.addr("imaps"), HOST, srv.client_config(&[]))
        .await
        .unwrap();
    c.expect("* OK").await;
    c
}

#[tokio::test]
async fn imap_login_before_tls_is_refused_and_nothing_reaches_the_back_end() {
    let fake = Fake::start(Kind::Imap).await;
    let srv = proxy("imap", &fake.upstream(), &[]).await;
    let mut c = LineClient::plain(srv.addr("imap")).await;
    c.expect("* OK").await;
    c.send("a CAPABILITY").await;
    let caps = c.expect("* CAPABILITY").await;
    assert!(
        caps.contains("LOGINDISABLED") && caps.contains("STARTTLS"),
        "{caps}"
    );
    assert!(!caps.contains("AUTH="), "{caps}");
    c.expect("a OK").await;
    c.send("b LOGIN alice@example.test secret").await;
    c.expect("b NO [PRIVACYREQUIRED]").await;
    c.send("c AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==").await;
    c.expect("c NO [PRIVACYREQUIRED]").await;
    c.send("d LOGOUT").await;
    c.expect("* BYE").await;
    assert!(fake.seen().is_empty(), "the back end was contacted");
}

#[tokio::test]
async fn a_command_pipelined_after_starttls_closes_and_the_back_end_is_never_contacted() {
    let fake = Fake::start(Kind::Imap).await;
    let pop = Fake::start(Kind::Pop3).await;
    let b = proxy_builder(TestServerBuilder::new(), "imap", &fake.upstream(), &[]);
    let srv = proxy_builder(b, "pop3", &pop.upstream(), &[]).start().await;
    let mut c = LineClient::plain(srv.addr("imap")).await;
    c.expect("* OK").await;
    c.send_raw(b"a STARTTLS\r\nb LOGIN alice@example.test secret\r\n")
        .await;
    c.expect("a OK").await;
    c.expect_closed().await;
    let mut c = LineClient::plain(srv.addr("pop3")).await;
    c.expect("+OK").await;
    c.send_raw(b"STLS\r\nUSER alice@example.test\r\n").await;
    c.expect("+OK").await;
    c.expect_closed().await;
    assert!(fake.seen().is_empty() && pop.seen().is_empty());
}

#[tokio::test]
async fn imap_login_is_relayed_with_the_same_credentials_and_then_spliced() {
    let fake = Fake::start(Kind::Imap).await;
    let srv = proxy(
        "imaps",
        &fake.upstream(),
        &["client_address = \"proxy-v2\""],
    )
    .await;
    let mut c = imaps(&srv).await;
    let client_addr = c.get_ref().get_ref().0.local_addr().unwrap();
    c.send("a LOGIN alice@example.test secret").await;
    c.expect("* CAPABILITY IMAP4rev2 FAKE").await;
    c.expect("a OK [CAPABILITY IMAP4rev2 FAKE] Logged in").await;
    c.send("b SELECT INBOX").await;
    c.expect("b OK fake did SELECT").await;
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0]
            .text
            .starts_with("P3 LOGIN \"alice@example.test\" \"secret\"\r\n"),
        "{:?}",
        seen[0].text
    );
    assert!(
        seen[0].text.ends_with("b SELECT INBOX\r\n"),
        "{:?}",
        seen[0].text
    );
    // PROXY v2 (proxy-protocol.txt §2.2): the client's address, then the
    // listener's, IPv4 over TCP.
    let dst = srv.addr("imaps");
    let mut want = PROXY_V2_SIGNATURE.to_vec();
    want.extend_from_slice(&[0x21, 0x11, 0, 12, 127, 0, 0, 1, 127, 0, 0, 1]);
    want.extend_from_slice(&client_addr.port().to_be_bytes());
    want.extend_from_slice(&dst.port().to_be_bytes());
    assert_eq!(seen[0].header, want);
}

#[tokio::test]
async fn imap_literals_and_a_refused_login() {
    let fake = Fake::start(Kind::Imap).await;
    let srv = proxy("imaps", &fake.upstream(), &["client_address = \"id\""]).await;
    let mut c = imaps(&srv).await;
    c.send("a LOGIN bob@example.test wrong").await;
    c.expect("a NO [AUTHENTICATIONFAILED]").await;
    // A password that cannot be a quoted string goes up as a literal.
    c.send("b LOGIN bob@example.test {7}").await;
    c.expect("+ ").await;
    c.send_raw("sécret\r\n".as_bytes()).await;
    c.expect("b NO").await;
    let seen = fake.seen();
    assert!(
        seen[0]
            .text
            .contains("P2 ID (\"x-originating-ip\" \"127.0.0.1\""),
        "{:?}",
        seen[0].text
    );
    assert!(
        seen[1]
            .text
            .contains("P3 LOGIN \"bob@example.test\" {7}\r\nsécret\r\n"),
        "{:?}",
        seen[1].text
    );
}

#[tokio::test]
async fn pop3_login_is_relayed_and_spliced() {
    let fake = Fake::start(Kind::Pop3).await;
    let srv = proxy("pop3s", &fake.upstream(), &[]).await;
    let mut c = LineClient::tls(srv.addr("pop3s"), HOST, srv.client_config(&[]))
        .await
        .unwrap();
    c.expect("+OK").await;
    c.send("USER alice@example.test").await;
    c.expect("+OK").await;
    c.send("PASS secret").await;
    c.expect("+OK fake logged in").await;
    c.send("STAT").await;
    c.expect("+OK 0 0").await;
    let text = &fake.seen()[0].text;
    assert_eq!(text, "USER alice@example.test\r\nPASS secret\r\nSTAT\r\n");
}

#[tokio::test]
async fn a_pop3_password_with_a_line_break_cannot_add_commands_upstream() {
    let fake = Fake::start(Kind::Pop3).await;
    let srv = proxy("pop3s", &fake.upstream(), &[]).await;
    let mut c = LineClient::tls(srv.addr("pop3s"), HOST, srv.client_config(&[]))
        .await
        .unwrap();
    c.expect("+OK").await;
    // "\0alice\0x\r\nDELE 1" in base64.
    c.send("AUTH PLAIN AGFsaWNlAHgNCkRFTEUgMQ==").await;
    c.expect("+OK").await;
    let text = &fake.seen()[0].text;
    assert_eq!(text, "AUTH PLAIN AGFsaWNlAHgNCkRFTEUgMQ==\r\n");
}

#[tokio::test]
async fn submission_authenticates_upstream_with_xclient_and_splices() {
    let fake = Fake::start(Kind::Smtp).await;
    let srv = proxy(
        "submissions",
        &fake.upstream(),
        &["client_address = \"xclient\""],
    )
    .await;
    let mut c = LineClient::tls(srv.addr("submissions"), HOST, srv.client_config(&[]))
        .await
        .unwrap();
    c.expect("220 ").await;
    c.send("EHLO client.example").await;
    let ehlo = c.read_until("250 ").await.join("\n");
    assert!(
        ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    c.send("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=")
        .await;
    c.expect("235 ").await;
    c.send("MAIL FROM:<alice@example.test>").await;
    c.expect("250 fake mail ok").await;
    let client_port = c.get_ref().get_ref().0.local_addr().unwrap().port();
    let text = &fake.seen()[0].text;
    let xclient = format!(
        "XCLIENT ADDR=127.0.0.1 PORT={client_port} NAME=[UNAVAILABLE] HELO=client.example\r\n"
    );
    assert!(text.contains(&xclient), "{text}");
    assert!(
        text.contains(
            "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\nMAIL FROM:<alice@example.test>\r\n"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn mx_relays_after_starttls_without_the_back_ends_starttls() {
    let fake = Fake::start(Kind::Smtp).await;
    let srv = proxy("smtp", &fake.upstream(), &["client_address = \"xclient\""]).await;
    let mut c = LineClient::plain(srv.addr("smtp")).await;
    c.expect("220 ").await;
    c.send("EHLO relay.example").await;
    assert!(c.read_until("250 ").await.join("\n").contains("STARTTLS"));
    c.send("STARTTLS").await;
    c.expect("220 ").await;
    let mut c = c.upgrade(HOST, srv.client_config(&[])).await.unwrap();
    c.send("EHLO relay.example").await;
    let ehlo = c.read_until("250 ").await.join("\n");
    assert!(
        ehlo.starts_with("250-fake") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    c.send("MAIL FROM:<a@relay.example>").await;
    c.expect("250 fake mail ok").await;
    let text = &fake.seen()[0].text;
    assert!(
        text.contains("HELO=relay.example\r\n")
            && text.ends_with("EHLO relay.example\r\nMAIL FROM:<a@relay.example>\r\n"),
        "{text}"
    );
}

#[tokio::test]
async fn routes_choose_the_back_end_by_login() {
    let (default, bob, domain) = (
        Fake::start(Kind::Imap).await,
        Fake::start(Kind::Imap).await,
        Fake::start(Kind::Imap).await,
    );
    let routes = format!(
        "[listener.routes]\n\"bob@example.org\" = \"{}\"\n\"*@example.net\" = \"{}\"",
        bob.upstream(),
        domain.upstream()
    );
    let srv = proxy("imaps", &default.upstream(), &[&routes]).await;
    for user in ["Bob@example.org", "carol@example.net", "dave@example.com"] {
        let mut c = imaps(&srv).await;
        c.send(&format!("a LOGIN {user} secret")).await;
        c.expect("* CAPABILITY").await;
        c.expect("a OK").await;
    }
    let first = |f: &Fake| f.seen().first().map(|s| s.text.clone()).unwrap_or_default();
    assert!(
        first(&bob).contains("\"Bob@example.org\""),
        "{:?}",
        bob.seen()
    );
    assert!(
        first(&domain).contains("\"carol@example.net\""),
        "{:?}",
        domain.seen()
    );
    assert!(
        first(&default).contains("\"dave@example.com\""),
        "{:?}",
        default.seen()
    );
    assert_eq!(
        bob.seen().len() + domain.seen().len() + default.seen().len(),
        3
    );
}

#[tokio::test]
async fn a_back_end_that_is_down_gets_a_clean_temporary_failure() {
    let down = format!("127.0.0.1:{}", unused_port());
    let b = proxy_builder(TestServerBuilder::new(), "imaps", &down, &[]);
    let b = proxy_builder(b, "pop3s", &down, &[]);
    let srv = proxy_builder(b, "submissions", &down, &[]).start().await;
    let mut c = imaps(&srv).await;
    c.send("a LOGIN alice@example.test secret").await;
    c.expect("a NO [UNAVAILABLE]").await;
    c.send("b NOOP").await;
    c.expect("b OK").await;
    let mut c = LineClient::tls(srv.addr("pop3s"), HOST, srv.client_config(&[]))
        .await
        .unwrap();
    c.expect("+OK").await;
    c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await;
    c.expect("-ERR [SYS/TEMP]").await;
    let mut c = LineClient::tls(srv.addr("submissions"), HOST, srv.client_config(&[]))
        .await
        .unwrap();
    c.expect("220 ").await;
    c.send("EHLO client.example").await;
    c.read_until("250 ").await;
    c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await;
    c.expect("454 4.7.0").await;
}

/// A back end speaking implicit TLS with a certificate for
/// "backend.test" from `ca`; its certificate's DER.
async fn tls_backend(ca: &TestCa) -> (Fake, Vec<u8>) {
    tls_backend_with(ca, false).await
}

async fn tls_backend_with(ca: &TestCa, starttls: bool) -> (Fake, Vec<u8>) {
    let issued = ca.server_cert(&["backend.test"]);
    let config = ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![issued.cert_der()], issued.key_der())
    .unwrap();
    let fake = Fake::start_with(Kind::Imap, Some(Arc::new(config)), starttls).await;
    (fake, issued.cert_der().to_vec())
}

#[tokio::test]
async fn an_implicit_tls_back_end_is_verified_by_ca_and_by_pin() {
    let builder = TestServerBuilder::new();
    let (fake, _) = tls_backend(builder.ca()).await;
    let root = builder.ca().root_pem();
    let tls = [
        "upstream_tls = \"implicit\"",
        "upstream_name = \"backend.test\"",
    ];
    let srv = proxy_builder(
        builder.file("backend-ca.pem", root),
        "imaps",
        &fake.upstream(),
        &tls,
    )
    .listener_line("imaps", "upstream_ca = \"backend-ca.pem\"")
    .start()
    .await;
    let mut c = imaps(&srv).await;
    c.send("a LOGIN alice@example.test secret").await;
    c.expect("* CAPABILITY").await;
    c.expect("a OK").await;
    assert!(fake.seen()[0].text.starts_with("P3 LOGIN"));
}

#[tokio::test]
async fn a_pinned_back_end_needs_no_ca_and_a_wrong_pin_is_refused() {
    // Its CA is trusted nowhere: only the pin can accept it.
    let (fake, der) = tls_backend(&TestCa::new("Back-end CA")).await;
    let sha256 = postern_server::proxy::upstream::sha256;
    let right = postern_auth::sasl::encode(&sha256(&der));
    let wrong = postern_auth::sasl::encode(&sha256(b"another certificate"));
    for (pin, answer) in [(wrong, "a NO [UNAVAILABLE]"), (right, "* CAPABILITY")] {
        let pin = format!("upstream_pin = \"sha256/{pin}\"");
        let lines = ["upstream_tls = \"implicit\"", pin.as_str()];
        let srv = proxy("imaps", &fake.upstream(), &lines).await;
        let mut c = imaps(&srv).await;
        c.send("a LOGIN alice@example.test secret").await;
        c.expect(answer).await;
    }
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0].text.is_empty(),
        "credentials sent to an unverified back end: {:?}",
        seen[0].text
    );
    assert!(seen[1].text.starts_with("P3 LOGIN"), "{:?}", seen[1].text);
}

#[tokio::test]
async fn starttls_to_the_back_end_comes_before_the_credentials() {
    let builder = TestServerBuilder::new();
    let (fake, _) = tls_backend_with(builder.ca(), true).await;
    let root = builder.ca().root_pem();
    let lines = [
        "upstream_tls = \"starttls\"",
        "upstream_name = \"backend.test\"",
        "upstream_ca = \"backend-ca.pem\"",
    ];
    let builder = builder.file("backend-ca.pem", root);
    let srv = proxy_builder(builder, "imaps", &fake.upstream(), &lines)
        .start()
        .await;
    let mut c = imaps(&srv).await;
    c.send("a LOGIN alice@example.test secret").await;
    c.expect("* CAPABILITY").await;
    c.expect("a OK").await;
    let text = &fake.seen()[0].text;
    assert!(
        text.starts_with("P1 STARTTLS\r\n-- TLS --\r\nP3 LOGIN"),
        "{text:?}"
    );
}

#[tokio::test]
async fn the_listener_limits_hold_for_proxied_connections() {
    let fake = Fake::start(Kind::Imap).await;
    let b = proxy_builder(TestServerBuilder::new(), "imap", &fake.upstream(), &[])
        .limit("imap", "max_connections_per_ip = 1")
        .limit("imap", "pre_auth_timeout = \"1s\"");
    let srv = b.start().await;
    let mut first = LineClient::plain(srv.addr("imap")).await;
    first.expect("* OK").await;
    let mut second = LineClient::plain(srv.addr("imap")).await;
    second.expect("* BYE Too many connections").await;
    second.expect_closed().await;
    // Silent before the login: the pre-login timeout ends it.
    first.expect("* BYE").await;
    first.expect_closed().await;
    assert!(fake.seen().is_empty());
}
