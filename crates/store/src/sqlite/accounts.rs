//! Domains and accounts.
//!
//! Addresses and domains are validated and lowercased by [`crate::names`]
//! before they reach a statement; the tables hold only normalised forms, so
//! plain `=` comparisons are case-insensitive in effect.
//!
//! # Layout
//! - domains: [`add_domain`], [`domains`], [`remove_domain`].
//! - accounts: [`add_account`], [`by_address`], [`by_id`], [`list`],
//!   [`update`], [`remove_account`].

use rusqlite::{params, Connection, OptionalExtension, Row, ToSql};

use super::{mailboxes, missing, Effects};
use crate::error::{StoreError, StoreResult};
use crate::model::{Account, AccountId, BlobId, Change, SpecialUse};
use crate::names;

pub(super) fn add_domain(conn: &Connection, domain: &str) -> StoreResult<()> {
    let domain = names::domain(domain)?;
    let added = conn.execute(
        "INSERT INTO domains (name) VALUES (?1) ON CONFLICT DO NOTHING",
        [&domain],
    )?;
    if added == 0 {
        return Err(StoreError::AlreadyExists {
            what: format!("domain {domain}"),
        });
    }
    Ok(())
}

pub(super) fn domains(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM domains ORDER BY name")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether `domain` (normalised) is served here.
pub(super) fn is_served(conn: &Connection, domain: &str) -> StoreResult<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM domains WHERE name = ?1")?;
    Ok(stmt.exists([domain])?)
}

/// Fails with `UnknownDomain` unless `domain` is served here.
pub(super) fn require_served(conn: &Connection, domain: &str) -> StoreResult<()> {
    if !is_served(conn, domain)? {
        return Err(StoreError::UnknownDomain {
            domain: domain.to_owned(),
        });
    }
    Ok(())
}

pub(super) fn remove_domain(conn: &Connection, domain: &str) -> StoreResult<()> {
    let domain = names::domain(domain)?;
    if !is_served(conn, &domain)? {
        return Err(missing(format!("domain {domain}")));
    }
    let count = |table: &str| -> StoreResult<i64> {
        let sql = format!("SELECT count(*) FROM {table} WHERE domain = ?1");
        Ok(conn.query_row(&sql, [&domain], |r| r.get(0))?)
    };
    let (accounts, aliases) = (count("accounts")?, count("aliases")?);
    if accounts + aliases > 0 {
        return Err(StoreError::InUse {
            what: format!("domain {domain}"),
            why: format!("{accounts} account(s) and {aliases} alias(es) use it"),
        });
    }
    conn.execute("DELETE FROM domains WHERE name = ?1", [&domain])?;
    Ok(())
}

/// Adds an account with the default mailboxes. Refused when the address
/// is taken by an account or an alias (an alias would silently lose to
/// the account in [`super::aliases::resolve`]).
pub(super) fn add_account(
    conn: &Connection,
    address: &str,
    password_hash: &str,
    fx: &mut Effects,
) -> StoreResult<Account> {
    let addr = names::address(address)?;
    require_served(conn, &addr.domain)?;
    if by_address(conn, &addr.full)?.is_some() || super::aliases::exists(conn, &addr.full)? {
        return Err(StoreError::AlreadyExists {
            what: format!("address {}", addr.full),
        });
    }
    conn.execute(
        "INSERT INTO accounts (address, domain, password_hash) VALUES (?1, ?2, ?3)",
        params![addr.full, addr.domain, password_hash],
    )?;
    let id = AccountId(conn.last_insert_rowid());
    for (special, name) in SpecialUse::DEFAULTS {
        mailboxes::create(conn, id, name, Some(special), fx)?;
        super::subscriptions::subscribe(conn, id, name)?;
    }
    by_id(conn, id)?.ok_or_else(|| missing(format!("account {}", id.0)))
}

const COLUMNS: &str = "id, address, password_hash, quota_bytes, disabled, admin";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: AccountId(r.get(0)?),
        address: r.get(1)?,
        password_hash: r.get(2)?,
        quota_bytes: r.get::<_, i64>(3)?.max(0) as u64,
        disabled: r.get(4)?,
        admin: r.get(5)?,
    })
}

/// The account with this normalised address.
pub(super) fn by_address(conn: &Connection, address: &str) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE address = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([address], from_row)
        .optional()?)
}

pub(super) fn by_id(conn: &Connection, id: AccountId) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.0], from_row)
        .optional()?)
}

pub(super) fn list(conn: &Connection) -> StoreResult<Vec<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts ORDER BY address");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The account columns callers may change.
#[derive(Debug, Clone, Copy)]
pub(super) enum Column {
    PasswordHash,
    Disabled,
    Quota,
    Admin,
}

/// Sets one column of an account.
pub(super) fn update(
    conn: &Connection,
    id: AccountId,
    column: Column,
    value: &dyn ToSql,
) -> StoreResult<()> {
    let name = match column {
        Column::PasswordHash => "password_hash",
        Column::Disabled => "disabled",
        Column::Quota => "quota_bytes",
        Column::Admin => "admin",
    };
    let sql = format!("UPDATE accounts SET {name} = ?2 WHERE id = ?1");
    if conn.execute(&sql, params![id.0, value])? == 0 {
        return Err(missing(format!("account {}", id.0)));
    }
    Ok(())
}

/// Removes an account, its mailboxes and messages, and the aliases left
/// with no target. Its blobs become candidates for deletion.
pub(super) fn remove_account(
    conn: &Connection,
    id: AccountId,
    fx: &mut Effects,
) -> StoreResult<()> {
    if by_id(conn, id)?.is_none() {
        return Err(missing(format!("account {}", id.0)));
    }
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT m.blob FROM messages m JOIN mailboxes b ON b.id = m.mailbox
         WHERE b.account = ?1",
    )?;
    for blob in stmt.query_map([id.0], |r| r.get(0).map(BlobId))? {
        fx.freed.push(blob?);
    }
    for mailbox in mailboxes::list(conn, id)? {
        fx.changes.push(Change::MailboxDeleted {
            mailbox: mailbox.id,
        });
    }
    conn.execute(
        "DELETE FROM aliases WHERE id IN (SELECT alias FROM alias_targets WHERE account = ?1)
         AND NOT EXISTS (SELECT 1 FROM alias_targets t
                         WHERE t.alias = aliases.id AND t.account != ?1)",
        [id.0],
    )?;
    // The foreign keys cascade to mailboxes, messages, keywords and the
    // account's remaining alias targets.
    conn.execute("DELETE FROM accounts WHERE id = ?1", [id.0])?;
    Ok(())
}
