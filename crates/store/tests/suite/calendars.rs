//! Calendars (CalDAV, RFC 4791): collections, object resources, ETags,
//! preconditions, UIDs, sync tokens (RFC 6578), time-range candidates.

use postern_store::{
    Account, Calendar, CalendarChanges, CalendarProps, Change, ComponentKind, NewCalendarObject,
    Precondition, Store, StoreError,
};

use super::{fails, mailbox, message, ok, with_alice, Fixture};

/// A VEVENT object with no time bounds.
fn event<'a>(name: &'a str, uid: &'a str, data: &'a [u8]) -> NewCalendarObject<'a> {
    NewCalendarObject {
        name,
        uid,
        component: ComponentKind::Event,
        data,
        first_start: None,
        last_end: None,
    }
}

/// A VEVENT object bounded by `[start, end]`.
fn timed<'a>(name: &'a str, start: Option<i64>, end: Option<i64>) -> NewCalendarObject<'a> {
    NewCalendarObject {
        first_start: start,
        last_end: end,
        ..event(name, name, b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    }
}

fn personal<S: Store>(s: &S, account: &Account) -> Calendar {
    ok(
        s.create_calendar(account.id, "personal", "Personal", &[]),
        "create calendar",
    )
}

fn invalid(e: &StoreError) -> bool {
    matches!(e, StoreError::Invalid { .. })
}

fn not_found(e: &StoreError) -> bool {
    matches!(e, StoreError::NotFound { .. })
}

fn precondition(e: &StoreError) -> bool {
    matches!(e, StoreError::PreconditionFailed { .. })
}

fn names(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// Create, list, look up, update and delete calendars.
pub fn calendars_crud(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let cal = personal(&s, &alice);
    assert_eq!(cal.account, alice.id);
    assert_eq!(cal.name, "personal");
    assert_eq!(cal.display_name, "Personal");
    assert_eq!(cal.components, ComponentKind::ALL, "none given: every kind");
    assert_eq!(cal.sync_token, 0);
    assert_eq!((cal.description.clone(), cal.color.clone()), (None, None));
    let todo = [ComponentKind::Todo, ComponentKind::Todo];
    let tasks = ok(s.create_calendar(alice.id, "Tasks", "", &todo), "tasks");
    assert_eq!(tasks.components, [ComponentKind::Todo]);
    fails(
        s.create_calendar(alice.id, "personal", "Again", &[]),
        "duplicate",
        |e| matches!(e, StoreError::AlreadyExists { .. }),
    );
    let stranger = postern_store::AccountId(alice.id.0 + 1000);
    fails(
        s.create_calendar(stranger, "x", "", &[]),
        "no account",
        not_found,
    );
    fails(s.calendars(stranger), "list of no account", not_found);

    let listed = ok(s.calendars(alice.id), "list");
    let listed: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(listed, ["Tasks", "personal"], "sorted bytewise");
    assert_eq!(
        ok(s.calendar(alice.id, "personal"), "get"),
        Some(cal.clone())
    );
    assert_eq!(
        ok(s.calendar(alice.id, "Personal"), "case"),
        None,
        "names are exact"
    );
    assert_eq!(ok(s.calendar(alice.id, "../x"), "junk"), None);

    let props = CalendarProps {
        display_name: Some("Home".into()),
        description: Some("Family\r\nand friends".into()),
        color: Some("#ff0000".into()),
        timezone: Some("BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nEND:VTIMEZONE\r\n".into()),
    };
    let updated = ok(s.update_calendar(cal.id, &props), "update");
    assert_eq!(updated.display_name, "Home");
    assert_eq!(updated.color.as_deref(), Some("#ff0000"));
    assert_eq!(updated.sync_token, 0, "properties are not members");
    let partial = CalendarProps {
        color: Some(String::new()),
        ..CalendarProps::default()
    };
    let cleared = ok(s.update_calendar(cal.id, &partial), "clear colour");
    assert_eq!(cleared.color, None, "Some(\"\") removes");
    assert_eq!(cleared.description, updated.description, "None keeps");
    assert_eq!(ok(s.calendar(alice.id, "personal"), "again"), Some(cleared));
    let bad = CalendarProps {
        display_name: Some("two\nlines".into()),
        ..CalendarProps::default()
    };
    fails(
        s.update_calendar(cal.id, &bad),
        "control character",
        invalid,
    );

    ok(s.delete_calendar(cal.id), "delete");
    assert_eq!(ok(s.calendar(alice.id, "personal"), "deleted"), None);
    fails(s.delete_calendar(cal.id), "delete twice", not_found);
    fails(s.calendar_objects(cal.id), "objects of deleted", not_found);
    // With every calendar gone, a reused id would be the lowest: a sync
    // token of the deleted calendar would then pass for the new one's.
    ok(s.delete_calendar(tasks.id), "delete tasks");
    let again = personal(&s, &alice);
    assert!(again.id > tasks.id, "calendar ids are never reused");
}

/// A calendar made with its properties has them from the start; one with
/// a property refused is not made at all (one transaction).
pub fn calendars_created_with_properties(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let props = CalendarProps {
        display_name: Some("Work".into()),
        description: Some("Meetings".into()),
        color: Some("#00ff00".into()),
        timezone: None,
    };
    let todo = [ComponentKind::Todo];
    let cal = ok(
        s.create_calendar_with(alice.id, "work", &todo, &props),
        "create with properties",
    );
    assert_eq!(cal.display_name, "Work");
    assert_eq!(cal.description.as_deref(), Some("Meetings"));
    assert_eq!(cal.color.as_deref(), Some("#00ff00"));
    assert_eq!(cal.components, todo);
    assert_eq!(ok(s.calendar(alice.id, "work"), "look up"), Some(cal));
    let plain = ok(
        s.create_calendar_with(alice.id, "plain", &[], &CalendarProps::default()),
        "create without properties",
    );
    assert_eq!((plain.display_name.as_str(), plain.color), ("", None));
    let bad = CalendarProps {
        color: Some("red\u{7}".into()),
        ..props
    };
    fails(
        s.create_calendar_with(alice.id, "refused", &[], &bad),
        "control character",
        invalid,
    );
    assert_eq!(
        ok(s.calendar(alice.id, "refused"), "after the refusal"),
        None,
        "a refused property leaves no calendar behind"
    );
    fails(
        s.create_calendar_with(alice.id, "work", &[], &CalendarProps::default()),
        "duplicate",
        |e| matches!(e, StoreError::AlreadyExists { .. }),
    );
}

/// Malformed calendar names, resource names, UIDs and bounds are refused.
pub fn calendar_names_refused(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let long = "c".repeat(65);
    for bad in ["", ".", "..", "a/b", "a b", "é", long.as_str()] {
        fails(s.create_calendar(alice.id, bad, "", &[]), bad, invalid);
    }
    let cal = personal(&s, &alice);
    let data = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n";
    let long = "n".repeat(256);
    for bad in [
        "",
        ".",
        "..",
        "../x.ics",
        "a/b.ics",
        "a b.ics",
        "a?.ics",
        long.as_str(),
    ] {
        let put = s.put_calendar_object(cal.id, &event(bad, "u", data), Precondition::Any);
        fails(put, bad, invalid);
    }
    let long_uid = "u".repeat(256);
    for bad in ["", "a\r\nb", long_uid.as_str()] {
        let put = s.put_calendar_object(cal.id, &event("a.ics", bad, data), Precondition::Any);
        fails(put, "bad UID", invalid);
    }
    let backwards = timed("a.ics", Some(10), Some(5));
    fails(
        s.put_calendar_object(cal.id, &backwards, Precondition::Any),
        "end before start",
        invalid,
    );
    let fine = event("uid-1@example.com.ics", "uid-1@example.com", data);
    ok(
        s.put_calendar_object(cal.id, &fine, Precondition::Any),
        "@ is allowed",
    );
    assert_eq!(ok(s.calendar_object(cal.id, "a/b"), "junk get"), None);
    fails(
        s.delete_calendar_object(cal.id, "a/b", Precondition::Any),
        "junk delete",
        invalid,
    );
    assert_eq!(
        ok(s.calendar(alice.id, "personal"), "cal"),
        Some(Calendar {
            sync_token: 1,
            ..cal
        })
    );
}

/// The ETag is quoted, strong, and follows the bytes.
pub fn etags_follow_content(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let cal = personal(&s, &alice);
    let first = b"BEGIN:VCALENDAR\r\nUID:1\r\nEND:VCALENDAR\r\n";
    let (meta, created) = ok(
        s.put_calendar_object(cal.id, &event("b.ics", "1", first), Precondition::Any),
        "put",
    );
    assert!(created);
    let tag = meta.etag.clone();
    assert!(
        tag.len() > 2 && tag.starts_with('"') && tag.ends_with('"'),
        "{tag}"
    );
    assert!(!tag.starts_with("W/"), "strong");
    let inner = &tag[1..tag.len() - 1];
    assert!(
        inner.len() >= 32
            && inner
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "lowercase hex: {tag}"
    );
    assert_eq!(meta.size, first.len() as u64);
    assert_eq!((meta.uid.as_str(), meta.modseq), ("1", 1));

    let got = ok(s.calendar_object(cal.id, "b.ics"), "get").expect("stored");
    assert_eq!((&got.meta, got.data.as_slice()), (&meta, &first[..]));
    let second = b"BEGIN:VCALENDAR\r\nUID:1\r\nSUMMARY:x\r\nEND:VCALENDAR\r\n";
    let (changed, created) = ok(
        s.put_calendar_object(cal.id, &event("b.ics", "1", second), Precondition::Any),
        "replace",
    );
    assert!(!created);
    assert_ne!(changed.etag, tag, "new bytes, new ETag");
    assert_eq!(changed.modseq, 2);
    let (back, _) = ok(
        s.put_calendar_object(cal.id, &event("b.ics", "1", first), Precondition::Any),
        "back",
    );
    assert_eq!(back.etag, tag, "same bytes, same ETag");
    ok(
        s.put_calendar_object(cal.id, &event("a.ics", "2", second), Precondition::Any),
        "another",
    );
    let listed = ok(s.calendar_objects(cal.id), "list");
    let listed: Vec<(&str, &str)> = listed
        .iter()
        .map(|m| (m.name.as_str(), m.etag.as_str()))
        .collect();
    assert_eq!(
        listed,
        [("a.ics", changed.etag.as_str()), ("b.ics", tag.as_str())]
    );
    let wanted = ["b.ics", "missing.ics", "a.ics", "b.ics", "../x"].map(String::from);
    let multi = ok(s.calendar_objects_by_name(cal.id, &wanted), "multiget");
    let multi: Vec<&str> = multi.iter().map(|o| o.meta.name.as_str()).collect();
    assert_eq!(
        multi,
        ["b.ics", "a.ics"],
        "in the order asked, found ones once"
    );
}

/// If-Match / If-None-Match semantics, checked with the write.
pub fn preconditions_guard_writes(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let cal = personal(&s, &alice);
    let v1 = event("e.ics", "e", b"v1");
    let v2 = event("e.ics", "e", b"v2");
    let stale = Precondition::EtagMatches("\"0123\"".into());
    fails(
        s.put_calendar_object(cal.id, &v1, Precondition::MustExist),
        "If-Match * on none",
        precondition,
    );
    fails(
        s.put_calendar_object(cal.id, &v1, stale.clone()),
        "If-Match on none",
        precondition,
    );
    let (m1, created) = ok(
        s.put_calendar_object(cal.id, &v1, Precondition::MustNotExist),
        "If-None-Match * on none",
    );
    assert!(created);
    fails(
        s.put_calendar_object(cal.id, &v2, Precondition::MustNotExist),
        "If-None-Match * on existing",
        precondition,
    );
    fails(
        s.put_calendar_object(cal.id, &v2, stale),
        "stale If-Match",
        precondition,
    );
    let current = ok(s.calendar_object(cal.id, "e.ics"), "get").expect("exists");
    assert_eq!(current.data, b"v1", "a failed precondition changes nothing");
    let matching = Precondition::EtagMatches(m1.etag);
    let (m2, created) = ok(
        s.put_calendar_object(cal.id, &v2, matching.clone()),
        "If-Match",
    );
    assert!(!created);
    fails(
        s.put_calendar_object(cal.id, &v1, matching.clone()),
        "old ETag",
        precondition,
    );
    let v3 = event("e.ics", "e", b"v3");
    ok(
        s.put_calendar_object(cal.id, &v3, Precondition::MustExist),
        "If-Match *",
    );
    assert_eq!(
        ok(s.calendar(alice.id, "personal"), "cal")
            .expect("cal")
            .sync_token,
        3
    );

    fails(
        s.delete_calendar_object(cal.id, "e.ics", matching),
        "delete stale",
        precondition,
    );
    fails(
        s.delete_calendar_object(cal.id, "e.ics", Precondition::EtagMatches(m2.etag)),
        "delete with the replaced ETag",
        precondition,
    );
    let now = ok(s.calendar_object(cal.id, "e.ics"), "get").expect("still there");
    ok(
        s.delete_calendar_object(cal.id, "e.ics", Precondition::EtagMatches(now.meta.etag)),
        "delete",
    );
    assert_eq!(ok(s.calendar_object(cal.id, "e.ics"), "gone"), None);
    fails(
        s.delete_calendar_object(cal.id, "e.ics", Precondition::Any),
        "again",
        not_found,
    );
    fails(
        s.delete_calendar_object(cal.id, "e.ics", Precondition::MustExist),
        "If-Match * on none",
        precondition,
    );
    assert_eq!(
        ok(s.calendar(alice.id, "personal"), "cal")
            .expect("cal")
            .sync_token,
        4
    );
}

/// One UID per calendar (RFC 4791 §5.3.2.1 no-uid-conflict), and only
/// the components the calendar holds.
pub fn uids_and_components_are_checked(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let cal = personal(&s, &alice);
    let other = ok(s.create_calendar(alice.id, "other", "", &[]), "other");
    ok(
        s.put_calendar_object(cal.id, &event("a.ics", "U", b"a"), Precondition::Any),
        "a",
    );
    match s.put_calendar_object(cal.id, &event("b.ics", "U", b"b"), Precondition::Any) {
        Err(StoreError::UidConflict { existing }) => assert_eq!(existing, "a.ics"),
        other => panic!("UID reused: {other:?}"),
    }
    assert_eq!(ok(s.calendar_object(cal.id, "b.ics"), "b"), None);
    ok(
        s.put_calendar_object(cal.id, &event("a.ics", "U", b"a2"), Precondition::Any),
        "same resource",
    );
    ok(
        s.put_calendar_object(other.id, &event("b.ics", "U", b"b"), Precondition::Any),
        "other calendar",
    );
    ok(
        s.put_calendar_object(cal.id, &event("a.ics", "V", b"a3"), Precondition::Any),
        "UID changed",
    );
    ok(
        s.put_calendar_object(cal.id, &event("b.ics", "U", b"b"), Precondition::Any),
        "U is free",
    );
    // RFC 9110 §13.2.2: the precondition is evaluated before the method's
    // own checks.
    let both = s.put_calendar_object(
        cal.id,
        &event("b.ics", "V", b"b2"),
        Precondition::MustNotExist,
    );
    fails(both, "precondition first", precondition);

    let tasks = ok(
        s.create_calendar(alice.id, "tasks", "", &[ComponentKind::Todo]),
        "tasks",
    );
    let e = event("e.ics", "E", b"e");
    fails(
        s.put_calendar_object(tasks.id, &e, Precondition::Any),
        "VEVENT in tasks",
        invalid,
    );
    let t = NewCalendarObject {
        component: ComponentKind::Todo,
        ..e
    };
    let (meta, _) = ok(
        s.put_calendar_object(tasks.id, &t, Precondition::Any),
        "VTODO",
    );
    assert_eq!(meta.component, ComponentKind::Todo);
    assert_eq!(ComponentKind::parse("vtodo"), Some(ComponentKind::Todo));
    assert_eq!(ComponentKind::parse("VJOURNAL"), None);
    assert_eq!(ComponentKind::Event.as_str(), "VEVENT");
}

/// Sync tokens: initial, after create, modify, delete and re-create; a
/// token from the future is refused; each write is broadcast.
pub fn sync_tokens_report_changes(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let cal = personal(&s, &alice);
    let since = |token| ok(s.calendar_changes_since(cal.id, token), "changes");
    assert_eq!(since(0), CalendarChanges::default());
    let mut changes = s.subscribe();
    ok(
        s.put_calendar_object(cal.id, &event("b.ics", "b", b"b"), Precondition::Any),
        "b",
    );
    ok(
        s.put_calendar_object(cal.id, &event("a.ics", "a", b"a"), Precondition::Any),
        "a",
    );
    assert_eq!(
        changes.try_recv().ok(),
        Some(Change::Calendar {
            calendar: cal.id,
            sync_token: 1
        })
    );
    let initial = since(0);
    assert_eq!(
        (names(&initial.changed), initial.sync_token),
        (vec!["a.ics", "b.ics"], 2)
    );
    assert_eq!(names(&since(1).changed), ["a.ics"]);
    assert!(since(2).changed.is_empty() && since(2).deleted.is_empty());

    ok(
        s.put_calendar_object(cal.id, &event("b.ics", "b", b"b2"), Precondition::Any),
        "modify",
    );
    assert_eq!(names(&since(2).changed), ["b.ics"]);
    ok(
        s.delete_calendar_object(cal.id, "a.ics", Precondition::Any),
        "delete",
    );
    let after = since(2);
    assert_eq!(
        (names(&after.changed), names(&after.deleted)),
        (vec!["b.ics"], vec!["a.ics"])
    );
    assert_eq!(after.sync_token, 4);
    let everything = since(0);
    assert_eq!(names(&everything.changed), ["b.ics"]);
    assert!(
        everything.deleted.is_empty(),
        "no deletions in an initial sync"
    );
    assert_eq!(names(&since(3).deleted), ["a.ics"]);
    assert!(since(4).deleted.is_empty());
    fails(s.calendar_changes_since(cal.id, 5), "future token", invalid);
    fails(
        s.calendar_changes_since(cal.id, u64::MAX),
        "huge token",
        invalid,
    );

    ok(
        s.put_calendar_object(cal.id, &event("a.ics", "a", b"a2"), Precondition::Any),
        "re-create",
    );
    let back = since(3);
    assert_eq!(
        (names(&back.changed), back.deleted.len()),
        (vec!["a.ics"], 0)
    );
    let seen: Vec<Change> = std::iter::from_fn(|| changes.try_recv().ok()).collect();
    let tokens: Vec<u64> = seen
        .iter()
        .filter_map(|c| match c {
            Change::Calendar {
                calendar,
                sync_token,
            } if *calendar == cal.id => Some(*sync_token),
            _ => None,
        })
        .collect();
    assert_eq!(tokens, [2, 3, 4, 5], "every write, in commit order");
}

/// Time-range candidates: bounds may overlap; a missing bound never
/// excludes.
pub fn range_candidates(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let cal = personal(&s, &alice);
    for obj in [
        timed("early", Some(100), Some(200)),
        timed("later", Some(300), Some(400)),
        timed("forever", Some(350), None),
        timed("unknown", None, None),
        timed("instant", Some(500), Some(500)),
        timed("until", None, Some(50)),
    ] {
        ok(
            s.put_calendar_object(cal.id, &obj, Precondition::Any),
            obj.name,
        );
    }
    let range = |start, end| -> Vec<String> {
        ok(s.calendar_objects_in_range(cal.id, start, end), "range")
            .into_iter()
            .map(|o| o.meta.name)
            .collect()
    };
    assert_eq!(range(150, 320), ["early", "later", "unknown"]);
    assert_eq!(range(500, 600), ["forever", "instant", "unknown"]);
    assert_eq!(range(0, 60), ["unknown", "until"]);
    assert_eq!(
        range(200, 300),
        ["early", "unknown"],
        "end is exclusive, touching is a candidate"
    );
    let stranger = postern_store::CalendarId(cal.id.0 + 1000);
    fails(
        s.calendar_objects_in_range(stranger, 0, 1),
        "no calendar",
        not_found,
    );
}

/// Calendar data counts toward the account's quota, and frees it when
/// deleted.
pub fn calendar_data_counts_toward_quota(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    ok(s.set_quota(alice.id, 100), "quota");
    let cal = personal(&s, &alice);
    let big = [b'x'; 80];
    ok(
        s.put_calendar_object(cal.id, &event("a.ics", "a", &big), Precondition::Any),
        "80",
    );
    let over = s.put_calendar_object(cal.id, &event("b.ics", "b", &[b'y'; 30]), Precondition::Any);
    fails(over, "110 of 100", |e| {
        matches!(e, StoreError::QuotaExceeded { .. })
    });
    let inbox = mailbox(&s, &alice, "INBOX").id;
    let mail = [b'm'; 30];
    fails(s.append(inbox, &mail, &[], 0), "mail over quota", |e| {
        matches!(e, StoreError::QuotaExceeded { .. })
    });
    ok(
        s.put_calendar_object(cal.id, &event("a.ics", "a", &[b'x'; 10]), Precondition::Any),
        "shrink",
    );
    ok(s.append(inbox, &mail, &[], 0), "now mail fits");
    ok(s.delete_calendar(cal.id), "delete calendar");
    // 30 + 65 fits only if the calendar's 10 bytes went with it.
    ok(s.append(inbox, &[b'n'; 65], &[], 0), "its bytes are freed");
}

/// Removing an account removes its calendars and their objects.
pub fn account_removal_removes_calendars(fx: &impl Fixture) {
    let s = fx.open();
    let alice = with_alice(&s);
    let bob = ok(s.add_account("bob@example.com", "$hash$"), "bob");
    let cal = personal(&s, &alice);
    let bobs = personal(&s, &bob);
    ok(
        s.put_calendar_object(cal.id, &event("a.ics", "a", b"a"), Precondition::Any),
        "a",
    );
    ok(
        s.put_calendar_object(bobs.id, &event("a.ics", "a", b"a"), Precondition::Any),
        "bob's",
    );
    ok(s.remove_account(alice.id), "remove alice");
    fails(s.calendars(alice.id), "alice's calendars", not_found);
    fails(s.calendar_objects(cal.id), "alice's objects", not_found);
    fails(
        s.calendar_changes_since(cal.id, 0),
        "alice's changes",
        not_found,
    );
    let left = ok(s.calendar_object(bobs.id, "a.ics"), "bob's object");
    assert_eq!(
        left.map(|o| o.data),
        Some(b"a".to_vec()),
        "other accounts keep theirs"
    );
    assert_eq!(ok(s.calendars(bob.id), "bob's calendars").len(), 1);
}

/// Calendars, objects and sync tokens survive a restart.
pub fn calendars_survive_reopen(fx: &impl Fixture) {
    let (cal, meta) = {
        let s = fx.open();
        let alice = with_alice(&s);
        let cal = personal(&s, &alice);
        let data = message(1);
        ok(
            s.put_calendar_object(cal.id, &event("x.ics", "x", &data), Precondition::Any),
            "x",
        );
        let (meta, _) = ok(
            s.put_calendar_object(cal.id, &timed("y.ics", Some(1), Some(2)), Precondition::Any),
            "y",
        );
        ok(
            s.delete_calendar_object(cal.id, "x.ics", Precondition::Any),
            "delete x",
        );
        (cal, meta)
    };
    let s = fx.open();
    let again = ok(s.calendar(cal.account, "personal"), "calendar").expect("kept");
    assert_eq!((again.id, again.sync_token), (cal.id, 3));
    let y = ok(s.calendar_object(cal.id, "y.ics"), "y").expect("kept");
    assert_eq!(y.meta, meta);
    let changes = ok(s.calendar_changes_since(cal.id, 1), "changes");
    assert_eq!(
        (names(&changes.changed), names(&changes.deleted)),
        (vec!["y.ics"], vec!["x.ics"])
    );
}
