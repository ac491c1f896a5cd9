//! VRFY and EXPN (RFC 5321 §4.1.1.6-7). Their answer is the session's
//! (DESIGN: never say whether a user exists, so usually `252`).

use super::SyntaxError;

/// `VRFY SP String` / `EXPN SP String`: one non-empty argument.
pub(super) fn parse(args: Option<&str>, usage: &'static str) -> Result<String, SyntaxError> {
    match args {
        Some(arg) if !arg.is_empty() => Ok(arg.to_owned()),
        _ => Err(SyntaxError::usage(usage)),
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::{parse, Command, Request, SyntaxError};

    #[test]
    fn known_answers() {
        let vrfy = |s: &str| Ok(Request::Query(Command::Vrfy(s.to_owned())));
        let expn = |s: &str| Ok(Request::Query(Command::Expn(s.to_owned())));
        assert_eq!(parse(b"VRFY alice"), vrfy("alice"));
        assert_eq!(parse(b"VRFY \"Alice B\" <a@b>"), vrfy("\"Alice B\" <a@b>"));
        assert_eq!(parse(b"EXPN staff"), expn("staff"));
        assert_eq!(
            parse(b"VRFY"),
            Err(SyntaxError::usage("Syntax: VRFY string"))
        );
        assert_eq!(
            parse(b"EXPN "),
            Err(SyntaxError::usage("Syntax: EXPN string"))
        );
    }
}
