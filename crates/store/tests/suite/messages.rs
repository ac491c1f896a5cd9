//! Messages: UIDs, flags and MODSEQ, shared blobs, quota, notifications.

use postern_store::{Change, Flag, FlagOp, MailboxId, ModSeq, Store, StoreError, Uid};
use tokio::sync::broadcast::error::TryRecvError;

use super::{fails, mailbox, message, ok, uids, with_alice, Fixture};

fn is_not_found(e: &StoreError) -> bool {
    matches!(e, StoreError::NotFound { .. })
}

/// What was delivered reads back byte for byte after a restart, with the
/// same metadata.
pub fn messages_survive_reopen(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let raw = b"Subject: binary\r\n\r\n\x00\xff\r\n.\r\nend".to_vec();
    let placed = ok(s.deliver(&[alice.id], &raw, 1_700_000_000), "deliver");
    let (inbox, uid) = placed[0];
    assert_eq!(inbox, mailbox(&s, &alice, "INBOX").id);
    let before = ok(s.messages(inbox), "messages");
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].size, raw.len() as u64);
    assert_eq!(before[0].internal_date, 1_700_000_000);
    assert!(before[0].flags.is_empty());
    drop(s);

    let s = fx.open();
    assert_eq!(ok(s.read_message(inbox, uid), "read"), raw);
    assert_eq!(ok(s.messages(inbox), "messages"), before);
}

/// `read_blob_head` gives the first octets of small (inline) and large
/// (file) messages alike, and the whole of one shorter than asked.
pub fn message_heads_read_only_their_start(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let small = b"Subject: small\r\n\r\nbody\r\n".to_vec();
    let mut large = b"Subject: large\r\n\r\n".to_vec();
    large.extend(std::iter::repeat_n(b'x', 3_000_000));
    for raw in [small, large] {
        let placed = ok(s.deliver(&[alice.id], &raw, 0), "deliver");
        let (inbox, uid) = placed[0];
        let meta = ok(s.messages(inbox), "messages")
            .into_iter()
            .find(|m| m.uid == uid)
            .unwrap();
        let head = ok(s.read_blob_head(&meta.blob, meta.size, 16), "head");
        assert_eq!(head, raw[..16]);
        let all = ok(s.read_blob_head(&meta.blob, meta.size, 10_000_000), "all");
        assert_eq!(all, raw);
    }
}

/// `messages_page`, `message_meta` and `mailbox_counts` say what the
/// full listing says, without loading it.
pub fn pages_counts_and_single_metadata_agree_with_the_listing(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    for n in 1..=7 {
        ok(s.append(inbox, &message(n), &[], 0), "append");
    }
    ok(
        s.store_flags(inbox, &[Uid(2), Uid(5)], FlagOp::Add, &[Flag::Seen], None),
        "seen",
    );
    ok(
        s.store_flags(
            inbox,
            &[Uid(3)],
            FlagOp::Add,
            &[Flag::Keyword("$Work".into())],
            None,
        ),
        "keyword",
    );
    ok(s.expunge(inbox, &[Uid(4)]), "expunge");
    let all = ok(s.messages(inbox), "messages");
    assert_eq!(all.len(), 6);

    let (page, total) = ok(s.messages_page(inbox, true, 1, 3), "page");
    assert_eq!(total, 6);
    let uids: Vec<u32> = page.iter().map(|m| m.uid.0).collect();
    assert_eq!(uids, [6, 5, 3]);
    assert_eq!(page[2], all[2], "keywords included");
    let (page, _) = ok(s.messages_page(inbox, false, 4, 10), "last page");
    assert_eq!(page, all[4..].to_vec());
    let (page, _) = ok(s.messages_page(inbox, false, 10, 10), "past the end");
    assert!(page.is_empty());

    assert_eq!(
        ok(s.message_meta(inbox, Uid(3)), "meta").as_ref(),
        Some(&all[2])
    );
    assert_eq!(ok(s.message_meta(inbox, Uid(4)), "expunged"), None);

    let counts = ok(s.mailbox_counts(alice.id), "counts");
    let boxes = ok(s.mailboxes(alice.id), "mailboxes");
    assert_eq!(counts.len(), boxes.len());
    let of_inbox = counts.iter().find(|c| c.mailbox == inbox).unwrap();
    assert_eq!((of_inbox.total, of_inbox.unseen), (6, 4));
    assert!(counts
        .iter()
        .filter(|c| c.mailbox != inbox)
        .all(|c| c.total == 0 && c.unseen == 0));
}

/// UIDs strictly increase and are never handed out again: not after an
/// expunge of the highest one, not after a restart.
pub fn uids_never_reused(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let append = |s: &dyn Store, n| ok(s.append(inbox, &message(n), &[], 0), "append").0;
    assert_eq!([append(&s, 1), append(&s, 2), append(&s, 3)], [1, 2, 3]);
    ok(s.expunge(inbox, &[Uid(2), Uid(3)]), "expunge");
    assert_eq!(uids(&s, inbox), [1]);
    assert_eq!(append(&s, 4), 4, "after expunging the highest UID");
    assert_eq!(
        ok(s.mailbox_by_id(inbox), "box").map(|m| m.uid_next),
        Some(Uid(5))
    );
    drop(s);

    let s = fx.open();
    assert_eq!(append(&s, 5), 5, "after a restart");
    ok(s.expunge(inbox, &[Uid(5)]), "expunge");
    drop(s);
    let s = fx.open();
    assert_eq!(append(&s, 6), 6, "after expunge and restart");
    assert_eq!(uids(&s, inbox), [1, 4, 6]);
}

/// Flags and keywords come back exactly (canonical order, no duplicates);
/// each real change raises the MODSEQ; a no-op does not.
pub fn flags_round_trip_and_modseq_grows(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let kw = |k: &str| Flag::Keyword(k.into());
    let given = [
        kw("MyLabel"),
        Flag::Seen,
        kw("$Forwarded"),
        Flag::Seen,
        kw("müll"),
    ];
    let uid = ok(s.append(inbox, &message(1), &given, 0), "append");
    let meta = |s: &dyn Store| ok(s.messages(inbox), "messages").remove(0);
    let first = meta(&s);
    let expected = [Flag::Seen, kw("$Forwarded"), kw("MyLabel"), kw("müll")];
    assert_eq!(first.flags, expected);

    let all = [
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Draft,
        kw("$Junk"),
    ];
    let m1 = ok(s.set_flags(inbox, uid, &all), "set");
    assert!(m1 > first.modseq, "{m1:?} after {:?}", first.modseq);
    assert_eq!(meta(&s).flags, all);
    assert_eq!(meta(&s).modseq, m1);
    assert_eq!(
        ok(s.mailbox_by_id(inbox), "box").unwrap().highest_modseq,
        m1
    );
    assert_eq!(ok(s.set_flags(inbox, uid, &all), "same again"), m1, "no-op");

    let m2 = ok(s.set_flags(inbox, uid, &[kw("$junk")]), "case differs");
    assert!(m2 > m1);
    assert_eq!(meta(&s).flags, [kw("$junk")], "keyword case is kept");
    let m3 = ok(s.set_flags(inbox, uid, &[]), "clear");
    assert!(m3 > m2);
    drop(s);
    let s = fx.open();
    assert!(meta(&s).flags.is_empty());
    let before = ok(s.mailbox_by_id(inbox), "box").unwrap().highest_modseq;
    ok(s.expunge(inbox, &[uid]), "expunge");
    let after = ok(s.mailbox_by_id(inbox), "box").unwrap().highest_modseq;
    assert!(
        after > before,
        "an expunge is a change: {before:?} -> {after:?}"
    );
    let invalid = |e: &StoreError| matches!(e, StoreError::Invalid { .. });
    fails(
        s.append(inbox, b"x", &[kw("")], 0),
        "empty keyword",
        invalid,
    );
}

/// A copy shares its original's blob; the blob lives while any copy does.
pub fn copies_share_one_blob(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let archive = mailbox(&s, &alice, "Archive").id;
    let flags = [Flag::Flagged, Flag::Keyword("$Important".into())];
    let uid = ok(s.append(inbox, &message(7), &flags, 1234), "append");
    ok(s.append(archive, &message(8), &[], 0), "unrelated");
    assert_eq!(fx.blob_count(), 2);

    let pairs = ok(s.copy(inbox, &[uid, Uid(999)], archive), "copy");
    assert_eq!(pairs, [(uid, Uid(2))], "absent UIDs are skipped");
    assert_eq!(fx.blob_count(), 2, "the copy shares the blob");
    let copy = ok(s.messages(archive), "archive").remove(1);
    assert_eq!(
        (copy.flags.as_slice(), copy.internal_date),
        (&flags[..], 1234)
    );

    ok(s.expunge(inbox, &[uid]), "expunge original");
    assert_eq!(fx.blob_count(), 2, "the copy still needs it");
    assert_eq!(ok(s.read_message(archive, Uid(2)), "read copy"), message(7));
    ok(s.expunge(archive, &[Uid(2)]), "expunge copy");
    assert_eq!(fx.blob_count(), 1, "no message needs it");
    fails(
        s.read_message(archive, Uid(2)),
        "read expunged",
        is_not_found,
    );
}

/// One delivery to several accounts stores one blob, kept until the last
/// account lets go.
pub fn delivery_to_many_stores_one_blob(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let bob = ok(s.add_account("bob@example.com", "h"), "bob");
    let carol = ok(s.add_account("carol@example.com", "h"), "carol");
    let raw = message(1);
    let placed = ok(s.deliver(&[bob.id, alice.id, carol.id], &raw, 0), "deliver");
    let inboxes: Vec<MailboxId> = [&bob, &alice, &carol]
        .iter()
        .map(|a| mailbox(&s, a, "INBOX").id)
        .collect();
    let expected: Vec<(MailboxId, Uid)> = inboxes.iter().map(|&b| (b, Uid(1))).collect();
    assert_eq!(placed, expected, "in the order of the accounts");
    assert_eq!(fx.blob_count(), 1);
    for (mailbox, uid) in &placed {
        assert_eq!(&ok(s.read_message(*mailbox, *uid), "read"), &raw);
    }
    ok(s.deliver(&[alice.id], &raw, 0), "same bytes again");
    assert_eq!(fx.blob_count(), 1, "identical content is stored once");
    ok(s.remove_account(alice.id), "remove alice");
    ok(s.remove_account(bob.id), "remove bob");
    assert_eq!(fx.blob_count(), 1, "carol still has it");
    ok(s.expunge(placed[2].0, &[Uid(1)]), "carol expunges");
    assert_eq!(fx.blob_count(), 0);
    assert!(ok(s.deliver(&[], &raw, 0), "nobody").is_empty());
}

/// A non-zero quota refuses what would exceed it, all or nothing, and
/// expunging frees room.
pub fn quota_is_enforced(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let bob = ok(s.add_account("bob@example.com", "h"), "bob");
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let (big, small) = (vec![b'x'; 600], vec![b'y'; 300]);
    ok(s.set_quota(alice.id, 1000), "quota");
    let over = |e: &StoreError| matches!(e, StoreError::QuotaExceeded { quota: 1000, .. });

    let first = ok(s.deliver(&[alice.id], &big, 0), "600 of 1000")[0].1;
    fails(
        s.deliver(&[bob.id, alice.id], &big, 0),
        "1200 of 1000",
        over,
    );
    assert!(
        uids(&s, mailbox(&s, &bob, "INBOX").id).is_empty(),
        "all or nothing"
    );
    assert_eq!(fx.blob_count(), 1, "the refused blob is not kept");
    fails(s.append(inbox, &big, &[], 0), "append too", over);
    fails(s.copy(inbox, &[first], inbox), "copy too", over);
    ok(s.append(inbox, &small, &[], 0), "900 of 1000");
    fails(s.deliver(&[alice.id], &small, 0), "1200 of 1000", over);

    ok(s.expunge(inbox, &[first]), "free 600");
    ok(s.deliver(&[alice.id], &big, 0), "900 again");
    ok(s.set_quota(alice.id, 0), "no quota");
    for n in 0..3 {
        ok(s.deliver(&[alice.id], &big, n), "unlimited");
    }
}

/// Unknown mailboxes and messages are `NotFound`; absent UIDs in bulk
/// operations are ignored.
pub fn missing_things_are_not_found(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let ghost = MailboxId(i64::MAX);
    fails(s.messages(ghost), "messages", is_not_found);
    fails(s.append(ghost, b"x", &[], 0), "append", is_not_found);
    fails(s.expunge(ghost, &[Uid(1)]), "expunge", is_not_found);
    fails(s.copy(inbox, &[Uid(1)], ghost), "copy", is_not_found);
    fails(s.read_message(inbox, Uid(1)), "read", is_not_found);
    fails(
        s.set_flags(inbox, Uid(1), &[Flag::Seen]),
        "flags",
        is_not_found,
    );
    ok(s.expunge(inbox, &[Uid(1), Uid(2)]), "absent UIDs");
    assert!(ok(s.copy(inbox, &[Uid(1)], inbox), "absent").is_empty());
    assert_eq!(fx.blob_count(), 0, "a failed append leaves no blob");
    assert_eq!(
        ok(s.mailbox_by_id(inbox), "box").unwrap().highest_modseq,
        ModSeq(1)
    );
}

/// Subscribers see each committed change once, in commit order.
pub fn changes_are_announced_in_order(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let mut rx = s.subscribe();
    let uid = ok(s.append(inbox, &message(1), &[], 0), "append");
    ok(s.set_flags(inbox, uid, &[Flag::Seen]), "flag");
    ok(s.set_flags(inbox, uid, &[Flag::Seen]), "no-op: no change");
    let placed = ok(s.deliver(&[alice.id], &message(2), 0), "deliver");
    ok(s.expunge(inbox, &[uid, Uid(77)]), "expunge");
    fails(
        s.append(MailboxId(i64::MAX), b"x", &[], 0),
        "failed: no change",
        is_not_found,
    );

    let expected = [
        Change::Appended {
            mailbox: inbox,
            uid,
        },
        Change::FlagsChanged {
            mailbox: inbox,
            uid,
        },
        Change::Appended {
            mailbox: inbox,
            uid: placed[0].1,
        },
        Change::Expunged {
            mailbox: inbox,
            uid,
        },
    ];
    for want in expected {
        assert_eq!(rx.try_recv(), Ok(want));
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

/// A move copies and expunges in one go: the new UIDs come back, the blob
/// is shared, flags travel, both mailboxes' MODSEQ moves on and the
/// changes are announced for both. A move that cannot complete (over
/// quota, missing target) changes neither mailbox.
pub fn moves_are_atomic(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let archive = mailbox(&s, &alice, "Archive").id;
    let flags = [Flag::Seen, Flag::Keyword("$Work".into())];
    let a = ok(s.append(inbox, &message(1), &flags, 11), "append a");
    let b = ok(s.append(inbox, &message(2), &[], 22), "append b");
    let c = ok(s.append(inbox, &message(3), &[], 33), "append c");
    ok(s.append(archive, &message(4), &[], 0), "archive's own");
    let before_in = mailbox(&s, &alice, "INBOX");
    let before_ar = mailbox(&s, &alice, "Archive");
    let mut rx = s.subscribe();

    let pairs = ok(s.move_messages(inbox, &[b, a, Uid(999)], archive), "move");
    assert_eq!(
        pairs,
        [(a, Uid(2)), (b, Uid(3))],
        "ascending, absent skipped"
    );
    assert_eq!(uids(&s, inbox), [c.0]);
    let moved = ok(s.messages(archive), "archive");
    assert_eq!(moved.len(), 3);
    assert_eq!(
        (moved[1].flags.as_slice(), moved[1].internal_date),
        (&flags[..], 11)
    );
    assert_eq!(ok(s.read_message(archive, Uid(3)), "read"), message(2));
    assert_eq!(fx.blob_count(), 4, "moved messages keep their blobs");
    assert!(mailbox(&s, &alice, "INBOX").highest_modseq > before_in.highest_modseq);
    assert!(mailbox(&s, &alice, "Archive").highest_modseq > before_ar.highest_modseq);
    let expected = [
        Change::Appended {
            mailbox: archive,
            uid: Uid(2),
        },
        Change::Appended {
            mailbox: archive,
            uid: Uid(3),
        },
        Change::Expunged {
            mailbox: inbox,
            uid: a,
        },
        Change::Expunged {
            mailbox: inbox,
            uid: b,
        },
    ];
    for want in expected {
        assert_eq!(rx.try_recv(), Ok(want));
    }

    // Over quota: the copy fails, and the original is not expunged.
    let used: usize = [1, 2, 3, 4].iter().map(|&n| message(n).len()).sum();
    ok(s.set_quota(alice.id, used as u64 + 1), "quota");
    fails(
        s.move_messages(inbox, &[c], archive),
        "move over quota",
        |e| matches!(e, StoreError::QuotaExceeded { .. }),
    );
    assert_eq!(uids(&s, inbox), [c.0], "the source is intact");
    assert_eq!(uids(&s, archive), [1, 2, 3], "the target is unchanged");
    fails(
        s.move_messages(inbox, &[c], MailboxId(i64::MAX)),
        "move to nowhere",
        is_not_found,
    );
    assert_eq!(uids(&s, inbox), [c.0]);
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "failures announce nothing"
    );
    ok(s.set_quota(alice.id, 0), "no quota");
    assert_eq!(
        ok(s.move_messages(inbox, &[c], archive), "move c"),
        [(c, Uid(4))],
        "the refused copy did not use a UID"
    );
}

/// `store_flags` adds, removes and replaces on several messages at once;
/// only real changes get a new MODSEQ and a notification, and
/// UNCHANGEDSINCE is checked against the stored MODSEQ: a message changed
/// since is left alone and reported.
pub fn store_flags_ops_and_unchanged_since(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let kw = |k: &str| Flag::Keyword(k.into());
    let a = ok(s.append(inbox, &message(1), &[Flag::Seen], 0), "a");
    let b = ok(s.append(inbox, &message(2), &[], 0), "b");
    let meta = |uid: Uid| {
        ok(s.messages(inbox), "messages")
            .into_iter()
            .find(|m| m.uid == uid)
            .unwrap()
    };
    let start = ok(s.mailbox_by_id(inbox), "box").unwrap().highest_modseq;
    let mut rx = s.subscribe();

    let added = ok(
        s.store_flags(
            inbox,
            &[b, a, Uid(99)],
            FlagOp::Add,
            &[Flag::Seen, kw("$X")],
            None,
        ),
        "add",
    );
    assert!(added.modified.is_empty());
    assert_eq!(added.kept, []);
    assert_eq!(added.changed.len(), 2);
    let (ua, fa, ma) = added.changed[0].clone();
    let (ub, fb, mb) = added.changed[1].clone();
    assert_eq!((ua, ub), (a, b), "ascending UIDs, absent skipped");
    assert_eq!(fa, [Flag::Seen, kw("$X")]);
    assert_eq!(fb, [Flag::Seen, kw("$X")]);
    assert!(ma > start && mb > ma, "{start:?} {ma:?} {mb:?}");
    assert_eq!(meta(b).modseq, mb);
    assert_eq!(
        ok(s.mailbox_by_id(inbox), "box").unwrap().highest_modseq,
        mb
    );
    for uid in [a, b] {
        assert_eq!(
            rx.try_recv(),
            Ok(Change::FlagsChanged {
                mailbox: inbox,
                uid
            })
        );
    }

    let again = ok(
        s.store_flags(inbox, &[a], FlagOp::Add, &[kw("$X")], None),
        "no-op",
    );
    assert_eq!(again.kept, [(a, fa, ma)], "no change, same MODSEQ");
    assert!(again.changed.is_empty());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "a no-op is silent");

    let removed = ok(
        s.store_flags(inbox, &[a], FlagOp::Remove, &[Flag::Seen], None),
        "remove",
    );
    assert_eq!(removed.changed[0].1, [kw("$X")]);
    let replaced = ok(
        s.store_flags(inbox, &[b], FlagOp::Replace, &[Flag::Draft], None),
        "replace",
    );
    assert_eq!(replaced.changed[0].1, [Flag::Draft]);
    let ma2 = removed.changed[0].2;

    // a was changed after `ma`, b was not changed after its last MODSEQ.
    let mb2 = replaced.changed[0].2;
    let cond = ok(
        s.store_flags(inbox, &[a, b], FlagOp::Add, &[Flag::Flagged], Some(mb2)),
        "unchangedsince",
    );
    assert_eq!(
        cond.modified,
        [] as [Uid; 0],
        "both unchanged since {mb2:?}"
    );
    let cond = ok(
        s.store_flags(inbox, &[a, b], FlagOp::Add, &[Flag::Answered], Some(ma2)),
        "stale unchangedsince",
    );
    assert_eq!(cond.modified, [a, b], "both changed after {ma2:?}");
    assert!(cond.changed.is_empty() && cond.kept.is_empty());
    assert!(
        !meta(a).flags.contains(&Flag::Answered),
        "refused means untouched"
    );
    let exact = meta(b).modseq;
    let cond = ok(
        s.store_flags(inbox, &[b], FlagOp::Add, &[Flag::Answered], Some(exact)),
        "unchangedsince equal to the MODSEQ",
    );
    assert_eq!(cond.changed.len(), 1, "equal is not greater");

    fails(
        s.store_flags(MailboxId(i64::MAX), &[a], FlagOp::Add, &[Flag::Seen], None),
        "unknown mailbox",
        is_not_found,
    );
    fails(
        s.store_flags(inbox, &[a], FlagOp::Add, &[kw("")], None),
        "empty keyword",
        |e| matches!(e, StoreError::Invalid { .. }),
    );
}

/// \Recent: each UID is claimed once, by the first caller after it
/// arrived; later callers get nothing until more mail comes. The mark
/// survives a restart and only grows; copies are new again.
pub fn recent_is_claimed_once(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let archive = mailbox(&s, &alice, "Archive").id;
    let a = ok(s.append(inbox, &message(1), &[], 0), "a");
    let b = ok(s.deliver(&[alice.id], &message(2), 0), "b")[0].1;
    assert_eq!(
        ok(s.recent_mark(inbox), "mark"),
        a,
        "reading claims nothing"
    );
    let first = ok(s.claim_recent(inbox), "first claim");
    assert_eq!(first, a..Uid(b.0 + 1), "both are new");
    assert_eq!(ok(s.recent_mark(inbox), "mark"), Uid(b.0 + 1));
    let second = ok(s.claim_recent(inbox), "second claim");
    assert!(second.is_empty(), "nothing is claimed twice: {second:?}");
    assert_eq!(second.start, Uid(b.0 + 1));
    let c = ok(s.deliver(&[alice.id], &message(3), 0), "c")[0].1;
    ok(s.expunge(inbox, &[c]), "c gone");
    let d = ok(s.deliver(&[alice.id], &message(4), 0), "d")[0].1;
    drop(s);

    let s = fx.open();
    let third = ok(s.claim_recent(inbox), "after reopen");
    assert_eq!(third, c..Uid(d.0 + 1), "only what came since");
    assert!(ok(s.claim_recent(inbox), "again").is_empty());
    let copied = ok(s.copy(inbox, &[a], archive), "copy")[0].1;
    assert!(ok(s.claim_recent(archive), "archive").contains(&copied));

    // Many claimers at once: every UID is handed out exactly once.
    for n in 0..20 {
        ok(s.deliver(&[alice.id], &message(10 + n), 0), "more");
    }
    let claimed: Vec<Uid> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| ok(s.claim_recent(inbox), "claim")))
            .collect();
        threads
            .into_iter()
            .flat_map(|t| {
                let r = t.join().unwrap();
                (r.start.0..r.end.0).map(Uid)
            })
            .collect()
    });
    let mut sorted = claimed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), claimed.len(), "claimed twice: {claimed:?}");
    assert_eq!(sorted.len(), 20);
    fails(
        s.claim_recent(MailboxId(i64::MAX)),
        "unknown mailbox",
        is_not_found,
    );
    fails(
        s.recent_mark(MailboxId(i64::MAX)),
        "unknown mailbox",
        is_not_found,
    );
}

/// QRESYNC's memory of removals (RFC 7162 §3.2.10): each EXPUNGE or MOVE
/// out of a mailbox raises its MODSEQ and is remembered by UID with that
/// MODSEQ, across a restart; flag changes and copies remove nothing; a
/// deleted mailbox takes its memory along.
pub fn vanished_since_remembers_expunges(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let archive = mailbox(&s, &alice, "Archive").id;
    let u: Vec<Uid> = (1..=6)
        .map(|n| ok(s.append(inbox, &message(n), &[], 0), "append"))
        .collect();
    let highest = |s: &dyn Store| {
        ok(s.mailbox_by_id(inbox), "inbox")
            .expect("inbox")
            .highest_modseq
    };
    let vanished = |s: &dyn Store, since| ok(s.vanished_since(inbox, since), "vanished");
    let start = highest(&s);
    assert!(vanished(&s, start).is_empty(), "nothing removed yet");

    ok(s.expunge(inbox, &[u[3], u[1], Uid(99)]), "expunge");
    let first = highest(&s);
    assert!(first > start, "an expunge moves MODSEQ on");
    assert_eq!(
        vanished(&s, start),
        [u[1], u[3]],
        "ascending, absent skipped"
    );
    assert!(vanished(&s, first).is_empty());
    ok(s.expunge(inbox, &[u[1]]), "expunged again");
    assert_eq!(highest(&s), first, "removing nothing changes nothing");

    let flagged = ok(
        s.store_flags(inbox, &[u[0]], FlagOp::Add, &[Flag::Seen], None),
        "flag",
    );
    assert_eq!(flagged.changed.len(), 1);
    ok(s.copy(inbox, &[u[2]], archive), "copy");
    let before_move = highest(&s);
    assert!(
        vanished(&s, first).is_empty(),
        "flags and copies remove nothing"
    );
    ok(s.move_messages(inbox, &[u[4]], archive), "move");
    assert!(highest(&s) > before_move);
    assert_eq!(vanished(&s, before_move), [u[4]], "a move removes");
    assert_eq!(vanished(&s, start), [u[1], u[3], u[4]]);
    assert_eq!(vanished(&s, ModSeq(0)), [u[1], u[3], u[4]]);
    assert!(
        ok(s.vanished_since(archive, ModSeq(0)), "archive").is_empty(),
        "the target of a move lost nothing"
    );
    drop(s);

    let s = fx.open();
    assert_eq!(vanished(&s, start), [u[1], u[3], u[4]], "after a restart");
    assert_eq!(vanished(&s, first), [u[4]]);
    assert!(vanished(&s, ModSeq(i64::MAX as u64)).is_empty());

    let work = ok(s.create_mailbox(alice.id, "Work", None), "create").id;
    let w = ok(s.append(work, &message(7), &[], 0), "append");
    ok(s.expunge(work, &[w]), "expunge");
    assert_eq!(ok(s.vanished_since(work, ModSeq(0)), "work"), [w]);
    ok(s.delete_mailbox(work), "delete");
    fails(
        s.vanished_since(work, ModSeq(0)),
        "deleted mailbox",
        is_not_found,
    );
    // A mailbox made later (perhaps under the same id) starts afresh.
    let again = ok(s.create_mailbox(alice.id, "Work", None), "create again").id;
    assert!(ok(s.vanished_since(again, ModSeq(0)), "new").is_empty());
}
