//! `auth describe`, `auth profiles` and `auth env` against the emulator, a revoked OAuth token
//! replaced without a failed command, the hint of a refused method, the insecure warning's
//! source, and no secret in anything `describe` or `profiles` print without `--sensitive`.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use databricks_emulator::{CI_REQUEST_TOKEN, Config, DEFAULT_ADMIN, Fault};
use serde_json::{Value, json};

use crate::harness::{Run, SP, SP_SECRET, TestEnv};

const GITHUB_URL: &str = "http://127.0.0.1:9/token-request";

/// The emulator with the service principal `SP` (a workspace admin) and a GitHub federation
/// policy for it, and no config file.
fn workspace() -> TestEnv {
    crate::auth::workspace(Config::default())
}

fn run(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut command = env.command(args);
    command.envs(vars.iter().copied());
    env.run_command(command, b"")
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.ok()).expect("JSON on stdout")
}

/// The M2M service principal from the environment, for a profile with only a host, and a
/// GitHub Actions variable the method does not read.
fn m2m_env(env: &TestEnv) -> [(&'static str, &'static str); 3] {
    env.write_config(&format!("[sp]\nhost = {}\n", env.url()));
    [
        ("DATABRICKS_CLIENT_ID", SP),
        ("DATABRICKS_CLIENT_SECRET", SP_SECRET),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", GITHUB_URL),
    ]
}

#[track_caller]
fn assert_no_secret(run: &Run, secrets: &[&str]) {
    for text in [run.stdout(), run.stderr.clone()] {
        for secret in secrets {
            assert!(!text.contains(secret), "`{secret}` leaked: {text}");
        }
        assert!(!text.contains("eyJ"), "a JWT leaked: {text}");
    }
}

#[test]
fn describe_shows_the_method_and_where_each_setting_came_from() {
    let env = workspace();
    let vars = m2m_env(&env);
    let path = env.config_path().display().to_string();
    let url = env.url();
    let run = run(&env, &["auth", "describe", "--profile", "sp"], &vars);
    assert_eq!(
        run.ok(),
        format!(
            "Host: {url}\n\
             User: {SP}\n\
             Authenticated with: oauth-m2m\n\
             -----\n\
             Current configuration:\n  \
             ✓ host: {url} (from {path} config file, profile sp)\n  \
             ✓ profile: sp (from --profile flag)\n  \
             ~ actions_id_token_request_url: {GITHUB_URL} (from ACTIONS_ID_TOKEN_REQUEST_URL \
             environment variable, not used for auth type oauth-m2m)\n  \
             ✓ client_id: {SP} (from DATABRICKS_CLIENT_ID environment variable)\n  \
             ✓ client_secret: ******** (from DATABRICKS_CLIENT_SECRET environment variable)\n  \
             ✓ auth_type: oauth-m2m\n"
        )
    );
    assert_eq!(run.stderr, "");
    let me: Vec<_> = env
        .api_requests()
        .into_iter()
        .filter(|request| request.path == "/api/2.0/preview/scim/v2/Me")
        .collect();
    assert_eq!(me.len(), 1);
    assert_eq!(me[0].user.as_deref(), Some(SP));

    let sensitive = self::run(
        &env,
        &["auth", "describe", "--profile", "sp", "--sensitive"],
        &vars,
    );
    assert!(
        sensitive
            .ok()
            .contains(&format!("✓ client_secret: {SP_SECRET} (from")),
        "{}",
        sensitive.stdout()
    );
}

#[test]
fn describe_of_a_pat_profile_from_the_default_section() {
    let env = TestEnv::new();
    let path = env.config_path().display().to_string();
    let url = env.url();
    assert_eq!(
        env.run(&["auth", "describe"]).ok(),
        format!(
            "Host: {url}\n\
             User: {DEFAULT_ADMIN}\n\
             Authenticated with: pat\n\
             -----\n\
             Current configuration:\n  \
             ✓ host: {url} (from {path} config file, profile DEFAULT)\n  \
             ✓ token: ******** (from {path} config file, profile DEFAULT)\n  \
             ✓ profile: DEFAULT (from {path} config file, profile DEFAULT)\n  \
             ✓ auth_type: pat\n"
        )
    );
}

#[test]
fn describe_as_json_gives_each_attribute_its_source() {
    let env = workspace();
    let vars = m2m_env(&env);
    let path = env.config_path().display().to_string();
    let url = env.url();
    let report = json_of(&run(
        &env,
        &["auth", "describe", "--profile", "sp", "-o", "json"],
        &vars,
    ));
    assert_eq!(
        report,
        json!({
            "status": "success",
            "username": SP,
            "details": {
                "auth_type": "oauth-m2m",
                "host": url,
                "configuration": {
                    "host": {
                        "value": url,
                        "source": {"type": "file", "name": path, "profile": "sp"},
                        "auth_type_mismatch": false
                    },
                    "profile": {
                        "value": "sp",
                        "source": {"type": "flag", "name": "--profile"},
                        "auth_type_mismatch": false
                    },
                    "actions_id_token_request_url": {
                        "value": GITHUB_URL,
                        "source": {"type": "environment", "name": "ACTIONS_ID_TOKEN_REQUEST_URL"},
                        "auth_type_mismatch": true
                    },
                    "client_id": {
                        "value": SP,
                        "source": {"type": "environment", "name": "DATABRICKS_CLIENT_ID"},
                        "auth_type_mismatch": false
                    },
                    "client_secret": {
                        "value": "********",
                        "source": {"type": "environment", "name": "DATABRICKS_CLIENT_SECRET"},
                        "auth_type_mismatch": false
                    },
                    "auth_type": {"value": "oauth-m2m", "auth_type_mismatch": false}
                }
            }
        })
    );
}

#[test]
fn describe_reports_a_failure_with_the_configuration_and_exit_code_0() {
    let env = TestEnv::without_profile(Config::default());
    let url = env.url();
    let vars = [
        ("DATABRICKS_HOST", url.as_str()),
        ("DATABRICKS_TOKEN", "dapi-wrong-token-31337"),
    ];
    let run = run(&env, &["auth", "describe"], &vars);
    let text = run.ok();
    assert!(text.starts_with("Unable to authenticate: "), "{text}");
    assert!(
        text.contains("Hint: the workspace did not accept the pat credentials"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "-----\nCurrent configuration:\n  \
             ✓ host: {url} (from DATABRICKS_HOST environment variable)\n  \
             ✓ token: ******** (from DATABRICKS_TOKEN environment variable)\n  \
             ✓ auth_type: pat\n"
        )),
        "{text}"
    );
    assert_no_secret(&run, &["dapi-wrong-token-31337"]);

    let report = json_of(&self::run(&env, &["auth", "describe", "-o", "json"], &vars));
    assert_eq!(report["status"], "error");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .starts_with("UNAUTHENTICATED: "),
        "{report}"
    );
    assert_eq!(report["details"]["auth_type"], "pat");
    assert_eq!(report["details"]["host"], url.as_str());
    assert_eq!(
        report["details"]["configuration"]["token"]["value"],
        "********"
    );

    // A forced method that is not configured names what it lacks; the rest is the same.
    let forced = self::run(
        &env,
        &["auth", "describe"],
        &[
            ("DATABRICKS_HOST", url.as_str()),
            ("DATABRICKS_AUTH_TYPE", "oauth-m2m"),
        ],
    );
    let text = forced.ok();
    assert!(text.starts_with("Unable to authenticate: "), "{text}");
    assert!(text.contains("oauth-m2m"), "{text}");
    assert!(
        text.contains("✓ auth_type: oauth-m2m (from DATABRICKS_AUTH_TYPE environment variable)"),
        "{text}"
    );
}

#[test]
fn describe_of_a_login_profile_shows_the_token_storage() {
    let env = TestEnv::without_profile(Config::default());
    env.write_config(&format!(
        "[me]\nhost = {}\nauth_type = databricks-cli\n",
        env.url()
    ));
    let run = run(
        &env,
        &["auth", "describe", "--profile", "me"],
        &[("DATABRICKS_AUTH_STORAGE", "plaintext")],
    );
    let text = run.ok();
    assert!(text.starts_with("Unable to authenticate: "), "{text}");
    assert!(text.contains("databricks auth login"), "{text}");
    assert!(
        text.contains(
            "Token storage: plaintext, ~/.databricks/token-cache.json (from \
             DATABRICKS_AUTH_STORAGE environment variable)\n-----\n"
        ),
        "{text}"
    );
}

#[test]
fn describe_shows_no_secret_of_any_method_without_sensitive() {
    let env = workspace();
    let url = env.url();
    let admin = env.emulator.admin_token();
    let github_url = format!("{url}/github-actions/idtoken?api-version=2.0");
    env.write_config(&format!(
        "[pat]\nhost = {url}\ntoken = {admin}\n\n\
         [basic]\nhost = {url}\nusername = {DEFAULT_ADMIN}\npassword = {admin}\n\n\
         [m2m]\nhost = {url}\nclient_id = {SP}\nclient_secret = {SP_SECRET}\n\n\
         [github]\nhost = {url}\nclient_id = {SP}\nauth_type = github-oidc\n\n\
         [azure]\nhost = {url}\nazure_client_id = {SP}\nazure_tenant_id = t\n"
    ));
    let github_vars = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", github_url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", CI_REQUEST_TOKEN),
    ];
    let azure_vars = [("ARM_CLIENT_SECRET", "azure-secret-0342")];
    let vars_of = |profile| match profile {
        "github" => &github_vars[..],
        "azure" => &azure_vars[..],
        _ => &[],
    };
    let secrets = [
        admin.as_str(),
        SP_SECRET,
        CI_REQUEST_TOKEN,
        "azure-secret-0342",
    ];
    for profile in ["pat", "basic", "m2m", "github", "azure"] {
        for output in ["text", "json"] {
            let args = ["auth", "describe", "--profile", profile, "-o", output];
            let shown = run(&env, &args, vars_of(profile));
            shown.ok();
            assert_no_secret(&shown, &secrets);
            let mut sensitive = args.to_vec();
            sensitive.push("--sensitive");
            let revealed = run(&env, &sensitive, vars_of(profile)).ok();
            assert!(
                secrets.iter().any(|secret| revealed.contains(secret)),
                "--sensitive shows the secret of {profile}: {revealed}"
            );
        }
    }
    // Without the CI's variables, the GitHub profile cannot get a token.
    let listed = env.run(&["auth", "profiles", "-o", "json"]);
    assert_no_secret(&listed, &secrets);
    let valid: Vec<(String, bool)> = json_of(&listed)["profiles"]
        .as_array()
        .expect("profiles")
        .iter()
        .map(|profile| {
            let name = profile["name"].as_str().unwrap_or_default().to_string();
            (name, profile["valid"].as_bool().unwrap_or_default())
        })
        .collect();
    assert_eq!(
        valid,
        [
            ("pat".to_string(), true),
            ("basic".to_string(), true),
            ("m2m".to_string(), true),
            ("github".to_string(), false),
            ("azure".to_string(), false),
        ]
    );
}

/// A port that accepts connections and never answers.
fn silent_server() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    (listener, url)
}

fn profiles_file(env: &TestEnv, silent: &str) -> String {
    let url = env.url();
    let admin = env.emulator.admin_token();
    let text = format!(
        "[DEFAULT]\nhost = {url}\ntoken = {admin}\n\n\
         [sp]\nhost = {url}\nclient_id = {SP}\nclient_secret = {SP_SECRET}\n\n\
         [stale]\nhost = {url}\ntoken = dapi-stale-9911\n\n\
         [hung]\nhost = {silent}\ntoken = dapi-hung-5150\n\n\
         [hung-too]\nhost = {silent}\ntoken = dapi-hung-5150\n\n\
         [account]\naccount_id = 0d26f0a1\n\n\
         [no-host]\ncluster_id = 1234\n\n\
         [__settings__]\ndefault_profile = sp\n"
    );
    env.write_config(&text);
    url
}

#[test]
fn profiles_are_checked_concurrently_within_their_budget() {
    let env = workspace();
    let (_listener, silent) = silent_server();
    let url = profiles_file(&env, &silent);
    let started = Instant::now();
    let run = env.run(&["auth", "profiles"]);
    let elapsed = started.elapsed();
    let host_width = silent.len().max(url.len());
    let row = |name: &str, host: &str, valid: &str| {
        format!("{name:<12}  {host:<host_width$}  {valid}")
            .trim_end()
            .to_string()
            + "\n"
    };
    let expected: String = [
        row("Name", "Host", "Valid"),
        row("DEFAULT", &url, "YES"),
        row("sp (Default)", &url, "YES"),
        row("stale", &url, "NO"),
        row("hung", &silent, "NO"),
        row("hung-too", &silent, "NO"),
        row("account", "0d26f0a1", "NO"),
    ]
    .concat();
    assert_eq!(run.ok(), expected);
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_secs(10),
        "each silent host gets its 5 s, no more, at the same time: {elapsed:?}"
    );
    assert_no_secret(&run, &[SP_SECRET, "dapi-stale-9911", "dapi-hung-5150"]);
}

#[test]
fn profiles_as_json_and_without_validation() {
    let env = workspace();
    let (_listener, silent) = silent_server();
    let url = profiles_file(&env, &silent);
    let started = Instant::now();
    let listing = json_of(&env.run(&["auth", "profiles", "--skip-validate", "-o", "json"]));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(env.emulator.requests().is_empty(), "nothing is checked");
    assert_eq!(
        listing,
        json!({"profiles": [
            {"name": "DEFAULT", "host": url, "cloud": "aws", "auth_type": "", "valid": false},
            {"name": "sp", "host": url, "cloud": "aws", "auth_type": "", "valid": false,
             "default": true},
            {"name": "stale", "host": url, "cloud": "aws", "auth_type": "", "valid": false},
            {"name": "hung", "host": silent, "cloud": "aws", "auth_type": "", "valid": false},
            {"name": "hung-too", "host": silent, "cloud": "aws", "auth_type": "", "valid": false},
            {"name": "account", "account_id": "0d26f0a1", "cloud": "", "auth_type": "",
             "valid": false},
        ]})
    );
    let text = env.run(&["auth", "profiles", "--skip-validate"]).ok();
    assert!(text.starts_with("Name "), "{text}");
    assert!(!text.contains("YES") && !text.contains("NO"), "{text}");

    drop(_listener);
    env.write_config(&format!(
        "[DEFAULT]\nhost = {url}\ntoken = {}\n\n[sp]\nhost = {url}\nclient_id = {SP}\n\
         client_secret = {SP_SECRET}\n",
        env.emulator.admin_token()
    ));
    let run = env.run(&["auth", "profiles", "-o", "json"]);
    let listing = json_of(&run);
    assert_eq!(
        listing["profiles"],
        json!([
            {"name": "DEFAULT", "host": url, "cloud": "aws", "auth_type": "pat", "valid": true},
            {"name": "sp", "host": url, "cloud": "aws", "auth_type": "oauth-m2m", "valid": true},
        ])
    );
    assert_no_secret(&run, &[SP_SECRET]);
}

#[test]
fn env_prints_the_variables_of_a_profile_with_a_deprecation_warning() {
    let env = workspace();
    let url = env.url();
    let admin = env.emulator.admin_token();
    env.write_config(&format!(
        "[DEFAULT]\nhost = {url}\ntoken = {admin}\n\n\
         [sp]\nhost = {url}/\nclient_id = {SP}\nclient_secret = {SP_SECRET}\n"
    ));
    let run = env.run(&["auth", "env"]);
    assert_eq!(
        run.stderr,
        "Warning: 'databricks auth env' is deprecated and will be removed in a future release.\n"
    );
    assert_eq!(
        json_of(&run),
        json!({"env": {
            "DATABRICKS_HOST": url,
            "DATABRICKS_TOKEN": admin,
            "DATABRICKS_CONFIG_PROFILE": "DEFAULT",
            "DATABRICKS_AUTH_TYPE": "pat",
        }})
    );
    let sp = json_of(&env.run(&["auth", "env", "--profile", "sp"]));
    assert_eq!(sp["env"]["DATABRICKS_CLIENT_SECRET"], SP_SECRET);
    assert_eq!(sp["env"]["DATABRICKS_AUTH_TYPE"], "oauth-m2m");

    env.write_config(&format!(
        "[DEFAULT]\nhost = https://elsewhere.example.com\ntoken = t\n\n\
         [sp]\nhost = {url}/\nclient_id = {SP}\nclient_secret = {SP_SECRET}\n"
    ));
    let by_host = json_of(&env.run(&["auth", "env", "--host", &url]));
    assert_eq!(by_host["env"]["DATABRICKS_CONFIG_PROFILE"], "sp");
    let missing = env.run(&["auth", "env", "--host", "https://nowhere.example.com"]);
    assert!(
        missing.fails_with(1).contains("no profile in"),
        "{}",
        missing.stderr
    );
}

/// The M2M service principal, entirely from the environment.
fn service_principal_in_env(url: &str) -> [(&'static str, &str); 3] {
    [
        ("DATABRICKS_HOST", url),
        ("DATABRICKS_CLIENT_ID", SP),
        ("DATABRICKS_CLIENT_SECRET", SP_SECRET),
    ]
}

/// `DELETE /__emulator/tokens`: every issued access token is refused from now on.
fn revoke_all_tokens(env: &TestEnv) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .delete(format!("{}/__emulator/tokens", env.url()))
            .bearer_auth(env.emulator.admin_token())
            .send()
            .await
            .expect("the emulator answers")
            .status()
    });
    assert!(status.is_success(), "{status}");
}

#[test]
fn a_revoked_oauth_token_is_replaced_without_a_failed_command() {
    let env = workspace();
    let url = env.url();
    let vars = service_principal_in_env(&url);
    let list = || run(&env, &["secrets", "list-scopes"], &vars);
    list().ok();
    revoke_all_tokens(&env);
    env.emulator.clear_requests();

    let run = list();
    run.ok();
    assert_eq!(run.stderr, "");
    let answers: Vec<(String, Option<u16>)> = env
        .emulator
        .requests()
        .into_iter()
        .map(|request| (request.path, request.status))
        .collect();
    let list_path = "/api/2.0/secrets/scopes/list".to_string();
    assert_eq!(
        answers,
        [
            (list_path.clone(), Some(401)),
            ("/oidc/v1/token".to_string(), Some(200)),
            (list_path, Some(200)),
        ]
    );
}

#[test]
fn a_refused_oauth_token_s_hint_names_the_method_and_its_settings() {
    let env = workspace();
    let url = env.url();
    let vars = service_principal_in_env(&url);
    env.emulator.inject_fault(
        Fault::status(401)
            .with_error("UNAUTHENTICATED", "Invalid access token.")
            .with_path("/api/2.0/secrets/scopes/list")
            .with_count(2),
    );
    let run = run(&env, &["secrets", "list-scopes"], &vars);
    let stderr = run.fails_with(1);
    assert!(
        stderr.ends_with(
            "Hint: the workspace did not accept the oauth-m2m credentials; check \
             DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (the service principal's OAuth \
             secret may have been deleted or expired: create a new one for it in the account \
             console)\n"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("configure --token"), "{stderr}");
    assert_no_secret(&run, &[SP_SECRET]);
}

#[test]
fn the_insecure_warning_names_where_insecure_is_set_not_where_the_host_is() {
    let env = TestEnv::without_profile(Config::default());
    let url = env.url();
    env.write_config(&format!(
        "[lab]\ntoken = {}\ninsecure = true\n",
        env.emulator.admin_token()
    ));
    let run = run(
        &env,
        &["secrets", "list-scopes", "--profile", "lab"],
        &[("DATABRICKS_HOST", url.as_str())],
    );
    run.ok();
    assert_eq!(
        run.stderr,
        format!(
            "Warning: TLS certificates of {url} are not verified (`insecure` in profile `lab` \
             in {}); remove that setting to verify them\n",
            env.config_path().display()
        )
    );
}
