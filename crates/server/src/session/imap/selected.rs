//! The selected state (RFC 9051 §6.3.2, §6.4): SELECT / EXAMINE, CLOSE,
//! UNSELECT, EXPUNGE, STORE, COPY and MOVE, and the reporting of changes.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use postern_imap_proto::cmd::{QResync, StoreMode};
use postern_imap_proto::{Data, SequenceSet, Server, Tag};
use postern_store::{Change, Flag, FlagOp, Mailbox, ModSeq, StoreError, Uid};
use tokio::sync::broadcast;

use super::view::View;
use super::{flags, ImapSession, STORE_TROUBLE};

/// The selected mailbox.
#[derive(Debug)]
pub(super) struct Selected {
    pub(super) mailbox: Mailbox,
    /// EXAMINE: nothing may change (RFC 9051 §6.3.3).
    pub(super) readonly: bool,
    pub(super) view: View,
    /// Store changes since SELECT; subscribed before the first read, so
    /// nothing falls between.
    pub(super) changes: broadcast::Receiver<Change>,
    /// A change may be waiting: re-read before reporting.
    pub(super) dirty: bool,
    /// SELECT (CONDSTORE) (RFC 7162 §3.1.8).
    pub(super) condstore: bool,
    /// The IDLE poll interval passed: compare the mailbox's counters.
    pub(super) poll_due: bool,
    /// Changes this session made and will hear of again from the store,
    /// counted by kind and UID: hearing them needs no re-read (a client
    /// storing flags message by message would otherwise make every
    /// command re-read the whole mailbox).
    pub(super) own: HashMap<(bool, Uid), u32>,
    /// This session claims new messages as \Recent (RFC 3501 §2.3.2):
    /// SELECT, not EXAMINE, by an IMAP4rev1 client (IMAP4rev2 has no
    /// \Recent).
    pub(super) claims_recent: bool,
    /// The UIDs this session claimed (`Store::claim_recent`): its
    /// \Recent messages.
    pub(super) recent: Vec<Range<Uid>>,
}

impl Selected {
    /// Expects the store's notice of a change this session makes:
    /// `flags` for FlagsChanged, else Expunged.
    pub(super) fn expect(&mut self, flags: bool, uid: Uid) {
        *self.own.entry((flags, uid)).or_default() += 1;
    }

    /// Whether the message is \Recent in this session.
    pub(super) fn is_recent(&self, uid: Uid) -> bool {
        self.recent.iter().any(|r| r.contains(&uid))
    }

    /// How many messages of the view are \Recent in this session.
    fn recent_count(&self) -> usize {
        self.view.iter().filter(|m| self.is_recent(m.uid)).count()
    }

    /// Whether `change` was one this session expected (and forgets it).
    fn was_own(&mut self, change: &Change) -> bool {
        let key = match change {
            Change::FlagsChanged { uid, .. } => (true, *uid),
            Change::Expunged { uid, .. } => (false, *uid),
            _ => return false,
        };
        match self.own.get_mut(&key) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                self.own.remove(&key);
            }
            None => return false,
        }
        true
    }
}

/// STORE's arguments.
pub(super) struct StoreArgs<'a> {
    pub(super) uid: bool,
    pub(super) set: &'a SequenceSet,
    pub(super) mode: StoreMode,
    pub(super) silent: bool,
    pub(super) flags: &'a [String],
    pub(super) unchanged_since: Option<u64>,
}

impl ImapSession {
    pub(super) async fn select(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        name: &str,
        readonly: bool,
        condstore: bool,
        qresync: Option<QResync>,
    ) {
        // RFC 7162 §3.2.11: CLOSED tells the client the old one is gone
        // (RFC 9051 §7.1 has it for IMAP4rev2 as well); sent whether or
        // not CONDSTORE was enabled, as §3.2.11 asks of a server that
        // advertises it.
        if self.selected.take().is_some() {
            imap.untagged("OK [CLOSED] Previous mailbox closed");
        }
        let Some(account) = self.account().map(|a| a.id) else {
            return;
        };
        let changes = self.mail.store.subscribe();
        let name = name.to_owned();
        let claims_recent = !readonly && !imap.enabled().rev2;
        let since = qresync.as_ref().map(|q| (q.uid_validity, ModSeq(q.modseq)));
        let read = self
            .mail
            .with_store(move |s| {
                let Some(mb) = s.mailbox(account, &name)? else {
                    return Ok(None);
                };
                let msgs = s.messages(mb.id)?;
                // After the read: a UID claimed but not read yet is
                // \Recent here when this session hears of it.
                let recent = match claims_recent {
                    true => vec![s.claim_recent(mb.id)?],
                    false => Vec::new(),
                };
                // After the read as well: a removal in between is in
                // both this and the change feed, and is told once, as a
                // VANISHED of the view (see `resync`).
                let vanished = match since {
                    Some((validity, modseq)) if validity == mb.uid_validity => {
                        Some(s.vanished_since(mb.id, modseq)?)
                    }
                    _ => None,
                };
                Ok(Some((mb, msgs, recent, vanished)))
            })
            .await;
        let (mailbox, msgs, recent, vanished) = match read {
            Ok(Some(found)) => found,
            Ok(None) => return imap.tagged_no(tag, Some("NONEXISTENT"), "No such mailbox"),
            Err(e) => return trouble(imap, tag, &e),
        };
        let sel = Selected {
            readonly,
            view: View::shared(self.mail.listings.share(mailbox.id, msgs)),
            changes,
            dirty: false,
            poll_due: false,
            own: HashMap::new(),
            condstore: condstore || imap.enabled().condstore,
            mailbox,
            claims_recent,
            recent,
        };
        self.announce(imap, &sel);
        // RFC 7162 §3.2.5: with the UIDVALIDITY the client knew, what
        // changed since its MODSEQ; with another, a plain SELECT.
        if let (Some(q), Some(vanished)) = (qresync, vanished) {
            resync(imap, &sel, &q, &vanished);
        }
        let code = if readonly { "READ-ONLY" } else { "READ-WRITE" };
        let verb = if readonly { "EXAMINE" } else { "SELECT" };
        self.selected = Some(sel);
        imap.tagged_ok(tag, Some(code), &format!("{verb} completed"));
    }

    /// The untagged data of SELECT (RFC 9051 §6.3.2, RFC 3501 §6.3.1).
    fn announce(&self, imap: &mut Server, sel: &Selected) {
        let keywords: BTreeSet<&str> = sel
            .view
            .iter()
            .flat_map(|m| m.flags.iter())
            .filter_map(|f| match f {
                Flag::Keyword(k) => Some(k.as_str()),
                _ => None,
            })
            .collect();
        let mut all = flags::SYSTEM.to_owned();
        for k in &keywords {
            all.push(' ');
            all.push_str(k);
        }
        imap.untagged(&format!("FLAGS ({all})"));
        imap.untagged(&format!("{} EXISTS", sel.view.len()));
        let rev2 = imap.enabled().rev2;
        if rev2 {
            // RFC 9051 §6.3.2: the mailbox's LIST response.
            let mut d = Data::new();
            d.raw("LIST () \"/\" ")
                .mailbox(&sel.mailbox.name, imap.utf8());
            imap.data(d);
        }
        if !rev2 {
            imap.untagged(&format!("{} RECENT", sel.recent_count()));
            let unseen = sel.view.iter().position(|m| !m.flags.contains(&Flag::Seen));
            if let Some(i) = unseen {
                imap.untagged(&format!("OK [UNSEEN {}] First unseen", i + 1));
            }
        }
        let permanent = if sel.readonly {
            String::new()
        } else {
            format!("{all} \\*")
        };
        imap.untagged(&format!(
            "OK [PERMANENTFLAGS ({permanent})] Flags permitted"
        ));
        imap.untagged(&format!(
            "OK [UIDVALIDITY {}] UIDs valid",
            sel.mailbox.uid_validity
        ));
        imap.untagged(&format!(
            "OK [UIDNEXT {}] Predicted next UID",
            sel.mailbox.uid_next.0
        ));
        let modseq = sel
            .view
            .iter()
            .map(|m| m.modseq.0)
            .max()
            .unwrap_or(0)
            .max(sel.mailbox.highest_modseq.0);
        imap.untagged(&format!("OK [HIGHESTMODSEQ {}] Highest", modseq.max(1)));
    }

    /// CLOSE (expunging \Deleted unless read-only) or UNSELECT.
    pub(super) async fn close(&mut self, imap: &mut Server, tag: &Tag, expunge: bool) {
        let Some(sel) = self.selected.take() else {
            return;
        };
        if expunge && !sel.readonly {
            let doomed = deleted(&sel.view, None);
            let id = sel.mailbox.id;
            if let Err(e) = self.mail.with_store(move |s| s.expunge(id, &doomed)).await {
                return trouble(imap, tag, &e);
            }
        }
        let verb = if expunge { "CLOSE" } else { "UNSELECT" };
        imap.tagged_ok(tag, None, &format!("{verb} completed"));
    }

    /// EXPUNGE, or UID EXPUNGE (RFC 4315 §2.1).
    pub(super) async fn expunge(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        uids: Option<&SequenceSet>,
    ) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        if sel.readonly {
            return imap.tagged_no(tag, Some("READ-ONLY"), "Mailbox is read-only");
        }
        let doomed = deleted(&sel.view, uids);
        for &uid in &doomed {
            sel.expect(false, uid);
        }
        let id = sel.mailbox.id;
        let gone = doomed.clone();
        let qresync = imap.enabled().qresync && !doomed.is_empty();
        let result = self
            .mail
            .with_store(move |s| {
                s.expunge(id, &gone)?;
                // Read after the expunge: its MODSEQ, or a later one.
                qresync.then(|| s.mailbox_by_id(id)).transpose()
            })
            .await;
        let after = match result {
            Ok(after) => after.flatten(),
            Err(e) => return trouble(imap, tag, &e),
        };
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        removed(imap, sel, &doomed);
        let code = self.highest_after_removal(imap, after).await;
        imap.tagged_ok(tag, code.as_deref(), "EXPUNGE completed");
    }

    /// RFC 7162 §3.2.7, §3.2.9 and RFC 6851 §4.4: once QRESYNC is on, an
    /// EXPUNGE, UID EXPUNGE or MOVE that removed messages ends with the
    /// mailbox's HIGHESTMODSEQ as read after the removal. A client takes
    /// that value as covering every change, so first every change up to
    /// it is reported: the mailbox is re-read (the read follows the one of
    /// `after`) and the differences sent, as after any command.
    async fn highest_after_removal(
        &mut self,
        imap: &mut Server,
        after: Option<Mailbox>,
    ) -> Option<String> {
        let after = after?;
        let sel = self.selected.as_mut()?;
        sel.dirty = true;
        self.report(imap, true).await;
        Some(format!("HIGHESTMODSEQ {}", after.highest_modseq.0.max(1)))
    }

    /// UID FETCH ... (CHANGEDSINCE n VANISHED) (RFC 7162 §3.2.6): the
    /// UIDs of `set` removed since `since`, as `VANISHED (EARLIER)`,
    /// before any FETCH response. Messages still in the view are left
    /// out: the client counts them, and hears of their removal as it
    /// hears of any (a removal racing this command is in both). `$` is
    /// not resolved here (the saved result names messages of the view).
    /// False, and the command answered, if the store failed.
    pub(super) async fn vanished_earlier(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        set: &SequenceSet,
        since: u64,
    ) -> bool {
        let Some(sel) = self.selected.as_ref() else {
            return true;
        };
        let id = sel.mailbox.id;
        let gone = match self
            .mail
            .with_store(move |s| s.vanished_since(id, ModSeq(since)))
            .await
        {
            Ok(gone) => gone,
            Err(e) => {
                trouble(imap, tag, &e);
                return false;
            }
        };
        let Some(sel) = self.selected.as_ref() else {
            return true;
        };
        // `*` is the largest UID in use (RFC 9051 §9), or that was.
        let largest = gone.last().map_or(0, |u| u.0).max(sel.view.max_uid());
        let wanted = UidRanges::new(set, largest);
        let uids: Vec<u32> = gone
            .iter()
            .filter(|&&u| wanted.contains(u.0) && sel.view.index_of(u).is_none())
            .map(|u| u.0)
            .collect();
        for d in Data::vanished(&uids, true) {
            imap.data(d);
        }
        true
    }

    /// STORE / UID STORE: one store transaction for all the messages, with
    /// UNCHANGEDSINCE checked there against the stored MODSEQ (RFC 7162
    /// §3.1.3), so that concurrent sessions never undo each other's flags.
    pub(super) async fn store(&mut self, imap: &mut Server, tag: &Tag, args: StoreArgs<'_>) {
        let Some(sel) = self.selected.as_ref() else {
            return;
        };
        if sel.readonly {
            return imap.tagged_no(tag, Some("READ-ONLY"), "Mailbox is read-only");
        }
        let wanted = match flags::parse_all(args.flags) {
            Ok(f) => f,
            Err(e) => return imap.tagged_bad(tag, None, &e),
        };
        let Ok(targets) = sel.view.select(args.set, args.uid) else {
            return imap.tagged_bad(tag, None, "Invalid message sequence number");
        };
        let uids: Vec<Uid> = targets
            .iter()
            .map(|&i| sel.view.get(i).uid)
            .filter(|u| !sel.view.is_gone(*u))
            .collect();
        let op = match args.mode {
            StoreMode::Replace => FlagOp::Replace,
            StoreMode::Add => FlagOp::Add,
            StoreMode::Remove => FlagOp::Remove,
        };
        let id = sel.mailbox.id;
        let since = args.unchanged_since.map(ModSeq);
        let result = self
            .mail
            .with_store(move |s| s.store_flags(id, &uids, op, &wanted, since))
            .await;
        let done = match result {
            Ok(done) => done,
            Err(e) => return trouble(imap, tag, &e),
        };
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let condstore = sel.condstore || imap.enabled().condstore || args.unchanged_since.is_some();
        let changed = done.changed.into_iter().map(|c| (c, true));
        let kept = done.kept.into_iter().map(|c| (c, false));
        let mut out: Vec<_> = changed.chain(kept).collect();
        out.sort_by_key(|((uid, _, _), _)| *uid);
        for ((uid, flags, modseq), really) in out {
            if really {
                sel.expect(true, uid);
            }
            let Some(i) = sel.view.index_of(uid) else {
                continue;
            };
            let mut meta = sel.view.get(i).clone();
            meta.flags = flags;
            meta.modseq = modseq;
            // RFC 7162 §3.1.3: with UNCHANGEDSINCE a change is reported
            // even when silent, for its MODSEQ.
            if !args.silent || (really && args.unchanged_since.is_some()) {
                let recent = sel.is_recent(uid);
                // RFC 7162 §3.2.4: a QRESYNC client gets the UID too.
                let with_uid = args.uid || imap.enabled().qresync;
                imap.data(flag_fetch(i, &meta, with_uid, condstore, recent));
            }
            sel.view.update(i, meta);
        }
        let modified: Vec<u32> = done
            .modified
            .iter()
            .filter_map(|&uid| match args.uid {
                true => Some(uid.0),
                false => sel.view.index_of(uid).map(|i| i as u32 + 1),
            })
            .collect();
        match modified.is_empty() {
            true => imap.tagged_ok(tag, None, "STORE completed"),
            false => {
                let set = SequenceSet::compact(&modified);
                imap.tagged_ok(
                    tag,
                    Some(&format!("MODIFIED {set}")),
                    "Some messages changed meanwhile",
                );
            }
        }
    }

    /// COPY, or MOVE (RFC 6851): the store moves the messages in one
    /// transaction; COPYUID goes in an untagged OK, then the EXPUNGEs.
    pub(super) async fn copy(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        uid: bool,
        set: &SequenceSet,
        dest: &str,
        moving: bool,
    ) {
        let (Some(sel), Some(account)) = (self.selected.as_ref(), self.account().map(|a| a.id))
        else {
            return;
        };
        if moving && sel.readonly {
            return imap.tagged_no(tag, Some("READ-ONLY"), "Mailbox is read-only");
        }
        let Ok(targets) = sel.view.select(set, uid) else {
            return imap.tagged_bad(tag, None, "Invalid message sequence number");
        };
        let uids: Vec<Uid> = targets
            .iter()
            .map(|&i| sel.view.get(i).uid)
            .filter(|u| !sel.view.is_gone(*u))
            .collect();
        let (from, dest) = (sel.mailbox.id, dest.to_owned());
        let work = uids.clone();
        let qresync = moving && imap.enabled().qresync;
        let result = self
            .mail
            .with_store(move |s| {
                let Some(to) = s.mailbox(account, &dest)? else {
                    return Ok(None);
                };
                let pairs = if moving {
                    s.move_messages(from, &work, to.id)?
                } else {
                    s.copy(from, &work, to.id)?
                };
                // Read after the move, for its HIGHESTMODSEQ.
                let after = match qresync && !pairs.is_empty() {
                    true => s.mailbox_by_id(from)?,
                    false => None,
                };
                Ok(Some((to.uid_validity, pairs, after)))
            })
            .await;
        let (validity, pairs, after) = match result {
            Ok(Some(done)) => done,
            Ok(None) => return imap.tagged_no(tag, Some("TRYCREATE"), "No such mailbox"),
            Err(e) => return trouble(imap, tag, &e),
        };
        let verb = if moving { "MOVE" } else { "COPY" };
        let code = copyuid(validity, &pairs);
        if !moving {
            return imap.tagged_ok(tag, code.as_deref(), &format!("{verb} completed"));
        }
        // RFC 6851 §4.3: COPYUID in an untagged OK, then the EXPUNGEs.
        if let Some(code) = &code {
            imap.untagged(&format!("OK [{code}] Moved"));
        }
        // Only what was there to move is gone; a message another session
        // expunged meanwhile is reported by the next sync.
        let uids: Vec<Uid> = pairs.iter().map(|p| p.0).collect();
        if let Some(sel) = self.selected.as_mut() {
            for &uid in &uids {
                sel.expect(false, uid);
            }
            removed(imap, sel, &uids);
        }
        let code = self.highest_after_removal(imap, after).await;
        imap.tagged_ok(tag, code.as_deref(), &format!("{verb} completed"));
    }

    /// After an IDLE poll interval: the mailbox's UIDNEXT and
    /// HIGHESTMODSEQ, which any change by any process moves; the view is
    /// re-read only if they did.
    pub(super) async fn poll_mailbox(&mut self) {
        let Some(sel) = self.selected.as_mut().filter(|s| s.poll_due) else {
            return;
        };
        sel.poll_due = false;
        let id = sel.mailbox.id;
        let Ok(Some(now)) = self.mail.with_store(move |s| s.mailbox_by_id(id)).await else {
            return;
        };
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        if (now.uid_next, now.highest_modseq) != (sel.mailbox.uid_next, sel.mailbox.highest_modseq)
        {
            sel.dirty = true;
            sel.mailbox = now;
        }
    }

    /// Tells the client what changed: re-reads the mailbox if a change
    /// concerning it arrived, and sends EXPUNGE (if `expunge_ok`), EXISTS
    /// and FETCH FLAGS.
    pub(super) async fn report(&mut self, imap: &mut Server, expunge_ok: bool) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        loop {
            match sel.changes.try_recv() {
                Ok(change) if super::concerns(&change, sel.mailbox.id) => {
                    sel.dirty |= !sel.was_own(&change);
                }
                Ok(_) => {}
                Err(broadcast::error::TryRecvError::Lagged(_)) => sel.dirty = true,
                Err(_) => break,
            }
        }
        if !sel.dirty {
            return;
        }
        let id = sel.mailbox.id;
        let fresh = match self.mail.with_store(move |s| s.messages(id)).await {
            Ok(fresh) => fresh,
            Err(e) => return tracing::error!(error = %e, "cannot re-read the selected mailbox"),
        };
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        // The mailbox as read includes this session's own changes.
        sel.own.clear();
        // RFC 7162 §3.2.10: a QRESYNC client is told removals by UID.
        let qresync = imap.enabled().qresync && expunge_ok;
        let before: Vec<Uid> = match qresync {
            true => sel.view.iter().map(|m| m.uid).collect(),
            false => Vec::new(),
        };
        let up = sel.view.sync(fresh, expunge_ok);
        // Expunges held back are applied at the next chance.
        sel.dirty = !expunge_ok && sel.view.iter().any(|m| sel.view.is_gone(m.uid));
        if qresync && !up.expunged.is_empty() {
            let gone: Vec<u32> = before
                .into_iter()
                .filter(|&u| sel.view.index_of(u).is_none())
                .map(|u| u.0)
                .collect();
            for d in Data::vanished(&gone, false) {
                imap.data(d);
            }
        } else {
            for seq in up.expunged {
                imap.untagged(&format!("{seq} EXPUNGE"));
            }
        }
        let Some(n) = up.exists else {
            return self.report_flags(imap, &up.changed);
        };
        imap.untagged(&format!("{n} EXISTS"));
        if sel.claims_recent {
            // RFC 3501 §7.3.2: new messages are \Recent in the first
            // session to hear of them.
            let id = sel.mailbox.id;
            match self.mail.with_store(move |s| s.claim_recent(id)).await {
                Ok(range) => {
                    if let Some(sel) = self.selected.as_mut() {
                        sel.recent.push(range);
                        imap.untagged(&format!("{} RECENT", sel.recent_count()));
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot claim \\Recent messages"),
            }
        }
        self.report_flags(imap, &up.changed);
    }

    /// `* n FETCH (UID u FLAGS ...)` for messages whose flags changed
    /// elsewhere.
    fn report_flags(&self, imap: &mut Server, changed: &[Uid]) {
        let Some(sel) = self.selected.as_ref() else {
            return;
        };
        for &uid in changed {
            if let Some(i) = sel.view.index_of(uid) {
                imap.data(flag_fetch(
                    i,
                    sel.view.get(i),
                    true,
                    sel.condstore || imap.enabled().condstore,
                    sel.is_recent(uid),
                ));
            }
        }
    }
}

/// The UIDs of \Deleted messages, within `uids` if given.
fn deleted(view: &View, uids: Option<&SequenceSet>) -> Vec<Uid> {
    view.iter()
        .enumerate()
        .filter(|(_, m)| m.flags.contains(&Flag::Deleted))
        .filter(|(i, _)| uids.is_none_or(|set| view.in_set(set, *i, true)))
        .map(|(_, m)| m.uid)
        .collect()
}

/// Drops messages this session removed from the view and tells the
/// client: `VANISHED uids` once QRESYNC is on (RFC 7162 §3.2.10, only
/// UIDs the client was shown), else `n EXPUNGE`, highest first.
fn removed(imap: &mut Server, sel: &mut Selected, uids: &[Uid]) {
    if !imap.enabled().qresync {
        for seq in sel.view.remove(uids) {
            imap.untagged(&format!("{seq} EXPUNGE"));
        }
        return;
    }
    let mut shown: Vec<u32> = uids
        .iter()
        .filter(|&&u| sel.view.index_of(u).is_some())
        .map(|u| u.0)
        .collect();
    shown.sort_unstable();
    shown.dedup();
    sel.view.remove(uids);
    for d in Data::vanished(&shown, false) {
        imap.data(d);
    }
}

/// The answer to SELECT's QRESYNC parameter when its UIDVALIDITY holds
/// (RFC 7162 §3.2.5.1): `VANISHED (EARLIER)` for the known UIDs removed
/// since the client's MODSEQ, then `n FETCH (UID FLAGS MODSEQ)` for
/// the known messages changed since (RFC 7162 §3.2.6: VANISHED first).
/// Without known UIDs, all below UIDNEXT are meant; every UID of the
/// view and of `vanished` is. The sequence match data narrows VANISHED
/// (§3.2.5.2). UIDs in the view are never reported vanished (see
/// `select`).
fn resync(imap: &mut Server, sel: &Selected, q: &QResync, vanished: &[Uid]) {
    let known = q
        .known_uids
        .as_ref()
        .map(|set| UidRanges::new(set, sel.mailbox.uid_next.0.saturating_sub(1)));
    let is_known = |u: Uid| known.as_ref().is_none_or(|k| k.contains(u.0));
    let matched = q
        .seq_match
        .as_ref()
        .map_or(0, |(seqs, uids)| matched_uid(&sel.view, seqs, uids));
    let gone: Vec<u32> = vanished
        .iter()
        .filter(|&&u| u.0 > matched && is_known(u) && sel.view.index_of(u).is_none())
        .map(|u| u.0)
        .collect();
    for d in Data::vanished(&gone, true) {
        imap.data(d);
    }
    for (i, m) in sel.view.iter().enumerate() {
        if m.modseq.0 > q.modseq && is_known(m.uid) {
            imap.data(flag_fetch(i, m, true, true, sel.is_recent(m.uid)));
        }
    }
}

/// RFC 7162 §3.2.5.2: the largest UID up to which the client's sample of
/// (message number, UID) pairs agrees with the view, taking the pairs in
/// order and stopping at the first that does not; the client knows every
/// removal up to it. 0 when none agrees. Reads no further than the view
/// is long, whatever the client wrote.
fn matched_uid(view: &View, seqs: &SequenceSet, uids: &SequenceSet) -> u32 {
    let seqs = seqs.ranges(0).flat_map(|(lo, hi)| lo..=hi);
    let uids = uids.ranges(0).flat_map(|(lo, hi)| lo..=hi);
    let mut matched = 0;
    for (seq, uid) in seqs.zip(uids) {
        let i = (seq as usize).wrapping_sub(1);
        if i >= view.len() || view.get(i).uid.0 != uid {
            break;
        }
        matched = matched.max(uid);
    }
    matched
}

/// A UID set from the client as sorted, disjoint ranges: membership in
/// O(log n) however the client wrote it.
struct UidRanges(Vec<(u32, u32)>);

impl UidRanges {
    fn new(set: &SequenceSet, largest: u32) -> Self {
        let mut ranges: Vec<(u32, u32)> = set.ranges(largest).collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Self(merged)
    }

    fn contains(&self, n: u32) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < n);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= n)
    }
}

/// `n FETCH (FLAGS (...) [UID u] [MODSEQ (m)])`.
pub(super) fn flag_fetch(
    i: usize,
    meta: &postern_store::MessageMeta,
    uid: bool,
    modseq: bool,
    recent: bool,
) -> Data {
    let mut d = Data::new();
    d.num(i + 1).raw(" FETCH (");
    if uid {
        d.raw("UID ").num(meta.uid.0).sp();
    }
    d.raw("FLAGS ");
    flags::write(&mut d, &meta.flags, recent);
    if modseq {
        d.raw(" MODSEQ (").num(meta.modseq.0).close();
    }
    d.close();
    d
}

/// `COPYUID validity old new` (RFC 4315 §3), if anything was copied.
fn copyuid(validity: u32, pairs: &[(Uid, Uid)]) -> Option<String> {
    if pairs.is_empty() {
        return None;
    }
    let mut pairs = pairs.to_vec();
    pairs.sort();
    let old: Vec<u32> = pairs.iter().map(|p| p.0 .0).collect();
    let new: Vec<String> = pairs.iter().map(|p| p.1 .0.to_string()).collect();
    // The new UIDs in the order of the old ones, which need not be ranges.
    Some(format!(
        "COPYUID {validity} {} {}",
        SequenceSet::compact(&old),
        new.join(",")
    ))
}

/// A store failure: logged, and a generic NO.
pub(super) fn trouble(imap: &mut Server, tag: &Tag, e: &StoreError) {
    match e {
        StoreError::QuotaExceeded { .. } => {
            imap.tagged_no(tag, Some("OVERQUOTA"), "Quota exceeded")
        }
        StoreError::NotFound { .. } => imap.tagged_no(tag, Some("NONEXISTENT"), "No such mailbox"),
        StoreError::AlreadyExists { .. } => {
            imap.tagged_no(tag, Some("ALREADYEXISTS"), "Mailbox exists already")
        }
        StoreError::Invalid { why, .. } => imap.tagged_no(tag, Some("CANNOT"), why),
        StoreError::InUse { why, .. } => imap.tagged_no(tag, Some("INUSE"), why),
        _ => {
            tracing::error!(error = %e, "IMAP store call failed");
            imap.tagged_no(tag, Some("SERVERBUG"), STORE_TROUBLE);
        }
    }
}

#[cfg(test)]
mod tests {
    use postern_store::{AccountId, MailboxId, ModSeq};

    use super::*;

    fn selected() -> Selected {
        let mailbox = Mailbox {
            id: MailboxId(7),
            account: AccountId(1),
            name: "INBOX".into(),
            special_use: None,
            uid_validity: 1,
            uid_next: Uid(10),
            highest_modseq: ModSeq(1),
        };
        Selected {
            mailbox,
            readonly: false,
            view: View::new(Vec::new()),
            changes: broadcast::channel(4).1,
            dirty: false,
            condstore: false,
            poll_due: false,
            own: HashMap::new(),
            claims_recent: false,
            recent: Vec::new(),
        }
    }

    #[test]
    fn client_uid_sets() {
        let set = |s| SequenceSet::from_text(s).unwrap();
        let r = UidRanges::new(&set("12:10,5:3,1,4,7:7"), 0);
        assert_eq!(r.0, [(1, 1), (3, 5), (7, 7), (10, 12)]);
        for n in [1, 3, 4, 5, 7, 10, 11, 12] {
            assert!(r.contains(n), "{n}");
        }
        for n in [0, 2, 6, 8, 9, 13, u32::MAX] {
            assert!(!r.contains(n), "{n}");
        }
        assert!(UidRanges::new(&set("1:*"), 9).contains(9));
    }

    /// RFC 7162 §3.2.5.2: pairs are taken in order up to the first that
    /// the mailbox does not match.
    #[test]
    fn sequence_match_data() {
        let metas = [2, 4, 6, 8].map(|u| postern_store::MessageMeta {
            mailbox: MailboxId(7),
            uid: Uid(u),
            flags: Vec::new(),
            internal_date: 0,
            size: 1,
            modseq: ModSeq(1),
            blob: postern_store::BlobId(String::new()),
        });
        let view = View::new(metas.to_vec());
        let set = |s| SequenceSet::from_text(s).unwrap();
        assert_eq!(matched_uid(&view, &set("1:4"), &set("2,4,7,8")), 4);
        assert_eq!(matched_uid(&view, &set("2,4"), &set("4,8")), 8);
        assert_eq!(matched_uid(&view, &set("1"), &set("3")), 0);
        assert_eq!(matched_uid(&view, &set("5:4000000000"), &set("9:10")), 0);
        assert_eq!(matched_uid(&view, &set("4"), &set("8:9")), 8, "extra UIDs");
    }

    #[test]
    fn own_changes_are_recognised_once() {
        let mut sel = selected();
        let (mailbox, uid) = (MailboxId(7), Uid(3));
        sel.expect(true, uid);
        sel.expect(true, uid);
        let flags = Change::FlagsChanged { mailbox, uid };
        assert!(sel.was_own(&flags) && sel.was_own(&flags));
        assert!(!sel.was_own(&flags), "a third change is someone else's");
        sel.expect(false, uid);
        assert!(!sel.was_own(&Change::Appended { mailbox, uid }));
        assert!(sel.was_own(&Change::Expunged { mailbox, uid }));
        assert!(sel.own.is_empty());
    }
}
