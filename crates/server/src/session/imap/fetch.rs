//! FETCH (RFC 9051 §6.4.5, §7.5.2): flags, dates, sizes, ENVELOPE, BODY
//! and BODYSTRUCTURE, sections with partials, BINARY (RFC 3516), MODSEQ
//! (RFC 7162). Fetching a body without PEEK sets \Seen.

use postern_imap_proto::cmd::{FetchAttr, Section, SectionText};
use postern_imap_proto::{date, Data, SequenceSet, Server, Tag};
use postern_message::{Address, Body, Envelope, Extension, Message, Want};
use std::collections::VecDeque;

use postern_store::{Flag, FlagOp, MessageMeta, StoreResult};

use super::selected::trouble;
use super::{flags, ImapSession};

/// A FETCH being answered in pieces.
#[derive(Debug)]
pub(super) struct FetchJob {
    tag: Tag,
    /// View indices still to send.
    targets: VecDeque<usize>,
    attrs: Vec<FetchAttr>,
    /// Add MODSEQ to every response (CONDSTORE).
    modseq: bool,
    needs_body: bool,
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
        self.fetch_job = Some(FetchJob {
            tag: tag.clone(),
            targets: targets.into(),
            attrs: attrs.to_vec(),
            modseq: sel.condstore
                || imap.enabled().condstore
                || changed_since.is_some()
                || attrs.contains(&FetchAttr::ModSeq),
            needs_body: attrs.iter().any(needs_message),
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
            if let Err(e) = self.fetch_one(imap, &job, i).await {
                imap.release();
                return trouble(imap, &job.tag, &e);
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

    /// One `* n FETCH (...)` response.
    async fn fetch_one(&mut self, imap: &mut Server, job: &FetchJob, i: usize) -> StoreResult<()> {
        let Some(sel) = self.selected.as_ref() else {
            return Ok(());
        };
        let meta = sel.view.get(i).clone();
        let gone = sel.view.is_gone(meta.uid);
        let recent = sel.is_recent(meta.uid);
        let raw = match job.needs_body {
            true => match self.mail.read_blob(meta.blob.clone(), meta.size).await {
                Ok(raw) => Some(raw),
                // Expunged by another session and its bytes deleted:
                // RFC 2180 §4.1.3 lets us skip it.
                Err(_) if gone => return Ok(()),
                Err(e) => return Err(e),
            },
            false => None,
        };
        let mut meta = meta;
        let mut flags_changed = false;
        if job.sets_seen && !meta.flags.contains(&Flag::Seen) && !gone {
            if let Some(updated) = self.mark_seen(i, &meta).await {
                meta = updated;
                flags_changed = true;
            }
        }
        let mut d = Data::new();
        d.num(i + 1).raw(" FETCH (");
        let message = raw.as_deref().map(Message::parse);
        for (n, attr) in job.attrs.iter().enumerate() {
            if n > 0 {
                d.sp();
            }
            item(&mut d, attr, &meta, recent, message.as_ref());
        }
        // RFC 9051 §6.4.5: a \Seen set now is reported with the data.
        if flags_changed && !job.attrs.contains(&FetchAttr::Flags) {
            d.raw(" FLAGS ");
            flags::write(&mut d, &meta.flags, recent);
        }
        if job.modseq && !job.attrs.contains(&FetchAttr::ModSeq) {
            d.raw(" MODSEQ (").num(meta.modseq.0).close();
        }
        d.close();
        imap.data(d);
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

/// One `msg-att` item.
/// `recent`: the message is \Recent in this session.
fn item(
    d: &mut Data,
    attr: &FetchAttr,
    meta: &MessageMeta,
    recent: bool,
    message: Option<&Message<'_>>,
) {
    let empty = Message::parse(b"");
    let m = message.unwrap_or(&empty);
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
        FetchAttr::Envelope => {
            d.raw("ENVELOPE ");
            envelope(d, &m.envelope());
        }
        FetchAttr::Body => {
            d.raw("BODY ");
            body(d, &m.body(), false);
        }
        FetchAttr::BodyStructure => {
            d.raw("BODYSTRUCTURE ");
            body(d, &m.body(), true);
        }
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

fn envelope(d: &mut Data, e: &Envelope) {
    d.open()
        .nstring(e.date.as_deref())
        .sp()
        .nstring(e.subject.as_deref());
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        d.sp();
        addresses(d, list);
    }
    d.sp()
        .nstring(e.in_reply_to.as_deref())
        .sp()
        .nstring(e.message_id.as_deref())
        .close();
}

fn addresses(d: &mut Data, list: &[Address]) {
    if list.is_empty() {
        d.nil();
        return;
    }
    d.open();
    for a in list {
        d.open()
            .nstring(a.name.as_deref())
            .raw(" NIL ")
            .nstring(a.mailbox.as_deref())
            .sp();
        d.nstring(a.host.as_deref()).close();
    }
    d.close();
}

/// `body` (RFC 9051 §9); with `ext`, the extension data of BODYSTRUCTURE.
fn body(d: &mut Data, b: &Body, ext: bool) {
    d.open();
    match b {
        Body::Multi {
            parts,
            subtype,
            params,
            ext: e,
        } => {
            for p in parts {
                body(d, p, ext);
            }
            if parts.is_empty() {
                // RFC 9051 §9 needs one part at least.
                body(d, &Body::Single(Box::new(empty_text())), ext);
            }
            d.sp().string(subtype.as_bytes());
            if ext {
                d.sp();
                param_list(d, params);
                extension(d, e, false);
            }
        }
        Body::Single(s) => {
            d.string(s.ctype.as_bytes())
                .sp()
                .string(s.subtype.as_bytes())
                .sp();
            param_list(d, &s.params);
            d.sp()
                .nstring(s.id.as_deref())
                .sp()
                .nstring(s.description.as_deref());
            d.sp().string(s.encoding.as_bytes()).sp().num(s.size);
            if let Some((env, inner)) = &s.message {
                d.sp();
                envelope(d, env);
                d.sp();
                body(d, inner, ext);
            }
            if let Some(lines) = s.lines {
                d.sp().num(lines);
            }
            if ext {
                extension(d, &s.ext, true);
            }
        }
    }
    d.close();
}

fn empty_text() -> postern_message::Single {
    postern_message::Single {
        ctype: "TEXT".into(),
        subtype: "PLAIN".into(),
        params: Vec::new(),
        id: None,
        description: None,
        encoding: "7BIT".into(),
        size: 0,
        lines: Some(0),
        message: None,
        ext: Extension::default(),
    }
}

fn param_list(d: &mut Data, params: &[(String, String)]) {
    if params.is_empty() {
        d.nil();
        return;
    }
    d.open();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            d.sp();
        }
        d.string(k.as_bytes()).sp().string(v.as_bytes());
    }
    d.close();
}

/// `[md5] disposition language location`.
fn extension(d: &mut Data, e: &Extension, single: bool) {
    if single {
        d.sp().nstring(e.md5.as_deref());
    }
    d.sp();
    match &e.disposition {
        Some((kind, params)) => {
            d.open().string(kind.as_bytes()).sp();
            param_list(d, params);
            d.close();
        }
        None => {
            d.nil();
        }
    }
    d.sp();
    match e.language.as_slice() {
        [] => d.nil(),
        [one] => d.string(one),
        many => {
            d.open();
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    d.sp();
                }
                d.string(l);
            }
            d.close()
        }
    };
    d.sp().nstring(e.location.as_deref());
}
