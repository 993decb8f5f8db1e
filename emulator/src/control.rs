//! The emulator's own admin-only endpoints under `/__emulator/`: faults, the request log, the
//! latency and rate limit (pacing), token revocation and Entra ID user tokens.

use crate::entra::{self, AZURE_DATABRICKS_LOGIN_APP_ID, EntraSubject};
use crate::error::ApiError;
use crate::faults::Fault;
use crate::fields::Fields;
use crate::lock;
use crate::pacing::PacingUpdate;
use crate::server::{Answer, Received, Shared, error_answer, json_answer};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

const FAULTS_PATH: &str = "/__emulator/faults";
const REQUESTS_PATH: &str = "/__emulator/requests";
const PACING_PATH: &str = "/__emulator/pacing";
const TOKENS_PATH: &str = "/__emulator/tokens";
const ENTRA_TOKEN_PATH: &str = "/__emulator/entra-token";

pub(crate) fn handle(shared: &Shared, request: &Received) -> Answer {
    match respond(shared, request) {
        Ok(value) => json_answer(StatusCode::OK, &value),
        Err(error) => error_answer(&error),
    }
}

fn respond(shared: &Shared, request: &Received) -> Result<Value, ApiError> {
    let Received { method, path, .. } = request;
    let path = path.as_str();
    let known = [
        FAULTS_PATH,
        REQUESTS_PATH,
        PACING_PATH,
        TOKENS_PATH,
        ENTRA_TOKEN_PATH,
    ];
    if !known.contains(&path) {
        return Err(ApiError::endpoint_not_found(method.as_str(), path));
    }
    let caller = request.caller.clone()?;
    if !shared.directory.is_admin(&caller.user) {
        return Err(ApiError::permission_denied(format!(
            "{path} needs an admin token; {} is not an admin",
            caller.user
        )));
    }
    match (path, method) {
        (FAULTS_PATH, &Method::POST) => {
            for fault in parse_faults(request.body_bytes()?)? {
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
            let update: PacingUpdate = serde_json::from_slice(request.body_bytes()?)
                .map_err(|error| ApiError::malformed(format!("Invalid pacing: {error}")))?;
            update.validate().map_err(ApiError::invalid)?;
            lock(&shared.pacing).update(update);
            Ok(pacing_status(shared))
        }
        (PACING_PATH, &Method::DELETE) => {
            lock(&shared.pacing).reset();
            Ok(pacing_status(shared))
        }
        (TOKENS_PATH, &Method::DELETE) => {
            let principal = Fields::from_query(&request.query);
            let revoked = shared.identity.revoke(principal.optional_str("principal")?);
            Ok(json!({ "revoked": revoked }))
        }
        (ENTRA_TOKEN_PATH, &Method::POST) => {
            let fields = Fields::from_json_body(request.body_bytes()?)?;
            let user = fields.required_str("user")?;
            let resource = fields
                .optional_str("resource")?
                .unwrap_or(AZURE_DATABRICKS_LOGIN_APP_ID);
            entra_user_token(shared, user, resource)
        }
        (FAULTS_PATH | PACING_PATH, _) => Err(ApiError::method_not_allowed(
            method.as_str(),
            path,
            "GET, POST or DELETE",
        )),
        (REQUESTS_PATH, _) => Err(ApiError::method_not_allowed(
            method.as_str(),
            path,
            "GET or DELETE",
        )),
        (TOKENS_PATH, _) => Err(ApiError::method_not_allowed(
            method.as_str(),
            path,
            "DELETE",
        )),
        _ => Err(ApiError::method_not_allowed(method.as_str(), path, "POST")),
    }
}

/// An Entra ID token of a configured user, as `az account get-access-token` would get it.
pub(crate) fn entra_user_token(
    shared: &Shared,
    user: &str,
    resource: &str,
) -> Result<Value, ApiError> {
    if !shared.directory.has_user(user) {
        return Err(ApiError::not_found(format!(
            "No user {user}: Entra ID user tokens are for configured users (--user)"
        )));
    }
    Ok(entra::issue(
        &shared.identity,
        &EntraSubject::User(user),
        resource,
    ))
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
