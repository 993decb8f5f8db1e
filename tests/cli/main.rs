//! End-to-end tests: the compiled `databricks` binary against the in-process emulator over
//! real HTTP on 127.0.0.1, with HOME and the environment isolated per test.
//!
//! They run on every operating system. What needs Unix (a pseudo-terminal through `script`,
//! signals, file modes and ownership, POSIX shells, FIFOs) is behind `cfg(unix)`, each gate with
//! its reason.

mod harness;

mod acls;
mod aliases;
mod auth;
mod auth_commands;
mod completion;
mod concurrency;
mod config_files;
mod configure;
mod debug_log;
#[cfg(unix)] // editors are shell scripts, typed into on a pseudo-terminal (script)
mod editor;
mod errors;
#[cfg(unix)] // the examples are bash scripts
mod examples;
mod faults;
mod get;
mod go_dialect;
mod import_export;
mod keyvault;
#[cfg(unix)] // the browser is a shell script around curl
mod login;
mod put;
mod resolution;
mod smoke;
mod sync;
mod tls;
mod usage;
mod walkthrough;
