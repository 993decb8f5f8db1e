//! Secrets API 2.0 client: typed models, one error type, retries and a redacted debug log.
//! It takes a host, credentials and options; it knows nothing of config files or terminals.

mod client;
mod debug;
mod error;
mod models;
mod retry;

#[cfg(test)]
mod tests;

pub use client::{Auth, Client, ClientOptions, Event, Observer};
pub use error::Error;
pub use models::*;
