//! The mailbox commands of the authenticated state (RFC 9051 §6.3):
//! SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST
//! (with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE RFC
//! 6154), LSUB, STATUS and APPEND.

use super::{Ctx, Request};
use crate::sequence::{Bound, SequenceSet};
use crate::syntax::{Cursor, Invalid};

/// A STATUS item (RFC 9051 §6.3.11, RFC 7162 §3.1.6, RFC 8438).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    Size,
    HighestModSeq,
    /// RFC 7889 §3: the largest APPEND the mailbox takes.
    AppendLimit,
}

impl StatusItem {
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "MESSAGES" => Self::Messages,
            "RECENT" => Self::Recent,
            "UIDNEXT" => Self::UidNext,
            "UIDVALIDITY" => Self::UidValidity,
            "UNSEEN" => Self::Unseen,
            "DELETED" => Self::Deleted,
            "SIZE" => Self::Size,
            "HIGHESTMODSEQ" => Self::HighestModSeq,
            "APPENDLIMIT" => Self::AppendLimit,
            _ => return None,
        })
    }

    /// The item's name in a STATUS response.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Messages => "MESSAGES",
            Self::Recent => "RECENT",
            Self::UidNext => "UIDNEXT",
            Self::UidValidity => "UIDVALIDITY",
            Self::Unseen => "UNSEEN",
            Self::Deleted => "DELETED",
            Self::Size => "SIZE",
            Self::HighestModSeq => "HIGHESTMODSEQ",
            Self::AppendLimit => "APPENDLIMIT",
        }
    }
}

/// LIST and LSUB, with the LIST-EXTENDED options (RFC 5258 §3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    /// LSUB (RFC 3501 §6.3.9): subscribed names, answered as `* LSUB`.
    pub lsub: bool,
    /// The reference name, decoded.
    pub reference: String,
    /// The patterns, decoded; several only in the extended syntax.
    pub patterns: Vec<String>,
    /// Selection option SUBSCRIBED.
    pub subscribed: bool,
    /// Selection option SPECIAL-USE (RFC 6154 §3).
    pub special_use: bool,
    /// Selection option RECURSIVEMATCH.
    pub recursive: bool,
    /// Return option SUBSCRIBED (implied by the selection option).
    pub return_subscribed: bool,
    /// Return option CHILDREN (RFC 5258 §4; we always send them anyway).
    pub return_children: bool,
    /// Return option SPECIAL-USE (always sent for LIST anyway).
    pub return_special_use: bool,
    /// Return option STATUS (RFC 5819).
    pub return_status: Option<Vec<StatusItem>>,
}

/// The QRESYNC parameter of SELECT and EXAMINE (RFC 7162 §3.2.5): what
/// the client cached of the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QResync {
    /// The UIDVALIDITY it knows; the rest is ignored if it changed.
    pub uid_validity: u32,
    /// The HIGHESTMODSEQ it knows: changes above it are reported.
    pub modseq: u64,
    /// The UIDs it knows (no `*`); `None` means all below UIDNEXT.
    pub known_uids: Option<SequenceSet>,
    /// Message numbers and the UIDs it knows them by, in the same order
    /// (RFC 7162 §3.2.5.2); no `*`.
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// `SELECT mailbox [SP "(" select-param *(SP select-param) ")"]` with
/// the parameters `CONDSTORE` (RFC 7162 §3.1.8) and `QRESYNC (...)`
/// (§3.2.5); RFC 4466 §2.1 gives the list's shape.
pub(super) fn select(
    rest: &[crate::Part],
    ctx: Ctx,
    readonly: bool,
) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: SELECT mailbox [(CONDSTORE / QRESYNC (uidvalidity modseq ...))]";
    let mut c = Cursor::new(rest);
    let mailbox = mailbox(&mut c, ctx).map_err(|()| USAGE)?;
    let (mut condstore, mut qresync) = (false, None);
    if c.eat(' ') {
        let mut why = USAGE;
        c.list(false, |c| match c.word()?.as_str() {
            "CONDSTORE" => {
                condstore = true;
                Ok(())
            }
            "QRESYNC" if qresync.is_none() => {
                why = "Syntax: QRESYNC (uidvalidity modseq [known-uids] [(seqs uids)])";
                c.sp()?;
                qresync = Some(qresync_param(c)?);
                Ok(())
            }
            _ => {
                why = "Unknown or repeated SELECT parameter";
                Err(())
            }
        })
        .map_err(|()| why)?;
    }
    c.end().map_err(|()| USAGE)?;
    Ok(Request::Select {
        mailbox,
        readonly,
        condstore,
        qresync,
    })
}

/// `"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP
/// seq-match-data] ")"` (RFC 7162 §7).
fn qresync_param(c: &mut Cursor<'_>) -> Result<QResync, Invalid> {
    c.char('(')?;
    let uid_validity = c.nz_number()?;
    c.sp()?;
    let modseq = c.number64()?;
    let mut known_uids = None;
    let mut seq_match = None;
    if c.eat(' ') {
        if c.peek() != Some('(') {
            known_uids = Some(plain_set(c)?);
        }
        if known_uids.is_none() || c.eat(' ') {
            c.char('(')?;
            let seqs = plain_set(c)?;
            c.sp()?;
            let uids = plain_set(c)?;
            c.char(')')?;
            seq_match = Some((seqs, uids));
        }
    }
    c.char(')')?;
    Ok(QResync {
        uid_validity,
        modseq,
        known_uids,
        seq_match,
    })
}

/// A sequence set of plain numbers: RFC 7162 §7 allows neither `*` nor
/// (being outside RFC 5182) `$` in the QRESYNC parameter.
fn plain_set(c: &mut Cursor<'_>) -> Result<SequenceSet, Invalid> {
    let set = SequenceSet::parse(c)?;
    let star = set
        .0
        .iter()
        .any(|&(a, b)| a == Bound::Star || b == Bound::Star);
    if set.is_saved() || star {
        return Err(());
    }
    Ok(set)
}

/// A command whose only argument is a mailbox.
pub(super) fn one(
    rest: &[crate::Part],
    ctx: Ctx,
    make: fn(String) -> Request,
) -> Result<Request, &'static str> {
    let mut c = Cursor::new(rest);
    let name = mailbox(&mut c, ctx).map_err(|()| "Expected a mailbox name")?;
    c.end().map_err(|()| "Expected a mailbox name only")?;
    Ok(make(name))
}

/// `CREATE mailbox [SP "(" "USE" SP "(" use-attr ")" ")"]` (RFC 6154 §3).
pub(super) fn create(rest: &[crate::Part], ctx: Ctx) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: CREATE mailbox [(USE (\\Attribute))]";
    let mut c = Cursor::new(rest);
    let name = mailbox(&mut c, ctx).map_err(|()| USAGE)?;
    let mut special_use = Vec::new();
    if c.eat(' ') {
        let read = |c: &mut Cursor<'_>| -> Result<Vec<String>, Invalid> {
            c.char('(')?;
            if !c.eat_word("USE") {
                return Err(());
            }
            c.sp()?;
            let uses = c.list(true, Cursor::flag)?;
            c.char(')')?;
            Ok(uses)
        };
        special_use = read(&mut c).map_err(|()| USAGE)?;
    }
    c.end().map_err(|()| USAGE)?;
    Ok(Request::Create { name, special_use })
}

pub(super) fn rename(rest: &[crate::Part], ctx: Ctx) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: RENAME from to";
    let mut c = Cursor::new(rest);
    let from = mailbox(&mut c, ctx).map_err(|()| USAGE)?;
    c.sp().map_err(|()| USAGE)?;
    let to = mailbox(&mut c, ctx).map_err(|()| USAGE)?;
    c.end().map_err(|()| USAGE)?;
    Ok(Request::Rename { from, to })
}

pub(super) fn status(rest: &[crate::Part], ctx: Ctx) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: STATUS mailbox (items)";
    let mut c = Cursor::new(rest);
    let name = mailbox(&mut c, ctx).map_err(|()| USAGE)?;
    c.sp().map_err(|()| USAGE)?;
    let items = status_items(&mut c).map_err(|()| USAGE)?;
    c.end().map_err(|()| USAGE)?;
    Ok(Request::Status { name, items })
}

fn status_items(c: &mut Cursor<'_>) -> Result<Vec<StatusItem>, Invalid> {
    c.list(false, |c| StatusItem::parse(&c.word()?).ok_or(()))
}

/// `LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`.
pub(super) fn list(rest: &[crate::Part], ctx: Ctx, lsub: bool) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: LIST [(options)] reference pattern [RETURN (options)]";
    let mut c = Cursor::new(rest);
    let mut list = List {
        lsub,
        ..List::default()
    };
    if !lsub && c.peek() == Some('(') {
        select_options(&mut c, &mut list)?;
        c.sp().map_err(|()| USAGE)?;
    }
    list.reference = mailbox(&mut c, ctx).map_err(|()| USAGE)?;
    c.sp().map_err(|()| USAGE)?;
    list.patterns = if !lsub && c.peek() == Some('(') {
        c.list(false, |c| pattern(c, ctx)).map_err(|()| USAGE)?
    } else {
        vec![pattern(&mut c, ctx).map_err(|()| USAGE)?]
    };
    if !lsub && c.eat(' ') {
        if !c.eat_word("RETURN") || c.sp().is_err() {
            return Err(USAGE);
        }
        return_options(&mut c, &mut list)?;
    }
    c.end().map_err(|()| USAGE)?;
    Ok(Request::List(list))
}

fn select_options(c: &mut Cursor<'_>, list: &mut List) -> Result<(), &'static str> {
    let options = c
        .list(true, |c| c.word())
        .map_err(|()| "Bad LIST selection options")?;
    for option in options {
        match option.as_str() {
            "SUBSCRIBED" => {
                list.subscribed = true;
                list.return_subscribed = true;
            }
            "SPECIAL-USE" => list.special_use = true,
            "RECURSIVEMATCH" => list.recursive = true,
            "REMOTE" => {}
            _ => return Err("Unknown LIST selection option"),
        }
    }
    // RFC 5258 §3: RECURSIVEMATCH alone is an error.
    if list.recursive && !list.subscribed {
        return Err("RECURSIVEMATCH needs another selection option");
    }
    Ok(())
}

fn return_options(c: &mut Cursor<'_>, list: &mut List) -> Result<(), &'static str> {
    const BAD: &str = "Bad LIST return options";
    c.char('(').map_err(|()| BAD)?;
    if c.eat(')') {
        return Ok(());
    }
    loop {
        match c.word().map_err(|()| BAD)?.as_str() {
            "SUBSCRIBED" => list.return_subscribed = true,
            "CHILDREN" => list.return_children = true,
            "SPECIAL-USE" => list.return_special_use = true,
            "STATUS" => {
                c.sp().map_err(|()| BAD)?;
                list.return_status = Some(status_items(c).map_err(|()| BAD)?);
            }
            _ => return Err("Unknown LIST return option"),
        }
        if c.eat(')') {
            return Ok(());
        }
        c.sp().map_err(|()| BAD)?;
    }
}

/// `list-mailbox = 1*list-char / string`: a pattern with `*` and `%`.
fn pattern(c: &mut Cursor<'_>, ctx: Ctx) -> Result<String, Invalid> {
    let raw = if c.peek() == Some('"') || c.at_literal() {
        c.string()?
    } else {
        let text = c.take_while(|b| crate::tag::is_astring_char(b) || b == b'%' || b == b'*');
        if text.is_empty() {
            return Err(());
        }
        text.to_owned()
    };
    decode(raw, ctx)
}

/// `APPEND mailbox [SP flag-list] [SP date-time] SP literal` (RFC 9051
/// §6.3.12).
pub(super) fn append(rest: &[crate::Part], ctx: Ctx) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: APPEND mailbox [(flags)] [\"date-time\"] {size}";
    let mut c = Cursor::new(rest);
    let mailbox = mailbox(&mut c, ctx).map_err(|()| USAGE)?;
    c.sp().map_err(|()| USAGE)?;
    let mut flags = Vec::new();
    if c.peek() == Some('(') {
        flags = c.flag_list().map_err(|()| USAGE)?;
        c.sp().map_err(|()| USAGE)?;
    }
    let mut date = None;
    if c.peek() == Some('"') {
        let text = c.string().map_err(|()| USAGE)?;
        date = Some(crate::date::date_time(&text).ok_or("Invalid date-time")?);
        c.sp().map_err(|()| USAGE)?;
    }
    let message = c.literal().map_err(|()| USAGE)?.to_vec();
    c.end()
        .map_err(|()| "APPEND of several messages is not supported")?;
    Ok(Request::Append {
        mailbox,
        flags,
        date,
        message,
    })
}

/// `GETQUOTA quota-root` (an astring, not a mailbox name).
pub(super) fn quota_root(rest: &[crate::Part]) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: GETQUOTA quota-root";
    let mut c = Cursor::new(rest);
    let root = c.astring().map_err(|()| USAGE)?;
    c.end().map_err(|()| USAGE)?;
    Ok(Request::GetQuota(root))
}

/// `SETQUOTA quota-root SP "(" [name SP number *(SP name SP number)] ")"`.
pub(super) fn set_quota(rest: &[crate::Part]) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: SETQUOTA quota-root (resource limit ...)";
    let mut c = Cursor::new(rest);
    c.astring().map_err(|()| USAGE)?;
    c.sp().map_err(|()| USAGE)?;
    c.list(true, |c| {
        c.word()?;
        c.sp()?;
        c.number64().map(drop)
    })
    .map_err(|()| USAGE)?;
    c.end().map_err(|()| USAGE)?;
    Ok(Request::SetQuota)
}

/// A mailbox name: an astring, decoded from modified UTF-7 unless the
/// client enabled UTF-8, with INBOX in any case made `INBOX`.
pub(super) fn mailbox(c: &mut Cursor<'_>, ctx: Ctx) -> Result<String, Invalid> {
    let raw = c.astring()?;
    let name = decode(raw, ctx)?;
    Ok(if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_owned()
    } else {
        name
    })
}

fn decode(raw: String, ctx: Ctx) -> Result<String, Invalid> {
    if ctx.utf8 {
        Ok(raw)
    } else {
        crate::mutf7::decode(&raw).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::tests::parse_req;

    #[test]
    fn select_and_friends() {
        assert_eq!(
            parse_req("a SELECT inbox"),
            Ok(Request::Select {
                mailbox: "INBOX".into(),
                readonly: false,
                condstore: false,
                qresync: None
            })
        );
        assert_eq!(
            parse_req("a EXAMINE \"Entw&APw-rfe\" (CONDSTORE)"),
            Ok(Request::Select {
                mailbox: "Entwürfe".into(),
                readonly: true,
                condstore: true,
                qresync: None
            })
        );
        assert!(parse_req("a SELECT").is_err());
        assert!(parse_req("a SELECT a b").is_err());
        assert!(parse_req("a SELECT &Jjo").is_err());
        assert_eq!(
            parse_req("a RENAME a b/c"),
            Ok(Request::Rename {
                from: "a".into(),
                to: "b/c".into()
            })
        );
        assert_eq!(
            parse_req("a CREATE Stuff (USE (\\Archive))"),
            Ok(Request::Create {
                name: "Stuff".into(),
                special_use: vec!["\\Archive".into()]
            })
        );
    }

    /// RFC 7162 §3.2.5 and §7: the QRESYNC parameter with and without
    /// its optional parts, and what is not one.
    #[test]
    fn select_qresync() {
        let set = |s| SequenceSet::from_text(s).unwrap();
        let qresync = |line| match parse_req(line) {
            Ok(Request::Select {
                qresync: Some(q),
                condstore,
                ..
            }) => (q, condstore),
            other => panic!("{line}: {other:?}"),
        };
        let (q, condstore) = qresync("a SELECT INBOX (QRESYNC (67890007 90060115194045000))");
        assert_eq!(
            q,
            QResync {
                uid_validity: 67890007,
                modseq: 90060115194045000,
                known_uids: None,
                seq_match: None
            }
        );
        assert!(!condstore);
        let (q, condstore) = qresync("a EXAMINE x (condstore qresync (1 2 41:211,214:541))");
        assert!(condstore);
        assert_eq!(q.known_uids, Some(set("41:211,214:541")));
        assert_eq!(q.seq_match, None);
        let (q, _) = qresync(
            "a SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500 15000,22500)))",
        );
        assert_eq!(q.known_uids, Some(set("1:29997")));
        assert_eq!(q.seq_match, Some((set("5000,7500"), set("15000,22500"))));
        let (q, _) = qresync("a SELECT INBOX (QRESYNC (1 2 (1:3 4:6)))");
        assert_eq!(q.known_uids, None, "match data without known UIDs");
        assert_eq!(q.seq_match, Some((set("1:3"), set("4:6"))));
        for bad in [
            "a SELECT INBOX (QRESYNC)",
            "a SELECT INBOX (QRESYNC ())",
            "a SELECT INBOX (QRESYNC (1))",
            "a SELECT INBOX (QRESYNC (0 5))",
            "a SELECT INBOX (QRESYNC (1 x))",
            "a SELECT INBOX (QRESYNC (1 5 1:*))",
            "a SELECT INBOX (QRESYNC (1 5 $))",
            "a SELECT INBOX (QRESYNC (1 5 1:9 (1:2)))",
            "a SELECT INBOX (QRESYNC (1 5 1:9 (1:2 3:*)))",
            "a SELECT INBOX (QRESYNC (1 5 1:9 (1 2) x))",
            "a SELECT INBOX (QRESYNC (1 5 1:9 ))",
            "a SELECT INBOX (QRESYNC (1 5)",
            "a SELECT INBOX (QRESYNC (1 5) QRESYNC (1 5))",
            "a SELECT INBOX (FOO)",
            "a SELECT INBOX ()",
        ] {
            assert!(parse_req(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists() {
        let Ok(Request::List(l)) = parse_req("a LIST \"\" *") else {
            panic!()
        };
        assert_eq!(
            (l.reference.as_str(), l.patterns),
            ("", vec!["*".to_owned()])
        );
        let Ok(Request::List(l)) = parse_req(
            "a LIST (SUBSCRIBED) \"\" (INBOX \"Sent\" %) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))",
        ) else {
            panic!()
        };
        assert!(l.subscribed && l.return_children && !l.lsub);
        assert_eq!(l.patterns, vec!["INBOX", "Sent", "%"]);
        assert_eq!(
            l.return_status,
            Some(vec![StatusItem::Messages, StatusItem::Unseen])
        );
        let Ok(Request::List(l)) = parse_req("a LSUB \"\" %") else {
            panic!()
        };
        assert!(l.lsub);
        assert!(parse_req("a LIST (RECURSIVEMATCH) \"\" *").is_err());
        assert!(parse_req("a LIST \"\"").is_err());
    }

    #[test]
    fn status_and_append() {
        assert_eq!(
            parse_req("a STATUS INBOX (MESSAGES UIDNEXT)"),
            Ok(Request::Status {
                name: "INBOX".into(),
                items: vec![StatusItem::Messages, StatusItem::UidNext]
            })
        );
        assert!(parse_req("a STATUS INBOX ()").is_err());
        assert_eq!(
            parse_req("a GETQUOTA \"\""),
            Ok(Request::GetQuota(String::new()))
        );
        assert_eq!(
            parse_req("a GETQUOTAROOT inbox"),
            Ok(Request::GetQuotaRoot("INBOX".into()))
        );
        assert_eq!(
            parse_req("a SETQUOTA \"\" (STORAGE 512)"),
            Ok(Request::SetQuota)
        );
        assert!(parse_req("a SETQUOTA \"\" (STORAGE)").is_err());
        assert!(parse_req("a STATUS INBOX (FOO)").is_err());
        let raw = vec![
            crate::cmd::RawPart::Text(
                b"a APPEND Sent (\\Seen) \"05-Jan-2024 10:00:00 +0100\" ".to_vec(),
            ),
            crate::cmd::RawPart::Literal(b"hi".to_vec()),
            crate::cmd::RawPart::Text(vec![]),
        ];
        let got = crate::cmd::tests::parse_raw(raw).map(|c| c.request);
        assert_eq!(
            got,
            Ok(Request::Append {
                mailbox: "Sent".into(),
                flags: vec!["\\Seen".into()],
                date: Some(1_704_445_200),
                message: b"hi".to_vec()
            })
        );
    }
}
