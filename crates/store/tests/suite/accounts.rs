//! Domains, accounts, aliases, and recipient resolution.

use postern_store::{AccountId, Alias, Store, StoreError};

use super::{fails, message, ok, with_alice, Fixture};

fn is_exists(e: &StoreError) -> bool {
    matches!(e, StoreError::AlreadyExists { .. })
}
fn is_invalid(e: &StoreError) -> bool {
    matches!(e, StoreError::Invalid { .. })
}
fn is_not_found(e: &StoreError) -> bool {
    matches!(e, StoreError::NotFound { .. })
}
fn is_unknown_domain(e: &StoreError) -> bool {
    matches!(e, StoreError::UnknownDomain { .. })
}
fn is_in_use(e: &StoreError) -> bool {
    matches!(e, StoreError::InUse { .. })
}

/// Domains are lowercased, sorted, unique, and cannot go while used.
pub fn domains_crud(fx: &impl Fixture) {
    let s = fx.open();
    ok(s.add_domain("Example.COM"), "add");
    ok(s.add_domain("b.example"), "add second");
    assert_eq!(ok(s.domains(), "list"), ["b.example", "example.com"]);
    fails(s.add_domain("EXAMPLE.com"), "duplicate", is_exists);
    fails(s.add_domain("bad domain"), "space", is_invalid);
    fails(s.add_domain(""), "empty", is_invalid);
    fails(s.remove_domain("nope.example"), "unknown", is_not_found);

    let alice = ok(s.add_account("alice@example.com", "h"), "account");
    fails(s.remove_domain("example.com"), "used by account", is_in_use);
    ok(
        s.add_alias("info@b.example", &["alice@example.com".into()]),
        "alias",
    );
    fails(s.remove_domain("b.example"), "used by alias", is_in_use);

    ok(s.remove_alias("info@b.example"), "remove alias");
    ok(s.remove_domain("B.example"), "remove now unused");
    ok(s.remove_account(alice.id), "remove account");
    ok(s.remove_domain("example.com"), "remove emptied");
    assert!(ok(s.domains(), "list").is_empty());
}

/// Accounts: validation, uniqueness, case-insensitive look-up, updates.
pub fn accounts_crud(fx: &impl Fixture) {
    let s = fx.open();
    ok(s.add_domain("example.com"), "domain");
    let bob = ok(s.add_account("Bob@Example.com", "hash-b"), "bob");
    assert_eq!(bob.address, "bob@example.com");
    assert_eq!((bob.quota_bytes, bob.disabled), (0, false));
    let alice = ok(s.add_account("alice@example.com", "hash-a"), "alice");
    assert_ne!(alice.id, bob.id);

    fails(
        s.add_account("BOB@example.com", "x"),
        "duplicate",
        is_exists,
    );
    fails(
        s.add_account("c@other.example", "x"),
        "domain",
        is_unknown_domain,
    );
    for bad in [
        "nobody",
        "a@b@example.com",
        "@example.com",
        "a b@example.com",
    ] {
        fails(s.add_account(bad, "x"), bad, is_invalid);
    }

    assert_eq!(ok(s.account("ALICE@example.COM"), "lookup"), Some(alice));
    assert_eq!(ok(s.account_by_id(bob.id), "by id"), Some(bob.clone()));
    let all: Vec<String> = ok(s.accounts(), "list")
        .into_iter()
        .map(|a| a.address)
        .collect();
    assert_eq!(all, ["alice@example.com", "bob@example.com"]);

    ok(s.set_password_hash(bob.id, "hash-b2"), "passwd");
    ok(s.set_disabled(bob.id, true), "disable");
    ok(s.set_quota(bob.id, 5_000), "quota");
    assert!(!bob.admin, "a new account is no administrator");
    ok(s.set_admin(bob.id, true), "admin on");
    let bob2 = ok(s.account_by_id(bob.id), "reread").expect("bob");
    assert_eq!(bob2.password_hash, "hash-b2");
    assert!(bob2.disabled);
    assert_eq!(bob2.quota_bytes, 5_000);
    assert!(bob2.admin);
    let alice_now = ok(s.account("alice@example.com"), "alice").expect("alice");
    assert!(!alice_now.admin, "only the named account changes");
    ok(s.set_admin(bob.id, false), "admin off");
    assert!(!ok(s.account_by_id(bob.id), "reread").expect("bob").admin);

    let ghost = AccountId(i64::MAX);
    fails(
        s.set_password_hash(ghost, "x"),
        "passwd ghost",
        is_not_found,
    );
    fails(s.set_disabled(ghost, true), "disable ghost", is_not_found);
    fails(s.set_quota(ghost, 1), "quota ghost", is_not_found);
    fails(s.set_admin(ghost, true), "admin ghost", is_not_found);
    fails(s.remove_account(ghost), "remove ghost", is_not_found);
    assert_eq!(ok(s.account_by_id(ghost), "ghost"), None);

    ok(s.remove_account(bob.id), "remove");
    assert_eq!(ok(s.account("bob@example.com"), "gone"), None);
    let again = ok(s.add_account("bob@example.com", "h"), "re-add");
    assert_ne!(again.id, bob.id, "an id is not reused");
}

/// Looking up junk is "no such account", not an error: login code must
/// not be able to tell a malformed name from an unknown one.
pub fn account_lookups_tolerate_junk(fx: &impl Fixture) {
    let s = fx.open();
    with_alice(&s);
    for junk in ["", "alice", "@example.com", "a@@example.com", "\0@x"] {
        assert_eq!(ok(s.account(junk), junk), None);
    }
}

/// Aliases: targets must exist; no clash with accounts; sorted listing.
pub fn aliases_crud(fx: &impl Fixture) {
    let s = fx.open();
    with_alice(&s);
    ok(s.add_account("bob@example.com", "h"), "bob");
    let both = ["Bob@example.com".to_string(), "alice@example.com".into()];
    ok(s.add_alias("Team@Example.com", &both), "team");
    ok(
        s.add_alias("@example.com", &["alice@example.com".into()]),
        "catch-all",
    );
    assert_eq!(
        ok(s.aliases(), "list"),
        [
            Alias {
                address: "@example.com".into(),
                targets: vec!["alice@example.com".into()],
            },
            Alias {
                address: "team@example.com".into(),
                targets: vec!["bob@example.com".into(), "alice@example.com".into()],
            },
        ]
    );
    let alice = ["alice@example.com".to_string()];
    fails(
        s.add_alias("team@example.com", &alice),
        "duplicate",
        is_exists,
    );
    fails(
        s.add_alias("bob@example.com", &alice),
        "account's address",
        is_exists,
    );
    fails(
        s.add_account("team@example.com", "h"),
        "alias's address",
        is_exists,
    );
    fails(
        s.add_alias("x@example.com", &["zed@example.com".into()]),
        "target",
        is_not_found,
    );
    fails(
        s.add_alias("x@other.example", &alice),
        "domain",
        is_unknown_domain,
    );
    fails(s.add_alias("x@example.com", &[]), "no targets", is_invalid);
    ok(s.remove_alias("TEAM@example.com"), "remove");
    fails(
        s.remove_alias("team@example.com"),
        "remove twice",
        is_not_found,
    );
    assert_eq!(ok(s.aliases(), "list").len(), 1);
}

/// Removing an account removes its mail, its blobs, and aliases that
/// pointed only at it; aliases with other targets keep those.
pub fn removing_an_account_cleans_up(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let bob = ok(s.add_account("bob@example.com", "h"), "bob");
    let pair = ["alice@example.com".to_string(), "bob@example.com".into()];
    ok(s.add_alias("team@example.com", &pair), "team");
    ok(
        s.add_alias("a@example.com", &["alice@example.com".into()]),
        "a",
    );
    let placed = ok(s.deliver(&[alice.id], &message(1), 0), "deliver");
    assert_eq!(fx.blob_count(), 1);

    ok(s.remove_account(alice.id), "remove");
    assert_eq!(fx.blob_count(), 0, "alice's only blob is gone");
    assert_eq!(ok(s.mailbox_by_id(placed[0].0), "inbox"), None);
    fails(s.messages(placed[0].0), "messages", is_not_found);
    fails(s.mailboxes(alice.id), "mailboxes", is_not_found);
    let aliases = ok(s.aliases(), "aliases");
    assert_eq!(aliases.len(), 1, "a@ had no other target: {aliases:?}");
    assert_eq!(aliases[0].targets, ["bob@example.com"]);
    assert_eq!(
        ok(s.resolve_recipient("team@example.com"), "team"),
        [bob.id]
    );
}

/// Account first, then alias, then catch-all; disabled accounts excluded.
pub fn resolve_recipient_order(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let bob = ok(s.add_account("bob@example.com", "h"), "bob");
    let carol = ok(s.add_account("carol@example.com", "h"), "carol");
    let resolve = |a: &str| ok(s.resolve_recipient(a), a);
    let pair = ["bob@example.com".to_string(), "carol@example.com".into()];
    ok(s.add_alias("team@example.com", &pair), "team");
    ok(
        s.add_alias("@example.com", &["carol@example.com".into()]),
        "catch-all",
    );

    assert_eq!(resolve("Alice@EXAMPLE.com"), [alice.id], "account");
    assert_eq!(resolve("team@example.com"), [bob.id, carol.id], "alias");
    assert_eq!(resolve("anyone@example.com"), [carol.id], "catch-all");
    assert!(resolve("x@elsewhere.example").is_empty(), "foreign domain");

    ok(s.set_disabled(bob.id, true), "disable bob");
    assert!(
        resolve("bob@example.com").is_empty(),
        "disabled: no fall-through"
    );
    assert_eq!(resolve("team@example.com"), [carol.id], "disabled target");
    ok(s.set_disabled(carol.id, true), "disable carol");
    assert!(
        resolve("anyone@example.com").is_empty(),
        "disabled catch-all"
    );
    ok(s.remove_alias("@example.com"), "no catch-all");
    ok(s.set_disabled(carol.id, false), "enable carol");
    assert!(resolve("anyone@example.com").is_empty(), "no catch-all");
}
