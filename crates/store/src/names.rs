//! Validation and normalisation of the names the store keeps: domains,
//! addresses and mailbox names.
//!
//! Every back end calls these before touching its tables, so that SQLite
//! and PostgreSQL accept and refuse exactly the same names.
//!
//! # Layout
//! - [`domain`]: a mail domain, lowercased.
//! - [`address`] / [`alias_address`]: `local@domain`, lowercased; the alias
//!   form also takes the catch-all `@domain`.
//! - [`mailbox_name`]: a mailbox's full name, with `INBOX` normalised.
//! - [`flags`]: a flag list made canonical (sorted, deduplicated).

use crate::error::{StoreError, StoreResult};
use crate::model::Flag;

/// RFC 5321 §4.5.3.1.1: at most 64 octets in a local part.
const MAX_LOCAL: usize = 64;
/// RFC 1035 §2.3.4: at most 253 characters in a name (255 octets on the
/// wire), at most 63 in a label.
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;
/// Dovecot's default `mailbox_list_name_max_length`-like bound: long enough
/// for deep hierarchies, short enough that a name never dominates a line.
const MAX_MAILBOX: usize = 1000;

/// A validated, lowercased address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `local@domain` (or `@domain` for a catch-all).
    pub full: String,
    /// The part before `@`; empty for a catch-all.
    pub local: String,
    /// The part after `@`.
    pub domain: String,
}

impl Address {
    /// Whether this is a domain's catch-all (`@example.com`).
    pub fn is_catch_all(&self) -> bool {
        self.local.is_empty()
    }
}

fn invalid(what: &str, input: &str, why: &str) -> StoreError {
    StoreError::Invalid {
        what: format!("{what} {input:?}"),
        why: why.to_owned(),
    }
}

/// A mail domain: lowercased, dot-separated labels of letters, digits and
/// hyphens (Unicode letters are kept for internationalised names).
pub fn domain(input: &str) -> StoreResult<String> {
    let lower = input.to_lowercase();
    let bad = |why| Err(invalid("domain", input, why));
    if lower.is_empty() || lower.len() > MAX_DOMAIN {
        return bad("must be 1 to 253 characters");
    }
    for label in lower.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL {
            return bad("each dot-separated label must be 1 to 63 characters");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label may not start or end with '-'");
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return bad("only letters, digits, '-' and '.' are allowed");
        }
    }
    Ok(lower)
}

/// An account's address: exactly one `@`, a non-empty local part.
pub fn address(input: &str) -> StoreResult<Address> {
    let parsed = alias_address(input)?;
    if parsed.is_catch_all() {
        return Err(invalid("address", input, "the local part is empty"));
    }
    Ok(parsed)
}

/// An alias's address: like [`address`], or `@domain` for the catch-all.
pub fn alias_address(input: &str) -> StoreResult<Address> {
    let lower = input.to_lowercase();
    let Some((local, dom)) = lower.split_once('@') else {
        return Err(invalid("address", input, "it has no '@'"));
    };
    if dom.contains('@') {
        return Err(invalid("address", input, "it has more than one '@'"));
    }
    check_local(input, local)?;
    let domain = domain(dom)?;
    Ok(Address {
        full: format!("{local}@{domain}"),
        local: local.to_owned(),
        domain,
    })
}

/// RFC 5322 §3.2.3 dot-atom (atext and dots, no leading, trailing or double
/// dot), plus UTF-8 (RFC 6531). Quoted local parts are not accepted for
/// accounts: they invite look-alike and injection tricks for no real use.
fn check_local(input: &str, local: &str) -> StoreResult<()> {
    if local.is_empty() {
        return Ok(());
    }
    let bad = |why| Err(invalid("address", input, why));
    if local.len() > MAX_LOCAL {
        return bad("the local part is longer than 64 octets");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad("the local part has a leading, trailing or double '.'");
    }
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    if !local
        .chars()
        .all(|c| atext(c) || (!c.is_ascii() && !c.is_control()))
    {
        return bad("the local part has a character outside RFC 5322 atext");
    }
    Ok(())
}

/// A mailbox's full name, `/` separating levels. Any capitalisation of
/// `INBOX` is the INBOX (RFC 9051 §5.1) and becomes `INBOX`.
pub fn mailbox_name(input: &str) -> StoreResult<String> {
    let bad = |why| Err(invalid("mailbox name", input, why));
    if input.is_empty() || input.len() > MAX_MAILBOX {
        return bad("must be 1 to 1000 bytes");
    }
    if input.chars().any(char::is_control) {
        return bad("control characters are not allowed");
    }
    // `*` and `%` are LIST wildcards (RFC 9051 §6.3.9): a name holding one
    // could not be listed unambiguously.
    if input.contains(['*', '%']) {
        return bad("'*' and '%' are not allowed");
    }
    if input.split('/').any(str::is_empty) {
        return bad("no level may be empty (leading, trailing or double '/')");
    }
    if input.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".to_owned());
    }
    Ok(input.to_owned())
}

/// Flags in their canonical form: sorted by [`Flag`]'s order, each once
/// (keywords compared without case, the first spelling kept).
/// Keywords are kept byte for byte; an empty or control-character keyword
/// is refused.
pub fn flags(input: &[Flag]) -> StoreResult<Vec<Flag>> {
    for flag in input {
        if let Flag::Keyword(k) = flag {
            if k.is_empty() || k.chars().any(char::is_control) {
                return Err(invalid("keyword", k, "empty or has control characters"));
            }
        }
    }
    Ok(crate::model::canonical(input.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FlagOp;

    #[test]
    fn addresses_are_lowercased_and_checked() {
        let a = address("Alice.B@Example.COM").unwrap();
        assert_eq!(a.full, "alice.b@example.com");
        assert_eq!(a.domain, "example.com");
        for bad in [
            "alice",
            "@example.com",
            "a@b@c",
            "a b@x.org",
            ".a@x.org",
            "a..b@x.org",
            "a@",
            "a@-x.org",
            "a@x..org",
            "a\0@x.org",
        ] {
            assert!(address(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn catch_all_is_an_alias_address_only() {
        assert!(alias_address("@Example.com").unwrap().is_catch_all());
        assert!(address("@example.com").is_err());
    }

    #[test]
    fn mailbox_names() {
        assert_eq!(mailbox_name("inbox").unwrap(), "INBOX");
        assert_eq!(mailbox_name("Archive/2026").unwrap(), "Archive/2026");
        for bad in ["", "/a", "a/", "a//b", "a*", "a%b", "a\nb"] {
            assert!(mailbox_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn flags_are_canonical() {
        let got = flags(&[
            Flag::Keyword("$Junk".into()),
            Flag::Seen,
            Flag::Keyword("$Junk".into()),
            Flag::Draft,
        ])
        .unwrap();
        assert_eq!(
            got,
            [Flag::Seen, Flag::Draft, Flag::Keyword("$Junk".into())]
        );
        assert!(flags(&[Flag::Keyword(String::new())]).is_err());
        // RFC 9051 §2.3.2: keywords are case-insensitive; the first
        // spelling is kept, and +FLAGS of another spelling adds nothing.
        let k = |s: &str| Flag::Keyword(s.into());
        assert_eq!(flags(&[k("$Junk"), k("$JUNK")]).unwrap(), [k("$Junk")]);
        let current = [Flag::Seen, k("$Important")];
        assert_eq!(FlagOp::Add.apply(&current, &[k("$IMPORTANT")]), current);
        assert_eq!(
            FlagOp::Remove.apply(&current, &[k("$important")]),
            [Flag::Seen]
        );
    }
}
