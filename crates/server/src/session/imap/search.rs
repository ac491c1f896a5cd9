//! SEARCH (RFC 9051 §6.4.4), answered as `* SEARCH` or, when asked with
//! RETURN or after ENABLE IMAP4rev2, `* ESEARCH` (RFC 4731).

use postern_imap_proto::cmd::{SearchKey, SearchReturn};
use postern_imap_proto::{Data, SequenceSet, Server, Tag};
use postern_message::{header_value, Message};
use postern_store::{Flag, MessageMeta, StoreResult};

use super::selected::trouble;
use super::view::View;
use super::{flags, ImapSession};

/// What one message is matched against.
struct Candidate<'a> {
    seq: u32,
    meta: &'a MessageMeta,
    /// \Recent in this session.
    recent: bool,
    message: Option<Message<'a>>,
}

impl ImapSession {
    pub(super) async fn search(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        uid: bool,
        ret: Option<SearchReturn>,
        key: &SearchKey,
    ) {
        let found = match self.matching(key, false, |_, _| ()).await {
            Ok(found) => found,
            Err(e) => return trouble(imap, tag, &e),
        };
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        if ret.as_ref().is_some_and(|r| r.save) {
            sel.view
                .save(found.iter().map(|(i, ())| sel.view.get(*i).uid).collect());
        }
        let hits: Vec<u32> = found
            .iter()
            .map(|(i, ())| {
                if uid {
                    sel.view.get(*i).uid.0
                } else {
                    *i as u32 + 1
                }
            })
            .collect();
        let highest = found
            .iter()
            .map(|(i, ())| sel.view.get(*i).modseq.0)
            .max()
            .unwrap_or(0);
        let modseq = uses_modseq(key).then_some(highest).filter(|&h| h > 0);
        let esearch = ret.or_else(|| {
            imap.enabled().rev2.then(|| SearchReturn {
                all: true,
                ..SearchReturn::default()
            })
        });
        match esearch {
            // RFC 5182 §2.4: SAVE alone answers with nothing but OK.
            Some(r)
                if r == (SearchReturn {
                    save: true,
                    ..SearchReturn::default()
                }) => {}
            Some(r) => imap.data(esearch_data(tag, uid, &r, &hits, modseq)),
            None => {
                let mut d = Data::new();
                d.raw("SEARCH");
                for h in &hits {
                    d.sp().num(h);
                }
                if let Some(m) = modseq {
                    d.raw(" (MODSEQ ").num(m).close();
                }
                imap.data(d);
            }
        }
        imap.tagged_ok(tag, None, "SEARCH completed");
    }

    /// The view indices of the messages matching `key`, ascending, each
    /// with what `keep` takes from it (given the parsed message if
    /// `content`). One message's bytes are in memory at a time, and only
    /// if the key or `keep` needs them.
    pub(super) async fn matching<T>(
        &self,
        key: &SearchKey,
        content: bool,
        keep: impl Fn(&MessageMeta, Option<&Message<'_>>) -> T,
    ) -> StoreResult<Vec<(usize, T)>> {
        let Some(sel) = self.selected.as_ref() else {
            return Ok(Vec::new());
        };
        let content = content || needs_content(key);
        let mut found = Vec::new();
        for (i, meta) in sel.view.iter().enumerate() {
            let raw = match content {
                false => None,
                true => match self.mail.read_blob(meta.blob.clone(), meta.size).await {
                    Ok(raw) => Some(raw),
                    Err(_) if sel.view.is_gone(meta.uid) => Some(Vec::new()),
                    Err(e) => return Err(e),
                },
            };
            let c = Candidate {
                seq: i as u32 + 1,
                meta,
                recent: sel.is_recent(meta.uid),
                message: raw.as_deref().map(Message::parse),
            };
            if matches(key, &c, &sel.view) {
                found.push((i, keep(meta, c.message.as_ref())));
            }
        }
        Ok(found)
    }
}

/// `* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set]`.
fn esearch_data(tag: &Tag, uid: bool, r: &SearchReturn, hits: &[u32], modseq: Option<u64>) -> Data {
    let mut d = Data::new();
    d.raw("ESEARCH (TAG ")
        .string(tag.as_str().as_bytes())
        .close();
    if uid {
        d.raw(" UID");
    }
    if let (true, Some(min)) = (r.min, hits.iter().min()) {
        d.raw(" MIN ").num(min);
    }
    if let (true, Some(max)) = (r.max, hits.iter().max()) {
        d.raw(" MAX ").num(max);
    }
    if r.count {
        d.raw(" COUNT ").num(hits.len());
    }
    if r.all && !hits.is_empty() {
        let mut sorted = hits.to_vec();
        sorted.sort_unstable();
        d.raw(" ALL ").raw(&SequenceSet::compact(&sorted));
    }
    if let Some(m) = modseq {
        d.raw(" MODSEQ ").num(m);
    }
    d
}

fn needs_content(key: &SearchKey) -> bool {
    match key {
        SearchKey::And(keys) => keys.iter().any(needs_content),
        SearchKey::Or(a, b) => needs_content(a) || needs_content(b),
        SearchKey::Not(k) => needs_content(k),
        SearchKey::Header(..)
        | SearchKey::Body(_)
        | SearchKey::Text(_)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_) => true,
        _ => false,
    }
}

fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::And(keys) => keys.iter().any(uses_modseq),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::ModSeq(_) => true,
        _ => false,
    }
}

fn matches(key: &SearchKey, c: &Candidate<'_>, view: &View) -> bool {
    let day = |secs: i64| secs.div_euclid(86_400);
    let sent = || c.message.as_ref().and_then(Message::sent_date).map(day);
    match key {
        SearchKey::All => true,
        SearchKey::Recent => c.recent,
        SearchKey::Old => !c.recent,
        // RFC 3501 §6.4.4: NEW is RECENT UNSEEN.
        SearchKey::New => c.recent && !c.meta.flags.contains(&Flag::Seen),
        SearchKey::And(keys) => keys.iter().all(|k| matches(k, c, view)),
        SearchKey::Or(a, b) => matches(a, c, view) || matches(b, c, view),
        SearchKey::Not(k) => !matches(k, c, view),
        SearchKey::SequenceSet(set) => view.in_set(set, c.seq as usize - 1, false),
        SearchKey::Uid(set) => view.in_set(set, c.seq as usize - 1, true),
        SearchKey::Flag(f) => has_flag(c.meta, f),
        SearchKey::NoFlag(f) => !has_flag(c.meta, f),
        SearchKey::Before(d) => day(c.meta.internal_date) < *d,
        SearchKey::On(d) => day(c.meta.internal_date) == *d,
        SearchKey::Since(d) => day(c.meta.internal_date) >= *d,
        SearchKey::SentBefore(d) => sent().is_some_and(|s| s < *d),
        SearchKey::SentOn(d) => sent() == Some(*d),
        SearchKey::SentSince(d) => sent().is_some_and(|s| s >= *d),
        SearchKey::Larger(n) => c.meta.size > *n,
        SearchKey::Smaller(n) => c.meta.size < *n,
        SearchKey::ModSeq(n) => c.meta.modseq.0 >= *n,
        SearchKey::Header(name, value) => c
            .message
            .as_ref()
            .is_some_and(|m| header_has(m, name, value)),
        SearchKey::Body(s) => c.message.as_ref().is_some_and(|m| body_has(m, s)),
        SearchKey::Text(s) => c
            .message
            .as_ref()
            .is_some_and(|m| contains(m.header(), s) || body_has(m, s)),
        _ => false,
    }
}

fn has_flag(meta: &MessageMeta, name: &str) -> bool {
    match flags::parse(name) {
        Ok(Some(flag)) => flag.is_in(&meta.flags),
        _ => false,
    }
}

/// RFC 9051 §6.4.4: a substring of the field, without case; an empty
/// string matches every message that has the field.
/// The raw value is searched, then the decoded one (RFC 2047 words).
fn header_has(m: &Message<'_>, name: &str, value: &str) -> bool {
    let Some(raw) = header_value(m.header(), name) else {
        return false;
    };
    value.is_empty()
        || contains(&raw, value)
        || m.header_text(name)
            .iter()
            .any(|t| contains(t.as_bytes(), value))
}

/// The raw body, then its decoded text parts (base64, quoted-printable,
/// other charsets).
fn body_has(m: &Message<'_>, needle: &str) -> bool {
    contains(m.text(), needle)
        || m.body_texts()
            .iter()
            .any(|t| contains(t.as_bytes(), needle))
}

/// Case-insensitive (ASCII and Unicode simple folding) substring search.
fn contains(haystack: &[u8], needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let hay = String::from_utf8_lossy(haystack).to_lowercase();
    hay.contains(&needle.to_lowercase())
}
