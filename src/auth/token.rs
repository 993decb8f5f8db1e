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
        // A lifetime beyond what a clock can hold means "never expires", like none at all.
        let (expiry, lifetime) = match (expires_in, expires_on) {
            (Some(seconds), _) if seconds > 0 => {
                let lifetime = Duration::from_secs(seconds);
                match now.checked_add(lifetime) {
                    Some(expiry) => (Some(expiry), Some(lifetime)),
                    None => (None, None),
                }
            }
            (_, Some(unix)) if unix > 0 => match unix_time(unix) {
                Some(expiry) => (Some(expiry), expiry.duration_since(now).ok()),
                None => (None, None),
            },
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

/// The time `seconds` after the Unix epoch, if a clock can hold it.
pub(crate) fn unix_time(seconds: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_field_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[0-9]{0,25}".prop_map(Value::from),
            ".{0,20}".prop_map(Value::from),
        ]
    }

    fn any_answer() -> impl Strategy<Value = Value> {
        let keys = prop::sample::select(vec![
            "access_token",
            "token_type",
            "refresh_token",
            "expires_in",
            "expires_on",
            "error",
        ]);
        prop::collection::vec((keys, any_field_value()), 0..8).prop_map(|fields| {
            Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            )
        })
    }

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        #[test]
        fn fuzz_token_answer(answer in any_answer()) {
            let now = SystemTime::now();
            if let Ok(token) = Token::from_answer(&answer, now) {
                prop_assert!(!token.access_token.expose().is_empty());
                if let (Some(expiry), Some(lifetime)) = (token.expiry, token.lifetime) {
                    prop_assert!(expiry >= now && lifetime <= expiry.duration_since(UNIX_EPOCH).unwrap());
                }
            }
        }
    }

    #[test]
    fn lifetimes_as_numbers_or_strings_and_absurd_ones_never_expire() {
        let now = SystemTime::now();
        let answer = serde_json::json!({"access_token": "a", "expires_in": "3600"});
        let token = Token::from_answer(&answer, now).unwrap();
        assert_eq!(token.expiry, Some(now + Duration::from_secs(3600)));
        let answer = serde_json::json!({"access_token": "a", "expires_in": u64::MAX});
        assert_eq!(Token::from_answer(&answer, now).unwrap().expiry, None);
        let answer = serde_json::json!({"access_token": "a", "expires_on": "4102444800"});
        let token = Token::from_answer(&answer, now).unwrap();
        assert_eq!(token.expiry, unix_time(4_102_444_800));
        assert!(Token::from_answer(&serde_json::json!({"token_type": "Bearer"}), now).is_err());
    }
}
