//! `databricks-emulator`: a local Databricks Secrets API 2.0 server for tests and offline CI.
//!
//! It speaks the eleven calls of `/api/2.0/secrets/...` with the real service's semantics:
//! names, value size, limits, case-insensitive scope uniqueness, ACLs (`READ` ⊂ `WRITE` ⊂
//! `MANAGE`), Azure Key Vault rules, and Databricks-shaped JSON errors
//! (`{"error_code": ..., "message": ...}`) for everything, including unknown paths
//! (404 `ENDPOINT_NOT_FOUND`), wrong methods (405 `METHOD_NOT_ALLOWED`), bad JSON
//! (400 `MALFORMED_REQUEST`) and bodies over 1 MiB (413 `BAD_REQUEST`). Empty lists answer `{}`.
//!
//! # Users
//!
//! `admin@example.com` is always a workspace admin. Its token is [`DEFAULT_ADMIN_TOKEN`]
//! (`dapi-emulator-admin-token`) unless tokens are given with [`Config::with_token`]
//! (`--token`). Other users come from [`Config::with_user`] (`--user NAME=TOKEN`), admins from
//! [`Config::with_admin`] (`--admin NAME`) or membership of the group `admins`, groups from
//! [`Config::with_group`] (`--group NAME=MEMBER,MEMBER`). Every user is in the group `users`.
//! Requests authenticate with `Authorization: Bearer TOKEN`, or `Basic` with the user name and
//! one of its tokens as password, or with a token the emulator issued (see "Identity
//! provider"); anything else answers 401 `UNAUTHENTICATED`. Creating an Azure Key
//! Vault-backed scope needs an Azure AD (Entra ID) token of a user: one the emulated Entra ID
//! issued to a user, or a configured token that looks like a JWT (three base64url parts,
//! starting with `eyJ`).
//!
//! # In tests
//!
//! ```no_run
//! use databricks_emulator::{Config, Emulator, Fault};
//!
//! let emulator = Emulator::start(Config::default().with_user("alice@example.com", "alice-token"))
//!     .expect("start the emulator");
//! let host = emulator.url(); // "http://127.0.0.1:PORT", already listening
//! let token = emulator.admin_token();
//! emulator.inject_fault(Fault::status(429).with_retry_after("1").with_path("/api/2.0/secrets/put"));
//! // ... run the client against `host` with `token` ...
//! let requests = emulator.requests();
//! let bytes = emulator.secret_bytes("scope", "key");
//! # let _ = (host, token, requests, bytes);
//! // stops when dropped (or with `emulator.stop()`)
//! ```
//!
//! The server runs on its own thread and Tokio runtime, so it works from plain `#[test]`
//! functions and from inside an async runtime alike.
//!
//! # Fault injection
//!
//! `POST /__emulator/faults` (admin token only) queues one fault object, or an array of them;
//! [`Emulator::inject_fault`] does the same in-process. All fields are optional:
//!
//! ```json
//! {
//!   "status": 503,              // answer this status instead of handling the request
//!   "retry_after": "2",         // Retry-After header value: seconds or an HTTP date
//!   "error_code": "TEMPORARILY_UNAVAILABLE", // JSON error body; default from the status:
//!   "message": "try later",     //   429 REQUEST_LIMIT_EXCEEDED, 503 TEMPORARILY_UNAVAILABLE,
//!                               //   502 BAD_GATEWAY, 504 DEADLINE_EXCEEDED, other 5xx
//!                               //   INTERNAL_ERROR, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED,
//!                               //   404 NOT_FOUND, other 4xx BAD_REQUEST
//!   "body": "<html>login</html>", // a raw non-JSON body instead (alone: status 200)
//!   "content_type": "text/html; charset=utf-8", // the type of `body` (this is the default)
//!   "location": "https://login.example.com/",   // Location header (alone: status 302)
//!   "delay_ms": 1500,           // wait first; without status/body/location/drop_connection
//!                               //   the request is then handled normally
//!   "drop_connection": true,    // close the socket without any answer (after delay_ms)
//!   "count": 1,                 // how many matching requests it applies to (default 1)
//!   "path": "/api/2.0/secrets/put",        // only this exact path
//!   "path_prefix": "/api/2.0/secrets/acls/", // only paths starting with this
//!   "method": "POST"            // only this method
//! }
//! ```
//!
//! Unknown fields are refused (400 `MALFORMED_REQUEST`), as is a fault that does nothing
//! (400 `INVALID_PARAMETER_VALUE`). The first queued fault that matches a request applies; faults
//! apply before authentication, like a proxy in front of the workspace. A status of 400 or more
//! without `body` answers the JSON error; a lower status without `body` has an empty body.
//! `GET /__emulator/faults` answers `{"faults": [...]}` (what is still pending, with remaining
//! counts); `DELETE /__emulator/faults` clears them.
//!
//! # Request log
//!
//! `GET /__emulator/requests` answers `{"requests": [LoggedRequest...]}` in the order the
//! requests were answered, e.g.
//!
//! ```json
//! {"method": "POST", "path": "/api/2.0/secrets/put", "query": "", "query_params": {},
//!  "body": {"scope": "s", "key": "k", "string_value": "***"}, "auth_scheme": "Bearer",
//!  "user": "admin@example.com",
//!  "status": 200, "fault": false, "received_at_ms": 1767225600000}
//! ```
//!
//! `string_value`, `bytes_value`, `value`, `token` and `password` fields (and in token requests
//! `client_secret`, `code`, `code_verifier`, `refresh_token`, `access_token`, `id_token`,
//! `assertion`, `client_assertion`, `subject_token`) are replaced by `***` at any depth, in
//! query strings too; a form body (`application/x-www-form-urlencoded`) is logged as an object;
//! `auth_scheme` is the scheme of the `Authorization` header (`Bearer`, `Basic`), never its
//! credentials; a body that is not JSON is logged as a note like `"<12 bytes, not JSON>"`;
//! `status` is `null` for a dropped connection; `user` is `null` when the request did not
//! authenticate. `DELETE /__emulator/requests` clears the log. Requests to `/__emulator/...`
//! are neither logged nor faulted.
//!
//! # Latency and rate limit (pacing)
//!
//! [`Config::with_latency`] (`--latency MS`) delays every answer except the control API's.
//! [`Config::with_rate_limit`] (`--rate-limit RPS[/BURST]`, burst default: RPS rounded up) is a
//! token bucket over `/api/2.0/secrets/...` for the whole workspace: a request finding it empty
//! is answered `429` `{"error_code": "REQUEST_LIMIT_EXCEEDED", ...}` with `Retry-After: N`
//! (whole seconds until a token is free, at least 1) unless [`Config::without_retry_after`]
//! (`--no-retry-after`). A faulted request does not take a token.
//!
//! `GET /__emulator/pacing` (admin token) answers
//! `{"latency_ms": 50, "rate_limit": {"requests_per_second": 200.0, "burst": 200},
//! "retry_after": true, "throttled": 12}`; `POST` with any of `latency_ms`, `rate_limit`
//! (`null` removes it; a new limit starts with a full bucket) and `retry_after` changes them;
//! `DELETE` zeroes `throttled` and refills the bucket. In-process: [`Emulator::set_latency`],
//! [`Emulator::set_rate_limit`], [`Emulator::throttled_count`], [`Emulator::reset_throttling`].
//!
//! # Identity provider
//!
//! The emulator is also the workspace's OAuth server (discovery, `/oidc/v1/token` with the
//! client credentials, authorization code + PKCE, refresh token and token exchange grants,
//! `/oidc/v1/authorize`), answers SCIM `Me`, and with [`Cloud::Azure`] emulates Entra ID
//! (`/aad/auth`, `/TENANT/oauth2/token`, the managed-identity endpoint `/msi/token`); fake
//! GitHub Actions and Azure Pipelines ID-token endpoints serve federation tests. Configure it
//! with [`Config::with_service_principal`], [`Config::with_federation_policy`],
//! [`Config::with_login_as`], [`Config::with_token_ttl`], [`Config::with_cloud`],
//! [`Config::with_azure_service_principal`] and [`Config::with_managed_identity`]; revoke
//! issued tokens with [`Emulator::revoke_tokens`]; get a user's Entra ID token with
//! [`Emulator::entra_user_token`]. The wire formats are in the crate's `README.md`.

mod ci_tokens;
mod config;
mod control;
mod entra;
mod error;
mod faults;
mod fields;
mod identity;
mod jwt;
mod oauth;
mod pacing;
mod requests;
mod scim;
mod server;
mod store;
mod workspace;

pub use ci_tokens::{AZURE_DEVOPS_ISSUER, CI_REQUEST_TOKEN, GITHUB_DEFAULT_SUBJECT, GITHUB_ISSUER};
pub use config::{
    ADMINS_GROUP, ALL_USERS_GROUP, Config, DEFAULT_ADMIN, DEFAULT_ADMIN_TOKEN, DEFAULT_MAX_SCOPES,
    DEFAULT_MAX_SECRETS_PER_SCOPE,
};
pub use entra::{
    AZURE_DATABRICKS_LOGIN_APP_ID, AZURE_SERVICE_MANAGEMENT_RESOURCE, IDENTITY_HEADER_VALUE,
};
pub use error::Error;
pub use faults::Fault;
pub use identity::{
    Cloud, DATABRICKS_CLI_CLIENT_ID, DEFAULT_AZURE_TENANT_ID, DEFAULT_TOKEN_TTL, FederationPolicy,
};
pub use pacing::RateLimit;
pub use requests::LoggedRequest;
pub use server::MAX_BODY_BYTES;
pub use store::Permission;
pub use workspace::MAX_VALUE_BYTES;

use identity::IdentityProvider;
use pacing::Pacing;
use server::Shared;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::State;
use tokio::sync::oneshot;
use workspace::{Limits, Workspace};

/// A running emulator. Stops (and frees its port) when dropped.
pub struct Emulator {
    addr: SocketAddr,
    admin_token: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds `config.bind`, loads the state file if any, and serves on a background thread.
    /// Returns once the socket is listening.
    pub fn start(config: Config) -> Result<Emulator, Error> {
        let directory = Arc::new(config.directory()?);
        let identity = IdentityProvider::new(&config, &directory)?;
        if let Some(rate_limit) = &config.rate_limit {
            rate_limit
                .validate()
                .map_err(|problem| Error::Config(format!("invalid rate limit: {problem}")))?;
        }
        let state = match &config.state_path {
            Some(path) => load_or_create_state(path)?,
            None => State::default(),
        };
        let workspace = Workspace {
            state,
            directory: Arc::clone(&directory),
            limits: Limits {
                max_scopes: config.max_scopes,
                max_secrets_per_scope: config.max_secrets_per_scope,
            },
            state_path: config.state_path.clone(),
        };
        let bind_error = |source| Error::Bind {
            addr: config.bind,
            source,
        };
        let listener = std::net::TcpListener::bind(config.bind).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(bind_error)?
        };
        let shared = Arc::new(Shared {
            addr,
            directory,
            identity,
            workspace: Mutex::new(workspace),
            faults: Mutex::default(),
            log: Mutex::default(),
            pacing: Mutex::new(Pacing::new(
                config.latency,
                config.rate_limit,
                config.retry_after,
            )),
        });
        let (shutdown, shutdown_received) = oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("databricks-emulator-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(server::serve(listener, thread_shared, shutdown_received));
            })
            .map_err(Error::Runtime)?;
        let admin_token = config.effective_admin_tokens().swap_remove(0);
        Ok(Emulator {
            addr,
            admin_token,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A token of `admin@example.com` (the first `--token`, else [`DEFAULT_ADMIN_TOKEN`]).
    pub fn admin_token(&self) -> String {
        self.admin_token.clone()
    }

    /// The request log, oldest first (see the crate documentation).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Queues a fault, like `POST /__emulator/faults`.
    ///
    /// # Panics
    ///
    /// If the fault is invalid (see [`Fault::validate`]): that is a mistake in the test.
    #[track_caller]
    pub fn inject_fault(&self, fault: Fault) {
        if let Err(problem) = fault.validate() {
            panic!("invalid fault {fault:?}: {problem}");
        }
        lock(&self.shared.faults).push(fault);
    }

    /// Faults still pending, with their remaining counts.
    pub fn pending_faults(&self) -> Vec<Fault> {
        lock(&self.shared.faults).pending()
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Delays every later answer by `latency` (like `POST /__emulator/pacing`).
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared.pacing).set_latency(latency);
    }

    /// Replaces the Secrets API rate limit (`None` removes it); the bucket starts full.
    ///
    /// # Panics
    ///
    /// If the limit is invalid (see [`RateLimit::validate`]): that is a mistake in the test.
    #[track_caller]
    pub fn set_rate_limit(&self, rate_limit: Option<RateLimit>) {
        if let Some(Err(problem)) = rate_limit.as_ref().map(RateLimit::validate) {
            panic!("invalid rate limit {rate_limit:?}: {problem}");
        }
        lock(&self.shared.pacing).set_rate_limit(rate_limit);
    }

    /// How many requests the rate limit refused since the start or the last reset.
    pub fn throttled_count(&self) -> u64 {
        lock(&self.shared.pacing).throttled()
    }

    /// Zeroes the throttled count and refills the rate limit's bucket.
    pub fn reset_throttling(&self) {
        lock(&self.shared.pacing).reset();
    }

    /// Revokes every access and refresh token the emulator issued (of `principal` only, if
    /// given), like `DELETE /__emulator/tokens`; returns how many.
    pub fn revoke_tokens(&self, principal: Option<&str>) -> usize {
        self.shared.identity.revoke(principal)
    }

    /// An Entra ID access token of the configured user `user` for the Azure Databricks
    /// resource, as `az account get-access-token` would get it (like
    /// `POST /__emulator/entra-token`).
    pub fn entra_user_token(&self, user: &str) -> Result<String, String> {
        let answer = control::entra_user_token(&self.shared, user, AZURE_DATABRICKS_LOGIN_APP_ID)
            .map_err(|error| error.message)?;
        Ok(answer["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The stored bytes of a secret, for byte-exact checks.
    pub fn secret_bytes(&self, scope: &str, key: &str) -> Option<Vec<u8>> {
        let workspace = lock(&self.shared.workspace);
        let secret = workspace.state.scope(scope)?.secrets.get(key)?;
        Some(secret.value.clone())
    }

    /// Scope names in creation order.
    pub fn scope_names(&self) -> Vec<String> {
        let workspace = lock(&self.shared.workspace);
        workspace
            .state
            .scopes
            .iter()
            .map(|scope| scope.name.clone())
            .collect()
    }

    /// The ACL rule for `principal` on `scope`, if any.
    pub fn acl(&self, scope: &str, principal: &str) -> Option<Permission> {
        let workspace = lock(&self.shared.workspace);
        workspace.state.scope(scope)?.acls.get(principal).copied()
    }

    /// Stops serving; in-flight requests get a short grace period.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Loads the state file, or writes an empty one so that an unwritable path fails at start.
fn load_or_create_state(path: &std::path::Path) -> Result<State, Error> {
    if path.exists() {
        return State::load(path);
    }
    let state = State::default();
    state.save(path).map_err(|source| Error::WriteState {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(state)
}

/// The current time in milliseconds since the Unix epoch.
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// The proptest configuration of the `fuzz_*` tests of the parsers of client input: `FUZZ_CASES`
/// cases (default 256), so that `FUZZ_CASES=1000000 cargo test -p databricks-emulator --release
/// fuzz_` runs them long.
#[cfg(test)]
pub(crate) fn fuzz_config() -> proptest::test_runner::Config {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok());
    proptest::test_runner::Config {
        cases: cases.unwrap_or(256),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

/// `N` bytes from the operating system's secure random source.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // Only fails if the OS has no random source at all; then tokens would be guessable, and
    // there is nothing sensible to continue with.
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("the operating system's random source");
    bytes
}

/// An unguessable token: `prefix` and 32 random bytes, base64url.
pub(crate) fn random_token(prefix: &str) -> String {
    use base64::Engine;
    let random = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    format!("{prefix}{random}")
}

/// SHA-256 of `text`: stable identifiers derived from names, and PKCE.
pub(crate) fn sha256(text: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(digest.as_ref());
    bytes
}

/// Locks a mutex; a panic elsewhere while holding it does not make the data unusable here.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
