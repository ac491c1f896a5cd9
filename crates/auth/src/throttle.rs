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

impl Key {
    /// The key of a client address: IPv6 clients are counted by their /64,
    /// since one host usually holds a whole /64 and could otherwise pick a
    /// fresh address for every attempt.
    pub fn ip(ip: IpAddr) -> Self {
        Self::Ip(network_of(ip))
    }

    /// The key of a login name, bounded in length so that a flood of long
    /// names cannot make the table large (addresses are at most 254 octets,
    /// RFC 5321 §4.5.3.1.3).
    pub fn name(normalized: &str) -> Self {
        let mut end = normalized.len().min(254);
        while !normalized.is_char_boundary(end) {
            end -= 1;
        }
        Self::Name(normalized[..end].to_owned())
    }

    /// For logs: the address, but never the name (a password is sometimes
    /// typed into the user field).
    fn describe(&self) -> String {
        match self {
            Self::Ip(ip) => ip.to_string(),
            Self::Name(_) => "a login name".to_owned(),
        }
    }
}

/// An IPv4 address itself; an IPv6 address's /64 network.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    /// Attempts being checked right now: counted against the limit so that
    /// many parallel connections do not get more guesses than one.
    in_flight: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

impl Record {
    const fn new(now: Instant) -> Self {
        Self {
            failures: 0,
            in_flight: 0,
            last: now,
            blocked_until: None,
        }
    }

    /// Failures still remembered: none once the window has passed since
    /// the last one.
    fn recent_failures(&self, now: Instant) -> u32 {
        if now.duration_since(self.last) < WINDOW {
            self.failures
        } else {
            0
        }
    }

    fn blocked(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|u| u > now)
            || self.recent_failures(now) + self.in_flight >= BLOCK_AFTER
    }
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
        let blocked = keys
            .iter()
            .filter_map(|k| self.records.get(k))
            .any(|r| r.blocked(now));
        if blocked {
            Gate::Blocked { wait: MAX_DELAY }
        } else {
            Gate::Open
        }
    }

    /// Starts an attempt: if the gate is open, the attempt counts as in
    /// flight until [`Throttle::failure`] or [`Throttle::success`] ends it.
    pub fn begin(&mut self, keys: &[Key], now: Instant) -> Gate {
        let gate = self.gate(keys, now);
        if gate == Gate::Open {
            self.forget_old(now);
            for k in keys {
                self.records
                    .entry(k.clone())
                    .or_insert_with(|| Record::new(now))
                    .in_flight += 1;
            }
        }
        gate
    }

    fn end(&mut self, keys: &[Key]) {
        for k in keys {
            if let Some(r) = self.records.get_mut(k) {
                r.in_flight = r.in_flight.saturating_sub(1);
            }
        }
    }

    /// Records a failure (ending an attempt begun with [`Throttle::begin`],
    /// if any); returns how long to wait before answering it.
    pub fn failure(&mut self, keys: &[Key], now: Instant) -> Duration {
        self.end(keys);
        self.forget_old(now);
        keys.iter()
            .map(|k| self.fail_one(k.clone(), now))
            .max()
            .unwrap_or(BASE_DELAY)
    }

    /// Records a success (ending an attempt begun with [`Throttle::begin`]):
    /// the name's record is cleared, the address keeps its failures.
    pub fn success(&mut self, keys: &[Key]) {
        self.end(keys);
        for k in keys.iter().filter(|k| matches!(k, Key::Name(_))) {
            self.records.remove(k);
        }
    }

    fn fail_one(&mut self, key: Key, now: Instant) -> Duration {
        let r = self
            .records
            .entry(key.clone())
            .or_insert_with(|| Record::new(now));
        r.failures = r.recent_failures(now) + 1;
        r.last = now;
        if r.failures >= BLOCK_AFTER && r.blocked_until.is_none_or(|u| u <= now) {
            r.blocked_until = Some(now + WINDOW);
            tracing::warn!(key = %key.describe(), failures = r.failures, "too many failed logins; blocked for 15 minutes");
        }
        delay_after(r.failures)
    }

    /// Drops records older than the window; when still full, drops the
    /// oldest records that neither block nor have an attempt in flight, so
    /// a flood of new keys cannot erase a block.
    fn forget_old(&mut self, now: Instant) {
        self.records.retain(|_, r| {
            now.duration_since(r.last) < WINDOW || r.blocked(now) || r.in_flight > 0
        });
        while self.records.len() >= self.capacity {
            let oldest = self
                .records
                .iter()
                .filter(|(_, r)| !r.blocked(now) && r.in_flight == 0)
                .min_by_key(|(_, r)| r.last)
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
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
        t.success(&[keys()[1].clone()]);
        // The address has nine failures; one more blocks it.
        t.failure(&[keys()[0].clone()], now);
        assert!(matches!(
            t.gate(&[keys()[0].clone()], now),
            Gate::Blocked { .. }
        ));
        assert_eq!(t.gate(&[keys()[1].clone()], now), Gate::Open);
    }

    #[test]
    fn parallel_attempts_count_before_they_finish() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for i in 0..BLOCK_AFTER {
            assert_eq!(t.begin(&keys(), now), Gate::Open, "attempt {i}");
        }
        // Ten checks are running: the eleventh waits for them.
        assert!(matches!(t.begin(&keys(), now), Gate::Blocked { .. }));
        t.success(&keys());
        assert_eq!(t.begin(&keys(), now), Gate::Open);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = Key::ip("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Key::ip("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = Key::ip("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Key::ip("192.0.2.1".parse().unwrap()),
            Key::Ip("192.0.2.1".parse().unwrap())
        );
        assert!(matches!(Key::name(&"é".repeat(300)), Key::Name(n) if n.len() <= 254));
    }

    #[test]
    fn a_flood_of_new_keys_does_not_erase_a_block() {
        let mut t = Throttle::with_capacity(50);
        let now = Instant::now();
        for _ in 0..BLOCK_AFTER {
            t.failure(&keys(), now);
        }
        for i in 0..1000 {
            t.failure(&[Key::name(&format!("user{i}"))], now);
        }
        assert!(matches!(t.gate(&keys(), now), Gate::Blocked { .. }));
    }

    #[test]
    fn memory_is_bounded() {
        let mut t = Throttle::with_capacity(100);
        let now = Instant::now();
        for i in 0..1000 {
            t.failure(&[Key::name(&format!("user{i}"))], now);
        }
        assert!(t.records.len() <= 100);
    }
}
