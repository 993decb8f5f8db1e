//! Fault injection: queued misbehaviours applied to the next matching requests.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One queued fault; see the crate documentation for the JSON shape and the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fault {
    /// Answer with this HTTP status instead of handling the request.
    pub status: Option<u16>,
    /// The `Retry-After` header value, e.g. `"2"` or an HTTP date.
    pub retry_after: Option<String>,
    /// `error_code` of the JSON error body (default: derived from the status).
    pub error_code: Option<String>,
    /// `message` of the JSON error body.
    pub message: Option<String>,
    /// A raw (e.g. HTML) body instead of the JSON error; alone it means status 200.
    pub body: Option<String>,
    /// Content type of `body` (default `text/html; charset=utf-8`).
    pub content_type: Option<String>,
    /// A `Location` header; alone it means status 302.
    pub location: Option<String>,
    /// Wait this long before answering (or before handling the request normally).
    pub delay_ms: u64,
    /// Close the connection without any answer (after `delay_ms`).
    pub drop_connection: bool,
    /// How many matching requests this fault applies to.
    pub count: u32,
    /// Only requests to exactly this path.
    pub path: Option<String>,
    /// Only requests whose path starts with this.
    pub path_prefix: Option<String>,
    /// Only requests with this method (any case).
    pub method: Option<String>,
}

impl Default for Fault {
    fn default() -> Self {
        Fault {
            status: None,
            retry_after: None,
            error_code: None,
            message: None,
            body: None,
            content_type: None,
            location: None,
            delay_ms: 0,
            drop_connection: false,
            count: 1,
            path: None,
            path_prefix: None,
            method: None,
        }
    }
}

impl Fault {
    /// Answer `status` with the matching Databricks-shaped JSON error.
    pub fn status(status: u16) -> Fault {
        Fault {
            status: Some(status),
            ..Fault::default()
        }
    }

    /// Close the connection without an answer.
    pub fn drop_connection() -> Fault {
        Fault {
            drop_connection: true,
            ..Fault::default()
        }
    }

    /// Handle the request normally, but only after `delay`.
    pub fn delay(delay: Duration) -> Fault {
        Fault::default().with_delay(delay)
    }

    /// Answer `status` with a non-JSON `body` (as `text/html`).
    pub fn html(status: u16, body: impl Into<String>) -> Fault {
        Fault {
            status: Some(status),
            body: Some(body.into()),
            ..Fault::default()
        }
    }

    /// Answer `302 Found` to `location` with an HTML body, like a login redirect.
    pub fn redirect(location: impl Into<String>) -> Fault {
        Fault {
            location: Some(location.into()),
            ..Fault::html(302, "<html><body>Redirecting to login</body></html>")
        }
    }

    pub fn with_retry_after(mut self, value: impl Into<String>) -> Self {
        self.retry_after = Some(value.into());
        self
    }

    pub fn with_error(mut self, error_code: impl Into<String>, message: impl Into<String>) -> Self {
        self.error_code = Some(error_code.into());
        self.message = Some(message.into());
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self
    }

    pub fn with_count(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn with_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    pub fn with_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Checks that the fault is well-formed and does something.
    pub fn validate(&self) -> Result<(), String> {
        if self.count == 0 {
            return Err("count must be at least 1".into());
        }
        if let Some(status) = self.status.filter(|status| !(100..=599).contains(status)) {
            return Err(format!("status {status} is not an HTTP status (100-599)"));
        }
        let headers = [
            ("retry_after", &self.retry_after),
            ("content_type", &self.content_type),
            ("location", &self.location),
        ];
        for (name, value) in headers {
            let valid = value
                .as_deref()
                .is_none_or(|value| hyper::header::HeaderValue::from_str(value).is_ok());
            if !valid {
                return Err(format!("{name} is not a valid HTTP header value"));
            }
        }
        let does_something = self.status.is_some()
            || self.body.is_some()
            || self.location.is_some()
            || self.drop_connection
            || self.delay_ms > 0;
        if !does_something {
            return Err(
                "the fault does nothing: give status, body, location, drop_connection or delay_ms"
                    .into(),
            );
        }
        Ok(())
    }

    pub(crate) fn delay_duration(&self) -> Duration {
        Duration::from_millis(self.delay_ms)
    }

    /// The status to answer with, if the fault replaces the answer.
    pub(crate) fn answer_status(&self) -> Option<u16> {
        self.status
            .or(self.location.as_ref().map(|_| 302))
            .or(self.body.as_ref().map(|_| 200))
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_ref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method))
            && self.path.as_ref().is_none_or(|wanted| wanted == path)
            && self
                .path_prefix
                .as_ref()
                .is_none_or(|prefix| path.starts_with(prefix.as_str()))
    }
}

/// The default `error_code` for a faulted status.
pub(crate) fn default_error_code(status: u16) -> &'static str {
    match status {
        429 => "REQUEST_LIMIT_EXCEEDED",
        503 => "TEMPORARILY_UNAVAILABLE",
        502 => "BAD_GATEWAY",
        504 => "DEADLINE_EXCEEDED",
        500..=599 => "INTERNAL_ERROR",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        _ => "BAD_REQUEST",
    }
}

/// Pending faults, first queued first applied.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    pending: Vec<Fault>,
}

impl FaultQueue {
    pub fn push(&mut self, fault: Fault) {
        self.pending.push(fault);
    }

    pub fn clear(&mut self) {
        self.pending.clear();
    }

    pub fn pending(&self) -> Vec<Fault> {
        self.pending.clone()
    }

    /// Takes one use of the first fault matching the request.
    pub fn take(&mut self, method: &str, path: &str) -> Option<Fault> {
        let index = self
            .pending
            .iter()
            .position(|fault| fault.matches(method, path))?;
        let fault = &mut self.pending[index];
        fault.count = fault.count.saturating_sub(1);
        if fault.count == 0 {
            Some(self.pending.remove(index))
        } else {
            Some(fault.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_taken_in_order_with_counts_and_filters() {
        let mut queue = FaultQueue::default();
        queue.push(Fault::status(503).with_count(2).with_path("/a"));
        queue.push(
            Fault::status(429)
                .with_path_prefix("/b/")
                .with_method("get"),
        );
        assert_eq!(queue.take("GET", "/b/c").unwrap().status, Some(429));
        assert_eq!(queue.take("GET", "/b/c"), None);
        assert_eq!(queue.take("POST", "/a").unwrap().status, Some(503));
        assert_eq!(queue.take("POST", "/a").unwrap().status, Some(503));
        assert_eq!(queue.take("POST", "/a"), None);
        assert!(queue.pending().is_empty());
    }

    #[test]
    fn json_shape_has_defaults_and_rejects_unknown_fields() {
        let fault: Fault = serde_json::from_str(r#"{"status": 429, "retry_after": "1"}"#).unwrap();
        assert_eq!(fault.count, 1);
        assert_eq!(fault.retry_after.as_deref(), Some("1"));
        assert!(serde_json::from_str::<Fault>(r#"{"stauts": 429}"#).is_err());
    }

    #[test]
    fn validation_rejects_useless_or_broken_faults() {
        assert!(Fault::default().validate().is_err());
        assert!(Fault::status(700).validate().is_err());
        assert!(Fault::status(503).with_count(0).validate().is_err());
        assert!(
            Fault::status(503)
                .with_retry_after("bad\nvalue")
                .validate()
                .is_err()
        );
        assert!(
            Fault::redirect("https://login.example.com/")
                .validate()
                .is_ok()
        );
        assert_eq!(Fault::redirect("x").answer_status(), Some(302));
        assert_eq!(Fault::delay(Duration::from_millis(5)).answer_status(), None);
    }
}
