//! When to try again: exponential backoff within the retry lifetime.

use std::time::Duration;

/// What to do with a recipient after a temporary failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again at this time (seconds since the epoch).
    At(i64),
    /// The message has been queued for `retry_for`: give up (RFC 5321
    /// §4.5.4.1).
    GiveUp,
}

/// `attempts` is how many attempts were made before this one. The delay
/// doubles from `first` up to `max`; the last retry falls on the deadline
/// itself, so a message is never given up on before its time.
pub fn next(
    now: i64,
    created: i64,
    attempts: u32,
    first: Duration,
    max: Duration,
    retry_for: Duration,
) -> Next {
    let deadline = created.saturating_add(secs(retry_for));
    if now >= deadline {
        return Next::GiveUp;
    }
    let factor = 1u64.checked_shl(attempts.min(62)).unwrap_or(u64::MAX);
    let delay = secs(first)
        .saturating_mul(i64::try_from(factor).unwrap_or(i64::MAX))
        .min(secs(max))
        .max(1);
    Next::At(now.saturating_add(delay).min(deadline))
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);
    const DAYS5: Duration = Duration::from_secs(5 * 86400);

    #[test]
    fn doubles_up_to_the_cap() {
        let got: Vec<Next> = (0..8)
            .map(|a| next(1000, 1000, a, MIN, HOUR, DAYS5))
            .collect();
        let want: Vec<Next> = [60, 120, 240, 480, 960, 1920, 3600, 3600]
            .iter()
            .map(|d| Next::At(1000 + d))
            .collect();
        assert_eq!(got, want);
        assert_eq!(next(0, 0, u32::MAX, MIN, HOUR, DAYS5), Next::At(3600));
    }

    #[test]
    fn gives_up_at_the_deadline_not_before() {
        let created = 0;
        let deadline = 5 * 86400;
        assert_eq!(
            next(deadline - 10, created, 50, MIN, HOUR, DAYS5),
            Next::At(deadline)
        );
        assert_eq!(next(deadline, created, 51, MIN, HOUR, DAYS5), Next::GiveUp);
    }
}
