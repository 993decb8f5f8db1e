//! A hermetic environment per test: a temporary HOME, a fresh emulator on 127.0.0.1:0, and the
//! compiled `databricks` binary run with a cleared environment (no DATABRICKS_* or proxy
//! variables leak in from the machine running the tests).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use databricks_emulator::{Config, Emulator};
use tempfile::TempDir;

pub const BINARY: &str = env!("CARGO_BIN_EXE_databricks");

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

    pub fn read_config(&self) -> String {
        std::fs::read_to_string(self.config_path()).expect("config readable")
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

    /// The binary with a cleared environment: only PATH, HOME and LANG survive.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("LANG", "C.UTF-8")
            .current_dir(self.home());
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
    pub fn run_in_terminal(&self, shell_command: &str, env: &[(&str, &str)]) -> Run {
        let mut command = self.terminal_command(shell_command);
        for (name, value) in env {
            command.env(name, value);
        }
        self.run_command(command, b"")
    }

    /// `script` running `shell_command` through sh on a new pseudo-terminal, with the cleared
    /// environment of [`TestEnv::command`] and `TERM=dumb`.
    pub fn terminal_command(&self, shell_command: &str) -> Command {
        let mut command = Command::new("script");
        if cfg!(target_os = "linux") {
            command.args(["-qec", shell_command, "/dev/null"]);
        } else {
            // BSD script: the transcript file comes first, then the command.
            command.args(["-q", "/dev/null", "sh", "-c", shell_command]);
        }
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("LANG", "C.UTF-8")
            .env("TERM", "dumb")
            .current_dir(self.home());
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
    /// `program` with the binary's cleared environment (PATH, HOME, LANG) and the directory of
    /// the freshly built `databricks` first on PATH, so that shell scripts can call it by name.
    pub fn command_with_binary_on_path(&self, program: &str) -> Command {
        let binary_dir = Path::new(BINARY)
            .parent()
            .expect("the binary is in a directory");
        let system_path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            std::iter::once(binary_dir.to_path_buf()).chain(std::env::split_paths(&system_path)),
        )
        .expect("PATH entries without separators");
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.home())
            .env("LANG", "C.UTF-8")
            .current_dir(self.home());
        command
    }
}
