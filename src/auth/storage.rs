//! Token storage shared with the Go CLI: `~/.databricks/token-cache.json`, format version 1
//! exactly as it writes it (`{"version": 1, "tokens": {KEY: oauth2.Token}}`, two-space indent,
//! keys sorted, no trailing newline), directory 0700, file 0600, replaced atomically and only
//! under the config file's kind of cross-process lock (`config::lock`; the Go CLI takes none,
//! and two processes refreshing at once would lose a rotated refresh token).
//!
//! `TokenStore` is the seam for the OS keyring backend of the next issue.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::error::AuthError;
use super::token::Token;
use crate::config::lock::FileLock;
use crate::secret::Secret;

/// How long another process may hold the lock: a refresh under it takes one token request.
const LOCK_WAIT: Duration = Duration::from_secs(90);

/// Keys of the entries this program adds (M2M and federation tokens kept across invocations);
/// the Go CLI ignores them.
pub const OWN_KEY_PREFIX: &str = "databricks-secrets/";

/// Own entries expired longer than this are dropped when the file is written.
const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A token as stored, with the token endpoint it came from (the discovery answer, kept so that
/// the next invocation needs no discovery request either; the Go CLI ignores the field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    pub token: Token,
    pub token_endpoint: Option<String>,
}

/// Proof that the store's cross-process lock is held; released when dropped.
pub struct StoreLock {
    _lock: FileLock,
}

/// Where tokens are kept between invocations.
pub trait TokenStore: Send + Sync + fmt::Debug {
    fn load(&self, key: &str) -> Result<Option<StoredToken>, AuthError>;

    /// Waits for the cross-process lock (for a read-refresh-write that must not interleave).
    fn lock(&self) -> Result<StoreLock, AuthError>;

    /// Stores every entry at once; `_lock` shows the caller holds the lock.
    fn save(&self, lock: &StoreLock, entries: &[(String, StoredToken)]) -> Result<(), AuthError>;

    /// Removes the entries of `keys` (`auth logout`); whether there was any.
    fn remove(&self, lock: &StoreLock, keys: &[&str]) -> Result<bool, AuthError>;
}

#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
}

impl FileTokenStore {
    pub fn new(path: PathBuf) -> FileTokenStore {
        FileTokenStore { path }
    }

    /// `~/.databricks/token-cache.json`.
    pub fn in_home(home: &Path) -> FileTokenStore {
        FileTokenStore::new(home.join(".databricks").join("token-cache.json"))
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Map<String, Value>, AuthError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(error) => {
                return Err(self.problem(&format!("cannot read it: {error}")));
            }
        };
        if text.trim().is_empty() {
            return Ok(Map::new());
        }
        let file: Value = serde_json::from_str(&text)
            .map_err(|error| self.problem(&format!("parse: {error}")))?;
        let version = file.get("version").and_then(Value::as_i64).unwrap_or(0);
        if version != 1 {
            return Err(self.problem(&format!("needs version 1, got version {version}")));
        }
        Ok(file
            .get("tokens")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default())
    }

    fn problem(&self, what: &str) -> AuthError {
        AuthError::Failed(format!(
            "token cache {}: {what}; move the file away and run `databricks auth login` again",
            self.path.display()
        ))
    }

    fn write(&self, tokens: Map<String, Value>) -> Result<(), AuthError> {
        let sorted: BTreeMap<String, Value> = tokens.into_iter().collect();
        let file = json!({ "version": 1, "tokens": sorted });
        let text = serde_json::to_string_pretty(&file)
            .map_err(|error| self.problem(&format!("cannot encode: {error}")))?;
        let directory = self.path.parent().unwrap_or(Path::new("."));
        let cannot = |error: std::io::Error| {
            AuthError::Failed(format!(
                "cannot write the token cache {}: {error}; check the permissions of {}",
                self.path.display(),
                directory.display()
            ))
        };
        create_private_directory(directory).map_err(cannot)?;
        let mut temporary = tempfile::Builder::new()
            .prefix(".token-cache-")
            .suffix(".tmp")
            .tempfile_in(directory)
            .map_err(cannot)?;
        temporary.write_all(text.as_bytes()).map_err(cannot)?;
        temporary.as_file().sync_all().map_err(cannot)?;
        temporary
            .persist(&self.path)
            .map_err(|error| cannot(error.error))?;
        Ok(())
    }
}

impl TokenStore for FileTokenStore {
    fn load(&self, key: &str) -> Result<Option<StoredToken>, AuthError> {
        let tokens = self.read()?;
        Ok(tokens.get(key).and_then(stored_from_json))
    }

    fn lock(&self) -> Result<StoreLock, AuthError> {
        let directory = self.path.parent().unwrap_or(Path::new("."));
        create_private_directory(directory).map_err(|error| {
            AuthError::Failed(format!(
                "cannot create {}: {error}; check the permissions of your home directory",
                directory.display()
            ))
        })?;
        let lock = FileLock::acquire(&self.path, LOCK_WAIT)
            .map_err(|error| AuthError::Failed(format!("token cache: {error}")))?;
        Ok(StoreLock { _lock: lock })
    }

    fn save(&self, _lock: &StoreLock, entries: &[(String, StoredToken)]) -> Result<(), AuthError> {
        let mut tokens = self.read()?;
        let now = SystemTime::now();
        tokens.retain(|key, entry| !key.starts_with(OWN_KEY_PREFIX) || !is_stale(entry, now));
        for (key, stored) in entries {
            tokens.insert(key.clone(), stored_to_json(stored));
        }
        self.write(tokens)
    }

    fn remove(&self, _lock: &StoreLock, keys: &[&str]) -> Result<bool, AuthError> {
        let mut tokens = self.read()?;
        let before = tokens.len();
        tokens.retain(|key, _| !keys.contains(&key.as_str()));
        if tokens.len() == before {
            return Ok(false);
        }
        self.write(tokens)?;
        Ok(true)
    }
}

/// An entry as the Go CLI writes an `oauth2.Token`, field order included.
pub(super) fn stored_to_json(stored: &StoredToken) -> Value {
    let token = &stored.token;
    let mut entry = Map::new();
    entry.insert("access_token".into(), token.access_token.expose().into());
    if !token.token_type.is_empty() {
        entry.insert("token_type".into(), token.token_type.clone().into());
    }
    if let Some(refresh) = &token.refresh_token {
        entry.insert("refresh_token".into(), refresh.expose().into());
    }
    entry.insert("expiry".into(), format_expiry(token.expiry).into());
    if let Some(lifetime) = token.lifetime {
        entry.insert("expires_in".into(), lifetime.as_secs().into());
    }
    if let Some(endpoint) = &stored.token_endpoint {
        entry.insert("token_endpoint".into(), endpoint.clone().into());
    }
    Value::Object(entry)
}

pub(super) fn stored_from_json(entry: &Value) -> Option<StoredToken> {
    let text = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    };
    let access_token = text("access_token")?;
    Some(StoredToken {
        token: Token {
            access_token: Secret::new(access_token),
            token_type: text("token_type").unwrap_or_default().to_string(),
            expiry: text("expiry").and_then(parse_expiry),
            refresh_token: text("refresh_token").map(Secret::new),
            lifetime: entry
                .get("expires_in")
                .and_then(Value::as_u64)
                .map(Duration::from_secs),
        },
        token_endpoint: text("token_endpoint").map(str::to_string),
    })
}

fn is_stale(entry: &Value, now: SystemTime) -> bool {
    entry
        .get("expiry")
        .and_then(Value::as_str)
        .and_then(parse_expiry)
        .is_some_and(|expiry| expiry + STALE_AFTER < now)
}

/// Go's zero time (`0001-01-01T00:00:00Z`) means "never expires".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn format_expiry(expiry: Option<SystemTime>) -> String {
    expiry
        .and_then(|time| jiff::Timestamp::try_from(time).ok())
        .map_or_else(|| ZERO_TIME.to_string(), |timestamp| timestamp.to_string())
}

/// RFC 3339 with any offset, as Go writes it (local time with offset, nanoseconds).
fn parse_expiry(text: &str) -> Option<SystemTime> {
    let timestamp: jiff::Timestamp = text.parse().ok()?;
    let time = SystemTime::from(timestamp);
    (time > UNIX_EPOCH).then_some(time)
}

fn create_private_directory(directory: &Path) -> std::io::Result<()> {
    if directory.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(directory)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(access: &str, refresh: Option<&str>, expiry: &str) -> StoredToken {
        StoredToken {
            token: Token {
                access_token: Secret::new(access),
                token_type: "Bearer".into(),
                expiry: parse_expiry(expiry),
                refresh_token: refresh.map(Secret::new),
                lifetime: None,
            },
            token_endpoint: None,
        }
    }

    #[test]
    fn reads_what_the_go_cli_writes() {
        let directory = tempfile::tempdir().unwrap();
        let store = FileTokenStore::in_home(directory.path());
        std::fs::create_dir(directory.path().join(".databricks")).unwrap();
        std::fs::write(
            store.path(),
            r#"{
  "version": 1,
  "tokens": {
    "test-profile": {
      "access_token": "cached-access-token",
      "token_type": "Bearer",
      "refresh_token": "test-refresh-token",
      "expiry": "2026-02-20T14:37:20.935183+01:00"
    }
  }
}"#,
        )
        .unwrap();
        let stored = store.load("test-profile").unwrap().unwrap();
        assert_eq!(stored.token.access_token.expose(), "cached-access-token");
        let expected: jiff::Timestamp = "2026-02-20T13:37:20.935183Z".parse().unwrap();
        assert_eq!(stored.token.expiry, Some(SystemTime::from(expected)));
        assert!(store.load("other").unwrap().is_none());
    }

    #[test]
    fn writes_the_go_format_privately_and_keeps_other_entries() {
        let directory = tempfile::tempdir().unwrap();
        let store = FileTokenStore::in_home(directory.path());
        let lock = store.lock().unwrap();
        store
            .save(
                &lock,
                &[("b".into(), token("t1", Some("r1"), "2099-01-01T00:00:00Z"))],
            )
            .unwrap();
        store
            .save(
                &lock,
                &[("a".into(), token("t2", None, "2099-01-01T00:00:00Z"))],
            )
            .unwrap();
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert_eq!(
            text,
            r#"{
  "version": 1,
  "tokens": {
    "a": {
      "access_token": "t2",
      "token_type": "Bearer",
      "expiry": "2099-01-01T00:00:00Z"
    },
    "b": {
      "access_token": "t1",
      "token_type": "Bearer",
      "refresh_token": "r1",
      "expiry": "2099-01-01T00:00:00Z"
    }
  }
}"#
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(store.path()), 0o600);
            assert_eq!(mode(store.path().parent().unwrap()), 0o700);
        }
    }

    #[test]
    fn own_entries_long_expired_are_dropped_others_kept() {
        let directory = tempfile::tempdir().unwrap();
        let store = FileTokenStore::in_home(directory.path());
        let lock = store.lock().unwrap();
        let old = "2001-01-01T00:00:00Z";
        let own = format!("{OWN_KEY_PREFIX}old");
        store
            .save(
                &lock,
                &[
                    (own.clone(), token("x", None, old)),
                    ("go".into(), token("y", None, old)),
                ],
            )
            .unwrap();
        store
            .save(
                &lock,
                &[("new".into(), token("z", None, "2099-01-01T00:00:00Z"))],
            )
            .unwrap();
        assert!(store.load(&own).unwrap().is_none());
        assert!(store.load("go").unwrap().is_some());
    }

    use proptest::prelude::*;

    fn cache_file() -> impl Strategy<Value = Vec<u8>> {
        let pieces = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"version\"",
            "1",
            "2",
            "\"tokens\"",
            "\"p\"",
            "\"access_token\"",
            "\"expiry\"",
            "\"2099-01-01T00:00:00Z\"",
            "\"0001-01-01T00:00:00Z\"",
            "\"expires_in\"",
            "99999999999999999999",
            "null",
            "\"x\"",
        ]);
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            prop::collection::vec(pieces, 0..40).prop_map(|pieces| pieces.concat().into_bytes()),
        ]
    }

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        #[test]
        fn fuzz_token_cache(bytes in cache_file()) {
            let directory = tempfile::tempdir().unwrap();
            let store = FileTokenStore::new(directory.path().join("cache.json"));
            std::fs::write(store.path(), &bytes).unwrap();
            match store.load("p") {
                Ok(Some(stored)) => prop_assert!(!stored.token.access_token.expose().is_empty()),
                Ok(None) => {}
                Err(error) => prop_assert!(error.to_string().contains("databricks auth login")),
            }
        }
    }

    #[test]
    fn another_version_or_garbage_is_a_clear_error() {
        let directory = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(directory.path().join("cache.json"));
        std::fs::write(store.path(), r#"{"version": 2, "tokens": {}}"#).unwrap();
        let error = store.load("x").unwrap_err().to_string();
        assert!(error.contains("needs version 1, got version 2"), "{error}");
        std::fs::write(store.path(), "{}}").unwrap();
        let error = store.load("x").unwrap_err().to_string();
        assert!(error.contains("parse:"), "{error}");
    }
}
