//! NOOP and QUIT (RFC 1939 §5-6).

use super::{no_args, Request, SyntaxError};

/// `NOOP`.
pub(super) fn noop(args: Option<&str>) -> Result<Request, SyntaxError> {
    no_args(args, "Syntax: NOOP").map(|()| Request::Noop)
}

/// `QUIT`.
pub(super) fn quit(args: Option<&str>) -> Result<Request, SyntaxError> {
    no_args(args, "Syntax: QUIT").map(|()| Request::Quit)
}

#[cfg(test)]
mod tests {
    use crate::cmd::{parse, Request, SyntaxError};

    #[test]
    fn known_answers() {
        assert_eq!(parse(b"NOOP"), Ok(Request::Noop));
        assert_eq!(parse(b"noop "), Ok(Request::Noop));
        assert_eq!(parse(b"QUIT"), Ok(Request::Quit));
        assert_eq!(
            parse(b"NOOP x"),
            Err(SyntaxError::Arguments("Syntax: NOOP"))
        );
        assert_eq!(
            parse(b"QUIT now"),
            Err(SyntaxError::Arguments("Syntax: QUIT"))
        );
    }
}
