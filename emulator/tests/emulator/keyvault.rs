//! Azure Key Vault-backed scopes: AAD token needed, read-only, empty, listed with metadata.

use crate::Api;
use databricks_emulator::{Config, Emulator};
use serde_json::{Value, json};

const AAD_USER: &str = "azure-user@example.com";
const AAD_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhenVyZSJ9.c2lnbmF0dXJl";
const RESOURCE_ID: &str =
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv";
const DNS_NAME: &str = "https://kv.vault.azure.net/";

fn keyvault_scope(scope: &str) -> Value {
    json!({
        "scope": scope,
        "scope_backend_type": "AZURE_KEYVAULT",
        "backend_azure_keyvault": {"resource_id": RESOURCE_ID, "dns_name": DNS_NAME},
    })
}

fn start() -> Emulator {
    Emulator::start(Config::default().with_user(AAD_USER, AAD_TOKEN)).unwrap()
}

#[tokio::test]
async fn a_personal_access_token_cannot_create_a_keyvault_scope() {
    let emulator = start();
    let message = Api::admin(&emulator)
        .post("/api/2.0/secrets/scopes/create", keyvault_scope("kv"))
        .await
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(
        message,
        "Scope with Azure KeyVault must have userAADToken defined!"
    );
    assert!(emulator.scope_names().is_empty());
}

#[tokio::test]
async fn an_unknown_jwt_is_still_unauthenticated() {
    let emulator = start();
    Api::new(&emulator, "eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.c2ln")
        .post("/api/2.0/secrets/scopes/create", keyvault_scope("kv"))
        .await
        .assert_error(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn keyvault_scopes_are_listed_read_only_and_empty() {
    let emulator = start();
    let azure = Api::new(&emulator, AAD_TOKEN);
    azure.create_scope("plain").await.assert_empty_ok();
    azure
        .post("/api/2.0/secrets/scopes/create", keyvault_scope("kv"))
        .await
        .assert_empty_ok();
    assert_eq!(
        azure.list_scopes().await.text,
        concat!(
            r#"{"scopes":[{"name":"plain","backend_type":"DATABRICKS"},"#,
            r#"{"name":"kv","backend_type":"AZURE_KEYVAULT","keyvault_metadata":"#,
            r#"{"resource_id":"/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv","#,
            r#""dns_name":"https://kv.vault.azure.net/"}}]}"#
        )
    );
    azure
        .put_string("kv", "k", "v")
        .await
        .assert_error(400, "BAD_REQUEST");
    azure
        .delete_secret("kv", "k")
        .await
        .assert_error(400, "BAD_REQUEST");
    azure.list_secrets("kv").await.assert_empty_ok();
    azure
        .get_secret("kv", "k")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    azure.put_acl("kv", "users", "READ").await.assert_empty_ok();
    azure.delete_scope("kv").await.assert_empty_ok();
}

#[tokio::test]
async fn keyvault_metadata_is_required() {
    let emulator = start();
    let azure = Api::new(&emulator, AAD_TOKEN);
    let missing_backend = json!({"scope": "kv", "scope_backend_type": "AZURE_KEYVAULT"});
    let missing_dns = json!({
        "scope": "kv",
        "scope_backend_type": "AZURE_KEYVAULT",
        "backend_azure_keyvault": {"resource_id": RESOURCE_ID},
    });
    for body in [missing_backend, missing_dns] {
        azure
            .post("/api/2.0/secrets/scopes/create", body)
            .await
            .assert_error(400, "MALFORMED_REQUEST");
    }
    let empty_resource = json!({
        "scope": "kv",
        "scope_backend_type": "AZURE_KEYVAULT",
        "backend_azure_keyvault": {"resource_id": "", "dns_name": DNS_NAME},
    });
    azure
        .post("/api/2.0/secrets/scopes/create", empty_resource)
        .await
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert!(emulator.scope_names().is_empty());
}
