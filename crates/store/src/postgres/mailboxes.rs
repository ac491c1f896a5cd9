//! PostgreSQL: mailboxes (to be written).

use super::PgStore;
use crate::error::StoreResult;
#[allow(unused_imports)]
use crate::model::*;

pub(super) fn mailboxes(store: &PgStore, account: AccountId) -> StoreResult<Vec<Mailbox>> {
    let _ = (store, account);
    todo!("PostgreSQL mailboxes")
}

pub(super) fn mailbox(
    store: &PgStore,
    account: AccountId,
    name: &str,
) -> StoreResult<Option<Mailbox>> {
    let _ = (store, account, name);
    todo!("PostgreSQL mailbox")
}

pub(super) fn mailbox_by_id(store: &PgStore, id: MailboxId) -> StoreResult<Option<Mailbox>> {
    let _ = (store, id);
    todo!("PostgreSQL mailbox_by_id")
}

pub(super) fn create_mailbox(
    store: &PgStore,
    account: AccountId,
    name: &str,
    special_use: Option<SpecialUse>,
) -> StoreResult<Mailbox> {
    let _ = (store, account, name, special_use);
    todo!("PostgreSQL create_mailbox")
}

pub(super) fn delete_mailbox(store: &PgStore, id: MailboxId) -> StoreResult<()> {
    let _ = (store, id);
    todo!("PostgreSQL delete_mailbox")
}

pub(super) fn rename_mailbox(store: &PgStore, id: MailboxId, new_name: &str) -> StoreResult<()> {
    let _ = (store, id, new_name);
    todo!("PostgreSQL rename_mailbox")
}

/// Inside a write transaction: the account's INBOX.
pub(super) fn inbox(
    tx: &mut postgres::Transaction<'_>,
    account: AccountId,
) -> StoreResult<MailboxId> {
    let _ = (tx, account);
    todo!("PostgreSQL inbox")
}

/// Inside a write transaction: the account's Junk mailbox (special use
/// `\Junk`), created (and its change recorded) if missing.
pub(super) fn junk(
    tx: &mut postgres::Transaction<'_>,
    account: AccountId,
    fx: &mut super::Effects,
) -> StoreResult<MailboxId> {
    let _ = (tx, account, fx);
    todo!("PostgreSQL junk")
}
