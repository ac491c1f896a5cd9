//! IMAP subscriptions (RFC 9051 §6.3.7): names per account, which need not
//! be mailboxes (a client may subscribe to a name before it exists, and a
//! deleted mailbox's subscription stays until unsubscribed).
//!
//! # Layout
//! - [`subscribe`], [`unsubscribe`], [`list`].

use rusqlite::{params, Connection};

use super::{accounts, missing};
use crate::error::StoreResult;
use crate::model::AccountId;

fn require_account(conn: &Connection, account: AccountId) -> StoreResult<()> {
    match accounts::by_id(conn, account)? {
        Some(_) => Ok(()),
        None => Err(missing(format!("account {}", account.0))),
    }
}

/// Adds `name` (already normalised) to the account's subscriptions; a
/// name already there stays as it is.
pub(super) fn subscribe(conn: &Connection, account: AccountId, name: &str) -> StoreResult<()> {
    require_account(conn, account)?;
    conn.prepare_cached("INSERT OR IGNORE INTO subscriptions (account, name) VALUES (?1, ?2)")?
        .execute(params![account.0, name])?;
    Ok(())
}

/// Removes `name` (already normalised) from the account's subscriptions,
/// if it is there.
pub(super) fn unsubscribe(conn: &Connection, account: AccountId, name: &str) -> StoreResult<()> {
    require_account(conn, account)?;
    conn.prepare_cached("DELETE FROM subscriptions WHERE account = ?1 AND name = ?2")?
        .execute(params![account.0, name])?;
    Ok(())
}

/// The account's subscribed names, sorted bytewise.
pub(super) fn list(conn: &Connection, account: AccountId) -> StoreResult<Vec<String>> {
    require_account(conn, account)?;
    let mut stmt =
        conn.prepare_cached("SELECT name FROM subscriptions WHERE account = ?1 ORDER BY name")?;
    let rows = stmt.query_map([account.0], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
