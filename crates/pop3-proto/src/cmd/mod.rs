//! Command parsing, one file per command family (RFC 1939 §5-7 and the
//! extensions we announce), each with its `parse` and known-answer tests.
//!
//! A line is first [`split`] into its [`Verb`] and arguments, with the
//! checks that apply to every line (no control characters, UTF-8). The
//! machine looks at the verb before the arguments, so that a credential
//! command before TLS is refused whatever it carries.

mod auth;
mod basic;
mod capa;
mod mailbox;
mod stls;
mod user;

use postern_types::Secret;

/// A command keyword we know (RFC 1939 §3: case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// RFC 2449 §5.
    Capa,
    /// RFC 1939 §5.
    Noop,
    /// RFC 1939 §5-6.
    Quit,
    /// RFC 2595 §4.
    Stls,
    /// RFC 1939 §7.
    User,
    /// RFC 1939 §7.
    Pass,
    /// RFC 1939 §7.
    Apop,
    /// RFC 5034 §4.
    Auth,
    /// RFC 1939 §5.
    Stat,
    /// RFC 1939 §5.
    List,
    /// RFC 1939 §5.
    Retr,
    /// RFC 1939 §5.
    Dele,
    /// RFC 1939 §5.
    Rset,
    /// RFC 1939 §7.
    Top,
    /// RFC 1939 §7.
    Uidl,
}

impl Verb {
    const ALL: [Self; 15] = [
        Self::Capa,
        Self::Noop,
        Self::Quit,
        Self::Stls,
        Self::User,
        Self::Pass,
        Self::Apop,
        Self::Auth,
        Self::Stat,
        Self::List,
        Self::Retr,
        Self::Dele,
        Self::Rset,
        Self::Top,
        Self::Uidl,
    ];

    /// The keyword as written in RFC 1939.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Capa => "CAPA",
            Self::Noop => "NOOP",
            Self::Quit => "QUIT",
            Self::Stls => "STLS",
            Self::User => "USER",
            Self::Pass => "PASS",
            Self::Apop => "APOP",
            Self::Auth => "AUTH",
            Self::Stat => "STAT",
            Self::List => "LIST",
            Self::Retr => "RETR",
            Self::Dele => "DELE",
            Self::Rset => "RSET",
            Self::Top => "TOP",
            Self::Uidl => "UIDL",
        }
    }

    fn from_keyword(keyword: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(keyword))
    }

    /// Commands that carry a credential: never accepted in clear text.
    pub const fn is_credential(self) -> bool {
        matches!(self, Self::User | Self::Pass | Self::Apop | Self::Auth)
    }
}

/// A parsed command.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `CAPA`.
    Capa,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `STLS`.
    Stls,
    /// `USER name`.
    User(String),
    /// `PASS string`.
    Pass(Secret<String>),
    /// `APOP name digest`: we never offer it (no timestamp in our greeting,
    /// RFC 1939 §7), so its arguments are not kept.
    Apop,
    /// `AUTH mechanism [initial-response]`.
    Auth {
        /// The SASL mechanism, upper-cased.
        mechanism: String,
        /// The initial response; `Some("")` for `=`.
        initial_response: Option<Secret<String>>,
    },
    /// STAT, LIST, RETR, DELE, RSET, TOP or UIDL.
    Mailbox {
        /// Which one.
        verb: Verb,
        /// Its arguments.
        args: Vec<String>,
    },
}

/// Why a line is not a command we accept. Each maps to one `-ERR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxError {
    /// A NUL or other control character (TAB excepted): an error, never a
    /// silent truncation (DESIGN, security rules).
    ControlCharacter,
    /// Octets that are not UTF-8.
    InvalidUtf8,
    /// A keyword we do not know.
    UnknownCommand,
    /// A known keyword with bad arguments; the text is the usage.
    Arguments(&'static str),
}

impl SyntaxError {
    /// The `-ERR` text.
    pub const fn text(self) -> &'static str {
        match self {
            Self::ControlCharacter => "Control characters are not allowed",
            Self::InvalidUtf8 => "Commands must be UTF-8",
            Self::UnknownCommand => "Unknown command",
            Self::Arguments(usage) => usage,
        }
    }
}

/// Splits a line (without CRLF) into its verb and arguments (the text after
/// the first space, kept whole: PASS may contain spaces, RFC 1939 §7).
pub fn split(line: &[u8]) -> Result<(Verb, Option<&str>), SyntaxError> {
    if line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(SyntaxError::ControlCharacter);
    }
    let text = std::str::from_utf8(line).map_err(|_| SyntaxError::InvalidUtf8)?;
    let (keyword, args) = match text.split_once(' ') {
        Some((keyword, args)) => (keyword, Some(args)),
        None => (text, None),
    };
    let verb = Verb::from_keyword(keyword).ok_or(SyntaxError::UnknownCommand)?;
    Ok((verb, args))
}

/// Parses the arguments of a verb.
pub fn parse_args(verb: Verb, args: Option<&str>) -> Result<Request, SyntaxError> {
    match verb {
        Verb::Capa => capa::parse(args),
        Verb::Noop => basic::noop(args),
        Verb::Quit => basic::quit(args),
        Verb::Stls => stls::parse(args),
        Verb::User => user::user(args),
        Verb::Pass => user::pass(args),
        Verb::Apop => user::apop(args),
        Verb::Auth => auth::parse(args),
        _ => mailbox::parse(verb, args),
    }
}

/// [`split`] then [`parse_args`].
pub fn parse(line: &[u8]) -> Result<Request, SyntaxError> {
    let (verb, args) = split(line)?;
    parse_args(verb, args)
}

/// Commands without arguments; a trailing blank is tolerated.
pub(crate) fn no_args(args: Option<&str>, usage: &'static str) -> Result<(), SyntaxError> {
    match args.map(str::trim) {
        None | Some("") => Ok(()),
        Some(_) => Err(SyntaxError::Arguments(usage)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(split(b"capa"), Ok((Verb::Capa, None)));
        assert_eq!(split(b"User bob"), Ok((Verb::User, Some("bob"))));
        assert_eq!(split(b"PASS a b "), Ok((Verb::Pass, Some("a b "))));
    }

    #[test]
    fn line_checks_come_first() {
        assert_eq!(split(b"USER a\0b"), Err(SyntaxError::ControlCharacter));
        assert_eq!(split(b"PASS \x1b"), Err(SyntaxError::ControlCharacter));
        assert_eq!(split(b"PASS \xff"), Err(SyntaxError::InvalidUtf8));
        assert_eq!(split(b"PASS a\tb"), Ok((Verb::Pass, Some("a\tb"))));
    }

    #[test]
    fn unknown_keywords() {
        for line in [&b""[..], b"XTND", b" CAPA", b"CAPAB", b"US"] {
            assert_eq!(split(line), Err(SyntaxError::UnknownCommand), "{line:?}");
        }
    }

    #[test]
    fn credentials() {
        let credentials: Vec<_> = Verb::ALL
            .into_iter()
            .filter(|v| v.is_credential())
            .collect();
        assert_eq!(
            credentials,
            [Verb::User, Verb::Pass, Verb::Apop, Verb::Auth]
        );
    }
}
