//! Moving a whole installation from the embedded SQLite store to
//! PostgreSQL (`postern migrate`), keeping every id: UIDs, UIDVALIDITY,
//! MODSEQs, queue ids and calendar sync tokens stay what clients already
//! know, so no IMAP client resynchronises and no CalDAV sync token breaks.
//!
//! The copy is one PostgreSQL transaction: a failure leaves the target
//! as empty as it was. The target must be empty (the tables are made if
//! missing). The source is only read (after being brought to the current
//! schema, which `postern serve` would do as well); stop the server
//! first, or mail accepted meanwhile stays behind.
//!
//! Verification after the commit, read back from PostgreSQL: every
//! table's row count equals the source's; every account's used bytes
//! equal the source's (recomputed by the target's triggers, so this
//! checks the message and calendar rows too); every message blob's
//! SHA-256 equals its content address, which is the hash of the bytes
//! the source held.
//!
//! # Layout
//! - [`TABLES`]: what is copied, in foreign-key order, with each column's
//!   type on the PostgreSQL side.
//! - [`sqlite_to_postgres`]: the copy; [`Report`]: what it found.

use std::collections::BTreeSet;
use std::path::Path;

use postgres::types::ToSql;
use rusqlite::OpenFlags;

use crate::blobs::BlobStore;
use crate::error::{StoreError, StoreResult};
use crate::model::BlobId;
use crate::postgres::{BlobPlace, PgOptions, PgStore};
use crate::sqlite::{OpenOptions, SqliteStore, BLOB_DIR, DB_FILE};

/// A column's type in PostgreSQL (SQLite's is an integer, text or blob).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int8,
    Int4,
    Bool,
    Text,
    Bytea,
}

use Kind::{Bool, Bytea, Int4, Int8, Text};

/// One table to copy; `identity` names the column whose sequence must
/// continue after the copied ids.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    identity: Option<&'static str>,
}

/// Every table of the model, parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "domains",
        columns: &[("name", Text)],
        identity: None,
    },
    Table {
        name: "accounts",
        // used_bytes is not copied: the target's triggers count it from
        // the messages and calendar objects, and the count is verified.
        columns: &[
            ("id", Int8),
            ("address", Text),
            ("domain", Text),
            ("password_hash", Text),
            ("quota_bytes", Int8),
            ("disabled", Bool),
            ("admin", Bool),
        ],
        identity: Some("id"),
    },
    Table {
        name: "aliases",
        columns: &[("id", Int8), ("address", Text), ("domain", Text)],
        identity: Some("id"),
    },
    Table {
        name: "alias_targets",
        columns: &[("alias", Int8), ("account", Int8), ("position", Int4)],
        identity: None,
    },
    Table {
        name: "mailboxes",
        columns: &[
            ("id", Int8),
            ("account", Int8),
            ("name", Text),
            ("special_use", Text),
            ("uid_validity", Int8),
            ("uid_next", Int8),
            ("highest_modseq", Int8),
            ("recent_mark", Int8),
            ("expunged_floor", Int8),
        ],
        identity: Some("id"),
    },
    Table {
        name: "subscriptions",
        columns: &[("account", Int8), ("name", Text)],
        identity: None,
    },
    Table {
        name: "messages",
        columns: &[
            ("id", Int8),
            ("mailbox", Int8),
            ("uid", Int8),
            ("modseq", Int8),
            ("internal_date", Int8),
            ("size", Int8),
            ("blob", Text),
            ("flags", Int8),
        ],
        identity: Some("id"),
    },
    Table {
        name: "keywords",
        columns: &[("message", Int8), ("keyword", Text)],
        identity: None,
    },
    Table {
        name: "expunged",
        columns: &[("mailbox", Int8), ("uid", Int8), ("modseq", Int8)],
        identity: None,
    },
    Table {
        name: "queue",
        columns: &[
            ("id", Int8),
            ("blob", Text),
            ("size", Int8),
            ("created", Int8),
            ("mail_from", Text),
            ("envid", Text),
            ("ret", Int4),
            ("requiretls", Bool),
            ("smtputf8", Bool),
            ("eight_bit", Bool),
            ("next_attempt", Int8),
        ],
        identity: Some("id"),
    },
    Table {
        name: "queue_recipients",
        columns: &[
            ("queue", Int8),
            ("position", Int4),
            ("address", Text),
            ("notify", Int4),
            ("orcpt", Text),
            ("state", Int4),
            ("attempts", Int4),
            ("next_attempt", Int8),
            ("last_error", Text),
            ("detail", Text),
        ],
        identity: None,
    },
    Table {
        name: "calendars",
        columns: &[
            ("id", Int8),
            ("account", Int8),
            ("name", Text),
            ("display_name", Text),
            ("description", Text),
            ("color", Text),
            ("timezone", Text),
            ("components", Int4),
            ("sync_token", Int8),
        ],
        identity: Some("id"),
    },
    Table {
        name: "calendar_objects",
        columns: &[
            ("id", Int8),
            ("calendar", Int8),
            ("name", Text),
            ("uid", Text),
            ("etag", Text),
            ("component", Int4),
            ("size", Int8),
            ("first_start", Int8),
            ("last_end", Int8),
            ("modseq", Int8),
            ("data", Bytea),
        ],
        identity: Some("id"),
    },
    Table {
        name: "calendar_changes",
        columns: &[
            ("calendar", Int8),
            ("name", Text),
            ("modseq", Int8),
            ("deleted", Bool),
        ],
        identity: None,
    },
];

/// What was copied and checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// (table, rows) in copy order.
    pub rows: Vec<(String, u64)>,
    /// Distinct message blobs copied, and their bytes.
    pub blobs: u64,
    pub blob_bytes: u64,
}

/// Copies the SQLite store in `data_dir` into the empty PostgreSQL store
/// `to`, then verifies the copy. `progress` hears one line per step.
pub fn sqlite_to_postgres(
    data_dir: &Path,
    to: &PgOptions,
    mut progress: impl FnMut(&str),
) -> StoreResult<Report> {
    // Bring the source to the current schema (and refuse a newer one).
    let options = OpenOptions {
        sweep_orphans: false,
        ..OpenOptions::default()
    };
    drop(SqliteStore::open_with(data_dir, &options)?);
    let source = rusqlite::Connection::open_with_flags(
        data_dir.join(DB_FILE),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let files = BlobStore::open(&data_dir.join(BLOB_DIR))?;

    let mut target_options = to.clone();
    target_options.listen = false;
    // Makes the tables if missing.
    drop(PgStore::open(&target_options)?);
    let mut config: postgres::Config = to.url.parse().map_err(|e| StoreError::Invalid {
        what: "the target URL".into(),
        why: format!("{e}"),
    })?;
    if let Some(password) = &to.password {
        config.password(password);
    }
    let mut client = match &to.connector {
        Some(connector) => (connector.0)(&config)?,
        None => config.connect(postgres::NoTls)?,
    };
    ensure_empty(&mut client)?;

    let mut report = Report::default();
    let mut tx = client.transaction()?;
    for table in TABLES {
        let rows = copy_table(&source, &mut tx, table)?;
        progress(&format!("{}: {rows} rows", table.name));
        report.rows.push((table.name.to_owned(), rows));
    }
    let (blobs, bytes) = copy_blobs(&source, &files, &mut tx, &to.blobs)?;
    progress(&format!("message bytes: {blobs} blobs, {bytes} bytes"));
    report.blobs = blobs;
    report.blob_bytes = bytes;
    continue_sequences(&source, &mut tx)?;
    tx.commit()?;
    progress("committed; verifying");
    verify(&source, &mut client, &to.blobs, &report)?;
    progress("verified: row counts, used bytes per account, and every blob's SHA-256");
    Ok(report)
}

fn ensure_empty(client: &mut postgres::Client) -> StoreResult<()> {
    for table in TABLES {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])?
            .get(0);
        if n > 0 {
            let rows = if n == 1 { "row" } else { "rows" };
            return Err(StoreError::Invalid {
                what: "the target database".into(),
                why: format!(
                    "it is not empty (its table {} holds {n} {rows}); migrate into a new, empty database (createdb)",
                    table.name
                ),
            });
        }
    }
    Ok(())
}

/// A value read from SQLite, typed for PostgreSQL.
fn value(row: &rusqlite::Row<'_>, i: usize, kind: Kind) -> rusqlite::Result<Box<dyn ToSql + Sync>> {
    Ok(match kind {
        Int8 => Box::new(row.get::<_, Option<i64>>(i)?),
        Int4 => Box::new(
            row.get::<_, Option<i64>>(i)?
                .map(|v| i32::try_from(v).unwrap_or(i32::MAX)),
        ),
        Bool => Box::new(row.get::<_, Option<i64>>(i)?.map(|v| v != 0)),
        Text => Box::new(row.get::<_, Option<String>>(i)?),
        Bytea => Box::new(row.get::<_, Option<Vec<u8>>>(i)?),
    })
}

fn copy_table(
    source: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    table: &Table,
) -> StoreResult<u64> {
    let names: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
    let select = format!("SELECT {} FROM {}", names.join(", "), table.name);
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let insert = tx.prepare(&format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name,
        names.join(", "),
        placeholders.join(", ")
    ))?;
    let mut stmt = source.prepare(&select)?;
    let mut rows = stmt.query([])?;
    let mut copied = 0;
    while let Some(row) = rows.next()? {
        let values = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| value(row, i, *kind))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(AsRef::as_ref).collect();
        tx.execute(&insert, &params)?;
        copied += 1;
    }
    Ok(copied)
}

/// The blobs messages and queue items reference, from the inline table
/// or the files, into the target's place; each checked against its
/// content address on the way.
fn copy_blobs(
    source: &rusqlite::Connection,
    files: &BlobStore,
    tx: &mut postgres::Transaction<'_>,
    place: &BlobPlace,
) -> StoreResult<(u64, u64)> {
    let ids = referenced_blobs(source)?;
    let target_dir = match place {
        BlobPlace::Directory(dir) => Some(BlobStore::open(dir)?),
        BlobPlace::Database => None,
    };
    let insert = tx.prepare("INSERT INTO blobs (id, bytes) VALUES ($1, $2)")?;
    let mut inline = source.prepare("SELECT bytes FROM inline_blobs WHERE id = ?1")?;
    let (mut count, mut bytes_total) = (0, 0);
    for id in ids {
        let blob = BlobId(id);
        let bytes = match inline.query_row([&blob.0], |r| r.get::<_, Vec<u8>>(0)) {
            Ok(bytes) => bytes,
            Err(rusqlite::Error::QueryReturnedNoRows) => files.get(&blob)?,
            Err(e) => return Err(e.into()),
        };
        check_hash(&blob, &bytes, "the source")?;
        match &target_dir {
            Some(dir) => {
                dir.put(&bytes)?;
            }
            None => {
                tx.execute(&insert, &[&blob.0, &bytes])?;
            }
        }
        count += 1;
        bytes_total += bytes.len() as u64;
    }
    Ok((count, bytes_total))
}

fn referenced_blobs(source: &rusqlite::Connection) -> StoreResult<BTreeSet<String>> {
    let mut stmt = source.prepare("SELECT blob FROM messages UNION SELECT blob FROM queue")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<BTreeSet<_>>>()?;
    Ok(ids)
}

fn check_hash(blob: &BlobId, bytes: &[u8], side: &str) -> StoreResult<()> {
    let actual = BlobStore::id_of(bytes);
    if actual != *blob {
        return Err(StoreError::Database(format!(
            "blob {blob} in {side} hashes to {actual}: its bytes are damaged; nothing was migrated"
        )));
    }
    Ok(())
}

/// Identity columns continue after the copied ids (and after ids SQLite
/// handed out and deleted since: `sqlite_sequence`), and UIDVALIDITY
/// after the source's counter, so nothing is ever handed out twice.
fn continue_sequences(
    source: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
) -> StoreResult<()> {
    for table in TABLES {
        let Some(column) = table.identity else {
            continue;
        };
        let used: i64 = source
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                [table.name],
                |r| r.get(0),
            )
            .unwrap_or(0);
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{t}', '{column}'),
                               GREATEST($1, (SELECT COALESCE(max({column}), 0) FROM {t})) + 1,
                               false)",
                t = table.name
            ),
            &[&used],
        )?;
    }
    let next: i64 = source
        .query_row(
            "SELECT value FROM meta WHERE key = 'next_uid_validity'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(1);
    tx.execute(
        "SELECT setval('uid_validity_seq',
                       GREATEST($1, (SELECT COALESCE(max(uid_validity), 0) + 1 FROM mailboxes)),
                       false)",
        &[&next.max(1)],
    )?;
    Ok(())
}

fn verify(
    source: &rusqlite::Connection,
    client: &mut postgres::Client,
    place: &BlobPlace,
    report: &Report,
) -> StoreResult<()> {
    let mismatch = |what: String| {
        StoreError::Database(format!(
            "verification failed: {what}; the target is not a faithful copy (drop it and migrate again)"
        ))
    };
    for (table, rows) in &report.rows {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .get(0);
        if u64::try_from(n).ok() != Some(*rows) {
            return Err(mismatch(format!("{table} has {n} rows, the source {rows}")));
        }
    }
    let mut stmt = source.prepare("SELECT address, used_bytes FROM accounts")?;
    let used = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (address, bytes) in used {
        let got: i64 = client
            .query_one(
                "SELECT used_bytes FROM accounts WHERE address = $1",
                &[&address],
            )?
            .get(0);
        if got != bytes {
            return Err(mismatch(format!(
                "{address} uses {got} bytes in the target, {bytes} in the source"
            )));
        }
    }
    let ids = referenced_blobs(source)?;
    let dir = match place {
        BlobPlace::Directory(dir) => Some(BlobStore::open(dir)?),
        BlobPlace::Database => None,
    };
    for id in ids {
        let blob = BlobId(id);
        let bytes = match &dir {
            Some(dir) => dir.get(&blob)?,
            None => client
                .query_one("SELECT bytes FROM blobs WHERE id = $1", &[&blob.0])?
                .get::<_, Vec<u8>>(0),
        };
        check_hash(&blob, &bytes, "the target")?;
    }
    Ok(())
}
