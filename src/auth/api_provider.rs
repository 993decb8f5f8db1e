//! The api client's credentials seam, served by the method chain: the method is chosen (and its
//! first token fetched) at the first request, once however many requests start together; every
//! later request gets the cached token, refreshed before it expires; a 401 drops it (and the
//! api client sends the request once more with a new one).

use std::sync::{Arc, Mutex};

use reqwest::header::{HeaderName, HeaderValue};
use tokio::sync::OnceCell;

use super::chain::{Credentials, Environment, configure};
use super::error::AuthError;
use super::provider::TokenProvider;
use crate::api::{self, AuthHeaders, BoxFuture, CredentialProvider, StaticCredentials};
use crate::config::UnifiedConfig;
use crate::secret::{Secret, SecretBytes};

/// Header values handed out recently, masked wherever an answer or a log line shows them.
const REMEMBERED_HEADERS: usize = 8;

pub struct ChainCredentials {
    config: UnifiedConfig,
    environment: Environment,
    chosen: OnceCell<Result<Chosen, AuthError>>,
    handed_out: Mutex<Vec<Secret>>,
}

enum Chosen {
    Static {
        method: &'static str,
        credentials: StaticCredentials,
    },
    Tokens {
        method: &'static str,
        provider: Arc<TokenProvider>,
    },
}

impl ChainCredentials {
    pub fn new(config: UnifiedConfig, environment: Environment) -> ChainCredentials {
        ChainCredentials {
            config,
            environment,
            chosen: OnceCell::new(),
            handed_out: Mutex::new(Vec::new()),
        }
    }

    /// The method that authenticates, once the first request has chosen it.
    pub fn method(&self) -> Option<&'static str> {
        match self.chosen.get()? {
            Ok(Chosen::Static { method, .. } | Chosen::Tokens { method, .. }) => Some(method),
            Err(_) => None,
        }
    }

    async fn choose(&self) -> Result<Chosen, AuthError> {
        let configured = configure(&self.config, &self.environment).await?;
        self.environment
            .debug(&format!("Authenticated with {}", configured.method));
        let unsendable = |error: api::Error| AuthError::Failed(error.to_string());
        Ok(match configured.credentials {
            Credentials::Pat(token) => Chosen::Static {
                method: configured.method,
                credentials: StaticCredentials::bearer(&token).map_err(unsendable)?,
            },
            Credentials::Basic { username, password } => Chosen::Static {
                method: configured.method,
                credentials: StaticCredentials::basic(&username, &password).map_err(unsendable)?,
            },
            Credentials::Tokens(provider) => Chosen::Tokens {
                method: configured.method,
                provider,
            },
        })
    }

    async fn headers_now(&self) -> Result<AuthHeaders, api::Error> {
        let chosen = self.chosen.get_or_init(|| self.choose()).await;
        let chosen = chosen.as_ref().map_err(|error| api::Error::Credentials {
            message: error.to_string(),
        })?;
        let (method, provider) = match chosen {
            Chosen::Static { credentials, .. } => return credentials.headers().await,
            Chosen::Tokens { method, provider } => (method, provider),
        };
        let headers = provider
            .headers()
            .await
            .map_err(|error| api::Error::Credentials {
                message: format!("{method} auth: {error}"),
            })?;
        let mut sendable = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            self.remember(&value);
            let mut header = HeaderValue::from_str(value.expose())
                .map_err(|_| api::Error::UnsendableCredentials { what: "token" })?;
            header.set_sensitive(true);
            sendable.push((HeaderName::from_static(lowercase(name)), header));
        }
        Ok(sendable)
    }

    fn remember(&self, value: &Secret) {
        let mut handed_out = self
            .handed_out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !handed_out.contains(value) {
            handed_out.push(value.clone());
            let excess = handed_out.len().saturating_sub(REMEMBERED_HEADERS);
            handed_out.drain(..excess);
        }
    }
}

/// Header names as `HeaderName::from_static` wants them.
fn lowercase(name: &'static str) -> &'static str {
    match name {
        "Authorization" => "authorization",
        "X-Databricks-Azure-SP-Management-Token" => "x-databricks-azure-sp-management-token",
        "X-Databricks-Azure-Workspace-Resource-Id" => "x-databricks-azure-workspace-resource-id",
        other => other,
    }
}

impl CredentialProvider for ChainCredentials {
    fn headers(&self) -> BoxFuture<'_, Result<AuthHeaders, api::Error>> {
        Box::pin(self.headers_now())
    }

    fn secrets_to_mask(&self) -> Vec<SecretBytes> {
        if let Some(Ok(Chosen::Static { credentials, .. })) = self.chosen.get() {
            return credentials.secrets_to_mask();
        }
        let handed_out = self
            .handed_out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        handed_out
            .iter()
            .flat_map(|value| {
                let text = value.expose();
                let credential = text
                    .split_once(' ')
                    .map_or(text, |(_, credential)| credential);
                [SecretBytes::new(text), SecretBytes::new(credential)]
            })
            .collect()
    }

    fn rejected(&self, refused: &AuthHeaders) -> bool {
        let Some(Ok(Chosen::Tokens { provider, .. })) = self.chosen.get() else {
            return false;
        };
        // The tokens the refused headers carried: whole values, and after `Bearer `.
        let tokens: Vec<Secret> = refused
            .iter()
            .filter_map(|(_, value)| value.to_str().ok())
            .flat_map(|text| {
                let credential = text.split_once(' ').map(|(_, credential)| credential);
                std::iter::once(text).chain(credential)
            })
            .map(Secret::new)
            .collect();
        provider.reject(&tokens);
        true
    }
}
