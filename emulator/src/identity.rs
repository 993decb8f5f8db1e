//! The identity provider's state: service principals, federation policies, managed identities,
//! and the access tokens, refresh tokens and authorization codes it has issued.

use crate::config::{Config, Directory};
use crate::error::{ApiError, Error, OAuthError};
use crate::jwt::{self, Claims};
use crate::workspace::Caller;
use crate::{lock, random_token};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The public OAuth client of the Databricks CLI and SDKs (no secret, PKCE required).
pub const DATABRICKS_CLI_CLIENT_ID: &str = "databricks-cli";
/// Lifetime of issued access tokens unless configured (`--token-ttl`).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// The Entra ID tenant of the emulated Azure workspace unless configured.
pub const DEFAULT_AZURE_TENANT_ID: &str = "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4";
/// How long an authorization code may wait for its exchange.
const CODE_TTL: Duration = Duration::from_secs(600);

/// The cloud a workspace reports in `/.well-known/databricks-config`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cloud {
    #[default]
    Aws,
    Azure,
    Gcp,
}

impl Cloud {
    /// The spelling of `databricks-config`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "AWS",
            Cloud::Azure => "Azure",
            Cloud::Gcp => "GCP",
        }
    }
}

impl FromStr for Cloud {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "aws" => Ok(Cloud::Aws),
            "azure" => Ok(Cloud::Azure),
            "gcp" => Ok(Cloud::Gcp),
            _ => Err(format!("unknown cloud {text:?}: use aws, azure or gcp")),
        }
    }
}

/// Which ID tokens a service principal may exchange for a Databricks token: a JWT whose `iss`
/// and `sub` are these, whose `aud` includes `audience` (default: the workspace's token
/// endpoint URL, what the SDKs send), and which has not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationPolicy {
    pub client_id: String,
    pub issuer: String,
    pub subject: String,
    pub audience: Option<String>,
}

/// `CLIENT_ID=ISSUER,SUBJECT[,AUDIENCE]`.
impl FromStr for FederationPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || {
            "expected CLIENT_ID=ISSUER,SUBJECT[,AUDIENCE], e.g. \
             ci-sp=https://token.actions.githubusercontent.com,repo:org/repo:ref:refs/heads/main"
                .to_string()
        };
        let (client_id, claims) = text.split_once('=').ok_or_else(usage)?;
        let client_id = client_id.trim();
        let parts: Vec<&str> = claims.split(',').map(str::trim).collect();
        let (issuer, subject, audience) = match parts[..] {
            [issuer, subject] => (issuer, subject, None),
            [issuer, subject, audience] => (issuer, subject, Some(audience)),
            _ => return Err(usage()),
        };
        if [client_id, issuer, subject]
            .iter()
            .any(|part| part.is_empty())
        {
            return Err(usage());
        }
        Ok(FederationPolicy {
            client_id: client_id.to_string(),
            issuer: issuer.to_string(),
            subject: subject.to_string(),
            audience: audience.filter(|a| !a.is_empty()).map(String::from),
        })
    }
}

impl fmt::Display for FederationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={},{}", self.client_id, self.issuer, self.subject)?;
        match &self.audience {
            Some(audience) => write!(f, ",{audience}"),
            None => Ok(()),
        }
    }
}

/// How a caller authenticated; decides e.g. who may create a Key Vault-backed scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// A configured token; a JWT-shaped one stands for an Entra ID user token.
    Configured { jwt_shaped: bool },
    /// An access token from the workspace's OAuth token endpoint.
    OAuth,
    /// A token from the emulated Entra ID, of a user or of an application.
    EntraId { user: bool },
}

impl Credential {
    /// Whether the credential is an Entra ID token of a user (not of an application).
    pub fn is_entra_user_token(&self) -> bool {
        matches!(
            self,
            Credential::Configured { jwt_shaped: true } | Credential::EntraId { user: true }
        )
    }
}

/// An access token the emulator issued.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub principal: String,
    pub credential: Credential,
    /// Whether the token is meant for the workspace (an Entra ID token for another resource,
    /// e.g. the service management API, is not).
    pub workspace_audience: bool,
    pub expires_at: SystemTime,
}

/// What a refresh token may be exchanged for.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub principal: String,
    pub client_id: String,
    pub scope: String,
}

/// What an authorization code may be exchanged for, and the checks of the exchange.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub principal: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub expires_at: SystemTime,
}

#[derive(Debug, Default)]
struct Grants {
    access_tokens: HashMap<String, IssuedToken>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    codes: HashMap<String, CodeGrant>,
}

/// The identity provider: principals from the configuration, grants issued since the start.
#[derive(Debug)]
pub(crate) struct IdentityProvider {
    /// Client id → secret; `None` for a principal that only federates.
    service_principals: BTreeMap<String, Option<String>>,
    federation_policies: Vec<FederationPolicy>,
    azure_service_principals: BTreeMap<String, String>,
    managed_identities: Vec<String>,
    pub login_as: Option<String>,
    pub token_ttl: Duration,
    pub cloud: Cloud,
    pub tenant_id: String,
    grants: Mutex<Grants>,
}

impl IdentityProvider {
    pub fn new(config: &Config, directory: &Directory) -> Result<IdentityProvider, Error> {
        let mut service_principals = BTreeMap::new();
        for (client_id, secret) in &config.service_principals {
            require_pair("--service-principal", client_id, secret)?;
            service_principals.insert(client_id.clone(), Some(secret.clone()));
        }
        for policy in &config.federation_policies {
            service_principals
                .entry(policy.client_id.clone())
                .or_insert(None);
        }
        let mut azure_service_principals = BTreeMap::new();
        for (client_id, secret) in &config.azure_service_principals {
            require_pair("--azure-service-principal", client_id, secret)?;
            azure_service_principals.insert(client_id.clone(), secret.clone());
        }
        let principals = service_principals
            .keys()
            .chain(azure_service_principals.keys())
            .chain(&config.managed_identities);
        check_names(principals, config.login_as.as_deref(), directory)?;
        if config.token_ttl.is_zero() {
            return Err(Error::Config(
                "the token lifetime must be at least 1 second".into(),
            ));
        }
        Ok(IdentityProvider {
            service_principals,
            federation_policies: config.federation_policies.clone(),
            azure_service_principals,
            managed_identities: config.managed_identities.clone(),
            login_as: config.login_as.clone(),
            token_ttl: config.token_ttl,
            cloud: config.cloud,
            tenant_id: config.azure_tenant_id.clone(),
            grants: Mutex::default(),
        })
    }

    /// Whether `name` is a service principal (Databricks, Entra ID or managed identity).
    pub fn is_service_principal(&self, name: &str) -> bool {
        self.service_principals.contains_key(name)
            || self.azure_service_principals.contains_key(name)
            || self.managed_identities.iter().any(|id| id == name)
    }

    /// Checks a Databricks service principal's client credentials.
    pub fn check_client_secret(&self, client_id: &str, secret: &str) -> Result<(), OAuthError> {
        match self.service_principals.get(client_id) {
            Some(Some(expected)) if expected == secret => Ok(()),
            _ => Err(OAuthError::invalid_client("Client authentication failed")),
        }
    }

    /// Checks an Entra ID application's client credentials: `None` for an unknown client.
    pub fn check_azure_client_secret(&self, client_id: &str, secret: &str) -> Option<bool> {
        self.azure_service_principals
            .get(client_id)
            .map(|expected| expected == secret)
    }

    /// The managed identity `client_id` names, or the default one.
    pub fn managed_identity(&self, client_id: Option<&str>) -> Option<&str> {
        match client_id {
            Some(wanted) => self
                .managed_identities
                .iter()
                .find(|id| *id == wanted)
                .map(String::as_str),
            None => self.managed_identities.first().map(String::as_str),
        }
    }

    /// The service principal whose federation policy accepts the ID token's claims.
    pub fn federated_principal(
        &self,
        client_id: Option<&str>,
        claims: &Claims,
        default_audience: &str,
    ) -> Result<String, OAuthError> {
        let expires_at = claims.get("exp").and_then(serde_json::Value::as_f64);
        match expires_at {
            None => {
                return Err(OAuthError::invalid_grant(
                    "The subject token has no exp claim",
                ));
            }
            Some(exp) if exp <= unix_seconds(SystemTime::now()) as f64 => {
                return Err(OAuthError::invalid_grant("The subject token has expired"));
            }
            Some(_) => {}
        }
        let candidates: Vec<&FederationPolicy> = self
            .federation_policies
            .iter()
            .filter(|policy| client_id.is_none_or(|id| id == policy.client_id))
            .collect();
        if let Some(id) = client_id.filter(|_| candidates.is_empty()) {
            return Err(OAuthError::invalid_client(format!(
                "Service principal {id} has no federation policy"
            )));
        }
        let issuer = jwt::string_claim(claims, "iss").unwrap_or_default();
        let subject = jwt::string_claim(claims, "sub").unwrap_or_default();
        let audiences = jwt::audiences(claims);
        let accepted = candidates.iter().find(|policy| {
            let audience = policy.audience.as_deref().unwrap_or(default_audience);
            policy.issuer == issuer && policy.subject == subject && audiences.contains(&audience)
        });
        match accepted {
            Some(policy) => Ok(policy.client_id.clone()),
            None => Err(OAuthError::invalid_grant(format!(
                "No federation policy{} accepts a token with issuer {issuer:?}, subject \
                 {subject:?} and audience {audiences:?}",
                client_id.map_or(String::new(), |id| format!(" of {id}"))
            ))),
        }
    }

    /// Issues a JWT access token with `claims` (plus `iat`, `nbf` and `exp`), valid for the
    /// TTL; returns it and its expiry in seconds since the Unix epoch.
    pub fn issue_access_token(
        &self,
        mut claims: Claims,
        principal: &str,
        credential: Credential,
        workspace_audience: bool,
    ) -> (String, u64) {
        let now = SystemTime::now();
        let expires_at = now + self.token_ttl;
        claims.insert("iat".into(), unix_seconds(now).into());
        claims.insert("nbf".into(), unix_seconds(now).into());
        claims.insert("exp".into(), unix_seconds(expires_at).into());
        let token = jwt::encode(&claims);
        let issued = IssuedToken {
            principal: principal.to_string(),
            credential,
            workspace_audience,
            expires_at,
        };
        lock(&self.grants)
            .access_tokens
            .insert(token.clone(), issued);
        (token, unix_seconds(expires_at))
    }

    pub fn issue_refresh_token(&self, grant: RefreshGrant) -> String {
        let token = random_token("doau-emulator-");
        lock(&self.grants)
            .refresh_tokens
            .insert(token.clone(), grant);
        token
    }

    /// Takes a refresh token issued to `client_id`: each is used once (rotation).
    pub fn take_refresh_token(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<RefreshGrant, OAuthError> {
        let invalid = || OAuthError::invalid_grant("Refresh token is invalid");
        let mut grants = lock(&self.grants);
        let grant = grants.refresh_tokens.get(token).ok_or_else(invalid)?;
        if grant.client_id != client_id {
            return Err(invalid());
        }
        grants.refresh_tokens.remove(token).ok_or_else(invalid)
    }

    pub fn issue_code(&self, mut grant: CodeGrant) -> String {
        grant.expires_at = SystemTime::now() + CODE_TTL;
        let code = random_token("dcode-");
        lock(&self.grants).codes.insert(code.clone(), grant);
        code
    }

    /// Takes an authorization code: each is used once, within its lifetime.
    pub fn take_code(&self, code: &str) -> Result<CodeGrant, OAuthError> {
        let grant = lock(&self.grants).codes.remove(code).ok_or_else(|| {
            OAuthError::invalid_grant("The authorization code is invalid or was already used")
        })?;
        if grant.expires_at <= SystemTime::now() {
            return Err(OAuthError::invalid_grant(
                "The authorization code has expired",
            ));
        }
        Ok(grant)
    }

    /// The caller behind an issued token: `None` when the emulator never issued it.
    pub fn authenticate(&self, token: &str) -> Option<Result<Caller, ApiError>> {
        let grants = lock(&self.grants);
        let issued = grants.access_tokens.get(token)?;
        let entra = matches!(issued.credential, Credential::EntraId { .. });
        if !issued.workspace_audience || (entra && self.cloud != Cloud::Azure) {
            return Some(Err(ApiError::unauthenticated("Invalid access token.")));
        }
        if issued.expires_at <= SystemTime::now() {
            return Some(Err(ApiError::unauthenticated("Token is expired.")));
        }
        Some(Ok(Caller {
            user: issued.principal.clone(),
            credential: issued.credential.clone(),
        }))
    }

    /// Revokes every issued access and refresh token (of `principal` only, if given); returns
    /// how many were revoked.
    pub fn revoke(&self, principal: Option<&str>) -> usize {
        let mut grants = lock(&self.grants);
        let kept = |owner: &str| principal.is_some_and(|wanted| wanted != owner);
        let before = grants.access_tokens.len() + grants.refresh_tokens.len();
        grants
            .access_tokens
            .retain(|_, issued| kept(&issued.principal));
        grants
            .refresh_tokens
            .retain(|_, grant| kept(&grant.principal));
        grants.codes.retain(|_, grant| kept(&grant.principal));
        before - grants.access_tokens.len() - grants.refresh_tokens.len()
    }
}

fn require_pair(option: &str, name: &str, secret: &str) -> Result<(), Error> {
    if name.is_empty() || secret.is_empty() {
        return Err(Error::Config(format!(
            "a service principal needs a non-empty client id and secret ({option} CLIENT_ID=SECRET)"
        )));
    }
    Ok(())
}

/// Service principals and users must not share names (ACLs name both); `--login-as` names a
/// configured user.
fn check_names<'a>(
    principals: impl Iterator<Item = &'a String>,
    login_as: Option<&str>,
    directory: &Directory,
) -> Result<(), Error> {
    for principal in principals {
        if directory.has_user(principal) {
            return Err(Error::Config(format!(
                "{principal} is both a user and a service principal; give them different names"
            )));
        }
    }
    match login_as {
        Some(user) if !directory.has_user(user) => {
            let known: Vec<&str> = directory.users().into_iter().collect();
            Err(Error::Config(format!(
                "--login-as {user}: no such user; choose one of {} or add it with --user",
                known.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn federation_policies_parse() {
        let policy: FederationPolicy = "sp=https://issuer.example,repo:o/r:ref:refs/heads/main"
            .parse()
            .unwrap();
        assert_eq!(policy.client_id, "sp");
        assert_eq!(policy.issuer, "https://issuer.example");
        assert_eq!(policy.subject, "repo:o/r:ref:refs/heads/main");
        assert_eq!(policy.audience, None);
        let with_audience: FederationPolicy =
            "sp=iss,sub,api://AzureADTokenExchange".parse().unwrap();
        assert_eq!(
            with_audience.audience.as_deref(),
            Some("api://AzureADTokenExchange")
        );
        assert_eq!(
            with_audience.to_string(),
            "sp=iss,sub,api://AzureADTokenExchange"
        );
        for bad in ["sp", "=iss,sub", "sp=iss", "sp=,sub", "sp=a,b,c,d"] {
            assert!(bad.parse::<FederationPolicy>().is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz_config())]

        #[test]
        fn fuzz_federation_policy(text in "[a-z=,:/. -]{0,40}") {
            if let Ok(policy) = text.parse::<FederationPolicy>() {
                proptest::prop_assert!(!policy.client_id.is_empty() && !policy.issuer.is_empty());
                proptest::prop_assert_eq!(policy.to_string().parse::<FederationPolicy>(), Ok(policy));
            }
        }
    }

    #[test]
    fn clouds_parse_in_any_case() {
        assert_eq!("Azure".parse::<Cloud>(), Ok(Cloud::Azure));
        assert_eq!("aws".parse::<Cloud>().unwrap().as_str(), "AWS");
        assert!("moon".parse::<Cloud>().is_err());
    }

    fn provider(config: Config) -> IdentityProvider {
        let directory = config.directory().unwrap();
        IdentityProvider::new(&config, &directory).unwrap()
    }

    #[test]
    fn federation_checks_issuer_subject_audience_and_expiry() {
        let policy: FederationPolicy = "sp=https://iss,me".parse().unwrap();
        let provider = provider(Config::default().with_federation_policy(policy));
        let exp = unix_seconds(SystemTime::now()) + 60;
        let claims = |iss: &str, sub: &str, aud: &str, exp: u64| -> Claims {
            let value = json!({ "iss": iss, "sub": sub, "aud": aud, "exp": exp });
            value.as_object().unwrap().clone()
        };
        let good = claims("https://iss", "me", "http://h/oidc/v1/token", exp);
        let endpoint = "http://h/oidc/v1/token";
        assert_eq!(
            provider.federated_principal(Some("sp"), &good, endpoint),
            Ok("sp".into())
        );
        assert_eq!(
            provider.federated_principal(None, &good, endpoint),
            Ok("sp".into())
        );
        let unknown = provider.federated_principal(Some("other"), &good, endpoint);
        assert_eq!(unknown.unwrap_err().error, "invalid_client");
        for bad in [
            claims("https://other", "me", endpoint, exp),
            claims("https://iss", "you", endpoint, exp),
            claims("https://iss", "me", "https://elsewhere", exp),
            claims("https://iss", "me", endpoint, exp - 120),
        ] {
            let error = provider
                .federated_principal(Some("sp"), &bad, endpoint)
                .unwrap_err();
            assert_eq!(error.error, "invalid_grant", "{bad:?}");
        }
    }

    #[test]
    fn refresh_tokens_and_codes_are_single_use() {
        let provider = provider(Config::default());
        let refresh = provider.issue_refresh_token(RefreshGrant {
            principal: "u".into(),
            client_id: DATABRICKS_CLI_CLIENT_ID.into(),
            scope: "all-apis offline_access".into(),
        });
        assert!(provider.take_refresh_token(&refresh, "other").is_err());
        assert!(
            provider
                .take_refresh_token(&refresh, DATABRICKS_CLI_CLIENT_ID)
                .is_ok()
        );
        let reused = provider.take_refresh_token(&refresh, DATABRICKS_CLI_CLIENT_ID);
        assert_eq!(reused.unwrap_err().description, "Refresh token is invalid");

        let code = provider.issue_code(CodeGrant {
            principal: "u".into(),
            client_id: DATABRICKS_CLI_CLIENT_ID.into(),
            redirect_uri: "http://localhost:8020".into(),
            code_challenge: "c".into(),
            scope: "all-apis".into(),
            expires_at: SystemTime::now(),
        });
        assert!(provider.take_code(&code).is_ok());
        assert_eq!(
            provider.take_code(&code).unwrap_err().error,
            "invalid_grant"
        );
    }

    #[test]
    fn a_principal_cannot_be_both_user_and_service_principal() {
        let config = Config::default()
            .with_user("x", "t")
            .with_service_principal("x", "s");
        let directory = config.directory().unwrap();
        assert!(IdentityProvider::new(&config, &directory).is_err());
        let config = Config::default().with_login_as("nobody@example.com");
        let directory = config.directory().unwrap();
        let error = IdentityProvider::new(&config, &directory).unwrap_err();
        assert!(error.to_string().contains("admin@example.com"), "{error}");
    }
}
