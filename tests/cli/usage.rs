//! How commands are called: every invalid argument value is a usage error (exit 2) found before
//! any request, a global option with a value given at two levels is refused like a repeated
//! one, and `--output json` is accepted by every command.

use serde_json::Value;

use crate::harness::TestEnv;

/// A `[DEFAULT]` admin profile and the scope `app` with the secret `k`.
fn env_with_secret() -> TestEnv {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "app"]).ok();
    env.run(&["secrets", "put", "app", "k", "--string-value", "v"])
        .ok();
    env.emulator.clear_requests();
    env
}

#[test]
fn every_invalid_argument_value_is_a_usage_error_before_any_request() {
    let env = env_with_secret();
    let cases: [(&[&str], &str); 19] = [
        (&["create-scope", "no spaces"], "invalid scope name"),
        (&["create-scope", ""], "the scope is empty"),
        (
            &["create-scope", "s", "--initial-manage-principal", ""],
            "principal is empty",
        ),
        (
            &["put", "no/slash", "k", "--string-value", "v"],
            "invalid scope name",
        ),
        (
            &["put", "app", "bad key", "--string-value", "v"],
            "invalid key name",
        ),
        (&["put", "app", "k", "--string-value", ""], "value is empty"),
        (
            &[
                "put",
                "app",
                "k",
                "--string-value",
                "a",
                "--bytes-value",
                "b",
            ],
            "--bytes-value",
        ),
        (
            &["put", "app", "k", "--scope", "app", "--string-value", "v"],
            "given twice",
        ),
        (
            &["put-acl", "app", "bob@example.com", "OWNER"],
            "invalid permission",
        ),
        (&["put-acl", "app", "", "READ"], "the principal is empty"),
        (&["get-acl", "app", " "], "the principal is empty"),
        (
            &["delete-acl", "--scope", "app", "--principal", ""],
            "the principal is empty",
        ),
        (&["get", "app", ""], "the key is empty"),
        (&["get-secret", "", "k"], "the scope is empty"),
        (&["delete", "app", " "], "the key is empty"),
        (&["list", ""], "the scope is empty"),
        (&["list-acls", "--scope", ""], "the scope is empty"),
        (&["delete-scope", "\t"], "the scope is empty"),
        (&["get", "app", "k", "-o", "yaml"], "yaml"),
    ];
    for (args, fragment) in cases {
        let run = env.run(&[&["secrets"][..], args].concat());
        let stderr = run.fails_with(2);
        assert!(stderr.contains(fragment), "{args:?}: {stderr}");
    }
    assert_eq!(env.api_requests(), [], "nothing may be sent");
}

#[test]
fn an_empty_or_oversized_piped_value_is_a_usage_error() {
    let env = env_with_secret();
    for (value, fragment) in [(Vec::new(), "empty"), (vec![b'x'; 131_073], "131072")] {
        let run = env.run_with_stdin(&["secrets", "put", "app", "k"], &value);
        let stderr = run.fails_with(2);
        assert!(stderr.contains(fragment), "{stderr}");
    }
    assert_eq!(env.api_requests(), [], "nothing may be sent");
}

#[test]
fn a_global_option_with_a_value_given_at_two_levels_is_a_usage_error() {
    let env = env_with_secret();
    env.add_profile("other", &env.emulator.admin_token());
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "--profile",
                "DEFAULT",
                "secrets",
                "list-scopes",
                "--profile",
                "other",
            ],
            "--profile",
        ),
        (
            &[
                "secrets",
                "--profile",
                "other",
                "list",
                "app",
                "--profile=other",
            ],
            "--profile",
        ),
        (
            &["-o", "json", "secrets", "list-scopes", "--output", "table"],
            "--output",
        ),
        (
            &["secrets", "--output=json", "get", "app", "k", "-ojson"],
            "--output",
        ),
        (&["--output", "json", "version", "-o", "json"], "--output"),
    ];
    for (args, option) in cases {
        let run = env.run(args);
        let stderr = run.fails_with(2);
        assert!(
            stderr.contains(&format!("'{option}' cannot be used multiple times")),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(env.api_requests(), [], "nothing may be sent");

    // A flag says the same thing however often it is given.
    let run = env.run(&["--debug", "secrets", "list-scopes", "--debug"]);
    assert!(run.ok().contains("app"));
}

#[test]
fn output_json_is_accepted_by_every_command_and_changes_print_nothing() {
    let env = TestEnv::new();
    let token_file = env.home().join("token");
    std::fs::write(&token_file, env.emulator.admin_token()).expect("token file");
    std::fs::write(env.home().join("app.env"), "IMPORTED=1\n").expect("import file");
    let url = env.url();
    let changes: [&[&str]; 8] = [
        &["secrets", "create-scope", "app"],
        &["secrets", "put", "app", "k", "--string-value", "v"],
        &["secrets", "import", "app", "app.env"],
        &["secrets", "put-acl", "app", "bob@example.com", "READ"],
        &["secrets", "delete-acl", "app", "bob@example.com"],
        &["secrets", "delete", "app", "k"],
        &["secrets", "delete-scope", "app"],
        &[
            "configure",
            "--host",
            &url,
            "--token-file",
            token_file.to_str().expect("UTF-8"),
        ],
    ];
    let output_forms: [&[&str]; 2] = [&["-o", "json"], &["--output", "JSON"]];
    for (index, command) in changes.into_iter().enumerate() {
        let output = output_forms[index % 2];
        let run = env.run(&[command, output].concat());
        assert_eq!(run.ok(), "", "{command:?} {output:?} printed something");
    }
    assert!(env.emulator.scope_names().is_empty(), "the commands ran");
    assert!(env.read_config().contains(&url), "configure ran");

    env.run(&["secrets", "create-scope", "app"]).ok();
    env.run(&["secrets", "put", "app", "k", "--string-value", "v"])
        .ok();
    let readers: [&[&str]; 7] = [
        &["secrets", "list-scopes"],
        &["secrets", "list", "app"],
        &["secrets", "list-acls", "app"],
        &["secrets", "get-acl", "app", "admin@example.com"],
        &["secrets", "get", "app", "k"],
        &["secrets", "get-secret", "app", "k"],
        &["version"],
    ];
    for command in readers {
        let stdout = env.run(&[&["--output", "json"][..], command].concat()).ok();
        let json: Result<Value, _> = serde_json::from_str(&stdout);
        assert!(json.is_ok(), "{command:?} did not print JSON: {stdout}");
    }
    let script = env.run(&["completion", "bash", "-o", "json"]).ok();
    assert!(script.contains("databricks"), "completion ignores --output");
    let exported = env.run(&["secrets", "export", "app", "-o", "json"]).ok();
    assert!(
        exported.starts_with("k="),
        "export keeps its own --format: {exported}"
    );
}

#[test]
fn version_prints_what_the_sdks_parse() {
    let env = TestEnv::without_profile(Default::default());
    let line = env.run(&["version"]).ok();
    assert_eq!(env.run(&["--version"]).ok(), line);
    assert_eq!(env.run(&["-v"]).ok(), line);
    let version = line
        .strip_prefix("Databricks CLI v")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("not `Databricks CLI v<semver>`: {line:?}"));

    let json: Value = serde_json::from_str(&env.run(&["version", "--output", "json"]).ok())
        .expect("version --output json prints JSON");
    assert_eq!(json["Version"], version);
    let numbers: Vec<String> = ["Major", "Minor", "Patch"]
        .iter()
        .map(|field| {
            json[field]
                .as_u64()
                .unwrap_or_else(|| panic!("{field} is not a number: {json}"))
                .to_string()
        })
        .collect();
    assert!(
        version.starts_with(&numbers.join(".")),
        "{version} vs {numbers:?}"
    );
    assert!(env.api_requests().is_empty(), "version needs no workspace");
}
