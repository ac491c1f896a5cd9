//! LOGIN (RFC 9051 §6.2.3).

use postern_types::Secret;

use super::Request;
use crate::syntax::{Cursor, Part};

const USAGE: &str = "Syntax: LOGIN userid password";

/// `LOGIN SP userid SP password`, both astrings: atoms, quoted strings or
/// literals (RFC 9051 §9).
pub(super) fn parse(rest: &[Part]) -> Result<Request, &'static str> {
    let mut cursor = Cursor::new(rest);
    let username = cursor.astring().map_err(|()| USAGE)?;
    cursor.sp().map_err(|()| USAGE)?;
    let password = cursor.astring().map_err(|()| USAGE)?;
    if !cursor.at_end() {
        return Err(USAGE);
    }
    Ok(Request::Login {
        username,
        password: Secret::new(password),
    })
}

#[cfg(test)]
mod tests {
    use postern_types::Secret;

    use super::USAGE;
    use crate::cmd::tests::{parse, parse_raw, tag};
    use crate::cmd::{Command, ParseError, RawPart, Request};

    fn login(user: &str, password: &str) -> Result<Command, ParseError> {
        Ok(Command {
            tag: tag("a"),
            request: Request::Login {
                username: user.to_owned(),
                password: Secret::new(password.to_owned()),
            },
        })
    }

    #[test]
    fn known_answers() {
        assert_eq!(parse("a LOGIN alice secret"), login("alice", "secret"));
        assert_eq!(
            parse(r#"a login "alice@example.org" "p w\"d""#),
            login("alice@example.org", r#"p w"d"#)
        );
        assert_eq!(parse(r#"a LOGIN "jöran" """#), login("jöran", ""));
        let bad = Err(ParseError::Tagged(tag("a"), USAGE));
        for line in [
            "a LOGIN",
            "a LOGIN alice",
            "a LOGIN alice  pw",
            "a LOGIN alice pw x",
            "a LOGIN (a) b",
        ] {
            assert_eq!(parse(line), bad, "{line}");
        }
    }

    #[test]
    fn literals() {
        let text = |s: &str| RawPart::Text(s.as_bytes().to_vec());
        let literal = |s: &str| RawPart::Literal(s.as_bytes().to_vec());
        let raw = vec![
            text("a LOGIN "),
            literal("alice"),
            text(" "),
            literal("pass word"),
            text(""),
        ];
        assert_eq!(parse_raw(raw), login("alice", "pass word"));
        let raw = vec![text("a LOGIN alice "), literal("pw"), text("")];
        assert_eq!(parse_raw(raw), login("alice", "pw"));
    }

    #[test]
    fn the_password_never_prints() {
        assert!(!format!("{:?}", parse("a LOGIN alice hunter2")).contains("hunter2"));
    }
}
