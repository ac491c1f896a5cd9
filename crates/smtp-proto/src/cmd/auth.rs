//! AUTH (RFC 4954 §4).

use postern_types::Secret;

use super::SyntaxError;
use crate::base64;

/// `AUTH mechanism [SP initial-response]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The SASL mechanism, upper-cased (RFC 4422 §3.1 names are
    /// case-insensitive here).
    pub mechanism: String,
    /// The decoded initial response; `Some` of nothing for `=` (an empty
    /// response, RFC 4954 §4). It may hold a password (PLAIN), hence
    /// [`Secret`].
    pub initial_response: Option<Secret<Vec<u8>>>,
}

/// The SASL mechanisms the core offers (RFC 4954 §3: the EHLO `AUTH`
/// keyword lists them). A mechanism that was not offered never reaches the
/// session: the core answers `504 5.5.4` itself.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    /// PLAIN (RFC 4616).
    Plain,
    /// LOGIN (draft-murchison-sasl-login): a user name and a password in
    /// two challenges.
    Login,
    /// EXTERNAL (RFC 4422 Appendix A): the verified TLS client certificate;
    /// offered only when `Options::auth_external` is set.
    External,
}

impl AuthMechanism {
    /// The registered name (upper case).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
            Self::External => "EXTERNAL",
        }
    }

    /// The mechanism called `name` (already upper-cased), if we have it.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [Self::Plain, Self::Login, Self::External]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

const USAGE: SyntaxError = SyntaxError::usage("Syntax: AUTH mechanism [initial-response]");

/// Parses the arguments: the mechanism is `1*20(ALPHA / DIGIT / "-" / "_")`
/// (RFC 4422 §3.1), the response base64 (RFC 4648 §4) or `=`, decoded
/// here: an undecodable one is `501 5.5.2` (RFC 4954 §4).
pub(super) fn parse(args: Option<&str>) -> Result<Auth, SyntaxError> {
    let args = args.ok_or(USAGE)?;
    let (mechanism, response) = match args.split_once(' ') {
        Some((mechanism, response)) => (mechanism, Some(response)),
        None => (args, None),
    };
    if !is_mechanism(mechanism) {
        return Err(USAGE);
    }
    let initial_response = match response {
        Some(response) => Some(decode(response)?),
        None => None,
    };
    Ok(Auth {
        mechanism: mechanism.to_ascii_uppercase(),
        initial_response,
    })
}

/// A response: base64, or `=` for an empty initial response (RFC 4954 §4).
fn decode(response: &str) -> Result<Secret<Vec<u8>>, SyntaxError> {
    if response == "=" {
        return Ok(Secret::new(Vec::new()));
    }
    if response.is_empty() {
        return Err(SyntaxError::Base64);
    }
    base64::decode(response.as_bytes())
        .map(Secret::new)
        .ok_or(SyntaxError::Base64)
}

fn is_mechanism(s: &str) -> bool {
    (1..=20).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{parse as parse_line, Request};

    fn auth(mechanism: &str, response: Option<&[u8]>) -> Result<Request, SyntaxError> {
        Ok(Request::Auth(Auth {
            mechanism: mechanism.to_owned(),
            initial_response: response.map(|r| Secret::new(r.to_vec())),
        }))
    }

    #[test]
    fn known_answers() {
        assert_eq!(parse_line(b"AUTH PLAIN"), auth("PLAIN", None));
        assert_eq!(
            parse_line(b"auth plain AGFsaWNlAHNlY3JldA=="),
            auth("PLAIN", Some(b"\0alice\0secret"))
        );
        assert_eq!(parse_line(b"AUTH PLAIN ="), auth("PLAIN", Some(b"")));
        assert_eq!(
            parse_line(b"AUTH SCRAM-SHA-256"),
            auth("SCRAM-SHA-256", None)
        );
        for bad in [&b"AUTH"[..], b"AUTH PL@IN", b"AUTH ABCDEFGHIJKLMNOPQRSTU"] {
            assert_eq!(parse_line(bad), Err(USAGE), "{bad:?}");
        }
        for bad in [
            &b"AUTH PLAIN a b"[..],
            b"AUTH PLAIN a=b",
            b"AUTH PLAIN abc===",
            b"AUTH PLAIN a",
        ] {
            assert_eq!(parse_line(bad), Err(SyntaxError::Base64), "{bad:?}");
        }
    }

    #[test]
    fn mechanisms_by_name() {
        assert_eq!(
            AuthMechanism::from_name("LOGIN"),
            Some(AuthMechanism::Login)
        );
        assert_eq!(AuthMechanism::from_name("CRAM-MD5"), None);
        assert_eq!(AuthMechanism::External.name(), "EXTERNAL");
    }

    #[test]
    fn the_response_never_prints() {
        let command = parse_line(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==").expect("parsed");
        assert!(!format!("{command:?}").contains("alice"));
    }
}
