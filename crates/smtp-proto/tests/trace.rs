//! RFC-style transcripts replayed through the machine with no socket, then
//! fed at every byte split: the core must not care how TCP cut the input.

mod common;

use common::{After, Log};
use postern_smtp_proto::cmd::Command;
use postern_smtp_proto::{Event, Options, Server};
use postern_types::{Protocol, TlsInfo};

/// The test session: what a simple server crate would answer.
fn answer(s: &mut Server, event: &Event) -> After {
    match event {
        Event::StartTls => {
            s.accept_starttls();
            return After::StartTls;
        }
        Event::Command(Command::Mail(_)) => s.reply(250, Some("2.1.0"), "Sender OK"),
        Event::Command(Command::Rcpt(_)) => s.reply(250, Some("2.1.5"), "Recipient OK"),
        Event::Command(Command::Data) => s.reply(554, Some("5.5.1"), "No valid recipients"),
        Event::Command(Command::Auth(_)) => s.reply(535, Some("5.7.8"), "Authentication failed"),
        Event::Command(Command::Vrfy(_) | Command::Expn(_)) => {
            s.reply(252, Some("2.5.0"), "Cannot VRFY user")
        }
        Event::ChunkData {
            end_of_chunk: true, ..
        } => s.reply(250, Some("2.0.0"), "Chunk received"),
        _ => {}
    }
    After::Continue
}

fn mx() -> Server {
    Server::new(Options {
        hostname: "mx.example.org".into(),
        ..Options::default()
    })
}

fn submission() -> Server {
    Server::new(Options {
        hostname: "smtp.example.org".into(),
        submission: true,
        ..Options::default()
    })
}

/// Port 25: RFC 3207 §4 example shape, then a chunked message.
const MX: &str = "
    S: 220 mx.example.org ESMTP Postern
    C: EHLO client.example.net
    S: 250-mx.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250-SMTPUTF8
    S: 250-CHUNKING
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 2.0.0 Ready to start TLS
    -- TLS --
    (RFC 3207 §4.2: no greeting, the client says EHLO again, no STARTTLS)
    C: EHLO client.example.net
    S: 250-mx.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250-SMTPUTF8
    S: 250 CHUNKING
    C: STARTTLS
    S: 503 5.5.1 TLS is already active
    C: MAIL FROM:<alice@example.net> BODY=8BITMIME
    S: 250 2.1.0 Sender OK
    C: RCPT TO:<bob@example.org>
    S: 250 2.1.5 Recipient OK
    C: BDAT 5 LAST
    C: Hi!
    S: 250 2.0.0 Chunk received
    C: QUIT
    S: 221 2.0.0 Bye
";

/// Port 587: nothing but EHLO/STARTTLS before TLS, AUTH only after.
const SUBMISSION: &str = "
    S: 220 smtp.example.org ESMTP Postern
    C: EHLO laptop
    S: 250-smtp.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250-SMTPUTF8
    S: 250-CHUNKING
    S: 250 STARTTLS
    C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
    S: 530 5.7.0 Must issue a STARTTLS command first
    C: MAIL FROM:<alice@example.org>
    S: 530 5.7.0 Must issue a STARTTLS command first
    C: NOOP
    S: 250 2.0.0 OK
    C: STARTTLS
    S: 220 2.0.0 Ready to start TLS
    -- TLS --
    C: MAIL FROM:<alice@example.org>
    S: 503 5.5.1 Send EHLO or HELO first
    C: EHLO laptop
    S: 250-smtp.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250-SMTPUTF8
    S: 250-CHUNKING
    S: 250 AUTH PLAIN LOGIN
    C: AUTH PLAIN AGFsaWNlAHdyb25n
    S: 535 5.7.8 Authentication failed
    C: QUIT
    S: 221 2.0.0 Bye
";

#[test]
fn mx_transcript() {
    let server = common::replay(mx(), MX, answer);
    assert!(server.is_finished());
    assert!(server.tls_info().is_some());
}

#[test]
fn submission_transcript() {
    let server = common::replay(submission(), SUBMISSION, answer);
    assert!(server.is_finished());
}

#[test]
fn mx_transcript_is_split_invariant() {
    common::assert_split_invariant(mx, MX, answer);
}

#[test]
fn submission_transcript_is_split_invariant() {
    common::assert_split_invariant(submission, SUBMISSION, answer);
}

#[test]
fn transcript_events_carry_the_parsed_commands() {
    let phases = common::client_phases(&common::steps(MX));
    let chunks: Vec<Vec<&[u8]>> = phases.iter().map(|p| vec![&p[..]]).collect();
    let log: Log<Event> = common::feed(mx(), &chunks, answer);
    let kinds: Vec<&str> = log
        .events
        .iter()
        .map(|e| match e {
            Event::StartTls => "starttls",
            Event::Command(Command::Mail(_)) => "mail",
            Event::Command(Command::Rcpt(_)) => "rcpt",
            Event::Command(Command::Bdat(_)) => "bdat",
            Event::ChunkData { .. } => "chunk",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["starttls", "mail", "rcpt", "bdat", "chunk"]);
    let chunk = Event::ChunkData {
        bytes: b"Hi!\r\n".to_vec(),
        end_of_chunk: true,
    };
    assert_eq!(log.events[4], chunk);
}

/// CVE-2011-0411: a command pipelined after STARTTLS in clear text is never
/// executed, and the upgrade is refused with the number of bytes.
#[test]
fn starttls_injection_is_refused() {
    let mut server = mx();
    let mut log = Log::default();
    server.enqueue_input(b"EHLO x\r\nSTARTTLS\r\nNOOP\r\n");
    assert!(common::drive(&mut server, &mut log, answer));
    let said = log.text();
    assert!(said.ends_with("220 2.0.0 Ready to start TLS\r\n"), "{said}");
    assert!(
        !said.contains("OK"),
        "the injected NOOP was answered: {said}"
    );
    assert_eq!(server.buffered_input_len(), 6);
    let err = server.start_tls(TlsInfo::default()).unwrap_err();
    assert_eq!(err.bytes, 6);
}

#[test]
fn bytes_arriving_after_the_go_ahead_are_refused_too() {
    let mut server = mx();
    let mut log = Log::default();
    server.enqueue_input(b"STARTTLS\r\n");
    assert!(common::drive(&mut server, &mut log, answer));
    server.enqueue_input(b"MAIL FROM:<evil@example.com>\r\n");
    // A driver that keeps calling next() gets an error, never an event.
    assert!(!common::drive(&mut server, &mut log, answer));
    assert_eq!(log.events, [Event::StartTls]);
    assert!(log.error.is_some());
    assert_eq!(server.start_tls(TlsInfo::default()).unwrap_err().bytes, 30);
}

#[test]
fn the_upgraded_machine_forgets_everything() {
    let mut server = mx();
    let mut log = Log::default();
    server.enqueue_input(b"EHLO x\r\nSTARTTLS\r\n");
    assert!(common::drive(&mut server, &mut log, answer));
    assert!(server.helo_name().is_some());
    let mut server = server.start_tls(TlsInfo::default()).unwrap();
    assert!(server.helo_name().is_none());
    assert!(server.options().tls_active && !server.options().starttls_offered);
    assert_eq!(server.take_output(), None, "no second greeting");
}
