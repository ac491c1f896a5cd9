//! Postern's mail store: domains, accounts, aliases, mailboxes, messages,
//! and calendars (CalDAV).
//!
//! The protocols and the CLI speak to the [`Store`] trait only, so that a
//! PostgreSQL back end can join the embedded SQLite one without touching
//! them. The trait is synchronous: SQLite is, and async callers run store
//! calls on a blocking thread (`tokio::task::spawn_blocking`).
//!
//! Durability is the store's promise: when [`Store::accept`],
//! [`Store::deliver`] or [`Store::append`] returns `Ok`, the message's bytes
//! and all its rows (local copies, queue item) are on disk: a small
//! message's bytes are committed with its rows; a big one's blob file is
//! fsynced and renamed into place, and its directory fsynced, before its
//! rows are committed. Every other write that returns `Ok` (queue
//! outcomes, `queue_finish` with its DSN, flags, expunges) is committed
//! too. A crash at any point leaves no half-visible message and no half
//! of an acceptance, and loses none that was acknowledged.
//!
//! Concurrent writers of new messages share their commits (group commit,
//! `sqlite::group`): many SMTP sessions calling [`Store::accept`] at once
//! pay one fsync per round rather than one or three each, and none
//! returns before the round holding its message is durable.
//!
//! The outbound queue (`queue_*` methods) keeps each accepted message
//! with remote recipients until every recipient is delivered or failed and
//! its delivery status notification is stored; see [`Store::queue_due`]
//! and the comment above it for the workers' loop.
//!
//! # Layout
//! - [`model`]: the plain data types.
//! - [`error`]: the error type, [`StoreError`].
//! - [`sqlite`]: the embedded back end (SQLite in WAL mode + blobs on disk).
//! - [`blobs`]: content-addressed blob files.
//! - [`names`]: validation of domains, addresses, mailbox names and flags,
//!   shared by every back end so that they accept the same input.
//!
//! The generic test suite that every back end must pass is in
//! `tests/suite/mod.rs`; `tests/crash.rs` kills a writer mid-delivery and
//! concurrent acceptors mid-round; `examples/accept_bench.rs` measures
//! accepts per second.

pub mod blobs;
mod calendar_checks;
pub mod error;
pub mod migrate;
pub mod model;
pub mod names;
pub mod postgres;
pub mod sqlite;

pub use error::{StoreError, StoreResult};
pub use model::{
    Accepted, Account, AccountId, Alias, BlobId, Calendar, CalendarChanges, CalendarId,
    CalendarObject, CalendarObjectMeta, CalendarProps, Change, ComponentKind, DsnRet, Envelope,
    Flag, FlagOp, Incoming, LocalFolder, Mailbox, MailboxCounts, MailboxId, MessageMeta, ModSeq,
    NewCalendarObject, Notify, Precondition, QueueId, QueueItem, QueuedRecipient, RecipientOutcome,
    RecipientState, RemoteRecipient, SpecialUse, StoreFlagsResult, Uid,
};
pub use postgres::{PgOptions, PgStore};
pub use sqlite::SqliteStore;

/// Everything the protocols need from storage.
pub trait Store: Send + Sync + 'static {
    // --- domains ---

    /// Adds a mail domain (lowercase). Errors if it exists.
    fn add_domain(&self, domain: &str) -> StoreResult<()>;
    /// The domains, sorted.
    fn domains(&self) -> StoreResult<Vec<String>>;
    /// Removes a domain; refused while accounts or aliases use it.
    fn remove_domain(&self, domain: &str) -> StoreResult<()>;

    // --- accounts ---

    /// Adds an account in a served domain, with the default mailboxes
    /// (INBOX, Sent, Drafts, Trash, Junk, Archive). `AlreadyExists` if an
    /// account or an alias has the address.
    fn add_account(&self, address: &str, password_hash: &str) -> StoreResult<Account>;
    /// The account with this address (case-insensitive), if any. A
    /// malformed address is simply not found (login must not tell apart).
    fn account(&self, address: &str) -> StoreResult<Option<Account>>;
    /// The account with this id, if any.
    fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>>;
    /// Every account, sorted by address.
    fn accounts(&self) -> StoreResult<Vec<Account>>;
    fn set_password_hash(&self, id: AccountId, password_hash: &str) -> StoreResult<()>;
    fn set_disabled(&self, id: AccountId, disabled: bool) -> StoreResult<()>;
    /// Makes an account an administrator (the web admin pages) or an
    /// ordinary user again.
    fn set_admin(&self, id: AccountId, admin: bool) -> StoreResult<()>;
    fn set_quota(&self, id: AccountId, quota_bytes: u64) -> StoreResult<()>;
    /// Removes an account with its mailboxes and messages (blobs no longer
    /// referenced are deleted). It leaves the aliases that targeted it;
    /// those left with no target go too.
    fn remove_account(&self, id: AccountId) -> StoreResult<()>;

    // --- aliases ---

    /// Adds an alias in a served domain; `@domain` is the catch-all. Each
    /// target must be an existing account; the address must not be an
    /// account's.
    fn add_alias(&self, address: &str, targets: &[String]) -> StoreResult<()>;
    fn aliases(&self) -> StoreResult<Vec<Alias>>;
    fn remove_alias(&self, address: &str) -> StoreResult<()>;
    /// Where mail for `address` goes: the account itself, else an alias's
    /// targets, else the domain's catch-all. Disabled accounts are left out;
    /// empty means an unknown recipient. The first match decides: mail for
    /// a disabled account does not fall through to the catch-all. A
    /// malformed address is `Invalid`.
    fn resolve_recipient(&self, address: &str) -> StoreResult<Vec<AccountId>>;

    // --- mailboxes ---

    /// An account's mailboxes, sorted by name.
    fn mailboxes(&self, account: AccountId) -> StoreResult<Vec<Mailbox>>;
    /// One mailbox by name (`INBOX` case-insensitively, others exactly).
    fn mailbox(&self, account: AccountId, name: &str) -> StoreResult<Option<Mailbox>>;
    /// The mailbox with this id.
    fn mailbox_by_id(&self, id: MailboxId) -> StoreResult<Option<Mailbox>>;
    /// Creates a mailbox with a fresh UIDVALIDITY (never one an earlier
    /// mailbox of this store had). `AlreadyExists` if the name is taken.
    fn create_mailbox(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> StoreResult<Mailbox>;
    /// Deletes a mailbox and its messages (IMAP DELETE); the INBOX cannot
    /// be deleted. Mailboxes below it in the hierarchy stay.
    fn delete_mailbox(&self, id: MailboxId) -> StoreResult<()>;
    /// Renames a mailbox and those below it (IMAP RENAME); UIDVALIDITY and
    /// UIDs stay. The INBOX cannot be renamed (yet: RFC 9051 §6.3.6 wants
    /// its messages moved instead).
    fn rename_mailbox(&self, id: MailboxId, new_name: &str) -> StoreResult<()>;

    // --- subscriptions (IMAP SUBSCRIBE / LSUB, RFC 9051 §6.3.7) ---
    //
    // Names, not mailboxes: a name may be subscribed while no mailbox has
    // it, and deleting or renaming a mailbox leaves its subscription as it
    // is. A new account's default mailboxes start subscribed; mailboxes
    // created later do not. Names are validated and normalised as mailbox
    // names are (`INBOX` in any case is `INBOX`); a malformed one is
    // `Invalid`, an unknown account `NotFound`. Committed before `Ok`.

    /// Subscribes the account to `name`; already subscribed is not an
    /// error.
    fn subscribe_mailbox(&self, account: AccountId, name: &str) -> StoreResult<()>;
    /// Unsubscribes the account from `name`; not subscribed is not an
    /// error.
    fn unsubscribe_mailbox(&self, account: AccountId, name: &str) -> StoreResult<()>;
    /// The account's subscribed names, sorted bytewise.
    fn subscriptions(&self, account: AccountId) -> StoreResult<Vec<String>>;

    // --- messages ---

    /// Stores `raw` in the INBOX of each account, once, durably; the blob is
    /// shared. Returns where each copy went, in the order of `accounts`.
    /// The same as [`Store::accept`] with no remote recipient (and, like
    /// it, group-committed), except that no account is not an error.
    /// All or nothing: if one account is over quota, no copy is stored.
    /// Disabled accounts are not checked here: [`Store::resolve_recipient`]
    /// leaves them out.
    fn deliver(
        &self,
        accounts: &[AccountId],
        raw: &[u8],
        internal_date: i64,
    ) -> StoreResult<Vec<(MailboxId, Uid)>>;
    /// Stores `raw` in one mailbox with flags, durably (IMAP APPEND).
    fn append(
        &self,
        mailbox: MailboxId,
        raw: &[u8],
        flags: &[Flag],
        internal_date: i64,
    ) -> StoreResult<Uid>;
    /// A mailbox's messages in ascending UID order. Flags come back
    /// canonical: system flags first, then keywords sorted, each once.
    fn messages(&self, mailbox: MailboxId) -> StoreResult<Vec<MessageMeta>>;
    /// One message's metadata, flags complete; `None` if the mailbox has
    /// no such UID. Without loading the whole mailbox.
    fn message_meta(&self, mailbox: MailboxId, uid: Uid) -> StoreResult<Option<MessageMeta>> {
        Ok(self.messages(mailbox)?.into_iter().find(|m| m.uid == uid))
    }
    /// A page of a mailbox's messages: `limit` of them after skipping
    /// `offset`, in ascending UID order or, `newest_first`, descending;
    /// with the number of messages in the mailbox. Without loading the
    /// whole mailbox (a webmail page of a large folder).
    fn messages_page(
        &self,
        mailbox: MailboxId,
        newest_first: bool,
        offset: usize,
        limit: usize,
    ) -> StoreResult<(Vec<MessageMeta>, usize)> {
        let mut all = self.messages(mailbox)?;
        let total = all.len();
        if newest_first {
            all.reverse();
        }
        Ok((all.into_iter().skip(offset).take(limit).collect(), total))
    }
    /// Each of the account's mailboxes with its number of messages and of
    /// messages without `\Seen`, counted by the store.
    fn mailbox_counts(&self, account: AccountId) -> StoreResult<Vec<MailboxCounts>> {
        self.mailboxes(account)?
            .into_iter()
            .map(|m| {
                let messages = self.messages(m.id)?;
                Ok(MailboxCounts {
                    mailbox: m.id,
                    total: messages.len(),
                    unseen: messages
                        .iter()
                        .filter(|x| !x.flags.contains(&Flag::Seen))
                        .count(),
                })
            })
            .collect()
    }
    /// A message's bytes, exactly as stored.
    fn read_message(&self, mailbox: MailboxId, uid: Uid) -> StoreResult<Vec<u8>>;
    /// A message's bytes from its metadata (`blob`, `size`), without a
    /// database lookup: for sessions that hold a snapshot of the mailbox.
    /// `NotFound` if the message has been expunged and its blob deleted.
    fn read_blob(&self, blob: &BlobId, size: u64) -> StoreResult<Vec<u8>>;
    /// At most the first `max` octets of a message (its header section,
    /// for a message list), without reading a large message whole.
    fn read_blob_head(&self, blob: &BlobId, size: u64, max: usize) -> StoreResult<Vec<u8>> {
        let mut bytes = self.read_blob(blob, size)?;
        bytes.truncate(max);
        Ok(bytes)
    }
    /// Replaces a message's flags; returns its new MODSEQ. Setting the
    /// flags it already has changes nothing and returns the current MODSEQ.
    fn set_flags(&self, mailbox: MailboxId, uid: Uid, flags: &[Flag]) -> StoreResult<ModSeq>;
    /// Changes the flags of several messages (IMAP STORE), in ONE
    /// transaction: for each message of `uids` present in `mailbox`, in
    /// ascending UID order, its flags as stored now are combined with
    /// `flags` by `op`. Because the stored flags are read inside the
    /// transaction, concurrent calls never lose each other's changes (two
    /// sessions adding different flags to one message both keep theirs).
    ///
    /// With `unchanged_since` (RFC 7162 §3.1.3 UNCHANGEDSINCE), a message
    /// whose stored MODSEQ is greater is left alone and listed in
    /// `modified`; the comparison is made in the same transaction as the
    /// change. A message whose flags the operation would not change is
    /// listed in `kept` and keeps its MODSEQ; each message changed gets a
    /// new MODSEQ (the mailbox's highest plus one, in turn), is listed in
    /// `changed`, and `Change::FlagsChanged` is broadcast for it after the
    /// commit. Absent UIDs are ignored; an unknown mailbox is `NotFound`,
    /// a malformed keyword `Invalid` (nothing changed).
    fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: &[Flag],
        unchanged_since: Option<ModSeq>,
    ) -> StoreResult<StoreFlagsResult>;
    /// Removes messages (absent UIDs are ignored), in one transaction.
    /// If any was removed, the mailbox's MODSEQ moves on once and the
    /// removed UIDs are remembered with it (see [`Store::vanished_since`]).
    fn expunge(&self, mailbox: MailboxId, uids: &[Uid]) -> StoreResult<()>;
    /// The UIDs removed from the mailbox (by `expunge` or
    /// `move_messages`) with a MODSEQ greater than `modseq`, ascending
    /// and each once: what an IMAP QRESYNC client that cached `modseq`
    /// has to forget (RFC 7162 §3.2.5.1, §3.2.6). The store keeps a
    /// bounded number of removals per mailbox; asked about a MODSEQ older
    /// than the oldest it kept, it returns every UID below UIDNEXT that
    /// the mailbox does not hold (RFC 7162 allows reporting UIDs expunged
    /// earlier or never used). `NotFound` for an unknown mailbox.
    fn vanished_since(&self, mailbox: MailboxId, modseq: ModSeq) -> StoreResult<Vec<Uid>>;
    /// Copies messages into another mailbox, sharing their blobs; returns
    /// (old UID, new UID) pairs (RFC 4315 COPYUID).
    fn copy(&self, from: MailboxId, uids: &[Uid], to: MailboxId) -> StoreResult<Vec<(Uid, Uid)>>;
    /// Moves messages into another mailbox (IMAP MOVE, RFC 6851), in ONE
    /// transaction: each message of `uids` present in `from` is copied
    /// into `to` as [`Store::copy`] does (same blob, flags and
    /// INTERNALDATE, a new UID in ascending order of the old ones) and
    /// removed from `from`. Returns the (old UID, new UID) pairs, ascending
    /// by old UID; absent UIDs are ignored. Both mailboxes' MODSEQ moves on
    /// (`to` once per new message, `from` once for the removal), and after
    /// the commit `Change::Appended` is broadcast for each new message,
    /// then `Change::Expunged` for each removed one.
    ///
    /// All or nothing: if the copies would take the account over its
    /// quota (`QuotaExceeded`, counted before the originals are removed,
    /// as a COPY would be), or either mailbox is missing (`NotFound`),
    /// neither mailbox changes. `from == to` is `Invalid`.
    fn move_messages(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> StoreResult<Vec<(Uid, Uid)>>;

    /// Claims the mailbox's new messages as \Recent (RFC 3501 §2.3.2)
    /// for the caller's session: returns the UIDs from the mailbox's recent
    /// mark (the lowest UID not claimed yet) up to its UIDNEXT, exclusive,
    /// and moves the mark to that UIDNEXT, in one transaction. Each UID is
    /// thus handed out at most once, whoever calls: the first session to
    /// claim after a message arrived sees it \Recent, no other does. The
    /// range may hold UIDs already expunged (or not yet read by the
    /// caller); it is empty (`start == end`, at UIDNEXT) when nothing new
    /// arrived since the last claim. A new mailbox's mark is 1; copies
    /// and moved messages get new UIDs and so are \Recent again
    /// (RFC 3501 §6.4.7). MODSEQ does not move and nothing is broadcast.
    /// `NotFound` for an unknown mailbox.
    fn claim_recent(&self, mailbox: MailboxId) -> StoreResult<std::ops::Range<Uid>>;
    /// The mailbox's recent mark, without claiming anything: messages
    /// with this UID or above are the ones the next claim would hand out
    /// (IMAP STATUS RECENT, RFC 3501 §6.3.10). `NotFound` for an unknown
    /// mailbox.
    fn recent_mark(&self, mailbox: MailboxId) -> StoreResult<Uid>;

    // --- acceptance of incoming mail (SMTP) ---

    /// Stores a message the SMTP server is about to acknowledge, in ONE
    /// durable transaction: its blob, a copy in the INBOX of each of
    /// `msg.local` (as [`Store::deliver`] does), and, if `msg.remote` is not
    /// empty, one queue item with those recipients, all `Pending` and due
    /// at `msg.internal_date`. When it returns `Ok`, all of it survives a
    /// crash (see the crate docs); on `Err`, none of it exists.
    ///
    /// All or nothing: one account over its quota fails the whole message
    /// (`QuotaExceeded`), as does an unknown account (`NotFound`). Both
    /// lists empty is `Invalid`, as is an empty remote address.
    ///
    /// Broadcasts `Change::Appended` for each local copy and
    /// `Change::Queued` for the queue item, after the commit. Concurrent
    /// calls share their fsyncs (group commit): call it from many blocking
    /// threads at once rather than serialising the calls.
    fn accept(&self, msg: &Incoming<'_>) -> StoreResult<Accepted> {
        self.accept_into(msg, LocalFolder::Inbox)
    }

    /// [`Store::accept`], with the local copies in `folder` of each
    /// account instead of the INBOX. [`LocalFolder::Junk`] is the mailbox
    /// whose special use is `\Junk`, else the one named "Junk", else a
    /// new "Junk" created in the same transaction (and announced with
    /// `Change::MailboxCreated`). The queue item is the same either way.
    fn accept_into(&self, msg: &Incoming<'_>, folder: LocalFolder) -> StoreResult<Accepted>;

    // --- the outbound queue ---
    //
    // A queue item is one message with its remote recipients. Each
    // recipient is `Pending` until an outcome makes it `Delivered` or
    // `Failed`. An item with no `Pending` recipient left is *finished*: it
    // stays in the queue (so that a crash cannot lose the delivery status
    // notification still to be sent) until `queue_finish` removes it,
    // together with storing that notification, in one transaction.
    //
    // The workers' loop: wait for `Change::Queued` (from `subscribe`; on
    // `Lagged`, just poll), or until `queue_next_due`; `queue_claim` what is
    // due; try the due recipients; `queue_update` the outcomes; when the
    // item is finished, build the DSN and `queue_finish`. At start, and now
    // and then, `queue_finished` picks up items a crash left finished.
    //
    // Times are seconds since the Unix epoch, always given by the caller:
    // the store reads no clock for the queue.

    /// Items that have at least one `Pending` recipient with
    /// `next_attempt <= now` and are not claimed (see `queue_claim`),
    /// earliest due first (ties: older item first), at most `limit`. Each
    /// item comes with all its recipients, final ones included; the ones
    /// to try are [`QueueItem::due_recipients`]. Reads only: two workers
    /// calling it get the same items; workers use `queue_claim`.
    fn queue_due(&self, now: i64, limit: usize) -> StoreResult<Vec<QueueItem>>;

    /// Like [`Store::queue_due`], and claims the returned items until
    /// `lease_until` (exclusive): until then neither `queue_due` nor
    /// `queue_claim` return them, so two workers never take the same item.
    /// A claim ends at `queue_update`, `queue_finish`, `queue_delete` or
    /// when the lease runs out (a worker that died). SQLite: claims live in
    /// this store handle's memory: a restart forgets them (whatever was
    /// being tried is tried again), and another process on the same data
    /// directory does not see them (one process runs the workers).
    /// PostgreSQL: claims are rows every node sees (several nodes run
    /// workers); a node hands its own back when its store is dropped, and
    /// a node that died loses them when they run out.
    fn queue_claim(&self, now: i64, lease_until: i64, limit: usize) -> StoreResult<Vec<QueueItem>>;

    /// The earliest time at which an item will be due and unclaimed: the
    /// smallest `next_attempt` of a `Pending` recipient, or for a claimed
    /// item the later of that and its lease's end. `None`: nothing pending.
    /// A worker with nothing due sleeps until then (or a `Change::Queued`).
    fn queue_next_due(&self) -> StoreResult<Option<i64>>;

    /// Records the outcome of one attempt for each named recipient, in one
    /// durable transaction, and returns the item as it now is (check
    /// [`QueueItem::is_finished`]). Each named recipient's `attempts` grows
    /// by one; `Delivered` and `Failed` are final (`detail` / `last_error`
    /// set); `Deferred` stays `Pending` with the new `next_attempt` and
    /// `last_error`. Recipients are named by `address` exactly as queued;
    /// a name not among the item's `Pending` recipients is `Invalid`
    /// (nothing is changed). Ends the item's claim. The item is never
    /// removed here, even when finished. `NotFound` if the item is gone
    /// (deleted by an administrator meanwhile).
    fn queue_update(
        &self,
        id: QueueId,
        results: &[(String, RecipientOutcome)],
    ) -> StoreResult<QueueItem>;

    /// Finished items (no `Pending` recipient), oldest first, at most
    /// `limit`: those whose `queue_finish` a crash or an error prevented.
    fn queue_finished(&self, limit: usize) -> StoreResult<Vec<QueueItem>>;

    /// Removes an item and, in the same durable transaction, accepts `dsn`
    /// (the delivery status notification built from the item, RFC 3464;
    /// `None` when none is due, e.g. all delivered or a null sender) as
    /// [`Store::accept`] would, so that the notification is neither lost
    /// nor sent twice. Frees the message's blob if nothing else uses it.
    /// Returns where the DSN went. Refused (`InUse`) while the item has a
    /// `Pending` recipient; `NotFound` if it is gone.
    fn queue_finish(
        &self,
        id: QueueId,
        dsn: Option<&Incoming<'_>>,
    ) -> StoreResult<Option<Accepted>>;

    /// Every item, oldest first (for `postern queue list`).
    fn queue_list(&self) -> StoreResult<Vec<QueueItem>>;

    /// One item, if it is (still) queued.
    fn queue_item(&self, id: QueueId) -> StoreResult<Option<QueueItem>>;

    /// A queued message's bytes, exactly as accepted. `NotFound` if the
    /// item is gone.
    fn queue_read(&self, id: QueueId) -> StoreResult<Vec<u8>>;

    /// Makes every `Pending` recipient of the item due at `now` (an
    /// administrator's "flush"), and broadcasts `Change::Queued`. Final
    /// recipients and `attempts` are unchanged; a claim stays. `NotFound`
    /// if the item is gone.
    fn queue_retry_now(&self, id: QueueId, now: i64) -> StoreResult<()>;

    /// Removes an item whatever its recipients' states, without any
    /// notification (an administrator's decision), and frees the message's
    /// blob if nothing else uses it. `NotFound` if the item is gone.
    fn queue_delete(&self, id: QueueId) -> StoreResult<()>;

    // --- calendars (CalDAV, RFC 4791; sync tokens, RFC 6578) ---
    //
    // A calendar belongs to an account and is named by its URL segment
    // (`names::calendar_name`); its members are calendar object resources
    // named by resource name (`names::calendar_object_name`), each one
    // iCalendar object with one UID. The caller parses the iCalendar data
    // and gives the store what it indexes (UID, component kind, time
    // bounds); the store keeps the bytes exactly. Every write of a member
    // moves the calendar's sync token on by one, records the change, is
    // committed before `Ok`, and broadcasts `Change::Calendar`. Removing
    // an account removes its calendars. An unknown calendar is `NotFound`.

    /// Creates an empty calendar (sync token 0) that may hold
    /// `components` (empty: every kind). `Invalid` for a malformed name,
    /// `AlreadyExists` if the account has a calendar of that name,
    /// `NotFound` for an unknown account.
    fn create_calendar(
        &self,
        account: AccountId,
        name: &str,
        display_name: &str,
        components: &[ComponentKind],
    ) -> StoreResult<Calendar> {
        let props = CalendarProps {
            display_name: Some(display_name.to_owned()),
            ..CalendarProps::default()
        };
        self.create_calendar_with(account, name, components, &props)
    }
    /// Like [`Store::create_calendar`], with the initial properties set
    /// in the same transaction (no display name: empty): a value the
    /// store refuses (`Invalid`, as [`Store::update_calendar`] says)
    /// creates nothing, and no reader ever sees the calendar without its
    /// properties (RFC 4791 §5.3.1 MKCALENDAR, RFC 5689 §3 MKCOL: all or
    /// nothing).
    fn create_calendar_with(
        &self,
        account: AccountId,
        name: &str,
        components: &[ComponentKind],
        props: &CalendarProps,
    ) -> StoreResult<Calendar>;
    /// The account's calendars, sorted by name; `NotFound` for an unknown
    /// account.
    fn calendars(&self, account: AccountId) -> StoreResult<Vec<Calendar>>;
    /// The account's calendar named `name` (exactly); a malformed name is
    /// simply not found.
    fn calendar(&self, account: AccountId, name: &str) -> StoreResult<Option<Calendar>>;
    /// Changes the calendar's properties (see [`CalendarProps`]) and
    /// returns it; the sync token does not move (members did not change).
    /// `Invalid` for a value too long or with control characters.
    fn update_calendar(&self, id: CalendarId, props: &CalendarProps) -> StoreResult<Calendar>;
    /// Deletes a calendar with its members and their change log.
    fn delete_calendar(&self, id: CalendarId) -> StoreResult<()>;

    /// The calendar's members' metadata (no data), sorted by name.
    fn calendar_objects(&self, calendar: CalendarId) -> StoreResult<Vec<CalendarObjectMeta>>;
    /// One member with its data; a malformed name is simply not found.
    fn calendar_object(
        &self,
        calendar: CalendarId,
        name: &str,
    ) -> StoreResult<Option<CalendarObject>>;
    /// The members named in `names` that exist (CALDAV:calendar-multiget,
    /// RFC 4791 §7.9), in the order asked, each once; names that do not
    /// exist or are malformed are left out (the caller answers 404 for
    /// them).
    fn calendar_objects_by_name(
        &self,
        calendar: CalendarId,
        names: &[String],
    ) -> StoreResult<Vec<CalendarObject>>;
    /// The candidates for a time-range query over `[start, end)` (Unix
    /// seconds, RFC 4791 §9.9), sorted by name: every member whose bounds
    /// `[first_start, last_end]` may overlap it, a missing bound counting
    /// as overlapping. A superset: the exact test, with recurrences
    /// expanded, is the caller's.
    fn calendar_objects_in_range(
        &self,
        calendar: CalendarId,
        start: i64,
        end: i64,
    ) -> StoreResult<Vec<CalendarObject>>;
    /// Creates or replaces the member `obj.name` (HTTP PUT) in ONE
    /// transaction, which first checks, in this order: `pre` against the
    /// current resource (`PreconditionFailed`); that no OTHER member has
    /// `obj.uid` (`UidConflict`, naming it; RFC 4791 §5.3.2.1
    /// no-uid-conflict); that the calendar holds `obj.component`
    /// (`Invalid`, RFC 4791 §5.3.2.1 supported-calendar-component); that
    /// growth fits the account's quota, which covers calendar data as
    /// well as mail (`QuotaExceeded`). Then it stores the bytes with a
    /// strong ETag (see [`CalendarObjectMeta::etag`]), moves the sync
    /// token on and records the change. Returns the new metadata and
    /// whether the resource was created. Malformed names, UIDs, or a
    /// `last_end` before `first_start` are `Invalid`; the size limit is
    /// the caller's.
    fn put_calendar_object(
        &self,
        calendar: CalendarId,
        obj: &NewCalendarObject<'_>,
        pre: Precondition,
    ) -> StoreResult<(CalendarObjectMeta, bool)>;
    /// Deletes a member (HTTP DELETE), checking `pre` in the same
    /// transaction (`PreconditionFailed`; an If-Match on a missing member
    /// fails so too, RFC 9110 §13.1.1); a missing member is otherwise
    /// `NotFound`. Moves the sync token on and records a tombstone.
    fn delete_calendar_object(
        &self,
        calendar: CalendarId,
        name: &str,
        pre: Precondition,
    ) -> StoreResult<()>;
    /// What changed after sync token `token` (RFC 6578 §3.5): the members
    /// created or modified since (sorted, each once), those deleted since
    /// and not re-created, and the current token. Token 0 is the initial
    /// synchronisation: every member, no deletions. A token above the
    /// current one was never handed out: `Invalid` (RFC 6578 §3.2
    /// valid-sync-token).
    fn calendar_changes_since(
        &self,
        calendar: CalendarId,
        token: u64,
    ) -> StoreResult<CalendarChanges>;

    // --- change notification ---

    /// Changes committed from now on, for IDLE and maildrop locks. A
    /// writer's changes come in its commit order, and SQLite's in global
    /// commit order (one writer); on PostgreSQL, transactions committed at
    /// nearly the same time on different connections or nodes may be
    /// announced in either order, so a receiver treats a change as "look
    /// again", never as a position. A slow receiver may miss changes and
    /// is told so (`RecvError::Lagged`): it must then re-read the mailbox.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change>;
}
