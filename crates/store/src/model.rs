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
    /// An administrator may see the web admin pages (`/admin`).
    pub admin: bool,
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
    /// The names the back ends store special uses under, both the same so
    /// that `postern migrate` copies them as they are. Never rename them.
    const STORED_NAMES: [(Self, &'static str); 6] = [
        (Self::Inbox, "inbox"),
        (Self::Sent, "sent"),
        (Self::Drafts, "drafts"),
        (Self::Trash, "trash"),
        (Self::Junk, "junk"),
        (Self::Archive, "archive"),
    ];

    /// The name this special use is stored under.
    pub(crate) fn stored_name(self) -> &'static str {
        Self::STORED_NAMES
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("", |(_, n)| n)
    }

    /// The special use stored under `name`, if any.
    pub(crate) fn from_stored_name(name: &str) -> Option<Self> {
        Self::STORED_NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(s, _)| *s)
    }

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

/// How many messages a mailbox holds, and how many of them are unseen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxCounts {
    pub mailbox: MailboxId,
    pub total: usize,
    /// Without `\Seen`.
    pub unseen: usize,
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

impl Flag {
    /// Whether two flags name the same flag. Keywords compare without
    /// regard to ASCII case (RFC 9051 §2.3.2: "flags are case-insensitive"),
    /// so `$important` finds and does not duplicate a stored `$Important`.
    pub fn same_as(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Keyword(a), Self::Keyword(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }

    /// Whether `flags` holds this flag, keywords compared without case.
    pub fn is_in(&self, flags: &[Self]) -> bool {
        flags.iter().any(|f| f.same_as(self))
    }
}

/// Sorts and removes repeats, keeping the first spelling of a keyword that
/// appears in several cases.
pub(crate) fn canonical(mut flags: Vec<Flag>) -> Vec<Flag> {
    let mut out: Vec<Flag> = Vec::with_capacity(flags.len());
    for f in flags.drain(..) {
        if !f.is_in(&out) {
            out.push(f);
        }
    }
    out.sort();
    out
}

/// How [`crate::Store::store_flags`] combines the given flags with a
/// message's own (IMAP STORE `FLAGS`, `+FLAGS`, `-FLAGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagOp {
    /// The message's flags become exactly the given ones.
    Replace,
    /// The given flags are added to the message's.
    Add,
    /// The given flags are removed from the message's.
    Remove,
}

impl FlagOp {
    /// `current` after the operation with `given`, canonical (sorted by
    /// [`Flag`]'s order, each once) when both inputs are.
    pub fn apply(self, current: &[Flag], given: &[Flag]) -> Vec<Flag> {
        let out: Vec<Flag> = match self {
            Self::Replace => given.to_vec(),
            // The stored spelling comes first, so it is the one kept.
            Self::Add => current.iter().chain(given).cloned().collect(),
            Self::Remove => current
                .iter()
                .filter(|f| !f.is_in(given))
                .cloned()
                .collect(),
        };
        canonical(out)
    }
}

/// What [`crate::Store::store_flags`] did, each list in ascending UID order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreFlagsResult {
    /// The messages whose flags this call changed: their new flags
    /// (canonical) and new MODSEQ.
    pub changed: Vec<(Uid, Vec<Flag>, ModSeq)>,
    /// The messages that already had the flags asked for: their flags and
    /// MODSEQ, both unchanged (RFC 7162 §3.1.3: no change, no new MODSEQ).
    pub kept: Vec<(Uid, Vec<Flag>, ModSeq)>,
    /// The messages left alone because their MODSEQ was above
    /// UNCHANGEDSINCE (RFC 7162 §3.1.3, the `MODIFIED` response code).
    pub modified: Vec<Uid>,
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

/// What changed in the store, for IDLE, locks and the outbound workers
/// (in-process). Non-exhaustive: listeners match what they care about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    Appended {
        mailbox: MailboxId,
        uid: Uid,
    },
    FlagsChanged {
        mailbox: MailboxId,
        uid: Uid,
    },
    Expunged {
        mailbox: MailboxId,
        uid: Uid,
    },
    MailboxCreated {
        mailbox: MailboxId,
    },
    MailboxDeleted {
        mailbox: MailboxId,
    },
    /// A queue item has a recipient due now: it was just queued by
    /// `Store::accept`/`Store::queue_finish`, or `Store::queue_retry_now`
    /// made it due. The outbound workers' wake-up.
    Queued {
        id: QueueId,
    },
    /// A calendar object was stored or deleted; the calendar's sync token
    /// is now `sync_token` (RFC 6578 §3.2).
    Calendar {
        calendar: CalendarId,
        sync_token: u64,
    },
}

// --- acceptance of incoming mail and the outbound queue ---

/// An outbound queue item's id: one accepted message with its remote
/// recipients. Never reused by a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub i64);

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a delivery status notification returns of the message (RFC 3461
/// §4.3, the `RET` parameter of MAIL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DsnRet {
    /// The whole message.
    Full,
    /// The headers only.
    Headers,
}

/// When the sender wants a delivery status notification for a recipient
/// (RFC 3461 §4.1, the `NOTIFY` parameter of RCPT). `NOTIFY=NEVER` is all
/// three false; NEVER together with another keyword is a syntax error the
/// SMTP core refuses, so it cannot be represented here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Notify {
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Self = Self {
        success: false,
        failure: false,
        delay: false,
    };

    /// The bits as stored: success 1, failure 2, delay 4.
    pub const fn bits(self) -> u8 {
        self.success as u8 | (self.failure as u8) << 1 | (self.delay as u8) << 2
    }

    /// The inverse of [`Notify::bits`]; other bits are ignored.
    pub const fn from_bits(bits: u8) -> Self {
        Self {
            success: bits & 1 != 0,
            failure: bits & 2 != 0,
            delay: bits & 4 != 0,
        }
    }
}

impl Default for Notify {
    /// Without NOTIFY, RFC 3461 §4.1 leaves the choice to the MTA; failure
    /// and delay is what it suggests and what Postfix and Exim do.
    fn default() -> Self {
        Self {
            success: false,
            failure: true,
            delay: true,
        }
    }
}

/// The SMTP envelope of an accepted message, minus the recipients: what
/// the outbound side needs to relay it (RFC 5321 §3.3, RFC 3461, RFC 6531,
/// RFC 6152, RFC 8689).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// The reverse-path; empty is the null sender (`MAIL FROM:<>`), used by
    /// bounces, which must never be answered with a bounce (RFC 5321 §4.5.5).
    pub mail_from: String,
    /// `ENVID` (RFC 3461 §4.4), xtext-decoded.
    pub envid: Option<String>,
    /// `RET` (RFC 3461 §4.3).
    pub ret: Option<DsnRet>,
    /// `REQUIRETLS` (RFC 8689): relay only over verified TLS to peers that
    /// support it.
    pub requiretls: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `BODY=8BITMIME` (RFC 6152).
    pub eight_bit: bool,
}

/// A recipient the message must be relayed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRecipient {
    /// The forward-path as the client gave it (without angle brackets).
    pub address: String,
    pub notify: Notify,
    /// `ORCPT` (RFC 3461 §4.2), as given (`rfc822;bob@example.org`).
    pub orcpt: Option<String>,
}

/// A message that has passed the SMTP transaction and is to be stored
/// (see `Store::accept`).
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The message's bytes, exactly as they will be stored and relayed
    /// (with the Received header the server added).
    pub raw: &'a [u8],
    /// Seconds since the Unix epoch: the local copies' INTERNALDATE and
    /// the queue item's creation time.
    pub internal_date: i64,
    /// Local accounts whose INBOX gets a copy (each once; duplicates are
    /// the caller's to remove).
    pub local: &'a [AccountId],
    pub envelope: &'a Envelope,
    /// Recipients to relay to; empty queues nothing.
    pub remote: &'a [RemoteRecipient],
}

/// Which folder of each local recipient an accepted message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocalFolder {
    /// The INBOX, as for any mail.
    #[default]
    Inbox,
    /// The account's Junk folder (special use `\Junk`, RFC 6154 §2),
    /// created if the user deleted it: mail whose author domain asked
    /// for quarantine (DMARC `p=quarantine`, RFC 7489 §6.3).
    Junk,
}

/// Where an accepted message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// One (INBOX, UID) per local account, in the order given.
    pub local: Vec<(MailboxId, Uid)>,
    /// The queue item holding the remote recipients, if there were any.
    pub queued: Option<QueueId>,
}

/// Where a queued recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientState {
    /// Not delivered yet; tried again at `next_attempt`.
    Pending,
    /// The receiving server accepted it (final).
    Delivered,
    /// Given up: a permanent error, or retried for too long (final).
    Failed,
}

/// One recipient of a queue item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecipient {
    pub address: String,
    pub notify: Notify,
    pub orcpt: Option<String>,
    pub state: RecipientState,
    /// How many outcomes were recorded for it ([`RecipientOutcome`]).
    pub attempts: u32,
    /// When it is due (seconds since the epoch). Meaningful while
    /// `Pending`; a final recipient keeps the value it had.
    pub next_attempt: i64,
    /// The error of the last `Deferred` or `Failed` outcome.
    pub last_error: Option<String>,
    /// The detail of the `Delivered` outcome (the receiving server's reply),
    /// for success notifications.
    pub detail: Option<String>,
}

/// A message in the outbound queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    pub id: QueueId,
    pub envelope: Envelope,
    /// When it was accepted (seconds since the epoch).
    pub created: i64,
    /// The message's size in bytes.
    pub size: u64,
    /// In the order the client gave them.
    pub recipients: Vec<QueuedRecipient>,
}

impl QueueItem {
    /// Whether every recipient is `Delivered` or `Failed`: the item waits
    /// for `Store::queue_finish`.
    pub fn is_finished(&self) -> bool {
        self.recipients
            .iter()
            .all(|r| r.state != RecipientState::Pending)
    }

    /// The pending recipients due at `now`: those an attempt at `now`
    /// should try.
    pub fn due_recipients(&self, now: i64) -> impl Iterator<Item = &QueuedRecipient> {
        self.recipients
            .iter()
            .filter(move |r| r.state == RecipientState::Pending && r.next_attempt <= now)
    }
}

/// The result of one delivery attempt for one recipient
/// (`Store::queue_update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientOutcome {
    /// Accepted by the next hop; `detail` is its reply (`250 2.0.0 Ok ...`).
    Delivered { detail: String },
    /// A temporary failure: stays pending, due again at `next_attempt`.
    Deferred { next_attempt: i64, error: String },
    /// A permanent failure (or the retry time ran out).
    Failed { error: String },
}

// --- calendars (CalDAV, RFC 4791; collection synchronisation, RFC 6578) ---

/// A calendar's id in the store. Never reused by a store, so that a sync
/// token naming it cannot be mistaken for one of a later calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CalendarId(pub i64);

/// The iCalendar components a calendar can hold (RFC 4791 §5.2.3,
/// CALDAV:supported-calendar-component-set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentKind {
    /// `VEVENT`.
    Event,
    /// `VTODO`.
    Todo,
}

impl ComponentKind {
    /// Every kind, in the stored order.
    pub const ALL: [Self; 2] = [Self::Event, Self::Todo];

    /// The iCalendar component name (`VEVENT`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Event => "VEVENT",
            Self::Todo => "VTODO",
        }
    }

    /// The kind named `name`; iCalendar names are case-insensitive
    /// (RFC 5545 §2).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name))
    }

    /// The bit of this kind in a stored set.
    pub(crate) const fn bit(self) -> i64 {
        match self {
            Self::Event => 1,
            Self::Todo => 2,
        }
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A calendar collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub id: CalendarId,
    pub account: AccountId,
    /// The calendar's URL segment (`personal`), unique per account.
    pub name: String,
    /// DAV:displayname (RFC 4918 §15.2); may be empty.
    pub display_name: String,
    /// CALDAV:calendar-description (RFC 4791 §5.2.1).
    pub description: Option<String>,
    /// The colour clients show it in (Apple's `calendar-color`, `#RRGGBB`).
    pub color: Option<String>,
    /// The VTIMEZONE text of CALDAV:calendar-timezone (RFC 4791 §5.2.2).
    pub timezone: Option<String>,
    /// What it may hold; never empty, in [`ComponentKind::ALL`] order.
    pub components: Vec<ComponentKind>,
    /// The modification sequence of its last change to a member (0 for a
    /// calendar never written to); the DAV:sync-token's number.
    pub sync_token: u64,
}

/// The properties [`crate::Store::update_calendar`] changes: `None` leaves
/// one as it is. For the optional ones, `Some("")` removes the property
/// (WebDAV PROPPATCH `remove`, RFC 4918 §14.23).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarProps {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub color: Option<String>,
    pub timezone: Option<String>,
}

/// A calendar object resource's metadata (RFC 4791 §4.1: one resource, one
/// UID, one kind of component).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarObjectMeta {
    pub calendar: CalendarId,
    /// The resource name within the calendar (`abc.ics`).
    pub name: String,
    /// The iCalendar UID shared by its components.
    pub uid: String,
    /// The strong entity tag, quoted, ready for an `ETag` header
    /// (RFC 9110 §8.8.3): it changes whenever the bytes do.
    pub etag: String,
    pub component: ComponentKind,
    /// The size of the data in octets.
    pub size: u64,
    /// Unix seconds at or before the start of every instance; `None`: no
    /// start is known (the object matches every time range).
    pub first_start: Option<i64>,
    /// Unix seconds at or after the end of every instance; `None`:
    /// unbounded (an infinite recurrence).
    pub last_end: Option<i64>,
    /// The calendar's sync token when it was last written.
    pub modseq: u64,
}

/// A calendar object resource with its iCalendar bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarObject {
    pub meta: CalendarObjectMeta,
    /// The iCalendar text exactly as stored.
    pub data: Vec<u8>,
}

/// A calendar object to store (`Store::put_calendar_object`). The caller
/// parsed `data` and gives what the store indexes.
#[derive(Debug, Clone, Copy)]
pub struct NewCalendarObject<'a> {
    pub name: &'a str,
    pub uid: &'a str,
    pub component: ComponentKind,
    pub data: &'a [u8],
    /// See [`CalendarObjectMeta::first_start`].
    pub first_start: Option<i64>,
    /// See [`CalendarObjectMeta::last_end`].
    pub last_end: Option<i64>,
}

/// The condition under which a write proceeds (RFC 9110 §13.1), checked in
/// the writing transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Unconditional.
    Any,
    /// The resource must not exist (`If-None-Match: *`).
    MustNotExist,
    /// The resource must exist, whatever its ETag (`If-Match: *`).
    MustExist,
    /// The resource's current ETag is exactly this one, quotes included
    /// (`If-Match`, strong comparison, RFC 9110 §8.8.3.2).
    EtagMatches(String),
}

/// What changed in a calendar since a sync token (RFC 6578 §3.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarChanges {
    /// Resources created or modified since, sorted by name.
    pub changed: Vec<String>,
    /// Resources deleted since (and not re-created), sorted by name.
    pub deleted: Vec<String>,
    /// The calendar's current sync token.
    pub sync_token: u64,
}
