//! Opt-in retries with backoff.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest a retry ever waits, whatever [`RetryPolicy::max_delay`] says:
/// five minutes, the window of the atproto PDS's per-account rate limits.
/// A server asking for a longer wait (a daily limit, or a hostile
/// `Retry-After: 18446744073709551615`) gets no retry: the call returns its
/// [`crate::Error::RateLimited`] at once, with the reset time in it.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(5 * 60);

/// When and how often to retry a call.
///
/// Off by default. When set (per agent or per call), queries that fail with
/// HTTP 429, 503 or a transport error are retried up to `max_retries` times.
/// The wait is what the server asks for (`Retry-After` / `RateLimit-Reset`)
/// when it says; otherwise exponential backoff from `base_delay`, with jitter,
/// capped at `max_delay` (and at [`MAX_RETRY_DELAY`]). When the server asks
/// for a longer wait than that, the error is returned at once rather than
/// blocking the caller that long.
///
/// Procedures are never retried unless `retry_procedures` is set: a procedure
/// that timed out may have been applied, and repeating it could, e.g., post
/// twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff delay; doubled per retry.
    pub base_delay: Duration,
    /// Longest single wait; never more than [`MAX_RETRY_DELAY`], whatever
    /// is set here.
    pub max_delay: Duration,
    /// Also retry procedures (only for idempotent ones).
    pub retry_procedures: bool,
}

impl Default for RetryPolicy {
    /// 3 retries, from 250 ms, at most 30 s per wait, queries only.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            retry_procedures: false,
        }
    }
}

impl RetryPolicy {
    /// `n` retries with the default delays.
    pub fn retries(n: u32) -> Self {
        RetryPolicy {
            max_retries: n,
            ..Self::default()
        }
    }

    /// Sets the delays.
    pub fn delays(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max;
        self
    }

    /// Also retries procedures. Only for idempotent ones.
    pub fn include_procedures(mut self) -> Self {
        self.retry_procedures = true;
        self
    }

    pub(crate) fn delay_for<T>(
        &self,
        outcome: &Result<T, crate::Error>,
        attempt: u32,
    ) -> Option<Duration>
    where
        T: RetryHint,
    {
        if attempt >= self.max_retries {
            return None;
        }
        let requested = match outcome {
            Ok(r) => r.retry_hint()?,
            Err(crate::Error::Transport(_)) => None,
            Err(_) => return None,
        };
        match requested {
            Some(d) if d > self.longest_wait() => None,
            Some(d) => Some(d),
            None => Some(self.backoff(attempt)),
        }
    }

    /// `max_delay`, within [`MAX_RETRY_DELAY`].
    fn longest_wait(&self) -> Duration {
        self.max_delay.min(MAX_RETRY_DELAY)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.longest_wait());
        // Full jitter between 50% and 100%, so that clients that failed
        // together do not come back together. The clock's nanoseconds are
        // random enough for that.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let frac = 0.5 + f64::from(nanos % 1000) / 2000.0;
        exp.mul_f64(frac)
    }
}

/// What a response says about retrying: `None` not retryable, `Some(None)`
/// retryable after backoff, `Some(Some(d))` retryable after `d`.
pub(crate) trait RetryHint {
    fn retry_hint(&self) -> Option<Option<Duration>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Hint(Option<Option<Duration>>);
    impl RetryHint for Hint {
        fn retry_hint(&self) -> Option<Option<Duration>> {
            self.0
        }
    }

    #[test]
    fn decides() {
        let p = RetryPolicy::retries(2).delays(Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(p.delay_for(&Ok(Hint(None)), 0), None);
        let d = p.delay_for(&Ok(Hint(Some(None))), 1).unwrap();
        assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(200));
        assert_eq!(
            p.delay_for(&Ok(Hint(Some(Some(Duration::from_secs(2))))), 0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.delay_for(&Ok(Hint(Some(Some(Duration::from_secs(60))))), 0),
            None
        );
        assert_eq!(p.delay_for(&Ok(Hint(Some(None))), 2), None);
        // No policy waits longer than MAX_RETRY_DELAY, however it is set.
        let p = RetryPolicy::retries(2).delays(Duration::MAX, Duration::MAX);
        let hint = |d| Ok(Hint(Some(Some(d))));
        assert_eq!(
            p.delay_for(&hint(MAX_RETRY_DELAY), 0),
            Some(MAX_RETRY_DELAY)
        );
        assert_eq!(p.delay_for(&hint(MAX_RETRY_DELAY * 2), 0), None);
        assert_eq!(p.delay_for(&hint(Duration::MAX), 0), None);
        let d = p.delay_for(&Ok(Hint(Some(None))), 1).unwrap();
        assert!(d <= MAX_RETRY_DELAY, "{d:?}");
        assert_eq!(
            p.delay_for::<Hint>(&Err(crate::Error::InvalidRequest(String::new())), 0),
            None
        );
    }
}
