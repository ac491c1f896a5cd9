//! PostgreSQL: mailboxes: creation (with UIDVALIDITY), look-up, rename
//! and delete, and the INBOX and Junk folders message acceptance needs.
//!
//! UIDVALIDITY (RFC 9051 §2.3.1.1) must differ whenever a mailbox name
//! stops designating the same UID sequence, in practice when a mailbox is
//! deleted and created again. Every mailbox takes the next value of the
//! database's `uid_validity_seq`: a sequence never hands out a value
//! twice, whichever node asks and however many ask at once, without
//! anyone waiting for a lock.
//!
//! Writes take row locks in the order every write of this back end uses
//! (account, then mailbox, then messages), so that deleting a mailbox
//! while another node delivers into it waits rather than deadlocks.
//!
//! # Layout
//! - reads: [`mailboxes`], [`mailbox`], [`mailbox_by_id`].
//! - [`create_mailbox`], [`create_in`]; [`inbox`], [`junk`].
//! - [`delete_mailbox`], [`rename_mailbox`].
//! - row mapping (special uses by `SpecialUse::stored_name`, as SQLite stores them).

use postgres::Row;

use super::Tx;

use super::accounts::{self, missing};
use super::{is_foreign_key_violation, is_unique_violation, Effects, PgStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{AccountId, BlobId, Change, Mailbox, MailboxId, ModSeq, SpecialUse, Uid};
use crate::names;

const COLUMNS: &str = "id, account, name, special_use, uid_validity, uid_next, highest_modseq";

/// An account's mailboxes, sorted by name (bytewise, as SQLite does);
/// `NotFound` for an unknown account.
pub(super) fn mailboxes(store: &PgStore, account: AccountId) -> StoreResult<Vec<Mailbox>> {
    store.read(|tx| {
        let list = list(tx, account)?;
        if list.is_empty() && accounts::by_id(tx, account)?.is_none() {
            return Err(missing(format!("account {}", account.0)));
        }
        Ok(list)
    })
}

fn list(tx: &mut Tx<'_>, account: AccountId) -> StoreResult<Vec<Mailbox>> {
    let sql =
        format!("SELECT {COLUMNS} FROM mailboxes WHERE account = $1 ORDER BY name COLLATE \"C\"");
    tx.query(&sql, &[&account.0])?
        .iter()
        .map(from_row)
        .collect()
}

/// One mailbox by name; a name that cannot be a mailbox's is none.
pub(super) fn mailbox(
    store: &PgStore,
    account: AccountId,
    name: &str,
) -> StoreResult<Option<Mailbox>> {
    let Ok(name) = names::mailbox_name(name) else {
        return Ok(None);
    };
    store.read(|tx| by_name(tx, account, &name))
}

pub(super) fn mailbox_by_id(store: &PgStore, id: MailboxId) -> StoreResult<Option<Mailbox>> {
    store.read(|tx| by_id(tx, id))
}

fn by_id(tx: &mut Tx<'_>, id: MailboxId) -> StoreResult<Option<Mailbox>> {
    let sql = format!("SELECT {COLUMNS} FROM mailboxes WHERE id = $1");
    tx.query_opt(&sql, &[&id.0])?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The mailbox with exactly this (normalised) name.
fn by_name(tx: &mut Tx<'_>, account: AccountId, name: &str) -> StoreResult<Option<Mailbox>> {
    let sql = format!("SELECT {COLUMNS} FROM mailboxes WHERE account = $1 AND name = $2");
    tx.query_opt(&sql, &[&account.0, &name])?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub(super) fn create_mailbox(
    store: &PgStore,
    account: AccountId,
    name: &str,
    special_use: Option<SpecialUse>,
) -> StoreResult<Mailbox> {
    if special_use == Some(SpecialUse::Inbox) {
        return Err(StoreError::Invalid {
            what: format!("mailbox {name:?}"),
            why: "an account has one INBOX, made with the account".into(),
        });
    }
    store.write(|tx, fx| {
        if accounts::by_id(tx, account)?.is_none() {
            return Err(missing(format!("account {}", account.0)));
        }
        create_in(tx, account, name, special_use, fx)
    })
}

/// Inside a write transaction: creates a mailbox of an existing account;
/// the name must be free in the account.
pub(super) fn create_in(
    tx: &mut Tx<'_>,
    account: AccountId,
    name: &str,
    special_use: Option<SpecialUse>,
    fx: &mut Effects,
) -> StoreResult<Mailbox> {
    let name = names::mailbox_name(name)?;
    // ON CONFLICT: a name taken by a concurrent node's commit is the same
    // `AlreadyExists` as one taken before, without aborting the
    // transaction on the unique constraint.
    let row = tx
        .query_opt(
            "INSERT INTO mailboxes (account, name, special_use, uid_validity, uid_next,
                                    highest_modseq)
             VALUES ($1, $2, $3, nextval('uid_validity_seq'), 1, 1)
             ON CONFLICT (account, name) DO NOTHING
             RETURNING id, uid_validity",
            &[&account.0, &name, &special_use.map(SpecialUse::stored_name)],
        )
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                return missing(format!("account {}", account.0));
            }
            e.into()
        })?;
    let Some(row) = row else {
        return Err(StoreError::AlreadyExists {
            what: format!("mailbox {name:?}"),
        });
    };
    check_uid_validity(row.get(1))?;
    let id = MailboxId(row.get(0));
    fx.changes.push(Change::MailboxCreated { mailbox: id });
    by_id(tx, id)?.ok_or_else(|| missing(format!("mailbox {}", id.0)))
}

/// Refuses a UIDVALIDITY beyond 32 bits (RFC 9051 §2.3.1.1: nz-number).
fn check_uid_validity(value: i64) -> StoreResult<()> {
    if u32::try_from(value).is_err() {
        return Err(StoreError::Invalid {
            what: "UIDVALIDITY".into(),
            why: "the 32-bit space is used up (uid_validity_seq); set the sequence back with \
                  setval only if no client has seen the values in between"
                .into(),
        });
    }
    Ok(())
}

/// Inside a write transaction: the account's INBOX, where deliveries go.
pub(super) fn inbox(tx: &mut Tx<'_>, account: AccountId) -> StoreResult<MailboxId> {
    by_name(tx, account, "INBOX")?
        .map(|m| m.id)
        .ok_or_else(|| missing(format!("the INBOX of account {}", account.0)))
}

const JUNK: &str = "Junk";

/// Inside a write transaction: the account's Junk folder: the mailbox
/// marked `\Junk` (RFC 6154 §2), else the one named "Junk", else a new one
/// by that name (its change recorded). The user may have deleted or
/// renamed it; quarantined mail must still land somewhere their client
/// shows as junk. An unknown account is `NotFound`.
pub(super) fn junk(
    tx: &mut Tx<'_>,
    account: AccountId,
    fx: &mut Effects,
) -> StoreResult<MailboxId> {
    let sql = format!(
        "SELECT {COLUMNS} FROM mailboxes WHERE account = $1 AND special_use = $2
         ORDER BY id LIMIT 1"
    );
    let marked = tx
        .query_opt(&sql, &[&account.0, &SpecialUse::Junk.stored_name()])?
        .as_ref()
        .map(from_row)
        .transpose()?;
    let found = match marked {
        Some(m) => Some(m),
        None => by_name(tx, account, JUNK)?,
    };
    if let Some(m) = found {
        return Ok(m.id);
    }
    // The INBOX proves that the account exists (a ghost gets NotFound,
    // not a mailbox row pointing nowhere).
    inbox(tx, account)?;
    Ok(create_in(tx, account, JUNK, Some(SpecialUse::Junk), fx)?.id)
}

/// Deletes a mailbox and its messages (their blobs go to `fx.freed`); the
/// INBOX cannot be deleted (RFC 9051 §6.3.5). Mailboxes below it in the
/// hierarchy stay.
pub(super) fn delete_mailbox(store: &PgStore, id: MailboxId) -> StoreResult<()> {
    store.write(|tx, fx| {
        let mailbox = lock(tx, id)?;
        refuse_inbox(&mailbox, "deleted")?;
        // Messages first, while the mailbox row still exists: the quota
        // trigger finds the account through it.
        let rows = tx.query(
            "DELETE FROM messages WHERE mailbox = $1 RETURNING blob",
            &[&id.0],
        )?;
        let mut blobs: Vec<BlobId> = rows.iter().map(|r| BlobId(r.get(0))).collect();
        blobs.sort_unstable();
        blobs.dedup();
        fx.freed.extend(blobs);
        tx.execute("DELETE FROM mailboxes WHERE id = $1", &[&id.0])?;
        fx.changes.push(Change::MailboxDeleted { mailbox: id });
        Ok(())
    })
}

/// Locks the mailbox's account, then the mailbox (the order every write
/// takes); the mailbox as it is under the lock.
fn lock(tx: &mut Tx<'_>, id: MailboxId) -> StoreResult<Mailbox> {
    let gone = || missing(format!("mailbox {}", id.0));
    let account: i64 = tx
        .query_opt("SELECT account FROM mailboxes WHERE id = $1", &[&id.0])?
        .ok_or_else(gone)?
        .get(0);
    // NO KEY UPDATE: what the quota trigger takes when messages change.
    tx.execute(
        "SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE",
        &[&account],
    )?;
    let sql = format!("SELECT {COLUMNS} FROM mailboxes WHERE id = $1 FOR UPDATE");
    let row = tx.query_opt(&sql, &[&id.0])?.ok_or_else(gone)?;
    from_row(&row)
}

/// Renames a mailbox and the mailboxes below it (RFC 9051 §6.3.6).
/// UIDVALIDITY stays: the UIDs still mean the same messages.
pub(super) fn rename_mailbox(store: &PgStore, id: MailboxId, new_name: &str) -> StoreResult<()> {
    store.write(|tx, _| {
        let mailbox = lock(tx, id)?;
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
        for child in list(tx, mailbox.account)? {
            if let Some(rest) = child.name.strip_prefix(&old_prefix) {
                moves.push((child.id, format!("{new_name}/{rest}")));
            }
        }
        for (_, name) in &moves {
            if by_name(tx, mailbox.account, name)?.is_some() {
                return Err(name_taken(name));
            }
        }
        for (id, name) in &moves {
            tx.execute(
                "UPDATE mailboxes SET name = $2 WHERE id = $1",
                &[&id.0, name],
            )
            .map_err(|e| {
                // Taken by a concurrent node's commit since the check.
                if is_unique_violation(&e) {
                    return name_taken(name);
                }
                e.into()
            })?;
        }
        Ok(())
    })
}

fn name_taken(name: &str) -> StoreError {
    StoreError::AlreadyExists {
        what: format!("mailbox {name:?}"),
    }
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

fn from_row(r: &Row) -> StoreResult<Mailbox> {
    let special: Option<String> = r.get(3);
    let id = MailboxId(r.get(0));
    let damaged = |what: &str| {
        StoreError::Database(format!(
            "mailbox {}: its {what} is out of range; the mailboxes table was changed by hand \
             or is damaged",
            id.0
        ))
    };
    Ok(Mailbox {
        id,
        account: AccountId(r.get(1)),
        name: r.get(2),
        special_use: special.as_deref().and_then(SpecialUse::from_stored_name),
        uid_validity: u32::try_from(r.get::<_, i64>(4)).map_err(|_| damaged("UIDVALIDITY"))?,
        uid_next: Uid(u32::try_from(r.get::<_, i64>(5)).map_err(|_| damaged("UIDNEXT"))?),
        highest_modseq: ModSeq(
            u64::try_from(r.get::<_, i64>(6)).map_err(|_| damaged("HIGHESTMODSEQ"))?,
        ),
    })
}
