//! `databricks auth ...`: log in as a person (U2M), print the current token for SDKs and tools,
//! log out, switch the default profile, and show what authenticates (describe, profiles, env). Tokens live in the storage the Go CLI shares (the OS
//! keyring, or `~/.databricks/token-cache.json`).

mod describe;
mod env;
mod login;
mod logout;
mod profiles;
mod switch;
mod token;

use std::io::{self, BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;

use super::Context;
use crate::api;
use crate::auth::{
    self, DebugLog, FileTokenStore, RetryRules, STORAGE_VARIABLE, TokenHttp, TokenStore,
};
use crate::config::{self, ConfigError, ProfileFile};

pub use login::configure_oauth;

/// The `[__settings__]` section of the config file, as the Go CLI names it.
const SETTINGS: &str = "__settings__";

/// The `auth_type` of profiles whose tokens `auth login` stored.
const DATABRICKS_CLI: &str = "databricks-cli";

/// How long one token endpoint request may take (the Go CLI's 30 s).
const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Log in to a workspace in the browser (OAuth) and save the profile
    Login(login::Login),
    /// Print the OAuth access token of a profile or host, refreshed when needed
    Token(token::TokenCommand),
    /// Forget the tokens of a profile (and with --delete the profile itself)
    Logout(logout::Logout),
    /// Set the profile commands use when none is named
    Switch(switch::Switch),
    /// Show who the configuration authenticates as, with which method, and where every
    /// setting came from
    Describe(describe::Describe),
    /// List the profiles of the config file and check that their credentials work
    Profiles(profiles::Profiles),
    /// Print the environment variables equivalent to a profile (deprecated)
    #[command(hide = true)]
    Env(env::Env),
}

impl AuthCommand {
    pub fn run(self, context: &Context) -> Result<()> {
        match self {
            AuthCommand::Login(command) => command.run(context),
            AuthCommand::Token(command) => command.run(context),
            AuthCommand::Logout(command) => command.run(context),
            AuthCommand::Switch(command) => command.run(context),
            AuthCommand::Describe(command) => command.run(context),
            AuthCommand::Profiles(command) => command.run(context),
            AuthCommand::Env(command) => command.run(context),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The client for the identity provider's endpoints of `host` (trusting the extra CA
/// certificates the environment names, as API requests do); `--debug` lines go to stderr.
fn token_http(host: &str, debug: bool) -> Result<TokenHttp> {
    let extra_ca_certificates: Vec<PathBuf> = super::ca_certificates_from_environment()
        .into_iter()
        .map(|(_, path)| path)
        .collect();
    let settings = api::HttpSettings {
        insecure: false,
        extra_ca_certificates: &extra_ca_certificates,
        connect_timeout: TOKEN_REQUEST_TIMEOUT,
        request_timeout: TOKEN_REQUEST_TIMEOUT,
    };
    let client = api::http_client(host, &settings)?;
    let log: DebugLog = debug.then(|| Arc::new(|line: &str| eprintln!("{line}")) as _);
    Ok(TokenHttp::new(client, RetryRules::default(), log))
}

/// `$HOME` (`%USERPROFILE%` on Windows), where `.databricks/token-cache.json` is.
fn home_directory() -> Result<PathBuf> {
    let variable = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(variable)
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("${variable} is not set; set it to your home directory"))
}

fn file_store() -> Result<FileTokenStore> {
    Ok(FileTokenStore::in_home(&home_directory()?))
}

/// `DATABRICKS_AUTH_STORAGE`.
fn storage_variable() -> Option<String> {
    std::env::var(STORAGE_VARIABLE).ok()
}

/// The storage to read tokens from (the keyring, or the file where none answers).
fn store_for_reading(file: &ProfileFile) -> Result<Arc<dyn TokenStore>> {
    let store = auth::login_store(
        Arc::new(file_store()?),
        file.path(),
        storage_variable().as_deref(),
    )?;
    Ok(store)
}

/// The config file, for reading.
fn load_config() -> Result<ProfileFile> {
    Ok(ProfileFile::load(&config::config_path()?)?)
}

/// Reads, changes and writes the config file, all under its cross-process lock.
fn update_config(change: impl FnOnce(&mut ProfileFile) -> Result<(), ConfigError>) -> Result<()> {
    ProfileFile::update(&config::config_path()?, change)?;
    Ok(())
}

/// The key the Go CLI stores a host's tokens under besides the profile's: `https://host`.
fn host_key(host: &str) -> String {
    host.trim_end_matches('/').to_string()
}

/// Profiles (other than `[__settings__]`) whose `host` is `host`, in file order.
fn profiles_with_host(file: &ProfileFile, host: &str) -> Vec<String> {
    file.profile_names()
        .into_iter()
        .filter(|name| name != SETTINGS)
        .filter(|name| {
            file.get(name, "host")
                .and_then(|value| config::normalize_host(&value).ok())
                .is_some_and(|value| value == host)
        })
        .collect()
}

fn uses_databricks_cli(file: &ProfileFile, profile: &str) -> bool {
    file.get(profile, "auth_type").as_deref() == Some(DATABRICKS_CLI)
}

/// Whether a positional argument names a host rather than a profile: the Go CLI's rule (a dot,
/// a scheme, or a trailing `:port`), unless a profile has that very name.
fn looks_like_host(file: &ProfileFile, argument: &str) -> bool {
    if file.has_profile(argument) {
        return false;
    }
    let ends_with_port = argument
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()));
    argument.contains('.')
        || argument.starts_with("http://")
        || argument.starts_with("https://")
        || ends_with_port
}

/// A person is at the terminal (stdin and stderr), so questions can be asked.
fn is_interactive() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// Asks on stderr and reads one line of stdin; an empty answer takes `default`.
fn ask(question: &str, default: Option<&str>) -> Result<String> {
    match default {
        Some(default) => eprint!("{question} [{default}]: "),
        None => eprint!("{question}: "),
    }
    let mut line = String::new();
    let read = io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer")?;
    if read == 0 {
        bail!("no answer: the terminal was closed");
    }
    let answer = line.trim();
    match (answer.is_empty(), default) {
        (false, _) => Ok(answer.to_string()),
        (true, Some(default)) => Ok(default.to_string()),
        (true, None) => bail!("no answer given to \"{question}\""),
    }
}

/// A Go duration: `90s`, `1m30s`, `1.5h`, `500ms` (units ns, us, µs, ms, s, m, h).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("invalid duration {text:?}: use a number and a unit, such as 90s, 5m or 1h");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_end].parse().map_err(|_| invalid())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * seconds_per_unit;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_are_read_as_go_writes_them() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5", "h", "5x", "1..2s", "-1s", "1h 2m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_are_told_from_profile_names() {
        let file = ProfileFile::from_bytes(
            std::path::Path::new("cfg"),
            b"[dev.team]\nhost = https://a\n",
        )
        .unwrap();
        assert!(!looks_like_host(&file, "dev"));
        assert!(!looks_like_host(&file, "dev.team"));
        assert!(looks_like_host(&file, "adb-1.azuredatabricks.net"));
        assert!(looks_like_host(&file, "http://localhost"));
        assert!(looks_like_host(&file, "localhost:8080"));
    }

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        #[test]
        fn fuzz_duration(text in "\\PC{0,12}") {
            let _ = parse_duration(&text);
        }

        #[test]
        fn fuzz_duration_reads_whole_seconds_and_minutes(minutes in 0u64..10_000, seconds in 0u64..60) {
            prop_assert_eq!(
                parse_duration(&format!("{minutes}m{seconds}s")),
                Ok(Duration::from_secs(minutes * 60 + seconds))
            );
        }
    }
}
