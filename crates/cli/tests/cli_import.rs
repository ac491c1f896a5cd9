//! `postern import --mbox FILE | --maildir DIR --to ADDRESS`, through the
//! binary, with the result read back from the store itself.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{postern_stdin, DataDir};
use postern_store::{Flag, MessageMeta, SqliteStore, Store as _};

const USER: &str = "alice@example.test";
const PASSWORD: &[u8] = b"a long passphrase\n";

/// A data directory with the account alice@example.test.
fn with_account() -> DataDir {
    let d = DataDir::init(&[
        "--dev-ports",
        "--hostname",
        "localhost",
        "--domain",
        "example.test",
    ]);
    postern_stdin(
        &d.path,
        &["user", "add", USER, "--password-stdin"],
        PASSWORD,
    )
    .ok();
    d
}

/// The INBOX of `address`, read from the store directly: each message's
/// metadata with its bytes.
fn inbox(d: &DataDir, address: &str) -> Vec<(MessageMeta, Vec<u8>)> {
    let store = SqliteStore::open(&d.path).expect("opening the store");
    let account = store.account(address).unwrap().expect("the account");
    let inbox = store.mailbox(account.id, "INBOX").unwrap().expect("INBOX");
    store
        .messages(inbox.id)
        .unwrap()
        .into_iter()
        .map(|m| {
            let raw = store.read_message(inbox.id, m.uid).unwrap();
            (m, raw)
        })
        .collect()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
    path.to_owned()
}

fn set_mtime(path: &Path, unix: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(unix))
        .unwrap();
}

fn import(d: &DataDir, args: &[&str]) -> common::Run {
    let mut full = vec!["import"];
    full.extend_from_slice(args);
    d.run(&full)
}

/// Three messages as mutt writes an mboxrd: LF line endings, a blank line
/// before each separator, `>From ` quoted, a `Status:` header.
const MBOX: &[u8] = b"From bob@example.test Mon Nov 23 06:19:57 2026\n\
Status: RO\n\
From: bob@example.test\n\
Subject: one\n\
\n\
first body line\n\
>From here\n\
>>From there\n\
From the middle of a paragraph stays\n\
\n\
From carol@example.test Tue Nov 24 10:00:00 2026\n\
X-Status: AF\n\
Subject: two\n\
\n\
second\n\
\n\
From dave@example.test not a date at all\n\
Subject: three\n\
\n\
.a line with a leading dot\n\
last line without a blank after it\n";

#[test]
fn mbox_messages_come_back_exact_with_crlf_flags_and_dates() {
    let d = with_account();
    let mbox = write(&d.scratch().join("in.mbox"), MBOX);
    let before = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let run = import(&d, &["--mbox", mbox.to_str().unwrap(), "--to", USER]).ok();
    run.stdout_has("Imported 3 messages (");
    run.stdout_has(&format!("into the INBOX of {USER}"));
    assert!(!run.stdout.contains("skipped"), "{}", run.describe());

    let got = inbox(&d, USER);
    assert_eq!(got.len(), 3, "{}", run.describe());

    let (meta, raw) = &got[0];
    assert_eq!(
        String::from_utf8_lossy(raw),
        "Status: RO\r\nFrom: bob@example.test\r\nSubject: one\r\n\r\nfirst body line\r\n\
         From here\r\n>From there\r\nFrom the middle of a paragraph stays\r\n"
    );
    assert_eq!(meta.flags, vec![Flag::Seen]);
    // date -u -d '2026-11-23 06:19:57' +%s
    assert_eq!(meta.internal_date, 1_795_414_797);
    assert_eq!(meta.size, raw.len() as u64);

    let (meta, raw) = &got[1];
    assert_eq!(
        String::from_utf8_lossy(raw),
        "X-Status: AF\r\nSubject: two\r\n\r\nsecond\r\n"
    );
    assert_eq!(meta.flags, vec![Flag::Answered, Flag::Flagged]);
    assert_eq!(meta.internal_date, 1_795_514_400);

    let (meta, raw) = &got[2];
    assert_eq!(
        String::from_utf8_lossy(raw),
        "Subject: three\r\n\r\n.a line with a leading dot\r\nlast line without a blank after it\r\n"
    );
    assert!(meta.flags.is_empty());
    // No date in the separator: the time of the import.
    assert!(meta.internal_date >= before, "{meta:?}");

    let total: usize = got.iter().map(|(_, r)| r.len()).sum();
    run.stdout_has(&format!("({total} bytes)"));
}

/// `D` in `Status:`/`X-Status:` must not become \Deleted; CRLF input stays
/// CRLF (not doubled).
#[test]
fn mbox_deleted_status_is_not_imported_and_crlf_input_is_kept() {
    let d = with_account();
    let mbox = write(
        &d.scratch().join("crlf.mbox"),
        b"From x@example.test Wed Jan  7 08:00:00 2026\r\n\
Status: RO\r\nX-Status: D\r\nSubject: gone?\r\n\r\nbody\r\n\r\n",
    );
    import(&d, &["--mbox", mbox.to_str().unwrap(), "--to", USER])
        .ok()
        .stdout_has("Imported 1 message (");
    let got = inbox(&d, USER);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.flags, vec![Flag::Seen]);
    assert_eq!(
        got[0].1,
        b"Status: RO\r\nX-Status: D\r\nSubject: gone?\r\n\r\nbody\r\n"
    );
}

#[test]
fn maildir_new_and_cur_in_timestamp_order_with_flags_and_mtime() {
    let d = with_account();
    let md = d.scratch().join("Maildir");
    // Named in delivery order 1, 2, 3 across new/ and cur/; listed in
    // another order on purpose.
    let third = write(
        &md.join("new/1700000300.M3P1.host"),
        b"Subject: third\n\nnew mail\n",
    );
    let first = write(
        &md.join("cur/1700000100.M1P1.host:2,FS"),
        b"Subject: first\n\nread and flagged\n",
    );
    let second = write(
        &md.join("cur/1700000200.M2P1.host:2,RT"),
        b"Subject: second\r\n\r\nanswered, trashed\r\n",
    );
    write(
        &md.join("tmp/1700000400.M4P1.host"),
        b"Subject: half-written\n\n",
    );
    write(&md.join("cur/.hidden"), b"Subject: not mail\n\n");
    set_mtime(&first, 1_600_000_001);
    set_mtime(&second, 1_600_000_002);
    set_mtime(&third, 1_600_000_003);

    let run = import(&d, &["--maildir", md.to_str().unwrap(), "--to", USER]).ok();
    run.stdout_has("Imported 3 messages (");

    let got = inbox(&d, USER);
    let subjects: Vec<String> = got
        .iter()
        .map(|(_, raw)| {
            String::from_utf8_lossy(raw)
                .lines()
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        subjects,
        ["Subject: first", "Subject: second", "Subject: third"],
        "{}",
        run.describe()
    );
    assert_eq!(got[0].1, b"Subject: first\r\n\r\nread and flagged\r\n");
    assert_eq!(got[0].0.flags, vec![Flag::Seen, Flag::Flagged]);
    // T (trashed) is not imported as \Deleted.
    assert_eq!(got[1].0.flags, vec![Flag::Answered]);
    assert_eq!(got[1].1, b"Subject: second\r\n\r\nanswered, trashed\r\n");
    assert!(got[2].0.flags.is_empty());
    let dates: Vec<i64> = got.iter().map(|(m, _)| m.internal_date).collect();
    assert_eq!(dates, [1_600_000_001, 1_600_000_002, 1_600_000_003]);
}

#[test]
fn a_file_that_is_not_an_mbox_is_refused() {
    let d = with_account();
    let eml = write(
        &d.scratch().join("message.eml"),
        b"Subject: a single message\n\nFrom here on it is a body.\n\nFrom x Mon Nov 23 06:19:57 2026\n",
    );
    import(&d, &["--mbox", eml.to_str().unwrap(), "--to", USER])
        .failed()
        .stderr_has("is not an mbox file");
    assert!(inbox(&d, USER).is_empty());

    // A directory given as --mbox, and a non-Maildir given as --maildir.
    let dir = d.scratch();
    import(&d, &["--mbox", dir.to_str().unwrap(), "--to", USER])
        .failed()
        .stderr_has("is a directory");
    import(&d, &["--maildir", dir.to_str().unwrap(), "--to", USER])
        .failed()
        .stderr_has("is not a Maildir");
    assert!(inbox(&d, USER).is_empty());
}

#[test]
fn an_unknown_address_is_refused_before_anything_is_stored() {
    let d = with_account();
    let mbox = write(&d.scratch().join("in.mbox"), MBOX);
    let blobs_before = count_files(&d.path.join("blobs"));
    import(
        &d,
        &[
            "--mbox",
            mbox.to_str().unwrap(),
            "--to",
            "nobody@example.test",
        ],
    )
    .failed()
    .stderr_has("there is no account nobody@example.test");
    assert!(inbox(&d, USER).is_empty());
    assert_eq!(count_files(&d.path.join("blobs")), blobs_before);
}

#[test]
fn dry_run_counts_and_stores_nothing() {
    let d = with_account();
    let mbox = write(&d.scratch().join("in.mbox"), MBOX);
    import(
        &d,
        &["--mbox", mbox.to_str().unwrap(), "--to", USER, "--dry-run"],
    )
    .ok()
    .stdout_has("would import 3 messages");
    assert!(inbox(&d, USER).is_empty());
}

/// A 51 MB message between two small ones is skipped and reported; the
/// others are imported and the exit is 0. A source with nothing but a too
/// large message exits non-zero.
#[test]
fn a_message_over_50_mb_is_skipped_and_reported() {
    let d = with_account();
    let path = d.scratch().join("big.mbox");
    {
        use std::io::Write as _;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f.write_all(b"From a@example.test Mon Nov 23 06:19:57 2026\nSubject: small one\n\nhi\n\n")
            .unwrap();
        f.write_all(b"From b@example.test Mon Nov 23 06:20:57 2026\nSubject: huge\n\n")
            .unwrap();
        let line = [b'x'; 76];
        // 51 MB of 78-byte lines (77 with LF, 78 with CRLF).
        for _ in 0..(51_000_000 / 77 + 1) {
            f.write_all(&line).unwrap();
            f.write_all(b"\n").unwrap();
        }
        f.write_all(b"\nFrom c@example.test Mon Nov 23 06:21:57 2026\nSubject: small two\n\nbye\n")
            .unwrap();
        f.flush().unwrap();
    }
    let run = import(&d, &["--mbox", path.to_str().unwrap(), "--to", USER]).ok();
    run.stdout_has("Imported 2 messages (");
    run.stdout_has("skipped 1: 1 larger than the 50 MB limit (message 2 (line 6))");
    let got = inbox(&d, USER);
    let subjects: Vec<String> = got
        .iter()
        .map(|(_, raw)| {
            String::from_utf8_lossy(raw)
                .lines()
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(subjects, ["Subject: small one", "Subject: small two"]);
    drop(std::fs::remove_file(&path));

    // Nothing importable at all: non-zero.
    let md = d.scratch().join("Maildir");
    std::fs::create_dir_all(md.join("cur")).unwrap();
    std::fs::create_dir_all(md.join("new")).unwrap();
    // A sparse file: 51 MB on paper, nothing on disk.
    std::fs::File::create(md.join("new/1700000000.M1P1.host"))
        .unwrap()
        .set_len(51 * 1024 * 1024)
        .unwrap();
    let run = import(&d, &["--maildir", md.to_str().unwrap(), "--to", USER]).failed();
    run.stdout_has("Imported 0 messages (0 bytes)");
    run.stdout_has("skipped 1: 1 larger than the 50 MB limit (new/1700000000.M1P1.host)");
    assert_eq!(inbox(&d, USER).len(), 2);
}

fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_files(&p)
            } else {
                1
            }
        })
        .sum()
}
