//! Flags between IMAP syntax and the store (RFC 9051 §2.3.2).

use postern_imap_proto::Data;
use postern_store::Flag;

/// The flags every mailbox has (`* FLAGS`).
pub(super) const SYSTEM: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

/// A flag as the client wrote it. `\Recent` is dropped (the server sets
/// it, RFC 3501 §2.3.2); another unknown system flag is an error.
pub(super) fn parse(flag: &str) -> Result<Option<Flag>, String> {
    let Some(system) = flag.strip_prefix('\\') else {
        return Ok(Some(Flag::Keyword(flag.to_owned())));
    };
    Ok(Some(match system.to_ascii_lowercase().as_str() {
        "seen" => Flag::Seen,
        "answered" => Flag::Answered,
        "flagged" => Flag::Flagged,
        "deleted" => Flag::Deleted,
        "draft" => Flag::Draft,
        "recent" => return Ok(None),
        _ => return Err(format!("Unknown system flag {flag}")),
    }))
}

/// Every flag of a list, or the first bad one's error.
pub(super) fn parse_all(flags: &[String]) -> Result<Vec<Flag>, String> {
    let mut out = Vec::new();
    for f in flags {
        out.extend(parse(f)?);
    }
    Ok(out)
}

/// A flag's IMAP name.
pub(super) fn name(flag: &Flag) -> &str {
    match flag {
        Flag::Seen => "\\Seen",
        Flag::Answered => "\\Answered",
        Flag::Flagged => "\\Flagged",
        Flag::Deleted => "\\Deleted",
        Flag::Draft => "\\Draft",
        Flag::Keyword(k) => k,
    }
}

/// `(flag flag ...)`, with `\Recent` last if `recent` (a session's
/// own, never stored: RFC 3501 §2.3.2).
pub(super) fn write(d: &mut Data, flags: &[Flag], recent: bool) {
    d.open();
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            d.sp();
        }
        d.raw(name(f));
    }
    if recent {
        if !flags.is_empty() {
            d.sp();
        }
        d.raw("\\Recent");
    }
    d.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(parse("\\SEEN"), Ok(Some(Flag::Seen)));
        assert_eq!(parse("\\Recent"), Ok(None));
        assert_eq!(parse("$Junk"), Ok(Some(Flag::Keyword("$Junk".into()))));
        assert!(parse("\\Bogus").is_err());
        let mut d = Data::new();
        write(&mut d, &[Flag::Seen, Flag::Keyword("$x".into())], false);
        assert_eq!(d.as_bytes(), b"(\\Seen $x)");
        let mut d = Data::new();
        write(&mut d, &[Flag::Seen], true);
        assert_eq!(d.as_bytes(), b"(\\Seen \\Recent)");
        let mut d = Data::new();
        write(&mut d, &[], true);
        assert_eq!(d.as_bytes(), b"(\\Recent)");
    }
}
