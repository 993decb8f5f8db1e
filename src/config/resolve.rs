//! Which credentials a command uses: a named profile, else the environment, else `[DEFAULT]`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{
    ConfigError, DEFAULT_PROFILE, PROFILE_VARIABLE, ProfileFile, config_path, normalize_host,
};
use crate::secret::Secret;

/// Everything a command needs to reach the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Normalised base URL: `scheme://host[:port]`.
    pub host: String,
    pub auth: Credentials,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    pub http_timeout_seconds: Option<u64>,
    pub retry_timeout_seconds: Option<u64>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Sent as `Authorization: Bearer`.
    Token(Secret),
    /// Sent as `Authorization: Basic`; used only when there is no token.
    Basic { username: String, password: Secret },
}

/// Where the credentials came from, for hints such as "check the token of profile X in FILE".
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

/// Resolves the credentials per the spec, from the real environment and config file. `profile`
/// is the `--profile` option.
pub fn resolve(profile: Option<&str>) -> Result<Resolved, ConfigError> {
    let path = config_path()?;
    resolve_in(&path, profile, &|name| {
        std::env::var(name).ok().filter(|value| !value.is_empty())
    })
}

/// Looks up an environment variable; empty counts as unset.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn resolve_in(path: &Path, profile: Option<&str>, env: Env) -> Result<Resolved, ConfigError> {
    let named = profile
        .map(str::to_string)
        .or_else(|| env(PROFILE_VARIABLE));
    if let Some(name) = named {
        return from_profile(&ProfileFile::load(path)?, &name);
    }
    if env("DATABRICKS_HOST").is_some() || env("DATABRICKS_TOKEN").is_some() {
        return from_environment(env);
    }
    let file = ProfileFile::load(path)?;
    let has_anything = ["host", "token", "username", "password"]
        .iter()
        .any(|key| file.get(DEFAULT_PROFILE, key).is_some());
    if !has_anything {
        return Err(ConfigError::NotConfigured {
            path: path.to_path_buf(),
        });
    }
    from_profile(&file, DEFAULT_PROFILE)
}

fn from_profile(file: &ProfileFile, name: &str) -> Result<Resolved, ConfigError> {
    if !file.has_profile(name) {
        // A missing file loads as an empty one; say so rather than "it has no profiles".
        if !file.path().exists() {
            return Err(ConfigError::ConfigFileMissing {
                profile: name.to_string(),
                path: file.path().to_path_buf(),
            });
        }
        return Err(ConfigError::ProfileNotFound {
            profile: name.to_string(),
            path: file.path().to_path_buf(),
            available: file.profile_names(),
        });
    }
    let get = |key: &str| file.get(name, key).filter(|value| !value.is_empty());
    let incomplete = |missing| ConfigError::IncompleteProfile {
        profile: name.to_string(),
        path: file.path().to_path_buf(),
        missing,
    };
    let source = Source::Profile {
        name: name.to_string(),
        path: file.path().to_path_buf(),
    };
    let host = get("host").ok_or_else(|| incomplete("host"))?;
    let auth = match (get("token"), get("username"), get("password")) {
        (Some(token), _, _) => Credentials::Token(Secret::new(token)),
        (None, Some(username), Some(password)) => Credentials::Basic {
            username,
            password: Secret::new(password),
        },
        (None, Some(_), None) => return Err(incomplete("password")),
        (None, None, Some(_)) => return Err(incomplete("username")),
        (None, None, None) => return Err(incomplete("token (nor username and password)")),
    };
    Ok(Resolved {
        host: checked_host("host", &host, &source)?,
        auth,
        insecure: get("insecure").is_some_and(|value| is_true(&value)),
        http_timeout_seconds: seconds(&get, "http_timeout_seconds", &source)?,
        retry_timeout_seconds: seconds(&get, "retry_timeout_seconds", &source)?,
        source,
    })
}

/// `DATABRICKS_HOST` with `DATABRICKS_TOKEN`, or with `DATABRICKS_USERNAME` and
/// `DATABRICKS_PASSWORD`: the whole configuration, nothing read from the file.
fn from_environment(env: Env) -> Result<Resolved, ConfigError> {
    let incomplete = |missing| ConfigError::IncompleteEnvironment { missing };
    let host = env("DATABRICKS_HOST").ok_or_else(|| incomplete("DATABRICKS_HOST"))?;
    let auth = match (
        env("DATABRICKS_TOKEN"),
        env("DATABRICKS_USERNAME"),
        env("DATABRICKS_PASSWORD"),
    ) {
        (Some(token), _, _) => Credentials::Token(Secret::new(token)),
        (None, Some(username), Some(password)) => Credentials::Basic {
            username,
            password: Secret::new(password),
        },
        (None, Some(_), None) => return Err(incomplete("DATABRICKS_PASSWORD")),
        (None, None, Some(_)) => return Err(incomplete("DATABRICKS_USERNAME")),
        (None, None, None) => return Err(incomplete("DATABRICKS_TOKEN")),
    };
    let source = Source::Environment;
    Ok(Resolved {
        host: checked_host("DATABRICKS_HOST", &host, &source)?,
        auth,
        insecure: env("DATABRICKS_INSECURE").is_some_and(|value| is_true(&value)),
        http_timeout_seconds: None,
        retry_timeout_seconds: None,
        source,
    })
}

fn checked_host(setting: &str, host: &str, source: &Source) -> Result<String, ConfigError> {
    normalize_host(host).map_err(|error| ConfigError::InvalidSetting {
        setting: setting.to_string(),
        origin: source.clone(),
        problem: error.to_string(),
    })
}

/// An optional positive number of seconds.
fn seconds(
    get: &dyn Fn(&str) -> Option<String>,
    key: &str,
    source: &Source,
) -> Result<Option<u64>, ConfigError> {
    let Some(value) = get(key) else {
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
        match &resolved.auth {
            Credentials::Token(token) => token.expose(),
            Credentials::Basic { .. } => panic!("expected a token, got {resolved:?}"),
        }
    }

    #[test]
    fn a_named_profile_is_read_from_its_section_only() {
        let setup = Setup::new(Some(TWO_PROFILES)).env("DATABRICKS_HOST", "https://env");
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
        let setup = Setup::new(Some("[DEFAULT]\ntoken = t\n[dev]\nhost = https://dev\n"));
        let error = setup.resolve(Some("dev")).unwrap_err();
        assert!(
            matches!(&error, ConfigError::IncompleteProfile { profile, missing, .. }
                if profile == "dev" && missing.starts_with("token")),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("databricks configure --token --profile dev")
        );
    }

    #[test]
    fn a_profile_without_host_or_half_of_basic_auth_is_incomplete() {
        for (text, expected) in [
            ("[p]\ntoken = t\n", "host"),
            ("[p]\nhost = h\nusername = u\n", "password"),
            ("[p]\nhost = h\npassword = pw\n", "username"),
            (
                "[p]\nhost = h\ntoken =\n",
                "token (nor username and password)",
            ),
        ] {
            let error = Setup::new(Some(text)).resolve(Some("p")).unwrap_err();
            assert!(
                matches!(error, ConfigError::IncompleteProfile { missing, .. } if missing == expected),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_environment_is_the_whole_configuration() {
        let setup = Setup::new(Some(TWO_PROFILES))
            .env("DATABRICKS_HOST", "http://127.0.0.1:8080/")
            .env("DATABRICKS_TOKEN", "t-env")
            .env("DATABRICKS_INSECURE", "YES");
        let resolved = setup.resolve(None).unwrap();
        assert_eq!(resolved.host, "http://127.0.0.1:8080");
        assert_eq!(token(&resolved), "t-env");
        assert!(resolved.insecure);
        assert_eq!(resolved.source, Source::Environment);
    }

    #[test]
    fn the_environment_may_use_basic_auth() {
        let setup = Setup::new(None)
            .env("DATABRICKS_HOST", "h.example.com")
            .env("DATABRICKS_USERNAME", "me")
            .env("DATABRICKS_PASSWORD", "pw");
        let resolved = setup.resolve(None).unwrap();
        let Credentials::Basic { username, password } = &resolved.auth else {
            panic!("expected basic auth");
        };
        assert_eq!((username.as_str(), password.expose()), ("me", "pw"));
        assert!(!resolved.insecure);
    }

    #[test]
    fn a_missing_half_of_the_environment_is_named() {
        for (name, value, missing) in [
            ("DATABRICKS_HOST", "https://h", "DATABRICKS_TOKEN"),
            ("DATABRICKS_TOKEN", "t", "DATABRICKS_HOST"),
        ] {
            let setup = Setup::new(Some(TWO_PROFILES)).env(name, value);
            let error = setup.resolve(None).unwrap_err();
            assert!(
                matches!(error, ConfigError::IncompleteEnvironment { missing: m } if m == missing),
                "{name}"
            );
        }
        let setup = Setup::new(None)
            .env("DATABRICKS_HOST", "https://h")
            .env("DATABRICKS_USERNAME", "me");
        let error = setup.resolve(None).unwrap_err();
        assert!(
            error.to_string().contains("DATABRICKS_PASSWORD is not set"),
            "{error}"
        );
    }

    #[test]
    fn otherwise_the_default_profile_is_used() {
        let setup = Setup::new(Some(TWO_PROFILES)).env("DATABRICKS_USERNAME", "ignored");
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
    fn a_token_wins_over_username_and_password() {
        let text = "[DEFAULT]\nhost = h\nusername = u\npassword = p\ntoken = t\n";
        assert_eq!(token(&Setup::new(Some(text)).resolve(None).unwrap()), "t");
        let text = "[DEFAULT]\nhost = h\nusername = u\npassword = p\n";
        let resolved = Setup::new(Some(text)).resolve(None).unwrap();
        assert!(matches!(resolved.auth, Credentials::Basic { .. }));
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
