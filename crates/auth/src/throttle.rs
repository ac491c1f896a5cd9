//! Throttling failed logins, per client address and per account name.
//!
//! Each failure doubles the delay before the failure is answered (250 ms,
//! 500 ms, ... up to 8 s); ten failures within fifteen minutes block the
//! key for fifteen minutes, and the block is logged. Keys are the client IP
//! and the lowercased login name (whether or not such an account exists, so
//! the throttle reveals nothing). A success clears the name's record; the
//! address keeps its record, so one valid account cannot launder a guessing
//! run. No clock is read here: callers pass `now`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The delay after the first failure.
pub const BASE_DELAY: Duration = Duration::from_millis(250);
/// The longest delay before a failure is answered.
pub const MAX_DELAY: Duration = Duration::from_secs(8);
/// Failures within [`WINDOW`] that trigger a block (Dovecot's
/// auth_policy and fail2ban defaults are of this order).
pub const BLOCK_AFTER: u32 = 10;
/// How long failures are remembered, and how long a block lasts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// What the caller is tracked by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Ip(IpAddr),
    Name(String),
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// The verdict before a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Refuse without checking the password; answer after `wait`.
    Blocked {
        wait: Duration,
    },
}

/// Failure records. Bounded: records older than the window are dropped on
/// every write, and at most `capacity` keys are kept (the oldest go first).
#[derive(Debug)]
pub struct Throttle {
    records: HashMap<Key, Record>,
    capacity: usize,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl Throttle {
    /// A throttle remembering at most `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            records: HashMap::new(),
            capacity,
        }
    }

    /// Whether an attempt from these keys may be checked now.
    pub fn gate(&self, keys: &[Key], now: Instant) -> Gate {
        let wait = keys
            .iter()
            .filter_map(|k| self.records.get(k)?.blocked_until)
            .filter(|until| *until > now)
            .map(|_| MAX_DELAY)
            .max();
        wait.map_or(Gate::Open, |wait| Gate::Blocked { wait })
    }

    /// Records a failure; returns how long to wait before answering it.
    pub fn failure(&mut self, keys: &[Key], now: Instant) -> Duration {
        self.forget_old(now);
        keys.iter()
            .map(|k| self.fail_one(k.clone(), now))
            .max()
            .unwrap_or(BASE_DELAY)
    }

    /// Records a success: the name's record is cleared.
    pub fn success(&mut self, name: &Key) {
        self.records.remove(name);
    }

    fn fail_one(&mut self, key: Key, now: Instant) -> Duration {
        let r = self.records.entry(key.clone()).or_insert(Record {
            failures: 0,
            last: now,
            blocked_until: None,
        });
        r.failures += 1;
        r.last = now;
        if r.failures >= BLOCK_AFTER && r.blocked_until.is_none_or(|u| u <= now) {
            r.blocked_until = Some(now + WINDOW);
            tracing::warn!(
                ?key,
                failures = r.failures,
                "too many failed logins; blocked for 15 minutes"
            );
        }
        delay_after(r.failures)
    }

    fn forget_old(&mut self, now: Instant) {
        self.records.retain(|_, r| {
            now.duration_since(r.last) < WINDOW || r.blocked_until.is_some_and(|u| u > now)
        });
        while self.records.len() >= self.capacity {
            let Some(oldest) = self
                .records
                .iter()
                .min_by_key(|(_, r)| r.last)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.records.remove(&oldest);
        }
    }
}

/// 250 ms doubled per earlier failure, capped at 8 s.
pub fn delay_after(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (BASE_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<Key> {
        vec![
            Key::Ip("192.0.2.7".parse().unwrap()),
            Key::Name("alice@example.com".into()),
        ]
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        assert_eq!(delay_after(1), Duration::from_millis(250));
        assert_eq!(delay_after(2), Duration::from_millis(500));
        assert_eq!(delay_after(4), Duration::from_secs(2));
        assert_eq!(delay_after(6), MAX_DELAY);
        assert_eq!(delay_after(1000), MAX_DELAY);
    }

    #[test]
    fn ten_failures_block_and_the_block_expires() {
        let mut t = Throttle::default();
        let start = Instant::now();
        for i in 0..BLOCK_AFTER {
            assert_eq!(t.gate(&keys(), start), Gate::Open, "attempt {i}");
            t.failure(&keys(), start);
        }
        assert!(matches!(t.gate(&keys(), start), Gate::Blocked { .. }));
        // Another address trying the same name is blocked too...
        let other = [
            Key::Ip("198.51.100.1".parse().unwrap()),
            Key::Name("alice@example.com".into()),
        ];
        assert!(matches!(t.gate(&other, start), Gate::Blocked { .. }));
        // ...but not for a different name.
        let unrelated = [
            Key::Ip("198.51.100.1".parse().unwrap()),
            Key::Name("bob@example.com".into()),
        ];
        assert_eq!(t.gate(&unrelated, start), Gate::Open);
        assert_eq!(
            t.gate(&keys(), start + WINDOW + Duration::from_secs(1)),
            Gate::Open
        );
    }

    #[test]
    fn success_clears_the_name_not_the_address() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for _ in 0..BLOCK_AFTER - 1 {
            t.failure(&keys(), now);
        }
        t.success(&keys()[1]);
        // The address has nine failures; one more blocks it.
        t.failure(&[keys()[0].clone()], now);
        assert!(matches!(
            t.gate(&[keys()[0].clone()], now),
            Gate::Blocked { .. }
        ));
        assert_eq!(t.gate(&[keys()[1].clone()], now), Gate::Open);
    }

    #[test]
    fn memory_is_bounded() {
        let mut t = Throttle::with_capacity(100);
        let now = Instant::now();
        for i in 0..1000 {
            t.failure(&[Key::Name(format!("user{i}"))], now);
        }
        assert!(t.records.len() <= 100);
    }
}
