//! The config file (`~/.databrickscfg`): where it is, reading it as Python's configparser does,
//! deciding which credentials a command uses, and rewriting it line by line, atomically.

mod file;
mod host;
mod ini;
pub mod lock;
mod resolve;
mod unified;
mod writable;

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

pub use file::ProfileFile;
pub use host::{is_loopback_host, normalize_host};
pub use ini::Problem;
pub use resolve::{Resolved, Source, resolve};
pub use unified::{AUTH_DOCS, Origin, Setting, UnifiedConfig, attribute_named};

/// The profile used when none is named: the file's `[DEFAULT]` section, which configparser (the
/// legacy CLI's reader) also treats specially.
pub const DEFAULT_PROFILE: &str = "DEFAULT";
/// The environment variable that names a profile when `--profile` is not given.
pub const PROFILE_VARIABLE: &str = "DATABRICKS_CONFIG_PROFILE";

/// Every way reading, resolving or writing the configuration can fail; each message says what
/// to do next. No message ever contains a token, a password or a line of the file.
#[derive(thiserror::Error, Debug)]
pub enum ConfigError {
    #[error(
        "cannot find the home directory to locate .databrickscfg; set HOME \
         (USERPROFILE on Windows) or DATABRICKS_CONFIG_FILE to the config file's path"
    )]
    NoHome,

    #[error("cannot read the config file {}: {error}; check that it is a readable file", path.display())]
    Read { path: PathBuf, error: io::Error },

    #[error(
        "cannot write the config file {}: {error}; check the permissions of the file and its directory",
        path.display()
    )]
    Write { path: PathBuf, error: io::Error },

    #[error(
        "{}, line {line}: {problem}; fix that line, or move the file away and run `databricks configure`",
        path.display()
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        problem: Problem,
    },

    #[error(
        "profile `{profile}` not found in {} ({}); run `databricks configure --token --profile {profile}` \
         to create it, or choose an existing profile",
        path.display(),
        describe_profiles(available)
    )]
    ProfileNotFound {
        profile: String,
        path: PathBuf,
        available: Vec<String>,
    },

    #[error(
        "profile `{profile}` not found: the config file {} does not exist; run \
         `databricks configure --token --profile {profile}` to create it, or set \
         DATABRICKS_CONFIG_FILE to the file that has it",
        path.display()
    )]
    ConfigFileMissing { profile: String, path: PathBuf },

    #[error(
        "profile `{profile}` in {} has no {missing}; run `databricks configure --token --profile {profile}` \
         to set it",
        path.display()
    )]
    IncompleteProfile {
        profile: String,
        path: PathBuf,
        missing: &'static str,
    },

    #[error(
        "the credentials in the environment are incomplete: {missing} is not set; set it too, \
         or unset the DATABRICKS_* variables to use the config file"
    )]
    IncompleteEnvironment { missing: &'static str },

    #[error(
        "no Databricks credentials found: the [DEFAULT] profile of {} is missing or empty and \
         DATABRICKS_HOST is not set; run `databricks configure --token`, or set DATABRICKS_HOST and \
         DATABRICKS_TOKEN",
        path.display()
    )]
    NotConfigured { path: PathBuf },

    #[error(
        "`{input}` is not a workspace URL ({reason}); give one like \
         https://adb-1234567890123456.7.azuredatabricks.net"
    )]
    InvalidHost { input: String, reason: String },

    #[error("invalid {setting} in {origin}: {problem}")]
    InvalidSetting {
        setting: String,
        origin: Source,
        problem: String,
    },

    #[error(
        "the config file {} is read-only; make it writable (chmod u+w {}) to let \
         `databricks configure` change it, or set DATABRICKS_CONFIG_FILE to another file",
        path.display(),
        path.display()
    )]
    ReadOnly { path: PathBuf },

    #[error("cannot change the config file: {0}")]
    Lock(#[from] lock::LockError),

    #[error("cannot write {what} into the config file: {reason}")]
    Unwritable { what: String, reason: &'static str },
}

fn describe_profiles(names: &[String]) -> String {
    if names.is_empty() {
        "it has no profiles".to_string()
    } else {
        format!("it has: {}", names.join(", "))
    }
}

/// `$DATABRICKS_CONFIG_FILE` (a leading `~` meaning the home directory, as in the SDKs), else
/// `.databrickscfg` in the home directory.
pub fn config_path() -> Result<PathBuf, ConfigError> {
    config_path_from(std::env::var_os("DATABRICKS_CONFIG_FILE"), home_dir())
}

/// The home directory as the Go CLI finds it (Go's `os.UserHomeDir`): `%USERPROFILE%` on
/// Windows, `$HOME` elsewhere; unset or empty means none.
pub fn home_dir() -> Option<PathBuf> {
    let variable = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(variable)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

fn config_path_from(
    config_file: Option<OsString>,
    home: Option<PathBuf>,
) -> Result<PathBuf, ConfigError> {
    let home = || home.ok_or(ConfigError::NoHome);
    let Some(file) = config_file.filter(|v| !v.is_empty()).map(PathBuf::from) else {
        return Ok(home()?.join(".databrickscfg"));
    };
    match file.strip_prefix("~") {
        Ok(in_home) => Ok(home()?.join(in_home)),
        Err(_) => Ok(file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_file_variable_wins_over_home() {
        let path = config_path_from(Some("/etc/dbcfg".into()), Some("/home/me".into())).unwrap();
        assert_eq!(path, PathBuf::from("/etc/dbcfg"));
    }

    #[test]
    fn defaults_to_databrickscfg_in_home() {
        let path = config_path_from(None, Some("/home/me".into())).unwrap();
        assert_eq!(path, PathBuf::from("/home/me/.databrickscfg"));
        let path = config_path_from(Some("".into()), Some("/home/me".into())).unwrap();
        assert_eq!(path, PathBuf::from("/home/me/.databrickscfg"));
    }

    #[test]
    fn a_leading_tilde_in_the_config_file_variable_is_the_home_directory() {
        let path = config_path_from(Some("~/cfg/team".into()), Some("/home/me".into())).unwrap();
        assert_eq!(path, PathBuf::from("/home/me/cfg/team"));
        let path = config_path_from(Some("~".into()), Some("/home/me".into())).unwrap();
        assert_eq!(path, PathBuf::from("/home/me"));
        let path = config_path_from(Some("~other/x".into()), Some("/home/me".into())).unwrap();
        assert_eq!(path, PathBuf::from("~other/x"));
        let path = config_path_from(Some("/a/~/b".into()), Some("/home/me".into())).unwrap();
        assert_eq!(path, PathBuf::from("/a/~/b"));
        let error = config_path_from(Some("~/cfg".into()), None).unwrap_err();
        assert!(matches!(error, ConfigError::NoHome));
    }

    #[test]
    fn no_home_is_an_error_that_names_the_variables() {
        let error = config_path_from(None, None).unwrap_err();
        assert!(matches!(error, ConfigError::NoHome));
        assert!(error.to_string().contains("DATABRICKS_CONFIG_FILE"));
    }

    #[test]
    fn a_missing_profile_lists_the_ones_there_are() {
        let error = ConfigError::ProfileNotFound {
            profile: "prod".into(),
            path: "/home/me/.databrickscfg".into(),
            available: vec!["DEFAULT".into(), "dev".into()],
        };
        let message = error.to_string();
        assert!(message.contains("/home/me/.databrickscfg"), "{message}");
        assert!(message.contains("it has: DEFAULT, dev"), "{message}");
        assert!(
            message.contains("databricks configure --token --profile prod"),
            "{message}"
        );
    }
}
