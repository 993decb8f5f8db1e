//! The client: its options, and the Secrets API calls as typed methods. Sending is
//! `transport`'s job, deciding on retries `retry`'s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::credentials::CredentialProvider;
use super::error::Error;
use super::event::{Event, Events, Observer};
use super::models::{
    AclItem, CreateScope, CurrentUser, ListAcls, ListScopes, ListSecrets, Permission, Reply,
    ScopeBackend, SecretContent, SecretValue,
};
use super::retry::{Change, RetryNotice, RetryPolicy, RetryTiming};
use super::transport::{HttpSettings, Request, Transport, object_reply};
use crate::secret::SecretBytes;

/// A get-secret answer before its value is decoded.
#[derive(Deserialize)]
pub(crate) struct EncodedSecret {
    key: String,
    /// Standard base64 of the stored bytes.
    value: String,
}

/// Query values are percent-encoded except for RFC 3986 unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Clone)]
pub struct ClientOptions {
    /// Normalised base URL: scheme://host[:port], no trailing slash.
    pub host: String,
    /// Asked for the credentials of every attempt.
    pub credentials: Arc<dyn CredentialProvider>,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// PEM files, or directories of them, whose CA certificates are trusted besides the
    /// system's (for https).
    pub extra_ca_certificates: Vec<PathBuf>,
    pub connect_timeout: Duration,
    /// The limit for one request, answer included.
    pub request_timeout: Duration,
    /// The total time retries may take.
    pub retry_timeout: Duration,
    /// Receives retry notices and, with `debug`, the request log.
    pub observer: Option<Observer>,
    /// Emit [`Event::Debug`] lines (already redacted).
    pub debug: bool,
}

impl ClientOptions {
    pub fn new(host: String, credentials: Arc<dyn CredentialProvider>) -> Self {
        ClientOptions {
            host,
            credentials,
            insecure: false,
            extra_ca_certificates: Vec::new(),
            connect_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            retry_timeout: Duration::from_secs(300),
            observer: None,
            debug: false,
        }
    }
}

/// A Secrets API 2.0 client; cheap to clone (one pooled HTTP client inside).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    retries: RetryPolicy,
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Client, Error> {
        Self::with_timing(options, RetryTiming::default())
    }

    pub(crate) fn with_timing(
        options: ClientOptions,
        timing: RetryTiming,
    ) -> Result<Client, Error> {
        let host = checked_host(&options.host)?;
        let settings = HttpSettings {
            insecure: options.insecure,
            extra_ca_certificates: &options.extra_ca_certificates,
            connect_timeout: options.connect_timeout,
            request_timeout: options.request_timeout,
        };
        let events = Events::new(options.observer.clone(), options.debug);
        let transport = Transport::new(host, &settings, options.credentials.clone(), events)?;
        let retries = RetryPolicy {
            timing,
            budget: options.retry_timeout,
        };
        Ok(Client {
            inner: Arc::new(Inner { transport, retries }),
        })
    }

    #[cfg(test)]
    pub fn host(&self) -> &str {
        self.inner.transport.host()
    }

    /// Creates a scope; `RESOURCE_ALREADY_EXISTS` after an ambiguous attempt is success.
    pub async fn create_scope(&self, request: &CreateScope) -> Result<(), Error> {
        let body = create_scope_body(request);
        self.post(Change::Create, "/api/2.0/secrets/scopes/create", body)
            .await
    }

    /// Deletes a scope; `RESOURCE_DOES_NOT_EXIST` after an ambiguous attempt is success.
    pub async fn delete_scope(&self, scope: &str) -> Result<(), Error> {
        let body = json!({ "scope": scope });
        self.post(Change::Delete, "/api/2.0/secrets/scopes/delete", body)
            .await
    }

    /// Who the credentials belong to: the cheapest call that proves they work.
    pub async fn current_user(&self) -> Result<Reply<CurrentUser>, Error> {
        self.get("/api/2.0/preview/scim/v2/Me", &[]).await
    }

    pub async fn list_scopes(&self) -> Result<Reply<ListScopes>, Error> {
        self.get("/api/2.0/secrets/scopes/list", &[]).await
    }

    pub async fn put_secret(
        &self,
        scope: &str,
        key: &str,
        value: &SecretValue,
    ) -> Result<(), Error> {
        let mut body = json!({ "scope": scope, "key": key });
        let (field, encoded) = match value {
            SecretValue::Text(text) => ("string_value", text.expose().to_owned()),
            SecretValue::Bytes(bytes) => ("bytes_value", BASE64.encode(bytes.expose())),
        };
        body[field] = Value::String(encoded);
        self.post(Change::Put, "/api/2.0/secrets/put", body).await
    }

    /// Deletes a secret; `RESOURCE_DOES_NOT_EXIST` after an ambiguous attempt is success.
    pub async fn delete_secret(&self, scope: &str, key: &str) -> Result<(), Error> {
        let body = json!({ "scope": scope, "key": key });
        self.post(Change::Delete, "/api/2.0/secrets/delete", body)
            .await
    }

    pub async fn list_secrets(&self, scope: &str) -> Result<Reply<ListSecrets>, Error> {
        self.get("/api/2.0/secrets/list", &[("scope", scope)]).await
    }

    pub async fn get_secret(&self, scope: &str, key: &str) -> Result<Reply<SecretContent>, Error> {
        let reply: Reply<EncodedSecret> = self
            .get("/api/2.0/secrets/get", &[("scope", scope), ("key", key)])
            .await?;
        let value = BASE64
            .decode(reply.data.value.trim())
            .map_err(|_| Error::UnexpectedBody {
                status: 200,
                excerpt: "the secret's `value` field is not valid base64".to_owned(),
            })?;
        Ok(Reply {
            data: SecretContent {
                key: reply.data.key,
                value: SecretBytes::new(value),
            },
            raw: reply.raw,
        })
    }

    pub async fn put_acl(
        &self,
        scope: &str,
        principal: &str,
        permission: Permission,
    ) -> Result<(), Error> {
        let body =
            json!({ "scope": scope, "principal": principal, "permission": permission.as_str() });
        self.post(Change::Put, "/api/2.0/secrets/acls/put", body)
            .await
    }

    /// Deletes an ACL; `RESOURCE_DOES_NOT_EXIST` after an ambiguous attempt is success.
    pub async fn delete_acl(&self, scope: &str, principal: &str) -> Result<(), Error> {
        let body = json!({ "scope": scope, "principal": principal });
        self.post(Change::Delete, "/api/2.0/secrets/acls/delete", body)
            .await
    }

    pub async fn get_acl(&self, scope: &str, principal: &str) -> Result<Reply<AclItem>, Error> {
        self.get(
            "/api/2.0/secrets/acls/get",
            &[("scope", scope), ("principal", principal)],
        )
        .await
    }

    pub async fn list_acls(&self, scope: &str) -> Result<Reply<ListAcls>, Error> {
        self.get("/api/2.0/secrets/acls/list", &[("scope", scope)])
            .await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Reply<T>, Error> {
        let request = self.request(Method::GET, path, query, None);
        let transport = &self.inner.transport;
        let answer = self
            .inner
            .retries
            .read(
                || transport.attempt(&request),
                |notice| self.notify(&request, path, notice),
            )
            .await;
        answer
            .and_then(object_reply)
            .map_err(|error| transport.masked(error))
    }

    async fn post(&self, change: Change, path: &str, body: Value) -> Result<(), Error> {
        let request = self.request(Method::POST, path, &[], Some(body));
        let transport = &self.inner.transport;
        self.inner
            .retries
            .change(
                change,
                || transport.attempt(&request),
                |notice| self.notify(&request, path, notice),
            )
            .await
            .map_err(|error| transport.masked(error))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Request {
        let url = format!(
            "{}{path}{}",
            self.inner.transport.host(),
            query_string(query)
        );
        Request::new(method, url, body)
    }

    /// Tells the user of a retry about to be made.
    fn notify(&self, request: &Request, path: &str, notice: &RetryNotice) {
        let transport = &self.inner.transport;
        transport.events().emit(|| Event::Retry {
            method: request.method.to_string(),
            path: path.to_owned(),
            delay: notice.delay,
            attempt: notice.attempt,
            reason: transport.mask().text(&notice.reason),
            throttled: notice.throttled,
        });
    }
}

fn checked_host(host: &str) -> Result<String, Error> {
    let host = host.trim_end_matches('/');
    let is_web_url = url::Url::parse(host)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some());
    if is_web_url {
        Ok(host.to_owned())
    } else {
        Err(Error::InvalidHost {
            host: host.to_owned(),
        })
    }
}

fn query_string(query: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = query
        .iter()
        .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, QUERY_VALUE)))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

fn create_scope_body(request: &CreateScope) -> Value {
    let mut body = json!({ "scope": request.scope });
    if let Some(principal) = &request.initial_manage_principal {
        body["initial_manage_principal"] = json!(principal);
    }
    match &request.backend {
        ScopeBackend::ServiceDefault => {}
        ScopeBackend::Databricks => body["scope_backend_type"] = json!("DATABRICKS"),
        ScopeBackend::AzureKeyVault {
            resource_id,
            dns_name,
        } => {
            body["scope_backend_type"] = json!("AZURE_KEYVAULT");
            body["backend_azure_keyvault"] =
                json!({ "resource_id": resource_id, "dns_name": dns_name });
        }
    }
    body
}
