//! Every token source against the emulator as identity provider (in-process, on 127.0.0.1).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use databricks_emulator::{
    AZURE_DATABRICKS_LOGIN_APP_ID, AZURE_SERVICE_MANAGEMENT_RESOURCE, CI_REQUEST_TOKEN, Cloud,
    Config, DEFAULT_ADMIN, DEFAULT_AZURE_TENANT_ID, Emulator, Fault, FederationPolicy,
    GITHUB_DEFAULT_SUBJECT, GITHUB_ISSUER, IDENTITY_HEADER_VALUE, LoggedRequest,
};
use serde_json::Value;

use super::api_provider::ChainCredentials;
use super::azure::{
    AzureAuthority, AzureClientSecret, AzureCloud, AzureMsi, MsiEndpoint, discover_tenant,
};
#[cfg(unix)] // the az tests run a shell script
use super::azure_cli::AzureCli;
use super::cache::{CachedToken, EarlyRefresh, PersistentCache};
use super::chain::{Environment, configure};
use super::discovery::Discovery;
use super::error::AuthError;
use super::federation::{IdTokenSource, TokenExchange};
use super::http::{DebugLog, RetryRules, TokenHttp};
use super::m2m::ClientCredentials;
use super::provider::{self, ManagementToken, TokenProvider};
use super::storage::{FileTokenStore, StoredToken, TokenStore};
use super::token::{Token, TokenSource};
use super::u2m::DatabricksCliTokens;
use crate::secret::Secret;

const SP: &str = "ci-deployer";
const SP_SECRET: &str = "sp-secret-value-1";

fn http() -> TokenHttp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let retry = RetryRules {
        budget: Duration::from_secs(5),
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    };
    TokenHttp::new(client, retry, None)
}

/// A client for the test's own requests.
fn plain_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn emulator(config: Config) -> Emulator {
    Emulator::start(config.with_service_principal(SP, SP_SECRET)).unwrap()
}

fn discovery(emulator: &Emulator) -> Arc<Discovery> {
    Arc::new(Discovery::new(&emulator.url(), None, http()))
}

fn m2m(emulator: &Emulator, secret: &str) -> ClientCredentials {
    ClientCredentials::new(
        discovery(emulator),
        SP.into(),
        Secret::new(secret),
        vec![],
        http(),
    )
}

fn token_requests(emulator: &Emulator) -> Vec<LoggedRequest> {
    emulator
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with("/token"))
        .collect()
}

/// Who the workspace says the token belongs to.
async fn whoami(emulator: &Emulator, headers: &[(&'static str, Secret)]) -> Value {
    let mut request = plain_client().get(format!("{}/api/2.0/preview/scim/v2/Me", emulator.url()));
    for (name, value) in headers {
        request = request.header(*name, value.expose());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    json_of(response).await
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

fn cached(source: impl TokenSource + 'static, early: EarlyRefresh) -> CachedToken {
    CachedToken::new(Box::new(source), early, None, None)
}

#[tokio::test]
async fn m2m_discovers_the_endpoint_and_authenticates_with_basic() {
    let emulator = emulator(Config::default());
    let token = m2m(&emulator, SP_SECRET).token().await.unwrap();
    let me = whoami(&emulator, &[("Authorization", token.authorization())]).await;
    assert_eq!(me["userName"], SP);
    let requests = emulator.requests();
    assert_eq!(
        requests[0].path,
        "/oidc/.well-known/oauth-authorization-server"
    );
    assert_eq!(requests[1].method, "POST");
    assert_eq!(requests[1].path, "/oidc/v1/token");
    assert_eq!(requests[1].auth_scheme.as_deref(), Some("Basic"));
    assert_eq!(
        requests[1].body,
        serde_json::json!({"grant_type": "client_credentials", "scope": "all-apis"})
    );
}

#[tokio::test]
async fn a_refused_secret_is_explained_and_not_retried() {
    let emulator = emulator(Config::default());
    let error = m2m(&emulator, "wrong-secret").token().await.unwrap_err();
    let message = error.to_string();
    assert_eq!(error.oauth_error(), Some("invalid_client"), "{message}");
    assert!(
        message.contains("check client_id and client_secret"),
        "{message}"
    );
    assert!(!message.contains("wrong-secret"), "{message}");
    assert_eq!(token_requests(&emulator).len(), 1);
}

#[tokio::test]
async fn token_endpoint_failures_are_retried_with_retry_after() {
    let emulator = emulator(Config::default());
    emulator.inject_fault(
        Fault::status(503)
            .with_retry_after("0")
            .with_path("/oidc/v1/token")
            .with_count(2),
    );
    let token = m2m(&emulator, SP_SECRET).token().await.unwrap();
    assert!(!token.access_token.expose().is_empty());
    assert_eq!(token_requests(&emulator).len(), 3);
}

#[tokio::test]
async fn retries_stop_at_their_budget() {
    let emulator = emulator(Config::default());
    emulator.inject_fault(
        Fault::status(503)
            .with_path("/oidc/v1/token")
            .with_count(1000),
    );
    let error = m2m(&emulator, SP_SECRET).token().await.unwrap_err();
    assert!(
        matches!(error, AuthError::RetriesExhausted { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn concurrent_requests_wait_for_one_token() {
    let emulator = emulator(Config::default());
    let cache = Arc::new(cached(m2m(&emulator, SP_SECRET), EarlyRefresh::OAUTH));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(token_requests(&emulator).len(), 1);
}

#[tokio::test]
async fn short_lived_tokens_are_replaced_after_half_their_life() {
    let emulator = emulator(Config::default().with_token_ttl(Duration::from_secs(2)));
    let cache = cached(m2m(&emulator, SP_SECRET), EarlyRefresh::OAUTH);
    let first = cache.token().await.unwrap();
    assert_eq!(cache.token().await.unwrap(), first);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = cache.token().await.unwrap();
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(token_requests(&emulator).len(), 2);
}

#[tokio::test]
async fn a_rejected_token_is_fetched_anew() {
    let emulator = emulator(Config::default());
    let cache = cached(m2m(&emulator, SP_SECRET), EarlyRefresh::OAUTH);
    let first = cache.token().await.unwrap();
    cache.reject(std::slice::from_ref(&first.access_token));
    let second = cache.token().await.unwrap();
    assert_ne!(first.access_token, second.access_token);
    assert_eq!(cache.token().await.unwrap(), second);
    // A late refusal of the replaced token (a request that was under way) fetches nothing.
    cache.reject(std::slice::from_ref(&first.access_token));
    assert_eq!(cache.token().await.unwrap(), second);
    assert_eq!(token_requests(&emulator).len(), 2);
}

#[tokio::test]
async fn tokens_are_kept_across_invocations_under_their_own_key() {
    let emulator = emulator(Config::default());
    let home = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::in_home(home.path()));
    let invocation = |secret: &str| {
        let persistent = PersistentCache::new(
            store.clone(),
            "oauth-m2m",
            &emulator.url(),
            SP,
            "all-apis",
            &[secret],
        );
        CachedToken::new(
            Box::new(m2m(&emulator, secret)),
            EarlyRefresh::OAUTH,
            Some(persistent),
            None,
        )
    };
    let first = invocation(SP_SECRET).token().await.unwrap();
    let requests = emulator.requests().len();
    let second = invocation(SP_SECRET).token().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(
        emulator.requests().len(),
        requests,
        "no request at all the second time"
    );
    let file = std::fs::read_to_string(home.path().join(".databricks/token-cache.json")).unwrap();
    assert!(!file.contains(SP_SECRET));
    assert!(
        file.contains("/oidc/v1/token"),
        "the discovery answer is kept: {file}"
    );

    // A rotated secret does not reuse the token (and its wrong value gets refused).
    let error = invocation("rotated-secret").token().await.unwrap_err();
    assert_eq!(error.oauth_error(), Some("invalid_client"));
    // Once expired, the kept token endpoint saves the discovery request.
    emulator.clear_requests();
    let expired = Token {
        expiry: Some(SystemTime::now() - Duration::from_secs(1)),
        ..first
    };
    let persistent = PersistentCache::new(
        store.clone(),
        "oauth-m2m",
        &emulator.url(),
        SP,
        "all-apis",
        &[SP_SECRET],
    );
    let lock = store.lock().unwrap();
    let stored = store.load(persistent.key()).unwrap().unwrap();
    store
        .save(
            &lock,
            &[(
                persistent.key().to_string(),
                StoredToken {
                    token: expired,
                    ..stored
                },
            )],
        )
        .unwrap();
    drop(lock);
    invocation(SP_SECRET).token().await.unwrap();
    let paths: Vec<_> = emulator.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/oidc/v1/token"]);
}

fn github_emulator() -> Emulator {
    emulator(Config::default().with_federation_policy(FederationPolicy {
        client_id: SP.into(),
        issuer: GITHUB_ISSUER.into(),
        subject: GITHUB_DEFAULT_SUBJECT.into(),
        audience: None,
    }))
}

fn github_source(emulator: &Emulator) -> IdTokenSource {
    IdTokenSource::GitHub {
        request_url: format!("{}/github-actions/idtoken?api-version=2.0", emulator.url()),
        request_token: Secret::new(CI_REQUEST_TOKEN),
    }
}

fn exchange(
    emulator: &Emulator,
    client_id: Option<&str>,
    id_tokens: IdTokenSource,
) -> TokenExchange {
    TokenExchange::new(
        discovery(emulator),
        client_id.map(str::to_string),
        vec![],
        None,
        id_tokens,
        http(),
    )
}

#[tokio::test]
async fn github_actions_id_tokens_are_exchanged_with_the_exact_form() {
    let emulator = github_emulator();
    let token = exchange(&emulator, Some(SP), github_source(&emulator))
        .token()
        .await
        .unwrap();
    assert_eq!(
        whoami(&emulator, &[("Authorization", token.authorization())]).await["userName"],
        SP
    );
    let requests = emulator.requests();
    let id_token_request = requests
        .iter()
        .find(|r| r.path == "/github-actions/idtoken")
        .unwrap();
    assert_eq!(
        id_token_request.query_params["audience"],
        format!("{}/oidc/v1/token", emulator.url())
    );
    let exchange_request = token_requests(&emulator).pop().unwrap();
    assert_eq!(
        exchange_request.body,
        serde_json::json!({
            "client_id": SP,
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "scope": "all-apis",
            "subject_token": "***",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        })
    );
}

#[tokio::test]
async fn a_federation_policy_mismatch_says_what_to_check() {
    let emulator = emulator(Config::default());
    let error = exchange(&emulator, Some(SP), github_source(&emulator))
        .token()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert_eq!(error.oauth_error(), Some("invalid_client"), "{message}");
    assert!(
        message.contains("check that the service principal `ci-deployer` has a federation policy"),
        "{message}"
    );
}

/// An ID token the emulator's GitHub endpoint issues, for the local sources.
async fn github_id_token(emulator: &Emulator) -> String {
    let url = format!(
        "{}/github-actions/idtoken?audience={}/oidc/v1/token",
        emulator.url(),
        emulator.url()
    );
    let response = plain_client()
        .get(url)
        .header("Authorization", format!("Bearer {CI_REQUEST_TOKEN}"))
        .send()
        .await
        .unwrap();
    let answer = json_of(response).await;
    answer["value"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn file_id_tokens_are_read_at_every_exchange_and_identify_the_workload() {
    let emulator = github_emulator();
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("token");
    let source = |path: &std::path::Path| IdTokenSource::File {
        path: path.to_path_buf(),
    };
    let missing = exchange(&emulator, Some(SP), source(&path))
        .token()
        .await
        .unwrap_err();
    assert!(matches!(missing, AuthError::NotConfigured(_)), "{missing}");
    std::fs::write(&path, github_id_token(&emulator).await).unwrap();
    let token = exchange(&emulator, Some(SP), source(&path))
        .token()
        .await
        .unwrap();
    assert_eq!(
        whoami(&emulator, &[("Authorization", token.authorization())]).await["userName"],
        SP
    );
    let identity = source(&path).identity().unwrap();
    assert!(identity[1].contains(GITHUB_DEFAULT_SUBJECT), "{identity:?}");
}

#[tokio::test]
async fn azure_devops_id_tokens_come_from_the_pipeline_endpoint() {
    let emulator = emulator(Config::default().with_federation_policy(FederationPolicy {
        client_id: SP.into(),
        issuer: databricks_emulator::AZURE_DEVOPS_ISSUER.into(),
        subject: "p://emulator-organization/project-1/plan-1".into(),
        audience: Some("api://AzureADTokenExchange".into()),
    }));
    let source = IdTokenSource::AzureDevOps {
        collection_uri: format!("{}/azure-devops/", emulator.url()),
        project_id: "project-1".into(),
        plan_id: "plan-1".into(),
        job_id: "job-1".into(),
        host_type: "build".into(),
        access_token: Secret::new(CI_REQUEST_TOKEN),
    };
    let token = exchange(&emulator, Some(SP), source).token().await.unwrap();
    assert_eq!(
        whoami(&emulator, &[("Authorization", token.authorization())]).await["userName"],
        SP
    );
}

const AZ_SP: &str = "11111111-2222-3333-4444-555555555555";
const AZ_SECRET: &str = "azure-client-secret-1";

fn azure_emulator() -> Emulator {
    emulator(
        Config::default()
            .with_cloud(Cloud::Azure)
            .with_azure_service_principal(AZ_SP, AZ_SECRET)
            .with_admin(AZ_SP),
    )
}

fn azure_secret_source(emulator: &Emulator, tenant: &str, resource: &str) -> AzureClientSecret {
    let authority = AzureAuthority::new(AzureCloud::Public, Some(&emulator.url())).unwrap();
    AzureClientSecret::new(
        &authority,
        tenant,
        AZ_SP.into(),
        Secret::new(AZ_SECRET),
        resource.into(),
        http(),
    )
}

#[tokio::test]
async fn azure_client_secret_sends_both_tokens_for_the_discovered_tenant() {
    let emulator = azure_emulator();
    let tenant = discover_tenant(&http(), &emulator.url()).await.unwrap();
    assert_eq!(tenant, DEFAULT_AZURE_TENANT_ID);
    let workspace = azure_secret_source(&emulator, &tenant, AZURE_DATABRICKS_LOGIN_APP_ID);
    let management = azure_secret_source(&emulator, &tenant, AZURE_SERVICE_MANAGEMENT_RESOURCE);
    let provider = TokenProvider::new(
        "azure-client-secret",
        cached(workspace, EarlyRefresh::AZURE),
    )
    .with_management(ManagementToken {
        token: cached(management, EarlyRefresh::AZURE),
        only_for_applications: false,
    });
    let headers = provider.headers().await.unwrap();
    let names: Vec<_> = headers.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["Authorization", provider::MANAGEMENT_TOKEN_HEADER]);
    assert_eq!(whoami(&emulator, &headers).await["applicationId"], AZ_SP);
    let token_calls = token_requests(&emulator);
    assert_eq!(token_calls.len(), 2);
    assert!(
        token_calls
            .iter()
            .all(|r| r.path == format!("/{tenant}/oauth2/token"))
    );
    assert_eq!(token_calls[0].auth_scheme.as_deref(), Some("Basic"));
    assert_eq!(
        token_calls[0].body["resource"],
        AZURE_DATABRICKS_LOGIN_APP_ID
    );
}

#[tokio::test]
async fn azure_msi_uses_the_identity_endpoint() {
    let emulator = emulator(
        Config::default()
            .with_cloud(Cloud::Azure)
            .with_managed_identity(AZ_SP)
            .with_admin(AZ_SP),
    );
    let endpoint = MsiEndpoint::from_environment(&|name| match name {
        "IDENTITY_ENDPOINT" => Some(format!("{}/msi/token", emulator.url())),
        "IDENTITY_HEADER" => Some(IDENTITY_HEADER_VALUE.to_string()),
        _ => None,
    });
    let source = AzureMsi::new(endpoint, AZURE_DATABRICKS_LOGIN_APP_ID.into(), None, http());
    let token = source.token().await.unwrap();
    assert!(token.expiry.is_some());
    assert_eq!(
        whoami(&emulator, &[("Authorization", token.authorization())]).await["applicationId"],
        AZ_SP
    );
}

#[cfg(unix)]
#[tokio::test]
async fn azure_cli_runs_az_once_for_a_user_without_a_shell() {
    use std::os::unix::fs::PermissionsExt;
    let emulator = emulator(Config::default().with_cloud(Cloud::Azure));
    let user_token = emulator.entra_user_token(DEFAULT_ADMIN).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let calls = directory.path().join("calls");
    let az = directory.path().join("az");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\nprintf '%s' '{{\"accessToken\": \"{user_token}\", \"tokenType\": \"Bearer\", \"expires_on\": {}}}'\n",
        calls.display(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600
    );
    std::fs::write(&az, script).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let source = AzureCli::new(
        az.clone(),
        AZURE_DATABRICKS_LOGIN_APP_ID.into(),
        Some("tenant-1".into()),
        None,
    );
    let management = AzureCli::new(az, AZURE_SERVICE_MANAGEMENT_RESOURCE.into(), None, None);
    let provider = TokenProvider::new("azure-cli", cached(source, EarlyRefresh::AZURE))
        .with_management(ManagementToken {
            token: cached(management, EarlyRefresh::AZURE),
            only_for_applications: true,
        });
    let headers = provider.headers().await.unwrap();
    assert_eq!(
        headers.len(),
        1,
        "a user's token needs no management header"
    );
    assert_eq!(whoami(&emulator, &headers).await["userName"], DEFAULT_ADMIN);
    let calls = std::fs::read_to_string(calls).unwrap();
    assert_eq!(
        calls,
        format!(
            "account get-access-token --resource {AZURE_DATABRICKS_LOGIN_APP_ID} --output json --tenant tenant-1\n"
        )
    );
}

#[cfg(unix)]
#[tokio::test]
async fn azure_cli_not_logged_in_or_missing_is_not_applicable() {
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().unwrap();
    let az = directory.path().join("az");
    std::fs::write(
        &az,
        "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let error = AzureCli::new(az, "r".into(), None, None)
        .token()
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::NotConfigured(_)), "{error}");
    assert!(error.to_string().contains("az login"), "{error}");
    let missing = directory.path().join("no-such-az");
    let error = AzureCli::new(missing, "r".into(), None, None)
        .token()
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::NotConfigured(_)), "{error}");
}

/// Logs in as the default admin through the authorize endpoint, as `databricks auth login`
/// does, and returns the token answer (with a refresh token).
async fn login(emulator: &Emulator) -> Token {
    let verifier = "v".repeat(64);
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let redirect = "http://localhost:8020";
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = url::Url::parse(&format!("{}/oidc/v1/authorize", emulator.url())).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", "databricks-cli"),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("scope", "offline_access all-apis"),
        ("state", "s"),
    ]);
    let authorize = client.get(url.as_str()).send().await.unwrap();
    let location = authorize.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == "code")
        .unwrap()
        .1
        .to_string();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", "databricks-cli"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect),
        ])
        .finish();
    let response = client
        .post(format!("{}/oidc/v1/token", emulator.url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let answer = json_of(response).await;
    Token::from_answer(&answer, SystemTime::now()).unwrap()
}

#[tokio::test]
async fn databricks_cli_tokens_are_refreshed_and_stored_back_under_both_keys() {
    let emulator = emulator(Config::default().with_login_as(DEFAULT_ADMIN));
    let home = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::in_home(home.path()));
    let source = || {
        DatabricksCliTokens::new(
            store.clone(),
            Some("dev".into()),
            &emulator.url(),
            discovery(&emulator),
            http(),
        )
    };

    let error = source().token().await.unwrap_err();
    assert!(matches!(error, AuthError::NotConfigured(_)));
    let message = error.to_string();
    assert!(
        message.contains("databricks OAuth is not configured for this host"),
        "{message}"
    );
    assert!(
        message.contains("databricks auth login --profile dev"),
        "{message}"
    );

    let mut logged_in = login(&emulator).await;
    logged_in.expiry = Some(SystemTime::now() + Duration::from_secs(60));
    let lock = store.lock().unwrap();
    store
        .save(
            &lock,
            &[(
                "dev".into(),
                StoredToken {
                    token: logged_in.clone(),
                    token_endpoint: None,
                },
            )],
        )
        .unwrap();
    drop(lock);

    let refreshed = source().token().await.unwrap();
    assert_ne!(refreshed.access_token, logged_in.access_token);
    assert_eq!(
        whoami(&emulator, &[("Authorization", refreshed.authorization())]).await["userName"],
        DEFAULT_ADMIN
    );
    let by_profile = store.load("dev").unwrap().unwrap().token;
    let by_host = store.load(&emulator.url()).unwrap().unwrap().token;
    assert_eq!(by_profile, refreshed);
    assert_eq!(by_host, refreshed);
    assert_ne!(by_profile.refresh_token, logged_in.refresh_token, "rotated");

    // The used refresh token is dead: a store holding only it gives the login guidance.
    let lock = store.lock().unwrap();
    let expired = Token {
        expiry: Some(SystemTime::now() - Duration::from_secs(5)),
        ..logged_in
    };
    store
        .save(
            &lock,
            &[(
                "dev".into(),
                StoredToken {
                    token: expired,
                    token_endpoint: None,
                },
            )],
        )
        .unwrap();
    drop(lock);
    let message = source().token().await.unwrap_err().to_string();
    assert!(message.starts_with("A new access token could not be retrieved because the refresh token is invalid. To reauthenticate, run the following command:\n  $ databricks auth login --profile dev"), "{message}");
}

#[test]
fn debug_of_a_token_shows_no_secret() {
    let token = Token {
        access_token: Secret::new("access-secret"),
        token_type: "Bearer".into(),
        expiry: None,
        refresh_token: Some(Secret::new("refresh-secret")),
        lifetime: None,
    };
    let shown = format!("{token:?}");
    assert!(
        !shown.contains("access-secret") && !shown.contains("refresh-secret"),
        "{shown}"
    );
}

mod chain {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::config::UnifiedConfig;

    struct Setup {
        config: UnifiedConfig,
        environment: Environment,
        debug_lines: Arc<Mutex<Vec<String>>>,
        _home: tempfile::TempDir,
    }

    fn chain_setup(file: &str, vars: &[(&str, &str)]) -> Setup {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join(".databrickscfg");
        std::fs::write(&path, file).unwrap();
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config =
            UnifiedConfig::load_from(&path, None, &|name| vars.get(name).cloned()).unwrap();
        let debug_lines = Arc::new(Mutex::new(Vec::new()));
        let lines = debug_lines.clone();
        let debug: DebugLog = Some(Arc::new(move |line: &str| {
            lines.lock().unwrap().push(line.to_string())
        }));
        let environment = Environment {
            http: http(),
            store: Some(Arc::new(FileTokenStore::in_home(home.path()))),
            debug,
            env: Box::new(move |name| vars.get(name).cloned()),
            az: home.path().join("no-az-here"),
        };
        Setup {
            config,
            environment,
            debug_lines,
            _home: home,
        }
    }

    #[tokio::test]
    async fn the_first_configured_method_wins_in_the_reference_order() {
        let emulator = github_emulator();
        let id_token = github_id_token(&emulator).await;
        let url = emulator.url();
        let file = format!("[DEFAULT]\nhost = {url}\nclient_id = {SP}\n");
        let setup = chain_setup(&file, &[("DATABRICKS_OIDC_TOKEN", &id_token)]);
        let configured = configure(&setup.config, &setup.environment).await.unwrap();
        assert_eq!(configured.method, "env-oidc");
        let skipped: Vec<String> = setup
            .debug_lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| {
                line.strip_prefix("Failed to configure auth \"")
                    .map(|rest| rest.split('"').next().unwrap().to_string())
            })
            .collect();
        assert_eq!(
            skipped,
            [
                "pat",
                "basic",
                "oauth-m2m",
                "databricks-cli",
                "github-oidc",
                "azure-devops-oidc"
            ]
        );

        let file =
            format!("[DEFAULT]\nhost = {url}\nclient_id = {SP}\nclient_secret = {SP_SECRET}\n");
        let setup = chain_setup(&file, &[]);
        assert_eq!(
            configure(&setup.config, &setup.environment)
                .await
                .unwrap()
                .method,
            "oauth-m2m"
        );
    }

    #[tokio::test]
    async fn auth_type_forces_a_method_and_reports_its_failure() {
        let file = "[DEFAULT]\nhost = http://127.0.0.1:9\ntoken = dapi-x\nauth_type = basic\n";
        let setup = chain_setup(file, &[]);
        let error = configure(&setup.config, &setup.environment)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("basic auth: username is required. Config: host=http://127.0.0.1:9, token=***, profile=DEFAULT"), "{error}");
        let setup = setup_with_type("bogus");
        let error = configure(&setup.config, &setup.environment)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "auth type \"bogus\" not found, please check https://docs.databricks.com"
            ),
            "{error}"
        );
    }

    fn setup_with_type(auth_type: &str) -> Setup {
        chain_setup(
            &format!("[DEFAULT]\nhost = http://127.0.0.1:9\nauth_type = {auth_type}\n"),
            &[],
        )
    }

    #[tokio::test]
    async fn two_methods_conflict_and_nothing_configured_says_what_is_missing() {
        let file = "[DEFAULT]\nhost = http://127.0.0.1:9\ntoken = dapi-secret\nclient_id = x\nclient_secret = s3cret\n";
        let setup = chain_setup(file, &[]);
        let error = configure(&setup.config, &setup.environment)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "validate: more than one authorization method configured: oauth and pat. Config: \
             host=http://127.0.0.1:9, token=***, profile=DEFAULT, client_id=x, client_secret=***"
        );
        let setup = chain_setup(
            "",
            &[
                ("DATABRICKS_HOST", "http://127.0.0.1:9"),
                ("DATABRICKS_USERNAME", "u"),
            ],
        );
        let error = configure(&setup.config, &setup.environment)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("default auth: cannot configure default credentials, please check https://docs.databricks.com/en/dev-tools/auth.html#databricks-client-unified-authentication to configure credentials for your preferred authentication method. Config: host=http://127.0.0.1:9, username=u. Env: DATABRICKS_HOST, DATABRICKS_USERNAME"), "{error}");
        assert!(
            error.ends_with("basic needs DATABRICKS_PASSWORD"),
            "{error}"
        );
    }
}

mod api_seam {
    use super::*;
    use crate::api::{Client, ClientOptions, HttpSettings};

    #[tokio::test]
    async fn the_api_client_gets_tokens_and_a_401_replaces_the_cached_one_once() {
        let emulator = emulator(Config::default().with_admin(SP));
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join(".databrickscfg");
        let url = emulator.url();
        std::fs::write(
            &path,
            format!("[DEFAULT]\nhost = {url}\nclient_id = {SP}\nclient_secret = {SP_SECRET}\n"),
        )
        .unwrap();
        let config = crate::config::UnifiedConfig::load_from(&path, None, &|_| None).unwrap();
        let settings = HttpSettings {
            insecure: false,
            extra_ca_certificates: &[],
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let environment = Environment {
            http: TokenHttp::new(
                crate::api::http_client(&url, &settings).unwrap(),
                RetryRules::default(),
                None,
            ),
            store: None,
            debug: None,
            env: Box::new(|_| None),
            az: "az".into(),
        };
        let credentials = Arc::new(ChainCredentials::new(config, environment));
        let client = Client::new(ClientOptions::new(url.clone(), credentials.clone())).unwrap();
        let concurrent_calls = || async {
            let calls: Vec<_> = (0..8)
                .map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move { client.list_scopes().await.map(|_| ()) })
                })
                .collect();
            for call in calls {
                call.await.unwrap().unwrap();
            }
        };
        concurrent_calls().await;
        assert_eq!(
            token_requests(&emulator).len(),
            1,
            "one token for concurrent first requests"
        );

        // A revoked token costs no failed call: the 401 drops it and the call is sent again;
        // the 401s of the requests that were under way fetch no further token.
        emulator.revoke_tokens(Some(SP));
        concurrent_calls().await;
        client.list_scopes().await.unwrap();
        assert_eq!(token_requests(&emulator).len(), 2);
    }
}
