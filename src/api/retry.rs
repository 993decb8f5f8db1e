//! Every retry decision: what is retried, how long to wait (`Retry-After`, backoff), within
//! what budget, and what a retry's answer means after an attempt that may have been carried out.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use super::error::Error;
use super::transport::Failure;

/// Error codes that mean "rate limited", whatever the status.
const RATE_LIMIT_CODES: [&str; 2] = ["REQUEST_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED"];

/// Error codes that, answered to a retry after an attempt whose answer was lost, mean that
/// attempt was carried out.
const ALREADY_EXISTS: &str = "RESOURCE_ALREADY_EXISTS";
const DOES_NOT_EXIST: &str = "RESOURCE_DOES_NOT_EXIST";

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

/// A request that changes something, and how a retry can tell that an earlier attempt whose
/// answer was lost did the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Put: the retry's answer tells nothing of earlier attempts.
    Put,
    /// Create: `RESOURCE_ALREADY_EXISTS` means the earlier attempt created it.
    Create,
    /// Delete: `RESOURCE_DOES_NOT_EXIST` means the earlier attempt deleted it.
    Delete,
}

impl Change {
    fn done_code(self) -> Option<&'static str> {
        match self {
            Change::Put => None,
            Change::Create => Some(ALREADY_EXISTS),
            Change::Delete => Some(DOES_NOT_EXIST),
        }
    }
}

/// A retry about to be made, for the user's notice.
pub(crate) struct RetryNotice {
    pub delay: Duration,
    /// The number of the attempt about to be made (2 for the first retry).
    pub attempt: u32,
    /// Why the last attempt failed.
    pub reason: String,
    /// The last answer asked to slow down (429, 503 or a rate-limit code).
    pub throttled: bool,
}

/// The retry rules of one client.
pub(crate) struct RetryPolicy {
    pub timing: RetryTiming,
    /// The total time retries may take.
    pub budget: Duration,
}

impl RetryPolicy {
    /// Runs a read's attempts until one succeeds or a failure is final. A read that timed
    /// out is not retried: the server was slow, another wait would only double the wait.
    pub async fn read<T, F, Fut>(
        &self,
        attempt: F,
        notify: impl Fn(&RetryNotice),
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        self.run(None, attempt, notify).await.result
    }

    /// Runs a change's attempts; when an earlier attempt may have been carried out and the
    /// retry answers that it was (the scope exists, the secret is gone), that is success.
    pub async fn change<T, F, Fut>(
        &self,
        change: Change,
        attempt: F,
        notify: impl Fn(&RetryNotice),
    ) -> Result<(), Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let outcome = self.run(Some(change), attempt, notify).await;
        match outcome.result {
            Err(error)
                if outcome.after_ambiguous_attempt
                    && change
                        .done_code()
                        .is_some_and(|code| error.error_code() == Some(code)) =>
            {
                Ok(())
            }
            result => result.map(drop),
        }
    }

    async fn run<T, F, Fut>(
        &self,
        change: Option<Change>,
        mut attempt: F,
        notify: impl Fn(&RetryNotice),
    ) -> Outcome<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let started = Instant::now();
        let mut after_ambiguous_attempt = false;
        let mut counts = RetryCounts::default();
        let mut number = 1;
        loop {
            let failure = match attempt().await {
                Ok(answer) => {
                    return Outcome {
                        result: Ok(answer),
                        after_ambiguous_attempt,
                    };
                }
                Err(failure) => failure,
            };
            let throttled =
                matches!(&failure, Failure::ErrorAnswer { error, .. } if is_throttled(error));
            let plan = self.plan(failure, change.is_some(), number, &mut counts);
            let elapsed = started.elapsed();
            let Some(delay) = plan
                .delay
                .filter(|delay| fits_budget(elapsed, *delay, self.budget))
            else {
                let remaining = self.budget.saturating_sub(elapsed);
                return Outcome {
                    result: Err(plan.into_error(remaining, self.budget)),
                    after_ambiguous_attempt,
                };
            };
            after_ambiguous_attempt |= plan.maybe_processed;
            number += 1;
            notify(&RetryNotice {
                delay,
                attempt: number,
                reason: retry_reason(&plan.error),
                throttled,
            });
            tokio::time::sleep(delay).await;
        }
    }

    /// What follows a failed attempt (`attempt` = its number, 1 for the first).
    fn plan(
        &self,
        failure: Failure,
        is_change: bool,
        attempt: u32,
        counts: &mut RetryCounts,
    ) -> RetryPlan {
        let timing = &self.timing;
        match failure {
            Failure::ErrorAnswer { error, retry_after } if is_throttled(&error) => {
                let retry_after = retry_after
                    .as_deref()
                    .and_then(|value| parse_retry_after(value, SystemTime::now()));
                RetryPlan {
                    delay: Some(retry_after.map_or_else(
                        || timing.backoff(attempt),
                        |after| after.max(timing.min_wait),
                    )),
                    // A 503 may come from a gateway after the service carried the request out.
                    maybe_processed: error.status() == Some(503),
                    retry_after,
                    error,
                }
            }
            // A connection made later may work; once connected, the request may have been
            // sent and carried out.
            Failure::NotConnected(error) => counts.connection_retry(timing, error, false),
            Failure::Lost(error) => counts.connection_retry(timing, error, true),
            // A change that got no answer in time may have been carried out: it is retried
            // once, and the retry's answer is read in that light.
            Failure::TimedOut(error) if is_change => {
                let first_retry = counts.timed_out_change == 0;
                counts.timed_out_change += 1;
                RetryPlan {
                    error,
                    delay: timing
                        .connection_delays
                        .first()
                        .copied()
                        .filter(|_| first_retry),
                    maybe_processed: true,
                    retry_after: None,
                }
            }
            // Other error answers, a read that timed out, a connect timeout (already a long
            // wait), and answers no retry can change (TLS, redirects, not HTTP).
            Failure::ErrorAnswer { error, .. }
            | Failure::TimedOut(error)
            | Failure::ConnectTimedOut(error)
            | Failure::Unusable(error) => RetryPlan::final_error(error),
        }
    }
}

/// The result of a call, and whether an earlier attempt may have been carried out.
struct Outcome<T> {
    result: Result<T, Error>,
    after_ambiguous_attempt: bool,
}

/// The retries made so far of the kinds that have a fixed limit.
#[derive(Default)]
struct RetryCounts {
    connection: usize,
    timed_out_change: usize,
}

impl RetryCounts {
    fn connection_retry(
        &mut self,
        timing: &RetryTiming,
        error: Error,
        maybe_processed: bool,
    ) -> RetryPlan {
        let delay = timing.connection_delays.get(self.connection).copied();
        self.connection += 1;
        RetryPlan {
            error,
            delay,
            maybe_processed,
            retry_after: None,
        }
    }
}

/// What follows a failed attempt: the error if it is the last, else the wait before the next.
struct RetryPlan {
    error: Error,
    delay: Option<Duration>,
    /// The failed attempt may have been carried out by the server.
    maybe_processed: bool,
    /// The wait the server asked for (`Retry-After`), which `delay` honours.
    retry_after: Option<Duration>,
}

impl RetryPlan {
    fn final_error(error: Error) -> RetryPlan {
        RetryPlan {
            error,
            delay: None,
            maybe_processed: false,
            retry_after: None,
        }
    }

    /// The error to report when the planned retry does not fit in the `remaining` budget.
    fn into_error(self, remaining: Duration, budget: Duration) -> Error {
        match self.retry_after.filter(|_| self.delay.is_some()) {
            Some(retry_after) => Error::RateLimited {
                cause: Box::new(self.error),
                retry_after,
                remaining,
                budget,
            },
            None => self.error,
        }
    }
}

/// Whether a wait of `delay` after `elapsed` stays within `budget` (no overflow for any input).
pub(crate) fn fits_budget(elapsed: Duration, delay: Duration, budget: Duration) -> bool {
    elapsed
        .checked_add(delay)
        .is_some_and(|total| total <= budget)
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

/// The failure in a retry notice: short, as the full error follows if the retries fail.
fn retry_reason(error: &Error) -> String {
    match error {
        Error::Api {
            status, error_code, ..
        } => format!("{status} {error_code}"),
        Error::UnexpectedBody { status, .. } => format!("HTTP {status}"),
        Error::Connect { detail, .. } | Error::ConnectionLost { detail, .. } => detail.clone(),
        other => other.to_string(),
    }
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
                let fits = fits_budget(elapsed, wait, budget);
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
