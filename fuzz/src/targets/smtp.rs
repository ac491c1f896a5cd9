//! The SMTP core (`postern_smtp_proto::Server`) as an MX, as a submission
//! port before TLS, and as an implicit-TLS submission port.
//!
//! Invariants, besides those of `session`:
//! - every output line is UTF-8, ends with CRLF, is at most 512 octets
//!   (RFC 5321 §4.5.3.1.5) and starts with a 2yz-5yz code followed by a
//!   space, a hyphen or nothing; a `code-` line is followed by a line with
//!   the same code, and the output never stops inside a multi-line reply;
//! - the incomplete line never holds more than `max_line + 1` octets;
//! - AUTH reaches the session only on a submission port under TLS, and a
//!   submission port before TLS hands out no command at all (RFC 3207 §4);
//! - MAIL, RCPT, DATA and BDAT reach the session only after EHLO/HELO;
//! - STARTTLS reaches the session only when offered and TLS is off;
//! - a BDAT chunk arrives in 64 KiB pieces adding up to the announced size.

use postern_smtp_proto::cmd::Command;
use postern_smtp_proto::{Event, Options, Server};
use postern_types::TlsInfo;

use super::session::{crlf_lines, excerpt, play, After, Harness, Plan};
use super::Target;

pub(super) const MX: Target = Target {
    name: "smtp_mx",
    about: "SMTP core on an MX port (STARTTLS offered, no AUTH)",
    run: |input| fuzz(input, Port::Mx),
    seeds: || seeds(Port::Mx),
};

pub(super) const SUBMISSION: Target = Target {
    name: "smtp_submission",
    about: "SMTP core on a submission port before STARTTLS (RFC 6409, RFC 3207)",
    run: |input| fuzz(input, Port::Submission),
    seeds: || seeds(Port::Submission),
};

pub(super) const TLS: Target = Target {
    name: "smtp_tls",
    about: "SMTP core on an implicit-TLS submission port (RFC 8314), AUTH offered",
    run: |input| fuzz(input, Port::Tls),
    seeds: || seeds(Port::Tls),
};

/// The size of a BDAT piece (`framing::CHUNK_PIECE`, private there).
const CHUNK_PIECE: usize = 64 * 1024;
/// RFC 5321 §4.5.3.1.5, CRLF included.
const MAX_REPLY_LINE: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Mx,
    Submission,
    Tls,
}

fn options(port: Port) -> Options {
    Options {
        hostname: "mx.example.org".into(),
        tls_active: port == Port::Tls,
        starttls_offered: port != Port::Tls,
        submission: port != Port::Mx,
        ..Options::default()
    }
}

fn fuzz(input: &[u8], port: Port) {
    let plan = Plan::new(input);
    let make = || {
        let server = match port {
            Port::Tls => Server::new(options(port)).with_tls_info(TlsInfo::default()),
            _ => Server::new(options(port)),
        };
        (Session::default(), server)
    };
    let transcript = play(&plan, make);
    check_output(&transcript.output);
}

/// The test session: answers like `server::session::smtp`, but accepts
/// what it can and echoes what the client sent into the replies (the core
/// must keep such text from breaking the reply structure).
#[derive(Debug, Default)]
struct Session {
    /// The BDAT chunk being received: (announced size, octets so far).
    chunk: Option<(u64, u64)>,
}

impl Harness for Session {
    type P = Server;

    fn on_event(&mut self, s: &mut Server, event: Event) -> After {
        let opts = s.options().clone();
        match event {
            Event::StartTls => {
                assert!(
                    opts.starttls_offered && !opts.tls_active,
                    "STARTTLS event with {opts:?}"
                );
                s.accept_starttls();
                return After::StartTls;
            }
            Event::Command(command) => {
                assert!(self.chunk.is_none(), "{command:?} inside a BDAT chunk");
                assert!(
                    !opts.submission || opts.tls_active,
                    "{command:?} reached the session on a submission port before TLS"
                );
                self.command(s, &command);
            }
            Event::ChunkData {
                bytes,
                end_of_chunk,
            } => self.chunk_data(s, bytes.len(), end_of_chunk),
            // A kind of event added since: answered like an unknown command.
            _ => s.reply(502, Some("5.5.1"), "Not implemented"),
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
        assert!(s.helo_name().is_none(), "EHLO survived STARTTLS");
        assert_eq!(
            s.bad_commands(),
            0,
            "the bad-command count survived STARTTLS"
        );
        self.chunk = None;
    }
}

impl Session {
    fn command(&mut self, s: &mut Server, command: &Command) {
        let needs_helo = !matches!(command, Command::Vrfy(_) | Command::Expn(_));
        assert!(
            !needs_helo || s.helo_name().is_some(),
            "{command:?} reached the session before EHLO/HELO"
        );
        match command {
            Command::Auth(auth) => {
                let opts = s.options();
                assert!(
                    opts.submission && opts.tls_active,
                    "AUTH reached the session with {opts:?}"
                );
                let text = format!("Authentication with {} failed", auth.mechanism);
                s.reply(535, Some("5.7.8"), &text);
            }
            Command::Mail(mail) => s.reply(250, Some("2.1.0"), &format!("{mail:?} OK")),
            Command::Rcpt(rcpt) => s.reply(250, Some("2.1.5"), &format!("{rcpt:?} OK")),
            Command::Data => s.reply(554, Some("5.5.1"), "No valid recipients"),
            // Answered once the chunk is read (RFC 3030 §2).
            Command::Bdat(bdat) => self.chunk = Some((bdat.size, 0)),
            Command::Vrfy(who) => s.reply(252, Some("2.5.0"), &format!("Cannot VRFY {who}")),
            Command::Expn(list) => s.reply(550, Some("5.1.1"), &format!("No list {list}")),
            other => s.reply(502, Some("5.5.1"), &format!("{other:?} not implemented")),
        }
    }

    fn chunk_data(&mut self, s: &mut Server, len: usize, end: bool) {
        let Some((size, got)) = self.chunk.as_mut() else {
            panic!("chunk data without an accepted BDAT");
        };
        *got += len as u64;
        assert!(*got <= *size, "chunk data past the announced {size} octets");
        if end {
            assert_eq!(*got, *size, "the chunk ended early");
            assert!(len <= CHUNK_PIECE, "a {len}-octet chunk piece");
            let text = format!("{size} octets received");
            self.chunk = None;
            s.reply(250, Some("2.0.0"), &text);
        } else {
            assert_eq!(
                len, CHUNK_PIECE,
                "a chunk piece that is not the last must be 64 KiB"
            );
        }
    }
}

/// RFC 5321 §4.2: `Reply-code [ SP / "-" textstring ]`, 2yz to 5yz.
fn check_output(out: &[u8]) {
    let mut continued: Option<&str> = None;
    for line in crlf_lines(out) {
        let shown = || excerpt(line.as_bytes());
        assert!(
            line.len() + 2 <= MAX_REPLY_LINE,
            "reply line over 512 octets: {}",
            shown()
        );
        let code = line.get(..3).unwrap_or_default();
        let valid_code = code.len() == 3
            && code.bytes().all(|b| b.is_ascii_digit())
            && (b'2'..=b'5').contains(&code.as_bytes()[0]);
        assert!(valid_code, "reply line without a 2yz-5yz code: {}", shown());
        let sep = line.as_bytes().get(3).copied();
        assert!(
            matches!(sep, None | Some(b' ' | b'-')),
            "bad separator: {}",
            shown()
        );
        if let Some(previous) = continued {
            assert_eq!(
                previous,
                code,
                "a multi-line reply changes code: {}",
                shown()
            );
        }
        continued = (sep == Some(b'-')).then_some(code);
    }
    assert!(
        continued.is_none(),
        "the output stops inside a multi-line reply"
    );
}

/// Real sessions: EHLO, a transaction, BDAT, AUTH, STARTTLS with and
/// without pipelined text, VRFY, and the limits.
fn seeds(port: Port) -> Vec<Vec<u8>> {
    let mut sessions: Vec<&[u8]> = vec![
        b"EHLO client.example.org\r\nMAIL FROM:<alice@example.org> SIZE=1000 BODY=8BITMIME\r\nRCPT TO:<bob@example.com> NOTIFY=NEVER\r\nDATA\r\nQUIT\r\n",
        b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 5\r\nhelloBDAT 12 LAST\r\nline\r\n.\r\nend\r\nQUIT\r\n",
        b"HELO c\r\nBDAT 0 LAST\r\nRSET\r\nNOOP hello\r\nHELP\r\nVRFY postmaster\r\nEXPN staff\r\nQUIT\r\n",
        b"EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH LOGIN\r\nAUTH PLAIN =\r\nMAIL FROM:<> SMTPUTF8\r\nRCPT TO:<\xc3\xa9@example.org>\r\nQUIT\r\n",
        b"mail from:<x@y>\r\nehlo [192.0.2.1]\r\nmail from:<\"a b\"@[IPv6:2001:db8::1]>\r\nrcpt to:<postmaster>\r\nquit\r\n",
        b"EHLO c\r\nMAIL FROM:<a@b>\r\n\r\n.\r\nRCPT TO:<a@b>\n.\nDATA\r\n\r\n.\r\n",
    ];
    if port != Port::Tls {
        sessions.extend([
            &b"EHLO c\r\nSTARTTLS\r\nEHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@b>\r\nQUIT\r\n"[..],
            b"EHLO c\r\nSTARTTLS\r\nNOOP\r\n",
            b"STARTTLS\r\n",
        ]);
    }
    let mut out = super::session::with_plans(&sessions);
    if port != Port::Tls {
        // STARTTLS, then a session over TLS: the upgrade only happens when
        // the command ends a read, so read 10 octets at a time.
        out.push(
            [
                &[3u8, 9][..],
                b"EHLO abc\r\nSTARTTLS\r\nEHLO abc\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@b>\r\nSTARTTLS\r\nQUIT\r\n",
            ]
            .concat(),
        );
    }
    out
}
