//! `GET /api/2.0/preview/scim/v2/Me`: who the caller is, as a SCIM user or service principal.

use crate::error::ApiError;
use crate::server::{Received, Shared, require_method};
use crate::sha256;
use hyper::Method;
use serde_json::{Value, json};

pub(crate) const ME_PATH: &str = "/api/2.0/preview/scim/v2/Me";

pub(crate) fn me(shared: &Shared, request: &Received) -> Result<Value, ApiError> {
    require_method(request, &Method::GET)?;
    let caller = request.caller.clone()?;
    let name = caller.user.as_str();
    let groups: Vec<Value> = shared
        .directory
        .groups_of(name)
        .into_iter()
        .map(|group| json!({ "display": group, "value": scim_id(group), "type": "direct" }))
        .collect();
    if shared.identity.is_service_principal(name) {
        return Ok(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"],
            "id": scim_id(name),
            "applicationId": name,
            "userName": name,
            "displayName": name,
            "active": true,
            "groups": groups,
        }));
    }
    Ok(json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:workspace:2.0:User",
        ],
        "id": scim_id(name),
        "userName": name,
        "displayName": name.split('@').next().unwrap_or(name),
        "active": true,
        "emails": [{ "type": "work", "value": name, "primary": true }],
        "groups": groups,
    }))
}

/// A stable 16-digit id derived from the name, like the workspace's numeric SCIM ids.
fn scim_id(name: &str) -> String {
    let digest = sha256(name);
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&digest[..8]);
    let number = u64::from_be_bytes(prefix) % 9_000_000_000_000_000 + 1_000_000_000_000_000;
    number.to_string()
}
