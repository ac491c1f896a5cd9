//! A fuzz harness for every Postern parser that runs on the stable
//! toolchain, inside `cargo test`.
//!
//! cargo-fuzz needs nightly; this engine needs nothing. It has no coverage
//! feedback: it mutates the seeds (real transcripts, a real configuration,
//! real certificates) and earlier inputs with the tokens that break mail
//! parsers, runs each input in [`std::panic::catch_unwind`], and stops at
//! the first panic. Targets assert invariants, not only "no panic", so a
//! broken promise (a forged reply line, a credential before TLS, a buffer
//! over its limit) fails like a crash does. The failing input is written to
//! `fuzz/artifacts/<target>-<hash>.bin` (with a shrunk copy when shrinking
//! helps) and the error names the file and the command that replays it.
//!
//! Runs are reproducible: the random stream comes from a fixed seed mixed
//! with the target name (`POSTERN_FUZZ_SEED` replaces the fixed seed), and
//! the budget is a number of inputs and/or a wall-clock time
//! (`POSTERN_FUZZ_SECONDS`, default [`Budget::DEFAULT_SECONDS`] per target).
//!
//! # Layout
//! - this file: the engine, [`run`], [`Budget`], [`Stats`], [`Failure`].
//! - `mutate` (private): the mutations and the interesting tokens.
//! - `rng` (private): SplitMix64 and FNV-1a.
//! - [`targets`]: one target per parser, the invariants each checks, their
//!   seeds, and the registry ([`targets::ALL`]) the tests and `replay` use.

#![forbid(unsafe_code)]

mod mutate;
mod rng;
pub mod targets;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::mutate::Mutator;
use crate::rng::{fnv1a, Rng};

/// The fixed seed of every run unless `POSTERN_FUZZ_SEED` says otherwise.
pub const DEFAULT_SEED: u64 = 0x005E_ED0F_B057_E125;

/// Earlier inputs kept for further mutation. Without coverage feedback a
/// small pool keeps the inputs near the seeds (and near valid syntax).
const POOL: usize = 64;

/// How long a failing input is shrunk before it is reported.
const SHRINK_TIME: Duration = Duration::from_secs(3);

/// How much fuzzing one target gets: whichever limit is reached first. A
/// budget with neither runs the seeds only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub iterations: Option<u64>,
    pub time: Option<Duration>,
}

impl Budget {
    /// Seconds per target when `POSTERN_FUZZ_SECONDS` is not set: a dozen
    /// targets on two test threads keep `cargo test` under 20 s in a debug
    /// build.
    pub const DEFAULT_SECONDS: f64 = 2.0;

    pub const fn iterations(n: u64) -> Self {
        Self {
            iterations: Some(n),
            time: None,
        }
    }

    pub fn seconds(s: f64) -> Self {
        Self {
            iterations: None,
            time: Some(Duration::from_secs_f64(s)),
        }
    }

    /// `POSTERN_FUZZ_SECONDS` (a decimal number of seconds) and
    /// `POSTERN_FUZZ_ITERATIONS`, if set; otherwise the default time.
    pub fn from_env() -> Result<Self, String> {
        let seconds = env_number::<f64>("POSTERN_FUZZ_SECONDS")?;
        if seconds.is_some_and(|s| !(s.is_finite() && s >= 0.0)) {
            return Err("POSTERN_FUZZ_SECONDS must be a number of seconds >= 0".into());
        }
        let iterations = env_number::<u64>("POSTERN_FUZZ_ITERATIONS")?;
        let time = match (seconds, iterations) {
            (None, None) => Some(Self::DEFAULT_SECONDS),
            (s, _) => s,
        };
        Ok(Self {
            iterations,
            time: time.map(Duration::from_secs_f64),
        })
    }

    fn spent(&self, iterations: u64, elapsed: Duration) -> bool {
        match (self.iterations, self.time) {
            (None, None) => true,
            (n, t) => n.is_some_and(|n| iterations >= n) || t.is_some_and(|t| elapsed >= t),
        }
    }
}

fn env_number<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}={v:?} is not a valid number")),
        Err(_) => Ok(None),
    }
}

/// The seed of this run: `POSTERN_FUZZ_SEED` (decimal or `0x` hex) or
/// [`DEFAULT_SEED`].
pub fn seed_from_env() -> Result<u64, String> {
    let Ok(v) = std::env::var("POSTERN_FUZZ_SEED") else {
        return Ok(DEFAULT_SEED);
    };
    let v = v.trim();
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.map_err(|_| format!("POSTERN_FUZZ_SEED={v:?} is not a number"))
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Stats {
    pub target: String,
    pub seed: u64,
    /// Inputs run, the seeds included.
    pub iterations: u64,
    pub elapsed: Duration,
    /// The slowest single input, its length, and the input itself.
    pub slowest: Duration,
    pub slowest_len: usize,
    pub slowest_input: Vec<u8>,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let rate = self.iterations as f64 / secs.max(1e-9);
        write!(
            f,
            "{}: {} inputs in {secs:.1} s ({rate:.0}/s), slowest {:.1} ms ({} bytes), seed {:#x}",
            self.target,
            self.iterations,
            self.slowest.as_secs_f64() * 1000.0,
            self.slowest_len,
            self.seed
        )
    }
}

/// A target panicked (or broke an invariant) on an input.
#[derive(Debug, Clone)]
pub struct Failure {
    pub target: String,
    pub seed: u64,
    /// Inputs run before the failing one.
    pub iteration: u64,
    /// `file:line:column: message` of the panic.
    pub panic: String,
    /// The input as found.
    pub artifact: Option<PathBuf>,
    /// A smaller input failing at the same place, if shrinking found one.
    pub shrunk: Option<PathBuf>,
    pub len: usize,
    pub shrunk_len: usize,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fuzz target {} failed after {} inputs (seed {:#x}):\n  {}",
            self.target, self.iteration, self.seed, self.panic
        )?;
        let files = [(&self.shrunk, self.shrunk_len), (&self.artifact, self.len)];
        for (path, len) in files {
            if let Some(path) = path {
                writeln!(f, "  input ({len} bytes): {}", path.display())?;
                writeln!(
                    f,
                    "  replay: cargo run -p postern-fuzz --bin replay -- {} {}",
                    self.target,
                    path.display()
                )?;
            }
        }
        if self.artifact.is_none() {
            writeln!(
                f,
                "  (the input could not be written to {})",
                artifacts_dir().display()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// Where failing inputs go: `fuzz/artifacts/` in the source tree.
pub fn artifacts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts")
}

/// Fuzzes `target` from `seeds` until `budget` is spent or an input makes
/// it panic. Every seed runs once unchanged first. `name` names the
/// artifacts and mixes into the random stream, so two targets with the same
/// seed do not see the same inputs.
pub fn run(
    name: &str,
    target: &dyn Fn(&[u8]),
    seeds: &[&[u8]],
    budget: Budget,
) -> Result<Stats, Box<Failure>> {
    let seed = seed_from_env().unwrap_or_else(|e| panic!("{e}"));
    run_with_seed(name, target, seeds, budget, seed)
}

/// [`run`] with an explicit seed instead of `POSTERN_FUZZ_SEED`.
pub fn run_with_seed(
    name: &str,
    target: &dyn Fn(&[u8]),
    seeds: &[&[u8]],
    budget: Budget,
    seed: u64,
) -> Result<Stats, Box<Failure>> {
    let mut campaign = Campaign::new(name, target, seed);
    for s in seeds {
        campaign.exec(s)?;
    }
    let mutator = Mutator::new(seeds);
    let mut rng = Rng::new(seed ^ fnv1a(name.as_bytes()));
    let mut pool: Vec<Vec<u8>> = Vec::new();
    while !budget.spent(campaign.stats.iterations, campaign.started.elapsed()) {
        let from_seed = pool.is_empty() || rng.one_in(2);
        let base: &[u8] = match (from_seed, seeds.is_empty()) {
            (true, true) => &[],
            (true, false) => seeds[rng.below(seeds.len())],
            (false, _) => &pool[rng.below(pool.len())],
        };
        let mut others = seeds.to_vec();
        if !pool.is_empty() {
            others.push(&pool[rng.below(pool.len())]);
        }
        let input = mutator.mutate(&mut rng, base, &others);
        campaign.exec(&input)?;
        if pool.len() < POOL {
            pool.push(input);
        } else {
            let slot = rng.below(POOL);
            pool[slot] = input;
        }
    }
    campaign.stats.elapsed = campaign.started.elapsed();
    Ok(campaign.stats)
}

/// One run in progress.
struct Campaign<'a> {
    name: &'a str,
    target: &'a dyn Fn(&[u8]),
    started: Instant,
    stats: Stats,
}

impl<'a> Campaign<'a> {
    fn new(name: &'a str, target: &'a dyn Fn(&[u8]), seed: u64) -> Self {
        Self {
            name,
            target,
            started: Instant::now(),
            stats: Stats {
                target: name.to_owned(),
                seed,
                iterations: 0,
                elapsed: Duration::ZERO,
                slowest: Duration::ZERO,
                slowest_len: 0,
                slowest_input: Vec::new(),
            },
        }
    }

    fn exec(&mut self, input: &[u8]) -> Result<(), Box<Failure>> {
        let t = Instant::now();
        let outcome = catch(self.target, input);
        let took = t.elapsed();
        if took > self.stats.slowest {
            self.stats.slowest = took;
            self.stats.slowest_len = input.len();
            self.stats.slowest_input = input.to_vec();
        }
        match outcome {
            Ok(()) => {
                self.stats.iterations += 1;
                Ok(())
            }
            Err(caught) => Err(self.fail(input, caught)),
        }
    }

    fn fail(&self, input: &[u8], caught: Caught) -> Box<Failure> {
        let artifact = save_artifact(self.name, input);
        let small = shrink(self.target, input, &caught.location);
        let shrunk = (small.len() < input.len())
            .then(|| save_artifact(self.name, &small))
            .flatten();
        Box::new(Failure {
            target: self.name.to_owned(),
            seed: self.stats.seed,
            iteration: self.stats.iterations,
            panic: caught.to_string(),
            artifact,
            shrunk,
            len: input.len(),
            shrunk_len: small.len(),
        })
    }
}

/// Writes `artifacts/<name>-<hash>.bin`; `None` if that fails (the error
/// still names the target and the panic).
pub fn save_artifact(name: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{name}-{:016x}.bin", fnv1a(input)));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Removes ever smaller pieces of `input` while the target still panics at
/// the same place, for at most [`SHRINK_TIME`].
fn shrink(target: &dyn Fn(&[u8]), input: &[u8], location: &str) -> Vec<u8> {
    let deadline = Instant::now() + SHRINK_TIME;
    let same =
        |candidate: &[u8]| matches!(catch(target, candidate), Err(c) if c.location == location);
    let mut best = input.to_vec();
    let mut piece = best.len().div_ceil(2);
    while piece > 0 && Instant::now() < deadline {
        let mut at = 0;
        let mut progress = false;
        while at < best.len() && Instant::now() < deadline {
            let mut candidate = best.clone();
            candidate.drain(at..(at + piece).min(best.len()));
            if same(&candidate) {
                best = candidate;
                progress = true;
            } else {
                at += piece;
            }
        }
        if !progress {
            piece /= 2;
        }
    }
    best
}

/// Where and why a target panicked.
#[derive(Debug, Clone)]
struct Caught {
    location: String,
    message: String,
}

impl fmt::Display for Caught {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked at {}: {}", self.location, self.message)
    }
}

thread_local! {
    /// Set while a target runs on this thread: its panics are recorded
    /// here instead of printed (the failure report prints them once).
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<Caught>> = const { RefCell::new(None) };
}

/// Runs the target on `input`, turning a panic into an error.
fn catch(target: &dyn Fn(&[u8]), input: &[u8]) -> Result<(), Caught> {
    install_hook();
    CATCHING.with(|c| c.set(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| target(input)));
    CATCHING.with(|c| c.set(false));
    outcome.map_err(|payload| {
        CAUGHT
            .with(|c| c.borrow_mut().take())
            .unwrap_or_else(|| Caught {
                location: "<unknown>".into(),
                message: payload_text(payload.as_ref()),
            })
    })
}

/// One process-wide hook that records panics on catching threads and
/// leaves every other panic (other tests, `replay`) to the previous hook.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if CATCHING.with(Cell::get) {
                let caught = Caught {
                    location: info
                        .location()
                        .map_or_else(|| "<unknown>".into(), ToString::to_string),
                    message: payload_text(info.payload()),
                };
                CAUGHT.with(|c| *c.borrow_mut() = Some(caught));
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_target_spends_its_budget() {
        let stats = run_with_seed("clean", &|_| {}, &[b"abc"], Budget::iterations(500), 1).unwrap();
        assert_eq!(stats.iterations, 500);
    }

    #[test]
    fn no_budget_runs_the_seeds_only() {
        let budget = Budget {
            iterations: None,
            time: None,
        };
        let stats = run_with_seed("seeds", &|_| {}, &[b"a", b"b"], budget, 1).unwrap();
        assert_eq!(stats.iterations, 2);
    }

    #[test]
    fn a_panic_is_caught_saved_and_shrunk() {
        const BAD: &[u8] = b"{4294967295}";
        let target = |input: &[u8]| {
            assert!(
                !input.windows(BAD.len()).any(|w| w == BAD),
                "the largest literal"
            );
        };
        let seeds: &[&[u8]] = &[b"a1 LOGIN {5}\r\nalice secret\r\n"];
        let failure = run_with_seed(
            "engine-selftest",
            &target,
            seeds,
            Budget::iterations(1_000_000),
            3,
        )
        .unwrap_err();
        assert!(failure.panic.contains("the largest literal"), "{failure}");
        assert!(failure.panic.contains("src/lib.rs"), "{failure}");
        let artifact = failure.artifact.clone().expect("artifact written");
        let input = std::fs::read(&artifact).unwrap();
        assert!(input.windows(BAD.len()).any(|w| w == BAD));
        std::fs::remove_file(artifact).unwrap();
        assert_eq!(failure.shrunk_len, BAD.len(), "{failure}");
        if let Some(shrunk) = failure.shrunk {
            assert_eq!(std::fs::read(&shrunk).unwrap(), BAD);
            std::fs::remove_file(shrunk).unwrap();
        }
    }

    #[test]
    fn budgets_from_numbers() {
        assert!(Budget::iterations(3).spent(3, Duration::ZERO));
        assert!(!Budget::iterations(3).spent(2, Duration::from_secs(99)));
        assert!(Budget::seconds(1.0).spent(0, Duration::from_secs(1)));
    }
}
