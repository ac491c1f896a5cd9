//! Drives a sans-I/O core the way `server::driver::drive` and
//! `server::conn` do, and checks what every core promises:
//!
//! - `next()` always comes back to `NeedMoreInput` (no endless loop);
//! - STARTTLS: `start_tls` succeeds exactly when no byte is buffered (bytes
//!   pipelined after the command are never executed, CVE-2011-0411), and
//!   the new machine says nothing until the client speaks;
//! - a finished or failed machine produces no further event or output;
//! - split invariance: when no STARTTLS happened, the output does not
//!   depend on how the input was cut into reads (when one did, the output
//!   up to the go-ahead does not).
//!
//! The first two input bytes are the plan, the rest is what the client
//! sends: byte 0 picks how the payload is cut into reads (bits 0-1),
//! whether the server says goodbye at the end (bits 2-3: no, shutdown,
//! timeout, session too long) and a target-specific variant (bit 4);
//! byte 1 parametrises the cutting.

use postern_types::{Goodbye, Interrupt, Io, Protocol, TlsInfo};

use crate::rng::Rng;

/// `next()` calls one input may take; far above what 256 KiB can need.
const MAX_STEPS: usize = 10_000_000;

/// Reads per session: enough to cut anywhere near the limits, few enough
/// to keep an input's run in milliseconds.
const MAX_READS: usize = 4096;

/// What the session logic tells the driver after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    Continue,
    /// The STARTTLS go-ahead is queued: flush, then upgrade.
    StartTls,
}

/// The session side of a target: answers events and checks them.
pub(crate) trait Harness {
    type P: Protocol;

    /// Checks an event against the machine's state, then answers it through
    /// the intent methods.
    fn on_event(&mut self, p: &mut Self::P, event: <Self::P as Protocol>::Event) -> After;

    /// Checks the machine's buffers after input went in or was consumed.
    fn check_buffers(&self, p: &Self::P);

    /// Checks a machine fresh from `start_tls`.
    fn check_upgraded(&mut self, _p: &Self::P) {}
}

/// How one input is played: the plan header and the client's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan<'a> {
    header: [u8; 2],
    pub(crate) payload: &'a [u8],
}

impl<'a> Plan<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        let header = [
            input.first().copied().unwrap_or(0),
            input.get(1).copied().unwrap_or(0),
        ];
        Self {
            header,
            payload: input.get(2..).unwrap_or_default(),
        }
    }

    /// The target-specific variant bit.
    pub(crate) const fn variant(&self) -> bool {
        self.header[0] & 0x10 != 0
    }

    pub(crate) const fn goodbye(&self) -> Option<Goodbye> {
        match (self.header[0] >> 2) & 3 {
            0 => None,
            1 => Some(Goodbye::Shutdown),
            2 => Some(Goodbye::Timeout),
            _ => Some(Goodbye::SessionTooLong),
        }
    }

    /// The reads the payload arrives in.
    pub(crate) fn reads(&self) -> Vec<&'a [u8]> {
        let [a, b] = self.header;
        let mut rng = Rng::new(u64::from(a) << 8 | u64::from(b));
        let (mut rest, mut reads) = (self.payload, Vec::new());
        while !rest.is_empty() {
            let n = match a & 3 {
                // At most MAX_READS reads: the rest comes in the last one.
                _ if reads.len() + 1 == MAX_READS => rest.len(),
                0 => rest.len(),
                // Tiny reads through the first 2 KiB, then the rest at once.
                1 if self.payload.len() - rest.len() < 2048 => rng.range(1, 4),
                1 => rest.len(),
                2 => rng.range(1, 1 << (b % 18)),
                _ => usize::from(b) + 1,
            };
            let (read, tail) = rest.split_at(n.min(rest.len()));
            reads.push(read);
            rest = tail;
        }
        reads
    }
}

/// Each session as seeds: read at once, in tiny reads, and in 64-octet
/// reads.
pub(crate) fn with_plans(sessions: &[&[u8]]) -> Vec<Vec<u8>> {
    let plans: [&[u8]; 3] = [&[0, 0], &[1, 9], &[3, 63]];
    sessions
        .iter()
        .flat_map(|s| plans.iter().map(move |p| [*p, *s].concat()))
        .collect()
}

/// What a session said.
#[derive(Debug, Default)]
pub(crate) struct Transcript {
    pub(crate) output: Vec<u8>,
    /// Output length when a STARTTLS go-ahead was flushed, if one was.
    pub(crate) starttls_at: Option<usize>,
}

/// Plays `plan` cut as it says, and when the cut is not a single read,
/// again in one read, asserting split invariance. `make` builds a fresh
/// session and machine.
pub(crate) fn play<H: Harness>(plan: &Plan<'_>, make: impl Fn() -> (H, H::P)) -> Transcript {
    play_with(plan, make, true)
}

/// [`play`], with the split-invariance check only if `split_check`.
pub(crate) fn play_with<H: Harness>(
    plan: &Plan<'_>,
    make: impl Fn() -> (H, H::P),
    split_check: bool,
) -> Transcript {
    let reads = plan.reads();
    let (mut h, p) = make();
    let cut = run(&mut h, p, &reads, plan.goodbye());
    if split_check && reads.len() > 1 {
        let (mut h, p) = make();
        let whole = run(&mut h, p, &[plan.payload], plan.goodbye());
        same_output(&cut, &whole);
    }
    cut
}

fn same_output(cut: &Transcript, whole: &Transcript) {
    assert_eq!(
        cut.starttls_at.is_some(),
        whole.starttls_at.is_some(),
        "split invariance: STARTTLS accepted in one way of reading the input only"
    );
    let a = &cut.output[..cut.starttls_at.unwrap_or(cut.output.len())];
    let b = &whole.output[..whole.starttls_at.unwrap_or(whole.output.len())];
    if a != b {
        panic!(
            "split invariance: the output depends on how the input was cut into reads\n{}",
            difference(a, b)
        );
    }
}

/// Where two outputs part, with some context.
pub(crate) fn difference(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let from = at.saturating_sub(120);
    let show = |s: &[u8]| excerpt(&s[from.min(s.len())..(at + 120).min(s.len())]);
    format!(
        "  first difference at byte {at} (lengths {} and {})\n  read in pieces: {}\n  read at once:   {}",
        a.len(),
        b.len(),
        show(a),
        show(b)
    )
}

/// Bytes for a panic message: escaped, cut to a readable length.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let shown: String = bytes
        .iter()
        .take(300)
        .flat_map(|b| b.escape_ascii())
        .map(char::from)
        .collect();
    match bytes.len() > 300 {
        true => format!("\"{shown}\"... ({} bytes)", bytes.len()),
        false => format!("\"{shown}\""),
    }
}

/// One session: the reads go in one by one, the core is run after each.
fn run<H: Harness>(
    h: &mut H,
    mut p: H::P,
    reads: &[&[u8]],
    goodbye: Option<Goodbye>,
) -> Transcript {
    let mut t = Transcript::default();
    let mut flow = pump(h, &mut p, &mut t);
    let mut reads = reads.iter();
    loop {
        match flow {
            Flow::Closed => {
                after_end(&mut p);
                return t;
            }
            Flow::StartTls => {
                t.starttls_at.get_or_insert(t.output.len());
                match upgrade(h, p) {
                    Some(next) => p = next,
                    None => return t,
                }
                flow = Flow::More;
            }
            Flow::More => {
                let Some(read) = reads.next() else { break };
                p.enqueue_input(read);
                h.check_buffers(&p);
                flow = pump(h, &mut p, &mut t);
                h.check_buffers(&p);
            }
        }
    }
    if let Some(why) = goodbye {
        p.goodbye(why);
        assert!(p.is_finished(), "not finished after goodbye({why:?})");
        flush(&mut p, &mut t);
        after_end(&mut p);
    }
    t
}

/// `server::conn`: refuse when plain text was pipelined, else upgrade.
fn upgrade<H: Harness>(h: &mut H, p: H::P) -> Option<H::P> {
    let buffered = p.buffered_input_len();
    match p.start_tls(TlsInfo::default()) {
        Ok(mut next) => {
            assert_eq!(
                buffered, 0,
                "start_tls accepted with {buffered} plain-text bytes pipelined after STARTTLS"
            );
            if let Some(out) = next.take_output() {
                panic!(
                    "a machine fresh from start_tls speaks first: {}",
                    excerpt(&out)
                );
            }
            h.check_upgraded(&next);
            Some(next)
        }
        Err(e) => {
            assert!(buffered > 0, "start_tls refused with nothing buffered");
            assert_eq!(
                e.bytes, buffered,
                "start_tls misreports the pipelined bytes"
            );
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    More,
    StartTls,
    Closed,
}

/// Runs the core until it needs input, ends, or a STARTTLS was accepted.
fn pump<H: Harness>(h: &mut H, p: &mut H::P, t: &mut Transcript) -> Flow {
    for _ in 0..MAX_STEPS {
        match p.next() {
            Ok(event) => {
                if h.on_event(p, event) == After::StartTls {
                    flush(p, t);
                    return Flow::StartTls;
                }
            }
            Err(Interrupt::Io(Io::Output(bytes))) => {
                assert!(!bytes.is_empty(), "Io::Output with no bytes");
                t.output.extend(bytes);
            }
            Err(Interrupt::Io(Io::NeedMoreInput)) if p.is_finished() => return Flow::Closed,
            Err(Interrupt::Io(Io::NeedMoreInput)) => return Flow::More,
            Err(Interrupt::Error(_)) => {
                flush(p, t);
                return Flow::Closed;
            }
        }
    }
    panic!("next() did not settle in {MAX_STEPS} steps");
}

fn flush<P: Protocol>(p: &mut P, t: &mut Transcript) {
    while let Some(bytes) = p.take_output() {
        t.output.extend(bytes);
    }
}

/// A finished or failed machine ignores whatever else arrives.
fn after_end<P: Protocol>(p: &mut P) {
    p.enqueue_input(b"NOOP\r\nA1 NOOP\r\nCAPA\r\nGET / HTTP/1.1\r\n\r\n");
    for _ in 0..4 {
        match p.next() {
            Ok(_) => panic!("an event after the session ended"),
            Err(Interrupt::Io(Io::Output(out))) => {
                panic!("output after the session ended: {}", excerpt(&out))
            }
            Err(Interrupt::Io(Io::NeedMoreInput)) => return,
            Err(Interrupt::Error(_)) => {}
        }
    }
}

/// The output as CRLF-terminated UTF-8 lines, with no CR or LF inside a
/// line (which would let text forge a further reply).
pub(crate) fn crlf_lines(out: &[u8]) -> Vec<&str> {
    let text = std::str::from_utf8(out)
        .unwrap_or_else(|e| panic!("output is not UTF-8 ({e}): {}", excerpt(out)));
    if text.is_empty() {
        return Vec::new();
    }
    let Some(body) = text.strip_suffix("\r\n") else {
        panic!("output does not end with CRLF: {}", excerpt(out));
    };
    body.split("\r\n")
        .inspect(|line| {
            assert!(
                !line.contains(['\r', '\n']),
                "a bare CR or LF inside an output line: {}",
                excerpt(line.as_bytes())
            );
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cut_the_whole_payload() {
        for a in [0u8, 1, 2, 3, 0x11, 0x1e, 0xff] {
            for b in [0u8, 1, 7, 200, 255] {
                let mut input = vec![a, b];
                input.extend((0..20_000u32).map(|i| i as u8));
                let plan = Plan::new(&input);
                let reads = plan.reads();
                assert_eq!(reads.concat(), &input[2..]);
                assert!(reads.iter().all(|r| !r.is_empty()));
            }
        }
        assert!(Plan::new(b"").reads().is_empty());
    }

    #[test]
    fn lines_are_checked() {
        assert_eq!(crlf_lines(b"a\r\nb\r\n"), vec!["a", "b"]);
        assert!(crlf_lines(b"").is_empty());
        assert!(std::panic::catch_unwind(|| crlf_lines(b"a\nb\r\n")).is_err());
        assert!(std::panic::catch_unwind(|| crlf_lines(b"a\r\nb")).is_err());
    }
}
