//! Body sections (RFC 9051 §6.4.5): part numbers over mail-parser's part
//! tree, and what of a part is wanted.

use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
use mail_parser::{MessagePart, MimeHeaders, PartType};

use crate::header::{fields, header_end};
use crate::Message;

type Parsed<'a> = mail_parser::Message<'a>;

/// What of a section is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want<'n> {
    /// The whole part (or message).
    All,
    /// The header of the message (or of an encapsulated message).
    Header,
    /// Some of its header fields, or all but them.
    Fields { names: &'n [String], not: bool },
    /// The body of the message (or of an encapsulated message).
    Text,
    /// The MIME header of a part.
    Mime,
}

impl Message<'_> {
    /// The octets of `BODY[part.want]`, or `None` if there is no such
    /// part (RFC 9051 §6.4.5: a missing part is an empty string or NIL).
    pub fn section(&self, part: &[u32], want: Want<'_>) -> Option<Vec<u8>> {
        if part.is_empty() {
            return message_section(self.raw, want);
        }
        let (m, id) = self.find(part)?;
        let p = m.parts.get(id)?;
        let raw = m.raw_message.as_ref();
        let body = raw.get(p.offset_body as usize..p.offset_end as usize)?;
        match want {
            Want::All => Some(body.to_vec()),
            Want::Mime => raw
                .get(p.offset_header as usize..p.offset_body as usize)
                .map(<[u8]>::to_vec),
            // HEADER and TEXT after a part number: of a message/rfc822 part.
            _ if matches!(p.body, PartType::Message(_)) => message_section(body, want),
            _ => None,
        }
    }

    /// `BINARY[part]` (RFC 3516): the part's content with its transfer
    /// encoding undone; `None` if there is no such part or it cannot be
    /// decoded.
    pub fn binary(&self, part: &[u32]) -> Option<Vec<u8>> {
        let (m, id) = if part.is_empty() {
            (self.parsed.as_ref()?, 0)
        } else {
            self.find(part)?
        };
        let p = m.parts.get(id)?;
        let raw = m
            .raw_message
            .get(p.offset_body as usize..p.offset_end as usize)?;
        decode(p, raw)
    }

    /// Whether `BINARY[part]` must be refused because the part's
    /// Content-Transfer-Encoding is none this server knows (RFC 3516 §4.2:
    /// the `UNKNOWN-CTE` response code). A missing part is not this case.
    pub fn has_unknown_encoding(&self, part: &[u32]) -> bool {
        let found = match part.is_empty() {
            true => self.parsed.as_ref().map(|m| (m, 0)),
            false => self.find(part),
        };
        let Some(p) = found.and_then(|(m, id)| m.parts.get(id)) else {
            return false;
        };
        if matches!(p.body, PartType::Multipart(_)) {
            return false;
        }
        let cte = p.content_transfer_encoding().unwrap_or("7bit");
        !KNOWN_ENCODINGS.iter().any(|k| cte.eq_ignore_ascii_case(k))
    }

    /// The part with these numbers: (message holding it, index).
    pub(crate) fn find(&self, path: &[u32]) -> Option<(&Parsed<'_>, usize)> {
        let mut at = (self.parsed.as_ref()?, 0);
        for &n in path {
            at = child(at.0, at.1, n)?;
        }
        Some(at)
    }
}

fn message_section(raw: &[u8], want: Want<'_>) -> Option<Vec<u8>> {
    let end = header_end(raw);
    Some(match want {
        Want::All => raw.to_vec(),
        Want::Header => raw[..end].to_vec(),
        Want::Fields { names, not } => fields(&raw[..end], names, not),
        Want::Text => raw[end..].to_vec(),
        Want::Mime => return None,
    })
}

/// Part `n` (1-based) below part `id` of `m`: a multipart's child, the
/// parts of an encapsulated message, or (RFC 9051 §6.4.5) part 1 of a
/// message whose body is not multipart, which is that body.
fn child<'m>(m: &'m Parsed<'m>, id: usize, n: u32) -> Option<(&'m Parsed<'m>, usize)> {
    match &m.parts.get(id)?.body {
        PartType::Multipart(kids) => Some((m, *kids.get(n.checked_sub(1)? as usize)? as usize)),
        PartType::Message(nested) => child(nested, 0, n),
        _ if id == 0 && n == 1 => Some((m, 0)),
        _ => None,
    }
}

/// The encodings of RFC 2045 §6.1; `binary` is also what RFC 3516 asks
/// for, so `BINARY[]` of it is the octets themselves.
const KNOWN_ENCODINGS: [&str; 5] = ["7bit", "8bit", "binary", "base64", "quoted-printable"];

/// Undoes base64 or quoted-printable; other encodings are identity.
fn decode(p: &MessagePart<'_>, raw: &[u8]) -> Option<Vec<u8>> {
    if matches!(p.body, PartType::Multipart(_)) {
        return None;
    }
    let cte = p.content_transfer_encoding().unwrap_or("7bit");
    if cte.eq_ignore_ascii_case("base64") {
        let clean: Vec<u8> = raw
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64_decode(&clean)
    } else if cte.eq_ignore_ascii_case("quoted-printable") {
        quoted_printable_decode(raw)
    } else {
        Some(raw.to_vec())
    }
}
