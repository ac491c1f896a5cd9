//! Hard limits and hostile input: over-long lines and literals, control
//! characters, the bad-command threshold, credentials before TLS, random
//! bytes.

mod common;

use common::{After, Log};
use postern_imap_proto::{Error, Event, Options, Server};
use postern_types::{Interrupt, Protocol};

fn answer(s: &mut Server, event: &Event) -> After {
    match event {
        Event::StartTls { tag } => {
            s.accept_starttls(tag);
            return After::StartTls;
        }
        Event::Login { tag, .. } | Event::Authenticate { tag, .. } | Event::Command { tag, .. } => {
            s.tagged_ok(tag, None, "done");
        }
        _ => {}
    }
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
    common::drive(s, &mut log, answer);
    log
}

#[test]
fn a_one_megabyte_line_in_one_read() {
    let mut s = server(Options::default());
    s.enqueue_input(&vec![b'A'; 1 << 20]);
    assert!(s.buffered_input_len() <= 8192 + 2);
    let log = run(&mut s, b"");
    assert_eq!(log.text(), "* BYE Command line too long\r\n");
    assert!(matches!(
        s.next(),
        Err(Interrupt::Error(Error::LineTooLong { limit: 8192 }))
    ));
    assert!(s.is_finished());
}

#[test]
fn a_one_megabyte_line_in_small_reads() {
    let mut s = server(Options::default());
    let mut log = Log::default();
    for _ in 0..1024 {
        s.enqueue_input(&[b'x'; 1024]);
        assert!(s.buffered_input_len() <= 8192 + 2);
        common::drive(&mut s, &mut log, answer);
    }
    assert_eq!(log.text(), "* BYE Command line too long\r\n");
}

#[test]
fn a_big_synchronizing_literal_is_refused_before_it_is_sent() {
    let mut s = server(tls());
    let log = run(&mut s, b"a LOGIN {4097}\r\nb NOOP\r\n");
    assert_eq!(
        log.text(),
        "a BAD [TOOBIG] Literal too large\r\nb OK NOOP completed\r\n"
    );
    assert!(!s.is_finished());
    assert_eq!(s.bad_commands(), 1);
}

#[test]
fn a_big_non_synchronizing_literal_closes_before_it_is_read() {
    let mut s = server(tls());
    let mut input = b"a LOGIN {4097+}\r\n".to_vec();
    input.extend_from_slice(&[b'p'; 4097]);
    let log = run(&mut s, &input);
    assert_eq!(
        log.text(),
        "a BAD [TOOBIG] Literal too large\r\n* BYE Literal too large\r\n"
    );
    assert_eq!(
        log.error.as_deref(),
        Some("peer sent a non-synchronizing literal over 4096 octets")
    );
    assert!(s.buffered_input_len() <= 8192 + 2);
    assert!(log.events.is_empty());
}

#[test]
fn the_largest_literal_is_accepted() {
    let mut s = server(tls());
    let mut input = b"a LOGIN alice {4096+}\r\n".to_vec();
    input.extend_from_slice(&[b'p'; 4096]);
    input.extend_from_slice(b"\r\n");
    let log = run(&mut s, &input);
    assert_eq!(log.events.len(), 1);
    assert_eq!(log.text(), "a OK done\r\n");
}

#[test]
fn control_characters_are_an_error_not_a_truncation() {
    let cases: [(&[u8], &str); 4] = [
        (
            b"a NOOP\0\r\n",
            "a BAD Control characters are not allowed\r\n",
        ),
        (
            b"a LOGIN alice\0 pw\r\n",
            "a BAD Control characters are not allowed\r\n",
        ),
        (
            b"a\x01 NOOP\r\n",
            "* BAD Control characters are not allowed\r\n",
        ),
        (
            b"a LOGIN {1}\r\n\0 pw\r\n",
            "+ Ready for literal data\r\na BAD NUL is not allowed in a literal\r\n",
        ),
    ];
    for (input, expected) in cases {
        let mut s = server(tls());
        let log = run(&mut s, input);
        assert_eq!(log.text(), expected);
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
    let log = run(&mut s, b"*\r\n+ x\r\n");
    assert_eq!(log.text(), "* BAD Invalid tag\r\n".repeat(2));
    let log = run(&mut s, b"\r\na NOOP\r\n");
    assert_eq!(
        log.text(),
        "* BAD Invalid tag\r\n* BYE Too many invalid commands\r\n"
    );
    assert_eq!(log.error.as_deref(), Some("peer sent 3 bad commands"));
    assert!(s.is_finished());
}

#[test]
fn session_bad_responses_count_too() {
    let mut s = server(Options {
        max_bad_commands: 2,
        ..Options::default()
    });
    let tag = postern_imap_proto::Tag::new("a").unwrap();
    s.tagged_no(&tag, None, "no");
    s.tagged_bad(&tag, None, "bad");
    assert!(!s.is_finished());
    s.tagged_bad(&tag, None, "bad");
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
            b"a LOGIN alice secret\r\nb AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\nc login {6}\r\nd LOGIN x {2+}\r\npw\r\ne LOGIN\r\n",
        );
        assert!(log.events.is_empty(), "a credential reached the session");
        let text = log.text();
        assert_eq!(text.lines().count(), 5, "{text}");
        for (line, tag) in text.lines().zip(["a", "b", "c", "d", "e"]) {
            assert!(line.starts_with(&format!(
                "{tag} NO [PRIVACYREQUIRED] Plaintext login is disallowed"
            )));
        }
        assert!(
            !text.contains('+'),
            "a continuation invited the password: {text}"
        );
        assert_eq!(text.contains("use STARTTLS first"), starttls_offered);
    }
}

#[test]
fn random_bytes_never_panic() {
    let words: &[&[u8]] = &[
        b"a1 ",
        b"LOGIN ",
        b"AUTHENTICATE PLAIN ",
        b"STARTTLS",
        b"CAPABILITY",
        b"LOGOUT",
        b"NOOP",
        b"{",
        b"}",
        b"{3}",
        b"{5+}",
        b"{4097}",
        b"\"",
        b"\\",
        b"\0",
        b"\r",
        b"\n",
        b" ",
        b"*",
        b"+",
        b"=",
        b"\xff",
    ];
    let make = |seed: u64| {
        Server::new(Options {
            max_line: [16, 64, 1024, 8192][(seed % 4) as usize],
            max_literal: [0, 4, 4096][(seed % 3) as usize],
            max_bad_commands: 1 + (seed % 30) as u32,
            tls_active: seed.is_multiple_of(5),
            ..Options::default()
        })
    };
    common::fuzz(make, words, answer, 10_000, Server::partial_line_len, 8193);
}
