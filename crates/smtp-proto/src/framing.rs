//! Cuts the input into command lines and BDAT chunks before anything is
//! parsed (STYLE: frame before parse), with a hard limit on line length.
//!
//! Framing happens as bytes arrive, not when they are parsed, so that a
//! peer sending one endless line costs at most `max_line + 1` octets however
//! much it sends in one go. What comes after a complete line depends only on
//! that line: a valid `BDAT n` is followed by exactly `n` octets of message
//! data that are never read as commands (RFC 3030 §2), whatever the session
//! answers. Chunk octets are handed out in pieces of [`CHUNK_PIECE`]
//! octets (the last one shorter), so the events never depend on how TCP
//! happened to cut the stream.

use std::collections::VecDeque;

use crate::cmd;

/// The size of the pieces a BDAT chunk is handed out in: large enough to
/// keep the event count low, small enough to bound what one client holds.
pub(crate) const CHUNK_PIECE: usize = 64 * 1024;

/// One unit of client input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A command line without its line ending (LF, or CR LF).
    Line(Vec<u8>),
    /// Octets of the chunk announced by the preceding BDAT line; `end` marks
    /// the piece that completes it (a `BDAT 0` gets one empty piece).
    Chunk { bytes: Vec<u8>, end: bool },
    /// A line longer than the limit. Nothing after it is kept.
    TooLong,
}

/// The framer: complete frames in order, plus the one incomplete line.
#[derive(Debug)]
pub(crate) struct Framer {
    max_line: usize,
    /// Complete frames, each with the number of octets it took on the wire.
    frames: VecDeque<(Frame, usize)>,
    /// The incomplete line (at most `max_line + 1` octets: a CR may wait
    /// for its LF), or the incomplete chunk piece.
    tail: Vec<u8>,
    /// Chunk octets still expected; 0 means we are reading lines.
    chunk_left: u64,
    /// Set once `TooLong` is queued: the session ends there.
    closed: bool,
}

impl Framer {
    pub(crate) const fn new(max_line: usize) -> Self {
        Self {
            max_line,
            frames: VecDeque::new(),
            tail: Vec::new(),
            chunk_left: 0,
            closed: false,
        }
    }

    /// Frames `input`; bytes after an over-long line are dropped.
    pub(crate) fn push(&mut self, mut input: &[u8]) {
        while !input.is_empty() && !self.closed {
            input = if self.chunk_left > 0 {
                self.push_chunk(input)
            } else {
                self.push_line(input)
            };
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

    /// Octets of the incomplete line (bounded by `max_line + 1`). While a
    /// BDAT chunk is being read, the buffer holds chunk octets (bounded by
    /// [`CHUNK_PIECE`]), not a line: no line is partial then.
    pub(crate) fn partial_line(&self) -> usize {
        if self.chunk_left > 0 {
            0
        } else {
            self.tail.len()
        }
    }

    fn push_chunk<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let room = (CHUNK_PIECE - self.tail.len()).min(input.len());
        let take = usize::try_from(self.chunk_left).map_or(room, |left| left.min(room));
        // `take` is at most `chunk_left`, so this cannot underflow.
        self.chunk_left -= take as u64;
        self.tail.extend_from_slice(&input[..take]);
        let end = self.chunk_left == 0;
        if end || self.tail.len() == CHUNK_PIECE {
            let bytes = std::mem::take(&mut self.tail);
            let wire = bytes.len();
            self.frames.push_back((Frame::Chunk { bytes, end }, wire));
        }
        &input[take..]
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
        let chunk = cmd::announced_chunk(&line);
        self.frames.push_back((Frame::Line(line), wire));
        if let Some(size) = chunk {
            self.chunk_left = size;
            if size == 0 {
                let bytes = Vec::new();
                self.frames
                    .push_back((Frame::Chunk { bytes, end: true }, 0));
            }
        }
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
            frames(10, b"NOOP\r\nQUIT\nRSET\r\r\nHE"),
            vec![line("NOOP"), line("QUIT"), line("RSET\r")]
        );
    }

    #[test]
    fn the_limit_is_on_text_without_line_ending() {
        assert_eq!(frames(4, b"NOOP\r\n"), vec![line("NOOP")]);
        assert_eq!(frames(4, b"NOOPS\n"), vec![Frame::TooLong]);
        assert_eq!(frames(4, b"NOOPS\r\n"), vec![Frame::TooLong]);
        assert_eq!(
            frames(4, b"RSET\nNOOPSX"),
            vec![line("RSET"), Frame::TooLong]
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
    fn bdat_chunks_are_not_lines() {
        let got = frames(100, b"BDAT 5 LAST\r\nQUIT\r\nNOOP\r\n");
        let chunk = Frame::Chunk {
            bytes: b"QUIT\r".to_vec(),
            end: true,
        };
        assert_eq!(
            got,
            vec![line("BDAT 5 LAST"), chunk, line(""), line("NOOP")]
        );
    }

    #[test]
    fn bdat_zero_and_split_chunks() {
        let mut framer = Framer::new(100);
        framer.push(b"BDAT 0\r\nBDAT 3\r\nab");
        assert_eq!(framer.buffered(), 18);
        framer.push(b"cNOOP\n");
        let got: Vec<_> = std::iter::from_fn(|| framer.pop()).collect();
        let piece = |b: &[u8], end| Frame::Chunk {
            bytes: b.to_vec(),
            end,
        };
        let expected = vec![
            line("BDAT 0"),
            piece(b"", true),
            line("BDAT 3"),
            piece(b"abc", true),
            line("NOOP"),
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn chunks_come_in_fixed_pieces() {
        let size = CHUNK_PIECE * 2 + 10;
        let mut framer = Framer::new(100);
        framer.push(format!("BDAT {size}\r\n").as_bytes());
        for _ in 0..size {
            framer.push(b"x");
        }
        let lens: Vec<_> = std::iter::from_fn(|| framer.pop())
            .map(|f| match f {
                Frame::Chunk { bytes, end } => (bytes.len(), end),
                Frame::Line(_) => (0, false),
                Frame::TooLong => unreachable!(),
            })
            .collect();
        assert_eq!(
            lens,
            [
                (0, false),
                (CHUNK_PIECE, false),
                (CHUNK_PIECE, false),
                (10, true)
            ]
        );
    }

    #[test]
    fn buffered_counts_wire_octets() {
        let mut framer = Framer::new(100);
        framer.push(b"NOOP\r\nQUIT\nRS");
        assert_eq!(framer.buffered(), 13);
        framer.pop();
        assert_eq!(framer.buffered(), 7);
    }

    #[test]
    fn invalid_bdat_does_not_switch_to_chunk_mode() {
        assert_eq!(
            frames(100, b"BDAT +5\r\nNOOP\r\n"),
            vec![line("BDAT +5"), line("NOOP")]
        );
    }
}
