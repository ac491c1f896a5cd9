//! The DATA body (RFC 5321 §4.1.1.4): dot-unstuffing (§4.5.2) and the end
//! of data, immune to SMTP smuggling.
//!
//! Only `CRLF "." CRLF` ends the data, where the first CRLF is the end of
//! the previous line (or of the DATA command itself, for an empty message).
//! A line starts only after CRLF: `<LF>.<LF>`, `<CR>.<CR>`, `<LF>.<CRLF>`,
//! `<CRLF>.<LF>` and `<CRLF>.<CR>` are all message content here, whatever
//! another server in the path might make of them (SMTP smuggling,
//! CVE-2023-51764/51765/51766). A bare CR or LF anywhere is remembered: RFC
//! 5321 §2.3.8 forbids them in the body, and a message carrying one is
//! refused after the end of data, so that no server behind us ever sees it.
//!
//! The reader is a byte-level state machine: it needs no line buffer, so a
//! line of any length costs nothing, and it consumes exactly the octets of
//! the body and the end-of-data line, nothing after them.

use crate::message::MessageBuf;

/// Where the reader is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// At the start of a line: after CRLF, or at the start of the body.
    LineStart,
    /// Inside a line.
    Text,
    /// After a CR that may start a CRLF (not stored yet).
    Cr,
    /// After a `.` at the start of a line (not stored: §4.5.2 removes it
    /// unless it is the whole line).
    Dot,
    /// After `.` CR at the start of a line: an LF now ends the data.
    DotCr,
}

/// How a DATA body ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The message, dot-unstuffed, every line ending in CRLF.
    Message(Vec<u8>),
    /// More than `max_message_size` octets (RFC 1870 §6.1).
    TooBig,
    /// A bare CR or LF was in the body (RFC 5321 §2.3.8).
    BareLineEnding,
}

/// Reads one DATA body.
#[derive(Debug)]
pub(crate) struct DataReader {
    at: At,
    body: MessageBuf,
    bare: bool,
}

impl DataReader {
    pub(crate) const fn new(limit: u64) -> Self {
        Self {
            at: At::LineStart,
            body: MessageBuf::new(limit),
            bare: false,
        }
    }

    /// Reads body octets from `input`: the number consumed, and whether
    /// the end-of-data line was among them (then it is the last consumed).
    pub(crate) fn read(&mut self, input: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while i < input.len() {
            if self.at == At::Text {
                i += self.copy_text(&input[i..]);
                continue;
            }
            i += 1;
            if self.step(input[i - 1]) {
                return (i, true);
            }
        }
        (i, false)
    }

    /// Copies a run of plain text at once, up to the next CR or LF, which
    /// is then handled by [`Self::step`]. Returns the octets consumed.
    fn copy_text(&mut self, input: &[u8]) -> usize {
        let run = input
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(input.len());
        self.body.push(&input[..run]);
        if run < input.len() {
            self.step(input[run]);
            return run + 1;
        }
        run
    }

    /// One octet; true when it completed the end-of-data line.
    fn step(&mut self, b: u8) -> bool {
        self.at = match (self.at, b) {
            (At::DotCr, b'\n') => return true,
            // `.` CR and no LF: the dot goes (§4.5.2), the CR is bare.
            (At::DotCr, _) => {
                self.at = At::Cr;
                return self.step(b);
            }
            (At::LineStart, b'.') => At::Dot,
            (At::Dot, b'\r') => At::DotCr,
            (At::Cr, b'\n') => {
                self.body.push(b"\r\n");
                At::LineStart
            }
            (At::Cr, _) => {
                self.bare = true;
                self.body.push(b"\r");
                return self.text(b);
            }
            // A leading dot with more on the line is removed (§4.5.2).
            (At::LineStart | At::Dot | At::Text, _) => return self.text(b),
        };
        false
    }

    /// An octet inside a line.
    fn text(&mut self, b: u8) -> bool {
        self.at = match b {
            b'\r' => At::Cr,
            b'\n' => {
                self.bare = true;
                self.body.push(b"\n");
                At::Text
            }
            _ => {
                self.body.push(&[b]);
                At::Text
            }
        };
        false
    }

    /// The verdict, once [`Self::read`] saw the end of data. Size comes
    /// first: past the limit nothing was kept to look at.
    pub(crate) fn finish(self) -> Outcome {
        if self.body.too_big() {
            return Outcome::TooBig;
        }
        if self.bare {
            return Outcome::BareLineEnding;
        }
        self.body
            .into_bytes()
            .map_or(Outcome::TooBig, Outcome::Message)
    }

    /// Octets held in memory (never more than the limit).
    pub(crate) fn held(&self) -> usize {
        self.body.held()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `input` whole: the outcome and the octets left after the end.
    fn read_all(input: &[u8], limit: u64) -> Option<(Outcome, usize)> {
        let mut r = DataReader::new(limit);
        let (used, done) = r.read(input);
        done.then(|| (r.finish(), input.len() - used))
    }

    fn message(input: &[u8]) -> Option<Outcome> {
        read_all(input, 1000).map(|(o, _)| o)
    }

    fn ok(s: &[u8]) -> Option<Outcome> {
        Some(Outcome::Message(s.to_vec()))
    }

    #[test]
    fn known_answers() {
        assert_eq!(message(b".\r\n"), ok(b""));
        assert_eq!(message(b"Hi\r\n.\r\n"), ok(b"Hi\r\n"));
        assert_eq!(message(b"a\r\n..b\r\n..\r\n.\r\n"), ok(b"a\r\n.b\r\n.\r\n"));
        assert_eq!(message(b".x\r\n.\r\n"), ok(b"x\r\n"));
        assert_eq!(message(b"a\r\n\r\n.\r\n"), ok(b"a\r\n\r\n"));
        assert_eq!(
            read_all(b"a\r\n.\r\nQUIT\r\n", 100).map(|(_, rest)| rest),
            Some(6)
        );
    }

    /// No smuggled end of data: each of these is content, and the real
    /// end afterwards finds a bare line ending to refuse.
    #[test]
    fn smuggling_variants_do_not_end_the_data() {
        for variant in [
            &b"a\n.\nMAIL FROM:<x@y>\r\n"[..],
            b"a\r.\rMAIL FROM:<x@y>\r\n",
            b"a\n.\r\nMAIL FROM:<x@y>\r\n",
            b"a\r\n.\nMAIL FROM:<x@y>\r\n",
            b"a\r\n.\rMAIL FROM:<x@y>\r\n",
            b"a\r.\r\nMAIL FROM:<x@y>\r\n",
            b"a\r\n.\r\rMAIL\r\n",
            b"a\r\r\n.\r\r\n",
        ] {
            let mut r = DataReader::new(1000);
            assert_eq!(r.read(variant), (variant.len(), false), "{variant:?}");
            assert_eq!(r.read(b".\r\n"), (3, true), "{variant:?}");
            assert_eq!(r.finish(), Outcome::BareLineEnding, "{variant:?}");
        }
    }

    #[test]
    fn bare_line_endings_are_refused() {
        assert_eq!(message(b"a\nb\r\n.\r\n"), Some(Outcome::BareLineEnding));
        assert_eq!(message(b"a\rb\r\n.\r\n"), Some(Outcome::BareLineEnding));
        assert_eq!(message(b"a\r\r\n.\r\n"), Some(Outcome::BareLineEnding));
        assert_eq!(message(b"\n\r\n.\r\n"), Some(Outcome::BareLineEnding));
        assert_eq!(
            message(b"\n.\r\n"),
            None,
            "a dot after a bare LF starts no line"
        );
    }

    #[test]
    fn the_limit_counts_unstuffed_octets() {
        assert_eq!(read_all(b"abc\r\n.\r\n", 5).map(|(o, _)| o), ok(b"abc\r\n"));
        assert_eq!(read_all(b"..c\r\n.\r\n", 4).map(|(o, _)| o), ok(b".c\r\n"));
        assert_eq!(
            read_all(b"abcd\r\n.\r\n", 5).map(|(o, _)| o),
            Some(Outcome::TooBig)
        );
    }

    #[test]
    fn memory_stays_within_the_limit() {
        let mut r = DataReader::new(10);
        for _ in 0..1000 {
            r.read(b"0123456789\r\n");
            assert!(r.held() <= 10);
        }
        assert_eq!(r.read(b".\r\n"), (3, true));
        assert_eq!(r.finish(), Outcome::TooBig);
    }

    #[test]
    fn every_split_gives_the_same_result() {
        let input = b"a\r\n..b\r\n.\n\r.\r\r\n.x\r\n.\r\nNOOP\r\n";
        let reference = read_all(input, 100);
        for k in 0..=input.len() {
            let mut r = DataReader::new(100);
            let (a, done) = r.read(&input[..k]);
            let result = if done {
                Some((r.finish(), input.len() - a))
            } else {
                let (b, done) = r.read(&input[k..]);
                done.then(|| (r.finish(), input.len() - k - b))
            };
            assert_eq!(result, reference, "split at {k}");
        }
    }
}
