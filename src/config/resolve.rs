//! What a command needs to reach the workspace: the host, TLS and timeout settings, and every
//! authentication attribute with its origin (the unified configuration, auth.md); which method
//! authenticates is the `auth` layer's choice.

use std::fmt;
use std::path::{Path, PathBuf};

use super::unified::{Env, Origin, UnifiedConfig};
use super::{ConfigError, config_path, normalize_host};

/// Everything a command needs to reach the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Normalised base URL: `scheme://host[:port]`.
    pub host: String,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    pub http_timeout_seconds: Option<u64>,
    pub retry_timeout_seconds: Option<u64>,
    /// Where the host came from, for hints.
    pub source: Source,
    /// Every attribute and where it came from: what the authentication method is chosen from.
    pub config: UnifiedConfig,
}

/// Where the settings came from, for hints such as "check the token of profile X in FILE".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Profile { name: String, path: PathBuf },
    Environment,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Profile { name, path } => {
                write!(f, "profile `{name}` in {}", path.display())
            }
            Source::Environment => f.write_str("the DATABRICKS_* environment variables"),
        }
    }
}

/// Resolves the configuration per auth.md, from the real environment and config file.
/// `profile` is the `--profile` option.
pub fn resolve(profile: Option<&str>) -> Result<Resolved, ConfigError> {
    let path = config_path()?;
    resolve_in(&path, profile, &|name| {
        std::env::var(name).ok().filter(|value| !value.is_empty())
    })
}

fn resolve_in(path: &Path, profile: Option<&str>, env: Env) -> Result<Resolved, ConfigError> {
    let config = UnifiedConfig::load_from(path, profile, env)?;
    let source_of = |name: &str| match config.setting(name).map(|setting| &setting.origin) {
        Some(Origin::File { path, profile }) => Source::Profile {
            name: profile.clone(),
            path: path.clone(),
        },
        _ => Source::Environment,
    };
    let Some(host) = config.get("host") else {
        return Err(missing_host(&config, path));
    };
    let host_source = source_of("host");
    let setting_name = |name: &'static str, source: &Source| match source {
        Source::Environment => crate::config::attribute_named(name)
            .and_then(|attribute| attribute.env)
            .unwrap_or(name)
            .to_string(),
        Source::Profile { .. } => name.to_string(),
    };
    let checked_host = normalize_host(host).map_err(|error| ConfigError::InvalidSetting {
        setting: setting_name("host", &host_source),
        origin: host_source.clone(),
        problem: error.to_string(),
    })?;
    let seconds = |name: &'static str| seconds(config.get(name), name, &source_of(name));
    Ok(Resolved {
        host: checked_host,
        insecure: config.get("insecure").is_some_and(is_true) || config.flag("skip_verify"),
        http_timeout_seconds: seconds("http_timeout_seconds")?,
        retry_timeout_seconds: seconds("retry_timeout_seconds")?,
        source: host_source,
        config,
    })
}

/// No host: the profile lacks it, the environment's credentials lack `DATABRICKS_HOST`, or
/// nothing is configured at all.
fn missing_host(config: &UnifiedConfig, path: &Path) -> ConfigError {
    let from_file = config.settings().iter().any(|setting| {
        setting.attribute.name != "profile" && matches!(setting.origin, Origin::File { .. })
    });
    if let Some(profile) = config.profile.as_ref().filter(|_| from_file) {
        return ConfigError::IncompleteProfile {
            profile: profile.clone(),
            path: path.to_path_buf(),
            missing: "host",
        };
    }
    let credentials_in_env = config.settings().iter().any(|setting| {
        setting.attribute.group.is_some() && matches!(setting.origin, Origin::Env(_))
    });
    if credentials_in_env {
        ConfigError::IncompleteEnvironment {
            missing: "DATABRICKS_HOST",
        }
    } else {
        ConfigError::NotConfigured {
            path: path.to_path_buf(),
        }
    }
}

/// An optional positive number of seconds.
fn seconds(value: Option<&str>, key: &str, source: &Source) -> Result<Option<u64>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(Some(seconds)),
        _ => Err(ConfigError::InvalidSetting {
            setting: key.to_string(),
            origin: source.clone(),
            problem: format!(
                "`{value}` is not a positive whole number of seconds; fix or remove that line"
            ),
        }),
    }
}

/// `true`, `1` and `yes`, in any case; everything else is false.
fn is_true(value: &str) -> bool {
    ["true", "1", "yes"]
        .iter()
        .any(|word| value.trim().eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::fs;

    struct Setup {
        _directory: tempfile::TempDir,
        path: PathBuf,
        env: HashMap<&'static str, &'static str>,
    }

    impl Setup {
        fn new(config: Option<&str>) -> Setup {
            let directory = tempfile::tempdir().unwrap();
            let path = directory.path().join(".databrickscfg");
            if let Some(text) = config {
                fs::write(&path, text).unwrap();
            }
            Setup {
                _directory: directory,
                path,
                env: HashMap::new(),
            }
        }

        fn env(mut self, name: &'static str, value: &'static str) -> Setup {
            self.env.insert(name, value);
            self
        }

        fn resolve(&self, profile: Option<&str>) -> Result<Resolved, ConfigError> {
            let lookup = |name: &str| {
                let value = self.env.get(name).filter(|value| !value.is_empty());
                value.map(|value| value.to_string())
            };
            resolve_in(&self.path, profile, &lookup)
        }

        fn profile_source(&self, name: &str) -> Source {
            Source::Profile {
                name: name.to_string(),
                path: self.path.clone(),
            }
        }
    }

    const TWO_PROFILES: &str = "[DEFAULT]\nhost = default.example.com/\ntoken = t-default\n\n\
                                [dev]\nHOST = https://DEV.example.com:8443/x\nToken = t-dev\n";

    fn token(resolved: &Resolved) -> &str {
        resolved.config.get("token").unwrap_or_default()
    }

    #[test]
    fn an_explicit_profile_beats_the_environment() {
        let setup = Setup::new(Some(TWO_PROFILES))
            .env("DATABRICKS_HOST", "https://env")
            .env("DATABRICKS_TOKEN", "t-env");
        let resolved = setup.resolve(Some("dev")).unwrap();
        assert_eq!(resolved.host, "https://dev.example.com:8443");
        assert_eq!(token(&resolved), "t-dev");
        assert_eq!(resolved.source, setup.profile_source("dev"));
    }

    #[test]
    fn the_profile_variable_names_a_profile_too() {
        let setup = Setup::new(Some(TWO_PROFILES)).env("DATABRICKS_CONFIG_PROFILE", "dev");
        assert_eq!(token(&setup.resolve(None).unwrap()), "t-dev");
        let setup = Setup::new(Some(TWO_PROFILES)).env("DATABRICKS_CONFIG_PROFILE", "dev");
        assert_eq!(token(&setup.resolve(Some("DEFAULT")).unwrap()), "t-default");
    }

    #[test]
    fn a_missing_profile_names_the_file_and_lists_the_profiles() {
        let setup = Setup::new(Some(TWO_PROFILES));
        let error = setup.resolve(Some("prod")).unwrap_err();
        let ConfigError::ProfileNotFound {
            profile,
            path,
            available,
        } = &error
        else {
            panic!("unexpected {error:?}");
        };
        assert_eq!((profile.as_str(), path), ("prod", &setup.path));
        assert_eq!(available, &["DEFAULT", "dev"]);
        let setup = Setup::new(Some("# no profiles yet\n"));
        let error = setup.resolve(Some("prod")).unwrap_err();
        assert!(error.to_string().contains("it has no profiles"), "{error}");
    }

    #[test]
    fn a_named_profile_without_a_config_file_says_the_file_is_missing() {
        let setup = Setup::new(None);
        let error = setup.resolve(Some("prod")).unwrap_err();
        assert!(
            matches!(&error, ConfigError::ConfigFileMissing { profile, path }
                if profile == "prod" && path == &setup.path),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("does not exist"), "{message}");
        assert!(message.contains("DATABRICKS_CONFIG_FILE"), "{message}");
    }

    #[test]
    fn profiles_do_not_inherit_from_default() {
        let setup = Setup::new(Some("[DEFAULT]\nhost = https://h\n[dev]\ntoken = t\n"));
        let error = setup.resolve(Some("dev")).unwrap_err();
        assert!(
            matches!(&error, ConfigError::IncompleteProfile { profile, missing, .. }
                if profile == "dev" && *missing == "host"),
            "{error:?}"
        );
    }

    #[test]
    fn the_environment_alone_when_it_has_a_host() {
        let setup = Setup::new(Some(TWO_PROFILES))
            .env("DATABRICKS_HOST", "http://127.0.0.1:8080/")
            .env("DATABRICKS_USERNAME", "me")
            .env("DATABRICKS_INSECURE", "YES");
        let resolved = setup.resolve(None).unwrap();
        assert_eq!(resolved.host, "http://127.0.0.1:8080");
        assert_eq!(token(&resolved), "", "nothing from the file");
        assert_eq!(resolved.config.get("username"), Some("me"));
        assert!(resolved.insecure);
        assert_eq!(resolved.source, Source::Environment);
    }

    #[test]
    fn environment_credentials_without_a_host_name_it() {
        let setup = Setup::new(Some(TWO_PROFILES)).env("DATABRICKS_TOKEN", "t");
        let error = setup.resolve(None).unwrap_err();
        assert!(
            matches!(error, ConfigError::IncompleteEnvironment { missing } if missing == "DATABRICKS_HOST"),
            "{error:?}"
        );
    }

    #[test]
    fn otherwise_the_default_profile_is_used() {
        let setup = Setup::new(Some(TWO_PROFILES)).env("DATABRICKS_CLUSTER_ID", "c-1");
        let resolved = setup.resolve(None).unwrap();
        assert_eq!(resolved.host, "https://default.example.com");
        assert_eq!(token(&resolved), "t-default");
        assert_eq!(resolved.source, setup.profile_source("DEFAULT"));
    }

    #[test]
    fn nothing_configured_says_how_to_configure() {
        for config in [
            None,
            Some("[dev]\nhost = h\ntoken = t\n"),
            Some("[DEFAULT]\n"),
        ] {
            let error = Setup::new(config).resolve(None).unwrap_err();
            assert!(
                matches!(error, ConfigError::NotConfigured { .. }),
                "{error:?}"
            );
            let message = error.to_string();
            assert!(
                message.contains("databricks configure --token"),
                "{message}"
            );
            assert!(message.contains("DATABRICKS_HOST"), "{message}");
        }
    }

    #[test]
    fn insecure_is_true_only_for_true_1_or_yes() {
        for (value, expected) in [
            ("true", true),
            ("TRUE", true),
            ("1", true),
            ("Yes", true),
            ("false", false),
            ("on", false),
            ("0", false),
            ("", false),
        ] {
            let text = format!("[p]\nhost = h\ntoken = t\ninsecure = {value}\n");
            let setup = Setup::new(Some(&text));
            assert_eq!(
                setup.resolve(Some("p")).unwrap().insecure,
                expected,
                "{value}"
            );
        }
    }

    #[test]
    fn timeouts_are_positive_whole_seconds() {
        let text =
            "[p]\nhost = h\ntoken = t\nhttp_timeout_seconds = 5\nretry_timeout_seconds = 90\n";
        let resolved = Setup::new(Some(text)).resolve(Some("p")).unwrap();
        assert_eq!(resolved.http_timeout_seconds, Some(5));
        assert_eq!(resolved.retry_timeout_seconds, Some(90));
        for bad in ["0", "-1", "1.5", "ten"] {
            let text = format!("[p]\nhost = h\ntoken = t\nhttp_timeout_seconds = {bad}\n");
            let error = Setup::new(Some(&text)).resolve(Some("p")).unwrap_err();
            let message = error.to_string();
            assert!(message.contains("http_timeout_seconds"), "{message}");
            assert!(message.contains("profile `p`"), "{message}");
        }
    }

    #[test]
    fn a_bad_host_names_where_it_came_from() {
        let error = Setup::new(Some("[p]\nhost = https://\ntoken = t\n"))
            .resolve(Some("p"))
            .unwrap_err();
        assert!(matches!(&error, ConfigError::InvalidSetting { setting, .. } if setting == "host"));
        let setup = Setup::new(None)
            .env("DATABRICKS_HOST", "ftp://h")
            .env("DATABRICKS_TOKEN", "dapi-env-secret");
        let message = setup.resolve(None).unwrap_err().to_string();
        assert!(message.contains("invalid DATABRICKS_HOST"), "{message}");
        assert!(!message.contains("dapi-env-secret"), "{message}");
    }

    #[test]
    fn a_broken_file_is_reported_not_skipped() {
        let error = Setup::new(Some("host = h\n")).resolve(None).unwrap_err();
        assert!(
            matches!(error, ConfigError::Syntax { line: 1, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn the_source_reads_well_in_hints() {
        let source = Source::Profile {
            name: "dev".into(),
            path: "/home/me/.databrickscfg".into(),
        };
        assert_eq!(
            source.to_string(),
            "profile `dev` in /home/me/.databrickscfg"
        );
        assert!(Source::Environment.to_string().contains("environment"));
    }
}
