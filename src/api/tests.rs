//! HTTP behaviour of the client against the emulator on 127.0.0.1, whose faults stage the
//! answers of a misbehaving server; a raw socket serves only what the emulator cannot (see
//! [`RawServer`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use databricks_emulator::{Config, DEFAULT_ADMIN, Emulator, Fault, LoggedRequest};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::credentials::{AuthHeaders, BoxFuture};
use super::retry::RetryTiming;
use super::*;
use crate::secret::{Secret, SecretBytes};

const TOKEN: &str = "dapi-test-token-1234";

const LIST_SCOPES: &str = "/api/2.0/secrets/scopes/list";
const CREATE_SCOPE: &str = "/api/2.0/secrets/scopes/create";
const DELETE_SCOPE: &str = "/api/2.0/secrets/scopes/delete";
const DELETE_SECRET: &str = "/api/2.0/secrets/delete";
const GET_SECRET: &str = "/api/2.0/secrets/get";
const ACLS: &str = "/api/2.0/secrets/acls/";

/// An emulator whose admin uses `TOKEN`.
fn emulator() -> Emulator {
    Emulator::start(Config::default().with_token(TOKEN)).expect("an emulator on 127.0.0.1")
}

/// An answer with a JSON content type and `body` as given (valid JSON or not).
fn json_answer(status: u16, body: &str) -> Fault {
    Fault {
        content_type: Some("application/json".to_owned()),
        ..Fault::html(status, body)
    }
}

fn api_error(status: u16, code: &str, message: &str) -> Fault {
    Fault::status(status).with_error(code, message)
}

fn paths(emulator: &Emulator) -> Vec<String> {
    emulator.requests().into_iter().map(|r| r.path).collect()
}

fn requests_to(emulator: &Emulator, path: &str) -> Vec<LoggedRequest> {
    let mut requests = emulator.requests();
    requests.retain(|request| request.path == path);
    requests
}

fn fast_timing() -> RetryTiming {
    RetryTiming {
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        min_wait: Duration::from_millis(1),
        connection_delays: vec![
            Duration::from_millis(10),
            Duration::from_millis(20),
            Duration::from_millis(30),
        ],
    }
}

fn bearer(token: &str) -> Arc<dyn CredentialProvider> {
    Arc::new(StaticCredentials::bearer(&Secret::new(token)).expect("a token without line breaks"))
}

fn basic(username: &str, password: &str) -> Arc<dyn CredentialProvider> {
    Arc::new(StaticCredentials::basic(username, &Secret::new(password)).expect("valid text"))
}

fn options(url: &str) -> ClientOptions {
    let mut options = ClientOptions::new(url.to_owned(), bearer(TOKEN));
    options.connect_timeout = Duration::from_secs(2);
    options.request_timeout = Duration::from_secs(5);
    options.retry_timeout = Duration::from_secs(10);
    options
}

fn client(options: ClientOptions) -> Client {
    Client::with_timing(options, fast_timing()).expect("a client for a loopback URL")
}

/// Options whose observer records every event.
fn observed(url: &str) -> (ClientOptions, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let mut options = options(url);
    options.observer = Some(Arc::new(move |event: &Event| {
        sink.lock().unwrap().push(event.clone())
    }));
    (options, events)
}

/// Every event as the user sees it.
fn event_lines(events: &Mutex<Vec<Event>>) -> Vec<String> {
    events
        .lock()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn retry_lines(events: &Mutex<Vec<Event>>) -> Vec<String> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|event| matches!(event, Event::Retry { .. }))
        .map(ToString::to_string)
        .collect()
}

fn scope_request(name: &str) -> CreateScope {
    CreateScope {
        scope: name.to_owned(),
        initial_manage_principal: None,
        backend: ScopeBackend::Databricks,
    }
}

/// A client of a fresh emulator in which `scope` exists, with the request log cleared.
async fn with_scope(scope: &str) -> (Emulator, Client) {
    let emulator = emulator();
    let api = client(options(&emulator.url()));
    api.create_scope(&scope_request(scope)).await.unwrap();
    emulator.clear_requests();
    (emulator, api)
}

/// A loopback server for what the emulator cannot do: answer with bytes that are not HTTP,
/// and show a request's exact bytes (the emulator's log has no headers). Each connection gets
/// the next answer, then is closed.
struct RawServer {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

#[derive(Debug, Clone)]
struct Recorded {
    head: String,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

impl RawServer {
    async fn start(answers: Vec<Vec<u8>>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        tokio::spawn(async move {
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let Some(request) = read_request(&mut stream).await else {
                    return;
                };
                recorded.lock().unwrap().push(request);
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            }
        });
        RawServer { url, requests }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

/// A complete HTTP answer with a JSON body.
fn http_ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length = Recorded {
        head: head.clone(),
        body: Vec::new(),
    }
    .header("content-length")
    .and_then(|value| value.parse::<usize>().ok())
    .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buffer.extend_from_slice(&chunk[..read]);
    }
    Some(Recorded {
        head,
        body: buffer[head_end..head_end + length].to_vec(),
    })
}

#[tokio::test]
async fn requests_carry_the_encoded_query_the_credentials_and_the_user_agent() {
    let answer = r#"{"secrets":[{"key":"b","last_updated_timestamp":2},{"key":"a"}],"extra":true}"#;
    let server = RawServer::start(vec![http_ok(answer), http_ok("{}")]).await;
    let api = client(options(&server.url));
    let reply = api.list_secrets("a b/ü&x=1").await.unwrap();
    api.put_acl("s", "users", Permission::Read).await.unwrap();

    let keys: Vec<_> = reply.data.secrets.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["b", "a"]);
    assert_eq!(reply.data.secrets[0].last_updated_timestamp, Some(2));
    assert_eq!(reply.raw.to_string(), answer);
    let requests = server.requests();
    assert!(
        requests[0]
            .head
            .starts_with("GET /api/2.0/secrets/list?scope=a%20b%2F%C3%BC%26x%3D1 HTTP/1.1\r\n"),
        "{}",
        requests[0].head
    );
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(&*format!("Bearer {TOKEN}"))
        );
        assert_eq!(
            request.header("user-agent"),
            Some(concat!("databricks-secrets/", env!("CARGO_PKG_VERSION")))
        );
    }
    assert_eq!(requests[1].header("content-type"), Some("application/json"));
    assert_eq!(
        String::from_utf8_lossy(&requests[1].body),
        r#"{"scope":"s","principal":"users","permission":"READ"}"#
    );
}

#[tokio::test]
async fn changes_send_json_and_accept_empty_or_empty_object_answers() {
    let (emulator, api) = with_scope("s").await;
    emulator.inject_fault(json_answer(200, "").with_path("/api/2.0/secrets/put"));
    emulator.inject_fault(json_answer(200, "{}").with_path(CREATE_SCOPE));
    let bytes = SecretValue::Bytes(SecretBytes::new(vec![0u8, 0xff, b'a']));
    api.put_secret("s", "k", &bytes).await.unwrap();
    let text = SecretValue::Text(Secret::new("line\nvalue"));
    api.put_secret("s", "k2", &text).await.unwrap();
    api.put_acl("s", "users", "read".parse().unwrap())
        .await
        .unwrap();
    let key_vault = CreateScope {
        scope: "kv".into(),
        initial_manage_principal: Some("users".into()),
        backend: ScopeBackend::AzureKeyVault {
            resource_id: "/subscriptions/x".into(),
            dns_name: "https://kv.vault.azure.net/".into(),
        },
    };
    api.create_scope(&key_vault).await.unwrap();

    // The first put was answered by the fault with an empty body, the second was stored.
    let puts = requests_to(&emulator, "/api/2.0/secrets/put");
    assert_eq!(
        puts[0].body,
        json!({"scope": "s", "key": "k", "bytes_value": "***"})
    );
    assert_eq!(
        emulator.secret_bytes("s", "k2").as_deref(),
        Some(b"line\nvalue".as_slice())
    );
    assert_eq!(
        emulator.acl("s", "users"),
        Some(databricks_emulator::Permission::Read)
    );
    assert_eq!(
        requests_to(&emulator, CREATE_SCOPE)[0].body,
        json!({
            "scope": "kv",
            "initial_manage_principal": "users",
            "scope_backend_type": "AZURE_KEYVAULT",
            "backend_azure_keyvault": {"resource_id": "/subscriptions/x", "dns_name": "https://kv.vault.azure.net/"}
        })
    );
}

#[tokio::test]
async fn binary_values_round_trip_in_base64() {
    let (emulator, api) = with_scope("s").await;
    let bytes = SecretValue::Bytes(SecretBytes::new(vec![0u8, 0xff, b'a']));
    api.put_secret("s", "k", &bytes).await.unwrap();
    assert_eq!(
        emulator.secret_bytes("s", "k").as_deref(),
        Some([0u8, 0xff, b'a'].as_slice())
    );
}

#[tokio::test]
async fn basic_auth_sends_user_and_password_in_base64() {
    let emulator = emulator();
    let mut options = options(&emulator.url());
    options.credentials = basic(DEFAULT_ADMIN, TOKEN);
    client(options).list_scopes().await.unwrap();
    assert_eq!(emulator.requests()[0].user.as_deref(), Some(DEFAULT_ADMIN));
}

#[tokio::test]
async fn get_secret_decodes_the_value_and_reports_bad_base64_without_it() {
    let (emulator, api) = with_scope("s").await;
    let hello = SecretValue::Text(Secret::new("hello"));
    api.put_secret("s", "k", &hello).await.unwrap();
    let reply = api.get_secret("s", "k").await.unwrap();
    assert_eq!(reply.data.key, "k");
    assert_eq!(reply.data.value.expose(), b"hello");
    assert_eq!(requests_to(&emulator, GET_SECRET)[0].query, "scope=s&key=k");

    emulator.inject_fault(json_answer(200, r#"{"key":"k","value":"not base64!"}"#));
    let error = api.get_secret("s", "k").await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("not valid base64"), "{message}");
    assert!(!message.contains("not base64!"), "{message}");
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_honoured() {
    let (emulator, _) = with_scope("s").await;
    emulator.inject_fault(
        api_error(429, "REQUEST_LIMIT_EXCEEDED", "slow down")
            .with_retry_after("1")
            .with_path(DELETE_SCOPE),
    );
    let (options, events) = observed(&emulator.url());
    let started = Instant::now();
    client(options).delete_scope("s").await.unwrap();

    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(paths(&emulator), [DELETE_SCOPE, DELETE_SCOPE]);
    assert_eq!(emulator.scope_names(), Vec::<String>::new());
    assert_eq!(
        retry_lines(&events),
        [
            "Retrying POST /api/2.0/secrets/scopes/delete in 1.0s (attempt 2): 429 REQUEST_LIMIT_EXCEEDED"
        ]
    );
}

#[tokio::test]
async fn unavailable_and_exhausted_answers_are_retried_with_backoff() {
    let (emulator, api) = with_scope("s").await;
    api.put_acl("s", "users", Permission::Read).await.unwrap();
    emulator.inject_fault(Fault::html(503, "Service Unavailable"));
    emulator.inject_fault(api_error(400, "RESOURCE_EXHAUSTED", "quota"));
    emulator.clear_requests();
    let (options, events) = observed(&emulator.url());
    let reply = client(options).list_acls("s").await.unwrap();

    let users = reply
        .data
        .items
        .iter()
        .find(|item| item.principal == "users");
    assert_eq!(users.map(|item| item.permission.as_str()), Some("READ"));
    assert_eq!(emulator.requests().len(), 3);
    let lines = retry_lines(&events);
    assert_eq!(lines.len(), 2);
    assert!(lines[0].ends_with("(attempt 2): HTTP 503"), "{}", lines[0]);
    assert!(
        lines[1].ends_with("(attempt 3): 400 RESOURCE_EXHAUSTED"),
        "{}",
        lines[1]
    );
}

#[tokio::test]
async fn internal_errors_and_other_client_errors_are_not_retried() {
    let emulator = emulator();
    emulator.inject_fault(api_error(500, "INTERNAL_ERROR", "boom"));
    let api = client(options(&emulator.url()));

    let error = api.delete_secret("s", "k").await.unwrap_err();
    assert_eq!(error.to_string(), "INTERNAL_ERROR: boom");
    let error = api.list_secrets("nope").await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.error_code(), Some("RESOURCE_DOES_NOT_EXIST"));
    assert_eq!(emulator.requests().len(), 2);
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let (emulator, api) = with_scope("s").await;
    api.put_acl("s", "u", Permission::Write).await.unwrap();
    emulator.inject_fault(Fault::drop_connection());
    emulator.clear_requests();
    let (options, events) = observed(&emulator.url());
    let reply = client(options).get_acl("s", "u").await.unwrap();
    assert_eq!(reply.data.permission, "WRITE");
    let statuses: Vec<_> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [None, Some(200)]);
    assert_eq!(retry_lines(&events).len(), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_in_time_times_out_without_retrying() {
    let emulator = emulator();
    emulator.inject_fault(Fault::delay(Duration::from_secs(2)));
    let (mut options, events) = observed(&emulator.url());
    options.request_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let error = client(options).list_scopes().await.unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("no answer from {}{LIST_SCOPES} in time", emulator.url())
    );
    assert!(retry_lines(&events).is_empty());
}

#[tokio::test]
async fn redirects_are_reported_not_followed() {
    let emulator = emulator();
    // The login page is on the emulator itself: following the redirect would show in its log.
    let login = format!("{}/login?next=%2Fapi", emulator.url());
    emulator.inject_fault(Fault::redirect(&login));
    let error = client(options(&emulator.url()))
        .list_scopes()
        .await
        .unwrap_err();
    match &error {
        Error::Redirect { status, location } => {
            assert_eq!(*status, 302);
            assert_eq!(location.as_deref(), Some(login.as_str()));
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }
    assert!(error.to_string().ends_with("instead of an API answer"));
    assert_eq!(paths(&emulator), [LIST_SCOPES]);
}

#[tokio::test]
async fn html_answers_are_errors_with_status_and_excerpt() {
    let page = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad   Gateway</h1></body></html>";
    let login = "<!doctype html><html><body>Sign in to Databricks</body></html>";
    let emulator = emulator();
    emulator.inject_fault(Fault::html(502, page));
    emulator.inject_fault(Fault::html(200, login).with_count(2));
    let api = client(options(&emulator.url()));

    let error = api.list_scopes().await.unwrap_err();
    assert_eq!(error.status(), Some(502));
    let message = error.to_string();
    assert!(
        message.contains("HTTP 502") && message.contains("\"502 Bad Gateway Bad Gateway\""),
        "{message}"
    );

    let error = api.list_scopes().await.unwrap_err();
    assert!(
        matches!(error, Error::UnexpectedBody { status: 200, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("Sign in to Databricks"));
    let error = api.delete_scope("s").await.unwrap_err();
    assert_eq!(error.status(), Some(200));
}

#[tokio::test]
async fn a_json_answer_of_the_wrong_shape_is_an_error_without_secrets() {
    let emulator = emulator();
    emulator.inject_fault(json_answer(200, r#"{"value":"c2VjcmV0"}"#).with_path(GET_SECRET));
    emulator.inject_fault(json_answer(200, r#"{"error_code": "BAD""#).with_path(LIST_SCOPES));
    let api = client(options(&emulator.url()));
    let error = api.get_secret("s", "k").await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("missing field `key`") && !message.contains("c2VjcmV0"),
        "{message}"
    );
    let error = api.list_scopes().await.unwrap_err();
    assert!(
        matches!(error, Error::UnexpectedBody { status: 200, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_closed_port_fails_after_three_quick_retries() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let (options, events) = observed(&url);
    let started = Instant::now();
    let error = client(options).list_scopes().await.unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        error.to_string(),
        format!("cannot connect to {url}: connection refused")
    );
    let lines = retry_lines(&events);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[2].contains("(attempt 4): connection refused"),
        "{}",
        lines[2]
    );
}

#[tokio::test]
async fn an_https_host_that_does_not_speak_tls_is_reported_at_once_without_retries() {
    let emulator = emulator();
    let url = emulator.url().replace("http://", "https://");
    let (mut options, events) = observed(&url);
    options.insecure = true;
    let error = client(options).list_scopes().await.unwrap_err();

    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "the server at {url} does not speak TLS: received corrupt"
        )),
        "{message}"
    );
    assert!(retry_lines(&events).is_empty());
    assert!(emulator.requests().is_empty());
}

#[tokio::test]
async fn a_server_that_does_not_speak_http_is_named_as_such_and_not_retried() {
    let server = RawServer::start(vec![
        b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
        b"\x00\x01garbage\r\n\r\n".to_vec(),
    ])
    .await;
    let (options, events) = observed(&server.url);
    let api = client(options);
    for _ in 0..2 {
        let error = api.list_scopes().await.unwrap_err();
        assert!(matches!(error, Error::NotHttp { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "the server at {} is not an HTTP server: ",
                server.url
            )),
            "{message}"
        );
    }
    assert!(retry_lines(&events).is_empty());
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_retry_that_would_exceed_the_budget_is_not_made() {
    let emulator = emulator();
    emulator.inject_fault(api_error(429, "REQUEST_LIMIT_EXCEEDED", "later").with_retry_after("1"));
    let mut options = options(&emulator.url());
    options.retry_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let error = client(options).list_scopes().await.unwrap_err();

    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.error_code(), Some("REQUEST_LIMIT_EXCEEDED"));
    assert_eq!(error.status(), Some(429));
    let message = error.to_string();
    assert!(
        message.starts_with(
            "rate limited (REQUEST_LIMIT_EXCEEDED: later): the server asked to wait 1 s before \
             retrying, longer than the "
        ),
        "{message}"
    );
    assert!(
        message.ends_with(" left of the 0.3 s retry budget"),
        "{message}"
    );
    assert_eq!(emulator.requests().len(), 1);
}

#[tokio::test]
async fn an_enormous_retry_after_is_reported_not_overflowed() {
    let emulator = emulator();
    emulator.inject_fault(
        api_error(429, "REQUEST_LIMIT_EXCEEDED", "later").with_retry_after("18446744073709551615"),
    );
    let error = client(options(&emulator.url()))
        .list_scopes()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("wait 18446744073709551615 s before retrying"),
        "{error}"
    );
}

#[tokio::test]
async fn backoff_retries_stop_when_the_budget_is_spent() {
    let emulator = emulator();
    emulator.inject_fault(Fault::html(503, "").with_count(50));
    let mut options = options(&emulator.url());
    options.retry_timeout = Duration::from_millis(150);
    let error = client(options).list_scopes().await.unwrap_err();

    assert_eq!(error.status(), Some(503));
    let attempts = emulator.requests().len();
    assert!((2..=16).contains(&attempts), "{attempts} attempts");
}

/// The emulator applies a fault before handling the request, so "the lost attempt created the
/// scope" is staged by the scope existing already.
#[tokio::test]
async fn create_scope_after_an_ambiguous_attempt_accepts_already_exists() {
    let (emulator, api) = with_scope("s").await;
    emulator.inject_fault(Fault::drop_connection());
    api.create_scope(&scope_request("s")).await.unwrap();
    emulator.inject_fault(Fault::html(503, ""));
    api.create_scope(&scope_request("s")).await.unwrap();
    let statuses: Vec<_> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [None, Some(400), Some(503), Some(400)]);
}

/// As above, "the lost attempt deleted it" is staged by its absence.
#[tokio::test]
async fn deletes_after_an_ambiguous_attempt_accept_does_not_exist() {
    let (emulator, api) = with_scope("s").await;
    emulator.inject_fault(Fault::drop_connection().with_path(DELETE_SECRET));
    api.delete_secret("s", "k").await.unwrap();
    emulator.inject_fault(Fault::html(503, "").with_path(DELETE_SCOPE));
    api.delete_scope("gone").await.unwrap();
    let delete_acl = format!("{ACLS}delete");
    emulator.inject_fault(Fault::drop_connection().with_path(&delete_acl));
    api.delete_acl("s", "users").await.unwrap();
    let error = api.delete_secret("s", "k").await.unwrap_err();
    assert_eq!(error.error_code(), Some("RESOURCE_DOES_NOT_EXIST"));
    let paths = paths(&emulator);
    let expected = [
        DELETE_SECRET,
        DELETE_SECRET,
        DELETE_SCOPE,
        DELETE_SCOPE,
        &delete_acl,
        &delete_acl,
        DELETE_SECRET,
    ];
    assert_eq!(paths, expected);
    let statuses: Vec<_> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses[1..4], [Some(404), Some(503), Some(404)]);
}

#[tokio::test]
async fn a_timed_out_change_is_retried_once_and_a_timed_out_read_is_not() {
    let (emulator, _) = with_scope("s").await;
    let (mut options, events) = observed(&emulator.url());
    options.request_timeout = Duration::from_millis(300);
    let api = client(options);
    let slow = || Fault::delay(Duration::from_millis(1500));
    api.put_secret("s", "k", &SecretValue::Text(Secret::new("v")))
        .await
        .unwrap();
    emulator.inject_fault(slow().with_path(DELETE_SECRET));
    api.delete_secret("s", "k").await.unwrap();
    assert_eq!(retry_lines(&events).len(), 1);

    emulator.inject_fault(slow().with_count(2).with_path(format!("{ACLS}put")));
    let error = api.put_acl("s", "u", Permission::Read).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert_eq!(retry_lines(&events).len(), 2, "one retry per change");

    emulator.inject_fault(slow().with_path(LIST_SCOPES));
    let error = api.list_scopes().await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert_eq!(retry_lines(&events).len(), 2, "no retry of a read");
    assert!(emulator.pending_faults().is_empty());
}

#[tokio::test]
async fn list_answers_must_be_json_objects() {
    let bodies = ["", " \n", "[]", "null", "\"scopes\"", "[{\"name\":\"a\"}]"];
    let emulator = emulator();
    for body in bodies {
        emulator.inject_fault(json_answer(200, body));
    }
    let api = client(options(&emulator.url()));
    for body in bodies {
        let error = match api.list_scopes().await {
            Ok(reply) => panic!("{body:?} was taken for {:?}", reply.data),
            Err(error) => error,
        };
        assert_eq!(error.status(), Some(200), "{body:?}");
        let Error::UnexpectedBody { excerpt, .. } = &error else {
            panic!("{body:?}: {error:?}");
        };
        assert_eq!(excerpt, &body.trim().replace(' ', ""), "{body:?}");
    }
}

#[tokio::test]
async fn every_list_and_get_refuses_an_empty_answer_and_an_absent_list_is_empty() {
    let emulator = emulator();
    emulator.inject_fault(json_answer(200, "").with_count(5));
    emulator.inject_fault(json_answer(200, "{}").with_count(3));
    let api = client(options(&emulator.url()));
    assert!(api.list_scopes().await.is_err());
    assert!(api.list_secrets("s").await.is_err());
    assert!(api.list_acls("s").await.is_err());
    assert!(api.get_acl("s", "u").await.is_err());
    assert!(api.get_secret("s", "k").await.is_err());
    assert!(api.list_scopes().await.unwrap().data.scopes.is_empty());
    assert!(api.list_secrets("s").await.unwrap().data.secrets.is_empty());
    assert!(api.list_acls("s").await.unwrap().data.items.is_empty());
}

#[tokio::test]
async fn a_token_echoed_by_the_server_is_masked_in_errors_and_debug_lines() {
    let emulator = emulator();
    let echo = format!("<html>Bad token {TOKEN} for {TOKEN}</html>");
    let long_echo = format!("{} {TOKEN}", "x".repeat(190));
    emulator.inject_fault(Fault::html(400, echo));
    emulator.inject_fault(api_error(
        401,
        "UNAUTHENTICATED",
        &format!("token {TOKEN} expired"),
    ));
    emulator.inject_fault(json_answer(200, &long_echo));
    emulator.inject_fault(Fault::redirect(format!("https://login/?t={TOKEN}")));
    let (mut options, events) = observed(&emulator.url());
    options.debug = true;
    let api = client(options);
    let mut shown = Vec::new();
    for _ in 0..4 {
        shown.push(api.list_scopes().await.unwrap_err().to_string());
    }
    shown.extend(event_lines(&events));
    let shown = shown.join("\n");
    assert!(shown.contains("Bad token *** for ***"), "{shown}");
    assert!(shown.contains("token *** expired"), "{shown}");
    assert!(shown.contains("?t=***"), "{shown}");
    // Not even the start of the token where an excerpt is cut.
    assert!(!shown.contains(&TOKEN[..8]), "{shown}");
}

#[tokio::test]
async fn basic_credentials_echoed_by_the_server_are_masked() {
    let emulator = emulator();
    let encoded = BASE64.encode("me:pass-word-99");
    emulator.inject_fault(Fault::html(400, format!("pass-word-99 {encoded}")));
    let mut options = options(&emulator.url());
    options.credentials = basic("me", "pass-word-99");
    let message = client(options).list_scopes().await.unwrap_err().to_string();
    assert!(message.contains("\"*** ***\""), "{message}");
}

#[tokio::test]
async fn create_scope_reports_already_exists_when_nothing_was_ambiguous() {
    let (emulator, api) = with_scope("s").await;
    emulator.inject_fault(api_error(429, "REQUEST_LIMIT_EXCEEDED", "later").with_retry_after("0"));
    for _ in 0..2 {
        let error = api.create_scope(&scope_request("s")).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "RESOURCE_ALREADY_EXISTS: Scope s already exists!"
        );
    }
    let creates = requests_to(&emulator, CREATE_SCOPE);
    assert_eq!(creates.len(), 3, "one retry after the 429");
    assert_eq!(
        creates[1].body,
        json!({"scope": "s", "scope_backend_type": "DATABRICKS"})
    );
}

#[tokio::test]
async fn debug_lines_show_requests_and_answers_without_secrets() {
    let (emulator, _) = with_scope("s").await;
    let (mut options, events) = observed(&emulator.url());
    options.debug = true;
    let api = client(options);
    api.put_secret("s", "k", &SecretValue::Text(Secret::new("hunter2")))
        .await
        .unwrap();
    api.get_secret("s", "k").await.unwrap();

    let lines = event_lines(&events);
    let log = lines.join("\n");
    let url = emulator.url();
    assert!(
        log.contains(&format!("> #1 POST {url}/api/2.0/secrets/put")),
        "{log}"
    );
    assert!(log.contains("> #1 Authorization: Bearer ***"), "{log}");
    assert!(
        log.contains(r#"> #1 {"scope":"s","key":"k","string_value":"***"}"#),
        "{log}"
    );
    assert!(log.contains("< #1 200 OK ("), "{log}");
    assert!(
        log.contains(&format!("> #2 GET {url}{GET_SECRET}")),
        "{log}"
    );
    assert!(log.contains(r#"< #2 {"key":"k","value":"***"}"#), "{log}");
    assert!(lines.iter().any(|line| line.ends_with(" ms)")), "{log}");
    for secret in [TOKEN, "hunter2", "aHVudGVyMg=="] {
        assert!(!log.contains(secret), "{secret} leaked into: {log}");
    }
}

#[tokio::test]
async fn no_debug_lines_without_debug() {
    let emulator = emulator();
    let (options, events) = observed(&emulator.url());
    client(options).list_scopes().await.unwrap();
    assert!(events.lock().unwrap().is_empty());
}

/// A provider like the OAuth one: a new token for every attempt, an extra header, and a count
/// of the 401 answers it hears of; `refreshable` says whether it can replace a refused token.
struct RotatingCredentials {
    issued: AtomicUsize,
    rejected: AtomicUsize,
    refreshable: bool,
}

impl RotatingCredentials {
    fn new(refreshable: bool) -> Arc<RotatingCredentials> {
        Arc::new(RotatingCredentials {
            issued: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
            refreshable,
        })
    }
}

impl RotatingCredentials {
    const MANAGEMENT_TOKEN: &str = "management-token-5511";

    fn token(number: usize) -> String {
        format!("rotating-token-{number}")
    }
}

impl CredentialProvider for RotatingCredentials {
    fn headers(&self) -> BoxFuture<'_, Result<AuthHeaders, Error>> {
        let number = self.issued.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let bearer = format!("Bearer {}", Self::token(number));
            Ok(vec![
                (AUTHORIZATION, HeaderValue::from_str(&bearer).unwrap()),
                (
                    HeaderName::from_static("x-databricks-azure-sp-management-token"),
                    HeaderValue::from_static(Self::MANAGEMENT_TOKEN),
                ),
            ])
        })
    }

    fn secrets_to_mask(&self) -> Vec<SecretBytes> {
        let issued = self.issued.load(Ordering::SeqCst);
        let tokens = (0..issued).map(|number| SecretBytes::new(Self::token(number)));
        tokens
            .chain([SecretBytes::new(Self::MANAGEMENT_TOKEN)])
            .collect()
    }

    fn rejected(&self, _refused: &AuthHeaders) -> bool {
        self.rejected.fetch_add(1, Ordering::SeqCst);
        self.refreshable
    }
}

#[tokio::test]
async fn every_attempt_asks_the_provider_for_its_headers() {
    let emulator = Emulator::start(
        Config::default()
            .with_user("first@example.com", RotatingCredentials::token(0))
            .with_user("second@example.com", RotatingCredentials::token(1)),
    )
    .expect("an emulator");
    emulator.inject_fault(Fault::html(503, ""));
    let provider = RotatingCredentials::new(true);
    let mut options = options(&emulator.url());
    options.credentials = provider.clone();
    client(options).list_scopes().await.unwrap();
    let users: Vec<_> = emulator.requests().into_iter().map(|r| r.user).collect();
    assert_eq!(
        users,
        [
            Some("first@example.com".to_owned()),
            Some("second@example.com".to_owned())
        ]
    );
    assert_eq!(provider.rejected.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_provider_s_extra_headers_are_sent_masked_and_told_of_a_401() {
    let server = RawServer::start(vec![http_ok("{\"scopes\":[]}")]).await;
    let emulator = emulator();
    let echo = format!(
        "{} and {}",
        RotatingCredentials::token(1),
        RotatingCredentials::MANAGEMENT_TOKEN
    );
    emulator.inject_fault(api_error(401, "UNAUTHENTICATED", &echo));
    let provider = RotatingCredentials::new(false);
    let observe = |url: &str| {
        let (mut options, events) = observed(url);
        options.credentials = provider.clone();
        options.debug = true;
        (client(options), events)
    };

    let (api, events) = observe(&server.url);
    api.list_scopes().await.unwrap();
    let sent = &server.requests()[0];
    assert_eq!(
        sent.header("x-databricks-azure-sp-management-token"),
        Some(RotatingCredentials::MANAGEMENT_TOKEN)
    );
    let log = event_lines(&events);
    assert!(
        log.contains(&"> #1 X-Databricks-Azure-Sp-Management-Token: ***".to_owned()),
        "{log:?}"
    );

    let (api, events) = observe(&emulator.url());
    let error = api.list_scopes().await.unwrap_err();
    assert_eq!(error.to_string(), "UNAUTHENTICATED: *** and ***");
    assert_eq!(provider.rejected.load(Ordering::SeqCst), 1);
    let log = event_lines(&events).join("\n");
    assert!(
        !log.contains("rotating-token") && !log.contains("management-token"),
        "{log}"
    );
}

#[tokio::test]
async fn a_refused_token_that_can_be_replaced_is_retried_once_with_a_new_one() {
    let emulator = Emulator::start(
        Config::default()
            .with_user("first@example.com", RotatingCredentials::token(0))
            .with_user("second@example.com", RotatingCredentials::token(1))
            .with_user("third@example.com", RotatingCredentials::token(2)),
    )
    .expect("an emulator");
    let provider = RotatingCredentials::new(true);
    let mut options = options(&emulator.url());
    options.credentials = provider.clone();
    let api = client(options);

    emulator.inject_fault(api_error(401, "UNAUTHENTICATED", "token revoked"));
    api.put_secret("s", "k", &SecretValue::Text(Secret::new("v")))
        .await
        .expect_err("no scope s, but the 401 was retried");
    let users: Vec<_> = emulator.requests().into_iter().map(|r| r.user).collect();
    assert_eq!(
        users,
        [
            Some("first@example.com".to_owned()),
            Some("second@example.com".to_owned())
        ]
    );
    assert_eq!(provider.rejected.load(Ordering::SeqCst), 1);

    // A second refusal in a row is the answer: one retry, never a loop.
    emulator.inject_fault(api_error(401, "UNAUTHENTICATED", "no").with_count(2));
    let error = api.list_scopes().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(emulator.requests().len(), 4);
    assert_eq!(provider.rejected.load(Ordering::SeqCst), 3);
}

#[test]
fn hosts_must_be_web_urls_and_tokens_valid_header_text() {
    for host in ["", "not a url", "ftp://example.com", "example.com"] {
        let error = Client::new(options(host))
            .err()
            .expect("an invalid host is refused");
        assert!(
            matches!(error, Error::InvalidHost { .. }),
            "{host}: {error:?}"
        );
    }
    let message = StaticCredentials::bearer(&Secret::new("dapi\nsecret-part"))
        .expect_err("a token with a newline is refused")
        .to_string();
    assert!(
        !message.contains("secret-part") && message.starts_with("the token contains"),
        "{message}"
    );
}

#[test]
fn hosts_keep_their_port_and_lose_a_trailing_slash() {
    let client = Client::new(options("http://127.0.0.1:8080/")).unwrap();
    assert_eq!(client.host(), "http://127.0.0.1:8080");
}

#[test]
fn an_insecure_https_client_needs_no_trust_store() {
    let mut options = options("https://example.invalid");
    options.insecure = true;
    assert!(Client::new(options).is_ok());
}

mod fuzz {
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use super::super::client::EncodedSecret;
    use super::super::transport::{object_reply, success_body};
    use super::*;

    /// The field names of the answers, so that generated JSON often has the expected shape.
    const FIELDS: [&str; 12] = [
        "scopes",
        "name",
        "backend_type",
        "keyvault_metadata",
        "resource_id",
        "dns_name",
        "secrets",
        "key",
        "last_updated_timestamp",
        "items",
        "principal",
        "permission",
    ];

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                4 => proptest::sample::select(&FIELDS[..]).prop_map(str::to_owned),
                1 => ".{0,8}",
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((key, inner), 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    /// Raw bytes, JSON of any shape, and JSON with its text cut or padded.
    fn answer_body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            json_value().prop_map(|json| json.to_string().into_bytes()),
            (json_value(), any::<prop::sample::Index>()).prop_map(|(json, cut)| {
                let text = json.to_string().into_bytes();
                text[..cut.index(text.len() + 1)].to_vec()
            }),
            json_value().prop_map(|json| format!(" \n{json:#}\t").into_bytes()),
        ]
    }

    /// What a read call makes of a 200 answer: a typed reply only from a JSON object, else an
    /// unexpected-answer error with the status and a short one-line excerpt.
    fn check_read<T: DeserializeOwned>(body: &[u8]) -> Result<(), TestCaseError> {
        let read = success_body(200, body).and_then(object_reply::<T>);
        let is_object = serde_json::from_slice::<Value>(body).is_ok_and(|json| json.is_object());
        match read {
            Ok(reply) => {
                prop_assert!(is_object);
                prop_assert!(reply.raw.is_object());
            }
            Err(Error::UnexpectedBody { status, excerpt }) => {
                prop_assert_eq!(status, 200);
                prop_assert!(excerpt.chars().count() <= 200);
                prop_assert!(!excerpt.contains('\n'));
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        #[test]
        fn fuzz_answer_body(body in answer_body()) {
            check_read::<ListScopes>(&body)?;
            check_read::<ListSecrets>(&body)?;
            check_read::<ListAcls>(&body)?;
            check_read::<AclItem>(&body)?;
            check_read::<EncodedSecret>(&body)?;
        }
    }
}
