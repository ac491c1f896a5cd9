//! The mailbox commands (RFC 9051 §6.3): CREATE, DELETE, RENAME,
//! SUBSCRIBE, UNSUBSCRIBE, LIST / LSUB, STATUS and APPEND.

use std::collections::{BTreeMap, BTreeSet};

use postern_imap_proto::cmd::{List, StatusItem};
use postern_imap_proto::{Data, Server, Tag};
use postern_store::{
    AccountId, Flag, Mailbox, MailboxId, MessageMeta, SpecialUse, Store, StoreResult, Uid,
};

use super::selected::trouble;
use super::{flags, ImapSession};

impl ImapSession {
    fn account_id(&self) -> Option<AccountId> {
        self.account().map(|a| a.id)
    }

    pub(super) async fn create(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        name: &str,
        uses: &[String],
    ) {
        let Some(account) = self.account_id() else {
            return;
        };
        // RFC 9051 §6.3.4: a trailing separator only says a folder is meant.
        let name = name.trim_end_matches('/').to_owned();
        let special = match uses {
            [] => None,
            [one] => match special_use(one) {
                Some(u) => Some(u),
                None => {
                    return imap.tagged_no(
                        tag,
                        Some("USEATTR"),
                        "Unsupported special-use attribute",
                    )
                }
            },
            _ => return imap.tagged_no(tag, Some("USEATTR"), "One special-use attribute at most"),
        };
        if name.eq_ignore_ascii_case("INBOX") {
            return imap.tagged_no(tag, Some("ALREADYEXISTS"), "INBOX always exists");
        }
        match self
            .mail
            .with_store(move |s| s.create_mailbox(account, &name, special))
            .await
        {
            Ok(_) => imap.tagged_ok(tag, None, "CREATE completed"),
            Err(e) => trouble(imap, tag, &e),
        }
    }

    pub(super) async fn delete(&mut self, imap: &mut Server, tag: &Tag, name: &str) {
        let Some(account) = self.account_id() else {
            return;
        };
        if name == "INBOX" {
            return imap.tagged_no(tag, Some("CANNOT"), "INBOX cannot be deleted");
        }
        if self
            .selected
            .as_ref()
            .is_some_and(|s| s.mailbox.name == name)
        {
            self.selected = None;
        }
        let owned = name.to_owned();
        let result = self
            .mail
            .with_store(move |s| match s.mailbox(account, &owned)? {
                Some(mb) => s.delete_mailbox(mb.id).map(|()| true),
                None => Ok(false),
            })
            .await;
        match result {
            Ok(true) => imap.tagged_ok(tag, None, "DELETE completed"),
            Ok(false) => imap.tagged_no(tag, Some("NONEXISTENT"), "No such mailbox"),
            Err(e) => trouble(imap, tag, &e),
        }
    }

    /// RENAME; of INBOX (RFC 9051 §6.3.6): its messages move to the new
    /// mailbox and INBOX stays, empty.
    pub(super) async fn rename(&mut self, imap: &mut Server, tag: &Tag, from: &str, to: &str) {
        let Some(account) = self.account_id() else {
            return;
        };
        let (from, to) = (from.to_owned(), to.trim_end_matches('/').to_owned());
        let result = self
            .mail
            .with_store(move |s| {
                let Some(mb) = s.mailbox(account, &from)? else {
                    return Ok(false);
                };
                if from != "INBOX" {
                    return s.rename_mailbox(mb.id, &to).map(|()| true);
                }
                let target = s.create_mailbox(account, &to, None)?;
                let uids: Vec<_> = s.messages(mb.id)?.iter().map(|m| m.uid).collect();
                s.copy(mb.id, &uids, target.id)?;
                s.expunge(mb.id, &uids)?;
                Ok(true)
            })
            .await;
        match result {
            Ok(true) => imap.tagged_ok(tag, None, "RENAME completed"),
            Ok(false) => imap.tagged_no(tag, Some("NONEXISTENT"), "No such mailbox"),
            Err(e) => trouble(imap, tag, &e),
        }
    }

    /// SUBSCRIBE / UNSUBSCRIBE: stored, for every session and restart.
    /// Any valid name may be subscribed, existing or not (RFC 9051 §6.3.7).
    pub(super) async fn subscribe(&mut self, imap: &mut Server, tag: &Tag, name: &str, on: bool) {
        let Some(account) = self.account_id() else {
            return;
        };
        let name = name.trim_end_matches('/').to_owned();
        let result = self
            .mail
            .with_store(move |s| match on {
                true => s.subscribe_mailbox(account, &name),
                false => s.unsubscribe_mailbox(account, &name),
            })
            .await;
        if let Err(e) = result {
            return trouble(imap, tag, &e);
        }
        let verb = if on { "SUBSCRIBE" } else { "UNSUBSCRIBE" };
        imap.tagged_ok(tag, None, &format!("{verb} completed"));
    }

    /// LIST and LSUB (RFC 9051 §6.3.9, RFC 5258, RFC 5819, RFC 6154).
    pub(super) async fn list(&mut self, imap: &mut Server, tag: &Tag, list: &List) {
        let Some(account) = self.account_id() else {
            return;
        };
        let verb = if list.lsub { "LSUB" } else { "LIST" };
        // RFC 9051 §6.3.9: an empty pattern asks for the separator.
        if list.patterns.iter().all(String::is_empty) {
            imap.untagged(&format!("{verb} (\\Noselect) \"/\" \"\""));
            return imap.tagged_ok(tag, None, &format!("{verb} completed"));
        }
        let read = self
            .mail
            .with_store(move |s| Ok((s.mailboxes(account)?, s.subscriptions(account)?)))
            .await;
        let (boxes, subs): (Vec<Mailbox>, BTreeSet<String>) = match read {
            Ok((b, subs)) => (b, subs.into_iter().collect()),
            Err(e) => return trouble(imap, tag, &e),
        };
        let tree = Tree::new(&boxes, &subs);
        let patterns: Vec<String> = list
            .patterns
            .iter()
            .map(|p| format!("{}{p}", list.reference))
            .collect();
        let mut statuses = Vec::new();
        for name in tree.names() {
            if !patterns.iter().any(|p| matches(p, name)) {
                continue;
            }
            let node = &tree.nodes[name];
            let subscribed = node.subscribed;
            // RFC 5258 §3.5: with RECURSIVEMATCH, a name is also listed
            // for subscribed descendants the pattern does not reach, with
            // CHILDINFO saying so (only then: a descendant listed on its
            // own needs no mention).
            let childinfo = list.subscribed
                && list.recursive
                && tree
                    .subscribed_descendants(name)
                    .any(|d| !patterns.iter().any(|p| matches(p, d)));
            if (list.lsub || list.subscribed) && !subscribed && !childinfo {
                continue;
            }
            if list.special_use
                && node
                    .mailbox
                    .and_then(|m| m.special_use)
                    .and_then(SpecialUse::attribute)
                    .is_none()
            {
                continue;
            }
            if node.mailbox.is_none() && !list.lsub && !list.subscribed && !tree.has_children(name)
            {
                continue;
            }
            let attrs = tree.attributes(name, list.lsub, list.return_subscribed || list.subscribed);
            let mut d = Data::new();
            d.raw(verb)
                .raw(" (")
                .raw(&attrs.join(" "))
                .raw(") \"/\" ")
                .mailbox(name, imap.utf8());
            if childinfo {
                d.raw(" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            }
            imap.data(d);
            if let (Some(items), Some(mb)) = (&list.return_status, node.mailbox) {
                statuses.push((mb.clone(), items.clone()));
            }
        }
        for (mb, items) in statuses {
            let (id, recent) = (mb.id, items.contains(&StatusItem::Recent));
            match self
                .mail
                .with_store(move |s| read_status(s, id, recent))
                .await
            {
                Ok((msgs, mark)) => imap.data(status_data(&mb, &msgs, mark, &items, imap)),
                Err(e) => return trouble(imap, tag, &e),
            }
        }
        imap.tagged_ok(tag, None, &format!("{verb} completed"));
    }

    pub(super) async fn status(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        name: &str,
        items: &[StatusItem],
    ) {
        let Some(account) = self.account_id() else {
            return;
        };
        let owned = name.to_owned();
        let recent = items.contains(&StatusItem::Recent);
        let result = self
            .mail
            .with_store(move |s| match s.mailbox(account, &owned)? {
                Some(mb) => Ok(Some((read_status(s, mb.id, recent)?, mb))),
                None => Ok(None),
            })
            .await;
        match result {
            Ok(Some(((msgs, mark), mb))) => {
                imap.data(status_data(&mb, &msgs, mark, items, imap));
                imap.tagged_ok(tag, None, "STATUS completed");
            }
            Ok(None) => imap.tagged_no(tag, Some("NONEXISTENT"), "No such mailbox"),
            Err(e) => trouble(imap, tag, &e),
        }
    }

    /// APPEND (RFC 9051 §6.3.12), answered with APPENDUID (RFC 4315 §3)
    /// once the message is durable.
    pub(super) async fn append(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        name: &str,
        flag_names: &[String],
        date: Option<i64>,
        message: Vec<u8>,
    ) {
        let Some(account) = self.account_id() else {
            return;
        };
        let flags: Vec<Flag> = match flags::parse_all(flag_names) {
            Ok(f) => f,
            Err(e) => return imap.tagged_bad(tag, None, &e),
        };
        if message.is_empty() {
            return imap.tagged_no(tag, None, "Empty message");
        }
        let date = date.unwrap_or_else(now);
        let owned = name.to_owned();
        let result = self
            .mail
            .with_store(move |s| {
                let Some(mb) = s.mailbox(account, &owned)? else {
                    return Ok(None);
                };
                let uid = s.append(mb.id, &message, &flags, date)?;
                Ok(Some((mb.uid_validity, uid)))
            })
            .await;
        match result {
            Ok(Some((validity, uid))) => {
                // RFC 9051 §6.3.12: into the selected mailbox, EXISTS now.
                if self
                    .selected
                    .as_ref()
                    .is_some_and(|s| s.mailbox.name == name)
                {
                    self.report(imap, true).await;
                }
                let code = format!("APPENDUID {validity} {}", uid.0);
                imap.tagged_ok(tag, Some(&code), "APPEND completed");
            }
            Ok(None) => imap.tagged_no(tag, Some("TRYCREATE"), "No such mailbox"),
            Err(e) => trouble(imap, tag, &e),
        }
    }
}

impl ImapSession {
    /// GETQUOTA and GETQUOTAROOT (RFC 9208): one quota root, `""`, for
    /// the account's storage quota, if it has one. `mailbox` is set for
    /// GETQUOTAROOT, `root` for GETQUOTA.
    pub(super) async fn quota(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        root: Option<&str>,
        mailbox: Option<&str>,
    ) {
        let Some(account) = self.account_id() else {
            return;
        };
        let name = mailbox.map(str::to_owned);
        let result = self
            .mail
            .with_store(move |s| {
                if let Some(name) = &name {
                    if s.mailbox(account, name)?.is_none() {
                        return Ok(None);
                    }
                }
                let limit = s.account_by_id(account)?.map_or(0, |a| a.quota_bytes);
                let mut used = 0;
                for mb in s.mailboxes(account)? {
                    used += s.messages(mb.id)?.iter().map(|m| m.size).sum::<u64>();
                }
                Ok(Some((used, limit)))
            })
            .await;
        let (used, limit) = match result {
            Ok(Some(found)) => found,
            Ok(None) => return imap.tagged_no(tag, Some("NONEXISTENT"), "No such mailbox"),
            Err(e) => return trouble(imap, tag, &e),
        };
        if let Some(name) = mailbox {
            let mut d = Data::new();
            d.raw("QUOTAROOT ").mailbox(name, imap.utf8());
            if limit > 0 {
                d.raw(" \"\"");
            }
            imap.data(d);
        } else if root != Some("") || limit == 0 {
            return imap.tagged_no(tag, Some("NONEXISTENT"), "No such quota root");
        }
        if limit > 0 {
            // RFC 9208 §5.1: STORAGE in units of 1024 octets.
            let kib = |b: u64| b.div_ceil(1024);
            imap.untagged(&format!(
                "QUOTA \"\" (STORAGE {} {})",
                kib(used),
                kib(limit)
            ));
        }
        imap.tagged_ok(tag, None, "Quota reported");
    }
}

/// The server's clock, for APPEND without a date.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `CREATE ... (USE (\Attr))` names (RFC 6154 §2).
fn special_use(attr: &str) -> Option<SpecialUse> {
    SpecialUse::DEFAULTS
        .iter()
        .map(|(u, _)| *u)
        .find(|u| u.attribute().is_some_and(|a| a.eq_ignore_ascii_case(attr)))
}

/// What STATUS needs of a mailbox: its messages, and with RECENT its
/// recent mark (read, not claimed: STATUS changes nothing).
fn read_status(
    s: &dyn Store,
    mailbox: MailboxId,
    recent: bool,
) -> StoreResult<(Vec<MessageMeta>, Option<Uid>)> {
    let mark = recent.then(|| s.recent_mark(mailbox)).transpose()?;
    Ok((s.messages(mailbox)?, mark))
}

/// `* STATUS name (items)`. RECENT counts the messages a session
/// selecting the mailbox now would see \Recent (RFC 3501 §6.3.10): those
/// at or above `recent_mark`, which no session claimed yet.
pub(super) fn status_data(
    mb: &Mailbox,
    msgs: &[MessageMeta],
    recent_mark: Option<Uid>,
    items: &[StatusItem],
    imap: &Server,
) -> Data {
    let utf8 = imap.utf8();
    let mut d = Data::new();
    d.raw("STATUS ").mailbox(&mb.name, utf8).raw(" (");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            d.sp();
        }
        let has = |f: Flag| msgs.iter().filter(|m| m.flags.contains(&f)).count();
        let value: u64 = match item {
            StatusItem::Messages => msgs.len() as u64,
            StatusItem::Recent => {
                recent_mark.map_or(0, |mark| msgs.iter().filter(|m| m.uid >= mark).count()) as u64
            }
            StatusItem::UidNext => u64::from(mb.uid_next.0),
            StatusItem::UidValidity => u64::from(mb.uid_validity),
            StatusItem::Unseen => (msgs.len() - has(Flag::Seen)) as u64,
            StatusItem::Deleted => has(Flag::Deleted) as u64,
            StatusItem::Size => msgs.iter().map(|m| m.size).sum(),
            StatusItem::HighestModSeq => mb.highest_modseq.0.max(1),
            StatusItem::AppendLimit => u64::from(imap.append_limit()),
            _ => continue,
        };
        d.raw(item.name()).sp().num(value);
    }
    d.close();
    d
}

/// The mailbox hierarchy: every mailbox, its ancestors (which may not
/// exist), and subscribed names.
struct Tree<'a> {
    nodes: BTreeMap<&'a str, Node<'a>>,
}

#[derive(Default)]
struct Node<'a> {
    mailbox: Option<&'a Mailbox>,
    subscribed: bool,
}

impl<'a> Tree<'a> {
    fn new(boxes: &'a [Mailbox], subs: &'a BTreeSet<String>) -> Self {
        let mut nodes: BTreeMap<&'a str, Node<'a>> = BTreeMap::new();
        for mb in boxes {
            let mut name = mb.name.as_str();
            while let Some((parent, _)) = name.rsplit_once('/') {
                nodes.entry(parent).or_default();
                name = parent;
            }
            let subscribed = subs.contains(&mb.name);
            nodes.insert(
                &mb.name,
                Node {
                    mailbox: Some(mb),
                    subscribed,
                },
            );
        }
        for name in subs {
            nodes.entry(name).or_default().subscribed = true;
        }
        Self { nodes }
    }

    fn names(&self) -> impl Iterator<Item = &&'a str> {
        self.nodes.keys()
    }

    /// Whether a mailbox exists below `name`. The range starts at
    /// `name/`, not after `name`: `Work-x` sorts between `Work` and
    /// `Work/a` (`-` is below `/`).
    fn has_children(&self, name: &str) -> bool {
        let prefix = format!("{name}/");
        self.nodes
            .range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(n, _)| n.starts_with(&prefix))
            .any(|(_, node)| node.mailbox.is_some())
    }

    /// The subscribed names below `name`, at any depth.
    fn subscribed_descendants<'s>(&'s self, name: &str) -> impl Iterator<Item = &'a str> + 's {
        let prefix = format!("{name}/");
        self.nodes
            .range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(n, _)| n.starts_with(&prefix))
            .filter(|(_, node)| node.subscribed)
            .map(|(n, _)| *n)
    }

    /// CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154), \Subscribed and
    /// \NonExistent (RFC 5258).
    fn attributes(&self, name: &str, lsub: bool, subscribed: bool) -> Vec<&'static str> {
        let node = &self.nodes[name];
        let mut attrs = Vec::new();
        match node.mailbox {
            None if lsub => attrs.push("\\Noselect"),
            None => attrs.extend(["\\NonExistent", "\\Noselect"]),
            Some(mb) => attrs.extend(mb.special_use.and_then(SpecialUse::attribute)),
        }
        if !lsub {
            attrs.push(if self.has_children(name) {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            });
        }
        if subscribed && node.subscribed && !lsub {
            attrs.push("\\Subscribed");
        }
        attrs
    }
}

/// LIST pattern matching (RFC 9051 §6.3.9): `*` matches anything, `%`
/// anything but the separator. INBOX matches without case.
fn matches(pattern: &str, name: &str) -> bool {
    if name == "INBOX" && pattern.eq_ignore_ascii_case("INBOX") {
        return true;
    }
    glob(pattern.as_bytes(), name.as_bytes())
}

/// Longer patterns match nothing: matching costs pattern × name.
const MAX_PATTERN: usize = 1024;

/// Dynamic programming over (pattern prefix, name prefix): linear in each,
/// whatever the wildcards.
fn glob(p: &[u8], n: &[u8]) -> bool {
    if p.len() > MAX_PATTERN {
        return false;
    }
    let mut dp = vec![false; n.len() + 1];
    dp[0] = true;
    for &c in p {
        let mut next = vec![false; n.len() + 1];
        let mut any = false;
        for j in 0..=n.len() {
            next[j] = match c {
                b'*' => {
                    any |= dp[j];
                    any
                }
                b'%' => {
                    if j > 0 && n[j - 1] == b'/' {
                        any = false;
                    }
                    any |= dp[j];
                    any
                }
                _ => j > 0 && dp[j - 1] && n[j - 1] == c,
            };
        }
        dp = next;
    }
    dp[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches("*", "a/b"));
        assert!(matches("%", "a") && !matches("%", "a/b"));
        assert!(matches("a/%", "a/b") && !matches("a/%", "a/b/c"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("S*t", "Sent") && !matches("S*t", "Sends"));
        assert!(!matches(&"*a".repeat(600), "aaaa"));
        assert!(matches(&"*a".repeat(30), &"a".repeat(40)));
    }
}
