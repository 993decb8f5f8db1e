//! Fake ID-token endpoints of CI systems, for testing workload identity federation offline:
//! GitHub Actions (`ACTIONS_ID_TOKEN_REQUEST_URL`) and Azure Pipelines (`SYSTEM_OIDCREQUESTURI`
//! style). Both want `Authorization: Bearer` [`CI_REQUEST_TOKEN`] and answer a JWT-shaped ID
//! token.

use crate::error::ApiError;
use crate::identity::unix_seconds;
use crate::jwt::{self, Claims};
use crate::random_token;
use crate::server::{Answer, Received, error_answer, json_answer, require_method};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::SystemTime;

/// The bearer token the fake CI endpoints expect (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`,
/// `SYSTEM_ACCESSTOKEN`).
pub const CI_REQUEST_TOKEN: &str = "emulator-ci-request-token";
/// The issuer of GitHub Actions ID tokens.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The subject of the fake GitHub Actions ID tokens unless the request asks for another.
pub const GITHUB_DEFAULT_SUBJECT: &str = "repo:octo-org/octo-repo:ref:refs/heads/main";
/// The issuer of the fake Azure Pipelines ID tokens.
pub const AZURE_DEVOPS_ISSUER: &str = "https://vstoken.dev.azure.com/emulator-organization";
/// The audience of Azure Pipelines ID tokens.
const AZURE_DEVOPS_AUDIENCE: &str = "api://AzureADTokenExchange";
const GITHUB_PATH: &str = "/github-actions/idtoken";
const AZURE_DEVOPS_PREFIX: &str = "/azure-devops/";
const ID_TOKEN_LIFETIME_SECONDS: i64 = 300;

/// Answers the fake CI paths; `None` for any other path.
pub(crate) fn route(request: &Received) -> Option<Answer> {
    let result = if request.path == GITHUB_PATH {
        github(request)
    } else if let Some(job) = azure_devops_job(&request.path) {
        azure_devops(request, &job)
    } else {
        return None;
    };
    Some(match result {
        Ok(value) => json_answer(StatusCode::OK, &value),
        Err(error) => error_answer(&error),
    })
}

/// `GET /github-actions/idtoken?audience=AUD[&sub=SUBJECT][&iss=ISSUER][&ttl=SECONDS]`:
/// `{"count": 1, "value": JWT}` like GitHub's endpoint.
fn github(request: &Received) -> Result<Value, ApiError> {
    require_method(request, &Method::GET)?;
    require_ci_token(request)?;
    let params = crate::fields::query_map(&request.query);
    let param = |name: &str| params.get(name).and_then(Value::as_str);
    let audience = param("audience").ok_or_else(|| {
        ApiError::invalid("Missing audience: append &audience=... to ACTIONS_ID_TOKEN_REQUEST_URL")
    })?;
    let claims = id_token_claims(
        param("iss").unwrap_or(GITHUB_ISSUER),
        param("sub").unwrap_or(GITHUB_DEFAULT_SUBJECT),
        audience,
        lifetime(param("ttl"))?,
    );
    Ok(json!({ "count": 1, "value": jwt::encode(&claims) }))
}

/// The path parts of `/azure-devops/PROJECT/_apis/distributedtask/hubs/HUB/plans/PLAN/jobs/JOB/oidctoken`.
struct AzureDevOpsJob {
    project: String,
    plan: String,
}

fn azure_devops_job(path: &str) -> Option<AzureDevOpsJob> {
    let rest = path.strip_prefix(AZURE_DEVOPS_PREFIX)?;
    let parts: Vec<&str> = rest.split('/').filter(|part| !part.is_empty()).collect();
    match parts[..] {
        [
            project,
            "_apis",
            "distributedtask",
            "hubs",
            _hub,
            "plans",
            plan,
            "jobs",
            _job,
            "oidctoken",
        ] => Some(AzureDevOpsJob {
            project: project.to_string(),
            plan: plan.to_string(),
        }),
        _ => None,
    }
}

/// `POST …/oidctoken?api-version=7.2-preview.1` → `{"oidcToken": JWT}`; the subject is
/// `p://emulator-organization/PROJECT/PLAN`.
fn azure_devops(request: &Received, job: &AzureDevOpsJob) -> Result<Value, ApiError> {
    require_method(request, &Method::POST)?;
    require_ci_token(request)?;
    let subject = format!("p://emulator-organization/{}/{}", job.project, job.plan);
    let claims = id_token_claims(
        AZURE_DEVOPS_ISSUER,
        &subject,
        AZURE_DEVOPS_AUDIENCE,
        ID_TOKEN_LIFETIME_SECONDS,
    );
    Ok(json!({ "oidcToken": jwt::encode(&claims) }))
}

fn require_ci_token(request: &Received) -> Result<(), ApiError> {
    if request.bearer_token() == Some(CI_REQUEST_TOKEN) {
        return Ok(());
    }
    Err(ApiError::unauthenticated(format!(
        "The fake CI endpoints want Authorization: Bearer {CI_REQUEST_TOKEN}"
    )))
}

/// `ttl` in seconds (negative for an already expired token), default 5 minutes.
fn lifetime(ttl: Option<&str>) -> Result<i64, ApiError> {
    ttl.map_or(Ok(ID_TOKEN_LIFETIME_SECONDS), |text| {
        text.parse()
            .map_err(|_| ApiError::invalid(format!("ttl {text:?} is not a number of seconds")))
    })
}

fn id_token_claims(issuer: &str, subject: &str, audience: &str, lifetime: i64) -> Claims {
    let now = i64::try_from(unix_seconds(SystemTime::now())).unwrap_or(i64::MAX);
    let claims = json!({
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(lifetime),
        "jti": random_token(""),
    });
    claims.as_object().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_devops_paths_are_recognised() {
        let job = azure_devops_job(
            "/azure-devops/proj/_apis/distributedtask/hubs/build/plans/plan-1/jobs/job-1/oidctoken",
        )
        .unwrap();
        assert_eq!(
            (job.project.as_str(), job.plan.as_str()),
            ("proj", "plan-1")
        );
        // a collection URI with a trailing slash gives a double slash
        assert!(
            azure_devops_job(
                "/azure-devops//proj/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken"
            )
            .is_some()
        );
        assert!(azure_devops_job("/azure-devops/proj/_apis/other").is_none());
    }
}
