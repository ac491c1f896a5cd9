//! `postern migrate`: an installation on the embedded SQLite store moved
//! into PostgreSQL. The copy says it verified itself; the `[store]` it
//! prints is what the configuration then needs; the accounts, messages,
//! flags, UIDs and UIDVALIDITY are the same afterwards, through the store
//! and through IMAP on a served node (RFC 9051 §2.3.1.1: a client's cache
//! stays valid only if UIDVALIDITY and the UIDs do not change); and a
//! second copy into the same database is refused.
//!
//! Needs a PostgreSQL server: `POSTERN_TEST_POSTGRES` is the URL of a
//! role that may create databases (`.ci/run` starts one on loopback).
//! The test makes a database of its own with `psql` and drops it at the
//! end. Without the variable it returns early, except under `CI=true`,
//! where it fails.

mod common;

use std::time::Duration;

use common::{DataDir, ServerProcess};
use postern_store::postgres::testing::TestDatabase;
use postern_store::sqlite::SqliteStore;
use postern_store::{Flag, FlagOp, Mailbox, MessageMeta, PgOptions, PgStore, Store, Uid};

const USER: &str = "alice@example.test";
const PASSWORD: &str = "a long passphrase";

/// `url` without its password, and the password: what an administrator
/// gives `migrate` as `--to` and `--password-file`, so that neither the
/// command line nor postern.toml holds the secret.
fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return (url.to_owned(), None);
    };
    match userinfo.split_once(':') {
        Some((user, password)) => (
            format!("{scheme}://{user}@{host}"),
            Some(password.to_owned()),
        ),
        None => (url.to_owned(), None),
    }
}

/// Tests stay on loopback: no SPF/DKIM lookups, DNS sent to the discard
/// port, no DANE or MTA-STS.
fn offline(d: &DataDir) {
    let text = common::read_string(&d.config());
    let mut out = text.clone();
    for (from, to) in [
        ("verify = true", "verify = false"),
        (
            "# resolver = \"127.0.0.1:53\"",
            "resolver = \"127.0.0.1:9\"",
        ),
        ("dane = true", "dane = false"),
        ("mta_sts = true", "mta_sts = false"),
    ] {
        assert!(out.contains(from), "postern.toml lacks {from:?}:\n{text}");
        out = out.replacen(from, to, 1);
    }
    std::fs::write(d.config(), out).expect("rewriting postern.toml");
}

fn message(n: usize) -> Vec<u8> {
    format!(
        "From: bob@example.test\r\nTo: {USER}\r\nSubject: before the move {n}\r\n\
         Message-ID: <{n}@migrate.example.test>\r\n\r\nbody {n}\r\n"
    )
    .into_bytes()
}

/// The INBOX as a store holds it: the mailbox, each message's metadata
/// and bytes.
fn inbox(store: &dyn Store) -> (Mailbox, Vec<(MessageMeta, Vec<u8>)>) {
    let account = store.account(USER).unwrap().expect("the account");
    let inbox = store.mailbox(account.id, "INBOX").unwrap().expect("INBOX");
    let messages = store
        .messages(inbox.id)
        .unwrap()
        .into_iter()
        .map(|m| {
            let raw = store.read_message(inbox.id, m.uid).expect("message bytes");
            (m, raw)
        })
        .collect();
    (inbox, messages)
}

/// Five messages delivered as an administrator does; then, as a client
/// would, the first expunged (so the UIDs no longer start at 1) and
/// flags set on the second.
fn fill(d: &DataDir) {
    common::postern_stdin(
        &d.path,
        &["user", "add", USER, "--password-stdin"],
        format!("{PASSWORD}\n").as_bytes(),
    )
    .ok();
    for n in 1..=5 {
        common::postern_stdin(&d.path, &["deliver", "--to", USER], &message(n)).ok();
    }
    let store = SqliteStore::open(&d.path).expect("the SQLite store");
    let account = store.account(USER).unwrap().expect("the account");
    let inbox = store.mailbox(account.id, "INBOX").unwrap().expect("INBOX");
    store.expunge(inbox.id, &[Uid(1)]).expect("expunge");
    store
        .store_flags(
            inbox.id,
            &[Uid(2)],
            FlagOp::Add,
            &[Flag::Seen, Flag::Keyword("$Moved".into())],
            None,
        )
        .expect("store flags");
}

/// The `[store]` section `migrate` printed, to the end of its output.
fn printed_store(stdout: &str) -> String {
    let start = stdout
        .find("[store]")
        .unwrap_or_else(|| panic!("migrate printed no [store] section:\n{stdout}"));
    stdout[start..].trim_end().to_owned()
}

/// What IMAP shows of the INBOX on a served node: UIDVALIDITY and the
/// UIDs in sequence order, read with `openssl s_client` over implicit TLS.
fn imap_inbox(port: u16, server: &ServerProcess) -> (u32, Vec<u32>) {
    let script = format!(
        "a LOGIN {USER} \"{PASSWORD}\"\r\nb SELECT INBOX\r\nc UID FETCH 1:* (UID)\r\nd LOGOUT\r\n"
    );
    let s = common::s_client(
        port,
        &["-quiet"],
        script.as_bytes(),
        Duration::from_secs(20),
    );
    let out = &s.stdout;
    assert!(
        out.contains("b OK") && out.contains("c OK"),
        "IMAP on the migrated node: {}\n{}",
        s.describe(),
        server.logs()
    );
    let validity = out
        .split("[UIDVALIDITY ")
        .nth(1)
        .and_then(|rest| rest.split(']').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no UIDVALIDITY in:\n{out}"));
    let uids = out
        .lines()
        .filter_map(|l| {
            l.strip_prefix("* ")?
                .split_once(" FETCH (UID ")?
                .1
                .trim_end_matches(['\r', ')'])
                .parse()
                .ok()
        })
        .collect();
    (validity, uids)
}

#[test]
fn migrate_moves_an_installation_into_postgresql_with_its_uids() {
    if !common::require_openssl() {
        return;
    }
    let Some(db) = TestDatabase::fresh("cli_migrate") else {
        return;
    };
    let (d, ports) = common::dev_dir();
    offline(&d);
    fill(&d);
    let before = inbox(&SqliteStore::open(&d.path).expect("the SQLite store"));
    assert_eq!(before.1.len(), 4, "the SQLite INBOX: {:?}", before.1);

    let (to, password) = split_password(&db.url);
    let from = format!("sqlite://{}", d.path.display());
    let mut args = vec!["migrate", "--from", &from, "--to", &to];
    let pass_file = d.scratch().join("db.pass");
    let pass_path = pass_file.display().to_string();
    if let Some(p) = &password {
        std::fs::write(&pass_file, format!("{p}\n")).expect("password file");
        args.extend(["--password-file", &pass_path]);
    }
    let run = d.run(&args).ok();
    run.stdout_has("verified");
    let section = printed_store(&run.stdout);
    assert!(
        section.contains("backend = \"postgres\""),
        "printed: {section}"
    );
    if let Some(p) = &password {
        assert!(
            !run.stdout.contains(p.as_str()),
            "the password was printed:\n{}",
            run.stdout
        );
    }

    // A second copy into the database, now full, is refused.
    let again = d.run(&args).failed();
    again.stderr_has("empty database");
    eprintln!("second migrate refused: {}", again.stderr.trim());

    // The configuration switched as printed; the SQLite file moved away, so
    // that whatever answers now answers from PostgreSQL.
    let config = common::read_string(&d.config());
    std::fs::write(d.config(), format!("{config}\n{section}\n")).expect("postern.toml");
    let aside = d.scratch().join("sqlite");
    std::fs::create_dir_all(&aside).expect("a place for the SQLite files");
    for name in std::fs::read_dir(&d.path).expect("the data directory") {
        let name = name.expect("an entry").file_name();
        if name.to_string_lossy().starts_with("mail.db") {
            std::fs::rename(d.path.join(&name), aside.join(&name)).expect("moving mail.db");
        }
    }
    d.run(&["check"]).ok();
    d.run(&["user", "list"]).ok().stdout_has(USER);

    let mut options = PgOptions::new(db.url.clone());
    options.listen = false;
    options.pool_size = 2;
    let pg = PgStore::open(&options).expect("the PostgreSQL store");
    let after = inbox(&pg);
    drop(pg);
    assert_eq!(after.0, before.0, "the INBOX changed in the move");
    assert_eq!(
        after.1.len(),
        before.1.len(),
        "messages lost or gained: {:?}",
        after.1
    );
    for ((m_after, raw_after), (m_before, raw_before)) in after.1.iter().zip(&before.1) {
        assert_eq!(m_after, m_before, "a message's metadata changed");
        assert_eq!(
            raw_after, raw_before,
            "UID {:?}: the bytes changed",
            m_after.uid
        );
    }

    let mut server = ServerProcess::start(&d.path, &d.scratch());
    let imaps = ports.get("imaps");
    server.wait_for_port(imaps);
    let (validity, uids) = imap_inbox(imaps, &server);
    assert_eq!(validity, before.0.uid_validity, "UIDVALIDITY changed");
    let expected: Vec<u32> = before.1.iter().map(|(m, _)| m.uid.0).collect();
    assert_eq!(uids, expected, "the UIDs IMAP shows changed");
    assert!(server.exited().is_none(), "{}", server.logs());
    eprintln!("UIDVALIDITY {validity}, UIDs {uids:?} before and after the move");
}
