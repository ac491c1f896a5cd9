//! MAIL (RFC 5321 §4.1.1.2) and its parameters.

use super::params::{self, Param};
use super::{esmtp, path, strip_prefix_ci, Body, Mailbox, Ret, SyntaxError};

/// `MAIL FROM:<reverse-path> [SP Mail-parameters]`, with each parameter we
/// offer typed. Any other parameter is refused by the parser (RFC 5321
/// §4.1.1.11: 555), so the session never meets one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailFrom {
    /// The sender; `None` for the null path `<>` of bounces (RFC 5321 §4.5.5).
    pub reverse_path: Option<Mailbox>,
    /// `SIZE=`: the client's estimate of the message size (RFC 1870 §3).
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152 §2).
    pub body: Option<Body>,
    /// `SMTPUTF8` (RFC 6531 §3.4): addresses and headers may be UTF-8.
    pub smtputf8: bool,
    /// `RET=` (RFC 3461 §4.3).
    pub ret: Option<Ret>,
    /// `ENVID=`, xtext-decoded (RFC 3461 §4.4).
    pub envid: Option<String>,
    /// `AUTH=`, xtext-decoded: the identity that submitted the message
    /// first, or `<>` (RFC 4954 §5). Only to be trusted from a trusted
    /// peer.
    pub auth: Option<String>,
    /// `REQUIRETLS` (RFC 8689 §4): relay this message only over verified
    /// TLS.
    pub requiretls: bool,
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
    let mut mail = MailFrom {
        reverse_path,
        ..MailFrom::default()
    };
    for param in params::parse(tail).ok_or(BAD_SENDER)? {
        apply(&mut mail, param)?;
    }
    Ok(mail)
}

/// One parameter into its field; a keyword twice is an error.
fn apply(mail: &mut MailFrom, param: Param) -> Result<(), SyntaxError> {
    let value = param.value.as_deref();
    match (param.keyword.as_str(), value) {
        ("SIZE", Some(v)) => params::set(&mut mail.size, esmtp::size(v)?),
        ("BODY", Some(v)) => params::set(&mut mail.body, esmtp::body(v)?),
        ("RET", Some(v)) => params::set(&mut mail.ret, esmtp::ret(v)?),
        ("ENVID", Some(v)) => params::set(&mut mail.envid, esmtp::envid(v)?),
        ("AUTH", Some(v)) => params::set(&mut mail.auth, esmtp::auth(v)?),
        ("SMTPUTF8", None) => params::flag(&mut mail.smtputf8),
        ("REQUIRETLS", None) => params::flag(&mut mail.requiretls),
        ("SMTPUTF8" | "REQUIRETLS", Some(_)) => Err(params::NO_VALUE),
        ("SIZE" | "BODY" | "RET" | "ENVID" | "AUTH", None) => Err(params::NEEDS_VALUE),
        _ => Err(SyntaxError::UnknownParameter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{parse as parse_line, Request};

    fn mail(line: &str) -> Result<MailFrom, SyntaxError> {
        match parse_line(line.as_bytes())? {
            Request::Mail(m) => Ok(m),
            other => panic!("not MAIL: {other:?}"),
        }
    }

    fn alice() -> Option<Mailbox> {
        Some(Mailbox {
            local_part: "alice".to_owned(),
            domain: "example.org".to_owned(),
        })
    }

    #[test]
    fn known_answers() {
        assert_eq!(
            mail("MAIL FROM:<alice@example.org>"),
            Ok(MailFrom {
                reverse_path: alice(),
                ..MailFrom::default()
            })
        );
        assert_eq!(mail("MAIL FROM:<>"), Ok(MailFrom::default()));
        let full = "mail from: <alice@example.org> size=1000 BODY=8BITMIME SMTPUTF8 \
                    RET=HDRS ENVID=QQ+2B1 AUTH=alice+40example.org REQUIRETLS";
        assert_eq!(
            mail(full),
            Ok(MailFrom {
                reverse_path: alice(),
                size: Some(1000),
                body: Some(Body::EightBitMime),
                smtputf8: true,
                ret: Some(Ret::Hdrs),
                envid: Some("QQ+1".into()),
                auth: Some("alice@example.org".into()),
                requiretls: true,
            })
        );
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

    #[test]
    fn parameter_errors() {
        let unknown = Err(SyntaxError::UnknownParameter);
        assert_eq!(mail("MAIL FROM:<> X-FOO=1"), unknown);
        assert_eq!(
            mail("MAIL FROM:<> BODY=BINARYMIME")
                .map(|_| ())
                .unwrap_err()
                .reply()
                .0,
            501
        );
        for bad in [
            "MAIL FROM:<> SIZE=1 SIZE=2",
            "MAIL FROM:<> SIZE=x",
            "MAIL FROM:<> SIZE",
            "MAIL FROM:<> SMTPUTF8=yes",
            "MAIL FROM:<> SMTPUTF8 SMTPUTF8",
            "MAIL FROM:<> RET=ALL",
            "MAIL FROM:<> ENVID=a=b",
        ] {
            let code = mail(bad).map(|_| ()).unwrap_err().reply().0;
            assert_eq!(code, 501, "{bad}");
        }
    }
}
