//! Entra ID emulation with `--cloud azure`: tenant discovery, the v1 token endpoint, the
//! managed-identity endpoint, and Key Vault-backed scopes needing a user's token.

use crate::oauth::{basic, claims};
use crate::{ALICE, Answer, Api, start_with_users};
use databricks_emulator::{
    AZURE_DATABRICKS_LOGIN_APP_ID, AZURE_SERVICE_MANAGEMENT_RESOURCE, Cloud, Config,
    DEFAULT_AZURE_TENANT_ID, Emulator, IDENTITY_HEADER_VALUE,
};
use serde_json::json;

const AZURE_SP: &str = "5f4e3d2c-1b0a-4987-8654-3210fedcba98";
const AZURE_SECRET: &str = "azure~secret.value";
const API_VERSION: &str = "2019-08-01";
const MANAGED_IDENTITY: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

fn start_azure(config: Config) -> Emulator {
    start_with_users(
        config
            .with_cloud(Cloud::Azure)
            .with_azure_service_principal(AZURE_SP, AZURE_SECRET)
            .with_managed_identity(MANAGED_IDENTITY),
    )
}

fn token_path() -> String {
    format!("/{DEFAULT_AZURE_TENANT_ID}/oauth2/token")
}

/// What `azure-client-secret` sends: Basic client authentication and a resource.
async fn client_credentials(emulator: &Emulator, secret: &str, resource: &str) -> Answer {
    Api::with_authorization(emulator, &basic(AZURE_SP, secret))
        .post_form(
            &token_path(),
            &[("grant_type", "client_credentials"), ("resource", resource)],
        )
        .await
}

/// Asserts an Entra ID answer with an application's token for Azure Databricks; returns the
/// token.
#[track_caller]
fn assert_application_token<'a>(answer: &'a serde_json::Value, client_id: &str) -> &'a str {
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["resource"], AZURE_DATABRICKS_LOGIN_APP_ID);
    let expires_on = answer["expires_on"]
        .as_str()
        .expect("expires_on as a string");
    assert!(expires_on.parse::<u64>().is_ok(), "{expires_on}");
    let token = answer["access_token"].as_str().unwrap();
    let token_claims = claims(token);
    assert_eq!(token_claims["idtyp"], "app");
    assert_eq!(token_claims["appid"], client_id);
    assert!(token_claims.get("upn").is_none(), "{token_claims}");
    token
}

async fn assert_refused_by_the_workspace(emulator: &Emulator, token_answer: &serde_json::Value) {
    let token = token_answer["access_token"].as_str().unwrap();
    Api::new(emulator, token)
        .list_scopes()
        .await
        .assert_error(401, "UNAUTHENTICATED");
}

/// Asserts an Entra ID error and returns its AADSTS code.
#[track_caller]
fn assert_entra_error(answer: &Answer, status: u16, error: &str) -> u64 {
    let description = answer.assert_oauth_error(status, error);
    let body = answer.json();
    let code = body["error_codes"][0].as_u64().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    assert!(description.contains(". Trace ID: "), "{description}");
    assert!(
        body["error_uri"]
            .as_str()
            .unwrap()
            .ends_with(&code.to_string())
    );
    code
}

#[tokio::test]
async fn an_azure_workspace_reports_azure_and_its_tenant() {
    let emulator = start_azure(Config::default());
    let api = Api::anonymous(&emulator);
    let metadata = api
        .get("/.well-known/databricks-config", &[])
        .await
        .assert_ok();
    assert_eq!(metadata["cloud"], "Azure");
    let answer = api.get("/aad/auth", &[]).await;
    assert_eq!(answer.status, 302);
    let location = answer.headers["location"].to_str().unwrap();
    let expected = format!(
        "{}/{DEFAULT_AZURE_TENANT_ID}/oauth2/authorize?",
        emulator.url()
    );
    assert!(location.starts_with(&expected), "{location}");

    let aws = Emulator::start(Config::default()).unwrap();
    Api::anonymous(&aws)
        .get("/aad/auth", &[])
        .await
        .assert_error(404, "ENDPOINT_NOT_FOUND");
}

#[tokio::test]
async fn client_credentials_give_an_application_token_that_works_on_the_workspace() {
    let emulator = start_azure(Config::default().with_azure_tenant_id("tenant-1"));
    let path = "/tenant-1/oauth2/token";
    let body_auth = [
        ("client_id", AZURE_SP),
        ("client_secret", AZURE_SECRET),
        ("grant_type", "client_credentials"),
        ("resource", AZURE_DATABRICKS_LOGIN_APP_ID),
    ];
    let answer = Api::anonymous(&emulator)
        .post_form(path, &body_auth)
        .await
        .assert_ok();
    assert_eq!(answer["expires_in"], "3600", "v1 numbers are strings");
    let token = assert_application_token(&answer, AZURE_SP);
    let token_claims = claims(token);
    assert_eq!(token_claims["tid"], "tenant-1");
    assert_eq!(token_claims["iss"], "https://sts.windows.net/tenant-1/");

    let sp = Api::new(&emulator, token);
    sp.create_scope("azure-sp-scope").await.assert_empty_ok();
    let me = sp.get("/api/2.0/preview/scim/v2/Me", &[]).await.assert_ok();
    assert_eq!(me["applicationId"], AZURE_SP);

    // a token for another resource does not open the workspace
    let management = Api::anonymous(&emulator)
        .post_form(
            path,
            &[
                ("client_id", AZURE_SP),
                ("client_secret", AZURE_SECRET),
                ("grant_type", "client_credentials"),
                ("resource", AZURE_SERVICE_MANAGEMENT_RESOURCE),
            ],
        )
        .await
        .assert_ok();
    assert_refused_by_the_workspace(&emulator, &management).await;
}

#[tokio::test]
async fn entra_errors_carry_aadsts_codes() {
    let emulator = start_azure(Config::default());
    let wrong_secret = client_credentials(&emulator, "nope", AZURE_DATABRICKS_LOGIN_APP_ID).await;
    assert_eq!(
        assert_entra_error(&wrong_secret, 401, "invalid_client"),
        7000215
    );
    let bad_resource = client_credentials(&emulator, AZURE_SECRET, "https://unknown").await;
    assert_eq!(
        assert_entra_error(&bad_resource, 400, "invalid_resource"),
        500011
    );
    let unknown = Api::with_authorization(&emulator, &basic("someone", "x"))
        .post_form(
            &token_path(),
            &[
                ("grant_type", "client_credentials"),
                ("resource", AZURE_DATABRICKS_LOGIN_APP_ID),
            ],
        )
        .await;
    assert_eq!(
        assert_entra_error(&unknown, 400, "unauthorized_client"),
        700016
    );
    let other_tenant = Api::anonymous(&emulator)
        .post_form(
            "/other-tenant/oauth2/token",
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(
        assert_entra_error(&other_tenant, 400, "invalid_request"),
        90002
    );
    let log = serde_json::to_string(&emulator.requests()).unwrap();
    assert!(!log.contains(AZURE_SECRET));
}

#[tokio::test]
async fn a_key_vault_scope_needs_a_user_token_not_a_service_principals() {
    let emulator = start_azure(Config::default());
    let create = json!({
        "scope": "kv",
        "scope_backend_type": "AZURE_KEYVAULT",
        "backend_azure_keyvault": {
            "resource_id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.KeyVault/vaults/z",
            "dns_name": "https://z.vault.azure.net/",
        },
    });
    let sp_answer = client_credentials(&emulator, AZURE_SECRET, AZURE_DATABRICKS_LOGIN_APP_ID)
        .await
        .assert_ok();
    let sp = Api::new(&emulator, sp_answer["access_token"].as_str().unwrap());
    let message = sp
        .post("/api/2.0/secrets/scopes/create", create.clone())
        .await
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(
        message,
        "Scope with Azure KeyVault must have userAADToken defined!"
    );

    // a user's token, as a fake `az` would get it over the control API
    let user_token = Api::admin(&emulator)
        .post("/__emulator/entra-token", json!({ "user": ALICE }))
        .await
        .assert_ok();
    let token = user_token["access_token"].as_str().unwrap();
    let user_claims = claims(token);
    assert_eq!(user_claims["idtyp"], "user");
    assert_eq!(user_claims["upn"], ALICE);
    assert_eq!(user_claims["unique_name"], ALICE);
    let alice = Api::new(&emulator, token);
    alice
        .post("/api/2.0/secrets/scopes/create", create)
        .await
        .assert_empty_ok();
    assert_eq!(
        emulator.acl("kv", ALICE),
        Some(databricks_emulator::Permission::Manage)
    );
    let me = alice
        .get("/api/2.0/preview/scim/v2/Me", &[])
        .await
        .assert_ok();
    assert_eq!(me["userName"], ALICE);

    // in-process too; unknown users get none
    assert!(emulator.entra_user_token(ALICE).is_ok());
    assert!(emulator.entra_user_token("nobody@example.com").is_err());
}

#[tokio::test]
async fn entra_tokens_do_not_open_a_workspace_on_another_cloud() {
    let emulator =
        start_with_users(Config::default().with_azure_service_principal(AZURE_SP, AZURE_SECRET));
    let answer = client_credentials(&emulator, AZURE_SECRET, AZURE_DATABRICKS_LOGIN_APP_ID)
        .await
        .assert_ok();
    assert_refused_by_the_workspace(&emulator, &answer).await;
}

/// What `azure-msi` does with `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` set.
async fn managed_identity_token(
    emulator: &Emulator,
    identity_header: &str,
    api_version_and_more: &str,
) -> (u16, serde_json::Value) {
    let url = format!(
        "{}/msi/token?resource={AZURE_DATABRICKS_LOGIN_APP_ID}&api-version={api_version_and_more}",
        emulator.url()
    );
    let response = crate::http_client()
        .build()
        .unwrap()
        .get(url)
        .header("X-IDENTITY-HEADER", identity_header)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_managed_identity_endpoint_follows_the_app_service_convention() {
    let config = Config::default()
        .with_cloud(Cloud::Azure)
        .with_managed_identity(MANAGED_IDENTITY)
        .with_managed_identity("second-identity");
    let emulator = start_with_users(config);
    let (status, answer) =
        managed_identity_token(&emulator, IDENTITY_HEADER_VALUE, API_VERSION).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["client_id"], MANAGED_IDENTITY);
    let token = assert_application_token(&answer, MANAGED_IDENTITY);
    Api::new(&emulator, token)
        .list_scopes()
        .await
        .assert_empty_ok();

    let (status, _) = managed_identity_token(&emulator, "wrong", API_VERSION).await;
    assert_eq!(status, 401);
    let (_, second) = managed_identity_token(
        &emulator,
        IDENTITY_HEADER_VALUE,
        "2019-08-01&client_id=second-identity",
    )
    .await;
    assert_eq!(second["client_id"], "second-identity");
    let (status, unknown) = managed_identity_token(
        &emulator,
        IDENTITY_HEADER_VALUE,
        "2019-08-01&client_id=unknown",
    )
    .await;
    assert_eq!(
        (status, unknown["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, _) = managed_identity_token(&emulator, IDENTITY_HEADER_VALUE, "2017-09-01").await;
    assert_eq!(status, 400, "another api-version");
}
