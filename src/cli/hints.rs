//! All advice for API errors: what to check or change, naming where the setting lives (the
//! profile and its file, or the environment variable). The `api` errors state only facts.

use crate::api;
use crate::config::{Origin, Resolved, Source, UnifiedConfig};

/// What a hint may name: where the host came from, where every attribute came from, and the
/// method that authenticated (none before a request chose one).
pub struct Used<'a> {
    pub source: &'a Source,
    pub config: &'a UnifiedConfig,
    pub method: Option<&'a str>,
}

impl<'a> Used<'a> {
    pub fn before_auth(resolved: &'a Resolved) -> Used<'a> {
        Used {
            source: &resolved.source,
            config: &resolved.config,
            method: None,
        }
    }
}

/// The error a user sees: the facts, then `Hint: ...` where a hint helps.
pub fn explain(error: api::Error, used: &Used) -> anyhow::Error {
    match hint(&error, used) {
        Some(hint) => anyhow::anyhow!("{error}\nHint: {hint}"),
        None => error.into(),
    }
}

fn hint(error: &api::Error, used: &Used) -> Option<String> {
    let source = used.source;
    match (error, error.status()) {
        (api::Error::RateLimited { .. }, _) => Some(rate_limit_hint(source)),
        (_, Some(401)) => Some(refused_credentials_hint(used)),
        (_, Some(403)) => Some(format!(
            "the credentials from {source} lack a permission this call needs; ask a scope \
             manager or workspace admin for access"
        )),
        (api::Error::Api { .. }, _) => service_hint(error),
        _ => host_hint(error, source).or_else(|| connection_hint(error, source)),
    }
}

/// Where the host was set, for hints: `DATABRICKS_HOST`, or the profile.
fn host_setting(source: &Source) -> String {
    match source {
        Source::Profile { name, .. } => format!("the host of profile `{name}`"),
        Source::Environment => "DATABRICKS_HOST".to_owned(),
    }
}

/// How to turn off certificate checks where the host is set: the last resort.
fn insecure_setting(source: &Source) -> String {
    match source {
        Source::Profile { name, path } => format!(
            "`insecure = true` in profile `{name}` ({}) skips verification",
            path.display()
        ),
        Source::Environment => "DATABRICKS_INSECURE=true skips verification".to_owned(),
    }
}

/// Hints for answers that suggest the host is not a workspace API, and for hosts and
/// credentials that cannot be used at all.
fn host_hint(error: &api::Error, source: &Source) -> Option<String> {
    let host = host_setting(source);
    let hint = match error {
        api::Error::UnexpectedBody { status, .. } if (200..300).contains(status) => {
            format!("the host is probably not a Databricks workspace API; check {host}")
        }
        api::Error::UnexpectedBody { .. } => format!(
            "a proxy, gateway or login page probably answered instead of the Databricks API; \
             check {host} and your network or proxy settings"
        ),
        api::Error::Redirect { .. } => format!(
            "the host is probably not a workspace API URL (it leads to a login page); check \
             {host}"
        ),
        api::Error::InvalidHost { .. } => format!("check {host}"),
        api::Error::UnsendableCredentials { .. } => format!("check it in {source}"),
        _ => return None,
    };
    Some(hint)
}

/// Hints for failures to reach the server, or to speak TLS or HTTP with it, safest fix first.
fn connection_hint(error: &api::Error, source: &Source) -> Option<String> {
    let host = host_setting(source);
    let trust = "if the server's certificate comes from a private certificate authority (a \
                 company proxy, a test server), trust that authority: set SSL_CERT_FILE to a \
                 PEM file of its certificate or SSL_CERT_DIR to a directory of them \
                 (REQUESTS_CA_BUNDLE is read too)";
    let hint = match error {
        api::Error::Connect { .. } => format!("check {host} and your network"),
        api::Error::ConnectionLost { .. } => {
            "try again, and check your network or proxy if it keeps happening".to_owned()
        }
        api::Error::Timeout { .. } => timeout_hint(source),
        api::Error::Tls { .. } => format!(
            "check that {host} is the workspace URL; {trust}; only for a test server you \
             trust, {}",
            insecure_setting(source)
        ),
        api::Error::TlsSetup { .. } => format!(
            "install the system's CA certificates (the ca-certificates package), or set \
             SSL_CERT_FILE to a PEM file of CA certificates; only for a test server you trust, \
             {}",
            insecure_setting(source)
        ),
        api::Error::CaCertificates { path, .. } => {
            let variables: Vec<&str> = super::ca_certificates_from_environment()
                .into_iter()
                .filter(|(_, named)| named == path)
                .map(|(name, _)| name)
                .collect();
            format!(
                "{} names it: point it at a PEM file of CA certificates, or unset it",
                variables.join(" and ")
            )
        }
        api::Error::NotTls { .. } => format!(
            "check the port in {host}; a server that speaks plain HTTP (such as a local test \
             server) needs an http:// URL"
        ),
        api::Error::NotHttp { .. } => format!(
            "check the host and port in {host}: another kind of server (SSH, a database, a \
             TLS server reached with http://) answered there"
        ),
        _ => return None,
    };
    Some(hint)
}

fn timeout_hint(source: &Source) -> String {
    let slow = "the server may be slow or unreachable";
    match source {
        Source::Profile { name, .. } => {
            format!("{slow}; raise `http_timeout_seconds` in profile `{name}` to wait longer")
        }
        Source::Environment => format!(
            "{slow}; to wait longer, use a profile with `http_timeout_seconds` (the \
             environment variables set no timeout)"
        ),
    }
}

fn rate_limit_hint(source: &Source) -> String {
    match source {
        Source::Profile { name, .. } => format!(
            "try again later, or let retries wait longer with `retry_timeout_seconds` in \
             profile `{name}`"
        ),
        Source::Environment => "try again later".to_owned(),
    }
}

/// The workspace refused the credentials: which method sent them, and the one thing that fixes
/// them, named where it is set.
fn refused_credentials_hint(used: &Used) -> String {
    let Some(method) = used.method else {
        return format!(
            "the workspace did not accept the credentials from {}; {}",
            used.source,
            how_to_replace_credentials(used.source)
        );
    };
    let config = used.config;
    let set = |names: &[&str]| where_set(config, names);
    let federation_policy = || match config.get("client_id") {
        Some(client_id) => format!(
            "the federation policy of service principal `{client_id}` ({}) accepts its issuer \
             and subject",
            set(&["client_id"])
        ),
        None => "the workspace's federation policy accepts its issuer and subject".to_string(),
    };
    let fix = match method {
        "pat" => match config.setting("token").map(|setting| &setting.origin) {
            Some(Origin::File { profile, .. }) => format!(
                "check {}, or set a new one with `databricks configure --token --profile \
                 {profile}`",
                set(&["token"])
            ),
            _ => format!("check {}", set(&["token"])),
        },
        "basic" => format!("check {}", set(&["username", "password"])),
        "oauth-m2m" => format!(
            "check {} (the service principal's OAuth secret may have been deleted or expired: \
             create a new one for it in the account console)",
            set(&["client_id", "client_secret"])
        ),
        "databricks-cli" => match &config.profile {
            Some(profile) => format!("run `databricks auth login --profile {profile}`"),
            None => format!(
                "run `databricks auth login --host {}`",
                config.get("host").unwrap_or_default()
            ),
        },
        "github-oidc" => format!(
            "check that the job has `permissions: id-token: write` and that {}",
            federation_policy()
        ),
        "azure-devops-oidc" => format!(
            "check that the step passes SYSTEM_ACCESSTOKEN (`env: SYSTEM_ACCESSTOKEN: \
             $(System.AccessToken)`) and that {}",
            federation_policy()
        ),
        "env-oidc" => {
            let variable = config
                .get("oidc_token_env")
                .unwrap_or("DATABRICKS_OIDC_TOKEN");
            format!(
                "check the ID token in {variable} (a fresh JWT of your CI) and that {}",
                federation_policy()
            )
        }
        "file-oidc" => format!(
            "check the ID token in the file {} and that {}",
            set(&["databricks_id_token_filepath"]),
            federation_policy()
        ),
        "azure-client-secret" => format!(
            "check {}, and that the service principal is a user of the workspace",
            set(&["azure_client_id", "azure_client_secret", "azure_tenant_id"])
        ),
        "azure-msi" => "check that the managed identity is a user of the workspace".to_string(),
        "azure-cli" => "run `az login` (in the workspace's tenant), then try again".to_string(),
        _ => how_to_replace_credentials(used.source),
    };
    format!("the workspace did not accept the {method} credentials; {fix}")
}

/// Where each attribute is set: `client_id` in profile `sp` (FILE), or its variable.
fn where_set(config: &UnifiedConfig, names: &[&str]) -> String {
    let places: Vec<String> = names
        .iter()
        .map(
            |name| match config.setting(name).map(|setting| &setting.origin) {
                Some(Origin::File { path, profile }) => {
                    format!("`{name}` in profile `{profile}` ({})", path.display())
                }
                Some(Origin::Env(variable)) => variable.to_string(),
                Some(Origin::Flag(flag)) => flag.to_string(),
                None => crate::config::attribute_named(name)
                    .and_then(|attribute| attribute.env)
                    .map_or_else(|| format!("`{name}`"), str::to_string),
            },
        )
        .collect();
    places.join(" and ")
}

fn how_to_replace_credentials(source: &Source) -> String {
    match source {
        Source::Profile { name, .. } => format!(
            "check its token, or set a new one with `databricks configure --token --profile {name}`"
        ),
        Source::Environment => "check DATABRICKS_TOKEN (or DATABRICKS_USERNAME and \
             DATABRICKS_PASSWORD)"
            .to_string(),
    }
}

/// Hints for the service's answers whose message alone leaves users guessing.
fn service_hint(error: &api::Error) -> Option<String> {
    let api::Error::Api {
        error_code,
        message,
        ..
    } = error
    else {
        return None;
    };
    if message.contains("userAADToken") {
        return Some(
            "Azure Key Vault-backed scopes can only be created with an Azure AD user token \
             (Databricks reads the vault as that user), not a personal access token nor a \
             service principal's token: log in with `az login` and use `auth_type = azure-cli` \
             (DATABRICKS_AUTH_TYPE=azure-cli), or set DATABRICKS_AAD_TOKEN (for example from \
             `az account get-access-token --resource 2ff814a6-3304-4ab8-85cb-cd0e6f879c1d \
             --query accessToken -o tsv`) and run `databricks configure --aad-token`"
                .to_string(),
        );
    }
    if error_code == "BAD_REQUEST" && mentions_key_vault(message) {
        return Some(
            "a scope backed by Azure Key Vault is read-only through Databricks; manage its \
             secrets with Azure's tools (for example `az keyvault secret set`)"
                .to_string(),
        );
    }
    None
}

/// BAD_REQUEST is the service's generic refusal; only the Key Vault one names the vault
/// ("Azure KeyVault-backed scope", "backed by Azure Key Vault").
fn mentions_key_vault(message: &str) -> bool {
    message.to_lowercase().replace(' ', "").contains("keyvault")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    fn profile() -> Source {
        Source::Profile {
            name: "work".into(),
            path: PathBuf::from("/home/me/.databrickscfg"),
        }
    }

    fn shown(error: api::Error, source: &Source) -> String {
        shown_after(error, source, &no_settings(), None)
    }

    fn shown_after(
        error: api::Error,
        source: &Source,
        config: &UnifiedConfig,
        method: Option<&str>,
    ) -> String {
        let used = Used {
            source,
            config,
            method,
        };
        explain(error, &used).to_string()
    }

    fn no_settings() -> UnifiedConfig {
        UnifiedConfig::load_from(std::path::Path::new("/nonexistent/cfg"), None, &|_| None).unwrap()
    }

    #[test]
    fn a_refusal_names_the_method_that_ran_and_its_fix() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("cfg");
        std::fs::write(
            &path,
            "[sp]\nhost = https://h\nclient_id = id\nclient_secret = s\n\n\
             [me]\nhost = https://h\nauth_type = databricks-cli\n",
        )
        .unwrap();
        let refused = || api::Error::Api {
            status: 401,
            error_code: "UNAUTHENTICATED".into(),
            message: "bad token".into(),
        };
        let load = |profile, vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            UnifiedConfig::load_from(&path, Some(profile), &|name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            })
            .unwrap()
        };
        let m2m = shown_after(refused(), &profile(), &load("sp", &[]), Some("oauth-m2m"));
        assert!(
            m2m.contains(&format!(
                "Hint: the workspace did not accept the oauth-m2m credentials; check `client_id` \
                 in profile `sp` ({0}) and `client_secret` in profile `sp` ({0})",
                path.display()
            )),
            "{m2m}"
        );
        assert!(!m2m.contains("configure --token"), "{m2m}");
        let login = shown_after(
            refused(),
            &profile(),
            &load("me", &[]),
            Some("databricks-cli"),
        );
        assert!(
            login.ends_with("run `databricks auth login --profile me`"),
            "{login}"
        );
        let env = load("me", &[("DATABRICKS_OIDC_TOKEN_ENV", "CI_JOB_JWT")]);
        let oidc = shown_after(refused(), &profile(), &env, Some("env-oidc"));
        assert!(oidc.contains("check the ID token in CI_JOB_JWT"), "{oidc}");
    }

    #[test]
    fn network_failures_name_the_setting_that_holds_the_host() {
        let connect = || api::Error::Connect {
            host: "https://h".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(
            shown(connect(), &profile()),
            "cannot connect to https://h: connection refused\n\
             Hint: check the host of profile `work` and your network"
        );
        assert!(
            shown(connect(), &Source::Environment)
                .ends_with("Hint: check DATABRICKS_HOST and your network")
        );
        let redirect = api::Error::Redirect {
            status: 302,
            location: None,
        };
        assert!(
            shown(redirect, &Source::Environment)
                .ends_with("(it leads to a login page); check DATABRICKS_HOST")
        );
    }

    #[test]
    fn a_timeout_says_which_setting_waits_longer() {
        let timeout = || api::Error::Timeout {
            url: "https://h/api".into(),
        };
        assert!(
            shown(timeout(), &profile())
                .ends_with("raise `http_timeout_seconds` in profile `work` to wait longer")
        );
        assert!(
            shown(timeout(), &Source::Environment)
                .contains("use a profile with `http_timeout_seconds`")
        );
    }

    #[test]
    fn unexpected_bodies_blame_the_host_or_a_gateway() {
        let body = |status| api::Error::UnexpectedBody {
            status,
            excerpt: String::new(),
        };
        assert!(shown(body(200), &profile()).contains(
            "Hint: the host is probably not a Databricks workspace API; check the host of \
             profile `work`"
        ));
        assert!(shown(body(502), &profile()).contains("a proxy, gateway or login page"));
    }

    #[test]
    fn rate_limits_and_refused_credentials_say_what_to_change() {
        let limited = api::Error::RateLimited {
            cause: Box::new(api::Error::Api {
                status: 429,
                error_code: "REQUEST_LIMIT_EXCEEDED".into(),
                message: "later".into(),
            }),
            retry_after: Duration::from_secs(30),
            remaining: Duration::from_secs(2),
            budget: Duration::from_secs(2),
        };
        assert!(shown(limited, &profile()).contains("`retry_timeout_seconds` in profile `work`"));
        let refused = api::Error::Api {
            status: 401,
            error_code: "UNAUTHENTICATED".into(),
            message: "bad token".into(),
        };
        assert!(shown(refused, &profile()).contains("databricks configure --token --profile work"));
    }

    #[test]
    fn facts_without_advice_get_no_hint() {
        let missing = api::Error::Api {
            status: 404,
            error_code: "RESOURCE_DOES_NOT_EXIST".into(),
            message: "Scope s does not exist!".into(),
        };
        assert_eq!(
            shown(missing, &profile()),
            "RESOURCE_DOES_NOT_EXIST: Scope s does not exist!"
        );
    }
}
