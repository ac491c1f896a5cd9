//! SEARCH and UID SEARCH (RFC 9051 §6.4.4), with ESEARCH return options
//! (RFC 4731) and MODSEQ (RFC 7162 §3.1.5).

use super::Request;
use crate::date;
use crate::sequence::SequenceSet;
use crate::syntax::{Cursor, Invalid, Part};

/// How deep parentheses, NOT and OR may nest: far more than any client
/// writes, and bounded so a hostile command cannot exhaust the stack.
const MAX_DEPTH: usize = 32;

/// A search key (RFC 9051 §6.4.4). Dates are days since 1970-01-01.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    /// Every key must match (a parenthesised list, or the top level).
    And(Vec<Self>),
    Or(Box<Self>, Box<Self>),
    Not(Box<Self>),
    SequenceSet(SequenceSet),
    Uid(SequenceSet),
    /// A system flag or keyword is set (`\Seen` for SEEN ...).
    Flag(String),
    /// A system flag or keyword is not set.
    NoFlag(String),
    /// NEW: \Recent and not \Seen; we have no \Recent, so nothing.
    New,
    /// OLD / RECENT are answered from \Recent, which is never set here.
    Old,
    Recent,
    /// A header contains the string (BCC, CC, FROM, SUBJECT, TO, HEADER);
    /// an empty string matches any message with the field.
    Header(String, String),
    Body(String),
    Text(String),
    Before(i64),
    On(i64),
    Since(i64),
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    Larger(u64),
    Smaller(u64),
    ModSeq(u64),
}

/// ESEARCH return options (RFC 4731 §3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
    /// SAVE (RFC 5182): keep the result for `$`.
    pub save: bool,
}

pub(super) fn parse(rest: &[Part], uid: bool) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: SEARCH [RETURN (options)] [CHARSET charset] keys";
    let mut c = Cursor::new(rest);
    let mut ret = None;
    if c.eat_word("RETURN") {
        c.sp().map_err(|()| USAGE)?;
        ret = Some(return_options(&mut c).map_err(|()| "Bad SEARCH RETURN options")?);
        c.sp().map_err(|()| USAGE)?;
    }
    if c.eat_word("CHARSET") {
        c.sp().map_err(|()| USAGE)?;
        let charset = c.astring().map_err(|()| USAGE)?;
        if !charset.eq_ignore_ascii_case("UTF-8") && !charset.eq_ignore_ascii_case("US-ASCII") {
            return Err("[BADCHARSET (UTF-8)] Only UTF-8 is supported");
        }
        c.sp().map_err(|()| USAGE)?;
    }
    let key = all_keys(&mut c).map_err(|()| USAGE)?;
    Ok(Request::Search { uid, ret, key })
}

/// `search-key *(SP search-key)` to the end, as one key.
fn all_keys(c: &mut Cursor<'_>) -> Result<SearchKey, Invalid> {
    let mut keys = vec![key(c, 0)?];
    while c.eat(' ') {
        keys.push(key(c, 0)?);
    }
    c.end()?;
    Ok(if keys.len() == 1 {
        keys.remove(0)
    } else {
        SearchKey::And(keys)
    })
}

/// A SORT criterion (RFC 5256 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
}

/// A THREAD algorithm (RFC 5256 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
}

/// The mandatory charset of SORT and THREAD: UTF-8 or US-ASCII.
fn charset(c: &mut Cursor<'_>) -> Result<(), &'static str> {
    let charset = c.astring().map_err(|()| "Missing charset")?;
    if !charset.eq_ignore_ascii_case("UTF-8") && !charset.eq_ignore_ascii_case("US-ASCII") {
        return Err("[BADCHARSET (UTF-8)] Only UTF-8 is supported");
    }
    c.sp().map_err(|()| "Missing search keys")
}

/// `SORT (criteria) charset keys` (RFC 5256 §3).
pub(super) fn sort(rest: &[Part], uid: bool) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: SORT (criteria) charset keys";
    let mut c = Cursor::new(rest);
    let criteria = c
        .list(false, |c| {
            let reverse = c.eat_word("REVERSE");
            if reverse {
                c.sp()?;
            }
            let key = match c.word()?.as_str() {
                "ARRIVAL" => SortKey::Arrival,
                "CC" => SortKey::Cc,
                "DATE" => SortKey::Date,
                "FROM" => SortKey::From,
                "SIZE" => SortKey::Size,
                "SUBJECT" => SortKey::Subject,
                "TO" => SortKey::To,
                _ => return Err(()),
            };
            Ok((reverse, key))
        })
        .map_err(|()| USAGE)?;
    c.sp().map_err(|()| USAGE)?;
    charset(&mut c)?;
    let key = all_keys(&mut c).map_err(|()| USAGE)?;
    Ok(Request::Sort { uid, criteria, key })
}

/// `THREAD algorithm charset keys` (RFC 5256 §3).
pub(super) fn thread(rest: &[Part], uid: bool) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: THREAD algorithm charset keys";
    let mut c = Cursor::new(rest);
    let algorithm = match c.word().map_err(|()| USAGE)?.as_str() {
        "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
        "REFERENCES" => ThreadAlgorithm::References,
        _ => return Err("Unknown THREAD algorithm"),
    };
    c.sp().map_err(|()| USAGE)?;
    charset(&mut c)?;
    let key = all_keys(&mut c).map_err(|()| USAGE)?;
    Ok(Request::Thread {
        uid,
        algorithm,
        key,
    })
}

fn return_options(c: &mut Cursor<'_>) -> Result<SearchReturn, Invalid> {
    let mut r = SearchReturn::default();
    for word in c.list(true, |c| c.word())? {
        match word.as_str() {
            "MIN" => r.min = true,
            "MAX" => r.max = true,
            "ALL" => r.all = true,
            "COUNT" => r.count = true,
            "SAVE" => r.save = true,
            _ => return Err(()),
        }
    }
    // RFC 4731 §3.1: RETURN () means RETURN (ALL).
    if r == SearchReturn::default() {
        r.all = true;
    }
    Ok(r)
}

fn key(c: &mut Cursor<'_>, depth: usize) -> Result<SearchKey, Invalid> {
    if depth > MAX_DEPTH {
        return Err(());
    }
    if c.peek() == Some('(') {
        return c.list(false, |c| key(c, depth + 1)).map(SearchKey::And);
    }
    if c.peek()
        .is_some_and(|ch| ch.is_ascii_digit() || ch == '*' || ch == '$')
    {
        return SequenceSet::parse(c).map(SearchKey::SequenceSet);
    }
    let word = c.word()?;
    let flag = |f: &str| Ok(SearchKey::Flag(f.to_owned()));
    let noflag = |f: &str| Ok(SearchKey::NoFlag(f.to_owned()));
    match word.as_str() {
        "ALL" => Ok(SearchKey::All),
        "ANSWERED" => flag("\\Answered"),
        "DELETED" => flag("\\Deleted"),
        "DRAFT" => flag("\\Draft"),
        "FLAGGED" => flag("\\Flagged"),
        "SEEN" => flag("\\Seen"),
        "UNANSWERED" => noflag("\\Answered"),
        "UNDELETED" => noflag("\\Deleted"),
        "UNDRAFT" => noflag("\\Draft"),
        "UNFLAGGED" => noflag("\\Flagged"),
        "UNSEEN" => noflag("\\Seen"),
        "NEW" => Ok(SearchKey::New),
        "OLD" => Ok(SearchKey::Old),
        "RECENT" => Ok(SearchKey::Recent),
        "KEYWORD" => Ok(SearchKey::Flag(arg(c, Cursor::flag)?)),
        "UNKEYWORD" => Ok(SearchKey::NoFlag(arg(c, Cursor::flag)?)),
        "BCC" | "CC" | "FROM" | "SUBJECT" | "TO" => {
            let value = arg(c, Cursor::astring)?;
            Ok(SearchKey::Header(word, value))
        }
        "HEADER" => {
            let name = arg(c, Cursor::astring)?.to_ascii_uppercase();
            let value = arg(c, Cursor::astring)?;
            Ok(SearchKey::Header(name, value))
        }
        "BODY" => Ok(SearchKey::Body(arg(c, Cursor::astring)?)),
        "TEXT" => Ok(SearchKey::Text(arg(c, Cursor::astring)?)),
        "BEFORE" => Ok(SearchKey::Before(arg(c, day)?)),
        "ON" => Ok(SearchKey::On(arg(c, day)?)),
        "SINCE" => Ok(SearchKey::Since(arg(c, day)?)),
        "SENTBEFORE" => Ok(SearchKey::SentBefore(arg(c, day)?)),
        "SENTON" => Ok(SearchKey::SentOn(arg(c, day)?)),
        "SENTSINCE" => Ok(SearchKey::SentSince(arg(c, day)?)),
        "LARGER" => Ok(SearchKey::Larger(arg(c, Cursor::number64)?)),
        "SMALLER" => Ok(SearchKey::Smaller(arg(c, Cursor::number64)?)),
        "UID" => Ok(SearchKey::Uid(arg(c, SequenceSet::parse)?)),
        "MODSEQ" => modseq(c),
        "NOT" => Ok(SearchKey::Not(Box::new(arg(c, |c| key(c, depth + 1))?))),
        "OR" => {
            let a = arg(c, |c| key(c, depth + 1))?;
            let b = arg(c, |c| key(c, depth + 1))?;
            Ok(SearchKey::Or(Box::new(a), Box::new(b)))
        }
        _ => Err(()),
    }
}

/// `SP` then one argument.
fn arg<'a, T>(
    c: &mut Cursor<'a>,
    read: impl FnOnce(&mut Cursor<'a>) -> Result<T, Invalid>,
) -> Result<T, Invalid> {
    c.sp()?;
    read(c)
}

/// `date = date-text / DQUOTE date-text DQUOTE`.
fn day(c: &mut Cursor<'_>) -> Result<i64, Invalid> {
    let text = if c.peek() == Some('"') {
        c.quoted()?
    } else {
        c.take_while(|b| b.is_ascii_alphanumeric() || b == b'-')
            .to_owned()
    };
    date::date(&text).ok_or(())
}

/// `MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer`
/// (RFC 7162 §3.1.5); the entry is accepted and ignored.
fn modseq(c: &mut Cursor<'_>) -> Result<SearchKey, Invalid> {
    c.sp()?;
    if c.peek() == Some('"') {
        c.quoted()?;
        c.sp()?;
        let kind = c.word()?;
        if !matches!(kind.as_str(), "PRIV" | "SHARED" | "ALL") {
            return Err(());
        }
        c.sp()?;
    }
    c.number64().map(SearchKey::ModSeq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::tests::parse_req;

    fn search(line: &str) -> SearchKey {
        match parse_req(line) {
            Ok(Request::Search { key, .. }) => key,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn known_answers() {
        use SearchKey::*;
        assert_eq!(search("a SEARCH ALL"), All);
        assert_eq!(
            search("a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
            And(vec![
                Flag("\\Flagged".into()),
                Since(date::days_from_civil(1994, 2, 1)),
                Not(Box::new(Header("FROM".into(), "Smith".into())))
            ])
        );
        assert_eq!(
            search("a UID SEARCH CHARSET UTF-8 OR (SEEN 1:3) UID 4,5"),
            Or(
                Box::new(And(vec![
                    Flag("\\Seen".into()),
                    SequenceSet(crate::SequenceSet::from_text("1:3").unwrap())
                ])),
                Box::new(Uid(crate::SequenceSet::from_text("4,5").unwrap()))
            )
        );
        assert_eq!(
            search("a SEARCH HEADER x-spam \"\" KEYWORD $Junk MODSEQ 5"),
            And(vec![
                Header("X-SPAM".into(), String::new()),
                Flag("$Junk".into()),
                ModSeq(5)
            ])
        );
        let Ok(Request::Search { ret, .. }) = parse_req("a SEARCH RETURN () UNSEEN") else {
            panic!()
        };
        assert_eq!(
            ret,
            Some(SearchReturn {
                all: true,
                ..SearchReturn::default()
            })
        );
        assert_eq!(
            parse_req("a SEARCH CHARSET KOI8-R ALL"),
            Err("[BADCHARSET (UTF-8)] Only UTF-8 is supported")
        );
        assert_eq!(
            parse_req("a UID SORT (REVERSE DATE subject) UTF-8 UNSEEN"),
            Ok(Request::Sort {
                uid: true,
                criteria: vec![(true, SortKey::Date), (false, SortKey::Subject)],
                key: NoFlag("\\Seen".into())
            })
        );
        assert_eq!(
            parse_req("a THREAD REFERENCES US-ASCII ALL"),
            Ok(Request::Thread {
                uid: false,
                algorithm: ThreadAlgorithm::References,
                key: All
            })
        );
        assert!(parse_req("a SORT (DATE) ALL").is_err());
        assert!(parse_req("a SORT () UTF-8 ALL").is_err());
        assert!(parse_req("a THREAD X UTF-8 ALL").is_err());
        for bad in [
            "a SEARCH",
            "a SEARCH FOO",
            "a SEARCH SINCE x",
            "a SEARCH OR ALL",
            "a SEARCH (ALL",
        ] {
            assert!(parse_req(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("a SEARCH {}ALL{}", "(".repeat(1000), ")".repeat(1000));
        assert!(parse_req(&deep).is_err());
        let nots = format!("a SEARCH {}ALL", "NOT ".repeat(1000));
        assert!(parse_req(&nots).is_err());
        let ok = format!("a SEARCH {}ALL{}", "(".repeat(10), ")".repeat(10));
        assert!(parse_req(&ok).is_ok());
    }
}
