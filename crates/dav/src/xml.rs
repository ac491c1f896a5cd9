//! A small, bounded XML tree over quick-xml, with namespaces resolved.
//!
//! Request bodies are small (a PROPFIND, a REPORT with a filter), so they
//! are read whole into a tree and then matched by (namespace, name). The
//! reader is where the security rules live: no DOCTYPE at all (so no
//! entity can be declared, expanded or fetched: RFC 4918 §20.6), only the
//! predefined entities and character references, a depth bound and an
//! element count bound, UTF-8 only. Line ends in text come out as LF,
//! as XML §2.11 says: a client's CRLF inside a property is not kept.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::error::{excerpt, DavError};
use crate::PropName;

/// Elements may nest this deep; a CalDAV filter needs about ten levels.
pub const MAX_DEPTH: usize = 64;
/// A body may hold this many elements; a multiget of a thousand hrefs
/// stays well below.
pub const MAX_ELEMENTS: usize = 10_000;

/// One element: its resolved name, attributes without a namespace, text
/// (the concatenation of its direct text nodes) and child elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: PropName,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) children: Vec<Self>,
}

impl Element {
    /// Whether this element is `namespace:local`.
    pub(crate) fn is(&self, namespace: &str, local: &str) -> bool {
        self.name.namespace == namespace && self.name.local == local
    }

    /// The first child named `namespace:local`.
    pub(crate) fn child(&self, namespace: &str, local: &str) -> Option<&Self> {
        self.children.iter().find(|c| c.is(namespace, local))
    }

    /// Every child named `namespace:local`.
    pub(crate) fn all<'a>(
        &'a self,
        namespace: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Self> + 'a {
        self.children.iter().filter(move |c| c.is(namespace, local))
    }

    /// The attribute `name` (without a namespace prefix).
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The children serialized back to XML, each with its namespace
    /// declared, for properties stored as a raw fragment.
    pub(crate) fn inner_xml(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            c.write(&mut out, None);
        }
        out
    }

    fn write(&self, out: &mut String, parent_ns: Option<&str>) {
        out.push('<');
        out.push_str(&self.name.local);
        if parent_ns != Some(self.name.namespace.as_str()) {
            out.push_str(" xmlns=\"");
            out.push_str(&escape(&self.name.namespace));
            out.push('"');
        }
        for (n, v) in &self.attrs {
            out.push_str(&format!(" {n}=\"{}\"", escape(v)));
        }
        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        out.push_str(&escape(&self.text));
        for c in &self.children {
            c.write(out, Some(&self.name.namespace));
        }
        out.push_str(&format!("</{}>", self.name.local));
    }
}

/// Escapes text for element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A CR would be read back as LF (XML §2.11): keep it.
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

/// Parses a whole body into its root element; `Ok(None)` for a body with
/// no element at all (only white space), which PROPFIND and MKCALENDAR
/// allow.
pub(crate) fn parse(body: &[u8]) -> Result<Option<Element>, DavError> {
    let text = std::str::from_utf8(body).map_err(|_| DavError::NotUtf8)?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = namespace(&ns)?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(DavError::Malformed("more than one root element".into()));
            }
            Event::Start(start) => {
                count += 1;
                check_bounds(count, stack.len() + 1)?;
                stack.push(element(&reader, ns, &start)?);
            }
            Event::Empty(start) => {
                count += 1;
                check_bounds(count, stack.len() + 1)?;
                let el = element(&reader, ns, &start)?;
                close(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| DavError::Malformed("an end tag without a start".into()))?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().map_err(malformed)?
                } else {
                    predefined(&r.xml10_content())
                };
                let c = c.ok_or_else(|| DavError::UndefinedEntity(excerpt(&r.xml10_content())))?;
                push_text(&mut stack, c.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => return Err(DavError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof if stack.is_empty() => return Ok(root),
            Event::Eof => {
                return Err(DavError::Malformed(
                    "the body ends inside an element".into(),
                ))
            }
        }
    }
}

fn malformed(e: impl std::fmt::Display) -> DavError {
    DavError::Malformed(excerpt(&e.to_string()))
}

fn check_bounds(count: usize, depth: usize) -> Result<(), DavError> {
    if depth > MAX_DEPTH {
        return Err(DavError::TooDeep);
    }
    if count > MAX_ELEMENTS {
        return Err(DavError::TooManyElements);
    }
    Ok(())
}

fn namespace(ns: &ResolveResult<'_>) -> Result<String, DavError> {
    match ns {
        ResolveResult::Bound(n) => Ok(n.0.to_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(DavError::Malformed(format!(
            "the namespace prefix {:?} is not declared",
            excerpt(p)
        ))),
    }
}

fn predefined(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

fn element(
    reader: &NsReader<&[u8]>,
    namespace: String,
    start: &BytesStart<'_>,
) -> Result<Element, DavError> {
    let local = reader
        .resolver()
        .resolve_element(start.name())
        .1
        .as_ref()
        .to_owned();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        let (ns, name) = reader.resolver().resolve_attribute(attr.key);
        // xmlns declarations are the reader's business; attributes in a
        // namespace are none of CalDAV's.
        let key = attr.key.as_ref();
        if key == "xmlns" || key.starts_with("xmlns:") || matches!(ns, ResolveResult::Bound(_)) {
            continue;
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(malformed)?;
        attrs.push((name.as_ref().to_owned(), value.into_owned()));
    }
    Ok(Element {
        name: PropName::new(namespace, local),
        attrs,
        text: String::new(),
        children: Vec::new(),
    })
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), DavError> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(DavError::Malformed("text outside the root element".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_resolved_whatever_the_prefix() {
        let el = parse(b"<?xml version=\"1.0\"?><x:a xmlns:x=\"DAV:\"><b xmlns=\"urn:ietf:params:xml:ns:caldav\" name=\"V&amp;E\">t&#65;&lt;</b></x:a>")
            .unwrap()
            .unwrap();
        assert!(el.is("DAV:", "a"));
        let b = el.child("urn:ietf:params:xml:ns:caldav", "b").unwrap();
        assert_eq!(b.attr("name"), Some("V&E"));
        assert_eq!(b.text, "tA<");
    }

    #[test]
    fn doctype_is_refused_before_any_entity() {
        let laughs = b"<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><l>&b;</l>";
        assert_eq!(parse(laughs), Err(DavError::Doctype));
        let xxe = b"<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><d:propfind xmlns:d=\"DAV:\">&x;</d:propfind>";
        assert_eq!(parse(xxe), Err(DavError::Doctype));
    }

    #[test]
    fn undefined_entity_is_refused() {
        assert!(matches!(
            parse(b"<a>&x;</a>"),
            Err(DavError::UndefinedEntity(e)) if e == "x"
        ));
    }

    #[test]
    fn depth_and_count_are_bounded() {
        let deep = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(parse(deep.as_bytes()).is_ok());
        let deeper = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(deeper.as_bytes()), Err(DavError::TooDeep));
        let many = format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS - 1));
        assert!(parse(many.as_bytes()).is_ok());
        let more = format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS));
        assert_eq!(parse(more.as_bytes()), Err(DavError::TooManyElements));
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(parse(b"<a>\xff</a>"), Err(DavError::NotUtf8));
        assert!(matches!(parse(b"<a><b></a>"), Err(DavError::Malformed(_))));
        assert!(matches!(parse(b"<a>"), Err(DavError::Malformed(_))));
        assert!(matches!(parse(b"<a/><b/>"), Err(DavError::Malformed(_))));
        assert!(matches!(parse(b"<x:a/>"), Err(DavError::Malformed(_))));
        assert_eq!(parse(b"  \r\n"), Ok(None));
    }

    #[test]
    fn inner_xml_round_trips_with_namespaces() {
        let el = parse(b"<s xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><c:comp name=\"VEVENT\"/><c:comp name=\"a&quot;\"/></s>")
            .unwrap()
            .unwrap();
        let inner = el.inner_xml();
        assert_eq!(
            inner,
            "<comp xmlns=\"urn:ietf:params:xml:ns:caldav\" name=\"VEVENT\"/><comp xmlns=\"urn:ietf:params:xml:ns:caldav\" name=\"a&quot;\"/>"
        );
        let again = parse(format!("<s>{inner}</s>").as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(again.children, el.children);
    }
}
