//! put, list, delete and get: the secrets of a scope.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use anyhow::bail;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Args;
use serde::Serialize;

use super::{
    JsonBody, JsonRequest, Limit, Listing, ScopeName, check_scope_name, from_json_or_arguments,
    from_options_or_positionals, print_listing,
};
use crate::api::{self, SecretContent, SecretMetadata, SecretValue};
use crate::cli::{Connection, Context, usage_error};
use crate::output::{self, Dialect, Format, GoTable, Table};
use crate::secret::{Secret, SecretBytes};
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

    /// The scope and key from the `--json` body when given, else from options or arguments.
    fn resolve_with(self, json: &JsonRequest) -> anyhow::Result<[String; 2]> {
        from_json_or_arguments(
            json,
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

    #[command(flatten)]
    json: JsonRequest,
}

impl Put {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let address = &self.address;
        let options = [
            ("scope", address.scope.is_some()),
            ("key", address.key.is_some()),
            ("string-value", self.string_value.is_some()),
            ("binary-file", self.binary_file.is_some()),
            ("bytes-value", self.bytes_value.is_some()),
        ];
        let positionals = [&address.scope_argument, &address.key_argument];
        let fields = "'scope', 'key' and 'string_value' or 'bytes_value'";
        if let Some(body) = self.json.body(fields, &positionals, &options)? {
            let (scope, key, value) = put_from_json(body)?;
            return put(context, &scope, &key, &value).await;
        }
        let [scope, key] = self.address.resolve()?;
        check_secret_address(&scope, &key)?;
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
        send_put(&connection, &scope, &key, &value).await
    }
}

fn check_secret_address(scope: &str, key: &str) -> anyhow::Result<()> {
    check_scope_name(scope)?;
    api::validate_key_name(key)
        .map_err(|rule| usage_error(format!("invalid key name '{key}': {rule}")))
}

/// A put-secret request in the Go CLI's JSON: `scope`, `key`, and `string_value` or
/// `bytes_value` (base64), checked like a value from the options.
fn put_from_json(mut body: JsonBody) -> anyhow::Result<(String, String, SecretValue)> {
    let scope = body.required("scope")?;
    let key = body.required("key")?;
    check_secret_address(&scope, &key)?;
    let text = body.string("string_value")?;
    let base64 = body.string("bytes_value")?;
    body.warn_unknown();
    let value = match (text, base64) {
        (Some(text), None) => SecretValue::Text(Secret::new(text)),
        (None, Some(base64)) => {
            SecretValue::Bytes(SecretBytes::new(BASE64.decode(base64).map_err(|_| {
                usage_error(
                    "\"bytes_value\" in the --json input must be base64 (standard alphabet, \
                     padded)",
                )
            })?))
        }
        (Some(_), Some(_)) => {
            return Err(usage_error(
                "give only one of \"string_value\" and \"bytes_value\" in the --json input",
            ));
        }
        (None, None) => {
            return Err(usage_error(
                "the --json input has no \"string_value\" or \"bytes_value\": the request \
                 needs the secret's value",
            ));
        }
    };
    value::check_value(&value).map_err(|invalid| usage_error(invalid.to_string()))?;
    Ok((scope, key, value))
}

async fn put(context: &Context, scope: &str, key: &str, value: &SecretValue) -> anyhow::Result<()> {
    send_put(&context.connect()?, scope, key, value).await
}

async fn send_put(
    connection: &Connection,
    scope: &str,
    key: &str,
    value: &SecretValue,
) -> anyhow::Result<()> {
    connection
        .call(connection.client.put_secret(scope, key, value))
        .await
}

#[derive(Args, Debug)]
pub struct List {
    #[command(flatten)]
    scope: ScopeName,

    #[command(flatten)]
    limit: Limit,
}

/// A secret's metadata as the Go CLI prints it: its fields in its order, empty ones left out.
#[derive(Serialize)]
struct GoSecretMetadata<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    key: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    last_updated_timestamp: i64,
}

fn is_zero(number: &i64) -> bool {
    *number == 0
}

impl<'a> From<&'a SecretMetadata> for GoSecretMetadata<'a> {
    fn from(secret: &'a SecretMetadata) -> Self {
        GoSecretMetadata {
            key: &secret.key,
            last_updated_timestamp: secret.last_updated_timestamp.unwrap_or_default(),
        }
    }
}

impl List {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let scope = self.scope.resolve()?;
        let connection = context.connect()?;
        let mut reply = connection
            .call(connection.client.list_secrets(&scope))
            .await?;
        let secrets = &mut reply.data.secrets;
        self.limit.apply(secrets, &mut reply.raw, "secrets");
        let go_items: Vec<GoSecretMetadata> = secrets.iter().map(GoSecretMetadata::from).collect();
        print_listing(
            context,
            Listing {
                raw: &reply.raw,
                legacy_table: legacy_table(secrets),
                go_text: Some(go_text(&go_items)),
                go_items: &go_items,
            },
        )
    }
}

fn legacy_table(secrets: &[SecretMetadata]) -> Table {
    let mut table = Table::new(&["Key name", "Last updated"]);
    for secret in secrets {
        let updated = secret
            .last_updated_timestamp
            .map(|millis| millis.to_string());
        table.row(vec![
            secret.key.clone(),
            updated.unwrap_or_else(|| "Not Available".to_string()),
        ]);
    }
    table
}

fn go_text(secrets: &[GoSecretMetadata]) -> GoTable {
    let mut table = GoTable::new(&["Key", "Last Updated Timestamp"]);
    for secret in secrets {
        let updated = secret.last_updated_timestamp.to_string();
        table.row(vec![secret.key.to_string(), updated]);
    }
    table
}

#[derive(Args, Debug)]
pub struct Delete {
    #[command(flatten)]
    address: SecretAddress,

    #[command(flatten)]
    json: JsonRequest,
}

impl Delete {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let [scope, key] = self.address.resolve_with(&self.json)?;
        let connection = context.connect()?;
        connection
            .call(connection.client.delete_secret(&scope, &key))
            .await
    }
}

#[derive(Args, Debug)]
pub struct Get {
    #[command(flatten)]
    address: SecretAddress,
}

/// A secret as the Go CLI's get-secret prints it: the key and the value in base64, an empty
/// one left out.
#[derive(Serialize)]
struct GoSecret<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    key: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    value: String,
}

impl<'a> From<&'a SecretContent> for GoSecret<'a> {
    fn from(secret: &'a SecretContent) -> Self {
        GoSecret {
            key: &secret.key,
            value: BASE64.encode(secret.value.expose()),
        }
    }
}

impl Get {
    /// `get`: the value's bytes as they are in text format (in both dialects), the answer as
    /// JSON otherwise.
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let (scope, key, reply) = self.fetch(context).await?;
        let style = context.style()?;
        match (style.format, style.dialect) {
            (Format::Table, _) => write_value(&scope, &key, reply.data.value.expose())?,
            (Format::Json, Dialect::Legacy) => output::print_json(&reply.raw)?,
            (Format::Json, Dialect::Go) => output::print_go_json(&GoSecret::from(&reply.data))?,
        }
        Ok(())
    }

    /// `get-secret`: the Go CLI's JSON, in text format too (as the Go CLI prints it).
    pub async fn run_as_go_cli(self, context: &Context) -> anyhow::Result<()> {
        let (_, _, reply) = self.fetch(context).await?;
        output::print_go_json(&GoSecret::from(&reply.data))?;
        Ok(())
    }

    async fn fetch(
        self,
        context: &Context,
    ) -> anyhow::Result<(String, String, api::Reply<SecretContent>)> {
        let [scope, key] = self.address.resolve()?;
        let connection = context.connect()?;
        let reply = connection
            .call(connection.client.get_secret(&scope, &key))
            .await?;
        Ok((scope, key, reply))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A put-secret `--json` body, possibly broken, whose value fields hold `secret`.
    fn body_with_secret() -> impl Strategy<Value = (String, String)> {
        let names = prop::sample::select(&["scope", "key", "string_value", "bytes_value", "x"][..]);
        (
            "[a-z]{8}",
            prop::collection::vec((names, 0..6usize), 0..6),
            any::<prop::sample::Index>(),
            any::<bool>(),
        )
            .prop_map(|(secret, fields, cut, truncate)| {
                let secret = format!("SECRET-{secret}");
                let fields: Vec<String> = fields
                    .into_iter()
                    .map(|(name, kind)| {
                        let value = match (name, kind) {
                            ("scope" | "key", 0) => "\"app\"".to_string(),
                            ("scope" | "key", 1) => "\" \"".to_string(),
                            ("scope" | "key", _) => "5".to_string(),
                            (_, 0) => format!("\"{secret}\""),
                            (_, 1) => format!("[\"{secret}\"]"),
                            (_, 2) => format!("{{\"v\": \"{secret}\"}}"),
                            (_, 3) => format!("\"{secret}==\""),
                            (_, 4) => "\"AAEC\"".to_string(),
                            _ => "null".to_string(),
                        };
                        format!("\"{name}\": {value}")
                    })
                    .collect();
                let mut text = format!("{{{}}}", fields.join(", "));
                if truncate {
                    text.truncate(cut.index(text.len() + 1));
                }
                (text, secret)
            })
    }

    fn put_request(text: &str) -> anyhow::Result<(String, String, SecretValue)> {
        put_from_json(JsonBody::read(&Secret::new(text))?)
    }

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        #[test]
        fn fuzz_put_secret_json_never_echoes_a_value((text, secret) in body_with_secret()) {
            if let Err(error) = put_request(&text) {
                let message = format!("{error:#} {error:?}");
                prop_assert!(!message.contains(&secret), "{}", message);
            }
        }

        #[test]
        fn fuzz_put_secret_json_takes_any_text(text in any::<String>()) {
            let _ = put_request(&text);
        }
    }

    #[test]
    fn a_string_value_or_base64_bytes_value_is_the_value() {
        let (scope, key, value) =
            put_request(r#"{"scope": "app", "key": "k", "string_value": "v"}"#).unwrap();
        assert_eq!((scope.as_str(), key.as_str()), ("app", "k"));
        assert_eq!(value, SecretValue::Text(Secret::new("v")));
        let (_, _, value) =
            put_request(r#"{"scope": "app", "key": "k", "bytes_value": "AP8="}"#).unwrap();
        assert_eq!(value, SecretValue::Bytes(SecretBytes::new(vec![0, 255])));
    }
}
