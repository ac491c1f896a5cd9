//! Mailbox names in modified UTF-7 (RFC 3501 §5.1.3), the form IMAP4rev1
//! clients use; IMAP4rev2 and UTF8=ACCEPT clients send UTF-8 (RFC 9051
//! §5.1, RFC 6855 §3).

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Decodes a modified UTF-7 name. `None` if it is not valid: a `&` run
/// that is not base64, does not decode to UTF-16, encodes printable
/// ASCII, or is not closed; or raw non-ASCII.
pub fn decode(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(i) = rest.find('&') {
        let plain = &rest[..i];
        if !plain.is_ascii() {
            return None;
        }
        out.push_str(plain);
        let after = &rest[i + 1..];
        let end = after.find('-')?;
        if end == 0 {
            out.push('&');
        } else {
            out.push_str(&decode_run(&after[..end])?);
        }
        rest = &after[end + 1..];
    }
    if !rest.is_ascii() {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

fn decode_run(run: &str) -> Option<String> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut units = Vec::new();
    for b in run.bytes() {
        let v = B64.iter().position(|&c| c == b)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            units.push((bits >> nbits) as u16);
            bits &= (1 << nbits) - 1;
        }
    }
    // Leftover bits must be zero padding, less than one base64 digit.
    if nbits >= 6 || bits != 0 {
        return None;
    }
    let text = String::from_utf16(&units).ok()?;
    // RFC 3501 §5.1.3: printable ASCII is never base64-encoded.
    let printable = text.chars().any(|c| (' '..='~').contains(&c));
    (!text.is_empty() && !printable).then_some(text)
}

/// Encodes a UTF-8 name in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::new();
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut run);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut run);
    out
}

fn flush(out: &mut String, run: &mut Vec<u16>) {
    if run.is_empty() {
        return;
    }
    out.push('&');
    let mut bits = 0u32;
    let mut nbits = 0;
    for unit in run.drain(..) {
        bits = (bits << 16) | u32::from(unit);
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            out.push(B64[((bits >> nbits) & 63) as usize] as char);
        }
        bits &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        out.push(B64[((bits << (6 - nbits)) & 63) as usize] as char);
    }
    out.push('-');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 3501 §5.1.3.
        let name = "~peter/mail/台北/日本語";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(
            decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Some(name)
        );
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode("A&-B").as_deref(), Some("A&B"));
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(decode("Entw&APw-rfe").as_deref(), Some("Entwürfe"));
        assert_eq!(encode("😀"), "&2D3eAA-");
        assert_eq!(decode("&2D3eAA-").as_deref(), Some("😀"));
    }

    #[test]
    fn invalid() {
        // Unclosed, bad base64, encoded ASCII, lone surrogate, raw UTF-8.
        for bad in ["&U,BTFw", "&U=-", "&AGE-", "&2D0-", "Entwürfe", "&AP-"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trip() {
        for name in ["INBOX", "a b", "ü&ä", "日本/x&y", ""] {
            assert_eq!(decode(&encode(name)).as_deref(), Some(name));
        }
    }
}
