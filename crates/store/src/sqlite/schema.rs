//! The database schema and its versioned migrations.
//!
//! The version lives in `PRAGMA user_version` (a field of the database
//! header, so it changes in the same transaction as the tables:
//! <https://www.sqlite.org/pragma.html#pragma_user_version>). Migration `i`
//! of [`MIGRATIONS`] takes the schema from version `i` to `i + 1`; each runs
//! in its own `BEGIN IMMEDIATE` transaction, and the version is re-read
//! inside it, so two processes opening a new store at once migrate it once.
//! A database newer than this code is refused rather than guessed at.
//!
//! # Layout
//! - [`MIGRATIONS`]: the SQL, oldest first. Append; never edit a shipped one.
//! - [`migrate`]: run at open.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{StoreError, StoreResult};

/// `PRAGMA application_id` of a Postern store ("PSTN"), so that `file(1)`
/// and Postern itself can tell a mail store from any other SQLite file.
pub(super) const APPLICATION_ID: i32 = 0x5053_544E;

/// Version 1: the whole mail model.
///
/// - `meta`: store-wide counters (`next_uid_validity`).
/// - `domains`; `accounts` and `aliases` name their domain, so that a
///   domain in use cannot be removed (the foreign key says no as well).
/// - `alias_targets`: an alias's accounts, in the order given.
/// - `mailboxes`: per account; `uid_next` and `highest_modseq` only grow.
/// - `messages`: one row per message in a mailbox; `flags` is a bit set of
///   the system flags (see `flags.rs`), `blob` the content address.
/// - `keywords`: a message's keywords, kept byte for byte.
/// - triggers keep `accounts.used_bytes` equal to the sum of the sizes of
///   the account's messages, whichever statement adds or removes them.
const V1: &str = r"
PRAGMA application_id = 1347638350;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE domains (
    name TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,
    domain        TEXT NOT NULL REFERENCES domains(name),
    password_hash TEXT NOT NULL,
    quota_bytes   INTEGER NOT NULL DEFAULT 0,
    used_bytes    INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX accounts_domain ON accounts(domain);

CREATE TABLE aliases (
    id      INTEGER PRIMARY KEY,
    address TEXT NOT NULL UNIQUE,
    domain  TEXT NOT NULL REFERENCES domains(name)
);
CREATE INDEX aliases_domain ON aliases(domain);

CREATE TABLE alias_targets (
    alias    INTEGER NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
    account  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (alias, account)
) WITHOUT ROWID;
CREATE INDEX alias_targets_account ON alias_targets(account);

CREATE TABLE mailboxes (
    id             INTEGER PRIMARY KEY,
    account        INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    special_use    TEXT,
    uid_validity   INTEGER NOT NULL,
    uid_next       INTEGER NOT NULL,
    highest_modseq INTEGER NOT NULL,
    UNIQUE (account, name)
);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    mailbox       INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    modseq        INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    blob          TEXT NOT NULL,
    flags         INTEGER NOT NULL,
    UNIQUE (mailbox, uid)
);
CREATE INDEX messages_blob ON messages(blob);

CREATE TABLE keywords (
    message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    keyword TEXT NOT NULL,
    PRIMARY KEY (message, keyword)
) WITHOUT ROWID;

CREATE TRIGGER messages_used_add AFTER INSERT ON messages BEGIN
    UPDATE accounts SET used_bytes = used_bytes + NEW.size
    WHERE id = (SELECT account FROM mailboxes WHERE id = NEW.mailbox);
END;
CREATE TRIGGER messages_used_sub AFTER DELETE ON messages BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size
    WHERE id = (SELECT account FROM mailboxes WHERE id = OLD.mailbox);
END;
";

/// Version 2: the outbound queue.
///
/// - `queue`: one row per accepted message with remote recipients; the
///   envelope (RFC 5321 §3.3 with the RFC 3461 / 6531 / 6152 / 8689
///   parameters; `ret` 1 = FULL, 2 = HDRS) and its blob, which counts as a
///   reference for the blob collector like a message row does.
///   `next_attempt` is the smallest `next_attempt` of its pending
///   recipients, NULL when none is left (finished), kept by the statements
///   in `queue.rs` so that "what is due" is one index range.
/// - `queue_recipients`: in the order given; `state` 0 pending,
///   1 delivered, 2 failed; `notify` the bits of `Notify::bits`.
const V2: &str = r"
CREATE TABLE queue (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    blob         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    created      INTEGER NOT NULL,
    mail_from    TEXT NOT NULL,
    envid        TEXT,
    ret          INTEGER,
    requiretls   INTEGER NOT NULL,
    smtputf8     INTEGER NOT NULL,
    eight_bit    INTEGER NOT NULL,
    next_attempt INTEGER
);
CREATE INDEX queue_due ON queue(next_attempt, id);
CREATE INDEX queue_blob ON queue(blob);

CREATE TABLE queue_recipients (
    queue        INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    address      TEXT NOT NULL,
    notify       INTEGER NOT NULL,
    orcpt        TEXT,
    state        INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    last_error   TEXT,
    detail       TEXT,
    PRIMARY KEY (queue, position)
) WITHOUT ROWID;
";

/// Version 3: small message bytes inside the database.
///
/// A blob up to `INLINE_MAX` bytes is a row here instead of a file, written
/// in the transaction that references it: the WAL fsync that commits the
/// rows makes the bytes durable too, where a file costs an fsync of its
/// own and one of its directory, each a journal commit of the file system
/// (<https://www.sqlite.org/fasterthanfs.html> measures small blobs read
/// faster from SQLite than from files as well). A rowid table: rows of
/// kilobytes do not suit WITHOUT ROWID
/// (<https://www.sqlite.org/withoutrowid.html#when_to_use_without_rowid>).
const V3: &str = r"
CREATE TABLE inline_blobs (
    id    TEXT NOT NULL UNIQUE,
    bytes BLOB NOT NULL
);
";

/// Version 4: IMAP subscriptions (RFC 9051 §6.3.7).
///
/// Keyed by account and name, not by mailbox: a name may be subscribed
/// while no mailbox has it. Before this version every mailbox counted as
/// subscribed, so the existing mailboxes start subscribed.
const V4: &str = r"
CREATE TABLE subscriptions (
    account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    PRIMARY KEY (account, name)
) WITHOUT ROWID;
INSERT INTO subscriptions (account, name) SELECT account, name FROM mailboxes;
";

/// Version 5: the \Recent mark (RFC 3501 §2.3.2).
///
/// `mailboxes.recent_mark`: the lowest UID no session has claimed as
/// \Recent yet; it only grows. A new mailbox starts at 1; the existing
/// ones start at their UIDNEXT (what they hold is old by now).
const V5: &str = r"
ALTER TABLE mailboxes ADD COLUMN recent_mark INTEGER NOT NULL DEFAULT 1;
UPDATE mailboxes SET recent_mark = uid_next;
";

/// Version 6: expunged UIDs, for IMAP QRESYNC (RFC 7162 §3.2).
///
/// - `expunged`: one row per UID removed from a mailbox, with the MODSEQ
///   the removal took (RFC 7162 §3.2.10: a client that cached a lower
///   MODSEQ must hear of it). Rows of a deleted mailbox go with it.
/// - `mailboxes.expunged_floor`: rows up to this MODSEQ are no longer
///   kept (pruned, or from before this version); a client asking about
///   an older MODSEQ is told every UID that is not in the mailbox, which
///   RFC 7162 §3.2.5.1 and §3.2.6 allow. The existing mailboxes start at
///   their HIGHESTMODSEQ: what they expunged before is unknown.
const V6: &str = r"
CREATE TABLE expunged (
    mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid     INTEGER NOT NULL,
    modseq  INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged(mailbox, modseq);
ALTER TABLE mailboxes ADD COLUMN expunged_floor INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET expunged_floor = highest_modseq;
";

/// Version 7: administrators.
///
/// `accounts.admin`: 1 lets the account see the web admin pages. Every
/// existing account starts as an ordinary user; `postern user admin
/// ADDRESS on` names the administrators.
const V7: &str = r"
ALTER TABLE accounts ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
";

/// Version 8: calendars (CalDAV, RFC 4791) and their change log for
/// collection synchronisation (RFC 6578).
///
/// - `calendars`: per account, named by URL segment. AUTOINCREMENT so
///   that an id is never reused: a sync token carries it, and a deleted
///   calendar's tokens must not become valid for a new one.
///   `components` is a bit set (`ComponentKind::bit`); `sync_token` is
///   the modification sequence of the last member change and only grows.
/// - `calendar_objects`: one row per resource, its iCalendar bytes inline
///   (calendar objects are small, like the messages of `inline_blobs`);
///   `component` 1 VEVENT, 2 VTODO; a UID once per calendar (RFC 4791
///   §4.1). The time bounds index time-range queries.
/// - `calendar_changes`: the last change of each resource name with its
///   modification sequence; `deleted` 1 is a tombstone, kept so that a
///   client syncing from an older token hears of the deletion
///   (RFC 6578 §3.5.1).
/// - triggers count the objects' bytes in `accounts.used_bytes`, as the
///   messages' are: an account's quota covers its calendars too.
const V8: &str = r"
CREATE TABLE calendars (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description  TEXT,
    color        TEXT,
    timezone     TEXT,
    components   INTEGER NOT NULL,
    sync_token   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, name)
);

CREATE TABLE calendar_objects (
    id          INTEGER PRIMARY KEY,
    calendar    INTEGER NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    uid         TEXT NOT NULL,
    etag        TEXT NOT NULL,
    component   INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    first_start INTEGER,
    last_end    INTEGER,
    modseq      INTEGER NOT NULL,
    data        BLOB NOT NULL,
    UNIQUE (calendar, name),
    UNIQUE (calendar, uid)
);
CREATE INDEX calendar_objects_start ON calendar_objects(calendar, first_start);

CREATE TABLE calendar_changes (
    calendar INTEGER NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    modseq   INTEGER NOT NULL,
    deleted  INTEGER NOT NULL,
    PRIMARY KEY (calendar, name)
) WITHOUT ROWID;
CREATE INDEX calendar_changes_modseq ON calendar_changes(calendar, modseq);

CREATE TRIGGER calendar_objects_used_add AFTER INSERT ON calendar_objects BEGIN
    UPDATE accounts SET used_bytes = used_bytes + NEW.size
    WHERE id = (SELECT account FROM calendars WHERE id = NEW.calendar);
END;
CREATE TRIGGER calendar_objects_used_change AFTER UPDATE OF size ON calendar_objects BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size + NEW.size
    WHERE id = (SELECT account FROM calendars WHERE id = NEW.calendar);
END;
CREATE TRIGGER calendar_objects_used_sub AFTER DELETE ON calendar_objects BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size
    WHERE id = (SELECT account FROM calendars WHERE id = OLD.calendar);
END;
";

/// Schema 9: the time index of calendar objects holds both bounds, so a
/// range query (a month view, a calendar-query) walks the index entries
/// that start before the range's end and checks their end there, reading
/// only the rows that overlap instead of every row that starts before.
const V9: &str = r"
DROP INDEX calendar_objects_start;
CREATE INDEX calendar_objects_span ON calendar_objects(calendar, first_start, last_end);
";

/// Every migration, oldest first.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9];

/// The schema version this code writes.
pub(super) const VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database to [`VERSION`], or refuses it.
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    check_application_id(conn)?;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                known: VERSION,
            });
        }
        let Some(sql) = MIGRATIONS.get(found as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
        tracing::info!(version = found + 1, "store schema migrated");
    }
}

fn check_application_id(conn: &Connection) -> StoreResult<()> {
    let id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if id != 0 && id != APPLICATION_ID {
        return Err(StoreError::Invalid {
            what: "the database".into(),
            why: format!("application_id {id:#x} says it is not a Postern store"),
        });
    }
    Ok(())
}
