//! STARTTLS (RFC 9051 §6.2.1).

use super::{no_args, Request};
use crate::syntax::Part;

pub(super) fn parse(rest: &[Part]) -> Result<Request, &'static str> {
    no_args(rest, Request::StartTls, "STARTTLS takes no arguments")
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::{parse, tag};
    use crate::cmd::{Command, ParseError, Request};

    #[test]
    fn known_answers() {
        let ok = Ok(Command {
            tag: tag("a"),
            request: Request::StartTls,
        });
        assert_eq!(parse("a STARTTLS"), ok);
        assert_eq!(parse("a starttls"), ok);
        let bad = Err(ParseError::Tagged(tag("a"), "STARTTLS takes no arguments"));
        assert_eq!(parse("a STARTTLS x"), bad);
    }
}
