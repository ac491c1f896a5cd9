//! Command parsing, one file per command family (RFC 9051 §6), each with
//! its `parse` and known-answer tests.
//!
//! A command arrives as raw parts from the framer. `head` checks them all
//! (no control characters, UTF-8 text, no NUL in literals) and reads
//! `tag SP name`; the machine looks at the name before the arguments, so
//! that a credential command before TLS is refused whatever it carries;
//! `request` then reads the arguments.

mod any_state;
mod authenticate;
mod fetch;
mod login;
mod mailbox;
mod search;
mod selected;
mod starttls;

use postern_types::Secret;

pub use fetch::{FetchAttr, Section, SectionText};
pub use mailbox::{List, QResync, StatusItem};
pub use search::{SearchKey, SearchReturn, SortKey, ThreadAlgorithm};
pub use selected::StoreMode;

use crate::sequence::SequenceSet;
use crate::syntax::Part;
use crate::tag::{is_atom_char, Tag};

/// What parsing depends on in the session: whether mailbox names are
/// UTF-8 (UTF8=ACCEPT or IMAP4rev2 enabled) rather than modified UTF-7.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ctx {
    pub utf8: bool,
}

/// A command: its tag and what it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The tag the completion response carries.
    pub tag: Tag,
    /// The command and its arguments.
    pub request: Request,
}

/// The commands the core reads; any other is [`Request::Other`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `CAPABILITY` (RFC 9051 §6.1.1).
    Capability,
    /// `NOOP` (RFC 9051 §6.1.2).
    Noop,
    /// `LOGOUT` (RFC 9051 §6.1.3).
    Logout,
    /// `STARTTLS` (RFC 9051 §6.2.1).
    StartTls,
    /// `LOGIN userid password` (RFC 9051 §6.2.3).
    Login {
        /// The user name.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// `AUTHENTICATE mechanism [initial-response]` (RFC 9051 §6.2.2,
    /// RFC 4959).
    Authenticate {
        /// The SASL mechanism, upper-cased.
        mechanism: String,
        /// The base64 initial response; `Some("")` for `=`.
        initial_response: Option<Secret<String>>,
    },
    /// `ENABLE capabilities` (RFC 5161), upper-cased.
    Enable(Vec<String>),
    /// `ID ...` (RFC 2971); the client's fields are not kept.
    Id,
    /// `NAMESPACE` (RFC 2342).
    Namespace,
    /// `IDLE` (RFC 2177).
    Idle,
    /// `SELECT` or `EXAMINE` (RFC 9051 §6.3.2, §6.3.3).
    Select {
        mailbox: String,
        /// EXAMINE.
        readonly: bool,
        /// `(CONDSTORE)` (RFC 7162 §3.1.8).
        condstore: bool,
        /// `(QRESYNC (...))` (RFC 7162 §3.2.5); the core refuses it
        /// unless the client enabled QRESYNC.
        qresync: Option<QResync>,
    },
    /// `CREATE` (RFC 9051 §6.3.4), with `USE` attributes (RFC 6154 §5.2).
    Create {
        name: String,
        special_use: Vec<String>,
    },
    /// `DELETE` (RFC 9051 §6.3.5).
    Delete(String),
    /// `RENAME` (RFC 9051 §6.3.6).
    Rename { from: String, to: String },
    /// `SUBSCRIBE` (RFC 9051 §6.3.7).
    Subscribe(String),
    /// `UNSUBSCRIBE` (RFC 9051 §6.3.8).
    Unsubscribe(String),
    /// `LIST` or `LSUB` (RFC 9051 §6.3.9, RFC 3501 §6.3.9, RFC 5258).
    List(List),
    /// `STATUS` (RFC 9051 §6.3.11).
    Status {
        name: String,
        items: Vec<StatusItem>,
    },
    /// `APPEND` (RFC 9051 §6.3.12).
    Append {
        mailbox: String,
        flags: Vec<String>,
        /// Unix seconds.
        date: Option<i64>,
        message: Vec<u8>,
    },
    /// `GETQUOTA root` (RFC 9208 §4.2).
    GetQuota(String),
    /// `GETQUOTAROOT mailbox` (RFC 9208 §4.3).
    GetQuotaRoot(String),
    /// `SETQUOTA root (resources)` (RFC 9208 §4.1); its arguments are not
    /// kept: quotas are set by the administrator.
    SetQuota,
    /// `CHECK` (RFC 3501 §6.4.1).
    Check,
    /// `CLOSE` (RFC 9051 §6.4.1).
    Close,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `COMPRESS DEFLATE` (RFC 4978 §3), the only mechanism there is.
    Compress,
    /// `EXPUNGE`, or `UID EXPUNGE set` (RFC 4315 §2.1).
    Expunge { uids: Option<SequenceSet> },
    /// `[UID] SEARCH` (RFC 9051 §6.4.4).
    Search {
        uid: bool,
        /// ESEARCH `RETURN (...)` (RFC 4731).
        ret: Option<SearchReturn>,
        key: SearchKey,
    },
    /// `[UID] SORT` (RFC 5256): criteria with their REVERSE flags.
    Sort {
        uid: bool,
        criteria: Vec<(bool, SortKey)>,
        key: SearchKey,
    },
    /// `[UID] THREAD` (RFC 5256).
    Thread {
        uid: bool,
        algorithm: ThreadAlgorithm,
        key: SearchKey,
    },
    /// `[UID] FETCH` (RFC 9051 §6.4.5).
    Fetch {
        uid: bool,
        set: SequenceSet,
        attrs: Vec<FetchAttr>,
        /// `(CHANGEDSINCE n)` (RFC 7162 §3.1.4.1).
        changed_since: Option<u64>,
        /// The `VANISHED` modifier (RFC 7162 §3.2.6): UID FETCH only,
        /// with CHANGEDSINCE, and (checked by the core) QRESYNC enabled.
        vanished: bool,
    },
    /// `[UID] STORE` (RFC 9051 §6.4.6).
    Store {
        uid: bool,
        set: SequenceSet,
        mode: StoreMode,
        silent: bool,
        flags: Vec<String>,
        /// `(UNCHANGEDSINCE n)` (RFC 7162 §3.1.3).
        unchanged_since: Option<u64>,
    },
    /// `[UID] COPY` (RFC 9051 §6.4.7).
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: String,
    },
    /// `[UID] MOVE` (RFC 6851).
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: String,
    },
    /// Any other well-formed `tag SP name [SP arguments]`, for the session.
    Other {
        /// The command name, upper-cased.
        name: String,
        /// The arguments after `name SP`.
        rest: Vec<Part>,
    },
}

/// A command before its arguments are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The tag.
    pub tag: Tag,
    /// The command name, upper-cased.
    pub name: String,
    /// The arguments after `name SP` (empty if there are none).
    pub rest: Vec<Part>,
}

impl Head {
    /// LOGIN and AUTHENTICATE carry credentials: refused before TLS.
    pub fn is_credential(&self) -> bool {
        matches!(self.name.as_str(), "LOGIN" | "AUTHENTICATE")
    }
}

/// Why a command is malformed: answered `* BAD` when no valid tag could be
/// read (RFC 9051 §7.1.3), `tag BAD` otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No valid tag.
    Untagged(&'static str),
    /// A valid tag, then something wrong.
    Tagged(Tag, &'static str),
}

/// A piece of a command as framed: not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawPart {
    Text(Vec<u8>),
    Literal(Vec<u8>),
}

/// Checks every part and reads `tag SP name`.
pub(crate) fn head(raw: Vec<RawPart>) -> Result<Head, ParseError> {
    let tag = raw_tag(&raw);
    let fail = |text| match &tag {
        Some(tag) => ParseError::Tagged(tag.clone(), text),
        None => ParseError::Untagged(text),
    };
    let mut parts = check(raw).map_err(fail)?;
    let tag = tag.ok_or(ParseError::Untagged("Invalid tag"))?;
    let Some(Part::Text(first)) = parts.first_mut() else {
        return Err(ParseError::Tagged(tag, "Missing command"));
    };
    let line = std::mem::take(first);
    let after_tag = &line[tag.as_str().len()..];
    let Some((name, rest)) = split_name(after_tag) else {
        return Err(ParseError::Tagged(tag, "Missing or invalid command name"));
    };
    let rest = match rest {
        Some(rest) => {
            parts[0] = Part::Text(rest.to_owned());
            parts
        }
        None if parts.len() == 1 => Vec::new(),
        None => {
            return Err(ParseError::Tagged(
                tag,
                "Missing space after the command name",
            ))
        }
    };
    Ok(Head { tag, name, rest })
}

/// `SP name [SP rest]` after the tag: the name upper-cased, and the rest
/// after its space (`None` when the line ends with the name).
fn split_name(after_tag: &str) -> Option<(String, Option<&str>)> {
    let line = after_tag.strip_prefix(' ')?;
    let (name, rest) = match line.split_once(' ') {
        Some((name, rest)) => (name, Some(rest)),
        None => (line, None),
    };
    let valid = !name.is_empty() && name.bytes().all(is_atom_char);
    valid.then(|| (name.to_ascii_uppercase(), rest))
}

/// The tag, if the first line starts with a valid one.
fn raw_tag(raw: &[RawPart]) -> Option<Tag> {
    let Some(RawPart::Text(first)) = raw.first() else {
        return None;
    };
    let end = first.iter().position(|&b| b == b' ').unwrap_or(first.len());
    Tag::new(std::str::from_utf8(&first[..end]).ok()?)
}

/// Every text part: no control character but TAB, and UTF-8; every
/// literal: no NUL (RFC 9051 §4.3, `CHAR8`).
fn check(raw: Vec<RawPart>) -> Result<Vec<Part>, &'static str> {
    raw.into_iter()
        .map(|part| match part {
            RawPart::Text(text) => {
                if text.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                    return Err("Control characters are not allowed");
                }
                String::from_utf8(text)
                    .map(Part::Text)
                    .map_err(|_| "Commands must be UTF-8")
            }
            RawPart::Literal(bytes) if bytes.contains(&0) => Err("NUL is not allowed in a literal"),
            RawPart::Literal(bytes) => Ok(Part::Literal(bytes)),
        })
        .collect()
}

/// Reads the arguments of the commands the core knows.
pub(crate) fn request(head: Head, ctx: Ctx) -> Result<Command, ParseError> {
    let Head { tag, name, rest } = head;
    let parsed = match name.as_str() {
        "CAPABILITY" => any_state::capability(&rest),
        "NOOP" => any_state::noop(&rest),
        "LOGOUT" => any_state::logout(&rest),
        "STARTTLS" => starttls::parse(&rest),
        "LOGIN" => login::parse(&rest),
        "AUTHENTICATE" => authenticate::parse(&rest),
        "ENABLE" => selected::enable(&rest),
        "ID" => selected::id(&rest),
        "SELECT" => mailbox::select(&rest, ctx, false),
        "EXAMINE" => mailbox::select(&rest, ctx, true),
        "CREATE" => mailbox::create(&rest, ctx),
        "DELETE" => mailbox::one(&rest, ctx, Request::Delete),
        "SUBSCRIBE" => mailbox::one(&rest, ctx, Request::Subscribe),
        "UNSUBSCRIBE" => mailbox::one(&rest, ctx, Request::Unsubscribe),
        "RENAME" => mailbox::rename(&rest, ctx),
        "LIST" => mailbox::list(&rest, ctx, false),
        "LSUB" => mailbox::list(&rest, ctx, true),
        "STATUS" => mailbox::status(&rest, ctx),
        "APPEND" => mailbox::append(&rest, ctx),
        "GETQUOTA" => mailbox::quota_root(&rest),
        "GETQUOTAROOT" => mailbox::one(&rest, ctx, Request::GetQuotaRoot),
        "SETQUOTA" => mailbox::set_quota(&rest),
        "SEARCH" => search::parse(&rest, false),
        "SORT" => search::sort(&rest, false),
        "THREAD" => search::thread(&rest, false),
        "FETCH" => fetch::parse(&rest, false),
        "STORE" => selected::store(&rest, false),
        "COPY" => selected::copy(&rest, ctx, false, false),
        "MOVE" => selected::copy(&rest, ctx, false, true),
        "UID" => selected::uid(&rest, ctx),
        "COMPRESS" => selected::compress(&rest),
        _ => match selected::bare(&name, &rest) {
            Some(parsed) => parsed,
            None => Ok(Request::Other { name, rest }),
        },
    };
    match parsed {
        Ok(request) => Ok(Command { tag, request }),
        Err(usage) => Err(ParseError::Tagged(tag, usage)),
    }
}

/// Commands without arguments (RFC 9051 §6.1).
fn no_args(rest: &[Part], request: Request, usage: &'static str) -> Result<Request, &'static str> {
    if rest.is_empty() {
        Ok(request)
    } else {
        Err(usage)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses one line of text as a whole command.
    pub(crate) fn parse(line: &str) -> Result<Command, ParseError> {
        parse_raw(vec![RawPart::Text(line.as_bytes().to_vec())])
    }

    pub(crate) fn parse_raw(raw: Vec<RawPart>) -> Result<Command, ParseError> {
        request(head(raw)?, Ctx::default())
    }

    /// Parses one line; the request, or the BAD text.
    pub(crate) fn parse_req(line: &str) -> Result<Request, &'static str> {
        match parse(line) {
            Ok(c) => Ok(c.request),
            Err(ParseError::Tagged(_, text) | ParseError::Untagged(text)) => Err(text),
        }
    }

    pub(crate) fn tag(s: &str) -> Tag {
        Tag::new(s).unwrap()
    }

    #[test]
    fn heads() {
        let other = |name: &str, rest: &str| {
            Ok(Command {
                tag: tag("a1"),
                request: Request::Other {
                    name: name.to_owned(),
                    rest: vec![Part::Text(rest.to_owned())],
                },
            })
        };
        assert_eq!(parse("a1 xselect INBOX"), other("XSELECT", "INBOX"));
        assert_eq!(parse("a1 X-FOO "), other("X-FOO", ""));
        let bare = Ok(Command {
            tag: tag("a1"),
            request: Request::Other {
                name: "XCHECK".into(),
                rest: vec![],
            },
        });
        assert_eq!(parse("a1 XCHECK"), bare);
    }

    #[test]
    fn malformed() {
        let untagged = |t| Err(ParseError::Untagged(t));
        let tagged = |t| Err(ParseError::Tagged(tag("a"), t));
        assert_eq!(parse(""), untagged("Invalid tag"));
        assert_eq!(parse("a+ NOOP"), untagged("Invalid tag"));
        assert_eq!(parse("* NOOP"), untagged("Invalid tag"));
        assert_eq!(parse("a"), tagged("Missing or invalid command name"));
        assert_eq!(parse("a  NOOP"), tagged("Missing or invalid command name"));
        assert_eq!(parse("a NO(OP"), tagged("Missing or invalid command name"));
        assert_eq!(
            parse("a NOOP\0"),
            tagged("Control characters are not allowed")
        );
        assert_eq!(
            parse("a\0 NOOP"),
            untagged("Control characters are not allowed")
        );
        let raw = vec![
            RawPart::Text(b"a X ".to_vec()),
            RawPart::Literal(b"\0".to_vec()),
            RawPart::Text(vec![]),
        ];
        assert_eq!(parse_raw(raw), tagged("NUL is not allowed in a literal"));
        let raw = vec![
            RawPart::Text(b"a LOGIN".to_vec()),
            RawPart::Literal(b"x".to_vec()),
            RawPart::Text(vec![]),
        ];
        assert_eq!(
            parse_raw(raw),
            tagged("Missing space after the command name")
        );
        assert_eq!(
            parse_raw(vec![RawPart::Text(b"a \xff".to_vec())]),
            tagged("Commands must be UTF-8")
        );
    }

    #[test]
    fn credential_heads() {
        let head_of = |line: &str| head(vec![RawPart::Text(line.as_bytes().to_vec())]).unwrap();
        assert!(head_of("a login x y").is_credential());
        assert!(head_of("a AUTHENTICATE PLAIN").is_credential());
        assert!(!head_of("a LOGOUT").is_credential());
    }
}
