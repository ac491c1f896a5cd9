//! The messages the crash test writes: each one is a pure function of its
//! number, so the checker can regenerate it and compare every byte.
//!
//! Shared by the helper binary and `tests/crash.rs` (included by path).

/// Numbers at and above this are scratch messages (appended to Trash and
/// expunged at once, to keep the blob collector busy).
pub const SCRATCH: u64 = 1 << 40;

/// Message number `n`: a header naming `n` and the body's length, then
/// 1 to 150 kB of pseudo-random printable text, so that writes take long
/// enough for a kill to land in the middle of one.
pub fn message(n: u64) -> Vec<u8> {
    let len = 1_000 + (n.wrapping_mul(7_919) % 150_000) as usize;
    let mut raw =
        format!("Message-ID: <{n}@crash.test>\r\nX-Seq: {n}\r\nX-Body-Length: {len}\r\n\r\n")
            .into_bytes();
    let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in 0..len {
        if i % 78 == 76 {
            raw.push(b'\r');
        } else if i % 78 == 77 {
            raw.push(b'\n');
        } else {
            // xorshift64: cheap, deterministic, good enough to defeat
            // any accidental sharing of content between messages.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            raw.push(b'!' + (state % 94) as u8);
        }
    }
    raw
}

/// The number in a message's `X-Seq` header.
pub fn seq_of(raw: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(raw.get(..200.min(raw.len()))?).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("X-Seq: "))?;
    line.trim().parse().ok()
}

/// The remote recipient message `n` is queued for.
pub fn remote_of(n: u64) -> String {
    format!("rcpt{n}@elsewhere.example")
}
