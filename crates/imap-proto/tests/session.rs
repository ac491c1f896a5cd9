//! The core's own answers and the intent methods, one behaviour per test.

mod common;

use common::{After, Log};
use postern_imap_proto::{Event, Options, Part, Server, Tag};
use postern_types::{Goodbye, Protocol, TimeoutClass, TlsInfo};

fn ignore(_: &mut Server, _: &Event) -> After {
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
    common::drive(s, &mut log, ignore);
    log
}

fn tag(t: &str) -> Tag {
    Tag::new(t).unwrap()
}

#[test]
fn greeting() {
    let mut s = Server::new(Options::default());
    assert_eq!(
        s.take_output().unwrap(),
        b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID STARTTLS LOGINDISABLED] Postern ready\r\n"
    );
    assert_eq!(s.timeout_class(), TimeoutClass::PreAuth);
}

#[test]
fn starttls_not_offered() {
    let mut s = server(Options {
        starttls_offered: false,
        ..Options::default()
    });
    let log = run(&mut s, b"a STARTTLS\r\na CAPABILITY\r\n");
    assert_eq!(
        log.text(),
        "a BAD STARTTLS is not available on this port\r\n\
         * CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID LOGINDISABLED\r\n\
         a OK CAPABILITY completed\r\n"
    );
    assert!(log.events.is_empty());
}

#[test]
fn starttls_may_be_declined() {
    let mut s = server(Options::default());
    s.enqueue_input(b"a STARTTLS\r\nb NOOP\r\n");
    assert_eq!(s.next().unwrap(), Event::StartTls { tag: tag("a") });
    s.tagged_no(&tag("a"), Some("UNAVAILABLE"), "TLS is not available now");
    let log = run(&mut s, b"");
    assert_eq!(
        log.text(),
        "a NO [UNAVAILABLE] TLS is not available now\r\nb OK NOOP completed\r\n"
    );
}

#[test]
fn other_commands_reach_the_session_with_their_literals() {
    let mut s = server(Options::default());
    let log = run(
        &mut s,
        b"a XSELECT {5}\r\nINBOX\r\nb XENABLE UTF8=ACCEPT\r\n",
    );
    assert_eq!(log.text(), "+ Ready for literal data\r\n");
    let select = Event::Command {
        tag: tag("a"),
        name: "XSELECT".into(),
        rest: vec![
            Part::Text(String::new()),
            Part::Literal(b"INBOX".to_vec()),
            Part::Text(String::new()),
        ],
    };
    let enable = Event::Command {
        tag: tag("b"),
        name: "XENABLE".into(),
        rest: vec![Part::Text("UTF8=ACCEPT".into())],
    };
    assert_eq!(log.events, [select, enable]);
}

#[test]
fn malformed_commands() {
    let mut s = server(Options {
        tls_active: true,
        ..Options::default()
    });
    let log = run(&mut s, b"a LOGIN alice\r\nb NOOP x\r\n+1 NOOP\r\nc\r\n");
    assert_eq!(
        log.text(),
        "a BAD Syntax: LOGIN userid password\r\n\
         b BAD NOOP takes no arguments\r\n\
         * BAD Invalid tag\r\n\
         c BAD Missing or invalid command name\r\n"
    );
    assert_eq!(s.bad_commands(), 4);
}

#[test]
fn logout_says_bye_then_ok() {
    let mut s = server(Options::default());
    let log = run(&mut s, b"z LOGOUT\r\nz NOOP\r\n");
    assert_eq!(log.text(), "* BYE Logging out\r\nz OK LOGOUT completed\r\n");
    assert!(s.is_finished());
}

#[test]
fn goodbyes() {
    let cases = [
        (Goodbye::Shutdown, "* BYE Server shutting down\r\n"),
        (Goodbye::Timeout, "* BYE Autologout; idle for too long\r\n"),
        (
            Goodbye::SessionTooLong,
            "* BYE Session time limit reached\r\n",
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
    let mut s = server(Options::default());
    s.untagged("ENABLED");
    s.tagged_ok(&tag("a"), Some("READ-WRITE"), "SELECT completed");
    s.tagged_no(&tag("b"), None, "x\r\nb OK forged");
    assert_eq!(
        String::from_utf8(s.take_output().unwrap()).unwrap(),
        "* ENABLED\r\na OK [READ-WRITE] SELECT completed\r\nb NO x  b OK forged\r\n"
    );
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
    assert_eq!(
        s.capabilities(),
        "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID AUTH=PLAIN AUTH=LOGIN"
    );
}

#[test]
fn a_held_command_keeps_the_next_one_waiting() {
    let mut s = server(Options {
        tls_active: true,
        ..Options::default()
    });
    s.enqueue_input(b"a NOOP\r\nb NOOP\r\n");
    s.hold();
    s.untagged("1 FETCH (UID 1)");
    let log = run(&mut s, b"");
    assert_eq!(log.text(), "* 1 FETCH (UID 1)\r\n");
    s.release();
    let log = run(&mut s, b"");
    assert_eq!(log.text(), "a OK NOOP completed\r\nb OK NOOP completed\r\n");
}

/// RFC 7162 §3.2.3: ENABLE QRESYNC turns CONDSTORE on too; the QRESYNC
/// SELECT parameter and the VANISHED FETCH modifier are refused (BAD)
/// until then, and reach the session after.
#[test]
fn qresync_is_enabled_before_use() {
    let mut s = server(Options {
        tls_active: true,
        ..Options::default()
    });
    s.logged_in();
    let log = run(
        &mut s,
        b"a SELECT INBOX (QRESYNC (1 2))\r\nb UID FETCH 1:* FLAGS (CHANGEDSINCE 2 VANISHED)\r\n",
    );
    assert_eq!(
        log.text(),
        "a BAD ENABLE QRESYNC first\r\nb BAD ENABLE QRESYNC first\r\n"
    );
    assert!(log.events.is_empty(), "{:?}", log.events);
    let log = run(
        &mut s,
        b"c ENABLE QRESYNC\r\nd ENABLE CONDSTORE QRESYNC\r\n",
    );
    assert_eq!(
        log.text(),
        "* ENABLED QRESYNC\r\nc OK ENABLE completed\r\n* ENABLED\r\nd OK ENABLE completed\r\n"
    );
    assert!(s.enabled().qresync && s.enabled().condstore);
    let log = run(
        &mut s,
        b"e SELECT INBOX (QRESYNC (1 2))\r\nf UID FETCH 1:* FLAGS (CHANGEDSINCE 2 VANISHED)\r\n",
    );
    assert_eq!(log.text(), "");
    assert_eq!(log.events.len(), 2, "{:?}", log.events);

    let mut fresh = server(Options {
        tls_active: true,
        ..Options::default()
    });
    fresh.logged_in();
    let log = run(&mut fresh, b"g ENABLE QRESYNC CONDSTORE QRESYNC\r\n");
    assert_eq!(
        log.text(),
        "* ENABLED QRESYNC CONDSTORE\r\ng OK ENABLE completed\r\n"
    );
}
