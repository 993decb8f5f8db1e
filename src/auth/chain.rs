//! Which method authenticates: `auth_type` forces one; otherwise the methods are tried in the
//! reference's default order, the first that is configured and gets a token wins. A method that
//! lacks what it needs, or whose first token fails, is skipped with a `--debug` line.

use std::path::PathBuf;
use std::sync::Arc;

use super::azure::{
    AZURE_DATABRICKS_RESOURCE, AzureAuthority, AzureClientSecret, AzureCloud, AzureMsi,
    MsiEndpoint, discover_tenant, is_azure_host,
};
use super::azure_cli::AzureCli;
use super::cache::{CachedToken, EarlyRefresh, PersistentCache};
use super::discovery::Discovery;
use super::error::AuthError;
use super::federation::{DEFAULT_TOKEN_VARIABLE, IdTokenSource, TokenExchange};
use super::http::{DebugLog, TokenHttp};
use super::m2m::{ClientCredentials, scope_parameter};
use super::provider::{ManagementToken, TokenProvider};
use super::storage::{FileTokenStore, TokenStore};
use super::token::TokenSource;
use super::u2m::DatabricksCliTokens;
use crate::config::{self, AUTH_DOCS, UnifiedConfig};
use crate::secret::Secret;

/// The methods of the default chain, in order (the Go SDK's, without metadata-service,
/// github-oidc-azure and Google, which this CLI does not support).
pub const DEFAULT_ORDER: [&str; 11] = [
    "pat",
    "basic",
    "oauth-m2m",
    "databricks-cli",
    "github-oidc",
    "azure-devops-oidc",
    "env-oidc",
    "file-oidc",
    "azure-msi",
    "azure-client-secret",
    "azure-cli",
];

/// The variable that turns off keeping M2M and federation tokens across invocations.
pub const TOKEN_CACHE_VARIABLE: &str = "DATABRICKS_TOKEN_CACHE";

/// What the request headers are made from.
#[derive(Debug, Clone)]
pub enum Credentials {
    Pat(Secret),
    Basic { username: String, password: Secret },
    Tokens(Arc<TokenProvider>),
}

/// The method that authenticated, and its credentials.
#[derive(Debug, Clone)]
pub struct Configured {
    pub method: &'static str,
    pub credentials: Credentials,
}

/// Looks up an environment variable.
pub type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What methods need besides the configuration.
pub struct Environment {
    pub http: TokenHttp,
    /// The token storage (`None` without a home directory).
    pub store: Option<Arc<dyn TokenStore>>,
    pub debug: DebugLog,
    /// Environment variables that are not configuration attributes (CI variables,
    /// `IDENTITY_ENDPOINT`, `AZURE_AUTHORITY_HOST`, ...); empty counts as unset.
    pub env: Lookup,
    /// The `az` program (`az` on PATH outside tests).
    pub az: PathBuf,
}

impl Environment {
    /// This process's environment: the token storage in the home directory, `az` from PATH.
    pub fn for_process(http: TokenHttp, debug: DebugLog) -> Environment {
        Environment {
            http,
            store: config::home_dir()
                .map(|home| Arc::new(FileTokenStore::in_home(&home)) as Arc<dyn TokenStore>),
            debug,
            env: Box::new(|name| std::env::var(name).ok()),
            // The Azure CLI is a batch file on Windows, which is not found without its extension.
            az: PathBuf::from(if cfg!(windows) { "az.cmd" } else { "az" }),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|value| !value.is_empty())
    }

    pub fn debug(&self, line: &str) {
        if let Some(log) = &self.debug {
            log(line);
        }
    }

    fn keeps_tokens(&self) -> bool {
        !self.var(TOKEN_CACHE_VARIABLE).is_some_and(|value| {
            ["0", "false", "off", "no"]
                .iter()
                .any(|off| value.trim().eq_ignore_ascii_case(off))
        })
    }
}

/// Picks the method and gets its first token (a dry run, as the SDKs do: a method whose token
/// cannot be had is not the one to use).
pub async fn configure(
    config: &UnifiedConfig,
    environment: &Environment,
) -> Result<Configured, AuthError> {
    if let Some(forced) = config.get("auth_type") {
        let Some(method) = DEFAULT_ORDER.iter().find(|name| **name == forced) else {
            return Err(AuthError::Failed(format!(
                "auth type \"{forced}\" not found, please check {AUTH_DOCS} for a list of supported \
                 auth types (this CLI supports: {})",
                DEFAULT_ORDER.join(", ")
            )));
        };
        return match try_method(method, config, environment).await {
            Ok(configured) => Ok(configured),
            Err(error) => Err(AuthError::Failed(format!(
                "{method} auth: {error}. {}",
                config.describe_for_error()
            ))),
        };
    }
    config.check_conflicts().map_err(AuthError::Failed)?;
    for method in DEFAULT_ORDER {
        match try_method(method, config, environment).await {
            Ok(configured) => return Ok(configured),
            Err(error) => {
                environment.debug(&format!("Failed to configure auth \"{method}\": {error}"))
            }
        }
    }
    Err(AuthError::NotConfigured(format!(
        "default auth: cannot configure default credentials, please check {AUTH_DOCS} to \
         configure credentials for your preferred authentication method. {}{}",
        config.describe_for_error(),
        what_is_missing(config)
    )))
}

async fn try_method(
    method: &'static str,
    config: &UnifiedConfig,
    environment: &Environment,
) -> Result<Configured, AuthError> {
    let credentials = match method {
        "pat" => pat(config)?,
        "basic" => basic(config)?,
        other => {
            let provider = Arc::new(token_provider(other, config, environment).await?);
            provider.headers().await?;
            Credentials::Tokens(provider)
        }
    };
    Ok(Configured {
        method,
        credentials,
    })
}

fn required<'a>(config: &'a UnifiedConfig, name: &str, why: &str) -> Result<&'a str, AuthError> {
    config
        .get(name)
        .ok_or_else(|| AuthError::NotConfigured(format!("{name} is required{why}")))
}

fn host(config: &UnifiedConfig) -> Result<&str, AuthError> {
    required(config, "host", "")
}

fn pat(config: &UnifiedConfig) -> Result<Credentials, AuthError> {
    required(config, "host", " for PAT authentication")?;
    Ok(Credentials::Pat(Secret::new(required(
        config, "token", "",
    )?)))
}

fn basic(config: &UnifiedConfig) -> Result<Credentials, AuthError> {
    let username = required(config, "username", "")?;
    let password = required(config, "password", "")?;
    host(config)?;
    Ok(Credentials::Basic {
        username: username.to_string(),
        password: Secret::new(password),
    })
}

async fn token_provider(
    method: &'static str,
    config: &UnifiedConfig,
    environment: &Environment,
) -> Result<TokenProvider, AuthError> {
    let host = host(config)?.trim_end_matches('/').to_string();
    let http = environment.http.clone();
    let discovery = || {
        Arc::new(Discovery::new(
            &host,
            config.get("discovery_url"),
            http.clone(),
        ))
    };
    let cached = |source: Box<dyn TokenSource>, early, persistent| {
        CachedToken::new(source, early, persistent, environment.debug.clone())
    };
    let scopes = config.scopes();
    match method {
        "oauth-m2m" => {
            let client_id = required(config, "client_id", "")?;
            let secret = required(config, "client_secret", "")?;
            let persistent =
                persistent_cache(environment, method, &host, client_id, &scopes, &[secret]);
            let source = ClientCredentials::new(
                discovery(),
                client_id.into(),
                Secret::new(secret),
                scopes,
                http,
            );
            Ok(TokenProvider::new(
                method,
                cached(Box::new(source), EarlyRefresh::OAUTH, persistent),
            ))
        }
        "databricks-cli" => {
            let file = environment.store.clone().ok_or_else(|| {
                AuthError::NotConfigured("no home directory for the token storage; set HOME".into())
            })?;
            // The OS keyring or the file, as `auth login` chose (the Go CLI's selection).
            let variable = environment.var(super::keyring::STORAGE_VARIABLE);
            let store =
                super::keyring::login_store(file, &config.config_path, variable.as_deref())?;
            let source =
                DatabricksCliTokens::new(store, config.profile.clone(), &host, discovery(), http);
            Ok(TokenProvider::new(
                method,
                cached(Box::new(source), EarlyRefresh::DATABRICKS_CLI, None),
            ))
        }
        "github-oidc" | "azure-devops-oidc" | "env-oidc" | "file-oidc" => {
            let id_tokens = id_token_source(method, config, environment)?;
            let client_id = config.get("client_id");
            let audience = config.get("audience");
            let mut material = id_tokens.identity()?;
            material.extend(audience.map(str::to_string));
            let material: Vec<&str> = material.iter().map(String::as_str).collect();
            let persistent = persistent_cache(
                environment,
                method,
                &host,
                client_id.unwrap_or(""),
                &scopes,
                &material,
            );
            let source = TokenExchange::new(
                discovery(),
                client_id.map(str::to_string),
                scopes,
                audience.map(str::to_string),
                id_tokens,
                http,
            );
            Ok(TokenProvider::new(
                method,
                cached(Box::new(source), EarlyRefresh::OAUTH, persistent),
            ))
        }
        "azure-msi" | "azure-client-secret" | "azure-cli" => {
            azure_provider(method, config, environment, &host).await
        }
        _ => Err(AuthError::Failed(format!(
            "auth type \"{method}\" is not supported"
        ))),
    }
}

fn persistent_cache(
    environment: &Environment,
    method: &str,
    host: &str,
    client_id: &str,
    scopes: &[String],
    secret_material: &[&str],
) -> Option<PersistentCache> {
    let store = environment
        .store
        .clone()
        .filter(|_| environment.keeps_tokens())?;
    Some(PersistentCache::new(
        store,
        method,
        host,
        client_id,
        &scope_parameter(scopes),
        secret_material,
    ))
}

fn id_token_source(
    method: &str,
    config: &UnifiedConfig,
    environment: &Environment,
) -> Result<IdTokenSource, AuthError> {
    let missing = |name: &str| AuthError::NotConfigured(format!("missing env var {name}"));
    Ok(match method {
        "github-oidc" => IdTokenSource::GitHub {
            request_url: config
                .get("actions_id_token_request_url")
                .ok_or_else(|| missing("ACTIONS_ID_TOKEN_REQUEST_URL"))?
                .to_string(),
            request_token: Secret::new(
                config
                    .get("actions_id_token_request_token")
                    .ok_or_else(|| missing("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))?,
            ),
        },
        "azure-devops-oidc" => {
            let var = |name: &str| environment.var(name).ok_or_else(|| missing(name));
            IdTokenSource::AzureDevOps {
                access_token: Secret::new(var("SYSTEM_ACCESSTOKEN")?),
                collection_uri: var("SYSTEM_TEAMFOUNDATIONCOLLECTIONURI")?,
                project_id: var("SYSTEM_TEAMPROJECTID")?,
                plan_id: var("SYSTEM_PLANID")?,
                job_id: var("SYSTEM_JOBID")?,
                host_type: var("SYSTEM_HOSTTYPE")?,
            }
        }
        "env-oidc" => {
            let variable = config
                .get("oidc_token_env")
                .unwrap_or(DEFAULT_TOKEN_VARIABLE);
            let token = environment.var(variable).ok_or_else(|| {
                AuthError::NotConfigured(format!(
                    "missing env var \"{variable}\": set it to the workload's ID token (a JWT)"
                ))
            })?;
            IdTokenSource::Env {
                variable: variable.to_string(),
                token: Secret::new(token),
            }
        }
        _ => IdTokenSource::File {
            path: PathBuf::from(
                config
                    .get("databricks_id_token_filepath")
                    .ok_or_else(|| AuthError::NotConfigured("missing path".into()))?,
            ),
        },
    })
}

/// The workspace token's source, the management token's, and whether the latter is needed
/// only for an application's token.
type SourcePair = (Box<dyn TokenSource>, Box<dyn TokenSource>, bool);

/// Whether the workspace is on Azure: a resource id, `cloud`, or the host's domain.
fn is_azure(config: &UnifiedConfig, host: &str) -> bool {
    config.get("azure_workspace_resource_id").is_some()
        || config.get("cloud").map_or_else(
            || is_azure_host(host),
            |cloud| cloud.eq_ignore_ascii_case("azure"),
        )
}

async fn azure_provider(
    method: &'static str,
    config: &UnifiedConfig,
    environment: &Environment,
    host: &str,
) -> Result<TokenProvider, AuthError> {
    if !is_azure(config, host) {
        return Err(AuthError::NotConfigured(format!(
            "{host} is not an Azure Databricks workspace (set cloud = azure if it is)"
        )));
    }
    let cloud = AzureCloud::of_host(host);
    let management = cloud.service_management();
    let http = environment.http.clone();
    let cached = |source: Box<dyn TokenSource>| {
        CachedToken::new(source, EarlyRefresh::AZURE, None, environment.debug.clone())
    };
    let client_id = config.get("azure_client_id").map(str::to_string);
    let (workspace, management, only_for_applications): SourcePair = match method {
        "azure-msi" => {
            if !config.flag("azure_use_msi") {
                return Err(AuthError::NotConfigured(
                    "azure_use_msi (ARM_USE_MSI) is not true".into(),
                ));
            }
            let endpoint = MsiEndpoint::from_environment(&|name| environment.var(name));
            let source = |resource: &str| {
                Box::new(AzureMsi::new(
                    endpoint.clone(),
                    resource.into(),
                    client_id.clone(),
                    http.clone(),
                ))
            };
            (source(AZURE_DATABRICKS_RESOURCE), source(management), false)
        }
        "azure-client-secret" => {
            let client_id = required(config, "azure_client_id", "")?;
            let secret = Secret::new(required(config, "azure_client_secret", "")?);
            let authority =
                AzureAuthority::new(cloud, environment.var("AZURE_AUTHORITY_HOST").as_deref())?;
            let tenant = match config.get("azure_tenant_id") {
                Some(tenant) => tenant.to_string(),
                None => discover_tenant(&http, host).await?,
            };
            let source = |resource: &str| {
                Box::new(AzureClientSecret::new(
                    &authority,
                    &tenant,
                    client_id.into(),
                    secret.clone(),
                    resource.into(),
                    http.clone(),
                ))
            };
            (source(AZURE_DATABRICKS_RESOURCE), source(management), false)
        }
        _ => {
            let tenant = config.get("azure_tenant_id").map(str::to_string);
            let source = |resource: &str, tenant: Option<String>| {
                Box::new(AzureCli::new(
                    environment.az.clone(),
                    resource.into(),
                    tenant,
                    environment.debug.clone(),
                ))
            };
            (
                source(AZURE_DATABRICKS_RESOURCE, tenant.clone()),
                source(management, tenant),
                true,
            )
        }
    };
    Ok(TokenProvider::new(method, cached(workspace))
        .with_management(ManagementToken {
            token: cached(management),
            only_for_applications,
        })
        .with_resource_id(
            config
                .get("azure_workspace_resource_id")
                .map(str::to_string),
        ))
}

/// The methods that are half configured, and what they lack, where to set it.
fn what_is_missing(config: &UnifiedConfig) -> String {
    const NEEDS: [(&str, &[&str]); 5] = [
        ("pat", &["token", "host"]),
        ("basic", &["username", "password", "host"]),
        ("oauth-m2m", &["client_id", "client_secret", "host"]),
        (
            "azure-client-secret",
            &["azure_client_id", "azure_client_secret", "host"],
        ),
        ("file-oidc", &["databricks_id_token_filepath", "host"]),
    ];
    let mut hints = Vec::new();
    for (method, needs) in NEEDS {
        let credentials = &needs[..needs.len() - 1];
        let lacking: Vec<&str> = needs
            .iter()
            .copied()
            .filter(|name| config.get(name).is_none())
            .collect();
        if lacking.is_empty() || !credentials.iter().any(|name| config.get(name).is_some()) {
            continue;
        }
        hints.push(match &config.profile {
            Some(profile) => format!(
                "profile `{profile}` in {} has no {} (needed by {method}){}",
                config.config_path.display(),
                lacking.join(" nor "),
                if method == "pat" {
                    format!("; run `databricks configure --token --profile {profile}`")
                } else {
                    String::new()
                }
            ),
            None => {
                let variables: Vec<&str> = lacking
                    .iter()
                    .filter_map(|name| crate::config::attribute_named(name).and_then(|a| a.env))
                    .collect();
                format!("{method} needs {}", variables.join(" and "))
            }
        });
    }
    if !hints.is_empty() {
        return format!("\n{}", hints.join("; "));
    }
    let fix = match &config.profile {
        Some(profile) => format!(
            "profile `{profile}` in {} has no token nor other credentials; run `databricks \
             configure --token --profile {profile}`, or `databricks auth login --profile {profile}`",
            config.config_path.display()
        ),
        None => "set DATABRICKS_HOST with DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and \
                 DATABRICKS_CLIENT_SECRET), or run `databricks configure --token`"
            .to_string(),
    };
    format!("\n{fix}")
}
