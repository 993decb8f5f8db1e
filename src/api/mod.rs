//! Secrets API 2.0 client: typed models, one error type, retries and a redacted debug log.
//! It takes a host, a credentials provider and options; it knows nothing of config files,
//! terminals or advice for the user (errors state facts; `cli::hints` adds the advice).
//!
//! `client` holds the options and the calls, `transport` sends one attempt and sorts its
//! answer, `retry` decides every retry, `credentials` supplies the headers of each attempt.

mod client;
mod credentials;
mod debug;
mod error;
mod event;
mod models;
mod retry;
mod transport;

#[cfg(test)]
mod tests;

pub use client::{Client, ClientOptions};
pub use credentials::{AuthHeaders, BoxFuture, CredentialProvider, StaticCredentials};
pub use debug::redact_fields;
pub use error::Error;
pub use event::{Event, Observer};
pub use models::*;
pub use transport::{HttpSettings, http_client};
