//! Typed requests and answers of the Secrets API 2.0, and the documented name rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::secret::{Secret, SecretBytes};

/// The largest secret value the service stores, in bytes after base64 decoding.
pub const MAX_VALUE_BYTES: usize = 131_072;

const MAX_NAME_CHARS: usize = 128;

/// A parsed answer plus the body as received (for `--output json`, keys in server order).
#[derive(Debug, Clone)]
pub struct Reply<T> {
    pub data: T,
    pub raw: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateScope {
    pub scope: String,
    pub initial_manage_principal: Option<String>,
    pub backend: ScopeBackend,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeBackend {
    /// No `scope_backend_type` in the request: the service's default, a Databricks scope.
    /// (`--json` bodies are sent as given.)
    ServiceDefault,
    Databricks,
    AzureKeyVault {
        resource_id: String,
        dns_name: String,
    },
}

/// The principal the credentials belong to (SCIM `Me`): a user, or a service principal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CurrentUser {
    #[serde(rename = "userName")]
    pub user_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListScopes {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub scopes: Vec<ScopeInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScopeInfo {
    pub name: String,
    #[serde(default)]
    pub backend_type: Option<String>,
    #[serde(default)]
    pub keyvault_metadata: Option<KeyVaultMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KeyVaultMetadata {
    pub resource_id: String,
    pub dns_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListSecrets {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub secrets: Vec<SecretMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SecretMetadata {
    pub key: String,
    #[serde(default)]
    pub last_updated_timestamp: Option<i64>,
}

/// A value to store: sent as `string_value` (text) or `bytes_value` (base64 of the bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretValue {
    Text(Secret),
    Bytes(SecretBytes),
}

impl SecretValue {
    /// Text when the bytes are valid UTF-8 (sent as `string_value`), else bytes (`bytes_value`).
    pub fn from_bytes(bytes: Vec<u8>) -> SecretValue {
        match String::from_utf8(bytes) {
            Ok(text) => SecretValue::Text(Secret::new(text)),
            Err(error) => SecretValue::Bytes(SecretBytes::new(error.into_bytes())),
        }
    }

    /// The value's bytes, as stored.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SecretValue::Text(text) => text.expose().as_bytes(),
            SecretValue::Bytes(bytes) => bytes.expose(),
        }
    }

    /// The size the service counts against [`MAX_VALUE_BYTES`].
    pub fn len(&self) -> usize {
        match self {
            SecretValue::Text(text) => text.expose().len(),
            SecretValue::Bytes(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A secret as read back: the `value` field already base64-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretContent {
    pub key: String,
    pub value: SecretBytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Write,
    Manage,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::Manage => "MANAGE",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Permission::Read, Permission::Write, Permission::Manage]
            .into_iter()
            .find(|permission| permission.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                format!("invalid permission '{text}': use READ, WRITE or MANAGE (any case)")
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AclItem {
    pub principal: String,
    pub permission: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListAcls {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub items: Vec<AclItem>,
}

/// Scope names: 1–128 characters from letters, digits, `-`, `_`, `.`, `@`.
pub fn validate_scope_name(name: &str) -> Result<(), String> {
    validate_name(
        "scope",
        name,
        |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'),
        "letters, digits, '-', '_', '.' and '@'",
    )
}

/// Key names: 1–128 characters from letters, digits, `-`, `_`, `.`.
pub fn validate_key_name(name: &str) -> Result<(), String> {
    validate_name(
        "key",
        name,
        |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'),
        "letters, digits, '-', '_' and '.'",
    )
}

fn validate_name(
    kind: &str,
    name: &str,
    allowed: impl Fn(char) -> bool,
    allowed_text: &str,
) -> Result<(), String> {
    let rule = format!("{kind} names are 1 to {MAX_NAME_CHARS} characters from {allowed_text}");
    let length = name.chars().count();
    if length == 0 {
        return Err(format!("the {kind} name is empty: {rule}"));
    }
    if length > MAX_NAME_CHARS {
        return Err(format!(
            "the {kind} name is {length} characters long: {rule}"
        ));
    }
    match name.chars().find(|&c| !allowed(c)) {
        Some(bad) => Err(format!("the {kind} name '{name}' contains {bad:?}: {rule}")),
        None => Ok(()),
    }
}

/// Lists may be absent or `null` when empty.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn permission_parses_any_case_and_displays_upper_case() {
        assert_eq!("read".parse::<Permission>(), Ok(Permission::Read));
        assert_eq!("WrItE".parse::<Permission>(), Ok(Permission::Write));
        assert_eq!("MANAGE".parse::<Permission>(), Ok(Permission::Manage));
        assert_eq!(Permission::Manage.to_string(), "MANAGE");
        let error = "owner".parse::<Permission>().unwrap_err();
        assert!(error.contains("owner") && error.contains("READ, WRITE or MANAGE"));
        assert!("".parse::<Permission>().is_err());
    }

    #[test]
    fn scope_names_follow_the_documented_rule() {
        for good in ["a", "my-scope_1.prod@team", &"s".repeat(128)] {
            assert_eq!(validate_scope_name(good), Ok(()), "{good}");
        }
        let too_long = validate_scope_name(&"s".repeat(129)).unwrap_err();
        assert!(too_long.contains("129 characters"), "{too_long}");
        let empty = validate_scope_name("").unwrap_err();
        assert!(
            empty.contains("empty") && empty.contains("1 to 128"),
            "{empty}"
        );
        let bad = validate_scope_name("my scope").unwrap_err();
        assert!(bad.contains("' '") && bad.contains("'@'"), "{bad}");
        assert!(validate_scope_name("é").is_err());
    }

    #[test]
    fn key_names_refuse_the_at_sign() {
        assert_eq!(validate_key_name("db.password-1_x"), Ok(()));
        let error = validate_key_name("user@host").unwrap_err();
        assert!(
            error.contains("'@'") && error.starts_with("the key name"),
            "{error}"
        );
        assert!(validate_key_name(&"k".repeat(129)).is_err());
        assert!(validate_key_name("a/b").is_err());
    }

    #[test]
    fn absent_or_null_lists_are_empty_and_unknown_fields_ignored() {
        let scopes: ListScopes = serde_json::from_value(json!({})).unwrap();
        assert!(scopes.scopes.is_empty());
        let secrets: ListSecrets = serde_json::from_value(json!({"secrets": null})).unwrap();
        assert!(secrets.secrets.is_empty());
        let acls: ListAcls = serde_json::from_value(json!({
            "items": [{"principal": "users", "permission": "READ", "since": 1}],
            "next_page_token": "x"
        }))
        .unwrap();
        assert_eq!(acls.items[0].principal, "users");
    }

    #[test]
    fn scope_info_reads_key_vault_metadata() {
        let scopes: ListScopes = serde_json::from_value(json!({"scopes": [
            {"name": "a", "backend_type": "DATABRICKS"},
            {"name": "kv", "backend_type": "AZURE_KEYVAULT",
             "keyvault_metadata": {"resource_id": "/subs/x", "dns_name": "https://kv.vault.azure.net/"}}
        ]}))
        .unwrap();
        assert_eq!(scopes.scopes[0].keyvault_metadata, None);
        let metadata = scopes.scopes[1].keyvault_metadata.as_ref().unwrap();
        assert_eq!(metadata.dns_name, "https://kv.vault.azure.net/");
    }

    #[test]
    fn secret_value_length_counts_bytes() {
        assert_eq!(SecretValue::Text(Secret::new("é")).len(), 2);
        assert!(SecretValue::Bytes(SecretBytes::new(Vec::new())).is_empty());
    }

    #[test]
    fn values_from_bytes_are_text_when_utf8_and_keep_their_bytes() {
        let text = SecretValue::from_bytes(b"ok".to_vec());
        assert_eq!(text, SecretValue::Text(Secret::new("ok")));
        let bytes = SecretValue::from_bytes(vec![0xc3]);
        assert_eq!(bytes, SecretValue::Bytes(SecretBytes::new(vec![0xc3])));
        assert_eq!(
            (text.as_bytes(), bytes.as_bytes()),
            (&b"ok"[..], &[0xc3][..])
        );
    }
}
