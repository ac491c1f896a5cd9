//! ESMTP parameters on MAIL and RCPT (RFC 5321 §4.1.2 `Mail-parameters`,
//! RFC 6531 §3.3 for UTF-8 values), split into keyword and value before
//! each command types the ones it knows.

use super::SyntaxError;

/// One `keyword[=value]` parameter, such as `SIZE=1000` or `SMTPUTF8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Param {
    /// The keyword, upper-cased (keywords are case-insensitive).
    pub(super) keyword: String,
    /// The value as sent, if any.
    pub(super) value: Option<String>,
}

/// A keyword that takes no value was given one (RFC 6531 §3.4, RFC 8689 §4).
pub(super) const NO_VALUE: SyntaxError = SyntaxError::usage("This parameter takes no value");
/// A keyword that needs a value came without.
pub(super) const NEEDS_VALUE: SyntaxError = SyntaxError::usage("This parameter needs a value");
/// The same keyword twice: which one would count is anybody's guess.
pub(super) const DUPLICATE: SyntaxError = SyntaxError::usage("Duplicate parameter");

/// Parses what follows a path: nothing, or `SP param *(SP param)`.
pub(super) fn parse(tail: &str) -> Option<Vec<Param>> {
    if tail.is_empty() {
        return Some(Vec::new());
    }
    tail.strip_prefix(' ')?.split(' ').map(param).collect()
}

/// Fills an optional field once.
pub(super) fn set<T>(slot: &mut Option<T>, value: T) -> Result<(), SyntaxError> {
    if slot.is_some() {
        return Err(DUPLICATE);
    }
    *slot = Some(value);
    Ok(())
}

/// Sets a flag once.
pub(super) fn flag(slot: &mut bool) -> Result<(), SyntaxError> {
    if *slot {
        return Err(DUPLICATE);
    }
    *slot = true;
    Ok(())
}

fn param(s: &str) -> Option<Param> {
    let (keyword, value) = match s.split_once('=') {
        Some((keyword, value)) => (keyword, Some(value)),
        None => (s, None),
    };
    let valid = is_keyword(keyword) && value.is_none_or(is_value);
    valid.then(|| Param {
        keyword: keyword.to_ascii_uppercase(),
        value: value.map(str::to_owned),
    })
}

/// `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`.
fn is_keyword(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `esmtp-value = 1*(%d33-60 / %d62-126)`, plus UTF-8 (RFC 6531).
fn is_value(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c != '=' && (c.is_ascii_graphic() || !c.is_ascii()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(keyword: &str, value: Option<&str>) -> Param {
        Param {
            keyword: keyword.to_owned(),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn known_answers() {
        assert_eq!(parse(""), Some(vec![]));
        assert_eq!(parse(" SIZE=100"), Some(vec![p("SIZE", Some("100"))]));
        assert_eq!(
            parse(" body=8BITMIME smtputf8"),
            Some(vec![p("BODY", Some("8BITMIME")), p("SMTPUTF8", None)])
        );
        for bad in [
            "SIZE=1", " ", " SIZE=", "  SIZE=1", " -X", " A=b=c", " SIZE=1 ",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn set_once() {
        let mut slot = None;
        assert_eq!(set(&mut slot, 1), Ok(()));
        assert_eq!(set(&mut slot, 2), Err(DUPLICATE));
        let mut on = false;
        assert_eq!(flag(&mut on), Ok(()));
        assert_eq!(flag(&mut on), Err(DUPLICATE));
    }
}
