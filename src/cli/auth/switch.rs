//! `databricks auth switch`: sets `[__settings__] default_profile`, the profile commands use
//! when none is named.

use anyhow::{Result, bail};
use clap::Args;

use super::{SETTINGS, ask, is_interactive, load_config, update_config};
use crate::cli::{Context, usage_error};

#[derive(Args, Debug)]
pub struct Switch {}

impl Switch {
    pub fn run(self, context: &Context) -> Result<()> {
        let file = load_config()?;
        let profiles: Vec<String> = file
            .profile_names()
            .into_iter()
            .filter(|name| name != SETTINGS)
            .collect();
        let profile = match context.profile() {
            Some(profile) => profile.to_owned(),
            None if is_interactive() => {
                eprintln!("Profiles: {}", profiles.join(", "));
                let current = file.get(SETTINGS, "default_profile");
                ask("Default profile", current.as_deref())?
            }
            None => bail!(usage_error(
                "the command is being run in a non-interactive environment, please specify a \
                 profile using --profile"
            )),
        };
        if !profiles.contains(&profile) {
            bail!(
                "profile \"{profile}\" not found in {} (it has: {}); create it with `databricks \
                 auth login --profile {profile}`",
                file.path().display(),
                profiles.join(", ")
            );
        }
        update_config(|file| file.set(SETTINGS, "default_profile", &profile))?;
        eprintln!("Default profile set to \"{profile}\".");
        Ok(())
    }
}
