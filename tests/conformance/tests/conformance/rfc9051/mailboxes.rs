//! RFC 9051 §6.3 (RFC 3501 §6.3): SELECT and EXAMINE, CREATE, DELETE and
//! RENAME with hierarchy, LIST patterns, STATUS, CLOSE and UNSELECT.

use crate::helpers::{any, cmd, code, has, login, with_mail, Client, ALICE, FIRST, SECOND};
use crate::wire::{lists, status, List};

/// The LIST responses of `LIST ref pattern`.
async fn list(c: &mut Client, reference: &str, pattern: &str) -> Vec<List> {
    let l = cmd(c, &format!("l LIST \"{reference}\" \"{pattern}\"")).await;
    lists(&l, "LIST")
}

fn names(l: &[List]) -> Vec<&str> {
    let mut n: Vec<&str> = l.iter().map(|l| l.name.as_str()).collect();
    n.sort_unstable();
    n
}

fn find<'a>(l: &'a [List], name: &str) -> &'a List {
    l.iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("{name} not listed: {l:?}"))
}

/// A name that is listed but cannot be selected, as RFC 9051 §6.3.9 and
/// §7.3.1 say a hierarchy level with no mailbox is shown.
fn not_selectable(l: &List) -> bool {
    l.has("\\Noselect") || l.has("\\NonExistent")
}

/// RFC 3501 §6.3.1: SELECT answers FLAGS, EXISTS, RECENT, the first
/// unseen message, PERMANENTFLAGS, UIDNEXT and UIDVALIDITY, and READ-WRITE
/// in the tagged OK; RFC 9051 §6.3.2: selecting while selected first
/// closes the old mailbox, said with `OK [CLOSED]` before the new
/// mailbox's responses.
#[tokio::test]
async fn rfc3501_6_3_1_select_responses() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let s = cmd(&mut c, "a SELECT INBOX").await;
    assert!(
        s.iter()
            .any(|l| l.starts_with("* FLAGS (") && l.contains("\\Seen") && l.contains("\\Deleted")),
        "{s:?}"
    );
    for want in ["* 2 EXISTS", "* 0 RECENT"] {
        assert!(s.contains(&want.to_owned()), "{want}: {s:?}");
    }
    assert_eq!(code(&s, "UNSEEN").as_deref(), Some("1"), "{s:?}");
    assert_eq!(code(&s, "UIDNEXT").as_deref(), Some("3"), "{s:?}");
    let validity = code(&s, "UIDVALIDITY").unwrap_or_else(|| panic!("{s:?}"));
    assert!(validity.parse::<u32>().is_ok_and(|v| v > 0), "{s:?}");
    let permanent = code(&s, "PERMANENTFLAGS").unwrap_or_else(|| panic!("{s:?}"));
    assert!(permanent.contains("\\*"), "keywords may be created: {s:?}");
    assert!(s.last().unwrap().starts_with("a OK [READ-WRITE]"), "{s:?}");

    let t = cmd(&mut c, "b SELECT Trash").await;
    let closed = t.iter().position(|l| l.starts_with("* OK [CLOSED]"));
    let exists = t.iter().position(|l| l.ends_with(" EXISTS"));
    assert!(closed.is_some() && closed < exists, "{t:?}");
    assert_eq!(code(&t, "UIDNEXT").as_deref(), Some("1"), "{t:?}");
}

/// RFC 9051 §6.3.2: an IMAP4rev2 SELECT answers FLAGS, EXISTS, the
/// mailbox's LIST response, PERMANENTFLAGS, UIDNEXT and UIDVALIDITY, and
/// neither RECENT nor UNSEEN, which rev2 removed.
#[tokio::test]
async fn rfc9051_6_3_2_rev2_select_responses() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a ENABLE IMAP4rev2").await;
    let s = cmd(&mut c, "b SELECT inbox").await;
    assert!(s.contains(&"* 2 EXISTS".to_owned()), "{s:?}");
    let l = lists(&s, "LIST");
    assert_eq!(l.len(), 1, "{s:?}");
    assert_eq!(l[0].name, "INBOX", "{s:?}");
    for item in ["UIDNEXT", "UIDVALIDITY", "PERMANENTFLAGS"] {
        assert!(code(&s, item).is_some(), "{item}: {s:?}");
    }
    assert!(!has(&s, "RECENT") && code(&s, "UNSEEN").is_none(), "{s:?}");
}

/// RFC 9051 §6.3.4: CREATE makes a mailbox; an existing name (INBOX in
/// any case included) is refused with ALREADYEXISTS; a trailing
/// separator only declares intent, and the mailbox is made without it;
/// a name deeper in the hierarchy makes a selectable mailbox whose
/// superior levels are listed.
#[tokio::test]
async fn rfc9051_6_3_4_create() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a CREATE Plans").await;
    let st = cmd(&mut c, "b STATUS Plans (MESSAGES UIDNEXT)").await;
    assert_eq!(
        status(&st, "Plans"),
        [("MESSAGES".into(), 0), ("UIDNEXT".into(), 1)],
        "{st:?}"
    );
    for (tag, name) in [("c1", "Plans"), ("c2", "INBOX"), ("c3", "inbox")] {
        let no = any(&mut c, &format!("{tag} CREATE {name}")).await;
        assert!(
            no.last()
                .unwrap()
                .starts_with(&format!("{tag} NO [ALREADYEXISTS]")),
            "{no:?}"
        );
    }
    cmd(&mut c, "d CREATE Trail/").await;
    let l = list(&mut c, "", "Trail*").await;
    assert_eq!(names(&l), ["Trail"], "{l:?}");
    assert!(!not_selectable(&l[0]), "{l:?}");

    cmd(&mut c, "e CREATE a/b/c").await;
    cmd(&mut c, "f SELECT a/b/c").await;
    let l = list(&mut c, "", "a*").await;
    assert_eq!(names(&l), ["a", "a/b", "a/b/c"], "{l:?}");
    for level in ["a", "a/b"] {
        let entry = find(&l, level);
        assert!(entry.has("\\HasChildren"), "{entry:?}");
    }
}

/// RFC 9051 §6.3.5: DELETE removes a mailbox and its messages; INBOX and
/// a missing name are refused; a mailbox with inferiors is removed while
/// they stay, its name then listed as not selectable; deleting such a
/// name again, now \Noselect with inferiors, is an error.
#[tokio::test]
async fn rfc9051_6_3_5_delete() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a CREATE Old").await;
    cmd(&mut c, "b APPEND Old {12+}\r\nSubject: o\r\n").await;
    cmd(&mut c, "c DELETE Old").await;
    let no = any(&mut c, "d STATUS Old (MESSAGES)").await;
    assert!(no.last().unwrap().starts_with("d NO"), "{no:?}");
    let no = any(&mut c, "e DELETE INBOX").await;
    assert!(no.last().unwrap().starts_with("e NO"), "{no:?}");
    let no = any(&mut c, "f DELETE Nowhere").await;
    assert!(
        no.last().unwrap().starts_with("f NO [NONEXISTENT]"),
        "{no:?}"
    );

    cmd(&mut c, "g CREATE p").await;
    cmd(&mut c, "h CREATE p/q").await;
    cmd(&mut c, "i DELETE p").await;
    let l = list(&mut c, "", "p*").await;
    assert_eq!(names(&l), ["p", "p/q"], "{l:?}");
    assert!(not_selectable(find(&l, "p")), "{l:?}");
    let no = any(&mut c, "j SELECT p").await;
    assert!(no.last().unwrap().starts_with("j NO"), "{no:?}");
    let no = any(&mut c, "k DELETE p").await;
    assert!(no.last().unwrap().starts_with("k NO"), "{no:?}");
    cmd(&mut c, "m SELECT p/q").await;
}

/// RFC 9051 §6.3.6: RENAME takes the mailbox's inferiors along and keeps
/// its messages; renaming onto an existing name is ALREADYEXISTS, a
/// missing source NONEXISTENT.
#[tokio::test]
async fn rfc9051_6_3_6_rename_with_inferiors() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a CREATE p2").await;
    cmd(&mut c, "b CREATE p2/q").await;
    cmd(&mut c, "c APPEND p2/q {12+}\r\nSubject: q\r\n").await;
    cmd(&mut c, "d RENAME p2 r2").await;
    let l = list(&mut c, "", "*2*").await;
    assert_eq!(names(&l), ["r2", "r2/q"], "{l:?}");
    let st = cmd(&mut c, "e STATUS r2/q (MESSAGES)").await;
    assert_eq!(status(&st, "r2/q"), [("MESSAGES".into(), 1)], "{st:?}");
    let no = any(&mut c, "f RENAME r2 Archive").await;
    assert!(
        no.last().unwrap().starts_with("f NO [ALREADYEXISTS]"),
        "{no:?}"
    );
    let no = any(&mut c, "g RENAME Nowhere Elsewhere").await;
    assert!(
        no.last().unwrap().starts_with("g NO [NONEXISTENT]"),
        "{no:?}"
    );
}

/// RFC 9051 §6.3.6: renaming INBOX moves all its messages to the new
/// name and leaves INBOX in place, empty; INBOX's inferiors are not
/// renamed; new mail still arrives in INBOX.
#[tokio::test]
async fn rfc9051_6_3_6_rename_inbox_moves_messages() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a CREATE INBOX/child").await;
    cmd(&mut c, "b RENAME INBOX Old").await;
    let st = cmd(&mut c, "c STATUS Old (MESSAGES)").await;
    assert_eq!(status(&st, "Old"), [("MESSAGES".into(), 2)], "{st:?}");
    let st = cmd(&mut c, "d STATUS INBOX (MESSAGES)").await;
    assert_eq!(status(&st, "INBOX"), [("MESSAGES".into(), 0)], "{st:?}");
    let l = list(&mut c, "", "*").await;
    let all = names(&l);
    assert!(
        all.contains(&"INBOX/child") && !all.contains(&"Old/child"),
        "{l:?}"
    );
    cmd(&mut c, "e EXAMINE Old").await;
    let f = cmd(&mut c, "f FETCH 1:* RFC822.SIZE").await;
    let sizes: Vec<u64> = crate::wire::fetches(&f)
        .iter()
        .map(|f| f.number("RFC822.SIZE"))
        .collect();
    assert_eq!(sizes, [FIRST.len() as u64, SECOND.len() as u64], "{f:?}");
    srv.deliver(ALICE, b"Subject: after\r\n\r\nx\r\n");
    let st = cmd(&mut c, "g STATUS INBOX (MESSAGES)").await;
    assert_eq!(status(&st, "INBOX"), [("MESSAGES".into(), 1)], "{st:?}");
}

/// RFC 9051 §6.3.9: `*` matches across levels, `%` one level (a level
/// with no mailbox listed as not selectable); the reference is joined to
/// the pattern; INBOX matches in any case; an empty pattern returns the
/// hierarchy delimiter with \Noselect.
#[tokio::test]
async fn rfc9051_6_3_9_list_patterns() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a CREATE a/b/c").await;
    cmd(&mut c, "b CREATE a/x").await;
    let all = list(&mut c, "", "*").await;
    for name in ["INBOX", "Archive", "Trash", "a", "a/b", "a/b/c", "a/x"] {
        find(&all, name);
    }
    let top = list(&mut c, "", "%").await;
    assert!(names(&top).iter().all(|n| !n.contains('/')), "{top:?}");
    assert!(not_selectable(find(&top, "a")), "{top:?}");
    let l = list(&mut c, "", "a/%").await;
    assert_eq!(names(&l), ["a/b", "a/x"], "{l:?}");
    let l = list(&mut c, "a/", "%").await;
    assert_eq!(names(&l), ["a/b", "a/x"], "{l:?}");
    let l = list(&mut c, "", "a/*").await;
    assert_eq!(names(&l), ["a/b", "a/b/c", "a/x"], "{l:?}");
    let l = list(&mut c, "", "a/%/c").await;
    assert_eq!(names(&l), ["a/b/c"], "{l:?}");
    let l = list(&mut c, "", "inBOX").await;
    assert_eq!(names(&l), ["INBOX"], "{l:?}");
    let l = list(&mut c, "", "").await;
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].has("\\Noselect") && l[0].name.is_empty(), "{l:?}");
    assert_eq!(l[0].delimiter.as_deref(), Some("/"), "{l:?}");
}

/// RFC 9051 §6.3.11 and RFC 8438 (STATUS=SIZE): MESSAGES, UIDNEXT,
/// UIDVALIDITY (the one SELECT gives), UNSEEN, DELETED and SIZE (the sum
/// of RFC822.SIZE) count exactly, and follow flag changes; a missing
/// mailbox is refused.
#[tokio::test]
async fn rfc9051_6_3_11_status_items() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    let s = cmd(&mut c, "a EXAMINE INBOX").await;
    let validity: u64 = code(&s, "UIDVALIDITY").unwrap().parse().unwrap();
    cmd(&mut c, "b UNSELECT").await;
    let items = "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE)";
    let st = cmd(&mut c, &format!("c STATUS INBOX {items}")).await;
    let size = (FIRST.len() + SECOND.len()) as u64;
    let want = |unseen: u64, deleted: u64| -> Vec<(String, u64)> {
        [
            ("MESSAGES", 2),
            ("UIDNEXT", 3),
            ("UIDVALIDITY", validity),
            ("UNSEEN", unseen),
            ("DELETED", deleted),
            ("SIZE", size),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec()
    };
    let mut got = status(&st, "INBOX");
    got.sort();
    let mut expected = want(2, 0);
    expected.sort();
    assert_eq!(got, expected, "{st:?}");
    cmd(&mut c, "d SELECT INBOX").await;
    cmd(&mut c, "e STORE 1 +FLAGS.SILENT (\\Seen \\Deleted)").await;
    cmd(&mut c, "f UNSELECT").await;
    let st = cmd(&mut c, &format!("g STATUS INBOX {items}")).await;
    let mut got = status(&st, "INBOX");
    got.sort();
    let mut expected = want(1, 1);
    expected.sort();
    assert_eq!(got, expected, "{st:?}");
    let no = any(&mut c, "h STATUS Nowhere (MESSAGES)").await;
    assert!(no.last().unwrap().starts_with("h NO"), "{no:?}");
}

/// RFC 9051 §6.4.1 (CLOSE) and RFC 3691 (UNSELECT): both leave the
/// selected state; CLOSE expunges \Deleted messages without sending
/// EXPUNGE, UNSELECT expunges nothing; either without a selected mailbox
/// is BAD.
#[tokio::test]
async fn rfc3691_2_unselect_and_rfc9051_6_4_1_close() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    cmd(&mut c, "b STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    let u = cmd(&mut c, "c UNSELECT").await;
    assert_eq!(u.len(), 1, "{u:?}");
    let bad = any(&mut c, "d FETCH 1 UID").await;
    assert!(bad.last().unwrap().starts_with("d BAD"), "{bad:?}");
    let st = cmd(&mut c, "e STATUS INBOX (MESSAGES)").await;
    assert_eq!(status(&st, "INBOX"), [("MESSAGES".into(), 2)], "{st:?}");
    cmd(&mut c, "f SELECT INBOX").await;
    let cl = cmd(&mut c, "g CLOSE").await;
    assert_eq!(cl.len(), 1, "no EXPUNGE from CLOSE: {cl:?}");
    let st = cmd(&mut c, "h STATUS INBOX (MESSAGES)").await;
    assert_eq!(status(&st, "INBOX"), [("MESSAGES".into(), 1)], "{st:?}");
    for (tag, verb) in [("i", "UNSELECT"), ("j", "CLOSE")] {
        let bad = any(&mut c, &format!("{tag} {verb}")).await;
        assert!(
            bad.last().unwrap().starts_with(&format!("{tag} BAD")),
            "{bad:?}"
        );
    }
}

/// RFC 9051 §6.4.1: CLOSE after EXAMINE expunges nothing (the mailbox is
/// read-only).
#[tokio::test]
async fn rfc9051_6_4_1_close_after_examine_expunges_nothing() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    cmd(&mut c, "a SELECT INBOX").await;
    cmd(&mut c, "b STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    cmd(&mut c, "c EXAMINE INBOX").await;
    cmd(&mut c, "d CLOSE").await;
    let st = cmd(&mut c, "e STATUS INBOX (MESSAGES)").await;
    assert_eq!(status(&st, "INBOX"), [("MESSAGES".into(), 2)], "{st:?}");
}
