//! put, list, delete and get: the secrets of a scope.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::{ScopeName, check_scope_name, from_options_or_positionals, print_reply};
use crate::api;
use crate::cli::{Context, usage_error};
use crate::output::{self, Format, Table};
use crate::value::{self, InvalidValue, ValueFlags};

/// `--scope S --key K`, or `S K` positionally.
#[derive(Args, Debug)]
struct SecretAddress {
    /// Scope of the secret
    #[arg(long)]
    scope: Option<String>,

    /// Key of the secret: letters, digits, '-', '_' and '.', at most 128
    #[arg(long)]
    key: Option<String>,

    /// The scope, instead of --scope
    #[arg(value_name = "SCOPE")]
    scope_argument: Option<String>,

    /// The key, instead of --key
    #[arg(value_name = "KEY")]
    key_argument: Option<String>,
}

impl SecretAddress {
    fn resolve(self) -> anyhow::Result<[String; 2]> {
        from_options_or_positionals(
            ["scope", "key"],
            [self.scope, self.key],
            [self.scope_argument, self.key_argument],
        )
    }
}

#[derive(Args, Debug)]
pub struct Put {
    #[command(flatten)]
    address: SecretAddress,

    /// The value as text. Other processes and your shell history can see it: prefer piping
    /// the value on stdin
    #[arg(long, value_name = "VALUE", conflicts_with_all = ["binary_file", "bytes_value"])]
    string_value: Option<String>,

    /// Read the value's exact bytes from a file ('-' for stdin)
    #[arg(long, value_name = "PATH", conflicts_with = "bytes_value")]
    binary_file: Option<PathBuf>,

    /// The value as the bytes of this argument (visible to other processes, like --string-value)
    #[arg(long, value_name = "VALUE")]
    bytes_value: Option<String>,
}

impl Put {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let [scope, key] = self.address.resolve()?;
        check_scope_name(&scope)?;
        api::validate_key_name(&key)
            .map_err(|rule| usage_error(format!("invalid key name '{key}': {rule}")))?;
        // Credentials first, so that a broken profile fails before the user types a value.
        let connection = context.connect()?;
        let value = value::read_value(ValueFlags {
            string_value: self.string_value,
            binary_file: self.binary_file,
            bytes_value: self.bytes_value,
        })
        .map_err(|error| match error.downcast::<InvalidValue>() {
            Ok(invalid) => usage_error(invalid.to_string()),
            Err(error) => error,
        })?;
        connection
            .client
            .put_secret(&scope, &key, &value)
            .await
            .map_err(|error| connection.explain(error))
    }
}

#[derive(Args, Debug)]
pub struct List {
    #[command(flatten)]
    scope: ScopeName,
}

impl List {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let scope = self.scope.resolve()?;
        let connection = context.connect()?;
        let reply = connection
            .client
            .list_secrets(&scope)
            .await
            .map_err(|error| connection.explain(error))?;
        print_reply(context, &reply.raw, || {
            let mut table = Table::new(&["Key name", "Last updated"]);
            for secret in reply.data.secrets {
                let updated = secret
                    .last_updated_timestamp
                    .map(|millis| millis.to_string());
                table.row(vec![
                    secret.key,
                    updated.unwrap_or_else(|| "Not Available".to_string()),
                ]);
            }
            table
        })
    }
}

#[derive(Args, Debug)]
pub struct Delete {
    #[command(flatten)]
    address: SecretAddress,
}

impl Delete {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let [scope, key] = self.address.resolve()?;
        let connection = context.connect()?;
        connection
            .client
            .delete_secret(&scope, &key)
            .await
            .map_err(|error| connection.explain(error))
    }
}

#[derive(Args, Debug)]
pub struct Get {
    #[command(flatten)]
    address: SecretAddress,
}

impl Get {
    /// `default` is the format without `--output`: table (the value's bytes, as the legacy CLI
    /// prints them) for `get`, JSON (the value in base64, as the Go CLI prints it) for
    /// `get-secret`.
    pub async fn run(self, context: &Context, default: Format) -> anyhow::Result<()> {
        let [scope, key] = self.address.resolve()?;
        let connection = context.connect()?;
        let reply = connection
            .client
            .get_secret(&scope, &key)
            .await
            .map_err(|error| connection.explain(error))?;
        match context.output().unwrap_or(default) {
            Format::Json => output::print_json(&reply.raw)?,
            Format::Table => write_value(&scope, &key, reply.data.value.expose())?,
        }
        Ok(())
    }
}

/// Writes the value's bytes to stdout exactly, unless stdout is a terminal that would act on
/// some of them (escape sequences can retitle the window, rewrite what is shown or, on some
/// terminals, answer with input) instead of showing them.
fn write_value(scope: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
    if io::stdout().is_terminal() {
        if let Some(hazard) = output::terminal_hazard(value) {
            bail!(
                "the value of {scope}/{key} contains {hazard}, so it is not written to the \
                 terminal. Write it to a file with `databricks secrets get {scope} {key} > FILE`, \
                 or print it base64-encoded with `databricks secrets get {scope} {key} -o json`"
            );
        }
    }
    output::write_stdout(value)?;
    Ok(())
}
