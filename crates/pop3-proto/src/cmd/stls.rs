//! STLS (RFC 2595 §4).

use super::{no_args, Request, SyntaxError};

/// `STLS` takes no argument.
pub(super) fn parse(args: Option<&str>) -> Result<Request, SyntaxError> {
    no_args(args, "Syntax: STLS").map(|()| Request::Stls)
}

#[cfg(test)]
mod tests {
    use crate::cmd::{parse, Request, SyntaxError};

    #[test]
    fn known_answers() {
        assert_eq!(parse(b"STLS"), Ok(Request::Stls));
        assert_eq!(parse(b"stls"), Ok(Request::Stls));
        assert_eq!(
            parse(b"STLS x"),
            Err(SyntaxError::Arguments("Syntax: STLS"))
        );
    }
}
