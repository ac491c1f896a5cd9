//! NOOP, RSET, HELP and QUIT (RFC 5321 §4.1.1.5, 4.1.1.8-10).

use super::{no_args, Request, SyntaxError};

/// `NOOP [SP String]`: the argument is allowed and ignored (§4.1.1.9).
pub(super) const fn noop(_args: Option<&str>) -> Request {
    Request::Noop
}

/// `HELP [SP String]`: we give the same answer whatever the topic.
pub(super) const fn help(_args: Option<&str>) -> Request {
    Request::Help
}

/// `RSET` takes no argument (§4.1.1.5).
pub(super) fn rset(args: Option<&str>) -> Result<Request, SyntaxError> {
    no_args(args, "Syntax: RSET").map(|()| Request::Rset)
}

/// `QUIT` takes no argument (§4.1.1.10).
pub(super) fn quit(args: Option<&str>) -> Result<Request, SyntaxError> {
    no_args(args, "Syntax: QUIT").map(|()| Request::Quit)
}

#[cfg(test)]
mod tests {
    use crate::cmd::{parse, Request, SyntaxError};

    #[test]
    fn known_answers() {
        let cases: &[(&[u8], Result<Request, SyntaxError>)] = &[
            (b"NOOP", Ok(Request::Noop)),
            (b"NOOP anything at all", Ok(Request::Noop)),
            (b"HELP", Ok(Request::Help)),
            (b"HELP MAIL", Ok(Request::Help)),
            (b"RSET", Ok(Request::Rset)),
            (b"RSET ", Ok(Request::Rset)),
            (b"RSET now", Err(SyntaxError::usage("Syntax: RSET"))),
            (b"QUIT", Ok(Request::Quit)),
            (b"QUIT please", Err(SyntaxError::usage("Syntax: QUIT"))),
        ];
        for (line, expected) in cases {
            let expected = expected.clone();
            assert_eq!(parse(line), expected, "{}", String::from_utf8_lossy(line));
        }
    }
}
