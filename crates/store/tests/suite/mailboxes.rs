//! Mailboxes: the defaults, UIDVALIDITY, create, rename, delete.

use std::collections::HashSet;

use postern_store::{AccountId, SpecialUse, Store, StoreError, Uid};

use super::{fails, mailbox, message, ok, uids, with_alice, Fixture};

/// Every account gets the six default mailboxes with their special use,
/// fresh counters, and distinct UIDVALIDITY values.
pub fn default_mailboxes(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let boxes = ok(s.mailboxes(alice.id), "mailboxes");
    let names: Vec<&str> = boxes.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]
    );
    for (special, name) in SpecialUse::DEFAULTS {
        let m = boxes.iter().find(|m| m.name == name).expect(name);
        assert_eq!(m.special_use, Some(special), "{name}");
        assert_eq!(m.account, alice.id);
        assert_eq!(m.uid_next, Uid(1), "{name}");
        assert_eq!(m.highest_modseq.0, 1, "{name}");
        assert_ne!(m.uid_validity, 0, "{name}");
    }
    let validities: HashSet<u32> = boxes.iter().map(|m| m.uid_validity).collect();
    assert_eq!(validities.len(), 6, "UIDVALIDITY repeats: {boxes:?}");

    let inbox = mailbox(&s, &alice, "INBOX");
    assert_eq!(
        mailbox(&s, &alice, "inbox"),
        inbox,
        "INBOX is case-insensitive"
    );
    assert_eq!(ok(s.mailbox_by_id(inbox.id), "by id"), Some(inbox));
    assert_eq!(
        ok(s.mailbox(alice.id, "sent"), "sent"),
        None,
        "others are exact"
    );
    assert_eq!(ok(s.mailbox(alice.id, "a//b"), "junk name"), None);
}

/// Create checks names; rename moves children; delete drops messages.
pub fn create_rename_delete(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let exists = |e: &StoreError| matches!(e, StoreError::AlreadyExists { .. });
    let invalid = |e: &StoreError| matches!(e, StoreError::Invalid { .. });
    fails(s.create_mailbox(alice.id, "Sent", None), "Sent", exists);
    fails(s.create_mailbox(alice.id, "inbox", None), "inbox", exists);
    fails(
        s.create_mailbox(alice.id, "a//b", None),
        "empty level",
        invalid,
    );
    let inbox_use = s.create_mailbox(alice.id, "Other", Some(SpecialUse::Inbox));
    fails(inbox_use, "second inbox", invalid);

    let work = ok(s.create_mailbox(alice.id, "Work", None), "Work");
    let child = ok(s.create_mailbox(alice.id, "Work/2026", None), "child");
    let spam = ok(
        s.create_mailbox(alice.id, "Spam", Some(SpecialUse::Junk)),
        "Spam",
    );
    assert_eq!(spam.special_use, Some(SpecialUse::Junk));
    let uid = ok(s.append(child.id, &message(1), &[], 0), "append");

    ok(s.rename_mailbox(work.id, "Jobs"), "rename");
    let moved = mailbox(&s, &alice, "Jobs/2026");
    assert_eq!(
        (moved.id, moved.uid_validity),
        (child.id, child.uid_validity)
    );
    assert_eq!(uids(&s, moved.id), [uid.0]);
    assert_eq!(ok(s.mailbox(alice.id, "Work"), "old name"), None);
    fails(s.rename_mailbox(spam.id, "Jobs"), "taken", exists);
    fails(
        s.rename_mailbox(spam.id, "Spam/sub"),
        "below itself",
        invalid,
    );
    let inbox = mailbox(&s, &alice, "INBOX");
    fails(s.rename_mailbox(inbox.id, "Old"), "rename INBOX", invalid);
    fails(s.delete_mailbox(inbox.id), "delete INBOX", invalid);

    ok(s.delete_mailbox(moved.id), "delete");
    assert_eq!(ok(s.mailbox_by_id(moved.id), "gone"), None);
    assert!(ok(s.mailbox(alice.id, "Jobs"), "parent stays").is_some());
    assert_eq!(fx.blob_count(), 0, "the deleted mailbox's blob went");
    let nf = |e: &StoreError| matches!(e, StoreError::NotFound { .. });
    fails(s.delete_mailbox(moved.id), "delete twice", nf);
}

/// UIDVALIDITY survives a restart and differs for a re-created mailbox,
/// also when the re-creation happens after a restart.
pub fn uid_validity_stable_and_fresh(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let first = ok(s.create_mailbox(alice.id, "Lists", None), "create");
    let inbox = mailbox(&s, &alice, "INBOX");
    drop(s);

    let s = fx.open();
    assert_eq!(
        mailbox(&s, &alice, "INBOX").uid_validity,
        inbox.uid_validity
    );
    assert_eq!(
        mailbox(&s, &alice, "Lists").uid_validity,
        first.uid_validity
    );
    ok(s.delete_mailbox(first.id), "delete");
    let second = ok(s.create_mailbox(alice.id, "Lists", None), "re-create");
    assert_ne!(second.uid_validity, first.uid_validity);
    assert_eq!(second.uid_next, Uid(1));
    drop(s);

    let s = fx.open();
    ok(s.delete_mailbox(second.id), "delete again");
    let third = ok(s.create_mailbox(alice.id, "Lists", None), "re-create again");
    let seen = [first.uid_validity, second.uid_validity];
    assert!(
        !seen.contains(&third.uid_validity),
        "{third:?} repeats {seen:?}"
    );
}

/// Subscriptions: a new account's default mailboxes are subscribed;
/// names that are no mailbox may be subscribed; INBOX in any case is
/// INBOX; repeats are harmless; all of it survives a restart, and goes
/// with the account.
pub fn subscriptions_persist(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let bob = ok(s.add_account("bob@example.com", "h"), "bob");
    let defaults = ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"];
    assert_eq!(ok(s.subscriptions(alice.id), "defaults"), defaults);
    ok(s.create_mailbox(alice.id, "Lists", None), "create");
    assert_eq!(
        ok(s.subscriptions(alice.id), "create does not subscribe"),
        defaults
    );
    ok(s.subscribe_mailbox(alice.id, "Lists"), "subscribe");
    ok(s.subscribe_mailbox(alice.id, "Lists"), "again");
    ok(s.subscribe_mailbox(alice.id, "Future/Box"), "a name only");
    ok(s.unsubscribe_mailbox(alice.id, "Junk"), "unsubscribe");
    ok(s.unsubscribe_mailbox(alice.id, "Junk"), "again");
    ok(
        s.unsubscribe_mailbox(alice.id, "inbox"),
        "INBOX in lower case",
    );
    ok(s.unsubscribe_mailbox(bob.id, "Sent"), "bob's own");
    let invalid = |e: &StoreError| matches!(e, StoreError::Invalid { .. });
    fails(s.subscribe_mailbox(alice.id, "a//b"), "bad name", invalid);
    fails(
        s.subscribe_mailbox(AccountId(i64::MAX), "INBOX"),
        "unknown account",
        |e| matches!(e, StoreError::NotFound { .. }),
    );
    let lists = mailbox(&s, &alice, "Lists").id;
    ok(s.delete_mailbox(lists), "delete Lists");
    drop(s);

    let s = fx.open();
    let want = ["Archive", "Drafts", "Future/Box", "Lists", "Sent", "Trash"];
    assert_eq!(ok(s.subscriptions(alice.id), "after reopen"), want);
    assert_eq!(
        ok(s.subscriptions(bob.id), "bob"),
        ["Archive", "Drafts", "INBOX", "Junk", "Trash"]
    );
    ok(s.remove_account(alice.id), "remove alice");
    fails(s.subscriptions(alice.id), "gone account", |e| {
        matches!(e, StoreError::NotFound { .. })
    });
    let again = ok(s.add_account("alice@example.com", "h"), "alice again");
    assert_eq!(ok(s.subscriptions(again.id), "fresh"), defaults);
}
