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
//! - [`calendar_name`], [`calendar_object_name`], [`calendar_uid`],
//!   [`calendar_text`]: what the CalDAV store keeps.

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

/// A calendar's URL segment: at most 64 of RFC 3986 §2.3 unreserved
/// characters, so that it needs no percent-encoding in any URL.
const MAX_CALENDAR: usize = 64;
/// A calendar object's resource name: a file name's usual bound.
const MAX_OBJECT: usize = 255;
/// An iCalendar UID (RFC 5545 §3.8.4.7 sets none; 255 octets hold every
/// UUID- or domain-based form clients make).
const MAX_UID: usize = 255;

/// RFC 3986 §2.3 unreserved characters.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// Refuses `.` and `..`, which URL paths resolve away (RFC 3986 §5.2.4).
fn dot_segment(input: &str) -> bool {
    input == "." || input == ".."
}

/// A calendar's name, its URL segment (`personal`): 1 to 64 unreserved
/// characters, not `.` or `..`. Kept exactly (URLs are case-sensitive).
pub fn calendar_name(input: &str) -> StoreResult<String> {
    let bad = |why| Err(invalid("calendar name", input, why));
    if input.is_empty() || input.len() > MAX_CALENDAR {
        return bad("must be 1 to 64 characters");
    }
    if !input.bytes().all(unreserved) || dot_segment(input) {
        return bad(
            "only letters, digits, '-', '.', '_' and '~' are allowed, and not '.' or '..' alone",
        );
    }
    Ok(input.to_owned())
}

/// A calendar object's resource name (`abc.ics`): 1 to 255 octets of
/// unreserved characters and `@` (some clients name resources after the
/// UID, which often holds one), not `.` or `..`. Kept exactly.
pub fn calendar_object_name(input: &str) -> StoreResult<String> {
    let bad = |why| Err(invalid("calendar object name", input, why));
    if input.is_empty() || input.len() > MAX_OBJECT {
        return bad("must be 1 to 255 octets");
    }
    if !input.bytes().all(|b| unreserved(b) || b == b'@') || dot_segment(input) {
        return bad("only letters, digits, '-', '.', '_', '~' and '@' are allowed, and not '.' or '..' alone");
    }
    Ok(input.to_owned())
}

/// An iCalendar UID: 1 to 255 octets, no control characters (it is
/// compared byte for byte, RFC 5545 §3.8.4.7).
pub fn calendar_uid(input: &str) -> StoreResult<String> {
    if input.is_empty() || input.len() > MAX_UID {
        return Err(invalid("UID", input, "must be 1 to 255 octets"));
    }
    if input.chars().any(char::is_control) {
        return Err(invalid("UID", input, "control characters are not allowed"));
    }
    Ok(input.to_owned())
}

/// A calendar property's text (`what` names it): at most `max` octets and
/// no control characters other than tab and, when `multiline`, line
/// breaks (a description or a VTIMEZONE spans lines).
pub fn calendar_text(what: &str, input: &str, max: usize, multiline: bool) -> StoreResult<()> {
    if input.len() > max {
        return Err(invalid(what, input, &format!("longer than {max} octets")));
    }
    let allowed = |c: char| c == '\t' || (multiline && (c == '\r' || c == '\n'));
    if input.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(invalid(what, input, "control characters are not allowed"));
    }
    Ok(())
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

    #[test]
    fn calendar_names() {
        assert_eq!(
            calendar_name("Personal_2026~x.y-z").unwrap(),
            "Personal_2026~x.y-z"
        );
        let long = "a".repeat(64);
        assert!(calendar_name(&long).is_ok());
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a b",
            "a@b",
            "é",
            "a%20",
            &"a".repeat(65),
        ] {
            assert!(calendar_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn calendar_object_names_and_uids() {
        assert!(calendar_object_name("a1B2-x_y.~z@example.com.ics").is_ok());
        assert!(calendar_object_name(&"a".repeat(255)).is_ok());
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "a?b",
            "a%2f",
            "a\0",
            &"a".repeat(256),
        ] {
            assert!(calendar_object_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(calendar_uid("040000008200E00074C5B7101A82E008@example.com").is_ok());
        assert!(calendar_uid("a b/c").is_ok(), "any printable octets");
        for bad in ["", "a\nb", "a\u{7f}", &"u".repeat(256)] {
            assert!(calendar_uid(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn calendar_texts() {
        assert!(calendar_text("description", "two\r\nlines\t", 100, true).is_ok());
        assert!(calendar_text("display name", "two\nlines", 100, false).is_err());
        assert!(calendar_text("display name", "tab\tok", 100, false).is_ok());
        assert!(calendar_text("display name", "abc", 2, false).is_err());
    }
}
