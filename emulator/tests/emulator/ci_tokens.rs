//! Workload identity federation: the fake GitHub Actions and Azure Pipelines ID-token
//! endpoints, and the token exchange against `--federation` policies.

use crate::oauth::claims;
use crate::{Answer, Api};
use databricks_emulator::{
    AZURE_DEVOPS_ISSUER, CI_REQUEST_TOKEN, Config, Emulator, FederationPolicy,
    GITHUB_DEFAULT_SUBJECT, GITHUB_ISSUER,
};
use serde_json::Value;

const FEDERATED_SP: &str = "github-deployer";
const TOKEN: &str = "/oidc/v1/token";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

fn start(policies: &[&str]) -> Emulator {
    let config = policies.iter().fold(Config::default(), |config, policy| {
        config.with_federation_policy(policy.parse::<FederationPolicy>().unwrap())
    });
    Emulator::start(config).unwrap()
}

fn ci_client(emulator: &Emulator) -> Api {
    Api::new(emulator, CI_REQUEST_TOKEN)
}

/// What `github-oidc` does: GET `ACTIONS_ID_TOKEN_REQUEST_URL` + `&audience=…`.
async fn github_id_token(emulator: &Emulator, extra_query: &str) -> String {
    let audience = format!("{}{TOKEN}", emulator.url());
    let url = format!("/github-actions/idtoken?api-version=2.0{extra_query}&audience={audience}");
    let answer = ci_client(emulator)
        .send("GET", &url, None)
        .await
        .assert_ok();
    assert_eq!(answer["count"], 1);
    answer["value"].as_str().unwrap().to_string()
}

async fn exchange(emulator: &Emulator, client_id: Option<&str>, subject_token: &str) -> Answer {
    let mut params = vec![
        ("grant_type", EXCHANGE),
        ("scope", "all-apis"),
        ("subject_token", subject_token),
        ("subject_token_type", JWT_TYPE),
    ];
    if let Some(client_id) = client_id {
        params.push(("client_id", client_id));
    }
    Api::anonymous(emulator).post_form(TOKEN, &params).await
}

fn github_policy() -> String {
    format!("{FEDERATED_SP}={GITHUB_ISSUER},{GITHUB_DEFAULT_SUBJECT}")
}

#[tokio::test]
async fn a_github_id_token_is_exchanged_for_a_service_principal_token() {
    let emulator = start(&[&github_policy()]);
    let id_token = github_id_token(&emulator, "").await;
    let id_claims = claims(&id_token);
    assert_eq!(id_claims["iss"], GITHUB_ISSUER);
    assert_eq!(id_claims["sub"], GITHUB_DEFAULT_SUBJECT);
    assert_eq!(id_claims["aud"], format!("{}{TOKEN}", emulator.url()));

    let answer = exchange(&emulator, Some(FEDERATED_SP), &id_token)
        .await
        .assert_ok();
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(
        answer["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let access_token = answer["access_token"].as_str().unwrap();
    let sp = Api::new(&emulator, access_token);
    sp.create_scope("from-ci").await.assert_empty_ok();
    let me = sp.get("/api/2.0/preview/scim/v2/Me", &[]).await.assert_ok();
    assert_eq!(me["applicationId"], FEDERATED_SP);

    // account-wide style: no client_id, the matching policy names the principal
    let answer = exchange(&emulator, None, &id_token).await.assert_ok();
    assert_eq!(
        claims(answer["access_token"].as_str().unwrap())["sub"],
        FEDERATED_SP
    );

    // the subject token never reaches the log
    let log = serde_json::to_string(&emulator.requests()).unwrap();
    assert!(!log.contains(&id_token));
}

#[tokio::test]
async fn tokens_that_do_not_match_the_policy_are_refused() {
    let emulator = start(&[
        &github_policy(),
        "other-sp=https://gitlab.example,project_path:g/p",
    ]);
    let wrong_subject = github_id_token(&emulator, "&sub=repo:evil/repo:ref:refs/heads/main").await;
    let description = exchange(&emulator, Some(FEDERATED_SP), &wrong_subject)
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert!(description.contains("repo:evil/repo"), "{description}");
    let wrong_issuer = github_id_token(&emulator, "&iss=https://evil.example").await;
    exchange(&emulator, Some(FEDERATED_SP), &wrong_issuer)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let expired = github_id_token(&emulator, "&ttl=-5").await;
    let description = exchange(&emulator, Some(FEDERATED_SP), &expired)
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert!(description.contains("expired"), "{description}");
    // another principal's policy does not apply
    let good = github_id_token(&emulator, "").await;
    exchange(&emulator, Some("other-sp"), &good)
        .await
        .assert_oauth_error(400, "invalid_grant");
    exchange(&emulator, Some("unknown-sp"), &good)
        .await
        .assert_oauth_error(401, "invalid_client");
    exchange(&emulator, Some(FEDERATED_SP), "not-a-jwt")
        .await
        .assert_oauth_error(400, "invalid_request");
    let wrong_type = [
        ("grant_type", EXCHANGE),
        ("subject_token", good.as_str()),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:saml2",
        ),
    ];
    Api::anonymous(&emulator)
        .post_form(TOKEN, &wrong_type)
        .await
        .assert_oauth_error(400, "invalid_request");
}

#[tokio::test]
async fn a_policy_audience_replaces_the_default() {
    let policy = format!("{FEDERATED_SP}={GITHUB_ISSUER},{GITHUB_DEFAULT_SUBJECT},my-audience");
    let emulator = start(&[&policy]);
    let default_audience = github_id_token(&emulator, "").await;
    exchange(&emulator, Some(FEDERATED_SP), &default_audience)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let answer = ci_client(&emulator)
        .send("GET", "/github-actions/idtoken?audience=my-audience", None)
        .await
        .assert_ok();
    let id_token = answer["value"].as_str().unwrap();
    exchange(&emulator, Some(FEDERATED_SP), id_token)
        .await
        .assert_ok();
}

#[tokio::test]
async fn the_fake_endpoints_want_the_ci_request_token() {
    let emulator = start(&[]);
    let path = "/github-actions/idtoken?audience=x";
    Api::new(&emulator, "wrong")
        .send("GET", path, None)
        .await
        .assert_error(401, "UNAUTHENTICATED");
    ci_client(&emulator)
        .send("GET", "/github-actions/idtoken", None)
        .await
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    ci_client(&emulator)
        .send("POST", path, None)
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn an_azure_pipelines_id_token_is_exchanged() {
    let subject = "p://emulator-organization/project-1/plan-7";
    let policy = format!("ado-sp={AZURE_DEVOPS_ISSUER},{subject},api://AzureADTokenExchange");
    let emulator = start(&[&policy]);
    // SYSTEM_TEAMFOUNDATIONCOLLECTIONURI = {url}/azure-devops/
    let path = "/azure-devops//project-1/_apis/distributedtask/hubs/build/plans/plan-7/jobs/job-3/oidctoken?api-version=7.2-preview.1";
    let answer = ci_client(&emulator)
        .send("POST", path, None)
        .await
        .assert_ok();
    let id_token = answer["oidcToken"].as_str().unwrap();
    let id_claims: Value = claims(id_token);
    assert_eq!(id_claims["sub"], subject);
    assert_eq!(id_claims["iss"], AZURE_DEVOPS_ISSUER);
    let token = exchange(&emulator, Some("ado-sp"), id_token)
        .await
        .assert_ok();
    Api::new(&emulator, token["access_token"].as_str().unwrap())
        .list_scopes()
        .await
        .assert_empty_ok();
}
