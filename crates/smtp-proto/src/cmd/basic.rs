//! NOOP, RSET, HELP and QUIT (RFC 5321 §4.1.1.5, 4.1.1.8-10).

use super::{no_args, CoreCommand, SyntaxError};

/// `NOOP [SP String]`: the argument is allowed and ignored (§4.1.1.9).
pub(super) const fn noop(_args: Option<&str>) -> CoreCommand {
    CoreCommand::Noop
}

/// `HELP [SP String]`: we give the same answer whatever the topic.
pub(super) const fn help(_args: Option<&str>) -> CoreCommand {
    CoreCommand::Help
}

/// `RSET` takes no argument (§4.1.1.5).
pub(super) fn rset(args: Option<&str>) -> Result<CoreCommand, SyntaxError> {
    no_args(args, "Syntax: RSET").map(|()| CoreCommand::Rset)
}

/// `QUIT` takes no argument (§4.1.1.10).
pub(super) fn quit(args: Option<&str>) -> Result<CoreCommand, SyntaxError> {
    no_args(args, "Syntax: QUIT").map(|()| CoreCommand::Quit)
}

#[cfg(test)]
mod tests {
    use crate::cmd::{parse, CoreCommand, Request, SyntaxError};

    #[test]
    fn known_answers() {
        let cases: &[(&[u8], Result<CoreCommand, SyntaxError>)] = &[
            (b"NOOP", Ok(CoreCommand::Noop)),
            (b"NOOP anything at all", Ok(CoreCommand::Noop)),
            (b"HELP", Ok(CoreCommand::Help)),
            (b"HELP MAIL", Ok(CoreCommand::Help)),
            (b"RSET", Ok(CoreCommand::Rset)),
            (b"RSET ", Ok(CoreCommand::Rset)),
            (b"RSET now", Err(SyntaxError::usage("Syntax: RSET"))),
            (b"QUIT", Ok(CoreCommand::Quit)),
            (b"QUIT please", Err(SyntaxError::usage("Syntax: QUIT"))),
        ];
        for (line, expected) in cases {
            let expected = expected.clone().map(Request::Core);
            assert_eq!(parse(line), expected, "{}", String::from_utf8_lossy(line));
        }
    }
}
