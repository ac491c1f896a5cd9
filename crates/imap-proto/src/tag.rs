//! The command tag (RFC 9051 §2.2.1, §9 `tag`).

use std::fmt;

/// A validated tag: `1*<any ASTRING-CHAR except "+">`. Only a valid tag
/// is ever echoed back, so a response can never be forged through it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl Tag {
    /// Validates a tag.
    pub fn new(tag: &str) -> Option<Self> {
        let valid = !tag.is_empty() && tag.bytes().all(|b| is_astring_char(b) && b != b'+');
        valid.then(|| Self(tag.to_owned()))
    }

    /// The tag as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ATOM-CHAR`: any CHAR except `atom-specials` ( `(` `)` `{` SP CTL `%`
/// `*` `"` `\` `]` ) (RFC 9051 §9).
pub(crate) const fn is_atom_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`.
pub(crate) const fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        for good in ["a", "A001", "x.1", "tag]", "~!#$&'-"] {
            assert_eq!(Tag::new(good).map(|t| t.to_string()), Some(good.to_owned()));
        }
        for bad in [
            "", "a+", "+", "a b", "*", "a%", "(a)", "a{", "a\"", "a\\", "a\r", "é", "a\0",
        ] {
            assert_eq!(Tag::new(bad), None, "{bad:?}");
        }
    }
}
