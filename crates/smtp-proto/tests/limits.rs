//! Hard limits and hostile input: over-long lines, control characters, the
//! bad-command threshold, credentials before TLS, random bytes.

mod common;

use common::{accept as answer, Log};
use postern_smtp_proto::{Error, Event, Options, Server};
use postern_types::{Interrupt, Io, Protocol};

fn server(opts: Options) -> Server {
    Server::new(Options {
        hostname: "mx.example.org".into(),
        ..opts
    })
}

fn run(server: &mut Server, input: &[u8]) -> Log<Event> {
    let mut log = Log::default();
    server.enqueue_input(input);
    common::drive(server, &mut log, answer);
    log
}

fn error_of(server: &mut Server) -> Option<Error> {
    match server.next() {
        Err(Interrupt::Error(e)) => Some(e),
        _ => None,
    }
}

#[test]
fn a_one_megabyte_line_in_one_read() {
    let mut s = server(Options::default());
    s.take_output();
    s.enqueue_input(&vec![b'A'; 1 << 20]);
    assert!(s.buffered_input_len() <= 4096 + 2);
    let log = run(&mut s, b"");
    assert_eq!(
        log.text(),
        "500 5.5.2 Line too long\r\n421 4.7.0 mx.example.org Line too long, closing connection\r\n"
    );
    assert_eq!(error_of(&mut s), Some(Error::LineTooLong { limit: 4096 }));
    assert!(s.is_finished());
}

#[test]
fn a_one_megabyte_line_in_small_reads() {
    let mut s = server(Options::default());
    let mut log = Log::default();
    for _ in 0..1024 {
        s.enqueue_input(&[b'x'; 1024]);
        assert!(s.buffered_input_len() <= 4096 + 2);
        common::drive(&mut s, &mut log, answer);
    }
    assert!(log.text().contains("500 5.5.2 Line too long\r\n"));
    assert_eq!(
        log.error.as_deref(),
        Some("peer sent a line longer than 4096 octets")
    );
}

#[test]
fn the_line_limit_is_exact() {
    let opts = Options {
        max_line: 10,
        ..Options::default()
    };
    let mut s = server(opts.clone());
    let log = run(&mut s, b"NOOP 12345\r\n");
    assert!(log.text().ends_with("250 2.0.0 OK\r\n"));
    let mut s = server(opts);
    let log = run(&mut s, b"NOOP 123456\r\n");
    assert!(log.text().ends_with("closing connection\r\n"));
}

#[test]
fn complete_lines_before_an_overlong_one_are_answered() {
    let mut s = server(Options {
        max_line: 10,
        ..Options::default()
    });
    let mut input = b"NOOP\r\n".to_vec();
    input.extend_from_slice(&[b'z'; 100]);
    let log = run(&mut s, &input);
    assert!(log
        .text()
        .contains("250 2.0.0 OK\r\n500 5.5.2 Line too long\r\n"));
}

#[test]
fn control_characters_are_an_error_not_a_truncation() {
    for line in [
        &b"NOOP\0\r\n"[..],
        b"EHLO a\0b\r\n",
        b"MAIL FROM:<a@b>\x01\r\n",
        b"NO\rOP\r\n",
    ] {
        let mut s = server(Options::default());
        s.take_output();
        let log = run(&mut s, line);
        assert_eq!(
            log.text(),
            "500 5.5.2 Control characters are not allowed\r\n"
        );
        assert_eq!(s.bad_commands(), 1);
        assert!(log.events.is_empty());
    }
}

#[test]
fn a_tab_in_arguments_is_allowed() {
    let mut s = server(Options::default());
    s.take_output();
    let log = run(&mut s, b"NOOP a\tb\r\n");
    assert_eq!(log.text(), "250 2.0.0 OK\r\n");
}

#[test]
fn the_bad_command_threshold_says_goodbye() {
    let mut s = server(Options {
        max_bad_commands: 3,
        ..Options::default()
    });
    s.take_output();
    let log = run(&mut s, b"FOO\r\nBAR\r\n");
    assert_eq!(log.text(), "500 5.5.2 Command unrecognized\r\n".repeat(2));
    assert!(!s.is_finished());
    let log = run(&mut s, b"BAZ\r\nNOOP\r\n");
    assert_eq!(
        log.text(),
        "500 5.5.2 Command unrecognized\r\n421 4.7.0 mx.example.org Too many errors, closing connection\r\n"
    );
    assert_eq!(log.error.as_deref(), Some("peer sent 3 bad commands"));
    assert!(s.is_finished());
}

#[test]
fn session_syntax_replies_count_too() {
    let mut s = server(Options {
        max_bad_commands: 2,
        ..Options::default()
    });
    s.reply(501, Some("5.5.4"), "bad");
    assert!(!s.is_finished());
    s.reply(550, Some("5.1.1"), "no such user");
    assert!(!s.is_finished());
    s.reply(503, Some("5.5.1"), "bad sequence");
    assert!(s.is_finished());
}

#[test]
fn no_credentials_before_tls_on_submission() {
    let mut s = server(Options {
        submission: true,
        ..Options::default()
    });
    s.take_output();
    let log = run(
        &mut s,
        b"EHLO x\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH LOGIN\r\n",
    );
    assert!(
        log.events.is_empty(),
        "credentials reached the session: {:?}",
        log.events
    );
    let text = log.text();
    assert!(!text.contains("AUTH PLAIN LOGIN"), "{text}");
    assert!(text.ends_with(
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
            .repeat(2)
            .as_str()
    ));
}

#[test]
fn no_auth_on_the_mx_even_under_tls() {
    for tls_active in [false, true] {
        let mut s = server(Options {
            tls_active,
            ..Options::default()
        });
        s.take_output();
        let log = run(&mut s, b"EHLO x\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
        assert!(log.events.is_empty());
        assert!(log
            .text()
            .ends_with("502 5.5.1 AUTH is not available on this port\r\n"));
    }
}

#[test]
fn a_bdat_with_a_bad_size_closes() {
    let mut s = server(Options::default());
    s.take_output();
    let log = run(&mut s, b"EHLO x\r\nBDAT 1x\r\nQUIT\r\n");
    assert!(log
        .text()
        .contains("501 5.5.4 Syntax: BDAT size [LAST]\r\n421 4.7.0"));
    assert_eq!(
        log.error.as_deref(),
        Some("peer sent BDAT with an invalid chunk size")
    );
    assert!(!log.text().contains("221"));
}

#[test]
fn a_refused_bdat_still_swallows_its_chunk() {
    let mut s = server(Options {
        submission: true,
        ..Options::default()
    });
    s.take_output();
    // Before TLS on submission: refused, but "QUIT\r\n" is message data.
    let log = run(&mut s, b"BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(
        log.text(),
        "530 5.7.0 Must issue a STARTTLS command first\r\n250 2.0.0 OK\r\n"
    );
    assert!(!s.is_finished());
    assert!(log.events.is_empty());
}

#[test]
fn random_bytes_never_panic() {
    let words: &[&[u8]] = &[
        b"EHLO x",
        b"HELO",
        b"MAIL FROM:<",
        b"RCPT TO:<a@b>",
        b"DATA",
        b"BDAT ",
        b"BDAT 3",
        b" LAST",
        b"AUTH PLAIN ",
        b"AUTH LOGIN",
        b"YWxpY2U=",
        b"*",
        b".",
        b"\r\n.\r\n",
        b"STARTTLS",
        b"QUIT",
        b"RSET",
        b"NOOP",
        b"VRFY ",
        b"\0",
        b"\r",
        b"\n",
        b"<>",
        b"@",
        b"\"",
        b"0",
        b"99999999999999999999",
        b" ",
    ];
    let make = |seed: u64| {
        Server::new(Options {
            max_line: [8, 64, 512, 4096][(seed % 4) as usize],
            max_bad_commands: 1 + (seed % 30) as u32,
            submission: seed.is_multiple_of(3),
            tls_active: seed.is_multiple_of(5),
            max_message_size: [10, 1000][(seed % 2) as usize],
            max_recipients: 1 + (seed % 3) as usize,
            ..Options::default()
        })
    };
    // The incomplete line is bounded by the largest max_line in use + 1.
    common::fuzz(make, words, answer, 10_000, Server::partial_line_len, 4097);
}

#[test]
fn output_first_then_nothing_more_after_quit() {
    let mut s = server(Options::default());
    s.enqueue_input(b"QUIT\r\nNOOP\r\n");
    assert!(matches!(s.next(), Err(Interrupt::Io(Io::Output(_)))));
    assert!(matches!(s.next(), Err(Interrupt::Io(Io::Output(b))) if b == b"221 2.0.0 Bye\r\n"));
    assert!(s.is_finished());
    assert!(matches!(s.next(), Err(Interrupt::Io(Io::NeedMoreInput))));
    assert_eq!(s.take_output(), None);
}
