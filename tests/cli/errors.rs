//! Errors and exit codes as a user sees them: `Error: CODE: message` for API errors, hints for
//! 401 and 403, exit 2 for usage errors (with nothing sent), a quick clear failure for an
//! unreachable host, and a readable report of an answer that is not JSON. Never a panic.

use std::time::{Duration, Instant};

use databricks_emulator::{Config, Fault};

use crate::harness::{ALICE, ALICE_TOKEN, Run, TestEnv};

#[track_caller]
fn assert_no_panic(run: &Run) {
    for sign in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!run.stderr.contains(sign), "{sign}: {}", run.stderr);
    }
}

#[test]
fn api_errors_show_code_and_message_on_one_line() {
    let env = TestEnv::new();
    let run = env.run(&["secrets", "list", "nope"]);
    assert_eq!(
        run.fails_with(1),
        "Error: RESOURCE_DOES_NOT_EXIST: Scope nope does not exist!\n"
    );

    env.run(&["secrets", "create-scope", "taken"]).ok();
    let run = env.run(&["secrets", "create-scope", "taken"]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.starts_with("Error: RESOURCE_ALREADY_EXISTS: "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let run = env.run(&["secrets", "delete", "taken", "no-such-key"]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.starts_with("Error: RESOURCE_DOES_NOT_EXIST: "),
        "{stderr}"
    );
    assert_no_panic(&run);
}

#[test]
fn a_rejected_token_gets_a_hint_naming_the_profile_and_file() {
    let env = TestEnv::new();
    env.add_profile("stale", "dapi-revoked-token");
    let run = env.run(&["--profile", "stale", "secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    let mut lines = stderr.lines();
    let first = lines.next().unwrap_or_default();
    assert!(first.starts_with("Error: UNAUTHENTICATED: "), "{stderr}");
    let hint = lines.collect::<Vec<_>>().join("\n");
    assert!(hint.contains("profile `stale`"), "{stderr}");
    assert!(
        hint.contains(env.config_path().to_str().expect("UTF-8")),
        "{stderr}"
    );
    assert!(hint.contains("databricks configure"), "{stderr}");
    assert!(!stderr.contains("dapi-revoked-token"), "{stderr}");
    let statuses: Vec<_> = env.api_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(401)], "one call, not retried");

    let mut command = env.command(&["secrets", "list-scopes"]);
    command
        .env("DATABRICKS_HOST", env.url())
        .env("DATABRICKS_TOKEN", "dapi-wrong");
    let run = env.run_command(command, b"");
    let stderr = run.fails_with(1);
    assert!(stderr.contains("UNAUTHENTICATED"), "{stderr}");
    assert!(
        stderr.contains("DATABRICKS_"),
        "names the environment: {stderr}"
    );
    assert!(!stderr.contains("dapi-wrong"), "{stderr}");
}

#[test]
fn a_missing_permission_gets_a_hint_naming_the_profile() {
    let env = TestEnv::with_emulator(Config::default().with_user(ALICE, ALICE_TOKEN));
    env.add_profile("alice", ALICE_TOKEN);
    env.run(&["secrets", "create-scope", "admins-only"]).ok();
    let run = env.run(&["secrets", "list", "admins-only", "--profile", "alice"]);
    let stderr = run.fails_with(1);
    assert!(stderr.starts_with("Error: PERMISSION_DENIED: "), "{stderr}");
    assert!(stderr.contains("profile `alice`"), "{stderr}");
    assert!(
        stderr.contains(env.config_path().to_str().expect("UTF-8")),
        "{stderr}"
    );
    let last = env.api_requests().pop().expect("a request");
    assert_eq!(
        (last.user.as_deref(), last.status),
        (Some(ALICE), Some(403))
    );
}

#[test]
fn usage_errors_exit_2_and_send_nothing() {
    let env = TestEnv::new();
    let value_file = env.home().join("v");
    std::fs::write(&value_file, "v").expect("written");
    let value_file = value_file.to_str().expect("UTF-8");
    let usage_errors: [&[&str]; 9] = [
        &["secrets", "list-scopes", "--bogus"],
        &["secrets", "list"],
        &["secrets", "delete-scope"],
        &["secrets", "put", "--key", "k", "--string-value", "v"],
        &[
            "secrets",
            "put",
            "s",
            "k",
            "--string-value",
            "a",
            "--bytes-value",
            "b",
        ],
        &[
            "secrets",
            "put",
            "s",
            "k",
            "--string-value",
            "",
            "--binary-file",
            value_file,
        ],
        &["secrets", "list", "--scope", "s", "s"],
        &["secrets", "list-scopes", "--output", "yaml"],
        &["secrets", "no-such-command"],
    ];
    for args in usage_errors {
        let run = env.run_with_stdin(args, b"piped value");
        let stderr = run.fails_with(2);
        assert!(!stderr.trim().is_empty(), "{args:?} says what is wrong");
        assert_no_panic(&run);
    }
    assert!(env.api_requests().is_empty(), "{:?}", env.api_requests());
    assert!(env.emulator.scope_names().is_empty());
}

#[test]
fn an_unreachable_host_fails_quickly_and_clearly() {
    let env = TestEnv::new();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("address").port()
    };
    let host = format!("http://127.0.0.1:{closed_port}");
    let mut command = env.command(&["secrets", "list-scopes"]);
    command
        .env("DATABRICKS_HOST", &host)
        .env("DATABRICKS_TOKEN", "dapi-unused")
        .env("RUST_BACKTRACE", "1");
    let started = Instant::now();
    let run = env.run_command(command, b"");
    let elapsed = started.elapsed();
    let stderr = run.fails_with(1);
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    let error = stderr
        .lines()
        .find(|line| line.starts_with("Error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(error.contains(&host), "names the host: {stderr}");
    assert_no_panic(&run);
    assert!(!stderr.contains("dapi-unused"), "{stderr}");
}

#[test]
fn an_answer_that_is_not_json_shows_the_status_and_an_excerpt() {
    let env = TestEnv::new();
    env.emulator.inject_fault(Fault::html(
        418,
        "<html><head><title>Sign in</title></head>\
         <body><h1>Corporate proxy login required</h1></body></html>",
    ));
    let run = env.run(&["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.contains("418"), "shows the status: {stderr}");
    assert!(
        stderr.contains("Corporate proxy login required"),
        "shows an excerpt: {stderr}"
    );
    assert!(!stderr.contains("<h1>"), "markup is dropped: {stderr}");
    assert_no_panic(&run);

    let long_page = format!(
        "<html><body>{}</body></html>",
        "All work and no play. ".repeat(500)
    );
    env.emulator.inject_fault(Fault::html(200, long_page));
    let run = env.run(&["secrets", "list-scopes"]);
    let stderr = run.fails_with(1);
    assert!(stderr.contains("200"), "{stderr}");
    assert!(stderr.contains("All work and no play."), "{stderr}");
    assert!(
        stderr.len() < 1000,
        "a short excerpt, not the page: {stderr}"
    );
}
