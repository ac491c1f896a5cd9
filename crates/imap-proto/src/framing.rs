//! Cuts the input into command lines and literals before anything is
//! parsed (STYLE: frame before parse, as imap-codec's fragmentizer), with
//! hard limits.
//!
//! Framing happens as bytes arrive, so that however much a peer sends at
//! once, the incomplete part of a command never exceeds the command limit.
//! A line ending in `{n}` or `{n+}` announces a literal (RFC 9051 §4.3,
//! RFC 7888); the framer alone decides whether it is read, and the state
//! machine follows that verdict, so the two can never disagree about where
//! a command ends:
//!
//! - over `max_literal`, or past the command limit: refused. A
//!   synchronizing literal is never sent by the client (it waits for `+`),
//!   so the next line is a new command; a non-synchronizing one is on its
//!   way, so framing stops and the session ends (RFC 7888 §5);
//! - a synchronizing literal in LOGIN or AUTHENTICATE before TLS: refused
//!   with `NO [PRIVACYREQUIRED]` before the client sends the password;
//! - otherwise read, after a `+` continuation if synchronizing.

use std::collections::VecDeque;

/// What bounds the framer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Octets of one command: lines without endings, plus literals.
    pub(crate) max_line: usize,
    /// Octets of one line of a command, without its literals.
    pub(crate) max_text: usize,
    /// Octets of one literal.
    pub(crate) max_literal: u32,
    /// No TLS yet: credential literals are refused.
    pub(crate) refuse_credentials: bool,
}

/// The framer's decision on an announced literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Read it (after a `+` continuation when synchronizing).
    Accept,
    /// Over a limit.
    TooBig,
    /// A credential before TLS (synchronizing literals only).
    PrivacyRequired,
}

/// An announced literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Literal {
    /// `{n}` rather than `{n+}`: the client waits for `+`.
    pub(crate) sync: bool,
    pub(crate) verdict: Verdict,
}

/// One unit of client input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A line of a command, without its line ending and without the literal
    /// announcement, if any (which is described in `literal`). A line
    /// without an accepted literal ends its command.
    Line {
        text: Vec<u8>,
        literal: Option<Literal>,
    },
    /// The octets of an accepted literal, whole.
    LiteralData(Vec<u8>),
    /// A command over the limit. Nothing after it is kept.
    TooLong,
}

/// The framer: complete frames in order, plus what is still incomplete.
#[derive(Debug)]
pub(crate) struct Framer {
    limits: Limits,
    /// Complete frames, each with the number of octets it took on the wire.
    frames: VecDeque<(Frame, usize)>,
    /// The incomplete line or literal; never more than the command budget.
    tail: Vec<u8>,
    /// Literal octets still expected; 0 means we are reading lines.
    literal_left: usize,
    /// Octets of the current command so far.
    command_len: usize,
    /// The current command is LOGIN or AUTHENTICATE.
    credential: bool,
    /// Set when framing stopped for good (over-long command or literal).
    closed: bool,
    /// Input not framed yet, from `raw_pos` on. Framing stops at the first
    /// complete frame and goes on when frames are taken, so a command is
    /// framed under the limits in force when the one before it was
    /// answered (after LOGIN, APPEND may carry a large literal).
    raw: Vec<u8>,
    raw_pos: usize,
}

impl Framer {
    pub(crate) const fn new(limits: Limits) -> Self {
        Self {
            limits,
            frames: VecDeque::new(),
            tail: Vec::new(),
            literal_left: 0,
            command_len: 0,
            credential: false,
            closed: false,
            raw: Vec::new(),
            raw_pos: 0,
        }
    }

    /// Takes `input` and frames it up to the first complete frame; bytes
    /// after a fatal frame are dropped.
    pub(crate) fn push(&mut self, input: &[u8]) {
        if self.closed {
            return;
        }
        if self.raw_pos == self.raw.len() {
            self.raw.clear();
            self.raw_pos = 0;
        }
        self.raw.extend_from_slice(input);
        self.frame_some();
    }

    /// Frames unframed input until a frame is complete or the input ends.
    fn frame_some(&mut self) {
        let raw = std::mem::take(&mut self.raw);
        let mut input = &raw[self.raw_pos..];
        while !input.is_empty() && !self.closed && self.frames.is_empty() {
            input = if self.literal_left > 0 {
                self.push_literal(input)
            } else {
                self.push_line(input)
            };
        }
        self.raw_pos = raw.len() - input.len();
        self.raw = raw;
        if self.closed || self.raw_pos == self.raw.len() {
            self.raw.clear();
            self.raw_pos = 0;
        }
    }

    /// New limits, for input from now on (after login).
    pub(crate) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    pub(crate) fn pop(&mut self) -> Option<Frame> {
        if self.frames.is_empty() {
            self.frame_some();
        }
        self.frames.pop_front().map(|(frame, _)| frame)
    }

    /// Octets received and not yet handed out, framed or not.
    pub(crate) fn buffered(&self) -> usize {
        let framed: usize = self.frames.iter().map(|(_, wire)| wire).sum();
        framed + self.tail.len() + (self.raw.len() - self.raw_pos)
    }

    /// Octets of the incomplete line or literal (at most `max_line + 1`).
    pub(crate) fn partial(&self) -> usize {
        self.tail.len()
    }

    /// What the current line may still take: the command's remaining
    /// budget, and no more than one line's.
    fn budget(&self) -> usize {
        let command = self.limits.max_line.saturating_sub(self.command_len);
        command.min(self.limits.max_text)
    }

    /// What a literal of the current command may still take.
    const fn literal_budget(&self) -> usize {
        self.limits.max_line.saturating_sub(self.command_len)
    }

    fn push_literal<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let take = self.literal_left.min(input.len());
        self.tail.extend_from_slice(&input[..take]);
        self.literal_left -= take;
        if self.literal_left == 0 {
            let bytes = std::mem::take(&mut self.tail);
            let wire = bytes.len();
            self.frames.push_back((Frame::LiteralData(bytes), wire));
        }
        &input[take..]
    }

    fn push_line<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let (piece, rest, complete) = match input.iter().position(|&b| b == b'\n') {
            Some(i) => (&input[..i], &input[i + 1..], true),
            None => (input, &[][..], false),
        };
        // The budget in text octets, plus a CR that may precede the LF.
        if self.tail.len() + piece.len() > self.budget() + 1 {
            self.stop(Frame::TooLong);
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
        if line.len() > self.budget() {
            return self.stop(Frame::TooLong);
        }
        if self.command_len == 0 {
            self.credential = is_credential_command(&line);
        }
        self.command_len += line.len();
        match literal_marker(&line) {
            None => {
                self.frames.push_back((
                    Frame::Line {
                        text: line,
                        literal: None,
                    },
                    wire,
                ));
                self.end_command();
            }
            Some(marker) => {
                line.truncate(marker.start);
                self.announce(line, marker, wire);
            }
        }
    }

    fn announce(&mut self, text: Vec<u8>, marker: Marker, wire: usize) {
        let verdict = self.verdict(marker);
        let literal = Some(Literal {
            sync: marker.sync,
            verdict,
        });
        self.frames.push_back((Frame::Line { text, literal }, wire));
        match (verdict, marker.len) {
            (Verdict::Accept, Some(len)) => self.expect_literal(len as usize),
            // RFC 7888 §5: the octets are coming; we will not read them.
            (Verdict::TooBig, _) if !marker.sync => self.closed = true,
            // The client will not send a refused synchronizing literal.
            _ => self.end_command(),
        }
    }

    fn verdict(&self, marker: Marker) -> Verdict {
        let fits = marker
            .len
            .is_some_and(|n| n <= self.limits.max_literal && n as usize <= self.literal_budget());
        if !fits {
            Verdict::TooBig
        } else if marker.sync && self.credential && self.limits.refuse_credentials {
            Verdict::PrivacyRequired
        } else {
            Verdict::Accept
        }
    }

    fn expect_literal(&mut self, len: usize) {
        self.command_len += len;
        if len == 0 {
            self.frames.push_back((Frame::LiteralData(Vec::new()), 0));
        } else {
            self.literal_left = len;
        }
    }

    fn end_command(&mut self) {
        self.command_len = 0;
        self.credential = false;
    }

    fn stop(&mut self, frame: Frame) {
        self.tail = Vec::new();
        self.frames.push_back((frame, 0));
        self.closed = true;
    }
}

/// A literal announcement at the end of a line: `{digits}` or `{digits+}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Marker {
    /// Where the `{` is.
    start: usize,
    /// The announced size; `None` if it does not fit in 32 bits.
    len: Option<u32>,
    sync: bool,
}

fn literal_marker(line: &[u8]) -> Option<Marker> {
    let body = line.strip_suffix(b"}")?;
    let start = body.iter().rposition(|&b| b == b'{')?;
    let inside = &body[start + 1..];
    let (digits, sync) = match inside.strip_suffix(b"+") {
        Some(digits) => (digits, false),
        None => (inside, true),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len = std::str::from_utf8(digits).ok()?.parse().ok();
    Some(Marker { start, len, sync })
}

/// `tag SP (LOGIN / AUTHENTICATE) ...`, case-insensitively.
fn is_credential_command(line: &[u8]) -> bool {
    let name = line.split(|&b| b == b' ').nth(1).unwrap_or_default();
    name.eq_ignore_ascii_case(b"LOGIN") || name.eq_ignore_ascii_case(b"AUTHENTICATE")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_line: 100,
        max_text: 100,
        max_literal: 10,
        refuse_credentials: false,
    };

    fn frames(limits: Limits, input: &[u8]) -> Vec<Frame> {
        let mut framer = Framer::new(limits);
        framer.push(input);
        std::iter::from_fn(|| framer.pop()).collect()
    }

    fn line(s: &str) -> Frame {
        Frame::Line {
            text: s.as_bytes().to_vec(),
            literal: None,
        }
    }

    fn announce(s: &str, sync: bool, verdict: Verdict) -> Frame {
        Frame::Line {
            text: s.as_bytes().to_vec(),
            literal: Some(Literal { sync, verdict }),
        }
    }

    fn data(s: &str) -> Frame {
        Frame::LiteralData(s.as_bytes().to_vec())
    }

    #[test]
    fn markers() {
        let marker = |start, len, sync| Some(Marker { start, len, sync });
        assert_eq!(literal_marker(b"a LOGIN {5}"), marker(8, Some(5), true));
        assert_eq!(literal_marker(b"a LOGIN {5+}"), marker(8, Some(5), false));
        assert_eq!(literal_marker(b"{0}"), marker(0, Some(0), true));
        assert_eq!(literal_marker(b"a X {99999999999}"), marker(4, None, true));
        for none in [
            &b"a NOOP"[..],
            b"{}",
            b"{+}",
            b"{5",
            b"5}",
            b"{-5}",
            b"{+5}",
            b"{5++}",
            b"{ 5}",
        ] {
            assert_eq!(literal_marker(none), None, "{none:?}");
        }
    }

    #[test]
    fn literals_are_read_whole_and_never_as_lines() {
        let got = frames(LIMITS, b"a LOGIN {5}\r\nb\r\nc {3+}\r\nx\r\n\r\nb NOOP\r\n");
        let expected = vec![
            announce("a LOGIN ", true, Verdict::Accept),
            data("b\r\nc "),
            announce("", false, Verdict::Accept),
            data("x\r\n"),
            line(""),
            line("b NOOP"),
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn a_refused_synchronizing_literal_ends_the_command() {
        let got = frames(LIMITS, b"a LOGIN {11}\r\nb NOOP\r\n");
        assert_eq!(
            got,
            vec![announce("a LOGIN ", true, Verdict::TooBig), line("b NOOP")]
        );
    }

    #[test]
    fn a_refused_non_synchronizing_literal_stops_framing() {
        let got = frames(LIMITS, b"a LOGIN {11+}\r\nhello world\r\nb NOOP\r\n");
        assert_eq!(got, vec![announce("a LOGIN ", false, Verdict::TooBig)]);
    }

    #[test]
    fn credentials_before_tls_are_refused_before_they_are_sent() {
        let limits = Limits {
            refuse_credentials: true,
            ..LIMITS
        };
        let got = frames(
            limits,
            b"a login {5}\r\nb NOOP {2}\r\nxy\r\nc LOGIN {3+}\r\npwd\r\n",
        );
        let expected = vec![
            announce("a login ", true, Verdict::PrivacyRequired),
            announce("b NOOP ", true, Verdict::Accept),
            data("xy"),
            line(""),
            announce("c LOGIN ", false, Verdict::Accept),
            data("pwd"),
            line(""),
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn the_limit_covers_the_whole_command() {
        let limits = Limits {
            max_line: 20,
            max_text: 20,
            ..LIMITS
        };
        // "a LOGIN {8}" is 11 octets, the literal 8: 19 fits in 20.
        let fits = frames(limits, b"a LOGIN {8}\r\n12345678\r\n");
        assert_eq!(fits.len(), 3);
        let over = frames(limits, b"a LOGIN {8}\r\n12345678 x\r\n");
        assert_eq!(over.last(), Some(&Frame::TooLong));
        let literal_over = frames(limits, b"a LOGIN {10}\r\n");
        assert_eq!(
            literal_over,
            vec![announce("a LOGIN ", true, Verdict::TooBig)]
        );
    }

    #[test]
    fn an_endless_line_is_never_buffered() {
        let mut framer = Framer::new(LIMITS);
        for _ in 0..1000 {
            framer.push(&[b'A'; 100]);
            assert!(framer.buffered() <= 102);
        }
        assert_eq!(framer.pop(), Some(Frame::TooLong));
    }

    #[test]
    fn buffered_counts_wire_octets() {
        let mut framer = Framer::new(LIMITS);
        framer.push(b"a X {3}\r\nab");
        assert_eq!(framer.buffered(), 11);
        framer.push(b"c\r\n");
        assert_eq!(framer.buffered(), 14);
        framer.pop();
        assert_eq!(framer.buffered(), 5);
    }
}
