//! The example scripts in `examples/`: one in the legacy CLI's syntax only, one in the Go CLI's
//! syntax only. Each runs against the emulator, as `databricks-emulator exec SCRIPT` would run
//! it, with the freshly built binary first on PATH, and must exit 0.

use std::collections::BTreeSet;
use std::path::PathBuf;

use databricks_emulator::Config;

use crate::harness::{Run, TestEnv};

const LEGACY: &str = "legacy-syntax.sh";
const GO_CLI: &str = "go-cli-syntax.sh";

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Runs the script with bash, the credentials in DATABRICKS_HOST/DATABRICKS_TOKEN and no
/// config file, plus `extra_env`.
fn run_script(env: &TestEnv, name: &str, extra_env: &[(&str, &str)]) -> Run {
    let mut command = env.command_with_binary_on_path("bash");
    command
        .arg(script(name))
        .env("DATABRICKS_HOST", env.url())
        .env("DATABRICKS_TOKEN", env.emulator.admin_token());
    for (name, value) in extra_env {
        command.env(name, value);
    }
    env.run_command(command, b"")
}

/// Every call of the Secrets API, by path.
const ALL_CALLS: [&str; 11] = [
    "/api/2.0/secrets/scopes/create",
    "/api/2.0/secrets/scopes/delete",
    "/api/2.0/secrets/scopes/list",
    "/api/2.0/secrets/put",
    "/api/2.0/secrets/delete",
    "/api/2.0/secrets/list",
    "/api/2.0/secrets/get",
    "/api/2.0/secrets/acls/put",
    "/api/2.0/secrets/acls/delete",
    "/api/2.0/secrets/acls/get",
    "/api/2.0/secrets/acls/list",
];

#[track_caller]
fn assert_script_passes(name: &str, extra_env: &[(&str, &str)]) {
    let env = TestEnv::without_profile(Config::default());
    let run = run_script(&env, name, extra_env);
    let stdout = run.ok();
    assert!(stdout.ends_with("all commands passed\n"), "{stdout}");
    assert_eq!(run.stderr, "", "{name} printed on stderr");

    let called: BTreeSet<String> = env.api_requests().into_iter().map(|r| r.path).collect();
    for path in ALL_CALLS {
        assert!(called.contains(path), "{name} never calls {path}");
    }
    assert!(env.emulator.scope_names().is_empty(), "{name} cleans up");
    assert!(!env.config_path().exists(), "{name} needs no config file");
}

#[test]
fn the_legacy_syntax_script_runs_against_the_emulator() {
    assert_script_passes(LEGACY, &[]);
}

/// With jq where it is installed, as Go CLI scripts parse the JSON.
#[test]
fn the_go_cli_syntax_script_runs_against_the_emulator() {
    assert_script_passes(GO_CLI, &[]);
}

/// With python3's json module, the script's stand-in for a missing jq.
#[test]
fn the_go_cli_syntax_script_parses_json_with_python_too() {
    assert_script_passes(GO_CLI, &[("JSON_TOOL", "python3")]);
}

/// The `databricks secrets ...` lines of a script.
fn secrets_commands(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(script(name)).expect("the script is readable");
    text.lines()
        .filter(|line| line.contains("databricks secrets "))
        .map(str::to_string)
        .collect()
}

#[test]
fn each_script_keeps_to_its_own_syntax() {
    let legacy = secrets_commands(LEGACY);
    let go = secrets_commands(GO_CLI);
    assert!(
        legacy.len() > 20 && go.len() > 20,
        "the scripts call the CLI"
    );
    for line in &legacy {
        for go_only in ["-secret ", "-secrets ", " -o ", "--bytes-value"] {
            assert!(!line.contains(go_only), "not legacy syntax: {line}");
        }
        if !line.contains("list-scopes") {
            assert!(line.contains("--scope "), "the scope is an option: {line}");
        }
    }
    for line in &go {
        for legacy_only in [
            "--scope",
            "--key",
            "--principal",
            "--permission",
            "--output",
        ] {
            assert!(!line.contains(legacy_only), "not Go CLI syntax: {line}");
        }
    }
}

#[test]
fn the_scripts_check_their_results() {
    let env = TestEnv::without_profile(Config::default());
    // A stand-in that succeeds without doing anything must not pass for the real thing.
    for name in [LEGACY, GO_CLI] {
        let run = run_script(&env, name, &[("DATABRICKS_BIN", "true")]);
        assert_ne!(run.code, 0, "{name} passed without a working CLI");
        assert!(
            run.stderr.contains(name),
            "{name} says what failed: {}",
            run.stderr
        );
    }
}

#[cfg(unix)]
#[test]
fn the_scripts_are_executable() {
    for name in [LEGACY, GO_CLI] {
        let mode = crate::harness::file_mode(&script(name));
        assert_eq!(mode & 0o111, 0o111, "{name} is not executable");
    }
}
