//! `databricks auth describe`: who the configuration authenticates as, with which method, and
//! where every attribute came from (the config file and profile, an environment variable, a
//! flag) — the first thing to run when a CI job cannot authenticate.

use anyhow::Result;
use clap::Args;
use serde_json::{Map, Value, json};

use super::{DATABRICKS_CLI, SETTINGS, runtime};
use crate::auth::{STORAGE_SETTING, STORAGE_VARIABLE, StorageMode, storage_choice};
use crate::cli::Context;
use crate::config::{self, Origin, ProfileFile, Setting, UnifiedConfig};
use crate::output::{self, Format};

/// How a secret is shown without `--sensitive`.
const MASK: &str = "********";

/// Attributes that only some methods read; every other attribute matters to all of them.
const USED_ONLY_BY: &[(&str, &[&str])] = &[
    ("token", &["pat"]),
    ("username", &["basic"]),
    ("password", &["basic"]),
    (
        "client_id",
        &[
            "oauth-m2m",
            "github-oidc",
            "azure-devops-oidc",
            "env-oidc",
            "file-oidc",
        ],
    ),
    ("client_secret", &["oauth-m2m"]),
    ("databricks_cli_path", &["databricks-cli"]),
    ("actions_id_token_request_url", &["github-oidc"]),
    ("actions_id_token_request_token", &["github-oidc"]),
    ("oidc_token_env", &["env-oidc"]),
    ("databricks_id_token_filepath", &["file-oidc"]),
    (
        "azure_workspace_resource_id",
        &["azure-msi", "azure-client-secret", "azure-cli"],
    ),
    ("azure_use_msi", &["azure-msi"]),
    ("azure_client_secret", &["azure-client-secret"]),
    ("azure_client_id", &["azure-client-secret", "azure-msi"]),
    ("azure_tenant_id", &["azure-client-secret", "azure-cli"]),
    ("metadata_service_url", &["metadata-service"]),
    ("google_service_account", &["google-id"]),
    ("google_credentials", &["google-credentials"]),
];

#[derive(Args, Debug)]
pub struct Describe {
    /// Show secrets (tokens, client secrets, passwords) instead of ********
    #[arg(long)]
    sensitive: bool,
}

/// What the verification call found.
enum Status {
    Authenticated {
        host: String,
        user: String,
        method: &'static str,
    },
    Failed {
        error: String,
        /// The method whose credentials were refused, if one got that far.
        method: Option<&'static str>,
    },
}

/// Where `databricks-cli` tokens are read from, and what chose that storage.
struct TokenStorage {
    mode: StorageMode,
    source: String,
}

impl Describe {
    pub fn run(self, context: &Context) -> Result<()> {
        let format = context.style()?.format;
        let path = config::config_path()?;
        let config = UnifiedConfig::load_from(&path, context.profile(), &|name| {
            std::env::var(name).ok().filter(|value| !value.is_empty())
        })?;
        let status = runtime()?.block_on(verify(context));
        let method = match &status {
            Status::Authenticated { method, .. } => Some(*method),
            Status::Failed { method, .. } => *method,
        }
        .or_else(|| config.get("auth_type"));
        let storage = (method == Some(DATABRICKS_CLI))
            .then(|| token_storage(&config))
            .flatten();
        let report = Report {
            config: &config,
            status: &status,
            method,
            storage: storage.as_ref(),
            sensitive: self.sensitive,
        };
        match format {
            Format::Json => output::print_json(&report.json())?,
            Format::Table => print!("{}", report.text()),
        }
        Ok(())
    }
}

/// Authenticates and asks the workspace who that is (SCIM `Me`).
async fn verify(context: &Context) -> Status {
    let failed = |error: anyhow::Error, method| Status::Failed {
        error: format!("{error:#}"),
        method,
    };
    let connection = match context.connect() {
        Ok(connection) => connection,
        Err(error) => return failed(error, None),
    };
    let me = connection.call(connection.client.current_user()).await;
    match (me, connection.method()) {
        (Ok(me), Some(method)) => Status::Authenticated {
            host: connection.host().to_string(),
            user: me.data.user_name,
            method,
        },
        (Ok(_), None) => failed(anyhow::anyhow!("no authentication method was chosen"), None),
        (Err(error), method) => failed(error, method),
    }
}

/// The storage `auth login` chose, as the Go CLI reports it.
fn token_storage(config: &UnifiedConfig) -> Option<TokenStorage> {
    let variable = std::env::var(STORAGE_VARIABLE)
        .ok()
        .filter(|value| !value.trim().is_empty());
    let choice = storage_choice(&config.config_path, variable.as_deref()).ok()?;
    let in_settings = ProfileFile::load(&config.config_path)
        .ok()
        .and_then(|file| file.get(SETTINGS, STORAGE_SETTING))
        .is_some_and(|value| !value.trim().is_empty());
    let source = if variable.is_some() {
        format!("{STORAGE_VARIABLE} environment variable")
    } else if in_settings {
        format!(
            "{STORAGE_SETTING} in [{SETTINGS}] section of {}",
            config.config_path.display()
        )
    } else {
        "default".to_string()
    };
    Some(TokenStorage {
        mode: choice.mode,
        source,
    })
}

struct Report<'a> {
    config: &'a UnifiedConfig,
    status: &'a Status,
    /// The method that authenticated, else the one `auth_type` forces.
    method: Option<&'a str>,
    storage: Option<&'a TokenStorage>,
    sensitive: bool,
}

impl Report<'_> {
    fn text(&self) -> String {
        let mut text = match self.status {
            Status::Authenticated { host, user, method } => {
                format!("Host: {host}\nUser: {user}\nAuthenticated with: {method}\n")
            }
            Status::Failed { error, .. } => format!("Unable to authenticate: {error}\n"),
        };
        if let Some(storage) = self.storage {
            text.push_str(&format!(
                "Token storage: {}, {} (from {})\n",
                storage.mode.as_str(),
                storage_location(storage.mode),
                storage.source
            ));
        }
        text.push_str("-----\nCurrent configuration:\n");
        for setting in self.config.settings() {
            let unused = !self.is_used(setting);
            let mark = if unused { '~' } else { '✓' };
            let mut notes = vec![format!("from {}", origin_text(&setting.origin))];
            if let (true, Some(method)) = (unused, self.method) {
                notes.push(format!("not used for auth type {method}"));
            }
            text.push_str(&format!(
                "  {mark} {}: {} ({})\n",
                setting.attribute.name,
                self.value(setting),
                notes.join(", ")
            ));
        }
        if let (None, Some(method)) = (self.config.get("auth_type"), self.method) {
            text.push_str(&format!("  ✓ auth_type: {method}\n"));
        }
        text
    }

    fn json(&self) -> Value {
        let mut configuration = Map::new();
        for setting in self.config.settings() {
            configuration.insert(
                setting.attribute.name.to_string(),
                json!({
                    "value": self.value(setting),
                    "source": origin_json(&setting.origin),
                    "auth_type_mismatch": !self.is_used(setting),
                }),
            );
        }
        if let (None, Some(method)) = (self.config.get("auth_type"), self.method) {
            configuration.insert(
                "auth_type".to_string(),
                json!({ "value": method, "auth_type_mismatch": false }),
            );
        }
        let mut report = Map::new();
        match self.status {
            Status::Authenticated { user, .. } => {
                report.insert("status".into(), json!("success"));
                report.insert("username".into(), json!(user));
            }
            Status::Failed { error, .. } => {
                report.insert("status".into(), json!("error"));
                report.insert("error".into(), json!(error));
            }
        }
        if let Some(account_id) = self.config.get("account_id") {
            report.insert("account_id".into(), json!(account_id));
        }
        let host = match self.status {
            Status::Authenticated { host, .. } => Some(host.as_str()),
            Status::Failed { .. } => self.config.get("host"),
        };
        report.insert(
            "details".into(),
            json!({
                "auth_type": self.method.unwrap_or_default(),
                "host": host.unwrap_or_default(),
                "configuration": configuration,
            }),
        );
        if let Some(storage) = self.storage {
            report.insert(
                "token_storage".into(),
                json!({
                    "mode": storage.mode.as_str(),
                    "location": storage_location(storage.mode),
                    "source": storage.source,
                }),
            );
        }
        Value::Object(report)
    }

    fn value<'s>(&self, setting: &'s Setting) -> &'s str {
        if setting.attribute.sensitive && !self.sensitive {
            MASK
        } else {
            &setting.value
        }
    }

    /// Whether the active method reads this attribute (every attribute, without a method).
    fn is_used(&self, setting: &Setting) -> bool {
        let Some(method) = self.method else {
            return true;
        };
        USED_ONLY_BY
            .iter()
            .find(|(name, _)| *name == setting.attribute.name)
            .is_none_or(|(_, methods)| methods.contains(&method))
    }
}

fn storage_location(mode: StorageMode) -> &'static str {
    match mode {
        StorageMode::Plaintext => "~/.databricks/token-cache.json",
        StorageMode::Secure => "OS keyring (service: databricks-cli)",
    }
}

/// `/home/me/.databrickscfg config file, profile sp`, `DATABRICKS_HOST environment variable`,
/// `--profile flag`.
fn origin_text(origin: &Origin) -> String {
    match origin {
        Origin::File { profile, .. } => format!("{origin}, profile {profile}"),
        other => other.to_string(),
    }
}

fn origin_json(origin: &Origin) -> Value {
    match origin {
        Origin::File { path, profile } => {
            json!({ "type": "file", "name": path.display().to_string(), "profile": profile })
        }
        Origin::Env(variable) => json!({ "type": "environment", "name": variable }),
        Origin::Flag(flag) => json!({ "type": "flag", "name": flag }),
    }
}
