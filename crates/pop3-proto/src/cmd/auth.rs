//! AUTH (RFC 5034 §4).

use postern_types::Secret;

use super::{Request, SyntaxError};

const USAGE: SyntaxError = SyntaxError::Arguments("Syntax: AUTH mechanism [initial-response]");

/// `AUTH mechanism [SP initial-response]`: the mechanism is
/// `1*20(ALPHA / DIGIT / "-" / "_")` (RFC 4422 §3.1), the response base64
/// (RFC 4648 §4) or `=` for an empty one (RFC 5034 §4).
pub(super) fn parse(args: Option<&str>) -> Result<Request, SyntaxError> {
    let args = args.ok_or(USAGE)?;
    let (mechanism, response) = match args.split_once(' ') {
        Some((mechanism, response)) => (mechanism, Some(response)),
        None => (args, None),
    };
    if !is_mechanism(mechanism) || !response.is_none_or(is_response) {
        return Err(USAGE);
    }
    let initial_response = response.map(|r| Secret::new(if r == "=" { "" } else { r }.to_owned()));
    Ok(Request::Auth {
        mechanism: mechanism.to_ascii_uppercase(),
        initial_response,
    })
}

fn is_mechanism(s: &str) -> bool {
    (1..=20).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Base64 characters with at most two `=` of padding at the end, or `=`.
fn is_response(s: &str) -> bool {
    if s == "=" {
        return true;
    }
    let body = s.trim_end_matches('=');
    !s.is_empty()
        && s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
mod tests {
    use postern_types::Secret;

    use super::USAGE;
    use crate::cmd::{parse, Request, SyntaxError};

    fn auth(mechanism: &str, response: Option<&str>) -> Result<Request, SyntaxError> {
        Ok(Request::Auth {
            mechanism: mechanism.to_owned(),
            initial_response: response.map(|r| Secret::new(r.to_owned())),
        })
    }

    #[test]
    fn known_answers() {
        assert_eq!(parse(b"AUTH PLAIN"), auth("PLAIN", None));
        assert_eq!(
            parse(b"auth plain AGJvYgBzZWNyZXQ="),
            auth("PLAIN", Some("AGJvYgBzZWNyZXQ="))
        );
        assert_eq!(parse(b"AUTH PLAIN ="), auth("PLAIN", Some("")));
        for bad in [
            &b"AUTH"[..],
            b"AUTH PLAIN a b",
            b"AUTH PLAIN ====",
            b"AUTH P!AIN",
            b"AUTH ",
        ] {
            assert_eq!(parse(bad), Err(USAGE), "{bad:?}");
        }
    }
}
