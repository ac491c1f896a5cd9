//! RCPT (RFC 5321 §4.1.1.3).

use super::{params, path, strip_prefix_ci, Mailbox, Param, SyntaxError};

/// Where a recipient points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain, which every server must accept
    /// (RFC 5321 §4.5.1).
    Postmaster,
    /// An ordinary mailbox.
    Mailbox(Mailbox),
}

/// `RCPT TO:<forward-path> [SP Rcpt-parameters]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptTo {
    /// The recipient.
    pub forward_path: ForwardPath,
    /// ESMTP parameters (NOTIFY, ORCPT, ...), for the session to check.
    pub params: Vec<Param>,
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
    let params = params::parse(tail).ok_or(BAD_RECIPIENT)?;
    Ok(RcptTo {
        forward_path,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{parse as parse_line, Command, Request};

    fn rcpt(line: &str) -> Result<RcptTo, SyntaxError> {
        match parse_line(line.as_bytes())? {
            Request::Session(Command::Rcpt(r)) => Ok(r),
            other => panic!("not RCPT: {other:?}"),
        }
    }

    #[test]
    fn known_answers() {
        let bob = Mailbox {
            local_part: "bob".to_owned(),
            domain: "example.org".to_owned(),
        };
        let notify = Param {
            keyword: "NOTIFY".to_owned(),
            value: Some("NEVER".to_owned()),
        };
        let to = |forward_path, params| {
            Ok(RcptTo {
                forward_path,
                params,
            })
        };
        assert_eq!(
            rcpt("RCPT TO:<bob@example.org>"),
            to(ForwardPath::Mailbox(bob.clone()), vec![])
        );
        assert_eq!(
            rcpt("rcpt to:<bob@example.org> NOTIFY=NEVER"),
            to(ForwardPath::Mailbox(bob), vec![notify])
        );
        assert_eq!(
            rcpt("RCPT TO:<Postmaster>"),
            to(ForwardPath::Postmaster, vec![])
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
    }
}
