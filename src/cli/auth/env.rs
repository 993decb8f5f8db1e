//! `databricks auth env` (deprecated, as in the Go CLI): the environment variables that
//! configure the same credentials as a profile, secrets included.

use anyhow::{Result, bail};
use clap::Args;
use serde_json::{Map, Value, json};

use super::{load_config, profiles_with_host, runtime};
use crate::cli::Context;
use crate::config;
use crate::config::DEFAULT_PROFILE;
use crate::output;

#[derive(Args, Debug)]
pub struct Env {
    /// Print the variables of the profile whose host is this URL
    #[arg(long, value_name = "URL")]
    host: Option<String>,
}

impl Env {
    pub fn run(self, context: &Context) -> Result<()> {
        eprintln!(
            "Warning: 'databricks auth env' is deprecated and will be removed in a future release."
        );
        let profile = match (context.profile(), &self.host) {
            (Some(profile), _) => profile.to_owned(),
            (None, Some(host)) => profile_of_host(host)?,
            (None, None) => DEFAULT_PROFILE.to_string(),
        };
        let connection = context.for_profile(&profile).connect()?;
        let method = runtime()?.block_on(connection.authenticate())?;
        let config = connection.config();
        let mut env = Map::new();
        for setting in config.settings() {
            if let Some(variable) = setting.attribute.env {
                env.insert(variable.to_string(), Value::String(setting.value.clone()));
            }
        }
        if config.get("auth_type").is_none() {
            env.insert("DATABRICKS_AUTH_TYPE".to_string(), json!(method));
        }
        output::print_json(&json!({ "env": env }))?;
        Ok(())
    }
}

/// The one profile whose host is `host`.
fn profile_of_host(host: &str) -> Result<String> {
    let host = config::normalize_host(host)?;
    let file = load_config()?;
    let mut matching = profiles_with_host(&file, &host);
    match matching.len() {
        1 => Ok(matching.remove(0)),
        0 => bail!(
            "no profile in {} has host {host}; run `databricks auth login --host {host}` or \
             `databricks configure --host {host}` to create one",
            file.path().display()
        ),
        _ => bail!(
            "profiles {} all have host {host}; choose one with --profile",
            matching.join(", ")
        ),
    }
}
