//! Every documented error: code, status and a JSON body.

use crate::{ALICE, Api, start_with_users};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use databricks_emulator::{Config, Emulator};
use serde_json::json;

fn start() -> (Emulator, Api) {
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    (emulator, api)
}

#[tokio::test]
async fn scope_names_are_unique_ignoring_case() {
    let (_emulator, api) = start();
    api.create_scope("prod").await.assert_empty_ok();
    let message = api
        .create_scope("prod")
        .await
        .assert_error(400, "RESOURCE_ALREADY_EXISTS");
    assert_eq!(message, "Scope prod already exists!");
    api.create_scope("PROD")
        .await
        .assert_error(400, "RESOURCE_ALREADY_EXISTS");
    api.create_scope("Prod")
        .await
        .assert_error(400, "RESOURCE_ALREADY_EXISTS");
    // lookups are exact: PROD is not a scope
    api.list_secrets("PROD")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
}

#[tokio::test]
async fn unknown_scopes_keys_and_principals_do_not_exist() {
    let (_emulator, api) = start();
    let message = api
        .list_secrets("nope")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(message, "Scope nope does not exist!");
    api.delete_scope("nope")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    api.put_string("nope", "k", "v")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    api.delete_secret("nope", "k")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    api.get_secret("nope", "k")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    api.put_acl("nope", ALICE, "READ")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    api.get_acl("nope", ALICE)
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    api.list_acls("nope")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    api.delete_acl("nope", ALICE)
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");

    api.create_scope("s").await.assert_empty_ok();
    api.get_secret("s", "missing")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    api.delete_secret("s", "missing")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    api.get_acl("s", ALICE)
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    api.delete_acl("s", ALICE)
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
}

#[tokio::test]
async fn invalid_names_permissions_and_values() {
    let (_emulator, api) = start();
    let too_long = "s".repeat(129);
    for bad_scope in [
        "",
        "has space",
        "slash/",
        "ümlaut",
        "semi;colon",
        too_long.as_str(),
    ] {
        api.create_scope(bad_scope)
            .await
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    api.create_scope(&"s".repeat(128)).await.assert_empty_ok();
    api.create_scope("s").await.assert_empty_ok();
    for bad_key in ["", "at@sign", "sp ace", &"k".repeat(129)] {
        api.put_string("s", bad_key, "v")
            .await
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    for bad_permission in ["read", "OWNER", ""] {
        api.put_acl("s", ALICE, bad_permission)
            .await
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    api.put_acl("s", "", "READ")
        .await
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    let too_big = vec![1u8; 131_073];
    api.put_bytes("s", "big", &BASE64.encode(&too_big))
        .await
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    api.put_string("s", "big", &"é".repeat(65_537))
        .await
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    for bad_base64 in ["not base64!", "YWJj=", "YWJjZA"] {
        api.put_bytes("s", "k", bad_base64)
            .await
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    let body = json!({"scope": "t", "initial_manage_principal": ALICE});
    api.post("/api/2.0/secrets/scopes/create", body)
        .await
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    let body = json!({"scope": "t", "scope_backend_type": "VAULT"});
    api.post("/api/2.0/secrets/scopes/create", body)
        .await
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(api.list_secrets("s").await.text, "{}", "nothing was stored");
}

#[tokio::test]
async fn missing_fields_and_value_rules_are_malformed() {
    let (_emulator, api) = start();
    api.create_scope("s").await.assert_empty_ok();
    let cases = [
        ("/api/2.0/secrets/scopes/create", json!({})),
        ("/api/2.0/secrets/scopes/delete", json!({"name": "s"})),
        (
            "/api/2.0/secrets/put",
            json!({"scope": "s", "string_value": "v"}),
        ),
        (
            "/api/2.0/secrets/put",
            json!({"key": "k", "string_value": "v"}),
        ),
        ("/api/2.0/secrets/put", json!({"scope": "s", "key": "k"})),
        (
            "/api/2.0/secrets/put",
            json!({"scope": "s", "key": "k", "string_value": null}),
        ),
        (
            "/api/2.0/secrets/put",
            json!({"scope": "s", "key": "k", "string_value": "v", "bytes_value": "dg=="}),
        ),
        ("/api/2.0/secrets/delete", json!({"scope": "s"})),
        (
            "/api/2.0/secrets/acls/put",
            json!({"scope": "s", "principal": ALICE}),
        ),
        ("/api/2.0/secrets/acls/delete", json!({"scope": "s"})),
    ];
    for (path, body) in cases {
        let message = api
            .post(path, body.clone())
            .await
            .assert_error(400, "MALFORMED_REQUEST");
        assert!(!message.is_empty(), "{path} {body}");
    }
    let get_cases: [(&str, &[(&str, &str)]); 4] = [
        ("/api/2.0/secrets/list", &[]),
        ("/api/2.0/secrets/get", &[("scope", "s")]),
        ("/api/2.0/secrets/acls/get", &[("scope", "s")]),
        ("/api/2.0/secrets/acls/list", &[("principal", "x")]),
    ];
    for (path, params) in get_cases {
        api.get(path, params)
            .await
            .assert_error(400, "MALFORMED_REQUEST");
    }
    let message = api
        .post("/api/2.0/secrets/put", json!({"scope": "s", "key": "k"}))
        .await
        .assert_error(400, "MALFORMED_REQUEST");
    assert!(
        message.contains("string_value") && message.contains("bytes_value"),
        "{message}"
    );
}

#[tokio::test]
async fn wrong_json_types_and_bodies_are_malformed() {
    let (_emulator, api) = start();
    api.create_scope("s").await.assert_empty_ok();
    let bodies = [
        json!({"scope": 1}),
        json!({"scope": ["s"]}),
        json!({"scope": "t", "initial_manage_principal": true}),
        json!({"scope": "t", "scope_backend_type": "AZURE_KEYVAULT", "backend_azure_keyvault": "x"}),
        json!(["scope", "t"]),
        json!("t"),
        json!(null),
    ];
    for body in bodies {
        api.post("/api/2.0/secrets/scopes/create", body)
            .await
            .assert_error(400, "MALFORMED_REQUEST");
    }
    let body = json!({"scope": "s", "key": "k", "string_value": 5});
    api.post("/api/2.0/secrets/put", body)
        .await
        .assert_error(400, "MALFORMED_REQUEST");
    for raw in [
        &b""[..],
        b"{",
        b"{\"scope\": \"s\",}",
        b"scope=s",
        b"\xff\xfe\x00",
    ] {
        api.send("POST", "/api/2.0/secrets/scopes/delete", Some(raw.to_vec()))
            .await
            .assert_error(400, "MALFORMED_REQUEST");
    }
    assert_eq!(_emulator.scope_names(), ["s"]);
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let (emulator, api) = start();
    let body = json!({"scope": "s", "future_field": {"x": 1}});
    api.post("/api/2.0/secrets/scopes/create", body)
        .await
        .assert_empty_ok();
    assert_eq!(emulator.scope_names(), ["s"]);
}

#[tokio::test]
async fn scope_limit_is_enforced() {
    let emulator = Emulator::start(Config::default().with_max_scopes(2)).unwrap();
    let api = Api::admin(&emulator);
    api.create_scope("a").await.assert_empty_ok();
    api.create_scope("b").await.assert_empty_ok();
    api.create_scope("c")
        .await
        .assert_error(400, "RESOURCE_LIMIT_EXCEEDED");
    api.delete_scope("a").await.assert_empty_ok();
    api.create_scope("c").await.assert_empty_ok();
}

#[tokio::test]
async fn secrets_per_scope_limit_is_enforced_for_new_keys_only() {
    let emulator = Emulator::start(Config::default().with_max_secrets_per_scope(2)).unwrap();
    let api = Api::admin(&emulator);
    api.create_scope("s").await.assert_empty_ok();
    api.put_string("s", "a", "1").await.assert_empty_ok();
    api.put_string("s", "b", "2").await.assert_empty_ok();
    api.put_string("s", "c", "3")
        .await
        .assert_error(400, "RESOURCE_LIMIT_EXCEEDED");
    api.put_string("s", "a", "overwrite")
        .await
        .assert_empty_ok();
    api.delete_secret("s", "b").await.assert_empty_ok();
    api.put_string("s", "c", "3").await.assert_empty_ok();
}

#[tokio::test]
async fn the_default_limits_are_the_documented_ones() {
    let config = Config::default();
    assert_eq!(
        (config.max_scopes, config.max_secrets_per_scope),
        (1000, 1000)
    );
}

#[tokio::test]
async fn authentication_is_required() {
    let emulator = start_with_users(Config::default());
    let paths = [
        ("GET", "/api/2.0/secrets/scopes/list"),
        ("POST", "/api/2.0/secrets/scopes/create"),
        ("GET", "/api/2.0/secrets/list?scope=s"),
        ("GET", "/__emulator/requests"),
    ];
    let credentials = [
        None,
        Some("Bearer wrong-token".to_string()),
        Some(format!("Token {}", emulator.admin_token())),
        Some(format!("Basic {}", BASE64.encode(format!("{ALICE}:wrong")))),
        Some(format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", crate::BOB, crate::ALICE_TOKEN))
        )),
        Some("Bearer".to_string()),
    ];
    for authorization in credentials {
        let api = Api::for_url(&emulator.url(), authorization.clone());
        for (method, path) in paths {
            let body = (method == "POST").then(|| br#"{"scope":"s"}"#.to_vec());
            api.send(method, path, body)
                .await
                .assert_error(401, "UNAUTHENTICATED");
        }
    }
    assert!(emulator.scope_names().is_empty());
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_json_errors() {
    let (_emulator, api) = start();
    for path in [
        "/",
        "/api/2.0/secrets/nope",
        "/api/2.0/secrets/list/",
        "/api/2.1/secrets/scopes/list",
        "/__emulator/nope",
    ] {
        api.send("GET", path, None)
            .await
            .assert_error(404, "ENDPOINT_NOT_FOUND");
    }
    let wrong_methods = [
        ("GET", "/api/2.0/secrets/scopes/create"),
        ("POST", "/api/2.0/secrets/scopes/list"),
        ("PUT", "/api/2.0/secrets/put"),
        ("DELETE", "/api/2.0/secrets/acls/list"),
        ("PATCH", "/__emulator/faults"),
        ("POST", "/__emulator/requests"),
    ];
    for (method, path) in wrong_methods {
        api.send(method, path, Some(b"{}".to_vec()))
            .await
            .assert_error(405, "METHOD_NOT_ALLOWED");
    }
}

#[tokio::test]
async fn oversized_bodies_get_a_json_error() {
    let (emulator, api) = start();
    let huge = format!(
        r#"{{"scope":"s","key":"k","string_value":"{}"}}"#,
        "x".repeat(databricks_emulator::MAX_BODY_BYTES)
    );
    api.send("POST", "/api/2.0/secrets/put", Some(huge.into_bytes()))
        .await
        .assert_error(413, "BAD_REQUEST");
    let log = emulator.requests();
    assert_eq!(log.last().unwrap().status, Some(413));
    api.list_scopes().await.assert_empty_ok();
}
