//! A gzip member (RFC 1952) holding stored deflate blocks (RFC 1951
//! §3.2.4): any gzip reader accepts it. The report is a few kilobytes,
//! so leaving it uncompressed costs little, and this crate then needs no
//! compression library.

/// The largest stored block (RFC 1951 §3.2.4: LEN is 16 bits).
const BLOCK: usize = 65_535;

/// `data` as a gzip member.
pub fn encode(data: &[u8]) -> Vec<u8> {
    // RFC 1952 §2.3: ID1 ID2, CM=8 (deflate), FLG=0, MTIME=0 (none),
    // XFL=0, OS=255 (unknown).
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut chunks = data.chunks(BLOCK).peekable();
    if chunks.peek().is_none() {
        // An empty input is still one (final, empty) block.
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        // BFINAL in bit 0, BTYPE=00 (stored); the rest of the byte pads.
        out.push(u8::from(last));
        let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    // ISIZE: the input length modulo 2^32 (RFC 1952 §2.3.1).
    out.extend_from_slice(&((data.len() & 0xffff_ffff) as u32).to_le_bytes());
    out
}

/// The CRC-32 of RFC 1952 §8 (ISO 3309, reflected, polynomial 0xEDB88320).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Reads back a member made of stored blocks, as [`encode`] writes
/// them, checking the CRC and the size; `None` for anything else (other
/// block types are not read: this is for checking our own reports).
pub fn decode_stored(gz: &[u8]) -> Option<Vec<u8>> {
    if gz.get(..4)? != [0x1f, 0x8b, 8, 0] {
        return None;
    }
    let mut i = 10;
    let mut out = Vec::new();
    loop {
        let head = *gz.get(i)?;
        if head & 0b110 != 0 {
            return None;
        }
        let len = usize::from(u16::from_le_bytes([*gz.get(i + 1)?, *gz.get(i + 2)?]));
        let nlen = u16::from_le_bytes([*gz.get(i + 3)?, *gz.get(i + 4)?]);
        if nlen != !(len as u16) {
            return None;
        }
        out.extend_from_slice(gz.get(i + 5..i + 5 + len)?);
        i += 5 + len;
        if head & 1 == 1 {
            break;
        }
    }
    let crc = u32::from_le_bytes(gz.get(i..i + 4)?.try_into().ok()?);
    let size = u32::from_le_bytes(gz.get(i + 4..i + 8)?.try_into().ok()?);
    (crc == crc32(&out) && size as usize == out.len() && gz.len() == i + 8).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_answer() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn round_trip_across_block_boundaries() {
        for n in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            assert_eq!(
                decode_stored(&encode(&data)).as_deref(),
                Some(&data[..]),
                "{n}"
            );
        }
    }

    #[test]
    fn the_system_gzip_reads_it() {
        use std::io::Write as _;
        use std::process::{Command, Stdio};
        let data = b"{\"organization-name\":\"mx.example\"}".repeat(3000);
        let Ok(mut child) = Command::new("gzip")
            .arg("-dc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
        else {
            // No gzip binary on this machine: the round trip above stands.
            eprintln!("gzip not found; skipped the cross-check");
            return;
        };
        let mut stdin = child.stdin.take().unwrap();
        let gz = encode(&data);
        let writer = std::thread::spawn(move || stdin.write_all(&gz));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, data);
    }
}
