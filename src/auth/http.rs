//! Requests to identity providers (token endpoints, discovery, ID-token endpoints, managed
//! identity): retried like the API (429, 5xx, failed connections, `Retry-After`) within their
//! own budget, OAuth error answers read and never retried, and a `--debug` log in which no
//! secret appears (form bodies, headers and token answers are redacted).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;
use serde_json::Value;

use super::error::AuthError;
use super::token::Token;
use crate::secret::Secret;

/// Receives one `--debug` line at a time, already redacted.
pub type DebugLog = Option<Arc<dyn Fn(&str) + Send + Sync>>;

/// Form fields and answer fields whose values are secrets.
const SECRET_FIELDS: [&str; 12] = [
    "client_secret",
    "client_assertion",
    "assertion",
    "subject_token",
    "refresh_token",
    "access_token",
    "id_token",
    "code",
    "code_verifier",
    "value",
    "oidcToken",
    "accessToken",
];

const MASK: &str = "***";

/// Shorter secrets are not masked in texts: replacing every `a` would hide nothing.
const MIN_MASKED_CHARS: usize = 4;

/// Longest excerpt of an unexpected answer kept for a message, in characters.
const EXCERPT_CHARS: usize = 200;

/// Statuses that mean "try again": throttled, or the server is failing for now.
const RETRIED_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];

/// Failed connections are retried this many times, then reported.
const MAX_CONNECTION_RETRIES: u32 = 3;

/// How long token requests are retried: the reference's one minute per token by default.
#[derive(Debug, Clone)]
pub struct RetryRules {
    pub budget: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryRules {
    fn default() -> Self {
        RetryRules {
            budget: Duration::from_secs(60),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryRules {
    fn backoff(&self, retry: u32) -> Duration {
        let base = self
            .first_backoff
            .saturating_mul(1 << retry.saturating_sub(1).min(16))
            .min(self.max_backoff);
        base.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// One HTTP client for every identity provider request of a process.
#[derive(Clone)]
pub struct TokenHttp {
    client: reqwest::Client,
    retry: RetryRules,
    debug: DebugLog,
}

impl fmt::Debug for TokenHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenHttp")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A request as every attempt sends it. Form values and header values may be secrets: they are
/// masked in the log and in anything an answer echoes back.
#[derive(Default)]
pub(crate) struct Call {
    pub method: Method,
    pub url: String,
    pub form: Vec<(&'static str, String)>,
    pub headers: Vec<(&'static str, Secret)>,
}

impl Call {
    pub fn get(url: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            url: url.into(),
            ..Call::default()
        }
    }

    pub fn post_form(url: impl Into<String>, form: Vec<(&'static str, String)>) -> Call {
        Call {
            method: Method::POST,
            url: url.into(),
            form,
            ..Call::default()
        }
    }

    pub fn header(mut self, name: &'static str, value: Secret) -> Call {
        self.headers.push((name, value));
        self
    }

    fn body(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.form.iter().map(|(key, value)| (*key, value.as_str())))
            .finish()
    }

    fn body_for_log(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.form.iter().map(|(key, value)| {
                let shown = if SECRET_FIELDS.contains(key) {
                    MASK
                } else {
                    value
                };
                (*key, shown)
            }))
            .finish()
    }

    /// Every secret this call carries, for masking texts of its answer.
    fn mask(&self, text: &str) -> String {
        let secrets = self
            .form
            .iter()
            .filter(|(key, _)| SECRET_FIELDS.contains(key))
            .map(|(_, value)| value.as_str())
            .chain(self.headers.iter().map(|(_, value)| value.expose()))
            .chain(self.headers.iter().filter_map(|(_, value)| {
                value
                    .expose()
                    .split_once(' ')
                    .map(|(_, credential)| credential)
            }));
        let mut masked = text.to_string();
        for secret in secrets.filter(|secret| secret.len() >= MIN_MASKED_CHARS) {
            masked = masked.replace(secret, MASK);
        }
        masked
    }
}

/// A final answer (2xx, 3xx or an error that is not retried).
pub(crate) struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl TokenHttp {
    /// `client` must not follow redirects (tenant discovery reads the redirect itself).
    pub fn new(client: reqwest::Client, retry: RetryRules, debug: DebugLog) -> TokenHttp {
        TokenHttp {
            client,
            retry,
            debug,
        }
    }

    pub(crate) fn debug(&self, line: &dyn Fn() -> String) {
        if let Some(log) = &self.debug {
            log(&line());
        }
    }

    /// A token answer: a `Token`, or the provider's refusal as an `AuthError::OAuth`.
    pub(crate) async fn token(&self, call: &Call) -> Result<Token, AuthError> {
        let answer = self.json(call).await?;
        Token::from_answer(&answer, SystemTime::now()).map_err(|problem| {
            AuthError::Failed(format!(
                "the answer of {} is not a token answer: {problem}",
                call.url
            ))
        })
    }

    /// A JSON object answered with 2xx.
    pub(crate) async fn json(&self, call: &Call) -> Result<Value, AuthError> {
        let answer = self.send(call).await?;
        if !(200..300).contains(&answer.status) {
            return Err(refusal(call, &answer));
        }
        serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| AuthError::UnexpectedAnswer {
                url: call.url.clone(),
                status: answer.status,
                excerpt: call.mask(&excerpt(&answer.body)),
            })
    }

    /// Sends `call`, retrying within the budget, and returns the first final answer.
    pub(crate) async fn send(&self, call: &Call) -> Result<Answer, AuthError> {
        let started = Instant::now();
        let (mut retry, mut connection_failures) = (0, 0);
        loop {
            let (failure, retry_after) = match self.attempt(call).await {
                Ok(answer) if !RETRIED_STATUSES.contains(&answer.status) => return Ok(answer),
                Ok(answer) => {
                    let retry_after = answer.location.as_deref().and_then(parse_retry_after);
                    (format!("HTTP {}", answer.status), retry_after)
                }
                // A mistyped host or an absent endpoint should fail fast, as in the API client.
                Err(detail) if connection_failures == MAX_CONNECTION_RETRIES => {
                    return Err(AuthError::Unreachable {
                        url: call.url.clone(),
                        detail,
                    });
                }
                Err(detail) => {
                    connection_failures += 1;
                    (detail, None)
                }
            };
            retry += 1;
            let delay = retry_after
                .unwrap_or_default()
                .max(self.retry.backoff(retry));
            if started.elapsed() + delay > self.retry.budget {
                return Err(AuthError::RetriesExhausted {
                    url: call.url.clone(),
                    last: failure,
                    budget: self.retry.budget,
                });
            }
            self.debug(&|| {
                format!(
                    "{} {} failed ({failure}); retrying in {} ms",
                    call.method,
                    call.url,
                    delay.as_millis()
                )
            });
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt. For a retried status, `location` carries the `Retry-After` header instead.
    async fn attempt(&self, call: &Call) -> Result<Answer, String> {
        self.debug(&|| call.mask(&format!("> {} {}", call.method, call.url)));
        let mut request = self.client.request(call.method.clone(), &call.url);
        for (name, value) in &call.headers {
            let mut header = reqwest::header::HeaderValue::from_str(value.expose())
                .map_err(|_| format!("the {name} header cannot be sent (a line break?)"))?;
            header.set_sensitive(true);
            request = request.header(*name, header);
            self.debug(&|| format!("> {name}: {MASK}"));
        }
        if call.method == Method::POST {
            self.debug(&|| format!("> {}", call.body_for_log()));
            request = request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(call.body());
        }
        let response = request
            .send()
            .await
            .map_err(|error| describe_failure(&error))?;
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let location = if RETRIED_STATUSES.contains(&status) {
            header(reqwest::header::RETRY_AFTER)
        } else {
            header(reqwest::header::LOCATION)
        };
        let body = response
            .bytes()
            .await
            .map_err(|error| describe_failure(&error))?
            .to_vec();
        self.debug(&|| format!("< HTTP {status} {}", call.mask(&body_for_log(&body))));
        Ok(Answer {
            status,
            location,
            body,
        })
    }
}

/// An error answer as an `AuthError`: the OAuth `error` and `error_description` when it has
/// them (Entra ID's description cut before its trace ids, with its `error_uri`), else an excerpt.
fn refusal(call: &Call, answer: &Answer) -> AuthError {
    let json = serde_json::from_slice::<Value>(&answer.body).unwrap_or(Value::Null);
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(|t| call.mask(t));
    if let Some(error) = text("error") {
        let mut description = text("error_description").unwrap_or_default();
        if let Some(cut) = description.find(". Trace ID") {
            description.truncate(cut);
        }
        if let Some(uri) = text("error_uri").filter(|uri| !uri.is_empty()) {
            description = format!("{description}. See {uri}");
        }
        return AuthError::OAuth {
            url: call.url.clone(),
            error,
            description,
            fix: None,
        };
    }
    let excerpt = match (text("error_code"), text("message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => call.mask(&excerpt(&answer.body)),
    };
    AuthError::UnexpectedAnswer {
        url: call.url.clone(),
        status: answer.status,
        excerpt,
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut excerpt: String = text.trim().chars().take(EXCERPT_CHARS).collect();
    if text.trim().chars().count() > EXCERPT_CHARS {
        excerpt.push_str("...");
    }
    excerpt
}

/// A JSON answer with its secret fields masked; other bodies as a short excerpt.
fn body_for_log(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => crate::api::redact_fields(&json, &SECRET_FIELDS).to_string(),
        Err(_) => excerpt(body),
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value.trim()).ok()?;
    Some(date.duration_since(SystemTime::now()).unwrap_or_default())
}

/// The innermost cause of a failed exchange (refused, reset, timed out, ...).
fn describe_failure(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer in time".to_string();
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        #[test]
        fn fuzz_oauth_error_answer(
            status in 400u16..600,
            body in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..300),
                (".{0,30}", ".{0,60}", ".{0,20}").prop_map(|(error, description, uri)| {
                    serde_json::json!({
                        "error": error,
                        "error_description": format!("{description} s3cret-client-value. Trace ID: 1"),
                        "error_uri": uri,
                    })
                    .to_string()
                    .into_bytes()
                }),
            ],
        ) {
            let call = Call::post_form(
                "http://127.0.0.1/oidc/v1/token",
                vec![("client_secret", "s3cret-client-value".to_string())],
            );
            let answer = Answer { status, location: None, body };
            let message = refusal(&call, &answer).to_string();
            prop_assert!(!message.contains("s3cret-client-value"), "{}", message);
        }
    }

    #[test]
    fn the_logged_form_hides_secret_fields() {
        let call = Call::post_form(
            "http://127.0.0.1/oidc/v1/token",
            vec![
                ("grant_type", "client_credentials".into()),
                ("client_secret", "s3cr3t-value".into()),
                ("subject_token", "eyJhbGciOi".into()),
            ],
        );
        let logged = call.body_for_log();
        assert_eq!(
            logged,
            "grant_type=client_credentials&client_secret=***&subject_token=***"
        );
        assert!(call.body().contains("s3cr3t-value"));
    }

    #[test]
    fn answers_echoing_a_secret_are_masked() {
        let call = Call::get("http://127.0.0.1/x")
            .header("Authorization", Secret::new("Bearer request-token-1"));
        assert_eq!(call.mask("bad token request-token-1"), "bad token ***");
    }

    #[test]
    fn token_answers_are_redacted_in_the_log() {
        let body = br#"{"access_token":"eyJ.a.b","token_type":"Bearer","expires_in":3600}"#;
        assert_eq!(
            body_for_log(body),
            r#"{"access_token":"***","token_type":"Bearer","expires_in":3600}"#
        );
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let past = httpdate::fmt_http_date(SystemTime::UNIX_EPOCH);
        assert_eq!(parse_retry_after(&past), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn entra_descriptions_lose_their_trace_ids_and_gain_their_link() {
        let call = Call::post_form("http://127.0.0.1/t/oauth2/token", vec![]);
        let answer = Answer {
            status: 401,
            location: None,
            body: br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: 1\r\nCorrelation ID: 2","error_uri":"https://login/error?code=7000215"}"#.to_vec(),
        };
        let error = refusal(&call, &answer);
        assert_eq!(
            error.to_string(),
            "http://127.0.0.1/t/oauth2/token refused the token request: invalid_client: \
             AADSTS7000215: Invalid client secret provided. See https://login/error?code=7000215"
        );
    }
}
