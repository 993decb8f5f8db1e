//! The emulator's own admin-only endpoints under `/__emulator/`: faults, the request log, and
//! the latency and rate limit (pacing).

use crate::error::ApiError;
use crate::faults::Fault;
use crate::lock;
use crate::pacing::PacingUpdate;
use crate::server::{Answer, BodyError, Received, Shared, error_answer, json_answer};
use crate::workspace::Caller;
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

const FAULTS_PATH: &str = "/__emulator/faults";
const REQUESTS_PATH: &str = "/__emulator/requests";
const PACING_PATH: &str = "/__emulator/pacing";

pub(crate) fn handle(shared: &Shared, request: &Received) -> Answer {
    let Received {
        method,
        path,
        body,
        caller,
        ..
    } = request;
    match respond(shared, method, path, caller, body) {
        Ok(value) => json_answer(StatusCode::OK, &value),
        Err(error) => error_answer(&error),
    }
}

fn respond(
    shared: &Shared,
    method: &Method,
    path: &str,
    caller: &Result<Caller, ApiError>,
    body: &Result<Bytes, BodyError>,
) -> Result<Value, ApiError> {
    if ![FAULTS_PATH, REQUESTS_PATH, PACING_PATH].contains(&path) {
        return Err(ApiError::endpoint_not_found(method.as_str(), path));
    }
    let caller = caller.clone()?;
    if !lock(&shared.workspace).directory.is_admin(&caller.user) {
        return Err(ApiError::permission_denied(format!(
            "{path} needs an admin token; {} is not an admin",
            caller.user
        )));
    }
    match (path, method) {
        (FAULTS_PATH, &Method::POST) => {
            let body = body.as_ref().map_err(|error| ApiError::from(*error))?;
            for fault in parse_faults(body)? {
                lock(&shared.faults).push(fault);
            }
            Ok(json!({}))
        }
        (FAULTS_PATH, &Method::GET) => Ok(json!({ "faults": lock(&shared.faults).pending() })),
        (FAULTS_PATH, &Method::DELETE) => {
            lock(&shared.faults).clear();
            Ok(json!({}))
        }
        (REQUESTS_PATH, &Method::GET) => Ok(json!({ "requests": *lock(&shared.log) })),
        (REQUESTS_PATH, &Method::DELETE) => {
            lock(&shared.log).clear();
            Ok(json!({}))
        }
        (PACING_PATH, &Method::GET) => Ok(pacing_status(shared)),
        (PACING_PATH, &Method::POST) => {
            let body = body.as_ref().map_err(|error| ApiError::from(*error))?;
            let update: PacingUpdate = serde_json::from_slice(body)
                .map_err(|error| ApiError::malformed(format!("Invalid pacing: {error}")))?;
            update.validate().map_err(ApiError::invalid)?;
            lock(&shared.pacing).update(update);
            Ok(pacing_status(shared))
        }
        (PACING_PATH, &Method::DELETE) => {
            lock(&shared.pacing).reset();
            Ok(pacing_status(shared))
        }
        (FAULTS_PATH | PACING_PATH, _) => Err(ApiError::method_not_allowed(
            method.as_str(),
            path,
            "GET, POST or DELETE",
        )),
        _ => Err(ApiError::method_not_allowed(
            method.as_str(),
            path,
            "GET or DELETE",
        )),
    }
}

fn pacing_status(shared: &Shared) -> Value {
    json!(lock(&shared.pacing).status())
}

/// One fault object or an array of them, all valid.
fn parse_faults(body: &[u8]) -> Result<Vec<Fault>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::malformed(format!("The body is not valid JSON: {error}")))?;
    let faults: Vec<Fault> = match value {
        Value::Array(_) => serde_json::from_value(value),
        _ => serde_json::from_value(value).map(|fault| vec![fault]),
    }
    .map_err(|error| ApiError::malformed(format!("Invalid fault: {error}")))?;
    for fault in &faults {
        fault.validate().map_err(ApiError::invalid)?;
    }
    Ok(faults)
}
