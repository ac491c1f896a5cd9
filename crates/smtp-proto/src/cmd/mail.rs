//! MAIL (RFC 5321 §4.1.1.2).

use super::{params, path, strip_prefix_ci, Mailbox, Param, SyntaxError};

/// `MAIL FROM:<reverse-path> [SP Mail-parameters]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom {
    /// The sender; `None` for the null path `<>` of bounces (RFC 5321 §4.5.5).
    pub reverse_path: Option<Mailbox>,
    /// ESMTP parameters (SIZE, BODY, SMTPUTF8, ...), for the session to check.
    pub params: Vec<Param>,
}

/// RFC 3463 §3.2: X.1.7 is "bad sender's mailbox address syntax".
const BAD_SENDER: SyntaxError = SyntaxError::Arguments {
    enhanced: "5.1.7",
    usage: "Syntax: MAIL FROM:<address> [parameters]",
};

/// Parses the arguments. A space after the colon is tolerated, as Postfix
/// does, because old clients send it and it is unambiguous.
pub(super) fn parse(args: Option<&str>) -> Result<MailFrom, SyntaxError> {
    let rest = args
        .and_then(|a| strip_prefix_ci(a, "FROM:"))
        .ok_or(BAD_SENDER)?;
    let (inner, tail) = path::take_path(rest.trim_start_matches(' ')).ok_or(BAD_SENDER)?;
    let reverse_path = match inner {
        "" => None,
        inner => Some(path::mailbox(inner).ok_or(BAD_SENDER)?),
    };
    let params = params::parse(tail).ok_or(BAD_SENDER)?;
    Ok(MailFrom {
        reverse_path,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{parse as parse_line, Command, Request};

    fn mail(line: &str) -> Result<MailFrom, SyntaxError> {
        match parse_line(line.as_bytes())? {
            Request::Session(Command::Mail(m)) => Ok(m),
            other => panic!("not MAIL: {other:?}"),
        }
    }

    fn from(local: &str, domain: &str, params: Vec<Param>) -> Result<MailFrom, SyntaxError> {
        let mailbox = Mailbox {
            local_part: local.to_owned(),
            domain: domain.to_owned(),
        };
        Ok(MailFrom {
            reverse_path: Some(mailbox),
            params,
        })
    }

    #[test]
    fn known_answers() {
        let size = Param {
            keyword: "SIZE".to_owned(),
            value: Some("1000".to_owned()),
        };
        assert_eq!(
            mail("MAIL FROM:<alice@example.org>"),
            from("alice", "example.org", vec![])
        );
        assert_eq!(
            mail("mail from: <a@b.c> size=1000"),
            from("a", "b.c", vec![size])
        );
        let null = Ok(MailFrom {
            reverse_path: None,
            params: vec![],
        });
        assert_eq!(mail("MAIL FROM:<>"), null);
        for bad in [
            "MAIL",
            "MAIL TO:<a@b>",
            "MAIL FROM:a@b",
            "MAIL FROM:<a@b",
            "MAIL FROM:<a@b>SIZE=1",
            "MAIL FROM:<a@b> =1",
            "MAIL FROM:<not an address>",
        ] {
            assert_eq!(mail(bad), Err(BAD_SENDER), "{bad}");
        }
    }
}
