//! The input buffer: command lines are cut here, with a hard limit on their
//! length, and message data (DATA bodies, BDAT chunks) is taken from here
//! by the state machine (STYLE: frame before parse).
//!
//! What the next octets are depends on the state machine: after `DATA` and
//! its `354` they are message data, after a refused `DATA` they are
//! commands (RFC 5321 §4.1.1.4), after `BDAT n` exactly `n` octets are data
//! whatever the answer (RFC 3030 §2), after a `334` the next line is a SASL
//! response and never a command (RFC 4954 §4). So nothing is cut ahead:
//! the machine asks for one line, or for data octets, at a time.
//!
//! The buffer holds what the driver read and the machine has not consumed:
//! one read at most (the driver reads only when the machine needs input)
//! plus an incomplete line. An incomplete command line never holds more than
//! `max_line + 1` octets: past that, the line is too long whatever follows,
//! and its octets are dropped as they arrive.

/// A command line, or why there is none.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line without its line ending (LF, or CR LF).
    Text(Vec<u8>),
    /// A line longer than the limit. Nothing after it is kept.
    TooLong,
}

/// Received octets not consumed yet.
#[derive(Debug)]
pub(crate) struct Input {
    max_line: usize,
    buf: Vec<u8>,
    /// Where the unconsumed octets start in `buf`.
    pos: usize,
    /// Set once a line was too long: the session ends there.
    overflow: bool,
}

impl Input {
    pub(crate) const fn new(max_line: usize) -> Self {
        Self {
            max_line,
            buf: Vec::new(),
            pos: 0,
            overflow: false,
        }
    }

    /// Adds octets. `lines` says that the machine reads command lines now,
    /// so that an endless line is cut short however much arrives at once.
    pub(crate) fn push(&mut self, bytes: &[u8], lines: bool) {
        if self.overflow {
            return;
        }
        let endless = lines
            && !self.pending().contains(&b'\n')
            && !bytes.contains(&b'\n')
            && self.pending().len() + bytes.len() > self.max_line + 1;
        if endless {
            self.overflow();
            return;
        }
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// The next command line, if a complete one (or a too-long one) is
    /// there.
    pub(crate) fn line(&mut self) -> Option<Line> {
        if self.overflow {
            return Some(Line::TooLong);
        }
        let Some(end) = self.pending().iter().position(|&b| b == b'\n') else {
            self.bound_line();
            return self.overflow.then_some(Line::TooLong);
        };
        let mut line = self.pending()[..end].to_vec();
        self.pos += end + 1;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > self.max_line {
            self.overflow();
            return Some(Line::TooLong);
        }
        // What follows may be message data: it is bounded as a line only
        // when the machine asks for the next line.
        Some(Line::Text(line))
    }

    /// Unconsumed octets, for message data.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Marks `n` octets of [`Self::pending`] as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    /// The machine reads command lines again (after message data): the
    /// octets left must obey the line limit too.
    pub(crate) fn bound_line(&mut self) {
        let pending = self.pending();
        if pending.len() > self.max_line + 1 && !pending.contains(&b'\n') {
            self.overflow();
        }
    }

    /// Octets received and not consumed.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Octets of the incomplete line at the front, if no complete line is
    /// waiting (at most `max_line + 1` while command lines are read).
    pub(crate) fn partial_line(&self) -> usize {
        let pending = self.pending();
        if pending.contains(&b'\n') {
            0
        } else {
            pending.len()
        }
    }

    fn overflow(&mut self) {
        self.buf = Vec::new();
        self.pos = 0;
        self.overflow = true;
    }

    /// Drops consumed octets before the buffer grows.
    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(max_line: usize, input: &[u8]) -> Vec<Line> {
        let mut i = Input::new(max_line);
        i.push(input, true);
        std::iter::from_fn(|| i.line()).take(10).collect()
    }

    fn text(s: &str) -> Line {
        Line::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn lines_end_with_lf_and_lose_one_cr() {
        assert_eq!(
            lines(10, b"NOOP\r\nQUIT\nRSET\r\r\nHE"),
            vec![text("NOOP"), text("QUIT"), text("RSET\r")]
        );
    }

    #[test]
    fn the_limit_is_on_text_without_line_ending() {
        assert_eq!(lines(4, b"NOOP\r\n"), vec![text("NOOP")]);
        assert_eq!(lines(4, b"NOOPS\n")[0], Line::TooLong);
        assert_eq!(lines(4, b"NOOPS\r\n")[0], Line::TooLong);
        assert_eq!(
            lines(4, b"RSET\nNOOPSX")[..2],
            [text("RSET"), Line::TooLong]
        );
    }

    #[test]
    fn an_endless_line_is_never_buffered() {
        let mut i = Input::new(8);
        for _ in 0..1000 {
            i.push(&[b'A'; 100], true);
            assert!(i.buffered() <= 9);
        }
        assert_eq!(i.line(), Some(Line::TooLong));
        i.push(b"NOOP\r\n", true);
        assert_eq!(i.line(), Some(Line::TooLong));
        let mut i = Input::new(8);
        i.push(&[b'A'; 1 << 20], true);
        assert_eq!((i.buffered(), i.line()), (0, Some(Line::TooLong)));
    }

    #[test]
    fn the_rest_after_a_line_obeys_the_limit() {
        let mut i = Input::new(8);
        let mut input = b"NOOP\r\n".to_vec();
        input.extend_from_slice(&[b'x'; 100]);
        i.push(&input, true);
        assert_eq!(i.line(), Some(text("NOOP")));
        assert_eq!(i.line(), Some(Line::TooLong));
        // After a BDAT line the same octets are chunk data, not a line.
        let mut i = Input::new(8);
        let mut input = b"BDAT 100\r\n".to_vec();
        input.extend_from_slice(&[b'x'; 100]);
        i.push(&input, true);
        assert_eq!(i.line(), Some(text("BDAT 100")));
        assert_eq!(i.pending().len(), 100);
    }

    #[test]
    fn data_is_not_cut_into_lines() {
        let mut i = Input::new(4);
        i.push(b"DATA\r\n", true);
        assert_eq!(i.line(), Some(text("DATA")));
        i.push(&[b'x'; 100], false);
        assert_eq!(i.pending().len(), 100);
        i.consume(98);
        assert_eq!(i.pending(), b"xx");
        i.consume(2);
        assert_eq!(i.buffered(), 0);
    }

    #[test]
    fn buffered_counts_wire_octets() {
        let mut i = Input::new(100);
        i.push(b"NOOP\r\nQUIT\nRS", true);
        assert_eq!(i.buffered(), 13);
        i.line();
        assert_eq!(i.buffered(), 7);
        assert_eq!(i.partial_line(), 0);
        i.line();
        assert_eq!(i.partial_line(), 2);
    }
}
