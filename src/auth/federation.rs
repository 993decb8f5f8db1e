//! Workload identity federation: an ID token from the CI system (GitHub Actions, Azure
//! Pipelines), an environment variable or a file, exchanged at the workspace token endpoint
//! for a Databricks token (RFC 8693). No secret is configured at all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::discovery::Discovery;
use super::error::AuthError;
use super::http::{Call, TokenHttp};
use super::m2m::scope_parameter;
use super::token::{BoxFuture, Token, TokenSource};
use crate::secret::Secret;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// Where `env-oidc` finds the ID token unless `oidc_token_env` names another variable.
pub const DEFAULT_TOKEN_VARIABLE: &str = "DATABRICKS_OIDC_TOKEN";

/// Where the ID token comes from; each is a method of its own (`auth_type`).
pub enum IdTokenSource {
    /// `github-oidc`: `ACTIONS_ID_TOKEN_REQUEST_URL` with the audience, bearer
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    GitHub {
        request_url: String,
        request_token: Secret,
    },
    /// `azure-devops-oidc`: the pipeline's OIDC token endpoint, bearer `SYSTEM_ACCESSTOKEN`.
    AzureDevOps {
        collection_uri: String,
        project_id: String,
        plan_id: String,
        job_id: String,
        host_type: String,
        access_token: Secret,
    },
    /// `env-oidc`: the value of the variable named by `oidc_token_env` (default
    /// `DATABRICKS_OIDC_TOKEN`), read when the method is configured.
    Env { variable: String, token: Secret },
    /// `file-oidc`: the file `databricks_id_token_filepath`, read at every exchange (a
    /// Kubernetes projected token is rotated in place).
    File { path: PathBuf },
}

impl fmt::Debug for IdTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdTokenSource::GitHub { request_url, .. } => f
                .debug_struct("GitHub")
                .field("request_url", request_url)
                .field("request_token", &"***")
                .finish(),
            IdTokenSource::AzureDevOps {
                collection_uri,
                project_id,
                ..
            } => f
                .debug_struct("AzureDevOps")
                .field("collection_uri", collection_uri)
                .field("project_id", project_id)
                .field("access_token", &"***")
                .finish_non_exhaustive(),
            IdTokenSource::Env { variable, .. } => f
                .debug_struct("Env")
                .field("variable", variable)
                .field("token", &"***")
                .finish(),
            IdTokenSource::File { path } => f.debug_struct("File").field("path", path).finish(),
        }
    }
}

impl IdTokenSource {
    /// The method name (`auth_type`).
    pub fn method(&self) -> &'static str {
        match self {
            IdTokenSource::GitHub { .. } => "github-oidc",
            IdTokenSource::AzureDevOps { .. } => "azure-devops-oidc",
            IdTokenSource::Env { .. } => "env-oidc",
            IdTokenSource::File { .. } => "file-oidc",
        }
    }

    /// What makes the ID tokens of this source those of one workload, for keying cached
    /// tokens: the CI job's request endpoint and credential, or the issuer and subject of the
    /// JWT at hand. Never shown (it may contain a credential).
    pub fn identity(&self) -> Result<Vec<String>, AuthError> {
        Ok(match self {
            IdTokenSource::GitHub {
                request_url,
                request_token,
            } => vec![request_url.clone(), request_token.expose().to_string()],
            IdTokenSource::AzureDevOps {
                collection_uri,
                project_id,
                plan_id,
                job_id,
                access_token,
                ..
            } => vec![
                collection_uri.clone(),
                project_id.clone(),
                plan_id.clone(),
                job_id.clone(),
                access_token.expose().to_string(),
            ],
            IdTokenSource::Env { token, .. } => local_identity(token),
            IdTokenSource::File { path } => local_identity(&read_file(path)?),
        })
    }

    async fn id_token(&self, http: &TokenHttp, audience: &str) -> Result<Secret, AuthError> {
        match self {
            IdTokenSource::GitHub {
                request_url,
                request_token,
            } => {
                let separator = if request_url.contains('?') { '&' } else { '?' };
                let audience: String =
                    url::form_urlencoded::byte_serialize(audience.as_bytes()).collect();
                let call = Call::get(format!("{request_url}{separator}audience={audience}"))
                    .header("Authorization", bearer(request_token));
                let answer = http.json(&call).await.map_err(|error| {
                    AuthError::Failed(format!(
                        "failed to request ID token from {request_url}: {error}; check that \
                         the job has `permissions: id-token: write`"
                    ))
                })?;
                id_token_field(&answer, "value", request_url)
            }
            IdTokenSource::AzureDevOps {
                collection_uri,
                project_id,
                plan_id,
                job_id,
                host_type,
                access_token,
            } => {
                let url = format!(
                    "{}/{project_id}/_apis/distributedtask/hubs/{host_type}/plans/{plan_id}/jobs/\
                     {job_id}/oidctoken?api-version=7.2-preview.1",
                    collection_uri.trim_end_matches('/')
                );
                let call =
                    Call::post_form(&url, Vec::new()).header("Authorization", bearer(access_token));
                let answer = http.json(&call).await.map_err(|error| {
                    AuthError::Failed(format!(
                        "failed to request ID token from Azure DevOps: {error}; check that the \
                         pipeline step maps SYSTEM_ACCESSTOKEN (env: SYSTEM_ACCESSTOKEN: \
                         $(System.AccessToken))"
                    ))
                })?;
                id_token_field(&answer, "oidcToken", &url)
            }
            IdTokenSource::Env { token, .. } => Ok(token.clone()),
            IdTokenSource::File { path } => read_file(path),
        }
    }
}

/// `file-oidc`'s ID token: the whole file, as it is (no trimming, as the SDKs do).
fn read_file(path: &Path) -> Result<Secret, AuthError> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.is_empty() => Ok(Secret::new(text)),
        Ok(_) => Err(AuthError::Failed(format!(
            "file \"{}\" is empty; it must hold the workload's ID token (a JWT)",
            path.display()
        ))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(AuthError::NotConfigured(format!(
                "file \"{}\" does not exist; check databricks_id_token_filepath \
                 (DATABRICKS_OIDC_TOKEN_FILEPATH)",
                path.display()
            )))
        }
        Err(error) => Err(AuthError::Failed(format!(
            "cannot read the ID token file \"{}\": {error}",
            path.display()
        ))),
    }
}

/// The issuer, subject and audience of a local ID token: who the workload is.
fn local_identity(token: &Secret) -> Vec<String> {
    let claims = jwt_claims(token.expose());
    ["iss", "sub", "aud"]
        .iter()
        .map(|name| {
            claims
                .as_ref()
                .and_then(|claims| claims.get(*name))
                .map(Value::to_string)
                .unwrap_or_default()
        })
        .collect()
}

fn bearer(token: &Secret) -> Secret {
    Secret::new(format!("Bearer {}", token.expose()))
}

/// The ID token in a CI answer, matching the field name in any case (as the SDK does).
fn id_token_field(answer: &Value, field: &str, url: &str) -> Result<Secret, AuthError> {
    answer
        .as_object()
        .and_then(|fields| {
            fields
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(field))
                .and_then(|(_, value)| value.as_str())
        })
        .filter(|token| !token.is_empty())
        .map(Secret::new)
        .ok_or_else(|| AuthError::Failed(format!("the answer of {url} has no {field}")))
}

/// The claims of a JWT (not verified: only to tell workloads apart).
pub(crate) fn jwt_claims(token: &str) -> Option<Value> {
    let payload = token.trim().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The token exchange of an ID token for a workspace token.
pub struct TokenExchange {
    discovery: Arc<Discovery>,
    /// The service principal whose federation policy accepts the ID token; without it, any
    /// policy whose claims match names the principal (account-wide federation).
    client_id: Option<String>,
    scopes: Vec<String>,
    /// `audience` (DATABRICKS_TOKEN_AUDIENCE); the token endpoint URL when unset.
    audience: Option<String>,
    id_tokens: IdTokenSource,
    http: TokenHttp,
}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchange")
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("audience", &self.audience)
            .field("id_tokens", &self.id_tokens)
            .finish_non_exhaustive()
    }
}

impl TokenExchange {
    pub fn new(
        discovery: Arc<Discovery>,
        client_id: Option<String>,
        scopes: Vec<String>,
        audience: Option<String>,
        id_tokens: IdTokenSource,
        http: TokenHttp,
    ) -> TokenExchange {
        TokenExchange {
            discovery,
            client_id,
            scopes,
            audience,
            id_tokens,
            http,
        }
    }

    async fn fetch(&self) -> Result<Token, AuthError> {
        let endpoints = self.discovery.endpoints().await?;
        let audience = self
            .audience
            .clone()
            .unwrap_or_else(|| endpoints.token_endpoint.clone());
        let id_token = self.id_tokens.id_token(&self.http, &audience).await?;
        let mut form = Vec::new();
        if let Some(client_id) = &self.client_id {
            form.push(("client_id", client_id.clone()));
        }
        form.extend([
            ("grant_type", TOKEN_EXCHANGE.to_string()),
            ("scope", scope_parameter(&self.scopes)),
            ("subject_token", id_token.expose().to_string()),
            ("subject_token_type", JWT_TOKEN_TYPE.to_string()),
        ]);
        let call = Call::post_form(endpoints.token_endpoint, form);
        let method = self.id_tokens.method();
        self.http.token(&call).await.map_err(|error| {
            error.with_fix(|code| {
                (code == "invalid_grant" || code == "invalid_client").then(|| {
                    format!(
                        "{method}: check that the service principal `{}` has a federation \
                         policy matching the ID token's issuer, subject and audience ({audience})",
                        self.client_id.as_deref().unwrap_or("(any)")
                    )
                })
            })
        })
    }
}

impl TokenSource for TokenExchange {
    fn token(&self) -> BoxFuture<'_, Result<Token, AuthError>> {
        Box::pin(self.fetch())
    }

    fn discovery(&self) -> Option<&Discovery> {
        Some(&self.discovery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_of_a_jwt_are_read_without_verification() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://ci","sub":"repo:x"}"#);
        let claims = jwt_claims(&format!("e30.{payload}.sig\n")).unwrap();
        assert_eq!(claims["sub"], "repo:x");
        assert!(jwt_claims("not a jwt").is_none());
    }

    #[test]
    fn debug_hides_ci_credentials() {
        let source = IdTokenSource::GitHub {
            request_url: "http://127.0.0.1/idtoken?x=1".into(),
            request_token: Secret::new("request-token-value"),
        };
        assert!(!format!("{source:?}").contains("request-token-value"));
    }
}
