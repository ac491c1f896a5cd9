//! Response formatting (RFC 9051 §7): tagged and untagged status
//! responses with response codes, and continuation requests.

/// A status condition (RFC 9051 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    No,
    Bad,
    Bye,
}

impl Status {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::No => "NO",
            Self::Bad => "BAD",
            Self::Bye => "BYE",
        }
    }
}

/// `prefix SP status SP ["[" code "]" SP] text CRLF`, where `prefix` is a
/// tag or `*`. An invalid code is dropped, never sent.
pub(crate) fn status(
    out: &mut Vec<u8>,
    prefix: &str,
    status: Status,
    code: Option<&str>,
    text: &str,
) {
    debug_assert!(
        code.is_none_or(valid_code),
        "invalid IMAP response code {code:?}"
    );
    let mut line = format!("{prefix} {}", status.as_str());
    if let Some(code) = code.filter(|c| valid_code(c)) {
        line.push_str(" [");
        line.push_str(code);
        line.push(']');
    }
    push_text(out, line, text);
}

/// `* text CRLF`: untagged data from the session.
pub(crate) fn untagged(out: &mut Vec<u8>, text: &str) {
    push_text(out, "*".to_owned(), text);
}

/// `+ text CRLF`: a command continuation request (RFC 9051 §7.5). The
/// space is there even without text: `continue-req = "+" SP (resp-text /
/// base64)`, and an empty SASL challenge is an empty base64 string.
pub(crate) fn continuation(out: &mut Vec<u8>, text: &str) {
    let line = format!("+ {}\r\n", clean(text));
    out.extend_from_slice(line.as_bytes());
}

fn push_text(out: &mut Vec<u8>, mut line: String, text: &str) {
    let text = clean(text);
    if !text.is_empty() {
        line.push(' ');
        line.push_str(&text);
    }
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `resp-text-code`: an atom, optionally followed by a space and text
/// without `]` (RFC 9051 §9). No control characters.
fn valid_code(code: &str) -> bool {
    let (atom, rest) = code.split_once(' ').unwrap_or((code, ""));
    !atom.is_empty()
        && atom.bytes().all(crate::tag::is_atom_char)
        && !rest.contains(']')
        && !rest.chars().any(char::is_control)
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
        let ok = render(|o| status(o, "a1", Status::Ok, None, "done"));
        assert_eq!(ok, "a1 OK done\r\n");
        let no = render(|o| status(o, "a2", Status::No, Some("PRIVACYREQUIRED"), "TLS first"));
        assert_eq!(no, "a2 NO [PRIVACYREQUIRED] TLS first\r\n");
        let bye = render(|o| status(o, "*", Status::Bye, None, "bye"));
        assert_eq!(bye, "* BYE bye\r\n");
        let code = render(|o| status(o, "*", Status::Ok, Some("CAPABILITY IMAP4rev2"), "x"));
        assert_eq!(code, "* OK [CAPABILITY IMAP4rev2] x\r\n");
        assert_eq!(render(|o| untagged(o, "ID NIL")), "* ID NIL\r\n");
        assert_eq!(render(|o| continuation(o, "")), "+ \r\n");
        let forged = render(|o| status(o, "a", Status::No, None, "x\r\na OK forged"));
        assert_eq!(forged, "a NO x  a OK forged\r\n");
    }

    #[test]
    fn codes() {
        assert!(valid_code("TOOBIG") && valid_code("BADCHARSET (UTF-8)"));
        assert!(!valid_code("") && !valid_code("A]") && !valid_code("X a]b") && !valid_code(" X"));
    }
}
