//! THREAD=REFERENCES (RFC 5256 §3): the threading algorithm in full, with
//! the placeholder ("dummy") messages it keeps for references to messages
//! the mailbox does not hold. Pure; the session gathers the facts.

use std::collections::HashMap;

/// What threading needs of one message. Index order is the order of the
/// sequence numbers (the tie-breaker of every sort below).
#[derive(Debug, Default, Clone)]
pub(super) struct Threadable {
    /// The Message-ID, `<...>`, if it has a valid one.
    pub message_id: Option<String>,
    /// Its References, oldest first; or, without any, the first message
    /// ID of In-Reply-To (RFC 5256 §3 step 1.A).
    pub references: Vec<String>,
    /// The sent date (RFC 5256 §2.2).
    pub date: i64,
    /// The base subject (RFC 5256 §2.1).
    pub subject: String,
    /// The base subject extraction removed a reply or forward marker
    /// (`Re:`, `Fwd:`, `(fwd)`, `[Fwd: ...]`).
    pub reply: bool,
}

/// A node of the thread forest: a message or a placeholder.
#[derive(Debug, Clone)]
struct Container {
    message: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// The threads, as containers; placeholders are left only where RFC 5256
/// step 3 keeps them (roots with several children).
#[derive(Debug)]
pub(super) struct Threads {
    nodes: Vec<Container>,
    roots: Vec<usize>,
}

/// How far the loop check walks up before it refuses a link: a link
/// needs one walk per reference, so the walk must stay short (a thread
/// deeper than this starts a new one).
const MAX_DEPTH: usize = 1000;

/// RFC 5256 §3, REFERENCES.
pub(super) fn references(messages: &[Threadable]) -> Threads {
    let mut t = Threads {
        nodes: Vec::with_capacity(messages.len()),
        roots: Vec::new(),
    };
    t.link(messages);
    // Step 2: the root set, in the order the containers were made.
    t.roots = (0..t.nodes.len())
        .filter(|&c| t.nodes[c].parent.is_none())
        .collect();
    // Step 3: placeholders go, except roots that gather several threads.
    let roots = std::mem::take(&mut t.roots);
    t.roots = t.prune(roots, None);
    // Step 4: siblings by date, then the root set.
    t.sort_all(messages);
    t.group_by_subject(messages);
    // Step 6: every set of siblings by date, the deepest first.
    t.sort_all(messages);
    t
}

impl Threads {
    /// Step 1: link each message under the last of its references, and
    /// the references to each other.
    fn link(&mut self, messages: &[Threadable]) {
        let mut by_id: HashMap<&str, usize> = HashMap::new();
        for (i, m) in messages.iter().enumerate() {
            // Its own container: the placeholder an earlier message's
            // reference made, else a new one. A repeated Message-ID
            // counts only for the first message that has it.
            let own = match m.message_id.as_deref() {
                Some(id) => match by_id.get(id) {
                    Some(&c) if self.nodes[c].message.is_none() => {
                        self.nodes[c].message = Some(i);
                        c
                    }
                    Some(_) => self.add(Some(i)),
                    None => {
                        let c = self.add(Some(i));
                        by_id.insert(id, c);
                        c
                    }
                },
                None => self.add(Some(i)),
            };
            let chain: Vec<usize> = m
                .references
                .iter()
                .map(|id| match by_id.get(id.as_str()) {
                    Some(&c) => c,
                    None => {
                        let c = self.add(None);
                        by_id.insert(id, c);
                        c
                    }
                })
                .collect();
            // Step 1.A: each reference the parent of the next, where the
            // next has no parent yet and no loop would be made.
            for pair in chain.windows(2) {
                let (parent, child) = (pair[0], pair[1]);
                if self.nodes[child].parent.is_none() && !self.would_loop(parent, child) {
                    self.set_parent(child, Some(parent));
                }
            }
            // Step 1.B: the message goes under its last reference (or to
            // the root), replacing any link an earlier message made.
            let last = chain.last().copied();
            self.set_parent(own, None);
            if let Some(parent) = last.filter(|&p| !self.would_loop(p, own)) {
                self.set_parent(own, Some(parent));
            }
        }
    }

    fn add(&mut self, message: Option<usize>) -> usize {
        self.nodes.push(Container {
            message,
            parent: None,
            children: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Whether `parent` is `child` or below it (or too deep to tell).
    fn would_loop(&self, parent: usize, child: usize) -> bool {
        let mut at = Some(parent);
        let mut steps = 0;
        while let Some(c) = at {
            if c == child || steps > MAX_DEPTH {
                return true;
            }
            at = self.nodes[c].parent;
            steps += 1;
        }
        false
    }

    fn set_parent(&mut self, child: usize, parent: Option<usize>) {
        if let Some(old) = self.nodes[child].parent.take() {
            self.nodes[old].children.retain(|&c| c != child);
        }
        if let Some(p) = parent {
            self.nodes[child].parent = Some(p);
            self.nodes[p].children.push(child);
        }
    }

    /// Step 3 over one set of siblings under `parent` (`None`: the root
    /// set): a placeholder without children goes; one with children gives
    /// them to its own level, except at the root where it stays if it has
    /// more than one.
    fn prune(&mut self, siblings: Vec<usize>, parent: Option<usize>) -> Vec<usize> {
        let mut kept = Vec::with_capacity(siblings.len());
        for c in siblings {
            let children = std::mem::take(&mut self.nodes[c].children);
            let children = self.prune(children, Some(c));
            let placeholder = self.nodes[c].message.is_none();
            if placeholder && (parent.is_some() || children.len() <= 1) {
                for &k in &children {
                    self.nodes[k].parent = parent;
                }
                kept.extend(children);
            } else {
                self.nodes[c].children = children;
                kept.push(c);
            }
        }
        kept
    }

    /// The date a container sorts by: its message's, or a placeholder's
    /// first child's; ties by sequence number.
    fn sort_key(&self, c: usize, messages: &[Threadable]) -> (i64, usize) {
        match self.first_message(c) {
            Some(m) => (messages[m].date, m),
            None => (i64::MIN, 0),
        }
    }

    /// The message of `c`, or of its first child for a placeholder.
    fn first_message(&self, c: usize) -> Option<usize> {
        let node = &self.nodes[c];
        node.message
            .or_else(|| node.children.first().and_then(|&k| self.nodes[k].message))
    }

    /// Sorts every set of siblings by date, children before parents (a
    /// placeholder sorts by its first child, which must be sorted first).
    fn sort_all(&mut self, messages: &[Threadable]) {
        // Post-order without recursion: parents after their children.
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<usize> = self.roots.clone();
        while let Some(c) = stack.pop() {
            order.push(c);
            stack.extend(self.nodes[c].children.iter().copied());
        }
        for &c in order.iter().rev() {
            let mut children = std::mem::take(&mut self.nodes[c].children);
            children.sort_by_key(|&k| self.sort_key(k, messages));
            self.nodes[c].children = children;
        }
        let mut roots = std::mem::take(&mut self.roots);
        roots.sort_by_key(|&k| self.sort_key(k, messages));
        self.roots = roots;
    }

    /// Step 5: roots with the same base subject are gathered.
    fn group_by_subject(&mut self, messages: &[Threadable]) {
        let subject_of = |t: &Self, c: usize| t.first_message(c).map(|m| &messages[m]);
        let is_reply = |t: &Self, c: usize| t.nodes[c].message.is_some_and(|m| messages[m].reply);
        // 5.A: per subject, the root that stands for it: a placeholder
        // before a message, a message before a reply.
        let mut table: HashMap<&str, usize> = HashMap::new();
        for &r in &self.roots {
            let Some(m) = subject_of(self, r).filter(|m| !m.subject.is_empty()) else {
                continue;
            };
            match table.get(m.subject.as_str()) {
                None => {
                    table.insert(&m.subject, r);
                }
                Some(&e) => {
                    let dummy = |c: usize| self.nodes[c].message.is_none();
                    if (!dummy(e) && dummy(r)) || (is_reply(self, e) && !is_reply(self, r)) {
                        table.insert(&m.subject, r);
                    }
                }
            }
        }
        // 5.B: every other root with that subject joins it.
        let roots = std::mem::take(&mut self.roots);
        let mut kept: Vec<usize> = Vec::with_capacity(roots.len());
        let mut replaced: HashMap<usize, usize> = HashMap::new();
        for r in roots {
            let Some(m) = subject_of(self, r).filter(|m| !m.subject.is_empty()) else {
                kept.push(r);
                continue;
            };
            let e = table[m.subject.as_str()];
            if e == r {
                kept.push(replaced.get(&r).copied().unwrap_or(r));
                continue;
            }
            let (e_dummy, r_dummy) = (
                self.nodes[e].message.is_none(),
                self.nodes[r].message.is_none(),
            );
            if e_dummy && r_dummy {
                for k in std::mem::take(&mut self.nodes[r].children) {
                    self.nodes[k].parent = Some(e);
                    self.nodes[e].children.push(k);
                }
            } else if e_dummy || (is_reply(self, r) && !is_reply(self, e)) {
                self.set_parent(r, Some(e));
            } else {
                // Neither is a reply of the other: both go under a new
                // placeholder, which takes the table's place.
                let d = self.add(None);
                self.set_parent(e, Some(d));
                self.set_parent(r, Some(d));
                table.insert(&m.subject, d);
                replaced.insert(e, d);
                // The root kept for `e`, if already passed, becomes `d`.
                for k in &mut kept {
                    if *k == e {
                        *k = d;
                    }
                }
            }
        }
        self.roots = kept;
    }

    /// Threads over `count` messages, each its own container, linked as
    /// given (ORDEREDSUBJECT's: no placeholders, no further sorting).
    pub(super) fn from_links(
        count: usize,
        roots: Vec<usize>,
        children: HashMap<usize, Vec<usize>>,
    ) -> Self {
        let mut nodes: Vec<Container> = (0..count)
            .map(|m| Container {
                message: Some(m),
                parent: None,
                children: Vec::new(),
            })
            .collect();
        for (parent, kids) in children {
            for &k in &kids {
                nodes[k].parent = Some(parent);
            }
            nodes[parent].children = kids;
        }
        Self { nodes, roots }
    }

    /// The THREAD response's threads: `(1 2 (3)(4))` each, placeholders
    /// written as their children's lists (RFC 5256 §4: `thread-nested`).
    pub(super) fn write(&self, numbers: &[u32]) -> String {
        let mut out = String::new();
        for &r in &self.roots {
            out.push('(');
            self.write_one(r, numbers, &mut out);
            out.push(')');
        }
        out
    }

    /// One thread, without its outer parentheses. Iterative: a chain may
    /// be as long as the mailbox.
    fn write_one(&self, root: usize, numbers: &[u32], out: &mut String) {
        // The sibling lists being written, with the one being written.
        let mut open: Vec<(&[usize], usize)> = Vec::new();
        let mut node = Some(root);
        loop {
            if let Some(n) = node {
                let kids = self.nodes[n].children.as_slice();
                node = match self.nodes[n].message {
                    Some(m) => {
                        out.push_str(&numbers[m].to_string());
                        match kids {
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
                        }
                    }
                    // A placeholder is only its children, each a list.
                    None => match kids {
                        [] => None,
                        many => {
                            out.push('(');
                            open.push((many, 0));
                            Some(many[0])
                        }
                    },
                };
                continue;
            }
            let Some((siblings, at)) = open.last_mut() else {
                return;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, refs: &[&str], date: i64, subject: &str) -> Threadable {
        Threadable {
            message_id: (!id.is_empty()).then(|| id.to_owned()),
            references: refs.iter().map(|r| (*r).to_owned()).collect(),
            date,
            subject: subject.to_owned(),
            reply: false,
        }
    }

    fn thread(messages: &[Threadable]) -> String {
        let numbers: Vec<u32> = (1..=messages.len() as u32).collect();
        references(messages).write(&numbers)
    }

    #[test]
    fn replies_nest_under_what_they_reference() {
        let m = [
            msg("<a>", &[], 1, "a"),
            msg("<b>", &["<a>"], 2, "b"),
            msg("<c>", &["<a>", "<b>"], 3, "c"),
            msg("<d>", &["<a>"], 4, "d"),
        ];
        assert_eq!(thread(&m), "(1 (2 3)(4))");
    }

    #[test]
    fn a_missing_parent_is_a_placeholder_at_the_root() {
        // Two replies to a message the mailbox does not hold: one thread
        // of two sibling lists (RFC 5256 §4's thread-nested).
        let m = [
            msg("<b>", &["<gone>"], 2, "x"),
            msg("<c>", &["<gone>"], 3, "y"),
            msg("<z>", &[], 1, "z"),
        ];
        assert_eq!(thread(&m), "(3)((1)(2))");
        // One reply only: the placeholder goes, the reply is a root.
        let m = [msg("<b>", &["<gone>"], 2, "x")];
        assert_eq!(thread(&m), "(1)");
    }

    #[test]
    fn placeholders_inside_a_thread_give_way_to_their_children() {
        // <c> references <a> through <missing>: it goes under <a>.
        let m = [
            msg("<a>", &[], 1, "a"),
            msg("<c>", &["<a>", "<missing>"], 2, "c"),
        ];
        assert_eq!(thread(&m), "(1 2)");
    }

    #[test]
    fn same_subject_roots_gather() {
        // Two unrelated messages with one subject: under a placeholder.
        let m = [msg("<a>", &[], 1, "lunch"), msg("<b>", &[], 2, "lunch")];
        assert_eq!(thread(&m), "((1)(2))");
        // A reply-by-subject goes under the original.
        let mut reply = msg("<b>", &[], 2, "lunch");
        reply.reply = true;
        let m = [msg("<a>", &[], 1, "lunch"), reply];
        assert_eq!(thread(&m), "(1 2)");
        // The original stands for the subject even when the reply came
        // first.
        let mut reply = msg("<a>", &[], 1, "lunch");
        reply.reply = true;
        let m = [reply, msg("<b>", &[], 2, "lunch")];
        assert_eq!(thread(&m), "(2 1)");
        // A placeholder root takes in a message root of its subject.
        let m = [
            msg("<b>", &["<gone>"], 2, "x"),
            msg("<c>", &["<gone>"], 3, "x"),
            msg("<z>", &[], 1, "x"),
        ];
        assert_eq!(thread(&m), "((3)(1)(2))");
        // Empty subjects never gather.
        let m = [msg("<a>", &[], 1, ""), msg("<b>", &[], 2, "")];
        assert_eq!(thread(&m), "(1)(2)");
    }

    #[test]
    fn siblings_and_threads_by_date() {
        let m = [
            msg("<a>", &[], 5, "a"),
            msg("<b>", &["<a>"], 9, "b"),
            msg("<c>", &["<a>"], 7, "c"),
            msg("<d>", &[], 1, "d"),
        ];
        assert_eq!(thread(&m), "(4)(1 (3)(2))");
    }

    #[test]
    fn loops_and_repeated_ids_do_not_hang_or_lose_messages() {
        // <a> claims to reply to <b>, <b> to <a>.
        let m = [
            msg("<a>", &["<b>"], 1, "a"),
            msg("<b>", &["<a>"], 2, "b"),
            msg("<a>", &[], 3, "c"),
            msg("", &["<a>", "<a>"], 4, "d"),
        ];
        let text = thread(&m);
        for n in ["1", "2", "3", "4"] {
            assert_eq!(text.matches(n).count(), 1, "{text}");
        }
    }

    #[test]
    fn a_chain_as_long_as_a_big_mailbox() {
        // Distinct subjects, so that the pieces are not gathered again.
        let mut m = vec![msg("<0>", &[], 0, "s0")];
        for i in 1..20_000 {
            let parent = format!("<{}>", i - 1);
            m.push(msg(&format!("<{i}>"), &[&parent], i, &format!("s{i}")));
        }
        let text = thread(&m);
        assert!(text.starts_with("(1 2 3 "), "{}", &text[..20]);
        // The chain is cut into threads of at most MAX_DEPTH + 2 levels,
        // each message once.
        let mut numbers: Vec<u32> = text
            .split([' ', '(', ')'])
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=20_000).collect::<Vec<u32>>());
    }
}
