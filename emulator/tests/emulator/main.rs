//! End-to-end tests of `databricks-emulator` over real HTTP on 127.0.0.1.

mod acls;
mod binary;
mod ci_tokens;
mod endpoints;
mod entra;
mod errors;
mod faults;
mod keyvault;
mod oauth;
mod pacing;
mod robustness;

use databricks_emulator::{Config, Emulator};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const ALICE: &str = "alice@example.com";
pub const ALICE_TOKEN: &str = "alice-token";
pub const BOB: &str = "bob@example.com";
pub const BOB_TOKEN: &str = "bob-token";

/// An emulator with the default admin plus alice and bob.
pub fn start_with_users(config: Config) -> Emulator {
    let config = config
        .with_user(ALICE, ALICE_TOKEN)
        .with_user(BOB, BOB_TOKEN);
    Emulator::start(config).expect("start the emulator")
}

/// An HTTP answer, kept whole for assertions.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {:?}", self.text))
    }

    /// Asserts a Databricks error answer and returns its message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error_code: &str) -> String {
        let body = self.json();
        assert_eq!(
            (self.status, body["error_code"].as_str()),
            (status, Some(error_code)),
            "{body}"
        );
        let message = body["message"].as_str().expect("a message");
        assert!(!message.is_empty());
        message.to_string()
    }

    /// Asserts an OAuth error answer and returns its description.
    #[track_caller]
    pub fn assert_oauth_error(&self, status: u16, error: &str) -> String {
        let body = self.json();
        assert_eq!(
            (self.status, body["error"].as_str()),
            (status, Some(error)),
            "{body}"
        );
        body["error_description"]
            .as_str()
            .expect("an error_description")
            .to_string()
    }

    #[track_caller]
    pub fn assert_ok(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.text);
        self.json()
    }

    #[track_caller]
    pub fn assert_empty_ok(&self) {
        assert_eq!((self.status, self.text.as_str()), (200, "{}"));
    }
}

/// A client of one emulator, authenticating with one token (or none).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    url: String,
    authorization: Option<String>,
}

impl Api {
    pub fn new(emulator: &Emulator, token: &str) -> Api {
        Api::for_url(&emulator.url(), Some(format!("Bearer {token}")))
    }

    pub fn admin(emulator: &Emulator) -> Api {
        Api::new(emulator, &emulator.admin_token())
    }

    pub fn anonymous(emulator: &Emulator) -> Api {
        Api::for_url(&emulator.url(), None)
    }

    pub fn with_authorization(emulator: &Emulator, header: &str) -> Api {
        Api::for_url(&emulator.url(), Some(header.to_string()))
    }

    pub fn for_url(url: &str, authorization: Option<String>) -> Api {
        let http = http_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Api {
            http,
            url: url.to_string(),
            authorization,
        }
    }

    pub async fn send(&self, method: &str, path_and_query: &str, body: Option<Vec<u8>>) -> Answer {
        self.try_send(method, path_and_query, body)
            .await
            .unwrap_or_else(|error| panic!("{method} {path_and_query}: {error}"))
    }

    pub async fn try_send(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, reqwest::Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self
            .http
            .request(method, format!("{}{path_and_query}", self.url));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        self.answer(request).await
    }

    /// Sends the request with this client's `Authorization` and keeps the whole answer.
    async fn answer(&self, mut request: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        Ok(Answer {
            status,
            headers,
            text,
        })
    }

    /// POSTs an `application/x-www-form-urlencoded` body, like an OAuth client.
    pub async fn post_form(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        self.answer(request)
            .await
            .unwrap_or_else(|error| panic!("POST {path}: {error}"))
    }

    pub async fn get(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let separator = if query.is_empty() { "" } else { "?" };
        self.send("GET", &format!("{path}{separator}{query}"), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body.to_string().into_bytes()))
            .await
    }

    pub async fn create_scope(&self, scope: &str) -> Answer {
        self.post("/api/2.0/secrets/scopes/create", json!({ "scope": scope }))
            .await
    }

    pub async fn delete_scope(&self, scope: &str) -> Answer {
        self.post("/api/2.0/secrets/scopes/delete", json!({ "scope": scope }))
            .await
    }

    pub async fn list_scopes(&self) -> Answer {
        self.get("/api/2.0/secrets/scopes/list", &[]).await
    }

    pub async fn put_string(&self, scope: &str, key: &str, value: &str) -> Answer {
        let body = json!({ "scope": scope, "key": key, "string_value": value });
        self.post("/api/2.0/secrets/put", body).await
    }

    pub async fn put_bytes(&self, scope: &str, key: &str, base64_value: &str) -> Answer {
        let body = json!({ "scope": scope, "key": key, "bytes_value": base64_value });
        self.post("/api/2.0/secrets/put", body).await
    }

    pub async fn delete_secret(&self, scope: &str, key: &str) -> Answer {
        let body = json!({ "scope": scope, "key": key });
        self.post("/api/2.0/secrets/delete", body).await
    }

    pub async fn list_secrets(&self, scope: &str) -> Answer {
        self.get("/api/2.0/secrets/list", &[("scope", scope)]).await
    }

    pub async fn get_secret(&self, scope: &str, key: &str) -> Answer {
        self.get("/api/2.0/secrets/get", &[("scope", scope), ("key", key)])
            .await
    }

    pub async fn put_acl(&self, scope: &str, principal: &str, permission: &str) -> Answer {
        let body = json!({ "scope": scope, "principal": principal, "permission": permission });
        self.post("/api/2.0/secrets/acls/put", body).await
    }

    pub async fn delete_acl(&self, scope: &str, principal: &str) -> Answer {
        let body = json!({ "scope": scope, "principal": principal });
        self.post("/api/2.0/secrets/acls/delete", body).await
    }

    pub async fn get_acl(&self, scope: &str, principal: &str) -> Answer {
        let params = [("scope", scope), ("principal", principal)];
        self.get("/api/2.0/secrets/acls/get", &params).await
    }

    pub async fn list_acls(&self, scope: &str) -> Answer {
        self.get("/api/2.0/secrets/acls/list", &[("scope", scope)])
            .await
    }
}

/// A reqwest client builder that works whatever TLS features the build unified: the CLI's
/// `rustls-no-provider` makes reqwest require a process-wide crypto provider.
pub fn http_client() -> reqwest::ClientBuilder {
    // Another test may have installed it already; either way one is installed afterwards.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
