//! The command tree: a group is an enum, a leaf command a clap struct with `run`.

mod argv;
mod completion;
pub mod configure;
mod secrets;
mod version;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::api::{self, Auth, Client, ClientOptions};
use crate::config::{self, Credentials, Resolved, Source};
use crate::output::Format;

pub use argv::parse;

/// Manage Databricks authentication profiles and secrets.
#[derive(Parser, Debug)]
#[command(
    name = "databricks",
    display_name = version::PRODUCT,
    version = version::TAGGED_VERSION,
    disable_version_flag = true
)]
pub struct Cli {
    /// Print the version and exit
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: Option<bool>,

    #[command(flatten)]
    global: GlobalOptions,

    #[command(subcommand)]
    command: Command,
}

/// Options accepted before or after any subcommand.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalOptions {
    /// Use the credentials of this profile of the config file
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Log every request and response to stderr, with tokens and values masked
    #[arg(long, global = true)]
    pub debug: bool,

    /// Output format: table (or text) or json; commands that change something print nothing
    #[arg(
        short = 'o',
        long = "output",
        global = true,
        value_name = "FORMAT",
        value_enum,
        ignore_case = true
    )]
    pub output: Option<Format>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a workspace host and token into a profile of the config file
    Configure(configure::Configure),
    /// Create, list and delete secret scopes, secrets and their access rules
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Print a shell completion script
    Completion(completion::Completion),
    /// Print the version of this CLI (`Databricks CLI vX.Y.Z`, or JSON with -o json)
    Version(version::Version),
}

/// A mistake in how the command was called: reported like clap's own usage errors, exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage_error(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// `secrets sync --dry-run` found the scope different from its file: exit code 3, so that CI
/// can tell drift from errors (1) and usage errors (2).
#[derive(Debug)]
pub struct Drift(pub String);

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Drift {}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Configure(configure) => configure.run(cli.global.profile.as_deref()),
        Command::Secrets(command) => {
            let context = Context::new(cli.global);
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?
                .block_on(command.run(&context))
        }
        Command::Completion(completion) => completion.run(),
        Command::Version(version) => version.run(cli.global.output.unwrap_or_default()),
    }
}

/// What every secrets command needs: the global options, and from them an API client.
pub struct Context {
    global: GlobalOptions,
}

impl Context {
    fn new(global: GlobalOptions) -> Self {
        Context { global }
    }

    /// The `--output` format given, if any.
    pub fn output(&self) -> Option<Format> {
        self.global.output
    }

    /// Whether `--debug` was given.
    pub fn debug(&self) -> bool {
        self.global.debug
    }

    /// Resolves the credentials and builds the one HTTP client of this process.
    pub fn connect(&self) -> anyhow::Result<Connection> {
        self.connect_observed(Arc::new(print_event))
    }

    /// [`connect`](Self::connect), with the client's events (retry notices, debug lines) going
    /// to `observer` instead of straight to stderr.
    pub fn connect_observed(&self, observer: api::Observer) -> anyhow::Result<Connection> {
        let resolved = config::resolve(self.global.profile.as_deref())?;
        warn_if_plain_http(&resolved.host);
        let client = Client::new(self.client_options(&resolved, observer))
            .map_err(|error| explain(&resolved, error))?;
        Ok(Connection { client, resolved })
    }

    fn client_options(&self, resolved: &Resolved, observer: api::Observer) -> ClientOptions {
        let auth = match &resolved.auth {
            Credentials::Token(token) => Auth::Bearer(token.clone()),
            Credentials::Basic { username, password } => Auth::Basic {
                username: username.clone(),
                password: password.clone(),
            },
        };
        let mut options = ClientOptions::new(resolved.host.clone(), auth);
        options.insecure = resolved.insecure;
        options.extra_ca_certificates = ca_certificates_from_environment()
            .into_iter()
            .map(|(_, path)| path)
            .collect();
        if let Some(seconds) = resolved.http_timeout_seconds {
            options.request_timeout = std::time::Duration::from_secs(seconds);
        }
        if let Some(seconds) = resolved.retry_timeout_seconds {
            options.retry_timeout = std::time::Duration::from_secs(seconds);
        }
        options.debug = self.global.debug;
        options.observer = Some(observer);
        options
    }
}

/// Prints a retry notice or debug line on stderr.
fn print_event(event: &api::Event) {
    eprintln!("{event}");
}

/// Warns when credentials for `host` would cross the network unencrypted.
pub fn warn_if_plain_http(host: &str) {
    if host.starts_with("http://") && !config::is_loopback_host(host) {
        eprintln!(
            "Warning: {host} uses plain http://, so the credentials travel unencrypted; use https://"
        );
    }
}

/// An API client together with where its credentials came from (for error hints).
pub struct Connection {
    pub client: Client,
    resolved: Resolved,
}

impl Connection {
    /// Turns an API error into the message a user sees, with a hint where one helps.
    pub fn explain(&self, error: api::Error) -> anyhow::Error {
        explain(&self.resolved, error)
    }
}

fn explain(resolved: &Resolved, error: api::Error) -> anyhow::Error {
    let source = &resolved.source;
    let hint = match (&error, error.status()) {
        (api::Error::RateLimited { .. }, _) => Some(rate_limit_hint(source)),
        (_, Some(401)) => Some(format!(
            "the workspace did not accept the credentials from {source}; {}",
            how_to_replace_credentials(source)
        )),
        (_, Some(403)) => Some(format!(
            "the credentials from {source} lack a permission this call needs; ask a scope \
             manager or workspace admin for access"
        )),
        _ => api_hint(&error).or_else(|| connection_hint(&error, source)),
    };
    match hint {
        Some(hint) => anyhow::anyhow!("{error}\nHint: {hint}"),
        None => error.into(),
    }
}

/// Variables naming extra CA certificates to trust: OpenSSL's, and the one of Python's
/// `requests` that users of the legacy CLI already set. `SSL_CERT_DIR` is a path list.
const CA_VARIABLES: [&str; 3] = ["SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"];

/// Each CA certificate file or directory named in the environment, with its variable.
fn ca_certificates_from_environment() -> Vec<(&'static str, PathBuf)> {
    let mut paths = Vec::new();
    for name in CA_VARIABLES {
        let Some(value) = std::env::var_os(name).filter(|value| !value.is_empty()) else {
            continue;
        };
        if name == "SSL_CERT_DIR" {
            let directories =
                std::env::split_paths(&value).filter(|path| !path.as_os_str().is_empty());
            paths.extend(directories.map(|path| (name, path)));
        } else {
            paths.push((name, PathBuf::from(value)));
        }
    }
    paths
}

/// Where the host was set, for hints: `DATABRICKS_HOST`, or the profile.
fn host_setting(source: &Source) -> String {
    match source {
        Source::Profile { name, .. } => format!("the host of profile `{name}`"),
        Source::Environment => "DATABRICKS_HOST".to_owned(),
    }
}

/// How to turn off certificate checks where the host is set: the last resort.
fn insecure_setting(source: &Source) -> String {
    match source {
        Source::Profile { name, path } => format!(
            "`insecure = true` in profile `{name}` ({}) skips verification",
            path.display()
        ),
        Source::Environment => "DATABRICKS_INSECURE=true skips verification".to_owned(),
    }
}

/// Hints for failures to reach the server in TLS or HTTP, safest fix first.
fn connection_hint(error: &api::Error, source: &Source) -> Option<String> {
    let host = host_setting(source);
    let trust = "if the server's certificate comes from a private certificate authority (a \
                 company proxy, a test server), trust that authority: set SSL_CERT_FILE to a \
                 PEM file of its certificate or SSL_CERT_DIR to a directory of them \
                 (REQUESTS_CA_BUNDLE is read too)";
    let hint = match error {
        api::Error::Tls { .. } => format!(
            "check that {host} is the workspace URL; {trust}; only for a test server you \
             trust, {}",
            insecure_setting(source)
        ),
        api::Error::TlsSetup { .. } => format!(
            "install the system's CA certificates (the ca-certificates package), or set \
             SSL_CERT_FILE to a PEM file of CA certificates; only for a test server you trust, \
             {}",
            insecure_setting(source)
        ),
        api::Error::CaCertificates { path, .. } => {
            let variables: Vec<&str> = ca_certificates_from_environment()
                .into_iter()
                .filter(|(_, named)| named == path)
                .map(|(name, _)| name)
                .collect();
            format!(
                "{} names it: point it at a PEM file of CA certificates, or unset it",
                variables.join(" and ")
            )
        }
        api::Error::NotTls { .. } => format!(
            "check the port in {host}; a server that speaks plain HTTP (such as a local test \
             server) needs an http:// URL"
        ),
        api::Error::NotHttp { .. } => format!(
            "check the host and port in {host}: another kind of server (SSH, a database, a \
             TLS server reached with http://) answered there"
        ),
        _ => return None,
    };
    Some(hint)
}

fn rate_limit_hint(source: &Source) -> String {
    match source {
        Source::Profile { name, .. } => format!(
            "try again later, or let retries wait longer with `retry_timeout_seconds` in \
             profile `{name}`"
        ),
        Source::Environment => "try again later".to_owned(),
    }
}

fn how_to_replace_credentials(source: &Source) -> String {
    match source {
        Source::Profile { name, .. } => format!(
            "check its token, or set a new one with `databricks configure --token --profile {name}`"
        ),
        Source::Environment => "check DATABRICKS_TOKEN (or DATABRICKS_USERNAME and \
             DATABRICKS_PASSWORD)"
            .to_string(),
    }
}

/// Hints for the service's answers whose message alone leaves users guessing.
fn api_hint(error: &api::Error) -> Option<String> {
    let api::Error::Api {
        error_code,
        message,
        ..
    } = error
    else {
        return None;
    };
    if message.contains("userAADToken") {
        return Some(
            "Azure Key Vault-backed scopes can only be created with an Azure AD user token, \
             not a personal access token: set DATABRICKS_AAD_TOKEN (for example from \
             `az account get-access-token --resource 2ff814a6-3304-4ab8-85cb-cd0e6f879c1d \
             --query accessToken -o tsv`) and run `databricks configure --aad-token`"
                .to_string(),
        );
    }
    if error_code == "BAD_REQUEST" && mentions_key_vault(message) {
        return Some(
            "a scope backed by Azure Key Vault is read-only through Databricks; manage its \
             secrets with Azure's tools (for example `az keyvault secret set`)"
                .to_string(),
        );
    }
    None
}

/// BAD_REQUEST is the service's generic refusal; only the Key Vault one names the vault
/// ("Azure KeyVault-backed scope", "backed by Azure Key Vault").
fn mentions_key_vault(message: &str) -> bool {
    message.to_lowercase().replace(' ', "").contains("keyvault")
}
