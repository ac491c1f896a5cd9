//! Response formatting: `+OK` / `-ERR` status lines (RFC 1939 §3), RFC 2449
//! §8 response codes and dot-stuffed multi-line responses.

/// The longest status line we write, CRLF included (RFC 2449 §4: 512).
const MAX_STATUS_LINE: usize = 512;

/// `+OK text`.
pub(crate) fn ok(out: &mut Vec<u8>, text: &str) {
    status(out, "+OK", None, text);
}

/// `-ERR [CODE] text`; an invalid code is dropped, never sent.
pub(crate) fn err(out: &mut Vec<u8>, code: Option<&str>, text: &str) {
    debug_assert!(
        code.is_none_or(valid_code),
        "invalid POP3 response code {code:?}"
    );
    status(out, "-ERR", code.filter(|c| valid_code(c)), text);
}

/// `+OK text`, then the lines dot-stuffed, then `.` (RFC 1939 §3).
pub(crate) fn ok_lines(out: &mut Vec<u8>, text: &str, lines: &[&str]) {
    ok(out, text);
    for line in lines {
        let line = clean(line);
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

/// `+OK text`, then a message (or part of one) dot-stuffed, then `.`
/// (RFC 1939 §3). Lines end in CRLF on the wire whatever the stored form
/// (a bare LF becomes CRLF), and a last line without an ending gets one, so
/// the terminating `.` is always on a line of its own.
pub(crate) fn ok_message(out: &mut Vec<u8>, text: &str, body: &[u8]) {
    ok(out, text);
    out.reserve(body.len() + body.len() / 32 + 5);
    for line in body.split_inclusive(|&b| b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

fn status(out: &mut Vec<u8>, indicator: &str, code: Option<&str>, text: &str) {
    let mut line = indicator.to_owned();
    if let Some(code) = code {
        line.push_str(" [");
        line.push_str(code);
        line.push(']');
    }
    let text = clean(text);
    if !text.is_empty() {
        line.push(' ');
        line.push_str(&text);
    }
    while line.len() > MAX_STATUS_LINE - 2 {
        line.pop();
    }
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `resp-level *("/" resp-level)` (RFC 2449 §8): printable, no `[`, `]`,
/// `/` or blank inside a level.
fn valid_code(code: &str) -> bool {
    code.split('/').all(|level| {
        !level.is_empty()
            && level
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'[' | b']' | b'/'))
    })
}

/// Text from the session never breaks the line structure: a CR or LF in it
/// would let it forge a further response.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn known_answers() {
        assert_eq!(render(|o| ok(o, "ready")), "+OK ready\r\n");
        assert_eq!(render(|o| ok(o, "")), "+OK\r\n");
        assert_eq!(render(|o| err(o, Some("AUTH"), "no")), "-ERR [AUTH] no\r\n");
        assert_eq!(
            render(|o| err(o, Some("SYS/TEMP"), "later")),
            "-ERR [SYS/TEMP] later\r\n"
        );
        assert_eq!(
            render(|o| err(o, None, "x\r\n+OK forged")),
            "-ERR x  +OK forged\r\n"
        );
        assert_eq!(
            render(|o| ok_lines(o, "list", &["A", ".B", ""])),
            "+OK list\r\nA\r\n..B\r\n\r\n.\r\n"
        );
    }

    #[test]
    fn messages_are_dot_stuffed_and_crlf_terminated() {
        let out = render(|o| ok_message(o, "2 octets", b"a\n.b\r\n..c\r\n.\r\nlast"));
        assert_eq!(
            out,
            "+OK 2 octets\r\na\r\n..b\r\n...c\r\n..\r\nlast\r\n.\r\n"
        );
        assert_eq!(render(|o| ok_message(o, "", b"")), "+OK\r\n.\r\n");
        assert_eq!(render(|o| ok_message(o, "", b"x\r\n")), "+OK\r\nx\r\n.\r\n");
    }

    #[test]
    fn codes() {
        assert!(valid_code("IN-USE") && valid_code("SYS/PERM"));
        assert!(!valid_code("") && !valid_code("A B") && !valid_code("A]") && !valid_code("A//B"));
    }

    #[test]
    fn long_text_is_cut() {
        let out = render(|o| ok(o, &"é".repeat(600)));
        assert!(out.len() <= MAX_STATUS_LINE && out.ends_with("\r\n"));
    }
}
