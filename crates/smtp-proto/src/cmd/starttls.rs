//! STARTTLS (RFC 3207 §4).

use super::{no_args, Request, SyntaxError};

/// `STARTTLS` takes no parameters; RFC 3207 §4 answers any with
/// `501 Syntax error (no parameters allowed)`.
pub(super) fn parse(args: Option<&str>) -> Result<Request, SyntaxError> {
    no_args(args, "Syntax error (no parameters allowed)").map(|()| Request::StartTls)
}

#[cfg(test)]
mod tests {
    use crate::cmd::{parse, Request, SyntaxError};

    #[test]
    fn known_answers() {
        assert_eq!(parse(b"STARTTLS"), Ok(Request::StartTls));
        assert_eq!(parse(b"starttls"), Ok(Request::StartTls));
        assert_eq!(
            parse(b"STARTTLS now"),
            Err(SyntaxError::usage("Syntax error (no parameters allowed)"))
        );
    }
}
