//! `databricks auth token`: the stored token of a `databricks auth login`, refreshed when it
//! is within 5 minutes of expiry (or always, with `--force-refresh`), printed as the Go CLI
//! prints it, because the SDKs and Terraform run this command and parse its answer.

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Result, bail};
use clap::Args;
use serde_json::{Map, Value};

use super::{
    host_key, load_config, looks_like_host, profiles_with_host, runtime, store_for_reading,
    token_http, uses_databricks_cli,
};
use crate::auth::{DatabricksCliTokens, Discovery, Token};
use crate::cli::{Context, usage_error};
use crate::config::{self, ProfileFile};
use crate::output::{self, Format};

#[derive(Args, Debug)]
pub struct TokenCommand {
    /// The profile (or a workspace URL, as --host)
    #[arg(value_name = "PROFILE", id = "profile_argument")]
    profile_argument: Option<String>,

    /// The workspace URL, for a login saved under no profile or to find its profile
    #[arg(long, value_name = "URL")]
    host: Option<String>,

    /// Refresh the token even when it is still valid
    #[arg(long)]
    force_refresh: bool,
}

/// Whose token: the profile (its key in the storage) and the host.
struct Target {
    profile: Option<String>,
    host: String,
}

impl TokenCommand {
    pub fn run(self, context: &Context) -> Result<()> {
        let file = load_config()?;
        let target = self.target(&file, context.profile())?;
        let store = store_for_reading(&file)?;
        let http = token_http(&target.host, context.debug())?;
        let discovery = Arc::new(Discovery::new(&target.host, None, http.clone()));
        let tokens = DatabricksCliTokens::new(
            store,
            target.profile.clone(),
            &host_key(&target.host),
            discovery,
            http,
        );
        let token = runtime()?.block_on(async {
            if self.force_refresh {
                tokens.force_refresh().await
            } else {
                crate::auth::TokenSource::token(&tokens).await
            }
        })?;
        // Only an explicit `--output text` prints the bare token (DATABRICKS_OUTPUT_FORMAT is
        // not read here, as in the Go CLI, so that SDKs always get JSON).
        if context.output() == Some(Format::Table) {
            output::write_stdout(format!("{}\n", token.access_token.expose()).as_bytes())?;
        } else {
            let text = serde_json::to_string_pretty(&token_json(&token))?;
            output::write_stdout(text.as_bytes())?;
        }
        Ok(())
    }

    /// The Go CLI's order: the argument (a profile, or a host), `--profile` / `--host`,
    /// `DATABRICKS_CONFIG_PROFILE`, `DATABRICKS_HOST`, then the default profile.
    fn target(&self, file: &ProfileFile, profile_option: Option<&str>) -> Result<Target> {
        let (mut profile, mut host) = (profile_option.map(str::to_string), self.host.clone());
        if let Some(argument) = &self.profile_argument {
            if profile.is_some() || host.is_some() {
                bail!(usage_error(format!(
                    "argument \"{argument}\" cannot be combined with --host or --profile. Use \
                     the --host and --profile flags instead"
                )));
            }
            if looks_like_host(file, argument) {
                host = Some(argument.clone());
            } else {
                profile = Some(argument.clone());
            }
        }
        if profile.is_none() && host.is_none() {
            let variable = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
            profile = variable("DATABRICKS_CONFIG_PROFILE");
            host = variable("DATABRICKS_HOST").filter(|_| profile.is_none());
        }
        if profile.is_none() && host.is_none() {
            profile = Some(default_profile(file)?);
        }
        match (profile, host) {
            (Some(profile), _) => profile_target(file, profile),
            (None, Some(host)) => host_target(file, &host),
            (None, None) => unreachable!("a default profile was chosen above"),
        }
    }
}

/// `[__settings__] default_profile`, else `DEFAULT` when it has a host.
fn default_profile(file: &ProfileFile) -> Result<String> {
    if let Some(name) = file
        .get(super::SETTINGS, "default_profile")
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
    {
        return Ok(name);
    }
    if file
        .get("DEFAULT", "host")
        .is_some_and(|host| !host.is_empty())
    {
        return Ok("DEFAULT".to_string());
    }
    let has_profiles = file
        .profile_names()
        .iter()
        .any(|name| file.get(name, "host").is_some());
    if has_profiles {
        bail!("no profile specified. Use --profile <name> to specify which profile to use")
    }
    bail!("no profiles configured. Run 'databricks auth login' to create a profile")
}

fn profile_target(file: &ProfileFile, profile: String) -> Result<Target> {
    let get = |key| file.get(&profile, key).filter(|value| !value.is_empty());
    if !file.has_profile(&profile) {
        bail!(
            "profile \"{profile}\" not found in {}; run `databricks auth login --profile \
             {profile}` to create it",
            file.path().display()
        );
    }
    let uses_m2m = get("client_id").is_some() && get("client_secret").is_some();
    if uses_m2m && !uses_databricks_cli(file, &profile) {
        bail!(
            "profile \"{profile}\" uses M2M authentication (client_id/client_secret). \
             `databricks auth token` only supports U2M (user-to-machine) authentication tokens. \
             To authenticate as a service principal, use the Databricks SDK directly"
        );
    }
    let Some(host) = get("host") else {
        bail!(
            "profile \"{profile}\" in {} has no host; run `databricks auth login --profile \
             {profile} --host URL`",
            file.path().display()
        );
    };
    Ok(Target {
        host: config::normalize_host(&host)?,
        profile: Some(profile),
    })
}

/// The one profile of `host`, or the host's own key when no profile has it.
fn host_target(file: &ProfileFile, host: &str) -> Result<Target> {
    let host = config::normalize_host(host)?;
    let mut matching = profiles_with_host(file, &host);
    match matching.len() {
        0 => Ok(Target {
            profile: None,
            host,
        }),
        1 => Ok(Target {
            profile: matching.pop(),
            host,
        }),
        _ => {
            let last = matching.pop().unwrap_or_default();
            bail!(
                "{} and {last} match {host} in {}. Use --profile to specify which profile to use",
                matching.join(", "),
                file.path().display()
            )
        }
    }
}

/// `oauth2.Token` as Go marshals it without the refresh token: `access_token`, `token_type`,
/// `expiry` (local time with offset and fractional seconds), `expires_in` when known.
fn token_json(token: &Token) -> Value {
    let mut json = Map::new();
    json.insert("access_token".into(), token.access_token.expose().into());
    if !token.token_type.is_empty() {
        json.insert("token_type".into(), token.token_type.clone().into());
    }
    json.insert("expiry".into(), local_expiry(token.expiry).into());
    if let Some(lifetime) = token.lifetime.filter(|lifetime| !lifetime.is_zero()) {
        json.insert("expires_in".into(), lifetime.as_secs().into());
    }
    Value::Object(json)
}

/// Go's zero time for a token that never expires.
const NEVER: &str = "0001-01-01T00:00:00Z";

/// RFC 3339 in the local time zone, always with a fraction of a second: the Python SDK cuts
/// the text at the `.` and reads the rest as local time, so the fraction must be there, and
/// UTC is written `Z` as Go writes it.
fn local_expiry(expiry: Option<SystemTime>) -> String {
    let Some(zoned) = expiry
        .and_then(|time| jiff::Timestamp::try_from(time).ok())
        .map(|timestamp| timestamp.to_zoned(jiff::tz::TimeZone::system()))
    else {
        return NEVER.to_string();
    };
    let nanoseconds = format!("{:09}", zoned.subsec_nanosecond());
    let fraction = match nanoseconds.trim_end_matches('0') {
        "" => "0",
        digits => digits,
    };
    let offset = zoned.offset().seconds();
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let minutes = offset.unsigned_abs() / 60;
        format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    };
    format!("{}.{fraction}{zone}", zoned.strftime("%Y-%m-%dT%H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use std::time::Duration;

    #[test]
    fn the_json_is_the_go_token_without_its_refresh_token() {
        let expiry: jiff::Timestamp = "2099-01-01T10:00:00.5Z".parse().unwrap();
        let token = Token {
            access_token: Secret::new("at"),
            token_type: "Bearer".into(),
            expiry: Some(expiry.into()),
            refresh_token: Some(Secret::new("rt")),
            lifetime: Some(Duration::from_secs(3600)),
        };
        let json = token_json(&token);
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["access_token", "token_type", "expiry", "expires_in"]);
        assert!(!json.to_string().contains("rt\""));
        let expiry = json["expiry"].as_str().unwrap();
        let parsed: jiff::Timestamp = expiry.parse().unwrap();
        assert_eq!(parsed, "2099-01-01T10:00:00.5Z".parse().unwrap());
        assert!(expiry.contains('.'), "{expiry}");
    }

    #[test]
    fn whole_seconds_still_have_a_fraction() {
        let expiry: jiff::Timestamp = "2099-01-01T10:00:00Z".parse().unwrap();
        let text = local_expiry(Some(expiry.into()));
        assert!(text.contains(":00.0"), "{text}");
        assert_eq!(text.parse::<jiff::Timestamp>().unwrap(), expiry);
        assert_eq!(local_expiry(None), NEVER);
    }
}
