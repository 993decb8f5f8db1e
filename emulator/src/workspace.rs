//! The Secrets API 2.0 semantics: endpoints, validation, limits and ACL checks.

use crate::config::{ALL_USERS_GROUP, Directory};
use crate::error::ApiError;
use crate::fields::Fields;
use crate::identity::Credential;
use crate::now_millis;
use crate::store::{KeyVaultMetadata, Permission, Scope, State, StoredSecret};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Largest secret value, in bytes after base64 decoding.
pub const MAX_VALUE_BYTES: usize = 131_072;
const MAX_NAME_CHARS: usize = 128;

/// The eleven calls of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    CreateScope,
    DeleteScope,
    ListScopes,
    PutSecret,
    DeleteSecret,
    ListSecrets,
    GetSecret,
    PutAcl,
    DeleteAcl,
    GetAcl,
    ListAcls,
}

impl Endpoint {
    pub fn from_path(path: &str) -> Option<Endpoint> {
        let endpoint = match path.strip_prefix("/api/2.0/secrets/")? {
            "scopes/create" => Endpoint::CreateScope,
            "scopes/delete" => Endpoint::DeleteScope,
            "scopes/list" => Endpoint::ListScopes,
            "put" => Endpoint::PutSecret,
            "delete" => Endpoint::DeleteSecret,
            "list" => Endpoint::ListSecrets,
            "get" => Endpoint::GetSecret,
            "acls/put" => Endpoint::PutAcl,
            "acls/delete" => Endpoint::DeleteAcl,
            "acls/get" => Endpoint::GetAcl,
            "acls/list" => Endpoint::ListAcls,
            _ => return None,
        };
        Some(endpoint)
    }

    /// Reads take their fields from the query string (GET), changes from a JSON body (POST).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Endpoint::ListScopes
                | Endpoint::ListSecrets
                | Endpoint::GetSecret
                | Endpoint::GetAcl
                | Endpoint::ListAcls
        )
    }
}

/// Who is calling: the authenticated user or service principal, and how.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub user: String,
    pub credential: Credential,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_scopes: usize,
    pub max_secrets_per_scope: usize,
}

pub(crate) struct Workspace {
    pub state: State,
    pub directory: Arc<Directory>,
    pub limits: Limits,
    pub state_path: Option<PathBuf>,
}

impl Workspace {
    /// Runs one call; a successful change is persisted before answering.
    pub fn handle(
        &mut self,
        endpoint: Endpoint,
        caller: &Caller,
        fields: &Fields,
    ) -> Result<Value, ApiError> {
        let answer = match endpoint {
            Endpoint::CreateScope => self.create_scope(caller, fields),
            Endpoint::DeleteScope => self.delete_scope(caller, fields),
            Endpoint::ListScopes => Ok(self.list_scopes()),
            Endpoint::PutSecret => self.put_secret(caller, fields),
            Endpoint::DeleteSecret => self.delete_secret(caller, fields),
            Endpoint::ListSecrets => self.list_secrets(caller, fields),
            Endpoint::GetSecret => self.get_secret(caller, fields),
            Endpoint::PutAcl => self.put_acl(caller, fields),
            Endpoint::DeleteAcl => self.delete_acl(caller, fields),
            Endpoint::GetAcl => self.get_acl(caller, fields),
            Endpoint::ListAcls => self.list_acls(caller, fields),
        }?;
        if !endpoint.is_read() {
            self.persist()?;
        }
        Ok(answer)
    }

    fn persist(&self) -> Result<(), ApiError> {
        let Some(path) = &self.state_path else {
            return Ok(());
        };
        self.state.save(path).map_err(|error| {
            ApiError::internal(format!(
                "The emulator could not write its state file {}: {error}",
                path.display()
            ))
        })
    }

    fn create_scope(&mut self, caller: &Caller, fields: &Fields) -> Result<Value, ApiError> {
        let name = fields.required_str("scope")?;
        validate_scope_name(name)?;
        let manager = match fields.optional_str("initial_manage_principal")? {
            None | Some("") => caller.user.as_str(),
            Some(ALL_USERS_GROUP) => ALL_USERS_GROUP,
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "Invalid initial_manage_principal {other}: the only accepted value is \"users\""
                )));
            }
        };
        let keyvault = keyvault_backend(fields)?;
        if keyvault.is_some() && !caller.credential.is_entra_user_token() {
            return Err(ApiError::invalid(
                "Scope with Azure KeyVault must have userAADToken defined!",
            ));
        }
        if let Some(existing) = self.state.scope_ignoring_case(name) {
            return Err(ApiError::already_exists(format!(
                "Scope {} already exists!",
                existing.name
            )));
        }
        if self.state.scopes.len() >= self.limits.max_scopes {
            return Err(ApiError::limit_exceeded(format!(
                "Cannot create scope {name}: the workspace already has the maximum of {} scopes",
                self.limits.max_scopes
            )));
        }
        self.state.scopes.push(Scope {
            name: name.to_string(),
            keyvault,
            secrets: BTreeMap::new(),
            acls: BTreeMap::from([(manager.to_string(), Permission::Manage)]),
        });
        Ok(json!({}))
    }

    fn delete_scope(&mut self, caller: &Caller, fields: &Fields) -> Result<Value, ApiError> {
        let name = fields.required_str("scope")?;
        self.authorize(caller, name, Permission::Manage)?;
        self.state.scopes.retain(|scope| scope.name != name);
        Ok(json!({}))
    }

    fn list_scopes(&self) -> Value {
        let scopes: Vec<Value> = self.state.scopes.iter().map(scope_json).collect();
        list_answer("scopes", scopes)
    }

    fn put_secret(&mut self, caller: &Caller, fields: &Fields) -> Result<Value, ApiError> {
        let scope_name = fields.required_str("scope")?;
        let key = fields.required_str("key")?;
        let value = secret_value(fields)?;
        validate_key_name(key)?;
        self.authorize_writable(caller, scope_name)?;
        let max_secrets = self.limits.max_secrets_per_scope;
        let scope = self.existing_scope_mut(scope_name)?;
        if !scope.secrets.contains_key(key) && scope.secrets.len() >= max_secrets {
            return Err(ApiError::limit_exceeded(format!(
                "Cannot put secret {key}: scope {scope_name} already has the maximum of {max_secrets} secrets"
            )));
        }
        let secret = StoredSecret {
            value,
            last_updated_timestamp: i64::try_from(now_millis()).unwrap_or(i64::MAX),
        };
        scope.secrets.insert(key.to_string(), secret);
        Ok(json!({}))
    }

    fn delete_secret(&mut self, caller: &Caller, fields: &Fields) -> Result<Value, ApiError> {
        let scope_name = fields.required_str("scope")?;
        let key = fields.required_str("key")?;
        self.authorize_writable(caller, scope_name)?;
        let scope = self.existing_scope_mut(scope_name)?;
        match scope.secrets.remove(key) {
            Some(_) => Ok(json!({})),
            None => Err(missing_secret(scope_name, key)),
        }
    }

    fn list_secrets(&self, caller: &Caller, fields: &Fields) -> Result<Value, ApiError> {
        let scope = self.authorize(caller, fields.required_str("scope")?, Permission::Read)?;
        let secrets: Vec<Value> = scope
            .secrets
            .iter()
            .map(|(key, secret)| {
                json!({ "key": key, "last_updated_timestamp": secret.last_updated_timestamp })
            })
            .collect();
        Ok(list_answer("secrets", secrets))
    }

    fn get_secret(&self, caller: &Caller, fields: &Fields) -> Result<Value, ApiError> {
        let scope_name = fields.required_str("scope")?;
        let key = fields.required_str("key")?;
        let scope = self.authorize(caller, scope_name, Permission::Read)?;
        let secret = scope
            .secrets
            .get(key)
            .ok_or_else(|| missing_secret(scope_name, key))?;
        Ok(json!({ "key": key, "value": BASE64.encode(&secret.value) }))
    }

    fn put_acl(&mut self, caller: &Caller, fields: &Fields) -> Result<Value, ApiError> {
        let scope_name = fields.required_str("scope")?;
        let principal = fields.required_str("principal")?;
        let level = fields.required_str("permission")?;
        let permission = Permission::parse(level).ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid permission {level}: use READ, WRITE or MANAGE"
            ))
        })?;
        if principal.is_empty() {
            return Err(ApiError::invalid("The principal must not be empty"));
        }
        self.authorize(caller, scope_name, Permission::Manage)?;
        let scope = self.existing_scope_mut(scope_name)?;
        scope.acls.insert(principal.to_string(), permission);
        Ok(json!({}))
    }

    fn delete_acl(&mut self, caller: &Caller, fields: &Fields) -> Result<Value, ApiError> {
        let scope_name = fields.required_str("scope")?;
        let principal = fields.required_str("principal")?;
        self.authorize(caller, scope_name, Permission::Manage)?;
        let scope = self.existing_scope_mut(scope_name)?;
        match scope.acls.remove(principal) {
            Some(_) => Ok(json!({})),
            None => Err(missing_acl(scope_name, principal)),
        }
    }

    fn get_acl(&self, caller: &Caller, fields: &Fields) -> Result<Value, ApiError> {
        let scope_name = fields.required_str("scope")?;
        let principal = fields.required_str("principal")?;
        let scope = self.authorize(caller, scope_name, Permission::Manage)?;
        let permission = scope
            .acls
            .get(principal)
            .ok_or_else(|| missing_acl(scope_name, principal))?;
        Ok(json!({ "principal": principal, "permission": permission.as_str() }))
    }

    fn list_acls(&self, caller: &Caller, fields: &Fields) -> Result<Value, ApiError> {
        let scope = self.authorize(caller, fields.required_str("scope")?, Permission::Manage)?;
        let items: Vec<Value> = scope
            .acls
            .iter()
            .map(|(principal, permission)| {
                json!({ "principal": principal, "permission": permission.as_str() })
            })
            .collect();
        Ok(list_answer("items", items))
    }

    /// The scope, if it exists and the caller has at least `needed` on it.
    fn authorize(
        &self,
        caller: &Caller,
        scope_name: &str,
        needed: Permission,
    ) -> Result<&Scope, ApiError> {
        let scope = self
            .state
            .scope(scope_name)
            .ok_or_else(|| missing_scope(scope_name))?;
        if self.effective_permission(scope, &caller.user) < Some(needed) {
            return Err(ApiError::permission_denied(format!(
                "User {} does not have {} permission on scope {scope_name}",
                caller.user,
                needed.as_str()
            )));
        }
        Ok(scope)
    }

    /// WRITE on a scope whose backend accepts writes.
    fn authorize_writable(&self, caller: &Caller, scope_name: &str) -> Result<(), ApiError> {
        let scope = self.authorize(caller, scope_name, Permission::Write)?;
        if scope.keyvault.is_some() {
            return Err(ApiError::bad_request(format!(
                "Scope {scope_name} is backed by Azure Key Vault and is read-only; manage its secrets with Azure tools"
            )));
        }
        Ok(())
    }

    /// The strongest rule that applies to the user; admins have MANAGE everywhere.
    pub fn effective_permission(&self, scope: &Scope, user: &str) -> Option<Permission> {
        if self.directory.is_admin(user) {
            return Some(Permission::Manage);
        }
        scope
            .acls
            .iter()
            .filter(|(principal, _)| self.directory.applies_to(principal, user))
            .map(|(_, permission)| *permission)
            .max()
    }

    fn existing_scope_mut(&mut self, name: &str) -> Result<&mut Scope, ApiError> {
        self.state
            .scope_mut(name)
            .ok_or_else(|| missing_scope(name))
    }
}

fn scope_json(scope: &Scope) -> Value {
    let mut value = json!({ "name": scope.name, "backend_type": scope.backend_type() });
    if let Some(keyvault) = &scope.keyvault {
        value["keyvault_metadata"] =
            json!({ "resource_id": keyvault.resource_id, "dns_name": keyvault.dns_name });
    }
    value
}

/// `{"KEY": [...]}`, or `{}` when empty, as the real service answers.
fn list_answer(key: &str, items: Vec<Value>) -> Value {
    if items.is_empty() {
        json!({})
    } else {
        json!({ key: items })
    }
}

fn keyvault_backend(fields: &Fields) -> Result<Option<KeyVaultMetadata>, ApiError> {
    match fields.optional_str("scope_backend_type")? {
        None | Some("DATABRICKS") => Ok(None),
        Some("AZURE_KEYVAULT") => {
            let backend = fields.optional_object("backend_azure_keyvault")?.ok_or_else(|| {
                ApiError::malformed(
                    "Missing required field: backend_azure_keyvault (with resource_id and dns_name)",
                )
            })?;
            let resource_id = backend.required_str("resource_id")?;
            let dns_name = backend.required_str("dns_name")?;
            if resource_id.is_empty() || dns_name.is_empty() {
                return Err(ApiError::invalid(
                    "backend_azure_keyvault needs a non-empty resource_id and dns_name",
                ));
            }
            Ok(Some(KeyVaultMetadata {
                resource_id: resource_id.to_string(),
                dns_name: dns_name.to_string(),
            }))
        }
        Some(other) => Err(ApiError::invalid(format!(
            "Invalid scope_backend_type {other}: use DATABRICKS or AZURE_KEYVAULT"
        ))),
    }
}

/// The raw bytes of exactly one of `string_value` / `bytes_value`.
fn secret_value(fields: &Fields) -> Result<Vec<u8>, ApiError> {
    let value = match (
        fields.optional_str("string_value")?,
        fields.optional_str("bytes_value")?,
    ) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(encoded)) => BASE64.decode(encoded).map_err(|error| {
            ApiError::invalid(format!("bytes_value is not valid base64: {error}"))
        })?,
        _ => {
            return Err(ApiError::malformed(
                "Exactly one of string_value or bytes_value must be specified",
            ));
        }
    };
    if value.len() > MAX_VALUE_BYTES {
        return Err(ApiError::invalid(format!(
            "The secret value is {} bytes; the maximum is {MAX_VALUE_BYTES} bytes",
            value.len()
        )));
    }
    Ok(value)
}

fn validate_scope_name(name: &str) -> Result<(), ApiError> {
    validate_name(name, "@").map_err(|()| {
        ApiError::invalid(format!(
            "Invalid scope name {name:?}: use 1-128 letters, digits, '-', '_', '.' or '@'"
        ))
    })
}

fn validate_key_name(name: &str) -> Result<(), ApiError> {
    validate_name(name, "").map_err(|()| {
        ApiError::invalid(format!(
            "Invalid key name {name:?}: use 1-128 letters, digits, '-', '_' or '.'"
        ))
    })
}

fn validate_name(name: &str, extra_chars: &str) -> Result<(), ()> {
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') || extra_chars.contains(c)
    };
    let length = name.chars().count();
    if (1..=MAX_NAME_CHARS).contains(&length) && name.chars().all(allowed) {
        Ok(())
    } else {
        Err(())
    }
}

fn missing_scope(name: &str) -> ApiError {
    ApiError::not_found(format!("Scope {name} does not exist!"))
}

fn missing_secret(scope: &str, key: &str) -> ApiError {
    ApiError::not_found(format!("Secret {key} does not exist in scope {scope}!"))
}

fn missing_acl(scope: &str, principal: &str) -> ApiError {
    ApiError::not_found(format!(
        "No ACL for principal {principal} in scope {scope}!"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_documented_charset_and_length() {
        assert!(validate_scope_name("a-b_c.d@e1").is_ok());
        assert!(validate_scope_name(&"s".repeat(128)).is_ok());
        for bad in ["", "with space", "slash/", "ünï", &"s".repeat(129)] {
            assert!(validate_scope_name(bad).is_err(), "{bad}");
        }
        assert!(validate_key_name("KEY-1_.x").is_ok());
        assert!(validate_key_name("at@sign").is_err());
    }

    #[test]
    fn routes_cover_the_eleven_endpoints() {
        let paths = [
            "scopes/create",
            "scopes/delete",
            "scopes/list",
            "put",
            "delete",
            "list",
            "get",
            "acls/put",
            "acls/delete",
            "acls/get",
            "acls/list",
        ];
        for path in paths {
            assert!(
                Endpoint::from_path(&format!("/api/2.0/secrets/{path}")).is_some(),
                "{path}"
            );
        }
        assert_eq!(Endpoint::from_path("/api/2.0/secrets/nope"), None);
        assert_eq!(Endpoint::from_path("/api/2.0/secrets/list/"), None);
    }
}
