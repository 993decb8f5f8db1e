//! End-to-end tests: the compiled `databricks` binary against the in-process emulator over
//! real HTTP on 127.0.0.1, with HOME and the environment isolated per test.
//!
//! They drive the binary through POSIX shells, pseudo-terminals and file modes, so they run on
//! Unix; on Windows the unit tests inside the modules still run.
#![cfg(unix)]

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
mod editor;
mod errors;
mod examples;
mod faults;
mod get;
mod go_dialect;
mod import_export;
mod keyvault;
mod login;
mod put;
mod resolution;
mod smoke;
mod sync;
mod tls;
mod usage;
mod walkthrough;
