//! put, list, delete and get: the secrets of a scope.

use std::path::PathBuf;

use clap::Args;

use super::{OutputOption, ScopeName, check_scope_name, from_options_or_positionals, print_reply};
use crate::api;
use crate::cli::Context;
use crate::input::{self, ValueFlags};
use crate::output::{self, Format, Table};

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
            .map_err(|rule| anyhow::anyhow!("invalid key name '{key}': {rule}"))?;
        // Credentials first, so that a broken profile fails before the user types a value.
        let connection = context.connect()?;
        let value = input::read_value(ValueFlags {
            string_value: self.string_value,
            binary_file: self.binary_file,
            bytes_value: self.bytes_value,
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

    #[command(flatten)]
    output: OutputOption,
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
        print_reply(self.output.format, &reply.raw, || {
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

    /// Output format: table (or text) writes the value's bytes as they are, json the API answer
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        value_enum,
        ignore_case = true,
        default_value_t
    )]
    output: Format,
}

impl Get {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let [scope, key] = self.address.resolve()?;
        let connection = context.connect()?;
        let reply = connection
            .client
            .get_secret(&scope, &key)
            .await
            .map_err(|error| connection.explain(error))?;
        match self.output {
            Format::Json => output::print_json(&reply.raw)?,
            Format::Table => output::write_stdout(reply.data.value.expose())?,
        }
        Ok(())
    }
}
