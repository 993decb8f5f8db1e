//! The unified configuration of the Databricks clients (auth.md): every attribute of every
//! authentication method, from the `--profile` flag, `DATABRICKS_*` / `ARM_*` environment
//! variables and a `~/.databrickscfg` profile, each value with where it came from.
//!
//! Precedence (as the Go SDK and CLI): a value once set is never overwritten, and the
//! environment is read before the file, so env beats profile; but an explicit `--profile`
//! reads the profile before the environment's credentials (the Go CLI's rule since v1.7.0), and
//! the environment only fills the credentials and host the profile lacks. Without a named
//! profile, a host or any credential in the environment means the file is not read at all.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{ConfigError, DEFAULT_PROFILE, PROFILE_VARIABLE, ProfileFile};

const SETTINGS_SECTION: &str = "__settings__";

/// Where the official clients document their methods; quoted in their errors.
pub const AUTH_DOCS: &str =
    "https://docs.databricks.com/en/dev-tools/auth.html#databricks-client-unified-authentication";

/// One attribute: its profile key, environment variables, conflict group, and whether it is a
/// secret. `group: None` and `internal` attributes never cause a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub env: Option<&'static str>,
    /// The authentication method family (`pat`, `basic`, `oauth`, `azure`, ...) whose
    /// attributes may not be mixed with another's.
    pub group: Option<&'static str>,
    pub sensitive: bool,
    /// Not shown in `Config:` error suffixes (settings rather than credentials).
    pub internal: bool,
}

const fn attribute(
    name: &'static str,
    env: Option<&'static str>,
    group: Option<&'static str>,
    sensitive: bool,
    internal: bool,
) -> Attribute {
    Attribute {
        name,
        env,
        group,
        sensitive,
        internal,
    }
}

/// In the SDK's declaration order: the order of `Config:` strings and `auth describe`.
/// `actions_id_token_request_token` is a secret here (the SDK shows it in clear).
pub const ATTRIBUTES: &[Attribute] = &[
    attribute("host", Some("DATABRICKS_HOST"), None, false, false),
    attribute(
        "cluster_id",
        Some("DATABRICKS_CLUSTER_ID"),
        None,
        false,
        false,
    ),
    attribute(
        "warehouse_id",
        Some("DATABRICKS_WAREHOUSE_ID"),
        None,
        false,
        false,
    ),
    attribute(
        "serverless_compute_id",
        Some("DATABRICKS_SERVERLESS_COMPUTE_ID"),
        None,
        false,
        false,
    ),
    attribute(
        "metadata_service_url",
        Some("DATABRICKS_METADATA_SERVICE_URL"),
        Some("metadata-service"),
        true,
        false,
    ),
    attribute(
        "account_id",
        Some("DATABRICKS_ACCOUNT_ID"),
        None,
        false,
        false,
    ),
    attribute(
        "workspace_id",
        Some("DATABRICKS_WORKSPACE_ID"),
        None,
        false,
        false,
    ),
    attribute("token", Some("DATABRICKS_TOKEN"), Some("pat"), true, false),
    attribute(
        "username",
        Some("DATABRICKS_USERNAME"),
        Some("basic"),
        false,
        false,
    ),
    attribute(
        "password",
        Some("DATABRICKS_PASSWORD"),
        Some("basic"),
        true,
        false,
    ),
    attribute("profile", Some(PROFILE_VARIABLE), None, false, false),
    attribute(
        "config_file",
        Some("DATABRICKS_CONFIG_FILE"),
        None,
        false,
        false,
    ),
    attribute(
        "google_service_account",
        Some("DATABRICKS_GOOGLE_SERVICE_ACCOUNT"),
        Some("google"),
        false,
        false,
    ),
    attribute(
        "google_credentials",
        Some("GOOGLE_CREDENTIALS"),
        Some("google"),
        true,
        false,
    ),
    attribute(
        "azure_workspace_resource_id",
        Some("DATABRICKS_AZURE_RESOURCE_ID"),
        Some("azure"),
        false,
        false,
    ),
    attribute(
        "azure_use_msi",
        Some("ARM_USE_MSI"),
        Some("azure"),
        false,
        false,
    ),
    attribute(
        "azure_client_secret",
        Some("ARM_CLIENT_SECRET"),
        Some("azure"),
        true,
        false,
    ),
    attribute(
        "azure_client_id",
        Some("ARM_CLIENT_ID"),
        Some("azure"),
        false,
        false,
    ),
    attribute(
        "azure_tenant_id",
        Some("ARM_TENANT_ID"),
        Some("azure"),
        false,
        false,
    ),
    attribute(
        "actions_id_token_request_url",
        Some("ACTIONS_ID_TOKEN_REQUEST_URL"),
        None,
        false,
        false,
    ),
    attribute(
        "actions_id_token_request_token",
        Some("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        None,
        true,
        false,
    ),
    attribute(
        "azure_environment",
        Some("ARM_ENVIRONMENT"),
        None,
        false,
        false,
    ),
    attribute(
        "azure_login_app_id",
        Some("DATABRICKS_AZURE_LOGIN_APP_ID"),
        Some("azure"),
        false,
        false,
    ),
    attribute(
        "client_id",
        Some("DATABRICKS_CLIENT_ID"),
        Some("oauth"),
        false,
        false,
    ),
    attribute(
        "client_secret",
        Some("DATABRICKS_CLIENT_SECRET"),
        Some("oauth"),
        true,
        false,
    ),
    attribute("scopes", None, None, false, true),
    attribute(
        "databricks_cli_path",
        Some("DATABRICKS_CLI_PATH"),
        None,
        false,
        false,
    ),
    attribute("auth_type", Some("DATABRICKS_AUTH_TYPE"), None, false, true),
    attribute(
        "databricks_id_token_filepath",
        Some("DATABRICKS_OIDC_TOKEN_FILEPATH"),
        Some("file-oidc"),
        false,
        false,
    ),
    attribute(
        "oidc_token_env",
        Some("DATABRICKS_OIDC_TOKEN_ENV"),
        Some("env-oidc"),
        false,
        false,
    ),
    attribute("insecure", Some("DATABRICKS_INSECURE"), None, false, true),
    attribute("skip_verify", None, None, false, true),
    attribute("http_timeout_seconds", None, None, false, true),
    attribute("retry_timeout_seconds", None, None, false, true),
    attribute("cloud", Some("DATABRICKS_CLOUD"), None, false, true),
    attribute(
        "audience",
        Some("DATABRICKS_TOKEN_AUDIENCE"),
        None,
        false,
        true,
    ),
    attribute(
        "discovery_url",
        Some("DATABRICKS_DISCOVERY_URL"),
        None,
        false,
        true,
    ),
];

/// Attributes the environment never sets when `--profile` is given (Go CLI).
const PROFILE_ONLY_WITH_FLAG: [&str; 6] = [
    "workspace_id",
    "account_id",
    "auth_type",
    "discovery_url",
    "audience",
    "cloud",
];

pub fn attribute_named(name: &str) -> Option<&'static Attribute> {
    ATTRIBUTES.iter().find(|attribute| attribute.name == name)
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag, e.g. `--profile`.
    Flag(&'static str),
    Env(&'static str),
    File {
        path: PathBuf,
        profile: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "{flag} flag"),
            Origin::Env(name) => write!(f, "{name} environment variable"),
            Origin::File { path, .. } => write!(f, "{} config file", path.display()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub attribute: &'static Attribute,
    pub value: String,
    pub origin: Origin,
}

/// The configuration of one invocation.
#[derive(Clone, PartialEq, Eq)]
pub struct UnifiedConfig {
    /// In `ATTRIBUTES` order.
    settings: Vec<Setting>,
    /// The config file looked at (read or not).
    pub config_path: PathBuf,
    /// The profile whose values were read, if one was (`DEFAULT` included).
    pub profile: Option<String>,
}

impl fmt::Debug for UnifiedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnifiedConfig({})", self.describe_for_error())
    }
}

/// Looks up an environment variable; empty counts as unset.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl UnifiedConfig {
    pub fn load_from(
        path: &Path,
        explicit_profile: Option<&str>,
        env: Env,
    ) -> Result<UnifiedConfig, ConfigError> {
        let mut config = UnifiedConfig {
            settings: Vec::new(),
            config_path: path.to_path_buf(),
            profile: None,
        };
        match explicit_profile.filter(|name| !name.is_empty()) {
            Some(profile) => {
                config.set("profile", profile, Origin::Flag("--profile"));
                config.read_env(env, |attribute| {
                    attribute.group.is_none()
                        && attribute.name != "host"
                        && !PROFILE_ONLY_WITH_FLAG.contains(&attribute.name)
                });
                config.read_file(path, Some(profile), env)?;
                config.read_env(env, |attribute| {
                    attribute.group.is_some() || attribute.name == "host"
                });
            }
            None => {
                config.read_env(env, |_| true);
                let named = config.get("profile").map(str::to_string);
                let has_credentials = config.settings.iter().any(|setting| {
                    setting.attribute.group.is_some() || setting.attribute.name == "host"
                });
                if named.is_some() || !has_credentials {
                    config.read_file(path, named.as_deref(), env)?;
                }
            }
        }
        Ok(config)
    }

    /// Sets an attribute unless it already has a value.
    fn set(&mut self, name: &str, value: &str, origin: Origin) {
        let Some(attribute) = attribute_named(name) else {
            return;
        };
        if value.is_empty() || self.get(name).is_some() {
            return;
        }
        let setting = Setting {
            attribute,
            value: value.to_string(),
            origin,
        };
        let position = |name: &str| ATTRIBUTES.iter().position(|a| a.name == name);
        let at = self
            .settings
            .iter()
            .position(|other| position(other.attribute.name) > position(name))
            .unwrap_or(self.settings.len());
        self.settings.insert(at, setting);
    }

    fn read_env(&mut self, env: Env, wanted: impl Fn(&Attribute) -> bool) {
        for attribute in ATTRIBUTES.iter().filter(|attribute| wanted(attribute)) {
            if let Some(variable) = attribute.env {
                if let Some(value) = env(variable) {
                    self.set(attribute.name, &value, Origin::Env(variable));
                }
            }
        }
    }

    /// The profile `requested`, else `[__settings__] default_profile`, else `[DEFAULT]` if
    /// it exists. A named profile that is missing is an error.
    fn read_file(
        &mut self,
        path: &Path,
        requested: Option<&str>,
        env: Env,
    ) -> Result<(), ConfigError> {
        if requested == Some(SETTINGS_SECTION) {
            return Err(ConfigError::InvalidSetting {
                setting: "profile".to_string(),
                origin: super::Source::Environment,
                problem: "__settings__ is a reserved section name and cannot be used as a profile"
                    .to_string(),
            });
        }
        let file = ProfileFile::load(path)?;
        let default_profile = file
            .get(SETTINGS_SECTION, "default_profile")
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
            // With DATABRICKS_HOST set, default_profile is not pinned (Go CLI #5616).
            .filter(|_| env("DATABRICKS_HOST").is_none());
        let (name, must_exist) = match (requested, default_profile) {
            (Some(name), _) => (name.to_string(), true),
            (None, Some(name)) => (name, true),
            (None, None) => (DEFAULT_PROFILE.to_string(), false),
        };
        if !file.has_profile(&name) {
            if !must_exist {
                return Ok(());
            }
            if !file.path().exists() {
                return Err(ConfigError::ConfigFileMissing {
                    profile: name,
                    path: file.path().to_path_buf(),
                });
            }
            return Err(ConfigError::ProfileNotFound {
                profile: name,
                path: file.path().to_path_buf(),
                available: file
                    .profile_names()
                    .into_iter()
                    .filter(|profile| profile != SETTINGS_SECTION)
                    .collect(),
            });
        }
        let origin = Origin::File {
            path: path.to_path_buf(),
            profile: name.clone(),
        };
        for attribute in ATTRIBUTES {
            if attribute.name == "profile" {
                continue;
            }
            if let Some(value) = file.get(&name, attribute.name) {
                self.set(attribute.name, value.trim(), origin.clone());
            }
        }
        if self.get("profile").is_none() {
            self.set("profile", &name, origin);
        }
        self.profile = Some(name);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.setting(name).map(|setting| setting.value.as_str())
    }

    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings
            .iter()
            .find(|setting| setting.attribute.name == name)
    }

    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// A boolean attribute as Go's `strconv.ParseBool` reads it (`1`, `t`, `true`, ...),
    /// plus `yes` (the legacy CLI's `insecure`).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|value| {
            ["1", "t", "true", "yes"]
                .iter()
                .any(|word| value.trim().eq_ignore_ascii_case(word))
        })
    }

    /// `scopes`: a comma list, trimmed, sorted and without duplicates (as the SDK does).
    pub fn scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = self
            .get("scopes")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|scope| !scope.is_empty())
            .map(str::to_string)
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }

    /// The authentication groups whose attributes are set, sorted.
    pub fn groups(&self) -> Vec<&'static str> {
        let mut groups: Vec<&'static str> = self
            .settings
            .iter()
            .filter_map(|setting| setting.attribute.group)
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }

    /// The SDK's validation: attributes of two methods without `auth_type` to choose.
    pub fn check_conflicts(&self) -> Result<(), String> {
        let groups = self.groups();
        if groups.len() > 1 && self.get("auth_type").is_none() {
            return Err(format!(
                "validate: more than one authorization method configured: {}. {}",
                groups.join(" and "),
                self.describe_for_error()
            ));
        }
        Ok(())
    }

    /// `Config: host=…, token=***. Env: DATABRICKS_HOST, DATABRICKS_TOKEN`: the set, shown
    /// attributes (secrets masked) and the variables they came from, as the SDK appends it.
    pub fn describe_for_error(&self) -> String {
        let shown: Vec<&Setting> = self
            .settings
            .iter()
            .filter(|setting| !setting.attribute.internal)
            .collect();
        let values: Vec<String> = shown
            .iter()
            .map(|setting| {
                let value = if setting.attribute.sensitive {
                    "***"
                } else {
                    setting.value.as_str()
                };
                format!("{}={value}", setting.attribute.name)
            })
            .collect();
        let variables: Vec<&str> = shown
            .iter()
            .filter_map(|setting| match setting.origin {
                Origin::Env(name) => Some(name),
                _ => None,
            })
            .collect();
        let mut text = format!("Config: {}", values.join(", "));
        if !variables.is_empty() {
            text.push_str(&format!(". Env: {}", variables.join(", ")));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(
        file: &str,
        profile: Option<&str>,
        vars: &[(&str, &str)],
    ) -> Result<UnifiedConfig, ConfigError> {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(".databrickscfg");
        std::fs::write(&path, file).unwrap();
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        UnifiedConfig::load_from(&path, profile, &|name| vars.get(name).cloned())
    }

    const FILE: &str = "[DEFAULT]\nhost = https://default\ntoken = dapi-default\n\n\
                        [sp]\nhost = https://sp\nclient_id = id\nclient_secret = s\n\n\
                        [host-only]\nhost = https://h\n";

    #[test]
    fn env_beats_the_profile_it_names_and_a_host_in_env_skips_the_file() {
        let config = load(
            FILE,
            None,
            &[
                ("DATABRICKS_CONFIG_PROFILE", "host-only"),
                ("DATABRICKS_HOST", "https://env"),
            ],
        )
        .unwrap();
        assert_eq!(config.get("host"), Some("https://env"));
        assert_eq!(config.profile.as_deref(), Some("host-only"));
        let config = load(FILE, None, &[("DATABRICKS_HOST", "https://env")]).unwrap();
        assert_eq!(config.get("token"), None);
        assert_eq!(config.profile, None);
        let config = load(FILE, None, &[]).unwrap();
        assert_eq!(config.get("token"), Some("dapi-default"));
        assert_eq!(config.profile.as_deref(), Some("DEFAULT"));
    }

    #[test]
    fn an_explicit_profile_beats_env_credentials_and_env_fills_gaps() {
        let env = [
            ("DATABRICKS_HOST", "https://env"),
            ("DATABRICKS_TOKEN", "dapi-env"),
        ];
        let config = load(FILE, Some("DEFAULT"), &env).unwrap();
        assert_eq!(config.get("host"), Some("https://default"));
        assert_eq!(config.get("token"), Some("dapi-default"));
        let config = load(FILE, Some("host-only"), &env).unwrap();
        assert_eq!(config.get("host"), Some("https://h"));
        assert_eq!(config.get("token"), Some("dapi-env"));
        assert_eq!(
            config.setting("token").unwrap().origin,
            Origin::Env("DATABRICKS_TOKEN")
        );
        assert_eq!(
            config.setting("profile").unwrap().origin,
            Origin::Flag("--profile")
        );
        let config = load(FILE, Some("sp"), &env).unwrap();
        let error = config.check_conflicts().unwrap_err();
        assert_eq!(
            error,
            "validate: more than one authorization method configured: oauth and pat. Config: \
             host=https://sp, token=***, profile=sp, client_id=id, client_secret=***. Env: DATABRICKS_TOKEN"
        );
    }

    #[test]
    fn default_profile_is_used_unless_a_host_is_in_the_environment() {
        let file = format!("{FILE}\n[__settings__]\ndefault_profile = sp\n");
        let config = load(&file, None, &[]).unwrap();
        assert_eq!(config.profile.as_deref(), Some("sp"));
        assert_eq!(config.get("client_id"), Some("id"));
        let dangling = "[__settings__]\ndefault_profile = gone\n";
        assert!(matches!(
            load(dangling, None, &[]),
            Err(ConfigError::ProfileNotFound { .. })
        ));
        let error = load(FILE, Some("__settings__"), &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("reserved section name"), "{error}");
    }

    #[test]
    fn auth_type_silences_the_conflict_check() {
        let file = "[DEFAULT]\nhost = https://h\ntoken = t\nusername = u\npassword = p\n";
        let error = load(file, None, &[])
            .unwrap()
            .check_conflicts()
            .unwrap_err();
        assert!(error.starts_with("validate: more than one authorization method configured: basic and pat. Config: host=https://h, token=***, username=u, password=***"), "{error}");
        let config = load(file, None, &[("DATABRICKS_AUTH_TYPE", "pat")]).unwrap();
        assert!(config.check_conflicts().is_ok());
    }

    #[test]
    fn scopes_are_sorted_and_deduplicated() {
        let file = "[DEFAULT]\nhost = https://h\nscopes = sql, all-apis,,sql\n";
        assert_eq!(load(file, None, &[]).unwrap().scopes(), ["all-apis", "sql"]);
    }
}
