//! `databricks secrets ...`: scopes, secrets, ACLs, bulk import and export.

mod acls;
mod bulk;
mod progress;
mod scheduler;
mod scopes;
mod sync;
mod values;

use std::convert::Infallible;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::{Context, usage_error};
use crate::output::{self, Dialect, Format, GoTable, Table};
use crate::secret::Secret;

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Create a secret scope
    CreateScope(scopes::CreateScope),
    /// List the secret scopes of the workspace
    ListScopes(scopes::ListScopes),
    /// Delete a secret scope with all its secrets and access rules
    DeleteScope(scopes::DeleteScope),
    /// Store a secret value under a key (value from a flag, a file, stdin or $EDITOR)
    #[command(visible_aliases = ["write", "put-secret"])]
    Put(values::Put),
    /// List the keys of a scope with their last-update times (never the values)
    #[command(visible_alias = "list-secrets")]
    List(values::List),
    /// Delete a secret from a scope
    #[command(visible_alias = "delete-secret")]
    Delete(values::Delete),
    /// Print a secret's value, byte for byte (not to a terminal if it has control characters)
    Get(values::Get),
    /// Print a secret as the Go CLI does: JSON with the key and the base64 value, whatever
    /// the output format
    GetSecret(values::Get),
    /// Give a principal READ, WRITE or MANAGE on a scope
    #[command(visible_alias = "write-acl")]
    PutAcl(acls::PutAcl),
    /// Show the permission a principal has on a scope
    GetAcl(acls::GetAcl),
    /// List who has which permission on a scope
    ListAcls(acls::ListAcls),
    /// Remove a principal's permission on a scope
    DeleteAcl(acls::DeleteAcl),
    /// Put many secrets at once from a .env or JSON file (all checked before any is sent)
    Import(bulk::Import),
    /// Print every secret of a scope as a .env or JSON file that import reads back
    Export(bulk::Export),
    /// Make a scope hold exactly the secrets of a .env or JSON file (plan first; --dry-run)
    Sync(sync::Sync),
}

impl SecretsCommand {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        match self {
            SecretsCommand::CreateScope(command) => command.run(context).await,
            SecretsCommand::ListScopes(command) => command.run(context).await,
            SecretsCommand::DeleteScope(command) => command.run(context).await,
            SecretsCommand::Put(command) => command.run(context).await,
            SecretsCommand::List(command) => command.run(context).await,
            SecretsCommand::Delete(command) => command.run(context).await,
            SecretsCommand::Get(command) => command.run(context).await,
            SecretsCommand::GetSecret(command) => command.run_as_go_cli(context).await,
            SecretsCommand::PutAcl(command) => command.run(context).await,
            SecretsCommand::GetAcl(command) => command.run(context).await,
            SecretsCommand::ListAcls(command) => command.run(context).await,
            SecretsCommand::DeleteAcl(command) => command.run(context).await,
            SecretsCommand::Import(command) => command.run(context).await,
            SecretsCommand::Export(command) => command.run(context).await,
            SecretsCommand::Sync(command) => command.run(context).await,
        }
    }
}

/// `--scope S`, or `S` positionally.
#[derive(Args, Debug)]
struct ScopeName {
    /// Name of the secret scope
    #[arg(long)]
    scope: Option<String>,

    /// The scope, instead of --scope
    #[arg(value_name = "SCOPE")]
    scope_argument: Option<String>,
}

impl ScopeName {
    fn resolve(self) -> anyhow::Result<String> {
        let [scope] = from_options_or_positionals(["scope"], [self.scope], [self.scope_argument])?;
        Ok(scope)
    }

    /// The scope from the `--json` body when given, else from the option or argument.
    fn resolve_with(self, json: &JsonRequest) -> anyhow::Result<String> {
        let [scope] = from_json_or_arguments(json, ["scope"], [self.scope], [self.scope_argument])?;
        Ok(scope)
    }
}

/// The named values from the `--json` body when it is given (then nothing else may give
/// them), else as [`from_options_or_positionals`] takes them.
fn from_json_or_arguments<const N: usize>(
    json: &JsonRequest,
    names: [&str; N],
    options: [Option<String>; N],
    arguments: [Option<String>; N],
) -> anyhow::Result<[String; N]> {
    let fields = names.map(|name| format!("'{name}'")).join(", ");
    let given: Vec<(&str, bool)> = names
        .iter()
        .copied()
        .zip(options.iter().map(Option::is_some))
        .collect();
    let Some(mut body) = json.body(&fields, &arguments.each_ref(), &given)? else {
        return from_options_or_positionals(names, options, arguments);
    };
    let mut values: [String; N] = std::array::from_fn(|_| String::new());
    for (value, name) in values.iter_mut().zip(names) {
        *value = body.required(name)?;
    }
    body.warn_unknown();
    Ok(values)
}

/// Takes each named value from its option or, when the option is absent, from the next
/// positional argument, so that `put --scope S --key K`, `put S K` and `put --scope S K` agree.
/// `names` are the option names in positional order; `options` and `arguments` the values as
/// given (clap fills the positional arguments from the left, whatever the options say).
fn from_options_or_positionals<const N: usize>(
    names: [&str; N],
    options: [Option<String>; N],
    arguments: [Option<String>; N],
) -> anyhow::Result<[String; N]> {
    let positionals: Vec<String> = arguments.into_iter().flatten().collect();
    let missing = options.iter().filter(|value| value.is_none()).count();
    if positionals.len() > missing {
        // Read as the all-positional form, the first value also given as an option is the
        // clash; there is one, since there are more arguments than values missing.
        let clash = options
            .iter()
            .take(positionals.len())
            .position(Option::is_some);
        let name = names[clash.unwrap_or(0)];
        return Err(usage_error(format!(
            "the {name} was given twice, as --{name} and as a positional argument; give it once"
        )));
    }
    let mut positionals = positionals.into_iter();
    let values = options.map(|option| option.or_else(|| positionals.next()));
    if let Some(index) = values.iter().position(Option::is_none) {
        let name = names[index];
        return Err(usage_error(format!(
            "the {name} is missing: give it as --{name} {upper} or as the positional argument {upper}",
            upper = name.to_uppercase()
        )));
    }
    let values = values.map(Option::unwrap_or_default);
    // No scope, key, principal or permission is blank, so a blank one is a slip (an unset
    // shell variable, say), refused before a request that could only fail or go astray.
    if let Some(index) = values.iter().position(|value| is_blank(value)) {
        return Err(usage_error(format!(
            "the {} is empty or blank: give a non-empty one",
            names[index]
        )));
    }
    Ok(values)
}

/// Empty, or only white space.
fn is_blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// A listing as both dialects print it.
struct Listing<'a, T> {
    /// The server's answer, for the legacy `--output json`.
    raw: &'a serde_json::Value,
    /// The items in the Go CLI's shapes, for its JSON.
    go_items: &'a [T],
    /// The legacy CLI's table.
    legacy_table: Table,
    /// The Go CLI's text layout, if it has one for this listing (it prints JSON otherwise).
    go_text: Option<GoTable>,
}

/// Prints a listing in the style the command line asked for (see `output::Style`).
fn print_listing<T: Serialize>(context: &Context, listing: Listing<'_, T>) -> anyhow::Result<()> {
    let style = context.style()?;
    match (style.dialect, style.format, listing.go_text) {
        (Dialect::Legacy, Format::Json, _) => output::print_json(listing.raw)?,
        (Dialect::Legacy, Format::Table, _) => listing.legacy_table.print()?,
        (Dialect::Go, Format::Table, Some(text)) => text.print()?,
        (Dialect::Go, _, _) => output::print_go_json_array(listing.go_items)?,
    }
    Ok(())
}

/// `--limit N` of the list commands.
#[derive(Args, Debug)]
struct Limit {
    /// Print at most N items (0: all)
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = parse_limit)]
    limit: Option<usize>,
}

fn parse_limit(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| "must be a non-negative integer (0 for no limit)".to_string())
}

impl Limit {
    /// Keeps the first N of `items`, and of the array `field` of the server's answer `raw`.
    fn apply<T>(&self, items: &mut Vec<T>, raw: &mut serde_json::Value, field: &str) {
        let Some(limit) = self.limit.filter(|&limit| limit > 0) else {
            return;
        };
        items.truncate(limit);
        if let Some(listed) = raw.get_mut(field).and_then(serde_json::Value::as_array_mut) {
            listed.truncate(limit);
        }
    }
}

/// `--json`: the whole request body, inline or from `@path`, as the Go CLI takes it.
#[derive(Args, Debug)]
struct JsonRequest {
    /// The request body as JSON, inline or @path/to/file.json; then give no positional
    /// arguments nor the options the body replaces. Values in it are kept secret
    #[arg(long, value_name = "JSON", value_parser = secret_argument)]
    json: Option<Secret>,
}

fn secret_argument(text: &str) -> Result<Secret, Infallible> {
    Ok(Secret::new(text))
}

impl JsonRequest {
    /// The body's fields, when `--json` was given. It must be the only source of the request:
    /// `positionals` and `options` are what the command got besides (options by name, given
    /// or not), and `fields` the fields the body gives instead.
    fn body(
        &self,
        fields: &str,
        positionals: &[&Option<String>],
        options: &[(&str, bool)],
    ) -> anyhow::Result<Option<JsonBody>> {
        let Some(json) = &self.json else {
            return Ok(None);
        };
        if positionals.iter().any(|argument| argument.is_some()) {
            return Err(usage_error(format!(
                "when --json is given, no positional arguments are allowed: give {fields} in \
                 the JSON input"
            )));
        }
        if let Some((name, _)) = options.iter().find(|(_, given)| *given) {
            return Err(usage_error(format!(
                "--{name} cannot be used with --json: give {fields} in the JSON input"
            )));
        }
        JsonBody::read(json).map(Some)
    }
}

/// The fields of a `--json` body, taken out one by one. Its values may be secrets, so errors
/// name fields and kinds of value, never a value.
struct JsonBody {
    fields: serde_json::Map<String, serde_json::Value>,
    /// Where a field is, for messages: empty at the top, `name.` inside an object.
    path: String,
}

impl JsonBody {
    fn read(json: &Secret) -> anyhow::Result<JsonBody> {
        let given = json.expose();
        let (text, source) = match given.strip_prefix('@') {
            Some(path) => (
                Secret::new(std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the --json file {path}: check the path after @")
                })?),
                format!("the --json file {path}"),
            ),
            None if given.is_empty() => {
                return Err(usage_error(
                    "--json expects inline JSON or @path/to/file.json, got an empty string",
                ));
            }
            None => (json.clone(), "the inline --json".to_string()),
        };
        // serde_json's syntax errors give a position, never the text around it.
        let value: serde_json::Value = serde_json::from_str(text.expose())
            .map_err(|error| usage_error(format!("{source} is not valid JSON: {error}")))?;
        match value {
            serde_json::Value::Object(fields) => Ok(JsonBody {
                fields,
                path: String::new(),
            }),
            other => Err(usage_error(format!(
                "{source} must be a JSON object, got {}",
                json_kind(&other)
            ))),
        }
    }

    /// The string field `name`, if present (`null` counts as absent).
    fn string(&mut self, name: &str) -> anyhow::Result<Option<String>> {
        match self.fields.remove(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong_kind(name, "a string", &other)),
        }
    }

    /// The string field `name`, which the request needs, not blank.
    fn required(&mut self, name: &str) -> anyhow::Result<String> {
        match self.string(name)? {
            Some(value) if !is_blank(&value) => Ok(value),
            Some(_) => Err(usage_error(format!(
                "\"{}{name}\" in the --json input is empty or blank: give a non-empty one",
                self.path
            ))),
            None => Err(usage_error(format!(
                "the --json input has no \"{}{name}\": the request needs it",
                self.path
            ))),
        }
    }

    /// The object field `name`, if present.
    fn object(&mut self, name: &str) -> anyhow::Result<Option<JsonBody>> {
        match self.fields.remove(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Object(fields)) => Ok(Some(JsonBody {
                fields,
                path: format!("{}{name}.", self.path),
            })),
            Some(other) => Err(self.wrong_kind(name, "an object", &other)),
        }
    }

    fn wrong_kind(&self, name: &str, expected: &str, got: &serde_json::Value) -> anyhow::Error {
        usage_error(format!(
            "\"{}{name}\" in the --json input must be {expected}, got {}",
            self.path,
            json_kind(got)
        ))
    }

    /// Warns, as the Go CLI does, about the fields no one took: they are not sent.
    fn warn_unknown(self) {
        for name in self.fields.keys() {
            eprintln!(
                "Warning: unknown field {}{name} in the --json input is not sent",
                self.path
            );
        }
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Checks a scope name against the service's rules before anything is sent.
fn check_scope_name(scope: &str) -> anyhow::Result<()> {
    crate::api::validate_scope_name(scope)
        .map_err(|rule| usage_error(format!("invalid scope name '{scope}': {rule}")))
}
