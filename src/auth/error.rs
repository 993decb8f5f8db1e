//! The one error type of the auth layer. No variant ever holds a secret: texts that come from
//! an answer are masked before they get here.

use std::time::Duration;

#[derive(thiserror::Error, Debug, Clone)]
pub enum AuthError {
    /// The method lacks what it needs (an attribute, an environment variable, a logged-in
    /// `az`): in the default chain the next method is tried.
    #[error("{0}")]
    NotConfigured(String),

    /// The identity provider refused with an OAuth error answer; never retried.
    #[error(
        "{url} refused the token request: {error}{}{}",
        describe(description),
        fix_text(fix)
    )]
    OAuth {
        url: String,
        error: String,
        description: String,
        fix: Option<String>,
    },

    /// An answer that is neither a token nor an OAuth error (HTML, a gateway error, ...).
    #[error("{url} answered HTTP {status} instead of a token{}", describe(excerpt))]
    UnexpectedAnswer {
        url: String,
        status: u16,
        excerpt: String,
    },

    /// No answer could be had: connection refused or lost, timeout (after the retries).
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },

    /// The token endpoint kept failing (throttled, 5xx) until the retry budget ran out.
    #[error("{url} kept failing for {} s (last: {last}); try again later", budget.as_secs())]
    RetriesExhausted {
        url: String,
        last: String,
        budget: Duration,
    },

    /// Anything else, with a message that already says what to do.
    #[error("{0}")]
    Failed(String),
}

impl AuthError {
    /// The same error with `fix` as its advice when it is an OAuth refusal without one.
    pub fn with_fix(self, fix: impl FnOnce(&str) -> Option<String>) -> AuthError {
        match self {
            AuthError::OAuth {
                url,
                error,
                description,
                fix: None,
            } => {
                let fix = fix(&error);
                AuthError::OAuth {
                    url,
                    error,
                    description,
                    fix,
                }
            }
            other => other,
        }
    }

    /// The OAuth error code of a refusal (`invalid_client`, `invalid_grant`, ...).
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            AuthError::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }
}

fn describe(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

fn fix_text(fix: &Option<String>) -> String {
    fix.as_deref()
        .map(|fix| format!("; {fix}"))
        .unwrap_or_default()
}
