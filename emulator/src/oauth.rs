//! The workspace's OAuth authorization server: host metadata, OIDC discovery, the token
//! endpoint (client credentials, authorization code with PKCE, refresh token, token exchange)
//! and the authorize endpoint.

use crate::error::{ApiError, OAuthError};
use crate::identity::{
    CodeGrant, Credential, DATABRICKS_CLI_CLIENT_ID, IdentityProvider, RefreshGrant,
};
use crate::jwt::{self, Claims};
use crate::server::{
    Answer, Received, Shared, error_answer, html_answer, json_answer, oauth_error_answer,
    redirect_answer, require_method, token_answer,
};
use crate::{random_token, sha256};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// The unauthenticated host metadata recent SDKs fetch before their first call.
const HOST_METADATA_PATH: &str = "/.well-known/databricks-config";
const DISCOVERY_PATH: &str = "/oidc/.well-known/oauth-authorization-server";
pub(crate) const TOKEN_PATH: &str = "/oidc/v1/token";
const AUTHORIZE_PATH: &str = "/oidc/v1/authorize";
const EMULATED_WORKSPACE_ID: &str = "1000000000000000";
const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const DEFAULT_SCOPE: &str = "all-apis";
const OFFLINE_ACCESS: &str = "offline_access";

/// Answers the paths of the authorization server; `None` for any other path.
pub(crate) fn route(shared: &Shared, request: &Received) -> Option<Answer> {
    let answer = match request.path.as_str() {
        HOST_METADATA_PATH => get_json(request, || host_metadata(shared, request)),
        DISCOVERY_PATH => get_json(request, || discovery(request)),
        TOKEN_PATH => match require_method(request, &Method::POST) {
            Ok(()) => match token(&shared.identity, request) {
                Ok(value) => token_answer(&value),
                Err(error) => oauth_error_answer(&error),
            },
            Err(error) => error_answer(&error),
        },
        AUTHORIZE_PATH => authorize(shared, request),
        _ => return None,
    };
    Some(answer)
}

fn get_json(request: &Received, value: impl FnOnce() -> Value) -> Answer {
    match require_method(request, &Method::GET) {
        Ok(()) => json_answer(StatusCode::OK, &value()),
        Err(error) => error_answer(&error),
    }
}

fn host_metadata(shared: &Shared, request: &Received) -> Value {
    json!({
        "oidc_endpoint": format!("{}/oidc", request.base_url),
        "workspace_id": EMULATED_WORKSPACE_ID,
        "cloud": shared.identity.cloud.as_str(),
        "host_type": "workspace",
    })
}

fn discovery(request: &Received) -> Value {
    let base = &request.base_url;
    json!({
        "issuer": format!("{base}/oidc"),
        "authorization_endpoint": format!("{base}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "response_types_supported": ["code"],
        "grant_types_supported": [
            "client_credentials", "authorization_code", "refresh_token", TOKEN_EXCHANGE_GRANT,
        ],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": [DEFAULT_SCOPE, OFFLINE_ACCESS, "openid", "profile", "email"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
}

/// Form parameters (first occurrence of each; empty values count as absent).
pub(crate) struct Params(Map<String, Value>);

impl Params {
    pub fn from_query(query: &str) -> Params {
        Params(crate::fields::query_map(query))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("Missing parameter {name}")))
    }

    fn scope(&self) -> &str {
        self.get("scope").unwrap_or(DEFAULT_SCOPE)
    }
}

pub(crate) fn form_params(request: &Received) -> Result<Params, OAuthError> {
    let body = request
        .body
        .as_ref()
        .map_err(|_| OAuthError::invalid_request("The request body could not be read"))?;
    let text = std::str::from_utf8(body).map_err(|_| {
        OAuthError::invalid_request("Send the parameters as application/x-www-form-urlencoded")
    })?;
    Ok(Params::from_query(text))
}

/// The client as it authenticated: HTTP Basic (`client_secret_basic`, id and secret
/// form-encoded first) or the `client_id` / `client_secret` parameters.
pub(crate) struct Client {
    pub id: String,
    pub secret: Option<String>,
}

pub(crate) fn client(request: &Received, params: &Params) -> Result<Option<Client>, OAuthError> {
    let basic = request
        .header(header::AUTHORIZATION)
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    let Some((_, credentials)) = basic else {
        return Ok(params.get("client_id").map(|id| Client {
            id: id.to_string(),
            secret: params.get("client_secret").map(String::from),
        }));
    };
    let malformed = || OAuthError::invalid_client("Malformed HTTP Basic client credentials");
    let decoded = BASE64.decode(credentials.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let (id, secret) = (form_decode(id), form_decode(secret));
    if params.get("client_id").is_some_and(|body_id| body_id != id) {
        return Err(OAuthError::invalid_request(
            "client_id differs between the Authorization header and the body",
        ));
    }
    Ok(Some(Client {
        id,
        secret: Some(secret),
    }))
}

/// Decodes `application/x-www-form-urlencoded` text (RFC 6749 section 2.3.1).
pub(crate) fn form_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn token(identity: &IdentityProvider, request: &Received) -> Result<Value, OAuthError> {
    let params = form_params(request)?;
    let client = client(request, &params)?;
    let grant_type = params.require("grant_type")?.to_string();
    let token_request = TokenRequest {
        identity,
        request,
        params,
        client,
    };
    match grant_type.as_str() {
        "client_credentials" => token_request.client_credentials(),
        "authorization_code" => token_request.authorization_code(),
        "refresh_token" => token_request.refresh(),
        TOKEN_EXCHANGE_GRANT => token_request.token_exchange(),
        other => Err(OAuthError::unsupported_grant_type(other)),
    }
}

/// One request to the token endpoint: its parameters and the client as it authenticated.
struct TokenRequest<'a> {
    identity: &'a IdentityProvider,
    request: &'a Received,
    params: Params,
    client: Option<Client>,
}

impl TokenRequest<'_> {
    fn client_credentials(&self) -> Result<Value, OAuthError> {
        let Some(Client {
            id,
            secret: Some(secret),
        }) = &self.client
        else {
            return Err(OAuthError::invalid_client(
                "The client_credentials grant needs client authentication (HTTP Basic, or client_id and client_secret)",
            ));
        };
        self.identity.check_client_secret(id, secret)?;
        Ok(self.issue(id, id, self.params.scope(), false))
    }

    fn authorization_code(&self) -> Result<Value, OAuthError> {
        let code = self.params.require("code")?;
        let redirect_uri = self.params.require("redirect_uri")?;
        let verifier = self.params.require("code_verifier")?;
        let client_id = self.public_client_id()?;
        let grant = self.identity.take_code(code)?;
        if grant.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "The authorization code was issued to another client",
            ));
        }
        if grant.redirect_uri != redirect_uri {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the one of the authorization request",
            ));
        }
        if pkce_challenge(verifier) != grant.code_challenge {
            return Err(OAuthError::invalid_grant(
                "PKCE verification failed: code_verifier does not match the code_challenge",
            ));
        }
        let refreshable = has_scope(&grant.scope, OFFLINE_ACCESS);
        Ok(self.issue(&grant.principal, client_id, &grant.scope, refreshable))
    }

    fn refresh(&self) -> Result<Value, OAuthError> {
        let token = self.params.require("refresh_token")?;
        let client_id = self.public_client_id()?;
        let grant = self.identity.take_refresh_token(token, client_id)?;
        Ok(self.issue(&grant.principal, client_id, &grant.scope, true))
    }

    fn token_exchange(&self) -> Result<Value, OAuthError> {
        let subject_token = self.params.require("subject_token")?;
        let token_type = self.params.require("subject_token_type")?;
        if token_type != JWT_TOKEN_TYPE {
            return Err(OAuthError::invalid_request(format!(
                "Unsupported subject_token_type {token_type:?}: use {JWT_TOKEN_TYPE}"
            )));
        }
        let claims = jwt::claims(subject_token)
            .map_err(|problem| OAuthError::invalid_request(format!("subject_token: {problem}")))?;
        let default_audience = format!("{}{TOKEN_PATH}", self.request.base_url);
        let client_id = self.client.as_ref().map(|client| client.id.as_str());
        let principal = self
            .identity
            .federated_principal(client_id, &claims, &default_audience)?;
        let mut answer = self.issue(&principal, &principal, self.params.scope(), false);
        answer["issued_token_type"] = json!(ACCESS_TOKEN_TYPE);
        Ok(answer)
    }

    /// The client id of a public client (no secret; PKCE protects the code instead).
    fn public_client_id(&self) -> Result<&str, OAuthError> {
        match &self.client {
            Some(client) if client.id == DATABRICKS_CLI_CLIENT_ID => Ok(&client.id),
            Some(client) => Err(OAuthError::invalid_client(format!(
                "Unknown OAuth client {}: the emulator's public client is {DATABRICKS_CLI_CLIENT_ID}",
                client.id
            ))),
            None => Err(OAuthError::invalid_request("Missing parameter client_id")),
        }
    }

    /// A Databricks access token for `principal` (and a rotating refresh token if asked).
    fn issue(
        &self,
        principal: &str,
        client_id: &str,
        scope: &str,
        with_refresh_token: bool,
    ) -> Value {
        let identity = self.identity;
        let claims = json!({
            "iss": format!("{}/oidc", self.request.base_url),
            "sub": principal,
            "aud": client_id,
            "client_id": client_id,
            "scope": scope,
            "jti": random_token(""),
        });
        let claims: Claims = claims.as_object().cloned().unwrap_or_default();
        let (access_token, _) =
            identity.issue_access_token(claims, principal, Credential::OAuth, true);
        let mut answer = json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": identity.token_ttl.as_secs(),
            "scope": scope,
        });
        if with_refresh_token {
            answer["refresh_token"] = json!(identity.issue_refresh_token(RefreshGrant {
                principal: principal.to_string(),
                client_id: client_id.to_string(),
                scope: scope.to_string(),
            }));
        }
        answer
    }
}

fn has_scope(scopes: &str, wanted: &str) -> bool {
    scopes.split_whitespace().any(|scope| scope == wanted)
}

/// `BASE64URL(SHA256(verifier))`, the S256 code challenge (RFC 7636).
fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(verifier))
}

/// A validated authorization request whose redirect URI may receive answers.
struct AuthorizationRequest {
    params: Params,
    redirect_uri: String,
}

impl AuthorizationRequest {
    /// Problems that must not be redirected (unknown client, unusable redirect URI).
    fn parse(params: Params) -> Result<AuthorizationRequest, String> {
        match params.get("client_id") {
            Some(DATABRICKS_CLI_CLIENT_ID) => {}
            Some(other) => {
                return Err(format!(
                    "Unknown OAuth client {other}: the emulator's public client is {DATABRICKS_CLI_CLIENT_ID}"
                ));
            }
            None => return Err("Missing parameter client_id".into()),
        }
        let redirect_uri = params
            .get("redirect_uri")
            .ok_or("Missing parameter redirect_uri")?
            .to_string();
        if !is_loopback_http(&redirect_uri) {
            return Err(format!(
                "redirect_uri {redirect_uri} is not registered for {DATABRICKS_CLI_CLIENT_ID}: \
                 use http://localhost:PORT or http://127.0.0.1:PORT"
            ));
        }
        Ok(AuthorizationRequest {
            params,
            redirect_uri,
        })
    }

    /// Problems the client hears about through its redirect URI.
    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.params.get("response_type") != Some("code") {
            return Err((
                "unsupported_response_type",
                "Only response_type=code is supported".into(),
            ));
        }
        if self.params.get("code_challenge").is_none() {
            return Err((
                "invalid_request",
                "PKCE is required: send code_challenge and code_challenge_method=S256".into(),
            ));
        }
        if self.params.get("code_challenge_method") != Some("S256") {
            return Err((
                "invalid_request",
                "Only code_challenge_method=S256 is supported".into(),
            ));
        }
        Ok(())
    }

    /// The redirect URI with `pairs`, the request's `state` and the issuer (`iss`, RFC 9207)
    /// added to its query.
    fn redirect(&self, request: &Received, pairs: &[(&str, &str)]) -> Answer {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(pairs);
        if let Some(state) = self.params.get("state") {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &format!("{}/oidc", request.base_url));
        let separator = if self.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        redirect_answer(&format!(
            "{}{separator}{}",
            self.redirect_uri,
            query.finish()
        ))
    }

    fn approve(&self, identity: &IdentityProvider, request: &Received, user: &str) -> Answer {
        let code = identity.issue_code(CodeGrant {
            principal: user.to_string(),
            client_id: DATABRICKS_CLI_CLIENT_ID.to_string(),
            redirect_uri: self.redirect_uri.clone(),
            code_challenge: self.params.get("code_challenge").unwrap_or_default().into(),
            scope: self.params.scope().to_string(),
            expires_at: SystemTime::now(),
        });
        self.redirect(request, &[("code", &code)])
    }
}

/// RFC 8252 loopback redirect URIs: `http://localhost`, `127.0.0.1` or `[::1]`, any port.
fn is_loopback_http(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => authority,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// `GET` with `--login-as`: approve at once; `GET` otherwise: the page to pick a user; `POST`
/// from that page: approve as the picked `user`, or deny.
fn authorize(shared: &Shared, request: &Received) -> Answer {
    let params = match request.method {
        Method::GET => Params::from_query(&request.query),
        Method::POST => match form_params(request) {
            Ok(params) => params,
            Err(error) => return authorize_error_page(&error.description),
        },
        _ => {
            let error =
                ApiError::method_not_allowed(request.method.as_str(), &request.path, "GET or POST");
            return error_answer(&error);
        }
    };
    let authorization = match AuthorizationRequest::parse(params) {
        Ok(authorization) => authorization,
        Err(problem) => return authorize_error_page(&problem),
    };
    if let Err((error, description)) = authorization.check() {
        let pairs = [
            ("error", error),
            ("error_description", description.as_str()),
        ];
        return authorization.redirect(request, &pairs);
    }
    let identity = &shared.identity;
    if request.method == Method::GET {
        return match &identity.login_as {
            Some(user) => authorization.approve(identity, request, user),
            None => login_page(shared, &authorization),
        };
    }
    if authorization.params.get("deny").is_some() {
        return authorization.redirect(
            request,
            &[
                ("error", "access_denied"),
                ("error_description", "The user denied the request"),
            ],
        );
    }
    match authorization.params.get("user") {
        Some(user) if shared.directory.has_user(user) => {
            authorization.approve(identity, request, user)
        }
        Some(user) => authorize_error_page(&format!("Unknown user {user}")),
        None => authorize_error_page("Pick a user or deny the request"),
    }
}

fn authorize_error_page(problem: &str) -> Answer {
    let html = format!(
        "<!doctype html><html><head><title>Authorization error</title></head>\
         <body><h1>Authorization error</h1><p>{}</p></body></html>",
        escape_html(problem)
    );
    html_answer(StatusCode::BAD_REQUEST, html)
}

/// A minimal page: one button per configured user, and one to deny.
fn login_page(shared: &Shared, authorization: &AuthorizationRequest) -> Answer {
    let hidden: String = authorization
        .params
        .0
        .iter()
        .filter_map(|(name, value)| Some((name, value.as_str()?)))
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape_html(name),
                escape_html(value)
            )
        })
        .collect();
    let buttons: String = shared
        .directory
        .users()
        .into_iter()
        .map(|user| {
            let user = escape_html(user);
            format!("<p><button name=\"user\" value=\"{user}\">Sign in as {user}</button></p>")
        })
        .collect();
    let html = format!(
        "<!doctype html><html><head><title>databricks-emulator sign-in</title></head><body>\
         <h1>Sign in to the emulated workspace</h1>\
         <p>{} asks for access ({}).</p>\
         <form method=\"post\" action=\"{AUTHORIZE_PATH}\">{hidden}{buttons}\
         <p><button name=\"deny\" value=\"1\">Deny</button></p></form></body></html>",
        DATABRICKS_CLI_CLIENT_ID,
        escape_html(authorization.params.scope()),
    );
    let mut answer = html_answer(StatusCode::OK, html);
    answer
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    answer
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn only_loopback_http_redirects_are_accepted() {
        for good in [
            "http://localhost:8020",
            "http://127.0.0.1:8021/callback",
            "http://[::1]:9000",
            "http://localhost",
        ] {
            assert!(is_loopback_http(good), "{good}");
        }
        for bad in [
            "https://localhost:8020",
            "http://localhost.evil.com:8020",
            "http://evil.com/http://localhost",
            "http://127.0.0.1:notaport",
            "localhost:8020",
        ] {
            assert!(!is_loopback_http(bad), "{bad}");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz_config())]

        #[test]
        fn fuzz_redirect_uri(uri in "(http|https)://[a-z0-9.:\\[\\]@/?#%-]{0,40}|\\PC{0,40}") {
            if is_loopback_http(&uri) {
                let authority = uri["http://".len()..].split(['/', '?', '#']).next().unwrap();
                proptest::prop_assert!(
                    ["localhost", "127.0.0.1", "[::1]"].iter().any(|host| {
                        authority == *host || authority.starts_with(&format!("{host}:"))
                    }),
                    "{} accepted", uri
                );
            }
        }

        #[test]
        fn fuzz_basic_credentials(id in "\\PC{0,30}", secret in "\\PC{0,30}") {
            // what x/oauth2 sends: each part form-encoded, then joined with a colon
            let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
            proptest::prop_assert_eq!(form_decode(&encode(&id)), id);
            proptest::prop_assert_eq!(form_decode(&encode(&secret)), secret);
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%2Bb+c%3A"), "a+b c:");
        assert_eq!(form_decode("plain&raw=secret"), "plain&raw=secret");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
