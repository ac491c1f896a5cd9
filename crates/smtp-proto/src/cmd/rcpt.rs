//! RCPT (RFC 5321 §4.1.1.3).

use super::params::{self, Param};
use super::{esmtp, path, strip_prefix_ci, Mailbox, Notify, SyntaxError};

/// Where a recipient points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain, which every server must accept
    /// (RFC 5321 §4.5.1).
    Postmaster,
    /// An ordinary mailbox.
    Mailbox(Mailbox),
}

impl ForwardPath {
    /// Whether the address is all ASCII (RFC 6531 §3.4).
    pub fn is_ascii(&self) -> bool {
        match self {
            Self::Postmaster => true,
            Self::Mailbox(mailbox) => mailbox.is_ascii(),
        }
    }
}

/// `RCPT TO:<forward-path> [SP Rcpt-parameters]`, with the DSN parameters
/// typed (RFC 3461 §4); any other parameter is refused by the parser (RFC
/// 5321 §4.1.1.11: 555).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptTo {
    /// The recipient.
    pub forward_path: ForwardPath,
    /// `NOTIFY=` (RFC 3461 §4.1); `None` means the default, FAILURE and
    /// possibly DELAY.
    pub notify: Option<Notify>,
    /// `ORCPT=` (RFC 3461 §4.2) as `addr-type;address`, xtext-decoded
    /// (`rfc822;bob@example.org`).
    pub orcpt: Option<String>,
}

/// RFC 3463 §3.2: X.1.3 is "bad destination mailbox address syntax".
const BAD_RECIPIENT: SyntaxError = SyntaxError::Arguments {
    enhanced: "5.1.3",
    usage: "Syntax: RCPT TO:<address> [parameters]",
};

/// Parses the arguments; a space after the colon is tolerated as for MAIL.
pub(super) fn parse(args: Option<&str>) -> Result<RcptTo, SyntaxError> {
    let rest = args
        .and_then(|a| strip_prefix_ci(a, "TO:"))
        .ok_or(BAD_RECIPIENT)?;
    let (inner, tail) = path::take_path(rest.trim_start_matches(' ')).ok_or(BAD_RECIPIENT)?;
    let forward_path = if inner.eq_ignore_ascii_case("postmaster") {
        ForwardPath::Postmaster
    } else {
        ForwardPath::Mailbox(path::mailbox(inner).ok_or(BAD_RECIPIENT)?)
    };
    let mut rcpt = RcptTo {
        forward_path,
        notify: None,
        orcpt: None,
    };
    for param in params::parse(tail).ok_or(BAD_RECIPIENT)? {
        apply(&mut rcpt, param)?;
    }
    Ok(rcpt)
}

/// One parameter into its field; a keyword twice is an error.
fn apply(rcpt: &mut RcptTo, param: Param) -> Result<(), SyntaxError> {
    match (param.keyword.as_str(), param.value.as_deref()) {
        ("NOTIFY", Some(v)) => params::set(&mut rcpt.notify, esmtp::notify(v)?),
        ("ORCPT", Some(v)) => params::set(&mut rcpt.orcpt, esmtp::orcpt(v)?),
        ("NOTIFY" | "ORCPT", None) => Err(params::NEEDS_VALUE),
        _ => Err(SyntaxError::UnknownParameter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{parse as parse_line, Request};

    fn rcpt(line: &str) -> Result<RcptTo, SyntaxError> {
        match parse_line(line.as_bytes())? {
            Request::Rcpt(r) => Ok(r),
            other => panic!("not RCPT: {other:?}"),
        }
    }

    #[test]
    fn known_answers() {
        let bob = ForwardPath::Mailbox(Mailbox {
            local_part: "bob".to_owned(),
            domain: "example.org".to_owned(),
        });
        let to = |forward_path, notify, orcpt: Option<&str>| {
            Ok(RcptTo {
                forward_path,
                notify,
                orcpt: orcpt.map(str::to_owned),
            })
        };
        assert_eq!(
            rcpt("RCPT TO:<bob@example.org>"),
            to(bob.clone(), None, None)
        );
        assert_eq!(
            rcpt("rcpt to:<bob@example.org> NOTIFY=NEVER orcpt=rfc822;bob+40example.org"),
            to(bob, Some(Notify::Never), Some("rfc822;bob@example.org"))
        );
        assert_eq!(
            rcpt("RCPT TO:<Postmaster>"),
            to(ForwardPath::Postmaster, None, None)
        );
        for bad in [
            "RCPT",
            "RCPT TO:<>",
            "RCPT FROM:<a@b>",
            "RCPT TO:<a>",
            "RCPT TO:<a@b> x==",
        ] {
            assert_eq!(rcpt(bad), Err(BAD_RECIPIENT), "{bad}");
        }
        assert_eq!(
            rcpt("RCPT TO:<a@b> SIZE=1"),
            Err(SyntaxError::UnknownParameter)
        );
        assert_eq!(
            rcpt("RCPT TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER"),
            Err(params::DUPLICATE)
        );
        assert!(rcpt("RCPT TO:<a@b> NOTIFY").is_err());
    }
}
