//! DATA (RFC 5321 §4.1.1.4). The message body itself is read by a later
//! slice of the core, once the session has answered 354.

use super::{no_args, Command, SyntaxError};

/// `DATA` takes no argument.
pub(super) fn parse(args: Option<&str>) -> Result<Command, SyntaxError> {
    no_args(args, "Syntax: DATA").map(|()| Command::Data)
}

#[cfg(test)]
mod tests {
    use crate::cmd::{parse, Command, Request, SyntaxError};

    #[test]
    fn known_answers() {
        assert_eq!(parse(b"DATA"), Ok(Request::Session(Command::Data)));
        assert_eq!(parse(b"data  "), Ok(Request::Session(Command::Data)));
        assert_eq!(parse(b"DATA x"), Err(SyntaxError::usage("Syntax: DATA")));
    }
}
