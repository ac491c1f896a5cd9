//! PostgreSQL: accounts (to be written).

use super::PgStore;
use crate::error::StoreResult;
#[allow(unused_imports)]
use crate::model::*;

pub(super) fn add_domain(store: &PgStore, domain: &str) -> StoreResult<()> {
    let _ = (store, domain);
    todo!("PostgreSQL add_domain")
}

pub(super) fn domains(store: &PgStore) -> StoreResult<Vec<String>> {
    let _ = (store,);
    todo!("PostgreSQL domains")
}

pub(super) fn remove_domain(store: &PgStore, domain: &str) -> StoreResult<()> {
    let _ = (store, domain);
    todo!("PostgreSQL remove_domain")
}

pub(super) fn add_account(
    store: &PgStore,
    address: &str,
    password_hash: &str,
) -> StoreResult<Account> {
    let _ = (store, address, password_hash);
    todo!("PostgreSQL add_account")
}

pub(super) fn account(store: &PgStore, address: &str) -> StoreResult<Option<Account>> {
    let _ = (store, address);
    todo!("PostgreSQL account")
}

pub(super) fn account_by_id(store: &PgStore, id: AccountId) -> StoreResult<Option<Account>> {
    let _ = (store, id);
    todo!("PostgreSQL account_by_id")
}

pub(super) fn accounts(store: &PgStore) -> StoreResult<Vec<Account>> {
    let _ = (store,);
    todo!("PostgreSQL accounts")
}

pub(super) fn set_password_hash(
    store: &PgStore,
    id: AccountId,
    password_hash: &str,
) -> StoreResult<()> {
    let _ = (store, id, password_hash);
    todo!("PostgreSQL set_password_hash")
}

pub(super) fn set_disabled(store: &PgStore, id: AccountId, disabled: bool) -> StoreResult<()> {
    let _ = (store, id, disabled);
    todo!("PostgreSQL set_disabled")
}

pub(super) fn set_admin(store: &PgStore, id: AccountId, admin: bool) -> StoreResult<()> {
    let _ = (store, id, admin);
    todo!("PostgreSQL set_admin")
}

pub(super) fn set_quota(store: &PgStore, id: AccountId, quota_bytes: u64) -> StoreResult<()> {
    let _ = (store, id, quota_bytes);
    todo!("PostgreSQL set_quota")
}

pub(super) fn remove_account(store: &PgStore, id: AccountId) -> StoreResult<()> {
    let _ = (store, id);
    todo!("PostgreSQL remove_account")
}

pub(super) fn add_alias(store: &PgStore, address: &str, targets: &[String]) -> StoreResult<()> {
    let _ = (store, address, targets);
    todo!("PostgreSQL add_alias")
}

pub(super) fn aliases(store: &PgStore) -> StoreResult<Vec<Alias>> {
    let _ = (store,);
    todo!("PostgreSQL aliases")
}

pub(super) fn remove_alias(store: &PgStore, address: &str) -> StoreResult<()> {
    let _ = (store, address);
    todo!("PostgreSQL remove_alias")
}

pub(super) fn resolve_recipient(store: &PgStore, address: &str) -> StoreResult<Vec<AccountId>> {
    let _ = (store, address);
    todo!("PostgreSQL resolve_recipient")
}

pub(super) fn subscribe_mailbox(
    store: &PgStore,
    account: AccountId,
    name: &str,
) -> StoreResult<()> {
    let _ = (store, account, name);
    todo!("PostgreSQL subscribe_mailbox")
}

pub(super) fn unsubscribe_mailbox(
    store: &PgStore,
    account: AccountId,
    name: &str,
) -> StoreResult<()> {
    let _ = (store, account, name);
    todo!("PostgreSQL unsubscribe_mailbox")
}

pub(super) fn subscriptions(store: &PgStore, account: AccountId) -> StoreResult<Vec<String>> {
    let _ = (store, account);
    todo!("PostgreSQL subscriptions")
}
