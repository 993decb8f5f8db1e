//! `databricks secrets sync`: make a scope hold exactly the secrets of a file.

use std::collections::{HashMap, HashSet};

use clap::Args;

use super::bulk::{self, Bulk, Concurrency, ScopeAndFile, Wording, Write};
use crate::api::{self, SecretValue};
use crate::cli::{Context, Drift};
use crate::formats::Entry;
use crate::output;

const SYNC_WORDING: Wording = Wording {
    done: "applied",
    things: "changes",
    command: "sync",
};

/// The backend type the service lists for a scope backed by Azure Key Vault.
const KEY_VAULT_BACKEND: &str = "AZURE_KEYVAULT";

#[derive(Args, Debug)]
#[command(
    after_help = "The file is read and checked in full before anything is sent, as by \
    import. sync lists the scope, reads the current values of the keys the file also has, and \
    prints a plan on stdout, never a value: `+ KEY` new, `~ KEY` changed, `- KEY` deleted \
    (only with --prune), `? KEY` current value not readable, then a summary line with the \
    unchanged count. Then it puts only the new and changed keys (and deletes with --prune): a \
    second run with the same file sends no write. A key whose value cannot be read stops the \
    sync before any write. Scopes backed by Azure Key Vault are refused. Exit codes: 0 done \
    (or nothing to do), 1 error (also for a file with no secrets), 2 usage error, 3 with --dry-run when the scope differs from \
    the file. To copy a scope between workspaces: \
    `databricks secrets export --profile A S | databricks secrets sync --profile B S - --prune`."
)]
pub struct Sync {
    #[command(flatten)]
    source: ScopeAndFile,

    /// Also delete the keys of the scope that the file does not have
    #[arg(long)]
    prune: bool,

    /// Print the plan and change nothing; exit with 3 when the scope differs from the file
    #[arg(long)]
    dry_run: bool,

    #[command(flatten)]
    concurrency: Concurrency,
}

impl Sync {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let (scope, entries) = self.source.read(&SYNC_WORDING)?;
        if entries.is_empty() {
            // Most likely the output of an `export` that failed upstream in a pipe: syncing
            // it (with --prune) would empty the scope.
            anyhow::bail!(
                "the file holds no secrets; nothing was changed. Check that it is the file you \
                 meant (an `export` that failed earlier in a pipe writes nothing); to empty a \
                 scope, delete its secrets or the scope"
            );
        }
        let bulk = Bulk::connect(context, self.concurrency)?;
        refuse_key_vault(&bulk, &scope).await?;
        let listed = bulk::list_keys(&bulk, &scope).await?;
        let in_file: HashSet<&str> = entries.iter().map(|entry| entry.key.as_str()).collect();
        let to_compare = listed
            .iter()
            .filter(|key| in_file.contains(key.as_str()))
            .cloned()
            .collect();
        let current = bulk::read_values(&bulk, "Comparing", &scope, to_compare).await;
        let plan = Plan::new(entries, &listed, current, self.prune)
            .map_err(|error| bulk.connection.explain(error))?;
        output::write_stdout(plan.to_string().as_bytes())?;
        if !plan.unreadable.is_empty() {
            anyhow::bail!(
                "the current value of {} key(s) cannot be read, so sync cannot tell whether they \
                 differ; nothing was changed. Ask a manager of scope `{scope}` for READ, or put \
                 those keys with `databricks secrets import`",
                plan.unreadable.len()
            );
        }
        if self.dry_run {
            return match plan.has_changes() {
                true => Err(Drift(format!(
                    "scope `{scope}` differs from the file (--dry-run: nothing was changed); \
                     run the sync without --dry-run to apply the plan"
                ))
                .into()),
                false => Ok(()),
            };
        }
        if !plan.has_changes() {
            return Ok(());
        }
        bulk::send_writes(&bulk, "Syncing", &scope, plan.into_writes(), &SYNC_WORDING).await
    }
}

/// Refuses a scope backed by Azure Key Vault before anything else is sent: its secrets cannot
/// be written through the Secrets API at all.
async fn refuse_key_vault(bulk: &Bulk, scope: &str) -> anyhow::Result<()> {
    let scopes = bulk.connection.call(bulk.client().list_scopes()).await?;
    let is_key_vault = scopes.data.scopes.iter().any(|listed| {
        listed.name == scope && listed.backend_type.as_deref() == Some(KEY_VAULT_BACKEND)
    });
    if is_key_vault {
        anyhow::bail!(
            "scope `{scope}` is backed by Azure Key Vault, whose secrets cannot be written \
             through Databricks; nothing was changed. Manage them with Azure's tools (for \
             example `az keyvault secret set`)"
        );
    }
    Ok(())
}

/// What sync will do, key by key; never holds a value it prints.
#[derive(Debug, Default)]
struct Plan {
    /// New keys and keys whose bytes differ, in file order, with whether the key is new.
    puts: Vec<(Entry, bool)>,
    /// Keys of the scope the file does not have, deleted with `--prune`.
    deletes: Vec<String>,
    /// Keys of the scope the file does not have, kept without `--prune`.
    kept: usize,
    /// Keys whose current value could not be read, with the answer.
    unreadable: Vec<(String, api::Error)>,
    unchanged: usize,
}

impl Plan {
    /// Compares the file's entries with the scope's keys (`listed`) and the current values of
    /// the keys both have. A value that cannot be read for lack of permission is recorded as
    /// unreadable; any other failed read is the error.
    fn new(
        entries: Vec<Entry>,
        listed: &[String],
        current: Vec<(String, Result<SecretValue, api::Error>)>,
        prune: bool,
    ) -> Result<Plan, api::Error> {
        let mut plan = Plan::default();
        let mut current: HashMap<String, Result<SecretValue, api::Error>> =
            current.into_iter().collect();
        let in_file: HashSet<String> = entries.iter().map(|entry| entry.key.clone()).collect();
        for entry in entries {
            match current.remove(&entry.key) {
                None => plan.puts.push((entry, true)),
                Some(Ok(value)) if value.as_bytes() == entry.value.as_bytes() => {
                    plan.unchanged += 1
                }
                Some(Ok(_)) => plan.puts.push((entry, false)),
                // Deleted since it was listed: it is new again.
                Some(Err(error)) if error.error_code() == Some("RESOURCE_DOES_NOT_EXIST") => {
                    plan.puts.push((entry, true))
                }
                Some(Err(error)) if is_unreadable(&error) => {
                    plan.unreadable.push((entry.key, error))
                }
                Some(Err(error)) => return Err(error),
            }
        }
        let not_in_file = listed.iter().filter(|key| !in_file.contains(*key)).cloned();
        if prune {
            plan.deletes = not_in_file.collect();
        } else {
            plan.kept = not_in_file.count();
        }
        Ok(plan)
    }

    fn has_changes(&self) -> bool {
        !self.puts.is_empty() || !self.deletes.is_empty()
    }

    fn into_writes(self) -> Vec<Write> {
        let puts = self.puts.into_iter().map(|(entry, _)| Write::Put(entry));
        puts.chain(self.deletes.into_iter().map(Write::Delete))
            .collect()
    }
}

/// A read refused for lack of permission (no READ on the scope).
fn is_unreadable(error: &api::Error) -> bool {
    error.status() == Some(403) || error.error_code() == Some("PERMISSION_DENIED")
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (entry, new) in &self.puts {
            writeln!(f, "{} {}", if *new { '+' } else { '~' }, entry.key)?;
        }
        for key in &self.deletes {
            writeln!(f, "- {key}")?;
        }
        for (key, error) in &self.unreadable {
            writeln!(f, "? {key} (current value not readable: {error})")?;
        }
        let added = self.puts.iter().filter(|(_, new)| *new).count();
        write!(
            f,
            "Plan: {added} to add, {} to change, {} to delete, {} unchanged",
            self.puts.len() - added,
            self.deletes.len(),
            self.unchanged
        )?;
        if !self.unreadable.is_empty() {
            write!(f, ", {} not readable", self.unreadable.len())?;
        }
        if self.kept > 0 {
            write!(
                f,
                "; {} key(s) not in the file kept (--prune deletes them)",
                self.kept
            )?;
        }
        writeln!(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn entry(key: &str, value: &str) -> Entry {
        Entry {
            key: key.into(),
            value: SecretValue::Text(Secret::new(value)),
            line: 1,
        }
    }

    fn keys(listed: &[&str]) -> Vec<String> {
        listed.iter().map(|key| key.to_string()).collect()
    }

    fn read(key: &str, value: &[u8]) -> (String, Result<SecretValue, api::Error>) {
        (key.into(), Ok(SecretValue::from_bytes(value.to_vec())))
    }

    fn refused(key: &str, status: u16, code: &str) -> (String, Result<SecretValue, api::Error>) {
        let error = api::Error::Api {
            status,
            error_code: code.into(),
            message: "SECRET-FREE MESSAGE".into(),
        };
        (key.into(), Err(error))
    }

    #[test]
    fn the_plan_adds_changes_and_prunes_by_bytes_and_never_shows_a_value() {
        let entries = vec![
            entry("NEW", "new-value"),
            entry("SAME", "same-value"),
            entry("CHANGED", "changed-value"),
        ];
        let listed = keys(&["SAME", "CHANGED", "EXTRA"]);
        let current = || vec![read("SAME", b"same-value"), read("CHANGED", b"old-value")];
        let plan = Plan::new(entries.clone(), &listed, current(), true).unwrap();
        assert_eq!(
            plan.to_string(),
            "+ NEW\n~ CHANGED\n- EXTRA\nPlan: 1 to add, 1 to change, 1 to delete, 1 unchanged\n"
        );
        let keys: Vec<String> = plan
            .into_writes()
            .iter()
            .map(|write| match write {
                Write::Put(entry) => format!("put {}", entry.key),
                Write::Delete(key) => format!("delete {key}"),
            })
            .collect();
        assert_eq!(keys, ["put NEW", "put CHANGED", "delete EXTRA"]);

        let kept = Plan::new(entries, &listed, current(), false).unwrap();
        assert!(
            kept.to_string()
                .ends_with("1 unchanged; 1 key(s) not in the file kept (--prune deletes them)\n")
        );
        assert!(kept.has_changes());
    }

    #[test]
    fn a_scope_that_matches_has_no_changes() {
        let plan = Plan::new(
            vec![entry("A", "1")],
            &keys(&["A"]),
            vec![read("A", b"1")],
            true,
        )
        .unwrap();
        assert!(!plan.has_changes());
        assert_eq!(
            plan.to_string(),
            "Plan: 0 to add, 0 to change, 0 to delete, 1 unchanged\n"
        );
    }

    #[test]
    fn unreadable_values_are_listed_and_other_failed_reads_are_the_error() {
        let plan = Plan::new(
            vec![entry("LOCKED", "x"), entry("GONE", "y")],
            &keys(&["LOCKED", "GONE"]),
            vec![
                refused("LOCKED", 403, "PERMISSION_DENIED"),
                refused("GONE", 404, "RESOURCE_DOES_NOT_EXIST"),
            ],
            false,
        )
        .unwrap();
        assert_eq!(
            plan.to_string(),
            "+ GONE\n? LOCKED (current value not readable: PERMISSION_DENIED: SECRET-FREE \
             MESSAGE)\nPlan: 1 to add, 0 to change, 0 to delete, 0 unchanged, 1 not readable\n"
        );
        let failed = Plan::new(
            vec![entry("A", "1")],
            &keys(&["A"]),
            vec![refused("A", 500, "INTERNAL_ERROR")],
            false,
        );
        assert_eq!(failed.unwrap_err().status(), Some(500));
    }
}
