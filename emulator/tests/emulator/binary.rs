//! The `databricks-emulator` binary (`serve`, `exec`) and state persistence across restarts.

use crate::Api;
use databricks_emulator::{Config, Emulator, Permission};
use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_databricks-emulator");

fn emulator_command(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.args(args);
    command
}

#[test]
fn exec_reports_a_missing_command_as_127() {
    let output = emulator_command(&["exec", "/nonexistent/command"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot run /nonexistent/command"));
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [
        &["--user", "no-equals-sign"][..],
        &["--group", "=x"],
        &["--bind", "not-an-address"],
        &["exec"],
        &["--rate-limit", "0"],
        &["--rate-limit", "10/0"],
        &["--rate-limit", "fast"],
        &["--latency", "-5"],
        &["--service-principal", "no-secret"],
        &["--azure-service-principal", "=secret"],
        &["--federation", "sp=only-issuer"],
        &["--cloud", "moon"],
        &["--token-ttl", "0"],
    ] {
        let output = emulator_command(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    let help = emulator_command(&["--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("dapi-emulator-admin-token"));
}

#[test]
fn an_unknown_login_user_is_reported_with_the_known_ones() {
    let output = emulator_command(&["exec", "--login-as", "nobody", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--login-as nobody: no such user") && stderr.contains("admin@example.com"),
        "{stderr}"
    );
}

#[test]
fn an_unusable_state_file_is_reported() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    std::fs::write(&state, "{ not json").unwrap();
    let output = emulator_command(&["exec", "--state"])
        .arg(&state)
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a valid emulator state"));
}

#[test]
fn a_state_file_in_a_missing_directory_fails_at_start() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("missing").join("state.json");
    let error = Emulator::start(Config::default().with_state_file(&state)).unwrap_err();
    assert!(
        matches!(error, databricks_emulator::Error::WriteState { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn state_survives_a_restart() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("nested-name.json");
    let config = Config::default()
        .with_user("alice@example.com", "alice-token")
        .with_state_file(&state);
    let emulator = Emulator::start(config.clone()).unwrap();
    let api = Api::admin(&emulator);
    api.create_scope("kept").await.assert_empty_ok();
    api.create_scope("gone").await.assert_empty_ok();
    api.put_bytes("kept", "bin", "AP8K").await.assert_empty_ok();
    api.put_string("kept", "text", "hello")
        .await
        .assert_empty_ok();
    api.put_acl("kept", "alice@example.com", "READ")
        .await
        .assert_empty_ok();
    api.delete_scope("gone").await.assert_empty_ok();
    let listed_before = api.list_secrets("kept").await.text;
    emulator.stop();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        std::fs::read_dir(directory.path()).unwrap().count(),
        1,
        "no temp files left"
    );

    let emulator = Emulator::start(config).unwrap();
    let api = Api::admin(&emulator);
    assert_eq!(emulator.scope_names(), ["kept"]);
    assert_eq!(api.list_secrets("kept").await.text, listed_before);
    assert_eq!(emulator.secret_bytes("kept", "bin").unwrap(), [0, 255, 10]);
    assert_eq!(
        emulator.acl("kept", "alice@example.com"),
        Some(Permission::Read)
    );
    Api::new(&emulator, "alice-token")
        .get_secret("kept", "text")
        .await
        .assert_ok();
}

/// Stopping `serve` with signals, and `exec` with commands run by `sh`.
#[cfg(unix)]
mod unix {
    use super::*;
    use databricks_emulator::DEFAULT_ADMIN_TOKEN;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Child, Stdio};
    use std::time::{Duration, Instant};

    /// Waits for a child to exit, killing it after `limit`.
    fn wait_with_limit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                panic!("the emulator did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn send_signal(child: &Child, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: signals the child this test spawned.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    #[tokio::test]
    async fn serve_prints_eval_lines_and_stops_cleanly_on_sigterm() {
        let directory = tempfile::tempdir().unwrap();
        let state = directory.path().join("state.json");
        let mut child = emulator_command(&["serve", "--token", "my token", "--state"])
            .arg(&state)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let host_line = lines.next().unwrap().unwrap();
        let token_line = lines.next().unwrap().unwrap();
        let host = host_line
            .strip_prefix("export DATABRICKS_HOST=http://127.0.0.1:")
            .map(|port| format!("http://127.0.0.1:{port}"))
            .unwrap_or_else(|| panic!("{host_line}"));
        assert_eq!(token_line, "export DATABRICKS_TOKEN='my token'");

        let api = Api::for_url(&host, Some("Bearer my token".into()));
        api.create_scope("persisted").await.assert_empty_ok();
        Api::for_url(
            &host,
            Some(format!(
                "Bearer {}",
                databricks_emulator::DEFAULT_ADMIN_TOKEN
            )),
        )
        .list_scopes()
        .await
        .assert_error(401, "UNAUTHENTICATED");

        send_signal(&child, libc::SIGTERM);
        assert!(wait_with_limit(&mut child, Duration::from_secs(5)).success());
        let saved = std::fs::read_to_string(&state).unwrap();
        assert!(saved.contains("\"persisted\""), "{saved}");
    }

    #[test]
    fn serve_is_the_default_and_sigint_stops_it() {
        let mut child = emulator_command(&[])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(
            lines
                .next()
                .unwrap()
                .unwrap()
                .starts_with("export DATABRICKS_HOST=http://127.0.0.1:")
        );
        assert_eq!(
            lines.next().unwrap().unwrap(),
            "export DATABRICKS_TOKEN=dapi-emulator-admin-token"
        );
        let pid_line = format!("export DATABRICKS_EMULATOR_PID={}", child.id());
        assert_eq!(lines.next().unwrap().unwrap(), pid_line);
        assert!(lines.next().is_none(), "stdout is closed after the exports");
        send_signal(&child, libc::SIGINT);
        assert!(wait_with_limit(&mut child, Duration::from_secs(5)).success());
    }

    #[tokio::test]
    async fn exec_runs_the_command_against_a_live_server_and_propagates_its_exit_code() {
        let script = r#"echo "$DATABRICKS_HOST $DATABRICKS_TOKEN ${DATABRICKS_CONFIG_PROFILE-unset}"; read reply; exit 7"#;
        let mut child = emulator_command(&[
            "exec",
            "--user",
            "ci@example.com=ci-token",
            "--",
            "sh",
            "-c",
            script,
        ])
        .env("DATABRICKS_CONFIG_PROFILE", "prod")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().unwrap().unwrap();
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[1..], ["ci-token", "unset"], "{line}");
        let api = Api::for_url(fields[0], Some("Bearer ci-token".into()));
        api.create_scope("from-test").await.assert_empty_ok();
        api.list_acls("from-test").await.assert_ok();

        child.stdin.take().unwrap().write_all(b"done\n").unwrap();
        let status = wait_with_limit(&mut child, Duration::from_secs(10));
        assert_eq!(status.code(), Some(7));
        let after = api
            .try_send("GET", "/api/2.0/secrets/scopes/list", None)
            .await;
        assert!(after.is_err(), "the server stops with the command");
    }

    /// `exec OPTIONS -- sh` that prints the host and waits for a line on its stdin.
    struct RunningExec {
        child: Child,
        host: String,
    }

    impl RunningExec {
        fn start(options: &[&str]) -> RunningExec {
            let script = r#"echo "$DATABRICKS_HOST"; read reply"#;
            let mut child = emulator_command(&["exec"])
                .args(options)
                .args(["--", "sh", "-c", script])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let host = lines.next().unwrap().unwrap();
            RunningExec { child, host }
        }

        /// Lets the command end, and checks that everything exits cleanly.
        fn finish(mut self) {
            self.child
                .stdin
                .take()
                .unwrap()
                .write_all(b"done\n")
                .unwrap();
            assert!(wait_with_limit(&mut self.child, Duration::from_secs(10)).success());
        }
    }

    #[tokio::test]
    async fn pacing_options_reach_the_server() {
        let running = RunningExec::start(&[
            "--latency",
            "25",
            "--rate-limit",
            "2.5/4",
            "--no-retry-after",
        ]);
        let api = Api::for_url(&running.host, Some(format!("Bearer {DEFAULT_ADMIN_TOKEN}")));
        let pacing = api
            .send("GET", "/__emulator/pacing", None)
            .await
            .assert_ok();
        running.finish();
        assert_eq!(
            pacing,
            serde_json::json!({
                "latency_ms": 25,
                "rate_limit": {"requests_per_second": 2.5, "burst": 4},
                "retry_after": false,
                "throttled": 0,
            })
        );
    }

    #[tokio::test]
    async fn identity_options_reach_the_server() {
        let running = RunningExec::start(&[
            "--service-principal",
            "ci-sp=ci-secret",
            "--federation",
            "gh-sp=https://token.actions.githubusercontent.com,repo:o/r:ref:refs/heads/main",
            "--cloud",
            "azure",
            "--azure-tenant-id",
            "tenant-9",
            "--azure-service-principal",
            "az-sp=az-secret",
            "--azure-managed-identity",
            "mi-1",
            "--user",
            "alice@example.com=alice-token",
            "--login-as",
            "alice@example.com",
            "--token-ttl",
            "90",
        ]);
        let anonymous = Api::for_url(&running.host, None);
        let metadata = anonymous
            .get("/.well-known/databricks-config", &[])
            .await
            .assert_ok();
        let tenant_redirect = anonymous.get("/aad/auth", &[]).await;
        let m2m = anonymous
            .post_form(
                "/oidc/v1/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "ci-sp"),
                    ("client_secret", "ci-secret"),
                ],
            )
            .await
            .assert_ok();
        let azure = anonymous
            .post_form(
                "/tenant-9/oauth2/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "az-sp"),
                    ("client_secret", "az-secret"),
                    (
                        "resource",
                        databricks_emulator::AZURE_DATABRICKS_LOGIN_APP_ID,
                    ),
                ],
            )
            .await;
        let login = anonymous
            .get(
                "/oidc/v1/authorize",
                &[
                    ("client_id", "databricks-cli"),
                    ("redirect_uri", "http://localhost:8020"),
                    ("response_type", "code"),
                    ("code_challenge", "c"),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        running.finish();

        assert_eq!(metadata["cloud"], "Azure");
        let location = tenant_redirect.headers["location"].to_str().unwrap();
        assert!(
            location.contains("/tenant-9/oauth2/authorize"),
            "{location}"
        );
        assert_eq!(m2m["expires_in"], 90);
        azure.assert_ok();
        let redirect = login.headers["location"].to_str().unwrap();
        assert!(
            redirect.starts_with("http://localhost:8020?code="),
            "{redirect}"
        );
    }

    #[test]
    fn exec_reports_a_signal_as_128_plus_its_number() {
        let status = emulator_command(&["exec", "--", "sh", "-c", "kill -TERM $$"])
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    }

    #[test]
    fn exec_accepts_a_single_path_without_double_dash() {
        let directory = tempfile::tempdir().unwrap();
        let script = directory.path().join("check.sh");
        std::fs::write(
            &script,
            "#!/bin/sh\ntest -n \"$DATABRICKS_HOST\" || exit 1\nexit 5\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
        let status = emulator_command(&["exec"]).arg(&script).status().unwrap();
        assert_eq!(status.code(), Some(5));
    }
}
