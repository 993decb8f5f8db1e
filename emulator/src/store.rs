//! The workspace's secret scopes, secrets and ACLs, and their persistence in a state file.

use crate::error::Error;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// An ACL level. Levels nest: `Read < Write < Manage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Permission {
    Read,
    Write,
    Manage,
}

impl Permission {
    /// Parses the wire form, which is upper case only (`READ`, `WRITE`, `MANAGE`).
    pub fn parse(text: &str) -> Option<Permission> {
        match text {
            "READ" => Some(Permission::Read),
            "WRITE" => Some(Permission::Write),
            "MANAGE" => Some(Permission::Manage),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::Manage => "MANAGE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVaultMetadata {
    pub resource_id: String,
    pub dns_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredSecret {
    #[serde(
        rename = "value_base64",
        serialize_with = "to_base64",
        deserialize_with = "from_base64"
    )]
    pub value: Vec<u8>,
    pub last_updated_timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Scope {
    pub name: String,
    /// `Some` for an Azure Key Vault-backed scope (read-only, no secrets of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyvault: Option<KeyVaultMetadata>,
    /// In key order.
    #[serde(default)]
    pub secrets: BTreeMap<String, StoredSecret>,
    /// In principal order.
    #[serde(default)]
    pub acls: BTreeMap<String, Permission>,
}

impl Scope {
    pub fn backend_type(&self) -> &'static str {
        if self.keyvault.is_some() {
            "AZURE_KEYVAULT"
        } else {
            "DATABRICKS"
        }
    }
}

/// Everything the workspace stores; scopes in creation order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    pub scopes: Vec<Scope>,
}

impl State {
    pub fn scope(&self, name: &str) -> Option<&Scope> {
        self.scopes.iter().find(|scope| scope.name == name)
    }

    pub fn scope_mut(&mut self, name: &str) -> Option<&mut Scope> {
        self.scopes.iter_mut().find(|scope| scope.name == name)
    }

    /// The existing scope whose name equals `name` ignoring case (names are ASCII).
    pub fn scope_ignoring_case(&self, name: &str) -> Option<&Scope> {
        self.scopes
            .iter()
            .find(|scope| scope.name.eq_ignore_ascii_case(name))
    }

    /// Reads a state file; a missing file is an empty workspace.
    pub fn load(path: &Path) -> Result<State, Error> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State::default());
            }
            Err(source) => {
                return Err(Error::ReadState {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let file: StateFile =
            serde_json::from_slice(&text).map_err(|error| Error::InvalidState {
                path: path.to_path_buf(),
                detail: error.to_string(),
            })?;
        if file.version != STATE_FILE_VERSION {
            return Err(Error::InvalidState {
                path: path.to_path_buf(),
                detail: format!("unsupported version {}", file.version),
            });
        }
        Ok(file.state)
    }

    /// Writes the state atomically: a private (0600) temporary file in the same directory,
    /// renamed over `path`.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let file = StateFileRef {
            version: STATE_FILE_VERSION,
            state: self,
        };
        let text = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut temporary = tempfile::NamedTempFile::new_in(directory)?;
        temporary.write_all(&text)?;
        temporary.as_file().sync_all()?;
        temporary.persist(path).map_err(|error| error.error)?;
        Ok(())
    }
}

const STATE_FILE_VERSION: u32 = 1;

#[derive(Deserialize)]
struct StateFile {
    version: u32,
    #[serde(flatten)]
    state: State,
}

#[derive(Serialize)]
struct StateFileRef<'a> {
    version: u32,
    #[serde(flatten)]
    state: &'a State,
}

fn to_base64<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&BASE64.encode(bytes))
}

fn from_base64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    BASE64.decode(text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_state() -> State {
        let mut scope = Scope {
            name: "prod".into(),
            keyvault: None,
            secrets: BTreeMap::new(),
            acls: BTreeMap::new(),
        };
        scope.secrets.insert(
            "k".into(),
            StoredSecret {
                value: vec![0, 255, 10],
                last_updated_timestamp: 42,
            },
        );
        scope.acls.insert("users".into(), Permission::Manage);
        State {
            scopes: vec![scope],
        }
    }

    #[test]
    fn permissions_nest() {
        assert!(Permission::Read < Permission::Write && Permission::Write < Permission::Manage);
        assert_eq!(Permission::parse("MANAGE"), Some(Permission::Manage));
        assert_eq!(Permission::parse("read"), None);
    }

    #[test]
    fn save_then_load_round_trips_with_private_mode() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("state.json");
        let state = sample_state();
        state.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), state);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(directory.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
    }

    #[test]
    fn missing_file_is_empty_and_garbage_is_an_error() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("absent.json");
        assert_eq!(State::load(&path).unwrap(), State::default());
        std::fs::write(&path, b"not json").unwrap();
        assert!(matches!(
            State::load(&path),
            Err(Error::InvalidState { .. })
        ));
    }

    #[test]
    fn lookup_ignoring_case() {
        let state = sample_state();
        assert!(state.scope("PROD").is_none());
        assert_eq!(state.scope_ignoring_case("PROD").unwrap().name, "prod");
    }
}
