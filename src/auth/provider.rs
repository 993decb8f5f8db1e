//! The headers of a method that uses tokens: `Authorization` from the workspace token, and for
//! Azure the management token header and the workspace resource id.

use std::fmt;

use super::cache::CachedToken;
use super::error::AuthError;
use crate::secret::Secret;

/// The header carrying a service principal's Azure service management token, which lets
/// Azure Databricks add a service principal that is not yet a workspace user.
pub const MANAGEMENT_TOKEN_HEADER: &str = "X-Databricks-Azure-SP-Management-Token";
pub const RESOURCE_ID_HEADER: &str = "X-Databricks-Azure-Workspace-Resource-Id";

/// How the management token is obtained.
#[derive(Debug)]
pub struct ManagementToken {
    pub token: CachedToken,
    /// `azure-cli`: a user's token needs no management header, so it is fetched (one more
    /// `az` call) only for a service principal's, and a failure just omits the header.
    pub only_for_applications: bool,
}

pub struct TokenProvider {
    method: &'static str,
    workspace: CachedToken,
    management: Option<ManagementToken>,
    resource_id: Option<String>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("method", &self.method)
            .field("workspace", &self.workspace)
            .field("management", &self.management)
            .field("resource_id", &self.resource_id)
            .finish()
    }
}

impl TokenProvider {
    pub fn new(method: &'static str, workspace: CachedToken) -> TokenProvider {
        TokenProvider {
            method,
            workspace,
            management: None,
            resource_id: None,
        }
    }

    pub fn with_management(mut self, management: ManagementToken) -> TokenProvider {
        self.management = Some(management);
        self
    }

    pub fn with_resource_id(mut self, resource_id: Option<String>) -> TokenProvider {
        self.resource_id = resource_id;
        self
    }

    /// The headers of the next request.
    pub async fn headers(&self) -> Result<Vec<(&'static str, Secret)>, AuthError> {
        let token = self.workspace.token().await?;
        let mut headers = vec![("Authorization", token.authorization())];
        if let Some(management) = &self.management {
            let wanted = !management.only_for_applications || is_application_token(&token);
            if wanted {
                match management.token.token().await {
                    Ok(token) => {
                        headers.push((MANAGEMENT_TOKEN_HEADER, token.access_token.clone()))
                    }
                    Err(_) if management.only_for_applications => {}
                    Err(error) => return Err(error),
                }
            }
        }
        if let Some(resource_id) = &self.resource_id {
            headers.push((RESOURCE_ID_HEADER, Secret::new(resource_id.clone())));
        }
        Ok(headers)
    }

    /// The server refused headers that carried `refused` (401): those of the tokens that are
    /// still current are fetched anew next time.
    pub fn reject(&self, refused: &[Secret]) {
        self.workspace.reject(refused);
        if let Some(management) = &self.management {
            management.token.reject(refused);
        }
    }
}

/// Whether an Entra ID token is an application's (`idtyp: app`, or no user claims), read
/// from its claims without verification.
fn is_application_token(token: &super::token::Token) -> bool {
    let claims = super::federation::jwt_claims(token.access_token.expose());
    match claims {
        Some(claims) => {
            claims.get("idtyp").and_then(|v| v.as_str()) == Some("app")
                || (claims.get("upn").is_none() && claims.get("unique_name").is_none())
        }
        None => false,
    }
}
