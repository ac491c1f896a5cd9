//! The little IMAP syntax (RFC 9051 §9) the pre-login machine needs:
//! tags, atoms, quoted strings and literals.

/// `{n}` or `{n+}` at a line's end (RFC 9051 §4.3, RFC 7888).
pub fn literal_marker(line: &[u8]) -> Option<(usize, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let (digits, sync) = match digits.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (digits, true),
    };
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, sync))
}

/// Just enough of RFC 9051 §9's grammar for the commands answered
/// before the login.
pub struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// `tag = 1*<any ASTRING-CHAR except "+">`
    pub fn tag(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| astring_char(c) && c != b'+') {
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.b[start..self.pos]).into_owned())
    }

    pub fn sp(&mut self) -> Option<()> {
        (self.peek() == Some(b' ')).then(|| self.pos += 1)
    }

    pub fn atom(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(astring_char) {
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.b[start..self.pos]).into_owned())
    }

    /// The command's end: CRLF (or a bare LF, which clients send).
    pub fn end(&self) -> bool {
        matches!(&self.b[self.pos..], b"\r\n" | b"\n")
    }

    /// `astring = 1*ASTRING-CHAR / string`
    pub fn astring(&mut self) -> Option<Vec<u8>> {
        match self.peek()? {
            b'"' => self.quoted(),
            b'{' => self.literal(),
            _ => self.atom().map(String::into_bytes),
        }
    }

    /// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, `\` escaping `"` and `\`.
    fn quoted(&mut self) -> Option<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.pos += 1;
            match c {
                b'"' => return Some(out),
                b'\\' => {
                    let e = self.peek().filter(|e| matches!(e, b'"' | b'\\'))?;
                    self.pos += 1;
                    out.push(e);
                }
                b'\r' | b'\n' | 0 => return None,
                c => out.push(c),
            }
        }
    }

    /// `literal = "{" number ["+"] "}" CRLF *CHAR8` (the framing already
    /// checked that the octets are there).
    fn literal(&mut self) -> Option<Vec<u8>> {
        let close = self.b[self.pos..].iter().position(|&b| b == b'}')? + self.pos;
        let (size, _) = literal_marker(&self.b[self.pos..=close])?;
        self.pos = close + 1;
        if self.b[self.pos..].starts_with(b"\r\n") {
            self.pos += 2;
        } else if self.peek() == Some(b'\n') {
            self.pos += 1;
        } else {
            return None;
        }
        let data = self.b.get(self.pos..self.pos + size)?.to_vec();
        if data.contains(&0) {
            return None;
        }
        self.pos += size;
        Some(data)
    }
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials` (RFC 9051 §9).
fn astring_char(c: u8) -> bool {
    c > 0x20 && c < 0x7f && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_markers() {
        assert_eq!(literal_marker(b"a LOGIN {5}"), Some((5, true)));
        assert_eq!(literal_marker(b"a LOGIN {5+}"), Some((5, false)));
        assert_eq!(literal_marker(b"a LOGIN {}"), None);
        assert_eq!(literal_marker(b"a LOGIN {x}"), None);
        assert_eq!(literal_marker(b"a LOGIN \"}\""), None);
    }

    #[test]
    fn astrings() {
        let mut p = Parser::new(b"atom \"q\\\"t\" {2}\r\nab\r\n");
        assert_eq!(p.astring(), Some(b"atom".to_vec()));
        p.sp();
        assert_eq!(p.astring(), Some(b"q\"t".to_vec()));
        p.sp();
        assert_eq!(p.astring(), Some(b"ab".to_vec()));
        assert!(p.end());
        assert_eq!(Parser::new(b"\"a\rb\"").astring(), None);
    }
}
