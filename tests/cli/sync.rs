//! `secrets sync`: the plan, writes only for new and changed keys, `--prune`, `--dry-run` and
//! its drift exit code, refusals before anything is written, the copy between two workspaces,
//! and import/export/sync under a rate limit.

use databricks_emulator::{Config, Emulator, Fault, RateLimit};

use crate::harness::{Run, SCOPE, TestEnv};

const PUT_PATH: &str = "/api/2.0/secrets/put";
const DELETE_PATH: &str = "/api/2.0/secrets/delete";
const GET_PATH: &str = "/api/2.0/secrets/get";

/// The exit code of `sync --dry-run` when the scope differs from the file.
const DRIFT: i32 = 3;

/// A workspace with the scope `app` holding SAME=same, CHANGED=old and EXTRA=extra, the file
/// `app.env` with NEW, SAME and CHANGED, and an empty request log.
fn env_with_drift() -> TestEnv {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", SCOPE]).ok();
    env.run_with_stdin(
        &["secrets", "import", SCOPE],
        b"SAME=same\nCHANGED=old\nEXTRA=extra\n",
    )
    .ok();
    write_file(
        &env,
        "app.env",
        b"NEW=new\nSAME=same\nCHANGED='new value'\n",
    );
    env.emulator.clear_requests();
    env
}

fn write_file(env: &TestEnv, name: &str, content: &[u8]) {
    std::fs::write(env.home().join(name), content).expect("the file is written");
}

/// The `key` of each request to `path` that was not throttled, in arrival order.
fn keys_written(env: &TestEnv, path: &str) -> Vec<String> {
    let mut keys: Vec<String> = env
        .api_requests()
        .iter()
        .filter(|request| request.path == path && request.status != Some(429))
        .map(|request| request.body["key"].as_str().unwrap_or_default().to_owned())
        .collect();
    keys.sort();
    keys
}

fn writes(env: &TestEnv) -> usize {
    keys_written(env, PUT_PATH).len() + keys_written(env, DELETE_PATH).len()
}

#[track_caller]
fn assert_stored(env: &TestEnv, expected: &[(&str, Option<&[u8]>)]) {
    for (key, value) in expected {
        assert_eq!(
            env.emulator.secret_bytes(SCOPE, key).as_deref(),
            *value,
            "stored bytes of {key}"
        );
    }
}

#[test]
fn sync_prints_the_plan_puts_only_new_and_changed_keys_and_a_second_run_writes_nothing() {
    let env = env_with_drift();

    let run = env.run(&["secrets", "sync", SCOPE, "app.env"]);

    assert_eq!(
        run.ok(),
        "+ NEW\n~ CHANGED\nPlan: 1 to add, 1 to change, 0 to delete, 1 unchanged; 1 key(s) not \
         in the file kept (--prune deletes them)\n"
    );
    assert!(
        run.stderr.contains("Applied 2 of 2 changes in "),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("new value"),
        "no value shown: {}",
        run.stderr
    );
    assert_eq!(keys_written(&env, PUT_PATH), ["CHANGED", "NEW"]);
    assert_stored(
        &env,
        &[
            ("NEW", Some(b"new")),
            ("SAME", Some(b"same")),
            ("CHANGED", Some(b"new value")),
            ("EXTRA", Some(b"extra")),
        ],
    );

    env.emulator.clear_requests();
    let again = env.run(&["secrets", "sync", "--scope", SCOPE, "app.env"]);
    assert!(
        again
            .ok()
            .starts_with("Plan: 0 to add, 0 to change, 0 to delete, 3 unchanged;"),
        "{}",
        again.stdout()
    );
    assert_eq!(writes(&env), 0, "a second run sends no write");
}

#[test]
fn prune_deletes_the_keys_the_file_does_not_have() {
    let env = env_with_drift();

    let run = env.run(&["secrets", "sync", SCOPE, "app.env", "--prune"]);

    assert_eq!(
        run.ok(),
        "+ NEW\n~ CHANGED\n- EXTRA\nPlan: 1 to add, 1 to change, 1 to delete, 1 unchanged\n"
    );
    assert_eq!(keys_written(&env, DELETE_PATH), ["EXTRA"]);
    assert_stored(&env, &[("EXTRA", None), ("NEW", Some(b"new"))]);
}

#[test]
fn dry_run_prints_the_plan_changes_nothing_and_exits_with_the_drift_code() {
    let env = env_with_drift();

    let dry = env.run(&["secrets", "sync", SCOPE, "app.env", "--prune", "--dry-run"]);

    assert_eq!(dry.code, DRIFT, "{}", dry.stderr);
    assert!(
        dry.stdout()
            .starts_with("+ NEW\n~ CHANGED\n- EXTRA\nPlan: ")
    );
    assert!(
        dry.stderr
            .contains("Error: scope `app` differs from the file (--dry-run: nothing was changed)"),
        "{}",
        dry.stderr
    );
    assert_eq!(writes(&env), 0);
    assert_stored(&env, &[("CHANGED", Some(b"old")), ("NEW", None)]);

    env.run(&["secrets", "sync", SCOPE, "app.env", "--prune"])
        .ok();
    let in_sync = env.run(&["secrets", "sync", SCOPE, "app.env", "--prune", "--dry-run"]);
    assert_eq!(
        in_sync.ok(),
        "Plan: 0 to add, 0 to change, 0 to delete, 3 unchanged\n"
    );
}

#[test]
fn an_invalid_file_sends_nothing_at_all() {
    let env = env_with_drift();
    write_file(&env, "bad.env", b"GOOD=1\nbad key=2\n");

    let run = env.run(&["secrets", "sync", SCOPE, "bad.env", "--prune"]);

    let stderr = run.fails_with(1);
    assert!(stderr.contains("bad.env: line 2: "), "{stderr}");
    assert!(
        stderr.contains("Error: nothing was applied: 1 problem(s) in bad.env"),
        "{stderr}"
    );
    assert!(env.api_requests().is_empty(), "not even a read");
}

#[test]
fn an_empty_file_is_refused_so_a_failed_export_in_a_pipe_cannot_empty_the_scope() {
    let env = env_with_drift();

    let run = env.run_with_stdin(&["secrets", "sync", SCOPE, "-", "--prune"], b"");

    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("Error: the file holds no secrets; nothing was changed"),
        "{stderr}"
    );
    assert!(env.api_requests().is_empty());
    assert_stored(&env, &[("EXTRA", Some(b"extra"))]);
}

#[test]
fn a_key_vault_scope_is_refused_before_any_value_is_read() {
    const AAD_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJ1cG4iOiJhbGljZUBleGFtcGxlLmNvbSJ9.c2ln";
    let env = TestEnv::with_emulator(Config::default().with_user("alice@example.com", AAD_TOKEN));
    env.add_profile("alice", AAD_TOKEN);
    env.run(&[
        "--profile",
        "alice",
        "secrets",
        "create-scope",
        "vault",
        "--scope-backend-type",
        "AZURE_KEYVAULT",
        "--resource-id",
        "/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v",
        "--dns-name",
        "https://v.vault.azure.net/",
    ])
    .ok();
    write_file(&env, "vault.env", b"A=1\n");
    env.emulator.clear_requests();

    let run = env.run(&["secrets", "sync", "vault", "vault.env"]);

    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("Error: scope `vault` is backed by Azure Key Vault"),
        "{stderr}"
    );
    assert!(stderr.contains("az keyvault secret set"), "{stderr}");
    let paths: Vec<String> = env.api_requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/2.0/secrets/scopes/list"]);
}

#[test]
fn unreadable_values_are_named_in_the_plan_and_stop_the_sync_before_any_write() {
    let env = env_with_drift();
    env.emulator.inject_fault(
        Fault::status(403)
            .with_error("PERMISSION_DENIED", "User has no READ on scope app")
            .with_path(GET_PATH),
    );

    let run = env.run(&["secrets", "sync", SCOPE, "app.env"]);

    let stderr = run.fails_after_printing(1);
    let plan = run.stdout();
    assert_eq!(plan.matches("? ").count(), 1, "{plan}");
    assert!(
        plan.contains("(current value not readable: PERMISSION_DENIED: User has no READ"),
        "{plan}"
    );
    assert!(plan.contains(", 1 not readable"), "{plan}");
    assert!(
        stderr.contains("Error: the current value of 1 key(s) cannot be read"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(writes(&env), 0);
}

#[test]
fn export_with_one_profile_piped_into_sync_prune_with_another_copies_a_scope() {
    let source = TestEnv::new();
    let target = Emulator::start(Config::default()).expect("a second emulator");
    source.write_source_and_target_profiles(&target);
    for profile in ["source", "target"] {
        source
            .run(&["--profile", profile, "secrets", "create-scope", SCOPE])
            .ok();
    }
    let awkward: &[(&str, &[u8])] = &[
        ("PLAIN", b"value"),
        ("QUOTES", b"it's \"quoted\" $HOME `cmd`"),
        ("LINES", b"one\ntwo\r\n"),
        ("BINARY", b"\x00\xff\xfe"),
    ];
    for (key, value) in awkward {
        source
            .run_with_stdin(
                &[
                    "--profile",
                    "source",
                    "secrets",
                    "put",
                    SCOPE,
                    key,
                    "--binary-file",
                    "-",
                ],
                value,
            )
            .ok();
    }
    let stale: &[&str] = &["--profile", "target", "secrets", "put", SCOPE, "PLAIN"];
    source
        .run(&[stale, &["--string-value", "stale"]].concat())
        .ok();
    let extra: &[&str] = &["--profile", "target", "secrets", "put", SCOPE, "ONLY_THERE"];
    source.run(&[extra, &["--string-value", "x"]].concat()).ok();

    let exported = source.run(&["secrets", "export", SCOPE, "--profile", "source"]);
    let synced = source.run_with_stdin(
        &[
            "secrets",
            "sync",
            "--profile",
            "target",
            SCOPE,
            "-",
            "--prune",
        ],
        &exported.stdout,
    );

    assert_eq!(
        synced.ok(),
        "+ BINARY\n+ LINES\n~ PLAIN\n+ QUOTES\n- ONLY_THERE\nPlan: 3 to add, 1 to change, 1 \
         to delete, 0 unchanged\n"
    );
    for (key, value) in awkward {
        assert_eq!(
            target.secret_bytes(SCOPE, key).as_deref(),
            Some(*value),
            "{key}"
        );
    }
    assert_eq!(target.secret_bytes(SCOPE, "ONLY_THERE"), None);
}

/// An emulator that admits 40 Secrets API requests per second in bursts of 5, with or without
/// `Retry-After`, and a scope `app`.
fn rate_limited_env(retry_after: bool) -> TestEnv {
    let config = Config::default().with_rate_limit(RateLimit::per_second(40.0).with_burst(5));
    let config = if retry_after {
        config
    } else {
        config.without_retry_after()
    };
    let env = TestEnv::with_emulator(config);
    let create = env.run(&["secrets", "create-scope", SCOPE]);
    assert_eq!(create.code, 0, "{}", create.stderr);
    env
}

/// Import, export and a sync with 10 % changed values under a rate limit: every value arrives
/// byte-exact, and no key is written twice except to retry a throttled answer.
fn bulk_commands_complete_under_a_rate_limit(retry_after: bool) {
    let env = rate_limited_env(retry_after);
    let values: Vec<(String, String)> = (0..40)
        .map(|index| {
            (
                format!("KEY_{index:02}"),
                format!("value {index} with 'quotes'"),
            )
        })
        .collect();
    let file: String = values
        .iter()
        .map(|(key, value)| format!("{key}=\"{value}\"\n"))
        .collect();
    write_file(&env, "all.env", file.as_bytes());
    env.emulator.clear_requests();
    env.emulator.reset_throttling();

    let import = env.run(&["--debug", "secrets", "import", SCOPE, "all.env"]);

    assert_eq!(import.code, 0, "{}", import.stderr);
    assert!(env.emulator.throttled_count() > 0, "the limit was reached");
    assert!(
        import.stderr.contains("scheduler: concurrency "),
        "{}",
        import.stderr
    );
    assert!(
        import.stderr.contains("throttled answer(s)"),
        "{}",
        import.stderr
    );
    let mut keys: Vec<String> = values.iter().map(|(key, _)| key.clone()).collect();
    keys.sort();
    assert_eq!(keys_written(&env, PUT_PATH), keys, "each key put once");
    for (key, value) in &values {
        assert_stored(&env, &[(key, Some(value.as_bytes()))]);
    }

    let export = env.run(&["secrets", "export", SCOPE]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let exported = export.stdout();
    for (key, value) in &values {
        let line = format!("{key}=\"{value}\"\n");
        assert!(exported.contains(&line), "{line} in {exported}");
    }
    let changed: String = values
        .iter()
        .enumerate()
        .map(|(index, (key, value))| match index % 10 {
            0 => format!("{key}=\"{value} v2\"\n"),
            _ => format!("{key}=\"{value}\"\n"),
        })
        .collect();
    write_file(&env, "changed.env", changed.as_bytes());
    env.emulator.clear_requests();

    let sync = env.run(&["secrets", "sync", SCOPE, "changed.env"]);

    assert!(
        sync.ok()
            .ends_with("Plan: 0 to add, 4 to change, 0 to delete, 36 unchanged\n"),
        "{}",
        sync.stdout()
    );
    let changed_keys: Vec<String> = (0..4).map(|tens| format!("KEY_{:02}", tens * 10)).collect();
    assert_eq!(keys_written(&env, PUT_PATH), changed_keys);
    assert_stored(&env, &[("KEY_10", Some(b"value 10 with 'quotes' v2"))]);
}

#[test]
fn import_export_and_sync_complete_under_a_rate_limit_with_retry_after() {
    bulk_commands_complete_under_a_rate_limit(true);
}

#[test]
fn import_export_and_sync_complete_under_a_rate_limit_without_retry_after() {
    bulk_commands_complete_under_a_rate_limit(false);
}

/// `sync` needs a scope, and takes it once.
#[test]
fn sync_usage_errors_exit_2() {
    let env = TestEnv::new();
    for args in [
        &["secrets", "sync"][..],
        &["secrets", "sync", "--scope", "a", "b", "c"],
    ] {
        let run: Run = env.run(args);
        run.fails_with(2);
    }
}
