//! `databricks auth login` and `databricks configure --oauth`: the browser login (PKCE), then
//! the tokens into the token storage and the profile into the config file.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;

use super::{
    DATABRICKS_CLI, SETTINGS, ask, file_store, host_key, is_interactive, load_config,
    looks_like_host, parse_duration, profiles_with_host, runtime, storage_variable, token_http,
    update_config,
};
use crate::auth::{
    self, AuthError, Browser, CallbackServer, Discovery, KeyringProblem, KeyringTokenStore, Pkce,
    STORAGE_SETTING, StorageMode, StoredToken, Token, TokenStore,
};
use crate::cli::{Context, usage_error};
use crate::config::{self, ConfigError, ProfileFile};

/// `--timeout` when not given: the Go CLI's hour.
const DEFAULT_TIMEOUT: &str = "1h";

/// Keys of every other authentication method, removed from the profile a login writes (the Go
/// CLI's auth-group attributes).
const OTHER_AUTH_KEYS: [&str; 17] = [
    "token",
    "username",
    "password",
    "client_id",
    "client_secret",
    "azure_workspace_resource_id",
    "azure_use_msi",
    "azure_client_secret",
    "azure_client_id",
    "azure_tenant_id",
    "azure_login_app_id",
    "google_service_account",
    "google_credentials",
    "metadata_service_url",
    "databricks_id_token_filepath",
    "oidc_token_env",
    "experimental_is_unified_host",
];

#[derive(Args, Debug)]
pub struct Login {
    /// The profile to save (or a workspace URL, as --host)
    #[arg(value_name = "PROFILE", id = "profile_argument")]
    profile_argument: Option<String>,

    /// Workspace URL, such as https://adb-1234567890123456.7.azuredatabricks.net
    #[arg(long, value_name = "URL")]
    host: Option<String>,

    /// How long to wait for the login in the browser, such as 90s, 5m or 1h
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TIMEOUT, value_parser = parse_duration)]
    timeout: Duration,

    /// OAuth scopes to ask for, comma-separated (default: all-apis)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    scopes: Vec<String>,
}

impl Login {
    pub fn run(self, context: &Context) -> Result<()> {
        let file = load_config()?;
        let (positional_profile, positional_host) = match self.profile_argument {
            Some(argument) if looks_like_host(&file, &argument) => (None, Some(argument)),
            other => (other, None),
        };
        let profile = one_profile(positional_profile, context.profile().map(str::to_owned))?;
        let host = one_host(positional_host, self.host)?;
        let scopes: Vec<String> = self
            .scopes
            .iter()
            .map(|scope| scope.trim().to_string())
            .filter(|scope| !scope.is_empty())
            .collect();
        let request = LoginRequest::complete(&file, profile, host, scopes)?;
        log_in(&request, self.timeout, context.debug())
    }
}

/// `databricks configure --oauth [--host URL]` for the global `--profile` (else `DEFAULT`):
/// the legacy CLI's way to the same login, with the default timeout.
pub fn configure_oauth(profile: Option<&str>, host: Option<&str>, debug: bool) -> Result<()> {
    let file = load_config()?;
    let profile = profile.unwrap_or("DEFAULT").to_string();
    let request = LoginRequest::complete(&file, Some(profile), host.map(str::to_string), vec![])?;
    let timeout = parse_duration(DEFAULT_TIMEOUT).map_err(anyhow::Error::msg)?;
    log_in(&request, timeout, debug)
}

fn one_profile(positional: Option<String>, option: Option<String>) -> Result<Option<String>> {
    match (positional, option) {
        (Some(a), Some(b)) if a != b => Err(usage_error(format!(
            "profile {a:?} given as argument and {b:?} with --profile; give one"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

fn one_host(positional: Option<String>, option: Option<String>) -> Result<Option<String>> {
    match (positional, option) {
        (Some(a), Some(b)) if a != b => Err(usage_error(format!(
            "host {a:?} given as argument and {b:?} with --host; give one"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

/// Everything a login needs, with the host and profile asked for when missing.
struct LoginRequest {
    profile: String,
    host: String,
    /// As typed with `--scopes`, else the profile's `scopes`; empty = the default.
    scopes: Vec<String>,
    scopes_given: bool,
}

impl LoginRequest {
    fn complete(
        file: &ProfileFile,
        profile: Option<String>,
        host: Option<String>,
        scopes: Vec<String>,
    ) -> Result<LoginRequest> {
        let profile_host = profile
            .as_deref()
            .and_then(|name| file.get(name, "host"))
            .filter(|host| !host.is_empty());
        let host = match (host, &profile_host) {
            (Some(given), Some(saved)) => {
                let (given_normal, saved_normal) = (
                    config::normalize_host(&given)?,
                    config::normalize_host(saved)?,
                );
                if given_normal != saved_normal {
                    bail!(usage_error(format!(
                        "--profile \"{}\" has host \"{saved}\", which conflicts with --host \
                         \"{given}\". Use --profile only to select a profile",
                        profile.as_deref().unwrap_or_default()
                    )));
                }
                given_normal
            }
            (Some(given), None) => config::normalize_host(&given)?,
            (None, Some(saved)) => config::normalize_host(saved)?,
            (None, None) if is_interactive() => config::normalize_host(&ask(
                "Databricks host (Example: https://<databricks-instance>.cloud.databricks.com)",
                None,
            )?)?,
            (None, None) => bail!(usage_error(
                "the command is being run in a non-interactive environment, please specify a \
                 host using --host"
            )),
        };
        crate::cli::warn_if_plain_http(&host);
        let profile = match profile {
            Some(profile) => profile,
            None if is_interactive() => {
                ask("Databricks profile name", Some(&suggested_profile(&host)))?
            }
            None => bail!(usage_error(
                "the command is being run in a non-interactive environment, please specify a \
                 profile name using --profile"
            )),
        };
        if profile == SETTINGS {
            bail!(usage_error(format!(
                "{SETTINGS} is a reserved section name and cannot be used as a profile"
            )));
        }
        let scopes_given = !scopes.is_empty();
        let scopes = if scopes_given {
            scopes
        } else {
            file.get(&profile, "scopes")
                .map(|list| {
                    list.split(',')
                        .map(|scope| scope.trim().to_string())
                        .filter(|scope| !scope.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(LoginRequest {
            profile,
            host,
            scopes,
            scopes_given,
        })
    }
}

/// The first DNS label of the host (`adb-123` of `https://adb-123.4.azuredatabricks.net`), as
/// the Go CLI suggests it.
fn suggested_profile(host: &str) -> String {
    let name = host
        .split_once("://")
        .map_or(host, |(_, rest)| rest)
        .split(['.', ':'])
        .next()
        .unwrap_or_default();
    if name.is_empty() || name.chars().all(|c| c.is_ascii_digit()) {
        "DEFAULT".to_string()
    } else {
        name.to_string()
    }
}

fn log_in(request: &LoginRequest, timeout: Duration, debug: bool) -> Result<()> {
    let file = load_config()?;
    let storage = choose_storage(&file)?;
    let token = runtime()?
        .block_on(async {
            tokio::time::timeout(timeout, obtain_token(request, debug))
                .await
                .unwrap_or_else(|_| Err(timed_out(timeout)))
        })
        .map_err(anyhow::Error::new)?;
    store_tokens(&storage, request, token)?;
    save_profile(request, &storage)?;
    eprintln!("Profile {} was successfully saved", request.profile);
    Ok(())
}

fn timed_out(timeout: Duration) -> AuthError {
    AuthError::Failed(format!(
        "the login did not complete within {}: no answer from the browser reached this \
         command; run `databricks auth login` again (give more time with --timeout)",
        describe_duration(timeout)
    ))
}

fn describe_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 60.0 && seconds % 60.0 == 0.0 {
        format!("{} min", seconds / 60.0)
    } else {
        format!("{seconds} s")
    }
}

/// Discovery, the callback server, the browser, the code exchange.
async fn obtain_token(request: &LoginRequest, debug: bool) -> Result<Token, AuthError> {
    let http = token_http(&request.host, debug)
        .map_err(|error| AuthError::Failed(format!("{error:#}")))?;
    let discovery = Discovery::new(&request.host, None, http.clone());
    let endpoints = discovery.endpoints().await?;
    if endpoints.authorization_endpoint.is_empty() {
        return Err(AuthError::Failed(format!(
            "the OAuth server of {} names no authorization endpoint, so a browser login is not \
             possible there; check the host",
            request.host
        )));
    }
    let server = CallbackServer::bind().await?;
    let pkce = Pkce::generate()?;
    let state = auth::random_state()?;
    let redirect_uri = server.redirect_uri();
    let url = auth::authorization_url(
        &endpoints.authorization_endpoint,
        &redirect_uri,
        &pkce,
        &state,
        &request.scopes,
    );
    open_browser(url);
    let code = server.wait_for_code(&state, &request.host).await?;
    auth::exchange_code(
        &http,
        &endpoints.token_endpoint,
        &code,
        &pkce,
        &redirect_uri,
    )
    .await
}

/// Prints the URL (always: the browser may be on another machine) and opens it as `BROWSER`
/// says, without waiting: the callback may arrive while the opener still runs.
fn open_browser(url: String) {
    let browser = Browser::from_variable(std::env::var("BROWSER").ok().as_deref());
    if browser == Browser::None {
        eprintln!("Please complete authentication by opening this link in your browser:\n{url}");
        return;
    }
    eprintln!(
        "Opening the login page in your browser. If it does not open, open this link:\n{url}"
    );
    tokio::spawn(async move {
        if let Err(problem) = browser.open(&url).await {
            eprintln!(
                "The browser could not be opened ({problem}).\nPlease continue the \
                 authentication process in your browser:\n{url}"
            );
        }
    });
}

/// Where this login stores its tokens, and the `auth_storage` setting to persist (the Go CLI
/// persists the outcome of the default choice).
struct Storage {
    store: Box<dyn TokenStore>,
    mode: StorageMode,
    persist: Option<StorageMode>,
}

fn choose_storage(file: &ProfileFile) -> Result<Storage> {
    let choice = auth::storage_choice(file.path(), storage_variable().as_deref())?;
    let file_store = file_store()?;
    let plaintext = |persist| Storage {
        store: Box::new(file_store.clone()),
        mode: StorageMode::Plaintext,
        persist,
    };
    if choice.mode == StorageMode::Plaintext {
        return Ok(plaintext(None));
    }
    let keyring = |persist| Storage {
        store: Box::new(KeyringTokenStore::new(Arc::new(file_store.clone()), false)),
        mode: StorageMode::Secure,
        persist,
    };
    let default_secure = (!choice.explicit).then_some(StorageMode::Secure);
    match auth::probe_keyring() {
        Ok(()) => Ok(keyring(default_secure)),
        // Perhaps waiting for the user to unlock it: the Go CLI stays with the keyring.
        Err(KeyringProblem::TimedOut) => Ok(keyring(default_secure)),
        Err(KeyringProblem::Unreachable(detail)) if choice.explicit => bail!(
            "secure storage was requested but the OS keyring is not reachable: {detail}; set \
             {}=plaintext to store tokens in ~/.databricks/token-cache.json",
            auth::STORAGE_VARIABLE
        ),
        Err(KeyringProblem::Unreachable(_)) => Ok(plaintext(Some(StorageMode::Plaintext))),
    }
}

/// Under the profile's key; in the file also under the host's, for older SDKs (the Go CLI's
/// dual write).
fn store_tokens(storage: &Storage, request: &LoginRequest, token: Token) -> Result<()> {
    let stored = StoredToken {
        token,
        token_endpoint: None,
    };
    let mut entries = vec![(request.profile.clone(), stored.clone())];
    if storage.mode == StorageMode::Plaintext {
        entries.push((host_key(&request.host), stored));
    }
    let lock = storage.store.lock()?;
    storage
        .store
        .save(&lock, &entries)
        .context("the login succeeded but its tokens could not be stored")
}

/// `host`, `scopes` (when given) and `auth_type = databricks-cli`, the profile's other
/// authentication keys removed; `default_profile` when no other profile has a host.
fn save_profile(request: &LoginRequest, storage: &Storage) -> Result<()> {
    update_config(|file| write_profile(file, request, storage.persist))
}

fn write_profile(
    file: &mut ProfileFile,
    request: &LoginRequest,
    persist: Option<StorageMode>,
) -> Result<(), ConfigError> {
    let first_with_host = file
        .profile_names()
        .iter()
        .filter(|name| name.as_str() != SETTINGS && **name != request.profile)
        .all(|name| file.get(name, "host").is_none_or(|host| host.is_empty()));
    let profile = &request.profile;
    for key in OTHER_AUTH_KEYS {
        file.remove(profile, key);
    }
    file.set(profile, "host", &request.host)?;
    if request.scopes_given {
        file.set(profile, "scopes", &request.scopes.join(","))?;
    }
    file.set(profile, "auth_type", DATABRICKS_CLI)?;
    if first_with_host && file.get(SETTINGS, "default_profile").is_none() {
        file.set(SETTINGS, "default_profile", profile)?;
    }
    if let Some(mode) = persist {
        file.set(SETTINGS, STORAGE_SETTING, mode.as_str())?;
    }
    Ok(())
}

/// Profiles sharing `host` with `profile`, for logout's host key.
pub(super) fn others_on_host(file: &ProfileFile, profile: &str, host: &str) -> Vec<String> {
    profiles_with_host(file, host)
        .into_iter()
        .filter(|name| name != profile && super::uses_databricks_cli(file, name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(text: &str, request: &LoginRequest) -> String {
        let mut file =
            ProfileFile::from_bytes(std::path::Path::new("cfg"), text.as_bytes()).unwrap();
        write_profile(&mut file, request, None).unwrap();
        String::from_utf8(file.to_bytes()).unwrap()
    }

    fn request(profile: &str, scopes: &[&str]) -> LoginRequest {
        LoginRequest {
            profile: profile.into(),
            host: "https://h.example.com".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            scopes_given: !scopes.is_empty(),
        }
    }

    #[test]
    fn the_first_profile_with_a_host_becomes_the_default() {
        assert_eq!(
            written("", &request("dev", &["sql", "jobs"])),
            "[dev]\nhost = https://h.example.com\nscopes = sql,jobs\nauth_type = databricks-cli\n\
             \n[__settings__]\ndefault_profile = dev\n"
        );
    }

    #[test]
    fn other_auth_keys_go_and_everything_else_stays() {
        let text = "# mine\n[prod]\nhost = https://p\ntoken = dapi1\n\n[dev]\nhost = https://old\n\
                    token = dapi2\ncluster_id = c1\nclient_secret = s\n; note\n";
        assert_eq!(
            written(text, &request("dev", &[])),
            "# mine\n[prod]\nhost = https://p\ntoken = dapi1\n\n[dev]\nhost = https://h.example.com\n\
             cluster_id = c1\nauth_type = databricks-cli\n; note\n"
        );
    }

    #[test]
    fn the_storage_choice_is_recorded_and_an_existing_default_kept() {
        let mut file = ProfileFile::from_bytes(
            std::path::Path::new("cfg"),
            b"[__settings__]\ndefault_profile = old\n",
        )
        .unwrap();
        write_profile(
            &mut file,
            &request("dev", &[]),
            Some(StorageMode::Plaintext),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(file.to_bytes()).unwrap(),
            "[__settings__]\ndefault_profile = old\nauth_storage = plaintext\n\n[dev]\n\
             host = https://h.example.com\nauth_type = databricks-cli\n"
        );
    }

    #[test]
    fn profile_names_are_suggested_from_the_host() {
        assert_eq!(
            suggested_profile("https://adb-12.3.azuredatabricks.net"),
            "adb-12"
        );
        assert_eq!(suggested_profile("http://127.0.0.1:8080"), "DEFAULT");
        assert_eq!(suggested_profile("http://localhost:8080"), "localhost");
    }
}
