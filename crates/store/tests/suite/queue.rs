//! Acceptance of incoming mail and the outbound queue.

use postern_store::{
    Accepted, Change, DsnRet, Envelope, Incoming, LocalFolder, Notify, QueueId, RecipientOutcome,
    RecipientState, RemoteRecipient, SpecialUse, Store, StoreError,
};

use super::{fails, mailbox, message, ok, with_alice, Fixture};

/// A remote recipient with the default NOTIFY.
pub fn remote(address: &str) -> RemoteRecipient {
    RemoteRecipient {
        address: address.into(),
        notify: Notify::default(),
        orcpt: None,
    }
}

/// An envelope from `alice@example.com`.
pub fn envelope() -> Envelope {
    Envelope {
        mail_from: "alice@example.com".into(),
        ..Envelope::default()
    }
}

/// Queues `raw` for `to` (remote only), created at `at`.
pub fn enqueue(s: &dyn Store, raw: &[u8], at: i64, to: &[RemoteRecipient]) -> QueueId {
    let env = envelope();
    let msg = Incoming {
        raw,
        internal_date: at,
        local: &[],
        envelope: &env,
        remote: to,
    };
    let accepted = ok(s.accept(&msg), "accept");
    assert!(accepted.local.is_empty());
    accepted.queued.expect("a queue item")
}

fn deferred(at: i64) -> RecipientOutcome {
    RecipientOutcome::Deferred {
        next_attempt: at,
        error: format!("451 4.3.0 try at {at}"),
    }
}

fn ids(items: &[postern_store::QueueItem]) -> Vec<QueueId> {
    items.iter().map(|i| i.id).collect()
}

/// One accept stores the local copies and the queue item, sharing one
/// blob, with the envelope and every recipient parameter kept exactly,
/// and announces both.
pub fn accept_stores_local_and_queued(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let mut changes = s.subscribe();
    let env = Envelope {
        mail_from: "sender@remote.example".into(),
        envid: Some("QQ314159".into()),
        ret: Some(DsnRet::Headers),
        requiretls: true,
        smtputf8: true,
        eight_bit: true,
    };
    let to = [
        RemoteRecipient {
            address: "bob@elsewhere.example".into(),
            notify: Notify {
                success: true,
                failure: true,
                delay: false,
            },
            orcpt: Some("rfc822;bob@elsewhere.example".into()),
        },
        RemoteRecipient {
            address: "carol@elsewhere.example".into(),
            notify: Notify::NEVER,
            orcpt: None,
        },
    ];
    let raw = message(1);
    let msg = Incoming {
        raw: &raw,
        internal_date: 1_700_000_000,
        local: &[alice.id],
        envelope: &env,
        remote: &to,
    };
    let Accepted { local, queued } = ok(s.accept(&msg), "accept");
    let id = queued.expect("queued");
    let inbox = mailbox(&s, &alice, "INBOX").id;
    assert_eq!(local.len(), 1);
    assert_eq!(local[0].0, inbox);
    assert_eq!(ok(s.read_message(inbox, local[0].1), "read local"), raw);
    assert_eq!(ok(s.queue_read(id), "read queued"), raw);
    assert_eq!(fx.blob_count(), 1, "one blob for both");

    let item = ok(s.queue_item(id), "item").expect("the item");
    assert_eq!(item.envelope, env);
    assert_eq!(item.created, 1_700_000_000);
    assert_eq!(item.size, raw.len() as u64);
    assert_eq!(item.recipients.len(), 2);
    for (got, want) in item.recipients.iter().zip(&to) {
        assert_eq!(got.address, want.address);
        assert_eq!(got.notify, want.notify);
        assert_eq!(got.orcpt, want.orcpt);
        assert_eq!(got.state, RecipientState::Pending);
        assert_eq!(got.attempts, 0);
        assert_eq!(got.next_attempt, 1_700_000_000);
        assert_eq!((&got.last_error, &got.detail), (&None, &None));
    }
    assert!(!item.is_finished());
    assert_eq!(ok(s.queue_list(), "list"), [item]);
    assert_eq!(
        changes.try_recv().unwrap(),
        Change::Appended {
            mailbox: inbox,
            uid: local[0].1
        }
    );
    assert_eq!(changes.try_recv().unwrap(), Change::Queued { id });
}

/// Nothing is stored when the message cannot be stored whole: no
/// recipient, an empty remote address, an unknown account.
pub fn accept_is_all_or_nothing(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let env = envelope();
    let raw = message(2);
    let bad_remote = [remote("")];
    let good_remote = [remote("bob@elsewhere.example")];
    let ghost = [alice.id, postern_store::AccountId(alice.id.0 + 1000)];
    let cases: [(&[_], &[_]); 3] = [
        (&[], &[]),
        (&[alice.id], &bad_remote),
        (&ghost, &good_remote),
    ];
    for (local, to) in cases {
        let msg = Incoming {
            raw: &raw,
            internal_date: 0,
            local,
            envelope: &env,
            remote: to,
        };
        fails(s.accept(&msg), "a bad accept", |e| {
            matches!(e, StoreError::Invalid { .. } | StoreError::NotFound { .. })
        });
    }
    assert!(ok(s.queue_list(), "list").is_empty());
    assert!(ok(s.messages(mailbox(&s, &alice, "INBOX").id), "inbox").is_empty());
    assert_eq!(fx.blob_count(), 0, "no blob left behind");
}

/// Quarantined mail goes to the Junk folder: the one marked `\Junk`
/// even under another name, else a new "Junk" when the user deleted it;
/// the INBOX gets nothing, and the queue item is the same as for INBOX.
pub fn accept_into_junk_finds_or_creates_it(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let env = envelope();
    let accept = |n: usize, to: &[RemoteRecipient]| {
        let raw = message(n);
        let msg = Incoming {
            raw: &raw,
            internal_date: 0,
            local: &[alice.id],
            envelope: &env,
            remote: to,
        };
        ok(s.accept_into(&msg, LocalFolder::Junk), "accept into Junk")
    };
    let junk = mailbox(&s, &alice, "Junk");
    let first = accept(1, &[remote("bob@elsewhere.example")]);
    assert_eq!(first.local.len(), 1);
    assert_eq!(first.local[0].0, junk.id);
    assert!(
        first.queued.is_some(),
        "remote recipients are queued as usual"
    );
    assert_eq!(ok(s.messages(junk.id), "junk").len(), 1);
    let inbox = mailbox(&s, &alice, "INBOX");
    assert!(ok(s.messages(inbox.id), "inbox").is_empty());

    // Renamed: the special use still says where junk goes.
    ok(s.rename_mailbox(junk.id, "Spam"), "rename");
    assert_eq!(accept(2, &[]).local[0].0, junk.id);

    // Deleted: created again, marked, announced.
    ok(s.delete_mailbox(junk.id), "delete");
    let mut changes = s.subscribe();
    let again = accept(3, &[]).local[0].0;
    let created = mailbox(&s, &alice, "Junk");
    assert_eq!(again, created.id);
    assert_ne!(created.id, junk.id);
    assert_eq!(created.special_use, Some(SpecialUse::Junk));
    assert_eq!(ok(s.messages(created.id), "new junk").len(), 1);
    assert_eq!(
        changes.try_recv().ok(),
        Some(Change::MailboxCreated {
            mailbox: created.id
        })
    );
    assert!(ok(s.messages(inbox.id), "inbox").is_empty());
}

/// `queue_due` returns items with a pending recipient due at `now`,
/// earliest first, then by age; `limit` cuts; final and later ones are
/// left out.
pub fn due_items_in_order(fx: &impl Fixture) {
    let s = fx.open();
    with_alice(&s);
    let a = enqueue(&s, &message(1), 100, &[remote("a@x.example")]);
    let b = enqueue(&s, &message(2), 50, &[remote("b@x.example")]);
    let c = enqueue(&s, &message(3), 100, &[remote("c@x.example")]);
    let d = enqueue(&s, &message(4), 500, &[remote("d@x.example")]);
    assert_eq!(ids(&ok(s.queue_due(99, 10), "due")), [b]);
    assert_eq!(ids(&ok(s.queue_due(100, 10), "due")), [b, a, c]);
    assert_eq!(ids(&ok(s.queue_due(1000, 2), "due")), [b, a]);
    assert!(ok(s.queue_due(49, 10), "due").is_empty());

    // b deferred to 300: after a and c, before d.
    ok(
        s.queue_update(b, &[("b@x.example".into(), deferred(300))]),
        "defer",
    );
    assert_eq!(ids(&ok(s.queue_due(1000, 10), "due")), [a, c, b, d]);
    assert_eq!(ok(s.queue_next_due(), "next"), Some(100));
    // a failed: finished, never due again.
    let fail = RecipientOutcome::Failed {
        error: "550 5.1.1 no such user".into(),
    };
    ok(s.queue_update(a, &[("a@x.example".into(), fail)]), "fail");
    assert_eq!(ids(&ok(s.queue_due(i64::MAX, 10), "due")), [c, b, d]);
    assert_eq!(ids(&ok(s.queue_finished(10), "finished")), [a]);
    assert_eq!(ids(&ok(s.queue_list(), "list")), [a, b, c, d]);
}

/// Outcomes per recipient: attempts count, deferral moves the time and
/// keeps the error, delivered and failed are final; the item is finished
/// only when no recipient is pending, and stays until `queue_finish`.
pub fn outcomes_and_attempts(fx: &impl Fixture) {
    let s = fx.open();
    with_alice(&s);
    let to = [remote("a@x.example"), remote("b@y.example")];
    let id = enqueue(&s, &message(1), 10, &to);
    let item = ok(
        s.queue_update(
            id,
            &[
                ("a@x.example".into(), deferred(70)),
                ("b@y.example".into(), deferred(40)),
            ],
        ),
        "first attempt",
    );
    assert_eq!(item.recipients[0].attempts, 1);
    assert_eq!(item.recipients[0].next_attempt, 70);
    assert_eq!(
        item.recipients[0].last_error.as_deref(),
        Some("451 4.3.0 try at 70")
    );
    assert_eq!(ok(s.queue_next_due(), "next"), Some(40));
    let due = ok(s.queue_due(40, 10), "due at 40");
    let names: Vec<_> = due[0].due_recipients(40).map(|r| &r.address).collect();
    assert_eq!(names, ["b@y.example"], "only b is due at 40");

    let delivered = RecipientOutcome::Delivered {
        detail: "250 2.0.0 Ok: queued as X".into(),
    };
    let item = ok(
        s.queue_update(id, &[("b@y.example".into(), delivered)]),
        "b delivered",
    );
    assert_eq!(item.recipients[1].state, RecipientState::Delivered);
    assert_eq!(item.recipients[1].attempts, 2);
    assert_eq!(
        item.recipients[1].detail.as_deref(),
        Some("250 2.0.0 Ok: queued as X")
    );
    assert!(!item.is_finished());
    // A final recipient cannot be updated again, nor an unknown one.
    for name in ["b@y.example", "nobody@x.example"] {
        fails(
            s.queue_update(id, &[(name.into(), deferred(1))]),
            "update a non-pending recipient",
            |e| matches!(e, StoreError::Invalid { .. }),
        );
    }
    fails(
        s.queue_finish(id, None),
        "finish with a pending recipient",
        |e| matches!(e, StoreError::InUse { .. }),
    );
    let fail = RecipientOutcome::Failed {
        error: "retried for too long".into(),
    };
    let item = ok(
        s.queue_update(id, &[("a@x.example".into(), fail)]),
        "a failed",
    );
    assert_eq!(item.recipients[0].state, RecipientState::Failed);
    assert_eq!(item.recipients[0].attempts, 2);
    assert!(item.is_finished());
    assert_eq!(ok(s.queue_next_due(), "next"), None);
    assert!(ok(s.queue_due(i64::MAX, 10), "due").is_empty());
    assert_eq!(
        ok(s.queue_item(id), "item"),
        Some(item),
        "kept until finish"
    );
    assert!(ok(s.queue_finish(id, None), "finish").is_none());
    assert_eq!(ok(s.queue_item(id), "item"), None);
    assert_eq!(fx.blob_count(), 0, "the blob went with the item");
    fails(s.queue_update(id, &[]), "update a gone item", |e| {
        matches!(e, StoreError::NotFound { .. })
    });
}

/// `queue_finish` with a DSN stores the notification (here for a local
/// sender) and removes the item in one step.
pub fn finish_stores_the_dsn(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let id = enqueue(&s, &message(1), 10, &[remote("a@x.example")]);
    let fail = RecipientOutcome::Failed {
        error: "550 5.1.1 unknown".into(),
    };
    ok(s.queue_update(id, &[("a@x.example".into(), fail)]), "fail");
    let dsn = b"Subject: Undelivered Mail\r\n\r\nsorry\r\n".to_vec();
    let null = Envelope::default();
    let msg = Incoming {
        raw: &dsn,
        internal_date: 20,
        local: &[alice.id],
        envelope: &null,
        remote: &[],
    };
    let placed = ok(s.queue_finish(id, Some(&msg)), "finish").expect("the DSN");
    assert!(placed.queued.is_none());
    let (inbox, uid) = placed.local[0];
    assert_eq!(ok(s.read_message(inbox, uid), "read the DSN"), dsn);
    assert!(ok(s.queue_list(), "list").is_empty());
    assert_eq!(fx.blob_count(), 1, "the DSN's blob only");
    fails(s.queue_finish(id, None), "finish twice", |e| {
        matches!(e, StoreError::NotFound { .. })
    });
}

/// `queue_retry_now` makes the pending recipients due at once and
/// announces it; final recipients and attempts do not move.
pub fn retry_now_makes_due(fx: &impl Fixture) {
    let s = fx.open();
    with_alice(&s);
    let id = enqueue(
        &s,
        &message(1),
        10,
        &[remote("a@x.example"), remote("b@x.example")],
    );
    let delivered = RecipientOutcome::Delivered {
        detail: "250 ok".into(),
    };
    ok(
        s.queue_update(
            id,
            &[
                ("a@x.example".into(), deferred(10_000)),
                ("b@x.example".into(), delivered),
            ],
        ),
        "update",
    );
    assert!(ok(s.queue_due(100, 10), "due").is_empty());
    let mut changes = s.subscribe();
    ok(s.queue_retry_now(id, 100), "retry now");
    assert_eq!(changes.try_recv().unwrap(), Change::Queued { id });
    let due = ok(s.queue_due(100, 10), "due");
    assert_eq!(ids(&due), [id]);
    let r = &due[0].recipients;
    assert_eq!((r[0].next_attempt, r[0].attempts), (100, 1));
    assert_eq!(r[1].state, RecipientState::Delivered);
    fails(s.queue_retry_now(QueueId(id.0 + 99), 0), "gone", |e| {
        matches!(e, StoreError::NotFound { .. })
    });
}

/// A claimed item is invisible to `queue_due`/`queue_claim` until its
/// lease ends or an outcome is recorded.
pub fn claims_keep_workers_apart(fx: &impl Fixture) {
    let s = fx.open();
    with_alice(&s);
    let a = enqueue(&s, &message(1), 10, &[remote("a@x.example")]);
    let b = enqueue(&s, &message(2), 20, &[remote("b@x.example")]);
    assert_eq!(ids(&ok(s.queue_claim(100, 200, 1), "claim")), [a]);
    assert_eq!(ids(&ok(s.queue_due(100, 10), "due")), [b]);
    assert_eq!(ids(&ok(s.queue_claim(100, 200, 10), "claim")), [b]);
    assert!(ok(s.queue_claim(150, 300, 10), "all claimed").is_empty());
    assert_eq!(ok(s.queue_next_due(), "next"), Some(200));
    // The lease of a ran out; b's outcome ends its claim.
    ok(
        s.queue_update(b, &[("b@x.example".into(), deferred(150))]),
        "defer b",
    );
    assert_eq!(ids(&ok(s.queue_claim(200, 300, 10), "claim")), [a, b]);
}

/// `queue_delete` removes the item whatever its state and frees its blob,
/// unless a mailbox still holds the same message.
pub fn delete_frees_unreferenced_blobs(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let only_queued = enqueue(&s, &message(1), 10, &[remote("a@x.example")]);
    let env = envelope();
    let raw = message(2);
    let to = [remote("b@x.example")];
    let msg = Incoming {
        raw: &raw,
        internal_date: 10,
        local: &[alice.id],
        envelope: &env,
        remote: &to,
    };
    let shared = ok(s.accept(&msg), "accept").queued.unwrap();
    assert_eq!(fx.blob_count(), 2);
    ok(s.queue_delete(only_queued), "delete");
    assert_eq!(fx.blob_count(), 1, "its blob is gone");
    ok(s.queue_delete(shared), "delete");
    assert_eq!(fx.blob_count(), 1, "the INBOX copy keeps its blob");
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let uid = ok(s.messages(inbox), "inbox")[0].uid;
    assert_eq!(ok(s.read_message(inbox, uid), "read"), raw);
    fails(s.queue_delete(shared), "delete twice", |e| {
        matches!(e, StoreError::NotFound { .. })
    });
    fails(s.queue_read(shared), "read deleted", |e| {
        matches!(e, StoreError::NotFound { .. })
    });
    ok(s.expunge(inbox, &[uid]), "expunge");
    assert_eq!(fx.blob_count(), 0);
}

/// The queue survives a restart with every state; claims do not.
pub fn queue_survives_reopen(fx: &impl Fixture) {
    let s = fx.open();
    with_alice(&s);
    let a = enqueue(&s, &message(1), 10, &[remote("a@x.example")]);
    let b = enqueue(
        &s,
        &message(2),
        20,
        &[remote("b@x.example"), remote("c@x.example")],
    );
    ok(
        s.queue_update(b, &[("b@x.example".into(), deferred(99))]),
        "defer",
    );
    ok(s.queue_claim(30, 1_000, 10), "claim");
    let before = ok(s.queue_list(), "list");
    drop(s);

    let s = fx.open();
    assert_eq!(ok(s.queue_list(), "list"), before);
    assert_eq!(
        ids(&ok(s.queue_due(30, 10), "due")),
        [a, b],
        "claims forgotten"
    );
    assert_eq!(ok(s.queue_read(b), "read"), message(2));
    let c = enqueue(&s, &message(3), 40, &[remote("d@x.example")]);
    assert!(c > b, "ids are not reused");
}
