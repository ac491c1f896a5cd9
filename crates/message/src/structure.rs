//! BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 2045): the MIME tree with
//! sizes and line counts of the raw (encoded) bodies.

use mail_parser::{ContentType, MessagePart, MimeHeaders, PartType};

use crate::envelope::Envelope;
use crate::header::{header_value, header_values};
use crate::Message;

type Parsed<'a> = mail_parser::Message<'a>;
type Params = Vec<(String, String)>;

/// A body structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A multipart: its parts, subtype, parameters, extension data.
    Multi {
        parts: Vec<Self>,
        subtype: String,
        params: Params,
        ext: Extension,
    },
    /// Any other part.
    Single(Box<Single>),
}

/// A non-multipart body (RFC 9051 §9 `body-type-1part`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Single {
    /// Upper-cased, as most servers send them.
    pub ctype: String,
    pub subtype: String,
    pub params: Params,
    pub id: Option<Vec<u8>>,
    pub description: Option<Vec<u8>>,
    pub encoding: String,
    /// Octets of the encoded body.
    pub size: usize,
    /// Lines of the encoded body, for TEXT and MESSAGE/RFC822.
    pub lines: Option<usize>,
    /// For MESSAGE/RFC822: the encapsulated message's envelope and body.
    pub message: Option<(Envelope, Body)>,
    pub ext: Extension,
}

/// Extension data (BODYSTRUCTURE only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extension {
    pub md5: Option<Vec<u8>>,
    /// Disposition type and its parameters.
    pub disposition: Option<(String, Params)>,
    pub language: Vec<Vec<u8>>,
    pub location: Option<Vec<u8>>,
}

impl Message<'_> {
    /// The body structure.
    pub fn body(&self) -> Body {
        match &self.parsed {
            Some(m) => body(m, 0, 0),
            None => plain_text(self.text().len(), lines(self.text())),
        }
    }

    /// The envelope.
    pub fn envelope(&self) -> Envelope {
        Envelope::build(self.raw, self.parsed.as_ref())
    }
}

fn plain_text(size: usize, lines: usize) -> Body {
    Body::Single(Box::new(Single {
        ctype: "TEXT".into(),
        subtype: "PLAIN".into(),
        params: vec![("CHARSET".into(), "US-ASCII".into())],
        id: None,
        description: None,
        encoding: "7BIT".into(),
        size,
        lines: Some(lines),
        message: None,
        ext: Extension::default(),
    }))
}

/// How deep multiparts and encapsulated messages are described: enough
/// for any real message, and a bound on the recursion (of ours, and of
/// every client parsing the answer) for a hostile one. Deeper parts are
/// described as single parts of their own type.
const MAX_DEPTH: usize = 32;

fn body(m: &Parsed<'_>, id: usize, depth: usize) -> Body {
    let Some(p) = m.parts.get(id) else {
        return plain_text(0, 0);
    };
    let raw = m.raw_message.as_ref();
    let mime = raw
        .get(p.offset_header as usize..p.offset_body as usize)
        .unwrap_or_default();
    let content = raw
        .get(p.offset_body as usize..p.offset_end as usize)
        .unwrap_or_default();
    let ext = extension(p, mime);
    let (ctype, subtype, params) =
        content_type(p.content_type(), matches!(p.body, PartType::Multipart(_)));
    let deep = depth >= MAX_DEPTH;
    if let (PartType::Multipart(kids), false) = (&p.body, deep) {
        return Body::Multi {
            parts: kids
                .iter()
                .map(|&k| body(m, k as usize, depth + 1))
                .collect(),
            subtype,
            params,
            ext,
        };
    }
    let message = match &p.body {
        PartType::Message(nested) if !deep => {
            let nested_raw = nested
                .parts
                .first()
                .and_then(|r| nested.raw_message.get(r.offset_header as usize..))
                .unwrap_or(content);
            Some((
                Envelope::build(nested_raw, Some(nested)),
                body(nested, 0, depth + 1),
            ))
        }
        _ => None,
    };
    let text = ctype == "TEXT";
    Body::Single(Box::new(Single {
        lines: (text || message.is_some()).then(|| lines(content)),
        id: header_value(mime, "Content-ID"),
        description: header_value(mime, "Content-Description"),
        encoding: header_value(mime, "Content-Transfer-Encoding").map_or_else(
            || "7BIT".into(),
            |e| String::from_utf8_lossy(&e).to_ascii_uppercase(),
        ),
        size: content.len(),
        ctype,
        subtype,
        params,
        message,
        ext,
    }))
}

/// Type, subtype and parameters; the defaults of RFC 2045 §5.2 (and
/// multipart/mixed for a multipart without one).
fn content_type(ct: Option<&ContentType<'_>>, multi: bool) -> (String, String, Params) {
    let Some(ct) = ct else {
        return if multi {
            ("MULTIPART".into(), "MIXED".into(), Vec::new())
        } else {
            let charset = vec![("CHARSET".into(), "US-ASCII".into())];
            ("TEXT".into(), "PLAIN".into(), charset)
        };
    };
    let subtype = ct.c_subtype.as_deref().map_or_else(
        || {
            if multi {
                "MIXED".into()
            } else {
                "PLAIN".into()
            }
        },
        str::to_ascii_uppercase,
    );
    (ct.c_type.to_ascii_uppercase(), subtype, params(ct))
}

fn params(ct: &ContentType<'_>) -> Params {
    ct.attributes()
        .unwrap_or_default()
        .iter()
        .map(|a| (a.name.to_ascii_uppercase(), a.value.to_string()))
        .collect()
}

fn extension(p: &MessagePart<'_>, mime: &[u8]) -> Extension {
    let language = header_values(mime, "Content-Language")
        .iter()
        .flat_map(|v| {
            v.split(|&b| b == b',')
                .map(|l| l.trim_ascii().to_vec())
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.is_empty())
        .collect();
    Extension {
        md5: header_value(mime, "Content-MD5"),
        disposition: p
            .content_disposition()
            .map(|d| (d.c_type.to_ascii_uppercase(), params(d))),
        language,
        location: header_value(mime, "Content-Location"),
    }
}

/// Lines in a body: its line feeds, plus a last line without one.
fn lines(body: &[u8]) -> usize {
    let feeds = body.iter().filter(|&&b| b == b'\n').count();
    feeds + usize::from(body.last().is_some_and(|&b| b != b'\n'))
}

#[cfg(test)]
mod tests;
