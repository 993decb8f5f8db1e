//! Every authentication method end to end: the binary against the emulator as workspace and
//! identity provider (OAuth server, Entra ID, managed identity, CI ID-token endpoints), with the
//! chain order, `auth_type`, conflicts, `default_profile`, refresh during a long import, the
//! cross-invocation token cache, and no secret in any output.

use std::time::Duration;
#[cfg(unix)]
use std::time::{SystemTime, UNIX_EPOCH};

use databricks_emulator::{
    AZURE_DEVOPS_ISSUER, CI_REQUEST_TOKEN, Cloud, Config, DEFAULT_ADMIN, FederationPolicy,
    GITHUB_DEFAULT_SUBJECT, GITHUB_ISSUER, IDENTITY_HEADER_VALUE, LoggedRequest,
};
use serde_json::Value;

#[cfg(unix)]
use crate::harness::file_mode;
use crate::harness::{Run, SP, SP_SECRET, TestEnv};

const AZ_SP: &str = "0b8f2c3e-1111-4222-8333-944455556666";
const AZ_SECRET: &str = "azure-secret-77d2a1";

pub(crate) fn workspace(config: Config) -> TestEnv {
    TestEnv::without_profile(
        config
            .with_service_principal(SP, SP_SECRET)
            .with_admin(SP)
            .with_federation_policy(FederationPolicy {
                client_id: SP.into(),
                issuer: GITHUB_ISSUER.into(),
                subject: GITHUB_DEFAULT_SUBJECT.into(),
                audience: None,
            }),
    )
}

fn azure_workspace() -> TestEnv {
    workspace(
        Config::default()
            .with_cloud(Cloud::Azure)
            .with_azure_service_principal(AZ_SP, AZ_SECRET)
            .with_managed_identity(AZ_SP)
            .with_admin(AZ_SP),
    )
}

fn run(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut command = env.command(args);
    command.envs(vars.iter().copied());
    env.run_command(command, b"")
}

fn list_scopes(env: &TestEnv, vars: &[(&str, &str)]) -> Run {
    run(env, &["secrets", "list-scopes", "--debug"], vars)
}

fn token_requests(requests: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    requests
        .iter()
        .filter(|request| request.path.ends_with("/token"))
        .collect()
}

/// The principal the one API call of a command was made as.
#[track_caller]
fn api_caller(env: &TestEnv) -> String {
    let calls = env.api_requests();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].status, Some(200), "{calls:?}");
    calls[0].user.clone().unwrap_or_default()
}

/// No secret of any kind in what a user (or a CI log) sees.
#[track_caller]
fn assert_no_secret(run: &Run, secrets: &[&str]) {
    for text in [run.stdout(), run.stderr.clone()] {
        for secret in secrets
            .iter()
            .chain(&[SP_SECRET, AZ_SECRET, CI_REQUEST_TOKEN])
        {
            assert!(!text.contains(secret), "`{secret}` leaked: {text}");
        }
        // Every token the emulator issues or accepts is a JWT.
        assert!(!text.contains("eyJ"), "a JWT leaked: {text}");
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.expect("a body")).expect("JSON")
}

/// An ID token from the emulator's GitHub Actions endpoint, for `audience`.
fn github_id_token(env: &TestEnv, audience: &str) -> String {
    let url = format!("{}/github-actions/idtoken?audience={audience}", env.url());
    block_on(async {
        let response = reqwest::Client::new()
            .get(url)
            .header("Authorization", format!("Bearer {CI_REQUEST_TOKEN}"))
            .send()
            .await
            .expect("the ID token endpoint answers");
        json_of(response).await["value"]
            .as_str()
            .expect("an ID token")
            .to_string()
    })
}

#[test]
fn oauth_m2m_profile_discovers_and_uses_the_client_credentials_grant() {
    let env = workspace(Config::default());
    let url = env.url();
    env.write_config(&format!(
        "[sp]\nhost = {url}\nclient_id = {SP}\nclient_secret = {SP_SECRET}\n"
    ));
    let run = run(
        &env,
        &["secrets", "list-scopes", "--profile", "sp", "--debug"],
        &[],
    );
    run.ok();
    assert_no_secret(&run, &[]);
    assert!(
        run.stderr.contains("Authenticated with oauth-m2m"),
        "{}",
        run.stderr
    );
    let requests = env.emulator.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/oidc/.well-known/oauth-authorization-server",
            "/oidc/v1/token",
            "/api/2.0/secrets/scopes/list"
        ]
    );
    assert_eq!(requests[1].auth_scheme.as_deref(), Some("Basic"));
    assert_eq!(requests[1].body["scope"], "all-apis");
    assert_eq!(requests[2].user.as_deref(), Some(SP));
}

#[test]
fn a_second_ci_command_reuses_the_token_and_the_discovery_answer() {
    let env = workspace(Config::default());
    let url = env.url();
    let vars = [
        ("DATABRICKS_HOST", url.as_str()),
        ("DATABRICKS_CLIENT_ID", SP),
        ("DATABRICKS_CLIENT_SECRET", SP_SECRET),
    ];
    list_scopes(&env, &vars).ok();
    env.emulator.clear_requests();
    let second = list_scopes(&env, &vars);
    second.ok();
    let paths: Vec<String> = env
        .emulator
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(
        paths,
        ["/api/2.0/secrets/scopes/list"],
        "no token request the second time"
    );
    let cache = std::fs::read_to_string(env.home().join(".databricks/token-cache.json"))
        .expect("the token storage");
    assert!(!cache.contains(SP_SECRET));
    #[cfg(unix)] // Windows has no permission bits.
    assert_eq!(
        file_mode(&env.home().join(".databricks/token-cache.json")),
        0o600
    );

    // Opting out: a new token every time.
    env.emulator.clear_requests();
    let mut no_cache = vars.to_vec();
    no_cache.push(("DATABRICKS_TOKEN_CACHE", "0"));
    list_scopes(&env, &no_cache).ok();
    assert_eq!(token_requests(&env.emulator.requests()).len(), 1);

    // Another secret (a rotated or wrong one) never gets the cached token.
    env.emulator.clear_requests();
    let wrong = [
        vars[0],
        vars[1],
        ("DATABRICKS_CLIENT_SECRET", "not-the-secret"),
    ];
    let run = list_scopes(&env, &wrong);
    let stderr = run.fails_with(1);
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(
        stderr.contains("check client_id and client_secret"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-secret"), "{stderr}");
    assert_eq!(
        token_requests(&env.emulator.requests()).len(),
        1,
        "never retried"
    );
}

#[test]
fn github_actions_oidc_exchanges_the_job_token() {
    let env = workspace(Config::default());
    let url = env.url();
    let request_url = format!("{url}/github-actions/idtoken?api-version=2.0");
    let vars = [
        ("DATABRICKS_HOST", url.as_str()),
        ("DATABRICKS_CLIENT_ID", SP),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", request_url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", CI_REQUEST_TOKEN),
    ];
    let run = list_scopes(&env, &vars);
    run.ok();
    assert_no_secret(&run, &[]);
    assert!(
        run.stderr
            .contains("Failed to configure auth \"oauth-m2m\""),
        "{}",
        run.stderr
    );
    assert_eq!(api_caller(&env), SP);
    let requests = env.emulator.requests();
    let exchange = token_requests(&requests)[0];
    assert_eq!(
        exchange.body["grant_type"],
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(exchange.body["subject_token"], "***");

    // The next step of the job: neither an ID token nor a token exchange.
    env.emulator.clear_requests();
    list_scopes(&env, &vars).ok();
    let paths: Vec<String> = env
        .emulator
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(paths, ["/api/2.0/secrets/scopes/list"]);
}

#[test]
fn azure_devops_oidc_uses_the_pipeline_variables() {
    let env = workspace(Config::default().with_federation_policy(FederationPolicy {
        client_id: SP.into(),
        issuer: AZURE_DEVOPS_ISSUER.into(),
        subject: "p://emulator-organization/proj/plan-9".into(),
        audience: Some("api://AzureADTokenExchange".into()),
    }));
    let url = env.url();
    let collection = format!("{url}/azure-devops/");
    let run = list_scopes(
        &env,
        &[
            ("DATABRICKS_HOST", url.as_str()),
            ("DATABRICKS_CLIENT_ID", SP),
            ("DATABRICKS_AUTH_TYPE", "azure-devops-oidc"),
            ("SYSTEM_ACCESSTOKEN", CI_REQUEST_TOKEN),
            ("SYSTEM_TEAMFOUNDATIONCOLLECTIONURI", collection.as_str()),
            ("SYSTEM_TEAMPROJECTID", "proj"),
            ("SYSTEM_PLANID", "plan-9"),
            ("SYSTEM_JOBID", "job-1"),
            ("SYSTEM_HOSTTYPE", "build"),
        ],
    );
    run.ok();
    assert_no_secret(&run, &[]);
    assert_eq!(api_caller(&env), SP);
}

#[test]
fn env_oidc_and_file_oidc_exchange_a_local_jwt() {
    let env = workspace(Config::default());
    let url = env.url();
    let audience = format!("{url}/oidc/v1/token");
    let id_token = github_id_token(&env, &audience);
    env.emulator.clear_requests();
    let run = list_scopes(
        &env,
        &[
            ("DATABRICKS_HOST", url.as_str()),
            ("DATABRICKS_CLIENT_ID", SP),
            ("DATABRICKS_OIDC_TOKEN", id_token.as_str()),
        ],
    );
    run.ok();
    assert_no_secret(&run, &[&id_token]);
    assert_eq!(api_caller(&env), SP);

    env.emulator.clear_requests();
    let path = env.home().join("id-token");
    std::fs::write(&path, &id_token).expect("token file");
    env.write_config(&format!(
        "[DEFAULT]\nhost = {url}\nclient_id = {SP}\ndatabricks_id_token_filepath = {}\nauth_type = file-oidc\n",
        path.display()
    ));
    let run = list_scopes(&env, &[("DATABRICKS_TOKEN_CACHE", "false")]);
    run.ok();
    assert_no_secret(&run, &[&id_token]);
    assert_eq!(api_caller(&env), SP);
}

#[test]
fn azure_client_secret_discovers_the_tenant_and_sends_the_management_token() {
    let env = azure_workspace();
    let url = env.url();
    let run = list_scopes(
        &env,
        &[
            ("DATABRICKS_HOST", url.as_str()),
            ("DATABRICKS_CLOUD", "azure"),
            ("ARM_CLIENT_ID", AZ_SP),
            ("ARM_CLIENT_SECRET", AZ_SECRET),
            ("AZURE_AUTHORITY_HOST", url.as_str()),
        ],
    );
    run.ok();
    assert_no_secret(&run, &[]);
    assert_eq!(api_caller(&env), AZ_SP);
    let requests = env.emulator.requests();
    assert!(requests.iter().any(|r| r.path == "/aad/auth"));
    let resources: Vec<&Value> = token_requests(&requests)
        .iter()
        .map(|r| &r.body["resource"])
        .collect();
    assert_eq!(
        resources,
        [
            "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d",
            "https://management.core.windows.net/"
        ]
    );
}

#[test]
fn azure_msi_takes_the_identity_endpoint_from_the_environment() {
    let env = azure_workspace();
    let url = env.url();
    let endpoint = format!("{url}/msi/token");
    let run = list_scopes(
        &env,
        &[
            ("DATABRICKS_HOST", url.as_str()),
            ("DATABRICKS_CLOUD", "azure"),
            ("ARM_USE_MSI", "true"),
            ("IDENTITY_ENDPOINT", endpoint.as_str()),
            ("IDENTITY_HEADER", IDENTITY_HEADER_VALUE),
        ],
    );
    run.ok();
    assert_no_secret(&run, &[IDENTITY_HEADER_VALUE]);
    assert_eq!(api_caller(&env), AZ_SP);
}

/// A fake `az` that logs its arguments and answers with `answer` (on stderr when it fails),
/// first on PATH.
#[cfg(unix)]
fn fake_az(env: &TestEnv, answer: &str, exit_code: i32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = env.home().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let calls = env.home().join("az-calls");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\ncat <<'EOF' {}\n{answer}\nEOF\nexit {exit_code}\n",
        calls.display(),
        if exit_code == 0 { "" } else { ">&2" }
    );
    let az = bin.join("az");
    std::fs::write(&az, script).expect("az");
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A fake `az` that hands out the admin's Entra ID user token, valid for an hour, as `az account
/// get-access-token` does after `az login`: the PATH that finds it, and the token.
#[cfg(unix)]
fn fake_az_logged_in_as_admin(env: &TestEnv) -> (String, String) {
    let user_token = env
        .emulator
        .entra_user_token(DEFAULT_ADMIN)
        .expect("a user token");
    let expires_on = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("now")
        .as_secs()
        + 3600;
    let path = fake_az(
        env,
        &format!(
            r#"{{"accessToken": "{user_token}", "tokenType": "Bearer", "expires_on": {expires_on}}}"#
        ),
        0,
    );
    (path, user_token)
}

#[cfg(unix)] // az is faked by a shell script
#[test]
fn azure_cli_runs_az_once_for_a_logged_in_user() {
    let env = azure_workspace();
    let url = env.url();
    let (path, user_token) = fake_az_logged_in_as_admin(&env);
    let vars = [
        ("DATABRICKS_HOST", url.as_str()),
        ("DATABRICKS_CLOUD", "azure"),
        ("PATH", path.as_str()),
    ];
    let run = list_scopes(&env, &vars);
    run.ok();
    assert_no_secret(&run, &[&user_token]);
    assert_eq!(api_caller(&env), DEFAULT_ADMIN);
    let calls = std::fs::read_to_string(env.home().join("az-calls")).expect("az ran");
    assert_eq!(
        calls,
        "account get-access-token --resource 2ff814a6-3304-4ab8-85cb-cd0e6f879c1d --output json\n"
    );
}

#[cfg(unix)] // az is faked by a shell script
#[test]
fn azure_cli_not_logged_in_falls_through_to_the_error_that_lists_the_config() {
    let env = azure_workspace();
    let url = env.url();
    let path = fake_az(&env, "ERROR: Please run 'az login' to setup account.", 1);
    let run = list_scopes(
        &env,
        &[
            ("DATABRICKS_HOST", url.as_str()),
            ("DATABRICKS_CLOUD", "azure"),
            ("PATH", path.as_str()),
        ],
    );
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("Failed to configure auth \"azure-cli\": azure-cli: not logged in"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Error: default auth: cannot configure default credentials"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("Config: host={url}")), "{stderr}");
}

/// Logs in through the emulator's authorize endpoint as `databricks auth login` would and
/// returns the token answer.
fn login(env: &TestEnv) -> Value {
    use base64::Engine as _;
    let verifier = "k".repeat(64);
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    let redirect = "http://localhost:8020";
    let base = env.url();
    block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        let mut authorize = url::Url::parse(&format!("{base}/oidc/v1/authorize")).expect("URL");
        authorize.query_pairs_mut().extend_pairs([
            ("client_id", "databricks-cli"),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("scope", "offline_access all-apis"),
            ("state", "st"),
        ]);
        let answer = client
            .get(authorize.as_str())
            .send()
            .await
            .expect("authorize");
        let location = answer.headers()["location"]
            .to_str()
            .expect("text")
            .to_string();
        let code = url::Url::parse(&location)
            .expect("URL")
            .query_pairs()
            .find(|(key, _)| key == "code")
            .expect("a code")
            .1
            .to_string();
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("client_id", "databricks-cli"),
                ("code", code.as_str()),
                ("code_verifier", verifier.as_str()),
                ("grant_type", "authorization_code"),
                ("redirect_uri", redirect),
            ])
            .finish();
        let response = client
            .post(format!("{base}/oidc/v1/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("token");
        json_of(response).await
    })
}

#[test]
fn databricks_cli_profiles_read_the_go_token_cache_and_refresh_it() {
    let env = workspace(Config::default().with_login_as(DEFAULT_ADMIN));
    let url = env.url();
    env.write_config(&format!(
        "[dev]\nhost = {url}\nauth_type = databricks-cli\n"
    ));

    // The token cache file as the Go CLI keeps it, not the OS keyring (which Windows and macOS
    // have, so it would be asked first).
    let file_storage = [("DATABRICKS_AUTH_STORAGE", "plaintext")];
    let run = run(
        &env,
        &["secrets", "list-scopes", "--profile", "dev"],
        &file_storage,
    );
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("databricks OAuth is not configured for this host"),
        "{stderr}"
    );
    assert!(stderr.contains("run `databricks auth login`"), "{stderr}");
    assert!(
        stderr.contains("databricks auth login --profile dev"),
        "{stderr}"
    );

    let answer = login(&env);
    let refresh_token = answer["refresh_token"].as_str().expect("a refresh token");
    let cache_dir = env.home().join(".databricks");
    std::fs::create_dir_all(&cache_dir).expect("dir");
    // As the Go CLI writes it: expired (so refreshed now), local time with an offset.
    let cache = format!(
        "{{\n  \"version\": 1,\n  \"tokens\": {{\n    \"dev\": {{\n      \"access_token\": \"{}\",\n      \"token_type\": \"Bearer\",\n      \"refresh_token\": \"{refresh_token}\",\n      \"expiry\": \"2020-02-20T14:37:20.935183+01:00\"\n    }}\n  }}\n}}",
        answer["access_token"].as_str().expect("an access token"),
    );
    std::fs::write(cache_dir.join("token-cache.json"), cache).expect("cache");
    env.emulator.clear_requests();
    let run = self::run(
        &env,
        &["secrets", "list-scopes", "--profile", "dev", "--debug"],
        &file_storage,
    );
    run.ok();
    assert_no_secret(&run, &[refresh_token]);
    let requests = env.emulator.requests();
    let refresh = token_requests(&requests)[0];
    assert_eq!(refresh.body["grant_type"], "refresh_token");
    assert_eq!(refresh.body["client_id"], "databricks-cli");
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(cache_dir.join("token-cache.json")).expect("cache"),
    )
    .expect("JSON");
    assert_eq!(stored["version"], 1);
    let by_profile = &stored["tokens"]["dev"];
    assert_eq!(
        by_profile,
        &stored["tokens"][url.as_str()],
        "mirrored under the host key"
    );
    assert_ne!(
        by_profile["refresh_token"], refresh_token,
        "the rotated token is kept"
    );
}

#[test]
fn the_default_chain_order_and_auth_type_forcing() {
    let env = workspace(Config::default());
    let url = env.url();
    let admin = env.emulator.admin_token();
    env.write_config(&format!(
        "[DEFAULT]\nhost = {url}\ntoken = {admin}\nclient_id = {SP}\nclient_secret = {SP_SECRET}\n"
    ));
    let run = list_scopes(&env, &[]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("Error: validate: more than one authorization method configured: oauth and pat. Config: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("token=***") && stderr.contains("client_secret=***"),
        "{stderr}"
    );
    assert_no_secret(&run, &[&admin]);
    env.emulator.clear_requests();

    list_scopes(&env, &[("DATABRICKS_AUTH_TYPE", "oauth-m2m")]).ok();
    assert_eq!(api_caller(&env), SP);
    env.emulator.clear_requests();
    list_scopes(&env, &[("DATABRICKS_AUTH_TYPE", "pat")]).ok();
    assert_eq!(api_caller(&env), DEFAULT_ADMIN);

    // Only a client id and an ID token: every earlier method is tried, in order, and skipped.
    env.write_config(&format!("[DEFAULT]\nhost = {url}\nclient_id = {SP}\n"));
    let id_token = github_id_token(&env, &format!("{url}/oidc/v1/token"));
    env.emulator.clear_requests();
    let run = list_scopes(&env, &[("DATABRICKS_OIDC_TOKEN", id_token.as_str())]);
    run.ok();
    let tried: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|line| line.split("Failed to configure auth \"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(
        tried,
        [
            "pat",
            "basic",
            "oauth-m2m",
            "databricks-cli",
            "github-oidc",
            "azure-devops-oidc"
        ]
    );
}

#[test]
fn default_profile_chooses_the_profile_unless_a_host_is_in_the_environment() {
    let env = workspace(Config::default());
    let url = env.url();
    let admin = env.emulator.admin_token();
    env.write_config(&format!(
        "[DEFAULT]\nhost = {url}\ntoken = {admin}\n\n[sp]\nhost = {url}\nclient_id = {SP}\n\
         client_secret = {SP_SECRET}\n\n[__settings__]\ndefault_profile = sp\n"
    ));
    list_scopes(&env, &[]).ok();
    assert_eq!(api_caller(&env), SP);
    env.emulator.clear_requests();
    let run = list_scopes(
        &env,
        &[
            ("DATABRICKS_HOST", url.as_str()),
            ("DATABRICKS_TOKEN", admin.as_str()),
        ],
    );
    run.ok();
    assert_eq!(api_caller(&env), DEFAULT_ADMIN);
}

#[test]
fn an_explicit_profile_beats_credentials_in_the_environment() {
    let env = workspace(Config::default());
    let url = env.url();
    let admin = env.emulator.admin_token();
    env.write_config(&format!("[sp]\nhost = {url}\nclient_id = {SP}\nclient_secret = {SP_SECRET}\n\n[bare]\nhost = {url}\n"));
    let vars = [
        ("DATABRICKS_HOST", "http://127.0.0.1:9"),
        ("DATABRICKS_TOKEN", admin.as_str()),
    ];
    // A host-only profile takes the token from the environment.
    run(
        &env,
        &["secrets", "list-scopes", "--profile", "bare"],
        &vars,
    )
    .ok();
    assert_eq!(api_caller(&env), DEFAULT_ADMIN);
    env.emulator.clear_requests();
    // A complete profile of another method conflicts with the environment's token.
    let run = run(&env, &["secrets", "list-scopes", "--profile", "sp"], &vars);
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("more than one authorization method configured: oauth and pat"),
        "{stderr}"
    );
}

#[test]
fn a_long_import_refreshes_short_lived_tokens_a_handful_of_times() {
    // Each request takes 40 ms, so the import (pinned to 8 at a time: the adaptive scheduler
    // would finish within one token's life) outlives several 2-second tokens.
    let env = workspace(
        Config::default()
            .with_token_ttl(Duration::from_secs(2))
            .with_latency(Duration::from_millis(40)),
    );
    let url = env.url();
    let vars = [
        ("DATABRICKS_HOST", url.as_str()),
        ("DATABRICKS_CLIENT_ID", SP),
        ("DATABRICKS_CLIENT_SECRET", SP_SECRET),
        ("DATABRICKS_TOKEN_CACHE", "0"),
    ];
    run(&env, &["secrets", "create-scope", "bulk"], &vars).ok();
    let lines: String = (0..1000).map(|i| format!("KEY_{i}=value-{i}\n")).collect();
    std::fs::write(env.home().join("big.env"), lines).expect("env file");
    env.emulator.clear_requests();
    let started = std::time::Instant::now();
    let import = ["secrets", "import", "bulk", "big.env", "--concurrency", "8"];
    let run = run(&env, &import, &vars);
    run.ok();
    let elapsed = started.elapsed();
    let requests = env.emulator.requests();
    let puts = requests
        .iter()
        .filter(|r| r.path == "/api/2.0/secrets/put")
        .count();
    assert_eq!(puts, 1000);
    assert!(
        requests.iter().all(|r| r.status != Some(401)),
        "no request was refused"
    );
    let tokens = token_requests(&requests).len();
    // A 2 s token is replaced after 1 s: about one token per second of import, never one per request.
    let ceiling = elapsed.as_secs() as usize + 3;
    eprintln!("1,000-secret import: {tokens} token requests in {elapsed:?}");
    assert!(
        elapsed > Duration::from_secs(3),
        "the import outlived a token: {elapsed:?}"
    );
    assert!(
        tokens >= 2 && tokens <= ceiling,
        "{tokens} token requests in {elapsed:?}"
    );
}

#[test]
fn nothing_configured_names_what_is_missing_without_secrets() {
    let env = workspace(Config::default());
    let url = env.url();
    let run = list_scopes(
        &env,
        &[
            ("DATABRICKS_HOST", url.as_str()),
            ("DATABRICKS_CLIENT_ID", SP),
        ],
    );
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("cannot configure default credentials"),
        "{stderr}"
    );
    assert!(
        stderr.contains("oauth-m2m needs DATABRICKS_CLIENT_SECRET"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Env: DATABRICKS_HOST, DATABRICKS_CLIENT_ID"),
        "{stderr}"
    );
}

#[cfg(unix)]
fn create_key_vault_scope(env: &TestEnv, vars: &[(&str, &str)]) -> Run {
    run(
        env,
        &[
            "secrets",
            "create-scope",
            "vault",
            "--scope-backend-type",
            "AZURE_KEYVAULT",
            "--resource-id",
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/team-vault",
            "--dns-name",
            "https://team-vault.vault.azure.net/",
        ],
        vars,
    )
}

#[cfg(unix)] // az is faked by a shell script
#[test]
fn a_key_vault_scope_needs_the_user_token_az_gives_not_a_service_principals() {
    let env = azure_workspace();
    let url = env.url();
    let (path, user_token) = fake_az_logged_in_as_admin(&env);
    let azure = [
        ("DATABRICKS_HOST", url.as_str()),
        ("DATABRICKS_CLOUD", "azure"),
    ];
    let mut with_az = azure.to_vec();
    with_az.push(("PATH", path.as_str()));
    create_key_vault_scope(&env, &with_az).ok();
    assert_eq!(env.emulator.scope_names(), ["vault"]);

    let mut as_application = azure.to_vec();
    as_application.extend([
        ("ARM_CLIENT_ID", AZ_SP),
        ("ARM_CLIENT_SECRET", AZ_SECRET),
        ("AZURE_AUTHORITY_HOST", url.as_str()),
    ]);
    let run = create_key_vault_scope(&env, &as_application);
    let stderr = run.fails_with(1);
    assert!(stderr.contains("userAADToken"), "{stderr}");
    assert!(
        stderr.contains("nor a service principal's token: log in with `az login`"),
        "{stderr}"
    );
    assert_no_secret(&run, &[&user_token]);
}
