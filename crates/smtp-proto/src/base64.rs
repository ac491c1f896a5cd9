//! Base64 (RFC 4648 §4) for SASL over SMTP: RFC 4954 §4 carries every
//! challenge and response in it. Small enough to keep the core free of
//! dependencies.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes with padding, as RFC 4954 §4 requires of the `334` text.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            let c = if i <= group.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            };
            out.push(char::from(c));
        }
    }
    out
}

/// Decodes standard base64. Padding may be left out (some clients do), but
/// nothing else is forgiven: a character outside the alphabet, padding in
/// the middle or a length no encoder produces is an error, which RFC 4954
/// §4 answers with `501 5.5.2`.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let body = strip_padding(text)?;
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    for group in body.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in group.iter().enumerate() {
            n |= u32::from(value(c)?) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    Some(out)
}

/// The text without its `=` padding: at most two, and only where they
/// complete a group of four.
fn strip_padding(text: &[u8]) -> Option<&[u8]> {
    let pad = text.iter().rev().take_while(|&&c| c == b'=').count();
    let valid = pad == 0 || (pad <= 2 && text.len().is_multiple_of(4));
    valid.then(|| &text[..text.len() - pad])
}

fn value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10 test vectors.
    const VECTORS: &[(&str, &str)] = &[
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc_4648_vectors() {
        for (plain, encoded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), *encoded);
            assert_eq!(
                decode(encoded.as_bytes()).as_deref(),
                Some(plain.as_bytes())
            );
        }
    }

    #[test]
    fn padding_may_be_omitted_but_not_misplaced() {
        assert_eq!(decode(b"Zg").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode(b"Zm8").as_deref(), Some(&b"fo"[..]));
        for bad in [
            &b"Z"[..],
            b"Zg=",
            b"Zg===",
            b"Z=g=",
            b"Zm9v!",
            b"Zm 9v",
            b"=",
            b"====",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn binary_round_trip() {
        let all: Vec<u8> = (0..=255).collect();
        for n in 0..all.len() {
            assert_eq!(
                decode(encode(&all[..n]).as_bytes()).as_deref(),
                Some(&all[..n])
            );
        }
    }
}
