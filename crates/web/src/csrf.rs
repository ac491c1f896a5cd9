//! Random tokens (sessions, CSRF) and their comparison.
//!
//! A form that changes anything carries a token in a hidden field that a
//! page of another site cannot read, so it cannot forge the form: after
//! login the session's own CSRF token; before login, a token that is also
//! in a `__Host-` cookie (a sibling subdomain cannot set such a cookie, and
//! SameSite=Strict keeps it out of cross-site requests), compared with the
//! field.

use std::fmt;

/// 256 random bits from the operating system.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token([u8; 32]);

impl Token {
    /// A fresh token; `None` only if the operating system has no
    /// randomness to give (then nothing should be issued).
    pub fn random() -> Option<Self> {
        let mut bytes = [0u8; 32];
        match getrandom::fill(&mut bytes) {
            Ok(()) => Some(Self(bytes)),
            Err(e) => {
                tracing::error!(error = %e, "the operating system's random source failed; no session or form token can be issued");
                None
            }
        }
    }

    /// Lowercase hex, as it goes into cookies and forms.
    pub fn to_hex(self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[usize::from(b >> 4)] as char);
            s.push(HEX[usize::from(b & 15)] as char);
        }
        s
    }

    /// Parses [`Token::to_hex`]'s form; anything else is `None`.
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.as_bytes();
        if s.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (out, pair) in bytes.iter_mut().zip(s.chunks_exact(2)) {
            *out = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Self(bytes))
    }

    /// Compares with a submitted value in time independent of where they
    /// differ, so the answer's timing reveals no prefix of the token.
    pub fn matches(&self, submitted: &str) -> bool {
        let Some(other) = Self::from_hex(submitted.trim()) else {
            return false;
        };
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are credentials: never in a log.
        f.write_str("Token([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_strict_parsing() {
        let t = Token::random().unwrap();
        let hex = t.to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(Token::from_hex(&hex), Some(t));
        assert_eq!(Token::from_hex(&hex.to_uppercase()), None);
        assert_eq!(Token::from_hex(&hex[..62]), None);
        assert_eq!(Token::from_hex(&format!("{}zz", &hex[..62])), None);
        assert_ne!(Token::random(), Some(t), "two tokens alike");
    }

    #[test]
    fn matching_is_exact() {
        let t = Token::random().unwrap();
        let hex = t.to_hex();
        assert!(t.matches(&hex));
        let mut other = hex.clone().into_bytes();
        other[63] = if other[63] == b'0' { b'1' } else { b'0' };
        assert!(!t.matches(std::str::from_utf8(&other).unwrap()));
        assert!(!t.matches(""));
        assert!(!t.matches(&hex[..32]));
        assert!(!format!("{t:?}").contains(&hex[..8]));
    }
}
