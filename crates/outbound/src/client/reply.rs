//! SMTP replies (RFC 5321 §4.2), parsed from bytes without I/O.
//!
//! The parser is fed whatever the socket returned and hands back complete
//! replies; a multiline reply (`250-...` lines then `250 ...`) is one
//! [`Reply`]. Replies are bounded: a peer cannot make us buffer without end.

use std::fmt;

/// Longest reply line accepted. RFC 5321 §4.5.3.1.5 says 512 octets; real
/// servers send longer EHLO lines, so we allow eight times that.
pub const MAX_LINE: usize = 4096;
/// Most lines in one reply (a long EHLO list has ~20).
pub const MAX_LINES: usize = 128;

/// One complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line, without the code and separator.
    pub lines: Vec<String>,
}

/// What a reply means to the client (RFC 5321 §4.2.1, first digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2yz
    Positive,
    /// 3yz
    Intermediate,
    /// 4yz: try again later.
    Transient,
    /// 5yz: do not try again.
    Permanent,
}

impl Reply {
    /// A reply made up locally (for example for a connection that broke),
    /// so that every recipient result carries one.
    pub fn local(code: u16, text: impl Into<String>) -> Self {
        Self {
            code,
            lines: vec![text.into()],
        }
    }

    pub fn class(&self) -> Class {
        match self.code / 100 {
            2 => Class::Positive,
            3 => Class::Intermediate,
            4 => Class::Transient,
            _ => Class::Permanent,
        }
    }

    pub fn is_positive(&self) -> bool {
        self.class() == Class::Positive
    }

    /// The enhanced status code (RFC 3463) at the start of the first line,
    /// if the peer sent one whose class agrees with the reply code.
    pub fn enhanced(&self) -> Option<&str> {
        let first = self.lines.first()?;
        let word = first.split(' ').next()?;
        let mut parts = word.split('.');
        let class = parts.next()?;
        let ok = class.len() == 1
            && u16::from(class.as_bytes()[0].wrapping_sub(b'0')) == self.code / 100
            && parts.clone().count() == 2
            && parts
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
        ok.then_some(word)
    }

    /// The status for a DSN (RFC 3464 §2.3.4): the enhanced code, else one
    /// derived from the reply class.
    pub fn status(&self) -> String {
        match self.enhanced() {
            Some(e) => e.to_owned(),
            None => format!("{}.0.0", self.code / 100),
        }
    }

    /// The reply on one line, for logs and diagnostics.
    pub fn one_line(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.one_line())
    }
}

/// Why the peer's bytes are not SMTP replies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply line longer than {MAX_LINE} octets")]
    LineTooLong,
    #[error("reply with more than {MAX_LINES} lines")]
    TooManyLines,
    #[error("malformed reply line {0:?}")]
    Malformed(String),
    #[error("multiline reply changed its code from {0} to {1}")]
    CodeChanged(u16, u16),
}

/// Turns bytes into replies.
#[derive(Debug, Default)]
pub struct ReplyParser {
    buf: Vec<u8>,
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the peer.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether bytes are buffered past the last complete reply (a peer
    /// that talks ahead of us, which matters right after STARTTLS).
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty() || !self.lines.is_empty()
    }

    /// The next complete reply, `None` if more bytes are needed.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.buf.drain(..=end).collect();
            // Tolerate a bare LF from sloppy peers; we only read here.
            let line = raw
                .strip_suffix(b"\r\n")
                .or_else(|| raw.strip_suffix(b"\n"));
            let line = line.unwrap_or(&raw);
            if let Some(reply) = self.line(line)? {
                return Ok(Some(reply));
            }
        }
        // A CR last may be the first half of the CRLF ending a line of
        // exactly MAX_LINE octets: not too long yet, whatever the cut.
        let partial = self.buf.len() - usize::from(self.buf.last() == Some(&b'\r'));
        if partial > MAX_LINE {
            return Err(ReplyError::LineTooLong);
        }
        Ok(None)
    }

    fn line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        if line.len() > MAX_LINE {
            return Err(ReplyError::LineTooLong);
        }
        let text = String::from_utf8_lossy(line);
        let malformed = || ReplyError::Malformed(text.chars().take(80).collect());
        let (code, sep, rest) = split_line(line).ok_or_else(malformed)?;
        if let Some(prev) = self.code {
            if prev != code {
                return Err(ReplyError::CodeChanged(prev, code));
            }
        }
        if self.lines.len() >= MAX_LINES {
            return Err(ReplyError::TooManyLines);
        }
        self.code = Some(code);
        self.lines.push(String::from_utf8_lossy(rest).into_owned());
        if sep == b'-' {
            return Ok(None);
        }
        let lines = std::mem::take(&mut self.lines);
        self.code = None;
        Ok(Some(Reply { code, lines }))
    }
}

/// `250-text`, `250 text` or a bare `250` (RFC 5321 §4.2: the text is
/// optional on the last line).
fn split_line(line: &[u8]) -> Option<(u16, u8, &[u8])> {
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = line[..3]
        .iter()
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    if !(200..600).contains(&code) {
        return None;
    }
    match line.get(3) {
        None => Some((code, b' ', &[])),
        Some(&sep @ (b' ' | b'-')) => Some((code, sep, &line[4..])),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Reply>, ReplyError> {
        let mut p = ReplyParser::new();
        let mut out = Vec::new();
        // One byte at a time: the parser must not care where reads split.
        for b in input {
            p.feed(std::slice::from_ref(b));
            while let Some(r) = p.next_reply()? {
                out.push(r);
            }
        }
        Ok(out)
    }

    #[test]
    fn single_and_multiline_replies() {
        let r = parse_all(
            b"220 mx.example ESMTP\r\n250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n354\r\n",
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].code, 220);
        assert_eq!(r[1].lines, ["mx.example", "PIPELINING", "SIZE 100"]);
        assert_eq!(r[2].code, 354);
        assert_eq!(r[2].lines, [""]);
        assert_eq!(r[2].class(), Class::Intermediate);
    }

    #[test]
    fn enhanced_codes_must_agree_with_the_class() {
        let r = Reply::local(550, "5.1.1 no such user");
        assert_eq!(r.enhanced(), Some("5.1.1"));
        assert_eq!(r.status(), "5.1.1");
        let wrong = Reply::local(450, "5.1.1 odd");
        assert_eq!(wrong.enhanced(), None);
        assert_eq!(wrong.status(), "4.0.0");
        assert_eq!(Reply::local(250, "ok").enhanced(), None);
    }

    #[test]
    fn garbage_and_code_changes_are_errors() {
        assert!(matches!(
            parse_all(b"hello\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_all(b"099 x\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert_eq!(
            parse_all(b"250-a\r\n251 b\r\n"),
            Err(ReplyError::CodeChanged(250, 251))
        );
        assert!(matches!(
            parse_all(b"250x\r\n"),
            Err(ReplyError::Malformed(_))
        ));
    }

    #[test]
    fn limits_hold() {
        let long = vec![b'2'; MAX_LINE + 10];
        assert_eq!(parse_all(&long), Err(ReplyError::LineTooLong));
        let many = b"250-x\r\n".repeat(MAX_LINES + 1);
        assert_eq!(parse_all(&many), Err(ReplyError::TooManyLines));
    }

    #[test]
    fn bytes_after_a_reply_stay_buffered() {
        let mut p = ReplyParser::new();
        p.feed(b"220 go ahead\r\n250 early");
        assert_eq!(p.next_reply().unwrap().unwrap().code, 220);
        assert!(p.has_buffered());
        assert_eq!(p.next_reply().unwrap(), None);
    }
}
