//! AUTH (RFC 4954 §4).

use postern_types::Secret;

use super::SyntaxError;

/// `AUTH mechanism [SP initial-response]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The SASL mechanism, upper-cased (RFC 4422 §3.1 names are
    /// case-insensitive here).
    pub mechanism: String,
    /// The base64 initial response, `Some("")` for `=` (an empty response,
    /// RFC 4954 §4). It may hold a password (PLAIN), hence [`Secret`].
    pub initial_response: Option<Secret<String>>,
}

const USAGE: SyntaxError = SyntaxError::usage("Syntax: AUTH mechanism [initial-response]");

/// Parses the arguments: the mechanism is `1*20(ALPHA / DIGIT / "-" / "_")`
/// (RFC 4422 §3.1), the response base64 (RFC 4648 §4) or `=`.
pub(super) fn parse(args: Option<&str>) -> Result<Auth, SyntaxError> {
    let args = args.ok_or(USAGE)?;
    let (mechanism, response) = match args.split_once(' ') {
        Some((mechanism, response)) => (mechanism, Some(response)),
        None => (args, None),
    };
    if !is_mechanism(mechanism) || !response.is_none_or(is_response) {
        return Err(USAGE);
    }
    Ok(Auth {
        mechanism: mechanism.to_ascii_uppercase(),
        initial_response: response.map(initial_response),
    })
}

fn initial_response(response: &str) -> Secret<String> {
    let value = if response == "=" { "" } else { response };
    Secret::new(value.to_owned())
}

fn is_mechanism(s: &str) -> bool {
    (1..=20).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Base64 characters with padding only at the end, or `=` alone.
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
    use super::*;
    use crate::cmd::{parse as parse_line, Command, Request};

    fn auth(mechanism: &str, response: Option<&str>) -> Result<Request, SyntaxError> {
        Ok(Request::Session(Command::Auth(Auth {
            mechanism: mechanism.to_owned(),
            initial_response: response.map(|r| Secret::new(r.to_owned())),
        })))
    }

    #[test]
    fn known_answers() {
        assert_eq!(parse_line(b"AUTH PLAIN"), auth("PLAIN", None));
        assert_eq!(
            parse_line(b"auth plain AGFsaWNlAHNlY3JldA=="),
            auth("PLAIN", Some("AGFsaWNlAHNlY3JldA=="))
        );
        assert_eq!(parse_line(b"AUTH PLAIN ="), auth("PLAIN", Some("")));
        assert_eq!(
            parse_line(b"AUTH SCRAM-SHA-256"),
            auth("SCRAM-SHA-256", None)
        );
        for bad in [
            &b"AUTH"[..],
            b"AUTH PLAIN a b",
            b"AUTH PLAIN a=b",
            b"AUTH PLAIN abc===",
            b"AUTH PL@IN",
            b"AUTH ABCDEFGHIJKLMNOPQRSTU",
        ] {
            assert_eq!(parse_line(bad), Err(USAGE), "{bad:?}");
        }
    }

    #[test]
    fn the_response_never_prints() {
        let Ok(Request::Session(command)) = parse_line(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==") else {
            panic!("not parsed");
        };
        assert!(!format!("{command:?}").contains("AGFs"));
    }
}
