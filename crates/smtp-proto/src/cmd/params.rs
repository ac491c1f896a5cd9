//! ESMTP parameters on MAIL and RCPT (RFC 5321 §4.1.2 `Mail-parameters`,
//! RFC 6531 §3.3 for UTF-8 values).

/// One `keyword[=value]` parameter, such as `SIZE=1000` or `SMTPUTF8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The keyword, upper-cased (keywords are case-insensitive).
    pub keyword: String,
    /// The value as sent, if any.
    pub value: Option<String>,
}

/// Parses what follows a path: nothing, or `SP param *(SP param)`.
pub(super) fn parse(tail: &str) -> Option<Vec<Param>> {
    if tail.is_empty() {
        return Some(Vec::new());
    }
    tail.strip_prefix(' ')?.split(' ').map(param).collect()
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
}
