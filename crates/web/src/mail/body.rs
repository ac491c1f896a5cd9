//! What of a message the reading page shows: its text parts (plain text
//! as text, HTML sanitized), and its attachments, numbered as IMAP numbers
//! body parts (RFC 9051 §6.4.5) so a part's URL names the same part an
//! IMAP client would fetch.
//!
//! HTML mail is hostile input. It goes through ammonia with a strict
//! configuration (see [`sanitize`]); the page's content security policy
//! is the second wall (no script, no inline style, images only from here
//! or `data:`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use postern_message::{Body, Message, Single};

/// Text parts larger than this are cut for display (the whole part stays
/// downloadable): a browser page of tens of megabytes helps nobody.
pub const MAX_SHOWN: usize = 2 * 1024 * 1024;

/// One part of the body as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// Plain text, to be HTML-escaped by the template.
    Plain(String),
    /// HTML already sanitized by [`sanitize`].
    Html(String),
}

/// An attachment, listed with its download link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The IMAP part number, `2` or `1.2`.
    pub part: String,
    pub name: String,
    /// `type/subtype`, lowercase.
    pub ctype: String,
    /// Decoded size in octets (base64 estimated from the encoded size).
    pub size: u64,
}

/// The shown parts and the attachments of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub shown: Vec<Shown>,
    pub attachments: Vec<Attachment>,
    /// Whether a part was cut at [`MAX_SHOWN`].
    pub truncated: bool,
    /// Whether HTML had remote images that were not loaded.
    pub remote_images_blocked: bool,
}

/// Where a message's parts can be fetched from this site: the
/// `.../part/` URL prefix of the message, and its parts' Content-IDs.
#[derive(Debug, Clone, Default)]
pub struct PartLinks {
    /// `/mail/INBOX/7/part/`.
    prefix: String,
    /// Content-ID (without `<>`) to part number.
    cids: HashMap<String, String>,
    /// The reader asked for this message's remote images: `https:` image
    /// sources are kept.
    remote_images: bool,
    /// Set when an image with a remote source was removed, so the page
    /// can offer to show them.
    blocked: Arc<AtomicBool>,
}

impl PartLinks {
    /// The URL of the part a `cid:` URL names (RFC 2392 §2: the
    /// Content-ID, percent-encoded), if the message has it.
    fn cid(&self, url: &str) -> Option<String> {
        let id = percent_decode(url.get(4..)?);
        let part = self.cids.get(&id)?;
        Some(format!("{}{part}", self.prefix))
    }
}

/// Renders a parsed message whose page is `href` (`/mail/INBOX/7`),
/// remote images left out.
pub fn render(msg: &Message<'_>, href: &str) -> Rendered {
    render_with(msg, href, false)
}

/// Renders a parsed message; `remote_images`: the reader chose to load
/// this message's `https:` images.
pub fn render_with(msg: &Message<'_>, href: &str, remote_images: bool) -> Rendered {
    let mut out = Rendered::default();
    let body = msg.body();
    let mut links = PartLinks {
        prefix: format!("{href}/part/"),
        cids: HashMap::new(),
        remote_images,
        blocked: Arc::new(AtomicBool::new(false)),
    };
    // A message that is not multipart has its body as part 1.
    let mut root = match &body {
        Body::Single(_) => vec![1],
        Body::Multi { .. } => Vec::new(),
    };
    content_ids(&body, &mut root.clone(), &mut links.cids);
    walk(msg, &body, &mut root, &links, &mut out);
    out.remote_images_blocked = links.blocked.load(Ordering::Relaxed);
    out
}

/// Every part's Content-ID, for the `cid:` images of an HTML part
/// (RFC 2387 multipart/related).
fn content_ids(body: &Body, path: &mut Vec<u32>, out: &mut HashMap<String, String>) {
    match body {
        Body::Multi { parts, .. } => {
            for (i, part) in parts.iter().enumerate() {
                path.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
                content_ids(part, path, out);
                path.pop();
            }
        }
        Body::Single(s) => {
            if let Some(id) = &s.id {
                let id = String::from_utf8_lossy(id);
                let id = id.trim().trim_start_matches('<').trim_end_matches('>');
                out.entry(id.to_owned()).or_insert_with(|| part_name(path));
            }
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn walk(
    msg: &Message<'_>,
    body: &Body,
    path: &mut Vec<u32>,
    links: &PartLinks,
    out: &mut Rendered,
) {
    match body {
        Body::Multi { parts, subtype, .. } => {
            let chosen = match subtype.as_str() {
                // RFC 2046 §5.1.4: the alternatives say the same thing;
                // show the richest one we can render.
                "ALTERNATIVE" => vec![best_alternative(parts)],
                _ => (0..parts.len()).collect(),
            };
            for i in chosen {
                // Part numbers are 1-based; `i` is below `parts.len()`,
                // which the message crate bounds far below u32::MAX.
                path.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
                walk(msg, &parts[i], path, links, out);
                path.pop();
            }
        }
        Body::Single(s) => single(msg, s, path, links, out),
    }
}

/// The alternative to show: HTML (or a multipart that holds it, as
/// multipart/related does) when there is one, else plain text, else the
/// last. Sanitized HTML is what the sender composed; the plain part of
/// such mail is often a poor automatic conversion, and the sanitizer and
/// the content security policy make the HTML safe to show.
fn best_alternative(parts: &[Body]) -> usize {
    let is = |b: &Body, t: &str, st: &str| match b {
        Body::Single(s) => s.ctype == t && s.subtype == st,
        Body::Multi { subtype, .. } => t == "MULTIPART" && subtype == st,
    };
    let find = |t, st| parts.iter().rposition(|p| is(p, t, st));
    find("TEXT", "HTML")
        .or_else(|| find("MULTIPART", "RELATED"))
        .or_else(|| find("TEXT", "PLAIN"))
        .unwrap_or_else(|| parts.len().saturating_sub(1))
}

fn single(msg: &Message<'_>, s: &Single, path: &[u32], links: &PartLinks, out: &mut Rendered) {
    let text = s.ctype == "TEXT" && (s.subtype == "PLAIN" || s.subtype == "HTML");
    if text && !is_attachment(s) {
        if let Some(bytes) = msg.binary(path) {
            let (content, cut) = decode_text(&bytes, param(&s.params, "CHARSET"));
            out.truncated |= cut;
            out.shown.push(match s.subtype.as_str() {
                "HTML" => Shown::Html(sanitize(&content, links)),
                _ => Shown::Plain(content),
            });
            return;
        }
    }
    out.attachments.push(Attachment {
        part: part_name(path),
        name: file_name(s, path),
        ctype: format!("{}/{}", s.ctype, s.subtype).to_ascii_lowercase(),
        size: decoded_size(s),
    });
}

/// RFC 2183 §2.2: `attachment` asks not to be shown; a named text part is
/// a file too.
fn is_attachment(s: &Single) -> bool {
    let disposition = s.ext.disposition.as_ref();
    disposition.is_some_and(|(kind, _)| kind == "ATTACHMENT")
        || disposition.is_some_and(|(_, p)| param(p, "FILENAME").is_some())
        || param(&s.params, "NAME").is_some()
}

fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `1.2` from `[1, 2]`.
pub fn part_name(path: &[u32]) -> String {
    path.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Parses [`part_name`]'s form: 1 to 32 numbers, none zero.
pub fn parse_part(s: &str) -> Option<Vec<u32>> {
    let path: Vec<u32> = s
        .split('.')
        .map(|n| n.parse().ok().filter(|&n: &u32| n > 0))
        .collect::<Option<_>>()?;
    (!path.is_empty() && path.len() <= 32).then_some(path)
}

/// The attachment's file name (RFC 2183 `filename`, else the older
/// Content-Type `name`), else one made from its part number and type.
/// Path separators and control characters are replaced, so the name is
/// safe in a download dialog and in a header.
pub fn file_name(s: &Single, path: &[u32]) -> String {
    let given = s
        .ext
        .disposition
        .as_ref()
        .and_then(|(_, p)| param(p, "FILENAME"))
        .or_else(|| param(&s.params, "NAME"));
    let clean: String = given
        .unwrap_or_default()
        .chars()
        .map(|c| match c {
            '/' | '\\' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .take(200)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_owned();
    if !clean.is_empty() {
        return clean;
    }
    let ext = match (s.ctype.as_str(), s.subtype.as_str()) {
        ("MESSAGE", "RFC822") => "eml",
        ("TEXT", "PLAIN") => "txt",
        ("TEXT", "HTML") => "html",
        _ => "bin",
    };
    format!("part-{}.{ext}", part_name(path))
}

fn decoded_size(s: &Single) -> u64 {
    let size = s.size as u64;
    match s.encoding.as_str() {
        // Four characters carry three octets; line breaks are noise here.
        "BASE64" => size / 4 * 3,
        _ => size,
    }
}

/// Text in its charset as a `String`, cut at [`MAX_SHOWN`] octets on a
/// character boundary; `true` if cut. Unknown charsets are read as UTF-8
/// with replacement characters.
pub fn decode_text(bytes: &[u8], charset: Option<&str>) -> (String, bool) {
    let charset = charset.unwrap_or("us-ascii").trim();
    let utf8 = ["utf-8", "utf8", "us-ascii", "ascii"]
        .iter()
        .any(|c| charset.eq_ignore_ascii_case(c));
    let decoder = (!utf8)
        .then(|| mail_parser::decoders::charsets::map::charset_decoder(charset.as_bytes()))
        .flatten();
    let mut text = match decoder {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    };
    if text.len() <= MAX_SHOWN {
        return (text, false);
    }
    let mut end = MAX_SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, true)
}

/// Sanitizes an HTML mail part for display inside our page:
///
/// - ammonia's allow list of tags and attributes (no script, no event
///   handler, no `style` element or attribute, no form, no frame); the
///   content of `script`, `style` and `title` is dropped, not shown;
/// - links only to `http`, `https` and `mailto`, opened in a new tab with
///   `rel="noopener noreferrer"` (no `window.opener`, no Referer);
/// - no remote content: an image's `src` survives only as a `data:image/`
///   URL or a `cid:` URL naming a part of this message, which becomes
///   that part's URL here; every other relative URL (which would resolve
///   against this server, or protocol-relative to any host) is removed.
///   Loading remote images tells the sender when and where the mail is
///   read; the reader may choose to load one message's `https:` images
///   (`remote_images`), never `http:` ones (mixed content, and readable
///   on the way).
pub fn sanitize(html: &str, links: &PartLinks) -> String {
    let tags: HashSet<&str> = ["area", "map"].into_iter().collect();
    let filter_links = links.clone();
    ammonia::Builder::default()
        .rm_tags(&tags)
        .add_clean_content_tags(["title"])
        .url_schemes(["http", "https", "mailto", "data", "cid"].into())
        .url_relative(ammonia::UrlRelative::Custom(Box::new(OwnParts(
            links.prefix.clone(),
        ))))
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .attribute_filter(move |e, a, v| url_filter(e, a, v, &filter_links))
        .clean(html)
        .to_string()
}

/// The per-attribute half of [`sanitize`]'s URL rule: `data:` and `cid:`
/// only as an image's source, never as a link (a `data:` link can be a
/// whole HTML page); a `cid:` source becomes its part's URL.
fn url_filter<'u>(
    element: &str,
    attribute: &str,
    value: &'u str,
    links: &PartLinks,
) -> Option<Cow<'u, str>> {
    let v = value.trim_start().to_ascii_lowercase();
    let inline = v.starts_with("data:") || v.starts_with("cid:");
    match (element, attribute) {
        ("img", "src") if v.starts_with("cid:") => links.cid(value.trim_start()).map(Cow::Owned),
        ("img", "src") if v.starts_with("data:image/") => Some(Cow::Borrowed(value)),
        ("img", "src") if links.remote_images && v.starts_with("https://") => {
            Some(Cow::Borrowed(value))
        }
        ("img", "src") => {
            if v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//") {
                links.blocked.store(true, Ordering::Relaxed);
            }
            None
        }
        (_, "href" | "cite" | "src") if inline => None,
        _ => Some(Cow::Borrowed(value)),
    }
}

/// The only relative URLs kept: this message's own parts, which the
/// `cid:` rewriting produces (ammonia checks relative URLs after the
/// attribute filter).
struct OwnParts(String);

impl<'a> ammonia::UrlRelativeEvaluate<'a> for OwnParts {
    fn evaluate<'url>(&self, url: &'url str) -> Option<Cow<'url, str>> {
        let part = url.strip_prefix(self.0.as_str())?;
        parse_part(part).map(|_| Cow::Borrowed(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_images_only_when_asked_and_only_over_https() {
        let html = r#"<img src="https://img.example/a.png" alt="a"><img src="http://img.example/b.png" alt="b"><img src="//img.example/c.png" alt="c">"#;
        let links = PartLinks::default();
        let hidden = sanitize(html, &links);
        assert!(!hidden.contains("img.example"), "{hidden}");
        assert!(links.blocked.load(Ordering::Relaxed));
        let links = PartLinks {
            remote_images: true,
            ..PartLinks::default()
        };
        let shown = sanitize(html, &links);
        assert!(
            shown.contains(r#"src="https://img.example/a.png""#),
            "{shown}"
        );
        assert!(
            !shown.contains("http://img.example") && !shown.contains("//img.example/c"),
            "{shown}"
        );
        let plain = PartLinks::default();
        sanitize("<p>no images</p>", &plain);
        assert!(!plain.blocked.load(Ordering::Relaxed));
    }

    #[test]
    fn scripts_handlers_styles_and_remote_images_go() {
        let dirty = r#"<p onclick="x()">Hi<script>alert(1)</script><style>p{}</style>
<img src="http://remote.example/x.png" onerror="alert(2)" alt="r">
<img src="//remote.example/y.png"><img src="/mail/INBOX"><img src="cid:logo%40x" alt="c">
<img src="cid:unknown@x"><img src="/mail/INBOX/7/part/../../x"><img src="/mail/INBOX/7/part/2">
<img src="data:image/png;base64,AAAA" alt="d"><img src="data:text/html,<b>">
<a href="javascript:alert(3)">j</a> <a href="data:text/html,x">d</a>
<a href="https://example.org/">ok</a><span style="background:url(http://remote/)">s</span>
<iframe src="https://x"></iframe><form action="https://x"><input name=p></form></p>"#;
        let links = PartLinks {
            prefix: "/mail/INBOX/7/part/".into(),
            cids: [("logo@x".to_owned(), "3".to_owned())].into(),
            ..PartLinks::default()
        };
        let clean = sanitize(dirty, &links);
        assert!(links.blocked.load(Ordering::Relaxed));
        for banned in [
            "script",
            "alert",
            "onclick",
            "onerror",
            "style",
            "remote.example",
            "/mail/INBOX\"",
            "unknown",
            "..",
            "javascript",
            "data:text",
            "iframe",
            "form",
            "input",
        ] {
            assert!(!clean.contains(banned), "{banned} in {clean}");
        }
        // A cid: image is its part of this message; any other image URL
        // of this site is gone, even one naming the message's own part.
        assert!(
            clean.contains(r#"<img src="/mail/INBOX/7/part/3" alt="c">"#),
            "{clean}"
        );
        assert!(!clean.contains("part/2"), "{clean}");
        assert!(!clean.contains("cid:"), "{clean}");
        assert!(
            clean.contains(r#"src="data:image/png;base64,AAAA""#),
            "{clean}"
        );
        let link = clean
            .find(r#"<a href="https://example.org/""#)
            .expect("the https link");
        let tag = &clean[link..link + clean[link..].find('>').unwrap()];
        assert!(tag.contains(r#"rel="noopener noreferrer""#), "{tag}");
        assert!(tag.contains(r#"target="_blank""#), "{tag}");
    }

    fn rendered(raw: &str) -> Rendered {
        render(&Message::parse(raw.as_bytes()), "/mail/INBOX/7")
    }

    #[test]
    fn plain_message_is_part_one() {
        let r = rendered("Subject: x\r\n\r\nHello <b>\r\n");
        assert_eq!(r.shown, vec![Shown::Plain("Hello <b>\r\n".into())]);
        assert!(r.attachments.is_empty());
    }

    const MIXED: &str = "Content-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n\
--c\r\nContent-Type: text/plain\r\n\r\nplain\r\n\
--c\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>caf=E9</p>\r\n\
--c--\r\n\
--b\r\nContent-Type: application/pdf; name=\"a/b.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n\
--b--\r\n";

    #[test]
    fn alternative_prefers_html_and_attachments_are_numbered() {
        let r = rendered(MIXED);
        assert_eq!(r.shown, vec![Shown::Html("<p>café</p>".into())]);
        assert_eq!(
            r.attachments,
            vec![Attachment {
                part: "2".into(),
                name: "a_b.pdf".into(),
                ctype: "application/pdf".into(),
                size: 3,
            }]
        );
    }

    #[test]
    fn part_numbers_parse_strictly() {
        assert_eq!(parse_part("1.2"), Some(vec![1, 2]));
        for bad in ["", "0", "1..2", "a", "-1", "1.", "99999999999"] {
            assert_eq!(parse_part(bad), None, "{bad}");
        }
        assert_eq!(part_name(&[3, 1]), "3.1");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_SHOWN);
        let (text, cut) = decode_text(long.as_bytes(), Some("UTF-8"));
        assert!(cut);
        assert!(text.len() <= MAX_SHOWN && text.len() >= MAX_SHOWN - 1);
        assert_eq!(decode_text(b"caf\xe9", Some("latin1")).0, "café");
    }
}
