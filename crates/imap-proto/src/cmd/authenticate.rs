//! AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959).

use postern_types::Secret;

use super::Request;
use crate::syntax::{Cursor, Part};

const USAGE: &str = "Syntax: AUTHENTICATE mechanism [initial-response]";

/// `AUTHENTICATE SP auth-type [SP (base64 / "=")]`.
pub(super) fn parse(rest: &[Part]) -> Result<Request, &'static str> {
    let mut cursor = Cursor::new(rest);
    let mechanism = cursor.atom(false).map_err(|()| USAGE)?;
    let initial_response = if cursor.at_end() {
        None
    } else {
        cursor.sp().map_err(|()| USAGE)?;
        let response = cursor.atom(false).map_err(|()| USAGE)?;
        Some(initial_response(response)?)
    };
    if !cursor.at_end() || !is_mechanism(mechanism) {
        return Err(USAGE);
    }
    Ok(Request::Authenticate {
        mechanism: mechanism.to_ascii_uppercase(),
        initial_response,
    })
}

/// base64 (RFC 4648 §4) with at most two `=` of padding, or `=` alone for
/// an empty response (RFC 4959 §3).
fn initial_response(response: &str) -> Result<Secret<String>, &'static str> {
    if response == "=" {
        return Ok(Secret::new(String::new()));
    }
    let body = response.trim_end_matches('=');
    let valid = response.len() - body.len() <= 2
        && !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    valid.then(|| Secret::new(response.to_owned())).ok_or(USAGE)
}

/// SASL mechanism names: `1*20(ALPHA / DIGIT / "-" / "_")` (RFC 4422 §3.1).
fn is_mechanism(s: &str) -> bool {
    (1..=20).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use postern_types::Secret;

    use super::USAGE;
    use crate::cmd::tests::{parse, tag};
    use crate::cmd::{Command, ParseError, Request};

    fn auth(mechanism: &str, response: Option<&str>) -> Result<Command, ParseError> {
        Ok(Command {
            tag: tag("a"),
            request: Request::Authenticate {
                mechanism: mechanism.to_owned(),
                initial_response: response.map(|r| Secret::new(r.to_owned())),
            },
        })
    }

    #[test]
    fn known_answers() {
        assert_eq!(parse("a AUTHENTICATE PLAIN"), auth("PLAIN", None));
        assert_eq!(
            parse("a authenticate plain AGFsaWNlAHNlY3JldA=="),
            auth("PLAIN", Some("AGFsaWNlAHNlY3JldA=="))
        );
        assert_eq!(parse("a AUTHENTICATE PLAIN ="), auth("PLAIN", Some("")));
        let bad = Err(ParseError::Tagged(tag("a"), USAGE));
        for line in [
            "a AUTHENTICATE",
            "a AUTHENTICATE PLAIN a b",
            "a AUTHENTICATE PLAIN ab===",
            "a AUTHENTICATE PLAIN \"x\"",
            "a AUTHENTICATE P.LAIN",
            "a AUTHENTICATE PLAIN ",
        ] {
            assert_eq!(parse(line), bad, "{line}");
        }
    }
}
