//! The workspace's OAuth server: discovery, client credentials (M2M), authorization code with
//! PKCE (U2M), refresh token rotation, token TTL and revocation, SCIM Me, and the request log
//! of token requests.

use crate::{ALICE, Answer, Api, BOB, start_with_users};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use databricks_emulator::{Config, Emulator};
use serde_json::{Value, json};
use std::time::Duration;

pub const SP: &str = "ci-deployer";
pub const SP_SECRET: &str = "ci-secret+/=&";
const TOKEN: &str = "/oidc/v1/token";
const AUTHORIZE: &str = "/oidc/v1/authorize";
const ME: &str = "/api/2.0/preview/scim/v2/Me";
const REDIRECT: &str = "http://localhost:8020";
/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub fn start(config: Config) -> (Emulator, Api) {
    let emulator = start_with_users(config.with_service_principal(SP, SP_SECRET));
    let api = Api::anonymous(&emulator);
    (emulator, api)
}

/// `Basic base64(form-encoded id ":" form-encoded secret)`, as Go's x/oauth2 sends it.
pub fn basic(id: &str, secret: &str) -> String {
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(id), encode(secret));
    format!("Basic {}", STANDARD.encode(pair))
}

/// The claims of a JWT-shaped token.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// An M2M token of the service principal.
pub async fn m2m_token(emulator: &Emulator) -> String {
    let client = Api::with_authorization(emulator, &basic(SP, SP_SECRET));
    let answer = client
        .post_form(
            TOKEN,
            &[("grant_type", "client_credentials"), ("scope", "all-apis")],
        )
        .await;
    answer.assert_ok()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The query parameters of a redirect's `Location`.
fn location_params(answer: &Answer) -> (String, Value) {
    assert_eq!(answer.status, 302, "{}", answer.text);
    let location = answer.headers["location"].to_str().unwrap().to_string();
    let (target, query) = location.split_once('?').expect("a query");
    let params: serde_json::Map<String, Value> = form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), json!(value)))
        .collect();
    (target.to_string(), Value::Object(params))
}

fn authorize_params<'a>(state: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", "databricks-cli"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "offline_access all-apis"),
        ("state", state),
    ]
}

/// Logs in as the `--login-as` user and returns the authorization code.
async fn authorization_code(api: &Api) -> String {
    let answer = api
        .get(AUTHORIZE, &authorize_params("st4te", CHALLENGE))
        .await;
    let (target, params) = location_params(&answer);
    assert_eq!(target, REDIRECT);
    assert_eq!(params["state"], "st4te");
    assert_eq!(params["iss"], format!("{}/oidc", api.url));
    params["code"].as_str().unwrap().to_string()
}

async fn exchange_code(api: &Api, code: &str, verifier: &str, redirect: &str) -> Answer {
    let params = [
        ("client_id", "databricks-cli"),
        ("code", code),
        ("code_verifier", verifier),
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect),
    ];
    api.post_form(TOKEN, &params).await
}

async fn refresh(api: &Api, refresh_token: &str) -> Answer {
    let params = [
        ("client_id", "databricks-cli"),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    api.post_form(TOKEN, &params).await
}

async fn me(emulator: &Emulator, token: &str) -> Answer {
    Api::new(emulator, token).get(ME, &[]).await
}

#[tokio::test]
async fn host_metadata_and_discovery_point_at_the_emulator() {
    let (emulator, api) = start(Config::default());
    let url = emulator.url();
    let metadata = api
        .get("/.well-known/databricks-config", &[])
        .await
        .assert_ok();
    assert_eq!(metadata["oidc_endpoint"], format!("{url}/oidc"));
    assert_eq!(metadata["cloud"], "AWS");
    assert_eq!(metadata["host_type"], "workspace");
    assert!(metadata["workspace_id"].is_string());

    let discovery = api
        .get("/oidc/.well-known/oauth-authorization-server", &[])
        .await
        .assert_ok();
    assert_eq!(discovery["issuer"], format!("{url}/oidc"));
    assert_eq!(discovery["token_endpoint"], format!("{url}{TOKEN}"));
    assert_eq!(
        discovery["authorization_endpoint"],
        format!("{url}{AUTHORIZE}")
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
}

#[tokio::test]
async fn m2m_with_basic_authentication_acts_as_the_service_principal() {
    let (emulator, api) = start(Config::default());
    let answer = Api::with_authorization(&emulator, &basic(SP, SP_SECRET))
        .post_form(
            TOKEN,
            &[("grant_type", "client_credentials"), ("scope", "all-apis")],
        )
        .await;
    assert_eq!(answer.headers["cache-control"], "no-store");
    let token = answer.assert_ok();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);
    assert_eq!(token["scope"], "all-apis");
    assert!(token.get("refresh_token").is_none());
    let access_token = token["access_token"].as_str().unwrap();
    assert_eq!(claims(access_token)["sub"], SP);

    let as_sp = Api::new(&emulator, access_token);
    as_sp.create_scope("deployed").await.assert_empty_ok();
    assert_eq!(
        emulator.acl("deployed", SP),
        Some(databricks_emulator::Permission::Manage)
    );
    let me = me(&emulator, access_token).await.assert_ok();
    assert_eq!(me["userName"], SP);
    assert_eq!(me["applicationId"], SP);
    assert_eq!(
        me["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"])
    );
    drop(api);
}

#[tokio::test]
async fn m2m_with_the_secret_in_the_body() {
    let (_emulator, api) = start(Config::default());
    let params = [
        ("client_id", SP),
        ("client_secret", SP_SECRET),
        ("grant_type", "client_credentials"),
    ];
    let token = api.post_form(TOKEN, &params).await.assert_ok();
    assert_eq!(token["scope"], "all-apis", "the default scope");
}

#[tokio::test]
async fn token_endpoint_errors_are_oauth_shaped() {
    let (emulator, api) = start(Config::default());
    let grant = [("grant_type", "client_credentials")];
    let wrong_secret = Api::with_authorization(&emulator, &basic(SP, "wrong"));
    wrong_secret
        .post_form(TOKEN, &grant)
        .await
        .assert_oauth_error(401, "invalid_client");
    let unknown = Api::with_authorization(&emulator, &basic("nobody", "x"));
    unknown
        .post_form(TOKEN, &grant)
        .await
        .assert_oauth_error(401, "invalid_client");
    api.post_form(TOKEN, &grant)
        .await
        .assert_oauth_error(401, "invalid_client");
    api.post_form(TOKEN, &[("client_id", SP)])
        .await
        .assert_oauth_error(400, "invalid_request");
    api.post_form(TOKEN, &[("grant_type", "password")])
        .await
        .assert_oauth_error(400, "unsupported_grant_type");
    let mismatch = [("grant_type", "client_credentials"), ("client_id", "other")];
    Api::with_authorization(&emulator, &basic(SP, SP_SECRET))
        .post_form(TOKEN, &mismatch)
        .await
        .assert_oauth_error(400, "invalid_request");
    api.get(TOKEN, &[])
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn a_service_principal_needs_acls_like_a_user() {
    let (emulator, _api) = start(Config::default());
    let admin = Api::admin(&emulator);
    admin.create_scope("team").await.assert_empty_ok();
    admin
        .put_string("team", "db-password", "hunter2")
        .await
        .assert_empty_ok();
    let sp = Api::new(&emulator, &m2m_token(&emulator).await);
    sp.get_secret("team", "db-password")
        .await
        .assert_error(403, "PERMISSION_DENIED");
    admin.put_acl("team", SP, "READ").await.assert_empty_ok();
    let secret = sp.get_secret("team", "db-password").await.assert_ok();
    assert_eq!(secret["value"], STANDARD.encode("hunter2"));
    sp.put_string("team", "k", "v")
        .await
        .assert_error(403, "PERMISSION_DENIED");
}

#[tokio::test]
async fn a_service_principal_in_the_admins_group_is_an_admin() {
    let config = Config::default().with_group("admins", [SP]);
    let (emulator, _api) = start(config);
    let sp = Api::new(&emulator, &m2m_token(&emulator).await);
    sp.send("GET", "/__emulator/pacing", None).await.assert_ok();
    let me = sp.get(ME, &[]).await.assert_ok();
    let groups: Vec<&str> = me["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| group["display"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["users", "admins"]);
}

#[tokio::test]
async fn tokens_expire_after_the_ttl_with_the_real_401() {
    let (emulator, _api) = start(Config::default().with_token_ttl(Duration::from_secs(1)));
    let token = m2m_token(&emulator).await;
    let claims = claims(&token);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        1
    );
    Api::new(&emulator, &token)
        .list_scopes()
        .await
        .assert_empty_ok();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let message = Api::new(&emulator, &token)
        .list_scopes()
        .await
        .assert_error(401, "UNAUTHENTICATED");
    assert_eq!(message, "Token is expired.");
}

#[tokio::test]
async fn revoked_tokens_are_refused() {
    let config = Config::default().with_login_as(ALICE);
    let (emulator, api) = start(config);
    let sp_token = m2m_token(&emulator).await;
    let code = authorization_code(&api).await;
    let user_tokens = exchange_code(&api, &code, VERIFIER, REDIRECT)
        .await
        .assert_ok();

    // revoke only the service principal's tokens over HTTP
    let revoked = Api::admin(&emulator)
        .send(
            "DELETE",
            &format!("/__emulator/tokens?principal={SP}"),
            None,
        )
        .await
        .assert_ok();
    assert_eq!(revoked["revoked"], 1);
    let message = Api::new(&emulator, &sp_token)
        .list_scopes()
        .await
        .assert_error(401, "UNAUTHENTICATED");
    assert_eq!(message, "Invalid access token.");
    let user_access = user_tokens["access_token"].as_str().unwrap();
    Api::new(&emulator, user_access)
        .list_scopes()
        .await
        .assert_empty_ok();

    // then everything, in-process
    assert_eq!(emulator.revoke_tokens(None), 2);
    Api::new(&emulator, user_access)
        .list_scopes()
        .await
        .assert_error(401, "UNAUTHENTICATED");
    let refresh_token = user_tokens["refresh_token"].as_str().unwrap();
    refresh(&api, refresh_token)
        .await
        .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test]
async fn login_as_then_code_exchange_with_pkce_and_rotating_refresh_tokens() {
    let config = Config::default()
        .with_login_as(ALICE)
        .with_token_ttl(Duration::from_secs(120));
    let (emulator, api) = start(config);
    let code = authorization_code(&api).await;
    let tokens = exchange_code(&api, &code, VERIFIER, REDIRECT)
        .await
        .assert_ok();
    assert_eq!(tokens["expires_in"], 120);
    assert_eq!(tokens["scope"], "offline_access all-apis");
    let access_token = tokens["access_token"].as_str().unwrap();
    let alice = me(&emulator, access_token).await.assert_ok();
    assert_eq!(alice["userName"], ALICE);
    assert_eq!(alice["displayName"], "alice");

    // a refresh gives a new pair; the used refresh token is dead
    let first_refresh = tokens["refresh_token"].as_str().unwrap();
    let refreshed = refresh(&api, first_refresh).await.assert_ok();
    let second_refresh = refreshed["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh);
    assert_ne!(refreshed["access_token"], tokens["access_token"]);
    let description = refresh(&api, first_refresh)
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert_eq!(description, "Refresh token is invalid");
    refresh(&api, second_refresh).await.assert_ok();

    // the code was single-use
    exchange_code(&api, &code, VERIFIER, REDIRECT)
        .await
        .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test]
async fn the_code_exchange_checks_the_verifier_the_redirect_and_the_client() {
    let (_emulator, api) = start(Config::default().with_login_as(BOB));
    let code = authorization_code(&api).await;
    let description = exchange_code(
        &api,
        &code,
        "wrong-verifier-wrong-verifier-wrong-verifier",
        REDIRECT,
    )
    .await
    .assert_oauth_error(400, "invalid_grant");
    assert!(description.contains("PKCE"), "{description}");
    // a failed attempt used the code up
    exchange_code(&api, &code, VERIFIER, REDIRECT)
        .await
        .assert_oauth_error(400, "invalid_grant");

    let code = authorization_code(&api).await;
    let description = exchange_code(&api, &code, VERIFIER, "http://localhost:8021")
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert!(description.contains("redirect_uri"), "{description}");

    let code = authorization_code(&api).await;
    let other_client = [
        ("client_id", "another-app"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("grant_type", "authorization_code"),
        ("redirect_uri", REDIRECT),
    ];
    api.post_form(TOKEN, &other_client)
        .await
        .assert_oauth_error(401, "invalid_client");
    let no_verifier = [
        ("client_id", "databricks-cli"),
        ("code", code.as_str()),
        ("grant_type", "authorization_code"),
        ("redirect_uri", REDIRECT),
    ];
    api.post_form(TOKEN, &no_verifier)
        .await
        .assert_oauth_error(400, "invalid_request");
}

#[tokio::test]
async fn authorization_requests_are_validated() {
    let (_emulator, api) = start(Config::default().with_login_as(ALICE));
    // not redirected: unknown client, foreign redirect URI
    let mut params = authorize_params("s", CHALLENGE);
    params[0] = ("client_id", "evil-app");
    let answer = api.get(AUTHORIZE, &params).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.text.contains("Unknown OAuth client evil-app"),
        "{}",
        answer.text
    );
    let mut params = authorize_params("s", CHALLENGE);
    params[3] = ("redirect_uri", "https://evil.example/callback");
    let answer = api.get(AUTHORIZE, &params).await;
    assert_eq!(answer.status, 400);
    assert!(answer.headers.get("location").is_none());

    // redirected with an error and the state
    let mut params = authorize_params("s1", CHALLENGE);
    params.remove(1);
    let (_, error) = location_params(&api.get(AUTHORIZE, &params).await);
    assert_eq!(
        (error["error"].as_str(), error["state"].as_str()),
        (Some("invalid_request"), Some("s1"))
    );
    let mut params = authorize_params("s2", CHALLENGE);
    params[2] = ("code_challenge_method", "plain");
    let (_, error) = location_params(&api.get(AUTHORIZE, &params).await);
    assert_eq!(error["error"], "invalid_request");
    let mut params = authorize_params("s3", CHALLENGE);
    params[4] = ("response_type", "token");
    let (_, error) = location_params(&api.get(AUTHORIZE, &params).await);
    assert_eq!(error["error"], "unsupported_response_type");
}

#[tokio::test]
async fn without_login_as_a_page_offers_the_users_and_the_choice_is_posted() {
    let (emulator, api) = start(Config::default());
    let page = api
        .get(AUTHORIZE, &authorize_params("xyz", CHALLENGE))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    for user in [ALICE, BOB, "admin@example.com"] {
        assert!(
            page.text.contains(&format!("value=\"{user}\"")),
            "{}",
            page.text
        );
    }
    assert!(!page.text.contains(SP), "service principals do not log in");

    let mut choice = authorize_params("xyz", CHALLENGE);
    choice.push(("user", BOB));
    let (target, params) = location_params(&api.post_form(AUTHORIZE, &choice).await);
    assert_eq!(target, REDIRECT);
    assert_eq!(params["state"], "xyz");
    let code = params["code"].as_str().unwrap();
    let tokens = exchange_code(&api, code, VERIFIER, REDIRECT)
        .await
        .assert_ok();
    let bob = me(&emulator, tokens["access_token"].as_str().unwrap())
        .await
        .assert_ok();
    assert_eq!(bob["userName"], BOB);

    let mut denial = authorize_params("xyz", CHALLENGE);
    denial.push(("deny", "1"));
    let (_, params) = location_params(&api.post_form(AUTHORIZE, &denial).await);
    assert_eq!(params["error"], "access_denied");
    assert!(params.get("code").is_none());

    let mut stranger = authorize_params("xyz", CHALLENGE);
    stranger.push(("user", "mallory@example.com"));
    assert_eq!(api.post_form(AUTHORIZE, &stranger).await.status, 400);
}

#[tokio::test]
async fn scim_me_describes_users() {
    let config = Config::default().with_group("devs", [ALICE]);
    let (emulator, _api) = start(config);
    let alice = me(&emulator, crate::ALICE_TOKEN).await.assert_ok();
    assert_eq!(alice["userName"], ALICE);
    assert_eq!(alice["emails"][0]["value"], ALICE);
    assert_eq!(alice["groups"][1]["display"], "devs");
    let id = alice["id"].as_str().unwrap();
    assert_eq!(id.len(), 16);
    assert_eq!(
        me(&emulator, crate::ALICE_TOKEN).await.assert_ok()["id"],
        id,
        "stable"
    );
    Api::anonymous(&emulator)
        .get(ME, &[])
        .await
        .assert_error(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn the_request_log_shows_token_requests_without_their_secrets() {
    let (emulator, api) = start(Config::default().with_login_as(ALICE));
    let sp_token = m2m_token(&emulator).await;
    let code = authorization_code(&api).await;
    let tokens = exchange_code(&api, &code, VERIFIER, REDIRECT)
        .await
        .assert_ok();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    refresh(&api, refresh_token).await.assert_ok();
    let body_secret = [
        ("client_id", SP),
        ("client_secret", SP_SECRET),
        ("grant_type", "client_credentials"),
    ];
    api.post_form(TOKEN, &body_secret).await.assert_ok();

    let requests = emulator.requests();
    let token_requests: Vec<_> = requests.iter().filter(|r| r.path == TOKEN).collect();
    assert_eq!(token_requests.len(), 4);
    assert_eq!(token_requests[0].auth_scheme.as_deref(), Some("Basic"));
    assert_eq!(
        token_requests[0].body,
        json!({"grant_type": "client_credentials", "scope": "all-apis"})
    );
    assert_eq!(token_requests[1].body["code"], "***");
    assert_eq!(token_requests[1].body["code_verifier"], "***");
    assert_eq!(token_requests[1].body["redirect_uri"], REDIRECT);
    assert_eq!(token_requests[2].body["refresh_token"], "***");
    assert_eq!(token_requests[3].body["client_secret"], "***");
    assert_eq!(token_requests[3].body["client_id"], SP);
    let log = serde_json::to_string(&requests).unwrap();
    for secret in [SP_SECRET, &code, VERIFIER, refresh_token, &sp_token] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
    assert!(!log.contains("ci-secret"));
}
