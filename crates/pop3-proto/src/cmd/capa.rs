//! CAPA (RFC 2449 §5).

use super::{no_args, Request, SyntaxError};

/// `CAPA` takes no argument.
pub(super) fn parse(args: Option<&str>) -> Result<Request, SyntaxError> {
    no_args(args, "Syntax: CAPA").map(|()| Request::Capa)
}

#[cfg(test)]
mod tests {
    use crate::cmd::{parse, Request, SyntaxError};

    #[test]
    fn known_answers() {
        assert_eq!(parse(b"CAPA"), Ok(Request::Capa));
        assert_eq!(parse(b"Capa"), Ok(Request::Capa));
        assert_eq!(
            parse(b"CAPA all"),
            Err(SyntaxError::Arguments("Syntax: CAPA"))
        );
    }
}
