//! The Go CLI's command names and positional arguments: every alias and positional form sends
//! exactly the request of its legacy form (checked in the emulator's request log) and prints the
//! same; giving one value both ways is a usage error.

use serde_json::Value;

use crate::harness::TestEnv;

/// What the emulator saw of one request, without its arrival time.
#[derive(Debug, PartialEq)]
struct Sent {
    method: String,
    path: String,
    query: Value,
    body: Value,
    status: Option<u16>,
}

/// What one command form did: the last request it sent, its stdout, and the stored value of
/// `s`/`k` afterwards (the request log hides values).
#[derive(Debug, PartialEq)]
struct Outcome {
    request: Sent,
    stdout: Vec<u8>,
    stored_value: Option<Vec<u8>>,
}

/// Admin commands run before the form under test: scope `s` with secret `k` and a rule for
/// `data-team`.
const SETUP: [&[&str]; 3] = [
    &["secrets", "create-scope", "--scope", "s"],
    &[
        "secrets",
        "put",
        "--scope",
        "s",
        "--key",
        "k",
        "--string-value",
        "old",
    ],
    &[
        "secrets",
        "put-acl",
        "--scope",
        "s",
        "--principal",
        "data-team",
        "--permission",
        "WRITE",
    ],
];

fn env_after(setup: &[&[&str]]) -> TestEnv {
    let env = TestEnv::new();
    for command in setup {
        env.run(command).ok();
    }
    env
}

/// Runs `args` and reports what it did.
fn outcome(env: &TestEnv, args: &[&str]) -> Outcome {
    let run = env.run(args);
    assert_eq!(run.code, 0, "{args:?} failed: {}", run.stderr);
    let request = env
        .api_requests()
        .pop()
        .unwrap_or_else(|| panic!("{args:?} sent nothing"));
    Outcome {
        request: Sent {
            method: request.method,
            path: request.path,
            query: Value::Object(request.query_params),
            body: request.body,
            status: request.status,
        },
        stdout: run.stdout,
        stored_value: env.emulator.secret_bytes("s", "k"),
    }
}

/// Asserts that each of `alternatives`, run in a fresh environment after `setup`, does exactly
/// what `legacy` does.
#[track_caller]
fn assert_same_as_legacy(setup: &[&[&str]], legacy: &[&str], alternatives: &[&[&str]]) {
    let expected = outcome(&env_after(setup), legacy);
    for alternative in alternatives {
        let actual = outcome(&env_after(setup), alternative);
        assert_eq!(actual, expected, "{alternative:?} differs from {legacy:?}");
    }
}

/// For commands that change nothing: all forms run one after another in one environment (so
/// that they see the same timestamps) after [`SETUP`].
#[track_caller]
fn assert_reads_same_as_legacy(legacy: &[&str], alternatives: &[&[&str]]) {
    let env = env_after(&SETUP);
    let expected = outcome(&env, legacy);
    for alternative in alternatives {
        let actual = outcome(&env, alternative);
        assert_eq!(actual, expected, "{alternative:?} differs from {legacy:?}");
    }
}

#[test]
fn scope_commands_take_the_scope_positionally() {
    assert_same_as_legacy(
        &[],
        &[
            "secrets",
            "create-scope",
            "--scope",
            "s",
            "--initial-manage-principal",
            "users",
        ],
        &[&[
            "secrets",
            "create-scope",
            "s",
            "--initial-manage-principal",
            "users",
        ]],
    );
    assert_same_as_legacy(
        &SETUP,
        &["secrets", "delete-scope", "--scope", "s"],
        &[&["secrets", "delete-scope", "s"]],
    );
}

#[test]
fn put_aliases_and_positional_forms_send_the_same_request() {
    assert_same_as_legacy(
        &SETUP,
        &[
            "secrets",
            "put",
            "--scope",
            "s",
            "--key",
            "k",
            "--string-value",
            "new",
        ],
        &[
            &[
                "secrets",
                "write",
                "--scope",
                "s",
                "--key",
                "k",
                "--string-value",
                "new",
            ],
            &["secrets", "put-secret", "s", "k", "--string-value", "new"],
            &["secrets", "put", "s", "k", "--string-value", "new"],
            &[
                "secrets",
                "put",
                "--scope",
                "s",
                "k",
                "--string-value",
                "new",
            ],
            &[
                "secrets",
                "put-secret",
                "--string-value",
                "new",
                "--key",
                "k",
                "s",
            ],
        ],
    );
}

#[test]
fn list_delete_and_get_aliases_send_the_same_request() {
    assert_reads_same_as_legacy(
        &["secrets", "list", "--scope", "s"],
        &[&["secrets", "list", "s"]],
    );
    // The Go name speaks the Go dialect, as `-o text` asks any name to.
    assert_reads_same_as_legacy(
        &["secrets", "list", "--scope", "s", "-o", "text"],
        &[&["secrets", "list-secrets", "s"]],
    );
    assert_same_as_legacy(
        &SETUP,
        &["secrets", "delete", "--scope", "s", "--key", "k"],
        &[
            &["secrets", "delete-secret", "s", "k"],
            &["secrets", "delete", "s", "k"],
            &["secrets", "delete-secret", "--scope", "s", "k"],
        ],
    );
    assert_reads_same_as_legacy(
        &["secrets", "get", "--scope", "s", "--key", "k"],
        &[
            &["secrets", "get", "s", "k"],
            &["secrets", "get", "--key", "k", "s"],
        ],
    );
    // `get-secret` prints JSON in either format, as the Go CLI does.
    assert_reads_same_as_legacy(
        &[
            "secrets", "get", "--scope", "s", "--key", "k", "--output", "json",
        ],
        &[
            &["secrets", "get-secret", "s", "k"],
            &["secrets", "get-secret", "--key", "k", "s"],
            &["secrets", "get-secret", "s", "k", "-o", "JSON"],
            &["secrets", "get-secret", "s", "k", "-o", "text"],
        ],
    );
}

#[test]
fn acl_aliases_and_positional_forms_send_the_same_request() {
    assert_same_as_legacy(
        &SETUP,
        &[
            "secrets",
            "put-acl",
            "--scope",
            "s",
            "--principal",
            "bob@example.com",
            "--permission",
            "READ",
        ],
        &[
            &[
                "secrets",
                "write-acl",
                "--scope",
                "s",
                "--principal",
                "bob@example.com",
                "--permission",
                "READ",
            ],
            &["secrets", "put-acl", "s", "bob@example.com", "READ"],
            &["secrets", "write-acl", "s", "bob@example.com", "read"],
            &[
                "secrets",
                "put-acl",
                "--scope",
                "s",
                "bob@example.com",
                "Read",
            ],
            &[
                "secrets",
                "put-acl",
                "--permission",
                "READ",
                "s",
                "bob@example.com",
            ],
        ],
    );
    assert_same_as_legacy(
        &SETUP,
        &[
            "secrets",
            "get-acl",
            "--scope",
            "s",
            "--principal",
            "data-team",
        ],
        &[
            &["secrets", "get-acl", "s", "data-team"],
            &["secrets", "get-acl", "--principal", "data-team", "s"],
        ],
    );
    assert_reads_same_as_legacy(
        &["secrets", "list-acls", "--scope", "s"],
        &[&["secrets", "list-acls", "s"]],
    );
    assert_same_as_legacy(
        &SETUP,
        &[
            "secrets",
            "delete-acl",
            "--scope",
            "s",
            "--principal",
            "data-team",
        ],
        &[&["secrets", "delete-acl", "s", "data-team"]],
    );
}

#[test]
fn the_legacy_output_option_is_read_in_any_case() {
    let listings: [&[&str]; 4] = [
        &["secrets", "list-scopes"],
        &["secrets", "list", "s"],
        &["secrets", "list-acls", "s"],
        &["secrets", "get-acl", "s", "data-team"],
    ];
    for command in listings {
        let json = [command, &["--output", "JSON"]].concat();
        assert_reads_same_as_legacy(
            &json,
            &[
                &[command, &["--output", "json"]].concat(),
                &[command, &["--output=Json"]].concat(),
            ],
        );
        let table = [command, &["--output", "TABLE"]].concat();
        assert_reads_same_as_legacy(
            &table,
            &[command, &[command, &["--output", "table"]].concat()],
        );
    }
}

#[test]
fn an_unknown_output_format_is_a_usage_error() {
    let env = TestEnv::new();
    let stderr = env
        .run(&["secrets", "list-scopes", "-o", "yaml"])
        .fails_with(2)
        .to_string();
    assert!(stderr.contains("yaml"), "{stderr}");
    assert!(env.api_requests().is_empty());
}

#[test]
fn a_value_given_both_positionally_and_as_an_option_is_a_usage_error() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "s"]).ok();
    let before = env.api_requests().len();
    let cases: [(&[&str], &str); 6] = [
        (&["create-scope", "--scope", "s", "t"], "scope"),
        (&["delete-scope", "s", "--scope", "s"], "scope"),
        (
            &[
                "put",
                "--scope",
                "s",
                "--key",
                "k",
                "s",
                "k",
                "--string-value",
                "v",
            ],
            "scope",
        ),
        (&["get", "--key", "k", "s", "k"], "key"),
        (&["list-acls", "s", "--scope", "s"], "scope"),
        (
            &[
                "put-acl",
                "s",
                "p",
                "READ",
                "--scope",
                "s",
                "--principal",
                "p",
                "--permission",
                "READ",
            ],
            "scope",
        ),
    ];
    for (args, name) in cases {
        let run = env.run(&[&["secrets"][..], args].concat());
        let stderr = run.fails_with(2);
        assert!(
            stderr.contains(&format!(
                "the {name} was given twice, as --{name} and as a positional argument"
            )),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(env.api_requests().len(), before, "nothing was sent");
}

#[test]
fn a_missing_value_names_both_ways_to_give_it() {
    let env = TestEnv::new();
    let run = env.run(&["secrets", "put-acl", "s", "bob@example.com"]);
    let stderr = run.fails_with(2);
    assert!(stderr.contains("--permission"), "{stderr}");
    assert!(stderr.contains("PERMISSION"), "{stderr}");
    let run = env.run(&["secrets", "delete-scope"]);
    assert!(run.fails_with(2).contains("--scope"));
    assert!(env.api_requests().is_empty());
}
