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

    /// `string = quoted / literal`, as octets.
    pub(crate) fn string_bytes(&mut self) -> Result<Vec<u8>, Invalid> {
        if self.text().starts_with('"') {
            return self.quoted().map(String::into_bytes);
        }
        self.literal().map(<[u8]>::to_vec)
    }

    /// `string`, as UTF-8 text (search keys, header names).
    pub(crate) fn string(&mut self) -> Result<String, Invalid> {
        String::from_utf8(self.string_bytes()?).map_err(|_| ())
    }

    /// The next character of the current text, if any.
    pub(crate) fn peek(&self) -> Option<char> {
        self.text().chars().next()
    }

    /// Whether a literal starts here.
    pub(crate) fn at_literal(&self) -> bool {
        self.text().is_empty() && matches!(self.parts.get(self.index + 1), Some(Part::Literal(_)))
    }

    /// Consumes `c` if it comes next.
    pub(crate) fn eat(&mut self, c: char) -> bool {
        self.expect(c).is_ok()
    }

    /// `c`, or an error.
    pub(crate) fn char(&mut self, c: char) -> Result<(), Invalid> {
        self.expect(c)
    }

    /// Consumes `word` (ASCII, case-insensitively) if it comes next as a
    /// whole atom.
    pub(crate) fn eat_word(&mut self, word: &str) -> bool {
        let text = self.text();
        let Some(head) = text.get(..word.len()) else {
            return false;
        };
        let ends = text[word.len()..]
            .bytes()
            .next()
            .is_none_or(|b| !is_atom_char(b));
        if head.eq_ignore_ascii_case(word) && ends {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// An atom, upper-cased (command words, item names).
    pub(crate) fn word(&mut self) -> Result<String, Invalid> {
        self.atom(false).map(str::to_ascii_uppercase)
    }

    /// `number` (RFC 9051 §9): up to 32 bits.
    pub(crate) fn number(&mut self) -> Result<u32, Invalid> {
        self.number64()?.try_into().map_err(|_| ())
    }

    /// `nz-number`.
    pub(crate) fn nz_number(&mut self) -> Result<u32, Invalid> {
        self.number()
            .and_then(|n| if n == 0 { Err(()) } else { Ok(n) })
    }

    /// `number64` (RFC 9051 §9): up to 63 bits.
    pub(crate) fn number64(&mut self) -> Result<u64, Invalid> {
        let text = self.text();
        let len = text.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 || len > 19 {
            return Err(());
        }
        let n: u64 = text[..len].parse().map_err(|_| ())?;
        if n > i64::MAX as u64 {
            return Err(());
        }
        self.pos += len;
        Ok(n)
    }

    /// Raw text while `keep` holds (sequence sets, patterns).
    pub(crate) fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let text = self.text();
        let len = text.bytes().take_while(|&b| keep(b)).count();
        self.pos += len;
        &text[..len]
    }

    /// `flag`: `\Name` or a keyword atom (RFC 9051 §9).
    pub(crate) fn flag(&mut self) -> Result<String, Invalid> {
        let backslash = self.eat('\\');
        let atom = self.atom(false)?;
        Ok(if backslash {
            format!("\\{atom}")
        } else {
            atom.to_owned()
        })
    }

    /// `"(" [flag *(SP flag)] ")"`.
    pub(crate) fn flag_list(&mut self) -> Result<Vec<String>, Invalid> {
        self.char('(')?;
        let mut flags = Vec::new();
        if self.eat(')') {
            return Ok(flags);
        }
        loop {
            flags.push(self.flag()?);
            if self.eat(')') {
                return Ok(flags);
            }
            self.sp()?;
        }
    }

    /// A parenthesised list of items read by `item`, space-separated;
    /// `empty_ok` allows `()`.
    pub(crate) fn list<T>(
        &mut self,
        empty_ok: bool,
        mut item: impl FnMut(&mut Self) -> Result<T, Invalid>,
    ) -> Result<Vec<T>, Invalid> {
        self.char('(')?;
        let mut items = Vec::new();
        if self.eat(')') {
            return if empty_ok { Ok(items) } else { Err(()) };
        }
        loop {
            items.push(item(self)?);
            if self.eat(')') {
                return Ok(items);
            }
            self.sp()?;
        }
    }

    /// Fails unless everything was read.
    pub(crate) fn end(&self) -> Result<(), Invalid> {
        if self.at_end() {
            Ok(())
        } else {
            Err(())
        }
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
