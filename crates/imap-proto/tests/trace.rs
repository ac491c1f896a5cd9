//! RFC-style transcripts replayed through the machine with no socket, then
//! fed at every byte split: the core must not care how TCP cut the input.

mod common;

use common::{After, Log};
use postern_imap_proto::cmd::Request;
use postern_imap_proto::{Data, Event, Options, Server};
use postern_types::{Protocol, Secret, TlsInfo};

/// The test session: what a simple server crate would answer.
fn answer(s: &mut Server, event: &Event) -> After {
    match event {
        Event::StartTls { tag } => {
            s.accept_starttls(tag);
            return After::StartTls;
        }
        Event::Login { tag, .. } | Event::Authenticate { tag, .. } => {
            s.tagged_no(tag, Some("AUTHENTICATIONFAILED"), "Invalid credentials");
        }
        Event::Command { tag, name, .. } if name == "ID" => {
            s.untagged("ID NIL");
            s.tagged_ok(tag, None, "ID completed");
        }
        Event::Command { tag, .. } => s.tagged_bad(tag, None, "Unknown command"),
        _ => {}
    }
    After::Continue
}

fn imap() -> Server {
    Server::new(Options::default())
}

fn imaps() -> Server {
    Server::new(Options {
        tls_active: true,
        starttls_offered: false,
        ..Options::default()
    })
}

/// Port 143: the RFC 9051 §6.2.1 shape, then the post-TLS capabilities and
/// a login with a synchronizing and a LITERAL- literal.
const IMAP: &str = r#"
    S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID STARTTLS LOGINDISABLED] Postern ready
    C: a1 CAPABILITY
    S: * CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID STARTTLS LOGINDISABLED
    S: a1 OK CAPABILITY completed
    C: a2 LOGIN alice secret
    S: a2 NO [PRIVACYREQUIRED] Plaintext login is disallowed, use STARTTLS first
    C: a3 LOGIN {5}
    S: a3 NO [PRIVACYREQUIRED] Plaintext login is disallowed, use STARTTLS first
    C: a4 NOOP
    S: a4 OK NOOP completed
    C: a5 STARTTLS
    S: a5 OK Begin TLS negotiation now
    -- TLS --
    (RFC 9051 §6.2.1: nothing is sent after the handshake)
    C: b1 CAPABILITY
    S: * CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID AUTH=PLAIN AUTH=LOGIN
    S: b1 OK CAPABILITY completed
    C: b2 STARTTLS
    S: b2 BAD TLS is already active
    C: b3 LOGIN {5}
    S: + Ready for literal data
    C: alice {9+}
    C: pass word
    S: b3 NO [AUTHENTICATIONFAILED] Invalid credentials
    C: b4 LOGIN "alice" "p\"w"
    S: b4 NO [AUTHENTICATIONFAILED] Invalid credentials
    C: b5 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==
    S: b5 NO [AUTHENTICATIONFAILED] Invalid credentials
    C: b6 ID NIL
    S: * ID ("name" "Postern")
    S: b6 OK ID completed
    C: b7 FROB
    S: b7 BAD Unknown command
    C: b8 LOGOUT
    S: * BYE Logging out
    S: b8 OK LOGOUT completed
"#;

/// Port 993: the greeting already lists AUTH=PLAIN.
const IMAPS: &str = "
    S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID AUTH=PLAIN AUTH=LOGIN] Postern ready
    C: x STARTTLS
    S: x BAD TLS is already active
    C: y LOGOUT
    S: * BYE Logging out
    S: y OK LOGOUT completed
";

#[test]
fn imap_transcript() {
    let server = common::replay(imap(), IMAP, answer);
    assert!(server.is_finished());
    assert!(server.tls_info().is_some());
}

#[test]
fn imaps_transcript() {
    assert!(common::replay(imaps(), IMAPS, answer).is_finished());
}

#[test]
fn imap_transcript_is_split_invariant() {
    common::assert_split_invariant(imap, IMAP, answer);
}

#[test]
fn imaps_transcript_is_split_invariant() {
    common::assert_split_invariant(imaps, IMAPS, answer);
}

#[test]
fn transcript_events() {
    let phases = common::client_phases(&common::steps(IMAP));
    let chunks: Vec<Vec<&[u8]>> = phases.iter().map(|p| vec![&p[..]]).collect();
    let log: Log<Event> = common::feed(imap(), &chunks, answer);
    let tag = |t: &str| postern_imap_proto::Tag::new(t).unwrap();
    assert_eq!(log.events[0], Event::StartTls { tag: tag("a5") });
    let login = Event::Login {
        tag: tag("b3"),
        username: "alice".into(),
        password: Secret::new("pass word".into()),
    };
    assert_eq!(log.events[1], login);
    let quoted = Event::Login {
        tag: tag("b4"),
        username: "alice".into(),
        password: Secret::new("p\"w".into()),
    };
    assert_eq!(log.events[2], quoted);
    let frob = Event::Command {
        tag: tag("b7"),
        name: "FROB".into(),
        rest: vec![],
    };
    assert_eq!(log.events[4], frob);
    assert_eq!(log.events.len(), 5);
}

/// CVE-2011-0411: a command pipelined after STARTTLS in clear text is never
/// executed, and the upgrade is refused with the number of bytes.
#[test]
fn starttls_injection_is_refused() {
    let mut server = imap();
    let mut log = Log::default();
    server.enqueue_input(b"a STARTTLS\r\nb LOGIN x y\r\n");
    assert!(common::drive(&mut server, &mut log, answer));
    let said = log.text();
    assert!(
        said.ends_with("a OK Begin TLS negotiation now\r\n"),
        "{said}"
    );
    assert!(
        !said.contains("b "),
        "the injected LOGIN was answered: {said}"
    );
    assert_eq!(server.buffered_input_len(), 13);
    assert_eq!(server.start_tls(TlsInfo::default()).unwrap_err().bytes, 13);
}

#[test]
fn an_injected_literal_is_counted_too() {
    let mut server = imap();
    let mut log = Log::default();
    server.enqueue_input(b"a STARTTLS\r\nb LOGIN {3+}\r\nx");
    assert!(common::drive(&mut server, &mut log, answer));
    assert_eq!(server.start_tls(TlsInfo::default()).unwrap_err().bytes, 15);
}

#[test]
fn next_after_the_go_ahead_never_parses() {
    let mut server = imap();
    let mut log = Log::default();
    server.enqueue_input(b"a STARTTLS\r\n");
    assert!(common::drive(&mut server, &mut log, answer));
    server.enqueue_input(b"b LOGIN x y\r\n");
    assert!(!common::drive(&mut server, &mut log, answer));
    assert_eq!(log.events.len(), 1);
    assert!(log.error.is_some());
}

#[test]
fn the_upgraded_machine_starts_over() {
    let mut server = imap();
    let mut log = Log::default();
    server.enqueue_input(b"a FOO(\r\nb STARTTLS\r\n");
    assert!(common::drive(&mut server, &mut log, answer));
    assert_eq!(server.bad_commands(), 1);
    let mut server = server.start_tls(TlsInfo::default()).unwrap();
    assert_eq!(server.bad_commands(), 0);
    assert!(server.options().tls_active && !server.options().starttls_offered);
    assert_eq!(server.take_output(), None, "no second greeting");
}

/// A test session with one mailbox: it logs anyone in, and answers the
/// mail commands with fixed data, so the transcript checks the core's
/// part: states, literals both ways, IDLE, SASL continuations, ENABLE.
fn mail_answer(s: &mut Server, event: &Event) -> After {
    match event {
        Event::Login { tag, .. } => {
            s.logged_in();
            s.tagged_ok(tag, None, "Logged in");
        }
        Event::Authenticate {
            tag,
            initial_response: None,
            ..
        } => s.sasl_challenge(tag, ""),
        Event::SaslResponse { tag, .. } => {
            s.logged_in();
            s.tagged_ok(tag, None, "Logged in");
        }
        Event::Request { tag, request } => mail_request(s, tag, request),
        Event::IdleDone { tag } => s.tagged_ok(tag, None, "IDLE terminated"),
        Event::Command { tag, .. } => s.tagged_bad(tag, None, "Unknown command"),
        _ => {}
    }
    After::Continue
}

fn mail_request(s: &mut Server, tag: &postern_imap_proto::Tag, request: &Request) {
    match request {
        Request::Select {
            mailbox, qresync, ..
        } => {
            let mut d = Data::new();
            d.num(1).sp().raw("EXISTS");
            s.data(d);
            if qresync.is_some() {
                for d in Data::vanished(&[41, 42, 43, 45], true) {
                    s.data(d);
                }
            }
            s.tagged_ok(tag, Some("READ-WRITE"), &format!("{mailbox} selected"));
        }
        Request::Fetch { .. } => {
            let mut d = Data::new();
            d.num(1)
                .sp()
                .raw("FETCH (BODY[] ")
                .literal(b"Hi\r\n")
                .close();
            s.data(d);
            s.tagged_ok(tag, None, "FETCH completed");
        }
        Request::Append { message, .. } => {
            s.tagged_ok(tag, None, &format!("APPEND of {} octets", message.len()));
        }
        Request::Idle => s.idle(tag),
        Request::List(list) => {
            let mut d = Data::new();
            d.raw("LIST () \"/\" ").mailbox(&list.patterns[0], s.utf8());
            s.data(d);
            s.tagged_ok(tag, None, "LIST completed");
        }
        _ => s.tagged_no(tag, None, "Not in this test"),
    }
}

/// RFC 9051 §8-style session after login, over implicit TLS.
const MAIL: &str = r#"
    S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID AUTH=PLAIN AUTH=LOGIN] Postern ready
    C: a0 SELECT INBOX
    S: a0 BAD Log in first
    C: a1 AUTHENTICATE PLAIN
    S: + 
    C: *
    S: a1 BAD Authentication cancelled
    C: a2 AUTHENTICATE PLAIN
    S: + 
    C: AGFsaWNlAHNlY3JldA==
    S: a2 OK Logged in
    C: a3 CAPABILITY
    S: * CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE ESEARCH SEARCHRES CONDSTORE QRESYNC UTF8=ACCEPT STATUS=SIZE BINARY QUOTA QUOTA=RES-STORAGE SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES COMPRESS=DEFLATE APPENDLIMIT=67108864
    S: a3 OK CAPABILITY completed
    C: a4 LOGIN alice secret
    S: a4 BAD Already logged in
    C: a5 NAMESPACE
    S: * NAMESPACE (("" "/")) NIL NIL
    S: a5 OK NAMESPACE completed
    C: a6 LIST "" "Entw&APw-rfe"
    S: * LIST () "/" "Entw&APw-rfe"
    S: a6 OK LIST completed
    C: q1 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211))
    S: q1 BAD ENABLE QRESYNC first
    C: a7 ENABLE CONDSTORE X-UNKNOWN UTF8=ACCEPT
    S: * ENABLED CONDSTORE UTF8=ACCEPT
    S: a7 OK ENABLE completed
    C: q2 ENABLE QRESYNC CONDSTORE
    S: * ENABLED QRESYNC
    S: q2 OK ENABLE completed
    C: q3 EXAMINE INBOX (QRESYNC (67890007 90060115194045000 41:211 (1 41)))
    S: * 1 EXISTS
    S: * VANISHED (EARLIER) 41:43,45
    S: q3 OK [READ-WRITE] INBOX selected
    C: q4 FETCH 1 FLAGS (CHANGEDSINCE 7 VANISHED)
    S: q4 BAD VANISHED is only allowed with UID FETCH
    C: a8 LIST "" "Entwürfe"
    S: * LIST () "/" "Entwürfe"
    S: a8 OK LIST completed
    C: a9 SELECT inbox
    S: * 1 EXISTS
    S: a9 OK [READ-WRITE] INBOX selected
    C: b1 FETCH 1 BODY[]
    S: * 1 FETCH (BODY[] {4}
    S: Hi
    S: )
    S: b1 OK FETCH completed
    C: b2 APPEND INBOX (\Seen) {5000+}
    C: <5000 octets>
    S: b2 OK APPEND of 5000 octets
    C: b3 IDLE
    S: + idling
    C: DONE
    S: b3 OK IDLE terminated
    C: b4 IDLE
    S: + idling
    C: NOOP
    S: b4 BAD Expected DONE
    C: c1 COMPRESS GZIP
    S: c1 BAD Syntax: COMPRESS DEFLATE
    C: c2 COMPRESS DEFLATE
    S: c2 OK DEFLATE active
    C: c3 COMPRESS DEFLATE
    S: c3 NO [COMPRESSIONACTIVE] DEFLATE is already active
    C: b5 LOGOUT
    S: * BYE Logging out
    S: b5 OK LOGOUT completed
"#;

/// The 5000-octet literal of MAIL, spelt out.
fn mail_transcript() -> String {
    let body = format!("{}\r\n", "x".repeat(4998));
    MAIL.replace(
        "    C: <5000 octets>\n",
        &format!("    C: {}\n    C: \n", &body[..4998]),
    )
}

#[test]
fn mail_transcript_replays() {
    common::replay(imaps(), &mail_transcript(), mail_answer);
}

#[test]
fn mail_transcript_at_every_split() {
    common::assert_split_invariant(imaps, &mail_transcript(), mail_answer);
}
