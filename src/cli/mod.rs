//! The command tree: a group is an enum, a leaf command a clap struct with
//! `run(self, &Context)` (async where it calls the API).

mod argv;
mod auth;
mod completion;
pub mod configure;
mod hints;
#[cfg(test)]
mod man;
mod secrets;
mod version;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::api::{self, Client, ClientOptions, CredentialProvider as _};
use crate::auth::{ChainCredentials, DebugLog, Environment, RetryRules, TokenHttp};
use crate::config::{self, Origin, Resolved};
use crate::output::{Format, Style};

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
    #[arg(short = 'p', long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Log every request and response to stderr, with tokens and values masked
    #[arg(long, global = true)]
    pub debug: bool,

    /// Output format: text (or table) or json; commands that change something print nothing.
    /// The Go CLI's layouts (JSON arrays of items, its text columns) for a Go-only command
    /// name (put-secret, list-secrets, delete-secret, get-secret), for -o, for --output text
    /// or with DATABRICKS_OUTPUT_FORMAT set; else the legacy CLI's (the server's JSON, tables)
    #[arg(
        short = 'o',
        long = "output",
        global = true,
        value_name = "FORMAT",
        value_parser = Format::parse
    )]
    pub output: Option<Format>,

    /// How the command line was spelled, for the output dialect.
    #[arg(skip)]
    spelling: argv::Spelling,
}

impl GlobalOptions {
    /// The dialect and format the command line and DATABRICKS_OUTPUT_FORMAT ask for.
    fn style(&self) -> anyhow::Result<Style> {
        let environment = std::env::var_os(argv::OUTPUT_FORMAT_VARIABLE);
        self.spelling.style(self.output, environment.as_deref())
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a workspace host and token into a profile of the config file
    Configure(configure::Configure),
    /// Log in with OAuth, print tokens for SDKs, show what authenticates (describe, profiles), log out, switch profiles
    #[command(subcommand)]
    Auth(auth::AuthCommand),
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
    let context = Context { global: cli.global };
    match cli.command {
        Command::Configure(command) => command.run(&context),
        Command::Auth(command) => command.run(&context),
        Command::Secrets(command) => {
            // A bad output format is a usage error before anything is sent.
            context.style()?;
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?
                .block_on(command.run(&context))
        }
        Command::Completion(command) => command.run(&context),
        Command::Version(command) => command.run(&context),
    }
}

/// What every command may need: the global options, and from them the output style and an API
/// client.
pub struct Context {
    global: GlobalOptions,
}

impl Context {
    /// The same options with `--profile NAME`: for commands that look at several profiles.
    pub fn for_profile(&self, name: &str) -> Context {
        let global = GlobalOptions {
            profile: Some(name.to_owned()),
            ..self.global.clone()
        };
        Context { global }
    }

    /// The global `--profile`, if given.
    pub fn profile(&self) -> Option<&str> {
        self.global.profile.as_deref()
    }

    /// Whether `--debug` was given.
    pub fn debug(&self) -> bool {
        self.global.debug
    }

    /// The `--output` format, if given.
    pub fn output(&self) -> Option<Format> {
        self.global.output
    }

    /// How results are printed: dialect and format (a usage error for a bad
    /// DATABRICKS_OUTPUT_FORMAT).
    pub fn style(&self) -> anyhow::Result<Style> {
        self.global.style()
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
        warn_if_insecure(&resolved);
        let unusable = |error| hints::explain(error, &hints::Used::before_auth(&resolved));
        let credentials = self
            .credentials(&resolved, observer.clone())
            .map_err(unusable)?;
        let client = self
            .client_options(&resolved, credentials.clone(), observer)
            .and_then(Client::new)
            .map_err(unusable)?;
        Ok(Connection {
            client,
            resolved,
            credentials,
        })
    }

    /// The TLS and timeout settings of requests to the workspace and its token endpoints.
    fn http_settings<'a>(
        resolved: &Resolved,
        extra_ca_certificates: &'a [PathBuf],
    ) -> api::HttpSettings<'a> {
        let request_timeout = resolved
            .http_timeout_seconds
            .map_or(DEFAULT_REQUEST_TIMEOUT, std::time::Duration::from_secs);
        api::HttpSettings {
            insecure: resolved.insecure,
            extra_ca_certificates,
            connect_timeout: std::time::Duration::from_secs(30),
            request_timeout,
        }
    }

    fn client_options(
        &self,
        resolved: &Resolved,
        credentials: Arc<ChainCredentials>,
        observer: api::Observer,
    ) -> Result<ClientOptions, api::Error> {
        let extra_ca_certificates: Vec<PathBuf> = ca_certificates_from_environment()
            .into_iter()
            .map(|(_, path)| path)
            .collect();
        let settings = Self::http_settings(resolved, &extra_ca_certificates);
        let mut options = ClientOptions::new(resolved.host.clone(), credentials);
        options.insecure = resolved.insecure;
        options.request_timeout = settings.request_timeout;
        options.extra_ca_certificates = extra_ca_certificates.clone();
        if let Some(seconds) = resolved.retry_timeout_seconds {
            options.retry_timeout = std::time::Duration::from_secs(seconds);
        }
        options.debug = self.global.debug;
        options.observer = Some(observer);
        Ok(options)
    }

    /// The authentication method is chosen from the configuration at the first request; its
    /// `--debug` lines (token requests) go to `observer` like the API client's.
    fn credentials(
        &self,
        resolved: &Resolved,
        observer: api::Observer,
    ) -> Result<Arc<ChainCredentials>, api::Error> {
        let extra_ca_certificates: Vec<PathBuf> = ca_certificates_from_environment()
            .into_iter()
            .map(|(_, path)| path)
            .collect();
        let settings = Self::http_settings(resolved, &extra_ca_certificates);
        let debug: DebugLog = self.global.debug.then(|| {
            Arc::new(move |line: &str| observer(&api::Event::Debug(line.to_string())))
                as Arc<dyn Fn(&str) + Send + Sync>
        });
        let http = api::http_client(&resolved.host, &settings)?;
        let http = TokenHttp::new(http, RetryRules::default(), debug.clone());
        let environment = Environment::for_process(http, debug);
        Ok(Arc::new(ChainCredentials::new(
            resolved.config.clone(),
            environment,
        )))
    }
}

/// How long a request may take unless `http_timeout_seconds` says otherwise.
const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

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

/// One line for every command that runs without TLS certificate verification, naming the
/// setting that turned it off and where it is set.
fn warn_if_insecure(resolved: &Resolved) {
    if resolved.insecure {
        let setting = ["insecure", "skip_verify"]
            .into_iter()
            .find_map(|name| resolved.config.setting(name))
            .map_or_else(|| "`insecure`".to_string(), insecure_setting);
        eprintln!(
            "Warning: TLS certificates of {} are not verified ({setting}); remove that setting \
             to verify them",
            resolved.host
        );
    }
}

/// Where a setting that turns off certificate checks lives: the profile and file, or the
/// environment variable.
fn insecure_setting(setting: &config::Setting) -> String {
    match &setting.origin {
        Origin::File { path, profile } => format!(
            "`{}` in profile `{profile}` in {}",
            setting.attribute.name,
            path.display()
        ),
        Origin::Env(variable) => variable.to_string(),
        Origin::Flag(flag) => format!("the {flag} flag"),
    }
}

/// An API client together with where its credentials came from (for error hints).
pub struct Connection {
    pub client: Client,
    resolved: Resolved,
    credentials: Arc<ChainCredentials>,
}

impl Connection {
    /// Awaits an API call of `self.client`; its error becomes the message a user sees, with
    /// a hint where one helps: `connection.call(connection.client.list_scopes()).await?`.
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, api::Error>>,
    ) -> anyhow::Result<T> {
        call.await.map_err(|error| self.explain(error))
    }

    /// Turns an API error into the message a user sees, with a hint where one helps.
    pub fn explain(&self, error: api::Error) -> anyhow::Error {
        hints::explain(error, &self.used())
    }

    /// Every attribute the credentials were chosen from, with where it came from.
    pub fn config(&self) -> &config::UnifiedConfig {
        &self.resolved.config
    }

    /// The workspace URL requests go to.
    pub fn host(&self) -> &str {
        &self.resolved.host
    }

    /// Chooses the method and gets its first credentials, without a request to the workspace.
    pub async fn authenticate(&self) -> anyhow::Result<&'static str> {
        self.credentials
            .headers()
            .await
            .map_err(|error| self.explain(error))?;
        self.method()
            .ok_or_else(|| anyhow::anyhow!("no authentication method was chosen"))
    }

    /// The method that authenticated, once a request has chosen it.
    pub fn method(&self) -> Option<&'static str> {
        self.credentials.method()
    }

    fn used(&self) -> hints::Used<'_> {
        hints::Used {
            source: &self.resolved.source,
            config: &self.resolved.config,
            method: self.method(),
        }
    }
}

/// Variables naming extra CA certificates to trust: OpenSSL's, and the one of Python's
/// `requests` that users of the legacy CLI already set. `SSL_CERT_DIR` is a path list.
const CA_VARIABLES: [&str; 3] = ["SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"];

/// Each CA certificate file or directory named in the environment, with its variable.
pub(super) fn ca_certificates_from_environment() -> Vec<(&'static str, PathBuf)> {
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
