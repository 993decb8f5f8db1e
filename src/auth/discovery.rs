//! The workspace's OAuth endpoints: `GET {host}/oidc/.well-known/oauth-authorization-server`
//! (or `discovery_url` when configured), fetched once per process and shared by every source.
//!
//! The SDKs first read `{host}/.well-known/databricks-config` for the cloud, the workspace id
//! and a `discovery_url`; only the endpoints matter for authentication, so this reads the OAuth
//! server metadata directly (one request instead of two), as the Go CLI's U2M login does.

use std::sync::Mutex;

use super::error::AuthError;
use super::http::{Call, TokenHttp};

/// The endpoints of an OAuth server that the clients use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcEndpoints {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
}

#[derive(Debug)]
pub struct Discovery {
    url: String,
    http: TokenHttp,
    known: Mutex<Option<OidcEndpoints>>,
}

impl Discovery {
    /// `discovery_url` (the config attribute) wins over the workspace's well-known URL.
    pub fn new(host: &str, discovery_url: Option<&str>, http: TokenHttp) -> Discovery {
        let url = discovery_url.map_or_else(
            || {
                format!(
                    "{}/oidc/.well-known/oauth-authorization-server",
                    host.trim_end_matches('/')
                )
            },
            str::to_string,
        );
        Discovery {
            url,
            http,
            known: Mutex::new(None),
        }
    }

    /// Endpoints known from an earlier invocation (kept with a cached token).
    pub fn remember(&self, endpoints: OidcEndpoints) {
        *self
            .known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(endpoints);
    }

    /// The endpoints, if already known, without a request.
    pub fn known(&self) -> Option<OidcEndpoints> {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub async fn endpoints(&self) -> Result<OidcEndpoints, AuthError> {
        if let Some(endpoints) = self.known() {
            return Ok(endpoints);
        }
        let answer = self
            .http
            .json(&Call::get(&self.url))
            .await
            .map_err(|error| match error {
                AuthError::UnexpectedAnswer { status: 404, .. } => AuthError::Failed(format!(
                    "databricks OAuth is not supported for this host: {} answered 404; check the \
                 host, or use another authentication method",
                    self.url
                )),
                other => AuthError::Failed(format!("failed to get OAuth endpoints: {other}")),
            })?;
        let field = |name: &str| {
            answer
                .get(name)
                .and_then(|value| value.as_str())
                .filter(|value| !value.is_empty())
                .map(str::to_string)
        };
        let endpoints = OidcEndpoints {
            token_endpoint: field("token_endpoint").ok_or_else(|| {
                AuthError::Failed(format!(
                    "failed to get OAuth endpoints: the answer of {} has no token_endpoint",
                    self.url
                ))
            })?,
            authorization_endpoint: field("authorization_endpoint").unwrap_or_default(),
        };
        self.remember(endpoints.clone());
        Ok(endpoints)
    }
}
