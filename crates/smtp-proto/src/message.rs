//! The message being received, bounded by `Options::max_message_size`.

/// Message octets as they arrive (after dot-unstuffing for DATA, as sent
/// for BDAT). Past the limit nothing more is kept and what was kept is
/// freed: the message will be refused (RFC 1870 §6.1: `552`), but the
/// client's octets must still be read to the end so that none of them is
/// taken for a command.
#[derive(Debug)]
pub(crate) struct MessageBuf {
    bytes: Vec<u8>,
    /// Octets received, kept or not.
    size: u64,
    limit: u64,
}

impl MessageBuf {
    pub(crate) const fn new(limit: u64) -> Self {
        Self {
            bytes: Vec::new(),
            size: 0,
            limit,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size <= self.limit {
            self.bytes.extend_from_slice(bytes);
        } else if !self.bytes.is_empty() {
            self.bytes = Vec::new();
        }
    }

    /// More octets than the limit arrived.
    pub(crate) const fn too_big(&self) -> bool {
        self.size > self.limit
    }

    /// The message, if it stayed within the limit.
    pub(crate) fn into_bytes(self) -> Option<Vec<u8>> {
        (!self.too_big()).then_some(self.bytes)
    }

    /// Octets held in memory (never more than the limit).
    pub(crate) fn held(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_the_limit_then_nothing() {
        let mut m = MessageBuf::new(5);
        m.push(b"abc");
        m.push(b"de");
        assert!(!m.too_big());
        assert_eq!(m.held(), 5);
        m.push(b"f");
        assert!(m.too_big());
        assert_eq!(m.held(), 0);
        m.push(&[b'x'; 100]);
        assert_eq!((m.held(), m.size), (0, 106));
        assert_eq!(m.into_bytes(), None);
        let mut m = MessageBuf::new(5);
        m.push(b"hello");
        assert_eq!(m.into_bytes().as_deref(), Some(&b"hello"[..]));
    }
}
