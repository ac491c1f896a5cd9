//! SORT and THREAD (RFC 5256): ordering and threading the messages a
//! search key selects.

use std::cmp::Ordering;
use std::collections::HashMap;

use postern_imap_proto::cmd::{SearchKey, SortKey, ThreadAlgorithm};
use postern_imap_proto::{Data, Server, Tag};
use postern_message::{header_value, Message};
use postern_store::MessageMeta;

use super::selected::trouble;
use super::ImapSession;

/// What ordering and threading look at, taken while the message is read.
#[derive(Debug, Default)]
struct Facts {
    /// The base subject (RFC 5256 §2.1), lower-cased.
    subject: String,
    /// The sent date, else the internal date (RFC 5256 §2.2).
    date: i64,
    arrival: i64,
    size: u64,
    /// The first address's mailbox, lower-cased (RFC 5256 §3).
    from: String,
    to: String,
    cc: String,
    message_id: Option<String>,
    /// References, then In-Reply-To: the possible parents, oldest first.
    parents: Vec<String>,
}

impl Facts {
    fn of(meta: &MessageMeta, m: Option<&Message<'_>>) -> Self {
        let Some(m) = m else {
            return Self::default();
        };
        let env = m.envelope();
        let first = |list: &[postern_message::Address]| {
            list.first()
                .and_then(|a| a.mailbox.as_deref())
                .map(|b| String::from_utf8_lossy(b).to_lowercase())
                .unwrap_or_default()
        };
        let subject = m
            .header_text("Subject")
            .into_iter()
            .next()
            .unwrap_or_default();
        let ids = |name| {
            header_value(m.header(), name)
                .map(|v| message_ids(&String::from_utf8_lossy(&v)))
                .unwrap_or_default()
        };
        let mut parents = ids("References");
        parents.extend(ids("In-Reply-To"));
        Self {
            subject: base_subject(&subject),
            date: m.sent_time().unwrap_or(meta.internal_date),
            arrival: meta.internal_date,
            size: meta.size,
            from: first(&env.from),
            to: first(&env.to),
            cc: first(&env.cc),
            message_id: ids("Message-ID").into_iter().next(),
            parents,
        }
    }

    fn compare(&self, other: &Self, key: SortKey) -> Ordering {
        match key {
            SortKey::Arrival => self.arrival.cmp(&other.arrival),
            SortKey::Cc => self.cc.cmp(&other.cc),
            SortKey::Date => self.date.cmp(&other.date),
            SortKey::From => self.from.cmp(&other.from),
            SortKey::Size => self.size.cmp(&other.size),
            SortKey::Subject => self.subject.cmp(&other.subject),
            SortKey::To => self.to.cmp(&other.to),
        }
    }
}

impl ImapSession {
    pub(super) async fn sort(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        uid: bool,
        criteria: &[(bool, SortKey)],
        key: &SearchKey,
    ) {
        let mut found = match self.matching(key, true, Facts::of).await {
            Ok(found) => found,
            Err(e) => return trouble(imap, tag, &e),
        };
        // RFC 5256 §3: ties fall back to the sequence number.
        found.sort_by(|(ia, a), (ib, b)| {
            criteria
                .iter()
                .map(|&(reverse, k)| {
                    let o = a.compare(b, k);
                    if reverse {
                        o.reverse()
                    } else {
                        o
                    }
                })
                .find(|o| o.is_ne())
                .unwrap_or_else(|| ia.cmp(ib))
        });
        let mut d = Data::new();
        d.raw("SORT");
        for (i, _) in &found {
            d.sp().num(self.number(*i, uid));
        }
        imap.data(d);
        imap.tagged_ok(tag, None, "SORT completed");
    }

    pub(super) async fn thread(
        &mut self,
        imap: &mut Server,
        tag: &Tag,
        uid: bool,
        algorithm: ThreadAlgorithm,
        key: &SearchKey,
    ) {
        let found = match self.matching(key, true, Facts::of).await {
            Ok(found) => found,
            Err(e) => return trouble(imap, tag, &e),
        };
        let numbers: Vec<u32> = found.iter().map(|(i, _)| self.number(*i, uid)).collect();
        let facts: Vec<Facts> = found.into_iter().map(|(_, f)| f).collect();
        let forest = match algorithm {
            ThreadAlgorithm::OrderedSubject => ordered_subject(&facts),
            ThreadAlgorithm::References => references(&facts),
        };
        let mut d = Data::new();
        d.raw("THREAD ");
        for root in &forest.roots {
            d.raw("(").raw(&forest.write(*root, &numbers)).raw(")");
        }
        imap.data(d);
        imap.tagged_ok(tag, None, "THREAD completed");
    }

    /// A message's number in a response: its UID or sequence number.
    fn number(&self, i: usize, uid: bool) -> u32 {
        match (uid, self.selected.as_ref()) {
            (true, Some(sel)) => sel.view.get(i).uid.0,
            _ => i as u32 + 1,
        }
    }
}

/// Threads over indices into the matched messages.
#[derive(Debug, Default)]
struct Forest {
    roots: Vec<usize>,
    children: HashMap<usize, Vec<usize>>,
}

impl Forest {
    /// `a b c` for a chain, `a (b)(c)` for siblings (RFC 5256 §4).
    /// Iterative: a thread may be as deep as the mailbox is long.
    fn write(&self, root: usize, numbers: &[u32]) -> String {
        let kids = |n: usize| self.children.get(&n).map_or(&[][..], Vec::as_slice);
        let mut out = String::new();
        // The sibling lists being written, with the one being written.
        let mut open: Vec<(&[usize], usize)> = Vec::new();
        let mut node = Some(root);
        loop {
            if let Some(n) = node {
                out.push_str(&numbers[n].to_string());
                node = match kids(n) {
                    [] => None,
                    [only] => {
                        out.push(' ');
                        Some(*only)
                    }
                    many => {
                        out.push_str(" (");
                        open.push((many, 0));
                        Some(many[0])
                    }
                };
                continue;
            }
            let Some((siblings, at)) = open.last_mut() else {
                return out;
            };
            out.push(')');
            *at += 1;
            if let Some(&next) = siblings.get(*at) {
                out.push('(');
                node = Some(next);
            } else {
                open.pop();
            }
        }
    }
}

/// ORDEREDSUBJECT (RFC 5256 §3): messages grouped by base subject, each
/// group sorted by date, the later ones children of the first; groups in
/// the order of their first message.
fn ordered_subject(facts: &[Facts]) -> Forest {
    let mut order: Vec<usize> = (0..facts.len()).collect();
    order.sort_by_key(|&i| (facts[i].date, i));
    let mut forest = Forest::default();
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    for i in order {
        match first_of.get(facts[i].subject.as_str()) {
            Some(&root) => forest.children.entry(root).or_default().push(i),
            None => {
                first_of.insert(&facts[i].subject, i);
                forest.roots.push(i);
            }
        }
    }
    forest
}

/// REFERENCES (RFC 5256 §3), simplified: a message's parent is the last
/// message it references (References, then In-Reply-To) among those
/// matched; the rest are roots, and roots with the same non-empty base
/// subject are gathered under the earliest (RFC 5256 step 5). Siblings
/// and roots are in date order. Missing messages are not kept as
/// placeholders.
fn references(facts: &[Facts]) -> Forest {
    let by_id: HashMap<&str, usize> = facts
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((f.message_id.as_deref()?, i)))
        .collect();
    let mut parent: Vec<Option<usize>> = vec![None; facts.len()];
    for (i, f) in facts.iter().enumerate() {
        let candidate = f
            .parents
            .iter()
            .rev()
            .find_map(|id| by_id.get(id.as_str()).copied());
        if let Some(p) = candidate.filter(|&p| p != i && !descends(&parent, p, i)) {
            parent[i] = Some(p);
        }
    }
    let mut order: Vec<usize> = (0..facts.len()).collect();
    order.sort_by_key(|&i| (facts[i].date, i));
    let mut forest = Forest::default();
    let mut by_subject: HashMap<&str, usize> = HashMap::new();
    for i in order {
        let subject = facts[i].subject.as_str();
        match parent[i] {
            Some(p) => forest.children.entry(p).or_default().push(i),
            None => match by_subject.get(subject).filter(|_| !subject.is_empty()) {
                Some(&root) => forest.children.entry(root).or_default().push(i),
                None => {
                    by_subject.insert(subject, i);
                    forest.roots.push(i);
                }
            },
        }
    }
    forest
}

/// Threads deeper than this start a new thread: the loop check below
/// walks up once per message, so it must stay short.
const MAX_THREAD_DEPTH: usize = 1000;

/// Whether `node` has `ancestor` above it (a link would make a loop), or
/// is already `MAX_THREAD_DEPTH` deep.
fn descends(parent: &[Option<usize>], node: usize, ancestor: usize) -> bool {
    if node == ancestor {
        return true;
    }
    let mut at = parent[node];
    let mut steps = 0;
    while let Some(p) = at {
        if p == ancestor || steps >= MAX_THREAD_DEPTH {
            return true;
        }
        at = parent[p];
        steps += 1;
    }
    false
}

/// `<id>` tokens of a References or In-Reply-To value.
fn message_ids(value: &str) -> Vec<String> {
    value
        .split('<')
        .skip(1)
        .filter_map(|s| s.split_once('>').map(|(id, _)| format!("<{id}>")))
        .collect()
}

/// The base subject (RFC 5256 §2.1): without `Re:`, `Fwd:`, `Fw:`,
/// leading `[blob]`s, trailing `(fwd)` and `[Fwd: ...]` wrappers, with
/// white space collapsed; lower-cased for comparison.
fn base_subject(subject: &str) -> String {
    let mut s = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        while s.to_lowercase().ends_with("(fwd)") {
            s.truncate(s.len() - 5);
            s = s.trim_end().to_owned();
        }
        let before = s.clone();
        loop {
            let stripped = strip_leader(&s);
            if stripped == s {
                break;
            }
            s = stripped;
        }
        let lower = s.to_lowercase();
        if lower.starts_with("[fwd:") && s.ends_with(']') {
            s = s[5..s.len() - 1].trim().to_owned();
        }
        if s == before {
            return s.to_lowercase();
        }
    }
}

/// One `subj-blob` or `subj-refwd` off the front, if any.
fn strip_leader(s: &str) -> String {
    let t = s.trim_start();
    let lower = t.to_ascii_lowercase();
    // A leading [blob], unless nothing would be left.
    if t.starts_with('[') {
        if let Some(end) = t.find(']') {
            let rest = t[end + 1..].trim_start();
            if !rest.is_empty() {
                return rest.to_owned();
            }
        }
    }
    for word in ["re", "fwd", "fw"] {
        if !lower.starts_with(word) {
            continue;
        }
        let mut rest = t[word.len()..].trim_start();
        if rest.starts_with('[') {
            if let Some(end) = rest.find(']') {
                rest = rest[end + 1..].trim_start();
            }
        }
        if let Some(after) = rest.strip_prefix(':') {
            return after.trim_start().to_owned();
        }
    }
    t.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_subjects() {
        for (raw, base) in [
            ("Re: hello", "hello"),
            ("RE: Fwd: [list] Re[2]: Hello  world (fwd)", "hello world"),
            ("[Fwd: Re: news]", "news"),
            ("[list]", "[list]"),
            ("Fw:", ""),
            ("Reply", "reply"),
        ] {
            assert_eq!(base_subject(raw), base, "{raw}");
        }
    }

    #[test]
    fn threads() {
        let f = |id: &str, parents: &[&str], date| Facts {
            message_id: Some(id.into()),
            parents: parents.iter().map(|p| (*p).to_owned()).collect(),
            date,
            subject: "s".into(),
            ..Facts::default()
        };
        let facts = vec![
            f("<a>", &[], 1),
            f("<b>", &["<a>"], 2),
            f("<c>", &["<a>", "<b>"], 3),
            f("<d>", &["<a>"], 4),
            f("<e>", &["<zz>"], 0),
        ];
        let forest = references(&facts);
        let numbers = [1, 2, 3, 4, 5];
        let text: Vec<String> = forest
            .roots
            .iter()
            .map(|&r| forest.write(r, &numbers))
            .collect();
        // <e> and <a> are roots with one subject: gathered under <e>.
        assert_eq!(text, vec!["5 1 (2 3)(4)"]);
        let forest = ordered_subject(&facts);
        let text: Vec<String> = forest
            .roots
            .iter()
            .map(|&r| forest.write(r, &numbers))
            .collect();
        assert_eq!(text, vec!["5 (1)(2)(3)(4)"]);
        assert_eq!(message_ids("<a@x> <b@y>"), vec!["<a@x>", "<b@y>"]);
        // A chain as long as a big mailbox, and nested branches.
        let mut deep = Forest::default();
        for i in 0..100_000 {
            deep.children.insert(i, vec![i + 1]);
        }
        let numbers: Vec<u32> = (1..=100_001).collect();
        assert!(deep.write(0, &numbers).ends_with(" 100000 100001"));
        let mut tree = Forest::default();
        tree.children.insert(0, vec![1, 2]);
        tree.children.insert(1, vec![3, 4]);
        tree.children.insert(4, vec![5]);
        assert_eq!(tree.write(0, &[1, 2, 3, 4, 5, 6]), "1 (2 (4)(5 6))(3)");
    }
}
