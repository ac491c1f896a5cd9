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

/// The length of UID set after which a `VANISHED` response ends and the
/// next begins ([`Data::vanished`]).
const MAX_SET_TEXT: usize = 8000;

/// Consecutive runs of ascending numbers, as `(first, last)`.
fn runs(sorted: &[u32]) -> impl Iterator<Item = (u32, u32)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let first = *sorted.get(i)?;
        let mut last = first;
        i += 1;
        while sorted
            .get(i)
            .is_some_and(|&n| Some(n) == last.checked_add(1))
        {
            last = sorted[i];
            i += 1;
        }
        Some((first, last))
    })
}

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

    /// `VANISHED uid-set`, or `VANISHED (EARLIER) uid-set` (RFC 7162
    /// §3.2.10): `uids` (ascending, distinct) written as ranges. A long
    /// set is spread over several responses of about 8000 octets at most
    /// each, which means the same to the client
    /// (RFC 7162 §4 asks clients to keep their own lines near 8 KiB; a
    /// client's parser may well expect no more). No UID, no response.
    pub fn vanished(uids: &[u32], earlier: bool) -> Vec<Self> {
        let mut out = Vec::new();
        let mut set = String::new();
        for (lo, hi) in runs(uids) {
            if set.len() >= MAX_SET_TEXT {
                out.push(Self::vanished_line(&set, earlier));
                set.clear();
            }
            if !set.is_empty() {
                set.push(',');
            }
            set.push_str(&lo.to_string());
            if hi != lo {
                set.push(':');
                set.push_str(&hi.to_string());
            }
        }
        if !set.is_empty() {
            out.push(Self::vanished_line(&set, earlier));
        }
        out
    }

    fn vanished_line(set: &str, earlier: bool) -> Self {
        let mut d = Self::new();
        d.raw("VANISHED ");
        if earlier {
            d.raw("(EARLIER) ");
        }
        d.raw(set);
        d
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

    fn lines(uids: &[u32], earlier: bool) -> Vec<String> {
        Data::vanished(uids, earlier)
            .iter()
            .map(|d| String::from_utf8(d.as_bytes().to_vec()).unwrap())
            .collect()
    }

    /// RFC 7162 §3.2.10: both forms, as ranges.
    #[test]
    fn vanished() {
        assert_eq!(
            lines(&[405, 407, 410, 425], false),
            ["VANISHED 405,407,410,425"]
        );
        assert_eq!(
            lines(&[41, 43, 44, 45, 118, 120, 121, 4_294_967_295], true),
            ["VANISHED (EARLIER) 41,43:45,118,120:121,4294967295"]
        );
        assert!(lines(&[], true).is_empty());
        // A long set is split, and no UID is lost or repeated.
        let uids: Vec<u32> = (1..=20_000).map(|n| n * 2).collect();
        let split = lines(&uids, false);
        assert!(split.len() > 1, "{}", split.len());
        let mut back = Vec::new();
        for line in &split {
            let set = line.strip_prefix("VANISHED ").unwrap();
            assert!(set.len() <= MAX_SET_TEXT + 12, "{}", set.len());
            back.extend(set.split(',').map(|n| n.parse::<u32>().unwrap()));
        }
        assert_eq!(back, uids);
    }

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
