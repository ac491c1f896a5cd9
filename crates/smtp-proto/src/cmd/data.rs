//! DATA (RFC 5321 §4.1.1.4). The body that follows the `354` is read by
//! `dot` (dot-unstuffing and the end of data).

use super::{no_args, Request, SyntaxError};

/// `DATA` takes no argument.
pub(super) fn parse(args: Option<&str>) -> Result<Request, SyntaxError> {
    no_args(args, "Syntax: DATA").map(|()| Request::Data)
}

#[cfg(test)]
mod tests {
    use crate::cmd::{parse, Request, SyntaxError};

    #[test]
    fn known_answers() {
        assert_eq!(parse(b"DATA"), Ok(Request::Data));
        assert_eq!(parse(b"data  "), Ok(Request::Data));
        assert_eq!(parse(b"DATA x"), Err(SyntaxError::usage("Syntax: DATA")));
    }
}
