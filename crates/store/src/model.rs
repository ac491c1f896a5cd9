//! The mail model: plain data, shared by every back end.

use std::fmt;

/// An account's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

/// A mailbox's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxId(pub i64);

/// A message's UID within its mailbox (RFC 9051 §2.3.1.1): strictly
/// ascending, never reused while the mailbox's UIDVALIDITY stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(pub u32);

/// A modification sequence (RFC 7162): grows with every change in a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModSeq(pub u64);

/// A content-addressed blob: the lowercase hex SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub String);

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mail account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    /// The login name and primary address, lowercase (`alice@example.com`).
    pub address: String,
    /// The PHC string of the password hash (`$argon2id$v=19$...`). Never
    /// logged; the `auth` crate is the only reader.
    pub password_hash: String,
    /// Storage quota in bytes; 0 means none.
    pub quota_bytes: u64,
    /// A disabled account cannot log in and receives no mail.
    pub disabled: bool,
}

/// An alias: mail to `address` goes to every target account. An address of
/// the form `@example.com` is the domain's catch-all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub address: String,
    pub targets: Vec<String>,
}

/// RFC 6154 special-use attributes of the mailboxes every account gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    Inbox,
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
}

impl SpecialUse {
    /// The mailboxes created with every new account, with their names.
    pub const DEFAULTS: [(Self, &'static str); 6] = [
        (Self::Inbox, "INBOX"),
        (Self::Sent, "Sent"),
        (Self::Drafts, "Drafts"),
        (Self::Trash, "Trash"),
        (Self::Junk, "Junk"),
        (Self::Archive, "Archive"),
    ];

    /// The IMAP attribute (`\Sent`); INBOX has none of its own.
    pub const fn attribute(self) -> Option<&'static str> {
        match self {
            Self::Inbox => None,
            Self::Sent => Some("\\Sent"),
            Self::Drafts => Some("\\Drafts"),
            Self::Trash => Some("\\Trash"),
            Self::Junk => Some("\\Junk"),
            Self::Archive => Some("\\Archive"),
        }
    }
}

/// A mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub id: MailboxId,
    pub account: AccountId,
    /// The full name with `/` as the hierarchy separator (`Archive/2026`).
    pub name: String,
    pub special_use: Option<SpecialUse>,
    /// Chosen when the mailbox is created; never changes while it exists.
    pub uid_validity: u32,
    /// The UID the next message will get.
    pub uid_next: Uid,
    pub highest_modseq: ModSeq,
}

/// System flags (RFC 9051 §2.3.2) and keywords.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    /// A keyword (`$Forwarded`, `$Junk`, user-defined).
    Keyword(String),
}

/// A message's metadata (its bytes are in the blob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub mailbox: MailboxId,
    pub uid: Uid,
    pub flags: Vec<Flag>,
    /// Seconds since the Unix epoch (RFC 9051 INTERNALDATE).
    pub internal_date: i64,
    pub size: u64,
    pub modseq: ModSeq,
    pub blob: BlobId,
}

/// What changed in a mailbox, for IDLE and locks (in-process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Appended { mailbox: MailboxId, uid: Uid },
    FlagsChanged { mailbox: MailboxId, uid: Uid },
    Expunged { mailbox: MailboxId, uid: Uid },
    MailboxCreated { mailbox: MailboxId },
    MailboxDeleted { mailbox: MailboxId },
}
