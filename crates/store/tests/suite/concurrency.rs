//! Many writers and readers at once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;

use postern_store::Store;

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
