//! OAuth M2M: a service principal's client credentials grant at the workspace token endpoint.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::discovery::Discovery;
use super::error::AuthError;
use super::http::{Call, TokenHttp};
use super::token::{BoxFuture, Token, TokenSource};
use crate::secret::Secret;

/// What Go's `url.QueryEscape` leaves as it is (x/oauth2 escapes id and secret with it before
/// Basic encoding them, as RFC 6749 §2.3.1 says).
const QUERY_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub struct ClientCredentials {
    discovery: Arc<Discovery>,
    client_id: String,
    client_secret: Secret,
    scopes: Vec<String>,
    http: TokenHttp,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// `scopes` empty means the default, `all-apis`.
    pub fn new(
        discovery: Arc<Discovery>,
        client_id: String,
        client_secret: Secret,
        scopes: Vec<String>,
        http: TokenHttp,
    ) -> ClientCredentials {
        ClientCredentials {
            discovery,
            client_id,
            client_secret,
            scopes,
            http,
        }
    }

    async fn fetch(&self) -> Result<Token, AuthError> {
        let endpoints = self.discovery.endpoints().await?;
        self.http.debug(&|| {
            format!(
                "Generating Databricks OAuth token for Service Principal ({})",
                self.client_id
            )
        });
        let form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("scope", scope_parameter(&self.scopes)),
        ];
        let call = Call::post_form(endpoints.token_endpoint, form).header(
            "Authorization",
            basic_authorization(&self.client_id, &self.client_secret),
        );
        self.http.token(&call).await.map_err(|error| {
            error.with_fix(|code| match code {
                "invalid_client" => Some(
                    "check client_id and client_secret (DATABRICKS_CLIENT_ID, \
                     DATABRICKS_CLIENT_SECRET): the service principal must exist in the \
                     workspace and the secret must be current; create a new OAuth secret for it \
                     if it expired"
                        .to_string(),
                ),
                "invalid_scope" => Some("check the scopes of the profile".to_string()),
                _ => None,
            })
        })
    }
}

impl TokenSource for ClientCredentials {
    fn token(&self) -> BoxFuture<'_, Result<Token, AuthError>> {
        Box::pin(self.fetch())
    }

    fn discovery(&self) -> Option<&Discovery> {
        Some(&self.discovery)
    }
}

/// `scope` as sent: the scopes space-separated, `all-apis` when none are configured.
pub(crate) fn scope_parameter(scopes: &[String]) -> String {
    if scopes.is_empty() {
        "all-apis".to_string()
    } else {
        scopes.join(" ")
    }
}

/// `Basic base64(escape(id):escape(secret))`, the client authentication of RFC 6749 §2.3.1.
pub(crate) fn basic_authorization(client_id: &str, client_secret: &Secret) -> Secret {
    let escape = |text: &str| {
        utf8_percent_encode(text, QUERY_ESCAPED)
            .to_string()
            .replace("%20", "+")
    };
    let pair = format!("{}:{}", escape(client_id), escape(client_secret.expose()));
    Secret::new(format!("Basic {}", BASE64.encode(pair)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_credentials_are_escaped_before_basic_encoding() {
        let header = basic_authorization("sp id", &Secret::new("a+b/c~"));
        let encoded = header.expose().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(BASE64.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "sp+id:a%2Bb%2Fc~");
    }

    #[test]
    fn the_default_scope_is_all_apis() {
        assert_eq!(scope_parameter(&[]), "all-apis");
        let scopes = ["sql".to_string(), "offline_access".to_string()];
        assert_eq!(scope_parameter(&scopes), "sql offline_access");
    }

    #[test]
    fn debug_hides_the_secret() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = TokenHttp::new(reqwest::Client::new(), Default::default(), None);
        let discovery = Arc::new(Discovery::new("http://127.0.0.1:1", None, http.clone()));
        let source = ClientCredentials::new(
            discovery,
            "sp".into(),
            Secret::new("very-secret"),
            vec![],
            http,
        );
        assert!(!format!("{source:?}").contains("very-secret"));
    }
}
