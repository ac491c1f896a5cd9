//! Who an authenticated user may send as (DESIGN: "an authenticated sender
//! may only use its own addresses and aliases as envelope and header
//! sender"), and the addresses of a message's From header.

use postern_store::{names, Account, Store, StoreResult};

/// The addresses an account may use: its own, and every alias that lists
/// it among its targets. A catch-all (`@domain`) is not among them: it
/// would let its owner pose as anyone at the domain without an account.
#[derive(Debug, Clone)]
pub struct Senders {
    addresses: Vec<String>,
}

impl Senders {
    /// Reads the account's aliases (once per session: a mail client sends
    /// many messages over one connection).
    pub fn load(store: &dyn Store, account: &Account) -> StoreResult<Self> {
        let mut addresses = vec![account.address.clone()];
        for alias in store.aliases()? {
            let targets_us = alias
                .targets
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&account.address));
            if targets_us && !alias.address.starts_with('@') {
                addresses.push(alias.address);
            }
        }
        Ok(Self { addresses })
    }

    /// Whether `address` (as written by the client) is one of ours, compared
    /// as the store compares names.
    pub fn allows(&self, address: &str) -> bool {
        names::address(address).is_ok_and(|a| self.addresses.contains(&a.full))
    }

    /// The account's own address first, then its aliases.
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }
}

/// Submission: the From header must be the user's too (DESIGN: envelope
/// *and* header sender): exactly one From field (RFC 5322 §3.6; a second
/// is how a reader would be shown a sender this check never saw), every
/// address in it one of the user's. A message without a From field
/// passes: there is nothing to impersonate with. `Some` says why not.
pub fn check_header_from(senders: &Senders, body: &[u8]) -> Option<String> {
    match header_from(body).as_slice() {
        [] => None,
        [only] => only
            .iter()
            .find(|a| !senders.allows(a))
            .map(|stranger| format!("From: header <{stranger}> is not one of your addresses")),
        _ => Some("More than one From: header field (RFC 5322 section 3.6)".to_owned()),
    }
}

/// The From header fields of the message (RFC 5322 §3.6.2), each as its
/// list of addresses, lowercased. RFC 5322 §3.6 allows exactly one; the
/// caller refuses more (a second field is how a reader can be shown a
/// sender the check never saw). Display names, comments and quoted
/// strings are skipped; what is left is each `addr-spec`, from `<...>`
/// when present.
pub fn header_from(raw: &[u8]) -> Vec<Vec<String>> {
    unfolded_fields(header_block(raw))
        .iter()
        .filter_map(|field| field.split_once(':'))
        .filter(|(name, _)| name.trim_end().eq_ignore_ascii_case("from"))
        .map(|(_, value)| mailbox_list(value))
        .collect()
}

/// The header section: up to the first empty line.
fn header_block(raw: &[u8]) -> String {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 2);
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

/// Header fields with their folding (CRLF before WSP, §2.2.3) undone.
fn unfolded_fields(head: String) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        match (line.starts_with([' ', '\t']), fields.last_mut()) {
            (true, Some(last)) => last.push_str(line),
            _ if line.is_empty() => {}
            _ => fields.push(line.to_owned()),
        }
    }
    fields
}

/// The addr-specs of a `mailbox-list`, lowercased.
fn mailbox_list(value: &str) -> Vec<String> {
    split_top_level(&strip_comments(value))
        .iter()
        .filter_map(|mailbox| {
            let mailbox = mailbox.trim();
            let spec = match (mailbox.rfind('<'), mailbox.rfind('>')) {
                (Some(open), Some(close)) if open < close => &mailbox[open + 1..close],
                _ => mailbox,
            };
            let spec = spec.trim();
            (!spec.is_empty()).then(|| spec.to_lowercase())
        })
        .collect()
}

/// Removes `( ... )` comments (nested, §3.2.2) outside quoted strings.
fn strip_comments(value: &str) -> String {
    let (mut out, mut depth, mut quoted, mut escaped) = (String::new(), 0u32, false, false);
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            out.push(c);
        }
    }
    out
}

/// Splits on commas outside quoted strings and angle brackets.
fn split_top_level(value: &str) -> Vec<String> {
    let (mut parts, mut current) = (Vec::new(), String::new());
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(raw: &str) -> Vec<Vec<String>> {
        header_from(raw.as_bytes())
    }

    fn one(addresses: &[&str]) -> Vec<Vec<String>> {
        vec![addresses.iter().map(|a| (*a).to_owned()).collect()]
    }

    #[test]
    fn plain_and_named_addresses() {
        assert_eq!(
            from("From: Alice@Example.COM\r\nTo: b@c\r\n\r\nbody"),
            one(&["alice@example.com"])
        );
        assert_eq!(
            from("Subject: x\r\nFrom: \"Smith, <Alice>\" (work)\r\n <alice@example.com>\r\n\r\n"),
            one(&["alice@example.com"])
        );
        assert_eq!(
            from("From: a@x.org, \"B\" <b@y.org>\r\n\r\n"),
            one(&["a@x.org", "b@y.org"])
        );
    }

    #[test]
    fn every_from_field_is_returned() {
        assert!(from("To: b@c\r\n\r\nFrom: a@b\r\n").is_empty());
        assert_eq!(from("From: a@b\r\nfrom: c@d\r\n\r\n").len(), 2);
        assert_eq!(from("From: \r\n\r\n"), vec![Vec::<String>::new()]);
    }

    #[test]
    fn a_from_line_in_the_body_is_not_a_header() {
        assert_eq!(
            from("From: me@here.org\r\n\r\nFrom: ceo@bank.com\r\n"),
            one(&["me@here.org"])
        );
    }
}
