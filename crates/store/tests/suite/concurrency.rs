//! Many writers and readers at once, and group commit.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;

use postern_store::{
    AccountId, Change, Envelope, Flag, FlagOp, Incoming, MailboxId, Notify, QueueId,
    RemoteRecipient, Store, StoreError, Uid,
};

use super::{mailbox, ok, with_alice, Fixture};

const WRITERS: usize = 8;
const PER_WRITER: usize = 50;

/// 8 threads deliver 50 messages each into one INBOX while 2 threads list
/// it: 400 distinct UIDs, every message readable as written, and no reader
/// ever fails or sees UIDs out of order.
pub fn parallel_deliveries_with_readers(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let body = |w: usize, i: usize| format!("Subject: {w}/{i}\r\n\r\nfrom writer {w}, #{i}\r\n");
    let done = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    let start = Barrier::new(WRITERS + 2);

    let delivered: Vec<_> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    while !done.load(Ordering::Acquire) {
                        let list = ok(s.messages(inbox), "reader");
                        assert!(list.windows(2).all(|w| w[0].uid < w[1].uid));
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (s, start, alice) = (&s, &start, &alice);
                scope.spawn(move || {
                    start.wait();
                    let mut placed = Vec::new();
                    for i in 0..PER_WRITER {
                        let raw = body(w, i).into_bytes();
                        let at = ok(s.deliver(&[alice.id], &raw, 0), "deliver")[0];
                        placed.push((at, raw));
                    }
                    placed
                })
            })
            .collect();
        let placed = writers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        done.store(true, Ordering::Release);
        for r in readers {
            r.join().unwrap();
        }
        placed
    });

    let uids: HashSet<_> = delivered.iter().map(|((_, uid), _)| *uid).collect();
    assert_eq!(uids.len(), WRITERS * PER_WRITER, "UIDs are distinct");
    for ((mailbox, uid), raw) in &delivered {
        assert_eq!(mailbox, &inbox);
        assert_eq!(&ok(s.read_message(*mailbox, *uid), "read"), raw);
    }
    assert_eq!(ok(s.messages(inbox), "final").len(), WRITERS * PER_WRITER);
    assert!(reads.load(Ordering::Relaxed) > 0, "the readers ran");
}

const SUBMITTERS: usize = 8;
const PER_SUBMITTER: usize = 40;

/// What one submitter got back: per accept, the INBOX copy, the queue item
/// and the bytes.
type Acked = Vec<((MailboxId, Uid), QueueId, Vec<u8>)>;

/// 8 threads x 40 accepts (local copy + queue item each), which share
/// commit rounds: every acknowledged message reads back byte for byte from
/// the INBOX and from the queue; UIDs and queue ids are distinct and
/// ascend in each thread's call order; one `Appended` and one `Queued` is
/// announced per accept, each thread's in its call order (`Store::subscribe`:
/// concurrent commits on PostgreSQL may be announced in either order).
pub fn concurrent_accepts_share_rounds(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let mut changes = s.subscribe();
    let start = Barrier::new(SUBMITTERS);
    let acked: Vec<Acked> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..SUBMITTERS)
            .map(|t| {
                let (s, start, alice) = (&s, &start, &alice);
                scope.spawn(move || {
                    start.wait();
                    (0..PER_SUBMITTER)
                        .map(|i| accept_one(s, alice.id, t, i))
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut uids = HashSet::new();
    let mut queued = HashSet::new();
    for mine in &acked {
        assert!(
            mine.windows(2).all(|w| w[0].0 .1 < w[1].0 .1),
            "UIDs ascend"
        );
        assert!(mine.windows(2).all(|w| w[0].1 < w[1].1), "queue ids ascend");
        for ((mailbox, uid), id, raw) in mine {
            assert_eq!(*mailbox, inbox);
            assert_eq!(&ok(s.read_message(inbox, *uid), "read local"), raw);
            assert_eq!(&ok(s.queue_read(*id), "read queued"), raw);
            assert!(uids.insert(*uid) && queued.insert(*id), "distinct");
        }
    }
    let total = SUBMITTERS * PER_SUBMITTER;
    assert_eq!(uids.len(), total);
    assert_eq!(ok(s.messages(inbox), "inbox").len(), total);
    assert_eq!(ok(s.queue_list(), "queue").len(), total);

    let mut appended = Vec::new();
    let mut announced = HashSet::new();
    while let Ok(change) = changes.try_recv() {
        match change {
            Change::Appended { uid, .. } => appended.push(uid),
            Change::Queued { id } => assert!(announced.insert(id)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(appended.len(), total);
    let position: std::collections::HashMap<Uid, usize> = appended
        .iter()
        .enumerate()
        .map(|(i, uid)| (*uid, i))
        .collect();
    assert_eq!(position.len(), total, "each UID announced once");
    for mine in &acked {
        let order: Vec<usize> = mine.iter().map(|((_, uid), _, _)| position[uid]).collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "a writer's commit order"
        );
    }
    assert_eq!(announced, queued);
}

fn accept_one(
    s: &impl Store,
    alice: AccountId,
    t: usize,
    i: usize,
) -> ((MailboxId, Uid), QueueId, Vec<u8>) {
    let raw = format!("Subject: {t}/{i}\r\n\r\naccepted by thread {t}, #{i}\r\n").into_bytes();
    let env = Envelope {
        mail_from: format!("t{t}@example.com"),
        ..Envelope::default()
    };
    let to = [RemoteRecipient {
        address: format!("r{t}.{i}@elsewhere.example"),
        notify: Notify::default(),
        orcpt: None,
    }];
    let msg = Incoming {
        raw: &raw,
        internal_date: 0,
        local: &[alice],
        envelope: &env,
        remote: &to,
    };
    let accepted = ok(s.accept(&msg), "accept");
    (accepted.local[0], accepted.queued.expect("queued"), raw)
}

/// Accepts that fail (over quota) while others succeed, at the same time:
/// the failures store nothing and the others everything, whichever round
/// they share.
pub fn a_failing_accept_spares_its_round(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let bob = ok(s.add_account("bob@example.com", "$hash$"), "add bob");
    ok(s.set_quota(bob.id, 1), "bob's quota");
    let start = Barrier::new(SUBMITTERS);
    std::thread::scope(|scope| {
        for t in 0..SUBMITTERS {
            let (s, start, alice, bob) = (&s, &start, &alice, &bob);
            scope.spawn(move || {
                start.wait();
                for i in 0..PER_SUBMITTER {
                    let raw = format!("Subject: {t}/{i}\r\n\r\nquota\r\n").into_bytes();
                    if (t + i) % 2 == 0 {
                        ok(s.deliver(&[alice.id], &raw, 0), "deliver to alice");
                    } else {
                        let refused = s.deliver(&[alice.id, bob.id], &raw, 0);
                        assert!(
                            matches!(refused, Err(StoreError::QuotaExceeded { .. })),
                            "{refused:?}"
                        );
                    }
                }
            });
        }
    });
    let half = SUBMITTERS * PER_SUBMITTER / 2;
    assert_eq!(
        ok(s.messages(mailbox(&s, &alice, "INBOX").id), "alice").len(),
        half
    );
    assert!(ok(s.messages(mailbox(&s, &bob, "INBOX").id), "bob").is_empty());
    assert_eq!(fx.blob_count(), half, "the refused messages left no blob");
}

/// Two threads adding different keywords to the same message, one call at
/// a time each: every keyword is there at the end (a read of the flags
/// outside the writing transaction would lose some).
pub fn concurrent_flag_additions_keep_both(fx: &impl Fixture) {
    const ROUNDS: usize = 60;
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let uid = ok(
        s.append(inbox, b"Subject: x\r\n\r\nx\r\n", &[], 0),
        "append",
    );
    let start = Barrier::new(2);
    std::thread::scope(|scope| {
        for t in 0..2 {
            let (s, start) = (&s, &start);
            scope.spawn(move || {
                start.wait();
                for i in 0..ROUNDS {
                    let flag = Flag::Keyword(format!("t{t}-{i}"));
                    ok(
                        s.store_flags(inbox, &[uid], FlagOp::Add, &[flag], None),
                        "add",
                    );
                }
            });
        }
    });
    let flags = &ok(s.messages(inbox), "messages")[0].flags;
    assert_eq!(flags.len(), 2 * ROUNDS, "{flags:?}");
    let modseqs = ok(s.mailbox_by_id(inbox), "box").unwrap().highest_modseq;
    assert!(modseqs.0 >= 2 * ROUNDS as u64);
}
