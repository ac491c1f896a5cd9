//! The SMTP core (`postern_smtp_proto::Server`) as an MX, as a submission
//! port before TLS, and as an implicit-TLS submission port, driven by a
//! session that accepts everything it can (STARTTLS, AUTH after one empty
//! challenge or at once with an initial response, every MAIL, RCPT and
//! message), so that DATA, BDAT and AUTH paths are all reached. The variant
//! bit shrinks the limits (64-octet messages, 2 recipients) so that they
//! are reached too.
//!
//! Invariants, besides those of `session`:
//! - every output line is UTF-8, ends with CRLF, is at most 512 octets
//!   (RFC 5321 §4.5.3.1.5) and starts with a 2yz-5yz code followed by a
//!   space, a hyphen or nothing; a `code-` line is followed by a line with
//!   the same code, and the output never stops inside a multi-line reply;
//! - the incomplete line never holds more than `max_line + 1` octets, and
//!   the message being received never more than `max_message_size`;
//! - AUTH reaches the session only on a submission port under TLS, after
//!   EHLO, unauthenticated and outside a transaction; a submission port
//!   before TLS hands out no command at all (RFC 3207 §4);
//! - MAIL reaches the session only after EHLO/HELO, outside a transaction,
//!   on submission only once authenticated; RCPT and messages only inside
//!   one, and never more than `max_recipients` accepted recipients;
//! - a message is within `max_message_size`;
//! - STARTTLS reaches the session only when offered and TLS is off.

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

/// RFC 5321 §4.5.3.1.5, CRLF included.
const MAX_REPLY_LINE: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Mx,
    Submission,
    Tls,
}

fn options(port: Port, small: bool) -> Options {
    let defaults = Options::default();
    Options {
        hostname: "mx.example.org".into(),
        tls_active: port == Port::Tls,
        starttls_offered: port != Port::Tls,
        submission: port != Port::Mx,
        max_message_size: if small { 64 } else { defaults.max_message_size },
        max_recipients: if small { 2 } else { defaults.max_recipients },
        auth_external: small,
        ..defaults
    }
}

fn fuzz(input: &[u8], port: Port) {
    let plan = Plan::new(input);
    let small = plan.variant();
    let make = || {
        let server = match port {
            Port::Tls => Server::new(options(port, small)).with_tls_info(TlsInfo::default()),
            _ => Server::new(options(port, small)),
        };
        (Session::default(), server)
    };
    let transcript = play(&plan, make);
    check_output(&transcript.output);
}

/// The test session: accepts whatever the core lets through, checking that
/// the core only lets through what it promises, and echoes what the client
/// sent into some replies (the core must keep such text from breaking the
/// reply structure).
#[derive(Debug, Default)]
struct Session {
    /// Recipients accepted in the open transaction.
    recipients: usize,
}

impl Harness for Session {
    type P = Server;

    fn on_event(&mut self, s: &mut Server, event: Event) -> After {
        let opts = s.options().clone();
        assert!(
            !opts.submission || opts.tls_active || event == Event::StartTls,
            "{event:?} reached the session on a submission port before TLS"
        );
        match event {
            Event::StartTls => {
                assert!(
                    opts.starttls_offered && !opts.tls_active,
                    "STARTTLS event with {opts:?}"
                );
                s.accept_starttls();
                return After::StartTls;
            }
            Event::Auth {
                initial_response, ..
            } => {
                assert!(opts.submission, "AUTH reached the session on the MX");
                assert!(s.helo_name().is_some(), "AUTH before EHLO");
                assert!(!s.is_authenticated(), "AUTH twice");
                assert!(!s.in_transaction(), "AUTH inside a transaction");
                match initial_response {
                    Some(_) => s.auth_succeeded(),
                    None => s.sasl_challenge(b""),
                }
            }
            Event::SaslResponse(_) => s.auth_succeeded(),
            Event::Mail(mail) => {
                assert!(s.helo_name().is_some(), "MAIL before EHLO/HELO");
                assert!(!s.in_transaction(), "MAIL inside a transaction");
                assert!(!opts.submission || s.is_authenticated(), "MAIL before AUTH");
                assert!(mail.size.is_none_or(|n| n <= opts.max_message_size));
                self.recipients = 0;
                s.accept_mail();
            }
            Event::Rcpt(rcpt) => {
                assert!(s.in_transaction(), "RCPT outside a transaction");
                assert!(self.recipients < opts.max_recipients, "too many recipients");
                self.recipients += 1;
                if rcpt.notify.is_some() {
                    s.reply(550, Some("5.1.1"), &format!("{rcpt:?} refused"));
                    self.recipients -= 1;
                } else {
                    s.accept_rcpt();
                }
            }
            Event::Message(bytes) => {
                assert!(s.in_transaction(), "a message outside a transaction");
                assert!(self.recipients > 0, "a message without recipients");
                let len = bytes.len() as u64;
                assert!(len <= opts.max_message_size, "a {len}-octet message");
                s.accept_message("Q1");
                assert!(!s.in_transaction(), "the transaction survived its message");
            }
            Event::Command(Command::Vrfy(who)) => {
                s.reply(252, Some("2.5.0"), &format!("Cannot VRFY {who}"));
            }
            Event::Command(Command::Expn(list)) => {
                s.reply(550, Some("5.1.1"), &format!("No list {list}"));
            }
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
        let held = s.message_len() as u64;
        let max = s.options().max_message_size;
        assert!(held <= max, "{held} octets of message held, over {max}");
    }

    fn check_upgraded(&mut self, s: &Server) {
        assert!(s.options().tls_active && !s.options().starttls_offered);
        assert!(s.helo_name().is_none(), "EHLO survived STARTTLS");
        assert!(!s.in_transaction(), "a transaction survived STARTTLS");
        assert_eq!(
            s.bad_commands(),
            0,
            "the bad-command count survived STARTTLS"
        );
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

/// Real sessions: EHLO, transactions with DATA and BDAT, smuggling
/// attempts, AUTH in all its forms, STARTTLS with and without pipelined
/// text, VRFY, and the limits.
fn seeds(port: Port) -> Vec<Vec<u8>> {
    let mut sessions: Vec<&[u8]> = vec![
        b"EHLO client.example.org\r\nMAIL FROM:<alice@example.org> SIZE=1000 BODY=8BITMIME\r\nRCPT TO:<bob@example.com> NOTIFY=NEVER\r\nRCPT TO:<carol@example.com> ORCPT=rfc822;carol+40example.com\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n",
        b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 5\r\nhelloBDAT 12 LAST\r\nline\r\n.\r\nend\r\nQUIT\r\n",
        b"HELO c\r\nBDAT 0 LAST\r\nRSET\r\nNOOP hello\r\nHELP\r\nVRFY postmaster\r\nEXPN staff\r\nQUIT\r\n",
        b"EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH LOGIN\r\nAUTH PLAIN =\r\nMAIL FROM:<> SMTPUTF8\r\nRCPT TO:<\xc3\xa9@example.org>\r\nQUIT\r\n",
        b"EHLO c\r\nAUTH LOGIN\r\nYWxpY2U=\r\nMAIL FROM:<a@b> RET=HDRS ENVID=x+2By REQUIRETLS\r\nRCPT TO:<c@d>\r\nDATA\r\na\n.\nb\r.\rc\r\n.\nd\n.\r\ne\r\n.\r\n",
        b"EHLO c\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n!!\r\nAUTH EXTERNAL =\r\nAUTH CRAM-MD5\r\n",
        b"mail from:<x@y>\r\nehlo [192.0.2.1]\r\nmail from:<\"a b\"@[IPv6:2001:db8::1]>\r\nrcpt to:<postmaster>\r\nquit\r\n",
        b"EHLO c\r\nMAIL FROM:<a@b>\r\n\r\n.\r\nRCPT TO:<a@b>\n.\nDATA\r\n\r\n.\r\n",
        b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@d>\r\nRCPT TO:<2@d>\r\nRCPT TO:<3@d>\r\nDATA\r\n0123456789012345678901234567890123456789012345678901234567890123456789\r\n.\r\nMAIL FROM:<a@b> SIZE=100\r\nQUIT\r\n",
    ];
    if port != Port::Tls {
        sessions.extend([
            &b"EHLO c\r\nSTARTTLS\r\nEHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@b>\r\nQUIT\r\n"[..],
            b"EHLO c\r\nSTARTTLS\r\nNOOP\r\n",
            b"STARTTLS\r\n",
        ]);
    }
    let mut out = super::session::with_plans(&sessions);
    // The same sessions with the small limits of the variant bit.
    out.extend(sessions.iter().map(|s| [&[0x10u8, 0][..], s].concat()));
    if port != Port::Tls {
        // STARTTLS, then a session over TLS: the upgrade only happens when
        // the command ends a read, so read 10 octets at a time.
        out.push(
            [
                &[3u8, 9][..],
                b"EHLO abc\r\nSTARTTLS\r\nEHLO abc\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 3 LAST\r\nabcSTARTTLS\r\nQUIT\r\n",
            ]
            .concat(),
        );
    }
    out
}
