//! The walkthrough a new user follows, from no config file at all to an emptied workspace, all
//! through the binary: configure with piped answers, create a scope, put a value from each
//! source, list, delete.

use databricks_emulator::{Config, LoggedRequest};
use serde_json::{Value, json};

use crate::harness::TestEnv;
#[cfg(unix)]
use crate::harness::file_mode;

const SCOPE: &str = "team-secrets";

/// Values that only a byte-exact path keeps: not UTF-8, CR LF, trailing newlines.
const BINARY_FILE_BYTES: &[u8] = b"\x00\xff\xfe binary\r\n\x80";
const PIPED_BYTES: &[u8] = b"line one\nline two\n\n";

#[test]
fn a_new_user_configures_puts_lists_and_cleans_up() {
    let env = TestEnv::without_profile(Config::default());
    configure_from_piped_answers(&env);
    assert_mutation_prints_nothing(&env, &["secrets", "create-scope", SCOPE], b"");
    put_from_every_source(&env);

    let secrets = listed_secrets(&env, SCOPE);
    let keys: Vec<&str> = secrets.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        ["from-bytes-flag", "from-file", "from-flag", "from-stdin"]
    );
    let listed = env.run(&["secrets", "list", SCOPE]).ok();
    assert_eq!(listed, expected_secrets_table(&secrets));

    let scopes_table = env.run(&["secrets", "list-scopes"]).ok();
    assert_eq!(
        scopes_table,
        "Scope         Backend     KeyVault URL\n\
         ------------  ----------  --------------\n\
         team-secrets  DATABRICKS  N/A\n"
    );
    let scopes_json = env
        .run(&["secrets", "list-scopes", "--output", "json"])
        .ok();
    assert_eq!(
        scopes_json,
        "{\n  \"scopes\": [\n    {\n      \"name\": \"team-secrets\",\n      \
         \"backend_type\": \"DATABRICKS\"\n    }\n  ]\n}\n"
    );

    for key in ["from-flag", "from-file", "from-bytes-flag", "from-stdin"] {
        assert_mutation_prints_nothing(&env, &["secrets", "delete", SCOPE, key], b"");
    }
    assert_eq!(
        env.run(&["secrets", "list", SCOPE]).ok(),
        "Key name    Last updated\n----------  --------------\n"
    );
    assert_mutation_prints_nothing(&env, &["secrets", "delete-scope", SCOPE], b"");
    assert_eq!(
        env.run(&["secrets", "list-scopes"]).ok(),
        "Scope    Backend    KeyVault URL\n-------  ---------  --------------\n"
    );
    assert!(env.emulator.scope_names().is_empty());
    let mut users = env.api_requests().into_iter().map(|request| request.user);
    assert!(users.all(|user| user.as_deref() == Some("admin@example.com")));
}

/// `printf '%s\n%s\n' "$HOST" "$TOKEN" | databricks configure --token`, as in CI.
fn configure_from_piped_answers(env: &TestEnv) {
    assert!(!env.config_path().exists());
    let answers = format!("{}\n{}\n", env.url(), env.emulator.admin_token());
    assert_mutation_prints_nothing(env, &["configure", "--token"], answers.as_bytes());
    assert_eq!(
        env.read_config(),
        format!(
            "[DEFAULT]\nhost = {}\ntoken = {}\n",
            env.url(),
            env.emulator.admin_token()
        )
    );
    #[cfg(unix)] // Windows has no permission bits.
    assert_eq!(file_mode(&env.config_path()), 0o600);
    assert!(env.api_requests().is_empty(), "configure calls no API");
}

fn put_from_every_source(env: &TestEnv) {
    let value_file = env.home().join("value.bin");
    std::fs::write(&value_file, BINARY_FILE_BYTES).expect("value file written");
    let value_file = value_file.to_str().expect("a UTF-8 temporary path");
    put_and_check(
        env,
        "from-flag",
        &["--string-value", "s3cr3t "],
        b"",
        b"s3cr3t ",
        "string_value",
    );
    put_and_check(
        env,
        "from-file",
        &["--binary-file", value_file],
        b"",
        BINARY_FILE_BYTES,
        "bytes_value",
    );
    put_and_check(
        env,
        "from-bytes-flag",
        &["--bytes-value", "raw bytes"],
        b"",
        b"raw bytes",
        "bytes_value",
    );
    put_and_check(
        env,
        "from-stdin",
        &[],
        PIPED_BYTES,
        PIPED_BYTES,
        "string_value",
    );
}

/// Puts `key` with the `source` options (and `stdin`), then checks the stored bytes and that the
/// request carried the value in `field` only.
fn put_and_check(
    env: &TestEnv,
    key: &str,
    source: &[&str],
    stdin: &[u8],
    stored: &[u8],
    field: &str,
) {
    env.emulator.clear_requests();
    let mut args = vec!["secrets", "put", "--scope", SCOPE, "--key", key];
    args.extend_from_slice(source);
    assert_mutation_prints_nothing(env, &args, stdin);
    assert_eq!(
        env.emulator.secret_bytes(SCOPE, key).as_deref(),
        Some(stored),
        "{key}"
    );
    let [put] = <[LoggedRequest; 1]>::try_from(env.api_requests()).expect("one request");
    assert_eq!(put.path, "/api/2.0/secrets/put");
    assert_eq!(
        put.body,
        json!({"scope": SCOPE, "key": key, field: "***"}),
        "{key} is sent as {field} only"
    );
}

#[track_caller]
fn assert_mutation_prints_nothing(env: &TestEnv, args: &[&str], stdin: &[u8]) {
    let run = env.run_with_stdin(args, stdin);
    assert_eq!(run.ok(), "", "{args:?} printed on stdout");
    assert!(!run.stderr.contains("Error"), "{args:?}: {}", run.stderr);
}

/// (key, last_updated_timestamp) as the emulator answers `list --output json`.
fn listed_secrets(env: &TestEnv, scope: &str) -> Vec<(String, i64)> {
    let json: Value = serde_json::from_str(
        &env.run(&["secrets", "list", scope, "--output", "JSON"])
            .ok(),
    )
    .expect("list --output json prints JSON");
    let secrets = json["secrets"].as_array().expect("a secrets array");
    secrets
        .iter()
        .map(|secret| {
            let key = secret["key"].as_str().expect("a key").to_string();
            let timestamp = secret["last_updated_timestamp"]
                .as_i64()
                .expect("a timestamp");
            (key, timestamp)
        })
        .collect()
}

/// The legacy layout: key column as wide as max(header + 2, longest key), left-aligned; the
/// all-numbers timestamp column right-aligned, header included; two-space gap.
fn expected_secrets_table(secrets: &[(String, i64)]) -> String {
    let key_width = secrets
        .iter()
        .map(|(key, _)| key.len())
        .fold("Key name".len() + 2, usize::max);
    let time_width = secrets
        .iter()
        .map(|(_, timestamp)| timestamp.to_string().len())
        .fold("Last updated".len() + 2, usize::max);
    let mut table = format!(
        "{:<key_width$}  {:>time_width$}\n{}  {}\n",
        "Key name",
        "Last updated",
        "-".repeat(key_width),
        "-".repeat(time_width)
    );
    for (key, timestamp) in secrets {
        table.push_str(&format!("{key:<key_width$}  {timestamp:>time_width$}\n"));
    }
    table
}

#[test]
fn long_scope_names_are_cut_in_the_table_but_not_in_json() {
    let env = TestEnv::new();
    let long_name = format!("{}-tail-beyond-the-cut", "a".repeat(100));
    assert_eq!(long_name.len(), 120);
    for scope in [long_name.as_str(), "short"] {
        assert_mutation_prints_nothing(&env, &["secrets", "create-scope", scope], b"");
    }
    let cut = format!("{}...", "a".repeat(100));
    let scope_width = cut.len();
    assert_eq!(
        env.run(&["secrets", "list-scopes", "--output", "table"])
            .ok(),
        format!(
            "{:<scope_width$}  Backend     KeyVault URL\n\
             {}  ----------  --------------\n\
             {cut}  DATABRICKS  N/A\n\
             {:<scope_width$}  DATABRICKS  N/A\n",
            "Scope",
            "-".repeat(scope_width),
            "short"
        )
    );
    let json: Value = serde_json::from_str(
        &env.run(&["secrets", "list-scopes", "--output", "json"])
            .ok(),
    )
    .expect("JSON");
    assert_eq!(json["scopes"][0]["name"], long_name.as_str());
    assert_eq!(json["scopes"][1]["name"], "short");
}

#[test]
fn a_secret_listed_with_the_format_in_another_case_has_the_same_table() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "s"]).ok();
    env.run(&["secrets", "put", "s", "k", "--string-value", "v"])
        .ok();
    let table = env.run(&["secrets", "list", "s"]).ok();
    assert_eq!(
        env.run(&["secrets", "list", "s", "--output", "TABLE"]).ok(),
        table
    );
    assert_eq!(table, expected_secrets_table(&listed_secrets(&env, "s")));
}
