//! The commands of the selected state (RFC 9051 §6.4) other than FETCH
//! and SEARCH: STORE, COPY, MOVE (RFC 6851), UID EXPUNGE (RFC 4315), and
//! the argument-less CHECK, CLOSE, UNSELECT, EXPUNGE; plus UID dispatch.

use super::{fetch, mailbox, no_args, search, Ctx, Request};
use crate::sequence::SequenceSet;
use crate::syntax::{Cursor, Part};

/// How STORE changes the flags (RFC 9051 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// `UID command`: COPY, MOVE, FETCH, SEARCH, STORE, EXPUNGE.
pub(super) fn uid(rest: &[Part], ctx: Ctx) -> Result<Request, &'static str> {
    const USAGE: &str =
        "Syntax: UID (COPY / MOVE / FETCH / SEARCH / SORT / THREAD / STORE / EXPUNGE) ...";
    let (name, args) = split_word(rest).ok_or(USAGE)?;
    match name.as_str() {
        "COPY" => copy(&args, ctx, true, false),
        "MOVE" => copy(&args, ctx, true, true),
        "FETCH" => fetch::parse(&args, true),
        "SEARCH" => search::parse(&args, true),
        "SORT" => search::sort(&args, true),
        "THREAD" => search::thread(&args, true),
        "STORE" => store(&args, true),
        "EXPUNGE" => {
            let mut c = Cursor::new(&args);
            let set = SequenceSet::parse(&mut c).map_err(|()| "Invalid sequence set")?;
            c.end().map_err(|()| "Syntax: UID EXPUNGE sequence-set")?;
            Ok(Request::Expunge { uids: Some(set) })
        }
        _ => Err(USAGE),
    }
}

/// The first word of the arguments, upper-cased, and the parts after its
/// space.
fn split_word(rest: &[Part]) -> Option<(String, Vec<Part>)> {
    let Some(Part::Text(first)) = rest.first() else {
        return None;
    };
    let (word, after) = match first.split_once(' ') {
        Some((w, a)) => (w, a),
        None if rest.len() == 1 => (first.as_str(), ""),
        None => return None,
    };
    let mut parts = rest.to_vec();
    parts[0] = Part::Text(after.to_owned());
    if after.is_empty() && rest.len() == 1 {
        parts.clear();
    }
    Some((word.to_ascii_uppercase(), parts))
}

/// `COPY sequence-set SP mailbox`, and MOVE.
pub(super) fn copy(
    rest: &[Part],
    ctx: Ctx,
    uid: bool,
    moving: bool,
) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: COPY sequence-set mailbox";
    let mut c = Cursor::new(rest);
    let set = SequenceSet::parse(&mut c).map_err(|()| "Invalid sequence set")?;
    c.sp().map_err(|()| USAGE)?;
    let mailbox = mailbox::mailbox(&mut c, ctx).map_err(|()| USAGE)?;
    c.end().map_err(|()| USAGE)?;
    Ok(match moving {
        true => Request::Move { uid, set, mailbox },
        false => Request::Copy { uid, set, mailbox },
    })
}

/// `STORE sequence-set [SP "(" UNCHANGEDSINCE n ")"] SP ["+" / "-"]
/// "FLAGS" [".SILENT"] SP (flag-list / flag *(SP flag))`.
pub(super) fn store(rest: &[Part], uid: bool) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: STORE sequence-set [+|-]FLAGS[.SILENT] (flags)";
    let mut c = Cursor::new(rest);
    let set = SequenceSet::parse(&mut c).map_err(|()| "Invalid sequence set")?;
    c.sp().map_err(|()| USAGE)?;
    let mut unchanged_since = None;
    if c.peek() == Some('(') {
        let n = fetch::modifier(&mut c, "UNCHANGEDSINCE").map_err(|()| "Unknown STORE modifier")?;
        unchanged_since = Some(n);
        c.sp().map_err(|()| USAGE)?;
    }
    let mode = match c.peek() {
        Some('+') => StoreMode::Add,
        Some('-') => StoreMode::Remove,
        _ => StoreMode::Replace,
    };
    if mode != StoreMode::Replace {
        c.char(c.peek().unwrap_or(' ')).map_err(|()| USAGE)?;
    }
    let item = c
        .take_while(|b| b.is_ascii_alphabetic() || b == b'.')
        .to_ascii_uppercase();
    let silent = match item.as_str() {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        _ => return Err(USAGE),
    };
    c.sp().map_err(|()| USAGE)?;
    let flags = if c.peek() == Some('(') {
        c.flag_list().map_err(|()| USAGE)?
    } else {
        let mut flags = vec![c.flag().map_err(|()| USAGE)?];
        while c.eat(' ') {
            flags.push(c.flag().map_err(|()| USAGE)?);
        }
        flags
    };
    c.end().map_err(|()| USAGE)?;
    Ok(Request::Store {
        uid,
        set,
        mode,
        silent,
        flags,
        unchanged_since,
    })
}

/// `ENABLE capability *(SP capability)` (RFC 5161).
pub(super) fn enable(rest: &[Part]) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: ENABLE capability...";
    let mut c = Cursor::new(rest);
    let mut caps = vec![c.word().map_err(|()| USAGE)?];
    while c.eat(' ') {
        caps.push(c.word().map_err(|()| USAGE)?);
    }
    c.end().map_err(|()| USAGE)?;
    Ok(Request::Enable(caps))
}

/// `COMPRESS algorithm` (RFC 4978 §3): DEFLATE is the one algorithm
/// defined; any other is invalid arguments, so BAD.
pub(super) fn compress(rest: &[Part]) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: COMPRESS DEFLATE";
    let mut c = Cursor::new(rest);
    if !c.eat_word("DEFLATE") {
        return Err(USAGE);
    }
    c.end().map_err(|()| USAGE)?;
    Ok(Request::Compress)
}

/// `ID ("(" *(string SP nstring) ")" / nil)` (RFC 2971): read and ignored.
pub(super) fn id(rest: &[Part]) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: ID (\"name\" \"value\" ...) or ID NIL";
    let mut c = Cursor::new(rest);
    if !c.eat_word("NIL") {
        c.list(true, |c| {
            c.string()?;
            c.sp()?;
            if !c.eat_word("NIL") {
                c.string()?;
            }
            Ok(())
        })
        .map_err(|()| USAGE)?;
    }
    c.end().map_err(|()| USAGE)?;
    Ok(Request::Id)
}

/// Commands without arguments of the authenticated and selected states.
pub(super) fn bare(name: &str, rest: &[Part]) -> Option<Result<Request, &'static str>> {
    let (request, usage) = match name {
        "CHECK" => (Request::Check, "CHECK takes no arguments"),
        "CLOSE" => (Request::Close, "CLOSE takes no arguments"),
        "UNSELECT" => (Request::Unselect, "UNSELECT takes no arguments"),
        "EXPUNGE" => (
            Request::Expunge { uids: None },
            "EXPUNGE takes no arguments",
        ),
        "IDLE" => (Request::Idle, "IDLE takes no arguments"),
        "NAMESPACE" => (Request::Namespace, "NAMESPACE takes no arguments"),
        _ => return None,
    };
    Some(no_args(rest, request, usage))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::tests::parse_req;

    #[test]
    fn compress_takes_deflate_only() {
        assert_eq!(parse_req("a COMPRESS DEFLATE"), Ok(Request::Compress));
        assert_eq!(parse_req("a compress deflate"), Ok(Request::Compress));
        for bad in [
            "a COMPRESS",
            "a COMPRESS GZIP",
            "a COMPRESS DEFLATE x",
            "a COMPRESS DEFLATEX",
        ] {
            assert!(parse_req(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stores() {
        assert_eq!(
            parse_req("a STORE 2:4 +FLAGS (\\Deleted)"),
            Ok(Request::Store {
                uid: false,
                set: SequenceSet::from_text("2:4").unwrap(),
                mode: StoreMode::Add,
                silent: false,
                flags: vec!["\\Deleted".into()],
                unchanged_since: None
            })
        );
        assert_eq!(
            parse_req("a UID STORE 1 (UNCHANGEDSINCE 7) -flags.silent \\Seen $x"),
            Ok(Request::Store {
                uid: true,
                set: SequenceSet::from_text("1").unwrap(),
                mode: StoreMode::Remove,
                silent: true,
                flags: vec!["\\Seen".into(), "$x".into()],
                unchanged_since: Some(7)
            })
        );
        assert_eq!(
            parse_req("a STORE 1 FLAGS ()"),
            Ok(Request::Store {
                uid: false,
                set: SequenceSet::from_text("1").unwrap(),
                mode: StoreMode::Replace,
                silent: false,
                flags: vec![],
                unchanged_since: None
            })
        );
        for bad in [
            "a STORE 1 FLAGZ (\\Seen)",
            "a STORE 1 +FLAGS",
            "a STORE x FLAGS ()",
        ] {
            assert!(parse_req(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uid_and_copy() {
        assert_eq!(
            parse_req("a uid move 1:* Trash"),
            Ok(Request::Move {
                uid: true,
                set: SequenceSet::from_text("1:*").unwrap(),
                mailbox: "Trash".into()
            })
        );
        assert_eq!(
            parse_req("a COPY 3 \"Sent\""),
            Ok(Request::Copy {
                uid: false,
                set: SequenceSet::from_text("3").unwrap(),
                mailbox: "Sent".into()
            })
        );
        assert_eq!(
            parse_req("a UID EXPUNGE 3:5"),
            Ok(Request::Expunge {
                uids: Some(SequenceSet::from_text("3:5").unwrap())
            })
        );
        assert!(parse_req("a UID FROB 1").is_err());
        assert!(parse_req("a UID").is_err());
        assert_eq!(
            parse_req("a ID (\"name\" \"x\" \"v\" NIL)"),
            Ok(Request::Id)
        );
        assert_eq!(parse_req("a ID NIL"), Ok(Request::Id));
        assert_eq!(
            parse_req("a ENABLE condstore UTF8=ACCEPT"),
            Ok(Request::Enable(vec![
                "CONDSTORE".into(),
                "UTF8=ACCEPT".into()
            ]))
        );
    }
}
