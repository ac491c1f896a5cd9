//! FETCH (RFC 9051 §6.4.5, §7.5.2): flags, dates, sizes, ENVELOPE, BODY
//! and BODYSTRUCTURE, sections with partials, BINARY (RFC 3516), MODSEQ
//! (RFC 7162). Fetching a body without PEEK sets \Seen.
//!
//! ENVELOPE, BODY and BODYSTRUCTURE depend on the message's octets alone;
//! they are rendered once and kept by content address (`cache`), so a
//! FETCH of them and of metadata (the usual header listing of a client)
//! reads and parses no message. `render` writes them in IMAP syntax.

mod cache;
mod render;

use std::collections::VecDeque;
use std::sync::Arc;

use postern_imap_proto::cmd::{FetchAttr, Section, SectionText};
use postern_imap_proto::{date, Data, SequenceSet, Server, Tag};
use postern_message::{Message, Want};
use postern_store::{Flag, FlagOp, MessageMeta, StoreError};

use super::selected::trouble;
use super::{flags, ImapSession};
use crate::mail::DerivedCache;
use cache::Item;

/// Why a FETCH stops before its last message.
enum Stop {
    Store(StoreError),
    /// RFC 3516 §4.2: BINARY of a part in an encoding this server cannot
    /// undo; the command fails with `NO [UNKNOWN-CTE]`.
    UnknownEncoding,
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A FETCH being answered in pieces.
#[derive(Debug)]
pub(super) struct FetchJob {
    tag: Tag,
    /// View indices still to send.
    targets: VecDeque<usize>,
    attrs: Vec<FetchAttr>,
    /// Add MODSEQ to every response (CONDSTORE).
    modseq: bool,
    /// Some item needs the message's octets themselves (sections, RFC822,
    /// BINARY); the cached ones alone do not.
    needs_octets: bool,
    /// The items that depend on the content alone, kept in `Mail::derived`.
    cached: Vec<Item>,
    sets_seen: bool,
}

/// Output queued before the rest of a FETCH waits for it to be written:
/// a session's memory stays bounded whatever the mailbox holds.
const FETCH_PIECE: usize = 1024 * 1024;

impl ImapSession {
    pub(super) async fn fetch(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        uid: bool,
        set: &SequenceSet,
        attrs: &[FetchAttr],
        changed_since: Option<u64>,
    ) {
        let Some(sel) = self.selected.as_ref() else {
            return;
        };
        let Ok(mut targets) = sel.view.select(set, uid) else {
            return imap.tagged_bad(tag, None, "Invalid message sequence number");
        };
        if let Some(since) = changed_since {
            targets.retain(|&i| sel.view.get(i).modseq.0 > since);
        }
        let mut cached: Vec<Item> = attrs.iter().filter_map(Item::of).collect();
        cached.dedup();
        self.fetch_job = Some(FetchJob {
            tag: tag.clone(),
            targets: targets.into(),
            attrs: attrs.to_vec(),
            modseq: sel.condstore
                || imap.enabled().condstore
                || changed_since.is_some()
                || attrs.contains(&FetchAttr::ModSeq),
            needs_octets: attrs
                .iter()
                .any(|a| needs_message(a) && Item::of(a).is_none()),
            cached,
            sets_seen: !sel.readonly && attrs.iter().any(FetchAttr::sets_seen),
        });
        self.fetch_some(imap).await;
    }

    /// Sends FETCH responses until a piece's worth is queued; the driver
    /// writes it and calls again (`Session::resume`) while a job remains.
    pub(super) async fn fetch_some(&mut self, imap: &mut Server) {
        let Some(mut job) = self.fetch_job.take() else {
            return;
        };
        while let Some(i) = job.targets.pop_front() {
            match self.fetch_one(imap, &job, i).await {
                Ok(()) => {}
                Err(Stop::Store(e)) => {
                    imap.release();
                    return trouble(imap, &job.tag, &e);
                }
                Err(Stop::UnknownEncoding) => {
                    imap.release();
                    return imap.tagged_no(
                        &job.tag,
                        Some("UNKNOWN-CTE"),
                        "A part's Content-Transfer-Encoding is unknown; fetch it with BODY[] instead",
                    );
                }
            }
            if imap.output_len() >= FETCH_PIECE && !job.targets.is_empty() {
                imap.hold();
                self.fetch_job = Some(job);
                return;
            }
        }
        imap.release();
        imap.tagged_ok(&job.tag, None, "FETCH completed");
    }

    /// One `* n FETCH (...)` response. The message is read and parsed only
    /// if an item needs its octets or is not in the cache yet.
    async fn fetch_one(&mut self, imap: &mut Server, job: &FetchJob, i: usize) -> Result<(), Stop> {
        let Some(sel) = self.selected.as_ref() else {
            return Ok(());
        };
        let meta = sel.view.get(i);
        let gone = sel.view.is_gone(meta.uid);
        let (cached, missing) = cache::lookup(&job.cached, &self.mail.derived, &meta.blob);
        let raw = match job.needs_octets || missing {
            true => match self.mail.read_blob(meta.blob.clone(), meta.size).await {
                Ok(raw) => Some(raw),
                // Expunged by another session and its bytes deleted:
                // RFC 2180 §4.1.3 lets us skip it.
                Err(_) if gone => return Ok(()),
                Err(e) => return Err(e.into()),
            },
            false => None,
        };
        let message = raw.as_deref().map(Message::parse);
        if let Some(m) = &message {
            if job.attrs.iter().any(|a| match a {
                FetchAttr::Binary { part, .. } | FetchAttr::BinarySize { part } => {
                    m.has_unknown_encoding(part)
                }
                _ => false,
            }) {
                return Err(Stop::UnknownEncoding);
            }
        }
        let seen_now = job.sets_seen && !gone && !meta.flags.contains(&Flag::Seen);
        let flags_changed = match seen_now {
            true => {
                let meta = meta.clone();
                self.mark_seen(i, &meta).await.is_some()
            }
            false => false,
        };
        let Some(sel) = self.selected.as_ref() else {
            return Ok(());
        };
        let out = Response {
            meta: sel.view.get(i),
            recent: sel.is_recent(sel.view.get(i).uid),
            message,
            cached,
            cache: &self.mail.derived,
        };
        imap.data(out.write(i, job, flags_changed));
        Ok(())
    }

    /// Adds \Seen to the message as stored (not as this session last saw
    /// it, so a flag another session just set stays); the new metadata,
    /// or `None` if that failed (logged) or the message is gone.
    async fn mark_seen(&mut self, i: usize, meta: &MessageMeta) -> Option<MessageMeta> {
        let (mailbox, uid) = (meta.mailbox, meta.uid);
        let result = self
            .mail
            .with_store(move |s| s.store_flags(mailbox, &[uid], FlagOp::Add, &[Flag::Seen], None))
            .await;
        let done = match result {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "cannot set \\Seen");
                return None;
            }
        };
        let changed = done.changed.into_iter().map(|c| (c, true));
        let ((_, flags, modseq), really) = changed
            .chain(done.kept.into_iter().map(|c| (c, false)))
            .next()?;
        let mut updated = meta.clone();
        updated.flags = flags;
        updated.modseq = modseq;
        if let Some(sel) = self.selected.as_mut() {
            if really {
                sel.expect(true, uid);
            }
            sel.view.update(i, updated.clone());
        }
        Some(updated)
    }
}

fn needs_message(attr: &FetchAttr) -> bool {
    !matches!(
        attr,
        FetchAttr::Flags
            | FetchAttr::InternalDate
            | FetchAttr::Rfc822Size
            | FetchAttr::Uid
            | FetchAttr::ModSeq
    )
}

/// What one `* n FETCH (...)` response is made of.
struct Response<'a> {
    meta: &'a MessageMeta,
    /// The message is \Recent in this session.
    recent: bool,
    /// Parsed if an item needed the octets or missed the cache.
    message: Option<Message<'a>>,
    /// What the cache held, by `Item::index`.
    cached: [Option<Arc<[u8]>>; Item::COUNT],
    cache: &'a DerivedCache,
}

impl Response<'_> {
    /// The response for the view index `i`.
    fn write(&self, i: usize, job: &FetchJob, flags_changed: bool) -> Data {
        let mut d = Data::new();
        d.num(i + 1).raw(" FETCH (");
        for (n, attr) in job.attrs.iter().enumerate() {
            if n > 0 {
                d.sp();
            }
            match Item::of(attr) {
                Some(it) => self.cached_item(&mut d, it),
                None => item(&mut d, attr, self.meta, self.recent, self.message.as_ref()),
            }
        }
        // RFC 9051 §6.4.5: a \Seen set now is reported with the data.
        if flags_changed && !job.attrs.contains(&FetchAttr::Flags) {
            d.raw(" FLAGS ");
            flags::write(&mut d, &self.meta.flags, self.recent);
        }
        if job.modseq && !job.attrs.contains(&FetchAttr::ModSeq) {
            d.raw(" MODSEQ (").num(self.meta.modseq.0).close();
        }
        d.close();
        d
    }

    /// ENVELOPE, BODY or BODYSTRUCTURE: from the cache, or rendered from
    /// the message and kept.
    fn cached_item(&self, d: &mut Data, it: Item) {
        d.raw(it.label());
        match (&self.cached[it.index()], &self.message) {
            (Some(rendered), _) => cache::replay(d, rendered),
            (None, Some(m)) => it.fill(d, m, self.cache, &self.meta.blob),
            // Not reached: a miss has the message read. As for a
            // message without octets, the item of an empty one.
            (None, None) => it.write(d, &Message::parse(b"")),
        }
    }
}

/// One `msg-att` item other than the cached ones.
/// `recent`: the message is \Recent in this session.
fn item(
    d: &mut Data,
    attr: &FetchAttr,
    meta: &MessageMeta,
    recent: bool,
    message: Option<&Message<'_>>,
) {
    match attr {
        FetchAttr::Uid => {
            d.raw("UID ").num(meta.uid.0);
        }
        FetchAttr::Flags => {
            d.raw("FLAGS ");
            flags::write(d, &meta.flags, recent);
        }
        FetchAttr::InternalDate => {
            d.raw("INTERNALDATE \"")
                .raw(&date::format_date_time(meta.internal_date))
                .raw("\"");
        }
        FetchAttr::Rfc822Size => {
            d.raw("RFC822.SIZE ").num(meta.size);
        }
        FetchAttr::ModSeq => {
            d.raw("MODSEQ (").num(meta.modseq.0).close();
        }
        _ => match message {
            Some(m) => content_item(d, attr, m),
            // The octets are gone: the items of an empty message.
            None => content_item(d, attr, &Message::parse(b"")),
        },
    }
}

/// An item made of the message's octets.
fn content_item(d: &mut Data, attr: &FetchAttr, m: &Message<'_>) {
    match attr {
        FetchAttr::Rfc822 => {
            d.raw("RFC822 ").literal(m.raw());
        }
        FetchAttr::Rfc822Header => {
            d.raw("RFC822.HEADER ").literal(m.header());
        }
        FetchAttr::Rfc822Text => {
            d.raw("RFC822.TEXT ").literal(m.text());
        }
        FetchAttr::Section {
            section, partial, ..
        } => {
            d.raw("BODY[").raw(&section.spec()).raw("]");
            let content = section_bytes(m, section);
            partial_literal(d, content.as_deref(), *partial, false);
        }
        FetchAttr::Binary { part, partial, .. } => {
            d.raw("BINARY[").raw(&part_spec(part)).raw("]");
            partial_literal(d, m.binary(part).as_deref(), *partial, true);
        }
        FetchAttr::BinarySize { part } => {
            let size = m.binary(part).map_or(0, |b| b.len());
            d.raw("BINARY.SIZE[")
                .raw(&part_spec(part))
                .raw("] ")
                .num(size);
        }
        _ => {
            d.raw("NIL");
        }
    }
}

fn part_spec(part: &[u32]) -> String {
    part.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn section_bytes(m: &Message<'_>, section: &Section) -> Option<Vec<u8>> {
    let want = match &section.text {
        None => Want::All,
        Some(SectionText::Header) => Want::Header,
        Some(SectionText::Text) => Want::Text,
        Some(SectionText::Mime) => Want::Mime,
        Some(SectionText::HeaderFields { not, fields }) => Want::Fields {
            names: fields,
            not: *not,
        },
    };
    m.section(&section.part, want)
}

/// `<origin>` and the octets, cut to the partial range (RFC 9051 §6.4.5:
/// past the end is an empty string). A missing part is an empty string.
fn partial_literal(
    d: &mut Data,
    content: Option<&[u8]>,
    partial: Option<(u32, u32)>,
    binary: bool,
) {
    let content = content.unwrap_or_default();
    let bytes = match partial {
        Some((origin, count)) => {
            d.raw("<").num(origin).raw(">");
            let start = (origin as usize).min(content.len());
            let end = start.saturating_add(count as usize).min(content.len());
            &content[start..end]
        }
        None => content,
    };
    d.sp();
    if binary && bytes.contains(&0) {
        d.literal8(bytes);
    } else {
        d.literal(bytes);
    }
}
