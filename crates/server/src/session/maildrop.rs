//! A POP3 maildrop: the snapshot of INBOX a session works on (RFC 1939 §5).
//! Message numbers are positions in the snapshot, fixed for the session;
//! deletions are only marks until QUIT. Pure logic, no I/O.

use postern_store::{Mailbox, MessageMeta, Uid};

/// The messages of one session.
#[derive(Debug)]
pub struct Maildrop {
    mailbox: Mailbox,
    messages: Vec<MessageMeta>,
    deleted: Vec<bool>,
}

/// Why a message number is unusable (each maps to a `-ERR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSuchMessage {
    /// Not a number, zero or beyond the end.
    Invalid,
    /// Marked deleted in this session.
    Deleted,
}

impl NoSuchMessage {
    pub const fn text(self) -> &'static str {
        match self {
            Self::Invalid => "No such message",
            Self::Deleted => "Message is marked deleted",
        }
    }
}

impl Maildrop {
    pub fn new(mailbox: Mailbox, messages: Vec<MessageMeta>) -> Self {
        let deleted = vec![false; messages.len()];
        Self {
            mailbox,
            messages,
            deleted,
        }
    }

    /// The mailbox this snapshot is of.
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }

    /// (count, octets) of the messages not marked deleted: STAT.
    pub fn stat(&self) -> (usize, u64) {
        self.live()
            .fold((0, 0), |(n, size), (_, m)| (n + 1, size + m.size))
    }

    /// `n size` lines for LIST.
    pub fn list(&self) -> Vec<String> {
        self.live()
            .map(|(n, m)| format!("{n} {}", m.size))
            .collect()
    }

    /// `n unique-id` lines for UIDL.
    pub fn uidl(&self) -> Vec<String> {
        self.live()
            .map(|(n, m)| format!("{n} {}", self.unique_id(m)))
            .collect()
    }

    /// The unique-id of a message (RFC 1939 §7): stable across sessions
    /// because UIDVALIDITY and the UID never change for a message, and
    /// made of printable characters 0x21-0x7E only.
    pub fn unique_id(&self, m: &MessageMeta) -> String {
        format!("{}.{}", self.mailbox.uid_validity, m.uid.0)
    }

    /// The message numbered `arg` (1-based), if usable.
    pub fn get(&self, arg: &str) -> Result<(usize, &MessageMeta), NoSuchMessage> {
        let n: usize = arg.parse().map_err(|_| NoSuchMessage::Invalid)?;
        let i = n.checked_sub(1).ok_or(NoSuchMessage::Invalid)?;
        let m = self.messages.get(i).ok_or(NoSuchMessage::Invalid)?;
        if self.deleted[i] {
            return Err(NoSuchMessage::Deleted);
        }
        Ok((n, m))
    }

    /// Marks a message deleted (DELE).
    pub fn delete(&mut self, arg: &str) -> Result<usize, NoSuchMessage> {
        let (n, _) = self.get(arg)?;
        self.deleted[n - 1] = true;
        Ok(n)
    }

    /// Unmarks every message (RSET).
    pub fn reset(&mut self) {
        self.deleted.iter_mut().for_each(|d| *d = false);
    }

    /// The UIDs to remove at QUIT.
    pub fn marked(&self) -> Vec<Uid> {
        self.messages
            .iter()
            .zip(&self.deleted)
            .filter(|(_, d)| **d)
            .map(|(m, _)| m.uid)
            .collect()
    }

    fn live(&self) -> impl Iterator<Item = (usize, &MessageMeta)> {
        self.messages
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.deleted[*i])
            .map(|(i, m)| (i + 1, m))
    }
}

/// The first `lines` lines of a message's body with all its headers (TOP,
/// RFC 1939 §7): everything up to the blank line, then that many lines.
pub fn top(raw: &[u8], lines: usize) -> &[u8] {
    let header_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
        .unwrap_or(raw.len());
    let mut end = header_end;
    for _ in 0..lines {
        match raw[end..].iter().position(|&b| b == b'\n') {
            Some(p) => end += p + 1,
            None => return raw,
        }
    }
    &raw[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_store::{AccountId, BlobId, MailboxId, ModSeq};

    fn drop_of(sizes: &[u64]) -> Maildrop {
        let mailbox = Mailbox {
            id: MailboxId(1),
            account: AccountId(1),
            name: "INBOX".into(),
            special_use: None,
            uid_validity: 1700,
            uid_next: Uid(10),
            highest_modseq: ModSeq(1),
        };
        let messages = sizes
            .iter()
            .enumerate()
            .map(|(i, s)| MessageMeta {
                mailbox: MailboxId(1),
                uid: Uid(i as u32 * 2 + 3),
                flags: vec![],
                internal_date: 0,
                size: *s,
                modseq: ModSeq(1),
                blob: BlobId(String::new()),
            })
            .collect();
        Maildrop::new(mailbox, messages)
    }

    #[test]
    fn numbering_deletion_and_reset() {
        let mut d = drop_of(&[100, 200, 300]);
        assert_eq!(d.stat(), (3, 600));
        assert_eq!(d.delete("2"), Ok(2));
        assert_eq!(d.delete("2"), Err(NoSuchMessage::Deleted));
        assert_eq!(d.stat(), (2, 400));
        assert_eq!(d.list(), ["1 100", "3 300"]);
        assert_eq!(d.uidl(), ["1 1700.3", "3 1700.7"]);
        assert_eq!(d.marked(), [Uid(5)]);
        for bad in ["0", "4", "-1", "x", "", "99999999999999999999999"] {
            assert_eq!(d.get(bad).unwrap_err(), NoSuchMessage::Invalid, "{bad}");
        }
        d.reset();
        assert_eq!(d.stat(), (3, 600));
        assert!(d.marked().is_empty());
    }

    #[test]
    fn top_keeps_headers_and_n_body_lines() {
        let m = b"Subject: x\r\nFrom: a\r\n\r\none\r\ntwo\r\nthree\r\n";
        assert_eq!(top(m, 0), b"Subject: x\r\nFrom: a\r\n\r\n");
        assert_eq!(top(m, 2), b"Subject: x\r\nFrom: a\r\n\r\none\r\ntwo\r\n");
        assert_eq!(top(m, 10), m);
        assert_eq!(
            top(b"Subject: only headers\r\n", 3),
            b"Subject: only headers\r\n"
        );
    }
}
