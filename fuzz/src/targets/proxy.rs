//! The proxy listeners' core (`postern_server::proxy::front::Front`) with
//! each pre-login machine: IMAP, POP3, submission and SMTP MX, plain with
//! STARTTLS offered, plain without it, or under implicit TLS.
//!
//! The plan's first octet picks the listener besides the cutting: bit 4
//! (the variant) implicit TLS, bits 5-6 the protocol (IMAP, POP3,
//! submission, MX), bit 7 no STARTTLS offered (for MX: a `tls = "none"`
//! listener, which relays at once).
//!
//! Invariants, besides those of `session`:
//! - no `Event::Login` before TLS (RFC 9051 §6.2.3, RFC 2595 §4, RFC 4954
//!   §4), none on an MX port, and submission's only after EHLO/HELO;
//!   `Event::Begin` only on an MX port, inside TLS or on a plain MX
//!   listener, carrying the client's EHLO/HELO line;
//! - STARTTLS reaches the session only when offered and TLS is off, and
//!   the output up to the switch ends with the go-ahead (nothing pipelined
//!   after it was answered first);
//! - before the relay, every output line is UTF-8, ends with CRLF and is
//!   bounded: 512 octets for POP3 and SMTP (RFC 2449 §4, RFC 5321
//!   §4.5.3.1.5), the client's tag plus a short text for IMAP; each is a
//!   well-formed status line or reply of its protocol;
//! - the input a live pre-login machine holds never exceeds `MAX_LINE`
//!   (plus two literals for IMAP): an over-long line ends the session;
//! - once relaying, what the client sends reaches the back end unchanged
//!   (a suffix of the input, starting after the login's line) and what the
//!   back end sends (here an echo) reaches the client unchanged.

use std::cell::RefCell;
use std::rc::Rc;

use postern_server::proxy::front::{Answer, Event, Front, Machine, MAX_LINE};
use postern_server::proxy::smtp::Advert;
use postern_server::proxy::{imap, pop3, smtp};
use postern_types::Protocol;

use super::session::{crlf_lines, excerpt, play, with_plans, After, Harness, Plan};
use super::Target;

pub(super) const FRONT: Target = Target {
    name: "proxy_front",
    about: "proxy listeners' pre-login core: IMAP, POP3, submission, MX; STARTTLS or implicit TLS",
    run: fuzz,
    seeds,
};

const HOST: &str = "proxy.example.org";

/// `proxy::imap`'s largest literal before the login (private there): a
/// command may hold two, a user name and a password.
const IMAP_MAX_LITERAL: usize = 1024;

/// RFC 2449 §4 (POP3) and RFC 5321 §4.5.3.1.5 (SMTP), CRLF included.
const MAX_REPLY_LINE: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Imap,
    Pop3,
    Submission,
    Mx,
}

/// The listener one input runs on.
#[derive(Debug, Clone, Copy)]
struct Listener {
    kind: Kind,
    /// Implicit TLS.
    tls: bool,
    /// STARTTLS offered.
    starttls: bool,
    /// An MX listener without TLS: it relays from the first EHLO.
    plain_mx: bool,
}

impl Listener {
    fn of(input: &[u8], plan: &Plan<'_>) -> Self {
        let byte = input.first().copied().unwrap_or(0);
        let kind = match (byte >> 5) & 3 {
            0 => Kind::Imap,
            1 => Kind::Pop3,
            2 => Kind::Submission,
            _ => Kind::Mx,
        };
        let tls = plan.variant();
        let no_starttls = byte & 0x80 != 0;
        Self {
            kind,
            tls,
            starttls: !tls && !no_starttls,
            plain_mx: kind == Kind::Mx && !tls && no_starttls,
        }
    }

    fn front(&self) -> Front {
        let host = HOST.to_owned();
        let machine = match self.kind {
            Kind::Imap => Machine::Imap(imap::Pre::new(host, self.starttls)),
            Kind::Pop3 => Machine::Pop3(pop3::Pre::new(host, self.starttls)),
            Kind::Submission => {
                let advert = Advert {
                    size: Some(35_882_577),
                    smtputf8: true,
                };
                Machine::Smtp(smtp::Pre::new(host, false, self.starttls, false, advert))
            }
            Kind::Mx => Machine::Smtp(smtp::Pre::new(
                host,
                true,
                self.starttls,
                self.plain_mx,
                Advert::default(),
            )),
        };
        Front::new(machine, self.tls)
    }

    /// The most input a live pre-login machine may hold.
    fn input_limit(&self) -> usize {
        match self.kind {
            Kind::Imap => MAX_LINE + 2 * IMAP_MAX_LITERAL,
            _ => MAX_LINE,
        }
    }

    /// The end of the STARTTLS go-ahead.
    fn go_ahead(&self) -> &'static str {
        match self.kind {
            Kind::Imap => " OK Begin TLS negotiation now\r\n",
            Kind::Pop3 => "+OK Begin TLS negotiation\r\n",
            Kind::Submission | Kind::Mx => "220 2.0.0 Ready to start TLS\r\n",
        }
    }

    /// The back end's answer to a successful login, as the session passes
    /// it on (the IMAP tagged line without its tag).
    fn logged_in(&self) -> Vec<String> {
        let lines: &[&str] = match self.kind {
            Kind::Imap => &[
                "* CAPABILITY IMAP4rev2 IDLE",
                "OK [CAPABILITY IMAP4rev2] In",
            ],
            Kind::Pop3 => &["+OK Logged in"],
            Kind::Submission => &["235 2.7.0 Authentication successful"],
            Kind::Mx => &["250-mx.example.net", "250-PIPELINING", "250 8BITMIME"],
        };
        lines.iter().map(|l| (*l).to_owned()).collect()
    }
}

/// What a session saw, kept past `play`.
#[derive(Debug, Default)]
struct Record {
    /// The client's bytes handed over for the back end, in order.
    relayed: Vec<u8>,
    /// The previous buffer check found a live machine over its limit.
    over_limit: bool,
    /// STARTTLS went ahead: the machine stopped reading, and what it holds
    /// is the driver's to refuse (`session` checks that).
    switching: bool,
}

/// The test session: answers logins by their length, echoes the relay.
#[derive(Debug)]
struct Session {
    listener: Listener,
    tls: bool,
    relaying: bool,
    record: Rc<RefCell<Record>>,
}

impl Harness for Session {
    type P = Front;

    fn on_event(&mut self, f: &mut Front, event: Event) -> After {
        let l = self.listener;
        match event {
            Event::StartTls => {
                assert!(
                    l.starttls && !self.tls && !self.relaying,
                    "STARTTLS went ahead on {l:?} (TLS now {})",
                    self.tls
                );
                self.record.borrow_mut().switching = true;
                return After::StartTls;
            }
            Event::Login(login) => {
                assert!(
                    self.tls,
                    "credentials reached the session before TLS: {l:?}"
                );
                assert!(l.kind != Kind::Mx, "a login on an MX port");
                assert!(!self.relaying, "a login while relaying");
                if l.kind == Kind::Submission {
                    assert!(login.helo.is_some(), "AUTH before EHLO was taken");
                }
                // A third of the logins succeed, so the relay is fuzzed
                // too; the others fail both ways.
                let answer = match (login.user.len() + login.password.expose().len()) % 3 {
                    0 => Answer::LoggedIn(l.logged_in()),
                    1 => Answer::Refused,
                    _ => Answer::Unavailable,
                };
                self.answer(f, answer);
            }
            Event::Begin(line) => {
                assert_eq!(l.kind, Kind::Mx, "an MX relay began on {l:?}");
                assert!(
                    self.tls || l.plain_mx,
                    "an MX relay began before TLS on {l:?}"
                );
                assert!(!self.relaying, "an MX relay began twice");
                let verb = line.get(..5).map(<[u8]>::to_ascii_uppercase);
                assert!(
                    matches!(verb.as_deref(), Some(b"EHLO " | b"HELO ")) && line.ends_with(b"\r\n"),
                    "the relay began with {}",
                    excerpt(&line)
                );
                match line.len() % 2 {
                    0 => self.answer(f, Answer::LoggedIn(l.logged_in())),
                    _ => {
                        self.answer(f, Answer::Unavailable);
                        assert!(f.is_finished(), "an MX session goes on without a back end");
                    }
                }
            }
            Event::Relay(bytes) => {
                assert!(
                    self.relaying && f.is_relaying(),
                    "bytes relayed before a login: {}",
                    excerpt(&bytes)
                );
                assert!(!bytes.is_empty(), "an empty relay event");
                self.record.borrow_mut().relayed.extend_from_slice(&bytes);
                f.relay_out(&bytes);
            }
        }
        After::Continue
    }

    /// Two checks in a row (after a read, then after the machine ran) that
    /// find a live machine holding more than its limit: it let the line
    /// grow instead of refusing it.
    fn check_buffers(&self, f: &Front) {
        let held = f.buffered_input_len();
        let limit = self.listener.input_limit();
        let mut record = self.record.borrow_mut();
        let live = !f.is_finished() && !f.is_relaying() && !record.switching;
        let over = live && held > limit;
        assert!(
            !(over && record.over_limit),
            "a live pre-login machine holds {held} octets, over {limit}"
        );
        record.over_limit = over;
    }

    fn check_upgraded(&mut self, f: &Front) {
        assert!(!f.is_relaying() && f.buffered_input_len() == 0);
        self.tls = true;
        let mut record = self.record.borrow_mut();
        (record.over_limit, record.switching) = (false, false);
    }
}

impl Session {
    fn answer(&mut self, f: &mut Front, answer: Answer) {
        let ok = matches!(answer, Answer::LoggedIn(_));
        f.answer(answer);
        assert_eq!(f.is_relaying(), ok, "relaying does not follow the answer");
        self.relaying = ok;
    }
}

fn fuzz(input: &[u8]) {
    let plan = Plan::new(input);
    let listener = Listener::of(input, &plan);
    let records = RefCell::new(Vec::new());
    let make = || {
        let record = Rc::new(RefCell::new(Record::default()));
        records.borrow_mut().push(record.clone());
        let session = Session {
            listener,
            tls: listener.tls,
            relaying: false,
            record,
        };
        (session, listener.front())
    };
    let transcript = play(&plan, make);
    let record = records.borrow()[0].clone();
    let record = record.borrow();
    assert!(
        !record.over_limit,
        "the session ended with a live machine over its input limit"
    );
    let out = &transcript.output;
    let relayed = &record.relayed;
    // The relay: the client's bytes from a line's start to the end, and
    // the back end's echo at the end of the output, both unchanged.
    assert!(
        plan.payload.ends_with(relayed),
        "relayed bytes that are not the end of the input: {}",
        excerpt(relayed)
    );
    let start = plan.payload.len() - relayed.len();
    assert!(
        relayed.is_empty() || start == 0 || plan.payload[start - 1] == b'\n',
        "the relay began inside a line: {}",
        excerpt(&plan.payload[..start])
    );
    assert!(
        out.ends_with(relayed),
        "the back end's bytes did not reach the client unchanged"
    );
    if let Some(at) = transcript.starttls_at {
        let before = &out[..at];
        assert!(
            before.ends_with(listener.go_ahead().as_bytes()),
            "the output before the TLS switch does not end with the go-ahead: {}",
            excerpt(&before[before.len().saturating_sub(200)..])
        );
    }
    check_output(listener.kind, &out[..out.len() - relayed.len()]);
}

/// The pre-login output: the protocol's lines, bounded.
fn check_output(kind: Kind, out: &[u8]) {
    let lines = crlf_lines(out);
    match kind {
        Kind::Imap => imap_lines(&lines),
        Kind::Pop3 => pop3_lines(&lines),
        Kind::Submission | Kind::Mx => smtp_lines(&lines),
    }
}

/// `* `, `+ ` or a tag the client could send (RFC 9051 §9) with OK, NO
/// or BAD; a tag is within a command's first line (`MAX_LINE` plus a
/// literal's worth, what `proxy::imap` waits for), the text after it short.
fn imap_lines(lines: &[&str]) {
    for line in lines {
        let shown = || excerpt(line.as_bytes());
        assert!(
            line.len() + 2 <= MAX_LINE + IMAP_MAX_LITERAL + 100,
            "an IMAP line of {} octets",
            line.len()
        );
        if line.starts_with("* ") || line.starts_with("+ ") {
            continue;
        }
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let tag_ok = !tag.is_empty()
            && tag.bytes().all(|c| {
                c > 0x20
                    && c < 0x7f
                    && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
            });
        let status_ok = ["OK ", "NO ", "BAD "].iter().any(|s| rest.starts_with(s));
        assert!(
            tag_ok && status_ok,
            "not an IMAP response line: {}",
            shown()
        );
    }
}

/// Status lines (`+OK`, `-ERR`, `+ `) and the CAPA list (RFC 2449 §5).
fn pop3_lines(lines: &[&str]) {
    let mut in_list = false;
    for line in lines {
        let shown = || excerpt(line.as_bytes());
        assert!(
            line.len() + 2 <= MAX_REPLY_LINE,
            "a POP3 line over 512 octets: {}",
            shown()
        );
        if in_list {
            assert!(
                !line.starts_with('.') || *line == ".",
                "not dot-stuffed: {}",
                shown()
            );
            in_list = *line != ".";
            continue;
        }
        let status = line.starts_with("+OK") || line.starts_with("-ERR") || line.starts_with("+ ");
        assert!(status, "not a POP3 status line: {}", shown());
        in_list = *line == "+OK Capability list follows";
    }
    assert!(!in_list, "the output stops inside the capability list");
}

/// Replies (RFC 5321 §4.2): a code, `-` on every line of a reply but the
/// last, the same code throughout; the output never stops inside one.
fn smtp_lines(lines: &[&str]) {
    let mut open: Option<&str> = None;
    for line in lines {
        let shown = || excerpt(line.as_bytes());
        assert!(
            line.len() + 2 <= MAX_REPLY_LINE,
            "an SMTP line over 512 octets: {}",
            shown()
        );
        let b = line.as_bytes();
        let code_ok = b.len() >= 4
            && (b'2'..=b'5').contains(&b[0])
            && b[1..3].iter().all(u8::is_ascii_digit)
            && matches!(b[3], b' ' | b'-');
        assert!(code_ok, "not an SMTP reply line: {}", shown());
        if let Some(code) = open {
            assert_eq!(&line[..3], code, "a reply changes its code: {}", shown());
        }
        open = (b[3] == b'-').then(|| &line[..3]);
    }
    assert!(open.is_none(), "the output stops inside a multi-line reply");
}

fn seeds() -> Vec<Vec<u8>> {
    // (listener bits, sessions)
    const IMAP: u8 = 0;
    const POP3: u8 = 0x20;
    const SUBMISSION: u8 = 0x40;
    const MX: u8 = 0x60;
    const TLS: u8 = 0x10;
    const NO_STARTTLS: u8 = 0x80;
    let groups: &[(u8, &[&[u8]])] = &[
        (
            IMAP,
            &[
                b"a CAPABILITY\r\nb LOGIN alice secret\r\nc AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\nd ID (\"name\" \"x\")\r\ne NOOP\r\nf STARTTLS\r\n",
                b"a STARTTLS\r\nb LOGIN alice secret\r\n",
                b"+a NOOP\r\n\r\na LOGIN {5}\r\nalice {6}\r\nsecret\r\nb LOGOUT\r\n",
            ],
        ),
        (
            IMAP | TLS,
            &[
                b"a LOGIN {5}\r\nalice {6+}\r\nsecret\r\nb login \"al\\\"ice\" \"secret\"\r\nc LOGIN alice secret1\r\nd SELECT INBOX\r\ne FETCH 1:* (FLAGS)\r\n",
                b"a AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nb AUTHENTICATE PLAIN\r\n*\r\nc AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldDE=\r\nd IDLE\r\nDONE\r\n",
                b"a STARTTLS\r\nb CAPABILITY\r\nc AUTHENTICATE LOGIN\r\nd LOGOUT\r\n",
            ],
        ),
        (
            POP3,
            &[
                b"CAPA\r\nUSER alice\r\nPASS secret\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nSTLS\r\n",
                b"STLS\r\nUSER alice\r\n",
            ],
        ),
        (
            POP3 | TLS,
            &[
                b"CAPA\r\nUSER alice\r\nPASS secret\r\nUSER alice\r\nPASS secret1\r\nSTAT\r\nRETR 1\r\nQUIT\r\n",
                b"AUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN AGFsaWNlAHNlY3JldDE=\r\nLIST\r\n",
            ],
        ),
        (
            SUBMISSION,
            &[
                b"EHLO client.example\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@b>\r\nSTARTTLS\r\n",
                b"EHLO client.example\r\nSTARTTLS\r\nAUTH LOGIN\r\n",
            ],
        ),
        (
            SUBMISSION | TLS,
            &[
                b"EHLO client.example\r\nAUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0MQ==\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
                b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nHELO c\r\nAUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nAUTH LOGIN YWxpY2U=\r\n*\r\nAUTH PLAIN AGFsaWNlAHNlY3JldDE=\r\nNOOP\r\n",
            ],
        ),
        (
            MX,
            &[
                b"EHLO mx.sender.example\r\nMAIL FROM:<a@b>\r\nSTARTTLS\r\n",
                b"HELO x\r\nSTARTTLS\r\nEHLO mx.sender.example\r\n",
            ],
        ),
        (
            MX | TLS,
            &[
                b"EHLO mx.sender.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\nQUIT\r\n",
                b"NOOP\r\nEHLO mx.sender.exampl\r\nQUIT\r\n",
            ],
        ),
        (MX | NO_STARTTLS, &[b"HELO mx.sender.example\r\nMAIL FROM:<>\r\n\0\xff\r\n"]),
    ];
    let mut out = Vec::new();
    for (bits, sessions) in groups {
        out.extend(with_plans(sessions).into_iter().map(|mut s| {
            s[0] |= bits;
            s
        }));
    }
    // STARTTLS, then a session over TLS: reads that end at the command.
    let after_tls: &[(u8, &[u8])] = &[
        (
            IMAP | 3,
            b"a STARTTLS\r\nb LOGIN alice secret1\r\nc NOOP\r\n",
        ),
        (POP3 | 3, b"STLS\r\nUSER alice\r\nPASS secret1\r\nLIST\r\n"),
        (
            SUBMISSION | 3,
            b"EHLO c\r\nSTARTTLS\r\nEHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldDE=\r\nQUIT\r\n",
        ),
        (
            MX | 3,
            b"STARTTLS\r\nEHLO mx.sender.example\r\nMAIL FROM:<a@b>\r\n",
        ),
    ];
    for (byte, session) in after_tls {
        let first = session.iter().position(|&b| b == b'\n').unwrap_or(0);
        let cut = u8::try_from(first).unwrap_or(0);
        // For SMTP submission the go-ahead follows the second line.
        let cut = match byte & 0x60 {
            SUBMISSION => 17,
            _ => cut,
        };
        out.push([&[*byte, cut][..], session].concat());
    }
    out
}
