//! `databricks configure`: what it writes, what it keeps byte for byte, file modes, where the
//! host and token come from (flags, files, environment, piped lines, a terminal), and that a
//! failure writes nothing.

use std::path::Path;

use databricks_emulator::Config;

#[cfg(unix)]
use crate::harness::file_mode;
use crate::harness::{Run, TestEnv, read_config_text};

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

#[cfg(unix)] // file modes
#[test]
fn a_new_file_is_private_and_a_loose_one_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
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
    let written = read_config_text(&elsewhere);
    let added = written.strip_prefix(RICH_CONFIG).expect("old content kept");
    assert_eq!(
        added.trim_start_matches('\n'),
        "[ci]\nhost = https://ci.example.com\ntoken = dapi-ci\n"
    );
    #[cfg(unix)] // Windows has no permission bits.
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

#[test]
fn the_profile_variable_chooses_the_profile_and_the_profile_written_is_named() {
    let env = TestEnv::without_profile(Config::default());
    env.write_config(RICH_CONFIG);
    let mut command = env.command(&["configure", "--host", "https://ci.example.com"]);
    command.env("DATABRICKS_CONFIG_PROFILE", "ci");
    let run = env.run_command(command, b"dapi-ci\n");
    assert_eq!(run.ok(), "");
    let path = env.config_path().display().to_string();
    assert_eq!(run.stderr, format!("Wrote profile `ci` to {path}.\n"));
    let added = env.read_config();
    let added = added.strip_prefix(RICH_CONFIG).expect("old content kept");
    assert_eq!(
        added.trim_start_matches('\n'),
        "[ci]\nhost = https://ci.example.com\ntoken = dapi-ci\n"
    );

    // --profile wins over the variable.
    let mut command = env.command(&["configure", "--profile", "dev", "--host", "h.example.com"]);
    command.env("DATABRICKS_CONFIG_PROFILE", "ci");
    let run = env.run_command(command, b"dapi-dev-2\n");
    assert_eq!(run.ok(), "");
    assert_eq!(run.stderr, format!("Wrote profile `dev` to {path}.\n"));
    assert!(env.read_config().contains("token   =   dapi-dev-2\n"));
    assert!(
        env.read_config()
            .contains("[ci]\nhost = https://ci.example.com\n")
    );
}

#[test]
fn environment_credentials_that_override_the_default_profile_are_pointed_out() {
    let env = TestEnv::without_profile(Config::default());
    let configure = |vars: &[(&str, &str)], args: &[&str]| {
        let mut command =
            env.command(&[&["configure", "--host", "https://a.example.com"], args].concat());
        for (name, value) in vars {
            command.env(name, value);
        }
        env.run_command(command, b"dapi-a\n")
    };
    let run = configure(&[("DATABRICKS_HOST", "https://env.example.com")], &[]);
    assert_eq!(run.ok(), "");
    assert!(
        run.stderr.starts_with("Warning: DATABRICKS_HOST is set"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("[DEFAULT]"), "{}", run.stderr);
    assert!(!run.stderr.contains("env.example.com"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);

    let both = [
        ("DATABRICKS_HOST", "https://env.example.com"),
        ("DATABRICKS_TOKEN", "dapi-env-secret"),
    ];
    let run = configure(&both, &["--profile", "DEFAULT"]);
    assert!(
        run.stderr
            .contains("DATABRICKS_HOST and DATABRICKS_TOKEN are set"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("dapi-env-secret"), "{}", run.stderr);

    // A named profile is read whatever the environment says, so there is nothing to point out.
    let run = configure(&both, &["--profile", "work"]);
    assert!(!run.stderr.contains("Warning"), "{}", run.stderr);
    let mut named = both.to_vec();
    named.push(("DATABRICKS_CONFIG_PROFILE", "DEFAULT"));
    assert_eq!(configure(&named, &[]).stderr, "");
    assert_eq!(configure(&[], &[]).stderr, "");
}

#[test]
fn configuring_without_insecure_removes_it() {
    let env = TestEnv::without_profile(Config::default());
    env.write_config("[DEFAULT]\nhost = https://a.example.com\ninsecure = true\ntoken = t\n\n[other]\ninsecure = true\n");
    let run = configure_with_token_file(&env, &["--host", "https://a.example.com"], "dapi-a");
    assert_eq!(run.ok(), "");
    assert_eq!(
        env.read_config(),
        "[DEFAULT]\nhost = https://a.example.com\ntoken = dapi-a\n\n[other]\ninsecure = true\n"
    );
}

#[test]
fn a_host_with_a_password_is_refused_without_showing_the_password() {
    let env = TestEnv::without_profile(Config::default());
    for (host, shown) in [
        (
            "https://me:hunter2@h.example.com/x",
            "https://h.example.com/x",
        ),
        ("me:hunter2@h.example.com", "h.example.com"),
        ("https://me:hunter2 @h.example.com", "https://h.example.com"),
    ] {
        let run = configure_with_token_file(&env, &["--host", host], "dapi-a");
        let stderr = run.fails_with(1);
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert!(stderr.contains(&format!("`{shown}`")), "{stderr}");
        assert!(!env.config_path().exists());
    }
}

#[test]
fn a_host_and_token_given_the_wrong_way_round_are_refused_without_showing_the_token() {
    let env = TestEnv::without_profile(Config::default());
    let personal_token = "dapi0123456789abcdef0123456789abcdef";
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZSJ9.c2lnbmF0dXJl";
    for token in [personal_token, jwt] {
        let answers = format!("{token}\nhttps://h.example.com\n");
        let run = env.run_with_stdin(&["configure"], answers.as_bytes());
        let stderr = run.fails_with(1);
        assert!(stderr.contains("the host looks like a token"), "{stderr}");
        assert!(stderr.contains("swapped"), "{stderr}");
        assert!(!stderr.contains(&token[..12]), "{stderr}");
    }
    for url in [
        "https://h.example.com",
        "HTTP://10.0.0.1:8080",
        "adb-1234567890123456.7.azuredatabricks.net",
        "h.example.com:443/x",
    ] {
        let answers = format!("https://h.example.com\n{url}\n");
        let run = env.run_with_stdin(&["configure"], answers.as_bytes());
        let stderr = run.fails_with(1);
        assert!(
            stderr.contains("the token looks like a URL"),
            "{url}: {stderr}"
        );
        assert!(!stderr.contains(url), "{stderr}");
    }
    assert!(!env.config_path().exists());
    // Tokens that merely contain dots or `dapi` are fine.
    let run = configure_with_token_file(&env, &["--host", "https://h.example.com"], jwt);
    assert_eq!(run.ok(), "");
}

#[test]
fn a_token_with_spaces_or_control_characters_inside_is_refused() {
    let env = TestEnv::without_profile(Config::default());
    for token in [
        "dapi abc",
        "dapi\tabc",
        "dapi\u{1b}[31mabc",
        "dapi\u{7f}abc",
    ] {
        let run = configure_with_token_file(&env, &["--host", "https://h.example.com"], token);
        let stderr = run.fails_with(1);
        assert!(stderr.contains("spaces or control characters"), "{stderr}");
        assert!(!stderr.contains("abc"), "{stderr}");
        assert!(!env.config_path().exists(), "{token:?} was stored");
    }
    let run = env.run_with_stdin(
        &["configure", "--host", "https://h.example.com"],
        b"da pi\n",
    );
    run.fails_with(1);
    assert!(!env.config_path().exists());
}

/// Prompts on a pseudo-terminal (`script`), hidden input and Ctrl-C: Unix terminals only.
#[cfg(unix)]
mod terminal {
    use std::fs;
    use std::io::{Read, Write};
    use std::process::{Child, ChildStdin, Stdio};
    use std::sync::mpsc::{self, Receiver};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::harness::BINARY;

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
        env.write_config(
            "[DEFAULT]\nhost = https://old.example.com\ntoken = dapi-old-secret-token\n",
        );
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
        env.write_config(
            "[work]\nhost = https://work.example.com\ntoken = dapi-old-secret-token\n",
        );
        // stdout goes nowhere: the prompts must still reach the person, on stderr.
        let mut terminal =
            Terminal::start(&env, &databricks("configure --profile work > /dev/null"));
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

    /// Words of `stty -a` on the terminal, `echo` or `-echo` among them.
    const ECHO_STATE: &str = "stty -a </dev/tty | tr ' ;' '\\n\\n' | grep -x -e echo -e -echo";

    /// A shell command that prints `ECHO-OFF` once the terminal's echo is off (polling in the
    /// background for up to 10 s), while `foreground` runs; then prints its exit code and the echo
    /// state.
    fn report_echo_off_while(foreground: &str) -> String {
        format!(
            "( for i in $(seq 200); do [ \"$({ECHO_STATE})\" = -echo ] && echo ECHO-OFF && break; \
             sleep 0.05; done ) & {foreground}; echo \"exit=$?\"; echo \"after=$({ECHO_STATE})\"; wait"
        )
    }

    /// The config file as a FIFO: `configure` blocks reading it until the test writes it, which
    /// holds the binary between its start and its token prompt.
    fn config_fifo(env: &TestEnv) -> std::path::PathBuf {
        let fifo = env.home().join("cfg.fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
        fifo
    }

    #[test]
    fn a_token_typed_before_its_prompt_appears_is_not_shown() {
        let env = TestEnv::without_profile(Config::default());
        let fifo = config_fifo(&env);
        let configure = format!(
            "DATABRICKS_CONFIG_FILE='{}' {}",
            fifo.display(),
            databricks("configure --host https://h.example.com")
        );
        let mut terminal = Terminal::start(&env, &report_echo_off_while(&configure));
        // The binary is waiting for its config file, the prompt not yet shown: type ahead.
        terminal.expect("ECHO-OFF");
        assert!(!terminal.screen_text().contains("Token"));
        terminal.type_line("dapi-typed-ahead");
        // Read once for the current values (then the prompt shows), once under the lock to update.
        fs::write(&fifo, "").expect("the config file is read");
        terminal.expect("Token: ");
        fs::write(&fifo, "").expect("the config file is read again");
        let (code, screen) = terminal.finish();
        assert_eq!(code, 0, "{screen}");
        assert!(screen.contains("exit=0"), "{screen}");
        assert!(screen.contains("after=echo"), "echo is back: {screen}");
        assert!(
            !screen.contains("dapi-typed-ahead"),
            "the token was shown: {screen}"
        );
        assert_eq!(
            read_config_text(&fifo),
            "[DEFAULT]\nhost = https://h.example.com\ntoken = dapi-typed-ahead\n"
        );
    }

    #[test]
    fn ctrl_c_before_the_token_prompt_gives_the_terminal_its_echo_back() {
        let env = TestEnv::without_profile(Config::default());
        let fifo = config_fifo(&env);
        let configure = format!(
            "DATABRICKS_CONFIG_FILE='{}' {}",
            fifo.display(),
            databricks("configure --host https://h.example.com")
        );
        let shell_command = format!("trap : INT; {}", report_echo_off_while(&configure));
        let mut terminal = Terminal::start(&env, &shell_command);
        terminal.expect("ECHO-OFF");
        terminal.type_text("\u{3}");
        let (code, screen) = terminal.finish();
        assert_eq!(code, 0, "{screen}");
        assert!(screen.contains("exit=130"), "interrupted: {screen}");
        assert!(screen.contains("after=echo"), "echo is back: {screen}");
    }
}
