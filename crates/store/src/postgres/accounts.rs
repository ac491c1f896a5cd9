//! PostgreSQL: domains, accounts, aliases, where a recipient's mail goes,
//! and IMAP subscriptions (RFC 9051 §6.3.7).
//!
//! The same semantics as the SQLite back end's `accounts`, `aliases` and
//! `subscriptions` (the `Store` docs are the contract); what differs is
//! that several nodes may write at once. Two rules keep them apart:
//!
//! - Adding an account or an alias locks its domain's row first
//!   ([`lock_domain`]), and removing a domain locks it before counting
//!   what uses it: an account and an alias cannot take one address on two
//!   nodes at once, and a domain cannot go while another node adds to it.
//! - A constraint that a concurrent node's commit violates is mapped to
//!   the error SQLite would have returned (`AlreadyExists`,
//!   `UnknownDomain`), never left as a bare database error.
//!
//! Addresses, domains and names are normalised by [`crate::names`] before
//! a statement sees them, so `=` is a case-insensitive comparison in
//! effect; listings sort with `COLLATE "C"`, bytewise as SQLite does,
//! whatever the database's default collation.
//!
//! # Layout
//! - domains: [`add_domain`], [`domains`], [`remove_domain`].
//! - accounts: [`add_account`], look-ups, [`update`], [`remove_account`].
//! - aliases: [`add_alias`], [`aliases`], [`remove_alias`],
//!   [`resolve_recipient`].
//! - subscriptions: [`subscribe_mailbox`], [`unsubscribe_mailbox`],
//!   [`subscriptions`].

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::Row;

use super::Tx;

use super::{is_foreign_key_violation, mailboxes, Effects, PgStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{Account, AccountId, Alias, BlobId, Change, SpecialUse};
use crate::names;

/// `NotFound` for `what`.
pub(super) fn missing(what: String) -> StoreError {
    StoreError::NotFound { what }
}

// --- domains ---

pub(super) fn add_domain(store: &PgStore, domain: &str) -> StoreResult<()> {
    let domain = names::domain(domain)?;
    store.write(|tx, _| {
        let added = tx.execute(
            "INSERT INTO domains (name) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&domain],
        )?;
        if added == 0 {
            return Err(StoreError::AlreadyExists {
                what: format!("domain {domain}"),
            });
        }
        Ok(())
    })
}

pub(super) fn domains(store: &PgStore) -> StoreResult<Vec<String>> {
    store.read(|tx| {
        let rows = tx.query("SELECT name FROM domains ORDER BY name COLLATE \"C\"", &[])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    })
}

/// Locks the row of `domain` (normalised) until the commit; `false` when
/// it is not served here.
fn lock_domain(tx: &mut Tx<'_>, domain: &str) -> StoreResult<bool> {
    let row = tx.query_opt(
        "SELECT 1 FROM domains WHERE name = $1 FOR UPDATE",
        &[&domain],
    )?;
    Ok(row.is_some())
}

/// Locks `domain`'s row, or fails with `UnknownDomain`.
fn require_served(tx: &mut Tx<'_>, domain: &str) -> StoreResult<()> {
    if !lock_domain(tx, domain)? {
        return Err(unknown_domain(domain));
    }
    Ok(())
}

fn unknown_domain(domain: &str) -> StoreError {
    StoreError::UnknownDomain {
        domain: domain.to_owned(),
    }
}

pub(super) fn remove_domain(store: &PgStore, domain: &str) -> StoreResult<()> {
    let domain = names::domain(domain)?;
    store.write(|tx, _| {
        if !lock_domain(tx, &domain)? {
            return Err(missing(format!("domain {domain}")));
        }
        let row = tx.query_one(
            "SELECT (SELECT count(*) FROM accounts WHERE domain = $1),
                    (SELECT count(*) FROM aliases WHERE domain = $1)",
            &[&domain],
        )?;
        let (accounts, aliases): (i64, i64) = (row.get(0), row.get(1));
        if accounts + aliases > 0 {
            return Err(StoreError::InUse {
                what: format!("domain {domain}"),
                why: format!("{accounts} account(s) and {aliases} alias(es) use it"),
            });
        }
        tx.execute("DELETE FROM domains WHERE name = $1", &[&domain])?;
        Ok(())
    })
}

// --- accounts ---

/// Adds an account with the default mailboxes, each subscribed. Refused
/// when the address is taken by an account or an alias (an alias would
/// silently lose to the account in [`resolve_recipient`]).
pub(super) fn add_account(
    store: &PgStore,
    address: &str,
    password_hash: &str,
) -> StoreResult<Account> {
    let addr = names::address(address)?;
    store.write(|tx, fx| {
        require_served(tx, &addr.domain)?;
        if by_address(tx, &addr.full)?.is_some() || alias_id(tx, &addr.full)?.is_some() {
            return Err(taken(&addr.full));
        }
        let row = tx
            .query_opt(
                "INSERT INTO accounts (address, domain, password_hash) VALUES ($1, $2, $3)
                 ON CONFLICT (address) DO NOTHING RETURNING id",
                &[&addr.full, &addr.domain, &password_hash],
            )
            .map_err(|e| domain_error(e, &addr.domain))?;
        let id = AccountId(row.ok_or_else(|| taken(&addr.full))?.get(0));
        for (special, name) in SpecialUse::DEFAULTS {
            mailboxes::create_in(tx, id, name, Some(special), fx)?;
            subscribe(tx, id, name)?;
        }
        by_id(tx, id)?.ok_or_else(|| missing(format!("account {}", id.0)))
    })
}

fn taken(address: &str) -> StoreError {
    StoreError::AlreadyExists {
        what: format!("address {address}"),
    }
}

/// A statement's error, with a vanished domain (removed by another node
/// since it was checked) as `UnknownDomain`.
fn domain_error(e: postgres::Error, domain: &str) -> StoreError {
    if is_foreign_key_violation(&e) {
        return unknown_domain(domain);
    }
    e.into()
}

const COLUMNS: &str = "id, address, password_hash, quota_bytes, disabled, admin";

fn from_row(r: &Row) -> Account {
    Account {
        id: AccountId(r.get(0)),
        address: r.get(1),
        password_hash: r.get(2),
        quota_bytes: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
        disabled: r.get(4),
        admin: r.get(5),
    }
}

/// The account with this normalised address.
fn by_address(tx: &mut Tx<'_>, address: &str) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE address = $1");
    Ok(tx.query_opt(&sql, &[&address])?.as_ref().map(from_row))
}

/// The account with this id.
pub(super) fn by_id(tx: &mut Tx<'_>, id: AccountId) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
    Ok(tx.query_opt(&sql, &[&id.0])?.as_ref().map(from_row))
}

pub(super) fn account(store: &PgStore, address: &str) -> StoreResult<Option<Account>> {
    // Junk is "no such account": login code must not tell a malformed
    // name from an unknown one.
    let Ok(addr) = names::address(address) else {
        return Ok(None);
    };
    store.read(|tx| by_address(tx, &addr.full))
}

pub(super) fn account_by_id(store: &PgStore, id: AccountId) -> StoreResult<Option<Account>> {
    store.read(|tx| by_id(tx, id))
}

pub(super) fn accounts(store: &PgStore) -> StoreResult<Vec<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts ORDER BY address COLLATE \"C\"");
    store.read(|tx| Ok(tx.query(&sql, &[])?.iter().map(from_row).collect()))
}

/// The account columns callers may change.
#[derive(Debug, Clone, Copy)]
enum Column {
    PasswordHash,
    Disabled,
    Quota,
    Admin,
}

/// Sets one column of an account.
fn update(
    store: &PgStore,
    id: AccountId,
    column: Column,
    value: &(dyn ToSql + Sync),
) -> StoreResult<()> {
    let name = match column {
        Column::PasswordHash => "password_hash",
        Column::Disabled => "disabled",
        Column::Quota => "quota_bytes",
        Column::Admin => "admin",
    };
    let sql = format!("UPDATE accounts SET {name} = $2 WHERE id = $1");
    store.write(|tx, _| {
        if tx.execute(&sql, &[&id.0, value])? == 0 {
            return Err(missing(format!("account {}", id.0)));
        }
        Ok(())
    })
}

pub(super) fn set_password_hash(
    store: &PgStore,
    id: AccountId,
    password_hash: &str,
) -> StoreResult<()> {
    update(store, id, Column::PasswordHash, &password_hash)
}

pub(super) fn set_disabled(store: &PgStore, id: AccountId, disabled: bool) -> StoreResult<()> {
    update(store, id, Column::Disabled, &disabled)
}

pub(super) fn set_admin(store: &PgStore, id: AccountId, admin: bool) -> StoreResult<()> {
    update(store, id, Column::Admin, &admin)
}

pub(super) fn set_quota(store: &PgStore, id: AccountId, quota_bytes: u64) -> StoreResult<()> {
    let quota = i64::try_from(quota_bytes).unwrap_or(i64::MAX);
    update(store, id, Column::Quota, &quota)
}

/// Removes an account, its mailboxes, messages and calendars, and the
/// aliases left with no target. Its messages' blobs become candidates for
/// deletion (collected after the commit if nothing else uses them, a
/// queue item included).
pub(super) fn remove_account(store: &PgStore, id: AccountId) -> StoreResult<()> {
    store.write(|tx, fx| {
        // The account's row first: the lock order of every write
        // (account, then mailbox, then messages).
        let locked = tx.query_opt("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", &[&id.0])?;
        if locked.is_none() {
            return Err(missing(format!("account {}", id.0)));
        }
        free_blobs(tx, id, fx)?;
        let boxes = tx.query("SELECT id FROM mailboxes WHERE account = $1", &[&id.0])?;
        for row in boxes {
            fx.changes.push(Change::MailboxDeleted {
                mailbox: crate::model::MailboxId(row.get(0)),
            });
        }
        tx.execute(
            "DELETE FROM aliases WHERE id IN (SELECT alias FROM alias_targets WHERE account = $1)
             AND NOT EXISTS (SELECT 1 FROM alias_targets t
                             WHERE t.alias = aliases.id AND t.account <> $1)",
            &[&id.0],
        )?;
        // The foreign keys cascade to mailboxes, messages, keywords,
        // calendars, subscriptions and the remaining alias targets.
        tx.execute("DELETE FROM accounts WHERE id = $1", &[&id.0])?;
        Ok(())
    })
}

/// Pushes the distinct blobs of the account's messages to `fx.freed`.
fn free_blobs(tx: &mut Tx<'_>, id: AccountId, fx: &mut Effects) -> StoreResult<()> {
    let rows = tx.query(
        "SELECT DISTINCT m.blob FROM messages m JOIN mailboxes b ON b.id = m.mailbox
         WHERE b.account = $1",
        &[&id.0],
    )?;
    fx.freed.extend(rows.iter().map(|r| BlobId(r.get(0))));
    Ok(())
}

// --- aliases ---

/// Adds an alias (`@domain` is the catch-all). Its targets must be
/// existing accounts; duplicates are kept once, in first-seen order.
pub(super) fn add_alias(store: &PgStore, address: &str, targets: &[String]) -> StoreResult<()> {
    let addr = names::alias_address(address)?;
    store.write(|tx, _| {
        require_served(tx, &addr.domain)?;
        if targets.is_empty() {
            return Err(StoreError::Invalid {
                what: format!("alias {}", addr.full),
                why: "it needs at least one target".into(),
            });
        }
        if alias_id(tx, &addr.full)?.is_some() || by_address(tx, &addr.full)?.is_some() {
            return Err(taken(&addr.full));
        }
        let ids = target_ids(tx, targets)?;
        let row = tx
            .query_opt(
                "INSERT INTO aliases (address, domain) VALUES ($1, $2)
                 ON CONFLICT (address) DO NOTHING RETURNING id",
                &[&addr.full, &addr.domain],
            )
            .map_err(|e| domain_error(e, &addr.domain))?;
        let alias: i64 = row.ok_or_else(|| taken(&addr.full))?.get(0);
        for (position, id) in ids.iter().enumerate() {
            let position = i32::try_from(position).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO alias_targets (alias, account, position) VALUES ($1, $2, $3)",
                &[&alias, &id.0, &position],
            )?;
        }
        Ok(())
    })
}

/// The accounts named by `targets`, each once, in order; each row locked
/// (shared) so that no node removes one before this commit.
fn target_ids(tx: &mut Tx<'_>, targets: &[String]) -> StoreResult<Vec<AccountId>> {
    let mut ids = Vec::new();
    for target in targets {
        let addr = names::address(target)?;
        let row = tx.query_opt(
            "SELECT id FROM accounts WHERE address = $1 FOR SHARE",
            &[&addr.full],
        )?;
        let id = AccountId(
            row.ok_or_else(|| missing(format!("account {}", addr.full)))?
                .get(0),
        );
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

fn alias_id(tx: &mut Tx<'_>, address: &str) -> StoreResult<Option<i64>> {
    let row = tx.query_opt("SELECT id FROM aliases WHERE address = $1", &[&address])?;
    Ok(row.map(|r| r.get(0)))
}

/// Every alias, sorted by address, targets in the order given.
pub(super) fn aliases(store: &PgStore) -> StoreResult<Vec<Alias>> {
    let rows = store.read(|tx| {
        Ok(tx.query(
            "SELECT a.id, a.address, c.address FROM aliases a
             JOIN alias_targets t ON t.alias = a.id JOIN accounts c ON c.id = t.account
             ORDER BY a.address COLLATE \"C\", t.position",
            &[],
        )?)
    })?;
    let mut out: Vec<Alias> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for row in rows {
        let i = *index.entry(row.get(0)).or_insert_with(|| {
            out.push(Alias {
                address: row.get(1),
                targets: Vec::new(),
            });
            out.len() - 1
        });
        out[i].targets.push(row.get(2));
    }
    Ok(out)
}

pub(super) fn remove_alias(store: &PgStore, address: &str) -> StoreResult<()> {
    let addr = names::alias_address(address)?;
    store.write(|tx, _| {
        if tx.execute("DELETE FROM aliases WHERE address = $1", &[&addr.full])? == 0 {
            return Err(missing(format!("alias {}", addr.full)));
        }
        Ok(())
    })
}

/// Where mail for `address` goes. The first match decides, even when it
/// yields nobody: mail for a disabled account does not fall through to
/// the catch-all (its owner did not lose the address by being disabled).
pub(super) fn resolve_recipient(store: &PgStore, address: &str) -> StoreResult<Vec<AccountId>> {
    let addr = names::address(address)?;
    store.read(|tx| {
        if let Some(account) = by_address(tx, &addr.full)? {
            return Ok(if account.disabled {
                Vec::new()
            } else {
                vec![account.id]
            });
        }
        for candidate in [addr.full.clone(), format!("@{}", addr.domain)] {
            if let Some(alias) = alias_id(tx, &candidate)? {
                return enabled_targets(tx, alias);
            }
        }
        Ok(Vec::new())
    })
}

fn enabled_targets(tx: &mut Tx<'_>, alias: i64) -> StoreResult<Vec<AccountId>> {
    let rows = tx.query(
        "SELECT t.account FROM alias_targets t JOIN accounts c ON c.id = t.account
         WHERE t.alias = $1 AND NOT c.disabled ORDER BY t.position",
        &[&alias],
    )?;
    Ok(rows.iter().map(|r| AccountId(r.get(0))).collect())
}

// --- subscriptions: names per account, which need not be mailboxes (a
// client may subscribe to a name before it exists, and a deleted
// mailbox's subscription stays until unsubscribed) ---

fn require_account(tx: &mut Tx<'_>, account: AccountId) -> StoreResult<()> {
    match by_id(tx, account)? {
        Some(_) => Ok(()),
        None => Err(missing(format!("account {}", account.0))),
    }
}

/// Adds `name` (normalised) to the account's subscriptions; a name
/// already there stays as it is.
fn subscribe(tx: &mut Tx<'_>, account: AccountId, name: &str) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO subscriptions (account, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&account.0, &name],
    )
    .map_err(|e| {
        // The account went on another node since it was checked.
        if is_foreign_key_violation(&e) {
            return missing(format!("account {}", account.0));
        }
        e.into()
    })?;
    Ok(())
}

pub(super) fn subscribe_mailbox(
    store: &PgStore,
    account: AccountId,
    name: &str,
) -> StoreResult<()> {
    let name = names::mailbox_name(name)?;
    store.write(|tx, _| {
        require_account(tx, account)?;
        subscribe(tx, account, &name)
    })
}

pub(super) fn unsubscribe_mailbox(
    store: &PgStore,
    account: AccountId,
    name: &str,
) -> StoreResult<()> {
    let name = names::mailbox_name(name)?;
    store.write(|tx, _| {
        require_account(tx, account)?;
        tx.execute(
            "DELETE FROM subscriptions WHERE account = $1 AND name = $2",
            &[&account.0, &name],
        )?;
        Ok(())
    })
}

/// The account's subscribed names, sorted bytewise.
pub(super) fn subscriptions(store: &PgStore, account: AccountId) -> StoreResult<Vec<String>> {
    store.read(|tx| {
        require_account(tx, account)?;
        let rows = tx.query(
            "SELECT name FROM subscriptions WHERE account = $1 ORDER BY name COLLATE \"C\"",
            &[&account.0],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    })
}
