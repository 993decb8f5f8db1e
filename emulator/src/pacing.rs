//! Playing a far-away, rate-limited workspace: a delay before every answer, and a token bucket
//! over the Secrets API that answers `429 REQUEST_LIMIT_EXCEEDED` when it is empty.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Paths the rate limit applies to (one bucket for the whole workspace).
pub(crate) const RATE_LIMITED_PREFIX: &str = "/api/2.0/secrets/";

/// A token bucket: `requests_per_second` sustained, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests_per_second: f64,
    pub burst: u32,
}

impl RateLimit {
    /// `requests_per_second` with a burst of one second's worth of requests (at least 1).
    pub fn per_second(requests_per_second: f64) -> RateLimit {
        let burst = requests_per_second.ceil().clamp(1.0, f64::from(u32::MAX)) as u32;
        RateLimit {
            requests_per_second,
            burst,
        }
    }

    pub fn with_burst(mut self, burst: u32) -> RateLimit {
        self.burst = burst;
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.requests_per_second.is_finite() && self.requests_per_second > 0.0) {
            return Err(format!(
                "the rate must be a positive number of requests per second, not {}",
                self.requests_per_second
            ));
        }
        if self.burst == 0 {
            return Err("the burst must be at least 1".into());
        }
        Ok(())
    }
}

/// `RPS` or `RPS/BURST`, e.g. `200` or `50/10`.
impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || format!("expected RPS or RPS/BURST (e.g. 200 or 50/10), not {text:?}");
        let (rate, burst) = match text.split_once('/') {
            Some((rate, burst)) => (rate, Some(burst)),
            None => (text, None),
        };
        let rate: f64 = rate.trim().parse().map_err(|_| usage())?;
        let mut limit = RateLimit::per_second(rate);
        if let Some(burst) = burst {
            limit.burst = burst.trim().parse().map_err(|_| usage())?;
        }
        limit.validate()?;
        Ok(limit)
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.requests_per_second, self.burst)
    }
}

/// A request the bucket refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// The `Retry-After` header to send (whole seconds, at least 1), unless switched off.
    pub retry_after_seconds: Option<u64>,
}

/// What the control API shows (`GET /__emulator/pacing`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PacingStatus {
    pub latency_ms: u64,
    pub rate_limit: Option<RateLimit>,
    pub retry_after: bool,
    pub throttled: u64,
}

/// A change through the control API (`POST /__emulator/pacing`); absent fields stay as they are,
/// `"rate_limit": null` switches the limit off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PacingUpdate {
    latency_ms: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    rate_limit: Option<Option<RateLimit>>,
    retry_after: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl PacingUpdate {
    pub fn validate(&self) -> Result<(), String> {
        match &self.rate_limit {
            Some(Some(limit)) => limit.validate(),
            _ => Ok(()),
        }
    }
}

/// The latency and the rate limit in effect, and how many requests were throttled.
#[derive(Debug)]
pub(crate) struct Pacing {
    latency: Duration,
    rate_limit: Option<RateLimit>,
    retry_after: bool,
    tokens: f64,
    refilled_at: Instant,
    throttled: u64,
}

impl Pacing {
    pub fn new(latency: Duration, rate_limit: Option<RateLimit>, retry_after: bool) -> Pacing {
        let mut pacing = Pacing {
            latency,
            rate_limit,
            retry_after,
            tokens: 0.0,
            refilled_at: Instant::now(),
            throttled: 0,
        };
        pacing.fill_bucket(Instant::now());
        pacing
    }

    pub fn latency(&self) -> Duration {
        self.latency
    }

    pub fn set_latency(&mut self, latency: Duration) {
        self.latency = latency;
    }

    /// Replaces the limit; the bucket starts full.
    pub fn set_rate_limit(&mut self, rate_limit: Option<RateLimit>) {
        self.rate_limit = rate_limit;
        self.fill_bucket(Instant::now());
    }

    pub fn throttled(&self) -> u64 {
        self.throttled
    }

    /// Zeroes the throttled count and fills the bucket.
    pub fn reset(&mut self) {
        self.throttled = 0;
        self.fill_bucket(Instant::now());
    }

    pub fn status(&self) -> PacingStatus {
        PacingStatus {
            latency_ms: u64::try_from(self.latency.as_millis()).unwrap_or(u64::MAX),
            rate_limit: self.rate_limit,
            retry_after: self.retry_after,
            throttled: self.throttled,
        }
    }

    pub fn update(&mut self, update: PacingUpdate) {
        if let Some(latency_ms) = update.latency_ms {
            self.latency = Duration::from_millis(latency_ms);
        }
        if let Some(rate_limit) = update.rate_limit {
            self.set_rate_limit(rate_limit);
        }
        if let Some(retry_after) = update.retry_after {
            self.retry_after = retry_after;
        }
    }

    /// Takes a token for a request to `path` at `now`, or says how long until one is free.
    pub fn admit(&mut self, path: &str, now: Instant) -> Result<(), Throttled> {
        let Some(limit) = self.rate_limit else {
            return Ok(());
        };
        if !path.starts_with(RATE_LIMITED_PREFIX) {
            return Ok(());
        }
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * limit.requests_per_second).min(f64::from(limit.burst));
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        self.throttled += 1;
        let wait_seconds = (1.0 - self.tokens) / limit.requests_per_second;
        let retry_after_seconds = self
            .retry_after
            .then(|| (wait_seconds.ceil() as u64).max(1));
        Err(Throttled {
            retry_after_seconds,
        })
    }

    fn fill_bucket(&mut self, now: Instant) {
        self.tokens = self.rate_limit.map_or(0.0, |limit| f64::from(limit.burst));
        self.refilled_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUT: &str = "/api/2.0/secrets/put";

    #[test]
    fn rate_limits_parse_with_an_optional_burst() {
        assert_eq!(
            "200".parse::<RateLimit>().unwrap(),
            RateLimit::per_second(200.0).with_burst(200)
        );
        assert_eq!(
            "0.5".parse::<RateLimit>().unwrap(),
            RateLimit::per_second(0.5).with_burst(1)
        );
        assert_eq!(
            " 50 / 10 ".parse::<RateLimit>().unwrap(),
            RateLimit::per_second(50.0).with_burst(10)
        );
        for bad in ["", "x", "0", "-3", "10/0", "10/x", "NaN", "inf", "1/2/3"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz_config())]

        #[test]
        fn fuzz_rate_limit(text in "[0-9./ eEinfa+-]{0,16}") {
            if let Ok(limit) = text.parse::<RateLimit>() {
                proptest::prop_assert!(limit.validate().is_ok());
                proptest::prop_assert_eq!(limit.to_string().parse::<RateLimit>(), Ok(limit));
            }
        }
    }

    #[test]
    fn the_bucket_allows_the_burst_then_the_rate() {
        let start = Instant::now();
        let limit = RateLimit::per_second(10.0).with_burst(3);
        let mut pacing = Pacing::new(Duration::ZERO, Some(limit), true);
        for _ in 0..3 {
            assert_eq!(pacing.admit(PUT, start), Ok(()));
        }
        let throttled = pacing.admit(PUT, start).unwrap_err();
        assert_eq!(throttled.retry_after_seconds, Some(1));
        assert_eq!(pacing.throttled(), 1);
        // 100 ms later one request's worth has refilled
        let later = start + Duration::from_millis(100);
        assert_eq!(pacing.admit(PUT, later), Ok(()));
        assert!(pacing.admit(PUT, later).is_err());
        // other APIs are not limited
        assert_eq!(pacing.admit("/oidc/v1/token", later), Ok(()));
        pacing.reset();
        assert_eq!(pacing.throttled(), 0);
        assert_eq!(pacing.admit(PUT, later), Ok(()));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_or_is_left_out() {
        let start = Instant::now();
        let limit = RateLimit::per_second(0.25).with_burst(1);
        let mut pacing = Pacing::new(Duration::ZERO, Some(limit), true);
        assert_eq!(pacing.admit(PUT, start), Ok(()));
        let throttled = pacing.admit(PUT, start + Duration::from_millis(500));
        assert_eq!(throttled.unwrap_err().retry_after_seconds, Some(4));
        pacing.update(PacingUpdate {
            retry_after: Some(false),
            ..PacingUpdate::default()
        });
        pacing.reset();
        pacing.admit(PUT, start).unwrap();
        let throttled = pacing.admit(PUT, start).unwrap_err();
        assert_eq!(throttled.retry_after_seconds, None);
    }

    #[test]
    fn updates_distinguish_absent_from_null() {
        let update: PacingUpdate = serde_json::from_str(r#"{"latency_ms": 5}"#).unwrap();
        assert!(update.rate_limit.is_none());
        let update: PacingUpdate = serde_json::from_str(r#"{"rate_limit": null}"#).unwrap();
        assert_eq!(update.rate_limit, Some(None));
        let update: PacingUpdate =
            serde_json::from_str(r#"{"rate_limit": {"requests_per_second": 0, "burst": 1}}"#)
                .unwrap();
        assert!(update.validate().is_err());
        assert!(serde_json::from_str::<PacingUpdate>(r#"{"latency": 5}"#).is_err());
    }
}
