//! The core's own answers and the intent methods, one behaviour per test.

mod common;

use common::{After, Log};
use postern_smtp_proto::cmd::{Command, ForwardPath, HeloName};
use postern_smtp_proto::{AuthMechanism, Event, Options, Server};
use postern_types::{Goodbye, Protocol, Secret, TimeoutClass, TlsInfo};

fn ignore(_: &mut Server, _: &Event) -> After {
    After::Continue
}

fn server(opts: Options) -> Server {
    let mut s = Server::new(Options {
        hostname: "mx.example.org".into(),
        ..opts
    });
    s.take_output();
    s
}

fn run(s: &mut Server, input: &[u8]) -> Log<Event> {
    let mut log = Log::default();
    s.enqueue_input(input);
    common::drive(s, &mut log, ignore);
    log
}

#[test]
fn greeting() {
    let mut s = Server::new(Options {
        hostname: "mx.example.org".into(),
        ..Options::default()
    });
    assert_eq!(
        s.take_output().unwrap(),
        b"220 mx.example.org ESMTP Postern\r\n"
    );
    assert_eq!(s.timeout_class(), TimeoutClass::PreAuth);
}

#[test]
fn helo_noop_rset_help_quit() {
    let mut s = server(Options::default());
    let log = run(&mut s, b"HELO client\r\nNOOP\r\nRSET\r\nHELP\r\nQUIT\r\n");
    assert_eq!(
        log.text(),
        "250 mx.example.org\r\n250 2.0.0 OK\r\n250 2.0.0 OK\r\n\
         214 2.0.0 See RFC 5321 and RFC 3207\r\n221 2.0.0 Bye\r\n"
    );
    assert_eq!(s.helo_name(), Some(&HeloName::Domain("client".into())));
    assert!(s.is_finished());
}

#[test]
fn starttls_not_offered_or_already_active() {
    let mut plain = server(Options {
        starttls_offered: false,
        ..Options::default()
    });
    let log = run(&mut plain, b"STARTTLS\r\n");
    assert_eq!(
        log.text(),
        "502 5.5.1 STARTTLS is not available on this port\r\n"
    );
    let mut implicit = server(Options {
        tls_active: true,
        starttls_offered: false,
        ..Options::default()
    });
    let log = run(&mut implicit, b"STARTTLS\r\n");
    assert_eq!(log.text(), "503 5.5.1 TLS is already active\r\n");
    assert!(log.events.is_empty());
}

#[test]
fn starttls_may_be_declined() {
    let mut s = server(Options::default());
    s.enqueue_input(b"STARTTLS\r\nNOOP\r\n");
    assert_eq!(s.next().unwrap(), Event::StartTls);
    s.reply(
        454,
        Some("4.7.0"),
        "TLS not available due to temporary reason",
    );
    let log = run(&mut s, b"");
    assert_eq!(
        log.text(),
        "454 4.7.0 TLS not available due to temporary reason\r\n250 2.0.0 OK\r\n"
    );
}

#[test]
fn an_unanswered_starttls_is_declined_by_the_core() {
    let mut s = server(Options::default());
    let log = run(&mut s, b"STARTTLS\r\nNOOP\r\n");
    assert_eq!(
        log.text(),
        "454 4.7.0 TLS not available due to temporary reason\r\n250 2.0.0 OK\r\n"
    );
}

#[test]
fn transactions_need_ehlo_first() {
    let mut s = server(Options::default());
    let log = run(&mut s, b"MAIL FROM:<a@b.c>\r\n");
    assert_eq!(log.text(), "503 5.5.1 Send EHLO or HELO first\r\n");
    let log = run(&mut s, b"VRFY postmaster\r\n");
    assert_eq!(
        log.events,
        [Event::Command(Command::Vrfy("postmaster".into()))]
    );
}

#[test]
fn events_carry_parsed_arguments() {
    let mut s = server(Options {
        submission: true,
        tls_active: true,
        starttls_offered: false,
        ..Options::default()
    });
    let mut log = Log::default();
    s.enqueue_input(
        b"EHLO x\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<Postmaster>\r\n",
    );
    common::drive(&mut s, &mut log, common::accept);
    let auth = Event::Auth {
        mechanism: AuthMechanism::Plain,
        initial_response: Some(Secret::new(common::PLAIN_OK.to_vec())),
    };
    assert_eq!(log.events[0], auth);
    let rcpt = match &log.events[2] {
        Event::Rcpt(r) => r.forward_path.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(rcpt, ForwardPath::Postmaster);
}

#[test]
fn syntax_errors_name_the_usage() {
    let mut s = server(Options::default());
    let log = run(&mut s, b"EHLO\r\nMAIL FROM:<x>\r\nRCPT TO:bob\r\n");
    assert_eq!(
        log.text(),
        "501 5.5.4 Syntax: EHLO hostname\r\n\
         501 5.1.7 Syntax: MAIL FROM:<address> [parameters]\r\n\
         501 5.1.3 Syntax: RCPT TO:<address> [parameters]\r\n"
    );
    assert_eq!(s.bad_commands(), 3);
}

#[test]
fn timeout_classes() {
    let mut s = server(Options {
        submission: true,
        tls_active: true,
        starttls_offered: false,
        ..Options::default()
    });
    let mut log = Log::default();
    s.enqueue_input(b"EHLO x\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    common::drive(&mut s, &mut log, common::accept);
    assert!(s.is_authenticated());
    assert_eq!(s.timeout_class(), TimeoutClass::Authenticated);
    s.enqueue_input(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 10\r\nabc");
    common::drive(&mut s, &mut log, common::accept);
    assert_eq!(s.timeout_class(), TimeoutClass::Data);
    s.enqueue_input(b"defghij");
    common::drive(&mut s, &mut log, common::accept);
    assert_eq!(s.timeout_class(), TimeoutClass::Authenticated);
    s.enqueue_input(b"DATA\r\n");
    common::drive(&mut s, &mut log, common::accept);
    assert!(log
        .text()
        .ends_with("503 5.5.1 DATA is not allowed after BDAT\r\n"));
    s.enqueue_input(b"RSET\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n");
    common::drive(&mut s, &mut log, common::accept);
    assert_eq!(s.timeout_class(), TimeoutClass::Data);
}

#[test]
fn goodbyes() {
    let cases = [
        (
            Goodbye::Shutdown,
            "421 4.3.2 mx.example.org shutting down\r\n",
        ),
        (Goodbye::Timeout, "421 4.4.2 mx.example.org timeout\r\n"),
        (
            Goodbye::SessionTooLong,
            "421 4.4.2 mx.example.org session time limit reached\r\n",
        ),
    ];
    for (why, expected) in cases {
        let mut s = server(Options::default());
        s.goodbye(why);
        assert!(s.is_finished());
        assert_eq!(s.take_output().unwrap(), expected.as_bytes());
        s.goodbye(why);
        assert_eq!(s.take_output(), None, "said goodbye twice");
    }
}

#[test]
fn no_goodbye_after_quit() {
    let mut s = server(Options::default());
    run(&mut s, b"QUIT\r\n");
    s.goodbye(Goodbye::Shutdown);
    assert_eq!(s.take_output(), None);
}

#[test]
fn replies_cannot_be_forged_through_the_text() {
    let mut s = server(Options::default());
    s.reply(250, Some("2.1.0"), "OK\r\n250 2.0.0 forged");
    assert_eq!(
        s.take_output().unwrap(),
        b"250 2.1.0 OK  250 2.0.0 forged\r\n"
    );
    s.reply_lines(250, None, &["first", "second"]);
    assert_eq!(s.take_output().unwrap(), b"250-first\r\n250 second\r\n");
}

#[test]
fn implicit_tls_keeps_the_handshake_facts() {
    let info = TlsInfo {
        version: "TLSv1.3".into(),
        ..TlsInfo::default()
    };
    let s = Server::new(Options {
        tls_active: true,
        starttls_offered: false,
        ..Options::default()
    })
    .with_tls_info(info.clone());
    assert_eq!(s.tls_info(), Some(&info));
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "3yz replies are sent by the core")]
fn a_data_go_ahead_from_the_session_is_a_bug_in_debug_builds() {
    server(Options::default()).reply(354, None, "Go ahead");
}

#[test]
#[cfg(not(debug_assertions))]
fn a_data_go_ahead_from_the_session_is_never_sent() {
    let mut s = server(Options::default());
    s.reply(354, None, "Go ahead");
    assert_eq!(
        s.take_output().unwrap(),
        b"451 4.3.0 Local error in processing\r\n"
    );
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "does not answer the pending event")]
fn an_intent_for_another_event_is_a_bug_in_debug_builds() {
    let mut s = server(Options::default());
    s.enqueue_input(b"EHLO x\r\nMAIL FROM:<a@b.c>\r\n");
    while let Err(postern_types::Interrupt::Io(postern_types::Io::Output(_))) = s.next() {}
    s.accept_rcpt();
}
