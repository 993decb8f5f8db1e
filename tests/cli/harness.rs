//! A hermetic environment per test: a temporary home directory, a fresh emulator on
//! 127.0.0.1:0, and the compiled `databricks` binary run with a cleared environment (no
//! DATABRICKS_* or proxy variables leak in from the machine running the tests). Also the
//! fixtures several test modules share, so that no test module imports another.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use databricks_emulator::{Config, Emulator};
use tempfile::TempDir;

mod tls_server;

pub use tls_server::SelfSignedServer;

pub const BINARY: &str = env!("CARGO_BIN_EXE_databricks");

/// The scope most tests work in, and the key they put.
pub const SCOPE: &str = "app";
pub const KEY: &str = "db-password";

/// The emulator's built-in workspace admin (the `[DEFAULT]` profile's user).
pub const ADMIN: &str = databricks_emulator::DEFAULT_ADMIN;
/// A second, non-admin user; add with `Config::with_user(ALICE, ALICE_TOKEN)`.
pub const ALICE: &str = "alice@example.com";
pub const ALICE_TOKEN: &str = "alice-token";

/// A service principal (OAuth M2M) and its secret.
pub const SP: &str = "ci-deployer";
pub const SP_SECRET: &str = "sp-secret-4f1c9e";

/// Looks like a JWT (three base64url parts starting with `eyJ`): the emulator's Azure AD token.
pub const AAD_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJ1cG4iOiJhbGljZUBleGFtcGxlLmNvbSJ9.c2lnbmF0dXJl";
/// The Azure Key Vault behind Key Vault-backed scopes.
pub const RESOURCE_ID: &str =
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/team-vault";
pub const DNS_NAME: &str = "https://team-vault.vault.azure.net/";

/// Variables Windows programs need to work at all (sockets fail without SYSTEMROOT) or to find
/// a temporary directory; they say nothing about Databricks, so they pass the cleared
/// environment.
#[cfg(windows)]
const WINDOWS_ESSENTIALS: [&str; 3] = ["SYSTEMROOT", "TEMP", "TMP"];

pub struct TestEnv {
    pub emulator: Emulator,
    home: TempDir,
}

/// What a user saw: exit code, stdout bytes, stderr text.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    fn from_output(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts exit code 0 and returns stdout as text.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(self.code, 0, "expected success; stderr: {}", self.stderr);
        self.stdout()
    }

    /// Asserts the exit code of a command that prints before it may fail (sync's plan goes to
    /// stdout first); returns stderr.
    #[track_caller]
    pub fn fails_after_printing(&self, code: i32) -> &str {
        assert_eq!(
            self.code, code,
            "unexpected exit code; stderr: {}",
            self.stderr
        );
        &self.stderr
    }

    /// Asserts the exit code and that stdout is empty; returns stderr.
    #[track_caller]
    pub fn fails_with(&self, code: i32) -> &str {
        assert_eq!(
            self.code,
            code,
            "unexpected exit code; stdout: {}; stderr: {}",
            self.stdout(),
            self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "a failure prints nothing on stdout; stdout: {}; stderr: {}",
            self.stdout(),
            self.stderr
        );
        &self.stderr
    }
}

impl TestEnv {
    /// An emulator with its default admin, and a `[DEFAULT]` profile pointing at it.
    pub fn new() -> TestEnv {
        let env = TestEnv::without_profile(Config::default());
        env.write_default_profile();
        env
    }

    /// An emulator started with `config`, and a `[DEFAULT]` profile with the admin's token.
    pub fn with_emulator(config: Config) -> TestEnv {
        let env = TestEnv::without_profile(config);
        env.write_default_profile();
        env
    }

    /// An emulator started with `config` and no config file at all.
    pub fn without_profile(config: Config) -> TestEnv {
        TestEnv {
            emulator: Emulator::start(config).expect("the emulator starts"),
            home: tempfile::tempdir().expect("a temporary HOME"),
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The default config file, `$HOME/.databrickscfg`.
    pub fn config_path(&self) -> PathBuf {
        self.home().join(".databrickscfg")
    }

    pub fn url(&self) -> String {
        self.emulator.url()
    }

    /// A config file with profile `source` for this emulator and `target` for `target`.
    pub fn write_source_and_target_profiles(&self, target: &Emulator) {
        self.write_config(&format!(
            "[source]\nhost = {}\ntoken = {}\n\n[target]\nhost = {}\ntoken = {}\n",
            self.url(),
            self.emulator.admin_token(),
            target.url(),
            target.admin_token()
        ));
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).expect("config written");
    }

    /// The default config file's text, as [`read_config_text`] reads it.
    pub fn read_config(&self) -> String {
        read_config_text(&self.config_path())
    }

    fn write_default_profile(&self) {
        self.write_config(&format!(
            "[DEFAULT]\nhost = {}\ntoken = {}\n",
            self.url(),
            self.emulator.admin_token()
        ));
    }

    /// A `[name]` profile for a user of the emulator, appended to the config file.
    pub fn add_profile(&self, name: &str, token: &str) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.config_path())
            .expect("config opened");
        write!(file, "\n[{name}]\nhost = {}\ntoken = {token}\n", self.url()).expect("profile");
    }

    /// `program` with a cleared environment: only PATH, the home directory (HOME, and
    /// USERPROFILE as Windows programs look it up), LANG and, on Windows, the variables every
    /// program needs survive. It runs in the home directory. Every command of the tests starts
    /// here.
    pub fn isolated_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("USERPROFILE", self.home())
            .env("LANG", "C.UTF-8")
            .current_dir(self.home());
        #[cfg(windows)]
        for name in WINDOWS_ESSENTIALS {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
    }

    /// The binary with `args` and the cleared environment of [`TestEnv::isolated_command`].
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.isolated_command(BINARY);
        command.args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_command(self.command(args), b"")
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_command(self.command(args), stdin)
    }

    pub fn run_command(&self, mut command: Command, stdin: &[u8]) -> Run {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut pipe = child.stdin.take().expect("stdin piped");
        // A command may exit before reading its stdin; a broken pipe is then expected.
        let _ = pipe.write_all(stdin);
        drop(pipe);
        Run::from_output(child.wait_with_output().expect("the binary ends"))
    }

    /// Runs `shell_command` (through sh) on a pseudo-terminal, with the same cleared environment
    /// plus `env`. The terminal's output (stdout and stderr mixed) is in `stdout`.
    #[cfg(unix)]
    pub fn run_in_terminal(&self, shell_command: &str, env: &[(&str, &str)]) -> Run {
        let mut command = self.terminal_command(shell_command);
        for (name, value) in env {
            command.env(name, value);
        }
        self.run_command(command, b"")
    }

    /// `script` running `shell_command` through sh on a new pseudo-terminal, with the cleared
    /// environment of [`TestEnv::isolated_command`] and `TERM=dumb`.
    #[cfg(unix)]
    pub fn terminal_command(&self, shell_command: &str) -> Command {
        let mut command = self.isolated_command("script");
        if cfg!(target_os = "linux") {
            command.args(["-qec", shell_command, "/dev/null"]);
        } else {
            // BSD script: the transcript file comes first, then the command.
            command.args(["-q", "/dev/null", "sh", "-c", shell_command]);
        }
        command.env("TERM", "dumb");
        command
    }

    /// The secrets API calls the emulator received (faults and admin calls excluded).
    pub fn api_requests(&self) -> Vec<databricks_emulator::LoggedRequest> {
        self.emulator
            .requests()
            .into_iter()
            .filter(|request| request.path.starts_with("/api/"))
            .collect()
    }
}

impl TestEnv {
    /// `program` with the cleared environment of [`TestEnv::isolated_command`] and the
    /// directory of the freshly built `databricks` first on PATH, so that shell scripts can call
    /// it by name. The tests use it for POSIX shells only.
    #[cfg(unix)]
    pub fn command_with_binary_on_path(&self, program: &str) -> Command {
        let binary_dir = Path::new(BINARY)
            .parent()
            .expect("the binary is in a directory");
        let system_path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            std::iter::once(binary_dir.to_path_buf()).chain(std::env::split_paths(&system_path)),
        )
        .expect("PATH entries without separators");
        let mut command = self.isolated_command(program);
        command.env("PATH", path);
        command
    }
}

/// The text of a config file the binary wrote, with line endings read as `\n` on Windows, where
/// a file `configure` creates has `\r\n`, as the Go CLI writes it. (Tests about kept line
/// endings read the bytes.)
pub fn read_config_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("config readable");
    if cfg!(windows) {
        text.replace("\r\n", "\n")
    } else {
        text
    }
}

/// The permission bits of `path` (`0o600` for a private file).
#[cfg(unix)]
pub fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("file exists")
        .permissions()
        .mode()
        & 0o777
}

/// A workspace with the scope [`SCOPE`], and an empty request log.
pub fn env_with_scope() -> TestEnv {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", SCOPE]).ok();
    env.emulator.clear_requests();
    env
}

/// Alice signs in with an Azure AD token (profile `alice`); the admin keeps `[DEFAULT]`.
pub fn env_with_aad_user() -> TestEnv {
    let env = TestEnv::with_emulator(Config::default().with_user(ALICE, AAD_TOKEN));
    env.add_profile("alice", AAD_TOKEN);
    env
}

/// `create-scope` of a Key Vault-backed `scope` (the vault [`RESOURCE_ID`], [`DNS_NAME`]) as
/// `profile`.
pub fn create_key_vault_scope(env: &TestEnv, profile: &str, scope: &str) -> Run {
    env.run(&[
        "--profile",
        profile,
        "secrets",
        "create-scope",
        "--scope",
        scope,
        "--scope-backend-type",
        "AZURE_KEYVAULT",
        "--resource-id",
        RESOURCE_ID,
        "--dns-name",
        DNS_NAME,
    ])
}

/// A failed run's stderr is one `Error: ...` message that contains every fragment.
#[track_caller]
pub fn assert_error(run: &Run, code: i32, fragments: &[&str]) {
    let stderr = run.fails_with(code);
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for fragment in fragments {
        assert!(
            stderr.contains(fragment),
            "{fragment:?} missing in: {stderr}"
        );
    }
}

/// Exactly one put reached the server, for [`SCOPE`] and [`KEY`], carrying the value in
/// `field` (`string_value` or `bytes_value`), and the emulator stores `value` byte for byte.
#[track_caller]
pub fn assert_stored(env: &TestEnv, value: &[u8], field: &str) {
    assert_eq!(sent_field(env), field);
    assert_eq!(
        env.emulator.secret_bytes(SCOPE, KEY).as_deref(),
        Some(value),
        "stored bytes differ"
    );
}

/// The value field the single put request carried, after checking that exactly one put
/// reached the server, for the right scope and key.
#[track_caller]
fn sent_field(env: &TestEnv) -> String {
    let requests = env.api_requests();
    assert_eq!(requests.len(), 1, "one request expected: {requests:?}");
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/api/2.0/secrets/put")
    );
    let body = request.body.as_object().expect("a JSON object body");
    assert_eq!(body["scope"], SCOPE);
    assert_eq!(body["key"], KEY);
    let fields: Vec<&String> = body
        .keys()
        .filter(|name| name.ends_with("_value"))
        .collect();
    assert_eq!(fields.len(), 1, "one value field expected: {body:?}");
    fields[0].clone()
}
