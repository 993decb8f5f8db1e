//! Where a request's credentials come from: a provider the client asks before every attempt,
//! so that a token which expires can be refreshed between attempts.

use std::future::Future;
use std::pin::Pin;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};

use super::error::Error;
use crate::secret::{Secret, SecretBytes};

/// The headers that authenticate a request; each value is marked sensitive, so that it is
/// never shown by `Debug`.
pub type AuthHeaders = Vec<(HeaderName, HeaderValue)>;

/// A boxed future, as `dyn` traits cannot have `async fn` yet.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Supplies the credentials of every request (a fixed token, or an OAuth token that expires).
pub trait CredentialProvider: Send + Sync {
    /// The headers for the next attempt: `Authorization`, and any others the method needs.
    fn headers(&self) -> BoxFuture<'_, Result<AuthHeaders, Error>>;

    /// Every credential the headers carry, in each form it travels in: masked as `***`
    /// wherever an answer, a debug line or an error would show it.
    fn secrets_to_mask(&self) -> Vec<SecretBytes>;

    /// The server answered 401 to a request that carried `refused`: a provider that caches a
    /// token forgets it here (unless it has replaced it already), so that the next `headers`
    /// has a new one, and returns true; the request is then sent once more. Fixed credentials
    /// return false: the call fails.
    fn rejected(&self, refused: &AuthHeaders) -> bool {
        let _ = refused;
        false
    }
}

/// Credentials that never change: a personal access token (`Bearer`) or a user name and
/// password (`Basic`).
#[derive(Debug)]
pub struct StaticCredentials {
    authorization: HeaderValue,
    secrets: Vec<SecretBytes>,
}

impl StaticCredentials {
    pub fn bearer(token: &Secret) -> Result<Self, Error> {
        Ok(StaticCredentials {
            authorization: sensitive_header(&format!("Bearer {}", token.expose()), "token")?,
            secrets: vec![SecretBytes::new(token.expose())],
        })
    }

    pub fn basic(username: &str, password: &Secret) -> Result<Self, Error> {
        let encoded = BASE64.encode(format!("{username}:{}", password.expose()));
        Ok(StaticCredentials {
            authorization: sensitive_header(&format!("Basic {encoded}"), "user name")?,
            secrets: vec![
                SecretBytes::new(password.expose()),
                SecretBytes::new(encoded),
            ],
        })
    }
}

impl CredentialProvider for StaticCredentials {
    fn headers(&self) -> BoxFuture<'_, Result<AuthHeaders, Error>> {
        let headers = vec![(AUTHORIZATION, self.authorization.clone())];
        Box::pin(std::future::ready(Ok(headers)))
    }

    fn secrets_to_mask(&self) -> Vec<SecretBytes> {
        self.secrets.clone()
    }
}

/// A header value that `Debug` hides; `what` names the credential a refusal is about.
fn sensitive_header(text: &str, what: &'static str) -> Result<HeaderValue, Error> {
    let mut header =
        HeaderValue::from_str(text).map_err(|_| Error::UnsendableCredentials { what })?;
    header.set_sensitive(true);
    Ok(header)
}
