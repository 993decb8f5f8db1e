//! Token storage in the OS keyring, entry for entry as the Go CLI (zalando/go-keyring) keeps it:
//! service `databricks-cli`, account = the cache key (profile name or host), secret = compact
//! JSON `{"token": {<oauth2.Token fields>}}`. On macOS the Keychain item holds
//! `go-keyring-base64:` and the base64 of that JSON; on Windows the generic credential's target
//! is `databricks-cli:<key>` and its blob the UTF-8 bytes; on Linux the Secret Service item has
//! the attributes `service` and `username`.
//!
//! Which storage is used follows the Go CLI: `DATABRICKS_AUTH_STORAGE`, else `[__settings__]
//! auth_storage`, else `secure` (the keyring) by default, falling back to the plaintext file
//! where no keyring is reachable (headless Linux without D-Bus). Keyring calls run on their own
//! thread with a timeout, since a locked keyring may wait for a password prompt.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use serde_json::{Value, json};

use super::error::AuthError;
use super::storage::{StoreLock, StoredToken, TokenStore, stored_from_json, stored_to_json};
use crate::config::ProfileFile;

/// The keyring service the Go CLI's entries are under.
pub const SERVICE: &str = "databricks-cli";

/// The environment variable that picks the storage.
pub const STORAGE_VARIABLE: &str = "DATABRICKS_AUTH_STORAGE";

/// The `[__settings__]` key that picks it.
pub const STORAGE_SETTING: &str = "auth_storage";

const SETTINGS_SECTION: &str = "__settings__";

/// How long one keyring operation may take (the Go CLI's limit).
const KEYRING_TIMEOUT: Duration = Duration::from_secs(3);

/// The prefix go-keyring puts before base64 secrets in the macOS Keychain.
#[cfg(any(target_os = "macos", test))]
const GO_BASE64_PREFIX: &str = "go-keyring-base64:";

/// `plaintext` (the file) or `secure` (the OS keyring).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageMode {
    Plaintext,
    Secure,
}

impl StorageMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageMode::Plaintext => "plaintext",
            StorageMode::Secure => "secure",
        }
    }

    fn parse(text: &str) -> Option<StorageMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "plaintext" => Some(StorageMode::Plaintext),
            "secure" => Some(StorageMode::Secure),
            _ => None,
        }
    }
}

/// The storage mode and whether someone asked for it (an explicit `secure` never falls back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageChoice {
    pub mode: StorageMode,
    pub explicit: bool,
}

impl StorageChoice {
    /// From `DATABRICKS_AUTH_STORAGE` (first) and the `auth_storage` setting; empty = unset.
    pub fn select(variable: Option<&str>, setting: Option<&str>) -> Result<StorageChoice, String> {
        let given = [(STORAGE_VARIABLE, variable), (STORAGE_SETTING, setting)]
            .into_iter()
            .find_map(|(name, value)| value.filter(|v| !v.trim().is_empty()).map(|v| (name, v)));
        match given {
            None => Ok(StorageChoice {
                mode: StorageMode::Secure,
                explicit: false,
            }),
            Some((name, value)) => StorageMode::parse(value)
                .map(|mode| StorageChoice {
                    mode,
                    explicit: true,
                })
                .ok_or_else(|| {
                    format!("{name}: unknown storage mode {value:?} (want plaintext or secure)")
                }),
        }
    }
}

/// The storage mode `DATABRICKS_AUTH_STORAGE` (`variable`) and `[__settings__] auth_storage` of
/// the config file ask for.
pub fn storage_choice(
    config_path: &Path,
    variable: Option<&str>,
) -> Result<StorageChoice, AuthError> {
    let setting = ProfileFile::load(config_path)
        .ok()
        .and_then(|file| file.get(SETTINGS_SECTION, STORAGE_SETTING));
    StorageChoice::select(variable, setting.as_deref()).map_err(|problem| {
        AuthError::Failed(format!(
            "{problem}; set {STORAGE_VARIABLE}, or `{STORAGE_SETTING}` in [{SETTINGS_SECTION}] of \
             {}, to plaintext or secure",
            config_path.display()
        ))
    })
}

/// The storage the tokens of `auth login` are read from: as chosen, with a default `secure`
/// read through `file` where no keyring answers (the Go CLI's read path).
pub fn login_store(
    file: Arc<dyn TokenStore>,
    config_path: &Path,
    variable: Option<&str>,
) -> Result<Arc<dyn TokenStore>, AuthError> {
    let choice = storage_choice(config_path, variable)?;
    Ok(match choice.mode {
        StorageMode::Plaintext => file,
        StorageMode::Secure => Arc::new(KeyringTokenStore::new(file, !choice.explicit)),
    })
}

/// Why a keyring operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringProblem {
    /// No keyring answers here (no D-Bus session, no Secret Service, ...).
    Unreachable(String),
    /// It did not answer in time (perhaps waiting for the user to unlock it).
    TimedOut,
}

impl fmt::Display for KeyringProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyringProblem::Unreachable(detail) => f.write_str(detail),
            KeyringProblem::TimedOut => write!(
                f,
                "the OS keyring did not answer within {} s",
                KEYRING_TIMEOUT.as_secs()
            ),
        }
    }
}

/// Whether the keyring takes an entry: writes and deletes a probe entry, as the Go CLI does
/// before a login stores tokens there.
pub fn probe() -> Result<(), KeyringProblem> {
    let account = format!(
        "__probe_{}",
        super::login::random_state().unwrap_or_default()
    );
    let written = with_timeout({
        let account = account.clone();
        move || os::write(&account, "probe")
    })?;
    written.map_err(KeyringProblem::Unreachable)?;
    with_timeout(move || os::delete(&account).map(|_| ()))?.map_err(KeyringProblem::Unreachable)
}

/// Runs a keyring call on its own thread, giving up after [`KEYRING_TIMEOUT`].
fn with_timeout<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T, KeyringProblem> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    receiver
        .recv_timeout(KEYRING_TIMEOUT)
        .map_err(|_| KeyringProblem::TimedOut)
}

/// Tokens in the OS keyring. The cross-process lock is the plaintext store's (the keyring has
/// none), and with `fallback_to_file` the file stands in for a keyring that does not answer
/// (when `secure` is only the default: the Go CLI's read path, and refreshed tokens go back there).
#[derive(Debug, Clone)]
pub struct KeyringTokenStore {
    file: Arc<dyn TokenStore>,
    fallback_to_file: bool,
}

impl KeyringTokenStore {
    pub fn new(file: Arc<dyn TokenStore>, fallback_to_file: bool) -> KeyringTokenStore {
        KeyringTokenStore {
            file,
            fallback_to_file,
        }
    }

    /// Runs a keyring call; `None` when no keyring answers and the file stands in for it.
    fn keyring<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<Option<T>, AuthError> {
        match with_timeout(call).and_then(|result| result.map_err(KeyringProblem::Unreachable)) {
            Ok(value) => Ok(Some(value)),
            Err(KeyringProblem::Unreachable(_)) if self.fallback_to_file => Ok(None),
            Err(problem) => Err(Self::unreachable(&problem)),
        }
    }

    fn unreachable(problem: &KeyringProblem) -> AuthError {
        AuthError::Failed(format!(
            "OS keyring unreachable: {problem} (set {STORAGE_VARIABLE}=plaintext or run \
             `databricks auth login` to use file-based token storage)"
        ))
    }
}

impl TokenStore for KeyringTokenStore {
    fn load(&self, key: &str) -> Result<Option<StoredToken>, AuthError> {
        let account = key.to_string();
        match self.keyring(move || os::read(&account))? {
            Some(secret) => Ok(secret.as_deref().and_then(decode_entry)),
            None => self.file.load(key),
        }
    }

    fn lock(&self) -> Result<StoreLock, AuthError> {
        self.file.lock()
    }

    fn save(&self, lock: &StoreLock, entries: &[(String, StoredToken)]) -> Result<(), AuthError> {
        for (key, stored) in entries {
            let (account, secret) = (key.clone(), encode_entry(stored));
            if self
                .keyring(move || os::write(&account, &secret))?
                .is_none()
            {
                return self.file.save(lock, entries);
            }
        }
        Ok(())
    }

    fn remove(&self, lock: &StoreLock, keys: &[&str]) -> Result<bool, AuthError> {
        let mut removed = false;
        for key in keys {
            let account = key.to_string();
            match self.keyring(move || os::delete(&account))? {
                Some(deleted) => removed |= deleted,
                None => return self.file.remove(lock, keys),
            }
        }
        Ok(removed)
    }
}

/// The Go CLI's keyring secret: `{"token": {...}}`, compact.
fn encode_entry(stored: &StoredToken) -> String {
    json!({ "token": stored_to_json(stored) }).to_string()
}

fn decode_entry(secret: &str) -> Option<StoredToken> {
    let value: Value = serde_json::from_str(secret).ok()?;
    stored_from_json(value.get("token")?)
}

/// What the macOS Keychain holds, as go-keyring writes it.
#[cfg(any(target_os = "macos", test))]
fn to_keychain_text(secret: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
    format!("{GO_BASE64_PREFIX}{encoded}")
}

/// A Keychain item's text: go-keyring's base64 form, or plain.
#[cfg(any(target_os = "macos", test))]
fn from_keychain_text(text: &str) -> Option<String> {
    use base64::Engine as _;
    match text.strip_prefix(GO_BASE64_PREFIX) {
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(text.to_string()),
    }
}

/// The system keyring calls: `Ok(None)` / `Ok(false)` when there is no such entry.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
mod os {
    use super::SERVICE;

    fn entry(account: &str) -> Result<keyring::Entry, String> {
        #[cfg(windows)]
        let entry =
            keyring::Entry::new_with_target(&format!("{SERVICE}:{account}"), SERVICE, account);
        #[cfg(not(windows))]
        let entry = keyring::Entry::new(SERVICE, account);
        entry.map_err(|error| error.to_string())
    }

    pub fn read(account: &str) -> Result<Option<String>, String> {
        match entry(account)?.get_secret() {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| "an entry is not UTF-8")?;
                #[cfg(target_os = "macos")]
                let text = super::from_keychain_text(&text).ok_or("an entry is not base64")?;
                Ok(Some(text))
            }
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(error) => Err(error.to_string()),
        }
    }

    pub fn write(account: &str, secret: &str) -> Result<(), String> {
        #[cfg(target_os = "macos")]
        let secret = super::to_keychain_text(secret);
        entry(account)?
            .set_secret(secret.as_bytes())
            .map_err(|error| error.to_string())
    }

    pub fn delete(account: &str) -> Result<bool, String> {
        match entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// Elsewhere there is no keyring: the default storage falls back to the file.
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod os {
    const NONE: &str = "no OS keyring is supported on this system";

    pub fn read(_account: &str) -> Result<Option<String>, String> {
        Err(NONE.to_string())
    }

    pub fn write(_account: &str, _secret: &str) -> Result<(), String> {
        Err(NONE.to_string())
    }

    pub fn delete(_account: &str) -> Result<bool, String> {
        Err(NONE.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::Token;
    use crate::secret::Secret;

    #[test]
    fn the_variable_beats_the_setting_and_secure_is_the_default() {
        let choice = |variable, setting| StorageChoice::select(variable, setting);
        assert_eq!(
            choice(None, None),
            Ok(StorageChoice {
                mode: StorageMode::Secure,
                explicit: false
            })
        );
        assert_eq!(
            choice(Some(" PlainText "), Some("secure")).unwrap().mode,
            StorageMode::Plaintext
        );
        assert_eq!(
            choice(Some(""), Some("secure")),
            Ok(StorageChoice {
                mode: StorageMode::Secure,
                explicit: true
            })
        );
        assert_eq!(
            choice(Some("bogus"), None).unwrap_err(),
            "DATABRICKS_AUTH_STORAGE: unknown storage mode \"bogus\" (want plaintext or secure)"
        );
        assert!(
            choice(None, Some("vault"))
                .unwrap_err()
                .starts_with("auth_storage: unknown storage mode")
        );
    }

    #[test]
    fn entries_are_the_go_clis_json_and_macos_text() {
        let expiry: jiff::Timestamp = "2099-01-01T00:00:00Z".parse().unwrap();
        let stored = StoredToken {
            token: Token {
                access_token: Secret::new("at"),
                token_type: "Bearer".into(),
                expiry: Some(expiry.into()),
                refresh_token: Some(Secret::new("rt")),
                lifetime: None,
            },
            token_endpoint: None,
        };
        let secret = encode_entry(&stored);
        assert_eq!(
            secret,
            r#"{"token":{"access_token":"at","token_type":"Bearer","refresh_token":"rt","expiry":"2099-01-01T00:00:00Z"}}"#
        );
        assert_eq!(decode_entry(&secret), Some(stored));
        let keychain = to_keychain_text(&secret);
        assert!(keychain.starts_with("go-keyring-base64:eyJ0b2tlbiI6"));
        assert_eq!(
            from_keychain_text(&keychain).as_deref(),
            Some(secret.as_str())
        );
        assert_eq!(from_keychain_text("plain").as_deref(), Some("plain"));
    }
}
