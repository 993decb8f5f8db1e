//! Playing a far-away, rate-limited workspace: `--latency`, `--rate-limit`, `--no-retry-after`
//! and their control API, `/__emulator/pacing`.

use crate::Api;
use databricks_emulator::{Config, Emulator, RateLimit};
use serde_json::json;
use std::time::{Duration, Instant};

const PACING: &str = "/__emulator/pacing";

fn start(config: Config) -> (Emulator, Api) {
    let emulator = Emulator::start(config).unwrap();
    let api = Api::admin(&emulator);
    (emulator, api)
}

/// Sends `count` list calls at once and returns their statuses.
async fn list_scopes_concurrently(api: &Api, count: usize) -> Vec<u16> {
    let calls = (0..count).map(|_| {
        let api = api.clone();
        tokio::spawn(async move { api.list_scopes().await.status })
    });
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap());
    }
    statuses
}

#[tokio::test]
async fn latency_delays_every_answer_but_not_the_control_api() {
    let (emulator, api) = start(Config::default().with_latency(Duration::from_millis(150)));
    let started = Instant::now();
    api.list_scopes().await.assert_empty_ok();
    api.send("GET", "/.well-known/databricks-config", None)
        .await
        .assert_ok();
    Api::anonymous(&emulator)
        .list_scopes()
        .await
        .assert_error(401, "UNAUTHENTICATED");
    assert!(started.elapsed() >= Duration::from_millis(450));

    let started = Instant::now();
    api.send("GET", PACING, None).await.assert_ok();
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn latency_is_changed_at_run_time_over_http_and_in_process() {
    let (emulator, api) = start(Config::default());
    let status = api
        .post(PACING, json!({ "latency_ms": 200 }))
        .await
        .assert_ok();
    assert_eq!(status["latency_ms"], 200);
    let started = Instant::now();
    api.list_scopes().await.assert_empty_ok();
    assert!(started.elapsed() >= Duration::from_millis(200));

    emulator.set_latency(Duration::ZERO);
    let started = Instant::now();
    api.list_scopes().await.assert_empty_ok();
    assert!(started.elapsed() < Duration::from_millis(200));
}

#[tokio::test]
async fn requests_over_the_limit_get_the_real_429_with_retry_after() {
    let limit = RateLimit::per_second(1.0).with_burst(3);
    let (emulator, api) = start(Config::default().with_rate_limit(limit));
    let statuses = list_scopes_concurrently(&api, 5).await;
    assert_eq!(statuses.iter().filter(|&&status| status == 200).count(), 3);
    let answer = api.list_scopes().await;
    answer.assert_error(429, "REQUEST_LIMIT_EXCEEDED");
    assert_eq!(answer.headers["retry-after"], "1");
    assert_eq!(emulator.throttled_count(), 3);

    // throttled requests are logged as what they were answered
    let throttled_in_log = emulator
        .requests()
        .iter()
        .filter(|request| request.status == Some(429) && !request.fault)
        .count();
    assert_eq!(throttled_in_log, 3);

    // the bucket refills at the rate
    tokio::time::sleep(Duration::from_millis(1100)).await;
    api.list_scopes().await.assert_empty_ok();
}

#[tokio::test]
async fn only_the_secrets_api_is_limited() {
    let limit = RateLimit::per_second(0.1).with_burst(1);
    let (emulator, api) = start(Config::default().with_rate_limit(limit));
    api.list_scopes().await.assert_empty_ok();
    api.list_scopes()
        .await
        .assert_error(429, "REQUEST_LIMIT_EXCEEDED");
    for _ in 0..3 {
        api.send("GET", "/.well-known/databricks-config", None)
            .await
            .assert_ok();
        api.send("GET", PACING, None).await.assert_ok();
    }
    assert_eq!(emulator.throttled_count(), 1);
}

#[tokio::test]
async fn without_retry_after_the_429_has_no_header() {
    let limit = RateLimit::per_second(0.5).with_burst(1);
    let config = Config::default()
        .with_rate_limit(limit)
        .without_retry_after();
    let (_emulator, api) = start(config);
    api.list_scopes().await.assert_empty_ok();
    let answer = api.list_scopes().await;
    answer.assert_error(429, "REQUEST_LIMIT_EXCEEDED");
    assert!(answer.headers.get("retry-after").is_none());
}

#[tokio::test]
async fn the_control_api_sets_reports_and_resets_the_limit() {
    let (emulator, api) = start(Config::default());
    let status = api.send("GET", PACING, None).await.assert_ok();
    assert_eq!(
        status,
        json!({"latency_ms": 0, "rate_limit": null, "retry_after": true, "throttled": 0})
    );
    let update = json!({
        "rate_limit": {"requests_per_second": 0.2, "burst": 2},
        "retry_after": true,
    });
    api.post(PACING, update).await.assert_ok();
    list_scopes_concurrently(&api, 4).await;
    let answer = api.list_scopes().await;
    answer.assert_error(429, "REQUEST_LIMIT_EXCEEDED");
    assert_eq!(answer.headers["retry-after"], "5");
    let status = api.send("GET", PACING, None).await.assert_ok();
    assert_eq!(status["throttled"], 3);
    assert_eq!(status["rate_limit"]["burst"], 2);

    // DELETE zeroes the count and refills the bucket
    let status = api.send("DELETE", PACING, None).await.assert_ok();
    assert_eq!(status["throttled"], 0);
    api.list_scopes().await.assert_empty_ok();

    // null removes the limit
    api.post(PACING, json!({ "rate_limit": null }))
        .await
        .assert_ok();
    let statuses = list_scopes_concurrently(&api, 10).await;
    assert!(statuses.iter().all(|&status| status == 200), "{statuses:?}");
    assert_eq!(emulator.throttled_count(), 0);

    emulator.set_rate_limit(Some(RateLimit::per_second(0.1).with_burst(1)));
    list_scopes_concurrently(&api, 2).await;
    assert_eq!(emulator.throttled_count(), 1);
    emulator.reset_throttling();
    assert_eq!(emulator.throttled_count(), 0);
}

#[tokio::test]
async fn bad_pacing_changes_are_refused() {
    let (emulator, api) = start(Config::default());
    let bad_limit = json!({"rate_limit": {"requests_per_second": -1, "burst": 1}});
    api.post(PACING, bad_limit)
        .await
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    api.post(PACING, json!({"latency": 5}))
        .await
        .assert_error(400, "MALFORMED_REQUEST");
    api.send("PUT", PACING, None)
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
    Api::new(&emulator, "wrong")
        .send("GET", PACING, None)
        .await
        .assert_error(401, "UNAUTHENTICATED");
}

#[test]
fn an_invalid_rate_limit_in_the_config_fails_at_start() {
    let limit = RateLimit::per_second(10.0).with_burst(0);
    let error = Emulator::start(Config::default().with_rate_limit(limit)).unwrap_err();
    assert!(error.to_string().contains("burst"), "{error}");
}
