//! Every endpoint's success path: request and response shapes, key order, stable order.

use crate::{ALICE, Api, start_with_users};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use databricks_emulator::{Config, Emulator, Permission};
use serde_json::json;

#[tokio::test]
async fn empty_lists_answer_an_empty_object() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    api.list_scopes().await.assert_empty_ok();
    api.create_scope("empty").await.assert_empty_ok();
    api.list_secrets("empty").await.assert_empty_ok();
    api.delete_acl("empty", "admin@example.com")
        .await
        .assert_empty_ok();
    api.list_acls("empty").await.assert_empty_ok();
}

#[tokio::test]
async fn scopes_are_listed_in_creation_order_with_backend_type() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    for scope in ["zeta", "alpha", "Mid.dle@x"] {
        api.create_scope(scope).await.assert_empty_ok();
    }
    let answer = api.list_scopes().await;
    assert_eq!(
        answer.text,
        r#"{"scopes":[{"name":"zeta","backend_type":"DATABRICKS"},{"name":"alpha","backend_type":"DATABRICKS"},{"name":"Mid.dle@x","backend_type":"DATABRICKS"}]}"#
    );
    assert_eq!(emulator.scope_names(), ["zeta", "alpha", "Mid.dle@x"]);
    api.delete_scope("alpha").await.assert_empty_ok();
    assert_eq!(emulator.scope_names(), ["zeta", "Mid.dle@x"]);
}

#[tokio::test]
async fn put_list_get_delete_secrets() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    api.create_scope("s").await.assert_empty_ok();
    let before = now_millis();
    api.put_string("s", "text", "héllo\nworld")
        .await
        .assert_empty_ok();
    let raw: Vec<u8> = (0..=255).collect();
    api.put_bytes("s", "bin", &BASE64.encode(&raw))
        .await
        .assert_empty_ok();
    api.put_string("s", "a.key-1_x", "").await.assert_empty_ok();
    let after = now_millis();

    let listed = api.list_secrets("s").await.assert_ok();
    let keys: Vec<&str> = listed["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|secret| secret["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a.key-1_x", "bin", "text"], "key order");
    for secret in listed["secrets"].as_array().unwrap() {
        let timestamp = secret["last_updated_timestamp"].as_i64().unwrap();
        assert!((before..=after).contains(&timestamp), "{timestamp}");
        assert_eq!(
            secret.as_object().unwrap().len(),
            2,
            "metadata only: {secret}"
        );
    }
    let text = api.list_secrets("s").await.text;
    assert!(text.starts_with(r#"{"secrets":[{"key":"a.key-1_x","last_updated_timestamp":"#));

    let got = api.get_secret("s", "bin").await;
    assert_eq!(
        got.text,
        format!(r#"{{"key":"bin","value":"{}"}}"#, BASE64.encode(&raw))
    );
    let got = api.get_secret("s", "text").await.assert_ok();
    assert_eq!(
        BASE64.decode(got["value"].as_str().unwrap()).unwrap(),
        "héllo\nworld".as_bytes()
    );
    assert_eq!(emulator.secret_bytes("s", "bin"), Some(raw));
    assert_eq!(
        emulator.secret_bytes("s", "text"),
        Some("héllo\nworld".as_bytes().to_vec())
    );

    api.delete_secret("s", "bin").await.assert_empty_ok();
    assert_eq!(emulator.secret_bytes("s", "bin"), None);
    api.get_secret("s", "bin")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
}

#[tokio::test]
async fn a_put_overwrites_and_refreshes_the_timestamp() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    api.create_scope("s").await.assert_empty_ok();
    api.put_string("s", "k", "one").await.assert_empty_ok();
    let first = api.list_secrets("s").await.assert_ok()["secrets"][0]["last_updated_timestamp"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    api.put_string("s", "k", "two").await.assert_empty_ok();
    let listed = api.list_secrets("s").await.assert_ok();
    assert_eq!(listed["secrets"].as_array().unwrap().len(), 1);
    assert!(
        listed["secrets"][0]["last_updated_timestamp"]
            .as_i64()
            .unwrap()
            > first
    );
    assert_eq!(emulator.secret_bytes("s", "k").unwrap(), b"two");
}

#[tokio::test]
async fn the_largest_value_is_accepted() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    api.create_scope("s").await.assert_empty_ok();
    let value = vec![7u8; databricks_emulator::MAX_VALUE_BYTES];
    api.put_bytes("s", "big", &BASE64.encode(&value))
        .await
        .assert_empty_ok();
    api.put_string("s", "big-text", &"x".repeat(131_072))
        .await
        .assert_empty_ok();
    assert_eq!(emulator.secret_bytes("s", "big").unwrap().len(), 131_072);
}

#[tokio::test]
async fn acl_put_get_list_delete() {
    let emulator = start_with_users(Config::default());
    let api = Api::admin(&emulator);
    api.create_scope("s").await.assert_empty_ok();
    api.put_acl("s", ALICE, "READ").await.assert_empty_ok();
    api.put_acl("s", "data-team", "WRITE")
        .await
        .assert_empty_ok();
    assert_eq!(
        api.get_acl("s", ALICE).await.text,
        r#"{"principal":"alice@example.com","permission":"READ"}"#
    );
    api.put_acl("s", ALICE, "MANAGE").await.assert_empty_ok();
    assert_eq!(emulator.acl("s", ALICE), Some(Permission::Manage));
    assert_eq!(
        api.list_acls("s").await.text,
        concat!(
            r#"{"items":[{"principal":"admin@example.com","permission":"MANAGE"},"#,
            r#"{"principal":"alice@example.com","permission":"MANAGE"},"#,
            r#"{"principal":"data-team","permission":"WRITE"}]}"#
        )
    );
    api.delete_acl("s", "data-team").await.assert_empty_ok();
    api.get_acl("s", "data-team")
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        api.list_acls("s").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn deleting_a_scope_removes_its_secrets_and_acls() {
    let emulator = start_with_users(Config::default());
    let api = Api::admin(&emulator);
    api.create_scope("s").await.assert_empty_ok();
    api.put_string("s", "k", "v").await.assert_empty_ok();
    api.put_acl("s", ALICE, "READ").await.assert_empty_ok();
    api.delete_scope("s").await.assert_empty_ok();
    api.create_scope("s").await.assert_empty_ok();
    api.list_secrets("s").await.assert_empty_ok();
    api.get_acl("s", ALICE)
        .await
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(emulator.secret_bytes("s", "k"), None);
}

#[tokio::test]
async fn query_parameters_are_percent_decoded() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    api.create_scope("a@b.c").await.assert_empty_ok();
    api.put_string("a@b.c", "k.1", "v").await.assert_empty_ok();
    let answer = api
        .send("GET", "/api/2.0/secrets/get?scope=a%40b.c&key=k%2E1", None)
        .await;
    assert_eq!(answer.assert_ok()["key"], json!("k.1"));
}

#[tokio::test]
async fn basic_authentication_with_a_token_as_password() {
    let emulator = start_with_users(Config::default());
    let credentials = BASE64.encode(format!("{ALICE}:{}", crate::ALICE_TOKEN));
    let api = Api::with_authorization(&emulator, &format!("Basic {credentials}"));
    api.create_scope("basic").await.assert_empty_ok();
    assert_eq!(emulator.acl("basic", ALICE), Some(Permission::Manage));
}

#[tokio::test]
async fn host_metadata_probe_of_recent_sdks_is_answered() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let answer = Api::anonymous(&emulator)
        .get("/.well-known/databricks-config", &[])
        .await;
    assert!(answer.assert_ok()["workspace_id"].is_string());
}

fn now_millis() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(elapsed.as_millis()).unwrap()
}
