//! `databricks auth profiles`: every profile of the config file with a host (or account id),
//! and whether its credentials work: all are checked at once, each within 5 seconds.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;

use super::{SETTINGS, load_config, runtime};
use crate::cli::Context;
use crate::config::ProfileFile;
use crate::output::{self, Format};

/// How long one profile's check may take (the Go CLI's budget).
const VALIDATION_BUDGET: Duration = Duration::from_secs(5);

#[derive(Args, Debug)]
pub struct Profiles {
    /// List the profiles without checking their credentials
    #[arg(long)]
    skip_validate: bool,
}

/// One listed profile.
struct Listed {
    name: String,
    host: Option<String>,
    account_id: Option<String>,
    workspace_id: Option<String>,
    cloud: &'static str,
    /// The method that authenticated, else the profile's `auth_type`.
    auth_type: String,
    /// `None` when not checked.
    valid: Option<bool>,
    is_default: bool,
}

impl Profiles {
    pub fn run(self, context: &Context) -> Result<()> {
        let format = context.style()?.format;
        let file = load_config()?;
        let mut listed = listed_profiles(&file);
        if !self.skip_validate {
            runtime()?.block_on(validate_all(context, &mut listed));
        }
        match format {
            Format::Json => output::print_json(&json_listing(&listed))?,
            Format::Table => print!("{}", text_listing(&listed)),
        }
        Ok(())
    }
}

fn listed_profiles(file: &ProfileFile) -> Vec<Listed> {
    let default_profile = file
        .get(SETTINGS, "default_profile")
        .map(|name| name.trim().to_string());
    file.profile_names()
        .into_iter()
        .filter(|name| name != SETTINGS)
        .filter_map(|name| {
            let get = |key: &str| {
                file.get(&name, key)
                    .map(|value| value.trim().to_string())
                    .filter(|value| !value.is_empty())
            };
            let (host, account_id) = (get("host"), get("account_id"));
            if host.is_none() && account_id.is_none() {
                return None;
            }
            Some(Listed {
                cloud: cloud(get("cloud").as_deref(), host.as_deref()),
                is_default: default_profile.as_deref() == Some(name.as_str()),
                auth_type: get("auth_type").unwrap_or_default(),
                workspace_id: get("workspace_id"),
                valid: None,
                host,
                account_id,
                name,
            })
        })
        .collect()
}

/// The cloud as the Go CLI lists it: `cloud` if set, else from the host's domain.
fn cloud(setting: Option<&str>, host: Option<&str>) -> &'static str {
    let named = setting.map(str::to_ascii_lowercase);
    let host = host.unwrap_or_default().to_ascii_lowercase();
    let domain = host.trim_end_matches('/');
    match named.as_deref() {
        Some("azure") => "azure",
        Some("gcp") => "gcp",
        Some("aws") => "aws",
        _ if domain.ends_with(".azuredatabricks.net")
            || domain.ends_with(".databricks.azure.us")
            || domain.ends_with(".databricks.azure.cn") =>
        {
            "azure"
        }
        _ if domain.ends_with(".gcp.databricks.com") => "gcp",
        _ if domain.is_empty() => "",
        _ => "aws",
    }
}

/// Checks every profile concurrently; a check that takes longer than the budget is invalid.
async fn validate_all(context: &Context, listed: &mut [Listed]) {
    let mut checks = JoinSet::new();
    for (index, profile) in listed.iter().enumerate() {
        let context = context.for_profile(&profile.name);
        checks.spawn(async move {
            let check = tokio::time::timeout(VALIDATION_BUDGET, validate(context)).await;
            (index, check.ok().flatten())
        });
    }
    for profile in listed.iter_mut() {
        profile.valid = Some(false);
    }
    while let Some(Ok((index, method))) = checks.join_next().await {
        if let Some(method) = method {
            listed[index].valid = Some(true);
            listed[index].auth_type = method.to_string();
        }
    }
}

/// The method that authenticated the profile, if SCIM `Me` accepts its credentials.
async fn validate(context: Context) -> Option<&'static str> {
    let connection = context.connect().ok()?;
    connection.client.current_user().await.ok()?;
    connection.method()
}

fn text_listing(listed: &[Listed]) -> String {
    let rows: Vec<[String; 3]> = listed
        .iter()
        .map(|profile| {
            let name = if profile.is_default {
                format!("{} (Default)", profile.name)
            } else {
                profile.name.clone()
            };
            let host = profile
                .host
                .clone()
                .or_else(|| profile.account_id.clone())
                .unwrap_or_default();
            let valid = match profile.valid {
                Some(true) => "YES",
                Some(false) => "NO",
                None => "",
            };
            [name, host, valid.to_string()]
        })
        .collect();
    let header = ["Name".to_string(), "Host".into(), "Valid".into()];
    let width = |column: usize| {
        std::iter::once(&header)
            .chain(&rows)
            .map(|row| row[column].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (name_width, host_width) = (width(0), width(1));
    std::iter::once(&header)
        .chain(&rows)
        .map(|[name, host, valid]| {
            let line = format!("{name:<name_width$}  {host:<host_width$}  {valid}");
            format!("{}\n", line.trim_end())
        })
        .collect()
}

fn json_listing(listed: &[Listed]) -> Value {
    let profiles: Vec<Value> = listed
        .iter()
        .map(|profile| {
            let mut entry = Map::new();
            entry.insert("name".into(), json!(profile.name));
            for (key, value) in [
                ("host", &profile.host),
                ("account_id", &profile.account_id),
                ("workspace_id", &profile.workspace_id),
            ] {
                if let Some(value) = value {
                    entry.insert(key.into(), json!(value));
                }
            }
            entry.insert("cloud".into(), json!(profile.cloud));
            entry.insert("auth_type".into(), json!(profile.auth_type));
            entry.insert("valid".into(), json!(profile.valid == Some(true)));
            if profile.is_default {
                entry.insert("default".into(), json!(true));
            }
            Value::Object(entry)
        })
        .collect();
    json!({ "profiles": profiles })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cloud_comes_from_the_setting_or_the_host() {
        assert_eq!(
            cloud(None, Some("https://adb-1.2.azuredatabricks.net")),
            "azure"
        );
        assert_eq!(cloud(None, Some("https://1.2.gcp.databricks.com/")), "gcp");
        assert_eq!(
            cloud(None, Some("https://dbc-1.cloud.databricks.com")),
            "aws"
        );
        assert_eq!(cloud(Some("Azure"), Some("http://127.0.0.1:8080")), "azure");
        assert_eq!(cloud(None, None), "");
    }

    #[test]
    fn columns_are_aligned_and_unchecked_profiles_have_no_verdict() {
        let profile = |name: &str, host: &str, valid, is_default| Listed {
            name: name.into(),
            host: Some(host.into()),
            account_id: None,
            workspace_id: None,
            cloud: "aws",
            auth_type: String::new(),
            valid,
            is_default,
        };
        let text = text_listing(&[
            profile("test", "https://a", Some(true), true),
            profile("other-profile", "https://bb", None, false),
        ]);
        assert_eq!(
            text,
            "Name            Host        Valid\n\
             test (Default)  https://a   YES\n\
             other-profile   https://bb\n"
        );
    }
}
