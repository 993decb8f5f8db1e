//! One request and its answer: building the HTTP client, sending an attempt with the
//! credentials of the moment, and sorting what came back into an answer or a failure (facts
//! only: whether to retry is decided in `retry`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::credentials::{AuthHeaders, CredentialProvider};
use super::debug::{CredentialMask, body_for_log, redact};
use super::error::{Error, error_from_body, excerpt};
use super::event::Events;
use super::models::Reply;

const USER_AGENT: &str = concat!("databricks-secrets/", env!("CARGO_PKG_VERSION"));

/// Variables whose proxy, when it is an https URL, needs TLS even for an http host.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// How connections are made, from the client options.
pub struct HttpSettings<'a> {
    pub insecure: bool,
    pub extra_ca_certificates: &'a [PathBuf],
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

/// A request as every attempt sends it; the body with its redacted form for the log.
pub(crate) struct Request {
    pub method: Method,
    pub url: String,
    pub body: Option<(Vec<u8>, String)>,
}

impl Request {
    pub fn new(method: Method, url: String, body: Option<Value>) -> Request {
        let body = body.map(|json| (json.to_string().into_bytes(), redact(&json).to_string()));
        Request { method, url, body }
    }
}

/// A 2xx answer: its status and its JSON body (`None` for an empty body).
pub(crate) struct Answer {
    status: u16,
    body: Option<Value>,
}

/// What went wrong with one attempt, as facts for the retry rules.
pub(crate) enum Failure {
    /// An error answer, with its `Retry-After` header as sent.
    ErrorAnswer {
        error: Error,
        retry_after: Option<String>,
    },
    /// No connection could be made: the request never left.
    NotConnected(Error),
    /// No connection within the connect timeout.
    ConnectTimedOut(Error),
    /// The connection broke after the request may have gone out.
    Lost(Error),
    /// The request went out and no answer came in time.
    TimedOut(Error),
    /// No usable exchange: a redirect, a body that is not the API's, a TLS failure, a server
    /// that does not speak HTTP, or no credentials to send.
    Unusable(Error),
}

/// Sends attempts over one pooled HTTP client.
pub(crate) struct Transport {
    http: reqwest::Client,
    host: String,
    credentials: Arc<dyn CredentialProvider>,
    events: Events,
    /// The number of the next request in `--debug` lines, so answers pair with requests.
    next_request: AtomicU64,
    connect_timeout: Duration,
}

impl Transport {
    pub fn new(
        host: String,
        settings: &HttpSettings<'_>,
        credentials: Arc<dyn CredentialProvider>,
        events: Events,
    ) -> Result<Transport, Error> {
        Ok(Transport {
            http: http_client(&host, settings)?,
            host,
            credentials,
            events,
            next_request: AtomicU64::new(1),
            connect_timeout: settings.connect_timeout,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn events(&self) -> &Events {
        &self.events
    }

    /// What to mask in anything shown: the credentials the provider holds now.
    pub fn mask(&self) -> CredentialMask {
        let secrets = self.credentials.secrets_to_mask();
        CredentialMask::new(secrets.iter().map(|secret| secret.expose()))
    }

    /// `error` with the credentials masked in every text an answer supplied.
    pub fn masked(&self, error: Error) -> Error {
        let mask = self.mask();
        error.masked(&|text| mask.text(text))
    }

    /// One request and its answer. A 401 tells the provider its token was refused; when it
    /// can get a new one (an OAuth token revoked or expired early), the request is sent once
    /// more with it, so a token dropped by the server costs no failed command. A 401 means the
    /// request was not carried out, so a change is safe to resend.
    pub async fn attempt(&self, request: &Request) -> Result<Answer, Failure> {
        let (answer, refused) = self.send(request).await;
        match refused {
            Some(refused) if self.credentials.rejected(&refused) => {}
            _ => return answer,
        }
        self.events
            .debug(|| "the token was refused (401): sending again with a new one".to_owned());
        let (answer, refused_again) = self.send(request).await;
        if let Some(refused) = refused_again {
            self.credentials.rejected(&refused);
        }
        answer
    }

    /// Sends one request; when the server refused the credentials (401), also the headers
    /// that carried them.
    async fn send(&self, request: &Request) -> (Result<Answer, Failure>, Option<AuthHeaders>) {
        let number = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (method, url) = (&request.method, &request.url);
        let sent = match self.credentials.headers().await {
            Ok(headers) => headers,
            Err(error) => return (Err(Failure::Unusable(error)), None),
        };
        let mask = self.mask();
        let debug = |line: &dyn Fn() -> String| self.events.debug(|| mask.text(&line()));
        debug(&|| format!("> #{number} {method} {url}"));
        let mut builder = self.http.request(method.clone(), url);
        for (name, value) in &sent {
            let mut value = value.clone();
            value.set_sensitive(true);
            debug(&|| format!("> #{number} {}", header_for_log(name, &value)));
            builder = builder.header(name, value);
        }
        if let Some((bytes, redacted)) = &request.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone());
            debug(&|| format!("> #{number} {redacted}"));
        }
        let started = Instant::now();
        let (status, headers, bytes) = match exchange(builder).await {
            Ok(answer) => answer,
            Err(error) => {
                let millis = started.elapsed().as_millis();
                debug(&|| {
                    format!(
                        "< #{number} failed after {millis} ms: {}",
                        root_cause(&error)
                    )
                });
                return (Err(self.transport_failure(&error, url)), None);
            }
        };
        let millis = started.elapsed().as_millis();
        debug(&|| format!("< #{number} {status} ({millis} ms)"));
        debug(&|| format!("< #{number} {}", body_for_log(&mask.bytes(&bytes))));
        let refused = (status == StatusCode::UNAUTHORIZED).then_some(sent);
        (classify_answer(status, &headers, &bytes, &mask), refused)
    }

    fn transport_failure(&self, error: &reqwest::Error, url: &str) -> Failure {
        let host = self.host.clone();
        if error.is_timeout() && error.is_connect() {
            let detail = format!(
                "no connection within {} s",
                self.connect_timeout.as_secs_f64()
            );
            return Failure::ConnectTimedOut(Error::Connect { host, detail });
        }
        if error.is_timeout() {
            return Failure::TimedOut(Error::Timeout {
                url: url.to_owned(),
            });
        }
        let detail = root_cause(error);
        if let Some(tls) = tls_failure(error) {
            return Failure::Unusable(match tls {
                rustls::Error::InvalidMessage(_) => Error::NotTls { host, detail },
                _ => Error::Tls { host, detail },
            });
        }
        if is_not_http(error) {
            return Failure::Unusable(Error::NotHttp { host, detail });
        }
        if error.is_connect() {
            Failure::NotConnected(Error::Connect { host, detail })
        } else {
            Failure::Lost(Error::ConnectionLost { host, detail })
        }
    }
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

/// A credentials header for the log: its name as commonly written and its scheme, if any
/// (`Authorization: Bearer ***`).
fn header_for_log(name: &HeaderName, value: &reqwest::header::HeaderValue) -> String {
    let name: Vec<String> = name
        .as_str()
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect();
    let scheme = value
        .to_str()
        .ok()
        .and_then(|text| text.split_once(' '))
        .map(|(scheme, _)| format!("{scheme} "))
        .unwrap_or_default();
    format!("{}: {scheme}***", name.join("-"))
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
    let header = |name: HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    if status.is_redirection() {
        return Err(Failure::Unusable(Error::Redirect {
            status: code,
            location: header(LOCATION),
        }));
    }
    if status.is_success() {
        return success_body(code, body).map_err(|_| {
            Failure::Unusable(Error::UnexpectedBody {
                status: code,
                excerpt: excerpt(&mask.bytes(body)),
            })
        });
    }
    Err(Failure::ErrorAnswer {
        error: error_from_body(code, &mask.bytes(body)),
        retry_after: header(RETRY_AFTER),
    })
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

/// The HTTP client of a host: its TLS trust, timeouts and user agent, never following a
/// redirect. Also used for the identity provider's endpoints (`auth`).
pub fn http_client(host: &str, settings: &HttpSettings<'_>) -> Result<reqwest::Client, Error> {
    // reqwest always builds a rustls configuration, so a crypto provider must exist
    // even for http hosts; an earlier installation (another Client) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.request_timeout);
    if !needs_tls(host) {
        // Plain http: no need to load the system trust store.
        builder = builder.tls_certs_only([]);
    } else if settings.insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    } else {
        builder = builder.tls_certs_merge(extra_ca_certificates(settings.extra_ca_certificates)?);
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

/// A TLS handshake or certificate problem.
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
    // The same words on every system: Windows says "No connection could be made because ...".
    let refused = cause
        .downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
    if refused {
        return "connection refused".to_owned();
    }
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
