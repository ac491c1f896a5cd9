//! What only the SQLite back end promises: its files, modes, pragmas,
//! migrations, and the orphan sweep at open.
//!
//! # Layout
//! - layout, modes and pragmas; migrations and refusals;
//! - the orphan sweep; the blob-collection race.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use postern_store::blobs::BlobStore;
use postern_store::sqlite::{OpenOptions, SCHEMA_VERSION};
use postern_store::{
    ComponentKind, NewCalendarObject, Precondition, SqliteStore, Store, StoreError, Uid,
};

/// Takes a store back from schema 8 (calendars) to 7, for the migration
/// tests; older ones go further back after it. (Schema 9's index goes
/// with its table.)
const UNDO_V8: &str = "DROP TRIGGER calendar_objects_used_add;
    DROP TRIGGER calendar_objects_used_change; DROP TRIGGER calendar_objects_used_sub;
    DROP TABLE calendar_changes; DROP TABLE calendar_objects; DROP TABLE calendars;
    PRAGMA user_version = 7;";

fn raw_db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("mail.db")).expect("open mail.db")
}

#[test]
fn a_new_store_is_laid_out_privately_in_wal_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let store = SqliteStore::open(&data).unwrap();
    store.add_domain("example.com").unwrap();
    assert!(data.join("blobs/tmp").is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| fs::metadata(data.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(""), 0o700, "data dir");
        assert_eq!(mode("blobs"), 0o700);
        assert_eq!(mode("mail.db"), 0o600);
        assert_eq!(mode("mail.db-wal"), 0o600, "SQLite copies the db's mode");
    }
    let db = raw_db(&data);
    let journal: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let version: u32 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let app: i32 = db
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app.to_be_bytes(), *b"PSTN");
}

#[test]
fn reopening_keeps_data_and_does_not_migrate_twice() {
    let tmp = tempfile::tempdir().unwrap();
    SqliteStore::open(tmp.path())
        .unwrap()
        .add_domain("a.example")
        .unwrap();
    let store = SqliteStore::open(tmp.path()).unwrap();
    assert_eq!(store.domains().unwrap(), ["a.example"]);
}

#[test]
fn a_newer_schema_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(tmp.path()).unwrap());
    raw_db(tmp.path())
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    match SqliteStore::open(tmp.path()) {
        Err(StoreError::SchemaTooNew { found, known }) => {
            assert_eq!((found, known), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("opened a newer schema: {other:?}"),
    }
}

#[test]
fn another_applications_database_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let db = raw_db(tmp.path());
    db.execute_batch("PRAGMA application_id = 42; CREATE TABLE t (x);")
        .unwrap();
    drop(db);
    let err = SqliteStore::open(tmp.path()).unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
}

/// Sets a file's modification time into the past.
fn age(path: &Path, by: Duration) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - by).unwrap();
}

#[test]
fn open_sweeps_orphans_and_stale_temp_files_only() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(tmp.path()).unwrap();
    store.add_domain("example.com").unwrap();
    let alice = store.add_account("alice@example.com", "h").unwrap();
    let kept = store.deliver(&[alice.id], b"kept", 0).unwrap()[0];
    drop(store);

    // What a crash leaves: a blob whose transaction never committed (or
    // whose deletion never ran), and temp files, one stale, one young (a
    // writer in another process may still be on it).
    let blobs = BlobStore::open(&tmp.path().join("blobs")).unwrap();
    let orphan = blobs.put(b"never committed").unwrap();
    let stale = tmp.path().join("blobs/tmp/stale");
    let young = tmp.path().join("blobs/tmp/young");
    fs::write(&stale, b"half").unwrap();
    fs::write(&young, b"half").unwrap();
    age(&stale, Duration::from_secs(2 * 3600));

    let mut options = OpenOptions::default();
    options.sweep_orphans = false;
    drop(SqliteStore::open_with(tmp.path(), &options).unwrap());
    assert!(
        blobs.contains(&orphan).unwrap(),
        "no sweep when told not to"
    );

    let store = SqliteStore::open(tmp.path()).unwrap();
    assert!(!blobs.contains(&orphan).unwrap(), "orphan swept");
    assert!(!stale.exists(), "stale temp file swept");
    assert!(young.exists(), "young temp file kept");
    assert_eq!(store.read_message(kept.0, kept.1).unwrap(), b"kept");
}

/// The window the write lock closes: `put` finds a blob present, then a
/// collection deletes it (its last message was just expunged) before the
/// delivery's transaction begins. Two threads append and expunge the same
/// bytes over and over; every appended message must stay readable.
#[test]
fn a_blob_collected_under_a_delivery_is_written_again() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(tmp.path()).unwrap();
    store.add_domain("example.com").unwrap();
    let alice = store.add_account("alice@example.com", "h").unwrap();
    let inbox = store.mailbox(alice.id, "INBOX").unwrap().unwrap().id;
    let trash = store.mailbox(alice.id, "Trash").unwrap().unwrap().id;
    std::thread::scope(|scope| {
        for mailbox in [inbox, trash] {
            let store = &store;
            scope.spawn(move || {
                for _ in 0..150 {
                    let uid = store.append(mailbox, b"same bytes", &[], 0).unwrap();
                    let read = store.read_message(mailbox, uid);
                    assert_eq!(read.unwrap(), b"same bytes");
                    store.expunge(mailbox, &[uid]).unwrap();
                }
            });
        }
    });
}

/// Small messages live in the database, big ones in blob files; a small
/// message stored as a file (before the inline table existed) still reads.
#[test]
fn small_messages_inline_big_ones_in_files() {
    use postern_store::sqlite::INLINE_MAX;
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(tmp.path()).unwrap();
    store.add_domain("example.com").unwrap();
    let alice = store.add_account("alice@example.com", "h").unwrap();
    let small = vec![b's'; INLINE_MAX];
    let big = vec![b'b'; INLINE_MAX + 1];
    let s = store.deliver(&[alice.id], &small, 0).unwrap()[0];
    let b = store.deliver(&[alice.id], &big, 0).unwrap()[0];
    let blobs = BlobStore::open(&tmp.path().join("blobs")).unwrap();
    assert!(
        !blobs.contains(&BlobStore::id_of(&small)).unwrap(),
        "inline"
    );
    assert!(blobs.contains(&BlobStore::id_of(&big)).unwrap(), "a file");
    assert_eq!(store.read_message(s.0, s.1).unwrap(), small);
    assert_eq!(store.read_message(b.0, b.1).unwrap(), big);

    // An older store's small message: a file and no row.
    let old = b"Subject: old\r\n\r\nfrom a file\r\n";
    let s2 = store.deliver(&[alice.id], old, 0).unwrap()[0];
    let id = BlobStore::id_of(old);
    blobs.put(old).unwrap();
    raw_db(tmp.path())
        .execute("DELETE FROM inline_blobs WHERE id = ?1", [&id.0])
        .unwrap();
    assert_eq!(store.read_message(s2.0, s2.1).unwrap(), old);
    // Expunging it deletes the file; nothing is left of any of them.
    store.expunge(s2.0, &[s.1, b.1, s2.1]).unwrap();
    assert!(!blobs.contains(&id).unwrap());
    assert!(!blobs.contains(&BlobStore::id_of(&big)).unwrap());
    let rows: i64 = raw_db(tmp.path())
        .query_row("SELECT count(*) FROM inline_blobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
}

/// The memory of expunges is bounded: beyond `expunged_kept` rows the
/// oldest go, and a client asking from before them is told every UID the
/// mailbox lacks (RFC 7162 §3.2.6 allows the superset), never less.
#[test]
fn expunged_uids_are_pruned_to_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let mut options = OpenOptions::default();
    options.expunged_kept = 2;
    let store = SqliteStore::open_with(tmp.path(), &options).unwrap();
    store.add_domain("example.com").unwrap();
    let alice = store.add_account("alice@example.com", "h").unwrap();
    let inbox = store.mailbox(alice.id, "INBOX").unwrap().unwrap().id;
    let uids: Vec<Uid> = (0..6)
        .map(|n| {
            store
                .append(inbox, format!("m{n}").as_bytes(), &[], 0)
                .unwrap()
        })
        .collect();
    let highest = || store.mailbox_by_id(inbox).unwrap().unwrap().highest_modseq;
    let start = highest();
    let mut after = Vec::new();
    for &uid in &uids[..4] {
        store.expunge(inbox, &[uid]).unwrap();
        after.push(highest());
    }
    let rows: i64 = raw_db(tmp.path())
        .query_row("SELECT count(*) FROM expunged", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2, "only the newest are kept");
    // Still exact where the rows reach back far enough...
    assert_eq!(store.vanished_since(inbox, after[1]).unwrap(), &uids[2..4]);
    assert_eq!(store.vanished_since(inbox, after[2]).unwrap(), &uids[3..4]);
    // ...and every missing UID before that, including ones never used.
    let missing = store.vanished_since(inbox, start).unwrap();
    assert_eq!(missing, &uids[..4]);
    assert_eq!(store.vanished_since(inbox, after[0]).unwrap(), &uids[..4]);
}

/// A store from before the expunge memory (schema 5) migrates: its
/// mailboxes remember nothing of older expunges, so asking about a MODSEQ
/// from before the migration reports every missing UID.
#[test]
fn expunges_before_the_migration_are_reported_as_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(tmp.path()).unwrap();
    store.add_domain("example.com").unwrap();
    let alice = store.add_account("alice@example.com", "h").unwrap();
    let inbox = store.mailbox(alice.id, "INBOX").unwrap().unwrap().id;
    let a = store.append(inbox, b"a", &[], 0).unwrap();
    let b = store.append(inbox, b"b", &[], 0).unwrap();
    let before = store.mailbox_by_id(inbox).unwrap().unwrap().highest_modseq;
    store.expunge(inbox, &[a]).unwrap();
    let migrated_at = store.mailbox_by_id(inbox).unwrap().unwrap().highest_modseq;
    drop(store);
    let db = raw_db(tmp.path());
    db.execute_batch(UNDO_V8).unwrap();
    db.execute_batch(
        "DROP TABLE expunged; ALTER TABLE mailboxes DROP COLUMN expunged_floor;
         ALTER TABLE accounts DROP COLUMN admin; PRAGMA user_version = 5;",
    )
    .unwrap();
    drop(db);

    let store = SqliteStore::open(tmp.path()).unwrap();
    assert_eq!(store.vanished_since(inbox, before).unwrap(), [a]);
    assert!(store.vanished_since(inbox, migrated_at).unwrap().is_empty());
    store.expunge(inbox, &[b]).unwrap();
    assert_eq!(store.vanished_since(inbox, migrated_at).unwrap(), [b]);
}

/// A store from before administrators (schema 6) migrates without loss:
/// its accounts keep their passwords, quotas and mail, and none of them
/// becomes an administrator by the upgrade.
#[test]
fn accounts_from_before_the_admin_flag_migrate_as_ordinary_users() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(tmp.path()).unwrap();
    store.add_domain("example.com").unwrap();
    let alice = store.add_account("alice@example.com", "hash-a").unwrap();
    store.set_quota(alice.id, 1_000).unwrap();
    let inbox = store.mailbox(alice.id, "INBOX").unwrap().unwrap().id;
    let uid = store.append(inbox, b"kept", &[], 0).unwrap();
    drop(store);
    let db = raw_db(tmp.path());
    db.execute_batch(UNDO_V8).unwrap();
    db.execute_batch("ALTER TABLE accounts DROP COLUMN admin; PRAGMA user_version = 6;")
        .unwrap();
    drop(db);

    let store = SqliteStore::open(tmp.path()).unwrap();
    let again = store.account("alice@example.com").unwrap().unwrap();
    assert_eq!(again.id, alice.id);
    assert_eq!(again.password_hash, "hash-a");
    assert_eq!(again.quota_bytes, 1_000);
    assert!(!again.admin);
    assert_eq!(store.read_message(inbox, uid).unwrap(), b"kept");
    store.set_admin(alice.id, true).unwrap();
    assert!(store.account_by_id(alice.id).unwrap().unwrap().admin);
}

/// A store from before calendars (schema 7) migrates: its accounts and
/// mail stay, every account starts with no calendar, and calendars work
/// at once, their data counting toward the quota with the mail.
#[test]
fn a_store_from_before_calendars_migrates() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(tmp.path()).unwrap();
    store.add_domain("example.com").unwrap();
    let alice = store.add_account("alice@example.com", "hash-a").unwrap();
    store.set_quota(alice.id, 100).unwrap();
    let inbox = store.mailbox(alice.id, "INBOX").unwrap().unwrap().id;
    let uid = store.append(inbox, &[b'm'; 60], &[], 0).unwrap();
    drop(store);
    let db = raw_db(tmp.path());
    db.execute_batch(UNDO_V8).unwrap();
    drop(db);

    let store = SqliteStore::open(tmp.path()).unwrap();
    let version: u32 = raw_db(tmp.path())
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(store.read_message(inbox, uid).unwrap(), [b'm'; 60]);
    assert!(store.calendars(alice.id).unwrap().is_empty());
    let cal = store
        .create_calendar(alice.id, "personal", "", &[])
        .unwrap();
    let obj = |data| NewCalendarObject {
        name: "a.ics",
        uid: "a",
        component: ComponentKind::Event,
        data,
        first_start: None,
        last_end: None,
    };
    let over = store.put_calendar_object(cal.id, &obj(&[b'c'; 50]), Precondition::Any);
    assert!(
        matches!(over, Err(StoreError::QuotaExceeded { .. })),
        "{over:?}"
    );
    store
        .put_calendar_object(cal.id, &obj(&[b'c'; 40]), Precondition::Any)
        .unwrap();
    assert_eq!(
        store.calendar_changes_since(cal.id, 0).unwrap().sync_token,
        1
    );
}

/// Schema 9 replaces the calendar objects' start index by one holding both
/// bounds, which range queries search; objects stored before keep their
/// place in range answers.
#[test]
fn a_schema_8_store_gets_the_span_index_and_its_ranges_still_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(tmp.path()).unwrap();
    store.add_domain("example.com").unwrap();
    let alice = store.add_account("alice@example.com", "hash-a").unwrap();
    let cal = store.create_calendar(alice.id, "work", "", &[]).unwrap();
    for (name, start, end) in [
        ("a.ics", Some(100), Some(200)),
        ("b.ics", Some(500), Some(600)),
        ("c.ics", None, None),
    ] {
        let obj = NewCalendarObject {
            name,
            uid: name,
            component: ComponentKind::Event,
            data: b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
            first_start: start,
            last_end: end,
        };
        store
            .put_calendar_object(cal.id, &obj, Precondition::Any)
            .unwrap();
    }
    drop(store);
    let db = raw_db(tmp.path());
    db.execute_batch(
        "DROP INDEX calendar_objects_span;
         CREATE INDEX calendar_objects_start ON calendar_objects(calendar, first_start);
         PRAGMA user_version = 8;",
    )
    .unwrap();
    drop(db);

    let store = SqliteStore::open(tmp.path()).unwrap();
    let db = raw_db(tmp.path());
    let indexes: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'calendar_objects' AND sql IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(indexes, ["calendar_objects_span"]);
    let names = |start, end| -> Vec<String> {
        store
            .calendar_objects_in_range(cal.id, start, end)
            .unwrap()
            .into_iter()
            .map(|o| o.meta.name)
            .collect()
    };
    // The undated object is in every range; the others where they overlap,
    // sorted by name.
    assert_eq!(names(0, 1000), ["a.ics", "b.ics", "c.ics"]);
    assert_eq!(names(150, 160), ["a.ics", "c.ics"]);
    assert_eq!(names(300, 400), ["c.ics"]);
    assert_eq!(names(600, 700), ["b.ics", "c.ics"]);
}
