//! `databricks configure`: writes a workspace host and token into one profile of the config file.

use std::fs;
use std::io::{self, BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;

use super::Context;
use crate::config::{self, DEFAULT_PROFILE, PROFILE_VARIABLE, ProfileFile};
use crate::secret::Secret;

mod hidden_input;
use hidden_input::HiddenInput;

const HOST_PROMPT: &str = "Databricks Host (should begin with https://)";
const AAD_TOKEN_VARIABLE: &str = "DATABRICKS_AAD_TOKEN";
/// Empty answers at a terminal before giving up (also stops a loop on a closed terminal).
const TERMINAL_ATTEMPTS: usize = 3;

#[derive(Args, Debug)]
pub struct Configure {
    /// Configure a personal access token (accepted for compatibility; it is the only mode)
    #[arg(long)]
    pub token: bool,

    /// Workspace URL, such as https://adb-1234567890123456.7.azuredatabricks.net (else prompted)
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,

    /// Read the token from the first line of this file instead of asking for it
    #[arg(long, value_name = "PATH", conflicts_with = "aad_token")]
    pub token_file: Option<PathBuf>,

    /// Use the Azure AD token in the DATABRICKS_AAD_TOKEN environment variable as the token
    #[arg(long)]
    pub aad_token: bool,

    /// Write `insecure = true`: TLS certificates of this workspace are not verified (without it,
    /// `insecure` is removed from the profile)
    #[arg(long)]
    pub insecure: bool,

    /// Log in with OAuth in the browser instead (as `databricks auth login`)
    #[arg(long, conflicts_with_all = ["token_file", "aad_token", "insecure"])]
    pub oauth: bool,
}

impl Configure {
    /// Writes the global `--profile`; else `DATABRICKS_CONFIG_PROFILE`, else `DEFAULT`, the
    /// profile every other command would read.
    pub fn run(self, context: &Context) -> Result<()> {
        if self.oauth {
            return super::auth::configure_oauth(
                context.profile(),
                self.host.as_deref(),
                context.debug(),
            );
        }
        let profile_variable = non_empty_variable(PROFILE_VARIABLE);
        let profile = context
            .profile()
            .or(profile_variable.as_deref())
            .unwrap_or(DEFAULT_PROFILE);
        let path = config::config_path()?;
        let mut answers = Answers::from_stdin();
        let asks_for_token = self.token_file.is_none() && !self.aad_token;
        if asks_for_token && self.host.is_some() {
            answers.hide_typing()?;
        }
        let (current_host, current_token) = current_values(&path, profile)?;

        let host_input = match &self.host {
            Some(host) => host.clone(),
            None => answers.host(current_host.as_deref())?,
        };
        if asks_for_token {
            answers.hide_typing()?;
        }
        check_not_a_token(&host_input)?;
        let host = config::normalize_host(&host_input)?;
        super::warn_if_plain_http(&host);
        let token = match (&self.token_file, self.aad_token) {
            (Some(token_file), _) => token_from_file(token_file)?,
            (None, true) => aad_token(std::env::var(AAD_TOKEN_VARIABLE).ok())?,
            (None, false) => answers.token(current_token)?,
        };
        drop(answers);
        check_token(&token)?;

        ProfileFile::update(&path, |file| {
            file.set_token_auth(profile, &host, &token, self.insecure)
        })?;
        if profile != DEFAULT_PROFILE {
            eprintln!("Wrote profile `{profile}` to {}.", path.display());
        } else if profile_variable.is_none() {
            warn_if_environment_overrides();
        }
        Ok(())
    }
}

/// The profile's host and token as they are now: the defaults offered at the prompts.
fn current_values(path: &Path, profile: &str) -> Result<(Option<String>, Option<Secret>)> {
    let file = ProfileFile::load(path)?;
    let current = |key| file.get(profile, key).filter(|value| !value.is_empty());
    Ok((current("host"), current("token").map(Secret::new)))
}

fn non_empty_variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Commands run without `--profile` use `DATABRICKS_HOST`/`DATABRICKS_TOKEN` when either is set,
/// not the `[DEFAULT]` profile just written.
fn warn_if_environment_overrides() {
    let set: Vec<&str> = ["DATABRICKS_HOST", "DATABRICKS_TOKEN"]
        .into_iter()
        .filter(|name| non_empty_variable(name).is_some())
        .collect();
    if !set.is_empty() {
        let names = set.join(" and ");
        eprintln!(
            "Warning: {names} {} set in this environment, so commands run here without \
             --profile use the environment instead of the [DEFAULT] profile just written; \
             unset {names} to use the profile",
            if set.len() == 1 { "is" } else { "are" }
        );
    }
}

/// A host that is really a token (answers swapped at the prompts); the value is not shown.
fn check_not_a_token(host: &str) -> Result<()> {
    if looks_like_token(host.trim()) {
        bail!(
            "the host looks like a token (`dapi…` or `eyJ…`), not a workspace URL; were the host \
             and the token swapped? Give the workspace URL (https://…) first, then the token"
        );
    }
    Ok(())
}

/// A token that would not work, refused before it is stored; the value is not shown.
fn check_token(token: &Secret) -> Result<()> {
    let token = token.expose();
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!(
            "the token contains spaces or control characters, so it cannot be a token; copy it \
             again (one word, such as dapi… or eyJ…) and run `databricks configure` again"
        );
    }
    if looks_like_url(token) {
        bail!(
            "the token looks like a URL, not a token; were the host and the token swapped? Give \
             the workspace URL (https://…) first, then the token"
        );
    }
    Ok(())
}

/// A personal access token (`dapi` and hex digits, maybe a `-N` suffix) or a JWT (`eyJ…`, an
/// Azure AD token).
fn looks_like_token(text: &str) -> bool {
    let base64url_or_dot = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let personal_access_token = text.strip_prefix("dapi").is_some_and(|rest| {
        let digits = rest.split_once('-').map_or(rest, |(digits, _)| digits);
        digits.len() >= 16 && digits.chars().all(|c| c.is_ascii_hexdigit())
    });
    let jwt = text.starts_with("eyJ") && text.chars().all(base64url_or_dot);
    personal_access_token || jwt
}

/// `http(s)://…`, or a bare host name such as `adb-1.2.azuredatabricks.net[:port][/path]`.
fn looks_like_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return true;
    }
    if looks_like_token(text) {
        return false;
    }
    let host = lower.split(['/', ':']).next().unwrap_or_default();
    let labels: Vec<&str> = host.split('.').collect();
    let is_label = |label: &&str| {
        !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let top_level = labels.last().copied().unwrap_or_default();
    labels.len() >= 2
        && labels.iter().all(is_label)
        && top_level.len() >= 2
        && top_level.chars().all(|c| c.is_ascii_alphabetic())
}

/// The first line of the file, trimmed.
fn token_from_file(path: &Path) -> Result<Secret> {
    let bytes = fs::read(path).with_context(|| {
        format!(
            "cannot read the token file {} (check the path)",
            path.display()
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "the token file {} is not UTF-8 text; put the token on its first line",
            path.display()
        )
    })?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        bail!(
            "the token file {} is empty; put the token on its first line",
            path.display()
        );
    }
    Ok(Secret::new(token))
}

fn aad_token(variable: Option<String>) -> Result<Secret> {
    match variable.as_deref().map(str::trim) {
        Some(token) if !token.is_empty() => Ok(Secret::new(token)),
        _ => bail!(
            "--aad-token needs an Azure AD token in {AAD_TOKEN_VARIABLE}; set it, for example with \
             `export {AAD_TOKEN_VARIABLE}=$(az account get-access-token --resource \
             2ff814a6-3304-4ab8-85cb-cd0e6f879c1d --query accessToken -o tsv)`"
        ),
    }
}

/// Where the answers to the host and token questions come from: a person at a terminal (with
/// prompts on stderr and hidden token input) or lines piped into stdin (no prompts).
enum Answers {
    /// `hidden` is the terminal with echo off, from the moment the token is the next answer.
    Terminal {
        hidden: Option<HiddenInput>,
    },
    Piped(Box<dyn BufRead>),
}

impl Answers {
    fn from_stdin() -> Answers {
        let stdin = io::stdin();
        if stdin.is_terminal() {
            Answers::Terminal { hidden: None }
        } else {
            Answers::Piped(Box::new(stdin.lock()))
        }
    }

    fn is_terminal(&self) -> bool {
        matches!(self, Answers::Terminal { .. })
    }

    /// At a terminal, turns echo off now: whatever is typed from here on is the token.
    fn hide_typing(&mut self) -> Result<()> {
        if let Answers::Terminal {
            hidden: hidden @ None,
        } = self
        {
            *hidden = Some(HiddenInput::start().context("cannot hide the token's input")?);
        }
        Ok(())
    }

    /// An empty answer keeps `current`.
    fn host(&mut self, current: Option<&str>) -> Result<String> {
        let prompt = match current {
            Some(host) => format!("{HOST_PROMPT} [{host}]: "),
            None => format!("{HOST_PROMPT}: "),
        };
        for _ in 0..TERMINAL_ATTEMPTS {
            let answer = match self {
                Answers::Terminal { .. } => {
                    eprint!("{prompt}");
                    read_line(&mut io::stdin().lock())?
                }
                Answers::Piped(input) => read_line(input)?,
            };
            if let Some(host) = answer_or_current(answer.as_deref(), current) {
                return Ok(host.to_string());
            }
            if answer.is_none() || !self.is_terminal() {
                bail!(
                    "no host given: pass --host URL, or give the host on the first line of stdin"
                );
            }
            eprintln!("A host is required.");
        }
        bail!("no host given: pass --host URL")
    }

    /// An empty answer keeps `current`, which is never shown.
    fn token(&mut self, current: Option<Secret>) -> Result<Secret> {
        let prompt = if current.is_some() {
            "Token [********]: "
        } else {
            "Token: "
        };
        for _ in 0..TERMINAL_ATTEMPTS {
            self.hide_typing()?;
            let answer = match self {
                Answers::Terminal { hidden } => {
                    let hidden = hidden.as_mut().context("the token's input is not hidden")?;
                    let typed = hidden.read_line(prompt).context("cannot read the token")?;
                    Some(Secret::new(typed))
                }
                Answers::Piped(input) => read_line(input)?.map(Secret::new),
            };
            let typed = answer.as_ref().map(|token| token.expose().trim());
            if let Some(token) = typed.filter(|token| !token.is_empty()) {
                return Ok(Secret::new(token));
            }
            if let Some(current) = &current {
                return Ok(current.clone());
            }
            if answer.is_none() || !self.is_terminal() {
                bail!(
                    "no token given: pass --token-file PATH, or give the token on the line of \
                     stdin after the host"
                );
            }
            eprintln!("A token is required.");
        }
        bail!("no token given: pass --token-file PATH, or type the token when asked")
    }
}

/// One line without its line ending; `None` at end of input.
fn read_line(input: &mut dyn BufRead) -> Result<Option<String>> {
    let mut line = String::new();
    let read = input
        .read_line(&mut line)
        .context("cannot read the answer from stdin")?;
    Ok((read > 0).then(|| line.trim_end_matches(['\n', '\r']).to_string()))
}

/// The trimmed answer, or `current` when the answer is empty or missing.
fn answer_or_current<'a>(answer: Option<&'a str>, current: Option<&'a str>) -> Option<&'a str> {
    answer
        .map(str::trim)
        .filter(|answer| !answer.is_empty())
        .or(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn piped(input: &str) -> Answers {
        Answers::Piped(Box::new(Cursor::new(input.as_bytes().to_vec())))
    }

    #[test]
    fn piped_answers_are_read_line_by_line() {
        let mut answers = piped("https://example.com\r\n  dapi123  \n");
        assert_eq!(answers.host(None).unwrap(), "https://example.com");
        assert_eq!(answers.token(None).unwrap().expose(), "dapi123");
    }

    #[test]
    fn empty_piped_answers_keep_the_current_values() {
        let mut answers = piped("\n\n");
        assert_eq!(answers.host(Some("https://old")).unwrap(), "https://old");
        let token = answers.token(Some(Secret::new("old-token"))).unwrap();
        assert_eq!(token.expose(), "old-token");
    }

    #[test]
    fn end_of_input_keeps_current_values_or_says_what_is_missing() {
        assert_eq!(piped("").host(Some("https://old")).unwrap(), "https://old");
        let error = piped("").host(None).unwrap_err().to_string();
        assert!(error.contains("--host"), "{error}");
        let mut answers = piped("https://h\n");
        assert_eq!(answers.host(None).unwrap(), "https://h");
        let error = answers.token(None).unwrap_err().to_string();
        assert!(error.contains("--token-file"), "{error}");
    }

    #[test]
    fn the_token_file_gives_its_first_line_trimmed() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("token");
        fs::write(&path, "  dapi-secret \r\nsecond line\n").unwrap();
        assert_eq!(token_from_file(&path).unwrap().expose(), "dapi-secret");
    }

    #[test]
    fn an_empty_or_missing_token_file_is_an_error() {
        let directory = tempfile::tempdir().unwrap();
        let empty = directory.path().join("empty");
        fs::write(&empty, "   \nlater\n").unwrap();
        let message = token_from_file(&empty).unwrap_err().to_string();
        assert!(message.contains("is empty"), "{message}");
        let missing = directory.path().join("missing");
        let message = format!("{:#}", token_from_file(&missing).unwrap_err());
        assert!(message.contains("cannot read the token file"), "{message}");
    }

    #[test]
    fn the_aad_token_must_be_set() {
        assert_eq!(aad_token(Some(" eyJ0 ".into())).unwrap().expose(), "eyJ0");
        for unset in [None, Some(String::new()), Some("  ".into())] {
            let message = aad_token(unset).unwrap_err().to_string();
            assert!(message.contains(AAD_TOKEN_VARIABLE), "{message}");
        }
    }
}
