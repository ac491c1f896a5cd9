//! ENVELOPE (RFC 9051 §7.5.2): header values raw, addresses parsed.

use mail_parser::Address as Parsed;

use crate::header::{header_end, header_value};

/// The envelope of a message. Text fields are the raw header values
/// (encoded-words left as sent, as RFC 9051 asks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub date: Option<Vec<u8>>,
    pub subject: Option<Vec<u8>>,
    pub from: Vec<Address>,
    pub sender: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<Vec<u8>>,
    pub message_id: Option<Vec<u8>>,
}

/// One `address` (RFC 9051 §9): a mailbox, or a group's start (`host`
/// `None`, `mailbox` the group name) or end (all `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// The display name; RFC 2047-encoded if it is not ASCII.
    pub name: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub host: Option<Vec<u8>>,
}

impl Envelope {
    /// The envelope of the message whose header block starts `raw`, with
    /// `parsed` (mail-parser's view of it) for the addresses.
    pub(crate) fn build(raw: &[u8], parsed: Option<&mail_parser::Message<'_>>) -> Self {
        let block = &raw[..header_end(raw)];
        let value = |name| header_value(block, name);
        let list = |a: Option<&Parsed<'_>>| a.map(addresses).unwrap_or_default();
        let from = list(parsed.and_then(mail_parser::Message::from));
        let sender = list(parsed.and_then(mail_parser::Message::sender));
        let reply_to = list(parsed.and_then(mail_parser::Message::reply_to));
        Self {
            date: value("Date"),
            subject: value("Subject"),
            // RFC 9051 §7.5.2: Sender and Reply-To default to From.
            sender: if sender.is_empty() {
                from.clone()
            } else {
                sender
            },
            reply_to: if reply_to.is_empty() {
                from.clone()
            } else {
                reply_to
            },
            from,
            to: list(parsed.and_then(mail_parser::Message::to)),
            cc: list(parsed.and_then(mail_parser::Message::cc)),
            bcc: list(parsed.and_then(mail_parser::Message::bcc)),
            in_reply_to: value("In-Reply-To"),
            message_id: value("Message-ID"),
        }
    }
}

fn addresses(parsed: &Parsed<'_>) -> Vec<Address> {
    match parsed {
        Parsed::List(list) => list.iter().map(one).collect(),
        Parsed::Group(groups) => {
            let mut out = Vec::new();
            for g in groups {
                let Some(name) = &g.name else {
                    out.extend(g.addresses.iter().map(one));
                    continue;
                };
                out.push(Address {
                    mailbox: Some(name.as_bytes().to_vec()),
                    ..Address::default()
                });
                out.extend(g.addresses.iter().map(one));
                out.push(Address::default());
            }
            out
        }
    }
}

fn one(addr: &mail_parser::Addr<'_>) -> Address {
    let (mailbox, host) = match addr.address.as_deref() {
        Some(a) => match a.rsplit_once('@') {
            Some((m, h)) => (Some(m.as_bytes().to_vec()), Some(h.as_bytes().to_vec())),
            None => (Some(a.as_bytes().to_vec()), Some(Vec::new())),
        },
        None => (None, Some(Vec::new())),
    };
    Address {
        name: addr.name.as_deref().map(encode_word),
        mailbox,
        host,
    }
}

/// A display name as sent back: ASCII as is, otherwise one RFC 2047
/// encoded-word (UTF-8, base64), which every client decodes.
fn encode_word(name: &str) -> Vec<u8> {
    if name.is_ascii() {
        return name.as_bytes().to_vec();
    }
    format!("=?utf-8?b?{}?=", base64(name.as_bytes())).into_bytes()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_names() {
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(encode_word("Jöran"), b"=?utf-8?b?SsO2cmFu?=");
        assert_eq!(encode_word("Bob"), b"Bob");
    }
}
