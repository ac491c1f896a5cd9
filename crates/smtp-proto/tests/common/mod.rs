//! The shared socket-free harness (crates/proto-testkit), and a test
//! session with fixed answers.

// Each test file uses a different part of this module.
#![allow(dead_code)]

pub use postern_proto_testkit::*;

use postern_smtp_proto::cmd::{Command, ForwardPath};
use postern_smtp_proto::{Event, Options, Server};
use postern_types::{Protocol, TlsInfo};

/// The credentials the test session knows.
pub const PLAIN_OK: &[u8] = b"\0alice\0secret";

/// A session with fixed answers: alice/secret logs in (PLAIN, or LOGIN in
/// two steps), every sender but `spammer@...` and every recipient but
/// `nobody@...` is accepted, every message is queued as `Q1`.
pub fn accept(s: &mut Server, event: &Event) -> After {
    match event {
        Event::StartTls => {
            s.accept_starttls();
            return After::StartTls;
        }
        Event::Auth {
            initial_response: Some(response),
            ..
        } => sasl_step(s, response.expose()),
        Event::Auth { .. } => s.sasl_challenge(b""),
        Event::SaslResponse(response) => sasl_step(s, response.expose()),
        Event::Mail(mail) => match &mail.reverse_path {
            Some(m) if m.local_part == "spammer" => s.reply(550, Some("5.7.1"), "Go away"),
            _ => s.accept_mail(),
        },
        Event::Rcpt(rcpt) => match &rcpt.forward_path {
            ForwardPath::Mailbox(m) if m.local_part == "nobody" => {
                s.reply(550, Some("5.1.1"), "No such user")
            }
            _ => s.accept_rcpt(),
        },
        Event::Message(_) => s.accept_message("Q1"),
        Event::Command(Command::Vrfy(_)) => s.reply(252, Some("2.5.0"), "Cannot VRFY user"),
        _ => s.reply(502, Some("5.5.1"), "Not implemented"),
    }
    After::Continue
}

/// PLAIN in one response, LOGIN as a user name then a password.
fn sasl_step(s: &mut Server, response: &[u8]) {
    match response {
        PLAIN_OK | b"secret" => s.auth_succeeded(),
        b"" => s.sasl_challenge(b"Username:"),
        b"alice" => s.sasl_challenge(b"Password:"),
        b"busy" => s.auth_temporary_failure(),
        _ => s.auth_failed(),
    }
}

pub fn mx() -> Server {
    Server::new(Options {
        hostname: "mx.example.org".into(),
        ..Options::default()
    })
}

/// Port 587 before STARTTLS.
pub fn submission() -> Server {
    Server::new(Options {
        hostname: "smtp.example.org".into(),
        submission: true,
        ..Options::default()
    })
}

/// Port 465: implicit TLS, with these options on top.
pub fn submissions(opts: Options) -> Server {
    Server::new(Options {
        hostname: "smtp.example.org".into(),
        submission: true,
        tls_active: true,
        starttls_offered: false,
        ..opts
    })
    .with_tls_info(TlsInfo::default())
}

/// Feeds `input` to a fresh machine whole, at every split point and one
/// byte at a time; all must give the same log, which is returned.
pub fn at_every_split<F: Fn() -> Server>(make: F, input: &[u8]) -> Log<Event> {
    let reference = feed(make(), &[vec![input]], accept);
    for k in 0..=input.len() {
        let log = feed(make(), &[vec![&input[..k], &input[k..]]], accept);
        same(&reference, &log, &format!("split at {k}"));
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    same(
        &reference,
        &feed(make(), &[bytes], accept),
        "one byte at a time",
    );
    reference
}

fn same(a: &Log<Event>, b: &Log<Event>, what: &str) {
    assert_eq!(a.text(), b.text(), "output differs, {what}");
    assert_eq!(a.events, b.events, "events differ, {what}");
    assert_eq!(a.error, b.error, "error differs, {what}");
}

/// The messages a log handed out.
pub fn messages(log: &Log<Event>) -> Vec<&[u8]> {
    log.events
        .iter()
        .filter_map(|e| match e {
            Event::Message(bytes) => Some(&bytes[..]),
            _ => None,
        })
        .collect()
}

/// The output without the greeting line.
pub fn replies(log: &Log<Event>) -> String {
    let text = log.text();
    text.split_once("\r\n")
        .map_or(String::new(), |(_, rest)| rest.to_owned())
}

/// Replays a transcript with pipelining (RFC 2920): each run of `C:` lines
/// is sent in one write, then the server must have said exactly the `S:`
/// lines that follow.
pub fn replay_pipelined(mut p: Server, transcript: &str) {
    let mut log = Log::default();
    let (mut sent, mut expected, mut seen) = (Vec::new(), String::new(), 0);
    let mut flush = |p: &mut Server, sent: &mut Vec<u8>, expected: &mut String| {
        p.enqueue_input(&std::mem::take(sent));
        drive(p, &mut log, accept);
        let got = String::from_utf8_lossy(&log.output[seen..]).into_owned();
        assert_eq!(
            got, *expected,
            "\n--- expected ---\n{expected}--- got ---\n{got}"
        );
        seen = log.output.len();
        expected.clear();
    };
    for step in steps(transcript) {
        match step {
            Step::Client(line) => {
                if !expected.is_empty() {
                    flush(&mut p, &mut sent, &mut expected);
                }
                sent.extend_from_slice(line.as_bytes());
                sent.extend_from_slice(b"\r\n");
            }
            Step::Server(line) => {
                expected.push_str(&line);
                expected.push_str("\r\n");
            }
            Step::Tls => panic!("no STARTTLS in a pipelined transcript"),
        }
    }
    flush(&mut p, &mut sent, &mut expected);
}
