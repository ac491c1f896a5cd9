//! The argument syntax shared by commands (RFC 9051 §4, §9): atoms,
//! quoted strings, literals and astrings, read through a [`Cursor`] over a
//! command's [`Part`]s.

use crate::tag::{is_astring_char, is_atom_char};

/// A piece of a command: text from a line, or the octets of a literal.
/// A command is `Text (Literal Text)*`: every literal is announced at the
/// end of a line and followed by more of the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Line text, without the literal announcement or line ending.
    Text(String),
    /// Literal octets (RFC 9051 §4.3).
    Literal(Vec<u8>),
}

/// Why an argument could not be read.
pub(crate) type Invalid = ();

/// A reading position in a command's parts.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    parts: &'a [Part],
    index: usize,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) const fn new(parts: &'a [Part]) -> Self {
        Self {
            parts,
            index: 0,
            pos: 0,
        }
    }

    /// The unread text of the current part ("" at a literal).
    fn text(&self) -> &'a str {
        match self.parts.get(self.index) {
            Some(Part::Text(text)) => &text[self.pos..],
            _ => "",
        }
    }

    /// Nothing left at all.
    pub(crate) fn at_end(&self) -> bool {
        self.text().is_empty() && self.index + 1 >= self.parts.len()
    }

    /// One space.
    pub(crate) fn sp(&mut self) -> Result<(), Invalid> {
        self.expect(' ')
    }

    fn expect(&mut self, c: char) -> Result<(), Invalid> {
        if self.text().starts_with(c) {
            self.pos += c.len_utf8();
            Ok(())
        } else {
            Err(())
        }
    }

    /// `1*ATOM-CHAR` (`ASTRING-CHAR` when `astring` is set).
    pub(crate) fn atom(&mut self, astring: bool) -> Result<&'a str, Invalid> {
        let text = self.text();
        let allowed = |b: u8| {
            if astring {
                is_astring_char(b)
            } else {
                is_atom_char(b)
            }
        };
        let len = text.bytes().take_while(|&b| allowed(b)).count();
        if len == 0 {
            return Err(());
        }
        self.pos += len;
        Ok(&text[..len])
    }

    /// `DQUOTE *QUOTED-CHAR DQUOTE`: `\` escapes only `"` and `\`.
    pub(crate) fn quoted(&mut self) -> Result<String, Invalid> {
        let text = self.text();
        let mut chars = text.strip_prefix('"').ok_or(())?.char_indices();
        let mut value = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 2;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, q @ ('"' | '\\'))) => value.push(q),
                    _ => return Err(()),
                },
                c => value.push(c),
            }
        }
        Err(())
    }

    /// A literal, which starts where the current text part ends.
    pub(crate) fn literal(&mut self) -> Result<&'a [u8], Invalid> {
        if !self.text().is_empty() {
            return Err(());
        }
        let Some(Part::Literal(bytes)) = self.parts.get(self.index + 1) else {
            return Err(());
        };
        self.index += 2;
        self.pos = 0;
        Ok(bytes)
    }

    /// `astring = 1*ASTRING-CHAR / string`, as UTF-8 text (RFC 9051 allows
    /// UTF-8 in quoted strings; a literal must be UTF-8 to be a name).
    pub(crate) fn astring(&mut self) -> Result<String, Invalid> {
        if self.text().starts_with('"') {
            return self.quoted();
        }
        if self.text().is_empty() {
            let bytes = self.literal()?;
            return String::from_utf8(bytes.to_vec()).map_err(|_| ());
        }
        self.atom(true).map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Part {
        Part::Text(s.to_owned())
    }

    #[test]
    fn astrings() {
        let parts = [text(r#"alice "p a\"ss\\" x]y"#)];
        let mut c = Cursor::new(&parts);
        assert_eq!(c.astring(), Ok("alice".into()));
        c.sp().unwrap();
        assert_eq!(c.astring(), Ok(r#"p a"ss\"#.into()));
        c.sp().unwrap();
        assert_eq!(c.astring(), Ok("x]y".into()));
        assert!(c.at_end());
    }

    #[test]
    fn literals_sit_between_texts() {
        let parts = [
            text(""),
            Part::Literal(b"al ice".to_vec()),
            text(" "),
            Part::Literal(b"pw".to_vec()),
            text(""),
        ];
        let mut c = Cursor::new(&parts);
        assert_eq!(c.astring(), Ok("al ice".into()));
        c.sp().unwrap();
        assert_eq!(c.astring(), Ok("pw".into()));
        assert!(c.at_end());
    }

    #[test]
    fn invalid_astrings() {
        for bad in [r#""open"#, r#""bad \n escape""#, "(", "{", "", "%"] {
            let parts = [text(bad)];
            assert_eq!(Cursor::new(&parts).astring(), Err(()), "{bad:?}");
        }
        let parts = [text(""), Part::Literal(vec![0xff]), text("")];
        assert_eq!(Cursor::new(&parts).astring(), Err(()));
    }

    #[test]
    fn atoms_stop_at_specials() {
        let parts = [text("PLAIN=x ]")];
        let mut c = Cursor::new(&parts);
        assert_eq!(c.atom(false), Ok("PLAIN=x"));
        assert_eq!(c.sp(), Ok(()));
        assert_eq!(c.atom(false), Err(()));
        assert!(!c.at_end());
    }
}
