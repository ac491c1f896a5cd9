//! SORT and THREAD (RFC 5256): ordering and threading the messages a
//! search key selects.

use std::cmp::Ordering;
use std::collections::HashMap;

use postern_imap_proto::cmd::{SearchKey, SortKey, ThreadAlgorithm};
use postern_imap_proto::{Data, Server, Tag};
use postern_message::{header_value, Message};
use postern_store::MessageMeta;

use super::selected::trouble;
use super::thread::{self, Threadable, Threads};
use super::ImapSession;

/// What ordering and threading look at, taken while the message is read.
#[derive(Debug, Default)]
struct Facts {
    /// The base subject (RFC 5256 §2.1), lower-cased.
    subject: String,
    /// Extracting the base subject removed a reply or forward marker.
    reply: bool,
    /// The sent date, else the internal date (RFC 5256 §2.2).
    date: i64,
    arrival: i64,
    size: u64,
    /// The first address's mailbox, lower-cased (RFC 5256 §3).
    from: String,
    to: String,
    cc: String,
    message_id: Option<String>,
    /// The References, oldest first; without any, the first message ID
    /// of In-Reply-To (RFC 5256 §3 step 1.A).
    references: Vec<String>,
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
        let mut references = ids("References");
        if references.is_empty() {
            references.extend(ids("In-Reply-To").into_iter().take(1));
        }
        let (subject, reply) = base_subject(&subject);
        Self {
            subject,
            reply,
            date: m.sent_time().unwrap_or(meta.internal_date),
            arrival: meta.internal_date,
            size: meta.size,
            from: first(&env.from),
            to: first(&env.to),
            cc: first(&env.cc),
            message_id: ids("Message-ID").into_iter().next(),
            references,
        }
    }

    fn threadable(self) -> Threadable {
        Threadable {
            message_id: self.message_id,
            references: self.references,
            date: self.date,
            subject: self.subject,
            reply: self.reply,
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
        let mut d = Data::new();
        d.raw("THREAD ");
        let threads = match algorithm {
            ThreadAlgorithm::OrderedSubject => ordered_subject(&facts),
            ThreadAlgorithm::References => {
                let messages: Vec<Threadable> = facts.into_iter().map(Facts::threadable).collect();
                thread::references(&messages)
            }
        };
        d.raw(&threads.write(&numbers));
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

/// ORDEREDSUBJECT (RFC 5256 §3): messages grouped by base subject, each
/// group sorted by date, the later ones children of the first; groups in
/// the order of their first message.
fn ordered_subject(facts: &[Facts]) -> Threads {
    let mut order: Vec<usize> = (0..facts.len()).collect();
    order.sort_by_key(|&i| (facts[i].date, i));
    let (mut roots, mut children) = (Vec::new(), HashMap::<usize, Vec<usize>>::new());
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    for i in order {
        match first_of.get(facts[i].subject.as_str()) {
            Some(&root) => children.entry(root).or_default().push(i),
            None => {
                first_of.insert(&facts[i].subject, i);
                roots.push(i);
            }
        }
    }
    Threads::from_links(facts.len(), roots, children)
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
/// white space collapsed; lower-cased for comparison. The flag says
/// whether a reply or forward marker went (RFC 5256 §3 step 5 needs it).
fn base_subject(subject: &str) -> (String, bool) {
    let mut s = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut reply = false;
    loop {
        while s.to_lowercase().ends_with("(fwd)") {
            s.truncate(s.len() - 5);
            s = s.trim_end().to_owned();
            reply = true;
        }
        let before = s.clone();
        loop {
            let (stripped, marker) = strip_leader(&s);
            if stripped == s {
                break;
            }
            reply |= marker;
            s = stripped;
        }
        let lower = s.to_lowercase();
        if lower.starts_with("[fwd:") && s.ends_with(']') {
            s = s[5..s.len() - 1].trim().to_owned();
            reply = true;
        }
        if s == before {
            return (s.to_lowercase(), reply);
        }
    }
}

/// One `subj-blob` or `subj-refwd` off the front, if any; the flag says
/// it was a `subj-refwd` (a reply or forward marker).
fn strip_leader(s: &str) -> (String, bool) {
    let t = s.trim_start();
    let lower = t.to_ascii_lowercase();
    // A leading [blob], unless nothing would be left.
    if t.starts_with('[') {
        if let Some(end) = t.find(']') {
            let rest = t[end + 1..].trim_start();
            if !rest.is_empty() {
                return (rest.to_owned(), false);
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
            return (after.trim_start().to_owned(), true);
        }
    }
    (t.to_owned(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_subjects() {
        for (raw, base, reply) in [
            ("Re: hello", "hello", true),
            (
                "RE: Fwd: [list] Re[2]: Hello  world (fwd)",
                "hello world",
                true,
            ),
            ("[Fwd: Re: news]", "news", true),
            ("[list] news", "news", false),
            ("[list]", "[list]", false),
            ("Fw:", "", true),
            ("Reply", "reply", false),
            ("hello (fwd)", "hello", true),
        ] {
            assert_eq!(base_subject(raw), (base.to_owned(), reply), "{raw}");
        }
    }

    #[test]
    fn ordered_subject_and_writing() {
        let f = |subject: &str, date| Facts {
            subject: subject.into(),
            date,
            ..Facts::default()
        };
        let facts = vec![f("s", 1), f("s", 2), f("t", 3), f("s", 4), f("s", 0)];
        let numbers = [1, 2, 3, 4, 5];
        assert_eq!(ordered_subject(&facts).write(&numbers), "(5 (1)(2)(4))(3)");
        assert_eq!(message_ids("<a@x> <b@y>"), vec!["<a@x>", "<b@y>"]);
        // Nested branches, as linked.
        let children = HashMap::from([(0, vec![1, 2]), (1, vec![3, 4]), (4, vec![5])]);
        let tree = Threads::from_links(6, vec![0], children);
        assert_eq!(tree.write(&[1, 2, 3, 4, 5, 6]), "(1 (2 (4)(5 6))(3))");
    }
}
