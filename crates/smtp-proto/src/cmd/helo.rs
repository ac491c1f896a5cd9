//! EHLO and HELO (RFC 5321 §4.1.1.1).

use super::{path, SyntaxError};

/// The name a client gives for itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeloName {
    /// A host name. Checked leniently: letters, digits, `-`, `_` and
    /// non-ASCII in dot-separated labels, because many clients (Windows hosts
    /// with `_` in their names) send names RFC 5321 §4.1.2 would refuse and
    /// the name proves nothing anyway.
    Domain(String),
    /// An address literal such as `[192.0.2.1]` or `[IPv6:2001:db8::1]`
    /// (RFC 5321 §4.1.3).
    AddressLiteral(String),
}

impl HeloName {
    /// The name as the client wrote it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Domain(name) | Self::AddressLiteral(name) => name,
        }
    }
}

/// `EHLO SP ( Domain / address-literal )`: exactly one argument.
pub(super) fn parse(args: Option<&str>, usage: &'static str) -> Result<HeloName, SyntaxError> {
    let name = args.ok_or_else(|| SyntaxError::usage(usage))?;
    if path::is_address_literal(name) {
        Ok(HeloName::AddressLiteral(name.to_owned()))
    } else if is_lenient_domain(name) {
        Ok(HeloName::Domain(name.to_owned()))
    } else {
        Err(SyntaxError::usage(usage))
    }
}

fn is_lenient_domain(name: &str) -> bool {
    name.len() <= 255
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii())
        })
}

#[cfg(test)]
mod tests {
    use super::HeloName;
    use crate::cmd::{parse, Request, SyntaxError};

    fn ehlo(line: &str) -> Result<HeloName, SyntaxError> {
        match parse(line.as_bytes())? {
            Request::Ehlo(name) | Request::Helo(name) => Ok(name),
            other => panic!("not EHLO/HELO: {other:?}"),
        }
    }

    #[test]
    fn known_answers() {
        let domain = |s: &str| Ok(HeloName::Domain(s.to_owned()));
        let literal = |s: &str| Ok(HeloName::AddressLiteral(s.to_owned()));
        let usage = Err(SyntaxError::usage("Syntax: EHLO hostname"));
        assert_eq!(
            ehlo("EHLO client.example.net"),
            domain("client.example.net")
        );
        assert_eq!(ehlo("ehlo localhost"), domain("localhost"));
        assert_eq!(ehlo("EHLO my_pc"), domain("my_pc"));
        assert_eq!(ehlo("EHLO bücher.example"), domain("bücher.example"));
        assert_eq!(ehlo("EHLO [192.0.2.1]"), literal("[192.0.2.1]"));
        assert_eq!(
            ehlo("EHLO [IPv6:2001:db8::1]"),
            literal("[IPv6:2001:db8::1]")
        );
        assert_eq!(ehlo("HELO x"), domain("x"));
        assert_eq!(ehlo("EHLO"), usage);
        assert_eq!(ehlo("EHLO two words"), usage);
        assert_eq!(ehlo("EHLO a..b"), usage);
        assert_eq!(ehlo("EHLO <x>"), usage);
        assert_eq!(ehlo("EHLO [999.1.1.1]"), usage);
    }

    #[test]
    fn as_str_gives_the_wire_form() {
        assert_eq!(ehlo("EHLO [192.0.2.1]").unwrap().as_str(), "[192.0.2.1]");
    }
}
