//! The structure of an RFC 5322 message, as IMAP FETCH needs it:
//! ENVELOPE, BODYSTRUCTURE, body sections and decoded parts (RFC 9051
//! §7.5.2, RFC 2045-2047). Parsing is done by mail-parser 0.11 (DESIGN's
//! choice); this crate walks its part tree and keeps raw octets where IMAP
//! wants them raw (section contents, header values).
//!
//! Pure: no I/O, no clock, no dependency on the protocol crates. The
//! session turns these types into IMAP syntax.
//!
//! # Layout
//! - [`Message`]: a parsed message and the queries on it.
//! - `envelope`: [`Envelope`] and [`Address`] (RFC 9051 §7.5.2 ENVELOPE).
//! - `structure`: [`Body`] (BODY and BODYSTRUCTURE).
//! - `section`: part numbering and [`Want`], the part of a section.
//! - `header`: raw header fields, for HEADER.FIELDS and SEARCH.

#![forbid(unsafe_code)]

mod envelope;
mod header;
mod section;
mod structure;

pub use envelope::{Address, Envelope};
pub use header::{fields, header_value};
pub use section::Want;
pub use structure::{Body, Extension, Single};

use mail_parser::MessageParser;

/// A parsed message over its raw octets.
#[derive(Debug)]
pub struct Message<'a> {
    raw: &'a [u8],
    parsed: Option<mail_parser::Message<'a>>,
}

impl<'a> Message<'a> {
    /// Parses `raw`. Malformed input still gives a message: one text part.
    pub fn parse(raw: &'a [u8]) -> Self {
        let parsed = MessageParser::new().parse(raw);
        Self { raw, parsed }
    }

    /// The raw octets.
    pub const fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The top-level header block, up to and including the empty line.
    pub fn header(&self) -> &'a [u8] {
        &self.raw[..header::header_end(self.raw)]
    }

    /// The body after the header block.
    pub fn text(&self) -> &'a [u8] {
        &self.raw[header::header_end(self.raw)..]
    }

    /// The decoded values of a top-level header field (RFC 2047 words
    /// decoded, addresses as `name <address>`), for SEARCH; empty if the
    /// field is absent.
    pub fn header_text(&self, name: &str) -> Vec<String> {
        let Some(parsed) = self.parsed.as_ref() else {
            return Vec::new();
        };
        parsed
            .header_values(name)
            .map(|v| match v {
                mail_parser::HeaderValue::Text(t) => t.to_string(),
                mail_parser::HeaderValue::TextList(l) => l.join(" "),
                mail_parser::HeaderValue::Address(a) => a
                    .iter()
                    .map(|a| {
                        let name = a.name.as_deref().unwrap_or_default();
                        let address = a.address.as_deref().unwrap_or_default();
                        format!("{name} <{address}>")
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            })
            .collect()
    }

    /// The text of the body parts, decoded (transfer encoding and
    /// charset), for SEARCH BODY and TEXT.
    pub fn body_texts(&self) -> Vec<String> {
        let Some(parsed) = self.parsed.as_ref() else {
            return Vec::new();
        };
        let texts = (0..parsed.text_body_count()).filter_map(|i| parsed.body_text(i));
        let htmls = (0..parsed.html_body_count()).filter_map(|i| parsed.body_html(i));
        texts.chain(htmls).map(|t| t.into_owned()).collect()
    }

    /// The raw value of the first header field called `name`, unfolded
    /// and trimmed, without any decoding: what a reply copies into
    /// In-Reply-To and References (RFC 5322 §3.6.4).
    pub fn raw_field(&self, name: &str) -> Option<Vec<u8>> {
        header_value(self.header(), name)
    }

    /// The text a reply quotes: the first text body part, or the first
    /// HTML part converted to text when there is no text/plain one.
    pub fn main_text(&self) -> Option<String> {
        let parsed = self.parsed.as_ref()?;
        parsed.body_text(0).map(std::borrow::Cow::into_owned)
    }

    /// The Date header as Unix seconds (UTC), for SORT and THREAD.
    pub fn sent_time(&self) -> Option<i64> {
        let parsed = self.parsed.as_ref()?;
        parsed.date().map(mail_parser::DateTime::to_timestamp)
    }

    /// The Date header's date and time as written, zone ignored, in
    /// seconds since the epoch: SENTBEFORE, SENTON and SENTSINCE compare
    /// the sender's calendar date (RFC 9051 §6.4.4).
    pub fn sent_date(&self) -> Option<i64> {
        let parsed = self.parsed.as_ref()?;
        parsed.date().map(mail_parser::DateTime::to_timestamp_local)
    }
}
