//! Aliases, catch-alls, and where a recipient's mail goes.
//!
//! # Layout
//! - [`add`], [`list`], [`remove`], [`exists`].
//! - [`resolve`]: account, then alias, then catch-all.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::{accounts, missing};
use crate::error::{StoreError, StoreResult};
use crate::model::{AccountId, Alias};
use crate::names;

/// Adds an alias (`@domain` is the catch-all). Its targets must be existing
/// accounts; duplicates are kept once, in first-seen order.
pub(super) fn add(conn: &Connection, address: &str, targets: &[String]) -> StoreResult<()> {
    let addr = names::alias_address(address)?;
    accounts::require_served(conn, &addr.domain)?;
    if targets.is_empty() {
        return Err(StoreError::Invalid {
            what: format!("alias {}", addr.full),
            why: "it needs at least one target".into(),
        });
    }
    if exists(conn, &addr.full)? || accounts::by_address(conn, &addr.full)?.is_some() {
        return Err(StoreError::AlreadyExists {
            what: format!("address {}", addr.full),
        });
    }
    let ids = target_ids(conn, targets)?;
    conn.execute(
        "INSERT INTO aliases (address, domain) VALUES (?1, ?2)",
        params![addr.full, addr.domain],
    )?;
    let alias = conn.last_insert_rowid();
    let mut insert = conn.prepare_cached(
        "INSERT INTO alias_targets (alias, account, position) VALUES (?1, ?2, ?3)",
    )?;
    for (position, id) in ids.iter().enumerate() {
        insert.execute(params![alias, id.0, position as i64])?;
    }
    Ok(())
}

/// The accounts named by `targets`, each once, in order.
fn target_ids(conn: &Connection, targets: &[String]) -> StoreResult<Vec<AccountId>> {
    let mut ids = Vec::new();
    for target in targets {
        let addr = names::address(target)?;
        let account = accounts::by_address(conn, &addr.full)?
            .ok_or_else(|| missing(format!("account {}", addr.full)))?;
        if !ids.contains(&account.id) {
            ids.push(account.id);
        }
    }
    Ok(ids)
}

/// Whether an alias with this normalised address exists.
pub(super) fn exists(conn: &Connection, address: &str) -> StoreResult<bool> {
    Ok(alias_id(conn, address)?.is_some())
}

fn alias_id(conn: &Connection, address: &str) -> StoreResult<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM aliases WHERE address = ?1")?
        .query_row([address], |r| r.get(0))
        .optional()?)
}

/// Every alias, sorted by address, targets in the order given.
pub(super) fn list(conn: &Connection) -> StoreResult<Vec<Alias>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.address, c.address FROM aliases a
         JOIN alias_targets t ON t.alias = a.id JOIN accounts c ON c.id = t.account
         ORDER BY a.address, t.position",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let mut out: Vec<Alias> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for row in rows {
        let (id, address, target): (i64, String, String) = row?;
        let i = *index.entry(id).or_insert_with(|| {
            out.push(Alias {
                address,
                targets: Vec::new(),
            });
            out.len() - 1
        });
        out[i].targets.push(target);
    }
    Ok(out)
}

pub(super) fn remove(conn: &Connection, address: &str) -> StoreResult<()> {
    let addr = names::alias_address(address)?;
    if conn.execute("DELETE FROM aliases WHERE address = ?1", [&addr.full])? == 0 {
        return Err(missing(format!("alias {}", addr.full)));
    }
    Ok(())
}

/// Where mail for `address` goes. The first match decides, even when it
/// yields nobody: mail for a disabled account does not fall through to
/// the catch-all (its owner did not lose the address by being disabled).
pub(super) fn resolve(conn: &Connection, address: &str) -> StoreResult<Vec<AccountId>> {
    let addr = names::address(address)?;
    if let Some(account) = accounts::by_address(conn, &addr.full)? {
        return Ok(if account.disabled {
            Vec::new()
        } else {
            vec![account.id]
        });
    }
    for candidate in [addr.full, format!("@{}", addr.domain)] {
        if let Some(alias) = alias_id(conn, &candidate)? {
            return enabled_targets(conn, alias);
        }
    }
    Ok(Vec::new())
}

fn enabled_targets(conn: &Connection, alias: i64) -> StoreResult<Vec<AccountId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.account FROM alias_targets t JOIN accounts c ON c.id = t.account
         WHERE t.alias = ?1 AND c.disabled = 0 ORDER BY t.position",
    )?;
    let rows = stmt.query_map([alias], |r| r.get(0).map(AccountId))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
