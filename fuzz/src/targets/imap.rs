//! The IMAP core (`postern_imap_proto::Server`), on a port-143 listener
//! with STARTTLS, or (variant bit) on an implicit-TLS port 993.
//!
//! Invariants, besides those of `session`:
//! - every output line is UTF-8, ends with CRLF and starts with `* `,
//!   `+ ` or a valid tag the client sent followed by ` OK`, ` NO` or
//!   ` BAD` (a tag is never invented, and text never forges a line);
//! - the incomplete line or literal never holds more than `max_line + 1`
//!   octets;
//! - LOGIN and AUTHENTICATE reach the session only under TLS (RFC 9051
//!   §6.2.3, `PRIVACYREQUIRED` otherwise);
//! - STARTTLS reaches the session only when offered and TLS is off;
//! - a command's literals are each within `max_literal`, and the whole
//!   command within `max_line`.

use std::collections::HashSet;

use postern_imap_proto::cmd::Request;
use postern_imap_proto::{Data, Event, Options, Part, Server, Tag};
use postern_types::TlsInfo;

use super::session::{excerpt, play, with_plans, After, Harness, Plan};
use super::Target;

pub(super) const TARGET: Target = Target {
    name: "imap",
    about: "IMAP core, port 143 with STARTTLS or (variant bit) implicit TLS",
    run: fuzz,
    seeds,
};

fn options(tls: bool) -> Options {
    Options {
        hostname: "imap.example.org".into(),
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
    check_output(&transcript.output, plan.payload);
}

/// The test session: answers as a server with mailboxes might, echoing
/// the client's words into the response texts.
#[derive(Debug)]
struct Session;

impl Harness for Session {
    type P = Server;

    fn on_event(&mut self, s: &mut Server, event: Event) -> After {
        let opts = s.options().clone();
        match event {
            Event::StartTls { tag } => {
                assert!(
                    opts.starttls_offered && !opts.tls_active,
                    "STARTTLS event with {opts:?}"
                );
                s.accept_starttls(&tag);
                return After::StartTls;
            }
            Event::Login { tag, username, .. } => {
                assert!(opts.tls_active, "LOGIN reached the session before TLS");
                // Half the logins succeed, so the authenticated state is
                // fuzzed too.
                if username.len() % 2 == 0 {
                    s.logged_in();
                    s.tagged_ok(&tag, None, &format!("{username} logged in"));
                } else {
                    let text = format!("Invalid credentials for {username}");
                    s.tagged_no(&tag, Some("AUTHENTICATIONFAILED"), &text);
                }
            }
            Event::Authenticate {
                tag,
                mechanism,
                initial_response,
            } => {
                assert!(
                    opts.tls_active,
                    "AUTHENTICATE reached the session before TLS"
                );
                if initial_response.is_none() {
                    s.sasl_challenge(&tag, "");
                } else {
                    let text = format!("{mechanism} authentication failed");
                    s.tagged_no(&tag, Some("AUTHENTICATIONFAILED"), &text);
                }
            }
            Event::SaslResponse { tag, .. } => {
                s.tagged_no(&tag, Some("AUTHENTICATIONFAILED"), "No");
            }
            Event::Request { tag, request } => {
                assert!(s.is_authenticated(), "a mail command before login");
                request_answer(s, &tag, &request);
            }
            Event::IdleDone { tag } => s.tagged_ok(&tag, None, "IDLE terminated"),
            Event::Command { tag, name, rest } => {
                check_command(s, &opts, &name, &rest);
                command(s, &tag, &name, &rest);
            }
            // A kind of event added since: left unanswered (its tag is not
            // reachable here), which the core must survive too.
            _ => {}
        }
        After::Continue
    }

    fn check_buffers(&self, s: &Server) {
        let opts = s.options();
        let limit = match s.is_authenticated() {
            true => opts.max_append as usize + opts.max_line_authenticated + 1,
            false => opts.max_line + 1,
        };
        let partial = s.partial_line_len();
        assert!(
            partial <= limit,
            "partial_line_len() is {partial}, over max_line + 1 = {limit}"
        );
    }

    fn check_upgraded(&mut self, s: &Server) {
        assert!(s.options().tls_active && !s.options().starttls_offered);
        assert_eq!(
            s.bad_commands(),
            0,
            "the bad-command count survived STARTTLS"
        );
    }
}

fn check_command(s: &Server, opts: &Options, name: &str, rest: &[Part]) {
    let (max_literal, max_line) = match s.is_authenticated() {
        true => (
            opts.max_append,
            opts.max_append as usize + opts.max_line_authenticated,
        ),
        false => (opts.max_literal, opts.max_line),
    };
    assert!(
        !name.is_empty() && name.bytes().all(|b| !b.is_ascii_lowercase()),
        "command name {name:?} is not upper-cased"
    );
    let mut total = 0;
    for part in rest {
        total += match part {
            Part::Text(text) => text.len(),
            Part::Literal(bytes) => {
                assert!(
                    bytes.len() <= max_literal as usize,
                    "a {}-octet literal passed the {} limit",
                    bytes.len(),
                    max_literal
                );
                bytes.len()
            }
        };
    }
    assert!(
        total <= max_line,
        "a {total}-octet command passed the line limit"
    );
}

/// Answers a parsed mail command as a server might, echoing names into
/// data lines (which the core must keep on one line).
fn request_answer(s: &mut Server, tag: &Tag, request: &Request) {
    match request {
        Request::Idle => s.idle(tag),
        Request::Select { mailbox, .. } | Request::Create { name: mailbox, .. } => {
            let mut d = Data::new();
            d.raw("LIST () \"/\" ").mailbox(mailbox, s.utf8());
            s.data(d);
            s.tagged_ok(tag, None, "done");
        }
        Request::Fetch { attrs, .. } => {
            let mut d = Data::new();
            d.raw("1 FETCH (").raw(&format!("{attrs:?}")).close();
            s.data(d);
            s.tagged_ok(tag, None, "FETCH completed");
        }
        _ => s.tagged_no(tag, None, &format!("{request:?}")),
    }
}

fn command(s: &mut Server, tag: &Tag, name: &str, rest: &[Part]) {
    let args: String = rest
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Literal(b) => String::from_utf8_lossy(b).into_owned(),
        })
        .collect();
    match name {
        "ID" => {
            s.untagged("ID NIL");
            s.tagged_ok(tag, None, "ID completed");
        }
        "ENABLE" => {
            s.untagged(&format!("ENABLED {args}"));
            s.tagged_ok(tag, None, "ENABLE completed");
        }
        "SELECT" | "EXAMINE" | "STATUS" => {
            s.tagged_no(tag, Some("NONEXISTENT"), &format!("No mailbox {args}"));
        }
        "APPEND" => s.tagged_no(tag, Some("TRYCREATE"), &format!("No mailbox {args}")),
        _ => s.tagged_bad(tag, None, &format!("{name} {args} is not known")),
    }
}

/// RFC 9051 §7: status, data and continuation lines.
fn check_output(out: &[u8], sent: &[u8]) {
    let mut known_tags = HashSet::new();
    let lines = response_lines(out);
    for line in lines.iter().map(String::as_str) {
        if line.starts_with("* ") || line.starts_with("+ ") {
            continue;
        }
        let shown = || excerpt(line.as_bytes());
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        assert!(
            Tag::new(tag).is_some(),
            "a line without a valid tag: {}",
            shown()
        );
        let status = rest.split(' ').next().unwrap_or_default();
        assert!(
            matches!(status, "OK" | "NO" | "BAD"),
            "a tagged line that is not OK, NO or BAD: {}",
            shown()
        );
        if known_tags.insert(tag) {
            let sent_it = sent.windows(tag.len()).any(|w| w == tag.as_bytes());
            assert!(
                sent_it,
                "a response with a tag the client never sent: {}",
                shown()
            );
        }
    }
}

/// The output as response lines. A data line (`* ...`) ending in `{n}`
/// continues after a literal of n octets (RFC 9051 §4.3), which is left
/// out; nothing else may hold a CR or LF.
fn response_lines(out: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut rest = out;
    while !rest.is_empty() {
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            panic!("output does not end with CRLF: {}", excerpt(rest));
        };
        let piece = std::str::from_utf8(&rest[..end])
            .unwrap_or_else(|e| panic!("output is not UTF-8 ({e}): {}", excerpt(rest)));
        assert!(
            !piece.contains(['\r', '\n']),
            "a bare CR or LF inside an output line: {}",
            excerpt(piece.as_bytes())
        );
        current.push_str(piece);
        rest = &rest[end + 2..];
        match literal_len(piece).filter(|_| current.starts_with("* ")) {
            Some(n) => {
                assert!(rest.len() >= n, "output ends inside a literal");
                rest = &rest[n..];
            }
            None => lines.push(std::mem::take(&mut current)),
        }
    }
    assert!(current.is_empty(), "output ends inside a literal");
    lines
}

/// `{n}` at the end of a line.
fn literal_len(line: &str) -> Option<usize> {
    let body = line.strip_suffix('}')?;
    let start = body.rfind('{')?;
    body[start + 1..].parse().ok()
}

fn seeds() -> Vec<Vec<u8>> {
    let sessions: &[&[u8]] = &[
        b"a1 CAPABILITY\r\na2 NOOP\r\na3 ID (\"name\" \"fuzz\")\r\na4 ENABLE IMAP4rev2\r\na5 LOGOUT\r\n",
        b"a1 LOGIN alice secret\r\na2 LOGIN \"alice\" \"sec\\\"ret\"\r\na3 LOGIN {5}\r\nalice {6}\r\nsecret\r\na4 AUTHENTICATE PLAIN\r\na5 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
        b"a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\na2 SELECT INBOX\r\na3 APPEND INBOX (\\Seen) {11}\r\nhello world\r\na4 STATUS \"INBOX\" (MESSAGES)\r\n",
        b"a1 SELECT {4096+}\r\nAAAA\r\na2 EXAMINE {4097}\r\na3 LOGIN {4294967295+}\r\n",
        b"* NOOP\r\n+ x\r\na+ NOOP\r\n\r\na1\r\na1 FOO\r\na1 fetch 1:* (FLAGS BODY[HEADER.FIELDS (FROM)])\r\n",
        b"tag STARTTLS\r\ntag LOGIN a b\r\n",
        b"a1 LOGIN ab cd\r\na2 SELECT INBOX (CONDSTORE)\r\na3 UID FETCH 1:* (FLAGS BODY.PEEK[1.HEADER.FIELDS (FROM)]<0.10>) (CHANGEDSINCE 2)\r\na4 SEARCH RETURN (MIN) OR (SEEN FROM x) NOT UID 1:*\r\na5 STORE 1 (UNCHANGEDSINCE 3) +FLAGS (\\Seen)\r\na6 IDLE\r\nDONE\r\na7 LIST (SUBSCRIBED) \"\" (\"*\" %) RETURN (STATUS (MESSAGES))\r\na8 APPEND INBOX {3+}\r\nabc\r\na9 UID MOVE 1:* &AOQ-\r\nb1 ENABLE UTF8=ACCEPT\r\nb2 CREATE \"\xc3\xa4\" (USE (\\Sent))\r\n",
        b"a1 AUTHENTICATE PLAIN\r\n*\r\na2 AUTHENTICATE LOGIN\r\nAGE=\r\na3 LOGIN ab cd\r\na4 IDLE\r\nNOOP\r\na5 NAMESPACE\r\n",
    ];
    let mut out = with_plans(sessions);
    // The same sessions on an implicit-TLS port (variant bit).
    out.extend(with_plans(sessions).into_iter().map(|mut s| {
        s[0] |= 0x10;
        s
    }));
    // STARTTLS, then LOGIN over TLS: 12-octet reads end at the command.
    out.push(
        [
            &[3u8, 11][..],
            b"a STARTTLS\r\na2 LOGIN ab cd\r\na3 LOGOUT\r\n",
        ]
        .concat(),
    );
    out
}
