//! The token every source produces, and the reading of token answers (OAuth 2.0, Entra ID v1,
//! managed identity), which differ in how they say when the token expires.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::discovery::Discovery;
use super::error::AuthError;
use crate::secret::Secret;

/// A boxed future, as `dyn` traits cannot have `async fn` yet.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where tokens come from: one identity provider request (or `az` call) per `token`.
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A new token (never a cached one: caching is `CachedToken`'s job).
    fn token(&self) -> BoxFuture<'_, Result<Token, AuthError>>;

    /// The OAuth discovery the source depends on, so that a token cache can keep its answer
    /// across invocations together with the token.
    fn discovery(&self) -> Option<&Discovery> {
        None
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub access_token: Secret,
    /// As the server said it (`bearer`, `Bearer`, ...); see `authorization`.
    pub token_type: String,
    /// `None`: the server gave no lifetime, so the token is used until it is refused.
    pub expiry: Option<SystemTime>,
    /// Only the databricks-cli method keeps one (to refresh with); never sent to the API.
    pub refresh_token: Option<Secret>,
    /// The lifetime the server gave (`expires_in`), so that how early to refresh can be
    /// measured against it.
    pub lifetime: Option<Duration>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expiry", &self.expiry)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Token {
    /// The `Authorization` header value, with the type spelled as HTTP expects it (the rule of
    /// Go's x/oauth2: `bearer` in any case is `Bearer`, empty is `Bearer`).
    pub fn authorization(&self) -> Secret {
        let scheme = match self.token_type.to_ascii_lowercase().as_str() {
            "" | "bearer" => "Bearer",
            "mac" => "MAC",
            "basic" => "Basic",
            _ => self.token_type.as_str(),
        };
        Secret::new(format!("{scheme} {}", self.access_token.expose()))
    }

    /// Reads a token answer: `access_token` (required), `token_type`, `refresh_token`, and the
    /// lifetime as `expires_in` (seconds, number or string) or `expires_on` (Unix time, number
    /// or string, as Entra ID v1 and managed identity send it).
    pub fn from_answer(answer: &Value, now: SystemTime) -> Result<Token, String> {
        let text = |key: &str| answer.get(key).and_then(Value::as_str).unwrap_or_default();
        let access_token = text("access_token");
        if access_token.is_empty() {
            return Err("the answer has no access_token".to_string());
        }
        let expires_in = answer.get("expires_in").and_then(seconds_of);
        let expires_on = answer.get("expires_on").and_then(seconds_of);
        let (expiry, lifetime) = match (expires_in, expires_on) {
            (Some(seconds), _) if seconds > 0 => {
                let lifetime = Duration::from_secs(seconds);
                (Some(now + lifetime), Some(lifetime))
            }
            (_, Some(unix)) if unix > 0 => {
                let expiry = UNIX_EPOCH + Duration::from_secs(unix);
                (Some(expiry), expiry.duration_since(now).ok())
            }
            _ => (None, None),
        };
        Ok(Token {
            access_token: Secret::new(access_token),
            token_type: text("token_type").to_string(),
            expiry,
            refresh_token: Some(text("refresh_token"))
                .filter(|token| !token.is_empty())
                .map(Secret::new),
            lifetime,
        })
    }
}

/// A whole number of seconds given as a JSON number or a string of digits.
fn seconds_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_f64().filter(|s| *s >= 0.0).map(|s| s as u64)),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}
