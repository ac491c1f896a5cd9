//! BDAT (RFC 3030 §2, CHUNKING).

use super::SyntaxError;

/// `BDAT chunk-size [SP "LAST"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bdat {
    /// Octets of message data that follow the command line.
    pub size: u64,
    /// This is the last chunk of the message.
    pub last: bool,
}

/// Parses the arguments. `chunk-size = 1*DIGIT`: no sign, no blanks (Rust's
/// `u64::from_str` would accept a `+`, so digits are checked first).
pub(super) fn parse(args: Option<&str>) -> Result<Bdat, SyntaxError> {
    let args = args.ok_or(SyntaxError::ChunkSize)?;
    let (size, last) = match args.split_once(' ') {
        Some((size, last)) if last.eq_ignore_ascii_case("LAST") => (size, true),
        Some(_) => return Err(SyntaxError::ChunkSize),
        None => (args, false),
    };
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SyntaxError::ChunkSize);
    }
    let size = size.parse().map_err(|_| SyntaxError::ChunkSize)?;
    Ok(Bdat { size, last })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{parse as parse_line, Request};

    #[test]
    fn known_answers() {
        let bdat = |size, last| Ok(Request::Bdat(Bdat { size, last }));
        assert_eq!(parse_line(b"BDAT 1000"), bdat(1000, false));
        assert_eq!(parse_line(b"bdat 0 last"), bdat(0, true));
        assert_eq!(
            parse_line(b"BDAT 18446744073709551615 LAST"),
            bdat(u64::MAX, true)
        );
        for bad in [
            &b"BDAT"[..],
            b"BDAT x",
            b"BDAT +5",
            b"BDAT -5",
            b"BDAT 5 FIRST",
            b"BDAT 5 LAST x",
            b"BDAT  5",
            b"BDAT 18446744073709551616",
        ] {
            assert_eq!(parse_line(bad), Err(SyntaxError::ChunkSize), "{bad:?}");
        }
    }
}
