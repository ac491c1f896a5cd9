//! RFC-style transcripts replayed through the machine with no socket, then
//! fed whole (every command pipelined, RFC 2920), at every byte split and
//! one byte at a time: the core must not care how TCP cut the input.

mod common;

use common::{accept, mx, submission, submissions, Log};
use postern_smtp_proto::{Event, Options, Server};
use postern_types::{Protocol, TlsInfo};

/// Port 25: EHLO, STARTTLS (RFC 3207 §4), a DATA message with
/// dot-stuffing (RFC 5321 §4.5.2), a refused recipient, a BDAT message in
/// two chunks (RFC 3030 §2), RSET.
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
    S: 250-DSN
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
    S: 250-CHUNKING
    S: 250-DSN
    S: 250 REQUIRETLS
    C: STARTTLS
    S: 503 5.5.1 TLS is already active
    C: MAIL FROM:<alice@example.net> BODY=8BITMIME SIZE=40 RET=HDRS ENVID=Q+2B1 REQUIRETLS
    S: 250 2.1.0 Sender OK
    C: RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.org
    S: 250 2.1.5 Recipient OK
    C: RCPT TO:<nobody@example.org>
    S: 550 5.1.1 No such user
    C: DATA
    S: 354 Start mail input; end with <CRLF>.<CRLF>
    C: Subject: test
    C: 
    C: ..leading dot
    C: .
    S: 250 2.0.0 OK queued as Q1
    C: MAIL FROM:<>
    S: 250 2.1.0 Sender OK
    C: RCPT TO:<Postmaster>
    S: 250 2.1.5 Recipient OK
    C: BDAT 5
    C: Hi!
    S: 250 2.0.0 5 octets received
    C: BDAT 3 LAST
    C: .
    S: 250 2.0.0 OK queued as Q1
    C: MAIL FROM:<alice@example.net>
    S: 250 2.1.0 Sender OK
    C: RSET
    S: 250 2.0.0 OK
    C: RCPT TO:<bob@example.org>
    S: 503 5.5.1 Need MAIL command first
    C: QUIT
    S: 221 2.0.0 Bye
";

/// Port 587: nothing but EHLO/STARTTLS before TLS, AUTH only after, and
/// MAIL only after AUTH (RFC 4954 §6).
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
    S: 250-DSN
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
    S: 250-DSN
    S: 250-REQUIRETLS
    S: 250 AUTH PLAIN LOGIN
    C: MAIL FROM:<alice@example.org>
    S: 530 5.7.0 Authentication required
    C: AUTH PLAIN AGFsaWNlAHdyb25n
    S: 535 5.7.8 Authentication credentials invalid
    C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
    S: 235 2.7.0 Authentication successful
    C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
    S: 503 5.5.1 Already authenticated
    C: MAIL FROM:<alice@example.org>
    S: 250 2.1.0 Sender OK
    C: RCPT TO:<bob@example.com>
    S: 250 2.1.5 Recipient OK
    C: DATA
    S: 354 Start mail input; end with <CRLF>.<CRLF>
    C: Hello
    C: .
    S: 250 2.0.0 OK queued as Q1
    C: QUIT
    S: 221 2.0.0 Bye
";

/// Port 465: AUTH PLAIN without an initial response, `*` to cancel, AUTH
/// LOGIN in two steps (RFC 4954 §4).
const AUTH: &str = "
    S: 220 smtp.example.org ESMTP Postern
    C: EHLO laptop
    S: 250-smtp.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250-SMTPUTF8
    S: 250-CHUNKING
    S: 250-DSN
    S: 250-REQUIRETLS
    S: 250 AUTH PLAIN LOGIN
    C: AUTH CRAM-MD5
    S: 504 5.5.4 Unrecognized authentication type
    C: AUTH EXTERNAL =
    S: 504 5.5.4 Unrecognized authentication type
    C: AUTH PLAIN
    S: 334 
    C: *
    S: 501 5.0.0 Authentication cancelled
    C: AUTH PLAIN
    S: 334 
    C: not base64!
    S: 501 5.5.2 Cannot decode base64
    C: AUTH PLAIN !
    S: 501 5.5.2 Cannot decode base64
    C: AUTH PLAIN =
    S: 334 VXNlcm5hbWU6
    C: YnVzeQ==
    S: 454 4.7.0 Temporary authentication failure
    C: AUTH LOGIN
    S: 334 
    C: 
    S: 334 VXNlcm5hbWU6
    C: YWxpY2U=
    S: 334 UGFzc3dvcmQ6
    C: c2VjcmV0
    S: 235 2.7.0 Authentication successful
    C: MAIL FROM:<alice@example.org>
    S: 250 2.1.0 Sender OK
    C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
    S: 503 5.5.1 Already authenticated
    C: QUIT
    S: 221 2.0.0 Bye
";

/// RFC 2920 §3.1: a pipelined group of MAIL, RCPT, RCPT, DATA; the replies
/// come in command order, the refused recipient does not count, and the
/// body follows the 354.
const PIPELINED: &str = "
    S: 220 mx.example.org ESMTP Postern
    C: EHLO client.example.net
    C: MAIL FROM:<alice@example.net>
    C: RCPT TO:<nobody@example.org>
    C: RCPT TO:<bob@example.org>
    C: DATA
    S: 250-mx.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250-SMTPUTF8
    S: 250-CHUNKING
    S: 250-DSN
    S: 250 STARTTLS
    S: 250 2.1.0 Sender OK
    S: 550 5.1.1 No such user
    S: 250 2.1.5 Recipient OK
    S: 354 Start mail input; end with <CRLF>.<CRLF>
    C: Hi
    C: .
    C: MAIL FROM:<spammer@example.net>
    C: RCPT TO:<bob@example.org>
    C: DATA
    C: QUIT
    S: 250 2.0.0 OK queued as Q1
    S: 550 5.7.1 Go away
    S: 503 5.5.1 Need MAIL command first
    S: 503 5.5.1 Need MAIL command first
    S: 221 2.0.0 Bye
";

fn submission_tls() -> Server {
    submissions(Options::default())
}

#[test]
fn mx_transcript() {
    let server = common::replay(mx(), MX, accept);
    assert!(server.is_finished());
    assert!(server.tls_info().is_some());
}

#[test]
fn submission_transcript() {
    let server = common::replay(submission(), SUBMISSION, accept);
    assert!(server.is_finished() && server.is_authenticated());
}

#[test]
fn auth_transcript() {
    let server = common::replay(submission_tls(), AUTH, accept);
    assert!(server.is_authenticated());
}

#[test]
fn pipelined_transcript() {
    common::replay_pipelined(mx(), PIPELINED);
}

#[test]
fn transcripts_are_split_invariant() {
    common::assert_split_invariant(mx, MX, accept);
    common::assert_split_invariant(submission, SUBMISSION, accept);
    common::assert_split_invariant(submission_tls, AUTH, accept);
    common::assert_split_invariant(mx, PIPELINED, accept);
}

#[test]
fn transcript_events_carry_the_parsed_commands() {
    let phases = common::client_phases(&common::steps(MX));
    let chunks: Vec<Vec<&[u8]>> = phases.iter().map(|p| vec![&p[..]]).collect();
    let log: Log<Event> = common::feed(mx(), &chunks, accept);
    let kinds: Vec<&str> = log
        .events
        .iter()
        .map(|e| match e {
            Event::StartTls => "starttls",
            Event::Mail(_) => "mail",
            Event::Rcpt(_) => "rcpt",
            Event::Message(_) => "message",
            _ => "other",
        })
        .collect();
    let expected = [
        "starttls", "mail", "rcpt", "rcpt", "message", "mail", "rcpt", "message", "mail",
    ];
    assert_eq!(kinds, expected);
    let Event::Mail(mail) = &log.events[1] else {
        unreachable!()
    };
    assert!(mail.requiretls && mail.size == Some(40));
    assert_eq!(mail.envid.as_deref(), Some("Q+1"));
    let Event::Rcpt(rcpt) = &log.events[2] else {
        unreachable!()
    };
    assert_eq!(rcpt.orcpt.as_deref(), Some("rfc822;bob@example.org"));
    assert_eq!(
        common::messages(&log),
        [
            &b"Subject: test\r\n\r\n.leading dot\r\n"[..],
            b"Hi!\r\n.\r\n"
        ]
    );
}

/// CVE-2011-0411: a command pipelined after STARTTLS in clear text is never
/// executed, and the upgrade is refused with the number of bytes.
#[test]
fn starttls_injection_is_refused() {
    let mut server = mx();
    let mut log = Log::default();
    server.enqueue_input(b"EHLO x\r\nSTARTTLS\r\nNOOP\r\n");
    assert!(common::drive(&mut server, &mut log, accept));
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
    assert!(common::drive(&mut server, &mut log, accept));
    server.enqueue_input(b"MAIL FROM:<evil@example.com>\r\n");
    // A driver that keeps calling next() gets an error, never an event.
    assert!(!common::drive(&mut server, &mut log, accept));
    assert_eq!(log.events, [Event::StartTls]);
    assert!(log.error.is_some());
    assert_eq!(server.start_tls(TlsInfo::default()).unwrap_err().bytes, 30);
}

#[test]
fn the_upgraded_machine_forgets_everything() {
    let mut server = mx();
    let mut log = Log::default();
    server.enqueue_input(b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nSTARTTLS\r\n");
    assert!(common::drive(&mut server, &mut log, accept));
    assert!(server.helo_name().is_some() && server.in_transaction());
    let mut server = server.start_tls(TlsInfo::default()).unwrap();
    assert!(server.helo_name().is_none() && !server.in_transaction());
    assert!(server.options().tls_active && !server.options().starttls_offered);
    assert_eq!(server.take_output(), None, "no second greeting");
}
