//! The HTTP client: one pooled connection set, retries, and the Secrets API calls.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::debug::{CredentialMask, body_for_log, redact};
use super::error::{Error, error_from_body, excerpt};
use super::models::{
    AclItem, CreateScope, ListAcls, ListScopes, ListSecrets, Permission, Reply, ScopeBackend,
    SecretContent, SecretValue,
};
use super::retry::{RetryTiming, is_throttled, parse_retry_after};
use crate::secret::{Secret, SecretBytes};

/// A get-secret answer before its value is decoded.
#[derive(Deserialize)]
pub(crate) struct EncodedSecret {
    key: String,
    /// Standard base64 of the stored bytes.
    value: String,
}

/// Error codes that, answered to a retry after an attempt whose answer was lost, mean that
/// attempt was carried out.
const ALREADY_EXISTS: &str = "RESOURCE_ALREADY_EXISTS";
const DOES_NOT_EXIST: &str = "RESOURCE_DOES_NOT_EXIST";

const USER_AGENT: &str = concat!("databricks-secrets/", env!("CARGO_PKG_VERSION"));

/// Query values are percent-encoded except for RFC 3986 unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Variables whose proxy, when it is an https URL, needs TLS even for an http host.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

#[derive(Debug, Clone)]
pub enum Auth {
    Bearer(Secret),
    Basic { username: String, password: Secret },
}

pub type Observer = Arc<dyn Fn(&Event) + Send + Sync>;

#[derive(Clone)]
pub struct ClientOptions {
    /// Normalised base URL: scheme://host[:port], no trailing slash.
    pub host: String,
    pub auth: Auth,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// PEM files, or directories of them, whose CA certificates are trusted besides the
    /// system's (for https).
    pub extra_ca_certificates: Vec<PathBuf>,
    pub connect_timeout: Duration,
    /// The limit for one request, answer included (profile key `http_timeout_seconds`).
    pub request_timeout: Duration,
    /// The total time retries may take (profile key `retry_timeout_seconds`).
    pub retry_timeout: Duration,
    /// Receives retry notices and, with `debug`, the request log.
    pub observer: Option<Observer>,
    /// Emit [`Event::Debug`] lines (already redacted).
    pub debug: bool,
}

impl ClientOptions {
    pub fn new(host: String, auth: Auth) -> Self {
        ClientOptions {
            host,
            auth,
            insecure: false,
            extra_ca_certificates: Vec::new(),
            connect_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            retry_timeout: Duration::from_secs(300),
            observer: None,
            debug: false,
        }
    }
}

/// Something for the user to see on stderr; `Display` gives the line.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Retry {
        method: String,
        path: String,
        delay: Duration,
        /// The number of the attempt about to be made (2 for the first retry).
        attempt: u32,
        reason: String,
        /// The server asked to slow down (429, 503 or a rate-limit code); `delay` honours its
        /// `Retry-After` when it gave one.
        throttled: bool,
    },
    Debug(String),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Retry {
                method,
                path,
                delay,
                attempt,
                reason,
                ..
            } => write!(
                f,
                "Retrying {method} {path} in {:.1}s (attempt {attempt}): {reason}",
                delay.as_secs_f64()
            ),
            Event::Debug(line) => f.write_str(line),
        }
    }
}

/// A Secrets API 2.0 client; cheap to clone (one pooled HTTP client inside).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    host: String,
    authorization: HeaderValue,
    /// The credentials in `authorization`, masked wherever an answer echoes them.
    mask: CredentialMask,
    observer: Option<Observer>,
    debug: bool,
    /// The number of the next request in `--debug` lines, so answers pair with requests.
    next_request: AtomicU64,
    connect_timeout: Duration,
    retry_timeout: Duration,
    timing: RetryTiming,
}

/// A 2xx answer: its status and its JSON body (`None` for an empty body).
pub(crate) struct Answer {
    status: u16,
    body: Option<Value>,
}

/// Why one attempt failed, and whether another may help.
enum Failure {
    /// 429, 503 or a rate-limit code: retry within the budget.
    Throttled {
        error: Error,
        retry_after: Option<Duration>,
    },
    /// No answer; `maybe_processed` when the request may have reached the server.
    Connection {
        error: Error,
        maybe_processed: bool,
    },
    /// A request that changes something got no answer in time: it may have been carried out,
    /// so it is retried once, and the retry's answer is read in that light.
    TimedOutChange(Error),
    Final(Error),
}

/// The retries made so far of the kinds that have a fixed limit.
#[derive(Default)]
struct RetryCounts {
    connection: usize,
    timed_out_change: usize,
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

impl Failure {
    fn plan(self, timing: &RetryTiming, attempt: u32, counts: &mut RetryCounts) -> RetryPlan {
        match self {
            Failure::Final(error) => RetryPlan::final_error(error),
            Failure::Throttled { error, retry_after } => RetryPlan {
                delay: Some(retry_after.map_or_else(
                    || timing.backoff(attempt),
                    |after| after.max(timing.min_wait),
                )),
                maybe_processed: error.status() == Some(503),
                retry_after,
                error,
            },
            Failure::Connection {
                error,
                maybe_processed,
            } => {
                let delay = timing.connection_delays.get(counts.connection).copied();
                counts.connection += 1;
                RetryPlan {
                    error,
                    delay,
                    maybe_processed,
                    retry_after: None,
                }
            }
            Failure::TimedOutChange(error) => {
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
        }
    }
}

/// Whether a wait of `delay` after `elapsed` stays within `budget` (no overflow for any input).
pub(crate) fn fits_budget(elapsed: Duration, delay: Duration, budget: Duration) -> bool {
    elapsed
        .checked_add(delay)
        .is_some_and(|total| total <= budget)
}

/// The result of a call, and whether an earlier attempt may have been carried out.
struct Outcome {
    result: Result<Answer, Error>,
    after_ambiguous_attempt: bool,
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Client, Error> {
        Self::with_timing(options, RetryTiming::default())
    }

    pub(crate) fn with_timing(
        options: ClientOptions,
        timing: RetryTiming,
    ) -> Result<Client, Error> {
        let host = checked_host(&options.host)?;
        let http = build_http_client(&options, &host)?;
        let authorization = authorization_header(&options.auth)?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                host,
                mask: credential_mask(&options.auth, &authorization),
                authorization,
                observer: options.observer,
                debug: options.debug,
                next_request: AtomicU64::new(1),
                connect_timeout: options.connect_timeout,
                retry_timeout: options.retry_timeout,
                timing,
            }),
        })
    }

    #[cfg(test)]
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// Creates a scope. A retry after an attempt whose outcome is unknown that answers
    /// `RESOURCE_ALREADY_EXISTS` means that attempt created it: that is success.
    pub async fn create_scope(&self, request: &CreateScope) -> Result<(), Error> {
        self.post_unless_done(
            "/api/2.0/secrets/scopes/create",
            create_scope_body(request),
            ALREADY_EXISTS,
        )
        .await
    }

    /// Deletes a scope; `RESOURCE_DOES_NOT_EXIST` after an ambiguous attempt is success.
    pub async fn delete_scope(&self, scope: &str) -> Result<(), Error> {
        self.post_unless_done(
            "/api/2.0/secrets/scopes/delete",
            json!({ "scope": scope }),
            DOES_NOT_EXIST,
        )
        .await
    }

    pub async fn list_scopes(&self) -> Result<Reply<ListScopes>, Error> {
        self.get("/api/2.0/secrets/scopes/list", &[]).await
    }

    pub async fn put_secret(
        &self,
        scope: &str,
        key: &str,
        value: &SecretValue,
    ) -> Result<(), Error> {
        let mut body = json!({ "scope": scope, "key": key });
        let (field, encoded) = match value {
            SecretValue::Text(text) => ("string_value", text.expose().to_owned()),
            SecretValue::Bytes(bytes) => ("bytes_value", BASE64.encode(bytes.expose())),
        };
        body[field] = Value::String(encoded);
        self.post("/api/2.0/secrets/put", body).await
    }

    /// Deletes a secret; `RESOURCE_DOES_NOT_EXIST` after an ambiguous attempt is success.
    pub async fn delete_secret(&self, scope: &str, key: &str) -> Result<(), Error> {
        self.post_unless_done(
            "/api/2.0/secrets/delete",
            json!({ "scope": scope, "key": key }),
            DOES_NOT_EXIST,
        )
        .await
    }

    pub async fn list_secrets(&self, scope: &str) -> Result<Reply<ListSecrets>, Error> {
        self.get("/api/2.0/secrets/list", &[("scope", scope)]).await
    }

    pub async fn get_secret(&self, scope: &str, key: &str) -> Result<Reply<SecretContent>, Error> {
        let reply: Reply<EncodedSecret> = self
            .get("/api/2.0/secrets/get", &[("scope", scope), ("key", key)])
            .await?;
        let value = BASE64
            .decode(reply.data.value.trim())
            .map_err(|_| Error::UnexpectedBody {
                status: 200,
                excerpt: "the secret's `value` field is not valid base64".to_owned(),
            })?;
        Ok(Reply {
            data: SecretContent {
                key: reply.data.key,
                value: SecretBytes::new(value),
            },
            raw: reply.raw,
        })
    }

    pub async fn put_acl(
        &self,
        scope: &str,
        principal: &str,
        permission: Permission,
    ) -> Result<(), Error> {
        let body =
            json!({ "scope": scope, "principal": principal, "permission": permission.as_str() });
        self.post("/api/2.0/secrets/acls/put", body).await
    }

    /// Deletes an ACL; `RESOURCE_DOES_NOT_EXIST` after an ambiguous attempt is success.
    pub async fn delete_acl(&self, scope: &str, principal: &str) -> Result<(), Error> {
        let body = json!({ "scope": scope, "principal": principal });
        self.post_unless_done("/api/2.0/secrets/acls/delete", body, DOES_NOT_EXIST)
            .await
    }

    pub async fn get_acl(&self, scope: &str, principal: &str) -> Result<Reply<AclItem>, Error> {
        self.get(
            "/api/2.0/secrets/acls/get",
            &[("scope", scope), ("principal", principal)],
        )
        .await
    }

    pub async fn list_acls(&self, scope: &str) -> Result<Reply<ListAcls>, Error> {
        self.get("/api/2.0/secrets/acls/list", &[("scope", scope)])
            .await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Reply<T>, Error> {
        let answer = self.send(Method::GET, path, query, None).await.result?;
        object_reply(answer).map_err(|error| self.masked(error))
    }

    async fn post(&self, path: &str, body: Value) -> Result<(), Error> {
        self.send(Method::POST, path, &[], Some(body))
            .await
            .result
            .map(drop)
    }

    /// Posts a change whose effect a retry can see: when an earlier attempt may have been
    /// carried out (its answer was lost) and the retry answers `done_code` (the scope exists,
    /// the secret is gone), that attempt did the work.
    async fn post_unless_done(
        &self,
        path: &str,
        body: Value,
        done_code: &str,
    ) -> Result<(), Error> {
        let outcome = self.send(Method::POST, path, &[], Some(body)).await;
        match outcome.result {
            Err(error)
                if outcome.after_ambiguous_attempt && error.error_code() == Some(done_code) =>
            {
                Ok(())
            }
            result => result.map(drop),
        }
    }

    /// Sends a request, retrying throttled answers and lost connections within the budget.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Outcome {
        let url = format!("{}{path}{}", self.inner.host, query_string(query));
        let body = body.map(|json| (json.to_string().into_bytes(), redact(&json).to_string()));
        let started = Instant::now();
        let budget = self.inner.retry_timeout;
        let mut after_ambiguous_attempt = false;
        let mut counts = RetryCounts::default();
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(&method, &url, body.as_ref()).await {
                Ok(answer) => {
                    return Outcome {
                        result: Ok(answer),
                        after_ambiguous_attempt,
                    };
                }
                Err(failure) => failure,
            };
            let throttled = matches!(failure, Failure::Throttled { .. });
            let plan = failure.plan(&self.inner.timing, attempt, &mut counts);
            let elapsed = started.elapsed();
            let Some(delay) = plan
                .delay
                .filter(|delay| fits_budget(elapsed, *delay, budget))
            else {
                let error = plan.into_error(budget.saturating_sub(elapsed), budget);
                return Outcome {
                    result: Err(self.masked(error)),
                    after_ambiguous_attempt,
                };
            };
            after_ambiguous_attempt |= plan.maybe_processed;
            attempt += 1;
            self.emit(|| Event::Retry {
                method: method.to_string(),
                path: path.to_owned(),
                delay,
                attempt,
                reason: self.inner.mask.text(&retry_reason(&plan.error)),
                throttled,
            });
            tokio::time::sleep(delay).await;
        }
    }

    /// One request and its answer; `body` holds the bytes to send and their redacted form.
    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        body: Option<&(Vec<u8>, String)>,
    ) -> Result<Answer, Failure> {
        let number = self.inner.next_request.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .inner
            .http
            .request(method.clone(), url)
            .header(AUTHORIZATION, self.inner.authorization.clone());
        self.debug(|| format!("> #{number} {method} {url}"));
        self.debug(|| format!("> #{number} Authorization: {} ***", self.auth_scheme()));
        if let Some((bytes, redacted)) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone());
            self.debug(|| format!("> #{number} {redacted}"));
        }
        let started = Instant::now();
        let (status, headers, bytes) = match Self::exchange(request).await {
            Ok(answer) => answer,
            Err(error) => {
                let failure = self.transport_failure(&error, method, url);
                self.debug(|| {
                    format!(
                        "< #{number} failed after {} ms: {}",
                        started.elapsed().as_millis(),
                        root_cause(&error)
                    )
                });
                return Err(failure);
            }
        };
        self.debug(|| {
            format!(
                "< #{number} {status} ({} ms)",
                started.elapsed().as_millis()
            )
        });
        self.debug(|| {
            format!(
                "< #{number} {}",
                body_for_log(&self.inner.mask.bytes(&bytes))
            )
        });
        classify_answer(status, &headers, &bytes, &self.inner.mask)
    }

    async fn exchange(
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error> {
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok((status, headers, bytes.to_vec()))
    }

    fn transport_failure(&self, error: &reqwest::Error, method: &Method, url: &str) -> Failure {
        let host = self.inner.host.clone();
        if error.is_timeout() && error.is_connect() {
            let detail = format!(
                "no connection within {} s",
                self.inner.connect_timeout.as_secs_f64()
            );
            return Failure::Final(Error::Connect { host, detail });
        }
        if error.is_timeout() {
            let timeout = Error::Timeout {
                url: url.to_owned(),
            };
            return if method == Method::GET {
                Failure::Final(timeout)
            } else {
                Failure::TimedOutChange(timeout)
            };
        }
        let detail = root_cause(error);
        if let Some(tls) = tls_failure(error) {
            return Failure::Final(match tls {
                rustls::Error::InvalidMessage(_) => Error::NotTls { host, detail },
                _ => Error::Tls { host, detail },
            });
        }
        if is_not_http(error) {
            return Failure::Final(Error::NotHttp { host, detail });
        }
        // Once connected, the request may have been sent and carried out.
        let (failure, maybe_processed) = if error.is_connect() {
            (Error::Connect { host, detail }, false)
        } else {
            (Error::ConnectionLost { host, detail }, true)
        };
        Failure::Connection {
            error: failure,
            maybe_processed,
        }
    }

    fn auth_scheme(&self) -> &'static str {
        if self.inner.authorization.as_bytes().starts_with(b"Basic ") {
            "Basic"
        } else {
            "Bearer"
        }
    }

    fn debug(&self, line: impl FnOnce() -> String) {
        if self.inner.debug {
            self.emit(|| Event::Debug(self.inner.mask.text(&line())));
        }
    }

    fn masked(&self, error: Error) -> Error {
        error.masked(&|text| self.inner.mask.text(text))
    }

    fn emit(&self, event: impl FnOnce() -> Event) {
        if let Some(observer) = &self.inner.observer {
            observer(&event());
        }
    }
}

fn checked_host(host: &str) -> Result<String, Error> {
    let host = host.trim_end_matches('/');
    let is_web_url = url::Url::parse(host)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some());
    if is_web_url {
        Ok(host.to_owned())
    } else {
        Err(Error::InvalidRequest(format!(
            "the host '{host}' is not a URL like https://<workspace>.cloud.databricks.com; \
             check the host in your profile or DATABRICKS_HOST"
        )))
    }
}

fn build_http_client(options: &ClientOptions, host: &str) -> Result<reqwest::Client, Error> {
    // reqwest always builds a rustls configuration, so a crypto provider must exist
    // even for http hosts; an earlier installation (another Client) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout);
    if !needs_tls(host) {
        // Plain http: no need to load the system trust store.
        builder = builder.tls_certs_only([]);
    } else if options.insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    } else {
        builder = builder.tls_certs_merge(extra_ca_certificates(&options.extra_ca_certificates)?);
    }
    builder.build().map_err(|error| Error::TlsSetup {
        host: host.to_owned(),
        detail: root_cause(&error),
    })
}

/// The certificates of each PEM file or directory of PEM files in `paths`; each must hold one.
fn extra_ca_certificates(paths: &[PathBuf]) -> Result<Vec<reqwest::Certificate>, Error> {
    let mut certificates = Vec::new();
    for path in paths {
        let unreadable = |detail: String| Error::CaCertificates {
            path: path.clone(),
            detail,
        };
        let loaded = if path.is_dir() {
            rustls_native_certs::load_certs_from_paths(None, Some(path))
        } else {
            rustls_native_certs::load_certs_from_paths(Some(path), None)
        };
        if loaded.certs.is_empty() {
            return Err(unreadable(loaded.errors.first().map_or_else(
                || "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".to_owned(),
                |error| root_cause(error),
            )));
        }
        for der in &loaded.certs {
            let certificate = reqwest::Certificate::from_der(der)
                .map_err(|error| unreadable(root_cause(&error)))?;
            certificates.push(certificate);
        }
    }
    Ok(certificates)
}

/// TLS is needed for an https host, or to reach an https proxy.
fn needs_tls(host: &str) -> bool {
    let is_https = |url: &str| url.trim().to_ascii_lowercase().starts_with("https://");
    is_https(host)
        || PROXY_VARIABLES
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .any(|proxy| is_https(&proxy))
}

fn authorization_header(auth: &Auth) -> Result<HeaderValue, Error> {
    let (text, what) = match auth {
        Auth::Bearer(token) => (format!("Bearer {}", token.expose()), "token"),
        Auth::Basic { username, password } => {
            let pair = format!("{username}:{}", password.expose());
            (format!("Basic {}", BASE64.encode(pair)), "user name")
        }
    };
    let mut header = HeaderValue::from_str(&text).map_err(|_| {
        Error::InvalidRequest(format!(
            "the {what} contains characters that cannot be sent in an HTTP header \
             (such as a line break); check it in your profile or environment"
        ))
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// What to mask in answers: the token, or the password and the encoded `user:password`.
fn credential_mask(auth: &Auth, authorization: &HeaderValue) -> CredentialMask {
    let scheme_and_credentials = authorization.as_bytes();
    let encoded = scheme_and_credentials
        .iter()
        .position(|&byte| byte == b' ')
        .map_or(scheme_and_credentials, |space| {
            &scheme_and_credentials[space + 1..]
        });
    let secret = match auth {
        Auth::Bearer(token) => token.expose(),
        Auth::Basic { password, .. } => password.expose(),
    };
    CredentialMask::new([secret.as_bytes(), encoded])
}

fn query_string(query: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = query
        .iter()
        .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, QUERY_VALUE)))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

fn create_scope_body(request: &CreateScope) -> Value {
    let mut body = json!({ "scope": request.scope });
    if let Some(principal) = &request.initial_manage_principal {
        body["initial_manage_principal"] = json!(principal);
    }
    match &request.backend {
        ScopeBackend::Databricks => body["scope_backend_type"] = json!("DATABRICKS"),
        ScopeBackend::AzureKeyVault {
            resource_id,
            dns_name,
        } => {
            body["scope_backend_type"] = json!("AZURE_KEYVAULT");
            body["backend_azure_keyvault"] =
                json!({ "resource_id": resource_id, "dns_name": dns_name });
        }
    }
    body
}

/// Reads an answer; error bodies are read with the credentials masked, so that no excerpt
/// (which may end inside an echoed token) shows any part of them.
fn classify_answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    mask: &CredentialMask,
) -> Result<Answer, Failure> {
    let code = status.as_u16();
    if status.is_redirection() {
        let location = headers
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        return Err(Failure::Final(Error::Redirect {
            status: code,
            location,
        }));
    }
    if status.is_success() {
        return success_body(code, body).map_err(|_| {
            Failure::Final(Error::UnexpectedBody {
                status: code,
                excerpt: excerpt(&mask.bytes(body)),
            })
        });
    }
    let error = error_from_body(code, &mask.bytes(body));
    if is_throttled(&error) {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        Err(Failure::Throttled { error, retry_after })
    } else {
        Err(Failure::Final(error))
    }
}

/// A 2xx body: nothing, or JSON.
pub(crate) fn success_body(status: u16, body: &[u8]) -> Result<Answer, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Answer { status, body: None });
    }
    serde_json::from_slice(body)
        .map(|json| Answer {
            status,
            body: Some(json),
        })
        .map_err(|_| Error::UnexpectedBody {
            status,
            excerpt: excerpt(body),
        })
}

/// A read answer: a JSON object of the expected shape (a list's absent key means empty).
/// An empty body or any other JSON value (`[]`, `null`, a string) is no answer at all: taking
/// it for "nothing there" would, say, let `export` write an empty backup behind a broken proxy.
pub(crate) fn object_reply<T: DeserializeOwned>(answer: Answer) -> Result<Reply<T>, Error> {
    let unexpected = |text: String| Error::UnexpectedBody {
        status: answer.status,
        excerpt: excerpt(text.as_bytes()),
    };
    let body = match answer.body {
        Some(body @ Value::Object(_)) => body,
        Some(other) => return Err(unexpected(redact(&other).to_string())),
        None => return Err(unexpected(String::new())),
    };
    match T::deserialize(&body) {
        Ok(data) => Ok(Reply { data, raw: body }),
        Err(problem) => Err(unexpected(format!("{problem} in {}", redact(&body)))),
    }
}

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

/// A TLS handshake or certificate problem: retrying cannot help.
fn tls_failure<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    causes(error)
        .into_iter()
        .find_map(|cause| cause.downcast_ref::<rustls::Error>())
}

/// An answer that is not HTTP at all: another protocol's greeting (SSH, SMTP), or garbage.
fn is_not_http(error: &(dyn std::error::Error + 'static)) -> bool {
    causes(error)
        .iter()
        .filter_map(|cause| cause.downcast_ref::<hyper::Error>())
        .any(hyper::Error::is_parse)
}

/// The errors behind `error`, outermost first, also looking inside `io::Error` wrappers
/// (whose `source` skips the error they wrap).
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        chain.push(current);
        next = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(wrapped) => Some(wrapped as &'a (dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    chain
}

/// The innermost cause of a transport error as short lower-case text, without OS error numbers.
/// reqwest errors never contain the request headers, so no token can appear here.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let cause = causes(error).pop().unwrap_or(error);
    let text = cause.to_string();
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "the connection failed".to_owned(),
    }
}
