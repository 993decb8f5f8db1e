//! What the emulator is started with: who may call it, limits, where state lives.

use crate::error::Error;
use crate::identity::{Cloud, DEFAULT_AZURE_TENANT_ID, DEFAULT_TOKEN_TTL, FederationPolicy};
use crate::pacing::RateLimit;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The built-in workspace admin, always present.
pub const DEFAULT_ADMIN: &str = "admin@example.com";
/// The token of [`DEFAULT_ADMIN`] unless tokens are given with [`Config::with_token`] / `--token`.
pub const DEFAULT_ADMIN_TOKEN: &str = "dapi-emulator-admin-token";
/// The group every user belongs to.
pub const ALL_USERS_GROUP: &str = "users";
/// Members of this group are workspace admins, like in a real workspace.
pub const ADMINS_GROUP: &str = "admins";
/// Default limit on the number of scopes in the workspace.
pub const DEFAULT_MAX_SCOPES: usize = 1000;
/// Default limit on the number of secrets in one scope.
pub const DEFAULT_MAX_SECRETS_PER_SCOPE: usize = 1000;

/// How to start an [`crate::Emulator`]. `Config::default()` listens on `127.0.0.1:0` with the
/// single admin `admin@example.com` (token [`DEFAULT_ADMIN_TOKEN`]) and state in memory.
///
/// ```
/// use databricks_emulator::Config;
/// let config = Config::default()
///     .with_user("alice@example.com", "alice-token")
///     .with_user("bob@example.com", "bob-token")
///     .with_group("readers", ["bob@example.com"])
///     .with_max_scopes(5);
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Tokens of `admin@example.com`; empty means [`DEFAULT_ADMIN_TOKEN`].
    pub admin_tokens: Vec<String>,
    /// `(user name, token)` pairs; a user may have several tokens.
    pub users: Vec<(String, String)>,
    /// Names of users who are workspace admins (besides `admin@example.com`).
    pub admins: Vec<String>,
    /// Group name → member user names. Every user is also in the group `users`.
    pub groups: Vec<(String, Vec<String>)>,
    pub max_scopes: usize,
    pub max_secrets_per_scope: usize,
    /// Where the state is persisted (read at start, rewritten after each change); `None` = memory.
    pub state_path: Option<PathBuf>,
    /// Delay before every answer (except the control API's), like a far-away workspace.
    pub latency: Duration,
    /// A token bucket over the Secrets API; `None` = unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Whether a throttled answer carries `Retry-After` (the real service's does).
    pub retry_after: bool,
    /// OAuth service principals `(client id, secret)`; the client id is their name in ACLs.
    pub service_principals: Vec<(String, String)>,
    /// Workload identity federation policies, for the token exchange grant.
    pub federation_policies: Vec<FederationPolicy>,
    /// Approve every authorization request as this user, without a page.
    pub login_as: Option<String>,
    /// Lifetime of the access tokens the emulator issues.
    pub token_ttl: Duration,
    /// The cloud the workspace reports; Azure also accepts Entra ID tokens and answers
    /// `/aad/auth`.
    pub cloud: Cloud,
    /// The Entra ID tenant of the workspace.
    pub azure_tenant_id: String,
    /// Entra ID applications `(client id, secret)` for the client credentials grant.
    pub azure_service_principals: Vec<(String, String)>,
    /// Client ids of managed identities; the first answers requests naming none.
    pub managed_identities: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_tokens: Vec::new(),
            users: Vec::new(),
            admins: Vec::new(),
            groups: Vec::new(),
            max_scopes: DEFAULT_MAX_SCOPES,
            max_secrets_per_scope: DEFAULT_MAX_SECRETS_PER_SCOPE,
            state_path: None,
            latency: Duration::ZERO,
            rate_limit: None,
            retry_after: true,
            service_principals: Vec::new(),
            federation_policies: Vec::new(),
            login_as: None,
            token_ttl: DEFAULT_TOKEN_TTL,
            cloud: Cloud::default(),
            azure_tenant_id: DEFAULT_AZURE_TENANT_ID.to_string(),
            azure_service_principals: Vec::new(),
            managed_identities: Vec::new(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |pairs: &[(String, String)]| -> Vec<String> {
            pairs.iter().map(|(name, _)| name.clone()).collect()
        };
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field(
                "admin_tokens",
                &format_args!("[{} redacted]", self.admin_tokens.len()),
            )
            .field("users", &names(&self.users))
            .field("admins", &self.admins)
            .field("groups", &self.groups)
            .field("max_scopes", &self.max_scopes)
            .field("max_secrets_per_scope", &self.max_secrets_per_scope)
            .field("state_path", &self.state_path)
            .field("latency", &self.latency)
            .field("rate_limit", &self.rate_limit)
            .field("retry_after", &self.retry_after)
            .field("service_principals", &names(&self.service_principals))
            .field("federation_policies", &self.federation_policies)
            .field("login_as", &self.login_as)
            .field("token_ttl", &self.token_ttl)
            .field("cloud", &self.cloud)
            .field("azure_tenant_id", &self.azure_tenant_id)
            .field(
                "azure_service_principals",
                &names(&self.azure_service_principals),
            )
            .field("managed_identities", &self.managed_identities)
            .finish()
    }
}

impl Config {
    pub fn with_bind(mut self, bind: SocketAddr) -> Self {
        self.bind = bind;
        self
    }

    /// Adds a token of `admin@example.com` (the default token then no longer works).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.admin_tokens.push(token.into());
        self
    }

    /// Adds a (non-admin unless [`Config::with_admin`]) user authenticating with `token`.
    pub fn with_user(mut self, name: impl Into<String>, token: impl Into<String>) -> Self {
        self.users.push((name.into(), token.into()));
        self
    }

    /// Makes the user `name` a workspace admin.
    pub fn with_admin(mut self, name: impl Into<String>) -> Self {
        self.admins.push(name.into());
        self
    }

    pub fn with_group<M: Into<String>>(
        mut self,
        name: impl Into<String>,
        members: impl IntoIterator<Item = M>,
    ) -> Self {
        let members = members.into_iter().map(Into::into).collect();
        self.groups.push((name.into(), members));
        self
    }

    pub fn with_max_scopes(mut self, max_scopes: usize) -> Self {
        self.max_scopes = max_scopes;
        self
    }

    pub fn with_max_secrets_per_scope(mut self, max_secrets: usize) -> Self {
        self.max_secrets_per_scope = max_secrets;
        self
    }

    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_path = Some(path.into());
        self
    }

    /// Delays every answer by `latency`.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Throttles the Secrets API: over the limit, requests get `429 REQUEST_LIMIT_EXCEEDED`.
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// Throttled answers carry no `Retry-After` header.
    pub fn without_retry_after(mut self) -> Self {
        self.retry_after = false;
        self
    }

    /// Adds an OAuth service principal (machine-to-machine, client credentials grant).
    pub fn with_service_principal(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.service_principals
            .push((client_id.into(), secret.into()));
        self
    }

    /// Adds a federation policy; its service principal exists even without a secret.
    pub fn with_federation_policy(mut self, policy: FederationPolicy) -> Self {
        self.federation_policies.push(policy);
        self
    }

    /// Approves authorization requests as `user` without showing the page.
    pub fn with_login_as(mut self, user: impl Into<String>) -> Self {
        self.login_as = Some(user.into());
        self
    }

    pub fn with_token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    pub fn with_cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    pub fn with_azure_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.azure_tenant_id = tenant_id.into();
        self
    }

    /// Adds an Entra ID application that gets tokens with the client credentials grant.
    pub fn with_azure_service_principal(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.azure_service_principals
            .push((client_id.into(), secret.into()));
        self
    }

    /// Adds a managed identity (the first one is the default identity).
    pub fn with_managed_identity(mut self, client_id: impl Into<String>) -> Self {
        self.managed_identities.push(client_id.into());
        self
    }

    /// The tokens of `admin@example.com` in effect.
    pub fn effective_admin_tokens(&self) -> Vec<String> {
        if self.admin_tokens.is_empty() {
            vec![DEFAULT_ADMIN_TOKEN.to_string()]
        } else {
            self.admin_tokens.clone()
        }
    }

    pub(crate) fn directory(&self) -> Result<Directory, Error> {
        let mut directory = Directory::default();
        directory.admins.insert(DEFAULT_ADMIN.to_string());
        for token in self.effective_admin_tokens() {
            directory.add_token(DEFAULT_ADMIN, &token)?;
        }
        for (name, token) in &self.users {
            directory.add_token(name, token)?;
        }
        for name in &self.admins {
            directory.admins.insert(name.clone());
        }
        for (group, members) in &self.groups {
            if group.is_empty() {
                return Err(Error::Config("a group needs a name".into()));
            }
            let entry = directory.groups.entry(group.clone()).or_default();
            entry.extend(members.iter().filter(|m| !m.is_empty()).cloned());
        }
        Ok(directory)
    }
}

/// Users, their tokens, admins and groups.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    user_by_token: HashMap<String, String>,
    admins: BTreeSet<String>,
    groups: BTreeMap<String, BTreeSet<String>>,
}

impl Directory {
    fn add_token(&mut self, user: &str, token: &str) -> Result<(), Error> {
        if user.is_empty() || token.is_empty() {
            return Err(Error::Config(
                "a user needs a non-empty name and token (NAME=TOKEN)".into(),
            ));
        }
        match self
            .user_by_token
            .insert(token.to_string(), user.to_string())
        {
            Some(other) if other != user => Err(Error::Config(format!(
                "the same token is given to both {other} and {user}; give each user its own token"
            ))),
            _ => Ok(()),
        }
    }

    pub fn user_for_token(&self, token: &str) -> Option<&str> {
        self.user_by_token.get(token).map(String::as_str)
    }

    /// Whether `name` is a configured user (one with a token).
    pub fn has_user(&self, name: &str) -> bool {
        self.user_by_token.values().any(|user| user == name)
    }

    /// The configured users, in name order.
    pub fn users(&self) -> BTreeSet<&str> {
        self.user_by_token.values().map(String::as_str).collect()
    }

    /// The groups `principal` belongs to, `users` first.
    pub fn groups_of(&self, principal: &str) -> Vec<&str> {
        let named = self
            .groups
            .iter()
            .filter(|(name, members)| *name != ALL_USERS_GROUP && members.contains(principal))
            .map(|(name, _)| name.as_str());
        std::iter::once(ALL_USERS_GROUP).chain(named).collect()
    }

    pub fn is_admin(&self, user: &str) -> bool {
        self.admins.contains(user) || self.is_member(user, ADMINS_GROUP)
    }

    /// Whether a rule for `principal` applies to `user`: the user itself, `users`, or a group of it.
    pub fn applies_to(&self, principal: &str, user: &str) -> bool {
        principal == user || principal == ALL_USERS_GROUP || self.is_member(user, principal)
    }

    fn is_member(&self, user: &str, group: &str) -> bool {
        self.groups
            .get(group)
            .is_some_and(|members| members.contains(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_admin_has_default_token_until_tokens_are_given() {
        let directory = Config::default().directory().unwrap();
        assert_eq!(
            directory.user_for_token(DEFAULT_ADMIN_TOKEN),
            Some(DEFAULT_ADMIN)
        );
        let directory = Config::default().with_token("t1").directory().unwrap();
        assert_eq!(directory.user_for_token(DEFAULT_ADMIN_TOKEN), None);
        assert_eq!(directory.user_for_token("t1"), Some(DEFAULT_ADMIN));
        assert!(directory.is_admin(DEFAULT_ADMIN));
    }

    #[test]
    fn groups_and_admins_apply() {
        let directory = Config::default()
            .with_user("a", "ta")
            .with_user("b", "tb")
            .with_group("g", ["a"])
            .with_group(ADMINS_GROUP, ["b"])
            .directory()
            .unwrap();
        assert!(directory.applies_to("g", "a"));
        assert!(!directory.applies_to("g", "b"));
        assert!(directory.applies_to(ALL_USERS_GROUP, "b"));
        assert!(directory.is_admin("b"));
        assert!(!directory.is_admin("a"));
    }

    #[test]
    fn a_token_shared_by_two_users_is_refused() {
        let result = Config::default()
            .with_user("a", "same")
            .with_user("b", "same")
            .directory();
        assert!(matches!(result, Err(Error::Config(_))));
    }

    #[test]
    fn debug_does_not_show_tokens() {
        let config = Config::default()
            .with_token("very-secret")
            .with_user("a", "also-secret");
        let config = config
            .with_service_principal("sp", "sp-secret")
            .with_azure_service_principal("azure-sp", "azure-secret");
        let text = format!("{config:?}");
        for secret in ["very-secret", "also-secret", "sp-secret", "azure-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("azure-sp"), "{text}");
    }
}
