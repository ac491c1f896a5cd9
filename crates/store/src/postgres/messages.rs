//! PostgreSQL: messages (to be written).

use super::PgStore;
use crate::error::StoreResult;
#[allow(unused_imports)]
use crate::model::*;

pub(super) fn deliver(
    store: &PgStore,
    accounts: &[AccountId],
    raw: &[u8],
    internal_date: i64,
) -> StoreResult<Vec<(MailboxId, Uid)>> {
    let _ = (store, accounts, raw, internal_date);
    todo!("PostgreSQL deliver")
}

pub(super) fn append(
    store: &PgStore,
    mailbox: MailboxId,
    raw: &[u8],
    flags: &[Flag],
    internal_date: i64,
) -> StoreResult<Uid> {
    let _ = (store, mailbox, raw, flags, internal_date);
    todo!("PostgreSQL append")
}

pub(super) fn messages(store: &PgStore, mailbox: MailboxId) -> StoreResult<Vec<MessageMeta>> {
    let _ = (store, mailbox);
    todo!("PostgreSQL messages")
}

pub(super) fn message_meta(
    store: &PgStore,
    mailbox: MailboxId,
    uid: Uid,
) -> StoreResult<Option<MessageMeta>> {
    let _ = (store, mailbox, uid);
    todo!("PostgreSQL message_meta")
}

pub(super) fn messages_page(
    store: &PgStore,
    mailbox: MailboxId,
    newest_first: bool,
    offset: usize,
    limit: usize,
) -> StoreResult<(Vec<MessageMeta>, usize)> {
    let _ = (store, mailbox, newest_first, offset, limit);
    todo!("PostgreSQL messages_page")
}

pub(super) fn mailbox_counts(
    store: &PgStore,
    account: AccountId,
) -> StoreResult<Vec<MailboxCounts>> {
    let _ = (store, account);
    todo!("PostgreSQL mailbox_counts")
}

pub(super) fn read_message(store: &PgStore, mailbox: MailboxId, uid: Uid) -> StoreResult<Vec<u8>> {
    let _ = (store, mailbox, uid);
    todo!("PostgreSQL read_message")
}

pub(super) fn read_blob(store: &PgStore, blob: &BlobId, size: u64) -> StoreResult<Vec<u8>> {
    let _ = (store, blob, size);
    todo!("PostgreSQL read_blob")
}

pub(super) fn read_blob_head(
    store: &PgStore,
    blob: &BlobId,
    size: u64,
    max: usize,
) -> StoreResult<Vec<u8>> {
    let _ = (store, blob, size, max);
    todo!("PostgreSQL read_blob_head")
}

pub(super) fn set_flags(
    store: &PgStore,
    mailbox: MailboxId,
    uid: Uid,
    flags: &[Flag],
) -> StoreResult<ModSeq> {
    let _ = (store, mailbox, uid, flags);
    todo!("PostgreSQL set_flags")
}

pub(super) fn store_flags(
    store: &PgStore,
    mailbox: MailboxId,
    uids: &[Uid],
    op: FlagOp,
    flags: &[Flag],
    unchanged_since: Option<ModSeq>,
) -> StoreResult<StoreFlagsResult> {
    let _ = (store, mailbox, uids, op, flags, unchanged_since);
    todo!("PostgreSQL store_flags")
}

pub(super) fn expunge(store: &PgStore, mailbox: MailboxId, uids: &[Uid]) -> StoreResult<()> {
    let _ = (store, mailbox, uids);
    todo!("PostgreSQL expunge")
}

pub(super) fn vanished_since(
    store: &PgStore,
    mailbox: MailboxId,
    modseq: ModSeq,
) -> StoreResult<Vec<Uid>> {
    let _ = (store, mailbox, modseq);
    todo!("PostgreSQL vanished_since")
}

pub(super) fn copy(
    store: &PgStore,
    from: MailboxId,
    uids: &[Uid],
    to: MailboxId,
) -> StoreResult<Vec<(Uid, Uid)>> {
    let _ = (store, from, uids, to);
    todo!("PostgreSQL copy")
}

pub(super) fn move_messages(
    store: &PgStore,
    from: MailboxId,
    uids: &[Uid],
    to: MailboxId,
) -> StoreResult<Vec<(Uid, Uid)>> {
    let _ = (store, from, uids, to);
    todo!("PostgreSQL move_messages")
}

pub(super) fn claim_recent(
    store: &PgStore,
    mailbox: MailboxId,
) -> StoreResult<std::ops::Range<Uid>> {
    let _ = (store, mailbox);
    todo!("PostgreSQL claim_recent")
}

pub(super) fn recent_mark(store: &PgStore, mailbox: MailboxId) -> StoreResult<Uid> {
    let _ = (store, mailbox);
    todo!("PostgreSQL recent_mark")
}

pub(super) fn accept_into(
    store: &PgStore,
    msg: &Incoming<'_>,
    folder: LocalFolder,
) -> StoreResult<Accepted> {
    let _ = (store, msg, folder);
    todo!("PostgreSQL accept_into")
}

/// Stores a new message's bytes, then in one write transaction runs
/// `before` and places the message as `accept_into` does (local copies
/// in `folder`, queue item). `queue_finish` uses it to remove a finished
/// item and store its delivery status notification atomically.
pub(super) fn accept_with(
    store: &PgStore,
    msg: &Incoming<'_>,
    folder: LocalFolder,
    before: impl FnMut(&mut postgres::Transaction<'_>, &mut super::Effects) -> StoreResult<()> + Send,
) -> StoreResult<Accepted> {
    let _ = (store, msg, folder, before);
    todo!("PostgreSQL accept_with")
}
