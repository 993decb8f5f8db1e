//! `databricks auth login`, `token`, `logout`, `switch`: the whole browser flow on loopback,
//! with a "browser" that is a shell script around curl (it fetches the authorize URL and follows
//! the emulator's redirect to the callback server), and the token storage shared with the Go
//! CLI. Headless Linux has no OS keyring, so the default storage falls back to the file here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use databricks_emulator::{Config, LoggedRequest};
use serde_json::Value;

use crate::harness::{BINARY, Run, TestEnv};

const USER: &str = "alice@example.com";
const OTHER_USER: &str = "bob@example.com";

/// The browser: `TEST_BROWSER` picks what it does with the URL it is given.
///   approve (default): GET it and follow the redirect to the callback (the emulator's
///     `--login-as` approves at once);
///   user:NAME: answer the emulator's login page as NAME; deny: press its Deny button;
///   forged-first: first call the callback with another state, then approve;
///   ignore: do nothing (the login then times out);
///   after-flag: approve once the file $HOME/flag exists.
/// The URL it got and the page the callback answered are kept in $HOME.
const BROWSER_SCRIPT: &str = r#"#!/bin/sh
url="$1"
printf '%s\n' "$url" > "$HOME/browser-url"
query="${url#*\?}"
endpoint="${url%%\?*}"
follow() { curl -sS -L -o "$HOME/callback-page" -w '%{http_code}' "$@" > "$HOME/callback-status"; }
case "${TEST_BROWSER:-approve}" in
  approve) follow "$url" ;;
  user:*) follow --data "$query&user=${TEST_BROWSER#user:}" "$endpoint" ;;
  deny) follow --data "$query&deny=1" "$endpoint" ;;
  forged-first)
    port=$(printf '%s' "$url" | sed -n 's/.*redirect_uri=http%3A%2F%2Flocalhost%3A\([0-9]*\).*/\1/p')
    curl -sS -o "$HOME/forged-page" -w '%{http_code}' \
      "http://127.0.0.1:$port/?code=forged&state=forged" > "$HOME/forged-status"
    follow "$url" ;;
  ignore) ;;
  after-flag)
    tries=0
    while [ ! -e "$HOME/flag" ] && [ $tries -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
    follow "$url" ;;
esac
"#;

/// Logins share the callback ports 8020-8040, and one test occupies 8020 on purpose: one login
/// at a time.
static CALLBACK_PORTS: Mutex<()> = Mutex::new(());

fn one_login_at_a_time() -> MutexGuard<'static, ()> {
    CALLBACK_PORTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn identity_provider(config: Config) -> TestEnv {
    let env = TestEnv::without_profile(
        config
            .with_user(USER, "alice-pat")
            .with_user(OTHER_USER, "bob-pat"),
    );
    let script = env.home().join("browser.sh");
    std::fs::write(&script, BROWSER_SCRIPT).expect("browser script written");
    make_executable(&script);
    env
}

fn approving() -> TestEnv {
    identity_provider(Config::default().with_login_as(USER))
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn with_browser(env: &TestEnv, args: &[&str], action: &str) -> Command {
    let mut command = env.command(args);
    command
        .env("BROWSER", env.home().join("browser.sh"))
        .env("TEST_BROWSER", action);
    command
}

fn login(env: &TestEnv, profile: &str, action: &str) -> Run {
    login_with(env, profile, action, &["--timeout", "30s"], &[])
}

/// `auth login --host URL --profile PROFILE` and `extra` arguments, with `vars` set and the
/// test browser doing `action`.
fn login_with(
    env: &TestEnv,
    profile: &str,
    action: &str,
    extra: &[&str],
    vars: &[(&str, &str)],
) -> Run {
    let url = env.url();
    let mut args = vec!["auth", "login", "--host", &url, "--profile", profile];
    args.extend_from_slice(extra);
    let mut command = with_browser(env, &args, action);
    command.envs(vars.iter().copied());
    env.run_command(command, b"")
}

fn token_cache_path(env: &TestEnv) -> PathBuf {
    env.home().join(".databricks").join("token-cache.json")
}

fn token_cache(env: &TestEnv) -> Value {
    let text = std::fs::read_to_string(token_cache_path(env)).expect("token cache written");
    serde_json::from_str(&text).expect("token cache is JSON")
}

fn home_file(env: &TestEnv, name: &str) -> String {
    std::fs::read_to_string(env.home().join(name)).unwrap_or_default()
}

/// What the browser wrote once its curl ended: the login need not wait for the browser, so
/// it may end first.
fn browser_file(env: &TestEnv, name: &str) -> String {
    for _ in 0..100 {
        let text = home_file(env, name);
        if !text.is_empty() {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the browser wrote no {name}");
}

fn token_json(run: &Run) -> Value {
    serde_json::from_str(&run.ok()).expect("auth token prints JSON")
}

fn access_token(env: &TestEnv, profile: &str) -> String {
    let run = env.run(&["auth", "token", "--profile", profile]);
    token_json(&run)["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}

fn token_requests(env: &TestEnv, grant_type: &str) -> Vec<LoggedRequest> {
    env.emulator
        .requests()
        .into_iter()
        .filter(|request| request.path == "/oidc/v1/token")
        .filter(|request| request.body["grant_type"] == grant_type)
        .collect()
}

fn redirect_port(env: &TestEnv) -> u16 {
    let url = home_file(env, "browser-url");
    let marker = "redirect_uri=http%3A%2F%2Flocalhost%3A";
    let start = url.find(marker).expect("a loopback redirect URI") + marker.len();
    url[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a port")
}

#[test]
fn login_runs_the_browser_flow_and_saves_profile_and_tokens() {
    let _ports = one_login_at_a_time();
    let env = approving();
    env.write_config("# team settings\n[DEFAULT]\n\n[other]\ncluster_id = abc\n");
    let run = login(&env, "dev", "approve");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout(), "");
    assert!(
        run.stderr.contains("Profile dev was successfully saved"),
        "{}",
        run.stderr
    );

    // The URL is printed (for SSH sessions) and is the one the browser got.
    let url = home_file(&env, "browser-url");
    assert!(
        run.stderr.contains(url.trim()),
        "URL printed: {}",
        run.stderr
    );
    assert!(url.contains("client_id=databricks-cli&code_challenge="));
    assert!(url.contains("code_challenge_method=S256"));
    assert!(url.contains("scope=offline_access+all-apis"));
    assert_eq!(browser_file(&env, "callback-status"), "200");
    let page = browser_file(&env, "callback-page");
    assert!(page.contains("Authenticated"), "{page}");

    // Nothing secret on the terminal or the page: the code went straight to the token endpoint.
    let exchange = token_requests(&env, "authorization_code");
    assert_eq!(exchange.len(), 1);
    assert_eq!(exchange[0].body["code"], "***");
    assert_eq!(
        exchange[0].body["redirect_uri"],
        format!("http://localhost:{}", redirect_port(&env))
    );
    assert!(!page.contains("code="), "{page}");
    assert!(!run.stderr.contains("code="), "{}", run.stderr);

    assert_eq!(
        env.read_config(),
        format!(
            "# team settings\n[DEFAULT]\n\n[other]\ncluster_id = abc\n\n[dev]\nhost = {}\n\
             auth_type = databricks-cli\n\n[__settings__]\ndefault_profile = dev\n\
             auth_storage = plaintext\n",
            env.url()
        )
    );
    let cache = token_cache(&env);
    assert_eq!(cache["version"], 1);
    assert_eq!(
        cache["tokens"]["dev"],
        cache["tokens"][env.url()],
        "host key mirrored"
    );
    assert!(cache["tokens"]["dev"]["refresh_token"].is_string());
    let token = access_token(&env, "dev");
    assert_eq!(cache["tokens"]["dev"]["access_token"], token.as_str());

    // The token works on the API, and secrets commands use the profile's stored token.
    let me = reqwest_get_me(&env, &token);
    assert_eq!(me["userName"], USER);
    env.run(&["secrets", "create-scope", "alices", "--profile", "dev"])
        .ok();
    let listed = env
        .run(&["secrets", "list-scopes", "--profile", "dev"])
        .ok();
    assert!(listed.contains("alices"), "{listed}");
    let calls = env.api_requests();
    assert!(
        calls.iter().all(|call| call.user.as_deref() == Some(USER)),
        "{calls:?}"
    );
}

fn reqwest_get_me(env: &TestEnv, token: &str) -> Value {
    let output = Command::new("curl")
        .args(["-sS", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{}/api/2.0/preview/scim/v2/Me", env.url()))
        .output()
        .expect("curl runs");
    serde_json::from_slice(&output.stdout).expect("SCIM Me answers JSON")
}

#[cfg(unix)]
#[test]
fn token_files_are_private_and_in_the_go_clis_exact_layout() {
    use std::os::unix::fs::PermissionsExt;
    let _ports = one_login_at_a_time();
    let env = approving();
    login(&env, "dev", "approve").ok();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&token_cache_path(&env)), 0o600);
    assert_eq!(mode(token_cache_path(&env).parent().unwrap()), 0o700);
    let text = std::fs::read_to_string(token_cache_path(&env)).unwrap();
    let entry = &token_cache(&env)["tokens"]["dev"];
    let field = |name: &str| entry[name].as_str().unwrap().to_string();
    let go_entry = format!(
        "{{\n      \"access_token\": \"{}\",\n      \"token_type\": \"Bearer\",\n      \
         \"refresh_token\": \"{}\",\n      \"expiry\": \"{}\",\n      \"expires_in\": 3600\n    }}",
        field("access_token"),
        field("refresh_token"),
        field("expiry")
    );
    let expected = format!(
        "{{\n  \"version\": 1,\n  \"tokens\": {{\n    \"dev\": {go_entry},\n    \"{}\": {go_entry}\n  }}\n}}",
        env.url()
    );
    assert_eq!(
        text, expected,
        "json.MarshalIndent layout, no trailing newline"
    );
}

#[test]
fn a_token_cache_written_by_the_go_cli_is_used() {
    let env = identity_provider(Config::default());
    env.write_config(&format!(
        "[go]\nhost = {}\nauth_type = databricks-cli\n",
        env.url()
    ));
    std::fs::create_dir_all(env.home().join(".databricks")).unwrap();
    // Exactly as Go writes it: local time with offset and nanoseconds, no trailing newline.
    std::fs::write(
        token_cache_path(&env),
        "{\n  \"version\": 1,\n  \"tokens\": {\n    \"go\": {\n      \"access_token\": \
         \"go-written-access-token\",\n      \"token_type\": \"Bearer\",\n      \"refresh_token\": \
         \"go-written-refresh-token\",\n      \"expiry\": \"2099-02-20T14:37:20.935183+01:00\"\n    }\n  }\n}",
    )
    .unwrap();
    let mut command = env.command(&["auth", "token", "--profile", "go"]);
    command.env("TZ", "Europe/Paris");
    let run = env.run_command(command, b"");
    let json = token_json(&run);
    assert_eq!(json["access_token"], "go-written-access-token");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(
        json["expiry"], "2099-02-20T14:37:20.935183+01:00",
        "local time with fractional seconds, as Go prints it"
    );
    assert!(
        !run.stdout().ends_with('\n'),
        "no trailing newline, as the Go CLI"
    );
    assert!(!run.stdout().contains("refresh"), "{}", run.stdout());
    let text = env.run(&["auth", "token", "go", "--output", "text"]).ok();
    assert_eq!(text, "go-written-access-token\n");
}

#[test]
fn auth_token_without_a_login_gives_the_message_sdks_match() {
    let env = identity_provider(Config::default());
    env.write_config(&format!(
        "[dev]\nhost = {}\nauth_type = databricks-cli\n",
        env.url()
    ));
    let run = env.run(&["auth", "token", "--profile", "dev"]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("databricks OAuth is not configured for this host"),
        "{stderr}"
    );
    assert!(
        stderr.contains("databricks auth login --profile dev"),
        "{stderr}"
    );
    let run = env.run(&["auth", "token", "--host", "https://unknown.example.com"]);
    assert!(
        run.fails_with(1)
            .contains("databricks OAuth is not configured for this host")
    );
}

#[test]
fn a_forged_callback_is_refused_without_ending_the_login() {
    let _ports = one_login_at_a_time();
    let env = approving();
    let run = login(&env, "dev", "forged-first");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(browser_file(&env, "forged-status"), "400");
    assert!(browser_file(&env, "forged-page").contains("state mismatch"));
    assert_eq!(browser_file(&env, "callback-status"), "200");
    assert_eq!(
        token_requests(&env, "authorization_code").len(),
        1,
        "the forged code was not used"
    );
}

#[test]
fn a_refusal_by_the_identity_provider_is_reported_and_nothing_saved() {
    let _ports = one_login_at_a_time();
    let env = identity_provider(Config::default());
    let run = login(&env, "dev", "deny");
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("authorize: access_denied: The user denied the request"),
        "{stderr}"
    );
    assert_eq!(browser_file(&env, "callback-status"), "400");
    assert!(browser_file(&env, "callback-page").contains("Access Denied"));
    assert!(!env.config_path().exists(), "no profile written");
    assert!(!token_cache_path(&env).exists());
}

#[test]
fn the_timeout_bounds_the_wait_for_the_browser() {
    let _ports = one_login_at_a_time();
    let env = approving();
    let started = std::time::Instant::now();
    let run = login_with(&env, "dev", "ignore", &["--timeout", "1500ms"], &[]);
    let stderr = run.fails_with(1);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(stderr.contains("did not complete within 1.5 s"), "{stderr}");
    assert!(stderr.contains("--timeout"), "{stderr}");
    assert!(!env.config_path().exists());
}

#[test]
fn a_busy_port_8020_moves_the_callback_to_8021() {
    let _ports = one_login_at_a_time();
    let env = approving();
    let busy = std::net::TcpListener::bind(("127.0.0.1", 8020)).expect("8020 free for the test");
    login(&env, "dev", "approve").ok();
    drop(busy);
    assert_eq!(redirect_port(&env), 8021);
}

/// Logged in as profile `dev` with tokens that live 4 seconds (so fresh for 2).
fn logged_in_with_short_lived_tokens() -> TestEnv {
    let env = identity_provider(
        Config::default()
            .with_login_as(USER)
            .with_token_ttl(Duration::from_secs(4)),
    );
    login(&env, "dev", "approve").ok();
    env
}

#[test]
fn an_expired_token_is_refreshed_and_stored_back() {
    let _ports = one_login_at_a_time();
    let env = logged_in_with_short_lived_tokens();
    let first = access_token(&env, "dev");
    assert!(
        token_requests(&env, "refresh_token").is_empty(),
        "fresh token reused"
    );
    std::thread::sleep(Duration::from_millis(4200));
    let second = access_token(&env, "dev");
    assert_ne!(first, second);
    assert_eq!(token_requests(&env, "refresh_token").len(), 1);
    let cache = token_cache(&env);
    assert_eq!(cache["tokens"]["dev"]["access_token"], second.as_str());
    assert_eq!(reqwest_get_me(&env, &second)["userName"], USER);
    // --force-refresh refreshes a fresh token too.
    let forced = token_json(&env.run(&["auth", "token", "--profile", "dev", "--force-refresh"]));
    assert_ne!(forced["access_token"], second.as_str());
    assert_eq!(token_requests(&env, "refresh_token").len(), 2);
}

#[test]
fn an_invalid_refresh_token_says_to_log_in_again() {
    let _ports = one_login_at_a_time();
    let env = approving();
    login(&env, "dev", "approve").ok();
    env.emulator.revoke_tokens(Some(USER));
    let run = env.run(&["auth", "token", "--profile", "dev", "--force-refresh"]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains(
            "A new access token could not be retrieved because the refresh token is invalid. \
             To reauthenticate, run the following command:\n  $ databricks auth login --profile dev"
        ),
        "{stderr}"
    );
    let refresh = &token_requests(&env, "refresh_token")[0];
    assert_eq!(refresh.body["refresh_token"], "***");
}

#[test]
fn concurrent_commands_refresh_once_and_leave_a_consistent_cache() {
    let _ports = one_login_at_a_time();
    let env = logged_in_with_short_lived_tokens();
    std::thread::sleep(Duration::from_millis(4200));
    let children: Vec<_> = (0..6)
        .map(|_| {
            env.command(&["auth", "token", "--profile", "dev", "-o", "text"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("auth token starts")
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().expect("auth token ends");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        })
        .collect();
    assert!(tokens.iter().all(|token| token == &tokens[0]), "{tokens:?}");
    assert_eq!(
        token_requests(&env, "refresh_token").len(),
        1,
        "one refresh for all"
    );
    let cache = token_cache(&env);
    assert_eq!(cache["tokens"]["dev"]["access_token"], tokens[0].trim());
    assert_eq!(cache["tokens"]["dev"], cache["tokens"][env.url()]);
}

#[test]
fn two_profiles_on_one_host_keep_their_own_tokens() {
    let _ports = one_login_at_a_time();
    let env = identity_provider(Config::default());
    login(&env, "alice", &format!("user:{USER}")).ok();
    login(&env, "bob", &format!("user:{OTHER_USER}")).ok();
    let alice = access_token(&env, "alice");
    let bob = access_token(&env, "bob");
    assert_eq!(reqwest_get_me(&env, &alice)["userName"], USER);
    assert_eq!(reqwest_get_me(&env, &bob)["userName"], OTHER_USER);
    // The first profile stays the default.
    assert!(env.read_config().contains("default_profile = alice\n"));

    // Logging out of one keeps the other and the host's entry, which the other shares.
    let run = env.run(&["auth", "logout", "--profile", "alice", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(
        "Logged out of profile \"alice\". Use --delete to also remove it from the config file."
    ));
    let cache = token_cache(&env);
    assert!(cache["tokens"].get("alice").is_none());
    assert!(cache["tokens"].get(env.url()).is_some());
    assert_eq!(access_token(&env, "bob"), bob);
    let run = env.run(&["auth", "logout", "alice", "--auto-approve"]);
    assert!(
        run.stderr
            .contains("No tokens to clear for profile \"alice\""),
        "{}",
        run.stderr
    );
}

#[test]
fn logout_asks_unless_approved_and_delete_removes_the_profile() {
    let _ports = one_login_at_a_time();
    let env = approving();
    login(&env, "dev", "approve").ok();
    let run = env.run(&["auth", "logout", "--profile", "dev"]);
    assert!(
        run.fails_with(2)
            .contains("please specify --auto-approve to skip confirmation in non-interactive mode")
    );
    let run = env.run(&["auth", "logout", "dev", "--delete", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Logged out of and deleted profile \"dev\".")
    );
    assert!(!env.read_config().contains("[dev]"));
    assert!(!env.read_config().contains("default_profile"));
    assert_eq!(token_cache(&env)["tokens"], serde_json::json!({}));
}

#[test]
fn switch_sets_the_default_profile_used_by_auth_token() {
    let env = identity_provider(Config::default());
    env.write_config(&format!(
        "[a]\nhost = {0}\nauth_type = databricks-cli\n\n[b]\nhost = {0}\n\
         auth_type = databricks-cli\n\n[__settings__]\ndefault_profile = a\n",
        env.url()
    ));
    let run = env.run(&["auth", "switch", "--profile", "b"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Default profile set to \"b\"."));
    assert!(env.read_config().contains("default_profile = b\n"));
    assert!(
        env.run(&["auth", "switch"])
            .fails_with(2)
            .contains("--profile")
    );
    assert!(
        env.run(&["auth", "switch", "--profile", "nope"])
            .fails_with(1)
            .contains("not found")
    );
    // Without a profile named, auth token uses the default one.
    let run = env.run(&["auth", "token"]);
    assert!(
        run.fails_with(1)
            .contains("databricks auth login --profile b"),
        "{}",
        run.stderr
    );
}

#[test]
fn configure_oauth_logs_in_the_default_profile() {
    let _ports = one_login_at_a_time();
    let env = approving();
    let url = env.url();
    let mut command = with_browser(&env, &["configure", "--oauth", "--host", &url], "approve");
    command.env("DATABRICKS_AUTH_STORAGE", "plaintext");
    let run = env.run_command(command, b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        env.read_config(),
        format!(
            "[DEFAULT]\nhost = {url}\nauth_type = databricks-cli\n\n[__settings__]\n\
             default_profile = DEFAULT\n"
        )
    );
    assert!(access_token(&env, "DEFAULT").starts_with("ey"));
}

#[test]
fn without_a_terminal_missing_host_or_profile_names_the_flag() {
    let env = approving();
    let run = env.run(&["auth", "login", "--profile", "dev"]);
    assert!(
        run.fails_with(2)
            .contains("please specify a host using --host")
    );
    let run = env.run(&["auth", "login", "--host", &env.url()]);
    assert!(
        run.fails_with(2)
            .contains("please specify a profile name using --profile")
    );
    let run = env.run_command(
        {
            let mut command =
                env.command(&["auth", "login", "--host", &env.url(), "--profile", "x"]);
            command.env("DATABRICKS_AUTH_STORAGE", "vault");
            command
        },
        b"",
    );
    assert!(run.fails_with(1).contains(
        "DATABRICKS_AUTH_STORAGE: unknown storage mode \"vault\" (want plaintext or secure)"
    ));
}

#[test]
fn at_a_terminal_login_asks_for_host_and_profile() {
    let _ports = one_login_at_a_time();
    let env = approving();
    let mut command = env.terminal_command(&format!("{BINARY} auth login --timeout 30s"));
    command
        .env("BROWSER", env.home().join("browser.sh"))
        .env("TEST_BROWSER", "approve");
    let typed = format!("{}\nterminal\n", env.url());
    let run = env.run_command(command, typed.as_bytes());
    let screen = run.stdout();
    assert_eq!(run.code, 0, "{screen}");
    assert!(screen.contains("Databricks host"), "{screen}");
    assert!(screen.contains("Databricks profile name"), "{screen}");
    assert!(
        screen.contains(home_file(&env, "browser-url").trim()),
        "URL shown: {screen}"
    );
    assert!(
        screen.contains("Profile terminal was successfully saved"),
        "{screen}"
    );
    assert!(env.read_config().contains("[terminal]\n"));
}

/// A Go CLI cache entry for profile `go` expiring in `seconds`, with a refresh token the
/// identity provider does not know.
fn go_cache_expiring_in(env: &TestEnv, seconds: i64) {
    env.write_config(&format!(
        "[go]\nhost = {}\nauth_type = databricks-cli\n",
        env.url()
    ));
    let expiry = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
    let cache = serde_json::json!({
        "version": 1,
        "tokens": {"go": {
            "access_token": "still-valid-access-token",
            "token_type": "Bearer",
            "refresh_token": "unknown-refresh-token",
            "expiry": expiry.to_string(),
        }}
    });
    std::fs::create_dir_all(env.home().join(".databricks")).unwrap();
    std::fs::write(token_cache_path(env), cache.to_string()).unwrap();
}

#[test]
fn a_failed_proactive_refresh_keeps_the_still_valid_token() {
    let env = identity_provider(Config::default());
    go_cache_expiring_in(&env, 120);
    let run = env.run(&["auth", "token", "--profile", "go", "--output", "text"]);
    assert_eq!(run.ok(), "still-valid-access-token\n");
    assert_eq!(
        token_requests(&env, "refresh_token").len(),
        1,
        "a refresh was tried"
    );
    // Forced, the same refresh is an error with the way out.
    let run = env.run(&["auth", "token", "--profile", "go", "--force-refresh"]);
    assert!(
        run.fails_with(1)
            .contains("run the following command:\n  $ databricks auth login --profile go"),
        "{}",
        run.stderr
    );
}

#[test]
fn debug_output_of_a_login_shows_no_code_verifier_or_token() {
    let _ports = one_login_at_a_time();
    let env = approving();
    let run = login_with(&env, "dev", "approve", &["--debug"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("code=***"), "{}", run.stderr);
    assert!(run.stderr.contains("code_verifier=***"), "{}", run.stderr);
    let entry = &token_cache(&env)["tokens"]["dev"];
    for secret in ["access_token", "refresh_token"] {
        let value = entry[secret].as_str().unwrap();
        assert!(
            !run.stderr.contains(value),
            "{secret} leaked: {}",
            run.stderr
        );
    }
}

#[test]
fn secure_storage_asked_for_without_a_keyring_is_an_error() {
    let _ports = one_login_at_a_time();
    let env = approving();
    let secure = [("DATABRICKS_AUTH_STORAGE", "secure")];
    let run = login_with(&env, "dev", "approve", &[], &secure);
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("secure storage was requested but the OS keyring is not reachable"),
        "{stderr}"
    );
    assert!(
        stderr.contains("DATABRICKS_AUTH_STORAGE=plaintext"),
        "{stderr}"
    );
    assert!(!env.config_path().exists());
    // Reading: asked for explicitly, an unreachable keyring is an error, not the file.
    go_cache_expiring_in(&env, 3600);
    let mut command = env.command(&["auth", "token", "--profile", "go"]);
    command.env("DATABRICKS_AUTH_STORAGE", "secure");
    let run = env.run_command(command, b"");
    assert!(
        run.fails_with(1).contains("OS keyring unreachable"),
        "{}",
        run.stderr
    );
    // By default, it is read through the file.
    assert_eq!(access_token(&env, "go"), "still-valid-access-token");
}

#[test]
fn scopes_are_asked_for_and_saved_and_a_conflicting_host_is_refused() {
    let _ports = one_login_at_a_time();
    let env = approving();
    let url = env.url();
    let args = [
        "auth",
        "login",
        &url,
        "--profile",
        "sql",
        "--scopes",
        "sql,jobs",
    ];
    let run = env.run_command(with_browser(&env, &args, "approve"), b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(home_file(&env, "browser-url").contains("&scope=offline_access+sql+jobs&"));
    assert!(
        env.read_config()
            .contains("scopes = sql,jobs\nauth_type = databricks-cli\n")
    );
    let run = env.run(&[
        "auth",
        "login",
        "--profile",
        "sql",
        "--host",
        "https://other.example.com",
    ]);
    assert!(
        run.fails_with(2).contains(&format!(
            "--profile \"sql\" has host \"{url}\", which conflicts with --host \
             \"https://other.example.com\". Use --profile only to select a profile"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn auth_token_finds_the_profile_of_a_host() {
    let env = identity_provider(Config::default());
    go_cache_expiring_in(&env, 3600);
    let url = env.url();
    assert_eq!(
        token_json(&env.run(&["auth", "token", "--host", &url]))["access_token"],
        "still-valid-access-token"
    );
    assert_eq!(
        token_json(&env.run(&["auth", "token", &url]))["access_token"],
        "still-valid-access-token"
    );
    let run = env.run(&["auth", "token", "go", "--profile", "go"]);
    assert!(
        run.fails_with(2)
            .contains("cannot be combined with --host or --profile")
    );
    std::fs::write(
        env.config_path(),
        format!("{}\n[again]\nhost = {url}\n", env.read_config()),
    )
    .unwrap();
    let run = env.run(&["auth", "token", "--host", &url]);
    assert!(
        run.fails_with(1)
            .contains(&format!("go and again match {url} in")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_connection_that_sends_nothing_does_not_hold_up_the_login() {
    let _ports = one_login_at_a_time();
    let env = approving();
    let url = env.url();
    let args = ["auth", "login", "--host", &url, "--profile", "dev"];
    let child = with_browser(&env, &args, "after-flag")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("login starts");
    // A browser's preconnect: open, then silent. The login's server is on 8020 (one at a time).
    let silent = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            std::net::TcpStream::connect(("127.0.0.1", 8020)).ok()
        })
        .expect("the callback server listens on 8020");
    std::fs::write(env.home().join("flag"), "").unwrap();
    let released = std::time::Instant::now();
    let output = child.wait_with_output().expect("login ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        released.elapsed() < Duration::from_secs(4),
        "the silent connection held the login up for {:?}",
        released.elapsed()
    );
    drop(silent);
}
