//! When to retry and how long to wait.

use std::time::{Duration, SystemTime};

use super::error::Error;

/// Error codes that mean "rate limited", whatever the status.
const RATE_LIMIT_CODES: [&str; 2] = ["REQUEST_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED"];

/// How long retries wait; the tests shrink it so that they run fast.
#[derive(Debug, Clone)]
pub(crate) struct RetryTiming {
    /// The first backoff; it doubles per retry, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// The shortest wait, even when `Retry-After` says 0, so a server is never hammered.
    pub min_wait: Duration,
    /// The waits before each retry of a failed connection; their count is the retry limit.
    pub connection_delays: Vec<Duration>,
}

impl Default for RetryTiming {
    fn default() -> Self {
        RetryTiming {
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            min_wait: Duration::from_millis(100),
            connection_delays: vec![
                Duration::from_millis(500),
                Duration::from_secs(1),
                Duration::from_secs(2),
            ],
        }
    }
}

impl RetryTiming {
    /// Exponential backoff with jitter for the given retry (1 = first), capped at `max_backoff`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(16);
        let base = self
            .first_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let jitter = 0.75 + fastrand::f64() * 0.5;
        base.mul_f64(jitter).min(self.max_backoff)
    }
}

/// Whether an answer asks to be retried later: 429, 503 or a rate-limit code.
pub(crate) fn is_throttled(error: &Error) -> bool {
    matches!(error.status(), Some(429 | 503))
        || error
            .error_code()
            .is_some_and(|code| RATE_LIMIT_CODES.contains(&code))
}

/// Reads `Retry-After` as integer seconds or as an HTTP date (a past date means now).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let in_90s = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&in_90s, now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn backoff_doubles_from_about_a_second_and_is_capped_at_ten() {
        let timing = RetryTiming::default();
        for _ in 0..200 {
            let first = timing.backoff(1);
            assert!(first >= Duration::from_millis(750) && first <= Duration::from_millis(1250));
            let third = timing.backoff(3);
            assert!(third >= Duration::from_secs(3) && third <= Duration::from_secs(5));
            for retry in [5, 6, 40, u32::MAX] {
                let late = timing.backoff(retry);
                assert!(late >= Duration::from_millis(7500) && late <= Duration::from_secs(10));
            }
        }
    }

    #[test]
    fn backoff_has_jitter() {
        let timing = RetryTiming::default();
        let waits: std::collections::HashSet<_> = (0..20).map(|_| timing.backoff(2)).collect();
        assert!(waits.len() > 1);
    }

    #[test]
    fn connection_retries_give_up_within_ten_seconds() {
        let delays = RetryTiming::default().connection_delays;
        assert_eq!(delays.len(), 3);
        assert!(delays.iter().sum::<Duration>() < Duration::from_secs(5));
    }

    /// Values a server might send: numbers of any size and sign, HTTP dates of any year in
    /// the three formats, and anything else.
    fn retry_after_value() -> impl Strategy<Value = String> {
        let any_date = (0u64..=253_402_300_799).prop_map(|seconds| {
            httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
        });
        prop_oneof![
            "[ \t]{0,2}[+-]?[0-9]{1,30}[ \t]{0,2}",
            any_date,
            "(Sun|Mon|Xyz), [0-9]{1,3} (Jan|Feb|Foo) [0-9]{1,6} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2} GMT",
            "(Sunday|Monday), [0-9]{2}-(Jan|Oct)-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
            "(Sun|Mon) (Jan|Nov) [ 0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}",
            ".{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        #[test]
        fn fuzz_retry_after(
            value in retry_after_value(),
            now_seconds in 0u64..=253_402_300_799,
            elapsed_ms in any::<u64>(),
            budget_ms in any::<u64>(),
        ) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now_seconds);
            let parsed = parse_retry_after(&value, now);
            if let Ok(seconds) = value.trim().parse::<u64>() {
                prop_assert_eq!(parsed, Some(Duration::from_secs(seconds)));
            }
            if let Some(wait) = parsed {
                // The client's checks of a wait against its budget never overflow.
                let (elapsed, budget) =
                    (Duration::from_millis(elapsed_ms), Duration::from_millis(budget_ms));
                let fits = crate::api::client::fits_budget(elapsed, wait, budget);
                prop_assert!(!fits || wait <= budget);
                let shown = crate::api::error::seconds(wait);
                prop_assert!(shown.ends_with(" s"));
            }
        }
    }

    #[test]
    fn throttling_is_429_503_or_a_rate_limit_code() {
        let api = |status, code: &str| Error::Api {
            status,
            error_code: code.into(),
            message: String::new(),
        };
        assert!(is_throttled(&api(429, "TOO_MANY_REQUESTS")));
        assert!(is_throttled(&api(503, "TEMPORARILY_UNAVAILABLE")));
        assert!(is_throttled(&api(400, "REQUEST_LIMIT_EXCEEDED")));
        assert!(is_throttled(&api(500, "RESOURCE_EXHAUSTED")));
        assert!(is_throttled(&Error::UnexpectedBody {
            status: 503,
            excerpt: String::new()
        }));
        assert!(!is_throttled(&api(500, "INTERNAL_ERROR")));
        assert!(!is_throttled(&api(400, "RESOURCE_LIMIT_EXCEEDED")));
        assert!(!is_throttled(&api(404, "RESOURCE_DOES_NOT_EXIST")));
    }
}
