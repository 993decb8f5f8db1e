//! A token kept for reuse and refreshed before it expires. Single-flight: the token sits behind
//! an async mutex, so requests that need a new token while one is being fetched wait for that
//! one fetch instead of starting their own. Optionally kept across invocations in the token
//! storage (M2M and federation tokens), under a key no other principal, host, scope, method or
//! secret can produce.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use ring::digest::{SHA256, digest};

use super::discovery::OidcEndpoints;
use super::error::AuthError;
use super::http::DebugLog;
use super::storage::{OWN_KEY_PREFIX, StoredToken, TokenStore};
use super::token::{Token, TokenSource};
use crate::secret::Secret;

/// How long before its expiry a token is replaced. Whatever the rule, a token is always used
/// for at least half its lifetime, so that a short-lived token is not fetched for every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyRefresh {
    /// M2M and federation: half the lifetime, at most 20 minutes (the SDK's async window).
    HalfLifeUpTo(Duration),
    /// A fixed margin: Azure's 40 s ("Azure Databricks rejects tokens that expire in 30
    /// seconds or less"), the databricks-cli method's 5 minutes.
    Before(Duration),
}

impl EarlyRefresh {
    pub const OAUTH: EarlyRefresh = EarlyRefresh::HalfLifeUpTo(Duration::from_secs(20 * 60));
    pub const AZURE: EarlyRefresh = EarlyRefresh::Before(Duration::from_secs(40));
    pub const DATABRICKS_CLI: EarlyRefresh = EarlyRefresh::Before(Duration::from_secs(5 * 60));

    fn margin(self, lifetime: Option<Duration>) -> Duration {
        let half_life = lifetime.map(|lifetime| lifetime / 2);
        match (self, half_life) {
            (EarlyRefresh::HalfLifeUpTo(cap), Some(half)) => half.min(cap),
            (EarlyRefresh::HalfLifeUpTo(cap), None) => cap,
            (EarlyRefresh::Before(margin), Some(half)) => margin.min(half),
            (EarlyRefresh::Before(margin), None) => margin,
        }
    }

    /// Whether `token` can still be used at `now`.
    pub fn is_fresh(self, token: &Token, now: SystemTime) -> bool {
        match token.expiry {
            None => true,
            Some(expiry) => now + self.margin(token.lifetime) < expiry,
        }
    }
}

/// Where a token is kept across invocations, and under which key.
#[derive(Clone)]
pub struct PersistentCache {
    store: Arc<dyn TokenStore>,
    key: String,
}

impl fmt::Debug for PersistentCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersistentCache")
            .field("store", &self.store)
            .field("key", &self.key)
            .finish()
    }
}

impl PersistentCache {
    /// The key: method, host, client id and scopes in clear (so that the file can be read), and
    /// a hash of the secret material (client secret, CI job credential, workload identity) so
    /// that a rotated secret or another workload never reuses a token.
    pub fn new(
        store: Arc<dyn TokenStore>,
        method: &str,
        host: &str,
        client_id: &str,
        scopes: &str,
        secret_material: &[&str],
    ) -> PersistentCache {
        let mut hashed = Vec::new();
        for part in secret_material {
            hashed.extend_from_slice(&(part.len() as u64).to_be_bytes());
            hashed.extend_from_slice(part.as_bytes());
        }
        let hash = digest(&SHA256, &hashed);
        let fingerprint: String = hash.as_ref()[..12]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let key = format!("{OWN_KEY_PREFIX}{method} {host} {client_id} {scopes} {fingerprint}");
        PersistentCache { store, key }
    }

    #[cfg(test)]
    pub fn key(&self) -> &str {
        &self.key
    }
}

pub struct CachedToken {
    source: Box<dyn TokenSource>,
    early: EarlyRefresh,
    current: tokio::sync::Mutex<Option<Token>>,
    persistent: Option<PersistentCache>,
    /// Tokens the server refused (401): if the current token is one of them, the next request
    /// fetches a new one, even if the stored one looks fresh. A refusal of a token already
    /// replaced (a request that was under way meanwhile) fetches nothing.
    refused: Mutex<Vec<Secret>>,
    debug: DebugLog,
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("source", &self.source)
            .field("early", &self.early)
            .field("persistent", &self.persistent)
            .finish_non_exhaustive()
    }
}

impl CachedToken {
    pub fn new(
        source: Box<dyn TokenSource>,
        early: EarlyRefresh,
        persistent: Option<PersistentCache>,
        debug: DebugLog,
    ) -> CachedToken {
        CachedToken {
            source,
            early,
            current: tokio::sync::Mutex::new(None),
            persistent,
            refused: Mutex::new(Vec::new()),
            debug,
        }
    }

    /// A token fresh enough to send; fetched (once, whoever else waits) when there is none.
    pub async fn token(&self) -> Result<Token, AuthError> {
        let mut current = self.current.lock().await;
        let refused = std::mem::take(&mut *self.refused_tokens());
        let rejected = match current.as_ref() {
            Some(token) => refused.contains(&token.access_token),
            None => !refused.is_empty(),
        };
        let now = SystemTime::now();
        if !rejected {
            if let Some(token) = current.as_ref().filter(|t| self.early.is_fresh(t, now)) {
                return Ok(token.clone());
            }
            if current.is_none() {
                if let Some(token) = self.stored_token(now) {
                    *current = Some(token.clone());
                    return Ok(token);
                }
            }
        }
        let token = self.source.token().await?;
        self.keep(&token);
        *current = Some(token.clone());
        Ok(token)
    }

    /// The server answered 401 to a request that carried `refused` (tokens, or header values
    /// holding them): the current token, if among them, is not used again.
    pub fn reject(&self, refused: &[Secret]) {
        self.refused_tokens().extend_from_slice(refused);
    }

    fn refused_tokens(&self) -> std::sync::MutexGuard<'_, Vec<Secret>> {
        self.refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn log(&self, line: &dyn Fn() -> String) {
        if let Some(log) = &self.debug {
            log(&line());
        }
    }

    /// A fresh token of an earlier invocation; an expired one still tells the token endpoint.
    fn stored_token(&self, now: SystemTime) -> Option<Token> {
        let persistent = self.persistent.as_ref()?;
        let stored = match persistent.store.load(&persistent.key) {
            Ok(stored) => stored?,
            Err(error) => {
                self.log(&|| format!("token cache not used: {error}"));
                return None;
            }
        };
        if let (Some(discovery), Some(token_endpoint)) =
            (self.source.discovery(), &stored.token_endpoint)
        {
            if discovery.known().is_none() {
                discovery.remember(OidcEndpoints {
                    authorization_endpoint: String::new(),
                    token_endpoint: token_endpoint.clone(),
                });
            }
        }
        if self.early.is_fresh(&stored.token, now) {
            self.log(&|| {
                format!(
                    "Using the token cached by an earlier command ({})",
                    persistent.key
                )
            });
            Some(stored.token)
        } else {
            None
        }
    }

    /// Keeps a new token for later invocations; failing to is not an error (only slower).
    fn keep(&self, token: &Token) {
        let Some(persistent) = &self.persistent else {
            return;
        };
        let stored = StoredToken {
            token: token.clone(),
            token_endpoint: self
                .source
                .discovery()
                .and_then(|discovery| discovery.known())
                .map(|endpoints| endpoints.token_endpoint),
        };
        let saved = persistent.store.lock().and_then(|lock| {
            persistent
                .store
                .save(&lock, &[(persistent.key.clone(), stored)])
        });
        if let Err(error) = saved {
            self.log(&|| format!("token not cached for later commands: {error}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn token_expiring_in(seconds: u64, lifetime: Option<u64>) -> Token {
        Token {
            access_token: Secret::new("t"),
            token_type: "Bearer".into(),
            expiry: Some(SystemTime::now() + Duration::from_secs(seconds)),
            refresh_token: None,
            lifetime: lifetime.map(Duration::from_secs),
        }
    }

    #[test]
    fn oauth_tokens_are_replaced_after_half_their_life_at_most_20_minutes_early() {
        let now = SystemTime::now();
        let rule = EarlyRefresh::OAUTH;
        assert!(rule.is_fresh(&token_expiring_in(1900, Some(3600)), now));
        assert!(!rule.is_fresh(&token_expiring_in(1100, Some(3600)), now));
        assert!(rule.is_fresh(&token_expiring_in(2, Some(2)), now));
        assert!(!rule.is_fresh(&token_expiring_in(0, Some(2)), now));
    }

    #[test]
    fn fixed_margins_never_take_more_than_half_the_life() {
        let now = SystemTime::now();
        assert!(!EarlyRefresh::AZURE.is_fresh(&token_expiring_in(39, Some(3600)), now));
        assert!(EarlyRefresh::AZURE.is_fresh(&token_expiring_in(41, Some(3600)), now));
        assert!(EarlyRefresh::AZURE.is_fresh(&token_expiring_in(20, Some(30)), now));
        assert!(!EarlyRefresh::DATABRICKS_CLI.is_fresh(&token_expiring_in(200, None), now));
    }

    #[test]
    fn cache_keys_differ_for_every_part_and_hide_the_secret() {
        let store: Arc<dyn TokenStore> = Arc::new(super::super::storage::FileTokenStore::new(
            "/nonexistent".into(),
        ));
        let key = |method, host, id, scopes, secret| {
            PersistentCache::new(store.clone(), method, host, id, scopes, &[secret])
                .key()
                .to_string()
        };
        let base = key("oauth-m2m", "https://h", "sp", "all-apis", "s3cret");
        assert!(!base.contains("s3cret"));
        for other in [
            key("env-oidc", "https://h", "sp", "all-apis", "s3cret"),
            key("oauth-m2m", "https://g", "sp", "all-apis", "s3cret"),
            key("oauth-m2m", "https://h", "sp2", "all-apis", "s3cret"),
            key("oauth-m2m", "https://h", "sp", "sql", "s3cret"),
            key("oauth-m2m", "https://h", "sp", "all-apis", "rotated"),
        ] {
            assert_ne!(base, other);
        }
    }
}
