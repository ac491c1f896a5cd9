//! The message a user wrote, as RFC 5322 / MIME octets: header fields
//! encoded (RFC 2047 for non-ASCII text, RFC 2231 for file names), the
//! text in quoted-printable UTF-8, attachments in base64, lines ending in
//! CRLF and never longer than 78 characters. Everything the user typed is
//! data: no CR or LF of theirs ever reaches a header field.

use std::fmt::Write as _;

use postern_auth::sasl::encode as base64;

/// An address as the user wrote it: `Name <a@b>` or `a@b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub name: String,
    pub address: String,
}

/// A file to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// `type/subtype`, checked; anything else is sent as
    /// application/octet-stream.
    pub content_type: String,
    pub content: Vec<u8>,
}

/// What the compose form holds, ready to be written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Composed {
    pub from: String,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub subject: String,
    pub body: String,
    /// The Message-ID of the message replied to (RFC 5322 §3.6.4).
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub attachments: Vec<Attachment>,
}

impl Composed {
    /// Every envelope recipient: To, Cc and Bcc, each address once.
    pub fn recipients(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&a.address)) {
                out.push(a.address.clone());
            }
        }
        out
    }

    /// The message. `with_bcc`: the copy kept in Sent and Drafts shows the
    /// Bcc field to its author; the copy submitted never carries it (RFC
    /// 5322 §3.6.3), or every recipient would see it.
    pub fn write(&self, date: i64, message_id: &str, boundary: &str, with_bcc: bool) -> Vec<u8> {
        let mut h = String::new();
        header(&mut h, "Date", &postern_types::date::rfc5322(date));
        header(&mut h, "From", &self.from);
        address_field(&mut h, "To", &self.to);
        address_field(&mut h, "Cc", &self.cc);
        if with_bcc {
            address_field(&mut h, "Bcc", &self.bcc);
        }
        header(&mut h, "Message-ID", message_id);
        if let Some(parent) = &self.in_reply_to {
            header(&mut h, "In-Reply-To", parent);
        }
        if !self.references.is_empty() {
            folded_list(&mut h, "References", &self.references, " ");
        }
        unstructured(&mut h, "Subject", &self.subject);
        header(&mut h, "MIME-Version", "1.0");
        let mut out = h.into_bytes();
        if self.attachments.is_empty() {
            text_part(&mut out, &self.body);
            return out;
        }
        out.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(b"This is a message in MIME format.\r\n");
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        text_part(&mut out, &self.body);
        for a in &self.attachments {
            out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
            attachment_part(&mut out, a);
        }
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        out
    }
}

/// Parses an address field as typed: addresses separated by commas or
/// semicolons, each `addr`, `<addr>` or `Name <addr>` (the name may be
/// quoted and hold commas). `Err` names the first entry that is not an
/// address.
pub fn parse_addresses(input: &str) -> Result<Vec<Address>, String> {
    let mut items = Vec::new();
    let (mut current, mut quoted, mut angle) = (String::new(), false, false);
    for c in input.chars() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    let mut out = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        let (name, address) = match (item.rfind('<'), item.ends_with('>')) {
            (Some(open), true) => (item[..open].trim(), item[open + 1..item.len() - 1].trim()),
            _ => ("", item),
        };
        if !is_address(address) {
            return Err(item.to_owned());
        }
        let name = name.trim_matches('"').trim();
        out.push(Address {
            name: clean(name),
            address: address.to_owned(),
        });
    }
    Ok(out)
}

/// `local@domain` with nothing that could end or extend a header field or
/// an SMTP path. The submission path checks the syntax again with the SMTP
/// parser; this is for a clear message on the form.
pub fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let bad = |c: char| c.is_control() || c.is_whitespace() || "<>()[],;:\"\\".contains(c);
    // RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its `<>`.
    s.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(bad)
        && !local.contains('@')
}

/// Control characters (CR and LF among them) become spaces: typed text is
/// never header syntax.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn header(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, "{name}: {}\r\n", clean(value));
}

/// An address field, one address a line after the first (folding, RFC
/// 5322 §2.2.3).
fn address_field(out: &mut String, name: &str, list: &[Address]) {
    if list.is_empty() {
        return;
    }
    let items: Vec<String> = list.iter().map(mailbox).collect();
    folded_list(out, name, &items, ",");
}

fn folded_list(out: &mut String, name: &str, items: &[String], separator: &str) {
    let _ = write!(out, "{name}: ");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            let sep = separator.trim_end();
            let _ = write!(out, "{sep}\r\n ");
        }
        out.push_str(item);
    }
    out.push_str("\r\n");
}

/// `addr`, `"Name" <addr>`, or an encoded word for a non-ASCII name
/// (RFC 2047 §5(3): allowed as a phrase word).
fn mailbox(a: &Address) -> String {
    // Cleaned here too, whoever built the address.
    let (name, address) = (clean(&a.name), clean(&a.address).replace(' ', ""));
    let a = Address { name, address };
    if a.name.is_empty() {
        return a.address;
    }
    // A long or non-ASCII name is encoded words, one a line, so no line
    // grows past 78 however long the name typed.
    let name = if a.name.is_ascii() && a.name.len() <= 60 {
        let escaped = a.name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    } else {
        encoded_words(&a.name).join("\r\n ")
    };
    format!("{name} <{}>", a.address)
}

/// An unstructured field (Subject): as it is when short printable ASCII,
/// else RFC 2047 encoded words, one a line.
fn unstructured(out: &mut String, name: &str, value: &str) {
    let value = clean(value);
    let plain = value.is_ascii() && name.len() + 2 + value.len() <= 78 && !value.contains("=?");
    if plain {
        let _ = write!(out, "{name}: {value}\r\n");
        return;
    }
    let _ = write!(out, "{name}: {}\r\n", encoded_words(&value).join("\r\n "));
}

/// `=?UTF-8?B?...?=` words of at most 75 characters (RFC 2047 §2), never
/// splitting a character between two words (§5).
fn encoded_words(text: &str) -> Vec<String> {
    // 36 octets are 48 base64 characters, a 60-character word: with
    // `Subject: ` or a folding space before it, a line stays within 78
    // (RFC 5322 §2.1.1; RFC 2047 §2 allows words of up to 75).
    const CHUNK: usize = 36;
    let mut words = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + CHUNK).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        words.push(format!(
            "=?UTF-8?B?{}?=",
            base64(&text.as_bytes()[start..end])
        ));
        start = end;
    }
    if words.is_empty() {
        words.push(String::new());
    }
    words
}

/// The text, as a text/plain part: 7bit when it is short ASCII lines,
/// quoted-printable otherwise (RFC 2045 §6.7).
fn text_part(out: &mut Vec<u8>, body: &str) {
    let body = normalise_newlines(body);
    let plain_line = |l: &str| {
        l.len() <= 76
            && !l.ends_with(' ')
            && l.bytes().all(|b| (b' '..=b'~').contains(&b) || b == b'\t')
    };
    let simple = body.split("\r\n").all(plain_line);
    if simple {
        out.extend_from_slice(
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
        );
        out.extend_from_slice(body.as_bytes());
    } else {
        out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
        out.extend_from_slice(quoted_printable(&body).as_bytes());
    }
    if !body.ends_with("\r\n") {
        out.extend_from_slice(b"\r\n");
    }
}

fn normalise_newlines(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

/// RFC 2045 §6.7: lines of at most 76 characters, soft breaks `=`.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let bytes = line.as_bytes();
        let mut width = 0;
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let piece = if literal {
                char::from(b).to_string()
            } else {
                format!("={b:02X}")
            };
            // Leave room for the soft break's `=`.
            if width + piece.len() > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            out.push_str(&piece);
            width += piece.len();
        }
    }
    out
}

fn attachment_part(out: &mut Vec<u8>, a: &Attachment) {
    let ctype = if is_media_type(&a.content_type) {
        a.content_type.to_ascii_lowercase()
    } else {
        "application/octet-stream".to_owned()
    };
    let name = filename_parameter(&a.filename);
    out.extend_from_slice(
        format!(
            "Content-Type: {ctype}\r\nContent-Disposition: attachment;\r\n {name}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        )
        .as_bytes(),
    );
    let encoded = base64(&a.content);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

/// `filename="a.pdf"`, or RFC 2231 §4's `filename*=utf-8''r%C3%A9.pdf`
/// when the name is not plain ASCII.
fn filename_parameter(name: &str) -> String {
    let name: String = clean(name).replace(['/', '\\'], "_");
    let name = if name.trim().is_empty() {
        "attachment".to_owned()
    } else {
        name
    };
    let plain = name.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        && !name.contains(['"', '\\', '%'])
        && name.len() <= 60;
    if plain {
        return format!("filename=\"{name}\"");
    }
    let mut encoded = Vec::new();
    for c in name.chars() {
        let mut piece = String::new();
        let mut utf8 = [0u8; 4];
        for &b in c.encode_utf8(&mut utf8).as_bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                piece.push(char::from(b));
            } else {
                let _ = write!(piece, "%{b:02X}");
            }
        }
        encoded.push(piece);
    }
    // RFC 2231 §3-4: numbered sections of at most 60 characters, one a
    // line; only the first names the charset. A section never cuts a
    // character: RFC 2231 joins the octets before decoding, but common
    // readers decode each section alone.
    let mut sections = vec![String::from("utf-8''")];
    for piece in encoded {
        if sections.last().is_some_and(|s| s.len() + piece.len() > 60) {
            sections.push(String::new());
        }
        if let Some(last) = sections.last_mut() {
            last.push_str(&piece);
        }
    }
    if sections.len() == 1 {
        return format!("filename*={}", sections[0]);
    }
    sections
        .iter()
        .enumerate()
        .map(|(i, s)| format!("filename*{i}*={s}"))
        .collect::<Vec<_>>()
        .join(";\r\n ")
}

/// `type/subtype` made of RFC 2045 token characters.
fn is_media_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    s.len() <= 100 && matches!(s.split_once('/'), Some((t, sub)) if token(t) && token(sub))
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_message::Message;

    fn composed() -> Composed {
        Composed {
            from: "alice@example.test".into(),
            to: parse_addresses("\"Doe, John\" <john@x.test>, bob@y.test").unwrap(),
            cc: parse_addresses("René <rene@z.test>").unwrap(),
            bcc: parse_addresses("secret@w.test").unwrap(),
            subject: "Café menu\r\nBcc: evil@x.test".into(),
            body: "Hello,\nsee the menu.\n".into(),
            in_reply_to: Some("<p@x.test>".into()),
            references: vec!["<o@x.test>".into(), "<p@x.test>".into()],
            attachments: vec![Attachment {
                filename: "menu été.pdf".into(),
                content_type: "application/pdf".into(),
                content: (0..=255u8).collect(),
            }],
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        let c = composed();
        let raw = c.write(1_795_392_000, "<id@example.test>", "b1", true);
        assert!(raw.split(|&b| b == b'\n').all(|l| l.len() <= 79));
        let msg = Message::parse(&raw);
        // The CR LF typed into the subject did not make a Bcc field.
        assert_eq!(msg.header_text("Subject"), ["Café menu  Bcc: evil@x.test"]);
        assert_eq!(
            crate::mail::address_line(&msg, "To"),
            "Doe, John <john@x.test>, bob@y.test"
        );
        assert_eq!(crate::mail::address_line(&msg, "Cc"), "René <rene@z.test>");
        assert_eq!(crate::mail::address_line(&msg, "Bcc"), "secret@w.test");
        assert_eq!(msg.body_texts()[0], "Hello,\r\nsee the menu.\r\n");
        assert_eq!(
            msg.raw_field("Date").unwrap(),
            b"Mon, 23 Nov 2026 00:00:00 +0000"
        );
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.contains("filename*=utf-8''menu%20%C3%A9t%C3%A9.pdf"),
            "{text}"
        );
        let rendered = crate::mail::body::render(&msg, "/m");
        assert_eq!(rendered.attachments.len(), 1);
        assert_eq!(rendered.attachments[0].name, "menu été.pdf");
        assert_eq!(msg.binary(&[2]).unwrap(), (0..=255u8).collect::<Vec<_>>());
    }

    #[test]
    fn the_submitted_copy_has_no_bcc() {
        let raw = composed().write(0, "<id@x>", "b1", false);
        let msg = Message::parse(&raw);
        assert!(msg.header_text("Bcc").is_empty());
        assert_eq!(
            composed().recipients(),
            ["john@x.test", "bob@y.test", "rene@z.test", "secret@w.test"]
        );
    }

    #[test]
    fn addresses_as_typed() {
        let list = parse_addresses(" a@x.test; <b@y.test>,, C D <c@z.test> ").unwrap();
        let addrs: Vec<_> = list.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(addrs, ["a@x.test", "b@y.test", "c@z.test"]);
        assert_eq!(list[2].name, "C D");
        for bad in [
            "bob",
            "a b@x.test",
            "a@x.test>",
            "<a@x.test",
            "a@",
            "@x.test",
            "a@x@y",
        ] {
            assert!(parse_addresses(bad).is_err(), "{bad}");
        }
        assert!(parse_addresses("").unwrap().is_empty());
    }

    #[test]
    fn long_names_fold_and_read_back() {
        let long = "é".repeat(150);
        let a = Attachment {
            filename: format!("{long}.pdf"),
            content_type: "application/pdf".into(),
            content: b"x".to_vec(),
        };
        let c = Composed {
            from: "a@x.test".into(),
            to: vec![Address {
                name: "n".repeat(300),
                address: "b@y.test".into(),
            }],
            attachments: vec![a],
            ..Composed::default()
        };
        let raw = c.write(0, "<i@x>", "b", false);
        assert!(raw.split(|&b| b == b'\n').all(|l| l.len() <= 79));
        let msg = Message::parse(&raw);
        assert_eq!(
            crate::mail::address_line(&msg, "To"),
            format!("{} <b@y.test>", "n".repeat(300))
        );
        let rendered = crate::mail::body::render(&msg, "/m");
        assert_eq!(rendered.attachments[0].name, format!("{long}.pdf"));
    }

    #[test]
    fn quoted_printable_lines_stay_short() {
        let long = "é".repeat(100);
        let qp = quoted_printable(&long);
        assert!(qp.lines().all(|l| l.len() <= 76), "{qp}");
        assert!(qp.starts_with("=C3=A9"));
        assert_eq!(quoted_printable("a = b \r\nc"), "a =3D b=20\r\nc");
    }

    #[test]
    fn long_and_unicode_subjects_become_encoded_words() {
        let mut h = String::new();
        unstructured(&mut h, "Subject", &"x".repeat(100));
        assert!(h.lines().all(|l| l.len() <= 78), "{h}");
        let msg_raw = format!("{h}\r\n");
        let msg = Message::parse(msg_raw.as_bytes());
        assert_eq!(msg.header_text("Subject"), ["x".repeat(100)]);
    }
}
