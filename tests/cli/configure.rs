//! `databricks configure`: what it writes, what it keeps byte for byte, file modes, where the
//! host and token come from (flags, files, environment, piped lines, a terminal), and that a
//! failure writes nothing.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use databricks_emulator::Config;

use crate::harness::{BINARY, Run, TestEnv};

/// A config file with everything a hand-edited one has: both comment styles, blank lines,
/// unknown keys, several profiles, a continuation line, `:` as delimiter, odd spacing.
const RICH_CONFIG: &str = "\
# Databricks profiles for the data team
; managed by hand, keep the comments

[DEFAULT]
host = https://default.example.com
token = dapi-default-token
jobs-api-version = 2.1

[dev]
# the dev workspace
host=https://old-dev.example.com/?o=1
cluster_id: 0101-abcdef
token   =   dapi-old-dev-token
description = first line
    continued line

; production is read-only for most of us
[prod]
HOST = https://prod.example.com
Token = dapi-prod-token
";

fn configure_with_token_file(env: &TestEnv, extra_args: &[&str], token: &str) -> Run {
    let token_file = env.home().join("token.txt");
    std::fs::write(&token_file, format!("{token}\n")).expect("token file written");
    let mut args = vec!["configure", "--token-file", path_str(&token_file)];
    args.extend_from_slice(extra_args);
    env.run(&args)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

fn file_mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("file exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn configuring_one_profile_keeps_every_other_line_byte_for_byte() {
    let env = TestEnv::without_profile(Config::default());
    env.write_config(RICH_CONFIG);
    let run = configure_with_token_file(
        &env,
        &["--profile", "dev", "--host", "https://new-dev.example.com"],
        "dapi-new-dev-token",
    );
    assert_eq!(run.ok(), "");
    let expected = RICH_CONFIG
        .replace(
            "host=https://old-dev.example.com/?o=1",
            "host=https://new-dev.example.com",
        )
        .replace(
            "token   =   dapi-old-dev-token",
            "token   =   dapi-new-dev-token",
        );
    assert_eq!(env.read_config(), expected);
}

#[test]
fn an_existing_profile_is_updated_in_place_and_loses_username_and_password() {
    let env = TestEnv::without_profile(Config::default());
    let before = "[legacy]\nhost = https://old.example.com\nusername = me@example.com\n\
                  password = hunter2\ntoken = dapi-old\nretry_timeout_seconds = 90\n\n\
                  [other]\nhost = https://other.example.com\nusername = keep@example.com\n\
                  password = keep-me\n";
    env.write_config(before);
    let run = configure_with_token_file(
        &env,
        &["--host", "https://new.example.com", "--profile", "legacy"],
        "dapi-new",
    );
    assert_eq!(run.ok(), "");
    assert_eq!(
        env.read_config(),
        "[legacy]\nhost = https://new.example.com\ntoken = dapi-new\nretry_timeout_seconds = 90\n\n\
         [other]\nhost = https://other.example.com\nusername = keep@example.com\n\
         password = keep-me\n"
    );
}

#[test]
fn a_new_profile_is_appended_after_the_existing_ones() {
    let env = TestEnv::without_profile(Config::default());
    env.write_config(RICH_CONFIG);
    let run = configure_with_token_file(
        &env,
        &["--profile", "staging", "--host", "staging.example.com"],
        "dapi-staging",
    );
    assert_eq!(run.ok(), "");
    let after = env.read_config();
    let added = after
        .strip_prefix(RICH_CONFIG)
        .expect("the old content is kept as it was");
    assert_eq!(
        added.trim_start_matches('\n'),
        "[staging]\nhost = https://staging.example.com\ntoken = dapi-staging\n"
    );
}

#[test]
fn a_new_file_is_private_and_a_loose_one_is_tightened() {
    let env = TestEnv::without_profile(Config::default());
    let run = configure_with_token_file(&env, &["--host", "https://a.example.com"], "dapi-a");
    assert_eq!(run.ok(), "");
    assert_eq!(
        env.read_config(),
        "[DEFAULT]\nhost = https://a.example.com\ntoken = dapi-a\n"
    );
    assert_eq!(file_mode(&env.config_path()), 0o600);

    env.write_config(RICH_CONFIG);
    std::fs::set_permissions(env.config_path(), std::fs::Permissions::from_mode(0o644))
        .expect("chmod 644");
    let run = configure_with_token_file(&env, &["--host", "https://b.example.com"], "dapi-b");
    assert_eq!(run.ok(), "");
    assert_eq!(file_mode(&env.config_path()), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(env.home())
        .expect("home listed")
        .map(|entry| entry.expect("entry").file_name())
        .filter(|name| name.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn insecure_writes_insecure_true() {
    let env = TestEnv::without_profile(Config::default());
    let run = configure_with_token_file(
        &env,
        &["--host", "https://self-signed.example.com", "--insecure"],
        "dapi-x",
    );
    assert_eq!(run.ok(), "");
    assert_eq!(
        env.read_config(),
        "[DEFAULT]\nhost = https://self-signed.example.com\ntoken = dapi-x\ninsecure = true\n"
    );
}

#[test]
fn the_token_file_gives_its_first_line_trimmed() {
    let env = TestEnv::without_profile(Config::default());
    let token_file = env.home().join("token");
    std::fs::write(
        &token_file,
        "  dapi-from-file \t\r\nsecond line is ignored\n",
    )
    .expect("write");
    let run = env.run(&[
        "configure",
        "--token",
        "--host",
        "https://h.example.com",
        "--token-file",
        path_str(&token_file),
    ]);
    assert_eq!(run.ok(), "");
    assert_eq!(
        env.read_config(),
        "[DEFAULT]\nhost = https://h.example.com\ntoken = dapi-from-file\n"
    );

    let missing = env.home().join("no-such-token-file");
    let run = env.run(&[
        "configure",
        "--host",
        "https://other.example.com",
        "--token-file",
        path_str(&missing),
    ]);
    let stderr = run.fails_with(1);
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.contains(path_str(&missing)), "{stderr}");
    assert!(
        env.read_config().contains("dapi-from-file"),
        "nothing written"
    );
}

#[test]
fn the_aad_token_comes_from_its_environment_variable() {
    let env = TestEnv::without_profile(Config::default());
    let aad_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZSJ9.c2lnbmF0dXJl";
    let mut command = env.command(&[
        "configure",
        "--aad-token",
        "--host",
        "adb-1.azuredatabricks.net",
    ]);
    command.env("DATABRICKS_AAD_TOKEN", aad_token);
    assert_eq!(env.run_command(command, b"").ok(), "");
    assert_eq!(
        env.read_config(),
        format!("[DEFAULT]\nhost = https://adb-1.azuredatabricks.net\ntoken = {aad_token}\n")
    );

    let run = env.run(&[
        "configure",
        "--aad-token",
        "--host",
        "https://elsewhere.example.com",
    ]);
    let stderr = run.fails_with(1);
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.contains("DATABRICKS_AAD_TOKEN"), "{stderr}");
    assert!(!env.read_config().contains("elsewhere"), "nothing written");
}

#[test]
fn hosts_are_normalised_before_they_are_written() {
    let env = TestEnv::without_profile(Config::default());
    for (given, written) in [
        (
            "adb-123.4.azuredatabricks.net",
            "https://adb-123.4.azuredatabricks.net",
        ),
        (
            "https://example.com:8443/some/path?o=123",
            "https://example.com:8443",
        ),
        ("https://example.com/", "https://example.com"),
        ("HTTPS://Example.COM/#frag", "https://example.com"),
        ("localhost:8080/", "https://localhost:8080"),
        ("http://127.0.0.1:5000/api/2.0/", "http://127.0.0.1:5000"),
    ] {
        let run = configure_with_token_file(&env, &["--host", given], "dapi-h");
        assert_eq!(run.ok(), "", "{given}");
        assert_eq!(
            env.read_config(),
            format!("[DEFAULT]\nhost = {written}\ntoken = dapi-h\n"),
            "{given}"
        );
    }
}

#[test]
fn a_host_that_is_not_a_url_is_an_error_and_nothing_is_written() {
    let env = TestEnv::without_profile(Config::default());
    for bad in [
        "not a url",
        "ftp://example.com",
        "https://",
        "https://example.com:99999",
    ] {
        let run = configure_with_token_file(&env, &["--host", bad], "dapi-never-written");
        let stderr = run.fails_with(1);
        assert!(stderr.starts_with("Error: "), "{bad}: {stderr}");
        assert!(stderr.contains(bad), "the error names the host: {stderr}");
        assert!(!env.config_path().exists(), "{bad}: a file was written");
    }
    env.write_config(RICH_CONFIG);
    let answers = "not a url\ndapi-never-written\n";
    let run = env.run_with_stdin(&["configure", "--token"], answers.as_bytes());
    run.fails_with(1);
    assert_eq!(env.read_config(), RICH_CONFIG);
}

#[test]
fn plain_http_to_another_machine_gets_a_warning() {
    let env = TestEnv::without_profile(Config::default());
    let run = configure_with_token_file(&env, &["--host", "http://workspace.example.com"], "t");
    assert_eq!(run.ok(), "");
    assert!(
        run.stderr.contains("http://workspace.example.com"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.to_lowercase().contains("warning"),
        "{}",
        run.stderr
    );
    assert!(
        env.read_config()
            .contains("host = http://workspace.example.com\n")
    );

    for loopback in ["http://127.0.0.1:8080", "http://localhost:1234"] {
        let run = configure_with_token_file(&env, &["--host", loopback], "t");
        assert_eq!(run.ok(), "");
        assert_eq!(run.stderr, "", "no warning for {loopback}");
    }
    let run = configure_with_token_file(&env, &["--host", "https://workspace.example.com"], "t");
    assert_eq!(run.ok(), "");
    assert_eq!(run.stderr, "");
}

#[test]
fn the_config_file_variable_is_honoured() {
    let env = TestEnv::without_profile(Config::default());
    let elsewhere = env.home().join("conf").join("databricks.ini");
    std::fs::create_dir(elsewhere.parent().expect("parent")).expect("mkdir");
    std::fs::write(&elsewhere, RICH_CONFIG).expect("write");
    let mut command = env.command(&["configure", "--profile", "ci"]);
    command.env("DATABRICKS_CONFIG_FILE", &elsewhere);
    let run = env.run_command(command, b"https://ci.example.com\ndapi-ci\n");
    assert_eq!(run.ok(), "");
    assert!(!env.config_path().exists(), "~/.databrickscfg was written");
    let written = std::fs::read_to_string(&elsewhere).expect("read");
    let added = written.strip_prefix(RICH_CONFIG).expect("old content kept");
    assert_eq!(
        added.trim_start_matches('\n'),
        "[ci]\nhost = https://ci.example.com\ntoken = dapi-ci\n"
    );
    assert_eq!(file_mode(&elsewhere), 0o600);
}

#[test]
fn the_profile_option_works_before_and_after_the_subcommand() {
    let env = TestEnv::without_profile(Config::default());
    let before = env.run_with_stdin(
        &["--profile", "first", "configure", "--token"],
        b"https://first.example.com\ndapi-first\n",
    );
    assert_eq!(before.ok(), "");
    let after = env.run_with_stdin(
        &["configure", "--token", "--profile", "second"],
        b"https://second.example.com\ndapi-second\n",
    );
    assert_eq!(after.ok(), "");
    assert_eq!(
        env.read_config(),
        "[first]\nhost = https://first.example.com\ntoken = dapi-first\n\n\
         [second]\nhost = https://second.example.com\ntoken = dapi-second\n"
    );
}

#[test]
fn piped_answers_keep_stdout_empty_and_never_echo_the_token() {
    let env = TestEnv::without_profile(Config::default());
    let run = env.run_with_stdin(
        &["configure", "--token"],
        b"https://piped.example.com/\r\n  dapi-piped-secret  \r\n",
    );
    assert_eq!(run.ok(), "");
    assert!(!run.stderr.contains("dapi-piped-secret"), "{}", run.stderr);
    assert_eq!(
        env.read_config(),
        "[DEFAULT]\nhost = https://piped.example.com\ntoken = dapi-piped-secret\n"
    );

    // End of input keeps a token that is already there; for a new profile it is an error.
    let run = env.run_with_stdin(&["configure", "--host", "https://kept.example.com"], b"");
    assert_eq!(run.ok(), "");
    assert_eq!(
        env.read_config(),
        "[DEFAULT]\nhost = https://kept.example.com\ntoken = dapi-piped-secret\n"
    );
    let new_profile = [
        "configure",
        "--profile",
        "new",
        "--host",
        "https://n.example.com",
    ];
    let stderr = env
        .run_with_stdin(&new_profile, b"")
        .fails_with(1)
        .to_string();
    assert!(
        stderr.contains("token"),
        "says the token is missing: {stderr}"
    );
    assert!(!env.read_config().contains("[new]"), "nothing written");
}

/// A pseudo-terminal (through `script`) driven like a person: wait for a prompt, then type.
struct Terminal {
    child: Child,
    keyboard: Option<ChildStdin>,
    screen: Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

const PROMPT_TIMEOUT: Duration = Duration::from_secs(10);

impl Terminal {
    /// Runs `shell_command` through `sh` on a new pseudo-terminal.
    fn start(env: &TestEnv, shell_command: &str) -> Terminal {
        let mut command = env.terminal_command(shell_command);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("script starts");
        let keyboard = child.stdin.take();
        let mut output = child.stdout.take().expect("stdout piped");
        let (sender, screen) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(read @ 1..) = output.read(&mut buffer) {
                if sender.send(buffer[..read].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            keyboard,
            screen,
            seen: Vec::new(),
        }
    }

    fn screen_text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Waits until `text` has appeared on the terminal.
    #[track_caller]
    fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + PROMPT_TIMEOUT;
        while !self.screen_text().contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => panic!(
                    "{text:?} never appeared; the terminal showed {:?}",
                    self.screen_text()
                ),
            }
        }
    }

    fn type_line(&mut self, line: &str) {
        self.type_text(&format!("{line}\n"));
    }

    fn type_text(&mut self, text: &str) {
        let keyboard = self.keyboard.as_mut().expect("the keyboard is open");
        keyboard.write_all(text.as_bytes()).expect("typed");
        keyboard.flush().expect("flushed");
    }

    /// Waits for the command to end; returns its exit code and everything the terminal showed.
    fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + PROMPT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "the command did not end; the terminal showed {:?}",
                        self.screen_text()
                    );
                }
            }
        }
        drop(self.keyboard.take());
        let status = self.child.wait().expect("script ends");
        (status.code().unwrap_or(-1), self.screen_text())
    }
}

/// A shell command that runs the binary with `args`.
fn databricks(args: &str) -> String {
    format!("'{BINARY}' {args}")
}

const HOST_PROMPT: &str = "Databricks Host (should begin with https://)";

#[test]
fn at_a_terminal_it_prompts_and_masks_the_existing_token() {
    let env = TestEnv::without_profile(Config::default());
    env.write_config("[DEFAULT]\nhost = https://old.example.com\ntoken = dapi-old-secret-token\n");
    let mut terminal = Terminal::start(&env, &databricks("configure --token"));
    terminal.expect(&format!("{HOST_PROMPT} [https://old.example.com]: "));
    terminal.type_line("https://new.example.com/path");
    terminal.expect("Token [********]: ");
    terminal.type_line("");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("dapi-old-secret-token"), "{screen}");
    assert_eq!(
        env.read_config(),
        "[DEFAULT]\nhost = https://new.example.com\ntoken = dapi-old-secret-token\n"
    );
}

#[test]
fn at_a_terminal_a_new_token_replaces_the_old_and_prompts_are_on_stderr() {
    let env = TestEnv::without_profile(Config::default());
    env.write_config("[work]\nhost = https://work.example.com\ntoken = dapi-old-secret-token\n");
    // stdout goes nowhere: the prompts must still reach the person, on stderr.
    let mut terminal = Terminal::start(&env, &databricks("configure --profile work > /dev/null"));
    terminal.expect(&format!("{HOST_PROMPT} [https://work.example.com]: "));
    terminal.type_line("");
    terminal.expect("Token [********]: ");
    terminal.type_line("dapi-typed-token");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("dapi-old-secret-token"), "{screen}");
    assert_eq!(
        env.read_config(),
        "[work]\nhost = https://work.example.com\ntoken = dapi-typed-token\n"
    );
}

#[test]
fn at_a_terminal_without_a_profile_the_token_prompt_has_no_default() {
    let env = TestEnv::without_profile(Config::default());
    let mut terminal = Terminal::start(
        &env,
        &databricks("configure --host https://fresh.example.com"),
    );
    terminal.expect("Token: ");
    terminal.type_line("dapi-fresh");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains(HOST_PROMPT),
        "--host given, no host prompt: {screen}"
    );
    assert_eq!(
        env.read_config(),
        "[DEFAULT]\nhost = https://fresh.example.com\ntoken = dapi-fresh\n"
    );
    assert_eq!(file_mode(&env.config_path()), 0o600);
}

#[test]
fn ctrl_c_at_the_hidden_token_prompt_gives_the_terminal_its_echo_back() {
    let env = TestEnv::without_profile(Config::default());
    // The shell survives the Ctrl-C (a trap, not an ignore, which the binary would inherit) to
    // show the terminal's settings afterwards.
    let configure = databricks("configure --host https://h.example.com");
    let shell_command = format!("trap : INT; {configure}; echo \"exit=$?\"; stty -a");
    let mut terminal = Terminal::start(&env, &shell_command);
    terminal.expect("Token: ");
    terminal.type_text("\u{3}");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("exit=130"), "interrupted: {screen}");
    let settings = screen.split("exit=130").nth(1).unwrap_or_default();
    let words: Vec<&str> = settings.split_whitespace().collect();
    assert!(words.contains(&"echo"), "echo is back on: {settings}");
    assert!(!words.contains(&"-echo"), "echo is back on: {settings}");
    assert!(!env.config_path().exists(), "nothing written");
}
