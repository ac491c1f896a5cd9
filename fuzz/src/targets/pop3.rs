//! The POP3 core (`postern_pop3_proto::Server`), on a port-110 listener
//! with STLS, or (variant bit) on an implicit-TLS port 995.
//!
//! Invariants, besides those of `session`:
//! - every output line is UTF-8 and ends with CRLF; a status line starts
//!   with `+OK`, `-ERR` or `+ ` and is at most 512 octets (RFC 2449 §4);
//!   after a `+OK ... follows` status come the lines of a multi-line
//!   response, dot-stuffed (no line but the terminator starts with a lone
//!   `.`, RFC 1939 §3), and the output never stops inside one;
//! - the incomplete line never holds more than `max_line + 1` octets;
//! - USER, PASS and AUTH reach the session only under TLS (RFC 2595 §4);
//! - STLS reaches the session only when offered and TLS is off.

use postern_pop3_proto::{Event, Options, Server};
use postern_types::TlsInfo;

use super::session::{crlf_lines, excerpt, play, with_plans, After, Harness, Plan};
use super::Target;

pub(super) const TARGET: Target = Target {
    name: "pop3",
    about: "POP3 core, port 110 with STLS or (variant bit) implicit TLS",
    run: fuzz,
    seeds,
};

/// RFC 2449 §4, CRLF included.
const MAX_STATUS_LINE: usize = 512;

fn options(tls: bool) -> Options {
    Options {
        hostname: "pop.example.org".into(),
        tls_active: tls,
        starttls_offered: !tls,
        ..Options::default()
    }
}

fn fuzz(input: &[u8]) {
    let plan = Plan::new(input);
    let tls = plan.variant();
    let make = || {
        let server = match tls {
            true => Server::new(options(true)).with_tls_info(TlsInfo::default()),
            false => Server::new(options(false)),
        };
        (Session, server)
    };
    let transcript = play(&plan, make);
    check_output(&transcript.output);
}

/// The test session: lists whatever the client names, so that the
/// multi-line responses carry the client's words (dot lines included).
#[derive(Debug)]
struct Session;

impl Harness for Session {
    type P = Server;

    fn on_event(&mut self, s: &mut Server, event: Event) -> After {
        let opts = s.options().clone();
        match event {
            Event::StartTls => {
                assert!(
                    opts.starttls_offered && !opts.tls_active,
                    "STLS event with {opts:?}"
                );
                s.accept_stls();
                return After::StartTls;
            }
            Event::User { name } => {
                assert!(opts.tls_active, "USER reached the session before TLS");
                s.ok(&format!("{name} is known, send PASS"));
            }
            Event::Pass { .. } => {
                assert!(opts.tls_active, "PASS reached the session before TLS");
                s.err(Some("AUTH"), "Authentication failed");
            }
            Event::Auth { mechanism, .. } => {
                assert!(opts.tls_active, "AUTH reached the session before TLS");
                s.err(Some("AUTH"), &format!("{mechanism} authentication failed"));
            }
            Event::Command { name, args } => command(s, &name, &args),
            // A kind of event added since: refused.
            _ => s.err(None, "Not available"),
        }
        After::Continue
    }

    fn check_buffers(&self, s: &Server) {
        let limit = s.options().max_line + 1;
        let partial = s.partial_line_len();
        assert!(
            partial <= limit,
            "partial_line_len() is {partial}, over max_line + 1 = {limit}"
        );
    }

    fn check_upgraded(&mut self, s: &Server) {
        assert!(s.options().tls_active && !s.options().starttls_offered);
        assert_eq!(s.bad_commands(), 0, "the bad-command count survived STLS");
    }
}

fn command(s: &mut Server, name: &str, args: &[String]) {
    assert!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase()),
        "command name {name:?} is not upper-cased"
    );
    match name {
        "LIST" | "UIDL" | "RETR" | "TOP" => {
            let mut lines: Vec<&str> = args.iter().map(String::as_str).collect();
            lines.extend([".", "..", ".x", "", "end"]);
            s.ok_lines(&format!("{name} follows"), &lines);
        }
        "STAT" => s.ok("0 0"),
        _ => s.err(None, &format!("{name} {} is not available", args.join(" "))),
    }
}

/// RFC 1939 §3: status lines, and dot-stuffed multi-line responses after
/// a `+OK` that announces one (ours all end with "follows").
fn check_output(out: &[u8]) {
    let mut in_block = false;
    for line in crlf_lines(out) {
        let shown = || excerpt(line.as_bytes());
        if in_block {
            if line == "." {
                in_block = false;
            } else {
                assert!(
                    !line.starts_with('.') || line.starts_with(".."),
                    "a multi-line response line that is not dot-stuffed: {}",
                    shown()
                );
            }
            continue;
        }
        assert!(
            line.len() + 2 <= MAX_STATUS_LINE,
            "status line over 512 octets: {}",
            shown()
        );
        let status_ok = ["+OK", "-ERR"]
            .iter()
            .any(|s| line == *s || line.strip_prefix(s).is_some_and(|r| r.starts_with(' ')))
            || line.starts_with("+ ");
        assert!(status_ok, "not a POP3 status line: {}", shown());
        in_block = line.starts_with("+OK") && line.ends_with(" follows");
    }
    assert!(!in_block, "the output stops inside a multi-line response");
}

fn seeds() -> Vec<Vec<u8>> {
    let sessions: &[&[u8]] = &[
        b"CAPA\r\nNOOP\r\nUSER alice\r\nPASS secret with spaces\r\nSTAT\r\nLIST\r\nLIST 1\r\nUIDL .x\r\nRETR 1\r\nTOP 1 10\r\nDELE 1\r\nRSET\r\nQUIT\r\n",
        b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH PLAIN\r\nAUTH PLAIN =\r\nAPOP alice 0123456789abcdef0123456789abcdef\r\nquit\r\n",
        b"capa\r\nuser a\r\nlist ..\r\n\r\n \r\nSTLS\r\nCAPA\r\nUSER alice\r\n",
        b"STLS\r\n",
    ];
    let mut out = with_plans(sessions);
    out.extend(with_plans(sessions).into_iter().map(|mut s| {
        s[0] |= 0x10;
        s
    }));
    // STLS, then a session over TLS: 6-octet reads end at the command.
    out.push(
        [
            &[3u8, 5][..],
            b"STLS\r\nCAPA\r\nUSER alice\r\nPASS x\r\nLIST 1\r\nQUIT\r\n",
        ]
        .concat(),
    );
    out
}
