//! The mailbox commands: STAT, LIST, RETR, DELE, RSET (RFC 1939 §5), TOP
//! and UIDL (§7). The session answers them; the core only splits their
//! arguments.

use super::{Request, SyntaxError, Verb};

/// Splits the arguments at spaces (RFC 1939 §3: separated by a single
/// space; blanks at the ends are tolerated).
pub(super) fn parse(verb: Verb, args: Option<&str>) -> Result<Request, SyntaxError> {
    let args: Vec<String> = args
        .unwrap_or("")
        .split(' ')
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Request::Mailbox { verb, args })
}

#[cfg(test)]
mod tests {
    use crate::cmd::{parse, Request, Verb};

    fn mailbox(verb: Verb, args: &[&str]) -> Request {
        let args = args.iter().map(|a| (*a).to_owned()).collect();
        Request::Mailbox { verb, args }
    }

    #[test]
    fn known_answers() {
        assert_eq!(parse(b"STAT"), Ok(mailbox(Verb::Stat, &[])));
        assert_eq!(parse(b"list 2"), Ok(mailbox(Verb::List, &["2"])));
        assert_eq!(parse(b"TOP 1 10"), Ok(mailbox(Verb::Top, &["1", "10"])));
        assert_eq!(parse(b"UIDL "), Ok(mailbox(Verb::Uidl, &[])));
        assert_eq!(parse(b"RETR 1"), Ok(mailbox(Verb::Retr, &["1"])));
        assert_eq!(parse(b"DELE 3"), Ok(mailbox(Verb::Dele, &["3"])));
        assert_eq!(parse(b"RSET"), Ok(mailbox(Verb::Rset, &[])));
    }
}
