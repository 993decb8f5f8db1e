//! ACL commands end to end: the lifecycle of a rule, how permissions are sent and shown, and the
//! permission matrix as each kind of user sees it from the command line.

use databricks_emulator::{Config, Permission};
use serde_json::json;

use crate::harness::{Run, TestEnv};

const SCOPE: &str = "team";

/// The admin's `[DEFAULT]` profile creates `team` with one secret `db-password`.
fn env_with_team_scope(config: Config) -> TestEnv {
    let env = TestEnv::with_emulator(config);
    env.run(&["secrets", "create-scope", "--scope", SCOPE]).ok();
    env.run(&[
        "secrets",
        "put",
        "--scope",
        SCOPE,
        "--key",
        "db-password",
        "--string-value",
        "hunter2",
    ])
    .ok();
    env
}

fn put_acl(env: &TestEnv, principal: &str, permission: &str) {
    env.run(&[
        "secrets",
        "put-acl",
        "--scope",
        SCOPE,
        "--principal",
        principal,
        "--permission",
        permission,
    ])
    .ok();
}

/// The body of the last API request the emulator received.
fn last_body(env: &TestEnv) -> serde_json::Value {
    env.api_requests()
        .last()
        .expect("a request reached the emulator")
        .body
        .clone()
}

#[test]
fn permission_is_accepted_in_any_case_and_sent_upper_case() {
    let env = env_with_team_scope(Config::default());
    for (given, sent) in [("read", "READ"), ("Write", "WRITE"), ("mAnAgE", "MANAGE")] {
        put_acl(&env, "data-team", given);
        assert_eq!(
            last_body(&env),
            json!({"scope": SCOPE, "principal": "data-team", "permission": sent})
        );
    }
    assert_eq!(
        env.emulator.acl(SCOPE, "data-team"),
        Some(Permission::Manage)
    );
}

#[test]
fn an_unknown_permission_is_a_usage_error_and_nothing_is_sent() {
    let env = env_with_team_scope(Config::default());
    let before = env.api_requests().len();
    let run = env.run(&["secrets", "put-acl", SCOPE, "data-team", "OWNER"]);
    let stderr = run.fails_with(2);
    assert!(stderr.contains("OWNER"), "{stderr}");
    assert!(stderr.contains("READ, WRITE or MANAGE"), "{stderr}");
    assert_eq!(env.api_requests().len(), before);
}

#[test]
fn an_empty_or_blank_principal_is_a_usage_error_and_nothing_is_sent() {
    let env = env_with_team_scope(Config::default());
    env.emulator.clear_requests();
    let commands: [&[&str]; 6] = [
        &["put-acl", SCOPE, "", "READ"],
        &[
            "put-acl",
            "--scope",
            SCOPE,
            "--principal",
            " ",
            "--permission",
            "READ",
        ],
        &["get-acl", SCOPE, ""],
        &["get-acl", "--scope", SCOPE, "--principal", "\t"],
        &["delete-acl", SCOPE, ""],
        &["create-scope", "other", "--initial-manage-principal", ""],
    ];
    for command in commands {
        let run = env.run(&[&["secrets"][..], command].concat());
        let stderr = run.fails_with(2);
        assert!(stderr.contains("principal"), "{command:?}: {stderr}");
        assert!(stderr.contains("empty or blank"), "{command:?}: {stderr}");
    }
    assert_eq!(env.api_requests(), [], "nothing may be sent");
}

#[test]
fn acl_lifecycle_put_overwrite_get_list_delete() {
    let env = env_with_team_scope(Config::default());
    put_acl(&env, "data-team", "READ");
    put_acl(&env, "bob@example.com", "write");

    let table = env.run(&["secrets", "list-acls", "--scope", SCOPE]).ok();
    assert_eq!(
        table,
        "Principal          Permission\n\
         -----------------  ------------\n\
         admin@example.com  MANAGE\n\
         bob@example.com    WRITE\n\
         data-team          READ\n"
    );

    put_acl(&env, "data-team", "MANAGE");
    let json = env
        .run(&["secrets", "list-acls", "--scope", SCOPE, "--output", "JSON"])
        .ok();
    assert_eq!(
        json,
        r#"{
  "items": [
    {
      "principal": "admin@example.com",
      "permission": "MANAGE"
    },
    {
      "principal": "bob@example.com",
      "permission": "WRITE"
    },
    {
      "principal": "data-team",
      "permission": "MANAGE"
    }
  ]
}
"#
    );

    let get = ["secrets", "get-acl", "--scope", SCOPE, "--principal"];
    let one = env.run(&[&get[..], &["data-team"]].concat()).ok();
    assert_eq!(
        one,
        "Principal    Permission\n-----------  ------------\ndata-team    MANAGE\n"
    );
    let one_json = env
        .run(&[&get[..], &["data-team", "--output", "json"]].concat())
        .ok();
    assert_eq!(
        one_json,
        "{\n  \"principal\": \"data-team\",\n  \"permission\": \"MANAGE\"\n}\n"
    );

    let deleted = env.run(&[
        "secrets",
        "delete-acl",
        "--scope",
        SCOPE,
        "--principal",
        "data-team",
    ]);
    assert_eq!(deleted.ok(), "", "a change prints nothing");
    assert_eq!(env.emulator.acl(SCOPE, "data-team"), None);

    let gone = env.run(&[&get[..], &["data-team"]].concat());
    let stderr = gone.fails_with(1);
    assert!(
        stderr.starts_with("Error: RESOURCE_DOES_NOT_EXIST: "),
        "{stderr}"
    );
}

#[test]
fn acls_of_a_missing_scope_report_the_service_error() {
    let env = TestEnv::new();
    let run = env.run(&["secrets", "list-acls", "nope"]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.starts_with("Error: RESOURCE_DOES_NOT_EXIST: "),
        "{stderr}"
    );
    assert!(stderr.contains("nope"), "{stderr}");
}

/// Users of the permission matrix: each gets its level on `team` from the admin, directly or
/// through a group; `outsider` gets nothing.
fn matrix_env() -> TestEnv {
    let config = Config::default()
        .with_user("reader@example.com", "reader-token")
        .with_user("writer@example.com", "writer-token")
        .with_user("manager@example.com", "manager-token")
        .with_user("outsider@example.com", "outsider-token")
        .with_group("readers", ["reader@example.com"])
        .with_group("managers", ["manager@example.com"]);
    let env = env_with_team_scope(config);
    put_acl(&env, "readers", "read");
    put_acl(&env, "writer@example.com", "WRITE");
    put_acl(&env, "managers", "Manage");
    for user in ["reader", "writer", "manager", "outsider"] {
        env.add_profile(user, &format!("{user}-token"));
    }
    env
}

/// Runs `args` with `--profile user`.
fn run_as(env: &TestEnv, user: &str, args: &[&str]) -> Run {
    env.run(&[&["--profile", user][..], args].concat())
}

#[track_caller]
fn assert_denied(run: &Run, user: &str) {
    let stderr = run.fails_with(1);
    assert!(stderr.starts_with("Error: PERMISSION_DENIED: "), "{stderr}");
    assert!(
        stderr.contains(&format!("Hint: the credentials from profile `{user}`")),
        "the 403 hint names the profile: {stderr}"
    );
}

#[test]
fn a_read_user_can_list_and_get_but_not_put() {
    let env = matrix_env();
    let listed = run_as(&env, "reader", &["secrets", "list", SCOPE]).ok();
    assert!(listed.contains("db-password"), "{listed}");
    let value = run_as(&env, "reader", &["secrets", "get", SCOPE, "db-password"]);
    assert_eq!(value.stdout, b"hunter2");

    let put = ["secrets", "put", SCOPE, "new-key", "--string-value", "x"];
    assert_denied(&run_as(&env, "reader", &put), "reader");
    let delete = ["secrets", "delete", SCOPE, "db-password"];
    assert_denied(&run_as(&env, "reader", &delete), "reader");
    assert_denied(
        &run_as(&env, "reader", &["secrets", "list-acls", SCOPE]),
        "reader",
    );
    let grant = ["secrets", "put-acl", SCOPE, "reader@example.com", "MANAGE"];
    assert_denied(&run_as(&env, "reader", &grant), "reader");
    assert_denied(
        &run_as(&env, "reader", &["secrets", "delete-scope", SCOPE]),
        "reader",
    );
    assert_eq!(env.emulator.secret_bytes(SCOPE, "new-key"), None);
    assert_eq!(env.emulator.scope_names(), [SCOPE]);
}

#[test]
fn a_write_user_can_put_and_delete_but_not_manage_acls() {
    let env = matrix_env();
    let put = ["secrets", "put", SCOPE, "api-key", "--string-value", "abc"];
    assert_eq!(run_as(&env, "writer", &put).ok(), "");
    assert_eq!(
        env.emulator.secret_bytes(SCOPE, "api-key"),
        Some(b"abc".to_vec())
    );
    let value = run_as(&env, "writer", &["secrets", "get", SCOPE, "api-key"]);
    assert_eq!(value.stdout, b"abc");
    run_as(&env, "writer", &["secrets", "delete", SCOPE, "api-key"]).ok();
    assert_eq!(env.emulator.secret_bytes(SCOPE, "api-key"), None);

    assert_denied(
        &run_as(&env, "writer", &["secrets", "list-acls", SCOPE]),
        "writer",
    );
    let get_acl = ["secrets", "get-acl", SCOPE, "writer@example.com"];
    assert_denied(&run_as(&env, "writer", &get_acl), "writer");
    let grant = ["secrets", "put-acl", SCOPE, "writer@example.com", "MANAGE"];
    assert_denied(&run_as(&env, "writer", &grant), "writer");
    let revoke = ["secrets", "delete-acl", SCOPE, "readers"];
    assert_denied(&run_as(&env, "writer", &revoke), "writer");
    assert_denied(
        &run_as(&env, "writer", &["secrets", "delete-scope", SCOPE]),
        "writer",
    );
    assert_eq!(
        env.emulator.acl(SCOPE, "writer@example.com"),
        Some(Permission::Write)
    );
    assert_eq!(env.emulator.acl(SCOPE, "readers"), Some(Permission::Read));
}

#[test]
fn a_manage_user_through_a_group_can_do_everything() {
    let env = matrix_env();
    let put = ["secrets", "put", SCOPE, "api-key", "--string-value", "abc"];
    run_as(&env, "manager", &put).ok();
    let listed = run_as(&env, "manager", &["secrets", "list", SCOPE]).ok();
    assert!(
        listed.contains("api-key") && listed.contains("db-password"),
        "{listed}"
    );
    let grant = ["secrets", "put-acl", SCOPE, "outsider@example.com", "read"];
    run_as(&env, "manager", &grant).ok();
    let acls = run_as(&env, "manager", &["secrets", "list-acls", SCOPE]).ok();
    assert!(acls.contains("outsider@example.com  READ"), "{acls}");

    let outsider_now_reads = run_as(&env, "outsider", &["secrets", "get", SCOPE, "api-key"]);
    assert_eq!(outsider_now_reads.stdout, b"abc");

    run_as(&env, "manager", &["secrets", "delete-scope", SCOPE]).ok();
    assert!(env.emulator.scope_names().is_empty());
}

#[test]
fn a_user_without_a_rule_can_see_the_scope_but_nothing_in_it() {
    let env = matrix_env();
    let scopes = run_as(&env, "outsider", &["secrets", "list-scopes"]).ok();
    assert!(scopes.contains(SCOPE), "{scopes}");
    assert_denied(
        &run_as(&env, "outsider", &["secrets", "list", SCOPE]),
        "outsider",
    );
    let get = ["secrets", "get", SCOPE, "db-password"];
    assert_denied(&run_as(&env, "outsider", &get), "outsider");
}

#[test]
fn an_unknown_token_gets_a_hint_to_configure_a_new_one() {
    let env = TestEnv::new();
    env.add_profile("stale", "revoked-token");
    let run = run_as(&env, "stale", &["secrets", "list-acls", SCOPE]);
    let stderr = run.fails_with(1);
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.contains("profile `stale`"), "{stderr}");
    assert!(stderr.contains("databricks configure --token"), "{stderr}");
    assert!(
        !stderr.contains("revoked-token"),
        "the token is never shown: {stderr}"
    );
}

#[test]
fn the_strongest_of_a_users_own_and_group_rules_applies() {
    let config = Config::default()
        .with_user("carol@example.com", "carol-token")
        .with_group("leads", ["carol@example.com"]);
    let env = env_with_team_scope(config);
    env.add_profile("carol", "carol-token");
    put_acl(&env, "carol@example.com", "READ");
    let put = ["secrets", "put", SCOPE, "k", "--string-value", "v"];
    assert_denied(&run_as(&env, "carol", &put), "carol");

    put_acl(&env, "leads", "WRITE");
    run_as(&env, "carol", &put).ok();
    assert_eq!(env.emulator.secret_bytes(SCOPE, "k"), Some(b"v".to_vec()));

    env.run(&["secrets", "delete-acl", SCOPE, "leads"]).ok();
    assert_denied(&run_as(&env, "carol", &put), "carol");
}
