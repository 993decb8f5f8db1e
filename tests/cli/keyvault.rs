//! Azure Key Vault-backed scopes (created with an Azure AD token, read-only afterwards),
//! `configure --aad-token`, and `create-scope --if-not-exists`.

use databricks_emulator::Config;
use serde_json::json;

use crate::harness::{
    AAD_TOKEN, ALICE, DNS_NAME, RESOURCE_ID, Run, TestEnv, create_key_vault_scope,
    env_with_aad_user,
};

/// `configure --profile NAME --host URL --aad-token` with `DATABRICKS_AAD_TOKEN` as given.
fn configure_aad(env: &TestEnv, profile: &str, aad_token: Option<&str>) -> Run {
    let url = env.url();
    let mut command = env.command(&[
        "configure",
        "--profile",
        profile,
        "--host",
        &url,
        "--aad-token",
    ]);
    if let Some(token) = aad_token {
        command.env("DATABRICKS_AAD_TOKEN", token);
    }
    env.run_command(command, b"")
}

#[test]
fn configure_aad_token_stores_the_token_from_the_environment_and_creates_a_key_vault_scope() {
    let env = TestEnv::with_emulator(Config::default().with_user(ALICE, AAD_TOKEN));
    configure_aad(&env, "azure", Some(AAD_TOKEN)).ok();
    let config = env.read_config();
    assert!(
        config.contains(&format!(
            "[azure]\nhost = {}\ntoken = {AAD_TOKEN}\n",
            env.url()
        )),
        "{config}"
    );

    let run = create_key_vault_scope(&env, "azure", "vault");
    assert_eq!(run.ok(), "");
    let request = env
        .api_requests()
        .pop()
        .expect("the create reached the emulator");
    assert_eq!(request.path, "/api/2.0/secrets/scopes/create");
    assert_eq!(request.user.as_deref(), Some(ALICE));
    assert_eq!(
        request.body,
        json!({
            "scope": "vault",
            "scope_backend_type": "AZURE_KEYVAULT",
            "backend_azure_keyvault": {"resource_id": RESOURCE_ID, "dns_name": DNS_NAME}
        })
    );
}

#[test]
fn configure_aad_token_without_the_variable_explains_how_to_set_it() {
    let env = TestEnv::new();
    let before = env.read_config();
    for unset_or_empty in [None, Some(""), Some("  ")] {
        let run = configure_aad(&env, "azure", unset_or_empty);
        let stderr = run.fails_with(1);
        assert!(stderr.starts_with("Error: "), "{stderr}");
        assert!(stderr.contains("DATABRICKS_AAD_TOKEN"), "{stderr}");
        assert!(stderr.contains("az account get-access-token"), "{stderr}");
    }
    assert_eq!(env.read_config(), before, "nothing was written");
}

#[test]
fn list_scopes_shows_the_key_vault_url() {
    let env = env_with_aad_user();
    env.run(&["secrets", "create-scope", "plain"]).ok();
    create_key_vault_scope(&env, "alice", "vault").ok();

    let table = env.run(&["secrets", "list-scopes"]).ok();
    assert_eq!(
        table,
        "Scope    Backend         KeyVault URL\n\
         -------  --------------  -----------------------------------\n\
         plain    DATABRICKS      N/A\n\
         vault    AZURE_KEYVAULT  https://team-vault.vault.azure.net/\n"
    );
    let listed: serde_json::Value = serde_json::from_str(
        &env.run(&["secrets", "list-scopes", "--output", "json"])
            .ok(),
    )
    .expect("JSON output");
    assert_eq!(
        listed["scopes"][1],
        json!({
            "name": "vault",
            "backend_type": "AZURE_KEYVAULT",
            "keyvault_metadata": {"resource_id": RESOURCE_ID, "dns_name": DNS_NAME}
        })
    );
}

#[test]
fn a_personal_access_token_is_refused_with_an_explanation_of_aad_tokens() {
    let env = TestEnv::new();
    let run = create_key_vault_scope(&env, "DEFAULT", "vault");
    let stderr = run.fails_with(1);
    assert!(
        stderr.starts_with(
            "Error: INVALID_PARAMETER_VALUE: Scope with Azure KeyVault must have userAADToken defined!"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("Azure AD user token"), "{stderr}");
    assert!(stderr.contains("DATABRICKS_AAD_TOKEN"), "{stderr}");
    assert!(
        stderr.contains("databricks configure --aad-token"),
        "{stderr}"
    );
    assert!(env.emulator.scope_names().is_empty());
}

#[test]
fn writes_to_a_key_vault_scope_are_refused_as_read_only() {
    let env = env_with_aad_user();
    create_key_vault_scope(&env, "alice", "vault").ok();
    let put: &[&str] = &["secrets", "put", "vault", "k", "--string-value", "v"];
    let delete: &[&str] = &["secrets", "delete", "vault", "k"];
    for (profile, args) in [("alice", put), ("DEFAULT", put), ("alice", delete)] {
        let run = env.run(&[&["--profile", profile][..], args].concat());
        let stderr = run.fails_with(1);
        assert!(stderr.starts_with("Error: BAD_REQUEST: "), "{stderr}");
        assert!(stderr.contains("read-only"), "{stderr}");
        assert!(stderr.contains("Azure"), "{stderr}");
    }
    assert_eq!(env.emulator.secret_bytes("vault", "k"), None);
}

#[test]
fn key_vault_options_go_together_and_only_with_that_backend() {
    let env = TestEnv::new();
    let create = ["secrets", "create-scope", "vault"];
    let cases: [&[&str]; 5] = [
        &["--scope-backend-type", "AZURE_KEYVAULT"],
        &[
            "--scope-backend-type",
            "AZURE_KEYVAULT",
            "--resource-id",
            RESOURCE_ID,
        ],
        &[
            "--scope-backend-type",
            "azure_keyvault",
            "--dns-name",
            DNS_NAME,
        ],
        &["--resource-id", RESOURCE_ID, "--dns-name", DNS_NAME],
        &[
            "--scope-backend-type",
            "DATABRICKS",
            "--resource-id",
            RESOURCE_ID,
            "--dns-name",
            DNS_NAME,
        ],
    ];
    for options in cases {
        let run = env.run(&[&create[..], options].concat());
        let stderr = run.fails_with(2);
        assert!(stderr.contains("--resource-id"), "{options:?}: {stderr}");
        assert!(stderr.contains("--dns-name"), "{options:?}: {stderr}");
        assert!(stderr.contains("AZURE_KEYVAULT"), "{options:?}: {stderr}");
    }
    let unknown = env.run(&[&create[..], &["--scope-backend-type", "S3"]].concat());
    assert!(unknown.fails_with(2).contains("S3"));
    assert!(
        env.api_requests().is_empty(),
        "no usage error sent anything"
    );
}

#[test]
fn the_databricks_backend_may_be_named_explicitly() {
    let env = TestEnv::new();
    let run = env.run(&[
        "secrets",
        "create-scope",
        "plain",
        "--scope-backend-type",
        "databricks",
    ]);
    assert_eq!(run.ok(), "");
    assert_eq!(env.emulator.scope_names(), ["plain"]);
}

#[test]
fn if_not_exists_makes_create_scope_idempotent() {
    let env = TestEnv::new();
    let create = [
        "secrets",
        "create-scope",
        "--scope",
        "prod",
        "--if-not-exists",
    ];
    assert_eq!(env.run(&create).ok(), "");
    let again = env.run(&create);
    assert_eq!(again.ok(), "", "an existing scope is success");
    assert_eq!(again.stderr, "");
    let other_case = env.run(&["secrets", "create-scope", "PROD", "--if-not-exists"]);
    assert_eq!(
        other_case.ok(),
        "",
        "scope names compare case-insensitively"
    );
    assert_eq!(env.emulator.scope_names(), ["prod"]);
}

#[test]
fn without_if_not_exists_an_existing_scope_is_an_error() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "prod"]).ok();
    let run = env.run(&["secrets", "create-scope", "prod"]);
    let stderr = run.fails_with(1);
    assert_eq!(
        stderr.lines().next(),
        Some("Error: RESOURCE_ALREADY_EXISTS: Scope prod already exists!")
    );
}

#[test]
fn if_not_exists_does_not_hide_other_errors() {
    let env = TestEnv::new();
    let run = env.run(&[
        "secrets",
        "create-scope",
        "vault",
        "--if-not-exists",
        "--scope-backend-type",
        "AZURE_KEYVAULT",
        "--resource-id",
        RESOURCE_ID,
        "--dns-name",
        DNS_NAME,
    ]);
    assert!(run.fails_with(1).contains("userAADToken"));
    let run = env.run(&["secrets", "create-scope", "bad/name", "--if-not-exists"]);
    assert!(run.fails_with(2).contains("bad/name"));
}

#[test]
fn other_bad_requests_get_no_key_vault_explanation() {
    let env = TestEnv::new();
    env.run(&["secrets", "create-scope", "plain"]).ok();
    env.emulator.inject_fault(
        databricks_emulator::Fault::status(400)
            .with_error("BAD_REQUEST", "Request header too large")
            .with_path("/api/2.0/secrets/put"),
    );
    let run = env.run(&["secrets", "put", "plain", "k", "--string-value", "v"]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.starts_with("Error: BAD_REQUEST: Request header too large"),
        "{stderr}"
    );
    assert!(!stderr.contains("Key Vault"), "a misleading hint: {stderr}");
}

#[test]
fn the_real_services_wording_of_the_read_only_refusal_is_explained_too() {
    let env = TestEnv::new();
    env.emulator.inject_fault(
        databricks_emulator::Fault::status(400)
            .with_error(
                "BAD_REQUEST",
                "Cannot write secrets to Azure KeyVault-backed scope vault",
            )
            .with_path("/api/2.0/secrets/put"),
    );
    let run = env.run(&["secrets", "put", "vault", "k", "--string-value", "v"]);
    let stderr = run.fails_with(1);
    assert!(
        stderr.contains("\nHint: a scope backed by Azure Key Vault is read-only"),
        "{stderr}"
    );
}
