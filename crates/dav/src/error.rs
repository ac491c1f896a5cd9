//! The one error type of a request body: each text is fit for the body of
//! a 400 answer, and says what the client has to change.

use std::fmt;

use crate::PropName;

/// Why a WebDAV/CalDAV request body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DavError {
    /// The body is not UTF-8 (RFC 4918 §8.2 allows only what XML allows;
    /// we accept UTF-8 alone, which every CalDAV client sends).
    NotUtf8,
    /// A `<!DOCTYPE>`: refused outright, so no entity is ever declared or
    /// expanded (billion laughs) and no external entity is fetched (XXE);
    /// RFC 4918 §20.6 warns of both.
    Doctype,
    /// An entity other than the five XML predefines or a character reference.
    UndefinedEntity(String),
    /// Elements nested deeper than [`crate::MAX_DEPTH`].
    TooDeep,
    /// More elements than [`crate::MAX_ELEMENTS`].
    TooManyElements,
    /// The XML itself is malformed (quick-xml's words).
    Malformed(String),
    /// The root element is not the one this method takes.
    UnexpectedRoot {
        /// What the method takes, e.g. `DAV:propfind`.
        expected: &'static str,
        /// What the body had.
        found: PropName,
    },
    /// A required element is missing.
    Missing(&'static str),
    /// An element or attribute has a value we cannot use.
    Invalid {
        /// Which element or attribute.
        what: &'static str,
        /// The value as sent (truncated).
        value: String,
    },
    /// A REPORT we do not implement: the HTTP layer answers 403 with
    /// `DAV:supported-report` (RFC 3253 §3.6).
    UnsupportedReport(PropName),
    /// A text-match collation other than `i;ascii-casemap` and `i;octet`:
    /// 403 with `CALDAV:supported-collation` (RFC 4791 §7.5.1).
    UnsupportedCollation(String),
}

impl fmt::Display for DavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => f.write_str("the XML body is not valid UTF-8; send it as UTF-8"),
            Self::Doctype => f.write_str(
                "the XML body has a DOCTYPE declaration; DTDs and entities are refused, remove it",
            ),
            Self::UndefinedEntity(e) => write!(
                f,
                "the XML body uses the undefined entity &{e}; (only &amp; &lt; &gt; &quot; &apos; and character references)"
            ),
            Self::TooDeep => write!(
                f,
                "the XML body nests elements deeper than {} levels",
                crate::MAX_DEPTH
            ),
            Self::TooManyElements => write!(
                f,
                "the XML body has more than {} elements",
                crate::MAX_ELEMENTS
            ),
            Self::Malformed(why) => write!(f, "the XML body is malformed: {why}"),
            Self::UnexpectedRoot { expected, found } => {
                write!(f, "the XML body's root element is {found}, expected {expected}")
            }
            Self::Missing(what) => write!(f, "the XML body lacks the required element {what}"),
            Self::Invalid { what, value } => write!(f, "invalid {what}: {value:?}"),
            Self::UnsupportedReport(name) => write!(f, "the REPORT {name} is not supported"),
            Self::UnsupportedCollation(c) => write!(
                f,
                "the collation {c:?} is not supported (use i;ascii-casemap or i;octet)"
            ),
        }
    }
}

impl std::error::Error for DavError {}

/// `value`, cut to 64 characters for an error message.
pub(crate) fn excerpt(value: &str) -> String {
    value.chars().take(64).collect()
}
