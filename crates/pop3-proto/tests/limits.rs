//! Hard limits and hostile input: over-long lines, control characters, the
//! bad-command threshold, credentials before TLS, random bytes.

mod common;

use common::{After, Log};
use postern_pop3_proto::{Error, Event, Options, Server};
use postern_types::{Interrupt, Protocol};

fn answer(s: &mut Server, event: &Event) -> After {
    if *event == Event::StartTls {
        s.accept_stls();
        return After::StartTls;
    }
    s.ok("");
    After::Continue
}

fn server(opts: Options) -> Server {
    let mut s = Server::new(opts);
    s.take_output();
    s
}

fn run(s: &mut Server, input: &[u8]) -> Log<Event> {
    let mut log = Log::default();
    s.enqueue_input(input);
    common::drive(s, &mut log, answer);
    log
}

#[test]
fn a_one_megabyte_line_in_one_read() {
    let mut s = server(Options::default());
    s.enqueue_input(&vec![b'A'; 1 << 20]);
    assert!(s.buffered_input_len() <= 2048 + 2);
    let log = run(&mut s, b"");
    assert_eq!(log.text(), "-ERR Line too long, closing connection\r\n");
    assert!(matches!(
        s.next(),
        Err(Interrupt::Error(Error::LineTooLong { limit: 2048 }))
    ));
    assert!(s.is_finished());
}

#[test]
fn a_one_megabyte_line_in_small_reads() {
    let mut s = server(Options::default());
    let mut log = Log::default();
    for _ in 0..1024 {
        s.enqueue_input(&[b'x'; 1024]);
        assert!(s.buffered_input_len() <= 2048 + 2);
        common::drive(&mut s, &mut log, answer);
    }
    assert_eq!(log.text(), "-ERR Line too long, closing connection\r\n");
    assert_eq!(
        log.error.as_deref(),
        Some("peer sent a line longer than 2048 octets")
    );
}

#[test]
fn the_line_limit_is_exact() {
    let opts = Options {
        max_line: 6,
        ..Options::default()
    };
    let mut s = server(opts.clone());
    assert_eq!(run(&mut s, b"STAT 1\r\n").events.len(), 1);
    let mut s = server(opts);
    assert!(run(&mut s, b"STAT 12\r\n").error.is_some());
}

#[test]
fn control_characters_are_an_error_not_a_truncation() {
    let opts = Options {
        tls_active: true,
        ..Options::default()
    };
    for line in [
        &b"USER alice\0admin\r\n"[..],
        b"PASS a\x01b\r\n",
        b"CA\rPA\r\n",
    ] {
        let mut s = server(opts.clone());
        let log = run(&mut s, line);
        assert_eq!(log.text(), "-ERR Control characters are not allowed\r\n");
        assert!(log.events.is_empty());
        assert_eq!(s.bad_commands(), 1);
    }
}

#[test]
fn the_bad_command_threshold_says_goodbye() {
    let mut s = server(Options {
        max_bad_commands: 3,
        ..Options::default()
    });
    let log = run(&mut s, b"FOO\r\nBAR\r\n");
    assert_eq!(log.text(), "-ERR Unknown command\r\n".repeat(2));
    let log = run(&mut s, b"BAZ\r\nNOOP\r\n");
    assert_eq!(
        log.text(),
        "-ERR Unknown command\r\n-ERR Too many bad commands, closing connection\r\n"
    );
    assert_eq!(log.error.as_deref(), Some("peer sent 3 bad commands"));
    assert!(s.is_finished());
}

#[test]
fn no_credentials_before_tls() {
    for starttls_offered in [true, false] {
        let mut s = server(Options {
            starttls_offered,
            ..Options::default()
        });
        let log = run(
            &mut s,
            b"USER alice\r\nPASS secret\r\nAPOP alice 0123\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nUSER\r\n",
        );
        assert!(log.events.is_empty(), "a credential reached the session");
        let text = log.text();
        assert_eq!(text.lines().count(), 5);
        assert!(
            text.lines().all(|l| l.starts_with("-ERR [AUTH] PRIVACY: ")),
            "{text}"
        );
        assert_eq!(text.contains("use STLS first"), starttls_offered);
    }
}

#[test]
fn random_bytes_never_panic() {
    let words: &[&[u8]] = &[
        b"CAPA",
        b"USER alice",
        b"PASS ",
        b"AUTH PLAIN",
        b" =",
        b"STLS",
        b"QUIT",
        b"NOOP",
        b"STAT",
        b"LIST 1",
        b"TOP 1 2",
        b"APOP",
        b"\0",
        b"\r",
        b"\n",
        b" ",
        b"\xff",
    ];
    let make = |seed: u64| {
        Server::new(Options {
            max_line: [4, 32, 255, 2048][(seed % 4) as usize],
            max_bad_commands: 1 + (seed % 30) as u32,
            tls_active: seed.is_multiple_of(5),
            ..Options::default()
        })
    };
    common::fuzz(make, words, answer, 10_000, Server::partial_line_len, 2049);
}
