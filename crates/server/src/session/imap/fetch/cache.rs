//! ENVELOPE, BODY and BODYSTRUCTURE kept as rendered octets, by content
//! address. These items depend on the message's octets alone (RFC 9051
//! §7.4.2), and a blob id is the SHA-256 of those octets, so an entry never
//! goes stale and every copy of a message shares it. A FETCH that asks for
//! nothing else is then answered without reading or parsing the message.
//!
//! The octets are what [`Data`] made of the item: protocol text, quoted
//! strings and literals. They are written back piece by piece (`replay`)
//! because [`Data`] takes text and literals, not finished octets; the
//! result is the same bytes.

use std::sync::Arc;

use postern_imap_proto::cmd::FetchAttr;
use postern_imap_proto::Data;
use postern_message::Message;
use postern_store::BlobId;

use super::render;
use crate::mail::{Derived, DerivedCache};

/// A FETCH item that depends only on the message's octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Item {
    Envelope,
    /// BODY: the structure without extension data.
    Body,
    BodyStructure,
}

impl Item {
    /// How many there are.
    pub(super) const COUNT: usize = 3;

    /// A distinct index below [`Self::COUNT`].
    pub(super) const fn index(self) -> usize {
        match self {
            Self::Envelope => 0,
            Self::Body => 1,
            Self::BodyStructure => 2,
        }
    }

    /// The item `attr` asks for, if it is one of these.
    pub(super) const fn of(attr: &FetchAttr) -> Option<Self> {
        match attr {
            FetchAttr::Envelope => Some(Self::Envelope),
            FetchAttr::Body => Some(Self::Body),
            FetchAttr::BodyStructure => Some(Self::BodyStructure),
            _ => None,
        }
    }

    /// The item's name and the space after it, as in `msg-att-static`.
    pub(super) const fn label(self) -> &'static str {
        match self {
            Self::Envelope => "ENVELOPE ",
            Self::Body => "BODY ",
            Self::BodyStructure => "BODYSTRUCTURE ",
        }
    }

    /// The kind under which the cache keeps it.
    const fn kind(self) -> Derived {
        match self {
            Self::Envelope => Derived::ImapEnvelope,
            Self::Body => Derived::ImapBody,
            Self::BodyStructure => Derived::ImapBodyStructure,
        }
    }

    /// Writes the item's value (without its label) from the message.
    pub(super) fn write(self, d: &mut Data, m: &Message<'_>) {
        match self {
            Self::Envelope => render::envelope(d, &m.envelope()),
            Self::Body => render::body(d, &m.body(), false),
            Self::BodyStructure => render::body(d, &m.body(), true),
        }
    }

    /// Renders the value, keeps it in the cache, and writes it to `d`.
    pub(super) fn fill(self, d: &mut Data, m: &Message<'_>, cache: &DerivedCache, blob: &BlobId) {
        let mut out = Data::new();
        self.write(&mut out, m);
        let rendered = out.as_bytes();
        // Only octets that replay to themselves are kept (the invariant
        // `replay` relies on); anything else is written directly.
        if !replayable(rendered) {
            return self.write(d, m);
        }
        replay(d, rendered);
        cache.insert(blob, self.kind(), Arc::from(rendered));
    }
}

/// What the cache holds of `items` for `blob`, by [`Item::index`], and
/// whether any is missing.
pub(super) fn lookup(
    items: &[Item],
    cache: &DerivedCache,
    blob: &BlobId,
) -> ([Option<Arc<[u8]>>; Item::COUNT], bool) {
    let mut found: [Option<Arc<[u8]>>; Item::COUNT] = Default::default();
    let mut missing = false;
    for item in items {
        let hit = cache.get(blob, item.kind());
        missing |= hit.is_none();
        found[item.index()] = hit;
    }
    (found, missing)
}

/// Writes octets rendered by [`Data`] back into `d`.
///
/// Only octets for which [`replayable`] holds are passed here (the cache
/// holds nothing else), so every piece is well formed.
pub(super) fn replay(d: &mut Data, rendered: &[u8]) {
    let mut rest = rendered;
    while !rest.is_empty() {
        let Some((piece, after)) = next_piece(rest) else {
            return;
        };
        d.raw(piece.text);
        if let Some(literal) = piece.literal {
            d.literal(literal);
        }
        rest = after;
    }
}

/// Whether `rendered` splits into text and literals, as `replay` needs.
fn replayable(rendered: &[u8]) -> bool {
    let mut rest = rendered;
    while !rest.is_empty() {
        match next_piece(rest) {
            // Text that `Data::raw` would change is not replayable either.
            Some((piece, after)) if !piece.text.bytes().any(|b| b.is_ascii_control()) => {
                rest = after;
            }
            _ => return false,
        }
    }
    true
}

/// Protocol text and the literal that ends it, if any.
struct Piece<'a> {
    text: &'a str,
    literal: Option<&'a [u8]>,
}

/// The first piece of `rest` and what follows it. Outside literals,
/// rendered octets are printable ASCII (quoted strings hold nothing else:
/// `Data::string`), so the first CR ends a literal's `{n}` (RFC 9051 §4.3).
fn next_piece(rest: &[u8]) -> Option<(Piece<'_>, &[u8])> {
    let Some(cr) = rest.iter().position(|&b| b == b'\r') else {
        let text = std::str::from_utf8(rest).ok()?;
        return Some((
            Piece {
                text,
                literal: None,
            },
            &[],
        ));
    };
    let head = rest[..cr].strip_suffix(b"}")?;
    let open = head.iter().rposition(|&b| b == b'{')?;
    let len: usize = std::str::from_utf8(&head[open + 1..]).ok()?.parse().ok()?;
    let after_crlf = rest[cr..].strip_prefix(b"\r\n")?;
    let literal = after_crlf.get(..len)?;
    let text = std::str::from_utf8(&head[..open]).ok()?;
    let piece = Piece {
        text,
        literal: Some(literal),
    };
    Some((piece, &after_crlf[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: bob@example.com, Group: c@example.com, d@example.com;\r\n\
Subject: nested\r\n\
Message-ID: <m1@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=\"inner\"\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gr=C3=BC=C3=9Fe\r\n\
--inner\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>hi</p>\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: Carol <carol@example.com>\r\n\
Subject: inside\r\n\
Content-Type: multipart/mixed; boundary=\"deep\"\r\n\
\r\n\
--deep\r\n\
Content-Type: text/plain\r\n\
\r\n\
deep text\r\n\
--deep\r\n\
Content-Type: application/pdf; name=\"a.pdf\"\r\n\
Content-Disposition: attachment; filename=\"a.pdf\"\r\n\
Content-Language: en, de\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--deep--\r\n\
--outer--\r\n";

    /// Encoded words stay as sent in ENVELOPE; raw 8-bit and long values,
    /// and a quote in a name, take the literal and escape paths of `Data`.
    fn encoded() -> Vec<u8> {
        let long = "x".repeat(1500);
        format!(
            "From: =?utf-8?q?J=C3=B6ran?= <joran@example.com>\r\n\
             Sender: \"Quote \\\"Q\\\" {{3}}\" <q@example.com>\r\n\
             To: Jörg <jorg@example.com>\r\n\
             Subject: =?iso-8859-1?q?caf=E9?= und\tGrüße {{5}}\r\n\
             In-Reply-To: <{long}@example.com>\r\n\
             Content-Type: text/plain; charset=\"=?utf-8?q?x?=\"\r\n\
             \r\n\
             body\r\n"
        )
        .into_bytes()
    }

    fn uncached(item: Item, raw: &[u8]) -> Vec<u8> {
        let mut d = Data::new();
        d.raw(item.label());
        item.write(&mut d, &Message::parse(raw));
        d.as_bytes().to_vec()
    }

    /// The miss (parse, render, keep) and then the hit (no parse).
    fn through_cache(item: Item, raw: &[u8], cache: &DerivedCache) -> (Vec<u8>, Vec<u8>) {
        let blob = BlobId(format!("{:064x}", raw.len()));
        let mut miss = Data::new();
        miss.raw(item.label());
        assert!(lookup(&[item], cache, &blob).1, "{item:?} kept before");
        item.fill(&mut miss, &Message::parse(raw), cache, &blob);
        let mut hit = Data::new();
        hit.raw(item.label());
        let (found, missing) = lookup(&[item], cache, &blob);
        assert!(!missing, "{item:?} not kept");
        let kept = found[item.index()].clone().unwrap_or_default();
        replay(&mut hit, &kept);
        (miss.as_bytes().to_vec(), hit.as_bytes().to_vec())
    }

    #[test]
    fn cached_output_is_the_uncached_output() {
        let encoded = encoded();
        for raw in [NESTED, &encoded[..]] {
            for item in [Item::Envelope, Item::Body, Item::BodyStructure] {
                let cache = DerivedCache::new(1 << 20);
                let want = uncached(item, raw);
                let (miss, hit) = through_cache(item, raw, &cache);
                assert_eq!(miss, want, "{item:?} on a miss");
                assert_eq!(hit, want, "{item:?} from the cache");
            }
        }
    }

    #[test]
    fn the_examples_take_every_path() {
        // Nested parts, a message/rfc822 with its envelope, extension data.
        let s = uncached(Item::BodyStructure, NESTED);
        let s = String::from_utf8_lossy(&s);
        assert!(s.contains("\"ALTERNATIVE\""), "{s}");
        assert!(s.contains("\"MESSAGE\" \"RFC822\""), "{s}");
        assert!(s.contains("\"Carol\""), "{s}");
        assert!(s.contains("(\"en\" \"de\")"), "{s}");
        // Literals (8-bit, long) next to quoted text with `{n}` in it.
        let e = uncached(Item::Envelope, &encoded());
        let e = String::from_utf8_lossy(&e);
        assert!(e.contains("=?iso-8859-1?q?caf=E9?= und\tGr"), "{e}");
        assert!(
            e.contains("((\"=?utf-8?b?SsO2cmFu?=\" NIL \"joran\""),
            "{e}"
        );
        assert!(e.contains("{1514}\r\n<xxx"), "{e}");
        assert!(e.contains("Gr\u{fc}\u{df}e {5}"), "{e}");
        assert!(e.contains("\\\"Q\\\" {3}"), "{e}");
    }

    #[test]
    fn malformed_octets_are_not_replayable() {
        assert!(replayable(b"(\"a\" NIL)"));
        assert!(replayable(b"(\"a{2}\" {3}\r\nx\r\n NIL)"));
        assert!(!replayable(b"(\"a\" {9}\r\nshort"));
        assert!(!replayable(b"(\"a\"\r\n"));
        assert!(!replayable(b"({x}\r\nab"));
        assert!(!replayable(b"(\x01)"));
        assert!(!replayable(b"(\xff)"));
    }
}
