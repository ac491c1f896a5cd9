//! The session's view of the selected mailbox: message sequence numbers
//! (RFC 9051 §2.3.1.2) over the store's UIDs, kept stable between the
//! moments the client may be told of changes.
//!
//! Messages another session expunged stay in the view, marked gone, until
//! an EXPUNGE response may be sent (never during FETCH, STORE or SEARCH,
//! RFC 9051 §7.5.1), so sequence numbers never shift under the client.

use std::collections::HashSet;
use std::sync::Arc;

use postern_imap_proto::SequenceSet;
use postern_store::{MessageMeta, Uid};

/// What changed since the last sync, in the order to announce it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Updates {
    /// `* n EXPUNGE`, in the order to send (each valid when sent).
    pub(super) expunged: Vec<u32>,
    /// `* n EXISTS`, if new messages arrived.
    pub(super) exists: Option<u32>,
    /// Messages whose flags changed elsewhere: `* n FETCH (FLAGS ...)`.
    pub(super) changed: Vec<Uid>,
}

/// The selected mailbox's messages in sequence order.
///
/// The listing may be shared with other sessions that selected the same
/// mailbox in the same state (`crate::mail::SharedListings`); every change
/// goes through `Arc::make_mut`, which gives this view its own copy first.
#[derive(Debug)]
pub(super) struct View {
    msgs: Arc<Vec<MessageMeta>>,
    gone: HashSet<Uid>,
    /// The result of the last `SEARCH RETURN (SAVE)`, for `$` (RFC 5182):
    /// UIDs, so that expunges leave the rest meaning the same messages.
    saved: Vec<Uid>,
}

/// A sequence number the mailbox does not have (RFC 9051 §9: BAD).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BadSequence;

impl View {
    #[cfg(test)]
    pub(super) fn new(msgs: Vec<MessageMeta>) -> Self {
        Self::shared(Arc::new(msgs))
    }

    /// A view over a listing other sessions may hold too.
    pub(super) fn shared(msgs: Arc<Vec<MessageMeta>>) -> Self {
        Self {
            msgs,
            gone: HashSet::new(),
            saved: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.msgs.len()
    }

    pub(super) fn get(&self, i: usize) -> &MessageMeta {
        &self.msgs[i]
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &MessageMeta> {
        self.msgs.iter()
    }

    /// Whether another session expunged it (not announced yet).
    pub(super) fn is_gone(&self, uid: Uid) -> bool {
        self.gone.contains(&uid)
    }

    /// The largest UID, 0 for an empty mailbox.
    pub(super) fn max_uid(&self) -> u32 {
        self.msgs.last().map_or(0, |m| m.uid.0)
    }

    pub(super) fn index_of(&self, uid: Uid) -> Option<usize> {
        self.msgs.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// The indices a set names, ascending and each once. Message numbers
    /// past the end are an error; UIDs that do not exist are skipped
    /// (RFC 9051 §6.4.9).
    pub(super) fn select(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, BadSequence> {
        if set.is_saved() {
            let mut out: Vec<usize> = self
                .saved
                .iter()
                .filter_map(|&u| self.index_of(u))
                .collect();
            out.sort_unstable();
            return Ok(out);
        }
        if uid {
            let max = self.max_uid();
            return Ok((0..self.msgs.len())
                .filter(|&i| set.contains(self.msgs[i].uid.0, max))
                .collect());
        }
        let len = u32::try_from(self.msgs.len()).unwrap_or(u32::MAX);
        let mut out = Vec::new();
        for (lo, hi) in set.ranges(len) {
            if lo == 0 || hi > len {
                return Err(BadSequence);
            }
            out.extend((lo - 1) as usize..hi as usize);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Saves a search result for `$`.
    pub(super) fn save(&mut self, uids: Vec<Uid>) {
        self.saved = uids;
    }

    /// Whether message `i` is in `set`, by sequence number or by UID.
    pub(super) fn in_set(&self, set: &SequenceSet, i: usize, uid: bool) -> bool {
        let m = &self.msgs[i];
        if set.is_saved() {
            return self.saved.contains(&m.uid);
        }
        match uid {
            true => set.contains(m.uid.0, self.max_uid()),
            false => set.contains(i as u32 + 1, self.msgs.len() as u32),
        }
    }

    /// Records flags this session stored.
    pub(super) fn update(&mut self, i: usize, meta: MessageMeta) {
        if self.msgs[i] != meta {
            Arc::make_mut(&mut self.msgs)[i] = meta;
        }
    }

    /// Removes messages this session expunged; their sequence numbers,
    /// highest first, so that each is right when sent.
    pub(super) fn remove(&mut self, uids: &[Uid]) -> Vec<u32> {
        let mut seqs: Vec<u32> = uids
            .iter()
            .filter_map(|&u| self.index_of(u))
            .map(|i| i as u32 + 1)
            .collect();
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        seqs.dedup();
        for &s in &seqs {
            let m = Arc::make_mut(&mut self.msgs).remove(s as usize - 1);
            self.gone.remove(&m.uid);
        }
        seqs
    }

    /// Brings the view up to date with `fresh` (the mailbox now, UID
    /// order). Expunges are applied only when `expunge_ok`.
    pub(super) fn sync(&mut self, fresh: Vec<MessageMeta>, expunge_ok: bool) -> Updates {
        let mut up = Updates::default();
        let mut fresh_iter = fresh.into_iter().peekable();
        // By index, and a write only where something differs: an idle
        // session's poll finds nothing new and keeps sharing its listing.
        for i in 0..self.msgs.len() {
            let uid = self.msgs[i].uid;
            while fresh_iter.peek().is_some_and(|f| f.uid < uid) {
                fresh_iter.next();
            }
            match fresh_iter.peek() {
                Some(f) if f.uid == uid => {
                    let f = fresh_iter.next().unwrap_or_else(|| unreachable!("peeked"));
                    if f.flags != self.msgs[i].flags {
                        up.changed.push(uid);
                    }
                    if f != self.msgs[i] {
                        Arc::make_mut(&mut self.msgs)[i] = f;
                    }
                }
                _ => {
                    self.gone.insert(uid);
                }
            }
        }
        if expunge_ok && !self.gone.is_empty() {
            let gone: Vec<Uid> = self.gone.iter().copied().collect();
            up.expunged = self.remove(&gone);
            up.changed.retain(|u| !gone.contains(u));
        }
        let before = self.msgs.len();
        let max = self.max_uid();
        let new: Vec<MessageMeta> = fresh_iter.filter(|f| f.uid.0 > max).collect();
        if !new.is_empty() {
            Arc::make_mut(&mut self.msgs).extend(new);
        }
        if self.msgs.len() != before || !up.expunged.is_empty() {
            up.exists = Some(self.msgs.len() as u32);
        }
        up
    }
}

#[cfg(test)]
mod tests {
    use postern_store::{BlobId, Flag, MailboxId, ModSeq};

    use super::*;

    fn meta(uid: u32, flags: Vec<Flag>) -> MessageMeta {
        MessageMeta {
            mailbox: MailboxId(1),
            uid: Uid(uid),
            flags,
            internal_date: 0,
            size: 10,
            modseq: ModSeq(1),
            blob: BlobId(String::new()),
        }
    }

    fn view(uids: &[u32]) -> View {
        View::new(uids.iter().map(|&u| meta(u, vec![])).collect())
    }

    #[test]
    fn shared_listings_are_copied_on_the_first_change() {
        let listing = Arc::new(view(&[1, 2, 3]).msgs.to_vec());
        let mut a = View::shared(Arc::clone(&listing));
        let mut b = View::shared(Arc::clone(&listing));
        // A poll that finds nothing new keeps the listing shared.
        let same = a.sync(listing.to_vec(), true);
        assert_eq!(same, Updates::default());
        assert!(
            Arc::ptr_eq(&a.msgs, &b.msgs),
            "an unchanged sync copies nothing"
        );
        // A's own change is A's alone.
        a.update(0, meta(1, vec![Flag::Seen]));
        assert!(!Arc::ptr_eq(&a.msgs, &b.msgs));
        assert_eq!(a.get(0).flags, [Flag::Seen]);
        assert!(b.get(0).flags.is_empty(), "B does not see A's change");
        assert!(listing[0].flags.is_empty());
        // B is told of an expunge and a new message; A is not touched.
        let up = b.sync(
            vec![meta(1, vec![]), meta(3, vec![]), meta(4, vec![])],
            true,
        );
        assert_eq!(up.expunged, [2]);
        assert_eq!(b.len(), 3);
        assert_eq!(a.len(), 3);
        assert_eq!(a.get(1).uid, Uid(2));
    }

    #[test]
    fn sequence_sets() {
        let v = view(&[3, 5, 9]);
        let set = |s| SequenceSet::from_text(s).unwrap();
        assert_eq!(v.select(&set("2:*"), false), Ok(vec![1, 2]));
        assert_eq!(v.select(&set("3,1,1"), false), Ok(vec![0, 2]));
        assert_eq!(v.select(&set("4"), false), Err(BadSequence));
        assert_eq!(v.select(&set("4:9"), true), Ok(vec![1, 2]));
        // RFC 9051 §6.4.9: "n:*" always includes the largest UID.
        assert_eq!(v.select(&set("100:*"), true), Ok(vec![2]));
        assert_eq!(view(&[]).select(&set("1:*"), true), Ok(vec![]));
        let mut v = view(&[3, 5, 9]);
        assert_eq!(v.select(&set("$"), false), Ok(vec![]));
        v.save(vec![Uid(9), Uid(4), Uid(3)]);
        assert_eq!(v.select(&set("$"), true), Ok(vec![0, 2]));
        assert!(v.in_set(&set("$"), 2, false) && !v.in_set(&set("$"), 1, true));
    }

    #[test]
    fn sync_holds_expunges_until_allowed() {
        let mut v = view(&[1, 2, 3]);
        let fresh = vec![meta(1, vec![Flag::Seen]), meta(3, vec![]), meta(4, vec![])];
        let up = v.sync(fresh.clone(), false);
        assert_eq!(up.expunged, Vec::<u32>::new());
        assert_eq!(up.exists, Some(4));
        assert_eq!(up.changed, vec![Uid(1)]);
        assert!(v.is_gone(Uid(2)));
        assert_eq!(v.len(), 4);
        let up = v.sync(fresh, true);
        assert_eq!(up.expunged, vec![2]);
        assert_eq!(up.exists, Some(3));
        assert!(up.changed.is_empty());
        assert_eq!(v.iter().map(|m| m.uid.0).collect::<Vec<_>>(), vec![1, 3, 4]);
    }

    #[test]
    fn own_expunges_come_highest_first() {
        let mut v = view(&[1, 2, 3, 4]);
        assert_eq!(v.remove(&[Uid(2), Uid(4), Uid(7)]), vec![4, 2]);
        assert_eq!(v.len(), 2);
    }
}
