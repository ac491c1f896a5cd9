//! Untagged response data built by the session (RFC 9051 §7.2-7.5):
//! numbers, atoms, strings (quoted or literal, chosen here so that no
//! octet from a message or a name can break the line structure), lists.

use std::fmt::Display;

/// One untagged response line, without its leading `* ` and final CRLF,
/// literals included. Handed to [`Server::data`](crate::Server::data).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Data {
    buf: Vec<u8>,
}

/// Quoted strings longer than this go as literals: shorter lines for the
/// client's parser, and no escaping cost for bodies.
const MAX_QUOTED: usize = 1024;

impl Data {
    pub fn new() -> Self {
        Self::default()
    }

    /// Protocol text written as is: atoms, keywords, flags the store
    /// validated. A control character (which would forge a line) is
    /// replaced by a space.
    pub fn raw(&mut self, text: &str) -> &mut Self {
        self.buf.extend(
            text.bytes()
                .map(|b| if b.is_ascii_control() { b' ' } else { b }),
        );
        self
    }

    /// A number.
    pub fn num(&mut self, n: impl Display) -> &mut Self {
        self.raw(&n.to_string())
    }

    /// One space.
    pub fn sp(&mut self) -> &mut Self {
        self.buf.push(b' ');
        self
    }

    /// `(`.
    pub fn open(&mut self) -> &mut Self {
        self.buf.push(b'(');
        self
    }

    /// `)`.
    pub fn close(&mut self) -> &mut Self {
        self.buf.push(b')');
        self
    }

    /// `NIL`.
    pub fn nil(&mut self) -> &mut Self {
        self.raw("NIL")
    }

    /// A string: quoted when it is short printable ASCII, a literal
    /// otherwise (RFC 9051 §4.3).
    pub fn string(&mut self, bytes: &[u8]) -> &mut Self {
        let quotable =
            bytes.len() <= MAX_QUOTED && bytes.iter().all(|&b| (0x20..0x7f).contains(&b));
        if !quotable {
            return self.literal(bytes);
        }
        self.buf.push(b'"');
        for &b in bytes {
            if b == b'"' || b == b'\\' {
                self.buf.push(b'\\');
            }
            self.buf.push(b);
        }
        self.buf.push(b'"');
        self
    }

    /// A string or `NIL`.
    pub fn nstring(&mut self, bytes: Option<&[u8]>) -> &mut Self {
        match bytes {
            Some(b) => self.string(b),
            None => self.nil(),
        }
    }

    /// `{n}CRLF` and the octets.
    pub fn literal(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf
            .extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    /// `~{n}CRLF` and the octets: a literal8 (RFC 3516 §4.2), for BINARY.
    pub fn literal8(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.push(b'~');
        self.literal(bytes)
    }

    /// A mailbox name: UTF-8 when the client enabled it, modified UTF-7
    /// otherwise (RFC 9051 §5.1, RFC 3501 §5.1.3).
    pub fn mailbox(&mut self, name: &str, utf8: bool) -> &mut Self {
        if utf8 {
            // Non-ASCII UTF-8 is fine in a quoted string once enabled.
            if name.len() <= MAX_QUOTED && !name.contains(|c: char| c.is_control()) {
                self.buf.push(b'"');
                for c in name.chars() {
                    if c == '"' || c == '\\' {
                        self.buf.push(b'\\');
                    }
                    let mut tmp = [0; 4];
                    self.buf
                        .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                self.buf.push(b'"');
                return self;
            }
            return self.literal(name.as_bytes());
        }
        self.string(crate::mutf7::encode(name).as_bytes())
    }

    /// The bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let mut d = Data::new();
        d.num(1)
            .sp()
            .raw("FETCH")
            .sp()
            .open()
            .raw("X")
            .sp()
            .string(b"a\"b")
            .sp();
        d.string(b"l\r\nx")
            .sp()
            .nstring(None)
            .sp()
            .mailbox("Entwürfe", false)
            .sp();
        d.mailbox("Entwürfe", true).sp().raw("e\r\x0bil").close();
        assert_eq!(
            d.as_bytes(),
            "1 FETCH (X \"a\\\"b\" {4}\r\nl\r\nx NIL \"Entw&APw-rfe\" \"Entwürfe\" e  il)"
                .as_bytes()
        );
    }
}
