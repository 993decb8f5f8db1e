//! Which credentials a request carries: token sources for every OAuth and Azure method, the
//! token storage shared with the Go CLI, and a provider that caches tokens and refreshes them
//! before they expire (single-flight: one refresh, however many requests wait for it).
//!
//! Layer: below `cli` (which picks the method from the configuration), above `config` (file
//! locations, the lock) and `api` (which asks a provider for the headers of each request).
//!
//! - `token`: the `Token` every source produces, and the OAuth token answer.
//! - `http`: requests to token endpoints, with their own retry budget and a redacted log.
//! - `discovery`: the workspace's OAuth endpoints.
//! - `m2m`, `federation`, `azure`, `azure_cli`, `u2m`: one source per method.
//! - `storage`: `~/.databricks/token-cache.json` (format version 1 of the Go CLI).
//! - `keyring`: the OS keyring entries of the Go CLI, and the choice between the two storages.
//! - `login`: `databricks auth login`'s PKCE flow and loopback callback server.
//! - `cache`: the refreshing, single-flight token cache, optionally kept across invocations.
//! - `provider`: the request headers of a token method (Azure's management header included).

mod api_provider;
mod azure;
mod azure_cli;
mod cache;
mod chain;
mod discovery;
mod error;
mod federation;
mod http;
mod keyring;
mod login;
mod m2m;
mod provider;
mod storage;
mod token;
mod u2m;

#[cfg(test)]
mod tests;

pub use api_provider::ChainCredentials;
pub use chain::Environment;
pub use discovery::Discovery;
pub use error::AuthError;
pub use http::{DebugLog, RetryRules, TokenHttp};
pub use keyring::{
    KeyringProblem, KeyringTokenStore, STORAGE_SETTING, STORAGE_VARIABLE, StorageMode, login_store,
    probe as probe_keyring, storage_choice,
};
pub use login::{Browser, CallbackServer, Pkce, authorization_url, exchange_code, random_state};
pub use storage::{FileTokenStore, StoredToken, TokenStore};
pub use token::{Token, TokenSource};
pub use u2m::DatabricksCliTokens;
