//! `postern queue list|show|retry|delete` on a queue item put there the way
//! the SMTP session does it (`Store::accept` with a remote recipient).

mod common;

use common::{postern, DataDir};
use postern_store::sqlite::SqliteStore;
use postern_store::{Envelope, Incoming, Notify, RemoteRecipient, Store as _};

const MESSAGE: &[u8] = b"From: alice@example.test\r\nSubject: queued\r\n\r\nbody line\r\n";

#[test]
fn the_queue_can_be_listed_shown_retried_and_emptied() {
    let d = DataDir::init(&["--hostname", "localhost", "--domain", "example.test"]);
    postern(&d.path, &["queue", "list"])
        .ok()
        .stdout_has("the queue is empty");
    let id = {
        let store = SqliteStore::open(&d.path).expect("store");
        let envelope = Envelope {
            mail_from: "alice@example.test".into(),
            ..Envelope::default()
        };
        let remote = [RemoteRecipient {
            address: "bob@far.example".into(),
            notify: Notify::default(),
            orcpt: None,
        }];
        let accepted = store
            .accept(&Incoming {
                raw: MESSAGE,
                internal_date: 1_700_000_000,
                local: &[],
                envelope: &envelope,
                remote: &remote,
            })
            .expect("accept");
        accepted.queued.expect("a queue item").0.to_string()
    };
    postern(&d.path, &["queue", "list"])
        .ok()
        .stdout_has(&id)
        .stdout_has("<alice@example.test>")
        .stdout_has("bob@far.example (pending)")
        .stdout_has("1 messages");
    postern(&d.path, &["queue", "show", &id, "--message"])
        .ok()
        .stdout_has("recipient: <bob@far.example> pending")
        .stdout_has("Subject: queued");
    postern(&d.path, &["queue", "retry", &id])
        .ok()
        .stdout_has("next queue scan");
    postern(&d.path, &["queue", "retry"])
        .failed()
        .stderr_has("--all");
    postern(&d.path, &["queue", "delete", &id]).ok();
    postern(&d.path, &["queue", "list"])
        .ok()
        .stdout_has("the queue is empty");
    postern(&d.path, &["queue", "show", &id])
        .failed()
        .stderr_has("no message");
}
