//! Command parsing, one file per command family (RFC 5321 §4.1.1 and the
//! extensions we announce), each with its `parse` and known-answer tests.
//!
//! [`parse`] turns one framed line into a [`Request`]: either a
//! [`CoreCommand`] the core answers itself or a [`Command`] the session
//! decides. Checks that apply to every line (no control characters, valid
//! UTF-8) happen here, before any verb is looked at.

mod auth;
mod basic;
mod bdat;
mod data;
mod helo;
mod mail;
mod params;
mod path;
mod rcpt;
mod starttls;
mod vrfy;

pub use auth::Auth;
pub use bdat::Bdat;
pub use helo::HeloName;
pub use mail::MailFrom;
pub use params::Param;
pub use path::Mailbox;
pub use rcpt::{ForwardPath, RcptTo};

/// Any command line the core understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Answered by the core without asking the session.
    Core(CoreCommand),
    /// Handed to the session as `Event::Command`.
    Session(Command),
}

/// Commands the core answers itself.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreCommand {
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
}

/// Commands whose answer the session decides, with their parsed arguments.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `MAIL FROM:<reverse-path> [params]` (RFC 5321 §4.1.1.2).
    Mail(MailFrom),
    /// `RCPT TO:<forward-path> [params]` (RFC 5321 §4.1.1.3).
    Rcpt(RcptTo),
    /// `DATA` (RFC 5321 §4.1.1.4).
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2); its octets follow as
    /// `Event::ChunkData`.
    Bdat(Bdat),
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    Auth(Auth),
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
    let core = |c| Ok(Request::Core(c));
    let session = |c| Ok(Request::Session(c));
    match verb {
        "EHLO" => core(CoreCommand::Ehlo(helo::parse(
            args,
            "Syntax: EHLO hostname",
        )?)),
        "HELO" => core(CoreCommand::Helo(helo::parse(
            args,
            "Syntax: HELO hostname",
        )?)),
        "NOOP" => core(basic::noop(args)),
        "RSET" => core(basic::rset(args)?),
        "HELP" => core(basic::help(args)),
        "QUIT" => core(basic::quit(args)?),
        "STARTTLS" => core(starttls::parse(args)?),
        "MAIL" => session(Command::Mail(mail::parse(args)?)),
        "RCPT" => session(Command::Rcpt(rcpt::parse(args)?)),
        "DATA" => session(data::parse(args)?),
        "BDAT" => session(Command::Bdat(bdat::parse(args)?)),
        "AUTH" => session(Command::Auth(auth::parse(args)?)),
        "VRFY" => session(Command::Vrfy(vrfy::parse(args, "Syntax: VRFY string")?)),
        "EXPN" => session(Command::Expn(vrfy::parse(args, "Syntax: EXPN string")?)),
        _ => Err(SyntaxError::UnknownCommand),
    }
}

/// The size of the chunk a line announces, if it is a valid BDAT command.
/// The framer and the state machine use this one definition, so they can
/// never disagree about where a chunk starts.
pub(crate) fn announced_chunk(line: &[u8]) -> Option<u64> {
    if !line.get(..5)?.eq_ignore_ascii_case(b"BDAT ") {
        return None;
    }
    match parse(line) {
        Ok(Request::Session(Command::Bdat(bdat))) => Some(bdat.size),
        _ => None,
    }
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
        assert_eq!(parse(b"noop"), Ok(Request::Core(CoreCommand::Noop)));
        assert_eq!(parse(b"QuIt"), Ok(Request::Core(CoreCommand::Quit)));
        assert_eq!(parse(b"data"), Ok(Request::Session(Command::Data)));
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
        assert_eq!(parse(b"NOOP \t"), Ok(Request::Core(CoreCommand::Noop)));
    }

    #[test]
    fn unknown_verbs() {
        for line in [&b""[..], b"FOO", b"EHLO\tx", b" NOOP", b"MAILFROM:<>"] {
            assert_eq!(parse(line), Err(SyntaxError::UnknownCommand), "{line:?}");
        }
    }

    #[test]
    fn chunk_announcements() {
        assert_eq!(announced_chunk(b"BDAT 12 LAST"), Some(12));
        assert_eq!(announced_chunk(b"bdat 0"), Some(0));
        assert_eq!(announced_chunk(b"BDAT x"), None);
        assert_eq!(announced_chunk(b"BDAT 1\0"), None);
        assert_eq!(announced_chunk(b"DATA"), None);
    }
}
