//! The HTTP/1.1 server: accept loop, authentication, faults, routing, request log.

use crate::config::Directory;
use crate::error::{ApiError, OAuthError};
use crate::faults::{Fault, FaultQueue, default_error_code};
use crate::fields::Fields;
use crate::identity::{Credential, IdentityProvider};
use crate::pacing::{Pacing, Throttled};
use crate::requests::{LoggedRequest, logged_body, logged_query};
use crate::workspace::{Caller, Endpoint, Workspace};
use crate::{ci_tokens, control, entra, jwt, lock, now_millis, oauth, scim};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Largest accepted request body; larger ones get a JSON error.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Beyond this, a too-large body is not even read to the end (the connection is closed).
const MAX_DRAINED_BYTES: usize = 16 << 20;
/// How long in-flight requests may finish after a stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Paths of the emulator's own control endpoints (never faulted, never logged).
pub(crate) const CONTROL_PREFIX: &str = "/__emulator/";

pub(crate) type Answer = Response<Full<Bytes>>;

/// What the request handlers share.
pub(crate) struct Shared {
    /// The listening address, for URLs when a request has no `Host` header.
    pub addr: SocketAddr,
    pub directory: Arc<Directory>,
    pub identity: IdentityProvider,
    pub workspace: Mutex<Workspace>,
    pub faults: Mutex<FaultQueue>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub pacing: Mutex<Pacing>,
}

/// A request as the handlers see it: body read, caller authenticated (or why not).
pub(crate) struct Received {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Result<Bytes, BodyError>,
    pub caller: Result<Caller, ApiError>,
    /// `http://HOST` as the client addressed the emulator, for the URLs it answers with.
    pub base_url: String,
}

impl Received {
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body, or the JSON error for one that could not be read.
    pub fn body_bytes(&self) -> Result<&Bytes, ApiError> {
        self.body.as_ref().map_err(|error| ApiError::from(*error))
    }

    pub fn bearer_token(&self) -> Option<&str> {
        let (scheme, token) = self.header(header::AUTHORIZATION)?.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }
}

/// Returned by the service to make hyper close the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
pub(crate) struct ConnectionDropped;

/// A request body that could not be used.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BodyError {
    TooLarge,
    Unreadable,
}

impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TooLarge => ApiError::body_too_large(MAX_BODY_BYTES),
            BodyError::Unreadable => ApiError::malformed("The request body could not be read"),
        }
    }
}

/// Serves connections until `shutdown` fires, then lets in-flight requests finish briefly.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = Arc::clone(&shared);
                    let service = service_fn(move |request| handle(Arc::clone(&shared), request));
                    // half_close: a client that shuts down its write side still gets its answer
                    let connection = http1::Builder::new()
                        .half_close(true)
                        .serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
                // e.g. out of file descriptors: back off instead of spinning
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Answer, ConnectionDropped> {
    let received_at_ms = now_millis();
    let (parts, body) = request.into_parts();
    let request = Received {
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        body: read_body(body).await,
        caller: authenticate(&shared, &parts.headers),
        base_url: base_url(&parts.headers, shared.addr),
        method: parts.method,
        headers: parts.headers,
    };
    if request.path.starts_with(CONTROL_PREFIX) {
        return Ok(control::handle(&shared, &request));
    }
    let latency = lock(&shared.pacing).latency();
    tokio::time::sleep(latency).await;
    let fault = lock(&shared.faults).take(request.method.as_str(), &request.path);
    let answer = match &fault {
        Some(fault) => {
            tokio::time::sleep(fault.delay_duration()).await;
            if fault.drop_connection {
                None
            } else if fault.answer_status().is_some() {
                Some(fault_answer(fault))
            } else {
                Some(paced_dispatch(&shared, &request))
            }
        }
        None => Some(paced_dispatch(&shared, &request)),
    };
    let status = answer.as_ref().map(|answer| answer.status().as_u16());
    let logged = log_entry(request, status, fault.is_some(), received_at_ms);
    lock(&shared.log).push(logged);
    answer.ok_or(ConnectionDropped)
}

/// `http://HOST` from the `Host` header, else from the listening address.
fn base_url(headers: &HeaderMap, addr: SocketAddr) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| !host.is_empty() && !host.contains(['/', ' ']));
    match host {
        Some(host) => format!("http://{host}"),
        None => format!("http://{addr}"),
    }
}

/// The request as the log shows it: secrets masked, no credentials.
fn log_entry(
    request: Received,
    status: Option<u16>,
    fault: bool,
    received_at_ms: u64,
) -> LoggedRequest {
    let content_type = request.header(header::CONTENT_TYPE).unwrap_or_default();
    let auth_scheme = request
        .header(header::AUTHORIZATION)
        .map(|value| value.split(' ').next().unwrap_or_default().to_string());
    let (query, query_params) = logged_query(&request.query);
    let body = match &request.body {
        Ok(bytes) => logged_body(bytes, content_type),
        Err(BodyError::TooLarge) => json!(format!("<more than {MAX_BODY_BYTES} bytes>")),
        Err(BodyError::Unreadable) => json!("<unreadable>"),
    };
    LoggedRequest {
        method: request.method.to_string(),
        path: request.path,
        query,
        query_params,
        body,
        auth_scheme,
        user: request.caller.ok().map(|caller| caller.user),
        status,
        fault,
        received_at_ms,
    }
}

/// Dispatches the request unless the rate limit refuses it.
fn paced_dispatch(shared: &Shared, request: &Received) -> Answer {
    let admitted = lock(&shared.pacing).admit(&request.path, Instant::now());
    match admitted {
        Ok(()) => dispatch(shared, request),
        Err(throttled) => throttled_answer(throttled),
    }
}

/// Reads the whole body, keeping at most [`MAX_BODY_BYTES`].
async fn read_body(mut body: Incoming) -> Result<Bytes, BodyError> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Unreadable)?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total > MAX_DRAINED_BYTES {
                return Err(BodyError::TooLarge);
            }
            if total <= MAX_BODY_BYTES {
                kept.extend_from_slice(&data);
            }
        }
    }
    if total > MAX_BODY_BYTES {
        Err(BodyError::TooLarge)
    } else {
        Ok(Bytes::from(kept))
    }
}

/// The caller behind a `Bearer` token (configured or issued by the emulator), or behind
/// `Basic` credentials whose password is a configured token of that user.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthenticated(
            "Credential was not sent or was of an unsupported type for this API.",
        ));
    };
    let invalid = || ApiError::unauthenticated("Invalid access token.");
    let (scheme, credentials) = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .ok_or_else(invalid)?;
    let credentials = credentials.trim();
    let configured = |user: &str, token: &str| Caller {
        user: user.to_string(),
        credential: Credential::Configured {
            jwt_shaped: jwt::is_jwt_shaped(token),
        },
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        if let Some(user) = shared.directory.user_for_token(credentials) {
            return Ok(configured(user, credentials));
        }
        return shared
            .identity
            .authenticate(credentials)
            .unwrap_or_else(|| Err(invalid()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = BASE64
            .decode(credentials)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let caller = decoded.and_then(|pair| {
            let (name, password) = pair.split_once(':')?;
            let user = shared.directory.user_for_token(password)?;
            (user == name).then(|| configured(name, password))
        });
        return caller.ok_or_else(invalid);
    }
    Err(invalid())
}

/// Answers the identity provider's endpoints, SCIM `Me`, the host metadata, or a Secrets API
/// call.
fn dispatch(shared: &Shared, request: &Received) -> Answer {
    let routed = oauth::route(shared, request)
        .or_else(|| entra::route(shared, request))
        .or_else(|| ci_tokens::route(request));
    if let Some(answer) = routed {
        return answer;
    }
    let result = if request.path == scim::ME_PATH {
        scim::me(shared, request)
    } else {
        secrets_api(shared, request)
    };
    match result {
        Ok(value) => json_answer(StatusCode::OK, &value),
        Err(error) => error_answer(&error),
    }
}

fn secrets_api(shared: &Shared, request: &Received) -> Result<Value, ApiError> {
    let Received {
        method,
        path,
        query,
        caller,
        ..
    } = request;
    let endpoint = Endpoint::from_path(path)
        .ok_or_else(|| ApiError::endpoint_not_found(method.as_str(), path))?;
    let expected = if endpoint.is_read() {
        Method::GET
    } else {
        Method::POST
    };
    require_method(request, &expected)?;
    let caller = caller.clone()?;
    let fields = if endpoint.is_read() {
        Fields::from_query(query)
    } else {
        Fields::from_json_body(request.body_bytes()?)?
    };
    lock(&shared.workspace).handle(endpoint, &caller, &fields)
}

/// `405 METHOD_NOT_ALLOWED` unless the request uses `expected`.
pub(crate) fn require_method(request: &Received, expected: &Method) -> Result<(), ApiError> {
    if request.method == *expected {
        return Ok(());
    }
    Err(ApiError::method_not_allowed(
        request.method.as_str(),
        &request.path,
        expected.as_str(),
    ))
}

fn fault_answer(fault: &Fault) -> Answer {
    let status = fault.answer_status().unwrap_or(500);
    let mut answer = match &fault.body {
        Some(body) => {
            let content_type = fault
                .content_type
                .as_deref()
                .and_then(|value| HeaderValue::from_str(value).ok())
                .unwrap_or(HeaderValue::from_static("text/html; charset=utf-8"));
            text_answer(status, content_type, body.clone())
        }
        None if status >= 400 => {
            let body = json!({
                "error_code": fault.error_code.as_deref().unwrap_or(default_error_code(status)),
                "message": fault.message.as_deref().unwrap_or("Injected by the emulator"),
            });
            text_answer(
                status,
                HeaderValue::from_static("application/json"),
                body.to_string(),
            )
        }
        None => text_answer(
            status,
            HeaderValue::from_static("text/plain"),
            String::new(),
        ),
    };
    let headers = [
        (header::RETRY_AFTER, &fault.retry_after),
        (header::LOCATION, &fault.location),
    ];
    for (name, value) in headers {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            answer.headers_mut().insert(name, value);
        }
    }
    answer
}

/// The real service's answer to a request over the rate limit.
fn throttled_answer(throttled: Throttled) -> Answer {
    let error = ApiError::request_limit_exceeded(
        "Too many requests: the workspace's Secrets API rate limit was exceeded; retry later",
    );
    let mut answer = error_answer(&error);
    if let Some(seconds) = throttled.retry_after_seconds {
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    answer
}

pub(crate) fn json_answer(status: StatusCode, value: &Value) -> Answer {
    let content_type = HeaderValue::from_static("application/json");
    text_answer(status.as_u16(), content_type, value.to_string())
}

pub(crate) fn error_answer(error: &ApiError) -> Answer {
    json_answer(error.status, &error.body())
}

/// An OAuth error answer; never cached, like every token endpoint answer.
pub(crate) fn oauth_error_answer(error: &OAuthError) -> Answer {
    no_store(json_answer(error.status, &error.body()))
}

/// A token endpoint's successful answer (RFC 6749 section 5.1: not to be cached).
pub(crate) fn token_answer(value: &Value) -> Answer {
    no_store(json_answer(StatusCode::OK, value))
}

fn no_store(mut answer: Answer) -> Answer {
    let headers = answer.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    answer
}

pub(crate) fn html_answer(status: StatusCode, html: String) -> Answer {
    let content_type = HeaderValue::from_static("text/html; charset=utf-8");
    text_answer(status.as_u16(), content_type, html)
}

/// `302 Found` to `location` (which must be a valid header value).
pub(crate) fn redirect_answer(location: &str) -> Answer {
    let mut answer = text_answer(302, HeaderValue::from_static("text/plain"), String::new());
    match HeaderValue::from_str(location) {
        Ok(location) => {
            answer.headers_mut().insert(header::LOCATION, location);
            answer
        }
        Err(_) => error_answer(&ApiError::invalid("The redirect URL is not a valid header")),
    }
}

pub(crate) fn text_answer(status: u16, content_type: HeaderValue, body: String) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    answer
}
