//! `databricks-emulator`: serve the Secrets API locally, or run a command against it.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use databricks_emulator::{
    Cloud, Config, DEFAULT_ADMIN_TOKEN, DEFAULT_AZURE_TENANT_ID, DEFAULT_MAX_SCOPES,
    DEFAULT_MAX_SECRETS_PER_SCOPE, DEFAULT_TOKEN_TTL, Emulator, FederationPolicy, RateLimit,
};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const AFTER_HELP: &str = "\
Without --token and --user the only user is the admin admin@example.com with the token
'dapi-emulator-admin-token'. --user adds users (admin@example.com keeps the default token
unless --token is given); the printed DATABRICKS_TOKEN is the first --token, else the first
--user token, else the default. Every user is in the group 'users'; members of the group
'admins' are admins.

serve prints `export DATABRICKS_HOST=...`, `export DATABRICKS_TOKEN=...` and
`export DATABRICKS_EMULATOR_PID=...`, then closes its stdout, so that this works:

  eval \"$(databricks-emulator serve &)\"   # start in the background, export the variables
  ...                                      # run clients
  kill \"$DATABRICKS_EMULATOR_PID\"         # stop it

OAuth: --service-principal adds clients for /oidc/v1/token (discovery at
/oidc/.well-known/oauth-authorization-server); --login-as approves /oidc/v1/authorize without a
browser; --cloud azure emulates Entra ID at /TENANT/oauth2/token and /msi/token. See the
emulator's README.md.

Examples:
  databricks-emulator exec -- ./provision-secrets.sh
  databricks-emulator exec --user alice@example.com=alice-token --group devs=alice@example.com -- pytest";

#[derive(Parser, Debug)]
#[command(
    name = "databricks-emulator",
    version,
    about = "A local Databricks Secrets API 2.0 server for tests and offline CI",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve until interrupted (the default); prints `export DATABRICKS_HOST=...` and
    /// `export DATABRICKS_TOKEN=...` on stdout.
    Serve(ServerArgs),
    /// Start on a free port, run COMMAND with DATABRICKS_HOST and DATABRICKS_TOKEN set, stop,
    /// and exit with the command's exit code.
    Exec(ExecArgs),
}

#[derive(Args, Debug, Clone)]
struct ServerArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// A token of the admin admin@example.com (repeatable; replaces the default token)
    #[arg(long = "token", value_name = "TOKEN")]
    tokens: Vec<String>,
    /// A user and its token (repeatable)
    #[arg(long = "user", value_name = "NAME=TOKEN", value_parser = parse_user)]
    users: Vec<(String, String)>,
    /// Make a user a workspace admin (repeatable)
    #[arg(long = "admin", value_name = "NAME")]
    admins: Vec<String>,
    /// A group and its members (repeatable)
    #[arg(long = "group", value_name = "NAME=MEMBER,MEMBER", value_parser = parse_group)]
    groups: Vec<(String, Vec<String>)>,
    /// Keep the state in FILE across restarts (written atomically after each change)
    #[arg(long = "state", value_name = "FILE")]
    state: Option<PathBuf>,
    /// Maximum number of scopes in the workspace
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_SCOPES)]
    max_scopes: usize,
    /// Maximum number of secrets in one scope
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_SECRETS_PER_SCOPE)]
    max_secrets_per_scope: usize,
    /// Delay every answer by MS milliseconds, like a far-away workspace
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency: u64,
    /// Throttle the Secrets API to RPS requests per second, bursts of BURST (default: RPS);
    /// requests over it get 429 REQUEST_LIMIT_EXCEEDED
    #[arg(long, value_name = "RPS[/BURST]")]
    rate_limit: Option<RateLimit>,
    /// Send no Retry-After header with the 429 answers of --rate-limit
    #[arg(long)]
    no_retry_after: bool,
    /// An OAuth service principal for machine-to-machine auth (repeatable); its client id is
    /// its name in ACLs
    #[arg(long = "service-principal", value_name = "CLIENT_ID=SECRET", value_parser = parse_service_principal)]
    service_principals: Vec<(String, String)>,
    /// A workload identity federation policy (repeatable): the service principal CLIENT_ID
    /// may exchange an unexpired JWT with these iss and sub (and aud; default: the token
    /// endpoint URL) for a token
    #[arg(
        long = "federation",
        value_name = "CLIENT_ID=ISSUER,SUBJECT[,AUDIENCE]"
    )]
    federation_policies: Vec<FederationPolicy>,
    /// Approve OAuth logins (/oidc/v1/authorize) as this user, without a page
    #[arg(long, value_name = "NAME")]
    login_as: Option<String>,
    /// Lifetime of the access tokens the emulator issues
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TOKEN_TTL.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    token_ttl: u64,
    /// The cloud the workspace reports (aws, azure, gcp); azure also emulates Entra ID
    #[arg(long, value_name = "CLOUD", default_value = "aws")]
    cloud: Cloud,
    /// The Entra ID tenant of an Azure workspace
    #[arg(long, value_name = "TENANT_ID", default_value = DEFAULT_AZURE_TENANT_ID)]
    azure_tenant_id: String,
    /// An Entra ID application for the client credentials grant (repeatable)
    #[arg(long = "azure-service-principal", value_name = "CLIENT_ID=SECRET", value_parser = parse_service_principal)]
    azure_service_principals: Vec<(String, String)>,
    /// A managed identity served at /msi/token (repeatable; the first is the default)
    #[arg(long = "azure-managed-identity", value_name = "CLIENT_ID")]
    managed_identities: Vec<String>,
}

#[derive(Args, Debug)]
struct ExecArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The command to run, and its arguments
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

impl ServerArgs {
    fn config(&self) -> Config {
        Config {
            bind: self.bind,
            admin_tokens: self.tokens.clone(),
            users: self.users.clone(),
            admins: self.admins.clone(),
            groups: self.groups.clone(),
            max_scopes: self.max_scopes,
            max_secrets_per_scope: self.max_secrets_per_scope,
            state_path: self.state.clone(),
            latency: Duration::from_millis(self.latency),
            rate_limit: self.rate_limit,
            retry_after: !self.no_retry_after,
            service_principals: self.service_principals.clone(),
            federation_policies: self.federation_policies.clone(),
            login_as: self.login_as.clone(),
            token_ttl: Duration::from_secs(self.token_ttl),
            cloud: self.cloud,
            azure_tenant_id: self.azure_tenant_id.clone(),
            azure_service_principals: self.azure_service_principals.clone(),
            managed_identities: self.managed_identities.clone(),
        }
    }

    /// The token handed to clients: the first --token, else the first --user's, else the default.
    fn client_token(&self) -> String {
        self.tokens
            .first()
            .or(self.users.first().map(|(_, token)| token))
            .map_or_else(|| DEFAULT_ADMIN_TOKEN.to_string(), Clone::clone)
    }
}

fn parse_user(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, token)) if !name.is_empty() && !token.is_empty() => {
            Ok((name.to_string(), token.to_string()))
        }
        _ => Err("expected NAME=TOKEN, e.g. alice@example.com=alice-token".into()),
    }
}

fn parse_service_principal(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_string(), secret.to_string()))
        }
        _ => Err("expected CLIENT_ID=SECRET, e.g. ci-deployer=ci-secret".into()),
    }
}

fn parse_group(text: &str) -> Result<(String, Vec<String>), String> {
    match text.split_once('=') {
        Some((name, members)) if !name.is_empty() => {
            let members = members
                .split(',')
                .map(str::trim)
                .filter(|member| !member.is_empty())
                .map(String::from)
                .collect();
            Ok((name.to_string(), members))
        }
        _ => Err("expected NAME=MEMBER,MEMBER, e.g. devs=alice@example.com".into()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(&cli.server),
        Some(Command::Serve(server)) => serve(&server),
        Some(Command::Exec(exec)) => run_exec(&exec),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("databricks-emulator: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn serve(args: &ServerArgs) -> Result<ExitCode> {
    let emulator = Emulator::start(args.config())?;
    runtime()?.block_on(async {
        // Handlers first: whoever reads the printed lines may signal at once.
        let stop_requested = platform::stop_requested()?;
        print_exports(&emulator.url(), &args.client_token())?;
        eprintln!(
            "databricks-emulator: listening on {}; stop with Ctrl-C",
            emulator.url()
        );
        stop_requested.await?;
        anyhow::Ok(())
    })?;
    emulator.stop();
    Ok(ExitCode::SUCCESS)
}

/// Prints the lines a shell can `eval` in one write, then (on Unix) closes stdout so that
/// `eval "$(databricks-emulator serve &)"` gets its end of input while the server keeps running.
fn print_exports(url: &str, token: &str) -> std::io::Result<()> {
    let lines = format!(
        "export DATABRICKS_HOST={url}\nexport DATABRICKS_TOKEN={}\nexport DATABRICKS_EMULATOR_PID={}\n",
        shell_quote(token),
        std::process::id()
    );
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(lines.as_bytes())?;
    stdout.flush()?;
    platform::close_stdout()
}

/// Runs the command against a fresh emulator. On Unix, SIGTERM and SIGHUP are passed on to the
/// command; SIGINT is not (a terminal already sends it to the whole process group), but it no
/// longer kills the emulator before the command has finished.
fn run_exec(args: &ExecArgs) -> Result<ExitCode> {
    let emulator = Emulator::start(args.server.config())?;
    let (program, program_args) = args
        .command
        .split_first()
        .context("no command given; usage: databricks-emulator exec -- COMMAND [ARGS...]")?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(program_args)
        .env("DATABRICKS_HOST", emulator.url())
        .env("DATABRICKS_TOKEN", args.server.client_token())
        .env_remove("DATABRICKS_CONFIG_PROFILE");
    let code = runtime()?.block_on(async {
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                eprintln!("databricks-emulator: cannot run {program}: {error}");
                let code = if error.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                };
                return Ok(code);
            }
        };
        let status = platform::wait_for_command(&mut child).await?;
        anyhow::Ok(exit_code(status))
    })?;
    emulator.stop();
    Ok(ExitCode::from(code))
}

/// The command's exit code, or 128 + the signal that killed it, as shells report it.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    let code = status
        .code()
        .or_else(|| platform::terminating_signal(status).map(|signal| 128 + signal))
        .unwrap_or(1);
    u8::try_from(code).unwrap_or(1)
}

/// Quotes for a POSIX shell unless the text is plainly safe.
fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.:/@+=,%".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(unix)]
mod platform {
    use std::io;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    use tokio::process::Child;
    use tokio::signal::unix::{SignalKind, signal};

    /// Installs the SIGTERM and SIGINT handlers, and returns what completes when either arrives.
    pub fn stop_requested() -> io::Result<impl Future<Output = io::Result<()>>> {
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            Ok(())
        })
    }

    /// Points fd 1 at /dev/null, which closes the pipe a shell's `$(...)` reads.
    pub fn close_stdout() -> io::Result<()> {
        let null = std::fs::File::open("/dev/null")?;
        // SAFETY: dup2 on two open descriptors; fd 1 is replaced by /dev/null, and the caller
        // has flushed stdout, so nothing buffered is lost.
        if unsafe { libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits for the child, passing SIGTERM and SIGHUP on to it and outliving SIGINT.
    pub async fn wait_for_command(child: &mut Child) -> io::Result<ExitStatus> {
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        loop {
            tokio::select! {
                status = child.wait() => return status,
                _ = terminate.recv() => forward(child, libc::SIGTERM),
                _ = hangup.recv() => forward(child, libc::SIGHUP),
                _ = interrupt.recv() => {}
            }
        }
    }

    fn forward(child: &Child, signal: libc::c_int) {
        if let Some(pid) = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()) {
            // SAFETY: kill(2) only sends a signal to the child we spawned and still own.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    pub fn terminating_signal(status: ExitStatus) -> Option<i32> {
        status.signal()
    }
}

/// Without Unix signals: Ctrl-C stops `serve`, and `exec` simply waits for its command (the
/// console delivers Ctrl-C to the command itself).
#[cfg(not(unix))]
mod platform {
    use std::io;
    use std::process::ExitStatus;
    use tokio::process::Child;

    /// Completes on Ctrl-C; its handler is installed when first awaited.
    pub fn stop_requested() -> io::Result<impl Future<Output = io::Result<()>>> {
        Ok(tokio::signal::ctrl_c())
    }

    /// Stdout stays open: closing fd 1 is the Unix `eval "$(... &)"` idiom.
    pub fn close_stdout() -> io::Result<()> {
        Ok(())
    }

    pub async fn wait_for_command(child: &mut Child) -> io::Result<ExitStatus> {
        child.wait().await
    }

    pub fn terminating_signal(_status: ExitStatus) -> Option<i32> {
        None
    }
}
