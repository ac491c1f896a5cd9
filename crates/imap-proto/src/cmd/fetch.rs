//! FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162
//! CHANGEDSINCE).

use super::Request;
use crate::sequence::SequenceSet;
use crate::syntax::{Cursor, Invalid, Part};

/// What to fetch of a message (RFC 9051 §6.4.5 `fetch-att`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    Envelope,
    Flags,
    InternalDate,
    /// `RFC822`: `BODY[]` under its old name (sets \Seen).
    Rfc822,
    /// `RFC822.HEADER`: `BODY.PEEK[HEADER]`.
    Rfc822Header,
    Rfc822Size,
    /// `RFC822.TEXT`: `BODY[TEXT]` (sets \Seen).
    Rfc822Text,
    /// `BODY` without a section: the non-extensible body structure.
    Body,
    BodyStructure,
    Uid,
    /// `MODSEQ` (RFC 7162 §3.1.4).
    ModSeq,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    Section {
        /// `BODY.PEEK`: \Seen is left alone.
        peek: bool,
        section: Section,
        /// `<origin.count>`.
        partial: Option<(u32, u32)>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK` (RFC 3516).
    Binary {
        peek: bool,
        part: Vec<u32>,
        partial: Option<(u32, u32)>,
    },
    /// `BINARY.SIZE[part]`.
    BinarySize {
        part: Vec<u32>,
    },
}

impl FetchAttr {
    /// Whether fetching this sets \Seen (RFC 9051 §6.4.5).
    pub const fn sets_seen(&self) -> bool {
        matches!(
            self,
            Self::Rfc822
                | Self::Rfc822Text
                | Self::Section { peek: false, .. }
                | Self::Binary { peek: false, .. }
        )
    }
}

/// A body section (RFC 9051 §6.4.5 `section`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// The part numbers (`1.2`); empty for the whole message.
    pub part: Vec<u32>,
    /// What of the part; `None` for all of it.
    pub text: Option<SectionText>,
}

/// `section-msgtext` / `MIME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    /// `HEADER.FIELDS (names)`, or `HEADER.FIELDS.NOT`.
    HeaderFields {
        not: bool,
        fields: Vec<String>,
    },
    Text,
    Mime,
}

impl Section {
    /// The section as written in a response (`1.2.HEADER.FIELDS (FROM)`).
    pub fn spec(&self) -> String {
        let mut out: Vec<String> = self.part.iter().map(u32::to_string).collect();
        if let Some(text) = &self.text {
            out.push(match text {
                SectionText::Header => "HEADER".into(),
                SectionText::Text => "TEXT".into(),
                SectionText::Mime => "MIME".into(),
                SectionText::HeaderFields { not, fields } => format!(
                    "HEADER.FIELDS{} ({})",
                    if *not { ".NOT" } else { "" },
                    fields.join(" ")
                ),
            });
        }
        out.join(".")
    }
}

/// `FETCH sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "("
/// fetch-att *(SP fetch-att) ")") [SP "(" fetch-modifier *(SP
/// fetch-modifier) ")"]` (RFC 4466 §2.4), the modifiers being
/// `CHANGEDSINCE n` (RFC 7162 §3.1.4.1) and, for UID FETCH, `VANISHED`
/// (RFC 7162 §3.2.6).
pub(super) fn parse(rest: &[Part], uid: bool) -> Result<Request, &'static str> {
    const USAGE: &str = "Syntax: FETCH sequence-set items";
    let mut c = Cursor::new(rest);
    let set = SequenceSet::parse(&mut c).map_err(|()| "Invalid sequence set")?;
    c.sp().map_err(|()| USAGE)?;
    let mut attrs = if c.peek() == Some('(') {
        c.list(false, attr).map_err(|()| USAGE)?
    } else {
        macro_or_attr(&mut c).map_err(|()| USAGE)?
    };
    let mut mods = Modifiers::default();
    if c.eat(' ') {
        mods = modifiers(&mut c)?;
    }
    c.end().map_err(|()| USAGE)?;
    if mods.vanished && !uid {
        return Err("VANISHED is only allowed with UID FETCH");
    }
    if mods.vanished && mods.changed_since.is_none() {
        return Err("VANISHED needs CHANGEDSINCE");
    }
    // RFC 9051 §6.4.9: UID FETCH always reports the UID.
    if uid && !attrs.contains(&FetchAttr::Uid) {
        attrs.insert(0, FetchAttr::Uid);
    }
    Ok(Request::Fetch {
        uid,
        set,
        attrs,
        changed_since: mods.changed_since,
        vanished: mods.vanished,
    })
}

/// The FETCH modifiers given.
#[derive(Default)]
struct Modifiers {
    changed_since: Option<u64>,
    vanished: bool,
}

/// `"(" fetch-modifier *(SP fetch-modifier) ")"`, each at most once.
fn modifiers(c: &mut Cursor<'_>) -> Result<Modifiers, &'static str> {
    const BAD: &str = "Unknown FETCH modifier";
    let mut mods = Modifiers::default();
    let mut twice = false;
    c.list(false, |c| {
        match c.word()?.as_str() {
            "CHANGEDSINCE" => {
                c.sp()?;
                let n = c.number64()?;
                twice |= mods.changed_since.replace(n).is_some();
            }
            "VANISHED" => twice |= std::mem::replace(&mut mods.vanished, true),
            _ => return Err(()),
        }
        Ok(())
    })
    .map_err(|()| BAD)?;
    if twice {
        return Err("A FETCH modifier is given twice");
    }
    Ok(mods)
}

/// `(NAME number)`: one modifier with a 63-bit value.
pub(super) fn modifier(c: &mut Cursor<'_>, name: &str) -> Result<u64, Invalid> {
    c.char('(')?;
    if !c.eat_word(name) {
        return Err(());
    }
    c.sp()?;
    let n = c.number64()?;
    c.char(')')?;
    Ok(n)
}

fn macro_or_attr(c: &mut Cursor<'_>) -> Result<Vec<FetchAttr>, Invalid> {
    use FetchAttr::{Body, Envelope, Flags, InternalDate, Rfc822Size};
    // RFC 9051 §6.4.5: the macros.
    if c.eat_word("ALL") {
        return Ok(vec![Flags, InternalDate, Rfc822Size, Envelope]);
    }
    if c.eat_word("FAST") {
        return Ok(vec![Flags, InternalDate, Rfc822Size]);
    }
    if c.eat_word("FULL") {
        return Ok(vec![Flags, InternalDate, Rfc822Size, Envelope, Body]);
    }
    attr(c).map(|a| vec![a])
}

fn attr(c: &mut Cursor<'_>) -> Result<FetchAttr, Invalid> {
    let name = c
        .take_while(|b| b.is_ascii_alphanumeric() || b == b'.')
        .to_ascii_uppercase();
    Ok(match name.as_str() {
        "ENVELOPE" => FetchAttr::Envelope,
        "FLAGS" => FetchAttr::Flags,
        "INTERNALDATE" => FetchAttr::InternalDate,
        "RFC822" => FetchAttr::Rfc822,
        "RFC822.HEADER" => FetchAttr::Rfc822Header,
        "RFC822.SIZE" => FetchAttr::Rfc822Size,
        "RFC822.TEXT" => FetchAttr::Rfc822Text,
        "BODYSTRUCTURE" => FetchAttr::BodyStructure,
        "UID" => FetchAttr::Uid,
        "MODSEQ" => FetchAttr::ModSeq,
        "BODY" if c.peek() != Some('[') => FetchAttr::Body,
        "BODY" | "BODY.PEEK" => FetchAttr::Section {
            peek: name == "BODY.PEEK",
            section: section(c)?,
            partial: partial(c)?,
        },
        "BINARY" | "BINARY.PEEK" => {
            let part = binary_part(c)?;
            FetchAttr::Binary {
                peek: name == "BINARY.PEEK",
                part,
                partial: partial(c)?,
            }
        }
        "BINARY.SIZE" => FetchAttr::BinarySize {
            part: binary_part(c)?,
        },
        _ => return Err(()),
    })
}

/// `"[" [section-spec] "]"`.
fn section(c: &mut Cursor<'_>) -> Result<Section, Invalid> {
    c.char('[')?;
    let mut s = Section::default();
    while c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
        s.part.push(c.nz_number()?);
        if !c.eat('.') {
            c.char(']')?;
            return Ok(s);
        }
    }
    if c.eat(']') {
        return if s.part.is_empty() { Ok(s) } else { Err(()) };
    }
    let word = c
        .take_while(|b| b.is_ascii_alphabetic() || b == b'.')
        .to_ascii_uppercase();
    s.text = Some(match word.as_str() {
        "HEADER" => SectionText::Header,
        "TEXT" => SectionText::Text,
        "MIME" if !s.part.is_empty() => SectionText::Mime,
        "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
            c.sp()?;
            let fields = c.list(false, |c| {
                let name = c.astring()?;
                let ok = name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
                if ok {
                    Ok(name.to_ascii_uppercase())
                } else {
                    Err(())
                }
            })?;
            SectionText::HeaderFields {
                not: word.ends_with(".NOT"),
                fields,
            }
        }
        _ => return Err(()),
    });
    c.char(']')?;
    Ok(s)
}

fn binary_part(c: &mut Cursor<'_>) -> Result<Vec<u32>, Invalid> {
    c.char('[')?;
    let mut part = Vec::new();
    if c.eat(']') {
        return Ok(part);
    }
    loop {
        part.push(c.nz_number()?);
        if c.eat(']') {
            return Ok(part);
        }
        c.char('.')?;
    }
}

/// `"<" number "." nz-number ">"`.
fn partial(c: &mut Cursor<'_>) -> Result<Option<(u32, u32)>, Invalid> {
    if !c.eat('<') {
        return Ok(None);
    }
    let origin = c.number()?;
    c.char('.')?;
    let count = c.nz_number()?;
    c.char('>')?;
    Ok(Some((origin, count)))
}

#[cfg(test)]
mod tests {
    use super::Section as Sec;
    use super::*;
    use crate::cmd::tests::parse_req;

    fn attrs(line: &str) -> Vec<FetchAttr> {
        match parse_req(line) {
            Ok(Request::Fetch { attrs, .. }) => attrs,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn known_answers() {
        use FetchAttr::*;
        assert_eq!(
            attrs("a FETCH 1 FAST"),
            vec![Flags, InternalDate, Rfc822Size]
        );
        assert_eq!(attrs("a UID FETCH 1:* FLAGS"), vec![Uid, Flags]);
        assert_eq!(attrs("a FETCH 1 (uid flags)"), vec![Uid, Flags]);
        assert_eq!(
            attrs("a FETCH 1 BODY.PEEK[1.2.HEADER.FIELDS (From to)]<0.100>"),
            vec![Section {
                peek: true,
                section: Sec {
                    part: vec![1, 2],
                    text: Some(SectionText::HeaderFields {
                        not: false,
                        fields: vec!["FROM".into(), "TO".into()]
                    })
                },
                partial: Some((0, 100))
            }]
        );
        assert_eq!(
            attrs("a FETCH 1 (BODY[] BODY BINARY.PEEK[1] BINARY.SIZE[])"),
            vec![
                Section {
                    peek: false,
                    section: Sec::default(),
                    partial: None
                },
                Body,
                Binary {
                    peek: true,
                    part: vec![1],
                    partial: None
                },
                BinarySize { part: vec![] }
            ]
        );
        let Ok(Request::Fetch {
            changed_since,
            vanished: false,
            ..
        }) = parse_req("a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)")
        else {
            panic!()
        };
        assert_eq!(changed_since, Some(12345));
        for bad in [
            "a FETCH 1",
            "a FETCH x FLAGS",
            "a FETCH 1 FOO",
            "a FETCH 1 (FLAGS",
            "a FETCH 1 BODY[1.]",
            "a FETCH 1 BODY[MIME]",
            "a FETCH 1 BODY[]<1>",
            "a FETCH 1 ()",
            "a FETCH 1 FLAGS (FOO 1)",
        ] {
            assert!(parse_req(bad).is_err(), "{bad}");
        }
    }

    /// RFC 7162 §3.2.6: VANISHED with UID FETCH and CHANGEDSINCE, in
    /// either order; never with FETCH, alone or twice.
    #[test]
    fn vanished_modifier() {
        let fetch = |line| match parse_req(line) {
            Ok(Request::Fetch {
                uid,
                changed_since,
                vanished,
                ..
            }) => (uid, changed_since, vanished),
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(
            fetch("a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)"),
            (true, Some(12345), true)
        );
        assert_eq!(
            fetch("a uid fetch 1:* FLAGS (vanished changedsince 7)"),
            (true, Some(7), true)
        );
        assert_eq!(
            fetch("a UID FETCH 1 FLAGS (CHANGEDSINCE 7)"),
            (true, Some(7), false)
        );
        let bad = |line| parse_req(line).expect_err(line);
        assert_eq!(
            bad("a FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)"),
            "VANISHED is only allowed with UID FETCH"
        );
        assert_eq!(
            bad("a UID FETCH 1:* FLAGS (VANISHED)"),
            "VANISHED needs CHANGEDSINCE"
        );
        assert_eq!(
            bad("a UID FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED VANISHED)"),
            "A FETCH modifier is given twice"
        );
        assert_eq!(
            bad("a UID FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)"),
            "A FETCH modifier is given twice"
        );
        for line in [
            "a UID FETCH 1 FLAGS ()",
            "a UID FETCH 1 FLAGS (CHANGEDSINCE)",
            "a UID FETCH 1 FLAGS (CHANGEDSINCE x VANISHED)",
            "a UID FETCH 1 FLAGS (CHANGEDSINCE 1  VANISHED)",
            "a UID FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED",
            "a UID FETCH 1 FLAGS (FOO)",
            "a UID FETCH 1 FLAGS VANISHED",
        ] {
            assert_eq!(bad(line), "Unknown FETCH modifier", "{line}");
        }
    }

    #[test]
    fn section_specs() {
        let s = Section {
            part: vec![2],
            text: Some(SectionText::HeaderFields {
                not: true,
                fields: vec!["A".into(), "B".into()],
            }),
        };
        assert_eq!(s.spec(), "2.HEADER.FIELDS.NOT (A B)");
        assert_eq!(Section::default().spec(), "");
    }
}
