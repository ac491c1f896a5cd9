//! `multipart/form-data` request bodies (RFC 7578), as browsers send a
//! form with file inputs: the compose page's attachments.
//!
//! The body is already in memory (the route's body limit bounds it), so
//! this is a parser over a byte slice, sans I/O: find each delimiter line,
//! read the part's header fields, keep its content exactly (RFC 7578 §4.7:
//! no transfer encoding is used). Anything malformed is an error, never a
//! guess: a part cut short, a missing closing delimiter, header fields
//! without their empty line, too many parts.

use std::fmt;

/// Parts in one form: the compose form has a dozen fields and the files.
pub const MAX_PARTS: usize = 256;
/// One part's header section (Content-Disposition and Content-Type).
const MAX_PART_HEADER: usize = 8 * 1024;

/// One form field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The `name` parameter of Content-Disposition.
    pub name: String,
    /// The `filename` parameter: present for a file input, even empty
    /// (a file input left empty sends `filename=""`).
    pub filename: Option<String>,
    /// The part's Content-Type, if it gave one.
    pub content_type: Option<String>,
    pub value: Vec<u8>,
}

impl Field {
    /// The value as text (form fields are UTF-8, RFC 7578 §5.1.2); invalid
    /// sequences become U+FFFD rather than failing the whole form.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }
}

/// Why a body is not a form we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormError {
    /// The Content-Type is not multipart/form-data with a usable boundary.
    NotMultipart,
    /// The body does not follow RFC 2046 §5.1.1's structure.
    Malformed,
    /// More than [`MAX_PARTS`] parts.
    TooManyParts,
}

impl FormError {
    /// The answer's text.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::NotMultipart => "the form must be sent as multipart/form-data\n",
            Self::Malformed => "the form's body is malformed\n",
            Self::TooManyParts => "the form has too many fields\n",
        }
    }
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason().trim_end())
    }
}

/// The boundary of a `multipart/form-data` Content-Type value (RFC 2046
/// §5.1.1: 1 to 70 characters).
pub fn boundary(content_type: &str) -> Result<String, FormError> {
    let (kind, params) = content_type
        .split_once(';')
        .ok_or(FormError::NotMultipart)?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return Err(FormError::NotMultipart);
    }
    let boundary = parameter(params, "boundary").ok_or(FormError::NotMultipart)?;
    if boundary.is_empty()
        || boundary.len() > 70
        || boundary.bytes().any(|b| !(0x20..=0x7e).contains(&b))
    {
        return Err(FormError::NotMultipart);
    }
    Ok(boundary)
}

/// The fields of a request's body, by its Content-Type header.
pub fn from_request(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<Vec<Field>, FormError> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    parse(body, &boundary(content_type)?)
}

/// The fields of `body`, in order.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Field>, FormError> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // The first delimiter may follow a preamble (RFC 2046 §5.1.1), which
    // browsers never send; it starts the body or a line.
    let mut at = if body.starts_with(delimiter) {
        delimiter.len()
    } else {
        find_delimiter(body, 0, delimiter).ok_or(FormError::Malformed)? + 2 + delimiter.len()
    };
    let mut fields = Vec::new();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            // The close delimiter; an epilogue after it is ignored.
            return Ok(fields);
        }
        // Transport padding (RFC 2046 §5.1.1), then the line end.
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(FormError::Malformed)?;
        if rest[..line_end].iter().any(|&b| b != b' ' && b != b'\t') {
            return Err(FormError::Malformed);
        }
        let start = at + line_end + 2;
        let end = find_delimiter(body, start, delimiter).ok_or(FormError::Malformed)?;
        if fields.len() == MAX_PARTS {
            return Err(FormError::TooManyParts);
        }
        fields.push(part(&body[start..end])?);
        at = end + 2 + delimiter.len();
    }
}

/// Where the next `CRLF--boundary` begins, at or after `from`.
fn find_delimiter(body: &[u8], from: usize, delimiter: &[u8]) -> Option<usize> {
    let mut i = from;
    while let Some(cr) = body.get(i..)?.iter().position(|&b| b == b'\r') {
        let p = i + cr;
        let after = body.get(p + 2..)?;
        if body.get(p + 1) == Some(&b'\n') && after.starts_with(delimiter) {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

/// One body part: header fields, an empty line, the content.
fn part(raw: &[u8]) -> Result<Field, FormError> {
    let (head, value) = if let Some(rest) = raw.strip_prefix(b"\r\n") {
        (&b""[..], rest)
    } else {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or(FormError::Malformed)?;
        (&raw[..split], &raw[split + 4..])
    };
    if head.len() > MAX_PART_HEADER {
        return Err(FormError::Malformed);
    }
    let head = std::str::from_utf8(head).map_err(|_| FormError::Malformed)?;
    let mut disposition = None;
    let mut content_type = None;
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(FormError::Malformed)?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            disposition = Some(value.trim());
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_owned());
        }
    }
    // RFC 7578 §4.2: every part has `Content-Disposition: form-data` with
    // a name.
    let disposition = disposition.ok_or(FormError::Malformed)?;
    let (kind, params) = disposition.split_once(';').unwrap_or((disposition, ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return Err(FormError::Malformed);
    }
    let name = parameter(params, "name").ok_or(FormError::Malformed)?;
    Ok(Field {
        name,
        filename: parameter(params, "filename"),
        content_type,
        value: value.to_vec(),
    })
}

/// A parameter's value from `; a=b; c="d"` (RFC 2045 §5.1 syntax).
/// Browsers escape `"` in names as `%22` and CR/LF as `%0D%0A` (the
/// HTML standard's form encoding), and some escape with a backslash;
/// both quoted forms are read. Names compare case-insensitively.
fn parameter(params: &str, wanted: &str) -> Option<String> {
    let mut rest = params;
    loop {
        rest = rest.trim_start_matches([';', ' ', '\t']);
        if rest.is_empty() {
            return None;
        }
        let eq = rest.find('=')?;
        let name = rest[..eq].trim();
        rest = &rest[eq + 1..];
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            rest = &quoted[end?..];
            value
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            let value = rest[..end].trim().to_owned();
            rest = &rest[end..];
            value
        };
        if name.eq_ignore_ascii_case(wanted) {
            return Some(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &[u8] = b"------WebKitFormBoundaryX\r\n\
Content-Disposition: form-data; name=\"to\"\r\n\r\n\
bob@example.test\r\n\
------WebKitFormBoundaryX\r\n\
Content-Disposition: form-data; name=\"attachment\"; filename=\"r\xc3\xa9sum\xc3\xa9 \\\"1\\\".pdf\"\r\n\
Content-Type: application/pdf\r\n\r\n\
%PDF\r\n--not the boundary\r\n\x00\xff\r\n\
------WebKitFormBoundaryX\r\n\
Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\
\r\n\
------WebKitFormBoundaryX--\r\n";

    #[test]
    fn a_browser_form_with_a_file() {
        let b = boundary("multipart/form-data; boundary=----WebKitFormBoundaryX").unwrap();
        let fields = parse(CHROME, &b).unwrap();
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[0].name, "to");
        assert_eq!(fields[0].text(), "bob@example.test");
        assert_eq!(fields[0].filename, None);
        assert_eq!(fields[1].filename.as_deref(), Some("résumé \"1\".pdf"));
        assert_eq!(fields[1].content_type.as_deref(), Some("application/pdf"));
        // Binary content, a line that looks like a boundary but is not:
        // kept byte for byte.
        assert_eq!(
            fields[1].value,
            b"%PDF\r\n--not the boundary\r\n\x00\xff".to_vec()
        );
        assert_eq!(fields[2].filename.as_deref(), Some(""));
        assert!(fields[2].value.is_empty());
    }

    #[test]
    fn boundaries_from_the_content_type() {
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"").unwrap(),
            "a b"
        );
        for bad in [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/mixed; boundary=x",
        ] {
            assert_eq!(boundary(bad), Err(FormError::NotMultipart), "{bad}");
        }
        let long = format!("multipart/form-data; boundary={}", "x".repeat(71));
        assert_eq!(boundary(&long), Err(FormError::NotMultipart));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let ok = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--";
        assert_eq!(parse(ok, "b").unwrap()[0].value, b"1");
        for bad in [
            &b""[..],
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1",
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n1\r\n--b--",
            b"--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n--b--",
            b"--b\r\nContent-Disposition: form-data\r\n\r\n1\r\n--b--",
            b"--bjunk\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--",
            b"--b\r\nno colon\r\n\r\n1\r\n--b--",
        ] {
            assert_eq!(
                parse(bad, "b"),
                Err(FormError::Malformed),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_number_of_parts_is_bounded() {
        let one = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n";
        let body = format!("{}--b--", one.repeat(MAX_PARTS + 1));
        assert_eq!(parse(body.as_bytes(), "b"), Err(FormError::TooManyParts));
        let body = format!("{}--b--", one.repeat(MAX_PARTS));
        assert_eq!(parse(body.as_bytes(), "b").unwrap().len(), MAX_PARTS);
    }
}
