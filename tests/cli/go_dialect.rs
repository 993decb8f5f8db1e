//! The two output dialects, `--json`, `-p`, `--limit` and `DATABRICKS_OUTPUT_FORMAT`: scripts
//! written for the Go CLI get its output shapes, scripts written for the legacy CLI keep theirs.
//!
//! The Go CLI's shapes here are the ones its source and acceptance outputs show
//! (databricks/cli: `acceptance/cmd/workspace/put-secret/output.txt`, the text templates of
//! `cmd/workspace/secrets/overrides.go`, the listing renderer of `libs/cmdio/render.go`).

use serde_json::{Value, json};

use crate::harness::{
    DNS_NAME, RESOURCE_ID, Run, TestEnv, create_key_vault_scope, env_with_aad_user,
};

/// Runs `args` with `DATABRICKS_OUTPUT_FORMAT` set to `format`.
fn run_with_format_variable(env: &TestEnv, format: &str, args: &[&str]) -> Run {
    let mut command = env.command(args);
    command.env("DATABRICKS_OUTPUT_FORMAT", format);
    env.run_command(command, b"")
}

/// A scope `app` with secrets `db-password` and `a-longer-key-name`.
fn env_with_secrets() -> TestEnv {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "app"]).ok();
    for key in ["db-password", "a-longer-key-name"] {
        env.run(&["secrets", "put", "app", key, "--string-value", "v"])
            .ok();
    }
    env
}

/// (key, timestamp) of the secrets of `scope`, from the legacy JSON.
fn listed_secrets(env: &TestEnv, scope: &str) -> Vec<(String, i64)> {
    let json: Value = serde_json::from_str(
        &env.run(&["secrets", "list", scope, "--output", "json"])
            .ok(),
    )
    .expect("JSON");
    json["secrets"]
        .as_array()
        .expect("a secrets array")
        .iter()
        .map(|secret| {
            (
                secret["key"].as_str().expect("a key").to_string(),
                secret["last_updated_timestamp"].as_i64().expect("a time"),
            )
        })
        .collect()
}

/// Every way of asking for one format of one dialect prints `expected`.
#[track_caller]
fn assert_all_print(env: &TestEnv, forms: &[Vec<&str>], expected: &str) {
    for args in forms {
        assert_eq!(env.run(args).ok(), expected, "{args:?}");
    }
}

fn with<'a>(command: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    [command, extra].concat()
}

#[test]
fn list_scopes_speaks_the_go_dialect_when_asked_and_the_legacy_one_otherwise() {
    let env = env_with_aad_user();
    env.run(&["secrets", "create-scope", "plain-scope"]).ok();
    create_key_vault_scope(&env, "alice", "vault").ok();
    let command = ["secrets", "list-scopes"];

    let go_text = "Scope        Backend Type\n\
                   plain-scope  DATABRICKS\n\
                   vault        AZURE_KEYVAULT\n";
    assert_all_print(
        &env,
        &[
            with(&command, &["-o", "text"]),
            with(&command, &["-o", "table"]),
            with(&command, &["--output", "text"]),
            with(&command, &["--output=TEXT"]),
        ],
        go_text,
    );
    assert_eq!(
        run_with_format_variable(&env, "text", &command).ok(),
        go_text
    );

    // The Go CLI's listing: an array of items, fields in its order, no empty field.
    let go_json = format!(
        "[\n  {{\n    \"backend_type\": \"DATABRICKS\",\n    \"name\": \"plain-scope\"\n  }},\n  \
         {{\n    \"backend_type\": \"AZURE_KEYVAULT\",\n    \"keyvault_metadata\": {{\n      \
         \"dns_name\": \"{DNS_NAME}\",\n      \"resource_id\": \"{RESOURCE_ID}\"\n    }},\n    \
         \"name\": \"vault\"\n  }}\n]\n"
    );
    assert_all_print(
        &env,
        &[with(&command, &["-o", "json"]), with(&command, &["-oJSON"])],
        &go_json,
    );
    assert_eq!(
        run_with_format_variable(&env, "json", &command).ok(),
        go_json
    );
    // The variable picks the dialect; --output still picks the format.
    assert_eq!(
        run_with_format_variable(&env, "json", &with(&command, &["--output", "table"])).ok(),
        go_text
    );

    let legacy_table = "Scope        Backend         KeyVault URL\n\
                        -----------  --------------  -----------------------------------\n\
                        plain-scope  DATABRICKS      N/A\n\
                        vault        AZURE_KEYVAULT  https://team-vault.vault.azure.net/\n";
    assert_all_print(
        &env,
        &[command.to_vec(), with(&command, &["--output", "table"])],
        legacy_table,
    );
    assert_eq!(
        run_with_format_variable(&env, "", &command).ok(),
        legacy_table
    );
    let legacy_json: Value =
        serde_json::from_str(&env.run(&with(&command, &["--output", "json"])).ok()).expect("JSON");
    assert_eq!(
        legacy_json,
        json!({"scopes": [
            {"name": "plain-scope", "backend_type": "DATABRICKS"},
            {"name": "vault", "backend_type": "AZURE_KEYVAULT",
             "keyvault_metadata": {"resource_id": RESOURCE_ID, "dns_name": DNS_NAME}},
        ]})
    );
}

#[test]
fn list_secrets_prints_the_go_layouts_under_its_go_name() {
    let env = env_with_secrets();
    let listed = listed_secrets(&env, "app");
    let [(first, first_time), (second, second_time)] = &listed[..] else {
        panic!("two secrets: {listed:?}");
    };

    // `Key` is padded to the longest key plus two; the timestamp is the last cell.
    let width = first.len().max(second.len()) + 2;
    let go_text = format!(
        "{:<width$}Last Updated Timestamp\n{first:<width$}{first_time}\n\
         {second:<width$}{second_time}\n",
        "Key"
    );
    assert_all_print(
        &env,
        &[
            vec!["secrets", "list-secrets", "app"],
            vec!["secrets", "list-secrets", "app", "--output", "table"],
            vec!["secrets", "list", "app", "-o", "text"],
        ],
        &go_text,
    );
    let go_json = format!(
        "[\n  {{\n    \"key\": \"{first}\",\n    \"last_updated_timestamp\": {first_time}\n  }},\n  \
         {{\n    \"key\": \"{second}\",\n    \"last_updated_timestamp\": {second_time}\n  }}\n]\n"
    );
    assert_all_print(
        &env,
        &[
            vec!["secrets", "list-secrets", "app", "-o", "json"],
            vec!["secrets", "list-secrets", "app", "--output", "json"],
            vec!["secrets", "list", "app", "-o", "json"],
        ],
        &go_json,
    );

    let legacy = env.run(&["secrets", "list", "app"]).ok();
    assert!(legacy.starts_with("Key name"), "{legacy}");
    assert_eq!(env.run(&["secrets", "list", "--scope", "app"]).ok(), legacy);
}

#[test]
fn an_empty_listing_keeps_the_go_cli_s_shapes() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "empty"]).ok();
    // The Go CLI writes `[`, a line of two spaces, `]` for a listing without items.
    assert_eq!(
        env.run(&["secrets", "list-secrets", "empty", "-o", "json"])
            .ok(),
        "[\n  \n]\n"
    );
    assert_eq!(
        env.run(&["secrets", "list-secrets", "empty"]).ok(),
        "Key  Last Updated Timestamp\n"
    );
    assert_eq!(
        env.run(&["secrets", "list", "empty", "--output", "json"])
            .ok(),
        "{}\n"
    );
}

#[test]
fn go_text_columns_line_up_within_each_run_of_twenty_rows() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "many"]).ok();
    // The Go CLI flushes its column writer after every 20 items.
    let keys: Vec<String> = (0..21)
        .map(|index| match index {
            20 => "the-twenty-first-and-longest".to_string(),
            _ => format!("k{index:02}"),
        })
        .collect();
    for key in &keys {
        env.run(&["secrets", "put", "many", key, "--string-value", "v"])
            .ok();
    }
    let listed = listed_secrets(&env, "many");
    let text = env.run(&["secrets", "list-secrets", "many"]).ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 22, "{text}");
    assert_eq!(lines[0], "Key  Last Updated Timestamp");
    for (line, (key, time)) in lines[1..].iter().zip(&listed) {
        // "Key" and k00 to k19 share the first block; the 21st key has one of its own.
        let width = if key.len() == 3 { 5 } else { key.len() + 2 };
        assert_eq!(*line, format!("{key:<width$}{time}"));
    }
}

#[test]
fn acls_and_get_secret_are_json_even_in_go_text() {
    let env = env_with_secrets();
    env.run(&["secrets", "put-acl", "app", "data-team", "read"])
        .ok();
    let rules = "[\n  {\n    \"permission\": \"MANAGE\",\n    \"principal\": \"admin@example.com\"\n  \
                 },\n  {\n    \"permission\": \"READ\",\n    \"principal\": \"data-team\"\n  }\n]\n";
    assert_all_print(
        &env,
        &[
            vec!["secrets", "list-acls", "app", "-o", "text"],
            vec!["secrets", "list-acls", "app", "-o", "json"],
            vec!["secrets", "list-acls", "app", "--output", "text"],
        ],
        rules,
    );
    assert_eq!(
        run_with_format_variable(&env, "text", &["secrets", "list-acls", "app"]).ok(),
        rules
    );
    let rule = "{\n  \"permission\": \"READ\",\n  \"principal\": \"data-team\"\n}\n";
    assert_all_print(
        &env,
        &[
            vec!["secrets", "get-acl", "app", "data-team", "-o", "text"],
            vec!["secrets", "get-acl", "app", "data-team", "-o", "json"],
        ],
        rule,
    );

    // The legacy dialect: the server's objects and the tables.
    assert_eq!(
        env.run(&["secrets", "get-acl", "app", "data-team", "--output", "json"])
            .ok(),
        "{\n  \"principal\": \"data-team\",\n  \"permission\": \"READ\"\n}\n"
    );
    assert_eq!(
        env.run(&["secrets", "list-acls", "app"]).ok(),
        "Principal          Permission\n\
         -----------------  ------------\n\
         admin@example.com  MANAGE\n\
         data-team          READ\n"
    );
    let legacy: Value = serde_json::from_str(
        &env.run(&["secrets", "list-acls", "app", "--output", "json"])
            .ok(),
    )
    .expect("JSON");
    assert_eq!(
        legacy["items"][1],
        json!({"principal": "data-team", "permission": "READ"})
    );
}

/// The Go CLI's acceptance test `cmd/workspace/put-secret`, replayed: what it puts on the wire
/// and what `get-secret` prints back, in both formats.
#[test]
fn the_go_cli_put_secret_acceptance_outputs_match() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "test-scope"]).ok();
    env.run(&[
        "secrets",
        "put-secret",
        "test-scope",
        "string-key",
        "--string-value",
        "test-value\nwith-newlines\n",
    ])
    .ok();
    env.run(&[
        "secrets",
        "put-secret",
        "test-scope",
        "bytes-key",
        "--bytes-value",
        "\x01\x02\x03",
    ])
    .ok();
    let expected = [
        (
            "string-key",
            "{\n  \"key\": \"string-key\",\n  \"value\": \"dGVzdC12YWx1ZQp3aXRoLW5ld2xpbmVzCg==\"\n}\n",
        ),
        (
            "bytes-key",
            "{\n  \"key\": \"bytes-key\",\n  \"value\": \"AQID\"\n}\n",
        ),
    ];
    for (key, output) in expected {
        for format in [
            &[][..],
            &["-o", "text"],
            &["-o", "json"],
            &["--output", "json"],
        ] {
            let args = [&["secrets", "get-secret", "test-scope", key][..], format].concat();
            assert_eq!(env.run(&args).ok(), output, "{args:?}");
        }
        // `get` in JSON speaks the same shape.
        assert_eq!(
            env.run(&["secrets", "get", "test-scope", key, "-o", "json"])
                .ok(),
            output
        );
    }
    let puts: Vec<Value> = env
        .api_requests()
        .into_iter()
        .filter(|request| request.path == "/api/2.0/secrets/put")
        .map(|request| request.body)
        .collect();
    assert_eq!(
        puts,
        [
            json!({"scope": "test-scope", "key": "string-key", "string_value": "***"}),
            json!({"scope": "test-scope", "key": "bytes-key", "bytes_value": "***"}),
        ]
    );
}

#[test]
fn limit_caps_every_listing_in_both_dialects() {
    let env = env_with_secrets();
    env.run(&["secrets", "create-scope", "second"]).ok();
    env.run(&["secrets", "put-acl", "app", "data-team", "READ"])
        .ok();
    let first_secret = &listed_secrets(&env, "app")[0];

    let scopes: Value = serde_json::from_str(
        &env.run(&["secrets", "list-scopes", "--limit", "1", "-o", "json"])
            .ok(),
    )
    .expect("JSON");
    assert_eq!(
        scopes,
        json!([{"backend_type": "DATABRICKS", "name": "app"}])
    );
    let legacy_scopes: Value = serde_json::from_str(
        &env.run(&["secrets", "list-scopes", "--limit=1", "--output", "json"])
            .ok(),
    )
    .expect("JSON");
    assert_eq!(
        legacy_scopes,
        json!({"scopes": [{"name": "app", "backend_type": "DATABRICKS"}]})
    );

    assert_eq!(
        env.run(&["secrets", "list-secrets", "app", "--limit", "1"])
            .ok(),
        format!(
            "Key{}Last Updated Timestamp\n{}  {}\n",
            " ".repeat(first_secret.0.len() - 1),
            first_secret.0,
            first_secret.1
        )
    );
    let legacy_secrets = env.run(&["secrets", "list", "app", "--limit", "1"]).ok();
    assert_eq!(legacy_secrets.lines().count(), 3, "{legacy_secrets}");

    let acls: Value = serde_json::from_str(
        &env.run(&["secrets", "list-acls", "app", "--limit", "1", "-o", "json"])
            .ok(),
    )
    .expect("JSON");
    assert_eq!(acls.as_array().map(Vec::len), Some(1));
    let legacy_acls = env
        .run(&["secrets", "list-acls", "app", "--limit", "1"])
        .ok();
    assert_eq!(legacy_acls.lines().count(), 3, "{legacy_acls}");

    // 0 is no limit, as in the Go CLI.
    assert_eq!(
        env.run(&["secrets", "list-acls", "app", "--limit", "0"])
            .ok(),
        env.run(&["secrets", "list-acls", "app"]).ok()
    );
    let requests = env.api_requests().len();
    for wrong in ["-1", "x", ""] {
        let run = env.run(&["secrets", "list-scopes", "--limit", wrong]);
        let stderr = run.fails_with(2);
        assert!(
            stderr.contains("must be a non-negative integer"),
            "{wrong}: {stderr}"
        );
    }
    assert_eq!(env.api_requests().len(), requests, "nothing was sent");
}

#[test]
fn an_unknown_format_is_the_go_cli_s_usage_error_with_exit_code_2() {
    let env = TestEnv::new();
    for args in [
        &["secrets", "list-scopes", "-o", "yaml"][..],
        &["secrets", "list-secrets", "app", "--output", "csv"],
        &["version", "-o", "xml"],
    ] {
        let stderr = env.run(args).fails_with(2).to_string();
        assert!(
            stderr.contains("accepted arguments are json and text"),
            "{args:?}: {stderr}"
        );
    }
    let run = run_with_format_variable(&env, "yaml", &["secrets", "list-scopes"]);
    let stderr = run.fails_with(2);
    assert!(stderr.contains("DATABRICKS_OUTPUT_FORMAT=yaml"), "{stderr}");
    assert!(
        stderr.contains("accepted arguments are json and text"),
        "{stderr}"
    );
    assert!(env.api_requests().is_empty());
}

#[test]
fn p_is_the_short_form_of_profile() {
    let env = TestEnv::new();
    env.add_profile("admin", &env.emulator.admin_token());
    env.write_config(&env.read_config().replace("[DEFAULT]", "[unused]"));
    env.run(&["secrets", "create-scope", "-p", "admin", "app"])
        .ok();
    assert_eq!(env.emulator.scope_names(), ["app"]);
    assert_eq!(
        env.run(&["-p", "admin", "secrets", "list-scopes", "-o", "json"])
            .ok(),
        env.run(&["secrets", "list-scopes", "--profile=admin", "-o", "json"])
            .ok()
    );
    let stderr = env
        .run(&[
            "-p",
            "admin",
            "secrets",
            "list-scopes",
            "--profile",
            "admin",
        ])
        .fails_with(2)
        .to_string();
    assert!(
        stderr.contains("'--profile' cannot be used multiple times"),
        "{stderr}"
    );
    let stderr = env
        .run(&["secrets", "list-scopes", "-p", "nobody"])
        .fails_with(1)
        .to_string();
    assert!(stderr.contains("nobody"), "{stderr}");
}

/// Each command with `--json` and the request it must send for `body`.
const JSON_COMMANDS: [(&str, &str, &str); 6] = [
    (
        "create-scope",
        r#"{"scope": "new-scope", "initial_manage_principal": "users", "scope_backend_type": "DATABRICKS"}"#,
        "/api/2.0/secrets/scopes/create",
    ),
    (
        "put-secret",
        r#"{"scope": "app", "key": "from-json", "string_value": "s3cr3t-in-json"}"#,
        "/api/2.0/secrets/put",
    ),
    (
        "put-acl",
        r#"{"scope": "app", "principal": "data-team", "permission": "WRITE"}"#,
        "/api/2.0/secrets/acls/put",
    ),
    (
        "delete-acl",
        r#"{"scope": "app", "principal": "data-team"}"#,
        "/api/2.0/secrets/acls/delete",
    ),
    (
        "delete-secret",
        r#"{"scope": "app", "key": "from-json"}"#,
        "/api/2.0/secrets/delete",
    ),
    (
        "delete-scope",
        r#"{"scope": "new-scope"}"#,
        "/api/2.0/secrets/scopes/delete",
    ),
];

/// The body the emulator logged for the last request, which must have gone to `path`.
#[track_caller]
fn last_body(env: &TestEnv, path: &str) -> Value {
    let request = env.api_requests().pop().expect("a request");
    assert_eq!(request.path, path);
    assert_eq!(request.status, Some(200), "{:?}", request.body);
    request.body
}

/// The body as logged: the value redacted.
fn as_logged(body: &str) -> Value {
    let mut body: Value = serde_json::from_str(body).expect("test JSON");
    if let Some(value) = body.get_mut("string_value") {
        *value = json!("***");
    }
    body
}

#[test]
fn json_inline_sends_the_body_as_given() {
    let env = env_with_secrets();
    for (command, body, path) in JSON_COMMANDS {
        let run = env.run(&["secrets", command, "--json", body]);
        assert_eq!(run.ok(), "", "{command}");
        assert_eq!(run.stderr, "", "{command}");
        assert_eq!(last_body(&env, path), as_logged(body), "{command}");
        if command == "put-secret" {
            assert_eq!(
                env.emulator.secret_bytes("app", "from-json").as_deref(),
                Some(&b"s3cr3t-in-json"[..])
            );
        }
    }
    assert_eq!(env.emulator.scope_names(), ["app"]);
    assert_eq!(env.emulator.secret_bytes("app", "from-json"), None);
}

#[test]
fn json_from_a_file_sends_the_body_as_given() {
    let env = env_with_secrets();
    for (command, body, path) in JSON_COMMANDS {
        let file = env.home().join(format!("{command}.json"));
        std::fs::write(&file, body).expect("body written");
        let at_path = format!("@{}", file.display());
        env.run(&["secrets", command, "--json", &at_path]).ok();
        assert_eq!(last_body(&env, path), as_logged(body), "{command}");
    }
    // A relative path, from the working directory.
    std::fs::write(env.home().join("scope.json"), r#"{"scope": "relative"}"#).expect("written");
    env.run(&["secrets", "create-scope", "--json", "@scope.json"])
        .ok();
    assert!(env.emulator.scope_names().contains(&"relative".to_string()));
    // Without a backend type, none is added: the service's default applies.
    assert_eq!(
        last_body(&env, "/api/2.0/secrets/scopes/create"),
        as_logged(r#"{"scope": "relative"}"#)
    );

    // A value kept out of the process list, piped in.
    #[cfg(unix)] // Windows has no /dev/stdin
    {
        let body = r#"{"scope": "app", "key": "piped", "string_value": "from stdin"}"#;
        env.run_with_stdin(
            &["secrets", "put-secret", "--json", "@/dev/stdin"],
            body.as_bytes(),
        )
        .ok();
        assert_eq!(
            env.emulator.secret_bytes("app", "piped").as_deref(),
            Some(&b"from stdin"[..])
        );
    }

    let stderr = env
        .run(&["secrets", "create-scope", "--json", "@missing.json"])
        .fails_with(1)
        .to_string();
    assert!(stderr.contains("missing.json"), "{stderr}");
}

#[test]
fn json_bytes_value_is_base64_sent_as_bytes() {
    let env = env_with_secrets();
    env.run(&[
        "secrets",
        "put-secret",
        "--json",
        r#"{"scope": "app", "key": "bin", "bytes_value": "AP8Q"}"#,
    ])
    .ok();
    assert_eq!(
        last_body(&env, "/api/2.0/secrets/put"),
        json!({"scope": "app", "key": "bin", "bytes_value": "***"})
    );
    assert_eq!(
        env.emulator.secret_bytes("app", "bin").as_deref(),
        Some(&b"\x00\xff\x10"[..])
    );
}

#[test]
fn json_creates_a_key_vault_scope_through_backend_azure_keyvault() {
    let env = env_with_aad_user();
    let body = json!({
        "scope": "vault",
        "scope_backend_type": "AZURE_KEYVAULT",
        "backend_azure_keyvault": {"resource_id": RESOURCE_ID, "dns_name": DNS_NAME},
    });
    let run = env.run(&[
        "-p",
        "alice",
        "secrets",
        "create-scope",
        "--json",
        &body.to_string(),
    ]);
    assert_eq!(run.ok(), "");
    assert_eq!(last_body(&env, "/api/2.0/secrets/scopes/create"), body);

    // Half a Key Vault is refused before anything is sent.
    let sent = env.api_requests().len();
    for (half, expected) in [
        (
            json!({"scope": "v2", "scope_backend_type": "azure_keyvault"}),
            "backend_azure_keyvault",
        ),
        (
            json!({"scope": "v2", "backend_azure_keyvault": {"resource_id": RESOURCE_ID, "dns_name": DNS_NAME}}),
            "AZURE_KEYVAULT",
        ),
        (
            json!({"scope": "v2", "scope_backend_type": "AZURE_KEYVAULT",
                   "backend_azure_keyvault": {"dns_name": DNS_NAME}}),
            "backend_azure_keyvault.resource_id",
        ),
        (
            json!({"scope": "v2", "scope_backend_type": "S3"}),
            "DATABRICKS or AZURE_KEYVAULT",
        ),
    ] {
        let run = env.run(&[
            "-p",
            "alice",
            "secrets",
            "create-scope",
            "--json",
            &half.to_string(),
        ]);
        let stderr = run.fails_with(2);
        assert!(stderr.contains(expected), "{half}: {stderr}");
    }
    assert_eq!(env.api_requests().len(), sent);
}

/// `databricks secrets ARGS` fails with exit code 2 and every one of `expected` on stderr.
#[track_caller]
fn assert_usage_error(env: &TestEnv, args: &[&str], expected: &[&str]) {
    let run = env.run(&[&["secrets"][..], args].concat());
    let stderr = run.fails_with(2);
    for fragment in expected {
        assert!(stderr.contains(fragment), "{args:?}: {stderr}");
    }
}

#[test]
fn json_with_positional_arguments_or_the_options_it_replaces_is_a_usage_error() {
    let env = env_with_secrets();
    let cases: [&[&str]; 8] = [
        &["create-scope", "app", "--json", r#"{"scope": "app"}"#],
        &["delete-scope", "app", "--json", r#"{"scope": "app"}"#],
        &[
            "put-secret",
            "app",
            "k",
            "--json",
            r#"{"scope": "app", "key": "k", "string_value": "v"}"#,
        ],
        &[
            "delete-secret",
            "app",
            "k",
            "--json",
            r#"{"scope": "app", "key": "k"}"#,
        ],
        &[
            "put-acl",
            "app",
            "u",
            "READ",
            "--json",
            r#"{"scope": "app"}"#,
        ],
        &[
            "delete-acl",
            "app",
            "u",
            "--json",
            r#"{"scope": "app", "principal": "u"}"#,
        ],
        &["put", "--json", "{}", "app"],
        &["delete", "app", "--json", "{}"],
    ];
    for args in cases {
        assert_usage_error(
            &env,
            args,
            &[
                "when --json is given, no positional arguments are allowed",
                "'scope'",
            ],
        );
    }
    let options: [&[&str]; 4] = [
        &["delete-scope", "--scope", "app", "--json", "{}"],
        &["put-secret", "--json", "{}", "--string-value", "v"],
        &[
            "create-scope",
            "--json",
            "{}",
            "--initial-manage-principal",
            "users",
        ],
        &["put-acl", "--json", "{}", "--permission", "READ"],
    ];
    for args in options {
        assert_usage_error(&env, args, &["cannot be used with --json"]);
    }
    assert_eq!(env.emulator.scope_names(), ["app"]);
    assert!(
        env.api_requests()
            .iter()
            .all(|request| request.path != "/api/2.0/secrets/scopes/delete"),
        "nothing was deleted"
    );
}

#[test]
fn invalid_json_is_refused_before_anything_is_sent_and_never_echoed() {
    let env = env_with_secrets();
    let sent = env.api_requests().len();
    let secret = "s3cr3t-value-never-shown";
    let cases: [(&str, String, &str); 10] = [
        (
            "put-secret",
            format!(r#"{{"scope": "app", "key": "k", "string_value": "{secret}""#),
            "not valid JSON",
        ),
        (
            "put-secret",
            format!(r#"["{secret}"]"#),
            "must be a JSON object, got an array",
        ),
        ("put-secret", String::new(), "got an empty string"),
        (
            "put-secret",
            format!(r#"{{"scope": "app", "string_value": "{secret}"}}"#),
            "no \"key\"",
        ),
        (
            "put-secret",
            format!(r#"{{"scope": "app", "key": "k", "string_value": ["{secret}"]}}"#),
            "must be a string, got an array",
        ),
        (
            "put-secret",
            format!(r#"{{"scope": "app", "key": "k", "bytes_value": "{secret}!"}}"#),
            "must be base64",
        ),
        (
            "put-secret",
            format!(
                r#"{{"scope": "app", "key": "k", "string_value": "{secret}", "bytes_value": "AA=="}}"#
            ),
            "only one of",
        ),
        (
            "put-secret",
            r#"{"scope": "app", "key": "k"}"#.to_string(),
            "needs the secret's value",
        ),
        (
            "put-acl",
            r#"{"scope": "app", "principal": "u", "permission": "OWN"}"#.to_string(),
            "invalid permission",
        ),
        (
            "delete-secret",
            r#"{"scope": " ", "key": "k"}"#.to_string(),
            "empty or blank",
        ),
    ];
    for (command, body, expected) in cases {
        let run = env.run(&["secrets", command, "--json", &body]);
        let stderr = run.fails_with(2);
        assert!(stderr.contains(expected), "{body}: {stderr}");
        assert!(!stderr.contains(secret), "the value was echoed: {stderr}");
    }
    assert_eq!(env.api_requests().len(), sent, "nothing was sent");
}

#[test]
fn values_inside_json_stay_out_of_the_debug_log_and_warnings() {
    let env = env_with_secrets();
    let secret = "s3cr3t-value-never-logged";
    let body =
        format!(r#"{{"scope": "app", "key": "k", "string_value": "{secret}", "comment": "x"}}"#);
    let run = env.run(&["--debug", "secrets", "put-secret", "--json", &body]);
    assert_eq!(run.ok(), "");
    assert!(
        run.stderr.contains("/api/2.0/secrets/put"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("Warning: unknown field comment in the --json input is not sent"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(secret), "{}", run.stderr);
    assert_eq!(
        env.emulator.secret_bytes("app", "k").as_deref(),
        Some(secret.as_bytes())
    );
    assert_eq!(
        last_body(&env, "/api/2.0/secrets/put"),
        json!({"scope": "app", "key": "k", "string_value": "***"}),
        "the unknown field is not sent"
    );
}
