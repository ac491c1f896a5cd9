//! Paths and mailboxes (RFC 5321 §4.1.2, with RFC 6531 §3.3 UTF-8).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::strip_prefix_ci;

/// A mailbox from an SMTP path, in its wire form: a quoted local part keeps
/// its quotes and escapes. Normalising belongs to the address type that
/// consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// `Dot-string` or `Quoted-string`.
    pub local_part: String,
    /// A domain or an address literal.
    pub domain: String,
}

impl Mailbox {
    /// Whether the address is all ASCII; a UTF-8 one needs SMTPUTF8 (RFC
    /// 6531 §3.4).
    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii() && self.domain.is_ascii()
    }
}

/// The longest path, brackets included (RFC 5321 §4.5.3.1.3).
const MAX_PATH: usize = 256;

/// Splits `<...>` off the front of `s`: (inside the brackets, the rest).
/// A `>` inside a quoted local part does not close the path.
pub(super) fn take_path(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('<')?;
    let end = closing_bracket(inner)?;
    (end + 2 <= MAX_PATH).then(|| (&inner[..end], &inner[end + 1..]))
}

fn closing_bracket(s: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// The mailbox inside a path. A source route (`@a,@b:`) is accepted and
/// dropped, as RFC 5321 §4.1.2 and Appendix C require.
pub(super) fn mailbox(inner: &str) -> Option<Mailbox> {
    let (local_part, domain) = strip_source_route(inner)?.rsplit_once('@')?;
    let valid_domain = is_domain(domain) || is_address_literal(domain);
    (is_local_part(local_part) && valid_domain).then(|| Mailbox {
        local_part: local_part.to_owned(),
        domain: domain.to_owned(),
    })
}

fn strip_source_route(s: &str) -> Option<&str> {
    if !s.starts_with('@') {
        return Some(s);
    }
    let (route, rest) = s.split_once(':')?;
    let valid = route
        .split(',')
        .all(|hop| hop.strip_prefix('@').is_some_and(is_domain));
    valid.then_some(rest)
}

fn is_local_part(s: &str) -> bool {
    is_dot_string(s) || is_quoted_string(s)
}

fn is_dot_string(s: &str) -> bool {
    s.split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// `atext` (RFC 5322 §3.2.3) plus UTF-8 (RFC 6531 §3.3).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// `DQUOTE *QcontentSMTP DQUOTE`, where a backslash quotes any printable
/// ASCII character.
fn is_quoted_string(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return false;
    };
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let ok = match c {
            '\\' => chars.next().is_some_and(|q| (' '..='~').contains(&q)),
            '"' => false,
            c => c == ' ' || c.is_ascii_graphic() || !c.is_ascii(),
        };
        if !ok {
            return false;
        }
    }
    true
}

/// `sub-domain *("." sub-domain)` with `Let-dig [Ldh-str]` labels of at
/// most 63 octets and 255 in all (RFC 5321 §4.5.3.1.2); U-labels pass.
pub(super) fn is_domain(s: &str) -> bool {
    s.len() <= 255 && s.split('.').all(is_label)
}

fn is_label(label: &str) -> bool {
    let letter_or_digit = |c: char| c.is_ascii_alphanumeric() || !c.is_ascii();
    !label.is_empty()
        && label.len() <= 63
        && label.starts_with(letter_or_digit)
        && label.ends_with(letter_or_digit)
        && label.chars().all(|c| letter_or_digit(c) || c == '-')
}

/// `"[" (IPv4 / "IPv6:" IPv6 / tag ":" dcontent) "]"` (RFC 5321 §4.1.3).
pub(super) fn is_address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    if let Some(v6) = strip_prefix_ci(inner, "IPv6:") {
        return v6.parse::<Ipv6Addr>().is_ok();
    }
    inner.parse::<Ipv4Addr>().is_ok() || is_general_literal(inner)
}

fn is_general_literal(s: &str) -> bool {
    let Some((tag, content)) = s.split_once(':') else {
        return false;
    };
    let dcontent = |c: char| matches!(c, '!'..='Z' | '^'..='~');
    is_label(tag)
        && !tag.chars().all(|c| c.is_ascii_digit())
        && !content.is_empty()
        && content.chars().all(dcontent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(local: &str, domain: &str) -> Option<Mailbox> {
        Some(Mailbox {
            local_part: local.to_owned(),
            domain: domain.to_owned(),
        })
    }

    #[test]
    fn mailboxes() {
        assert_eq!(mailbox("alice@example.org"), mb("alice", "example.org"));
        assert_eq!(mailbox("a.b+tag@x.y"), mb("a.b+tag", "x.y"));
        assert_eq!(
            mailbox("\"a b@c\"@example.org"),
            mb("\"a b@c\"", "example.org")
        );
        assert_eq!(mailbox("\"a\\\"b\"@x"), mb("\"a\\\"b\"", "x"));
        assert_eq!(
            mailbox("@relay.example,@r2.example:bob@x.y"),
            mb("bob", "x.y")
        );
        assert_eq!(mailbox("user@[192.0.2.1]"), mb("user", "[192.0.2.1]"));
        assert_eq!(
            mailbox("jöran@bücher.example"),
            mb("jöran", "bücher.example")
        );
        for bad in [
            "alice",
            "@x.y",
            "alice@",
            "a..b@x",
            ".a@x",
            "a b@x",
            "a@-x.y",
            "a@x-.y",
            "a@x..y",
            "@:a@x",
            "@bad_hop:a@x",
            "\"unterminated@x",
            "a@[1.2.3]",
            "a@[IPv6:zz]",
        ] {
            assert_eq!(mailbox(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths_end_at_the_first_unquoted_bracket() {
        assert_eq!(take_path("<a@b> SIZE=1"), Some(("a@b", " SIZE=1")));
        assert_eq!(take_path("<\"x>y\"@b>"), Some(("\"x>y\"@b", "")));
        assert_eq!(take_path("<>"), Some(("", "")));
        assert_eq!(take_path("a@b"), None);
        assert_eq!(take_path("<a@b"), None);
        let long = format!("<{}@example.org>", "a".repeat(250));
        assert_eq!(take_path(&long), None);
    }

    #[test]
    fn address_literals() {
        assert!(is_address_literal("[IPv6:::1]"));
        assert!(is_address_literal("[ipv6:2001:db8::1]"));
        assert!(is_address_literal("[x-tag:anything]"));
        assert!(!is_address_literal("[]"));
        assert!(!is_address_literal("[256.1.1.1]"));
        assert!(!is_address_literal("192.0.2.1"));
    }
}
