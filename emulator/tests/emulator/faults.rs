//! Fault injection (HTTP endpoint and library) and the request log.

use crate::{ALICE_TOKEN, Api, start_with_users};
use databricks_emulator::{Config, Emulator, Fault};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const LIST: &str = "/api/2.0/secrets/scopes/list";

fn start() -> (Emulator, Api) {
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    (emulator, api)
}

#[tokio::test]
async fn rate_limit_with_retry_after_then_normal_service() {
    let (emulator, api) = start();
    emulator.inject_fault(Fault::status(429).with_retry_after("3"));
    let answer = api.list_scopes().await;
    answer.assert_error(429, "REQUEST_LIMIT_EXCEEDED");
    assert_eq!(answer.headers["retry-after"], "3");
    api.list_scopes().await.assert_empty_ok();
}

#[tokio::test]
async fn default_bodies_follow_the_status_and_count_applies() {
    let (emulator, api) = start();
    emulator.inject_fault(Fault::status(503).with_count(2));
    emulator.inject_fault(Fault::status(502));
    emulator.inject_fault(Fault::status(500).with_error("INTERNAL_ERROR", "boom"));
    api.list_scopes()
        .await
        .assert_error(503, "TEMPORARILY_UNAVAILABLE");
    api.list_scopes()
        .await
        .assert_error(503, "TEMPORARILY_UNAVAILABLE");
    api.list_scopes().await.assert_error(502, "BAD_GATEWAY");
    let message = api.list_scopes().await.assert_error(500, "INTERNAL_ERROR");
    assert_eq!(message, "boom");
    api.list_scopes().await.assert_empty_ok();
    assert!(emulator.pending_faults().is_empty());
}

#[tokio::test]
async fn faults_over_http_with_path_filters_and_http_date_retry_after() {
    let (_emulator, api) = start();
    let faults = json!([
        {"status": 503, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT", "path": "/api/2.0/secrets/put"},
        {"status": 429, "path_prefix": "/api/2.0/secrets/acls/", "count": 2, "method": "GET"},
    ]);
    api.post("/__emulator/faults", faults)
        .await
        .assert_empty_ok();
    let pending = api
        .send("GET", "/__emulator/faults", None)
        .await
        .assert_ok();
    assert_eq!(pending["faults"].as_array().unwrap().len(), 2);

    api.create_scope("s").await.assert_empty_ok();
    api.list_scopes().await.assert_ok();
    api.put_acl("s", "users", "READ").await.assert_empty_ok(); // POST: not matched
    let answer = api.put_string("s", "k", "v").await;
    answer.assert_error(503, "TEMPORARILY_UNAVAILABLE");
    assert_eq!(
        answer.headers["retry-after"],
        "Wed, 21 Oct 2015 07:28:00 GMT"
    );
    api.put_string("s", "k", "v").await.assert_empty_ok();
    api.list_acls("s")
        .await
        .assert_error(429, "REQUEST_LIMIT_EXCEEDED");
    api.get_acl("s", "users")
        .await
        .assert_error(429, "REQUEST_LIMIT_EXCEEDED");
    api.list_acls("s").await.assert_ok();

    api.post("/__emulator/faults", json!({"status": 500}))
        .await
        .assert_empty_ok();
    api.send("DELETE", "/__emulator/faults", None)
        .await
        .assert_empty_ok();
    api.list_scopes().await.assert_ok();
}

#[tokio::test]
async fn a_delay_then_normal_handling_or_a_status() {
    let (emulator, api) = start();
    emulator.inject_fault(Fault::delay(Duration::from_millis(300)));
    let started = Instant::now();
    api.list_scopes().await.assert_empty_ok();
    assert!(started.elapsed() >= Duration::from_millis(300));

    emulator.inject_fault(Fault::status(503).with_delay(Duration::from_millis(200)));
    let started = Instant::now();
    api.list_scopes()
        .await
        .assert_error(503, "TEMPORARILY_UNAVAILABLE");
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_slow_answer_can_time_a_client_out() {
    let (emulator, _api) = start();
    emulator.inject_fault(Fault::delay(Duration::from_millis(1500)));
    let client = crate::http_client()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let error = client
        .get(format!("{}{LIST}", emulator.url()))
        .bearer_auth(emulator.admin_token())
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
}

#[tokio::test]
async fn a_dropped_connection_gets_no_answer() {
    let (emulator, api) = start();
    emulator.inject_fault(Fault::drop_connection().with_path(LIST));
    let error = api.try_send("GET", LIST, None).await.unwrap_err();
    assert!(!error.is_status() && !error.is_timeout(), "{error}");
    api.list_scopes().await.assert_empty_ok();
    let log = emulator.requests();
    assert_eq!((log[0].status, log[0].fault), (None, true));
    assert_eq!((log[1].status, log[1].fault), (Some(200), false));
}

#[tokio::test]
async fn non_json_pages_and_login_redirects() {
    let (emulator, api) = start();
    emulator.inject_fault(Fault::html(200, "<html><body>Sign in</body></html>"));
    emulator.inject_fault(Fault::html(500, "<h1>Internal error</h1>"));
    emulator.inject_fault(Fault::redirect("https://login.example.com/?next=/api"));
    let page = api.list_scopes().await;
    assert_eq!(
        (page.status, page.text.as_str()),
        (200, "<html><body>Sign in</body></html>")
    );
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    let page = api.list_scopes().await;
    assert_eq!(
        (page.status, page.text.as_str()),
        (500, "<h1>Internal error</h1>")
    );
    let redirect = api.list_scopes().await;
    assert_eq!(redirect.status, 302);
    assert_eq!(
        redirect.headers["location"],
        "https://login.example.com/?next=/api"
    );
    let custom = json!({"body": "plain", "content_type": "text/plain", "status": 404});
    api.post("/__emulator/faults", custom)
        .await
        .assert_empty_ok();
    let page = api.list_scopes().await;
    assert_eq!((page.status, page.text.as_str()), (404, "plain"));
    assert_eq!(page.headers["content-type"], "text/plain");
}

#[tokio::test]
async fn fault_endpoint_needs_an_admin_and_a_valid_fault() {
    let emulator = start_with_users(Config::default());
    let admin = Api::admin(&emulator);
    Api::new(&emulator, ALICE_TOKEN)
        .post("/__emulator/faults", json!({"status": 503}))
        .await
        .assert_error(403, "PERMISSION_DENIED");
    Api::anonymous(&emulator)
        .post("/__emulator/faults", json!({"status": 503}))
        .await
        .assert_error(401, "UNAUTHENTICATED");
    Api::new(&emulator, ALICE_TOKEN)
        .send("GET", "/__emulator/requests", None)
        .await
        .assert_error(403, "PERMISSION_DENIED");
    let malformed = [json!({"stauts": 503}), json!({"status": "503"}), json!(5)];
    for body in malformed {
        admin
            .post("/__emulator/faults", body)
            .await
            .assert_error(400, "MALFORMED_REQUEST");
    }
    admin
        .send("POST", "/__emulator/faults", Some(b"{".to_vec()))
        .await
        .assert_error(400, "MALFORMED_REQUEST");
    for body in [
        json!({}),
        json!({"status": 1000}),
        json!({"status": 503, "count": 0}),
    ] {
        admin
            .post("/__emulator/faults", body)
            .await
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    assert!(emulator.pending_faults().is_empty());
    admin.list_scopes().await.assert_empty_ok();
}

#[test]
#[should_panic(expected = "count must be at least 1")]
fn injecting_an_invalid_fault_in_process_is_a_test_bug() {
    let (emulator, _api) = start();
    emulator.inject_fault(Fault::status(503).with_count(0));
}

#[tokio::test]
async fn the_request_log_redacts_secrets_and_records_outcomes() {
    let emulator = start_with_users(Config::default());
    let api = Api::admin(&emulator);
    api.create_scope("s").await.assert_empty_ok();
    api.put_string("s", "k", "hunter2").await.assert_empty_ok();
    api.put_bytes("s", "b", "c2VjcmV0").await.assert_empty_ok();
    api.get("/api/2.0/secrets/get", &[("scope", "s"), ("key", "k")])
        .await
        .assert_ok();
    emulator.inject_fault(Fault::status(429));
    api.list_scopes()
        .await
        .assert_error(429, "REQUEST_LIMIT_EXCEEDED");
    Api::anonymous(&emulator)
        .list_scopes()
        .await
        .assert_error(401, "UNAUTHENTICATED");

    let over_http = api
        .send("GET", "/__emulator/requests", None)
        .await
        .assert_ok();
    let logged: Vec<Value> = emulator
        .requests()
        .iter()
        .map(|request| serde_json::to_value(request).unwrap())
        .collect();
    assert_eq!(over_http["requests"], Value::Array(logged.clone()));
    assert!(!over_http.to_string().contains("hunter2"));
    assert!(!over_http.to_string().contains("c2VjcmV0"));
    assert!(!over_http.to_string().contains(&emulator.admin_token()));

    let put = &logged[1];
    assert_eq!(
        (put["method"].as_str(), put["path"].as_str()),
        (Some("POST"), Some("/api/2.0/secrets/put"))
    );
    assert_eq!(
        put["body"],
        json!({"scope": "s", "key": "k", "string_value": "***"})
    );
    assert_eq!(logged[2]["body"]["bytes_value"], json!("***"));
    assert_eq!(put["user"], json!("admin@example.com"));
    let get = &logged[3];
    assert_eq!(get["query"], json!("scope=s&key=k"));
    assert_eq!(get["query_params"], json!({"scope": "s", "key": "k"}));
    assert_eq!(
        (get["status"].as_u64(), get["fault"].as_bool()),
        (Some(200), Some(false))
    );
    assert_eq!(
        (logged[4]["status"].as_u64(), logged[4]["fault"].as_bool()),
        (Some(429), Some(true))
    );
    assert_eq!(
        (logged[5]["status"].as_u64(), &logged[5]["user"]),
        (Some(401), &Value::Null)
    );
    assert_eq!(logged.len(), 6, "control requests are not logged");
    let times: Vec<u64> = logged
        .iter()
        .map(|r| r["received_at_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));

    api.send("DELETE", "/__emulator/requests", None)
        .await
        .assert_empty_ok();
    assert!(emulator.requests().is_empty());
    api.list_scopes().await.assert_ok();
    emulator.clear_requests();
    assert!(emulator.requests().is_empty());
}
