//! Azure Entra ID: the authority (cloud default, `AZURE_AUTHORITY_HOST`), tenant discovery
//! (`{host}/aad/auth`), a service principal's client secret (Entra ID v1 endpoint) and managed
//! identity (instance metadata, or the App Service `IDENTITY_ENDPOINT` convention).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::AuthError;
use super::http::{Call, TokenHttp};
use super::m2m::basic_authorization;
use super::token::{BoxFuture, Token, TokenSource};
use crate::secret::Secret;

/// Azure Databricks' application id: the resource of workspace tokens.
pub const AZURE_DATABRICKS_RESOURCE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";

/// The instance metadata endpoint of Azure VMs (never contacted by the tests).
const IMDS_TOKEN_URL: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// The Entra ID authority, `https://login.microsoftonline.com/` or the like, with a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureAuthority {
    url: String,
}

/// The Azure clouds: where their Entra ID authority and service management API are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureCloud {
    Public,
    UsGovernment,
    China,
}

impl AzureCloud {
    /// The cloud of an Azure Databricks host, by its domain.
    pub fn of_host(host: &str) -> AzureCloud {
        let host = host.to_ascii_lowercase();
        if host.contains(".databricks.azure.us") {
            AzureCloud::UsGovernment
        } else if host.contains(".databricks.azure.cn") {
            AzureCloud::China
        } else {
            AzureCloud::Public
        }
    }

    pub fn authority(self) -> &'static str {
        match self {
            AzureCloud::Public => "https://login.microsoftonline.com/",
            AzureCloud::UsGovernment => "https://login.microsoftonline.us/",
            AzureCloud::China => "https://login.chinacloudapi.cn/",
        }
    }

    /// The resource of the `X-Databricks-Azure-SP-Management-Token` token.
    pub fn service_management(self) -> &'static str {
        match self {
            AzureCloud::Public => "https://management.core.windows.net/",
            AzureCloud::UsGovernment => "https://management.core.usgovcloudapi.net/",
            AzureCloud::China => "https://management.core.chinacloudapi.cn/",
        }
    }
}

/// Whether a host is an Azure Databricks workspace, by its domain.
pub fn is_azure_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    [
        ".azuredatabricks.net",
        ".databricks.azure.us",
        ".databricks.azure.cn",
    ]
    .iter()
    .any(|suffix| {
        url::Url::parse(&host)
            .ok()
            .and_then(|url| url.host_str().map(|name| name.ends_with(suffix)))
            .unwrap_or(false)
    })
}

impl AzureAuthority {
    /// `AZURE_AUTHORITY_HOST` (as the Azure Identity SDKs read it) when set, else the cloud's.
    /// Only https, or http to a loopback address (a local test double), is accepted: a token
    /// request carries the client secret.
    pub fn new(
        cloud: AzureCloud,
        override_host: Option<&str>,
    ) -> Result<AzureAuthority, AuthError> {
        let Some(value) = override_host.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(AzureAuthority {
                url: cloud.authority().to_string(),
            });
        };
        let refuse = |why: &str| {
            AuthError::Failed(format!(
                "AZURE_AUTHORITY_HOST `{value}` {why}; set it to an https URL such as \
                 https://login.microsoftonline.com/, or unset it"
            ))
        };
        let url = url::Url::parse(value).map_err(|_| refuse("is not a URL"))?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(refuse("is neither https nor a loopback address"));
        }
        Ok(AzureAuthority {
            url: format!("{}/", value.trim_end_matches('/')),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The workspace's Entra ID tenant: `GET {host}/aad/auth` redirects to
/// `{authority}{tenant}/oauth2/authorize?…`.
pub async fn discover_tenant(http: &TokenHttp, host: &str) -> Result<String, AuthError> {
    let url = format!("{}/aad/auth", host.trim_end_matches('/'));
    let answer = http.send(&Call::get(&url)).await?;
    let tenant = answer
        .location
        .as_deref()
        .filter(|_| (300..400).contains(&answer.status))
        .and_then(|location| url::Url::parse(location).ok())
        .and_then(|location| {
            location
                .path_segments()
                .and_then(|mut segments| segments.next().map(str::to_string))
        })
        .filter(|tenant| !tenant.is_empty());
    tenant.ok_or_else(|| {
        AuthError::Failed(format!(
            "cannot discover the Entra ID tenant of {host}: {url} answered HTTP {} without a \
             redirect to the tenant; set azure_tenant_id (ARM_TENANT_ID)",
            answer.status
        ))
    })
}

/// `azure-client-secret`: the client credentials grant at the Entra ID v1 endpoint
/// `{authority}{tenant}/oauth2/token`, for one resource.
pub struct AzureClientSecret {
    token_url: String,
    client_id: String,
    client_secret: Secret,
    resource: String,
    http: TokenHttp,
    /// Set once HTTP Basic client authentication was refused and the body form worked
    /// (x/oauth2's auto-detection, remembered so later requests go straight to what works).
    secret_in_body: AtomicBool,
}

impl fmt::Debug for AzureClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureClientSecret")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl AzureClientSecret {
    pub fn new(
        authority: &AzureAuthority,
        tenant: &str,
        client_id: String,
        client_secret: Secret,
        resource: String,
        http: TokenHttp,
    ) -> AzureClientSecret {
        AzureClientSecret {
            token_url: format!("{}{tenant}/oauth2/token", authority.url()),
            client_id,
            client_secret,
            resource,
            http,
            secret_in_body: AtomicBool::new(false),
        }
    }

    fn form(&self) -> Vec<(&'static str, String)> {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("resource", self.resource.clone()),
        ]
    }

    async fn with_secret_in_body(&self) -> Result<Token, AuthError> {
        let mut form = self.form();
        form.push(("client_id", self.client_id.clone()));
        form.push(("client_secret", self.client_secret.expose().to_string()));
        self.http
            .token(&Call::post_form(&self.token_url, form))
            .await
    }

    async fn fetch(&self) -> Result<Token, AuthError> {
        let result = if self.secret_in_body.load(Ordering::Relaxed) {
            self.with_secret_in_body().await
        } else {
            let call = Call::post_form(&self.token_url, self.form()).header(
                "Authorization",
                basic_authorization(&self.client_id, &self.client_secret),
            );
            match self.http.token(&call).await {
                Ok(token) => Ok(token),
                Err(_) => {
                    let retried = self.with_secret_in_body().await;
                    if retried.is_ok() {
                        self.secret_in_body.store(true, Ordering::Relaxed);
                    }
                    retried
                }
            }
        };
        result.map_err(|error| {
            error.with_fix(|code| {
                (code == "invalid_client" || code == "unauthorized_client").then(|| {
                    "check azure_client_id, azure_client_secret and azure_tenant_id (ARM_CLIENT_ID, \
                     ARM_CLIENT_SECRET, ARM_TENANT_ID); a client secret expires, create a new one \
                     in the app registration if it did"
                        .to_string()
                })
            })
        })
    }
}

impl TokenSource for AzureClientSecret {
    fn token(&self) -> BoxFuture<'_, Result<Token, AuthError>> {
        Box::pin(self.fetch())
    }
}

/// Where managed identity tokens come from.
#[derive(Clone, PartialEq, Eq)]
pub enum MsiEndpoint {
    /// The instance metadata service of Azure VMs (`Metadata: true`).
    InstanceMetadata,
    /// `IDENTITY_ENDPOINT` with the `X-IDENTITY-HEADER` secret `IDENTITY_HEADER` (App Service,
    /// Azure Arc, and what the Azure Identity SDKs read first).
    AppService { endpoint: String, header: Secret },
}

impl fmt::Debug for MsiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsiEndpoint::InstanceMetadata => f.write_str("InstanceMetadata"),
            MsiEndpoint::AppService { endpoint, .. } => f
                .debug_struct("AppService")
                .field("endpoint", endpoint)
                .field("header", &"***")
                .finish(),
        }
    }
}

impl MsiEndpoint {
    /// `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` when both are set, else instance metadata.
    pub fn from_environment(env: &dyn Fn(&str) -> Option<String>) -> MsiEndpoint {
        match (env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER")) {
            (Some(endpoint), Some(header)) => MsiEndpoint::AppService {
                endpoint,
                header: Secret::new(header),
            },
            _ => MsiEndpoint::InstanceMetadata,
        }
    }
}

/// `azure-msi`: a managed identity's token for one resource.
#[derive(Debug)]
pub struct AzureMsi {
    endpoint: MsiEndpoint,
    resource: String,
    /// A user-assigned identity (`azure_client_id`); the system-assigned one when `None`.
    client_id: Option<String>,
    http: TokenHttp,
}

impl AzureMsi {
    pub fn new(
        endpoint: MsiEndpoint,
        resource: String,
        client_id: Option<String>,
        http: TokenHttp,
    ) -> AzureMsi {
        AzureMsi {
            endpoint,
            resource,
            client_id,
            http,
        }
    }

    async fn fetch(&self) -> Result<Token, AuthError> {
        let (base, api_version) = match &self.endpoint {
            MsiEndpoint::InstanceMetadata => (IMDS_TOKEN_URL, "2018-02-01"),
            MsiEndpoint::AppService { endpoint, .. } => (endpoint.as_str(), "2019-08-01"),
        };
        let mut url = url::Url::parse(base).map_err(|_| {
            AuthError::Failed(format!(
                "IDENTITY_ENDPOINT `{base}` is not a URL; unset it to use the instance metadata service"
            ))
        })?;
        url.query_pairs_mut()
            .append_pair("api-version", api_version)
            .append_pair("resource", &self.resource);
        if let Some(client_id) = &self.client_id {
            url.query_pairs_mut().append_pair("client_id", client_id);
        }
        let call = match &self.endpoint {
            MsiEndpoint::InstanceMetadata => {
                Call::get(url.as_str()).header("Metadata", Secret::new("true"))
            }
            MsiEndpoint::AppService { header, .. } => {
                Call::get(url.as_str()).header("X-IDENTITY-HEADER", header.clone())
            }
        };
        self.http.token(&call).await.map_err(|error| match error {
            AuthError::Unreachable { url, detail } => AuthError::NotConfigured(format!(
                "no managed identity endpoint at {url} ({detail}); azure-msi works only on \
                 Azure compute with a managed identity"
            )),
            other => other,
        })
    }
}

impl TokenSource for AzureMsi {
    fn token(&self) -> BoxFuture<'_, Result<Token, AuthError>> {
        Box::pin(self.fetch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_override_must_be_https_or_loopback() {
        let public = AzureAuthority::new(AzureCloud::Public, None).unwrap();
        assert_eq!(public.url(), "https://login.microsoftonline.com/");
        let local = AzureAuthority::new(AzureCloud::Public, Some("http://127.0.0.1:8080")).unwrap();
        assert_eq!(local.url(), "http://127.0.0.1:8080/");
        let https =
            AzureAuthority::new(AzureCloud::Public, Some("https://login.example/")).unwrap();
        assert_eq!(https.url(), "https://login.example/");
        let error = AzureAuthority::new(AzureCloud::Public, Some("http://login.example/"));
        assert!(error.unwrap_err().to_string().contains("neither https nor"));
    }

    #[test]
    fn azure_hosts_and_their_clouds_are_recognised_by_domain() {
        assert!(is_azure_host("https://adb-1.2.azuredatabricks.net"));
        assert!(!is_azure_host("https://x.cloud.databricks.com"));
        assert!(!is_azure_host("https://azuredatabricks.net.evil.example"));
        assert_eq!(
            AzureCloud::of_host("https://adb-1.2.databricks.azure.us"),
            AzureCloud::UsGovernment
        );
    }

    #[test]
    fn the_identity_header_is_never_shown() {
        let endpoint = MsiEndpoint::from_environment(&|name| match name {
            "IDENTITY_ENDPOINT" => Some("http://127.0.0.1:1/msi/token".into()),
            "IDENTITY_HEADER" => Some("header-secret".into()),
            _ => None,
        });
        assert!(!format!("{endpoint:?}").contains("header-secret"));
        assert!(matches!(endpoint, MsiEndpoint::AppService { .. }));
    }
}
