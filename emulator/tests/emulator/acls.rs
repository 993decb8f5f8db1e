//! The permission matrix: READ ⊂ WRITE ⊂ MANAGE, for users, groups, `users` and admins.

use crate::{ALICE, ALICE_TOKEN, Api, BOB, BOB_TOKEN, start_with_users};
use databricks_emulator::{Config, Emulator, Permission};
use serde_json::json;

const LEVELS: [Option<&str>; 4] = [None, Some("READ"), Some("WRITE"), Some("MANAGE")];

fn rank(level: Option<&str>) -> u8 {
    match level {
        None => 0,
        Some("READ") => 1,
        Some("WRITE") => 2,
        _ => 3,
    }
}

/// Gives bob `level` on a fresh scope through `principal` (bob himself or a group of his), then
/// checks each call bob makes: allowed exactly when `level` is at least what the call needs.
async fn check_level(emulator: &Emulator, principal: &str, level: Option<&str>) {
    let admin = Api::admin(emulator);
    let bob = Api::new(emulator, BOB_TOKEN);
    let scope = format!("matrix-{principal}-{}", level.unwrap_or("none"));
    admin.create_scope(&scope).await.assert_empty_ok();
    admin.put_string(&scope, "k", "v").await.assert_empty_ok();
    admin
        .put_acl(&scope, "carol", "READ")
        .await
        .assert_empty_ok();
    if let Some(level) = level {
        admin
            .put_acl(&scope, principal, level)
            .await
            .assert_empty_ok();
    }
    let calls = [
        (1, bob.list_secrets(&scope).await),
        (1, bob.get_secret(&scope, "k").await),
        (2, bob.put_string(&scope, "k2", "v2").await),
        (2, bob.delete_secret(&scope, "k2").await),
        (3, bob.put_acl(&scope, "carol", "WRITE").await),
        (3, bob.get_acl(&scope, "carol").await),
        (3, bob.list_acls(&scope).await),
        (3, bob.delete_acl(&scope, "carol").await),
        (3, bob.delete_scope(&scope).await),
    ];
    for (index, (needed, answer)) in calls.into_iter().enumerate() {
        let context = format!(
            "call #{index} by {principal} with {level:?}: {}",
            answer.text
        );
        if rank(level) >= needed {
            assert_eq!(answer.status, 200, "{context}");
        } else {
            let message = answer.assert_error(403, "PERMISSION_DENIED");
            assert!(message.contains(BOB), "{context}");
        }
    }
    let scope_still_exists = emulator.scope_names().contains(&scope);
    assert_eq!(scope_still_exists, rank(level) < 3);
}

#[tokio::test]
async fn permission_matrix_for_a_user() {
    let emulator = start_with_users(Config::default());
    for level in LEVELS {
        check_level(&emulator, BOB, level).await;
    }
}

#[tokio::test]
async fn permission_matrix_through_a_group() {
    let emulator = start_with_users(Config::default().with_group("team", [BOB]));
    for level in LEVELS {
        check_level(&emulator, "team", level).await;
    }
}

#[tokio::test]
async fn permission_matrix_through_the_users_group() {
    let emulator = start_with_users(Config::default());
    for level in LEVELS {
        check_level(&emulator, "users", level).await;
    }
}

#[tokio::test]
async fn the_strongest_rule_wins() {
    let emulator = start_with_users(Config::default().with_group("team", [BOB]));
    let admin = Api::admin(&emulator);
    let bob = Api::new(&emulator, BOB_TOKEN);
    admin.create_scope("s").await.assert_empty_ok();
    admin.put_acl("s", BOB, "READ").await.assert_empty_ok();
    admin.put_acl("s", "team", "WRITE").await.assert_empty_ok();
    bob.put_string("s", "k", "v").await.assert_empty_ok();
    bob.list_acls("s")
        .await
        .assert_error(403, "PERMISSION_DENIED");
    admin.put_acl("s", BOB, "MANAGE").await.assert_empty_ok();
    admin.put_acl("s", "team", "READ").await.assert_empty_ok();
    bob.list_acls("s").await.assert_ok();
    // a group bob is not in does not help alice
    let alice = Api::new(&emulator, ALICE_TOKEN);
    alice
        .list_secrets("s")
        .await
        .assert_error(403, "PERMISSION_DENIED");
}

#[tokio::test]
async fn the_creator_manages_its_scope_and_others_do_not() {
    let emulator = start_with_users(Config::default());
    let alice = Api::new(&emulator, ALICE_TOKEN);
    let bob = Api::new(&emulator, BOB_TOKEN);
    alice.create_scope("alices").await.assert_empty_ok();
    assert_eq!(
        alice.list_acls("alices").await.text,
        r#"{"items":[{"principal":"alice@example.com","permission":"MANAGE"}]}"#
    );
    alice.put_string("alices", "k", "v").await.assert_empty_ok();
    bob.get_secret("alices", "k")
        .await
        .assert_error(403, "PERMISSION_DENIED");
    // scope names are visible to every user
    let listed = bob.list_scopes().await.assert_ok();
    assert_eq!(listed["scopes"][0]["name"], json!("alices"));
}

#[tokio::test]
async fn initial_manage_principal_users_gives_everyone_manage() {
    let emulator = start_with_users(Config::default());
    let alice = Api::new(&emulator, ALICE_TOKEN);
    let bob = Api::new(&emulator, BOB_TOKEN);
    let body = json!({"scope": "shared", "initial_manage_principal": "users"});
    alice
        .post("/api/2.0/secrets/scopes/create", body)
        .await
        .assert_empty_ok();
    assert_eq!(emulator.acl("shared", "users"), Some(Permission::Manage));
    assert_eq!(
        emulator.acl("shared", ALICE),
        None,
        "the creator gets no rule of its own"
    );
    bob.put_string("shared", "k", "v").await.assert_empty_ok();
    bob.put_acl("shared", ALICE, "READ").await.assert_empty_ok();
    bob.delete_scope("shared").await.assert_empty_ok();
}

#[tokio::test]
async fn admins_manage_every_scope() {
    let config = Config::default()
        .with_user("carol@example.com", "carol-token")
        .with_admin("carol@example.com")
        .with_user("dave@example.com", "dave-token")
        .with_group("admins", ["dave@example.com"]);
    let emulator = start_with_users(config);
    Api::new(&emulator, ALICE_TOKEN)
        .create_scope("private")
        .await
        .assert_empty_ok();
    for token in ["carol-token", "dave-token", &emulator.admin_token()] {
        let admin = Api::new(&emulator, token);
        admin
            .put_string("private", "k", token)
            .await
            .assert_empty_ok();
        admin.get_secret("private", "k").await.assert_ok();
        admin.list_acls("private").await.assert_ok();
    }
    Api::new(&emulator, "carol-token")
        .delete_scope("private")
        .await
        .assert_empty_ok();
}

#[tokio::test]
async fn acl_rules_for_other_principals_do_not_apply() {
    let emulator = start_with_users(Config::default().with_group("team", [ALICE]));
    let admin = Api::admin(&emulator);
    admin.create_scope("s").await.assert_empty_ok();
    admin.put_acl("s", "team", "MANAGE").await.assert_empty_ok();
    admin.put_acl("s", ALICE, "MANAGE").await.assert_empty_ok();
    Api::new(&emulator, BOB_TOKEN)
        .list_secrets("s")
        .await
        .assert_error(403, "PERMISSION_DENIED");
}
