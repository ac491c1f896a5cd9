//! The mutations: byte-level noise plus the tokens that break mail
//! parsers (line endings, NUL, literal announcements, dot lines, numbers
//! at the edge of 32 and 64 bits, runs up to past every line limit).

use std::collections::BTreeSet;

use crate::rng::Rng;

/// No input grows past this: 70 KB runs must fit, a few times over.
pub const MAX_INPUT: usize = 256 * 1024;

/// The longest run of `A` one mutation inserts: past every line limit
/// (SMTP 4096, IMAP 8192, HTTP 8 KiB) and past a 64 KiB BDAT piece.
pub const MAX_RUN: usize = 70 * 1024;

/// Tokens that matter to at least one of our parsers.
const INTERESTING: &[&[u8]] = &[
    b"\r",
    b"\n",
    b"\r\n",
    b"\0",
    b"{",
    b"}",
    b"+",
    b"\"",
    b"\\",
    b"\xff",
    b" ",
    b"\t",
    b"*",
    b"%",
    b"(",
    b")",
    b"[",
    b"]",
    b"=",
    b":",
    b"<",
    b">",
    b"-----BEGIN ",
    b"-----END ",
    b"\x7f",
    // IMAP literals: the largest u32, past u32, empty, at the 4096 limit.
    b"{4294967295}",
    b"{4294967296}",
    b"{99999999999+}",
    b"{0}",
    b"{0}\r\n",
    b"{4096}\r\n",
    b"{4097+}\r\n",
    b"{5}\r\nhello",
    // SMTP DATA terminators, proper and bare-LF (smuggling).
    b".\r\n",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\r.\r",
    b"..",
    // UTF-8: two-byte, four-byte, a surrogate and an overlong (both invalid).
    b"\xc3\xa9",
    b"\xf0\x9f\x93\xa7",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    // Numbers at the edges.
    b"0",
    b"-1",
    b"65535",
    b"65536",
    b"4294967295",
    b"4294967296",
    b"18446744073709551615",
    b"18446744073709551616",
    b"99999999999999999999",
];

/// Lengths around the limits in use (reply line 512, POP3 2048, SMTP 4096,
/// IMAP 8192, HTTP 8 KiB head, BDAT 64 KiB piece).
const EDGE_LENGTHS: &[usize] = &[
    510, 512, 2047, 2048, 2049, 4095, 4096, 4097, 8191, 8192, 8193, 8196, 65_535, 65_536,
];

/// Mutates inputs drawn from the seeds and from earlier inputs.
#[derive(Debug)]
pub struct Mutator {
    /// Words and whole lines found in the seeds.
    dictionary: Vec<Vec<u8>>,
}

impl Mutator {
    pub fn new(seeds: &[&[u8]]) -> Self {
        Self {
            dictionary: dictionary(seeds),
        }
    }

    /// Applies 1, 2, 4 or 8 stacked mutations to `input`; `others` feeds
    /// the splices.
    pub fn mutate(&self, rng: &mut Rng, input: &[u8], others: &[&[u8]]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 << rng.below(4) {
            self.mutate_once(rng, &mut out, others);
            out.truncate(MAX_INPUT);
        }
        out
    }

    fn mutate_once(&self, rng: &mut Rng, out: &mut Vec<u8>, others: &[&[u8]]) {
        match rng.below(14) {
            0 => flip_bit(rng, out),
            1 => set_byte(rng, out),
            2 => insert_random(rng, out),
            3 => delete_range(rng, out),
            4 => splice(rng, out, others),
            5 => insert_from(rng, out, others),
            6 => repeat_chunk(rng, out),
            7 | 8 => {
                let token = rng_pick(rng, INTERESTING);
                insert_token(rng, out, token);
            }
            9 => {
                let token = rng_pick(rng, INTERESTING);
                overwrite_token(rng, out, token);
            }
            10 => insert_run(rng, out),
            11 if !self.dictionary.is_empty() => {
                let word = rng.pick(&self.dictionary).clone();
                insert_token(rng, out, &word);
            }
            12 => swap_case(rng, out),
            _ => truncate(rng, out),
        }
    }
}

fn rng_pick<'a>(rng: &mut Rng, items: &[&'a [u8]]) -> &'a [u8] {
    items[rng.below(items.len())]
}

/// Tokens split at blanks and line ends, and whole lines with their ending,
/// so that commands are recombined and not only corrupted.
fn dictionary(seeds: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut words = BTreeSet::new();
    for seed in seeds {
        for line in seed.split_inclusive(|&b| b == b'\n') {
            if (2..=200).contains(&line.len()) {
                words.insert(line.to_vec());
            }
            let tokens = line.split(|&b| matches!(b, b' ' | b'\r' | b'\n' | b'\t'));
            words.extend(
                tokens
                    .filter(|t| (2..=64).contains(&t.len()))
                    .map(<[u8]>::to_vec),
            );
        }
    }
    words.into_iter().take(1024).collect()
}

/// A position in `0..=len`.
fn position(rng: &mut Rng, out: &[u8]) -> usize {
    rng.below(out.len() + 1)
}

/// A range inside `out`, mostly short.
fn span(rng: &mut Rng, out: &[u8]) -> (usize, usize) {
    let start = rng.below(out.len());
    let max = out.len() - start;
    let len = if rng.one_in(4) {
        rng.range(1, max)
    } else {
        rng.range(1, max.min(16))
    };
    (start, start + len)
}

fn flip_bit(rng: &mut Rng, out: &mut [u8]) {
    if !out.is_empty() {
        let i = rng.below(out.len());
        out[i] ^= 1 << rng.below(8);
    }
}

fn set_byte(rng: &mut Rng, out: &mut [u8]) {
    if !out.is_empty() {
        let i = rng.below(out.len());
        out[i] = rng.byte();
    }
}

fn insert_random(rng: &mut Rng, out: &mut Vec<u8>) {
    let at = position(rng, out);
    let bytes: Vec<u8> = (0..rng.range(1, 8)).map(|_| rng.byte()).collect();
    out.splice(at..at, bytes);
}

fn delete_range(rng: &mut Rng, out: &mut Vec<u8>) {
    if !out.is_empty() {
        let (a, b) = span(rng, out);
        out.drain(a..b);
    }
}

/// The head of this input and the tail of another.
fn splice(rng: &mut Rng, out: &mut Vec<u8>, others: &[&[u8]]) {
    if others.is_empty() {
        return;
    }
    let other = *rng.pick(others);
    let cut = position(rng, out);
    out.truncate(cut);
    out.extend_from_slice(&other[rng.below(other.len() + 1)..]);
}

/// A piece of another input inserted here.
fn insert_from(rng: &mut Rng, out: &mut Vec<u8>, others: &[&[u8]]) {
    if others.is_empty() {
        return;
    }
    let other = *rng.pick(others);
    if other.is_empty() {
        return;
    }
    let (a, b) = span(rng, other);
    let at = position(rng, out);
    out.splice(at..at, other[a..b].iter().copied());
}

fn repeat_chunk(rng: &mut Rng, out: &mut Vec<u8>) {
    if out.is_empty() {
        return;
    }
    let (a, b) = span(rng, out);
    let times = if rng.one_in(8) {
        rng.range(2, 2000)
    } else {
        rng.range(2, 16)
    };
    let chunk = out[a..b].to_vec();
    let room = MAX_INPUT.saturating_sub(out.len()) / chunk.len();
    let copies = chunk.repeat(times.min(room));
    out.splice(b..b, copies);
}

fn insert_token(rng: &mut Rng, out: &mut Vec<u8>, token: &[u8]) {
    let at = position(rng, out);
    out.splice(at..at, token.iter().copied());
}

fn overwrite_token(rng: &mut Rng, out: &mut Vec<u8>, token: &[u8]) {
    let at = position(rng, out);
    let end = (at + token.len()).min(out.len());
    out.splice(at..end, token.iter().copied());
}

/// A run of `A`: short, at a limit's edge, or up to 70 KB.
fn insert_run(rng: &mut Rng, out: &mut Vec<u8>) {
    let len = match rng.below(3) {
        0 => rng.range(1, 600),
        1 => (rng.pick(EDGE_LENGTHS) + rng.below(5)).saturating_sub(2),
        _ => rng.range(1, MAX_RUN),
    };
    let at = position(rng, out);
    out.splice(at..at, std::iter::repeat_n(b'A', len));
}

fn swap_case(rng: &mut Rng, out: &mut [u8]) {
    if out.is_empty() {
        return;
    }
    let (a, b) = span(rng, out);
    for byte in &mut out[a..b] {
        if byte.is_ascii_alphabetic() {
            *byte ^= 0x20;
        }
    }
}

fn truncate(rng: &mut Rng, out: &mut Vec<u8>) {
    let at = position(rng, out);
    out.truncate(at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_bounded_and_deterministic() {
        let seeds: &[&[u8]] = &[
            b"EHLO a\r\nMAIL FROM:<x@y>\r\n",
            b"A1 LOGIN {3}\r\nabc x\r\n",
        ];
        let m = Mutator::new(seeds);
        let (mut r1, mut r2) = (Rng::new(1), Rng::new(1));
        let mut input = seeds[0].to_vec();
        for _ in 0..2000 {
            let a = m.mutate(&mut r1, &input, seeds);
            let b = m.mutate(&mut r2, &input, seeds);
            assert_eq!(a, b);
            assert!(a.len() <= MAX_INPUT);
            input = a;
        }
    }

    #[test]
    fn the_dictionary_holds_words_and_lines() {
        let d = dictionary(&[b"EHLO mx.example\r\nQUIT\r\n"]);
        assert!(d.contains(&b"EHLO".to_vec()));
        assert!(d.contains(&b"mx.example".to_vec()));
        assert!(d.contains(&b"QUIT\r\n".to_vec()));
    }
}
