//! Command parsing, one file per command family (RFC 5321 §4.1.1 and the
//! extensions we announce), each with its `parse` and known-answer tests.
//!
//! [`parse`] turns one command line into a [`Request`], with every argument
//! checked and typed: ESMTP parameters become fields (`SIZE`, `BODY`,
//! `RET`, `NOTIFY`...), a SASL initial response is base64-decoded. Checks
//! that apply to every line (no control characters, valid UTF-8) happen
//! first, before any verb is looked at.

mod auth;
mod basic;
mod bdat;
mod data;
mod esmtp;
mod helo;
mod mail;
mod params;
mod path;
mod rcpt;
mod starttls;
mod vrfy;

pub use auth::{Auth, AuthMechanism};
pub use bdat::Bdat;
pub use esmtp::{Body, Notify, Ret};
pub use helo::HeloName;
pub use mail::MailFrom;
pub use path::Mailbox;
pub use rcpt::{ForwardPath, RcptTo};

/// Any command line the core understands.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `EHLO name` (RFC 5321 §4.1.1.1).
    Ehlo(HeloName),
    /// `HELO name` (RFC 5321 §4.1.1.1).
    Helo(HeloName),
    /// `NOOP [string]` (RFC 5321 §4.1.1.9).
    Noop,
    /// `RSET` (RFC 5321 §4.1.1.5).
    Rset,
    /// `HELP [string]` (RFC 5321 §4.1.1.8).
    Help,
    /// `QUIT` (RFC 5321 §4.1.1.10).
    Quit,
    /// `STARTTLS` (RFC 3207 §4).
    StartTls,
    /// `MAIL FROM:<reverse-path> [params]` (RFC 5321 §4.1.1.2).
    Mail(MailFrom),
    /// `RCPT TO:<forward-path> [params]` (RFC 5321 §4.1.1.3).
    Rcpt(RcptTo),
    /// `DATA` (RFC 5321 §4.1.1.4).
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2).
    Bdat(Bdat),
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    Auth(Auth),
    /// `VRFY` or `EXPN`, answered by the session.
    Query(Command),
}

/// The commands whose whole answer is the session's: what to say about an
/// address is policy (DESIGN: never reveal whether a user exists).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `VRFY string` (RFC 5321 §4.1.1.6).
    Vrfy(String),
    /// `EXPN string` (RFC 5321 §4.1.1.7).
    Expn(String),
}

/// Why a line is not a command we accept. Each maps to one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxError {
    /// A NUL or other control character (TAB excepted): an error, never a
    /// silent truncation (DESIGN, security rules).
    ControlCharacter,
    /// Octets that are not UTF-8 (RFC 6531 allows UTF-8, nothing else).
    InvalidUtf8,
    /// A verb we do not know (RFC 5321 §4.2.4: 500).
    UnknownCommand,
    /// A known verb with bad arguments (RFC 5321 §4.2.4: 501); the text is
    /// the usage, the code the RFC 3463 detail.
    Arguments {
        /// The enhanced status code, e.g. `5.5.4`.
        enhanced: &'static str,
        /// What the command should look like.
        usage: &'static str,
    },
    /// `BDAT` with an unreadable size: the chunk cannot be delimited.
    ChunkSize,
    /// A MAIL or RCPT parameter we do not know or do not offer (RFC 5321
    /// §4.1.1.11 and §4.2.3: 555).
    UnknownParameter,
    /// A SASL response that is not base64 (RFC 4954 §4: 501 5.5.2).
    Base64,
}

impl SyntaxError {
    /// Bad arguments to a command (RFC 3463 §3.6: 5.5.4).
    pub(crate) const fn usage(usage: &'static str) -> Self {
        Self::Arguments {
            enhanced: "5.5.4",
            usage,
        }
    }

    /// The reply: (code, enhanced code, text).
    pub fn reply(self) -> (u16, &'static str, &'static str) {
        match self {
            Self::ControlCharacter => (500, "5.5.2", "Control characters are not allowed"),
            Self::InvalidUtf8 => (500, "5.5.2", "Commands must be UTF-8"),
            Self::UnknownCommand => (500, "5.5.2", "Command unrecognized"),
            Self::Arguments { enhanced, usage } => (501, enhanced, usage),
            Self::ChunkSize => (501, "5.5.4", "Syntax: BDAT size [LAST]"),
            Self::UnknownParameter => (555, "5.5.4", "Parameter not recognized or not implemented"),
            Self::Base64 => (501, "5.5.2", "Cannot decode base64"),
        }
    }
}

/// Parses one command line (without its line ending).
pub fn parse(line: &[u8]) -> Result<Request, SyntaxError> {
    let line = checked_text(line)?;
    let (verb, args) = match line.split_once(' ') {
        Some((verb, args)) => (verb, Some(args)),
        None => (line, None),
    };
    dispatch(&verb.to_ascii_uppercase(), args)
}

fn dispatch(verb: &str, args: Option<&str>) -> Result<Request, SyntaxError> {
    Ok(match verb {
        "EHLO" => Request::Ehlo(helo::parse(args, "Syntax: EHLO hostname")?),
        "HELO" => Request::Helo(helo::parse(args, "Syntax: HELO hostname")?),
        "NOOP" => basic::noop(args),
        "RSET" => basic::rset(args)?,
        "HELP" => basic::help(args),
        "QUIT" => basic::quit(args)?,
        "STARTTLS" => starttls::parse(args)?,
        "MAIL" => Request::Mail(mail::parse(args)?),
        "RCPT" => Request::Rcpt(rcpt::parse(args)?),
        "DATA" => data::parse(args)?,
        "BDAT" => Request::Bdat(bdat::parse(args)?),
        "AUTH" => Request::Auth(auth::parse(args)?),
        "VRFY" => Request::Query(Command::Vrfy(vrfy::parse(args, "Syntax: VRFY string")?)),
        "EXPN" => Request::Query(Command::Expn(vrfy::parse(args, "Syntax: EXPN string")?)),
        _ => return Err(SyntaxError::UnknownCommand),
    })
}

/// Rejects control characters (TAB excepted) and non-UTF-8, and drops
/// trailing blanks, which some clients add and no argument needs.
fn checked_text(line: &[u8]) -> Result<&str, SyntaxError> {
    if line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(SyntaxError::ControlCharacter);
    }
    let text = std::str::from_utf8(line).map_err(|_| SyntaxError::InvalidUtf8)?;
    Ok(text.trim_end_matches([' ', '\t']))
}

/// `prefix` at the start of `s`, compared ASCII case-insensitively.
pub(crate) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Arguments that must be absent (`DATA`, `RSET`, ...): RFC 5321 §4.1.1
/// gives these commands none.
pub(crate) fn no_args(args: Option<&str>, usage: &'static str) -> Result<(), SyntaxError> {
    match args {
        None => Ok(()),
        Some(_) => Err(SyntaxError::usage(usage)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(parse(b"noop"), Ok(Request::Noop));
        assert_eq!(parse(b"QuIt"), Ok(Request::Quit));
        assert_eq!(parse(b"data"), Ok(Request::Data));
    }

    #[test]
    fn line_checks_come_first() {
        assert_eq!(parse(b"NOOP\0"), Err(SyntaxError::ControlCharacter));
        assert_eq!(
            parse(b"MAIL FROM:<a\0@b>"),
            Err(SyntaxError::ControlCharacter)
        );
        assert_eq!(parse(b"NO\rOP"), Err(SyntaxError::ControlCharacter));
        assert_eq!(parse(b"NOOP \x7f"), Err(SyntaxError::ControlCharacter));
        assert_eq!(parse(b"VRFY \xff"), Err(SyntaxError::InvalidUtf8));
        assert_eq!(parse(b"NOOP \t"), Ok(Request::Noop));
    }

    #[test]
    fn unknown_verbs() {
        for line in [&b""[..], b"FOO", b"EHLO\tx", b" NOOP", b"MAILFROM:<>"] {
            assert_eq!(parse(line), Err(SyntaxError::UnknownCommand), "{line:?}");
        }
    }
}
