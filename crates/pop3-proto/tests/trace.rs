//! RFC-style transcripts replayed through the machine with no socket, then
//! fed at every byte split: the core must not care how TCP cut the input.

mod common;

use common::{After, Log};
use postern_pop3_proto::{Event, Options, Server};
use postern_types::{Protocol, Secret, TlsInfo};

/// The test session: what a simple server crate would answer.
fn answer(s: &mut Server, event: &Event) -> After {
    match event {
        Event::StartTls => {
            s.accept_stls();
            return After::StartTls;
        }
        Event::User { .. } => s.ok(""),
        Event::Pass { .. } | Event::Auth { .. } => s.err(Some("AUTH"), "Invalid credentials"),
        Event::Command { .. } => s.err(None, "Not logged in"),
        _ => {}
    }
    After::Continue
}

fn pop3() -> Server {
    Server::new(Options::default())
}

/// Port 110: the RFC 2595 §4 shape, then the post-TLS capabilities.
const POP3: &str = "
    S: +OK Postern ready
    C: CAPA
    S: +OK Capability list follows
    S: STLS
    S: RESP-CODES
    S: PIPELINING
    S: AUTH-RESP-CODE
    S: .
    C: USER alice
    S: -ERR [AUTH] PRIVACY: plaintext authentication is disallowed, use STLS first
    C: STLS
    S: +OK Begin TLS negotiation
    -- TLS --
    (RFC 2595 §4: nothing is sent after the handshake)
    C: CAPA
    S: +OK Capability list follows
    S: USER
    S: SASL PLAIN LOGIN
    S: RESP-CODES
    S: PIPELINING
    S: AUTH-RESP-CODE
    S: UIDL
    S: TOP
    S: .
    C: STLS
    S: -ERR Command not permitted when TLS active
    C: USER alice
    S: +OK
    C: PASS two words
    S: -ERR [AUTH] Invalid credentials
    C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
    S: -ERR [AUTH] Invalid credentials
    C: LIST 1
    S: -ERR Not logged in
    C: QUIT
    S: +OK Logging out
";

#[test]
fn pop3_transcript() {
    let server = common::replay(pop3(), POP3, answer);
    assert!(server.is_finished());
    assert!(server.tls_info().is_some());
}

#[test]
fn pop3_transcript_is_split_invariant() {
    common::assert_split_invariant(pop3, POP3, answer);
}

#[test]
fn transcript_events() {
    let phases = common::client_phases(&common::steps(POP3));
    let chunks: Vec<Vec<&[u8]>> = phases.iter().map(|p| vec![&p[..]]).collect();
    let log: Log<Event> = common::feed(pop3(), &chunks, answer);
    let expected = [
        Event::StartTls,
        Event::User {
            name: "alice".into(),
        },
        Event::Pass {
            password: Secret::new("two words".into()),
        },
        Event::Auth {
            mechanism: "PLAIN".into(),
            initial_response: Some(Secret::new("AGFsaWNlAHNlY3JldA==".into())),
        },
        Event::Command {
            name: "LIST".into(),
            args: vec!["1".into()],
        },
    ];
    assert_eq!(log.events, expected);
}

/// CVE-2011-0411: a command pipelined after STLS in clear text is never
/// executed, and the upgrade is refused with the number of bytes.
#[test]
fn stls_injection_is_refused() {
    let mut server = pop3();
    let mut log = Log::default();
    server.enqueue_input(b"STLS\r\nSTAT\r\n");
    assert!(common::drive(&mut server, &mut log, answer));
    assert_eq!(
        log.text(),
        "+OK Postern ready\r\n+OK Begin TLS negotiation\r\n"
    );
    assert_eq!(log.events, [Event::StartTls]);
    assert_eq!(server.buffered_input_len(), 6);
    assert_eq!(server.start_tls(TlsInfo::default()).unwrap_err().bytes, 6);
}

#[test]
fn next_after_the_go_ahead_never_parses() {
    let mut server = pop3();
    let mut log = Log::default();
    server.enqueue_input(b"STLS\r\n");
    assert!(common::drive(&mut server, &mut log, answer));
    server.enqueue_input(b"USER mallory\r\n");
    assert!(!common::drive(&mut server, &mut log, answer));
    assert_eq!(log.events, [Event::StartTls]);
    assert!(log.error.is_some());
    assert_eq!(server.start_tls(TlsInfo::default()).unwrap_err().bytes, 14);
}

#[test]
fn the_upgraded_machine_starts_over() {
    let mut server = pop3();
    let mut log = Log::default();
    server.enqueue_input(b"FOO\r\nSTLS\r\n");
    assert!(common::drive(&mut server, &mut log, answer));
    assert_eq!(server.bad_commands(), 1);
    let mut server = server.start_tls(TlsInfo::default()).unwrap();
    assert_eq!(server.bad_commands(), 0);
    assert!(server.options().tls_active && !server.options().starttls_offered);
    assert_eq!(server.take_output(), None, "no second greeting");
}
