//! Raw header fields (RFC 5322 §2.2): where the header block ends, one
//! field's value, and the HEADER.FIELDS selection (RFC 9051 §6.4.5).

/// The length of the header block including its terminating empty line
/// (CRLF CRLF or LF LF); the whole input if there is no body.
pub(crate) fn header_end(raw: &[u8]) -> usize {
    let mut i = 0;
    while i < raw.len() {
        let line_end = raw[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| i + p + 1);
        let line = &raw[i..line_end];
        if line == b"\r\n" || line == b"\n" {
            return line_end;
        }
        i = line_end;
    }
    raw.len()
}

/// Splits a header block into fields: (name, whole field with its
/// continuation lines and line ending).
fn split(block: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out: Vec<(&[u8], std::ops::Range<usize>)> = Vec::new();
    let mut i = 0;
    while i < block.len() {
        let end = block[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(block.len(), |p| i + p + 1);
        let line = &block[i..end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        match (line[0], out.last_mut()) {
            (b' ' | b'\t', Some((_, range))) => range.end = end,
            _ => {
                let name_end = line.iter().position(|&b| b == b':').unwrap_or(0);
                out.push((&block[i..i + name_end], i..end));
            }
        }
        i = end;
    }
    out.into_iter().map(|(name, r)| (name, &block[r])).collect()
}

/// `HEADER.FIELDS (names)` or `.NOT`: the selected fields as they are,
/// then the empty line (RFC 9051 §6.4.5). Names are compared without case.
pub fn fields(block: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, field) in split(block) {
        let listed = names
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(trim(name)));
        if listed != not {
            out.extend_from_slice(field);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The raw value of the first field called `name`, unfolded and trimmed.
pub fn header_value(block: &[u8], name: &str) -> Option<Vec<u8>> {
    split(block)
        .into_iter()
        .find(|(n, _)| trim(n).eq_ignore_ascii_case(name.as_bytes()))
        .map(|(n, field)| unfold(&field[n.len() + 1..]))
}

/// Every value of fields called `name`.
pub(crate) fn header_values(block: &[u8], name: &str) -> Vec<Vec<u8>> {
    split(block)
        .into_iter()
        .filter(|(n, _)| trim(n).eq_ignore_ascii_case(name.as_bytes()))
        .map(|(n, field)| unfold(&field[n.len() + 1..]))
        .collect()
}

fn unfold(value: &[u8]) -> Vec<u8> {
    let joined: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    trim(&joined).to_vec()
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &[u8] = b"From: a@b\r\nSubject: hi\r\n there\r\nTo: c@d\r\n\r\nbody";

    #[test]
    fn known_answers() {
        assert_eq!(header_end(H), H.len() - 4);
        assert_eq!(header_end(b"no body"), 7);
        assert_eq!(
            fields(H, &["SUBJECT".into()], false),
            b"Subject: hi\r\n there\r\n\r\n"
        );
        assert_eq!(
            fields(H, &["subject".into()], true),
            b"From: a@b\r\nTo: c@d\r\n\r\n"
        );
        assert_eq!(header_value(H, "subject").unwrap(), b"hi there");
        assert_eq!(header_value(H, "cc"), None);
    }
}
