//! What the checks found, and the Authentication-Results header field
//! (RFC 8601) that tells it to the reader's mail client and filters.
//!
//! The field is ours alone to write: its authserv-id is this server's
//! host name, and a field that claims that id but came with the message
//! is a forgery (RFC 8601 §5), which [`strip_forged`] removes.

use std::borrow::Cow;
use std::fmt::Write as _;

/// One method's result, as RFC 8601 §2.7 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    None,
    TempError,
    PermError,
}

impl Outcome {
    /// The result keyword of RFC 8601 §2.7.
    pub const fn word(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::SoftFail => "softfail",
            Self::Neutral => "neutral",
            Self::None => "none",
            Self::TempError => "temperror",
            Self::PermError => "permerror",
        }
    }
}

/// The DMARC policy the author's domain asks for (RFC 7489 §6.3), after
/// its test mode (`t=y`) lowered it by one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    None,
    Quarantine,
    Reject,
}

impl Requested {
    const fn word(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }
}

/// Which SPF identity was checked (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpfIdentity {
    /// The MAIL FROM address.
    MailFrom(String),
    /// The HELO name, for the null sender `<>` of bounces.
    Helo(String),
}

/// One DKIM-Signature's verdict (RFC 6376 §6.1), with the properties of
/// RFC 8601 §2.7.1 and RFC 6008 (the start of `b=`, to tell several
/// signatures of one domain apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dkim {
    pub outcome: Outcome,
    /// `d=`; empty when the signature could not be read at all.
    pub domain: String,
    pub selector: String,
    /// The first eight characters of `b=` in base64.
    pub b_prefix: String,
    /// Why it did not pass.
    pub reason: Option<String>,
}

/// The DMARC verdict on the From: domain (RFC 7489 §11.2: header.from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dmarc {
    pub outcome: Outcome,
    /// The RFC 5322.From domain; `None` without a single one.
    pub from_domain: Option<String>,
    pub policy: Requested,
}

/// Everything one message's checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Results {
    pub spf: Outcome,
    pub spf_identity: SpfIdentity,
    /// One per DKIM-Signature; empty: the message had none.
    pub dkim: Vec<Dkim>,
    pub dmarc: Dmarc,
    /// The ARC chain (RFC 8617 §5.2): none, pass or fail.
    pub arc: Outcome,
}

impl Results {
    /// Every method unanswered: the checks did not finish in time.
    pub fn unfinished(spf_identity: SpfIdentity) -> Self {
        let reason = Some("the checks did not finish in time".to_owned());
        Self {
            spf: Outcome::TempError,
            spf_identity,
            dkim: vec![Dkim {
                outcome: Outcome::TempError,
                domain: String::new(),
                selector: String::new(),
                b_prefix: String::new(),
                reason,
            }],
            dmarc: Dmarc {
                outcome: Outcome::TempError,
                from_domain: None,
                policy: Requested::None,
            },
            arc: Outcome::None,
        }
    }

    /// The DKIM results in one word each, for the log.
    pub fn dkim_summary(&self) -> String {
        if self.dkim.is_empty() {
            return "none".to_owned();
        }
        let words: Vec<&str> = self.dkim.iter().map(|d| d.outcome.word()).collect();
        words.join(",")
    }

    /// The header field, folded one method per line, ending with CRLF
    /// (RFC 8601 §2.2). `authserv_id` is this server's host name.
    pub fn header(&self, authserv_id: &str) -> String {
        let mut h = format!("Authentication-Results: {}", pvalue(authserv_id));
        self.write_spf(&mut h);
        self.write_dkim(&mut h);
        self.write_dmarc(&mut h);
        // RFC 8617 §4.4 (the arc method; the chain's result is recorded,
        // not acted on).
        let _ = write!(h, ";\r\n\tarc={}", self.arc.word());
        h.push_str("\r\n");
        h
    }

    fn write_spf(&self, h: &mut String) {
        let _ = write!(h, ";\r\n\tspf={}", self.spf.word());
        // RFC 8601 §2.7.2: smtp.mailfrom, or smtp.helo for the HELO check.
        match &self.spf_identity {
            SpfIdentity::MailFrom(a) => {
                let _ = write!(h, " smtp.mailfrom={}", pvalue(a));
            }
            SpfIdentity::Helo(name) => {
                let _ = write!(h, " smtp.helo={}", pvalue(name));
            }
        }
    }

    fn write_dkim(&self, h: &mut String) {
        if self.dkim.is_empty() {
            h.push_str(";\r\n\tdkim=none");
        }
        for d in &self.dkim {
            let _ = write!(h, ";\r\n\tdkim={}", d.outcome.word());
            if let Some(reason) = &d.reason {
                let _ = write!(h, " reason={}", quoted(reason));
            }
            if !d.domain.is_empty() {
                let _ = write!(
                    h,
                    " header.d={} header.s={}",
                    pvalue(&d.domain),
                    pvalue(&d.selector)
                );
            }
            if !d.b_prefix.is_empty() {
                let _ = write!(h, " header.b={}", pvalue(&d.b_prefix));
            }
        }
    }

    fn write_dmarc(&self, h: &mut String) {
        let d = &self.dmarc;
        let _ = write!(h, ";\r\n\tdmarc={}", d.outcome.word());
        if let Some(domain) = &d.from_domain {
            // The policy in a comment, as large receivers write it: the
            // reader sees why a failing message was (or was not) acted on.
            let _ = write!(h, " (p={}) header.from={}", d.policy.word(), pvalue(domain));
        }
    }
}

/// A property value (RFC 8601 §2.2 `pvalue`): as is when it is a MIME
/// token or an address of atext and dots, quoted otherwise. Whatever the
/// peer chose cannot end the field or start a new one.
fn pvalue(text: &str) -> Cow<'_, str> {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let token = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c);
    let address = text
        .split_once('@')
        .is_some_and(|(l, d)| l.chars().all(atext) && !d.is_empty() && d.chars().all(atext));
    if !text.is_empty() && (text.chars().all(token) || address) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(quoted(text))
    }
}

/// A quoted-string (RFC 5322 §3.2.4) of printable ASCII: anything else
/// becomes `?`, and at most 200 characters are kept.
fn quoted(text: &str) -> String {
    let mut q = String::with_capacity(text.len().min(200) + 2);
    q.push('"');
    for c in text.chars().take(200) {
        match c {
            '"' | '\\' => {
                q.push('\\');
                q.push(c);
            }
            c if c == ' ' || c.is_ascii_graphic() => q.push(c),
            _ => q.push('?'),
        }
    }
    q.push('"');
    q
}

/// The first eight base64 characters of a signature (RFC 6008 §4): the
/// first six octets, which encode without padding.
pub fn b_prefix(b: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let Some(six) = b.get(..6) else {
        return String::new();
    };
    let mut out = String::with_capacity(8);
    for chunk in six.chunks(3) {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
        }
    }
    out
}

/// The message without the Authentication-Results fields whose
/// authserv-id is ours (RFC 8601 §5: a receiver removes those that came
/// from outside, which are forged or stale). Other fields, and fields of
/// other servers, stay byte for byte. Returns the count removed.
pub fn strip_forged<'a>(raw: &'a [u8], authserv_id: &str) -> (Cow<'a, [u8]>, usize) {
    let head_end = header_end(raw);
    let mut kept: Option<Vec<u8>> = None;
    let mut removed = 0;
    let mut start = 0;
    while start < head_end {
        let end = field_end(raw, start, head_end);
        let field = &raw[start..end];
        if claims(field, authserv_id) {
            kept.get_or_insert_with(|| raw[..start].to_vec());
            removed += 1;
        } else if let Some(out) = kept.as_mut() {
            out.extend_from_slice(field);
        }
        start = end;
    }
    match kept {
        Some(mut out) => {
            out.extend_from_slice(&raw[head_end..]);
            (Cow::Owned(out), removed)
        }
        None => (Cow::Borrowed(raw), 0),
    }
}

/// Where the header section ends: after the CRLF that precedes the empty
/// line, or the whole message when there is no body.
fn header_end(raw: &[u8]) -> usize {
    if raw.starts_with(b"\r\n") {
        return 0;
    }
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 2)
}

/// The end of the field starting at `start`: after its last line's CRLF,
/// continuation lines (starting with a space or a tab) included.
fn field_end(raw: &[u8], start: usize, head_end: usize) -> usize {
    let mut pos = start;
    loop {
        pos = raw[pos..head_end]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(head_end, |p| pos + p + 2);
        if pos >= head_end || !matches!(raw[pos], b' ' | b'\t') {
            return pos;
        }
    }
}

/// An Authentication-Results field whose authserv-id is `id` (compared
/// without case, as host names are; comments and folding before it
/// skipped, RFC 8601 §2.2).
fn claims(field: &[u8], id: &str) -> bool {
    const NAME: &[u8] = b"authentication-results";
    let Some(colon) = field.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = field[..colon].trim_ascii_end();
    if !name.eq_ignore_ascii_case(NAME) {
        return false;
    }
    let value = skip_cfws(&field[colon + 1..]);
    let value = value.strip_prefix(b"\"").unwrap_or(value);
    let end = value
        .iter()
        .position(|&b| matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n' | b'(' | b'"'))
        .unwrap_or(value.len());
    value[..end].eq_ignore_ascii_case(id.as_bytes())
}

/// Skips folding white space and comments (nested, with quoted pairs).
fn skip_cfws(mut s: &[u8]) -> &[u8] {
    loop {
        match s.first() {
            Some(b' ' | b'\t' | b'\r' | b'\n') => s = &s[1..],
            Some(b'(') => {
                let mut depth = 0usize;
                let mut i = 0;
                while i < s.len() {
                    match s[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                s = s.get(i + 1..).unwrap_or_default();
            }
            _ => return s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passing() -> Results {
        Results {
            spf: Outcome::Pass,
            spf_identity: SpfIdentity::MailFrom("alice@a.test".into()),
            dkim: vec![Dkim {
                outcome: Outcome::Pass,
                domain: "a.test".into(),
                selector: "s1".into(),
                b_prefix: b_prefix(&[0xfb, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05]),
                reason: None,
            }],
            dmarc: Dmarc {
                outcome: Outcome::Pass,
                from_domain: Some("a.test".into()),
                policy: Requested::Reject,
            },
            arc: Outcome::None,
        }
    }

    #[test]
    fn the_header_names_every_method_with_its_properties() {
        assert_eq!(
            passing().header("mx.b.test"),
            "Authentication-Results: mx.b.test;\r\n\
             \tspf=pass smtp.mailfrom=alice@a.test;\r\n\
             \tdkim=pass header.d=a.test header.s=s1 header.b=\"+/8BAgME\";\r\n\
             \tdmarc=pass (p=reject) header.from=a.test;\r\n\
             \tarc=none\r\n"
        );
    }

    #[test]
    fn hostile_values_stay_inside_one_field() {
        let mut r = passing();
        r.spf_identity = SpfIdentity::Helo("x;\r\nBcc: evil".into());
        r.dkim[0].outcome = Outcome::Fail;
        r.dkim[0].reason = Some("bad \"sig\"\n".into());
        r.dkim.push(Dkim {
            outcome: Outcome::PermError,
            domain: String::new(),
            selector: String::new(),
            b_prefix: String::new(),
            reason: None,
        });
        let h = r.header("mx.b.test");
        assert!(h.contains(" smtp.helo=\"x;??Bcc: evil\";"), "{h}");
        assert!(
            h.contains("dkim=fail reason=\"bad \\\"sig\\\"?\" header.d=a.test"),
            "{h}"
        );
        assert!(h.contains(";\r\n\tdkim=permerror;"), "{h}");
        // Every line break is a fold.
        assert_eq!(h.matches("\r\n").count(), h.matches("\r\n\t").count() + 1);
    }

    #[test]
    fn no_signature_and_no_policy_say_none() {
        let mut r = passing();
        r.dkim.clear();
        r.dmarc = Dmarc {
            outcome: Outcome::None,
            from_domain: None,
            policy: Requested::None,
        };
        let h = r.header("mx.b.test");
        assert!(h.contains("\tdkim=none;\r\n\tdmarc=none;\r\n"), "{h}");
        assert_eq!(r.dkim_summary(), "none");
    }

    #[test]
    fn the_b_prefix_is_eight_base64_characters() {
        assert_eq!(b_prefix(b"Man is"), "TWFuIGlz");
        assert_eq!(b_prefix(b"short"), "");
    }

    #[test]
    fn only_our_authserv_id_is_stripped() {
        let raw = b"Authentication-Results: MX.B.test; spf=pass\r\n\
            Subject: hi\r\n\
            Authentication-Results: (forged)\r\n (really) mx.b.test;\r\n\tdkim=pass\r\n\
            authentication-results : \"mx.b.test\"; dmarc=pass\r\n\
            Authentication-Results: mx.b.test.evil; spf=pass\r\n\
            Authentication-Results: other.example; mx.b.test=pass\r\n\
            \r\n\
            Authentication-Results: mx.b.test; in the body\r\n";
        let (out, n) = strip_forged(raw, "mx.b.test");
        assert_eq!(n, 3);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "Subject: hi\r\n\
             Authentication-Results: mx.b.test.evil; spf=pass\r\n\
             Authentication-Results: other.example; mx.b.test=pass\r\n\
             \r\n\
             Authentication-Results: mx.b.test; in the body\r\n"
        );
    }

    #[test]
    fn a_message_without_ours_is_borrowed_unchanged() {
        let raw = b"Subject: x\r\nAuthentication-Results: a.example; none\r\n\r\nbody\r\n";
        let (out, n) = strip_forged(raw, "mx.b.test");
        assert_eq!(n, 0);
        assert!(matches!(out, Cow::Borrowed(_)));
        // A header section without a body, and an empty one.
        let (out, n) = strip_forged(b"Authentication-Results: mx.b.test; x\r\n", "mx.b.test");
        assert_eq!((out.as_ref(), n), (&b""[..], 1));
        let body_only = b"\r\nAuthentication-Results: mx.b.test\r\n";
        let (out, n) = strip_forged(body_only, "mx.b.test");
        assert_eq!((out.as_ref(), n), (&body_only[..], 0));
    }
}
