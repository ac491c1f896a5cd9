//! BODY and BODYSTRUCTURE read by the RFC 9051 §9 grammar (`body`,
//! `body-type-1part`, `body-type-mpart`, `body-ext-*`), into a form where
//! what the RFC calls case-insensitive (media types, parameter names,
//! encodings, disposition types, language tags, the charset) is lower
//! case, and an omitted trailing extension field equals NIL. Two bodies
//! are equal when a client would read them the same.

use crate::wire::Value;

/// A body: one part, or a multipart with its parts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Body {
    Multi {
        parts: Vec<Self>,
        subtype: String,
        /// `None` when no extension data came (as BODY must send it).
        ext: Option<Ext>,
    },
    Single {
        kind: String,
        subtype: String,
        fields: Fields,
        /// `body-fld-lines`, required for text and message/rfc822.
        lines: Option<u64>,
        /// The envelope and body of an encapsulated message/rfc822.
        message: Option<(Value, Box<Self>)>,
        ext: Option<Ext>,
    },
}

/// `body-fields`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    pub(crate) params: Vec<(String, String)>,
    pub(crate) id: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) encoding: String,
    pub(crate) size: u64,
}

/// `body-ext-1part` and `body-ext-mpart`: the MD5 (one part only), the
/// parameters (multipart only), disposition, language, location, and any
/// later extension.
#[derive(Debug, PartialEq, Eq, Default)]
pub(crate) struct Ext {
    pub(crate) md5: Option<String>,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) disposition: Option<(String, Vec<(String, String)>)>,
    pub(crate) language: Vec<String>,
    pub(crate) location: Option<String>,
    pub(crate) more: Vec<Value>,
}

impl Body {
    /// Reads a `body`; a failure names what broke the grammar.
    pub(crate) fn read(v: &Value) -> Result<Self, String> {
        let items = v.list()?;
        let parts = items
            .iter()
            .take_while(|i| matches!(i, Value::List(_)))
            .count();
        if parts > 0 {
            Self::multi(items, parts)
        } else {
            Self::single(items)
        }
    }

    fn multi(items: &[Value], parts: usize) -> Result<Self, String> {
        let subtype = lower(items.get(parts).ok_or("multipart without a subtype")?)?;
        let bodies = items[..parts]
            .iter()
            .map(Self::read)
            .collect::<Result<_, _>>()?;
        let rest = &items[parts + 1..];
        let ext = if rest.is_empty() {
            None
        } else {
            Some(Ext {
                params: params(&rest[0])?,
                ..ext(&rest[1..])?
            })
        };
        Ok(Self::Multi {
            parts: bodies,
            subtype,
            ext,
        })
    }

    fn single(items: &[Value]) -> Result<Self, String> {
        if items.len() < 7 {
            return Err(format!("body-fields incomplete: {items:?}"));
        }
        let (kind, subtype) = (lower(&items[0])?, lower(&items[1])?);
        let fields = Fields {
            params: params(&items[2])?,
            id: nstring(&items[3])?,
            description: nstring(&items[4])?,
            encoding: lower(&items[5])?,
            size: items[6].number()?,
        };
        let is_message = kind == "message" && (subtype == "rfc822" || subtype == "global");
        let (message, lines, rest) = if is_message {
            let [env, body, lines, ..] = &items[7..] else {
                return Err(format!(
                    "message/{subtype} needs envelope, body and lines: {items:?}"
                ));
            };
            let inner = (env.clone(), Box::new(Self::read(body)?));
            (Some(inner), Some(lines.number()?), &items[10..])
        } else if kind == "text" {
            let lines = items.get(7).ok_or("text without body-fld-lines")?;
            (None, Some(lines.number()?), &items[8..])
        } else {
            (None, None, &items[7..])
        };
        let ext = if rest.is_empty() {
            None
        } else {
            Some(Ext {
                md5: nstring(&rest[0])?,
                ..ext(&rest[1..])?
            })
        };
        Ok(Self::Single {
            kind,
            subtype,
            fields,
            lines,
            message,
            ext,
        })
    }
}

/// Disposition, language, location and later extensions, each optional
/// from the end.
fn ext(rest: &[Value]) -> Result<Ext, String> {
    let disposition = match rest.first() {
        None | Some(Value::Nil) => None,
        Some(v) => {
            let [kind, p] = v.list()? else {
                return Err(format!("body-fld-dsp is (type params): {v:?}"));
            };
            Some((lower(kind)?, params(p)?))
        }
    };
    let language = match rest.get(1) {
        None | Some(Value::Nil) => Vec::new(),
        Some(Value::List(tags)) => tags.iter().map(lower).collect::<Result<_, _>>()?,
        Some(tag) => vec![lower(tag)?],
    };
    let location = match rest.get(2) {
        None => None,
        Some(v) => nstring(v)?,
    };
    Ok(Ext {
        disposition,
        language,
        location,
        more: rest.get(3..).unwrap_or_default().to_vec(),
        ..Ext::default()
    })
}

/// `body-fld-param`: names lower case, and the charset's value too.
fn params(v: &Value) -> Result<Vec<(String, String)>, String> {
    let items = match v {
        Value::Nil => return Ok(Vec::new()),
        v => v.list()?,
    };
    if items.is_empty() || items.len() % 2 != 0 {
        return Err(format!(
            "body-fld-param must be NIL or name/value pairs: {v:?}"
        ));
    }
    items
        .chunks(2)
        .map(|kv| {
            let name = lower(&kv[0])?;
            let value = string(&kv[1])?;
            let value = if name == "charset" {
                value.to_ascii_lowercase()
            } else {
                value
            };
            Ok((name, value))
        })
        .collect()
}

fn string(v: &Value) -> Result<String, String> {
    match v {
        Value::Str(_) => Ok(v.text().unwrap_or_default()),
        other => Err(format!("a string expected, got {other:?}")),
    }
}

fn nstring(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Nil => Ok(None),
        v => string(v).map(Some),
    }
}

fn lower(v: &Value) -> Result<String, String> {
    string(v).map(|s| s.to_ascii_lowercase())
}
