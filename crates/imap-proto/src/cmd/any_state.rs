//! The commands valid in any state: CAPABILITY, NOOP, LOGOUT (RFC 9051
//! §6.1). None takes an argument.

use super::{no_args, Request};
use crate::syntax::Part;

pub(super) fn capability(rest: &[Part]) -> Result<Request, &'static str> {
    no_args(rest, Request::Capability, "CAPABILITY takes no arguments")
}

pub(super) fn noop(rest: &[Part]) -> Result<Request, &'static str> {
    no_args(rest, Request::Noop, "NOOP takes no arguments")
}

pub(super) fn logout(rest: &[Part]) -> Result<Request, &'static str> {
    no_args(rest, Request::Logout, "LOGOUT takes no arguments")
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::{parse, tag};
    use crate::cmd::{Command, ParseError, Request};

    #[test]
    fn known_answers() {
        let ok = |t: &str, request| {
            Ok(Command {
                tag: tag(t),
                request,
            })
        };
        assert_eq!(parse("a1 CAPABILITY"), ok("a1", Request::Capability));
        assert_eq!(parse("A2 capability"), ok("A2", Request::Capability));
        assert_eq!(parse("a3 NOOP"), ok("a3", Request::Noop));
        assert_eq!(parse("a4 Logout"), ok("a4", Request::Logout));
        let bad = |t| Err(ParseError::Tagged(tag("a"), t));
        assert_eq!(
            parse("a CAPABILITY x"),
            bad("CAPABILITY takes no arguments")
        );
        assert_eq!(parse("a NOOP "), bad("NOOP takes no arguments"));
        assert_eq!(parse("a LOGOUT now"), bad("LOGOUT takes no arguments"));
    }
}
