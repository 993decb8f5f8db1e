//! `azure-cli`: the Entra ID token of whoever is logged in with `az login`.
//!
//! `az` runs directly (no shell), with a timeout, and is given nothing secret. One call gets
//! the workspace token; the Go SDK makes three (`az account show` first, then a second token
//! for the management header) at about 0.7 s each. A missing `az`, or one that is not logged
//! in, makes the method not applicable, so the default chain moves on.

use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::error::AuthError;
use super::http::DebugLog;
use super::token::{BoxFuture, Token, TokenSource, unix_time};
use crate::secret::Secret;

/// How long one `az` call may take: it is a Python program that may refresh its own tokens.
pub const AZ_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest part of `az`'s stderr quoted in an error.
const STDERR_CHARS: usize = 500;

pub struct AzureCli {
    program: PathBuf,
    resource: String,
    tenant: Option<String>,
    timeout: Duration,
    debug: DebugLog,
}

impl fmt::Debug for AzureCli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureCli")
            .field("program", &self.program)
            .field("resource", &self.resource)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// How one `az` call ended.
enum Outcome {
    Token(Token),
    /// Not installed or not logged in.
    NotApplicable(String),
    Failed(String),
}

impl AzureCli {
    /// `program` is `az` (found on PATH) outside tests.
    pub fn new(
        program: PathBuf,
        resource: String,
        tenant: Option<String>,
        debug: DebugLog,
    ) -> AzureCli {
        AzureCli {
            program,
            resource,
            tenant,
            timeout: AZ_TIMEOUT,
            debug,
        }
    }

    async fn fetch(&self) -> Result<Token, AuthError> {
        let outcome = match self.run(self.tenant.as_deref()).await {
            // A managed identity or a service principal logged in elsewhere refuses --tenant.
            Outcome::Failed(_) if self.tenant.is_some() => self.run(None).await,
            outcome => outcome,
        };
        match outcome {
            Outcome::Token(token) => Ok(token),
            Outcome::NotApplicable(why) => Err(AuthError::NotConfigured(why)),
            Outcome::Failed(why) => Err(AuthError::Failed(why)),
        }
    }

    async fn run(&self, tenant: Option<&str>) -> Outcome {
        let mut arguments = vec![
            "account",
            "get-access-token",
            "--resource",
            &self.resource,
            "--output",
            "json",
        ];
        if let Some(tenant) = tenant {
            arguments.extend(["--tenant", tenant]);
        }
        if let Some(log) = &self.debug {
            log(&format!("Running command: az {}", arguments.join(" ")));
        }
        let child = tokio::process::Command::new(&self.program)
            .args(&arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Outcome::NotApplicable(
                    "azure-cli: `az` was not found on PATH; install the Azure CLI and run \
                     `az login`"
                        .to_string(),
                );
            }
            Err(error) => return Outcome::Failed(format!("azure-cli: cannot run `az`: {error}")),
        };
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(error)) => return Outcome::Failed(format!("azure-cli: `az` failed: {error}")),
            Err(_) => {
                return Outcome::Failed(format!(
                    "azure-cli: `az account get-access-token` did not finish within {} s; run it \
                     yourself to see what it waits for",
                    self.timeout.as_secs()
                ));
            }
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr: String = stderr.trim().chars().take(STDERR_CHARS).collect();
        if !output.status.success() {
            return if is_not_logged_in(&stderr) {
                Outcome::NotApplicable(format!(
                    "azure-cli: not logged in ({stderr}); run `az login`"
                ))
            } else {
                Outcome::Failed(format!("azure-cli: cannot get access token: {stderr}"))
            };
        }
        match parse_answer(&output.stdout) {
            Ok(token) => {
                if let Some(log) = &self.debug {
                    log(&format!(
                        "Refreshed OAuth token for {}{} from Azure CLI",
                        self.resource,
                        tenant
                            .map(|t| format!(" for tenant {t}"))
                            .unwrap_or_default()
                    ));
                }
                Outcome::Token(token)
            }
            Err(problem) => Outcome::Failed(format!(
                "azure-cli: cannot read the answer of `az account get-access-token`: {problem}"
            )),
        }
    }
}

impl TokenSource for AzureCli {
    fn token(&self) -> BoxFuture<'_, Result<Token, AuthError>> {
        Box::pin(self.fetch())
    }
}

fn is_not_logged_in(stderr: &str) -> bool {
    ["az login", "No subscription found", "not logged in"]
        .iter()
        .any(|sign| stderr.contains(sign))
}

/// `accessToken`, `tokenType`, and the expiry as `expires_on` (Unix time, az 2.54 and later)
/// or `expiresOn` (local time `2006-01-02 15:04:05.999999`, older versions).
fn parse_answer(stdout: &[u8]) -> Result<Token, String> {
    let answer: Value = serde_json::from_slice(stdout).map_err(|_| "not JSON".to_string())?;
    let text = |key: &str| answer.get(key).and_then(Value::as_str).unwrap_or_default();
    let access_token = text("accessToken");
    if access_token.is_empty() {
        return Err("no accessToken".to_string());
    }
    let expires_on = answer.get("expires_on").and_then(|value| match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    });
    let expiry = match expires_on {
        Some(unix) => unix_time(unix),
        None => Some(parse_local_time(text("expiresOn"))?),
    };
    Ok(Token {
        access_token: Secret::new(access_token),
        token_type: text("tokenType").to_string(),
        lifetime: expiry.and_then(|expiry| expiry.duration_since(SystemTime::now()).ok()),
        expiry,
        refresh_token: None,
    })
}

fn parse_local_time(text: &str) -> Result<SystemTime, String> {
    let civil: jiff::civil::DateTime = text
        .trim()
        .parse()
        .map_err(|_| format!("expiresOn `{text}` is not a date and time"))?;
    let zoned = civil
        .to_zoned(jiff::tz::TimeZone::system())
        .map_err(|error| format!("expiresOn `{text}`: {error}"))?;
    Ok(SystemTime::from(zoned.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;
    use std::time::UNIX_EPOCH;

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        #[test]
        fn fuzz_az_answer(stdout in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            ("[a-zA-Z0-9.]{1,40}", "[0-9 :.-]{0,30}", any::<u64>()).prop_map(|(token, local, unix)| {
                format!(r#"{{"accessToken":"{token}","expiresOn":"{local}","expires_on":{unix}}}"#).into_bytes()
            }),
        ]) {
            if let Ok(token) = parse_answer(&stdout) {
                prop_assert!(!token.access_token.expose().is_empty());
            }
        }
    }

    #[test]
    fn the_unix_expiry_is_preferred() {
        let token = parse_answer(
            br#"{"accessToken":"eyJ","tokenType":"Bearer","expiresOn":"2001-01-01 00:00:00.000000","expires_on":4102444800}"#,
        )
        .unwrap();
        assert_eq!(
            token.expiry,
            Some(UNIX_EPOCH + Duration::from_secs(4_102_444_800))
        );
        assert_eq!(token.authorization().expose(), "Bearer eyJ");
    }

    #[test]
    fn older_answers_give_local_time() {
        let token = parse_answer(
            br#"{"accessToken":"eyJ","tokenType":"Bearer","expiresOn":"2099-01-01 10:00:00.123456"}"#,
        )
        .unwrap();
        assert!(token.expiry.unwrap() > SystemTime::now());
        assert!(parse_answer(br#"{"accessToken":"eyJ","expiresOn":"soon"}"#).is_err());
        assert!(parse_answer(b"Please run az login").is_err());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn an_az_that_hangs_is_stopped_at_the_timeout() {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().unwrap();
        let az = directory.path().join("az");
        std::fs::write(&az, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut source = AzureCli::new(az, "resource".into(), None, None);
        source.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let error = source.token().await.unwrap_err().to_string();
        assert!(error.contains("did not finish within"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn not_logged_in_is_recognised() {
        assert!(is_not_logged_in(
            "ERROR: Please run 'az login' to setup account."
        ));
        assert!(!is_not_logged_in("ERROR: AADSTS50076: MFA required"));
    }
}
