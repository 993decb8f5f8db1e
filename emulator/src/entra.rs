//! Entra ID (Azure AD) emulation for an Azure workspace: tenant discovery (`/aad/auth`), the v1
//! token endpoint (`/TENANT/oauth2/token`, client credentials), the App Service managed-identity
//! endpoint (`/msi/token`), and the JWT-shaped tokens they issue, whose claims tell a service
//! principal (`idtyp: app`) from a user (`idtyp: user`, `upn`).

use crate::error::OAuthError;
use crate::identity::{Cloud, Credential, IdentityProvider};
use crate::jwt::Claims;
use crate::oauth::{Params, client, form_params};
use crate::server::{
    Answer, Received, Shared, error_answer, json_answer, redirect_answer, require_method,
    token_answer,
};
use crate::{random_bytes, sha256};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

/// The application id of Azure Databricks: the resource of workspace tokens.
pub const AZURE_DATABRICKS_LOGIN_APP_ID: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";
/// The Azure service management resource (the `X-Databricks-Azure-SP-Management-Token`).
pub const AZURE_SERVICE_MANAGEMENT_RESOURCE: &str = "https://management.core.windows.net/";
const AZURE_RESOURCE_MANAGER: &str = "https://management.azure.com/";
/// The Azure CLI's application id, the `appid` of user tokens (as `az login` gets them).
const AZURE_CLI_APP_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// The `X-IDENTITY-HEADER` the managed-identity endpoint expects (`IDENTITY_HEADER`).
pub const IDENTITY_HEADER_VALUE: &str = "emulator-identity-header";
const AAD_AUTH_PATH: &str = "/aad/auth";
const MANAGED_IDENTITY_PATH: &str = "/msi/token";
const MANAGED_IDENTITY_API_VERSION: &str = "2019-08-01";

/// Answers the Entra ID paths; `None` for any other path (and for `/aad/auth` outside Azure).
pub(crate) fn route(shared: &Shared, request: &Received) -> Option<Answer> {
    let identity = &shared.identity;
    let path = request.path.as_str();
    let answer = if path == AAD_AUTH_PATH {
        if identity.cloud != Cloud::Azure {
            return None;
        }
        match require_method(request, &Method::GET) {
            Ok(()) => tenant_redirect(identity, request),
            Err(error) => error_answer(&error),
        }
    } else if path
        .trim_end_matches('/')
        .eq_ignore_ascii_case(MANAGED_IDENTITY_PATH)
    {
        match require_method(request, &Method::GET) {
            Ok(()) => managed_identity(identity, request),
            Err(error) => error_answer(&error),
        }
    } else {
        let tenant = token_path_tenant(path)?;
        match require_method(request, &Method::POST) {
            Ok(()) => match client_credentials(identity, tenant, request) {
                Ok(value) => token_answer(&value),
                Err(error) => error.answer(),
            },
            Err(error) => error_answer(&error),
        }
    };
    Some(answer)
}

/// `TENANT` of `/TENANT/oauth2/token`.
fn token_path_tenant(path: &str) -> Option<&str> {
    let (tenant, rest) = path.strip_prefix('/')?.split_once('/')?;
    (rest == "oauth2/token" && !tenant.is_empty()).then_some(tenant)
}

/// What an Azure Databricks workspace answers: a redirect to its tenant's authorize endpoint.
fn tenant_redirect(identity: &IdentityProvider, request: &Received) -> Answer {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", AZURE_DATABRICKS_LOGIN_APP_ID)
        .append_pair(
            "redirect_uri",
            &format!("{}/aad/redirect", request.base_url),
        )
        .append_pair("response_type", "code")
        .finish();
    redirect_answer(&format!(
        "{}/{}/oauth2/authorize?{query}",
        request.base_url, identity.tenant_id
    ))
}

/// An error of Entra ID: `{"error", "error_description": "AADSTS…", "error_codes", …}`.
struct EntraError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    message: String,
}

impl EntraError {
    fn new(status: StatusCode, error: &'static str, code: u32, message: String) -> Self {
        EntraError {
            status,
            error,
            code,
            message,
        }
    }

    fn answer(&self) -> Answer {
        let trace_id = uuid(&random_bytes::<16>());
        let correlation_id = uuid(&random_bytes::<16>());
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        json_answer(self.status, &body)
    }
}

impl From<OAuthError> for EntraError {
    fn from(error: OAuthError) -> Self {
        EntraError::new(error.status, error.error, 900144, error.description)
    }
}

fn client_credentials(
    identity: &IdentityProvider,
    tenant: &str,
    request: &Received,
) -> Result<Value, EntraError> {
    if !tenant.eq_ignore_ascii_case(&identity.tenant_id) {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    }
    let params = form_params(request)?;
    let grant_type = params.require("grant_type")?;
    if grant_type != "client_credentials" {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!(
                "The app requested an unsupported grant type '{grant_type}'. The emulator supports client_credentials."
            ),
        ));
    }
    if params.get("client_assertion").is_some() {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "Client assertions (federated credentials) are not emulated; use a client secret."
                .into(),
        ));
    }
    let client = client(request, &params)?.ok_or_else(|| {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.".into(),
        )
    })?;
    let secret = client.secret.as_deref().unwrap_or_default();
    match identity.check_azure_client_secret(&client.id, secret) {
        Some(true) => {}
        Some(false) => {
            return Err(EntraError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.".into(),
            ));
        }
        None => {
            return Err(EntraError::new(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{}' was not found in the directory '{}'.",
                    client.id, identity.tenant_id
                ),
            ));
        }
    }
    let resource = known_resource(identity, &params)?;
    let subject = EntraSubject::Application(&client.id);
    Ok(issue(identity, &subject, resource))
}

/// The `resource` parameter, if it is one the emulated tenant knows.
fn known_resource<'a>(
    identity: &IdentityProvider,
    params: &'a Params,
) -> Result<&'a str, EntraError> {
    let resource = params.require("resource")?;
    let known = [
        AZURE_DATABRICKS_LOGIN_APP_ID,
        AZURE_SERVICE_MANAGEMENT_RESOURCE,
        AZURE_RESOURCE_MANAGER,
    ];
    if known.contains(&resource) {
        return Ok(resource);
    }
    Err(EntraError::new(
        StatusCode::BAD_REQUEST,
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {}.",
            identity.tenant_id
        ),
    ))
}

/// The App Service convention (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, api-version 2019-08-01).
fn managed_identity(identity: &IdentityProvider, request: &Received) -> Answer {
    let header = request.header("x-identity-header");
    if header != Some(IDENTITY_HEADER_VALUE) {
        let error = OAuthError::invalid_client(
            "X-IDENTITY-HEADER is missing or wrong: send the value of IDENTITY_HEADER",
        );
        return json_answer(error.status, &error.body());
    }
    let params = Params::from_query(&request.query);
    let result = (|| {
        let version = params.require("api-version")?;
        if version != MANAGED_IDENTITY_API_VERSION {
            return Err(OAuthError::invalid_request(format!(
                "Unsupported api-version {version}: use {MANAGED_IDENTITY_API_VERSION}"
            )));
        }
        let resource = known_resource(identity, &params).map_err(|error| {
            OAuthError::invalid_request(format!("AADSTS{}: {}", error.code, error.message))
        })?;
        let requested = params.get("client_id");
        let client_id = identity.managed_identity(requested).ok_or_else(|| {
            OAuthError::invalid_request(match requested {
                Some(id) => format!("No managed identity with client id {id} is assigned"),
                None => "No managed identity is assigned (start the emulator with --azure-managed-identity CLIENT_ID)".into(),
            })
        })?;
        let token = issue(identity, &EntraSubject::Application(client_id), resource);
        Ok(json!({
            "access_token": token["access_token"],
            "expires_on": token["expires_on"],
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }))
    })();
    match result {
        Ok(value) => token_answer(&value),
        Err(error) => json_answer(error.status, &error.body()),
    }
}

/// Who an Entra ID token is for.
pub(crate) enum EntraSubject<'a> {
    /// A service principal or managed identity, by client id.
    Application(&'a str),
    /// A user, by user principal name.
    User(&'a str),
}

/// A v1 token answer (numbers as strings, as Entra ID v1 sends them).
pub(crate) fn issue(identity: &IdentityProvider, subject: &EntraSubject, resource: &str) -> Value {
    let tenant = &identity.tenant_id;
    let issuer = format!("https://sts.windows.net/{tenant}/");
    let (principal, user) = match subject {
        EntraSubject::Application(client_id) => (*client_id, false),
        EntraSubject::User(upn) => (*upn, true),
    };
    let object_id = uuid(&sha256(principal));
    let mut claims = json!({
        "aud": resource, "iss": issuer, "idp": issuer, "tid": tenant, "ver": "1.0",
        "oid": object_id, "sub": object_id,
    });
    let specific = match subject {
        EntraSubject::Application(client_id) => json!({
            "appid": client_id, "appidacr": "1", "idtyp": "app",
        }),
        EntraSubject::User(upn) => json!({
            "appid": AZURE_CLI_APP_ID, "appidacr": "0", "idtyp": "user", "upn": upn,
            "unique_name": upn, "name": upn.split('@').next().unwrap_or(upn),
            "scp": "user_impersonation", "amr": ["pwd"],
        }),
    };
    if let (Some(claims), Value::Object(specific)) = (claims.as_object_mut(), specific) {
        claims.extend(specific);
    }
    let claims: Claims = claims.as_object().cloned().unwrap_or_default();
    let workspace = resource == AZURE_DATABRICKS_LOGIN_APP_ID;
    let credential = Credential::EntraId { user };
    let (token, expires_on) = identity.issue_access_token(claims, principal, credential, workspace);
    let lifetime = identity.token_ttl.as_secs().to_string();
    json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "expires_on": expires_on.to_string(),
        "not_before": expires_on.saturating_sub(identity.token_ttl.as_secs()).to_string(),
        "resource": resource,
        "access_token": token,
    })
}

/// The first 16 bytes as a UUID (`8-4-4-4-12` hex digits).
fn uuid(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_paths_name_the_tenant() {
        assert_eq!(token_path_tenant("/t-1/oauth2/token"), Some("t-1"));
        assert_eq!(token_path_tenant("/oauth2/token"), None);
        assert_eq!(token_path_tenant("//oauth2/token"), None);
        assert_eq!(token_path_tenant("/t/oauth2/v2.0/token"), None);
        assert_eq!(token_path_tenant("/api/2.0/secrets/list"), None);
    }

    #[test]
    fn uuids_are_formatted() {
        assert_eq!(uuid(&[0xab; 32]), "abababab-abab-abab-abab-abababababab");
    }
}
