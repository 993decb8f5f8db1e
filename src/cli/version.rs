//! `databricks version` (and `--version`): the version line the Databricks SDKs parse.
//!
//! The Go SDK runs `databricks version` and reads `Databricks CLI v<semver>`; the Python SDK runs
//! `databricks version --output json` and reads the numbers `Major`, `Minor` and `Patch`, as the
//! Go CLI prints them. Both decide from that version how to call `databricks auth token`
//! (`--profile` from v0.207.1, `--force-refresh` from v0.296.0), so the version reported is the
//! Go CLI release whose `auth token` contract this CLI implements, with this program's own name
//! and version as semver build metadata: `Databricks CLI v0.296.0+databricks-secrets.0.1.0`.

use clap::Args;
use serde_json::json;

use super::Context;
use crate::output::{self, Format};

/// The name in the version line.
pub const PRODUCT: &str = "Databricks CLI";

/// The Go CLI release whose `auth token` behaviour (flags, JSON, messages) this CLI has.
macro_rules! go_cli_contract {
    () => {
        "0.296.0"
    };
}

/// The semantic version reported: the contract, with this program's own version as metadata.
macro_rules! reported_version {
    () => {
        concat!(
            go_cli_contract!(),
            "+",
            env!("CARGO_PKG_NAME"),
            ".",
            env!("CARGO_PKG_VERSION")
        )
    };
}

/// The version as the Go CLI shows it: `v`, the Go CLI contract, `+`, this program's version.
pub const TAGGED_VERSION: &str = concat!("v", reported_version!());

const VERSION: &str = reported_version!();

const MAJOR: u64 = 0;
const MINOR: u64 = 296;
const PATCH: u64 = 0;

#[derive(Args, Debug)]
pub struct Version {}

impl Version {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        match context.style()?.format {
            Format::Table => output::write_stdout(version_line().as_bytes())?,
            Format::Json => output::print_json(&version_json())?,
        }
        Ok(())
    }
}

/// `Databricks CLI v0.296.0+databricks-secrets.0.1.0` and a newline, as `--version` prints it
/// too.
fn version_line() -> String {
    format!("{PRODUCT} {TAGGED_VERSION}\n")
}

/// The Go CLI's build information fields that this build has, in the Go CLI's order.
fn version_json() -> serde_json::Value {
    json!({
        "ProjectName": env!("CARGO_PKG_NAME"),
        "Version": VERSION,
        "Major": MAJOR,
        "Minor": MINOR,
        "Patch": PATCH,
        "Prerelease": "",
        "BuildMetadata": VERSION.split_once('+').map_or("", |(_, metadata)| metadata),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_the_product_and_the_tagged_semantic_version() {
        let line = version_line();
        let version = line
            .strip_prefix("Databricks CLI v")
            .and_then(|rest| rest.strip_suffix('\n'))
            .expect("Databricks CLI v<semver>");
        let parts: Vec<&str> = version.split(['.', '-', '+']).collect();
        assert!(parts.len() >= 3, "{version}");
        let numbers: Vec<u64> = parts[..3]
            .iter()
            .map(|part| part.parse().unwrap())
            .collect();
        assert_eq!(numbers, [MAJOR, MINOR, PATCH]);
    }

    #[test]
    fn sdks_see_the_force_refresh_contract_and_users_this_programs_version() {
        assert!((MAJOR, MINOR, PATCH) >= (0, 296, 0));
        assert_eq!(
            VERSION,
            format!(
                "{MAJOR}.{MINOR}.{PATCH}+databricks-secrets.{}",
                env!("CARGO_PKG_VERSION")
            )
        );
    }
}
