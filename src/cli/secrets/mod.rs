//! `databricks secrets ...`: scopes, secrets, ACLs, bulk import and export.

mod acls;
mod bulk;
mod progress;
mod scheduler;
mod scopes;
mod sync;
mod values;

use clap::{Args, Subcommand};

use super::{Context, usage_error};
use crate::output::{self, Format, Table};

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
    /// Print a secret as the Go CLI does: JSON with the key and the base64 value
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
            SecretsCommand::Get(command) => command.run(context, Format::Table).await,
            SecretsCommand::GetSecret(command) => command.run(context, Format::Json).await,
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

/// Prints an answer as the server's JSON (`--output json`), or as the table `table` builds
/// from it.
fn print_reply(
    context: &Context,
    raw: &serde_json::Value,
    table: impl FnOnce() -> Table,
) -> anyhow::Result<()> {
    match context.output().unwrap_or_default() {
        Format::Json => output::print_json(raw)?,
        Format::Table => table().print()?,
    }
    Ok(())
}

/// Checks a scope name against the service's rules before anything is sent.
fn check_scope_name(scope: &str) -> anyhow::Result<()> {
    crate::api::validate_scope_name(scope)
        .map_err(|rule| usage_error(format!("invalid scope name '{scope}': {rule}")))
}
