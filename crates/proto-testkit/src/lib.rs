//! A socket-free harness for the sans-I/O protocol cores: it drives a core
//! the way the connection driver does and records everything it says, so
//! the three cores share one set of transcript, split-invariance and
//! random-input helpers. Tests only (a dev-dependency); it depends on
//! nothing but `postern-types`, like the cores themselves.
//!
//! # Layout
//! - [`drive`], [`feed`]: run a core over chunks of input, upgrading at
//!   STARTTLS as the driver does.
//! - [`replay`], [`assert_split_invariant`]: RFC-style `C:`/`S:`
//!   transcripts, replayed whole and at every byte split.
//! - [`XorShift`], [`fuzz`]: deterministic random input.

use postern_types::{Interrupt, Io, Protocol, TlsInfo};

/// What the test session tells the harness after answering an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Continue,
    /// The STARTTLS go-ahead is queued: flush, stop reading, upgrade.
    StartTls,
}

/// A test session: answers one event through the core's intent methods.
pub type Answer<P> = fn(&mut P, &<P as Protocol>::Event) -> After;

/// Everything a run produced, in order.
#[derive(Debug)]
pub struct Log<E> {
    pub output: Vec<u8>,
    pub events: Vec<E>,
    pub error: Option<String>,
}

impl<E> Default for Log<E> {
    fn default() -> Self {
        Self {
            output: Vec::new(),
            events: Vec::new(),
            error: None,
        }
    }
}

impl<E> Log<E> {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
}

/// Runs the core until it needs input, fails, or the session accepted
/// STARTTLS (returns `true`, output flushed as the driver does).
pub fn drive<P: Protocol>(p: &mut P, log: &mut Log<P::Event>, answer: Answer<P>) -> bool {
    loop {
        match p.next() {
            Ok(event) => {
                let after = answer(p, &event);
                log.events.push(event);
                if after == After::StartTls {
                    flush(p, log);
                    return true;
                }
            }
            Err(Interrupt::Io(Io::Output(bytes))) => log.output.extend(bytes),
            Err(Interrupt::Io(Io::NeedMoreInput)) => return false,
            Err(Interrupt::Error(e)) => {
                flush(p, log);
                log.error = Some(e.to_string());
                return false;
            }
        }
    }
}

fn flush<P: Protocol>(p: &mut P, log: &mut Log<P::Event>) {
    while let Some(bytes) = p.take_output() {
        log.output.extend(bytes);
    }
}

/// Feeds each phase's chunks in turn; between phases the client finished a
/// STARTTLS exchange and the machine is upgraded, exactly as the driver does.
pub fn feed<P: Protocol>(mut p: P, phases: &[Vec<&[u8]>], answer: Answer<P>) -> Log<P::Event> {
    let mut log = Log::default();
    drive(&mut p, &mut log, answer);
    for (i, chunks) in phases.iter().enumerate() {
        let mut upgrade = false;
        for chunk in chunks {
            assert!(
                !upgrade || chunk.is_empty(),
                "input after the STARTTLS line"
            );
            if !upgrade {
                p.enqueue_input(chunk);
                upgrade = drive(&mut p, &mut log, answer);
            }
        }
        if i + 1 < phases.len() {
            assert!(upgrade, "phase {i} did not end with an accepted STARTTLS");
            assert_eq!(p.buffered_input_len(), 0);
            p = p.start_tls(TlsInfo::default()).expect("clean upgrade");
            drive(&mut p, &mut log, answer);
        }
    }
    log
}

/// One step of an RFC-style transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Client(String),
    Server(String),
    Tls,
}

/// Reads `C: ...`, `S: ...` and `-- TLS --` lines; other lines are comments.
pub fn steps(transcript: &str) -> Vec<Step> {
    transcript
        .lines()
        .map(str::trim_start)
        .filter_map(|line| {
            if let Some(c) = line.strip_prefix("C: ") {
                Some(Step::Client(c.to_owned()))
            } else if let Some(s) = line.strip_prefix("S: ") {
                Some(Step::Server(s.to_owned()))
            } else {
                (line == "-- TLS --").then_some(Step::Tls)
            }
        })
        .collect()
}

/// The client's bytes, one vector per TLS phase.
pub fn client_phases(steps: &[Step]) -> Vec<Vec<u8>> {
    let mut phases = vec![Vec::new()];
    for step in steps {
        match step {
            Step::Client(line) => {
                let phase = phases.last_mut().expect("at least one phase");
                phase.extend_from_slice(line.as_bytes());
                phase.extend_from_slice(b"\r\n");
            }
            Step::Tls => phases.push(Vec::new()),
            Step::Server(_) => {}
        }
    }
    phases
}

/// Replays a transcript line by line: after each client line, the server
/// must have said exactly the `S:` lines that follow it, no more, no less.
pub fn replay<P: Protocol>(mut p: P, transcript: &str, answer: Answer<P>) -> P {
    let mut log = Log::default();
    let mut expected = String::new();
    let mut seen = 0;
    for step in steps(transcript) {
        match step {
            Step::Server(line) => {
                expected.push_str(&line);
                expected.push_str("\r\n");
                continue;
            }
            Step::Client(line) => {
                drive(&mut p, &mut log, answer);
                check(&log, &mut seen, &mut expected);
                p.enqueue_input(format!("{line}\r\n").as_bytes());
            }
            Step::Tls => {
                drive(&mut p, &mut log, answer);
                check(&log, &mut seen, &mut expected);
                p = p.start_tls(TlsInfo::default()).expect("clean upgrade");
            }
        }
    }
    drive(&mut p, &mut log, answer);
    check(&log, &mut seen, &mut expected);
    p
}

fn check<E>(log: &Log<E>, seen: &mut usize, expected: &mut String) {
    let got = String::from_utf8_lossy(&log.output[*seen..]).into_owned();
    assert_eq!(
        got, *expected,
        "\n--- expected ---\n{expected}--- got ---\n{got}"
    );
    *seen = log.output.len();
    expected.clear();
}

/// Split invariance: the client side fed whole, at every split point of
/// every phase, and one byte at a time, must give the same output, events
/// and error.
pub fn assert_split_invariant<P, F>(make: F, transcript: &str, answer: Answer<P>)
where
    P: Protocol,
    P::Event: PartialEq + std::fmt::Debug,
    F: Fn() -> P,
{
    let phases = client_phases(&steps(transcript));
    let whole: Vec<Vec<&[u8]>> = phases.iter().map(|b| vec![&b[..]]).collect();
    let reference = feed(make(), &whole, answer);
    for (i, phase) in phases.iter().enumerate() {
        for k in 0..=phase.len() {
            let mut split = whole.clone();
            split[i] = vec![&phase[..k], &phase[k..]];
            same(
                &reference,
                &feed(make(), &split, answer),
                &format!("phase {i} split at {k}"),
            );
        }
    }
    let bytewise: Vec<Vec<&[u8]>> = phases.iter().map(|b| b.chunks(1).collect()).collect();
    same(
        &reference,
        &feed(make(), &bytewise, answer),
        "one byte at a time",
    );
}

fn same<E: PartialEq + std::fmt::Debug>(a: &Log<E>, b: &Log<E>, what: &str) {
    assert_eq!(a.text(), b.text(), "output differs, {what}");
    assert_eq!(a.events, b.events, "events differ, {what}");
    assert_eq!(a.error, b.error, "error differs, {what}");
}

/// A small deterministic generator (xorshift64*), so that random-input
/// tests need no dependency and fail reproducibly.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Random input: raw bytes mixed with pieces of real commands, so that
    /// the parsers are reached and not only the framer.
    pub fn input(&mut self, words: &[&[u8]], max_len: usize) -> Vec<u8> {
        let len = self.below(max_len + 1);
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            match self.below(4) {
                0 => out.extend_from_slice(words[self.below(words.len())]),
                1 => out.extend_from_slice(b"\r\n"),
                _ => out.push(self.next_u64() as u8),
            }
        }
        out
    }
}

/// Throws random input at fresh machines: nothing may panic, the incomplete
/// line never exceeds the limit, and a machine that says it is finished or
/// failed stops producing events.
pub fn fuzz<P, F>(
    make: F,
    words: &[&[u8]],
    answer: Answer<P>,
    inputs: u64,
    partial: fn(&P) -> usize,
    cap: usize,
) where
    P: Protocol,
    F: Fn(u64) -> P,
{
    for seed in 0..inputs {
        let mut rng = XorShift::new(seed);
        let mut p = make(seed);
        let mut log = Log::default();
        drive(&mut p, &mut log, answer);
        let input = rng.input(words, 600);
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len());
            p.enqueue_input(&rest[..n]);
            rest = &rest[n..];
            assert!(
                partial(&p) <= cap,
                "seed {seed}: incomplete line over the limit"
            );
            if drive(&mut p, &mut log, answer) {
                match p.start_tls(TlsInfo::default()) {
                    Ok(upgraded) => p = upgraded,
                    Err(_) => break,
                }
            }
            if log.error.is_some() || p.is_finished() {
                let events = log.events.len();
                p.enqueue_input(b"NOOP\r\n");
                drive(&mut p, &mut log, answer);
                assert_eq!(
                    events,
                    log.events.len(),
                    "seed {seed}: events after the end"
                );
                break;
            }
        }
    }
}
