//! The report's gzip (RFC 8460 §5.3: `application/tlsrpt+gzip`), with
//! flate2 (pure Rust, the crate IMAP's COMPRESS=DEFLATE uses).

use std::io::{Read as _, Write as _};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

/// `data` as one gzip member.
pub fn encode(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .unwrap_or_default()
}

/// The bytes of a gzip member (for tests and for checking a report).
pub fn decode(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_compresses() {
        let json = br#"{"organization-name":"x","policies":[]}"#.repeat(100);
        let gz = encode(&json);
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "the gzip magic");
        assert!(gz.len() < json.len() / 4, "{} of {}", gz.len(), json.len());
        assert_eq!(decode(&gz).unwrap(), json);
        assert!(decode(b"not gzip").is_err());
    }
}
