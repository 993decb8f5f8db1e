//! HTTP behaviour of the client against a tiny scripted server on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::retry::RetryTiming;
use super::*;
use crate::secret::{Secret, SecretBytes};

const TOKEN: &str = "dapi-test-token-1234";

/// What the server does with the n-th connection, after reading its request.
enum Canned {
    Respond(String),
    /// Close the connection without answering.
    Drop,
    /// Keep the connection open and never answer.
    Hang,
}

fn respond(status: u16, headers: &[(&str, &str)], body: &str) -> Canned {
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    Canned::Respond(format!(
        "HTTP/1.1 {status} Canned\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    ))
}

fn json_error(status: u16, code: &str, message: &str) -> Canned {
    respond(
        status,
        &[("Content-Type", "application/json")],
        &format!(r#"{{"error_code":"{code}","message":"{message}"}}"#),
    )
}

fn ok(body: &str) -> Canned {
    respond(200, &[("Content-Type", "application/json")], body)
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

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

struct TestServer {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    /// Serves one connection per canned answer, in order, then stops listening.
    async fn start(script: Vec<Canned>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        tokio::spawn(async move {
            let mut held_open = Vec::new();
            for canned in script {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let Some(request) = read_request(&mut stream).await else {
                    return;
                };
                recorded.lock().unwrap().push(request);
                match canned {
                    Canned::Respond(answer) => {
                        let _ = stream.write_all(answer.as_bytes()).await;
                        let _ = stream.shutdown().await;
                    }
                    Canned::Drop => drop(stream),
                    Canned::Hang => held_open.push(stream),
                }
            }
            drop(listener);
            // Keep hung connections open until the test's runtime ends.
            std::future::pending::<()>().await;
        });
        TestServer { url, requests }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
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

fn options(url: &str) -> ClientOptions {
    let mut options = ClientOptions::new(url.to_owned(), Auth::Bearer(Secret::new(TOKEN)));
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

#[tokio::test]
async fn get_requests_carry_encoded_query_auth_and_user_agent() {
    let server = TestServer::start(vec![ok(
        r#"{"secrets":[{"key":"b","last_updated_timestamp":2},{"key":"a"}],"extra":true}"#,
    )])
    .await;
    let reply = client(options(&server.url))
        .list_secrets("a b/ü&x=1")
        .await
        .unwrap();

    let keys: Vec<_> = reply.data.secrets.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["b", "a"]);
    assert_eq!(reply.data.secrets[0].last_updated_timestamp, Some(2));
    assert_eq!(
        reply.raw.to_string(),
        r#"{"secrets":[{"key":"b","last_updated_timestamp":2},{"key":"a"}],"extra":true}"#
    );
    let request = &server.requests()[0];
    assert!(
        request
            .head
            .starts_with("GET /api/2.0/secrets/list?scope=a%20b%2F%C3%BC%26x%3D1 HTTP/1.1\r\n"),
        "{}",
        request.head
    );
    assert_eq!(
        request.header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(
        request.header("user-agent"),
        Some(concat!("databricks-secrets/", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test]
async fn post_requests_send_json_and_accept_empty_or_empty_object_answers() {
    let server = TestServer::start(vec![ok("{}"), ok(""), ok("{}"), ok("{}")]).await;
    let api = client(options(&server.url));
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

    let requests = server.requests();
    assert!(
        requests[0]
            .head
            .starts_with("POST /api/2.0/secrets/put HTTP/1.1")
    );
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    assert_eq!(
        requests[0].json(),
        serde_json::json!({"scope": "s", "key": "k", "bytes_value": "AP9h"})
    );
    assert_eq!(
        requests[1].json(),
        serde_json::json!({"scope": "s", "key": "k2", "string_value": "line\nvalue"})
    );
    assert_eq!(
        requests[2].json(),
        serde_json::json!({"scope": "s", "principal": "users", "permission": "READ"})
    );
    assert_eq!(
        requests[3].json(),
        serde_json::json!({
            "scope": "kv",
            "initial_manage_principal": "users",
            "scope_backend_type": "AZURE_KEYVAULT",
            "backend_azure_keyvault": {"resource_id": "/subscriptions/x", "dns_name": "https://kv.vault.azure.net/"}
        })
    );
}

#[tokio::test]
async fn basic_auth_sends_user_and_password_in_base64() {
    let server = TestServer::start(vec![ok(r#"{"scopes":[]}"#)]).await;
    let mut options = options(&server.url);
    options.auth = Auth::Basic {
        username: "alice".into(),
        password: Secret::new("s3cret"),
    };
    client(options).list_scopes().await.unwrap();
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Basic YWxpY2U6czNjcmV0")
    );
}

#[tokio::test]
async fn get_secret_decodes_the_value_and_reports_bad_base64_without_it() {
    let server = TestServer::start(vec![
        ok(r#"{"key":"k","value":"aGVsbG8="}"#),
        ok(r#"{"key":"k","value":"not base64!"}"#),
    ])
    .await;
    let api = client(options(&server.url));
    let reply = api.get_secret("s", "k").await.unwrap();
    assert_eq!(reply.data.key, "k");
    assert_eq!(reply.data.value.expose(), b"hello");
    assert!(
        server.requests()[0]
            .head
            .starts_with("GET /api/2.0/secrets/get?scope=s&key=k ")
    );

    let error = api.get_secret("s", "k").await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("not valid base64"), "{message}");
    assert!(!message.contains("not base64!"), "{message}");
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_honoured() {
    let server = TestServer::start(vec![
        respond(
            429,
            &[("Retry-After", "1")],
            r#"{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}"#,
        ),
        ok("{}"),
    ])
    .await;
    let (options, events) = observed(&server.url);
    let started = Instant::now();
    client(options).delete_scope("s").await.unwrap();

    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(
        retry_lines(&events),
        [
            "Retrying POST /api/2.0/secrets/scopes/delete in 1.0s (attempt 2): 429 REQUEST_LIMIT_EXCEEDED"
        ]
    );
}

#[tokio::test]
async fn unavailable_and_exhausted_answers_are_retried_with_backoff() {
    let server = TestServer::start(vec![
        respond(503, &[], "Service Unavailable"),
        json_error(400, "RESOURCE_EXHAUSTED", "quota"),
        ok(r#"{"items":[{"principal":"users","permission":"READ"}]}"#),
    ])
    .await;
    let (options, events) = observed(&server.url);
    let reply = client(options).list_acls("s").await.unwrap();

    assert_eq!(reply.data.items[0].permission, "READ");
    assert_eq!(server.requests().len(), 3);
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
    let server = TestServer::start(vec![
        json_error(500, "INTERNAL_ERROR", "boom"),
        json_error(404, "RESOURCE_DOES_NOT_EXIST", "Scope nope does not exist!"),
        ok("{}"),
    ])
    .await;
    let api = client(options(&server.url));

    let error = api.delete_secret("s", "k").await.unwrap_err();
    assert_eq!(error.to_string(), "INTERNAL_ERROR: boom");
    let error = api.list_secrets("nope").await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.error_code(), Some("RESOURCE_DOES_NOT_EXIST"));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let server = TestServer::start(vec![
        Canned::Drop,
        ok(r#"{"principal":"u","permission":"WRITE"}"#),
    ])
    .await;
    let (options, events) = observed(&server.url);
    let reply = client(options).get_acl("s", "u").await.unwrap();
    assert_eq!(reply.data.permission, "WRITE");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(retry_lines(&events).len(), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_without_retrying() {
    let server = TestServer::start(vec![Canned::Hang, ok("{}")]).await;
    let mut options = options(&server.url);
    options.request_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let error = client(options).list_scopes().await.unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&server.url) && message.contains("http_timeout_seconds"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn redirects_are_reported_not_followed() {
    let server = TestServer::start(vec![
        respond(302, &[("Location", "https://login.example.com/sso")], ""),
        ok("{}"),
    ])
    .await;
    let error = client(options(&server.url))
        .list_scopes()
        .await
        .unwrap_err();
    match &error {
        Error::Redirect { status, location } => {
            assert_eq!(*status, 302);
            assert_eq!(location.as_deref(), Some("https://login.example.com/sso"));
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }
    assert!(error.to_string().contains("check the host"));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn html_answers_are_errors_with_status_and_excerpt() {
    let page = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad   Gateway</h1></body></html>";
    let login = "<!doctype html><html><body>Sign in to Databricks</body></html>";
    let server = TestServer::start(vec![
        respond(502, &[("Content-Type", "text/html")], page),
        respond(200, &[("Content-Type", "text/html")], login),
        respond(200, &[("Content-Type", "text/html")], login),
    ])
    .await;
    let api = client(options(&server.url));

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
    let server = TestServer::start(vec![
        ok(r#"{"value":"c2VjcmV0"}"#),
        ok(r#"{"error_code": "BAD""#),
    ])
    .await;
    let api = client(options(&server.url));
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
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot connect to {url}: connection refused; check the host"
        )),
        "{message}"
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
    // A plain-HTTP server that answers at once: the TLS handshake gets HTTP text back.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
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
}

#[tokio::test]
async fn a_server_that_does_not_speak_http_is_named_as_such_and_not_retried() {
    let server = TestServer::start(vec![
        Canned::Respond("SSH-2.0-OpenSSH_9.6\r\n".into()),
        Canned::Respond("\u{0}\u{1}garbage\r\n\r\n".into()),
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
    let limited = r#"{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"later"}"#;
    let server = TestServer::start(vec![
        respond(429, &[("Retry-After", "1")], limited),
        ok("{}"),
    ])
    .await;
    let mut options = options(&server.url);
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
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_enormous_retry_after_is_reported_not_overflowed() {
    let limited = r#"{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"later"}"#;
    let server = TestServer::start(vec![respond(
        429,
        &[("Retry-After", "18446744073709551615")],
        limited,
    )])
    .await;
    let error = client(options(&server.url))
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
    let script = (0..50).map(|_| respond(503, &[], "")).collect();
    let server = TestServer::start(script).await;
    let mut options = options(&server.url);
    options.retry_timeout = Duration::from_millis(150);
    let error = client(options).list_scopes().await.unwrap_err();

    assert_eq!(error.status(), Some(503));
    let attempts = server.requests().len();
    assert!((2..=16).contains(&attempts), "{attempts} attempts");
}

#[tokio::test]
async fn create_scope_after_an_ambiguous_attempt_accepts_already_exists() {
    let exists = || json_error(400, "RESOURCE_ALREADY_EXISTS", "Scope s already exists!");
    let server = TestServer::start(vec![
        Canned::Drop,
        exists(),
        respond(503, &[], ""),
        exists(),
    ])
    .await;
    let api = client(options(&server.url));
    api.create_scope(&scope_request("s")).await.unwrap();
    api.create_scope(&scope_request("s")).await.unwrap();
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn deletes_after_an_ambiguous_attempt_accept_does_not_exist() {
    let gone = || json_error(404, "RESOURCE_DOES_NOT_EXIST", "Gone!");
    let server = TestServer::start(vec![
        Canned::Drop,
        gone(),
        respond(503, &[], ""),
        gone(),
        Canned::Drop,
        gone(),
        gone(),
    ])
    .await;
    let api = client(options(&server.url));
    api.delete_secret("s", "k").await.unwrap();
    api.delete_scope("s").await.unwrap();
    api.delete_acl("s", "users").await.unwrap();
    let error = api.delete_secret("s", "k").await.unwrap_err();
    assert_eq!(error.to_string(), "RESOURCE_DOES_NOT_EXIST: Gone!");
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|request| request.head.lines().next().unwrap_or_default().to_owned())
        .collect();
    assert!(
        paths[1].starts_with("POST /api/2.0/secrets/delete "),
        "{paths:?}"
    );
    assert!(
        paths[3].starts_with("POST /api/2.0/secrets/scopes/delete "),
        "{paths:?}"
    );
    assert!(
        paths[5].starts_with("POST /api/2.0/secrets/acls/delete "),
        "{paths:?}"
    );
}

#[tokio::test]
async fn a_timed_out_change_is_retried_once_and_a_timed_out_read_is_not() {
    let gone = json_error(404, "RESOURCE_DOES_NOT_EXIST", "Gone!");
    let server = TestServer::start(vec![
        Canned::Hang,
        gone,
        Canned::Hang,
        Canned::Hang,
        Canned::Hang,
    ])
    .await;
    let (mut options, events) = observed(&server.url);
    options.request_timeout = Duration::from_millis(300);
    let api = client(options);
    api.delete_secret("s", "k").await.unwrap();
    assert_eq!(retry_lines(&events).len(), 1);

    let error = api.put_acl("s", "u", Permission::Read).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert_eq!(retry_lines(&events).len(), 2, "one retry per change");

    let error = api.list_scopes().await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert_eq!(retry_lines(&events).len(), 2, "no retry of a read");
    assert_eq!(server.requests().len(), 5);
}

#[tokio::test]
async fn list_answers_must_be_json_objects() {
    let bodies = ["", " \n", "[]", "null", "\"scopes\"", "[{\"name\":\"a\"}]"];
    let script = bodies.iter().map(|body| ok(body)).collect();
    let server = TestServer::start(script).await;
    let api = client(options(&server.url));
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
    let script = (0..5)
        .map(|_| ok(""))
        .chain((0..3).map(|_| ok("{}")))
        .collect();
    let server = TestServer::start(script).await;
    let api = client(options(&server.url));
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
    let echo = format!("<html>Bad token {TOKEN} for {TOKEN}</html>");
    let long_echo = format!("{} {TOKEN}", "x".repeat(190));
    let server = TestServer::start(vec![
        respond(400, &[], &echo),
        json_error(401, "UNAUTHENTICATED", &format!("token {TOKEN} expired")),
        ok(&long_echo),
        respond(
            302,
            &[("Location", &format!("https://login/?t={TOKEN}"))],
            "",
        ),
    ])
    .await;
    let (mut options, events) = observed(&server.url);
    options.debug = true;
    let api = client(options);
    let mut shown = Vec::new();
    for _ in 0..4 {
        shown.push(api.list_scopes().await.unwrap_err().to_string());
    }
    shown.extend(events.lock().unwrap().iter().map(ToString::to_string));
    let shown = shown.join("\n");
    assert!(shown.contains("Bad token *** for ***"), "{shown}");
    assert!(shown.contains("token *** expired"), "{shown}");
    assert!(shown.contains("?t=***"), "{shown}");
    // Not even the start of the token where an excerpt is cut.
    assert!(!shown.contains(&TOKEN[..8]), "{shown}");
}

#[tokio::test]
async fn basic_credentials_echoed_by_the_server_are_masked() {
    let encoded = BASE64.encode("me:pass-word-99");
    let server =
        TestServer::start(vec![respond(400, &[], &format!("pass-word-99 {encoded}"))]).await;
    let mut options = options(&server.url);
    options.auth = Auth::Basic {
        username: "me".into(),
        password: Secret::new("pass-word-99"),
    };
    let message = client(options).list_scopes().await.unwrap_err().to_string();
    assert!(message.contains("\"*** ***\""), "{message}");
}

#[tokio::test]
async fn create_scope_reports_already_exists_when_nothing_was_ambiguous() {
    let exists = || json_error(400, "RESOURCE_ALREADY_EXISTS", "Scope s already exists!");
    let limited = r#"{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"later"}"#;
    let server = TestServer::start(vec![
        exists(),
        respond(429, &[("Retry-After", "0")], limited),
        exists(),
    ])
    .await;
    let api = client(options(&server.url));
    for _ in 0..2 {
        let error = api.create_scope(&scope_request("s")).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "RESOURCE_ALREADY_EXISTS: Scope s already exists!"
        );
    }
    let body = server.requests()[0].json();
    assert_eq!(
        body,
        serde_json::json!({"scope": "s", "scope_backend_type": "DATABRICKS"})
    );
}

#[tokio::test]
async fn debug_lines_show_requests_and_answers_without_secrets() {
    let server =
        TestServer::start(vec![ok("{}"), ok(r#"{"key":"k","value":"aHVudGVyMg=="}"#)]).await;
    let (mut options, events) = observed(&server.url);
    options.debug = true;
    let api = client(options);
    api.put_secret("s", "k", &SecretValue::Text(Secret::new("hunter2")))
        .await
        .unwrap();
    api.get_secret("s", "k").await.unwrap();

    let lines: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    let log = lines.join("\n");
    assert!(
        log.contains(&format!("> #1 POST {}/api/2.0/secrets/put", server.url)),
        "{log}"
    );
    assert!(log.contains("> #1 Authorization: Bearer ***"), "{log}");
    assert!(
        log.contains(r#"> #1 {"scope":"s","key":"k","string_value":"***"}"#),
        "{log}"
    );
    assert!(log.contains("< #1 200 OK ("), "{log}");
    assert!(
        log.contains(&format!("> #2 GET {}/api/2.0/secrets/get", server.url)),
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
    let server = TestServer::start(vec![ok("{}")]).await;
    let (options, events) = observed(&server.url);
    client(options).delete_acl("s", "u").await.unwrap();
    assert!(events.lock().unwrap().is_empty());
}

#[test]
fn hosts_must_be_web_urls_and_tokens_valid_header_text() {
    for host in ["", "not a url", "ftp://example.com", "example.com"] {
        let error = Client::new(options(host))
            .err()
            .expect("an invalid host is refused");
        assert!(
            matches!(error, Error::InvalidRequest(_)),
            "{host}: {error:?}"
        );
    }
    let mut options = options("http://127.0.0.1:1/");
    options.auth = Auth::Bearer(Secret::new("dapi\nsecret-part"));
    let message = Client::new(options)
        .err()
        .expect("a token with a newline is refused")
        .to_string();
    assert!(
        !message.contains("secret-part") && message.contains("token"),
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

    use super::super::client::{EncodedSecret, object_reply, success_body};
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
