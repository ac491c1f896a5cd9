//! Group commit: concurrent writers share one transaction, so one WAL
//! fsync acknowledges all of them.
//!
//! A commit with `synchronous = FULL` costs an fsync of the WAL, measured
//! on our disks at 0.4 ms idle and 4 ms with a busy neighbour; it does not
//! grow much with the rows it carries. One transaction per message caps a
//! store at one message per fsync whatever the number of clients, and
//! queues them all behind each other. Here, each caller queues its job and
//! one of them, the leader, takes every job waiting, runs them in one
//! transaction, commits, and hands each caller its result; meanwhile new
//! jobs gather for the next round. No thread is spawned: the leader is a
//! caller, so a lone writer pays nothing but a lock and a condition
//! variable (the same shape as LevelDB's writer queue, and PostgreSQL's
//! `commit_delay` without the delay: the batch is whatever arrived during
//! the previous commit).
//!
//! # Layout
//! - [`Group`]: `submit`, which queues a job and leads or waits.

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The most jobs one transaction takes; more wait for the next round, so
/// that one commit's latency stays bounded whatever the load.
const MAX_BATCH: usize = 256;

/// Jobs of type `J` waiting to be committed, and the results `R` of the
/// committed ones until their callers collect them.
#[derive(Debug)]
pub(super) struct Group<J, R> {
    state: Mutex<State<J, R>>,
    /// Signalled after every round: results are in, and the lead is free.
    round_done: Condvar,
}

#[derive(Debug)]
struct State<J, R> {
    pending: Vec<(u64, J)>,
    results: HashMap<u64, R>,
    next_ticket: u64,
    /// Whether a caller is running a round now.
    leading: bool,
}

impl<J, R> Group<J, R> {
    pub(super) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                pending: Vec::new(),
                results: HashMap::new(),
                next_ticket: 0,
                leading: false,
            }),
            round_done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<J, R>> {
        // The state is only changed in small steps that cannot panic half
        // way, and a panicking leader is handled below: still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` and returns its result: either this caller leads a
    /// round that includes its job, or it waits for another caller's
    /// round. `commit` gets the round's jobs in arrival order and must
    /// return one result per job, in the same order. If `commit` panics,
    /// every job of its round gets `failed()` and the panic goes on in
    /// the leader.
    pub(super) fn submit(
        &self,
        job: J,
        commit: impl FnOnce(Vec<J>) -> Vec<R>,
        failed: impl Fn() -> R,
    ) -> R {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.pending.push((ticket, job));
        let mut commit = Some(commit);
        loop {
            if let Some(result) = state.results.remove(&ticket) {
                return result;
            }
            if state.leading {
                state = self
                    .round_done
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Our job has no result and nobody leads: it is still pending
            // (a round takes jobs only while leading), so we lead.
            // Invariant: a caller leads at most once, with its own job.
            let commit = commit.take().expect("a caller leads once");
            state = self.lead(state, ticket, commit, &failed);
        }
    }

    /// Runs one round with the jobs waiting (the oldest [`MAX_BATCH`]);
    /// `own` is the leader's ticket.
    fn lead<'a>(
        &'a self,
        mut state: MutexGuard<'a, State<J, R>>,
        own: u64,
        commit: impl FnOnce(Vec<J>) -> Vec<R>,
        failed: &impl Fn() -> R,
    ) -> MutexGuard<'a, State<J, R>> {
        state.leading = true;
        let take = state.pending.len().min(MAX_BATCH);
        let (tickets, jobs): (Vec<u64>, Vec<J>) = state.pending.drain(..take).unzip();
        drop(state);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| commit(jobs)));
        let mut state = self.lock();
        state.leading = false;
        match outcome {
            Ok(results) => {
                debug_assert_eq!(results.len(), tickets.len(), "one result per job");
                state.results.extend(tickets.into_iter().zip(results));
                self.round_done.notify_all();
                state
            }
            Err(payload) => {
                // The leader's own result is the panic itself.
                let others = tickets.into_iter().filter(|&t| t != own);
                state.results.extend(others.map(|t| (t, failed())));
                self.round_done.notify_all();
                drop(state);
                panic::resume_unwind(payload)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    /// 16 threads x 200 jobs: every job gets its own result, and rounds
    /// really do take more than one job at a time.
    #[test]
    fn every_job_gets_its_result_and_rounds_batch() {
        let group = Group::<(usize, usize), (usize, usize)>::new();
        let rounds = AtomicUsize::new(0);
        let start = Barrier::new(16);
        std::thread::scope(|scope| {
            for t in 0..16 {
                let (group, rounds, start) = (&group, &rounds, &start);
                scope.spawn(move || {
                    start.wait();
                    for i in 0..200 {
                        let got = group.submit(
                            (t, i),
                            |jobs| {
                                rounds.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                jobs
                            },
                            || (usize::MAX, usize::MAX),
                        );
                        assert_eq!(got, (t, i));
                    }
                });
            }
        });
        let rounds = rounds.load(Ordering::Relaxed);
        assert!(rounds < 16 * 200 / 2, "{rounds} rounds for 3200 jobs");
        assert!(group.lock().results.is_empty() && group.lock().pending.is_empty());
    }

    /// A panicking round fails its jobs and frees the lead for the next.
    #[test]
    fn a_panicking_round_fails_its_jobs_only() {
        let group = Group::<u32, Result<u32, ()>>::new();
        let panicked = panic::catch_unwind(AssertUnwindSafe(|| {
            group.submit(1, |_| panic!("boom"), || Err(()))
        }));
        assert!(panicked.is_err());
        assert_eq!(
            group.submit(2, |j| j.into_iter().map(Ok).collect(), || Err(())),
            Ok(2)
        );
        assert!(group.lock().results.is_empty());
    }
}
