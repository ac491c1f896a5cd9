//! Two nodes on one PostgreSQL database: two [`PgStore`]s opened on the
//! same data, as two Postern processes would be. What one process's mutex
//! cannot give here must come from PostgreSQL: distinct UIDs when both
//! deliver into one mailbox, each queue item leased by one node at a
//! time, and one node hearing of the other's deliveries (LISTEN/NOTIFY).
//!
//! Needs a PostgreSQL server, as `postgres.rs`: `POSTERN_TEST_POSTGRES`
//! is the URL of a role that may create databases; each case gets a
//! database of its own, dropped at the end. Without the variable the
//! cases pass without running, except under `CI=true`, where they fail.
//!
//! # Layout
//! - `node`: a store on the shared test database.
//! - the cases: deliveries, queue leases, changes between nodes.

use std::collections::{HashMap, HashSet};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use postern_store::postgres::testing::TestDatabase;
use postern_store::{
    Change, Envelope, Incoming, Notify, QueueId, RemoteRecipient, Store, StoreError,
};
use postern_store::{PgOptions, PgStore};

/// One node: a store of its own on the shared database.
fn node(db: &TestDatabase) -> PgStore {
    PgStore::open(&PgOptions::new(db.url.clone())).expect("open the PostgreSQL store")
}

/// Unwraps, saying which step failed.
#[track_caller]
fn ok<T>(result: Result<T, StoreError>, step: &str) -> T {
    result.unwrap_or_else(|e| panic!("{step}: {e}"))
}

/// `example.com` and `alice@example.com`, added through `store`; the id
/// of alice's INBOX.
fn with_alice(store: &PgStore) -> (postern_store::AccountId, postern_store::MailboxId) {
    ok(store.add_domain("example.com"), "add domain");
    let alice = ok(store.add_account("alice@example.com", "$hash$"), "alice");
    let inbox = ok(store.mailbox(alice.id, "INBOX"), "INBOX").expect("an INBOX");
    (alice.id, inbox.id)
}

const WRITERS: usize = 8;
const PER_WRITER: usize = 25;

/// Eight threads, half on each node, deliver into one INBOX: every
/// message gets its own UID, and both nodes list and read all of them.
#[test]
fn deliveries_from_two_nodes_get_distinct_uids() {
    let Some(db) = TestDatabase::fresh("nodes") else {
        return;
    };
    let nodes = [node(&db), node(&db)];
    let (alice, inbox) = with_alice(&nodes[0]);
    let start = Barrier::new(WRITERS);
    let body = |w: usize, i: usize| format!("Subject: {w}/{i}\r\n\r\nwriter {w}, #{i}\r\n");

    let placed: Vec<_> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (node, start) = (&nodes[w % 2], &start);
                scope.spawn(move || {
                    start.wait();
                    (0..PER_WRITER)
                        .map(|i| {
                            let raw = body(w, i).into_bytes();
                            let at = ok(node.deliver(&[alice], &raw, 0), "deliver")[0];
                            assert_eq!(at.0, inbox, "delivered into the INBOX");
                            (at.1, raw)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        writers
            .into_iter()
            .flat_map(|h| h.join().expect("a writer"))
            .collect()
    });

    let uids: HashSet<_> = placed.iter().map(|(uid, _)| *uid).collect();
    assert_eq!(uids.len(), WRITERS * PER_WRITER, "a UID was given twice");
    for node in &nodes {
        let listed = ok(node.messages(inbox), "list");
        assert_eq!(listed.len(), WRITERS * PER_WRITER);
        assert!(listed.windows(2).all(|w| w[0].uid < w[1].uid));
        for (uid, raw) in &placed {
            assert_eq!(&ok(node.read_message(inbox, *uid), "read"), raw);
        }
        let next = ok(node.mailbox_by_id(inbox), "INBOX").expect("the INBOX");
        assert!(
            uids.iter().all(|&uid| uid < next.uid_next),
            "UIDNEXT behind"
        );
    }
}

const ITEMS: usize = 50;

/// Both nodes claim from one queue at once: every item is claimed by
/// exactly one of them, the lease is in its row under the claimer's
/// name, and once the lease has run out the other node takes it.
#[test]
fn queue_leases_keep_nodes_apart() {
    let Some(db) = TestDatabase::fresh("nodes") else {
        return;
    };
    let nodes = [node(&db), node(&db)];
    with_alice(&nodes[0]);
    let queued = enqueue(&nodes[0], ITEMS);

    // Leased at 100 until 200.
    let start = Barrier::new(2);
    let claimed: Vec<Vec<QueueId>> = std::thread::scope(|scope| {
        let workers: Vec<_> = nodes
            .iter()
            .map(|node| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    claim_all(node, 100, 200)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|h| h.join().expect("a worker"))
            .collect()
    });
    let mut owner: HashMap<QueueId, usize> = HashMap::new();
    for (n, ids) in claimed.iter().enumerate() {
        for id in ids {
            assert!(owner.insert(*id, n).is_none(), "{id} claimed twice");
        }
    }
    assert_eq!(owner.len(), ITEMS, "every item claimed once");
    assert_eq!(owner.keys().copied().collect::<HashSet<_>>(), queued);
    assert_eq!(lease_owners(&db), names(&nodes, &owner), "leases in rows");

    // Until the leases end, neither node sees an item.
    for node in &nodes {
        assert!(ok(node.queue_due(199, 100), "due").is_empty());
        assert!(ok(node.queue_claim(199, 300, 100), "claim").is_empty());
        assert_eq!(ok(node.queue_next_due(), "next"), Some(200));
    }

    // Node 1 takes every item over at 200, node 0's included (as from a
    // node that died), and holds them.
    let taken: HashSet<_> = ok(nodes[1].queue_claim(200, 400, 100), "take over")
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(taken, queued);
    let all_one: HashMap<QueueId, usize> = queued.iter().map(|&id| (id, 1)).collect();
    assert_eq!(lease_owners(&db), names(&nodes, &all_one));
    assert!(ok(nodes[0].queue_claim(300, 500, 100), "held").is_empty());
}

/// Queues `count` messages for a remote recipient through `node`, due at
/// 10.
fn enqueue(node: &PgStore, count: usize) -> HashSet<QueueId> {
    let env = Envelope {
        mail_from: "alice@example.com".into(),
        ..Envelope::default()
    };
    let to = [RemoteRecipient {
        address: "bob@elsewhere.example".into(),
        notify: Notify::default(),
        orcpt: None,
    }];
    (0..count)
        .map(|n| {
            let raw = format!("Subject: {n}\r\n\r\nqueued {n}\r\n").into_bytes();
            let msg = Incoming {
                raw: &raw,
                internal_date: 10,
                local: &[],
                envelope: &env,
                remote: &to,
            };
            ok(node.accept(&msg), "accept").queued.expect("queued")
        })
        .collect()
}

/// Claims a few at a time until the node finds nothing left to claim.
fn claim_all(node: &PgStore, now: i64, lease_until: i64) -> Vec<QueueId> {
    let mut ids = Vec::new();
    loop {
        let items = ok(node.queue_claim(now, lease_until, 3), "claim");
        if items.is_empty() {
            return ids;
        }
        ids.extend(items.iter().map(|i| i.id));
    }
}

/// Each queue row's `lease_owner`.
fn lease_owners(db: &TestDatabase) -> HashMap<QueueId, Option<String>> {
    let rows = db
        .client()
        .query("SELECT id, lease_owner FROM queue", &[])
        .expect("read the leases");
    rows.iter().map(|r| (QueueId(r.get(0)), r.get(1))).collect()
}

/// The node names `owner` means.
fn names(nodes: &[PgStore], owner: &HashMap<QueueId, usize>) -> HashMap<QueueId, Option<String>> {
    owner
        .iter()
        .map(|(&id, &n)| (id, Some(nodes[n].node().to_owned())))
        .collect()
}

/// A subscriber on one node hears of a delivery made on the other within
/// two seconds.
#[test]
fn a_delivery_on_one_node_reaches_the_other_s_subscribers() {
    let Some(db) = TestDatabase::fresh("nodes") else {
        return;
    };
    let (a, b) = (node(&db), node(&db));
    let (alice, inbox) = with_alice(&a);
    let mut heard = b.subscribe();
    wait_for_listeners(&db, 2);

    let at = ok(
        a.deliver(&[alice], b"Subject: hi\r\n\r\nhello\r\n", 0),
        "deliver",
    )[0];
    let want = Change::Appended {
        mailbox: inbox,
        uid: at.1,
    };
    assert_eq!(at.0, inbox);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match heard.try_recv() {
            Ok(change) if change == want => break,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "node B did not hear of {want:?}");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("node B's subscription: {e}"),
        }
    }
}

/// Waits until `count` sessions on the database have run LISTEN: a store
/// starts listening on a thread of its own, and a notification sent
/// before that reaches nobody.
fn wait_for_listeners(db: &TestDatabase, count: i64) {
    let mut client = db.client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listening: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND query LIKE 'LISTEN %'",
                &[],
            )
            .expect("look at the sessions")
            .get(0);
        if listening >= count {
            return;
        }
        assert!(Instant::now() < deadline, "the stores never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}
