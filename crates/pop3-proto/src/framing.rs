//! Cuts the input into command lines before anything is parsed (STYLE:
//! frame before parse), with a hard limit on line length.
//!
//! Framing happens as bytes arrive, so that a peer sending one endless line
//! costs at most `max_line + 1` octets however much it sends in one go.

use std::collections::VecDeque;

/// One unit of client input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A command line without its line ending (LF, or CR LF).
    Line(Vec<u8>),
    /// A line longer than the limit. Nothing after it is kept.
    TooLong,
}

/// The framer: complete lines in order, plus the one incomplete line.
#[derive(Debug)]
pub(crate) struct Framer {
    max_line: usize,
    /// Complete frames, each with the number of octets it took on the wire.
    frames: VecDeque<(Frame, usize)>,
    /// The incomplete line: at most `max_line + 1` octets (a CR may wait
    /// for its LF).
    tail: Vec<u8>,
    /// Set once `TooLong` is queued: the session ends there.
    closed: bool,
}

impl Framer {
    pub(crate) const fn new(max_line: usize) -> Self {
        Self {
            max_line,
            frames: VecDeque::new(),
            tail: Vec::new(),
            closed: false,
        }
    }

    /// Frames `input`; bytes after an over-long line are dropped.
    pub(crate) fn push(&mut self, mut input: &[u8]) {
        while !input.is_empty() && !self.closed {
            input = self.push_line(input);
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Frame> {
        self.frames.pop_front().map(|(frame, _)| frame)
    }

    /// Octets received and not yet handed out, framed or not.
    pub(crate) fn buffered(&self) -> usize {
        let framed: usize = self.frames.iter().map(|(_, wire)| wire).sum();
        framed + self.tail.len()
    }

    /// Octets of the incomplete line (bounded by `max_line + 1`).
    pub(crate) fn partial_line(&self) -> usize {
        self.tail.len()
    }

    fn push_line<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let (piece, rest, complete) = match input.iter().position(|&b| b == b'\n') {
            Some(i) => (&input[..i], &input[i + 1..], true),
            None => (input, &[][..], false),
        };
        // `max_line` octets of text plus a CR that may precede the LF.
        if self.tail.len() + piece.len() > self.max_line + 1 {
            self.overflow();
            return &[];
        }
        self.tail.extend_from_slice(piece);
        if complete {
            self.finish_line();
        }
        rest
    }

    fn finish_line(&mut self) {
        let mut line = std::mem::take(&mut self.tail);
        let wire = line.len() + 1;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > self.max_line {
            return self.overflow();
        }
        self.frames.push_back((Frame::Line(line), wire));
    }

    fn overflow(&mut self) {
        self.tail = Vec::new();
        self.frames.push_back((Frame::TooLong, 0));
        self.closed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(max_line: usize, input: &[u8]) -> Vec<Frame> {
        let mut framer = Framer::new(max_line);
        framer.push(input);
        std::iter::from_fn(|| framer.pop()).collect()
    }

    fn line(s: &str) -> Frame {
        Frame::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn lines_end_with_lf_and_lose_one_cr() {
        assert_eq!(
            frames(10, b"CAPA\r\nQUIT\nSTAT\r\r\nLI"),
            vec![line("CAPA"), line("QUIT"), line("STAT\r")]
        );
    }

    #[test]
    fn the_limit_is_on_text_without_line_ending() {
        assert_eq!(frames(4, b"CAPA\r\n"), vec![line("CAPA")]);
        assert_eq!(frames(4, b"CAPAS\n"), vec![Frame::TooLong]);
        assert_eq!(frames(4, b"CAPAS\r\n"), vec![Frame::TooLong]);
        assert_eq!(
            frames(4, b"STAT\nCAPAXX"),
            vec![line("STAT"), Frame::TooLong]
        );
    }

    #[test]
    fn an_endless_line_is_never_buffered() {
        let mut framer = Framer::new(8);
        for _ in 0..1000 {
            framer.push(&[b'A'; 100]);
            assert!(framer.buffered() <= 10);
        }
        assert_eq!(framer.pop(), Some(Frame::TooLong));
        framer.push(b"NOOP\r\n");
        assert_eq!(framer.pop(), None);
    }

    #[test]
    fn buffered_counts_wire_octets() {
        let mut framer = Framer::new(100);
        framer.push(b"NOOP\r\nQUIT\nRS");
        assert_eq!(framer.buffered(), 13);
        framer.pop();
        assert_eq!(framer.buffered(), 7);
    }
}
