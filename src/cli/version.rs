//! `databricks version` (and `--version`): the version line the Databricks SDKs parse.
//!
//! The Go SDK runs `databricks version` and reads `Databricks CLI v<semver>`; the Python SDK runs
//! `databricks version --output json` and reads the numbers `Major`, `Minor` and `Patch`, as the
//! Go CLI prints them.

use clap::Args;
use serde_json::json;

use super::Context;
use crate::output::{self, Format};

/// The name in the version line.
pub const PRODUCT: &str = "Databricks CLI";

/// The version as the Go CLI shows it: `v` and the semantic version.
pub const TAGGED_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

const MAJOR: u64 = parse_number(env!("CARGO_PKG_VERSION_MAJOR"));
const MINOR: u64 = parse_number(env!("CARGO_PKG_VERSION_MINOR"));
const PATCH: u64 = parse_number(env!("CARGO_PKG_VERSION_PATCH"));

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

/// `Databricks CLI v1.2.3` and a newline, as `--version` prints it too.
fn version_line() -> String {
    format!("{PRODUCT} {TAGGED_VERSION}\n")
}

/// The Go CLI's build information fields that this build has, in the Go CLI's order.
fn version_json() -> serde_json::Value {
    json!({
        "ProjectName": env!("CARGO_PKG_NAME"),
        "Version": env!("CARGO_PKG_VERSION"),
        "Major": MAJOR,
        "Minor": MINOR,
        "Patch": PATCH,
        "Prerelease": env!("CARGO_PKG_VERSION_PRE"),
    })
}

/// A decimal number at compile time: a version part that is not one fails the build.
const fn parse_number(digits: &str) -> u64 {
    let bytes = digits.as_bytes();
    assert!(!bytes.is_empty(), "a version part is empty");
    let mut value = 0;
    let mut index = 0;
    while index < bytes.len() {
        assert!(
            bytes[index].is_ascii_digit(),
            "a version part is not a number"
        );
        value = value * 10 + (bytes[index] - b'0') as u64;
        index += 1;
    }
    value
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
    fn version_parts_are_parsed_as_decimal_numbers() {
        assert_eq!(parse_number("0"), 0);
        assert_eq!(parse_number("296"), 296);
    }
}
