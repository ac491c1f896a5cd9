//! A JSON object written by hand (the bench has no serde): flat keys,
//! numbers, strings and nested objects are all the output needs.

use std::fmt::Write as _;

/// Builds one JSON object, keys in insertion order.
#[derive(Debug)]
pub struct Obj {
    buf: String,
}

impl Obj {
    pub fn new() -> Self {
        Self {
            buf: String::from("{"),
        }
    }

    fn key(&mut self, k: &str) -> &mut Self {
        if self.buf.len() > 1 {
            self.buf.push(',');
        }
        self.buf.push_str(&quote(k));
        self.buf.push(':');
        self
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        let q = quote(v);
        self.key(k).buf.push_str(&q);
        self
    }

    pub fn int(&mut self, k: &str, v: u64) -> &mut Self {
        let _ = write!(self.key(k).buf, "{v}");
        self
    }

    /// Three decimals are below the noise of any figure here; a value that
    /// is not finite (nothing to divide by) becomes `null`.
    pub fn float(&mut self, k: &str, v: f64) -> &mut Self {
        if v.is_finite() {
            let _ = write!(self.key(k).buf, "{v:.3}");
        } else {
            self.null(k);
        }
        self
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k).buf.push_str(if v { "true" } else { "false" });
        self
    }

    pub fn null(&mut self, k: &str) -> &mut Self {
        self.key(k).buf.push_str("null");
        self
    }

    pub fn obj(&mut self, k: &str, v: Self) -> &mut Self {
        let v = v.finish();
        self.key(k).buf.push_str(&v);
        self
    }

    pub fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// A JSON string literal (RFC 8259 §7): quotes, backslashes and control
/// characters escaped; everything else, UTF-8 included, as it is.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires() {
        assert_eq!(quote("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn builds_nested_objects() {
        let mut inner = Obj::new();
        inner.float("p50", 1.23456).null("p90");
        let mut o = Obj::new();
        o.str("label", "postern")
            .int("errors", 0)
            .float("nan", f64::NAN)
            .obj("latency_ms", inner);
        assert_eq!(
            o.finish(),
            r#"{"label":"postern","errors":0,"nan":null,"latency_ms":{"p50":1.235,"p90":null}}"#
        );
    }
}
