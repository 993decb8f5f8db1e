//! The HTTP/1.1 server: accept loop, authentication, faults, routing, request log.

use crate::error::ApiError;
use crate::faults::{Fault, FaultQueue, default_error_code};
use crate::fields::{Fields, query_map};
use crate::pacing::{Pacing, Throttled};
use crate::requests::{LoggedRequest, logged_body};
use crate::workspace::{Caller, Endpoint, Workspace};
use crate::{control, lock, now_millis};
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
/// The unauthenticated discovery document recent SDKs fetch before their first call.
const HOST_METADATA_PATH: &str = "/.well-known/databricks-config";
const EMULATED_WORKSPACE_ID: &str = "1000000000000000";

pub(crate) type Answer = Response<Full<Bytes>>;

/// What the request handlers share.
pub(crate) struct Shared {
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
    pub body: Result<Bytes, BodyError>,
    pub caller: Result<Caller, ApiError>,
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
    let body = read_body(body).await;
    let caller = authenticate(&shared, &parts.headers);
    let request = Received {
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        method: parts.method,
        body,
        caller,
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
    lock(&shared.log).push(LoggedRequest {
        method: request.method.to_string(),
        query_params: query_map(&request.query),
        query: request.query,
        path: request.path,
        body: match &request.body {
            Ok(bytes) => logged_body(bytes),
            Err(BodyError::TooLarge) => json!(format!("<more than {MAX_BODY_BYTES} bytes>")),
            Err(BodyError::Unreadable) => json!("<unreadable>"),
        },
        user: request.caller.ok().map(|caller| caller.user),
        status: answer.as_ref().map(|answer| answer.status().as_u16()),
        fault: fault.is_some(),
        received_at_ms,
    });
    answer.ok_or(ConnectionDropped)
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

/// The user behind a `Bearer` token, or behind `Basic` credentials whose password is a token
/// of that user.
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
    let workspace = lock(&shared.workspace);
    let directory = &workspace.directory;
    let caller = if scheme.eq_ignore_ascii_case("bearer") {
        directory.user_for_token(credentials).map(|user| Caller {
            user: user.to_string(),
            token: credentials.to_string(),
        })
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = BASE64
            .decode(credentials)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        decoded.and_then(|pair| {
            let (name, password) = pair.split_once(':')?;
            (directory.user_for_token(password)? == name).then(|| Caller {
                user: name.to_string(),
                token: password.to_string(),
            })
        })
    } else {
        None
    };
    caller.ok_or_else(invalid)
}

/// Runs a Secrets API call (or answers the host metadata probe).
fn dispatch(shared: &Shared, request: &Received) -> Answer {
    let Received {
        method,
        path,
        query,
        body,
        caller,
        ..
    } = request;
    if path == HOST_METADATA_PATH && method == Method::GET {
        return json_answer(
            StatusCode::OK,
            &json!({ "workspace_id": EMULATED_WORKSPACE_ID }),
        );
    }
    let result = (|| {
        let endpoint = Endpoint::from_path(path)
            .ok_or_else(|| ApiError::endpoint_not_found(method.as_str(), path))?;
        let expected = if endpoint.is_read() {
            Method::GET
        } else {
            Method::POST
        };
        if *method != expected {
            return Err(ApiError::method_not_allowed(
                method.as_str(),
                path,
                expected.as_str(),
            ));
        }
        let caller = caller.clone()?;
        let fields = if endpoint.is_read() {
            Fields::from_query(query)
        } else {
            Fields::from_json_body(body.as_ref().map_err(|error| ApiError::from(*error))?)?
        };
        lock(&shared.workspace).handle(endpoint, &caller, &fields)
    })();
    match result {
        Ok(value) => json_answer(StatusCode::OK, &value),
        Err(error) => error_answer(&error),
    }
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

fn text_answer(status: u16, content_type: HeaderValue, body: String) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    answer
}
