//! USER, PASS and APOP (RFC 1939 §7).

use postern_types::Secret;

use super::{Request, SyntaxError};

/// `USER name`: the name is the rest of the line, non-empty.
pub(super) fn user(args: Option<&str>) -> Result<Request, SyntaxError> {
    match args {
        Some(name) if !name.trim().is_empty() => Ok(Request::User(name.to_owned())),
        _ => Err(SyntaxError::Arguments("Syntax: USER name")),
    }
}

/// `PASS string`: everything after `PASS `, spaces included (§7: "the
/// server may treat spaces in the argument as part of the password").
pub(super) fn pass(args: Option<&str>) -> Result<Request, SyntaxError> {
    let password = args.ok_or(SyntaxError::Arguments("Syntax: PASS password"))?;
    Ok(Request::Pass(Secret::new(password.to_owned())))
}

/// `APOP name digest`: only recognised, so that it can be refused.
pub(super) const fn apop(_args: Option<&str>) -> Result<Request, SyntaxError> {
    Ok(Request::Apop)
}

#[cfg(test)]
mod tests {
    use postern_types::Secret;

    use crate::cmd::{parse, Request, SyntaxError};

    #[test]
    fn known_answers() {
        assert_eq!(parse(b"USER alice"), Ok(Request::User("alice".into())));
        assert_eq!(
            parse(b"user alice@example.org"),
            Ok(Request::User("alice@example.org".into()))
        );
        assert_eq!(
            parse(b"USER"),
            Err(SyntaxError::Arguments("Syntax: USER name"))
        );
        assert_eq!(
            parse(b"USER  "),
            Err(SyntaxError::Arguments("Syntax: USER name"))
        );
        let pass = |p: &str| Ok(Request::Pass(Secret::new(p.to_owned())));
        assert_eq!(parse(b"PASS secret"), pass("secret"));
        assert_eq!(parse(b"PASS two words "), pass("two words "));
        assert_eq!(parse(b"PASS "), pass(""));
        assert_eq!(
            parse(b"PASS"),
            Err(SyntaxError::Arguments("Syntax: PASS password"))
        );
        assert_eq!(
            parse(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
            Ok(Request::Apop)
        );
    }

    #[test]
    fn the_password_never_prints() {
        let request = parse(b"PASS hunter2").unwrap();
        assert!(!format!("{request:?}").contains("hunter2"));
    }
}
