//! The core's own answers and the intent methods, one behaviour per test.

mod common;

use common::{After, Log};
use postern_pop3_proto::{Event, Options, Server};
use postern_types::{Goodbye, Protocol, TimeoutClass, TlsInfo};

fn ignore(_: &mut Server, _: &Event) -> After {
    After::Continue
}

fn server(opts: Options) -> Server {
    let mut s = Server::new(opts);
    s.take_output();
    s
}

fn tls() -> Options {
    Options {
        tls_active: true,
        starttls_offered: false,
        ..Options::default()
    }
}

fn run(s: &mut Server, input: &[u8]) -> Log<Event> {
    let mut log = Log::default();
    s.enqueue_input(input);
    common::drive(s, &mut log, ignore);
    log
}

#[test]
fn greeting_noop_quit() {
    let mut s = Server::new(Options::default());
    assert_eq!(s.take_output().unwrap(), b"+OK Postern ready\r\n");
    assert_eq!(s.timeout_class(), TimeoutClass::PreAuth);
    let log = run(&mut s, b"NOOP\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(log.text(), "+OK\r\n+OK Logging out\r\n");
    assert!(s.is_finished());
}

#[test]
fn stls_not_offered() {
    let mut s = server(Options {
        starttls_offered: false,
        ..Options::default()
    });
    let log = run(&mut s, b"STLS\r\n");
    assert_eq!(log.text(), "-ERR STLS is not available on this port\r\n");
    assert!(log.events.is_empty());
}

#[test]
fn stls_may_be_declined() {
    let mut s = server(Options::default());
    s.enqueue_input(b"STLS\r\nNOOP\r\n");
    assert_eq!(s.next().unwrap(), Event::StartTls);
    s.err(Some("SYS/TEMP"), "TLS is not available now");
    let log = run(&mut s, b"");
    assert_eq!(
        log.text(),
        "-ERR [SYS/TEMP] TLS is not available now\r\n+OK\r\n"
    );
}

#[test]
fn apop_is_refused_even_under_tls() {
    let mut s = server(tls());
    let log = run(&mut s, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    assert_eq!(log.text(), "-ERR APOP is not supported\r\n");
    assert!(log.events.is_empty());
}

#[test]
fn syntax_errors() {
    let mut s = server(tls());
    let log = run(&mut s, b"USER\r\nAUTH\r\nCAPA x\r\n");
    assert_eq!(
        log.text(),
        "-ERR Syntax: USER name\r\n-ERR Syntax: AUTH mechanism [initial-response]\r\n-ERR Syntax: CAPA\r\n"
    );
    assert_eq!(s.bad_commands(), 3);
}

#[test]
fn goodbyes() {
    let cases = [
        (
            Goodbye::Shutdown,
            "-ERR [SYS/TEMP] Server shutting down\r\n",
        ),
        (Goodbye::Timeout, "-ERR Disconnected for inactivity\r\n"),
        (
            Goodbye::SessionTooLong,
            "-ERR Session time limit reached\r\n",
        ),
    ];
    for (why, expected) in cases {
        let mut s = server(Options::default());
        s.goodbye(why);
        assert!(s.is_finished());
        assert_eq!(s.take_output().unwrap(), expected.as_bytes());
        s.goodbye(why);
        assert_eq!(s.take_output(), None);
    }
}

#[test]
fn intent_methods() {
    let mut s = server(tls());
    s.ok("2 320");
    s.ok_lines("2 messages", &["1 120", ".hidden 200"]);
    s.err(Some("IN-USE"), "Mailbox locked\r\n+OK forged");
    assert_eq!(
        String::from_utf8(s.take_output().unwrap()).unwrap(),
        "+OK 2 320\r\n+OK 2 messages\r\n1 120\r\n..hidden 200\r\n.\r\n-ERR [IN-USE] Mailbox locked  +OK forged\r\n"
    );
}

#[test]
fn implicit_tls_keeps_the_handshake_facts() {
    let info = TlsInfo {
        version: "TLSv1.3".into(),
        ..TlsInfo::default()
    };
    let s = Server::new(tls()).with_tls_info(info.clone());
    assert_eq!(s.tls_info(), Some(&info));
}

/// A session that accepts any PASS and serves a one-message maildrop.
fn transaction(s: &mut Server, e: &Event) -> After {
    match e {
        Event::User { .. } => s.ok("send PASS"),
        Event::Pass { .. } => {
            s.ok("logged in");
            s.logged_in();
        }
        Event::Command { name, .. } if name == "RETR" => s.ok_message("5 octets", b".dot\n"),
        Event::Command { .. } => s.ok("done"),
        Event::Quit => s.ok("bye, 0 messages removed"),
        _ => s.err(None, "unexpected"),
    }
    After::Continue
}

#[test]
fn the_transaction_state_after_login() {
    let mut s = server(tls());
    let mut log = Log::default();
    s.enqueue_input(b"USER a\r\nPASS b\r\nRETR 1\r\nUSER c\r\nSTLS\r\nNOOP\r\nQUIT\r\nNOOP\r\n");
    common::drive(&mut s, &mut log, transaction);
    assert_eq!(
        log.text(),
        "+OK send PASS\r\n+OK logged in\r\n+OK 5 octets\r\n..dot\r\n.\r\n\
         -ERR Already logged in\r\n-ERR STLS is only allowed before login\r\n+OK\r\n\
         +OK bye, 0 messages removed\r\n"
    );
    assert_eq!(log.events.last(), Some(&Event::Quit));
    assert!(s.is_finished());
    assert_eq!(s.timeout_class(), TimeoutClass::Authenticated);
}

#[test]
fn quit_before_login_needs_no_session() {
    let mut s = server(tls());
    let log = run(&mut s, b"QUIT\r\n");
    assert_eq!(log.text(), "+OK Logging out\r\n");
    assert!(log.events.is_empty());
}

fn challenge_then_accept(s: &mut Server, e: &Event) -> After {
    match e {
        Event::Auth { .. } => s.sasl_challenge(""),
        Event::SaslResponse { response } if response.expose() == "AGEAYg==" => {
            s.ok("logged in");
            s.logged_in();
        }
        _ => s.err(Some("AUTH"), "no"),
    }
    After::Continue
}

#[test]
fn auth_plain_with_a_continuation_and_a_cancellation() {
    let mut s = server(tls());
    let mut log = Log::default();
    s.enqueue_input(b"AUTH PLAIN\r\n*\r\nAUTH PLAIN\r\nAGEAYg==\r\nSTAT\r\n");
    common::drive(&mut s, &mut log, challenge_then_accept);
    // The "*" and the base64 line are responses, never commands.
    assert_eq!(
        log.text(),
        "+ \r\n-ERR Authentication cancelled\r\n+ \r\n+OK logged in\r\n-ERR [AUTH] no\r\n"
    );
    assert!(s.is_authenticated());
    assert!(matches!(log.events[2], Event::SaslResponse { .. }));
}
