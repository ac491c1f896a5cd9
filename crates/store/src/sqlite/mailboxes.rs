//! Mailboxes: creation (with UIDVALIDITY), look-up, rename and delete.
//!
//! UIDVALIDITY (RFC 9051 §2.3.1.1) must differ whenever a mailbox name
//! stops designating the same UID sequence, in practice when a mailbox is
//! deleted and created again. Every mailbox gets a fresh value from a
//! store-wide counter in `meta`, which never goes below the current Unix
//! time: values never repeat within one database, and a database built
//! anew (restore, `rm mail.db`) starts above any value the old one handed
//! out before that moment.
//!
//! # Layout
//! - [`create`], [`by_id`], [`by_name`], [`list`], [`inbox`].
//! - [`delete`], [`rename`].
//! - row mapping and the special-use names on disk.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{missing, Effects};
use crate::error::{StoreError, StoreResult};
use crate::model::{AccountId, Change, Mailbox, MailboxId, ModSeq, SpecialUse, Uid};
use crate::names;

const COLUMNS: &str = "id, account, name, special_use, uid_validity, uid_next, highest_modseq";

/// Creates a mailbox; the name must be free in the account.
pub(super) fn create(
    conn: &Connection,
    account: AccountId,
    name: &str,
    special_use: Option<SpecialUse>,
    fx: &mut Effects,
) -> StoreResult<Mailbox> {
    let name = names::mailbox_name(name)?;
    if by_name(conn, account, &name)?.is_some() {
        return Err(StoreError::AlreadyExists {
            what: format!("mailbox {name:?}"),
        });
    }
    let uid_validity = next_uid_validity(conn)?;
    conn.prepare_cached(
        "INSERT INTO mailboxes (account, name, special_use, uid_validity, uid_next, highest_modseq)
         VALUES (?1, ?2, ?3, ?4, 1, 1)",
    )?
    .execute(params![
        account.0,
        name,
        special_use.map(SpecialUse::stored_name),
        uid_validity
    ])?;
    let id = MailboxId(conn.last_insert_rowid());
    fx.changes.push(Change::MailboxCreated { mailbox: id });
    by_id(conn, id)?.ok_or_else(|| missing(format!("mailbox {}", id.0)))
}

/// Hands out the next UIDVALIDITY: `max(counter, now)`, then counter + 1.
fn next_uid_validity(conn: &Connection) -> StoreResult<u32> {
    let stored: Option<i64> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'next_uid_validity'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    let value = stored.map_or(0, |v| v.max(0) as u64).max(now).max(1);
    let value = u32::try_from(value).map_err(|_| StoreError::Invalid {
        what: "UIDVALIDITY".into(),
        why: "the 32-bit space is used up".into(),
    })?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('next_uid_validity', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [i64::from(value) + 1],
    )?;
    Ok(value)
}

pub(super) fn by_id(conn: &Connection, id: MailboxId) -> StoreResult<Option<Mailbox>> {
    let sql = format!("SELECT {COLUMNS} FROM mailboxes WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.0], from_row)
        .optional()?)
}

/// The mailbox with exactly this (normalised) name.
pub(super) fn by_name(
    conn: &Connection,
    account: AccountId,
    name: &str,
) -> StoreResult<Option<Mailbox>> {
    let sql = format!("SELECT {COLUMNS} FROM mailboxes WHERE account = ?1 AND name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![account.0, name], from_row)
        .optional()?)
}

/// An account's mailboxes, sorted by name (bytewise).
pub(super) fn list(conn: &Connection, account: AccountId) -> StoreResult<Vec<Mailbox>> {
    let sql = format!("SELECT {COLUMNS} FROM mailboxes WHERE account = ?1 ORDER BY name");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([account.0], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The account's INBOX, where deliveries go.
pub(super) fn inbox(conn: &Connection, account: AccountId) -> StoreResult<MailboxId> {
    by_name(conn, account, "INBOX")?
        .map(|m| m.id)
        .ok_or_else(|| missing(format!("the INBOX of account {}", account.0)))
}

/// The account's Junk folder: the mailbox marked `\Junk` (RFC 6154 §2),
/// else the one named "Junk", else a new one by that name. The user may
/// have deleted or renamed it; quarantined mail must still land somewhere
/// their client shows as junk. An unknown account is `NotFound`.
pub(super) fn junk(
    conn: &Connection,
    account: AccountId,
    fx: &mut Effects,
) -> StoreResult<MailboxId> {
    let sql = format!(
        "SELECT {COLUMNS} FROM mailboxes WHERE account = ?1 AND special_use = ?2 ORDER BY id LIMIT 1"
    );
    let marked = conn
        .prepare_cached(&sql)?
        .query_row(params![account.0, SpecialUse::Junk.stored_name()], from_row)
        .optional()?;
    if let Some(m) = marked.or(by_name(conn, account, JUNK)?) {
        return Ok(m.id);
    }
    // The INBOX proves that the account exists (a ghost gets NotFound,
    // not a mailbox row pointing nowhere).
    inbox(conn, account)?;
    Ok(create(conn, account, JUNK, Some(SpecialUse::Junk), fx)?.id)
}

const JUNK: &str = "Junk";

/// Deletes a mailbox and its messages; the INBOX cannot be deleted
/// (RFC 9051 §6.3.5). Other mailboxes below it in the hierarchy stay.
pub(super) fn delete(conn: &Connection, id: MailboxId, fx: &mut Effects) -> StoreResult<()> {
    let mailbox = by_id(conn, id)?.ok_or_else(|| missing(format!("mailbox {}", id.0)))?;
    refuse_inbox(&mailbox, "deleted")?;
    // Messages first, while the mailbox row still exists: the quota
    // trigger finds the account through it.
    let mut stmt = conn.prepare_cached("DELETE FROM messages WHERE mailbox = ?1 RETURNING blob")?;
    let blobs = stmt.query_map([id.0], |r| r.get(0).map(crate::BlobId))?;
    for blob in blobs {
        fx.freed.push(blob?);
    }
    conn.execute("DELETE FROM mailboxes WHERE id = ?1", [id.0])?;
    fx.changes.push(Change::MailboxDeleted { mailbox: id });
    Ok(())
}

/// Renames a mailbox and the mailboxes below it (RFC 9051 §6.3.6).
/// UIDVALIDITY stays: the UIDs still mean the same messages.
pub(super) fn rename(conn: &Connection, id: MailboxId, new_name: &str) -> StoreResult<()> {
    let mailbox = by_id(conn, id)?.ok_or_else(|| missing(format!("mailbox {}", id.0)))?;
    refuse_inbox(&mailbox, "renamed")?;
    let new_name = names::mailbox_name(new_name)?;
    let old_prefix = format!("{}/", mailbox.name);
    if new_name.starts_with(&old_prefix) {
        return Err(StoreError::Invalid {
            what: format!("mailbox name {new_name:?}"),
            why: "a mailbox cannot move below itself".into(),
        });
    }
    let mut moves = vec![(mailbox.id, new_name.clone())];
    for child in list(conn, mailbox.account)? {
        if let Some(rest) = child.name.strip_prefix(&old_prefix) {
            moves.push((child.id, format!("{new_name}/{rest}")));
        }
    }
    for (_, name) in &moves {
        if by_name(conn, mailbox.account, name)?.is_some() {
            return Err(StoreError::AlreadyExists {
                what: format!("mailbox {name:?}"),
            });
        }
    }
    let mut update = conn.prepare_cached("UPDATE mailboxes SET name = ?2 WHERE id = ?1")?;
    for (id, name) in moves {
        update.execute(params![id.0, name])?;
    }
    Ok(())
}

fn refuse_inbox(mailbox: &Mailbox, verb: &str) -> StoreResult<()> {
    if mailbox.name == "INBOX" {
        return Err(StoreError::Invalid {
            what: "INBOX".into(),
            why: format!("the INBOX cannot be {verb}"),
        });
    }
    Ok(())
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Mailbox> {
    let special: Option<String> = r.get(3)?;
    Ok(Mailbox {
        id: MailboxId(r.get(0)?),
        account: AccountId(r.get(1)?),
        name: r.get(2)?,
        special_use: special.as_deref().and_then(SpecialUse::from_stored_name),
        uid_validity: r.get(4)?,
        uid_next: Uid(r.get(5)?),
        highest_modseq: ModSeq(r.get::<_, i64>(6)? as u64),
    })
}
