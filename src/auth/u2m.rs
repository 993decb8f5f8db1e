//! `databricks-cli`: the tokens `databricks auth login` stored (by this CLI or the Go CLI),
//! refreshed with their refresh token at the workspace token endpoint (client
//! `databricks-cli`). The refresh runs under the storage lock after a second read, so that two
//! processes never both spend the same rotating refresh token.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::cache::EarlyRefresh;
use super::discovery::Discovery;
use super::error::AuthError;
use super::http::{Call, TokenHttp};
use super::storage::{StoredToken, TokenStore};
use super::token::{BoxFuture, Token, TokenSource};

/// The public OAuth client of the Databricks CLIs.
pub const CLI_CLIENT_ID: &str = "databricks-cli";

/// A token closer than this to its expiry is not used, even when a refresh failed (x/oauth2).
const EXPIRY_DELTA: Duration = Duration::from_secs(10);

/// The Go CLI's text when nothing is stored; older SDKs match its first sentence to move on
/// to the next method.
pub const NO_CACHED_CREDENTIALS: &str = "cache: databricks OAuth is not configured for this \
     host. no cached credentials; run `databricks auth login` to sign in";

pub struct DatabricksCliTokens {
    store: Arc<dyn TokenStore>,
    /// The profile's name: the key the Go CLI stores under since v0.290.
    profile: Option<String>,
    /// `https://<host>`: the older key, which the Go CLI still mirrors in plaintext storage.
    host_key: String,
    discovery: Arc<Discovery>,
    http: TokenHttp,
}

impl fmt::Debug for DatabricksCliTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabricksCliTokens")
            .field("store", &self.store)
            .field("profile", &self.profile)
            .field("host_key", &self.host_key)
            .finish_non_exhaustive()
    }
}

impl DatabricksCliTokens {
    pub fn new(
        store: Arc<dyn TokenStore>,
        profile: Option<String>,
        host: &str,
        discovery: Arc<Discovery>,
        http: TokenHttp,
    ) -> DatabricksCliTokens {
        DatabricksCliTokens {
            store,
            profile,
            host_key: host.trim_end_matches('/').to_string(),
            discovery,
            http,
        }
    }

    fn login_command(&self) -> String {
        match &self.profile {
            Some(profile) => format!("databricks auth login --profile {profile}"),
            None => format!("databricks auth login --host {}", self.host_key),
        }
    }

    /// The stored token: under the profile's key, else under the host's.
    fn load(&self) -> Result<Option<StoredToken>, AuthError> {
        if let Some(profile) = &self.profile {
            if let Some(stored) = self.store.load(profile)? {
                return Ok(Some(stored));
            }
        }
        self.store.load(&self.host_key)
    }

    /// A new token from the refresh token, however fresh the stored one (`auth token
    /// --force-refresh`); a failed refresh is an error.
    pub async fn force_refresh(&self) -> Result<Token, AuthError> {
        self.fetch_or_refresh(true).await
    }

    async fn fetch(&self) -> Result<Token, AuthError> {
        self.fetch_or_refresh(false).await
    }

    async fn fetch_or_refresh(&self, force: bool) -> Result<Token, AuthError> {
        let now = SystemTime::now();
        let early = EarlyRefresh::DATABRICKS_CLI;
        let not_stored = || {
            AuthError::NotConfigured(format!(
                "{NO_CACHED_CREDENTIALS}; for this workspace: `{}`",
                self.login_command()
            ))
        };
        let stored = self.load()?.ok_or_else(not_stored)?;
        if !force && early.is_fresh(&stored.token, now) {
            return Ok(stored.token);
        }
        let lock = self.store.lock()?;
        // Another process may have refreshed while this one waited for the lock.
        let stored = self.load()?.ok_or_else(not_stored)?;
        if !force && early.is_fresh(&stored.token, SystemTime::now()) {
            return Ok(stored.token);
        }
        let refreshed = match self.refresh(&stored.token).await {
            Ok(token) => token,
            Err(error) if !force && is_usable(&stored.token) => {
                self.http.debug(&|| {
                    format!("Proactive token refresh failed ({error}); using the current token")
                });
                return Ok(stored.token);
            }
            Err(error) => return Err(error),
        };
        let entry = StoredToken {
            token: refreshed.clone(),
            token_endpoint: None,
        };
        let mut entries = vec![(self.host_key.clone(), entry.clone())];
        if let Some(profile) = &self.profile {
            entries.insert(0, (profile.clone(), entry));
        }
        self.store.save(&lock, &entries)?;
        Ok(refreshed)
    }

    async fn refresh(&self, token: &Token) -> Result<Token, AuthError> {
        let Some(refresh_token) = &token.refresh_token else {
            return Err(AuthError::Failed(format!(
                "cached token has no refresh token; run `{}`",
                self.login_command()
            )));
        };
        let endpoints = self.discovery.endpoints().await?;
        let form = vec![
            ("client_id", CLI_CLIENT_ID.to_string()),
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh_token.expose().to_string()),
        ];
        let call = Call::post_form(endpoints.token_endpoint, form);
        let mut refreshed = self.http.token(&call).await.map_err(|error| {
            let invalid = error.oauth_error() == Some("invalid_grant")
                || matches!(&error, AuthError::OAuth { description, .. }
                            if description == "Refresh token is invalid");
            if invalid {
                AuthError::Failed(format!(
                    "A new access token could not be retrieved because the refresh token is \
                     invalid. To reauthenticate, run the following command:\n  $ {}",
                    self.login_command()
                ))
            } else {
                AuthError::Failed(format!(
                    "{error}. Try logging in again with `{}` before retrying",
                    self.login_command()
                ))
            }
        })?;
        if refreshed.refresh_token.is_none() {
            refreshed.refresh_token = Some(refresh_token.clone());
        }
        Ok(refreshed)
    }
}

/// Not yet expired (with x/oauth2's 10 s margin): usable when a proactive refresh fails.
fn is_usable(token: &Token) -> bool {
    token
        .expiry
        .is_none_or(|expiry| SystemTime::now() + EXPIRY_DELTA < expiry)
}

impl TokenSource for DatabricksCliTokens {
    fn token(&self) -> BoxFuture<'_, Result<Token, AuthError>> {
        Box::pin(self.fetch())
    }
}
