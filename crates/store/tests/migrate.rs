//! `migrate::sqlite_to_postgres`: a populated SQLite store moves into an
//! empty PostgreSQL database and reads back the same through the Store
//! trait: UIDs, UIDVALIDITY, flags, keywords, bytes (inline and file
//! blobs), expunge history, the queue, calendars and their sync tokens;
//! new ids continue after the old ones. A second migration into the now
//! full database is refused.
//!
//! Needs `POSTERN_TEST_POSTGRES` as tests/postgres.rs does (and fails
//! without it under CI=true).

use postern_store::migrate::sqlite_to_postgres;
use postern_store::postgres::testing::TestDatabase;
use postern_store::postgres::BlobPlace;
use postern_store::{
    ComponentKind, Envelope, Flag, FlagOp, Incoming, ModSeq, NewCalendarObject, Notify, PgOptions,
    PgStore, Precondition, RemoteRecipient, SqliteStore, Store, StoreError,
};

fn envelope() -> Envelope {
    Envelope {
        mail_from: "alice@example.com".into(),
        envid: Some("env-1".into()),
        ret: None,
        requiretls: true,
        smtputf8: false,
        eight_bit: true,
    }
}

/// Fills a SQLite store; returns what the checks compare against.
fn populate(store: &SqliteStore) {
    store.add_domain("example.com").unwrap();
    let alice = store
        .add_account("alice@example.com", "$argon2id$alice")
        .unwrap();
    let bob = store
        .add_account("bob@example.com", "$argon2id$bob")
        .unwrap();
    store.set_quota(bob.id, 10_000_000).unwrap();
    store.set_admin(alice.id, true).unwrap();
    store
        .add_alias(
            "team@example.com",
            &["alice@example.com".into(), "bob@example.com".into()],
        )
        .unwrap();
    let inbox = store.mailbox(alice.id, "INBOX").unwrap().unwrap();
    for n in 0..5 {
        let raw = format!("Subject: {n}\r\n\r\nbody {n}\r\n");
        store
            .append(inbox.id, raw.as_bytes(), &[], 1_700_000_000 + n)
            .unwrap();
    }
    // One big enough to be a blob file in SQLite.
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(200_000));
    store
        .append(inbox.id, big.as_bytes(), &[Flag::Seen], 1_700_000_100)
        .unwrap();
    let uids: Vec<_> = store
        .messages(inbox.id)
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    store
        .store_flags(
            inbox.id,
            &uids[..2],
            FlagOp::Add,
            &[Flag::Flagged, Flag::Keyword("$Label1".into())],
            None,
        )
        .unwrap();
    store.expunge(inbox.id, &uids[2..3]).unwrap();
    store
        .create_mailbox(alice.id, "Archive/2026", None)
        .unwrap();
    store.subscribe_mailbox(alice.id, "Archive/2026").unwrap();
    // A queued message with a remote recipient.
    let env = envelope();
    let remote = [RemoteRecipient {
        address: "carol@example.net".into(),
        notify: Notify::NEVER,
        orcpt: None,
    }];
    store
        .accept(&Incoming {
            raw: b"Subject: out\r\n\r\nto carol\r\n",
            internal_date: 1_700_000_200,
            local: &[bob.id],
            envelope: &env,
            remote: &remote,
        })
        .unwrap();
    let cal = store
        .create_calendar(alice.id, "default", "Calendar", &[ComponentKind::Event])
        .unwrap();
    for n in 0..3 {
        let uid = format!("ev-{n}");
        let name = format!("{uid}.ics");
        let data = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:2026060{n}T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        store
            .put_calendar_object(
                cal.id,
                &NewCalendarObject {
                    name: &name,
                    uid: &uid,
                    component: ComponentKind::Event,
                    data: data.as_bytes(),
                    first_start: Some(1_780_000_000 + n),
                    last_end: Some(1_780_003_600 + n),
                },
                Precondition::Any,
            )
            .unwrap();
    }
    store
        .delete_calendar_object(cal.id, "ev-0.ics", Precondition::Any)
        .unwrap();
}

/// Everything a client could see, as comparable text.
fn snapshot(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!("domains {:?}", store.domains().unwrap()));
    for a in store.accounts().unwrap() {
        out.push(format!("account {a:?}"));
        out.push(format!("subs {:?}", store.subscriptions(a.id).unwrap()));
        for m in store.mailboxes(a.id).unwrap() {
            out.push(format!("mailbox {m:?}"));
            out.push(format!(
                "vanished {:?}",
                store.vanished_since(m.id, ModSeq(0)).unwrap()
            ));
            for meta in store.messages(m.id).unwrap() {
                let bytes = store.read_message(m.id, meta.uid).unwrap();
                out.push(format!("message {meta:?} {}", bytes.len()));
            }
        }
        for c in store.calendars(a.id).unwrap() {
            out.push(format!("calendar {c:?}"));
            out.push(format!(
                "changes {:?}",
                store.calendar_changes_since(c.id, 0).unwrap()
            ));
            for o in store.calendar_objects(c.id).unwrap() {
                out.push(format!("object {o:?}"));
            }
        }
    }
    out.push(format!("aliases {:?}", store.aliases().unwrap()));
    for item in store.queue_list().unwrap() {
        out.push(format!("queue {item:?}"));
        out.push(format!(
            "queued bytes {}",
            store.queue_read(item.id).unwrap().len()
        ));
    }
    out
}

fn migrate_and_compare(blobs_in_directory: bool) {
    let Some(db) = TestDatabase::fresh(if blobs_in_directory {
        "migrate_dir"
    } else {
        "migrate_db"
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = SqliteStore::open(dir.path()).unwrap();
    populate(&source);
    let before = snapshot(&source);
    drop(source);

    let blob_dir = tempfile::tempdir().unwrap();
    let mut options = PgOptions::new(db.url.clone());
    options.listen = false;
    if blobs_in_directory {
        options.blobs = BlobPlace::Directory(blob_dir.path().to_path_buf());
    }
    let mut lines = Vec::new();
    let report = sqlite_to_postgres(dir.path(), &options, |l| lines.push(l.to_owned())).unwrap();
    assert!(lines.iter().any(|l| l.starts_with("verified")), "{lines:?}");
    assert_eq!(report.blobs, 6, "6 appended - 1 expunged + 1 accepted");
    let messages = report.rows.iter().find(|(t, _)| t == "messages").unwrap().1;
    assert_eq!(messages, 6, "5 + big - 1 expunged + bob's copy");

    let target = PgStore::open(&options).unwrap();
    let after = snapshot(&target);
    assert_eq!(before, after);

    // New ids continue after the copied ones.
    let alice = target.account("alice@example.com").unwrap().unwrap();
    let inbox = target.mailbox(alice.id, "INBOX").unwrap().unwrap();
    let uid = target
        .append(inbox.id, b"Subject: new\r\n\r\nnew\r\n", &[], 1)
        .unwrap();
    assert_eq!(uid, inbox.uid_next);
    let carol_domain = target.add_account("dave@example.com", "$h").unwrap();
    assert!(target
        .accounts()
        .unwrap()
        .iter()
        .all(|a| a.id <= carol_domain.id));
    let fresh = target.create_mailbox(alice.id, "New", None).unwrap();
    let old_validity: Vec<u32> = target
        .mailboxes(alice.id)
        .unwrap()
        .iter()
        .filter(|m| m.id != fresh.id)
        .map(|m| m.uid_validity)
        .collect();
    assert!(!old_validity.contains(&fresh.uid_validity));
    drop(target);

    // The target is no longer empty: a second run is refused.
    let again = sqlite_to_postgres(dir.path(), &options, |_| {});
    assert!(
        matches!(&again, Err(StoreError::Invalid { why, .. }) if why.contains("not empty")),
        "{again:?}"
    );
}

#[test]
fn sqlite_moves_to_postgres_with_blobs_in_the_database() {
    migrate_and_compare(false);
}

#[test]
fn sqlite_moves_to_postgres_with_blobs_in_a_directory() {
    migrate_and_compare(true);
}

#[test]
fn a_damaged_blob_stops_the_migration_and_the_target_stays_empty() {
    let Some(db) = TestDatabase::fresh("migrate_damaged") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = SqliteStore::open(dir.path()).unwrap();
    source.add_domain("example.com").unwrap();
    let alice = source.add_account("alice@example.com", "$h").unwrap();
    let inbox = source.mailbox(alice.id, "INBOX").unwrap().unwrap();
    let big = format!("Subject: big\r\n\r\n{}\r\n", "y".repeat(100_000));
    source.append(inbox.id, big.as_bytes(), &[], 1).unwrap();
    let blob = source.messages(inbox.id).unwrap()[0].blob.clone();
    drop(source);
    // Flip one byte of the blob file.
    let path = dir
        .path()
        .join("blobs")
        .join(&blob.0[..2])
        .join(&blob.0[2..]);
    let mut bytes = std::fs::read(&path).expect("the blob file");
    bytes[50] ^= 1;
    std::fs::write(&path, bytes).unwrap();

    let mut options = PgOptions::new(db.url.clone());
    options.listen = false;
    let err = sqlite_to_postgres(dir.path(), &options, |_| {}).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM accounts", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "nothing is left half-migrated");
}
