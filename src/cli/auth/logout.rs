//! `databricks auth logout`: forgets a profile's stored tokens (and its host's, when no other
//! `databricks-cli` profile shares the host); with `--delete` also removes the profile.

use anyhow::{Result, bail};
use clap::Args;

use super::login::others_on_host;
use super::{
    DATABRICKS_CLI, ask, host_key, is_interactive, load_config, store_for_reading, update_config,
    uses_databricks_cli,
};
use crate::cli::{Context, usage_error};
use crate::config;

#[derive(Args, Debug)]
pub struct Logout {
    /// The profile to log out of
    #[arg(value_name = "PROFILE", id = "profile_argument")]
    profile_argument: Option<String>,

    /// Also remove the profile from the config file
    #[arg(long)]
    delete: bool,

    /// Do not ask for confirmation
    #[arg(long)]
    auto_approve: bool,
}

impl Logout {
    pub fn run(self, context: &Context) -> Result<()> {
        let profile = match (self.profile_argument, context.profile().map(str::to_owned)) {
            (Some(a), Some(b)) if a != b => bail!(usage_error(format!(
                "profile {a:?} given as argument and {b:?} with --profile; give one"
            ))),
            (a, b) => a.or(b),
        };
        let Some(profile) = profile else {
            bail!(usage_error(
                "no profile specified. Use --profile <name> to specify which profile to log out of"
            ));
        };
        let file = load_config()?;
        if !file.has_profile(&profile) {
            bail!(
                "profile \"{profile}\" not found in {}; `databricks auth profiles` lists them",
                file.path().display()
            );
        }
        if !uses_databricks_cli(&file, &profile) && !self.delete {
            bail!(
                "profile \"{profile}\" does not use `auth_type = {DATABRICKS_CLI}`, so it has no \
                 login to log out of; use --delete to remove it from the config file"
            );
        }
        if !self.auto_approve {
            confirm(&profile, self.delete)?;
        }
        let mut keys = vec![profile.clone()];
        if let Some(host) = file
            .get(&profile, "host")
            .and_then(|host| config::normalize_host(&host).ok())
        {
            if others_on_host(&file, &profile, &host).is_empty() {
                keys.push(host_key(&host));
            }
        }
        let store = store_for_reading(&file)?;
        let lock = store.lock()?;
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let cleared = store.remove(&lock, &keys)?;
        drop(lock);
        if self.delete {
            update_config(|file| {
                file.remove_profile(&profile);
                if file.get(super::SETTINGS, "default_profile").as_deref() == Some(&profile) {
                    file.remove(super::SETTINGS, "default_profile");
                }
                Ok(())
            })?;
            eprintln!("Logged out of and deleted profile \"{profile}\".");
        } else if cleared {
            eprintln!(
                "Logged out of profile \"{profile}\". Use --delete to also remove it from the \
                 config file."
            );
        } else {
            eprintln!(
                "No tokens to clear for profile \"{profile}\". Use --delete to remove it from \
                 the config file."
            );
        }
        Ok(())
    }
}

fn confirm(profile: &str, delete: bool) -> Result<()> {
    if !is_interactive() {
        bail!(usage_error(
            "please specify --auto-approve to skip confirmation in non-interactive mode"
        ));
    }
    let what = if delete {
        format!("log out of and delete profile \"{profile}\"")
    } else {
        format!("log out of profile \"{profile}\"")
    };
    let answer = ask(
        &format!("Are you sure you want to {what}? (y/n)"),
        Some("n"),
    )?;
    if !answer.eq_ignore_ascii_case("y") && !answer.eq_ignore_ascii_case("yes") {
        bail!("not logged out: the question was not answered with y");
    }
    Ok(())
}
